# test_calc.sh -- `fsguard calc /usr/PATH`: QuecPython's file_crc32.calc as
# documented: prints the hash as QuecPython writes it and records it in the
# user checksum.json, touching only that entry; errors change nothing.
. "$(dirname "$0")/lib.sh"

# A user table with unknown keys on every entry, and a top-level order
# fsguard must keep.
extra_keys() {
    write_manifest "$USR/checksum.json" \
        '[dict(e, size=i, note="keep %d" % i, nested={"a": [1, 2, None]}) for i, e in enumerate(raw(BAK + "/checksum.json"))]'
}

begin "calc after an edit: prints QuecPython's hash, updates only that entry"
new_device
extra_keys
cp "$USR/checksum.json" "$IO/manifest.before"
printf 'import utime\nprint("edited by the application")\n' >"$USR/main.py"
fsg calc --root "$DEV" /usr/main.py
expect_rc 0
py_expect "prints hex(binascii.crc32(data, 0xFFFFFFFF))" 'open(OUT).read() == hex(crc(USR + "/main.py")) + "\n"'
py_expect "the entry now holds the new hash" 'man(USR + "/checksum.json")["/usr/main.py"] == crc(USR + "/main.py")'
py_expect "every other entry is unchanged, unknown keys included" \
    '[e for e in raw(USR + "/checksum.json") if e["name"] != "/usr/main.py"] == [e for e in raw(argv[0]) if e["name"] != "/usr/main.py"]' \
    "$IO/manifest.before"
py_expect "the edited entry keeps its unknown keys" \
    '{k: v for k, v in [e for e in raw(USR + "/checksum.json") if e["name"] == "/usr/main.py"][0].items() if k != "crc32"} == {k: v for k, v in [e for e in raw(argv[0]) if e["name"] == "/usr/main.py"][0].items() if k != "crc32"}' \
    "$IO/manifest.before"
py_expect "entry order kept" '[e["name"] for e in raw(USR + "/checksum.json")] == [e["name"] for e in raw(argv[0])]' "$IO/manifest.before"
expect_empty_err
qpy_accepts

begin "after calc, boot keeps the edited file (no revert) and writes nothing"
cp "$USR/main.py" "$IO/edited"
snap_to "$IO/dev.before" "$DEV"
fsg boot --root "$DEV"
expect_rc 0
expect_same "$USR/main.py" "$IO/edited" "the edited file is kept"
expect_snap "$IO/dev.before" "$DEV" "boot after calc"
fsg verify --root "$DEV"
expect_rc 0

begin "calc of an edited file in a subdirectory, then boot: kept"
new_device
printf '\x00\x01binary edit\xff' >"$USR/lib/deep/x/y.txt"
fsg calc --root "$DEV" /usr/lib/deep/x/y.txt
expect_rc 0
py_expect "hash" 'open(OUT).read().strip() == hex(crc(USR + "/lib/deep/x/y.txt"))'
cp "$USR/lib/deep/x/y.txt" "$IO/edited"
fsg boot --root "$DEV"
expect_rc 0
expect_same "$USR/lib/deep/x/y.txt" "$IO/edited" "the edited file is kept"

begin "calc of an unchanged file: prints the hash, writes nothing"
new_device
snap_to "$IO/dev.before" "$DEV"
fsg calc --root "$DEV" /usr/data.bin
expect_rc 0
py_expect "hash" 'open(OUT).read() == hex(crc(USR + "/data.bin")) + "\n"'
expect_snap "$IO/dev.before" "$DEV" "calc of an unchanged file"

begin "calc of a file emptied on purpose: 0xffffffff, boot keeps it empty"
new_device
: >"$USR/cfg/apn_cfg.json"
fsg calc --root "$DEV" /usr/cfg/apn_cfg.json
expect_rc 0
py_expect "hash of the empty file" 'open(OUT).read() == "0xffffffff\n"'
fsg boot --root "$DEV"
expect_rc 0
py_expect "still empty" 'os.path.getsize(USR + "/cfg/apn_cfg.json") == 0'

begin "calc with --usr/--bak"
new_device
echo 'x = 1' >"$USR/lib/util.py"
fsg calc --usr "$USR" --bak "$BAK" /usr/lib/util.py
expect_rc 0
py_expect "recorded" 'man(USR + "/checksum.json")["/usr/lib/util.py"] == crc(USR + "/lib/util.py")'

begin "calc with the user checksum.json missing: copied from the backup, then updated"
new_device
rm "${USR:?}/checksum.json"
echo 'print(2)' >"$USR/main.py"
fsg calc --root "$DEV" /usr/main.py
expect_rc 0
py_expect "all other entries from the backup" \
    '{n: v for n, v in man(USR + "/checksum.json").items() if n != "/usr/main.py"} == {n: v for n, v in man(BAK + "/checksum.json").items() if n != "/usr/main.py"}'
py_expect "new hash recorded" 'man(USR + "/checksum.json")["/usr/main.py"] == crc(USR + "/main.py")'
fsg boot --root "$DEV"
expect_rc 0

begin "calc keeps entries it cannot use verbatim"
new_device
write_manifest "$USR/checksum.json" 'raw(BAK + "/checksum.json") + ["junk", {"name": 5}, {"name": "/etc/passwd", "crc32": "0x1", "x": [1]}]'
cp "$USR/checksum.json" "$IO/manifest.before"
echo 'print(3)' >"$USR/main.py"
fsg calc --root "$DEV" /usr/main.py
expect_rc 0
py_expect "other entries unchanged" \
    '[e for e in raw(USR + "/checksum.json") if not (isinstance(e, dict) and e.get("name") == "/usr/main.py")] == [e for e in raw(argv[0]) if not (isinstance(e, dict) and e.get("name") == "/usr/main.py")]' \
    "$IO/manifest.before"

# ---- errors: nothing changes ----

calc_error() {   # calc_error NAME WANT-RC TEXT: calc fails and changes nothing
    local fp
    fp=$(fingerprint "$USR/checksum.json")
    snap_to "$IO/dev.before" "$DEV"
    fsg calc --root "$DEV" "$1"
    expect_rc "$2"
    expect_err "$3"
    expect_empty_out
    expect_fingerprint "$fp" "$USR/checksum.json" "checksum.json byte-identical, same inode"
    expect_snap "$IO/dev.before" "$DEV" "failed calc $1"
}

begin "calc of an existing file that is not protected: exit 8"
new_device
echo 'not protected' >"$USR/notes.txt"
calc_error /usr/notes.txt 8 "/usr/notes.txt"
expect_err "not listed"

begin "calc of a protected file that is missing: exit 8"
new_device
rm "${USR:?}/lib/util.py"
calc_error /usr/lib/util.py 8 "/usr/lib/util.py"

begin "calc of a file neither listed nor present: exit 8"
new_device
calc_error /usr/nothing/here.py 8 "/usr/nothing/here.py"

begin "calc of a directory: exit 8"
new_device
calc_error /usr/lib 8 "/usr/lib"
rm "${USR:?}/main.py"
mkdir "$USR/main.py"
calc_error /usr/main.py 8 "/usr/main.py"

begin "calc with an invalid user checksum.json: exit 8, says to run boot"
new_device
printf '[{"name": "/usr/main.py", "crc32": ' >"$USR/checksum.json"
echo 'print(4)' >"$USR/main.py"
calc_error /usr/main.py 8 "checksum.json"

begin "calc with the switch off still only touches that entry"
new_device --disable
echo 'print(5)' >"$USR/main.py"
fsg calc --root "$DEV" /usr/main.py
expect_rc 0
py_expect "recorded" 'man(USR + "/checksum.json")["/usr/main.py"] == crc(USR + "/main.py")'

for bad in /etc/passwd /bak/usr/main.py usr/main.py main.py /usr/ /usr /usr/../outside.txt \
    /usr/a/../../x /usr/./main.py /usr//main.py /usr/lib/ /usr/checksum.json "" \
    "/usr/$(printf 'a%.0s' $(seq 1 10000))"; do
    begin "calc of \"${bad:0:40}\": not a protected-file name, exit 16"
    new_device
    calc_error "$bad" 16 "calc"
done

finish
