/*
 * test_inspect.c -- fsg_inspect, the offline check of a built partition:
 * every listed file hashed (FILE events), every other entry reported
 * (UNLISTED), the switch and the manifest's state in the report, and
 * nothing ever written. Devices are built with fsg_pack, then damaged by
 * the test's own hands.
 */
#include "check.h"
#include "memport.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t crc_of(const void *data, size_t len)
{
    return fsg_crc32(FSG_CRC_INIT, data, len);
}

/* ---- events, every field inspect sets ---- */


/* ---- the device ---- */

struct tfile {
    const char *path;
    const unsigned char *data;
    size_t len;
    int protect;
};

#define BIG_LEN (66u * 1024u + 3u)
static unsigned char *big;

static struct tfile files[] = {
    {"main.py", (const unsigned char *)"print('main')\n", 14, 1},
    {"lib/util.py", (const unsigned char *)"def util():\n    pass\n", 21, 1},
    {"lib/sub/deep.py", (const unsigned char *)"DEEP = 1\n", 9, 1},
    {"empty.txt", (const unsigned char *)"", 0, 1},
    {"big.bin", NULL, BIG_LEN, 1},
    {"\xe6\x95\xb0\xe6\x8d\xae/\xe9\x85\x8d\xe7\xbd\xae.json", (const unsigned char *)"{}\n", 3, 1},
    {"run.log", (const unsigned char *)"log line\n", 9, 0},
    {"lib/trace.log", (const unsigned char *)"trace\n", 6, 0},
};
#define NFILES (sizeof files / sizeof files[0])
#define NPROT 6u

static void files_init(void)
{
    big = malloc(BIG_LEN);
    mp_fill(big, BIG_LEN, 12345);
    for (size_t i = 0; i < NFILES; i++)
        if (strcmp(files[i].path, "big.bin") == 0)
            files[i].data = big;
}

static const struct tfile *file_named(const char *name)
{
    for (size_t i = 0; i < NFILES; i++)
        if (strncmp(name, "/usr/", 5) == 0 && strcmp(files[i].path, name + 5) == 0)
            return &files[i];
    return NULL;
}

static uint64_t files_bytes(int protected_only)
{
    uint64_t n = 0;
    for (size_t i = 0; i < NFILES; i++)
        if (!protected_only || files[i].protect)
            n += files[i].len;
    return n;
}

static int protect_not_log(void *ctx, const char *name)
{
    (void)ctx;
    size_t n = strlen(name);
    return !(n >= 4 && strcmp(name + n - 4, ".log") == 0);
}

struct dev {
    struct memport *usr, *bak;
    struct fsg_pack_report rep;
    unsigned long listed;       /* protected files */
    unsigned long unprotected;
};

/* A packed device; all_protected: protect NULL (every file listed). */
static void dev_init(struct dev *d, int all_protected, int enable)
{
    struct memport *src = memport_new();
    struct fsg_pack o;

    memset(d, 0, sizeof *d);
    for (size_t i = 0; i < NFILES; i++)
        CHECK_EQ_INT(memport_put(src, files[i].path, files[i].data, files[i].len), 0);
    memport_mkdir(src, "void/inner");
    d->usr = memport_new();
    d->bak = memport_new();
    memset(&o, 0, sizeof o);
    o.src = memport_port(src);
    o.usr = memport_port(d->usr);
    o.bak = memport_port(d->bak);
    o.enable = enable;
    o.protect = all_protected ? NULL : protect_not_log;
    CHECK_EQ_INT(fsg_pack(&o, &d->rep), 0);
    d->listed = all_protected ? NFILES : NPROT;
    d->unprotected = NFILES - d->listed;
    CHECK_EQ_INT(d->rep.protected_files, d->listed);
    memport_free(src);
}

static void dev_free(struct dev *d)
{
    memport_free(d->usr);
    memport_free(d->bak);
}

/* fsg_inspect of one partition, the other port NULL (or not), checking
 * that nothing was written and nothing leaked. */
static int run_inspect(struct dev *d, int source, int other_null, struct rec *r,
                       struct fsg_inspect_report *rep)
{
    struct fsg_config cfg;

    rec_clear(r);
    memset(&cfg, 0, sizeof cfg);
    cfg.usr = memport_port(d->usr);
    cfg.bak = memport_port(d->bak);
    if (other_null) {
        if (source == FSG_SOURCE_BAK)
            cfg.usr = NULL;
        else
            cfg.bak = NULL;
    }
    cfg.on_event = rec_on_event;
    cfg.event_ctx = r;
    memport_reset_ops(d->usr);
    memport_reset_ops(d->bak);
    char *bu = memport_dump(d->usr), *bb = memport_dump(d->bak);
    memset(rep, 0xA5, sizeof *rep);
    int ret = fsg_inspect(&cfg, source, rep);
    CHECK_EQ_INT(memport_mutating_calls(d->usr), 0);
    CHECK_EQ_INT(memport_mutating_calls(d->bak), 0);
    CHECK_EQ_INT(memport_ops(d->usr)->calls[FP_OP_SYNC] + memport_ops(d->usr)->calls[FP_OP_SYNCDIR] +
                     memport_ops(d->bak)->calls[FP_OP_SYNC] +
                     memport_ops(d->bak)->calls[FP_OP_SYNCDIR],
                 0);
    /* Only the inspected partition is touched at all. */
    if (source == FSG_SOURCE_BAK)
        CHECK_EQ_INT(memport_ops(d->usr)->total, 0);
    else
        CHECK_EQ_INT(memport_ops(d->bak)->total, 0);
    CHECK_EQ_INT(memport_open_handles(d->usr) + memport_open_handles(d->bak), 0);
    CHECK_EQ_INT(memport_bad_paths(d->usr) + memport_bad_paths(d->bak), 0);
    char *au = memport_dump(d->usr), *ab = memport_dump(d->bak);
    CHECK_EQ_STR(au, bu);
    CHECK_EQ_STR(ab, bb);
    free(bu);
    free(bb);
    free(au);
    free(ab);
    return ret;
}

/* Checks the FILE events of a clean partition: every listed file OK with
 * its size and hash. */
static void check_file_events_ok(const struct rec *r, unsigned long listed)
{
    CHECK_EQ_INT(rec_count(r, FSG_EVENT_FILE), listed);
    for (size_t i = 0; i < r->n; i++) {
        const struct fsg_event *e = &r->v[i];
        if (e->kind != FSG_EVENT_FILE)
            continue;
        const struct tfile *f = file_named(e->name);
        CHECK(f != NULL);
        if (f == NULL)
            continue;
        uint32_t h = crc_of(f->data, f->len);
        CHECK_EQ_INT(e->status, FSG_STATUS_OK);
        CHECK_EQ_INT(e->problem, FSG_PROBLEM_NONE);
        CHECK_EQ_INT(e->error, 0);
        CHECK_EQ_INT(e->has_actual, 1);
        CHECK_EQ_INT(e->expected, h);
        CHECK_EQ_INT(e->actual, h);
        CHECK_EQ_INT(e->size, f->len);
    }
}

static const char *ppath(int source, const char *path, char *buf, size_t size)
{
    snprintf(buf, size, "%s%s", source == FSG_SOURCE_BAK ? "usr/" : "", path);
    return buf;
}

/* ------------------------------------------------------------------------ */

static void test_clean(void)
{
    struct rec r = {0};
    struct fsg_inspect_report rep;

    for (int all = 1; all >= 0; all--) {
        struct dev d;
        dev_init(&d, all, 1);
        size_t mlen = 0;
        CHECK(memport_get(d.usr, "checksum.json", &mlen) != NULL);

        for (int other_null = 0; other_null < 2; other_null++) {
            /* The backup partition. */
            CHECK_EQ_INT(run_inspect(&d, FSG_SOURCE_BAK, other_null, &r, &rep), 0);
            CHECK_EQ_INT(rep.feature, FSG_FEATURE_ENABLED);
            CHECK_EQ_INT(rep.feature_error, 0);
            CHECK_EQ_INT(rep.manifest_error, 0);
            CHECK_EQ_INT(rep.manifest_offset, 0);
            CHECK_EQ_INT(rep.listed, d.listed);
            CHECK_EQ_INT(rep.ok, d.listed);
            CHECK_EQ_INT(rep.damaged, 0);
            CHECK_EQ_INT(rep.bad_entries, 0);
            CHECK_EQ_INT(rep.unlisted, 0);
            /* Listed copies, checksum.json and backup_restore.json. */
            uint64_t want = (all ? files_bytes(0) : files_bytes(1)) + mlen + 14;
            CHECK_EQ_INT(rep.total_bytes, want);
            CHECK_EQ_INT(rep.total_bytes, d.rep.bak_bytes);
            check_file_events_ok(&r, d.listed);
            CHECK_EQ_INT(rec_count(&r, FSG_EVENT_UNLISTED), 0);
            CHECK_EQ_INT(rec_count(&r, FSG_EVENT_ENTRY), 0);

            /* The user partition: unprotected files are unlisted. */
            CHECK_EQ_INT(run_inspect(&d, FSG_SOURCE_USR, other_null, &r, &rep), 0);
            CHECK_EQ_INT(rep.manifest_error, 0);
            CHECK_EQ_INT(rep.listed, d.listed);
            CHECK_EQ_INT(rep.ok, d.listed);
            CHECK_EQ_INT(rep.damaged, 0);
            CHECK_EQ_INT(rep.bad_entries, 0);
            CHECK_EQ_INT(rep.unlisted, d.unprotected);
            CHECK_EQ_INT(rep.total_bytes, files_bytes(0) + mlen);
            CHECK_EQ_INT(rep.total_bytes, d.rep.usr_bytes);
            check_file_events_ok(&r, d.listed);
            CHECK_EQ_INT(rec_count(&r, FSG_EVENT_UNLISTED), d.unprotected);
            for (size_t i = 0; i < NFILES; i++) {
                const struct fsg_event *e = rec_find(&r, FSG_EVENT_UNLISTED, files[i].path);
                if (files[i].protect || all) {
                    CHECK(e == NULL);
                } else {
                    CHECK(e != NULL && e->type == FSG_TYPE_REG && e->size == files[i].len);
                }
            }
        }
        dev_free(&d);
    }
    rec_clear(&r);
}

/* Damage to one listed file, in either partition. */
static void test_damage(void)
{
    struct rec r = {0};
    struct fsg_inspect_report rep;
    const int sources[] = {FSG_SOURCE_BAK, FSG_SOURCE_USR};

    for (size_t si = 0; si < 2; si++) {
        int src = sources[si];
        char path[256];

        for (int kase = 0; kase < 5; kase++) {
            struct dev d;
            dev_init(&d, 0, 1);
            struct memport *mp = src == FSG_SOURCE_BAK ? d.bak : d.usr;
            const struct tfile *f = file_named("/usr/lib/util.py");
            uint32_t h = crc_of(f->data, f->len);
            ppath(src, "lib/util.py", path, sizeof path);
            unsigned char flipped[64];
            memcpy(flipped, f->data, f->len);
            flipped[5] ^= 0x04;
            int want_problem = 0, want_error = 0;
            uint64_t bytes_delta = 0;
            switch (kase) {
            case 0: /* one bit flipped */
                memport_put(mp, path, flipped, f->len);
                want_problem = FSG_PROBLEM_MISMATCH;
                break;
            case 1: /* missing */
                memport_remove(mp, path);
                want_problem = FSG_PROBLEM_MISSING;
                want_error = FSG_ERR_NOENT;
                bytes_delta = f->len;
                break;
            case 2: /* a directory stands there */
                memport_remove(mp, path);
                memport_mkdir(mp, path);
                want_problem = FSG_PROBLEM_NOT_REGULAR;
                want_error = FSG_ERR_ISDIR;
                bytes_delta = f->len;
                break;
            case 3: /* a symbolic link stands there */
                memport_symlink(mp, path, "main.py");
                want_problem = FSG_PROBLEM_NOT_REGULAR;
                want_error = FSG_ERR_NOTREG;
                bytes_delta = f->len;
                break;
            case 4: /* a special file stands there */
                memport_special(mp, path);
                want_problem = FSG_PROBLEM_NOT_REGULAR;
                want_error = FSG_ERR_NOTREG;
                bytes_delta = f->len;
                break;
            }
            CHECK_EQ_INT(run_inspect(&d, src, 0, &r, &rep), 0);
            CHECK_EQ_INT(rep.listed, d.listed);
            CHECK_EQ_INT(rep.ok, d.listed - 1);
            CHECK_EQ_INT(rep.damaged, 1);
            CHECK_EQ_INT(rep.bad_entries, 0);
            uint64_t clean = src == FSG_SOURCE_BAK ? d.rep.bak_bytes : d.rep.usr_bytes;
            CHECK_EQ_INT(rep.total_bytes, clean - bytes_delta);
            const struct fsg_event *e = rec_find(&r, FSG_EVENT_FILE, "/usr/lib/util.py");
            CHECK(e != NULL);
            if (e != NULL) {
                CHECK_EQ_INT(e->status, FSG_STATUS_FAILED);
                CHECK_EQ_INT(e->problem, want_problem);
                CHECK_EQ_INT(e->error, want_error);
                CHECK_EQ_INT(e->expected, h);
                if (kase == 0) {
                    CHECK_EQ_INT(e->has_actual, 1);
                    CHECK_EQ_INT(e->actual, crc_of(flipped, f->len));
                    CHECK(e->actual != h);
                    CHECK_EQ_INT(e->size, f->len);
                } else {
                    CHECK_EQ_INT(e->has_actual, 0);
                }
            }
            /* The other files are fine. */
            for (size_t i = 0; i < r.n; i++)
                if (r.v[i].kind == FSG_EVENT_FILE && strcmp(r.v[i].name, "/usr/lib/util.py") != 0)
                    CHECK_EQ_INT(r.v[i].status, FSG_STATUS_OK);
            /* A damaged copy is not an unlisted one (a directory, empty,
             * adds nothing to report). */
            unsigned long extra = src == FSG_SOURCE_USR ? d.unprotected : 0;
            if (kase <= 2)
                CHECK_EQ_INT(rep.unlisted, extra);
            if (kase == 0 && src == FSG_SOURCE_BAK) {
                CHECK_EQ_INT(rep.feature, FSG_FEATURE_ENABLED);
            }
            dev_free(&d);
        }

        /* A parent directory replaced by a link: both files under it are
         * unsafe to reach; the link itself is an unlisted entry. */
        struct dev d;
        dev_init(&d, 0, 1);
        struct memport *mp = src == FSG_SOURCE_BAK ? d.bak : d.usr;
        ppath(src, "lib", path, sizeof path);
        memport_remove(mp, path);
        memport_symlink(mp, path, "/somewhere");
        CHECK_EQ_INT(run_inspect(&d, src, 1, &r, &rep), 0);
        CHECK_EQ_INT(rep.damaged, 2);
        CHECK_EQ_INT(rep.ok, d.listed - 2);
        const struct fsg_event *e = rec_find(&r, FSG_EVENT_FILE, "/usr/lib/sub/deep.py");
        CHECK(e != NULL && e->problem == FSG_PROBLEM_UNSAFE_PATH && e->error == FSG_ERR_LOOP);
        e = rec_find(&r, FSG_EVENT_UNLISTED, path);
        CHECK(e != NULL && e->type == FSG_TYPE_LINK);
        /* usr also had lib/trace.log (unprotected), gone with lib. */
        CHECK_EQ_INT(rep.unlisted, 1 + (src == FSG_SOURCE_USR ? d.unprotected - 1 : 0));
        dev_free(&d);
    }
    rec_clear(&r);
}

/* Entries of the partition that no checksum.json entry names. */
static void test_unlisted(void)
{
    struct rec r = {0};
    struct fsg_inspect_report rep;
    struct dev d;
    const struct fsg_event *e;

    dev_init(&d, 0, 1);
    memport_put_str(d.bak, "usr/stray.py", "stray");              /* 5 bytes */
    memport_symlink(d.bak, "usr/lib/stray-link", "../main.py");
    memport_put_str(d.bak, "notes.txt", "outside usr/\n");         /* 13 bytes */
    memport_special(d.bak, "usr/fifo");
    memport_put_str(d.bak, "usr/.main.py.fsg-tmp", "tmp");         /* 3 bytes */
    memport_mkdir(d.bak, "usr/emptydir");
    /* A file whose name a valid entry would have, but at the root of the
     * backup rather than under usr/. */
    memport_put_str(d.bak, "main.py", "print('main')\n");         /* 14 bytes */
    CHECK_EQ_INT(run_inspect(&d, FSG_SOURCE_BAK, 1, &r, &rep), 0);
    CHECK_EQ_INT(rep.listed, d.listed);
    CHECK_EQ_INT(rep.ok, d.listed);
    CHECK_EQ_INT(rep.damaged, 0);
    CHECK_EQ_INT(rep.unlisted, 6);
    CHECK_EQ_INT(rec_count(&r, FSG_EVENT_UNLISTED), 6);
    CHECK_EQ_INT(rep.total_bytes, d.rep.bak_bytes + 5 + 13 + 3 + 14);
    CHECK((e = rec_find(&r, FSG_EVENT_UNLISTED, "usr/stray.py")) != NULL &&
          e->type == FSG_TYPE_REG && e->size == 5);
    CHECK((e = rec_find(&r, FSG_EVENT_UNLISTED, "usr/lib/stray-link")) != NULL &&
          e->type == FSG_TYPE_LINK);
    CHECK((e = rec_find(&r, FSG_EVENT_UNLISTED, "notes.txt")) != NULL &&
          e->type == FSG_TYPE_REG && e->size == 13);
    CHECK((e = rec_find(&r, FSG_EVENT_UNLISTED, "usr/fifo")) != NULL &&
          e->type == FSG_TYPE_OTHER);
    CHECK((e = rec_find(&r, FSG_EVENT_UNLISTED, "usr/.main.py.fsg-tmp")) != NULL &&
          e->type == FSG_TYPE_REG && e->size == 3);
    CHECK((e = rec_find(&r, FSG_EVENT_UNLISTED, "main.py")) != NULL && e->type == FSG_TYPE_REG);
    CHECK(rec_find(&r, FSG_EVENT_UNLISTED, "usr/emptydir") == NULL);
    CHECK(rec_find(&r, FSG_EVENT_UNLISTED, "checksum.json") == NULL);
    CHECK(rec_find(&r, FSG_EVENT_UNLISTED, "backup_restore.json") == NULL);

    /* The user partition: its strays, and "usr/main.py" there is not
     * /usr/main.py. */
    memport_put_str(d.usr, "stray.bin", "xx");
    memport_symlink(d.usr, "lnk", "main.py");
    memport_put_str(d.usr, "usr/main.py", "print('main')\n");
    CHECK_EQ_INT(run_inspect(&d, FSG_SOURCE_USR, 1, &r, &rep), 0);
    CHECK_EQ_INT(rep.ok, d.listed);
    CHECK_EQ_INT(rep.unlisted, d.unprotected + 3);
    CHECK((e = rec_find(&r, FSG_EVENT_UNLISTED, "stray.bin")) != NULL && e->size == 2 &&
          e->type == FSG_TYPE_REG);
    CHECK((e = rec_find(&r, FSG_EVENT_UNLISTED, "lnk")) != NULL && e->type == FSG_TYPE_LINK);
    CHECK((e = rec_find(&r, FSG_EVENT_UNLISTED, "usr/main.py")) != NULL);
    CHECK((e = rec_find(&r, FSG_EVENT_UNLISTED, "run.log")) != NULL);
    CHECK((e = rec_find(&r, FSG_EVENT_UNLISTED, "lib/trace.log")) != NULL);
    CHECK(rec_find(&r, FSG_EVENT_UNLISTED, "checksum.json") == NULL);
    CHECK_EQ_INT(rep.total_bytes, d.rep.usr_bytes + 2 + 14);
    dev_free(&d);
    rec_clear(&r);
}

/* checksum.json unusable: a negative return, the reason and where. */
static void test_manifest_errors(void)
{
    struct rec r = {0};
    struct fsg_inspect_report rep;
    const int sources[] = {FSG_SOURCE_BAK, FSG_SOURCE_USR};
    const char *trailing = "[\n{\"name\":\"/usr/main.py\",\"crc32\":\"0x1\"} junk]";
    char ctrl[64];
    snprintf(ctrl, sizeof ctrl, "[{\"name\":\"/usr/main.py\",\x01\"crc32\":\"0x1\"}]");
    struct {
        const char *text;
        uint64_t offset;
    } bad[] = {
        {"{}", 0},
        {"", 0},
        {"  \n  \"x\"", 5},
        {trailing, (uint64_t)(strstr(trailing, "junk") - trailing)},
        {ctrl, (uint64_t)(strchr(ctrl, '\x01') - ctrl)},
        {"[]]", 2},
    };

    for (size_t si = 0; si < 2; si++) {
        int src = sources[si];
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            struct dev d;
            dev_init(&d, 0, 1);
            struct memport *mp = src == FSG_SOURCE_BAK ? d.bak : d.usr;
            memport_put_str(mp, "checksum.json", bad[i].text);
            int ret = run_inspect(&d, src, 1, &r, &rep);
            CHECK_EQ_INT(ret, FSG_ERR_CORRUPT);
            CHECK_EQ_INT(rep.manifest_error, FSG_ERR_CORRUPT);
            CHECK_EQ_INT(rep.manifest_offset, bad[i].offset);
            CHECK_EQ_INT(rep.listed, 0);
            CHECK_EQ_INT(rep.ok + rep.damaged, 0);
            CHECK_EQ_INT(rec_count(&r, FSG_EVENT_FILE), 0);
            if (src == FSG_SOURCE_BAK)
                CHECK_EQ_INT(rep.feature, FSG_FEATURE_ENABLED);
            if (ret != FSG_ERR_CORRUPT || rep.manifest_offset != bad[i].offset)
                fprintf(stderr, "  (manifest case %zu, source %d)\n", i, src);
            dev_free(&d);
        }

        /* Missing, or a directory. */
        struct dev d;
        dev_init(&d, 0, 1);
        struct memport *mp = src == FSG_SOURCE_BAK ? d.bak : d.usr;
        memport_remove(mp, "checksum.json");
        CHECK_EQ_INT(run_inspect(&d, src, 0, &r, &rep), FSG_ERR_NOENT);
        CHECK_EQ_INT(rep.manifest_error, FSG_ERR_NOENT);
        CHECK_EQ_INT(rec_count(&r, FSG_EVENT_FILE), 0);
        memport_mkdir(mp, "checksum.json");
        CHECK_EQ_INT(run_inspect(&d, src, 0, &r, &rep), FSG_ERR_ISDIR);
        CHECK_EQ_INT(rep.manifest_error, FSG_ERR_ISDIR);
        dev_free(&d);
    }
    rec_clear(&r);
}

/* Refused entries are counted and reported; the valid ones still checked. */
static void test_bad_entries(void)
{
    struct rec r = {0};
    struct fsg_inspect_report rep;
    const int sources[] = {FSG_SOURCE_BAK, FSG_SOURCE_USR};
    char text[1024];
    const struct tfile *m = file_named("/usr/main.py"), *u = file_named("/usr/lib/util.py");

    snprintf(text, sizeof text,
             "[{\"name\": \"/usr/main.py\", \"crc32\": \"0x%x\"},\n"
             " {\"name\": \"/usr/lib/util.py\", \"crc32\": \"0X%08X\", \"extra\": [1]},\n"
             " {\"name\": \"/etc/passwd\", \"crc32\": \"0x1\"},\n"
             " {\"name\": \"/usr/main.py\", \"crc32\": \"0x2\"},\n"
             " {\"crc32\": \"0x1\"},\n"
             " 5,\n"
             " {\"name\": \"/usr/x.py\", \"crc32\": \"zz\"}]\n",
             (unsigned)crc_of(m->data, m->len), (unsigned)crc_of(u->data, u->len));
    for (size_t si = 0; si < 2; si++) {
        int src = sources[si];
        struct dev d;
        dev_init(&d, 0, 1);
        struct memport *mp = src == FSG_SOURCE_BAK ? d.bak : d.usr;
        memport_put_str(mp, "checksum.json", text);
        CHECK_EQ_INT(run_inspect(&d, src, 1, &r, &rep), 0);
        CHECK_EQ_INT(rep.manifest_error, 0);
        CHECK_EQ_INT(rep.listed, 2);
        CHECK_EQ_INT(rep.ok, 2);
        CHECK_EQ_INT(rep.damaged, 0);
        CHECK_EQ_INT(rep.bad_entries, 5);
        CHECK_EQ_INT(rec_count(&r, FSG_EVENT_ENTRY), 5);
        const int defects[] = {FSG_DEFECT_NAME_OUTSIDE, FSG_DEFECT_DUPLICATE,
                               FSG_DEFECT_NO_NAME, FSG_DEFECT_NOT_OBJECT,
                               FSG_DEFECT_HASH_BAD};
        for (unsigned long idx = 2; idx <= 6; idx++) {
            const struct fsg_event *e = NULL;
            for (size_t i = 0; i < r.n; i++)
                if (r.v[i].kind == FSG_EVENT_ENTRY && r.v[i].index == idx)
                    e = &r.v[i];
            CHECK(e != NULL);
            if (e != NULL) {
                CHECK_EQ_INT(e->source, src);
                CHECK_EQ_INT(e->defect, defects[idx - 2]);
            }
        }
        /* The files no valid entry names are unlisted: 4 more protected
         * ones, and in usr the 2 unprotected. */
        CHECK_EQ_INT(rep.unlisted, (NPROT - 2) + (src == FSG_SOURCE_USR ? d.unprotected : 0));
        char path[64];
        CHECK(rec_find(&r, FSG_EVENT_UNLISTED, ppath(src, "big.bin", path, sizeof path)) != NULL);
        dev_free(&d);
    }
    rec_clear(&r);
}

/* The feature switch as the report shows it. */
static void test_switch(void)
{
    struct rec r = {0};
    struct fsg_inspect_report rep;
    struct dev d;

    dev_init(&d, 0, 0);
    CHECK_EQ_STR(memport_get(d.bak, "backup_restore.json", NULL), "{\"enable\": 0}\n");
    CHECK_EQ_INT(run_inspect(&d, FSG_SOURCE_BAK, 1, &r, &rep), 0);
    CHECK_EQ_INT(rep.feature, FSG_FEATURE_DISABLED);
    CHECK_EQ_INT(rep.feature_error, 0);
    /* The files are checked all the same. */
    CHECK_EQ_INT(rep.ok, d.listed);
    CHECK_EQ_INT(rep.unlisted, 0);

    struct {
        const char *text;
        int feature, error;
    } cases[] = {
        {"{\"enable\": 1}\n", FSG_FEATURE_ENABLED, 0},
        {"{\"enable\": false}", FSG_FEATURE_DISABLED, 0},
        {"{\"enable\": 0}", FSG_FEATURE_DISABLED, 0},
        {"{\"enable\": 2}", FSG_FEATURE_ENABLED, 0},
        {"{}", FSG_FEATURE_BAD_SWITCH, FSG_ERR_CORRUPT},
        {"[1]", FSG_FEATURE_BAD_SWITCH, FSG_ERR_CORRUPT},
        {"not json", FSG_FEATURE_BAD_SWITCH, FSG_ERR_CORRUPT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memport_put_str(d.bak, "backup_restore.json", cases[i].text);
        CHECK_EQ_INT(run_inspect(&d, FSG_SOURCE_BAK, 1, &r, &rep), 0);
        CHECK_EQ_INT(rep.feature, cases[i].feature);
        CHECK_EQ_INT(rep.feature_error, cases[i].error);
        CHECK_EQ_INT(rep.ok, d.listed);
        /* The switch file is never unlisted, whatever it holds. */
        CHECK_EQ_INT(rep.unlisted, 0);
    }
    memport_remove(d.bak, "backup_restore.json");
    CHECK_EQ_INT(run_inspect(&d, FSG_SOURCE_BAK, 1, &r, &rep), 0);
    CHECK_EQ_INT(rep.feature, FSG_FEATURE_NO_SWITCH);
    CHECK_EQ_INT(rep.ok, d.listed);
    CHECK_EQ_INT(rep.total_bytes, d.rep.bak_bytes - 14);
    memport_mkdir(d.bak, "backup_restore.json");
    CHECK_EQ_INT(run_inspect(&d, FSG_SOURCE_BAK, 1, &r, &rep), 0);
    CHECK_EQ_INT(rep.feature, FSG_FEATURE_BAD_SWITCH);
    CHECK_EQ_INT(rep.feature_error, FSG_ERR_ISDIR);
    dev_free(&d);
    rec_clear(&r);
}

/* Read errors, and every operation of the inspected port failing in turn:
 * never a crash, a leak or a write. */
static void test_faults(void)
{
    struct rec r = {0};
    struct fsg_inspect_report rep;
    const int sources[] = {FSG_SOURCE_BAK, FSG_SOURCE_USR};

    for (size_t si = 0; si < 2; si++) {
        int src = sources[si];
        struct dev d;
        dev_init(&d, 0, 1);
        struct memport *mp = src == FSG_SOURCE_BAK ? d.bak : d.usr;

        /* Opens: the switch (bak only), the manifest, then the files. The
         * first file's open fails once: a read error gets one more try, so
         * nothing is reported damaged. */
        unsigned long first_file_open = src == FSG_SOURCE_BAK ? 3 : 2;
        memport_fail_kind(mp, FP_OP_OPEN, first_file_open, FSG_ERR_IO, 0);
        CHECK_EQ_INT(run_inspect(&d, src, 1, &r, &rep), 0);
        CHECK_EQ_INT(rep.damaged, 0);
        CHECK_EQ_INT(rep.ok, d.listed);
        CHECK_EQ_INT(memport_faults_hit(mp), 1);
        /* From then on every open fails: each listed file is unreadable. */
        memport_fail_kind(mp, FP_OP_OPEN, first_file_open, FSG_ERR_IO, 1);
        CHECK_EQ_INT(run_inspect(&d, src, 1, &r, &rep), 0);
        CHECK_EQ_INT(rep.damaged, d.listed);
        CHECK_EQ_INT(rep.ok, 0);
        size_t unreadable = 0;
        for (size_t i = 0; i < r.n; i++)
            if (r.v[i].kind == FSG_EVENT_FILE && r.v[i].problem == FSG_PROBLEM_UNREADABLE &&
                r.v[i].error == FSG_ERR_IO && r.v[i].status == FSG_STATUS_FAILED &&
                !r.v[i].has_actual)
                unreadable++;
        CHECK_EQ_INT(unreadable, d.listed);
        memport_fail_clear(mp);

        /* A read error in the middle of the big file. */
        memport_set_read_max(mp, 1000);
        memport_fail_clear(mp);
        CHECK_EQ_INT(run_inspect(&d, src, 1, &r, &rep), 0);
        unsigned long nreads = memport_ops(mp)->calls[FP_OP_READ];
        CHECK_EQ_INT(rep.ok, d.listed);
        int found = 0;
        for (unsigned long n = 1; n <= nreads; n++) {
            /* Persistent: a one-off error is absorbed by the retry. */
            memport_fail_kind(mp, FP_OP_READ, n, FSG_ERR_IO, 1);
            int ret = run_inspect(&d, src, 1, &r, &rep);
            if (ret == 0 && rep.damaged >= 1) {
                const struct fsg_event *e = rec_find(&r, FSG_EVENT_FILE, "/usr/big.bin");
                if (e != NULL && e->problem == FSG_PROBLEM_UNREADABLE && e->error == FSG_ERR_IO)
                    found = 1;
            }
        }
        CHECK(found);
        memport_set_read_max(mp, 0);

        /* Every operation in turn, once and from there on. */
        memport_fail_clear(mp);
        (void)run_inspect(&d, src, 1, &r, &rep);
        unsigned long nops = memport_ops(mp)->total;
        for (int persistent = 0; persistent < 2; persistent++) {
            for (unsigned long n = 1; n <= nops; n++) {
                memport_fail_at(mp, n, FSG_ERR_IO, persistent);
                int ret = run_inspect(&d, src, 1, &r, &rep);
                /* Counts stay consistent whatever happened. */
                CHECK(rep.ok + rep.damaged <= rep.listed);
                if (ret == 0)
                    CHECK_EQ_INT(rep.ok + rep.damaged, rep.listed);
                else
                    CHECK(ret == FSG_ERR_IO);
            }
        }
        memport_fail_clear(mp);
        dev_free(&d);
    }
    rec_clear(&r);
}

/* Every allocation in turn fails: a clean error or a complete report,
 * every block given back. */
static void test_nomem(void)
{
    struct rec r = {0};
    struct fsg_inspect_report rep;
    struct mp_talloc a = {0};
    const int sources[] = {FSG_SOURCE_BAK, FSG_SOURCE_USR};

    for (size_t si = 0; si < 2; si++) {
        struct dev d;
        dev_init(&d, 0, 1);
        memport_put_str(si == 0 ? d.bak : d.usr, "stray/x", "x");
        memport_reset_ops(d.usr);
        memport_reset_ops(d.bak);
        struct fsg_config cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.usr = memport_port(d.usr);
        cfg.bak = memport_port(d.bak);
        cfg.alloc = mp_talloc_fn;
        cfg.alloc_ctx = &a;
        cfg.on_event = rec_on_event;
        cfg.event_ctx = &r;
        CHECK_EQ_INT(fsg_inspect(&cfg, sources[si], &rep), 0);
        CHECK_EQ_INT(a.live, 0);
        unsigned long total = a.calls;
        CHECK(total > 5);
        for (unsigned long n = 1; n <= total; n++) {
            rec_clear(&r);
            a.calls = 0;
            a.fail_at = n;
            a.live = 0;
            int ret = fsg_inspect(&cfg, sources[si], &rep);
            CHECK(ret == 0 || ret == FSG_ERR_NOMEM);
            if (ret == 0) {
                CHECK_EQ_INT(rep.ok, d.listed);
                CHECK_EQ_INT(rep.ok + rep.damaged, rep.listed);
            }
            CHECK_EQ_INT(a.live, 0);
            CHECK_EQ_INT(memport_open_handles(d.usr) + memport_open_handles(d.bak), 0);
        }
        CHECK_EQ_INT(memport_mutating_calls(d.usr) + memport_mutating_calls(d.bak), 0);
        dev_free(&d);
    }
    rec_clear(&r);
}

static void test_bad_args(void)
{
    struct rec r = {0};
    struct fsg_inspect_report rep;
    struct dev d;
    struct fsg_config cfg;

    dev_init(&d, 0, 1);
    memset(&cfg, 0, sizeof cfg);
    cfg.usr = memport_port(d.usr);
    cfg.bak = memport_port(d.bak);
    CHECK_EQ_INT(fsg_inspect(&cfg, 0, &rep), FSG_ERR_INVAL);
    CHECK_EQ_INT(fsg_inspect(&cfg, 3, &rep), FSG_ERR_INVAL);
    CHECK_EQ_INT(fsg_inspect(NULL, FSG_SOURCE_BAK, &rep), FSG_ERR_INVAL);
    cfg.bak = NULL;
    CHECK_EQ_INT(fsg_inspect(&cfg, FSG_SOURCE_BAK, &rep), FSG_ERR_INVAL);
    cfg.bak = memport_port(d.bak);
    cfg.usr = NULL;
    CHECK_EQ_INT(fsg_inspect(&cfg, FSG_SOURCE_USR, &rep), FSG_ERR_INVAL);

    /* A port without list cannot be inspected. */
    struct fsg_port nolist = *memport_port(d.bak);
    nolist.list = NULL;
    cfg.bak = &nolist;
    memport_reset_ops(d.bak);
    cfg.on_event = rec_on_event;
    cfg.event_ctx = &r;
    CHECK(fsg_inspect(&cfg, FSG_SOURCE_BAK, &rep) < 0);
    CHECK_EQ_INT(memport_mutating_calls(d.bak), 0);
    CHECK_EQ_INT(memport_open_handles(d.bak), 0);
    dev_free(&d);
    rec_clear(&r);
}

int main(void)
{
    files_init();
    test_clean();
    test_damage();
    test_unlisted();
    test_manifest_errors();
    test_bad_entries();
    test_switch();
    test_faults();
    test_nomem();
    test_bad_args();
    free(big);
    return check_done("test_inspect");
}
