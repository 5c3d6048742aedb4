# test_json_always.sh -- with --json every command answers with exactly one
# JSON document on stdout, valid UTF-8, in every outcome: success, damage,
# usage errors, missing partitions, bad option values, signature failures,
# refusals. Each has "fsguard_json": 1, "exit_code" equal to the process's
# exit code and "error" (the message for exit codes 8 and above, else
# null). Bytes of names and host paths that are not UTF-8 are written as
# \udcNN escapes (docs/json.md): decoding with Python's surrogateescape
# gives the bytes back.
. "$(dirname "$0")/lib.sh"

# strict WHAT: stdout decodes as UTF-8 and parses as exactly one JSON
# object (json.loads refuses trailing data), as the first member says.
strict() {
    py_expect "$1: exactly one UTF-8 JSON document, format 1, exit_code and error" '
        (lambda text, d: text.lstrip().startswith("{\"fsguard_json\": 1,")
            and isinstance(d, dict) and d["fsguard_json"] == 1 and d["exit_code"] == rc
            and (isinstance(d["error"], str) and d["error"] != "" if rc >= 8 else d["error"] is None))(
            open(OUT, "rb").read().decode("utf-8"),
            json.loads(open(OUT, "rb").read().decode("utf-8")))'
}

# case WANT WHAT ARGS...: fsguard ARGS exits WANT and answers in JSON.
case_() {
    local want=$1 what=$2
    shift 2
    begin "--json, $what: exit $want, one document"
    fsg "$@"
    expect_rc "$want" "$what"
    strict "$what"
}

new_device
"$FSGUARD" keygen "$OUTSIDE/k" >/dev/null 2>&1 || exit 2
K="$OUTSIDE/k.pub"
mkdir -p "$OUTSIDE/update"
printf 'print("new")\n' >"$OUTSIDE/update/main.py"

for cmd in boot verify; do
    case_ 0 "$cmd, clean" $cmd --root "$DEV" --json
    case_ 16 "$cmd, unknown option" $cmd --root "$DEV" --json --frobnicate
    case_ 16 "$cmd, no partitions" $cmd --json
    case_ 16 "$cmd, --jobs 0" $cmd --root "$DEV" --jobs 0 --json
    case_ 16 "$cmd, --root and --usr" $cmd --root "$DEV" --usr "$USR" --json
    case_ 16 "$cmd, a value missing" $cmd --json --root
    case_ 16 "$cmd, --usr = --bak" $cmd --usr "$USR" --bak "$USR" --json
    case_ 8 "$cmd, missing partition" $cmd --root "$CASEDIR/nowhere" --json
    case_ 8 "$cmd, unsigned backup with --pubkey" $cmd --root "$DEV" --pubkey "$K" --json
    case_ 8 "$cmd, --pubkey not a key file" $cmd --root "$DEV" --pubkey "$OUTSIDE/x" --json
done
rm "$USR/main.py"
case_ 1 "verify, damage" verify --root "$DEV" --json
case_ 1 "boot, damage repaired" boot --root "$DEV" --json
rm "$USR/main.py" "$BAK/usr/main.py"
case_ 4 "boot, damage left" boot --root "$DEV" --json

new_device
printf 'garbage' >"$BAK/checksum.json"
case_ 8 "boot, unusable backup table" boot --root "$DEV" --json

new_device
case_ 0 "calc" calc --root "$DEV" /usr/main.py --json
case_ 8 "calc, not listed" calc --root "$DEV" /usr/nope.py --json
case_ 16 "calc, bad name" calc --root "$DEV" usr/main.py --json
case_ 16 "calc, no name" calc --root "$DEV" --json
case_ 0 "put" put --root "$DEV" --json "$OUTSIDE/x" /usr/main.py
case_ 8 "put, missing source" put --root "$DEV" --json "$OUTSIDE/none" /usr/main.py
case_ 16 "put, one operand" put --root "$DEV" --json /usr/main.py
case_ 8 "put, missing partition" put --root "$CASEDIR/nowhere" --json "$OUTSIDE/x" /usr/main.py

case_ 0 "fota status" fota status --root "$DEV" --json
case_ 16 "fota, no subcommand" fota --json
case_ 16 "fota, unknown subcommand" fota frob --root "$DEV" --json
case_ 16 "fota apply, no update" fota apply --root "$DEV" --json
case_ 8 "fota apply, missing update" fota apply --root "$DEV" --json "$CASEDIR/none"
case_ 0 "fota apply" fota apply --root "$DEV" --json "$OUTSIDE/update"

case_ 0 "inspect" inspect --root "$DEV" --json
case_ 8 "inspect, missing partition" inspect --usr "$CASEDIR/nowhere" --json
case_ 16 "inspect, no partition" inspect --json
case_ 16 "inspect, unknown option" inspect --root "$DEV" --json -q

case_ 16 "no command" --json
case_ 16 "unknown command" frob --json
case_ 16 "keygen has no --json" keygen --json

pack_case
DEV="$CASEDIR/dev" USR="$PO"
case_ 0 "pack" pack "$SRC" --out "$O" --json
case_ 8 "pack, OUT not empty" pack "$SRC" --out "$O" --json
case_ 8 "pack, missing source" pack "$CASEDIR/none" --out "$PO/o2" --json
case_ 16 "pack, no --out" pack "$SRC" --json
case_ 16 "pack, --hash frob" pack "$SRC" --out "$PO/o3" --hash frob --json
mkdir "$PO/o4.fsg-tmp"
case_ 8 "pack, a foreign staging directory" pack "$SRC" --out "$PO/o4" --json
use_device "$O"

# ---- bytes that are not UTF-8 ----

begin "--json: host paths and names that are not UTF-8, as \\udcNN, losslessly"
new_device
bad=$(printf '%s/dev\376\377' "$CASEDIR")
mv "$DEV" "$bad"
use_device "$bad"
printf 'x' >"$USR/$(printf 'un\301listed')"
rm "$USR/main.py"
fsg boot --root "$DEV" --json
expect_rc 1
strict "boot over a non-UTF-8 path"
py_expect "the paths come back byte for byte with surrogateescape" \
    'report()["usr"].encode("utf-8", "surrogateescape") == os.fsencode(USR) and "\\udcfe\\udcff" in open(OUT).read()'
fsg inspect --root "$DEV" --json
strict "inspect with a non-UTF-8 unlisted name"
py_expect "the unlisted name comes back byte for byte" \
    '[u["path"].encode("utf-8", "surrogateescape") for p in report()["partitions"] for u in p["unlisted"]] == [b"un\xc1listed"]'
b=$(cat "$BAK/checksum.json")
printf '[{"name": "/usr/bad\xff\xfe.py", "crc32": "0x1"}, %s' "${b#[}" >"$USR/checksum.json"
fsg verify --root "$DEV" --json
strict "verify with a non-UTF-8 name in checksum.json"
py_expect "the invalid entry's name comes back byte for byte" \
    '[e["name"].encode("utf-8", "surrogateescape") for e in report()["invalid_entries"]] == [b"/usr/bad\xff\xfe.py"]'

finish
