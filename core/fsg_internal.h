/*
 * fsg_internal.h -- declarations shared by the core's source files (core/),
 * each section headed by the file that defines it. Nothing here is API; the
 * core includes only standard C headers and the JSON, CRC and crypto
 * libraries. The host side (host/) builds on these; its own declarations
 * are in host/fsg_host.h, which no core file includes.
 */
#ifndef FSG_INTERNAL_H
#define FSG_INTERNAL_H

#include "fsguard.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Keeps a function out of its caller, so that their stack frames stay
 * apart (make size's budget is per frame); only a hint elsewhere. */
#if defined(__GNUC__)
#define FSG_NOINLINE __attribute__((noinline))
#else
#define FSG_NOINLINE
#endif

#define FSG_DEFAULT_BUF 4096u
#define FSG_DEFAULT_MANIFEST_MAX (64ull << 20)
#define FSG_SWITCH_MAX 4096u        /* backup_restore.json is tiny */
#define FSG_MANIFEST_NAME "checksum.json"
#define FSG_SWITCH_NAME "backup_restore.json"
#define FSG_USR_PREFIX "/usr/"
#define FSG_USR_PREFIX_LEN 5
#define FSG_TMP_PREFIX "."
#define FSG_TMP_SUFFIX ".fsg-tmp"
/* The key of an entry's pending hash: an edit under way (fsg_put). Readers
 * that do not know it, QuecPython's included, ignore it. */
#define FSG_PENDING_KEY "fsg_pending"
/* FSG_NO_PERM leaves out permission bits (struct fsg_port getperm and
 * setperm), which the file systems of small devices do not keep. */
#ifdef FSG_NO_PERM
#define FSG_PERMS 0
#else
#define FSG_PERMS 1
#endif

/* The speed-ups for big tables on hosts: batch hashing through
 * cfg.hash_files, and a user table byte-identical to the backup's copied
 * instead of parsed. FSG_SMALL leaves them out. */
#ifdef FSG_SMALL
#define FSG_SPEEDUPS 0
#else
#define FSG_SPEEDUPS 1
#endif
/* The update staging area at the root of the user partition (fota.c). */
#define FSG_FOTA_DIR ".fsg-fota"

/* ---- the working context of one call (ctx.c) ---- */

/* Working context of one call: config, buffer, allocator. */
struct fsg_ctx {
    const struct fsg_config *cfg;
    const struct fsg_port *usr;
    const struct fsg_port *bak;
    unsigned char *buf;
    size_t buf_size;
    void *own_buf;              /* buf when the core allocated it */
    bool locked;                /* holds the user port's lock (fini drops it) */
};

/* Both ports, no lock. */
int fsg_ctx_init(struct fsg_ctx *c, const struct fsg_config *cfg);
/* As fsg_ctx_init, requiring only the ports named in need. */
#define FSG_NEED_USR 1u
#define FSG_NEED_BAK 2u
/* ... and holding the user port's lock for the call (until fsg_ctx_fini),
 * in this mode: readers SHARED, writers EXCLUSIVE. */
#define FSG_LOCK_SH 4u
#define FSG_LOCK_EX 8u
int fsg_ctx_open(struct fsg_ctx *c, const struct fsg_config *cfg, unsigned need);
void fsg_ctx_fini(struct fsg_ctx *c);
void *fsg_alloc(struct fsg_ctx *c, size_t size);
void *fsg_realloc(struct fsg_ctx *c, void *ptr, size_t size);
void fsg_free(struct fsg_ctx *c, void *ptr);
char *fsg_strdup(struct fsg_ctx *c, const char *s);
void fsg_emit(struct fsg_ctx *c, const struct fsg_event *ev);

/* Port call helpers: FSG_ERR_NOTSUP where the port lacks the callback. */
int fsg_port_remove(const struct fsg_port *p, const char *path);
/* What the port's writable callback predicts for a change of path: 0 when
 * it has none (struct fsg_port version 3). */
int fsg_port_writable(const struct fsg_port *p, const char *path);

/* ---- errors (error.c) ---- */

/* True for an error that says nothing about what a file is (an I/O error,
 * a port's passing trouble): such a read gets one more try before the file
 * counts as damaged. Missing, not regular, behind a link, malformed or too
 * big are answers, not trouble. */
bool fsg_err_transient(int err);
/* Makes call, and once more if its answer was passing trouble, leaving the
 * last answer in err: a good file, a legitimate edit or a table's hashes
 * among them, is never judged by one transient error. The one place of
 * that rule, for every read it covers. */
#define FSG_RETRY(err, call)                                                   \
    do {                                                                       \
        (err) = (call);                                                        \
        if (fsg_err_transient(err))                                            \
            (err) = (call);                                                    \
    } while (0)

/* ---- the sort (sort.c) ---- */

/* Sorts n items of size bytes at base by cmp, in place, allocating nothing
 * (a heapsort); base may be NULL for fewer than two. */
void fsg_sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *));

/* ---- hashes of a content (digest.c; the hex digit, crc.c) ---- */

/* The value of a hex digit of either case, or -1 (crc.c). */
int fsg_hex_digit(char ch);
/* Exactly 2*n hex digits at s into n bytes at out. */
bool fsg_hex_decode(const char *s, unsigned char *out, size_t n);
/* n bytes as 2*n lowercase hex digits and a NUL into out. */
void fsg_hex_encode(const unsigned char *b, size_t n, char *out);

/* The hashes of one content: kinds says which are set (enum fsg_hash_kind
 * bits). */
struct fsg_sum {
    uint32_t crc;
    unsigned char kinds;
    unsigned char sha[FSG_SHA256_LEN];
};

/* Running hashes of a stream: always the CRC-32 (cheap, and what reports
 * show), the SHA-256 too when asked for. */
struct fsg_hasher {
    uint32_t crc;
    unsigned kinds;
    uint64_t sha[16];   /* the SHA-256 state, opaque outside digest.c */
};
void fsg_hasher_init(struct fsg_hasher *h, unsigned kinds);
void fsg_hasher_update(struct fsg_hasher *h, const void *data, size_t len);
/* The sums of everything fed so far (kinds as asked, plus the CRC). */
void fsg_hasher_final(struct fsg_hasher *h, struct fsg_sum *out);
/* True if got holds every hash want carries (want carries at least one),
 * each equal. */
bool fsg_sum_match(const struct fsg_sum *want, const struct fsg_sum *got);
/* Drops from s the hashes not in kinds. */
void fsg_sum_keep(struct fsg_sum *s, unsigned kinds);
/* True if a and b carry the same kinds with the same values. */
bool fsg_sum_equal(const struct fsg_sum *a, const struct fsg_sum *b);

/* ---- the backup table's signature (sig.c) ---- */

/* Checks text (the backup checksum.json's bytes) against FSG_SIG_NAME in
 * the backup partition and c->cfg->pubkey. Returns enum fsg_signature;
 * *err is the read error behind FSG_SIG_UNREADABLE. */
int fsg_sig_check(struct fsg_ctx *c, const char *text, size_t len, int *err);

/* ---- names and paths (name.c) ---- */

/* Port path of name in the user partition ("a/b.py" for "/usr/a/b.py"). */
const char *fsg_usr_path(const char *name);
/* Builds "usr/a/b.py", the backup partition's path of name, into out. */
int fsg_bak_path(const char *name, char *out, size_t size);
/* Builds the temporary sibling of port path ("a/.b.py.fsg-tmp") into out. */
int fsg_tmp_path(const char *path, char *out, size_t size);
/* True if a directory entry's base name is one of fsguard's temporary names. */
bool fsg_is_tmp_name(const char *base);
/* Length of the directory part of a port path ("a" for "a/b"; 0 for "b"). */
size_t fsg_dir_len(const char *path);

#define FSG_PATH_BUF (FSG_NAME_MAX + 32)

/* ---- reading files through a port (file.c) ---- */

/* Stats and hashes a regular file: the CRC-32, and the kinds asked for.
 * Returns 0, or an error (FSG_ERR_NOENT, FSG_ERR_NOTREG for anything else
 * than a regular file, port errors). */
int fsg_hash_file(struct fsg_ctx *c, const struct fsg_port *port, const char *path,
                  unsigned kinds, struct fsg_sum *sum);
/* The same, also giving the number of bytes hashed. */
int fsg_hash_file_size(struct fsg_ctx *c, const struct fsg_port *port, const char *path,
                       unsigned kinds, struct fsg_sum *sum, uint64_t *size);
/* What a failed hash of a file (fsg_hash_file's error) says is wrong with
 * it: enum fsg_problem. */
int fsg_problem_of(int err);
/* Reads a whole small file into an allocated, NUL-terminated buffer. */
int fsg_read_small(struct fsg_ctx *c, const struct fsg_port *port, const char *path,
                   uint64_t max, char **out, size_t *len);

/* ---- changing the user partition crash-safely (atomic.c) ---- */

/* Syncs the directory holding path ("" for the root), making creations,
 * renames and removals in it durable; 0 where the port has no syncdir. */
int fsg_sync_parent(struct fsg_ctx *c, const struct fsg_port *p, const char *path);
/* Creates the parent directories of path in port, each synced into its
 * parent. */
int fsg_mkdirs(struct fsg_ctx *c, const struct fsg_port *p, const char *path);

/* Crash-safe replacement of a user file: begin creates the temporary file,
 * write appends, commit syncs, verifies, renames and syncs the directory;
 * abort removes the temporary file. */
struct fsg_atomic {
    struct fsg_ctx *c;
    const struct fsg_port *port;
    const char *path;
    char *tmp;                 /* the temporary file's path (allocated, so
                                  that no stack frame holds a path buffer);
                                  NULL once renamed or given up */
    bool renamed;              /* publish's rename took place */
    void *file;
    struct fsg_hasher h;       /* of the bytes written: the CRC-32 always,
                                  the SHA-256 if fsg_atomic_want asked */
#if FSG_PERMS
    const struct fsg_port *perm_port; /* whose file's permission bits the */
    const char *perm_path;            /* new one gets (fsg_atomic_perm) */
#endif
};
/* Whether the caller's cfg->cancelled asks to stop (struct fsg_config);
 * begin and write then fail with FSG_ERR_CANCELLED. */
bool fsg_cancelled(const struct fsg_ctx *c);
int fsg_atomic_begin(struct fsg_atomic *a, struct fsg_ctx *c, const struct fsg_port *port,
                     const char *path);
/* The permission bits the new file gets (on ports that keep them, struct
 * fsg_port version 3), always under FSG_PERM_MASK: those of file path in
 * port (after fsg_atomic_begin). Without this call, those of the file it
 * replaces (the port's default if it replaces none). */
#if FSG_PERMS
void fsg_atomic_perm(struct fsg_atomic *a, const struct fsg_port *port, const char *path);
#else
#define fsg_atomic_perm(a, port, path) ((void)(a), (void)(port), (void)(path))
#endif
/* Asks for the SHA-256 of the bytes written too; before the first write. */
void fsg_atomic_want(struct fsg_atomic *a, unsigned kinds);
int fsg_atomic_write(struct fsg_atomic *a, const void *data, size_t len);
/* The hashes of the bytes written so far. */
void fsg_atomic_sum(struct fsg_atomic *a, struct fsg_sum *out);
int fsg_atomic_commit(struct fsg_atomic *a);
/* fsg_atomic_commit in two steps: seal syncs, closes and verifies the
 * temporary file; publish renames it over the target and syncs the
 * directory. Both abort on failure. */
int fsg_atomic_seal(struct fsg_atomic *a);
int fsg_atomic_publish(struct fsg_atomic *a);
void fsg_atomic_abort(struct fsg_atomic *a);
/* Writes a whole small file (len bytes of data) crash-safely, as above. */
int fsg_write_small(struct fsg_ctx *c, const struct fsg_port *p, const char *path,
                    const void *data, size_t len);

/* ---- directories (dir.c) ---- */

/* Calls fn(arg, path, type) for every entry below directory root of port
 * ("" for the whole partition; paths are from the partition's root), each
 * directory's entries in byte order, without recursion and without
 * following links. Stops at fn's first non-zero return and returns it;
 * returns a listing error otherwise, or 0. */
int fsg_walk(struct fsg_ctx *c, const struct fsg_port *port, const char *root,
             int (*fn)(void *arg, const char *path, int type),
             int (*on_error)(void *arg, const char *dir, int err), void *arg);
/* on_error, when not NULL, hears of a directory that cannot be listed and
 * returns 0 to go on without it, or an error to stop the walk with. */

/* One directory's entries as its port lists them, sorted by name; each
 * string is the entry's type (one byte) followed by its name. */
struct fsg_dirlist {
    char **v;
    size_t n, cap;
};
#define FSG_DIRLIST_TYPE(l, i) ((int)(unsigned char)(l)->v[i][0])
#define FSG_DIRLIST_NAME(l, i) ((l)->v[i] + 1)
/* Lists directory dir of port into out (freed with fsg_dirlist_free even on
 * failure). Returns the port's error, or FSG_ERR_NOMEM. */
int fsg_list_dir(struct fsg_ctx *c, const struct fsg_port *port, const char *dir,
                 struct fsg_dirlist *out);
void fsg_dirlist_free(struct fsg_ctx *c, struct fsg_dirlist *l);
/* fsg_list_dir keeping only the entries keep(name, type) is true for. */
int fsg_list_dir_only(struct fsg_ctx *c, const struct fsg_port *port, const char *dir,
                      bool (*keep)(const char *name, int type), struct fsg_dirlist *out);
/* "dir/name" ("name" when dir is ""), allocated; NULL when out of memory. */
char *fsg_path_join(struct fsg_ctx *c, const char *dir, const char *name);

/* ---- tables: checksum.json (manifest.c) ---- */

struct fsg_entry {
    char *name;         /* device name; for a refused entry, its name string if any */
    char *raw;          /* refused entry: its JSON text, written back verbatim */
    char *extra;        /* valid entry: JSON object of the keys fsguard does not use */
    struct fsg_sum sum; /* valid entry: its hashes (kinds never 0) */
    struct fsg_sum *pend; /* not NULL: an edit was under way, "fsg_pending"
                           (and "fsg_pending_sha256") hold its hashes; kept
                           apart, as it is rare and tables can be large */
    bool valid;
    bool dropped;       /* superseded; not written back */
    unsigned char defect; /* refused entry: why (enum fsg_defect) */
};

struct fsg_manifest {
    struct fsg_entry *v;
    size_t n, cap;
    struct fsg_entry **index;   /* valid entries sorted by name (after fsg_manifest_index) */
    size_t nindex;
};

void fsg_manifest_free(struct fsg_ctx *c, struct fsg_manifest *m);
/* Sets e's pending hashes to *sum, or clears them (sum NULL). */
int fsg_entry_set_pending(struct fsg_ctx *c, struct fsg_entry *e, const struct fsg_sum *sum);
/* Reads and parses a manifest through port. Refused entries are reported as
 * events of source. On FSG_ERR_CORRUPT, *offset is where the JSON broke. */
int fsg_manifest_load(struct fsg_ctx *c, const struct fsg_port *port, int source,
                      struct fsg_manifest *m, uint64_t *offset);
/* Loads the backup manifest, indexed. With c->cfg->pubkey, its signature
 * is checked first (*sig: enum fsg_signature, *sig_err its read error) and
 * a bad one fails with FSG_ERR_SIGNATURE; sig and sig_err may be NULL.
 * With keep not NULL, a loaded table's text is handed over in *keep and
 * *keep_len (the caller frees it). */
int fsg_bak_load(struct fsg_ctx *c, struct fsg_manifest *m, uint64_t *offset, int *sig,
                 int *sig_err, char **keep, size_t *keep_len);
/* Makes m what fsg_manifest_parse would make of the text src was parsed
 * from (src indexed or not), reporting its refused entries as events of
 * source: a copy instead of a second parse of the same bytes. */
int fsg_manifest_clone(struct fsg_ctx *c, struct fsg_manifest *m, const struct fsg_manifest *src,
                       int source);
/* The kinds of hash new entries of m get: those the table already uses
 * (CRC-32 alone for an empty table). */
unsigned fsg_manifest_kinds(const struct fsg_manifest *m);
/* Parses JSON text (len bytes) into m. */
int fsg_manifest_parse(struct fsg_ctx *c, const char *text, size_t len, int source,
                       struct fsg_manifest *m, uint64_t *offset);
/* Sorts the valid entries by name and marks later duplicates refused. */
int fsg_manifest_index(struct fsg_ctx *c, struct fsg_manifest *m, int source);
struct fsg_entry *fsg_manifest_find(const struct fsg_manifest *m, const char *name);
/* Makes room for cap entries, so appends up to it do not move entries. */
int fsg_manifest_reserve(struct fsg_ctx *c, struct fsg_manifest *m, size_t cap);
/* Appends to m a copy of each usable entry of the backup manifest bak
 * (indexed), in bak's order. */
int fsg_manifest_seed(struct fsg_ctx *c, struct fsg_manifest *m, const struct fsg_manifest *bak);
/* Appends a copy of valid entry e. */
int fsg_manifest_append(struct fsg_ctx *c, struct fsg_manifest *m, const struct fsg_entry *e);
/* Bytes fsg_manifest_save would write for m. */
uint64_t fsg_manifest_size(struct fsg_ctx *c, const struct fsg_manifest *m);
/* Writes m as checksum.json at the root of port, crash-safely. */
int fsg_manifest_save(struct fsg_ctx *c, const struct fsg_port *port,
                      const struct fsg_manifest *m);
/* The same, at another path. */
int fsg_manifest_save_as(struct fsg_ctx *c, const struct fsg_port *port, const char *path,
                         const struct fsg_manifest *m);
/* The user table, loaded and indexed, by one of two rules for a table that
 * cannot be used: a missing one starts as the backup's under both; one
 * that is invalid (not JSON, too big, not a regular file) fails the call
 * under FSG_USR_STRICT (an edit must not build on it) and is started again
 * from the backup's under FSG_USR_REBUILD (boot repairs it). One that
 * cannot be read (fsg_err_transient) fails under both: it is not known to
 * be invalid, and rebuilding it would lose every recorded edit. *seeded
 * tells that the table was started from the backup's: it must be written. */
enum { FSG_USR_STRICT, FSG_USR_REBUILD };
/* What a caller that has the backup table already gives (from, NULL: it is
 * loaded if needed), and hears of why the user's was started again. */
struct fsg_usr_from {
    const struct fsg_manifest *bak; /* in: the backup table, indexed */
    char *bak_text;                 /* in: its bytes (allocated, freed here)
                                       or NULL; a user table of the same
                                       bytes is copied, not parsed */
    size_t bak_len;
    int error;                      /* out: the error of the table's read
                                       or parse, if any (when seeded: why;
                                       FSG_ERR_NOENT: missing) */
    uint64_t offset;                /* out, when seeded: where the JSON broke */
};
int fsg_usr_load(struct fsg_ctx *c, struct fsg_manifest *m, int rule, struct fsg_usr_from *from,
                 bool *seeded);
/* Puts valid backup entry be back into user table m, as boot does for an
 * entry m lost: m's refused entries of the same name are dropped (the
 * backup's replaces them) and a copy of be is appended. */
int fsg_manifest_put_back(struct fsg_ctx *c, struct fsg_manifest *m, const struct fsg_entry *be);
/* The user table as an edit sees it (fsg_usr_load, FSG_USR_STRICT), and
 * the valid entry of name in it, or, as boot would put it back, the backup
 * table's (fsg_manifest_put_back; m's index is then dropped). *changed
 * tells that m differs from the table stored: it must be written.
 * FSG_ERR_NOTPROTECTED when neither table lists name. */
int fsg_usr_entry(struct fsg_ctx *c, struct fsg_manifest *m, const char *name,
                  struct fsg_entry **out, bool *changed);

/* ---- the feature switch: backup_restore.json (switch.c) ---- */

/* Reads backup_restore.json; returns enum fsg_feature, *err the error behind BAD_SWITCH. */
int fsg_switch_read(struct fsg_ctx *c, int *err);

/* ---- updates (fota.c) ---- */

/* 1 if an update's journal is in the staging area (committed and
 * unfinished, or damaged: the next boot settles it), 0 if not, or the
 * error of the look. A build without FOTA has none. */
#ifndef FSG_NO_FOTA
int fsg_fota_journal(struct fsg_ctx *c);
#else
#define fsg_fota_journal(c) ((void)(c), 0)
#endif

/* Finishes, discards or abandons an update found in the staging area
 * (fota.c); with dry, only tells which (enum fsg_fota_state). */
int fsg_fota_recover(struct fsg_ctx *c, bool dry, int *state, unsigned long *files);

#endif
