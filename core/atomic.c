/*
 * atomic.c -- changing the user partition crash-safely: parent directories
 * created and synced, and the replacement of a file by a temporary one
 * (temp file, its permission bits, sync, read back and verify, rename,
 * sync dir).
 */
#include "fsg_internal.h"

#include <string.h>

/* Syncs directory prefix[0..len) of buf ("" when len is 0), writing a NUL
 * there for the call and putting back what stood there. */
static int sync_prefix(const struct fsg_port *p, char *buf, size_t len)
{
    char saved = buf[len];
    buf[len] = '\0';
    int err = p->syncdir(p->ctx, buf);
    buf[len] = saved;
    return err;
}

/* The directory part of path (dlen bytes) in a string of its own, from the
 * allocator: path buffers do not live on the stack, a device's is small. */
static FSG_NOINLINE int dir_of(struct fsg_ctx *c, const char *path, size_t dlen, char **out)
{
    if (dlen >= FSG_PATH_BUF)
        return FSG_ERR_NAMETOOLONG;
    char *dir = *out = fsg_alloc(c, dlen + 1);
    if (dir == NULL)
        return FSG_ERR_NOMEM;
    memcpy(dir, path, dlen);
    dir[dlen] = '\0';
    return 0;
}

int fsg_sync_parent(struct fsg_ctx *c, const struct fsg_port *p, const char *path)
{
    size_t dlen = fsg_dir_len(path);
    char *dir;

    if (p->syncdir == NULL)
        return 0;
    int err = dir_of(c, path, dlen, &dir);
    if (err < 0)
        return err;
    err = p->syncdir(p->ctx, dir);
    fsg_free(c, dir);
    return err;
}

int fsg_mkdirs(struct fsg_ctx *c, const struct fsg_port *p, const char *path)
{
    size_t dlen = fsg_dir_len(path);
    char *dir;

    if (dlen == 0)
        return 0;
    int err = dir_of(c, path, dlen, &dir);
    if (err < 0)
        return err;

    /* Walk down from the root: each existing component must be a real
     * directory (stat never follows links), each missing one is created. */
    for (size_t i = 0; i <= dlen && err == 0; i++) {
        if (dir[i] != '/' && dir[i] != '\0')
            continue;
        char saved = dir[i];
        dir[i] = '\0';
        struct fsg_stat st;
        err = p->stat(p->ctx, dir, &st);
        if (err == FSG_ERR_NOENT) {
            err = p->mkdir == NULL ? FSG_ERR_NOTSUP : p->mkdir(p->ctx, dir);
            /* Make the new directory's entry durable in its parent. */
            if (err == 0 && p->syncdir != NULL)
                err = sync_prefix(p, dir, fsg_dir_len(dir));
        } else if (err == 0 && st.type != FSG_TYPE_DIR) {
            err = st.type == FSG_TYPE_LINK ? FSG_ERR_LOOP : FSG_ERR_NOTDIR;
        }
        dir[i] = saved;
    }
    fsg_free(c, dir);
    return err;
}

bool fsg_cancelled(const struct fsg_ctx *c)
{
    const struct fsg_config *cfg = c->cfg;
    return cfg != NULL && cfg->cancelled != NULL && cfg->cancelled(cfg->cancel_ctx) != 0;
}

int fsg_atomic_begin(struct fsg_atomic *a, struct fsg_ctx *c, const struct fsg_port *p,
                     const char *path)
{
    int err;

    memset(a, 0, sizeof *a);
    a->c = c;
    a->port = p;
    a->path = path;
    fsg_hasher_init(&a->h, FSG_HASH_CRC32);
    if (p->remove == NULL || p->rename == NULL || p->write == NULL || p->sync == NULL)
        return FSG_ERR_NOTSUP;
    if (fsg_cancelled(c))
        return FSG_ERR_CANCELLED;
    a->tmp = fsg_alloc(c, FSG_PATH_BUF);
    if (a->tmp == NULL)
        return FSG_ERR_NOMEM;
    err = fsg_tmp_path(path, a->tmp, FSG_PATH_BUF);
    if (err < 0) {
        fsg_free(c, a->tmp);
        a->tmp = NULL;
        return err;
    }
    /* A leftover of an interrupted run is ours to replace. Removing it first
     * and then creating exclusively means we never write through a link or
     * into a file that is also linked elsewhere. */
    err = p->remove(p->ctx, a->tmp);
    if (err < 0 && err != FSG_ERR_NOENT)
        return err;
    err = p->open(p->ctx, a->tmp, FSG_OPEN_CREATE, &a->file);
    if (err < 0)
        a->file = NULL;
    return err;
}

#if FSG_PERMS
void fsg_atomic_perm(struct fsg_atomic *a, const struct fsg_port *port, const char *path)
{
    a->perm_port = port;
    a->perm_path = path;
}

static bool has_perms(const struct fsg_port *p)
{
    return p->version >= 3 && p->getperm != NULL && p->setperm != NULL;
}

/* Gives the new file its permission bits (fsg_atomic_perm), before the
 * sync that makes them durable with its data: whichever name a power cut
 * leaves, it never shows the data under other bits. A source without bits
 * (a new file, something not a regular file, a port that keeps none)
 * leaves the port's default. */
static int give_perm(struct fsg_atomic *a)
{
    const struct fsg_port *p = a->port, *src = a->perm_port;
    const char *from = a->perm_path;
    uint32_t perm;

    if (src == NULL) {
        src = p;
        from = a->path;
    }
    if (!has_perms(p) || !has_perms(src))
        return 0;
    int err = src->getperm(src->ctx, from, &perm);
    if (err == FSG_ERR_NOENT || err == FSG_ERR_NOTSUP || err == FSG_ERR_NOTREG)
        return 0; /* (a directory in the way fails the rename, as it should) */
    return err < 0 ? err : p->setperm(p->ctx, a->file, perm & FSG_PERM_MASK);
}
#else
#define give_perm(a) 0
#endif

void fsg_atomic_want(struct fsg_atomic *a, unsigned kinds)
{
    fsg_hasher_init(&a->h, kinds);
}

int fsg_atomic_write(struct fsg_atomic *a, const void *data, size_t len)
{
    const struct fsg_port *p = a->port;
    if (fsg_cancelled(a->c))
        return FSG_ERR_CANCELLED;
    fsg_hasher_update(&a->h, data, len);
    return p->write(p->ctx, a->file, data, len);
}

void fsg_atomic_sum(struct fsg_atomic *a, struct fsg_sum *out)
{
    struct fsg_hasher h = a->h; /* a copy: the running state goes on */
    fsg_hasher_final(&h, out);
}

void fsg_atomic_abort(struct fsg_atomic *a)
{
    const struct fsg_port *p = a->port;
    if (p == NULL)
        return;
    if (a->file != NULL)
        (void)p->close(p->ctx, a->file);
    a->file = NULL;
    if (a->tmp != NULL) {
        (void)p->remove(p->ctx, a->tmp);
        fsg_free(a->c, a->tmp);
        a->tmp = NULL;
    }
}

int fsg_atomic_seal(struct fsg_atomic *a)
{
    struct fsg_ctx *c = a->c;
    const struct fsg_port *p = a->port;
    struct fsg_sum back;

    int err = give_perm(a);
#if defined(FSG_TEST_BREAK) && FSG_TEST_BREAK == 1
    /* Broken on purpose, for the crash sweep's own test: no sync. */
#else
    if (err == 0)
        err = p->sync(p->ctx, a->file);
#endif
    int cerr = p->close(p->ctx, a->file);
    a->file = NULL;
    if (err == 0)
        err = cerr;
    /* Read the temporary file back from storage: only data that reads back
     * as written may replace the target. */
    if (err == 0)
        err = fsg_hash_file(c, p, a->tmp, FSG_HASH_CRC32, &back);
    if (err == 0 && back.crc != a->h.crc)
        err = FSG_ERR_MISMATCH;
    if (err < 0)
        fsg_atomic_abort(a);
    return err;
}

int fsg_atomic_publish(struct fsg_atomic *a)
{
    const struct fsg_port *p = a->port;

    int err = p->rename(p->ctx, a->tmp, a->path);
    if (err < 0) {
        fsg_atomic_abort(a);
        return err;
    }
    a->renamed = true;
    fsg_free(a->c, a->tmp);
    a->tmp = NULL;
    return fsg_sync_parent(a->c, p, a->path);
}

int fsg_atomic_commit(struct fsg_atomic *a)
{
    int err = fsg_atomic_seal(a);
    return err < 0 ? err : fsg_atomic_publish(a);
}

int fsg_write_small(struct fsg_ctx *c, const struct fsg_port *p, const char *path,
                    const void *data, size_t len)
{
    struct fsg_atomic a;
    int err = fsg_atomic_begin(&a, c, p, path);
    if (err == 0 && len > 0)
        err = fsg_atomic_write(&a, data, len);
    if (err < 0) {
        fsg_atomic_abort(&a);
        return err;
    }
    return fsg_atomic_commit(&a);
}
