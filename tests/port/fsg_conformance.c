/*
 * fsg_conformance.c -- checks a storage port against the contract that
 * fsguard.h states for struct fsg_port. Standard C only, no stdio: lines
 * go to the caller's say().
 */
#include "fsg_conformance.h"

#include <string.h>

/* ---- reporting ---- */

static void put(char *line, size_t *n, const char *s)
{
    while (*s != '\0' && *n + 1 < 256)
        line[(*n)++] = *s++;
    line[*n] = '\0';
}

static void put_int(char *line, size_t *n, long v)
{
    char d[24];
    int k = 0;
    unsigned long u = v < 0 ? (unsigned long)(-(v + 1)) + 1 : (unsigned long)v;
    do
        d[k++] = (char)('0' + u % 10);
    while ((u /= 10) != 0 && k < 22);
    if (v < 0)
        d[k++] = '-';
    char r[24];
    for (int i = 0; i < k; i++)
        r[i] = d[k - 1 - i];
    r[k] = '\0';
    put(line, n, r);
}

/* One check: ok or not, with what it is about and the value seen. */
static void check(struct fsg_conformance *t, int ok, const char *what, long seen)
{
    char line[256];
    size_t n = 0;
    t->checks++;
    if (!ok)
        t->failed++;
    if (ok && !t->verbose)
        return;
    put(line, &n, ok ? "ok    " : "FAIL  ");
    put(line, &n, what);
    if (!ok) {
        put(line, &n, " (got ");
        put_int(line, &n, seen);
        if (seen < 0) {
            put(line, &n, ": ");
            put(line, &n, fsg_strerror((int)seen));
        }
        put(line, &n, ")");
    }
    if (t->say != NULL)
        t->say(t->ctx, line);
}

static void skip(struct fsg_conformance *t, const char *what)
{
    char line[256];
    size_t n = 0;
    t->skipped++;
    put(line, &n, "skip  ");
    put(line, &n, what);
    if (t->say != NULL)
        t->say(t->ctx, line);
}

/* ---- helpers over the port ---- */

static int write_file(const struct fsg_port *p, const char *path, const void *data, size_t len,
                      size_t chunk)
{
    void *f;
    int err = p->open(p->ctx, path, FSG_OPEN_CREATE, &f);
    if (err < 0)
        return err;
    const unsigned char *b = data;
    for (size_t off = 0; off < len && err == 0; off += chunk)
        err = p->write(p->ctx, f, b + off, len - off < chunk ? len - off : chunk);
    if (err == 0)
        err = p->sync(p->ctx, f);
    int cerr = p->close(p->ctx, f);
    return err < 0 ? err : cerr;
}

/* Reads path whole into buf (size bytes at most) through reads of at most
 * chunk bytes; returns the length or an error. */
static long read_file(const struct fsg_port *p, const char *path, unsigned char *buf,
                      size_t size, size_t chunk)
{
    void *f;
    int err = p->open(p->ctx, path, FSG_OPEN_READ, &f);
    if (err < 0)
        return err;
    size_t n = 0;
    long r;
    while ((r = p->read(p->ctx, f, buf + n, size - n < chunk ? size - n : chunk)) > 0) {
        n += (size_t)r;
        if (n == size)
            break;
    }
    int cerr = p->close(p->ctx, f);
    if (r < 0)
        return r;
    return cerr < 0 ? cerr : (long)n;
}

static int stat_type(const struct fsg_port *p, const char *path, uint64_t *size)
{
    struct fsg_stat st;
    int err = p->stat(p->ctx, path, &st);
    if (err < 0)
        return err;
    if (size != NULL)
        *size = st.size;
    return st.type;
}

struct seen {
    const char *want;
    int type, count, stop_after;
};

static int on_entry(void *arg, const char *name, int type)
{
    struct seen *s = arg;
    s->count++;
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        s->type = -1000; /* must never be listed */
    else if (strcmp(name, s->want) == 0 && s->type != -1000)
        s->type = type;
    return s->stop_after != 0 && s->count >= s->stop_after ? 77 : 0;
}

static unsigned char big[100000], back[100001];

/* ---- the checks ---- */

static void basics(struct fsg_conformance *t)
{
    const struct fsg_port *p = t->port;
    check(t, p->version == FSG_PORT_VERSION, "version is FSG_PORT_VERSION", (long)p->version);
    check(t, p->open && p->read && p->close && p->stat, "open, read, close, stat are set", 0);
    check(t, p->write && p->sync && p->remove && p->rename && p->mkdir && p->syncdir,
          "write, sync, remove, rename, mkdir, syncdir are set (user partition)", 0);
}

static void files(struct fsg_conformance *t)
{
    const struct fsg_port *p = t->port;
    uint64_t size = 0;
    void *f;

    check(t, stat_type(p, "none.txt", NULL) == FSG_ERR_NOENT, "stat of a missing file: NOENT",
          stat_type(p, "none.txt", NULL));
    int err = p->open(p->ctx, "none.txt", FSG_OPEN_READ, &f);
    check(t, err == FSG_ERR_NOENT, "open READ of a missing file: NOENT", err);

    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (unsigned char)(i * 131 + (i >> 8));
    err = write_file(p, "a.bin", big, sizeof big, 4093);
    check(t, err == 0, "create, write in pieces, sync, close", err);
    check(t, stat_type(p, "a.bin", &size) == FSG_TYPE_REG && size == sizeof big,
          "stat: a regular file of the size written", (long)size);
    long n = read_file(p, "a.bin", back, sizeof back, 256);
    check(t, n == (long)sizeof big && memcmp(back, big, sizeof big) == 0,
          "read back through 256-byte reads: the same bytes", n);
    n = read_file(p, "a.bin", back, sizeof back, sizeof back);
    check(t, n == (long)sizeof big && memcmp(back, big, sizeof big) == 0,
          "read back through one large read: the same bytes", n);

    err = write_file(p, "empty", "", 0, 1);
    check(t, err == 0 && stat_type(p, "empty", &size) == FSG_TYPE_REG && size == 0,
          "an empty file", err);
    check(t, read_file(p, "empty", back, sizeof back, 64) == 0, "an empty file reads as 0 bytes",
          read_file(p, "empty", back, sizeof back, 64));

    err = p->open(p->ctx, "a.bin", FSG_OPEN_CREATE, &f);
    if (err == 0)
        (void)p->close(p->ctx, f);
    check(t, err == FSG_ERR_EXIST, "create over an existing file: EXIST", err);
    n = read_file(p, "a.bin", back, sizeof back, sizeof back);
    check(t, n == (long)sizeof big && memcmp(back, big, sizeof big) == 0,
          "a refused create leaves the file as it was", n);

    err = write_file(p, "no-dir/x", "x", 1, 1);
    check(t, err == FSG_ERR_NOENT || err == FSG_ERR_NOTDIR,
          "create in a missing directory: NOENT", err);
    err = write_file(p, "a.bin/x", "x", 1, 1);
    check(t, err < 0, "create below a file: refused", err);
    err = p->stat(p->ctx, "a.bin/x", &(struct fsg_stat){0});
    check(t, err == FSG_ERR_NOTDIR || err == FSG_ERR_NOENT, "stat below a file: NOTDIR or NOENT",
          err);

    const char *odd = "\xe6\x96\x87\xe4\xbb\xb6 name (1).txt"; /* UTF-8, spaces */
    err = write_file(p, odd, "utf", 3, 3);
    check(t, err == 0 && read_file(p, odd, back, sizeof back, 64) == 3,
          "a UTF-8 name with spaces and parentheses", err);
}

static void dirs(struct fsg_conformance *t)
{
    const struct fsg_port *p = t->port;
    void *f;

    int err = p->mkdir(p->ctx, "d");
    check(t, err == 0 && stat_type(p, "d", NULL) == FSG_TYPE_DIR, "mkdir; stat: a directory",
          err);
    err = p->mkdir(p->ctx, "d");
    check(t, err == FSG_ERR_EXIST, "mkdir of an existing directory: EXIST", err);
    err = p->mkdir(p->ctx, "a.bin");
    check(t, err == FSG_ERR_EXIST, "mkdir over a file: EXIST", err);
    err = p->mkdir(p->ctx, "d/e");
    check(t, err == 0, "mkdir below a directory", err);
    err = write_file(p, "d/e/f.txt", "deep\n", 5, 5);
    check(t, err == 0 && read_file(p, "d/e/f.txt", back, sizeof back, 64) == 5,
          "a file two directories down", err);
    err = p->open(p->ctx, "d", FSG_OPEN_READ, &f);
    if (err == 0)
        (void)p->close(p->ctx, f);
    check(t, err == FSG_ERR_ISDIR || err == FSG_ERR_NOTREG,
          "open READ of a directory: refused (ISDIR or NOTREG)", err);
    check(t, p->syncdir(p->ctx, "") == 0, "syncdir of the root", p->syncdir(p->ctx, ""));
    check(t, p->syncdir(p->ctx, "d/e") == 0, "syncdir of a directory", p->syncdir(p->ctx, "d/e"));

    if (p->list == NULL) {
        skip(t, "list is not set: FOTA and pack need it");
        return;
    }
    struct seen s = {"e", 0, 0, 0};
    err = p->list(p->ctx, "d", on_entry, &s);
    check(t, err == 0 && s.type == FSG_TYPE_DIR, "list: a subdirectory, typed DIR", s.type);
    s = (struct seen){"f.txt", 0, 0, 0};
    err = p->list(p->ctx, "d/e", on_entry, &s);
    check(t, err == 0 && s.type == FSG_TYPE_REG && s.count == 1,
          "list: a file, typed REG, and nothing else (no . or ..)", s.count);
    s = (struct seen){"d", 0, 0, 0};
    err = p->list(p->ctx, "", on_entry, &s);
    check(t, err == 0 && s.type == FSG_TYPE_DIR, "list of the root", s.type);
    s = (struct seen){"", 0, 0, 1};
    err = p->list(p->ctx, "", on_entry, &s);
    check(t, err == 77 && s.count == 1, "list stops at fn's first non-zero and returns it", err);
}

static void renames(struct fsg_conformance *t)
{
    const struct fsg_port *p = t->port;

    int err = write_file(p, "d/new.tmp", "new content\n", 12, 5);
    if (err == 0)
        err = write_file(p, "d/target", "old\n", 4, 4);
    check(t, err == 0, "two files to rename", err);
    err = p->rename(p->ctx, "d/new.tmp", "d/target");
    long n = read_file(p, "d/target", back, sizeof back, 64);
    check(t, err == 0 && n == 12 && memcmp(back, "new content\n", 12) == 0,
          "rename replaces an existing file", n);
    check(t, stat_type(p, "d/new.tmp", NULL) == FSG_ERR_NOENT, "the old name is gone",
          stat_type(p, "d/new.tmp", NULL));
    err = p->rename(p->ctx, "d/target", "moved");
    check(t, err == 0 && read_file(p, "moved", back, sizeof back, 64) == 12,
          "rename into another directory", err);
    err = p->rename(p->ctx, "missing", "x");
    check(t, err == FSG_ERR_NOENT, "rename of a missing file: NOENT", err);
    err = p->remove(p->ctx, "moved");
    check(t, err == 0 && stat_type(p, "moved", NULL) == FSG_ERR_NOENT, "remove", err);
    err = p->remove(p->ctx, "moved");
    check(t, err == FSG_ERR_NOENT, "remove of a missing file: NOENT", err);
}

static void links(struct fsg_conformance *t)
{
    const struct fsg_port *p = t->port;
    void *f;

    if (t->make_link == NULL) {
        skip(t, "symbolic links (no make_link given): a port must never follow one");
    } else if (t->make_link(t->ctx, "ln-dir", "d") != 0 ||
               t->make_link(t->ctx, "ln-file", "a.bin") != 0) {
        skip(t, "symbolic links (make_link failed)");
    } else {
        check(t, stat_type(p, "ln-file", NULL) == FSG_TYPE_LINK, "stat of a link: LINK",
              stat_type(p, "ln-file", NULL));
        int err = p->open(p->ctx, "ln-file", FSG_OPEN_READ, &f);
        if (err == 0)
            (void)p->close(p->ctx, f);
        check(t, err < 0, "open READ of a link: refused (not followed)", err);
        err = p->stat(p->ctx, "ln-dir/e", &(struct fsg_stat){0});
        check(t, err == FSG_ERR_LOOP || err == FSG_ERR_NOTDIR,
              "a path through a linked directory: LOOP or NOTDIR", err);
        err = write_file(p, "ln-dir/planted", "x", 1, 1);
        check(t, err < 0 && stat_type(p, "d/planted", NULL) == FSG_ERR_NOENT,
              "create through a linked directory: refused, nothing created behind it", err);
        err = p->open(p->ctx, "ln-file", FSG_OPEN_CREATE, &f);
        if (err == 0)
            (void)p->close(p->ctx, f);
        check(t, err == FSG_ERR_EXIST, "create at a link's name: EXIST (never through it)", err);
        err = write_file(p, "over-link", "safe\n", 5, 5);
        if (err == 0)
            err = p->rename(p->ctx, "over-link", "ln-file");
        long n = read_file(p, "a.bin", back, sizeof back, sizeof back);
        check(t, err == 0 && n == (long)sizeof big && memcmp(back, big, sizeof big) == 0 &&
                     stat_type(p, "ln-file", NULL) == FSG_TYPE_REG,
              "rename over a link replaces the link, not what it points to", err);
        err = p->remove(p->ctx, "ln-dir");
        check(t, err == 0 && stat_type(p, "d/e/f.txt", NULL) == FSG_TYPE_REG,
              "remove of a link removes the link only", err);
    }
    if (t->make_special == NULL) {
        skip(t, "special files (no make_special given): open must refuse them");
    } else if (t->make_special(t->ctx, "fifo") != 0) {
        skip(t, "special files (make_special failed)");
    } else {
        check(t, stat_type(p, "fifo", NULL) == FSG_TYPE_OTHER, "stat of a special file: OTHER",
              stat_type(p, "fifo", NULL));
        int err = p->open(p->ctx, "fifo", FSG_OPEN_READ, &f);
        if (err == 0)
            (void)p->close(p->ctx, f);
        check(t, err == FSG_ERR_NOTREG, "open READ of a special file: NOTREG, without blocking",
              err);
    }
}

static int count_entry(void *arg, const char *name, int type)
{
    (void)name;
    (void)type;
    (*(long *)arg)++;
    return 0;
}

static long root_entries(const struct fsg_port *p)
{
    long n = 0;
    if (p->list == NULL || p->list(p->ctx, "", count_entry, &n) < 0)
        return -1;
    return n;
}

/* The lock (fsg_port.lock, unlock): optional, both or neither; each mode
 * taken and given back; nothing created in the partition to take it; with
 * t->other, an EXCLUSIVE holder keeps out both modes, SHARED holders share
 * and keep EXCLUSIVE out, a bounded wait ends with FSG_ERR_LOCKED, and the
 * lock is free again once given back. */
static void locks(struct fsg_conformance *t)
{
    const struct fsg_port *p = t->port, *o = t->other;

    check(t, (p->lock == NULL) == (p->unlock == NULL), "lock and unlock: both or neither", 0);
    if (p->lock == NULL || p->unlock == NULL)
        return;
    long before = root_entries(p);
    int err = p->lock(p->ctx, FSG_LOCK_SHARED, 0);
    check(t, err == 0, "lock SHARED of a free partition", err);
    check(t, root_entries(p) == before, "taking the lock creates nothing in the partition",
          root_entries(p));
    if (err == 0) {
        err = p->unlock(p->ctx);
        check(t, err == 0, "unlock after SHARED", err);
    }
    err = p->lock(p->ctx, FSG_LOCK_EXCLUSIVE, 0);
    check(t, err == 0, "lock EXCLUSIVE of a free partition", err);
    if (err == 0) {
        check(t, write_file(p, "locked.txt", "x", 1, 1) == 0,
              "files are written while the lock is held", 0);
        err = p->unlock(p->ctx);
        check(t, err == 0, "unlock after EXCLUSIVE", err);
    }
    if (o == NULL || o->lock == NULL || o->unlock == NULL) {
        skip(t, "the lock between two instances (no other port given)");
        return;
    }
    if (p->lock(p->ctx, FSG_LOCK_EXCLUSIVE, 0) == 0) {
        err = o->lock(o->ctx, FSG_LOCK_SHARED, 0);
        check(t, err == FSG_ERR_LOCKED, "SHARED while another holds EXCLUSIVE: LOCKED", err);
        if (err == 0)
            (void)o->unlock(o->ctx);
        err = o->lock(o->ctx, FSG_LOCK_EXCLUSIVE, 30);
        check(t, err == FSG_ERR_LOCKED,
              "EXCLUSIVE while another holds EXCLUSIVE, after a 30 ms wait: LOCKED", err);
        if (err == 0)
            (void)o->unlock(o->ctx);
        (void)p->unlock(p->ctx);
    }
    if (p->lock(p->ctx, FSG_LOCK_SHARED, 0) == 0) {
        err = o->lock(o->ctx, FSG_LOCK_SHARED, 0);
        check(t, err == 0, "SHARED while another holds SHARED: granted", err);
        if (err == 0)
            (void)o->unlock(o->ctx);
        err = o->lock(o->ctx, FSG_LOCK_EXCLUSIVE, 0);
        check(t, err == FSG_ERR_LOCKED, "EXCLUSIVE while another holds SHARED: LOCKED", err);
        if (err == 0)
            (void)o->unlock(o->ctx);
        (void)p->unlock(p->ctx);
    }
    err = o->lock(o->ctx, FSG_LOCK_EXCLUSIVE, 0);
    check(t, err == 0, "EXCLUSIVE once the other gave its lock back", err);
    if (err == 0)
        (void)o->unlock(o->ctx);
}

/* Permission bits and the write prediction (version 3, optional):
 * getperm and setperm both or neither; bits set on a handle before its
 * sync are what getperm reads back, a link's are never its target's; the
 * prediction for a writable partition is yes, and asking changes nothing. */
static void perms(struct fsg_conformance *t)
{
    const struct fsg_port *p = t->port;
    if (p->version < 3) {
        skip(t, "permission bits and writable: a port older than version 3");
        return;
    }
    check(t, (p->getperm == NULL) == (p->setperm == NULL), "getperm and setperm: both or neither",
          0);
    if (p->getperm != NULL && p->setperm != NULL) {
        static const uint32_t modes[] = {0600, 0755, 0640, 0400};
        for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
            void *f;
            (void)p->remove(p->ctx, "perm.txt");
            int err = p->open(p->ctx, "perm.txt", FSG_OPEN_CREATE, &f);
            check(t, err == 0, "create perm.txt", err);
            if (err < 0)
                return;
            err = p->write(p->ctx, f, "bits\n", 5);
            if (err == 0)
                err = p->setperm(p->ctx, f, modes[i]);
            check(t, err == 0, "setperm on a handle open for writing", err);
            if (err == 0)
                err = p->sync(p->ctx, f);
            int cerr = p->close(p->ctx, f);
            check(t, err == 0 && cerr == 0, "sync and close after setperm", err < 0 ? err : cerr);
            uint32_t got = 0xffffffffu;
            err = p->getperm(p->ctx, "perm.txt", &got);
            check(t, err == 0 && got == modes[i], "getperm reads back what setperm gave",
                  err < 0 ? err : (long)got);
        }
        uint32_t got;
        int err = p->getperm(p->ctx, "no-such-file", &got);
        check(t, err == FSG_ERR_NOENT, "getperm of a missing file: NOENT", err);
        (void)p->mkdir(p->ctx, "permdir");
        err = p->getperm(p->ctx, "permdir", &got);
        check(t, err == FSG_ERR_NOTREG || err == FSG_ERR_ISDIR,
              "getperm of a directory: NOTREG (or ISDIR)", err);
        if (t->make_link != NULL && t->make_link(t->ctx, "permlink", "perm.txt") == 0) {
            err = p->getperm(p->ctx, "permlink", &got);
            check(t, err == FSG_ERR_NOTREG || err == FSG_ERR_LOOP,
                  "getperm of a link: NOTREG or LOOP, never the target's bits", err);
        }
    }
    if (p->writable != NULL) {
        long before = root_entries(p);
        int err = p->writable(p->ctx, "perm.txt");
        check(t, err == 0, "writable: an existing file of a writable partition", err);
        err = p->writable(p->ctx, "newdir/deeper/new.txt");
        check(t, err == 0, "writable: a file whose directories would be made", err);
        check(t, root_entries(p) == before, "writable changes nothing in the partition",
              root_entries(p));
    }
}

int fsg_conformance_run(struct fsg_conformance *t)
{
    t->checks = t->failed = t->skipped = 0;
    basics(t);
    if (t->failed == 0) {
        files(t);
        dirs(t);
        renames(t);
        links(t);
        locks(t);
        perms(t);
    }
    return (int)t->failed;
}
