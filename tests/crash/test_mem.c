/*
 * test_mem.c -- tests of the crash-simulating in-memory port itself
 * (ports/mem/fsg_mem.h): the port's semantics, the crash model, clones,
 * capacity and the test's hands; and the power cut as the sweeps make it,
 * with the wrapper port (tests/support/faultport.h) failing the calls and
 * counting them.
 */
#include "faultport.h"
#include "fsg_mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int passed, failed;

#define CHECK(expr)                                                                    \
    do {                                                                               \
        if (expr) {                                                                    \
            passed++;                                                                  \
        } else {                                                                       \
            failed++;                                                                  \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #expr);   \
        }                                                                              \
    } while (0)

#define CHECK_EQ(a, b)                                                                 \
    do {                                                                               \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);                \
        if (check_a_ == check_b_) {                                                    \
            passed++;                                                                  \
        } else {                                                                       \
            failed++;                                                                  \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld != %lld)\n", __FILE__, \
                    __LINE__, #a, #b, check_a_, check_b_);                             \
        }                                                                              \
    } while (0)

#define CHECK_STR(m, path, want)                                                       \
    do {                                                                               \
        const char *check_g_ = fsg_mem_get((m), (path), NULL);                         \
        const char *check_w_ = (want);                                                 \
        if (check_g_ != NULL && strcmp(check_g_, check_w_) == 0) {                     \
            passed++;                                                                  \
        } else {                                                                       \
            failed++;                                                                  \
            fprintf(stderr, "%s:%d: CHECK failed: %s holds \"%s\", not \"%s\"\n",       \
                    __FILE__, __LINE__, (path), check_g_ ? check_g_ : "(none)",        \
                    check_w_);                                                         \
        }                                                                              \
    } while (0)

/* ---- helpers over the port ---- */

/* While wrapped is set, the helpers below reach it through the wrapper
 * port wrap. */
static struct fsg_mem *wrapped;
static struct faultport *wrap;

static const struct fsg_port *P(struct fsg_mem *m)
{
    return m == wrapped ? faultport_port(wrap) : fsg_mem_port(m);
}

static void wrap_begin(struct fsg_mem *m)
{
    wrapped = m;
    wrap = faultport_new(fsg_mem_port(m));
    if (wrap == NULL)
        abort();
}

static void wrap_end(void)
{
    faultport_free(wrap);
    wrap = NULL;
    wrapped = NULL;
}

static unsigned long ops_of(void)
{
    return faultport_ops(wrap)->total;
}

static int p_create(struct fsg_mem *m, const char *path, void **h)
{
    return P(m)->open(P(m)->ctx, path, FSG_OPEN_CREATE, h);
}

static int p_openr(struct fsg_mem *m, const char *path, void **h)
{
    return P(m)->open(P(m)->ctx, path, FSG_OPEN_READ, h);
}

static int p_write(struct fsg_mem *m, void *h, const char *s)
{
    return P(m)->write(P(m)->ctx, h, s, strlen(s));
}

static long p_read(struct fsg_mem *m, void *h, char *buf, size_t n)
{
    return P(m)->read(P(m)->ctx, h, buf, n);
}

static int p_sync(struct fsg_mem *m, void *h)
{
    return P(m)->sync(P(m)->ctx, h);
}

static int p_close(struct fsg_mem *m, void *h)
{
    return P(m)->close(P(m)->ctx, h);
}

static int p_stat(struct fsg_mem *m, const char *path, struct fsg_stat *st)
{
    return P(m)->stat(P(m)->ctx, path, st);
}

static int p_type(struct fsg_mem *m, const char *path)
{
    struct fsg_stat st;
    int err = p_stat(m, path, &st);
    return err < 0 ? err : st.type;
}

static int p_remove(struct fsg_mem *m, const char *path)
{
    return P(m)->remove(P(m)->ctx, path);
}

static int p_rename(struct fsg_mem *m, const char *from, const char *to)
{
    return P(m)->rename(P(m)->ctx, from, to);
}

static int p_mkdir(struct fsg_mem *m, const char *path)
{
    return P(m)->mkdir(P(m)->ctx, path);
}

static int p_syncdir(struct fsg_mem *m, const char *path)
{
    return P(m)->syncdir(P(m)->ctx, path);
}

/* Creates path through the port with the given writes (NULL-terminated),
 * synced or not, and closes it. Returns the first error. */
static int p_file(struct fsg_mem *m, const char *path, int sync, const char *w1,
                  const char *w2, const char *w3)
{
    void *h;
    int err = p_create(m, path, &h);
    if (err < 0)
        return err;
    const char *w[3] = {w1, w2, w3};
    for (int i = 0; i < 3 && err == 0; i++)
        if (w[i] != NULL)
            err = p_write(m, h, w[i]);
    if (err == 0 && sync)
        err = p_sync(m, h);
    int cerr = p_close(m, h);
    return err < 0 ? err : cerr;
}

/* ---- a description of the whole tree, for comparisons ---- */

struct dump {
    char *s;
    size_t len, cap;
    const struct fsg_mem *m;
};

static void dump_add(struct dump *d, const char *s, size_t n)
{
    if (d->len + n + 1 > d->cap) {
        d->cap = (d->len + n + 1) * 2;
        d->s = realloc(d->s, d->cap);
        if (d->s == NULL)
            abort();
    }
    memcpy(d->s + d->len, s, n);
    d->len += n;
    d->s[d->len] = '\0';
}

static void dump_fn(void *arg, const char *path, int type)
{
    struct dump *d = arg;
    char head[16];
    snprintf(head, sizeof head, "%d ", type);
    dump_add(d, head, strlen(head));
    dump_add(d, path, strlen(path));
    if (type == FSG_TYPE_REG) {
        size_t len;
        const char *data = fsg_mem_get(d->m, path, &len);
        dump_add(d, " = ", 3);
        dump_add(d, data, len);
    }
    dump_add(d, "\n", 1);
}

/* Caller frees. */
static char *dump(const struct fsg_mem *m)
{
    struct dump d = {NULL, 0, 0, m};
    dump_add(&d, "", 0);
    fsg_mem_each(m, dump_fn, &d);
    return d.s;
}

/* ---- the port's semantics ---- */

struct listed {
    char names[16][16];
    int types[16];
    int n;
    int stop_at;
};

static int list_fn(void *arg, const char *name, int type)
{
    struct listed *l = arg;
    if (l->n < 16) {
        snprintf(l->names[l->n], sizeof l->names[0], "%s", name);
        l->types[l->n] = type;
    }
    l->n++;
    return l->n == l->stop_at ? 77 : 0;
}

static void test_semantics(void)
{
    struct fsg_mem *m = fsg_mem_new();
    void *h, *h2;
    char buf[16];
    struct fsg_stat st;

    CHECK(m != NULL);
    CHECK_EQ(P(m)->version, FSG_PORT_VERSION);
    CHECK(P(m)->ctx == m);

    /* mkdir, exclusive create */
    CHECK_EQ(p_mkdir(m, "d"), 0);
    CHECK_EQ(p_mkdir(m, "d"), FSG_ERR_EXIST);
    CHECK_EQ(p_file(m, "d/f", 0, "hel", "lo", NULL), 0);
    CHECK_EQ(p_create(m, "d/f", &h), FSG_ERR_EXIST);
    CHECK_EQ(p_mkdir(m, "d/f"), FSG_ERR_EXIST);
    CHECK_EQ(p_create(m, "d", &h), FSG_ERR_EXIST);
    CHECK_EQ(fsg_mem_symlink(m, "lnk", "d"), 0);
    CHECK_EQ(p_create(m, "lnk", &h), FSG_ERR_EXIST);
    CHECK_EQ(p_mkdir(m, "lnk"), FSG_ERR_EXIST);

    /* open READ: regular files only */
    CHECK_EQ(p_openr(m, "lnk", &h), FSG_ERR_LOOP);
    CHECK_EQ(p_openr(m, "d", &h), FSG_ERR_ISDIR);
    CHECK_EQ(p_openr(m, "nope", &h), FSG_ERR_NOENT);
    CHECK_EQ(p_openr(m, "nope/x", &h), FSG_ERR_NOENT);

    /* never through a link or a file */
    CHECK_EQ(p_openr(m, "lnk/f", &h), FSG_ERR_LOOP);
    CHECK_EQ(p_create(m, "lnk/g", &h), FSG_ERR_LOOP);
    CHECK_EQ(p_stat(m, "lnk/f", &st), FSG_ERR_LOOP);
    CHECK_EQ(p_mkdir(m, "lnk/x"), FSG_ERR_LOOP);
    CHECK_EQ(p_remove(m, "lnk/f"), FSG_ERR_LOOP);
    CHECK_EQ(p_rename(m, "lnk/f", "g"), FSG_ERR_LOOP);
    CHECK_EQ(p_rename(m, "d/f", "lnk/g"), FSG_ERR_LOOP);
    CHECK_EQ(p_syncdir(m, "lnk"), FSG_ERR_LOOP);
    CHECK_EQ(P(m)->list(P(m)->ctx, "lnk", list_fn, &(struct listed){0}), FSG_ERR_LOOP);
    CHECK_EQ(p_openr(m, "d/f/x", &h), FSG_ERR_NOTDIR);
    CHECK_EQ(p_stat(m, "d/f/x", &st), FSG_ERR_NOTDIR);
    CHECK_EQ(p_syncdir(m, "d/f"), FSG_ERR_NOTDIR);
    CHECK_EQ(fsg_mem_type(m, "lnk/f"), 0);
    CHECK_STR(m, "d/f", "hello");

    /* bad paths */
    CHECK_EQ(p_stat(m, "", &st), FSG_ERR_INVAL);
    CHECK_EQ(p_stat(m, "d//f", &st), FSG_ERR_INVAL);
    CHECK_EQ(p_stat(m, "./d", &st), FSG_ERR_INVAL);
    CHECK_EQ(p_stat(m, "d/..", &st), FSG_ERR_INVAL);
    CHECK_EQ(p_stat(m, "d/", &st), FSG_ERR_INVAL);
    CHECK_EQ(p_syncdir(m, ""), 0);

    /* stat never follows */
    CHECK_EQ(p_stat(m, "lnk", &st), 0);
    CHECK_EQ(st.type, FSG_TYPE_LINK);
    CHECK_EQ(p_type(m, "d"), FSG_TYPE_DIR);
    CHECK_EQ(p_stat(m, "d/f", &st), 0);
    CHECK_EQ(st.type, FSG_TYPE_REG);
    CHECK_EQ(st.size, 5);
    CHECK_EQ(p_stat(m, "d/g", &st), FSG_ERR_NOENT);

    /* reading: up to size, 0 at end of file; handles keep their modes */
    CHECK_EQ(p_openr(m, "d/f", &h), 0);
    CHECK_EQ(p_read(m, h, buf, 3), 3);
    CHECK(memcmp(buf, "hel", 3) == 0);
    CHECK_EQ(p_read(m, h, buf, sizeof buf), 2);
    CHECK(memcmp(buf, "lo", 2) == 0);
    CHECK_EQ(p_read(m, h, buf, sizeof buf), 0);
    CHECK_EQ(p_read(m, h, buf, sizeof buf), 0);
    CHECK_EQ(p_write(m, h, "x"), FSG_ERR_INVAL);
    CHECK_EQ(p_close(m, h), 0);
    CHECK_EQ(p_create(m, "w", &h), 0);
    CHECK_EQ(p_read(m, h, buf, sizeof buf), FSG_ERR_INVAL);
    CHECK_EQ(P(m)->write(P(m)->ctx, h, "", 0), 0);
    CHECK_EQ(p_close(m, h), 0);
    CHECK_STR(m, "w", "");

    /* rename */
    CHECK_EQ(p_mkdir(m, "e"), 0);
    CHECK_EQ(p_rename(m, "d/f", "e"), FSG_ERR_ISDIR);
    CHECK_EQ(p_rename(m, "d", "x"), FSG_ERR_NOTSUP);
    CHECK_EQ(p_rename(m, "nope", "x"), FSG_ERR_NOENT);
    CHECK_EQ(p_rename(m, "d/f", "nope/x"), FSG_ERR_NOENT);
    CHECK_STR(m, "d/f", "hello");
    CHECK_EQ(p_rename(m, "d/f", "lnk"), 0);  /* replaces the link itself */
    CHECK_STR(m, "lnk", "hello");
    CHECK_EQ(fsg_mem_type(m, "d/f"), 0);
    CHECK_EQ(fsg_mem_type(m, "d"), FSG_TYPE_DIR);
    CHECK_EQ(p_file(m, "d/g", 1, "gg", NULL, NULL), 0);
    CHECK_EQ(p_rename(m, "d/g", "e/h"), 0);  /* across directories */
    CHECK_STR(m, "e/h", "gg");
    CHECK_EQ(p_rename(m, "lnk", "e/h"), 0);  /* replaces a file */
    CHECK_STR(m, "e/h", "hello");
    CHECK_EQ(fsg_mem_type(m, "lnk"), 0);
    CHECK_EQ(p_rename(m, "e/h", "e/h"), 0);  /* onto itself */
    CHECK_STR(m, "e/h", "hello");

    /* remove: files and links, never directories */
    CHECK_EQ(p_remove(m, "d"), FSG_ERR_ISDIR);
    CHECK_EQ(fsg_mem_type(m, "d"), FSG_TYPE_DIR);
    CHECK_EQ(fsg_mem_symlink(m, "l2", "anywhere"), 0);
    CHECK_EQ(p_stat(m, "l2", &st), 0);
    CHECK_EQ(st.size, 8);
    CHECK_EQ(p_remove(m, "l2"), 0);
    CHECK_EQ(p_type(m, "l2"), FSG_ERR_NOENT);
    CHECK_EQ(p_remove(m, "l2"), FSG_ERR_NOENT);
    CHECK_EQ(p_remove(m, "e/h"), 0);
    CHECK_EQ(fsg_mem_type(m, "e/h"), 0);

    /* list: byte order, types, early stop */
    CHECK_EQ(p_file(m, "b", 0, NULL, NULL, NULL), 0);
    CHECK_EQ(p_file(m, "a", 0, NULL, NULL, NULL), 0);
    CHECK_EQ(p_file(m, "C", 0, NULL, NULL, NULL), 0);
    CHECK_EQ(p_file(m, "aa", 0, NULL, NULL, NULL), 0);
    CHECK_EQ(fsg_mem_symlink(m, "z", "b"), 0);
    struct listed l = {{{0}}, {0}, 0, 0};
    CHECK_EQ(P(m)->list(P(m)->ctx, "", list_fn, &l), 0);
    const char *want[] = {"C", "a", "aa", "b", "d", "e", "w", "z"};
    const int wtype[] = {FSG_TYPE_REG, FSG_TYPE_REG, FSG_TYPE_REG, FSG_TYPE_REG,
                         FSG_TYPE_DIR, FSG_TYPE_DIR, FSG_TYPE_REG, FSG_TYPE_LINK};
    CHECK_EQ(l.n, 8);
    for (int i = 0; i < 8 && i < l.n; i++) {
        CHECK(strcmp(l.names[i], want[i]) == 0);
        CHECK_EQ(l.types[i], wtype[i]);
    }
    struct listed l2 = {{{0}}, {0}, 0, 2};
    CHECK_EQ(P(m)->list(P(m)->ctx, "", list_fn, &l2), 77);
    CHECK_EQ(l2.n, 2);
    struct listed l3 = {{{0}}, {0}, 0, 0};
    CHECK_EQ(P(m)->list(P(m)->ctx, "e", list_fn, &l3), 0);
    CHECK_EQ(l3.n, 0);
    CHECK_EQ(P(m)->list(P(m)->ctx, "nope", list_fn, &l3), FSG_ERR_NOENT);
    CHECK_EQ(P(m)->list(P(m)->ctx, "a", list_fn, &l3), FSG_ERR_NOTDIR);

    /* a removed name's node lives on through its handles */
    CHECK_EQ(p_openr(m, "a", &h), 0);      /* empty file */
    CHECK_EQ(p_file(m, "r", 1, "abc", NULL, NULL), 0);
    CHECK_EQ(p_openr(m, "r", &h2), 0);
    CHECK_EQ(p_remove(m, "r"), 0);
    CHECK_EQ(fsg_mem_type(m, "r"), 0);
    CHECK_EQ(p_read(m, h2, buf, sizeof buf), 3);
    CHECK(memcmp(buf, "abc", 3) == 0);
    CHECK_EQ(p_close(m, h2), 0);
    CHECK_EQ(p_create(m, "v", &h2), 0);
    CHECK_EQ(p_remove(m, "v"), 0);
    CHECK_EQ(p_write(m, h2, "still"), 0);
    CHECK_EQ(p_sync(m, h2), 0);
    CHECK_EQ(p_close(m, h2), 0);
    CHECK_EQ(fsg_mem_type(m, "v"), 0);
    CHECK_EQ(p_read(m, h, buf, sizeof buf), 0);
    CHECK_EQ(p_close(m, h), 0);

    /* a file created under a name a removed one had is a new file */
    CHECK_EQ(p_file(m, "r", 0, "new", NULL, NULL), 0);
    CHECK_STR(m, "r", "new");
    fsg_mem_free(m);
}

/* ---- the crash model ---- */

#define SEEDS 400

/* Unsynced writes: none, all, or a prefix with the last one torn. */
static void test_data(void)
{
    struct fsg_mem *base = fsg_mem_new();
    CHECK_EQ(p_file(base, "f", 0, "AAAA", "BBBB", "CCCC"), 0);
    CHECK_EQ(p_syncdir(base, ""), 0);
    const char *full = "AAAABBBBCCCC";
    int none = 0, whole = 0, torn = 0, prefix = 0, bad = 0;
    for (uint64_t seed = 0; seed < SEEDS; seed++) {
        struct fsg_mem *m = fsg_mem_clone(base);
        fsg_mem_crash(m, seed);
        size_t len;
        const char *got = fsg_mem_get(m, "f", &len);
        if (got == NULL || len > 12 || memcmp(got, full, len) != 0)
            bad++;
        else if (len == 0)
            none++;
        else if (len == 12)
            whole++;
        else if (len % 4 == 0)
            prefix++;
        else
            torn++;
        fsg_mem_free(m);
    }
    CHECK_EQ(bad, 0);
    CHECK(none > 0);
    CHECK(whole > 0);
    CHECK(torn > 0);
    CHECK(prefix > 0);
    fsg_mem_free(base);

    /* Synced data survives every crash; what was written after the sync
     * may not, but never eats into it. */
    base = fsg_mem_new();
    void *h;
    CHECK_EQ(p_file(base, "s", 1, "synced", " data", NULL), 0);
    CHECK_EQ(p_create(base, "t", &h), 0);
    CHECK_EQ(p_write(base, h, "kept"), 0);
    CHECK_EQ(p_sync(base, h), 0);
    CHECK_EQ(p_write(base, h, "+tail"), 0);
    CHECK_EQ(p_close(base, h), 0);
    CHECK_EQ(p_syncdir(base, ""), 0);
    int tails = 0, notails = 0;
    bad = 0;
    for (uint64_t seed = 0; seed < SEEDS; seed++) {
        struct fsg_mem *m = fsg_mem_clone(base);
        fsg_mem_crash(m, seed);
        const char *s = fsg_mem_get(m, "s", NULL);
        size_t len;
        const char *t = fsg_mem_get(m, "t", &len);
        if (s == NULL || strcmp(s, "synced data") != 0 || t == NULL || len < 4 ||
            memcmp(t, "kept+tail", len) != 0 || len > 9)
            bad++;
        else if (len == 4)
            notails++;
        else
            tails++;
        fsg_mem_free(m);
    }
    CHECK_EQ(bad, 0);
    CHECK(tails > 0);
    CHECK(notails > 0);
    fsg_mem_free(base);
}

/* A creation is durable only once its directory is synced. */
static void test_create(void)
{
    struct fsg_mem *base = fsg_mem_new();
    CHECK_EQ(fsg_mem_mkdir(base, "d"), 0);
    CHECK_EQ(p_file(base, "d/n", 1, "new", NULL, NULL), 0);
    int gone = 0, kept = 0, bad = 0;
    for (uint64_t seed = 0; seed < SEEDS; seed++) {
        struct fsg_mem *m = fsg_mem_clone(base);
        fsg_mem_crash(m, seed);
        int type = fsg_mem_type(m, "d/n");
        if (type == 0)
            gone++;
        else if (type == FSG_TYPE_REG && strcmp(fsg_mem_get(m, "d/n", NULL), "new") == 0)
            kept++;
        else
            bad++;
        fsg_mem_free(m);
    }
    CHECK_EQ(bad, 0);
    CHECK(gone > 0);
    CHECK(kept > 0);

    /* Syncing another directory does not help. */
    CHECK_EQ(p_syncdir(base, ""), 0);
    gone = 0;
    for (uint64_t seed = 0; seed < SEEDS; seed++) {
        struct fsg_mem *m = fsg_mem_clone(base);
        fsg_mem_crash(m, seed);
        gone += fsg_mem_type(m, "d/n") == 0;
        fsg_mem_free(m);
    }
    CHECK(gone > 0);

    CHECK_EQ(p_syncdir(base, "d"), 0);
    bad = 0;
    for (uint64_t seed = 0; seed < SEEDS; seed++) {
        struct fsg_mem *m = fsg_mem_clone(base);
        fsg_mem_crash(m, seed);
        const char *s = fsg_mem_get(m, "d/n", NULL);
        bad += s == NULL || strcmp(s, "new") != 0;
        fsg_mem_free(m);
    }
    CHECK_EQ(bad, 0);
    fsg_mem_free(base);

    /* A file created, written and never named durably leaves nothing. */
    base = fsg_mem_new();
    CHECK_EQ(p_file(base, "x", 0, "data", NULL, NULL), 0);
    CHECK_EQ(p_remove(base, "x"), 0);
    CHECK_EQ(p_syncdir(base, ""), 0);
    for (uint64_t seed = 0; seed < 20; seed++) {
        struct fsg_mem *m = fsg_mem_clone(base);
        fsg_mem_crash(m, seed);
        char *d = dump(m);
        CHECK(strcmp(d, "") == 0);
        free(d);
        fsg_mem_free(m);
    }
    fsg_mem_free(base);
}

/* A directory's operations survive as a prefix, in order. */
static void test_order(void)
{
    struct fsg_mem *base = fsg_mem_new();
    CHECK_EQ(p_file(base, "p1", 1, "1", NULL, NULL), 0);
    CHECK_EQ(p_file(base, "p2", 1, "2", NULL, NULL), 0);
    CHECK_EQ(p_file(base, "p3", 1, "3", NULL, NULL), 0);
    CHECK_EQ(p_remove(base, "p1"), 0);
    /* ops: +p1 +p2 +p3 -p1: the possible outcomes are {}, {p1}, {p1 p2},
     * {p1 p2 p3}, {p2 p3}. */
    int seen[5] = {0}, bad = 0;
    for (uint64_t seed = 0; seed < SEEDS; seed++) {
        struct fsg_mem *m = fsg_mem_clone(base);
        fsg_mem_crash(m, seed);
        int a = fsg_mem_type(m, "p1") != 0, b = fsg_mem_type(m, "p2") != 0,
            c = fsg_mem_type(m, "p3") != 0;
        if (!a && !b && !c)
            seen[0]++;
        else if (a && !b && !c)
            seen[1]++;
        else if (a && b && !c)
            seen[2]++;
        else if (a && b && c)
            seen[3]++;
        else if (!a && b && c)
            seen[4]++;
        else
            bad++;
        fsg_mem_free(m);
    }
    CHECK_EQ(bad, 0);
    for (int i = 0; i < 5; i++)
        CHECK(seen[i] > 0);
    fsg_mem_free(base);

    /* Directories are independent: all four combinations occur. */
    base = fsg_mem_new();
    CHECK_EQ(fsg_mem_mkdir(base, "a"), 0);
    CHECK_EQ(fsg_mem_mkdir(base, "b"), 0);
    CHECK_EQ(p_file(base, "a/f", 1, "f", NULL, NULL), 0);
    CHECK_EQ(p_file(base, "b/g", 1, "g", NULL, NULL), 0);
    int combo[4] = {0};
    for (uint64_t seed = 0; seed < SEEDS; seed++) {
        struct fsg_mem *m = fsg_mem_clone(base);
        fsg_mem_crash(m, seed);
        combo[(fsg_mem_type(m, "a/f") != 0) * 2 + (fsg_mem_type(m, "b/g") != 0)]++;
        fsg_mem_free(m);
    }
    for (int i = 0; i < 4; i++)
        CHECK(combo[i] > 0);
    fsg_mem_free(base);
}

/* The crash-safe replacement: a rename is all or nothing. */
static void test_rename(void)
{
    struct fsg_mem *base = fsg_mem_new();
    CHECK_EQ(fsg_mem_put(base, "t", "old", 3), 0);
    CHECK_EQ(p_file(base, "t.tmp", 1, "new content", " in two writes", NULL), 0);
    CHECK_EQ(p_rename(base, "t.tmp", "t"), 0);
    const char *nw = "new content in two writes";
    int olds = 0, news = 0, tmps = 0, bad = 0;
    for (uint64_t seed = 0; seed < 200; seed++) {
        struct fsg_mem *m = fsg_mem_clone(base);
        fsg_mem_crash(m, seed);
        const char *t = fsg_mem_get(m, "t", NULL);
        const char *tmp = fsg_mem_get(m, "t.tmp", NULL);
        if (t != NULL && strcmp(t, "old") == 0 && tmp == NULL)
            olds++;
        else if (t != NULL && strcmp(t, "old") == 0 && strcmp(tmp, nw) == 0)
            tmps++;
        else if (t != NULL && strcmp(t, nw) == 0 && tmp == NULL)
            news++;
        else
            bad++;
        fsg_mem_free(m);
    }
    CHECK_EQ(bad, 0);
    CHECK(olds > 0);
    CHECK(tmps > 0);
    CHECK(news > 0);

    CHECK_EQ(p_syncdir(base, ""), 0);
    bad = 0;
    for (uint64_t seed = 0; seed < 200; seed++) {
        struct fsg_mem *m = fsg_mem_clone(base);
        fsg_mem_crash(m, seed);
        const char *t = fsg_mem_get(m, "t", NULL);
        bad += t == NULL || strcmp(t, nw) != 0 || fsg_mem_type(m, "t.tmp") != 0;
        fsg_mem_free(m);
    }
    CHECK_EQ(bad, 0);
    fsg_mem_free(base);

    /* Across directories: the file is in exactly one place; syncing
     * either directory commits the rename in both. */
    base = fsg_mem_new();
    CHECK_EQ(fsg_mem_put(base, "a/x", "X", 1), 0);
    CHECK_EQ(fsg_mem_mkdir(base, "b"), 0);
    CHECK_EQ(p_file(base, "b/before", 1, "B", NULL, NULL), 0);
    CHECK_EQ(p_rename(base, "a/x", "b/y"), 0);
    CHECK_EQ(p_file(base, "a/after", 1, "A", NULL, NULL), 0);
    int at_a = 0, at_b = 0;
    bad = 0;
    for (uint64_t seed = 0; seed < 200; seed++) {
        struct fsg_mem *m = fsg_mem_clone(base);
        fsg_mem_crash(m, seed);
        int a = fsg_mem_type(m, "a/x") != 0, b = fsg_mem_type(m, "b/y") != 0;
        /* in order: b/before precedes the rename in b, a/after follows it in a */
        if (a == b || (b && fsg_mem_type(m, "b/before") == 0) ||
            (a && fsg_mem_type(m, "a/after") != 0))
            bad++;
        at_a += a;
        at_b += b;
        fsg_mem_free(m);
    }
    CHECK_EQ(bad, 0);
    CHECK(at_a > 0);
    CHECK(at_b > 0);
    for (int side = 0; side < 2; side++) {
        struct fsg_mem *s = fsg_mem_clone(base);
        CHECK_EQ(p_syncdir(s, side == 0 ? "a" : "b"), 0);
        bad = 0;
        for (uint64_t seed = 0; seed < 100; seed++) {
            struct fsg_mem *m = fsg_mem_clone(s);
            fsg_mem_crash(m, seed);
            const char *y = fsg_mem_get(m, "b/y", NULL);
            bad += fsg_mem_type(m, "a/x") != 0 || y == NULL || strcmp(y, "X") != 0 ||
                   fsg_mem_type(m, "b/before") == 0;
            if (side == 0)
                bad += fsg_mem_type(m, "a/after") == 0;
            fsg_mem_free(m);
        }
        CHECK_EQ(bad, 0);
        fsg_mem_free(s);
    }
    fsg_mem_free(base);
}

/* A new directory and what is in it. */
static void test_mkdir(void)
{
    struct fsg_mem *base = fsg_mem_new();
    CHECK_EQ(p_mkdir(base, "nd"), 0);
    CHECK_EQ(p_file(base, "nd/f", 1, "in", NULL, NULL), 0);
    CHECK_EQ(p_syncdir(base, "nd"), 0);
    int gone = 0, kept = 0, bad = 0;
    for (uint64_t seed = 0; seed < SEEDS; seed++) {
        struct fsg_mem *m = fsg_mem_clone(base);
        fsg_mem_crash(m, seed);
        int t = fsg_mem_type(m, "nd");
        const char *f = fsg_mem_get(m, "nd/f", NULL);
        if (t == 0 && f == NULL)
            gone++;
        else if (t == FSG_TYPE_DIR && f != NULL && strcmp(f, "in") == 0)
            kept++;
        else
            bad++;
        fsg_mem_free(m);
    }
    CHECK_EQ(bad, 0);
    CHECK(gone > 0);
    CHECK(kept > 0);
    CHECK_EQ(p_syncdir(base, ""), 0);
    for (uint64_t seed = 0; seed < 50; seed++) {
        struct fsg_mem *m = fsg_mem_clone(base);
        fsg_mem_crash(m, seed);
        CHECK_STR(m, "nd/f", "in");
        fsg_mem_free(m);
    }
    fsg_mem_free(base);
}

/* A busy, mostly volatile state. */
static struct fsg_mem *busy(void)
{
    struct fsg_mem *m = fsg_mem_new();
    void *h;
    fsg_mem_put(m, "keep", "durable", 7);
    fsg_mem_put(m, "sub/old", "old", 3);
    fsg_mem_symlink(m, "sub/link", "../keep");
    p_file(m, "one", 0, "w1", "w2", "w3");
    p_file(m, "sub/two", 1, "synced", NULL, NULL);
    p_rename(m, "sub/two", "sub/old");
    p_mkdir(m, "nd");
    p_file(m, "nd/three", 0, "abcdef", "ghijkl", NULL);
    p_syncdir(m, "nd");
    p_rename(m, "keep", "nd/kept");
    p_remove(m, "sub/link");
    p_create(m, "open", &h);
    p_write(m, h, "never closed");
    return m;
}

/* The same seed on the same state gives the same result; what a crash
 * leaves is durable. */
static void test_determinism(void)
{
    struct fsg_mem *base = busy();
    int differ = 0;
    char *prev = NULL;
    for (uint64_t seed = 0; seed < 60; seed++) {
        struct fsg_mem *a = fsg_mem_clone(base), *b = fsg_mem_clone(base);
        fsg_mem_crash(a, seed);
        fsg_mem_crash(b, seed);
        char *da = dump(a), *db = dump(b);
        CHECK(strcmp(da, db) == 0);
        if (prev != NULL && strcmp(prev, da) != 0)
            differ++;
        /* A second crash changes nothing: all that is left is durable. */
        fsg_mem_crash(a, seed + 1000);
        char *da2 = dump(a);
        CHECK(strcmp(da, da2) == 0);
        free(prev);
        prev = da;
        free(db);
        free(da2);
        fsg_mem_free(a);
        fsg_mem_free(b);
    }
    free(prev);
    CHECK(differ > 0);

    /* The original (with its open handle) crashes as its clone does. */
    struct fsg_mem *c = fsg_mem_clone(base);
    fsg_mem_crash(base, 7);
    fsg_mem_crash(c, 7);
    char *d1 = dump(base), *d2 = dump(c);
    CHECK(strcmp(d1, d2) == 0);
    free(d1);
    free(d2);
    fsg_mem_free(c);
    fsg_mem_free(base);
}

/* sync_all: everything as it is now survives any crash. */
static void test_sync_all(void)
{
    struct fsg_mem *m = busy();
    char *before = dump(m);
    fsg_mem_sync_all(m);
    char *now = dump(m);
    CHECK(strcmp(before, now) == 0);
    for (uint64_t seed = 0; seed < 50; seed++) {
        struct fsg_mem *c = fsg_mem_clone(m);
        fsg_mem_crash(c, seed);
        char *after = dump(c);
        CHECK(strcmp(before, after) == 0);
        free(after);
        fsg_mem_free(c);
    }
    free(before);
    free(now);
    fsg_mem_free(m);
}

/* ---- faults and counters ---- */

static void test_faults(void)
{
    struct fsg_mem *m = fsg_mem_new();
    void *h;
    struct fsg_stat st;
    const char *s_pc;

    CHECK_EQ(fsg_mem_put(m, "f", "data", 4), 0);
    wrap_begin(m);
    /* The power cut: the 3rd call and every later one fail with EIO. */
    faultport_fail_at(wrap, 3, FSG_ERR_IO, 1);
    CHECK_EQ(p_stat(m, "f", &st), 0);                    /* 1 */
    CHECK_EQ(p_create(m, "pc", &h), 0);                  /* 2 */
    CHECK_EQ(p_write(m, h, "lost"), FSG_ERR_IO);         /* 3: the power is gone */
    CHECK_EQ(p_mkdir(m, "dir"), FSG_ERR_IO);
    CHECK_EQ(p_remove(m, "f"), FSG_ERR_IO);
    CHECK_EQ(p_rename(m, "f", "g"), FSG_ERR_IO);
    CHECK_EQ(p_stat(m, "f", &st), FSG_ERR_IO);
    CHECK_EQ(p_syncdir(m, ""), FSG_ERR_IO);
    CHECK_EQ(p_sync(m, h), FSG_ERR_IO);
    void *h2 = NULL;
    CHECK_EQ(p_create(m, "q", &h2), FSG_ERR_IO);
    CHECK_EQ(p_close(m, h), FSG_ERR_IO);                 /* but the handle is freed */
    CHECK_EQ(ops_of(), 11);
    CHECK_EQ(faultport_mutations(wrap), 1);
    CHECK_EQ(faultport_open_handles(wrap), 0);
    CHECK_EQ(fsg_mem_type(m, "q"), 0);
    CHECK_EQ(fsg_mem_type(m, "dir"), 0);
    CHECK_EQ(fsg_mem_type(m, "g"), 0);
    CHECK_STR(m, "f", "data");
    CHECK_STR(m, "pc", "");
    faultport_fail_clear(wrap);
    fsg_mem_crash(m, 1);                                 /* power back */
    CHECK_EQ(p_stat(m, "f", &st), 0);
    s_pc = fsg_mem_get(m, "pc", NULL);                   /* never synced into "": */
    CHECK(s_pc == NULL || strcmp(s_pc, "") == 0);        /* there or not, and empty */

    /* fail_clear alone brings the power back */
    faultport_fail_at(wrap, 1, FSG_ERR_IO, 1);
    CHECK_EQ(p_stat(m, "f", &st), FSG_ERR_IO);
    CHECK_EQ(p_stat(m, "f", &st), FSG_ERR_IO);
    faultport_fail_clear(wrap);
    CHECK_EQ(p_stat(m, "f", &st), 0);

    /* Once: the n-th call only, with no effect */
    faultport_reset_ops(wrap);
    faultport_fail_at(wrap, 2, FSG_ERR_NOSPC, 0);
    CHECK_EQ(p_mkdir(m, "d1"), 0);
    CHECK_EQ(p_mkdir(m, "d2"), FSG_ERR_NOSPC);
    CHECK_EQ(p_mkdir(m, "d3"), 0);
    CHECK_EQ(p_mkdir(m, "d2"), 0);
    CHECK_EQ(ops_of(), 4);
    CHECK_EQ(faultport_mutations(wrap), 3);

    /* Persistent: from the n-th call on, until cleared */
    faultport_fail_at(wrap, 1, FSG_ERR_ACCES, 1);
    CHECK_EQ(p_mkdir(m, "d4"), FSG_ERR_ACCES);
    CHECK_EQ(p_openr(m, "f", &h), FSG_ERR_ACCES);
    CHECK_EQ(p_remove(m, "f"), FSG_ERR_ACCES);
    CHECK_EQ(fsg_mem_type(m, "d4"), 0);
    CHECK_STR(m, "f", "data");
    faultport_fail_clear(wrap);
    CHECK_EQ(p_mkdir(m, "d4"), 0);

    /* A fault on a close still releases the handle. */
    CHECK_EQ(p_openr(m, "f", &h), 0);
    faultport_fail_at(wrap, 1, FSG_ERR_IO, 0);
    CHECK_EQ(p_close(m, h), FSG_ERR_IO);
    CHECK_EQ(faultport_open_handles(wrap), 0);
    wrap_end();
    fsg_mem_free(m);
}

static void test_counters(void)
{
    struct fsg_mem *m = fsg_mem_new();
    void *h;
    char buf[8];
    struct fsg_stat st;

    CHECK_EQ(fsg_mem_put(m, "f", "x", 1), 0);            /* hands: not counted */
    CHECK_EQ(fsg_mem_mkdir(m, "d"), 0);
    wrap_begin(m);
    CHECK_EQ(ops_of(), 0);
    CHECK_EQ(faultport_mutations(wrap), 0);
    CHECK_EQ(p_create(m, "g", &h), 0);                   /* mutation */
    CHECK_EQ(p_write(m, h, "ab"), 0);                    /* mutation */
    CHECK_EQ(p_sync(m, h), 0);
    CHECK_EQ(p_close(m, h), 0);
    CHECK_EQ(p_openr(m, "g", &h), 0);
    CHECK_EQ(p_read(m, h, buf, sizeof buf), 2);
    CHECK_EQ(p_close(m, h), 0);
    CHECK_EQ(p_stat(m, "g", &st), 0);
    CHECK_EQ(p_rename(m, "g", "h"), 0);                  /* mutation */
    CHECK_EQ(p_remove(m, "h"), 0);                       /* mutation */
    CHECK_EQ(p_mkdir(m, "e"), 0);                        /* mutation */
    CHECK_EQ(p_syncdir(m, ""), 0);
    CHECK_EQ(P(m)->list(P(m)->ctx, "", list_fn, &(struct listed){0}), 0);
    CHECK_EQ(p_mkdir(m, "e"), FSG_ERR_EXIST);            /* failed: counted, no mutation */
    CHECK_EQ(p_remove(m, "nope"), FSG_ERR_NOENT);
    CHECK_EQ(p_create(m, "f", &h), FSG_ERR_EXIST);
    CHECK_EQ(ops_of(), 16);
    CHECK_EQ(faultport_mutations(wrap), 5);
    faultport_reset_ops(wrap);
    CHECK_EQ(ops_of(), 0);
    CHECK_EQ(faultport_mutations(wrap), 0);
    /* Counting goes on across a crash. */
    CHECK_EQ(p_mkdir(m, "k"), 0);
    fsg_mem_crash(m, 3);
    CHECK_EQ(ops_of(), 1);
    CHECK_EQ(faultport_mutations(wrap), 1);
    wrap_end();
    fsg_mem_free(m);
}

/* ---- clones and the test's hands ---- */

static void test_clone(void)
{
    struct fsg_mem *a = busy();
    p_mkdir(a, "made");
    struct fsg_mem *b = fsg_mem_clone(a);
    CHECK(b != NULL);
    CHECK_EQ(fsg_mem_type(b, "made"), FSG_TYPE_DIR);
    CHECK_EQ(fsg_mem_type(b, "nothing"), 0);
    CHECK(fsg_mem_port(b)->ctx == b);
    char *da = dump(a), *db = dump(b);
    CHECK(strcmp(da, db) == 0);

    /* changes to one do not reach the other */
    CHECK_EQ(fsg_mem_put(b, "sub/old", "changed", 7), 0);
    CHECK_EQ(p_file(b, "only-b", 0, "b", NULL, NULL), 0);
    CHECK_EQ(p_remove(a, "one"), 0);
    CHECK_STR(a, "sub/old", "synced");
    CHECK_EQ(fsg_mem_type(a, "only-b"), 0);
    CHECK_STR(b, "one", "w1w2w3");
    fsg_mem_crash(a, 5);
    CHECK_STR(b, "sub/old", "changed");
    fsg_mem_free(a);
    CHECK_STR(b, "only-b", "b");
    struct fsg_mem *c = fsg_mem_clone(b);
    fsg_mem_free(b);
    CHECK_STR(c, "sub/old", "changed");
    fsg_mem_free(c);
    free(da);
    free(db);

    /* a large file, cloned many times: cheap enough */
    struct fsg_mem *big = fsg_mem_new();
    char *data = malloc(200000);
    for (size_t i = 0; i < 200000; i++)
        data[i] = (char)('a' + i % 26);
    CHECK_EQ(fsg_mem_put(big, "usr/big.bin", data, 200000), 0);
    for (int i = 0; i < 200; i++) {
        struct fsg_mem *k = fsg_mem_clone(big);
        size_t len;
        const char *got = fsg_mem_get(k, "usr/big.bin", &len);
        if (i == 0)
            CHECK(len == 200000 && memcmp(got, data, len) == 0);
        fsg_mem_free(k);
    }
    free(data);
    fsg_mem_free(big);
}

struct walked {
    char text[512];
};

static void walk_fn(void *arg, const char *path, int type)
{
    struct walked *w = arg;
    size_t n = strlen(w->text);
    snprintf(w->text + n, sizeof w->text - n, "%d:%s ", type, path);
}

static void test_hands(void)
{
    struct fsg_mem *m = fsg_mem_new();
    void *h;
    char buf[8];

    wrap_begin(m); /* to count what the port sees */
    CHECK_EQ(fsg_mem_type(m, ""), FSG_TYPE_DIR);
    CHECK_EQ(fsg_mem_put(m, "a/b/c.txt", "abc", 3), 0);     /* with parents */
    CHECK_EQ(fsg_mem_type(m, "a"), FSG_TYPE_DIR);
    CHECK_EQ(fsg_mem_type(m, "a/b"), FSG_TYPE_DIR);
    size_t len = 99;
    const char *s = fsg_mem_get(m, "a/b/c.txt", &len);
    CHECK(s != NULL && len == 3 && s[3] == '\0' && strcmp(s, "abc") == 0);
    CHECK(fsg_mem_get(m, "a/b", NULL) == NULL);
    CHECK(fsg_mem_get(m, "nope", NULL) == NULL);
    CHECK_EQ(fsg_mem_put(m, "a/b", "x", 1), FSG_ERR_ISDIR);
    CHECK_EQ(fsg_mem_put(m, "a/b/c.txt/d", "x", 1), FSG_ERR_NOTDIR);
    CHECK_EQ(fsg_mem_put(m, "a//x", "x", 1), FSG_ERR_INVAL);
    CHECK_EQ(fsg_mem_symlink(m, "ln", "a"), 0);
    CHECK_EQ(fsg_mem_put(m, "ln/x", "x", 1), FSG_ERR_LOOP);
    CHECK_EQ(fsg_mem_symlink(m, "ln", "b"), FSG_ERR_EXIST);
    CHECK_EQ(fsg_mem_put(m, "ln", "now a file", 10), 0);    /* replaces the link */
    CHECK_EQ(fsg_mem_type(m, "ln"), FSG_TYPE_REG);

    /* put replaces; a handle on the old file keeps the old content */
    CHECK_EQ(p_openr(m, "a/b/c.txt", &h), 0);
    CHECK_EQ(fsg_mem_put(m, "a/b/c.txt", "new", 3), 0);
    CHECK_STR(m, "a/b/c.txt", "new");
    CHECK_EQ(p_read(m, h, buf, sizeof buf), 3);
    CHECK(memcmp(buf, "abc", 3) == 0);
    CHECK_EQ(p_close(m, h), 0);

    CHECK_EQ(fsg_mem_mkdir(m, "x/y/z"), 0);
    CHECK_EQ(fsg_mem_mkdir(m, "x/y"), 0);                   /* exists already */
    CHECK_EQ(fsg_mem_mkdir(m, "ln"), FSG_ERR_EXIST);
    CHECK_EQ(fsg_mem_put(m, "x/y/z/f", "", 0), 0);
    CHECK_STR(m, "x/y/z/f", "");

    struct walked w = {""};
    fsg_mem_each(m, walk_fn, &w);
    CHECK(strcmp(w.text, "2:a 2:a/b 1:a/b/c.txt 1:ln 2:x 2:x/y 2:x/y/z 1:x/y/z/f ") == 0);

    /* the hands act durably: a crash keeps all of it */
    char *before = dump(m);
    for (uint64_t seed = 0; seed < 30; seed++) {
        struct fsg_mem *c = fsg_mem_clone(m);
        fsg_mem_crash(c, seed);
        char *after = dump(c);
        CHECK(strcmp(before, after) == 0);
        free(after);
        fsg_mem_free(c);
    }
    free(before);

    CHECK_EQ(fsg_mem_remove(m, "x"), 0);                     /* with its content */
    CHECK_EQ(fsg_mem_type(m, "x"), 0);
    CHECK_EQ(fsg_mem_type(m, "x/y/z/f"), 0);
    CHECK_EQ(fsg_mem_remove(m, "x"), FSG_ERR_NOENT);
    CHECK_EQ(fsg_mem_remove(m, "ln"), 0);
    fsg_mem_crash(m, 9);
    w.text[0] = '\0';
    fsg_mem_each(m, walk_fn, &w);
    CHECK(strcmp(w.text, "2:a 2:a/b 1:a/b/c.txt ") == 0);
    CHECK_EQ(ops_of(), 3); /* the hands are not port calls */
    wrap_end();
    fsg_mem_free(m);
}

/* Special files and link targets; the capacity of file data. */
static void test_special_capacity(void)
{
    struct fsg_mem *m = fsg_mem_new();
    void *h;
    struct fsg_stat st;

    CHECK_EQ(fsg_mem_special(m, "dev/fifo"), 0);                  /* with parents */
    CHECK_EQ(fsg_mem_type(m, "dev/fifo"), FSG_TYPE_OTHER);
    CHECK_EQ(p_stat(m, "dev/fifo", &st), 0);
    CHECK_EQ(st.type, FSG_TYPE_OTHER);
    CHECK_EQ(p_openr(m, "dev/fifo", &h), FSG_ERR_NOTREG);
    CHECK_EQ(fsg_mem_special(m, "dev/fifo"), FSG_ERR_EXIST);
    CHECK_EQ(fsg_mem_special(m, "a/../b"), FSG_ERR_INVAL);
    CHECK_EQ(fsg_mem_symlink(m, "ln", "dev/fifo"), 0);
    CHECK(fsg_mem_link_target(m, "ln") != NULL && strcmp(fsg_mem_link_target(m, "ln"), "dev/fifo") == 0);
    CHECK(fsg_mem_link_target(m, "dev/fifo") == NULL);
    CHECK(fsg_mem_link_target(m, "nope") == NULL);
    CHECK_EQ(p_openr(m, "ln", &h), FSG_ERR_LOOP);

    /* Capacity: file data only, what is named or open. */
    CHECK_EQ(fsg_mem_put(m, "f", "12345", 5), 0);
    fsg_mem_set_capacity(m, 8);
    CHECK_EQ(p_create(m, "g", &h), 0);
    CHECK_EQ(p_write(m, h, "abc"), 0);                            /* 8 of 8 */
    CHECK_EQ(p_write(m, h, "d"), FSG_ERR_NOSPC);
    CHECK_EQ(p_write(m, h, ""), 0);                               /* nothing grows */
    CHECK_STR(m, "g", "abc");
    CHECK_EQ(p_close(m, h), 0);
    CHECK_EQ(p_remove(m, "f"), 0);                                /* frees 5 at once */
    CHECK_EQ(p_create(m, "k", &h), 0);
    CHECK_EQ(p_write(m, h, "12345"), 0);
    CHECK_EQ(p_write(m, h, "6"), FSG_ERR_NOSPC);
    CHECK_EQ(p_close(m, h), 0);
    /* A file open for reading keeps its data counted after its name goes. */
    CHECK_EQ(p_openr(m, "k", &h), 0);
    CHECK_EQ(p_remove(m, "k"), 0);
    void *h2;
    CHECK_EQ(p_create(m, "n", &h2), 0);
    CHECK_EQ(p_write(m, h2, "x"), FSG_ERR_NOSPC);
    CHECK_EQ(p_close(m, h), 0);
    CHECK_EQ(p_write(m, h2, "x"), 0);
    CHECK_EQ(p_close(m, h2), 0);
    struct fsg_mem *c = fsg_mem_clone(m);                         /* the clone keeps it */
    CHECK_EQ(p_create(c, "o", &h), 0);
    CHECK_EQ(p_write(c, h, "toolong"), FSG_ERR_NOSPC);
    CHECK_EQ(p_close(c, h), 0);
    fsg_mem_free(c);
    fsg_mem_set_capacity(m, 0);
    CHECK_EQ(p_create(m, "o", &h), 0);
    CHECK_EQ(p_write(m, h, "no limit now"), 0);
    CHECK_EQ(p_close(m, h), 0);
    CHECK_EQ(fsg_mem_path_ok("", 1), 1);
    CHECK_EQ(fsg_mem_path_ok("", 0), 0);
    CHECK_EQ(fsg_mem_path_ok("a/./b", 0), 0);
    CHECK_EQ(fsg_mem_path_ok("a/b", 0), 1);
    fsg_mem_free(m);
}

/* A crash drops open handles; nothing leaks (checked by the sanitizers). */
static void test_crash_handles(void)
{
    struct fsg_mem *m = fsg_mem_new();
    void *h1, *h2, *h3;
    CHECK_EQ(fsg_mem_put(m, "f", "content", 7), 0);
    CHECK_EQ(p_openr(m, "f", &h1), 0);
    CHECK_EQ(p_create(m, "g", &h2), 0);
    CHECK_EQ(p_write(m, h2, "volatile"), 0);
    CHECK_EQ(p_openr(m, "f", &h3), 0);
    CHECK_EQ(p_remove(m, "f"), 0);
    fsg_mem_crash(m, 0);
    size_t len;
    const char *g = fsg_mem_get(m, "g", &len);
    CHECK(g == NULL || (len <= 8 && memcmp(g, "volatile", len) == 0));
    CHECK_STR(m, "f", "content");
    CHECK_EQ(p_openr(m, "f", &h1), 0);
    CHECK_EQ(p_create(m, "g2", &h2), 0);
    fsg_mem_free(m); /* with handles open */
}

int main(void)
{
    test_semantics();
    test_data();
    test_create();
    test_order();
    test_rename();
    test_mkdir();
    test_determinism();
    test_sync_all();
    test_faults();
    test_counters();
    test_clone();
    test_hands();
    test_special_capacity();
    test_crash_handles();
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
