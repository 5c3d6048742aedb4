# test_output.sh -- output that cannot be written is an error (exit 8), as
# GNU tools have it: stdout on a full device (/dev/full) or a pipe whose
# reader is gone (fsguard ignores SIGPIPE and reports EPIPE); and names
# shown to people never carry C1 controls or bidirectional overrides,
# marks and isolates to the terminal: they are escaped as \xNN.
. "$(dirname "$0")/lib.sh"

new_device
rm "$USR/main.py"

# ---- a full device ----

for args in "verify --root $DEV" "verify --root $DEV --json" "inspect --root $DEV" \
    "fota status --root $DEV --json" "calc --root $DEV /usr/lib/util.py" "--help" "boot --help"; do
    begin "fsguard $args >/dev/full: exit 8, the write error on stderr"
    # shellcheck disable=SC2086
    "$FSGUARD" $args >/dev/full 2>"$ERR"
    RC=$?
    LAST_ARGS="$args >/dev/full"
    : >"$OUT"
    expect_rc 8 "a write error on stdout"
    expect_err "write error on standard output"
done

begin "boot >/dev/full still repairs, then exits 8"
"$FSGUARD" boot --root "$DEV" >/dev/full 2>"$ERR"
RC=$?
expect_rc 8 "boot with stdout on /dev/full"
expect_restored /usr/main.py
rm "$USR/main.py"

# ---- a closed pipe ----

# closed_pipe ARGS...: runs fsguard with stdout on a pipe whose read end is
# closed, SIGPIPE at its default (fsguard must not die of it) or ignored.
cat >"$IO/closed_pipe.py" <<'EOF'
import os, signal, subprocess, sys
ignore = sys.argv[1] == "ignore"
r, w = os.pipe()
os.close(r)
def pre():
    signal.signal(signal.SIGPIPE, signal.SIG_IGN if ignore else signal.SIG_DFL)
err = open(os.environ["ERR_F"], "wb")
p = subprocess.run(sys.argv[2:], stdout=w, stderr=err, preexec_fn=pre)
print(p.returncode)
EOF
for mode in default ignore; do
    for args in "verify --root $DEV" "verify --root $DEV --json" "inspect --root $DEV --json"; do
        begin "fsguard $args | (reader gone), SIGPIPE $mode: exit 8"
        # shellcheck disable=SC2086
        RC=$(ERR_F="$ERR" "$PYTHON" "$IO/closed_pipe.py" $mode "$FSGUARD" $args)
        LAST_ARGS="$args | (closed)"
        : >"$OUT"
        expect_rc 8 "a write error on a closed pipe"
        expect_err "write error on standard output"
    done
done

# ---- names that would drive the terminal ----

begin "C1 controls and bidirectional controls in names are escaped in human output"
new_case
s="$CASEDIR/src"
printf 'print(1)\n' >"$s/main.py"
c1=$(printf 'a\302\205b\302\233c.py')                  # U+0085, U+009B (CSI)
rlo=$(printf 'invoice\342\200\256fdp.py')               # U+202E RIGHT-TO-LEFT OVERRIDE
iso=$(printf 'm\342\201\246n\330\234o\342\200\217p\342\200\216q\342\201\251r.py')   # U+2066, U+061C, U+200F, U+200E, U+2069
ok=$(printf 'caf\303\251.py')                           # é: printable, stays as it is
for n in "$c1" "$rlo" "$iso" "$ok"; do printf 'x\n' >"$s/$n"; done
make_device "$s"
for n in "$c1" "$rlo" "$iso" "$ok"; do rm "$USR/$n"; done
fsg boot --root "$DEV"
expect_rc 1 "boot restores the four files"
cat >"$IO/raw.py" <<'EOF'
import sys
data = open(sys.argv[1], "rb").read()
bad = [b"\xc2\x85", b"\xc2\x9b", b"\xe2\x80\xae", b"\xe2\x81\xa6", b"\xd8\x9c", b"\xe2\x80\x8f",
       b"\xe2\x80\x8e", b"\xe2\x81\xa9"]
found = [b.hex() for b in bad if b in data]
if found:
    sys.exit("raw control sequences on the output: " + " ".join(found))
for want in sys.argv[2:]:
    if want.encode() not in data:
        sys.exit("missing: " + want)
EOF
if msg=$("$PYTHON" "$IO/raw.py" "$OUT" 'a\xc2\x85b\xc2\x9bc.py' 'invoice\xe2\x80\xaefdp.py' \
    'm\xe2\x81\xa6n\xd8\x9co\xe2\x80\x8fp\xe2\x80\x8eq\xe2\x81\xa9r.py' "$ok" 2>&1); then
    pass
else
    fail "names escaped on stdout" "$msg" "$(show_run)"
fi
rm "$USR/$rlo"
fsg verify --root "$DEV"
if msg=$("$PYTHON" "$IO/raw.py" "$OUT" 'invoice\xe2\x80\xaefdp.py' 2>&1); then
    pass
else
    fail "verify escapes the name too" "$msg" "$(show_run)"
fi
begin "a host path with a bidirectional override is escaped in error messages"
fsg boot --root "$CASEDIR/$rlo"
expect_rc 8 "a partition that does not exist"
if msg=$("$PYTHON" "$IO/raw.py" "$ERR" 'invoice\xe2\x80\xaefdp.py/bak' 2>&1); then
    pass
else
    fail "the path escaped on stderr" "$msg" "$(show_run)"
fi
fsg verify --root "$DEV" --json
py_expect "JSON keeps the name as it is (machines are not terminals)" \
    'any(f["name"] == "/usr/invoice\u202efdp.py" for f in report()["files"])'

finish
