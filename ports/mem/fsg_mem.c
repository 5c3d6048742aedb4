/*
 * fsg_mem.c -- the in-memory storage port that simulates power loss (see
 * fsg_mem.h for the contract and the crash model).
 *
 * Data structures.
 *  - Nodes are inodes, held in a slot table and named by their slot number
 *    (the root is slot 0). Every node counts its references: entries of the
 *    live and of the durable namespace that name it, and pending name
 *    operations that mention it; open handles are counted apart. A node
 *    with neither is freed at once (a directory releasing what it holds).
 *    Directories cannot be renamed through the port, so there are no cycles.
 *  - A regular file keeps its bytes in one buffer: the first dlen bytes are
 *    durable, the rest are the writes made since the last sync (files are
 *    only ever appended to), whose end offsets are listed in wend.
 *  - A directory keeps two sorted name -> node tables: live (what the port
 *    shows) and durable (as of its last syncdir), plus the ordered list of
 *    its pending name operations. Each operation touches its own directory
 *    only: ADD (create, mkdir, the arriving half of a rename), DEL (remove,
 *    the leaving half of a rename) and MOVE (a rename inside the directory).
 *    Invariant: applying a directory's pending operations in order to its
 *    durable table gives its live table. The two halves of a rename across
 *    directories share one sequence number and name each other's directory
 *    (partner), so they are kept or dropped together.
 *  - syncdir(d) commits all of d's pending operations, and with each half of
 *    a cross-directory rename, the other directory's operations up to the
 *    other half (a rename is one transaction, and transactions commit in
 *    order, as in a journal).
 *  - A crash draws, per directory in slot order, how many of its pending
 *    operations to keep, then shrinks those prefixes until no rename keeps
 *    one half without the other, commits what is kept, drops the rest, and
 *    makes every live table a copy of its durable one. Nodes no longer named
 *    are freed by their counts. Then every file with unsynced writes keeps,
 *    drawn in slot order, a prefix of them, the last possibly torn.
 *
 * The test's hands act like port calls followed by a sync of the file's
 * data and a syncdir of every directory they touched (so earlier pending
 * operations of those directories become durable too).
 */
#include "fsg_mem.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROOT 0u
#define NONE UINT32_MAX

enum { OP_ADD = 1, OP_DEL, OP_MOVE };

struct ent {
    char *name;
    uint32_t ino;
};

struct entv {
    struct ent *v;
    size_t n, cap;
};

struct op {
    int kind;
    char *name;       /* ADD, DEL: the name; MOVE: the old name */
    char *name2;      /* MOVE: the new name */
    uint32_t ino;     /* the node named */
    uint32_t partner; /* the other directory of a cross-directory rename, or NONE */
    uint64_t seq;     /* increasing over the whole partition */
};

struct opv {
    struct op *v;
    size_t n, cap;
};

struct node {
    int type;             /* enum fsg_type */
    unsigned long refs;   /* entries (live and durable) and pending ops naming it */
    unsigned long opens;  /* open handles */
    /* regular file */
    unsigned char *data;  /* NUL-terminated when not NULL */
    size_t len, cap, dlen;
    size_t *wend;         /* end offsets of the writes since the last sync */
    size_t nw, wcap;
    uint32_t perm, dperm; /* permission bits now, and durable (a file sync) */
    /* directory */
    struct entv live, dur;
    struct opv ops;
    /* link */
    char *target;
};

struct handle {
    struct handle *prev, *next;
    struct node *node;
    uint32_t id;
    int mode;
    size_t pos;
};

struct fsg_mem {
    struct fsg_port port;
    struct node **slot;
    size_t nslot, capslot;
    size_t hint;          /* no free slot below it */
    uint64_t seq;
    struct handle *handles;
    size_t capacity;      /* bytes of file data allowed; 0: no limit */
};

/* ------------------------------------------------------------------------ */
/* Small helpers.                                                           */

static void oom(void)
{
    fputs("fsg_mem: out of memory\n", stderr);
    abort();
}

static char *dupn(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d != NULL) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static int grow(void **v, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap != 0 ? *cap : 4;
    while (c < need)
        c *= 2;
    void *p = realloc(*v, c * size);
    if (p == NULL)
        return FSG_ERR_NOMEM;
    *v = p;
    *cap = c;
    return 0;
}

static int entv_reserve(struct entv *e, size_t extra)
{
    void *v = e->v;
    int err = grow(&v, &e->cap, e->n + extra, sizeof *e->v);
    e->v = v;
    return err;
}

static int opv_reserve(struct opv *o, size_t extra)
{
    void *v = o->v;
    int err = grow(&v, &o->cap, o->n + extra, sizeof *o->v);
    o->v = v;
    return err;
}

/* Compares name[0..len) with s, as strcmp would. */
static int namecmp(const char *name, size_t len, const char *s)
{
    size_t sl = strlen(s);
    int c = memcmp(name, s, len < sl ? len : sl);
    if (c != 0)
        return c;
    return len < sl ? -1 : len > sl ? 1 : 0;
}

/* Where name is, or would go, in e. */
static size_t entv_pos(const struct entv *e, const char *name, size_t len, bool *found)
{
    size_t lo = 0, hi = e->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = namecmp(name, len, e->v[mid].name);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    *found = false;
    return lo;
}

/* A small deterministic generator (splitmix64). */
static uint64_t rnd_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A draw in [0, n). */
static size_t rnd_below(uint64_t *s, size_t n)
{
    return (size_t)(rnd_next(s) % (uint64_t)n);
}

/* ------------------------------------------------------------------------ */
/* Nodes and their counts.                                                  */

static struct node *N(const struct fsg_mem *m, uint32_t id)
{
    return m->slot[id];
}

/* Frees a node's memory only (nothing it names is released). */
static void node_destroy(struct node *x)
{
    if (x == NULL)
        return;
    for (size_t i = 0; i < x->live.n; i++)
        free(x->live.v[i].name);
    for (size_t i = 0; i < x->dur.n; i++)
        free(x->dur.v[i].name);
    for (size_t i = 0; i < x->ops.n; i++) {
        free(x->ops.v[i].name);
        free(x->ops.v[i].name2);
    }
    free(x->live.v);
    free(x->dur.v);
    free(x->ops.v);
    free(x->data);
    free(x->wend);
    free(x->target);
    free(x);
}

static void node_unref(struct fsg_mem *m, uint32_t id);

/* Takes a node out of its slot, releasing what it names. */
static void node_free(struct fsg_mem *m, uint32_t id)
{
    struct node *x = m->slot[id];
    m->slot[id] = NULL;
    if (id < m->hint)
        m->hint = id;
    for (size_t i = 0; i < x->live.n; i++)
        node_unref(m, x->live.v[i].ino);
    for (size_t i = 0; i < x->dur.n; i++)
        node_unref(m, x->dur.v[i].ino);
    for (size_t i = 0; i < x->ops.n; i++)
        node_unref(m, x->ops.v[i].ino);
    node_destroy(x);
}

static void node_ref(struct fsg_mem *m, uint32_t id)
{
    m->slot[id]->refs++;
}

static void node_unref(struct fsg_mem *m, uint32_t id)
{
    struct node *x = m->slot[id];
    if (--x->refs == 0 && x->opens == 0)
        node_free(m, id);
}

/* A new node of type with no references, in the lowest free slot. */
static int node_new(struct fsg_mem *m, int type, uint32_t *id)
{
    size_t i = m->hint;
    while (i < m->nslot && m->slot[i] != NULL)
        i++;
    if (i == m->nslot) {
        if (m->nslot >= NONE)
            return FSG_ERR_NOSPC;
        void *v = m->slot;
        int err = grow(&v, &m->capslot, m->nslot + 1, sizeof *m->slot);
        m->slot = v;
        if (err < 0)
            return err;
        m->slot[m->nslot++] = NULL;
    }
    struct node *x = calloc(1, sizeof *x);
    if (x == NULL)
        return FSG_ERR_NOMEM;
    x->type = type;
    if (type == FSG_TYPE_REG)
        x->perm = x->dperm = 0644;
    m->slot[i] = x;
    m->hint = i + 1;
    *id = (uint32_t)i;
    return 0;
}

/* Names ino as name (owned by e from now on) in e, replacing what was
 * there. Room for one more entry must be reserved. */
static void entv_put(struct fsg_mem *m, struct entv *e, char *name, uint32_t ino)
{
    bool found;
    size_t i = entv_pos(e, name, strlen(name), &found);
    node_ref(m, ino);
    if (found) {
        uint32_t old = e->v[i].ino;
        free(name);
        e->v[i].ino = ino;
        node_unref(m, old);
        return;
    }
    memmove(e->v + i + 1, e->v + i, (e->n - i) * sizeof *e->v);
    e->v[i].name = name;
    e->v[i].ino = ino;
    e->n++;
}

static void entv_del(struct fsg_mem *m, struct entv *e, const char *name, size_t len)
{
    bool found;
    size_t i = entv_pos(e, name, len, &found);
    if (!found)
        return;
    uint32_t ino = e->v[i].ino;
    free(e->v[i].name);
    memmove(e->v + i, e->v + i + 1, (e->n - i - 1) * sizeof *e->v);
    e->n--;
    node_unref(m, ino);
}

/* Appends an operation to directory dir's pending list (room reserved);
 * name and name2 are owned by it from now on. */
static void op_push(struct fsg_mem *m, uint32_t dir, int kind, char *name, char *name2,
                    uint32_t ino, uint32_t partner, uint64_t seq)
{
    struct opv *o = &N(m, dir)->ops;
    struct op *p = &o->v[o->n++];
    p->kind = kind;
    p->name = name;
    p->name2 = name2;
    p->ino = ino;
    p->partner = partner;
    p->seq = seq;
    node_ref(m, ino);
}

/* Index of the operation numbered seq in dir's pending list, or -1 when
 * it is not there (any more). The lists are in seq order. */
static long op_find(const struct fsg_mem *m, uint32_t dir, uint64_t seq)
{
    if (dir >= m->nslot || m->slot[dir] == NULL || m->slot[dir]->type != FSG_TYPE_DIR)
        return -1;
    const struct opv *o = &m->slot[dir]->ops;
    size_t lo = 0, hi = o->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (o->v[mid].seq == seq)
            return (long)mid;
        if (o->v[mid].seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* ------------------------------------------------------------------------ */
/* Committing pending operations.                                          */

/* Extends need[] (a count of leading operations per slot) so that every
 * cross-directory rename counted on one side is counted on the other. */
static void close_up(const struct fsg_mem *m, size_t *need)
{
    bool changed = true;
    while (changed) {
        changed = false;
        for (size_t d = 0; d < m->nslot; d++) {
            for (size_t i = 0; i < need[d]; i++) {
                const struct op *p = &m->slot[d]->ops.v[i];
                if (p->partner == NONE)
                    continue;
                long j = op_find(m, p->partner, p->seq);
                if (j >= 0 && (size_t)j + 1 > need[p->partner]) {
                    need[p->partner] = (size_t)j + 1;
                    changed = true;
                }
            }
        }
    }
}

/* Shrinks keep[] so that no cross-directory rename is kept on one side
 * only. */
static void close_down(const struct fsg_mem *m, size_t *keep)
{
    bool changed = true;
    while (changed) {
        changed = false;
        for (size_t d = 0; d < m->nslot; d++) {
            for (size_t i = 0; i < keep[d]; i++) {
                const struct op *p = &m->slot[d]->ops.v[i];
                if (p->partner == NONE)
                    continue;
                long j = op_find(m, p->partner, p->seq);
                if (j >= 0 && (size_t)j >= keep[p->partner]) {
                    keep[d] = i;
                    changed = true;
                    break;
                }
            }
        }
    }
}

/* Applies the first k pending operations of directory x (room for them
 * reserved in its durable table) and takes them off the list. */
static void apply(struct fsg_mem *m, struct node *x, size_t k)
{
    for (size_t i = 0; i < k; i++) {
        struct op *p = &x->ops.v[i];
        switch (p->kind) {
        case OP_ADD:
            entv_put(m, &x->dur, p->name, p->ino);
            p->name = NULL;
            break;
        case OP_DEL:
            entv_del(m, &x->dur, p->name, strlen(p->name));
            break;
        case OP_MOVE:
            entv_del(m, &x->dur, p->name, strlen(p->name));
            entv_put(m, &x->dur, p->name2, p->ino);
            p->name2 = NULL;
            break;
        default:
            break;
        }
    }
    /* Release them: only nodes below this directory can be freed by
     * it, never the directory or its list. */
    for (size_t i = 0; i < k; i++) {
        free(x->ops.v[i].name);
        free(x->ops.v[i].name2);
        node_unref(m, x->ops.v[i].ino);
    }
    memmove(x->ops.v, x->ops.v + k, (x->ops.n - k) * sizeof *x->ops.v);
    x->ops.n -= k;
}

/* Applies the first count[d] pending operations of every directory d to
 * its durable table and takes them off the list. Fails, changing nothing,
 * only when out of memory. */
static int commit(struct fsg_mem *m, const size_t *count)
{
    for (size_t d = 0; d < m->nslot; d++)
        if (count[d] > 0 && m->slot[d] != NULL && entv_reserve(&m->slot[d]->dur, count[d]) < 0)
            return FSG_ERR_NOMEM;
    for (size_t d = 0; d < m->nslot; d++) {
        /* A directory whose last name went with an earlier one's
         * operations was freed with its list. */
        if (count[d] > 0 && m->slot[d] != NULL)
            apply(m, m->slot[d], count[d]);
    }
    return 0;
}

/* commit for one directory alone. */
static int commit_one(struct fsg_mem *m, uint32_t dir, size_t k)
{
    if (entv_reserve(&N(m, dir)->dur, k) < 0)
        return FSG_ERR_NOMEM;
    apply(m, N(m, dir), k);
    return 0;
}

/* syncdir: all of dir's pending operations, and what they depend on. */
static int commit_dir(struct fsg_mem *m, uint32_t dir)
{
    const struct opv *o = &N(m, dir)->ops;
    if (o->n == 0)
        return 0;
    /* Without a rename across directories, the commit is the directory's
     * own (and costs nothing per other directory, as the test's hands
     * building 100,000 files need). */
    size_t i = 0;
    while (i < o->n && o->v[i].partner == NONE)
        i++;
    if (i == o->n)
        return commit_one(m, dir, o->n);
    size_t *need = calloc(m->nslot, sizeof *need);
    if (need == NULL)
        return FSG_ERR_NOMEM;
    need[dir] = N(m, dir)->ops.n;
    close_up(m, need);
    int err = commit(m, need);
    free(need);
    return err;
}

static void sync_data(struct node *x)
{
    x->dperm = x->perm;
    x->dlen = x->len;
    x->nw = 0;
}

/* ------------------------------------------------------------------------ */
/* Paths.                                                                   */

int fsg_mem_path_ok(const char *path, int root_ok)
{
    if (path == NULL)
        return 0;
    if (path[0] == '\0')
        return root_ok != 0;
    for (const char *s = path;;) {
        size_t n = strcspn(s, "/");
        if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
            return 0;
        if (s[n] == '\0')
            return 1;
        s += n + 1;
    }
}

static bool path_ok(const char *path, bool root_ok)
{
    return fsg_mem_path_ok(path, root_ok) != 0;
}

static uint32_t lookup(const struct fsg_mem *m, uint32_t dir, const char *name, size_t len)
{
    const struct entv *e = &N(m, dir)->live;
    bool found;
    size_t i = entv_pos(e, name, len, &found);
    return found ? e->v[i].ino : NONE;
}

static int not_dir_error(int type)
{
    return type == FSG_TYPE_LINK ? FSG_ERR_LOOP : FSG_ERR_NOTDIR;
}

/* Finds the directory holding the last component of a valid, non-empty
 * path, never following a link. */
static int walk(const struct fsg_mem *m, const char *path, uint32_t *dir, const char **base,
                size_t *blen)
{
    uint32_t d = ROOT;
    const char *s = path;
    for (;;) {
        const char *slash = strchr(s, '/');
        if (slash == NULL) {
            *dir = d;
            *base = s;
            *blen = strlen(s);
            return 0;
        }
        uint32_t x = lookup(m, d, s, (size_t)(slash - s));
        if (x == NONE)
            return FSG_ERR_NOENT;
        if (N(m, x)->type != FSG_TYPE_DIR)
            return not_dir_error(N(m, x)->type);
        d = x;
        s = slash + 1;
    }
}

/* A checked path's parent directory and last component. */
static int locate(const struct fsg_mem *m, const char *path, uint32_t *dir, const char **base,
                  size_t *blen)
{
    if (!path_ok(path, false))
        return FSG_ERR_INVAL;
    return walk(m, path, dir, base, blen);
}

/* The node at path (valid; "" is the root). */
static int resolve(const struct fsg_mem *m, const char *path, uint32_t *out)
{
    if (path[0] == '\0') {
        *out = ROOT;
        return 0;
    }
    uint32_t dir;
    const char *base;
    size_t blen;
    int err = walk(m, path, &dir, &base, &blen);
    if (err < 0)
        return err;
    *out = lookup(m, dir, base, blen);
    return *out == NONE ? FSG_ERR_NOENT : 0;
}

/* ------------------------------------------------------------------------ */
/* Name operations shared by the port and the test's hands. Each checks    */
/* nothing but memory: the callers have checked the names.                 */

/* Names a new node of type as base in dir (absent there). */
static int do_add_new(struct fsg_mem *m, uint32_t dir, const char *base, size_t blen, int type,
                      uint32_t *out)
{
    struct node *d = N(m, dir);
    char *n1 = dupn(base, blen), *n2 = dupn(base, blen);
    uint32_t id;
    if (n1 == NULL || n2 == NULL || entv_reserve(&d->live, 1) < 0 ||
        opv_reserve(&d->ops, 1) < 0 || node_new(m, type, &id) < 0) {
        free(n1);
        free(n2);
        return FSG_ERR_NOMEM;
    }
    entv_put(m, &d->live, n1, id);
    op_push(m, dir, OP_ADD, n2, NULL, id, NONE, m->seq++);
    *out = id;
    return 0;
}

/* Removes the name base from dir (present there). */
static int do_del(struct fsg_mem *m, uint32_t dir, const char *base, size_t blen)
{
    struct node *d = N(m, dir);
    uint32_t ino = lookup(m, dir, base, blen);
    char *n = dupn(base, blen);
    if (n == NULL || opv_reserve(&d->ops, 1) < 0) {
        free(n);
        return FSG_ERR_NOMEM;
    }
    op_push(m, dir, OP_DEL, n, NULL, ino, NONE, m->seq++);
    entv_del(m, &d->live, base, blen);
    return 0;
}

/* Renames node ino from (sd, sb) to (dd, db), replacing a non-directory
 * there. */
static int do_rename(struct fsg_mem *m, uint32_t sd, const char *sb, size_t sbl, uint32_t dd,
                     const char *db, size_t dbl)
{
    struct node *s = N(m, sd), *d = N(m, dd);
    uint32_t ino = lookup(m, sd, sb, sbl);
    char *live = dupn(db, dbl), *a = dupn(sb, sbl), *b = dupn(db, dbl);
    if (live == NULL || a == NULL || b == NULL || entv_reserve(&d->live, 1) < 0 ||
        opv_reserve(&s->ops, 1) < 0 || opv_reserve(&d->ops, 1) < 0) {
        free(live);
        free(a);
        free(b);
        return FSG_ERR_NOMEM;
    }
    uint64_t seq = m->seq++;
    if (sd == dd) {
        op_push(m, sd, OP_MOVE, a, b, ino, NONE, seq);
    } else {
        op_push(m, sd, OP_DEL, a, NULL, ino, dd, seq);
        op_push(m, dd, OP_ADD, b, NULL, ino, sd, seq);
    }
    entv_put(m, &d->live, live, ino);
    entv_del(m, &s->live, sb, sbl);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The port.                                                                */

/* Bytes of file data held, for the capacity check: by every file the live
 * namespace names, and by every file a handle holds open (as a file
 * system frees a file's blocks when its last name and handle are gone). */
static size_t live_bytes(const struct fsg_mem *m, uint32_t dir)
{
    const struct entv *e = &N(m, dir)->live;
    size_t n = 0;
    for (size_t i = 0; i < e->n; i++) {
        const struct node *x = N(m, e->v[i].ino);
        if (x->type == FSG_TYPE_REG && x->opens == 0)
            n += x->len;
        else if (x->type == FSG_TYPE_DIR)
            n += live_bytes(m, e->v[i].ino);
    }
    return n;
}

static size_t data_bytes(const struct fsg_mem *m)
{
    size_t n = live_bytes(m, ROOT);
    /* Open files once each, named or not: a node counts at the first of
     * its handles in the list. */
    for (const struct handle *h = m->handles; h != NULL; h = h->next) {
        const struct handle *g = m->handles;
        while (g != h && g->node != h->node)
            g = g->next;
        if (g == h)
            n += h->node->len;
    }
    return n;
}

static int mem_open(void *ctx, const char *path, int mode, void **file)
{
    struct fsg_mem *m = ctx;
    uint32_t dir, ino;
    const char *base;
    size_t blen;

    if (!path_ok(path, false) || (mode != FSG_OPEN_READ && mode != FSG_OPEN_CREATE))
        return FSG_ERR_INVAL;
    int err = walk(m, path, &dir, &base, &blen);
    if (err < 0)
        return err;
    ino = lookup(m, dir, base, blen);
    if (mode == FSG_OPEN_READ) {
        if (ino == NONE)
            return FSG_ERR_NOENT;
        if (N(m, ino)->type == FSG_TYPE_DIR)
            return FSG_ERR_ISDIR;
        if (N(m, ino)->type == FSG_TYPE_LINK)
            return FSG_ERR_LOOP; /* as POSIX's O_NOFOLLOW */
        if (N(m, ino)->type != FSG_TYPE_REG)
            return FSG_ERR_NOTREG;
    } else if (ino != NONE) {
        return FSG_ERR_EXIST;
    }
    struct handle *h = calloc(1, sizeof *h);
    if (h == NULL)
        return FSG_ERR_NOMEM;
    if (mode == FSG_OPEN_CREATE) {
        err = do_add_new(m, dir, base, blen, FSG_TYPE_REG, &ino);
        if (err < 0) {
            free(h);
            return err;
        }
    }
    h->node = N(m, ino);
    h->id = ino;
    h->node->opens++;
    h->mode = mode;
    h->next = m->handles;
    if (m->handles != NULL)
        m->handles->prev = h;
    m->handles = h;
    *file = h;
    return 0;
}

static long mem_read(void *ctx, void *file, void *buf, size_t size)
{
    struct handle *h = file;

    (void)ctx;
    if (h->mode != FSG_OPEN_READ)
        return FSG_ERR_INVAL;
    struct node *x = h->node;
    size_t left = h->pos < x->len ? x->len - h->pos : 0;
    size_t n = size < left ? size : left;
    if (n > (size_t)LONG_MAX)
        n = (size_t)LONG_MAX;
    if (n > 0)
        memcpy(buf, x->data + h->pos, n);
    h->pos += n;
    return (long)n;
}

static int mem_write(void *ctx, void *file, const void *buf, size_t size)
{
    struct fsg_mem *m = ctx;
    struct handle *h = file;

    if (h->mode != FSG_OPEN_CREATE)
        return FSG_ERR_INVAL;
    struct node *x = h->node;
    if (size > 0) {
        if (size > SIZE_MAX - x->len - 1)
            return FSG_ERR_FBIG;
        if (m->capacity != 0 && (size > m->capacity || data_bytes(m) > m->capacity - size))
            return FSG_ERR_NOSPC;
        void *d = x->data, *w = x->wend;
        int err = grow(&d, &x->cap, x->len + size + 1, 1);
        x->data = d;
        if (err == 0)
            err = grow(&w, &x->wcap, x->nw + 1, sizeof *x->wend);
        x->wend = w;
        if (err < 0)
            return err;
        memcpy(x->data + x->len, buf, size);
        x->len += size;
        x->data[x->len] = '\0';
        x->wend[x->nw++] = x->len;
    }
    return 0;
}

static int mem_sync(void *ctx, void *file)
{
    struct handle *h = file;

    (void)ctx;
    sync_data(h->node);
    return 0;
}

/* Releases a handle (and the node if that was all that held it). */
static void handle_drop(struct fsg_mem *m, struct handle *h)
{
    struct node *x = h->node;
    if (h->prev != NULL)
        h->prev->next = h->next;
    else
        m->handles = h->next;
    if (h->next != NULL)
        h->next->prev = h->prev;
    uint32_t id = h->id;
    free(h);
    if (--x->opens == 0 && x->refs == 0)
        node_free(m, id);
}

static int mem_close(void *ctx, void *file)
{
    handle_drop(ctx, file);
    return 0;
}

/* The node at path (any type), for stat and the permission bits. */
static int node_at(const struct fsg_mem *m, const char *path, struct node **x)
{
    uint32_t ino;
    if (!path_ok(path, false))
        return FSG_ERR_INVAL;
    int err = resolve(m, path, &ino);
    if (err == 0)
        *x = N(m, ino);
    return err;
}

static int mem_stat(void *ctx, const char *path, struct fsg_stat *st)
{
    struct node *x = NULL;
    int err = node_at(ctx, path, &x);
    if (err < 0)
        return err;
    st->type = x->type;
    st->size = x->type == FSG_TYPE_REG ? (uint64_t)x->len
               : x->type == FSG_TYPE_LINK ? (uint64_t)strlen(x->target)
                                          : 0;
    return 0;
}

/* The regular file at path, for its permission bits. */
static int reg_node(const struct fsg_mem *m, const char *path, struct node **x)
{
    int err = node_at(m, path, x);
    return err < 0 ? err : (*x)->type == FSG_TYPE_REG ? 0 : FSG_ERR_NOTREG;
}

static int mem_getperm(void *ctx, const char *path, uint32_t *perm)
{
    struct node *x = NULL;
    int err = reg_node(ctx, path, &x);
    if (err == 0)
        *perm = x->perm;
    return err;
}

static int mem_setperm(void *ctx, void *file, uint32_t perm)
{
    struct handle *h = file;
    (void)ctx;
    if (h->mode != FSG_OPEN_CREATE)
        return FSG_ERR_INVAL;
    h->node->perm = perm & 07777u;
    return 0;
}

static int mem_remove(void *ctx, const char *path)
{
    struct fsg_mem *m = ctx;
    uint32_t dir, ino;
    const char *base;
    size_t blen;

    int err = locate(m, path, &dir, &base, &blen);
    if (err < 0)
        return err;
    ino = lookup(m, dir, base, blen);
    if (ino == NONE)
        return FSG_ERR_NOENT;
    if (N(m, ino)->type == FSG_TYPE_DIR)
        return FSG_ERR_ISDIR;
    return do_del(m, dir, base, blen);
}

static int mem_rename(void *ctx, const char *from, const char *to)
{
    struct fsg_mem *m = ctx;
    uint32_t sd, dd, src, dst;
    const char *sb, *db;
    size_t sbl, dbl;

    if (!path_ok(to, false))
        return FSG_ERR_INVAL;
    int err = locate(m, from, &sd, &sb, &sbl);
    if (err < 0)
        return err;
    src = lookup(m, sd, sb, sbl);
    if (src == NONE)
        return FSG_ERR_NOENT;
    err = locate(m, to, &dd, &db, &dbl);
    if (err < 0)
        return err;
    if (N(m, src)->type == FSG_TYPE_DIR)
        return FSG_ERR_NOTSUP;
    dst = lookup(m, dd, db, dbl);
    if (dst != NONE && N(m, dst)->type == FSG_TYPE_DIR)
        return FSG_ERR_ISDIR;
    if (dst == src)
        return 0; /* the same name: nothing to do */
    return do_rename(m, sd, sb, sbl, dd, db, dbl);
}

static int mem_mkdir(void *ctx, const char *path)
{
    struct fsg_mem *m = ctx;
    uint32_t dir, ino;
    const char *base;
    size_t blen;

    int err = locate(m, path, &dir, &base, &blen);
    if (err < 0)
        return err;
    if (lookup(m, dir, base, blen) != NONE)
        return FSG_ERR_EXIST;
    return do_add_new(m, dir, base, blen, FSG_TYPE_DIR, &ino);
}

/* The directory at path ("" the root), for syncdir and list. */
static int resolve_dir(const struct fsg_mem *m, const char *path, uint32_t *dir)
{
    if (!path_ok(path, true))
        return FSG_ERR_INVAL;
    int err = resolve(m, path, dir);
    if (err < 0)
        return err;
    int type = N(m, *dir)->type;
    return type == FSG_TYPE_DIR ? 0 : not_dir_error(type);
}

static int mem_syncdir(void *ctx, const char *path)
{
    struct fsg_mem *m = ctx;
    uint32_t dir;

    int err = resolve_dir(m, path, &dir);
    if (err < 0)
        return err;
    return commit_dir(m, dir);
}

static int mem_list(void *ctx, const char *path,
                    int (*fn)(void *arg, const char *name, int type), void *arg)
{
    struct fsg_mem *m = ctx;
    uint32_t dir;

    int err = resolve_dir(m, path, &dir);
    if (err < 0)
        return err;
    /* A snapshot, so that fn may change the directory. */
    const struct entv *e = &N(m, dir)->live;
    size_t n = e->n, bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += strlen(e->v[i].name) + 2;
    char *snap = malloc(bytes + 1);
    if (snap == NULL)
        return FSG_ERR_NOMEM;
    char *p = snap;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(e->v[i].name);
        *p++ = (char)N(m, e->v[i].ino)->type;
        memcpy(p, e->v[i].name, l + 1);
        p += l + 1;
    }
    int r = 0;
    p = snap;
    for (size_t i = 0; i < n && r == 0; i++) {
        int type = p[0];
        r = fn(arg, p + 1, type);
        p += strlen(p + 1) + 2;
    }
    free(snap);
    return r;
}

/* ------------------------------------------------------------------------ */
/* Life cycle.                                                              */

static void port_init(struct fsg_mem *m)
{
    struct fsg_port *p = &m->port;
    memset(p, 0, sizeof *p);
    p->version = FSG_PORT_VERSION;
    p->ctx = m;
    p->open = mem_open;
    p->read = mem_read;
    p->write = mem_write;
    p->sync = mem_sync;
    p->close = mem_close;
    p->stat = mem_stat;
    p->remove = mem_remove;
    p->rename = mem_rename;
    p->mkdir = mem_mkdir;
    p->syncdir = mem_syncdir;
    p->list = mem_list;
    p->getperm = mem_getperm;
    p->setperm = mem_setperm;
}

struct fsg_mem *fsg_mem_new(void)
{
    struct fsg_mem *m = calloc(1, sizeof *m);
    if (m == NULL)
        return NULL;
    port_init(m);
    uint32_t root;
    if (node_new(m, FSG_TYPE_DIR, &root) < 0) {
        free(m->slot);
        free(m);
        return NULL;
    }
    m->slot[root]->refs = 1; /* the root is always there */
    return m;
}

static void drop_handles(struct fsg_mem *m)
{
    while (m->handles != NULL)
        handle_drop(m, m->handles);
}

void fsg_mem_free(struct fsg_mem *m)
{
    if (m == NULL)
        return;
    for (struct handle *h = m->handles, *next; h != NULL; h = next) {
        next = h->next;
        free(h);
    }
    for (size_t i = 0; i < m->nslot; i++)
        node_destroy(m->slot[i]);
    free(m->slot);
    free(m);
}

const struct fsg_port *fsg_mem_port(struct fsg_mem *m)
{
    return &m->port;
}

static int entv_copy(struct entv *to, const struct entv *from)
{
    to->n = to->cap = 0;
    to->v = NULL;
    if (from->n == 0)
        return 0;
    to->v = malloc(from->n * sizeof *to->v);
    if (to->v == NULL)
        return FSG_ERR_NOMEM;
    to->cap = from->n;
    for (size_t i = 0; i < from->n; i++) {
        to->v[i].ino = from->v[i].ino;
        to->v[i].name = dupn(from->v[i].name, strlen(from->v[i].name));
        if (to->v[i].name == NULL)
            return FSG_ERR_NOMEM;
        to->n++;
    }
    return 0;
}

static struct node *node_clone(const struct node *x)
{
    struct node *y = calloc(1, sizeof *y);
    if (y == NULL)
        return NULL;
    y->type = x->type;
    y->refs = x->refs;
    if (x->data != NULL) {
        y->data = malloc(x->len + 1);
        if (y->data == NULL)
            goto fail;
        memcpy(y->data, x->data, x->len + 1);
        y->cap = x->len + 1;
    }
    y->len = x->len;
    y->dlen = x->dlen;
    y->perm = x->perm;
    y->dperm = x->dperm;
    if (x->nw > 0) {
        y->wend = malloc(x->nw * sizeof *y->wend);
        if (y->wend == NULL)
            goto fail;
        memcpy(y->wend, x->wend, x->nw * sizeof *y->wend);
        y->nw = y->wcap = x->nw;
    }
    if (entv_copy(&y->live, &x->live) < 0 || entv_copy(&y->dur, &x->dur) < 0)
        goto fail;
    if (x->ops.n > 0) {
        y->ops.v = calloc(x->ops.n, sizeof *y->ops.v);
        if (y->ops.v == NULL)
            goto fail;
        y->ops.cap = x->ops.n;
        for (size_t i = 0; i < x->ops.n; i++) {
            const struct op *p = &x->ops.v[i];
            struct op *q = &y->ops.v[i];
            *q = *p;
            q->name = p->name != NULL ? dupn(p->name, strlen(p->name)) : NULL;
            q->name2 = p->name2 != NULL ? dupn(p->name2, strlen(p->name2)) : NULL;
            y->ops.n++;
            if ((p->name != NULL && q->name == NULL) || (p->name2 != NULL && q->name2 == NULL))
                goto fail;
        }
    }
    if (x->target != NULL) {
        y->target = dupn(x->target, strlen(x->target));
        if (y->target == NULL)
            goto fail;
    }
    return y;
fail:
    node_destroy(y);
    return NULL;
}

struct fsg_mem *fsg_mem_clone(const struct fsg_mem *m)
{
    struct fsg_mem *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    port_init(c);
    c->slot = calloc(m->nslot != 0 ? m->nslot : 1, sizeof *c->slot);
    if (c->slot == NULL) {
        free(c);
        return NULL;
    }
    c->nslot = c->capslot = m->nslot;
    c->hint = m->nslot;
    c->seq = m->seq;
    c->capacity = m->capacity;
    for (size_t i = 0; i < m->nslot; i++) {
        const struct node *x = m->slot[i];
        /* A node only an open handle holds is gone for the copy. */
        if (x == NULL || x->refs == 0) {
            if (i < c->hint)
                c->hint = i;
            continue;
        }
        c->slot[i] = node_clone(x);
        if (c->slot[i] == NULL) {
            fsg_mem_free(c);
            return NULL;
        }
    }
    return c;
}

/* ------------------------------------------------------------------------ */
/* The test's hands.                                                        */

/* Finds or makes the directories above path's last component, each made
 * one durable at once. */
static int make_parents(struct fsg_mem *m, const char *path, uint32_t *dir, const char **base,
                        size_t *blen)
{
    uint32_t d = ROOT;
    const char *s = path;
    for (;;) {
        const char *slash = strchr(s, '/');
        if (slash == NULL) {
            *dir = d;
            *base = s;
            *blen = strlen(s);
            return 0;
        }
        size_t n = (size_t)(slash - s);
        uint32_t x = lookup(m, d, s, n);
        if (x == NONE) {
            int err = do_add_new(m, d, s, n, FSG_TYPE_DIR, &x);
            if (err == 0)
                err = commit_dir(m, d);
            if (err < 0)
                return err;
        } else if (N(m, x)->type != FSG_TYPE_DIR) {
            return not_dir_error(N(m, x)->type);
        }
        d = x;
        s = slash + 1;
    }
}

int fsg_mem_put(struct fsg_mem *m, const char *path, const void *data, size_t len)
{
    uint32_t dir, ino;
    const char *base;
    size_t blen;

    if (!path_ok(path, false))
        return FSG_ERR_INVAL;
    int err = make_parents(m, path, &dir, &base, &blen);
    if (err < 0)
        return err;
    uint32_t old = lookup(m, dir, base, blen);
    if (old != NONE && N(m, old)->type == FSG_TYPE_DIR)
        return FSG_ERR_ISDIR;
    uint32_t perm = old != NONE && N(m, old)->type == FSG_TYPE_REG ? N(m, old)->perm : 0644;
    unsigned char *buf = malloc(len + 1);
    if (buf == NULL)
        return FSG_ERR_NOMEM;
    if (len > 0)
        memcpy(buf, data, len);
    buf[len] = '\0';
    /* A new node takes the name: handles open on the old one keep it. */
    if (old != NONE) {
        err = do_del(m, dir, base, blen);
        if (err < 0) {
            free(buf);
            return err;
        }
    }
    err = do_add_new(m, dir, base, blen, FSG_TYPE_REG, &ino);
    if (err < 0) {
        free(buf);
        return err;
    }
    struct node *x = N(m, ino);
    x->data = buf;
    x->len = x->dlen = len;
    x->cap = len + 1;
    x->perm = x->dperm = perm;
    return commit_dir(m, dir);
}

const char *fsg_mem_get(const struct fsg_mem *m, const char *path, size_t *len)
{
    uint32_t ino;
    if (!path_ok(path, false) || resolve(m, path, &ino) < 0)
        return NULL;
    const struct node *x = N(m, ino);
    if (x->type != FSG_TYPE_REG)
        return NULL;
    if (len != NULL)
        *len = x->len;
    return x->data != NULL ? (const char *)x->data : "";
}

int fsg_mem_type(const struct fsg_mem *m, const char *path)
{
    uint32_t ino;
    if (!path_ok(path, true) || resolve(m, path, &ino) < 0)
        return 0;
    return N(m, ino)->type;
}

int fsg_mem_mkdir(struct fsg_mem *m, const char *path)
{
    uint32_t dir, ino;
    const char *base;
    size_t blen;

    if (!path_ok(path, false))
        return FSG_ERR_INVAL;
    int err = make_parents(m, path, &dir, &base, &blen);
    if (err < 0)
        return err;
    ino = lookup(m, dir, base, blen);
    if (ino != NONE)
        return N(m, ino)->type == FSG_TYPE_DIR ? 0 : FSG_ERR_EXIST;
    err = do_add_new(m, dir, base, blen, FSG_TYPE_DIR, &ino);
    return err < 0 ? err : commit_dir(m, dir);
}

/* A new node of type at path (absent), made durable: a link (target
 * given) or a special file. */
static int add_durable(struct fsg_mem *m, const char *path, int type, const char *target)
{
    uint32_t dir, ino;
    const char *base;
    size_t blen;

    if (!path_ok(path, false) || (type == FSG_TYPE_LINK && target == NULL))
        return FSG_ERR_INVAL;
    int err = make_parents(m, path, &dir, &base, &blen);
    if (err < 0)
        return err;
    if (lookup(m, dir, base, blen) != NONE)
        return FSG_ERR_EXIST;
    char *t = target != NULL ? dupn(target, strlen(target)) : NULL;
    if (target != NULL && t == NULL)
        return FSG_ERR_NOMEM;
    err = do_add_new(m, dir, base, blen, type, &ino);
    if (err < 0) {
        free(t);
        return err;
    }
    N(m, ino)->target = t;
    return commit_dir(m, dir);
}

int fsg_mem_symlink(struct fsg_mem *m, const char *path, const char *target)
{
    return add_durable(m, path, FSG_TYPE_LINK, target);
}

int fsg_mem_special(struct fsg_mem *m, const char *path)
{
    return add_durable(m, path, FSG_TYPE_OTHER, NULL);
}

const char *fsg_mem_link_target(const struct fsg_mem *m, const char *path)
{
    uint32_t ino;
    if (!path_ok(path, false) || resolve(m, path, &ino) < 0)
        return NULL;
    const struct node *x = N(m, ino);
    return x->type == FSG_TYPE_LINK ? x->target : NULL;
}

int fsg_mem_remove(struct fsg_mem *m, const char *path)
{
    uint32_t dir;
    const char *base;
    size_t blen;

    int err = locate(m, path, &dir, &base, &blen);
    if (err < 0)
        return err;
    if (lookup(m, dir, base, blen) == NONE)
        return FSG_ERR_NOENT;
    /* A directory goes with everything below it: its nodes are freed as
     * nothing names them any more. */
    err = do_del(m, dir, base, blen);
    return err < 0 ? err : commit_dir(m, dir);
}

static void each_dir(const struct fsg_mem *m, uint32_t dir, char **buf, size_t *cap,
                     size_t plen, void (*fn)(void *arg, const char *path, int type), void *arg)
{
    const struct entv *e = &N(m, dir)->live;
    for (size_t i = 0; i < e->n; i++) {
        size_t nl = strlen(e->v[i].name);
        size_t need = plen + 1 + nl + 1;
        if (need > *cap) {
            void *b = *buf;
            if (grow(&b, cap, need, 1) < 0)
                oom();
            *buf = b;
        }
        size_t at = plen;
        if (plen > 0)
            (*buf)[at++] = '/';
        memcpy(*buf + at, e->v[i].name, nl + 1);
        const struct node *x = N(m, e->v[i].ino);
        fn(arg, *buf, x->type);
        if (x->type == FSG_TYPE_DIR)
            each_dir(m, e->v[i].ino, buf, cap, at + nl, fn, arg);
    }
}

void fsg_mem_each(const struct fsg_mem *m, void (*fn)(void *arg, const char *path, int type),
                  void *arg)
{
    char *buf = NULL;
    size_t cap = 0;
    each_dir(m, ROOT, &buf, &cap, 0, fn, arg);
    free(buf);
}

/* ------------------------------------------------------------------------ */
/* Capacity and crashes.                                                   */

int fsg_mem_chmod(struct fsg_mem *m, const char *path, uint32_t perm)
{
    struct node *x = NULL;
    int err = reg_node(m, path, &x);
    if (err == 0)
        x->perm = x->dperm = perm & 07777u;
    return err;
}

long fsg_mem_perm(const struct fsg_mem *m, const char *path)
{
    struct node *x = NULL;
    return reg_node(m, path, &x) == 0 ? (long)x->perm : -1;
}

void fsg_mem_set_capacity(struct fsg_mem *m, size_t bytes)
{
    m->capacity = bytes;
}

void fsg_mem_crash(struct fsg_mem *m, uint64_t seed)
{
    uint64_t rng = seed;

    drop_handles(m);

    /* Names: a prefix of each directory's pending operations, renames
     * whole. */
    size_t *keep = calloc(m->nslot != 0 ? m->nslot : 1, sizeof *keep);
    if (keep == NULL)
        oom();
    for (size_t d = 0; d < m->nslot; d++) {
        const struct node *x = m->slot[d];
        if (x != NULL && x->type == FSG_TYPE_DIR && x->ops.n > 0)
            keep[d] = rnd_below(&rng, x->ops.n + 1);
    }
    close_down(m, keep);
    if (commit(m, keep) < 0)
        oom();
    free(keep);

    /* The rest never happened. Slots freed on the way read NULL. */
    for (size_t d = 0; d < m->nslot; d++) {
        struct node *x = m->slot[d];
        if (x == NULL || x->type != FSG_TYPE_DIR || x->ops.n == 0)
            continue;
        struct opv dropped = x->ops;
        memset(&x->ops, 0, sizeof x->ops);
        for (size_t i = 0; i < dropped.n; i++) {
            free(dropped.v[i].name);
            free(dropped.v[i].name2);
            node_unref(m, dropped.v[i].ino);
        }
        free(dropped.v);
    }
    for (size_t d = 0; d < m->nslot; d++) {
        struct node *x = m->slot[d];
        if (x == NULL || x->type != FSG_TYPE_DIR)
            continue;
        struct entv old = x->live, fresh;
        if (entv_copy(&fresh, &x->dur) < 0)
            oom();
        for (size_t i = 0; i < fresh.n; i++)
            node_ref(m, fresh.v[i].ino);
        x->live = fresh;
        for (size_t i = 0; i < old.n; i++) {
            free(old.v[i].name);
            node_unref(m, old.v[i].ino);
        }
        free(old.v);
    }

    /* Data: of each surviving file's unsynced writes, a prefix, the last
     * one possibly torn. */
    for (size_t i = 0; i < m->nslot; i++) {
        struct node *x = m->slot[i];
        if (x == NULL || x->type != FSG_TYPE_REG)
            continue;
        x->perm = x->dperm; /* a chmod since the last sync is lost */
        if (x->nw == 0)
            continue;
        size_t k = rnd_below(&rng, x->nw + 1), len = x->dlen;
        if (k > 0) {
            size_t start = k > 1 ? x->wend[k - 2] : x->dlen;
            size_t wlen = x->wend[k - 1] - start;
            len = x->wend[k - 1];
            if (wlen > 1 && rnd_below(&rng, 2) == 0)
                len = start + 1 + rnd_below(&rng, wlen - 1);
        }
        x->len = len;
        x->data[len] = '\0';
        sync_data(x);
    }
}

void fsg_mem_sync_all(struct fsg_mem *m)
{
    size_t *all = calloc(m->nslot != 0 ? m->nslot : 1, sizeof *all);
    if (all == NULL)
        oom();
    for (size_t d = 0; d < m->nslot; d++)
        if (m->slot[d] != NULL && m->slot[d]->type == FSG_TYPE_DIR)
            all[d] = m->slot[d]->ops.n;
    if (commit(m, all) < 0)
        oom();
    free(all);
    for (size_t i = 0; i < m->nslot; i++)
        if (m->slot[i] != NULL && m->slot[i]->type == FSG_TYPE_REG)
            sync_data(m->slot[i]);
}
