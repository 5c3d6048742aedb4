/*
 * digest.c -- the hashes of a content, as pure functions (no I/O): the
 * running CRC-32 and SHA-256 of a stream, comparing sets of hashes, and
 * hex text. SHA-256 comes from libsodium. A build with FSG_NO_CRYPTO (a
 * target without libsodium) computes CRC-32 only: tables' "sha256" entries
 * are refused (FSG_DEFECT_HASH_UNSUPPORTED), so nothing is ever taken as
 * checked that was not.
 */
#include "fsg_internal.h"

#include <string.h>

#ifndef FSG_NO_CRYPTO
#include <sodium.h>

_Static_assert(sizeof(crypto_hash_sha256_state) <= sizeof(((struct fsg_hasher *)0)->sha),
               "struct fsg_hasher has no room for libsodium's SHA-256 state");

/* No sodium_init() here, on purpose. libsodium's SHA-256 and Ed25519
 * verification are plain functions (no implementation picked at run time,
 * no randomness), while sodium_init() opens the random source: on Linux,
 * getrandom() without GRND_NONBLOCK, which waits for the kernel's pool. At
 * early boot on a device that can take long, and boot must not wait on it.
 * Key generation and signing (keys.c, host side) do call it. */

static crypto_hash_sha256_state *sha_state(struct fsg_hasher *h)
{
    return (crypto_hash_sha256_state *)(void *)h->sha;
}
#define HASHER_KINDS (FSG_HASH_CRC32 | FSG_HASH_SHA256)
#else
#define HASHER_KINDS FSG_HASH_CRC32
#endif

void fsg_hasher_init(struct fsg_hasher *h, unsigned kinds)
{
    h->crc = FSG_CRC_INIT;
    h->kinds = FSG_HASH_CRC32 | (kinds & HASHER_KINDS);
#ifndef FSG_NO_CRYPTO
    if (h->kinds & FSG_HASH_SHA256)
        (void)crypto_hash_sha256_init(sha_state(h));
#endif
}

void fsg_hasher_update(struct fsg_hasher *h, const void *data, size_t len)
{
    h->crc = fsg_crc32(h->crc, data, len);
#ifndef FSG_NO_CRYPTO
    if (h->kinds & FSG_HASH_SHA256)
        (void)crypto_hash_sha256_update(sha_state(h), data, len);
#endif
}

void fsg_hasher_final(struct fsg_hasher *h, struct fsg_sum *out)
{
    memset(out, 0, sizeof *out);
    out->crc = h->crc;
    out->kinds = (unsigned char)h->kinds;
#ifndef FSG_NO_CRYPTO
    if (h->kinds & FSG_HASH_SHA256)
        (void)crypto_hash_sha256_final(sha_state(h), out->sha);
#endif
}

bool fsg_sum_match(const struct fsg_sum *want, const struct fsg_sum *got)
{
    if (want->kinds == 0 || (want->kinds & got->kinds) != want->kinds)
        return false;
    if ((want->kinds & FSG_HASH_CRC32) && want->crc != got->crc)
        return false;
    /* Not secret: a plain comparison is enough. */
    if ((want->kinds & FSG_HASH_SHA256) && memcmp(want->sha, got->sha, sizeof want->sha) != 0)
        return false;
    return true;
}

void fsg_sum_keep(struct fsg_sum *s, unsigned kinds)
{
    s->kinds = (unsigned char)(s->kinds & kinds);
    if (!(s->kinds & FSG_HASH_CRC32))
        s->crc = 0;
    if (!(s->kinds & FSG_HASH_SHA256))
        memset(s->sha, 0, sizeof s->sha);
}

bool fsg_sum_equal(const struct fsg_sum *a, const struct fsg_sum *b)
{
    return a->kinds == b->kinds && (a->kinds == 0 || fsg_sum_match(a, b));
}

bool fsg_hex_decode(const char *s, unsigned char *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int hi = fsg_hex_digit(s[2 * i]), lo = hi < 0 ? -1 : fsg_hex_digit(s[2 * i + 1]);
        if (lo < 0)
            return false;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return true;
}

void fsg_hex_encode(const unsigned char *b, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

char *fsg_sha256_format(const unsigned char sha[FSG_SHA256_LEN], char out[FSG_SHA256_STRLEN])
{
    fsg_hex_encode(sha, FSG_SHA256_LEN, out);
    return out;
}

int fsg_sha256_parse(const char *s, unsigned char sha[FSG_SHA256_LEN])
{
    if (strlen(s) != 2 * FSG_SHA256_LEN || !fsg_hex_decode(s, sha, FSG_SHA256_LEN))
        return FSG_ERR_CORRUPT;
    return 0;
}
