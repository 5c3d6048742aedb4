/*
 * boot.c -- the boot-time check and restore (fsg_boot; FSG_DRY_RUN checks only).
 * One pass over the user manifest: hash, and for each damaged file restore
 * the backup copy only after the copy proves good against the backup
 * manifest. The user manifest is written once, at the end, if it changed.
 */
#include "fsg_internal.h"

#include <string.h>

struct boot {
    struct fsg_ctx c;
    struct fsg_report *r;
    int flags;
    struct fsg_manifest bak, usr;
    const struct fsg_entry **peer;  /* by user entry position: its backup entry */
    bool *taken;                    /* by backup entry position: has a user entry */
    char *bak_text;                 /* the backup table's bytes, until the user's are read */
    size_t bak_len;
    bool dirty;
    bool keep_old;                  /* the user table's bytes are to be kept aside */
};

static bool dry(const struct boot *b)
{
    return (b->flags & FSG_DRY_RUN) != 0;
}

/* Why writing a restored file failed: a directory standing at the target
 * (rename cannot replace it) or a parent that is a link or a file blocks
 * it; anything else is the write's own failure. */
static int write_failure(int err)
{
    return (err == FSG_ERR_ISDIR || err == FSG_ERR_EXIST || err == FSG_ERR_NOTDIR ||
            err == FSG_ERR_LOOP)
               ? FSG_FAILURE_BLOCKED
               : FSG_FAILURE_WRITE;
}

/* Copies the backup copy of e into place in the user partition, verifying
 * on the way that the bytes read from the backup match the backup
 * manifest's hash; nothing replaces the target unless they do. */
static FSG_NOINLINE int restore_from(struct boot *b, const char *name,
                                     const struct fsg_entry *be, int *failure, char *bpath)
{
    struct fsg_ctx *c = &b->c;
    const struct fsg_port *bak = c->bak;
    const char *path = fsg_usr_path(name);
    struct fsg_stat st;
    struct fsg_atomic a;
    void *f = NULL;
    int err;

    err = fsg_bak_path(name, bpath, FSG_PATH_BUF);
    if (err == 0)
        err = bak->stat(bak->ctx, bpath, &st);
    if (err == 0 && st.type != FSG_TYPE_REG)
        err = FSG_ERR_NOTREG;
    if (err == 0)
        err = bak->open(bak->ctx, bpath, FSG_OPEN_READ, &f);
    if (err < 0) {
        *failure = err == FSG_ERR_NOENT ? FSG_FAILURE_BAK_MISSING : FSG_FAILURE_BAK_UNREADABLE;
        return err;
    }
    if (dry(b)) {
        /* What the boot would find, in the order it would find it: that
         * it cannot write the file, else whether the copy is good. */
        (void)bak->close(bak->ctx, f);
        err = fsg_port_writable(c->usr, path);
        if (err < 0) {
            *failure = write_failure(err);
            return err;
        }
        struct fsg_sum h;
        err = fsg_hash_file(c, bak, bpath, be->sum.kinds, &h);
        *failure = err < 0 ? FSG_FAILURE_BAK_UNREADABLE : FSG_FAILURE_NONE;
        if (err == 0 && !fsg_sum_match(&be->sum, &h)) {
            *failure = FSG_FAILURE_BAK_DAMAGED;
            err = FSG_ERR_CORRUPT;
        }
        return err;
    }

    err = fsg_mkdirs(c, c->usr, path);
    if (err == 0) {
        err = fsg_atomic_begin(&a, c, c->usr, path);
        if (err < 0)
            fsg_atomic_abort(&a);
        /* The factory copy's permission bits: a secret stays one. */
        fsg_atomic_perm(&a, bak, bpath);
    }
    if (err < 0) {
        (void)bak->close(bak->ctx, f);
        *failure = write_failure(err);
        return err;
    }
    long n;
    struct fsg_sum got;
    *failure = FSG_FAILURE_WRITE;
    fsg_atomic_want(&a, be->sum.kinds);
    while ((n = bak->read(bak->ctx, f, c->buf, c->buf_size)) > 0) {
        err = fsg_atomic_write(&a, c->buf, (size_t)n);
        if (err < 0)
            break;
    }
    int cerr = bak->close(bak->ctx, f);
    if (err == 0 && (n < 0 || cerr < 0)) {
        err = n < 0 ? (int)n : cerr;
        *failure = FSG_FAILURE_BAK_UNREADABLE;
    } else if (err == 0) {
        fsg_atomic_sum(&a, &got);
        if (!fsg_sum_match(&be->sum, &got)) {
            err = FSG_ERR_CORRUPT;
            *failure = FSG_FAILURE_BAK_DAMAGED;
        }
    }
    if (err < 0) {
        fsg_atomic_abort(&a);
        return err;
    }
    err = fsg_atomic_commit(&a);
    if (err < 0) {
        *failure = write_failure(err);
        return err;
    }
    *failure = FSG_FAILURE_NONE;
    return 0;
}

/* restore_from with the backup path's buffer from the allocator: a
 * device's stack is small. */
static int restore(struct boot *b, const char *name, const struct fsg_entry *be, int *failure)
{
    char *bpath = fsg_alloc(&b->c, FSG_PATH_BUF);
    if (bpath == NULL) {
        *failure = FSG_FAILURE_WRITE;
        return FSG_ERR_NOMEM;
    }
    int err = restore_from(b, name, be, failure, bpath);
    fsg_free(&b->c, bpath);
    return err;
}

/* The hashes one read of e's file must give: every decision about it. */
static unsigned kinds_needed(const struct fsg_entry *e, const struct fsg_entry *be)
{
    return e->sum.kinds | (e->pend != NULL ? e->pend->kinds : 0u) |
           (be != NULL ? be->sum.kinds : 0u);
}

/* Checks one protected file: its hashes come from job when the caller's
 * hash_files already computed them, else are computed here. */
static FSG_NOINLINE void check_one(struct boot *b, struct fsg_entry *e, bool added,
                                   const struct fsg_entry *be, const struct fsg_hash_job *job)
{
    struct fsg_ctx *c = &b->c;
    struct fsg_event ev;
    struct fsg_sum want = e->sum, got;

    memset(&ev, 0, sizeof ev);
    memset(&got, 0, sizeof got);
    ev.kind = FSG_EVENT_FILE;
    ev.name = e->name;
    ev.expected = want.crc;
    ev.expected_hashes = want.kinds;
    ev.sha_expected = want.kinds & FSG_HASH_SHA256 ? want.sha : NULL;
    ev.entry_added = added;
    b->r->files++;

    /* One read gives every hash any decision below may need. */
    int err;
    if (job != NULL) {
        err = job->err;
        got.crc = job->crc;
        got.kinds = (unsigned char)(FSG_HASH_CRC32 | (job->kinds & FSG_HASH_SHA256));
        memcpy(got.sha, job->sha256, sizeof got.sha);
    } else {
        err = fsg_hash_file(c, c->usr, fsg_usr_path(e->name), kinds_needed(e, be), &got);
    }
    if (err == 0) {
        ev.actual = got.crc;
        ev.has_actual = 1;
        ev.sha_actual = got.kinds & FSG_HASH_SHA256 ? got.sha : NULL;
        bool now = fsg_sum_match(&want, &got);
        if (now || (e->pend != NULL && fsg_sum_match(e->pend, &got))) {
            /* An edit fsg_put left unfinished ends here: the file holds
             * either the old content or the new, and both are legitimate. */
            if (e->pend != NULL) {
                ev.pending = now ? FSG_PENDING_DISCARDED : FSG_PENDING_COMMITTED;
                if (!now)
                    e->sum = *e->pend;
                (void)fsg_entry_set_pending(c, e, NULL);
                b->dirty = true;
                b->r->edits_finished++;
            }
            ev.status = FSG_STATUS_OK;
            b->r->ok++;
            goto emit;
        }
        ev.problem = FSG_PROBLEM_MISMATCH;
    } else {
        ev.problem = fsg_problem_of(err);
        ev.error = err;
    }

    if (ev.problem == FSG_PROBLEM_UNREADABLE) {
        /* Cannot read is not damaged: only a missing file, something that
         * is not a regular file, or content that fails its hash is
         * replaced. */
        ev.status = FSG_STATUS_FAILED;
        ev.failure = FSG_FAILURE_UNREADABLE;
    } else if (be == NULL) {
        ev.status = FSG_STATUS_FAILED;
        ev.failure = FSG_FAILURE_NO_ENTRY;
    } else if (err == FSG_ERR_ISDIR || ev.problem == FSG_PROBLEM_UNSAFE_PATH) {
        /* Rename cannot replace a directory, and a parent that is a link or
         * a file will not be walked through: fail before writing anything. */
        ev.status = FSG_STATUS_FAILED;
        ev.failure = FSG_FAILURE_BLOCKED;
    } else if (c->cfg->pubkey != NULL && !(be->sum.kinds & FSG_HASH_SHA256)) {
        /* A signed table vouches for a copy only through a hash that
         * cannot be forged. */
        ev.status = FSG_STATUS_FAILED;
        ev.failure = FSG_FAILURE_WEAK_HASH;
    } else if (ev.has_actual && fsg_sum_match(&be->sum, &got)) {
        /* The file already holds the factory content the backup manifest
         * vouches for (a legitimate edit was undone, or calc never ran for
         * a revert): correct the hash, do not rewrite the file. */
        ev.status = FSG_STATUS_RESTORED;
        ev.hash_only = 1;
    } else {
        int failure;
        int rerr = restore(b, e->name, be, &failure);
        if (rerr < 0) {
            ev.status = FSG_STATUS_FAILED;
            ev.failure = failure;
            ev.error = rerr;
        } else {
            ev.status = FSG_STATUS_RESTORED;
            ev.error = 0;
        }
    }
    if (ev.status == FSG_STATUS_RESTORED) {
        b->r->restored++;
        if (e->pend != NULL) {
            ev.pending = FSG_PENDING_DISCARDED;
            (void)fsg_entry_set_pending(c, e, NULL);
            b->dirty = true;
            b->r->edits_finished++;
        }
        if (!fsg_sum_equal(&e->sum, &be->sum)) {
            e->sum = be->sum;
            b->dirty = true;
        }
    } else {
        b->r->failed++;
    }
emit:
    ev.hashes = e->sum.kinds;
    ev.recorded = e->sum.crc;
    ev.sha_recorded = e->sum.kinds & FSG_HASH_SHA256 ? e->sum.sha : NULL;
    fsg_emit(c, &ev);
}

/* Orders port paths by their directory part. */
static int cmp_dir(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    size_t xl = fsg_dir_len(x), yl = fsg_dir_len(y);
    int r = memcmp(x, y, xl < yl ? xl : yl);
    return r != 0 ? r : (xl > yl) - (xl < yl);
}

/* A temporary file of fsguard's: what an interrupted run leaves. */
static bool is_leftover(const char *name, int type)
{
    return type == FSG_TYPE_REG && fsg_is_tmp_name(name);
}

static int clean_dir(struct boot *b, const char *dir)
{
    struct fsg_ctx *c = &b->c;
    struct fsg_dirlist l;

    /* A directory that vanished or cannot be listed holds nothing of ours
     * that we could remove: its listing error is not the pass's error. */
    int err = fsg_list_dir_only(c, c->usr, dir, is_leftover, &l);
    err = err == FSG_ERR_NOMEM ? err : 0;
    for (size_t k = 0; k < l.n && err == 0; k++) {
        char *path = fsg_path_join(c, dir, FSG_DIRLIST_NAME(&l, k));
        if (path == NULL) {
            err = FSG_ERR_NOMEM;
            break;
        }
        /* A check counts what the boot could remove. */
        if ((dry(b) ? fsg_port_writable(c->usr, path) : fsg_port_remove(c->usr, path)) == 0) {
            struct fsg_event ev;
            memset(&ev, 0, sizeof ev);
            ev.kind = FSG_EVENT_TEMP;
            ev.name = path;
            b->r->temps_removed++;
            fsg_emit(c, &ev);
        }
        fsg_free(c, path);
    }
    fsg_dirlist_free(c, &l);
    return err;
}

/* Removes fsguard's temporary files from the user root and from every
 * directory holding a protected file: what an interrupted run left. */
static int clean_temps(struct boot *b)
{
    struct fsg_ctx *c = &b->c;
    size_t n = 0;

    if (c->usr->list == NULL)
        return 0;
    const char **paths = fsg_alloc(c, (b->usr.n + 1) * sizeof *paths);
    char *dir = fsg_alloc(c, FSG_PATH_BUF);
    if (paths == NULL || dir == NULL) {
        fsg_free(c, paths);
        fsg_free(c, dir);
        return FSG_ERR_NOMEM;
    }
    paths[n++] = FSG_MANIFEST_NAME; /* stands for the root directory */
    for (size_t i = 0; i < b->usr.n; i++) {
        const struct fsg_entry *e = &b->usr.v[i];
        if (e->valid && !e->dropped)
            paths[n++] = fsg_usr_path(e->name);
    }
    fsg_sort(paths, n, sizeof *paths, cmp_dir);
    int err = 0;
    for (size_t i = 0; i < n && err == 0; i++) {
        if (i > 0 && cmp_dir(&paths[i - 1], &paths[i]) == 0)
            continue;
        size_t dl = fsg_dir_len(paths[i]);
        memcpy(dir, paths[i], dl);
        dir[dl] = '\0';
        err = clean_dir(b, dir);
    }
    fsg_free(c, paths);
    fsg_free(c, dir);
    return err;
}

/* Loads the user manifest; missing or unusable, it is rebuilt from the
 * backup's, and the report says why. */
static int load_usr(struct boot *b)
{
    struct fsg_usr_from from;
    bool seeded;
    memset(&from, 0, sizeof from);
    from.bak = &b->bak;
    from.bak_text = b->bak_text; /* handed over */
    from.bak_len = b->bak_len;
    b->bak_text = NULL;
    int err = fsg_usr_load(&b->c, &b->usr, FSG_USR_REBUILD, &from, &seeded);
    if (err < 0 && err == from.error)
        b->r->usr_manifest_error = err; /* it could not be read */
    if (err == 0 && seeded) {
        b->r->manifest = from.error == FSG_ERR_NOENT ? FSG_MANIFEST_CREATED : FSG_MANIFEST_REBUILT;
        if (from.error != FSG_ERR_NOENT) {
            b->r->usr_manifest_error = from.error;
            b->r->usr_manifest_offset = from.offset;
        }
        /* Bytes that are no table are still not fsguard's to discard. */
        b->keep_old = from.error == FSG_ERR_CORRUPT || from.error == FSG_ERR_FBIG;
        b->dirty = true;
    }
    return err;
}

/* Keeps the user table that was rebuilt, like fsck's lost+found: renamed
 * to the first free name of checksum.json.bad, .bad.2, ... .bad.9, and
 * synced, before the rebuilt one is written (a cut between leaves no
 * table, which the next boot creates from the backup's, as this one
 * rebuilds it). Dry: only says which. */
static int keep_aside(struct boot *b)
{
    const struct fsg_port *p = b->c.usr;
    char name[] = FSG_MANIFEST_NAME ".bad.N";
    const size_t at = sizeof name - 3;

    for (unsigned n = 1; n <= 9; n++) {
        struct fsg_stat st;
        name[at] = n == 1 ? '\0' : '.';
        name[at + 1] = (char)('0' + n);
        int err = p->stat(p->ctx, name, &st);
        if (err == 0)
            continue;
        if (err != FSG_ERR_NOENT)
            return err;
        b->r->usr_manifest_kept = n;
        if (dry(b))
            return 0;
        err = p->rename == NULL ? FSG_ERR_NOTSUP : p->rename(p->ctx, FSG_MANIFEST_NAME, name);
        return err < 0 ? err : fsg_sync_parent(&b->c, p, name);
    }
    return 0;
}

#define HASH_BATCH 1024u

/* Checks every protected file, in table order. With the caller's
 * hash_files, files are hashed a batch at a time by it (on several cores,
 * say) and then judged here one by one, exactly as without it; should it
 * fail, or its batch not be had, they are hashed here. */
static void check_all(struct boot *b, size_t before)
{
    struct fsg_ctx *c = &b->c;
    struct fsg_hash_job *jobs = NULL;

    if (FSG_SPEEDUPS && c->cfg->hash_files != NULL)
        jobs = fsg_alloc(c, HASH_BATCH * sizeof *jobs);
    for (size_t i = 0; i < b->usr.n && !fsg_cancelled(c);) {
        size_t n = 0, end = i + 1;
        if (jobs != NULL) {
            for (end = i; end < b->usr.n && n < HASH_BATCH; end++) {
                const struct fsg_entry *e = &b->usr.v[end];
                if (!e->valid || e->dropped)
                    continue;
                memset(&jobs[n], 0, sizeof jobs[n]);
                jobs[n].path = fsg_usr_path(e->name);
                jobs[n].kinds = kinds_needed(e, b->peer[end]);
                n++;
            }
        }
        bool hashed = n > 0 && c->cfg->hash_files(c->cfg->hash_ctx, jobs, n) == 0;
        /* The batch's jobs are in the order of its entries. */
        for (size_t j = 0; i < end; i++) {
            struct fsg_entry *e = &b->usr.v[i];
            if (!e->valid || e->dropped)
                continue;
            check_one(b, e, i >= before && b->r->manifest == FSG_MANIFEST_UNCHANGED, b->peer[i],
                      hashed ? &jobs[j++] : NULL);
        }
    }
    fsg_free(c, jobs);
}

static int load_bak(struct boot *b)
{
    uint64_t off = 0;
    /* The table's text is kept to spot a user table of the same bytes. */
    int err = fsg_bak_load(&b->c, &b->bak, &off, &b->r->signature, &b->r->signature_error,
                           FSG_SPEEDUPS ? &b->bak_text : NULL, &b->bak_len);
    if (err < 0 && err != FSG_ERR_SIGNATURE) {
        b->r->bak_manifest_error = err;
        b->r->bak_manifest_offset = off;
    }
    return err;
}

/* Pairs the two tables in one merge of their sorted indexes, instead of a
 * search per entry: b->peer[k] is user entry k's backup entry (NULL for
 * none), b->taken[j] tells that backup entry j has a user entry. *missing
 * is how many valid backup entries have none (step 6 appends them). The
 * user index is dropped: appending may move the entries it points at. */
static int pair(struct boot *b, size_t *missing)
{
    struct fsg_ctx *c = &b->c;
    struct fsg_manifest *u = &b->usr, *k = &b->bak;
    size_t i = 0, j = 0, paired = 0;

    b->peer = fsg_alloc(c, (u->n + k->nindex + 1) * sizeof *b->peer);
    b->taken = fsg_alloc(c, (k->n + 1) * sizeof *b->taken);
    if (b->peer == NULL || b->taken == NULL)
        return FSG_ERR_NOMEM;
    memset(b->peer, 0, (u->n + k->nindex + 1) * sizeof *b->peer);
    memset(b->taken, 0, (k->n + 1) * sizeof *b->taken);
    while (i < u->nindex && j < k->nindex) {
        int r = strcmp(u->index[i]->name, k->index[j]->name);
        if (r == 0) {
            b->peer[u->index[i] - u->v] = k->index[j];
            b->taken[k->index[j] - k->v] = true;
            paired++;
        }
        i += r <= 0;
        j += r >= 0;
    }
    *missing = k->nindex - paired;
    fsg_free(c, u->index);
    u->index = NULL;
    u->nindex = 0;
    return 0;
}

static int boot_run(struct boot *b)
{
    struct fsg_ctx *c = &b->c;
    struct fsg_report *r = b->r;
    int err;

    /* With a key, the backup is judged before anything is written: a
     * table that is not signed by it stops the run here. */
    if (c->cfg->pubkey != NULL) {
        err = load_bak(b);
        if (err < 0)
            return err;
    }
    /* An update under way is settled first, whatever the switch says: the
     * files must be all old or all new before anything reads them. */
#ifndef FSG_NO_FOTA
    err = fsg_fota_recover(c, dry(b), &r->fota, &r->fota_files);
    if (err < 0)
        return err;
#endif
    r->feature = fsg_switch_read(c, &r->feature_error);
    /* A switch that exists but cannot be read turns nothing off: whether
     * restore is on is not known, and the run stops. */
    if (r->feature == FSG_FEATURE_BAD_SWITCH && fsg_err_transient(r->feature_error))
        return r->feature_error;
    if (r->feature != FSG_FEATURE_ENABLED)
        return 0;

    if (c->cfg->pubkey == NULL) {
        err = load_bak(b);
        if (err < 0)
            return err;
    }
    for (size_t i = 0; i < b->bak.n; i++)
        if (!b->bak.v[i].valid)
            r->bad_entries++;

    err = load_usr(b);
    size_t missing = 0;
    if (err == 0)
        err = pair(b, &missing);
    if (err == 0)
        err = fsg_manifest_reserve(c, &b->usr, b->usr.n + missing);
    if (err < 0)
        return err;

    /* Put back the entries the user manifest lost, in the backup's order;
     * one refused in the user manifest under the same name is replaced by
     * the backup's. (A valid backup entry is its name's only one: the index
     * refused later duplicates.) */
    size_t before = b->usr.n;
    for (size_t i = 0; i < b->bak.n; i++) {
        const struct fsg_entry *be = &b->bak.v[i];
        if (!be->valid || b->taken[i])
            continue;
        err = fsg_manifest_put_back(c, &b->usr, be);
        if (err < 0)
            return err;
        b->peer[b->usr.n - 1] = be;
        r->entries_added++;
        b->dirty = true;
    }

    for (size_t i = 0; i < b->usr.n; i++) {
        struct fsg_entry *e = &b->usr.v[i];
        if (!e->valid && !e->dropped)
            r->bad_entries++;
    }
    check_all(b, before);
    if (fsg_cancelled(c))
        return FSG_ERR_CANCELLED;

    err = clean_temps(b);
    if (err < 0)
        return err;
    if (b->dirty && r->manifest == FSG_MANIFEST_UNCHANGED)
        r->manifest = FSG_MANIFEST_UPDATED;
    if (b->keep_old) {
        err = keep_aside(b);
        if (err < 0)
            return err;
    }
    if (b->dirty && dry(b))
        return fsg_port_writable(c->usr, FSG_MANIFEST_NAME); /* the boot's save */
    if (b->dirty) {
        err = fsg_manifest_save(c, c->usr, &b->usr);
        if (err < 0)
            return err;
        r->manifest_written = 1;
    }
    return 0;
}

int fsg_boot(const struct fsg_config *cfg, int flags, struct fsg_report *report)
{
    struct fsg_ctx c;

    memset(report, 0, sizeof *report);
    /* A check alone only reads: it shares the device with other readers. */
    int err = fsg_ctx_open(&c, cfg, FSG_NEED_USR | FSG_NEED_BAK |
                                        (flags & FSG_DRY_RUN ? FSG_LOCK_SH : FSG_LOCK_EX));
    if (err < 0)
        return err;
    /* The pass's state lives in the caller's allocator, not on the stack:
     * a device's stack is small. */
    struct boot *b = fsg_alloc(&c, sizeof *b);
    if (b == NULL) {
        fsg_ctx_fini(&c);
        return FSG_ERR_NOMEM;
    }
    memset(b, 0, sizeof *b);
    b->c = c;
    b->r = report;
    b->flags = flags;
    err = boot_run(b);
    fsg_manifest_free(&b->c, &b->bak);
    fsg_manifest_free(&b->c, &b->usr);
    fsg_free(&b->c, b->peer);
    fsg_free(&b->c, b->taken);
    fsg_free(&b->c, b->bak_text);
    c = b->c;
    fsg_free(&c, b);
    fsg_ctx_fini(&c);
    return err;
}

int fsg_report_exit_code(const struct fsg_report *r)
{
    if (r->failed > 0 || r->bad_entries > 0)
        return 4;
    if (r->restored > 0 || r->manifest != FSG_MANIFEST_UNCHANGED || r->temps_removed > 0 ||
        r->fota != FSG_FOTA_NONE)
        return 1;
    return 0;
}
