/*
 * boot.c -- `fsguard boot` and `fsguard verify`: the check of every protected
 * file (fsg_boot), printing the library's events and a summary for people,
 * or one JSON report (--json) for machines, with fsck-style exit codes.
 */
#define _POSIX_C_SOURCE 200809L
#include "commands.h"
#include "common.h"
#include "fsguard_posix.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_boot[] =
    "Usage: fsguard boot (--root DIR | --usr DIR --bak DIR) [--pubkey KEY.pub]\n"
    "                    [--jobs N] [--wait S] [--json]\n"
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
    "                      [--jobs N] [--wait S] [--json]\n"
    "\n"
    "Runs the boot check without writing anything at all and reports what boot\n"
    "would do: files it would restore (status would_restore in --json), files it\n"
    "could not restore, and what it would do to checksum.json. The exit code is\n"
    "the one boot would return, also on a user partition that is read-only or\n"
    "that the caller may not write (each change boot would make is checked for\n"
    "permission, not made); --pubkey checks the backup's signature as boot does.\n"
    "\n";

static const char usage_pubkey[] =
    "  --pubkey KEY.pub  restore only from a backup checksum.json signed by this key\n"
    "  --jobs N      hash files on N threads, 1 to 16 (default: one per\n"
    "                processor, at most 16); what is done with them is decided\n"
    "                in order, as with one\n";

static const char exits_check[] =
    "\nExit codes: 0 nothing needed fixing, 1 damage found and all repaired,\n"
    "4 damage left unrepaired, 8 operational error (\"device busy\" too: another\n"
    "fsguard command held the device past --wait), 16 usage error.\n";

struct boot_cli {
    struct device_cli dc;   /* first: its callbacks get it back */
    const char *usr, *bak;  /* resolved from part */
    const char *pubkey_file;
    unsigned char pubkey[FSG_SECKEY_LEN];
    int jobs;           /* threads hashing files; 0: one per core */
};

/* ---- reporting ---- */

struct printer {
    const struct boot_cli *o;
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
    case FSG_FAILURE_UNREADABLE:
        return "a file that cannot be read is not known to be damaged; left as it is";
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
             ev->failure != FSG_FAILURE_BLOCKED && ev->failure != FSG_FAILURE_UNREADABLE)
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

static const char *dir_of(const struct boot_cli *o, int source)
{
    return source == FSG_SOURCE_BAK ? o->bak : o->usr;
}

static void on_event(void *ctx, const struct fsg_event *ev)
{
    struct printer *pr = ctx;
    const struct boot_cli *o = pr->o;
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
        if (o->dc.json)
            cJSON_AddItemToArray(pr->entries,
                                 json_entry_event(ev, ev->source == FSG_SOURCE_BAK ? "bak" : "usr"));
        return;
    }
    if (ev->kind == FSG_EVENT_TEMP) {
        if (o->dc.json) {
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
    if (o->dc.json) {
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
        printf("%s\n    ", pr->nfiles == 0 ? "" : ",");
        json_print_text(s != NULL ? s : "null");
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
        snprintf(out, size, "%s", fsg_strerror(r->usr_manifest_error));
}

/* Where the rebuilt checksum.json's old bytes were kept, or "". */
static const char *kept_name(const struct fsg_report *r, char out[32])
{
    out[0] = '\0';
    if (r->usr_manifest_kept == 1)
        snprintf(out, 32, "checksum.json.bad");
    else if (r->usr_manifest_kept > 1)
        snprintf(out, 32, "checksum.json.bad.%u", r->usr_manifest_kept);
    return out;
}

static void print_summary(const struct printer *pr, const struct fsg_report *r, int code)
{
    const struct boot_cli *o = pr->o;
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
        printf("fsguard %s: backup/restore is off: ", o->dc.cmd);
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
            char kept[32];
            if (kept_name(r, kept)[0] != '\0')
                printf("/checksum.json; its bytes %skept as %s\n",
                       pr->dry ? "would be " : "", kept);
            else
                printf("/checksum.json\n");
        } else {
            printf("/checksum.json: %supdated with the new hashes\n", verb);
        }
    }
    printf("fsguard %s: %lu files checked: %lu ok, %lu %s, %lu failed", o->dc.cmd, r->files,
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
    char kept[32];
    if (kept_name(r, kept)[0] != '\0')
        cJSON_AddStringToObject(m, "kept_as", kept);
    else
        cJSON_AddNullToObject(m, "kept_as");
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
    json_add_outcome(t, code);
    /* Splice the tail's members after the streamed "files" array. */
    char *s = cJSON_PrintUnformatted(t);
    printf("\n  ],\n  ");
    json_print_text(s != NULL ? s + 1 : "}");
    putchar('\n');
    cJSON_free(s);
    cJSON_Delete(t);
}

/* ---- commands ---- */

static int check(const struct boot_cli *o, int flags)
{
    static struct device d;
    static struct fsg_posix_hasher hasher;
    struct printer pr;
    struct fsg_report r;

    int code = device_open(&d, &o->dc.part, o->dc.cmd);
    if (code != 0)
        return code;
    memset(&pr, 0, sizeof pr);
    pr.o = o;
    pr.dry = (flags & FSG_DRY_RUN) != 0;
    if (o->dc.json) {
        pr.entries = cJSON_CreateArray();
        pr.temps = cJSON_CreateArray();
        cJSON *head = cJSON_CreateObject();
        cJSON_AddStringToObject(head, "command", o->dc.cmd);
        cJSON_AddStringToObject(head, "usr", o->usr);
        cJSON_AddStringToObject(head, "bak", o->bak);
        cJSON_AddBoolToObject(head, "dry_run", pr.dry);
        char *s = cJSON_PrintUnformatted(head);
        /* Open the object, leave it open for the streamed "files" array. */
        s[strlen(s) - 1] = '\0';
        json_print_text(s);
        printf(",\n  \"files\": [");
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
    d.cfg.cancelled = run_cancelled;
    int err = fsg_boot(&d.cfg, flags, &r);
    if (err < 0) {
        char why[8192];
        if (err == FSG_ERR_CANCELLED) {
            /* main says so */
        } else if (err == FSG_ERR_SIGNATURE) {
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
        else if (r.usr_manifest_error == err)
            err_msg("%s/checksum.json: cannot be read (%s); it is not rebuilt, which would "
                    "lose the recorded edits; nothing was changed", o->usr, fsg_strerror(err));
        else if (r.feature == FSG_FEATURE_BAD_SWITCH && r.feature_error == err)
            err_msg("%s/backup_restore.json: cannot be read (%s); whether restore is on is "
                    "not known; nothing was changed", o->bak, fsg_strerror(err));
        else
            err_msg("%s: %s: %s", o->dc.cmd, o->usr,
                    device_strerror(err, &d.usr, d.cfg.lock_wait_ms));
        code = EXIT_OPERATIONAL;
    } else {
        code = fsg_report_exit_code(&r);
    }
    if (o->dc.json) {
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

/* ---- options ---- */

static const char *const help_boot[] = {usage_boot, usage_partitions, usage_options,
                                        usage_pubkey, exits_check, exits_output,
                                        exits_signals, NULL};
static const char *const help_verify[] = {usage_verify, usage_partitions, usage_options,
                                          usage_pubkey, exits_check, exits_output,
                                          exits_signals, NULL};

/* --jobs N and --pubkey KEY.pub */
static int boot_option(struct device_cli *dc, int argc, char **argv, int *i)
{
    struct boot_cli *o = (struct boot_cli *)dc;
    int code = 0;
    const char *v;

    if (strcmp(argv[*i], "--jobs") == 0) {
        if ((v = option_value(argc, argv, i, dc->cmd, &code)) == NULL)
            return code;
        char *end;
        long n = strtol(v, &end, 10);
        if (*end != '\0' || n < 1 || n > FSG_POSIX_MAX_THREADS)
            return usage_error(dc->cmd, "--jobs takes a number of threads from 1 to 16, not", v);
        o->jobs = (int)n;
        return 1;
    }
    if (strcmp(argv[*i], "--pubkey") == 0) {
        if ((o->pubkey_file = option_value(argc, argv, i, dc->cmd, &code)) == NULL)
            return code;
        return 1;
    }
    return 0;
}

static int boot_or_verify(int argc, char **argv, const char *cmd, int flags)
{
    static struct boot_cli o;

    o.dc.cmd = cmd;
    o.dc.help = flags & FSG_DRY_RUN ? help_verify : help_boot;
    o.dc.option = boot_option;
    int code = device_args(&o.dc, argc, argv, 2);
    if (code == 0 && o.pubkey_file != NULL)
        code = load_key(cmd, o.pubkey_file, 0, o.pubkey);
    if (code != 0)
        return code < 0 ? EXIT_CLEAN : code;
    o.usr = o.dc.part.usr;
    o.bak = o.dc.part.bak;
    return check(&o, flags);
}

int cmd_boot(int argc, char **argv)
{
    return boot_or_verify(argc, argv, "boot", 0);
}

int cmd_verify(int argc, char **argv)
{
    return boot_or_verify(argc, argv, "verify", FSG_DRY_RUN);
}
