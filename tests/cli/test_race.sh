# test_race.sh -- symlink swaps racing the boot: while boots restore a file
# under usr/lib, another process keeps replacing usr/lib with a symbolic
# link to a directory outside the partition and back. The POSIX port walks
# every path from the partition's root with O_NOFOLLOW, so whatever the
# timing, nothing may be created or changed outside the partition.
. "$(dirname "$0")/lib.sh"

begin "a directory swapped for a symlink to outside, during 200 boots"
new_device
mkdir -p "$T/outside"
printf 'do not touch\n' >"$T/outside/keep.txt"
snap_to "$IO/outside.before" "$T/outside"
"$PYTHON" - "$USR" "$T/outside" "$IO/stop" <<'PY' &
import os, sys, time
usr, outside, stop = sys.argv[1:4]
lib, real = os.path.join(usr, "lib"), os.path.join(usr, "lib.real")
end = time.time() + 60
swaps = 0
while not os.path.exists(stop) and time.time() < end:
    try:
        os.rename(lib, real)
        os.symlink(outside, lib)
        time.sleep(0.0005)
        os.unlink(lib)
        os.rename(real, lib)
        swaps += 1
    except OSError:
        pass
open(stop + ".swaps", "w").write(str(swaps))
PY
swapper=$!
crashed=0
for i in $(seq 1 200); do
    [ -d "$USR/lib" ] && [ ! -L "$USR/lib" ] && rm -f "$USR/lib/util.py" 2>/dev/null
    "$FSGUARD" boot --root "$DEV" >/dev/null 2>&1
    rc=$?
    [ "$rc" -ge 16 ] || [ "$rc" -gt 128 ] && crashed=$((crashed + 1))
done
touch "$IO/stop"
wait "$swapper"
expect_eq 0 "$crashed" "no boot crashed or misbehaved (exit >= 16)"
swaps=$(cat "$IO/stop.swaps" 2>/dev/null || echo 0)
echo "    $swaps swaps raced the boots"
[ "$swaps" -gt 0 ] && pass || fail "the swapper never swapped: the race was not run"
expect_snap "$IO/outside.before" "$T/outside" "the directory outside the partition"
# Once the race is over, the device heals.
[ -L "$USR/lib" ] && rm "$USR/lib"
[ -d "$USR/lib.real" ] && [ ! -e "$USR/lib" ] && mv "$USR/lib.real" "$USR/lib"
fsg boot --root "$DEV"
fsg boot --root "$DEV"
expect_rc 0
expect_restored /usr/lib/util.py

finish
