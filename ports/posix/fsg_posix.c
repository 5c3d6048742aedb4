/*
 * fsg_posix.c -- the storage port over a POSIX directory. Paths are walked
 * from the root descriptor with openat(O_NOFOLLOW | O_DIRECTORY), so links
 * and rename races below the root cannot redirect an operation outside it.
 */
#define _POSIX_C_SOURCE 200809L
#include "fsguard_posix.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fsg_posix_error(int e)
{
    switch (e) {
    case 0: return FSG_OK;
    case ENOENT: return FSG_ERR_NOENT;
    case EIO: return FSG_ERR_IO;
    case ENOMEM: return FSG_ERR_NOMEM;
    case EACCES:
    case EPERM: return FSG_ERR_ACCES;
    case EEXIST: return FSG_ERR_EXIST;
    case ENOTDIR: return FSG_ERR_NOTDIR;
    case EISDIR: return FSG_ERR_ISDIR;
    case EINVAL: return FSG_ERR_INVAL;
    case EFBIG: return FSG_ERR_FBIG;
    case ENOSPC:
    case EDQUOT: return FSG_ERR_NOSPC;
    case EROFS: return FSG_ERR_ROFS;
    case ENAMETOOLONG: return FSG_ERR_NAMETOOLONG;
    case ELOOP: return FSG_ERR_LOOP;
    case ENOTEMPTY: return FSG_ERR_ISDIR;
    case ENOTSUP: return FSG_ERR_NOTSUP;
    default: return FSG_ERR_IO;
    }
}

static int neg_errno(void)
{
    return fsg_posix_error(errno);
}

/* Opens the directory holding path's last component and points *base at
 * that component. Returns a descriptor the caller closes, or an error. */
static int walk(struct fsg_posix *p, const char *path, const char **base)
{
    char seg[NAME_MAX + 1];
    int fd = fcntl(p->root, F_DUPFD_CLOEXEC, 0);

    if (fd < 0)
        return neg_errno();
    for (;;) {
        const char *slash = strchr(path, '/');
        if (slash == NULL)
            break;
        size_t n = (size_t)(slash - path);
        if (n == 0 || n > NAME_MAX) {
            close(fd);
            return n == 0 ? FSG_ERR_INVAL : FSG_ERR_NAMETOOLONG;
        }
        memcpy(seg, path, n);
        seg[n] = '\0';
        int next = openat(fd, seg, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int e = errno;
        close(fd);
        if (next < 0) {
            /* O_NOFOLLOW on a link gives ELOOP, or ENOTDIR with O_DIRECTORY. */
            return fsg_posix_error(e);
        }
        fd = next;
        path = slash + 1;
    }
    *base = path;
    return fd;
}

/* Opens directory path ("" is the root) for listing or syncing. */
static int open_dir(struct fsg_posix *p, const char *path)
{
    if (path[0] == '\0') {
        /* A fresh open, not a dup: listing must not share the root's offset. */
        int fd = openat(p->root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return fd < 0 ? neg_errno() : fd;
    }
    const char *base;
    int dfd = walk(p, path, &base);
    if (dfd < 0)
        return dfd;
    int fd = openat(dfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int e = errno;
    close(dfd);
    return fd < 0 ? fsg_posix_error(e) : fd;
}

static int type_of(mode_t m)
{
    if (S_ISREG(m))
        return FSG_TYPE_REG;
    if (S_ISDIR(m))
        return FSG_TYPE_DIR;
    if (S_ISLNK(m))
        return FSG_TYPE_LINK;
    return FSG_TYPE_OTHER;
}

static int px_open(void *ctx, const char *path, int mode, void **file)
{
    struct fsg_posix *p = ctx;
    const char *base;
    int fd, e;

    if (mode == FSG_OPEN_CREATE && p->readonly)
        return FSG_ERR_ROFS;
    int dfd = walk(p, path, &base);
    if (dfd < 0)
        return dfd;
    if (mode == FSG_OPEN_CREATE) {
        fd = openat(dfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    } else {
        /* O_NONBLOCK: opening a FIFO planted here must not hang the boot. */
        fd = openat(dfd, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    }
    e = errno;
    close(dfd);
    if (fd < 0)
        return fsg_posix_error(e);
    if (mode != FSG_OPEN_CREATE) {
        struct stat st;
        int err = 0;
        if (fstat(fd, &st) < 0)
            err = neg_errno();
        else if (!S_ISREG(st.st_mode))
            err = S_ISDIR(st.st_mode) ? FSG_ERR_ISDIR : FSG_ERR_NOTREG;
        if (err < 0) {
            close(fd);
            return err;
        }
        int fl = fcntl(fd, F_GETFL);
        if (fl >= 0)
            (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    }
    *file = (void *)(intptr_t)(fd + 1);
    return 0;
}

static int fd_of(void *file)
{
    return (int)(intptr_t)file - 1;
}

static long px_read(void *ctx, void *file, void *buf, size_t size)
{
    (void)ctx;
    for (;;) {
        ssize_t n = read(fd_of(file), buf, size);
        if (n >= 0)
            return (long)n;
        if (errno != EINTR)
            return neg_errno();
    }
}

static int px_write(void *ctx, void *file, const void *buf, size_t size)
{
    const char *b = buf;
    (void)ctx;
    while (size > 0) {
        ssize_t n = write(fd_of(file), b, size);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return neg_errno();
        }
        b += n;
        size -= (size_t)n;
    }
    return 0;
}

static int px_sync(void *ctx, void *file)
{
    (void)ctx;
    return fsync(fd_of(file)) < 0 ? neg_errno() : 0;
}

static int px_close(void *ctx, void *file)
{
    (void)ctx;
    return close(fd_of(file)) < 0 && errno != EINTR ? neg_errno() : 0;
}

static int px_stat(void *ctx, const char *path, struct fsg_stat *out)
{
    struct fsg_posix *p = ctx;
    struct stat st;
    const char *base;
    int dfd = walk(p, path, &base);

    if (dfd < 0)
        return dfd;
    int r = fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW);
    int e = errno;
    close(dfd);
    if (r < 0)
        return fsg_posix_error(e);
    out->type = type_of(st.st_mode);
    out->size = (uint64_t)st.st_size;
    return 0;
}

/* Runs fn on path's last component inside its parent directory: the
 * shape of every writing call that names one entry. */
static int in_parent(struct fsg_posix *p, const char *path, int (*fn)(int dfd, const char *base))
{
    const char *base;

    if (p->readonly)
        return FSG_ERR_ROFS;
    int dfd = walk(p, path, &base);
    if (dfd < 0)
        return dfd;
    int r = fn(dfd, base);
    int e = errno;
    close(dfd);
    return r < 0 ? fsg_posix_error(e) : 0;
}

static int unlink_file(int dfd, const char *base)
{
    return unlinkat(dfd, base, 0);
}

static int make_dir(int dfd, const char *base)
{
    return mkdirat(dfd, base, 0755);
}

static int px_remove(void *ctx, const char *path)
{
    return in_parent(ctx, path, unlink_file);
}

static int px_rename(void *ctx, const char *from, const char *to)
{
    struct fsg_posix *p = ctx;
    const char *fb, *tb;

    if (p->readonly)
        return FSG_ERR_ROFS;
    int fd = walk(p, from, &fb);
    if (fd < 0)
        return fd;
    int td = walk(p, to, &tb);
    if (td < 0) {
        close(fd);
        return td;
    }
    /* renameat replaces a link at the target, never what it points to. */
    int r = renameat(fd, fb, td, tb);
    int e = errno;
    close(fd);
    close(td);
    return r < 0 ? fsg_posix_error(e) : 0;
}

static int px_mkdir(void *ctx, const char *path)
{
    return in_parent(ctx, path, make_dir);
}

static int px_syncdir(void *ctx, const char *path)
{
    struct fsg_posix *p = ctx;

    if (p->readonly)
        return FSG_ERR_ROFS;
    int fd = open_dir(p, path);
    if (fd < 0)
        return fd;
    int r = fsync(fd);
    int e = errno;
    close(fd);
    return r < 0 ? fsg_posix_error(e) : 0;
}

static int px_list(void *ctx, const char *path,
                   int (*fn)(void *arg, const char *name, int type), void *arg)
{
    struct fsg_posix *p = ctx;
    int fd = open_dir(p, path);

    if (fd < 0)
        return fd;
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        int e = errno;
        close(fd);
        return fsg_posix_error(e);
    }
    int r = 0;
    struct dirent *de;
    errno = 0;
    while (r == 0 && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        struct stat st;
        int type = FSG_TYPE_OTHER;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
            type = type_of(st.st_mode);
        r = fn(arg, de->d_name, type);
        errno = 0;
    }
    if (r == 0 && errno != 0)
        r = neg_errno();
    closedir(d);
    return r;
}

int fsg_posix_open(struct fsg_posix *p, const char *dir, int readonly)
{
    memset(p, 0, sizeof *p);
    p->root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (p->root < 0)
        return neg_errno();
    p->readonly = readonly;
    p->port.version = FSG_PORT_VERSION;
    p->port.ctx = p;
    p->port.open = px_open;
    p->port.read = px_read;
    p->port.write = px_write;
    p->port.sync = px_sync;
    p->port.close = px_close;
    p->port.stat = px_stat;
    p->port.remove = px_remove;
    p->port.rename = px_rename;
    p->port.mkdir = px_mkdir;
    p->port.syncdir = px_syncdir;
    p->port.list = px_list;
    return 0;
}

void fsg_posix_close(struct fsg_posix *p)
{
    if (p->root >= 0)
        close(p->root);
    p->root = -1;
}
