# test_pack.sh -- `fsguard pack SRC --out OUT`: the factory step. The built
# device is checked file by file against SRC and against hashes computed
# here in Python (QuecPython's formula), read by QuecPython's own rules
# (qpy_check.py), and booted by fsguard without a write. Selection globs,
# --list, size limits, refusals (nothing written, no staging left), --force,
# determinism, an interrupted pack, --json and the progress bar.
. "$(dirname "$0")/lib.sh"

# ---- helpers ----

# The independent check of a packed device: pack_check.py SRC OUT ENABLE
# PROTECTED... (relative names, or ALL). Prints every problem; exit 1 if any.
cat >"$IO/pack_check.py" <<'EOF'
import binascii, json, os, sys
src, out, enable = sys.argv[1], sys.argv[2], int(sys.argv[3])
prot = sys.argv[4:]
probs = []
def tree(d):
    files, dirs, other = set(), set(), []
    for root, ds, fs in os.walk(d):
        for n in ds:
            p = os.path.join(root, n)
            rel = os.path.relpath(p, d)
            if os.path.islink(p): other.append(rel)
            else: dirs.add(rel)
        for n in fs:
            p = os.path.join(root, n)
            rel = os.path.relpath(p, d)
            if os.path.islink(p) or not os.path.isfile(p): other.append(rel)
            else: files.add(rel)
    return files, dirs, other
def data(p):
    with open(p, "rb") as f:
        return f.read()
sfiles, sdirs, _ = tree(src)
if prot == ["ALL"]:
    prot = set(sfiles)
else:
    prot = set(prot)
    if not prot <= sfiles: probs.append("test bug: protected names not in SRC: %r" % (prot - sfiles))
usr, bak = os.path.join(out, "usr"), os.path.join(out, "bak")
ufiles, udirs, uother = tree(usr)
bfiles, bdirs, bother = tree(bak)
if uother or bother: probs.append("not regular files in OUT: %r %r" % (uother, bother))
if ufiles != sfiles | {"checksum.json"}:
    probs.append("OUT/usr files: missing %r, extra %r" % (sorted(sfiles | {"checksum.json"} - ufiles), sorted(ufiles - sfiles - {"checksum.json"})))
if not sdirs <= udirs: probs.append("directories of SRC missing in OUT/usr: %r" % sorted(sdirs - udirs))
want_b = {"checksum.json", "backup_restore.json"} | {"usr/" + p for p in prot}
if bfiles != want_b:
    probs.append("OUT/bak files: missing %r, extra %r" % (sorted(want_b - bfiles), sorted(bfiles - want_b)))
for p in sorted(sfiles):
    d = data(os.path.join(src, p))
    if p in ufiles and data(os.path.join(usr, p)) != d: probs.append("OUT/usr/%s differs from SRC" % p)
    if "usr/" + p in bfiles and data(os.path.join(bak, "usr", p)) != d: probs.append("OUT/bak/usr/%s differs from SRC" % p)
try:
    ub, bb = data(os.path.join(usr, "checksum.json")), data(os.path.join(bak, "checksum.json"))
    if ub != bb: probs.append("OUT/usr/checksum.json and OUT/bak/checksum.json differ")
    table = json.loads(bb.decode("utf-8"))
    if not isinstance(table, list): raise ValueError("not a list")
    names = [e["name"] for e in table]
    if names != sorted(names): probs.append("entries not sorted by name: %r" % names)
    if any(sorted(e.keys()) != ["crc32", "name"] for e in table): probs.append("entries with other keys: %r" % table)
    want = {"/usr/" + p: hex(binascii.crc32(data(os.path.join(src, p)), 0xFFFFFFFF)) for p in prot}
    got = {e["name"]: e["crc32"] for e in table}
    if len(got) != len(table): probs.append("duplicate names in checksum.json")
    if got != want:
        probs.append("checksum.json differs from python's binascii.crc32(data, 0xFFFFFFFF):")
        for n in sorted(set(got) | set(want)):
            if got.get(n) != want.get(n): probs.append("  %s: fsguard %s, python %s" % (n, got.get(n), want.get(n)))
    sw = json.loads(data(os.path.join(bak, "backup_restore.json")).decode("utf-8"))
    if sw != {"enable": enable}: probs.append("backup_restore.json is %r, expected %r" % (sw, {"enable": enable}))
except Exception as e:
    probs.append("reading the JSON files failed: %s: %s" % (type(e).__name__, e))
print("\n".join(probs))
sys.exit(1 if probs else 0)
EOF

# expect_device ENABLE PROTECTED...: $O is exactly SRC packed with PROTECTED
# (relative names, or ALL) protected, as computed independently.
expect_device() {
    local enable=$1 o
    shift
    if o=$("$PYTHON" "$IO/pack_check.py" "$SRC" "$O" "$enable" "$@" 2>&1); then
        pass
    else
        fail "the packed device is not SRC packed as asked (protected: $*)" "$o"
    fi
    qpy_accepts "QuecPython's reader (qpy_check.py) should accept the packed device"
}

# expect_refused TEXT...: exit 8, a stderr line with every TEXT, OUT not created.
expect_refused() {
    expect_rc 8
    [ $# -gt 0 ] && expect_err_line "$@"
    expect_absent "$O" "a refused pack must not create OUT ($O)"
    expect_absent "$O.fsg-tmp" "a refused pack must not leave OUT.fsg-tmp"
}

# boot_clean: fsguard boot on the packed device exits 0 and writes nothing.
boot_clean() {
    snap_to "$IO/dev.before" "$O"
    fsg boot --usr "$O/usr" --bak "$O/bak"
    expect_rc 0 "boot on the packed device"
    expect_snap "$IO/dev.before" "$O" "boot on a freshly packed device"
}

# tree_sig DIR: every entry's path, type, size and mode, and every file's sha256.
tree_sig() {
    (cd "$1" && find . -mindepth 1 -printf '%P %y %s %m\n' | sort &&
        find . -type f -print0 | sort -z | xargs -0 -r sha256sum)
}

# expect_same_tree A B WHAT: diff -r and per-file sha256 agree.
expect_same_tree() {
    local d
    if d=$(diff -r "$1" "$2" 2>&1); then pass; else fail "$3: diff -r $1 $2" "$(echo "$d" | head -20)"; fi
    if [ "$(tree_sig "$1")" = "$(tree_sig "$2")" ]; then pass; else
        fail "$3: per-file sha256/sizes differ" "$(diff <(tree_sig "$1") <(tree_sig "$2") | head -20)"
    fi
}

# Extra names worth packing: non-ASCII, spaces, quotes (JSON escaping),
# names that sort differently by byte, a nested checksum.json and
# backup_restore.json (only the root ones are reserved), an empty directory.
rich_tree() {
    local s=$1
    mkdir -p "$s/配置" "$s/a" "$s/cfg" "$s/empty dir"
    printf '{"k": "值"}\n' >"$s/配置/设置.json"
    printf 'spaces\n' >"$s/with space.txt"
    printf 'quote\n' >"$s/say \"hi\".txt"
    printf '1\n' >"$s/a-b"
    printf '2\n' >"$s/a.b"
    printf '3\n' >"$s/a/b"
    printf 'B\n' >"$s/B.py"
    printf '[{"name": "/usr/x", "crc32": "0x1"}]\n' >"$s/cfg/checksum.json"
    printf '{"enable": 0}\n' >"$s/cfg/backup_restore.json"
    printf 'semicolon;and,comma\n' >"$s/odd;name,1.txt"
    printf 'SECRET=1\n' >"$s/.env"
}

# ---- building ----

begin "pack the default tree: exit 0, every file byte-identical, hashes as QuecPython computes them"
pack_case
rich_tree "$SRC"
pk "$SRC" --out "$O"
expect_rc 0
expect_empty_err
expect_out "files"
expect_out_line "$O/usr"
expect_out_line "$O/bak"
expect_out "enabled"
expect_device 1 ALL
py_expect "checksum.json parses to the same name->value map as an independent computation" \
    'man(BAK + "/checksum.json") == {"/usr/" + os.path.relpath(os.path.join(r, f), argv[0]): crc(os.path.join(r, f)) for r, ds, fs in os.walk(argv[0]) for f in fs}' "$SRC"
py_expect "the user checksum.json holds the same map" 'man(USR + "/checksum.json") == man(BAK + "/checksum.json")'
py_expect "entries sorted by name (byte order)" \
    '[e["name"] for e in raw(BAK + "/checksum.json")] == sorted((e["name"] for e in raw(BAK + "/checksum.json")), key=lambda n: n.encode())'
py_expect "hash strings are hex() of the value: 0x, lowercase, no padding" \
    'all(e["crc32"] == hex(int(e["crc32"], 16)) for e in raw(BAK + "/checksum.json"))'
py_expect "backup_restore.json is {\"enable\": 1}" 'raw(BAK + "/backup_restore.json") == {"enable": 1}'
py_expect "a dot file is packed and protected like any other" '"/usr/.env" in man(USR + "/checksum.json")'
py_expect "a name with quotes survives JSON escaping" '"/usr/say \"hi\".txt" in man(USR + "/checksum.json")'
py_expect "a non-ASCII name is stored as UTF-8 text" '"/usr/配置/设置.json" in man(USR + "/checksum.json")'
py_expect "the nested cfg/checksum.json is an ordinary protected file" '"/usr/cfg/checksum.json" in man(USR + "/checksum.json")'
expect_exists "$O/usr/empty dir" "an empty directory of SRC is created in OUT/usr"
"$PYTHON" "$MKDEVICE" "$SRC" "$CASEDIR/ref" >/dev/null
py_expect "same map as the independent builder qpy_mkdevice.py" 'man(BAK + "/checksum.json") == man(argv[0] + "/bak/checksum.json")' "$CASEDIR/ref"
if d=$(diff -r -x checksum.json -x backup_restore.json -x 'empty dir' "$CASEDIR/ref/usr" "$O/usr" && diff -r -x checksum.json -x backup_restore.json "$CASEDIR/ref/bak" "$O/bak"); then
    pass
else
    fail "layout differs from qpy_mkdevice.py's" "$d"
fi

begin "boot on the packed device: exit 0, nothing written; verify and inspect agree"
boot_clean
fsg verify --usr "$O/usr" --bak "$O/bak"
expect_rc 0 "verify on the packed device"
fsg inspect --root "$O"
expect_rc 0 "inspect on the packed device"
expect_snap "$IO/dev.before" "$O" "verify and inspect"

begin "--disable: backup_restore.json is {\"enable\": 0}"
pack_case
pk "$SRC" --out "$O" --disable
expect_rc 0
expect_out "disabled"
expect_device 0 ALL
py_expect "enable is 0" 'raw(BAK + "/backup_restore.json") == {"enable": 0}'
boot_clean

begin "a flat SRC (no subdirectories) packs"
pack_case
rm -rf "${SRC:?}/lib" "${SRC:?}/cfg"
pk "$SRC" --out "$O"
expect_rc 0
expect_device 1 ALL
boot_clean

begin "an empty SRC packs to an empty table"
pack_case
rm -rf "${SRC:?}"/*
pk "$SRC" --out "$O"
expect_rc 0
expect_device 1 ALL
py_expect "empty table" 'raw(BAK + "/checksum.json") == []'

begin "the source and output paths may be relative"
pack_case
cd "$CASEDIR" || exit 2
pk src --out o/out
expect_rc 0
cd - >/dev/null || exit 2
pk "$SRC" --out "$PO/abs"   # (the same tree to compare with)
expect_same_tree "$O" "$PO/abs" "relative vs absolute paths"

# ---- determinism ----

begin "determinism: the same SRC gives byte-identical trees (fresh OUT, new mtimes, copied SRC)"
pack_case
rich_tree "$SRC"
pk "$SRC" --out "$PO/out1"
expect_rc 0
pk "$SRC" --out "$PO/out2"
expect_rc 0
expect_same_tree "$PO/out1" "$PO/out2" "packed twice"
find "$SRC" -exec touch -h -d '2001-02-03 04:05:06' {} +
pk "$SRC" --out "$PO/out3"
expect_rc 0
expect_same_tree "$PO/out1" "$PO/out3" "packed after touching every file of SRC"
# A copy elsewhere, created in the reverse order (other inodes, other
# directory order), under another name.
mkdir "$CASEDIR/elsewhere"
(cd "$SRC" && find . -mindepth 1 -type d | sort -r | while IFS= read -r d; do mkdir -p "$CASEDIR/elsewhere/$d"; done)
(cd "$SRC" && find . -type f | sort -r | while IFS= read -r f; do cp "$f" "$CASEDIR/elsewhere/$f"; done)
pk "$CASEDIR/elsewhere" --out "$PO/out4"
expect_rc 0
expect_same_tree "$PO/out1" "$PO/out4" "packed from a copy of SRC in another place"
pk "$SRC" --out "$PO/out5" --include '**/*.py' --disable
pk "$CASEDIR/elsewhere" --out "$PO/out6" --include '**/*.py' --disable
expect_same_tree "$PO/out5" "$PO/out6" "with options"

# ---- selection: --include, --exclude, --list ----

glob_tree() {
    local s=$1
    rm -rf "${s:?}"/*
    mkdir -p "$s/cfg" "$s/lib/deep"
    for f in main.py x.py boot.py xa.py a.json b.json c.json d.json notes.txt cfg/x.py \
        cfg/apn.json lib/x.py lib/ab.py lib/deep/x.py lib/deep/y.txt; do
        printf 'content of %s\n' "$f" >"$s/$f"
    done
}
ALL_GLOB="a.json b.json boot.py c.json cfg/apn.json cfg/x.py d.json lib/ab.py lib/deep/x.py lib/deep/y.txt lib/x.py main.py notes.txt x.py xa.py"

# sel_case "PROTECTED" ARGS...: pack the glob tree with ARGS; exactly
# PROTECTED (relative names, space-separated) are protected.
sel_case() {
    local want=$1
    shift
    begin "selection $*: protects {$want}"
    pack_case
    glob_tree "$SRC"
    pk "$SRC" --out "$O" --json "$@"
    expect_rc 0
    # shellcheck disable=SC2086
    expect_device 1 $want
    # shellcheck disable=SC2086
    py_expect "--json marks exactly those as protected" \
        'sorted(f["name"] for f in report()["files"] if f["protected"]) == sorted("/usr/" + n for n in argv)' $want
    py_expect "--json lists every file" 'len(report()["files"]) == 15'
}

sel_case "boot.py main.py x.py xa.py" --include '*.py'
sel_case "boot.py main.py x.py xa.py" --include '/usr/*.py'
sel_case "x.py" --include '*x.py'
sel_case "x.py" --include 'x.py'
sel_case "cfg/x.py lib/deep/x.py lib/x.py x.py" --include '**/x.py'
sel_case "cfg/x.py lib/deep/x.py lib/x.py x.py" --include '/usr/**/x.py'
sel_case "lib/ab.py lib/deep/x.py lib/deep/y.txt lib/x.py" --include 'lib/**'
sel_case "lib/deep/x.py lib/x.py" --include 'lib/**/x.py'
sel_case "lib/deep/x.py" --include 'lib/*/x.py'
sel_case "lib/deep/x.py lib/deep/y.txt" --include '**/deep/**'
sel_case "lib/deep/x.py lib/deep/y.txt" --include '/usr/lib/deep/*'
sel_case "a.json b.json c.json d.json" --include '?.json'
sel_case "xa.py" --include 'x?.py'
sel_case "" --include 'cfg?x.py'
sel_case "a.json b.json c.json" --include '[a-c].json'
sel_case "b.json c.json d.json" --include '[!a].json'
sel_case "d.json" --include '[!a-c].json'
sel_case "a.json b.json boot.py c.json d.json main.py notes.txt x.py xa.py" --include '*'
sel_case "$ALL_GLOB" --include '**'
sel_case "$ALL_GLOB" --include '/usr/**'
sel_case "a.json b.json c.json d.json lib/ab.py lib/x.py" --include '*.json' --include 'lib/*.py'
sel_case "a.json b.json boot.py c.json cfg/apn.json cfg/x.py d.json lib/ab.py lib/deep/x.py lib/x.py main.py x.py xa.py" --exclude '**/*.txt'
sel_case "a.json b.json boot.py c.json d.json lib/ab.py lib/deep/x.py lib/deep/y.txt lib/x.py main.py notes.txt x.py xa.py" --exclude '/usr/cfg/*'
sel_case "boot.py cfg/x.py main.py x.py xa.py" --include '**/*.py' --exclude 'lib/**'
sel_case "" --include 'main.py' --exclude 'main.py'
sel_case "" --exclude 'lib/**' --include 'lib/x.py'
sel_case "" --include '/bak/**'

begin "--list: /usr/ names, relative names, blank lines, comments, CRLF"
pack_case
glob_tree "$SRC"
printf '# the factory list\n/usr/main.py\n\nlib/x.py\n   cfg/apn.json  \nlib/deep/y.txt\r\n   # indented comment\n\n' >"$CASEDIR/list.txt"
pk "$SRC" --out "$O" --list "$CASEDIR/list.txt"
expect_rc 0
expect_device 1 main.py lib/x.py cfg/apn.json lib/deep/y.txt
py_expect "unprotected files are in OUT/usr but not in OUT/bak nor in checksum.json" \
    'os.path.isfile(USR + "/notes.txt") and not os.path.exists(BAK + "/usr/notes.txt") and "/usr/notes.txt" not in man(USR + "/checksum.json")'
boot_clean

begin "--list with --include: the union"
pack_case
glob_tree "$SRC"
printf 'main.py\n' >"$CASEDIR/list.txt"
pk "$SRC" --out "$O" --list "$CASEDIR/list.txt" --include '?.json'
expect_rc 0
expect_device 1 main.py a.json b.json c.json d.json

begin "--list with --exclude: exclude applies to listed names too"
pack_case
glob_tree "$SRC"
printf 'main.py\nlib/x.py\ncfg/apn.json\n' >"$CASEDIR/list.txt"
pk "$SRC" --out "$O" --list "$CASEDIR/list.txt" --exclude 'lib/**'
expect_rc 0
expect_device 1 main.py cfg/apn.json

begin "--list holding only comments protects nothing"
pack_case
glob_tree "$SRC"
printf '# nothing yet\n\n' >"$CASEDIR/list.txt"
pk "$SRC" --out "$O" --list "$CASEDIR/list.txt"
expect_rc 0
expect_device 1

begin "--list naming files not in SRC: exit 8, each named, OUT not created"
pack_case
glob_tree "$SRC"
printf 'main.py\n/usr/nothere.py\nlib/gone.py\n' >"$CASEDIR/list.txt"
pk "$SRC" --out "$O" --list "$CASEDIR/list.txt"
expect_refused "/usr/nothere.py" "not a file"
expect_err_line "/usr/lib/gone.py" "not a file"
expect_err "list.txt"

begin "--list naming a directory: exit 8"
pack_case
glob_tree "$SRC"
printf 'lib\n' >"$CASEDIR/list.txt"
pk "$SRC" --out "$O" --list "$CASEDIR/list.txt"
expect_refused "/usr/lib"

for bad in /etc/passwd ../x.py 'lib/../main.py' '/usr/checksum.json'; do
    begin "--list with the name '$bad': exit 8, the line named"
    pack_case
    printf 'main.py\n%s\n' "$bad" >"$CASEDIR/list.txt"
    pk "$SRC" --out "$O" --list "$CASEDIR/list.txt"
    expect_refused "list.txt" "$bad"
done

begin "--list of a file that does not exist: exit 8"
pack_case
pk "$SRC" --out "$O" --list "$CASEDIR/no-such-list.txt"
expect_refused "no-such-list.txt"

# ---- size limits ----

begin "size limits: exactly the content fits; one byte less is refused with both sizes"
pack_case
pk "$SRC" --out "$PO/sized" --json
expect_rc 0
U=$(find "$PO/sized/usr" -type f -printf '%s\n' | awk '{s += $1} END {print s}')
B=$(find "$PO/sized/bak" -type f -printf '%s\n' | awk '{s += $1} END {print s}')
py_expect "--json totals are the partitions' content in bytes" \
    'report()["totals"]["usr_bytes"] == int(argv[0]) and report()["totals"]["bak_bytes"] == int(argv[1])' "$U" "$B"
pk "$SRC" --out "$O" --usr-size "$U" --bak-size "$B"
expect_rc 0 "--usr-size $U --bak-size $B (exactly the content)"
expect_device 1 ALL
rm -rf "${O:?}"
pk "$SRC" --out "$O" --usr-size $((U - 1))
expect_refused "$U" "$((U - 1))" "--usr-size"
expect_no_err "--bak-size"
pk "$SRC" --out "$O" --bak-size $((B - 1))
expect_refused "$B" "$((B - 1))" "--bak-size"
expect_no_err "--usr-size"
pk "$SRC" --out "$O" --usr-size $((U - 1)) --bak-size $((B - 1))
expect_refused "$U" "$((U - 1))" "--usr-size"
expect_err_line "$B" "$((B - 1))" "--bak-size"
pk "$SRC" --out "$O" --usr-size $((U - 1)) --json
expect_refused
expect_json

begin "size limits with suffixes: K and M are powers of 1024"
pack_case
pk "$SRC" --out "$O" --usr-size 1M --bak-size 1024K
expect_rc 0
expect_device 1 ALL
rm -rf "${O:?}"
pk "$SRC" --out "$O" --bak-size 1K
expect_refused "1024" "--bak-size"
pk "$SRC" --out "$O" --usr-size 1G --bak-size 1g
expect_rc 0

for bad in 0 -1 12X "" 1.5M K " 12" 0x100 99999999999999999999 18014398509481984K; do
    begin "--usr-size '$bad' / --bak-size '$bad': usage error, exit 16"
    pack_case
    pk "$SRC" --out "$O" --usr-size "$bad"
    expect_rc 16
    expect_err "Try 'fsguard pack --help'"
    expect_empty_out
    expect_absent "$O"
    rm -rf "${O:?}"
    pk "$SRC" --out "$O" --bak-size "$bad"
    expect_rc 16
    expect_absent "$O"
done

# ---- refusals ----

# refusal "CASE" TEXT...: pack $SRC (prepared by the caller) is refused
# with a line holding every TEXT; again with --json.
refusal() {
    pk "$SRC" --out "$O"
    expect_refused "$@"
    expect_empty_out
    expect_err "nothing written"
    pk "$SRC" --out "$O" --json
    expect_refused
    expect_json
    py_expect "--json lists the refused entry" 'len(report()["refused"]) >= 1 and all(r["path"] and r["reason"] for r in report()["refused"])'
}

begin "refused: a symbolic link to a file"
pack_case
ln -s main.py "$SRC/link.py"
refusal "link.py" "symbolic link"

begin "refused: a symbolic link to a directory"
pack_case
ln -s lib "$SRC/liblink"
refusal "liblink" "symbolic link"

begin "refused: a dangling symbolic link, and one pointing outside"
pack_case
ln -s /nonexistent "$SRC/lib/dangling"
refusal "lib/dangling" "symbolic link"
pack_case
ln -s "$OUTSIDE/secret.txt" "$SRC/secret.txt"
refusal "secret.txt" "symbolic link"

begin "refused: a FIFO"
pack_case
mkfifo "$SRC/cfg/fifo"
refusal "cfg/fifo" "FIFO"

begin "refused: a unix socket"
pack_case
"$PYTHON" -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$SRC/lib/sock"
refusal "lib/sock" "socket"

begin "refused: checksum.json at the root of SRC"
pack_case
echo '[]' >"$SRC/checksum.json"
refusal "checksum.json" "reserved"

begin "refused: backup_restore.json at the root of SRC"
pack_case
echo '{"enable": 1}' >"$SRC/backup_restore.json"
refusal "backup_restore.json" "reserved"

begin "refused: a name with a control character (shown escaped)"
pack_case
printf 'x\n' >"$SRC/lib/a$(printf '\001')b.py"
refusal 'lib/a\x01b.py' "control character"
if grep -q "$(printf '\001')" "$ERR"; then fail "the raw control character reached stderr" "$(show_run)"; else pass; fi

begin "refused: a name with an escape sequence (terminal safety)"
pack_case
printf 'x\n' >"$SRC/evil$(printf '\033')[31m.py"
refusal 'evil\x1b[31m.py' "control character"
if grep -q "$(printf '\033')" "$ERR"; then fail "a raw ESC reached stderr" "$(show_run)"; else pass; fi

begin "refused: a name that is not UTF-8"
pack_case
printf 'x\n' >"$SRC/bad$(printf '\377').py"
refusal 'bad\xff.py' "UTF-8"

begin "refused: a directory whose name is not UTF-8"
pack_case
mkdir "$SRC/dir$(printf '\376')"
printf 'x\n' >"$SRC/dir$(printf '\376')/f.py"
refusal 'dir\xfe' "UTF-8"

begin "refused: a name with a backslash"
pack_case
printf 'x\n' >"$SRC/a\\b.py"
refusal 'a\b.py' "backslash"

begin "refused: a 250-byte name component"
pack_case
long=$(printf 'n%.0s' $(seq 1 250))
printf 'x\n' >"$SRC/lib/$long"
refusal "lib/$long" "too long"

begin "refused: a whole name longer than 512 bytes"
pack_case
c200=$(printf 'd%.0s' $(seq 1 200))
mkdir -p "$SRC/$c200/$c200"
printf 'x\n' >"$SRC/$c200/$c200/$c200.py"
refusal "$c200.py" "too long"

begin "refused: a name fsguard uses for its temporary files"
pack_case
printf 'x\n' >"$SRC/lib/.util.py.fsg-tmp"
refusal "lib/.util.py.fsg-tmp" "reserved"

begin "accepted: a 240-byte component (the limit)"
pack_case
c240=$(printf 'k%.0s' $(seq 1 240))
printf 'x\n' >"$SRC/lib/$c240"
pk "$SRC" --out "$O"
expect_rc 0
expect_device 1 ALL

begin "several bad entries are reported together"
pack_case
ln -s main.py "$SRC/link.py"
mkfifo "$SRC/fifo"
echo '[]' >"$SRC/checksum.json"
printf 'x\n' >"$SRC/lib/bad$(printf '\377')"
pk "$SRC" --out "$O"
expect_refused "link.py" "symbolic link"
expect_err_line "fifo" "FIFO"
expect_err_line "checksum.json" "reserved"
expect_err_line 'lib/bad\xff' "UTF-8"
expect_err "4 entries"
pk "$SRC" --out "$O" --json
expect_refused
expect_json
py_expect "--json lists all four" 'sorted(r["path"] for r in report()["refused"]) == ["checksum.json", "fifo", "lib/bad\udcff", "link.py"]'

begin "refused: an existing non-empty OUT without --force; OUT untouched"
pack_case
mkdir -p "$O/usr"
echo 'old' >"$O/usr/stale.py"
echo 'keep' >"$O/notes"
snap_to "$IO/out.before" "$O"
pk "$SRC" --out "$O"
expect_rc 8
expect_err_line "$O" "--force"
expect_snap "$IO/out.before" "$O" "refused pack over a non-empty OUT"
pk "$SRC" --out "$O" --json
expect_rc 8
expect_snap "$IO/out.before" "$O" "refused pack over a non-empty OUT (--json)"
expect_json

begin "refused: OUT exists and is a regular file; it is untouched"
pack_case
echo 'a file' >"$O"
fp=$(fingerprint "$O")
pk "$SRC" --out "$O"
expect_rc 8
expect_err_line "$O" "not a directory"
expect_fingerprint "$fp" "$O"
pk "$SRC" --out "$O" --force
expect_rc 8
expect_fingerprint "$fp" "$O" "OUT, a regular file, with --force"

begin "refused: OUT is a symbolic link to an empty directory"
pack_case
mkdir "$PO/target"
ln -s target "$O"
pk "$SRC" --out "$O"
expect_rc 8
expect_err_line "$O" "symbolic link"
py_expect "the link and its target unchanged" 'os.readlink(argv[0]) == "target" and os.listdir(argv[1]) == []' "$O" "$PO/target"

begin "refused: OUT inside SRC (nothing written into SRC)"
pack_case
O_SAVE=$O
pk "$SRC" --out "$SRC/out"
expect_rc 8
expect_err "OUT must be outside SRC"
expect_absent "$SRC/out"
expect_absent "$SRC/out.fsg-tmp"
pk "$SRC" --out "$SRC/lib/deep/out" --force
expect_rc 8
expect_absent "$SRC/lib/deep/out"
pk "$SRC" --out "$SRC" --force
expect_rc 8
expect_err "the same directory"
ln -s "$SRC" "$PO/srclink"
pk "$SRC" --out "$PO/srclink/out"
expect_rc 8
expect_absent "$SRC/out" "OUT inside SRC through a symbolic link"
rm "$PO/srclink"
O=$O_SAVE

begin "refused: SRC inside OUT, even with --force (SRC is not deleted)"
pack_case
mkdir -p "$O"
mv "$SRC" "$O/src"
SRC="$O/src"
snap_to "$IO/out.before" "$O"
pk "$SRC" --out "$O" --force
expect_rc 8
expect_err "SRC must be outside OUT"
expect_snap "$IO/out.before" "$O" "SRC inside OUT, --force"
pk "$SRC/lib" --out "$O" --force
expect_rc 8
expect_snap "$IO/out.before" "$O" "SRC deep inside OUT, --force"

begin "refused: SRC missing, or not a directory"
pack_case
pk "$CASEDIR/nope" --out "$O"
expect_refused "$CASEDIR/nope"
pk "$SRC/main.py" --out "$O"
expect_refused "$SRC/main.py" "not a directory"
pk "$SRC" --out "$CASEDIR/no/such/dir/out"
expect_rc 8
expect_absent "$CASEDIR/no"

begin "a refused pack with --force leaves the old OUT complete"
pack_case
pk "$SRC" --out "$O"
expect_rc 0
tree_sig "$O" >"$IO/old.sig"
snap_to "$IO/out.before" "$O"
ln -s main.py "$SRC/link.py"
pk "$SRC" --out "$O" --force
expect_rc 8
expect_snap "$IO/out.before" "$O" "refused --force pack"
rm "$SRC/link.py"
pk "$SRC" --out "$O" --force --usr-size 10
expect_rc 8
expect_snap "$IO/out.before" "$O" "--force pack refused for size"

# ---- --force and empty OUT ----

begin "--force replaces a non-empty OUT completely"
pack_case
pk "$SRC" --out "$PO/ref"
mkdir -p "$O/usr/old" "$O/bak/usr" "$O/other"
echo 'stale' >"$O/usr/old/stale.py"
echo 'stale' >"$O/usr/main.py"
echo 'stale' >"$O/bak/usr/gone.py"
echo 'stale' >"$O/other/x"
echo '[]' >"$O/bak/checksum.json"
pk "$SRC" --out "$O" --force
expect_rc 0
expect_device 1 ALL
expect_same_tree "$PO/ref" "$O" "--force output equals a fresh pack"
expect_absent "$O/other" "old stray files are gone"
boot_clean

begin "--force over a previous pack with another selection"
pack_case
pk "$SRC" --out "$O"
expect_rc 0
pk "$SRC" --out "$O" --force --include 'lib/**' --disable
expect_rc 0
expect_device 0 lib/util.py lib/deep/x/y.txt

begin "an existing empty OUT is used without --force"
pack_case
mkdir "$O"
pk "$SRC" --out "$O"
expect_rc 0
expect_device 1 ALL
begin "--force when OUT does not exist"
pack_case
pk "$SRC" --out "$O" --force
expect_rc 0
expect_device 1 ALL

# ---- --json ----

begin "--json: files with name, size, crc32, protected; totals; exit_code"
pack_case
glob_tree "$SRC"
pk "$SRC" --out "$O" --json --exclude 'lib/**'
expect_rc 0
expect_json
py_expect "files: every file of SRC, sorted, with size and QuecPython's hash" \
    '[(f["name"], f["size"], f["crc32"]) for f in report()["files"]] == sorted(("/usr/" + os.path.relpath(os.path.join(r, n), argv[0]), os.path.getsize(os.path.join(r, n)), hex(crc(os.path.join(r, n)))) for r, ds, fs in os.walk(argv[0]) for n in fs)' "$SRC"
py_expect "protected flags" 'all(f["protected"] == (not f["name"].startswith("/usr/lib/")) for f in report()["files"])'
py_expect "totals: files and protected" 'report()["totals"]["files"] == 15 and report()["totals"]["protected"] == 11'
py_expect "totals: bytes" \
    'report()["totals"]["usr_bytes"] == sum(os.path.getsize(os.path.join(r, n)) for r, ds, fs in os.walk(USR) for n in fs) and report()["totals"]["bak_bytes"] == sum(os.path.getsize(os.path.join(r, n)) for r, ds, fs in os.walk(BAK) for n in fs)'
py_expect "no refusals, enable true" 'report()["refused"] == [] and report()["enable"] is True'
expect_empty_err

for args in "--list $CASEDIR/missing.lst" "--usr-size 1" ; do
    begin "--json on a refusal ($args): valid JSON, exit_code 8"
    pack_case
    # shellcheck disable=SC2086
    pk "$SRC" --out "$O" --json $args
    expect_refused
    expect_json
done
begin "--json on a refusal (SRC missing): valid JSON, exit_code 8"
pack_case
pk "$CASEDIR/nope" --out "$O" --json
expect_refused
expect_json
begin "--json on a refusal (listed name not in SRC): valid JSON, exit_code 8"
printf 'nothere.py\n' >"$CASEDIR/list.txt"
pk "$SRC" --out "$O" --json --list "$CASEDIR/list.txt"
expect_refused
expect_json

# ---- usage ----

begin "usage errors: exit 16, nothing written"
pack_case
for args in "" "$SRC" "--out $O" "$SRC $SRC --out $O" "$SRC --out" "$SRC --out $O --bogus" \
    "$SRC --out $O --include" "$SRC --out $O --list"; do
    # shellcheck disable=SC2086
    pk $args
    expect_rc 16 "pack $args"
    expect_err "Try 'fsguard pack --help'"
    expect_absent "$O"
done
pk "$SRC" --out ""
expect_rc 16 "--out ''"
pk --help
expect_rc 0
expect_out "Usage: fsguard pack"

# ---- large trees: progress bar, interrupted pack ----

# big_tree DIR: 64 MiB across 8 files in a subdirectory, and small files.
big_tree() {
    mkdir -p "$1/data" "$1/cfg"
    "$PYTHON" - "$1" <<'EOF'
import os, random, sys
r = random.Random(11)
for i in range(8):
    with open(os.path.join(sys.argv[1], "data", "blob%d.bin" % i), "wb") as f:
        f.write(r.randbytes(8 << 20))
EOF
    printf 'print("big")\n' >"$1/main.py"
    printf '{"a": 1}\n' >"$1/cfg/a.json"
}

# tty_run ERRFILE CMD...: runs CMD with stderr on a pseudo-terminal (its
# output saved in ERRFILE) and stdout into $OUT; returns CMD's status.
cat >"$IO/tty_run.py" <<'EOF'
import os, subprocess, sys
err, out, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
m, s = os.openpty()
with open(out, "wb") as fo:
    p = subprocess.Popen(argv, stdout=fo, stderr=s, stdin=subprocess.DEVNULL)
os.close(s)
data = b""
while True:
    try:
        chunk = os.read(m, 65536)
    except OSError:
        break
    if not chunk:
        break
    data += chunk
rc = p.wait()
with open(err, "wb") as fe:
    fe.write(data)
sys.exit(rc)
EOF
tty_run() {
    "$PYTHON" "$IO/tty_run.py" "$@"
}

WATCH_HASH=0
begin "progress: shown on a terminal for a large tree, on stderr only"
new_case
PO="$CASEDIR/o"
mkdir -p "$PO"
BIG="$CASEDIR/big"
big_tree "$BIG"
tty_run "$IO/tty.err" "$OUT" "$FSGUARD" pack "$BIG" --out "$PO/p1"
RC=$?
cp "$IO/tty.err" "$ERR"
LAST_ARGS="pack $BIG --out $PO/p1 (stderr on a terminal)"
expect_rc 0
expect_err "packing:"
expect_err "%"
expect_no_out "packing:"
expect_out "files"
begin "progress: not shown when stderr is not a terminal"
pk "$BIG" --out "$PO/p2"
expect_rc 0
expect_empty_err
expect_same_tree "$PO/p1" "$PO/p2" "pack on a terminal vs not"
begin "progress: not shown on a terminal for a small tree"
SMALL="$CASEDIR/small"
mkdir -p "$SMALL"
default_tree "$SMALL"
tty_run "$IO/tty.err" "$OUT" "$FSGUARD" pack "$SMALL" --out "$PO/p3"
RC=$?
cp "$IO/tty.err" "$ERR"
LAST_ARGS="pack $SMALL --out $PO/p3 (stderr on a terminal)"
expect_rc 0
expect_no_err "packing:"
begin "progress: --json on a terminal: stdout stays pure JSON"
tty_run "$IO/tty.err" "$OUT" "$FSGUARD" pack "$BIG" --out "$PO/p4" --json
RC=$?
cp "$IO/tty.err" "$ERR"
expect_rc 0
expect_json
rm -rf "${PO:?}/p1" "${PO:?}/p3" "${PO:?}/p4"

begin "interrupted pack (kill -9): OUT absent or complete, never partial; a new pack cleans up"
REF="$PO/p2"              # the complete new output
OLD="$PO/old"             # a complete old output, from the small tree
"$FSGUARD" pack "$SMALL" --out "$OLD" >/dev/null
tree_sig "$REF" >"$IO/new.sig"
tree_sig "$OLD" >"$IO/old.sig"
t0=$(date +%s%N)
"$FSGUARD" pack "$BIG" --out "$PO/timing" >/dev/null
dur=$((($(date +%s%N) - t0) / 1000))   # microseconds
rm -rf "${PO:?}/timing"
echo "a full pack of 64 MiB takes $dur us"
killed=0 staged=0 states=""
for frac in 1 5 10 20 30 40 50 60 70 80 90 95 100; do
    for mode in fresh force; do
        rm -rf "${PO:?}/out" "${PO:?}/out.fsg-tmp" "${PO:?}/out.fsg-tmp.mark" "${PO:?}/out.fsg-old"
        args=()
        if [ $mode = force ]; then
            cp -a "$OLD" "$PO/out"
            args=(--force)
        fi
        "$FSGUARD" pack "$BIG" --out "$PO/out" "${args[@]}" >/dev/null 2>&1 &
        pid=$!
        sleep "$(awk -v d="$dur" -v f="$frac" 'BEGIN {printf "%.6f", d * f / 100 / 1e6}')"
        kill -9 "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        st=$?
        [ $st = 137 ] && killed=$((killed + 1))
        [ -e "$PO/out.fsg-tmp" ] && staged=$((staged + 1))
        state=absent
        if [ -e "$PO/out" ]; then
            sig=$(tree_sig "$PO/out")
            if [ "$sig" = "$(cat "$IO/new.sig")" ]; then
                state=new
            elif [ $mode = force ] && [ "$sig" = "$(cat "$IO/old.sig")" ]; then
                state=old
            else
                state=partial
            fi
        fi
        states="$states $mode@$frac%:$state"
        if [ $state = partial ]; then
            fail "kill -9 at ${frac}% ($mode, exit $st) left a partial OUT" \
                "$(diff "$IO/new.sig" <(echo "$sig") | head -10)"
        else
            pass
        fi
        [ $mode = fresh ] && [ $state = old ] && fail "impossible state"
        # A fresh pack succeeds and removes what the killed one left.
        "$FSGUARD" pack "$BIG" --out "$PO/out" --force >"$OUT" 2>"$ERR"
        RC=$?
        LAST_ARGS="pack $BIG --out $PO/out --force (after kill -9 at ${frac}%, $mode: $state)"
        expect_rc 0
        if [ "$(tree_sig "$PO/out")" = "$(cat "$IO/new.sig")" ]; then pass; else
            fail "after the kill at ${frac}% ($mode), a new pack did not give the complete tree"
        fi
        expect_absent "$PO/out.fsg-tmp" "the stale staging directory is removed"
        expect_absent "$PO/out.fsg-tmp.mark" "the staging mark is removed"
        expect_absent "$PO/out.fsg-old" "the set-aside old output is removed"
    done
done
echo "killed mid-run: $killed of 26; staging left behind by the kill: $staged"
echo "states after the kill:$states"
if [ $killed -ge 4 ]; then pass; else
    fail "the interrupt test did not interrupt: only $killed kills hit a running pack"
fi
rm -rf "${CASEDIR:?}"

finish
