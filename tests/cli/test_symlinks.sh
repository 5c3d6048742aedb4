# test_symlinks.sh -- links in the user and backup partitions are never
# followed: a link where a protected file should be is replaced by a regular
# file, a linked parent directory blocks the restore, and nothing outside
# the device changes (every `fsg` run checks $OUTSIDE and the rest).
. "$(dirname "$0")/lib.sh"

begin "a link to an outside file with the right content stands for a protected file: replaced"
new_device
cp "$BAK/usr/main.py" "$OUTSIDE/main.copy"
rm "${USR:?}/main.py"
ln -s "$OUTSIDE/main.copy" "$USR/main.py"
fp=$(fingerprint "$OUTSIDE/main.copy")
fsg boot --root "$DEV"
expect_rc 1
expect_out_line "restored" "$USR/main.py"
expect_restored /usr/main.py
expect_fingerprint "$fp" "$OUTSIDE/main.copy" "the link's target"
fsg boot --root "$DEV"
expect_rc 0

begin "a link to an outside file with other content: replaced, target unchanged"
new_device
rm "${USR:?}/lib/util.py"
ln -s "$OUTSIDE/secret.txt" "$USR/lib/util.py"
fp=$(fingerprint "$OUTSIDE/secret.txt")
fsg boot --root "$DEV" --json
expect_rc 1
expect_json
py_expect "restored" 'files()["/usr/lib/util.py"]["status"] == "restored"'
py_expect "a link is reported as such, not as content" 'files()["/usr/lib/util.py"]["found"] is None'
expect_restored /usr/lib/util.py
expect_fingerprint "$fp" "$OUTSIDE/secret.txt" "the link's target"

begin "a dangling link: replaced, nothing created where it pointed"
new_device
rm "${USR:?}/main.py"
ln -s "$OUTSIDE/not-there.py" "$USR/main.py"
fsg boot --root "$DEV"
expect_rc 1
expect_restored /usr/main.py
expect_absent "$OUTSIDE/not-there.py"

begin "a link to a directory: replaced"
new_device
rm "${USR:?}/main.py"
ln -s "$OUTSIDE/dir" "$USR/main.py"
fsg boot --root "$DEV"
expect_rc 1
expect_restored /usr/main.py

begin "a relative link escaping the partition: replaced"
new_device
rm "${USR:?}/cfg/apn_cfg.json"
ln -s ../../../../outside/secret.txt "$USR/cfg/apn_cfg.json"
fsg boot --root "$DEV"
expect_rc 1
expect_restored /usr/cfg/apn_cfg.json

begin "verify with a link in place: reports it, writes nothing, target unchanged"
new_device
rm "${USR:?}/main.py"
ln -s "$OUTSIDE/secret.txt" "$USR/main.py"
snap_to "$IO/dev.before" "$DEV"
fsg verify --root "$DEV"
expect_rc 1
expect_out_line "would restore" "$USR/main.py"
expect_snap "$IO/dev.before" "$DEV" "verify"

# ---- linked parent directories ----

begin "a parent directory linked to an outside directory: exit 4, nothing written there"
new_device
rm -r "${USR:?}/lib"
ln -s "$OUTSIDE/dir" "$USR/lib"
rm "${USR:?}/main.py"
fsg boot --root "$DEV"
expect_rc 4
expect_out_line "FAILED" "$USR/lib/util.py"
expect_out_line "FAILED" "$USR/lib/deep/x/y.txt"
expect_absent "$OUTSIDE/dir/util.py" "nothing created in the outside directory"
expect_absent "$OUTSIDE/dir/deep"
expect_restored /usr/main.py
if [ -L "$USR/lib" ]; then pass; else fail "the link itself is left as it was"; fi
py_expect "the failed files' hashes are not recorded from outside" \
    'man(USR + "/checksum.json") == man(BAK + "/checksum.json")'

begin "a linked parent whose target holds the right content: still not trusted (exit 4)"
new_device
mkdir -p "$OUTSIDE/libcopy"
cp -r "$BAK/usr/lib/." "$OUTSIDE/libcopy/"
rm -r "${USR:?}/lib"
ln -s "$OUTSIDE/libcopy" "$USR/lib"
snap_to "$IO/outside.before" "$OUTSIDE"
fsg boot --root "$DEV"
expect_rc 4
expect_snap "$IO/outside.before" "$OUTSIDE" "the linked directory's target"

begin "a deeper parent linked outside: exit 4, nothing written there"
new_device
rm -r "${USR:?}/lib/deep/x"
mkdir -p "$OUTSIDE/xdir"
ln -s "$OUTSIDE/xdir" "$USR/lib/deep/x"
fsg boot --root "$DEV"
expect_rc 4
expect_absent "$OUTSIDE/xdir/y.txt"
expect_absent "$OUTSIDE/xdir/.y.txt.fsg-tmp"

begin "a dangling parent link: exit 4, nothing created at its target"
new_device
rm -r "${USR:?}/lib"
ln -s "$OUTSIDE/nowhere" "$USR/lib"
fsg boot --root "$DEV"
expect_rc 4
expect_absent "$OUTSIDE/nowhere"

begin "verify with a linked parent: exit 4, like boot, writes nothing"
new_device
rm -r "${USR:?}/lib"
ln -s "$OUTSIDE/dir" "$USR/lib"
snap_to "$IO/dev.before" "$DEV"
fsg verify --root "$DEV"
expect_rc 4
expect_snap "$IO/dev.before" "$DEV" "verify"

# ---- links in the backup partition ----

begin "the backup copy is a link to an outside file with the right content: not followed (exit 4)"
new_device
cp "$BAK/usr/main.py" "$OUTSIDE/bak-main.py"
rm "${BAK:?}/usr/main.py" "${USR:?}/main.py"
ln -s "$OUTSIDE/bak-main.py" "$BAK/usr/main.py"
fsg boot --root "$DEV"
expect_rc 4
expect_out_line "FAILED" "$USR/main.py" "backup copy"
expect_absent "$USR/main.py"

begin "a backup directory is a link: not followed (exit 4)"
new_device
mkdir -p "$OUTSIDE/baklib"
cp -r "$BAK/usr/lib/." "$OUTSIDE/baklib/"
rm -r "${BAK:?}/usr/lib" "${USR:?}/lib"
ln -s "$OUTSIDE/baklib" "$BAK/usr/lib"
fsg boot --root "$DEV"
expect_rc 4
expect_absent "$USR/lib/util.py"

# ---- the tables themselves as links ----

begin "the user checksum.json is a link to an outside file: target unchanged, replaced by a file"
new_device
cp "$USR/checksum.json" "$OUTSIDE/checksum.json"
rm "${USR:?}/checksum.json"
ln -s "$OUTSIDE/checksum.json" "$USR/checksum.json"
rm "${USR:?}/main.py"
fp=$(fingerprint "$OUTSIDE/checksum.json")
fsg boot --root "$DEV"
expect_rc 1
expect_fingerprint "$fp" "$OUTSIDE/checksum.json" "the link's target"
if [ -f "$USR/checksum.json" ] && [ ! -L "$USR/checksum.json" ]; then pass; else
    fail "checksum.json should now be a regular file" "$(ls -l "$USR/checksum.json")"
fi
expect_restored /usr/main.py
fsg boot --root "$DEV"
expect_rc 0

begin "calc with the user checksum.json a link: the outside target is unchanged"
new_device
cp "$USR/checksum.json" "$OUTSIDE/checksum2.json"
rm "${USR:?}/checksum.json"
ln -s "$OUTSIDE/checksum2.json" "$USR/checksum.json"
echo 'print("edit")' >"$USR/main.py"
fp=$(fingerprint "$OUTSIDE/checksum2.json")
fsg calc --root "$DEV" /usr/main.py
expect_fingerprint "$fp" "$OUTSIDE/checksum2.json" "the link's target"
case $RC in 0|8) pass ;; *) fail "calc: exit 0 or 8 expected" "$(show_run)" ;; esac

# ---- calc through links ----

begin "calc of a protected file that is a link: exit 8, nothing changed"
new_device
rm "${USR:?}/main.py"
ln -s "$OUTSIDE/secret.txt" "$USR/main.py"
fp=$(fingerprint "$USR/checksum.json")
fsg calc --root "$DEV" /usr/main.py
expect_rc 8
expect_err "/usr/main.py"
expect_fingerprint "$fp" "$USR/checksum.json"

begin "calc under a linked parent: exit 8, nothing changed"
new_device
rm -r "${USR:?}/lib"
mkdir "$OUTSIDE/calc-lib"
cp "$BAK/usr/lib/util.py" "$OUTSIDE/calc-lib/util.py"
echo '# edited' >>"$OUTSIDE/calc-lib/util.py"
ln -s "$OUTSIDE/calc-lib" "$USR/lib"
fp=$(fingerprint "$USR/checksum.json")
fsg calc --root "$DEV" /usr/lib/util.py
expect_rc 8
expect_fingerprint "$fp" "$USR/checksum.json"

# ---- leftover temporary names that are links ----

begin "a link named like a temporary file: its target is not touched"
new_device
ln -s "$OUTSIDE/secret.txt" "$USR/.main.py.fsg-tmp"
ln -s "$OUTSIDE/dir" "$USR/lib/.util.py.fsg-tmp"
rm "${USR:?}/main.py" "${USR:?}/lib/util.py"
fsg boot --root "$DEV"
expect_rc 1
expect_restored /usr/main.py /usr/lib/util.py
expect_exists "$OUTSIDE/secret.txt"

begin "partitions given through links (--usr/--bak are links): followed, as the user chose"
new_device
ln -s "$USR" "$CASEDIR/usr-link"
ln -s "$BAK" "$CASEDIR/bak-link"
rm "${USR:?}/main.py"
fsg boot --usr "$CASEDIR/usr-link" --bak "$CASEDIR/bak-link"
expect_rc 1
expect_restored /usr/main.py

finish
