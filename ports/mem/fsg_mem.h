/*
 * fsg_mem.h -- an in-memory storage port that simulates power loss.
 *
 * A reference backend beside the library (as littlefs keeps its emulated
 * block devices): tests run fsguard over it, cut the power at any storage
 * operation, and look at what a real device would find after the reboot.
 *
 * Crash model. Storage holds what was made durable; everything else is
 * volatile until made durable, and a crash keeps only part of it:
 *  - File data: a write is volatile until the file is synced (port sync).
 *    At a crash, a file keeps its durable data plus, of the writes made
 *    since its last sync, a prefix chosen by the crash: none, some, or all,
 *    the last one kept possibly torn (only its first bytes).
 *  - Names: creating a file, renaming, removing and making a directory are
 *    volatile until their directory is synced (port syncdir). A rename is
 *    atomic: at a crash it has happened or not, never half. Of each
 *    directory's volatile name operations, a crash keeps a prefix, in the
 *    order they were made (as journaling file systems commit metadata);
 *    directories are independent of each other.
 *  - A file's data lives with the file, not the name: a rename keeps it,
 *    and a name kept by the crash shows whatever data of that file the
 *    crash kept (so a synced file renamed over a target, with the directory
 *    not yet synced, may or may not appear, but if it appears, it is whole).
 *  - A file's permission bits (setperm) are volatile until the file is
 *    synced: a crash before brings back the durable ones.
 *  - Nothing else survives a crash that was not synced.
 * Which prefixes a crash keeps is drawn from the seed given to
 * fsg_mem_crash, so a failing case replays exactly.
 *
 * The test's own hands (fsg_mem_put, ...) act durably at once.
 *
 * This is the one in-memory partition of the tests: the unit tests use it
 * through tests/support (memport.h), with faults and counters from the
 * wrapper port there.
 */
#ifndef FSG_MEM_H
#define FSG_MEM_H

#include "fsguard.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct fsg_mem;

/* A new, empty partition (its root directory exists); NULL if out of memory. */
struct fsg_mem *fsg_mem_new(void);
void fsg_mem_free(struct fsg_mem *m);
/* The port over it; valid until fsg_mem_free. */
const struct fsg_port *fsg_mem_port(struct fsg_mem *m);
/* A deep copy (both durable and volatile state). */
struct fsg_mem *fsg_mem_clone(const struct fsg_mem *m);

/* Whether path follows the port's path rules (fsguard.h): relative,
 * '/'-separated, no ".", ".." or empty components; "" (the root) only with
 * root_ok. The port refuses any other with FSG_ERR_INVAL. */
int fsg_mem_path_ok(const char *path, int root_ok);

/* ---- the test's hands: durable at once ---- */
/* Creates or replaces regular file path, creating missing parent
 * directories. Returns 0 or an FSG_ERR_*. */
int fsg_mem_put(struct fsg_mem *m, const char *path, const void *data, size_t len);
/* Content of regular file path as it is now (volatile state included),
 * NUL-terminated for convenience; NULL if path is not a regular file. */
const char *fsg_mem_get(const struct fsg_mem *m, const char *path, size_t *len);
/* enum fsg_type of the node at path now, or 0 if there is none. */
int fsg_mem_type(const struct fsg_mem *m, const char *path);
int fsg_mem_mkdir(struct fsg_mem *m, const char *path);           /* with parents */
int fsg_mem_symlink(struct fsg_mem *m, const char *path, const char *target);
/* A special file ("other": device, FIFO, ...) at path; open refuses it. */
int fsg_mem_special(struct fsg_mem *m, const char *path);
/* The target of the link at path, or NULL if path is not a link. */
const char *fsg_mem_link_target(const struct fsg_mem *m, const char *path);
int fsg_mem_remove(struct fsg_mem *m, const char *path);          /* a directory with its content */
/* Calls fn for every node now below the root, parents before children, each
 * directory's entries in byte order; path is relative ("a/b"). */
void fsg_mem_each(const struct fsg_mem *m, void (*fn)(void *arg, const char *path, int type),
                  void *arg);

/* Permission bits (the POSIX layout, 0 to 07777) of regular file path:
 * a new file gets 0644, fsg_mem_put keeps those of the file it replaces,
 * fsg_mem_chmod sets them (durably), and the port's setperm (struct
 * fsg_port version 3) changes them until the file's next sync makes it
 * durable (a crash before it brings back the durable bits). fsg_mem_perm
 * returns -1 if path is not a regular file. */
int fsg_mem_chmod(struct fsg_mem *m, const char *path, uint32_t perm);
long fsg_mem_perm(const struct fsg_mem *m, const char *path);
/* Total bytes of regular-file data the partition holds (the files it
 * names now, and those a handle holds open); a write beyond fails with
 * FSG_ERR_NOSPC, changing nothing. 0 (the default) means no limit. A clone
 * keeps it. */
void fsg_mem_set_capacity(struct fsg_mem *m, size_t bytes);

/* ---- power cuts ----
 * The port counts nothing and fails nothing by itself: faults, counters
 * and traces come from a wrapper port put over it (tests/support/
 * faultport.h). A power cut there is "every call from the n-th on fails
 * with FSG_ERR_IO and changes nothing", followed by fsg_mem_crash here. */
/* Power loss: open handles are dropped (a wrapper's handles over them are
 * dead too) and the partition becomes what the crash model keeps, drawn
 * from seed. What survives is durable. */
void fsg_mem_crash(struct fsg_mem *m, uint64_t seed);
/* Makes everything durable, as after a clean shutdown (no crash choices). */
void fsg_mem_sync_all(struct fsg_mem *m);

#ifdef __cplusplus
}
#endif
#endif
