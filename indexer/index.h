/*
 * index.h - opening the index (an LMDB environment behind the CURRENT
 * symlink of schema.h) for reading or writing, and the indexer service.
 */
#ifndef DNNPROV_INDEX_H
#define DNNPROV_INDEX_H

#include <lmdb.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "indexer/schema.h"

typedef struct dp_index {
	MDB_env *env;
	MDB_dbi dbi[DP_DB_COUNT];
	char *dir;      /* the index folder */
	char *gen_dir;  /* the generation opened */
	bool writable;
} dp_index;

/* Opens the index at `dir`.  Read-only: the folder must hold an index
 * (DNNPROV_ENOTFOUND otherwise, and nothing is created); its schema must be
 * this version's (DNNPROV_EINDEX).  Writable: creates the folder and a
 * first generation when missing.  `gen_dir`, when not NULL, opens that
 * generation folder instead of CURRENT (reindex builds one). */
DP_INTERNAL int dp_index_open(const char *dir, bool writable, const char *gen_dir, dp_index **out);
DP_INTERNAL void dp_index_close(dp_index *ix);

/* Begins a read-only transaction, adopting a map the writer has grown
 * meanwhile (MDB_MAP_RESIZED). */
DP_INTERNAL int dp_index_read(dp_index *ix, MDB_txn **txn);

/* Maps an LMDB return code to a DNNPROV_E* code with a detail. */
DP_INTERNAL int dp_lmdb_error(int mrc, const char *what);

/* ---- the indexer --------------------------------------------------------- */

typedef struct dp_indexer dp_indexer;

typedef struct dp_indexer_options {
	const char *log_dir; /* NULL: the indexer is fed (dp_indexer_apply) */
	const char *index_dir;
	/* Builds a fresh generation and swaps it in at the end (reindex). */
	bool rebuild;
	/* Commit a batch after this many records, or this long after its first
	 * record, whichever comes first. */
	uint32_t batch_records;    /* default 20000 */
	uint32_t batch_ms;         /* default 50 */
	uint32_t rescan_ms;        /* follow mode's full rescan period; default 1000 */
	bool no_inotify;           /* rescans only (tests; filesystems without it) */
	uint64_t initial_map_size; /* default 64 MiB; doubles when full */
	/* A RUNNING task whose owner is on another host is LOST after this
	 * many seconds without a record (default 3600; docs/RUNS.md). */
	double lost_after_s;
	/* Set by a signal handler: follow mode commits and returns. */
	volatile sig_atomic_t *stop;
	/* Told every problem skipped (segment, offset, what); may be NULL. */
	void (*report)(void *ctx, const char *segment, uint64_t offset, const char *what);
	/* Told once when a segment cannot be read (permissions, an I/O error):
	 * nothing is skipped, it is read again from `offset` at every pass. */
	void (*unreadable)(void *ctx, const char *segment, uint64_t offset, const char *why);
	/* Follow mode: told when a batch fails for a reason that may pass (the
	 * disk full or failing, the index folder deleted); the indexer rolls
	 * back, waits `retry_ms`, reopens the index and goes on. */
	void (*fault)(void *ctx, const char *why, unsigned retry_ms);
	void *report_ctx;
	/* Catch-up (index, reindex, and follow mode's first pass): told after
	 * every batch and segment how many records have been indexed and how
	 * many bytes of the pass's total have been read; may be NULL. */
	dp_work_fn progress;
	void *progress_ctx;
} dp_indexer_options;

typedef struct dp_indexer_stats {
	uint64_t records;  /* records indexed by this process */
	uint64_t problems; /* problems skipped by this process */
	uint64_t commits;
	uint64_t segments; /* segments known */
	uint64_t map_grows;
	uint64_t unread;     /* segments not read to their end, waiting included */
	uint64_t waiting;    /* of which: waiting for an unreadable one of their task */
	uint64_t faults;     /* follow mode: batches rolled back and retried */
	uint64_t overflows;  /* follow mode: inotify queue overflows, each answered by a rescan */
	uint64_t lost;       /* tasks found without a live writer (now LOST) */
} dp_indexer_stats;

/* ---- feeding the indexer from elsewhere --------------------------------------
 * A piece of a segment that came without its file (a message of the stream,
 * ship/): the segment's header and whole frames from `start`, or a problem
 * its shipper found there.  (segment, offset) names a record wherever it
 * travels, so what the index holds already is recognised and skipped.
 */
typedef struct dp_chunk {
	const char *segment;         /* <dataflow>/<task>/<file>, as under a log folder */
	uint64_t start;              /* the first byte it covers; 0: it begins with the header */
	const unsigned char *header; /* the segment's bytes [0, header_len): its header */
	size_t header_len;           /* 0 when the header was damaged at the source */
	const unsigned char *bytes;  /* the segment's bytes from max(start, header_len) */
	size_t len;
	uint32_t problem;            /* not 0: a problem of this kind (dp_problem_kind) covers
					[start, start + problem_len), and there are no bytes */
	uint64_t problem_len;
	const char *why;             /* the problem's words; NULL for the kind's name */
	const char *after;           /* NULL, or the task's previous segment, which must be
					indexed up to after_offset first (causal order) */
	uint64_t after_offset;
} dp_chunk;

typedef enum dp_chunk_outcome {
	DP_CHUNK_APPLIED, /* committed with the batch */
	DP_CHUNK_HAD,     /* the index held all of it already */
	DP_CHUNK_WAIT,    /* a part before it has not come yet: offer it again later */
	DP_CHUNK_INVALID, /* not a piece of a dnnprov segment: never applied */
} dp_chunk_outcome;

#define DP_CHUNK_WHY 160

/* Takes the index's lock (DNNPROV_ELOCKED when another indexer holds it,
 * with its pid in the detail) and opens the index for writing. */
DP_INTERNAL int dp_indexer_open(const dp_indexer_options *opts, dp_indexer **out);
/* Indexes everything on disk now and commits, then sweeps. */
DP_INTERNAL int dp_indexer_catch_up(dp_indexer *ix);
/* Marks LOST the RUNNING tasks whose writers are gone, and commits. */
DP_INTERNAL int dp_indexer_sweep(dp_indexer *ix);
/* Catches up, then follows the log tree until *opts->stop is set; commits
 * before returning. */
DP_INTERNAL int dp_indexer_follow(dp_indexer *ix);
/* For rebuild: swaps the new generation in (after catch-up); refuses
 * (DNNPROV_EIO) while a segment could not be read, keeping the old one. */
DP_INTERNAL int dp_indexer_swap(dp_indexer *ix);
DP_INTERNAL void dp_indexer_get_stats(const dp_indexer *ix, dp_indexer_stats *out);
/* An indexer opened without a log folder is fed: it applies chunks[0..n)
 * in order and commits them in one transaction together with
 * meta[meta_key] = meta_value (where the source stands, e.g. a stream
 * consumer's position), growing a full map and starting again as needed.
 * outcome[i] tells what became of each, why[i] why an invalid one was. */
DP_INTERNAL int dp_indexer_apply(dp_indexer *ix, const dp_chunk *chunks, size_t n, dp_chunk_outcome *outcome,
				 char (*why)[DP_CHUNK_WHY], const char *meta_key, const void *meta_value,
				 size_t meta_len);
/* The meta value stored under `key` by dp_indexer_apply (copied into
 * out[0..cap), *len its length), or DNNPROV_ENOTFOUND. */
DP_INTERNAL int dp_indexer_get_meta(dp_indexer *ix, const char *key, void *out, size_t cap, size_t *len);
/* After a batch that failed for a reason that may pass (may_pass(rc): the
 * disk full or failing, memory): reports it, waits, and reopens the index,
 * from its committed state.  Returns 0 or an error that will not pass. */
DP_INTERNAL bool dp_indexer_may_pass(int rc);
DP_INTERNAL int dp_indexer_recover(dp_indexer *ix, unsigned *retry_ms);
DP_INTERNAL void dp_indexer_close(dp_indexer *ix);

#endif
