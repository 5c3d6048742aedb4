/*
 * inspect.c -- offline check of one built partition: every listed file
 * present and matching its hash, every other file reported, sizes summed.
 * Host side; it only reads.
 */
#include "fsg_host.h"

#include <string.h>

struct insp {
    struct fsg_ctx *c;
    const struct fsg_port *port;
    int source;
    struct fsg_manifest m;
    struct fsg_inspect_report *r;
    char name[FSG_PATH_BUF];
};

/* The device name a partition path stands for, or NULL if none: backup
 * files live at usr/NAME, user files at NAME. */
static const char *name_of(struct insp *in, const char *path)
{
    size_t len = strlen(path);
    if (in->source == FSG_SOURCE_BAK) {
        if (strncmp(path, "usr/", 4) != 0 || len + 1 >= sizeof in->name)
            return NULL;
        in->name[0] = '/';
        memcpy(in->name + 1, path, len + 1);
    } else {
        if (FSG_USR_PREFIX_LEN + len >= sizeof in->name)
            return NULL;
        memcpy(in->name, FSG_USR_PREFIX, FSG_USR_PREFIX_LEN);
        memcpy(in->name + FSG_USR_PREFIX_LEN, path, len + 1);
    }
    return in->name;
}

static int visit(void *arg, const char *path, int type)
{
    struct insp *in = arg;
    struct fsg_stat st;

    if (type == FSG_TYPE_DIR)
        return 0;
    if (type == FSG_TYPE_REG && in->port->stat(in->port->ctx, path, &st) == 0)
        in->r->total_bytes += st.size;
    else
        st.size = 0;
    if (type == FSG_TYPE_REG &&
        (strcmp(path, FSG_MANIFEST_NAME) == 0 ||
         (in->source == FSG_SOURCE_BAK &&
          (strcmp(path, FSG_SWITCH_NAME) == 0 || strcmp(path, FSG_SIG_NAME) == 0))))
        return 0;
    /* A listed name is the FILE event's business, whatever stands there. */
    const char *name = name_of(in, path);
    if (name != NULL && fsg_manifest_find(&in->m, name) != NULL)
        return 0;
    struct fsg_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = FSG_EVENT_UNLISTED;
    ev.name = path;
    ev.type = type;
    ev.size = st.size;
    in->r->unlisted++;
    fsg_emit(in->c, &ev);
    return 0;
}

static void check_listed(struct insp *in, const struct fsg_entry *e)
{
    char path[FSG_PATH_BUF];
    struct fsg_event ev;
    struct fsg_sum h;

    memset(&ev, 0, sizeof ev);
    ev.kind = FSG_EVENT_FILE;
    ev.name = e->name;
    ev.hashes = e->sum.kinds;
    ev.expected_hashes = e->sum.kinds;
    ev.expected = e->sum.crc;
    ev.recorded = e->sum.crc;
    ev.sha_expected = e->sum.kinds & FSG_HASH_SHA256 ? e->sum.sha : NULL;
    ev.sha_recorded = ev.sha_expected;
    int err = 0;
    if (in->source == FSG_SOURCE_BAK)
        err = fsg_bak_path(e->name, path, sizeof path);
    else
        memcpy(path, fsg_usr_path(e->name), strlen(fsg_usr_path(e->name)) + 1);
    if (err == 0)
        err = fsg_hash_file_size(in->c, in->port, path, e->sum.kinds, &h, &ev.size);
    if (err == 0) {
        ev.actual = h.crc;
        ev.has_actual = 1;
        ev.sha_actual = h.kinds & FSG_HASH_SHA256 ? h.sha : NULL;
        ev.problem = fsg_sum_match(&e->sum, &h) ? FSG_PROBLEM_NONE : FSG_PROBLEM_MISMATCH;
    } else {
        ev.error = err;
        ev.problem = fsg_problem_of(err);
    }
    ev.status = ev.problem == FSG_PROBLEM_NONE ? FSG_STATUS_OK : FSG_STATUS_FAILED;
    if (ev.status == FSG_STATUS_OK)
        in->r->ok++;
    else
        in->r->damaged++;
    fsg_emit(in->c, &ev);
}

int fsg_inspect(const struct fsg_config *cfg, int source, struct fsg_inspect_report *report)
{
    struct fsg_ctx c;
    struct insp in;
    uint64_t off = 0;

    memset(report, 0, sizeof *report);
    memset(&in, 0, sizeof in);
    if (source != FSG_SOURCE_BAK && source != FSG_SOURCE_USR)
        return FSG_ERR_INVAL;
    /* The user partition is read under its lock; nothing writes the backup. */
    int err = fsg_ctx_open(&c, cfg,
                           source == FSG_SOURCE_BAK ? FSG_NEED_BAK : FSG_NEED_USR | FSG_LOCK_SH);
    if (err < 0)
        return err;
    in.c = &c;
    in.port = source == FSG_SOURCE_BAK ? c.bak : c.usr;
    in.source = source;
    in.r = report;
    if (source == FSG_SOURCE_BAK)
        report->feature = fsg_switch_read(&c, &report->feature_error);
    if (source == FSG_SOURCE_BAK) {
        /* Known before the table is judged: a refused signature still exists. */
        struct fsg_stat st;
        if (c.bak->stat(c.bak->ctx, FSG_SIG_NAME, &st) == 0 && st.type == FSG_TYPE_REG)
            report->has_signature = 1;
        err = fsg_bak_load(&c, &in.m, &off, &report->signature, &report->signature_error, NULL,
                           NULL);
    } else {
        err = fsg_manifest_load(&c, in.port, source, &in.m, &off);
        if (err == 0)
            err = fsg_manifest_index(&c, &in.m, source);
    }
    if (err == FSG_ERR_SIGNATURE)
        goto out;
    if (err < 0) {
        report->manifest_error = err;
        report->manifest_offset = off;
        goto out;
    }
    for (size_t i = 0; i < in.m.n; i++) {
        const struct fsg_entry *e = &in.m.v[i];
        if (e->valid) {
            report->listed++;
            check_listed(&in, e);
        } else {
            report->bad_entries++;
        }
    }
    err = fsg_walk(&c, in.port, "", visit, NULL, &in);
out:
    fsg_manifest_free(&c, &in.m);
    fsg_ctx_fini(&c);
    return err;
}
