/*
 * fsguard_posix.h -- a storage port over a POSIX directory.
 *
 * Every path is resolved from a descriptor of the partition's root
 * directory without following a symbolic link anywhere below it, so nothing
 * outside the directory is read or written through one: in one call where
 * Linux has openat2 (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), else one
 * component at a time with openat and O_NOFOLLOW.
 *
 * The port locks (fsg_port.lock) with flock(2) on the root directory
 * itself, opened afresh from the root descriptor (openat(root, ".",
 * O_RDONLY | O_DIRECTORY | O_NOFOLLOW)): no lock file, so a read-only
 * partition locks as well as a writable one, and no path is looked up, so
 * the lock is on the very directory every operation uses (a DIR given to
 * fsg_posix_open that is a symbolic link is resolved once, there, as for
 * everything else: the link and its target are the same lock). The kernel
 * releases a flock when its holder dies, so a crash leaves no stale lock.
 * The lock is advisory: it orders fsguard's calls (in any number of
 * processes) with each other, not with other programs writing the files.
 * One struct fsg_posix holds the lock at most once at a time: a second
 * call through it while one holds the lock (an open fsg_put, say) fails
 * with FSG_ERR_LOCKED at once.
 */
#ifndef FSGUARD_POSIX_H
#define FSGUARD_POSIX_H

#include "fsguard.h"

#ifdef __cplusplus
extern "C" {
#endif

struct fsg_posix {
    struct fsg_port port;   /* hand &port to struct fsg_config */
    int root;               /* descriptor of the root directory */
    int readonly;           /* refuses every write */
    int walk_only;          /* openat2 is unavailable (probed once, by
                               fsg_posix_open): paths are walked component
                               by component */
    int lock_fd;            /* the locked root description, or -1 */
};

/* Opens directory dir as a partition and fills p->port. With readonly set,
 * every writing callback fails with FSG_ERR_ROFS. Returns 0 or a negative
 * FSG_ERR_* (FSG_ERR_NOENT, FSG_ERR_NOTDIR, ...). */
int fsg_posix_open(struct fsg_posix *p, const char *dir, int readonly);

/* The process holding an flock on p's root directory, if another one does
 * and /proc/locks says which (Linux), else 0. For messages only: the
 * answer may be stale by the time it is read. */
long fsg_posix_lock_holder(const struct fsg_posix *p);

/* Releases the root descriptor (and the lock, if held). */
void fsg_posix_close(struct fsg_posix *p);

/* Maps an errno value to an FSG_ERR_* code. */
int fsg_posix_error(int errnum);

/* Hashing on several cores, for fsg_config.hash_files: set
 *     cfg.hash_files = fsg_posix_hash_files;
 *     cfg.hash_ctx = &hasher;     // struct fsg_posix_hasher {&usr, threads}
 * Threads read different files of the user partition at once, each through
 * its own 64 KiB buffer; what is done with the hashes stays in the caller's
 * thread, in order. */
#define FSG_POSIX_MAX_THREADS 16
struct fsg_posix_hasher {
    struct fsg_posix *p;    /* the user partition */
    int threads;            /* 1 hashes in the calling thread only */
};
int fsg_posix_hash_files(void *ctx, struct fsg_hash_job *jobs, size_t n);
/* The number of online processors, between 1 and FSG_POSIX_MAX_THREADS. */
int fsg_posix_cpus(void);

#ifdef __cplusplus
}
#endif
#endif
