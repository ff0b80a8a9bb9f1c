/*
 * loader.h - reading the log tree on a second thread (loader.c).
 *
 * A pass of the indexer lists every segment and applies what is new in
 * each, in one LMDB write transaction per batch; the transaction is one
 * thread's.  The loader is the pass's other half, on a thread of its
 * own: it lists the folders (logger/scan.h, in the order a pass reads
 * them) and reads each segment that has something new into memory,
 * checking and decoding its records (logger/prefetch.h), while the
 * indexer's thread applies the segments before it and commits.  It
 * hands them over in order through a bounded queue, and decides nothing:
 * what it read is applied by dp_ingest_segment() only when it holds the
 * offset the indexer's own state says to read from; otherwise the indexer
 * reads the file itself.
 *
 * What it knows of the index it reads in short read transactions, each
 * between a renew and a reset under the gate that the indexer's thread
 * takes to resize the map (LMDB resizes only with no transaction open in
 * the process).  It never writes.
 */
#ifndef DNNPROV_LOADER_H
#define DNNPROV_LOADER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "indexer/index.h"
#include "logger/prefetch.h"
#include "logger/scan.h"

typedef enum dp_load_kind {
	DP_LOAD_SEGMENT, /* a segment, in the order of the pass */
	DP_LOAD_REPORT,  /* what the walk could not take (dp_walk_report) */
	DP_LOAD_TOTAL,   /* the bytes the segments hold past the index (counted walks) */
} dp_load_kind;

typedef struct dp_loaded {
	dp_load_kind kind;
	char *path;           /* segment: relative to the log folder; report: as the walk told it */
	bool read;            /* segment: pf was read (from the offset the index had) */
	dp_prefetched pf;
	dp_walk_issue issue;  /* report */
	char *why;
	uint64_t total;       /* total */
} dp_loaded;

typedef struct dp_loader dp_loader;

/* Starts the loader of a pass over log_dir (absolute, no trailing slash),
 * reading progress from ix under `gate`.  With `count`, it lists the whole
 * tree first and says what the segments hold past the index (a
 * DP_LOAD_TOTAL item before the first segment), for a progress line;
 * otherwise segments are read as their folders are listed.  0 or an
 * error. */
DP_INTERNAL int dp_loader_start(dp_loader **out, const char *log_dir, dp_index *ix, pthread_mutex_t *gate,
				bool count);
/* The next item: 1 with *item set (dp_loaded_free frees it), or 0 at the
 * end of the pass with *walk_rc what the walk returned (0, DNNPROV_ENOMEM,
 * or the error of a folder it could not list). */
DP_INTERNAL int dp_loader_next(dp_loader *l, dp_loaded *item, int *walk_rc);
DP_INTERNAL void dp_loaded_free(dp_loaded *item);
/* Stops the loader wherever it is, waits for its thread and frees it. */
DP_INTERNAL void dp_loader_stop(dp_loader *l);

#endif
