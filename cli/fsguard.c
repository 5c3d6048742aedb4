/*
 * fsguard.c -- the command-line tool's entry point: main, the table that
 * dispatches to each command (commands.h; one file each), and the top-level
 * help (fsguard --help) and --version. The tool is a thin consumer of
 * libfsguard over two directories, the user and backup partitions.
 */
#define _POSIX_C_SOURCE 200809L
#include "commands.h"
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
    "4 damage left unrepaired, 8 operational error (a failed write of stdout or\n"
    "stderr too), 16 usage error, 130 or 143 stopped by SIGINT or SIGTERM (the\n"
    "file being written abandoned, its temporary file removed).\n";
static const struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    int writes;     /* stops cleanly on SIGINT or SIGTERM */
} commands[] = {
    {"boot", cmd_boot, 1}, {"verify", cmd_verify, 1}, {"calc", cmd_calc, 1},
    {"put", cmd_put, 1},   {"fota", cmd_fota, 1},     {"pack", cmd_pack, 1},
    {"inspect", cmd_inspect, 0}, {"keygen", cmd_keygen, 0},
};

static int dispatch(int argc, char **argv)
{
    if (argc < 2)
        return usage_error(NULL, "no command given", NULL);
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        run.help = 1;
        fputs(usage_main, stdout);
        return EXIT_CLEAN;
    }
    if (strcmp(cmd, "--version") == 0) {
        run.help = 1;
        printf("fsguard %s\n", FSG_VERSION);
        return EXIT_CLEAN;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(cmd, commands[i].name) == 0)
            return commands[i].run(argc, argv);
    return usage_error(NULL, "unknown command", cmd);
}

int main(int argc, char **argv)
{
    int writes = 0;
    for (size_t i = 0; argc > 1 && i < sizeof commands / sizeof commands[0]; i++)
        writes |= strcmp(argv[1], commands[i].name) == 0 && commands[i].writes;
    run_begin(argc, argv, writes);
    return run_end(dispatch(argc, argv));
}
