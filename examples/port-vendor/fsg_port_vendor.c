/*
 * fsg_port_vendor.c -- the worked example of docs/PORTING.md: an fsguard
 * storage port over a vendor file-system SDK shaped like littlefs.
 *
 * What the port has to do, callback by callback:
 *  - turn fsguard's partition-relative paths ("app/main.py", "" for the
 *    root) into the SDK's absolute ones ("/usr/app/main.py");
 *  - map the SDK's error codes to FSG_ERR_* ones;
 *  - keep the promises fsguard.h makes for each callback where the SDK
 *    does not by itself: open(READ) refuses a directory; open(CREATE)
 *    never opens an existing file; write writes everything or fails;
 *    remove never removes a directory; list never reports "." or "..".
 * The SDK has no links, so nothing can be followed; its rename replaces a
 * file atomically, and it commits metadata when a call returns, so syncdir
 * has nothing left to do.
 */
#include "fsg_port_vendor.h"

#include "vendor_fs.h"

#include <stdint.h>
#include <string.h>

static int map_err(int e)
{
    switch (e) {
    case VFS_OK: return FSG_OK;
    case VFS_ERR_NOENT: return FSG_ERR_NOENT;
    case VFS_ERR_EXIST: return FSG_ERR_EXIST;
    case VFS_ERR_NOTDIR: return FSG_ERR_NOTDIR;
    case VFS_ERR_ISDIR: return FSG_ERR_ISDIR;
    case VFS_ERR_INVAL: return FSG_ERR_INVAL;
    case VFS_ERR_NOSPC: return FSG_ERR_NOSPC;
    case VFS_ERR_NAMETOOLONG: return FSG_ERR_NAMETOOLONG;
    case VFS_ERR_NOMEM: return FSG_ERR_NOMEM;
    case VFS_ERR_NOTEMPTY: return FSG_ERR_ISDIR;
    default: return FSG_ERR_IO;
    }
}

/* "/usr" + "/" + path, or just "/usr" for the root (""). */
static int full_path(const struct fsg_vendor_port *vp, const char *path, char out[VFS_PATH_MAX])
{
    size_t m = strlen(vp->mount), n = strlen(path);
    if (m + 1 + n + 1 > VFS_PATH_MAX)
        return FSG_ERR_NAMETOOLONG;
    memcpy(out, vp->mount, m);
    if (n > 0) {
        out[m] = '/';
        memcpy(out + m + 1, path, n + 1);
    } else {
        out[m] = '\0';
    }
    return 0;
}

/* A handle is stored as fd + 1, so that no valid handle is NULL. */
static void *to_handle(int fd)
{
    return (void *)(intptr_t)(fd + 1);
}

static int fd_of(void *file)
{
    return (int)(intptr_t)file - 1;
}

static int v_stat(void *ctx, const char *path, struct fsg_stat *st)
{
    char p[VFS_PATH_MAX];
    struct vfs_info info;
    int err = full_path(ctx, path, p);
    if (err == 0)
        err = map_err(vfs_stat(p, &info));
    if (err < 0)
        return err;
    st->type = info.type == VFS_TYPE_DIR ? FSG_TYPE_DIR : FSG_TYPE_REG;
    st->size = info.size;
    return 0;
}

static int v_open(void *ctx, const char *path, int mode, void **file)
{
    char p[VFS_PATH_MAX];
    int err = full_path(ctx, path, p);
    if (err < 0)
        return err;
    if (mode == FSG_OPEN_READ) {
        /* The SDK would open a directory too: fsguard must not. */
        struct fsg_stat st;
        err = v_stat(ctx, path, &st);
        if (err < 0)
            return err;
        if (st.type != FSG_TYPE_REG)
            return st.type == FSG_TYPE_DIR ? FSG_ERR_ISDIR : FSG_ERR_NOTREG;
    }
    /* CREATE is exclusive: fsguard removes a stale temporary file first,
     * and must never write into a file that exists. */
    int flags = mode == FSG_OPEN_READ ? VFS_RDONLY : VFS_WRONLY | VFS_CREAT | VFS_EXCL;
    int fd = vfs_open(p, flags);
    if (fd < 0)
        return map_err(fd);
    *file = to_handle(fd);
    return 0;
}

static long v_read(void *ctx, void *file, void *buf, size_t size)
{
    (void)ctx;
    int n = vfs_read(fd_of(file), buf, size);
    return n < 0 ? map_err(n) : (long)n;
}

static int v_write(void *ctx, void *file, const void *buf, size_t size)
{
    (void)ctx;
    const unsigned char *b = buf;
    while (size > 0) {
        /* The SDK may write less than asked (a full disk shows as 0). */
        int n = vfs_write(fd_of(file), b, size);
        if (n < 0)
            return map_err(n);
        if (n == 0)
            return FSG_ERR_NOSPC;
        b += n;
        size -= (size_t)n;
    }
    return 0;
}

static int v_sync(void *ctx, void *file)
{
    (void)ctx;
    return map_err(vfs_fsync(fd_of(file)));
}

static int v_close(void *ctx, void *file)
{
    (void)ctx;
    return map_err(vfs_close(fd_of(file)));
}

static int v_remove(void *ctx, const char *path)
{
    char p[VFS_PATH_MAX];
    struct fsg_stat st;
    /* The SDK removes empty directories too; the contract says files. */
    int err = v_stat(ctx, path, &st);
    if (err == 0 && st.type == FSG_TYPE_DIR)
        err = FSG_ERR_ISDIR;
    if (err == 0)
        err = full_path(ctx, path, p);
    return err < 0 ? err : map_err(vfs_remove(p));
}

static int v_rename(void *ctx, const char *from, const char *to)
{
    char a[VFS_PATH_MAX], b[VFS_PATH_MAX];
    int err = full_path(ctx, from, a);
    if (err == 0)
        err = full_path(ctx, to, b);
    return err < 0 ? err : map_err(vfs_rename(a, b));
}

static int v_mkdir(void *ctx, const char *path)
{
    char p[VFS_PATH_MAX];
    int err = full_path(ctx, path, p);
    return err < 0 ? err : map_err(vfs_mkdir(p));
}

static int v_syncdir(void *ctx, const char *path)
{
    /* Metadata is committed by the call that changed it. */
    (void)ctx;
    (void)path;
    return 0;
}

static int v_list(void *ctx, const char *path, int (*fn)(void *arg, const char *name, int type),
                  void *arg)
{
    char p[VFS_PATH_MAX];
    struct vfs_info info;
    int err = full_path(ctx, path, p);
    if (err < 0)
        return err;
    int dir = vfs_dir_open(p);
    if (dir < 0)
        return map_err(dir);
    int r = 0, n;
    while (r == 0 && (n = vfs_dir_read(dir, &info)) != 0) {
        if (n < 0) {
            r = map_err(n);
            break;
        }
        if (strcmp(info.name, ".") == 0 || strcmp(info.name, "..") == 0)
            continue;
        r = fn(arg, info.name, info.type == VFS_TYPE_DIR ? FSG_TYPE_DIR : FSG_TYPE_REG);
    }
    (void)vfs_dir_close(dir);
    return r;
}

void fsg_vendor_port_init(struct fsg_vendor_port *vp, const char *mount, int readonly)
{
    memset(vp, 0, sizeof *vp);
    vp->mount = mount;
    vp->readonly = readonly;
    vp->port.version = FSG_PORT_VERSION;
    vp->port.ctx = vp;
    vp->port.open = v_open;
    vp->port.read = v_read;
    vp->port.close = v_close;
    vp->port.stat = v_stat;
    vp->port.list = v_list;
    if (!readonly) {
        vp->port.write = v_write;
        vp->port.sync = v_sync;
        vp->port.remove = v_remove;
        vp->port.rename = v_rename;
        vp->port.mkdir = v_mkdir;
        vp->port.syncdir = v_syncdir;
    }
}
