/*
 * test_edit.c -- the legitimate edits of core/edit.c. fsg_calc,
 * QuecPython's file_crc32.calc as documented: hash one protected file and
 * record that hash in the user checksum.json, atomically and only if it
 * changed; on any failure nothing is written. fsg_put: replace a protected
 * file and record its hash so that the old file or the new one is there
 * whatever fails, a success is never undone by a later boot, and a failure
 * leaves the old file and table.
 */
#include "check.h"
#include "fsg_internal.h"
#include "memport.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    memcpy(d, s, n);
    return d;
}

static uint32_t crc_of(const char *s)
{
    return mp_crc(s, strlen(s));
}

/* Three files; the user manifest carries unknown keys and a refused entry. */
static void setup(struct mp_device *d)
{
    char ha[FSG_HASH_STRLEN], hb[FSG_HASH_STRLEN], hc[FSG_HASH_STRLEN];
    char text[1024];

    mpdev_init(d);
    mpdev_add_str(d, "/usr/a.py", "print('a')\n");
    mpdev_add_str(d, "/usr/b.py", "print('b')\n");
    mpdev_add_str(d, "/usr/d/c.py", "print('c')\n");
    mpdev_save(d);
    snprintf(text, sizeof text,
             "[{\"name\": \"/usr/a.py\", \"crc32\": \"%s\", \"mode\": 420, \"note\": \"x\"},\n"
             " {\"name\": \"/usr/b.py\", \"crc32\": \"0X%08X\", \"tags\": [1, 2]},\n"
             " {\"name\": \"/etc/refused\", \"crc32\": \"0x1\"},\n"
             " {\"name\": \"/usr/d/c.py\", \"crc32\": \"%s\"}]",
             mp_hash_str("print('a')\n", 11, ha), (unsigned)crc_of("print('b')\n"),
             mp_hash_str("print('c')\n", 11, hc));
    (void)hb;
    memport_put_str(d->usr, "checksum.json", text);
}

static int put_text(struct mp_device *d, const char *name, const char *text, uint32_t *crc);
static uint32_t table_crc(const struct mp_device *d, const char *name, int *pending);

static void check_hygiene(const struct mp_device *d)
{
    CHECK_EQ_INT(memport_open_handles(d->usr), 0);
    CHECK_EQ_INT(memport_open_handles(d->bak), 0);
    CHECK_EQ_INT(memport_bad_paths(d->usr), 0);
    CHECK_EQ_INT(memport_mutating_calls(d->bak), 0);
    CHECK_EQ_INT(memport_count_temps(d->usr, NULL, 0), 0);
}

/* calc that must fail with want and change nothing. */
static void expect_fail(struct mp_device *d, const char *name, int want)
{
    uint32_t crc = 0x12345678u;
    char *before = memport_dump(d->usr);
    mpdev_reset(d);
    int ret = fsg_calc(&d->cfg, name, &crc);
    CHECK_EQ_INT(ret, want);
    if (ret != want)
        fprintf(stderr, "  (calc \"%s\": %s)\n", name, fsg_strerror(ret));
    CHECK_EQ_INT(memport_mutating_calls(d->usr), 0);
    char *after = memport_dump(d->usr);
    CHECK_EQ_STR(after, before);
    check_hygiene(d);
    free(before);
    free(after);
}

static void test_update(void)
{
    struct mp_device d;
    uint32_t crc = 0;

    setup(&d);
    char *old = xstrdup(memport_get(d.usr, "checksum.json", NULL));
    memport_put_str(d.usr, "a.py", "print('edited')\n");
    mpdev_reset(&d);
    CHECK_EQ_INT(fsg_calc(&d.cfg, "/usr/a.py", &crc), 0);
    CHECK_EQ_INT(crc, crc_of("print('edited')\n"));
    /* Only checksum.json was written, through its temporary file. */
    CHECK_EQ_INT(memport_ops(d.usr)->creates, 1);
    CHECK_EQ_INT(memport_ops(d.usr)->renames, 1);
    CHECK(strstr(memport_trace(d.usr), "rename .checksum.json.fsg-tmp checksum.json\n") != NULL);
    CHECK(strstr(memport_trace(d.usr), "a.py") == NULL);
    CHECK(memport_protocol_ok(d.usr));
    CHECK_EQ_STR(memport_get(d.usr, "a.py", NULL), "print('edited')\n");
    check_hygiene(&d);

    cJSON *in = cJSON_Parse(old);
    cJSON *out = cJSON_Parse(memport_get(d.usr, "checksum.json", NULL));
    CHECK(cJSON_IsArray(out));
    CHECK_EQ_INT(cJSON_GetArraySize(out), 4);
    /* a.py: new hash, its unknown keys kept. */
    cJSON *a = cJSON_GetArrayItem(out, 0);
    char h[FSG_HASH_STRLEN];
    CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "name")), "/usr/a.py");
    CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "crc32")),
                 fsg_hash_format(crc, h));
    cJSON *mode = cJSON_GetObjectItemCaseSensitive(a, "mode");
    CHECK(cJSON_IsNumber(mode) && mode->valueint == 420);
    CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "note")), "x");
    CHECK_EQ_INT(cJSON_GetArraySize(a), 4);
    /* Every other entry, the refused one included, is unchanged. b.py's
     * hash, stored as "0X%08X", may be rewritten in canonical form: the
     * value and the other keys must stay. */
    for (int i = 1; i < 4; i++) {
        cJSON *want = cJSON_GetArrayItem(in, i), *got = cJSON_GetArrayItem(out, i);
        if (i == 1) {
            uint32_t v1 = 0, v2 = 1;
            CHECK_EQ_INT(fsg_hash_parse(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(want, "crc32")), &v1), 0);
            CHECK_EQ_INT(fsg_hash_parse(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(got, "crc32")), &v2), 0);
            CHECK_EQ_INT(v1, v2);
            cJSON_DeleteItemFromObjectCaseSensitive(want, "crc32");
            cJSON_DeleteItemFromObjectCaseSensitive(got, "crc32");
        }
        CHECK(cJSON_Compare(want, got, 1));
    }
    cJSON_Delete(in);
    cJSON_Delete(out);

    /* Called again, nothing changed: nothing is written. */
    mpdev_reset(&d);
    crc = 0;
    CHECK_EQ_INT(fsg_calc(&d.cfg, "/usr/a.py", &crc), 0);
    CHECK_EQ_INT(crc, crc_of("print('edited')\n"));
    CHECK_EQ_INT(memport_mutating_calls(d.usr), 0);

    /* A boot after calc keeps the edit. */
    struct fsg_report r;
    CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
    CHECK_EQ_INT(r.ok, 3);
    CHECK_EQ_INT(r.restored, 0);
    CHECK_EQ_STR(memport_get(d.usr, "a.py", NULL), "print('edited')\n");
    free(old);
    mpdev_free(&d);
}

static void test_unchanged(void)
{
    struct mp_device d;
    uint32_t crc = 0;

    setup(&d);
    char *before = memport_dump(d.usr);
    mpdev_reset(&d);
    /* b.py's stored hash is uppercase and zero-padded: equal by value. */
    CHECK_EQ_INT(fsg_calc(&d.cfg, "/usr/b.py", &crc), 0);
    CHECK_EQ_INT(crc, crc_of("print('b')\n"));
    CHECK_EQ_INT(memport_mutating_calls(d.usr), 0);
    CHECK_EQ_INT(memport_ops(d.bak)->total, 0); /* the backup is not needed */
    char *after = memport_dump(d.usr);
    CHECK_EQ_STR(after, before);
    check_hygiene(&d);
    free(before);
    free(after);

    /* The empty file hashes to 0xffffffff. */
    memport_put(d.usr, "d/c.py", "", 0);
    CHECK_EQ_INT(fsg_calc(&d.cfg, "/usr/d/c.py", &crc), 0);
    CHECK_EQ_INT(crc, 0xffffffffu);
    uint32_t stored = 0;
    CHECK_EQ_INT(mpdev_usr_crc(&d, "/usr/d/c.py", &stored), 1);
    CHECK_EQ_INT(stored, 0xffffffffu);
    CHECK(strstr(memport_get(d.usr, "checksum.json", NULL), "\"0xffffffff\"") != NULL);
    mpdev_free(&d);
}

static void test_failures(void)
{
    struct mp_device d;

    setup(&d);
    memport_put_str(d.usr, "other.txt", "not protected");
    memport_put_str(d.usr, "a.py", "edited, but the calls below fail");
    expect_fail(&d, "/usr/other.txt", FSG_ERR_NOTPROTECTED);
    expect_fail(&d, "/usr/refused", FSG_ERR_NOTPROTECTED);
    expect_fail(&d, "/usr/A.py", FSG_ERR_NOTPROTECTED); /* names are exact */
    /* A refused entry does not protect its name. */
    expect_fail(&d, "/etc/refused", FSG_ERR_BADNAME);

    /* Invalid names: refused before anything is read. */
    static const char *const bad[] = {"/etc/passwd", "/usr/../etc/passwd", "/usr/./a.py",
                                      "/usr//a.py", "usr/a.py", "", "/usr/", "/usr/checksum.json",
                                      "/usr/.a.py.fsg-tmp", "/usr/a\\b", "/usr/a\nb"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        expect_fail(&d, bad[i], FSG_ERR_BADNAME);
        CHECK_EQ_INT(memport_ops(d.usr)->total, 0);
    }

    /* Missing file. */
    memport_remove(d.usr, "b.py");
    expect_fail(&d, "/usr/b.py", FSG_ERR_NOENT);
    memport_remove(d.usr, "d");
    expect_fail(&d, "/usr/d/c.py", FSG_ERR_NOENT);

    /* Not a regular file: a link, a special file, a directory. */
    memport_symlink(d.usr, "b.py", "a.py");
    expect_fail(&d, "/usr/b.py", FSG_ERR_NOTREG);
    memport_special(d.usr, "b.py");
    expect_fail(&d, "/usr/b.py", FSG_ERR_NOTREG);
    memport_remove(d.usr, "b.py");
    memport_mkdir(d.usr, "b.py");
    expect_fail(&d, "/usr/b.py", FSG_ERR_NOTREG);

    /* Under a linked parent: not hashed through the link. */
    memport_symlink(d.usr, "d", "elsewhere");
    memport_put_str(d.usr, "elsewhere/c.py", "print('c')\n");
    uint32_t crc = 0;
    mpdev_reset(&d);
    CHECK_EQ_INT(fsg_calc(&d.cfg, "/usr/d/c.py", &crc), FSG_ERR_LOOP);
    CHECK_EQ_INT(memport_mutating_calls(d.usr), 0);
    /* checksum.json, and d/c.py, which the port refuses to reach through
     * the link: nothing was opened elsewhere. */
    CHECK_EQ_INT(memport_ops(d.usr)->calls[FP_OP_OPEN], 2);
    mpdev_free(&d);

    /* A user manifest that lacks an entry the backup has, or holds only a
     * refused one: protected all the same, as boot would put the entry
     * back and restore the file; calc puts it back with the file's hash.
     * A name neither table lists stays unprotected. */
    for (int refused = 0; refused < 2; refused++) {
        crc = 0;
        int pending;
        setup(&d);
        memport_put_str(d.usr, "checksum.json",
                        refused ? "[{\"name\": \"/usr/a.py\", \"crc32\": \"zz\"}]" : "[]");
        memport_put_str(d.usr, "a.py", "edited, entry lost\n");
        memport_put_str(d.usr, "other.txt", "not protected");
        expect_fail(&d, "/usr/other.txt", FSG_ERR_NOTPROTECTED);
        mpdev_reset(&d);
        CHECK_EQ_INT(fsg_calc(&d.cfg, "/usr/a.py", &crc), 0);
        CHECK_EQ_INT(crc, crc_of("edited, entry lost\n"));
        CHECK_EQ_INT(table_crc(&d, "/usr/a.py", &pending), crc);
        cJSON *t = cJSON_Parse(memport_get(d.usr, "checksum.json", NULL));
        CHECK_EQ_INT(cJSON_GetArraySize(t), 1); /* the refused one dropped */
        cJSON_Delete(t);
        check_hygiene(&d);
        /* boot agrees: the edit stays, nothing restored. */
        struct fsg_report r;
        CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
        CHECK_EQ_STR(memport_get(d.usr, "a.py", NULL), "edited, entry lost\n");
        CHECK_EQ_INT(r.restored, 0);
        /* put too. */
        memport_put_str(d.usr, "checksum.json", "[]");
        CHECK_EQ_INT(put_text(&d, "/usr/a.py", "put, entry lost\n", &crc), 0);
        CHECK_EQ_INT(table_crc(&d, "/usr/a.py", &pending), crc_of("put, entry lost\n"));
        CHECK_EQ_INT(pending, 0);
        CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
        CHECK_EQ_STR(memport_get(d.usr, "a.py", NULL), "put, entry lost\n");
        mpdev_free(&d);
    }
}

static void test_manifest_missing(void)
{
    struct mp_device d;
    uint32_t crc = 0;

    /* Seeded from the backup, then updated. */
    setup(&d);
    memport_remove(d.usr, "checksum.json");
    memport_put_str(d.usr, "b.py", "print('B')\n");
    mpdev_reset(&d);
    CHECK_EQ_INT(fsg_calc(&d.cfg, "/usr/b.py", &crc), 0);
    CHECK_EQ_INT(crc, crc_of("print('B')\n"));
    cJSON *out = cJSON_Parse(memport_get(d.usr, "checksum.json", NULL));
    cJSON *bak = cJSON_Parse(memport_get(d.bak, "checksum.json", NULL));
    CHECK(cJSON_IsArray(out));
    CHECK_EQ_INT(cJSON_GetArraySize(out), 3);
    for (int i = 0; i < 3; i++) {
        cJSON *want = cJSON_GetArrayItem(bak, i), *got = cJSON_GetArrayItem(out, i);
        CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(got, "name")),
                     cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(want, "name")));
        if (i != 1)
            CHECK(cJSON_Compare(want, got, 1));
    }
    uint32_t stored = 0;
    CHECK_EQ_INT(mpdev_usr_crc(&d, "/usr/b.py", &stored), 1);
    CHECK_EQ_INT(stored, crc_of("print('B')\n"));
    cJSON_Delete(out);
    cJSON_Delete(bak);
    CHECK(memport_protocol_ok(d.usr));
    check_hygiene(&d);
    mpdev_free(&d);

    /* Seeded even when the hash equals the backup's: the copy is written. */
    setup(&d);
    memport_remove(d.usr, "checksum.json");
    mpdev_reset(&d);
    CHECK_EQ_INT(fsg_calc(&d.cfg, "/usr/a.py", &crc), 0);
    CHECK_EQ_INT(crc, crc_of("print('a')\n"));
    CHECK(memport_get(d.usr, "checksum.json", NULL) != NULL);
    CHECK_EQ_INT(mpdev_usr_crc(&d, "/usr/d/c.py", &stored), 1);
    CHECK_EQ_INT(stored, crc_of("print('c')\n"));
    mpdev_free(&d);

    /* Missing here and unusable in the backup: an error, nothing written. */
    setup(&d);
    memport_remove(d.usr, "checksum.json");
    memport_put_str(d.bak, "checksum.json", "not json");
    expect_fail(&d, "/usr/a.py", FSG_ERR_CORRUPT);
    /* No table anywhere: nothing is protected (NOENT would read as if the
     * file itself were missing). */
    memport_remove(d.bak, "checksum.json");
    expect_fail(&d, "/usr/a.py", FSG_ERR_NOTPROTECTED);
    mpdev_free(&d);

    /* Missing, and the backup lists no such file. */
    setup(&d);
    memport_remove(d.usr, "checksum.json");
    memport_put_str(d.usr, "new.txt", "n");
    expect_fail(&d, "/usr/new.txt", FSG_ERR_NOTPROTECTED);
    mpdev_free(&d);
}

static void test_manifest_invalid(void)
{
    static const char *const bad[] = {"", "[", "{}", "[{\"name\": \"/usr/a.py\"}] junk", "null"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct mp_device d;
        setup(&d);
        memport_put_str(d.usr, "checksum.json", bad[i]);
        memport_put_str(d.usr, "a.py", "edited");
        expect_fail(&d, "/usr/a.py", FSG_ERR_CORRUPT);
        CHECK_EQ_STR(memport_get(d.usr, "checksum.json", NULL), bad[i]);
        mpdev_free(&d);
    }
}

/* ENOSPC (and other errors) while writing checksum.json: the old one stays,
 * no temporary file is left, the error is returned. */
static void test_write_errors(void)
{
    struct mp_device d;
    uint32_t crc = 0;

    setup(&d);
    memport_put_str(d.usr, "a.py", "edited");
    char *old = xstrdup(memport_get(d.usr, "checksum.json", NULL));
    memport_fail_kind(d.usr, FP_OP_WRITE, 1, FSG_ERR_NOSPC, 0);
    mpdev_reset(&d);
    CHECK_EQ_INT(fsg_calc(&d.cfg, "/usr/a.py", &crc), FSG_ERR_NOSPC);
    CHECK_EQ_INT(memport_faults_hit(d.usr), 1);
    CHECK_EQ_STR(memport_get(d.usr, "checksum.json", NULL), old);
    CHECK_EQ_INT(memport_ops(d.usr)->renames, 0);
    check_hygiene(&d);
    memport_fail_clear(d.usr);

    /* The same with a full partition instead of an injected error. */
    memport_set_capacity(d.usr, 10);
    CHECK_EQ_INT(fsg_calc(&d.cfg, "/usr/a.py", &crc), FSG_ERR_NOSPC);
    CHECK_EQ_STR(memport_get(d.usr, "checksum.json", NULL), old);
    check_hygiene(&d);
    memport_set_capacity(d.usr, 0);

    /* Read-only. */
    memport_set_readonly(d.usr, 1);
    CHECK_EQ_INT(fsg_calc(&d.cfg, "/usr/a.py", &crc), FSG_ERR_ROFS);
    CHECK_EQ_STR(memport_get(d.usr, "checksum.json", NULL), old);
    memport_set_readonly(d.usr, 0);

    /* The reference run, then an error at each of its operations. */
    mpdev_reset(&d);
    CHECK_EQ_INT(fsg_calc(&d.cfg, "/usr/a.py", &crc), 0);
    unsigned long n = memport_ops(d.usr)->total;
    char *want = xstrdup(memport_get(d.usr, "checksum.json", NULL));
    mpdev_free(&d);
    for (unsigned long i = 1; i <= n; i++) {
        for (int persistent = 0; persistent < 2; persistent++) {
            setup(&d);
            memport_put_str(d.usr, "a.py", "edited");
            memport_fail_at(d.usr, i, persistent ? FSG_ERR_IO : FSG_ERR_NOSPC, persistent);
            mpdev_reset(&d);
            int ret = fsg_calc(&d.cfg, "/usr/a.py", &crc);
            const char *now = memport_get(d.usr, "checksum.json", NULL);
            int ok = now != NULL && (strcmp(now, old) == 0 || strcmp(now, want) == 0);
            /* Success only when the new table is in place. */
            ok = ok && (ret < 0 || strcmp(now, want) == 0);
            ok = ok && memport_open_handles(d.usr) == 0 && memport_bad_paths(d.usr) == 0;
            if (!persistent)
                ok = ok && memport_count_temps(d.usr, NULL, 0) == 0;
            CHECK(ok);
            if (!ok)
                fprintf(stderr, "  (fault at op %lu, persistent %d: ret %d)\n", i, persistent,
                        ret);
            /* A later boot cleans up whatever was left. */
            struct fsg_report r;
            memport_fail_clear(d.usr);
            CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
            CHECK_EQ_INT(memport_count_temps(d.usr, NULL, 0), 0);
            mpdev_free(&d);
        }
    }
    free(old);
    free(want);
}

/* The first of two entries with one name is the one updated; the second
 * is kept as it was. */
static void test_duplicate(void)
{
    struct mp_device d;
    uint32_t crc = 0;

    mpdev_init(&d);
    mpdev_add_str(&d, "/usr/a.py", "A");
    mpdev_save(&d);
    memport_put_str(d.usr, "checksum.json",
                    "[{\"name\": \"/usr/a.py\", \"crc32\": \"0x1\"},"
                    " {\"name\": \"/usr/a.py\", \"crc32\": \"0x2\", \"k\": 1}]");
    CHECK_EQ_INT(fsg_calc(&d.cfg, "/usr/a.py", &crc), 0);
    CHECK_EQ_INT(crc, crc_of("A"));
    cJSON *out = cJSON_Parse(memport_get(d.usr, "checksum.json", NULL));
    CHECK_EQ_INT(cJSON_GetArraySize(out), 2);
    char h[FSG_HASH_STRLEN];
    CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(out, 0), "crc32")),
                 fsg_hash_format(crc, h));
    cJSON *want = cJSON_Parse("{\"name\": \"/usr/a.py\", \"crc32\": \"0x2\", \"k\": 1}");
    CHECK(cJSON_Compare(want, cJSON_GetArrayItem(out, 1), 1));
    cJSON_Delete(want);
    cJSON_Delete(out);
    mpdev_free(&d);
}

/* One fsg_put of text to name: begin, write in two parts, commit. */
static int put_text(struct mp_device *d, const char *name, const char *text, uint32_t *crc)
{
    struct fsg_put *p = NULL;
    size_t half = strlen(text) / 2;
    int err = fsg_put_begin(&d->cfg, name, &p);
    if (err == 0)
        err = fsg_put_write(p, text, half);
    if (err == 0)
        err = fsg_put_write(p, text + half, strlen(text) - half);
    if (err < 0) {
        if (p != NULL)
            fsg_put_abort(p);
        return err;
    }
    return fsg_put_commit(p, crc);
}

/* The crc32 recorded for name in the user table, and whether the entry
 * still carries a pending hash. */
static uint32_t table_crc(const struct mp_device *d, const char *name, int *pending)
{
    uint32_t crc = 0;
    cJSON *t = cJSON_Parse(memport_get(d->usr, "checksum.json", NULL));
    cJSON *e;
    *pending = -1;
    cJSON_ArrayForEach(e, t) {
        if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "name")), name) != 0)
            continue;
        (void)fsg_hash_parse(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "crc32")), &crc);
        *pending = cJSON_GetObjectItemCaseSensitive(e, FSG_PENDING_KEY) != NULL;
        break;
    }
    cJSON_Delete(t);
    return crc;
}

static void test_put(void)
{
    struct mp_device d;
    uint32_t crc = 0;
    int pending;

    setup(&d);
    mpdev_reset(&d);
    CHECK_EQ_INT(put_text(&d, "/usr/a.py", "print('put')\n", &crc), 0);
    CHECK_EQ_INT(crc, crc_of("print('put')\n"));
    CHECK_EQ_STR(memport_get(d.usr, "a.py", NULL), "print('put')\n");
    CHECK_EQ_INT(table_crc(&d, "/usr/a.py", &pending), crc);
    CHECK_EQ_INT(pending, 0);
    CHECK(memport_protocol_ok(d.usr));
    check_hygiene(&d);
    /* The other entries and a.py's unknown keys are kept. */
    cJSON *out = cJSON_Parse(memport_get(d.usr, "checksum.json", NULL));
    CHECK_EQ_INT(cJSON_GetArraySize(out), 4);
    CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(out, 0), "note")), "x");
    CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(out, 2), "name")),
                 "/etc/refused");
    cJSON_Delete(out);

    /* A boot after put keeps the new file, restores nothing. */
    struct fsg_report r;
    CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
    CHECK_EQ_INT(r.restored, 0);
    CHECK_EQ_INT(r.failed, 0);
    CHECK_EQ_STR(memport_get(d.usr, "a.py", NULL), "print('put')\n");

    /* The same content again: the file is replaced, the table not written. */
    mpdev_reset(&d);
    CHECK_EQ_INT(put_text(&d, "/usr/a.py", "print('put')\n", &crc), 0);
    CHECK(strstr(memport_trace(d.usr), "checksum.json") == NULL);
    CHECK_EQ_STR(memport_get(d.usr, "a.py", NULL), "print('put')\n");
    check_hygiene(&d);
    mpdev_free(&d);
}

/* An edit keeps the permission bits of what it replaces: put the file's,
 * calc and put the table's. */
static void test_edit_perms(void)
{
    struct mp_device d;
    uint32_t crc = 0;

    setup(&d);
    CHECK_EQ_INT(fsg_mem_chmod(d.usr->mem, "a.py", 0600), 0);
    CHECK_EQ_INT(fsg_mem_chmod(d.usr->mem, "checksum.json", 0640), 0);
    mpdev_reset(&d);
    CHECK_EQ_INT(put_text(&d, "/usr/a.py", "print('secret')\n", &crc), 0);
    CHECK_EQ_STR(memport_get(d.usr, "a.py", NULL), "print('secret')\n");
    CHECK_EQ_INT(fsg_mem_perm(d.usr->mem, "a.py"), 0600);
    CHECK_EQ_INT(fsg_mem_perm(d.usr->mem, "checksum.json"), 0640);
    CHECK(memport_protocol_ok(d.usr));
    memport_put_str(d.usr, "a.py", "edited by hand");
    CHECK_EQ_INT(fsg_mem_chmod(d.usr->mem, "checksum.json", 0600), 0);
    mpdev_reset(&d);
    CHECK_EQ_INT(fsg_calc(&d.cfg, "/usr/a.py", &crc), 0);
    CHECK_EQ_INT(crc, crc_of("edited by hand"));
    CHECK_EQ_INT(fsg_mem_perm(d.usr->mem, "checksum.json"), 0600);
    check_hygiene(&d);
    mpdev_free(&d);
}

/* A put that must fail with want, before or at commit, and change nothing. */
static void expect_put_fail(struct mp_device *d, const char *name, int want)
{
    uint32_t crc = 0x12345678u;
    char *before = memport_dump(d->usr);
    mpdev_reset(d);
    int ret = put_text(d, name, "new", &crc);
    CHECK_EQ_INT(ret, want);
    CHECK_EQ_INT(crc, 0x12345678u);
    char *after = memport_dump(d->usr);
    CHECK_EQ_STR(after, before);
    check_hygiene(d);
    free(before);
    free(after);
}

static void test_put_refused(void)
{
    struct mp_device d;

    setup(&d);
    expect_put_fail(&d, "/usr/none.py", FSG_ERR_NOTPROTECTED);
    expect_put_fail(&d, "/etc/refused", FSG_ERR_BADNAME);
    expect_put_fail(&d, "/usr/../a.py", FSG_ERR_BADNAME);
    memport_set_readonly(d.usr, 1);
    expect_put_fail(&d, "/usr/a.py", FSG_ERR_ROFS);
    memport_set_readonly(d.usr, 0);

    /* Aborted after writing: the old file, no leftover. */
    struct fsg_put *p = NULL;
    char *before = memport_dump(d.usr);
    CHECK_EQ_INT(fsg_put_begin(&d.cfg, "/usr/a.py", &p), 0);
    CHECK_EQ_INT(fsg_put_write(p, "half", 4), 0);
    fsg_put_abort(p);
    char *after = memport_dump(d.usr);
    CHECK_EQ_STR(after, before);
    check_hygiene(&d);
    free(before);
    free(after);
    mpdev_free(&d);
}

/* An error at each operation of a put: the old file or the new one, a
 * success only with the new one recorded, and a boot after it never
 * undoes a success and leaves a device that verifies clean. */
static void test_put_faults(void)
{
    struct mp_device d;
    uint32_t crc = 0;
    const char *old = "print('a')\n", *now = "print('new a')\n";

    setup(&d);
    mpdev_reset(&d);
    CHECK_EQ_INT(put_text(&d, "/usr/a.py", now, &crc), 0);
    unsigned long n = memport_ops(d.usr)->total;
    CHECK(n > 10);
    mpdev_free(&d);
    for (unsigned long i = 1; i <= n; i++) {
        for (int persistent = 0; persistent < 2; persistent++) {
            int pending;
            setup(&d);
            memport_fail_at(d.usr, i, persistent ? FSG_ERR_IO : FSG_ERR_NOSPC, persistent);
            mpdev_reset(&d);
            int ret = put_text(&d, "/usr/a.py", now, &crc);
            const char *got = memport_get(d.usr, "a.py", NULL);
            int ok = got != NULL && (strcmp(got, old) == 0 || strcmp(got, now) == 0);
            ok = ok && (ret < 0 || (strcmp(got, now) == 0 &&
                                    table_crc(&d, "/usr/a.py", &pending) == crc_of(now)));
            ok = ok && memport_open_handles(d.usr) == 0 && memport_bad_paths(d.usr) == 0;
            CHECK(ok);
            memport_fail_clear(d.usr);
            struct fsg_report r;
            CHECK_EQ_INT(mpdev_boot(&d, 0, &r), 0);
            CHECK_EQ_INT(r.restored, 0);
            CHECK_EQ_INT(r.failed, 0);
            got = memport_get(d.usr, "a.py", NULL);
            CHECK(got != NULL && (strcmp(got, old) == 0 || strcmp(got, now) == 0));
            if (ret == 0)
                CHECK_EQ_STR(got, now);
            CHECK_EQ_INT(memport_count_temps(d.usr, NULL, 0), 0);
            /* Settled: a second look finds nothing to do. */
            CHECK_EQ_INT(mpdev_boot(&d, FSG_DRY_RUN, &r), 0);
            CHECK_EQ_INT(r.restored + r.failed, 0);
            CHECK_EQ_INT(r.manifest, FSG_MANIFEST_UNCHANGED);
            if (!ok)
                fprintf(stderr, "  (put, fault at op %lu, persistent %d: ret %d)\n", i, persistent,
                        ret);
            mpdev_free(&d);
        }
    }
}

int main(void)
{
    test_update();
    test_unchanged();
    test_failures();
    test_manifest_missing();
    test_manifest_invalid();
    test_write_errors();
    test_duplicate();
    test_put();
    test_edit_perms();
    test_put_refused();
    test_put_faults();
    return check_done("test_edit");
}
