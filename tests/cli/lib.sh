# lib.sh -- shared helpers of the end-to-end CLI tests (sourced by test_*.sh).
# Each test builds devices from small trees with scripts/qpy_mkdevice.py (the
# independent oracle), runs the fsguard binary through `fsg`, and checks the
# outcome with the expect_* helpers, which say what failed: expected vs actual.
#
# Environment (set by CTest): FSGUARD (the binary), PYTHON, FSG_SOURCE_DIR.
#
# Every `fsg` run also proves that nothing outside the current device's user
# partition changed (see watch_state): the whole scratch directory (other
# devices, the backup partition, the sentinels in $OUTSIDE and beside each
# device) is listed before and after the run with inode numbers and
# nanosecond mtimes/ctimes, so even a rewrite with the same content is
# caught, and the sentinels' contents are hashed.

set -u -o pipefail
export LC_ALL=C

FSG_SOURCE_DIR=${FSG_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
PYTHON=${PYTHON:-python3}
# The interpreter itself, not a launcher shim: it runs hundreds of times.
PYTHON=$("$PYTHON" -c 'import sys; print(sys.executable)') || {
    echo "lib.sh: cannot run python ($PYTHON)" >&2
    exit 2
}
if [ -z "${FSGUARD:-}" ]; then
    for c in "$FSG_SOURCE_DIR"/build-cli/fsguard "$FSG_SOURCE_DIR"/build/fsguard; do
        [ -x "$c" ] && FSGUARD=$c && break
    done
fi
if [ -z "${FSGUARD:-}" ] || [ ! -x "$FSGUARD" ]; then
    echo "lib.sh: set FSGUARD to the built fsguard binary" >&2
    exit 2
fi
MKDEVICE="$FSG_SOURCE_DIR/scripts/qpy_mkdevice.py"
QPYCHECK="$FSG_SOURCE_DIR/scripts/qpy_check.py"

PASS=0
FAIL=0
CASE="(none)"
T=$(mktemp -d "${TMPDIR:-/tmp}/fsguard-cli.XXXXXXXX") || exit 2
IO="$T/.io"            # fsguard's captured stdout/stderr; never watched
OUTSIDE="$T/outside"   # sentinels no run may ever touch
mkdir -p "$IO" "$OUTSIDE/dir"
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM

printf 'sentinel: must never change\n' >"$OUTSIDE/secret.txt"
printf 'print("outside")\n' >"$OUTSIDE/dir/main.py"
printf 'outside x\n' >"$OUTSIDE/x"

# The Python side of py_expect and write_manifest.
cat >"$IO/py_expect.py" <<'EOF'
import binascii, json, os, sys
OUT, ERR = os.environ["OUT_F"], os.environ["ERR_F"]
USR, BAK = os.environ["USR_DIR"], os.environ["BAK_DIR"]
rc = int(os.environ["RC_V"])
def raw(p):
    with open(p, "rb") as fh:
        return json.loads(fh.read().decode("utf-8"))
def report():
    return raw(OUT)
def files():
    return {f["name"]: f for f in report()["files"]}
def man(p):
    return {e["name"]: int(e["crc32"], 16) for e in raw(p)}
def crc(p):
    with open(p, "rb") as fh:
        return binascii.crc32(fh.read(), 0xFFFFFFFF)
def hexcrc(p):
    return hex(crc(p))
if sys.argv[1] == "--write":
    v = eval("(\n" + sys.argv[3] + "\n)")
    with open(sys.argv[2], "w") as fh:
        fh.write(v if isinstance(v, str) else json.dumps(v))
    sys.exit(0)
expr, argv = sys.argv[1], sys.argv[2:]
try:
    ok = eval("(\n" + expr + "\n)")
except Exception as e:
    print("evaluating it raised %s: %s" % (type(e).__name__, e))
    sys.exit(1)
if not ok:
    if " == " in expr:
        a, b = expr.split(" == ", 1)
        try:
            print("left:  %r" % (eval("(\n" + a + "\n)"),))
            print("right: %r" % (eval("(\n" + b + "\n)"),))
        except Exception:
            pass
    sys.exit(1)
EOF

OUT="$IO/stdout"
ERR="$IO/stderr"
RC=0
DEV=""
USR=""
BAK=""
WATCH_HASH=${WATCH_HASH:-1}  # 0: see watch_state (large trees)
NCASE=0

# ---- reporting ----

# begin DESCRIPTION: names the case that the following assertions belong to.
begin() {
    CASE=$1
    echo "--- $CASE"
}

pass() {
    PASS=$((PASS + 1))
}

# fail WHAT [DETAIL...]: records a failed assertion, printing what and why.
fail() {
    FAIL=$((FAIL + 1))
    echo "FAIL [$CASE]: $1"
    shift
    local arg
    for arg in "$@"; do
        printf '%s\n' "$arg" | sed 's/^/    /'
    done
}

# Prints the last run's command line, output and error output (after a failure).
show_run() {
    echo "command: fsguard ${LAST_ARGS:-}"
    echo "exit code: $RC"
    if [ -s "$OUT" ]; then
        echo "stdout:"
        head -c 4000 "$OUT" | sed 's/^/  | /'
    fi
    if [ -s "$ERR" ]; then
        echo "stderr:"
        head -c 4000 "$ERR" | sed 's/^/  | /'
    fi
}

# finish: the tally line; the script's exit status says whether all passed.
finish() {
    echo "$PASS passed, $FAIL failed"
    [ "$FAIL" -eq 0 ] && [ "$PASS" -gt 0 ]
    exit $?
}

# ---- snapshots ----

# snap_meta DIR [PRUNE...]: one line per entry below DIR: relative path,
# type, inode, size, mode, mtime and ctime in ns, link target. Entries under
# a PRUNE path (absolute) are left out.
snap_meta() {
    local dir=$1
    shift
    local prune=() p
    for p in "$@"; do
        prune+=(-path "$p" -prune -o)
    done
    find "$dir" "${prune[@]}" -printf '%P\t%y\ti=%i\ts=%s\tm=%m\tmt=%T@\tct=%C@\t->%l\n' | sort
}

# snap_hashes DIR [PRUNE...]: the sha256 of every regular file below DIR.
snap_hashes() {
    local dir=$1
    shift
    local prune=() p
    for p in "$@"; do
        prune+=(-path "$p" -prune -o)
    done
    find "$dir" "${prune[@]}" -type f -print0 | sort -z | xargs -0 -r sha256sum |
        sed "s#  $dir/#  #"
}

# snap DIR [PRUNE...]: metadata and content of everything below DIR.
snap() {
    snap_meta "$@"
    snap_hashes "$@"
}

# snap_to FILE DIR [PRUNE...]
snap_to() {
    local f=$1
    shift
    snap "$@" >"$f"
}

# expect_snap SNAPFILE DIR WHAT [PRUNE...]: DIR is exactly as in SNAPFILE.
expect_snap() {
    local f=$1 dir=$2 what=$3
    shift 3
    local now="$IO/snap.now"
    snap "$dir" "$@" >"$now"
    if cmp -s "$f" "$now"; then
        pass
    else
        local d
        d=$(diff "$f" "$now" | head -40)
        fail "$what: something was written (before < > after)" "$d"
    fi
}

# ---- running fsguard ----

# watch_state: what fsg compares around each run: the metadata of the whole
# scratch dir except the current user partition, and the content of every
# file in $OUTSIDE and in the current case directory (except, again, its
# user partition). WATCH_HASH=0 leaves out the case directory's content.
watch_state() {
    snap_meta "$T" "$IO" ${USR:+"$USR"}
    snap_hashes "$OUTSIDE"
    if [ -n "$DEV" ] && [ "$WATCH_HASH" = 1 ]; then
        snap_hashes "$(dirname "$DEV")" "$USR"
    fi
}

# fsg ARGS...: runs fsguard; RC, $OUT and $ERR hold the result. Asserts that
# nothing outside $USR changed (see watch_state) and that the process did
# not crash (signal, sanitizer report).
fsg() {
    LAST_ARGS="$*"
    watch_state >"$IO/watch.before"
    "$FSGUARD" "$@" >"$OUT" 2>"$ERR"
    RC=$?
    if [ "$RC" -ge 126 ] || grep -qE 'AddressSanitizer|runtime error:|LeakSanitizer' "$ERR"; then
        fail "fsguard crashed or a sanitizer complained" "$(show_run)"
    fi
    watch_state >"$IO/watch.after"
    if cmp -s "$IO/watch.before" "$IO/watch.after"; then
        pass
    else
        fail "fsguard $1: something outside ${USR:-the user partition} changed (before < > after)" \
            "$(diff "$IO/watch.before" "$IO/watch.after" | head -40)" "$(show_run)"
    fi
}

# as_nobody_setup NAME: for a test that runs fsguard as an unprivileged
# user (root reads and writes every file whatever its mode): needs root and
# setpriv (util-linux), or the test NAME fails saying so. Sets NOBODY and
# NOGROUP, REAL (the binary) and $IO/as_nobody, which runs it as nobody
# (set FSGUARD=$IO/as_nobody to use it through fsg).
as_nobody_setup() {
    command -v setpriv >/dev/null || { echo "$1: setpriv (util-linux) is needed"; exit 1; }
    [ "$(id -u)" = 0 ] || { echo "$1: must run as root (to become another user)"; exit 1; }
    NOBODY=$(id -u nobody) NOGROUP=$(id -g nobody)
    chmod 755 "$T"
    REAL=$FSGUARD
    cat >"$IO/as_nobody" <<EOF
#!/bin/sh
exec setpriv --reuid=$NOBODY --regid=$NOGROUP --clear-groups "$REAL" "\$@"
EOF
    chmod 755 "$IO/as_nobody"
}

# ---- devices ----

# new_case: a fresh case directory, $CASEDIR, with an empty src/ tree and
# sentinels beside where the device will go (dev/).
new_case() {
    NCASE=$((NCASE + 1))
    CASEDIR="$T/case$NCASE"
    mkdir -p "$CASEDIR/src"
    printf 'case sentinel\n' >"$CASEDIR/sentinel"
    printf 'beside usr\n' >"$CASEDIR/outside.txt"
}

# default_tree SRC: a small project: scripts, configs, a nested directory,
# an empty file and a binary file larger than fsguard's 64 KiB buffer.
default_tree() {
    local s=$1
    mkdir -p "$s/lib/deep/x" "$s/cfg"
    printf 'import utime\nprint("hello")\n' >"$s/main.py"
    printf '{"apn": "cmnet", "user": "", "pwd": ""}\n' >"$s/cfg/apn_cfg.json"
    printf '{"volume": 7, "server": "mqtt.example.com:1883"}\n' >"$s/system_config.json"
    printf 'def f():\n    return 42\n' >"$s/lib/util.py"
    printf 'deep file\n' >"$s/lib/deep/x/y.txt"
    : >"$s/empty.txt"
    if [ ! -f "$IO/data.bin" ]; then
        "$PYTHON" -c 'import sys, random
r = random.Random(7)
sys.stdout.buffer.write(bytes(r.getrandbits(8) for _ in range(150000)))' >"$IO/data.bin"
    fi
    cp "$IO/data.bin" "$s/data.bin"
}

# use_device DIR: makes DIR (holding usr/ and bak/) the current device.
use_device() {
    DEV=$1
    USR="$DEV/usr"
    BAK="$DEV/bak"
}

# make_device SRC [--disable]: builds a device from SRC next to it with
# qpy_mkdevice.py and makes it current.
make_device() {
    local src=$1
    shift
    local d
    d="$(dirname "$src")/dev"
    if ! "$PYTHON" "$MKDEVICE" "$src" "$d" "$@" >"$IO/mk.out" 2>&1; then
        echo "lib.sh: qpy_mkdevice.py failed:" >&2
        cat "$IO/mk.out" >&2
        exit 2
    fi
    use_device "$d"
}

# new_device [--disable]: a device built from the default tree; current.
new_device() {
    new_case
    default_tree "$CASEDIR/src"
    make_device "$CASEDIR/src" "$@"
}

# ---- pack cases (test_pack.sh, test_sign.sh) ----

# pack_case: a fresh case: $SRC holds the default tree, $PO is the only
# directory pack may write to, $O=$PO/out is where it builds; the current
# device (USR, BAK for py_expect and qpy_accepts) is $O.
pack_case() {
    new_case
    SRC="$CASEDIR/src"
    PO="$CASEDIR/o"
    O="$PO/out"
    mkdir -p "$PO"
    default_tree "$SRC"
    use_device "$O"
}

# pk ARGS...: runs `fsguard pack ARGS` through fsg, which asserts that
# nothing but $PO changed (metadata of the whole scratch dir, content of the
# case dir: SRC included); then asserts no staging or set-aside directory
# is left in $PO.
pk() {
    local d=$DEV
    DEV="$CASEDIR/dev" USR="$PO" # watch: all but $PO
    fsg pack "$@"
    use_device "$d"
    local left
    left=$(find "$PO" -maxdepth 1 \( -name '*.fsg-tmp' -o -name '*.fsg-old' \) 2>/dev/null)
    if [ -z "$left" ]; then pass; else fail "pack left a staging directory behind" "$left" "$(show_run)"; fi
}

# The protected files of the default tree, as device names.
DEFAULT_NAMES="/usr/cfg/apn_cfg.json /usr/data.bin /usr/empty.txt /usr/lib/deep/x/y.txt /usr/lib/util.py /usr/main.py /usr/system_config.json"

# write_manifest FILE PYTHON-EXPR: writes FILE as json.dumps(EXPR), or EXPR
# itself when it is a str. In scope: the helpers of py_expect, e.g.
# hexcrc(path) (QuecPython's hash string of a file), raw(path), USR, BAK.
write_manifest() {
    OUT_F="$OUT" ERR_F="$ERR" USR_DIR="$USR" BAK_DIR="$BAK" RC_V="$RC" \
        "$PYTHON" "$IO/py_expect.py" --write "$1" "$2" || {
        echo "lib.sh: write_manifest $1 failed (test bug)" >&2
        exit 2
    }
}

# ---- damage ----

flip_bit() {   # flip_bit FILE [OFFSET]: flips the lowest bit of one byte
    "$PYTHON" - "$1" "${2:-0}" <<'EOF'
import sys
p, off = sys.argv[1], int(sys.argv[2])
b = bytearray(open(p, "rb").read())
b[off] ^= 1
open(p, "wb").write(b)
EOF
}

truncate_half() {   # truncate_half FILE
    local n
    n=$(stat -c %s "$1")
    truncate -s $((n / 2)) "$1"
}

# ---- assertions ----

# expect_rc N [WHAT]: the last run exited with N.
expect_rc() {
    local want=$1 what=${2:-exit code}
    if [ "$RC" = "$want" ]; then
        pass
    else
        fail "$what: expected exit code $want, got $RC" "$(show_run)"
    fi
}

# expect_out TEXT / expect_err TEXT: the last run's stdout / stderr contains
# TEXT (a fixed string).
expect_out() {
    if grep -qF -- "$1" "$OUT"; then pass; else fail "stdout should contain: $1" "$(show_run)"; fi
}
expect_err() {
    if grep -qF -- "$1" "$ERR"; then pass; else fail "stderr should contain: $1" "$(show_run)"; fi
}
expect_no_out() {
    if grep -qF -- "$1" "$OUT"; then fail "stdout should not contain: $1" "$(show_run)"; else pass; fi
}
expect_no_err() {
    if grep -qF -- "$1" "$ERR"; then fail "stderr should not contain: $1" "$(show_run)"; else pass; fi
}
# expect_out_line TEXT... / expect_err_line TEXT...: one line of stdout /
# stderr contains every TEXT (fixed strings), e.g. a verdict and a path.
_has_line() {
    local f=$1 line s ok
    shift
    while IFS= read -r line || [ -n "$line" ]; do
        ok=1
        for s in "$@"; do
            [[ $line == *"$s"* ]] || { ok=0; break; }
        done
        [ $ok = 1 ] && return 0
    done <"$f"
    return 1
}
expect_out_line() {
    if _has_line "$OUT" "$@"; then pass; else fail "a stdout line should contain all of: $*" "$(show_run)"; fi
}
expect_err_line() {
    if _has_line "$ERR" "$@"; then pass; else fail "a stderr line should contain all of: $*" "$(show_run)"; fi
}
expect_empty_out() {
    if [ -s "$OUT" ]; then fail "stdout should be empty" "$(show_run)"; else pass; fi
}
expect_empty_err() {
    if [ -s "$ERR" ]; then fail "stderr should be empty" "$(show_run)"; else pass; fi
}

# expect_same FILE1 FILE2 [WHAT]: both are regular files with the same bytes.
expect_same() {
    local a=$1 b=$2 what=${3:-"$1 equals $2"}
    if [ -L "$a" ] || [ ! -f "$a" ]; then
        fail "$what: $a is not a regular file" "$(ls -ld "$a" 2>&1)"
    elif [ -L "$b" ] || [ ! -f "$b" ]; then
        fail "$what: $b is not a regular file" "$(ls -ld "$b" 2>&1)"
    elif cmp -s "$a" "$b"; then
        pass
    else
        fail "$what: contents differ" "$(cmp "$a" "$b" 2>&1)" \
            "sizes: $(stat -c %s "$a") vs $(stat -c %s "$b")"
    fi
}

# expect_restored NAME...: each /usr/NAME is a regular file byte-identical
# to its backup copy.
expect_restored() {
    local n
    for n in "$@"; do
        expect_same "$USR/${n#/usr/}" "$BAK/usr/${n#/usr/}" "$n restored byte-identical to the backup"
    done
}

# fingerprint FILE: what "unchanged" means for one file: sha256, inode,
# size, mtime and ctime (or "absent").
fingerprint() {
    if [ -e "$1" ] || [ -L "$1" ]; then
        stat -c 'type=%F i=%i s=%s mt=%.9Y ct=%.9Z' "$1"
        [ -f "$1" ] && sha256sum <"$1"
    else
        echo absent
    fi
}

# expect_fingerprint SAVED FILE [WHAT]: FILE is as when fingerprint printed SAVED.
expect_fingerprint() {
    local saved=$1 f=$2 what=${3:-"$2 unchanged"}
    local now
    now=$(fingerprint "$f")
    if [ "$saved" = "$now" ]; then
        pass
    else
        fail "$what: file changed" "before: $(echo "$saved" | tr '\n' ' ')" \
            "after:  $(echo "$now" | tr '\n' ' ')"
    fi
}

# expect_absent PATH [WHAT] / expect_exists PATH [WHAT]
expect_absent() {
    if [ -e "$1" ] || [ -L "$1" ]; then fail "${2:-$1 should not exist}" "$(ls -ld "$1")"; else pass; fi
}
expect_exists() {
    if [ -e "$1" ] || [ -L "$1" ]; then pass; else fail "${2:-$1 should exist}"; fi
}

# expect_eq EXPECTED ACTUAL WHAT
expect_eq() {
    if [ "$1" = "$2" ]; then pass; else fail "$3" "expected: $1" "actual:   $2"; fi
}

# py_expect WHAT EXPR [ARG...]: a Python expression over the current device
# must be true. In scope: OUT/ERR (paths), USR/BAK, rc, argv (ARGs),
# report() (stdout as JSON), files() (report's files by name), man(path)
# (a checksum.json as {name: int}), raw(path) (parsed JSON), crc(path)
# (QuecPython's hash of a file as int). On failure, prints the values of
# the expression's parts when it is "A == B".
py_expect() {
    local what=$1 expr=$2
    shift 2
    local msg
    if msg=$(OUT_F="$OUT" ERR_F="$ERR" USR_DIR="$USR" BAK_DIR="$BAK" RC_V="$RC" \
        "$PYTHON" "$IO/py_expect.py" "$expr" "$@" 2>&1); then
        pass
    else
        fail "$what: $expr" "$msg" "$(show_run)"
    fi
}

# expect_json: stdout is one valid JSON document whose exit_code equals RC.
expect_json() {
    py_expect "stdout is valid JSON with exit_code = process exit code" \
        'report()["exit_code"] == rc'
}

# qpy_accepts: QuecPython's own rules (scripts/qpy_check.py) accept the device.
qpy_accepts() {
    local o
    if o=$("$PYTHON" "$QPYCHECK" "$USR" "$BAK" 2>&1); then
        pass
    else
        fail "${1:-the QuecPython reader (qpy_check.py) should accept the device}" "$o"
    fi
}
