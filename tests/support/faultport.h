/*
 * faultport.h -- a wrapper port for the tests: it wraps any struct fsg_port
 * (the in-memory one of ports/mem, the POSIX one, a vendor's) and passes
 * every call through, counting it, tracing what it changed, and failing or
 * shaping it on demand: the n-th call failing (once or from then on), a
 * write stored with a bit flipped, a read-only partition, short reads.
 *
 * A call the wrapper fails never reaches the inner port, so it changes
 * nothing; close is the exception: the inner close runs (the handle is
 * released) and the injected error is returned. A power cut is a fault at
 * the n-th call with FSG_ERR_IO, persistent; with ports/mem, follow it
 * with fsg_mem_crash.
 *
 * The wrapper checks every path before the inner port sees it (relative,
 * '/'-separated, no ".", "..", or empty components; "" only for syncdir and
 * list; the rules fsg_mem_path_ok states): a bad one fails with
 * FSG_ERR_INVAL and is counted, so a test can assert the core never
 * produced one.
 */
#ifndef FAULTPORT_H
#define FAULTPORT_H

#include "fsguard.h"

#include <stddef.h>
#include <stdint.h>

/* Kinds of callback call, for counters and targeted faults. open() counts
 * as FP_OP_OPEN in FSG_OPEN_READ mode, as FP_OP_CREATE in FSG_OPEN_CREATE. */
enum fp_op {
    FP_OP_ANY = -1,
    FP_OP_OPEN = 0,
    FP_OP_CREATE,
    FP_OP_READ,
    FP_OP_WRITE,
    FP_OP_SYNC,
    FP_OP_CLOSE,
    FP_OP_STAT,
    FP_OP_REMOVE,
    FP_OP_RENAME,
    FP_OP_MKDIR,
    FP_OP_SYNCDIR,
    FP_OP_LIST,
    FP_OP_GETPERM,
    FP_OP_SETPERM,
    FP_OP_WRITABLE,
    FP_OP_COUNT
};

struct fp_ops {
    unsigned long total;               /* every callback call */
    unsigned long calls[FP_OP_COUNT];  /* calls by kind, failed ones included */
    /* Mutations that took effect (calls the inner port completed). */
    unsigned long creates, writes, renames, removes, mkdirs, chmods;
};

struct faultport;

/* A wrapper over inner (which must outlive it); NULL if out of memory.
 * Callbacks inner lacks stay NULL, but for writable (struct fsg_port
 * version 3), which the wrapper always offers: FSG_ERR_ROFS while it is
 * read-only (faultport_set_readonly), else inner's answer, or 0 if inner
 * has none. */
struct faultport *faultport_new(const struct fsg_port *inner);
/* Frees the wrapper (and its record of handles still open; the inner port
 * is not touched). */
void faultport_free(struct faultport *fp);
/* The wrapping port, to put in struct fsg_config. */
const struct fsg_port *faultport_port(struct faultport *fp);

/* ---- shaping ---- */
/* With readonly set, every writing call (create, write, remove, rename,
 * mkdir, syncdir, setperm) fails with FSG_ERR_ROFS, and writable says so. */
void faultport_set_readonly(struct faultport *fp, int readonly);
/* Every read asks the inner port for at most n bytes (short reads, as some
 * file systems give); 0 means no limit. */
void faultport_set_read_max(struct faultport *fp, size_t n);

/* ---- counters and trace ---- */
const struct fp_ops *faultport_ops(const struct faultport *fp);
/* Zeroes the counters and empties the trace. */
void faultport_reset_ops(struct faultport *fp);
/* creates + writes + renames + removes + mkdirs + chmods that took effect. */
unsigned long faultport_mutations(const struct faultport *fp);
/* Calls of mutating kinds (create, write, rename, remove, mkdir, setperm), failed
 * ones included: 0 means nothing even tried to write. */
unsigned long faultport_mutating_calls(const struct faultport *fp);
/* The mutations and syncs that took effect since the last reset, one line
 * each: "create P", "write P N", "chmod P", "sync P", "rename P Q",
 * "remove P", "mkdir P", "syncdir P" (P empty for the root). */
const char *faultport_trace(const struct faultport *fp);
/* Checks the crash-safe write protocol in the trace: every rename moves a
 * file synced after its last write or chmod (one the trace never wrote counts as
 * synced) and is followed by a sync of the
 * target's directory (before the next create or rename); every new
 * directory is synced into its parent before anything else is created.
 * Prints what breaks it to stderr; returns 1 if nothing does. */
int faultport_protocol_ok(const struct faultport *fp);
/* File handles currently open through the wrapper (a leak check: 0 after
 * every core call). */
unsigned long faultport_open_handles(const struct faultport *fp);
/* Calls that received an invalid path. */
unsigned long faultport_bad_paths(const struct faultport *fp);

/* ---- fault injection ---- */
/* The n-th callback call from now (n >= 1, every kind counted) fails with
 * err; with persistent, so does every call after it. Replaces any earlier
 * fault; n = 0 disarms. */
void faultport_fail_at(struct faultport *fp, unsigned long n, int err, int persistent);
/* The same, counting only calls of one kind (enum fp_op). */
void faultport_fail_kind(struct faultport *fp, int kind, unsigned long n, int err,
                         int persistent);
/* The n-th write call from now (n >= 1) succeeds but hands the inner port
 * its data with one bit flipped: silent corruption only a read-back sees. */
void faultport_corrupt_write(struct faultport *fp, unsigned long n);
/* Disarms both kinds of fault (the power is back). */
void faultport_fail_clear(struct faultport *fp);
/* Calls failed (or corrupted) by injection so far. */
unsigned long faultport_faults_hit(const struct faultport *fp);

/* ---- the lock (fsg_port.lock, unlock) ----
 * A wrapper over a port with lock and unlock wraps them (counting, then
 * passing through). faultport_set_lock(fp, 1) gives one over a port
 * without them (the in-memory store) an emulated lock: SHARED holders or
 * one EXCLUSIVE, a conflicting lock failing at once with FSG_ERR_LOCKED
 * (and counted as a conflict: the core never nests its own). Lock calls
 * are not storage calls: they are not in fp_ops, and faults armed with
 * faultport_fail_* never hit them. */
struct fp_lock {
    unsigned long locks, unlocks;   /* calls of each, failed ones included */
    unsigned long shared, exclusive;/* locks asked for in each mode */
    unsigned long conflicts;        /* emulated: a lock refused as held */
    unsigned long bad_unlocks;      /* unlock without the lock held */
    unsigned long unheld_calls;     /* storage calls made while the lock
                                       was not held (counted only while a
                                       lock is offered) */
    unsigned long holders;          /* now */
    uint32_t last_wait_ms;          /* the wait the last lock call asked for */
};
/* Offers (on) or withdraws (0) the emulated lock; with on, the port's
 * version becomes FSG_PORT_VERSION. */
void faultport_set_lock(struct faultport *fp, int on);
/* Every lock call fails with err (FSG_ERR_LOCKED: a busy device) without
 * taking the lock, until called with 0. */
void faultport_lock_fail(struct faultport *fp, int err);
const struct fp_lock *faultport_lock_stats(const struct faultport *fp);
/* Zeroes the lock counters (holders and the offer stay). */
void faultport_lock_reset(struct faultport *fp);

#endif
