/*
 * fsg_posix.c -- the storage port over a POSIX directory. Paths are
 * resolved from the root descriptor without following any link: by the
 * kernel in one call where Linux has openat2 (RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS), else walked with openat(O_NOFOLLOW | O_DIRECTORY);
 * either way links and rename races below the root cannot redirect an
 * operation outside it.
 */
#define _GNU_SOURCE
#include "fsguard_posix.h"

#if defined(__linux__)
#include <linux/openat2.h>
#include <sys/syscall.h>
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/file.h>
#include <sys/sysmacros.h>
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

/* openat of path below the root, following no link in any component
 * (RESOLVE_NO_SYMLINKS also refuses a link as the last one, with ELOOP).
 * Returns a descriptor, or -1 with errno set; ENOSYS when the kernel (or a
 * seccomp filter) has no openat2 (fsg_posix_open asks once), which the
 * caller then does by hand. */
static int open_beneath(struct fsg_posix *p, const char *path, int flags, mode_t mode)
{
#if defined(SYS_openat2) && defined(RESOLVE_BENEATH)
    if (!p->walk_only) {
        struct open_how how;
        memset(&how, 0, sizeof how);
        how.flags = (uint64_t)(unsigned)flags;
        how.mode = (flags & O_CREAT) ? mode : 0;
        how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
        long fd;
        /* EAGAIN would mean a race on a ".." component, which fsguard's
         * paths never have: a few tries, never an endless loop. */
        int tries = 0;
        do
            fd = syscall(SYS_openat2, p->root, path, &how, sizeof how);
        while (fd < 0 && (errno == EINTR || errno == EAGAIN) && ++tries < 8);
        return (int)fd;
    }
#else
    (void)p;
    (void)path;
    (void)flags;
    (void)mode;
#endif
    errno = ENOSYS;
    return -1;
}

/* Releases a directory descriptor walk returned (never the root). */
static void release(struct fsg_posix *p, int fd)
{
    if (fd != p->root)
        close(fd);
}

/* Opens the directory holding path's last component and points *base at
 * that component. Returns a descriptor to give back with release (the
 * root itself for a path without '/'), or an error. */
static int walk(struct fsg_posix *p, const char *path, const char **base)
{
    char seg[NAME_MAX + 1];
    const char *last = strrchr(path, '/');

    if (last == NULL) {
        *base = path;
        return p->root;
    }
    size_t dlen = (size_t)(last - path);
    if (dlen < PATH_MAX) {
        char dir[PATH_MAX];
        memcpy(dir, path, dlen);
        dir[dlen] = '\0';
        int fd = open_beneath(p, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
        if (fd >= 0 || errno != ENOSYS) {
            *base = last + 1;
            return fd >= 0 ? fd : neg_errno();
        }
    }
    int fd = p->root;
    for (;;) {
        const char *slash = strchr(path, '/');
        if (slash == NULL)
            break;
        size_t n = (size_t)(slash - path);
        if (n == 0 || n > NAME_MAX) {
            release(p, fd);
            return n == 0 ? FSG_ERR_INVAL : FSG_ERR_NAMETOOLONG;
        }
        memcpy(seg, path, n);
        seg[n] = '\0';
        int next = openat(fd, seg, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int e = errno;
        release(p, fd);
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

/* Opens path's last component in its directory with flags (O_NOFOLLOW
 * added): in one call where possible. Returns a descriptor or an error. */
static int open_at(struct fsg_posix *p, const char *path, int flags, mode_t mode)
{
    int fd = open_beneath(p, path, flags | O_NOFOLLOW, mode);
    if (fd >= 0)
        return fd;
    if (errno != ENOSYS)
        return neg_errno();
    const char *base;
    int dfd = walk(p, path, &base);
    if (dfd < 0)
        return dfd;
    fd = openat(dfd, base, flags | O_NOFOLLOW, mode);
    int e = errno;
    release(p, dfd);
    return fd < 0 ? fsg_posix_error(e) : fd;
}

/* Opens directory path ("" is the root) for listing or syncing. */
static int open_dir(struct fsg_posix *p, const char *path)
{
    if (path[0] == '\0') {
        /* A fresh open, not a dup: listing must not share the root's offset. */
        int fd = openat(p->root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return fd < 0 ? neg_errno() : fd;
    }
    return open_at(p, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
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
    int fd;

    if (mode == FSG_OPEN_CREATE && p->readonly)
        return FSG_ERR_ROFS;
    if (mode == FSG_OPEN_CREATE) {
        fd = open_at(p, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    } else {
        /* O_NONBLOCK: opening a FIFO planted here must not hang the boot.
         * It changes nothing for the regular files that get past fstat. */
        fd = open_at(p, path, O_RDONLY | O_NONBLOCK | O_CLOEXEC, 0);
    }
    if (fd < 0)
        return fd;
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

/* lstat of path below the root, no link followed on the way. */
static int stat_nofollow(struct fsg_posix *p, const char *path, struct stat *st)
{
    const char *base;

    /* O_PATH | O_NOFOLLOW: a link as the last component is opened itself
     * (and reported as a link), never followed. */
    int fd = open_beneath(p, path, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0);
    if (fd >= 0) {
        int r = fstat(fd, st);
        int e = errno;
        close(fd);
        return r < 0 ? fsg_posix_error(e) : 0;
    }
    if (errno != ENOSYS)
        return neg_errno();
    int dfd = walk(p, path, &base);
    if (dfd < 0)
        return dfd;
    int r = fstatat(dfd, base, st, AT_SYMLINK_NOFOLLOW);
    int e = errno;
    release(p, dfd);
    return r < 0 ? fsg_posix_error(e) : 0;
}

static int px_stat(void *ctx, const char *path, struct fsg_stat *out)
{
    struct stat st;
    int err = stat_nofollow(ctx, path, &st);
    if (err < 0)
        return err;
    out->type = type_of(st.st_mode);
    out->size = (uint64_t)st.st_size;
    return 0;
}

static int px_getperm(void *ctx, const char *path, uint32_t *perm)
{
    struct stat st;
    int err = stat_nofollow(ctx, path, &st);
    if (err < 0)
        return err;
    if (!S_ISREG(st.st_mode))
        return FSG_ERR_NOTREG;
    *perm = (uint32_t)(st.st_mode & 07777);
    return 0;
}

static int px_setperm(void *ctx, void *file, uint32_t perm)
{
    (void)ctx;
    return fchmod(fd_of(file), (mode_t)(perm & 07777)) < 0 ? neg_errno() : 0;
}

/* Whether the caller (its effective IDs, as the change would run) may add
 * and remove entries in the nearest existing directory on path's way, on
 * a file system mounted read-write (faccessat says EROFS otherwise); and,
 * in a sticky directory (/tmp), replace a file that stands there, which
 * only its owner, the directory's owner or root may. */
static int px_writable(void *ctx, const char *path)
{
    struct fsg_posix *p = ctx;
    char dir[PATH_MAX];
    size_t len = strlen(path);

    if (p->readonly)
        return FSG_ERR_ROFS;
    if (len >= sizeof dir)
        return FSG_ERR_NAMETOOLONG;
    memcpy(dir, path, len + 1);
    const char *base = strrchr(path, '/');
    base = base != NULL ? base + 1 : path;
    for (bool own = true;; own = false) {
        char *slash = strrchr(dir, '/');
        *(slash != NULL ? slash : dir) = '\0';
        int fd = open_dir(p, dir);
        if (fd == FSG_ERR_NOENT && dir[0] != '\0')
            continue; /* made by the change: the one above must allow it */
        if (fd < 0)
            return fd;
        struct stat ds, fs;
        int err = faccessat(fd, ".", W_OK | X_OK, AT_EACCESS) < 0 ? neg_errno() : 0;
        if (err == 0 && own && fstat(fd, &ds) == 0 && (ds.st_mode & S_ISVTX) &&
            fstatat(fd, base, &fs, AT_SYMLINK_NOFOLLOW) == 0 && geteuid() != 0 &&
            geteuid() != fs.st_uid && geteuid() != ds.st_uid)
            err = FSG_ERR_ACCES;
        close(fd);
        return err;
    }
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
    release(p, dfd);
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
        release(p, fd);
        return td;
    }
    /* renameat replaces a link at the target, never what it points to. */
    int r = renameat(fd, fb, td, tb);
    int e = errno;
    release(p, fd);
    release(p, td);
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
        int type = de->d_type == DT_REG   ? FSG_TYPE_REG
                   : de->d_type == DT_DIR ? FSG_TYPE_DIR
                   : de->d_type == DT_LNK ? FSG_TYPE_LINK
                                          : FSG_TYPE_OTHER;
        /* Only where the file system does not say in the listing itself. */
        if (de->d_type == DT_UNKNOWN &&
            fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
            type = type_of(st.st_mode);
        r = fn(arg, de->d_name, type);
        errno = 0;
    }
    if (r == 0 && errno != 0)
        r = neg_errno();
    closedir(d);
    return r;
}

/* ---- the partition's lock (fsg_port.lock) ---- */

/* flock(2) on a new open file description of the root directory itself:
 * openat(root, ".") looks no path up and follows no link, needs no write
 * access (a read-only partition locks too), and the kernel drops the lock
 * when the description's last descriptor closes, a killed process's
 * included: no stale lock. (An fcntl or OFD write lock would need a
 * descriptor open for writing, which a directory cannot have.) The wait
 * polls, with pauses from 1 ms growing to 50 ms, never past wait_ms. */
static uint64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

static int px_lock(void *ctx, int mode, uint32_t wait_ms)
{
    struct fsg_posix *p = ctx;

    /* Held by another call through this same port (an open fsg_put, say):
     * the device is busy for this one, whatever the wait, as the holder
     * is this process itself. */
    if (p->lock_fd >= 0)
        return FSG_ERR_LOCKED;
    int fd = openat(p->root, ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return neg_errno();
    int op = (mode == FSG_LOCK_EXCLUSIVE ? LOCK_EX : LOCK_SH) | LOCK_NB;
    uint64_t start = now_ms();
    long pause_ms = 1;
    for (;;) {
        if (flock(fd, op) == 0) {
            p->lock_fd = fd;
            return 0;
        }
        int e = errno;
        if (e == EINTR)
            continue;
        uint64_t waited = now_ms() - start;
        if (e != EWOULDBLOCK || waited >= wait_ms) {
            close(fd);
            return e == EWOULDBLOCK ? FSG_ERR_LOCKED : fsg_posix_error(e);
        }
        uint64_t left = wait_ms - waited;
        long ms = (uint64_t)pause_ms < left ? pause_ms : (long)left;
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        if (pause_ms < 50)
            pause_ms *= 2;
    }
}

static int px_unlock(void *ctx)
{
    struct fsg_posix *p = ctx;

    if (p->lock_fd < 0)
        return FSG_ERR_INVAL;
    /* Closing the only descriptor of the description releases the lock. */
    int r = close(p->lock_fd);
    p->lock_fd = -1;
    return r < 0 && errno != EINTR ? neg_errno() : 0;
}

long fsg_posix_lock_holder(const struct fsg_posix *p)
{
    struct stat st;
    char line[256];
    long found = 0;

    if (fstat(p->root, &st) < 0)
        return 0;
    FILE *f = fopen("/proc/locks", "re");
    if (f == NULL)
        return 0;
    /* "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF"; a waiter's line
     * has "->" after the number. */
    while (found == 0 && fgets(line, sizeof line, f) != NULL) {
        char kind[16], arrow[4];
        long pid;
        unsigned maj, min;
        unsigned long long ino;
        if (sscanf(line, "%*d: %3s", arrow) == 1 && strcmp(arrow, "->") == 0)
            continue;
        if (sscanf(line, "%*d: %15s %*s %*s %ld %x:%x:%llu", kind, &pid, &maj, &min, &ino) == 5 &&
            strcmp(kind, "FLOCK") == 0 && ino == (unsigned long long)st.st_ino &&
            maj == major(st.st_dev) && min == minor(st.st_dev) && pid != (long)getpid())
            found = pid;
    }
    fclose(f);
    return found;
}

int fsg_posix_open(struct fsg_posix *p, const char *dir, int readonly)
{
    memset(p, 0, sizeof *p);
    p->lock_fd = -1;
    p->root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (p->root < 0)
        return neg_errno();
    p->readonly = readonly;
    /* Whether the kernel resolves paths in one call: asked once, here, so
     * that threads sharing the port only ever read the answer. */
    int probe = open_beneath(p, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (probe >= 0)
        close(probe);
    else if (errno == ENOSYS)
        p->walk_only = 1;
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
    p->port.lock = px_lock;
    p->port.unlock = px_unlock;
    p->port.getperm = px_getperm;
    p->port.setperm = px_setperm;
    p->port.writable = px_writable;
    return 0;
}

void fsg_posix_close(struct fsg_posix *p)
{
    if (p->lock_fd >= 0)
        (void)px_unlock(p);
    if (p->root >= 0)
        close(p->root);
    p->root = -1;
}

/* ---- hashing on several cores (fsg_config.hash_files) ---- */

struct pool_run {
    struct fsg_posix_hasher *h;
    struct fsg_hash_job *jobs;
    size_t n;
    atomic_size_t next;
};

static void *pool_worker(void *arg)
{
    struct pool_run *run = arg;
    unsigned char buf[64 * 1024];
    size_t i;
    /* Each worker takes the next job until none is left: big and small
     * files balance themselves. */
    while ((i = atomic_fetch_add(&run->next, 1)) < run->n)
        (void)fsg_hash_job_run(&run->h->p->port, buf, sizeof buf, &run->jobs[i]);
    return NULL;
}

int fsg_posix_hash_files(void *ctx, struct fsg_hash_job *jobs, size_t n)
{
    struct fsg_posix_hasher *h = ctx;
    struct pool_run run = {h, jobs, n, 0};
    pthread_t tid[FSG_POSIX_MAX_THREADS];
    int threads = h->threads < 1 ? 1 : h->threads > FSG_POSIX_MAX_THREADS ? FSG_POSIX_MAX_THREADS
                                                                           : h->threads;
    int started = 0;

    if ((size_t)threads > n)
        threads = (int)n;
    /* The calling thread works too: threads - 1 helpers. */
    for (int t = 1; t < threads; t++) {
        if (pthread_create(&tid[started], NULL, pool_worker, &run) != 0)
            break; /* fewer helpers; the work still gets done */
        started++;
    }
    pool_worker(&run);
    for (int t = 0; t < started; t++)
        pthread_join(tid[t], NULL);
    return 0;
}

int fsg_posix_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > FSG_POSIX_MAX_THREADS ? FSG_POSIX_MAX_THREADS : (int)n;
}
