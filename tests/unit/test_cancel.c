/*
 * test_cancel.c -- struct fsg_config's cancelled callback: a put, a boot
 * and a calc asked to stop after each possible number of polls return 0 or
 * FSG_ERR_CANCELLED, leave no temporary file, leave every protected file
 * old or new (never partial), and a boot afterwards settles the device with
 * nothing failed.
 */
#include "check.h"
#include "fsg_internal.h"
#include "memport.h"

#include <stdlib.h>
#include <string.h>

/* Says stop from the after-th poll on; counts the polls. */
struct stopper {
    unsigned long polls, after;
};

static int stop_after(void *ctx)
{
    struct stopper *s = ctx;
    return ++s->polls > s->after;
}

static char big[3 * 70000];

static void setup(struct mp_device *d, struct stopper *s, unsigned long after)
{
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)('a' + i % 23);
    mpdev_init(d);
    mpdev_add(d, "/usr/big.bin", big, sizeof big);
    mpdev_add_str(d, "/usr/a.py", "print('a')\n");
    mpdev_add_str(d, "/usr/d/c.py", "print('c')\n");
    mpdev_save(d);
    d->cfg.buf_size = 4096;     /* many chunks: many polls */
    s->polls = 0;
    s->after = after;
    d->cfg.cancelled = stop_after;
    d->cfg.cancel_ctx = s;
}

/* Whether the user file name is old (old, oldlen) or new (new, newlen). */
static int old_or_new(const struct mp_device *d, const char *name, const void *old, size_t oldlen,
                      const void *new, size_t newlen)
{
    size_t n = 0;
    const char *got = memport_get(d->usr, name, &n);
    return got != NULL && ((n == oldlen && memcmp(got, old, n) == 0) ||
                           (n == newlen && memcmp(got, new, n) == 0));
}

/* Without the callback, a boot restores what is left and fails nothing;
 * a second finds nothing to do. */
static void expect_settles(struct mp_device *d)
{
    struct fsg_report r;
    d->cfg.cancelled = NULL;
    CHECK(mpdev_boot(d, 0, &r) >= 0);
    CHECK_EQ_INT(r.failed, 0);
    CHECK_EQ_INT(mpdev_boot(d, FSG_DRY_RUN, &r), 0);
    CHECK_EQ_INT(r.restored + r.failed, 0);
    CHECK_EQ_INT(memport_count_temps(d->usr, NULL, 0), 0);
}

static void test_put(void)
{
    static char next[sizeof big];
    for (size_t i = 0; i < sizeof next; i++)
        next[i] = (char)('A' + i % 19);
    int cancelled = 0, done = 0;
    for (unsigned long after = 0; after < 200; after++) {
        struct mp_device d;
        struct stopper s;
        struct fsg_put *p = NULL;
        uint32_t crc = 0;
        setup(&d, &s, after);
        int err = fsg_put_begin(&d.cfg, "/usr/big.bin", &p);
        for (size_t off = 0; err == 0 && off < sizeof next; off += 5000) {
            size_t n = sizeof next - off < 5000 ? sizeof next - off : 5000;
            err = fsg_put_write(p, next + off, n);
        }
        if (err == 0)
            err = fsg_put_commit(p, &crc);
        else if (p != NULL)
            fsg_put_abort(p);
        CHECK(err == 0 || err == FSG_ERR_CANCELLED);
        cancelled += err == FSG_ERR_CANCELLED;
        done += err == 0;
        CHECK_EQ_INT(memport_count_temps(d.usr, NULL, 0), 0);
        CHECK_EQ_INT(memport_open_handles(d.usr), 0);
        CHECK(old_or_new(&d, "big.bin", big, sizeof big, next, sizeof next));
        expect_settles(&d);
        CHECK(old_or_new(&d, "big.bin", big, sizeof big, next, sizeof next));
        if (err == 0)
            CHECK(old_or_new(&d, "big.bin", next, sizeof next, next, sizeof next));
        mpdev_free(&d);
        if (done > 3)
            break;
    }
    CHECK(cancelled > 10);
    CHECK(done > 0);
}

static void test_boot(void)
{
    int cancelled = 0, done = 0;
    for (unsigned long after = 0; after < 400; after++) {
        struct mp_device d;
        struct stopper s;
        struct fsg_report r;
        setup(&d, &s, after);
        memport_remove(d.usr, "big.bin");
        memport_remove(d.usr, "a.py");
        memport_remove(d.usr, "checksum.json");
        int err = mpdev_boot(&d, 0, &r);
        CHECK(err == 0 || err == FSG_ERR_CANCELLED);
        cancelled += err == FSG_ERR_CANCELLED;
        done += err == 0;
        CHECK_EQ_INT(memport_count_temps(d.usr, NULL, 0), 0);
        CHECK_EQ_INT(memport_open_handles(d.usr), 0);
        size_t n = 0;
        /* Restored completely or not at all. */
        const char *got = memport_get(d.usr, "big.bin", &n);
        CHECK(got == NULL || (n == sizeof big && memcmp(got, big, n) == 0));
        expect_settles(&d);
        got = memport_get(d.usr, "big.bin", &n);
        CHECK(got != NULL && n == sizeof big && memcmp(got, big, n) == 0);
        mpdev_free(&d);
        if (done > 3)
            break;
    }
    CHECK(cancelled > 10);
    CHECK(done > 0);
}

static void test_calc(void)
{
    struct mp_device d;
    struct stopper s;
    uint32_t crc = 0;
    setup(&d, &s, 0);
    memport_put_str(d.usr, "a.py", "print('edited')\n");
    char *before = memport_dump(d.usr);
    CHECK_EQ_INT(fsg_calc(&d.cfg, "/usr/a.py", &crc), FSG_ERR_CANCELLED);
    char *after = memport_dump(d.usr);
    CHECK_EQ_STR(after, before);
    free(before);
    free(after);
    d.cfg.cancelled = NULL;
    CHECK_EQ_INT(fsg_calc(&d.cfg, "/usr/a.py", &crc), 0);
    mpdev_free(&d);
}

int main(void)
{
    test_put();
    test_boot();
    test_calc();
    CHECK_EQ_STR(fsg_strerror(FSG_ERR_CANCELLED), "cancelled");
    return check_done("test_cancel");
}
