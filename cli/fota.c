/*
 * fota.c -- `fsguard fota apply` and `fsguard fota status`: over-the-air
 * updates of the user partition, all or nothing, through the library's
 * transaction (fsg_fota_apply, fsg_fota_status).
 */
#define _POSIX_C_SOURCE 200809L
#include "commands.h"
#include "common.h"
#include "fsguard_posix.h"
#include "pattern.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

static const char usage_fota[] =
    "Usage: fsguard fota apply (--root DIR | --usr DIR --bak DIR) UPDATE_DIR\n"
    "                          [--protect GLOB]... [--json]\n"
    "       fsguard fota status (--root DIR | --usr DIR --bak DIR) [--json]\n"
    "\n"
    "apply installs the files of UPDATE_DIR (laid out like /usr: the new or\n"
    "changed files) all or nothing. They are staged in /usr/.fsg-fota (synced\n"
    "and verified); a journal naming every file and its new hash is written\n"
    "atomically (the commit point); then the files are moved into place, their\n"
    "hashes recorded in checksum.json, and the journal removed. A power cut\n"
    "before the commit point leaves every file as it was; after it, the next\n"
    "`fsguard boot` finishes the update. Files already protected get their new\n"
    "hash; new files are installed unprotected (there is no factory copy to\n"
    "restore them from) unless --protect GLOB names them (their damage is then\n"
    "found, but not repaired). The report says which is which.\n"
    "\n"
    "Refused with nothing changed: links or special files in UPDATE_DIR, names\n"
    "that cannot be stored, a checksum.json at its root, a target that is a\n"
    "directory, an update that does not fit (space runs out while staging,\n"
    "before the commit point), and an earlier update committed but not yet\n"
    "finished (the next boot finishes it; an uncommitted leftover is discarded).\n"
    "\n"
    "status shows what the staging area holds: nothing, an uncommitted update\n"
    "(boot discards it), a committed one (boot finishes it) or one whose\n"
    "journal is damaged (boot abandons it, putting the old files back).\n"
    "\n";

static const char usage_fota_tail[] =
    "\nOptions:\n"
    "  --protect GLOB  protect the update's new files matching GLOB (as pack's\n"
    "                  --include: relative to /usr/ unless it starts with '/')\n"
    "  --wait SECONDS  wait at most this long while another fsguard command\n"
    "                  holds the device (default 30; 0: do not wait), then exit 8\n"
    "                  (\"device busy\")\n"
    "  --json          print one JSON report on stdout, whatever the outcome\n"
    "                  (errors too; docs/json.md)\n"
    "  --help          this text\n"
    "\nExit codes: apply: 0 applied, 8 refused or failed (nothing changed, or,\n"
    "after the commit point, the next boot finishes it), 16 usage error.\n"
    "status: 0 nothing pending, 1 an update is pending, 8 error, 16 usage.\n"
    "Both exit 8 \"device busy\" when another fsguard command held the device\n"
    "past --wait.\n";

struct fota_cli {
    struct device_cli dc;   /* first: its callbacks get it back */
    const char *sub, *usr, *bak, *update;
    const char **protect;
    size_t nprotect;
    cJSON *files, *refused;
};

static int protect_new(void *ctx, const char *name)
{
    const struct fota_cli *fc = ctx;
    for (size_t i = 0; i < fc->nprotect; i++)
        if (pattern_match(fc->protect[i], name))
            return 1;
    return 0;
}

static const char *protect_text(int p)
{
    return p == FSG_FOTA_PROTECTED ? "protected (new hash recorded)"
           : p == FSG_FOTA_NEWLY_PROTECTED ? "newly protected (no factory copy)"
                                           : "unprotected (new file)";
}

static void on_fota_event(void *ctx, const struct fsg_event *ev)
{
    struct fota_cli *fc = ctx;
    char h[FSG_HASH_STRLEN];

    if (ev->kind == FSG_EVENT_REFUSED && ev->refusal == FSG_REFUSAL_TARGET) {
        /* The target in the user partition, not a path of the update. */
        fprintf(stderr, "fsguard: fota: ");
        put_safe(stderr, fc->usr);
        put_safe(stderr, ev->name + 4);
        fprintf(stderr, ": cannot be replaced: %s (fsguard never replaces a directory or "
                "writes through a link)\n", fsg_strerror(ev->error));
        if (fc->dc.json) {
            cJSON *r = cJSON_CreateObject();
            cJSON_AddStringToObject(r, "name", ev->name);
            cJSON_AddItemToArray(fc->refused, r);
        }
    } else if (ev->kind == FSG_EVENT_REFUSED) {
        fprintf(stderr, "fsguard: fota: ");
        put_escaped(stderr, fc->update, 0);
        fputc('/', stderr);
        put_escaped(stderr, ev->name, 1);
        fprintf(stderr, ": %s\n",
                ev->refusal == FSG_REFUSAL_LINK      ? "a symbolic link"
                : ev->refusal == FSG_REFUSAL_SPECIAL ? "a device, socket, FIFO or other special file"
                : ev->refusal == FSG_REFUSAL_RESERVED
                    ? "reserved: checksum.json is fsguard's"
                : ev->refusal == FSG_REFUSAL_UNREADABLE ? "cannot be read"
                                                        : fsg_defect_str(ev->defect));
        if (fc->dc.json) {
            cJSON *r = cJSON_CreateObject();
            cJSON_AddStringToObject(r, "path", ev->name);
            cJSON_AddItemToArray(fc->refused, r);
        }
    } else if (ev->kind == FSG_EVENT_FOTA) {
        if (fc->dc.json) {
            cJSON *f = cJSON_CreateObject();
            cJSON_AddStringToObject(f, "name", ev->name);
            cJSON_AddStringToObject(f, "crc32", fsg_hash_format(ev->recorded, h));
            cJSON_AddStringToObject(f, "protection",
                                    ev->protect == FSG_FOTA_PROTECTED ? "protected"
                                    : ev->protect == FSG_FOTA_NEWLY_PROTECTED
                                        ? "newly_protected"
                                        : "unprotected");
            cJSON_AddItemToArray(fc->files, f);
        } else {
            printf("updated  ");
            put_safe(stdout, fc->usr);
            putchar('/');
            put_safe(stdout, ev->name + 5);
            printf(": %s, crc32 %s\n", protect_text(ev->protect),
                   fsg_hash_format(ev->recorded, h));
        }
    }
}

static const char *state_text(int state)
{
    switch (state) {
    case FSG_FOTA_UNCOMMITTED: return "uncommitted";
    case FSG_FOTA_COMMITTED: return "committed";
    case FSG_FOTA_DAMAGED: return "damaged";
    default: return "none";
    }
}

static const char *const help_fota[] = {usage_fota, usage_partitions, usage_fota_tail,
                                        exits_output, exits_signals, NULL};

/* apply's --protect GLOB */
static int fota_option(struct device_cli *dc, int argc, char **argv, int *i)
{
    struct fota_cli *fc = (struct fota_cli *)dc;
    int code = 0;

    if (strcmp(argv[*i], "--protect") != 0 || strcmp(fc->sub, "apply") != 0)
        return 0;
    const char *v = option_value(argc, argv, i, "fota", &code);
    if (v == NULL)
        return code;
    fc->protect = realloc(fc->protect, (fc->nprotect + 1) * sizeof *fc->protect);
    if (fc->protect == NULL)
        return EXIT_OPERATIONAL;
    fc->protect[fc->nprotect++] = v;
    return 1;
}

/* apply's UPDATE_DIR */
static int fota_operand(struct device_cli *dc, const char *arg)
{
    struct fota_cli *fc = (struct fota_cli *)dc;

    if (strcmp(fc->sub, "apply") != 0 || fc->update != NULL)
        return 0;
    fc->update = arg;
    return 1;
}

static int parse_fota(int argc, char **argv, struct fota_cli *fc)
{
    if (argc < 3 || strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0) {
        if (argc < 3)
            return usage_error("fota", "which? give apply or status", NULL);
        print_help(help_fota);
        return -1;
    }
    fc->sub = argv[2];
    if (strcmp(fc->sub, "apply") != 0 && strcmp(fc->sub, "status") != 0)
        return usage_error("fota", "unknown subcommand", fc->sub);
    fc->dc.cmd = "fota";
    fc->dc.help = help_fota;
    fc->dc.option = fota_option;
    fc->dc.operand = fota_operand;
    int code = device_args(&fc->dc, argc, argv, 3);
    if (code != 0)
        return code;
    fc->usr = fc->dc.part.usr;
    fc->bak = fc->dc.part.bak;
    if (strcmp(fc->sub, "apply") == 0 && fc->update == NULL)
        return usage_error("fota", "which update? give UPDATE_DIR", NULL);
    return 0;
}

int cmd_fota(int argc, char **argv)
{
    static struct fota_cli fc;
    static struct device d;
    int code = parse_fota(argc, argv, &fc);

    if (code != 0)
        return code < 0 ? EXIT_CLEAN : code;
    if ((code = device_open(&d, &fc.dc.part, "fota")) != 0)
        return code;
    d.cfg.on_event = on_fota_event;
    d.cfg.event_ctx = &fc;
    d.cfg.cancelled = run_cancelled;
    fc.files = cJSON_CreateArray();
    fc.refused = cJSON_CreateArray();
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "command", strcmp(fc.sub, "apply") == 0 ? "fota apply"
                                                                       : "fota status");

    if (strcmp(fc.sub, "status") == 0) {
        int state;
        unsigned long files;
        int err = fsg_fota_status(&d.cfg, &state, &files);
        if (err < 0) {
            err_msg("fota status: %s: %s", fc.usr,
                    device_strerror(err, &d.usr, d.cfg.lock_wait_ms));
            code = EXIT_OPERATIONAL;
        } else {
            code = state == FSG_FOTA_NONE ? EXIT_CLEAN : EXIT_FIXED;
            if (!fc.dc.json) {
                printf("fsguard fota status: ");
                if (state == FSG_FOTA_NONE)
                    printf("no update in progress\n");
                else if (state == FSG_FOTA_UNCOMMITTED)
                    printf("an update was staged but never committed; the next boot discards "
                           "it (every file stays as it is)\n");
                else if (state == FSG_FOTA_COMMITTED)
                    printf("an update of %lu files is committed but unfinished; the next boot "
                           "finishes it\n", files);
                else
                    printf("the update's journal is damaged; the next boot abandons the update "
                           "and puts back the %lu files it had set aside\n", files);
            }
            cJSON_AddStringToObject(j, "state", state_text(state));
            cJSON_AddNumberToObject(j, "files", (double)files);
        }
    } else {
        struct fsg_fota_report r;
        struct fsg_posix upd;
        int err = fsg_posix_open(&upd, fc.update, 1);
        if (err < 0) {
            err_msg("fota apply: %s: %s", fc.update, fsg_strerror(err));
            code = EXIT_OPERATIONAL;
            memset(&r, 0, sizeof r);
        } else {
            err = fsg_fota_apply(&d.cfg, &upd.port, protect_new, &fc, &r);
            fsg_posix_close(&upd);
            code = err < 0 ? EXIT_OPERATIONAL : EXIT_CLEAN;
            if (err == FSG_ERR_INVAL)
                err_msg("fota apply: %s has entries that cannot be installed (see above); "
                        "nothing changed", fc.update);
            else if ((err == FSG_ERR_ISDIR || err == FSG_ERR_NOTDIR || err == FSG_ERR_LOOP) &&
                     !r.committed)
                err_msg("fota apply: a target cannot be replaced (see above); nothing changed");
            else if (err == FSG_ERR_BUSY)
                err_msg("fota apply: an earlier update is committed but unfinished; run "
                        "'fsguard boot' to finish it first; nothing changed");
            else if (err == FSG_ERR_NOSPC && !r.committed)
                err_msg("fota apply: the update does not fit in %s (space ran out while "
                        "staging, before the commit point); nothing changed", fc.usr);
            else if (err < 0 && !r.committed)
                err_msg("fota apply: %s; nothing changed",
                        device_strerror(err, &d.usr, d.cfg.lock_wait_ms));
            else if (err < 0)
                err_msg("fota apply: %s after the commit point; the next boot finishes the "
                        "update", fsg_strerror(err));
            else if (!fc.dc.json)
                printf("fsguard fota apply: %lu files updated: %lu protected, %lu newly "
                       "protected, %lu unprotected\n",
                       r.files, r.protected_files, r.newly_protected, r.unprotected);
        }
        cJSON_AddItemToObject(j, "files", fc.files);
        cJSON_AddItemToObject(j, "refused", fc.refused);
        fc.files = fc.refused = NULL;
        cJSON *t = cJSON_AddObjectToObject(j, "totals");
        cJSON_AddNumberToObject(t, "files", (double)r.files);
        cJSON_AddNumberToObject(t, "protected", (double)r.protected_files);
        cJSON_AddNumberToObject(t, "newly_protected", (double)r.newly_protected);
        cJSON_AddNumberToObject(t, "unprotected", (double)r.unprotected);
        cJSON_AddBoolToObject(j, "committed", r.committed);
    }
    cJSON_AddNumberToObject(j, "exit_code", code);
    if (fc.dc.json)
        print_json(j, 0);
    else
        cJSON_Delete(j);
    cJSON_Delete(fc.files);
    cJSON_Delete(fc.refused);
    device_close(&d);
    return code;
}
