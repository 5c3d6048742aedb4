/*
 * test_fota.c -- over-the-air updates (fsg_fota_*, fsg_fota_status,
 * fsg_fota_apply) and boot's settling of an update it finds in the staging
 * area (/usr/.fsg-fota): committed ones rolled forward, uncommitted ones
 * discarded, damaged ones abandoned with the old files put back.
 *
 * Every outcome is checked against what the test computes on its own: the
 * bytes it wrote, hashes from fsg_crc32(FSG_CRC_INIT, ...) over them, the
 * checksum.json entries parsed with cJSON, memport's mutation counters.
 * Power-loss sweeps live in tests/crash/.
 */
#include "check.h"
#include "memport.h"

#include <cjson/cJSON.h>
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

static uint32_t crc_of(const void *data, size_t len)
{
    return fsg_crc32(FSG_CRC_INIT, data, len);
}

static uint32_t crc_str(const char *s)
{
    return crc_of(s, strlen(s));
}

/* Events with every field an update sets (memport's fixture keeps fewer). */

/* A device and the events it heard. */
struct fx {
    struct mp_device d;
    struct rec ev;
};

static void fx_reset(struct fx *f)
{
    rec_clear(&f->ev);
    mpdev_reset(&f->d);
}

/* A dry boot reports the update in the staging area as state (and, when
 * files >= 0, that many files) and writes nothing at all. */
static void expect_dry_boot(struct fx *f, int state, long files)
{
    struct fsg_report r;
    char *dump = memport_dump(f->d.usr);
    fx_reset(f);
    CHECK_EQ_INT(fsg_boot(&f->d.cfg, FSG_DRY_RUN, &r), 0);
    CHECK_EQ_INT(r.fota, state);
    if (files >= 0)
        CHECK_EQ_INT(r.fota_files, files);
    CHECK_EQ_INT(memport_mutating_calls(f->d.usr), 0);
    char *now = memport_dump(f->d.usr);
    CHECK_EQ_STR(now, dump);
    free(now);
    free(dump);
}


static void fx_free(struct fx *f)
{
    rec_clear(&f->ev);
    free(f->ev.v);
    mpdev_free(&f->d);
}


#define BIG_OLD_LEN 100000u
#define BIG_NEW_LEN 200003u
static unsigned char big_old[BIG_OLD_LEN], big_new[BIG_NEW_LEN];

static const char MAIN_OLD[] = "print('v1')\n";
static const char MAIN_NEW[] = "print('v2: the update')\n";
static const char APP_OLD[] = "{\"v\": 1}\n";
static const char APP_NEW[] = "{\"v\": 2, \"more\": true}\n";
static const char KEEP[] = "keep me\n";
static const char NOTES[] = "an unprotected file\n";
static const char PLAIN[] = "a new unprotected file\n";
static const char NEWPROT[] = "def newly(): return 'protected'\n";

/* Four protected files (main.py, cfg/app.json, big.bin > 64 KiB, keep.py)
 * and one unprotected (notes.txt). */
static void fx_init(struct fx *f)
{
    memset(f, 0, sizeof *f);
    mpdev_init(&f->d);
    f->d.cfg.on_event = rec_on_event;
    f->d.cfg.event_ctx = &f->ev;
    mpdev_add_str(&f->d, "/usr/main.py", MAIN_OLD);
    mpdev_add_str(&f->d, "/usr/cfg/app.json", APP_OLD);
    mpdev_add(&f->d, "/usr/big.bin", big_old, BIG_OLD_LEN);
    mpdev_add_str(&f->d, "/usr/keep.py", KEEP);
    mpdev_save(&f->d);
    memport_put_str(f->d.usr, "notes.txt", NOTES);
}

/* Regular files, links and special files in the staging area. */
static unsigned long staged_files(const struct memport *mp)
{
    char *dump = memport_dump(mp);
    unsigned long n = 0;
    for (char *line = strtok(dump, "\n"); line != NULL; line = strtok(NULL, "\n"))
        if (line[0] != 'D' && strncmp(line + 2, ".fsg-fota/", 10) == 0)
            n++;
    free(dump);
    return n;
}

/* The partition's dump without the staging area (whose empty directories
 * may stay): "every file as it was". */
static char *dump_outside(const struct memport *mp)
{
    char *dump = memport_dump(mp);
    char *out = malloc(strlen(dump) + 1);
    size_t len = 0;
    for (char *line = strtok(dump, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        if (strncmp(line + 2, ".fsg-fota", 9) == 0 &&
            (line[11] == '\0' || line[11] == '/' || line[11] == ' '))
            continue;
        size_t l = strlen(line);
        memcpy(out + len, line, l);
        out[len + l] = '\n';
        len += l + 1;
    }
    out[len] = '\0';
    free(dump);
    return out;
}

/* Bytes of regular-file data in the partition. */
static size_t used_bytes(const struct memport *mp)
{
    char *dump = memport_dump(mp);
    size_t n = 0;
    for (char *line = strtok(dump, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        if (line[0] != 'F')
            continue;
        char path[1024];
        size_t sz = 0;
        if (sscanf(line + 2, "%1023s %zu", path, &sz) == 2)
            n += sz;
    }
    free(dump);
    return n;
}

static int file_is(const struct memport *mp, const char *path, const void *data, size_t len)
{
    size_t got;
    const char *p = memport_get(mp, path, &got);
    return p != NULL && got == len && memcmp(p, data, len) == 0;
}

static int file_is_str(const struct memport *mp, const char *path, const char *s)
{
    return file_is(mp, path, s, strlen(s));
}

/* The user checksum.json parsed (NULL if missing or invalid). */
static cJSON *usr_table(const struct mp_device *d)
{
    size_t len;
    const char *t = memport_get(d->usr, "checksum.json", &len);
    return t != NULL ? cJSON_ParseWithLength(t, len) : NULL;
}

static int table_size(const struct mp_device *d)
{
    cJSON *t = usr_table(d);
    int n = cJSON_IsArray(t) ? cJSON_GetArraySize(t) : -1;
    cJSON_Delete(t);
    return n;
}

/* The name of the last entry of the user checksum.json (caller frees). */
static char *table_last(const struct mp_device *d)
{
    cJSON *t = usr_table(d);
    cJSON *e = cJSON_IsArray(t) ? cJSON_GetArrayItem(t, cJSON_GetArraySize(t) - 1) : NULL;
    const char *n = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "name"));
    char *r = n != NULL ? xstrdup(n) : NULL;
    cJSON_Delete(t);
    return r;
}

/* The crc of name in the user table, or 0x5a5a5a5a with *found 0. */
static uint32_t table_crc(const struct mp_device *d, const char *name, int *found)
{
    uint32_t crc = 0x5a5a5a5au;
    int r = mpdev_usr_crc(d, name, &crc);
    *found = r == 1;
    return r == 1 ? crc : 0x5a5a5a5au;
}

/* Whether any entry of the user table carries key (e.g. fsg_pending). */
static int table_has_key(const struct mp_device *d, const char *key)
{
    cJSON *t = usr_table(d), *e;
    int has = 0;
    cJSON_ArrayForEach(e, t)
    {
        if (cJSON_GetObjectItemCaseSensitive(e, key) != NULL)
            has = 1;
    }
    cJSON_Delete(t);
    return has;
}

/* Same names and hash values, in the same order. */
static int tables_equal(const char *a, const char *b)
{
    cJSON *x = a != NULL ? cJSON_Parse(a) : NULL, *y = b != NULL ? cJSON_Parse(b) : NULL;
    int ok = cJSON_IsArray(x) && cJSON_IsArray(y) && cJSON_GetArraySize(x) == cJSON_GetArraySize(y);
    for (int i = 0; ok && i < cJSON_GetArraySize(x); i++) {
        cJSON *ex = cJSON_GetArrayItem(x, i), *ey = cJSON_GetArrayItem(y, i);
        const char *nx = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ex, "name"));
        const char *ny = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ey, "name"));
        const char *hx = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ex, "crc32"));
        const char *hy = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ey, "crc32"));
        uint32_t vx = 0, vy = 1;
        ok = nx != NULL && ny != NULL && strcmp(nx, ny) == 0 && hx != NULL && hy != NULL &&
             fsg_hash_parse(hx, &vx) == 0 && fsg_hash_parse(hy, &vy) == 0 && vx == vy;
    }
    cJSON_Delete(x);
    cJSON_Delete(y);
    return ok;
}

static void check_hygiene(const struct fx *f)
{
    CHECK_EQ_INT(memport_open_handles(f->d.usr), 0);
    CHECK_EQ_INT(memport_open_handles(f->d.bak), 0);
    CHECK_EQ_INT(memport_bad_paths(f->d.usr), 0);
    CHECK_EQ_INT(memport_mutating_calls(f->d.bak), 0);
    CHECK_EQ_INT(memport_count_temps(f->d.usr, NULL, 0), 0);
}

/* Every rename is followed by a sync of its target's directory before the
 * next creation or rename (memport_protocol_ok's rule for directories; its
 * rule for file data does not apply to files moved, not written, here). */
static int renames_dir_synced(const struct memport *mp)
{
    char *t = xstrdup(memport_trace(mp));
    int ok = 1;
    size_t n = 0, cap = 64;
    char **v = malloc(cap * sizeof *v);
    for (char *l = strtok(t, "\n"); l != NULL; l = strtok(NULL, "\n")) {
        if (n == cap)
            v = realloc(v, (cap *= 2) * sizeof *v);
        v[n++] = l;
    }
    for (size_t i = 0; i < n; i++) {
        if (strncmp(v[i], "rename ", 7) != 0)
            continue;
        const char *to = strchr(v[i] + 7, ' ');
        if (to == NULL)
            continue;
        to++;
        const char *slash = strrchr(to, '/');
        char want[1200];
        snprintf(want, sizeof want, "syncdir %.*s", slash != NULL ? (int)(slash - to) : 0, to);
        int synced = 0;
        for (size_t k = i + 1; k < n; k++) {
            if (strcmp(v[k], want) == 0) {
                synced = 1;
                break;
            }
            if (strncmp(v[k], "create ", 7) == 0 || strncmp(v[k], "rename ", 7) == 0)
                break;
        }
        if (!synced) {
            fprintf(stderr, "  %s: directory not synced after\n", v[i]);
            ok = 0;
        }
    }
    free(v);
    free(t);
    return ok;
}

/* Stages one file in chunks of at most chunk bytes. */
static int stage(struct fsg_fota *tx, const char *name, int protect, const void *data, size_t len,
                 size_t chunk)
{
    int err = fsg_fota_add(tx, name, protect);
    for (size_t off = 0; err == 0 && off < len; off += chunk)
        err = fsg_fota_write(tx, (const char *)data + off, len - off < chunk ? len - off : chunk);
    return err;
}

static int stage_str(struct fsg_fota *tx, const char *name, int protect, const char *s)
{
    return stage(tx, name, protect, s, strlen(s), 5);
}

/* A boot that finds nothing to do: exit code 0, nothing written. */
static void expect_quiet_boot(struct fx *f, const char *what)
{
    struct fsg_report r;
    fx_reset(f);
    int ret = fsg_boot(&f->d.cfg, 0, &r);
    CHECK_EQ_INT(ret, 0);
    CHECK_EQ_INT(fsg_report_exit_code(&r), 0);
    CHECK_EQ_INT(r.fota, FSG_FOTA_NONE);
    CHECK_EQ_INT(r.failed, 0);
    CHECK_EQ_INT(r.restored, 0);
    CHECK_EQ_INT(memport_mutations(f->d.usr), 0);
    if (ret != 0 || fsg_report_exit_code(&r) != 0 || memport_mutations(f->d.usr) != 0)
        fprintf(stderr, "  (boot after %s: ret %d, exit %d, fota %d, restored %lu, failed %lu;"
                        " trace:\n%s)\n", what, ret, fsg_report_exit_code(&r), r.fota,
                r.restored, r.failed, memport_trace(f->d.usr));
    check_hygiene(f);
}

/* ------------------------------------------------------------------------ */
/* A multi-file update.                                                     */

static void test_multi_file(void)
{
    struct fx f;
    struct fsg_fota *tx = NULL;
    struct fsg_fota_report rep;
    int found;

    fx_init(&f);
    fx_reset(&f);
    CHECK_EQ_INT(fsg_fota_begin(&f.d.cfg, &tx), 0);
    CHECK(tx != NULL);
    CHECK_EQ_INT(stage_str(tx, "/usr/main.py", 0, MAIN_NEW), 0);
    /* > 64 KiB, in many writes of 7000 bytes. */
    CHECK_EQ_INT(stage(tx, "/usr/big.bin", 0, big_new, BIG_NEW_LEN, 7000), 0);
    CHECK_EQ_INT(stage_str(tx, "/usr/newdir/sub/plain.txt", 0, PLAIN), 0);
    CHECK_EQ_INT(stage_str(tx, "/usr/lib/newprot.py", 1, NEWPROT), 0);
    CHECK(memport_ops(f.d.usr)->writes >= BIG_NEW_LEN / 7000);
    /* Before commit nothing outside the staging area moved. */
    CHECK(file_is_str(f.d.usr, "main.py", MAIN_OLD));
    CHECK(!memport_exists(f.d.usr, "newdir"));
    memset(&rep, 0x55, sizeof rep);
    CHECK_EQ_INT(fsg_fota_commit(tx, &rep), 0);

    /* The report. */
    CHECK_EQ_INT(rep.files, 4);
    CHECK_EQ_INT(rep.protected_files, 2);
    CHECK_EQ_INT(rep.newly_protected, 1);
    CHECK_EQ_INT(rep.unprotected, 1);
    CHECK_EQ_INT(rep.committed, 1);

    /* Every file in place, byte for byte; the others untouched. */
    CHECK(file_is_str(f.d.usr, "main.py", MAIN_NEW));
    CHECK(file_is(f.d.usr, "big.bin", big_new, BIG_NEW_LEN));
    CHECK(file_is_str(f.d.usr, "newdir/sub/plain.txt", PLAIN));
    CHECK(file_is_str(f.d.usr, "lib/newprot.py", NEWPROT));
    CHECK(file_is_str(f.d.usr, "cfg/app.json", APP_OLD));
    CHECK(file_is_str(f.d.usr, "keep.py", KEEP));
    CHECK(file_is_str(f.d.usr, "notes.txt", NOTES));

    /* checksum.json: new hashes for the protected files, the newly
     * protected one appended, the unprotected one absent. */
    CHECK_EQ_INT(table_crc(&f.d, "/usr/main.py", &found), crc_str(MAIN_NEW));
    CHECK(found);
    CHECK_EQ_INT(table_crc(&f.d, "/usr/big.bin", &found), crc_of(big_new, BIG_NEW_LEN));
    CHECK(found);
    CHECK_EQ_INT(table_crc(&f.d, "/usr/lib/newprot.py", &found), crc_str(NEWPROT));
    CHECK(found);
    CHECK_EQ_INT(table_crc(&f.d, "/usr/cfg/app.json", &found), crc_str(APP_OLD));
    CHECK(found);
    CHECK_EQ_INT(table_crc(&f.d, "/usr/keep.py", &found), crc_str(KEEP));
    CHECK(found);
    table_crc(&f.d, "/usr/newdir/sub/plain.txt", &found);
    CHECK(!found);
    table_crc(&f.d, "/usr/notes.txt", &found);
    CHECK(!found);
    CHECK_EQ_INT(table_size(&f.d), 5);
    char *last = table_last(&f.d);
    CHECK_EQ_STR(last, "/usr/lib/newprot.py");
    free(last);
    /* The backup is never written and its table stays the factory one. */
    CHECK_EQ_INT(memport_mutating_calls(f.d.bak), 0);

    /* One event per file, with how it stands. */
    CHECK_EQ_INT(rec_count(&f.ev, FSG_EVENT_FOTA), 4);
    const struct fsg_event *e = rec_find(&f.ev, FSG_EVENT_FOTA, "/usr/main.py");
    CHECK(e != NULL && e->protect == FSG_FOTA_PROTECTED && e->recorded == crc_str(MAIN_NEW));
    e = rec_find(&f.ev, FSG_EVENT_FOTA, "/usr/big.bin");
    CHECK(e != NULL && e->protect == FSG_FOTA_PROTECTED &&
          e->recorded == crc_of(big_new, BIG_NEW_LEN));
    e = rec_find(&f.ev, FSG_EVENT_FOTA, "/usr/newdir/sub/plain.txt");
    CHECK(e != NULL && e->protect == FSG_FOTA_UNPROTECTED && e->recorded == crc_str(PLAIN));
    e = rec_find(&f.ev, FSG_EVENT_FOTA, "/usr/lib/newprot.py");
    CHECK(e != NULL && e->protect == FSG_FOTA_NEWLY_PROTECTED && e->recorded == crc_str(NEWPROT));

    /* The staging area holds no file; the journal is gone. */
    CHECK_EQ_INT(staged_files(f.d.usr), 0);
    CHECK(!memport_exists(f.d.usr, ".fsg-fota/journal.json"));
    CHECK(renames_dir_synced(f.d.usr));
    check_hygiene(&f);

    int state = -1;
    unsigned long files = 99;
    CHECK_EQ_INT(fsg_fota_status(&f.d.cfg, &state, &files), 0);
    CHECK_EQ_INT(state, FSG_FOTA_NONE);
    CHECK_EQ_INT(files, 0);

    expect_quiet_boot(&f, "a multi-file update");
    /* A second update works too (the left-over directories are no obstacle). */
    fx_reset(&f);
    CHECK_EQ_INT(fsg_fota_begin(&f.d.cfg, &tx), 0);
    CHECK_EQ_INT(stage_str(tx, "/usr/main.py", 0, MAIN_OLD), 0);
    CHECK_EQ_INT(fsg_fota_commit(tx, &rep), 0);
    CHECK(file_is_str(f.d.usr, "main.py", MAIN_OLD));
    CHECK_EQ_INT(table_crc(&f.d, "/usr/main.py", &found), crc_str(MAIN_OLD));
    expect_quiet_boot(&f, "a second update");
    fx_free(&f);
}

/* An already protected file added with protect=1 stays PROTECTED (not
 * newly); an empty file and an empty update. */
static void test_small_cases(void)
{
    struct fx f;
    struct fsg_fota *tx;
    struct fsg_fota_report rep;
    int found;

    fx_init(&f);
    char *before = memport_dump(f.d.usr);
    fx_reset(&f);
    CHECK_EQ_INT(fsg_fota_begin(&f.d.cfg, &tx), 0);
    memset(&rep, 0x55, sizeof rep);
    CHECK_EQ_INT(fsg_fota_commit(tx, &rep), 0);
    CHECK_EQ_INT(rep.files, 0);
    CHECK_EQ_INT(rep.committed, 0);
    char *after = memport_dump(f.d.usr);
    CHECK_EQ_STR(after, before);
    free(after);
    free(before);

    fx_reset(&f);
    CHECK_EQ_INT(fsg_fota_begin(&f.d.cfg, &tx), 0);
    CHECK_EQ_INT(stage_str(tx, "/usr/cfg/app.json", 1, APP_NEW), 0);
    CHECK_EQ_INT(fsg_fota_add(tx, "/usr/empty.txt", 1), 0);
    CHECK_EQ_INT(fsg_fota_commit(tx, &rep), 0);
    CHECK_EQ_INT(rep.protected_files, 1);
    CHECK_EQ_INT(rep.newly_protected, 1);
    const struct fsg_event *e = rec_find(&f.ev, FSG_EVENT_FOTA, "/usr/cfg/app.json");
    CHECK(e != NULL && e->protect == FSG_FOTA_PROTECTED);
    CHECK(file_is_str(f.d.usr, "cfg/app.json", APP_NEW));
    CHECK(file_is(f.d.usr, "empty.txt", "", 0));
    CHECK_EQ_INT(table_crc(&f.d, "/usr/empty.txt", &found), 0xffffffffu);
    CHECK(found);
    CHECK_EQ_INT(table_size(&f.d), 5);
    expect_quiet_boot(&f, "an update with an empty file");
    fx_free(&f);
}

/* ------------------------------------------------------------------------ */
/* Abort, errors: nothing changed.                                          */

static void expect_unchanged(struct fx *f, const char *before, const char *table_before,
                             const char *what)
{
    char *after = dump_outside(f->d.usr);
    CHECK_EQ_STR(after, before);
    if (strcmp(after, before) != 0)
        fprintf(stderr, "  (%s changed the user partition)\n", what);
    free(after);
    const char *t = memport_get(f->d.usr, "checksum.json", NULL);
    CHECK_EQ_STR(t, table_before);
    CHECK_EQ_INT(staged_files(f->d.usr), 0);
    CHECK_EQ_INT(rec_count(&f->ev, FSG_EVENT_FOTA), 0);
    check_hygiene(f);
}

static void test_abort(void)
{
    struct fx f;
    struct fsg_fota *tx;
    struct fsg_fota_report rep;

    fx_init(&f);
    char *before = dump_outside(f.d.usr);
    char *table = xstrdup(memport_get(f.d.usr, "checksum.json", NULL));

    /* Abort after staging two files and part of a third. */
    fx_reset(&f);
    CHECK_EQ_INT(fsg_fota_begin(&f.d.cfg, &tx), 0);
    CHECK_EQ_INT(stage_str(tx, "/usr/main.py", 0, MAIN_NEW), 0);
    CHECK_EQ_INT(stage(tx, "/usr/big.bin", 0, big_new, BIG_NEW_LEN, 65536), 0);
    CHECK_EQ_INT(fsg_fota_add(tx, "/usr/n/new.txt", 1), 0);
    CHECK_EQ_INT(fsg_fota_write(tx, "part", 4), 0);
    CHECK(staged_files(f.d.usr) > 0);
    fsg_fota_abort(tx);
    expect_unchanged(&f, before, table, "abort");
    fsg_fota_abort(NULL);

    /* A write fails mid-file: the error sticks; commit returns it. */
    fx_reset(&f);
    CHECK_EQ_INT(fsg_fota_begin(&f.d.cfg, &tx), 0);
    CHECK_EQ_INT(stage_str(tx, "/usr/main.py", 0, MAIN_NEW), 0);
    CHECK_EQ_INT(fsg_fota_add(tx, "/usr/big.bin", 0), 0);
    CHECK_EQ_INT(fsg_fota_write(tx, big_new, 1000), 0);
    memport_fail_kind(f.d.usr, FP_OP_WRITE, 1, FSG_ERR_IO, 0);
    CHECK_EQ_INT(fsg_fota_write(tx, big_new + 1000, 1000), FSG_ERR_IO);
    memport_fail_clear(f.d.usr);
    CHECK_EQ_INT(fsg_fota_write(tx, big_new + 2000, 1000), FSG_ERR_IO);
    CHECK_EQ_INT(fsg_fota_add(tx, "/usr/keep.py", 0), FSG_ERR_IO);
    memset(&rep, 0x55, sizeof rep);
    CHECK_EQ_INT(fsg_fota_commit(tx, &rep), FSG_ERR_IO);
    CHECK_EQ_INT(rep.committed, 0);
    CHECK_EQ_INT(rep.files, 0);
    expect_unchanged(&f, before, table, "a failed write, then commit");

    /* The same, ended with abort. */
    fx_reset(&f);
    CHECK_EQ_INT(fsg_fota_begin(&f.d.cfg, &tx), 0);
    CHECK_EQ_INT(fsg_fota_add(tx, "/usr/main.py", 0), 0);
    memport_fail_kind(f.d.usr, FP_OP_WRITE, 1, FSG_ERR_IO, 0);
    CHECK_EQ_INT(fsg_fota_write(tx, MAIN_NEW, sizeof MAIN_NEW - 1), FSG_ERR_IO);
    memport_fail_clear(f.d.usr);
    fsg_fota_abort(tx);
    expect_unchanged(&f, before, table, "a failed write, then abort");

    /* Silent corruption of a staged file is caught by its read-back. */
    fx_reset(&f);
    CHECK_EQ_INT(fsg_fota_begin(&f.d.cfg, &tx), 0);
    memport_corrupt_write(f.d.usr, 1);
    CHECK_EQ_INT(stage_str(tx, "/usr/main.py", 0, MAIN_NEW), 0);
    int err = fsg_fota_add(tx, "/usr/keep.py", 0);
    CHECK_EQ_INT(err, FSG_ERR_MISMATCH);
    CHECK_EQ_INT(fsg_fota_commit(tx, &rep), FSG_ERR_MISMATCH);
    CHECK_EQ_INT(rep.committed, 0);
    memport_fail_clear(f.d.usr);
    expect_unchanged(&f, before, table, "a corrupted staged file");

    /* write before any add. */
    fx_reset(&f);
    CHECK_EQ_INT(fsg_fota_begin(&f.d.cfg, &tx), 0);
    CHECK_EQ_INT(fsg_fota_write(tx, "x", 1), FSG_ERR_INVAL);
    CHECK_EQ_INT(fsg_fota_add(tx, "/usr/main.py", 0), FSG_ERR_INVAL);
    CHECK_EQ_INT(fsg_fota_commit(tx, &rep), FSG_ERR_INVAL);
    expect_unchanged(&f, before, table, "a write before add");

    /* A staging area left by an uncommitted run is cleared by begin. */
    memport_put_str(f.d.usr, ".fsg-fota/new/main.py", "stale");
    fx_reset(&f);
    CHECK_EQ_INT(fsg_fota_begin(&f.d.cfg, &tx), 0);
    CHECK_EQ_INT(staged_files(f.d.usr), 0);
    fsg_fota_abort(tx);
    expect_unchanged(&f, before, table, "begin over a stale staging area");
    expect_quiet_boot(&f, "aborted updates");

    free(before);
    free(table);
    fx_free(&f);
}

/* ------------------------------------------------------------------------ */
/* Refusals.                                                                */

static void test_refusals(void)
{
    static const char *const bad[] = {
        "/etc/x", "/usr/../x", "/usr/.fsg-fota/x", "/usr/checksum.json", "/usr/a//b",
        "/usr/", "usr/x", "/usr/./x", "/usr/.x.fsg-tmp", "/usr/a\\b", "/usr/.fsg-fota",
    };
    struct fx f;
    struct fsg_fota *tx;
    struct fsg_fota_report rep;

    fx_init(&f);
    char *before = dump_outside(f.d.usr);
    char *table = xstrdup(memport_get(f.d.usr, "checksum.json", NULL));

    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        fx_reset(&f);
        CHECK_EQ_INT(fsg_fota_begin(&f.d.cfg, &tx), 0);
        CHECK_EQ_INT(stage_str(tx, "/usr/main.py", 0, MAIN_NEW), 0);
        int err = fsg_fota_add(tx, bad[i], 0);
        CHECK_EQ_INT(err, FSG_ERR_BADNAME);
        if (err != FSG_ERR_BADNAME)
            fprintf(stderr, "  (add \"%s\": %d)\n", bad[i], err);
        /* Errors stick. */
        CHECK_EQ_INT(fsg_fota_add(tx, "/usr/keep.py", 0), FSG_ERR_BADNAME);
        CHECK_EQ_INT(fsg_fota_write(tx, "x", 1), FSG_ERR_BADNAME);
        memset(&rep, 0x55, sizeof rep);
        CHECK_EQ_INT(fsg_fota_commit(tx, &rep), FSG_ERR_BADNAME);
        CHECK_EQ_INT(rep.committed, 0);
        expect_unchanged(&f, before, table, bad[i]);
    }

    /* A name added twice. */
    fx_reset(&f);
    CHECK_EQ_INT(fsg_fota_begin(&f.d.cfg, &tx), 0);
    CHECK_EQ_INT(stage_str(tx, "/usr/main.py", 0, MAIN_NEW), 0);
    CHECK_EQ_INT(stage_str(tx, "/usr/keep.py", 0, "k2"), 0);
    CHECK_EQ_INT(fsg_fota_add(tx, "/usr/main.py", 0), FSG_ERR_EXIST);
    CHECK_EQ_INT(fsg_fota_write(tx, "x", 1), FSG_ERR_EXIST);
    CHECK_EQ_INT(fsg_fota_commit(tx, &rep), FSG_ERR_EXIST);
    CHECK_EQ_INT(rep.committed, 0);
    expect_unchanged(&f, before, table, "a duplicate");

    /* A target that is a directory: refused at commit, nothing changed. */
    fx_reset(&f);
    CHECK_EQ_INT(fsg_fota_begin(&f.d.cfg, &tx), 0);
    CHECK_EQ_INT(stage_str(tx, "/usr/main.py", 0, MAIN_NEW), 0);
    CHECK_EQ_INT(stage_str(tx, "/usr/cfg", 1, "a file where a directory is"), 0);
    CHECK_EQ_INT(fsg_fota_commit(tx, &rep), FSG_ERR_ISDIR);
    CHECK_EQ_INT(rep.committed, 0);
    expect_unchanged(&f, before, table, "a directory target");
    CHECK_EQ_INT(memport_exists(f.d.usr, "cfg"), FSG_TYPE_DIR);

    /* begin while a committed update is unfinished. */
    memport_put_str(f.d.usr, ".fsg-fota/journal.json", "{}");
    fx_reset(&f);
    tx = (struct fsg_fota *)&f;
    CHECK_EQ_INT(fsg_fota_begin(&f.d.cfg, &tx), FSG_ERR_BUSY);
    CHECK(tx == NULL);
    CHECK_EQ_INT(memport_mutating_calls(f.d.usr), 0);
    CHECK(memport_exists(f.d.usr, ".fsg-fota/journal.json"));
    memport_remove(f.d.usr, ".fsg-fota");

    /* Bad configuration. */
    struct fsg_config bad_cfg = f.d.cfg;
    bad_cfg.usr = NULL;
    tx = (struct fsg_fota *)&f;
    CHECK_EQ_INT(fsg_fota_begin(&bad_cfg, &tx), FSG_ERR_INVAL);
    CHECK(tx == NULL);
    int state = -1;
    unsigned long files = 9;
    CHECK_EQ_INT(fsg_fota_status(&bad_cfg, &state, &files), FSG_ERR_INVAL);
    CHECK_EQ_INT(state, FSG_FOTA_NONE);

    free(before);
    free(table);
    fx_free(&f);
}

/* A target whose parent is a regular file or a link: the file cannot go
 * there, which the update must find before its commit point (as it does for
 * a directory target): otherwise every later boot fails rolling forward. */
static void test_blocked_parent(void)
{
    static const char *const names[] = {"/usr/main.py/x.py", "/usr/lnk/x.py"};
    for (size_t i = 0; i < 2; i++) {
        struct fx f;
        struct fsg_fota *tx;
        struct fsg_fota_report rep;

        fx_init(&f);
        memport_symlink(f.d.usr, "lnk", "cfg");
        char *before = dump_outside(f.d.usr);
        char *table = xstrdup(memport_get(f.d.usr, "checksum.json", NULL));
        fx_reset(&f);
        CHECK_EQ_INT(fsg_fota_begin(&f.d.cfg, &tx), 0);
        CHECK_EQ_INT(stage_str(tx, "/usr/keep.py", 0, "kept?"), 0);
        CHECK_EQ_INT(stage_str(tx, names[i], 0, "blocked"), 0);
        memset(&rep, 0x55, sizeof rep);
        int err = fsg_fota_commit(tx, &rep);
        CHECK(err < 0);
        CHECK_EQ_INT(rep.committed, 0);
        CHECK(!memport_exists(f.d.usr, ".fsg-fota/journal.json"));
        if (err >= 0 || rep.committed != 0)
            fprintf(stderr, "  (BUG? update of %s: commit returned %d (%s), committed %d; "
                            "journal left: %d)\n", names[i], err, fsg_strerror(err),
                    rep.committed, memport_exists(f.d.usr, ".fsg-fota/journal.json"));
        expect_unchanged(&f, before, table, names[i]);
        /* Whatever happened, the device must boot. */
        struct fsg_report r;
        fx_reset(&f);
        err = fsg_boot(&f.d.cfg, 0, &r);
        CHECK_EQ_INT(err, 0);
        if (err != 0)
            fprintf(stderr, "  (BUG? boot after the update of %s: %d (%s), fota %d)\n",
                    names[i], err, fsg_strerror(err), r.fota);
        free(before);
        free(table);
        fx_free(&f);
    }
}

/* ------------------------------------------------------------------------ */
/* No space while staging.                                                  */

static void test_nospace(void)
{
    struct fx f;
    struct fsg_fota *tx;
    struct fsg_fota_report rep;
    static unsigned char data[20000];

    mp_fill(data, sizeof data, 99);
    fx_init(&f);
    char *before = dump_outside(f.d.usr);
    char *table = xstrdup(memport_get(f.d.usr, "checksum.json", NULL));
    size_t used = used_bytes(f.d.usr);

    /* The staged file itself does not fit: write says so. */
    memport_set_capacity(f.d.usr, used + 3000);
    fx_reset(&f);
    CHECK_EQ_INT(fsg_fota_begin(&f.d.cfg, &tx), 0);
    CHECK_EQ_INT(stage_str(tx, "/usr/main.py", 0, MAIN_NEW), 0);
    int err = stage(tx, "/usr/n/data.bin", 1, data, sizeof data, 1000);
    CHECK_EQ_INT(err, FSG_ERR_NOSPC);
    CHECK_EQ_INT(fsg_fota_write(tx, data, 10), FSG_ERR_NOSPC);
    memset(&rep, 0x55, sizeof rep);
    CHECK_EQ_INT(fsg_fota_commit(tx, &rep), FSG_ERR_NOSPC);
    CHECK_EQ_INT(rep.committed, 0);
    expect_unchanged(&f, before, table, "ENOSPC in a write");

    /* The files fit, the tables do not: commit says so. */
    memport_set_capacity(f.d.usr, used + sizeof data + 20);
    fx_reset(&f);
    CHECK_EQ_INT(fsg_fota_begin(&f.d.cfg, &tx), 0);
    CHECK_EQ_INT(stage(tx, "/usr/n/data.bin", 1, data, sizeof data, 4096), 0);
    memset(&rep, 0x55, sizeof rep);
    CHECK_EQ_INT(fsg_fota_commit(tx, &rep), FSG_ERR_NOSPC);
    CHECK_EQ_INT(rep.committed, 0);
    expect_unchanged(&f, before, table, "ENOSPC in commit");

    /* The same update fits with room enough. */
    memport_set_capacity(f.d.usr, 0);
    expect_quiet_boot(&f, "ENOSPC");
    fx_reset(&f);
    CHECK_EQ_INT(fsg_fota_begin(&f.d.cfg, &tx), 0);
    CHECK_EQ_INT(stage(tx, "/usr/n/data.bin", 1, data, sizeof data, 4096), 0);
    CHECK_EQ_INT(fsg_fota_commit(tx, &rep), 0);
    CHECK(file_is(f.d.usr, "n/data.bin", data, sizeof data));
    free(before);
    free(table);
    fx_free(&f);
}

/* ------------------------------------------------------------------------ */
/* Boot settles an update found in the staging area.                        */

/* Runs a real update of main.py (existing, protected), cfg/app.json
 * (existing, protected) and n/new.txt (new, protect=1), stopped by a rename
 * fault after its commit point: place_renames renames of rolling forward
 * succeed (2 per existing file: aside, in), the next fails. */
static void make_committed(struct fx *f, unsigned long place_renames)
{
    struct fsg_fota *tx;
    struct fsg_fota_report rep;

    fx_reset(f);
    CHECK_EQ_INT(fsg_fota_begin(&f->d.cfg, &tx), 0);
    CHECK_EQ_INT(stage_str(tx, "/usr/main.py", 0, MAIN_NEW), 0);
    CHECK_EQ_INT(stage_str(tx, "/usr/cfg/app.json", 0, APP_NEW), 0);
    CHECK_EQ_INT(stage_str(tx, "/usr/n/new.txt", 1, PLAIN), 0);
    /* Renames from here: the last staged file, checksum.json.old,
     * checksum.json.new, the journal (the commit point), then placing: two
     * for a file set aside and replaced (main.py, cfg/app.json), two for a
     * created one (its gone/ marker, then the file: n/new.txt). */
    memport_fail_kind(f->d.usr, FP_OP_RENAME, 4 + place_renames + 1, FSG_ERR_IO, 1);
    memset(&rep, 0x55, sizeof rep);
    CHECK_EQ_INT(fsg_fota_commit(tx, &rep), FSG_ERR_IO);
    CHECK_EQ_INT(rep.committed, 1);
    memport_fail_clear(f->d.usr);
    CHECK_EQ_INT(memport_exists(f->d.usr, ".fsg-fota/journal.json"), FSG_TYPE_REG);
    check_hygiene(f);
}

/* The journal as the test reads it: the format the CLI tests rebuild. */
static void check_journal_format(const struct fx *f)
{
    size_t len;
    const char *text = memport_get(f->d.usr, ".fsg-fota/journal.json", &len);
    CHECK(text != NULL);
    if (text == NULL)
        return;
    cJSON *j = cJSON_ParseWithLength(text, len);
    CHECK(cJSON_IsObject(j));
    cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "fsg_fota");
    CHECK(cJSON_IsNumber(v) && v->valueint == 1);
    cJSON *files = cJSON_GetObjectItemCaseSensitive(j, "files");
    CHECK(cJSON_IsArray(files) && cJSON_GetArraySize(files) == 3);
    static const struct { const char *name, *data; int protect; } want[] = {
        {"/usr/main.py", MAIN_NEW, FSG_FOTA_PROTECTED},
        {"/usr/cfg/app.json", APP_NEW, FSG_FOTA_PROTECTED},
        {"/usr/n/new.txt", PLAIN, FSG_FOTA_NEWLY_PROTECTED},
    };
    for (int i = 0; i < 3 && cJSON_IsArray(files); i++) {
        cJSON *e = cJSON_GetArrayItem(files, i);
        char h[FSG_HASH_STRLEN];
        CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "name")),
                     want[i].name);
        CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "crc32")),
                     fsg_hash_format(crc_str(want[i].data), h));
        cJSON *p = cJSON_GetObjectItemCaseSensitive(e, "protect");
        CHECK(cJSON_IsNumber(p) && p->valueint == want[i].protect);
    }
    /* check: QuecPython's CRC of the files array as compact JSON. */
    char *ft = cJSON_PrintUnformatted(files);
    char h[FSG_HASH_STRLEN];
    CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "check")),
                 fsg_hash_format(crc_str(ft), h));
    /* And the text is exactly that array after the check. */
    char expect[4096];
    snprintf(expect, sizeof expect, "{\"fsg_fota\":1,\"check\":\"%s\",\"files\":%s}\n", h, ft);
    CHECK_EQ_STR(text, expect);
    cJSON_free(ft);
    cJSON_Delete(j);
}

/* While a journal waits for the next boot, an edit is refused (that boot
 * would roll the files forward, or back, over it) and changes nothing. */
static void expect_edits_refused(struct fx *f)
{
    uint32_t crc = 0;
    struct fsg_put *put = NULL;
    char *before = memport_dump(f->d.usr);
    fx_reset(f);
    CHECK_EQ_INT(fsg_calc(&f->d.cfg, "/usr/keep.py", &crc), FSG_ERR_BUSY);
    CHECK_EQ_INT(fsg_put_begin(&f->d.cfg, "/usr/keep.py", &put), FSG_ERR_BUSY);
    CHECK(put == NULL);
    CHECK_EQ_INT(memport_mutating_calls(f->d.usr), 0);
    char *after = memport_dump(f->d.usr);
    CHECK_EQ_STR(after, before);
    free(before);
    free(after);
}

static void test_boot_committed(void)
{
    struct fx f;
    struct fsg_report r;
    int state = -1, found;
    unsigned long files = 0;

    fx_init(&f);
    /* main.py set aside, its new copy not yet in. */
    make_committed(&f, 1);
    CHECK(!memport_exists(f.d.usr, "main.py"));
    CHECK(file_is_str(f.d.usr, ".fsg-fota/old/main.py", MAIN_OLD));
    CHECK(file_is_str(f.d.usr, "cfg/app.json", APP_OLD));
    check_journal_format(&f);

    fx_reset(&f);
    CHECK_EQ_INT(fsg_fota_status(&f.d.cfg, &state, &files), 0);
    CHECK_EQ_INT(state, FSG_FOTA_COMMITTED);
    CHECK_EQ_INT(files, 3);
    CHECK_EQ_INT(memport_mutating_calls(f.d.usr), 0);

    /* Another update must wait. */
    struct fsg_fota *tx = NULL;
    CHECK_EQ_INT(fsg_fota_begin(&f.d.cfg, &tx), FSG_ERR_BUSY);
    CHECK(tx == NULL);
    /* So must an edit. */
    expect_edits_refused(&f);

    /* A dry run says what it would do and writes nothing. */
    expect_dry_boot(&f, FSG_FOTA_COMMITTED, 3);

    /* On a partition that cannot be written, the check fails as the boot
     * does, and neither changes anything. */
    char *dump = memport_dump(f.d.usr);
    memport_set_readonly(f.d.usr, 1);
    fx_reset(&f);
    CHECK_EQ_INT(fsg_boot(&f.d.cfg, FSG_DRY_RUN, &r), FSG_ERR_ROFS);
    CHECK_EQ_INT(r.fota, FSG_FOTA_COMMITTED);
    fx_reset(&f);
    CHECK_EQ_INT(fsg_boot(&f.d.cfg, 0, &r), FSG_ERR_ROFS);
    CHECK_EQ_INT(r.fota, FSG_FOTA_COMMITTED);
    memport_set_readonly(f.d.usr, 0);
    char *now = memport_dump(f.d.usr);
    CHECK_EQ_STR(now, dump);
    free(now);
    free(dump);

    /* boot rolls it forward. */
    fx_reset(&f);
    CHECK_EQ_INT(fsg_boot(&f.d.cfg, 0, &r), 0);
    CHECK_EQ_INT(r.fota, FSG_FOTA_COMMITTED);
    CHECK_EQ_INT(r.fota_files, 3);
    CHECK_EQ_INT(fsg_report_exit_code(&r), 1);
    CHECK_EQ_INT(r.failed, 0);
    CHECK_EQ_INT(r.restored, 0);
    CHECK_EQ_INT(r.ok, 5);
    CHECK(file_is_str(f.d.usr, "main.py", MAIN_NEW));
    CHECK(file_is_str(f.d.usr, "cfg/app.json", APP_NEW));
    CHECK(file_is_str(f.d.usr, "n/new.txt", PLAIN));
    CHECK(file_is(f.d.usr, "big.bin", big_old, BIG_OLD_LEN));
    CHECK_EQ_INT(table_crc(&f.d, "/usr/main.py", &found), crc_str(MAIN_NEW));
    CHECK_EQ_INT(table_crc(&f.d, "/usr/cfg/app.json", &found), crc_str(APP_NEW));
    CHECK_EQ_INT(table_crc(&f.d, "/usr/n/new.txt", &found), crc_str(PLAIN));
    CHECK(found);
    CHECK_EQ_INT(table_size(&f.d), 5);
    CHECK_EQ_INT(rec_count(&f.ev, FSG_EVENT_FOTA), 3);
    const struct fsg_event *e = rec_find(&f.ev, FSG_EVENT_FOTA, "/usr/n/new.txt");
    CHECK(e != NULL && e->protect == FSG_FOTA_NEWLY_PROTECTED && e->recorded == crc_str(PLAIN));
    e = rec_find(&f.ev, FSG_EVENT_FOTA, "/usr/main.py");
    CHECK(e != NULL && e->protect == FSG_FOTA_PROTECTED);
    CHECK_EQ_INT(staged_files(f.d.usr), 0);
    check_hygiene(&f);

    fx_reset(&f);
    CHECK_EQ_INT(fsg_fota_status(&f.d.cfg, &state, &files), 0);
    CHECK_EQ_INT(state, FSG_FOTA_NONE);
    expect_quiet_boot(&f, "a rolled-forward update");
    fx_free(&f);

    /* With backup/restore switched off, boot still settles the update. */
    fx_init(&f);
    make_committed(&f, 1);
    memport_put_str(f.d.bak, "backup_restore.json", "{\"enable\": 0}");
    fx_reset(&f);
    CHECK_EQ_INT(fsg_boot(&f.d.cfg, 0, &r), 0);
    CHECK_EQ_INT(r.feature, FSG_FEATURE_DISABLED);
    CHECK_EQ_INT(r.fota, FSG_FOTA_COMMITTED);
    CHECK(file_is_str(f.d.usr, "main.py", MAIN_NEW));
    CHECK(file_is_str(f.d.usr, "cfg/app.json", APP_NEW));
    CHECK_EQ_INT(table_crc(&f.d, "/usr/main.py", &found), crc_str(MAIN_NEW));
    CHECK_EQ_INT(staged_files(f.d.usr), 0);
    check_hygiene(&f);
    fx_free(&f);

    /* Stopped at every other point after the commit point: boot finishes
     * the update the same way. */
    for (unsigned long k = 0; k <= 5; k++) {
        if (k == 1)
            continue;
        fx_init(&f);
        make_committed(&f, k);
        fx_reset(&f);
        CHECK_EQ_INT(fsg_boot(&f.d.cfg, 0, &r), 0);
        CHECK_EQ_INT(r.fota, FSG_FOTA_COMMITTED);
        CHECK(file_is_str(f.d.usr, "main.py", MAIN_NEW));
        CHECK(file_is_str(f.d.usr, "cfg/app.json", APP_NEW));
        CHECK(file_is_str(f.d.usr, "n/new.txt", PLAIN));
        CHECK_EQ_INT(table_crc(&f.d, "/usr/cfg/app.json", &found), crc_str(APP_NEW));
        CHECK_EQ_INT(table_crc(&f.d, "/usr/n/new.txt", &found), crc_str(PLAIN));
        CHECK_EQ_INT(staged_files(f.d.usr), 0);
        expect_quiet_boot(&f, "a rolled-forward update (2)");
        fx_free(&f);
    }
}

static void test_boot_uncommitted(void)
{
    struct fx f;
    struct fsg_report r;
    int state = -1;
    unsigned long files = 9;

    fx_init(&f);
    char *before = dump_outside(f.d.usr);
    char *table = xstrdup(memport_get(f.d.usr, "checksum.json", NULL));
    memport_put_str(f.d.usr, ".fsg-fota/new/main.py", MAIN_NEW);
    memport_put_str(f.d.usr, ".fsg-fota/new/n/new.txt", PLAIN);
    memport_put_str(f.d.usr, ".fsg-fota/new/n/.x.txt.fsg-tmp", "half");
    memport_put_str(f.d.usr, ".fsg-fota/checksum.json.old", table);
    memport_put_str(f.d.usr, ".fsg-fota/checksum.json.new", "[]");

    fx_reset(&f);
    CHECK_EQ_INT(fsg_fota_status(&f.d.cfg, &state, &files), 0);
    CHECK_EQ_INT(state, FSG_FOTA_UNCOMMITTED);
    CHECK_EQ_INT(memport_mutating_calls(f.d.usr), 0);

    expect_dry_boot(&f, FSG_FOTA_UNCOMMITTED, -1);

    fx_reset(&f);
    CHECK_EQ_INT(fsg_boot(&f.d.cfg, 0, &r), 0);
    CHECK_EQ_INT(r.fota, FSG_FOTA_UNCOMMITTED);
    CHECK_EQ_INT(fsg_report_exit_code(&r), 1);
    CHECK_EQ_INT(r.ok, 4);
    CHECK_EQ_INT(rec_count(&f.ev, FSG_EVENT_FOTA), 0);
    expect_unchanged(&f, before, table, "discarding an uncommitted update");
    expect_quiet_boot(&f, "a discarded update");

    /* Only empty directories: nothing at all. */
    memport_mkdir(f.d.usr, ".fsg-fota/new/deep/er");
    fx_reset(&f);
    CHECK_EQ_INT(fsg_fota_status(&f.d.cfg, &state, &files), 0);
    CHECK_EQ_INT(state, FSG_FOTA_NONE);
    expect_quiet_boot(&f, "empty staging directories");
    free(before);
    free(table);
    fx_free(&f);
}

/* Damages the journal: garbage, or one hash changed under its check. */
static void damage_journal(struct fx *f, int how)
{
    size_t len;
    const char *text = memport_get(f->d.usr, ".fsg-fota/journal.json", &len);
    CHECK(text != NULL);
    if (text == NULL)
        return;
    if (how == 0) {
        memport_put_str(f->d.usr, ".fsg-fota/journal.json", "\x01garbage{[");
        return;
    }
    char *t = xstrdup(text);
    char *p = strstr(t, "\"crc32\":\"0x");
    CHECK(p != NULL);
    if (p != NULL) {
        p += strlen("\"crc32\":\"0x");
        *p = *p == '1' ? '2' : '1';
    }
    /* Still valid JSON with a parseable hash: only the check tells. */
    cJSON *j = cJSON_Parse(t);
    CHECK(cJSON_IsObject(j));
    cJSON_Delete(j);
    memport_put_str(f->d.usr, ".fsg-fota/journal.json", t);
    free(t);
}

static void test_boot_damaged(void)
{
    for (int how = 0; how < 2; how++) {
        struct fx f;
        struct fsg_report r;
        int state = -1;
        unsigned long files = 0;

        fx_init(&f);
        char *table = xstrdup(memport_get(f.d.usr, "checksum.json", NULL));
        /* main.py replaced (old copy in old/), cfg/app.json set aside. */
        make_committed(&f, 3);
        CHECK(file_is_str(f.d.usr, "main.py", MAIN_NEW));
        CHECK(!memport_exists(f.d.usr, "cfg/app.json"));
        CHECK(file_is_str(f.d.usr, ".fsg-fota/old/main.py", MAIN_OLD));
        CHECK(file_is_str(f.d.usr, ".fsg-fota/old/cfg/app.json", APP_OLD));
        damage_journal(&f, how);

        fx_reset(&f);
        CHECK_EQ_INT(fsg_fota_status(&f.d.cfg, &state, &files), 0);
        CHECK_EQ_INT(state, FSG_FOTA_DAMAGED);
        /* "how many files ... a damaged one has set aside": two. */
        CHECK_EQ_INT(files, 2);
        CHECK_EQ_INT(memport_mutating_calls(f.d.usr), 0);
        struct fsg_fota *tx = NULL;
        CHECK_EQ_INT(fsg_fota_begin(&f.d.cfg, &tx), FSG_ERR_BUSY);
        expect_edits_refused(&f);

        expect_dry_boot(&f, FSG_FOTA_DAMAGED, 2);

        fx_reset(&f);
        CHECK_EQ_INT(fsg_boot(&f.d.cfg, 0, &r), 0);
        CHECK_EQ_INT(r.fota, FSG_FOTA_DAMAGED);
        CHECK_EQ_INT(r.fota_files, 2);
        CHECK_EQ_INT(fsg_report_exit_code(&r), 1);
        CHECK_EQ_INT(r.restored, 0);
        CHECK_EQ_INT(r.failed, 0);
        CHECK(file_is_str(f.d.usr, "main.py", MAIN_OLD));
        CHECK(file_is_str(f.d.usr, "cfg/app.json", APP_OLD));
        CHECK(file_is(f.d.usr, "big.bin", big_old, BIG_OLD_LEN));
        CHECK(file_is_str(f.d.usr, "keep.py", KEEP));
        CHECK(!memport_exists(f.d.usr, "n/new.txt"));
        CHECK(tables_equal(memport_get(f.d.usr, "checksum.json", NULL), table));
        CHECK_EQ_INT(staged_files(f.d.usr), 0);
        CHECK_EQ_INT(rec_count(&f.ev, FSG_EVENT_FOTA), 0);
        check_hygiene(&f);
        fx_reset(&f);
        CHECK_EQ_INT(fsg_fota_status(&f.d.cfg, &state, &files), 0);
        CHECK_EQ_INT(state, FSG_FOTA_NONE);
        expect_quiet_boot(&f, "an abandoned update");
        free(table);
        fx_free(&f);
    }

    /* A damaged journal before anything was set aside. */
    struct fx f;
    struct fsg_report r;
    fx_init(&f);
    char *before = dump_outside(f.d.usr);
    char *table = xstrdup(memport_get(f.d.usr, "checksum.json", NULL));
    make_committed(&f, 0);
    damage_journal(&f, 0);
    fx_reset(&f);
    CHECK_EQ_INT(fsg_boot(&f.d.cfg, 0, &r), 0);
    CHECK_EQ_INT(r.fota, FSG_FOTA_DAMAGED);
    CHECK_EQ_INT(r.fota_files, 0);
    CHECK(tables_equal(memport_get(f.d.usr, "checksum.json", NULL), table));
    CHECK(file_is_str(f.d.usr, "main.py", MAIN_OLD));
    CHECK(file_is_str(f.d.usr, "cfg/app.json", APP_OLD));
    CHECK_EQ_INT(staged_files(f.d.usr), 0);
    expect_quiet_boot(&f, "an abandoned update (nothing set aside)");
    free(before);
    free(table);
    fx_free(&f);

    /* Every file placed, the table not yet: the old files go back and the
     * file the update created goes (it was marked in gone/ first). */
    fx_init(&f);
    table = xstrdup(memport_get(f.d.usr, "checksum.json", NULL));
    make_committed(&f, 6);
    CHECK(file_is_str(f.d.usr, "n/new.txt", PLAIN));
    damage_journal(&f, 1);
    fx_reset(&f);
    CHECK_EQ_INT(fsg_boot(&f.d.cfg, 0, &r), 0);
    CHECK_EQ_INT(r.fota, FSG_FOTA_DAMAGED);
    CHECK_EQ_INT(r.fota_files, 2);
    CHECK(file_is_str(f.d.usr, "main.py", MAIN_OLD));
    CHECK(file_is_str(f.d.usr, "cfg/app.json", APP_OLD));
    CHECK_EQ_INT(memport_exists(f.d.usr, "n/new.txt"), 0);
    CHECK(tables_equal(memport_get(f.d.usr, "checksum.json", NULL), table));
    CHECK_EQ_INT(staged_files(f.d.usr), 0);
    check_hygiene(&f);
    expect_quiet_boot(&f, "an abandoned update (all placed)");
    free(table);
    fx_free(&f);
}

/* ------------------------------------------------------------------------ */
/* fsg_fota_apply over an update tree.                                      */

struct prot_ctx {
    unsigned long calls;
};

/* Protects /usr/prot/..., /usr/cfg/app.json; never /usr/main.py. */
static int protect_cb(void *ctx, const char *name)
{
    struct prot_ctx *p = ctx;
    p->calls++;
    return strncmp(name, "/usr/prot/", 10) == 0 || strcmp(name, "/usr/cfg/app.json") == 0;
}

static void test_apply(void)
{
    struct fx f;
    struct fsg_fota_report rep;
    struct prot_ctx pc = {0};
    int found;

    fx_init(&f);
    struct memport *up = memport_new();
    memport_put_str(up, "main.py", MAIN_NEW);
    memport_put_str(up, "cfg/app.json", APP_NEW);
    memport_put(up, "big.bin", big_new, BIG_NEW_LEN);
    memport_put_str(up, "newdir/x.txt", PLAIN);
    memport_put_str(up, "prot/y.py", NEWPROT);
    memport_put_str(up, "sub/checksum.json", "[]"); /* only the root one is reserved */
    memport_mkdir(up, "emptydir");

    fx_reset(&f);
    memset(&rep, 0x55, sizeof rep);
    CHECK_EQ_INT(fsg_fota_apply(&f.d.cfg, memport_port(up), protect_cb, &pc, &rep), 0);
    CHECK_EQ_INT(rep.files, 6);
    CHECK_EQ_INT(rep.protected_files, 3);
    CHECK_EQ_INT(rep.newly_protected, 1);
    CHECK_EQ_INT(rep.unprotected, 2);
    CHECK_EQ_INT(rep.committed, 1);
    CHECK(pc.calls > 0);
    CHECK(file_is_str(f.d.usr, "main.py", MAIN_NEW));
    CHECK(file_is_str(f.d.usr, "cfg/app.json", APP_NEW));
    CHECK(file_is(f.d.usr, "big.bin", big_new, BIG_NEW_LEN));
    CHECK(file_is_str(f.d.usr, "newdir/x.txt", PLAIN));
    CHECK(file_is_str(f.d.usr, "prot/y.py", NEWPROT));
    CHECK(file_is_str(f.d.usr, "sub/checksum.json", "[]"));
    /* The callback said 0 for main.py: it stays protected, new hash. */
    CHECK_EQ_INT(table_crc(&f.d, "/usr/main.py", &found), crc_str(MAIN_NEW));
    CHECK(found);
    CHECK_EQ_INT(table_crc(&f.d, "/usr/cfg/app.json", &found), crc_str(APP_NEW));
    CHECK_EQ_INT(table_crc(&f.d, "/usr/big.bin", &found), crc_of(big_new, BIG_NEW_LEN));
    CHECK_EQ_INT(table_crc(&f.d, "/usr/prot/y.py", &found), crc_str(NEWPROT));
    CHECK(found);
    table_crc(&f.d, "/usr/newdir/x.txt", &found);
    CHECK(!found);
    CHECK_EQ_INT(table_size(&f.d), 5);
    const struct fsg_event *e = rec_find(&f.ev, FSG_EVENT_FOTA, "/usr/main.py");
    CHECK(e != NULL && e->protect == FSG_FOTA_PROTECTED);
    e = rec_find(&f.ev, FSG_EVENT_FOTA, "/usr/cfg/app.json");
    CHECK(e != NULL && e->protect == FSG_FOTA_PROTECTED);
    e = rec_find(&f.ev, FSG_EVENT_FOTA, "/usr/prot/y.py");
    CHECK(e != NULL && e->protect == FSG_FOTA_NEWLY_PROTECTED);
    e = rec_find(&f.ev, FSG_EVENT_FOTA, "/usr/newdir/x.txt");
    CHECK(e != NULL && e->protect == FSG_FOTA_UNPROTECTED);
    CHECK_EQ_INT(rec_count(&f.ev, FSG_EVENT_FOTA), 6);
    CHECK_EQ_INT(memport_mutating_calls(up), 0);
    CHECK_EQ_INT(memport_open_handles(up), 0);
    CHECK_EQ_INT(staged_files(f.d.usr), 0);
    check_hygiene(&f);
    expect_quiet_boot(&f, "fsg_fota_apply");
    memport_free(up);

    /* The caller's smallest buffer, shared by the tree's reads and the
     * transaction: a big file streams through it in many pieces. */
    static unsigned char small[FSG_BUF_MIN];
    up = memport_new();
    memport_put(up, "big.bin", big_old, BIG_OLD_LEN);
    memport_put_str(up, "deep/a/b/c.txt", "c");
    memport_set_read_max(up, 100);
    f.d.cfg.buf = small;
    f.d.cfg.buf_size = sizeof small;
    fx_reset(&f);
    CHECK_EQ_INT(fsg_fota_apply(&f.d.cfg, memport_port(up), protect_cb, &pc, &rep), 0);
    CHECK_EQ_INT(rep.files, 2);
    CHECK_EQ_INT(rep.protected_files, 1);
    CHECK(file_is(f.d.usr, "big.bin", big_old, BIG_OLD_LEN));
    CHECK(file_is_str(f.d.usr, "deep/a/b/c.txt", "c"));
    CHECK_EQ_INT(table_crc(&f.d, "/usr/big.bin", &found), crc_of(big_old, BIG_OLD_LEN));
    CHECK(memport_ops(f.d.usr)->writes >= BIG_OLD_LEN / 100);
    expect_quiet_boot(&f, "fsg_fota_apply with a small buffer");
    f.d.cfg.buf = NULL;
    f.d.cfg.buf_size = 0;
    memport_free(up);

    /* NULL protect: no new file protected. */
    up = memport_new();
    memport_put_str(up, "prot/z.py", "z");
    fx_reset(&f);
    CHECK_EQ_INT(fsg_fota_apply(&f.d.cfg, memport_port(up), NULL, NULL, &rep), 0);
    CHECK_EQ_INT(rep.unprotected, 1);
    table_crc(&f.d, "/usr/prot/z.py", &found);
    CHECK(!found);
    /* An update port without list. */
    struct fsg_port nolist = *memport_port(up);
    nolist.list = NULL;
    CHECK_EQ_INT(fsg_fota_apply(&f.d.cfg, &nolist, NULL, NULL, &rep), FSG_ERR_INVAL);
    memport_free(up);
    fx_free(&f);
}

struct bad_tree {
    const char *what;
    const char *path;      /* the refused entry, as the event names it */
    int refusal;
};

static void test_apply_refusals(void)
{
    static const struct bad_tree cases[] = {
        {"a symbolic link", "lib/link.py", FSG_REFUSAL_LINK},
        {"a special file", "fifo", FSG_REFUSAL_SPECIAL},
        {"a reserved name (temporary)", "lib/.x.py.fsg-tmp", FSG_REFUSAL_NAME},
        {"a name with a backslash", "a\\b.py", FSG_REFUSAL_NAME},
        {"the staging area's name", ".fsg-fota", FSG_REFUSAL_NAME},
        {"checksum.json at the root", "checksum.json", FSG_REFUSAL_RESERVED},
        {"a link to a directory", "dirlink", FSG_REFUSAL_LINK},
    };
    struct fx f;
    struct fsg_fota_report rep;
    struct prot_ctx pc = {0};

    fx_init(&f);
    char *before = memport_dump(f.d.usr);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct memport *up = memport_new();
        /* Good files beside the bad one: none of them may be installed. */
        memport_put_str(up, "main.py", MAIN_NEW);
        memport_put_str(up, "lib/ok.py", "ok");
        const char *p = cases[i].path;
        if (strcmp(cases[i].what, "a symbolic link") == 0)
            memport_symlink(up, p, "../main.py");
        else if (strcmp(cases[i].what, "a link to a directory") == 0)
            memport_symlink(up, p, "lib");
        else if (cases[i].refusal == FSG_REFUSAL_SPECIAL)
            memport_special(up, p);
        else if (strcmp(p, ".fsg-fota") == 0)
            memport_put_str(up, ".fsg-fota/journal.json", "{}");
        else
            memport_put_str(up, p, "[]");

        fx_reset(&f);
        memset(&rep, 0x55, sizeof rep);
        int err = fsg_fota_apply(&f.d.cfg, memport_port(up), protect_cb, &pc, &rep);
        CHECK_EQ_INT(err, FSG_ERR_INVAL);
        CHECK_EQ_INT(rep.committed, 0);
        CHECK_EQ_INT(rep.files, 0);
        const struct fsg_event *e = rec_find(&f.ev, FSG_EVENT_REFUSED, p);
        CHECK(e != NULL);
        if (e == NULL)
            fprintf(stderr, "  (%s: no REFUSED event for %s)\n", cases[i].what, p);
        else
            CHECK_EQ_INT(e->refusal, cases[i].refusal);
        CHECK_EQ_INT(rec_count(&f.ev, FSG_EVENT_FOTA), 0);
        CHECK_EQ_INT(memport_mutating_calls(f.d.usr), 0);
        CHECK_EQ_INT(memport_mutating_calls(up), 0);
        CHECK_EQ_INT(memport_open_handles(up), 0);
        char *after = memport_dump(f.d.usr);
        CHECK_EQ_STR(after, before);
        free(after);
        check_hygiene(&f);
        memport_free(up);
    }

    /* A target that is a directory: the tree is fine, commit refuses. */
    struct memport *up = memport_new();
    memport_put_str(up, "main.py", MAIN_NEW);
    memport_put_str(up, "cfg", "a file where a directory is");
    char *outside = dump_outside(f.d.usr);
    char *table = xstrdup(memport_get(f.d.usr, "checksum.json", NULL));
    fx_reset(&f);
    CHECK_EQ_INT(fsg_fota_apply(&f.d.cfg, memport_port(up), NULL, NULL, &rep), FSG_ERR_ISDIR);
    CHECK_EQ_INT(rep.committed, 0);
    expect_unchanged(&f, outside, table, "apply over a directory target");
    memport_free(up);

    /* An unfinished update: busy, nothing written. */
    memport_put_str(f.d.usr, ".fsg-fota/journal.json", "{}");
    up = memport_new();
    memport_put_str(up, "main.py", MAIN_NEW);
    fx_reset(&f);
    CHECK_EQ_INT(fsg_fota_apply(&f.d.cfg, memport_port(up), NULL, NULL, &rep), FSG_ERR_BUSY);
    CHECK_EQ_INT(memport_mutating_calls(f.d.usr), 0);
    CHECK(file_is_str(f.d.usr, "main.py", MAIN_OLD));
    memport_free(up);

    free(outside);
    free(table);
    free(before);
    fx_free(&f);
}

/* ------------------------------------------------------------------------ */
/* Protection is never dropped by an update.                                */

static void test_protection_kept(void)
{
    struct fx f;
    struct fsg_fota *tx;
    struct fsg_fota_report rep;
    int found;

    /* The user checksum.json is missing: the backup's table is the one in
     * force, so every file it lists stays protected. */
    fx_init(&f);
    memport_remove(f.d.usr, "checksum.json");
    fx_reset(&f);
    CHECK_EQ_INT(fsg_fota_begin(&f.d.cfg, &tx), 0);
    CHECK_EQ_INT(stage_str(tx, "/usr/main.py", 0, MAIN_NEW), 0);
    CHECK_EQ_INT(fsg_fota_commit(tx, &rep), 0);
    CHECK_EQ_INT(rep.protected_files, 1);
    CHECK_EQ_INT(rep.unprotected, 0);
    CHECK_EQ_INT(table_crc(&f.d, "/usr/main.py", &found), crc_str(MAIN_NEW));
    CHECK(found);
    CHECK_EQ_INT(table_crc(&f.d, "/usr/keep.py", &found), crc_str(KEEP));
    CHECK(found);
    CHECK_EQ_INT(table_size(&f.d), 4);
    expect_quiet_boot(&f, "an update without a user checksum.json");
    fx_free(&f);

    /* An edit left pending (fsg_put): the update's hash wins, no pending. */
    fx_init(&f);
    {
        char h1[FSG_HASH_STRLEN], h2[FSG_HASH_STRLEN], h3[FSG_HASH_STRLEN], h4[FSG_HASH_STRLEN];
        char text[1024];
        snprintf(text, sizeof text,
                 "[{\"name\": \"/usr/main.py\", \"crc32\": \"%s\", \"fsg_pending\": \"0x1234\"},"
                 " {\"name\": \"/usr/cfg/app.json\", \"crc32\": \"%s\"},"
                 " {\"name\": \"/usr/big.bin\", \"crc32\": \"%s\"},"
                 " {\"name\": \"/usr/keep.py\", \"crc32\": \"%s\"}]",
                 mp_hash_str(MAIN_OLD, strlen(MAIN_OLD), h1), mp_hash_str(APP_OLD, strlen(APP_OLD), h2),
                 mp_hash_str(big_old, BIG_OLD_LEN, h3), mp_hash_str(KEEP, strlen(KEEP), h4));
        memport_put_str(f.d.usr, "checksum.json", text);
    }
    fx_reset(&f);
    CHECK_EQ_INT(fsg_fota_begin(&f.d.cfg, &tx), 0);
    CHECK_EQ_INT(stage_str(tx, "/usr/main.py", 0, MAIN_NEW), 0);
    CHECK_EQ_INT(fsg_fota_commit(tx, &rep), 0);
    CHECK_EQ_INT(rep.protected_files, 1);
    CHECK_EQ_INT(table_crc(&f.d, "/usr/main.py", &found), crc_str(MAIN_NEW));
    CHECK(found);
    CHECK(!table_has_key(&f.d, "fsg_pending"));
    expect_quiet_boot(&f, "an update over a pending edit");

    /* Every protected file added with protect=0: all stay protected. */
    fx_reset(&f);
    CHECK_EQ_INT(fsg_fota_begin(&f.d.cfg, &tx), 0);
    CHECK_EQ_INT(stage_str(tx, "/usr/main.py", 0, "m3"), 0);
    CHECK_EQ_INT(stage_str(tx, "/usr/cfg/app.json", 0, "a3"), 0);
    CHECK_EQ_INT(stage_str(tx, "/usr/big.bin", 0, "b3"), 0);
    CHECK_EQ_INT(stage_str(tx, "/usr/keep.py", 0, "k3"), 0);
    CHECK_EQ_INT(fsg_fota_commit(tx, &rep), 0);
    CHECK_EQ_INT(rep.protected_files, 4);
    CHECK_EQ_INT(rep.unprotected, 0);
    CHECK_EQ_INT(table_size(&f.d), 4);
    CHECK_EQ_INT(table_crc(&f.d, "/usr/big.bin", &found), crc_str("b3"));
    CHECK_EQ_INT(table_crc(&f.d, "/usr/keep.py", &found), crc_str("k3"));
    expect_quiet_boot(&f, "an update of every protected file");
    fx_free(&f);

    /* The user table lost keep.py's entry, which the backup's still has
     * (boot puts such entries back), and holds only a refused one. Updating
     * keep.py must not leave it "unprotected" only for the next boot to
     * revert it to the factory copy, and the refused entry gives way. */
    fx_init(&f);
    {
        char h1[FSG_HASH_STRLEN], h2[FSG_HASH_STRLEN], h3[FSG_HASH_STRLEN];
        char text[1024];
        snprintf(text, sizeof text,
                 "[{\"name\": \"/usr/main.py\", \"crc32\": \"%s\"},"
                 " {\"name\": \"/usr/cfg/app.json\", \"crc32\": \"%s\"},"
                 " {\"name\": \"/usr/big.bin\", \"crc32\": \"%s\"},"
                 " {\"name\": \"/usr/keep.py\"}]",
                 mp_hash_str(MAIN_OLD, strlen(MAIN_OLD), h1), mp_hash_str(APP_OLD, strlen(APP_OLD), h2),
                 mp_hash_str(big_old, BIG_OLD_LEN, h3));
        memport_put_str(f.d.usr, "checksum.json", text);
    }
    fx_reset(&f);
    CHECK_EQ_INT(fsg_fota_begin(&f.d.cfg, &tx), 0);
    CHECK_EQ_INT(stage_str(tx, "/usr/keep.py", 0, "keep v2\n"), 0);
    CHECK_EQ_INT(fsg_fota_commit(tx, &rep), 0);
    CHECK(file_is_str(f.d.usr, "keep.py", "keep v2\n"));
    CHECK_EQ_INT(rep.unprotected, 0);
    CHECK_EQ_INT(rep.protected_files, 1);
    CHECK_EQ_INT(table_size(&f.d), 4); /* the refused keep.py entry dropped */
    CHECK_EQ_INT(table_crc(&f.d, "/usr/keep.py", &found), crc_str("keep v2\n"));
    struct fsg_report r;
    fx_reset(&f);
    CHECK_EQ_INT(fsg_boot(&f.d.cfg, 0, &r), 0);
    CHECK(file_is_str(f.d.usr, "keep.py", "keep v2\n"));
    if (!file_is_str(f.d.usr, "keep.py", "keep v2\n"))
        fprintf(stderr, "  (BUG? an update of /usr/keep.py, protected by the backup table but "
                        "missing from the user table, was reported %s and reverted to the "
                        "factory copy by the next boot: restored %lu)\n",
                rep.unprotected ? "unprotected" : "protected", r.restored);
    fx_free(&f);
}

/* A port without list cannot hold an update: begin refuses it. */
static void test_needs_list(void)
{
    struct mp_device d;
    struct fsg_fota *tx = NULL;
    mpdev_init(&d);
    mpdev_add_str(&d, "/usr/a.py", "a\n");
    mpdev_save(&d);
    struct fsg_port nolist = *d.cfg.usr;
    nolist.list = NULL;
    struct fsg_config cfg = d.cfg;
    cfg.usr = &nolist;
    CHECK_EQ_INT(fsg_fota_begin(&cfg, &tx), FSG_ERR_NOTSUP);
    CHECK(tx == NULL);
    CHECK_EQ_INT(memport_mutating_calls(d.usr), 0);
    struct fsg_report r;
    CHECK_EQ_INT(fsg_boot(&cfg, 0, &r), 0); /* boot still works without list */
    CHECK_EQ_INT(fsg_report_exit_code(&r), 0);
    mpdev_free(&d);
}

int main(void)
{
    test_needs_list();
    mp_fill(big_old, sizeof big_old, 1);
    mp_fill(big_new, sizeof big_new, 2);
    test_multi_file();
    test_small_cases();
    test_abort();
    test_refusals();
    test_blocked_parent();
    test_nospace();
    test_boot_committed();
    test_boot_uncommitted();
    test_boot_damaged();
    test_apply();
    test_apply_refusals();
    test_protection_kept();
    return check_done("test_fota");
}
