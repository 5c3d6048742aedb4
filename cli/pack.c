/*
 * pack.c -- `fsguard pack SRC --out OUT`: the factory step. The library's
 * fsg_pack builds both partitions into a staging directory beside OUT; only
 * a complete, synced result is renamed to OUT, so an interrupted pack never
 * leaves an OUT that looks complete.
 */
#define _XOPEN_SOURCE 700
#include "commands.h"
#include "common.h"
#include "fsguard_posix.h"
#include "pattern.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage_pack[] =
    "Usage: fsguard pack SRC --out OUT [OPTIONS]\n"
    "\n"
    "Builds the factory partitions from project tree SRC (the files as they\n"
    "should appear under /usr), as QuecPython's factory tool does with \"backup\"\n"
    "ticked: OUT/usr gets every file and checksum.json; OUT/bak gets a copy of\n"
    "each protected file under usr/, the same checksum.json, and\n"
    "backup_restore.json. The same SRC always gives byte-identical output.\n"
    "Each file keeps its permission bits, without set-id, sticky and\n"
    "world-write, in both partitions (a restore gives them back).\n"
    "OUT appears only once it is complete (built beside it in OUT.fsg-tmp, then\n"
    "renamed). An OUT.fsg-tmp that pack did not make (without its mark file\n"
    "OUT.fsg-tmp.mark beside it) is refused and left alone; a marked one, left\n"
    "by a pack that was killed, is removed first.\n"
    "\n"
    "Refused, with nothing written: links, devices, sockets or FIFOs in SRC;\n"
    "names that cannot be stored; checksum.json or backup_restore.json at the\n"
    "root of SRC; content larger than a given partition size; an existing,\n"
    "non-empty OUT without --force.\n"
    "\n"
    "Options:\n"
    "  --out OUT          where to build (OUT/usr and OUT/bak)\n"
    "  --include GLOB     protect the files matching GLOB (repeatable)\n"
    "  --exclude GLOB     do not protect the files matching GLOB (repeatable)\n"
    "  --list FILE        protect the files named in FILE, one per line\n"
    "                     (/usr/... or relative; blank lines and # comments\n"
    "                     ignored); every name must exist in SRC\n"
    "                     Without --include or --list every file is protected;\n"
    "                     --exclude then removes from the protected set.\n"
    "                     GLOB is matched against the /usr/... name; without a\n"
    "                     leading '/', against the name below /usr/. '*' and '?'\n"
    "                     stay within a directory, '**' spans directories.\n"
    "  --disable          write backup_restore.json with \"enable\": 0\n"
    "  --hash KIND        hashes in checksum.json: crc32 (the default, what\n"
    "                     QuecPython's runtime reads), sha256 (as early QuecPython\n"
    "                     firmware wrote) or both (QuecPython reads the crc32,\n"
    "                     fsguard checks both)\n"
    "  --sign KEY         sign the backup checksum.json with secret key KEY (made\n"
    "                     by 'fsguard keygen') into bak/checksum.json.sig, for\n"
    "                     'fsguard boot --pubkey'; implies --hash both (or\n"
    "                     give --hash sha256); --hash crc32 with --sign is\n"
    "                     refused: a CRC-32 can be forged\n"
    "  --usr-size BYTES   refuse if the user partition's content exceeds BYTES\n"
    "  --bak-size BYTES   refuse if the backup partition's content exceeds BYTES\n"
    "                     (BYTES may end in K, M or G: powers of 1024; content is\n"
    "                     file bytes plus the JSON files, without the file\n"
    "                     system's own overhead: leave a margin)\n"
    "  --force            replace an existing, non-empty OUT\n"
    "  --json             print one JSON report on stdout, whatever the outcome\n"
    "                     (errors too; docs/json.md)\n"
    "  --help             this text\n"
    "\n"
    "Exit codes: 0 built, 8 refused or failed (OUT unchanged), 16 usage error.\n";

struct pack_cli {
    const char *src, *out, *list_file;
    const char **include, **exclude;
    size_t ninclude, nexclude;
    unsigned long *include_hits; /* files each --include matched */
    char **listed;          /* names from --list, "/usr/..." */
    unsigned char *seen;    /* listed[i] matched a file of SRC */
    size_t nlisted;
    int disable, force, json;
    unsigned hashes;
    const char *sign_file;
    unsigned char sign_key[FSG_SECKEY_LEN];
    uint64_t usr_size, bak_size;
    /* progress */
    int progress;
    uint64_t total, done;
    int shown;
    cJSON *files, *refused;
};

static int is_listed(struct pack_cli *pc, const char *name)
{
    for (size_t i = 0; i < pc->nlisted; i++) {
        if (strcmp(pc->listed[i], name) == 0) {
            pc->seen[i] = 1;
            return 1;
        }
    }
    return 0;
}

static int protect(void *ctx, const char *name)
{
    struct pack_cli *pc = ctx;
    /* A --list, even one naming nothing, narrows the set like --include. */
    int chosen = pc->ninclude == 0 && pc->list_file == NULL;

    for (size_t i = 0; i < pc->ninclude; i++) {
        if (pattern_match(pc->include[i], name)) {
            pc->include_hits[i]++;
            chosen = 1;
        }
    }
    /* Always look the name up, so that --list names can be checked. */
    if (is_listed(pc, name))
        chosen = 1;
    for (size_t i = 0; i < pc->nexclude && chosen; i++)
        if (pattern_match(pc->exclude[i], name))
            chosen = 0;
    return chosen;
}

static const char *refusal_text(const struct fsg_event *ev)
{
    switch (ev->refusal) {
    case FSG_REFUSAL_LINK: return "a symbolic link (only regular files and directories are packed)";
    case FSG_REFUSAL_SPECIAL: return "a device, socket, FIFO or other special file";
    case FSG_REFUSAL_RESERVED: return "reserved: fsguard writes this file itself";
    case FSG_REFUSAL_UNREADABLE: return "cannot be read";
    default: return fsg_defect_str(ev->defect);
    }
}

static void show_progress(struct pack_cli *pc, int last)
{
    if (!pc->progress)
        return;
    int pct = pc->total > 0 ? (int)(pc->done * 100 / pc->total) : 100;
    if (pct == pc->shown && !last)
        return;
    pc->shown = pct;
    if (last)
        fputs("\r\033[K", stderr);
    else
        fprintf(stderr, "\rpacking: %3d%% (%llu of %llu MiB)", pct,
                (unsigned long long)(pc->done >> 20), (unsigned long long)(pc->total >> 20));
    fflush(stderr);
}

static void on_pack_event(void *ctx, const struct fsg_event *ev)
{
    struct pack_cli *pc = ctx;

    if (ev->kind == FSG_EVENT_REFUSED) {
        fprintf(stderr, "fsguard: pack: ");
        put_escaped(stderr, pc->src, 0);
        fputc('/', stderr);
        put_escaped(stderr, ev->name, 1);
        fprintf(stderr, ": %s", refusal_text(ev));
        if (ev->refusal == FSG_REFUSAL_UNREADABLE && ev->error != 0)
            fprintf(stderr, " (%s)", fsg_strerror(ev->error));
        fputc('\n', stderr);
        if (pc->json) {
            cJSON *r = cJSON_CreateObject();
            cJSON_AddStringToObject(r, "path", ev->name);
            cJSON_AddStringToObject(r, "reason", refusal_text(ev));
            cJSON_AddItemToArray(pc->refused, r);
        }
    } else if (ev->kind == FSG_EVENT_PLANNED) {
        pc->total = ev->size;
        /* A bar only where someone watches and there is time to watch. */
        pc->progress = isatty(STDERR_FILENO) && ev->size >= (16u << 20);
        pc->shown = -1;
    } else if (ev->kind == FSG_EVENT_PACKED) {
        pc->done += ev->size * (ev->protect ? 2 : 1);
        show_progress(pc, 0);
        if (pc->json) {
            cJSON *f = cJSON_CreateObject();
            cJSON_AddStringToObject(f, "name", ev->name);
            cJSON_AddNumberToObject(f, "size", (double)ev->size);
            json_add_hashes(f, "crc32", "sha256", ev->hashes, ev->recorded, ev->sha_recorded);
            cJSON_AddBoolToObject(f, "protected", ev->protect);
            cJSON_AddItemToArray(pc->files, f);
        }
    }
}

/* --list FILE: one name per line. */
static int read_list(struct pack_cli *pc)
{
    FILE *f = fopen(pc->list_file, "r");
    char line[FSG_NAME_MAX + 64];
    unsigned long lineno = 0;
    size_t cap = 0;

    if (f == NULL) {
        err_msg("pack: %s: %s", pc->list_file, strerror(errno));
        return EXIT_OPERATIONAL;
    }
    while (fgets(line, sizeof line, f) != NULL) {
        lineno++;
        size_t len = strlen(line);
        if (len > 0 && line[len - 1] != '\n' && !feof(f)) {
            err_msg("pack: %s:%lu: line too long", pc->list_file, lineno);
            fclose(f);
            return EXIT_OPERATIONAL;
        }
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' ||
                           line[len - 1] == ' ' || line[len - 1] == '\t'))
            line[--len] = '\0';
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0' || *p == '#')
            continue;
        char *name = malloc(strlen(p) + 6);
        if (name == NULL) {
            fclose(f);
            return EXIT_OPERATIONAL;
        }
        sprintf(name, "%s%s", p[0] == '/' ? "" : "/usr/", p);
        int defect = fsg_name_check(name);
        if (defect != FSG_DEFECT_NONE) {
            fprintf(stderr, "fsguard: pack: %s:%lu: \"", pc->list_file, lineno);
            put_escaped(stderr, p, 1);
            fprintf(stderr, "\": %s\n", fsg_defect_str(defect));
            free(name);
            fclose(f);
            return EXIT_OPERATIONAL;
        }
        if (pc->nlisted == cap) {
            cap = cap ? cap * 2 : 16;
            pc->listed = realloc(pc->listed, cap * sizeof *pc->listed);
            pc->seen = realloc(pc->seen, cap);
            if (pc->listed == NULL || pc->seen == NULL) {
                free(name);
                fclose(f);
                return EXIT_OPERATIONAL;
            }
        }
        pc->seen[pc->nlisted] = 0;
        pc->listed[pc->nlisted++] = name;
    }
    fclose(f);
    return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    return (flag == FTW_DP ? rmdir(path) : unlink(path)) < 0 && errno != ENOENT ? -1 : 0;
}

/* Removes a tree fsguard made (staging or replaced output), never following
 * links. */
static int rm_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : -1;
    return nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int sync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int r = fsync(fd);
    close(fd);
    return r;
}

static int count_entry(void *arg, const char *name, int type)
{
    (void)name;
    (void)type;
    ++*(unsigned long *)arg;
    return 1;
}

/* 1 if directory path is empty, 0 if not, -1 if it cannot be listed. */
static int is_empty_dir(const char *path)
{
    struct fsg_posix p;
    unsigned long n = 0;
    if (fsg_posix_open(&p, path, 1) < 0)
        return -1;
    int r = p.port.list(p.port.ctx, "", count_entry, &n);
    fsg_posix_close(&p);
    return r < 0 ? -1 : n == 0;
}

/* The parent directory of path, for syncing after a rename in it. */
static void parent_of(const char *path, char *out, size_t size)
{
    snprintf(out, size, "%s", path);
    char *slash = strrchr(out, '/');
    while (slash != NULL && slash[1] == '\0' && slash != out) {
        *slash = '\0';
        slash = strrchr(out, '/');
    }
    if (slash == NULL)
        snprintf(out, size, ".");
    else if (slash == out)
        out[1] = '\0';
    else
        *slash = '\0';
}

/* True if a is b or lies inside it (both resolved). */
static int inside(const char *a, const char *b)
{
    size_t n = strlen(b);
    return strncmp(a, b, n) == 0 && (a[n] == '\0' || a[n] == '/' || (n == 1 && b[0] == '/'));
}

static int parse_pack(int argc, char **argv, struct pack_cli *pc)
{
    int code = 0;
    const char *v;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            const char *const help[] = {usage_pack, exits_output, exits_signals, NULL};
            print_help(help);
            return -1;
        } else if (strcmp(a, "--json") == 0) {
            pc->json = 1;
        } else if (strcmp(a, "--force") == 0) {
            pc->force = 1;
        } else if (strcmp(a, "--disable") == 0) {
            pc->disable = 1;
        } else if (strcmp(a, "--out") == 0) {
            if ((pc->out = option_value(argc, argv, &i, "pack", &code)) == NULL)
                return code;
        } else if (strcmp(a, "--hash") == 0) {
            if ((v = option_value(argc, argv, &i, "pack", &code)) == NULL)
                return code;
            pc->hashes = strcmp(v, "crc32") == 0    ? FSG_HASH_CRC32
                         : strcmp(v, "sha256") == 0 ? FSG_HASH_SHA256
                         : strcmp(v, "both") == 0   ? FSG_HASH_CRC32 | FSG_HASH_SHA256
                                                    : 0;
            if (pc->hashes == 0)
                return usage_error("pack", "--hash takes crc32, sha256 or both, not", v);
        } else if (strcmp(a, "--sign") == 0) {
            if ((pc->sign_file = option_value(argc, argv, &i, "pack", &code)) == NULL)
                return code;
        } else if (strcmp(a, "--list") == 0) {
            if ((pc->list_file = option_value(argc, argv, &i, "pack", &code)) == NULL)
                return code;
        } else if (strcmp(a, "--include") == 0 || strcmp(a, "--exclude") == 0) {
            if ((v = option_value(argc, argv, &i, "pack", &code)) == NULL)
                return code;
            int inc = a[2] == 'i';
            const char ***arr = inc ? &pc->include : &pc->exclude;
            size_t *n = inc ? &pc->ninclude : &pc->nexclude;
            *arr = realloc(*arr, (*n + 1) * sizeof **arr);
            if (*arr == NULL)
                return EXIT_OPERATIONAL;
            (*arr)[(*n)++] = v;
        } else if (strcmp(a, "--usr-size") == 0 || strcmp(a, "--bak-size") == 0) {
            if ((v = option_value(argc, argv, &i, "pack", &code)) == NULL)
                return code;
            if (parse_size(v, a[2] == 'u' ? &pc->usr_size : &pc->bak_size) < 0 ||
                (a[2] == 'u' ? pc->usr_size : pc->bak_size) == 0)
                return usage_error("pack", "not a size in bytes (like 262144 or 256K)", v);
        } else if (a[0] == '-' && a[1] != '\0') {
            return usage_error("pack", "unknown option", a);
        } else if (pc->src == NULL) {
            pc->src = a;
        } else {
            return usage_error("pack", "unexpected argument", a);
        }
    }
    pc->include_hits = calloc(pc->ninclude + 1, sizeof *pc->include_hits);
    if (pc->include_hits == NULL)
        return EXIT_OPERATIONAL;
    if (pc->src == NULL)
        return usage_error("pack", "which tree? give SRC, the files as they go under /usr", NULL);
    if (pc->out == NULL)
        return usage_error("pack", "where to? give --out OUT", NULL);
    if (pc->sign_file != NULL) {
        if (pc->hashes == FSG_HASH_CRC32)
            return usage_error("pack", "--sign needs sha256 hashes (a signed CRC-32 can be "
                                       "forged); drop --hash crc32 or give --hash both", NULL);
        if (pc->hashes == 0)
            pc->hashes = FSG_HASH_CRC32 | FSG_HASH_SHA256;
        if ((code = load_key("pack", pc->sign_file, 1, pc->sign_key)) != 0)
            return code;
    }
    if (pc->hashes == 0)
        pc->hashes = FSG_HASH_CRC32;
    return 0;
}

/* Checks SRC and OUT before any work. */
static int check_paths(struct pack_cli *pc, char *staging, size_t size, char *old, size_t osize)
{
    char rsrc[PATH_MAX], rparent[PATH_MAX], parent[PATH_MAX], rout[PATH_MAX + NAME_MAX + 2];
    struct stat st;

    if (stat(pc->src, &st) < 0 || !S_ISDIR(st.st_mode)) {
        err_msg("pack: %s: %s", pc->src, stat(pc->src, &st) < 0 ? strerror(errno)
                                                               : "not a directory");
        return EXIT_OPERATIONAL;
    }
    parent_of(pc->out, parent, sizeof parent);
    if (realpath(pc->src, rsrc) == NULL || realpath(parent, rparent) == NULL) {
        err_msg("pack: %s: %s", realpath(pc->src, rsrc) == NULL ? pc->src : parent,
                strerror(errno));
        return EXIT_OPERATIONAL;
    }
    const char *base = strrchr(pc->out, '/');
    base = base != NULL ? base + 1 : pc->out;
    if (*base == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
        err_msg("pack: --out %s: give a directory name, not a path ending in '/', '.' or '..'",
                pc->out);
        return EXIT_OPERATIONAL;
    }
    snprintf(rout, sizeof rout, "%s/%s", strcmp(rparent, "/") == 0 ? "" : rparent, base);
    if (strcmp(rout, rsrc) == 0) {
        err_msg("pack: %s and %s are the same directory; OUT must be outside SRC", pc->src,
                pc->out);
        return EXIT_OPERATIONAL;
    }
    if (inside(rout, rsrc)) {
        err_msg("pack: %s is inside %s; OUT must be outside SRC", pc->out, pc->src);
        return EXIT_OPERATIONAL;
    }
    if (inside(rsrc, rout)) {
        err_msg("pack: %s is inside %s; SRC must be outside OUT", pc->src, pc->out);
        return EXIT_OPERATIONAL;
    }
    if (lstat(pc->out, &st) == 0) {
        if (S_ISLNK(st.st_mode)) {
            err_msg("pack: %s is a symbolic link; give the real directory; nothing written",
                    pc->out);
            return EXIT_OPERATIONAL;
        }
        if (!S_ISDIR(st.st_mode)) {
            err_msg("pack: %s exists and is not a directory; nothing written", pc->out);
            return EXIT_OPERATIONAL;
        }
        int empty = is_empty_dir(pc->out);
        if (empty < 0) {
            err_msg("pack: %s: cannot read it", pc->out);
            return EXIT_OPERATIONAL;
        }
        if (!empty && !pc->force) {
            err_msg("pack: %s exists and is not empty; give --force to replace it; nothing "
                    "written", pc->out);
            return EXIT_OPERATIONAL;
        }
    }
    if ((size_t)snprintf(staging, size, "%s.fsg-tmp", pc->out) >= size ||
        (size_t)snprintf(old, osize, "%s.fsg-old", pc->out) >= osize) {
        err_msg("pack: --out %s: path too long", pc->out);
        return EXIT_OPERATIONAL;
    }
    return 0;
}

static void print_refusal_summary(const struct pack_cli *pc, const struct fsg_pack_report *r,
                                  int err)
{
    char a[64], b[64];
    if (err == FSG_ERR_INVAL && r->refused > 0) {
        err_msg("pack: %lu entr%s of %s cannot be packed (see above); nothing written",
                r->refused, r->refused == 1 ? "y" : "ies", pc->src);
    } else if (err == FSG_ERR_NOSPC) {
        if (pc->usr_size != 0 && r->usr_bytes > pc->usr_size)
            err_msg("pack: the user partition needs %s of content, more than --usr-size %s; "
                    "nothing written", human_size(r->usr_bytes, a), human_size(pc->usr_size, b));
        if (pc->bak_size != 0 && r->bak_bytes > pc->bak_size)
            err_msg("pack: the backup partition needs %s of content, more than --bak-size %s; "
                    "nothing written", human_size(r->bak_bytes, a), human_size(pc->bak_size, b));
    } else if (err == FSG_ERR_MISMATCH) {
        err_msg("pack: a file of %s changed while it was packed; nothing written", pc->src);
    } else {
        err_msg("pack: %s: %s; nothing written", pc->out, fsg_strerror(err));
    }
}

/* The file that marks a staging directory as pack's own (docs/images.md):
 * OUT.fsg-tmp.mark, beside it. It is written (and synced) before the
 * directory is made and removed only after the directory became OUT, so
 * that wherever pack is killed, a staging directory it made is marked and
 * its output holds no mark. */
#define STAGING_MARK ".mark"

/* Removes staging directory path, then its mark. */
static int drop_staging(const char *path)
{
    char mark[PATH_MAX + sizeof STAGING_MARK];
    snprintf(mark, sizeof mark, "%s" STAGING_MARK, path);
    int r = rm_tree(path);
    return unlink(mark) < 0 && errno != ENOENT ? -1 : r;
}

/* Creates staging directory path, marked. A leftover is removed only if
 * its mark stands beside it (a pack that was killed); anything else there
 * is refused and left as it is. */
static int make_staging(const char *path)
{
    char mark[PATH_MAX + sizeof STAGING_MARK], parent[PATH_MAX];
    struct stat st, ms;

    snprintf(mark, sizeof mark, "%s" STAGING_MARK, path);
    parent_of(path, parent, sizeof parent);
    bool ours = lstat(mark, &ms) == 0 && S_ISREG(ms.st_mode);
    if (lstat(path, &st) == 0) {
        if (!S_ISDIR(st.st_mode) || !ours) {
            char *e = escaped(path, 0);
            err_msg("pack: %s exists and is not a staging directory of fsguard pack (it has no "
                    "mark %s" STAGING_MARK " beside it); it is left as it is: remove or rename it; "
                    "nothing written", e, e);
            free(e);
            return EXIT_OPERATIONAL;
        }
        if (rm_tree(path) < 0)
            goto fail;
    }
    if (!ours) {
        static const char text[] = "fsguard pack's staging directory is beside this mark; "
                                   "both are removed by the next pack\n";
        int fd = open(mark, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0)
            goto fail;
        int bad = write(fd, text, sizeof text - 1) != (ssize_t)(sizeof text - 1) || fsync(fd) < 0;
        if (close(fd) < 0 || bad || sync_dir(parent) < 0)
            goto fail;
    }
    if (mkdir(path, 0755) < 0)
        goto fail;
    return 0;
fail:
    err_msg("pack: %s: %s", path, strerror(errno));
    return EXIT_OPERATIONAL;
}

/* Moves the finished staging directory to OUT. */
static int commit_out(struct pack_cli *pc, const char *staging, const char *old)
{
    char parent[PATH_MAX];
    struct stat st;

    char mark[PATH_MAX + sizeof STAGING_MARK];
    parent_of(pc->out, parent, sizeof parent);
    if (lstat(pc->out, &st) == 0 && is_empty_dir(pc->out) != 1) {
        /* --force: set the old output aside, put the new one in place,
         * then delete the old. A crash in between leaves no OUT at all,
         * never a mixed one. */
        if (rm_tree(old) < 0 || rename(pc->out, old) < 0)
            goto fail;
    }
    /* rename replaces an empty directory atomically. */
    if (rename(staging, pc->out) < 0 || sync_dir(parent) < 0)
        goto fail;
    /* OUT is complete: the mark goes (a leftover one, should this fail or
     * pack be killed here, is the next pack's to remove). */
    snprintf(mark, sizeof mark, "%s" STAGING_MARK, staging);
    if (unlink(mark) < 0 || sync_dir(parent) < 0)
        err_msg("pack: %s: could not remove the staging mark: %s", mark, strerror(errno));
    if (rm_tree(old) < 0)
        err_msg("pack: %s: could not remove the replaced output: %s", old, strerror(errno));
    return 0;
fail:
    err_msg("pack: %s: %s", pc->out, strerror(errno));
    return EXIT_OPERATIONAL;
}

static void print_pack_summary(const struct pack_cli *pc, const struct fsg_pack_report *r)
{
    char a[64];
    printf("fsguard pack: %lu files (%lu protected) from ", r->files, r->protected_files);
    put_safe(stdout, pc->src);
    printf(" into ");
    put_safe(stdout, pc->out);
    printf("\n  ");
    put_safe(stdout, pc->out);
    printf("/usr: %s of content (%lu files + checksum.json)", human_size(r->usr_bytes, a),
           r->files);
    if (pc->usr_size != 0)
        printf(", %.0f%% of --usr-size", (double)r->usr_bytes * 100 / (double)pc->usr_size);
    printf("\n  ");
    put_safe(stdout, pc->out);
    printf("/bak: %s of content (%lu files + checksum.json%s + backup_restore.json)",
           human_size(r->bak_bytes, a), r->protected_files,
           pc->sign_file != NULL ? " + checksum.json.sig" : "");
    if (pc->bak_size != 0)
        printf(", %.0f%% of --bak-size", (double)r->bak_bytes * 100 / (double)pc->bak_size);
    printf("\n  backup/restore %s; hashes: %s",
           pc->disable ? "disabled (\"enable\": 0)" : "enabled",
           pc->hashes == FSG_HASH_SHA256 ? "sha256"
           : pc->hashes == FSG_HASH_CRC32 ? "crc32"
                                          : "crc32 and sha256");
    if (pc->sign_file != NULL) {
        printf("; backup checksum.json signed with ");
        put_safe(stdout, pc->sign_file);
    }
    putchar('\n');
}

static void print_pack_json(struct pack_cli *pc, const struct fsg_pack_report *r, int code)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "command", "pack");
    cJSON_AddStringToObject(j, "src", pc->src);
    cJSON_AddStringToObject(j, "out", pc->out);
    cJSON_AddBoolToObject(j, "enable", !pc->disable);
    cJSON_AddStringToObject(j, "hash", hash_kinds_text(pc->hashes));
    cJSON_AddBoolToObject(j, "signed", pc->sign_file != NULL);
    cJSON_AddItemToObject(j, "files", pc->files);
    cJSON_AddItemToObject(j, "refused", pc->refused);
    pc->files = pc->refused = NULL;
    cJSON *t = cJSON_AddObjectToObject(j, "totals");
    cJSON_AddNumberToObject(t, "files", (double)r->files);
    cJSON_AddNumberToObject(t, "protected", (double)r->protected_files);
    cJSON_AddNumberToObject(t, "usr_bytes", (double)r->usr_bytes);
    cJSON_AddNumberToObject(t, "bak_bytes", (double)r->bak_bytes);
    cJSON_AddNumberToObject(j, "exit_code", code);
    print_json(j, 0);
}

int cmd_pack(int argc, char **argv)
{
    static struct pack_cli pc;
    static unsigned char buf[64 * 1024];
    char staging[PATH_MAX], old[PATH_MAX], sub[PATH_MAX + 8];
    struct fsg_posix src, usr, bak;
    struct fsg_pack opt;
    struct fsg_pack_report r;
    int code = parse_pack(argc, argv, &pc);

    memset(&r, 0, sizeof r);
    if (code != 0)
        return code < 0 ? EXIT_CLEAN : code;
    pc.files = cJSON_CreateArray();
    pc.refused = cJSON_CreateArray();
    if (pc.list_file != NULL && (code = read_list(&pc)) != 0)
        goto done;
    if ((code = check_paths(&pc, staging, sizeof staging, old, sizeof old)) != 0)
        goto done;

    /* Staging: a marked leftover of an interrupted pack is fsguard's own. */
    if ((code = make_staging(staging)) != 0)
        goto done;
    code = EXIT_OPERATIONAL;
    int err = fsg_posix_open(&src, pc.src, 1);
    snprintf(sub, sizeof sub, "%s/usr", staging);
    if (err == 0 && (mkdir(sub, 0755) < 0 || (err = fsg_posix_open(&usr, sub, 0)) < 0))
        err = err < 0 ? err : fsg_posix_error(errno);
    snprintf(sub, sizeof sub, "%s/bak", staging);
    if (err == 0 && (mkdir(sub, 0755) < 0 || (err = fsg_posix_open(&bak, sub, 0)) < 0))
        err = err < 0 ? err : fsg_posix_error(errno);
    if (err < 0) {
        err_msg("pack: cannot set up %s: %s", staging, fsg_strerror(err));
        drop_staging(staging);
        goto done;
    }

    memset(&opt, 0, sizeof opt);
    opt.src = &src.port;
    opt.usr = &usr.port;
    opt.bak = &bak.port;
    opt.protect = protect;
    opt.protect_ctx = &pc;
    opt.enable = !pc.disable;
    opt.hashes = pc.hashes;
    opt.sign_key = pc.sign_file != NULL ? pc.sign_key : NULL;
    opt.usr_limit = pc.usr_size;
    opt.bak_limit = pc.bak_size;
    opt.buf = buf;
    opt.buf_size = sizeof buf;
    opt.on_event = on_pack_event;
    opt.event_ctx = &pc;
    opt.cancelled = run_cancelled;
    err = fsg_pack(&opt, &r);
    show_progress(&pc, 1);
    fsg_posix_close(&src);
    fsg_posix_close(&usr);
    fsg_posix_close(&bak);

    code = EXIT_OPERATIONAL;
    if (err < 0 || run.signo) {
        if (err != FSG_ERR_CANCELLED && !run.signo)
            print_refusal_summary(&pc, &r, err);
    } else {
        size_t missing = 0;
        for (size_t i = 0; i < pc.nlisted; i++) {
            if (!pc.seen[i]) {
                fputs("fsguard: pack: ", stderr);
                put_escaped(stderr, pc.list_file, 0);
                fputs(": ", stderr);
                put_escaped(stderr, pc.listed[i], 1);
                fputs(" is not a file of ", stderr);
                put_escaped(stderr, pc.src, 0);
                fputc('\n', stderr);
                missing++;
            }
        }
        if (missing > 0)
            err_msg("pack: %zu listed name%s not found; nothing written", missing,
                    missing == 1 ? "" : "s");
        else
            code = commit_out(&pc, staging, old);
    }
    if (code != EXIT_CLEAN)
        drop_staging(staging);
    for (size_t i = 0; code == EXIT_CLEAN && i < pc.ninclude; i++)
        if (pc.include_hits[i] == 0)
            err_msg("pack: warning: --include '%s' matches no file", pc.include[i]);
done:
    if (pc.json)
        print_pack_json(&pc, &r, code);
    else if (code == EXIT_CLEAN)
        print_pack_summary(&pc, &r);
    cJSON_Delete(pc.files);
    cJSON_Delete(pc.refused);
    return code;
}
