/*
 * common.h -- what the fsguard tool's commands share: exit codes, messages
 * (with untrusted names escaped), option parsing, the partitions and the
 * device over them, key files, and the words and JSON of the reports. The
 * commands themselves are in commands.h.
 */
#ifndef FSG_CLI_COMMON_H
#define FSG_CLI_COMMON_H

#include "fsguard.h"
#include "fsguard_posix.h"

#include <stdint.h>
#include <stdio.h>

/* ---- exit codes (fsck-style) ---- */

enum {
    EXIT_CLEAN = 0,
    EXIT_FIXED = 1,
    EXIT_UNFIXED = 4,
    EXIT_OPERATIONAL = 8,
    EXIT_USAGE = 16
};

/* ---- messages ---- */

/* A malloc'd copy of s with control characters (and, with ascii, every byte
 * past 0x7e) written as \xNN; exits on allocation failure. */
char *escaped(const char *s, int ascii);
void put_escaped(FILE *f, const char *s, int ascii);
/* put_escaped without ascii: for names known to be valid UTF-8. */
void put_safe(FILE *f, const char *s);
/* "fsguard: " + the message + newline, on stderr. */
void err_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "fsguard: CMD: MSG 'ARG'" and a hint; returns EXIT_USAGE. */
int usage_error(const char *cmd, const char *msg, const char *arg);

/* ---- options ---- */

/* The value after option argv[*i], advancing *i; NULL (and *code set to
 * EXIT_USAGE, after a message) when there is none. */
const char *option_value(int argc, char **argv, int *i, const char *cmd, int *code);
/* Parses a byte count with an optional K, M or G suffix (powers of 1024). */
int parse_size(const char *s, uint64_t *out);

/* ---- the partitions, and the options of every command on a device ---- */

/* The --usr/--bak/--root part of a command's help, and its --json and
 * --help part. */
extern const char usage_partitions[];
extern const char usage_options[];

/* The partition options every device command takes. */
struct partitions {
    const char *usr, *bak, *root;
    char ubuf[4096], bbuf[4096];
    int wait_given;             /* --wait SECONDS was given ... */
    uint32_t wait_ms;           /* ... as this; else DEFAULT_WAIT_MS */
};
/* How long a command waits for the user partition's lock by default: long
 * enough for a boot script to outwait an edit or a boot in progress,
 * never forever. */
#define DEFAULT_WAIT_S 30
/* The wait a command uses (--wait or the default), in milliseconds. */
uint32_t partitions_wait_ms(const struct partitions *p);
/* If argv[*i] is --usr, --bak or --root, takes its value (advancing *i)
 * and returns 1; returns 0 for any other argument, or EXIT_USAGE (after a
 * message) when the value is missing. */
int partition_option(struct partitions *p, int argc, char **argv, int *i, const char *cmd);
/* Turns --root DIR into DIR/usr and DIR/bak and checks the combination:
 * with both set, --usr and --bak are both needed; otherwise one is enough.
 * Returns 0 or EXIT_USAGE after a message. */
int partitions_resolve(struct partitions *p, const char *cmd, int both);
/* The options every command on a device takes: the partitions
 * (partition_option), --wait SECONDS, --json (setting *json) and --help or
 * -h. Returns 1
 * when argv[*i] is one of them (advancing *i past a value), 0 when it is
 * not, OPT_HELP for --help, or EXIT_USAGE after a message. */
enum { OPT_HELP = -1 };
int device_option(struct partitions *p, int *json, int argc, char **argv, int *i,
                  const char *cmd);

/* A command on a device's arguments, for device_args; the first member of
 * the command's own options, which the callbacks get back. */
struct device_cli {
    const char *cmd;
    struct partitions part;
    int json;
    const char *const *help;    /* --help prints these, in order; NULL ends */
    /* Its own option argv[*i] (advancing *i past a value), or operand arg:
     * 1 taken, 0 not its own (unknown option, unexpected argument), or an
     * exit code after a message. Either may be NULL: none. */
    int (*option)(struct device_cli *dc, int argc, char **argv, int *i);
    int (*operand)(struct device_cli *dc, const char *arg);
};
/* Prints texts (NULL ends them) on stdout: a command's help. */
void print_help(const char *const texts[]);
/* Parses argv[first..] with device_option and dc's callbacks, then
 * resolves both partitions. Returns 0, -1 after printing the help, or an
 * exit code after a message. */
int device_args(struct device_cli *dc, int argc, char **argv, int first);

/* ---- the device ---- */

/* A device: both partitions open, and a configuration over them. */
struct device {
    struct fsg_posix usr, bak;
    struct fsg_config cfg;  /* usr, bak and buf set; the rest zero */
    unsigned char buf[64 * 1024];
};
/* Opens the partitions p names (resolved, both given), the backup one
 * read-only, and sets d->cfg up over them. Returns 0, or EXIT_OPERATIONAL
 * after "fsguard: CMD: DIR: cannot open the backup (or user) partition:
 * REASON". */
int device_open(struct device *d, const struct partitions *p, const char *cmd);
void device_close(struct device *d);
/* fsg_strerror(err), but for FSG_ERR_LOCKED a sentence naming the holder
 * of usr's lock where /proc/locks tells it, and the wait that ran out. */
const char *device_strerror(int err, const struct fsg_posix *usr, uint32_t wait_ms);

/* ---- key files and signatures ---- */

/* Reads key file path, which must hold a secret key (want_secret) or a
 * public one, into key. Returns 0, or EXIT_OPERATIONAL after a message. */
int load_key(const char *cmd, const char *path, int want_secret,
             unsigned char key[FSG_SECKEY_LEN]);
/* enum fsg_signature as a JSON word ("good", "missing", ...), and as a
 * sentence about backup partition bak checked with key file keyfile. */
const char *signature_text(int sig);
void signature_reason(int sig, int err, const char *bak, const char *keyfile, char *out,
                      size_t size);

/* ---- reports: words, sizes, hashes and JSON ---- */

struct cJSON;

/* enum fsg_problem and enum fsg_feature in words. */
const char *problem_text(int problem);
const char *feature_text(int feature);
/* "crc32", "sha256" or "both". */
const char *hash_kinds_text(unsigned kinds);
/* A hash for a table column: the crc32, or "sha256:" and 12 hex digits. */
char *short_hash(unsigned kinds, uint32_t crc, const unsigned char *sha, char out[24]);
/* Adds crc_key (the crc32, or null when kinds has none) and sha_key (when
 * sha is not NULL) to JSON object o. */
void json_add_hashes(struct cJSON *o, const char *crc_key, const char *sha_key, unsigned kinds,
                     uint32_t crc, const unsigned char *sha);
/* "1234 bytes (1.2 KiB)" */
const char *human_size(uint64_t n, char buf[64]);

/* Prints j on stdout (formatted unless compact) with a newline, then
 * deletes it. */
void print_json(struct cJSON *j, int compact);
/* Adds "found" (the file's crc32 as found, or null when it was not read)
 * and, when computed, "found_sha256" of a FILE event to o. */
void json_add_found(struct cJSON *o, const struct fsg_event *ev);

#endif
