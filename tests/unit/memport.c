/*
 * memport.c -- the in-memory storage port and the device fixture.
 *
 * Nodes live in a tree (each directory keeps a doubly linked list of its
 * children, for listing) and in a hash table keyed by full path (for
 * lookups), so 100,000 files cost no quadratic walks. A node removed while
 * a handle is open on it stays allocated until the last close.
 */
#include "memport.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mp_node {
    char *path;                 /* full path; "" for the root */
    int type;                   /* enum fsg_type */
    unsigned char *data;        /* regular file: content, NUL-terminated */
    size_t len, cap;
    char *target;               /* link: its target, never followed */
    struct mp_node *parent;
    struct mp_node *child, *last, *prev, *next; /* directory children; siblings */
    struct mp_node *hnext;      /* hash chain */
    unsigned opens;             /* open handles */
    bool linked;                /* in the tree */
};

struct mp_file {
    struct mp_node *node;
    size_t pos;
    int mode;
};

struct mp_fault {
    bool armed;
    int kind;                   /* enum mp_op, or MP_OP_ANY */
    unsigned long seen, at;     /* matching calls seen; the one that fails */
    int err;
    bool persistent;
};

struct memport {
    struct fsg_port port;
    struct mp_node *root;
    struct mp_node **tab;
    size_t tabsize, count;
    int readonly;
    size_t capacity, used;
    size_t read_max;
    struct memport_ops ops;
    struct mp_fault fault;
    unsigned long corrupt_at, corrupt_seen; /* silent bit flip in a write */
    unsigned long faults_hit, bad_paths, handles;
    char *trace;
    size_t tracelen, tracecap;
};

static void *xmalloc(size_t n)
{
    void *p = malloc(n == 0 ? 1 : n);
    if (p == NULL) {
        fprintf(stderr, "memport: out of memory\n");
        abort();
    }
    return p;
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n == 0 ? 1 : n);
    if (p == NULL) {
        fprintf(stderr, "memport: out of memory\n");
        abort();
    }
    return p;
}

static char *xstrndup(const char *s, size_t n)
{
    char *d = xmalloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

/* ---- hash table of nodes by path ---- */

static size_t hash_path(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return (size_t)h;
}

static struct mp_node *find(const struct memport *mp, const char *path, size_t n)
{
    if (n == 0)
        return mp->root;
    for (struct mp_node *x = mp->tab[hash_path(path, n) & (mp->tabsize - 1)]; x != NULL;
         x = x->hnext)
        if (strncmp(x->path, path, n) == 0 && x->path[n] == '\0')
            return x;
    return NULL;
}

static void tab_insert(struct memport *mp, struct mp_node *x)
{
    if (mp->count + 1 > mp->tabsize) {
        size_t nsize = mp->tabsize * 2;
        struct mp_node **nt = xmalloc(nsize * sizeof *nt);
        memset(nt, 0, nsize * sizeof *nt);
        for (size_t i = 0; i < mp->tabsize; i++) {
            struct mp_node *y = mp->tab[i];
            while (y != NULL) {
                struct mp_node *next = y->hnext;
                size_t h = hash_path(y->path, strlen(y->path)) & (nsize - 1);
                y->hnext = nt[h];
                nt[h] = y;
                y = next;
            }
        }
        free(mp->tab);
        mp->tab = nt;
        mp->tabsize = nsize;
    }
    size_t h = hash_path(x->path, strlen(x->path)) & (mp->tabsize - 1);
    x->hnext = mp->tab[h];
    mp->tab[h] = x;
    mp->count++;
}

static void tab_remove(struct memport *mp, struct mp_node *x)
{
    struct mp_node **pp = &mp->tab[hash_path(x->path, strlen(x->path)) & (mp->tabsize - 1)];
    while (*pp != x)
        pp = &(*pp)->hnext;
    *pp = x->hnext;
    x->hnext = NULL;
    mp->count--;
}

/* ---- the tree ---- */

static const char *base_of(const struct mp_node *x)
{
    const char *s = strrchr(x->path, '/');
    return s != NULL ? s + 1 : x->path;
}

static void node_free(struct memport *mp, struct mp_node *x)
{
    mp->used -= x->len;
    free(x->path);
    free(x->data);
    free(x->target);
    free(x);
}

/* Links a new node of type at path (its parent dir is parent). */
static struct mp_node *node_new(struct memport *mp, struct mp_node *parent, const char *path,
                                int type)
{
    struct mp_node *x = xmalloc(sizeof *x);
    memset(x, 0, sizeof *x);
    x->path = xstrndup(path, strlen(path));
    x->type = type;
    x->parent = parent;
    x->prev = parent->last;
    if (parent->last != NULL)
        parent->last->next = x;
    else
        parent->child = x;
    parent->last = x;
    x->linked = true;
    tab_insert(mp, x);
    return x;
}

static void detach(struct memport *mp, struct mp_node *x)
{
    struct mp_node *p = x->parent;
    if (x->prev != NULL)
        x->prev->next = x->next;
    else
        p->child = x->next;
    if (x->next != NULL)
        x->next->prev = x->prev;
    else
        p->last = x->prev;
    x->prev = x->next = NULL;
    x->parent = NULL;
    tab_remove(mp, x);
}

/* Takes x (and, for a directory, everything below) out of the tree; frees
 * what no handle holds. */
static void node_unlink(struct memport *mp, struct mp_node *x)
{
    while (x->child != NULL)
        node_unlink(mp, x->child);
    detach(mp, x);
    x->linked = false;
    if (x->opens == 0)
        node_free(mp, x);
}

/* Port paths: non-empty components, none "." or "..". */
static bool path_ok(const char *path, bool root_ok)
{
    if (path == NULL)
        return false;
    if (path[0] == '\0')
        return root_ok;
    const char *s = path;
    for (;;) {
        size_t n = strcspn(s, "/");
        if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
            return false;
        if (s[n] == '\0')
            return true;
        s += n + 1;
    }
}

/* Finds the directory holding path's last component, never following a
 * link: a link on the way gives FSG_ERR_LOOP, a file FSG_ERR_NOTDIR. */
static int walk_parent(const struct memport *mp, const char *path, struct mp_node **dir)
{
    struct mp_node *d = mp->root;
    for (const char *s = strchr(path, '/'); s != NULL; s = strchr(s + 1, '/')) {
        d = find(mp, path, (size_t)(s - path));
        if (d == NULL)
            return FSG_ERR_NOENT;
        if (d->type == FSG_TYPE_LINK)
            return FSG_ERR_LOOP;
        if (d->type != FSG_TYPE_DIR)
            return FSG_ERR_NOTDIR;
    }
    *dir = d;
    return 0;
}

/* The node at path, which must exist. */
static int lookup(const struct memport *mp, const char *path, struct mp_node **out)
{
    struct mp_node *dir;
    int err = walk_parent(mp, path, &dir);
    if (err < 0)
        return err;
    *out = find(mp, path, strlen(path));
    return *out != NULL ? 0 : FSG_ERR_NOENT;
}

/* ---- counting and faults ---- */

static int begin_op(struct memport *mp, int kind)
{
    struct mp_fault *f = &mp->fault;

    mp->ops.total++;
    mp->ops.calls[kind]++;
    if (!f->armed || (f->kind != MP_OP_ANY && f->kind != kind))
        return 0;
    f->seen++;
    if (f->seen == f->at || (f->persistent && f->seen > f->at)) {
        mp->faults_hit++;
        return f->err;
    }
    return 0;
}

static void trace(struct memport *mp, const char *op, const char *a, const char *b, size_t n)
{
    char num[32] = "";
    if (n != (size_t)-1)
        snprintf(num, sizeof num, " %zu", n);
    size_t need = strlen(op) + strlen(a) + (b != NULL ? strlen(b) + 1 : 0) + strlen(num) + 3;
    if (mp->tracelen + need > mp->tracecap) {
        mp->tracecap = mp->tracecap != 0 ? mp->tracecap : 256;
        while (mp->tracelen + need > mp->tracecap)
            mp->tracecap *= 2;
        mp->trace = xrealloc(mp->trace, mp->tracecap);
    }
    mp->tracelen += (size_t)sprintf(mp->trace + mp->tracelen, "%s %s%s%s%s\n", op, a,
                                    b != NULL ? " " : "", b != NULL ? b : "", num);
}

static int bad_path(struct memport *mp)
{
    mp->bad_paths++;
    return FSG_ERR_INVAL;
}

/* ---- the port's callbacks ---- */

static int mp_open(void *ctx, const char *path, int mode, void **file)
{
    struct memport *mp = ctx;
    struct mp_node *x, *dir;
    int err = begin_op(mp, mode == FSG_OPEN_CREATE ? MP_OP_CREATE : MP_OP_OPEN);

    if (err < 0)
        return err;
    if (!path_ok(path, false))
        return bad_path(mp);
    if (mode == FSG_OPEN_CREATE) {
        if (mp->readonly)
            return FSG_ERR_ROFS;
        err = walk_parent(mp, path, &dir);
        if (err < 0)
            return err;
        if (find(mp, path, strlen(path)) != NULL)
            return FSG_ERR_EXIST; /* exclusive, even over a link */
        x = node_new(mp, dir, path, FSG_TYPE_REG);
        mp->ops.creates++;
        trace(mp, "create", path, NULL, (size_t)-1);
    } else if (mode == FSG_OPEN_READ) {
        err = lookup(mp, path, &x);
        if (err < 0)
            return err;
        if (x->type == FSG_TYPE_LINK)
            return FSG_ERR_LOOP; /* as O_NOFOLLOW */
        if (x->type == FSG_TYPE_DIR)
            return FSG_ERR_ISDIR;
        if (x->type != FSG_TYPE_REG)
            return FSG_ERR_NOTREG;
    } else {
        return FSG_ERR_INVAL;
    }
    struct mp_file *f = xmalloc(sizeof *f);
    f->node = x;
    f->pos = 0;
    f->mode = mode;
    x->opens++;
    mp->handles++;
    *file = f;
    return 0;
}

static long mp_read(void *ctx, void *file, void *buf, size_t size)
{
    struct memport *mp = ctx;
    struct mp_file *f = file;
    int err = begin_op(mp, MP_OP_READ);

    if (err < 0)
        return err;
    if (f->mode != FSG_OPEN_READ)
        return FSG_ERR_INVAL;
    size_t left = f->node->len - (f->pos < f->node->len ? f->pos : f->node->len);
    size_t n = size < left ? size : left;
    if (mp->read_max != 0 && n > mp->read_max)
        n = mp->read_max;
    if (n > 0)
        memcpy(buf, f->node->data + f->pos, n);
    f->pos += n;
    return (long)n;
}

static void ensure_cap(struct mp_node *x, size_t need)
{
    if (need + 1 <= x->cap)
        return;
    size_t cap = x->cap != 0 ? x->cap : 64;
    while (cap < need + 1)
        cap *= 2;
    x->data = xrealloc(x->data, cap);
    x->cap = cap;
}

static int mp_write(void *ctx, void *file, const void *buf, size_t size)
{
    struct memport *mp = ctx;
    struct mp_file *f = file;
    struct mp_node *x = f->node;
    int err = begin_op(mp, MP_OP_WRITE);

    if (err < 0)
        return err;
    if (f->mode != FSG_OPEN_CREATE)
        return FSG_ERR_INVAL;
    if (mp->readonly)
        return FSG_ERR_ROFS;
    size_t end = f->pos + size;
    size_t grow = end > x->len ? end - x->len : 0;
    if (mp->capacity != 0 && mp->used + grow > mp->capacity)
        return FSG_ERR_NOSPC;
    ensure_cap(x, end);
    if (f->pos > x->len)
        memset(x->data + x->len, 0, f->pos - x->len);
    if (size > 0)
        memcpy(x->data + f->pos, buf, size);
    if (mp->corrupt_at != 0 && ++mp->corrupt_seen == mp->corrupt_at) {
        if (size > 0)
            x->data[f->pos + size / 2] ^= 0x20;
        mp->faults_hit++;
    }
    if (end > x->len) {
        mp->used += end - x->len;
        x->len = end;
    }
    x->data[x->len] = '\0';
    f->pos = end;
    mp->ops.writes++;
    trace(mp, "write", x->path, NULL, size);
    return 0;
}

static int mp_sync(void *ctx, void *file)
{
    struct memport *mp = ctx;
    struct mp_file *f = file;
    int err = begin_op(mp, MP_OP_SYNC);
    if (err == 0)
        trace(mp, "sync", f->node->path, NULL, (size_t)-1);
    return err;
}

static int mp_close(void *ctx, void *file)
{
    struct memport *mp = ctx;
    struct mp_file *f = file;
    int err = begin_op(mp, MP_OP_CLOSE);

    /* Always releases the handle, even when it reports an error. */
    struct mp_node *x = f->node;
    x->opens--;
    mp->handles--;
    if (!x->linked && x->opens == 0)
        node_free(mp, x);
    free(f);
    return err;
}

static int mp_stat(void *ctx, const char *path, struct fsg_stat *st)
{
    struct memport *mp = ctx;
    struct mp_node *x;
    int err = begin_op(mp, MP_OP_STAT);

    if (err < 0)
        return err;
    if (!path_ok(path, false))
        return bad_path(mp);
    err = lookup(mp, path, &x);
    if (err < 0)
        return err;
    st->type = x->type;
    st->size = x->type == FSG_TYPE_REG ? (uint64_t)x->len : 0;
    return 0;
}

/* The preamble of every writing callback: count (and maybe fault) the call,
 * check the path, refuse on a read-only port. */
static int begin_write(struct memport *mp, int op, const char *path)
{
    int err = begin_op(mp, op);
    if (err < 0)
        return err;
    if (!path_ok(path, false))
        return bad_path(mp);
    return mp->readonly ? FSG_ERR_ROFS : 0;
}

static int mp_remove(void *ctx, const char *path)
{
    struct memport *mp = ctx;
    struct mp_node *x;
    int err = begin_write(mp, MP_OP_REMOVE, path);

    if (err < 0)
        return err;
    err = lookup(mp, path, &x);
    if (err < 0)
        return err;
    if (x->type == FSG_TYPE_DIR)
        return FSG_ERR_ISDIR;
    trace(mp, "remove", path, NULL, (size_t)-1);
    node_unlink(mp, x);
    mp->ops.removes++;
    return 0;
}

static int mp_rename(void *ctx, const char *from, const char *to)
{
    struct memport *mp = ctx;
    struct mp_node *x, *dir;
    int err = begin_op(mp, MP_OP_RENAME);

    if (err < 0)
        return err;
    if (!path_ok(from, false) || !path_ok(to, false))
        return bad_path(mp);
    if (mp->readonly)
        return FSG_ERR_ROFS;
    err = lookup(mp, from, &x);
    if (err == 0)
        err = walk_parent(mp, to, &dir);
    if (err < 0)
        return err;
    struct mp_node *old = find(mp, to, strlen(to));
    if (old == x)
        return 0;
    if (old != NULL && old->type == FSG_TYPE_DIR)
        return FSG_ERR_ISDIR;
    if (x->type == FSG_TYPE_DIR)
        return FSG_ERR_NOTSUP; /* fsguard never renames a directory */
    if (old != NULL)
        node_unlink(mp, old); /* a link at to is replaced, not followed */
    detach(mp, x);
    free(x->path);
    x->path = xstrndup(to, strlen(to));
    x->parent = dir;
    x->prev = dir->last;
    if (dir->last != NULL)
        dir->last->next = x;
    else
        dir->child = x;
    dir->last = x;
    tab_insert(mp, x);
    mp->ops.renames++;
    trace(mp, "rename", from, to, (size_t)-1);
    return 0;
}

static int mp_mkdir(void *ctx, const char *path)
{
    struct memport *mp = ctx;
    struct mp_node *dir;
    int err = begin_write(mp, MP_OP_MKDIR, path);

    if (err < 0)
        return err;
    err = walk_parent(mp, path, &dir);
    if (err < 0)
        return err;
    if (find(mp, path, strlen(path)) != NULL)
        return FSG_ERR_EXIST;
    node_new(mp, dir, path, FSG_TYPE_DIR);
    mp->ops.mkdirs++;
    trace(mp, "mkdir", path, NULL, (size_t)-1);
    return 0;
}

/* The directory at path ("" the root). */
static int lookup_dir(struct memport *mp, const char *path, struct mp_node **out)
{
    if (!path_ok(path, true))
        return bad_path(mp);
    int err = path[0] == '\0' ? (*out = mp->root, 0) : lookup(mp, path, out);
    if (err < 0)
        return err;
    if ((*out)->type == FSG_TYPE_LINK)
        return FSG_ERR_LOOP;
    return (*out)->type == FSG_TYPE_DIR ? 0 : FSG_ERR_NOTDIR;
}

static int mp_syncdir(void *ctx, const char *path)
{
    struct memport *mp = ctx;
    struct mp_node *d;
    int err = begin_op(mp, MP_OP_SYNCDIR);

    if (err < 0)
        return err;
    if (mp->readonly)
        return FSG_ERR_ROFS;
    err = lookup_dir(mp, path, &d);
    if (err == 0)
        trace(mp, "syncdir", path, NULL, (size_t)-1);
    return err;
}

static int mp_list(void *ctx, const char *path,
                   int (*fn)(void *arg, const char *name, int type), void *arg)
{
    struct memport *mp = ctx;
    struct mp_node *d;
    int err = begin_op(mp, MP_OP_LIST);

    if (err < 0)
        return err;
    err = lookup_dir(mp, path, &d);
    if (err < 0)
        return err;
    for (struct mp_node *x = d->child, *next; x != NULL; x = next) {
        next = x->next;
        int r = fn(arg, base_of(x), x->type);
        if (r != 0)
            return r;
    }
    return 0;
}

/* ---- construction and counters ---- */

struct memport *memport_new(void)
{
    struct memport *mp = xmalloc(sizeof *mp);
    memset(mp, 0, sizeof *mp);
    mp->root = xmalloc(sizeof *mp->root);
    memset(mp->root, 0, sizeof *mp->root);
    mp->root->path = xstrndup("", 0);
    mp->root->type = FSG_TYPE_DIR;
    mp->root->linked = true;
    mp->tabsize = 64;
    mp->tab = xmalloc(mp->tabsize * sizeof *mp->tab);
    memset(mp->tab, 0, mp->tabsize * sizeof *mp->tab);

    mp->port.version = FSG_PORT_VERSION;
    mp->port.ctx = mp;
    mp->port.open = mp_open;
    mp->port.read = mp_read;
    mp->port.write = mp_write;
    mp->port.sync = mp_sync;
    mp->port.close = mp_close;
    mp->port.stat = mp_stat;
    mp->port.remove = mp_remove;
    mp->port.rename = mp_rename;
    mp->port.mkdir = mp_mkdir;
    mp->port.syncdir = mp_syncdir;
    mp->port.list = mp_list;
    return mp;
}

void memport_free(struct memport *mp)
{
    if (mp == NULL)
        return;
    while (mp->root->child != NULL)
        node_unlink(mp, mp->root->child);
    /* Nodes still held by a leaked handle are leaked with it. */
    node_free(mp, mp->root);
    free(mp->tab);
    free(mp->trace);
    free(mp);
}

const struct fsg_port *memport_port(struct memport *mp)
{
    return &mp->port;
}

void memport_set_readonly(struct memport *mp, int readonly)
{
    mp->readonly = readonly;
}

void memport_set_read_max(struct memport *mp, size_t n)
{
    mp->read_max = n;
}

void memport_set_capacity(struct memport *mp, size_t bytes)
{
    mp->capacity = bytes;
}

const struct memport_ops *memport_ops(const struct memport *mp)
{
    return &mp->ops;
}

void memport_reset_ops(struct memport *mp)
{
    memset(&mp->ops, 0, sizeof mp->ops);
    mp->tracelen = 0;
    if (mp->trace != NULL)
        mp->trace[0] = '\0';
}

const char *memport_trace(const struct memport *mp)
{
    return mp->trace != NULL ? mp->trace : "";
}

unsigned long memport_mutations(const struct memport *mp)
{
    const struct memport_ops *o = &mp->ops;
    return o->creates + o->writes + o->renames + o->removes + o->mkdirs;
}

unsigned long memport_mutating_calls(const struct memport *mp)
{
    const unsigned long *c = mp->ops.calls;
    return c[MP_OP_CREATE] + c[MP_OP_WRITE] + c[MP_OP_RENAME] + c[MP_OP_REMOVE] +
           c[MP_OP_MKDIR];
}

unsigned long memport_open_handles(const struct memport *mp)
{
    return mp->handles;
}

unsigned long memport_bad_paths(const struct memport *mp)
{
    return mp->bad_paths;
}

void memport_fail_kind(struct memport *mp, int kind, unsigned long n, int err, int persistent)
{
    struct mp_fault *f = &mp->fault;
    f->armed = n > 0;
    f->kind = kind;
    f->seen = 0;
    f->at = n;
    f->err = err;
    f->persistent = persistent != 0;
}

void memport_fail_at(struct memport *mp, unsigned long n, int err, int persistent)
{
    memport_fail_kind(mp, MP_OP_ANY, n, err, persistent);
}

void memport_corrupt_write(struct memport *mp, unsigned long n)
{
    mp->corrupt_at = n;
    mp->corrupt_seen = 0;
}

void memport_fail_clear(struct memport *mp)
{
    memset(&mp->fault, 0, sizeof mp->fault);
    mp->corrupt_at = mp->corrupt_seen = 0;
}

unsigned long memport_faults_hit(const struct memport *mp)
{
    return mp->faults_hit;
}

/* ---- the test's hands ---- */

/* Creates the missing directories above path (and path itself with
 * self). */
static int make_dirs(struct memport *mp, const char *path, bool self, struct mp_node **out)
{
    struct mp_node *d = mp->root;
    size_t len = strlen(path);
    for (size_t i = 0; i <= len; i++) {
        if (path[i] != '/' && !(self && path[i] == '\0'))
            continue;
        struct mp_node *x = find(mp, path, i);
        if (x == NULL) {
            char *p = xstrndup(path, i);
            x = node_new(mp, d, p, FSG_TYPE_DIR);
            free(p);
        } else if (x->type != FSG_TYPE_DIR) {
            return x->type == FSG_TYPE_LINK ? FSG_ERR_LOOP : FSG_ERR_NOTDIR;
        }
        d = x;
    }
    *out = d;
    return 0;
}

/* Makes room for a new node at path: parents created, an old non-directory
 * node removed. */
static int prepare(struct memport *mp, const char *path, struct mp_node **dir)
{
    if (!path_ok(path, false))
        return FSG_ERR_INVAL;
    int err = make_dirs(mp, path, false, dir);
    if (err < 0)
        return err;
    struct mp_node *old = find(mp, path, strlen(path));
    if (old != NULL && old->type == FSG_TYPE_DIR)
        return FSG_ERR_ISDIR;
    if (old != NULL)
        node_unlink(mp, old);
    return 0;
}

int memport_put(struct memport *mp, const char *path, const void *data, size_t len)
{
    struct mp_node *dir;
    int err = prepare(mp, path, &dir);
    if (err < 0)
        return err;
    struct mp_node *x = node_new(mp, dir, path, FSG_TYPE_REG);
    ensure_cap(x, len);
    if (len > 0)
        memcpy(x->data, data, len);
    x->data[len] = '\0';
    x->len = len;
    mp->used += len;
    return 0;
}

int memport_put_str(struct memport *mp, const char *path, const char *text)
{
    return memport_put(mp, path, text, strlen(text));
}

static const struct mp_node *peek(const struct memport *mp, const char *path)
{
    if (!path_ok(path, true))
        return NULL;
    return find(mp, path, strlen(path));
}

const char *memport_get(const struct memport *mp, const char *path, size_t *len)
{
    const struct mp_node *x = peek(mp, path);
    if (x == NULL || x->type != FSG_TYPE_REG)
        return NULL;
    if (len != NULL)
        *len = x->len;
    return x->data != NULL ? (const char *)x->data : "";
}

int memport_mkdir(struct memport *mp, const char *path)
{
    struct mp_node *d;
    if (!path_ok(path, false))
        return FSG_ERR_INVAL;
    return make_dirs(mp, path, true, &d);
}

int memport_symlink(struct memport *mp, const char *path, const char *target)
{
    struct mp_node *dir;
    int err = prepare(mp, path, &dir);
    if (err < 0)
        return err;
    struct mp_node *x = node_new(mp, dir, path, FSG_TYPE_LINK);
    x->target = xstrndup(target, strlen(target));
    return 0;
}

int memport_special(struct memport *mp, const char *path)
{
    struct mp_node *dir;
    int err = prepare(mp, path, &dir);
    if (err < 0)
        return err;
    node_new(mp, dir, path, FSG_TYPE_OTHER);
    return 0;
}

int memport_exists(const struct memport *mp, const char *path)
{
    const struct mp_node *x = peek(mp, path);
    return x != NULL ? x->type : 0;
}

const char *memport_link_target(const struct memport *mp, const char *path)
{
    const struct mp_node *x = peek(mp, path);
    return x != NULL && x->type == FSG_TYPE_LINK ? x->target : NULL;
}

int memport_remove(struct memport *mp, const char *path)
{
    struct mp_node *x = path_ok(path, false) ? find(mp, path, strlen(path)) : NULL;
    if (x == NULL)
        return FSG_ERR_NOENT;
    node_unlink(mp, x);
    return 0;
}

static bool is_temp(const struct mp_node *x)
{
    const char *b = base_of(x);
    size_t n = strlen(b), s = strlen(".fsg-tmp");
    return n >= s && strcmp(b + n - s, ".fsg-tmp") == 0;
}

unsigned long memport_count_temps(const struct memport *mp, char *first, size_t size)
{
    unsigned long n = 0;
    for (size_t i = 0; i < mp->tabsize; i++)
        for (const struct mp_node *x = mp->tab[i]; x != NULL; x = x->hnext)
            if (is_temp(x) && n++ == 0 && first != NULL && size > 0)
                snprintf(first, size, "%s", x->path);
    return n;
}

static int cmp_node(const void *a, const void *b)
{
    const struct mp_node *x = *(const struct mp_node *const *)a;
    const struct mp_node *y = *(const struct mp_node *const *)b;
    return strcmp(x->path, y->path);
}

char *memport_dump(const struct memport *mp)
{
    const struct mp_node **v = xmalloc(mp->count * sizeof *v);
    size_t n = 0, len = 0, cap = 256;
    char *out = xmalloc(cap);

    for (size_t i = 0; i < mp->tabsize; i++)
        for (const struct mp_node *x = mp->tab[i]; x != NULL; x = x->hnext)
            v[n++] = x;
    qsort(v, n, sizeof *v, cmp_node);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        const struct mp_node *x = v[i];
        char line[1600];
        char hash[FSG_HASH_STRLEN];
        switch (x->type) {
        case FSG_TYPE_REG:
            snprintf(line, sizeof line, "F %s %zu %s\n", x->path, x->len,
                     mp_hash_str(x->data, x->len, hash));
            break;
        case FSG_TYPE_DIR:
            snprintf(line, sizeof line, "D %s\n", x->path);
            break;
        case FSG_TYPE_LINK:
            snprintf(line, sizeof line, "L %s -> %s\n", x->path, x->target);
            break;
        default:
            snprintf(line, sizeof line, "O %s\n", x->path);
            break;
        }
        size_t l = strlen(line);
        while (len + l + 1 > cap)
            cap *= 2;
        out = xrealloc(out, cap);
        memcpy(out + len, line, l + 1);
        len += l;
    }
    free(v);
    return out;
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
int memport_protocol_ok(const struct memport *mp)
{
    struct tline *v;
    size_t n = parse_trace(memport_trace(mp), &v);
    int ok = 1;
    for (size_t i = 0; i < n; i++) {
        char dir[700];
        if (strcmp(v[i].op, "rename") == 0) {
            int synced = 0;
            for (size_t j = 0; j < i; j++) {
                if (strcmp(v[j].a, v[i].a) != 0)
                    continue;
                if (strcmp(v[j].op, "write") == 0 || strcmp(v[j].op, "create") == 0)
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

/* ------------------------------------------------------------------------ */
/* Device fixture.                                                          */

void mp_fill(void *p, size_t n, uint32_t seed)
{
    unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        b[i] = (unsigned char)(seed >> 16);
    }
}

uint32_t mp_crc(const void *data, size_t len)
{
    return fsg_crc32(FSG_CRC_INIT, data, len);
}

const char *mp_hash_str(const void *data, size_t len, char out[FSG_HASH_STRLEN])
{
    return fsg_hash_format(mp_crc(data, len), out);
}

static void on_event(void *ctx, const struct fsg_event *ev)
{
    struct mp_device *d = ctx;
    if (!d->record)
        return;
    if (d->nev == d->evcap) {
        d->evcap = d->evcap != 0 ? d->evcap * 2 : 16;
        d->ev = xrealloc(d->ev, d->evcap * sizeof *d->ev);
    }
    struct mp_event *e = &d->ev[d->nev++];
    memset(e, 0, sizeof *e);
    e->kind = ev->kind;
    e->name = ev->name != NULL ? xstrndup(ev->name, strlen(ev->name)) : NULL;
    e->status = ev->status;
    e->problem = ev->problem;
    e->failure = ev->failure;
    e->error = ev->error;
    e->expected = ev->expected;
    e->actual = ev->actual;
    e->recorded = ev->recorded;
    e->has_actual = ev->has_actual;
    e->entry_added = ev->entry_added;
    e->hash_only = ev->hash_only;
    e->source = ev->source;
    e->index = ev->index;
    e->defect = ev->defect;
}

void mpdev_init(struct mp_device *d)
{
    memset(d, 0, sizeof *d);
    d->usr = memport_new();
    d->bak = memport_new();
    d->cfg.usr = memport_port(d->usr);
    d->cfg.bak = memport_port(d->bak);
    d->cfg.on_event = on_event;
    d->cfg.event_ctx = d;
    d->record = 1;
    memport_put_str(d->bak, "backup_restore.json", "{\"enable\": 1}");
}

static void clear_events(struct mp_device *d)
{
    for (size_t i = 0; i < d->nev; i++)
        free(d->ev[i].name);
    d->nev = 0;
}

void mpdev_free(struct mp_device *d)
{
    clear_events(d);
    free(d->ev);
    free(d->man);
    memport_free(d->usr);
    memport_free(d->bak);
    memset(d, 0, sizeof *d);
}

static void man_append(struct mp_device *d, const char *s)
{
    size_t n = strlen(s);
    if (d->manlen + n + 1 > d->mancap) {
        d->mancap = d->mancap != 0 ? d->mancap : 256;
        while (d->manlen + n + 1 > d->mancap)
            d->mancap *= 2;
        d->man = xrealloc(d->man, d->mancap);
    }
    memcpy(d->man + d->manlen, s, n + 1);
    d->manlen += n;
}

void mpdev_place(struct mp_device *d, const char *name, const void *data, size_t len)
{
    if (memport_put(d->bak, name + 1, data, len) < 0 ||
        memport_put(d->usr, name + 5, data, len) < 0) {
        fprintf(stderr, "mpdev_place: cannot place %s\n", name);
        abort();
    }
}

void mpdev_add(struct mp_device *d, const char *name, const void *data, size_t len)
{
    char hash[FSG_HASH_STRLEN];
    char *line = xmalloc(strlen(name) + 64);

    mpdev_place(d, name, data, len);
    /* MicroPython's ujson.dumps style, as QPYcom writes it. */
    sprintf(line, "%s{\"name\": \"%s\", \"crc32\": \"%s\"}", d->manlen > 0 ? ", " : "", name,
            mp_hash_str(data, len, hash));
    man_append(d, line);
    free(line);
}

void mpdev_add_str(struct mp_device *d, const char *name, const char *text)
{
    mpdev_add(d, name, text, strlen(text));
}

void mpdev_save(struct mp_device *d)
{
    size_t n = d->manlen + 3;
    char *text = xmalloc(n);
    snprintf(text, n, "[%s]", d->man != NULL ? d->man : "");
    memport_put_str(d->bak, "checksum.json", text);
    memport_put_str(d->usr, "checksum.json", text);
    free(text);
}

void mpdev_reset(struct mp_device *d)
{
    clear_events(d);
    memport_reset_ops(d->usr);
    memport_reset_ops(d->bak);
}

int mpdev_boot(struct mp_device *d, int flags, struct fsg_report *r)
{
    mpdev_reset(d);
    return fsg_boot(&d->cfg, flags, r);
}

static bool name_eq(const char *a, const char *b)
{
    return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

const struct mp_event *mpdev_event(const struct mp_device *d, int kind, const char *name)
{
    for (size_t i = 0; i < d->nev; i++)
        if (d->ev[i].kind == kind && name_eq(d->ev[i].name, name))
            return &d->ev[i];
    return NULL;
}

const struct mp_event *mpdev_entry_event(const struct mp_device *d, int source,
                                         unsigned long index)
{
    for (size_t i = 0; i < d->nev; i++)
        if (d->ev[i].kind == FSG_EVENT_ENTRY && d->ev[i].source == source &&
            d->ev[i].index == index)
            return &d->ev[i];
    return NULL;
}

size_t mpdev_count(const struct mp_device *d, int kind)
{
    size_t n = 0;
    for (size_t i = 0; i < d->nev; i++)
        n += d->ev[i].kind == kind;
    return n;
}

void *mp_talloc_fn(void *ctx, void *ptr, size_t size)
{
    struct mp_talloc *a = ctx;
    if (size == 0) {
        if (ptr != NULL)
            a->live--;
        free(ptr);
        return NULL;
    }
    if (size > a->largest)
        a->largest = size;
    if (++a->calls == a->fail_at)
        return NULL;
    void *q = realloc(ptr, size);
    if (q != NULL && ptr == NULL)
        a->live++;
    return q;
}

int memport_table_find(const struct memport *mp, const char *path, const char *name,
                       int (*fn)(void *arg, const struct cJSON *entry), void *arg)
{
    size_t len;
    const char *text = memport_get(mp, path, &len);
    if (text == NULL)
        return -1;
    cJSON *root = cJSON_ParseWithLength(text, len);
    if (!cJSON_IsArray(root)) {
        cJSON_Delete(root);
        return -1;
    }
    int r = 0;
    cJSON *item;
    cJSON_ArrayForEach(item, root)
    {
        cJSON *n = cJSON_GetObjectItemCaseSensitive(item, "name");
        if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0 && (r = fn(arg, item)) != 0)
            break;
    }
    cJSON_Delete(root);
    return r;
}

/* The first entry of the name with a parseable crc32. */
static int take_crc(void *arg, const cJSON *entry)
{
    cJSON *c = cJSON_GetObjectItemCaseSensitive(entry, "crc32");
    return cJSON_IsString(c) && fsg_hash_parse(c->valuestring, arg) == 0;
}

int mpdev_usr_crc(const struct mp_device *d, const char *name, uint32_t *crc)
{
    return memport_table_find(d->usr, "checksum.json", name, take_crc, crc);
}

void rec_on_event(void *ctx, const struct fsg_event *ev)
{
    struct rec *r = ctx;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        struct fsg_event *v = realloc(r->v, cap * sizeof *v);
        if (v == NULL)
            abort();
        r->v = v;
        r->cap = cap;
    }
    struct fsg_event *e = &r->v[r->n++];
    *e = *ev;
    if (ev->name != NULL) {
        size_t len = strlen(ev->name) + 1;
        char *name = malloc(len);
        if (name == NULL)
            abort();
        memcpy(name, ev->name, len);
        e->name = name;
    }
}

void rec_clear(struct rec *r)
{
    for (size_t i = 0; i < r->n; i++)
        free((char *)(uintptr_t)r->v[i].name);
    free(r->v);
    memset(r, 0, sizeof *r);
}

size_t rec_count(const struct rec *r, int kind)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++)
        n += r->v[i].kind == kind;
    return n;
}

const struct fsg_event *rec_find(const struct rec *r, int kind, const char *name)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->v[i].kind == kind && r->v[i].name != NULL && strcmp(r->v[i].name, name) == 0)
            return &r->v[i];
    return NULL;
}
