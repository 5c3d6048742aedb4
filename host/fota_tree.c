/*
 * fota_tree.c -- an update given as a directory laid out like /usr: checked
 * whole first (as pack checks a project tree), then applied through the
 * fsg_fota_* transaction. Host side: firmware uses the transaction itself.
 */
#include "fsg_host.h"

#include <string.h>

int fsg_fota_apply(const struct fsg_config *cfg, const struct fsg_port *update,
                   int (*protect)(void *ctx, const char *name), void *protect_ctx,
                   struct fsg_fota_report *report)
{
    struct fsg_ctx c;
    struct fsg_plan pl;
    struct fsg_fota *tx = NULL;

    memset(report, 0, sizeof *report);
    memset(&pl, 0, sizeof pl);
    if (update == NULL || update->list == NULL)
        return FSG_ERR_INVAL;
    int err = fsg_ctx_init(&c, cfg);
    if (err < 0)
        return err;
    pl.c = &c;
    pl.src = update;
    /* The tree is read and checked before the transaction starts. */
    err = fsg_tree_plan(&pl);
    if (err == 0)
        err = fsg_fota_begin(cfg, &tx);
    for (size_t i = 0; i < pl.n && err == 0; i++) {
        const struct fsg_pfile *f = &pl.files[i];
        void *in = NULL;
        int p = protect != NULL && protect(protect_ctx, f->name) != 0;
        err = fsg_fota_add(tx, f->name, p);
        if (err == 0)
            err = update->open(update->ctx, fsg_usr_path(f->name), FSG_OPEN_READ, &in);
        long n = 0;
        while (err == 0 && (n = update->read(update->ctx, in, c.buf, c.buf_size)) > 0)
            err = fsg_fota_write(tx, c.buf, (size_t)n);
        if (err == 0 && n < 0)
            err = (int)n;
        if (in != NULL) {
            int cerr = update->close(update->ctx, in);
            err = err == 0 ? cerr : err;
        }
    }
    if (tx != NULL) {
        if (err == 0)
            err = fsg_fota_commit(tx, report);
        else
            fsg_fota_abort(tx);
    }
    fsg_tree_free(&pl);
    fsg_ctx_fini(&c);
    return err;
}
