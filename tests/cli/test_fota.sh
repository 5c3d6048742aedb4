# test_fota.sh -- `fsguard fota apply` and `fsguard fota status`: an update
# of any number of files, all or nothing, staged in /usr/.fsg-fota; and boot
# settling an update it finds there (finished, discarded or abandoned).
# Hashes are checked against Python's binascii.crc32(data, 0xFFFFFFFF); the
# power-loss proof itself is tests/crash/test_crash.c.
. "$(dirname "$0")/lib.sh"

# no_staged_files: the staging area holds no file (its directories may stay).
no_staged_files() {
    local n=0
    if [ -d "$USR/.fsg-fota" ]; then
        n=$(find "$USR/.fsg-fota" ! -type d | wc -l)
    fi
    if [ "$n" -eq 0 ]; then
        pass
    else
        fail "the staging area should hold no file" "$(find "$USR/.fsg-fota" ! -type d)"
    fi
}

# mkjournal NAME=PROTECT...: turns the files staged by hand in
# $USR/.fsg-fota/new/ into a committed update, as fsg_fota_commit writes it:
# checksum.json.old (the table as it is), checksum.json.new (protected files
# with their new hashes, PROTECT=2 files appended) and journal.json, whose
# "check" is QuecPython's CRC of the compact JSON text of its files array.
mkjournal() {
    "$PYTHON" - "$USR" "$@" <<'EOF' || { echo "mkjournal failed (test bug)" >&2; exit 2; }
import binascii, json, os, sys
usr, specs = sys.argv[1], sys.argv[2:]
area = os.path.join(usr, ".fsg-fota")
def crc(p):
    with open(p, "rb") as fh:
        return binascii.crc32(fh.read(), 0xFFFFFFFF)
with open(os.path.join(usr, "checksum.json")) as fh:
    old_text = fh.read()
table = json.loads(old_text)
files = []
for s in specs:
    name, prot = s.rsplit("=", 1)
    h = hex(crc(os.path.join(area, "new", name[len("/usr/"):])))
    files.append({"name": name, "crc32": h, "protect": int(prot)})
    e = [x for x in table if x["name"] == name]
    if e:
        e[0]["crc32"] = h
    elif int(prot) == 2:
        table.append({"name": name, "crc32": h})
with open(os.path.join(area, "checksum.json.old"), "w") as fh:
    fh.write(old_text)
with open(os.path.join(area, "checksum.json.new"), "w") as fh:
    fh.write(json.dumps(table))
text = json.dumps(files, separators=(",", ":"))
check = hex(binascii.crc32(text.encode(), 0xFFFFFFFF))
with open(os.path.join(area, "journal.json"), "w") as fh:
    fh.write('{"fsg_fota":1,"check":"%s","files":%s}\n' % (check, text))
EOF
}

# rand_file FILE SIZE SEED: SIZE pseudo-random bytes.
rand_file() {
    "$PYTHON" -c 'import sys, random
r = random.Random(int(sys.argv[2]))
sys.stdout.buffer.write(bytes(r.getrandbits(8) for _ in range(int(sys.argv[1]))))' "$2" "$3" >"$1"
}

# ---------------------------------------------------------------------------

begin "status on a fresh device: no update in progress"
new_device
fsg fota status --root "$DEV"
expect_rc 0
expect_out "no update in progress"
fsg fota status --root "$DEV" --json
expect_rc 0
expect_json
py_expect "state none" 'report()["state"] == "none" and report()["files"] == 0 and report()["command"] == "fota status"'

begin "apply: changed protected files, a new file, a newly protected file"
UPD="$CASEDIR/upd"
mkdir -p "$UPD/lib" "$UPD/newdir/sub"
printf 'import utime\nprint("v2")\n' >"$UPD/main.py"
rand_file "$UPD/data.bin" 170000 11
printf 'plain new file\n' >"$UPD/newdir/sub/plain.txt"
printf 'def extra():\n    return 1\n' >"$UPD/lib/extra.py"
cp "$USR/checksum.json" "$IO/table.before"
fsg fota apply --root "$DEV" "$UPD" --protect 'lib/*.py'
expect_rc 0
expect_empty_err
expect_out_line "$USR/main.py" "protected (new hash recorded)"
expect_out_line "$USR/data.bin" "protected (new hash recorded)"
expect_out_line "$USR/lib/extra.py" "newly protected"
expect_out_line "$USR/newdir/sub/plain.txt" "unprotected"
expect_out "4 files updated: 2 protected, 1 newly protected, 1 unprotected"
py_expect "each line shows the file's QuecPython hash" \
    'all(("%s: " % (USR + "/" + n)) in open(OUT).read() and hex(crc(argv[0] + "/" + n)) in [l.rsplit(" ", 1)[1] for l in open(OUT).read().splitlines() if (USR + "/" + n + ":") in l] for n in ("main.py", "data.bin", "lib/extra.py", "newdir/sub/plain.txt"))' "$UPD"
for f in main.py data.bin lib/extra.py newdir/sub/plain.txt; do
    expect_same "$USR/$f" "$UPD/$f" "$f in place, byte-identical to the update"
done
py_expect "protected and newly protected hashes are binascii.crc32(data, 0xFFFFFFFF)" \
    'man(USR + "/checksum.json")["/usr/main.py"] == crc(argv[0] + "/main.py") and man(USR + "/checksum.json")["/usr/data.bin"] == crc(argv[0] + "/data.bin") and man(USR + "/checksum.json")["/usr/lib/extra.py"] == crc(argv[0] + "/lib/extra.py")' "$UPD"
py_expect "the unprotected new file is not listed" \
    '"/usr/newdir/sub/plain.txt" not in man(USR + "/checksum.json")'
py_expect "every other entry is unchanged, the new one appended" \
    '{k: v for k, v in man(USR + "/checksum.json").items() if k not in ("/usr/main.py", "/usr/data.bin", "/usr/lib/extra.py")} == {k: v for k, v in man(argv[0]).items() if k not in ("/usr/main.py", "/usr/data.bin")} and raw(USR + "/checksum.json")[-1]["name"] == "/usr/lib/extra.py" and len(raw(USR + "/checksum.json")) == len(raw(argv[0])) + 1' \
    "$IO/table.before"
py_expect "the backup is untouched" 'man(BAK + "/checksum.json") == man(argv[0])' "$IO/table.before"
expect_absent "$USR/.fsg-fota/journal.json"
no_staged_files
qpy_accepts

begin "after apply: status says nothing pending, boot writes nothing"
fsg fota status --root "$DEV"
expect_rc 0
expect_out "no update in progress"
snap_to "$IO/dev.before" "$DEV"
fsg boot --root "$DEV"
expect_rc 0
expect_no_out "update:"
expect_snap "$IO/dev.before" "$DEV" "boot after apply"
fsg verify --root "$DEV"
expect_rc 0

begin "apply --json"
new_device
UPD="$CASEDIR/upd"
mkdir -p "$UPD/cfg" "$UPD/n"
printf '{"apn": "cmiot"}\n' >"$UPD/cfg/apn_cfg.json"
printf 'new\n' >"$UPD/n/new.txt"
printf 'protect me\n' >"$UPD/n/keep.cfg"
fsg fota apply --usr "$USR" --bak "$BAK" "$UPD" --protect '/usr/n/*.cfg' --json
expect_rc 0
expect_json
py_expect "the JSON report" \
    'report()["command"] == "fota apply" and report()["committed"] is True and report()["totals"] == {"files": 3, "protected": 1, "newly_protected": 1, "unprotected": 1} and report()["refused"] == []'
py_expect "one entry per file, with its protection and hash" \
    'files()["/usr/cfg/apn_cfg.json"]["protection"] == "protected" and files()["/usr/n/keep.cfg"]["protection"] == "newly_protected" and files()["/usr/n/new.txt"]["protection"] == "unprotected" and all(int(f["crc32"], 16) == crc(argv[0] + f["name"][4:]) for f in report()["files"])' \
    "$UPD"
py_expect "checksum.json matches" \
    'man(USR + "/checksum.json")["/usr/n/keep.cfg"] == crc(argv[0] + "/n/keep.cfg") and man(USR + "/checksum.json")["/usr/cfg/apn_cfg.json"] == crc(argv[0] + "/cfg/apn_cfg.json") and "/usr/n/new.txt" not in man(USR + "/checksum.json")' \
    "$UPD"
qpy_accepts
fsg boot --root "$DEV"
expect_rc 0

# ---------------------------------------------------------------------------

begin "refusals: nothing changed, the message names the path"
new_device
# One successful update first, so that the staging area's directories exist
# and a refusal can be held to "not one byte, not one directory changed".
mkdir -p "$CASEDIR/seed"
printf 'seed\n' >"$CASEDIR/seed/seed.txt"
fsg fota apply --root "$DEV" "$CASEDIR/seed"
expect_rc 0
snap_to "$IO/dev.before" "$DEV"

U="$CASEDIR/u-link"
mkdir -p "$U"
printf 'print("v9")\n' >"$U/main.py"
ln -s main.py "$U/link.py"
fsg fota apply --root "$DEV" "$U"
expect_rc 8 "a symbolic link in the update"
expect_err_line "$U/link.py" "symbolic link"
expect_err "nothing changed"
expect_snap "$IO/dev.before" "$DEV" "an update with a link"

U="$CASEDIR/u-fifo"
mkdir -p "$U/lib"
printf 'print("v9")\n' >"$U/main.py"
mkfifo "$U/lib/fifo"
fsg fota apply --root "$DEV" "$U"
expect_rc 8 "a FIFO in the update"
expect_err_line "$U/lib/fifo" "special file"
expect_snap "$IO/dev.before" "$DEV" "an update with a FIFO"

U="$CASEDIR/u-name"
mkdir -p "$U"
printf 'print("v9")\n' >"$U/main.py"
printf 'x\n' >"$U/.main.py.fsg-tmp"
printf 'y\n' >"$U/back\\slash.py"
fsg fota apply --root "$DEV" "$U"
expect_rc 8 "names that cannot be stored"
expect_err_line "$U/.main.py.fsg-tmp"
expect_err_line "$U/back"
expect_snap "$IO/dev.before" "$DEV" "an update with bad names"

U="$CASEDIR/u-area"
mkdir -p "$U/.fsg-fota"
printf '{}\n' >"$U/.fsg-fota/journal.json"
fsg fota apply --root "$DEV" "$U"
expect_rc 8 "the staging area's name in the update"
expect_err_line "$U/.fsg-fota"
expect_snap "$IO/dev.before" "$DEV" "an update holding .fsg-fota"

U="$CASEDIR/u-table"
mkdir -p "$U"
printf 'print("v9")\n' >"$U/main.py"
printf '[]\n' >"$U/checksum.json"
fsg fota apply --root "$DEV" "$U" --json
expect_rc 8 "checksum.json at the update's root"
expect_json
py_expect "the JSON report lists the refused path, nothing committed" \
    'report()["refused"] == [{"path": "checksum.json"}] and report()["committed"] is False and report()["files"] == []'
expect_err_line "$U/checksum.json" "reserved"
expect_snap "$IO/dev.before" "$DEV" "an update with checksum.json"

fsg fota apply --root "$DEV" "$CASEDIR/does-not-exist"
expect_rc 8 "a missing UPDATE_DIR"
expect_err "$CASEDIR/does-not-exist"
expect_snap "$IO/dev.before" "$DEV" "a missing update"

fsg fota apply --root "$DEV" "$CASEDIR/sentinel"
expect_rc 8 "an UPDATE_DIR that is a file"
expect_err "$CASEDIR/sentinel"
expect_snap "$IO/dev.before" "$DEV" "an update that is a file"

# A target that is a directory: found at commit, after staging; every file
# stays, the staging area is emptied (its directories may stay).
snap_to "$IO/dev.pruned" "$DEV" "$USR/.fsg-fota"
U="$CASEDIR/u-dir"
mkdir -p "$U"
printf 'print("v9")\n' >"$U/main.py"
printf 'a file where a directory is\n' >"$U/cfg"
fsg fota apply --root "$DEV" "$U" --json
expect_rc 8 "a target that is a directory"
expect_json
py_expect "not committed" 'report()["committed"] is False'
expect_err "directory"
expect_err "/cfg"
expect_snap "$IO/dev.pruned" "$DEV" "an update over a directory" "$USR/.fsg-fota"
no_staged_files
expect_same "$USR/main.py" "$BAK/usr/main.py" "main.py unchanged"

# A target below a regular file: refused before the commit point too.
U="$CASEDIR/u-below"
mkdir -p "$U/main.py"
printf 'x\n' >"$U/main.py/x.py"
fsg fota apply --root "$DEV" "$U"
expect_rc 8 "a target below a regular file"
expect_err "nothing changed"
expect_snap "$IO/dev.pruned" "$DEV" "an update below a file" "$USR/.fsg-fota"
no_staged_files
fsg fota status --root "$DEV"
expect_rc 0
fsg boot --root "$DEV"
expect_rc 0

begin "usage errors: exit 16, nothing changed"
snap_to "$IO/dev.before" "$DEV"
U="$CASEDIR/seed"
fsg fota
expect_rc 16 "fota without a subcommand"
fsg fota frob --root "$DEV"
expect_rc 16 "an unknown subcommand"
expect_err "frob"
fsg fota apply --root "$DEV"
expect_rc 16 "apply without UPDATE_DIR"
fsg fota apply "$U"
expect_rc 16 "apply without partitions"
fsg fota apply --root "$DEV" --usr "$USR" "$U"
expect_rc 16 "--root with --usr"
fsg fota apply --root "$DEV" "$U" --frobnicate
expect_rc 16 "an unknown option"
expect_err "--frobnicate"
fsg fota apply --root "$DEV" "$U" "$U"
expect_rc 16 "two update dirs"
fsg fota apply --root "$DEV" "$U" --protect
expect_rc 16 "--protect without a value"
fsg fota status --root "$DEV" --protect '*'
expect_rc 16 "--protect with status"
fsg fota status --root "$DEV" extra
expect_rc 16 "status with an argument"
fsg fota apply --root
expect_rc 16 "--root without a value"
expect_snap "$IO/dev.before" "$DEV" "usage errors"
fsg fota --help
expect_rc 0
expect_out "Usage: fsguard fota apply"
fsg fota apply --help
expect_rc 0
expect_out "Exit codes"

# ---------------------------------------------------------------------------

begin "a committed, unfinished update: status, apply refuses, verify, boot finishes it"
new_device
A="$USR/.fsg-fota"
mkdir -p "$A/new/lib" "$A/new/extra"
printf 'print("v3, committed")\n' >"$A/new/main.py"
printf 'def newp():\n    pass\n' >"$A/new/lib/newp.py"
printf 'unprotected\n' >"$A/new/extra/u.txt"
cp "$A/new/main.py" "$IO/main.v3"
cp "$A/new/lib/newp.py" "$IO/newp.py"
cp "$A/new/extra/u.txt" "$IO/u.txt"
mkjournal /usr/main.py=1 /usr/lib/newp.py=2 /usr/extra/u.txt=0
fsg fota status --root "$DEV"
expect_rc 1 "status of a committed update"
expect_out "committed"
expect_out "3 files"
fsg fota status --root "$DEV" --json
expect_rc 1
expect_json
py_expect "state committed, 3 files" 'report()["state"] == "committed" and report()["files"] == 3'
snap_to "$IO/dev.before" "$DEV"
U="$CASEDIR/u2"
mkdir -p "$U"
printf 'other\n' >"$U/other.txt"
fsg fota apply --root "$DEV" "$U"
expect_rc 8 "apply while an update is unfinished"
expect_err "committed but unfinished"
expect_snap "$IO/dev.before" "$DEV" "apply refused (busy)"
fsg fota apply --root "$DEV" "$U" --json
expect_rc 8
expect_json
expect_snap "$IO/dev.before" "$DEV" "apply --json refused (busy)"
fsg verify --root "$DEV"
expect_rc 1 "verify of a committed update"
expect_out_line "update:" "would be finished"
expect_snap "$IO/dev.before" "$DEV" "verify"
fsg boot --root "$DEV"
expect_rc 1 "boot finishing the update"
expect_out_line "update:" "committed update of 3 files finished"
expect_same "$USR/main.py" "$IO/main.v3" "main.py is the new file"
expect_same "$USR/lib/newp.py" "$IO/newp.py" "lib/newp.py in place"
expect_same "$USR/extra/u.txt" "$IO/u.txt" "extra/u.txt in place"
py_expect "hashes recorded; the unprotected file not listed" \
    'man(USR + "/checksum.json")["/usr/main.py"] == crc(USR + "/main.py") and man(USR + "/checksum.json")["/usr/lib/newp.py"] == crc(USR + "/lib/newp.py") and "/usr/extra/u.txt" not in man(USR + "/checksum.json")'
expect_absent "$A/journal.json"
no_staged_files
qpy_accepts
fsg fota status --root "$DEV"
expect_rc 0
expect_out "no update in progress"
snap_to "$IO/dev.before" "$DEV"
fsg boot --root "$DEV"
expect_rc 0
expect_snap "$IO/dev.before" "$DEV" "a second boot"

begin "boot --json reports the update it finished"
new_device
A="$USR/.fsg-fota"
mkdir -p "$A/new"
printf 'print("json")\n' >"$A/new/main.py"
mkjournal /usr/main.py=1
fsg boot --root "$DEV" --json
expect_rc 1
expect_json
py_expect "fota: finished" 'report()["fota"] == "finished"'
py_expect "main.py updated and recorded" 'man(USR + "/checksum.json")["/usr/main.py"] == crc(USR + "/main.py") and open(USR + "/main.py").read() == "print(\"json\")\n"'

begin "an uncommitted staging area: boot discards it, every file unchanged"
new_device
A="$USR/.fsg-fota"
mkdir -p "$A/new/lib"
printf 'print("never committed")\n' >"$A/new/main.py"
printf 'half' >"$A/new/lib/.util.py.fsg-tmp"
cp "$USR/checksum.json" "$A/checksum.json.old"
fp_main=$(fingerprint "$USR/main.py")
fp_table=$(fingerprint "$USR/checksum.json")
fsg fota status --root "$DEV"
expect_rc 1 "status of an uncommitted update"
expect_out "never committed"
fsg fota status --root "$DEV" --json
expect_rc 1
expect_json
py_expect "state uncommitted" 'report()["state"] == "uncommitted"'
fsg boot --root "$DEV" --json
expect_rc 1 "boot discarding it"
expect_json
py_expect "fota: discarded; every file ok" 'report()["fota"] == "discarded" and report()["totals"]["restored"] == 0 and report()["totals"]["failed"] == 0'
expect_fingerprint "$fp_main" "$USR/main.py" "main.py untouched"
expect_fingerprint "$fp_table" "$USR/checksum.json" "checksum.json untouched"
no_staged_files
fsg fota status --root "$DEV"
expect_rc 0
fsg boot --root "$DEV"
expect_rc 0

begin "a damaged journal: boot abandons the update, old files put back"
new_device
A="$USR/.fsg-fota"
mkdir -p "$A/new/cfg" "$A/old/cfg"
printf 'print("v4")\n' >"$A/new/main.py"
printf '{"apn": "v4"}\n' >"$A/new/cfg/apn_cfg.json"
cp "$USR/checksum.json" "$IO/table.before"
mkjournal /usr/main.py=1 /usr/cfg/apn_cfg.json=1
# Rolled forward half-way: main.py replaced (old copy set aside),
# cfg/apn_cfg.json set aside, its new copy not yet in.
mv "$USR/main.py" "$A/old/main.py"
mv "$A/new/main.py" "$USR/main.py"
mv "$USR/cfg/apn_cfg.json" "$A/old/cfg/apn_cfg.json"
printf '\001garbage{[' >"$A/journal.json"
fsg fota status --root "$DEV"
expect_rc 1 "status of a damaged update"
expect_out "damaged"
expect_out "puts back the 2 files"
fsg verify --root "$DEV"
expect_rc 1
expect_out_line "update:" "would be abandoned"
fsg boot --root "$DEV"
expect_rc 1 "boot abandoning it"
expect_out_line "update:" "abandoned" "2 files put back"
expect_restored /usr/main.py /usr/cfg/apn_cfg.json
py_expect "checksum.json is the old table again" 'man(USR + "/checksum.json") == man(argv[0])' "$IO/table.before"
expect_absent "$A/journal.json"
no_staged_files
qpy_accepts
fsg fota status --root "$DEV"
expect_rc 0
snap_to "$IO/dev.before" "$DEV"
fsg boot --root "$DEV"
expect_rc 0
expect_snap "$IO/dev.before" "$DEV" "a boot after the abandoned update"

begin "a journal whose check does not match is damaged too"
new_device
A="$USR/.fsg-fota"
mkdir -p "$A/new"
printf 'print("v5")\n' >"$A/new/main.py"
mkjournal /usr/main.py=1
"$PYTHON" - "$A/journal.json" <<'EOF'
import sys
p = sys.argv[1]
t = open(p).read()
i = t.index('"crc32":"0x') + len('"crc32":"0x')
t = t[:i] + ("2" if t[i] == "1" else "1") + t[i + 1:]
open(p, "w").write(t)
EOF
fsg fota status --root "$DEV" --json
expect_rc 1
expect_json
py_expect "state damaged" 'report()["state"] == "damaged"'
fsg boot --root "$DEV" --json
expect_rc 1
expect_json
py_expect "fota: abandoned" 'report()["fota"] == "abandoned"'
expect_restored /usr/main.py
py_expect "checksum.json unchanged in value" 'man(USR + "/checksum.json") == man(BAK + "/checksum.json")'
no_staged_files

finish
