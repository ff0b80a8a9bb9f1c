/*
 * schema.h - the LMDB index: its folder layout, named databases, key
 * encodings and value layouts.  docs/INDEX.md says the same for readers;
 * this comment is the normative copy.  Bump DP_SCHEMA_VERSION on any change
 * an older reader would misread; `dnnprov reindex` rebuilds from the logs.
 *
 * FOLDER
 *
 *   <index_dir>/CURRENT        symlink to the generation in use, "gen-<N>"
 *   <index_dir>/gen-<N>/       an LMDB environment (data.mdb, lock.mdb)
 *   <index_dir>/indexer.lock   flock(2)ed by the one indexer; holds its pid
 *
 * `dnnprov reindex` builds gen-<N+1> and renames a new symlink over
 * CURRENT: the swap is atomic, and a query that opened gen-<N> keeps reading
 * it (its files stay mapped after they are unlinked).  Every other gen-*
 * is then removed.  A reader that resolved CURRENT to a generation removed
 * before it could open it resolves CURRENT again (env.c).
 *
 * KEYS
 *
 * Keys are concatenations of fields that sort as the tuple does:
 *   string   its bytes and a 0x00 terminator (names are tags: no NUL inside)
 *   int64    8 bytes big-endian with the sign bit flipped
 *   double   8 bytes big-endian: the IEEE bits with the sign bit flipped for
 *            positives and every bit flipped for negatives (NaN last)
 *   value    a type byte, then: 0x01 number -> double; 0x02 text -> string
 *
 * DATABASES (name: key -> value)
 *
 *   meta:        "schema" -> u32 DP_SCHEMA_VERSION (little-endian);
 *                "last_commit", "listed_at" -> double (seconds): the last
 *                commit, and when the last pass that read everything it
 *                listed began listing; "log_dir" -> the log folder
 *                "stream:<name>" -> "floor <seq> consumer <name>" in an index
 *                fed by a stream (ship/consume.c), written with the data;
 *                "rules" -> msgpack map: the health rules the indexer
 *                applies (indexer/health.h, dp_rules_encode);
 *                "outbox_next" -> u64: the number of the next notification
 *   dataflows:   df -> msgpack map: the merged specification
 *                  {hyperparameters: [{name, type}], metrics: [str],
 *                   adaptation: bool, transformations: [...as in the spec
 *                   record...], first_seen: time,
 *                   metric_ranges: {metric: [low, high]} (present once a
 *                   spec declared some; a later spec's range for a metric
 *                   replaces the earlier one),
 *                   undeclared_hyperparameters: true (present once a task
 *                   used a hyperparameter name the specification lacks)}
 *                metrics lists declared names, then every other metric name
 *                an epoch or test record used, in the order first seen; it
 *                only grows: epoch blocks name metrics by position in it.
 *   tasks:       df task -> msgpack map:
 *                  {status: str (RUNNING, LOST, FINISHED, FAILED, KILLED, PRUNED),
 *                   start: time (the first begin's), end: time|nil,
 *                   last: time (of the task's causally last record;
 *                   end and last are the attempt's begin plus the time
 *                   since boot between them when both records have it
 *                   and were written in one boot, and never before the
 *                   attempt's begin: docs/RUNS.md),
 *                   host, user, pid, execution, message: str|nil,
 *                   transformation, epochs: uint (distinct epochs),
 *                   last_epoch: int|nil, attempts: uint (begin records),
 *                   run: str|nil (the run id of its segments),
 *                   attempt_start: time (of the latest begin, never
 *                   before the end or last record of the attempt before
 *                   it), attempt_mono: seconds since boot|nil (the latest
 *                   begin's `mono`), attempt_boot: uint (CRC32C of the boot
 *                   id of its segment's header, 0: unknown),
 *                   active_before: seconds (active time of the attempts
 *                   before the latest), owner: {host, boot, pid, start,
 *                   group}|nil (whose death makes it LOST),
 *                   hyperparameters: {name: value} (the first begin's),
 *                   facts: {name: value} (the run facts of the first
 *                   begin that had them; absent when none),
 *                   refused: {name: str} (names its writers refused,
 *                   each with where it was first refused, "epoch 3",
 *                   "test"; at most DP_REFUSED_NAMES_MAX; absent when
 *                   none)}
 *                status first and start second (dp_task_start reads just
 *                those; the other readers take the keys in any order).
 *   running:     df task -> empty: the tasks whose status is RUNNING, the
 *                ones the liveness sweep looks at
 *   epochs:      df task int64(first) -> a block of the task's epochs from
 *                `first` up to the next block's first epoch: at most
 *                DP_EBLOCK_MAX, each once, by column (times, elapsed,
 *                metrics by their position in the dataflow's list), doubles
 *                XOR their column's previous; a block with its key and node
 *                header stays under DP_EBLOCK_BYTES.  The byte layout is the
 *                top comment of indexer/epochs.h; dp_epoch_scan reads it.
 *   adaptations: df task int64(epoch) hyperparameter -> the adapt payload,
 *                with `old` filled in from the task's values when the
 *                writer did not know it
 *   tests:       df task position -> the test payload
 *   elements:    df transformation set task position -> the element payload
 *   layers:      df task -> the latest layers payload
 *   summaries:   df metric task -> a dp_summary (below), packed: v count,
 *                v nan_count; when count > 0: min, max, sum (8 bytes each,
 *                host order), z min_epoch, z max_epoch; when count +
 *                nan_count > 0: last (8 bytes), z last_epoch (v: LEB128
 *                varint, z: zig-zag varint).  dp_summary_pack and
 *                dp_summary_unpack are its writer and reader.  Metric
 *                before task: compare reads one metric of every task, one
 *                range
 *   hyp_index:   df hyperparameter value task -> empty; a task's values at
 *                its first begin (a resume keeps them), for equality and range scans
 *   ranks:       df metric double(best) task -> the task's hyperparameter
 *                row (below): every task and metric whose summary has a
 *                value, keyed by its best value by the metric's own goal
 *                (dp_metric_lower_is_better: the minimum for loss-like names,
 *                else the maximum), so that the best k tasks are the first
 *                or last k keys of a range, and one scan gives every task's
 *                metric in order with the values effect groups it by
 *   starts:      df double(start) task -> empty: the tasks by their start
 *                (a task without one has no key)
 *   counts:      df -> u64 (little-endian): the tasks of the dataflow;
 *                df hyperparameter value -> u64: the tasks hyp_index lists
 *                under that value (the key of hyp_index without the task)
 *   tags:        df task key -> msgpack map {value: value|nil (nil: the
 *                key was removed), time: the tag record's time, run: str
 *                (its segment's run), at: [sequence, name crc, offset] (its
 *                position)}: the latest by (time, position) of every tag
 *                record, so the order segments are read in does not matter
 *   lineage:     df task position -> the used or generated payload (its kind
 *                says which): the entities a task read and wrote, in its
 *                causal order (docs/LINEAGE.md)
 *   entities:    fingerprint direction df task position -> empty, where
 *                direction is "generated" or "used": the tasks that wrote
 *                and read each entity, which lineage walks from an entity
 *                (the writers of a fingerprint first, as "generated" sorts
 *                before "used")
 *   progress:    segment path relative to log_dir -> struct dp_progress
 *                (flags: DP_PROGRESS_CONFLICT, DP_PROGRESS_NAME_TOLD)
 *   problems:    segment path, u64be(offset) -> struct dp_problem_entry;
 *                a segment of a run that lost its task id (CONFLICT) has
 *                exactly one, at offset 0, over everything read of it
 *   health:      df task -> the state of the health rules for the task,
 *                packed (indexer/health.h)
 *   events:      df task rule int64(epoch) -> msgpack map: an event a
 *                rule found (rule, epoch, time, metric, value and its
 *                evidence: indexer/health.h), once per (task, rule, epoch)
 *   outbox:      u64be(n) -> the key of an event of `events` that waits
 *                for its notification (indexer/notify.h); written only by
 *                an indexer told to notify, and not derived from the logs:
 *                the one database a rebuild does not reproduce
 *
 * A hyperparameter row (the value of a ranks key) holds a task's values of
 * the dataflow's declared hyperparameters, by their position in its list
 * (which only grows), each a type byte and what it needs: DP_ROW_NONE (the
 * task has none), DP_ROW_REAL (8 bytes, little-endian IEEE), DP_ROW_INT
 * (8 bytes, little-endian), DP_ROW_TEXT (a length byte, the bytes), or
 * DP_ROW_OTHER (a value hyp_index does not hold: a boolean, nil, a map, a
 * text over 255 bytes).  Trailing DP_ROW_NONE are left out, so a row does
 * not depend on how long the list was when it was written.
 *
 * A record's position is u32be(segment sequence) u32be(CRC32C(segment file
 * name)) u64be(frame offset): the causal order of a task's records (format.h),
 * whatever the clocks said, and a key that never depends on the order in
 * which segments were read: the same logs give the same index.
 *
 * EXACTLY ONCE: a segment's progress entry is written in the same write
 * transaction as everything derived from the frames before its offset.
 */
#ifndef DNNPROV_SCHEMA_H
#define DNNPROV_SCHEMA_H

#include <lmdb.h>
#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>

#include "logger/record.h"
#include "util/util.h"

#define DP_SCHEMA_VERSION 5
#define DP_INDEX_CURRENT "CURRENT"
#define DP_INDEX_LOCK "indexer.lock"

/* Per-task summary of one metric, maintained at index time.  Host byte
 * order: the index is rebuilt, never copied, between machines.  Stored
 * packed (DATABASES above): what a metric never had takes no room. */
typedef struct dp_summary {
	uint64_t count;     /* epochs with a value that is not NaN */
	uint64_t nan_count; /* epochs where it was NaN */
	double min, max, last, sum;
	int64_t min_epoch, max_epoch, last_epoch;
} dp_summary;

/* The fields of a task value (the tasks database), read by one function
 * for the indexer and the query side (values.c); times are NaN when
 * absent.  The texts and maps point into the value and live as long as it. */
typedef struct dp_task_fields {
	char status[16];
	double start, end, last;
	int64_t pid;
	uint64_t epochs, attempts;
	int64_t last_epoch;
	bool has_last_epoch;
	char run[65];
	double attempt_start, active_before, attempt_mono;
	uint32_t attempt_boot;
	struct {
		bool known;
		char host[256];
		char boot[40];
		int64_t pid;
		uint64_t start;
		bool group;
	} owner;
	/* Strings inside the value (p NULL when absent). */
	dp_str host, user, execution, transformation, message;
	/* The msgpack maps inside the value, as bytes (p NULL when absent):
	 * hyperparameters {name: value}, facts {name: value}, owner. */
	dp_str hyps, facts, owner_map, refused;
} dp_task_fields;

/* The most refused names a task value keeps (a program inventing names
 * must not grow it without bound); each is reported once, when first
 * refused. */
#define DP_REFUSED_NAMES_MAX 64

/* Reads a task value (the tasks database) in place, in one pass: 0, or
 * DNNPROV_ECORRUPT for bytes that are no task value (what was read before
 * the damage is in *out). */
DP_INTERNAL int dp_task_fields_parse(const void *value, size_t n, dp_task_fields *out);
/* The status, the hyperparameters' map and the transformation of a task
 * value, the rest skipped: what a table of every training's
 * hyperparameters reads (compare), without the other fields' decoding and
 * the struct's 600 bytes to clear.  0 or DNNPROV_ECORRUPT, and the
 * fields, as dp_task_fields_parse gives them for the same bytes. */
DP_INTERNAL int dp_task_status_hyps(const void *value, size_t n, char status[16], dp_str *hyps,
				    dp_str *transformation);
#define DP_SUMMARY_PACKED_MAX 80
/* Packs s into out (DP_SUMMARY_PACKED_MAX bytes at most); returns its size. */
DP_INTERNAL size_t dp_summary_pack(const dp_summary *s, unsigned char *out);
/* Reads a stored summary; false when the bytes are none. */
DP_INTERNAL bool dp_summary_unpack(const void *p, size_t n, dp_summary *out);

/* A count's value (counts): 8 bytes, little-endian.  dp_count_unpack is
 * false when the bytes are no count. */
DP_INTERNAL void dp_count_pack(uint64_t n, unsigned char out[8]);
DP_INTERNAL bool dp_count_unpack(const void *p, size_t n, uint64_t *out);

/* A task value's start (NaN when it has none); false when the bytes are
 * no task value.  Quicker than dp_task_fields_parse for that one field. */
DP_INTERNAL bool dp_task_start(const void *value, size_t n, double *start);
/* Seconds the task was active: its attempts from their begin to their
 * last record, without the time between them (a resumed run's downtime). */
DP_INTERNAL double dp_task_active(const dp_task_fields *f);

typedef struct dp_progress {
	uint64_t offset;   /* frames before this offset are indexed */
	uint64_t records;  /* records indexed */
	uint64_t problems; /* problems skipped */
	uint64_t bytes_skipped;
	uint32_t sealed;   /* the seal was read: the segment is complete */
	uint32_t flags;    /* DP_PROGRESS_* (0 in indexes older than them) */
	uint64_t size_seen; /* file size at the last read */
} dp_progress;

/* The segment is of a run that does not hold its task id (two writers
 * used one id; docs/RUNS.md): nothing of it is indexed, and it is one
 * problem at offset 0 over everything read of it. */
#define DP_PROGRESS_CONFLICT 1u
/* A record of the segment with a name the rule of names refuses has been
 * reported (once per segment: the first such record). */
#define DP_PROGRESS_NAME_TOLD 2u

typedef struct dp_problem_entry {
	uint32_t kind;   /* dp_problem_kind, or DP_PROBLEM_SCHEMA for a record that failed the schema */
	uint32_t reserved;
	uint64_t length; /* bytes skipped */
	char why[112];   /* NUL-terminated */
} dp_problem_entry;

#define DP_PROBLEM_SCHEMA 100
/* A record whose names an older writer allowed and the rule of names
 * refuses: reported, and indexed as written (length 0: nothing skipped). */
#define DP_PROBLEM_NAME 101
/* A name its writer refused (a refused record: one the experiment file
 * does not declare), reported once per task and name; the record is
 * indexed (length 0: nothing skipped). */
#define DP_PROBLEM_REFUSED 102

typedef enum dp_db {
	DP_DB_META,
	DP_DB_DATAFLOWS,
	DP_DB_TASKS,
	DP_DB_EPOCHS,
	DP_DB_ADAPTATIONS,
	DP_DB_TESTS,
	DP_DB_ELEMENTS,
	DP_DB_LAYERS,
	DP_DB_SUMMARIES,
	DP_DB_HYP_INDEX,
	DP_DB_PROGRESS,
	DP_DB_PROBLEMS,
	DP_DB_RUNNING,
	DP_DB_TAGS,
	DP_DB_LINEAGE,
	DP_DB_ENTITIES,
	DP_DB_RANKS,
	DP_DB_STARTS,
	DP_DB_COUNTS,
	DP_DB_HEALTH,
	DP_DB_EVENTS,
	DP_DB_OUTBOX,
	DP_DB_COUNT
} dp_db;

/* The type bytes of a hyperparameter row (ranks). */
enum { DP_ROW_NONE = 0, DP_ROW_REAL = 1, DP_ROW_INT = 2, DP_ROW_TEXT = 3, DP_ROW_OTHER = 4 };

DP_INTERNAL extern const char *const dp_db_names[DP_DB_COUNT];

/* ---- key building ---------------------------------------------------------
 * A key is built into a fixed buffer; a key that would pass LMDB's limit
 * (511 bytes) sets `overflow` and must not be used.  Tags are at most 128
 * bytes, so real keys stay far below it.
 */
#define DP_KEY_MAX 511
typedef struct dp_key {
	unsigned char b[DP_KEY_MAX];
	size_t n;
	bool overflow;
} dp_key;

static inline void dp_key_reset(dp_key *k)
{
	k->n = 0;
	k->overflow = false;
}
DP_INTERNAL void dp_key_str(dp_key *k, const char *s, size_t n);
DP_INTERNAL void dp_key_cstr(dp_key *k, const char *s);
DP_INTERNAL void dp_key_i64(dp_key *k, int64_t v);
DP_INTERNAL void dp_key_u64(dp_key *k, uint64_t v);
DP_INTERNAL void dp_key_double(dp_key *k, double v);

/* The key prefix (df, task): a task's entries in the databases keyed by it. */
static inline void dp_key_task(dp_key *k, const char *df, const char *task)
{
	dp_key_reset(k);
	dp_key_cstr(k, df);
	dp_key_cstr(k, task);
}

static inline MDB_val dp_key_val(dp_key *k)
{
	return (MDB_val){ .mv_size = k->n, .mv_data = k->b };
}

/* Decoders for the fields above, at *pos in key[0..n); false when the key
 * is malformed.  Strings are returned as pointer and length into the key. */
DP_INTERNAL bool dp_key_get_str(const unsigned char *key, size_t n, size_t *pos, const char **s,
				size_t *len);
DP_INTERNAL bool dp_key_get_i64(const unsigned char *key, size_t n, size_t *pos, int64_t *v);
DP_INTERNAL bool dp_key_get_double(const unsigned char *key, size_t n, size_t *pos, double *v);

DP_INTERNAL uint64_t dp_sortable_double(double v);

#endif
