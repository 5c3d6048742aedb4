/*
 * test_pack.c -- fsg_pack, the factory step: a project tree becomes the
 * user partition (every file, checksum.json) and the backup partition
 * (usr/NAME copies of the protected files, the same checksum.json,
 * backup_restore.json). Outputs are checked byte for byte against what the
 * test computes on its own from the content it put in.
 */
#include "check.h"
#include "memport.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Helpers.                                                                 */

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    memcpy(d, s, n);
    return d;
}

/* Events, with every field pack sets (memport's fixture keeps fewer). */

/* A file of the project tree. */
struct tfile {
    const char *path;         /* port path in the tree */
    const unsigned char *data;
    size_t len;
    int protect;              /* expected protection */
};

static unsigned char *pattern(size_t len, uint32_t seed)
{
    unsigned char *p = malloc(len ? len : 1);
    mp_fill(p, len, seed);
    return p;
}

static uint32_t crc_of(const void *data, size_t len)
{
    return fsg_crc32(FSG_CRC_INIT, data, len);
}

static int cmp_tfile(const void *a, const void *b)
{
    return strcmp(((const struct tfile *)a)->path, ((const struct tfile *)b)->path);
}

static void append(char **s, size_t *len, size_t *cap, const char *t)
{
    size_t n = strlen(t);
    if (*len + n + 1 > *cap) {
        while (*len + n + 1 > *cap)
            *cap = *cap ? *cap * 2 : 256;
        *s = realloc(*s, *cap);
    }
    memcpy(*s + *len, t, n + 1);
    *len += n;
}

/* checksum.json as fsguard lays it out, built independently: protected
 * files sorted by device name ("/usr/" + path sorts as path does), one
 * entry per line, hash as Python's hex() of the seeded CRC. */
static char *expected_manifest(const struct tfile *files, size_t n)
{
    struct tfile *v = malloc((n ? n : 1) * sizeof *v);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (files[i].protect)
            v[k++] = files[i];
    qsort(v, k, sizeof *v, cmp_tfile);
    char *s = NULL;
    size_t len = 0, cap = 0;
    append(&s, &len, &cap, "[");
    for (size_t i = 0; i < k; i++) {
        char line[1200], hash[16];
        append(&s, &len, &cap, i == 0 ? "\n" : ",\n");
        append(&s, &len, &cap, "{\"name\":\"/usr/");
        /* Only '"' needs escaping in a valid name. */
        for (const char *p = v[i].path; *p; p++) {
            char ch[3] = {*p, 0, 0};
            if (*p == '"') {
                ch[0] = '\\';
                ch[1] = '"';
            }
            append(&s, &len, &cap, ch);
        }
        snprintf(hash, sizeof hash, "0x%x", (unsigned)crc_of(v[i].data, v[i].len));
        snprintf(line, sizeof line, "\",\"crc32\":\"%s\"}", hash);
        append(&s, &len, &cap, line);
    }
    append(&s, &len, &cap, k ? "\n]\n" : "]\n");
    free(v);
    return s;
}

struct ports {
    struct memport *src, *usr, *bak;
};

static void ports_new(struct ports *p)
{
    p->src = memport_new();
    p->usr = memport_new();
    p->bak = memport_new();
}

static void ports_free(struct ports *p)
{
    memport_free(p->src);
    memport_free(p->usr);
    memport_free(p->bak);
}

static void outputs_renew(struct ports *p)
{
    memport_free(p->usr);
    memport_free(p->bak);
    p->usr = memport_new();
    p->bak = memport_new();
}

static void reset_all(struct ports *p)
{
    memport_reset_ops(p->src);
    memport_reset_ops(p->usr);
    memport_reset_ops(p->bak);
}

static void opts_init(struct fsg_pack *o, struct ports *p, struct rec *r)
{
    memset(o, 0, sizeof *o);
    o->src = memport_port(p->src);
    o->usr = memport_port(p->usr);
    o->bak = memport_port(p->bak);
    o->enable = 1;
    o->on_event = rec_on_event;
    o->event_ctx = r;
}

static void put_files(struct memport *mp, const struct tfile *f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        CHECK_EQ_INT(memport_put(mp, f[i].path, f[i].data, f[i].len), 0);
}

static int protect_not_log(void *ctx, const char *name)
{
    (void)ctx;
    size_t n = strlen(name);
    return !(n >= 4 && strcmp(name + n - 4, ".log") == 0);
}

/* ------------------------------------------------------------------------ */
/* The reference tree: nested directories, an empty file, an empty
 * directory, a file larger than any buffer (> 64 KiB), UTF-8 names, a
 * quote in a name, and a nested checksum.json / backup_restore.json. */

#define BIG_LEN (70u * 1024u + 17u)

static unsigned char *big_data;
static unsigned char *mid_data;

static struct tfile tree[] = {
    {"main.py", (const unsigned char *)"import lib.util\nprint('hi')\n", 28, 1},
    {"lib/util.py", (const unsigned char *)"def f():\n    return 1\n", 23, 1},
    {"lib/sub/deep.py", (const unsigned char *)"X = 42\n", 7, 1},
    {"empty.txt", (const unsigned char *)"", 0, 1},
    {"big.bin", NULL, BIG_LEN, 1},
    {"mid.dat", NULL, 5000, 1},
    {"\xe6\x95\xb0\xe6\x8d\xae/\xe9\x85\x8d\xe7\xbd\xae.json", /* 数据/配置.json */
     (const unsigned char *)"{\"apn\": \"cmnet\"}\n", 17, 1},
    {"caf\xc3\xa9.txt", (const unsigned char *)"caf\xc3\xa9\n", 6, 1},
    {"q\"uote.txt", (const unsigned char *)"quoted\n", 7, 1},
    {"cfg/checksum.json", (const unsigned char *)"[]\n", 3, 1},
    {"cfg/backup_restore.json", (const unsigned char *)"{\"enable\": 0}\n", 14, 1},
    {"a.py", (const unsigned char *)"a\n", 2, 1},
    {"a/b.py", (const unsigned char *)"ab\n", 3, 1},
    {"run.log", (const unsigned char *)"log line\n", 9, 0},
    {"lib/trace.log", (const unsigned char *)"more log\n", 9, 0},
};
#define NTREE (sizeof tree / sizeof tree[0])
/* Directories of the tree: lib, lib/sub, 数据, cfg, a; then "empty" and
 * "empty/dir", which holds nothing. */
#define TREE_DIRS 5
#define EMPTY_DIR "empty/dir"
#define TREE_DIRS_WITH_EMPTY (TREE_DIRS + 2)

static void tree_init(void)
{
    big_data = pattern(BIG_LEN, 7);
    mid_data = pattern(5000, 99);
    for (size_t i = 0; i < NTREE; i++) {
        if (strcmp(tree[i].path, "big.bin") == 0)
            tree[i].data = big_data;
        if (strcmp(tree[i].path, "mid.dat") == 0)
            tree[i].data = mid_data;
    }
}

/* Puts the tree into src in order (or reversed), with the empty directory. */
static void tree_put(struct memport *src, int reversed)
{
    if (reversed)
        CHECK_EQ_INT(memport_mkdir(src, EMPTY_DIR), 0);
    for (size_t k = 0; k < NTREE; k++) {
        size_t i = reversed ? NTREE - 1 - k : k;
        CHECK_EQ_INT(memport_put(src, tree[i].path, tree[i].data, tree[i].len), 0);
    }
    if (!reversed)
        CHECK_EQ_INT(memport_mkdir(src, EMPTY_DIR), 0);
}

static uint64_t tree_bytes(int protected_only)
{
    uint64_t n = 0;
    for (size_t i = 0; i < NTREE; i++)
        if (!protected_only || tree[i].protect)
            n += tree[i].len;
    return n;
}

/* Bytes of all regular files in a partition, read from memport's dump
 * ("F path size crc" lines). */
static uint64_t partition_bytes(const struct memport *mp)
{
    char *d = memport_dump(mp);
    uint64_t total = 0;
    for (char *line = d, *nl; *line != '\0'; line = nl + 1) {
        nl = strchr(line, '\n');
        *nl = '\0';
        if (line[0] != 'F')
            continue;
        *strrchr(line, ' ') = '\0';
        total += strtoull(strrchr(line, ' ') + 1, NULL, 10);
    }
    free(d);
    return total;
}

static void check_no_writes(struct memport *mp)
{
    CHECK_EQ_INT(memport_mutating_calls(mp), 0);
}

/* ------------------------------------------------------------------------ */

static void test_pack_tree(void)
{
    struct ports p;
    struct rec r = {0};
    struct fsg_pack o;
    struct fsg_pack_report rep;

    ports_new(&p);
    tree_put(p.src, 0);
    opts_init(&o, &p, &r);
    o.protect = protect_not_log;
    reset_all(&p);
    int ret = fsg_pack(&o, &rep);
    CHECK_EQ_INT(ret, 0);

    /* usr: every file, byte for byte. */
    for (size_t i = 0; i < NTREE; i++) {
        size_t len = 0;
        const char *got = memport_get(p.usr, tree[i].path, &len);
        CHECK(got != NULL);
        if (got == NULL) {
            fprintf(stderr, "  missing in usr: %s\n", tree[i].path);
            continue;
        }
        CHECK_EQ_INT(len, tree[i].len);
        CHECK(len == tree[i].len && memcmp(got, tree[i].data, len) == 0);
    }
    /* bak: usr/NAME for protected files only; nothing at their plain path. */
    for (size_t i = 0; i < NTREE; i++) {
        char bpath[1024];
        snprintf(bpath, sizeof bpath, "usr/%s", tree[i].path);
        size_t len = 0;
        const char *got = memport_get(p.bak, bpath, &len);
        if (tree[i].protect) {
            CHECK(got != NULL && len == tree[i].len && memcmp(got, tree[i].data, len) == 0);
        } else {
            CHECK(got == NULL);
            CHECK_EQ_INT(memport_exists(p.bak, bpath), 0);
        }
        CHECK_EQ_INT(memport_exists(p.bak, tree[i].path), 0);
    }
    /* The empty directory is in usr. */
    CHECK_EQ_INT(memport_exists(p.usr, "empty"), FSG_TYPE_DIR);
    CHECK_EQ_INT(memport_exists(p.usr, EMPTY_DIR), FSG_TYPE_DIR);

    /* checksum.json: identical in both, sorted, fsguard's layout. */
    char *want = expected_manifest(tree, NTREE);
    size_t ulen = 0, blen = 0;
    const char *um = memport_get(p.usr, "checksum.json", &ulen);
    const char *bm = memport_get(p.bak, "checksum.json", &blen);
    CHECK_EQ_STR(um, want);
    CHECK_EQ_STR(bm, want);
    CHECK_EQ_INT(ulen, strlen(want));
    /* Spot check against a literal: the first line and the quoted name. */
    CHECK(um != NULL && strncmp(um, "[\n{\"name\":\"/usr/a.py\",\"crc32\":\"0x", 33) == 0);
    CHECK(um != NULL && strstr(um, "{\"name\":\"/usr/q\\\"uote.txt\",\"crc32\":\"") != NULL);
    CHECK(um != NULL && strstr(um, "{\"name\":\"/usr/empty.txt\",\"crc32\":\"0xffffffff\"}") != NULL);
    CHECK(um != NULL && strstr(um, ".log") == NULL);
    CHECK_EQ_STR(memport_get(p.bak, "backup_restore.json", NULL), "{\"enable\": 1}\n");
    CHECK_EQ_INT(memport_exists(p.usr, "backup_restore.json"), 0);

    /* Report. */
    unsigned long nprot = 0;
    for (size_t i = 0; i < NTREE; i++)
        nprot += tree[i].protect != 0;
    CHECK_EQ_INT(rep.files, NTREE);
    CHECK_EQ_INT(rep.protected_files, nprot);
    CHECK_EQ_INT(rep.dirs, TREE_DIRS_WITH_EMPTY);
    CHECK_EQ_INT(rep.refused, 0);
    CHECK_EQ_INT(rep.usr_bytes, tree_bytes(0) + strlen(want));
    CHECK_EQ_INT(rep.bak_bytes, tree_bytes(1) + strlen(want) + strlen("{\"enable\": 1}\n"));
    CHECK_EQ_INT(rep.usr_bytes, partition_bytes(p.usr));
    CHECK_EQ_INT(rep.bak_bytes, partition_bytes(p.bak));

    /* Events: PLANNED first, with the bytes to copy (each protected file
     * is written twice), then one PACKED per file. */
    CHECK(r.n > 0 && r.v[0].kind == FSG_EVENT_PLANNED);
    CHECK_EQ_INT(rec_count(&r, FSG_EVENT_PLANNED), 1);
    if (r.n > 0)
        CHECK_EQ_INT(r.v[0].size, tree_bytes(0) + tree_bytes(1));
    CHECK_EQ_INT(rec_count(&r, FSG_EVENT_PACKED), NTREE);
    CHECK_EQ_INT(rec_count(&r, FSG_EVENT_REFUSED), 0);
    for (size_t i = 0; i < NTREE; i++) {
        char name[1024];
        snprintf(name, sizeof name, "/usr/%s", tree[i].path);
        const struct fsg_event *e = rec_find(&r, FSG_EVENT_PACKED, name);
        CHECK(e != NULL);
        if (e == NULL) {
            fprintf(stderr, "  no PACKED event for %s\n", name);
            continue;
        }
        CHECK_EQ_INT(e->size, tree[i].len);
        CHECK_EQ_INT(e->recorded, crc_of(tree[i].data, tree[i].len));
        CHECK_EQ_INT(e->protect, tree[i].protect);
    }
    /* PACKED events come in name order, as the manifest does. */
    const char *prev = NULL;
    for (size_t i = 0; i < r.n; i++) {
        if (r.v[i].kind != FSG_EVENT_PACKED)
            continue;
        if (prev != NULL)
            CHECK(strcmp(prev, r.v[i].name) < 0);
        prev = r.v[i].name;
    }

    /* Hygiene: the source only read, every write crash-safe, no temps. */
    check_no_writes(p.src);
    CHECK_EQ_INT(memport_open_handles(p.src), 0);
    CHECK_EQ_INT(memport_open_handles(p.usr), 0);
    CHECK_EQ_INT(memport_open_handles(p.bak), 0);
    CHECK_EQ_INT(memport_bad_paths(p.usr) + memport_bad_paths(p.bak) + memport_bad_paths(p.src), 0);
    CHECK_EQ_INT(memport_count_temps(p.usr, NULL, 0), 0);
    CHECK_EQ_INT(memport_count_temps(p.bak, NULL, 0), 0);
    CHECK(memport_protocol_ok(p.usr));
    CHECK(memport_protocol_ok(p.bak));

    /* Nothing else in the partitions: usr has the tree's files and dirs and
     * checksum.json; bak has usr/..., checksum.json, backup_restore.json. */
    char *dump = memport_dump(p.bak);
    for (char *line = dump; *line;) {
        char *nl = strchr(line, '\n');
        *nl = '\0';
        CHECK(strncmp(line, "D usr", 5) == 0 || strncmp(line, "F usr/", 6) == 0 ||
              strncmp(line, "F checksum.json ", 16) == 0 ||
              strncmp(line, "F backup_restore.json ", 22) == 0);
        line = nl + 1;
    }
    free(dump);
    free(want);
    rec_clear(&r);

    /* enable = 0 writes the disabled switch. */
    outputs_renew(&p);
    opts_init(&o, &p, &r);
    o.enable = 0;
    CHECK_EQ_INT(fsg_pack(&o, &rep), 0);
    CHECK_EQ_STR(memport_get(p.bak, "backup_restore.json", NULL), "{\"enable\": 0}\n");
    rec_clear(&r);
    ports_free(&p);
}

/* An empty tree, and a tree where nothing is protected: "[]\n". */
static void test_pack_empty(void)
{
    struct ports p;
    struct rec r = {0};
    struct fsg_pack o;
    struct fsg_pack_report rep;

    ports_new(&p);
    opts_init(&o, &p, &r);
    CHECK_EQ_INT(fsg_pack(&o, &rep), 0);
    CHECK_EQ_STR(memport_get(p.usr, "checksum.json", NULL), "[]\n");
    CHECK_EQ_STR(memport_get(p.bak, "checksum.json", NULL), "[]\n");
    CHECK_EQ_STR(memport_get(p.bak, "backup_restore.json", NULL), "{\"enable\": 1}\n");
    CHECK_EQ_INT(rep.files, 0);
    CHECK_EQ_INT(rep.dirs, 0);
    CHECK_EQ_INT(rep.usr_bytes, 3);
    CHECK_EQ_INT(rep.bak_bytes, 3 + 14);
    CHECK_EQ_INT(rec_count(&r, FSG_EVENT_PLANNED), 1);
    CHECK(r.n > 0 && r.v[0].size == 0);
    rec_clear(&r);
    ports_free(&p);
}

/* ------------------------------------------------------------------------ */
/* Determinism.                                                             */

static char *dump_pair(struct ports *p)
{
    char *u = memport_dump(p->usr), *b = memport_dump(p->bak);
    size_t lu = strlen(u), lb = strlen(b);
    char *s = malloc(lu + lb + 8);
    memcpy(s, u, lu);
    memcpy(s + lu, "----\n", 5);
    memcpy(s + lu + 5, b, lb + 1);
    free(u);
    free(b);
    return s;
}

static char *pack_dump(int reversed, void *buf, size_t buf_size, size_t read_max)
{
    struct ports p;
    struct fsg_pack o;
    struct fsg_pack_report rep;
    struct rec r = {0};

    ports_new(&p);
    tree_put(p.src, reversed);
    memport_set_read_max(p.src, read_max);
    opts_init(&o, &p, &r);
    o.protect = protect_not_log;
    o.buf = buf;
    o.buf_size = buf_size;
    CHECK_EQ_INT(fsg_pack(&o, &rep), 0);
    char *s = dump_pair(&p);
    /* Files themselves byte-identical, not only by size and hash. */
    for (size_t i = 0; i < NTREE; i++) {
        size_t len = 0;
        const char *got = memport_get(p.usr, tree[i].path, &len);
        CHECK(got != NULL && len == tree[i].len && memcmp(got, tree[i].data, len) == 0);
    }
    char *m = expected_manifest(tree, NTREE);
    CHECK_EQ_STR(memport_get(p.usr, "checksum.json", NULL), m);
    free(m);
    rec_clear(&r);
    ports_free(&p);
    return s;
}

static void test_pack_deterministic(void)
{
    static unsigned char small[FSG_BUF_MIN];
    char *a = pack_dump(0, NULL, 0, 0);
    char *b = pack_dump(0, NULL, 0, 0);
    char *c = pack_dump(1, NULL, 0, 0);
    char *d = pack_dump(1, small, sizeof small, 0);
    char *e = pack_dump(0, small, sizeof small, 77); /* short reads */
    CHECK_EQ_STR(a, b);
    CHECK_EQ_STR(a, c);
    CHECK_EQ_STR(a, d);
    CHECK_EQ_STR(a, e);
    CHECK(strstr(a, "F checksum.json ") != NULL);
    CHECK(strstr(a, "D empty/dir\n") != NULL);
    free(a);
    free(b);
    free(c);
    free(d);
    free(e);
}

/* ------------------------------------------------------------------------ */
/* The protect callback.                                                    */

struct seen {
    char *names[64];
    size_t n;
};

static int protect_record(void *ctx, const char *name)
{
    struct seen *s = ctx;
    if (s->n < 64)
        s->names[s->n++] = xstrdup(name);
    /* Protected: only what is under /usr/lib/ and /usr/main.py. */
    return strncmp(name, "/usr/lib/", 9) == 0 || strcmp(name, "/usr/main.py") == 0;
}

static void test_pack_protect(void)
{
    struct ports p;
    struct rec r = {0};
    struct fsg_pack o;
    struct fsg_pack_report rep;
    struct seen s = {{0}, 0};
    struct tfile f[] = {
        {"main.py", (const unsigned char *)"m\n", 2, 1},
        {"lib/x.py", (const unsigned char *)"x\n", 2, 1},
        {"lib/y/z.py", (const unsigned char *)"z\n", 2, 1},
        {"user.cfg", (const unsigned char *)"u\n", 2, 0},
        {"data/d.bin", (const unsigned char *)"ddd", 3, 0},
    };
    size_t nf = sizeof f / sizeof f[0];

    ports_new(&p);
    put_files(p.src, f, nf);
    opts_init(&o, &p, &r);
    o.protect = protect_record;
    o.protect_ctx = &s;
    CHECK_EQ_INT(fsg_pack(&o, &rep), 0);
    /* Called once per regular file, with its device name. */
    CHECK_EQ_INT(s.n, nf);
    for (size_t i = 0; i < nf; i++) {
        char name[256];
        snprintf(name, sizeof name, "/usr/%s", f[i].path);
        size_t hits = 0;
        for (size_t j = 0; j < s.n; j++)
            hits += strcmp(s.names[j], name) == 0;
        CHECK_EQ_INT(hits, 1);
    }
    for (size_t j = 0; j < s.n; j++)
        free(s.names[j]);

    char *want = expected_manifest(f, nf);
    CHECK_EQ_STR(memport_get(p.usr, "checksum.json", NULL), want);
    CHECK_EQ_STR(memport_get(p.bak, "checksum.json", NULL), want);
    for (size_t i = 0; i < nf; i++) {
        char bpath[256], name[256];
        snprintf(bpath, sizeof bpath, "usr/%s", f[i].path);
        snprintf(name, sizeof name, "\"/usr/%s\"", f[i].path);
        CHECK(memport_get(p.usr, f[i].path, NULL) != NULL);
        CHECK_EQ_INT(memport_get(p.bak, bpath, NULL) != NULL, f[i].protect);
        CHECK_EQ_INT(strstr(want, name) != NULL, f[i].protect);
    }
    /* An unprotected directory's content never reaches bak. */
    CHECK_EQ_INT(memport_exists(p.bak, "usr/data"), 0);
    CHECK_EQ_INT(rep.files, nf);
    CHECK_EQ_INT(rep.protected_files, 3);
    CHECK_EQ_INT(rep.bak_bytes, 6 + strlen(want) + 14);
    CHECK_EQ_INT(rep.usr_bytes, 11 + strlen(want));
    for (size_t i = 0; i < r.n; i++) {
        if (r.v[i].kind != FSG_EVENT_PACKED)
            continue;
        int want_prot = strncmp(r.v[i].name, "/usr/lib/", 9) == 0 ||
                        strcmp(r.v[i].name, "/usr/main.py") == 0;
        CHECK_EQ_INT(r.v[i].protect, want_prot);
    }
    CHECK_EQ_INT(r.n > 0 ? r.v[0].size : 0, 11 + 6);
    free(want);
    rec_clear(&r);

    /* NULL protects everything. */
    outputs_renew(&p);
    opts_init(&o, &p, &r);
    CHECK_EQ_INT(fsg_pack(&o, &rep), 0);
    for (size_t i = 0; i < nf; i++)
        f[i].protect = 1;
    want = expected_manifest(f, nf);
    CHECK_EQ_STR(memport_get(p.usr, "checksum.json", NULL), want);
    CHECK_EQ_STR(memport_get(p.bak, "checksum.json", NULL), want);
    for (size_t i = 0; i < nf; i++) {
        char bpath[256];
        snprintf(bpath, sizeof bpath, "usr/%s", f[i].path);
        CHECK(memport_get(p.bak, bpath, NULL) != NULL);
    }
    CHECK_EQ_INT(rep.protected_files, nf);
    CHECK_EQ_INT(rec_count(&r, FSG_EVENT_PACKED), nf);
    free(want);
    rec_clear(&r);
    ports_free(&p);
}

/* ------------------------------------------------------------------------ */
/* A packed device boots clean.                                             */

static void test_pack_then_boot(void)
{
    struct ports p;
    struct rec r = {0};
    struct fsg_pack o;
    struct fsg_pack_report rep;

    ports_new(&p);
    tree_put(p.src, 0);
    opts_init(&o, &p, &r);
    o.protect = protect_not_log;
    CHECK_EQ_INT(fsg_pack(&o, &rep), 0);
    char *before = memport_dump(p.usr);

    struct fsg_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.usr = memport_port(p.usr);
    cfg.bak = memport_port(p.bak);
    struct fsg_report br;
    for (int flags = FSG_DRY_RUN; flags >= 0; flags--) {
        memport_reset_ops(p.usr);
        memport_reset_ops(p.bak);
        CHECK_EQ_INT(fsg_boot(&cfg, flags, &br), 0);
        CHECK_EQ_INT(fsg_report_exit_code(&br), 0);
        CHECK_EQ_INT(br.feature, FSG_FEATURE_ENABLED);
        CHECK_EQ_INT(br.manifest, FSG_MANIFEST_UNCHANGED);
        CHECK_EQ_INT(br.files, rep.protected_files);
        CHECK_EQ_INT(br.ok, rep.protected_files);
        CHECK_EQ_INT(br.restored + br.failed + br.bad_entries + br.entries_added, 0);
        CHECK_EQ_INT(memport_mutating_calls(p.usr), 0);
        CHECK_EQ_INT(memport_mutating_calls(p.bak), 0);
    }
    char *after = memport_dump(p.usr);
    CHECK_EQ_STR(after, before);
    free(before);
    free(after);

    /* And it does its job: a damaged protected file comes back. */
    memport_put_str(p.usr, "lib/util.py", "garbage");
    memport_remove(p.usr, "q\"uote.txt");
    CHECK_EQ_INT(fsg_boot(&cfg, 0, &br), 0);
    CHECK_EQ_INT(br.restored, 2);
    CHECK_EQ_INT(fsg_report_exit_code(&br), 1);
    CHECK_EQ_STR(memport_get(p.usr, "lib/util.py", NULL), "def f():\n    return 1\n");
    CHECK_EQ_STR(memport_get(p.usr, "q\"uote.txt", NULL), "quoted\n");

    /* Disabled switch: boot does nothing. */
    rec_clear(&r);
    outputs_renew(&p);
    opts_init(&o, &p, &r);
    o.enable = 0;
    CHECK_EQ_INT(fsg_pack(&o, &rep), 0);
    cfg.usr = memport_port(p.usr);
    cfg.bak = memport_port(p.bak);
    memport_reset_ops(p.usr);
    CHECK_EQ_INT(fsg_boot(&cfg, 0, &br), 0);
    CHECK_EQ_INT(br.feature, FSG_FEATURE_DISABLED);
    CHECK_EQ_INT(memport_mutating_calls(p.usr), 0);
    rec_clear(&r);
    ports_free(&p);
}

/* ------------------------------------------------------------------------ */
/* Refusals.                                                                */

struct refusal_case {
    const char *what;
    void (*make)(struct memport *src, const char *path);
    const char *path;
    int refusal, type, defect;
};

static void mk_link(struct memport *src, const char *path)
{
    CHECK_EQ_INT(memport_symlink(src, path, "main.py"), 0);
}

static void mk_special(struct memport *src, const char *path)
{
    CHECK_EQ_INT(memport_special(src, path), 0);
}

static void mk_file(struct memport *src, const char *path)
{
    CHECK_EQ_INT(memport_put_str(src, path, "content\n"), 0);
}

static void mk_dir(struct memport *src, const char *path)
{
    CHECK_EQ_INT(memport_mkdir(src, path), 0);
}

static char long_seg[FSG_SEGMENT_MAX + 2];     /* 241 bytes */
static char max_seg[FSG_SEGMENT_MAX + 1];      /* 240 bytes */
static char long_path[700];                    /* name > FSG_NAME_MAX */

static void base_tree(struct memport *src)
{
    memport_put_str(src, "main.py", "print(1)\n");
    memport_put_str(src, "lib/ok.py", "ok\n");
    memport_mkdir(src, "void");
}

static void expect_refused(const struct refusal_case *k)
{
    struct ports p;
    struct rec r = {0};
    struct fsg_pack o;
    struct fsg_pack_report rep;

    ports_new(&p);
    base_tree(p.src);
    k->make(p.src, k->path);
    opts_init(&o, &p, &r);
    reset_all(&p);
    int ret = fsg_pack(&o, &rep);
    CHECK_EQ_INT(ret, FSG_ERR_INVAL);
    CHECK_EQ_INT(rep.refused, 1);
    CHECK_EQ_INT(rec_count(&r, FSG_EVENT_REFUSED), 1);
    CHECK_EQ_INT(rec_count(&r, FSG_EVENT_PLANNED), 0);
    CHECK_EQ_INT(rec_count(&r, FSG_EVENT_PACKED), 0);
    const struct fsg_event *e = rec_find(&r, FSG_EVENT_REFUSED, k->path);
    CHECK(e != NULL);
    if (e != NULL) {
        CHECK_EQ_INT(e->refusal, k->refusal);
        CHECK_EQ_INT(e->type, k->type);
        CHECK_EQ_INT(e->defect, k->defect);
    }
    check_no_writes(p.usr);
    check_no_writes(p.bak);
    check_no_writes(p.src);
    CHECK_EQ_INT(memport_ops(p.usr)->total, 0);
    CHECK_EQ_INT(memport_ops(p.bak)->total, 0);
    CHECK_EQ_INT(memport_open_handles(p.src), 0);
    if (ret != FSG_ERR_INVAL || e == NULL)
        fprintf(stderr, "  (refusal case: %s)\n", k->what);
    rec_clear(&r);
    ports_free(&p);
}

/* A path the tree accepts. */
static void expect_packed(void (*make)(struct memport *, const char *), const char *path,
                          const char *what)
{
    struct ports p;
    struct rec r = {0};
    struct fsg_pack o;
    struct fsg_pack_report rep;

    ports_new(&p);
    base_tree(p.src);
    make(p.src, path);
    opts_init(&o, &p, &r);
    int ret = fsg_pack(&o, &rep);
    CHECK_EQ_INT(ret, 0);
    CHECK_EQ_INT(rep.refused, 0);
    if (make == mk_file) {
        char bpath[1024];
        snprintf(bpath, sizeof bpath, "usr/%s", path);
        CHECK_EQ_STR(memport_get(p.usr, path, NULL), "content\n");
        CHECK_EQ_STR(memport_get(p.bak, bpath, NULL), "content\n");
    } else {
        CHECK_EQ_INT(memport_exists(p.usr, path), FSG_TYPE_DIR);
    }
    if (ret != 0)
        fprintf(stderr, "  (accept case: %s)\n", what);
    rec_clear(&r);
    ports_free(&p);
}

static void test_pack_refusals(void)
{
    memset(long_seg, 'L', FSG_SEGMENT_MAX + 1);
    memset(max_seg, 'M', FSG_SEGMENT_MAX);
    /* 200 + 1 + 200 + 1 + 200 + 5 ("/usr/") > 512. */
    memset(long_path, 'p', 602);
    long_path[200] = '/';
    long_path[401] = '/';
    long_path[602] = '\0';

    const struct refusal_case cases[] = {
        {"symlink", mk_link, "link.py", FSG_REFUSAL_LINK, FSG_TYPE_LINK, FSG_DEFECT_NONE},
        {"nested symlink", mk_link, "lib/link.py", FSG_REFUSAL_LINK, FSG_TYPE_LINK,
         FSG_DEFECT_NONE},
        {"special", mk_special, "fifo", FSG_REFUSAL_SPECIAL, FSG_TYPE_OTHER, FSG_DEFECT_NONE},
        {"nested special", mk_special, "lib/dev", FSG_REFUSAL_SPECIAL, FSG_TYPE_OTHER,
         FSG_DEFECT_NONE},
        {"root checksum.json", mk_file, "checksum.json", FSG_REFUSAL_RESERVED, FSG_TYPE_REG,
         FSG_DEFECT_NONE},
        {"root backup_restore.json", mk_file, "backup_restore.json", FSG_REFUSAL_RESERVED,
         FSG_TYPE_REG, FSG_DEFECT_NONE},
        {"control char", mk_file, "a\x01z.py", FSG_REFUSAL_NAME, FSG_TYPE_REG,
         FSG_DEFECT_NAME_CHARS},
        {"newline", mk_file, "lib/a\nb.py", FSG_REFUSAL_NAME, FSG_TYPE_REG,
         FSG_DEFECT_NAME_CHARS},
        {"tab", mk_file, "sp ace/t\tab", FSG_REFUSAL_NAME, FSG_TYPE_REG,
         FSG_DEFECT_NAME_CHARS},
        {"DEL", mk_file, "del\x7f", FSG_REFUSAL_NAME, FSG_TYPE_REG, FSG_DEFECT_NAME_CHARS},
        {"backslash", mk_file, "a\\b.py", FSG_REFUSAL_NAME, FSG_TYPE_REG,
         FSG_DEFECT_NAME_CHARS},
        {"invalid utf-8", mk_file, "bad\xff.txt", FSG_REFUSAL_NAME, FSG_TYPE_REG,
         FSG_DEFECT_NAME_CHARS},
        {"overlong utf-8", mk_file, "x\xc0\xaf.txt", FSG_REFUSAL_NAME, FSG_TYPE_REG,
         FSG_DEFECT_NAME_CHARS},
        {"surrogate utf-8", mk_file, "s\xed\xa0\x80", FSG_REFUSAL_NAME, FSG_TYPE_REG,
         FSG_DEFECT_NAME_CHARS},
        {"truncated utf-8", mk_file, "t\xe6\x95", FSG_REFUSAL_NAME, FSG_TYPE_REG,
         FSG_DEFECT_NAME_CHARS},
        {"control char in a dir name", mk_dir, "d\x02", FSG_REFUSAL_NAME, FSG_TYPE_DIR,
         FSG_DEFECT_NAME_CHARS},
        {"long segment", mk_file, long_seg, FSG_REFUSAL_NAME, FSG_TYPE_REG,
         FSG_DEFECT_NAME_LONG},
        {"long name", mk_file, long_path, FSG_REFUSAL_NAME, FSG_TYPE_REG,
         FSG_DEFECT_NAME_LONG},
        {"temp-like name", mk_file, ".x.fsg-tmp", FSG_REFUSAL_NAME, FSG_TYPE_REG,
         FSG_DEFECT_NAME_RESERVED},
        {"nested temp-like name", mk_file, "lib/.ok.py.fsg-tmp", FSG_REFUSAL_NAME,
         FSG_TYPE_REG, FSG_DEFECT_NAME_RESERVED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_refused(&cases[i]);

    /* Accepted neighbours of the refused names. */
    expect_packed(mk_file, "cfg/checksum.json", "nested checksum.json");
    expect_packed(mk_file, "cfg/backup_restore.json", "nested backup_restore.json");
    expect_packed(mk_file, max_seg, "240-byte segment");
    expect_packed(mk_file, "x.fsg-tmp", "no leading dot: not a temporary name");
    expect_packed(mk_file, "\xf0\x9f\x98\x80.py", "4-byte UTF-8");
    expect_packed(mk_file, "sp ace/x y.py", "spaces");
}

/* Several refusals in one tree: every one is reported, nothing written. */
static void test_pack_refusals_all(void)
{
    struct ports p;
    struct rec r = {0};
    struct fsg_pack o;
    struct fsg_pack_report rep;

    ports_new(&p);
    base_tree(p.src);
    memport_symlink(p.src, "a-link", "main.py");
    memport_special(p.src, "lib/fifo");
    memport_put_str(p.src, "checksum.json", "[]");
    memport_put_str(p.src, "backup_restore.json", "{\"enable\": 1}");
    memport_put_str(p.src, "z\x1f.py", "x");
    memport_put_str(p.src, "lib/deep/\xfe.py", "x");
    memport_put_str(p.src, "lib/.y.fsg-tmp", "x");
    memport_put_str(p.src, "zz/ok.py", "fine");
    opts_init(&o, &p, &r);
    reset_all(&p);
    CHECK_EQ_INT(fsg_pack(&o, &rep), FSG_ERR_INVAL);
    CHECK_EQ_INT(rep.refused, 7);
    CHECK_EQ_INT(rec_count(&r, FSG_EVENT_REFUSED), 7);
    const struct fsg_event *e;
    CHECK((e = rec_find(&r, FSG_EVENT_REFUSED, "a-link")) != NULL && e->refusal == FSG_REFUSAL_LINK);
    CHECK((e = rec_find(&r, FSG_EVENT_REFUSED, "lib/fifo")) != NULL &&
          e->refusal == FSG_REFUSAL_SPECIAL);
    CHECK((e = rec_find(&r, FSG_EVENT_REFUSED, "checksum.json")) != NULL &&
          e->refusal == FSG_REFUSAL_RESERVED);
    CHECK((e = rec_find(&r, FSG_EVENT_REFUSED, "backup_restore.json")) != NULL &&
          e->refusal == FSG_REFUSAL_RESERVED);
    CHECK((e = rec_find(&r, FSG_EVENT_REFUSED, "z\x1f.py")) != NULL &&
          e->refusal == FSG_REFUSAL_NAME && e->defect == FSG_DEFECT_NAME_CHARS);
    CHECK((e = rec_find(&r, FSG_EVENT_REFUSED, "lib/deep/\xfe.py")) != NULL &&
          e->refusal == FSG_REFUSAL_NAME && e->defect == FSG_DEFECT_NAME_CHARS);
    CHECK((e = rec_find(&r, FSG_EVENT_REFUSED, "lib/.y.fsg-tmp")) != NULL &&
          e->refusal == FSG_REFUSAL_NAME && e->defect == FSG_DEFECT_NAME_RESERVED);
    CHECK_EQ_INT(rec_count(&r, FSG_EVENT_PLANNED), 0);
    check_no_writes(p.usr);
    check_no_writes(p.bak);
    CHECK_EQ_INT(memport_ops(p.usr)->total + memport_ops(p.bak)->total, 0);
    /* Whatever planning opened, it closed. */
    CHECK_EQ_INT(memport_open_handles(p.src), 0);
    rec_clear(&r);
    ports_free(&p);
}

/* A directory of the tree that cannot be listed. The header documents
 * FSG_REFUSAL_UNREADABLE as "stat or listing failed (see error)". */
struct listfail {
    struct fsg_port port;
    const struct fsg_port *in;
    const char *bad;        /* directory whose listing fails */
    const char *badstat;    /* path whose stat fails */
};

static int lf_open(void *ctx, const char *path, int mode, void **file)
{
    struct listfail *w = ctx;
    return w->in->open(w->in->ctx, path, mode, file);
}
static long lf_read(void *ctx, void *file, void *buf, size_t size)
{
    struct listfail *w = ctx;
    return w->in->read(w->in->ctx, file, buf, size);
}
static int lf_close(void *ctx, void *file)
{
    struct listfail *w = ctx;
    return w->in->close(w->in->ctx, file);
}
static int lf_stat(void *ctx, const char *path, struct fsg_stat *st)
{
    struct listfail *w = ctx;
    if (w->badstat != NULL && strcmp(path, w->badstat) == 0)
        return FSG_ERR_ACCES;
    return w->in->stat(w->in->ctx, path, st);
}
static int lf_list(void *ctx, const char *path,
                   int (*fn)(void *arg, const char *name, int type), void *arg)
{
    struct listfail *w = ctx;
    if (w->bad != NULL && strcmp(path, w->bad) == 0)
        return FSG_ERR_ACCES;
    return w->in->list(w->in->ctx, path, fn, arg);
}

static void listfail_init(struct listfail *w, struct memport *mp)
{
    memset(w, 0, sizeof *w);
    w->in = memport_port(mp);
    w->port.version = FSG_PORT_VERSION;
    w->port.ctx = w;
    w->port.open = lf_open;
    w->port.read = lf_read;
    w->port.close = lf_close;
    w->port.stat = lf_stat;
    w->port.list = lf_list;
}

static void test_pack_unreadable(void)
{
    struct ports p;
    struct rec r = {0};
    struct fsg_pack o;
    struct fsg_pack_report rep;
    struct listfail w;

    /* stat fails on one file. */
    ports_new(&p);
    base_tree(p.src);
    listfail_init(&w, p.src);
    w.badstat = "lib/ok.py";
    opts_init(&o, &p, &r);
    o.src = &w.port;
    reset_all(&p);
    CHECK_EQ_INT(fsg_pack(&o, &rep), FSG_ERR_INVAL);
    const struct fsg_event *e = rec_find(&r, FSG_EVENT_REFUSED, "lib/ok.py");
    CHECK(e != NULL && e->refusal == FSG_REFUSAL_UNREADABLE && e->error == FSG_ERR_ACCES);
    check_no_writes(p.usr);
    check_no_writes(p.bak);
    rec_clear(&r);

    /* The listing of a subdirectory fails: pack fails and writes nothing;
     * the documented report is a REFUSED event, UNREADABLE, for "lib". */
    w.badstat = NULL;
    w.bad = "lib";
    memport_put_str(p.src, "zz/also.py", "z");
    memport_symlink(p.src, "zz/link", "x");
    reset_all(&p);
    int ret = fsg_pack(&o, &rep);
    CHECK(ret < 0);
    check_no_writes(p.usr);
    check_no_writes(p.bak);
    e = rec_find(&r, FSG_EVENT_REFUSED, "lib");
    CHECK(e != NULL && e->refusal == FSG_REFUSAL_UNREADABLE && e->error == FSG_ERR_ACCES);
    if (e == NULL)
        fprintf(stderr, "  (listing failure of \"lib\": pack returned %d, no REFUSED event)\n",
                ret);
    /* ... and the other refusals of the tree are still reported. */
    CHECK(rec_find(&r, FSG_EVENT_REFUSED, "zz/link") != NULL);
    rec_clear(&r);
    ports_free(&p);
}

/* ------------------------------------------------------------------------ */
/* Partition limits.                                                        */

static void test_pack_limits(void)
{
    struct ports p;
    struct rec r = {0};
    struct fsg_pack o;
    struct fsg_pack_report need, rep;

    ports_new(&p);
    tree_put(p.src, 0);
    opts_init(&o, &p, &r);
    o.protect = protect_not_log;
    CHECK_EQ_INT(fsg_pack(&o, &need), 0);
    char *m = expected_manifest(tree, NTREE);
    CHECK_EQ_INT(need.usr_bytes, tree_bytes(0) + strlen(m));
    CHECK_EQ_INT(need.bak_bytes, tree_bytes(1) + strlen(m) + 14);
    free(m);
    char *ref = dump_pair(&p);

    for (int which = 0; which < 2; which++) {
        /* Exactly the size needed: fits. */
        rec_clear(&r);
        outputs_renew(&p);
        opts_init(&o, &p, &r);
        o.protect = protect_not_log;
        if (which == 0)
            o.usr_limit = need.usr_bytes;
        else
            o.bak_limit = need.bak_bytes;
        CHECK_EQ_INT(fsg_pack(&o, &rep), 0);
        char *got = dump_pair(&p);
        CHECK_EQ_STR(got, ref);
        free(got);

        /* One byte less: NOSPC, sizes reported, nothing written. */
        rec_clear(&r);
        outputs_renew(&p);
        opts_init(&o, &p, &r);
        o.protect = protect_not_log;
        if (which == 0)
            o.usr_limit = need.usr_bytes - 1;
        else
            o.bak_limit = need.bak_bytes - 1;
        reset_all(&p);
        CHECK_EQ_INT(fsg_pack(&o, &rep), FSG_ERR_NOSPC);
        CHECK_EQ_INT(rep.usr_bytes, need.usr_bytes);
        CHECK_EQ_INT(rep.bak_bytes, need.bak_bytes);
        CHECK_EQ_INT(rep.files, need.files);
        CHECK_EQ_INT(rep.protected_files, need.protected_files);
        check_no_writes(p.usr);
        check_no_writes(p.bak);
        CHECK_EQ_INT(rec_count(&r, FSG_EVENT_PLANNED), 0);
        CHECK_EQ_INT(rec_count(&r, FSG_EVENT_PACKED), 0);
        CHECK_EQ_INT(memport_open_handles(p.src), 0);
    }

    /* Both limits exactly met at once. */
    rec_clear(&r);
    outputs_renew(&p);
    opts_init(&o, &p, &r);
    o.protect = protect_not_log;
    o.usr_limit = need.usr_bytes;
    o.bak_limit = need.bak_bytes;
    CHECK_EQ_INT(fsg_pack(&o, &rep), 0);
    free(ref);
    rec_clear(&r);
    ports_free(&p);
}

/* ------------------------------------------------------------------------ */
/* Faults.                                                                  */

static unsigned char fbuf[FSG_BUF_MIN];

/* A small tree, with one file spanning several buffers. */
static void small_tree(struct memport *src)
{
    static unsigned char *mid;
    if (mid == NULL)
        mid = pattern(700, 3);
    memport_put_str(src, "main.py", "print(1)\n");
    memport_put(src, "lib/blob.bin", mid, 700);
    memport_put_str(src, "lib/x/y.py", "y\n");
    memport_put_str(src, "note.log", "unprotected\n");
    memport_put(src, "zero", "", 0);
    memport_mkdir(src, "empty");
}

static void fault_opts(struct fsg_pack *o, struct ports *p, struct rec *r)
{
    opts_init(o, p, r);
    o->protect = protect_not_log;
    o->buf = fbuf;
    o->buf_size = sizeof fbuf;
}

static void test_pack_output_faults(void)
{
    struct ports p;
    struct rec r = {0};
    struct fsg_pack o;
    struct fsg_pack_report rep;
    const int errs[] = {FSG_ERR_IO, FSG_ERR_NOSPC};

    ports_new(&p);
    small_tree(p.src);
    fault_opts(&o, &p, &r);
    reset_all(&p);
    CHECK_EQ_INT(fsg_pack(&o, &rep), 0);
    unsigned long nops[2] = {memport_ops(p.usr)->total, memport_ops(p.bak)->total};
    unsigned long nwrites[2] = {memport_ops(p.usr)->calls[FP_OP_WRITE],
                                memport_ops(p.bak)->calls[FP_OP_WRITE]};
    CHECK(nops[0] > 20 && nops[1] > 20);
    char *ref = dump_pair(&p);
    unsigned long runs = 0, bad = 0;

    for (int target = 0; target < 2; target++) {
        for (size_t ei = 0; ei < 2; ei++) {
            for (int persistent = 0; persistent < 2; persistent++) {
                for (unsigned long n = 1; n <= nops[target] + 2; n++) {
                    rec_clear(&r);
                    outputs_renew(&p);
                    fault_opts(&o, &p, &r);
                    reset_all(&p);
                    struct memport *t = target == 0 ? p.usr : p.bak;
                    memport_fail_at(t, n, errs[ei], persistent);
                    int ret = fsg_pack(&o, &rep);
                    runs++;
                    int ok = 1;
                    if (n <= nops[target]) {
                        /* Port errors pass through unchanged, but for a
                         * one-off error on a read, which the retry absorbs
                         * (the read-back then succeeds). */
                        ok &= ret == errs[ei] || (ret == 0 && !persistent);
                        ok &= memport_faults_hit(t) >= 1;
                    } else {
                        ok &= ret == 0;
                    }
                    ok &= memport_open_handles(p.usr) == 0;
                    ok &= memport_open_handles(p.bak) == 0;
                    ok &= memport_open_handles(p.src) == 0;
                    ok &= memport_mutating_calls(p.src) == 0;
                    ok &= memport_bad_paths(p.usr) + memport_bad_paths(p.bak) == 0;
                    CHECK(ok);
                    if (!ok && bad++ < 10)
                        fprintf(stderr,
                                "  output fault: %s op %lu err %d persistent %d -> ret %d, "
                                "handles %lu/%lu\n",
                                target == 0 ? "usr" : "bak", n, errs[ei], persistent, ret,
                                memport_open_handles(p.usr), memport_open_handles(p.bak));
                }
            }
        }
    }
    CHECK(runs > 100);

    /* Silent corruption of any write of either partition: the read-back
     * catches it, pack fails with MISMATCH and nothing damaged is in place. */
    for (int target = 0; target < 2; target++) {
        for (unsigned long n = 1; n <= nwrites[target]; n++) {
            rec_clear(&r);
            outputs_renew(&p);
            fault_opts(&o, &p, &r);
            struct memport *t = target == 0 ? p.usr : p.bak;
            memport_corrupt_write(t, n);
            int ret = fsg_pack(&o, &rep);
            CHECK_EQ_INT(ret, FSG_ERR_MISMATCH);
            CHECK_EQ_INT(memport_faults_hit(t), 1);
            CHECK_EQ_INT(memport_open_handles(p.usr) + memport_open_handles(p.bak), 0);
            /* Every file in place is the right one: compare with the
             * reference dump line by line. */
            char *got = dump_pair(&p);
            for (char *line = got, *nl; *line != '\0'; line = nl + 1) {
                nl = strchr(line, '\n');
                *nl = '\0';
                if (line[0] == 'F' && strstr(line, ".fsg-tmp") == NULL) {
                    if (strstr(ref, line) == NULL) {
                        CHECK(!"corrupt file in place");
                        fprintf(stderr, "  after corrupt write %lu: %s\n", n, line);
                    }
                }
            }
            free(got);
        }
    }
    free(ref);
    rec_clear(&r);
    ports_free(&p);
}

static void test_pack_source_faults(void)
{
    struct ports p;
    struct rec r = {0};
    struct fsg_pack o;
    struct fsg_pack_report rep;

    ports_new(&p);
    small_tree(p.src);
    fault_opts(&o, &p, &r);
    reset_all(&p);
    CHECK_EQ_INT(fsg_pack(&o, &rep), 0);
    unsigned long nops = memport_ops(p.src)->total;
    unsigned long nreads = memport_ops(p.src)->calls[FP_OP_READ];
    CHECK(nreads > 6);
    unsigned long bad = 0;

    for (int kind = 0; kind < 2; kind++) {
        unsigned long max = kind == 0 ? nops : nreads;
        for (unsigned long n = 1; n <= max; n++) {
            rec_clear(&r);
            outputs_renew(&p);
            fault_opts(&o, &p, &r);
            reset_all(&p);
            unsigned long hits0 = memport_faults_hit(p.src);
            if (kind == 0)
                memport_fail_at(p.src, n, FSG_ERR_IO, 0);
            else
                memport_fail_kind(p.src, FP_OP_READ, n, FSG_ERR_IO, 0);
            int ret = fsg_pack(&o, &rep);
            /* A one-off error while a file is hashed is absorbed by the
             * retry (pack then succeeds); otherwise the pack fails. */
            int ok = ret < 0 || (ret == 0 && rep.files > 0);
            /* A failed stat is a refusal (UNREADABLE); anything else
             * passes the port's error through. */
            if (ret == 0) {
                /* nothing more to check than below */
            } else if (ret == FSG_ERR_INVAL) {
                const struct fsg_event *e = NULL;
                for (size_t i = 0; i < r.n; i++)
                    if (r.v[i].kind == FSG_EVENT_REFUSED)
                        e = &r.v[i];
                ok &= e != NULL && e->refusal == FSG_REFUSAL_UNREADABLE &&
                      e->error == FSG_ERR_IO;
            } else {
                ok &= ret == FSG_ERR_IO;
            }
            if (kind == 1) /* reads only: never a refusal */
                ok &= ret == FSG_ERR_IO || ret == 0;
            ok &= memport_mutating_calls(p.src) == 0;
            ok &= memport_open_handles(p.src) + memport_open_handles(p.usr) +
                      memport_open_handles(p.bak) == 0;
            ok &= memport_faults_hit(p.src) - hits0 == 1;
            CHECK(ok);
            if (!ok && bad++ < 10)
                fprintf(stderr, "  source fault: %s %lu -> ret %d\n",
                        kind == 0 ? "op" : "read", n, ret);
        }
    }
    rec_clear(&r);
    ports_free(&p);
}

/* ------------------------------------------------------------------------ */
/* A file that changes between planning and copying.                        */

struct chg {
    struct fsg_port port;
    struct memport *mp;
    const struct fsg_port *in;
    const char *path;
    const char *data;       /* its new content, put on opening number at */
    size_t len;
    int opens, at;
};

static int chg_open(void *ctx, const char *path, int mode, void **file)
{
    struct chg *w = ctx;
    if (mode == FSG_OPEN_READ && strcmp(path, w->path) == 0 && ++w->opens == w->at)
        memport_put(w->mp, path, w->data, w->len);
    return w->in->open(w->in->ctx, path, mode, file);
}
static long chg_read(void *ctx, void *file, void *buf, size_t size)
{
    struct chg *w = ctx;
    return w->in->read(w->in->ctx, file, buf, size);
}
static int chg_close(void *ctx, void *file)
{
    struct chg *w = ctx;
    return w->in->close(w->in->ctx, file);
}
static int chg_stat(void *ctx, const char *path, struct fsg_stat *st)
{
    struct chg *w = ctx;
    return w->in->stat(w->in->ctx, path, st);
}
static int chg_list(void *ctx, const char *path,
                    int (*fn)(void *arg, const char *name, int type), void *arg)
{
    struct chg *w = ctx;
    return w->in->list(w->in->ctx, path, fn, arg);
}

static void test_pack_changed(void)
{
    struct {
        const char *path;
        const char *data;
        int protect;
    } cases[] = {
        {"lib/x/y.py", "Y\n", 1},          /* same size, other bytes */
        {"main.py", "print(1)\n# grown\n", 1}, /* grew */
        {"note.log", "unprot\n", 0},       /* shrank; unprotected */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct ports p;
        struct rec r = {0};
        struct fsg_pack o;
        struct fsg_pack_report rep;
        struct chg w;

        ports_new(&p);
        small_tree(p.src);
        memset(&w, 0, sizeof w);
        w.mp = p.src;
        w.in = memport_port(p.src);
        w.path = cases[i].path;
        w.data = cases[i].data;
        w.len = strlen(cases[i].data);
        w.at = 2; /* the copy, after the hash */
        w.port.version = FSG_PORT_VERSION;
        w.port.ctx = &w;
        w.port.open = chg_open;
        w.port.read = chg_read;
        w.port.close = chg_close;
        w.port.stat = chg_stat;
        w.port.list = chg_list;
        fault_opts(&o, &p, &r);
        o.src = &w.port;
        int ret = fsg_pack(&o, &rep);
        CHECK_EQ_INT(w.opens, 2);
        CHECK_EQ_INT(ret, FSG_ERR_MISMATCH);
        char bpath[256], name[256];
        snprintf(bpath, sizeof bpath, "usr/%s", cases[i].path);
        snprintf(name, sizeof name, "/usr/%s", cases[i].path);
        /* Neither copy was put in place, no temporary left, no handle. */
        CHECK_EQ_INT(memport_exists(p.usr, cases[i].path), 0);
        CHECK_EQ_INT(memport_exists(p.bak, bpath), 0);
        CHECK_EQ_INT(memport_count_temps(p.usr, NULL, 0), 0);
        CHECK_EQ_INT(memport_count_temps(p.bak, NULL, 0), 0);
        CHECK(rec_find(&r, FSG_EVENT_PACKED, name) == NULL);
        /* No manifest was written over a failed copy. */
        CHECK_EQ_INT(memport_exists(p.usr, "checksum.json"), 0);
        CHECK_EQ_INT(memport_exists(p.bak, "checksum.json"), 0);
        CHECK_EQ_INT(memport_exists(p.bak, "backup_restore.json"), 0);
        CHECK_EQ_INT(memport_open_handles(p.src) + memport_open_handles(p.usr) +
                         memport_open_handles(p.bak), 0);
        rec_clear(&r);
        ports_free(&p);
    }
}

static void chg_init(struct chg *w, struct memport *mp, const char *path, const char *data,
                     int at)
{
    memset(w, 0, sizeof *w);
    w->mp = mp;
    w->in = memport_port(mp);
    w->path = path;
    w->data = data;
    w->len = strlen(data);
    w->at = at;
    w->port.version = FSG_PORT_VERSION;
    w->port.ctx = w;
    w->port.open = chg_open;
    w->port.read = chg_read;
    w->port.close = chg_close;
    w->port.stat = chg_stat;
    w->port.list = chg_list;
}

/* A file that grows after planning took its size but before it is hashed:
 * the hash and the copy agree, but the sizes pack planned with (report,
 * limits, PACKED) are those of the old content. Pack must either notice
 * (MISMATCH) or account for the bytes it really wrote. */
static void test_pack_grown_before_hash(void)
{
    const char *grown = "print(1)\n# grown by forty bytes..........\n";
    struct ports p;
    struct rec r = {0};
    struct fsg_pack o;
    struct fsg_pack_report need, rep;
    struct chg w;

    /* The exact sizes of the original tree. */
    ports_new(&p);
    small_tree(p.src);
    fault_opts(&o, &p, &r);
    CHECK_EQ_INT(fsg_pack(&o, &need), 0);
    rec_clear(&r);
    ports_free(&p);

    ports_new(&p);
    small_tree(p.src);
    chg_init(&w, p.src, "main.py", grown, 1); /* the hash pass's opening */
    fault_opts(&o, &p, &r);
    o.src = &w.port;
    int ret = fsg_pack(&o, &rep);
    CHECK_EQ_INT(w.opens, 2);
    CHECK(ret == 0 || ret == FSG_ERR_MISMATCH);
    if (ret == 0) {
        /* What was written is self-consistent... */
        CHECK_EQ_STR(memport_get(p.usr, "main.py", NULL), grown);
        /* ... and must be what the report and the event say. */
        uint64_t delta = strlen(grown) - strlen("print(1)\n");
        CHECK_EQ_INT(rep.usr_bytes, need.usr_bytes + delta);
        CHECK_EQ_INT(rep.bak_bytes, need.bak_bytes + delta);
        const struct fsg_event *e = rec_find(&r, FSG_EVENT_PACKED, "/usr/main.py");
        CHECK(e != NULL && e->size == strlen(grown));
        if (rep.usr_bytes != need.usr_bytes + delta)
            fprintf(stderr, "  (grown file: usr_bytes %llu, usr content is %llu)\n",
                    (unsigned long long)rep.usr_bytes,
                    (unsigned long long)(need.usr_bytes + delta));
    }
    rec_clear(&r);
    ports_free(&p);

    /* With the limit set to the original tree's exact size, the grown
     * content does not fit: pack must not succeed. */
    ports_new(&p);
    small_tree(p.src);
    chg_init(&w, p.src, "main.py", grown, 1);
    fault_opts(&o, &p, &r);
    o.src = &w.port;
    o.usr_limit = need.usr_bytes;
    ret = fsg_pack(&o, &rep);
    CHECK(ret == FSG_ERR_NOSPC || ret == FSG_ERR_MISMATCH);
    if (ret == 0) {
        char *d = memport_dump(p.usr);
        uint64_t total = 0;
        /* Dump lines: "F path size crc". */
        for (char *line = d, *nl; *line != '\0'; line = nl + 1) {
            nl = strchr(line, '\n');
            *nl = '\0';
            char *crc = strrchr(line, ' ');
            *crc = '\0';
            if (line[0] == 'F')
                total += strtoull(strrchr(line, ' ') + 1, NULL, 10);
        }
        fprintf(stderr, "  (grown file, usr_limit %llu: pack succeeded, usr holds %llu bytes)\n",
                (unsigned long long)need.usr_bytes, (unsigned long long)total);
        free(d);
    }
    rec_clear(&r);
    ports_free(&p);
}

/* ------------------------------------------------------------------------ */
/* Allocation failures: every allocation in turn fails; pack returns
 * FSG_ERR_NOMEM and gives back every block and handle. */

static void test_pack_nomem(void)
{
    struct ports p;
    struct rec r = {0};
    struct fsg_pack o;
    struct fsg_pack_report rep;
    struct mp_talloc a = {0};

    ports_new(&p);
    small_tree(p.src);
    fault_opts(&o, &p, &r);
    o.buf = NULL; /* the buffer is allocated too */
    o.buf_size = 0;
    o.alloc = mp_talloc_fn;
    o.alloc_ctx = &a;
    CHECK_EQ_INT(fsg_pack(&o, &rep), 0);
    CHECK_EQ_INT(a.live, 0);
    unsigned long total = a.calls, bad = 0;
    CHECK(total > 10);
    for (unsigned long n = 1; n <= total; n++) {
        rec_clear(&r);
        outputs_renew(&p);
        fault_opts(&o, &p, &r);
        o.buf = NULL;
        o.buf_size = 0;
        o.alloc = mp_talloc_fn;
        o.alloc_ctx = &a;
        a.calls = 0;
        a.fail_at = n;
        a.live = 0;
        int ret = fsg_pack(&o, &rep);
        int ok = ret == FSG_ERR_NOMEM && a.live == 0;
        ok &= memport_open_handles(p.src) + memport_open_handles(p.usr) +
                  memport_open_handles(p.bak) == 0;
        CHECK(ok);
        if (!ok && bad++ < 10)
            fprintf(stderr, "  allocation %lu failing: ret %d, %ld blocks live\n", n, ret,
                    a.live);
    }
    rec_clear(&r);
    ports_free(&p);
}

/* ------------------------------------------------------------------------ */
/* Bad options.                                                             */

static void test_pack_bad_options(void)
{
    struct ports p;
    struct rec r = {0};
    struct fsg_pack o;
    struct fsg_pack_report rep;
    struct fsg_port nolist;

    ports_new(&p);
    small_tree(p.src);
    CHECK_EQ_INT(fsg_pack(NULL, &rep), FSG_ERR_INVAL);

    opts_init(&o, &p, &r);
    o.src = NULL;
    CHECK_EQ_INT(fsg_pack(&o, &rep), FSG_ERR_INVAL);

    nolist = *memport_port(p.src);
    nolist.list = NULL;
    opts_init(&o, &p, &r);
    o.src = &nolist;
    CHECK_EQ_INT(fsg_pack(&o, &rep), FSG_ERR_INVAL);

    opts_init(&o, &p, &r);
    o.usr = NULL;
    CHECK_EQ_INT(fsg_pack(&o, &rep), FSG_ERR_INVAL);
    opts_init(&o, &p, &r);
    o.bak = NULL;
    CHECK_EQ_INT(fsg_pack(&o, &rep), FSG_ERR_INVAL);

    opts_init(&o, &p, &r);
    o.buf = fbuf;
    o.buf_size = FSG_BUF_MIN - 1;
    CHECK_EQ_INT(fsg_pack(&o, &rep), FSG_ERR_INVAL);
    CHECK_EQ_INT(memport_mutating_calls(p.usr) + memport_mutating_calls(p.bak), 0);
    rec_clear(&r);
    ports_free(&p);
}

int main(void)
{
    tree_init();
    test_pack_tree();
    test_pack_empty();
    test_pack_deterministic();
    test_pack_protect();
    test_pack_then_boot();
    test_pack_refusals();
    test_pack_refusals_all();
    test_pack_unreadable();
    test_pack_limits();
    test_pack_output_faults();
    test_pack_source_faults();
    test_pack_changed();
    test_pack_grown_before_hash();
    test_pack_nomem();
    test_pack_bad_options();
    free(big_data);
    free(mid_data);
    return check_done("test_pack");
}
