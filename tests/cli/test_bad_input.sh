# test_bad_input.sh -- hostile or broken checksum.json content: each bad entry
# is reported (file and entry named) and skipped, the others are still
# processed, nothing crashes, and nothing outside the user partition is
# written (every `fsg` run checks the sentinels and the backup partition).
. "$(dirname "$0")/lib.sh"

LONG=$(printf 'a%.0s' $(seq 1 10000))
SEG241=$(printf 'b%.0s' $(seq 1 241))
NAME513="/usr/$(printf 'c%.0s' $(seq 1 200))/$(printf 'd%.0s' $(seq 1 200))/$(printf 'e%.0s' $(seq 1 106))"

# Each case: a label, the bad entry as JSON text, and a word its message
# must contain (besides the file and the entry index).
CASES=(
    "crc32 as number|{\"name\": \"/usr/x.py\", \"crc32\": 305419896}|crc32"
    "crc32 null|{\"name\": \"/usr/x.py\", \"crc32\": null}|crc32"
    "crc32 array|{\"name\": \"/usr/x.py\", \"crc32\": [\"0x1\"]}|crc32"
    "crc32 true|{\"name\": \"/usr/x.py\", \"crc32\": true}|crc32"
    "crc32 empty|{\"name\": \"/usr/x.py\", \"crc32\": \"\"}|crc32"
    "crc32 0x|{\"name\": \"/usr/x.py\", \"crc32\": \"0x\"}|crc32"
    "crc32 not hex|{\"name\": \"/usr/x.py\", \"crc32\": \"0xZZ\"}|crc32"
    "crc32 over 32 bits|{\"name\": \"/usr/x.py\", \"crc32\": \"0x1ffffffff\"}|crc32"
    "crc32 huge|{\"name\": \"/usr/x.py\", \"crc32\": \"0x123456789abcdef0123456789\"}|crc32"
    "crc32 negative|{\"name\": \"/usr/x.py\", \"crc32\": \"-0x1\"}|crc32"
    "crc32 spaces|{\"name\": \"/usr/x.py\", \"crc32\": \" 0x1 \"}|crc32"
    "crc32 missing|{\"name\": \"/usr/x.py\"}|crc32"
    "name as number|{\"name\": 42, \"crc32\": \"0x1\"}|name"
    "name null|{\"name\": null, \"crc32\": \"0x1\"}|name"
    "name array|{\"name\": [\"/usr/main.py\"], \"crc32\": \"0x1\"}|name"
    "name object|{\"name\": {\"a\": 1}, \"crc32\": \"0x1\"}|name"
    "name missing|{\"crc32\": \"0x1\"}|name"
    "empty object|{}|name"
    "entry is a string|\"/usr/main.py\"|object"
    "entry is a number|42|object"
    "entry is null|null|object"
    "entry is an array|[{\"name\": \"/usr/main.py\", \"crc32\": \"0x1\"}]|object"
    "duplicate key|{\"name\": \"/usr/x.py\", \"name\": \"/usr/../x\", \"crc32\": \"0x1\"}|same key"
    "/etc/passwd|{\"name\": \"/etc/passwd\", \"crc32\": \"0x1\"}|/usr/"
    "/bak/x|{\"name\": \"/bak/x\", \"crc32\": \"0x1\"}|/usr/"
    "/bak/usr/main.py|{\"name\": \"/bak/usr/main.py\", \"crc32\": \"0x1\"}|/usr/"
    "relative name|{\"name\": \"usr/main.py\", \"crc32\": \"0x1\"}|/usr/"
    "/usr alone|{\"name\": \"/usr\", \"crc32\": \"0x1\"}|/usr/"
    "/USR/ upper case|{\"name\": \"/USR/main.py\", \"crc32\": \"0x1\"}|/usr/"
    "/usr/../outside.txt|{\"name\": \"/usr/../outside.txt\", \"crc32\": \"0x1\"}|.."
    "/usr/a/../../x|{\"name\": \"/usr/a/../../x\", \"crc32\": \"0x1\"}|.."
    "/usr/./main.py|{\"name\": \"/usr/./main.py\", \"crc32\": \"0x1\"}|.."
    "/usr/lib/..|{\"name\": \"/usr/lib/..\", \"crc32\": \"0x1\"}|.."
    "/usr/..|{\"name\": \"/usr/..\", \"crc32\": \"0x1\"}|.."
    "/usr/|{\"name\": \"/usr/\", \"crc32\": \"0x1\"}|empty"
    "/usr//a|{\"name\": \"/usr//a\", \"crc32\": \"0x1\"}|empty"
    "/usr/lib//util.py|{\"name\": \"/usr/lib//util.py\", \"crc32\": \"0x1\"}|empty"
    "trailing slash|{\"name\": \"/usr/lib/\", \"crc32\": \"0x1\"}|empty"
    "10000-char name|{\"name\": \"/usr/$LONG\", \"crc32\": \"0x1\"}|too long"
    "241-byte component|{\"name\": \"/usr/$SEG241\", \"crc32\": \"0x1\"}|too long"
    "513-byte name|{\"name\": \"$NAME513\", \"crc32\": \"0x1\"}|too long"
    "backslash|{\"name\": \"/usr/a\\\\..\\\\..\\\\x\", \"crc32\": \"0x1\"}|backslash"
    "newline|{\"name\": \"/usr/a\\nb\", \"crc32\": \"0x1\"}|control"
    "escape sequence|{\"name\": \"/usr/\\u001b[31mred\", \"crc32\": \"0x1\"}|control"
    "DEL|{\"name\": \"/usr/a\\u007fb\", \"crc32\": \"0x1\"}|control"
    "NUL then traversal|{\"name\": \"/usr/evil\\u0000/../../x\", \"crc32\": \"0x1\"}|control"
    "NUL aliasing a protected file|{\"name\": \"/usr/main.py\\u0000.bak\", \"crc32\": \"0x1\"}|control"
    "NUL in crc32|{\"name\": \"/usr/x.py\", \"crc32\": \"0x1\\u0000\"}|crc32"
    "checksum.json itself|{\"name\": \"/usr/checksum.json\", \"crc32\": \"0x1\"}|reserved"
    "temporary name|{\"name\": \"/usr/.main.py.fsg-tmp\", \"crc32\": \"0x1\"}|reserved"
    "temporary name in subdir|{\"name\": \"/usr/lib/.util.py.fsg-tmp\", \"crc32\": \"0x1\"}|reserved"
)

# with_bad FILE ENTRY: FILE becomes the backup's table with ENTRY first.
with_bad() {
    local b
    b=$(cat "$BAK/checksum.json")
    printf '[%s, %s' "$2" "${b#[}" >"$1"
}

# The name as the message prints it: the first 40 characters of a string name.
shown_name() {
    case $1 in
    "{\"name\": \""*) local n=${1#\{\"name\": \"}; n=${n%%\"*}; n=${n%%\\*}; echo "${n:0:40}" ;;
    *) echo "entry" ;;
    esac
}

for c in "${CASES[@]}"; do
    label=${c%%|*}
    rest=${c#*|}
    entry=${rest%|*}
    word=${rest##*|}
    shown=$(shown_name "$entry")
    [ "$label" = "duplicate key" ] && shown="entry"   # which name would it be?

    begin "user checksum.json, $label: reported, skipped, the others processed"
    new_device
    mkdir -p "$USR/a" "$BAK/usr/a"   # so that /usr/a/../.. resolves, were it used
    with_bad "$USR/checksum.json" "$entry"
    rm "${USR:?}/main.py"
    flip_bit "$USR/data.bin" 4242
    passwd=$(fingerprint /etc/passwd)
    fsg boot --root "$DEV"
    expect_rc 4
    expect_err_line "$USR/checksum.json" "entry 0" "$shown" "$word" "skipped"
    expect_restored $DEFAULT_NAMES
    expect_out "7 files checked: 5 ok, 2 restored, 0 failed, 1 bad checksum.json entries skipped"
    expect_fingerprint "$passwd" /etc/passwd
    begin "user checksum.json, $label: --json lists it, exit_code 4"
    fsg boot --root "$DEV" --json
    expect_rc 4
    expect_json
    py_expect "one invalid entry, at index 0" \
        'len(report()["invalid_entries"]) == 1 and report()["invalid_entries"][0]["index"] == 0 and report()["invalid_entries"][0]["manifest"] == "usr"'
    py_expect "the valid files are all checked" 'len(files()) == 7 and all(f["status"] == "ok" for f in files().values())'

    begin "backup checksum.json, $label: reported, skipped, the others restored"
    new_device
    with_bad "$BAK/checksum.json" "$entry"
    rm "${USR:?}/checksum.json" "${USR:?}/lib/util.py"
    : >"$USR/cfg/apn_cfg.json"
    fsg boot --root "$DEV"
    expect_rc 4
    expect_err_line "$BAK/checksum.json" "entry 0" "$shown" "$word" "skipped"
    expect_restored $DEFAULT_NAMES
    py_expect "the user table holds the valid entries" \
        'man(USR + "/checksum.json") == {e["name"]: int(e["crc32"], 16) for e in raw(BAK + "/checksum.json")[1:]}'
done

# ---- path traversal with bait: a naive implementation would write outside ----

# trap_name NAME: NAME is in both tables, with a backup "copy" at the path the
# name resolves to in the backup partition, so that a naive restore would
# copy it to where the name resolves from the user partition.
trap_name() {
    local name=$1 rel=${1#/usr/}
    mkdir -p "$USR/a" "$BAK/usr/a" "$USR/lib" "$BAK/usr/lib"
    local bait="$BAK/usr/$rel"
    if [ ! -e "$bait" ] && mkdir -p "$(dirname "$bait")" 2>/dev/null; then
        echo "bait for $name" >"$bait"
    fi
    local h=0x1
    [ -f "$bait" ] && h=$("$PYTHON" -c 'import binascii,sys; print(hex(binascii.crc32(open(sys.argv[1],"rb").read(), 0xFFFFFFFF)))' "$bait")
    with_bad "$BAK/checksum.json" "{\"name\": \"$name\", \"crc32\": \"$h\"}"
    with_bad "$USR/checksum.json" "{\"name\": \"$name\", \"crc32\": \"0x2\"}"
}
for name in /usr/../outside.txt /usr/../../outside.txt /usr/a/../../x /usr/lib/../../bak/usr/main.py \
    /usr/../../../outside/x /usr/../../../outside/secret.txt /usr/./../outside.txt; do
    begin "traversal $name in both tables: refused, nothing written outside"
    new_device
    echo 'beside usr, in dev' >"$DEV/outside.txt"
    echo 'dev/x' >"$DEV/x"
    trap_name "$name"
    rm "${USR:?}/main.py"
    fsg boot --root "$DEV"
    expect_rc 4
    expect_err_line "$USR/checksum.json" "entry 0" "$name" "skipped"
    expect_err_line "$BAK/checksum.json" "entry 0" "$name" "skipped"
    expect_restored $DEFAULT_NAMES
    begin "traversal $name, user table missing: refused, nothing written outside"
    rm "${USR:?}/checksum.json" "${USR:?}/main.py"
    fsg boot --root "$DEV"
    expect_rc 4
    expect_restored $DEFAULT_NAMES
    begin "traversal $name: verify and calc refuse it too"
    fsg verify --root "$DEV"
    expect_rc 4
    fsg calc --root "$DEV" "$name"
    expect_rc 16
done

# ---- duplicates ----

begin "duplicate names: the later entry is reported and skipped"
new_device
write_manifest "$USR/checksum.json" 'raw(BAK + "/checksum.json") + [{"name": "/usr/main.py", "crc32": "0x1"}]'
rm "${USR:?}/main.py"
fsg boot --root "$DEV" --json
expect_rc 4
expect_json
expect_err_line "$USR/checksum.json" "entry 7" "/usr/main.py" "earlier entry" "skipped"
py_expect "main.py checked once and restored" \
    'sum(1 for f in report()["files"] if f["name"] == "/usr/main.py") == 1 and files()["/usr/main.py"]["status"] == "restored"'
expect_restored /usr/main.py

begin "duplicate names, the first one wrong: the file is still the factory copy afterwards"
new_device
write_manifest "$USR/checksum.json" '[{"name": "/usr/main.py", "crc32": "0x1"}] + raw(BAK + "/checksum.json")'
flip_bit "$USR/main.py"
fsg boot --root "$DEV"
expect_rc 4
expect_err_line "$USR/checksum.json" "entry 3" "/usr/main.py" "skipped"
expect_restored $DEFAULT_NAMES

begin "duplicate names in the backup table: reported, the file still restored"
new_device
write_manifest "$BAK/checksum.json" 'raw(BAK + "/checksum.json") + [{"name": "/usr/main.py", "crc32": "0x1"}]'
rm "${USR:?}/checksum.json" "${USR:?}/main.py"
fsg boot --root "$DEV"
expect_rc 4
expect_err_line "$BAK/checksum.json" "entry 7" "/usr/main.py" "skipped"
expect_restored $DEFAULT_NAMES

begin "many bad entries and several damaged files in one pass"
new_device
write_manifest "$USR/checksum.json" '[7, {"name": "/etc/shadow", "crc32": "0x1"}] + raw(BAK + "/checksum.json")[:3]
    + [{"name": "/usr//x", "crc32": "0x1"}, {"name": "/usr/lib/util.py", "crc32": 1}]
    + raw(BAK + "/checksum.json")[3:] + [None, {"name": "/usr/" + "z" * 600, "crc32": "0x1"}]'
rm -r "${USR:?}/lib" "${USR:?}/main.py"
truncate_half "$USR/data.bin"
fsg boot --root "$DEV"
expect_rc 4
for i in 0 1 5 6 11 12; do
    expect_err_line "$USR/checksum.json" "entry $i" "skipped"
done
expect_restored $DEFAULT_NAMES

# ---- malformed JSON: the whole table ----

malformed() {   # malformed KIND FILE
    case $1 in
    trailing-comma) b=$(cat "$BAK/checksum.json"); printf '%s' "${b%]}, ]" >"$2" ;;
    single-quotes) printf "[{'name': '/usr/main.py', 'crc32': '0x1'}]" >"$2" ;;
    comment) printf '[ // comment\n{"name": "/usr/main.py", "crc32": "0x1"}]' >"$2" ;;
    unterminated-string) printf '[{"name": "/usr/main.py, "crc32": "0x1"}]' >"$2" ;;
    nan) printf '[{"name": "/usr/main.py", "crc32": NaN}]' >"$2" ;;
    two-arrays) printf '[] []' >"$2" ;;
    deep-nesting) "$PYTHON" -c 'import sys; sys.stdout.write("[" * 200000 + "]" * 200000)' >"$2" ;;
    deep-object) "$PYTHON" -c 'import sys; sys.stdout.write("[" + "{\"a\":" * 100000 + "1" + "}" * 100000 + "]")' >"$2" ;;
    binary) head -c 100000 "$IO/data.bin" >"$2" ;;
    megabyte-of-spaces) { head -c 1048576 /dev/zero | tr '\0' ' '; echo '[{'; } >"$2" ;;
    nul-inside) printf '[{"name": "/usr/main.py",\0 "crc32": "0x1"}]' >"$2" ;;
    esac
}
for kind in trailing-comma single-quotes comment unterminated-string nan two-arrays deep-nesting \
    deep-object binary megabyte-of-spaces nul-inside; do
    begin "user checksum.json malformed ($kind): rebuilt, damage still repaired"
    new_device
    malformed "$kind" "$USR/checksum.json"
    rm "${USR:?}/main.py"
    fsg boot --root "$DEV"
    expect_rc 1
    expect_out_line "$USR/checksum.json" "rebuilt"
    expect_restored $DEFAULT_NAMES
    py_expect "rebuilt from the backup" 'man(USR + "/checksum.json") == man(BAK + "/checksum.json")'

    begin "backup checksum.json malformed ($kind): exit 8, nothing written"
    new_device
    malformed "$kind" "$BAK/checksum.json"
    rm "${USR:?}/main.py"
    snap_to "$IO/dev.before" "$DEV"
    fsg boot --root "$DEV"
    expect_rc 8
    expect_err "$BAK/checksum.json"
    expect_snap "$IO/dev.before" "$DEV" "malformed backup table"
done

begin "UTF-8 byte order mark before a valid table: accepted as it is"
new_device
{ printf '\xef\xbb\xbf'; cat "$BAK/checksum.json"; } >"$USR/checksum.json"
snap_to "$IO/dev.before" "$DEV"
fsg boot --root "$DEV"
expect_rc 0
expect_snap "$IO/dev.before" "$DEV" "BOM table"

begin "names with invalid UTF-8: --json output is still valid UTF-8 JSON"
new_device
b=$(cat "$BAK/checksum.json")
printf '[{"name": "/usr/bad\xff\xfe.py", "crc32": "0x1"}, {"name": 5, "x": "\xc3"}, %s' "${b#[}" >"$USR/checksum.json"
fsg boot --root "$DEV" --json
expect_json

# ---- the feature switch, malformed ----

for sw in '[1]' '{}' '{"enabled": 1}' '' '{"enable": 1' "$(head -c 5000 /dev/zero | tr '\0' ' '){\"enable\": 1}"; do
    begin "backup_restore.json ${sw:0:20}...: no crash, says so, writes nothing"
    new_device
    printf '%s' "$sw" >"$BAK/backup_restore.json"
    rm "${USR:?}/main.py"
    snap_to "$IO/dev.before" "$DEV"
    fsg boot --root "$DEV"
    expect_rc 0
    expect_out "$BAK/backup_restore.json"
    expect_snap "$IO/dev.before" "$DEV" "bad switch"
done

# QuecPython's backup_restore.py runs restore when flag != 0: any value but
# 0 or false enables the feature, as it does there.
for sw in '{"enable": "1"}' '{"enable": null}' '{"enable": "0"}' '{"enable": 2}'; do
    begin "backup_restore.json $sw enables the feature, as in QuecPython"
    new_device
    printf '%s' "$sw" >"$BAK/backup_restore.json"
    rm "${USR:?}/main.py"
    fsg boot --root "$DEV"
    expect_rc 1
    expect_restored /usr/main.py
done

# ---- something else where a protected file should be ----

begin "a directory where a protected file should be: exit 4, directory untouched"
new_device
rm "${USR:?}/lib/util.py"
mkdir -p "$USR/lib/util.py/inner"
echo 'user data' >"$USR/lib/util.py/inner/keep.txt"
rm "${USR:?}/main.py"
snap_to "$IO/dir.before" "$USR/lib/util.py"
fsg boot --root "$DEV"
expect_rc 4
expect_out_line "FAILED" "$USR/lib/util.py"
expect_snap "$IO/dir.before" "$USR/lib/util.py" "the directory in the way"
expect_restored /usr/main.py
py_expect "its hash is not changed" 'man(USR + "/checksum.json") == man(BAK + "/checksum.json")'

begin "a file where a protected file's parent directory should be: exit 4, file untouched"
new_device
rm -r "${USR:?}/lib/deep"
echo 'a file, not a directory' >"$USR/lib/deep"
fp=$(fingerprint "$USR/lib/deep")
rm "${USR:?}/main.py"
fsg boot --root "$DEV"
expect_rc 4
expect_out_line "FAILED" "$USR/lib/deep/x/y.txt"
expect_fingerprint "$fp" "$USR/lib/deep"
expect_restored /usr/main.py /usr/lib/util.py

begin "a FIFO where a protected file should be: not read (no hang), exit 4 or restored"
new_device
rm "${USR:?}/main.py"
mkfifo "$USR/main.py"
timeout 20 "$FSGUARD" boot --root "$DEV" >"$OUT" 2>"$ERR"
RC=$?
LAST_ARGS="boot --root $DEV (under timeout 20)"
case $RC in 1|4) pass ;; *) fail "FIFO: exit 1 or 4 expected (124 means it hung)" "$(show_run)" ;; esac

finish
