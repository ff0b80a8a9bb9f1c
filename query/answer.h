/*
 * answer.h - what the questions (q_<name>.c) share: the options several
 * of them take, filling cells, loading a dataflow and selecting its tasks
 * by --where, resolving a metric, sorting and cutting a table to a page,
 * and choosing a page of tasks without loading them all (answer.c).
 */
#ifndef DNNPROV_ANSWER_H
#define DNNPROV_ANSWER_H

#include <math.h>
#include <string.h>

#include "query/rows.h"

/* The options several questions take; each question's own options are a
 * struct that starts with this one (query/registry.h). */
typedef struct dp_qopts {
	const char *df;
	const char *where;  /* --where */
	const char *sort;   /* --sort [+|-]COLUMN */
	int64_t limit;      /* --limit; 0 for all */
	int64_t offset;     /* --offset: rows skipped after sorting */
	const char *metric; /* --metric; NULL: the main metric */
	dp_agg agg;         /* --agg; default best */
	const char *goal;   /* --goal min|max; NULL: from the metric's name */
	const char *task;   /* --task, or the TASK argument */
	double now;         /* the time of the question (ages, recent LOST tasks) */
} dp_qopts;

/* Extra lines a question has for the table format only (sparklines, the
 * correlation); the caller prints them after the table. */
typedef struct dp_qnotes {
	dp_buf text;
} dp_qnotes;

/* ---- cells ---------------------------------------------------------------------------- */

static inline int dp_set_text(dp_qv *cell, const char *s)
{
	return s ? dp_cell_text(cell, s, strlen(s)) : 0;
}
static inline void dp_set_num(dp_qv *cell, double v)
{
	*cell = dp_qv_real(v);
}
static inline void dp_set_int(dp_qv *cell, int64_t v)
{
	*cell = dp_qv_int(v);
}
static inline void dp_set_count(dp_qv *cell, uint64_t n)
{
	dp_set_int(cell, n > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)n);
}
/* A time; NaN (unknown) leaves the cell missing. */
static inline void dp_set_time(dp_qv *cell, double t)
{
	if (!isnan(t))
		dp_set_num(cell, t);
}
/* A copy of v (text copied); NULL or a missing value leaves the cell missing. */
DP_INTERNAL int dp_copy_value(dp_qv *cell, const dp_qv *v);
/* A stored value (text copied; nothing: missing): the one conversion of
 * a reader's dp_field to a cell. */
DP_INTERNAL int dp_copy_field(dp_qv *cell, const dp_field *f);

/* ---- the dataflow and its tasks ------------------------------------------------------------ */

/* Loads the dataflow and compiles --where; on error both are freed. */
DP_INTERNAL int dp_answer_prepare(dp_query *q, const dp_qopts *o, dp_qdataflow *d, dp_where **w);
/* The tasks passing --where, in index order (caller frees *out); the
 * secondary index narrows the candidates when the expression allows. */
DP_INTERNAL int dp_select_tasks(dp_query *q, const dp_qdataflow *d, const dp_where *w, const dp_qtask ***out,
				size_t *n);
/* Which tasks pass --where, as a flag per task of d (in d->tasks order),
 * for questions whose rows come from a scan of another database; *flags
 * is NULL when there is no filter. */
DP_INTERNAL int dp_where_flags(dp_query *q, const dp_qdataflow *d, const dp_where *w, bool **flags);
/* Whether the task id[0..n) passed --where (see dp_where_flags). */
DP_INTERNAL bool dp_task_passes(const dp_qdataflow *d, const bool *flags, const char *id, size_t n);

/* The dataflow's spelling of metric `name` (NULL: the main metric);
 * NULL with *rc DNNPROV_ENOTFOUND about "metric", listing the metrics,
 * when there is none. */
DP_INTERNAL const char *dp_resolve_metric(dp_query *q, const dp_qdataflow *d, const char *name, int *rc);
/* Whether lower is better for the metric: --goal, else its name. */
DP_INTERNAL bool dp_goal_lower(const dp_qopts *o, const char *metric);
/* The aggregate --agg names, best made min or max by the goal. */
DP_INTERNAL dp_agg dp_agg_resolved(const dp_qopts *o, bool lower);

/* ---- tables --------------------------------------------------------------------------------- */

/* Orders two cells as a sort does: missing (and NaN) last whatever the
 * direction. */
DP_INTERNAL int dp_cmp_cells(const dp_qv *a, const dp_qv *b, bool desc);
/* The column --sort [+|-]COLUMN names (the last of that name, in any
 * case), or def_col and def_desc without --sort; DNNPROV_EQUERY about
 * "sort" listing the columns when there is none. */
DP_INTERNAL int dp_sort_column(const dp_table *t, const dp_qopts *o, size_t def_col, bool def_desc, size_t *col,
			       bool *desc);
/* The order of n numbers (keys[i] at keys + i * stride bytes) as a sort
 * by them puts them, missing and NaN last whatever the direction, equal
 * ones in the order given: order[i] is the index of the i-th.  *done is
 * false when a key is not a number a double holds exactly (text, an
 * integer past 2^53): then the caller compares. */
DP_INTERNAL int dp_order_numbers(const dp_qv *keys, size_t stride, size_t n, bool desc, uint32_t *order, bool *done);
/* --sort [+|-]COLUMN, or the default; then --offset and --limit. */
DP_INTERNAL int dp_sort_and_limit(dp_table *t, const dp_qopts *o, size_t def_col, bool def_desc);
/* Whether `sort` ([+|-]COLUMN as --sort takes it) names column `col` and
 * no hyperparameter of d has that name: then *desc is its direction. */
DP_INTERNAL bool dp_sort_names(const dp_qdataflow *d, const char *sort, const char *col, bool *desc);
/* The hyperparameter columns first.. of the dataflow, in declaration order. */
DP_INTERNAL int dp_hyp_columns(dp_table *t, size_t first, const dp_qdataflow *d);
DP_INTERNAL int dp_hyp_cells(dp_qv *row, size_t first, const dp_qdataflow *d, const dp_qtask *t);
/* In the table format, hyperparameter columns first..first+n with one
 * value in every row become one note line. */
DP_INTERNAL void dp_omit_constant_columns(dp_table *t, size_t first, size_t n, dp_qnotes *notes);

/* ---- a page of tasks without loading them all ------------------------------------------- */

/* One candidate of a page: its sort value and its id, which points into the
 * snapshot's map (valid while the transaction lives). */
typedef struct dp_page_item {
	dp_qv key;
	const char *id;
} dp_page_item;

/* The k best candidates seen, as a heap whose top is the worst of them. */
typedef struct dp_page_heap {
	dp_page_item *v;
	size_t n, cap, k;
	bool desc;
	bool trainings; /* only the tasks that train (dp_transformation_trains), as compare ranks */
} dp_page_heap;

/* Which column a page can be cut by without loading every task: the task
 * id (the tasks' keys), the start (read in place from the task values) or
 * an aggregate of a metric (the summaries). */
typedef enum dp_page_key { PAGE_SLOW, PAGE_TASK, PAGE_START, PAGE_METRIC } dp_page_key;

/* What a scan of every task (dp_tasks_scan) calls for each: the task's id
 * (NUL-terminated, in the snapshot's map), its stored value (the tasks
 * database's, read with dp_read_task or dp_task_fields_parse) and the
 * aggregate of the metric with the epoch it came from (QV_NULL when the
 * task has none, or no metric was asked).  Non-zero stops the scan and is
 * its result. */
typedef int (*dp_task_visit)(void *ctx, const char *id, const MDB_val *value, const dp_qv *metric_value,
			     int64_t epoch);

/* Every task of d, in id order, read in place from the snapshot (nothing
 * is loaded or copied), with the aggregate `agg` of `metric` (NULL: none)
 * beside it: the dataflow's task keys and the metric's summaries, both
 * sorted by task id, walked together. */
DP_INTERNAL int dp_tasks_scan(dp_query *q, const dp_qdataflow *d, const char *metric, const dp_agg *agg,
			      dp_task_visit visit, void *ctx);

/* Keeps the h->k first tasks of the dataflow in the page's order; *total
 * counts the tasks.  From the keys kept in that order (tasks, starts,
 * ranks) when they tell the page, else from a walk of the task keys and,
 * for PAGE_METRIC, the metric's summaries beside them, where every task is
 * offered, so a task without a value takes its place among the missing
 * (last, by id). */
DP_INTERNAL int dp_page_select(dp_query *q, const dp_qdataflow *d, const char *metric, dp_page_key pk,
			       const dp_agg *agg, dp_page_heap *h, size_t *total);
/* The count the counts database keeps under key (schema.h): the tasks of
 * a dataflow, of a hyperparameter value; 0 when it has none.  0, 1 when
 * the entry is no count, or an error. */
DP_INTERNAL int dp_query_count(dp_query *q, const dp_key *key, uint64_t *n);
/* Sorts the heap's items into the page's order. */
DP_INTERNAL void dp_page_sort(dp_page_heap *h);

/* ---- groups of tasks (groups, bands) -------------------------------------------------------
 * What a question groups the tasks by: a hyperparameter (as the dataflow
 * spells it, named in any case), `status`, a tag `tags.KEY` or a run fact
 * `facts.NAME`, the names of --where. */
typedef enum dp_group_kind { GROUP_HYP, GROUP_STATUS, GROUP_TAG, GROUP_FACT } dp_group_kind;
typedef struct dp_group_key {
	dp_group_kind kind;
	const char *name;  /* the hyperparameter, tag key or fact name (in `by` or d) */
	const char *label; /* the column's name: the hyperparameter, "status", "tags.KEY" (in `by` or d) */
	bool numeric;      /* a hyperparameter declared numeric */
} dp_group_key;

/* Resolves `by` against d: DNNPROV_ENOTFOUND about "by", listing what it
 * takes, when it names nothing. */
DP_INTERNAL int dp_group_key_resolve(const dp_qdataflow *d, const char *by, dp_group_key *k);
/* Task t's value of the key (text pointing into t or d); QV_NULL when it
 * has none. */
DP_INTERNAL dp_qv dp_group_key_value(const dp_group_key *k, const dp_qtask *t);
/* Sorts sel[0..n) by their value of the key (missing last), then by id:
 * a group is a run of equal values. */
DP_INTERNAL void dp_group_sort(const dp_group_key *k, const dp_qtask **sel, size_t n);
/* Sets the key's column i of t: its name, and its kind. */
DP_INTERNAL void dp_group_column(dp_table *t, size_t i, const dp_group_key *k);
/* What groups and bands share: the dataflow and --where, the metric, the
 * key of `by`, and the tasks --where keeps, sorted into groups. */
typedef struct dp_grouped {
	dp_qdataflow d;
	dp_where *w;
	const char *metric;
	dp_group_key key;
	const dp_qtask **sel;
	size_t n;
} dp_grouped;
/* 0 or an error; close it either way. */
DP_INTERNAL int dp_grouped_open(dp_query *q, const dp_qopts *o, const char *by, dp_grouped *g);
DP_INTERNAL void dp_grouped_close(dp_grouped *g);
/* The end (exclusive) of the group that begins at sel[start], and its value. */
DP_INTERNAL size_t dp_grouped_end(const dp_grouped *g, size_t start, dp_qv *value);

/* The count, mean and sample standard deviation of the numbers v[0..n)
 * that are not NaN (mean NaN when none, sd NaN when fewer than two),
 * without overflow for values near the largest double. */
DP_INTERNAL void dp_moments(const double *v, size_t n, size_t *count, double *mean, double *sd);

/* ---- where two curves part (diff) ---------------------------------------------------------
 * Two curves of one metric part at the first epoch where their gap passes
 * DP_PART_K times their noise, the median epoch-to-epoch change of both
 * over the DP_PART_WINDOW epochs up to it, and stays past it for
 * DP_PART_HOLD epochs in a row (q_diff.c says it whole, and
 * docs/QUERY.md). */
#define DP_PART_K 3.0
#define DP_PART_WINDOW 5
#define DP_PART_HOLD 3
/* a[0..n), b[0..n): both curves' values at the epochs they share, in
 * epoch order.  The index of the epoch where they part, with the noise
 * there in *noise; n when they do not part (or cannot: fewer than
 * DP_PART_HOLD epochs). */
DP_INTERNAL size_t dp_curves_part(const double *a, const double *b, size_t n, double *noise);

/* Spearman's rank correlation of paired values (ties get average ranks) in
 * *rho: NaN when fewer than 3 pairs or a side is constant.  Returns 0, or
 * DNNPROV_ENOMEM. */
DP_INTERNAL int dp_spearman(const double *x, const double *y, size_t n, double *rho);

#endif
