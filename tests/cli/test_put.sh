# test_put.sh -- `fsguard put SRC /usr/PATH`: a crash-safe edit of a
# protected file; and the pending hash ("fsg_pending") that boot finishes.
# The power-loss proof itself is tests/crash/test_crash.c.
. "$(dirname "$0")/lib.sh"

begin "put replaces a protected file, prints and records its hash"
new_device
printf '{"volume": 3, "server": "mqtt.example.com:1883"}\n' >"$IO/new.json"
cp "$USR/checksum.json" "$IO/manifest.before"
fsg put --root "$DEV" "$IO/new.json" /usr/system_config.json
expect_rc 0
expect_same "$USR/system_config.json" "$IO/new.json" "the new content is in place"
py_expect "prints QuecPython's hash of the new content" 'open(OUT).read() == hex(crc(argv[0])) + "\n"' "$IO/new.json"
py_expect "checksum.json holds it, committed" \
    'man(USR + "/checksum.json")["/usr/system_config.json"] == crc(argv[0]) and all("fsg_pending" not in e for e in raw(USR + "/checksum.json"))' "$IO/new.json"
py_expect "every other entry is unchanged" \
    '[e for e in raw(USR + "/checksum.json") if e["name"] != "/usr/system_config.json"] == [e for e in raw(argv[0]) if e["name"] != "/usr/system_config.json"]' \
    "$IO/manifest.before"
expect_absent "$USR/.system_config.json.fsg-tmp"
qpy_accepts

begin "after put, boot keeps the new file and writes nothing"
snap_to "$IO/dev.before" "$DEV"
fsg boot --root "$DEV"
expect_rc 0
expect_snap "$IO/dev.before" "$DEV" "boot after put"

begin "put of a large file into a missing directory"
new_device
rm -r "${USR:?}/lib"
head -c 300000 /dev/urandom >"$IO/big"
fsg put --root "$DEV" "$IO/big" /usr/lib/deep/x/y.txt
expect_rc 0
expect_same "$USR/lib/deep/x/y.txt" "$IO/big" "written whole, directories created"
fsg boot --root "$DEV"
expect_rc 1
expect_restored /usr/lib/util.py
fsg boot --root "$DEV"
expect_rc 0

begin "put errors change nothing"
new_device
snap_to "$IO/dev.before" "$DEV"
printf 'x' >"$IO/x"
fsg put --root "$DEV" "$IO/x" /usr/not_protected.txt
expect_rc 8
expect_err "not listed"
fsg put --root "$DEV" "$IO/missing-source" /usr/main.py
expect_rc 8
expect_err "missing-source"
fsg put --root "$DEV" "$IO/x" /etc/passwd
expect_rc 16
fsg put --root "$DEV" "$IO/x" /usr/../main.py
expect_rc 16
fsg put --root "$DEV" "$IO/x"
expect_rc 16
expect_snap "$IO/dev.before" "$DEV" "failed puts"

begin "boot commits a pending hash the file matches"
new_device
printf 'print("v2")\n' >"$USR/main.py"
write_manifest "$USR/checksum.json" \
    '[dict(e, fsg_pending=hexcrc(USR + "/main.py")) if e["name"] == "/usr/main.py" else e for e in raw(BAK + "/checksum.json")]'
cp "$USR/main.py" "$IO/v2"
fsg boot --root "$DEV"
expect_rc 1
expect_out_line "finished" "committed"
expect_same "$USR/main.py" "$IO/v2" "the new content stays"
py_expect "its hash is committed, nothing pending" \
    'man(USR + "/checksum.json")["/usr/main.py"] == crc(USR + "/main.py") and all("fsg_pending" not in e for e in raw(USR + "/checksum.json"))'
qpy_accepts
fsg boot --root "$DEV"
expect_rc 0

begin "boot discards a pending hash the file does not match"
new_device
write_manifest "$USR/checksum.json" \
    '[dict(e, fsg_pending="0x1234") if e["name"] == "/usr/main.py" else e for e in raw(BAK + "/checksum.json")]'
fsg boot --root "$DEV" --json
expect_rc 1
expect_json
py_expect "the report counts it" 'report()["totals"]["edits_finished"] == 1'
py_expect "the pending hash is gone, the old one kept" \
    'man(USR + "/checksum.json") == man(BAK + "/checksum.json") and all("fsg_pending" not in e for e in raw(USR + "/checksum.json"))'

begin "a pending hash that is not hex makes the entry refused (and replaced by the backup's)"
new_device
write_manifest "$USR/checksum.json" \
    '[dict(e, fsg_pending=5) if e["name"] == "/usr/main.py" else e for e in raw(BAK + "/checksum.json")]'
fsg boot --root "$DEV"
expect_rc 1
expect_err "fsg_pending"
py_expect "the backup's entry stands in its place" 'man(USR + "/checksum.json") == man(BAK + "/checksum.json")'
fsg boot --root "$DEV"
expect_rc 0

begin "put --help"
fsg put --help
expect_rc 0
expect_out "Usage: fsguard put"

finish
