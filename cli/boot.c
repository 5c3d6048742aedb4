/*
 * boot.c -- `fsguard boot` and `fsguard verify` (the check, printing the
 * library's events for people, --json for machines, with fsck-style exit
 * codes), and for now `fsguard calc` and `fsguard put` too, all four behind
 * one option parser.
 */
#define _POSIX_C_SOURCE 200809L
#include "common.h"
#include "fsguard_posix.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_boot[] =
    "Usage: fsguard boot (--root DIR | --usr DIR --bak DIR) [--pubkey KEY.pub]\n"
    "                    [--jobs N] [--json]\n"
    "\n"
    "The boot-time check. If the backup's backup_restore.json enables the feature,\n"
    "every file listed in the user checksum.json is hashed; a missing, damaged\n"
    "or non-regular one is restored from its backup copy, but only if that copy\n"
    "matches the backup checksum.json. A missing user checksum.json is copied\n"
    "from the backup, an invalid one rebuilt from it. Every change is written to\n"
    "a temporary file, synced and renamed into place. A clean boot writes nothing.\n"
    "An update left half-done (fsguard fota) is settled first: finished if it\n"
    "was committed, discarded if not.\n"
    "\n"
    "Entries may carry \"crc32\", \"sha256\" or both; every hash present is checked,\n"
    "in the user file and in the backup copy before it is restored.\n"
    "\n"
    "With --pubkey, the backup checksum.json must carry a valid signature by that\n"
    "key (bak/checksum.json.sig, made by 'fsguard pack --sign'), checked before\n"
    "anything else: a missing or wrong one is reported and nothing is written\n"
    "(exit 8). A signed table vouches for a backup copy only through its\n"
    "\"sha256\": an entry with only a CRC-32 is not restored from.\n"
    "\n"
    "Prints one line per file that needed attention and a summary; --json\n"
    "prints one JSON report (every file with name, status ok|restored|failed,\n"
    "reason and hash) instead.\n"
    "\n";

static const char usage_verify[] =
    "Usage: fsguard verify (--root DIR | --usr DIR --bak DIR) [--pubkey KEY.pub]\n"
    "                      [--jobs N] [--json]\n"
    "\n"
    "Runs the boot check without writing anything at all and reports what boot\n"
    "would do: files it would restore (status would_restore in --json), files it\n"
    "could not restore, and what it would do to checksum.json. The exit code is\n"
    "the one boot would return; --pubkey checks the backup's signature as boot does.\n"
    "\n";

static const char usage_calc[] =
    "Usage: fsguard calc (--root DIR | --usr DIR --bak DIR) /usr/PATH\n"
    "\n"
    "QuecPython's file_crc32.calc('/usr/PATH'): after a legitimate edit of a\n"
    "protected file, hashes it, records the hash in the user checksum.json\n"
    "(atomically, only if the table changes) and prints it as stored\n"
    "(\"0x1c291ca3\").\n"
    "An entry keeps the kinds of hash it has; for a \"sha256\"-only entry the\n"
    "sha256 is printed (with --json: every hash the entry carries).\n"
    "A file that is not listed in checksum.json, or does not exist, is an error\n"
    "and changes nothing.\n"
    "\n";

static const char usage_put[] =
    "Usage: fsguard put (--root DIR | --usr DIR --bak DIR) SRC /usr/PATH\n"
    "\n"
    "Replaces protected file /usr/PATH with the content of host file SRC so\n"
    "that a power cut at any instant leaves the old or the new content, and the\n"
    "next boot accepts whichever it finds (a plain copy followed by calc would\n"
    "be reverted to the factory copy if the cut fell between the two). The new\n"
    "content goes to a temporary file beside the target, is synced and\n"
    "verified; its hash is recorded as pending in checksum.json; the file is\n"
    "renamed into place and the directory synced; then the hash is committed.\n"
    "Prints the new hash as stored (\"0x1c291ca3\"; as calc does for an entry\n"
    "with a \"sha256\"). A name not listed in checksum.json is an error and\n"
    "changes nothing.\n"
    "\n";

static const char usage_common[] =
    "\nOptions:\n"
    "  --json        print one JSON report on stdout\n"
    "  --help        this text\n";

static const char usage_pubkey[] =
    "  --pubkey KEY.pub  restore only from a backup checksum.json signed by this key\n"
    "  --jobs N      hash files on N threads, 1 to 16 (default: one per\n"
    "                processor, at most 16); what is done with them is decided\n"
    "                in order, as with one\n";

static const char exits_check[] =
    "\nExit codes: 0 nothing needed fixing, 1 damage found and all repaired,\n"
    "4 damage left unrepaired, 8 operational error, 16 usage error.\n";

static const char exits_calc[] =
    "\nExit codes: 0 hash recorded and printed, 8 error (nothing changed, but\n"
    "for put failing in its very last step: the new file is then in place with\n"
    "its hash pending, and the next boot commits it), 16 usage error.\n";

struct opts {
    const char *cmd;
    struct partitions part;
    const char *usr, *bak;  /* resolved from part */
    const char *name;   /* calc's and put's device name */
    const char *src;    /* put's host file */
    const char *pubkey_file;
    unsigned char pubkey[FSG_SECKEY_LEN];
    int jobs;           /* threads hashing files; 0: one per core */
    int json;
};

/* ---- reporting ---- */

struct printer {
    const struct opts *o;
    int dry;
    unsigned long nfiles;       /* files printed so far (JSON comma) */
    cJSON *entries, *temps;     /* gathered for the JSON report */
};

static const char *failure_text(int failure)
{
    switch (failure) {
    case FSG_FAILURE_NO_ENTRY: return "the backup checksum.json has no entry for it";
    case FSG_FAILURE_BAK_MISSING: return "its backup copy is missing";
    case FSG_FAILURE_BAK_DAMAGED: return "its backup copy is damaged (fails its hash)";
    case FSG_FAILURE_BAK_UNREADABLE: return "its backup copy is unreadable";
    case FSG_FAILURE_BLOCKED:
        return "fsguard never replaces a directory or writes through a link";
    case FSG_FAILURE_WRITE: return "writing the user partition failed";
    case FSG_FAILURE_WEAK_HASH:
        return "the signed backup checksum.json has no sha256 for it (a CRC-32 alone can be "
               "forged)";
    default: return "";
    }
}

static const char *status_text(int status, int dry)
{
    switch (status) {
    case FSG_STATUS_OK: return "ok";
    case FSG_STATUS_RESTORED: return dry ? "would_restore" : "restored";
    default: return "failed";
    }
}

/* One sentence saying why a file needed attention. */
static void file_reason(const struct fsg_event *ev, char *out, size_t size)
{
    char a[FSG_SHA256_STRLEN], e[FSG_SHA256_STRLEN];
    int n;
    int has_crc = (ev->expected_hashes & FSG_HASH_CRC32) != 0;
    int crc_differs = has_crc && ev->actual != ev->expected;

    if (ev->problem == FSG_PROBLEM_MISMATCH && ev->sha_expected != NULL &&
        ev->sha_actual != NULL && !crc_differs)
        /* The sha256 is what tells: the crc32 matches, or the entry has none. */
        n = snprintf(out, size, "%s (sha256 %.16s..., expected %.16s...%s)",
                     problem_text(ev->problem), fsg_sha256_format(ev->sha_actual, a),
                     fsg_sha256_format(ev->sha_expected, e),
                     has_crc ? "; its crc32 matches: altered to look intact" : "");
    else if (ev->problem == FSG_PROBLEM_MISMATCH)
        n = snprintf(out, size, "%s (crc32 %s, expected %s)", problem_text(ev->problem),
                     fsg_hash_format(ev->actual, a), fsg_hash_format(ev->expected, e));
    else if (ev->problem == FSG_PROBLEM_NOT_REGULAR && ev->error == FSG_ERR_ISDIR)
        n = snprintf(out, size, "a directory stands in its place");
    else if (ev->problem == FSG_PROBLEM_NOT_REGULAR)
        n = snprintf(out, size, "not a regular file (a symbolic link or special file)");
    else if (ev->problem == FSG_PROBLEM_UNREADABLE)
        n = snprintf(out, size, "%s (%s)", problem_text(ev->problem), fsg_strerror(ev->error));
    else if (ev->problem != FSG_PROBLEM_NONE)
        n = snprintf(out, size, "%s", problem_text(ev->problem));
    else
        n = snprintf(out, size, "%s", "");
    if (n < 0 || (size_t)n >= size)
        return;
    if (ev->hash_only)
        snprintf(out + n, size - (size_t)n, "; it is the factory copy: hash entry corrected");
    else if (ev->status == FSG_STATUS_FAILED && ev->error != 0 &&
             ev->failure != FSG_FAILURE_BAK_MISSING && ev->failure != FSG_FAILURE_BAK_DAMAGED &&
             ev->failure != FSG_FAILURE_BLOCKED)
        snprintf(out + n, size - (size_t)n, "; not restored: %s (%s)",
                 failure_text(ev->failure), fsg_strerror(ev->error));
    else if (ev->status == FSG_STATUS_FAILED)
        snprintf(out + n, size - (size_t)n, "; not restored: %s", failure_text(ev->failure));
    if (ev->pending != FSG_PENDING_NONE) {
        size_t k = strlen(out);
        snprintf(out + k, size - k, "%san interrupted edit (fsguard put) was %s", k > 0 ? "; " : "",
                 ev->pending == FSG_PENDING_COMMITTED ? "committed: the new content stays"
                                                      : "discarded: its new content never "
                                                        "reached the file");
    }
    if (ev->entry_added) {
        size_t k = strlen(out);
        snprintf(out + k, size - k, "%sentry put back from the backup checksum.json",
                 k > 0 ? "; " : "");
    }
}

static const char *dir_of(const struct opts *o, int source)
{
    return source == FSG_SOURCE_BAK ? o->bak : o->usr;
}

static void on_event(void *ctx, const struct fsg_event *ev)
{
    struct printer *pr = ctx;
    const struct opts *o = pr->o;
    char reason[512];

    if (ev->kind == FSG_EVENT_ENTRY) {
        fprintf(stderr, "fsguard: ");
        put_safe(stderr, dir_of(o, ev->source));
        fprintf(stderr, "/checksum.json: entry %lu", ev->index);
        /* A name refused for its characters may hold invalid UTF-8. */
        int ascii = ev->defect == FSG_DEFECT_NAME_CHARS;
        if (ev->name != NULL) {
            fputs(" (\"", stderr);
            put_escaped(stderr, ev->name, ascii);
            fputs("\")", stderr);
        }
        fprintf(stderr, ": %s; skipped\n", fsg_defect_str(ev->defect));
        if (o->json) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "manifest", ev->source == FSG_SOURCE_BAK ? "bak" : "usr");
            cJSON_AddNumberToObject(e, "index", (double)ev->index);
            if (ev->name != NULL) {
                char *n = escaped(ev->name, ascii);
                cJSON_AddStringToObject(e, "name", ascii ? n : ev->name);
                free(n);
            } else
                cJSON_AddNullToObject(e, "name");
            cJSON_AddStringToObject(e, "reason", fsg_defect_str(ev->defect));
            cJSON_AddItemToArray(pr->entries, e);
        }
        return;
    }
    if (ev->kind == FSG_EVENT_TEMP) {
        if (o->json) {
            cJSON_AddItemToArray(pr->temps, cJSON_CreateString(ev->name));
        } else {
            printf("%s  ", pr->dry ? "would remove" : "removed");
            put_safe(stdout, o->usr);
            putchar('/');
            put_safe(stdout, ev->name);
            printf(": temporary file left by an interrupted run\n");
        }
        return;
    }

    /* FSG_EVENT_FILE */
    reason[0] = '\0';
    int notable = ev->status != FSG_STATUS_OK || ev->entry_added || ev->pending;
    if (notable)
        file_reason(ev, reason, sizeof reason);
    if (o->json) {
        cJSON *f = cJSON_CreateObject();
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", o->usr, ev->name + 5);
        cJSON_AddStringToObject(f, "name", ev->name);
        cJSON_AddStringToObject(f, "path", path);
        cJSON_AddStringToObject(f, "status", status_text(ev->status, pr->dry));
        if (reason[0] != '\0')
            cJSON_AddStringToObject(f, "reason", reason);
        else
            cJSON_AddNullToObject(f, "reason");
        json_add_hashes(f, "crc32", "sha256", ev->hashes, ev->recorded, ev->sha_recorded);
        json_add_found(f, ev);
        char *s = cJSON_PrintUnformatted(f);
        printf("%s\n    %s", pr->nfiles == 0 ? "" : ",", s != NULL ? s : "null");
        cJSON_free(s);
        cJSON_Delete(f);
        pr->nfiles++;
        return;
    }
    if (!notable)
        return;
    const char *label = ev->status == FSG_STATUS_FAILED ? "FAILED  "
                        : ev->pending && ev->status == FSG_STATUS_OK ? "finished"
                        : ev->status == FSG_STATUS_OK    ? "ok      "
                        : pr->dry                         ? "would restore"
                                                          : "restored";
    printf("%s  ", label);
    put_safe(stdout, o->usr);
    putchar('/');
    put_safe(stdout, ev->name + 5);
    printf(": %s\n", reason);
}

static const char *manifest_text(int action)
{
    switch (action) {
    case FSG_MANIFEST_CREATED: return "created";
    case FSG_MANIFEST_REBUILT: return "rebuilt";
    case FSG_MANIFEST_UPDATED: return "updated";
    default: return "unchanged";
    }
}

/* Describes why the user checksum.json was rebuilt. */
static void usr_manifest_reason(const struct fsg_report *r, char *out, size_t size)
{
    if (r->usr_manifest_error == FSG_ERR_CORRUPT)
        snprintf(out, size, "not a valid JSON array (broken at byte %llu)",
                 (unsigned long long)r->usr_manifest_offset);
    else
        snprintf(out, size, "unreadable (%s)", fsg_strerror(r->usr_manifest_error));
}

static void print_summary(const struct printer *pr, const struct fsg_report *r, int code)
{
    const struct opts *o = pr->o;
    char why[256];

    if (r->fota != FSG_FOTA_NONE) {
        const char *verb = pr->dry ? "would be " : "";
        if (r->fota == FSG_FOTA_COMMITTED)
            printf("update: a committed update of %lu files %sfinished\n", r->fota_files, verb);
        else if (r->fota == FSG_FOTA_UNCOMMITTED)
            printf("update: an uncommitted update %sdiscarded; every file stays as it was\n",
                   verb);
        else
            printf("update: its journal is damaged; the update %sabandoned, %lu files put "
                   "back as they were\n", verb, r->fota_files);
    }
    if (r->feature != FSG_FEATURE_ENABLED) {
        printf("fsguard %s: backup/restore is off: ", o->cmd);
        put_safe(stdout, o->bak);
        if (r->feature == FSG_FEATURE_NO_SWITCH)
            printf("/backup_restore.json does not exist");
        else if (r->feature == FSG_FEATURE_DISABLED)
            printf("/backup_restore.json turns it off (\"enable\" is 0 or false)");
        else if (r->feature_error == FSG_ERR_CORRUPT)
            printf("/backup_restore.json is not a JSON object with an \"enable\" key "
                   "(like {\"enable\": 1})");
        else
            printf("/backup_restore.json is unreadable (%s)", fsg_strerror(r->feature_error));
        printf("; nothing checked, nothing changed\n");
        return;
    }
    if (r->manifest != FSG_MANIFEST_UNCHANGED) {
        const char *verb = pr->dry ? "would be " : "";
        put_safe(stdout, o->usr);
        if (r->manifest == FSG_MANIFEST_CREATED) {
            printf("/checksum.json: missing; %scopied from ", verb);
            put_safe(stdout, o->bak);
            printf("/checksum.json\n");
        } else if (r->manifest == FSG_MANIFEST_REBUILT) {
            usr_manifest_reason(r, why, sizeof why);
            printf("/checksum.json: %s; %srebuilt from ", why, verb);
            put_safe(stdout, o->bak);
            printf("/checksum.json\n");
        } else {
            printf("/checksum.json: %supdated with the new hashes\n", verb);
        }
    }
    printf("fsguard %s: %lu files checked: %lu ok, %lu %s, %lu failed", o->cmd, r->files,
           r->ok, r->restored, pr->dry ? "would be restored" : "restored", r->failed);
    if (r->bad_entries > 0)
        printf(", %lu bad checksum.json entries skipped", r->bad_entries);
    printf(" (exit %d)\n", code);
}

static void print_json_tail(struct printer *pr, const struct fsg_report *r, int code)
{
    char why[256];
    cJSON *t = cJSON_CreateObject();

    cJSON_AddStringToObject(t, "feature", feature_text(r->feature));
    cJSON_AddStringToObject(t, "signature", signature_text(r->signature));
    cJSON_AddStringToObject(t, "fota", r->fota == FSG_FOTA_COMMITTED     ? "finished"
                                       : r->fota == FSG_FOTA_UNCOMMITTED ? "discarded"
                                       : r->fota == FSG_FOTA_DAMAGED     ? "abandoned"
                                                                         : "none");
    cJSON *m = cJSON_AddObjectToObject(t, "checksum_json");
    cJSON_AddStringToObject(m, "action", manifest_text(r->manifest));
    cJSON_AddBoolToObject(m, "written", r->manifest_written);
    if (r->manifest == FSG_MANIFEST_REBUILT) {
        usr_manifest_reason(r, why, sizeof why);
        cJSON_AddStringToObject(m, "reason", why);
    } else if (r->manifest == FSG_MANIFEST_CREATED) {
        cJSON_AddStringToObject(m, "reason", "missing");
    } else {
        cJSON_AddNullToObject(m, "reason");
    }
    cJSON_AddItemToObject(t, "invalid_entries", pr->entries);
    cJSON_AddItemToObject(t, "temporary_files_removed", pr->temps);
    pr->entries = pr->temps = NULL;
    cJSON *n = cJSON_AddObjectToObject(t, "totals");
    cJSON_AddNumberToObject(n, "checked", (double)r->files);
    cJSON_AddNumberToObject(n, "ok", (double)r->ok);
    cJSON_AddNumberToObject(n, pr->dry ? "would_restore" : "restored", (double)r->restored);
    cJSON_AddNumberToObject(n, "failed", (double)r->failed);
    cJSON_AddNumberToObject(n, "entries_put_back", (double)r->entries_added);
    cJSON_AddNumberToObject(n, "edits_finished", (double)r->edits_finished);
    cJSON_AddNumberToObject(n, "invalid_entries", (double)r->bad_entries);
    cJSON_AddNumberToObject(t, "exit_code", code);
    /* Splice the tail's members after the streamed "files" array. */
    char *s = cJSON_PrintUnformatted(t);
    printf("\n  ],\n  %s\n", s != NULL ? s + 1 : "}");
    cJSON_free(s);
    cJSON_Delete(t);
}

/* ---- commands ---- */

static int cmd_boot(const struct opts *o, int flags)
{
    static struct device d;
    static struct fsg_posix_hasher hasher;
    struct printer pr;
    struct fsg_report r;

    int code = device_open(&d, &o->part, o->cmd);
    if (code != 0)
        return code;
    memset(&pr, 0, sizeof pr);
    pr.o = o;
    pr.dry = (flags & FSG_DRY_RUN) != 0;
    if (o->json) {
        pr.entries = cJSON_CreateArray();
        pr.temps = cJSON_CreateArray();
        cJSON *head = cJSON_CreateObject();
        cJSON_AddStringToObject(head, "command", o->cmd);
        cJSON_AddStringToObject(head, "usr", o->usr);
        cJSON_AddStringToObject(head, "bak", o->bak);
        cJSON_AddBoolToObject(head, "dry_run", pr.dry);
        char *s = cJSON_PrintUnformatted(head);
        /* Open the object, leave it open for the streamed "files" array. */
        s[strlen(s) - 1] = '\0';
        printf("%s,\n  \"files\": [", s);
        cJSON_free(s);
        cJSON_Delete(head);
    }
    d.cfg.on_event = on_event;
    d.cfg.event_ctx = &pr;
    d.cfg.pubkey = o->pubkey_file != NULL ? o->pubkey : NULL;
    /* Files are hashed on every core; judged in order, in this thread. */
    hasher.p = &d.usr;
    hasher.threads = o->jobs > 0 ? o->jobs : fsg_posix_cpus();
    d.cfg.hash_files = fsg_posix_hash_files;
    d.cfg.hash_ctx = &hasher;
    int err = fsg_boot(&d.cfg, flags, &r);
    if (err < 0) {
        char why[8192];
        if (err == FSG_ERR_SIGNATURE) {
            signature_reason(r.signature, r.signature_error, o->bak, o->pubkey_file, why,
                             sizeof why);
            err_msg("%s; refusing to restore from it; nothing was changed", why);
        } else if (r.bak_manifest_error == FSG_ERR_CORRUPT)
            err_msg("%s/checksum.json: not a valid JSON array (broken at byte %llu); the "
                    "backup partition is unusable, nothing was changed",
                    o->bak, (unsigned long long)r.bak_manifest_offset);
        else if (r.bak_manifest_error != 0)
            err_msg("%s/checksum.json: %s; the backup partition is unusable, nothing was "
                    "changed", o->bak, fsg_strerror(r.bak_manifest_error));
        else
            err_msg("%s: %s: %s", o->cmd, o->usr, fsg_strerror(err));
        code = EXIT_OPERATIONAL;
    } else {
        code = fsg_report_exit_code(&r);
    }
    if (o->json) {
        print_json_tail(&pr, &r, code);
        if (err < 0) {
            /* The report above is partial; say so for machines too. */
            fflush(stdout);
        }
    } else if (err == 0) {
        print_summary(&pr, &r, code);
    }
    cJSON_Delete(pr.entries);
    cJSON_Delete(pr.temps);
    device_close(&d);
    return code;
}

/* Streams host file src into protected file name through fsg_put. */
static int put_file(const struct fsg_config *cfg, const char *src, const char *name,
                    uint32_t *crc, int *host_errno)
{
    static unsigned char chunk[64 * 1024];
    struct fsg_put *put;
    FILE *in = fopen(src, "rb");

    if (in == NULL) {
        *host_errno = errno;
        return FSG_ERR_IO;
    }
    int err = fsg_put_begin(cfg, name, &put);
    size_t n;
    while (err == 0 && (n = fread(chunk, 1, sizeof chunk, in)) > 0)
        err = fsg_put_write(put, chunk, n);
    if (err == 0 && ferror(in)) {
        *host_errno = errno != 0 ? errno : EIO;
        err = FSG_ERR_IO;
        fsg_put_abort(put);
    } else if (err == 0) {
        err = fsg_put_commit(put, crc);
    } else if (put != NULL) {
        fsg_put_abort(put);
    }
    fclose(in);
    return err;
}

/* The entry calc or put recorded, as its FILE event tells. */
struct recorded {
    unsigned kinds;
    uint32_t crc;
    unsigned char sha[FSG_SHA256_LEN];
};

static void on_edit_event(void *ctx, const struct fsg_event *ev)
{
    struct recorded *rec = ctx;
    if (ev->kind != FSG_EVENT_FILE)
        return;
    rec->kinds = ev->hashes;
    rec->crc = ev->recorded;
    if (ev->sha_recorded != NULL)
        memcpy(rec->sha, ev->sha_recorded, sizeof rec->sha);
}

/* calc and put: record, or write and record, one protected file's hash. */
static int cmd_edit(const struct opts *o)
{
    static struct device d;
    struct recorded rec;
    uint32_t crc;
    char h[FSG_HASH_STRLEN], sh[FSG_SHA256_STRLEN];
    int host_errno = 0;

    int defect = fsg_name_check(o->name);
    if (defect != FSG_DEFECT_NONE) {
        fprintf(stderr, "fsguard: %s: \"", o->cmd);
        put_escaped(stderr, o->name, 1);
        fprintf(stderr, "\": %s (expected a device name like /usr/app/main.py)\n",
                fsg_defect_str(defect));
        return EXIT_USAGE;
    }
    int code = device_open(&d, &o->part, o->cmd);
    if (code != 0)
        return code;
    memset(&rec, 0, sizeof rec);
    d.cfg.on_event = on_edit_event;
    d.cfg.event_ctx = &rec;
    int err = o->src != NULL ? put_file(&d.cfg, o->src, o->name, &crc, &host_errno)
                             : fsg_calc(&d.cfg, o->name, &crc);
    if (err < 0) {
        fprintf(stderr, "fsguard: %s: ", o->cmd);
        if (host_errno != 0) {
            put_safe(stderr, o->src);
            fprintf(stderr, ": %s; nothing changed\n", strerror(host_errno));
            device_close(&d);
            return EXIT_OPERATIONAL;
        }
        put_safe(stderr, o->name);
        if (err == FSG_ERR_NOTPROTECTED)
            fprintf(stderr, ": not listed in %s/checksum.json; nothing changed\n", o->usr);
        else if (err == FSG_ERR_CORRUPT)
            fprintf(stderr, ": %s/checksum.json is not a valid JSON array; run 'fsguard boot' "
                    "to rebuild it; nothing changed\n", o->usr);
        else
            fprintf(stderr, ": %s\n", fsg_strerror(err));
        device_close(&d);
        return EXIT_OPERATIONAL;
    }
    /* A successful calc or put reports its entry (fsguard.h): rec holds it. */
    const unsigned char *sha = rec.kinds & FSG_HASH_SHA256 ? rec.sha : NULL;
    if (o->json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "name", o->name);
        json_add_hashes(j, "crc32", "sha256", rec.kinds, rec.crc, sha);
        print_json(j, 1);
    } else if (sha == NULL || (rec.kinds & FSG_HASH_CRC32)) {
        printf("%s\n", fsg_hash_format(rec.crc, h));
    } else {
        printf("%s\n", fsg_sha256_format(sha, sh));
    }
    device_close(&d);
    return EXIT_CLEAN;
}

/* ---- options ---- */

static void print_help(const char *cmd)
{
    if (strcmp(cmd, "boot") == 0)
        fputs(usage_boot, stdout);
    else if (strcmp(cmd, "verify") == 0)
        fputs(usage_verify, stdout);
    else if (strcmp(cmd, "put") == 0)
        fputs(usage_put, stdout);
    else
        fputs(usage_calc, stdout);
    fputs(usage_partitions, stdout);
    fputs(usage_common, stdout);
    if (strcmp(cmd, "boot") == 0 || strcmp(cmd, "verify") == 0)
        fputs(usage_pubkey, stdout);
    int edit = strcmp(cmd, "calc") == 0 || strcmp(cmd, "put") == 0;
    fputs(edit ? exits_calc : exits_check, stdout);
}

static int parse(int argc, char **argv, struct opts *o)
{
    const char *cmd = o->cmd;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        int taken = partition_option(&o->part, argc, argv, &i, cmd);
        if (taken != 0) {
            if (taken != 1)
                return taken;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            print_help(cmd);
            return -1;
        } else if (strcmp(a, "--json") == 0) {
            o->json = 1;
        } else if (strcmp(a, "--jobs") == 0 &&
                   (strcmp(cmd, "boot") == 0 || strcmp(cmd, "verify") == 0)) {
            int code = 0;
            const char *v = option_value(argc, argv, &i, cmd, &code);
            if (v == NULL)
                return code;
            char *end;
            long n = strtol(v, &end, 10);
            if (*end != '\0' || n < 1 || n > FSG_POSIX_MAX_THREADS)
                return usage_error(cmd, "--jobs takes a number of threads from 1 to 16, not", v);
            o->jobs = (int)n;
        } else if (strcmp(a, "--pubkey") == 0 &&
                   (strcmp(cmd, "boot") == 0 || strcmp(cmd, "verify") == 0)) {
            int code = 0;
            if ((o->pubkey_file = option_value(argc, argv, &i, cmd, &code)) == NULL)
                return code;
        } else if (a[0] == '-' && a[1] != '\0') {
            return usage_error(cmd, "unknown option", a);
        } else if (strcmp(cmd, "put") == 0 && o->src == NULL) {
            o->src = a;
        } else if ((strcmp(cmd, "calc") == 0 || strcmp(cmd, "put") == 0) && o->name == NULL) {
            o->name = a;
        } else {
            return usage_error(cmd, "unexpected argument", a);
        }
    }
    int code = partitions_resolve(&o->part, cmd, 1);
    if (code != 0)
        return code;
    if (o->pubkey_file != NULL && (code = load_key(cmd, o->pubkey_file, 0, o->pubkey)) != 0)
        return code;
    o->usr = o->part.usr;
    o->bak = o->part.bak;
    if (strcmp(cmd, "put") == 0 && o->name == NULL)
        return usage_error(cmd, "give the new content's file and the device name: "
                                "put SRC /usr/PATH", NULL);
    if (strcmp(cmd, "calc") == 0 && o->name == NULL)
        return usage_error(cmd, "which file? give its device name, like /usr/app/main.py", NULL);
    return 0;
}
/* boot, verify, calc and put: their options, then the command. */
int cmd_device(int argc, char **argv)
{
    static struct opts o;
    const char *cmd = argv[1];

    o.cmd = cmd;
    int r = parse(argc, argv, &o);
    if (r != 0)
        return r < 0 ? EXIT_CLEAN : r;
    if (strcmp(cmd, "calc") == 0 || strcmp(cmd, "put") == 0)
        return cmd_edit(&o);
    return cmd_boot(&o, strcmp(cmd, "verify") == 0 ? FSG_DRY_RUN : 0);
}
