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

#include <signal.h>
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

/* ---- the run: what main and the commands share about this one ---- */

/* The value of the JSON reports' top-level "fsguard_json" (docs/json.md). */
#define FSG_JSON_FORMAT "1"

struct run {
    const char *cmd;            /* argv[1] */
    int json;                   /* --json given: one JSON document, always */
    int printed;                /* that document has been (begun to be) printed */
    int help;                   /* help text printed instead */
    volatile sig_atomic_t signo;    /* SIGINT or SIGTERM received, or 0 */
    char error[1024];           /* the first error message */
};
extern struct run run;
/* Notes --json, ignores SIGPIPE, and with signals catches SIGINT and
 * SIGTERM (the first one asks the work to stop; a second kills). */
void run_begin(int argc, char **argv, int signals);
/* For struct fsg_config's cancelled: whether a signal came. */
int run_cancelled(void *ctx);
/* code, or 128 + the signal's number after one. */
int run_code(int code);
/* At the end: reports a signal, prints the JSON document if none was,
 * checks that stdout and stderr were written (else exit 8). Returns the
 * exit code. */
int run_end(int code);

/* ---- messages ---- */

/* A malloc'd copy of s with control characters (and, with ascii, every byte
 * past 0x7e) written as \xNN; exits on allocation failure. */
char *escaped(const char *s, int ascii);
void put_escaped(FILE *f, const char *s, int ascii);
/* put_escaped without ascii: for names known to be valid UTF-8. */
void put_safe(FILE *f, const char *s);
/* Keeps msg as the run's error for JSON, unless one is kept already. */
void note_error(const char *msg);
/* "fsguard: " + the message (escaped as put_safe does) + newline, on
 * stderr (and note_error). */
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
/* Exit codes of every command: a failed write of stdout or stderr; and of
 * those that write, a signal (main catches SIGINT and SIGTERM for them). */
extern const char exits_output[];
extern const char exits_signals[];

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
 * deletes it: with "fsguard_json" first, json_add_outcome's members, and
 * bytes that are not UTF-8 as \udcNN. */
void print_json(struct cJSON *j, int compact);
/* Sets o's "exit_code" (run_code(code)) and "error" (the first error
 * message, or null for exit codes below 8). */
void json_add_outcome(struct cJSON *o, int code);
/* Prints JSON text s on stdout as print_json does, "fsguard_json" put in
 * first if s is where the document begins. */
void json_print_text(const char *s);
/* Adds "found" (the file's crc32 as found, or null when it was not read)
 * and, when computed, "found_sha256" of a FILE event to o. */
void json_add_found(struct cJSON *o, const struct fsg_event *ev);
/* A refused checksum.json entry (an ENTRY event) as a JSON object:
 * "manifest" (when not NULL), "index", "name" (or null) and "reason". */
struct cJSON *json_entry_event(const struct fsg_event *ev, const char *manifest);

#endif
