/*
 * fuzz_boot.c -- libFuzzer target: the whole boot over hostile input. The
 * first byte picks which file the rest becomes (the user or the backup
 * checksum.json, backup_restore.json, or an update's journal); the boot
 * then runs dry, for real, and once more. Sanitizers judge: no crash, no
 * leak, no undefined behaviour; and the backup is never written.
 */
#include "fsg_mem.h"
#include "fsguard.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char table[] =
    "[{\"name\":\"/usr/a.py\",\"crc32\":\"0xd1850953\"},"
    "{\"name\":\"/usr/d/b.txt\",\"crc32\":\"0x1\",\"fsg_pending\":\"0x2\"}]";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const targets[] = {"checksum.json", "checksum.json",
                                          "backup_restore.json", ".fsg-fota/journal.json"};
    if (size < 1)
        return 0;
    unsigned which = data[0] % 4;
    struct fsg_mem *usr = fsg_mem_new(), *bak = fsg_mem_new();
    if (usr == NULL || bak == NULL)
        abort();
    fsg_mem_put(usr, "a.py", "print('a')\n", 11);
    fsg_mem_put(usr, "d/b.txt", "b", 1);
    fsg_mem_put(usr, "checksum.json", table, strlen(table));
    fsg_mem_put(bak, "usr/a.py", "print('a')\n", 11);
    fsg_mem_put(bak, "usr/d/b.txt", "b", 1);
    fsg_mem_put(bak, "checksum.json", table, strlen(table));
    fsg_mem_put(bak, "backup_restore.json", "{\"enable\": 1}", 13);
    if (which == 3)
        fsg_mem_put(usr, ".fsg-fota/new/a.py", "new\n", 4);
    fsg_mem_put(which == 1 || which == 2 ? bak : usr, targets[which], data + 1, size - 1);

    struct fsg_config cfg;
    struct fsg_report r;
    memset(&cfg, 0, sizeof cfg);
    cfg.usr = fsg_mem_port(usr);
    cfg.bak = fsg_mem_port(bak);
    fsg_mem_reset_counters(bak);
    (void)fsg_boot(&cfg, FSG_DRY_RUN, &r);
    (void)fsg_boot(&cfg, 0, &r);
    (void)fsg_boot(&cfg, 0, &r);
    if (fsg_mem_mutations(bak) != 0)
        abort(); /* the backup partition must never be written */
    fsg_mem_free(usr);
    fsg_mem_free(bak);
    return 0;
}
