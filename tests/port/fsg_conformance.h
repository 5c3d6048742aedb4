/*
 * fsg_conformance.h -- the storage port's contract as tests: run them
 * against any struct fsg_port (yours over littlefs, FatFs or a vendor file
 * system) to learn whether fsguard can rely on it. The suite uses only the
 * port and standard C (no stdio): it reports through a callback, so it
 * runs on a device as well as on a host.
 *
 *     struct fsg_conformance t = {0};
 *     t.port = &my_port;              // an empty, writable partition
 *     t.say = print_line;             // called with one line per failure
 *     int failed = fsg_conformance_run(&t);
 *
 * The partition must be empty at the start; the suite leaves files in it.
 * The lock checks run when the port has lock and unlock (both or neither
 * is itself a check); give t.other to check that two instances exclude
 * each other. The checks of permission bits and of the write prediction
 * run when the port (version 3) has getperm and setperm, or writable.
 */
#ifndef FSG_CONFORMANCE_H
#define FSG_CONFORMANCE_H

#include "fsguard.h"

struct fsg_conformance {
    const struct fsg_port *port;  /* the port under test: empty, writable */
    /* Optional: creates a symbolic link at path (pointing to target) or a
     * special file (FIFO, device) at path, outside the port, for the checks
     * that links are never followed and special files never opened. Return
     * 0 on success; NULL skips those checks (say so in your report). */
    int (*make_link)(void *ctx, const char *path, const char *target);
    int (*make_special)(void *ctx, const char *path);
    void *ctx;
    /* Optional, for a port with lock and unlock: a second port over the
     * same partition (another instance, as another task or process would
     * open it), for the checks that each one's lock keeps the other out;
     * NULL skips those checks. */
    const struct fsg_port *other;
    /* Called with one line of text for each failed check (and, with
     * verbose, for each passed one). */
    void (*say)(void *ctx, const char *line);
    int verbose;
    /* Results. */
    unsigned checks, failed, skipped;
};

/* Runs every check; returns the number that failed (t->failed). */
int fsg_conformance_run(struct fsg_conformance *t);

#endif
