/*
 * pack.c -- the factory step: from a project tree, build the user and
 * backup partitions with their checksum.json and backup_restore.json.
 * Host side: it plans everything (walk, refusals, hashes, sizes) before it
 * writes anything, then copies each file once into both partitions.
 */
#include "fsg_host.h"

#include <stdlib.h>
#include <string.h>

/* Copies one file of the tree into the user partition and, if protected,
 * into the backup, reading it once; both copies are verified temporaries
 * until they are renamed into place. */
static int copy_file(struct fsg_ctx *c, const struct fsg_pack *opt, const struct fsg_pfile *f)
{
    const char *path = fsg_usr_path(f->name);
    char bpath[FSG_PATH_BUF];
    struct fsg_atomic ua, ba;
    void *in = NULL;
    int err;

    memset(&ba, 0, sizeof ba);
    err = fsg_bak_path(f->name, bpath, sizeof bpath);
    if (err == 0)
        err = fsg_mkdirs(c, opt->usr, path);
    if (err == 0 && f->protect)
        err = fsg_mkdirs(c, opt->bak, bpath);
    if (err < 0)
        return err;
    err = fsg_atomic_begin(&ua, c, opt->usr, path);
    fsg_atomic_want(&ua, f->sum.kinds);
    fsg_atomic_perm(&ua, opt->src, path);
    if (err == 0 && f->protect) {
        err = fsg_atomic_begin(&ba, c, opt->bak, bpath);
        fsg_atomic_perm(&ba, opt->src, path);
    }
    if (err == 0)
        err = opt->src->open(opt->src->ctx, path, FSG_OPEN_READ, &in);
    long n = 0;
    uint64_t copied = 0;
    while (err == 0 && (n = opt->src->read(opt->src->ctx, in, c->buf, c->buf_size)) > 0) {
        copied += (uint64_t)n;
        err = fsg_atomic_write(&ua, c->buf, (size_t)n);
        if (err == 0 && f->protect)
            err = fsg_atomic_write(&ba, c->buf, (size_t)n);
    }
    if (err == 0 && n < 0)
        err = (int)n;
    if (in != NULL) {
        int cerr = opt->src->close(opt->src->ctx, in);
        if (err == 0)
            err = cerr;
    }
    /* The content must be what was hashed when the tree was planned. */
    struct fsg_sum got;
    fsg_atomic_sum(&ua, &got);
    if (err == 0 && (!fsg_sum_match(&f->sum, &got) || copied != f->size))
        err = FSG_ERR_MISMATCH;
    if (err == 0)
        err = fsg_atomic_commit(&ua);
    else
        fsg_atomic_abort(&ua);
    if (f->protect) {
        if (err == 0)
            err = fsg_atomic_commit(&ba);
        else
            fsg_atomic_abort(&ba);
    }
    return err;
}

static int write_switch(struct fsg_ctx *c, const struct fsg_port *bak, int enable)
{
    /* QuecPython's factory tool writes this layout. */
    const char *text = enable ? "{\"enable\": 1}\n" : "{\"enable\": 0}\n";
    return fsg_write_small(c, bak, FSG_SWITCH_NAME, text, strlen(text));
}

/* Signs the backup checksum.json as written: the bytes read back from the
 * partition are the bytes signed. */
static int write_signature(struct fsg_ctx *c, const struct fsg_pack *opt)
{
    char line[FSG_SIG_LINE_LEN], *text;
    size_t len;

    int err = fsg_read_small(c, opt->bak, FSG_MANIFEST_NAME, UINT64_MAX, &text, &len);
    if (err < 0)
        return err;
    err = fsg_sign_line(opt->sign_key, text, len, line);
    fsg_free(c, text);
    return err < 0 ? err : fsg_write_small(c, opt->bak, FSG_SIG_NAME, line, strlen(line));
}

static int pack_run(struct fsg_plan *pl, const struct fsg_pack *opt, struct fsg_pack_report *r,
                    struct fsg_manifest *m)
{
    struct fsg_ctx *c = pl->c;
    uint64_t copy = 0;

    /* 1. Read the tree; refuse what cannot be packed, before any write. */
    int err = fsg_tree_plan(pl);
    r->refused = pl->refused;
    r->dirs = (unsigned long)pl->nd;
    if (err < 0)
        return err;
    r->files = (unsigned long)pl->n;

    /* 2. Hash, decide protection, and size both partitions exactly. */
    unsigned kinds = opt->hashes != 0 ? opt->hashes : FSG_HASH_CRC32;
    err = fsg_manifest_reserve(c, m, pl->n);
    for (size_t i = 0; i < pl->n && err == 0; i++) {
        struct fsg_pfile *f = &pl->files[i];
        /* Sizes are those of the bytes hashed (and then copied), not of an
         * earlier stat: a file that grew in between is sized as it is. */
        err = fsg_hash_file_size(c, opt->src, fsg_usr_path(f->name), kinds, &f->sum, &f->size);
        if (err < 0)
            break;
        f->protect = opt->protect == NULL || opt->protect(opt->protect_ctx, f->name) != 0;
        r->usr_bytes += f->size;
        copy += f->size;
        if (f->protect) {
            struct fsg_entry e = {.name = f->name, .sum = f->sum, .valid = true};
            fsg_sum_keep(&e.sum, kinds);
            err = fsg_manifest_append(c, m, &e);
            r->protected_files++;
            r->bak_bytes += f->size;
            copy += f->size;
        }
    }
    if (err < 0)
        return err;
    uint64_t msize = fsg_manifest_size(c, m);
    r->usr_bytes += msize;
    r->bak_bytes += msize + strlen("{\"enable\": 1}\n");
    if (opt->sign_key != NULL)
        r->bak_bytes += FSG_SIG_LINE_LEN - 1;
    if ((opt->usr_limit != 0 && r->usr_bytes > opt->usr_limit) ||
        (opt->bak_limit != 0 && r->bak_bytes > opt->bak_limit))
        return FSG_ERR_NOSPC;

    struct fsg_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = FSG_EVENT_PLANNED;
    ev.size = copy;
    fsg_emit(c, &ev);

    /* 3. Write: directories, files, then the JSON files. */
    for (size_t i = 0; i < pl->nd && err == 0; i++)
        err = fsg_mkdirs(c, opt->usr, pl->dirs[i]);
    for (size_t i = 0; i < pl->n && err == 0; i++) {
        const struct fsg_pfile *f = &pl->files[i];
        err = copy_file(c, opt, f);
        if (err == 0) {
            memset(&ev, 0, sizeof ev);
            ev.kind = FSG_EVENT_PACKED;
            ev.name = f->name;
            ev.size = f->size;
            ev.hashes = kinds;
            ev.recorded = f->sum.crc;
            ev.sha_recorded = kinds & FSG_HASH_SHA256 ? f->sum.sha : NULL;
            ev.protect = f->protect;
            fsg_emit(c, &ev);
        }
    }
    if (err == 0)
        err = fsg_manifest_save(c, opt->usr, m);
    if (err == 0)
        err = fsg_manifest_save(c, opt->bak, m);
    if (err == 0 && opt->sign_key != NULL)
        err = write_signature(c, opt);
    if (err == 0)
        err = write_switch(c, opt->bak, opt->enable);
    return err;
}

int fsg_pack(const struct fsg_pack *opt, struct fsg_pack_report *report)
{
    struct fsg_config cfg;
    struct fsg_ctx c;
    struct fsg_manifest m;
    struct fsg_plan pl;

    memset(report, 0, sizeof *report);
    memset(&m, 0, sizeof m);
    memset(&pl, 0, sizeof pl);
    if (opt == NULL || opt->src == NULL || opt->src->list == NULL ||
        (opt->hashes & ~(unsigned)(FSG_HASH_CRC32 | FSG_HASH_SHA256)) != 0 ||
        (opt->sign_key != NULL && !(opt->hashes & FSG_HASH_SHA256)))
        return FSG_ERR_INVAL;
    memset(&cfg, 0, sizeof cfg);
    cfg.usr = opt->usr;
    cfg.bak = opt->bak;
    cfg.buf = opt->buf;
    cfg.buf_size = opt->buf_size;
    cfg.alloc = opt->alloc;
    cfg.alloc_ctx = opt->alloc_ctx;
    cfg.on_event = opt->on_event;
    cfg.event_ctx = opt->event_ctx;
    cfg.cancelled = opt->cancelled;
    cfg.cancel_ctx = opt->cancel_ctx;
    int err = fsg_ctx_init(&c, &cfg);
    if (err < 0)
        return err;
    pl.c = &c;
    pl.src = opt->src;
    pl.reserve_switch = true;
    err = pack_run(&pl, opt, report, &m);
    fsg_manifest_free(&c, &m);
    fsg_tree_free(&pl);
    fsg_ctx_fini(&c);
    return err;
}
