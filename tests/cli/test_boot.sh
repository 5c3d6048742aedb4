# test_boot.sh -- `fsguard boot`: the feature switch, the two checksum.json
# files, every kind of damage, unrepairable files, idempotence, leftovers.
. "$(dirname "$0")/lib.sh"

# ---- the feature switch ----

for sw in missing 0 false; do
    begin "switch $sw: nothing checked, nothing written"
    new_device
    case $sw in
    missing) rm "${BAK:?}/backup_restore.json"; why="backup_restore.json does not exist" ;;
    0) echo '{"enable": 0}' >"$BAK/backup_restore.json"; why='backup_restore.json turns it off ("enable" is 0 or false)' ;;
    false) echo '{"enable": false}' >"$BAK/backup_restore.json"; why='backup_restore.json turns it off ("enable" is 0 or false)' ;;
    esac
    # Damage that an enabled boot would repair: it must stay.
    rm "${USR:?}/main.py" "${USR:?}/checksum.json"
    flip_bit "$USR/lib/util.py"
    snap_to "$IO/dev.before" "$DEV"
    fsg boot --root "$DEV"
    expect_rc 0
    expect_out_line "$BAK/$why"
    expect_out "nothing changed"
    expect_snap "$IO/dev.before" "$DEV" "switch $sw"
done

begin "switch not JSON: off, says so, nothing written"
new_device
echo 'enable=1' >"$BAK/backup_restore.json"
rm "${USR:?}/main.py"
snap_to "$IO/dev.before" "$DEV"
fsg boot --root "$DEV"
expect_rc 0
expect_out_line "$BAK/backup_restore.json" "enable"
expect_snap "$IO/dev.before" "$DEV" "bad switch"

# ---- the backup checksum.json ----

bak_bad() {   # bak_bad KIND: damages $BAK/checksum.json
    case $1 in
    missing) rm "${BAK:?}/checksum.json" ;;
    garbage) printf 'this is not json\n' >"$BAK/checksum.json" ;;
    truncated) head -c 40 "$USR/checksum.json" >"$BAK/checksum.json" ;;
    object) echo '{"name": "/usr/main.py", "crc32": "0x1"}' >"$BAK/checksum.json" ;;
    empty) : >"$BAK/checksum.json" ;;
    directory) rm "${BAK:?}/checksum.json"; mkdir "${BAK:?}/checksum.json" ;;
    esac
}
for kind in missing garbage truncated object empty directory; do
    begin "backup checksum.json $kind: exit 8, names the file, nothing written anywhere"
    new_device
    bak_bad "$kind"
    # Damage and a missing user checksum.json: boot must not act on them.
    rm "${USR:?}/main.py" "${USR:?}/checksum.json"
    flip_bit "$USR/data.bin" 100
    touch "$USR/.main.py.fsg-tmp"
    snap_to "$IO/dev.before" "$DEV"
    fsg boot --root "$DEV"
    expect_rc 8
    expect_err "$BAK/checksum.json"
    expect_err "nothing was changed"
    expect_snap "$IO/dev.before" "$DEV" "backup checksum.json $kind"
done

begin "backup checksum.json invalid, user checksum.json valid: still exit 8, nothing written"
new_device
bak_bad garbage
rm "${USR:?}/main.py"
snap_to "$IO/dev.before" "$DEV"
fsg boot --root "$DEV"
expect_rc 8
expect_err "$BAK/checksum.json"
expect_snap "$IO/dev.before" "$DEV" "invalid backup checksum.json"

# ---- the user checksum.json ----

begin "user checksum.json missing: copied from the backup (exit 1)"
new_device
rm "${USR:?}/checksum.json"
fsg boot --root "$DEV"
expect_rc 1
expect_out_line "$USR/checksum.json" "missing" "copied from" "$BAK/checksum.json"
py_expect "user checksum.json holds the backup's table" 'man(USR + "/checksum.json") == man(BAK + "/checksum.json")'
qpy_accepts

usr_bad() {   # usr_bad KIND: damages $USR/checksum.json
    case $1 in
    garbage) printf '\x00\xff garbage \x01' >"$USR/checksum.json" ;;
    truncated) head -c 60 "$BAK/checksum.json" >"$USR/checksum.json" ;;
    object) echo '{"/usr/main.py": "0x1"}' >"$USR/checksum.json" ;;
    string) echo '"[]"' >"$USR/checksum.json" ;;
    number) echo '42' >"$USR/checksum.json" ;;
    empty) : >"$USR/checksum.json" ;;
    trailing) { cat "$BAK/checksum.json"; echo ' ]'; } >"$USR/checksum.json" ;;
    esac
}
for kind in garbage truncated object string number empty trailing; do
    begin "user checksum.json invalid ($kind): rebuilt and said so (exit 1)"
    new_device
    usr_bad "$kind"
    fsg boot --root "$DEV"
    expect_rc 1
    expect_out_line "$USR/checksum.json" "rebuilt from" "$BAK/checksum.json"
    py_expect "rebuilt from the backup" 'man(USR + "/checksum.json") == man(BAK + "/checksum.json")'
    qpy_accepts
done

begin "user checksum.json invalid and a file damaged: both repaired in one pass"
new_device
usr_bad truncated
rm "${USR:?}/main.py"
fsg boot --root "$DEV" --json
expect_rc 1
expect_json
py_expect "checksum_json action" 'report()["checksum_json"]["action"] == "rebuilt"'
py_expect "main.py restored" 'files()["/usr/main.py"]["status"] == "restored"'
expect_restored /usr/main.py
qpy_accepts

# ---- each kind of damage ----

damage() {   # damage KIND: damages one protected file; sets NAME
    case $1 in
    deleted) NAME=/usr/main.py; rm "${USR:?}/main.py" ;;
    bitflip) NAME=/usr/data.bin; flip_bit "$USR/data.bin" 123456 ;;
    bitflip-first) NAME=/usr/cfg/apn_cfg.json; flip_bit "$USR/cfg/apn_cfg.json" 0 ;;
    truncated) NAME=/usr/data.bin; truncate_half "$USR/data.bin" ;;
    emptied) NAME=/usr/system_config.json; : >"$USR/system_config.json" ;;
    appended) NAME=/usr/lib/util.py; echo '# more' >>"$USR/lib/util.py" ;;
    subdir-deleted) NAME=/usr/lib/deep/x/y.txt; rm -r "${USR:?}/lib/deep" ;;
    empty-deleted) NAME=/usr/empty.txt; rm "${USR:?}/empty.txt" ;;
    empty-filled) NAME=/usr/empty.txt; echo 'not empty any more' >"$USR/empty.txt" ;;
    esac
}
for kind in deleted bitflip bitflip-first truncated emptied appended subdir-deleted empty-deleted empty-filled; do
    begin "damage $kind: restored byte-identical (exit 1)"
    new_device
    damage "$kind"
    cp -p "$USR/checksum.json" "$IO/manifest.before"
    fsg boot --root "$DEV"
    expect_rc 1
    expect_out_line "restored" "$USR/${NAME#/usr/}"
    expect_out "1 restored, 0 failed"
    expect_restored "$NAME"
    py_expect "the manifest still holds the factory hashes" \
        'man(USR + "/checksum.json") == man(BAK + "/checksum.json")'
    for n in $DEFAULT_NAMES; do
        [ "$n" = "$NAME" ] || expect_restored "$n"
    done
    begin "damage $kind: a second boot finds nothing to do and writes nothing"
    snap_to "$IO/dev.before" "$DEV"
    fsg boot --root "$DEV"
    expect_rc 0
    expect_out "0 restored, 0 failed (exit 0)"
    expect_snap "$IO/dev.before" "$DEV" "second boot"
done

begin "all damage at once: everything restored in one pass"
new_device
rm "${USR:?}/main.py"
flip_bit "$USR/data.bin" 70000
: >"$USR/system_config.json"
rm -r "${USR:?}/lib"
echo x >"$USR/empty.txt"
truncate_half "$USR/cfg/apn_cfg.json"
fsg boot --root "$DEV"
expect_rc 1
expect_out "7 files checked: 0 ok, 7 restored, 0 failed"
expect_restored $DEFAULT_NAMES
qpy_accepts

# ---- empty files are ordinary ----

begin "clean device with an empty protected file: exit 0, nothing written"
new_device
snap_to "$IO/dev.before" "$DEV"
fsg boot --root "$DEV"
expect_rc 0
expect_out "7 files checked: 7 ok, 0 restored, 0 failed (exit 0)"
expect_snap "$IO/dev.before" "$DEV" "clean boot"

begin "clean boot twice more: still nothing written (checksum.json inode and mtime kept)"
fp=$(fingerprint "$USR/checksum.json")
fsg boot --root "$DEV"
expect_rc 0
fsg boot --usr "$USR" --bak "$BAK"
expect_rc 0
expect_fingerprint "$fp" "$USR/checksum.json"
expect_snap "$IO/dev.before" "$DEV" "clean boots"

begin "device whose only protected file is empty: clean"
new_case
: >"$CASEDIR/src/only.txt"
make_device "$CASEDIR/src"
snap_to "$IO/dev.before" "$DEV"
fsg boot --root "$DEV"
expect_rc 0
expect_snap "$IO/dev.before" "$DEV" "empty-file device"

begin "empty backup table: nothing protected, clean"
new_case
make_device "$CASEDIR/src"
snap_to "$IO/dev.before" "$DEV"
fsg boot --root "$DEV"
expect_rc 0
expect_out "0 files checked"
expect_snap "$IO/dev.before" "$DEV" "empty table"

# ---- unrepairable files ----

for kind in bak-missing bak-flipped bak-truncated bak-directory; do
    begin "$kind: exit 4, user file untouched, its hash not recorded"
    new_device
    flip_bit "$USR/lib/util.py" 3
    fp=$(fingerprint "$USR/lib/util.py")
    case $kind in
    bak-missing) rm "${BAK:?}/usr/lib/util.py"; why="backup copy is missing" ;;
    bak-flipped) flip_bit "$BAK/usr/lib/util.py" 5; why="backup copy is damaged" ;;
    bak-truncated) truncate_half "$BAK/usr/lib/util.py"; why="backup copy is damaged" ;;
    bak-directory) rm "${BAK:?}/usr/lib/util.py"; mkdir "${BAK:?}/usr/lib/util.py"; why="backup copy" ;;
    esac
    rm "${USR:?}/main.py"   # another damaged file, repairable
    fsg boot --root "$DEV" --json
    expect_rc 4
    expect_json
    py_expect "util.py failed" 'files()["/usr/lib/util.py"]["status"] == "failed"'
    py_expect "the reason names the backup copy" '"backup copy" in files()["/usr/lib/util.py"]["reason"]'
    py_expect "main.py still restored" 'files()["/usr/main.py"]["status"] == "restored"'
    expect_fingerprint "$fp" "$USR/lib/util.py" "the damaged user file is left untouched"
    expect_restored /usr/main.py
    py_expect "util.py's recorded hash is still the factory one, not the damaged file's" \
        'man(USR + "/checksum.json") == man(BAK + "/checksum.json")'
    begin "$kind: text report says FAILED, names the file and why"
    fsg boot --root "$DEV"
    expect_rc 4
    expect_out_line "FAILED" "$USR/lib/util.py" "$why"
    expect_fingerprint "$fp" "$USR/lib/util.py"
done

begin "user file missing and backup copy missing: exit 4, nothing created"
new_device
rm "${USR:?}/main.py" "${BAK:?}/usr/main.py"
fsg boot --root "$DEV"
expect_rc 4
expect_absent "$USR/main.py"
expect_out_line "FAILED" "$USR/main.py"

begin "backup table has no entry for a protected file: exit 4, file untouched"
new_device
write_manifest "$BAK/checksum.json" '[e for e in raw(BAK + "/checksum.json") if e["name"] != "/usr/main.py"]'
flip_bit "$USR/main.py"
fp=$(fingerprint "$USR/main.py")
fsg boot --root "$DEV"
expect_rc 4
expect_out_line "FAILED" "$USR/main.py" "no entry"
expect_fingerprint "$fp" "$USR/main.py"

# ---- entries missing from the user table ----

begin "entry in the backup table but not in the user's: put back (exit 1)"
new_device
write_manifest "$USR/checksum.json" '[e for e in raw(BAK + "/checksum.json") if e["name"] != "/usr/main.py"]'
fsg boot --root "$DEV"
expect_rc 1
expect_out_line "$USR/main.py" "put back"
py_expect "entry put back" 'man(USR + "/checksum.json") == man(BAK + "/checksum.json")'
expect_restored /usr/main.py
qpy_accepts

begin "entry missing from the user table and its file damaged: put back and restored"
new_device
write_manifest "$USR/checksum.json" '[e for e in raw(BAK + "/checksum.json") if e["name"] != "/usr/lib/deep/x/y.txt"]'
rm -r "${USR:?}/lib/deep"
fsg boot --root "$DEV" --json
expect_rc 1
expect_json
py_expect "restored and put back" 'files()["/usr/lib/deep/x/y.txt"]["status"] == "restored"'
py_expect "totals" 'report()["totals"]["entries_put_back"] == 1'
expect_restored /usr/lib/deep/x/y.txt
py_expect "entry put back" 'man(USR + "/checksum.json") == man(BAK + "/checksum.json")'

begin "user table empty ([]): every entry put back"
new_device
echo '[]' >"$USR/checksum.json"
rm "${USR:?}/data.bin"
fsg boot --root "$DEV"
expect_rc 1
expect_restored $DEFAULT_NAMES
py_expect "table complete" 'man(USR + "/checksum.json") == man(BAK + "/checksum.json")'
begin "user table empty: second boot is clean and writes nothing"
snap_to "$IO/dev.before" "$DEV"
fsg boot --root "$DEV"
expect_rc 0
expect_snap "$IO/dev.before" "$DEV" "second boot"

# ---- a file whose content is the factory copy but whose hash entry is stale ----

begin "stale user hash, file is the factory copy: hash corrected, file not rewritten"
new_device
write_manifest "$USR/checksum.json" \
    '[dict(e, crc32="0x1234") if e["name"] == "/usr/main.py" else e for e in raw(BAK + "/checksum.json")]'
fp=$(fingerprint "$USR/main.py")
fsg boot --root "$DEV"
expect_rc 1
expect_out_line "$USR/main.py" "hash entry corrected"
expect_fingerprint "$fp" "$USR/main.py" "the factory-identical file is not rewritten"
py_expect "hash corrected" 'man(USR + "/checksum.json") == man(BAK + "/checksum.json")'

# ---- leftover temporary files ----

begin "leftover temporary files in the root and subdirectories: removed"
new_device
echo partial >"$USR/.main.py.fsg-tmp"
echo partial >"$USR/lib/.util.py.fsg-tmp"
echo partial >"$USR/lib/deep/x/.y.txt.fsg-tmp"
echo partial >"$USR/.checksum.json.fsg-tmp"
echo keep >"$USR/.hidden"             # an ordinary dot file
echo keep >"$USR/lib/main.py.fsg-tmp" # no leading dot: not ours
fsg boot --root "$DEV"
expect_absent "$USR/.main.py.fsg-tmp"
expect_absent "$USR/lib/.util.py.fsg-tmp"
expect_absent "$USR/lib/deep/x/.y.txt.fsg-tmp"
expect_absent "$USR/.checksum.json.fsg-tmp"
expect_exists "$USR/.hidden" "an ordinary dot file is kept"
expect_exists "$USR/lib/main.py.fsg-tmp" "a file without the leading dot is kept"
expect_out_line "removed" "$USR/lib/.util.py.fsg-tmp"
expect_restored $DEFAULT_NAMES
case $RC in 0|1) pass ;; *) fail "removing leftovers: exit 0 or 1 expected, got $RC" "$(show_run)" ;; esac
begin "after removing leftovers: next boot clean, nothing written"
snap_to "$IO/dev.before" "$DEV"
fsg boot --root "$DEV"
expect_rc 0
expect_snap "$IO/dev.before" "$DEV" "boot after cleanup"

begin "leftover temporary files next to damage: removed and the damage repaired"
new_device
echo partial >"$USR/lib/.util.py.fsg-tmp"
rm "${USR:?}/lib/util.py"
fsg boot --root "$DEV"
expect_rc 1
expect_absent "$USR/lib/.util.py.fsg-tmp"
expect_restored /usr/lib/util.py

# ---- one bad entry never stops the pass ----

begin "bad entries, an unrepairable file and damaged files in one pass"
new_device
write_manifest "$USR/checksum.json" '[{"name": 5, "crc32": "0x1"}, {"crc32": "0x2"}, "junk",
    {"name": "/usr/../outside.txt", "crc32": "0x3"}] + raw(BAK + "/checksum.json")
    + [{"name": "/usr/main.py", "crc32": "0x4"}]'
rm "${BAK:?}/usr/cfg/apn_cfg.json"
flip_bit "$USR/cfg/apn_cfg.json"
rm "${USR:?}/main.py"
rm -r "${USR:?}/lib"
: >"$USR/system_config.json"
fsg boot --root "$DEV" --json
expect_rc 4
expect_json
py_expect "statuses" '{n: f["status"] for n, f in files().items()} == {"/usr/cfg/apn_cfg.json": "failed",
    "/usr/data.bin": "ok", "/usr/empty.txt": "ok", "/usr/lib/deep/x/y.txt": "restored",
    "/usr/lib/util.py": "restored", "/usr/main.py": "restored", "/usr/system_config.json": "restored"}'
py_expect "the bad entries are reported" 'report()["totals"]["invalid_entries"] == 5'
expect_restored /usr/main.py /usr/lib/util.py /usr/lib/deep/x/y.txt /usr/system_config.json
expect_err_line "$USR/checksum.json" "entry 0"
expect_err_line "$USR/checksum.json" "entry 1"
expect_err_line "$USR/checksum.json" "entry 2"
expect_err_line "$USR/checksum.json" "entry 3" "/usr/../outside.txt"


# ---- hashing on several threads (--jobs) ----

for jobs in 1 3 16; do
    begin "--jobs $jobs: the same repairs, the same report, the same tree"
    new_device
    rm "${USR:?}/main.py"
    flip_bit "$USR/lib/util.py"
    fsg boot --root "$DEV" --jobs "$jobs"
    expect_rc 1
    expect_out_line "restored" "$USR/main.py" "missing"
    expect_out_line "restored" "$USR/lib/util.py" "content differs"
    expect_out "2 restored, 0 failed (exit 1)"
    sed "s#$DEV#DEV#g" "$OUT" >"$IO/out.jobs$jobs"
    snap_hashes "$DEV" >"$IO/hashes.jobs$jobs"
    snap_to "$IO/dev.after" "$DEV"
    fsg boot --root "$DEV" --jobs "$jobs"
    expect_rc 0 "a second boot"
    expect_snap "$IO/dev.after" "$DEV" "a second boot with --jobs $jobs"
    if [ "$jobs" != 1 ]; then
        expect_eq "$(cat "$IO/out.jobs1")" "$(cat "$IO/out.jobs$jobs")" \
            "the report with --jobs $jobs is the one with --jobs 1"
        expect_eq "$(cat "$IO/hashes.jobs1")" "$(cat "$IO/hashes.jobs$jobs")" \
            "the repaired tree with --jobs $jobs is the one with --jobs 1"
    fi
done

for bad in 0 17 x ""; do
    begin "--jobs '$bad' is a usage error"
    new_device
    fsg boot --root "$DEV" --jobs "$bad"
    expect_rc 16
done

finish
