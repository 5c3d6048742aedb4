/*
 * fsguard.c -- the command-line tool: a thin consumer of libfsguard over two
 * directories (the user and backup partitions). It parses options, prints
 * the library's events for people (--json for machines) and maps the result
 * to fsck-style exit codes.
 */
#define _POSIX_C_SOURCE 200809L
#include "common.h"

#include <stdio.h>
#include <string.h>

static const char usage_main[] =
    "Usage: fsguard COMMAND [OPTIONS]\n"
    "\n"
    "Keeps the protected files of a device's user partition (/usr) intact,\n"
    "restoring them from the read-only backup partition (/bak), in QuecPython's\n"
    "checksum.json / backup_restore.json formats.\n"
    "\n"
    "Commands:\n"
    "  boot     check every protected file and restore the damaged ones\n"
    "  verify   the same check, writing nothing; reports what boot would do\n"
    "  calc     record the hash of a legitimately edited protected file\n"
    "  put      replace a protected file crash-safely, recording its hash\n"
    "  fota     apply an over-the-air update, all or nothing; show its state\n"
    "  pack     build the factory partitions from a project tree\n"
    "  inspect  check built partitions offline\n"
    "  keygen   make a key pair for signed backups\n"
    "\n"
    "Run 'fsguard COMMAND --help' for a command's options.\n"
    "Options: --help, --version.\n"
    "\n"
    "Exit codes: 0 nothing needed fixing, 1 damage found and all repaired,\n"
    "4 damage left unrepaired, 8 operational error, 16 usage error.\n";
int main(int argc, char **argv)
{
    if (argc < 2)
        return usage_error(NULL, "no command given", NULL);
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage_main, stdout);
        return EXIT_CLEAN;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("fsguard %s\n", FSG_VERSION);
        return EXIT_CLEAN;
    }
    if (strcmp(cmd, "pack") == 0)
        return cmd_pack(argc, argv);
    if (strcmp(cmd, "inspect") == 0)
        return cmd_inspect(argc, argv);
    if (strcmp(cmd, "fota") == 0)
        return cmd_fota(argc, argv);
    if (strcmp(cmd, "keygen") == 0)
        return cmd_keygen(argc, argv);
    if (strcmp(cmd, "boot") != 0 && strcmp(cmd, "verify") != 0 && strcmp(cmd, "calc") != 0 &&
        strcmp(cmd, "put") != 0)
        return usage_error(NULL, "unknown command", cmd);
    return cmd_device(argc, argv);
}
