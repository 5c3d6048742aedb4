/*
 * vendor_fs_host.c -- vendor_fs.h over a host directory, for building and
 * testing the example port on Linux. Not part of the example: on a device
 * the vendor's SDK provides these functions.
 */
#define _POSIX_C_SOURCE 200809L
#include "vendor_fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[VFS_PATH_MAX];
static DIR *dirs[16];

static int err(void)
{
    switch (errno) {
    case ENOENT: return VFS_ERR_NOENT;
    case EEXIST: return VFS_ERR_EXIST;
    case ENOTDIR: return VFS_ERR_NOTDIR;
    case EISDIR: return VFS_ERR_ISDIR;
    case ENOSPC: return VFS_ERR_NOSPC;
    case ENAMETOOLONG: return VFS_ERR_NAMETOOLONG;
    case ENOTEMPTY: return VFS_ERR_NOTEMPTY;
    case EINVAL: return VFS_ERR_INVAL;
    default: return VFS_ERR_IO;
    }
}

static const char *host(const char *path, char *out)
{
    if (path[0] != '/' || (size_t)snprintf(out, VFS_PATH_MAX, "%s%s", root, path) >= VFS_PATH_MAX)
        return NULL;
    return out;
}

/* Like littlefs: a metadata change is durable once the call returns. */
static int commit(const char *hostpath)
{
    char dir[VFS_PATH_MAX];
    snprintf(dir, sizeof dir, "%s", hostpath);
    char *slash = strrchr(dir, '/');
    if (slash != NULL)
        *slash = '\0';
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return err();
    int r = fsync(fd);
    close(fd);
    return r < 0 ? err() : 0;
}

int vfs_host_mount(const char *dir)
{
    return (size_t)snprintf(root, sizeof root, "%s", dir) < sizeof root ? 0 : VFS_ERR_NAMETOOLONG;
}

int vfs_open(const char *path, int flags)
{
    char h[VFS_PATH_MAX];
    if (host(path, h) == NULL)
        return VFS_ERR_INVAL;
    int f = (flags & VFS_WRONLY) ? O_WRONLY : O_RDONLY;
    if (flags & VFS_CREAT)
        f |= O_CREAT;
    if (flags & VFS_EXCL)
        f |= O_EXCL;
    int fd = open(h, f | O_NOFOLLOW, 0644);
    if (fd < 0)
        return err();
    if ((flags & VFS_CREAT) && commit(h) < 0) {
        close(fd);
        return VFS_ERR_IO;
    }
    return fd;
}

int vfs_read(int fd, void *buf, size_t size)
{
    ssize_t n = read(fd, buf, size);
    return n < 0 ? err() : (int)n;
}

int vfs_write(int fd, const void *buf, size_t size)
{
    ssize_t n = write(fd, buf, size);
    return n < 0 ? err() : (int)n;
}

int vfs_fsync(int fd)
{
    return fsync(fd) < 0 ? err() : 0;
}

int vfs_close(int fd)
{
    return close(fd) < 0 ? err() : 0;
}

int vfs_stat(const char *path, struct vfs_info *info)
{
    char h[VFS_PATH_MAX];
    struct stat st;
    if (host(path, h) == NULL)
        return VFS_ERR_INVAL;
    if (lstat(h, &st) < 0)
        return err();
    info->type = S_ISDIR(st.st_mode) ? VFS_TYPE_DIR : VFS_TYPE_REG;
    info->size = (uint32_t)st.st_size;
    const char *base = strrchr(path, '/');
    snprintf(info->name, sizeof info->name, "%s", base != NULL ? base + 1 : path);
    return 0;
}

int vfs_remove(const char *path)
{
    char h[VFS_PATH_MAX];
    struct stat st;
    if (host(path, h) == NULL)
        return VFS_ERR_INVAL;
    if (lstat(h, &st) < 0)
        return err();
    if ((S_ISDIR(st.st_mode) ? rmdir(h) : unlink(h)) < 0)
        return err();
    return commit(h);
}

int vfs_rename(const char *from, const char *to)
{
    char a[VFS_PATH_MAX], b[VFS_PATH_MAX];
    if (host(from, a) == NULL || host(to, b) == NULL)
        return VFS_ERR_INVAL;
    if (rename(a, b) < 0)
        return err();
    int r = commit(b);
    return r < 0 ? r : commit(a);
}

int vfs_mkdir(const char *path)
{
    char h[VFS_PATH_MAX];
    if (host(path, h) == NULL)
        return VFS_ERR_INVAL;
    if (mkdir(h, 0755) < 0)
        return err();
    return commit(h);
}

int vfs_dir_open(const char *path)
{
    char h[VFS_PATH_MAX];
    if (host(path, h) == NULL)
        return VFS_ERR_INVAL;
    for (int i = 0; i < 16; i++) {
        if (dirs[i] == NULL) {
            dirs[i] = opendir(h);
            return dirs[i] != NULL ? i : err();
        }
    }
    return VFS_ERR_NOMEM;
}

int vfs_dir_read(int dir, struct vfs_info *info)
{
    struct dirent *de;
    errno = 0;
    if (dir < 0 || dir >= 16 || dirs[dir] == NULL)
        return VFS_ERR_INVAL;
    if ((de = readdir(dirs[dir])) == NULL)
        return errno != 0 ? err() : 0;
    struct stat st;
    info->type = fstatat(dirfd(dirs[dir]), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                         S_ISDIR(st.st_mode)
                     ? VFS_TYPE_DIR
                     : VFS_TYPE_REG;
    info->size = (uint32_t)st.st_size;
    snprintf(info->name, sizeof info->name, "%s", de->d_name);
    return 1;
}

int vfs_dir_close(int dir)
{
    if (dir < 0 || dir >= 16 || dirs[dir] == NULL)
        return VFS_ERR_INVAL;
    closedir(dirs[dir]);
    dirs[dir] = NULL;
    return 0;
}
