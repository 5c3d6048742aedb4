/*
 * test_sha.c -- strong hashes and signed backups: "sha256" entries (alone or
 * beside "crc32") at boot, in fsg_calc, fsg_put and FOTA, forged same-CRC
 * files, the Ed25519 signature of the backup checksum.json (boot refuses an
 * unsigned or altered table before writing anything), keys, fsg_pack's
 * hashes and signing, and fsg_inspect's signature report.
 *
 * Every expected SHA-256 is computed here with libsodium (or a known
 * vector), never taken from the library; expected CRC-32s come from
 * fsg_crc32, whose values test_crc and crc_table pin against fixed check
 * values. Signatures are made and checked with libsodium directly.
 */
#include "check.h"
#include "memport.h"

#include <cjson/cJSON.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Independent hashing helpers.                                             */

#define HASH_CRC FSG_HASH_CRC32
#define HASH_SHA FSG_HASH_SHA256
#define HASH_BOTH (FSG_HASH_CRC32 | FSG_HASH_SHA256)

static void hex_of(const unsigned char *b, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[b[i] >> 4];
        out[2 * i + 1] = d[b[i] & 15];
    }
    out[2 * n] = '\0';
}

static void sha_of(const void *data, size_t len, unsigned char out[32])
{
    crypto_hash_sha256(out, data, (unsigned long long)len);
}

static const char *sha_hex(const void *data, size_t len, char out[65])
{
    unsigned char s[32];
    sha_of(data, len, s);
    hex_of(s, 32, out);
    return out;
}

static const char *sha_hex_str(const char *text, char out[65])
{
    return sha_hex(text, strlen(text), out);
}

/* Python's hex() of the QuecPython CRC. */
static const char *crc_hex(const void *data, size_t len, char out[16])
{
    snprintf(out, 16, "0x%lx", (unsigned long)fsg_crc32(FSG_CRC_INIT, data, len));
    return out;
}

static const char *crc_hex_str(const char *text, char out[16])
{
    return crc_hex(text, strlen(text), out);
}

/* True if sha equals the SHA-256 of text. */
static int sha_is(const unsigned char *sha, const char *text)
{
    unsigned char s[32];
    sha_of(text, strlen(text), s);
    return sha != NULL && memcmp(sha, s, 32) == 0;
}

/*
 * Forges a file with a chosen CRC: out gets prefix (len bytes) and 4 more
 * bytes solved so that the CRC of the len+4 bytes is target. For a fixed
 * length the CRC is affine over GF(2) in the message bits, so the 32
 * unknown bits solve a 32x32 linear system (Gaussian elimination).
 */
static void forge_crc(const void *prefix, size_t len, uint32_t target, unsigned char *out)
{
    uint32_t col[32];
    uint64_t rows[32];
    int piv[32];

    memcpy(out, prefix, len);
    memset(out + len, 0, 4);
    uint32_t c0 = mp_crc(out, len + 4);
    for (int i = 0; i < 32; i++) {
        out[len + (size_t)(i / 8)] = (unsigned char)(1u << (i % 8));
        col[i] = mp_crc(out, len + 4) ^ c0;
        out[len + (size_t)(i / 8)] = 0;
    }
    uint32_t rhs = target ^ c0;
    for (int j = 0; j < 32; j++) {
        uint64_t r = 0;
        for (int i = 0; i < 32; i++)
            if ((col[i] >> j) & 1u)
                r |= (uint64_t)1 << i;
        if ((rhs >> j) & 1u)
            r |= (uint64_t)1 << 32;
        rows[j] = r;
    }
    int rank = 0;
    for (int cc = 0; cc < 32; cc++) {
        int p = -1;
        for (int k = rank; k < 32; k++)
            if ((rows[k] >> cc) & 1u) {
                p = k;
                break;
            }
        piv[cc] = -1;
        if (p < 0)
            continue;
        uint64_t t = rows[rank];
        rows[rank] = rows[p];
        rows[p] = t;
        for (int k = 0; k < 32; k++)
            if (k != rank && ((rows[k] >> cc) & 1u))
                rows[k] ^= rows[rank];
        piv[cc] = rank++;
    }
    for (int i = 0; i < 32; i++)
        if (piv[i] >= 0 && ((rows[piv[i]] >> 32) & 1u))
            out[len + (size_t)(i / 8)] |= (unsigned char)(1u << (i % 8));
}

/* ------------------------------------------------------------------------ */
/* Events, with the hash fields (pointers valid only during the callback,   */
/* so the bytes are copied).                                                */

struct sev {
    int kind;
    char name[128];
    int status, problem, failure, error, pending, hash_only, entry_added, has_actual;
    unsigned hashes, expected_hashes;
    uint32_t expected, actual, recorded;
    int has_sha_expected, has_sha_actual, has_sha_recorded;
    unsigned char sha_expected[32], sha_actual[32], sha_recorded[32];
    int protect, source, defect;
    unsigned long index;
};

#define MAX_EV 128

struct sevs {
    struct sev v[MAX_EV];
    size_t n;
};

static void sev_record(void *ctx, const struct fsg_event *ev)
{
    struct sevs *s = ctx;
    if (s->n == MAX_EV)
        return;
    struct sev *e = &s->v[s->n++];
    memset(e, 0, sizeof *e);
    e->kind = ev->kind;
    if (ev->name != NULL)
        snprintf(e->name, sizeof e->name, "%s", ev->name);
    e->status = ev->status;
    e->problem = ev->problem;
    e->failure = ev->failure;
    e->error = ev->error;
    e->pending = ev->pending;
    e->hash_only = ev->hash_only;
    e->entry_added = ev->entry_added;
    e->has_actual = ev->has_actual;
    e->hashes = ev->hashes;
    e->expected_hashes = ev->expected_hashes;
    e->expected = ev->expected;
    e->actual = ev->actual;
    e->recorded = ev->recorded;
    e->protect = ev->protect;
    e->source = ev->source;
    e->defect = ev->defect;
    e->index = ev->index;
    if (ev->sha_expected != NULL) {
        e->has_sha_expected = 1;
        memcpy(e->sha_expected, ev->sha_expected, 32);
    }
    if (ev->sha_actual != NULL) {
        e->has_sha_actual = 1;
        memcpy(e->sha_actual, ev->sha_actual, 32);
    }
    if (ev->sha_recorded != NULL) {
        e->has_sha_recorded = 1;
        memcpy(e->sha_recorded, ev->sha_recorded, 32);
    }
}

static const struct sev *sev_find(const struct sevs *s, int kind, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].kind == kind && strcmp(s->v[i].name, name) == 0)
            return &s->v[i];
    return NULL;
}

static size_t sev_count(const struct sevs *s, int kind)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        n += s->v[i].kind == kind;
    return n;
}

/* A FILE event of name, never NULL (an all-zero one when missing, which
 * fails the checks made on it). */
static const struct sev *file_ev(const struct sevs *s, const char *name)
{
    static struct sev none;
    const struct sev *e = sev_find(s, FSG_EVENT_FILE, name);
    if (e == NULL)
        fprintf(stderr, "no FILE event for %s\n", name);
    return e != NULL ? e : &none;
}

/* ------------------------------------------------------------------------ */
/* Keys.                                                                    */

static void key_from_seed(unsigned char seedbyte, unsigned char pk[32], unsigned char sk[64])
{
    unsigned char seed[32];
    memset(seed, seedbyte, sizeof seed);
    if (crypto_sign_seed_keypair(pk, sk, seed) != 0)
        abort();
}

/* The signature line over text, naming key pk_named, made with sk. */
static void sig_line(const unsigned char *text, size_t len, const unsigned char sk[64],
                     const unsigned char pk_named[32], char out[256])
{
    unsigned char sig[64];
    char pkh[65], sigh[129];
    if (crypto_sign_detached(sig, NULL, text, (unsigned long long)len, sk) != 0)
        abort();
    hex_of(pk_named, 32, pkh);
    hex_of(sig, 64, sigh);
    snprintf(out, 256, "ed25519 %s %s\n", pkh, sigh);
}

/* Signs the backup checksum.json as it is now, into checksum.json.sig. */
static void sign_bak(struct memport *bak, const unsigned char sk[64], const unsigned char pk[32])
{
    size_t len;
    const char *t = memport_get(bak, "checksum.json", &len);
    char line[256];
    if (t == NULL)
        abort();
    sig_line((const unsigned char *)t, len, sk, pk, line);
    memport_put_str(bak, FSG_SIG_NAME, line);
}

/* ------------------------------------------------------------------------ */
/* A device whose entries carry chosen kinds of hash.                       */

struct sdev {
    struct mp_device d;        /* the two partitions and the config */
    struct sevs ev;
    char man[16384];
    size_t manlen;
    unsigned char pk[32], sk[64];
};

static void sdev_init(struct sdev *s)
{
    memset(s, 0, sizeof *s);
    mpdev_init(&s->d);
    s->d.cfg.on_event = sev_record;
    s->d.cfg.event_ctx = &s->ev;
    key_from_seed(0x11, s->pk, s->sk);
}

static void sdev_free(struct sdev *s)
{
    mpdev_free(&s->d);
}

/* One manifest entry's JSON text with the hashes of data in kinds. */
static void entry_json(char *out, size_t size, const char *name, const void *data, size_t len,
                       unsigned kinds)
{
    char c[16], h[65];
    int n = snprintf(out, size, "{\"name\": \"%s\"", name);
    if (kinds & HASH_CRC)
        n += snprintf(out + n, size - (size_t)n, ", \"crc32\": \"%s\"", crc_hex(data, len, c));
    if (kinds & HASH_SHA)
        n += snprintf(out + n, size - (size_t)n, ", \"sha256\": \"%s\"", sha_hex(data, len, h));
    snprintf(out + n, size - (size_t)n, "}");
}

/* A protected file: factory copy, user copy and an entry with kinds. */
static void sdev_add(struct sdev *s, const char *name, const void *data, size_t len,
                     unsigned kinds)
{
    char e[512];
    if (memport_put(s->d.bak, name + 1, data, len) < 0 ||
        memport_put(s->d.usr, name + 5, data, len) < 0)
        abort();
    entry_json(e, sizeof e, name, data, len, kinds);
    s->manlen += (size_t)snprintf(s->man + s->manlen, sizeof s->man - s->manlen, "%s%s",
                                  s->manlen > 0 ? ", " : "", e);
}

static void sdev_add_str(struct sdev *s, const char *name, const char *text, unsigned kinds)
{
    sdev_add(s, name, text, strlen(text), kinds);
}

/* Writes the manifest as checksum.json of both partitions. */
static void sdev_save(struct sdev *s)
{
    char *t = malloc(s->manlen + 3);
    snprintf(t, s->manlen + 3, "[%s]", s->man);
    memport_put_str(s->d.bak, "checksum.json", t);
    memport_put_str(s->d.usr, "checksum.json", t);
    free(t);
}

static void sdev_reset(struct sdev *s)
{
    s->ev.n = 0;
    memport_reset_ops(s->d.usr);
    memport_reset_ops(s->d.bak);
}

static int sdev_boot(struct sdev *s, int flags, struct fsg_report *r)
{
    sdev_reset(s);
    return fsg_boot(&s->d.cfg, flags, r);
}

static const char *usr_file(const struct sdev *s, const char *name)
{
    return memport_get(s->d.usr, name + 5, NULL);
}

/* Handles closed, valid paths, backup never written. */
static void check_hygiene(const struct sdev *s)
{
    CHECK_EQ_INT(memport_open_handles(s->d.usr), 0);
    CHECK_EQ_INT(memport_open_handles(s->d.bak), 0);
    CHECK_EQ_INT(memport_bad_paths(s->d.usr), 0);
    CHECK_EQ_INT(memport_bad_paths(s->d.bak), 0);
    CHECK_EQ_INT(memport_mutating_calls(s->d.bak), 0);
    CHECK_EQ_INT(memport_count_temps(s->d.usr, NULL, 0), 0);
}

/* ---- reading a checksum.json back ---- */

enum { K_CRC = 1, K_SHA = 2, K_PCRC = 4, K_PSHA = 8 };

struct ment {
    int keys;          /* K_* present */
    int members;       /* every member, name included */
    char crc[32], sha[80], pcrc[32], psha[80];
};

/* Fills *arg (struct ment) from the first entry of the name. */
static int take_ment(void *arg, const cJSON *item)
{
    struct ment *m = arg;
    static const char *const keys[4] = {"crc32", "sha256", "fsg_pending",
                                        "fsg_pending_sha256"};
    char *dst[4] = {m->crc, m->sha, m->pcrc, m->psha};
    size_t dsz[4] = {sizeof m->crc, sizeof m->sha, sizeof m->pcrc, sizeof m->psha};
    for (cJSON *ch = item->child; ch != NULL; ch = ch->next)
        m->members++;
    for (int k = 0; k < 4; k++) {
        cJSON *v = cJSON_GetObjectItemCaseSensitive(item, keys[k]);
        if (v == NULL)
            continue;
        m->keys |= 1 << k;
        if (cJSON_IsString(v))
            snprintf(dst[k], dsz[k], "%s", v->valuestring);
    }
    return 1;
}

/* The entry of name in checksum.json of mp (at path). Returns 1 found, 0
 * no such entry, -1 missing or not a JSON array. */
static int ment_get(const struct memport *mp, const char *path, const char *name,
                    struct ment *m)
{
    memset(m, 0, sizeof *m);
    return memport_table_find(mp, path, name, take_ment, m);
}

static int usr_ment(const struct sdev *s, const char *name, struct ment *m)
{
    return ment_get(s->d.usr, "checksum.json", name, m);
}

/* ------------------------------------------------------------------------ */
/* fsg_sha256_format / fsg_sha256_parse, and the oracle itself.            */

static const char SHA_EMPTY[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
static const char SHA_ABC[] = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

static void test_sha_strings(void)
{
    char h[65], out[FSG_SHA256_STRLEN];
    unsigned char s[32], p[32];

    /* The oracle agrees with the published vectors. */
    CHECK_EQ_STR(sha_hex("", 0, h), SHA_EMPTY);
    CHECK_EQ_STR(sha_hex("abc", 3, h), SHA_ABC);

    sha_of("abc", 3, s);
    CHECK(fsg_sha256_format(s, out) == out);
    CHECK_EQ_STR(out, SHA_ABC);
    CHECK_EQ_INT(strlen(out), 64);
    sha_of("", 0, s);
    CHECK_EQ_STR(fsg_sha256_format(s, out), SHA_EMPTY);

    /* Parse: lowercase, uppercase, mixed. */
    memset(p, 0, sizeof p);
    CHECK_EQ_INT(fsg_sha256_parse(SHA_ABC, p), 0);
    sha_of("abc", 3, s);
    CHECK(memcmp(p, s, 32) == 0);
    char up[65];
    for (size_t i = 0; i < 65; i++)
        up[i] = (char)(SHA_ABC[i] >= 'a' && SHA_ABC[i] <= 'f' ? SHA_ABC[i] - 32 : SHA_ABC[i]);
    memset(p, 0, sizeof p);
    CHECK_EQ_INT(fsg_sha256_parse(up, p), 0);
    CHECK(memcmp(p, s, 32) == 0);
    up[0] = 'b'; /* mixed */
    memset(p, 0, sizeof p);
    CHECK_EQ_INT(fsg_sha256_parse(up, p), 0);
    CHECK(memcmp(p, s, 32) == 0);
    /* Round trip of every byte value. */
    unsigned char all[32];
    for (int i = 0; i < 32; i++)
        all[i] = (unsigned char)(i * 8 + 7);
    CHECK_EQ_INT(fsg_sha256_parse(fsg_sha256_format(all, out), p), 0);
    CHECK(memcmp(p, all, 32) == 0);

    /* Refused: wrong lengths, prefixes, non-hex, white space. */
    char bad[80];
    const char *refused[] = {"", "0", "0x", "abc"};
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++)
        CHECK_EQ_INT(fsg_sha256_parse(refused[i], p), FSG_ERR_CORRUPT);
    snprintf(bad, sizeof bad, "%.63s", SHA_ABC);
    CHECK_EQ_INT(fsg_sha256_parse(bad, p), FSG_ERR_CORRUPT);
    snprintf(bad, sizeof bad, "%s0", SHA_ABC);
    CHECK_EQ_INT(fsg_sha256_parse(bad, p), FSG_ERR_CORRUPT);
    snprintf(bad, sizeof bad, "0x%.62s", SHA_ABC);
    CHECK_EQ_INT(fsg_sha256_parse(bad, p), FSG_ERR_CORRUPT);
    snprintf(bad, sizeof bad, "0x%s", SHA_ABC);
    CHECK_EQ_INT(fsg_sha256_parse(bad, p), FSG_ERR_CORRUPT);
    snprintf(bad, sizeof bad, "%s\n", SHA_ABC);
    CHECK_EQ_INT(fsg_sha256_parse(bad, p), FSG_ERR_CORRUPT);
    snprintf(bad, sizeof bad, " %.63s", SHA_ABC);
    CHECK_EQ_INT(fsg_sha256_parse(bad, p), FSG_ERR_CORRUPT);
    snprintf(bad, sizeof bad, "%s", SHA_ABC);
    bad[10] = 'g';
    CHECK_EQ_INT(fsg_sha256_parse(bad, p), FSG_ERR_CORRUPT);
    bad[10] = ' ';
    CHECK_EQ_INT(fsg_sha256_parse(bad, p), FSG_ERR_CORRUPT);
    snprintf(bad, sizeof bad, "%s", SHA_ABC);
    bad[63] = 'G';
    CHECK_EQ_INT(fsg_sha256_parse(bad, p), FSG_ERR_CORRUPT);

    /* The forger itself works: same CRC, other content. */
    unsigned char forged[64];
    forge_crc("evil", 4, mp_crc("abc", 3), forged);
    CHECK_EQ_INT(mp_crc(forged, 8), mp_crc("abc", 3));
    forge_crc("", 0, 0xdeadbeefu, forged);
    CHECK_EQ_INT(mp_crc(forged, 4), 0xdeadbeefu);
}

/* ------------------------------------------------------------------------ */
/* Keys.                                                                    */

static void test_keys(void)
{
    unsigned char pk[32], sk[64], pk2[32], sk2[64], key[64], kp[32];
    char text[FSG_KEY_STRLEN], want[160], h[129];
    int secret = -1;

    CHECK_EQ_INT(fsg_keygen(pk, sk), 0);
    CHECK_EQ_INT(fsg_keygen(pk2, sk2), 0);
    CHECK(memcmp(pk, pk2, 32) != 0);
    CHECK(memcmp(sk + 32, pk, 32) == 0); /* libsodium layout: seed, then pk */
    /* The pair works as an Ed25519 pair. */
    unsigned char sig[64];
    CHECK_EQ_INT(crypto_sign_detached(sig, NULL, (const unsigned char *)"msg", 3, sk), 0);
    CHECK_EQ_INT(crypto_sign_verify_detached(sig, (const unsigned char *)"msg", 3, pk), 0);
    CHECK(crypto_sign_verify_detached(sig, (const unsigned char *)"msg", 3, pk2) != 0);
    /* sk's seed rebuilds the pair. */
    unsigned char rpk[32], rsk[64];
    CHECK_EQ_INT(crypto_sign_seed_keypair(rpk, rsk, sk), 0);
    CHECK(memcmp(rpk, pk, 32) == 0);

    /* Secret key file: head, the seed, newline. */
    CHECK(fsg_key_format(1, sk, text) == text);
    hex_of(sk, 32, h);
    snprintf(want, sizeof want, "fsguard-ed25519-secret %s\n", h);
    CHECK_EQ_STR(text, want);
    CHECK(strlen(text) < FSG_KEY_STRLEN);
    memset(key, 0, sizeof key);
    memset(kp, 0, sizeof kp);
    CHECK_EQ_INT(fsg_key_parse(text, strlen(text), &secret, key, kp), 0);
    CHECK_EQ_INT(secret, 1);
    CHECK(memcmp(key, sk, 64) == 0);
    CHECK(memcmp(kp, pk, 32) == 0);
    /* pk may be NULL; trailing white space is allowed. */
    char spaced[FSG_KEY_STRLEN + 8];
    snprintf(spaced, sizeof spaced, "%.*s \t\r\n\n", (int)(strlen(text) - 1), text);
    memset(key, 0, sizeof key);
    CHECK_EQ_INT(fsg_key_parse(spaced, strlen(spaced), &secret, key, NULL), 0);
    CHECK(memcmp(key, sk, 64) == 0);
    /* No newline at all. */
    CHECK_EQ_INT(fsg_key_parse(text, strlen(text) - 1, &secret, key, NULL), 0);

    /* Public key file. */
    CHECK(fsg_key_format(0, pk, text) == text);
    hex_of(pk, 32, h);
    snprintf(want, sizeof want, "fsguard-ed25519-public %s\n", h);
    CHECK_EQ_STR(text, want);
    memset(key, 0, sizeof key);
    memset(kp, 0, sizeof kp);
    secret = -1;
    CHECK_EQ_INT(fsg_key_parse(text, strlen(text), &secret, key, kp), 0);
    CHECK_EQ_INT(secret, 0);
    CHECK(memcmp(key, pk, 32) == 0);
    CHECK(memcmp(kp, pk, 32) == 0);

    /* A key file written by hand from a known seed. */
    unsigned char dpk[32], dsk[64];
    key_from_seed(0x42, dpk, dsk);
    unsigned char seed[32];
    memset(seed, 0x42, 32);
    hex_of(seed, 32, h);
    for (char *q = h; *q; q++) /* uppercase digits are hex digits too */
        if (*q >= 'a' && *q <= 'f')
            *q = (char)(*q - 32);
    snprintf(want, sizeof want, "fsguard-ed25519-secret %s", h);
    memset(key, 0, sizeof key);
    CHECK_EQ_INT(fsg_key_parse(want, strlen(want), &secret, key, kp), 0);
    CHECK_EQ_INT(secret, 1);
    CHECK(memcmp(key, dsk, 64) == 0);
    CHECK(memcmp(kp, dpk, 32) == 0);

    /* Refused. */
    hex_of(seed, 32, h);
    const char *heads[] = {"fsguard-ed25519-secrex ", "fsguard-ed25519-Secret ",
                           " fsguard-ed25519-secret ", "fsguard-ed25519-secret  ",
                           "fsguard-x25519-public "};
    for (size_t i = 0; i < sizeof heads / sizeof *heads; i++) {
        snprintf(want, sizeof want, "%s%s\n", heads[i], h);
        CHECK_EQ_INT(fsg_key_parse(want, strlen(want), &secret, key, kp), FSG_ERR_CORRUPT);
    }
    snprintf(want, sizeof want, "fsguard-ed25519-secret %.63s\n", h);
    CHECK_EQ_INT(fsg_key_parse(want, strlen(want), &secret, key, kp), FSG_ERR_CORRUPT);
    snprintf(want, sizeof want, "fsguard-ed25519-public %s0\n", h);
    CHECK_EQ_INT(fsg_key_parse(want, strlen(want), &secret, key, kp), FSG_ERR_CORRUPT);
    snprintf(want, sizeof want, "fsguard-ed25519-public %s x\n", h);
    CHECK_EQ_INT(fsg_key_parse(want, strlen(want), &secret, key, kp), FSG_ERR_CORRUPT);
    snprintf(want, sizeof want, "fsguard-ed25519-public %s\n", h);
    want[30] = 'z';
    CHECK_EQ_INT(fsg_key_parse(want, strlen(want), &secret, key, kp), FSG_ERR_CORRUPT);
    /* len cuts a valid text short. */
    snprintf(want, sizeof want, "fsguard-ed25519-public %s\n", h);
    CHECK_EQ_INT(fsg_key_parse(want, strlen(want) - 3, &secret, key, kp), FSG_ERR_CORRUPT);
    CHECK_EQ_INT(fsg_key_parse("", 0, &secret, key, kp), FSG_ERR_CORRUPT);
}

/* ------------------------------------------------------------------------ */
/* Boot: entries with sha256.                                               */

#define BIG_LEN 10000u
static unsigned char big[BIG_LEN];

static void init_big(void)
{
    mp_fill(big, BIG_LEN, 99);
}

static const char A_TXT[] = "print('a')\n";        /* crc32 only */
static const char B_TXT[] = "import b\n";          /* sha256 only */
static const char C_TXT[] = "{\"c\": 3}";          /* both */

/* a.py crc32, lib/b.py sha256, lib/c.json both, big.bin both (bigger than
 * the I/O buffer), empty.txt sha256 only. */
static void kinds_device(struct sdev *s)
{
    sdev_init(s);
    sdev_add_str(s, "/usr/a.py", A_TXT, HASH_CRC);
    sdev_add_str(s, "/usr/lib/b.py", B_TXT, HASH_SHA);
    sdev_add_str(s, "/usr/lib/c.json", C_TXT, HASH_BOTH);
    sdev_add(s, "/usr/big.bin", big, BIG_LEN, HASH_BOTH);
    sdev_add(s, "/usr/empty.txt", "", 0, HASH_SHA);
    sdev_save(s);
}

static void test_boot_intact(void)
{
    struct sdev s;
    struct fsg_report r;
    unsigned char sb[32];

    kinds_device(&s);
    CHECK_EQ_INT(sdev_boot(&s, 0, &r), 0);
    CHECK_EQ_INT(r.files, 5);
    CHECK_EQ_INT(r.ok, 5);
    CHECK_EQ_INT(r.restored, 0);
    CHECK_EQ_INT(r.failed, 0);
    CHECK_EQ_INT(r.bad_entries, 0);
    CHECK_EQ_INT(r.manifest, FSG_MANIFEST_UNCHANGED);
    CHECK_EQ_INT(r.signature, FSG_SIG_UNCHECKED);
    CHECK_EQ_INT(memport_mutating_calls(s.d.usr), 0);
    CHECK_EQ_INT(fsg_report_exit_code(&r), 0);
    check_hygiene(&s);

    const struct sev *e = file_ev(&s.ev, "/usr/a.py");
    CHECK_EQ_INT(e->status, FSG_STATUS_OK);
    CHECK_EQ_INT(e->hashes, HASH_CRC);
    CHECK_EQ_INT(e->expected_hashes, HASH_CRC);
    CHECK_EQ_INT(e->expected, mp_crc(A_TXT, strlen(A_TXT)));
    CHECK_EQ_INT(e->actual, mp_crc(A_TXT, strlen(A_TXT)));
    CHECK(!e->has_sha_expected);
    CHECK(!e->has_sha_actual);
    CHECK(!e->has_sha_recorded);

    e = file_ev(&s.ev, "/usr/lib/b.py");
    CHECK_EQ_INT(e->status, FSG_STATUS_OK);
    CHECK_EQ_INT(e->hashes, HASH_SHA);
    CHECK_EQ_INT(e->expected_hashes, HASH_SHA);
    CHECK(e->has_sha_expected && sha_is(e->sha_expected, B_TXT));
    CHECK(e->has_sha_actual && sha_is(e->sha_actual, B_TXT));
    CHECK(e->has_sha_recorded && sha_is(e->sha_recorded, B_TXT));
    CHECK(e->has_actual);
    CHECK_EQ_INT(e->actual, mp_crc(B_TXT, strlen(B_TXT)));

    e = file_ev(&s.ev, "/usr/lib/c.json");
    CHECK_EQ_INT(e->hashes, HASH_BOTH);
    CHECK_EQ_INT(e->expected_hashes, HASH_BOTH);
    CHECK_EQ_INT(e->expected, mp_crc(C_TXT, strlen(C_TXT)));
    CHECK_EQ_INT(e->recorded, mp_crc(C_TXT, strlen(C_TXT)));
    CHECK(e->has_sha_actual && sha_is(e->sha_actual, C_TXT));

    e = file_ev(&s.ev, "/usr/big.bin");
    sha_of(big, BIG_LEN, sb);
    CHECK_EQ_INT(e->status, FSG_STATUS_OK);
    CHECK(e->has_sha_actual && memcmp(e->sha_actual, sb, 32) == 0);
    CHECK(e->has_sha_expected && memcmp(e->sha_expected, sb, 32) == 0);
    e = file_ev(&s.ev, "/usr/empty.txt");
    CHECK_EQ_INT(e->status, FSG_STATUS_OK);
    CHECK(e->has_sha_actual && sha_is(e->sha_actual, ""));

    /* Short reads change nothing in the streamed hash. */
    memport_set_read_max(s.d.usr, 7);
    CHECK_EQ_INT(sdev_boot(&s, 0, &r), 0);
    CHECK_EQ_INT(r.ok, 5);
    CHECK_EQ_INT(memport_mutating_calls(s.d.usr), 0);
    memport_set_read_max(s.d.usr, 0);

    /* A small buffer too (the minimum). */
    unsigned char buf[FSG_BUF_MIN];
    s.d.cfg.buf = buf;
    s.d.cfg.buf_size = sizeof buf;
    CHECK_EQ_INT(sdev_boot(&s, 0, &r), 0);
    CHECK_EQ_INT(r.ok, 5);
    s.d.cfg.buf = NULL;
    s.d.cfg.buf_size = 0;
    sdev_free(&s);
}

/* A damaged sha256 entry is restored; its event carries both hashes. */
static void test_boot_restore_sha(void)
{
    struct sdev s;
    struct fsg_report r;

    kinds_device(&s);
    memport_put_str(s.d.usr, "lib/b.py", "import evil\n");
    memport_put_str(s.d.usr, "lib/c.json", "{}");
    memport_remove(s.d.usr, "big.bin");
    memport_put_str(s.d.usr, "empty.txt", "x");
    CHECK_EQ_INT(sdev_boot(&s, 0, &r), 0);
    CHECK_EQ_INT(r.files, 5);
    CHECK_EQ_INT(r.restored, 4);
    CHECK_EQ_INT(r.ok, 1);
    CHECK_EQ_INT(r.failed, 0);
    CHECK_EQ_INT(r.manifest, FSG_MANIFEST_UNCHANGED); /* same hashes */
    CHECK_EQ_STR(usr_file(&s, "/usr/lib/b.py"), B_TXT);
    CHECK_EQ_STR(usr_file(&s, "/usr/lib/c.json"), C_TXT);
    CHECK_EQ_STR(usr_file(&s, "/usr/empty.txt"), "");
    size_t bl;
    const char *bb = memport_get(s.d.usr, "big.bin", &bl);
    CHECK(bb != NULL && bl == BIG_LEN && memcmp(bb, big, BIG_LEN) == 0);
    CHECK(memport_protocol_ok(s.d.usr));
    check_hygiene(&s);

    const struct sev *e = file_ev(&s.ev, "/usr/lib/b.py");
    CHECK_EQ_INT(e->status, FSG_STATUS_RESTORED);
    CHECK_EQ_INT(e->problem, FSG_PROBLEM_MISMATCH);
    CHECK_EQ_INT(e->hash_only, 0);
    CHECK(e->has_sha_expected && sha_is(e->sha_expected, B_TXT));
    CHECK(e->has_sha_actual && sha_is(e->sha_actual, "import evil\n"));
    CHECK(e->has_sha_recorded && sha_is(e->sha_recorded, B_TXT));
    CHECK_EQ_INT(e->hashes, HASH_SHA);
    e = file_ev(&s.ev, "/usr/big.bin");
    CHECK_EQ_INT(e->status, FSG_STATUS_RESTORED);
    CHECK_EQ_INT(e->problem, FSG_PROBLEM_MISSING);
    CHECK(!e->has_sha_actual);

    /* Now intact: a second boot finds nothing. */
    CHECK_EQ_INT(sdev_boot(&s, 0, &r), 0);
    CHECK_EQ_INT(r.ok, 5);
    CHECK_EQ_INT(memport_mutating_calls(s.d.usr), 0);

    /* Dry run: the same verdict, nothing written. */
    memport_put_str(s.d.usr, "lib/b.py", "import evil\n");
    CHECK_EQ_INT(sdev_boot(&s, FSG_DRY_RUN, &r), 0);
    CHECK_EQ_INT(r.restored, 1);
    CHECK_EQ_INT(file_ev(&s.ev, "/usr/lib/b.py")->status, FSG_STATUS_RESTORED);
    CHECK_EQ_INT(memport_mutating_calls(s.d.usr), 0);
    CHECK_EQ_STR(usr_file(&s, "/usr/lib/b.py"), "import evil\n");
    sdev_free(&s);
}

/* A file forged to keep its CRC-32 is caught by the sha256. */
static void test_boot_forged_crc(void)
{
    struct sdev s;
    struct fsg_report r;
    unsigned char fx[64], fy[64], fz[64];
    static const char X[] = "factory x\n", Y[] = "factory y\n", Z[] = "factory z\n";

    sdev_init(&s);
    sdev_add_str(&s, "/usr/x.py", X, HASH_BOTH);
    sdev_add_str(&s, "/usr/y.py", Y, HASH_CRC);
    sdev_add_str(&s, "/usr/z.py", Z, HASH_SHA);
    sdev_save(&s);
    forge_crc("os.remove('/')#", 15, mp_crc(X, strlen(X)), fx);
    forge_crc("os.remove('/')#", 15, mp_crc(Y, strlen(Y)), fy);
    forge_crc("os.remove('/')#", 15, mp_crc(Z, strlen(Z)), fz);
    CHECK_EQ_INT(mp_crc(fx, 19), mp_crc(X, strlen(X)));
    CHECK_EQ_INT(mp_crc(fy, 19), mp_crc(Y, strlen(Y)));
    memport_put(s.d.usr, "x.py", fx, 19);
    memport_put(s.d.usr, "y.py", fy, 19);
    memport_put(s.d.usr, "z.py", fz, 19);

    CHECK_EQ_INT(sdev_boot(&s, 0, &r), 0);
    CHECK_EQ_INT(r.files, 3);
    CHECK_EQ_INT(r.restored, 2);
    CHECK_EQ_INT(r.ok, 1);
    CHECK_EQ_STR(usr_file(&s, "/usr/x.py"), X);
    CHECK_EQ_STR(usr_file(&s, "/usr/z.py"), Z);
    /* A CRC-only entry cannot tell: the forgery stands (why sha256 exists). */
    size_t yl;
    const char *y = memport_get(s.d.usr, "y.py", &yl);
    CHECK(y != NULL && yl == 19 && memcmp(y, fy, 19) == 0);
    CHECK_EQ_INT(file_ev(&s.ev, "/usr/y.py")->status, FSG_STATUS_OK);

    const struct sev *e = file_ev(&s.ev, "/usr/x.py");
    unsigned char sf[32];
    sha_of(fx, 19, sf);
    CHECK_EQ_INT(e->status, FSG_STATUS_RESTORED);
    CHECK_EQ_INT(e->problem, FSG_PROBLEM_MISMATCH);
    CHECK(e->has_actual);
    CHECK_EQ_INT(e->actual, e->expected); /* the CRC matched ... */
    CHECK(e->has_sha_actual && memcmp(e->sha_actual, sf, 32) == 0); /* ... not the sha */
    CHECK(e->has_sha_expected && sha_is(e->sha_expected, X));
    CHECK_EQ_INT(r.manifest, FSG_MANIFEST_UNCHANGED);
    check_hygiene(&s);
    sdev_free(&s);
}

/* A backup copy failing its sha256 is never restored from. */
static void test_boot_bak_damaged(void)
{
    struct sdev s;
    struct fsg_report r;
    unsigned char fx[64];
    static const char X[] = "factory x\n", Z[] = "factory z\n";

    sdev_init(&s);
    sdev_add_str(&s, "/usr/x.py", X, HASH_BOTH);
    sdev_add_str(&s, "/usr/z.py", Z, HASH_SHA);
    sdev_add_str(&s, "/usr/ok.py", "ok\n", HASH_BOTH);
    sdev_save(&s);
    /* Backup x.py forged to the same CRC; backup z.py simply altered. */
    forge_crc("evil = 1 #", 10, mp_crc(X, strlen(X)), fx);
    memport_put(s.d.bak, "usr/x.py", fx, 14);
    memport_put_str(s.d.bak, "usr/z.py", "factory Z\n");
    memport_put_str(s.d.usr, "x.py", "damaged\n");
    memport_remove(s.d.usr, "z.py");

    for (int dry = 0; dry < 2; dry++) {
        CHECK_EQ_INT(sdev_boot(&s, dry ? FSG_DRY_RUN : 0, &r), 0);
        CHECK_EQ_INT(r.failed, 2);
        CHECK_EQ_INT(r.restored, 0);
        CHECK_EQ_INT(r.ok, 1);
        CHECK_EQ_INT(fsg_report_exit_code(&r), 4);
        const struct sev *e = file_ev(&s.ev, "/usr/x.py");
        CHECK_EQ_INT(e->status, FSG_STATUS_FAILED);
        CHECK_EQ_INT(e->failure, FSG_FAILURE_BAK_DAMAGED);
        e = file_ev(&s.ev, "/usr/z.py");
        CHECK_EQ_INT(e->status, FSG_STATUS_FAILED);
        CHECK_EQ_INT(e->failure, FSG_FAILURE_BAK_DAMAGED);
        CHECK_EQ_INT(e->problem, FSG_PROBLEM_MISSING);
        /* Targets untouched, nothing renamed into place. */
        CHECK_EQ_STR(usr_file(&s, "/usr/x.py"), "damaged\n");
        CHECK_EQ_INT(memport_exists(s.d.usr, "z.py"), 0);
        CHECK(strstr(memport_trace(s.d.usr), "rename") == NULL);
        CHECK_EQ_INT(memport_ops(s.d.usr)->renames, 0);
        check_hygiene(&s);
    }

    /* hash_only: the user entry records an edit (other hashes), but the
     * file holds the factory content: only the entry is corrected, both
     * of its hashes. */
    memport_put(s.d.bak, "usr/x.py", X, strlen(X));
    memport_put_str(s.d.usr, "x.py", X);
    char ex[256], ez[256], eo[256], man[1024];
    entry_json(ex, sizeof ex, "/usr/x.py", "edited\n", 7, HASH_BOTH);
    entry_json(ez, sizeof ez, "/usr/z.py", Z, strlen(Z), HASH_SHA);
    entry_json(eo, sizeof eo, "/usr/ok.py", "ok\n", 3, HASH_BOTH);
    snprintf(man, sizeof man, "[%s, %s, %s]", ex, ez, eo);
    memport_put_str(s.d.usr, "checksum.json", man);
    memport_put_str(s.d.usr, "z.py", Z);
    CHECK_EQ_INT(sdev_boot(&s, 0, &r), 0);
    CHECK_EQ_INT(r.restored, 1);
    CHECK_EQ_INT(r.ok, 2);
    const struct sev *e = file_ev(&s.ev, "/usr/x.py");
    CHECK_EQ_INT(e->status, FSG_STATUS_RESTORED);
    CHECK_EQ_INT(e->hash_only, 1);
    CHECK(e->has_sha_expected && sha_is(e->sha_expected, "edited\n"));
    CHECK(e->has_sha_recorded && sha_is(e->sha_recorded, X));
    CHECK_EQ_INT(e->recorded, mp_crc(X, strlen(X)));
    CHECK_EQ_INT(r.manifest, FSG_MANIFEST_UPDATED);
    CHECK_EQ_INT(r.manifest_written, 1);
    /* The file itself was not rewritten: the only rename is the table's. */
    CHECK_EQ_INT(memport_ops(s.d.usr)->renames, 1);
    struct ment m;
    char h[65], c[16];
    CHECK_EQ_INT(usr_ment(&s, "/usr/x.py", &m), 1);
    CHECK_EQ_INT(m.keys, K_CRC | K_SHA);
    CHECK_EQ_STR(m.sha, sha_hex_str(X, h));
    CHECK_EQ_STR(m.crc, crc_hex_str(X, c));
    CHECK_EQ_INT(usr_ment(&s, "/usr/z.py", &m), 1);
    CHECK_EQ_INT(m.keys, K_SHA);
    CHECK_EQ_STR(m.sha, sha_hex_str(Z, h));
    check_hygiene(&s);
    sdev_free(&s);
}

/* Entries keep their kinds of hash when the table is written back. */
static void test_boot_writeback_kinds(void)
{
    struct sdev s;
    struct fsg_report r;
    struct ment m;
    char h[65], c[16];

    kinds_device(&s);
    /* The user table lost c.json and big.bin, and b.py carries a member of
     * its own, kept as it is. */
    char ea[256], eb[256], ee[256], man[1024];
    entry_json(ea, sizeof ea, "/usr/a.py", A_TXT, strlen(A_TXT), HASH_CRC);
    snprintf(eb, sizeof eb, "{\"name\": \"/usr/lib/b.py\", \"mode\": 420, \"sha256\": \"%s\"}",
             sha_hex_str(B_TXT, h));
    entry_json(ee, sizeof ee, "/usr/empty.txt", "", 0, HASH_SHA);
    snprintf(man, sizeof man, "[%s, %s, %s]", ea, eb, ee);
    memport_put_str(s.d.usr, "checksum.json", man);

    CHECK_EQ_INT(sdev_boot(&s, 0, &r), 0);
    CHECK_EQ_INT(r.entries_added, 2);
    CHECK_EQ_INT(r.ok, 5);
    CHECK_EQ_INT(r.manifest, FSG_MANIFEST_UPDATED);
    CHECK_EQ_INT(r.manifest_written, 1);
    CHECK(file_ev(&s.ev, "/usr/lib/c.json")->entry_added);
    CHECK_EQ_INT(file_ev(&s.ev, "/usr/lib/c.json")->hashes, HASH_BOTH);

    CHECK_EQ_INT(usr_ment(&s, "/usr/a.py", &m), 1);
    CHECK_EQ_INT(m.keys, K_CRC);
    CHECK_EQ_INT(m.members, 2);
    CHECK_EQ_STR(m.crc, crc_hex_str(A_TXT, c));
    CHECK_EQ_INT(usr_ment(&s, "/usr/lib/b.py", &m), 1);
    CHECK_EQ_INT(m.keys, K_SHA);
    CHECK_EQ_INT(m.members, 3); /* name, sha256, mode */
    CHECK_EQ_STR(m.sha, sha_hex_str(B_TXT, h));
    CHECK_EQ_INT(usr_ment(&s, "/usr/empty.txt", &m), 1);
    CHECK_EQ_INT(m.keys, K_SHA);
    CHECK_EQ_STR(m.sha, SHA_EMPTY);
    CHECK_EQ_INT(usr_ment(&s, "/usr/lib/c.json", &m), 1);
    CHECK_EQ_INT(m.keys, K_CRC | K_SHA);
    CHECK_EQ_STR(m.crc, crc_hex_str(C_TXT, c));
    CHECK_EQ_STR(m.sha, sha_hex_str(C_TXT, h));
    CHECK_EQ_INT(usr_ment(&s, "/usr/big.bin", &m), 1);
    CHECK_EQ_INT(m.keys, K_CRC | K_SHA);
    CHECK_EQ_STR(m.sha, sha_hex(big, BIG_LEN, h));
    CHECK_EQ_STR(m.crc, crc_hex(big, BIG_LEN, c));
    /* The mode member went back as it came. */
    CHECK(strstr(memport_get(s.d.usr, "checksum.json", NULL), "\"mode\": 420") != NULL ||
          strstr(memport_get(s.d.usr, "checksum.json", NULL), "\"mode\":420") != NULL);
    check_hygiene(&s);

    /* The written table reads back to the same verdict, with no write. */
    CHECK_EQ_INT(sdev_boot(&s, 0, &r), 0);
    CHECK_EQ_INT(r.ok, 5);
    CHECK_EQ_INT(r.manifest, FSG_MANIFEST_UNCHANGED);
    CHECK_EQ_INT(memport_mutating_calls(s.d.usr), 0);

    /* A missing user table is copied from the backup, kinds and all. */
    memport_remove(s.d.usr, "checksum.json");
    CHECK_EQ_INT(sdev_boot(&s, 0, &r), 0);
    CHECK_EQ_INT(r.manifest, FSG_MANIFEST_CREATED);
    CHECK_EQ_INT(usr_ment(&s, "/usr/lib/b.py", &m), 1);
    CHECK_EQ_INT(m.keys, K_SHA);
    CHECK_EQ_INT(m.members, 2);
    CHECK_EQ_INT(usr_ment(&s, "/usr/a.py", &m), 1);
    CHECK_EQ_INT(m.keys, K_CRC);
    CHECK_EQ_INT(usr_ment(&s, "/usr/lib/c.json", &m), 1);
    CHECK_EQ_INT(m.keys, K_CRC | K_SHA);

    /* An invalid sha256 value is a refused entry, put back from the backup. */
    entry_json(ea, sizeof ea, "/usr/a.py", A_TXT, strlen(A_TXT), HASH_CRC);
    snprintf(eb, sizeof eb, "{\"name\": \"/usr/lib/b.py\", \"sha256\": \"%.63s\"}",
             sha_hex_str(B_TXT, h));
    snprintf(man, sizeof man, "[%s, %s]", ea, eb);
    memport_put_str(s.d.usr, "checksum.json", man);
    CHECK_EQ_INT(sdev_boot(&s, 0, &r), 0);
    const struct sev *d = NULL;
    for (size_t i = 0; i < s.ev.n; i++)
        if (s.ev.v[i].kind == FSG_EVENT_ENTRY && s.ev.v[i].source == FSG_SOURCE_USR)
            d = &s.ev.v[i];
    CHECK(d != NULL && d->defect == FSG_DEFECT_HASH_BAD && d->index == 1);
    CHECK_EQ_INT(usr_ment(&s, "/usr/lib/b.py", &m), 1);
    CHECK_EQ_INT(m.keys, K_SHA);
    CHECK_EQ_STR(m.sha, sha_hex_str(B_TXT, h));
    sdev_free(&s);
}

/* ------------------------------------------------------------------------ */
/* fsg_calc and fsg_put.                                                    */

static void test_calc_sha(void)
{
    struct sdev s;
    struct fsg_report r;
    struct ment m;
    char h[65], c[16];
    uint32_t crc = 0;

    kinds_device(&s);
    /* sha256 only: the sha256 is updated, no crc32 appears. */
    memport_put_str(s.d.usr, "lib/b.py", "import b2\n");
    sdev_reset(&s);
    CHECK_EQ_INT(fsg_calc(&s.d.cfg, "/usr/lib/b.py", &crc), 0);
    CHECK_EQ_INT(crc, mp_crc("import b2\n", 10));
    CHECK_EQ_INT(usr_ment(&s, "/usr/lib/b.py", &m), 1);
    CHECK_EQ_INT(m.keys, K_SHA);
    CHECK_EQ_STR(m.sha, sha_hex_str("import b2\n", h));
    CHECK(memport_protocol_ok(s.d.usr));
    check_hygiene(&s);
    /* Both: both are updated. */
    memport_put_str(s.d.usr, "lib/c.json", "{\"c\": 4}");
    CHECK_EQ_INT(fsg_calc(&s.d.cfg, "/usr/lib/c.json", &crc), 0);
    CHECK_EQ_INT(crc, mp_crc("{\"c\": 4}", 8));
    CHECK_EQ_INT(usr_ment(&s, "/usr/lib/c.json", &m), 1);
    CHECK_EQ_INT(m.keys, K_CRC | K_SHA);
    CHECK_EQ_STR(m.sha, sha_hex_str("{\"c\": 4}", h));
    CHECK_EQ_STR(m.crc, crc_hex_str("{\"c\": 4}", c));
    /* Others unchanged. */
    CHECK_EQ_INT(usr_ment(&s, "/usr/a.py", &m), 1);
    CHECK_EQ_INT(m.keys, K_CRC);
    CHECK_EQ_STR(m.crc, crc_hex_str(A_TXT, c));

    /* Unchanged content: nothing written. */
    sdev_reset(&s);
    CHECK_EQ_INT(fsg_calc(&s.d.cfg, "/usr/lib/b.py", &crc), 0);
    CHECK_EQ_INT(memport_mutating_calls(s.d.usr), 0);

    /* Boot accepts both edits. */
    CHECK_EQ_INT(sdev_boot(&s, 0, &r), 0);
    CHECK_EQ_INT(r.ok, 5);
    CHECK_EQ_INT(r.restored, 0);
    CHECK_EQ_STR(usr_file(&s, "/usr/lib/b.py"), "import b2\n");
    CHECK_EQ_INT(memport_mutating_calls(s.d.usr), 0);

    /* Same CRC, other content, under a sha256-only entry: calc records the
     * new sha256 (the CRC alone would have said "unchanged"). */
    unsigned char f[64];
    forge_crc("import b3#", 10, mp_crc("import b2\n", 10), f);
    memport_put(s.d.usr, "lib/b.py", f, 14);
    sdev_reset(&s);
    CHECK_EQ_INT(fsg_calc(&s.d.cfg, "/usr/lib/b.py", &crc), 0);
    CHECK_EQ_INT(memport_ops(s.d.usr)->renames, 1);
    CHECK_EQ_INT(usr_ment(&s, "/usr/lib/b.py", &m), 1);
    CHECK_EQ_STR(m.sha, sha_hex(f, 14, h));
    sdev_free(&s);
}

/* One fsg_put of text to name. */
static int put_text(struct sdev *s, const char *name, const char *text, uint32_t *crc,
                    int fail_rename)
{
    struct fsg_put *p = NULL;
    int err = fsg_put_begin(&s->d.cfg, name, &p);
    if (err < 0)
        return err;
    err = fsg_put_write(p, text, strlen(text));
    if (err < 0) {
        fsg_put_abort(p);
        return err;
    }
    if (fail_rename > 0)
        memport_fail_kind(s->d.usr, FP_OP_RENAME, (unsigned long)fail_rename, FSG_ERR_IO, 0);
    err = fsg_put_commit(p, crc);
    memport_fail_clear(s->d.usr);
    return err;
}

static void test_put_sha(void)
{
    struct sdev s;
    struct fsg_report r;
    struct ment m;
    char h[65], c[16], h2[65], c2[16];
    uint32_t crc = 0;

    kinds_device(&s);
    /* sha256-only entry: the new sha256 is committed, no crc32, no
     * pending member left. */
    sdev_reset(&s);
    CHECK_EQ_INT(put_text(&s, "/usr/lib/b.py", "import put\n", &crc, 0), 0);
    CHECK_EQ_INT(crc, mp_crc("import put\n", 11));
    CHECK_EQ_STR(usr_file(&s, "/usr/lib/b.py"), "import put\n");
    CHECK_EQ_INT(usr_ment(&s, "/usr/lib/b.py", &m), 1);
    CHECK_EQ_INT(m.keys, K_SHA);
    CHECK_EQ_INT(m.members, 2);
    CHECK_EQ_STR(m.sha, sha_hex_str("import put\n", h));
    CHECK(memport_protocol_ok(s.d.usr));
    check_hygiene(&s);

    /* Both: the last step fails (third rename: pending table, file, final
     * table), leaving the new file and both pending hashes. */
    sdev_reset(&s);
    CHECK(put_text(&s, "/usr/lib/c.json", "{\"c\": 5}", &crc, 3) < 0);
    CHECK_EQ_STR(usr_file(&s, "/usr/lib/c.json"), "{\"c\": 5}");
    CHECK_EQ_INT(usr_ment(&s, "/usr/lib/c.json", &m), 1);
    CHECK_EQ_INT(m.keys, K_CRC | K_SHA | K_PCRC | K_PSHA);
    CHECK_EQ_STR(m.crc, crc_hex_str(C_TXT, c));
    CHECK_EQ_STR(m.sha, sha_hex_str(C_TXT, h));
    CHECK_EQ_STR(m.pcrc, crc_hex_str("{\"c\": 5}", c2));
    CHECK_EQ_STR(m.psha, sha_hex_str("{\"c\": 5}", h2));
    /* The next boot commits it. */
    CHECK_EQ_INT(sdev_boot(&s, 0, &r), 0);
    CHECK_EQ_INT(r.edits_finished, 1);
    CHECK_EQ_INT(r.restored, 0);
    CHECK_EQ_INT(r.ok, 5);
    const struct sev *e = file_ev(&s.ev, "/usr/lib/c.json");
    CHECK_EQ_INT(e->pending, FSG_PENDING_COMMITTED);
    CHECK(e->has_sha_recorded && sha_is(e->sha_recorded, "{\"c\": 5}"));
    CHECK_EQ_INT(e->recorded, mp_crc("{\"c\": 5}", 8));
    CHECK_EQ_INT(usr_ment(&s, "/usr/lib/c.json", &m), 1);
    CHECK_EQ_INT(m.keys, K_CRC | K_SHA);
    CHECK_EQ_STR(m.crc, c2);
    CHECK_EQ_STR(m.sha, h2);
    CHECK_EQ_STR(usr_file(&s, "/usr/lib/c.json"), "{\"c\": 5}");

    /* sha256 only, the same failure: only fsg_pending_sha256 is pending. */
    sdev_reset(&s);
    CHECK(put_text(&s, "/usr/lib/b.py", "import put2\n", &crc, 3) < 0);
    CHECK_EQ_INT(usr_ment(&s, "/usr/lib/b.py", &m), 1);
    CHECK_EQ_INT(m.keys, K_SHA | K_PSHA);
    CHECK_EQ_STR(m.sha, sha_hex_str("import put\n", h));
    CHECK_EQ_STR(m.psha, sha_hex_str("import put2\n", h2));
    CHECK_EQ_INT(sdev_boot(&s, 0, &r), 0);
    CHECK_EQ_INT(file_ev(&s.ev, "/usr/lib/b.py")->pending, FSG_PENDING_COMMITTED);
    CHECK_EQ_INT(usr_ment(&s, "/usr/lib/b.py", &m), 1);
    CHECK_EQ_INT(m.keys, K_SHA);
    CHECK_EQ_STR(m.sha, h2);

    /* Rename of the file itself fails: old file, no pending left. */
    sdev_reset(&s);
    CHECK(put_text(&s, "/usr/lib/b.py", "import put3\n", &crc, 2) < 0);
    CHECK_EQ_STR(usr_file(&s, "/usr/lib/b.py"), "import put2\n");
    CHECK_EQ_INT(usr_ment(&s, "/usr/lib/b.py", &m), 1);
    CHECK_EQ_INT(m.keys, K_SHA);
    CHECK_EQ_STR(m.sha, h2);
    CHECK_EQ_INT(memport_count_temps(s.d.usr, NULL, 0), 0);

    /* A pending sha256 whose file still holds the old content: discarded. */
    char man[2048], ea[256];
    entry_json(ea, sizeof ea, "/usr/a.py", A_TXT, strlen(A_TXT), HASH_CRC);
    snprintf(man, sizeof man,
             "[%s, {\"name\": \"/usr/lib/b.py\", \"sha256\": \"%s\", \"fsg_pending_sha256\": "
             "\"%s\"}]",
             ea, sha_hex_str("import put2\n", h), sha_hex_str("never written\n", h2));
    memport_put_str(s.d.usr, "checksum.json", man);
    CHECK_EQ_INT(sdev_boot(&s, 0, &r), 0);
    e = file_ev(&s.ev, "/usr/lib/b.py");
    CHECK_EQ_INT(e->status, FSG_STATUS_OK);
    CHECK_EQ_INT(e->pending, FSG_PENDING_DISCARDED);
    CHECK_EQ_INT(usr_ment(&s, "/usr/lib/b.py", &m), 1);
    CHECK_EQ_INT(m.keys, K_SHA);
    CHECK_EQ_STR(m.sha, h);

    /* Pending hashes of other kinds than the entry's are refused. */
    char bad_pending[3][512];
    snprintf(bad_pending[0], sizeof bad_pending[0],
             "{\"name\": \"/usr/lib/b.py\", \"sha256\": \"%s\", \"fsg_pending\": \"0x1\"}",
             SHA_ABC);
    snprintf(bad_pending[1], sizeof bad_pending[1],
             "{\"name\": \"/usr/lib/c.json\", \"crc32\": \"0x1\", \"sha256\": \"%s\", "
             "\"fsg_pending_sha256\": \"%s\"}",
             SHA_ABC, SHA_ABC);
    snprintf(bad_pending[2], sizeof bad_pending[2],
             "{\"name\": \"/usr/lib/b.py\", \"sha256\": \"%s\", \"fsg_pending_sha256\": "
             "\"%.63s\"}",
             SHA_ABC, SHA_ABC);
    for (size_t i = 0; i < 3; i++) {
        const char *ent = bad_pending[i];
        snprintf(man, sizeof man, "[%s, %s]", ea, ent);
        memport_put_str(s.d.usr, "checksum.json", man);
        CHECK_EQ_INT(sdev_boot(&s, FSG_DRY_RUN, &r), 0);
        const struct sev *d = NULL;
        for (size_t k = 0; k < s.ev.n; k++)
            if (s.ev.v[k].kind == FSG_EVENT_ENTRY && s.ev.v[k].source == FSG_SOURCE_USR)
                d = &s.ev.v[k];
        CHECK(d != NULL && d->defect == FSG_DEFECT_PENDING_BAD && d->index == 1);
    }
    sdev_free(&s);
}

/* ------------------------------------------------------------------------ */
/* FOTA.                                                                    */

static int fota_run(struct sdev *s, const char *const *names, const char *const *texts,
                    const int *protect, size_t n, struct fsg_fota_report *fr)
{
    struct fsg_fota *tx = NULL;
    int err = fsg_fota_begin(&s->d.cfg, &tx);
    if (err < 0)
        return err;
    for (size_t i = 0; i < n && err == 0; i++) {
        err = fsg_fota_add(tx, names[i], protect[i]);
        /* In two pieces, so the hash is streamed. */
        size_t len = strlen(texts[i]), half = len / 2;
        if (err == 0)
            err = fsg_fota_write(tx, texts[i], half);
        if (err == 0)
            err = fsg_fota_write(tx, texts[i] + half, len - half);
    }
    if (err < 0) {
        fsg_fota_abort(tx);
        return err;
    }
    return fsg_fota_commit(tx, fr);
}

static void test_fota_sha(void)
{
    struct sdev s;
    struct fsg_report r;
    struct fsg_fota_report fr;
    struct ment m;
    char h[65], c[16];

    kinds_device(&s);
    const char *names[] = {"/usr/lib/b.py", "/usr/lib/c.json", "/usr/new.py", "/usr/free.py"};
    const char *texts[] = {"import fota_b\n", "{\"c\": 6}", "new = 1\n", "free\n"};
    const int protect[] = {0, 0, 1, 0};
    sdev_reset(&s);
    CHECK_EQ_INT(fota_run(&s, names, texts, protect, 4, &fr), 0);
    CHECK_EQ_INT(fr.files, 4);
    CHECK_EQ_INT(fr.protected_files, 2);
    CHECK_EQ_INT(fr.newly_protected, 1);
    CHECK_EQ_INT(fr.unprotected, 1);
    CHECK_EQ_INT(fr.committed, 1);
    for (size_t i = 0; i < 4; i++)
        CHECK_EQ_STR(usr_file(&s, names[i]), texts[i]);
    CHECK_EQ_INT(usr_ment(&s, "/usr/lib/b.py", &m), 1);
    CHECK_EQ_INT(m.keys, K_SHA);
    CHECK_EQ_STR(m.sha, sha_hex_str(texts[0], h));
    CHECK_EQ_INT(usr_ment(&s, "/usr/lib/c.json", &m), 1);
    CHECK_EQ_INT(m.keys, K_CRC | K_SHA);
    CHECK_EQ_STR(m.sha, sha_hex_str(texts[1], h));
    CHECK_EQ_STR(m.crc, crc_hex_str(texts[1], c));
    /* A new entry gets the kinds the table uses: here both. */
    CHECK_EQ_INT(usr_ment(&s, "/usr/new.py", &m), 1);
    CHECK_EQ_INT(m.keys, K_CRC | K_SHA);
    CHECK_EQ_STR(m.sha, sha_hex_str(texts[2], h));
    CHECK_EQ_STR(m.crc, crc_hex_str(texts[2], c));
    CHECK_EQ_INT(usr_ment(&s, "/usr/free.py", &m), 0);
    CHECK_EQ_INT(usr_ment(&s, "/usr/a.py", &m), 1);
    CHECK_EQ_INT(m.keys, K_CRC);
    CHECK_EQ_STR(m.crc, crc_hex_str(A_TXT, c));
    check_hygiene(&s);

    /* Boot accepts the update as it is. */
    CHECK_EQ_INT(sdev_boot(&s, 0, &r), 0);
    CHECK_EQ_INT(r.files, 6);
    CHECK_EQ_INT(r.ok, 6);
    CHECK_EQ_INT(r.restored, 0);
    CHECK_EQ_INT(memport_mutating_calls(s.d.usr), 0);

    /* Interrupted after the commit point (renames at commit: the last
     * staged file's, table.old, table.new, the journal, then the first
     * target's): boot rolls it forward, sha256 and all. */
    const char *n2[] = {"/usr/lib/b.py", "/usr/big.bin"};
    const char *t2[] = {"import fota_b2\n", "now small\n"};
    const int p2[] = {0, 0};
    struct fsg_fota *tx = NULL;
    CHECK_EQ_INT(fsg_fota_begin(&s.d.cfg, &tx), 0);
    for (size_t i = 0; i < 2; i++) {
        CHECK_EQ_INT(fsg_fota_add(tx, n2[i], p2[i]), 0);
        CHECK_EQ_INT(fsg_fota_write(tx, t2[i], strlen(t2[i])), 0);
    }
    memport_fail_kind(s.d.usr, FP_OP_RENAME, 5, FSG_ERR_IO, 1);
    CHECK(fsg_fota_commit(tx, &fr) < 0);
    memport_fail_clear(s.d.usr);
    CHECK_EQ_INT(memport_exists(s.d.usr, ".fsg-fota/journal.json"), FSG_TYPE_REG);
    int state = -1;
    unsigned long nf = 0;
    CHECK_EQ_INT(fsg_fota_status(&s.d.cfg, &state, &nf), 0);
    CHECK_EQ_INT(state, FSG_FOTA_COMMITTED);
    CHECK_EQ_INT(nf, 2);
    CHECK_EQ_INT(sdev_boot(&s, 0, &r), 0);
    CHECK_EQ_INT(r.fota, FSG_FOTA_COMMITTED);
    CHECK_EQ_INT(r.restored, 0);
    CHECK_EQ_INT(r.failed, 0);
    CHECK_EQ_STR(usr_file(&s, "/usr/lib/b.py"), t2[0]);
    CHECK_EQ_STR(usr_file(&s, "/usr/big.bin"), t2[1]);
    CHECK_EQ_INT(usr_ment(&s, "/usr/lib/b.py", &m), 1);
    CHECK_EQ_INT(m.keys, K_SHA);
    CHECK_EQ_STR(m.sha, sha_hex_str(t2[0], h));
    CHECK_EQ_INT(usr_ment(&s, "/usr/big.bin", &m), 1);
    CHECK_EQ_INT(m.keys, K_CRC | K_SHA);
    CHECK_EQ_STR(m.sha, sha_hex_str(t2[1], h));
    CHECK_EQ_STR(m.crc, crc_hex_str(t2[1], c));
    CHECK_EQ_INT(memport_exists(s.d.usr, ".fsg-fota/journal.json"), 0);
    check_hygiene(&s);

    /* In a table of sha256-only entries, a new protected file gets a
     * sha256 only. */
    struct sdev t;
    sdev_init(&t);
    sdev_add_str(&t, "/usr/s.py", "s\n", HASH_SHA);
    sdev_save(&t);
    const char *n3[] = {"/usr/n.py"};
    const char *t3[] = {"n\n"};
    const int p3[] = {1};
    CHECK_EQ_INT(fota_run(&t, n3, t3, p3, 1, &fr), 0);
    CHECK_EQ_INT(fr.newly_protected, 1);
    CHECK_EQ_INT(usr_ment(&t, "/usr/n.py", &m), 1);
    CHECK_EQ_INT(m.keys, K_SHA);
    CHECK_EQ_STR(m.sha, sha_hex_str("n\n", h));
    /* And a forgery of it with the same CRC is seen (no backup copy: FAILED). */
    unsigned char f[64];
    forge_crc("m#", 2, mp_crc("n\n", 2), f);
    memport_put(t.d.usr, "n.py", f, 6);
    CHECK_EQ_INT(sdev_boot(&t, 0, &r), 0);
    CHECK_EQ_INT(file_ev(&t.ev, "/usr/n.py")->status, FSG_STATUS_FAILED);
    CHECK_EQ_INT(file_ev(&t.ev, "/usr/n.py")->failure, FSG_FAILURE_NO_ENTRY);
    CHECK_EQ_INT(file_ev(&t.ev, "/usr/n.py")->problem, FSG_PROBLEM_MISMATCH);
    sdev_free(&t);
    sdev_free(&s);
}

/* ------------------------------------------------------------------------ */
/* Signed backups at boot.                                                  */

static const char SX[] = "signed x\n", SY[] = "signed y\n", SW[] = "weak w\n";

/* x.py both, lib/y.py sha256 only, w.py crc32 only; the backup table signed
 * with the device's key, cfg.pubkey set. */
static void signed_device(struct sdev *s)
{
    sdev_init(s);
    sdev_add_str(s, "/usr/x.py", SX, HASH_BOTH);
    sdev_add_str(s, "/usr/lib/y.py", SY, HASH_SHA);
    sdev_add_str(s, "/usr/w.py", SW, HASH_CRC);
    sdev_save(s);
    sign_bak(s->d.bak, s->sk, s->pk);
    s->d.cfg.pubkey = s->pk;
}

static void test_signed_good(void)
{
    struct sdev s;
    struct fsg_report r;

    signed_device(&s);
    CHECK_EQ_INT(sdev_boot(&s, 0, &r), 0);
    CHECK_EQ_INT(r.signature, FSG_SIG_GOOD);
    CHECK_EQ_INT(r.signature_error, 0);
    CHECK_EQ_INT(r.ok, 3);
    CHECK_EQ_INT(memport_mutating_calls(s.d.usr), 0);

    /* Damage all three: the sha256 entries are restored, the CRC-only one
     * is not (a signed CRC vouches for nothing). */
    memport_put_str(s.d.usr, "x.py", "bad\n");
    memport_remove(s.d.usr, "lib/y.py");
    memport_put_str(s.d.usr, "w.py", "bad w\n");
    CHECK_EQ_INT(sdev_boot(&s, 0, &r), 0);
    CHECK_EQ_INT(r.signature, FSG_SIG_GOOD);
    CHECK_EQ_INT(r.restored, 2);
    CHECK_EQ_INT(r.failed, 1);
    CHECK_EQ_STR(usr_file(&s, "/usr/x.py"), SX);
    CHECK_EQ_STR(usr_file(&s, "/usr/lib/y.py"), SY);
    CHECK_EQ_STR(usr_file(&s, "/usr/w.py"), "bad w\n");
    const struct sev *e = file_ev(&s.ev, "/usr/w.py");
    CHECK_EQ_INT(e->status, FSG_STATUS_FAILED);
    CHECK_EQ_INT(e->failure, FSG_FAILURE_WEAK_HASH);
    CHECK_EQ_INT(fsg_report_exit_code(&r), 4);
    check_hygiene(&s);

    /* Weak hash even when the file already holds the factory bytes under
     * another recorded hash (no hash-only shortcut on a CRC's word). */
    memport_put_str(s.d.usr, "w.py", SW);
    char ex[256], ey[256], ew[256], man[1024];
    entry_json(ex, sizeof ex, "/usr/x.py", SX, strlen(SX), HASH_BOTH);
    entry_json(ey, sizeof ey, "/usr/lib/y.py", SY, strlen(SY), HASH_SHA);
    entry_json(ew, sizeof ew, "/usr/w.py", "edited w\n", 9, HASH_CRC);
    snprintf(man, sizeof man, "[%s, %s, %s]", ex, ey, ew);
    memport_put_str(s.d.usr, "checksum.json", man);
    CHECK_EQ_INT(sdev_boot(&s, 0, &r), 0);
    CHECK_EQ_INT(file_ev(&s.ev, "/usr/w.py")->failure, FSG_FAILURE_WEAK_HASH);
    CHECK_EQ_INT(memport_mutating_calls(s.d.usr), 0);

    /* Without the key, the same device restores w.py. */
    s.d.cfg.pubkey = NULL;
    memport_put_str(s.d.usr, "w.py", "bad w\n");
    CHECK_EQ_INT(sdev_boot(&s, 0, &r), 0);
    CHECK_EQ_INT(r.signature, FSG_SIG_UNCHECKED);
    CHECK_EQ_STR(usr_file(&s, "/usr/w.py"), SW);
    s.d.cfg.pubkey = s.pk;

    /* A backup copy altered under a valid signature of the table: refused,
     * the target untouched. */
    memport_put_str(s.d.bak, "usr/lib/y.py", "signed Y\n");
    memport_put_str(s.d.usr, "lib/y.py", "bad y\n");
    CHECK_EQ_INT(sdev_boot(&s, 0, &r), 0);
    CHECK_EQ_INT(r.signature, FSG_SIG_GOOD);
    e = file_ev(&s.ev, "/usr/lib/y.py");
    CHECK_EQ_INT(e->status, FSG_STATUS_FAILED);
    CHECK_EQ_INT(e->failure, FSG_FAILURE_BAK_DAMAGED);
    CHECK_EQ_STR(usr_file(&s, "/usr/lib/y.py"), "bad y\n");
    /* Also a same-CRC forgery of the backup copy of x.py. */
    unsigned char f[64];
    forge_crc("evil#", 5, mp_crc(SX, strlen(SX)), f);
    memport_put(s.d.bak, "usr/x.py", f, 9);
    memport_put_str(s.d.usr, "x.py", "bad x\n");
    CHECK_EQ_INT(sdev_boot(&s, 0, &r), 0);
    e = file_ev(&s.ev, "/usr/x.py");
    CHECK_EQ_INT(e->failure, FSG_FAILURE_BAK_DAMAGED);
    CHECK_EQ_STR(usr_file(&s, "/usr/x.py"), "bad x\n");
    CHECK_EQ_INT(memport_ops(s.d.usr)->renames, 0);
    check_hygiene(&s);
    sdev_free(&s);
}

/* The state every refused boot must leave alone: damaged files, a missing
 * user table, a temp file, an uncommitted staging area. */
static void stage_mess(struct sdev *s)
{
    memport_put_str(s->d.usr, "x.py", "bad\n");
    memport_remove(s->d.usr, "lib/y.py");
    memport_remove(s->d.usr, "checksum.json");
    memport_put_str(s->d.usr, ".old.py.fsg-tmp", "half");
    memport_put_str(s->d.usr, ".fsg-fota/new/x.py", "staged\n");
}

static char *dump_usr(const struct sdev *s)
{
    return memport_dump(s->d.usr);
}

/* Boots and checks the refusal: FSG_ERR_SIGNATURE, the state, nothing
 * written (not even tried). */
static void expect_refused(struct sdev *s, int flags, int sig, int line)
{
    struct fsg_report r;
    char *before = dump_usr(s);
    int err = sdev_boot(s, flags, &r);
    char *after = dump_usr(s);
    int failures = check_failures;
    CHECK_EQ_INT(err, FSG_ERR_SIGNATURE);
    CHECK_EQ_INT(r.signature, sig);
    CHECK_EQ_INT(memport_mutating_calls(s->d.usr), 0);
    CHECK_EQ_INT(memport_mutations(s->d.usr), 0);
    CHECK_EQ_STR(memport_trace(s->d.usr), "");
    CHECK_EQ_INT(memport_ops(s->d.usr)->calls[FP_OP_SYNCDIR], 0);
    CHECK_EQ_STR(before, after);
    CHECK_EQ_INT(r.files, 0);
    CHECK_EQ_INT(r.restored, 0);
    CHECK_EQ_INT(r.temps_removed, 0);
    CHECK_EQ_INT(r.fota, FSG_FOTA_NONE);
    CHECK_EQ_INT(sev_count(&s->ev, FSG_EVENT_FILE), 0);
    CHECK_EQ_INT(memport_mutating_calls(s->d.bak), 0);
    CHECK_EQ_INT(memport_open_handles(s->d.usr), 0);
    CHECK_EQ_INT(memport_open_handles(s->d.bak), 0);
    if (check_failures != failures)
        fprintf(stderr, "  (refused boot checked from line %d)\n", line);
    free(before);
    free(after);
}

static void put_sig(struct sdev *s, const char *line)
{
    memport_put_str(s->d.bak, FSG_SIG_NAME, line);
}

static void test_signed_refused(void)
{
    struct sdev s;
    struct fsg_report r;
    char good[256], line[512];
    size_t tl;

    signed_device(&s);
    stage_mess(&s);
    const char *t = memport_get(s.d.bak, "checksum.json", &tl);
    char *table = malloc(tl + 1);
    memcpy(table, t, tl + 1);
    snprintf(good, sizeof good, "%s", memport_get(s.d.bak, FSG_SIG_NAME, NULL));
    CHECK_EQ_INT(strlen(good), 8 + 64 + 1 + 128 + 1);

    /* Missing. */
    memport_remove(s.d.bak, FSG_SIG_NAME);
    expect_refused(&s, 0, FSG_SIG_MISSING, __LINE__);
    expect_refused(&s, FSG_DRY_RUN, FSG_SIG_MISSING, __LINE__);

    /* Malformed. */
    const char *malformed[] = {
        "",
        "\n",
        "ed25519\n",
    };
    for (size_t i = 0; i < sizeof malformed / sizeof *malformed; i++) {
        put_sig(&s, malformed[i]);
        expect_refused(&s, 0, FSG_SIG_MALFORMED, __LINE__);
    }
    /* Variants of the good line: cut, prefix changed, separators, hex. */
    snprintf(line, sizeof line, "%.*s\n", (int)strlen(good) - 2, good); /* one digit short */
    put_sig(&s, line);
    expect_refused(&s, 0, FSG_SIG_MALFORMED, __LINE__);
    snprintf(line, sizeof line, "%.72s\n", good); /* key only */
    put_sig(&s, line);
    expect_refused(&s, 0, FSG_SIG_MALFORMED, __LINE__);
    snprintf(line, sizeof line, "ED25519%s", good + 7);
    put_sig(&s, line);
    expect_refused(&s, 0, FSG_SIG_MALFORMED, __LINE__);
    snprintf(line, sizeof line, "ed448%s", good + 7);
    put_sig(&s, line);
    expect_refused(&s, 0, FSG_SIG_MALFORMED, __LINE__);
    snprintf(line, sizeof line, "%.72s  %s", good, good + 73); /* two spaces */
    put_sig(&s, line);
    expect_refused(&s, 0, FSG_SIG_MALFORMED, __LINE__);
    snprintf(line, sizeof line, "%.72s\t%s", good, good + 73);
    put_sig(&s, line);
    expect_refused(&s, 0, FSG_SIG_MALFORMED, __LINE__);
    snprintf(line, sizeof line, "%s", good);
    line[100] = 'g'; /* not hex, in the signature */
    put_sig(&s, line);
    expect_refused(&s, 0, FSG_SIG_MALFORMED, __LINE__);
    snprintf(line, sizeof line, "%s", good);
    line[20] = 'x'; /* not hex, in the key */
    put_sig(&s, line);
    expect_refused(&s, 0, FSG_SIG_MALFORMED, __LINE__);
    snprintf(line, sizeof line, "%.*s junk\n", (int)strlen(good) - 1, good);
    put_sig(&s, line);
    expect_refused(&s, 0, FSG_SIG_MALFORMED, __LINE__);
    snprintf(line, sizeof line, "%.*s00\n", (int)strlen(good) - 1, good); /* sig too long */
    put_sig(&s, line);
    expect_refused(&s, 0, FSG_SIG_MALFORMED, __LINE__);
    snprintf(line, sizeof line, " %s", good);
    put_sig(&s, line);
    expect_refused(&s, 0, FSG_SIG_MALFORMED, __LINE__);
    /* A directory where the signature goes. */
    memport_remove(s.d.bak, FSG_SIG_NAME);
    memport_mkdir(s.d.bak, FSG_SIG_NAME);
    expect_refused(&s, 0, FSG_SIG_MALFORMED, __LINE__);
    memport_remove(s.d.bak, FSG_SIG_NAME);

    /* Wrong key: a valid signature by another key, naming it. */
    unsigned char opk[32], osk[64];
    key_from_seed(0x22, opk, osk);
    sig_line((const unsigned char *)table, tl, osk, opk, line);
    put_sig(&s, line);
    expect_refused(&s, 0, FSG_SIG_WRONG_KEY, __LINE__);
    /* Another key's signature naming ours: bad. */
    sig_line((const unsigned char *)table, tl, osk, s.pk, line);
    put_sig(&s, line);
    expect_refused(&s, 0, FSG_SIG_BAD, __LINE__);
    /* A signature digit changed. */
    snprintf(line, sizeof line, "%s", good);
    line[80] = line[80] == '0' ? '1' : '0';
    put_sig(&s, line);
    expect_refused(&s, 0, FSG_SIG_BAD, __LINE__);
    /* The table altered after signing: one byte of white space more, and an
     * entry's hash changed. */
    put_sig(&s, good);
    char *alt = malloc(tl + 2);
    memcpy(alt, table, tl);
    alt[tl] = ' ';
    memport_put(s.d.bak, "checksum.json", alt, tl + 1);
    expect_refused(&s, 0, FSG_SIG_BAD, __LINE__);
    memcpy(alt, table, tl + 1);
    char *hx = strstr(alt, "\"sha256\": \"") + 11;
    *hx = *hx == 'a' ? 'b' : 'a';
    memport_put(s.d.bak, "checksum.json", alt, tl);
    expect_refused(&s, 0, FSG_SIG_BAD, __LINE__);
    free(alt);
    memport_put(s.d.bak, "checksum.json", table, tl);

    /* Refused before the switch is even read: disabled or missing. */
    memport_remove(s.d.bak, FSG_SIG_NAME);
    memport_put_str(s.d.bak, "backup_restore.json", "{\"enable\": 0}");
    expect_refused(&s, 0, FSG_SIG_MISSING, __LINE__);
    memport_remove(s.d.bak, "backup_restore.json");
    expect_refused(&s, 0, FSG_SIG_MISSING, __LINE__);
    memport_put_str(s.d.bak, "backup_restore.json", "{\"enable\": 1}");

    /* Unreadable: every open after the table's fails. */
    put_sig(&s, good);
    sdev_reset(&s);
    memport_fail_kind(s.d.bak, FP_OP_OPEN, 2, FSG_ERR_IO, 1);
    char *before = dump_usr(&s);
    CHECK_EQ_INT(fsg_boot(&s.d.cfg, 0, &r), FSG_ERR_SIGNATURE);
    memport_fail_clear(s.d.bak);
    char *after = dump_usr(&s);
    CHECK_EQ_INT(r.signature, FSG_SIG_UNREADABLE);
    CHECK_EQ_INT(r.signature_error, FSG_ERR_IO);
    CHECK_EQ_INT(memport_mutating_calls(s.d.usr), 0);
    CHECK_EQ_STR(before, after);
    free(before);
    free(after);

    /* With the good signature back, the same mess is cleaned up. */
    put_sig(&s, good);
    CHECK_EQ_INT(sdev_boot(&s, 0, &r), 0);
    CHECK_EQ_INT(r.signature, FSG_SIG_GOOD);
    CHECK_EQ_INT(r.fota, FSG_FOTA_UNCOMMITTED);
    CHECK_EQ_INT(r.manifest, FSG_MANIFEST_CREATED);
    CHECK_EQ_INT(r.restored, 2);
    CHECK_EQ_INT(r.temps_removed, 1);
    CHECK_EQ_STR(usr_file(&s, "/usr/x.py"), SX);
    CHECK_EQ_STR(usr_file(&s, "/usr/lib/y.py"), SY);
    CHECK_EQ_INT(memport_exists(s.d.usr, ".fsg-fota/new/x.py"), 0);
    check_hygiene(&s);
    /* A trailing CRLF is white space. */
    snprintf(line, sizeof line, "%.*s\r\n", (int)strlen(good) - 1, good);
    put_sig(&s, line);
    CHECK_EQ_INT(sdev_boot(&s, 0, &r), 0);
    CHECK_EQ_INT(r.signature, FSG_SIG_GOOD);

    free(table);
    sdev_free(&s);
}

/* A committed, unfinished update is not rolled forward under a bad
 * signature; with the good one it is. */
static void test_signed_fota_pending(void)
{
    struct sdev s;
    struct fsg_report r;
    struct fsg_fota_report fr;

    signed_device(&s);
    struct fsg_fota *tx = NULL;
    CHECK_EQ_INT(fsg_fota_begin(&s.d.cfg, &tx), 0);
    CHECK_EQ_INT(fsg_fota_add(tx, "/usr/lib/y.py", 0), 0);
    CHECK_EQ_INT(fsg_fota_write(tx, "y2\n", 3), 0);
    CHECK_EQ_INT(fsg_fota_add(tx, "/usr/x.py", 0), 0);
    CHECK_EQ_INT(fsg_fota_write(tx, "x2\n", 3), 0);
    memport_fail_kind(s.d.usr, FP_OP_RENAME, 5, FSG_ERR_IO, 1);
    CHECK(fsg_fota_commit(tx, &fr) < 0);
    memport_fail_clear(s.d.usr);
    CHECK_EQ_INT(memport_exists(s.d.usr, ".fsg-fota/journal.json"), FSG_TYPE_REG);

    char good[256];
    snprintf(good, sizeof good, "%s", memport_get(s.d.bak, FSG_SIG_NAME, NULL));
    memport_remove(s.d.bak, FSG_SIG_NAME);
    expect_refused(&s, 0, FSG_SIG_MISSING, __LINE__);
    CHECK_EQ_INT(memport_exists(s.d.usr, ".fsg-fota/journal.json"), FSG_TYPE_REG);
    put_sig(&s, good);
    CHECK_EQ_INT(sdev_boot(&s, 0, &r), 0);
    CHECK_EQ_INT(r.signature, FSG_SIG_GOOD);
    CHECK_EQ_INT(r.fota, FSG_FOTA_COMMITTED);
    CHECK_EQ_INT(r.fota_files, 2);
    CHECK_EQ_INT(r.failed, 0);
    CHECK_EQ_INT(r.restored, 0);
    CHECK_EQ_STR(usr_file(&s, "/usr/lib/y.py"), "y2\n");
    CHECK_EQ_STR(usr_file(&s, "/usr/x.py"), "x2\n");
    struct ment m;
    char h[65];
    CHECK_EQ_INT(usr_ment(&s, "/usr/lib/y.py", &m), 1);
    CHECK_EQ_INT(m.keys, K_SHA);
    CHECK_EQ_STR(m.sha, sha_hex_str("y2\n", h));
    CHECK_EQ_INT(memport_exists(s.d.usr, ".fsg-fota/journal.json"), 0);
    check_hygiene(&s);
    sdev_free(&s);
}


/* The table starts wanting a sha256 between fsg_put_begin and commit: the
 * new content's sha256 is still the one recorded. */
static void test_put_kinds_change(void)
{
    struct sdev s;
    struct fsg_report r;
    struct ment m;
    char h[65], c[16], man[1024], ea[256];
    uint32_t crc = 0;

    kinds_device(&s);
    struct fsg_put *p = NULL;
    CHECK_EQ_INT(fsg_put_begin(&s.d.cfg, "/usr/a.py", &p), 0);
    CHECK_EQ_INT(fsg_put_write(p, "print('A')\n", 11), 0);
    entry_json(ea, sizeof ea, "/usr/a.py", A_TXT, strlen(A_TXT), HASH_BOTH);
    snprintf(man, sizeof man, "[%s]", ea);
    memport_put_str(s.d.usr, "checksum.json", man);
    CHECK_EQ_INT(fsg_put_commit(p, &crc), 0);
    CHECK_EQ_INT(crc, mp_crc("print('A')\n", 11));
    CHECK_EQ_STR(usr_file(&s, "/usr/a.py"), "print('A')\n");
    CHECK_EQ_INT(usr_ment(&s, "/usr/a.py", &m), 1);
    CHECK_EQ_INT(m.keys, K_CRC | K_SHA);
    CHECK_EQ_STR(m.crc, crc_hex_str("print('A')\n", c));
    CHECK_EQ_STR(m.sha, sha_hex_str("print('A')\n", h));
    CHECK_EQ_INT(memport_count_temps(s.d.usr, NULL, 0), 0);
    CHECK_EQ_INT(sdev_boot(&s, 0, &r), 0);
    CHECK_EQ_INT(file_ev(&s.ev, "/usr/a.py")->status, FSG_STATUS_OK);
    sdev_free(&s);
}

/* With a key, the other entry points never take an unsigned backup table
 * for a user table either. */
static void test_signed_other_calls(void)
{
    struct sdev s;
    struct fsg_report r;
    struct fsg_fota_report fr;
    uint32_t crc = 0;

    signed_device(&s);
    memport_remove(s.d.bak, FSG_SIG_NAME);
    memport_remove(s.d.usr, "checksum.json");
    sdev_reset(&s);
    CHECK(fsg_calc(&s.d.cfg, "/usr/x.py", &crc) < 0);
    CHECK_EQ_INT(memport_mutating_calls(s.d.usr), 0);
    CHECK_EQ_INT(memport_exists(s.d.usr, "checksum.json"), 0);
    struct fsg_put *p = NULL;
    CHECK(fsg_put_begin(&s.d.cfg, "/usr/x.py", &p) < 0);
    CHECK(p == NULL);
    CHECK_EQ_INT(memport_mutating_calls(s.d.usr), 0);
    CHECK_EQ_INT(memport_exists(s.d.usr, "checksum.json"), 0);

    /* A missing backup table with a key: nothing written either. */
    struct sdev t;
    signed_device(&t);
    memport_remove(t.d.bak, "checksum.json");
    memport_put_str(t.d.usr, "x.py", "bad\n");
    CHECK(sdev_boot(&t, 0, &r) < 0);
    CHECK_EQ_INT(memport_mutating_calls(t.d.usr), 0);
    CHECK_EQ_STR(usr_file(&t, "/usr/x.py"), "bad\n");
    sdev_free(&t);

    /* FOTA: a name only the unsigned backup table lists is not protected
     * by it (the user table lost x.py's entry). */
    signed_device(&t);
    char ey[256], man[512];
    entry_json(ey, sizeof ey, "/usr/lib/y.py", SY, strlen(SY), HASH_SHA);
    snprintf(man, sizeof man, "[%s]", ey);
    memport_put_str(t.d.usr, "checksum.json", man);
    const char *names[] = {"/usr/x.py"};
    const char *texts[] = {"x3\n"};
    const int prot[] = {0};
    memport_put_str(t.d.bak, FSG_SIG_NAME, "ed25519 nonsense\n");
    CHECK_EQ_INT(fota_run(&t, names, texts, prot, 1, &fr), 0);
    CHECK_EQ_INT(fr.protected_files, 0);
    CHECK_EQ_INT(fr.unprotected, 1);
    struct ment m;
    CHECK_EQ_INT(usr_ment(&t, "/usr/x.py", &m), 0);
    /* With the good signature, the same update keeps x.py protected. */
    sign_bak(t.d.bak, t.sk, t.pk);
    texts[0] = "x4\n";
    CHECK_EQ_INT(fota_run(&t, names, texts, prot, 1, &fr), 0);
    CHECK_EQ_INT(fr.protected_files, 1);
    char h[65];
    CHECK_EQ_INT(usr_ment(&t, "/usr/x.py", &m), 1);
    CHECK_EQ_INT(m.keys, K_CRC | K_SHA);
    CHECK_EQ_STR(m.sha, sha_hex_str("x4\n", h));
    sdev_free(&t);
    sdev_free(&s);
}

/* ------------------------------------------------------------------------ */
/* fsg_pack and fsg_inspect.                                                */

struct pout {
    struct memport *src, *usr, *bak;
    struct sevs ev;
};

static void pout_init(struct pout *p)
{
    memset(p, 0, sizeof *p);
    p->src = memport_new();
    p->usr = memport_new();
    p->bak = memport_new();
    memport_put_str(p->src, "main.py", "print('main')\n");
    memport_put_str(p->src, "lib/util.py", "def f(): pass\n");
    memport_put(p->src, "data/big.bin", big, BIG_LEN);
    memport_put(p->src, "empty", "", 0);
}

static void pout_free(struct pout *p)
{
    memport_free(p->src);
    memport_free(p->usr);
    memport_free(p->bak);
}

static void pack_opt(struct pout *p, struct fsg_pack *o, unsigned hashes, const unsigned char *sk)
{
    memset(o, 0, sizeof *o);
    o->src = memport_port(p->src);
    o->usr = memport_port(p->usr);
    o->bak = memport_port(p->bak);
    o->enable = 1;
    o->hashes = hashes;
    o->sign_key = sk;
    o->on_event = sev_record;
    o->event_ctx = &p->ev;
}

static uint64_t sum_sizes(const struct memport *mp, const char *const *paths, size_t n)
{
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = 0;
        if (memport_get(mp, paths[i], &len) != NULL)
            total += len;
    }
    return total;
}

static void check_packed_entries(const struct pout *p, unsigned hashes)
{
    struct {
        const char *name;
        const void *data;
        size_t len;
    } f[] = {{"/usr/main.py", "print('main')\n", 14},
             {"/usr/lib/util.py", "def f(): pass\n", 14},
             {"/usr/data/big.bin", big, BIG_LEN},
             {"/usr/empty", "", 0}};
    int want = (hashes & HASH_CRC ? K_CRC : 0) | (hashes & HASH_SHA ? K_SHA : 0);
    for (size_t i = 0; i < 4; i++) {
        struct ment m;
        char h[65], c[16];
        CHECK_EQ_INT(ment_get(p->bak, "checksum.json", f[i].name, &m), 1);
        CHECK_EQ_INT(m.keys, want);
        if (want & K_SHA)
            CHECK_EQ_STR(m.sha, sha_hex(f[i].data, f[i].len, h));
        if (want & K_CRC)
            CHECK_EQ_STR(m.crc, crc_hex(f[i].data, f[i].len, c));
        const struct sev *e = sev_find(&p->ev, FSG_EVENT_PACKED, f[i].name);
        CHECK(e != NULL);
        if (e != NULL) {
            CHECK_EQ_INT(e->hashes, hashes);
            CHECK_EQ_INT(e->recorded, mp_crc(f[i].data, f[i].len));
            if (hashes & HASH_SHA) {
                unsigned char s[32];
                sha_of(f[i].data, f[i].len, s);
                CHECK(e->has_sha_recorded && memcmp(e->sha_recorded, s, 32) == 0);
            } else {
                CHECK(!e->has_sha_recorded);
            }
        }
    }
    /* The same table in both partitions. */
    CHECK_EQ_STR(memport_get(p->bak, "checksum.json", NULL),
                 memport_get(p->usr, "checksum.json", NULL));
}

static void test_pack_sha(void)
{
    struct pout p;
    struct fsg_pack o;
    struct fsg_pack_report pr;
    unsigned char pk[32], sk[64];
    key_from_seed(0x33, pk, sk);

    /* Signing needs sha256: refused before anything is read or written. */
    const unsigned weak[] = {0, HASH_CRC};
    for (size_t i = 0; i < 2; i++) {
        pout_init(&p);
        pack_opt(&p, &o, weak[i], sk);
        CHECK_EQ_INT(fsg_pack(&o, &pr), FSG_ERR_INVAL);
        CHECK_EQ_INT(memport_mutating_calls(p.usr), 0);
        CHECK_EQ_INT(memport_mutating_calls(p.bak), 0);
        CHECK_EQ_INT(memport_exists(p.bak, FSG_SIG_NAME), 0);
        pout_free(&p);
    }
    /* Unknown hash bits are refused too. */
    pout_init(&p);
    pack_opt(&p, &o, 4, NULL);
    CHECK_EQ_INT(fsg_pack(&o, &pr), FSG_ERR_INVAL);
    CHECK_EQ_INT(memport_mutating_calls(p.bak), 0);
    pout_free(&p);

    const unsigned kinds[] = {0, HASH_CRC, HASH_SHA, HASH_BOTH};
    for (size_t i = 0; i < 4; i++) {
        pout_init(&p);
        pack_opt(&p, &o, kinds[i], NULL);
        CHECK_EQ_INT(fsg_pack(&o, &pr), 0);
        CHECK_EQ_INT(pr.files, 4);
        CHECK_EQ_INT(pr.protected_files, 4);
        check_packed_entries(&p, kinds[i] != 0 ? kinds[i] : HASH_CRC);
        CHECK_EQ_INT(memport_exists(p.bak, FSG_SIG_NAME), 0);
        pout_free(&p);
    }

    /* Signed, sha256 only and both. */
    const unsigned skinds[] = {HASH_SHA, HASH_BOTH};
    for (size_t i = 0; i < 2; i++) {
        pout_init(&p);
        pack_opt(&p, &o, skinds[i], sk);
        CHECK_EQ_INT(fsg_pack(&o, &pr), 0);
        check_packed_entries(&p, skinds[i]);
        size_t tl, sl;
        const char *table = memport_get(p.bak, "checksum.json", &tl);
        const char *sig = memport_get(p.bak, FSG_SIG_NAME, &sl);
        CHECK(sig != NULL);
        if (sig == NULL) {
            pout_free(&p);
            continue;
        }
        /* Its line: "ed25519 PK SIG\n", and a valid Ed25519 signature. */
        char pkh[65];
        hex_of(pk, 32, pkh);
        CHECK_EQ_INT(sl, 8 + 64 + 1 + 128 + 1);
        CHECK(strncmp(sig, "ed25519 ", 8) == 0);
        CHECK(strncmp(sig + 8, pkh, 64) == 0);
        CHECK(sig[72] == ' ' && sig[sl - 1] == '\n');
        unsigned char raw[64];
        int hexok = 1;
        for (size_t k = 0; k < 64; k++) {
            unsigned v;
            if (sscanf(sig + 73 + 2 * k, "%2x", &v) != 1)
                hexok = 0;
            raw[k] = (unsigned char)v;
        }
        CHECK(hexok);
        CHECK_EQ_INT(crypto_sign_verify_detached(raw, (const unsigned char *)table, tl, pk), 0);
        /* The same line a fresh signature of the table gives (Ed25519 is
         * deterministic). */
        char line[256];
        sig_line((const unsigned char *)table, tl, sk, pk, line);
        CHECK_EQ_STR(sig, line);
        /* Sizes account for every byte written. */
        const char *bfiles[] = {"checksum.json", FSG_SIG_NAME, "backup_restore.json",
                                "usr/main.py", "usr/lib/util.py", "usr/data/big.bin",
                                "usr/empty"};
        const char *ufiles[] = {"checksum.json", "main.py", "lib/util.py", "data/big.bin",
                                "empty"};
        CHECK_EQ_INT(pr.bak_bytes, sum_sizes(p.bak, bfiles, 7));
        CHECK_EQ_INT(pr.usr_bytes, sum_sizes(p.usr, ufiles, 5));

        /* A device from these partitions boots with the key. */
        struct fsg_config cfg;
        struct sevs ev;
        struct fsg_report r;
        memset(&cfg, 0, sizeof cfg);
        memset(&ev, 0, sizeof ev);
        cfg.usr = memport_port(p.usr);
        cfg.bak = memport_port(p.bak);
        cfg.pubkey = pk;
        cfg.on_event = sev_record;
        cfg.event_ctx = &ev;
        memport_reset_ops(p.usr);
        CHECK_EQ_INT(fsg_boot(&cfg, 0, &r), 0);
        CHECK_EQ_INT(r.signature, FSG_SIG_GOOD);
        CHECK_EQ_INT(r.ok, 4);
        CHECK_EQ_INT(memport_mutating_calls(p.usr), 0);
        memport_put_str(p.usr, "lib/util.py", "tampered\n");
        CHECK_EQ_INT(fsg_boot(&cfg, 0, &r), 0);
        CHECK_EQ_INT(r.restored, 1);
        CHECK_EQ_STR(memport_get(p.usr, "lib/util.py", NULL), "def f(): pass\n");

        /* Inspect, with and without the key. */
        struct fsg_inspect_report ir;
        struct fsg_config ic;
        memset(&ic, 0, sizeof ic);
        ic.bak = memport_port(p.bak);
        ic.pubkey = pk;
        ic.on_event = sev_record;
        ic.event_ctx = &ev;
        ev.n = 0;
        memport_reset_ops(p.bak);
        CHECK_EQ_INT(fsg_inspect(&ic, FSG_SOURCE_BAK, &ir), 0);
        CHECK_EQ_INT(ir.signature, FSG_SIG_GOOD);
        CHECK_EQ_INT(ir.has_signature, 1);
        CHECK_EQ_INT(ir.listed, 4);
        CHECK_EQ_INT(ir.ok, 4);
        CHECK_EQ_INT(ir.unlisted, 0);
        CHECK_EQ_INT(ir.total_bytes, pr.bak_bytes);
        CHECK_EQ_INT(memport_mutating_calls(p.bak), 0);
        const struct sev *fe = sev_find(&ev, FSG_EVENT_FILE, "/usr/main.py");
        CHECK(fe != NULL && fe->has_sha_actual && sha_is(fe->sha_actual, "print('main')\n"));
        CHECK(fe != NULL && fe->expected_hashes == skinds[i]);
        ic.pubkey = NULL;
        CHECK_EQ_INT(fsg_inspect(&ic, FSG_SOURCE_BAK, &ir), 0);
        CHECK_EQ_INT(ir.signature, FSG_SIG_UNCHECKED);
        CHECK_EQ_INT(ir.has_signature, 1);
        CHECK_EQ_INT(ir.unlisted, 0);
        ic.pubkey = pk;

        /* A tampered backup copy: the signature holds, the file fails. */
        memport_put_str(p.bak, "usr/main.py", "print('evil')\n");
        ev.n = 0;
        CHECK_EQ_INT(fsg_inspect(&ic, FSG_SOURCE_BAK, &ir), 0);
        CHECK_EQ_INT(ir.signature, FSG_SIG_GOOD);
        CHECK_EQ_INT(ir.damaged, 1);
        CHECK_EQ_INT(ir.ok, 3);
        fe = sev_find(&ev, FSG_EVENT_FILE, "/usr/main.py");
        CHECK(fe != NULL && fe->status == FSG_STATUS_FAILED &&
              fe->problem == FSG_PROBLEM_MISMATCH);
        CHECK(fe != NULL && fe->has_sha_actual && sha_is(fe->sha_actual, "print('evil')\n"));
        CHECK(fe != NULL && fe->has_sha_expected && sha_is(fe->sha_expected, "print('main')\n"));

        /* Wrong key, altered table, missing signature. has_signature says
         * whether checksum.json.sig exists (fsguard.h), refused or not. */
        unsigned char opk[32], osk[64];
        key_from_seed(0x44, opk, osk);
        ic.pubkey = opk;
        ev.n = 0;
        CHECK_EQ_INT(fsg_inspect(&ic, FSG_SOURCE_BAK, &ir), FSG_ERR_SIGNATURE);
        CHECK_EQ_INT(ir.signature, FSG_SIG_WRONG_KEY);
        CHECK_EQ_INT(ir.has_signature, 1);
        CHECK_EQ_INT(sev_count(&ev, FSG_EVENT_FILE), 0);
        ic.pubkey = pk;
        char *alt = malloc(tl + 2);
        memcpy(alt, table, tl);
        alt[tl] = '\n';
        memport_put(p.bak, "checksum.json", alt, tl + 1);
        free(alt);
        CHECK_EQ_INT(fsg_inspect(&ic, FSG_SOURCE_BAK, &ir), FSG_ERR_SIGNATURE);
        CHECK_EQ_INT(ir.signature, FSG_SIG_BAD);
        CHECK_EQ_INT(ir.has_signature, 1);
        memport_remove(p.bak, FSG_SIG_NAME);
        CHECK_EQ_INT(fsg_inspect(&ic, FSG_SOURCE_BAK, &ir), FSG_ERR_SIGNATURE);
        CHECK_EQ_INT(ir.signature, FSG_SIG_MISSING);
        CHECK_EQ_INT(ir.has_signature, 0);
        CHECK_EQ_INT(memport_mutating_calls(p.bak), 0);

        /* The user partition has no signature to check. */
        memset(&ic, 0, sizeof ic);
        ic.usr = memport_port(p.usr);
        ic.pubkey = pk;
        CHECK_EQ_INT(fsg_inspect(&ic, FSG_SOURCE_USR, &ir), 0);
        CHECK_EQ_INT(ir.signature, FSG_SIG_UNCHECKED);
        CHECK_EQ_INT(ir.ok, 4);
        pout_free(&p);
    }

    /* Deterministic: the same tree packs and signs to the same bytes. */
    struct pout q;
    pout_init(&p);
    pout_init(&q);
    pack_opt(&p, &o, HASH_SHA, sk);
    CHECK_EQ_INT(fsg_pack(&o, &pr), 0);
    pack_opt(&q, &o, HASH_SHA, sk);
    CHECK_EQ_INT(fsg_pack(&o, &pr), 0);
    char *dp = memport_dump(p.bak), *dq = memport_dump(q.bak);
    CHECK_EQ_STR(dp, dq);
    CHECK_EQ_STR(memport_get(p.bak, FSG_SIG_NAME, NULL), memport_get(q.bak, FSG_SIG_NAME, NULL));
    free(dp);
    free(dq);
    pout_free(&p);
    pout_free(&q);
}

/* A key from fsg_keygen, through its key files, signs a pack that boots. */
static void test_keygen_roundtrip(void)
{
    unsigned char pk[32], sk[64], key[64], kpk[64];
    char text[FSG_KEY_STRLEN];
    int secret;
    struct pout p;
    struct fsg_pack o;
    struct fsg_pack_report pr;

    CHECK_EQ_INT(fsg_keygen(pk, sk), 0);
    fsg_key_format(1, sk, text);
    CHECK_EQ_INT(fsg_key_parse(text, strlen(text), &secret, key, NULL), 0);
    fsg_key_format(0, pk, text);
    CHECK_EQ_INT(fsg_key_parse(text, strlen(text), &secret, kpk, NULL), 0);
    pout_init(&p);
    pack_opt(&p, &o, HASH_SHA, key);
    CHECK_EQ_INT(fsg_pack(&o, &pr), 0);
    struct fsg_config cfg;
    struct fsg_report r;
    memset(&cfg, 0, sizeof cfg);
    cfg.usr = memport_port(p.usr);
    cfg.bak = memport_port(p.bak);
    cfg.pubkey = kpk;
    CHECK_EQ_INT(fsg_boot(&cfg, 0, &r), 0);
    CHECK_EQ_INT(r.signature, FSG_SIG_GOOD);
    CHECK_EQ_INT(r.ok, 4);
    pout_free(&p);
}

int main(void)
{
#ifndef FSG_MCU
    /* Not on the target (tests/mcu), where libsodium is built from its
     * sources without a random source: hashing, signing from a seed and
     * verifying need no initialisation. */
    if (sodium_init() < 0) {
        fprintf(stderr, "sodium_init failed\n");
        return 1;
    }
#endif
    init_big();
    test_sha_strings();
    test_keys();
    test_boot_intact();
    test_boot_restore_sha();
    test_boot_forged_crc();
    test_boot_bak_damaged();
    test_boot_writeback_kinds();
    test_calc_sha();
    test_put_sha();
    test_fota_sha();
    test_signed_good();
    test_signed_refused();
    test_signed_fota_pending();
    test_put_kinds_change();
    test_signed_other_calls();
    test_pack_sha();
    test_keygen_roundtrip();
    return check_done("test_sha");
}
