/*
 * test_boot.c -- fsg_boot, step by step as fsguard.h documents it, on
 * in-memory partitions: the feature switch, the backup and user manifests,
 * every kind of damage and of obstacle, leftover temporary files, dry runs,
 * injected I/O errors at every storage operation, exit codes, and a
 * 100,000-file manifest.
 */
#include "check.h"
#include "fsg_internal.h"
#include "memport.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- the standard device ---- */

#define BIG_LEN 10000u   /* bigger than the default 4096-byte buffer */

static char big[BIG_LEN];

static void init_big(void)
{
    mp_fill(big, BIG_LEN, 7);
}

/* Five protected files, all intact, the two manifests identical. */
static void std_device(struct mp_device *d)
{
    mpdev_init(d);
    mpdev_add_str(d, "/usr/a.py", "print('a')\n");
    mpdev_add_str(d, "/usr/lib/b.py", "import a\n");
    mpdev_add_str(d, "/usr/lib/deep/c.json", "{\"x\": 1}");
    mpdev_add(d, "/usr/empty.txt", "", 0);
    mpdev_add(d, "/usr/big.bin", big, BIG_LEN);
    mpdev_save(d);
}

static const char *const std_names[] = {"/usr/a.py", "/usr/lib/b.py", "/usr/lib/deep/c.json",
                                        "/usr/empty.txt", "/usr/big.bin"};
#define NSTD 5

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    memcpy(d, s, n);
    return d;
}

static char *xmemdup(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

/* The factory content of name, from the backup partition. */
static const char *factory(const struct mp_device *d, const char *name, size_t *len)
{
    return memport_get(d->bak, name + 1, len);
}

/* True if the user file of name holds exactly its factory content. */
static int is_factory(const struct mp_device *d, const char *name)
{
    size_t fl, ul;
    const char *f = factory(d, name, &fl);
    const char *u = memport_get(d->usr, name + 5, &ul);
    return f != NULL && u != NULL && fl == ul && memcmp(f, u, fl) == 0;
}

static uint32_t crc_of(const char *s)
{
    return mp_crc(s, strlen(s));
}

/* Invariants after every call: handles closed, valid paths only, the
 * backup never written. */
static void check_port_hygiene(const struct mp_device *d)
{
    CHECK_EQ_INT(memport_open_handles(d->usr), 0);
    CHECK_EQ_INT(memport_open_handles(d->bak), 0);
    CHECK_EQ_INT(memport_bad_paths(d->usr), 0);
    CHECK_EQ_INT(memport_bad_paths(d->bak), 0);
    CHECK_EQ_INT(memport_mutating_calls(d->bak), 0);
}

/* Writes the user manifest from (name, hash) pairs; hash NULL leaves the
 * entry out, "" uses the factory hash. */
static void put_usr_manifest(struct mp_device *d, const char *const *names,
                             const char *const *hashes, size_t n)
{
    size_t cap = 64 + n * 700, len = 0;
    char *t = malloc(cap);
    len += (size_t)snprintf(t + len, cap - len, "[");
    for (size_t i = 0; i < n; i++) {
        char h[FSG_HASH_STRLEN];
        if (hashes[i] == NULL)
            continue;
        const char *hash = hashes[i];
        if (hash[0] == '\0') {
            size_t fl;
            const char *f = factory(d, names[i], &fl);
            hash = mp_hash_str(f, fl, h);
        }
        len += (size_t)snprintf(t + len, cap - len, "%s{\"name\": \"%s\", \"crc32\": \"%s\"}",
                                len > 1 ? ", " : "", names[i], hash);
    }
    snprintf(t + len, cap - len, "]");
    memport_put_str(d->usr, "checksum.json", t);
    free(t);
}

/* ---- the test port itself ---- */

static int list_collect(void *arg, const char *name, int type)
{
    char *out = arg;
    char line[64];
    snprintf(line, sizeof line, "%s:%d ", name, type);
    strcat(out, line);
    return 0;
}

/* memport keeps the port contract the core relies on. */
static void test_memport(void)
{
    struct memport *mp = memport_new();
    const struct fsg_port *p = memport_port(mp);
    struct fsg_stat st;
    void *f, *g;
    char buf[16];

    CHECK_EQ_INT(p->version, FSG_PORT_VERSION);
    memport_put_str(mp, "d/f", "abc");
    memport_symlink(mp, "ln", "d");
    memport_special(mp, "dev");
    /* Exclusive create, also over a link; then write, read back. */
    CHECK_EQ_INT(p->open(p->ctx, "d/f", FSG_OPEN_CREATE, &f), FSG_ERR_EXIST);
    CHECK_EQ_INT(p->open(p->ctx, "ln", FSG_OPEN_CREATE, &f), FSG_ERR_EXIST);
    CHECK_EQ_INT(p->open(p->ctx, "d/g", FSG_OPEN_CREATE, &f), 0);
    CHECK_EQ_INT(p->write(p->ctx, f, "xy", 2), 0);
    CHECK_EQ_INT(p->write(p->ctx, f, "z", 1), 0);
    CHECK_EQ_INT(p->sync(p->ctx, f), 0);
    CHECK_EQ_INT(p->close(p->ctx, f), 0);
    CHECK_EQ_STR(memport_get(mp, "d/g", NULL), "xyz");
    CHECK_EQ_INT(p->open(p->ctx, "d/g", FSG_OPEN_READ, &g), 0);
    CHECK_EQ_INT(p->read(p->ctx, g, buf, 2), 2);
    CHECK_EQ_INT(p->read(p->ctx, g, buf + 2, sizeof buf), 1);
    CHECK_EQ_INT(p->read(p->ctx, g, buf, sizeof buf), 0);
    CHECK(memcmp(buf, "xyz", 3) == 0);
    CHECK_EQ_INT(p->close(p->ctx, g), 0);
    /* Links are never followed. */
    CHECK_EQ_INT(p->stat(p->ctx, "ln", &st), 0);
    CHECK_EQ_INT(st.type, FSG_TYPE_LINK);
    CHECK_EQ_INT(p->stat(p->ctx, "ln/f", &st), FSG_ERR_LOOP);
    CHECK_EQ_INT(p->open(p->ctx, "ln/f", FSG_OPEN_READ, &f), FSG_ERR_LOOP);
    CHECK_EQ_INT(p->open(p->ctx, "ln", FSG_OPEN_READ, &f), FSG_ERR_LOOP);
    CHECK_EQ_INT(p->open(p->ctx, "ln/new", FSG_OPEN_CREATE, &f), FSG_ERR_LOOP);
    CHECK_EQ_INT(p->mkdir(p->ctx, "ln/x"), FSG_ERR_LOOP);
    char names[256] = "";
    CHECK_EQ_INT(p->list(p->ctx, "ln", list_collect, names), FSG_ERR_LOOP);
    CHECK_EQ_STR(names, "");
    CHECK_EQ_INT(p->stat(p->ctx, "d/f/x", &st), FSG_ERR_NOTDIR);
    CHECK_EQ_INT(p->stat(p->ctx, "nope/x", &st), FSG_ERR_NOENT);
    CHECK_EQ_INT(p->stat(p->ctx, "dev", &st), 0);
    CHECK_EQ_INT(st.type, FSG_TYPE_OTHER);
    CHECK_EQ_INT(p->open(p->ctx, "dev", FSG_OPEN_READ, &f), FSG_ERR_NOTREG);
    CHECK_EQ_INT(p->open(p->ctx, "d", FSG_OPEN_READ, &f), FSG_ERR_ISDIR);
    CHECK_EQ_INT(p->stat(p->ctx, "d/f", &st), 0);
    CHECK_EQ_INT(st.type, FSG_TYPE_REG);
    CHECK_EQ_INT(st.size, 3);
    /* Rename replaces a file or a link, never a directory. */
    CHECK_EQ_INT(p->rename(p->ctx, "d/g", "ln"), 0);
    CHECK_EQ_STR(memport_get(mp, "ln", NULL), "xyz");
    CHECK_EQ_INT(memport_exists(mp, "d/f"), FSG_TYPE_REG);
    CHECK_EQ_INT(p->rename(p->ctx, "ln", "d"), FSG_ERR_ISDIR);
    CHECK_EQ_INT(p->rename(p->ctx, "ln", "d/f"), 0);
    CHECK_EQ_STR(memport_get(mp, "d/f", NULL), "xyz");
    CHECK_EQ_INT(memport_exists(mp, "ln"), 0);
    CHECK_EQ_INT(p->remove(p->ctx, "d"), FSG_ERR_ISDIR);
    CHECK_EQ_INT(p->remove(p->ctx, "d/none"), FSG_ERR_NOENT);
    CHECK_EQ_INT(p->mkdir(p->ctx, "d"), FSG_ERR_EXIST);
    CHECK_EQ_INT(p->mkdir(p->ctx, "e"), 0);
    CHECK_EQ_INT(p->syncdir(p->ctx, ""), 0);
    CHECK_EQ_INT(p->syncdir(p->ctx, "d/f"), FSG_ERR_NOTDIR);
    CHECK_EQ_INT(p->list(p->ctx, "", list_collect, names), 0);
    CHECK_EQ_STR(names, "d:2 dev:4 e:2 ");
    /* Invalid paths are refused and counted. */
    CHECK_EQ_INT(memport_bad_paths(mp), 0);
    CHECK_EQ_INT(p->stat(p->ctx, "", &st), FSG_ERR_INVAL);
    CHECK_EQ_INT(p->stat(p->ctx, "/d", &st), FSG_ERR_INVAL);
    CHECK_EQ_INT(p->stat(p->ctx, "d/../d", &st), FSG_ERR_INVAL);
    CHECK_EQ_INT(p->remove(p->ctx, "d/"), FSG_ERR_INVAL);
    CHECK_EQ_INT(memport_bad_paths(mp), 4);
    /* A file removed while open lives until closed. */
    CHECK_EQ_INT(p->open(p->ctx, "d/f", FSG_OPEN_READ, &f), 0);
    CHECK_EQ_INT(p->remove(p->ctx, "d/f"), 0);
    CHECK_EQ_INT(p->read(p->ctx, f, buf, sizeof buf), 3);
    CHECK_EQ_INT(memport_open_handles(mp), 1);
    CHECK_EQ_INT(p->close(p->ctx, f), 0);
    CHECK_EQ_INT(memport_open_handles(mp), 0);
    /* Faults: the n-th call fails once (or from then on); close still
     * releases its handle. */
    memport_reset_ops(mp);
    memport_fail_at(mp, 2, FSG_ERR_IO, 0);
    CHECK_EQ_INT(p->stat(p->ctx, "d", &st), 0);
    CHECK_EQ_INT(p->stat(p->ctx, "d", &st), FSG_ERR_IO);
    CHECK_EQ_INT(p->stat(p->ctx, "d", &st), 0);
    CHECK_EQ_INT(memport_ops(mp)->total, 3);
    CHECK_EQ_INT(memport_ops(mp)->calls[FP_OP_STAT], 3);
    memport_fail_kind(mp, FP_OP_CLOSE, 1, FSG_ERR_IO, 1);
    CHECK_EQ_INT(p->open(p->ctx, "d/h", FSG_OPEN_CREATE, &f), 0);
    CHECK_EQ_INT(p->close(p->ctx, f), FSG_ERR_IO);
    CHECK_EQ_INT(memport_open_handles(mp), 0);
    memport_fail_kind(mp, FP_OP_CREATE, 1, FSG_ERR_NOSPC, 0);
    CHECK_EQ_INT(p->open(p->ctx, "d/i", FSG_OPEN_CREATE, &f), FSG_ERR_NOSPC);
    CHECK_EQ_INT(memport_exists(mp, "d/i"), 0);
    CHECK_EQ_INT(memport_faults_hit(mp), 3);
    memport_fail_clear(mp);
    CHECK_EQ_INT(memport_ops(mp)->creates, 1);
    CHECK_EQ_INT(memport_mutations(mp), 1);
    CHECK_EQ_INT(memport_mutating_calls(mp), 2);
    /* Read-only. */
    memport_set_readonly(mp, 1);
    CHECK_EQ_INT(p->open(p->ctx, "d/j", FSG_OPEN_CREATE, &f), FSG_ERR_ROFS);
    CHECK_EQ_INT(p->remove(p->ctx, "d/h"), FSG_ERR_ROFS);
    CHECK_EQ_INT(p->mkdir(p->ctx, "k"), FSG_ERR_ROFS);
    memport_free(mp);
}

/* ---- step 1: the feature switch ---- */

static void expect_switch(const char *text, int is_dir, int feature, int feature_error)
{
    struct mp_device d;
    struct fsg_report r;

    std_device(&d);
    if (is_dir) {
        memport_remove(d.bak, "backup_restore.json");
        memport_mkdir(d.bak, "backup_restore.json");
    } else if (text == NULL) {
        memport_remove(d.bak, "backup_restore.json");
    } else {
        memport_put_str(d.bak, "backup_restore.json", text);
    }
    /* Damage that an enabled pass would repair. */
    memport_put_str(d.usr, "a.py", "damaged");
    memport_remove(d.usr, "checksum.json");
    char *before = memport_dump(d.usr);

    CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
    CHECK_EQ_INT(r.feature, feature);
    if (feature_error <= 0) /* 1: not specified */
        CHECK_EQ_INT(r.feature_error, feature_error);
    CHECK_EQ_INT(r.files, 0);
    CHECK_EQ_INT(r.manifest, FSG_MANIFEST_UNCHANGED);
    CHECK_EQ_INT(fsg_report_exit_code(&r), 0);
    /* Only one look, for an update to settle (.fsg-fota): nothing read
     * beyond it, nothing written. */
    CHECK_EQ_INT(memport_ops(d.usr)->total, 1);
    CHECK_EQ_INT(memport_ops(d.usr)->calls[FP_OP_STAT], 1);
    CHECK_EQ_INT(memport_mutating_calls(d.usr), 0);
    CHECK_EQ_INT(mpdev_count(&d, FSG_EVENT_FILE), 0);
    char *after = memport_dump(d.usr);
    CHECK_EQ_STR(after, before);
    check_port_hygiene(&d);
    if (r.feature != feature)
        fprintf(stderr, "  (switch: %s)\n", text != NULL ? text : "(missing)");
    free(before);
    free(after);
    mpdev_free(&d);
}

static void test_switch(void)
{
    expect_switch(NULL, 0, FSG_FEATURE_NO_SWITCH, 1);
    expect_switch("{\"enable\": 0}", 0, FSG_FEATURE_DISABLED, 0);
    expect_switch("{\"enable\": false}", 0, FSG_FEATURE_DISABLED, 0);
    expect_switch("{\"enable\": 0.0}", 0, FSG_FEATURE_DISABLED, 0);
    expect_switch("{\"enable\"", 0, FSG_FEATURE_BAD_SWITCH, FSG_ERR_CORRUPT);
    expect_switch("", 0, FSG_FEATURE_BAD_SWITCH, FSG_ERR_CORRUPT);
    expect_switch("{}", 0, FSG_FEATURE_BAD_SWITCH, FSG_ERR_CORRUPT);
    expect_switch("[1]", 0, FSG_FEATURE_BAD_SWITCH, FSG_ERR_CORRUPT);
    expect_switch("{\"Enable\": 1}", 0, FSG_FEATURE_BAD_SWITCH, FSG_ERR_CORRUPT);
    expect_switch(NULL, 1, FSG_FEATURE_BAD_SWITCH, FSG_ERR_ISDIR);

    /* Enabled by anything but 0 or false, as QuecPython's flag != 0 test
     * does ("1", "0" and null included): the pass runs and repairs. */
    static const char *const on[] = {"{\"enable\": 1}", "{\"enable\": true}",
                                     "{\"enable\":1,\"other\":\"x\"}", "\n{ \"enable\" : 1 }\n",
                                     "{\"enable\": \"1\"}", "{\"enable\": \"0\"}",
                                     "{\"enable\": null}", "{\"enable\": 2}"};
    for (size_t i = 0; i < sizeof on / sizeof on[0]; i++) {
        struct mp_device d;
        struct fsg_report r;
        std_device(&d);
        memport_put_str(d.bak, "backup_restore.json", on[i]);
        memport_put_str(d.usr, "a.py", "damaged");
        CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
        CHECK_EQ_INT(r.feature, FSG_FEATURE_ENABLED);
        CHECK_EQ_INT(r.feature_error, 0);
        CHECK_EQ_INT(r.restored, 1);
        CHECK(is_factory(&d, "/usr/a.py"));
        mpdev_free(&d);
    }
}

/* ---- step 2: the backup manifest ---- */

static void expect_bak_unusable(int how, int want)
{
    struct mp_device d;
    struct fsg_report r;

    std_device(&d);
    if (how == 0)
        memport_remove(d.bak, "checksum.json");
    else if (how == 1)
        memport_put_str(d.bak, "checksum.json", "[{\"name\": \"/usr/a.py\", ");
    else if (how == 2)
        memport_put_str(d.bak, "checksum.json", "{\"files\": []}");
    else {
        memport_remove(d.bak, "checksum.json");
        memport_mkdir(d.bak, "checksum.json");
    }
    memport_put_str(d.usr, "a.py", "damaged");
    memport_remove(d.usr, "checksum.json");
    memport_put_str(d.usr, ".checksum.json.fsg-tmp", "leftover");
    char *before = memport_dump(d.usr);

    int ret = mpdev_boot(&d, 0, &r);
    CHECK_EQ_INT(ret, want);
    CHECK(ret < 0);
    CHECK_EQ_INT(r.feature, FSG_FEATURE_ENABLED);
    CHECK_EQ_INT(r.bak_manifest_error, want);
    CHECK_EQ_INT(r.files, 0);
    CHECK_EQ_INT(memport_mutating_calls(d.usr), 0);
    char *after = memport_dump(d.usr);
    CHECK_EQ_STR(after, before);
    CHECK_EQ_INT(mpdev_count(&d, FSG_EVENT_FILE), 0);
    check_port_hygiene(&d);
    if (how == 1)
        CHECK(r.bak_manifest_offset > 0);
    free(before);
    free(after);
    mpdev_free(&d);
}

static void test_bak_manifest(void)
{
    expect_bak_unusable(0, FSG_ERR_NOENT);
    expect_bak_unusable(1, FSG_ERR_CORRUPT);
    expect_bak_unusable(2, FSG_ERR_CORRUPT);
    expect_bak_unusable(3, FSG_ERR_ISDIR);
}

/* ---- step 3: the user manifest ---- */

static void test_usr_manifest_missing(void)
{
    struct mp_device d;
    struct fsg_report r;

    std_device(&d);
    memport_remove(d.usr, "checksum.json");
    CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
    CHECK_EQ_INT(r.manifest, FSG_MANIFEST_CREATED);
    CHECK_EQ_INT(r.manifest_written, 1);
    CHECK_EQ_INT(r.usr_manifest_error, 0);
    CHECK_EQ_INT(r.entries_added, 0);
    CHECK_EQ_INT(r.files, NSTD);
    CHECK_EQ_INT(r.ok, NSTD);
    CHECK_EQ_INT(fsg_report_exit_code(&r), 1);
    /* Same entries, same order, as the backup's. */
    cJSON *u = cJSON_Parse(memport_get(d.usr, "checksum.json", NULL));
    cJSON *b = cJSON_Parse(memport_get(d.bak, "checksum.json", NULL));
    CHECK(u != NULL && cJSON_IsArray(u));
    CHECK(cJSON_Compare(u, b, 1));
    cJSON_Delete(u);
    cJSON_Delete(b);
    /* Only the manifest was written, through a temporary file. */
    CHECK_EQ_INT(memport_ops(d.usr)->creates, 1);
    CHECK_EQ_INT(memport_ops(d.usr)->renames, 1);
    CHECK_EQ_INT(memport_ops(d.usr)->mkdirs, 0);
    CHECK(strstr(memport_trace(d.usr), "rename .checksum.json.fsg-tmp checksum.json\n") != NULL);
    CHECK(strstr(memport_trace(d.usr), "syncdir \n") != NULL);
    CHECK(memport_protocol_ok(d.usr));
    CHECK_EQ_INT(memport_count_temps(d.usr, NULL, 0), 0);
    check_port_hygiene(&d);
    for (size_t i = 0; i < NSTD; i++) {
        const struct mp_event *e = mpdev_event(&d, FSG_EVENT_FILE, std_names[i]);
        CHECK(e != NULL && e->status == FSG_STATUS_OK && e->entry_added == 0);
    }
    mpdev_free(&d);
}

static void test_usr_manifest_invalid(void)
{
    static const char *const bad[] = {"[{\"name\": \"/usr/a.py\", \"crc32\": ", "{}", "garbage", ""};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        struct mp_device d;
        struct fsg_report r;
        std_device(&d);
        memport_put_str(d.usr, "checksum.json", bad[k]);
        memport_put_str(d.usr, "lib/b.py", "damaged too");
        CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
        CHECK_EQ_INT(r.manifest, FSG_MANIFEST_REBUILT);
        CHECK_EQ_INT(r.usr_manifest_error, FSG_ERR_CORRUPT);
        CHECK_EQ_INT(r.manifest_written, 1);
        CHECK_EQ_INT(r.restored, 1);
        CHECK_EQ_INT(r.ok, NSTD - 1);
        CHECK(is_factory(&d, "/usr/lib/b.py"));
        CHECK_EQ_STR(memport_get(d.usr, "checksum.json", NULL) != NULL ? "x" : NULL, "x");
        /* Its bytes are not discarded: kept aside, like fsck's lost+found. */
        CHECK_EQ_INT(r.usr_manifest_kept, 1);
        CHECK_EQ_STR(memport_get(d.usr, "checksum.json.bad", NULL), bad[k]);
        CHECK_EQ_INT(mpdev_count(&d, FSG_EVENT_FILE), NSTD);
        uint32_t crc;
        for (size_t i = 0; i < NSTD; i++) {
            size_t fl;
            const char *f = factory(&d, std_names[i], &fl);
            CHECK_EQ_INT(mpdev_usr_crc(&d, std_names[i], &crc), 1);
            CHECK_EQ_INT(crc, mp_crc(f, fl));
        }
        check_port_hygiene(&d);
        mpdev_free(&d);
    }

    /* Kept aside again and again, never over an earlier one; a dry run
     * only says where; with all ten names taken, the newest is not kept
     * (the ten are), and the table is rebuilt all the same. */
    {
        struct mp_device d;
        struct fsg_report r;
        char name[32], text[32];
        std_device(&d);
        for (unsigned n = 1; n <= 10; n++) {
            snprintf(text, sizeof text, "[broken %u", n);
            memport_put_str(d.usr, "checksum.json", text);
            CHECK_EQ_INT(mpdev_boot(&d, FSG_DRY_RUN, &r), 0);
            CHECK_EQ_INT(r.usr_manifest_kept, n <= 9 ? n : 0);
            CHECK_EQ_INT(memport_mutating_calls(d.usr), 0);
            CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
            CHECK_EQ_INT(r.manifest, FSG_MANIFEST_REBUILT);
            CHECK_EQ_INT(r.usr_manifest_kept, n <= 9 ? n : 0);
            CHECK(memport_protocol_ok(d.usr));
        }
        for (unsigned n = 1; n <= 9; n++) {
            snprintf(name, sizeof name, n == 1 ? "checksum.json.bad" : "checksum.json.bad.%u", n);
            snprintf(text, sizeof text, "[broken %u", n);
            CHECK_EQ_STR(memport_get(d.usr, name, NULL), text);
        }
        CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
        CHECK_EQ_INT(fsg_report_exit_code(&r), 0);
        mpdev_free(&d);
    }

    /* A user manifest that is a directory cannot be replaced: reported,
     * files still checked and repaired, the directory left alone. */
    struct mp_device d;
    struct fsg_report r;
    std_device(&d);
    memport_remove(d.usr, "checksum.json");
    memport_put_str(d.usr, "checksum.json/inner", "x");
    memport_remove(d.usr, "a.py");
    int ret = mpdev_boot(&d, 0, &r);
    CHECK_EQ_INT(ret, FSG_ERR_ISDIR);
    CHECK_EQ_INT(r.manifest, FSG_MANIFEST_REBUILT);
    CHECK_EQ_INT(r.usr_manifest_error, FSG_ERR_ISDIR);
    CHECK_EQ_INT(r.manifest_written, 0);
    CHECK(is_factory(&d, "/usr/a.py"));
    CHECK_EQ_STR(memport_get(d.usr, "checksum.json/inner", NULL), "x");
    CHECK_EQ_INT(memport_count_temps(d.usr, NULL, 0), 0);
    check_port_hygiene(&d);
    mpdev_free(&d);
}

/* A single read error on the user manifest is retried, so the hashes of
 * legitimate edits survive it; a persistent one gives the table up. */
static void test_usr_manifest_read_retry(void)
{
    for (int persistent = 0; persistent <= 1; persistent++) {
        struct mp_device d;
        struct fsg_report r;
        uint32_t crc;
        std_device(&d);
        memport_put_str(d.usr, "a.py", "print('edited')\n");
        CHECK_EQ_INT(fsg_calc(&d.cfg, "/usr/a.py", &crc), 0);
        mpdev_reset(&d);
        /* The first read in the user partition is the manifest's. */
        memport_fail_kind(d.usr, FP_OP_READ, 1, FSG_ERR_IO, persistent);
        d.record = 1;
        int ret = fsg_boot(&d.cfg, 0, &r);
        memport_fail_clear(d.usr);
        if (!persistent) {
            CHECK_EQ_INT(ret, 0);
            CHECK_EQ_INT(r.manifest, FSG_MANIFEST_UNCHANGED);
            CHECK_EQ_INT(r.ok, NSTD);
            CHECK_EQ_INT(fsg_report_exit_code(&r), 0);
            CHECK_EQ_STR(memport_get(d.usr, "a.py", NULL), "print('edited')\n");
            CHECK_EQ_INT(memport_mutations(d.usr), 0);
        } else {
            /* Every read fails: the table cannot be read, which says nothing
             * of it, so it is not rebuilt over the recorded edit: the boot
             * fails and writes nothing. */
            CHECK_EQ_INT(ret, FSG_ERR_IO);
            CHECK_EQ_INT(r.manifest, FSG_MANIFEST_UNCHANGED);
            CHECK_EQ_INT(r.usr_manifest_error, FSG_ERR_IO);
            CHECK_EQ_INT(memport_mutating_calls(d.usr), 0);
            CHECK_EQ_STR(memport_get(d.usr, "a.py", NULL), "print('edited')\n");
            CHECK(mpdev_usr_crc(&d, "/usr/a.py", &crc) == 1 &&
                  crc == mp_crc("print('edited')\n", 16));
        }
        mpdev_free(&d);
    }
}

/* ---- step 4: damage ---- */

/* Boots, expecting exactly one file (name) to be restored with problem. */
static void expect_one_restored(struct mp_device *d, const char *name, int problem)
{
    struct fsg_report r;
    size_t ul = 0;
    const char *u = memport_get(d->usr, name + 5, &ul);
    int had = u != NULL;
    uint32_t before = had ? mp_crc(u, ul) : 0;

    CHECK_EQ_INT(mpdev_boot(d, 0, &r), 0);
    CHECK_EQ_INT(r.files, NSTD);
    CHECK_EQ_INT(r.restored, 1);
    CHECK_EQ_INT(r.ok, NSTD - 1);
    CHECK_EQ_INT(r.failed, 0);
    CHECK_EQ_INT(r.manifest, FSG_MANIFEST_UNCHANGED);
    CHECK_EQ_INT(r.manifest_written, 0);
    CHECK_EQ_INT(fsg_report_exit_code(&r), 1);
    CHECK(is_factory(d, name));
    CHECK_EQ_INT(memport_exists(d->usr, name + 5), FSG_TYPE_REG);
    const struct mp_event *e = mpdev_event(d, FSG_EVENT_FILE, name);
    CHECK(e != NULL);
    if (e != NULL) {
        size_t fl;
        const char *f = factory(d, name, &fl);
        CHECK_EQ_INT(e->status, FSG_STATUS_RESTORED);
        CHECK_EQ_INT(e->problem, problem);
        CHECK_EQ_INT(e->failure, FSG_FAILURE_NONE);
        CHECK_EQ_INT(e->expected, mp_crc(f, fl));
        CHECK_EQ_INT(e->recorded, mp_crc(f, fl));
        CHECK_EQ_INT(e->has_actual, problem == FSG_PROBLEM_MISMATCH);
        if (problem == FSG_PROBLEM_MISMATCH)
            CHECK_EQ_INT(e->actual, before);
        CHECK_EQ_INT(e->hash_only, 0);
        CHECK_EQ_INT(e->entry_added, 0);
    }
    /* Written through a temporary file renamed over the target. */
    char want[700];
    const char *path = name + 5, *slash = strrchr(path, '/');
    if (slash != NULL)
        snprintf(want, sizeof want, "rename %.*s/.%s.fsg-tmp %s\n", (int)(slash - path), path,
                 slash + 1, path);
    else
        snprintf(want, sizeof want, "rename .%s.fsg-tmp %s\n", path, path);
    CHECK(strstr(memport_trace(d->usr), want) != NULL);
    CHECK(memport_protocol_ok(d->usr));
    CHECK_EQ_INT(memport_ops(d->usr)->renames, 1);
    CHECK_EQ_INT(memport_count_temps(d->usr, NULL, 0), 0);
    check_port_hygiene(d);

    /* The other files' events say OK, in manifest order. */
    size_t k = 0;
    for (size_t i = 0; i < d->nev; i++) {
        if (d->ev[i].kind != FSG_EVENT_FILE)
            continue;
        CHECK(k < NSTD && strcmp(d->ev[i].name, std_names[k]) == 0);
        if (strcmp(d->ev[i].name, name) != 0)
            CHECK_EQ_INT(d->ev[i].status, FSG_STATUS_OK);
        k++;
    }
    CHECK_EQ_INT(k, NSTD);

    /* A second boot is a no-op. */
    CHECK_EQ_INT(mpdev_boot(d, 0, &r), 0);
    CHECK_EQ_INT(r.ok, NSTD);
    CHECK_EQ_INT(r.restored, 0);
    CHECK_EQ_INT(fsg_report_exit_code(&r), 0);
    CHECK_EQ_INT(memport_mutating_calls(d->usr), 0);
}

static void test_damage(void)
{
    struct mp_device d;

    /* Missing. */
    std_device(&d);
    memport_remove(d.usr, "a.py");
    expect_one_restored(&d, "/usr/a.py", FSG_PROBLEM_MISSING);
    mpdev_free(&d);

    /* One bit flipped in a file bigger than the I/O buffer. */
    std_device(&d);
    {
        char *copy = xmemdup(big, BIG_LEN);
        copy[BIG_LEN - 10] ^= 0x04;
        memport_put(d.usr, "big.bin", copy, BIG_LEN);
        free(copy);
    }
    expect_one_restored(&d, "/usr/big.bin", FSG_PROBLEM_MISMATCH);
    mpdev_free(&d);

    /* Truncated. */
    std_device(&d);
    memport_put(d.usr, "lib/b.py", "impo", 4);
    expect_one_restored(&d, "/usr/lib/b.py", FSG_PROBLEM_MISMATCH);
    mpdev_free(&d);

    /* Truncated to nothing. */
    std_device(&d);
    memport_put(d.usr, "big.bin", "", 0);
    expect_one_restored(&d, "/usr/big.bin", FSG_PROBLEM_MISMATCH);
    mpdev_free(&d);

    /* Grown. */
    std_device(&d);
    memport_put_str(d.usr, "a.py", "print('a')\nprint('evil')\n");
    expect_one_restored(&d, "/usr/a.py", FSG_PROBLEM_MISMATCH);
    mpdev_free(&d);

    /* The empty file went missing: it comes back, empty. */
    std_device(&d);
    memport_remove(d.usr, "empty.txt");
    expect_one_restored(&d, "/usr/empty.txt", FSG_PROBLEM_MISSING);
    mpdev_free(&d);

    /* The empty file got content. */
    std_device(&d);
    memport_put_str(d.usr, "empty.txt", "x");
    expect_one_restored(&d, "/usr/empty.txt", FSG_PROBLEM_MISMATCH);
    mpdev_free(&d);

    /* A special file where a file should be is replaced. */
    std_device(&d);
    memport_special(d.usr, "a.py");
    expect_one_restored(&d, "/usr/a.py", FSG_PROBLEM_NOT_REGULAR);
    mpdev_free(&d);
}

/* A whole directory gone: its files come back, and the directories. */
static void test_dir_gone(void)
{
    struct mp_device d;
    struct fsg_report r;

    std_device(&d);
    memport_remove(d.usr, "lib");
    CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
    CHECK_EQ_INT(r.restored, 2);
    CHECK_EQ_INT(r.ok, 3);
    CHECK_EQ_INT(r.failed, 0);
    CHECK_EQ_INT(memport_exists(d.usr, "lib"), FSG_TYPE_DIR);
    CHECK_EQ_INT(memport_exists(d.usr, "lib/deep"), FSG_TYPE_DIR);
    CHECK(is_factory(&d, "/usr/lib/b.py"));
    CHECK(is_factory(&d, "/usr/lib/deep/c.json"));
    CHECK_EQ_INT(memport_ops(d.usr)->mkdirs, 2);
    CHECK(strstr(memport_trace(d.usr), "mkdir lib\n") != NULL);
    CHECK(strstr(memport_trace(d.usr), "mkdir lib/deep\n") != NULL);
    CHECK(memport_protocol_ok(d.usr));
    /* The two directories, then each file, in manifest order. */
    CHECK(strstr(memport_trace(d.usr), "rename lib/.b.py.fsg-tmp lib/b.py\n") <
          strstr(memport_trace(d.usr), "rename lib/deep/.c.json.fsg-tmp lib/deep/c.json\n"));
    const struct mp_event *e = mpdev_event(&d, FSG_EVENT_FILE, "/usr/lib/deep/c.json");
    CHECK(e != NULL && e->problem == FSG_PROBLEM_MISSING && e->status == FSG_STATUS_RESTORED);
    CHECK_EQ_INT(memport_count_temps(d.usr, NULL, 0), 0);
    check_port_hygiene(&d);
    CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
    CHECK_EQ_INT(memport_mutating_calls(d.usr), 0);
    CHECK_EQ_INT(r.ok, NSTD);
    mpdev_free(&d);
}

/* ---- repairs that must not happen ---- */

static void test_bak_copy_missing(void)
{
    struct mp_device d;
    struct fsg_report r;

    /* Damaged user file, no backup copy: left alone. */
    std_device(&d);
    memport_remove(d.bak, "usr/a.py");
    memport_put_str(d.usr, "a.py", "damaged");
    char *before = memport_dump(d.usr);
    CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
    CHECK_EQ_INT(r.failed, 1);
    CHECK_EQ_INT(r.restored, 0);
    CHECK_EQ_INT(r.ok, NSTD - 1);
    CHECK_EQ_INT(fsg_report_exit_code(&r), 4);
    const struct mp_event *e = mpdev_event(&d, FSG_EVENT_FILE, "/usr/a.py");
    CHECK(e != NULL);
    if (e != NULL) {
        CHECK_EQ_INT(e->status, FSG_STATUS_FAILED);
        CHECK_EQ_INT(e->problem, FSG_PROBLEM_MISMATCH);
        CHECK_EQ_INT(e->failure, FSG_FAILURE_BAK_MISSING);
        CHECK_EQ_INT(e->error, FSG_ERR_NOENT);
        CHECK_EQ_INT(e->recorded, e->expected);
        CHECK_EQ_INT(e->actual, crc_of("damaged"));
    }
    CHECK_EQ_STR(memport_get(d.usr, "a.py", NULL), "damaged");
    CHECK_EQ_INT(memport_mutating_calls(d.usr), 0);
    char *after = memport_dump(d.usr);
    CHECK_EQ_STR(after, before);
    free(before);
    free(after);
    check_port_hygiene(&d);
    mpdev_free(&d);

    /* Missing user file, no backup copy: still missing, no directory made. */
    std_device(&d);
    memport_remove(d.bak, "usr/lib/deep/c.json");
    memport_remove(d.usr, "lib/deep");
    CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
    CHECK_EQ_INT(r.failed, 1);
    e = mpdev_event(&d, FSG_EVENT_FILE, "/usr/lib/deep/c.json");
    CHECK(e != NULL && e->failure == FSG_FAILURE_BAK_MISSING && e->problem == FSG_PROBLEM_MISSING);
    CHECK_EQ_INT(memport_exists(d.usr, "lib/deep"), 0);
    CHECK_EQ_INT(memport_mutating_calls(d.usr), 0);
    mpdev_free(&d);

    /* A backup "copy" that is a directory or a link is unreadable. */
    for (int k = 0; k < 2; k++) {
        std_device(&d);
        memport_remove(d.bak, "usr/a.py");
        if (k == 0)
            memport_mkdir(d.bak, "usr/a.py");
        else
            memport_symlink(d.bak, "usr/a.py", "lib/b.py");
        memport_put_str(d.usr, "a.py", "damaged");
        CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
        e = mpdev_event(&d, FSG_EVENT_FILE, "/usr/a.py");
        CHECK(e != NULL && e->status == FSG_STATUS_FAILED &&
              e->failure == FSG_FAILURE_BAK_UNREADABLE);
        CHECK_EQ_STR(memport_get(d.usr, "a.py", NULL), "damaged");
        CHECK_EQ_INT(memport_mutating_calls(d.usr), 0);
        check_port_hygiene(&d);
        mpdev_free(&d);
    }
}

static void test_bak_copy_damaged(void)
{
    for (int variant = 0; variant < 3; variant++) {
        struct mp_device d;
        struct fsg_report r;
        std_device(&d);
        /* 0: same length, 1: shorter, 2: user entry held its own hash. */
        memport_put_str(d.bak, "usr/lib/b.py", variant == 1 ? "imp" : "import b\n");
        if (variant == 2) {
            const char *h[NSTD] = {"", "0x12345678", "", "", ""};
            put_usr_manifest(&d, std_names, h, NSTD);
        }
        if (variant == 1)
            memport_remove(d.usr, "lib/b.py");
        else
            memport_put_str(d.usr, "lib/b.py", "xx");
        char *man = xstrdup(memport_get(d.usr, "checksum.json", NULL));

        CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
        CHECK_EQ_INT(r.failed, 1);
        CHECK_EQ_INT(r.restored, 0);
        const struct mp_event *e = mpdev_event(&d, FSG_EVENT_FILE, "/usr/lib/b.py");
        CHECK(e != NULL);
        if (e != NULL) {
            CHECK_EQ_INT(e->status, FSG_STATUS_FAILED);
            CHECK_EQ_INT(e->failure, FSG_FAILURE_BAK_DAMAGED);
            CHECK_EQ_INT(e->recorded, e->expected);
        }
        /* The user file is untouched, no temporary is left, and the bad
         * copy's hash was not recorded. */
        if (variant == 1)
            CHECK_EQ_INT(memport_exists(d.usr, "lib/b.py"), 0);
        else
            CHECK_EQ_STR(memport_get(d.usr, "lib/b.py", NULL), "xx");
        CHECK_EQ_INT(memport_count_temps(d.usr, NULL, 0), 0);
        CHECK_EQ_INT(r.manifest_written, 0);
        CHECK_EQ_STR(memport_get(d.usr, "checksum.json", NULL), man);
        CHECK_EQ_INT(memport_ops(d.usr)->renames, 0);
        CHECK_EQ_INT(fsg_report_exit_code(&r), 4);
        check_port_hygiene(&d);
        free(man);
        mpdev_free(&d);
    }
}

/* A directory where the file should be: blocked, the directory untouched. */
static void test_dir_at_target(void)
{
    struct mp_device d;
    struct fsg_report r;

    std_device(&d);
    memport_remove(d.usr, "a.py");
    memport_put_str(d.usr, "a.py/keep", "precious");
    char *before = memport_dump(d.usr);
    CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
    CHECK_EQ_INT(r.failed, 1);
    CHECK_EQ_INT(r.ok, NSTD - 1);
    const struct mp_event *e = mpdev_event(&d, FSG_EVENT_FILE, "/usr/a.py");
    CHECK(e != NULL);
    if (e != NULL) {
        CHECK_EQ_INT(e->status, FSG_STATUS_FAILED);
        CHECK_EQ_INT(e->problem, FSG_PROBLEM_NOT_REGULAR);
        CHECK_EQ_INT(e->failure, FSG_FAILURE_BLOCKED);
        CHECK_EQ_INT(e->has_actual, 0);
    }
    CHECK_EQ_INT(memport_exists(d.usr, "a.py"), FSG_TYPE_DIR);
    CHECK_EQ_STR(memport_get(d.usr, "a.py/keep", NULL), "precious");
    char *after = memport_dump(d.usr);
    CHECK_EQ_STR(after, before);
    CHECK_EQ_INT(memport_count_temps(d.usr, NULL, 0), 0);
    CHECK_EQ_INT(fsg_report_exit_code(&r), 4);
    check_port_hygiene(&d);
    free(before);
    free(after);
    mpdev_free(&d);
}

/* A link where the file should be is replaced by the restored file; what
 * it pointed to is untouched. */
static void test_symlink_at_target(void)
{
    static const char *const targets[] = {"lib/b.py", "../../etc/passwd", "a.py", "nowhere"};
    for (size_t k = 0; k < sizeof targets / sizeof targets[0]; k++) {
        struct mp_device d;
        std_device(&d);
        memport_remove(d.usr, "a.py");
        memport_symlink(d.usr, "a.py", targets[k]);
        char *b_before = xstrdup(memport_get(d.usr, "lib/b.py", NULL));
        expect_one_restored(&d, "/usr/a.py", FSG_PROBLEM_NOT_REGULAR);
        CHECK_EQ_STR(memport_get(d.usr, "lib/b.py", NULL), b_before);
        CHECK(memport_link_target(d.usr, "a.py") == NULL);
        free(b_before);
        mpdev_free(&d);
    }
}

/* A parent that is a link, or a file: nothing is written through or over it. */
static void test_unsafe_parent(void)
{
    for (int k = 0; k < 2; k++) {
        struct mp_device d;
        struct fsg_report r;
        std_device(&d);
        memport_remove(d.usr, "lib");
        if (k == 0) {
            memport_symlink(d.usr, "lib", "real");
            memport_put_str(d.usr, "real/b.py", "other b");
            memport_put_str(d.usr, "real/deep/c.json", "other c");
        } else {
            memport_put_str(d.usr, "lib", "a file, not a directory");
        }
        char *before = memport_dump(d.usr);
        CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
        CHECK_EQ_INT(r.failed, 2);
        CHECK_EQ_INT(r.ok, 3);
        for (int i = 1; i <= 2; i++) {
            const struct mp_event *e = mpdev_event(&d, FSG_EVENT_FILE, std_names[i]);
            CHECK(e != NULL);
            if (e == NULL)
                continue;
            CHECK_EQ_INT(e->status, FSG_STATUS_FAILED);
            CHECK_EQ_INT(e->problem, FSG_PROBLEM_UNSAFE_PATH);
            CHECK_EQ_INT(e->failure, FSG_FAILURE_BLOCKED);
            CHECK_EQ_INT(e->error, k == 0 ? FSG_ERR_LOOP : FSG_ERR_NOTDIR);
        }
        CHECK_EQ_INT(memport_mutating_calls(d.usr), 0);
        char *after = memport_dump(d.usr);
        CHECK_EQ_STR(after, before);
        if (k == 0) {
            CHECK_EQ_STR(memport_get(d.usr, "real/b.py", NULL), "other b");
            CHECK_EQ_STR(memport_link_target(d.usr, "lib"), "real");
        }
        CHECK_EQ_INT(fsg_report_exit_code(&r), 4);
        check_port_hygiene(&d);
        free(before);
        free(after);
        mpdev_free(&d);
    }
}

/* ---- step 6: entries put back; hash-only corrections ---- */

static void test_entry_put_back(void)
{
    struct mp_device d;
    struct fsg_report r;
    const char *h[NSTD] = {"", NULL, "", "", ""};

    std_device(&d);
    put_usr_manifest(&d, std_names, h, NSTD);
    CHECK_EQ_INT(mpdev_usr_crc(&d, "/usr/lib/b.py", &(uint32_t){0}), 0);
    CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
    CHECK_EQ_INT(r.entries_added, 1);
    CHECK_EQ_INT(r.manifest, FSG_MANIFEST_UPDATED);
    CHECK_EQ_INT(r.manifest_written, 1);
    CHECK_EQ_INT(r.files, NSTD);
    CHECK_EQ_INT(r.ok, NSTD);
    CHECK_EQ_INT(fsg_report_exit_code(&r), 1);
    const struct mp_event *e = mpdev_event(&d, FSG_EVENT_FILE, "/usr/lib/b.py");
    CHECK(e != NULL && e->entry_added == 1 && e->status == FSG_STATUS_OK);
    /* Put-back entries are checked after the others. */
    CHECK(e == &d.ev[d.nev - 1]);
    e = mpdev_event(&d, FSG_EVENT_FILE, "/usr/a.py");
    CHECK(e != NULL && e->entry_added == 0);
    uint32_t crc = 0;
    CHECK_EQ_INT(mpdev_usr_crc(&d, "/usr/lib/b.py", &crc), 1);
    CHECK_EQ_INT(crc, crc_of("import a\n"));
    /* The file itself was not rewritten. */
    CHECK(strstr(memport_trace(d.usr), "b.py") == NULL);
    check_port_hygiene(&d);
    CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
    CHECK_EQ_INT(memport_mutating_calls(d.usr), 0);
    CHECK_EQ_INT(r.entries_added, 0);
    mpdev_free(&d);

    /* Missing entry and missing file: both come back. */
    std_device(&d);
    put_usr_manifest(&d, std_names, h, NSTD);
    memport_remove(d.usr, "lib/b.py");
    CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
    CHECK_EQ_INT(r.entries_added, 1);
    CHECK_EQ_INT(r.restored, 1);
    CHECK(is_factory(&d, "/usr/lib/b.py"));
    e = mpdev_event(&d, FSG_EVENT_FILE, "/usr/lib/b.py");
    CHECK(e != NULL && e->entry_added == 1 && e->status == FSG_STATUS_RESTORED);
    mpdev_free(&d);
}

static void test_hash_only(void)
{
    struct mp_device d;
    struct fsg_report r;
    char he[FSG_HASH_STRLEN];
    const char *h[NSTD] = {"", "", "", "", ""};

    /* The user manifest holds the hash of an edit, but the file holds the
     * factory content: only the hash is corrected. */
    std_device(&d);
    h[0] = fsg_hash_format(crc_of("edited\n"), he);
    put_usr_manifest(&d, std_names, h, NSTD);
    CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
    CHECK_EQ_INT(r.restored, 1);
    CHECK_EQ_INT(r.manifest, FSG_MANIFEST_UPDATED);
    CHECK_EQ_INT(r.manifest_written, 1);
    const struct mp_event *e = mpdev_event(&d, FSG_EVENT_FILE, "/usr/a.py");
    CHECK(e != NULL);
    if (e != NULL) {
        CHECK_EQ_INT(e->status, FSG_STATUS_RESTORED);
        CHECK_EQ_INT(e->hash_only, 1);
        CHECK_EQ_INT(e->problem, FSG_PROBLEM_MISMATCH);
        CHECK_EQ_INT(e->expected, crc_of("edited\n"));
        CHECK_EQ_INT(e->actual, crc_of("print('a')\n"));
        CHECK_EQ_INT(e->recorded, crc_of("print('a')\n"));
    }
    /* Only checksum.json was written: no create or rename for a.py. */
    CHECK(strstr(memport_trace(d.usr), "a.py") == NULL);
    CHECK_EQ_INT(memport_ops(d.usr)->creates, 1);
    CHECK_EQ_INT(memport_ops(d.usr)->renames, 1);
    CHECK_EQ_INT(memport_ops(d.bak)->calls[FP_OP_OPEN], 2); /* switch + manifest only */
    uint32_t crc = 0;
    CHECK_EQ_INT(mpdev_usr_crc(&d, "/usr/a.py", &crc), 1);
    CHECK_EQ_INT(crc, crc_of("print('a')\n"));
    check_port_hygiene(&d);
    mpdev_free(&d);

    /* A legitimate edit, recorded: left alone, nothing written. */
    std_device(&d);
    put_usr_manifest(&d, std_names, h, NSTD);
    memport_put_str(d.usr, "a.py", "edited\n");
    CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
    CHECK_EQ_INT(r.ok, NSTD);
    CHECK_EQ_INT(memport_mutating_calls(d.usr), 0);
    CHECK_EQ_STR(memport_get(d.usr, "a.py", NULL), "edited\n");
    CHECK_EQ_INT(fsg_report_exit_code(&r), 0);
    mpdev_free(&d);
}

/* A user entry the backup does not know: checked; when damaged, it cannot
 * be repaired. */
static void test_no_bak_entry(void)
{
    struct mp_device d;
    struct fsg_report r;
    const char *names[NSTD + 1] = {std_names[0], std_names[1], std_names[2], std_names[3],
                                   std_names[4], "/usr/own.txt"};
    char ho[FSG_HASH_STRLEN];
    const char *h[NSTD + 1] = {"", "", "", "", "", fsg_hash_format(crc_of("mine"), ho)};

    std_device(&d);
    put_usr_manifest(&d, names, h, NSTD + 1);
    memport_put_str(d.usr, "own.txt", "mine");
    CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
    CHECK_EQ_INT(r.ok, NSTD + 1);
    CHECK_EQ_INT(memport_mutating_calls(d.usr), 0);

    memport_put_str(d.usr, "own.txt", "changed");
    CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
    CHECK_EQ_INT(r.failed, 1);
    const struct mp_event *e = mpdev_event(&d, FSG_EVENT_FILE, "/usr/own.txt");
    CHECK(e != NULL && e->status == FSG_STATUS_FAILED && e->failure == FSG_FAILURE_NO_ENTRY);
    CHECK_EQ_STR(memport_get(d.usr, "own.txt", NULL), "changed");
    CHECK_EQ_INT(memport_mutating_calls(d.usr), 0);
    mpdev_free(&d);
}

/* ---- clean boots ---- */

static void test_clean_boot(void)
{
    struct mp_device d;
    struct fsg_report r;

    std_device(&d);
    char *before = memport_dump(d.usr);
    CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
    CHECK_EQ_INT(r.feature, FSG_FEATURE_ENABLED);
    CHECK_EQ_INT(r.files, NSTD);
    CHECK_EQ_INT(r.ok, NSTD);
    CHECK_EQ_INT(r.restored + r.failed + r.entries_added + r.bad_entries + r.temps_removed, 0);
    CHECK_EQ_INT(r.manifest, FSG_MANIFEST_UNCHANGED);
    CHECK_EQ_INT(r.manifest_written, 0);
    CHECK_EQ_INT(fsg_report_exit_code(&r), 0);
    CHECK_EQ_INT(memport_mutating_calls(d.usr), 0);
    CHECK_EQ_INT(memport_ops(d.usr)->calls[FP_OP_SYNCDIR], 0);
    CHECK_EQ_INT(memport_ops(d.usr)->calls[FP_OP_SYNC], 0);
    char *after = memport_dump(d.usr);
    CHECK_EQ_STR(after, before);
    /* Backup copies are not even opened on a clean boot. */
    CHECK_EQ_INT(memport_ops(d.bak)->calls[FP_OP_OPEN], 2);
    CHECK_EQ_INT(mpdev_count(&d, FSG_EVENT_FILE), NSTD);
    CHECK_EQ_INT(d.nev, NSTD);
    for (size_t i = 0; i < d.nev && i < NSTD; i++) {
        const struct mp_event *e = &d.ev[i];
        CHECK_EQ_STR(e->name, std_names[i]);
        CHECK_EQ_INT(e->status, FSG_STATUS_OK);
        CHECK_EQ_INT(e->problem, FSG_PROBLEM_NONE);
        CHECK_EQ_INT(e->has_actual, 1);
        CHECK_EQ_INT(e->actual, e->expected);
        CHECK_EQ_INT(e->recorded, e->expected);
    }
    /* The empty file is a protected file like any other. */
    const struct mp_event *e = mpdev_event(&d, FSG_EVENT_FILE, "/usr/empty.txt");
    CHECK(e != NULL && e->status == FSG_STATUS_OK && e->actual == 0xffffffffu);
    CHECK_EQ_INT(memport_exists(d.usr, "empty.txt"), FSG_TYPE_REG);
    check_port_hygiene(&d);
    free(before);
    free(after);

    /* A backup that is read-only changes nothing. */
    memport_set_readonly(d.bak, 1);
    memport_remove(d.usr, "a.py");
    CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
    CHECK_EQ_INT(r.restored, 1);
    CHECK(is_factory(&d, "/usr/a.py"));
    mpdev_free(&d);
}

/* Several repairs at once; a second boot is then a no-op. */
static void test_second_boot_noop(void)
{
    struct mp_device d;
    struct fsg_report r;

    std_device(&d);
    memport_remove(d.usr, "lib");
    memport_put_str(d.usr, "a.py", "x");
    memport_remove(d.usr, "checksum.json");
    memport_put_str(d.usr, ".checksum.json.fsg-tmp", "half");
    CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
    CHECK_EQ_INT(r.restored, 3);
    CHECK_EQ_INT(r.manifest, FSG_MANIFEST_CREATED);
    CHECK_EQ_INT(r.temps_removed, 1);
    for (size_t i = 0; i < NSTD; i++)
        CHECK(is_factory(&d, std_names[i]));
    char *before = memport_dump(d.usr);
    CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
    CHECK_EQ_INT(r.ok, NSTD);
    CHECK_EQ_INT(r.temps_removed, 0);
    CHECK_EQ_INT(r.manifest, FSG_MANIFEST_UNCHANGED);
    CHECK_EQ_INT(fsg_report_exit_code(&r), 0);
    CHECK_EQ_INT(memport_mutating_calls(d.usr), 0);
    char *after = memport_dump(d.usr);
    CHECK_EQ_STR(after, before);
    free(before);
    free(after);
    mpdev_free(&d);
}

/* ---- step 7: leftover temporary files ---- */

static void test_temps(void)
{
    struct mp_device d;
    struct fsg_report r;

    std_device(&d);
    memport_put_str(d.usr, "lib/.b.py.fsg-tmp", "half a file");
    memport_put_str(d.usr, "lib/deep/.c.json.fsg-tmp", "");
    memport_put_str(d.usr, ".checksum.json.fsg-tmp", "[{\"na");
    /* Not ours: no leading dot, a directory, a link, a plain hidden file. */
    memport_put_str(d.usr, "lib/b.py.fsg-tmp", "user file");
    memport_mkdir(d.usr, "lib/.dir.fsg-tmp");
    memport_symlink(d.usr, ".l.fsg-tmp", "a.py");
    memport_put_str(d.usr, "lib/.hidden", "h");

    CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
    CHECK_EQ_INT(r.temps_removed, 3);
    CHECK_EQ_INT(r.ok, NSTD);
    CHECK_EQ_INT(r.manifest, FSG_MANIFEST_UNCHANGED);
    CHECK_EQ_INT(fsg_report_exit_code(&r), 1);
    CHECK_EQ_INT(memport_exists(d.usr, "lib/.b.py.fsg-tmp"), 0);
    CHECK_EQ_INT(memport_exists(d.usr, "lib/deep/.c.json.fsg-tmp"), 0);
    CHECK_EQ_INT(memport_exists(d.usr, ".checksum.json.fsg-tmp"), 0);
    CHECK_EQ_STR(memport_get(d.usr, "lib/b.py.fsg-tmp", NULL), "user file");
    CHECK_EQ_INT(memport_exists(d.usr, "lib/.dir.fsg-tmp"), FSG_TYPE_DIR);
    CHECK_EQ_STR(memport_link_target(d.usr, ".l.fsg-tmp"), "a.py");
    CHECK_EQ_STR(memport_get(d.usr, "lib/.hidden", NULL), "h");
    CHECK_EQ_INT(memport_ops(d.usr)->removes, 3);
    CHECK_EQ_INT(memport_ops(d.usr)->creates + memport_ops(d.usr)->renames, 0);
    CHECK_EQ_INT(mpdev_count(&d, FSG_EVENT_TEMP), 3);
    CHECK(mpdev_event(&d, FSG_EVENT_TEMP, "lib/.b.py.fsg-tmp") != NULL);
    CHECK(mpdev_event(&d, FSG_EVENT_TEMP, "lib/deep/.c.json.fsg-tmp") != NULL);
    CHECK(mpdev_event(&d, FSG_EVENT_TEMP, ".checksum.json.fsg-tmp") != NULL);
    /* FILE events first, then TEMP events. */
    for (size_t i = 0; i < d.nev; i++)
        CHECK_EQ_INT(d.ev[i].kind, i < NSTD ? FSG_EVENT_FILE : FSG_EVENT_TEMP);
    check_port_hygiene(&d);

    CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
    CHECK_EQ_INT(r.temps_removed, 0);
    CHECK_EQ_INT(fsg_report_exit_code(&r), 0);
    CHECK_EQ_INT(memport_mutating_calls(d.usr), 0);
    mpdev_free(&d);

    /* Without a list callback temporaries stay, and the pass still runs. */
    std_device(&d);
    struct fsg_port nolist = *memport_port(d.usr);
    nolist.list = NULL;
    d.cfg.usr = &nolist;
    memport_put_str(d.usr, ".checksum.json.fsg-tmp", "x");
    memport_remove(d.usr, "a.py");
    CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
    CHECK_EQ_INT(r.restored, 1);
    CHECK_EQ_INT(r.temps_removed, 0);
    CHECK(is_factory(&d, "/usr/a.py"));
    CHECK_EQ_INT(memport_exists(d.usr, ".checksum.json.fsg-tmp"), FSG_TYPE_REG);
    mpdev_free(&d);
}

/* ---- dry run ---- */

/* Every kind of finding a dry run can make without obstacles. */
static void mixed_device(struct mp_device *d)
{
    char he[FSG_HASH_STRLEN];
    const char *h[NSTD] = {"", "", NULL, "", ""};
    std_device(d);
    mpdev_add_str(d, "/usr/nobak.txt", "n");
    mpdev_add_str(d, "/usr/badbak.txt", "good");
    mpdev_add_str(d, "/usr/hash.txt", "factory");
    mpdev_save(d);
    const char *names[NSTD + 3] = {std_names[0], std_names[1], std_names[2], std_names[3],
                                   std_names[4], "/usr/nobak.txt", "/usr/badbak.txt",
                                   "/usr/hash.txt"};
    const char *hh[NSTD + 3] = {h[0], h[1], h[2], h[3], h[4], "", "",
                                fsg_hash_format(crc_of("user edit"), he)};
    put_usr_manifest(d, names, hh, NSTD + 3);
    /* nobak/badbak hashes: "" means the factory hash, which is what the
     * backup manifest lists for them too; only now do their backup copies
     * go missing and go bad. (Hashed after, the missing copy was hashed as
     * a NULL buffer, which libdeflate answers with 0 and the portable CRC
     * backend with a crash, as it should.) */
    memport_remove(d->bak, "usr/nobak.txt");
    memport_put_str(d->bak, "usr/badbak.txt", "evil");
    memport_put_str(d->usr, "a.py", "bit flip");
    memport_remove(d->usr, "lib");
    memport_remove(d->usr, "empty.txt");
    memport_put_str(d->usr, "nobak.txt", "changed");
    memport_put_str(d->usr, "badbak.txt", "changed");
    memport_put_str(d->usr, "x/.y.fsg-tmp", "left");
    memport_put_str(d->usr, ".checksum.json.fsg-tmp", "left");
}

static void compare_runs(struct mp_device *real, struct mp_device *dry, const struct fsg_report *rr,
                         const struct fsg_report *rd)
{
    CHECK_EQ_INT(rd->files, rr->files);
    CHECK_EQ_INT(rd->ok, rr->ok);
    CHECK_EQ_INT(rd->restored, rr->restored);
    CHECK_EQ_INT(rd->failed, rr->failed);
    CHECK_EQ_INT(rd->entries_added, rr->entries_added);
    CHECK_EQ_INT(rd->bad_entries, rr->bad_entries);
    CHECK_EQ_INT(rd->manifest, rr->manifest);
    CHECK_EQ_INT(rd->manifest_written, 0);
    CHECK_EQ_INT(fsg_report_exit_code(rd), fsg_report_exit_code(rr));
    size_t nfile = 0;
    for (size_t i = 0; i < real->nev; i++) {
        const struct mp_event *a = &real->ev[i];
        if (a->kind != FSG_EVENT_FILE)
            continue;
        nfile++;
        const struct mp_event *b = mpdev_event(dry, FSG_EVENT_FILE, a->name);
        CHECK(b != NULL);
        if (b == NULL)
            continue;
        int same = a->status == b->status && a->problem == b->problem &&
                   a->failure == b->failure && a->hash_only == b->hash_only &&
                   a->entry_added == b->entry_added && a->expected == b->expected &&
                   a->recorded == b->recorded && a->has_actual == b->has_actual;
        CHECK(same);
        if (!same)
            fprintf(stderr,
                    "  %s: real status %d problem %d failure %d; dry status %d problem %d "
                    "failure %d\n",
                    a->name, a->status, a->problem, a->failure, b->status, b->problem,
                    b->failure);
    }
    CHECK_EQ_INT(mpdev_count(dry, FSG_EVENT_FILE), nfile);
}

static void test_dry_run(void)
{
    struct mp_device real, dry;
    struct fsg_report rr, rd;

    mixed_device(&real);
    mixed_device(&dry);
    char *before = memport_dump(dry.usr);
    CHECK_EQ_INT(mpdev_boot(&real, 0, &rr), 0);
    CHECK_EQ_INT(mpdev_boot(&dry, FSG_DRY_RUN, &rd), 0);
    /* The real run: a, b, c, empty restored, hash fixed; nobak and
     * badbak failed; c's entry put back; two temporaries removed. */
    CHECK_EQ_INT(rr.restored, 5);
    CHECK_EQ_INT(rr.failed, 2);
    CHECK_EQ_INT(rr.entries_added, 1);
    CHECK_EQ_INT(rr.temps_removed, 1);
    CHECK_EQ_INT(rr.manifest, FSG_MANIFEST_UPDATED);
    CHECK_EQ_INT(rr.manifest_written, 1);
    compare_runs(&real, &dry, &rr, &rd);
    CHECK_EQ_INT(rd.temps_removed, rr.temps_removed);
    CHECK_EQ_INT(mpdev_count(&dry, FSG_EVENT_TEMP), mpdev_count(&real, FSG_EVENT_TEMP));
    /* The dry run did not even try to write. */
    CHECK_EQ_INT(memport_mutating_calls(dry.usr), 0);
    CHECK_EQ_INT(memport_ops(dry.usr)->calls[FP_OP_SYNCDIR], 0);
    CHECK_EQ_INT(memport_ops(dry.usr)->calls[FP_OP_SYNC], 0);
    char *after = memport_dump(dry.usr);
    CHECK_EQ_STR(after, before);
    check_port_hygiene(&dry);
    check_port_hygiene(&real);
    free(before);
    free(after);
    mpdev_free(&real);
    mpdev_free(&dry);

    /* A missing or broken user manifest: "would be" created or rebuilt. */
    for (int k = 0; k < 2; k++) {
        mixed_device(&real);
        mixed_device(&dry);
        for (int j = 0; j < 2; j++) {
            struct mp_device *x = j == 0 ? &real : &dry;
            if (k == 0)
                memport_remove(x->usr, "checksum.json");
            else
                memport_put_str(x->usr, "checksum.json", "[{");
        }
        before = memport_dump(dry.usr);
        CHECK_EQ_INT(mpdev_boot(&real, 0, &rr), 0);
        CHECK_EQ_INT(mpdev_boot(&dry, FSG_DRY_RUN, &rd), 0);
        CHECK_EQ_INT(rr.manifest, k == 0 ? FSG_MANIFEST_CREATED : FSG_MANIFEST_REBUILT);
        CHECK_EQ_INT(rd.usr_manifest_error, rr.usr_manifest_error);
        compare_runs(&real, &dry, &rr, &rd);
        CHECK_EQ_INT(memport_mutating_calls(dry.usr), 0);
        after = memport_dump(dry.usr);
        CHECK_EQ_STR(after, before);
        free(before);
        free(after);
        mpdev_free(&real);
        mpdev_free(&dry);
    }
}

/* A restored file gets its factory copy's permission bits, without
 * set-id, sticky and world-write, made durable by the file's own sync
 * (before the rename that shows it); a port without permission bits
 * (version 2) restores as before. */
static void test_restore_perms(void)
{
    struct mp_device d;
    struct fsg_report r;

    std_device(&d);
    CHECK_EQ_INT(fsg_mem_chmod(d.bak->mem, "usr/a.py", 0600), 0);
    CHECK_EQ_INT(fsg_mem_chmod(d.bak->mem, "usr/lib/b.py", 06777), 0);
    CHECK_EQ_INT(fsg_mem_chmod(d.usr->mem, "lib/b.py", 0600), 0);
    memport_put_str(d.usr, "a.py", "bit flip"); /* 0644 now */
    memport_put_str(d.usr, "lib/b.py", "bit flip");
    memport_remove(d.usr, "empty.txt");
    CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
    CHECK_EQ_INT(r.restored, 3);
    CHECK_EQ_INT(fsg_mem_perm(d.usr->mem, "a.py"), 0600);
    CHECK_EQ_INT(fsg_mem_perm(d.usr->mem, "lib/b.py"), 0775);
    CHECK_EQ_INT(fsg_mem_perm(d.usr->mem, "empty.txt"), 0644);
    CHECK(strstr(memport_trace(d.usr), "chmod a.py.fsg-tmp") != NULL ||
          strstr(memport_trace(d.usr), "chmod .a.py.fsg-tmp") != NULL);
    CHECK(memport_protocol_ok(d.usr));
    /* The backup is only read. */
    CHECK_EQ_INT(memport_mutating_calls(d.bak), 0);

    /* A power cut at every call of the boot, up to the one that no
     * longer hits it: whatever name survives, a.py never shows the
     * factory data under other bits; and some cuts do leave it restored
     * (else the check below proves nothing). */
    unsigned long restored_states = 0;
    for (unsigned long cut = 1, hit = 1; hit != 0 && cut < 1000; cut++) {
        struct mp_device x;
        std_device(&x);
        CHECK_EQ_INT(fsg_mem_chmod(x.bak->mem, "usr/a.py", 0600), 0);
        memport_put_str(x.usr, "a.py", "bit flip");
        mpdev_reset(&x);
        faultport_fail_at(x.usr->fp, cut, FSG_ERR_IO, 1);
        (void)fsg_boot(&x.cfg, 0, &r);
        hit = faultport_faults_hit(x.usr->fp);
        faultport_fail_clear(x.usr->fp);
        for (uint64_t seed = 0; seed < 4; seed++) {
            struct fsg_mem *m = fsg_mem_clone(x.usr->mem);
            fsg_mem_crash(m, seed);
            const char *got = fsg_mem_get(m, "a.py", NULL);
            if (got != NULL && strcmp(got, "print('a')\n") == 0) {
                restored_states++;
                CHECK_EQ_INT(fsg_mem_perm(m, "a.py"), 0600);
            }
            fsg_mem_free(m);
        }
        mpdev_free(&x);
    }
    CHECK(restored_states > 0);

    /* A version 2 port has no permission callbacks: the restore works and
     * the port's default stands. */
    memport_put_str(d.usr, "a.py", "bit flip");
    struct fsg_port old = *memport_port(d.usr);
    old.version = 2;
    d.cfg.usr = &old;
    CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
    CHECK_EQ_INT(r.restored, 1);
    CHECK_EQ_STR(memport_get(d.usr, "a.py", NULL), "print('a')\n");
    CHECK_EQ_INT(fsg_mem_perm(d.usr->mem, "a.py"), 0644);
    CHECK_EQ_INT(memport_ops(d.usr)->calls[FP_OP_SETPERM], 0);
    mpdev_free(&d);
}

/* On a user partition that cannot be written (read-only, or not the
 * caller's), a check says what the boot then does: the same lines, the
 * same errors, the same result; neither changes anything. */
static void test_dry_run_readonly(void)
{
    struct mp_device real, dry;
    struct fsg_report rr, rd;

    /* Damage, a hash to correct, an entry to put back, leftovers: the
     * restores fail, nothing is removed, and the table cannot be saved. */
    mixed_device(&real);
    mixed_device(&dry);
    memport_set_readonly(real.usr, 1);
    memport_set_readonly(dry.usr, 1);
    char *before = memport_dump(real.usr);
    CHECK_EQ_INT(mpdev_boot(&real, 0, &rr), FSG_ERR_ROFS);
    CHECK_EQ_INT(mpdev_boot(&dry, FSG_DRY_RUN, &rd), FSG_ERR_ROFS);
    CHECK_EQ_INT(rr.restored, 1); /* only the hash: no file written */
    CHECK_EQ_INT(rr.temps_removed, 0);
    compare_runs(&real, &dry, &rr, &rd);
    CHECK_EQ_INT(rd.temps_removed, rr.temps_removed);
    const struct mp_event *a = mpdev_event(&real, FSG_EVENT_FILE, "/usr/a.py");
    const struct mp_event *b = mpdev_event(&dry, FSG_EVENT_FILE, "/usr/a.py");
    CHECK(a != NULL && b != NULL);
    if (a != NULL && b != NULL) {
        CHECK_EQ_INT(a->status, FSG_STATUS_FAILED);
        CHECK_EQ_INT(a->failure, FSG_FAILURE_WRITE);
        CHECK_EQ_INT(a->error, FSG_ERR_ROFS);
        CHECK_EQ_INT(b->error, a->error);
    }
    char *after = memport_dump(real.usr);
    CHECK_EQ_STR(after, before);
    free(after);
    after = memport_dump(dry.usr);
    CHECK_EQ_STR(after, before);
    free(after);
    free(before);
    mpdev_free(&real);
    mpdev_free(&dry);

    /* Damage alone: no table to write; both runs complete and fail the
     * file (exit 4), where a check used to say "would restore" (exit 1). */
    std_device(&real);
    std_device(&dry);
    memport_put_str(real.usr, "a.py", "bit flip");
    memport_put_str(dry.usr, "a.py", "bit flip");
    memport_set_readonly(real.usr, 1);
    memport_set_readonly(dry.usr, 1);
    CHECK_EQ_INT(mpdev_boot(&real, 0, &rr), 0);
    CHECK_EQ_INT(mpdev_boot(&dry, FSG_DRY_RUN, &rd), 0);
    CHECK_EQ_INT(rr.failed, 1);
    CHECK_EQ_INT(fsg_report_exit_code(&rr), 4);
    compare_runs(&real, &dry, &rr, &rd);
    /* Writable again: the check says "would restore" once more. */
    memport_set_readonly(dry.usr, 0);
    CHECK_EQ_INT(mpdev_boot(&dry, FSG_DRY_RUN, &rd), 0);
    CHECK_EQ_INT(rd.restored, 1);
    CHECK_EQ_INT(rd.failed, 0);
    CHECK_EQ_INT(memport_mutating_calls(dry.usr), 0);
    mpdev_free(&real);
    mpdev_free(&dry);
}

/* A dry run must predict what a real run does, obstacles included: a
 * directory at the target, a linked parent, a file as parent. */
static void test_dry_run_obstacles(void)
{
    for (int k = 0; k < 3; k++) {
        struct mp_device real, dry;
        struct fsg_report rr, rd;
        struct mp_device *both[2] = {&real, &dry};
        for (int j = 0; j < 2; j++) {
            std_device(both[j]);
            if (k == 0) {
                memport_remove(both[j]->usr, "a.py");
                memport_put_str(both[j]->usr, "a.py/keep", "x");
            } else if (k == 1) {
                memport_remove(both[j]->usr, "lib");
                memport_symlink(both[j]->usr, "lib", "real");
                memport_mkdir(both[j]->usr, "real");
            } else {
                memport_remove(both[j]->usr, "lib");
                memport_put_str(both[j]->usr, "lib", "file");
            }
        }
        CHECK_EQ_INT(mpdev_boot(&real, 0, &rr), 0);
        CHECK_EQ_INT(mpdev_boot(&dry, FSG_DRY_RUN, &rd), 0);
        CHECK(rr.failed > 0);
        compare_runs(&real, &dry, &rr, &rd);
        if (rd.failed != rr.failed)
            fprintf(stderr, "  BUG: dry run predicts %lu failed, real run has %lu (case %d)\n",
                    rd.failed, rr.failed, k);
        CHECK_EQ_INT(memport_mutating_calls(dry.usr), 0);
        mpdev_free(&real);
        mpdev_free(&dry);
    }
}

/* ---- injected faults ---- */

static const char *const fnames[] = {"/usr/a.py", "/usr/lib/b.py", "/usr/lib/deep/c.json",
                                     "/usr/empty.txt", "/usr/big.bin", "/usr/h.txt",
                                     "/usr/u.txt", "/usr/m.txt", "/usr/x/y.txt"};
#define NF (sizeof fnames / sizeof fnames[0])
#define U_INDEX 6 /* u.txt: a legitimate user edit */

static void fault_device(struct mp_device *d)
{
    char hh[FSG_HASH_STRLEN], hu[FSG_HASH_STRLEN];
    mpdev_init(d);
    mpdev_add_str(d, "/usr/a.py", "print('a')\n");
    mpdev_add_str(d, "/usr/lib/b.py", "import a\n");
    mpdev_add_str(d, "/usr/lib/deep/c.json", "{\"x\": 1}");
    mpdev_add(d, "/usr/empty.txt", "", 0);
    mpdev_add(d, "/usr/big.bin", big, BIG_LEN);
    mpdev_add_str(d, "/usr/h.txt", "factory h");
    mpdev_add_str(d, "/usr/u.txt", "factory u");
    mpdev_add_str(d, "/usr/m.txt", "factory m");
    mpdev_add_str(d, "/usr/x/y.txt", "factory y");
    mpdev_save(d);
    const char *h[NF] = {"", "", "", "", "", fsg_hash_format(crc_of("user edit of h"), hh),
                         fsg_hash_format(crc_of("user content"), hu), NULL, ""};
    put_usr_manifest(d, fnames, h, NF);
    memport_put_str(d->usr, "a.py", "print('b')\n");
    memport_remove(d->usr, "lib");
    memport_remove(d->usr, "empty.txt");
    memport_put(d->usr, "big.bin", big, 100);
    memport_put_str(d->usr, "u.txt", "user content");
    memport_put_str(d->usr, ".checksum.json.fsg-tmp", "junk");
    memport_put_str(d->usr, "x/.y.txt.fsg-tmp", "junk");
}

struct fsnap {
    char *data[NF];
    size_t len[NF];
    char *manifest;
};

static void snap_take(const struct mp_device *d, struct fsnap *s)
{
    for (size_t i = 0; i < NF; i++) {
        const char *u = memport_get(d->usr, fnames[i] + 5, &s->len[i]);
        s->data[i] = u != NULL ? xmemdup(u, s->len[i]) : NULL;
    }
    s->manifest = xstrdup(memport_get(d->usr, "checksum.json", NULL));
}

static void snap_free(struct fsnap *s)
{
    for (size_t i = 0; i < NF; i++)
        free(s->data[i]);
    free(s->manifest);
}

static int same_bytes(const char *a, size_t al, const char *b, size_t bl)
{
    return a != NULL && b != NULL && al == bl && memcmp(a, b, al) == 0;
}

/* After an interrupted boot: every protected file holds its old content or
 * its factory content, and checksum.json is the old one or a whole new one. */
static int check_after_fault(const struct mp_device *d, const struct fsnap *old)
{
    int ok = 1;
    for (size_t i = 0; i < NF; i++) {
        size_t ul, fl;
        const char *u = memport_get(d->usr, fnames[i] + 5, &ul);
        const char *f = factory(d, fnames[i], &fl);
        int good = u == NULL ? old->data[i] == NULL && memport_exists(d->usr, fnames[i] + 5) == 0
                             : same_bytes(u, ul, old->data[i], old->len[i]) ||
                                   same_bytes(u, ul, f, fl);
        if (!good) {
            fprintf(stderr, "  %s: neither old nor factory content\n", fnames[i]);
            ok = 0;
        }
    }
    const char *m = memport_get(d->usr, "checksum.json", NULL);
    cJSON *j = m != NULL ? cJSON_Parse(m) : NULL;
    if (m == NULL || (strcmp(m, old->manifest) != 0 && !cJSON_IsArray(j))) {
        fprintf(stderr, "  checksum.json lost or broken\n");
        ok = 0;
    }
    cJSON_Delete(j);
    if (memport_open_handles(d->usr) != 0 || memport_open_handles(d->bak) != 0) {
        fprintf(stderr, "  file handles leaked\n");
        ok = 0;
    }
    if (memport_bad_paths(d->usr) != 0 || memport_mutating_calls(d->bak) != 0) {
        fprintf(stderr, "  bad path or backup written\n");
        ok = 0;
    }
    return ok;
}

/* After a clean boot following the fault: all repaired, no temporaries,
 * checksum.json matching the files, and a third boot is a no-op. */
static int check_recovered(struct mp_device *d)
{
    struct fsg_report r;
    int ok = 1;
    char tmp[600];

    for (size_t i = 0; i < NF; i++) {
        size_t ul;
        const char *u = memport_get(d->usr, fnames[i] + 5, &ul);
        uint32_t crc = 0;
        int good = is_factory(d, fnames[i]) ||
                   (i == U_INDEX && u != NULL && strcmp(u, "user content") == 0);
        good = good && mpdev_usr_crc(d, fnames[i], &crc) == 1 && crc == mp_crc(u, ul);
        if (!good) {
            fprintf(stderr, "  %s not recovered\n", fnames[i]);
            ok = 0;
        }
    }
    if (memport_count_temps(d->usr, tmp, sizeof tmp) != 0) {
        fprintf(stderr, "  temporary file left: %s\n", tmp);
        ok = 0;
    }
    if (mpdev_boot(d, 0, &r) != 0 || memport_mutating_calls(d->usr) != 0 ||
        fsg_report_exit_code(&r) != 0 || r.ok != NF) {
        fprintf(stderr, "  third boot not a no-op\n");
        ok = 0;
    }
    return ok;
}

static void test_faults(void)
{
    struct mp_device d;
    struct fsg_report r;
    unsigned long nops[2];

    /* The reference run, without faults. */
    fault_device(&d);
    CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
    CHECK_EQ_INT(r.files, NF);
    CHECK_EQ_INT(r.restored, 6);
    CHECK_EQ_INT(r.ok, 3);
    CHECK_EQ_INT(r.entries_added, 1);
    CHECK_EQ_INT(r.temps_removed, 2);
    CHECK_EQ_INT(r.manifest_written, 1);
    CHECK_EQ_STR(memport_get(d.usr, "u.txt", NULL), "user content");
    CHECK(memport_protocol_ok(d.usr));
    nops[0] = memport_ops(d.usr)->total;
    nops[1] = memport_ops(d.bak)->total;
    CHECK(check_recovered(&d));
    mpdev_free(&d);

    static const int errs[] = {FSG_ERR_IO, FSG_ERR_NOSPC};
    unsigned long runs = 0, failures = 0;
    for (int side = 0; side < 2; side++) {
        for (unsigned long i = 1; i <= nops[side] + 1; i++) {
            for (size_t k = 0; k < 2; k++) {
                for (int persistent = 0; persistent < 2; persistent++) {
                    struct fsnap old;
                    fault_device(&d);
                    snap_take(&d, &old);
                    memport_fail_at(side == 0 ? d.usr : d.bak, i, errs[k], persistent);
                    int ret = mpdev_boot(&d, 0, &r);
                    int ok = ret <= 0;
                    ok = check_after_fault(&d, &old) && ok;
                    memport_fail_clear(d.usr);
                    memport_fail_clear(d.bak);
                    if (mpdev_boot(&d, 0, &r) != 0) {
                        fprintf(stderr, "  recovery boot failed\n");
                        ok = 0;
                    }
                    ok = check_recovered(&d) && ok;
                    CHECK(ok);
                    if (!ok && ++failures < 10)
                        fprintf(stderr, "  (fault in %s at op %lu, error %d, persistent %d)\n",
                                side == 0 ? "usr" : "bak", i, errs[k], persistent);
                    runs++;
                    snap_free(&old);
                    mpdev_free(&d);
                }
            }
        }
    }
    printf("fault injection: %lu runs (usr %lu ops, bak %lu ops)\n", runs, nops[0], nops[1]);
    CHECK(nops[0] > 50);
}

/* ENOSPC from a capacity limit rather than injection: a restore that does
 * not fit fails cleanly. */
static void test_capacity(void)
{
    struct mp_device d;
    struct fsg_report r;

    std_device(&d);
    memport_remove(d.usr, "big.bin");
    memport_set_capacity(d.usr, 100); /* already over it: nothing grows */
    CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
    CHECK_EQ_INT(r.failed, 1);
    const struct mp_event *e = mpdev_event(&d, FSG_EVENT_FILE, "/usr/big.bin");
    CHECK(e != NULL && e->failure == FSG_FAILURE_WRITE && e->error == FSG_ERR_NOSPC);
    CHECK_EQ_INT(memport_exists(d.usr, "big.bin"), 0);
    CHECK_EQ_INT(memport_count_temps(d.usr, NULL, 0), 0);
    check_port_hygiene(&d);
    memport_set_capacity(d.usr, 0);
    CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
    CHECK_EQ_INT(r.restored, 1);
    CHECK(is_factory(&d, "/usr/big.bin"));
    mpdev_free(&d);
}

/* Storage that silently corrupts a write: the read-back before the rename
 * catches it, and the target is left as it was. */
static void test_corrupt_write(void)
{
    struct mp_device d;
    struct fsg_report r;

    std_device(&d);
    memport_put_str(d.usr, "a.py", "damaged");
    memport_corrupt_write(d.usr, 1);
    CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
    CHECK_EQ_INT(memport_faults_hit(d.usr), 1);
    CHECK_EQ_INT(r.failed, 1);
    const struct mp_event *e = mpdev_event(&d, FSG_EVENT_FILE, "/usr/a.py");
    CHECK(e != NULL && e->status == FSG_STATUS_FAILED && e->failure == FSG_FAILURE_WRITE &&
          e->error == FSG_ERR_MISMATCH);
    CHECK_EQ_STR(memport_get(d.usr, "a.py", NULL), "damaged");
    CHECK_EQ_INT(memport_ops(d.usr)->renames, 0);
    CHECK_EQ_INT(memport_count_temps(d.usr, NULL, 0), 0);
    check_port_hygiene(&d);

    /* The same for checksum.json: the old one stays. */
    memport_remove(d.usr, "checksum.json");
    memport_corrupt_write(d.usr, 2); /* a.py's copy is write 1 */
    CHECK_EQ_INT(mpdev_boot(&d, 0, &r), FSG_ERR_MISMATCH);
    CHECK(is_factory(&d, "/usr/a.py"));
    CHECK(memport_get(d.usr, "checksum.json", NULL) == NULL);
    CHECK_EQ_INT(memport_count_temps(d.usr, NULL, 0), 0);
    memport_fail_clear(d.usr);
    CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
    CHECK_EQ_INT(r.manifest, FSG_MANIFEST_CREATED);
    CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
    CHECK_EQ_INT(memport_mutating_calls(d.usr), 0);
    mpdev_free(&d);
}

/* Ports that return short reads: hashing, copying and manifest reading
 * must loop until end of file. */
static void test_short_reads(void)
{
    static const size_t maxes[] = {1, 3, 100};
    for (size_t k = 0; k < sizeof maxes / sizeof maxes[0]; k++) {
        struct mp_device d;
        struct fsg_report r;
        std_device(&d);
        memport_set_read_max(d.usr, maxes[k]);
        memport_set_read_max(d.bak, maxes[k]);
        CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
        CHECK_EQ_INT(r.ok, NSTD);
        CHECK_EQ_INT(r.manifest, FSG_MANIFEST_UNCHANGED);
        CHECK_EQ_INT(memport_mutating_calls(d.usr), 0);
        memport_put(d.usr, "big.bin", big, BIG_LEN / 2);
        memport_remove(d.usr, "lib");
        CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
        CHECK_EQ_INT(r.restored, 3);
        for (size_t i = 0; i < NSTD; i++)
            CHECK(is_factory(&d, std_names[i]));
        check_port_hygiene(&d);
        mpdev_free(&d);
    }
}

/* ---- configuration ---- */

static void test_config(void)
{
    struct mp_device d;
    struct fsg_report r;
    unsigned char small[FSG_BUF_MIN];

    /* The smallest buffer works, even for a file many times its size. */
    std_device(&d);
    memport_put(d.usr, "big.bin", big, BIG_LEN - 1);
    d.cfg.buf = small;
    d.cfg.buf_size = sizeof small;
    CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
    CHECK_EQ_INT(r.restored, 1);
    CHECK(is_factory(&d, "/usr/big.bin"));
    /* Smaller is refused before anything is touched. */
    d.cfg.buf_size = FSG_BUF_MIN - 1;
    memport_remove(d.usr, "a.py");
    CHECK_EQ_INT(mpdev_boot(&d, 0, &r), FSG_ERR_INVAL);
    CHECK_EQ_INT(memport_ops(d.usr)->total + memport_ops(d.bak)->total, 0);
    d.cfg.buf = NULL;
    d.cfg.buf_size = 0;

    /* A port of another version, or without a mandatory callback. */
    struct fsg_port p = *memport_port(d.usr);
    p.version = FSG_PORT_VERSION + 1;
    d.cfg.usr = &p;
    CHECK_EQ_INT(mpdev_boot(&d, 0, &r), FSG_ERR_INVAL);
    p.version = FSG_PORT_VERSION;
    p.stat = NULL;
    CHECK_EQ_INT(mpdev_boot(&d, 0, &r), FSG_ERR_INVAL);
    CHECK_EQ_INT(fsg_boot(NULL, 0, &r), FSG_ERR_INVAL);
    CHECK_EQ_INT(memport_exists(d.usr, "a.py"), 0);

    /* A user port that cannot rename: restores fail, nothing breaks. */
    p = *memport_port(d.usr);
    p.rename = NULL;
    CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
    CHECK_EQ_INT(r.failed, 1);
    const struct mp_event *e = mpdev_event(&d, FSG_EVENT_FILE, "/usr/a.py");
    CHECK(e != NULL && e->failure == FSG_FAILURE_WRITE && e->error == FSG_ERR_NOTSUP);
    CHECK_EQ_INT(memport_count_temps(d.usr, NULL, 0), 0);

    /* A read-only user partition: the same, with FSG_ERR_ROFS. */
    d.cfg.usr = memport_port(d.usr);
    memport_set_readonly(d.usr, 1);
    CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
    e = mpdev_event(&d, FSG_EVENT_FILE, "/usr/a.py");
    CHECK(e != NULL && e->failure == FSG_FAILURE_WRITE && e->error == FSG_ERR_ROFS);
    CHECK_EQ_INT(memport_mutations(d.usr), 0);
    /* ... and a manifest to create cannot be saved: the pass reports it. */
    memport_remove(d.usr, "checksum.json");
    CHECK_EQ_INT(mpdev_boot(&d, 0, &r), FSG_ERR_ROFS);
    CHECK_EQ_INT(r.manifest, FSG_MANIFEST_CREATED);
    CHECK_EQ_INT(r.manifest_written, 0);
    CHECK_EQ_INT(r.failed, 1);
    check_port_hygiene(&d);
    mpdev_free(&d);
}

/* ---- exit codes ---- */

static void test_exit_codes(void)
{
    struct fsg_report r;

    memset(&r, 0, sizeof r);
    CHECK_EQ_INT(fsg_report_exit_code(&r), 0);
    r.ok = 10;
    r.files = 10;
    CHECK_EQ_INT(fsg_report_exit_code(&r), 0);
    r.restored = 1;
    CHECK_EQ_INT(fsg_report_exit_code(&r), 1);
    r.failed = 1;
    CHECK_EQ_INT(fsg_report_exit_code(&r), 4);
    memset(&r, 0, sizeof r);
    r.manifest = FSG_MANIFEST_CREATED;
    CHECK_EQ_INT(fsg_report_exit_code(&r), 1);
    r.manifest = FSG_MANIFEST_REBUILT;
    CHECK_EQ_INT(fsg_report_exit_code(&r), 1);
    r.manifest = FSG_MANIFEST_UPDATED;
    CHECK_EQ_INT(fsg_report_exit_code(&r), 1);
    memset(&r, 0, sizeof r);
    r.temps_removed = 2;
    CHECK_EQ_INT(fsg_report_exit_code(&r), 1);
    memset(&r, 0, sizeof r);
    r.bad_entries = 1;
    CHECK_EQ_INT(fsg_report_exit_code(&r), 4);
    r.restored = 3;
    CHECK_EQ_INT(fsg_report_exit_code(&r), 4);
    memset(&r, 0, sizeof r);
    r.feature = FSG_FEATURE_DISABLED;
    CHECK_EQ_INT(fsg_report_exit_code(&r), 0);
}

/* ---- scale ---- */

/* A host's scale: 100,000 files do not fit a microcontroller's RAM, so the
 * target build (FSG_MCU, tests/mcu) leaves this test out. */
#ifndef FSG_MCU
static double now(void)
{
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_100k(void)
{
    enum { N = 100000 };
    struct mp_device d;
    struct fsg_report r;
    char name[64], content[64];
    double t0 = now();

    mpdev_init(&d);
    d.record = 0;
    for (unsigned i = 0; i < N; i++) {
        snprintf(name, sizeof name, "/usr/d%03u/f%06u.txt", i % 100, i);
        snprintf(content, sizeof content, "file %u\n", i);
        mpdev_add_str(&d, name, content);
    }
    mpdev_save(&d);
    double t1 = now();
    CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
    double t2 = now();
    CHECK_EQ_INT(r.files, N);
    CHECK_EQ_INT(r.ok, N);
    CHECK_EQ_INT(r.manifest, FSG_MANIFEST_UNCHANGED);
    CHECK_EQ_INT(memport_mutating_calls(d.usr), 0);
    CHECK_EQ_INT(fsg_report_exit_code(&r), 0);

    /* Damage a few, lose one entry from the user manifest. */
    memport_put_str(d.usr, "d000/f000000.txt", "x");
    memport_remove(d.usr, "d042/f054242.txt");
    memport_remove(d.usr, "d099/f099999.txt");
    size_t len;
    const char *m = memport_get(d.usr, "checksum.json", &len);
    char *text = xmemdup(m, len);
    char *cut = strstr(text, "{\"name\": \"/usr/d077/f077777.txt\"");
    CHECK(cut != NULL);
    if (cut != NULL) {
        char *end = strstr(cut, "}, ") + 3;
        memmove(cut, end, strlen(end) + 1);
        memport_put_str(d.usr, "checksum.json", text);
    }
    free(text);
    memport_remove(d.usr, "d077/f077777.txt");
    CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
    double t3 = now();
    CHECK_EQ_INT(r.files, N);
    CHECK_EQ_INT(r.restored, 4);
    CHECK_EQ_INT(r.ok, N - 4);
    CHECK_EQ_INT(r.entries_added, 1);
    CHECK_EQ_INT(r.manifest_written, 1);
    CHECK_EQ_STR(memport_get(d.usr, "d000/f000000.txt", NULL), "file 0\n");
    CHECK_EQ_STR(memport_get(d.usr, "d077/f077777.txt", NULL), "file 77777\n");
    CHECK_EQ_STR(memport_get(d.usr, "d099/f099999.txt", NULL), "file 99999\n");
    uint32_t crc;
    CHECK_EQ_INT(mpdev_usr_crc(&d, "/usr/d077/f077777.txt", &crc), 1);
    CHECK_EQ_INT(crc, crc_of("file 77777\n"));
    CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
    CHECK_EQ_INT(r.ok, N);
    CHECK_EQ_INT(memport_mutating_calls(d.usr), 0);
    check_port_hygiene(&d);
    printf("100k: build %.2fs, clean boot %.2fs, repairing boot %.2fs\n", t1 - t0, t2 - t1,
           t3 - t2);
    mpdev_free(&d);
}
#endif

int main(void)
{
    init_big();
    test_memport();
    test_switch();
    test_bak_manifest();
    test_usr_manifest_missing();
    test_usr_manifest_invalid();
    test_usr_manifest_read_retry();
    test_damage();
    test_dir_gone();
    test_bak_copy_missing();
    test_bak_copy_damaged();
    test_dir_at_target();
    test_symlink_at_target();
    test_unsafe_parent();
    test_entry_put_back();
    test_hash_only();
    test_no_bak_entry();
    test_clean_boot();
    test_second_boot_noop();
    test_temps();
    test_dry_run();
    test_dry_run_obstacles();
    test_dry_run_readonly();
    test_restore_perms();
    test_faults();
    test_capacity();
    test_corrupt_write();
    test_short_reads();
    test_config();
    test_exit_codes();
#ifndef FSG_MCU
    test_100k();
#endif
    return check_done("test_boot");
}
