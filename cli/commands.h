/*
 * commands.h -- the commands of the fsguard tool, as main (fsguard.c)
 * dispatches to them: each takes main's argc and argv (argv[1] is the
 * command's name) and returns the tool's exit code.
 */
#ifndef FSG_CLI_COMMANDS_H
#define FSG_CLI_COMMANDS_H

int cmd_boot(int argc, char **argv);    /* boot.c */
int cmd_verify(int argc, char **argv);  /* boot.c */
int cmd_calc(int argc, char **argv);    /* edit.c */
int cmd_put(int argc, char **argv);     /* edit.c */
int cmd_fota(int argc, char **argv);    /* fota.c */
int cmd_pack(int argc, char **argv);    /* pack.c */
int cmd_inspect(int argc, char **argv); /* inspect.c */
int cmd_keygen(int argc, char **argv);  /* keys.c */

#endif
