/*
 * mcu_random.c -- what the emulated board's test programs give libsodium
 * in place of a random source, which the board has none of: test_sha
 * makes its keys with fsg_keygen (crypto_sign_keypair, randombytes_buf).
 * A fixed sequence from a seed: keys made with it are for these tests
 * only, and nothing in fsguard's core calls it (a device only verifies).
 */
#include <stddef.h>
#include <stdint.h>

void randombytes_buf(void *const buf, const size_t size);
int sodium_init(void);

static uint64_t state = 0x9e3779b97f4a7c15u;

void randombytes_buf(void *const buf, const size_t size)
{
    unsigned char *p = buf;
    for (size_t i = 0; i < size; i++) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        p[i] = (unsigned char)(state >> 24);
    }
}

/* libsodium's initialisation opens the random source; hashing, signing
 * and verifying need none of it. */
int sodium_init(void)
{
    return 0;
}
