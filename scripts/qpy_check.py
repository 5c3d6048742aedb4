#!/usr/bin/env python3
"""Reads a device the way QuecPython's runtime does (backup_restore.py,
checksum.py, file_crc32.py) and prints each file QuecPython's boot would
restore, one per line. Writes nothing. Exit 0 if QuecPython would accept the
device as it is, 1 if it would restore something, 2 if its reader would fail.
Empty files are listed apart and do not count: QuecPython's calc returns None
for them and so restores them on every boot whatever checksum.json says.

Used to prove that what fsguard writes is read correctly by QuecPython's
own rules: a 16384-byte read of /usr/checksum.json, json parsing, and
int(item['crc32'], 16) compared with hex(crc32(data, 0xffffffff)).

usage: qpy_check.py USR_DIR BAK_DIR
"""
import binascii
import json
import os
import sys

CHECKSUM_MAX = 16384  # checksum.py reads no more than this


def calc(path):
    # file_crc32.calc: None for a missing or empty file (its weakness).
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    if not data:
        return None
    return hex(binascii.crc32(data, 0xFFFFFFFF))


def main(argv):
    usr, bak = argv[1], argv[2]
    with open(os.path.join(bak, "backup_restore.json")) as f:
        if not json.loads(f.read(64))["enable"]:
            return 0
    path = os.path.join(usr, "checksum.json")
    if not os.path.exists(path):
        path = os.path.join(bak, "checksum.json")
    with open(path) as f:
        text = f.read(CHECKSUM_MAX)
    try:
        table = json.loads(text)
        restore = []
        empty = []
        for item in table:
            name = item["name"]
            path = os.path.join(usr, name[len("/usr/"):])
            crc = calc(path)
            if crc is None and os.path.isfile(path) and os.path.getsize(path) == 0:
                empty.append(name)
                int(item["crc32"], 16)  # the reader still parses the hash
            elif crc is None or int(crc, 16) != int(item["crc32"], 16):
                restore.append(name)
    except (ValueError, KeyError, TypeError) as e:
        print("reader fails: %s" % e)
        return 2
    for name in empty:
        print("%s (empty: QuecPython restores empty files on every boot)" % name)
    for name in restore:
        print(name)
    return 1 if restore else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
