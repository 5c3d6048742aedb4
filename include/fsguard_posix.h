/*
 * fsguard_posix.h -- a storage port over a POSIX directory.
 *
 * Every path is resolved from a descriptor of the partition's root
 * directory without following a symbolic link anywhere below it, so nothing
 * outside the directory is read or written through one: in one call where
 * Linux has openat2 (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), else one
 * component at a time with openat and O_NOFOLLOW.
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
};

/* Opens directory dir as a partition and fills p->port. With readonly set,
 * every writing callback fails with FSG_ERR_ROFS. Returns 0 or a negative
 * FSG_ERR_* (FSG_ERR_NOENT, FSG_ERR_NOTDIR, ...). */
int fsg_posix_open(struct fsg_posix *p, const char *dir, int readonly);

/* Releases the root descriptor. */
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
