/*
 * sig.c -- the Ed25519 check of the backup table's signature file
 * (FSG_SIG_NAME beside the backup checksum.json), by libsodium. A build
 * with FSG_NO_CRYPTO fails every check: a configured key is never taken as
 * satisfied by a core that cannot verify it.
 */
#include "fsg_internal.h"

#include <string.h>

#ifndef FSG_NO_CRYPTO
#include <sodium.h>

/* "ed25519 " PK " " SIG, then only white space. */
static bool parse_sig(const char *t, size_t len, unsigned char pk[crypto_sign_PUBLICKEYBYTES],
                      unsigned char sig[crypto_sign_BYTES])
{
    static const char head[] = "ed25519 ";
    const size_t hl = sizeof head - 1, pl = 2 * crypto_sign_PUBLICKEYBYTES,
                 sl = 2 * crypto_sign_BYTES;
    if (len < hl + pl + 1 + sl || memcmp(t, head, hl) != 0 || t[hl + pl] != ' ' ||
        !fsg_hex_decode(t + hl, pk, crypto_sign_PUBLICKEYBYTES) ||
        !fsg_hex_decode(t + hl + pl + 1, sig, crypto_sign_BYTES))
        return false;
    for (size_t i = hl + pl + 1 + sl; i < len; i++)
        if (t[i] != ' ' && t[i] != '\t' && t[i] != '\r' && t[i] != '\n')
            return false;
    return true;
}

int fsg_sig_check(struct fsg_ctx *c, const char *text, size_t len, int *err)
{
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sig[crypto_sign_BYTES];
    char *st;
    size_t sl;

    FSG_RETRY(*err, fsg_read_small(c, c->bak, FSG_SIG_NAME, 1024, &st, &sl));
    if (*err == FSG_ERR_NOENT)
        return FSG_SIG_MISSING;
    if (*err == FSG_ERR_FBIG || *err == FSG_ERR_NOTREG || *err == FSG_ERR_ISDIR)
        return FSG_SIG_MALFORMED;
    if (*err < 0)
        return FSG_SIG_UNREADABLE;
    bool ok = parse_sig(st, sl, pk, sig);
    fsg_free(c, st);
    if (!ok)
        return FSG_SIG_MALFORMED;
    if (memcmp(pk, c->cfg->pubkey, sizeof pk) != 0)
        return FSG_SIG_WRONG_KEY;
    if (crypto_sign_verify_detached(sig, (const unsigned char *)text, len, c->cfg->pubkey) != 0)
        return FSG_SIG_BAD;
    return FSG_SIG_GOOD;
}
#else
int fsg_sig_check(struct fsg_ctx *c, const char *text, size_t len, int *err)
{
    (void)c, (void)text, (void)len;
    *err = FSG_ERR_NOTSUP;
    return FSG_SIG_UNREADABLE;
}
#endif
