/*
 * edit.c -- `fsguard calc` and `fsguard put`: record the hash of a protected
 * file after a legitimate edit, or replace the file crash-safely and record
 * its hash (fsg_calc, fsg_put_*).
 */
#define _POSIX_C_SOURCE 200809L
#include "commands.h"
#include "common.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_calc[] =
    "Usage: fsguard calc (--root DIR | --usr DIR --bak DIR) /usr/PATH\n"
    "\n"
    "QuecPython's file_crc32.calc('/usr/PATH'): after a legitimate edit of a\n"
    "protected file, hashes it, records the hash in the user checksum.json\n"
    "(atomically, only if the table changes) and prints it as stored\n"
    "(\"0x1c291ca3\").\n"
    "An entry keeps the kinds of hash it has; for a \"sha256\"-only entry the\n"
    "sha256 is printed (with --json: every hash the entry carries).\n"
    "A file is protected if either checksum.json lists it (an entry the user\n"
    "table lost is put back from the backup's, as boot would). A file listed in\n"
    "neither, or that does not exist, is an error and changes nothing, and so\n"
    "is any edit while an update waits for the next boot to finish it.\n"
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
    "with a \"sha256\"). A name neither checksum.json lists is an error and\n"
    "changes nothing, and so is any edit while an update waits for the next\n"
    "boot to finish it.\n"
    "\n";

static const char exits_calc[] =
    "\nExit codes: 0 hash recorded and printed, 8 error (nothing changed, but\n"
    "for put failing in its very last step: the new file is then in place with\n"
    "its hash pending, and the next boot commits it; \"device busy\" when another\n"
    "fsguard command held the device past --wait), 16 usage error.\n";

struct edit_cli {
    struct device_cli dc;   /* first: its callback gets it back */
    const char *usr;    /* resolved from dc.part */
    const char *name;   /* the device name */
    const char *src;    /* put's host file */
};

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
    while (err == 0 && !run.signo && (n = fread(chunk, 1, sizeof chunk, in)) > 0)
        err = fsg_put_write(put, chunk, n);
    if (err == 0 && run.signo) {
        /* A signal interrupted reading a slow source (no SA_RESTART). */
        err = FSG_ERR_CANCELLED;
        fsg_put_abort(put);
    } else if (err == 0 && ferror(in)) {
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
static int edit(const struct edit_cli *o)
{
    static struct device d;
    struct recorded rec;
    uint32_t crc;
    char h[FSG_HASH_STRLEN], sh[FSG_SHA256_STRLEN];
    int host_errno = 0;

    int defect = fsg_name_check(o->name);
    if (defect != FSG_DEFECT_NONE) {
        char *n = escaped(o->name, 1);
        err_msg("%s: \"%s\": %s (expected a device name like /usr/app/main.py)", o->dc.cmd, n,
                fsg_defect_str(defect));
        free(n);
        return EXIT_USAGE;
    }
    int code = device_open(&d, &o->dc.part, o->dc.cmd);
    if (code != 0)
        return code;
    memset(&rec, 0, sizeof rec);
    d.cfg.on_event = on_edit_event;
    d.cfg.event_ctx = &rec;
    d.cfg.cancelled = run_cancelled;
    int err = o->src != NULL ? put_file(&d.cfg, o->src, o->name, &crc, &host_errno)
                             : fsg_calc(&d.cfg, o->name, &crc);
    if (err < 0) {
        char *n = escaped(host_errno != 0 ? o->src : o->name, 0);
        if (host_errno != 0)
            err_msg("%s: %s: %s; nothing changed", o->dc.cmd, n, strerror(host_errno));
        else if (err == FSG_ERR_NOTPROTECTED)
            err_msg("%s: %s: not listed in %s/checksum.json; nothing changed", o->dc.cmd, n,
                    o->usr);
        else if (err == FSG_ERR_CORRUPT)
            err_msg("%s: %s: %s/checksum.json is not a valid JSON array; run 'fsguard boot' "
                    "to rebuild it; nothing changed", o->dc.cmd, n, o->usr);
        else if (err != FSG_ERR_CANCELLED)
            err_msg("%s: %s: %s", o->dc.cmd, n,
                    device_strerror(err, &d.usr, d.cfg.lock_wait_ms));
        free(n);
        device_close(&d);
        return EXIT_OPERATIONAL;
    }
    /* A successful calc or put reports its entry (fsguard.h): rec holds it. */
    const unsigned char *sha = rec.kinds & FSG_HASH_SHA256 ? rec.sha : NULL;
    if (o->dc.json) {
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

static const char *const help_calc[] = {usage_calc, usage_partitions, usage_options, exits_calc,
                                        exits_output, exits_signals, NULL};
static const char *const help_put[] = {usage_put, usage_partitions, usage_options, exits_calc,
                                       exits_output, exits_signals, NULL};

/* put's SRC, then calc's and put's /usr/PATH */
static int edit_operand(struct device_cli *dc, const char *arg)
{
    struct edit_cli *o = (struct edit_cli *)dc;
    if (strcmp(dc->cmd, "put") == 0 && o->src == NULL)
        o->src = arg;
    else if (o->name == NULL)
        o->name = arg;
    else
        return 0;
    return 1;
}

static int calc_or_put(int argc, char **argv, const char *cmd)
{
    static struct edit_cli o;
    int put = strcmp(cmd, "put") == 0;

    o.dc.cmd = cmd;
    o.dc.help = put ? help_put : help_calc;
    o.dc.operand = edit_operand;
    int code = device_args(&o.dc, argc, argv, 2);
    if (code != 0)
        return code < 0 ? EXIT_CLEAN : code;
    if (put && o.name == NULL)
        return usage_error(cmd, "give the new content's file and the device name: "
                                "put SRC /usr/PATH", NULL);
    if (o.name == NULL)
        return usage_error(cmd, "which file? give its device name, like /usr/app/main.py", NULL);
    o.usr = o.dc.part.usr;
    return edit(&o);
}

int cmd_calc(int argc, char **argv)
{
    return calc_or_put(argc, argv, "calc");
}

int cmd_put(int argc, char **argv)
{
    return calc_or_put(argc, argv, "put");
}
