# test_verify.sh -- `fsguard verify`: writes nothing at all, whatever it finds,
# reports what boot would do, and exits with the code boot then returns.
. "$(dirname "$0")/lib.sh"

# setup SCENARIO: prepares the current device; sets WOULD (files verify
# must report as would_restore) and WANT (the expected exit code).
setup() {
    WOULD=""
    case $1 in
    clean) WANT=0 ;;
    deleted) rm "${USR:?}/main.py"; WOULD="/usr/main.py"; WANT=1 ;;
    subdir-deleted) rm -r "${USR:?}/lib"; WOULD="/usr/lib/util.py /usr/lib/deep/x/y.txt"; WANT=1 ;;
    bitflip) flip_bit "$USR/data.bin" 77777; WOULD="/usr/data.bin"; WANT=1 ;;
    truncated) truncate_half "$USR/cfg/apn_cfg.json"; WOULD="/usr/cfg/apn_cfg.json"; WANT=1 ;;
    empty-filled) echo x >"$USR/empty.txt"; WOULD="/usr/empty.txt"; WANT=1 ;;
    usr-manifest-missing) rm "${USR:?}/checksum.json"; WANT=1 ;;
    usr-manifest-missing-and-damage) rm "${USR:?}/checksum.json" "${USR:?}/main.py"; WOULD="/usr/main.py"; WANT=1 ;;
    usr-manifest-garbage) echo 'nope' >"$USR/checksum.json"; WANT=1 ;;
    usr-manifest-truncated) head -c 50 "$BAK/checksum.json" >"$USR/checksum.json"; WANT=1 ;;
    entry-missing)
        write_manifest "$USR/checksum.json" '[e for e in raw(BAK + "/checksum.json") if e["name"] != "/usr/main.py"]'
        WANT=1 ;;
    stale-hash)
        write_manifest "$USR/checksum.json" '[dict(e, crc32="0x99") if e["name"] == "/usr/main.py" else e for e in raw(BAK + "/checksum.json")]'
        WOULD="/usr/main.py"
        WANT=1 ;;
    temps)
        echo x >"$USR/.main.py.fsg-tmp"
        echo x >"$USR/lib/.util.py.fsg-tmp"
        WANT=1 ;;
    temps-and-damage)
        echo x >"$USR/.main.py.fsg-tmp"
        rm "${USR:?}/main.py"
        WOULD="/usr/main.py"; WANT=1 ;;
    symlink-at-file)
        rm "${USR:?}/main.py"; ln -s "$OUTSIDE/secret.txt" "${USR:?}/main.py"
        WOULD="/usr/main.py"; WANT=1 ;;
    bak-copy-missing) rm "${USR:?}/main.py" "${BAK:?}/usr/main.py"; WANT=4 ;;
    bak-copy-damaged) flip_bit "$USR/main.py"; flip_bit "$BAK/usr/main.py" 2; WANT=4 ;;
    dir-at-file) rm "${USR:?}/main.py"; mkdir -p "${USR:?}/main.py/sub"; WANT=4 ;;
    symlinked-parent)
        rm -r "${USR:?}/lib"; mkdir "$OUTSIDE/lib.$NCASE"; ln -s "$OUTSIDE/lib.$NCASE" "${USR:?}/lib"; WANT=4 ;;
    mixed)
        rm "${USR:?}/main.py" "${BAK:?}/usr/cfg/apn_cfg.json"; flip_bit "${USR:?}/cfg/apn_cfg.json"
        : >"$USR/system_config.json"; echo x >"$USR/lib/.util.py.fsg-tmp"
        WOULD="/usr/main.py /usr/system_config.json"; WANT=4 ;;
    switch-off) echo '{"enable": 0}' >"${BAK:?}/backup_restore.json"; rm "${USR:?}/main.py"; WANT=0 ;;
    switch-missing) rm "${BAK:?}/backup_restore.json" "${USR:?}/checksum.json"; WANT=0 ;;
    bak-manifest-missing) rm "${BAK:?}/checksum.json" "${USR:?}/main.py"; WANT=8 ;;
    bak-manifest-garbage) echo '[{' >"${BAK:?}/checksum.json"; rm "${USR:?}/checksum.json"; WANT=8 ;;
    esac
}

SCENARIOS="clean deleted subdir-deleted bitflip truncated empty-filled usr-manifest-missing
usr-manifest-missing-and-damage usr-manifest-garbage usr-manifest-truncated entry-missing
stale-hash temps temps-and-damage symlink-at-file bak-copy-missing bak-copy-damaged dir-at-file
symlinked-parent mixed switch-off switch-missing bak-manifest-missing bak-manifest-garbage"

for sc in $SCENARIOS; do
    begin "verify $sc: writes nothing, exits as the boot that follows"
    new_device
    setup "$sc"
    snap_to "$IO/dev.before" "$DEV"
    fsg verify --root "$DEV"
    expect_rc "$WANT" "verify $sc"
    for n in $WOULD; do
        expect_out_line "would restore" "$USR/${n#/usr/}"
    done
    expect_no_out "restored  "
    expect_no_out "(success)"   # a reason must not quote a non-error
    expect_snap "$IO/dev.before" "$DEV" "verify $sc"
    vrc=$RC

    fsg verify --root "$DEV" --json
    expect_rc "$WANT" "verify --json $sc"
    expect_json
    py_expect "would_restore files" 'sorted(n for n, f in files().items() if f["status"] == "would_restore") == sorted(argv)' $WOULD
    py_expect "nothing reported as restored" 'all(f["status"] != "restored" for f in files().values())'
    py_expect "checksum.json not written" 'report()["checksum_json"]["written"] is False'
    expect_snap "$IO/dev.before" "$DEV" "verify --json $sc"

    fsg boot --root "$DEV" --json
    expect_eq "$vrc" "$RC" "verify $sc: exit code of verify equals the exit code of the boot that follows"
    if [ "$RC" -lt 8 ]; then
        py_expect "boot restores what verify said it would" 'sorted(n for n, f in files().items() if f["status"] == "restored") == sorted(argv)' $WOULD
    fi
done

begin "verify names the checksum.json action it would take"
new_device
rm "${USR:?}/checksum.json"
fsg verify --root "$DEV"
expect_out_line "$USR/checksum.json" "would be copied"
fsg verify --root "$DEV" --json
py_expect "action" 'report()["checksum_json"]["action"] == "created"'
echo '{' >"$USR/checksum.json"
fsg verify --root "$DEV"
expect_out_line "$USR/checksum.json" "would be rebuilt"

begin "verify reports leftover temporary files it would remove, and keeps them"
new_device
echo x >"$USR/lib/.util.py.fsg-tmp"
fsg verify --root "$DEV"
expect_out_line "would remove" "$USR/lib/.util.py.fsg-tmp"
expect_exists "$USR/lib/.util.py.fsg-tmp"

begin "verify after a repairing boot: exit 0"
new_device
rm -r "${USR:?}/lib"
fsg boot --root "$DEV"
expect_rc 1
fsg verify --root "$DEV"
expect_rc 0

begin "verify with --usr/--bak: writes nothing either"
new_device
rm "${USR:?}/checksum.json" "${USR:?}/main.py"
snap_to "$IO/dev.before" "$DEV"
fsg verify --usr "$USR" --bak "$BAK"
expect_rc 1
expect_snap "$IO/dev.before" "$DEV" "verify --usr --bak"

finish
