/*
 * state.h - the shipper's progress: a small LMDB environment in its state
 * folder (docs/SHIP.md).
 *
 *   <state_dir>/data.mdb, lock.mdb   the environment
 *   <state_dir>/ship.lock            held by the one shipper (F_OFD_SETLK); its pid
 *
 * Databases:
 *   segments:  segment path relative to log_dir -> struct dp_ship_progress
 *   meta:      "log_dir" -> the absolute log folder it ships
 *              "stream" -> the stream's name; "created" -> int64 ns, when the
 *              stream it ships to was created (a stream created anew is
 *              shipped to from the start)
 *              "state" -> the connection's state, as last told; "since" ->
 *              double, since when; "commit" -> double, the last commit
 *
 * An acknowledged offset is written only after the server's
 * acknowledgement, so a restart resumes from offsets the stream holds:
 * what was in flight is sent again (dropped by the message id, or skipped
 * by the indexers), and nothing is lost.
 */
#ifndef DNNPROV_SHIP_STATE_H
#define DNNPROV_SHIP_STATE_H

#include <lmdb.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/util.h"

typedef struct dp_ship_progress {
	uint64_t acked;    /* the stream holds every byte before this offset */
	uint64_t shipped;  /* published up to here, acknowledged or not */
	uint64_t records;  /* records acknowledged */
	uint64_t problems; /* damage reported (and published as such) */
	uint32_t done;     /* read to its seal and all acknowledged: never read again */
	uint32_t reserved;
} dp_ship_progress;

typedef struct dp_ship_state {
	MDB_env *env;
	MDB_dbi segments, meta;
	int lock_fd;
	char *dir;
} dp_ship_state;

/* Opens (creating) the state folder and takes its lock: DNNPROV_ELOCKED
 * when another shipper holds it.  A folder that ships another log folder
 * is refused. */
DP_INTERNAL int dp_ship_state_open(dp_ship_state *st, const char *dir, const char *log_dir);
DP_INTERNAL void dp_ship_state_close(dp_ship_state *st);

/* The progress stored for segment `rel`, in *p (left as it is when none
 * is, *found false).  0 or an error naming the folder. */
DP_INTERNAL int dp_ship_state_progress(dp_ship_state *st, const char *rel, dp_ship_progress *p, bool *found);

/* A write of the state: what is put between begin and end is committed
 * together, or not at all.  Every LMDB call of the shipper's state is
 * behind these (state.c); the first error is kept, and the calls after it
 * do nothing. */
typedef struct dp_ship_write {
	dp_ship_state *st;
	MDB_txn *txn;
	int rc;
} dp_ship_write;

DP_INTERNAL int dp_ship_write_begin(dp_ship_state *st, dp_ship_write *w);
DP_INTERNAL void dp_ship_write_progress(dp_ship_write *w, const char *rel, const dp_ship_progress *p);
DP_INTERNAL void dp_ship_write_meta(dp_ship_write *w, const char *key, const void *v, size_t n);
/* The meta value `key` when it is n bytes long (copied into out); false
 * otherwise. */
DP_INTERNAL bool dp_ship_write_get_meta(dp_ship_write *w, const char *key, void *out, size_t n);
/* Forgets every segment's progress: they are all shipped again. */
DP_INTERNAL void dp_ship_write_forget_progress(dp_ship_write *w);
/* Commits (commit) or drops what was written; 0 or the first error. */
DP_INTERNAL int dp_ship_write_end(dp_ship_write *w, bool commit);

#endif
