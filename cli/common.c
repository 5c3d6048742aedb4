/*
 * common.c -- what the tool's commands share (common.h): messages with
 * untrusted names escaped, option values and sizes, the partitions and the
 * options of every command on a device, opening the device, key files,
 * and the words and JSON of the reports. The library does the work; this
 * is presentation.
 */
#define _POSIX_C_SOURCE 200809L
#include "common.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct run run;

const char usage_partitions[] =
    "Partitions:\n"
    "  --usr DIR     the user partition (what the device mounts at /usr)\n"
    "  --bak DIR     the backup partition (what the device mounts at /bak);\n"
    "                it is only ever read\n"
    "  --root DIR    the same as --usr DIR/usr --bak DIR/bak\n"
    "                --usr and --bak must be apart: the same directory, or one\n"
    "                inside the other, is a usage error\n";

const char usage_options[] =
    "\nOptions:\n"
    "  --wait SECONDS  wait at most this long while another fsguard command\n"
    "                holds the device (default 30; 0: do not wait), then exit 8\n"
    "                (\"device busy\")\n"
    "  --json        print one JSON report on stdout, whatever the outcome\n"
    "                (errors too; docs/json.md)\n"
    "  --help        this text\n";

const char exits_output[] =
    "8 too when stdout or stderr cannot be written (a full disk, a closed pipe:\n"
    "SIGPIPE is ignored, the write error reported).\n";

const char exits_signals[] =
    "130 or 143: stopped by SIGINT or SIGTERM (128 + its number): the file being\n"
    "written is abandoned and its temporary file removed (pack: its staging\n"
    "directory); the rest is as a power cut at that instant would leave it.\n"
    "A second signal kills at once.\n";

/* The length of the UTF-8 sequence at p that must not reach a terminal
 * as it is: a C1 control (U+0080-U+009F) or a bidirectional mark, override
 * or isolate (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069); 0 for
 * anything else. */
static size_t hostile_seq(const unsigned char *p)
{
    if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
        return 2;
    if (p[0] == 0xd8 && p[1] == 0x9c)
        return 2;
    if (p[0] == 0xe2 && p[1] == 0x80 &&
        (p[2] == 0x8e || p[2] == 0x8f || (p[2] >= 0xaa && p[2] <= 0xae)))
        return 3;
    if (p[0] == 0xe2 && p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9)
        return 3;
    return 0;
}

/* A copy of s with control characters, C1 controls and bidirectional
 * controls (hostile_seq), and, with ascii, every byte past 0x7e written as
 * \xNN, byte by byte: names come from files that may be hostile and must
 * not drive the terminal or reorder what it shows. */
char *escaped(const char *s, int ascii)
{
    char *out = malloc(strlen(s) * 4 + 1), *o = out;
    if (out == NULL) {
        fputs("fsguard: out of memory\n", stderr);
        exit(EXIT_OPERATIONAL);
    }
    size_t hostile = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (hostile == 0)
            hostile = hostile_seq(p);
        if (*p < 0x20 || *p == 0x7f || (ascii && *p > 0x7f) || hostile > 0)
            o += sprintf(o, "\\x%02x", *p);
        else
            *o++ = (char)*p;
        if (hostile > 0)
            hostile--;
    }
    *o = '\0';
    return out;
}

void put_escaped(FILE *f, const char *s, int ascii)
{
    char *e = escaped(s, ascii);
    fputs(e, f);
    free(e);
}

void put_safe(FILE *f, const char *s)
{
    put_escaped(f, s, 0);
}

void note_error(const char *msg)
{
    if (run.error[0] == '\0')
        snprintf(run.error, sizeof run.error, "%s", msg);
}

void err_msg(const char *fmt, ...)
{
    char msg[sizeof run.error];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    note_error(msg);
    /* Paths in it come from the command line or the files: escaped as
     * names are (escaping twice changes nothing). */
    fputs("fsguard: ", stderr);
    put_safe(stderr, msg);
    fputc('\n', stderr);
}

/* Prints "fsguard: CMD: MSG 'ARG'" and a hint; returns the usage exit code. */
int usage_error(const char *cmd, const char *msg, const char *arg)
{
    char *e = escaped(arg != NULL ? arg : "", 0);
    char text[sizeof run.error];
    snprintf(text, sizeof text, "%s%s%s%s%s%s", cmd != NULL ? cmd : "", cmd != NULL ? ": " : "",
             msg, arg != NULL ? " '" : "", e, arg != NULL ? "'" : "");
    free(e);
    note_error(text);
    fprintf(stderr, "fsguard: %s", text);
    fprintf(stderr, "\nTry 'fsguard %s%s--help'.\n", cmd != NULL ? cmd : "", cmd != NULL ? " " : "");
    return EXIT_USAGE;
}

const char *problem_text(int problem)
{
    switch (problem) {
    case FSG_PROBLEM_MISSING: return "missing";
    case FSG_PROBLEM_MISMATCH: return "content differs from checksum.json";
    case FSG_PROBLEM_NOT_REGULAR: return "not a regular file";
    case FSG_PROBLEM_UNREADABLE: return "unreadable";
    case FSG_PROBLEM_UNSAFE_PATH: return "a parent directory is a symbolic link or a file";
    default: return "ok";
    }
}

const char *feature_text(int feature)
{
    switch (feature) {
    case FSG_FEATURE_ENABLED: return "enabled";
    case FSG_FEATURE_DISABLED: return "disabled";
    case FSG_FEATURE_NO_SWITCH: return "no_switch";
    default: return "bad_switch";
    }
}

const char *option_value(int argc, char **argv, int *i, const char *cmd, int *code)
{
    if (*i + 1 >= argc || argv[*i + 1][0] == '\0') {
        *code = usage_error(cmd, "a value must follow", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

int parse_size(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno == ERANGE)
        return -1;
    unsigned shift = 0;
    if (*end == 'K' || *end == 'k')
        shift = 10;
    else if (*end == 'M' || *end == 'm')
        shift = 20;
    else if (*end == 'G' || *end == 'g')
        shift = 30;
    if (shift != 0)
        end++;
    if (*end != '\0' || v > (UINT64_MAX >> shift))
        return -1;
    *out = (uint64_t)v << shift;
    return 0;
}

const char *human_size(uint64_t n, char buf[64])
{
    if (n < 1024)
        snprintf(buf, 64, "%llu bytes", (unsigned long long)n);
    else if (n < (1u << 20))
        snprintf(buf, 64, "%llu bytes (%.1f KiB)", (unsigned long long)n, (double)n / 1024);
    else
        snprintf(buf, 64, "%llu bytes (%.1f MiB)", (unsigned long long)n,
                 (double)n / (1024.0 * 1024.0));
    return buf;
}

/* ---- the run: signals, the JSON document, the end ---- */

static void on_signal(int signo)
{
    if (run.signo == 0)
        run.signo = signo;
}

void run_begin(int argc, char **argv, int signals)
{
    run.cmd = argc > 1 ? argv[1] : NULL;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--json") == 0)
            run.json = 1;
    /* A closed pipe is a write error to report (exit 8), not a death in
     * the middle of a write. */
    signal(SIGPIPE, SIG_IGN);
    if (!signals)
        return;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    /* No SA_RESTART: a read from a slow source returns; a second signal
     * kills at once (SA_RESETHAND). */
    sa.sa_flags = SA_RESETHAND;
    static const int caught[] = {SIGINT, SIGTERM};
    for (size_t i = 0; i < sizeof caught / sizeof caught[0]; i++) {
        struct sigaction old;
        /* One ignored from the start (nohup, a shell's background job)
         * stays ignored. */
        if (sigaction(caught[i], NULL, &old) == 0 && old.sa_handler != SIG_IGN)
            sigaction(caught[i], &sa, NULL);
    }
}

int run_cancelled(void *ctx)
{
    (void)ctx;
    return run.signo != 0;
}

int run_code(int code)
{
    return run.signo != 0 ? 128 + run.signo : code;
}

/* Writes JSON text s on stdout, every byte that is not part of a valid
 * UTF-8 sequence as \udcNN (docs/json.md): cJSON copies a string's bytes
 * as they are, and names and host paths may be any bytes. */
static void json_write(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p != '\0') {
        size_t n = *p < 0x80 ? 1 : *p >= 0xc2 && *p <= 0xdf ? 2 : *p >= 0xe0 && *p <= 0xef ? 3
                 : *p >= 0xf0 && *p <= 0xf4 ? 4 : 0;
        for (size_t k = 1; k < n; k++)
            if ((p[k] & 0xc0) != 0x80)
                n = 0;
        /* No overlong forms, surrogates or code points past U+10FFFF. */
        if ((n == 3 && p[0] == 0xe0 && p[1] < 0xa0) || (n == 3 && p[0] == 0xed && p[1] >= 0xa0) ||
            (n == 4 && p[0] == 0xf0 && p[1] < 0x90) || (n == 4 && p[0] == 0xf4 && p[1] >= 0x90))
            n = 0;
        if (n == 0) {
            printf("\\udc%02x", *p);
            n = 1;
        } else {
            fwrite(p, 1, n, stdout);
        }
        p += n;
    }
}

void json_add_outcome(cJSON *o, int code)
{
    code = run_code(code);
    cJSON_DeleteItemFromObject(o, "exit_code");
    cJSON_DeleteItemFromObject(o, "error");
    cJSON_AddNumberToObject(o, "exit_code", code);
    if (run.signo != 0)
        cJSON_AddStringToObject(o, "error", run.signo == SIGINT ? "interrupted by SIGINT"
                                                                : "terminated by SIGTERM");
    else if (code >= EXIT_OPERATIONAL && run.error[0] != '\0')
        cJSON_AddStringToObject(o, "error", run.error);
    else
        cJSON_AddNullToObject(o, "error");
}

void json_print_text(const char *s)
{
    if (!run.printed && s[0] == '{')
        fputs("{\"fsguard_json\": " FSG_JSON_FORMAT ",", stdout), s++;
    run.printed = 1;
    json_write(s);
}

void print_json(cJSON *j, int compact)
{
    cJSON *code = cJSON_GetObjectItem(j, "exit_code");
    json_add_outcome(j, cJSON_IsNumber(code) ? code->valueint : EXIT_CLEAN);
    char *s = compact ? cJSON_PrintUnformatted(j) : cJSON_Print(j);
    if (s == NULL) {
        err_msg("out of memory while printing the JSON report");
        exit(EXIT_OPERATIONAL);
    }
    json_print_text(s);
    putchar('\n');
    cJSON_free(s);
    cJSON_Delete(j);
}

int run_end(int code)
{
    if (run.signo != 0)
        err_msg("%s: stopped by %s (exit %d): the file being written was abandoned and "
                "its temporary file removed; everything else is as a power cut there would "
                "leave it", run.cmd != NULL ? run.cmd : "fsguard",
                run.signo == SIGINT ? "SIGINT" : "SIGTERM", 128 + run.signo);
    code = run_code(code);
    if (run.json && !run.printed && !run.help) {
        cJSON *j = cJSON_CreateObject();
        if (run.cmd != NULL)
            cJSON_AddStringToObject(j, "command", run.cmd);
        else
            cJSON_AddNullToObject(j, "command");
        cJSON_AddNumberToObject(j, "exit_code", code);
        print_json(j, 0);
    }
    int failed = fflush(stdout) != 0 || ferror(stdout);
    int e = errno;
    if (fclose(stdout) != 0 && !failed)
        failed = 1, e = errno;
    if (failed) {
        fprintf(stderr, "fsguard: write error on standard output: %s\n", strerror(e));
        code = EXIT_OPERATIONAL;
    }
    if (fflush(stderr) != 0 || ferror(stderr))
        code = EXIT_OPERATIONAL;
    return run_code(code);
}

int partition_option(struct partitions *p, int argc, char **argv, int *i, const char *cmd)
{
    const char **slot = strcmp(argv[*i], "--usr") == 0    ? &p->usr
                        : strcmp(argv[*i], "--bak") == 0  ? &p->bak
                        : strcmp(argv[*i], "--root") == 0 ? &p->root
                                                          : NULL;
    if (slot == NULL)
        return 0;
    if (*i + 1 >= argc || argv[*i + 1][0] == '\0')
        return usage_error(cmd, "a directory must follow", argv[*i]);
    *slot = argv[++*i];
    return 1;
}

int device_option(struct partitions *p, int *json, int argc, char **argv, int *i,
                  const char *cmd)
{
    int taken = partition_option(p, argc, argv, i, cmd);
    if (taken != 0)
        return taken;
    if (strcmp(argv[*i], "--help") == 0 || strcmp(argv[*i], "-h") == 0)
        return OPT_HELP;
    if (strcmp(argv[*i], "--wait") == 0) {
        int code = 0;
        const char *v = option_value(argc, argv, i, cmd, &code);
        if (v == NULL)
            return code;
        char *end;
        errno = 0;
        double s = strtod(v, &end);
        /* Seconds, fractions allowed, up to a day: never forever. */
        if (*v < '0' || *v > '9' || *end != '\0' || errno != 0 || !(s >= 0 && s <= 86400))
            return usage_error(cmd, "--wait takes seconds from 0 to 86400, not", v);
        p->wait_ms = (uint32_t)(s * 1000 + 0.5);
        p->wait_given = 1;
        return 1;
    }
    if (strcmp(argv[*i], "--json") != 0)
        return 0;
    *json = 1;
    return 1;
}

void print_help(const char *const texts[])
{
    run.help = 1;
    for (; *texts != NULL; texts++)
        fputs(*texts, stdout);
}

int device_args(struct device_cli *dc, int argc, char **argv, int first)
{
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        int taken = device_option(&dc->part, &dc->json, argc, argv, &i, dc->cmd);
        if (taken == OPT_HELP) {
            print_help(dc->help);
            return -1;
        }
        int option = a[0] == '-' && a[1] != '\0';
        if (taken == 0 && option && dc->option != NULL)
            taken = dc->option(dc, argc, argv, &i);
        else if (taken == 0 && !option && dc->operand != NULL)
            taken = dc->operand(dc, a);
        if (taken == 0)
            return usage_error(dc->cmd, option ? "unknown option" : "unexpected argument", a);
        if (taken != 1)
            return taken;
    }
    return partitions_resolve(&dc->part, dc->cmd, 1);
}

/* 1 if directory a is directory b or inside it, by device and inode up
 * a's chain of parents (a/.., a/../.., ...; links and bind mounts count as
 * what they lead to); 0 if not, or if either cannot be examined (opening
 * the partition reports that). */
static int dir_within(const char *a, const char *b)
{
    struct stat sb, sc, sp;
    size_t len = strlen(a), cap = len + 64;
    char *path = malloc(cap);
    int within = 0;

    if (path == NULL || stat(b, &sb) < 0 || stat(a, &sc) < 0) {
        free(path);
        return 0;
    }
    memcpy(path, a, len + 1);
    for (;;) {
        if (sc.st_dev == sb.st_dev && sc.st_ino == sb.st_ino) {
            within = 1;
            break;
        }
        if (len + 4 > cap) {
            char *bigger = realloc(path, cap *= 2);
            if (bigger == NULL)
                break;
            path = bigger;
        }
        memcpy(path + len, "/..", 4);
        len += 3;
        if (stat(path, &sp) < 0 || (sp.st_dev == sc.st_dev && sp.st_ino == sc.st_ino))
            break;  /* the root: its parent is itself */
        sc = sp;
    }
    free(path);
    return within;
}

int partitions_resolve(struct partitions *p, const char *cmd, int both)
{
    if (p->root != NULL && (p->usr != NULL || p->bak != NULL))
        return usage_error(cmd, "--root cannot be combined with --usr or --bak", NULL);
    if (p->root != NULL) {
        int n1 = snprintf(p->ubuf, sizeof p->ubuf, "%s/usr", p->root);
        int n2 = snprintf(p->bbuf, sizeof p->bbuf, "%s/bak", p->root);
        if (n1 < 0 || n2 < 0 || (size_t)n1 >= sizeof p->ubuf || (size_t)n2 >= sizeof p->bbuf)
            return usage_error(cmd, "--root path is too long", NULL);
        p->usr = p->ubuf;
        p->bak = p->bbuf;
    }
    if (both && (p->usr == NULL || p->bak == NULL))
        return usage_error(cmd, "give the partitions: --root DIR, or --usr DIR and --bak DIR",
                           NULL);
    if (!both && p->usr == NULL && p->bak == NULL)
        return usage_error(cmd, "which partition? give --root, --usr or --bak", NULL);
    if (p->usr != NULL && p->bak != NULL) {
        int usr_in = dir_within(p->usr, p->bak), bak_in = dir_within(p->bak, p->usr);
        if (usr_in && bak_in)
            return usage_error(cmd, "--usr and --bak name the same directory; the two "
                                    "partitions must be apart:", p->usr);
        if (usr_in || bak_in)
            return usage_error(cmd, usr_in ? "the user partition (--usr) is inside the backup "
                                             "partition (--bak); they must be apart:"
                                           : "the backup partition (--bak) is inside the user "
                                             "partition (--usr); they must be apart:",
                               usr_in ? p->usr : p->bak);
    }
    return 0;
}

int device_open(struct device *d, const struct partitions *p, const char *cmd)
{
    int err = fsg_posix_open(&d->bak, p->bak, 1);
    if (err < 0) {
        err_msg("%s: %s: cannot open the backup partition: %s", cmd, p->bak, fsg_strerror(err));
        return EXIT_OPERATIONAL;
    }
    err = fsg_posix_open(&d->usr, p->usr, 0);
    if (err < 0) {
        fsg_posix_close(&d->bak);
        err_msg("%s: %s: cannot open the user partition: %s", cmd, p->usr, fsg_strerror(err));
        return EXIT_OPERATIONAL;
    }
    memset(&d->cfg, 0, sizeof d->cfg);
    d->cfg.usr = &d->usr.port;
    d->cfg.bak = &d->bak.port;
    d->cfg.buf = d->buf;
    d->cfg.buf_size = sizeof d->buf;
    d->cfg.lock_wait_ms = partitions_wait_ms(p);
    return 0;
}

uint32_t partitions_wait_ms(const struct partitions *p)
{
    return p->wait_given ? p->wait_ms : DEFAULT_WAIT_S * 1000u;
}

const char *device_strerror(int err, const struct fsg_posix *usr, uint32_t wait_ms)
{
    static char text[160];
    if (err != FSG_ERR_LOCKED)
        return fsg_strerror(err);
    long pid = fsg_posix_lock_holder(usr);
    char who[48] = "another process";
    if (pid > 0)
        snprintf(who, sizeof who, "process %ld", pid);
    snprintf(text, sizeof text, "device busy: %s holds its lock (gave up after %.3g s; see --wait)",
             who, wait_ms / 1000.0);
    return text;
}

void device_close(struct device *d)
{
    fsg_posix_close(&d->usr);
    fsg_posix_close(&d->bak);
}

int load_key(const char *cmd, const char *path, int want_secret,
             unsigned char key[FSG_SECKEY_LEN])
{
    char text[4 * FSG_KEY_STRLEN];
    int secret = 0;
    FILE *f = fopen(path, "rb");

    if (f == NULL) {
        err_msg("%s: %s: %s", cmd, path, strerror(errno));
        return EXIT_OPERATIONAL;
    }
    size_t n = fread(text, 1, sizeof text, f);
    int bad = ferror(f) || n == sizeof text;
    fclose(f);
    if (bad || fsg_key_parse(text, n, &secret, key, NULL) < 0) {
        err_msg("%s: %s: not an fsguard key file (make one with 'fsguard keygen')", cmd, path);
        return EXIT_OPERATIONAL;
    }
    if (secret != want_secret) {
        err_msg("%s: %s is a %s key; give the %s key%s", cmd, path,
                secret ? "secret" : "public", want_secret ? "secret" : "public",
                want_secret ? "" : " (KEY.pub)");
        return EXIT_OPERATIONAL;
    }
    return 0;
}

const char *signature_text(int sig)
{
    switch (sig) {
    case FSG_SIG_GOOD: return "good";
    case FSG_SIG_MISSING: return "missing";
    case FSG_SIG_MALFORMED: return "malformed";
    case FSG_SIG_UNREADABLE: return "unreadable";
    case FSG_SIG_WRONG_KEY: return "wrong_key";
    case FSG_SIG_BAD: return "bad";
    default: return "unchecked";
    }
}

void signature_reason(int sig, int err, const char *bak, const char *keyfile, char *out,
                      size_t size)
{
    switch (sig) {
    case FSG_SIG_MISSING:
        snprintf(out, size, "%s/" FSG_SIG_NAME " is missing: the backup is not signed", bak);
        break;
    case FSG_SIG_MALFORMED:
        snprintf(out, size, "%s/" FSG_SIG_NAME " is not a signature line (ed25519 PUBKEY "
                            "SIGNATURE)", bak);
        break;
    case FSG_SIG_UNREADABLE:
        snprintf(out, size, "%s/" FSG_SIG_NAME ": unreadable (%s)", bak, fsg_strerror(err));
        break;
    case FSG_SIG_WRONG_KEY:
        snprintf(out, size, "%s/checksum.json is signed by another key than %s", bak, keyfile);
        break;
    case FSG_SIG_BAD:
        snprintf(out, size, "%s/checksum.json does not match its signature by %s: the table or "
                            "its signature was altered", bak, keyfile);
        break;
    default: snprintf(out, size, "%s/checksum.json: signature %s", bak, signature_text(sig)); break;
    }
}

const char *hash_kinds_text(unsigned kinds)
{
    switch (kinds & (FSG_HASH_CRC32 | FSG_HASH_SHA256)) {
    case FSG_HASH_SHA256: return "sha256";
    case FSG_HASH_CRC32 | FSG_HASH_SHA256: return "both";
    default: return "crc32";
    }
}

char *short_hash(unsigned kinds, uint32_t crc, const unsigned char *sha, char out[24])
{
    char full[FSG_SHA256_STRLEN];
    if ((kinds & FSG_HASH_CRC32) || sha == NULL)
        return fsg_hash_format(crc, out);
    fsg_sha256_format(sha, full);
    snprintf(out, 24, "sha256:%.12s", full);
    return out;
}

void json_add_found(struct cJSON *o, const struct fsg_event *ev)
{
    char h[FSG_SHA256_STRLEN];
    if (ev->has_actual)
        cJSON_AddStringToObject(o, "found", fsg_hash_format(ev->actual, h));
    else
        cJSON_AddNullToObject(o, "found");
    if (ev->sha_actual != NULL)
        cJSON_AddStringToObject(o, "found_sha256", fsg_sha256_format(ev->sha_actual, h));
}

struct cJSON *json_entry_event(const struct fsg_event *ev, const char *manifest)
{
    cJSON *e = cJSON_CreateObject();
    if (manifest != NULL)
        cJSON_AddStringToObject(e, "manifest", manifest);
    cJSON_AddNumberToObject(e, "index", (double)ev->index);
    if (ev->name != NULL)
        cJSON_AddStringToObject(e, "name", ev->name);
    else
        cJSON_AddNullToObject(e, "name");
    cJSON_AddStringToObject(e, "reason", fsg_defect_str(ev->defect));
    return e;
}

void json_add_hashes(struct cJSON *o, const char *crc_key, const char *sha_key, unsigned kinds,
                     uint32_t crc, const unsigned char *sha)
{
    char h[FSG_SHA256_STRLEN];
    if (kinds & FSG_HASH_CRC32)
        cJSON_AddStringToObject(o, crc_key, fsg_hash_format(crc, h));
    else
        cJSON_AddNullToObject(o, crc_key);
    if (sha != NULL)
        cJSON_AddStringToObject(o, sha_key, fsg_sha256_format(sha, h));
}
