/*
 * fsguard.h -- the whole public API of libfsguard, and its manual.
 *
 * fsguard keeps the protected files of a device's writable user partition
 * (mounted at /usr) alive, using the factory copies held in a read-only
 * backup partition (mounted at /bak), exactly as QuecPython's dual file
 * system backup/restore does, and in its file formats:
 *
 *   /bak/backup_restore.json   {"enable": 1}          feature switch
 *   /bak/checksum.json         [{"name": "/usr/a.py", "crc32": "0x1c291ca3"}, ...]
 *   /bak/usr/a.py              factory copy of /usr/a.py
 *   /usr/checksum.json         the same table, kept up to date on the device
 *
 * Hashes are zlib's crc32() started from 0xFFFFFFFF instead of 0 (Python's
 * binascii.crc32(data, 0xFFFFFFFF)), written as Python's hex(): "0x" and
 * lowercase hex digits without zero padding. Values are compared numerically.
 *
 * The library does no I/O of its own: every file operation goes through a
 * storage port (struct fsg_port), one for each partition. A POSIX port over
 * a directory (one for each partition) ships in fsguard_posix.h.
 *
 * Every change fsguard makes to the user partition is crash-safe: it writes
 * a temporary file in the same directory, syncs it, renames it over the
 * target and syncs the directory. The backup partition is only ever read.
 *
 * Concurrency: with a user partition port that has lock and unlock
 * (struct fsg_port), every call that writes the user partition holds its
 * lock exclusively for its whole run, and every call that only reads it
 * holds it shared, so that two calls (two tasks, two processes) never
 * interleave their changes or touch each other's temporary files. A call
 * that cannot get the lock within cfg->lock_wait_ms fails with
 * FSG_ERR_LOCKED, having read and written nothing.
 *
 * Error convention: functions return 0 (or a non-negative value) on success
 * and a negative FSG_ERR_* code on failure. Errors returned by a port pass
 * through unchanged. Normal outcomes (a damaged file, a restore) are not
 * errors: they are reported through events and struct fsg_report.
 */
#ifndef FSGUARD_H
#define FSGUARD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FSG_VERSION "0.1.0"

/* ------------------------------------------------------------------------ */
/* Errors: negative errno values (Linux numbering) plus fsguard's own.     */

enum fsg_error {
    FSG_OK              = 0,
    FSG_ERR_NOENT       = -2,    /* no such file or directory */
    FSG_ERR_IO          = -5,    /* input/output error */
    FSG_ERR_LOCKED      = -11,   /* device busy: another operation holds the
                                    user partition's lock (fsg_port.lock) */
    FSG_ERR_NOMEM       = -12,   /* out of memory */
    FSG_ERR_ACCES       = -13,   /* permission denied */
    FSG_ERR_BUSY        = -16,   /* an update is committed but unfinished
                                    (not a lock: that is FSG_ERR_LOCKED) */
    FSG_ERR_EXIST       = -17,   /* file exists */
    FSG_ERR_NOTDIR      = -20,   /* a path component is not a directory */
    FSG_ERR_ISDIR       = -21,   /* is a directory */
    FSG_ERR_INVAL       = -22,   /* invalid argument */
    FSG_ERR_FBIG        = -27,   /* file too large */
    FSG_ERR_NOSPC       = -28,   /* no space left on device */
    FSG_ERR_ROFS        = -30,   /* read-only file system */
    FSG_ERR_NAMETOOLONG = -36,   /* file name too long */
    FSG_ERR_LOOP        = -40,   /* a path component is a symbolic link */
    FSG_ERR_NOTSUP      = -95,   /* operation not supported by the port (or,
                                    for signatures, by an FSG_NO_CRYPTO build) */
    FSG_ERR_CORRUPT     = -200,  /* malformed content (JSON, hash, format) */
    FSG_ERR_NOTREG      = -201,  /* not a regular file (symlink, device, ...) */
    FSG_ERR_BADNAME     = -202,  /* not a valid protected-file name */
    FSG_ERR_NOTPROTECTED= -203,  /* the file has no entry in checksum.json */
    FSG_ERR_MISMATCH    = -204,  /* data read back differs from data written */
    FSG_ERR_SIGNATURE   = -205,  /* the backup checksum.json's signature is
                                    missing or wrong (see report->signature) */
    FSG_ERR_CANCELLED   = -206   /* the caller's cancelled() said stop */
};

/* A short English description of an FSG_ERR_* code ("no space left on
 * device"). Never returns NULL. */
const char *fsg_strerror(int err);

/* ------------------------------------------------------------------------ */
/* CRC-32 as QuecPython computes it.                                        */

#define FSG_CRC_INIT 0xFFFFFFFFu   /* the seed QuecPython starts from */

/* Updates a running CRC with len bytes, zlib-style. Start from FSG_CRC_INIT
 * and feed the file chunk by chunk:
 *
 *     uint32_t crc = FSG_CRC_INIT;
 *     while ((n = read(buf, sizeof buf)) > 0)
 *         crc = fsg_crc32(crc, buf, n);
 *
 * "123456789" gives 0xd202d277; the empty file gives 0xffffffff. */
uint32_t fsg_crc32(uint32_t crc, const void *buf, size_t len);

/* Built with FSG_CRC_HOOK (CMake -DFSG_CRC=hook), fsg_crc32 calls this
 * function, which the firmware provides (a hardware CRC unit): the same
 * contract as zlib's crc32(crc, buf, len), len never 0. */
uint32_t fsg_crc32_hw(uint32_t crc, const void *buf, size_t len);

/* Room for the longest hash string: "0xffffffff" and a NUL. */
#define FSG_HASH_STRLEN 11

/* Writes crc as QuecPython stores it ("0x" + lowercase hex, no padding) into
 * out, which must hold FSG_HASH_STRLEN bytes. Returns out. */
char *fsg_hash_format(uint32_t crc, char out[FSG_HASH_STRLEN]);

/* Parses a stored hash string: optional "0x"/"0X", 1 or more hex digits of
 * either case, leading zeros allowed, value at most 0xffffffff. Returns 0, or
 * FSG_ERR_CORRUPT when the string is not such a hash. */
int fsg_hash_parse(const char *s, uint32_t *crc);

/* Strong hashes. Early QuecPython firmware stored {"name": ..., "sha256":
 * "<64 lowercase hex>"}; an entry may carry "crc32", "sha256" or both, and
 * every hash it carries must match. */
enum fsg_hash_kind {
    FSG_HASH_CRC32  = 1,
    FSG_HASH_SHA256 = 2
};
#define FSG_SHA256_LEN 32
#define FSG_SHA256_STRLEN 65      /* 64 hex digits and a NUL */

/* Writes a SHA-256 as 64 lowercase hex digits into out. Returns out. */
char *fsg_sha256_format(const unsigned char sha[FSG_SHA256_LEN], char out[FSG_SHA256_STRLEN]);
/* Parses exactly 64 hex digits (either case). Returns 0, or FSG_ERR_CORRUPT. */
int fsg_sha256_parse(const char *s, unsigned char sha[FSG_SHA256_LEN]);

/* ------------------------------------------------------------------------ */
/* Names.                                                                   */

/* Limits on protected-file names ("/usr/a/b.py"). Longer names are refused
 * so that every name, and its temporary sibling, fits littlefs's and most
 * file systems' limits. */
#define FSG_NAME_MAX     512   /* whole device name, in bytes */
#define FSG_SEGMENT_MAX  240   /* one path component, in bytes */

/* Why a manifest entry or a name was refused. */
enum fsg_defect {
    FSG_DEFECT_NONE = 0,
    FSG_DEFECT_NOT_OBJECT,     /* entry is not a JSON object */
    FSG_DEFECT_DUP_KEY,        /* a key appears twice in the entry */
    FSG_DEFECT_NO_NAME,        /* no "name" key */
    FSG_DEFECT_NAME_TYPE,      /* "name" is not a string */
    FSG_DEFECT_NAME_OUTSIDE,   /* name does not start with "/usr/" */
    FSG_DEFECT_NAME_DOTS,      /* a "." or ".." component */
    FSG_DEFECT_NAME_EMPTY,     /* an empty component ("//", trailing "/") */
    FSG_DEFECT_NAME_LONG,      /* longer than FSG_NAME_MAX or FSG_SEGMENT_MAX */
    FSG_DEFECT_NAME_CHARS,     /* a control character, backslash, invalid UTF-8,
                                  or a \u escape of half a surrogate pair */
    FSG_DEFECT_NAME_RESERVED,  /* checksum.json itself, or a temporary name */
    FSG_DEFECT_NO_HASH,        /* neither a "crc32" nor a "sha256" key */
    FSG_DEFECT_HASH_TYPE,      /* "crc32" or "sha256" is not a string */
    FSG_DEFECT_HASH_BAD,       /* "crc32" is not a hex value of 32 bits, or
                                  "sha256" not 64 hex digits */
    FSG_DEFECT_DUPLICATE,      /* an earlier entry has the same name */
    FSG_DEFECT_PENDING_BAD,    /* "fsg_pending" or "fsg_pending_sha256" is
                                  malformed, or they do not carry the same
                                  kinds of hash as the entry */
    FSG_DEFECT_HASH_UNSUPPORTED /* a "sha256" hash, and this build has no
                                  SHA-256 (FSG_NO_CRYPTO): it checks CRC-32 only */
};

/* A short English description of a defect ("name is not under /usr/"). */
const char *fsg_defect_str(int defect);

/* Checks a device name of a protected file ("/usr/a/b.py"). Returns
 * FSG_DEFECT_NONE or the reason it cannot be a protected file. */
int fsg_name_check(const char *name);

/* ------------------------------------------------------------------------ */
/* The storage port.                                                        */

/* 2 added the optional lock and unlock callbacks at the end of struct
 * fsg_port, 3 the optional getperm, setperm and writable after them. The
 * core still accepts a port of version 1 or 2 (built against the older,
 * shorter struct): it reads no callback from it that its version lacks.
 * Source written for an older version that zero-initialises the struct (or
 * uses designated initialisers) builds unchanged and gets NULL callbacks:
 * no locking, no permission bits, no write prediction. */
#define FSG_PORT_VERSION 3

/* The permission bits fsguard gives every file it writes, on a port that
 * keeps them: those of its source (the backup copy for a restore, the
 * tree's file for pack) or of the file it replaces (an edit, an update, a
 * table), without set-user-ID, set-group-ID, sticky and world-write
 * (docs/SECURITY.md). */
#define FSG_PERM_MASK 0775u

/* Lock modes (fsg_port.lock). Every call that writes the user partition
 * (fsg_boot, fsg_calc, an fsg_put from begin to commit or abort, an
 * fsg_fota from begin to commit or abort) holds it EXCLUSIVE for its whole
 * run; readers (fsg_boot with FSG_DRY_RUN, fsg_inspect of the user
 * partition, fsg_fota_status) hold it SHARED. */
enum fsg_lock_mode {
    FSG_LOCK_SHARED    = 1,
    FSG_LOCK_EXCLUSIVE = 2
};

/* Kinds of directory entry, as reported by stat and list. */
enum fsg_type {
    FSG_TYPE_REG   = 1,   /* regular file */
    FSG_TYPE_DIR   = 2,   /* directory */
    FSG_TYPE_LINK  = 3,   /* symbolic link (never followed) */
    FSG_TYPE_OTHER = 4    /* device, FIFO, socket, ... */
};

struct fsg_stat {
    int type;             /* enum fsg_type */
    uint64_t size;        /* bytes, for regular files */
};

/* Open modes. */
enum fsg_open_mode {
    FSG_OPEN_READ   = 1,  /* existing regular file, read only */
    FSG_OPEN_CREATE = 2   /* new file, write only; FSG_ERR_EXIST if the name exists */
};

/*
 * One partition, as a set of callbacks and a context pointer. Paths are
 * relative to the partition's root, '/'-separated, without "." or ".."
 * components and never empty; "" means the root itself (only for syncdir and
 * list). The core validates every path before it reaches the port.
 *
 * A port must never follow a symbolic link in any component of a path: a
 * link where a directory is expected fails with FSG_ERR_LOOP (or
 * FSG_ERR_NOTDIR); stat reports a link as FSG_TYPE_LINK.
 *
 * The backup partition's port needs only open(READ), read, close and stat.
 * Callbacks a port does not offer are NULL; an operation that needs them
 * fails with FSG_ERR_NOTSUP. All return a negative FSG_ERR_* on failure.
 */
struct fsg_port {
    unsigned version;     /* FSG_PORT_VERSION */
    void *ctx;            /* handed to every callback */

    /* Opens path in mode (enum fsg_open_mode) and stores a handle in *file.
     * READ refuses anything but a regular file (FSG_ERR_NOTREG). */
    int (*open)(void *ctx, const char *path, int mode, void **file);
    /* Reads up to size bytes; returns the count, 0 at end of file. */
    long (*read)(void *ctx, void *file, void *buf, size_t size);
    /* Writes all size bytes or fails; returns 0. */
    int (*write)(void *ctx, void *file, const void *buf, size_t size);
    /* Makes the file's data durable. */
    int (*sync)(void *ctx, void *file);
    /* Closes the handle (always releases it, even when it returns an error). */
    int (*close)(void *ctx, void *file);
    /* Describes path without following a link; FSG_ERR_NOENT if absent. */
    int (*stat)(void *ctx, const char *path, struct fsg_stat *st);
    /* Removes a file (never a directory). */
    int (*remove)(void *ctx, const char *path);
    /* Renames from over to, atomically replacing a file at to. Durable once
     * the directory is synced. */
    int (*rename)(void *ctx, const char *from, const char *to);
    /* Creates a directory; FSG_ERR_EXIST if the name exists. */
    int (*mkdir)(void *ctx, const char *path);
    /* Makes creations, renames and removals in directory path durable. A
     * file system that commits metadata at once (littlefs) may do nothing. */
    int (*syncdir)(void *ctx, const char *path);
    /* Optional. Calls fn once for each entry of directory path (not "." or
     * ".."); stops and returns fn's value when fn returns non-zero. */
    int (*list)(void *ctx, const char *path,
                int (*fn)(void *arg, const char *name, int type), void *arg);

    /* Optional, version 2; both or neither (NULL: no locking, for a device
     * where only one task ever calls fsguard). Only the user partition's
     * port is asked. lock takes the partition's lock in mode (enum
     * fsg_lock_mode), waiting at most wait_ms milliseconds (0: not at all)
     * while another holder keeps it: any number of SHARED holders at once,
     * or one EXCLUSIVE. Returns 0 when held, FSG_ERR_LOCKED when it was
     * still held by another at the end of the wait, or another error.
     * The holder must be another call (another task or process), never the
     * same one: fsguard takes it once per call and never nests. A lock
     * that outlives its holder (a crashed process) must not exist: use
     * what the system releases on death (POSIX: flock). unlock releases
     * what lock took; the core calls it exactly once after each successful
     * lock, on every path. */
    int (*lock)(void *ctx, int mode, uint32_t wait_ms);
    int (*unlock)(void *ctx);

    /* Optional, version 3: permission bits, for a file system that keeps
     * them (NULL for one that has none: littlefs, FatFs). getperm stores
     * regular file path's (0 to 07777, the POSIX layout) in *perm, without
     * following a link. setperm gives them to a file open for writing
     * (the handle create opened; fsguard calls it before syncing it, so
     * that the sync makes them durable with the data). Both or neither.
     * A restore gives the file its backup copy's bits, any other
     * replacement those of the file it replaces, under FSG_PERM_MASK. */
    int (*getperm)(void *ctx, const char *path, uint32_t *perm);
    int (*setperm)(void *ctx, void *file, uint32_t perm);
    /* Optional, version 3: predicts, changing nothing, whether this caller
     * could create, replace or remove regular file path now (creating its
     * missing parent directories): 0, or the error the change would fail
     * with (FSG_ERR_ROFS on a read-only file system or port, FSG_ERR_ACCES
     * without the permission). A check (FSG_DRY_RUN) asks it for every
     * change a boot would make, so that its report is what the boot does;
     * NULL: every change is predicted to succeed. Only the user
     * partition's port is asked. */
    int (*writable)(void *ctx, const char *path);
};

/* ------------------------------------------------------------------------ */
/* Configuration and events.                                                */

/* What a check found wrong with a user file (enum fsg_problem). */
enum fsg_problem {
    FSG_PROBLEM_NONE = 0,
    FSG_PROBLEM_MISSING,       /* the file does not exist */
    FSG_PROBLEM_MISMATCH,      /* its hash differs from checksum.json's */
    FSG_PROBLEM_NOT_REGULAR,   /* a directory, link or special file stands there */
    FSG_PROBLEM_UNREADABLE,    /* reading it failed (see error) */
    FSG_PROBLEM_UNSAFE_PATH    /* a parent is a link or not a directory */
};

/* Why a damaged file was not repaired (enum fsg_failure). */
enum fsg_failure {
    FSG_FAILURE_NONE = 0,
    FSG_FAILURE_NO_ENTRY,      /* the backup checksum.json has no entry for it */
    FSG_FAILURE_BAK_MISSING,   /* the backup copy does not exist */
    FSG_FAILURE_BAK_DAMAGED,   /* the backup copy fails its own hash */
    FSG_FAILURE_BAK_UNREADABLE,/* the backup copy could not be read (see error) */
    FSG_FAILURE_BLOCKED,       /* a directory stands where the file goes, or a
                                  parent is a link or file */
    FSG_FAILURE_WRITE,         /* writing the user partition failed (see error) */
    FSG_FAILURE_WEAK_HASH,     /* the backup table is signed, but its entry
                                  has no "sha256": a CRC-32 can be forged, so
                                  it cannot vouch for the copy */
    FSG_FAILURE_UNREADABLE     /* the file could not be read (see error: a
                                  permission, an error that persisted after
                                  a second try). That says nothing of its
                                  content, which may be a legitimate edit:
                                  it is left as it is */
};

/* What boot did with an edit that fsg_put had not finished. */
enum fsg_pending_outcome {
    FSG_PENDING_NONE = 0,
    FSG_PENDING_COMMITTED,     /* the file holds the new content: its hash
                                  becomes the recorded one */
    FSG_PENDING_DISCARDED      /* the file holds the old content (or was
                                  restored): the pending hash is dropped */
};

/* Outcome for one protected file. */
enum fsg_status {
    FSG_STATUS_OK = 0,         /* matches its hash; nothing done */
    FSG_STATUS_RESTORED,       /* was damaged; now repaired (dry run: would be) */
    FSG_STATUS_FAILED          /* was damaged; left as it was */
};

enum fsg_event_kind {
    FSG_EVENT_FILE = 1,        /* one protected file was checked */
    FSG_EVENT_ENTRY,           /* a manifest entry was refused and skipped */
    FSG_EVENT_TEMP,            /* a leftover temporary file was (or would be) removed */
    FSG_EVENT_PLANNED,         /* pack: the tree was read; size: bytes to copy */
    FSG_EVENT_PACKED,          /* pack: one file was copied */
    FSG_EVENT_REFUSED,         /* pack: an entry of the tree cannot be packed */
    FSG_EVENT_UNLISTED,        /* inspect: a file no checksum.json entry names */
    FSG_EVENT_FOTA             /* an update put one file in place; protect:
                                  enum fsg_fota_protect */
};

/* Why pack refused an entry of the project tree (enum fsg_refusal). */
enum fsg_refusal {
    FSG_REFUSAL_NONE = 0,
    FSG_REFUSAL_LINK,          /* a symbolic link */
    FSG_REFUSAL_SPECIAL,       /* a device, socket, FIFO or other special file */
    FSG_REFUSAL_NAME,          /* its name cannot be stored (see defect) */
    FSG_REFUSAL_RESERVED,      /* checksum.json or backup_restore.json at the root */
    FSG_REFUSAL_UNREADABLE,    /* stat or listing failed (see error) */
    FSG_REFUSAL_TARGET         /* an update's target is a directory, or lies
                                  behind a file or a link (see error) */
};

/* Which manifest an entry event is about. */
enum fsg_source { FSG_SOURCE_USR = 1, FSG_SOURCE_BAK = 2 };

struct fsg_event {
    int kind;                  /* enum fsg_event_kind */
    const char *name;          /* FILE, PACKED: device name ("/usr/a.py");
                                  ENTRY: the entry's name if it had a string
                                  one, else NULL: valid UTF-8 without control
                                  characters unless defect is
                                  FSG_DEFECT_NAME_CHARS; TEMP, UNLISTED: port
                                  path in the partition; REFUSED: port path in
                                  the project tree (may hold any byte) */
    /* FILE */
    int status;                /* enum fsg_status */
    int problem;               /* enum fsg_problem */
    int failure;               /* enum fsg_failure */
    int error;                 /* FSG_ERR_* behind problem or failure, or 0 */
    unsigned hashes;           /* FILE, PACKED: the kinds of hash the entry
                                  carries afterwards (enum fsg_hash_kind) */
    unsigned expected_hashes;  /* FILE: the kinds it carried when checked */
    uint32_t expected;         /* crc32 checksum.json holds for the file (if
                                  hashes has FSG_HASH_CRC32) */
    uint32_t actual;           /* crc32 of the user file as found (if read) */
    int has_actual;
    uint32_t recorded;         /* crc32 checksum.json holds afterwards */
    const unsigned char *sha_expected; /* sha256 checksum.json holds, or NULL */
    const unsigned char *sha_actual;   /* sha256 of the file as found, or NULL
                                  (computed only for entries with a sha256) */
    const unsigned char *sha_recorded; /* sha256 checksum.json holds afterwards */
    int entry_added;           /* the entry was missing from the user manifest
                                  and was put back from the backup's */
    int hash_only;             /* the content already was the factory copy:
                                  only its hash entry was corrected */
    int pending;               /* an interrupted edit (fsg_put) was found:
                                  FSG_PENDING_COMMITTED or _DISCARDED */
    /* ENTRY */
    int source;                /* enum fsg_source */
    unsigned long index;       /* 0-based position in the JSON array */
    int defect;                /* enum fsg_defect; REFUSED: for FSG_REFUSAL_NAME */
    /* PLANNED, PACKED, REFUSED, UNLISTED; FILE for inspect */
    uint64_t size;             /* bytes of the file (PLANNED: of all files) */
    int protect;               /* PACKED: the file went to the backup too */
    int refusal;               /* REFUSED: enum fsg_refusal */
    int type;                  /* REFUSED, UNLISTED: enum fsg_type */
};

/* One file to hash, for fsg_config.hash_files. */
struct fsg_hash_job {
    const char *path;          /* port path in the user partition ("a/b.py") */
    unsigned kinds;            /* FSG_HASH_SHA256 if wanted; the CRC-32 always */
    int err;                   /* out: 0, or the error hashing it failed with */
    uint32_t crc;              /* out */
    unsigned char sha256[FSG_SHA256_LEN]; /* out, if kinds asked for it */
    uint64_t size;             /* out: bytes hashed */
};

/* Hashes one file of port as fsguard itself does (the port refuses what is
 * not a regular file; a refusal is classified with stat; a transient error
 * gets one more try), streaming it through buf (at least FSG_BUF_MIN
 * bytes), and fills job's outputs. Safe to call from several threads at
 * once if the port is. Returns job->err. */
int fsg_hash_job_run(const struct fsg_port *port, void *buf, size_t buf_size,
                     struct fsg_hash_job *job);

/* Allocator: realloc semantics (ptr NULL allocates, size 0 frees and returns
 * NULL). */
typedef void *(*fsg_alloc_fn)(void *ctx, void *ptr, size_t size);

#define FSG_BUF_MIN 256

struct fsg_config {
    const struct fsg_port *usr;   /* user partition, read-write */
    const struct fsg_port *bak;   /* backup partition, only ever read */

    /* I/O buffer, owned by the caller; file data streams through it. NULL
     * means one of 4096 bytes is allocated. At least FSG_BUF_MIN bytes. */
    void *buf;
    size_t buf_size;

    /* Allocator for everything the core allocates (tables, path buffers);
     * NULL uses the C library's. Required in a core built with
     * FSG_NO_MALLOC (calls fail with FSG_ERR_INVAL without it). */
    fsg_alloc_fn alloc;
    void *alloc_ctx;

    /* Called for every event as it happens; may be NULL. */
    void (*on_event)(void *ctx, const struct fsg_event *ev);
    void *event_ctx;

    /* Largest checksum.json accepted, in bytes; 0 means 64 MiB. */
    uint64_t manifest_max;

    /* Optional: hashes n files of the user partition at once, for example
     * on several cores, each as fsg_hash_job_run does, and returns 0 (or a
     * negative error, after which fsguard hashes them itself, one by one).
     * Boot and verify hand it the protected files in batches; everything
     * else stays in the calling thread. NULL: one by one. fsguard_posix.h
     * has one (fsg_posix_hash_files). Ignored by a core built with
     * FSG_SMALL. */
    int (*hash_files)(void *ctx, struct fsg_hash_job *jobs, size_t n);
    void *hash_ctx;

    /* Ed25519 public key (FSG_PUBKEY_LEN bytes) the backup checksum.json
     * must be signed with, or NULL to trust the backup partition as it is.
     * With a key, the backup table is used only if /bak/checksum.json.sig
     * holds its valid signature by that key, and a backup copy is restored
     * only if its entry carries a "sha256" (a CRC-32 can be forged). A
     * core built with FSG_NO_CRYPTO cannot check one: a key makes fsg_boot
     * fail with FSG_ERR_SIGNATURE (signature_error FSG_ERR_NOTSUP). */
    const unsigned char *pubkey;

    /* How long a call waits for the user partition's lock (fsg_port.lock)
     * while another call holds it, in milliseconds; 0 (the default) does
     * not wait. A call that does not get it fails with FSG_ERR_LOCKED
     * before anything is read or written. */
    uint32_t lock_wait_ms;

    /* Optional: polled before each file written and between its chunks
     * (and by boot between the files it checks); non-zero means stop. The
     * file being written is then abandoned (its temporary file removed)
     * and the call returns FSG_ERR_CANCELLED, leaving the partitions as a
     * power cut at that instant would (the next boot settles them). NULL:
     * never cancelled. A signal handler setting a flag this reads is the
     * intended use. */
    int (*cancelled)(void *ctx);
    void *cancel_ctx;
};

#define FSG_PUBKEY_LEN 32
#define FSG_SECKEY_LEN 64
#define FSG_SIG_NAME "checksum.json.sig"

/* What became of the backup table's signature check (enum fsg_signature). */
enum fsg_signature {
    FSG_SIG_UNCHECKED = 0,     /* no key configured */
    FSG_SIG_GOOD,              /* signed by the configured key */
    FSG_SIG_MISSING,           /* /bak/checksum.json.sig does not exist */
    FSG_SIG_MALFORMED,         /* it is not "ed25519 PUBKEY SIGNATURE" in hex */
    FSG_SIG_UNREADABLE,        /* reading it failed (see signature_error) */
    FSG_SIG_WRONG_KEY,         /* it names another key than the configured one */
    FSG_SIG_BAD                /* it does not match checksum.json: the table
                                  (or the signature) was altered */
};

/* ------------------------------------------------------------------------ */
/* The boot-time check.                                                     */

/* State of the feature switch, /bak/backup_restore.json. */
enum fsg_feature {
    FSG_FEATURE_ENABLED = 0,
    FSG_FEATURE_DISABLED,      /* "enable" is 0 or false (any other value
                                  enables, as in QuecPython) */
    FSG_FEATURE_NO_SWITCH,     /* backup_restore.json does not exist */
    FSG_FEATURE_BAD_SWITCH     /* it is not a regular file, too big, not a
                                  JSON object, or has no "enable" (see
                                  feature_error): restore is off. One that
                                  exists but cannot be read stops the boot
                                  with its error instead */
};

/* What happened to /usr/checksum.json. */
enum fsg_manifest_action {
    FSG_MANIFEST_UNCHANGED = 0,
    FSG_MANIFEST_CREATED,      /* was missing: copied from the backup */
    FSG_MANIFEST_REBUILT,      /* was invalid (not JSON, too big, not a
                                  regular file): rebuilt from the backup (see
                                  usr_manifest_error) */
    FSG_MANIFEST_UPDATED       /* entries were changed or put back */
};

struct fsg_report {
    int feature;               /* enum fsg_feature */
    int feature_error;         /* FSG_ERR_* behind FSG_FEATURE_BAD_SWITCH */
    int manifest;              /* enum fsg_manifest_action (dry run: would be) */
    int manifest_written;      /* 1 if checksum.json was written */
    int usr_manifest_error;    /* why it was rebuilt, or why it could not be
                                  read (the boot's error), or 0 */
    uint64_t usr_manifest_offset; /* byte where its JSON broke */
    int bak_manifest_error;    /* why the backup manifest was unusable, or 0 */
    uint64_t bak_manifest_offset;
    int signature;             /* enum fsg_signature (with cfg->pubkey) */
    int signature_error;       /* FSG_ERR_* behind FSG_SIG_UNREADABLE */
    unsigned long files;       /* protected files checked */
    unsigned long ok, restored, failed;
    unsigned long entries_added;   /* entries put back from the backup */
    unsigned long bad_entries;     /* entries refused, both manifests */
    unsigned long temps_removed;   /* leftover temporary files removed */
    unsigned long edits_finished;  /* interrupted edits committed or discarded */
    int fota;                      /* an update found in the staging area
                                      (enum fsg_fota_state): boot finished
                                      it (COMMITTED), discarded it
                                      (UNCOMMITTED) or abandoned it (DAMAGED) */
    unsigned long fota_files;      /* files it finished or put back */
    unsigned usr_manifest_kept;    /* a user checksum.json that was rebuilt
                                      because it was not valid JSON (or too
                                      big) is kept aside, renamed (dry run:
                                      would be) to checksum.json.bad (1) or
                                      checksum.json.bad.N (N, 2 to 9); 0:
                                      not (nothing to keep, or all ten names
                                      already taken) */
};

enum fsg_boot_flags {
    FSG_DRY_RUN = 1            /* check and report only; write nothing */
};

/*
 * The boot-time check and restore.
 *  0. With cfg->pubkey, /bak/checksum.json and its signature are checked
 *     before anything else, the steps below included: a missing or wrong
 *     signature writes nothing, sets report->signature and returns
 *     FSG_ERR_SIGNATURE. The table is parsed from the very bytes verified.
 *  1. An update left in the staging area (fsg_fota_*) is settled, whatever
 *     the switch says: finished if committed, else discarded or abandoned
 *     (report->fota). Then, if /bak/backup_restore.json is missing, invalid
 *     or disabled, nothing more is done; report->feature says why; returns 0.
 *     If it exists but cannot be read (a permission, a persistent I/O
 *     error), nothing more is done either, and its error is returned: a
 *     switch that cannot be read turns nothing off.
 *  2. /bak/checksum.json is read. If it is missing or not a JSON array the
 *     backup is unusable: nothing is written; returns its error and sets
 *     report->bak_manifest_error.
 *  3. /usr/checksum.json is read; missing, it is copied from the backup;
 *     invalid, it is rebuilt from the backup (the invalid bytes are kept
 *     aside: report->usr_manifest_kept). If it cannot be read (a
 *     permission, an I/O error that persists after a second try), it is
 *     not rebuilt, which would lose every recorded edit: nothing is
 *     written, and the error is returned (report->usr_manifest_error).
 *  4. Every protected file is hashed (CRC-32, and SHA-256 for entries that
 *     carry one). A missing, damaged or non-regular one is restored from its
 *     backup copy, but only if that copy matches every hash of its backup
 *     manifest entry; the restored file is read back and verified
 *     before it replaces the target. Otherwise it is left alone and FAILED.
 *     A file that cannot be read is not known to be damaged: it is left
 *     alone and FAILED (FSG_FAILURE_UNREADABLE), never replaced.
 *  5. Bad entries are reported and skipped; no file stops the pass.
 *  6. Entries of the backup manifest missing from the user's are put back.
 *  7. /usr/checksum.json is written once, atomically, only if it changed;
 *     leftover temporary files of an interrupted run are removed.
 * Returns 0 when the pass ran (whatever it found), or a negative error when
 * it could not run or could not save its result. report is always filled.
 */
int fsg_boot(const struct fsg_config *cfg, int flags, struct fsg_report *report);

/* The fsck-style exit code a report stands for: 0 nothing needed fixing,
 * 1 damage found and all repaired, 4 some damage left unrepaired. */
int fsg_report_exit_code(const struct fsg_report *report);

/*
 * QuecPython's file_crc32.calc(name), as its documentation describes it:
 * hashes the user file name ("/usr/1.txt"), records the hash in the user
 * checksum.json (atomically, only if the table changes: a new hash, a
 * pending one cleared, a missing table created) and stores it in *crc.
 * A missing user checksum.json is first copied from the backup. What is
 * protected is what boot protects: a name the backup checksum.json lists
 * is, even when the user table lost its entry or holds only a refused one;
 * the entry is put back (as boot would) and recorded.
 * Fails with FSG_ERR_BADNAME for an invalid name, FSG_ERR_NOTPROTECTED when
 * neither checksum.json lists it, FSG_ERR_NOENT / FSG_ERR_NOTREG when the
 * file is missing or not a regular file, FSG_ERR_CORRUPT when the user
 * checksum.json is invalid, FSG_ERR_BUSY while an update's journal waits
 * for the next boot (which rolls the files forward, or back, over any edit
 * made before it). Nothing is written on failure. On success the
 * entry as recorded is also reported as one FSG_EVENT_FILE (status OK), whose
 * hashes and sha_recorded give its sha256 when it carries one (the entry
 * keeps the kinds of hash it had: *crc is then computed but not recorded for
 * a sha256-only entry).
 */
int fsg_calc(const struct fsg_config *cfg, const char *name, uint32_t *crc);

/* ------------------------------------------------------------------------ */
/* Crash-safe edits of protected files.                                     */

/*
 * Rewrites protected file name ("/usr/cfg/a.json") so that a power cut at
 * any instant leaves either the old or the new content, and the next boot
 * accepts whichever it finds (where a plain rewrite followed by fsg_calc
 * would be reverted to the factory copy if the cut came between the two):
 *
 *     struct fsg_put *put;
 *     int err = fsg_put_begin(&cfg, "/usr/cfg/a.json", &put);
 *     while (err == 0 && (n = produce(buf, sizeof buf)) > 0)
 *         err = fsg_put_write(put, buf, n);
 *     if (err == 0)
 *         err = fsg_put_commit(put, &crc);    // frees put
 *     else
 *         fsg_put_abort(put);                 // frees put
 *
 * The content streams into a temporary file beside the target; commit syncs
 * and verifies it, records its hash as pending ("fsg_pending" in the entry,
 * a key QuecPython's reader ignores), renames it over the target, syncs the
 * directory, then records the hash as committed. A boot finding the file
 * with the pending hash commits it; with the old hash, discards it.
 *
 * begin fails with FSG_ERR_BADNAME, FSG_ERR_NOTPROTECTED, FSG_ERR_BUSY (as
 * for fsg_calc: a name the backup table lists is protected; a missing user
 * checksum.json is first copied from the backup) or a storage
 * error; write returns the first error and every later call repeats it;
 * commit returns it too, and then the file is unchanged. A commit failing
 * in its last step (recording the hash) leaves the new file in place with
 * its hash pending, which the next boot commits. A successful commit reports
 * the entry as recorded as one FSG_EVENT_FILE, as fsg_calc does.
 *
 * The user partition's lock (struct fsg_port) is held EXCLUSIVE from begin
 * until commit or abort returns: every other call on the device waits (up
 * to its cfg->lock_wait_ms) meanwhile, so do not keep a put open longer
 * than the content takes to produce. begin fails with FSG_ERR_LOCKED when
 * the device stays busy.
 */
struct fsg_put;
int fsg_put_begin(const struct fsg_config *cfg, const char *name, struct fsg_put **put);
int fsg_put_write(struct fsg_put *put, const void *data, size_t len);
int fsg_put_commit(struct fsg_put *put, uint32_t *crc);
void fsg_put_abort(struct fsg_put *put);

/* ------------------------------------------------------------------------ */
/* Over-the-air updates: any number of files, all or nothing.               */
/* (Not in a core built with FSG_NO_FOTA: these functions do not exist.)     */

/* What an update found in the staging area (/usr/.fsg-fota) amounts to. */
enum fsg_fota_state {
    FSG_FOTA_NONE = 0,
    FSG_FOTA_UNCOMMITTED,      /* staged, never committed: to be discarded */
    FSG_FOTA_COMMITTED,        /* committed, not finished: to be rolled forward */
    FSG_FOTA_DAMAGED           /* its journal is damaged: to be abandoned, the
                                  files put back as they were */
};

/* How an updated file stands after the update. */
enum fsg_fota_protect {
    FSG_FOTA_UNPROTECTED = 0,  /* a new file, installed unprotected (no
                                  factory copy exists to restore it from) */
    FSG_FOTA_PROTECTED,        /* it was protected: its new hash is recorded */
    FSG_FOTA_NEWLY_PROTECTED   /* a new file the update asked to protect: its
                                  hash is recorded (damage to it is found,
                                  but with no factory copy, not repaired) */
};

struct fsg_fota_report {
    unsigned long files;
    unsigned long protected_files, newly_protected, unprotected;
    int committed;             /* the commit point was passed */
};

/*
 * An update of any number of files, all or nothing, for firmware that
 * downloads the files itself:
 *
 *     struct fsg_fota *tx;
 *     int err = fsg_fota_begin(&cfg, &tx);
 *     for each file:                          // e.g. "/usr/app/main.py"
 *         err = fsg_fota_add(tx, name, protect_if_new);
 *         while (err == 0 && (n = download(buf, sizeof buf)) > 0)
 *             err = fsg_fota_write(tx, buf, n);
 *     if (err == 0)
 *         err = fsg_fota_commit(tx, &report);  // frees tx
 *     else
 *         fsg_fota_abort(tx);                  // frees tx; nothing changed
 *
 * Files are staged in /usr/.fsg-fota/ (synced and verified); commit writes
 * the journal naming every file and its new hash (the commit point), then
 * moves the files into place, records the new hashes in checksum.json and
 * removes the journal. A power cut before the commit point leaves every
 * file as it was; after it, the next fsg_boot finishes the update. Files
 * already protected get their new hash; new files are installed
 * unprotected unless added with protect set. Space runs out, if it does,
 * while staging, before the commit point: the update is then abandoned
 * with FSG_ERR_NOSPC and nothing changed.
 *
 * begin fails with FSG_ERR_BUSY when a committed update is unfinished (boot
 * finishes it), and with FSG_ERR_NOTSUP when the user partition's port has
 * no list, remove or rename (the staging area is swept by listing it). add fails with FSG_ERR_BADNAME for a name fsg_name_check
 * refuses, FSG_ERR_EXIST for a name added twice. commit fails with
 * FSG_ERR_ISDIR when a target is a directory. Errors stick: every later
 * call returns the first. As for fsg_put, the user partition's lock is held
 * EXCLUSIVE from begin until commit or abort returns (begin: FSG_ERR_LOCKED
 * when the device stays busy); fsg_fota_status holds it SHARED.
 */
struct fsg_fota;
int fsg_fota_begin(const struct fsg_config *cfg, struct fsg_fota **tx);
int fsg_fota_add(struct fsg_fota *tx, const char *name, int protect);
int fsg_fota_write(struct fsg_fota *tx, const void *data, size_t len);
int fsg_fota_commit(struct fsg_fota *tx, struct fsg_fota_report *report);
void fsg_fota_abort(struct fsg_fota *tx);

/* What the staging area holds now (enum fsg_fota_state), and how many files
 * a committed update names or a damaged one has set aside. Writes nothing. */
int fsg_fota_status(const struct fsg_config *cfg, int *state, unsigned long *files);

/* ------------------------------------------------------------------------ */
/* Host side: building and inspecting partitions (not needed on a device).  */

struct fsg_pack {
    const struct fsg_port *src;   /* the project tree as it appears under /usr;
                                     read only, needs list */
    const struct fsg_port *usr;   /* empty: receives the user partition */
    const struct fsg_port *bak;   /* empty: receives the backup partition */

    /* Whether a file ("/usr/a.py") is protected, i.e. backed up and listed
     * in checksum.json: non-zero for yes. NULL protects every file.
     * Unprotected files go to the user partition only. */
    int (*protect)(void *ctx, const char *name);
    void *protect_ctx;

    int enable;                   /* backup_restore.json's "enable": 0 or 1 */
    unsigned hashes;              /* kinds each entry carries (enum
                                     fsg_hash_kind bits); 0 means CRC-32 only,
                                     what QuecPython's runtime reads */
    /* Ed25519 secret key (FSG_SECKEY_LEN bytes, as fsg_key_parse gives it)
     * to sign the backup checksum.json with, written beside it as
     * checksum.json.sig; NULL for none. Signing needs FSG_HASH_SHA256 in
     * hashes (FSG_ERR_INVAL otherwise): a signed CRC-32 can be forged. */
    const unsigned char *sign_key;
    uint64_t usr_limit;           /* partition sizes in bytes; 0: no limit */
    uint64_t bak_limit;

    /* As in struct fsg_config. */
    void *buf;
    size_t buf_size;
    fsg_alloc_fn alloc;
    void *alloc_ctx;
    void (*on_event)(void *ctx, const struct fsg_event *ev);
    void *event_ctx;
    int (*cancelled)(void *ctx);
    void *cancel_ctx;
};

struct fsg_pack_report {
    unsigned long files;          /* regular files in the tree */
    unsigned long protected_files;
    unsigned long dirs;           /* directories, created in the user partition */
    unsigned long refused;        /* entries that cannot be packed */
    uint64_t usr_bytes;           /* content of the user partition, manifest included */
    uint64_t bak_bytes;           /* content of the backup partition, both JSON files included */
};

/*
 * Builds the factory partitions from a project tree, as QuecPython's
 * factory tool does with "backup" ticked: every file into usr, each
 * protected one also into bak as usr/NAME, the same checksum.json (sorted by
 * name) into both, and backup_restore.json into bak. Every file is copied
 * through a verified temporary file. Output is deterministic: the same tree
 * gives the same bytes.
 *
 * The tree is read and checked before anything is written. Entries that are
 * links or special files, names that cannot be stored (fsg_name_check) and
 * a checksum.json or backup_restore.json at the root are reported as
 * FSG_EVENT_REFUSED, and pack fails with FSG_ERR_INVAL; content larger than
 * a limit fails with FSG_ERR_NOSPC (report holds the sizes). A file that
 * changes while it is copied fails with FSG_ERR_MISMATCH. On failure the
 * output ports may hold part of the output: write them somewhere that only
 * becomes the real output once pack returned 0 (the tool renames a staging
 * directory).
 */
int fsg_pack(const struct fsg_pack *opt, struct fsg_pack_report *report);

/*
 * Keys for signed backups: Ed25519 (RFC 8032) through libsodium. The
 * signature file /bak/checksum.json.sig is one line of text,
 *     ed25519 <public key: 64 hex digits> <signature: 128 hex digits>
 * a plain Ed25519 signature of checksum.json's bytes, as any Ed25519 tool
 * makes and checks. A key file is one line too:
 *     fsguard-ed25519-secret <seed: 64 hex digits>
 *     fsguard-ed25519-public <public key: 64 hex digits>
 */
#define FSG_KEY_STRLEN 96         /* room for a key file's line, newline, NUL */

/* Makes a new key pair from the system's random source. Returns 0, or
 * FSG_ERR_IO when no randomness can be had. */
int fsg_keygen(unsigned char pk[FSG_PUBKEY_LEN], unsigned char sk[FSG_SECKEY_LEN]);
/* Writes a key file's text (with its newline) into out: the secret one from
 * sk when secret is non-zero, else the public one from pk. Returns out. */
char *fsg_key_format(int secret, const unsigned char *key, char out[FSG_KEY_STRLEN]);
/* Parses a key file's text (len bytes; trailing white space allowed).
 * *secret tells which kind it was. A secret key fills key with
 * FSG_SECKEY_LEN bytes (pk, when not NULL, gets its public half); a public
 * key fills key with FSG_PUBKEY_LEN bytes. Returns 0 or FSG_ERR_CORRUPT. */
int fsg_key_parse(const char *text, size_t len, int *secret, unsigned char key[FSG_SECKEY_LEN],
                  unsigned char pk[FSG_PUBKEY_LEN]);

struct fsg_inspect_report {
    int feature;                  /* backup partition: enum fsg_feature */
    int feature_error;
    int manifest_error;           /* checksum.json unusable: why, else 0 */
    uint64_t manifest_offset;     /* byte where its JSON broke */
    int signature;                /* backup partition with cfg->pubkey: enum
                                     fsg_signature (FSG_ERR_SIGNATURE unless
                                     GOOD, nothing else checked) */
    int signature_error;
    int has_signature;            /* backup partition: checksum.json.sig exists */
    unsigned long listed;         /* valid entries */
    unsigned long ok;             /* listed files present and matching */
    unsigned long damaged;        /* listed files missing, differing, unreadable */
    unsigned long bad_entries;    /* refused entries */
    unsigned long unlisted;       /* files (and links, special files) no entry names */
    uint64_t total_bytes;         /* regular files in the partition */
};

/*
 * Offline check of one built partition, writing nothing: source
 * FSG_SOURCE_BAK inspects cfg->bak (files at usr/NAME, and its
 * backup_restore.json), FSG_SOURCE_USR inspects cfg->usr (files at NAME);
 * the other port may be NULL. Every listed file is hashed and reported as an
 * FSG_EVENT_FILE (status OK, or FAILED with its problem); every other entry
 * of the partition but the JSON files as FSG_EVENT_UNLISTED. Needs the
 * port's list. Inspecting the user partition holds its lock SHARED (the
 * backup partition has none: nothing writes it). Returns 0, or an error
 * when checksum.json is unusable (report->manifest_error) or the partition
 * cannot be read (FSG_ERR_LOCKED: busy).
 */
int fsg_inspect(const struct fsg_config *cfg, int source, struct fsg_inspect_report *report);

/*
 * Applies an update laid out like /usr (the new or changed files) through
 * the fsg_fota_* transaction. The tree is checked first: links, special
 * files, names that cannot be stored and a checksum.json at its root are
 * reported as FSG_EVENT_REFUSED and fail with FSG_ERR_INVAL, nothing
 * changed. protect(ctx, name) says whether a new file is to be protected
 * (NULL: none).
 */
int fsg_fota_apply(const struct fsg_config *cfg, const struct fsg_port *update,
                   int (*protect)(void *ctx, const char *name), void *protect_ctx,
                   struct fsg_fota_report *report);

#ifdef __cplusplus
}
#endif
#endif /* FSGUARD_H */
