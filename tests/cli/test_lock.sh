# test_lock.sh -- fsguard commands running at once on one device, as real
# processes: every writer (boot, calc, put, fota apply) holds the device's
# lock exclusively for its whole run, every reader (verify, inspect, fota
# status) shares it, so that
#  - a put racing a boot, two puts on different files, two boots, never
#    undo a reported success, never fail for each other and leave a device
#    verify finds clean;
#  - a held lock (flock(1) on the user partition's directory, as the POSIX
#    port takes it) makes a command wait for --wait and then exit 8
#    "device busy", naming the holder, having changed nothing; it runs as
#    soon as the lock is free; a reader waits for a writer, shares with a
#    reader;
#  - the lock works on a read-only user partition (an unprivileged user),
#    through a user partition given as a symbolic link (the same lock as
#    its target), and a SIGKILLed holder leaves no stale lock.
. "$(dirname "$0")/lib.sh"
WATCH_HASH=0

# big_device MIB: the default tree and a MIB MiB protected file big.bin
# (a slow hash and a slow restore: a window for the races).
big_device() {
    new_case
    default_tree "$CASEDIR/src"
    head -c "$(($1 * 1048576))" /dev/urandom >"$CASEDIR/src/big.bin"
    make_device "$CASEDIR/src"
}

damage() {   # damage FILE: one byte changed in place
    printf 'Z' | dd of="$1" bs=1 seek=4096 conv=notrunc status=none
}

# verify_clean WHAT: fsguard verify finds nothing to do.
verify_clean() {
    fsg verify --root "$DEV" --wait 0
    expect_rc 0 "$1: verify afterwards is clean"
}

# is_locked: the user partition's directory is flocked by someone (flock(1)
# on a directory takes the same flock(2) the POSIX port takes).
is_locked() {
    ! flock -n -s "$USR" true
}

# hold MODE SECONDS: a process holds an flock(2) on the user partition's
# directory (what flock(1) takes) in MODE (-x or -s) for SECONDS in the
# background; HOLDER is its pid, the one process holding the lock (flock(1)
# would pass it on to its child, which a kill of flock(1) leaves holding).
# Returns once the lock is held.
hold() {
    rm -f "$IO/held"
    "$PYTHON" -c 'import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
fcntl.flock(fd, fcntl.LOCK_EX if sys.argv[2] == "-x" else fcntl.LOCK_SH)
open(sys.argv[3], "w").close()
time.sleep(float(sys.argv[4]))' "$USR" "$1" "$IO/held" "$2" >/dev/null 2>&1 &
    HOLDER=$!
    local i
    for i in $(seq 1 200); do
        [ -e "$IO/held" ] && return 0
        sleep 0.01
    done
    fail "flock did not take the lock"
}

now_ms() {
    date +%s%3N
}

ROUNDS=${LOCK_ROUNDS:-6}

begin "a put racing a boot that restores a 48 MiB file, $ROUNDS rounds"
big_device 48
for i in $(seq 1 "$ROUNDS"); do
    damage "$USR/big.bin"
    printf 'print("round %s")\n' "$i" >"$IO/new.py"
    "$FSGUARD" boot --root "$DEV" >"$IO/boot.out" 2>&1 &
    b=$!
    sleep "0.0$((i * 13 % 10))"
    "$FSGUARD" put --root "$DEV" "$IO/new.py" /usr/main.py >"$IO/put.out" 2>&1
    prc=$?
    wait "$b"
    brc=$?
    expect_eq 0 "$prc" "round $i: put succeeded ($(cat "$IO/put.out"))"
    expect_eq 1 "$brc" "round $i: boot repaired big.bin ($(tail -1 "$IO/boot.out"))"
    if cmp -s "$IO/new.py" "$USR/main.py"; then pass; else fail "round $i: put's content is not in place"; fi
    verify_clean "round $i"
    py_expect "round $i: main.py's hash recorded" \
        'man(USR + "/checksum.json")["/usr/main.py"] == crc(argv[0])' "$IO/new.py"
done

begin "two puts of 24 MiB files on different files at once, $ROUNDS rounds"
big_device 1
for i in $(seq 1 "$ROUNDS"); do
    head -c 25165824 /dev/urandom >"$IO/a.bin"
    head -c 25165824 /dev/urandom >"$IO/b.bin"
    "$FSGUARD" put --root "$DEV" "$IO/a.bin" /usr/data.bin >"$IO/a.out" 2>&1 &
    a=$!
    "$FSGUARD" put --root "$DEV" "$IO/b.bin" /usr/big.bin >"$IO/b.out" 2>&1
    brc=$?
    wait "$a"
    arc=$?
    expect_eq "0 0" "$arc $brc" "round $i: both puts succeeded ($(cat "$IO/a.out" "$IO/b.out"))"
    if cmp -s "$IO/a.bin" "$USR/data.bin" && cmp -s "$IO/b.bin" "$USR/big.bin"; then
        pass
    else
        fail "round $i: a put's content is not in place"
    fi
    verify_clean "round $i"
done

begin "two boots at once restoring a 48 MiB file, $ROUNDS rounds"
big_device 48
for i in $(seq 1 "$ROUNDS"); do
    damage "$USR/big.bin"
    rm -f "$USR/main.py"
    "$FSGUARD" boot --root "$DEV" >"$IO/b1.out" 2>&1 &
    b=$!
    "$FSGUARD" boot --root "$DEV" >"$IO/b2.out" 2>&1
    rc2=$?
    wait "$b"
    rc1=$?
    # One repairs (1), the other then finds nothing to do (0).
    expect_eq "0 1" "$(printf '%s\n' "$rc1" "$rc2" | sort | tr '\n' ' ' | sed 's/ $//')" \
        "round $i: one boot repaired, the other found it done ($(tail -1 "$IO/b1.out"); $(tail -1 "$IO/b2.out"))"
    verify_clean "round $i"
done

begin "a held lock: every command waits for --wait, then exits 8 device busy, changing nothing"
new_device
printf 'print("new")\n' >"$IO/new.py"
mkdir -p "$IO/upd"
printf 'print("update")\n' >"$IO/upd/main.py"
snap_to "$IO/usr.before" "$USR"
hold -x 20
t0=$(now_ms)
fsg put --root "$DEV" --wait 1 "$IO/new.py" /usr/main.py
t1=$(now_ms)
expect_rc 8 "put under a held lock"
expect_err "device busy"
expect_err "process $HOLDER holds its lock"
waited=$((t1 - t0))
[ "$waited" -ge 950 ] && [ "$waited" -lt 5000 ] && pass ||
    fail "put waited ${waited} ms for --wait 1"
t0=$(now_ms)
fsg boot --root "$DEV" --wait 0
t1=$(now_ms)
expect_rc 8 "boot --wait 0 under a held lock"
expect_err "device busy"
[ $((t1 - t0)) -lt 900 ] && pass || fail "--wait 0 waited $((t1 - t0)) ms"
for cmd in "calc --root $DEV /usr/main.py" "verify --root $DEV" "inspect --usr $USR" \
    "fota status --root $DEV" "fota apply --root $DEV $IO/upd"; do
    # shellcheck disable=SC2086
    fsg $cmd --wait 0.2
    expect_rc 8 "$cmd under a held lock"
    expect_err "device busy"
done
fsg boot --root "$DEV" --wait 0 --json
expect_rc 8 "boot --json under a held lock"
py_expect "the JSON report says exit 8" 'report()["exit_code"] == 8'
expect_err "device busy"
fsg inspect --usr "$USR" --wait 0 --json
py_expect "inspect's JSON names the error" \
    'report()["partitions"][0]["error"].startswith("device busy")'
expect_snap "$IO/usr.before" "$USR" "the user partition under a held lock"
kill "$HOLDER" 2>/dev/null
wait "$HOLDER" 2>/dev/null
fsg put --root "$DEV" --wait 0 "$IO/new.py" /usr/main.py
expect_rc 0 "put once the lock is free"

begin "a writer waits for the holder, then runs"
new_device
printf 'print("after the wait")\n' >"$IO/new.py"
hold -x 1.5
t0=$(now_ms)
fsg put --root "$DEV" --wait 20 "$IO/new.py" /usr/main.py
t1=$(now_ms)
expect_rc 0 "put after waiting"
[ $((t1 - t0)) -ge 1000 ] && pass || fail "put did not wait for the holder ($((t1 - t0)) ms)"
cmp -s "$IO/new.py" "$USR/main.py" && pass || fail "put's content is not in place"
wait "$HOLDER"
verify_clean "after the wait"

begin "a reader waits for a writer, and shares with a reader"
new_device
hold -x 1.5
t0=$(now_ms)
fsg verify --root "$DEV" --wait 20
t1=$(now_ms)
expect_rc 0 "verify after waiting"
[ $((t1 - t0)) -ge 1000 ] && pass || fail "verify did not wait for the writer ($((t1 - t0)) ms)"
wait "$HOLDER"
hold -s 20
fsg verify --root "$DEV" --wait 0
expect_rc 0 "verify beside a shared holder, at once"
fsg inspect --usr "$USR" --wait 0
expect_rc 0 "inspect beside a shared holder, at once"
fsg calc --root "$DEV" --wait 0 /usr/main.py
expect_rc 8 "calc (a writer) beside a shared holder"
expect_err "device busy"
kill "$HOLDER" 2>/dev/null
wait "$HOLDER" 2>/dev/null

begin "a slow fsguard writer keeps a reader out while it runs"
big_device 48
damage "$USR/big.bin"
"$FSGUARD" boot --root "$DEV" >"$IO/boot.out" 2>&1 &
b=$!
# It holds the lock from its first step: a reader that does not wait is
# turned away while it runs, one that waits gets a clean device.
busy=0
for _ in $(seq 1 100); do
    "$FSGUARD" verify --root "$DEV" --wait 0 >/dev/null 2>"$IO/v.err"
    [ $? = 8 ] && grep -q "device busy" "$IO/v.err" && busy=1 && break
    kill -0 "$b" 2>/dev/null || break
done
"$FSGUARD" verify --root "$DEV" --wait 30 >/dev/null 2>&1
vrc=$?
wait "$b"
expect_eq 1 "$busy" "a verify during the boot found the device busy"
expect_eq 0 "$vrc" "a verify that waited found the device repaired"

begin "the lock on a read-only user partition, as an unprivileged user"
if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null; then
    echo "    (skipped: needs root and setpriv to become nobody)"
    pass
else
    new_device
    chmod a+rx "$T" "$CASEDIR" "$DEV"
    chmod -R a-w "$USR"
    nob() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$FSGUARD" "$@"; }
    nob verify --root "$DEV" --wait 0 >"$OUT" 2>"$ERR"
    RC=$?
    expect_rc 0 "verify as nobody on a read-only user partition"
    nob inspect --usr "$USR" --wait 0 >"$OUT" 2>"$ERR"
    RC=$?
    expect_rc 0 "inspect as nobody on a read-only user partition"
    hold -x 20
    nob verify --root "$DEV" --wait 0.3 >"$OUT" 2>"$ERR"
    RC=$?
    expect_rc 8 "verify as nobody while root holds the lock"
    expect_err "device busy"
    kill "$HOLDER" 2>/dev/null
    wait "$HOLDER" 2>/dev/null
    hold -s 20
    nob verify --root "$DEV" --wait 0 >"$OUT" 2>"$ERR"
    RC=$?
    expect_rc 0 "verify as nobody beside a shared holder"
    kill "$HOLDER" 2>/dev/null
    wait "$HOLDER" 2>/dev/null
    chmod -R u+w "$USR"
    chmod go-rx "$T"
fi

begin "a user partition given as a symbolic link: the lock of its target, no lock file"
new_device
ln -s "$USR" "$CASEDIR/usr-link"
snap_to "$IO/usr.before" "$USR"
hold -x 20
fsg verify --usr "$CASEDIR/usr-link" --bak "$BAK" --wait 0
expect_rc 8 "verify through the link while the target is locked"
expect_err "device busy"
kill "$HOLDER" 2>/dev/null
wait "$HOLDER" 2>/dev/null
fsg verify --usr "$CASEDIR/usr-link" --bak "$BAK" --wait 0
expect_rc 0 "verify through the link once the lock is free"
fsg boot --usr "$CASEDIR/usr-link" --bak "$BAK" --wait 0
expect_rc 0 "boot through the link"
[ -L "$CASEDIR/usr-link" ] && pass || fail "the link was replaced"
expect_snap "$IO/usr.before" "$USR" "the user partition (no lock file or anything else)"

begin "a SIGKILLed holder leaves no stale lock"
big_device 48
head -c 50331648 /dev/urandom >"$IO/big.new"
"$FSGUARD" put --root "$DEV" "$IO/big.new" /usr/big.bin >/dev/null 2>&1 &
p=$!
held=0
for _ in $(seq 1 400); do
    is_locked && held=1 && break
    sleep 0.005
done
kill -9 "$p" 2>/dev/null
wait "$p" 2>/dev/null
expect_eq 1 "$held" "the put held the lock while it ran"
fsg boot --root "$DEV" --wait 0
[ "$RC" = 0 ] || [ "$RC" = 1 ] && pass || fail "boot after the kill: exit $RC" "$(show_run)"
verify_clean "after the kill"
if is_locked; then fail "a lock is left"; else pass; fi

begin "--wait takes seconds from 0 to 86400"
new_device
for bad in -1 abc 1x "" 86401 inf nan; do
    fsg verify --root "$DEV" --wait "$bad"
    expect_rc 16 "--wait '$bad'"
done
fsg verify --root "$DEV" --wait 0.5
expect_rc 0 "--wait 0.5"
fsg inspect --usr "$USR" --wait 3
expect_rc 0 "inspect --wait 3"

finish
