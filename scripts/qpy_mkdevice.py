#!/usr/bin/env python3
"""Builds a device (OUT/usr and OUT/bak) from a project tree the way QuecPython's
QPYcom tool does with "backup" ticked, independently of fsguard's code.

Used by the demo and as the tests' oracle: the hashes here come from Python's
binascii.crc32(data, 0xFFFFFFFF), QuecPython's own formula.

usage: qpy_mkdevice.py SRC OUT [--disable]
"""
import binascii
import json
import os
import shutil
import sys


def qpy_crc32(path):
    with open(path, "rb") as f:
        return hex(binascii.crc32(f.read(), 0xFFFFFFFF))


def main(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 16
    src, out = argv[1], argv[2]
    enable = 0 if "--disable" in argv[3:] else 1
    usr, bak = os.path.join(out, "usr"), os.path.join(out, "bak")
    entries = []
    for root, dirs, files in os.walk(src):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            rel = os.path.relpath(path, src).replace(os.sep, "/")
            for dest in (os.path.join(usr, rel), os.path.join(bak, "usr", rel)):
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                shutil.copyfile(path, dest)
            entries.append({"name": "/usr/" + rel, "crc32": qpy_crc32(path)})
    os.makedirs(usr, exist_ok=True)
    os.makedirs(bak, exist_ok=True)
    # MicroPython's ujson.dumps style: ", " and ": " separators, one line.
    with open(os.path.join(bak, "checksum.json"), "w") as f:
        f.write(json.dumps(entries))
    shutil.copyfile(os.path.join(bak, "checksum.json"), os.path.join(usr, "checksum.json"))
    with open(os.path.join(bak, "backup_restore.json"), "w") as f:
        f.write(json.dumps({"enable": enable}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
