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
/* The same for a failed write of the index (a commit): DNNPROV_ENOSPC
 * saying the disk is full when it is, though LMDB reports a write the disk
 * cut short as EIO; otherwise dp_lmdb_error(). */
DP_INTERNAL int dp_index_write_error(const dp_index *ix, int mrc, const char *what);

/* ---- prefix scans -----------------------------------------------------------
 * Every range read of the index is one of these: the keys of one database
 * that begin with a prefix, in key order from a start key, or backwards
 * from before one.  dp_scan_next() ends three
 * ways, so that a read error (a damaged page, a missing one) fails the
 * query instead of passing for the end of the range:
 *
 *   dp_scan s;
 *   if ((rc = dp_scan_open(&s, ix, txn, DP_DB_EPOCHS, &prefix, NULL)))
 *           return rc;
 *   while ((rc = dp_scan_next(&s, &k, &v)) == DP_SCAN_ROW)
 *           ...use k and v, valid until the next call...
 *   dp_scan_close(&s);
 *   if (rc < 0) ...the detail names the database...
 */
enum { DP_SCAN_END = 0, DP_SCAN_ROW = 1 };

typedef struct dp_scan {
	MDB_cursor *c;
	bool own;      /* the cursor is the scan's, closed with it */
	bool backward;
	bool started;
	int state;     /* DP_SCAN_ROW while rows may follow, then END or an error */
	const char *what; /* the database, for the detail of an error */
	dp_key prefix; /* empty: every key of the database */
	dp_key from;   /* forward: the first key >= from; backward: the last key < from */
} dp_scan;

/* A forward scan of the keys of `db` that begin with `prefix`, from the
 * first key >= `from` (NULL: from the prefix).  0 or an error. */
DP_INTERNAL int dp_scan_open(dp_scan *s, const dp_index *ix, MDB_txn *txn, dp_db db, const dp_key *prefix,
			     const dp_key *from);
/* The same on a cursor the caller keeps open (it is not closed). */
DP_INTERNAL void dp_scan_on(dp_scan *s, MDB_cursor *c, dp_db db, const dp_key *prefix, const dp_key *from);
/* The same on a database handle (errors say "reading the index"). */
DP_INTERNAL int dp_scan_open_dbi(dp_scan *s, MDB_txn *txn, MDB_dbi dbi, const dp_key *prefix, const dp_key *from);
/* A backward scan: the keys beginning with `prefix` that sort before
 * `before`, the last first. */
DP_INTERNAL int dp_scan_open_before(dp_scan *s, const dp_index *ix, MDB_txn *txn, dp_db db,
				    const dp_key *prefix, const dp_key *before);
/* DP_SCAN_ROW with *k and *v set, DP_SCAN_END, or a negative DNNPROV_E*
 * code whose detail names the database; after an end or an error it keeps
 * returning the same. */
DP_INTERNAL int dp_scan_next(dp_scan *s, MDB_val *k, MDB_val *v);
/* Forward scans: the next row is the first key >= `key` (to skip the rest
 * of a group). */
DP_INTERNAL void dp_scan_seek(dp_scan *s, const dp_key *key);
DP_INTERNAL void dp_scan_close(dp_scan *s);

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
	/* The health rules (config.h; NULL: their defaults), from the
	 * indexer's host, never from the logs (docs/STEERING.md). */
	const struct dp_rules *rules;
	/* Every event found is queued for a notification (the outbox
	 * database), delivered by `notifier` (notify.h) when not NULL. */
	bool notify;
	struct dp_notifier *notifier;
	/* Set by a signal handler: follow mode commits and returns. */
	volatile sig_atomic_t *stop;
	/* Told every problem skipped (segment, offset, what); may be NULL. */
	void (*report)(void *ctx, const char *segment, uint64_t offset, const char *what);
	/* Told every problem that skipped nothing (a name the rule of names
	 * refuses, in a record an older writer wrote, indexed as written); may
	 * be NULL.  Both kinds are in the problems database. */
	void (*notice)(void *ctx, const char *segment, uint64_t offset, const char *what);
	/* Told once when a segment cannot be read (permissions, an I/O error):
	 * nothing is skipped, it is read again from `offset` at every pass. */
	void (*unreadable)(void *ctx, const char *segment, uint64_t offset, const char *why);
	/* Follow mode: told when a batch fails for a reason that may pass (the
	 * disk full or failing, the index folder deleted); the indexer rolls
	 * back, waits `retry_ms`, reopens the index and goes on. */
	void (*fault)(void *ctx, const char *why, unsigned retry_ms);
	/* Told once for what under the log folder is not read, by the rule of
	 * logger/scan.h, with its path relative to the log folder: an entry
	 * named like a segment that is no regular file, or a symbolic link to
	 * a folder (never read), and a folder that cannot be listed (listed
	 * again at every pass; told again if it fails again after a pass
	 * that could list it). */
	void (*skipped)(void *ctx, const char *path, const char *why);
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
	uint64_t map_grows;  /* the map doubled, ahead of a batch or after one filled it */
	uint64_t rollbacks;  /* batches rolled back because the map was full (read again) */
	uint64_t unread;     /* segments not read to their end, waiting included */
	uint64_t waiting;    /* of which: waiting for an unreadable one of their task */
	uint64_t faults;     /* follow mode: batches rolled back and retried */
	uint64_t overflows;  /* follow mode: inotify queue overflows, each answered by a rescan */
	uint64_t unlistable; /* folders the last full pass could not list */
	uint64_t lost;       /* tasks found without a live writer (now LOST) */
	uint64_t removed;    /* tasks dropped because `dnnprov delete` moved them away */
	uint64_t events;     /* health events stored by this process */
	uint64_t unqueued;   /* of which not queued for a notification: the outbox was full */
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
/* No chunk reaches past this offset: the largest segment_size (1 TiB,
 * docs/CONFIG.md) and the frame that crossed it. */
#define DP_CHUNK_OFFSET_MAX ((UINT64_C(1) << 40) + 16u + DNNPROV_RECORD_MAX)

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
 * (DNNPROV_EIO) while a segment or a folder could not be read, keeping the
 * old one. */
DP_INTERNAL int dp_indexer_swap(dp_indexer *ix);
DP_INTERNAL void dp_indexer_get_stats(const dp_indexer *ix, dp_indexer_stats *out);
/* An indexer opened without a log folder is fed: it applies chunks[0..n)
 * in order and commits them in one transaction together with
 * meta[meta_key] = meta_value (where the source stands, e.g. a stream
 * consumer's position), growing a full map and starting again as needed.
 * outcome[i] tells what became of each, why[i] why an invalid one was or
 * what a waiting one waits for. */
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
/* Notifications (notify.h): hands the notifier what the outbox holds and
 * commits the deletion of what it delivered, until the outbox is empty
 * and the notifier idle, a delivery fails, or wait_s passes (0: one
 * round); *waiting gets the notifications still in the outbox. */
DP_INTERNAL int dp_indexer_notify_drain(dp_indexer *x, double wait_s, uint64_t *waiting);
/* A fed indexer's turn between applies: the notifier handed what waits,
 * the deletions of what it delivered committed when due. */
DP_INTERNAL int dp_indexer_tick(dp_indexer *x);

#endif
