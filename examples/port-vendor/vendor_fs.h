/*
 * vendor_fs.h -- a stand-in for a module vendor's file-system SDK, the
 * kind of API a firmware engineer writes an fsguard port against. Its
 * shape and its guarantees follow littlefs, the file system QuecPython
 * runs on: paths are absolute ("/usr/app/main.py"), there are no links,
 * rename replaces an existing file atomically, and every metadata change
 * (create, rename, remove, mkdir) is committed when the call returns.
 *
 * On the device this header comes from the vendor. Here vendor_fs_host.c
 * implements it over a host directory, so that the example port
 * (fsg_port_vendor.c) is built and tested like the rest of fsguard.
 */
#ifndef VENDOR_FS_H
#define VENDOR_FS_H

#include <stddef.h>
#include <stdint.h>

/* Errors: negative, as vendor SDKs usually have them. */
enum {
    VFS_OK = 0,
    VFS_ERR_IO = -5,
    VFS_ERR_NOENT = -2,
    VFS_ERR_EXIST = -17,
    VFS_ERR_NOTDIR = -20,
    VFS_ERR_ISDIR = -21,
    VFS_ERR_INVAL = -22,
    VFS_ERR_NOSPC = -28,
    VFS_ERR_NAMETOOLONG = -36,
    VFS_ERR_NOTEMPTY = -39,
    VFS_ERR_NOMEM = -12
};

#define VFS_RDONLY 1
#define VFS_WRONLY 2
#define VFS_CREAT 0x100
#define VFS_EXCL 0x200

#define VFS_TYPE_REG 1
#define VFS_TYPE_DIR 2
#define VFS_NAME_MAX 255
#define VFS_PATH_MAX 1024

struct vfs_info {
    int type;               /* VFS_TYPE_REG or VFS_TYPE_DIR */
    uint32_t size;
    char name[VFS_NAME_MAX + 1];
};

int vfs_open(const char *path, int flags);               /* a handle >= 0 */
int vfs_read(int fd, void *buf, size_t size);            /* bytes, 0 at the end */
int vfs_write(int fd, const void *buf, size_t size);     /* bytes written */
int vfs_fsync(int fd);
int vfs_close(int fd);
int vfs_stat(const char *path, struct vfs_info *info);
int vfs_remove(const char *path);                        /* a file or an empty directory */
int vfs_rename(const char *from, const char *to);        /* replaces a file at to */
int vfs_mkdir(const char *path);
int vfs_dir_open(const char *path);                      /* a handle >= 0 */
int vfs_dir_read(int dir, struct vfs_info *info);        /* 1 an entry, 0 the end */
int vfs_dir_close(int dir);

/* Host only: the directory standing for "/". */
int vfs_host_mount(const char *dir);

#endif
