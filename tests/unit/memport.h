/*
 * memport.h -- an in-memory storage port (struct fsg_port) for the unit
 * tests, with fault injection and operation counters, plus a small device
 * fixture (a user and a backup partition wired into a struct fsg_config).
 *
 * The tree holds directories, regular files, symbolic links (a target
 * string, never followed: walking through one fails with FSG_ERR_LOOP) and
 * "other" nodes (device, FIFO, ...). Paths follow the port's rules: relative
 * to the root, '/'-separated, no ".", "..", or empty components; "" is the
 * root, accepted only by syncdir and list. A path breaking these rules
 * fails with FSG_ERR_INVAL and is counted in bad_paths, so a test can assert
 * the core never produced one.
 *
 * The memport_* helpers below the port (put, get, mkdir, ...) are the test's
 * own hands: they are not storage operations, are never counted and never
 * fail by injection.
 */
#ifndef MEMPORT_H
#define MEMPORT_H

#include "fsguard.h"

#include <stddef.h>
#include <stdint.h>

/* Kinds of callback call, for counters and targeted faults. open() counts
 * as MP_OP_OPEN in FSG_OPEN_READ mode, as MP_OP_CREATE in FSG_OPEN_CREATE. */
enum mp_op {
    MP_OP_ANY = -1,
    MP_OP_OPEN = 0,
    MP_OP_CREATE,
    MP_OP_READ,
    MP_OP_WRITE,
    MP_OP_SYNC,
    MP_OP_CLOSE,
    MP_OP_STAT,
    MP_OP_REMOVE,
    MP_OP_RENAME,
    MP_OP_MKDIR,
    MP_OP_SYNCDIR,
    MP_OP_LIST,
    MP_OP_COUNT
};

struct memport_ops {
    unsigned long total;               /* every callback call */
    unsigned long calls[MP_OP_COUNT];  /* calls by kind, failed ones included */
    /* Mutations that took effect (successful calls only). */
    unsigned long creates, writes, renames, removes, mkdirs;
};

struct memport;

struct memport *memport_new(void);
void memport_free(struct memport *mp);
/* The port to put in struct fsg_config. Copy it to drop callbacks. */
const struct fsg_port *memport_port(struct memport *mp);

/* With readonly set, every writing call (create, write, remove, rename,
 * mkdir, syncdir) fails with FSG_ERR_ROFS. */
void memport_set_readonly(struct memport *mp, int readonly);
/* Total bytes of regular-file data allowed; a write beyond fails with
 * FSG_ERR_NOSPC. 0 means no limit. */
void memport_set_capacity(struct memport *mp, size_t bytes);

/* Every read returns at most n bytes (short reads, as some file systems
 * give); 0 means no limit. */
void memport_set_read_max(struct memport *mp, size_t n);

/* ---- counters ---- */
const struct memport_ops *memport_ops(const struct memport *mp);
void memport_reset_ops(struct memport *mp);
/* creates + writes + renames + removes + mkdirs that took effect. */
unsigned long memport_mutations(const struct memport *mp);
/* Calls of mutating kinds (create, write, rename, remove, mkdir), failed
 * ones included: 0 means nothing even tried to write. */
unsigned long memport_mutating_calls(const struct memport *mp);
/* The mutations and syncs that took effect since the last reset, one line
 * each: "create P", "write P N", "sync P", "rename P Q", "remove P",
 * "mkdir P", "syncdir P" (P empty for the root). */
const char *memport_trace(const struct memport *mp);
/* Checks the crash-safe write protocol in the trace: every rename moves a
 * file synced after its last write and is followed by a sync of the
 * target's directory (before the next create or rename); every new
 * directory is synced into its parent before anything else is created.
 * Prints what breaks it to stderr; returns 1 if nothing does. */
int memport_protocol_ok(const struct memport *mp);
/* File handles currently open (a leak check: 0 after every core call). */
unsigned long memport_open_handles(const struct memport *mp);
/* Calls that received an invalid path. */
unsigned long memport_bad_paths(const struct memport *mp);

/* ---- fault injection ---- */
/* The n-th callback call from now (n >= 1, every kind counted) fails with
 * err; with persistent, so does every call after it. Replaces any earlier
 * fault. A failed call changes nothing (close still releases its handle). */
void memport_fail_at(struct memport *mp, unsigned long n, int err, int persistent);
/* The same, counting only calls of one kind (enum mp_op). */
void memport_fail_kind(struct memport *mp, int kind, unsigned long n, int err, int persistent);
/* The n-th write call from now (n >= 1) succeeds but stores its data with
 * one bit flipped: silent corruption that only a read-back can see. */
void memport_corrupt_write(struct memport *mp, unsigned long n);
/* Disarms both kinds of fault. */
void memport_fail_clear(struct memport *mp);
/* Calls failed by injection so far. */
unsigned long memport_faults_hit(const struct memport *mp);

/* ---- the test's hands (not counted, never faulted) ---- */
/* Creates or replaces regular file path with len bytes, creating missing
 * parent directories. Returns 0 or an FSG_ERR_* (a parent that is not a
 * directory, a directory at path). */
int memport_put(struct memport *mp, const char *path, const void *data, size_t len);
int memport_put_str(struct memport *mp, const char *path, const char *text);
/* Content of regular file path (NUL-terminated, *len its length; len may be
 * NULL), or NULL if path is not a regular file. Valid until the next change. */
const char *memport_get(const struct memport *mp, const char *path, size_t *len);
/* Creates directory path and its missing parents. */
int memport_mkdir(struct memport *mp, const char *path);
/* Creates a symbolic link at path (parents created) pointing to target. */
int memport_symlink(struct memport *mp, const char *path, const char *target);
/* Creates a special file ("other") at path (parents created). */
int memport_special(struct memport *mp, const char *path);
/* The node type at path (enum fsg_type), or 0 when it does not exist. */
int memport_exists(const struct memport *mp, const char *path);
/* Target of the link at path, or NULL. */
const char *memport_link_target(const struct memport *mp, const char *path);
/* Removes path, and everything under it for a directory. */
int memport_remove(struct memport *mp, const char *path);
/* Number of nodes whose name ends in ".fsg-tmp"; the first one's path is
 * copied to first (size bytes) when first is not NULL. */
unsigned long memport_count_temps(const struct memport *mp, char *first, size_t size);
/* A description of the whole tree, one line per node in path order (type,
 * path, size and CRC of files, link targets). Caller frees. */
char *memport_dump(const struct memport *mp);

/* ------------------------------------------------------------------------ */
/* Device fixture: a user and a backup partition and a config using them.  */

struct mp_event {
    int kind;
    char *name;                 /* copy of ev->name, or NULL */
    int status, problem, failure, error;
    uint32_t expected, actual, recorded;
    int has_actual, entry_added, hash_only;
    int source;
    unsigned long index;
    int defect;
};

struct mp_device {
    struct memport *usr, *bak;
    struct fsg_config cfg;
    int record;                 /* record events (default 1) */
    struct mp_event *ev;
    size_t nev, evcap;
    char *man;                  /* manifest text built by mpdev_add */
    size_t manlen, mancap;
};

/* A device with backup_restore.json {"enable": 1} and no files. */
void mpdev_init(struct mp_device *d);
void mpdev_free(struct mp_device *d);
/* Places a protected file's factory copy in the backup and the same content
 * in the user partition (name as on the device, "/usr/..."); aborts if it
 * cannot. */
void mpdev_place(struct mp_device *d, const char *name, const void *data, size_t len);
/* mpdev_place, and an entry in the manifest being built. */
void mpdev_add(struct mp_device *d, const char *name, const void *data, size_t len);
void mpdev_add_str(struct mp_device *d, const char *name, const char *text);
/* Writes the manifest built so far as checksum.json of both partitions. */
void mpdev_save(struct mp_device *d);
/* Forgets recorded events and resets both ports' counters. */
void mpdev_reset(struct mp_device *d);
/* mpdev_reset, then fsg_boot. */
int mpdev_boot(struct mp_device *d, int flags, struct fsg_report *r);
/* The first recorded event of kind with this name (NULL matches a NULL
 * name), or NULL. */
const struct mp_event *mpdev_event(const struct mp_device *d, int kind, const char *name);
/* The first ENTRY event of source with this index, or NULL. */
const struct mp_event *mpdev_entry_event(const struct mp_device *d, int source,
                                         unsigned long index);
size_t mpdev_count(const struct mp_device *d, int kind);
/* Looks name up in the user partition's checksum.json. Returns 1 and sets
 * *crc when found with a parseable crc32, 0 when absent, -1 when the
 * manifest is missing or not a JSON array. */
int mpdev_usr_crc(const struct mp_device *d, const char *name, uint32_t *crc);

/* An allocator (fsg_alloc_fn, ctx a struct mp_talloc) whose fail_at-th
 * allocation fails (0: none), counting calls, the blocks still live and the
 * largest size asked for. */
struct mp_talloc {
    unsigned long calls, fail_at;
    long live;
    size_t largest;
};
void *mp_talloc_fn(void *ctx, void *ptr, size_t size);

/* Parses the JSON table at path of mp and calls fn(arg, entry) for each
 * entry named name, in order, until fn returns non-zero. Returns that
 * value, 0 when no call returned non-zero, -1 when the file is missing or
 * not a JSON array. */
struct cJSON;
int memport_table_find(const struct memport *mp, const char *path, const char *name,
                       int (*fn)(void *arg, const struct cJSON *entry), void *arg);

/* ---- events recorded as they come (for any fsg_config or fsg_pack) ---- */
/* Each event is copied whole, its name duplicated; clear frees them. */
struct rec {
    struct fsg_event *v;
    size_t n, cap;
};
void rec_on_event(void *ctx, const struct fsg_event *ev);
void rec_clear(struct rec *r);
size_t rec_count(const struct rec *r, int kind);
/* The first event of kind with this name, or NULL. */
const struct fsg_event *rec_find(const struct rec *r, int kind, const char *name);

/* n deterministic pseudo-random bytes from seed. */
void mp_fill(void *p, size_t n, uint32_t seed);

/* The hash of len bytes, and as QuecPython writes it. */
uint32_t mp_crc(const void *data, size_t len);
const char *mp_hash_str(const void *data, size_t len, char out[FSG_HASH_STRLEN]);

#endif
