/*
 * conformance_main.c -- runs the port conformance suite against the example
 * vendor port (vendor_fs.h over a host directory), then a boot over it.
 */
#define _POSIX_C_SOURCE 200809L
#include "fsg_conformance.h"
#include "fsg_port_vendor.h"
#include "vendor_fs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int put(const char *path, const char *text)
{
    int fd = vfs_open(path, VFS_WRONLY | VFS_CREAT);
    if (fd < 0)
        return fd;
    int n = vfs_write(fd, text, strlen(text));
    vfs_fsync(fd);
    vfs_close(fd);
    return n == (int)strlen(text) ? 0 : -1;
}

/* A device over the SDK: the backup holds a.txt, the user partition is
 * empty; a boot must restore it (and create the user table). */
static int boot_over_it(void)
{
    char h[FSG_HASH_STRLEN], table[128];
    snprintf(table, sizeof table, "[{\"name\": \"/usr/a.txt\", \"crc32\": \"%s\"}]",
             fsg_hash_format(fsg_crc32(FSG_CRC_INIT, "factory\n", 8), h));
    if (vfs_mkdir("/bak") < 0 || vfs_mkdir("/bak/usr") < 0 || vfs_mkdir("/usr2") < 0 ||
        put("/bak/usr/a.txt", "factory\n") < 0 || put("/bak/checksum.json", table) < 0 ||
        put("/bak/backup_restore.json", "{\"enable\": 1}") < 0)
        return 1;
    struct fsg_vendor_port usr, bak;
    fsg_vendor_port_init(&usr, "/usr2", 0);
    fsg_vendor_port_init(&bak, "/bak", 1);
    struct fsg_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.usr = &usr.port;
    cfg.bak = &bak.port;
    struct fsg_report r;
    int err = fsg_boot(&cfg, 0, &r);
    char got[16] = "";
    int fd = vfs_open("/usr2/a.txt", VFS_RDONLY);
    if (fd >= 0) {
        vfs_read(fd, got, sizeof got - 1);
        vfs_close(fd);
    }
    int ok = err == 0 && r.restored == 1 && fsg_report_exit_code(&r) == 1 &&
             strcmp(got, "factory\n") == 0;
    printf("vendor port: a boot restored /usr/a.txt: %s\n", ok ? "yes" : "NO");
    return ok ? 0 : 1;
}

static void say(void *ctx, const char *line)
{
    (void)ctx;
    printf("  vendor: %s\n", line);
}

int main(void)
{
    char dir[] = "/tmp/fsg-vendor.XXXXXX", usr[64], cmd[96];
    if (mkdtemp(dir) == NULL)
        return 1;
    snprintf(usr, sizeof usr, "%s/usr", dir);
    if (mkdir(usr, 0755) < 0 || vfs_host_mount(dir) < 0)
        return 1;

    struct fsg_vendor_port vp;
    fsg_vendor_port_init(&vp, "/usr", 0);
    struct fsg_conformance t;
    memset(&t, 0, sizeof t);
    t.port = &vp.port;
    t.say = say;
    t.verbose = getenv("VERBOSE") != NULL;
    fsg_conformance_run(&t);
    printf("vendor port: %u checks, %u failed, %u skipped (the SDK has no links or special "
           "files)\n", t.checks, t.failed, t.skipped);

    t.failed += (unsigned)boot_over_it();
    /* Only the link and special-file checks may be skipped: the SDK has
     * neither. */
    if (t.skipped != 2) {
        printf("vendor port: %u checks skipped, 2 expected\n", t.skipped);
        t.failed++;
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    printf("%d passed, %d failed\n", t.failed == 0, t.failed != 0);
    return t.failed == 0 ? 0 : 1;
}
