/*
 * fuzz_boot.c -- libFuzzer target: the whole boot over hostile input. The
 * first byte picks which file the rest becomes (the user or the backup
 * checksum.json, backup_restore.json, an update's journal, the backup's
 * signature; or the backup checksum.json signed by the key boot is given);
 * the boot then runs dry, for real, and once more. Sanitizers judge: no
 * crash, no leak, no undefined behaviour; the backup is never written; a
 * signature that is not good, or a dry run, means nothing is written at
 * all.
 */
#include "faultport.h"
#include "fsg_mem.h"
#include "fsguard.h"

#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char table[] =
    "[{\"name\":\"/usr/a.py\",\"crc32\":\"0xd1850953\"},"
    "{\"name\":\"/usr/d/b.txt\",\"crc32\":\"0x1\",\"fsg_pending\":\"0x2\"},"
    "{\"name\":\"/usr/s.txt\",\"sha256\":"
    "\"ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb\"}]";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const targets[] = {"checksum.json",       "checksum.json",
                                          "backup_restore.json", ".fsg-fota/journal.json",
                                          "checksum.json.sig",   "checksum.json"};
    static unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    static const unsigned char seed[crypto_sign_SEEDBYTES] = {1};
    if (size < 1)
        return 0;
    if (sodium_init() < 0 || crypto_sign_seed_keypair(pk, sk, seed) != 0)
        abort();
    unsigned which = data[0] % 6;
    struct fsg_mem *usr = fsg_mem_new(), *bak = fsg_mem_new();
    if (usr == NULL || bak == NULL)
        abort();
    fsg_mem_put(usr, "a.py", "print('a')\n", 11);
    fsg_mem_put(usr, "d/b.txt", "b", 1);
    fsg_mem_put(usr, "s.txt", "x", 1);
    fsg_mem_put(usr, "checksum.json", table, strlen(table));
    fsg_mem_put(bak, "usr/a.py", "print('a')\n", 11);
    fsg_mem_put(bak, "usr/d/b.txt", "b", 1);
    fsg_mem_put(bak, "usr/s.txt", "a", 1);
    fsg_mem_put(bak, "checksum.json", table, strlen(table));
    fsg_mem_put(bak, "backup_restore.json", "{\"enable\": 1}", 13);
    if (which == 3)
        fsg_mem_put(usr, ".fsg-fota/new/a.py", "new\n", 4);
    fsg_mem_put(which == 0 || which == 3 ? usr : bak, targets[which], data + 1, size - 1);
    if (which == 5) {
        /* A hostile table, but signed by the key boot trusts. */
        unsigned char sig[crypto_sign_BYTES];
        char line[8 + 65 + 129 + 1];
        crypto_sign_detached(sig, NULL, data + 1, size - 1, sk);
        memcpy(line, "ed25519 ", 8);
        sodium_bin2hex(line + 8, 65, pk, sizeof pk);
        line[8 + 64] = ' ';
        sodium_bin2hex(line + 8 + 65, 129, sig, sizeof sig);
        fsg_mem_put(bak, "checksum.json.sig", line, strlen(line));
    }

    /* Seen through the wrapper port, which counts what changed. */
    struct faultport *fusr = faultport_new(fsg_mem_port(usr));
    struct faultport *fbak = faultport_new(fsg_mem_port(bak));
    if (fusr == NULL || fbak == NULL)
        abort();
    struct fsg_config cfg;
    struct fsg_report r;
    memset(&cfg, 0, sizeof cfg);
    cfg.usr = faultport_port(fusr);
    cfg.bak = faultport_port(fbak);
    cfg.pubkey = which >= 4 ? pk : NULL;
    for (int run = 0; run < 3; run++) {
        int err = fsg_boot(&cfg, run == 0 ? FSG_DRY_RUN : 0, &r);
        /* A signature that is not good stops boot before any write. */
        if ((err == FSG_ERR_SIGNATURE) !=
            (r.signature != FSG_SIG_GOOD && r.signature != FSG_SIG_UNCHECKED))
            abort();
        if (err == FSG_ERR_SIGNATURE && faultport_mutations(fusr) != 0)
            abort();
        if (run == 0 && faultport_mutations(fusr) != 0)
            abort(); /* a dry run writes nothing at all */
    }
    if (faultport_mutations(fbak) != 0)
        abort(); /* the backup partition must never be written */
    faultport_free(fusr);
    faultport_free(fbak);
    fsg_mem_free(usr);
    fsg_mem_free(bak);
    return 0;
}
