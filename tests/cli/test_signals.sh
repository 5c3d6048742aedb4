# test_signals.sh -- SIGINT and SIGTERM sent to real fsguard processes in the
# middle of a write (a put reading a slow FIFO, a boot restoring a big file,
# a pack of a big tree): the process exits with 128 + the signal's number
# (130, 143), leaves no temporary file or staging directory, and the device
# is in its old or its new state only, as `fsguard verify` then shows.
. "$(dirname "$0")/lib.sh"

# Job control: a background job gets SIGINT as from a terminal (a shell
# without it starts background jobs with SIGINT ignored).
set -m

PID=
# start_bg ARGS...: runs fsguard ARGS in the background; PID, $OUT, $ERR.
start_bg() {
    LAST_ARGS="$*"
    "$FSGUARD" "$@" >"$OUT" 2>"$ERR" &
    PID=$!
}

# wait_for DIR: waits (up to 60 s) until a *.fsg-tmp exists below DIR
# while fsguard still runs; 0 if it did.
wait_for() {
    local i
    for ((i = 0; i < 6000; i++)); do
        [ -n "$(find "$1" -name '*.fsg-tmp' -print -quit 2>/dev/null)" ] && return 0
        kill -0 "$PID" 2>/dev/null || return 1
        sleep 0.01
    done
    return 1
}

# stop_bg SIG: sends SIG, waits; RC holds the exit status.
stop_bg() {
    kill -"$1" "$PID" 2>/dev/null
    wait "$PID"
    RC=$?
}

expect_no_temp() {   # expect_no_temp DIR
    local left
    left=$(find "$1" -name '*.fsg-tmp' 2>/dev/null)
    if [ -z "$left" ]; then pass; else fail "a temporary file was left behind" "$left" "$(show_run)"; fi
}

# expect_verify_settled WHAT: verify runs without error and finds no damage
# it could not repair (0 or 1), and no file is half-written.
expect_verify_settled() {
    local rc
    "$FSGUARD" verify --root "$DEV" >"$IO/verify.out" 2>&1
    rc=$?
    if [ $rc = 0 ] || [ $rc = 1 ]; then pass; else fail "$1: verify afterwards exits $rc" "$(cat "$IO/verify.out")"; fi
}

# ---- put from a slow source ----

for sig in INT TERM; do
    want=$([ $sig = INT ] && echo 130 || echo 143)
    for json in "" --json; do
        begin "put reading a FIFO, SIG$sig ${json:-(text)}: exit $want, no temporary file, old content"
        new_device
        before=$(fingerprint "$USR/data.bin")
        fifo="$CASEDIR/slow.fifo"
        mkfifo "$fifo"
        start_bg put --root "$DEV" $json "$fifo" /usr/data.bin
        exec 3>"$fifo"
        head -c 100000 "$IO/data.bin" >&3
        if wait_for "$USR"; then pass; else fail "put's temporary file should exist while it waits for input" "$(show_run)"; fi
        stop_bg $sig
        exec 3>&-
        expect_rc $want "put stopped by SIG$sig"
        expect_no_temp "$DEV"
        expect_fingerprint "$before" "$USR/data.bin" "the protected file keeps its old content"
        expect_err "stopped by SIG$sig"
        if [ -n "$json" ]; then
            py_expect "one JSON document with the signal's exit code" \
                'json.loads(open(OUT, "rb").read().decode("utf-8"))["exit_code"] == rc and report()["fsguard_json"] == 1 and "SIG" in report()["error"]'
        fi
        "$FSGUARD" verify --root "$DEV" >"$IO/verify.out" 2>&1
        expect_eq 0 $? "verify after the stopped put: nothing to do"
    done
done

# ---- boot restoring a big file ----

begin "boot restoring a big file, SIGTERM: exit 143, no temporary file, old or new state"
new_case
mkdir -p "$CASEDIR/src"
printf 'print(1)\n' >"$CASEDIR/src/main.py"
head -c $((384 << 20)) /dev/zero | tr '\0' 'z' >"$CASEDIR/src/big.bin"
make_device "$CASEDIR/src"
rm "$USR/big.bin"
start_bg boot --root "$DEV"
if wait_for "$USR"; then pass; else fail "boot's temporary file should exist while it restores" "$(show_run)"; fi
stop_bg TERM
expect_rc 143 "boot stopped by SIGTERM"
expect_no_temp "$DEV"
if [ ! -e "$USR/big.bin" ] || cmp -s "$USR/big.bin" "$BAK/usr/big.bin"; then
    pass
else
    fail "big.bin is neither absent (old state) nor restored (new state)" "$(ls -l "$USR/big.bin")"
fi
expect_err "stopped by SIGTERM"
expect_verify_settled "after the stopped boot"
"$FSGUARD" boot --root "$DEV" >"$IO/boot.out" 2>&1
rc=$?
if [ $rc = 0 ] || [ $rc = 1 ]; then pass; else fail "a boot after it repairs: exit $rc" "$(cat "$IO/boot.out")"; fi
expect_restored /usr/big.bin

# ---- fota apply of a big update ----

begin "fota apply of a big update, SIGINT: exit 130, no temporary file, nothing changed"
new_device
upd="$CASEDIR/update"
mkdir -p "$upd"
head -c $((384 << 20)) /dev/zero | tr '\0' 'u' >"$upd/data.bin"
printf 'print("new")\n' >"$upd/main.py"
before=$(fingerprint "$USR/data.bin")
start_bg fota apply --root "$DEV" --json "$upd"
if wait_for "$USR"; then pass; else fail "fota's staged file should be being written" "$(show_run)"; fi
stop_bg INT
expect_rc 130 "fota apply stopped by SIGINT"
expect_no_temp "$DEV"
expect_err "stopped by SIGINT"
py_expect "one JSON document with the signal's exit code" 'report()["exit_code"] == 130'
"$FSGUARD" boot --root "$DEV" >"$IO/boot.out" 2>&1
expect_eq 0 $? "a boot afterwards: the uncommitted update discarded, nothing damaged ($(head -c 300 "$IO/boot.out"))"
expect_fingerprint "$before" "$USR/data.bin" "data.bin keeps its old content"
left=$(find "$USR/.fsg-fota" ! -type d 2>/dev/null)
expect_eq "" "$left" "no staged file left after that boot"

# ---- pack of a big tree ----

begin "pack of a big tree, SIGINT: exit 130, no staging directory, no output"
pack_case
head -c $((384 << 20)) /dev/zero | tr '\0' 'p' >"$SRC/big.bin"
start_bg pack "$SRC" --out "$O"
if wait_for "$O.fsg-tmp/usr"; then pass; else fail "pack should be writing a file into its staging" "$(show_run)"; fi
stop_bg INT
expect_rc 130 "pack stopped by SIGINT"
expect_absent "$O.fsg-tmp" "the staging directory is removed"
expect_absent "$O" "no output appears"
expect_err "stopped by SIGINT"

finish
