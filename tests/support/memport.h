/*
 * memport.h -- the unit tests' in-memory partition and device fixture.
 *
 * A memport is the one in-memory store (ports/mem, fsg_mem.h) seen through
 * the wrapper port (faultport.h): the store holds directories, regular
 * files, symbolic links (a target string, never followed) and "other"
 * nodes (device, FIFO, ...) and has the crash model; the wrapper counts,
 * traces, checks paths and injects faults. memport_port gives the wrapped
 * port; mp->mem and mp->fp reach the two halves.
 *
 * The memport_* helpers below the port (put, get, mkdir, ...) are the test's
 * own hands: they act on the store directly, so they are never counted and
 * never fail by injection.
 *
 * Also here: the device fixture (mpdev_*), an event recorder (rec_*), a
 * failing allocator (mp_talloc), a data generator and hash helpers. None of
 * it needs libsodium or libdeflate (the CRC is the core's), so the smallest
 * core links with it.
 */
#ifndef MEMPORT_H
#define MEMPORT_H

#include "faultport.h"
#include "fsg_mem.h"
#include "fsguard.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct memport {
    struct fsg_mem *mem;        /* the store */
    struct faultport *fp;       /* the wrapper over its port */
};

/* Aborts when out of memory. */
struct memport *memport_new(void);
void memport_free(struct memport *mp);

/* The port to put in struct fsg_config (the wrapper). Copy it to drop
 * callbacks. */
static inline const struct fsg_port *memport_port(struct memport *mp)
{
    return faultport_port(mp->fp);
}

/* ---- the wrapper's settings, counters and faults (faultport.h) ---- */
static inline void memport_set_readonly(struct memport *mp, int readonly)
{
    faultport_set_readonly(mp->fp, readonly);
}
static inline void memport_set_read_max(struct memport *mp, size_t n)
{
    faultport_set_read_max(mp->fp, n);
}
static inline const struct fp_ops *memport_ops(const struct memport *mp)
{
    return faultport_ops(mp->fp);
}
static inline void memport_reset_ops(struct memport *mp)
{
    faultport_reset_ops(mp->fp);
}
static inline unsigned long memport_mutations(const struct memport *mp)
{
    return faultport_mutations(mp->fp);
}
static inline unsigned long memport_mutating_calls(const struct memport *mp)
{
    return faultport_mutating_calls(mp->fp);
}
static inline const char *memport_trace(const struct memport *mp)
{
    return faultport_trace(mp->fp);
}
static inline int memport_protocol_ok(const struct memport *mp)
{
    return faultport_protocol_ok(mp->fp);
}
static inline unsigned long memport_open_handles(const struct memport *mp)
{
    return faultport_open_handles(mp->fp);
}
static inline unsigned long memport_bad_paths(const struct memport *mp)
{
    return faultport_bad_paths(mp->fp);
}
static inline void memport_fail_at(struct memport *mp, unsigned long n, int err, int persistent)
{
    faultport_fail_at(mp->fp, n, err, persistent);
}
static inline void memport_fail_kind(struct memport *mp, int kind, unsigned long n, int err,
                                     int persistent)
{
    faultport_fail_kind(mp->fp, kind, n, err, persistent);
}
static inline void memport_corrupt_write(struct memport *mp, unsigned long n)
{
    faultport_corrupt_write(mp->fp, n);
}
static inline void memport_fail_clear(struct memport *mp)
{
    faultport_fail_clear(mp->fp);
}
static inline unsigned long memport_faults_hit(const struct memport *mp)
{
    return faultport_faults_hit(mp->fp);
}

/* ---- the store's properties and the test's hands (fsg_mem.h) ---- */
/* Total bytes of regular-file data allowed; a write beyond fails with
 * FSG_ERR_NOSPC. 0 means no limit. */
static inline void memport_set_capacity(struct memport *mp, size_t bytes)
{
    fsg_mem_set_capacity(mp->mem, bytes);
}
/* Creates or replaces regular file path with len bytes, creating missing
 * parent directories. Returns 0 or an FSG_ERR_* (a parent that is not a
 * directory, a directory at path). */
static inline int memport_put(struct memport *mp, const char *path, const void *data, size_t len)
{
    return fsg_mem_put(mp->mem, path, data, len);
}
static inline int memport_put_str(struct memport *mp, const char *path, const char *text)
{
    return fsg_mem_put(mp->mem, path, text, strlen(text));
}
/* Content of regular file path (NUL-terminated, *len its length; len may be
 * NULL), or NULL if path is not a regular file. Valid until the next change. */
static inline const char *memport_get(const struct memport *mp, const char *path, size_t *len)
{
    return fsg_mem_get(mp->mem, path, len);
}
/* Creates directory path and its missing parents. */
static inline int memport_mkdir(struct memport *mp, const char *path)
{
    return fsg_mem_mkdir(mp->mem, path);
}
/* Creates a symbolic link at path (parents created, a non-directory there
 * replaced) pointing to target. */
int memport_symlink(struct memport *mp, const char *path, const char *target);
/* Creates a special file ("other") at path (likewise). */
int memport_special(struct memport *mp, const char *path);
/* The node type at path (enum fsg_type), or 0 when it does not exist. */
static inline int memport_exists(const struct memport *mp, const char *path)
{
    return fsg_mem_type(mp->mem, path);
}
/* Target of the link at path, or NULL. */
static inline const char *memport_link_target(const struct memport *mp, const char *path)
{
    return fsg_mem_link_target(mp->mem, path);
}
/* Removes path, and everything under it for a directory. */
static inline int memport_remove(struct memport *mp, const char *path)
{
    return fsg_mem_remove(mp->mem, path);
}
/* Number of nodes whose name ends in ".fsg-tmp"; the first one's path (in
 * path order) is copied to first (size bytes) when first is not NULL. */
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

/* realloc that aborts when out of memory (size 0 allocates 1 byte). */
void *mp_xrealloc(void *p, size_t n);

/* n deterministic pseudo-random bytes from seed. */
void mp_fill(void *p, size_t n, uint32_t seed);

/* The hash of len bytes, and as QuecPython writes it. */
uint32_t mp_crc(const void *data, size_t len);
const char *mp_hash_str(const void *data, size_t len, char out[FSG_HASH_STRLEN]);

#endif
