/*
 * faultport.c -- the wrapper port of the tests (see faultport.h): counts,
 * traces, checks paths and injects faults around any struct fsg_port.
 *
 * Every handle the inner port opens is wrapped in a struct fp_file that
 * remembers the path and mode it was opened with (for the trace), and is
 * kept in a list, so that open handles can be counted and freed with the
 * wrapper.
 */
#include "faultport.h"
#include "fsg_mem.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fp_file {
    struct fp_file *prev, *next;
    void *inner;
    int mode;
    char *path;
};

struct fp_fault {
    bool armed;
    int kind;                   /* enum fp_op, or FP_OP_ANY */
    unsigned long seen, at;     /* matching calls seen; the one that fails */
    int err;
    bool persistent;
};

struct faultport {
    struct fsg_port port;
    const struct fsg_port *in;
    int readonly;
    size_t read_max;
    struct fp_ops ops;
    struct fp_fault fault;
    unsigned long corrupt_at, corrupt_seen; /* silent bit flip in a write */
    unsigned long faults_hit, bad_paths, handles;
    bool lock_offered;          /* lock and unlock are set */
    bool lock_emulated;         /* ... by faultport_set_lock */
    bool held_exclusive;
    int lock_err;               /* injected lock failure, or 0 */
    struct fp_lock lk;
    struct fp_file *files;
    char *trace;
    size_t tracelen, tracecap;
};

static void *xmalloc(size_t n)
{
    void *p = malloc(n == 0 ? 1 : n);
    if (p == NULL) {
        fputs("faultport: out of memory\n", stderr);
        abort();
    }
    return p;
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n == 0 ? 1 : n);
    if (p == NULL) {
        fputs("faultport: out of memory\n", stderr);
        abort();
    }
    return p;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(xmalloc(n), s, n);
}

/* The port's path rules, as the in-memory port states them. */
static bool path_ok(const char *path, bool root_ok)
{
    return fsg_mem_path_ok(path, root_ok) != 0;
}

/* ---- counting, faults, trace ---- */

/* Counts a call of kind; returns the error an armed fault gives it, or 0. */
static int begin_op(struct faultport *fp, int kind)
{
    struct fp_fault *f = &fp->fault;

    fp->ops.total++;
    fp->ops.calls[kind]++;
    if (fp->lock_offered && fp->lk.holders == 0)
        fp->lk.unheld_calls++;
    if (!f->armed || (f->kind != FP_OP_ANY && f->kind != kind))
        return 0;
    f->seen++;
    if (f->seen == f->at || (f->persistent && f->seen > f->at)) {
        fp->faults_hit++;
        return f->err;
    }
    return 0;
}

static int bad_path(struct faultport *fp)
{
    fp->bad_paths++;
    return FSG_ERR_INVAL;
}

/* begin_op, then the path check, then the read-only refusal. */
static int begin_write(struct faultport *fp, int kind, const char *path)
{
    int err = begin_op(fp, kind);
    if (err < 0)
        return err;
    if (!path_ok(path, false))
        return bad_path(fp);
    return fp->readonly ? FSG_ERR_ROFS : 0;
}

static void trace(struct faultport *fp, const char *op, const char *a, const char *b, size_t n)
{
    char num[32] = "";
    if (n != (size_t)-1)
        snprintf(num, sizeof num, " %zu", n);
    size_t need = strlen(op) + strlen(a) + (b != NULL ? strlen(b) + 1 : 0) + strlen(num) + 3;
    if (fp->tracelen + need > fp->tracecap) {
        fp->tracecap = fp->tracecap != 0 ? fp->tracecap : 256;
        while (fp->tracelen + need > fp->tracecap)
            fp->tracecap *= 2;
        fp->trace = xrealloc(fp->trace, fp->tracecap);
    }
    fp->tracelen += (size_t)sprintf(fp->trace + fp->tracelen, "%s %s%s%s%s\n", op, a,
                                    b != NULL ? " " : "", b != NULL ? b : "", num);
}

/* ---- the callbacks ---- */

static int fp_open(void *ctx, const char *path, int mode, void **file)
{
    struct faultport *fp = ctx;
    int err = begin_op(fp, mode == FSG_OPEN_CREATE ? FP_OP_CREATE : FP_OP_OPEN);

    if (err < 0)
        return err;
    if (!path_ok(path, false))
        return bad_path(fp);
    if (mode == FSG_OPEN_CREATE && fp->readonly)
        return FSG_ERR_ROFS;
    void *inner;
    err = fp->in->open(fp->in->ctx, path, mode, &inner);
    if (err < 0)
        return err;
    struct fp_file *f = xmalloc(sizeof *f);
    f->inner = inner;
    f->mode = mode;
    f->path = xstrdup(path);
    f->prev = NULL;
    f->next = fp->files;
    if (fp->files != NULL)
        fp->files->prev = f;
    fp->files = f;
    fp->handles++;
    if (mode == FSG_OPEN_CREATE) {
        fp->ops.creates++;
        trace(fp, "create", path, NULL, (size_t)-1);
    }
    *file = f;
    return 0;
}

static long fp_read(void *ctx, void *file, void *buf, size_t size)
{
    struct faultport *fp = ctx;
    struct fp_file *f = file;
    int err = begin_op(fp, FP_OP_READ);

    if (err < 0)
        return err;
    if (fp->read_max != 0 && size > fp->read_max)
        size = fp->read_max;
    return fp->in->read(fp->in->ctx, f->inner, buf, size);
}

static int fp_write(void *ctx, void *file, const void *buf, size_t size)
{
    struct faultport *fp = ctx;
    struct fp_file *f = file;
    int err = begin_op(fp, FP_OP_WRITE);

    if (err < 0)
        return err;
    if (fp->readonly)
        return FSG_ERR_ROFS;
    unsigned char *flipped = NULL;
    if (fp->corrupt_at != 0 && ++fp->corrupt_seen == fp->corrupt_at) {
        fp->faults_hit++;
        if (size > 0) {
            flipped = memcpy(xmalloc(size), buf, size);
            flipped[size / 2] ^= 0x20;
            buf = flipped;
        }
    }
    err = fp->in->write(fp->in->ctx, f->inner, buf, size);
    free(flipped);
    if (err < 0)
        return err;
    fp->ops.writes++;
    trace(fp, "write", f->path, NULL, size);
    return 0;
}

static int fp_sync(void *ctx, void *file)
{
    struct faultport *fp = ctx;
    struct fp_file *f = file;
    int err = begin_op(fp, FP_OP_SYNC);

    if (err < 0)
        return err;
    err = fp->in->sync(fp->in->ctx, f->inner);
    if (err == 0)
        trace(fp, "sync", f->path, NULL, (size_t)-1);
    return err;
}

static void file_drop(struct faultport *fp, struct fp_file *f)
{
    if (f->prev != NULL)
        f->prev->next = f->next;
    else
        fp->files = f->next;
    if (f->next != NULL)
        f->next->prev = f->prev;
    fp->handles--;
    free(f->path);
    free(f);
}

static int fp_close(void *ctx, void *file)
{
    struct faultport *fp = ctx;
    struct fp_file *f = file;
    int err = begin_op(fp, FP_OP_CLOSE);

    /* Always releases the handle, even when it reports an error. */
    int ierr = fp->in->close(fp->in->ctx, f->inner);
    file_drop(fp, f);
    return err < 0 ? err : ierr;
}

static int fp_stat(void *ctx, const char *path, struct fsg_stat *st)
{
    struct faultport *fp = ctx;
    int err = begin_op(fp, FP_OP_STAT);

    if (err < 0)
        return err;
    if (!path_ok(path, false))
        return bad_path(fp);
    return fp->in->stat(fp->in->ctx, path, st);
}

static int fp_remove(void *ctx, const char *path)
{
    struct faultport *fp = ctx;
    int err = begin_write(fp, FP_OP_REMOVE, path);

    if (err == 0)
        err = fp->in->remove(fp->in->ctx, path);
    if (err < 0)
        return err;
    fp->ops.removes++;
    trace(fp, "remove", path, NULL, (size_t)-1);
    return 0;
}

static int fp_rename(void *ctx, const char *from, const char *to)
{
    struct faultport *fp = ctx;
    int err = begin_op(fp, FP_OP_RENAME);

    if (err < 0)
        return err;
    if (!path_ok(from, false) || !path_ok(to, false))
        return bad_path(fp);
    if (fp->readonly)
        return FSG_ERR_ROFS;
    err = fp->in->rename(fp->in->ctx, from, to);
    if (err < 0)
        return err;
    fp->ops.renames++;
    trace(fp, "rename", from, to, (size_t)-1);
    return 0;
}

static int fp_mkdir(void *ctx, const char *path)
{
    struct faultport *fp = ctx;
    int err = begin_write(fp, FP_OP_MKDIR, path);

    if (err == 0)
        err = fp->in->mkdir(fp->in->ctx, path);
    if (err < 0)
        return err;
    fp->ops.mkdirs++;
    trace(fp, "mkdir", path, NULL, (size_t)-1);
    return 0;
}

static int fp_syncdir(void *ctx, const char *path)
{
    struct faultport *fp = ctx;
    int err = begin_op(fp, FP_OP_SYNCDIR);

    if (err < 0)
        return err;
    if (fp->readonly)
        return FSG_ERR_ROFS;
    if (!path_ok(path, true))
        return bad_path(fp);
    err = fp->in->syncdir(fp->in->ctx, path);
    if (err == 0)
        trace(fp, "syncdir", path, NULL, (size_t)-1);
    return err;
}

static int fp_list(void *ctx, const char *path,
                   int (*fn)(void *arg, const char *name, int type), void *arg)
{
    struct faultport *fp = ctx;
    int err = begin_op(fp, FP_OP_LIST);

    if (err < 0)
        return err;
    if (!path_ok(path, true))
        return bad_path(fp);
    return fp->in->list(fp->in->ctx, path, fn, arg);
}

static int fp_getperm(void *ctx, const char *path, uint32_t *perm)
{
    struct faultport *fp = ctx;
    int err = begin_op(fp, FP_OP_GETPERM);

    if (err < 0)
        return err;
    if (!path_ok(path, false))
        return bad_path(fp);
    return fp->in->getperm(fp->in->ctx, path, perm);
}

static int fp_setperm(void *ctx, void *file, uint32_t perm)
{
    struct faultport *fp = ctx;
    struct fp_file *f = file;
    int err = begin_op(fp, FP_OP_SETPERM);

    if (err < 0)
        return err;
    if (fp->readonly)
        return FSG_ERR_ROFS;
    err = fp->in->setperm(fp->in->ctx, f->inner, perm);
    if (err < 0)
        return err;
    fp->ops.chmods++;
    trace(fp, "chmod", f->path, NULL, (size_t)-1);
    return 0;
}

static int fp_writable(void *ctx, const char *path)
{
    struct faultport *fp = ctx;
    int err = begin_op(fp, FP_OP_WRITABLE);

    if (err < 0)
        return err;
    if (!path_ok(path, false))
        return bad_path(fp);
    if (fp->readonly)
        return FSG_ERR_ROFS;
    const struct fsg_port *in = fp->in;
    return in->version >= 3 && in->writable != NULL ? in->writable(in->ctx, path) : 0;
}

/* ---- the lock ---- */

static int fp_lock(void *ctx, int mode, uint32_t wait_ms)
{
    struct faultport *fp = ctx;
    bool excl = mode == FSG_LOCK_EXCLUSIVE;

    fp->lk.locks++;
    fp->lk.last_wait_ms = wait_ms;
    if (excl)
        fp->lk.exclusive++;
    else
        fp->lk.shared++;
    if (fp->lock_err != 0)
        return fp->lock_err;
    if (fp->lock_emulated) {
        if (fp->held_exclusive || (excl && fp->lk.holders > 0)) {
            fp->lk.conflicts++;
            return FSG_ERR_LOCKED;
        }
    } else {
        int err = fp->in->lock(fp->in->ctx, mode, wait_ms);
        if (err < 0)
            return err;
    }
    fp->lk.holders++;
    fp->held_exclusive = excl;
    return 0;
}

static int fp_unlock(void *ctx)
{
    struct faultport *fp = ctx;

    fp->lk.unlocks++;
    if (fp->lk.holders == 0) {
        fp->lk.bad_unlocks++;
        return FSG_ERR_INVAL;
    }
    fp->lk.holders--;
    fp->held_exclusive = false;
    return fp->lock_emulated ? 0 : fp->in->unlock(fp->in->ctx);
}

void faultport_set_lock(struct faultport *fp, int on)
{
    fp->lock_emulated = on != 0;
    fp->lock_offered = on != 0;
    fp->port.lock = on ? fp_lock : NULL;
    fp->port.unlock = on ? fp_unlock : NULL;
    if (on)
        fp->port.version = FSG_PORT_VERSION;
}

void faultport_lock_fail(struct faultport *fp, int err)
{
    fp->lock_err = err;
}

const struct fp_lock *faultport_lock_stats(const struct faultport *fp)
{
    return &fp->lk;
}

void faultport_lock_reset(struct faultport *fp)
{
    unsigned long holders = fp->lk.holders;
    memset(&fp->lk, 0, sizeof fp->lk);
    fp->lk.holders = holders;
}

/* ---- construction, settings, counters, faults ---- */

struct faultport *faultport_new(const struct fsg_port *inner)
{
    struct faultport *fp = calloc(1, sizeof *fp);
    if (fp == NULL)
        return NULL;
    fp->in = inner;
    struct fsg_port *p = &fp->port;
    p->version = inner->version;
    p->ctx = fp;
    p->open = inner->open != NULL ? fp_open : NULL;
    p->read = inner->read != NULL ? fp_read : NULL;
    p->write = inner->write != NULL ? fp_write : NULL;
    p->sync = inner->sync != NULL ? fp_sync : NULL;
    p->close = inner->close != NULL ? fp_close : NULL;
    p->stat = inner->stat != NULL ? fp_stat : NULL;
    p->remove = inner->remove != NULL ? fp_remove : NULL;
    p->rename = inner->rename != NULL ? fp_rename : NULL;
    p->mkdir = inner->mkdir != NULL ? fp_mkdir : NULL;
    p->syncdir = inner->syncdir != NULL ? fp_syncdir : NULL;
    p->list = inner->list != NULL ? fp_list : NULL;
    if (inner->version >= 2 && inner->lock != NULL && inner->unlock != NULL) {
        p->lock = fp_lock;
        p->unlock = fp_unlock;
        fp->lock_offered = true;
    }
    if (inner->version >= 3 && inner->getperm != NULL && inner->setperm != NULL) {
        p->getperm = fp_getperm;
        p->setperm = fp_setperm;
    }
    p->writable = fp_writable;
    return fp;
}

void faultport_free(struct faultport *fp)
{
    if (fp == NULL)
        return;
    while (fp->files != NULL)
        file_drop(fp, fp->files);
    free(fp->trace);
    free(fp);
}

const struct fsg_port *faultport_port(struct faultport *fp)
{
    return &fp->port;
}

void faultport_set_readonly(struct faultport *fp, int readonly)
{
    fp->readonly = readonly;
}

void faultport_set_read_max(struct faultport *fp, size_t n)
{
    fp->read_max = n;
}

const struct fp_ops *faultport_ops(const struct faultport *fp)
{
    return &fp->ops;
}

void faultport_reset_ops(struct faultport *fp)
{
    memset(&fp->ops, 0, sizeof fp->ops);
    fp->tracelen = 0;
    if (fp->trace != NULL)
        fp->trace[0] = '\0';
}

const char *faultport_trace(const struct faultport *fp)
{
    return fp->trace != NULL ? fp->trace : "";
}

unsigned long faultport_mutations(const struct faultport *fp)
{
    const struct fp_ops *o = &fp->ops;
    return o->creates + o->writes + o->renames + o->removes + o->mkdirs + o->chmods;
}

unsigned long faultport_mutating_calls(const struct faultport *fp)
{
    const unsigned long *c = fp->ops.calls;
    return c[FP_OP_CREATE] + c[FP_OP_WRITE] + c[FP_OP_RENAME] + c[FP_OP_REMOVE] +
           c[FP_OP_MKDIR] + c[FP_OP_SETPERM];
}

unsigned long faultport_open_handles(const struct faultport *fp)
{
    return fp->handles;
}

unsigned long faultport_bad_paths(const struct faultport *fp)
{
    return fp->bad_paths;
}

void faultport_fail_kind(struct faultport *fp, int kind, unsigned long n, int err,
                         int persistent)
{
    struct fp_fault *f = &fp->fault;
    f->armed = n > 0;
    f->kind = kind;
    f->seen = 0;
    f->at = n;
    f->err = err;
    f->persistent = persistent != 0;
}

void faultport_fail_at(struct faultport *fp, unsigned long n, int err, int persistent)
{
    faultport_fail_kind(fp, FP_OP_ANY, n, err, persistent);
}

void faultport_corrupt_write(struct faultport *fp, unsigned long n)
{
    fp->corrupt_at = n;
    fp->corrupt_seen = 0;
}

void faultport_fail_clear(struct faultport *fp)
{
    memset(&fp->fault, 0, sizeof fp->fault);
    fp->corrupt_at = fp->corrupt_seen = 0;
}

unsigned long faultport_faults_hit(const struct faultport *fp)
{
    return fp->faults_hit;
}

/* ---- the crash-safety protocol, read from the trace ---- */

struct tline {
    char op[16];
    char a[700], b[700];
};

static size_t parse_trace(const char *trace, struct tline **out)
{
    size_t n = 0, cap = 16;
    struct tline *v = xmalloc(cap * sizeof *v);
    for (const char *p = trace; *p != '\0';) {
        const char *nl = strchr(p, '\n');
        size_t len = nl != NULL ? (size_t)(nl - p) : strlen(p);
        char line[1500];
        snprintf(line, sizeof line, "%.*s", (int)len, p);
        if (n == cap)
            v = xrealloc(v, (cap *= 2) * sizeof *v);
        struct tline *l = &v[n++];
        memset(l, 0, sizeof *l);
        char *s1 = strchr(line, ' ');
        if (s1 != NULL) {
            *s1++ = '\0';
            char *s2 = strchr(s1, ' ');
            if (s2 != NULL) {
                *s2++ = '\0';
                snprintf(l->b, sizeof l->b, "%.699s", s2);
            }
            snprintf(l->a, sizeof l->a, "%.699s", s1);
        }
        snprintf(l->op, sizeof l->op, "%.15s", line);
        p += len + (nl != NULL);
    }
    *out = v;
    return n;
}

static void dirname_of(const char *path, char *out, size_t size)
{
    const char *s = strrchr(path, '/');
    snprintf(out, size, "%.*s", s != NULL ? (int)(s - path) : 0, path);
}

/* Every rename moves a file that was synced after its last write, and is
 * followed by a sync of the target's directory before the next creation or
 * rename; every new directory is synced into its parent before anything is
 * created in it. */
int faultport_protocol_ok(const struct faultport *fp)
{
    struct tline *v;
    size_t n = parse_trace(faultport_trace(fp), &v);
    int ok = 1;
    for (size_t i = 0; i < n; i++) {
        char dir[700];
        if (strcmp(v[i].op, "rename") == 0) {
            /* A file the trace never wrote is as durable as it was when
             * the trace began (the test's hands write durably). */
            int synced = 1;
            for (size_t j = 0; j < i; j++) {
                if (strcmp(v[j].a, v[i].a) != 0)
                    continue;
                if (strcmp(v[j].op, "write") == 0 || strcmp(v[j].op, "create") == 0 ||
                    strcmp(v[j].op, "chmod") == 0)
                    synced = 0;
                else if (strcmp(v[j].op, "sync") == 0)
                    synced = 1;
            }
            dirname_of(v[i].b, dir, sizeof dir);
            int dsync = 0;
            for (size_t k = i + 1; k < n; k++) {
                if (strcmp(v[k].op, "syncdir") == 0 && strcmp(v[k].a, dir) == 0) {
                    dsync = 1;
                    break;
                }
                if (strcmp(v[k].op, "create") == 0 || strcmp(v[k].op, "rename") == 0)
                    break;
            }
            if (!synced || !dsync) {
                fprintf(stderr, "  protocol: rename %s %s: %s\n", v[i].a, v[i].b,
                        !synced ? "not synced before" : "directory not synced after");
                ok = 0;
            }
        } else if (strcmp(v[i].op, "mkdir") == 0) {
            dirname_of(v[i].a, dir, sizeof dir);
            int dsync = 0;
            for (size_t k = i + 1; k < n; k++) {
                if (strcmp(v[k].op, "syncdir") == 0 && strcmp(v[k].a, dir) == 0) {
                    dsync = 1;
                    break;
                }
                if (strcmp(v[k].op, "create") == 0 || strcmp(v[k].op, "mkdir") == 0 ||
                    strcmp(v[k].op, "rename") == 0)
                    break;
            }
            if (!dsync) {
                fprintf(stderr, "  protocol: mkdir %s not synced into its parent\n", v[i].a);
                ok = 0;
            }
        }
    }
    free(v);
    return ok;
}

