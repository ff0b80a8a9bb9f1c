/*
 * query.h - read-only questions over the index: the tasks of a dataflow
 * with their hyperparameters and metric summaries, filtered by a --where
 * expression, aggregated, and rendered as a table, CSV or JSON.
 *
 * Every query runs in one read-only LMDB transaction, so it sees one
 * consistent snapshot while the indexer goes on committing; it never
 * writes.  Results are built as a dp_table and rendered by output.c.
 */
#ifndef DNNPROV_QUERY_H
#define DNNPROV_QUERY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

#include "config/config.h"
#include "indexer/health.h"
#include "indexer/index.h"
#include "indexer/model.h"
#include "logger/decode.h"

/* ---- values -------------------------------------------------------------------- */

/* QV_FAILED: a text whose copy could not be allocated; a table holding one
 * is incomplete and is never printed (dp_table_check). */
typedef enum dp_qv_type { QV_NULL = 0, QV_NUM, QV_TEXT, QV_FAILED } dp_qv_type;

/* A number that came as an integer (an epoch, a count, an integer
 * hyperparameter) is exact: `integer` is set, `i` holds it and `num` its
 * nearest double.  Comparing, sorting and printing use `i`, so 2^53 + 1
 * stays itself and INT64_MAX prints as itself.  A real number has `num`
 * only.  An integer past INT64_MAX (msgpack's uint64) is kept as a real. */
typedef struct dp_qv {
	dp_qv_type type;
	bool integer;
	/* The text is in its table's arena (dp_table_text), freed with the
	 * table, not alone. */
	bool in_arena;
	int64_t i;
	double num;
	const char *text; /* owned by whoever holds the value (see each struct) */
} dp_qv;

/* Frees a cell's text when the cell owns it (not when it is in its
 * table's arena); the cell becomes missing. */
static inline void dp_cell_clear(dp_qv *cell)
{
	if (cell->type == QV_TEXT && !cell->in_arena)
		free((void *)cell->text);
	cell->type = QV_NULL;
	cell->text = NULL;
	cell->in_arena = false;
}

DP_INTERNAL dp_qv dp_qv_int(int64_t i);
DP_INTERNAL dp_qv dp_qv_real(double d);
/* The number of a stored value (query/rows.h), exact for integers;
 * QV_NULL for text or nothing. */
struct dp_field;
DP_INTERNAL dp_qv dp_qv_number(const struct dp_field *f);
/* Orders two numbers exactly, an integer against a real included.  NaN
 * sorts after every other number and equals NaN, so that this is a total
 * order for qsort; callers with SQL's rules test isnan() first. */
DP_INTERNAL int dp_qv_cmp_num(const dp_qv *a, const dp_qv *b);
/* Whether a number is NaN (an integer never is). */
static inline bool dp_qv_isnan(const dp_qv *v)
{
	return v->type == QV_NUM && !v->integer && v->num != v->num;
}

/* ---- the model of one dataflow ---------------------------------------------------- */

typedef struct dp_qhyp {
	const char *name; /* the dataflow's */
	dp_qv value;      /* text in the dataflow's arena */
} dp_qhyp;

typedef struct dp_qtask {
	char *id; /* strings in the dataflow's arena */
	char status[16];
	double start, end, last; /* NaN when unknown */
	uint64_t epochs;
	int64_t last_epoch;
	bool has_last_epoch;
	uint64_t attempts;
	double active; /* seconds, without the time between attempts */
	char *host;
	char *user;
	char *message; /* of the end record, NULL when none */
	char *transformation; /* of its begin: TrainingModel, or a pipeline's step (docs/LINEAGE.md) */
	dp_qhyp *hyps;
	size_t nhyps;
	dp_qhyp *facts; /* run facts (docs/RUNS.md), names in the arena */
	size_t nfacts;
	dp_qhyp *tags;  /* tags with a value, sorted by key */
	size_t ntags;
	/* Its health (dp_qdf_health): the rules' present state, with the live
	 * stall of a RUNNING task (indexer/health.h's dp_health_state). */
	unsigned char health;
	double median_epoch; /* seconds between its epoch records; NaN unknown */
	dp_qhyp *refused; /* names its writers refused: name -> where first ("epoch 3") */
	size_t nrefused;
} dp_qtask;

typedef struct dp_qspec_hyp {
	const char *name; /* in the model's arena */
	const char *type; /* numeric, text, file */
} dp_qspec_hyp;

typedef struct dp_qdataflow {
	char *name;
	dp_qspec_hyp *hyps; /* declared, then any other name a task loaded used */
	size_t nhyps;
	const char **metrics; /* the model's */
	size_t nmetrics;
	bool adaptation;
	bool undeclared_hyps; /* some task used a hyperparameter the specification does not name */
	double first_seen;      /* NaN when unknown */
	/* The dataflow's transformations, sets and attributes (indexer/model.h),
	 * with the hyperparameters of the tasks loaded in iTrainingModel;
	 * dp_query_load_model() gives the whole model without loading tasks. */
	dp_model model;
	dp_qtask *tasks;
	size_t ntasks;
	dp_arena arena; /* the tasks' strings */
	bool health_loaded; /* the tasks' health is filled in (dp_qdf_health) */
} dp_qdataflow;

typedef struct dp_query {
	dp_index *ix;
	MDB_txn *txn;
	dp_decoder dec;
	bool shared;     /* ix belongs to the caller (dp_query_adopt) */
	double deadline; /* dp_monotonic() time past which the query gives up; 0: none */
	bool expired;    /* it did: the detail says so */
	/* A read inside a lookup that answers with a value, not a code
	 * (dp_query_summary, dp_query_metric, --where) failed: the first such
	 * error and its detail, sticky like ferror(), so that a damaged index
	 * never passes for a missing value.  dp_query_check() returns it. */
	int read_error;
	char read_error_detail[256];
	double now;       /* when the snapshot began: the present of live states (a stall) */
	bool rules_read;  /* rules holds the index's health rules (dp_query_rules) */
	dp_rules rules;
} dp_query;
/* Records rc (with the current detail) as the query's read error, unless
 * one is recorded already. */
DP_INTERNAL void dp_query_read_failed(dp_query *q, int rc);
/* mdb_get in the query's snapshot: whether the key was found; a read that
 * failed is kept for dp_query_check(). */
DP_INTERNAL bool dp_query_get(dp_query *q, dp_db db, MDB_val *k, MDB_val *v);

/* Opens the index read-only and starts the snapshot.  DNNPROV_ENOTFOUND
 * when there is no index (nothing is created). */
DP_INTERNAL int dp_query_open(const char *index_dir, dp_query *q);
/* A query on a snapshot the caller began (a read-only transaction of an
 * index it keeps open: a server shares one environment between its
 * threads, as LMDB allows one per process and file); dp_query_close ends
 * the transaction and leaves ix open. */
DP_INTERNAL void dp_query_adopt(dp_index *ix, MDB_txn *txn, dp_query *q);
DP_INTERNAL void dp_query_close(dp_query *q);
/* 0 when every read of the snapshot so far succeeded; else the error of
 * the first that failed (a read error, or out of memory decoding). */
DP_INTERNAL int dp_query_check(const dp_query *q);

/* Whether the query ran past q->deadline: DNNPROV_EQUERY with the detail
 * "the query ran past its time limit" (and q->expired set), else 0.  The
 * loops over tasks call it, so that a front end can bound a request. */
DP_INTERNAL int dp_query_past_deadline(dp_query *q);

/* Names of the dataflows, sorted (caller frees each and the array). */
DP_INTERNAL int dp_query_dataflows(dp_query *q, char ***names, size_t *n);

/* Loads a dataflow's specification and its tasks (sorted by id).
 * DNNPROV_ENOTFOUND with the known dataflows listed when it is absent. */
DP_INTERNAL int dp_query_load(dp_query *q, const char *df, dp_qdataflow *out);
/* The same with only task `only_task` (or none when it does not exist):
 * for commands about one task, at the cost of one lookup. */
DP_INTERNAL int dp_query_load_tasks(dp_query *q, const char *df, const char *only_task, dp_qdataflow *out);
/* The specification alone, without tasks: one lookup. */
DP_INTERNAL int dp_query_load_spec(dp_query *q, const char *df, dp_qdataflow *out);
/* The specification and its model whole (indexer/model.h), without
 * tasks: when some task used a hyperparameter the specification does not
 * declare, those too, in the order the tasks first used them (a read of
 * every task's value, only then).  What renders the model (SQL, PROV)
 * loads it so. */
DP_INTERNAL int dp_query_load_model(dp_query *q, const char *df, dp_qdataflow *out);
/* The specification and the tasks ids[0..n) names (an id that is no task
 * is left out, one named twice loaded once), sorted by id, with their
 * tags: the tasks of an answer cut short, at a lookup each. */
DP_INTERNAL int dp_query_load_ids(dp_query *q, const char *df, const char *const *ids, size_t n,
				  dp_qdataflow *out);
/* Whether every hyperparameter name some task of d used is in d's
 * specification (then a page of tasks has the columns all tasks have):
 * what the dataflow says of its tasks (undeclared_hyps). */
DP_INTERNAL int dp_query_hyps_declared(dp_query *q, const dp_qdataflow *d, bool *all);
DP_INTERNAL void dp_qdataflow_free(dp_qdataflow *d);
/* DNNPROV_ENOTFOUND for an unknown dataflow, listing the ones that exist. */
DP_INTERNAL int dp_query_no_dataflow(dp_query *q, const char *df);

/* DNNPROV_ENOTFOUND for an unknown task, listing the dataflow's first ten
 * tasks and how many more there are. */
DP_INTERNAL int dp_query_no_task(dp_query *q, const char *df, const char *id);
/* What an unknown task id `text` may have meant: the ids of dataflow df
 * that begin with it, then those that hold it (any case), else the ids
 * around where it would sort; at most max into ids[] (pointing into the
 * snapshot, valid while its transaction lives), *n of them.  0 or an
 * error. */
DP_INTERNAL int dp_task_suggest(dp_query *q, const char *df, const char *text, const char **ids, size_t max,
				size_t *n);


/* Whether a task of that transformation (p NULL: none recorded) is a
 * training (TrainingModel), not another step of a pipeline: what compare
 * ranks. */
static inline bool dp_transformation_trains(dp_str tf)
{
	return !tf.p || (tf.n == 13 && memcmp(tf.p, "TrainingModel", 13) == 0);
}

static inline bool dp_qtask_trains(const dp_qtask *t)
{
	return !t->transformation || strcmp(t->transformation, "TrainingModel") == 0;
}

/* The task named id (exactly), or NULL. */
DP_INTERNAL const dp_qtask *dp_qtask_find(const dp_qdataflow *d, const char *id);
/* A hyperparameter's value for a task, by case-insensitive name. */
DP_INTERNAL const dp_qv *dp_qtask_hyp(const dp_qtask *t, const char *name);
/* A task's tag or run fact by name (ignoring case), or NULL. */
DP_INTERNAL const dp_qv *dp_qtask_tag(const dp_qtask *t, const char *key);
DP_INTERNAL const dp_qv *dp_qtask_fact(const dp_qtask *t, const char *name);

/* ---- health (health.c) -----------------------------------------------------------
 * The health rules' state of each task (indexer/health.h), with the stall
 * of a RUNNING task told from the present time and the rules the indexer
 * applies (meta "rules"), so that every front end shows the same. */
/* The rules the index was built with (their defaults when it says none). */
DP_INTERNAL const dp_rules *dp_query_rules(dp_query *q);
/* Fills in the health of d's tasks, once; 0 or a read error. */
DP_INTERNAL int dp_qdf_health(dp_query *q, dp_qdataflow *d);
/* "ok", "plateau", "stalled", "diverged", "nan" */
DP_INTERNAL const char *dp_qtask_health(const dp_qtask *t);

/* The canonical spelling of a metric or hyperparameter of the dataflow,
 * matched case-insensitively; NULL when unknown. */
DP_INTERNAL const char *dp_qdf_metric(const dp_qdataflow *d, const char *name);
DP_INTERNAL const char *dp_qdf_hyp(const dp_qdataflow *d, const char *name);

/* The metric a command uses when none is given, in *out: one that has
 * values.  The first declared metric's val_ twin if some task reported it,
 * else the first metric (in the dataflow's order) some task reported; when
 * no task reported any, the twin if declared, else the first metric; NULL
 * for a dataflow without metrics.  docs/QUERY.md says the same.  Returns 0
 * or an LMDB error (then *out is to be ignored). */
DP_INTERNAL int dp_qdf_main_metric(dp_query *q, const dp_qdataflow *d, const char **out);

/* A metric's natural bounds, for charts whose axes should stop there: the
 * range the experiment file declares (metric_ranges; true is returned),
 * else the rule docs/QUERY.md states ("Metric bounds"): [0, 1] for
 * accuracy-like names, [0, inf) for loss-like ones, else open.  d may be
 * NULL (the rule alone). */
DP_INTERNAL bool dp_metric_bounds(const dp_qdataflow *d, const char *metric, double *low, double *high);

/* ---- metrics ------------------------------------------------------------------- */

typedef enum dp_agg_kind { AGG_MAX, AGG_MIN, AGG_LAST, AGG_MEAN, AGG_BEST, AGG_AT } dp_agg_kind;

typedef struct dp_agg {
	dp_agg_kind kind;
	int64_t epoch; /* for AGG_AT */
} dp_agg;

/* Parses max|min|last|mean|best|at=EPOCH. */
DP_INTERNAL int dp_agg_parse(const char *s, dp_agg *out);
DP_INTERNAL const char *dp_agg_name(const dp_agg *a, char *buf, size_t n);

/* A task's summary of a metric; false when the task never reported it. */
DP_INTERNAL bool dp_query_summary(dp_query *q, const char *df, const char *task, const char *metric,
				  dp_summary *out);
/* The aggregate of summary s (of task's metric); *e gets the epoch it came
 * from.  QV_NULL when it has none. */
DP_INTERNAL dp_qv dp_query_summary_value(dp_query *q, const char *df, const char *task, const dp_summary *s,
					 const char *metric, const dp_agg *agg, int64_t *e);
/* The aggregate of a metric for a task; *epoch (optional) gets the epoch it
 * came from.  QV_NULL when missing (or NaN only). */
DP_INTERNAL dp_qv dp_query_metric(dp_query *q, const char *df, const char *task, const char *metric,
				  const dp_agg *agg, int64_t *epoch);

/* A scan of one metric's summaries in a dataflow (every task's, in task
 * order); *prefix gets the length of the keys' (df, metric) part, before
 * the task.  0 or an error. */
DP_INTERNAL int dp_query_summaries_open(dp_query *q, const char *df, const char *metric, dp_scan *sc, size_t *prefix);
/* The aggregate of a metric for every task of d, in d->tasks order, read
 * with one range scan (or per-task lookups for at=EPOCH).  epochs may be
 * NULL. */
DP_INTERNAL int dp_query_metric_column(dp_query *q, const dp_qdataflow *d, const char *metric,
				       const dp_agg *agg, dp_qv *values, int64_t *epochs);

/* ---- result tables --------------------------------------------------------------- */

typedef enum dp_col_kind {
	COL_TEXT,
	COL_NUM,   /* %.6g in tables; exact in CSV/JSON */
	COL_INT,
	COL_TIME,  /* seconds since the epoch: ISO 8601 UTC */
	COL_SECS,  /* a duration in seconds: 1h02m, 12.5s */
	COL_AGO,   /* a time: its age in tables ("12s"), ISO 8601 in CSV and JSON */
} dp_col_kind;

/* What a column holds, beyond how it prints: the "kinds" of a JSON answer,
 * so that a front end reads what a column means instead of guessing it
 * from its name.  A plain column's kind is its dp_col_kind (text, integer,
 * real, time, duration). */
typedef enum dp_col_role {
	ROLE_PLAIN = 0,
	ROLE_STATUS, /* a task's status: RUNNING, LOST, FINISHED, FAILED, KILLED */
	ROLE_HYP,    /* a hyperparameter's value */
	ROLE_METRIC, /* a metric's value, or an aggregate of its values */
	ROLE_SQL,    /* a column of an SQL statement's result: `name` is its declared type, or NULL */
	ROLE_DURATION, /* seconds, whatever the table shows */
	ROLE_HEALTH, /* a task's health: ok, plateau, stalled, diverged, nan (docs/STEERING.md) */
} dp_col_role;

/* A goal: whether lower values of a metric are better. */
typedef enum dp_goal { GOAL_UNKNOWN = 0, GOAL_MIN, GOAL_MAX } dp_goal;

typedef struct dp_col_meta {
	dp_col_role role;
	char *name;     /* ROLE_HYP: the hyperparameter; ROLE_METRIC: the metric */
	bool has_agg;   /* ROLE_METRIC: an aggregate over the epochs, not a value */
	dp_agg agg;
	dp_goal goal;   /* ROLE_METRIC */
	bool numeric;   /* ROLE_HYP: declared numeric */
	bool has_bounds;  /* ROLE_METRIC: low and high are the metric's natural bounds (dp_metric_bounds) */
	double low, high;
	char *about;    /* the member of "about" that says the value every row of this column repeats */
} dp_col_meta;

/* What the question chose for the whole answer, when it chose it: the
 * metric (and aggregate, goal) it ranks or groups by, the hyperparameter
 * it groups by, and each group's numeric bounds (effect). */
typedef struct dp_about {
	char *metric;
	bool has_agg;
	dp_agg agg;
	dp_goal goal;
	char *hyp;
	bool binned;   /* groups are bins of values, not one value each */
	double *low, *high; /* per row, for groups; NaN for a text value */
	size_t ngroups;
	bool has_bounds;                /* the metric's natural bounds: */
	double bounds_low, bounds_high;
	bool bounds_declared;           /* by the experiment file, not by the rule */
	char *by;         /* the name a question groups by when it is not a hyperparameter (tags.KEY, status) */
	bool has_spearman;
	double spearman;  /* Spearman's rank correlation of the hyperparameter with the metric; NaN: n/a */
	size_t spearman_n;
	char *tasks[2];   /* the runs a question is about (diff: A and B) */
	char *note;       /* what the answer says in a sentence, when it says one */
} dp_about;

typedef struct dp_table {
	char **cols;
	dp_col_kind *kinds;
	dp_col_meta *meta;
	bool *table_omits; /* columns for CSV and JSON only */
	bool *table_only;  /* columns for the table only (marks for the eye) */
	double now;        /* for COL_AGO */
	size_t ncols;
	dp_qv *cells; /* row-major; text cells own their string, or it is in `texts` */
	size_t nrows, cap;
	dp_arena texts; /* the strings of dp_table_text, freed with the table */
	/* A page of a longer answer (--offset, --limit): `total` rows matched,
	 * and JSON says so ("total"). */
	bool paged;
	size_t total;
	/* Building it failed somewhere (a column name, a row): sticky, so that
	 * commands can fill a table without checking every call, and the one
	 * check before printing (dp_table_check) refuses an incomplete result. */
	bool failed;
	dp_about about;
	/* JSON only: members the question adds after "about", as text
	 * (",\n\"model\": {...}": dp_table_json_member). */
	dp_buf members;
} dp_table;

DP_INTERNAL int dp_table_init(dp_table *t, size_t ncols);
DP_INTERNAL int dp_table_set_col(dp_table *t, size_t i, const char *name, dp_col_kind kind);
/* What column i means (the JSON "kinds"): a status, a hyperparameter, a
 * metric with its aggregate (agg NULL: a value per epoch) and goal. */
DP_INTERNAL void dp_table_col_status(dp_table *t, size_t i);
DP_INTERNAL void dp_table_col_duration(dp_table *t, size_t i);
DP_INTERNAL void dp_table_col_health(dp_table *t, size_t i);
DP_INTERNAL void dp_table_col_hyp(dp_table *t, size_t i, const char *hyp, bool numeric);
DP_INTERNAL void dp_table_col_metric(dp_table *t, size_t i, const char *metric, const dp_agg *agg, dp_goal goal);
/* A column of an SQL result: its kind is what its declared type says
 * (INTEGER, REAL, TEXT, TIMESTAMP), "value" for any other or none (an
 * expression holds what its rows hold). */
DP_INTERNAL void dp_table_col_sql(dp_table *t, size_t i, const char *decltype);
/* What the question chose for the answer (the JSON "about"): its metric,
 * aggregate (may be NULL) and goal; the hyperparameter it groups by; a
 * group's numeric bounds, per row (NaN for a group of a text value). */
DP_INTERNAL void dp_table_about_metric(dp_table *t, const char *metric, const dp_agg *agg, dp_goal goal);
DP_INTERNAL void dp_table_about_hyp(dp_table *t, const char *hyp, bool binned);
DP_INTERNAL void dp_table_about_group(dp_table *t, size_t row, double low, double high);
/* The name a question groups by (tags.KEY, status, a hyperparameter), and
 * whether its groups are bins. */
DP_INTERNAL void dp_table_about_by(dp_table *t, const char *by, bool binned);
/* Spearman's rho (NaN: n/a) over n pairs, said once; column col (or
 * SIZE_MAX) repeats it in every row. */
DP_INTERNAL void dp_table_about_spearman(dp_table *t, double rho, size_t n, size_t col);
/* The two runs the answer is about (b may be NULL), and its sentence. */
DP_INTERNAL void dp_table_about_tasks(dp_table *t, const char *a, const char *b);
DP_INTERNAL void dp_table_about_note(dp_table *t, const char *note);
/* Every metric column's natural bounds, and the chosen metric's, from the
 * dataflow's declared ranges or the rule (dp_metric_bounds; d may be
 * NULL): dp_ask_run sets them after every answer. */
DP_INTERNAL void dp_table_bounds(dp_table *t, const dp_qdataflow *d);
/* A column whose rows hold values of any type (a diff's sides). */
DP_INTERNAL void dp_table_col_value(dp_table *t, size_t i);
/* A member of the JSON answer beyond the table: `name` and its value,
 * json[0..n), a JSON text the caller made (describe's "model"). */
DP_INTERNAL void dp_table_json_member(dp_table *t, const char *name, const char *json, size_t n);
/* The goal of a metric: GOAL_MIN when lower is better. */
static inline dp_goal dp_goal_of(bool lower)
{
	return lower ? GOAL_MIN : GOAL_MAX;
}

/* Leaves a column out of the table format (it is in CSV and JSON). */
DP_INTERNAL void dp_table_omit(dp_table *t, size_t i);
/* Leaves a column out of CSV and JSON: a mark for the eye whose data is
 * in other columns. */
DP_INTERNAL void dp_table_only(dp_table *t, size_t i);
/* Appends a row of NULL cells and returns it. */
DP_INTERNAL dp_qv *dp_table_add_row(dp_table *t);
/* Room for n rows in all, so that a table whose size is known grows once. */
DP_INTERNAL int dp_table_reserve(dp_table *t, size_t n);
DP_INTERNAL int dp_cell_text(dp_qv *cell, const char *s, size_t n);
/* The same, the copy in the table's arena: no allocation per cell, for
 * the tables of every task. */
DP_INTERNAL int dp_table_text(dp_table *t, dp_qv *cell, const char *s, size_t n);
/* Keeps the first n rows (freeing the others' texts). */
DP_INTERNAL void dp_table_truncate(dp_table *t, size_t n);
/* DNNPROV_ENOMEM when the table or the notes are incomplete: a query that
 * ran out of memory fails rather than print part of its answer. */
DP_INTERNAL int dp_table_check(const dp_table *t, const dp_buf *notes);
DP_INTERNAL void dp_table_free(dp_table *t);
/* Keeps the column name and the JSON key unique ("loss", "loss_2"). */

/* Appends s[0..n) to b as it may reach a terminal: values from the logs
 * (a text hyperparameter, a tag, a note, an end message) or from SQL are
 * anyone's text, and an ESC or OSC sequence, a BEL, a CR or LF (a fake
 * row), or a bidirectional control would act on the terminal instead of
 * showing.  Those are written visibly instead: "\n", "\r", "\t", "\x1b"
 * (C0 controls and DEL), "\u202e" (C1 controls, bidirectional controls,
 * line and paragraph separators, zero-width and invisible characters),
 * and each byte of invalid UTF-8 as "\xff".  Everything else is copied.
 * Tables use it for every cell and header; CSV and JSON keep the exact
 * value (JSON escaping what JSON requires). */
DP_INTERNAL int dp_terminal_text(dp_buf *b, const char *s, size_t n);

typedef enum dp_format { FMT_TABLE, FMT_CSV, FMT_JSON } dp_format;
DP_INTERNAL int dp_format_parse(const char *s, dp_format *out);
/* Writes the table; `width` is the terminal width for FMT_TABLE.  JSON is
 * one object {"columns": [...], "kinds": [...], "about": {...}, "rows":
 * [...], "index": ...}, with "total": N after the rows when the table is a
 * page, "about" only when the question chose something (output.c says
 * what each member holds); index_json is the value of "index" (a JSON
 * object's text), or NULL to leave it out. */
DP_INTERNAL int dp_table_write(const dp_table *t, dp_format f, FILE *out, int width,
			       const char *index_json);

/* Writes rows one at a time, with the formatting of dp_table_write: CSV
 * and JSON go out as rows come, in blocks of 64 KiB (memory does not grow
 * with the number of rows); the table format needs every row for its
 * widths, so its rows are kept in the table until dp_rowout_end.  `t` holds the columns (and
 * no rows); it stays the caller's. */
typedef struct dp_rowout {
	dp_table *t;
	dp_format f;
	FILE *out;
	int width;
	size_t nrows;
	dp_buf b, line, keys;
	size_t *key_at;
} dp_rowout;

DP_INTERNAL int dp_rowout_begin(dp_rowout *w, dp_table *t, dp_format f, FILE *out, int width);
/* cells[0..ncols): text cells are copied when kept. */
DP_INTERNAL int dp_rowout_row(dp_rowout *w, const dp_qv *cells);
/* Ends the answer; index_json as for dp_table_write. */
DP_INTERNAL int dp_rowout_end(dp_rowout *w, const char *index_json);
/* Writes the rows rendered so far, which go out in blocks: for a caller
 * that stops in an error and keeps what was printed (the free drops
 * them, as an answer that failed may be thrown away). */
DP_INTERNAL void dp_rowout_flush(dp_rowout *w);
DP_INTERNAL void dp_rowout_free(dp_rowout *w);

/* ---- freshness (fresh.c) ----------------------------------------------------------- */

/* How far behind its logs the index is. */
typedef struct dp_freshness {
	bool indexer_running; /* an indexer holds the index's lock */
	long indexer_pid;
	bool walked;          /* no indexer ran, so the logs were walked */
	bool walk_incomplete; /* a folder of the logs could not be read */
	uint64_t behind_bytes, behind_segments;
	uint64_t problems;    /* problems the indexer skipped */
	double last_commit;   /* NaN when unknown */
	char log_dir[4096];   /* "" when the index does not say */
} dp_freshness;

/* Fills *f for the index at index_dir, whose logs are log_dir (NULL: where
 * the indexer recorded them), for a question about dataflow df and task
 * (either may be NULL: all of them).  Returns 0 or DNNPROV_ENOMEM; a log
 * folder that cannot be read is not an error (f->walk_incomplete). */
DP_INTERNAL int dp_query_freshness(dp_query *q, const char *index_dir, const char *log_dir,
				   const char *df, const char *task, dp_freshness *f);
/* The JSON object for the "index" member of an answer. */
DP_INTERNAL int dp_freshness_json(const dp_freshness *f, dp_buf *b);
/* Appends the note lines a table gets: the index is behind its logs, or
 * problems were skipped ("" when neither). */
DP_INTERNAL int dp_freshness_note(const dp_freshness *f, dp_buf *b);

/* What `dnnprov index --status` shows of the index against its logs:
 * segments read, those not read yet, problems, with the bytes behind
 * counted by the rule answers use. */
typedef struct dp_index_totals {
	uint64_t indexed, unindexed; /* segments */
	uint64_t problems;
	uint64_t behind_bytes;
	double last_commit; /* NaN when unknown */
} dp_index_totals;

/* Fills *segments with a row per segment the index read (segment,
 * indexed, on_disk, behind, records, problems, state: complete, open,
 * deleted, or ? when log_dir is NULL) and then per segment of log_dir it
 * has not read ("not indexed yet"); *problems with the problems it
 * skipped (segment, offset, why, bytes: missing for a name refused, whose
 * record is indexed); *tot with the totals.  The
 * caller frees both tables. */
DP_INTERNAL int dp_index_status(dp_query *q, const char *log_dir, dp_table *segments, dp_table *problems,
				dp_index_totals *tot);
/* The segments of one task, as dp_index_status's table has them: those
 * the index read, and those in the task's folder of the logs (the folder
 * the indexer recorded) it has not read yet. */
DP_INTERNAL int dp_task_segments(dp_query *q, const char *df, const char *task, dp_table *segments,
				 dp_index_totals *tot);

/* ---- --where ------------------------------------------------------------------------ */

typedef struct dp_where dp_where;

/* Compiles an expression against a dataflow's names.  On DNNPROV_EQUERY the
 * detail has the expression, a caret under the offending column and, for
 * an unknown name, the names that exist. */
DP_INTERNAL int dp_where_compile(const char *expr, const dp_qdataflow *d, dp_where **out);
/* Whether the task passes (SQL's three-valued logic: unknown fails). */
DP_INTERNAL bool dp_where_match(const dp_where *w, dp_query *q, const dp_qdataflow *d,
				const dp_qtask *t);
/* When the expression is a conjunction holding a condition on a
 * hyperparameter that the secondary index answers (=, <, <=, >, >=, in),
 * fills *ids with the tasks that meet that condition (a superset of the
 * matches) and returns true; false when a scan is needed. */
DP_INTERNAL bool dp_where_candidates(const dp_where *w, dp_query *q, const dp_qdataflow *d,
				     char ***ids, size_t *n);
DP_INTERNAL void dp_where_free(dp_where *w);

#endif
