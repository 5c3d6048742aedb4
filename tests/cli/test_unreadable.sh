#!/usr/bin/env bash
# test_unreadable.sh -- "cannot read" is never "damaged". Run as an
# unprivileged user (setpriv; root reads every file whatever its mode), a
# protected file, the user checksum.json or backup_restore.json that exists
# but may not be read is left exactly as it is: the file is reported failed
# (exit 4), never replaced by the factory copy; an unreadable table is not
# rebuilt over the recorded edits and an unreadable switch turns nothing
# off (both exit 8, naming the file). verify says what boot then does, and
# no message calls a failure "success".
. "$(dirname "$0")/lib.sh"

as_nobody_setup test_unreadable

# nobody_device: a device whose partitions belong to nobody, who runs fsguard.
nobody_device() {
    new_device
    chown -R "$NOBODY:$NOGROUP" "$DEV"
    FSGUARD=$IO/as_nobody
}

begin "setpriv really drops root: a mode-000 file cannot be read"
nobody_device
chmod 000 "$USR/main.py"
if setpriv --reuid="$NOBODY" --regid="$NOGROUP" --clear-groups cat "$USR/main.py" >/dev/null 2>&1; then
    fail "nobody could read a mode-000 file: the cases below prove nothing"
else
    pass
fi

begin "a protected file that cannot be read is left as it is and reported failed"
nobody_device
printf '{"volume": 9, "server": "10.0.0.9"}\n' >"$IO/new.json"
chmod 644 "$IO/new.json"
fsg put --root "$DEV" "$IO/new.json" /usr/system_config.json
expect_rc 0 "put as nobody"
chmod 000 "$USR/system_config.json"
saved=$(fingerprint "$USR/system_config.json")
fsg verify --root "$DEV"
expect_rc 4 "verify"
expect_out_line FAILED "$USR/system_config.json" "permission denied" "left as it is"
expect_no_out "would restore"
expect_no_out "(success)"
fsg boot --root "$DEV"
expect_rc 4 "boot"
expect_out_line FAILED "$USR/system_config.json" "permission denied" "left as it is"
expect_no_out "restored "
expect_no_out "(success)"
expect_fingerprint "$saved" "$USR/system_config.json" "the unreadable edit"
fsg boot --root "$DEV" --json
expect_rc 4 "boot --json"
py_expect "the file is failed, not restored, in the JSON report" \
    'files()["/usr/system_config.json"]["status"] == "failed"'
py_expect "nothing restored" 'report()["totals"]["restored"] == 0 and report()["totals"]["failed"] == 1'
chmod 644 "$USR/system_config.json"
expect_same "$IO/new.json" "$USR/system_config.json" "the edit survives"
# Readable again, the edit is intact and recorded: a clean device.
fsg verify --root "$DEV"
expect_rc 0 "verify once readable again"

begin "a user checksum.json that cannot be read is not rebuilt over the edits"
nobody_device
fsg put --root "$DEV" "$IO/new.json" /usr/system_config.json
expect_rc 0 "put as nobody"
rm "$USR/main.py"   # damage that a rebuilt table would "repair"
chmod 000 "$USR/checksum.json"
snap_to "$IO/usr.before" "$USR"
fsg verify --root "$DEV"
expect_rc 8 "verify"
expect_err_line "$USR/checksum.json" "cannot be read" "permission denied"
fsg boot --root "$DEV"
expect_rc 8 "boot"
expect_err_line "$USR/checksum.json" "cannot be read" "permission denied" "nothing was changed"
expect_no_out "(success)"
expect_snap "$IO/usr.before" "$USR" "the user partition"
chmod 644 "$USR/checksum.json"
fsg boot --root "$DEV"
expect_rc 1 "boot once the table is readable: restores main.py only"
expect_same "$IO/new.json" "$USR/system_config.json" "the recorded edit survives"
expect_restored /usr/main.py

begin "a backup_restore.json that cannot be read turns nothing off"
nobody_device
rm "$USR/main.py"
chmod 000 "$BAK/backup_restore.json"
snap_to "$IO/usr.before" "$USR"
fsg verify --root "$DEV"
expect_rc 8 "verify"
expect_err_line "$BAK/backup_restore.json" "cannot be read" "permission denied"
fsg boot --root "$DEV"
expect_rc 8 "boot"
expect_err_line "$BAK/backup_restore.json" "cannot be read" "permission denied"
expect_snap "$IO/usr.before" "$USR" "the user partition"
fsg boot --root "$DEV" --json
expect_rc 8 "boot --json"
expect_json

finish
