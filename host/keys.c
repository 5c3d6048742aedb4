/*
 * keys.c -- host side of signed backups: key pairs, key files, and the
 * signature line pack writes beside the backup checksum.json. Ed25519
 * through libsodium; nothing here is needed on a device.
 */
#include "fsg_host.h"

#include <sodium.h>
#include <string.h>

#define SECRET_HEAD "fsguard-ed25519-secret "
#define PUBLIC_HEAD "fsguard-ed25519-public "

_Static_assert(crypto_sign_PUBLICKEYBYTES == FSG_PUBKEY_LEN, "Ed25519 public key size");
_Static_assert(crypto_sign_SECRETKEYBYTES == FSG_SECKEY_LEN, "Ed25519 secret key size");
_Static_assert(sizeof SECRET_HEAD - 1 + 2 * crypto_sign_SEEDBYTES + 2 <= FSG_KEY_STRLEN,
               "FSG_KEY_STRLEN too small");

int fsg_keygen(unsigned char pk[FSG_PUBKEY_LEN], unsigned char sk[FSG_SECKEY_LEN])
{
    /* sodium_init fails only when no random source can be opened. */
    if (sodium_init() < 0)
        return FSG_ERR_IO;
    return crypto_sign_keypair(pk, sk) == 0 ? 0 : FSG_ERR_IO;
}

char *fsg_key_format(int secret, const unsigned char *key, char out[FSG_KEY_STRLEN])
{
    const char *head = secret ? SECRET_HEAD : PUBLIC_HEAD;
    size_t hl = strlen(head);
    memcpy(out, head, hl);
    /* A secret key file holds the seed (the first half of libsodium's
     * secret key); the key pair is derived from it again when read. */
    fsg_hex_encode(key, secret ? crypto_sign_SEEDBYTES : crypto_sign_PUBLICKEYBYTES, out + hl);
    size_t n = strlen(out);
    out[n] = '\n';
    out[n + 1] = '\0';
    return out;
}

int fsg_key_parse(const char *text, size_t len, int *secret, unsigned char key[FSG_SECKEY_LEN],
                  unsigned char pk[FSG_PUBKEY_LEN])
{
    unsigned char raw[32];
    size_t hl = sizeof SECRET_HEAD - 1;

    _Static_assert(sizeof SECRET_HEAD == sizeof PUBLIC_HEAD, "key file heads differ in length");
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' ' ||
                       text[len - 1] == '\t'))
        len--;
    if (len != hl + 2 * sizeof raw)
        return FSG_ERR_CORRUPT;
    if (memcmp(text, SECRET_HEAD, hl) == 0)
        *secret = 1;
    else if (memcmp(text, PUBLIC_HEAD, hl) == 0)
        *secret = 0;
    else
        return FSG_ERR_CORRUPT;
    if (!fsg_hex_decode(text + hl, raw, sizeof raw))
        return FSG_ERR_CORRUPT;
    if (*secret) {
        unsigned char p[crypto_sign_PUBLICKEYBYTES];
        if (sodium_init() < 0 || crypto_sign_seed_keypair(p, key, raw) != 0) {
            sodium_memzero(raw, sizeof raw);
            return FSG_ERR_CORRUPT;
        }
        if (pk != NULL)
            memcpy(pk, p, sizeof p);
    } else {
        memcpy(key, raw, sizeof raw);
        if (pk != NULL)
            memcpy(pk, raw, sizeof raw);
    }
    sodium_memzero(raw, sizeof raw);
    return 0;
}

int fsg_sign_line(const unsigned char sk[FSG_SECKEY_LEN], const char *text, size_t len,
                  char out[FSG_SIG_LINE_LEN])
{
    unsigned char sig[crypto_sign_BYTES];

    if (sodium_init() < 0 ||
        crypto_sign_detached(sig, NULL, (const unsigned char *)text, len, sk) != 0)
        return FSG_ERR_IO;
    /* libsodium's secret key ends with its public key. */
    memcpy(out, "ed25519 ", 8);
    fsg_hex_encode(sk + crypto_sign_SEEDBYTES, crypto_sign_PUBLICKEYBYTES, out + 8);
    out[8 + 2 * crypto_sign_PUBLICKEYBYTES] = ' ';
    fsg_hex_encode(sig, sizeof sig, out + 9 + 2 * crypto_sign_PUBLICKEYBYTES);
    size_t n = strlen(out);
    out[n] = '\n';
    out[n + 1] = '\0';
    return 0;
}
