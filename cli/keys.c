/*
 * keys.c -- `fsguard keygen`: a key pair for signed backups.
 */
#define _POSIX_C_SOURCE 200809L
#include "commands.h"
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage_keygen[] =
    "Usage: fsguard keygen KEY\n"
    "\n"
    "Makes an Ed25519 key pair for signed backups. KEY gets the secret key\n"
    "(mode 0600): keep it where factory images are built, never on a device;\n"
    "'fsguard pack --sign KEY' signs the backup checksum.json with it. KEY.pub\n"
    "gets the public key: install it on the device and run\n"
    "'fsguard boot --pubkey KEY.pub', which then refuses a backup partition\n"
    "that this key did not sign. Neither file may exist already.\n"
    "\n"
    "Options:\n"
    "  --help        this text\n"
    "\n"
    "Exit codes: 0 key pair written, 8 error (nothing written), 16 usage error.\n";

/* Creates path (which must not exist) with text, synced. */
static int write_new(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0)
        return -1;
    size_t len = strlen(text);
    ssize_t n = write(fd, text, len);
    int err = 0;
    if (n < 0)
        err = errno;
    else if ((size_t)n != len)
        err = EIO;
    else if (fsync(fd) < 0)
        err = errno;
    if (close(fd) < 0 && err == 0)
        err = errno;
    if (err != 0) {
        unlink(path);
        errno = err;
        return -1;
    }
    return 0;
}

int cmd_keygen(int argc, char **argv)
{
    unsigned char pk[FSG_PUBKEY_LEN], sk[FSG_SECKEY_LEN];
    char line[FSG_KEY_STRLEN], pub[4096];
    const char *key = NULL;

    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            const char *const help[] = {usage_keygen, exits_output, NULL};
            print_help(help);
            return EXIT_CLEAN;
        } else if (a[0] == '-' && a[1] != '\0') {
            return usage_error("keygen", "unknown option", a);
        } else if (key == NULL) {
            key = a;
        } else {
            return usage_error("keygen", "unexpected argument", a);
        }
    }
    if (key == NULL)
        return usage_error("keygen", "where to? give KEY (KEY.pub is written beside it)", NULL);
    if ((size_t)snprintf(pub, sizeof pub, "%s.pub", key) >= sizeof pub)
        return usage_error("keygen", "path too long", key);
    /* lstat: a link, even a dangling one, is something that exists. */
    struct stat st;
    if (lstat(key, &st) == 0 || lstat(pub, &st) == 0) {
        err_msg("keygen: %s exists; a key is never overwritten; nothing written",
                lstat(key, &st) == 0 ? key : pub);
        return EXIT_OPERATIONAL;
    }
    if (fsg_keygen(pk, sk) < 0) {
        err_msg("keygen: no random source; nothing written");
        return EXIT_OPERATIONAL;
    }
    if (write_new(key, fsg_key_format(1, sk, line), 0600) < 0) {
        err_msg("keygen: %s: %s; nothing written", key, strerror(errno));
        return EXIT_OPERATIONAL;
    }
    memset(line, 0, sizeof line);
    memset(sk, 0, sizeof sk);
    if (write_new(pub, fsg_key_format(0, pk, line), 0644) < 0) {
        err_msg("keygen: %s: %s; nothing written", pub, strerror(errno));
        unlink(key);
        return EXIT_OPERATIONAL;
    }
    printf("secret key: %s (keep it off devices)\npublic key: %s\n  %s", key, pub, line);
    return EXIT_CLEAN;
}
