/*
 * test_crash.c -- power-loss and I/O-error sweeps over every mutating path.
 *
 * For each scenario (a boot repairing each kind of damage, calc, put, ...):
 * count the storage operations of a clean run; then for every operation i,
 * rerun with the power cut at i (the wrapper port failing every call from i
 * on, then fsg_mem's crash model, several seeds), or with an I/O error at i
 * (once, or from then on); reboot (a full boot on
 * what survived) and check that
 *  - the boot runs and the user checksum.json is valid,
 *  - every protected file holds a version it legitimately had, never a mix,
 *    and checksum.json holds that version's hash (no pending one left),
 *  - a second boot finds nothing to do and writes nothing,
 *  - no temporary file is left, and the backup was never written.
 * A failure prints the line that replays it: FSG_CRASH_REPLAY=ID.
 *
 * Then a second pass over the scenarios that write hashes, with tables whose
 * entries carry "sha256" too ("sha/..." ids): the sha256 must survive too.
 *
 * FSG_CRASH_DEEP=1 runs more seeds and fault kinds (make test-deep).
 * Built against a deliberately broken core (FSG_TEST_BREAK), the program
 * passes only if the sweep catches the breakage: proof that it can fail.
 */
#include "faultport.h"
#include "fsg_mem.h"
#include "fsguard.h"

#include <cjson/cJSON.h>
#ifndef FSG_MCU
#include <sodium.h>
#endif
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BIG_LEN 150000

struct version {
    const char *data;
    size_t len;
};

/* Up to four legitimate versions of each protected file. */
struct allowed {
    const char *name;
    struct version v[4];
    int n;
};

/* The two partitions, each seen through a wrapper port (fusr, fbak) that
 * counts the calls and injects the faults. */
struct dev {
    struct fsg_mem *usr, *bak;
    struct faultport *fusr, *fbak;
};

struct scenario {
    const char *id;
    void (*setup)(struct dev *d);           /* damage or prepare the standard device */
    int (*run)(struct dev *d, const struct fsg_config *cfg);
    /* Extra legitimate versions: name, then content (NULL-terminated pairs). */
    void (*allow)(struct allowed *a, size_t n);
    /* A check across files (an update: all or nothing), or NULL. */
    void (*extra)(struct dev *d);
    /* Also sweep power cuts over the boot that finishes a committed update. */
    int nested;
};

static char big[BIG_LEN], big2[BIG_LEN / 2];
static const char *const names[] = {"/usr/a.py", "/usr/lib/b.py", "/usr/lib/deep/c.json",
                                    "/usr/empty.txt", "/usr/big.bin"};
#define NFILES (sizeof names / sizeof names[0])
static const char *factory_text[NFILES] = {"print('a')\n", "import a\n", "{\"x\": 1}", "", NULL};

static const char V1[] = "print('edited once')\n";
static const char V2[] = "print('edited twice, a little longer')\n";

static int failures, runs, failed_runs;
static int with_sha;        /* tables carry "sha256" besides "crc32" */

/* On an emulated microcontroller (FSG_MCU, tests/mcu), the reduced sweep:
 * a power cut at every call with one crash seed, without the injected I/O
 * errors and full disks, which the host's sweep covers (the whole sweep
 * there takes some 15 minutes an architecture). */
#ifdef FSG_MCU
#define SHALLOW_SEEDS 1ul
#define IO_FAULTS 0
#else
#define SHALLOW_SEEDS 2ul
#define IO_FAULTS 1
#endif
static int expect_broken;   /* built against a broken core: a failure is the goal */
static const char *replay;  /* FSG_CRASH_REPLAY */
static char current[128];   /* id of the run under way */

static struct version factory(size_t i)
{
    struct version v = {factory_text[i], factory_text[i] ? strlen(factory_text[i]) : 0};
    if (i == NFILES - 1) {
        v.data = big;
        v.len = BIG_LEN;
    }
    return v;
}

static const char *hash_str(const void *data, size_t len, char out[FSG_HASH_STRLEN])
{
    return fsg_hash_format(fsg_crc32(FSG_CRC_INIT, data, len), out);
}

static const char *sha_str(const void *data, size_t len, char out[FSG_SHA256_STRLEN])
{
#ifdef FSG_MCU
    /* The target build (tests/mcu) has no SHA-256 and no sha pass. */
    (void)data;
    (void)len;
    out[0] = '\0';
    return out;
#else
    unsigned char d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(d, data, len);
    return fsg_sha256_format(d, out);
#endif
}

/* True if entry e holds the hashes of data, as the pass expects. */
static int entry_matches(const cJSON *e, const void *data, size_t len)
{
    char h[FSG_HASH_STRLEN], sh[FSG_SHA256_STRLEN];
    const char *c = cJSON_GetStringValue(cJSON_GetObjectItem(e, "crc32"));
    const char *x = cJSON_GetStringValue(cJSON_GetObjectItem(e, "sha256"));
    if (c == NULL || strcmp(c, hash_str(data, len, h)) != 0)
        return 0;
    if (with_sha)
        return x != NULL && strcmp(x, sha_str(data, len, sh)) == 0;
    return x == NULL;
}

/* A manifest for the standard files, with one file's content overridden. */
static void write_manifest(struct fsg_mem *m, const char *path, const char *name,
                           const void *data, size_t len, const char *pending)
{
    cJSON *arr = cJSON_CreateArray();
    char h[FSG_HASH_STRLEN];
    for (size_t i = 0; i < NFILES; i++) {
        struct version v = factory(i);
        if (name != NULL && strcmp(names[i], name) == 0) {
            v.data = data;
            v.len = len;
        }
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", names[i]);
        cJSON_AddStringToObject(e, "crc32", hash_str(v.data, v.len, h));
        if (with_sha) {
            char sh[FSG_SHA256_STRLEN];
            cJSON_AddStringToObject(e, "sha256", sha_str(v.data, v.len, sh));
        }
        if (pending != NULL && name != NULL && strcmp(names[i], name) == 0)
            cJSON_AddStringToObject(e, "fsg_pending", pending);
        cJSON_AddItemToArray(arr, e);
    }
    char *s = cJSON_PrintUnformatted(arr);
    fsg_mem_put(m, path, s, strlen(s));
    cJSON_free(s);
    cJSON_Delete(arr);
}

static struct dev dev_clone(const struct dev *d);

/* The standard device: five protected files, factory everywhere. */
static struct dev standard(void)
{
    static struct dev bases[2];
    struct dev *b = &bases[with_sha], base = *b;
    if (base.usr == NULL) {
        base.usr = fsg_mem_new();
        base.bak = fsg_mem_new();
        for (size_t i = 0; i < NFILES; i++) {
            struct version v = factory(i);
            char bpath[64];
            snprintf(bpath, sizeof bpath, "%s", names[i] + 1);
            fsg_mem_put(base.usr, names[i] + 5, v.data, v.len);
            fsg_mem_put(base.bak, bpath, v.data, v.len);
        }
        write_manifest(base.usr, "checksum.json", NULL, NULL, 0, NULL);
        write_manifest(base.bak, "checksum.json", NULL, NULL, 0, NULL);
        fsg_mem_put(base.bak, "backup_restore.json", "{\"enable\": 1}\n", 14);
        *b = base;
    }
    return dev_clone(b);
}

static void dev_free(struct dev *d)
{
    faultport_free(d->fusr);
    faultport_free(d->fbak);
    fsg_mem_free(d->usr);
    fsg_mem_free(d->bak);
}

static struct dev dev_clone(const struct dev *d)
{
    struct dev c = {fsg_mem_clone(d->usr), fsg_mem_clone(d->bak), NULL, NULL};
    if (c.usr == NULL || c.bak == NULL ||
        (c.fusr = faultport_new(fsg_mem_port(c.usr))) == NULL ||
        (c.fbak = faultport_new(fsg_mem_port(c.bak))) == NULL) {
        fputs("test_crash: out of memory\n", stderr);
        abort();
    }
    return c;
}

static void config(struct fsg_config *cfg, const struct dev *d)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->usr = faultport_port(d->fusr);
    cfg->bak = faultport_port(d->fbak);
}

/* ---- scenarios ---- */

static void s_none(struct dev *d) { (void)d; }
static void s_missing(struct dev *d) { fsg_mem_remove(d->usr, "a.py"); }
static void s_flipped(struct dev *d)
{
    char *copy = malloc(BIG_LEN);
    memcpy(copy, big, BIG_LEN);
    copy[BIG_LEN / 2] ^= 0x10;
    fsg_mem_put(d->usr, "big.bin", copy, BIG_LEN);
    free(copy);
}
static void s_truncated(struct dev *d) { fsg_mem_put(d->usr, "lib/b.py", "imp", 3); }
static void s_dir_gone(struct dev *d) { fsg_mem_remove(d->usr, "lib"); }
static void s_no_manifest(struct dev *d) { fsg_mem_remove(d->usr, "checksum.json"); }
static void s_bad_manifest(struct dev *d)
{
    fsg_mem_put(d->usr, "checksum.json", "[{\"name\": \"/usr/a.py\",", 22);
    fsg_mem_remove(d->usr, "a.py");
}
static void s_entry_lost(struct dev *d)
{
    /* The user table lacks lib/b.py (put back from the backup's), and the
     * file is damaged too. */
    char h[FSG_HASH_STRLEN];
    char text[512];
    snprintf(text, sizeof text, "[{\"name\":\"/usr/a.py\",\"crc32\":\"%s\"}]",
             hash_str(factory_text[0], strlen(factory_text[0]), h));
    fsg_mem_put(d->usr, "checksum.json", text, strlen(text));
    fsg_mem_put(d->usr, "lib/b.py", "x", 1);
}
static void s_hash_only(struct dev *d)
{
    /* checksum.json says a legitimate edit, the file is the factory copy. */
    write_manifest(d->usr, "checksum.json", "/usr/a.py", V1, strlen(V1), NULL);
}
static void s_temps(struct dev *d)
{
    fsg_mem_put(d->usr, ".checksum.json.fsg-tmp", "[", 1);
    fsg_mem_put(d->usr, "lib/.b.py.fsg-tmp", "half", 4);
    fsg_mem_remove(d->usr, "empty.txt");
}
static void s_many(struct dev *d)
{
    s_missing(d);
    s_flipped(d);
    s_truncated(d);
    s_no_manifest(d);
}
/* An edit the application wrote, then calc records. */
static void s_edit_v1_unrecorded(struct dev *d) { fsg_mem_put(d->usr, "a.py", V1, strlen(V1)); }
/* A legitimate edit, recorded: v1 is now the file's good version. */
static void s_edit_v1(struct dev *d)
{
    fsg_mem_put(d->usr, "a.py", V1, strlen(V1));
    write_manifest(d->usr, "checksum.json", "/usr/a.py", V1, strlen(V1), NULL);
}
static void s_big_v1(struct dev *d)
{
    fsg_mem_put(d->usr, "big.bin", big2, sizeof big2);
    write_manifest(d->usr, "checksum.json", "/usr/big.bin", big2, sizeof big2, NULL);
}
static void s_pending(struct dev *d)
{
    /* What a put leaves when cut after its rename: v2 in place, pending. */
    char h[FSG_HASH_STRLEN];
    fsg_mem_put(d->usr, "a.py", V2, strlen(V2));
    write_manifest(d->usr, "checksum.json", "/usr/a.py", V1, strlen(V1),
                   hash_str(V2, strlen(V2), h));
}

static int r_boot(struct dev *d, const struct fsg_config *cfg)
{
    struct fsg_report r;
    (void)d;
    return fsg_boot(cfg, 0, &r);
}

static int r_calc(struct dev *d, const struct fsg_config *cfg)
{
    uint32_t crc;
    (void)d;
    return fsg_calc(cfg, "/usr/a.py", &crc);
}

static int put_bytes(const struct fsg_config *cfg, const char *name, const char *data, size_t len)
{
    struct fsg_put *p;
    uint32_t crc;
    int err = fsg_put_begin(cfg, name, &p);
    /* In pieces, as firmware producing content would write it. */
    for (size_t off = 0; err == 0 && off < len; off += 1000)
        err = fsg_put_write(p, data + off, len - off < 1000 ? len - off : 1000);
    if (err == 0)
        return fsg_put_commit(p, &crc);
    if (p != NULL)
        fsg_put_abort(p);
    return err;
}

static int r_put_small(struct dev *d, const struct fsg_config *cfg)
{
    (void)d;
    return put_bytes(cfg, "/usr/a.py", V2, strlen(V2));
}

static int r_put_big(struct dev *d, const struct fsg_config *cfg)
{
    (void)d;
    return put_bytes(cfg, "/usr/big.bin", big, BIG_LEN / 3);
}

static int r_put_new_dir(struct dev *d, const struct fsg_config *cfg)
{
    (void)d;
    return put_bytes(cfg, "/usr/lib/deep/c.json", V2, strlen(V2));
}

static const char NEWTXT[] = "a new module\n";
static const char NEWCFG[] = "{\"new\": true}\n";

/* An update of four files: two protected (one of several chunks), a new
 * unprotected one, a new one to protect. */
static int r_fota(struct dev *d, const struct fsg_config *cfg)
{
    struct fsg_fota *tx;
    struct fsg_fota_report rep;
    (void)d;
    int err = fsg_fota_begin(cfg, &tx);
    if (err < 0)
        return err;
    struct { const char *name; const char *data; size_t len; int protect; } f[] = {
        {"/usr/a.py", V2, strlen(V2), 0},
        {"/usr/big.bin", big2, sizeof big2, 0},
        {"/usr/lib/new/mod.py", NEWTXT, strlen(NEWTXT), 0},
        {"/usr/cfg/new.json", NEWCFG, strlen(NEWCFG), 1},
    };
    for (size_t i = 0; err == 0 && i < sizeof f / sizeof f[0]; i++) {
        err = fsg_fota_add(tx, f[i].name, f[i].protect);
        for (size_t off = 0; err == 0 && off < f[i].len; off += 5000)
            err = fsg_fota_write(tx, f[i].data + off, f[i].len - off < 5000 ? f[i].len - off : 5000);
    }
    if (err < 0) {
        fsg_fota_abort(tx);
        return err;
    }
    return fsg_fota_commit(tx, &rep);
}

static void add(struct allowed *a, size_t n, const char *name, const char *data, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(a[i].name, name) == 0 && a[i].n < 4)
            a[i].v[a[i].n++] = (struct version){data, len};
}

/* Only the factory versions (the default): damaged files must be restored. */
static void a_factory(struct allowed *a, size_t n) { (void)a; (void)n; }
/* calc: the edit is kept if its hash was recorded; else, unrecorded, it was
 * damage from the boot's point of view, and the factory copy is right. */
static void a_calc(struct allowed *a, size_t n) { add(a, n, "/usr/a.py", V1, strlen(V1)); }
static void a_v1_only(struct allowed *a, size_t n)
{
    a[0].n = 0; /* a.py: never back to factory */
    add(a, n, "/usr/a.py", V1, strlen(V1));
}
static void a_put_small(struct allowed *a, size_t n)
{
    a_v1_only(a, n);
    add(a, n, "/usr/a.py", V2, strlen(V2));
}
static void a_put_big(struct allowed *a, size_t n)
{
    a[NFILES - 1].n = 0;
    add(a, n, "/usr/big.bin", big2, sizeof big2);
    add(a, n, "/usr/big.bin", big, BIG_LEN / 3);
}
static void a_put_new_dir(struct allowed *a, size_t n)
{
    /* The file was missing (damage): factory, or the new content. */
    add(a, n, "/usr/lib/deep/c.json", V2, strlen(V2));
}
static void a_pending(struct allowed *a, size_t n)
{
    a[0].n = 0;
    add(a, n, "/usr/a.py", V2, strlen(V2));
}

static void a_fota(struct allowed *a, size_t n)
{
    a_put_small(a, n); /* a.py: its legitimate edit V1, or the update's V2 */
    a[NFILES - 1].n = 0;
    add(a, n, "/usr/big.bin", big, BIG_LEN);
    add(a, n, "/usr/big.bin", big2, sizeof big2);
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int has_entry(struct dev *d, const char *name, const char *data, size_t len)
{
    size_t mlen;
    const char *man = fsg_mem_get(d->usr, "checksum.json", &mlen);
    cJSON *t = man != NULL ? cJSON_ParseWithLength(man, mlen) : NULL;
    int found = 0;
    cJSON *e;
    cJSON_ArrayForEach(e, t)
    {
        const char *n = cJSON_GetStringValue(cJSON_GetObjectItem(e, "name"));
        if (n != NULL && strcmp(n, name) == 0)
            found = data == NULL || entry_matches(e, data, len) ? 1 : -1;
    }
    cJSON_Delete(t);
    return found;
}

static int holds(struct dev *d, const char *path, const char *data, size_t len)
{
    size_t got;
    const char *x = fsg_mem_get(d->usr, path, &got);
    return x != NULL && got == len && memcmp(x, data, len) == 0;
}

/* What the reboot of check_after reported, for the scenario's own check. */
static struct fsg_report last_reboot;

/* All or nothing: every file of the update new (protected ones hashed),
 * or every file as before and the new ones absent. */
static void x_fota(struct dev *d)
{
    int updated = holds(d, "a.py", V2, strlen(V2));
    int big_new = holds(d, "big.bin", big2, sizeof big2);
    int mod = holds(d, "lib/new/mod.py", NEWTXT, strlen(NEWTXT));
    int cfg = holds(d, "cfg/new.json", NEWCFG, strlen(NEWCFG));
    if (big_new != updated || mod != updated || cfg != updated)
        fail("a mix of old and new files (a.py %d, big.bin %d, mod.py %d, new.json %d)",
             updated, big_new, mod, cfg);
    if (!updated && (fsg_mem_type(d->usr, "lib/new/mod.py") != 0 ||
                     fsg_mem_type(d->usr, "cfg/new.json") != 0))
        fail("%s", "an update that did not happen left new files");
    if (updated && has_entry(d, "/usr/cfg/new.json", NEWCFG, strlen(NEWCFG)) != 1)
        fail("%s", "the newly protected file has no entry with its hash");
    if (!updated && has_entry(d, "/usr/cfg/new.json", NULL, 0) != 0)
        fail("%s", "an update that did not happen left an entry");
    if (has_entry(d, "/usr/lib/new/mod.py", NULL, 0) != 0)
        fail("%s", "the new unprotected file got an entry");
    /* An update that never committed left no new file: one whose files are
     * all new committed, and the reboot must not call it discarded. */
    if (updated && last_reboot.fota == FSG_FOTA_UNCOMMITTED)
        fail("%s", "the reboot reported an uncommitted update discarded, but every file is new");
    int state;
    unsigned long files;
    struct fsg_config cfgx;
    memset(&cfgx, 0, sizeof cfgx);
    cfgx.usr = fsg_mem_port(d->usr);
    cfgx.bak = fsg_mem_port(d->bak);
    if (fsg_fota_status(&cfgx, &state, &files) < 0 || state != FSG_FOTA_NONE)
        fail("%s", "an update is still pending after the reboot");
}

static const struct scenario scenarios[] = {
    {"boot-clean", s_none, r_boot, a_factory, NULL, 0},
    {"boot-missing", s_missing, r_boot, a_factory, NULL, 0},
    {"boot-flipped-big", s_flipped, r_boot, a_factory, NULL, 0},
    {"boot-truncated", s_truncated, r_boot, a_factory, NULL, 0},
    {"boot-dir-gone", s_dir_gone, r_boot, a_factory, NULL, 0},
    {"boot-no-manifest", s_no_manifest, r_boot, a_factory, NULL, 0},
    {"boot-bad-manifest", s_bad_manifest, r_boot, a_factory, NULL, 0},
    {"boot-entry-lost", s_entry_lost, r_boot, a_factory, NULL, 0},
    {"boot-hash-only", s_hash_only, r_boot, a_factory, NULL, 0},
    {"boot-temps", s_temps, r_boot, a_factory, NULL, 0},
    {"boot-many", s_many, r_boot, a_factory, NULL, 0},
    {"boot-pending", s_pending, r_boot, a_pending, NULL, 0},
    {"calc", s_edit_v1_unrecorded, r_calc, a_calc, NULL, 0},
    {"put-small", s_edit_v1, r_put_small, a_put_small, NULL, 0},
    {"put-big", s_big_v1, r_put_big, a_put_big, NULL, 0},
    {"put-new-dir", s_dir_gone, r_put_new_dir, a_put_new_dir, NULL, 0},
    {"fota", s_edit_v1, r_fota, a_fota, x_fota, 1},
};

/* ---- checks ---- */

static void fail(const char *fmt, ...)
{
    va_list ap;
    failures++;
    fprintf(stderr, "FAIL %s: ", current);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n  replay: FSG_CRASH_REPLAY=%s\n", current);
}

struct tmp_count {
    int n;
    char first[256];
};

static void count_tmp(void *arg, const char *path, int type)
{
    struct tmp_count *t = arg;
    size_t len = strlen(path);
    if (type == FSG_TYPE_REG && len > 8 && strcmp(path + len - 8, ".fsg-tmp") == 0) {
        if (t->n++ == 0)
            snprintf(t->first, sizeof t->first, "%s", path);
    }
}

/* Reboots the device and checks every invariant. */
static void check_after(struct dev *d, const struct scenario *sc)
{
    struct fsg_config cfg;
    struct fsg_report r;
    struct allowed a[NFILES];

    config(&cfg, d);
    faultport_reset_ops(d->fbak);
    int err = fsg_boot(&cfg, 0, &r);
    last_reboot = r;
    if (err < 0) {
        fail("the reboot failed: %s", fsg_strerror(err));
        return;
    }
    /* The table the boot left must be valid JSON naming every file with
     * the hash of what the file holds. */
    size_t mlen;
    const char *man = fsg_mem_get(d->usr, "checksum.json", &mlen);
    cJSON *table = man != NULL ? cJSON_ParseWithLength(man, mlen) : NULL;
    if (!cJSON_IsArray(table)) {
        fail("%s", "checksum.json is missing or not a JSON array after the reboot");
        cJSON_Delete(table);
        return;
    }
    for (size_t i = 0; i < NFILES; i++) {
        a[i].name = names[i];
        a[i].n = 1;
        a[i].v[0] = factory(i);
    }
    sc->allow(a, NFILES);
    for (size_t i = 0; i < NFILES; i++) {
        size_t len;
        const char *data = fsg_mem_get(d->usr, names[i] + 5, &len);
        int ok = 0;
        for (int k = 0; data != NULL && k < a[i].n; k++)
            ok |= a[i].v[k].len == len && memcmp(a[i].v[k].data, data, len) == 0;
        if (!ok) {
            fail("%s holds no version it legitimately had", names[i]);
            continue;
        }
        int found = 0;
        cJSON *e;
        cJSON_ArrayForEach(e, table)
        {
            const char *n = cJSON_GetStringValue(cJSON_GetObjectItem(e, "name"));
            if (n == NULL || strcmp(n, names[i]) != 0)
                continue;
            found = 1;
            if (!entry_matches(e, data, len))
                fail("checksum.json does not hold the hash%s of %s's content",
                     with_sha ? "es (crc32 and sha256)" : "", names[i]);
            if (cJSON_GetObjectItem(e, "fsg_pending") != NULL ||
                cJSON_GetObjectItem(e, "fsg_pending_sha256") != NULL)
                fail("a pending hash is left for %s", names[i]);
        }
        if (!found)
            fail("checksum.json has no entry for %s", names[i]);
    }
    cJSON_Delete(table);

    /* Nothing more to do: a second boot writes nothing. */
    faultport_reset_ops(d->fusr);
    err = fsg_boot(&cfg, 0, &r);
    if (err < 0 || fsg_report_exit_code(&r) != 0 || faultport_mutations(d->fusr) != 0)
        fail("%s", "a second boot was not a no-op");
    struct tmp_count t = {0, ""};
    fsg_mem_each(d->usr, count_tmp, &t);
    if (t.n > 0)
        fail("temporary file %s is left", t.first);
    if (faultport_mutations(d->fbak) != 0)
        fail("%s", "the backup partition was written");
    if (sc->extra != NULL)
        sc->extra(d);
}

/* ---- the sweep ---- */

enum { MODE_CRASH, MODE_EIO_ONCE, MODE_EIO_ALWAYS, MODE_NOSPC_ONCE, MODE_NOSPC_ALWAYS,
       MODE_BAK_EIO_ONCE, MODE_BAK_EIO_ALWAYS, NMODES };
static const char *const mode_names[NMODES] = {"crash", "eio-once", "eio-always", "nospc-once",
                                               "nospc-always", "bak-eio-once", "bak-eio-always"};

static void one_run(const struct dev *prepared, const struct scenario *sc, int mode,
                    unsigned long at, unsigned long seed)
{
    struct dev d = dev_clone(prepared);
    struct fsg_config cfg;

    snprintf(current, sizeof current, "%s:%s:%lu:%lu", sc->id, mode_names[mode], at, seed);
    if (replay != NULL && strcmp(replay, current) != 0) {
        dev_free(&d);
        return;
    }
    runs++;
    int before = failures;
    config(&cfg, &d);
    int bak = mode >= MODE_BAK_EIO_ONCE;
    struct faultport *target = bak ? d.fbak : d.fusr;
    /* A power cut: the at-th call and every later one fail with
     * FSG_ERR_IO, changing nothing; then the crash. */
    int once = mode == MODE_EIO_ONCE || mode == MODE_NOSPC_ONCE || mode == MODE_BAK_EIO_ONCE;
    int err = (mode == MODE_NOSPC_ONCE || mode == MODE_NOSPC_ALWAYS) ? FSG_ERR_NOSPC : FSG_ERR_IO;
    faultport_reset_ops(d.fbak);
    faultport_fail_at(target, at, err, !once);
    (void)sc->run(&d, &cfg);    /* may fail: that is the point */
    if (faultport_mutations(d.fbak) != 0)
        fail("%s", "the backup partition was written");
    faultport_fail_clear(target);
    if (mode == MODE_CRASH) {
        fsg_mem_crash(d.usr, seed);
        fsg_mem_crash(d.bak, seed);
    }
    check_after(&d, sc);
    if (failures > before)
        failed_runs++;
    dev_free(&d);
}

static int r_boot(struct dev *d, const struct fsg_config *cfg);

/* For every cut of the operation that leaves a committed update behind,
 * sweeps power cuts over the boot that finishes it. */
static void sweep_finishing_boot(const struct scenario *sc, const struct dev *prepared,
                                 unsigned long nops, int deep)
{
    unsigned long states = 0, total = 0;
    for (unsigned long at = 1; at <= nops; at++) {
        struct dev d = dev_clone(prepared);
        struct fsg_config cfg;
        config(&cfg, &d);
        faultport_fail_at(d.fusr, at, FSG_ERR_IO, 1); /* the power cut */
        (void)sc->run(&d, &cfg);
        faultport_fail_clear(d.fusr);
        fsg_mem_sync_all(d.usr); /* everything written up to the cut survived */
        int state;
        unsigned long files;
        if (fsg_fota_status(&cfg, &state, &files) < 0 || state != FSG_FOTA_COMMITTED) {
            dev_free(&d);
            continue;
        }
        states++;
        /* The finishing boot's operations, counted on a clone. */
        struct dev clean = dev_clone(&d);
        struct fsg_config ccfg;
        config(&ccfg, &clean);
        faultport_reset_ops(clean.fusr);
        (void)r_boot(&clean, &ccfg);
        unsigned long nboot = faultport_ops(clean.fusr)->total;
        dev_free(&clean);
        struct scenario inner = *sc;
        char id[64];
        snprintf(id, sizeof id, "%s-finish@%lu", sc->id, at);
        inner.id = id;
        inner.run = r_boot;
        for (unsigned long j = 1; j <= nboot + 1; j++) {
            for (unsigned long seed = 1; seed <= (deep ? 4ul : 1ul); seed++)
                one_run(&d, &inner, MODE_CRASH, j, seed);
            if (IO_FAULTS)
                one_run(&d, &inner, MODE_EIO_ONCE, j, 0);
            total += (deep ? 4 : 1) + IO_FAULTS;
        }
        dev_free(&d);
    }
    printf("%-18s %4lu committed states, each with every cut of the boot finishing it\n",
           sc->id, states);
    if (states == 0 && replay == NULL)
        fail("%s", "no cut left a committed update: the nested sweep tested nothing");
    (void)total;
}

static void sweep(const struct scenario *sc, int deep)
{
    struct dev prepared = standard();
    sc->setup(&prepared);
    fsg_mem_sync_all(prepared.usr);

    /* The clean run: how many operations, and it must pass too. */
    struct dev clean = dev_clone(&prepared);
    struct fsg_config cfg;
    config(&cfg, &clean);
    faultport_reset_ops(clean.fusr);
    faultport_reset_ops(clean.fbak);
    int err = sc->run(&clean, &cfg);
    unsigned long nusr = faultport_ops(clean.fusr)->total, nbak = faultport_ops(clean.fbak)->total;
    snprintf(current, sizeof current, "%s:clean:0:0", sc->id);
    if (err < 0 && (replay == NULL || strcmp(replay, current) == 0))
        fail("the clean run failed: %s", fsg_strerror(err));
    if (replay == NULL || strcmp(replay, current) == 0)
        check_after(&clean, sc);
    dev_free(&clean);

    unsigned long seeds = deep ? 12 : SHALLOW_SEEDS;
    for (unsigned long at = 1; at <= nusr + 1; at++) {
        for (unsigned long seed = 1; seed <= seeds; seed++)
            one_run(&prepared, sc, MODE_CRASH, at, seed);
        if (!IO_FAULTS)
            continue;
        one_run(&prepared, sc, MODE_EIO_ONCE, at, 0);
        one_run(&prepared, sc, MODE_NOSPC_ALWAYS, at, 0);
        if (deep) {
            one_run(&prepared, sc, MODE_EIO_ALWAYS, at, 0);
            one_run(&prepared, sc, MODE_NOSPC_ONCE, at, 0);
        }
    }
    for (unsigned long at = 1; at <= nbak + 1 && IO_FAULTS; at++) {
        one_run(&prepared, sc, MODE_BAK_EIO_ONCE, at, 0);
        if (deep)
            one_run(&prepared, sc, MODE_BAK_EIO_ALWAYS, at, 0);
    }
    printf("%-18s %4lu user ops, %3lu backup ops\n", sc->id, nusr, nbak);
    if (sc->nested)
        sweep_finishing_boot(sc, &prepared, nusr, deep);
    dev_free(&prepared);
}

int main(void)
{
    const char *deep_env = getenv("FSG_CRASH_DEEP");
    int deep = deep_env != NULL && strcmp(deep_env, "0") != 0;
    replay = getenv("FSG_CRASH_REPLAY");
#ifdef FSG_TEST_BREAK
    expect_broken = FSG_TEST_BREAK;
#endif
    uint32_t s = 12345;
    for (size_t i = 0; i < BIG_LEN; i++) {
        s = s * 1103515245u + 12345u;
        big[i] = (char)(s >> 16);
    }
    for (size_t i = 0; i < sizeof big2; i++)
        big2[i] = (char)(i * 7 + 1);

    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++)
        sweep(&scenarios[i], deep);
#ifndef FSG_MCU
    /* The paths that write hashes, once more with sha256 entries. */
    static const char *const sha_pass[] = {"boot-missing", "boot-flipped-big", "boot-hash-only",
                                           "calc", "put-small", "put-big", "fota"};
    with_sha = 1;
    size_t swept = 0;
    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
        for (size_t k = 0; k < sizeof sha_pass / sizeof sha_pass[0]; k++) {
            if (strcmp(scenarios[i].id, sha_pass[k]) != 0)
                continue;
            struct scenario sc = scenarios[i];
            char id[64];
            snprintf(id, sizeof id, "sha/%s", sc.id);
            sc.id = id;
            sweep(&sc, deep);
            swept++;
        }
    }
    /* A renamed scenario must not drop out of the pass unnoticed. */
    if (swept != sizeof sha_pass / sizeof sha_pass[0] && replay == NULL)
        fail("the sha256 pass swept %zu scenarios of %zu", swept,
             sizeof sha_pass / sizeof sha_pass[0]);
#endif

    if (expect_broken) {
        /* A sweep that cannot fail proves nothing: against a core broken
         * on purpose, it must. */
        printf("broken core (FSG_TEST_BREAK=%d): %d runs, %d invariant violations found\n",
               expect_broken, runs, failures);
        printf("%d passed, %d failed\n", failures > 0, failures == 0);
        return failures > 0 ? 0 : 1;
    }
    printf("%d runs (%s sweep)\n", runs, deep ? "deep" : "shallow");
    printf("%d passed, %d failed\n", runs - failed_runs, failed_runs);
    return failures == 0 ? 0 : 1;
}
