/*
 * fota.c -- over-the-air updates of any number of files, all or nothing.
 *
 * Everything lives in the user partition, under .fsg-fota/, so that every
 * step is a rename within one file system:
 *   new/PATH              the update's files, staged (synced, verified)
 *   checksum.json.old     the user table as it was
 *   checksum.json.new     the user table as it will be
 *   journal.json          the commit record: written atomically, it is the
 *                         commit point
 *   old/PATH              what each target held, set aside while rolling
 *                         forward
 *   gone/PATH             an empty marker: PATH did not exist before
 * Rolling forward moves each target aside and its new file in, installs
 * the new table, removes the leftovers durably and then the journal (the
 * end of the transaction). Every step is idempotent: a boot finding a
 * valid journal rolls forward again; finding none, it discards the staging
 * area; finding a damaged one, it abandons the update and puts the old
 * files back.
 */
#include "fsg_internal.h"

#ifdef FSG_NO_FOTA
/* Left out: none of the fsg_fota_* functions exist, so that a firmware
 * cannot stage an update that its boot would never finish. */
typedef int fsg_fota_omitted;
#else
#include <cjson/cJSON.h>
#include <string.h>

#define FOTA_NEW FSG_FOTA_DIR "/new/"
#define FOTA_OLD FSG_FOTA_DIR "/old/"
#define FOTA_GONE FSG_FOTA_DIR "/gone/"
#define FOTA_JOURNAL FSG_FOTA_DIR "/journal.json"
#define FOTA_TABLE_OLD FSG_FOTA_DIR "/checksum.json.old"
#define FOTA_TABLE_NEW FSG_FOTA_DIR "/checksum.json.new"

/* While deciding: protected by the backup table only (its entry is put
 * back with the new hash). */
#define FSG_FOTA_BAK_PROTECTED 100

struct ffile {
    char *name;         /* "/usr/..." */
    struct fsg_sum sum; /* of the new content: CRC-32 and SHA-256 (a journal
                           written before fsguard knew sha256: CRC-32 only) */
    int protect;        /* enum fsg_fota_protect, as decided at commit */
};

struct fsg_fota {
    struct fsg_ctx c;
    struct fsg_atomic a;        /* the file being staged */
    char staged[FSG_PATH_BUF];  /* its path, which a.path points at */
    bool staging;
    struct ffile *files;
    size_t n, cap;
    int err;                    /* first error: commit fails with it */
};

/* "PREFIX" + name without "/usr/" into out. */
static int area_path(const char *prefix, const char *name, char *out, size_t size)
{
    size_t pl = strlen(prefix), nl = strlen(fsg_usr_path(name));
    if (pl + nl + 1 > size)
        return FSG_ERR_NAMETOOLONG;
    memcpy(out, prefix, pl);
    memcpy(out + pl, fsg_usr_path(name), nl + 1);
    return 0;
}

/* 1 if path exists (its type in *type), 0 if it does not, or an error: a
 * failed look is not an answer, and every caller stops on it (the journal
 * stays, and the next boot tries again). */
static int probe(const struct fsg_port *p, const char *path, int *type)
{
    struct fsg_stat st;
    int err;
    FSG_RETRY(err, p->stat(p->ctx, path, &st));
    if (err == FSG_ERR_NOENT)
        return 0;
    if (err < 0)
        return err;
    if (type != NULL)
        *type = st.type;
    return 1;
}

static void emit_fota(struct fsg_ctx *c, const char *name, const struct fsg_sum *sum,
                      int protect)
{
    struct fsg_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = FSG_EVENT_FOTA;
    ev.name = name;
    ev.recorded = sum->crc;
    ev.protect = protect;
    fsg_emit(c, &ev);
}

/* ---- the journal ---- */

/* The journal's "files" array as text; its CRC is the journal's check. */
static char *files_json(const struct ffile *f, size_t n)
{
    char h[FSG_SHA256_STRLEN];
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr != NULL && i < n; i++) {
        cJSON *e = cJSON_CreateObject();
        if (e == NULL || !cJSON_AddItemToArray(arr, e) ||
            cJSON_AddStringToObject(e, "name", f[i].name) == NULL ||
            cJSON_AddStringToObject(e, "crc32", fsg_hash_format(f[i].sum.crc, h)) == NULL ||
            ((f[i].sum.kinds & FSG_HASH_SHA256) &&
             cJSON_AddStringToObject(e, "sha256", fsg_sha256_format(f[i].sum.sha, h)) == NULL) ||
            cJSON_AddNumberToObject(e, "protect", f[i].protect) == NULL) {
            cJSON_Delete(arr);
            return NULL;
        }
    }
    char *s = arr != NULL ? cJSON_PrintUnformatted(arr) : NULL;
    cJSON_Delete(arr);
    return s;
}

static int write_journal(struct fsg_ctx *c, const struct ffile *f, size_t n)
{
    char h[FSG_HASH_STRLEN];
    char *files = files_json(f, n);
    if (files == NULL)
        return FSG_ERR_NOMEM;
    struct fsg_atomic a;
    int err = fsg_atomic_begin(&a, c, c->usr, FOTA_JOURNAL);
    static const char head[] = "{\"fsg_fota\":1,\"check\":\"";
    fsg_hash_format(fsg_crc32(FSG_CRC_INIT, files, strlen(files)), h);
    if (err == 0)
        err = fsg_atomic_write(&a, head, strlen(head));
    if (err == 0)
        err = fsg_atomic_write(&a, h, strlen(h));
    if (err == 0)
        err = fsg_atomic_write(&a, "\",\"files\":", 10);
    if (err == 0)
        err = fsg_atomic_write(&a, files, strlen(files));
    if (err == 0)
        err = fsg_atomic_write(&a, "}\n", 2);
    cJSON_free(files);
    if (err < 0) {
        fsg_atomic_abort(&a);
        return err;
    }
    return fsg_atomic_commit(&a);
}

static void free_files(struct fsg_ctx *c, struct ffile *f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fsg_free(c, f[i].name);
    fsg_free(c, f);
}

/* Reads the journal. FSG_ERR_NOENT: there is none; FSG_ERR_CORRUPT: it is
 * damaged (not JSON, wrong check, bad names or hashes). */
static int read_journal(struct fsg_ctx *c, struct ffile **out, size_t *count)
{
    char *text = NULL;
    size_t len = 0;
    cJSON *root = NULL;
    struct ffile *f = NULL;
    size_t n = 0;

    *out = NULL;
    *count = 0;
    int err = fsg_read_small(c, c->usr, FOTA_JOURNAL, c->cfg->manifest_max != 0
                                                         ? c->cfg->manifest_max
                                                         : FSG_DEFAULT_MANIFEST_MAX,
                             &text, &len);
    if (err == FSG_ERR_NOENT)
        return err;
    if (err < 0)
        return fsg_err_transient(err) ? err : FSG_ERR_CORRUPT;
    root = cJSON_ParseWithLength(text, len);
    cJSON *files = cJSON_GetObjectItemCaseSensitive(root, "files");
    const char *check = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "check"));
    uint32_t want;
    err = FSG_ERR_CORRUPT;
    if (!cJSON_IsArray(files) || check == NULL || fsg_hash_parse(check, &want) < 0)
        goto out;
    size_t total = (size_t)cJSON_GetArraySize(files);
    f = fsg_alloc(c, (total != 0 ? total : 1) * sizeof *f);
    if (f == NULL) {
        err = FSG_ERR_NOMEM;
        goto out;
    }
    cJSON *e;
    cJSON_ArrayForEach(e, files)
    {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "name"));
        const char *crc = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "crc32"));
        cJSON *sha = cJSON_GetObjectItemCaseSensitive(e, "sha256");
        cJSON *prot = cJSON_GetObjectItemCaseSensitive(e, "protect");
        if (name == NULL || crc == NULL || !cJSON_IsNumber(prot) ||
            (sha != NULL && !cJSON_IsString(sha)) || fsg_name_check(name) != FSG_DEFECT_NONE)
            goto out;
        memset(&f[n].sum, 0, sizeof f[n].sum);
        f[n].protect = prot->valueint;
        f[n].sum.kinds = FSG_HASH_CRC32;
        if (sha != NULL) {
            if (fsg_sha256_parse(sha->valuestring, f[n].sum.sha) < 0)
                goto out;
            f[n].sum.kinds |= FSG_HASH_SHA256;
        }
        if (fsg_hash_parse(crc, &f[n].sum.crc) < 0 || f[n].protect < FSG_FOTA_UNPROTECTED ||
            f[n].protect > FSG_FOTA_NEWLY_PROTECTED)
            goto out;
        f[n].name = fsg_strdup(c, name);
        if (f[n].name == NULL) {
            err = FSG_ERR_NOMEM;
            goto out;
        }
        n++;
    }
    /* The check covers the files exactly as they will be acted on. */
    char *again = files_json(f, n);
    if (again == NULL) {
        err = FSG_ERR_NOMEM;
        goto out;
    }
    err = fsg_crc32(FSG_CRC_INIT, again, strlen(again)) == want ? 0 : FSG_ERR_CORRUPT;
    cJSON_free(again);
out:
    cJSON_Delete(root);
    fsg_free(c, text);
    if (err < 0) {
        free_files(c, f, n);
        return err;
    }
    *out = f;
    *count = n;
    return 0;
}

/* ---- clearing the staging area ---- */

struct sweep {
    struct fsg_ctx *c;
    bool restore;            /* move old/PATH back to PATH */
    unsigned long moved;
    int err;
    char *unsynced;          /* the directory of removals not yet synced */
};

/* Syncs the directory of the removals made since the last sync, if any. */
static int sweep_sync(struct sweep *s)
{
    const struct fsg_port *p = s->c->usr;
    int err = 0;
    if (s->unsynced != NULL && p->syncdir != NULL)
        err = p->syncdir(p->ctx, s->unsynced);
    fsg_free(s->c, s->unsynced);
    s->unsynced = NULL;
    return err;
}

/* Notes the removal of path: its directory is synced once for all of the
 * removals made in it in a row (a walk lists a directory's entries
 * together), before the next directory's and at the end of the walk. */
static int sweep_removed(struct sweep *s, const char *path)
{
    size_t dl = fsg_dir_len(path);
    if (s->unsynced != NULL && strlen(s->unsynced) == dl && memcmp(s->unsynced, path, dl) == 0)
        return 0;
    int err = sweep_sync(s);
    if (err == 0) {
        s->unsynced = fsg_alloc(s->c, dl + 1);
        if (s->unsynced == NULL)
            return FSG_ERR_NOMEM;
        memcpy(s->unsynced, path, dl);
        s->unsynced[dl] = '\0';
    }
    return err;
}

static int sweep_entry(void *arg, const char *path, int type)
{
    struct sweep *s = arg;
    const struct fsg_port *p = s->c->usr;
    const char *full = path;

    if (type == FSG_TYPE_DIR)
        return 0;
    if (s->restore) {
        size_t ol = strlen(FOTA_OLD), gl = strlen(FOTA_GONE);
        if (strncmp(full, FOTA_GONE, gl) == 0 && type == FSG_TYPE_REG) {
            /* A file the update created: it goes, as it was not there. */
            int err = p->remove(p->ctx, full + gl);
            if (err == 0)
                err = fsg_sync_parent(s->c, p, full + gl);
            if (err < 0 && err != FSG_ERR_NOENT && s->err == 0)
                s->err = err;
            return 0;
        }
        if (strncmp(full, FOTA_OLD, ol) != 0 || type != FSG_TYPE_REG)
            return 0;
        const char *target = full + ol;
        int err = fsg_mkdirs(s->c, p, target);
        if (err == 0)
            err = p->rename(p->ctx, full, target);
        if (err == 0)
            err = fsg_sync_parent(s->c, p, target);
        if (err < 0 && s->err == 0)
            s->err = err;
        if (err == 0)
            s->moved++;
        return 0;
    }
    /* The journal goes last, by its caller, once every other removal is
     * durable: a cut before then finds the update still committed (and
     * finishes it again, which is idempotent), never a staging area
     * without a journal that would read as an update never committed. */
    if (strcmp(full, FOTA_JOURNAL) == 0)
        return 0;
    int err = p->remove(p->ctx, full);
    if (err == 0)
        err = sweep_removed(s, full);
    if (err < 0 && err != FSG_ERR_NOENT && s->err == 0)
        s->err = err;
    return 0;
}

/* Removes every file of the staging area but the journal, the removals
 * synced into their directories (or, with restore, moves old/ files back
 * first); its directories stay, empty. */
static int clear_area(struct fsg_ctx *c, bool restore, unsigned long *moved)
{
    int type;

    /* Without a listing nothing can be swept; fsg_fota_begin refuses such
     * ports, so no update of theirs ever leaves anything here. */
    if (c->usr->list == NULL || c->usr->remove == NULL)
        return 0;
    int found = probe(c->usr, FSG_FOTA_DIR, &type);
    if (found <= 0 || type != FSG_TYPE_DIR)
        return found;
    struct sweep s = {c, restore, 0, 0, NULL};
    int err = 0;
    if (restore)
        err = fsg_walk(c, c->usr, FSG_FOTA_DIR, sweep_entry, NULL, &s);
    if (err == 0 && s.err == 0) {
        s.restore = false;
        err = fsg_walk(c, c->usr, FSG_FOTA_DIR, sweep_entry, NULL, &s);
    }
    int serr = sweep_sync(&s); /* the last directory's removals */
    if (err == 0)
        err = serr;
    if (moved != NULL)
        *moved = s.moved;
    if (err == 0 && c->usr->syncdir != NULL)
        err = c->usr->syncdir(c->usr->ctx, FSG_FOTA_DIR);
    return err < 0 ? err : s.err;
}

/* Removes the journal, durably: the end of an update. */
static int remove_journal(struct fsg_ctx *c)
{
    int err = c->usr->remove(c->usr->ctx, FOTA_JOURNAL);
    if (err == 0)
        err = fsg_sync_parent(c, c->usr, FOTA_JOURNAL);
    return err == FSG_ERR_NOENT ? 0 : err;
}

/* ---- rolling forward ---- */

/* Puts one staged file in place, setting the target aside first. */
static int place_in(struct fsg_ctx *c, const struct ffile *f, char *staged, char *old,
                    char *gone)
{
    const struct fsg_port *p = c->usr;
    const char *target = fsg_usr_path(f->name);
    int type;

    int err = area_path(FOTA_NEW, f->name, staged, FSG_PATH_BUF);
    if (err == 0)
        err = area_path(FOTA_OLD, f->name, old, FSG_PATH_BUF);
    int has_staged = err < 0 ? err : probe(p, staged, NULL);
    if (has_staged <= 0)
        return has_staged; /* 0: placed by an earlier run */
    int has_target = probe(p, target, &type);
    int has_old = has_target > 0 ? probe(p, old, NULL) : 0;
    if (has_target < 0 || has_old < 0)
        return has_target < 0 ? has_target : has_old;
    if (!has_target) {
        /* Mark the target as new, durably, before it appears: abandoning
         * the update removes it again. */
        err = area_path(FOTA_GONE, f->name, gone, FSG_PATH_BUF);
        int marked = err < 0 ? err : probe(p, gone, NULL);
        if (marked < 0)
            return marked;
        if (!marked) {
            /* An empty file, written as every file is. */
            err = fsg_mkdirs(c, p, gone);
            if (err == 0)
                err = fsg_write_small(c, p, gone, "", 0);
            if (err < 0)
                return err;
        }
    }
    if (has_target && !has_old) {
        if (type == FSG_TYPE_DIR)
            return FSG_ERR_ISDIR;
        err = fsg_mkdirs(c, p, old);
        if (err == 0)
            err = p->rename(p->ctx, target, old);
        if (err == 0)
            err = fsg_sync_parent(c, p, old);
        if (err < 0)
            return err;
    }
    err = fsg_mkdirs(c, p, target);
    if (err == 0)
        err = p->rename(p->ctx, staged, target);
    if (err == 0)
        err = fsg_sync_parent(c, p, target);
    if (err == 0)
        err = fsg_sync_parent(c, p, staged);
    return err;
}

/* place_in with its three path buffers from the allocator: a device's
 * stack is small. */
static int place(struct fsg_ctx *c, const struct ffile *f)
{
    char *paths = fsg_alloc(c, 3 * FSG_PATH_BUF);
    if (paths == NULL)
        return FSG_ERR_NOMEM;
    int err = place_in(c, f, paths, paths + FSG_PATH_BUF, paths + 2 * FSG_PATH_BUF);
    fsg_free(c, paths);
    return err;
}

static int roll_forward(struct fsg_ctx *c, const struct ffile *f, size_t n)
{
    const struct fsg_port *p = c->usr;
    int err = 0;

    for (size_t i = 0; i < n && err == 0; i++)
        err = place(c, &f[i]);
    int has_table = err < 0 ? err : probe(p, FOTA_TABLE_NEW, NULL);
    if (has_table < 0)
        err = has_table;
    if (has_table > 0) {
        err = p->rename(p->ctx, FOTA_TABLE_NEW, FSG_MANIFEST_NAME);
        if (err == 0)
            err = fsg_sync_parent(c, p, FSG_MANIFEST_NAME);
    }
    /* What is left is only to be cleared, durably, and then the journal
     * removed: the end of the transaction. */
    if (err == 0)
        err = clear_area(c, false, NULL);
    if (err == 0)
        err = remove_journal(c);
    for (size_t i = 0; i < n && err == 0; i++)
        emit_fota(c, f[i].name, &f[i].sum, f[i].protect);
    return err;
}

static int count_file(void *arg, const char *path, int type)
{
    (void)path;
    if (type == FSG_TYPE_REG)
        ++*(unsigned long *)arg;
    return 0;
}

/* True if the staging area holds any file at all. */
static int any_file(void *arg, const char *path, int type)
{
    (void)path;
    if (type != FSG_TYPE_DIR)
        *(bool *)arg = true;
    return type != FSG_TYPE_DIR;
}

int fsg_fota_journal(struct fsg_ctx *c)
{
    return probe(c->usr, FOTA_JOURNAL, NULL);
}

static int recover(struct fsg_ctx *c, bool dry, int *state, unsigned long *files)
{
    struct ffile *f;
    size_t n;
    int type;

    *state = FSG_FOTA_NONE;
    *files = 0;
    int found = probe(c->usr, FSG_FOTA_DIR, &type);
    if (found <= 0 || type != FSG_TYPE_DIR)
        return found;
    int err = read_journal(c, &f, &n);
    if (err == FSG_ERR_NOENT) {
        /* Never committed (or already finished): nothing to put back. */
        bool some = false;
        if (c->usr->list != NULL)
            (void)fsg_walk(c, c->usr, FSG_FOTA_DIR, any_file, NULL, &some);
        if (!some)
            return 0;
        *state = FSG_FOTA_UNCOMMITTED;
        return dry ? 0 : clear_area(c, false, NULL);
    }
    if (err == FSG_ERR_CORRUPT) {
        *state = FSG_FOTA_DAMAGED;
        if (dry) {
            /* How many files abandoning would put back. */
            unsigned long count = 0;
            (void)fsg_walk(c, c->usr, FSG_FOTA_DIR "/old", count_file, NULL, &count);
            *files = count;
            return 0;
        }
        /* A journal fsguard wrote atomically is damaged: storage failed
         * under it. Trust nothing in it; put back what was set aside. */
        unsigned long moved = 0;
        err = clear_area(c, true, &moved);
        int has_table = err < 0 ? err : probe(c->usr, FOTA_TABLE_OLD, NULL);
        if (has_table < 0)
            err = has_table;
        if (has_table > 0) {
            err = c->usr->rename(c->usr->ctx, FOTA_TABLE_OLD, FSG_MANIFEST_NAME);
            if (err == 0)
                err = fsg_sync_parent(c, c->usr, FSG_MANIFEST_NAME);
        }
        if (err == 0)
            err = clear_area(c, false, NULL);
        if (err == 0)
            err = remove_journal(c);
        *files = moved;
        return err;
    }
    if (err < 0)
        return err;
    *state = FSG_FOTA_COMMITTED;
    *files = (unsigned long)n;
    err = dry ? 0 : roll_forward(c, f, n);
    free_files(c, f, n);
    return err;
}

int fsg_fota_recover(struct fsg_ctx *c, bool dry, int *state, unsigned long *files)
{
    int err = recover(c, dry, state, files);
    /* A check says what the boot then does: it fails where the update's
     * area cannot be changed. */
    if (err == 0 && dry && *state != FSG_FOTA_NONE)
        err = fsg_port_writable(c->usr, FOTA_JOURNAL);
    return err;
}

/* ---- the transaction ---- */

int fsg_fota_begin(const struct fsg_config *cfg, struct fsg_fota **out)
{
    struct fsg_ctx c;
    int err = fsg_ctx_open(&c, cfg, FSG_NEED_USR | FSG_NEED_BAK | FSG_LOCK_EX);

    *out = NULL;
    if (err < 0)
        return err;
    /* The staging area is swept and, if need be, put back by listing it. */
    if (c.usr->list == NULL || c.usr->remove == NULL || c.usr->rename == NULL) {
        fsg_ctx_fini(&c);
        return FSG_ERR_NOTSUP;
    }
    int busy = fsg_fota_journal(&c);
    if (busy != 0) {
        fsg_ctx_fini(&c);
        /* committed, unfinished: the next boot finishes it */
        return busy > 0 ? FSG_ERR_BUSY : busy;
    }
    /* A staging area without a journal was never committed. */
    err = clear_area(&c, false, NULL);
    struct fsg_fota *tx = err == 0 ? fsg_alloc(&c, sizeof *tx) : NULL;
    if (err == 0 && tx == NULL)
        err = FSG_ERR_NOMEM;
    if (err < 0) {
        fsg_ctx_fini(&c);
        return err;
    }
    memset(tx, 0, sizeof *tx);
    tx->c = c;
    *out = tx;
    return 0;
}

/* Seals the file being staged. */
static int end_file(struct fsg_fota *tx)
{
    if (!tx->staging)
        return tx->err;
    tx->staging = false;
    if (tx->err < 0) {
        fsg_atomic_abort(&tx->a);
        return tx->err;
    }
    fsg_atomic_sum(&tx->a, &tx->files[tx->n - 1].sum);
    tx->err = fsg_atomic_commit(&tx->a);
    return tx->err;
}

int fsg_fota_add(struct fsg_fota *tx, const char *name, int protect)
{
    if (end_file(tx) < 0)
        return tx->err;
    if (fsg_name_check(name) != FSG_DEFECT_NONE)
        return tx->err = FSG_ERR_BADNAME;
    for (size_t i = 0; i < tx->n; i++)
        if (strcmp(tx->files[i].name, name) == 0)
            return tx->err = FSG_ERR_EXIST;
    if (tx->n == tx->cap) {
        size_t cap = tx->cap ? tx->cap * 2 : 16;
        struct ffile *v = fsg_realloc(&tx->c, tx->files, cap * sizeof *v);
        if (v == NULL)
            return tx->err = FSG_ERR_NOMEM;
        tx->files = v;
        tx->cap = cap;
    }
    struct ffile *f = &tx->files[tx->n];
    f->name = fsg_strdup(&tx->c, name);
    if (f->name == NULL)
        return tx->err = FSG_ERR_NOMEM;
    f->protect = protect ? FSG_FOTA_NEWLY_PROTECTED : FSG_FOTA_UNPROTECTED;
    tx->n++;
    int err = area_path(FOTA_NEW, name, tx->staged, sizeof tx->staged);
    if (err == 0)
        err = fsg_mkdirs(&tx->c, tx->c.usr, tx->staged);
    if (err == 0)
        err = fsg_atomic_begin(&tx->a, &tx->c, tx->c.usr, tx->staged);
    if (err < 0) {
        fsg_atomic_abort(&tx->a);
        return tx->err = err;
    }
    /* Both hashes: which one each entry wants is known only at commit. */
    fsg_atomic_want(&tx->a, FSG_HASH_CRC32 | FSG_HASH_SHA256);
    /* The file it will replace keeps its permission bits. */
    fsg_atomic_perm(&tx->a, tx->c.usr, fsg_usr_path(f->name));
    tx->staging = true;
    return 0;
}

int fsg_fota_write(struct fsg_fota *tx, const void *data, size_t len)
{
    if (tx->err == 0 && !tx->staging)
        tx->err = FSG_ERR_INVAL;
    if (tx->err == 0 && len > 0)
        tx->err = fsg_atomic_write(&tx->a, data, len);
    return tx->err;
}

static void tx_free(struct fsg_fota *tx)
{
    struct fsg_ctx c = tx->c;
    free_files(&c, tx->files, tx->n);
    fsg_free(&c, tx);
    fsg_ctx_fini(&c);
}

void fsg_fota_abort(struct fsg_fota *tx)
{
    if (tx == NULL)
        return;
    if (tx->staging)
        fsg_atomic_abort(&tx->a);
    (void)clear_area(&tx->c, false, NULL);
    tx_free(tx);
}

int fsg_fota_commit(struct fsg_fota *tx, struct fsg_fota_report *r)
{
    struct fsg_ctx *c = &tx->c;
    struct fsg_manifest m;
    memset(&m, 0, sizeof m);
    memset(r, 0, sizeof *r);

    int err = end_file(tx);
    if (err == 0 && tx->n == 0) {
        tx_free(tx);
        return 0;
    }
    /* Every target must be a place a file can go: each one that is not is
     * reported, and the update refused before its commit point. */
    int blocked = 0;
    for (size_t i = 0; i < tx->n && err == 0; i++) {
        int type, why = 0;
        int there = probe(c->usr, fsg_usr_path(tx->files[i].name), &type);
        if (there == FSG_ERR_LOOP || there == FSG_ERR_NOTDIR)
            why = there;
        else if (there < 0)
            err = there;
        else if (there > 0 && type == FSG_TYPE_DIR)
            why = FSG_ERR_ISDIR;
        if (why != 0) {
            struct fsg_event ev;
            memset(&ev, 0, sizeof ev);
            ev.kind = FSG_EVENT_REFUSED;
            ev.name = tx->files[i].name;
            ev.refusal = FSG_REFUSAL_TARGET;
            ev.error = why;
            fsg_emit(c, &ev);
            blocked = blocked != 0 ? blocked : why;
        }
    }
    if (err == 0)
        err = blocked;
    /* The tables: as they are, and as they will be. A name the backup
     * table protects is protected, even if the user table lost its entry:
     * boot would put the entry back and revert the file. */
    bool seeded = false;
    struct fsg_manifest bak;
    memset(&bak, 0, sizeof bak);
    if (err == 0)
        err = fsg_usr_load(c, &m, FSG_USR_STRICT, NULL, &seeded);
    if (err == 0)
        err = fsg_manifest_save_as(c, c->usr, FOTA_TABLE_OLD, &m);
    if (err == 0 && fsg_bak_load(c, &bak, NULL, NULL, NULL, NULL, NULL) < 0)
        fsg_manifest_free(c, &bak); /* no usable backup table: none */
    /* New entries get the kinds of hash the table already uses. */
    unsigned kinds = fsg_manifest_kinds(&m);
    for (size_t i = 0; i < tx->n && err == 0; i++) {
        struct ffile *f = &tx->files[i];
        struct fsg_entry *e = fsg_manifest_find(&m, f->name);
        if (e == NULL && fsg_manifest_find(&bak, f->name) != NULL) {
            f->protect = FSG_FOTA_BAK_PROTECTED;
            r->protected_files++;
        } else if (e != NULL) {
            /* A protected file stays protected, with its new hash. */
            unsigned had = e->sum.kinds;
            e->sum = f->sum;
            fsg_sum_keep(&e->sum, had);
            (void)fsg_entry_set_pending(c, e, NULL);
            f->protect = FSG_FOTA_PROTECTED;
            r->protected_files++;
        } else if (f->protect == FSG_FOTA_NEWLY_PROTECTED) {
            r->newly_protected++;
        } else {
            r->unprotected++;
        }
    }
    /* Appended only now: appending may move the entries the index holds. */
    for (size_t i = 0; i < tx->n && err == 0; i++) {
        struct ffile *f = &tx->files[i];
        bool back = f->protect == FSG_FOTA_BAK_PROTECTED;
        if (!back && f->protect != FSG_FOTA_NEWLY_PROTECTED)
            continue;
        struct fsg_entry ne = {.name = f->name, .sum = f->sum, .valid = true};
        const struct fsg_entry *be = fsg_manifest_find(&bak, f->name);
        fsg_sum_keep(&ne.sum, kinds | (be != NULL ? be->sum.kinds : 0u));
        if (back) {
            /* Put back as at boot: a refused user entry of that name gives
             * way. */
            f->protect = FSG_FOTA_PROTECTED;
            err = fsg_manifest_put_back(c, &m, &ne);
        } else {
            err = fsg_manifest_append(c, &m, &ne);
        }
    }
    fsg_manifest_free(c, &bak);
    if (err == 0)
        err = fsg_manifest_save_as(c, c->usr, FOTA_TABLE_NEW, &m);
    /* The commit point. */
    if (err == 0)
        err = write_journal(c, tx->files, tx->n);
    if (err < 0) {
        fsg_manifest_free(c, &m);
        fsg_fota_abort(tx);
        return err;
    }
    r->files = (unsigned long)tx->n;
    r->committed = 1;
    err = roll_forward(c, tx->files, tx->n);
    fsg_manifest_free(c, &m);
    tx_free(tx);
    return err;
}

int fsg_fota_status(const struct fsg_config *cfg, int *state, unsigned long *files)
{
    struct fsg_ctx c;
    int err = fsg_ctx_open(&c, cfg, FSG_NEED_USR | FSG_LOCK_SH);
    *state = FSG_FOTA_NONE;
    *files = 0;
    if (err < 0)
        return err;
    err = fsg_fota_recover(&c, true, state, files);
    fsg_ctx_fini(&c);
    return err;
}
#endif /* FSG_NO_FOTA */
