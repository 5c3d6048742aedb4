/*
 * edit.c -- legitimate edits of protected files: fsg_calc records the hash
 * of a file the application rewrote (QuecPython's file_crc32.calc), and
 * fsg_put rewrites a file crash-safely, its new hash pending in
 * checksum.json until the new content is in place, so that a power cut at
 * any instant leaves the old or the new file and a boot that accepts it.
 */
#include "fsg_internal.h"

#include <string.h>

/* The entry as recorded, for the caller's event handler: calc and put
 * report every hash the entry carries (a sha256 one has no CRC-32 to
 * return). */
static void report_entry(struct fsg_ctx *c, const struct fsg_entry *e)
{
    struct fsg_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = FSG_EVENT_FILE;
    ev.name = e->name;
    ev.status = FSG_STATUS_OK;
    ev.hashes = ev.expected_hashes = e->sum.kinds;
    ev.expected = ev.recorded = ev.actual = e->sum.crc;
    ev.has_actual = 1;
    ev.sha_expected = ev.sha_recorded = ev.sha_actual =
        e->sum.kinds & FSG_HASH_SHA256 ? e->sum.sha : NULL;
    fsg_emit(c, &ev);
}

/* The user table and name's entry in it, as an edit sees them: refused
 * while an update's journal waits for the next boot (which would roll the
 * files forward or back over the edit); an entry the backup table lists is
 * put back, as boot would (*changed: the table must be written). */
static int edit_entry(struct fsg_ctx *c, struct fsg_manifest *m, const char *name,
                      struct fsg_entry **e, bool *changed)
{
    int err = fsg_fota_journal(c);
    if (err != 0)
        return err > 0 ? FSG_ERR_BUSY : err;
    return fsg_usr_entry(c, m, name, e, changed);
}

int fsg_calc(const struct fsg_config *cfg, const char *name, uint32_t *crc)
{
    struct fsg_ctx c;
    struct fsg_manifest m;
    bool changed = false;
    struct fsg_sum h;

    memset(&m, 0, sizeof m);
    int err = fsg_ctx_open(&c, cfg, FSG_NEED_USR | FSG_NEED_BAK | FSG_LOCK_EX);
    if (err < 0)
        return err;
    if (fsg_name_check(name) != FSG_DEFECT_NONE) {
        err = FSG_ERR_BADNAME;
        goto out;
    }
    struct fsg_entry *e;
    err = edit_entry(&c, &m, name, &e, &changed);
    if (err < 0)
        goto out;
    /* The entry keeps the kinds of hash it has: a sha256 stays a sha256. */
    err = fsg_hash_file(&c, c.usr, fsg_usr_path(name), e->sum.kinds, &h);
    if (err == FSG_ERR_ISDIR)
        err = FSG_ERR_NOTREG; /* as documented: anything but a regular file */
    if (err < 0)
        goto out;
    *crc = h.crc;
    fsg_sum_keep(&h, e->sum.kinds);
    if (!fsg_sum_equal(&h, &e->sum) || e->pend != NULL || changed) {
        e->sum = h;
        (void)fsg_entry_set_pending(&c, e, NULL);
        err = fsg_manifest_save(&c, c.usr, &m);
        if (err < 0)
            goto out;
    }
    report_entry(&c, e);
out:
    fsg_manifest_free(&c, &m);
    fsg_ctx_fini(&c);
    return err;
}

struct fsg_put {
    struct fsg_ctx c;
    struct fsg_atomic a;
    char name[FSG_PATH_BUF];
    int err;                /* first write error: commit fails with it */
};

static void put_free(struct fsg_put *p)
{
    struct fsg_ctx c = p->c;
    fsg_free(&c, p);
    fsg_ctx_fini(&c);
}

int fsg_put_begin(const struct fsg_config *cfg, const char *name, struct fsg_put **out)
{
    struct fsg_ctx c;
    struct fsg_manifest m;
    bool changed = false;

    *out = NULL;
    int err = fsg_ctx_open(&c, cfg, FSG_NEED_USR | FSG_NEED_BAK | FSG_LOCK_EX);
    if (err < 0)
        return err;
    memset(&m, 0, sizeof m);
    if (fsg_name_check(name) != FSG_DEFECT_NONE)
        err = FSG_ERR_BADNAME;
    /* Refuse early what commit would refuse: an unprotected name, an
     * update waiting for the boot. */
    struct fsg_entry *e = NULL;
    if (err == 0)
        err = edit_entry(&c, &m, name, &e, &changed);
    /* The new content is hashed as it streams, in the entry's kinds. */
    unsigned kinds = e != NULL ? e->sum.kinds : 0u;
    fsg_manifest_free(&c, &m);
    struct fsg_put *p = err == 0 ? fsg_alloc(&c, sizeof *p) : NULL;
    if (err == 0 && p == NULL)
        err = FSG_ERR_NOMEM;
    if (err < 0) {
        fsg_ctx_fini(&c);
        return err;
    }
    memset(p, 0, sizeof *p);
    p->c = c;
    memcpy(p->name, name, strlen(name) + 1);
    const char *path = fsg_usr_path(p->name);
    err = fsg_mkdirs(&p->c, p->c.usr, path);
    if (err == 0)
        err = fsg_atomic_begin(&p->a, &p->c, p->c.usr, path);
    if (err < 0) {
        fsg_atomic_abort(&p->a);
        put_free(p);
        return err;
    }
    fsg_atomic_want(&p->a, kinds);
    *out = p;
    return 0;
}

int fsg_put_write(struct fsg_put *p, const void *data, size_t len)
{
    if (p->err == 0 && len > 0)
        p->err = fsg_atomic_write(&p->a, data, len);
    return p->err;
}

void fsg_put_abort(struct fsg_put *p)
{
    if (p == NULL)
        return;
    fsg_atomic_abort(&p->a);
    put_free(p);
}

int fsg_put_commit(struct fsg_put *p, uint32_t *crc)
{
    struct fsg_ctx *c = &p->c;
    struct fsg_manifest m;
    bool changed = false;
    int err = p->err;

    memset(&m, 0, sizeof m);
    /* 1. The new content, complete and verified, still under its
     *    temporary name: a crash leaves the old file and a leftover. */
    if (err == 0)
        err = fsg_atomic_seal(&p->a);
    struct fsg_entry *e = NULL;
    if (err == 0)
        err = edit_entry(c, &m, p->name, &e, &changed);
    if (err < 0) {
        fsg_atomic_abort(&p->a);
        goto out;
    }
    struct fsg_sum h, old = e->sum;
    fsg_atomic_sum(&p->a, &h);
    uint32_t newcrc = h.crc;
    if ((h.kinds & e->sum.kinds) != e->sum.kinds) {
        /* The table changed between begin and commit to want a hash that
         * was not computed: hash the sealed temporary file again. */
        err = fsg_hash_file(c, c->usr, p->a.tmp, e->sum.kinds, &h);
        if (err < 0) {
            fsg_atomic_abort(&p->a);
            goto out;
        }
    }
    fsg_sum_keep(&h, e->sum.kinds);
    bool record = !fsg_sum_equal(&h, &e->sum) || e->pend != NULL || changed;
    /* 2. The new hash, pending: from here a boot accepts either file. */
    if (record) {
        err = fsg_entry_set_pending(c, e, &h);
        if (err == 0)
            err = fsg_manifest_save(c, c->usr, &m);
        if (err < 0) {
            fsg_atomic_abort(&p->a);
            goto out;
        }
    }
    /* 3. The new content in place (rename, directory sync). */
    err = fsg_atomic_publish(&p->a);
    if (err < 0) {
        /* If the rename itself failed, the old file stands: take the
         * pending hash back (a boot would discard it anyway). If only the
         * directory sync failed, the new file may be in place: the pending
         * hash must stay, for the boot to accept either. */
        bool renamed = p->a.renamed;
        if (record && !renamed) {
            (void)fsg_entry_set_pending(c, e, NULL);
            e->sum = old;
            (void)fsg_manifest_save(c, c->usr, &m);
        }
        goto out;
    }
    /* 4. The hash committed. Should this write fail, the new file is in
     *    place with its hash pending, and the next boot commits it. */
    if (record) {
        e->sum = h;
        (void)fsg_entry_set_pending(c, e, NULL);
        err = fsg_manifest_save(c, c->usr, &m);
    }
    if (err == 0 && crc != NULL)
        *crc = newcrc;
    if (err == 0)
        report_entry(c, e);
out:
    fsg_manifest_free(c, &m);
    put_free(p);
    return err;
}
