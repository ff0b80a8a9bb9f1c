/*
 * ingest.h - the batch engine of the indexer (ingest.c), used by the
 * catch-up and follow loops (indexer.c).
 */
#ifndef DNNPROV_INGEST_H
#define DNNPROV_INGEST_H

#include <pthread.h>

#include "indexer/epochs.h"
#include "indexer/health.h"
#include "indexer/index.h"
#include "logger/decode.h"
#include "logger/prefetch.h"
#include "logger/reader.h"
#include "logger/record.h"
#include "util/map.h"

/* What the indexer knows of one segment. */
typedef struct dp_seg_state {
	char *rel;  /* path relative to log_dir: <dataflow>/<task>/<file> */
	char *df;   /* from the header, or the path; NULL until first read */
	char *task;
	uint32_t name_crc;     /* CRC32C of the file name, for record positions */
	uint32_t sequence;     /* from the file name; 0 for a version 1 segment */
	char run[65];          /* the run its header names; "" in version 1 */
	uint32_t boot;         /* CRC32C of its header's boot id; 0: none */
	dp_progress committed; /* as in the index */
	dp_progress pending;   /* including the open batch */
	bool touched;          /* pending must be written at commit */
	bool gave_way;         /* claims of damage gave way to frames in the open
				  batch: pending went back (damage_withdraw) */
	bool gone;             /* deleted from disk */
	bool unreadable;       /* could not be read last time (told once) */
	bool unreadable_told;  /* its failure has been reported */
	bool waiting;          /* not read: another segment of its task is unreadable */
	bool in_index;         /* has a progress entry */
	bool note;             /* a note segment (tag records only) */
	unsigned not_file;     /* its file type (S_IFIFO, S_IFLNK, ...) when it is no regular file: never read */
	/* Its task's and dataflow's states in the open batch (NULL: not
	 * looked up yet), spared a hash lookup per record. */
	struct dp_task_state *task_cached;
	struct dp_df_state *df_cached;
} dp_seg_state;

/* A metric a task reported in this batch, and its summary: a training
 * reports the same metrics every epoch, so this short list spares a hash
 * lookup per metric per record. */
typedef struct dp_task_metric {
	char *name;
	uint32_t len;
	struct dp_summary_state *summary;
	uint32_t pos; /* its position in the dataflow's list of metrics */
} dp_task_metric;

typedef struct dp_task_state {
	char df[DNNPROV_NAME_MAX + 1];
	char task[DNNPROV_NAME_MAX + 1];
	bool begun;     /* a begin record has been indexed */
	bool dirty;
	bool recompute; /* an epoch was re-logged: rebuild summaries at commit */
	bool was_running; /* status was RUNNING when loaded (the running db) */
	char status[16];
	double start, end, last; /* NaN when unknown */
	char *host, *user, *execution, *transformation, *message;
	int64_t pid;
	uint64_t epochs, attempts;
	char run[65];
	double attempt_start, active_before;
	/* The latest begin's time since boot and the boot it counts in (its
	 * segment's): the times of the attempt's records (records_time). */
	double attempt_mono;
	uint32_t attempt_boot;
	dp_buf owner; /* msgpack map, as the latest begin record gave it */
	int64_t last_epoch;
	bool has_last_epoch;
	dp_buf hyps; /* msgpack map of hyperparameter values */
	dp_buf facts; /* msgpack map of run facts; empty when none */
	/* The names its writers refused (refused records), as the pairs of a
	 * msgpack map without its header: name -> where it was first refused
	 * ("epoch 3", "test"); at most DP_REFUSED_NAMES_MAX. */
	dp_buf refused;
	uint32_t nrefused;
	dp_task_metric *metrics;
	size_t nmetrics;
	bool stored;    /* the tasks database holds it (counted, in starts) */
	bool row_built; /* row holds its hyperparameter row (schema.h), for ranks */
	dp_buf row;
	dp_health *health; /* the state of the health rules; NULL until needed in the batch */
	bool health_dirty;
} dp_task_state;

typedef struct dp_summary_state {
	dp_summary s;
	bool dirty;
	bool has_stored;         /* the index holds a summary (stored), whose ranks key is kept */
	dp_summary stored;
	struct dp_task_state *task; /* its task, in the same batch's cache */
} dp_summary_state;

typedef struct dp_df_state {
	char name[DNNPROV_NAME_MAX + 1];
	struct {
		char *name, *type;
	} *hyps;
	size_t nhyps;
	char **metrics;
	size_t nmetrics;
	dp_map metric_set;
	bool adaptation;
	bool undeclared; /* a task used a hyperparameter its specification does not name */
	struct {
		char *name;
		dp_buf raw; /* msgpack of the transformation's spec */
	} *tfs;
	size_t ntfs;
	/* The metrics' declared ranges (the spec's metric_ranges): a later
	 * spec's range for a metric replaces the earlier one. */
	struct {
		char *name;
		double low, high;
	} *ranges;
	size_t nranges;
	double first_seen;
	bool dirty;
} dp_df_state;

typedef struct dp_ingest {
	dp_index *ix;
	/* Held to resize the map, which LMDB allows with no transaction open
	 * in the process: the loader (loader.h) reads under it. */
	pthread_mutex_t gate;
	dp_indexer_options opts;
	MDB_txn *txn; /* the open batch, or NULL */
	double batch_started;
	uint32_t batch_records;
	/* A catch-up (dp_indexer_catch_up) is one long burst: its batches may
	 * hold bulk_records records (each commit writes the tree's upper pages
	 * again and waits for the disk: 100,000 one-segment runs took 13.5 s
	 * at 20,000 records a batch, 11 s at 100,000), but no more tasks than
	 * a batch of the usual size could, which bounds their memory.  Given
	 * --batch-records, a catch-up keeps to it. */
	bool bulk;
	uint32_t bulk_records;
	dp_map segs;      /* rel path -> dp_seg_state */
	dp_seg_state **touched; /* the segments the open batch read, for its commit */
	size_t ntouched, touchedcap;
	dp_map unreadable_in; /* task folder -> how many of its segments are unreadable */
	size_t nsegs;
	dp_map tasks;     /* key (df task) -> dp_task_state, this batch */
	dp_map summaries; /* key (df task metric) -> dp_summary_state, this batch */
	dp_map dataflows; /* key (df) -> dp_df_state, this batch */
	/* What the batch adds to the counts database, key -> the change (as
	 * an intptr_t), written with the batch: one write per dataflow and
	 * value, not one per task. */
	dp_map count_deltas;
	dp_decoder rowdec; /* tasks' hyperparameters, read into rows */
	dp_decoder rdec;  /* records */
	dp_decoder vdec;  /* index values */
	dp_buf scratch;
	/* The epoch block being filled (epochs.h): one at a time, written
	 * when an epoch of another block or task comes, or at commit.  A
	 * catch-up reads a task's segments in a row, so each block is put
	 * once, after every key before it: its pages fill. */
	struct {
		dp_task_state *task; /* NULL: none open */
		dp_eblock b;
		dp_key key;        /* (df, task, first epoch) */
		int64_t first, next_first; /* it holds [first, next_first) */
		bool dirty;
		size_t bytes;      /* its encoded size */
		uint64_t *prev;    /* times, elapsed, then per column: the bits of its last double */
		uint32_t prevcap;
		uint32_t *pos;     /* scratch for a record's metrics: positions, columns */
		dp_ev *vals;       /* and values */
		struct dp_task_metric **tm; /* and the task's entries for them */
		uint32_t tmpcap;
		dp_buf enc;
	} eb;
	dp_indexer_stats stats;
	/* The health rules (opts.rules, or the defaults), written to meta
	 * "rules" with the first commit; the events of the open batch, for
	 * the notifications (outbox: the numbers of its entries). */
	dp_rules rules;
	bool rules_stored;
	uint64_t outbox_next, outbox_committed; /* UINT64_MAX: not read from meta yet */
	dp_buf event_val;
	/* Notifications (notify.h): the last number handed to the notifier,
	 * and those it delivered, to delete from the outbox with the next
	 * commit. */
	uint64_t handed;
	uint64_t *delivered;
	size_t ndelivered, capdelivered;
	bool log_dir_stored; /* meta has log_dir (written with the first commit) */
	double listed_at;    /* start of the last full pass that ended, to write with the next commit; NaN: none */
} dp_ingest;

/* Whether a RUNNING task still has a live writer (indexer.c decides). */
typedef bool (*dp_alive_fn)(void *ctx, const char *df, const char *task, const dp_task_fields *f);

DP_INTERNAL int dp_ingest_init(dp_ingest *in, dp_index *ix, const dp_indexer_options *opts);
DP_INTERNAL void dp_ingest_free(dp_ingest *in);
/* The state of a segment, loading its committed progress on first use. */
DP_INTERNAL dp_seg_state *dp_ingest_segment_state(dp_ingest *in, const char *rel);
/* Reads a segment from its pending offset to its end (or a torn tail),
 * applying what it finds: from what the loader read ahead (pf, NULL when
 * none) when that holds the offset, else from the file.  *more is set when
 * the batch filled first. */
DP_INTERNAL int dp_ingest_segment(dp_ingest *in, dp_seg_state *s, const dp_prefetched *pf, bool *more);
/* Segments not read to their end: those whose last read failed, and those
 * waiting for an unreadable one of their task (counted in *waiting). */
DP_INTERNAL size_t dp_ingest_unread_count(const dp_ingest *in, size_t *waiting);
/* Before a full pass: every segment is tried again in name order, which
 * marks the unreadable ones again before the later segments of their task;
 * one deleted or renamed meanwhile no longer holds its task back. */
DP_INTERNAL void dp_ingest_forget_unreadable(dp_ingest *in);
DP_INTERNAL bool dp_ingest_batch_due(const dp_ingest *in);
/* Marks LOST, in the open batch (begun when needed), every RUNNING task
 * that alive() says has no live writer; *lost counts them.  The question is
 * asked over a read snapshot first, so a sweep that finds nothing writes
 * nothing. */
DP_INTERNAL int dp_ingest_sweep(dp_ingest *in, dp_alive_fn alive, void *ctx, size_t *lost);
DP_INTERNAL int dp_ingest_commit(dp_ingest *in);
/* Applies a piece of a segment that came without its file (index.h),
 * exactly once by (segment, offset); *outcome says what became of it, and
 * `why` why it was invalid.  Returns 0 or an error (MAP_FULL_RETRY too). */
DP_INTERNAL int dp_ingest_chunk(dp_ingest *in, const dp_chunk *c, dp_chunk_outcome *outcome, char *why, size_t n);
/* Writes meta[key] in the open batch (begun when needed). */
DP_INTERNAL int dp_ingest_put_meta(dp_ingest *in, const char *key, const void *value, size_t n);
/* A full pass that listed the logs at `started` has read every segment it
 * listed: the next commit records the time in meta (`listed_at`), and with
 * write_now a batch is begun so that the next commit happens even when the
 * pass read nothing new. */
DP_INTERNAL int dp_ingest_note_listing(dp_ingest *in, double started, bool write_now);
/* Removes task (df, task) from the index in a batch of its own (the open
 * one is committed first), when the index has it and, if `run` is not
 * empty, as that run: everything derived from its records, its segments'
 * progress and problems, its dataflow when it was the last task.  Its
 * segments are then read again from the start if they come back (a
 * restore).  *dropped tells whether it was there. */
DP_INTERNAL int dp_ingest_drop_task(dp_ingest *in, const char *df, const char *task, const char *run, bool *dropped);
/* Notifications: hands the notifier the outbox's entries it has not
 * had (as many as it takes), takes back those it delivered, and begins a
 * batch to delete them when none is open.  *waiting gets how many entries
 * the outbox holds (NULL: not wanted). */
DP_INTERNAL int dp_ingest_notify(dp_ingest *in, uint64_t *waiting);
/* Runs step() until it does not fail for a full map, growing the map and
 * starting again from the committed offsets each time. */
DP_INTERNAL int dp_ingest_run_with_retry(dp_ingest *in, int (*step)(dp_ingest *, void *), void *arg);

#endif
