/*
 * rows.h - the index's records one at a time, for front ends that stream
 * (the SQL tables) rather than load a dataflow: a prefix scan, and one
 * reader per database that turns a key and its value into fields.
 *
 * Every decode of a stored value is here or in the schema layer
 * (values.c), never in a caller: when the stored format changes (a compact
 * epoch store), these functions change and their callers do not.  Texts
 * and maps a reader returns point into the key or into the reader's
 * decoder, and live until that decoder's next decode.
 */
#ifndef DNNPROV_ROWS_H
#define DNNPROV_ROWS_H

#include "indexer/epochs.h"
#include "query/query.h"

/* ---- prefix scans ------------------------------------------------------------- */

/* The keys of one database that start with prefix[0..prefix_len), from
 * `from` on (`from` begins with the prefix and may extend it: a lower
 * bound).  Rows come in key order.  The schema layer's one prefix scan
 * (dp_scan, indexer/index.h), opened on a database handle. */
typedef dp_scan dp_qscan;

DP_INTERNAL int dp_qscan_open(MDB_txn *txn, MDB_dbi dbi, const dp_key *from, size_t prefix_len, dp_qscan *s);
/* 1 with the row in *k and *v, 0 at the end of the range, or a negative
 * DNNPROV_E* code (a read error is never taken for the end). */
DP_INTERNAL int dp_qscan_next(dp_qscan *s, MDB_val *k, MDB_val *v);
DP_INTERNAL void dp_qscan_close(dp_qscan *s);

/* ---- values inside records -------------------------------------------------------- */

typedef enum dp_ftype { DP_F_NULL = 0, DP_F_INT, DP_F_REAL, DP_F_TEXT } dp_ftype;

/* A value as stored, read where it lies (it borrows the bytes of the
 * record or key, as a reader's rows do): an integer stays an integer;
 * text is not NUL-terminated.  An answer's cells are dp_qv, which own
 * their text; dp_copy_field() (query/answer.h) is the one conversion. */
typedef struct dp_field {
	dp_ftype type;
	int64_t i;
	double d; /* also set for DP_F_INT */
	dp_str s;
	/* DP_F_REAL read from an unsigned integer past INT64_MAX: u is it,
	 * exactly (d its nearest double). */
	bool big;
	uint64_t u;
} dp_field;

/* A map of names to values inside a record (metrics, hyperparameters,
 * attribute values); empty when absent.  Either a decoded object or, on
 * the paths that scan millions of records, the map's bytes, read in place. */
typedef struct dp_rmap {
	const void *obj;
	const unsigned char *raw;
	size_t rawlen;
	/* Or a row of an epoch block, its columns named through the
	 * dataflow's list of metrics (indexer/epochs.h). */
	const struct dp_eblock *block;
	uint32_t row;
	char *const *names;
	size_t nnames;
} dp_rmap;

DP_INTERNAL size_t dp_rmap_size(dp_rmap m);
/* The i-th entry; false when it is not a name with a value. */
DP_INTERNAL bool dp_rmap_at(dp_rmap m, size_t i, dp_str *name, dp_field *value);
/* The value of `name` (exact spelling); DP_F_NULL when absent. */
DP_INTERNAL dp_field dp_rmap_get(dp_rmap m, const char *name);

/* ---- one reader per database ------------------------------------------------------ */

typedef struct dp_task_row {
	dp_str df, task;
	dp_task_fields f;
	dp_rmap hyps; /* name -> value at the task's latest begin */
	dp_rmap facts; /* run facts: name -> value */
} dp_task_row;

typedef struct dp_tag_row {
	dp_str df, task, key;
	double time;
	dp_field value; /* DP_F_NULL: the key was removed */
} dp_tag_row;

typedef struct dp_event_row {
	dp_str df, task;
	dp_event_fields e;
} dp_event_row;

typedef struct dp_epoch_row {
	dp_str df, task;
	int64_t epoch;
	double time;
	dp_field elapsed;
	dp_rmap metrics;
} dp_epoch_row;

typedef struct dp_summary_row {
	dp_str df, metric, task;
	dp_summary s;
} dp_summary_row;

typedef struct dp_adapt_row {
	dp_str df, task, hyp;
	int64_t epoch;
	double time;
	dp_field old_value, new_value, id;
} dp_adapt_row;

typedef struct dp_test_row {
	dp_str df, task;
	double time;
	dp_rmap metrics;
} dp_test_row;

typedef struct dp_element_row {
	dp_str df, transformation, set, task;
	double time;
	dp_rmap values;
} dp_element_row;

typedef struct dp_layers_row {
	dp_str df, task;
	double time;
	const void *layers; /* read with dp_layers_at */
	size_t n;
} dp_layers_row;

/* An entity a task used or generated (the lineage database). */
typedef struct dp_lineage_row {
	dp_str df, task;
	bool generated;
	dp_str role, location, fingerprint;
	int64_t size; /* -1: unknown */
	double time;
} dp_lineage_row;

/* Each reads one row of its database; DNNPROV_ECORRUPT for a key or value
 * it cannot read (the caller skips it, as the commands do). */
DP_INTERNAL int dp_read_task(dp_decoder *dec, const MDB_val *k, const MDB_val *v, dp_task_row *out);
DP_INTERNAL int dp_read_summary(const MDB_val *k, const MDB_val *v, dp_summary_row *out);
DP_INTERNAL int dp_read_adapt(dp_decoder *dec, const MDB_val *k, const MDB_val *v, dp_adapt_row *out);
DP_INTERNAL int dp_read_test(dp_decoder *dec, const MDB_val *k, const MDB_val *v, dp_test_row *out);
DP_INTERNAL int dp_read_element(dp_decoder *dec, const MDB_val *k, const MDB_val *v, dp_element_row *out);
DP_INTERNAL int dp_read_layers(dp_decoder *dec, const MDB_val *k, const MDB_val *v, dp_layers_row *out);
DP_INTERNAL int dp_read_tag(dp_decoder *dec, const MDB_val *k, const MDB_val *v, dp_tag_row *out);
DP_INTERNAL int dp_read_event(const MDB_val *k, const MDB_val *v, dp_event_row *out);
DP_INTERNAL int dp_read_lineage(dp_decoder *dec, const MDB_val *k, const MDB_val *v, dp_lineage_row *out);
/* Epochs are stored in blocks of a task's epochs (indexer/epochs.h): they
 * are read with a scan of their own that gives one epoch at a time, of a
 * dataflow or a task (prefix), from epoch `from` on when has_from, through
 * a cursor the caller keeps (c) or one of its own (c NULL). */
typedef dp_epoch_scan dp_qepochs;
DP_INTERNAL int dp_qepochs_open(dp_qepochs *s, const dp_index *ix, MDB_txn *txn, MDB_cursor *c, const dp_key *prefix,
				bool has_from, int64_t from);
/* 1 with the epoch in *out (valid until the next call), 0 at the end, or a
 * negative DNNPROV_E* code: a damaged block is an error, not an end. */
DP_INTERNAL int dp_qepochs_next(dp_qepochs *s, dp_epoch_row *out);
DP_INTERNAL void dp_qepochs_close(dp_qepochs *s);

/* The i-th layer: false when it is malformed. */
DP_INTERNAL bool dp_layers_at(const dp_layers_row *r, size_t i, dp_str *name, dp_str *kind, dp_field *value);

/* The value of `metric` at the task's first epoch that reported it, with
 * that epoch: what a summary does not keep.  false when there is none. */
DP_INTERNAL bool dp_query_first_value(MDB_txn *txn, dp_index *ix, dp_decoder *dec, dp_str df, dp_str task,
				      dp_str metric, double *value, int64_t *epoch);

#endif
