# test_compat.sh -- QuecPython's formats: tables as QuecPython writes them are
# accepted as they are; what fsguard writes is read back by QuecPython's own
# rules (scripts/qpy_check.py) and by Python's json with the same values;
# hashes are QuecPython's crc32(data, 0xFFFFFFFF), written as hex().
. "$(dirname "$0")/lib.sh"

begin "a device exactly as QuecPython's factory tool builds it: clean, nothing written"
new_device
py_expect "ujson style table" 'open(USR + "/checksum.json").read().startswith("[{\"name\": \"/usr/")'
qpy_accepts
snap_to "$IO/dev.before" "$DEV"
fsg boot --root "$DEV"
expect_rc 0
expect_snap "$IO/dev.before" "$DEV" "factory device"

begin "the example from QuecPython's documentation: [{\"name\": \"/usr/a.py\", \"crc32\": ...}]"
new_case
printf 'print("a")\n' >"$CASEDIR/src/a.py"
make_device "$CASEDIR/src"
h=$("$PYTHON" -c 'import binascii; print(hex(binascii.crc32(b"print(\"a\")\n", 0xFFFFFFFF)))')
printf '[{"name": "/usr/a.py", "crc32": "%s"}]' "$h" >"$BAK/checksum.json"
printf '[{"name": "/usr/a.py", "crc32": "%s"}]' "$h" >"$USR/checksum.json"
snap_to "$IO/dev.before" "$DEV"
fsg boot --root "$DEV"
expect_rc 0
expect_snap "$IO/dev.before" "$DEV" "documented example"

# Hash spellings QuecPython's reader accepts (int(s, 16)): all must be read
# by value, and a clean boot must not rewrite the table to normalise them.
for style in upper upper-prefix padded padded-upper no-prefix pretty extra-keys raw-utf8 reordered-keys; do
    begin "table with $style hashes/format: accepted, clean, nothing written"
    new_case
    default_tree "$CASEDIR/src"
    printf 'ü' >"$CASEDIR/src/配置 ü.txt"
    make_device "$CASEDIR/src"
    case $style in
    upper) expr='[dict(e, crc32="0x" + e["crc32"][2:].upper()) for e in t]' ;;
    upper-prefix) expr='[dict(e, crc32="0X" + e["crc32"][2:].upper()) for e in t]' ;;
    padded) expr='[dict(e, crc32="0x%08x" % int(e["crc32"], 16)) for e in t]' ;;
    padded-upper) expr='[dict(e, crc32="0x000%08X" % int(e["crc32"], 16)) for e in t]' ;;
    no-prefix) expr='[dict(e, crc32=e["crc32"][2:]) for e in t]' ;;
    pretty) expr='json.dumps(t, indent=4) + "\n"' ;;
    extra-keys) expr='[dict(e, size=1, mtime=1700000000, sha="x", nested={"a": [1]}) for e in t]' ;;
    raw-utf8) expr='json.dumps(t, ensure_ascii=False)' ;;
    reordered-keys) expr='[{"crc32": e["crc32"], "name": e["name"]} for e in t]' ;;
    esac
    cp "$BAK/checksum.json" "$IO/factory.json"
    for side in "$BAK" "$USR"; do
        write_manifest "$side/checksum.json" "(lambda t: $expr)(raw('$IO/factory.json'))"
    done
    qpy_accepts
    snap_to "$IO/dev.before" "$DEV"
    fsg boot --root "$DEV"
    expect_rc 0
    expect_snap "$IO/dev.before" "$DEV" "$style table"
    begin "table with $style hashes: damage still detected and repaired"
    rm "${USR:?}/main.py"
    flip_bit "$USR/配置 ü.txt"
    fsg boot --root "$DEV"
    expect_rc 1
    expect_restored /usr/main.py "/usr/配置 ü.txt"
    qpy_accepts
done

# ---- what fsguard writes, read back by QuecPython's rules ----

check_written() {   # the user table is what QuecPython writes and reads
    qpy_accepts
    py_expect "every hash written as python hex(): 0x, lowercase, no padding" \
        'all(e["crc32"] == hex(int(e["crc32"], 16)) for e in raw(USR + "/checksum.json"))'
    py_expect "json parses it back to QuecPython's hash of every file" \
        'man(USR + "/checksum.json") == {n: crc(USR + "/" + n[5:]) for n in man(USR + "/checksum.json")}'
    py_expect "fits QuecPython's 16 KB read" 'os.path.getsize(USR + "/checksum.json") <= 16384'
}

# A file whose hash has leading zero digits: hex() must not pad it.
new_case
default_tree "$CASEDIR/src"
"$PYTHON" - "$CASEDIR/src/small-hash.txt" <<'EOF'
import binascii, sys
n = 0
while binascii.crc32(b"pad %d\n" % n, 0xFFFFFFFF) >= 0x00100000:
    n += 1
open(sys.argv[1], "wb").write(b"pad %d\n" % n)
EOF
make_device "$CASEDIR/src"
SMALL_DEV=$DEV

begin "boot rewrites a missing user table: QuecPython reads it, values equal the report"
use_device "$SMALL_DEV"
rm "${USR:?}/checksum.json" "${USR:?}/small-hash.txt"
fsg boot --root "$DEV" --json
expect_rc 1
expect_json
check_written
py_expect "the table holds what fsguard reported" \
    'man(USR + "/checksum.json") == {n: int(f["crc32"], 16) for n, f in files().items()}'
py_expect "a short hash stays short" 'len(man(USR + "/checksum.json")) == 8 and any(len(e["crc32"]) < 10 for e in raw(USR + "/checksum.json"))'

begin "boot rebuilds an invalid user table: QuecPython reads it"
use_device "$SMALL_DEV"
echo '[{"name":' >"$USR/checksum.json"
flip_bit "$USR/data.bin" 3
fsg boot --root "$DEV" --json
expect_rc 1
check_written
py_expect "the table holds what fsguard reported" \
    'man(USR + "/checksum.json") == {n: int(f["crc32"], 16) for n, f in files().items()}'

begin "boot puts entries back: QuecPython reads the result"
use_device "$SMALL_DEV"
write_manifest "$USR/checksum.json" 'raw(BAK + "/checksum.json")[2:]'
fsg boot --root "$DEV" --json
expect_rc 1
check_written
py_expect "every entry back" 'man(USR + "/checksum.json") == man(BAK + "/checksum.json")'

begin "calc writes the table: QuecPython reads it and accepts the edit"
use_device "$SMALL_DEV"
printf 'edited\n' >"$USR/main.py"
printf 'pad edit\n' >"$USR/small-hash.txt"
"$PYTHON" "$QPYCHECK" "$USR" "$BAK" >/dev/null
expect_eq 1 $? "before calc QuecPython would restore the edited files"
fsg calc --root "$DEV" /usr/main.py
expect_rc 0
fsg calc --root "$DEV" /usr/small-hash.txt
expect_rc 0
check_written
py_expect "calc printed the stored string" 'open(OUT).read().strip() == [e["crc32"] for e in raw(USR + "/checksum.json") if e["name"] == "/usr/small-hash.txt"][0]'

begin "boot with uppercase/padded hashes and damage: what it writes is QuecPython's spelling"
use_device "$SMALL_DEV"
write_manifest "$USR/checksum.json" '[dict(e, crc32="0X%010X" % int(e["crc32"], 16)) for e in raw(USR + "/checksum.json")]'
rm "${USR:?}/lib/util.py"
fsg boot --root "$DEV"
expect_rc 1
qpy_accepts

# ---- the CRC variant: check values through calc ----

begin "check values: \"123456789\" -> 0xd202d277, \"hello\\n\" -> 0x78076e7c, empty -> 0xffffffff"
new_case
printf '123456789' >"$CASEDIR/src/check.txt"
printf 'hello\n' >"$CASEDIR/src/hello.txt"
: >"$CASEDIR/src/empty.txt"
printf 'x' >"$CASEDIR/src/edit.txt"
make_device "$CASEDIR/src"
fsg calc --root "$DEV" /usr/check.txt
expect_rc 0
expect_eq 0xd202d277 "$(cat "$OUT")" "calc of \"123456789\""
fsg calc --root "$DEV" /usr/hello.txt
expect_rc 0
expect_eq 0x78076e7c "$(cat "$OUT")" "calc of \"hello\\n\""
fsg calc --root "$DEV" /usr/empty.txt
expect_rc 0
expect_eq 0xffffffff "$(cat "$OUT")" "calc of the empty file"
printf '123456789' >"$USR/edit.txt"
fsg calc --root "$DEV" /usr/edit.txt
expect_rc 0
expect_eq 0xd202d277 "$(cat "$OUT")" "calc after an edit to \"123456789\""
py_expect "stored as QuecPython writes it" '[e["crc32"] for e in raw(USR + "/checksum.json") if e["name"] == "/usr/edit.txt"] == ["0xd202d277"]'
qpy_accepts

begin "calc agrees with QuecPython's formula on large and odd-sized files"
new_case
"$PYTHON" - "$CASEDIR/src" <<'EOF'
import os, random, sys
r = random.Random(11)
for size in (1, 255, 4096, 65535, 65536, 65537, 1000003):
    with open(os.path.join(sys.argv[1], "f%d.bin" % size), "wb") as f:
        f.write(bytes(r.getrandbits(8) for _ in range(size)))
EOF
make_device "$CASEDIR/src"
for size in 1 255 4096 65535 65536 65537 1000003; do
    fsg calc --root "$DEV" "/usr/f$size.bin"
    expect_rc 0
    py_expect "calc of a $size-byte file" 'open(OUT).read().strip() == hex(crc(USR + "/" + argv[0]))' "f$size.bin"
done
begin "large files: damage in the last chunk is found and repaired"
flip_bit "$USR/f1000003.bin" 1000002
flip_bit "$USR/f65537.bin" 65536
fsg boot --root "$DEV"
expect_rc 1
expect_restored /usr/f1000003.bin /usr/f65537.bin

begin "a device built with the feature disabled: boot does nothing"
new_device --disable
rm "${USR:?}/main.py"
"$PYTHON" "$QPYCHECK" "$USR" "$BAK" >/dev/null
expect_eq 0 $? "QuecPython does nothing either"
snap_to "$IO/dev.before" "$DEV"
fsg boot --root "$DEV"
expect_rc 0
expect_snap "$IO/dev.before" "$DEV" "disabled device"

begin "RFC 8259 corners in both tables (lone surrogates as Python's json.dumps writes them): read, not rejected whole"
new_device
# A name Python decoded with surrogateescape, an unknown key with half a
# pair, a whole pair, escaped slashes and a number with an exponent: all
# valid JSON. Only the entry whose name is half a pair is refused.
for part in "$USR" "$BAK"; do
    "$PYTHON" - "$part/checksum.json" <<'PY'
import json, sys
p = sys.argv[1]
t = json.load(open(p))
t[0]["note"] = "\udc80 from surrogateescape"
t[0]["n"] = 1.5e300
t.append({"name": "/usr/bad\udcff.py", "crc32": "0x1"})
t.append({"name": "/usr/pair\ud83d\ude00.py", "crc32": "0x2"})
s = json.dumps(t)
assert "\\udc80" in s and "\\udcff" in s
open(p, "w").write(s.replace("/usr/", "\\/usr\\/", 1))
PY
done
cp "$USR/checksum.json" "$IO/usr.table"
flip_bit "$USR/main.py"
fsg boot --root "$DEV"
expect_rc 4 "boot: main.py restored; the two refused entries (one per table) stay refused"
expect_out_line restored "$USR/main.py"
expect_restored /usr/main.py
expect_err_line "$USR/checksum.json" "half a surrogate pair"
expect_err_line "$BAK/checksum.json" "half a surrogate pair"
expect_no_out "rebuilt"
py_expect "the refused entry and the unknown keys are written back byte for byte" \
    'all(x in open(USR + "/checksum.json").read() for x in ["\"/usr/bad\\udcff.py\"", "\"note\": \"\\udc80 from surrogateescape\"", "1.5e+300"])'

finish
