# test_json.sh -- `--json` reports of boot and verify: valid JSON in every
# outcome, every checked file with name/status/reason/crc32, totals, the
# checksum.json action, and exit_code equal to the process's exit code.
. "$(dirname "$0")/lib.sh"

ALL_NAMES_PY='{"'"${DEFAULT_NAMES// /\",\"}"'"}'

begin "clean device: every file listed ok with QuecPython's hash"
new_device
fsg boot --root "$DEV" --json
expect_rc 0
expect_json
py_expect "every protected file is listed" "set(files()) == $ALL_NAMES_PY"
py_expect "each file once" 'len(report()["files"]) == len(files())'
py_expect "all ok" 'all(f["status"] == "ok" for f in files().values())'
py_expect "ok files have no reason" 'all(f["reason"] is None for f in files().values())'
py_expect "crc32 is QuecPython's hash of the file" \
    'all(int(f["crc32"], 16) == crc(USR + "/" + n[5:]) for n, f in files().items())'
py_expect "crc32 written as python hex()" \
    'all(f["crc32"] == hex(int(f["crc32"], 16)) for f in files().values())'
py_expect "totals" 'report()["totals"]["checked"] == 7 and report()["totals"]["ok"] == 7 and report()["totals"]["restored"] == 0 and report()["totals"]["failed"] == 0'
py_expect "checksum_json action" 'report()["checksum_json"]["action"] == "unchanged"'
py_expect "checksum_json not written" 'report()["checksum_json"]["written"] is False'
py_expect "feature" 'report()["feature"] == "enabled"'
expect_empty_err

begin "repairs: restored files carry a reason, the created checksum.json is reported"
new_device
rm "${USR:?}/checksum.json" "${USR:?}/main.py"
flip_bit "$USR/data.bin" 9
fsg boot --root "$DEV" --json
expect_rc 1
expect_json
py_expect "every protected file is listed" "set(files()) == $ALL_NAMES_PY"
py_expect "statuses" '{n for n, f in files().items() if f["status"] == "restored"} == {"/usr/main.py", "/usr/data.bin"}'
py_expect "others ok" 'all(f["status"] == "ok" for n, f in files().items() if n not in ("/usr/main.py", "/usr/data.bin"))'
py_expect "reason of the missing file" '"missing" in files()["/usr/main.py"]["reason"]'
py_expect "reason of the damaged file" 'files()["/usr/data.bin"]["reason"] not in (None, "")'
py_expect "restored crc32 is the factory hash" \
    'int(files()["/usr/data.bin"]["crc32"], 16) == crc(BAK + "/usr/data.bin")'
py_expect "checksum_json action" 'report()["checksum_json"]["action"] == "created"'
py_expect "checksum_json written" 'report()["checksum_json"]["written"] is True'
py_expect "totals" 'report()["totals"]["restored"] == 2 and report()["totals"]["ok"] == 5 and report()["totals"]["checked"] == 7'
py_expect "reported hashes are what checksum.json now holds" \
    '{n: int(f["crc32"], 16) for n, f in files().items()} == man(USR + "/checksum.json")'

begin "rebuilt checksum.json: action rebuilt, with a reason"
new_device
echo '[{"name": "/usr/main.py", ' >"$USR/checksum.json"
fsg boot --root "$DEV" --json
expect_rc 1
expect_json
py_expect "action" 'report()["checksum_json"]["action"] == "rebuilt"'
py_expect "reason given" 'bool(report()["checksum_json"]["reason"])'

begin "unrepairable file: status failed, reason, exit_code 4"
new_device
rm "${USR:?}/main.py" "${BAK:?}/usr/main.py"
fsg boot --root "$DEV" --json
expect_rc 4
expect_json
py_expect "failed" 'files()["/usr/main.py"]["status"] == "failed"'
py_expect "reason names the backup copy" '"backup copy" in files()["/usr/main.py"]["reason"]'
py_expect "totals" 'report()["totals"]["failed"] == 1'

begin "invalid entries are listed with manifest, index, name, reason"
new_device
write_manifest "$USR/checksum.json" 'raw(BAK + "/checksum.json") + [{"name": "/etc/passwd", "crc32": "0x1"}, {"name": 7}]'
fsg boot --root "$DEV" --json
expect_json
py_expect "two invalid entries" 'len(report()["invalid_entries"]) == 2'
py_expect "first" 'report()["invalid_entries"][0]["manifest"] == "usr" and report()["invalid_entries"][0]["index"] == 7 and report()["invalid_entries"][0]["name"] == "/etc/passwd"'
py_expect "second has no name" 'report()["invalid_entries"][1]["name"] is None and bool(report()["invalid_entries"][1]["reason"])'
py_expect "totals" 'report()["totals"]["invalid_entries"] == 2'

begin "leftover temporary files are listed"
new_device
touch "$USR/lib/.util.py.fsg-tmp"
fsg boot --root "$DEV" --json
expect_json
py_expect "listed" 'any("lib/.util.py.fsg-tmp" in t for t in report()["temporary_files_removed"])'

begin "names needing JSON escapes stay valid JSON"
new_case
printf 'q' >"$CASEDIR/src/quote\"name.py"
printf 'b' >"$CASEDIR/src/back\\slash.py"   # refused: a backslash
printf 'u' >"$CASEDIR/src/配置.json"
printf 'e' >"$CASEDIR/src/emoji😀.txt"
make_device "$CASEDIR/src"
rm "${USR:?}/quote\"name.py"
fsg boot --root "$DEV" --json
expect_json
py_expect "names round-trip" 'set(files()) == {"/usr/quote\"name.py", "/usr/配置.json", "/usr/emoji😀.txt"}'
py_expect "the backslash name is an invalid entry" 'report()["invalid_entries"][0]["name"] == "/usr/back\\slash.py"'
py_expect "quote name restored" 'files()["/usr/quote\"name.py"]["status"] == "restored"'

begin "feature off: valid JSON, feature says why, exit_code 0"
new_device
rm "${BAK:?}/backup_restore.json"
fsg boot --root "$DEV" --json
expect_rc 0
expect_json
py_expect "feature" 'report()["feature"] == "no_switch"'
py_expect "no files" 'report()["files"] == []'
echo '{"enable": 0}' >"$BAK/backup_restore.json"
fsg boot --root "$DEV" --json
expect_json
py_expect "feature" 'report()["feature"] == "disabled"'

begin "backup checksum.json unusable: exit 8, stdout still valid JSON with exit_code 8"
new_device
rm "${BAK:?}/checksum.json"
fsg boot --root "$DEV" --json
expect_rc 8
expect_json
expect_err "$BAK/checksum.json"

begin "verify --json: dry_run, would_restore, exit_code equals boot's"
new_device
rm "${USR:?}/main.py"
fsg verify --root "$DEV" --json
expect_rc 1
expect_json
py_expect "dry run" 'report()["dry_run"] is True and report()["command"] == "verify"'
py_expect "would_restore" 'files()["/usr/main.py"]["status"] == "would_restore"'
py_expect "totals key" 'report()["totals"]["would_restore"] == 1'

begin "calc --json: name and crc32"
new_device
echo 'print("edited")' >"$USR/main.py"
fsg calc --root "$DEV" --json /usr/main.py
expect_rc 0
py_expect "calc report" 'report() == {"fsguard_json": 1, "name": "/usr/main.py", "crc32": hex(crc(USR + "/main.py")), "exit_code": 0, "error": None}'

finish
