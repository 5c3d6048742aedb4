# test_inspect.sh -- `fsguard inspect`: the offline check of built
# partitions. On a device packed by fsguard (and on one built independently
# by qpy_mkdevice.py) every listed file is "ok"; damaged, missing, stray and
# unprotected files, a disabled switch and an invalid checksum.json are each
# reported with the right exit code, as a table and as JSON. Inspect never
# writes: every run is watched over the whole scratch directory, the device
# included, and the device is snapshotted around it.
. "$(dirname "$0")/lib.sh"

# ---- helpers ----

# packed_device [PACK-ARGS...]: a fresh case whose device $DEV (usr/, bak/)
# is the default tree packed by fsguard pack.
packed_device() {
    new_case
    default_tree "$CASEDIR/src"
    if ! "$FSGUARD" pack "$CASEDIR/src" --out "$CASEDIR/dev" "$@" >"$IO/pack.out" 2>&1; then
        echo "test_inspect.sh: fsguard pack failed:" >&2
        cat "$IO/pack.out" >&2
        exit 2
    fi
    use_device "$CASEDIR/dev"
}

# insp ARGS...: runs `fsguard inspect ARGS` through fsg with the watch over
# everything (no partition is exempt), and asserts the device snapshot is
# unchanged: inspect writes nothing, in every case.
insp() {
    local u=$USR
    snap_to "$IO/insp.before" "$DEV"
    USR="$CASEDIR/no-partition-may-change"
    fsg inspect "$@"
    USR=$u
    expect_snap "$IO/insp.before" "$DEV" "inspect $*"
}

# expect_lines STATUS N: exactly N stdout lines start with STATUS.
expect_lines() {
    local n
    n=$(grep -c "^$1 " "$OUT")
    expect_eq "$2" "$n" "number of '$1' lines"
}

# ---- clean devices ----

begin "inspect --root on a packed device: exit 0, every listed file ok"
packed_device
insp --root "$DEV"
expect_rc 0
expect_empty_err
for n in $DEFAULT_NAMES; do
    expect_out_line "ok" "$n"
done
expect_lines ok 14   # 7 files in each partition
expect_lines damaged 0
expect_lines missing 0
expect_lines unlisted 0
expect_out "backup_restore.json: enabled"
expect_out "no problem found"
py_expect "each ok line shows the size and QuecPython's hash of the file" \
    'all(any(l.split()[:4] == ["ok", str(os.path.getsize(USR + n[4:])), hex(crc(USR + n[4:])), n] for l in open(OUT)) for n in argv)' $DEFAULT_NAMES

begin "inspect --bak only"
insp --bak "$BAK"
expect_rc 0
expect_lines ok 7
expect_out "backup partition"
expect_no_out "user partition"
expect_out "backup_restore.json: enabled"

begin "inspect --usr only"
insp --usr "$USR"
expect_rc 0
expect_lines ok 7
expect_out "user partition"
expect_no_out "backup partition"

begin "inspect --usr and --bak together"
insp --usr "$USR" --bak "$BAK"
expect_rc 0
expect_lines ok 14

begin "inspect on a device built independently (qpy_mkdevice.py): all ok"
new_device
insp --root "$DEV"
expect_rc 0
expect_lines ok 14
expect_empty_err

begin "inspect on a packed device with --disable: exit 4, says disabled"
packed_device --disable
insp --root "$DEV"
expect_rc 4
expect_out "backup_restore.json: disabled"
expect_lines ok 14
insp --root "$DEV" --json
expect_rc 4
expect_json
py_expect "backup_restore is disabled in JSON" 'report()["partitions"][0]["backup_restore"] == "disabled"'
insp --usr "$USR"
expect_rc 0 "the user partition alone has no switch to check"

begin "inspect with backup_restore.json missing or invalid: exit 4"
packed_device
rm "$BAK/backup_restore.json"
insp --bak "$BAK"
expect_rc 4
expect_out "backup_restore.json:"
packed_device
printf '{"enable": ' >"$BAK/backup_restore.json"
insp --bak "$BAK"
expect_rc 4

begin "a packed device with unprotected files: reported as unlisted in usr, exit 0"
packed_device --include 'lib/**' --include main.py
insp --root "$DEV"
expect_rc 0
expect_lines ok 6
for n in cfg/apn_cfg.json data.bin empty.txt system_config.json; do
    expect_out_line "unlisted" "$n"
done
expect_lines unlisted 4
expect_out "unprotected"
insp --root "$DEV" --json
expect_rc 0
expect_json
py_expect "usr unlisted in JSON" \
    'sorted(u["path"] for u in report()["partitions"][1]["unlisted"]) == ["cfg/apn_cfg.json", "data.bin", "empty.txt", "system_config.json"]'
py_expect "bak has no unlisted" 'report()["partitions"][0]["unlisted"] == []'

# ---- damage ----

begin "a bit flipped in a backup copy: exit 4, shown damaged with the hash found"
packed_device
flip_bit "$BAK/usr/lib/util.py" 3
insp --root "$DEV"
expect_rc 4
found=$("$PYTHON" -c 'import binascii, sys; print(hex(binascii.crc32(open(sys.argv[1], "rb").read(), 0xFFFFFFFF)))' "$BAK/usr/lib/util.py")
expect_out_line "damaged" "/usr/lib/util.py" "found $found"
expect_lines damaged 1
expect_lines ok 13
expect_out "problems found"
insp --bak "$BAK"
expect_rc 4
insp --usr "$USR"
expect_rc 0 "the user partition alone is fine"
insp --root "$DEV" --json
expect_rc 4
expect_json
py_expect "JSON: damaged, with expected and found hashes" \
    '[(f["status"], f["crc32"], f["found"]) for f in report()["partitions"][0]["files"] if f["name"] == "/usr/lib/util.py"] == [("damaged", hex(man(BAK + "/checksum.json")["/usr/lib/util.py"]), hex(crc(BAK + "/usr/lib/util.py")))]'
py_expect "JSON: per-partition exit codes" '[p["exit_code"] for p in report()["partitions"]] == [4, 0]'

begin "a damaged user file: exit 4"
packed_device
printf 'edited\n' >>"$USR/main.py"
insp --usr "$USR"
expect_rc 4
expect_out_line "damaged" "/usr/main.py"

begin "a backup copy deleted: exit 4, shown missing"
packed_device
rm "$BAK/usr/cfg/apn_cfg.json"
insp --root "$DEV"
expect_rc 4
expect_out_line "missing" "/usr/cfg/apn_cfg.json"
expect_lines missing 1
insp --bak "$BAK" --json
expect_rc 4
expect_json
py_expect "JSON: missing, found null" \
    '[(f["status"], f["found"]) for f in report()["partitions"][0]["files"] if f["name"] == "/usr/cfg/apn_cfg.json"] == [("missing", None)]'

begin "a listed backup copy replaced by a directory or a link: not ok"
packed_device
rm "$BAK/usr/main.py"
mkdir "$BAK/usr/main.py"
ln -sf "$USR/data.bin" "$BAK/usr/data.bin"
insp --bak "$BAK"
expect_rc 4
expect_out_line "damaged" "/usr/main.py" "not a regular file"
expect_out_line "damaged" "/usr/data.bin"
py_expect "neither is ok" \
    'not any(l.startswith("ok") and (l.rstrip().endswith("/usr/main.py") or l.rstrip().endswith("/usr/data.bin")) for l in open(OUT))'

begin "a stray file and a stray symlink in the backup: unlisted, exit 4"
packed_device
printf 'stray\n' >"$BAK/usr/lib/stray.py"
ln -s /etc/passwd "$BAK/usr/link"
printf 'x\n' >"$BAK/notes.txt"
insp --root "$DEV"
expect_rc 4
expect_out_line "unlisted" "usr/lib/stray.py"
expect_out_line "unlisted" "usr/link" "symbolic link"
expect_out_line "unlisted" "notes.txt"
expect_out "strays"
insp --root "$DEV" --json
expect_rc 4
expect_json
py_expect "JSON: strays with their types" \
    'sorted((u["path"], u["type"]) for u in report()["partitions"][0]["unlisted"]) == [("notes.txt", "file"), ("usr/lib/stray.py", "file"), ("usr/link", "symbolic link")]'
py_expect "JSON: totals" 'report()["partitions"][0]["totals"]["unlisted"] == 3 and report()["partitions"][0]["exit_code"] == 4'

begin "a stray with a hostile name: escaped in the table, valid JSON"
packed_device
printf 'x\n' >"$BAK/usr/evil$(printf '\033')[31m$(printf '\377').py"
insp --bak "$BAK"
expect_rc 4
expect_out_line "unlisted" 'evil\x1b[31m\xff.py'
if grep -q "$(printf '\033')" "$OUT"; then fail "a raw ESC reached stdout" "$(show_run)"; else pass; fi
insp --bak "$BAK" --json
expect_rc 4
expect_json

begin "an invalid entry in checksum.json: exit 4, the entry named"
packed_device
write_manifest "$BAK/checksum.json" 'raw(BAK + "/checksum.json") + [{"name": "/etc/passwd", "crc32": "0x1"}]'
insp --bak "$BAK"
expect_rc 4
expect_err_line "checksum.json" "entry 7" "/etc/passwd"
insp --bak "$BAK" --json
expect_rc 4
expect_json
py_expect "JSON: invalid_entries" \
    '[(e["index"], e["name"]) for e in report()["partitions"][0]["invalid_entries"]] == [(7, "/etc/passwd")] and report()["partitions"][0]["totals"]["invalid_entries"] == 1'

# ---- checksum.json unreadable ----

begin "an invalid backup checksum.json: exit 8, the file named"
packed_device
printf '[{"name": "/usr/main.py", "crc32": ' >"$BAK/checksum.json"
insp --root "$DEV"
expect_rc 8
expect_err_line "$BAK/checksum.json" "not a valid JSON"
expect_out "could not inspect"
insp --root "$DEV" --json
expect_rc 8
expect_json
py_expect "JSON: per-partition exit codes" '[p["exit_code"] for p in report()["partitions"]] == [8, 0]'

begin "an invalid user checksum.json: exit 8, the file named"
packed_device
printf 'not json' >"$USR/checksum.json"
insp --usr "$USR"
expect_rc 8
expect_err_line "$USR/checksum.json"
insp --usr "$USR" --json
expect_rc 8
expect_json
py_expect "JSON: partition totals and exit code" \
    'report()["partitions"][0]["exit_code"] == 8 and report()["partitions"][0]["totals"]["listed"] == 0'

begin "a checksum.json broken after an invalid entry: exit 8; JSON totals agree with its lists"
packed_device
printf '[{"name": 1}' >"$USR/checksum.json"
insp --usr "$USR" --json
expect_rc 8
expect_err_line "$USR/checksum.json" "not a valid JSON"
expect_json
py_expect "totals.invalid_entries counts the invalid_entries listed" \
    'all(p["totals"]["invalid_entries"] == len(p["invalid_entries"]) for p in report()["partitions"])'

begin "checksum.json not an array, or missing: exit 8, the file named"
packed_device
printf '{"name": "/usr/main.py", "crc32": "0x1"}' >"$BAK/checksum.json"
insp --bak "$BAK"
expect_rc 8
expect_err "$BAK/checksum.json"
rm "$USR/checksum.json"
insp --usr "$USR"
expect_rc 8
expect_err "$USR/checksum.json"

begin "a partition that does not exist: exit 8"
packed_device
insp --usr "$CASEDIR/nope"
expect_rc 8
expect_err "$CASEDIR/nope"
insp --root "$CASEDIR/nope" --json
expect_rc 8
expect_json

# ---- JSON report shape ----

begin "--json on a clean device: per-partition files, unlisted, totals, exit_code"
packed_device
printf 'unprotected\n' >"$USR/later.txt"
insp --root "$DEV" --json
expect_rc 0
expect_json
py_expect "two partitions, bak then usr" '[p["partition"] for p in report()["partitions"]] == ["bak", "usr"]'
py_expect "every listed file, ok, with size and hash" \
    'all(sorted((f["name"], f["status"], f["size"], f["crc32"], f["found"]) for f in p["files"]) == sorted((n, "ok", os.path.getsize(USR + n[4:]), hex(crc(USR + n[4:])), hex(crc(USR + n[4:]))) for n in argv) for p in report()["partitions"])' $DEFAULT_NAMES
py_expect "totals" \
    '[(p["totals"]["listed"], p["totals"]["ok"], p["totals"]["damaged"], p["totals"]["unlisted"]) for p in report()["partitions"]] == [(7, 7, 0, 0), (7, 7, 0, 1)]'
py_expect "bytes: every file of the partition" \
    '[p["totals"]["bytes"] for p in report()["partitions"]] == [sum(os.path.getsize(os.path.join(r, n)) for r, ds, fs in os.walk(d) for n in fs) for d in (BAK, USR)]'
py_expect "unlisted in usr" 'report()["partitions"][1]["unlisted"] == [{"path": "later.txt", "type": "file", "size": 12}]'
py_expect "backup_restore enabled" 'report()["partitions"][0]["backup_restore"] == "enabled"'
expect_empty_err

# ---- usage ----

begin "usage errors: exit 16, nothing written"
packed_device
for args in "" "--usr" "--bak" "--root" "--root $DEV --usr $USR" "--root $DEV --bak $BAK" \
    "--bogus" "$DEV" "--usr $USR extra"; do
    # shellcheck disable=SC2086
    insp $args
    expect_rc 16 "inspect $args"
    expect_err "Try 'fsguard inspect --help'"
    expect_empty_out
done
insp --usr ""
expect_rc 16 "--usr ''"
insp --help
expect_rc 0
expect_out "Usage: fsguard inspect"

finish
