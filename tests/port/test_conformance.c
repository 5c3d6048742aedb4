/*
 * test_conformance.c -- the port conformance suite (fsg_conformance.c) run
 * against the two ports that ship: the POSIX port over a fresh directory
 * (with real symbolic links and a FIFO) and the in-memory port (with its
 * links and special files); and against the tests' wrapper port
 * (tests/support/faultport.h) over each, which must pass everything the
 * port under it passes. A firmware engineer runs the same suite against
 * their own port. Built for a microcontroller (FSG_MCU, tests/mcu), it
 * runs the in-memory parts only.
 */
#define _POSIX_C_SOURCE 200809L
#include "faultport.h"
#include "fsg_conformance.h"
#include "fsg_mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifndef FSG_MCU
#include "fsguard_posix.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

static void say(void *ctx, const char *line)
{
    printf("  %s: %s\n", (const char *)ctx, line);
}

#ifndef FSG_MCU
struct px_ctx {
    const char *name;
    int dirfd;
};

static void px_say(void *ctx, const char *line)
{
    say((void *)((struct px_ctx *)ctx)->name, line);
}

static int px_link(void *ctx, const char *path, const char *target)
{
    return symlinkat(target, ((struct px_ctx *)ctx)->dirfd, path);
}

static int px_special(void *ctx, const char *path)
{
    return mkfifoat(((struct px_ctx *)ctx)->dirfd, path, 0600);
}

#endif

static int mem_link(void *ctx, const char *path, const char *target)
{
    return fsg_mem_symlink(ctx, path, target);
}

static int mem_special(void *ctx, const char *path)
{
    return fsg_mem_special(ctx, path);
}

static void mem_say(void *ctx, const char *line)
{
    (void)ctx;
    say("mem", line);
}

/* A broken port, for the suite's own test: over the in-memory port, but
 * create replaces an existing file (no O_EXCL) and stat follows nothing
 * but calls a link a regular file. The suite must fail it. */
static struct fsg_port broken;
static const struct fsg_port *inner;

static int broken_open(void *ctx, const char *path, int mode, void **file)
{
    if (mode == FSG_OPEN_CREATE)
        (void)inner->remove(ctx, path);
    return inner->open(ctx, path, mode, file);
}

static int broken_stat(void *ctx, const char *path, struct fsg_stat *st)
{
    int err = inner->stat(ctx, path, st);
    if (err == 0 && st->type == FSG_TYPE_LINK)
        st->type = FSG_TYPE_REG;
    return err;
}

/* ... and its lock excludes nothing. */
static int broken_lock(void *ctx, int mode, uint32_t wait_ms)
{
    (void)ctx;
    (void)mode;
    (void)wait_ms;
    return 0;
}

static int broken_unlock(void *ctx)
{
    (void)ctx;
    return 0;
}

static void quiet(void *ctx, const char *line)
{
    (void)ctx;
    (void)line;
}

static int report(const char *name, const struct fsg_conformance *t)
{
    printf("%s port: %u checks, %u failed, %u skipped\n", name, t->checks, t->failed, t->skipped);
    return (int)t->failed;
}

/* The wrapper, run through the suite, must pass nothing wrong down and
 * leave no handle open. */
static int check_wrapper(const char *name, const struct faultport *fp)
{
    int failed = 0;
    if (faultport_bad_paths(fp) != 0) {
        printf("%s: %lu bad paths reached the wrapper\n", name, faultport_bad_paths(fp));
        failed++;
    }
    if (faultport_open_handles(fp) != 0) {
        printf("%s: %lu handles left open\n", name, faultport_open_handles(fp));
        failed++;
    }
    if (faultport_ops(fp)->total == 0 || faultport_mutations(fp) == 0) {
        printf("%s: the wrapper counted nothing\n", name);
        failed++;
    }
    return failed;
}

/* Runs the suite as t is set (links, special files, reporting) over port,
 * or with wrapped over the wrapper port around it; every check must run. */
static int run_suite(const char *name, const struct fsg_port *port, int wrapped,
                     struct fsg_conformance *t)
{
    int failed = 0;
    struct faultport *fp = wrapped ? faultport_new(port) : NULL;
    t->port = fp != NULL ? faultport_port(fp) : port;
    t->verbose = getenv("VERBOSE") != NULL;
    fsg_conformance_run(t);
    failed += report(name, t);
    /* The suite must have run the link and special-file checks here. */
    if (t->skipped != 0) {
        printf("%s port: %u checks skipped that must run here\n", name, t->skipped);
        failed++;
    }
    if (fp != NULL)
        failed += check_wrapper(name, fp);
    faultport_free(fp);
    return failed;
}

#ifndef FSG_MCU
/* The POSIX port over a new directory: as this kernel runs it (openat2
 * where Linux has it) or, with walk, forced to walk paths component by
 * component, as on kernels without openat2; with wrapped, through the
 * wrapper port. */
static int run_posix(int walk, int wrapped)
{
    struct fsg_conformance t;
    char dir[] = "/tmp/fsg-conformance.XXXXXX";
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    struct fsg_posix px, px2;
    const char *name = wrapped ? "wrapper over posix" : walk ? "posix (component walk)" : "posix";
    struct px_ctx pc = {name, open(dir, O_RDONLY | O_DIRECTORY)};
    if (pc.dirfd < 0 || fsg_posix_open(&px, dir, 0) < 0 || fsg_posix_open(&px2, dir, 0) < 0) {
        perror(dir);
        return 1;
    }
    if (walk)
        px.walk_only = 1;
    memset(&t, 0, sizeof t);
    t.make_link = px_link;
    t.make_special = px_special;
    t.ctx = &pc;
    t.say = px_say;
    t.other = &px2.port;
    int failed = run_suite(name, &px.port, wrapped, &t);
    fsg_posix_close(&px);
    fsg_posix_close(&px2);
    close(pc.dirfd);
    char cmd[sizeof dir + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return failed;
}
#endif

/* The in-memory port, with wrapped through the wrapper port. */
static int run_mem(int wrapped)
{
    struct fsg_conformance t;
    struct fsg_mem *m = fsg_mem_new();
    memset(&t, 0, sizeof t);
    t.make_link = mem_link;
    t.make_special = mem_special;
    t.ctx = m;
    t.say = mem_say;
    int failed = run_suite(wrapped ? "wrapper over mem" : "mem", fsg_mem_port(m), wrapped, &t);
    fsg_mem_free(m);
    return failed;
}

int main(void)
{
    int failed = 0;
    struct fsg_conformance t;

#ifndef FSG_MCU
    failed += run_posix(0, 0);
    failed += run_posix(1, 0);
    failed += run_posix(0, 1);
#endif
    failed += run_mem(0);
    failed += run_mem(1);

    /* The suite can fail: a port that breaks the contract is caught. */
    struct fsg_mem *m = fsg_mem_new();
    inner = fsg_mem_port(m);    broken = *inner;
    broken.open = broken_open;
    broken.stat = broken_stat;
    broken.lock = broken_lock;
    broken.unlock = broken_unlock;
    memset(&t, 0, sizeof t);
    t.port = &broken;
    t.other = &broken;
    t.make_link = mem_link;
    t.ctx = m;
    t.say = quiet;
    fsg_conformance_run(&t);
    printf("broken port: %u checks, %u failed (must fail)\n", t.checks, t.failed);
    if (t.failed < 5) {
        printf("the suite did not catch a broken port\n");
        failed++;
    }
    fsg_mem_free(m);

    printf("%d passed, %d failed\n", failed == 0, failed != 0);
    return failed == 0 ? 0 : 1;
}
