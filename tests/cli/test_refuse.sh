# test_refuse.sh -- nonsense refused before anything is touched: --usr and
# --bak naming the same directory or one inside the other (by identity:
# through a symbolic link, "..", a trailing slash) is a usage error (16);
# pack never deletes an OUT.fsg-tmp it did not make (no OUT.fsg-tmp.mark) and
# replaces a stale one of its own.
. "$(dirname "$0")/lib.sh"

new_device
rm "$USR/main.py"   # damage that no refused run may repair
ln -s "$USR" "$CASEDIR/usr-link"
mkdir -p "$USR/inner" "$BAK/inner"
snap_to "$IO/dev.before" "$DEV"

refused() {   # refused WHAT ARGS...: exit 16, a message naming the problem, nothing changed
    local what=$1
    shift
    begin "refused: $what"
    fsg "$@"
    expect_rc 16 "$what"
    expect_err "must be apart"
    expect_empty_out
}

for cmd in boot verify "calc" "put" "fota apply" "fota status" inspect; do
    extra=()
    case $cmd in
    calc) extra=(/usr/lib/util.py) ;;
    put) extra=("$OUTSIDE/x" /usr/lib/util.py) ;;
    "fota apply") extra=("$OUTSIDE/dir") ;;
    esac
    # shellcheck disable=SC2086
    {
        refused "$cmd: the same directory" $cmd --usr "$USR" --bak "$USR" "${extra[@]}"
        refused "$cmd: the same directory by another spelling" $cmd --usr "$USR/" --bak "$DEV/bak/../usr" "${extra[@]}"
        refused "$cmd: the same directory through a link" $cmd --usr "$CASEDIR/usr-link" --bak "$USR" "${extra[@]}"
        refused "$cmd: backup inside the user partition" $cmd --usr "$USR" --bak "$USR/inner" "${extra[@]}"
        refused "$cmd: user inside the backup partition" $cmd --usr "$BAK/inner" --bak "$BAK" "${extra[@]}"
        refused "$cmd: user partition the device's parent" $cmd --usr "$DEV" --bak "$BAK" "${extra[@]}"
    }
done
begin "refused runs changed nothing"
expect_snap "$IO/dev.before" "$DEV" "the device after the refused runs"
rmdir "$USR/inner" "$BAK/inner"

begin "--json: the refusal is one JSON document"
fsg boot --usr "$USR" --bak "$USR" --json
expect_rc 16
py_expect "a JSON report of the usage error" 'report()["exit_code"] == 16 and "apart" in report()["error"]'

begin "partitions side by side are fine"
fsg verify --usr "$USR" --bak "$BAK"
expect_rc 1

# ---- pack's staging directory ----

begin "pack refuses a foreign OUT.fsg-tmp and leaves it intact"
pack_case
mkdir -p "$O.fsg-tmp/usr"
printf 'precious\n' >"$O.fsg-tmp/usr/notes.txt"
printf 'mine\n' >"$O.fsg-tmp/keep"
before=$(cd "$PO" && find . -exec stat -c '%n %i %s %Y' {} + | sort)
DEV="$CASEDIR/dev" USR="$PO" fsg pack "$SRC" --out "$O"
expect_rc 8 "a foreign staging directory"
expect_err "not a staging directory of fsguard pack"
after=$(cd "$PO" && find . -exec stat -c '%n %i %s %Y' {} + | sort)
expect_eq "$before" "$after" "the foreign directory and everything in it are left as they were"
expect_absent "$O" "no output"

begin "pack refuses a file named OUT.fsg-tmp and a link to a directory"
rm -rf "$O.fsg-tmp"
printf 'a file\n' >"$O.fsg-tmp"
DEV="$CASEDIR/dev" USR="$PO" fsg pack "$SRC" --out "$O"
expect_rc 8 "a file in the staging directory's place"
expect_exists "$O.fsg-tmp"
rm "$O.fsg-tmp"
mkdir "$CASEDIR/elsewhere"
printf 'x\n' >"$CASEDIR/elsewhere/keep"
ln -s "$CASEDIR/elsewhere" "$O.fsg-tmp"
printf 'fsguard pack staging\n' >"$O.fsg-tmp.mark"
DEV="$CASEDIR/dev" USR="$PO" fsg pack "$SRC" --out "$O"
expect_rc 8 "a link in the staging directory's place, even with the mark beside it"
expect_exists "$CASEDIR/elsewhere/keep"
expect_exists "$O.fsg-tmp" "the link is left"
rm "$O.fsg-tmp" "$O.fsg-tmp.mark"

begin "a stale staging directory of pack's own (a killed pack) is replaced"
mkdir -p "$O.fsg-tmp/usr/half"
printf 'fsguard pack staging\n' >"$O.fsg-tmp.mark"
printf 'half\n' >"$O.fsg-tmp/usr/half/x.fsg-tmp"
pk "$SRC" --out "$O"
expect_rc 0 "pack over its own leftover"
expect_absent "$O.fsg-tmp" "the leftover is gone"
expect_absent "$O.fsg-tmp.mark" "the mark is removed once OUT is in place"
expect_absent "$O/.fsg-tmp.mark" "the mark does not end up in the output"
expect_absent "$O/usr/half" "nothing of the leftover ends up in the output"
qpy_accepts

begin "a mark alone (a pack killed before or after its directory) is cleaned up"
rm -rf "$O"
printf 'fsguard pack staging\n' >"$O.fsg-tmp.mark"
pk "$SRC" --out "$O"
expect_rc 0 "pack beside a stale mark"
expect_absent "$O.fsg-tmp.mark" "the stale mark is removed"
expect_absent "$O.fsg-tmp"
qpy_accepts

finish
