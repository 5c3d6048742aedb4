# test_large.sh -- a table of 100,000 protected files in 100 directories:
# a clean boot exits 0 and writes nothing; with 10 damaged files boot exits
# 1 and restores exactly those. The device is generated directly (not with
# qpy_mkdevice.py, too slow for 200,000 copies) with the same formula.
. "$(dirname "$0")/lib.sh"

# The backup partition alone holds 100,000 files: the per-run watch keeps
# to metadata (inode, size, mtime, ctime), which any write changes.
WATCH_HASH=0
N=100000
START=$SECONDS

new_case
use_device "$CASEDIR/dev"
"$PYTHON" - "$DEV" "$N" <<'EOF'
import binascii, json, os, sys
dev, n = sys.argv[1], int(sys.argv[2])
usr, bak = os.path.join(dev, "usr"), os.path.join(dev, "bak")
entries = []
for d in range(100):
    for side in (usr, os.path.join(bak, "usr")):
        os.makedirs(os.path.join(side, "d%02d" % d), exist_ok=True)
for i in range(n):
    rel = "d%02d/f%06d.py" % (i % 100, i)
    data = b"x = %d\n" % i if i % 1000 else b""   # some empty files too
    for side in (usr, os.path.join(bak, "usr")):
        with open(os.path.join(side, rel), "wb") as f:
            f.write(data)
    entries.append({"name": "/usr/" + rel, "crc32": hex(binascii.crc32(data, 0xFFFFFFFF))})
text = json.dumps(entries)
for side in (usr, bak):
    with open(os.path.join(side, "checksum.json"), "w") as f:
        f.write(text)
with open(os.path.join(bak, "backup_restore.json"), "w") as f:
    f.write('{"enable": 1}')
EOF
echo "generated $N files in $((SECONDS - START)) s"

begin "$N files, clean: exit 0, nothing written"
snap_meta "$DEV" >"$IO/dev.before"
t0=$SECONDS
fsg boot --root "$DEV"
echo "boot took $((SECONDS - t0)) s"
expect_rc 0
expect_out "$N files checked: $N ok, 0 restored, 0 failed (exit 0)"
snap_meta "$DEV" >"$IO/dev.after"
if cmp -s "$IO/dev.before" "$IO/dev.after"; then pass; else
    fail "clean boot of $N files: something was written" "$(diff "$IO/dev.before" "$IO/dev.after" | head -20)"
fi

begin "$N files, 10 damaged: exit 1, exactly those restored"
DAMAGED="d07/f000007.py d13/f012313.py d99/f099999.py d00/f000000.py d42/f050042.py
d55/f077755.py d01/f000101.py d64/f000064.py d21/f030021.py d88/f099988.py"
rm "${USR:?}/d07/f000007.py" "${USR:?}/d13/f012313.py" "${USR:?}/d99/f099999.py"
flip_bit "$USR/d42/f050042.py" 4
flip_bit "$USR/d55/f077755.py" 0
echo 'grown' >>"$USR/d00/f000000.py"          # an empty protected file, no longer empty
truncate -s 2 "$USR/d01/f000101.py"
: >"$USR/d64/f000064.py"
printf 'x = 30022\n' >"$USR/d21/f030021.py"
echo 'y' >"$USR/d88/f099988.py"
t0=$SECONDS
fsg boot --root "$DEV" --json
echo "boot took $((SECONDS - t0)) s"
expect_rc 1
expect_json
py_expect "exactly the damaged files are restored" \
    'sorted(n for n, f in files().items() if f["status"] == "restored") == sorted("/usr/" + d for d in argv)' $DAMAGED
py_expect "every file listed once" "len(report()['files']) == $N and len(files()) == $N"
py_expect "totals" "report()['totals']['checked'] == $N and report()['totals']['ok'] == $N - 10 and report()['totals']['restored'] == 10"
for d in $DAMAGED; do
    expect_same "$USR/$d" "$BAK/usr/$d" "/usr/$d restored"
done

begin "$N files, after the repair: clean, nothing written"
snap_meta "$DEV" >"$IO/dev.before"
fsg boot --root "$DEV"
expect_rc 0
snap_meta "$DEV" >"$IO/dev.after"
if cmp -s "$IO/dev.before" "$IO/dev.after"; then pass; else
    fail "second boot: something was written" "$(diff "$IO/dev.before" "$IO/dev.after" | head -20)"
fi

begin "$N files, user table missing: copied, exit 1"
rm "${USR:?}/checksum.json" "${USR:?}/d50/f000050.py"
fsg boot --root "$DEV"
expect_rc 1
expect_out "$N files checked: $((N - 1)) ok, 1 restored, 0 failed"
expect_same "$USR/d50/f000050.py" "$BAK/usr/d50/f000050.py"

# Only printed: time is measured by make bench, in ratios against peers run
# beside it, never asserted by a test on a shared, noisy machine (this one
# failed a fresh-clone make test at 148 s under ASan with other work running).
echo "whole script: $((SECONDS - START)) s"

finish
