# test_sign.sh -- signed backups: `fsguard keygen KEY`, `fsguard pack
# --hash crc32|sha256|both --sign KEY` and `fsguard boot|verify|inspect
# --pubkey KEY.pub`. Keys and signatures are checked independently with
# OpenSSL (when openssl and xxd are installed); every refusal is shown to
# write nothing at all in the device, even when a boot would otherwise have
# repaired something; a backup copy altered after signing -- even with its
# CRC-32 kept by four forged bytes -- is never restored.
. "$(dirname "$0")/lib.sh"

umask 022

# ---- helpers ----

HAVE_OSSL=0
if command -v openssl >/dev/null 2>&1 && command -v xxd >/dev/null 2>&1; then
    HAVE_OSSL=1
else
    # scripts/deps.sh installs both: a run that cannot check is a failure.
    begin "the independent OpenSSL checks can run"
    fail "openssl and xxd are needed (scripts/deps.sh installs them)"
fi

# sha FILE: the sha256 of FILE, lowercase hex.
sha() {
    sha256sum <"$1" | cut -d' ' -f1
}

# The keys of the whole run, in $KEYS (made once, by fsguard keygen).
KEYS="$T/keys"
mkdir -p "$KEYS"

# kg ARGS...: runs `fsguard keygen ARGS` through fsg, which asserts that
# nothing but $KD changed.
kg() {
    local d=$DEV u=$USR
    DEV="$CASEDIR/dev" USR="$KD"
    fsg keygen "$@"
    DEV=$d USR=$u
}

# signed_device: pack_case, packed with --sign $K (exit 0 asserted); the
# current device is $O.
signed_device() {
    pack_case
    pk "$SRC" --out "$O" --sign "$K"
    expect_rc 0 "pack --sign"
}

# ossl_verify PUBHEX SIGHEX DATAFILE: OpenSSL's verdict on an Ed25519
# signature (0 good). The public key is wrapped in its DER SPKI prefix.
ossl_verify() {
    echo "302a300506032b6570032100$1" | xxd -r -p >"$IO/pub.der"
    openssl pkey -pubin -inform DER -in "$IO/pub.der" -out "$IO/pub.pem" 2>"$IO/ossl.err" || return 2
    echo "$2" | xxd -r -p >"$IO/sig.bin"
    openssl pkeyutl -verify -pubin -inkey "$IO/pub.pem" -rawin -in "$3" \
        -sigfile "$IO/sig.bin" >"$IO/ossl.out" 2>>"$IO/ossl.err"
}

# ossl_sign SECRETKEYFILE DATAFILE: prints OpenSSL's Ed25519 signature of
# DATAFILE (hex) made with the seed in fsguard's secret key file.
ossl_sign() {
    local seed
    seed=$(cut -d' ' -f2 "$1")
    echo "302e020100300506032b657004220420$seed" | xxd -r -p >"$IO/sk.der"
    openssl pkeyutl -sign -keyform DER -inkey "$IO/sk.der" -rawin -in "$2" -out "$IO/sig.out" &&
        xxd -p -c 200 "$IO/sig.out"
}

# forge ORIG PREFIX OUT: OUT = PREFIX + 4 bytes chosen so that OUT's
# QuecPython hash, binascii.crc32(data, 0xFFFFFFFF), equals ORIG's. The
# CRC is affine over GF(2) in the appended bits: a 32x32 linear system.
forge() {
    mkdir -p "$(dirname "$3")"
    "$PYTHON" "$FSG_SOURCE_DIR/tests/cli/forge_crc.py" "$@" ||
        { echo "test bug: forge failed" >&2; exit 2; }
}

# damage_usr: a user partition a boot would repair: main.py damaged,
# lib/util.py missing.
damage_usr() {
    flip_bit "$USR/main.py" 3
    rm -f "$USR/lib/util.py"
}

# refused WHAT STDERR-TEXT...: runs boot and verify with --pubkey $KP (or
# $PUB when set) on the current device: each exits 8, says so on stderr (a
# line with every TEXT) and writes nothing anywhere in $DEV; inspect
# --pubkey exits 8 too. Then a boot without --pubkey would repair (the
# damage was real).
refused() {
    local what=$1
    shift
    local pub=${PUB:-$KP}
    snap_to "$IO/dev.before" "$DEV"
    fsg boot --root "$DEV" --pubkey "$pub"
    expect_rc 8 "boot --pubkey: $what"
    expect_err_line "$@"
    expect_snap "$IO/dev.before" "$DEV" "boot --pubkey refusing ($what)"
    fsg boot --root "$DEV" --pubkey "$pub" --json
    expect_rc 8 "boot --pubkey --json: $what"
    expect_snap "$IO/dev.before" "$DEV" "boot --pubkey --json refusing ($what)"
    fsg verify --root "$DEV" --pubkey "$pub"
    expect_rc 8 "verify --pubkey: $what"
    expect_err_line "$@"
    expect_snap "$IO/dev.before" "$DEV" "verify --pubkey refusing ($what)"
    fsg inspect --root "$DEV" --pubkey "$pub"
    expect_rc 8 "inspect --pubkey: $what"
    fsg verify --root "$DEV"
    expect_rc 1 "(check of the test) verify without --pubkey would repair"
    expect_snap "$IO/dev.before" "$DEV" "all of the above"
}

# ---- keygen ----

begin "keygen KEY: KEY (0600, secret line) and KEY.pub (0644, public line)"
new_case
KD="$KEYS"
kg "$KEYS/k"
expect_rc 0
K="$KEYS/k"
KP="$KEYS/k.pub"
expect_eq "600" "$(stat -c %a "$K" 2>&1)" "mode of the secret key file"
expect_eq "644" "$(stat -c %a "$KP" 2>&1)" "mode of the public key file (umask 022)"
if grep -qxE 'fsguard-ed25519-secret [0-9a-f]{64}' "$K" && [ "$(wc -l <"$K")" = 1 ] &&
    [ "$(stat -c %s "$K")" = 88 ]; then pass; else
    fail "KEY is one line 'fsguard-ed25519-secret <64 hex>'" "$(cat -A "$K" 2>&1)"
fi
if grep -qxE 'fsguard-ed25519-public [0-9a-f]{64}' "$KP" && [ "$(wc -l <"$KP")" = 1 ] &&
    [ "$(stat -c %s "$KP")" = 88 ]; then pass; else
    fail "KEY.pub is one line 'fsguard-ed25519-public <64 hex>'" "$(cat -A "$KP" 2>&1)"
fi
PKHEX=$(cut -d' ' -f2 "$KP")
expect_out "$PKHEX"
if [ $HAVE_OSSL = 1 ]; then
    seed=$(cut -d' ' -f2 "$K")
    derived=$(echo "302e020100300506032b657004220420$seed" | xxd -r -p |
        openssl pkey -inform DER -pubout -outform DER 2>/dev/null | xxd -p -c 200)
    expect_eq "302a300506032b6570032100$PKHEX" "$derived" \
        "OpenSSL derives KEY.pub's public key from KEY's seed (RFC 8032)"
fi
kg "$KEYS/k2"
expect_rc 0 "a second key pair"
K2="$KEYS/k2"
KP2="$KEYS/k2.pub"
if [ "$(cut -d' ' -f2 "$K")" != "$(cut -d' ' -f2 "$K2")" ] &&
    [ "$(cut -d' ' -f2 "$KP")" != "$(cut -d' ' -f2 "$KP2")" ]; then pass; else
    fail "two keygens give two different key pairs"
fi

begin "keygen refuses when KEY or KEY.pub exists: exit 8, nothing written"
new_case
KD="$CASEDIR/keys"
mkdir -p "$KD"
printf 'precious\n' >"$KD/a"
snap_to "$IO/kd.before" "$KD"
kg "$KD/a"
expect_rc 8 "KEY exists"
expect_err "$KD/a"
expect_snap "$IO/kd.before" "$KD" "keygen with an existing KEY"
expect_absent "$KD/a.pub"
printf 'precious pub\n' >"$KD/b.pub"
snap_to "$IO/kd.before" "$KD"
kg "$KD/b"
expect_rc 8 "KEY.pub exists (KEY not)"
expect_err "b.pub"
expect_snap "$IO/kd.before" "$KD" "keygen with an existing KEY.pub"
expect_absent "$KD/b"
cp "$K" "$KD/c"
cp "$KP" "$KD/c.pub"
snap_to "$IO/kd.before" "$KD"
kg "$KD/c"
expect_rc 8 "both exist"
expect_snap "$IO/kd.before" "$KD" "keygen with both existing"
# A dangling link to a place outside: it exists (lstat), so keygen must
# refuse before creating anything (not create KEY, then fail on KEY.pub's
# O_EXCL and unlink KEY again: the directory would still change).
ln -s "$OUTSIDE/planted" "$KD/d.pub"
snap_to "$IO/kd.before" "$KD"
kg "$KD/d"
expect_rc 8 "KEY.pub is a dangling symbolic link"
expect_snap "$IO/kd.before" "$KD" "keygen with a dangling KEY.pub link"
expect_absent "$OUTSIDE/planted" "keygen must not write through a link"
expect_absent "$KD/d"
ln -s "$OUTSIDE/planted" "$KD/e"
snap_to "$IO/kd.before" "$KD"
kg "$KD/e"
expect_rc 8 "KEY is a dangling symbolic link"
expect_snap "$IO/kd.before" "$KD" "keygen with a dangling KEY link"
expect_absent "$OUTSIDE/planted" "keygen must not write through a link"
kg "$KD/nodir/k"
expect_rc 8 "KEY's directory does not exist"
expect_absent "$KD/nodir"

begin "keygen usage errors: exit 16, nothing written"
snap_to "$IO/kd.before" "$KD"
kg
expect_rc 16 "no KEY"
kg "$KD/x" "$KD/y"
expect_rc 16 "two KEYs"
kg --bogus "$KD/x"
expect_rc 16 "unknown option"
kg "$KD/x" --bogus
expect_rc 16 "unknown option after KEY"
expect_snap "$IO/kd.before" "$KD" "keygen usage errors"
fsg keygen --help
expect_rc 0 "keygen --help"
expect_out "KEY.pub"

begin "keygen modes follow the policy: secret 0600 always, public 0644 less the umask"
umask 000
kg "$KD/u0"
umask 022
expect_rc 0
expect_eq "600 644" "$(stat -c %a "$KD/u0" "$KD/u0.pub" 2>&1 | tr '\n' ' ' | sed 's/ $//')" "modes with umask 000"
umask 077
kg "$KD/u7"
umask 022
expect_rc 0
expect_eq "600 600" "$(stat -c %a "$KD/u7" "$KD/u7.pub" 2>&1 | tr '\n' ' ' | sed 's/ $//')" "modes with umask 077"

# ---- pack --hash ----

# hash_check KIND: every entry of both tables has exactly the keys of KIND
# (crc32, sha256, both), each hash as computed here from SRC.
hash_check() {
    py_expect "pack --hash $1: entries carry exactly the $1 hashes of SRC" '
        (lambda kind, src, h: all(
            sorted(e) == sorted(["name"] + {"crc32": ["crc32"], "sha256": ["sha256"], "both": ["crc32", "sha256"]}[kind])
            and ("crc32" not in e or e["crc32"] == hex(crc(src + e["name"][4:])))
            and ("sha256" not in e or e["sha256"] == h.sha256(open(src + e["name"][4:], "rb").read()).hexdigest())
            for t in (raw(BAK + "/checksum.json"), raw(USR + "/checksum.json")) for e in t)
         and len(raw(BAK + "/checksum.json")) == 7
         and raw(BAK + "/checksum.json") == raw(USR + "/checksum.json"))(argv[0], argv[1], __import__("hashlib"))' \
        "$1" "$SRC"
}

begin "pack without --hash: crc32 only, {\"name\", \"crc32\"}"
pack_case
pk "$SRC" --out "$O"
expect_rc 0
hash_check crc32
expect_absent "$BAK/checksum.json.sig" "no signature without --sign"
qpy_accepts

begin "pack --hash sha256: sha256 only, 64 lowercase hex = sha256sum"
pack_case
pk "$SRC" --out "$O" --hash sha256
expect_rc 0
hash_check sha256
expect_eq "$(sha "$SRC/data.bin")" \
    "$("$PYTHON" -c 'import json,sys; print([e["sha256"] for e in json.load(open(sys.argv[1])) if e["name"] == "/usr/data.bin"][0])' "$BAK/checksum.json" 2>&1)" \
    "the sha256 of /usr/data.bin is sha256sum's"
if grep -qE '"sha256":"[0-9a-f]{64}"' "$BAK/checksum.json" && ! grep -qE '"sha256":"[^"]*[A-F]' "$BAK/checksum.json"; then pass; else
    fail "sha256 values are 64 lowercase hex digits" "$(cat "$BAK/checksum.json")"
fi
snap_to "$IO/dev.before" "$O"
fsg boot --root "$O"
expect_rc 0 "boot on a sha256 device"
expect_snap "$IO/dev.before" "$O" "boot on a sha256 device"

begin "pack --hash both: crc32 and sha256"
pack_case
pk "$SRC" --out "$O" --hash both
expect_rc 0
hash_check both
qpy_accepts

begin "pack --hash: a bad kind is a usage error"
pack_case
pk "$SRC" --out "$O" --hash md5
expect_rc 16
expect_absent "$O"
pk "$SRC" --out "$O" --hash
expect_rc 16
expect_absent "$O"

# ---- pack --sign ----

begin "pack --sign: hashes default to both; bak/checksum.json.sig = ed25519 PUB SIG"
signed_device
hash_check both
expect_out "signed"
expect_exists "$BAK/checksum.json.sig"
if grep -qxE "ed25519 $PKHEX [0-9a-f]{128}" "$BAK/checksum.json.sig" && [ "$(wc -l <"$BAK/checksum.json.sig")" = 1 ] &&
    [ "$(stat -c %s "$BAK/checksum.json.sig")" = $((8 + 65 + 129)) ]; then pass; else
    fail "the signature file is one line 'ed25519 <the key's 64 hex> <128 hex>\\n'" "$(cat -A "$BAK/checksum.json.sig" 2>&1)"
fi
qpy_accepts
if [ $HAVE_OSSL = 1 ]; then
    spk="" ssig=""
    read -r _ spk ssig <"$BAK/checksum.json.sig" || true
    if ossl_verify "$spk" "$ssig" "$BAK/checksum.json"; then pass; else
        fail "OpenSSL verifies the signature over bak/checksum.json" "$(cat "$IO/ossl.out" "$IO/ossl.err")"
    fi
    # Exit 1 is OpenSSL's "verification failure"; anything else (2: the
    # key could not be loaded) is no verdict at all.
    rc=0; ossl_verify "$spk" "$ssig" "$USR/main.py" || rc=$?
    if [ "$rc" = 1 ]; then pass; else
        fail "(check of the test) OpenSSL must reject the signature over other bytes" "exit $rc"
    fi
    rc=0; ossl_verify "$(cut -d' ' -f2 "$KP2")" "$ssig" "$BAK/checksum.json" || rc=$?
    if [ "$rc" = 1 ]; then pass; else
        fail "(check of the test) OpenSSL must reject the signature under another key" "exit $rc"
    fi
else
    echo "NOTE: OpenSSL check of the signature skipped"
fi
cp "$BAK/checksum.json.sig" "$IO/sig.first"
pk "$SRC" --out "$PO/again" --sign "$K"
expect_rc 0
expect_same "$PO/again/bak/checksum.json.sig" "$IO/sig.first" "signing is deterministic (Ed25519)"
snap_to "$IO/dev.before" "$O"
fsg boot --root "$O" --pubkey "$KP"
expect_rc 0 "boot --pubkey on the freshly signed device"
expect_empty_err
expect_snap "$IO/dev.before" "$O" "boot --pubkey on a clean signed device"
fsg verify --root "$O" --pubkey "$KP"
expect_rc 0 "verify --pubkey"
fsg inspect --root "$O" --pubkey "$KP"
expect_rc 0 "inspect --pubkey"
expect_out "signature: good"
fsg boot --root "$O"
expect_rc 0 "boot without --pubkey ignores the signature"
expect_snap "$IO/dev.before" "$O" "boot, verify, inspect on a signed device"

begin "pack --sign --hash sha256 and --hash both are accepted; --hash crc32 is a usage error"
pack_case
pk "$SRC" --out "$O" --sign "$K" --hash sha256
expect_rc 0
hash_check sha256
expect_exists "$BAK/checksum.json.sig"
pk "$SRC" --out "$PO/both" --sign "$K" --hash both
expect_rc 0
expect_exists "$PO/both/bak/checksum.json.sig"
pk "$SRC" --out "$PO/crc" --sign "$K" --hash crc32
expect_rc 16 "--sign with --hash crc32"
expect_err "sha256"
expect_absent "$PO/crc"
pk "$SRC" --out "$PO/crc" --hash crc32 --sign "$K"
expect_rc 16 "--hash crc32 before --sign"
expect_absent "$PO/crc"

begin "pack --sign refuses a public key, a non-key file, a missing file (exit 8, OUT not created)"
pack_case
pk "$SRC" --out "$O" --sign "$KP"
expect_rc 8 "--sign KEY.pub"
expect_err "public key"
expect_absent "$O"
pk "$SRC" --out "$O" --sign "$SRC/main.py"
expect_rc 8 "--sign a non-key file"
expect_err "not an fsguard key file"
expect_absent "$O"
sed 's/ \(..\)/ zz/' "$K" >"$CASEDIR/badhex"
pk "$SRC" --out "$O" --sign "$CASEDIR/badhex"
expect_rc 8 "--sign a key file with a non-hex seed"
expect_absent "$O"
head -c 60 "$K" >"$CASEDIR/short"
pk "$SRC" --out "$O" --sign "$CASEDIR/short"
expect_rc 8 "--sign a truncated key file"
expect_absent "$O"
pk "$SRC" --out "$O" --sign "$CASEDIR/no-such-key"
expect_rc 8 "--sign a missing file"
expect_absent "$O"
pk "$SRC" --out "$O" --sign
expect_rc 16 "--sign without a value"
expect_absent "$O"

# ---- boot --pubkey: a good signature ----

begin "boot --pubkey with a good signature repairs as usual (exit 1), restores byte-identical"
signed_device
damage_usr
fsg boot --root "$DEV" --pubkey "$KP"
expect_rc 1
expect_restored /usr/main.py /usr/lib/util.py
fsg boot --root "$DEV" --pubkey "$KP"
expect_rc 0 "a second boot"

begin "a signed --hash sha256 table: boot --pubkey verifies and restores"
pack_case
pk "$SRC" --out "$O" --sign "$K" --hash sha256
expect_rc 0
snap_to "$IO/dev.before" "$DEV"
fsg boot --root "$DEV" --pubkey "$KP"
expect_rc 0
expect_snap "$IO/dev.before" "$DEV" "clean boot"
damage_usr
fsg boot --root "$DEV" --pubkey "$KP" --json
expect_rc 1
expect_json
expect_restored /usr/main.py /usr/lib/util.py
py_expect "--json: the signature is reported good, restored entries carry their sha256" \
    'report()["signature"] not in ("unchecked", None) and files()["/usr/main.py"]["status"] == "restored" and files()["/usr/main.py"]["sha256"] == [e for e in raw(BAK + "/checksum.json") if e["name"] == "/usr/main.py"][0]["sha256"]'
py_expect "the user table stays sha256-only" \
    'all(sorted(e) == ["name", "sha256"] for e in raw(USR + "/checksum.json"))'

# ---- boot --pubkey: refusals, nothing written ----

begin "missing checksum.json.sig: exit 8, named, nothing written"
signed_device
damage_usr
rm "$BAK/checksum.json.sig"
refused "missing signature" "checksum.json.sig" "missing"

begin "a signature by another key (--pubkey of a second keygen): exit 8, nothing written"
signed_device
damage_usr
PUB=$KP2 refused "wrong key" "checksum.json" "another key"

begin "a signature line naming the other key, signature unchanged: exit 8, nothing written"
signed_device
damage_usr
ssig=""
read -r _ _ ssig <"$BAK/checksum.json.sig" || true
printf 'ed25519 %s %s\n' "$(cut -d' ' -f2 "$KP2")" "$ssig" >"$BAK/checksum.json.sig"
refused "foreign public key in the signature line" "checksum.json"
PUB=$KP2 refused "foreign key, verified with that key" "checksum.json"

begin "bak/checksum.json tampered (one byte): exit 8, nothing written"
signed_device
damage_usr
"$PYTHON" - "$BAK/checksum.json" <<'EOF'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
i = b.index(b'"crc32":"0x') + 11
b[i] = ord("1") if b[i] != ord("1") else ord("2")   # still valid JSON, one byte changed
open(p, "wb").write(b)
EOF
refused "tampered table" "checksum.json" "does not match its signature"

begin "bak/checksum.json tampered by one appended newline: exit 8"
signed_device
damage_usr
printf '\n' >>"$BAK/checksum.json"
refused "appended newline" "checksum.json" "does not match its signature"

begin "a valid signature by the same key over another table: exit 8"
signed_device
damage_usr
pk "$SRC" --out "$PO/other" --sign "$K" --hash sha256
expect_rc 0
cp "$PO/other/bak/checksum.json.sig" "$BAK/checksum.json.sig"
refused "signature of another table" "checksum.json" "does not match its signature"

# Malformed signature files: each variant, exit 8, named, nothing written.
signed_device
damage_usr
spk="" ssig=""
read -r _ spk ssig <"$BAK/checksum.json.sig" || true
i=0
for v in "garbage" "" "ed25519" "ed25519 $spk" "ed25519 $spk ${ssig:0:127}" "ed25519 $spk ${ssig}00" \
    "ed25519 $spk ${ssig} extra" "rsa $spk $ssig" "ed25519 ${spk:0:63} $ssig" "ed25519 $spk g${ssig:1}" \
    "ed25519 $spk ${ssig:0:64}"; do
    i=$((i + 1))
    begin "malformed checksum.json.sig #$i: '${v:0:40}...': exit 8, named, nothing written"
    printf '%s\n' "$v" >"$BAK/checksum.json.sig"
    refused "malformed signature #$i" "checksum.json.sig"
done
begin "malformed checksum.json.sig: an empty file, a directory"
: >"$BAK/checksum.json.sig"
refused "empty signature file" "checksum.json.sig"
rm "$BAK/checksum.json.sig"
mkdir "$BAK/checksum.json.sig"
refused "signature path is a directory" "checksum.json.sig"

begin "the signature is checked before anything else: switch off, update staged, user table missing"
signed_device
damage_usr
rm "$BAK/checksum.json.sig"
mkdir "$USR/.fsg-fota"
printf 'staged junk\n' >"$USR/.fsg-fota/main.py"
rm "$USR/checksum.json"
snap_to "$IO/dev.before" "$DEV"
fsg boot --root "$DEV" --pubkey "$KP"
expect_rc 8
expect_err_line "checksum.json.sig" "missing"
expect_snap "$IO/dev.before" "$DEV" "boot --pubkey refusing with an update staged and no user table"
printf '{"enable": 0}\n' >"$BAK/backup_restore.json"
snap_to "$IO/dev.before" "$DEV"
fsg boot --root "$DEV" --pubkey "$KP"
expect_rc 8 "with the switch off too"
expect_snap "$IO/dev.before" "$DEV" "boot --pubkey refusing with the switch off"

begin "--pubkey refuses a secret key file, a non-key file, a missing file; no value is a usage error"
signed_device
damage_usr
snap_to "$IO/dev.before" "$DEV"
fsg boot --root "$DEV" --pubkey "$K"
expect_rc 8 "--pubkey given the secret key"
expect_err "secret key"
fsg verify --root "$DEV" --pubkey "$K"
expect_rc 8 "verify --pubkey given the secret key"
fsg inspect --root "$DEV" --pubkey "$K"
expect_rc 8 "inspect --pubkey given the secret key"
fsg boot --root "$DEV" --pubkey "$SRC/main.py"
expect_rc 8 "--pubkey given a non-key file"
expect_err "not an fsguard key file"
fsg boot --root "$DEV" --pubkey "$CASEDIR/no-such.pub"
expect_rc 8 "--pubkey given a missing file"
expect_err "no-such.pub"
fsg boot --root "$DEV" --pubkey
expect_rc 16 "--pubkey without a value"
expect_snap "$IO/dev.before" "$DEV" "bad --pubkey arguments"

# ---- altered backup copies ----

begin "a backup copy changed after signing is not restored (exit 4), the others are"
signed_device
printf 'print("evil")\n' >"$BAK/usr/main.py"
rm "$USR/main.py"
flip_bit "$USR/lib/util.py" 2
fsg boot --root "$DEV" --pubkey "$KP"
expect_rc 4
expect_out_line "main.py" "backup copy is damaged"
expect_absent "$USR/main.py" "the altered backup copy must not be restored"
expect_restored /usr/lib/util.py
fsg verify --root "$DEV" --pubkey "$KP"
expect_rc 4 "verify agrees"

begin "a backup copy forged to keep its CRC-32 is still refused (sha256 of the signed table)"
signed_device
printf 'import os\nos.system("evil")\n' >"$IO/evil"
forge "$SRC/main.py" "$IO/evil" "$BAK/usr/main.py"
py_expect "(check of the test) the forged copy has the signed table's CRC-32 but other bytes" \
    'crc(BAK + "/usr/main.py") == crc(argv[0]) == int([e for e in raw(BAK + "/checksum.json") if e["name"] == "/usr/main.py"][0]["crc32"], 16) and open(BAK + "/usr/main.py", "rb").read() != open(argv[0], "rb").read()' \
    "$SRC/main.py"
rm "$USR/main.py"
flip_bit "$USR/lib/util.py" 2
fsg boot --root "$DEV" --pubkey "$KP"
expect_rc 4
expect_out_line "main.py" "backup copy is damaged"
expect_absent "$USR/main.py" "the forged backup copy must not be restored"
expect_restored /usr/lib/util.py
printf 'user copy\n' >"$USR/main.py"
cp "$USR/main.py" "$IO/user.main"
fsg boot --root "$DEV" --pubkey "$KP"
expect_rc 4 "a damaged (not missing) user file with a forged backup copy"
expect_same "$USR/main.py" "$IO/user.main" "the damaged user file is left as it is, not replaced by the forgery"

begin "(contrast) on a CRC-only device the same forgery would be restored: the forge works"
pack_case
pk "$SRC" --out "$O"
forge "$SRC/main.py" "$IO/evil" "$BAK/usr/main.py"
rm "$USR/main.py"
fsg boot --root "$DEV"
expect_rc 1
expect_restored /usr/main.py

# ---- an independently signed table (OpenSSL), with CRC-only entries ----

if [ $HAVE_OSSL = 1 ]; then
    begin "a table signed by OpenSSL with fsguard's key is accepted; its CRC-only entries are never restored from"
    new_device
    sig=$(ossl_sign "$K" "$BAK/checksum.json")
    printf 'ed25519 %s %s\n' "$PKHEX" "$sig" >"$BAK/checksum.json.sig"
    snap_to "$IO/dev.before" "$DEV"
    fsg boot --root "$DEV" --pubkey "$KP"
    expect_rc 0 "boot --pubkey on an OpenSSL-signed clean device"
    expect_snap "$IO/dev.before" "$DEV" "clean boot"
    fsg boot --root "$DEV" --pubkey "$KP2"
    expect_rc 8 "another key"
    damage_usr
    cp "$USR/main.py" "$IO/user.main"
    fsg boot --root "$DEV" --pubkey "$KP"
    expect_rc 4 "CRC-only entries of a signed table"
    expect_out_line "main.py" "sha256"
    expect_absent "$USR/lib/util.py" "not restored from a CRC-only signed entry"
    expect_same "$USR/main.py" "$IO/user.main" "damaged file left as it is"
    fsg boot --root "$DEV"
    expect_rc 1 "without --pubkey, the same device is repaired"
    expect_restored /usr/main.py /usr/lib/util.py
else
    echo "NOTE: OpenSSL-signed table case skipped (openssl/xxd missing)"
fi

finish
