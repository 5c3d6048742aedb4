/*
 * io.c -- the core's working context and the file operations it builds from
 * port calls: streaming hashes, parent directories, and crash-safe
 * replacement of a user file (temp file, sync, verify, rename, sync dir).
 */
#include "fsg_internal.h"

#include <string.h>

#ifndef FSG_NO_MALLOC
#include <stdlib.h>

/* cfg.alloc NULL: the C library's heap. A build with FSG_NO_MALLOC has no
 * such default and refuses a configuration without cfg.alloc. */
static void *default_alloc(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    if (size == 0) {
        free(ptr);
        return NULL;
    }
    return realloc(ptr, size);
}
#define DEFAULT_ALLOC default_alloc
#define ALLOC_REQUIRED 0
#else
#define DEFAULT_ALLOC NULL
#define ALLOC_REQUIRED 1
#endif

void *fsg_realloc(struct fsg_ctx *c, void *ptr, size_t size)
{
    const struct fsg_config *cfg = c->cfg;
    fsg_alloc_fn fn = cfg->alloc != NULL ? cfg->alloc : DEFAULT_ALLOC;
    return fn(cfg->alloc_ctx, ptr, size);
}

void *fsg_alloc(struct fsg_ctx *c, size_t size)
{
    return fsg_realloc(c, NULL, size == 0 ? 1 : size);
}

void fsg_free(struct fsg_ctx *c, void *ptr)
{
    if (ptr != NULL)
        (void)fsg_realloc(c, ptr, 0);
}

char *fsg_strdup(struct fsg_ctx *c, const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = fsg_alloc(c, n);
    if (d != NULL)
        memcpy(d, s, n);
    return d;
}

void fsg_emit(struct fsg_ctx *c, const struct fsg_event *ev)
{
    if (c->cfg->on_event != NULL)
        c->cfg->on_event(c->cfg->event_ctx, ev);
}

static bool port_ok(const struct fsg_port *p)
{
    return p != NULL && p->version == FSG_PORT_VERSION && p->open != NULL &&
           p->read != NULL && p->close != NULL && p->stat != NULL;
}

int fsg_ctx_init(struct fsg_ctx *c, const struct fsg_config *cfg)
{
    return fsg_ctx_open(c, cfg, FSG_NEED_USR | FSG_NEED_BAK);
}

int fsg_ctx_open(struct fsg_ctx *c, const struct fsg_config *cfg, unsigned need)
{
    memset(c, 0, sizeof *c);
    if (cfg == NULL || (ALLOC_REQUIRED && cfg->alloc == NULL) ||
        ((need & FSG_NEED_USR) && !port_ok(cfg->usr)) ||
        ((need & FSG_NEED_BAK) && !port_ok(cfg->bak)))
        return FSG_ERR_INVAL;
    c->cfg = cfg;
    c->usr = cfg->usr;
    c->bak = cfg->bak;
    if (cfg->buf != NULL) {
        if (cfg->buf_size < FSG_BUF_MIN)
            return FSG_ERR_INVAL;
        c->buf = cfg->buf;
        c->buf_size = cfg->buf_size;
    } else {
        c->own_buf = fsg_alloc(c, FSG_DEFAULT_BUF);
        if (c->own_buf == NULL)
            return FSG_ERR_NOMEM;
        c->buf = c->own_buf;
        c->buf_size = FSG_DEFAULT_BUF;
    }
    return 0;
}

void fsg_ctx_fini(struct fsg_ctx *c)
{
    if (c->cfg != NULL)
        fsg_free(c, c->own_buf);
    c->own_buf = NULL;
}

int fsg_problem_of(int err)
{
    switch (err) {
    case FSG_ERR_NOENT: return FSG_PROBLEM_MISSING;
    case FSG_ERR_ISDIR:
    case FSG_ERR_NOTREG: return FSG_PROBLEM_NOT_REGULAR;
    case FSG_ERR_LOOP:
    case FSG_ERR_NOTDIR: return FSG_PROBLEM_UNSAFE_PATH;
    default: return FSG_PROBLEM_UNREADABLE;
    }
}

int fsg_port_remove(const struct fsg_port *p, const char *path)
{
    return p->remove != NULL ? p->remove(p->ctx, path) : FSG_ERR_NOTSUP;
}

static void swap_items(char *a, char *b, size_t size)
{
    while (size-- > 0) {
        char t = *a;
        *a++ = *b;
        *b++ = t;
    }
}

/* Moves item root of the heap b[0..n) down to its place. */
static void sift_down(char *b, size_t root, size_t n, size_t size,
                      int (*cmp)(const void *, const void *))
{
    for (size_t child; (child = 2 * root + 1) < n; root = child) {
        if (child + 1 < n && cmp(b + child * size, b + (child + 1) * size) < 0)
            child++;
        if (cmp(b + root * size, b + child * size) >= 0)
            return;
        swap_items(b + root * size, b + child * size, size);
    }
}

/* Heapsort, not the C library's qsort: it allocates nothing (glibc's qsort
 * may call malloc) and runs in bounded time and stack. Every comparator
 * given is a total order, so stability is not needed. */
void fsg_sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
    /* Tables are usually written in order (pack and fsguard keep them so):
     * one pass tells, and spares the sort. */
    char *b = base;
    size_t i = 1;
    while (i < n && cmp(b + (i - 1) * size, b + i * size) <= 0)
        i++;
    if (i >= n)
        return;
    for (i = n / 2; i-- > 0;)
        sift_down(b, i, n, size, cmp);
    for (i = n; --i > 0;) {
        swap_items(b, b + i * size, size);
        sift_down(b, 0, i, size, cmp);
    }
}

int fsg_hash_file(struct fsg_ctx *c, const struct fsg_port *port, const char *path,
                  unsigned kinds, struct fsg_sum *sum)
{
    uint64_t size;
    return fsg_hash_file_size(c, port, path, kinds, sum, &size);
}

static int hash_once(const struct fsg_port *port, void *buf, size_t buf_size, const char *path,
                     unsigned kinds, struct fsg_sum *sum, uint64_t *size);

static int hash_retry(const struct fsg_port *port, void *buf, size_t buf_size, const char *path,
                      unsigned kinds, struct fsg_sum *sum, uint64_t *size)
{
    /* A read error gets one more try before the file counts as damaged:
     * a good file, a legitimate edit among them, must not be overwritten
     * with the factory copy for one transient error. */
    int err = hash_once(port, buf, buf_size, path, kinds, sum, size);
    if (fsg_err_transient(err))
        err = hash_once(port, buf, buf_size, path, kinds, sum, size);
    return err;
}

int fsg_hash_file_size(struct fsg_ctx *c, const struct fsg_port *port, const char *path,
                       unsigned kinds, struct fsg_sum *sum, uint64_t *size)
{
    return hash_retry(port, c->buf, c->buf_size, path, kinds, sum, size);
}

int fsg_hash_job_run(const struct fsg_port *port, void *buf, size_t buf_size,
                     struct fsg_hash_job *job)
{
    struct fsg_sum sum;
    job->size = 0;
    if (buf == NULL || buf_size < FSG_BUF_MIN)
        return job->err = FSG_ERR_INVAL;
    job->err = hash_retry(port, buf, buf_size, job->path, job->kinds, &sum, &job->size);
    if (job->err == 0) {
        job->crc = sum.crc;
        memcpy(job->sha256, sum.sha, sizeof job->sha256);
    }
    return job->err;
}

bool fsg_err_transient(int err)
{
    switch (err) {
    case FSG_OK:
    case FSG_ERR_NOENT:
    case FSG_ERR_NOTREG:
    case FSG_ERR_ISDIR:
    case FSG_ERR_NOTDIR:
    case FSG_ERR_LOOP:
    case FSG_ERR_NAMETOOLONG:
    case FSG_ERR_CORRUPT:
    case FSG_ERR_FBIG:
    case FSG_ERR_NOMEM:
        return false;
    default:
        return true;
    }
}

static int hash_once(const struct fsg_port *port, void *buf, size_t buf_size, const char *path,
                     unsigned kinds, struct fsg_sum *sum, uint64_t *size)
{
    struct fsg_stat st;
    void *f;

    /* Open first: a port refuses anything but a regular file, so the common
     * case costs no stat. Only a refusal is looked at closer, to tell a
     * link or a directory in the file's place from one above it. */
    int err = port->open(port->ctx, path, FSG_OPEN_READ, &f);
    if (err < 0 && err != FSG_ERR_NOENT && port->stat(port->ctx, path, &st) == 0) {
        if (st.type != FSG_TYPE_REG)
            return st.type == FSG_TYPE_DIR ? FSG_ERR_ISDIR : FSG_ERR_NOTREG;
    }
    if (err < 0)
        return err;

    struct fsg_hasher h;
    uint64_t total = 0;
    long n;
    fsg_hasher_init(&h, kinds);
    while ((n = port->read(port->ctx, f, buf, buf_size)) > 0) {
        fsg_hasher_update(&h, buf, (size_t)n);
        total += (uint64_t)n;
    }
    int cerr = port->close(port->ctx, f);
    if (n < 0)
        return (int)n;
    if (cerr < 0)
        return cerr;
    fsg_hasher_final(&h, sum);
    *size = total;
    return 0;
}

/* Syncs directory prefix[0..len) of buf ("" when len is 0), writing a NUL
 * there for the call and putting back what stood there. */
static int sync_prefix(const struct fsg_port *p, char *buf, size_t len)
{
    char saved = buf[len];
    buf[len] = '\0';
    int err = p->syncdir(p->ctx, buf);
    buf[len] = saved;
    return err;
}

/* The directory part of path (dlen bytes) in a string of its own, from the
 * allocator: path buffers do not live on the stack, a device's is small. */
static FSG_NOINLINE int dir_of(struct fsg_ctx *c, const char *path, size_t dlen, char **out)
{
    if (dlen >= FSG_PATH_BUF)
        return FSG_ERR_NAMETOOLONG;
    char *dir = *out = fsg_alloc(c, dlen + 1);
    if (dir == NULL)
        return FSG_ERR_NOMEM;
    memcpy(dir, path, dlen);
    dir[dlen] = '\0';
    return 0;
}

int fsg_sync_parent(struct fsg_ctx *c, const struct fsg_port *p, const char *path)
{
    size_t dlen = fsg_dir_len(path);
    char *dir;

    if (p->syncdir == NULL)
        return 0;
    int err = dir_of(c, path, dlen, &dir);
    if (err < 0)
        return err;
    err = p->syncdir(p->ctx, dir);
    fsg_free(c, dir);
    return err;
}

int fsg_mkdirs(struct fsg_ctx *c, const struct fsg_port *p, const char *path)
{
    size_t dlen = fsg_dir_len(path);
    char *dir;

    if (dlen == 0)
        return 0;
    int err = dir_of(c, path, dlen, &dir);
    if (err < 0)
        return err;

    /* Walk down from the root: each existing component must be a real
     * directory (stat never follows links), each missing one is created. */
    for (size_t i = 0; i <= dlen && err == 0; i++) {
        if (dir[i] != '/' && dir[i] != '\0')
            continue;
        char saved = dir[i];
        dir[i] = '\0';
        struct fsg_stat st;
        err = p->stat(p->ctx, dir, &st);
        if (err == FSG_ERR_NOENT) {
            err = p->mkdir == NULL ? FSG_ERR_NOTSUP : p->mkdir(p->ctx, dir);
            /* Make the new directory's entry durable in its parent. */
            if (err == 0 && p->syncdir != NULL)
                err = sync_prefix(p, dir, fsg_dir_len(dir));
        } else if (err == 0 && st.type != FSG_TYPE_DIR) {
            err = st.type == FSG_TYPE_LINK ? FSG_ERR_LOOP : FSG_ERR_NOTDIR;
        }
        dir[i] = saved;
    }
    fsg_free(c, dir);
    return err;
}

int fsg_atomic_begin(struct fsg_atomic *a, struct fsg_ctx *c, const struct fsg_port *p,
                     const char *path)
{
    int err;

    memset(a, 0, sizeof *a);
    a->c = c;
    a->port = p;
    a->path = path;
    fsg_hasher_init(&a->h, FSG_HASH_CRC32);
    if (p->remove == NULL || p->rename == NULL || p->write == NULL || p->sync == NULL)
        return FSG_ERR_NOTSUP;
    a->tmp = fsg_alloc(c, FSG_PATH_BUF);
    if (a->tmp == NULL)
        return FSG_ERR_NOMEM;
    err = fsg_tmp_path(path, a->tmp, FSG_PATH_BUF);
    if (err < 0) {
        fsg_free(c, a->tmp);
        a->tmp = NULL;
        return err;
    }
    /* A leftover of an interrupted run is ours to replace. Removing it first
     * and then creating exclusively means we never write through a link or
     * into a file that is also linked elsewhere. */
    err = p->remove(p->ctx, a->tmp);
    if (err < 0 && err != FSG_ERR_NOENT)
        return err;
    err = p->open(p->ctx, a->tmp, FSG_OPEN_CREATE, &a->file);
    if (err < 0)
        a->file = NULL;
    return err;
}

void fsg_atomic_want(struct fsg_atomic *a, unsigned kinds)
{
    fsg_hasher_init(&a->h, kinds);
}

int fsg_atomic_write(struct fsg_atomic *a, const void *data, size_t len)
{
    const struct fsg_port *p = a->port;
    fsg_hasher_update(&a->h, data, len);
    return p->write(p->ctx, a->file, data, len);
}

void fsg_atomic_sum(struct fsg_atomic *a, struct fsg_sum *out)
{
    struct fsg_hasher h = a->h; /* a copy: the running state goes on */
    fsg_hasher_final(&h, out);
}

void fsg_atomic_abort(struct fsg_atomic *a)
{
    const struct fsg_port *p = a->port;
    if (p == NULL)
        return;
    if (a->file != NULL)
        (void)p->close(p->ctx, a->file);
    a->file = NULL;
    if (a->tmp != NULL) {
        (void)p->remove(p->ctx, a->tmp);
        fsg_free(a->c, a->tmp);
        a->tmp = NULL;
    }
}

int fsg_atomic_seal(struct fsg_atomic *a)
{
    struct fsg_ctx *c = a->c;
    const struct fsg_port *p = a->port;
    struct fsg_sum back;

#if defined(FSG_TEST_BREAK) && FSG_TEST_BREAK == 1
    /* Broken on purpose, for the crash sweep's own test: no sync. */
    int err = 0;
#else
    int err = p->sync(p->ctx, a->file);
#endif
    int cerr = p->close(p->ctx, a->file);
    a->file = NULL;
    if (err == 0)
        err = cerr;
    /* Read the temporary file back from storage: only data that reads back
     * as written may replace the target. */
    if (err == 0)
        err = fsg_hash_file(c, p, a->tmp, FSG_HASH_CRC32, &back);
    if (err == 0 && back.crc != a->h.crc)
        err = FSG_ERR_MISMATCH;
    if (err < 0)
        fsg_atomic_abort(a);
    return err;
}

int fsg_atomic_publish(struct fsg_atomic *a)
{
    const struct fsg_port *p = a->port;

    int err = p->rename(p->ctx, a->tmp, a->path);
    if (err < 0) {
        fsg_atomic_abort(a);
        return err;
    }
    a->renamed = true;
    fsg_free(a->c, a->tmp);
    a->tmp = NULL;
    return fsg_sync_parent(a->c, p, a->path);
}

int fsg_atomic_commit(struct fsg_atomic *a)
{
    int err = fsg_atomic_seal(a);
    return err < 0 ? err : fsg_atomic_publish(a);
}

int fsg_write_small(struct fsg_ctx *c, const struct fsg_port *p, const char *path,
                    const void *data, size_t len)
{
    struct fsg_atomic a;
    int err = fsg_atomic_begin(&a, c, p, path);
    if (err == 0 && len > 0)
        err = fsg_atomic_write(&a, data, len);
    if (err < 0) {
        fsg_atomic_abort(&a);
        return err;
    }
    return fsg_atomic_commit(&a);
}

struct list_sink {
    struct fsg_ctx *c;
    struct fsg_dirlist *l;
    bool (*keep)(const char *name, int type);
    int err;
};

static int list_collect(void *arg, const char *name, int type)
{
    struct list_sink *s = arg;
    struct fsg_dirlist *l = s->l;
    if (s->keep != NULL && !s->keep(name, type))
        return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        char **v = fsg_realloc(s->c, l->v, cap * sizeof *v);
        if (v == NULL)
            return s->err = FSG_ERR_NOMEM;
        l->v = v;
        l->cap = cap;
    }
    size_t len = strlen(name);
    char *e = fsg_alloc(s->c, len + 2);
    if (e == NULL)
        return s->err = FSG_ERR_NOMEM;
    e[0] = (char)type;
    memcpy(e + 1, name, len + 1);
    l->v[l->n++] = e;
    return 0;
}

static int cmp_listed(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a + 1, *(const char *const *)b + 1);
}

int fsg_list_dir(struct fsg_ctx *c, const struct fsg_port *port, const char *dir,
                 struct fsg_dirlist *out)
{
    return fsg_list_dir_only(c, port, dir, NULL, out);
}

int fsg_list_dir_only(struct fsg_ctx *c, const struct fsg_port *port, const char *dir,
                      bool (*keep)(const char *name, int type), struct fsg_dirlist *out)
{
    struct list_sink s = {c, out, keep, 0};

    memset(out, 0, sizeof *out);
    if (port->list == NULL)
        return FSG_ERR_NOTSUP;
    int err = port->list(port->ctx, dir, list_collect, &s);
    if (s.err < 0)
        return s.err;
    if (err == 0)
        fsg_sort(out->v, out->n, sizeof *out->v, cmp_listed);
    return err;
}

void fsg_dirlist_free(struct fsg_ctx *c, struct fsg_dirlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        fsg_free(c, l->v[i]);
    fsg_free(c, l->v);
    memset(l, 0, sizeof *l);
}

char *fsg_path_join(struct fsg_ctx *c, const char *dir, const char *name)
{
    size_t dl = strlen(dir), nl = strlen(name);
    char *p = fsg_alloc(c, dl + nl + 2);
    if (p != NULL) {
        memcpy(p, dir, dl);
        p[dl] = '/';
        memcpy(p + dl + (dl > 0), name, nl + 1);
    }
    return p;
}
