/*
 * test_lock.c -- the core's use of the user partition's lock (fsg_port.lock
 * and unlock): every API entry that touches the user partition locks it
 * exactly once and unlocks it exactly once, in the right mode (writers
 * EXCLUSIVE, readers SHARED), makes no storage call outside it, and does
 * so on every error path too; a busy lock fails the call with
 * FSG_ERR_LOCKED before anything is read or written; the wait budget
 * reaches the port; a held lock keeps every other call out; a version-1
 * port and the backup partition are never locked. The wrapper port
 * (faultport.h) emulates the lock over the in-memory store and counts;
 * the POSIX port's own lock is checked over a real directory, where a
 * second call through the same port while a put is open is busy too.
 */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "fsguard_posix.h"
#include "memport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void setup(struct mp_device *d)
{
    mpdev_init(d);
    mpdev_add_str(d, "/usr/a.py", "print('a')\n");
    mpdev_add_str(d, "/usr/d/b.py", "print('b')\n");
    mpdev_save(d);
    /* Something for boot to repair, so that it writes. */
    memport_put_str(d->usr, "a.py", "damaged\n");
    faultport_set_lock(d->usr->fp, 1);
}

/* ---- the operations, each as one call ---- */

static int op_boot(struct mp_device *d)
{
    struct fsg_report r;
    return fsg_boot(&d->cfg, 0, &r);
}

static int op_verify(struct mp_device *d)
{
    struct fsg_report r;
    return fsg_boot(&d->cfg, FSG_DRY_RUN, &r);
}

static int op_calc(struct mp_device *d)
{
    uint32_t crc;
    return fsg_calc(&d->cfg, "/usr/d/b.py", &crc);
}

static int op_calc_unprotected(struct mp_device *d)
{
    uint32_t crc;
    return fsg_calc(&d->cfg, "/usr/none.py", &crc);
}

static int op_put(struct mp_device *d)
{
    struct fsg_put *p;
    uint32_t crc;
    int err = fsg_put_begin(&d->cfg, "/usr/d/b.py", &p);
    if (err < 0)
        return err;
    err = fsg_put_write(p, "new b\n", 6);
    if (err < 0) {
        fsg_put_abort(p);
        return err;
    }
    return fsg_put_commit(p, &crc);
}

static int op_put_abort(struct mp_device *d)
{
    struct fsg_put *p;
    int err = fsg_put_begin(&d->cfg, "/usr/d/b.py", &p);
    if (err < 0)
        return err;
    (void)fsg_put_write(p, "new b\n", 6);
    fsg_put_abort(p);
    return 0;
}

#ifndef FSG_NO_FOTA
static int op_fota(struct mp_device *d)
{
    struct fsg_fota *tx;
    struct fsg_fota_report r;
    int err = fsg_fota_begin(&d->cfg, &tx);
    if (err < 0)
        return err;
    err = fsg_fota_add(tx, "/usr/d/b.py", 0);
    if (err == 0)
        err = fsg_fota_write(tx, "fota b\n", 7);
    if (err == 0)
        err = fsg_fota_add(tx, "/usr/new.py", 1);
    if (err == 0)
        err = fsg_fota_write(tx, "new\n", 4);
    if (err < 0) {
        fsg_fota_abort(tx);
        return err;
    }
    return fsg_fota_commit(tx, &r);
}

static int op_fota_abort(struct mp_device *d)
{
    struct fsg_fota *tx;
    int err = fsg_fota_begin(&d->cfg, &tx);
    if (err < 0)
        return err;
    (void)fsg_fota_add(tx, "/usr/d/b.py", 0);
    (void)fsg_fota_write(tx, "fota b\n", 7);
    fsg_fota_abort(tx);
    return 0;
}

static int op_fota_status(struct mp_device *d)
{
    int state;
    unsigned long files;
    return fsg_fota_status(&d->cfg, &state, &files);
}

static int op_fota_apply(struct mp_device *d)
{
    struct fsg_fota_report r;
    struct memport *up = memport_new();
    memport_put_str(up, "d/b.py", "applied b\n");
    int err = fsg_fota_apply(&d->cfg, memport_port(up), NULL, NULL, &r);
    memport_free(up);
    return err;
}
#endif

static int op_inspect(struct mp_device *d)
{
    struct fsg_inspect_report r;
    return fsg_inspect(&d->cfg, FSG_SOURCE_USR, &r);
}

struct op {
    const char *name;
    int (*run)(struct mp_device *d);
    int mode;
};

static const struct op ops[] = {
    {"boot", op_boot, FSG_LOCK_EXCLUSIVE},
    {"verify", op_verify, FSG_LOCK_SHARED},
    {"calc", op_calc, FSG_LOCK_EXCLUSIVE},
    {"calc unprotected", op_calc_unprotected, FSG_LOCK_EXCLUSIVE},
    {"put", op_put, FSG_LOCK_EXCLUSIVE},
    {"put abort", op_put_abort, FSG_LOCK_EXCLUSIVE},
#ifndef FSG_NO_FOTA
    {"fota", op_fota, FSG_LOCK_EXCLUSIVE},
    {"fota abort", op_fota_abort, FSG_LOCK_EXCLUSIVE},
    {"fota status", op_fota_status, FSG_LOCK_SHARED},
    {"fota apply", op_fota_apply, FSG_LOCK_EXCLUSIVE},
#endif
    {"inspect usr", op_inspect, FSG_LOCK_SHARED},
};
#define NOPS (sizeof ops / sizeof ops[0])

/* One lock, one unlock, in mode, every storage call inside it. */
static int locked_once(const struct mp_device *d, int mode, const char *what, unsigned long n)
{
    const struct fp_lock *l = faultport_lock_stats(d->usr->fp);
    int ok = l->locks == 1 && l->unlocks == 1 && l->holders == 0 && l->bad_unlocks == 0 &&
             l->conflicts == 0 && l->unheld_calls == 0 &&
             (mode == FSG_LOCK_EXCLUSIVE ? l->exclusive == 1 : l->shared == 1);
    if (!ok)
        fprintf(stderr, "  %s (fault at %lu): locks %lu unlocks %lu shared %lu exclusive %lu "
                        "held %lu unheld calls %lu bad unlocks %lu\n",
                what, n, l->locks, l->unlocks, l->shared, l->exclusive, l->holders,
                l->unheld_calls, l->bad_unlocks);
    return ok;
}

/* Every operation on a good device, and with every storage call of it
 * failing in turn (once, and from then on): the lock is taken once and
 * given back once, whatever the outcome. */
static void test_every_path(void)
{
    for (size_t i = 0; i < NOPS; i++) {
        struct mp_device d;
        setup(&d);
        mpdev_reset(&d);
        int err = ops[i].run(&d);
        CHECK_EQ_INT(err, strcmp(ops[i].name, "calc unprotected") == 0 ? FSG_ERR_NOTPROTECTED
                                                                        : 0);
        CHECK(locked_once(&d, ops[i].mode, ops[i].name, 0));
        unsigned long calls = memport_ops(d.usr)->total;
        CHECK(calls > 0);
        mpdev_free(&d);
        for (int persistent = 0; persistent <= 1; persistent++) {
            for (unsigned long n = 1; n <= calls; n++) {
                setup(&d);
                mpdev_reset(&d);
                memport_fail_at(d.usr, n, FSG_ERR_IO, persistent);
                (void)ops[i].run(&d);
                CHECK(locked_once(&d, ops[i].mode, ops[i].name, n));
                CHECK_EQ_INT(memport_open_handles(d.usr), 0);
                mpdev_free(&d);
            }
        }
    }
}

/* A busy device: every operation fails with FSG_ERR_LOCKED, having made no
 * storage call on either partition, and unlocks nothing. */
static void test_busy(void)
{
    for (size_t i = 0; i < NOPS; i++) {
        struct mp_device d;
        setup(&d);
        char *before = memport_dump(d.usr);
        mpdev_reset(&d);
        faultport_lock_fail(d.usr->fp, FSG_ERR_LOCKED);
        int err = ops[i].run(&d);
        CHECK_EQ_INT(err, FSG_ERR_LOCKED);
        if (err != FSG_ERR_LOCKED)
            fprintf(stderr, "  (%s)\n", ops[i].name);
        const struct fp_lock *l = faultport_lock_stats(d.usr->fp);
        CHECK_EQ_INT(l->locks, 1);
        CHECK_EQ_INT(l->unlocks, 0);
        CHECK_EQ_INT(memport_ops(d.usr)->total, 0);
        CHECK_EQ_INT(memport_ops(d.bak)->total, 0);
        char *after = memport_dump(d.usr);
        CHECK_EQ_STR(after, before);
        free(before);
        free(after);
        mpdev_free(&d);
    }
    /* fsg_put_begin leaves no handle behind. */
    struct mp_device d;
    setup(&d);
    faultport_lock_fail(d.usr->fp, FSG_ERR_LOCKED);
    struct fsg_put *p = (struct fsg_put *)&d;
    CHECK_EQ_INT(fsg_put_begin(&d.cfg, "/usr/a.py", &p), FSG_ERR_LOCKED);
    CHECK(p == NULL);
    /* Any other error of the lock passes through unchanged. */
    faultport_lock_fail(d.usr->fp, FSG_ERR_IO);
    CHECK_EQ_INT(op_calc(&d), FSG_ERR_IO);
    CHECK_EQ_STR(fsg_strerror(FSG_ERR_LOCKED), "device busy: another operation holds its lock");
    mpdev_free(&d);
}

/* cfg.lock_wait_ms reaches the port; 0 by default. */
static void test_wait_budget(void)
{
    struct mp_device d;
    setup(&d);
    CHECK_EQ_INT(op_verify(&d), 0);
    CHECK_EQ_INT(faultport_lock_stats(d.usr->fp)->last_wait_ms, 0);
    d.cfg.lock_wait_ms = 30000;
    CHECK_EQ_INT(op_calc(&d), 0);
    CHECK_EQ_INT(faultport_lock_stats(d.usr->fp)->last_wait_ms, 30000);
    mpdev_free(&d);
}

/* While a put holds the lock (begin to commit), every other call is kept
 * out, readers included, and nothing it would write is written; after the
 * commit they run. */
static void test_held(void)
{
    struct mp_device d;
    struct fsg_put *p;
    uint32_t crc;
    setup(&d);
    CHECK_EQ_INT(fsg_put_begin(&d.cfg, "/usr/d/b.py", &p), 0);
    CHECK_EQ_INT(fsg_put_write(p, "held\n", 5), 0);
    for (size_t i = 0; i < NOPS; i++) {
        faultport_lock_reset(d.usr->fp);
        memport_reset_ops(d.usr);
        CHECK_EQ_INT(ops[i].run(&d), FSG_ERR_LOCKED);
        CHECK_EQ_INT(faultport_lock_stats(d.usr->fp)->conflicts, 1);
        CHECK_EQ_INT(memport_ops(d.usr)->total, 0);
    }
    CHECK_EQ_INT(fsg_put_commit(p, &crc), 0);
    CHECK_EQ_INT(faultport_lock_stats(d.usr->fp)->holders, 0);
    struct fsg_report r;
    CHECK_EQ_INT(fsg_boot(&d.cfg, 0, &r), 0);
    CHECK_EQ_INT(r.failed, 0);
    size_t len;
    const char *b = memport_get(d.usr, "d/b.py", &len);
    CHECK(b != NULL && len == 5 && memcmp(b, "held\n", 5) == 0);
    mpdev_free(&d);
}

/* A version-1 port is never asked to lock (its struct has no such
 * fields), nor is the backup partition's port. */
static void test_not_locked(void)
{
    struct mp_device d;
    setup(&d);
    struct fsg_port v1 = *memport_port(d.usr);
    v1.version = 1;
    d.cfg.usr = &v1;
    CHECK_EQ_INT(op_calc(&d), 0);
    CHECK_EQ_INT(faultport_lock_stats(d.usr->fp)->locks, 0);
    d.cfg.usr = memport_port(d.usr);
    faultport_set_lock(d.usr->fp, 0);
    faultport_set_lock(d.bak->fp, 1);
    CHECK_EQ_INT(op_boot(&d), 0);
    struct fsg_inspect_report ir;
    CHECK_EQ_INT(fsg_inspect(&d.cfg, FSG_SOURCE_BAK, &ir), 0);
    CHECK_EQ_INT(faultport_lock_stats(d.bak->fp)->locks, 0);
    mpdev_free(&d);
}

/* The POSIX port over a real device: while an fsg_put is open, another
 * call through the same port (the same process: flock would not keep it
 * out) is refused as busy, writes nothing, and works once the put ends. */
static void test_posix_same_port(void)
{
    char dir[] = "/tmp/fsg-lock-XXXXXX", path[256];
    CHECK(mkdtemp(dir) != NULL);
    static const char *const files[][2] = {
        {"usr/a.py", "A\n"},
        {"bak/usr/a.py", "A\n"},
        {"usr/checksum.json", "[{\"name\": \"/usr/a.py\", \"crc32\": \"0xf64868a5\"}]"},
        {"bak/checksum.json", "[{\"name\": \"/usr/a.py\", \"crc32\": \"0xf64868a5\"}]"},
        {"bak/backup_restore.json", "{\"enable\": 1}"}};
    snprintf(path, sizeof path, "%s/usr", dir);
    CHECK(mkdir(path, 0755) == 0);
    snprintf(path, sizeof path, "%s/bak", dir);
    CHECK(mkdir(path, 0755) == 0);
    snprintf(path, sizeof path, "%s/bak/usr", dir);
    CHECK(mkdir(path, 0755) == 0);
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i][0]);
        FILE *f = fopen(path, "w");
        CHECK(f != NULL && fputs(files[i][1], f) >= 0 && fclose(f) == 0);
    }
    struct fsg_posix usr, bak;
    snprintf(path, sizeof path, "%s/usr", dir);
    CHECK_EQ_INT(fsg_posix_open(&usr, path, 0), 0);
    snprintf(path, sizeof path, "%s/bak", dir);
    CHECK_EQ_INT(fsg_posix_open(&bak, path, 1), 0);
    struct fsg_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.usr = &usr.port;
    cfg.bak = &bak.port;
    cfg.lock_wait_ms = 50;
    uint32_t crc = 0;
    CHECK_EQ_INT(fsg_calc(&cfg, "/usr/a.py", &crc), 0);
    CHECK_EQ_INT(crc, mp_crc("A\n", 2));
    struct fsg_put *put = NULL;
    CHECK_EQ_INT(fsg_put_begin(&cfg, "/usr/a.py", &put), 0);
    CHECK_EQ_INT(fsg_calc(&cfg, "/usr/a.py", &crc), FSG_ERR_LOCKED);
    struct fsg_report r;
    CHECK_EQ_INT(fsg_boot(&cfg, FSG_DRY_RUN, &r), FSG_ERR_LOCKED);
    if (put != NULL) {
        CHECK_EQ_INT(fsg_put_write(put, "B\n", 2), 0);
        CHECK_EQ_INT(fsg_put_commit(put, &crc), 0);
    }
    CHECK_EQ_INT(fsg_boot(&cfg, 0, &r), 0);
    CHECK_EQ_INT(fsg_report_exit_code(&r), 0);
    fsg_posix_close(&usr);
    fsg_posix_close(&bak);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

int main(void)
{
    test_every_path();
    test_busy();
    test_wait_budget();
    test_held();
    test_not_locked();
    test_posix_same_port();
    return check_done("test_lock");
}
