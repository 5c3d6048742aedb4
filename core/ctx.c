/*
 * ctx.c -- the working context of one library call: its configuration and
 * ports, its buffer, the allocator every core allocation goes through, and
 * the events it reports.
 */
#include "fsg_internal.h"

#include <string.h>

#ifndef FSG_NO_MALLOC
#include <stdlib.h>

/* cfg.alloc NULL: the C library's heap. A build with FSG_NO_MALLOC has no
 * such default and refuses a configuration without cfg.alloc. */
static void *default_alloc(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    if (size == 0) {
        free(ptr);
        return NULL;
    }
    return realloc(ptr, size);
}
#define DEFAULT_ALLOC default_alloc
#define ALLOC_REQUIRED 0
#else
#define DEFAULT_ALLOC NULL
#define ALLOC_REQUIRED 1
#endif

void *fsg_realloc(struct fsg_ctx *c, void *ptr, size_t size)
{
    const struct fsg_config *cfg = c->cfg;
    fsg_alloc_fn fn = cfg->alloc != NULL ? cfg->alloc : DEFAULT_ALLOC;
    return fn(cfg->alloc_ctx, ptr, size);
}

void *fsg_alloc(struct fsg_ctx *c, size_t size)
{
    return fsg_realloc(c, NULL, size == 0 ? 1 : size);
}

void fsg_free(struct fsg_ctx *c, void *ptr)
{
    if (ptr != NULL)
        (void)fsg_realloc(c, ptr, 0);
}

char *fsg_strdup(struct fsg_ctx *c, const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = fsg_alloc(c, n);
    if (d != NULL)
        memcpy(d, s, n);
    return d;
}

void fsg_emit(struct fsg_ctx *c, const struct fsg_event *ev)
{
    if (c->cfg->on_event != NULL)
        c->cfg->on_event(c->cfg->event_ctx, ev);
}

/* Ports of an older version (a shorter struct) are still accepted; the
 * fields their version lacks are never read. */
static bool port_ok(const struct fsg_port *p)
{
    return p != NULL && p->version >= 1 && p->version <= FSG_PORT_VERSION &&
           p->open != NULL && p->read != NULL && p->close != NULL && p->stat != NULL;
}

/* Takes the user port's lock, if it has one, for the call. */
static int ctx_lock(struct fsg_ctx *c, unsigned need)
{
    const struct fsg_port *p = c->usr;
    if (!(need & (FSG_LOCK_SH | FSG_LOCK_EX)) || p->version < 2 || p->lock == NULL ||
        p->unlock == NULL)
        return 0;
    int mode = need & FSG_LOCK_EX ? FSG_LOCK_EXCLUSIVE : FSG_LOCK_SHARED;
    int err = p->lock(p->ctx, mode, c->cfg->lock_wait_ms);
    c->locked = err == 0;
    return err;
}

int fsg_ctx_init(struct fsg_ctx *c, const struct fsg_config *cfg)
{
    return fsg_ctx_open(c, cfg, FSG_NEED_USR | FSG_NEED_BAK);
}

int fsg_ctx_open(struct fsg_ctx *c, const struct fsg_config *cfg, unsigned need)
{
    memset(c, 0, sizeof *c);
    if (cfg == NULL || (ALLOC_REQUIRED && cfg->alloc == NULL) ||
        ((need & FSG_NEED_USR) && !port_ok(cfg->usr)) ||
        ((need & FSG_NEED_BAK) && !port_ok(cfg->bak)))
        return FSG_ERR_INVAL;
    c->cfg = cfg;
    c->usr = cfg->usr;
    c->bak = cfg->bak;
    if (cfg->buf != NULL) {
        if (cfg->buf_size < FSG_BUF_MIN)
            return FSG_ERR_INVAL;
        c->buf = cfg->buf;
        c->buf_size = cfg->buf_size;
    } else {
        c->own_buf = fsg_alloc(c, FSG_DEFAULT_BUF);
        if (c->own_buf == NULL)
            return FSG_ERR_NOMEM;
        c->buf = c->own_buf;
        c->buf_size = FSG_DEFAULT_BUF;
    }
    int err = ctx_lock(c, need);
    if (err < 0)
        fsg_ctx_fini(c);
    return err;
}

void fsg_ctx_fini(struct fsg_ctx *c)
{
    if (c->locked)
        (void)c->usr->unlock(c->usr->ctx);
    c->locked = false;
    if (c->cfg != NULL)
        fsg_free(c, c->own_buf);
    c->own_buf = NULL;
}


int fsg_port_remove(const struct fsg_port *p, const char *path)
{
    return p->remove != NULL ? p->remove(p->ctx, path) : FSG_ERR_NOTSUP;
}

int fsg_port_writable(const struct fsg_port *p, const char *path)
{
    return p->version >= 3 && p->writable != NULL ? p->writable(p->ctx, path) : 0;
}
