/*
 * fsg_host.h -- declarations shared by the host side's source files (host/:
 * pack, inspect, update trees, signing). They build on the core's internals
 * (fsg_internal.h); no core file includes this header.
 */
#ifndef FSG_HOST_H
#define FSG_HOST_H

#include "fsg_internal.h"

/* ---- trees to install (tree.c) ---- */

struct fsg_pfile {
    char *name;         /* "/usr/" + path in the tree */
    uint64_t size;
    struct fsg_sum sum;
    bool protect;
};

struct fsg_plan {
    struct fsg_ctx *c;
    const struct fsg_port *src;     /* the tree; needs list */
    bool reserve_switch;            /* refuse backup_restore.json at the root too */
    struct fsg_pfile *files;        /* sorted by name */
    size_t n, cap;
    char **dirs;                    /* "path/" of each directory, sorted */
    size_t nd, capd;
    unsigned long refused;
    int err;
};

/* Reads the tree, emitting FSG_EVENT_REFUSED for each entry that cannot be
 * installed (links, special files, unstorable names, checksum.json at the
 * root); FSG_ERR_INVAL if any was. */
int fsg_tree_plan(struct fsg_plan *pl);
void fsg_tree_free(struct fsg_plan *pl);

/* ---- signing (keys.c) ---- */

/* Room for the signature file's line: "ed25519 PK SIG\n" and a NUL. */
#define FSG_SIG_LINE_LEN (8 + 2 * FSG_PUBKEY_LEN + 1 + 128 + 2)
/* Signs text with secret key sk into the signature file's line. */
int fsg_sign_line(const unsigned char sk[FSG_SECKEY_LEN], const char *text, size_t len,
                  char out[FSG_SIG_LINE_LEN]);

#endif
