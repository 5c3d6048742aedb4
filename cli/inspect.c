/*
 * inspect.c -- `fsguard inspect`: offline check of built partitions, as a
 * table for people or JSON for machines. Writes nothing.
 */
#define _POSIX_C_SOURCE 200809L
#include "commands.h"
#include "common.h"
#include "fsguard_posix.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

static const char usage_inspect[] =
    "Usage: fsguard inspect (--root DIR | --usr DIR | --bak DIR) [--pubkey KEY.pub] [--wait S]\n"
    "                       [--json]\n"
    "\n"
    "Checks built partitions offline, writing nothing: every file listed in\n"
    "the partition's checksum.json exists and matches its hash; files present\n"
    "but not listed; the state of backup_restore.json (backup partition); the\n"
    "total size. --root DIR inspects DIR/bak and DIR/usr; --usr and --bak may\n"
    "be given together.\n"
    "\n"
    "In the backup partition, a file not listed is a stray (wasted space or a\n"
    "packaging mistake) and counts as a problem; in the user partition, files\n"
    "not listed are simply unprotected and are only reported.\n"
    "\n"
    "Options:\n"
    "  --usr DIR     a user partition\n"
    "  --bak DIR     a backup partition\n"
    "  --root DIR    the same as --usr DIR/usr --bak DIR/bak\n"
    "  --pubkey KEY.pub  check the backup checksum.json's signature (checksum.json.sig)\n"
    "                against this key first; a missing or wrong one is an error\n"
    "  --wait SECONDS  wait at most this long while another fsguard command\n"
    "                writes the user partition (default 30; 0: do not wait), then\n"
    "                exit 8 (\"device busy\"); the backup partition has no lock\n"
    "  --json        print one JSON report on stdout, whatever the outcome\n"
    "                (errors too; docs/json.md)\n"
    "  --help        this text\n"
    "\n"
    "Exit codes: 0 no problem, 4 problems found (damaged or missing files, bad\n"
    "entries, strays in the backup, backup/restore off), 8 a partition or its\n"
    "checksum.json cannot be read, or its signature is missing or wrong, 16 usage\n"
    "error.\n";

struct insp_cli {
    const char *dir;
    int source, json;
    cJSON *files, *unlisted, *entries;
};

static const char *type_text(int type)
{
    switch (type) {
    case FSG_TYPE_REG: return "file";
    case FSG_TYPE_DIR: return "directory";
    case FSG_TYPE_LINK: return "symbolic link";
    default: return "special file";
    }
}

static void on_insp_event(void *ctx, const struct fsg_event *ev)
{
    struct insp_cli *ic = ctx;
    char h[24], x[24];
    int ascii = ev->kind == FSG_EVENT_UNLISTED ||
                (ev->kind == FSG_EVENT_ENTRY && ev->defect == FSG_DEFECT_NAME_CHARS);
    char *name = ev->name != NULL ? escaped(ev->name, ascii) : NULL;

    if (ev->kind == FSG_EVENT_FILE) {
        const char *status = ev->status == FSG_STATUS_OK ? "ok"
                             : ev->problem == FSG_PROBLEM_MISSING ? "missing"
                                                                  : "damaged";
        if (ic->json) {
            cJSON *f = cJSON_CreateObject();
            cJSON_AddStringToObject(f, "name", ev->name);
            cJSON_AddStringToObject(f, "status", status);
            json_add_hashes(f, "crc32", "sha256", ev->hashes, ev->expected, ev->sha_expected);
            json_add_found(f, ev);
            cJSON_AddNumberToObject(f, "size", (double)ev->size);
            if (ev->status != FSG_STATUS_OK)
                cJSON_AddStringToObject(f, "reason", problem_text(ev->problem));
            cJSON_AddItemToArray(ic->files, f);
        } else {
            printf("%-9s %12llu  %-10s  %s", status, (unsigned long long)ev->size,
                   short_hash(ev->hashes, ev->expected, ev->sha_expected, h), name);
            if (ev->status != FSG_STATUS_OK && ev->has_actual)
                printf("  (found %s)", short_hash(ev->hashes, ev->actual, ev->sha_actual, x));
            else if (ev->status != FSG_STATUS_OK && ev->problem != FSG_PROBLEM_MISSING)
                printf("  (%s)", problem_text(ev->problem));
            putchar('\n');
        }
    } else if (ev->kind == FSG_EVENT_UNLISTED) {
        if (ic->json) {
            cJSON *u = cJSON_CreateObject();
            cJSON_AddStringToObject(u, "path", ev->name);
            cJSON_AddStringToObject(u, "type", type_text(ev->type));
            cJSON_AddNumberToObject(u, "size", (double)ev->size);
            cJSON_AddItemToArray(ic->unlisted, u);
        } else {
            printf("%-9s %12llu  %-10s  %s%s%s\n", "unlisted", (unsigned long long)ev->size, "-",
                   name, ev->type == FSG_TYPE_REG ? "" : "  ",
                   ev->type == FSG_TYPE_REG ? "" : type_text(ev->type));
        }
    } else if (ev->kind == FSG_EVENT_ENTRY) {
        fprintf(stderr, "fsguard: ");
        put_safe(stderr, ic->dir);
        fprintf(stderr, "/checksum.json: entry %lu%s%s%s: %s\n", ev->index,
                name != NULL ? " (\"" : "", name != NULL ? name : "", name != NULL ? "\")" : "",
                fsg_defect_str(ev->defect));
        if (ic->json)
            cJSON_AddItemToArray(ic->entries, json_entry_event(ev, NULL));
    }
    free(name);
}

/* Inspects one partition; returns its exit code and adds its JSON to arr. */
static int inspect_one(const char *dir, int source, int json, const unsigned char *pubkey,
                       uint32_t wait_ms, cJSON *arr)
{
    static unsigned char buf[64 * 1024];
    struct insp_cli ic = {dir, source, json, cJSON_CreateArray(), cJSON_CreateArray(),
                          cJSON_CreateArray()};
    struct fsg_inspect_report r;
    struct fsg_config cfg;
    struct fsg_posix p;
    const char *what = source == FSG_SOURCE_BAK ? "backup" : "user";
    char size[64];
    const char *why_err = "";
    int code;

    int err = fsg_posix_open(&p, dir, 1);
    if (err < 0) {
        err_msg("inspect: %s: cannot open the %s partition: %s", dir, what, fsg_strerror(err));
        why_err = fsg_strerror(err);
        code = EXIT_OPERATIONAL;
        memset(&r, 0, sizeof r);
        goto report;
    }
    memset(&cfg, 0, sizeof cfg);
    if (source == FSG_SOURCE_BAK)
        cfg.bak = &p.port;
    else
        cfg.usr = &p.port;
    cfg.buf = buf;
    cfg.buf_size = sizeof buf;
    cfg.on_event = on_insp_event;
    cfg.event_ctx = &ic;
    cfg.pubkey = pubkey;
    cfg.lock_wait_ms = wait_ms;
    if (!json) {
        printf("%s partition ", what);
        put_safe(stdout, dir);
        printf(":\n%-9s %12s  %-10s  %s\n", "STATUS", "SIZE", "HASH", "NAME");
    }
    err = fsg_inspect(&cfg, source, &r);
    /* The holder is looked up while the partition is still open. */
    why_err = device_strerror(err, &p, wait_ms);
    fsg_posix_close(&p);
    if (err < 0) {
        char why[8192];
        if (err == FSG_ERR_SIGNATURE) {
            signature_reason(r.signature, r.signature_error, dir, "--pubkey's key", why,
                             sizeof why);
            err_msg("inspect: %s", why);
        } else if (r.manifest_error == FSG_ERR_CORRUPT)
            err_msg("inspect: %s/checksum.json: not a valid JSON array (broken at byte %llu)",
                    dir, (unsigned long long)r.manifest_offset);
        else if (r.manifest_error != 0)
            err_msg("inspect: %s/checksum.json: %s", dir, fsg_strerror(r.manifest_error));
        else
            err_msg("inspect: %s: %s", dir, why_err);
        code = EXIT_OPERATIONAL;
    } else {
        int problems = r.damaged > 0 || r.bad_entries > 0 ||
                       (source == FSG_SOURCE_BAK &&
                        (r.unlisted > 0 || r.feature != FSG_FEATURE_ENABLED));
        code = problems ? EXIT_UNFIXED : EXIT_CLEAN;
    }
    if (!json && err == 0) {
        if (source == FSG_SOURCE_BAK)
            printf("backup_restore.json: %s\nsignature: %s\n", feature_text(r.feature),
                   pubkey != NULL ? "good (signed by --pubkey's key)"
                   : r.has_signature ? "present, not checked (give --pubkey)"
                                    : "none");
        printf("%lu listed: %lu ok, %lu damaged or missing; %lu %s; %lu bad entries; "
               "%s in all\n\n",
               r.listed, r.ok, r.damaged, r.unlisted,
               source == FSG_SOURCE_BAK ? "unlisted (strays)" : "unlisted (unprotected)",
               r.bad_entries, human_size(r.total_bytes, size));
    }
report:
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "partition", source == FSG_SOURCE_BAK ? "bak" : "usr");
        cJSON_AddStringToObject(o, "path", dir);
        if (source == FSG_SOURCE_BAK) {
            cJSON_AddStringToObject(o, "backup_restore", feature_text(r.feature));
            cJSON_AddStringToObject(o, "signature", signature_text(r.signature));
        }
        if (code == EXIT_OPERATIONAL) {
            char why[8192];
            if (r.manifest_error == FSG_ERR_CORRUPT)
                snprintf(why, sizeof why, "checksum.json: not a valid JSON array (broken at "
                         "byte %llu)", (unsigned long long)r.manifest_offset);
            else if (err == FSG_ERR_SIGNATURE)
                signature_reason(r.signature, r.signature_error, dir, "--pubkey's key", why,
                                 sizeof why);
            else if (r.manifest_error != 0)
                snprintf(why, sizeof why, "checksum.json: %s", fsg_strerror(r.manifest_error));
            else
                snprintf(why, sizeof why, "%s", why_err);
            cJSON_AddStringToObject(o, "error", why);
        } else {
            cJSON_AddNullToObject(o, "error");
        }
        cJSON_AddItemToObject(o, "files", ic.files);
        cJSON_AddItemToObject(o, "unlisted", ic.unlisted);
        cJSON_AddItemToObject(o, "invalid_entries", ic.entries);
        ic.files = ic.unlisted = ic.entries = NULL;
        cJSON *t = cJSON_AddObjectToObject(o, "totals");
        cJSON_AddNumberToObject(t, "listed", (double)r.listed);
        cJSON_AddNumberToObject(t, "ok", (double)r.ok);
        cJSON_AddNumberToObject(t, "damaged", (double)r.damaged);
        cJSON_AddNumberToObject(t, "unlisted", (double)r.unlisted);
        cJSON_AddNumberToObject(t, "invalid_entries", (double)r.bad_entries);
        cJSON_AddNumberToObject(t, "bytes", (double)r.total_bytes);
        cJSON_AddNumberToObject(o, "exit_code", code);
        cJSON_AddItemToArray(arr, o);
    }
    cJSON_Delete(ic.files);
    cJSON_Delete(ic.unlisted);
    cJSON_Delete(ic.entries);
    return code;
}

int cmd_inspect(int argc, char **argv)
{
    static struct partitions part;
    static unsigned char pubkey[FSG_SECKEY_LEN];
    const char *pubkey_file = NULL;
    int json = 0, code = 0;

    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        int taken = device_option(&part, &json, argc, argv, &i, "inspect");
        if (taken == OPT_HELP) {
            const char *const help[] = {usage_inspect, exits_output, NULL};
            print_help(help);
            return EXIT_CLEAN;
        }
        if (taken != 0) {
            if (taken != 1)
                return taken;
        } else if (strcmp(a, "--pubkey") == 0) {
            if ((pubkey_file = option_value(argc, argv, &i, "inspect", &code)) == NULL)
                return code;
        } else if (a[0] == '-' && a[1] != '\0') {
            return usage_error("inspect", "unknown option", a);
        } else {
            return usage_error("inspect", "unexpected argument", a);
        }
    }
    if ((code = partitions_resolve(&part, "inspect", 0)) != 0)
        return code;
    const char *usr = part.usr, *bak = part.bak;
    if (pubkey_file != NULL && bak == NULL)
        return usage_error("inspect", "--pubkey checks a backup partition: give --bak or --root",
                           NULL);
    if (pubkey_file != NULL && (code = load_key("inspect", pubkey_file, 0, pubkey)) != 0)
        return code;

    cJSON *arr = cJSON_CreateArray();
    int worst = EXIT_CLEAN;
    if (bak != NULL) {
        int c = inspect_one(bak, FSG_SOURCE_BAK, json, pubkey_file != NULL ? pubkey : NULL,
                            partitions_wait_ms(&part), arr);
        worst = c > worst ? c : worst;
    }
    if (usr != NULL) {
        int c = inspect_one(usr, FSG_SOURCE_USR, json, NULL, partitions_wait_ms(&part), arr);
        worst = c > worst ? c : worst;
    }
    if (json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "command", "inspect");
        cJSON_AddItemToObject(j, "partitions", arr);
        cJSON_AddNumberToObject(j, "exit_code", worst);
        print_json(j, 0);
    } else {
        cJSON_Delete(arr);
        printf("fsguard inspect: %s (exit %d)\n",
               worst == EXIT_CLEAN ? "no problem found" : worst == EXIT_UNFIXED ? "problems found"
                                                                               : "could not inspect",
               worst);
    }
    return worst;
}
