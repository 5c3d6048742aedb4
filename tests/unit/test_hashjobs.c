/*
 * test_hashjobs.c -- fsg_config.hash_files: boot and verify with the
 * caller hashing the files (as fsg_posix_hash_files does on several cores)
 * decide exactly as without it; a hook that fails, or that reports a job's
 * error, is honoured; fsg_hash_job_run hashes as fsguard does.
 */
#include "check.h"
#include "fsg_internal.h"
#include "memport.h"

#include <stdlib.h>
#include <string.h>

#define NFILES 2500 /* more than two batches */

struct hook {
    const struct fsg_port *port;
    unsigned long calls, jobs;
    size_t largest;
    int fail;          /* return this from every call */
    int reverse;       /* run the batch backwards */
};

static int hook_run(void *ctx, struct fsg_hash_job *jobs, size_t n)
{
    struct hook *h = ctx;
    static unsigned char buf[FSG_BUF_MIN];
    h->calls++;
    h->jobs += n;
    if (n > h->largest)
        h->largest = n;
    if (h->fail)
        return h->fail;
    for (size_t k = 0; k < n; k++) {
        size_t i = h->reverse ? n - 1 - k : k;
        (void)fsg_hash_job_run(h->port, buf, sizeof buf, &jobs[i]);
    }
    return 0;
}

static void device(struct mp_device *d)
{
    char name[64], text[64];
    mpdev_init(d);
    for (int i = 0; i < NFILES; i++) {
        snprintf(name, sizeof name, "/usr/d%02d/f%04d.txt", i % 37, i);
        snprintf(text, sizeof text, "file %d\n", i);
        mpdev_add_str(d, name, text);
    }
    mpdev_save(d);
    /* Damage: one file changed, one missing, one a directory. */
    memport_put_str(d->usr, "d01/f0001.txt", "changed\n");
    memport_remove(d->usr, "d02/f0002.txt");
    memport_remove(d->usr, "d03/f0003.txt");
    memport_mkdir(d->usr, "d03/f0003.txt");
}

/* Runs boot (flags) on a fresh device, with hook h or none, and returns
 * the report; *table gets the user checksum.json afterwards. */
static void run(struct hook *h, int flags, struct fsg_report *r, char **table)
{
    struct mp_device d;
    device(&d);
    if (h != NULL) {
        h->port = memport_port(d.usr);
        d.cfg.hash_files = hook_run;
        d.cfg.hash_ctx = h;
    }
    CHECK_EQ_INT(mpdev_boot(&d, flags, r), 0);
    size_t len;
    const char *t = memport_get(d.usr, "checksum.json", &len);
    *table = NULL;
    if (t != NULL && (*table = malloc(len + 1)) != NULL) {
        memcpy(*table, t, len);
        (*table)[len] = '\0';
    }
    /* The file that changed is back, whoever hashed it. */
    if (!(flags & FSG_DRY_RUN)) {
        const char *a = memport_get(d.usr, "d01/f0001.txt", &len);
        CHECK(a != NULL && len == 7 && memcmp(a, "file 1\n", 7) == 0);
    }
    mpdev_free(&d);
}

static void same_report(const struct fsg_report *a, const struct fsg_report *b)
{
    CHECK_EQ_INT(a->files, b->files);
    CHECK_EQ_INT(a->ok, b->ok);
    CHECK_EQ_INT(a->restored, b->restored);
    CHECK_EQ_INT(a->failed, b->failed);
    CHECK_EQ_INT(a->manifest, b->manifest);
    CHECK_EQ_INT(fsg_report_exit_code(a), fsg_report_exit_code(b));
}

static void test_same_decisions(void)
{
    for (int flags = 0; flags <= FSG_DRY_RUN; flags += FSG_DRY_RUN) {
        struct fsg_report plain, hooked, backwards;
        char *t0, *t1, *t2;
        struct hook h = {0}, hb = {0};
        hb.reverse = 1;
        run(NULL, flags, &plain, &t0);
        run(&h, flags, &hooked, &t1);
        run(&hb, flags, &backwards, &t2);
        CHECK_EQ_INT(plain.files, NFILES);
        CHECK_EQ_INT(plain.failed, 1);      /* the directory stands in the way */
        CHECK_EQ_INT(plain.restored, 2);
        same_report(&plain, &hooked);
        same_report(&plain, &backwards);
        CHECK(t0 != NULL && t1 != NULL && strcmp(t0, t1) == 0);
        CHECK(t2 != NULL && strcmp(t0, t2) == 0);
        /* Every file went through the hook, in batches of at most 1024. */
        CHECK_EQ_INT(h.jobs, NFILES);
        CHECK(h.calls >= 3 && h.largest <= 1024);
        free(t0);
        free(t1);
        free(t2);
    }
}

static void test_hook_fails(void)
{
    struct fsg_report plain, hooked;
    char *t0, *t1;
    struct hook h = {0};
    h.fail = FSG_ERR_NOMEM;
    run(NULL, 0, &plain, &t0);
    run(&h, 0, &hooked, &t1);
    /* Refused batches are hashed by fsguard itself: the same outcome. */
    same_report(&plain, &hooked);
    CHECK(t0 != NULL && t1 != NULL && strcmp(t0, t1) == 0);
    CHECK(h.calls >= 3);
    free(t0);
    free(t1);
}

/* Hooks that hash as fsguard does, then alter one job: d05's error, or
 * d06's CRC-32. */
static int hook_eio(void *ctx, struct fsg_hash_job *jobs, size_t n)
{
    (void)hook_run(ctx, jobs, n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(jobs[i].path, "d05/f0005.txt") == 0)
            jobs[i].err = FSG_ERR_IO;
    return 0;
}

static int hook_poison(void *ctx, struct fsg_hash_job *jobs, size_t n)
{
    (void)hook_run(ctx, jobs, n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(jobs[i].path, "d06/f0006.txt") == 0)
            jobs[i].crc ^= 1;
    return 0;
}

/* A dry boot with hook fn: the event of name has problem and status, and
 * the two damaged files would be restored, and name too when its status
 * says so. Returns the event's crc32 as found. */
static uint32_t boot_with(int (*fn)(void *, struct fsg_hash_job *, size_t), const char *name,
                          int problem, int status)
{
    struct mp_device d;
    struct fsg_report r;
    struct hook h = {0};
    uint32_t actual = 0;
    device(&d);
    h.port = memport_port(d.usr);
    d.cfg.hash_files = fn;
    d.cfg.hash_ctx = &h;
    CHECK_EQ_INT(mpdev_boot(&d, FSG_DRY_RUN, &r), 0);
    const struct mp_event *ev = mpdev_event(&d, FSG_EVENT_FILE, name);
    CHECK(ev != NULL && ev->problem == problem);
    CHECK(ev != NULL && ev->status == status);
    if (ev != NULL)
        actual = ev->actual;
    CHECK_EQ_INT(r.restored, status == FSG_STATUS_RESTORED ? 3 : 2);
    CHECK_EQ_INT(r.failed, status == FSG_STATUS_FAILED ? 2 : 1); /* and the directory */
    mpdev_free(&d);
    return actual;
}

/* A job's error is the file's: an unreadable file is not a good one, nor
 * known to be damaged (left alone, failed). And the hook's hashes are the
 * ones judged (not hashed again by fsguard): a clean file whose job says
 * another CRC-32 is taken as damaged. */
static void test_job_results_used(void)
{
    (void)boot_with(hook_eio, "/usr/d05/f0005.txt", FSG_PROBLEM_UNREADABLE, FSG_STATUS_FAILED);
    uint32_t got = boot_with(hook_poison, "/usr/d06/f0006.txt", FSG_PROBLEM_MISMATCH,
                             FSG_STATUS_RESTORED);
    CHECK_EQ_INT(got, mp_crc("file 6\n", 7) ^ 1u);
}

static void test_job_run(void)
{
    struct mp_device d;
    unsigned char buf[FSG_BUF_MIN];
    mpdev_init(&d);
    memport_put_str(d.usr, "a.txt", "abc");
    memport_mkdir(d.usr, "dir");
    struct fsg_hash_job j = {"a.txt", FSG_HASH_SHA256, 0, 0, {0}, 0};
    CHECK_EQ_INT(fsg_hash_job_run(memport_port(d.usr), buf, sizeof buf, &j), 0);
    CHECK_EQ_INT(j.crc, mp_crc("abc", 3));
    CHECK_EQ_INT(j.size, 3);
    unsigned char want[FSG_SHA256_LEN];
    CHECK_EQ_INT(fsg_sha256_parse(
                     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", want),
                 0);
    CHECK(memcmp(j.sha256, want, sizeof want) == 0);
    struct fsg_hash_job m = {"missing.txt", 0, 0, 0, {0}, 0};
    CHECK_EQ_INT(fsg_hash_job_run(memport_port(d.usr), buf, sizeof buf, &m), FSG_ERR_NOENT);
    struct fsg_hash_job dj = {"dir", 0, 0, 0, {0}, 0};
    CHECK_EQ_INT(fsg_hash_job_run(memport_port(d.usr), buf, sizeof buf, &dj), FSG_ERR_ISDIR);
    /* A buffer below the minimum is refused, not overrun. */
    CHECK_EQ_INT(fsg_hash_job_run(memport_port(d.usr), buf, 16, &j), FSG_ERR_INVAL);
    mpdev_free(&d);
}

int main(void)
{
    test_same_decisions();
    test_hook_fails();
    test_job_results_used();
    test_job_run();
    return check_done("test_hashjobs");
}
