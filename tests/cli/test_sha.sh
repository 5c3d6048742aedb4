# test_sha.sh -- "sha256" entries in checksum.json, without signatures:
# tables written here in Python (sha256-only, crc32-only and both, as early
# QuecPython firmware and `fsguard pack --hash` write them), checked by boot,
# verify, calc, put and inspect; a user file forged to keep its CRC-32 is
# caught by the sha256; malformed sha256 values are bad entries. And the
# permission policy of written files (docs/SECURITY.md): a restored file
# gets its backup copy's bits, a rewritten one keeps its own, both without
# set-id, sticky and world-write, whatever the umask.
. "$(dirname "$0")/lib.sh"

umask 022

# py_expect gets sha(path): the file's sha256 (lowercase hex); entry(path,
# name): the entry NAME of table PATH.
sed -i '1a import hashlib\ndef sha(p):\n    return hashlib.sha256(open(p, "rb").read()).hexdigest()\ndef entry(p, n):\n    return [e for e in raw(p) if e["name"] == n][0]' "$IO/py_expect.py"

sha() {
    sha256sum <"$1" | cut -d' ' -f1
}

# The table writer: mktable.py USR OUT NAME=KIND...: OUT = the table of the
# files of USR, KIND sha|crc|both|raw:<JSON of extra keys>; ujson style.
cat >"$IO/mktable.py" <<'EOF'
import binascii, hashlib, json, sys
usr, out = sys.argv[1], sys.argv[2]
t = []
for a in sys.argv[3:]:
    rel, kind = a.split("=", 1)
    e = {"name": "/usr/" + rel}
    if kind.startswith("raw:"):
        e.update(json.loads(kind[4:]))
    else:
        data = open(usr + "/" + rel, "rb").read()
        if kind in ("crc", "both"):
            e["crc32"] = hex(binascii.crc32(data, 0xFFFFFFFF))
        if kind in ("sha", "both"):
            e["sha256"] = hashlib.sha256(data).hexdigest()
    t.append(e)
open(out, "w").write(json.dumps(t))
EOF

# sha_device [NAME=KIND...]: a fresh device: a.txt and lib/d.txt and
# data.bin (150 kB, over fsguard's 64 KiB buffer) sha256-only, b.txt
# crc32-only, c.txt both; extra NAME=KIND entries are appended to both
# tables. Both partitions, backup_restore.json {"enable": 1}, backup copies.
sha_device() {
    new_case
    use_device "$CASEDIR/dev"
    mkdir -p "$USR/lib" "$BAK/usr/lib"
    printf 'alpha\n' >"$USR/a.txt"
    printf 'beta\n' >"$USR/b.txt"
    printf 'gamma\n' >"$USR/c.txt"
    printf 'delta\n' >"$USR/lib/d.txt"
    printf 'extra 1\n' >"$USR/e1.txt"
    printf 'extra 2\n' >"$USR/e2.txt"
    printf 'extra 3\n' >"$USR/e3.txt"
    "$PYTHON" -c 'import sys, random
r = random.Random(11)
sys.stdout.buffer.write(bytes(r.getrandbits(8) for _ in range(150000)))' >"$USR/data.bin"
    (cd "$USR" && cp --parents a.txt b.txt c.txt lib/d.txt data.bin "$BAK/usr/")
    local a
    for a in "$@"; do   # backup copies of the extra entries only (no strays)
        cp "$USR/${a%%=*}" "$BAK/usr/${a%%=*}"
    done
    "$PYTHON" "$IO/mktable.py" "$USR" "$BAK/checksum.json" a.txt=sha b.txt=crc c.txt=both lib/d.txt=sha data.bin=sha "$@" ||
        { echo "test bug: mktable" >&2; exit 2; }
    cp "$BAK/checksum.json" "$USR/checksum.json"
    printf '{"enable": 1}' >"$BAK/backup_restore.json"
}

# forge ORIG PREFIX OUT: OUT = PREFIX + 4 bytes making OUT's QuecPython
# CRC-32, binascii.crc32(data, 0xFFFFFFFF), equal to ORIG's (solving the
# 32x32 GF(2) system the CRC's affinity gives).
forge() {
    "$PYTHON" "$FSG_SOURCE_DIR/tests/cli/forge_crc.py" "$@" ||
        { echo "test bug: forge failed" >&2; exit 2; }
}


# ---- boot on sha256 tables ----

begin "a clean device with sha256 entries: boot, verify, inspect exit 0 and write nothing"
sha_device
snap_to "$IO/dev.before" "$DEV"
fsg boot --root "$DEV"
expect_rc 0
expect_out "5 files checked"
expect_snap "$IO/dev.before" "$DEV" "clean boot"
fsg verify --root "$DEV"
expect_rc 0
fsg inspect --root "$DEV"
expect_rc 0
expect_out_line "sha256:" "/usr/a.txt"
expect_out_line "/usr/b.txt"
expect_snap "$IO/dev.before" "$DEV" "verify and inspect"

begin "a changed sha256-only user file is restored (exit 1); its entry stays sha256-only"
sha_device
cp "$USR/checksum.json" "$IO/table.before"
printf 'ALPHA\n' >"$USR/a.txt"
fsg verify --root "$DEV"
expect_rc 1 "verify reports it"
fsg boot --root "$DEV"
expect_rc 1
expect_out_line "a.txt" "sha256"
expect_restored /usr/a.txt
py_expect "the user table is unchanged: a.txt sha256-only, same value" \
    'raw(USR + "/checksum.json") == raw(argv[0]) and sorted(entry(USR + "/checksum.json", "/usr/a.txt")) == ["name", "sha256"]' "$IO/table.before"
fsg boot --root "$DEV"
expect_rc 0 "a second boot"

begin "a large sha256-only file with one flipped bit is restored"
sha_device
flip_bit "$USR/data.bin" 140000
fsg boot --root "$DEV"
expect_rc 1
expect_restored /usr/data.bin

begin "a user file forged to keep its CRC-32 under a both-entry is restored, the sha256 named"
sha_device
printf 'evil\n' >"$IO/evil"
forge "$USR/c.txt" "$IO/evil" "$USR/c.txt"
py_expect "(check of the test) the forged user file has the table's CRC-32, other bytes" \
    'crc(USR + "/c.txt") == int(entry(USR + "/checksum.json", "/usr/c.txt")["crc32"], 16) and sha(USR + "/c.txt") != entry(USR + "/checksum.json", "/usr/c.txt")["sha256"]'
cp "$USR/checksum.json" "$IO/table.before"
fsg boot --root "$DEV"
expect_rc 1
expect_out_line "c.txt" "sha256"
expect_restored /usr/c.txt
py_expect "the table is unchanged" 'raw(USR + "/checksum.json") == raw(argv[0])' "$IO/table.before"

begin "(contrast) a crc32-only entry accepts the same forgery: that is what sha256 is for"
sha_device
forge "$USR/b.txt" "$IO/evil" "$USR/b.txt"
py_expect "(check of the test) the forged user file has the table's CRC-32, other bytes" \
    'crc(USR + "/b.txt") == int(entry(USR + "/checksum.json", "/usr/b.txt")["crc32"], 16) and open(USR + "/b.txt", "rb").read() != open(BAK + "/usr/b.txt", "rb").read()'
snap_to "$IO/dev.before" "$DEV"
fsg boot --root "$DEV"
expect_rc 0
expect_snap "$IO/dev.before" "$DEV" "boot with a forged crc-only file"

begin "missing sha256-only files are restored (a nested one too, its directory recreated)"
sha_device
rm "$USR/a.txt"
rm -r "${USR:?}/lib"
fsg boot --root "$DEV"
expect_rc 1
expect_restored /usr/a.txt /usr/lib/d.txt
py_expect "the entries stay sha256-only" \
    'sorted(entry(USR + "/checksum.json", "/usr/a.txt")) == sorted(entry(USR + "/checksum.json", "/usr/lib/d.txt")) == ["name", "sha256"]'

begin "crc32-only entries still work next to sha256 ones"
sha_device
printf 'BETA\n' >"$USR/b.txt"
fsg boot --root "$DEV"
expect_rc 1
expect_restored /usr/b.txt
rm "$USR/b.txt"
fsg boot --root "$DEV"
expect_rc 1
expect_restored /usr/b.txt
fsg boot --root "$DEV"
expect_rc 0

begin "a damaged backup copy under a sha256 entry is not restored from (exit 4)"
sha_device
printf 'ALPHA\n' >"$BAK/usr/a.txt"
rm "$USR/a.txt"
fsg boot --root "$DEV"
expect_rc 4
expect_out_line "a.txt" "backup copy is damaged"
expect_absent "$USR/a.txt"
fsg inspect --root "$DEV"
expect_rc 4 "inspect finds the damaged backup copy"
expect_out_line "/usr/a.txt"

begin "uppercase sha256 hex is read (formats.md: either case)"
sha_device
"$PYTHON" - "$USR" "$BAK/checksum.json" <<'EOF'
import hashlib, json, sys
usr, p = sys.argv[1], sys.argv[2]
t = json.load(open(p))
for e in t:
    if e["name"] == "/usr/a.txt":
        e["sha256"] = hashlib.sha256(open(usr + "/a.txt", "rb").read()).hexdigest().upper()
json.dump(t, open(p, "w"))
EOF
cp "$BAK/checksum.json" "$USR/checksum.json"
snap_to "$IO/dev.before" "$DEV"
fsg boot --root "$DEV"
expect_rc 0 "uppercase sha256 of the right content"
expect_snap "$IO/dev.before" "$DEV" "clean boot with uppercase sha256"
printf 'ALPHA\n' >"$USR/a.txt"
fsg boot --root "$DEV"
expect_rc 1 "uppercase sha256, file changed"
expect_restored /usr/a.txt

# ---- bad sha256 values ----

# bad_sha VALUE-JSON WHAT: the entries e1.txt and e2.txt carry "sha256":
# VALUE in both tables, e3.txt has it only in the user table (the backup's
# e3 entry is good); a good file (a.txt) is damaged too.
bad_sha() {
    local v=$1 what=$2
    begin "bad sha256 ($what): reported as a bad entry (exit 4), others still checked"
    sha_device e1.txt=raw:"{\"sha256\": $v}" e2.txt=raw:"{\"crc32\": \"0x1\", \"sha256\": $v}" e3.txt=sha
    "$PYTHON" - "$USR/checksum.json" "$v" <<'EOF'
import json, sys
p, v = sys.argv[1], json.loads(sys.argv[2])
t = json.load(open(p))
for e in t:
    if e["name"] == "/usr/e3.txt":
        e["sha256"] = v
json.dump(t, open(p, "w"))
EOF
    printf 'ALPHA\n' >"$USR/a.txt"
    printf 'changed e1\n' >"$USR/e1.txt"
    local fp1
    fp1=$(fingerprint "$USR/e1.txt")
    fsg boot --root "$DEV" --json
    expect_rc 4
    expect_json
    expect_err_line "e1.txt" "sha256"
    expect_err_line "e2.txt" "sha256"
    py_expect "--json lists the bad entries e1 and e2 (bak)" \
        '{(i["manifest"], i["name"]) for i in report()["invalid_entries"]} >= {("bak", "/usr/e1.txt"), ("bak", "/usr/e2.txt")}'
    expect_restored /usr/a.txt
    expect_fingerprint "$fp1" "$USR/e1.txt" "the file of a skipped (bad) entry is left alone"
    py_expect "the bad entries are written back verbatim; e3's refused user entry is replaced by the backup's" \
        'entry(USR + "/checksum.json", "/usr/e1.txt") == {"name": "/usr/e1.txt", "sha256": json.loads(argv[0])} and entry(USR + "/checksum.json", "/usr/e3.txt") == entry(BAK + "/checksum.json", "/usr/e3.txt")' "$v"
    fsg inspect --root "$DEV"
    expect_rc 4 "inspect reports the bad entries"
}
bad_sha "\"$(printf 'a%.0s' $(seq 63))\"" "63 hex digits"
bad_sha "\"$(printf 'a%.0s' $(seq 65))\"" "65 hex digits"
bad_sha "\"$(printf 'z%.0s' $(seq 64))\"" "64 non-hex characters"
bad_sha "\"0x$(printf 'a%.0s' $(seq 62))\"" "0x prefix"
bad_sha '""' "empty string"
bad_sha '123' "a number"
bad_sha 'null' "null"

# ---- calc and put ----

begin "calc on a sha256-only entry records the new sha256, entry stays sha256-only"
sha_device
cp "$USR/checksum.json" "$IO/table.before"
printf 'alpha v2\n' >"$USR/a.txt"
fsg calc --root "$DEV" /usr/a.txt
expect_rc 0
expect_eq "$(sha256sum "$USR/a.txt" | cut -d' ' -f1)" "$(cat "$OUT")" \
    "calc prints the sha256 it recorded for a sha256-only entry"
py_expect "a.txt's entry is {name, sha256 of the new content}" \
    'entry(USR + "/checksum.json", "/usr/a.txt") == {"name": "/usr/a.txt", "sha256": sha(USR + "/a.txt")}'
py_expect "every other entry is unchanged" \
    '[e for e in raw(USR + "/checksum.json") if e["name"] != "/usr/a.txt"] == [e for e in raw(argv[0]) if e["name"] != "/usr/a.txt"]' "$IO/table.before"
snap_to "$IO/dev.before" "$DEV"
fsg calc --root "$DEV" /usr/a.txt
expect_rc 0 "calc again"
expect_snap "$IO/dev.before" "$DEV" "calc with the hash already recorded writes nothing"
fsg boot --root "$DEV"
expect_rc 0 "boot after calc keeps the new content"
expect_snap "$IO/dev.before" "$DEV" "boot after calc"

begin "calc on a both-entry updates both; on a crc32-only entry, the crc32 only"
sha_device
printf 'gamma v2\n' >"$USR/c.txt"
printf 'beta v2\n' >"$USR/b.txt"
fsg calc --root "$DEV" --json /usr/c.txt
expect_rc 0 "calc --json"
py_expect "calc --json gives both hashes of a both-entry" \
    'json.loads(open(OUT).read()) == {"name": "/usr/c.txt", "crc32": hex(crc(USR + "/c.txt")), "sha256": sha(USR + "/c.txt"), "fsguard_json": 1, "exit_code": 0, "error": None}'
fsg calc --root "$DEV" /usr/c.txt
expect_rc 0
expect_eq "$(python3 -c 'import binascii,sys; print(hex(binascii.crc32(open(sys.argv[1],"rb").read(),0xFFFFFFFF)))' "$USR/c.txt")" "$(cat "$OUT")" \
    "calc prints the CRC-32 of a both-entry"
py_expect "c.txt: both hashes of the new content" \
    'entry(USR + "/checksum.json", "/usr/c.txt") == {"name": "/usr/c.txt", "crc32": hex(crc(USR + "/c.txt")), "sha256": sha(USR + "/c.txt")}'
fsg calc --root "$DEV" /usr/b.txt
expect_rc 0
py_expect "b.txt: crc32 only" \
    'entry(USR + "/checksum.json", "/usr/b.txt") == {"name": "/usr/b.txt", "crc32": hex(crc(USR + "/b.txt"))}'
fsg boot --root "$DEV"
expect_rc 0

begin "calc keeps other keys of a sha256 entry"
sha_device e1.txt=raw:'{"sha256": "0000000000000000000000000000000000000000000000000000000000000000", "note": {"k": [1, 2]}}'
fsg calc --root "$DEV" /usr/e1.txt
expect_rc 0
py_expect "e1.txt: new sha256, the extra key kept, no crc32 added" \
    'entry(USR + "/checksum.json", "/usr/e1.txt") == {"name": "/usr/e1.txt", "sha256": sha(USR + "/e1.txt"), "note": {"k": [1, 2]}}'

begin "put on a sha256-only entry: new content, sha256 recorded, nothing pending"
sha_device
cp "$USR/checksum.json" "$IO/table.before"
printf 'alpha via put\n' >"$IO/new.txt"
fsg put --root "$DEV" "$IO/new.txt" /usr/a.txt
expect_rc 0
expect_same "$USR/a.txt" "$IO/new.txt" "the new content is in place"
py_expect "a.txt's entry is {name, sha256 of the new content}, no fsg_pending keys" \
    'entry(USR + "/checksum.json", "/usr/a.txt") == {"name": "/usr/a.txt", "sha256": sha(argv[0])}' "$IO/new.txt"
py_expect "every other entry is unchanged" \
    '[e for e in raw(USR + "/checksum.json") if e["name"] != "/usr/a.txt"] == [e for e in raw(argv[0]) if e["name"] != "/usr/a.txt"]' "$IO/table.before"
expect_absent "$USR/.a.txt.fsg-tmp"
snap_to "$IO/dev.before" "$DEV"
fsg boot --root "$DEV"
expect_rc 0 "boot after put"
expect_snap "$IO/dev.before" "$DEV" "boot after put"

begin "put on a both-entry and into a sha256-only nested file"
sha_device
printf 'gamma via put\n' >"$IO/new.c"
head -c 100000 /dev/urandom >"$IO/new.d"
fsg put --root "$DEV" "$IO/new.c" /usr/c.txt
expect_rc 0
fsg put --root "$DEV" "$IO/new.d" /usr/lib/d.txt
expect_rc 0
expect_same "$USR/c.txt" "$IO/new.c"
expect_same "$USR/lib/d.txt" "$IO/new.d"
py_expect "c.txt both hashes; lib/d.txt sha256 only" \
    'entry(USR + "/checksum.json", "/usr/c.txt") == {"name": "/usr/c.txt", "crc32": hex(crc(argv[0])), "sha256": sha(argv[0])} and entry(USR + "/checksum.json", "/usr/lib/d.txt") == {"name": "/usr/lib/d.txt", "sha256": sha(argv[1])}' \
    "$IO/new.c" "$IO/new.d"
fsg boot --root "$DEV"
expect_rc 0

begin "boot finishes a put left pending on a sha256-only entry (fsg_pending_sha256)"
sha_device
printf 'alpha v3\n' >"$USR/a.txt"
"$PYTHON" - "$USR" <<'EOF'
import hashlib, json, sys
usr = sys.argv[1]
t = json.load(open(usr + "/checksum.json"))
for e in t:
    if e["name"] == "/usr/a.txt":
        e["fsg_pending_sha256"] = hashlib.sha256(open(usr + "/a.txt", "rb").read()).hexdigest()
json.dump(t, open(usr + "/checksum.json", "w"))
EOF
cp "$USR/a.txt" "$IO/v3"
fsg boot --root "$DEV"
expect_rc 1
expect_same "$USR/a.txt" "$IO/v3" "the new content stays"
py_expect "committed: sha256-only entry with the new hash" \
    'entry(USR + "/checksum.json", "/usr/a.txt") == {"name": "/usr/a.txt", "sha256": sha(USR + "/a.txt")}'

# ---- --json and inspect ----

begin "boot --json shows sha256 for sha256 entries, and found_sha256 for a restored file"
sha_device
printf 'ALPHA\n' >"$USR/a.txt"
a_sha=$(sha "$BAK/usr/a.txt")
bad=$(sha "$USR/a.txt")
fsg boot --root "$DEV" --json
expect_rc 1
expect_json
py_expect "a.txt: restored, sha256 the table's, found_sha256 the damaged content's" \
    'files()["/usr/a.txt"]["status"] == "restored" and files()["/usr/a.txt"]["sha256"] == argv[0] and files()["/usr/a.txt"]["found_sha256"] == argv[1]' "$a_sha" "$bad"
py_expect "ok sha256 entries show their sha256; c.txt both; b.txt its crc32" \
    'files()["/usr/lib/d.txt"]["status"] == "ok" and files()["/usr/lib/d.txt"]["sha256"] == sha(USR + "/lib/d.txt") and files()["/usr/c.txt"]["sha256"] == sha(USR + "/c.txt") and files()["/usr/c.txt"]["crc32"] == hex(crc(USR + "/c.txt")) and files()["/usr/b.txt"]["crc32"] == hex(crc(USR + "/b.txt"))'
py_expect "every sha256 value in the report is 64 lowercase hex digits" \
    'all(len(f["sha256"]) == 64 and all(c in "0123456789abcdef" for c in f["sha256"]) for f in report()["files"] if f.get("sha256") is not None)'
fsg verify --root "$DEV" --json
expect_rc 0
expect_json

begin "inspect --json on sha256 entries: hashes shown, damage found in either partition"
sha_device
fsg inspect --root "$DEV" --json
expect_rc 0
expect_json
py_expect "both partitions list a.txt with its sha256 and found_sha256" \
    'all({f["name"]: f for f in p["files"]}["/usr/a.txt"]["sha256"] == sha(USR + "/a.txt") == {f["name"]: f for f in p["files"]}["/usr/a.txt"]["found_sha256"] for p in report()["partitions"]) and len(report()["partitions"]) == 2'
flip_bit "$BAK/usr/lib/d.txt"
printf 'ALPHA\n' >"$USR/a.txt"
snap_to "$IO/dev.before" "$DEV"
fsg inspect --root "$DEV" --json
expect_rc 4
expect_json
py_expect "bak: lib/d.txt not ok; usr: a.txt not ok; the others ok" \
    '[sorted(f["name"] for f in p["files"] if f["status"] != "ok") for p in report()["partitions"]] in (
        [["/usr/lib/d.txt"], ["/usr/a.txt"]], [["/usr/a.txt"], ["/usr/lib/d.txt"]])'
fsg inspect --usr "$USR"
expect_rc 4
expect_out_line "/usr/a.txt"
expect_snap "$IO/dev.before" "$DEV" "inspect writes nothing"

# ---- permissions of restored and written files ----

begin "umask 000: a file restored from a 4755 backup copy is 0755, from a 0777 one 0775"
sha_device
chmod 4755 "$BAK/usr/a.txt" "$BAK/usr/b.txt"
chmod 0777 "$BAK/usr/c.txt"
rm "$USR/a.txt" "$USR/b.txt"
printf 'GAMMA\n' >"$USR/c.txt"
chmod 0777 "$USR/c.txt"
umask 000
fsg boot --root "$DEV"
umask 022
expect_rc 1
expect_restored /usr/a.txt /usr/b.txt /usr/c.txt
expect_eq "755 755 775" "$(stat -c %a "$USR/a.txt" "$USR/b.txt" "$USR/c.txt" 2>&1 | tr '\n' ' ' | sed 's/ $//')" \
    "modes of restored files (sha256, crc32, both entries; a 0777 file replaced) with umask 000"

begin "umask 077: a file restored from a 4755 backup copy is still 0755"
sha_device
chmod 4755 "$BAK/usr/a.txt" "$BAK/usr/b.txt"
rm "$USR/a.txt"
printf 'BETA\n' >"$USR/b.txt"
chmod 0644 "$USR/b.txt"
umask 077
fsg boot --root "$DEV"
umask 022
expect_rc 1
expect_restored /usr/a.txt /usr/b.txt
expect_eq "755 755" "$(stat -c %a "$USR/a.txt" "$USR/b.txt" 2>&1 | tr '\n' ' ' | sed 's/ $//')" \
    "modes of restored files with umask 077"

begin "umask 000: checksum.json made from a 0777 backup table is 0644; calc and put keep its bits, without world-write"
sha_device
chmod 0777 "$BAK/checksum.json"
rm "$USR/checksum.json"
umask 000
fsg boot --root "$DEV"
umask 022
expect_rc 1
expect_eq "644" "$(stat -c %a "$USR/checksum.json" 2>&1)" "mode of the copied user checksum.json"
chmod 0777 "$USR/checksum.json"
printf 'alpha v2\n' >"$USR/a.txt"
umask 000
fsg calc --root "$DEV" /usr/a.txt
umask 022
expect_rc 0
expect_eq "775" "$(stat -c %a "$USR/checksum.json" 2>&1)" "mode of checksum.json rewritten by calc"
printf 'new c\n' >"$IO/src.c"
chmod 4755 "$IO/src.c"
chmod 0777 "$USR/c.txt"
umask 000
fsg put --root "$DEV" "$IO/src.c" /usr/c.txt
umask 022
expect_rc 0
expect_eq "775 775" "$(stat -c %a "$USR/c.txt" "$USR/checksum.json" 2>&1 | tr '\n' ' ' | sed 's/ $//')" \
    "modes of a 0777 file put from a 4755 source (the file's own, not the source's) and of checksum.json"

finish
