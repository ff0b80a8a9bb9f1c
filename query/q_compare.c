/*
 * q_compare.c - `compare`: hyperparameters against one aggregated metric,
 * best first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/registry.h"
#include "query/rows.h"

/* What compare needs to answer without loading every task: no --where, no
 * at=EPOCH, every hyperparameter a task used declared (then the columns
 * are the specification's); *spec gets the specification, *metric its
 * spelling of the metric (NULL, with *spec freed, when the question needs
 * the loaded path, which gives the answer or the error), *lower and *agg
 * its goal and aggregate. */
static int spec_and_metric(dp_query *q, const dp_qopts *o, dp_qdataflow *spec, const char **metric, bool *lower,
			   dp_agg *agg)
{
	bool declared;
	int rc;
	*metric = NULL;
	if ((o->where && *o->where) || o->agg.kind == AGG_AT)
		return 0;
	if ((rc = dp_query_load_spec(q, o->df, spec)))
		return rc == DNNPROV_EQUERY || rc == DNNPROV_ENOTFOUND ? (dp_error_clear(), 0) : rc;
	if (!(rc = dp_query_hyps_declared(q, spec, &declared)) && declared)
		*metric = dp_resolve_metric(q, spec, o->metric, &rc);
	if (rc || !*metric) {
		*metric = NULL;
		dp_qdataflow_free(spec);
		return rc == DNNPROV_EQUERY || rc == DNNPROV_ENOTFOUND ? (dp_error_clear(), 0) : rc;
	}
	*lower = dp_goal_lower(o, *metric);
	*agg = dp_agg_resolved(o, *lower);
	return 0;
}

/* compare with --limit (and --offset), no --where, sorted by its metric
 * (the default): the rows are chosen as runs_page chooses a page, and only
 * their tasks are loaded into *d; *total gets the number of tasks, which
 * the whole answer would have had as rows.  *done is false when the
 * question needs every task loaded. */
static int compare_page(dp_query *q, const dp_qopts *o, dp_qdataflow *d, bool *done, size_t *total)
{
	dp_qdataflow spec;
	dp_page_heap h = { 0 };
	const char **ids = NULL;
	char col[DNNPROV_NAME_MAX + 32], aggname[32];
	const char *metric;
	bool lower;
	dp_agg agg;
	int rc;

	*done = false;
	if (!o->limit || (rc = spec_and_metric(q, o, &spec, &metric, &lower, &agg)) || !metric)
		return o->limit ? rc : 0;
	bool desc = !lower;
	snprintf(col, sizeof(col), "%s(%s)", dp_agg_name(&agg, aggname, sizeof(aggname)), metric);
	if (o->sort && *o->sort && !dp_sort_names(&spec, o->sort, col, &desc))
		goto out;
	h.k = (size_t)o->offset + (size_t)o->limit; /* the registry keeps both within 0..2^40 */
	h.desc = desc;
	h.trainings = true;
	if ((rc = dp_page_select(q, &spec, metric, PAGE_METRIC, &agg, &h, total)))
		goto out;
	dp_page_sort(&h);
	if (!(ids = calloc(h.n + 1, sizeof(*ids)))) {
		rc = dp_error(DNNPROV_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < h.n; i++)
		ids[i] = h.v[i].id;
	if ((rc = dp_query_load_ids(q, o->df, ids, h.n, d)))
		goto out;
	*done = true;
out:
	free(ids);
	free(h.v);
	dp_qdataflow_free(&spec);
	if (!*done && (rc == DNNPROV_EQUERY || rc == DNNPROV_ENOTFOUND)) {
		rc = 0; /* the whole load gives the answer or the error */
		dp_error_clear();
	}
	return rc;
}

/* The columns of an answer: task, status, the hyperparameters, the
 * metric's aggregate and the epoch it comes from. */
static int compare_columns(dp_table *out, const dp_qdataflow *d, const char *metric, const dp_agg *agg, bool lower)
{
	char name[DNNPROV_NAME_MAX + 32], aggname[32];
	int rc = dp_table_init(out, 4 + d->nhyps);
	if (rc)
		return rc;
	snprintf(name, sizeof(name), "%s(%s)", dp_agg_name(agg, aggname, sizeof(aggname)), metric);
	dp_table_set_col(out, 0, "task", COL_TEXT);
	dp_table_set_col(out, 1, "status", COL_TEXT);
	dp_table_col_status(out, 1);
	dp_hyp_columns(out, 2, d);
	dp_table_set_col(out, 2 + d->nhyps, name, COL_NUM);
	dp_table_col_metric(out, 2 + d->nhyps, metric, agg, dp_goal_of(lower));
	dp_table_about_metric(out, metric, agg, dp_goal_of(lower));
	dp_table_set_col(out, 3 + d->nhyps, "at_epoch", COL_INT);
	return out->failed ? dp_error(DNNPROV_ENOMEM, "out of memory") : 0;
}

/* ---- every row without loading a task -------------------------------------------------- */

typedef struct whole_ctx {
	dp_table *out;
	const dp_qdataflow *d;
} whole_ctx;

/* A row of the answer from a task's stored value, read in place where it
 * lies in the snapshot (in key order, so the map is read front to back);
 * its texts copied into the table's arena. */
static int add_scanned(void *ctx, const char *id, const MDB_val *value, const dp_qv *metric_value, int64_t epoch)
{
	whole_ctx *w = ctx;
	const dp_qdataflow *d = w->d;
	char status[16];
	dp_str hyp_map, tf;
	/* As a loaded task: a value that cannot be read shows its id. */
	bool known = dp_task_status_hyps(value->mv_data, value->mv_size, status, &hyp_map, &tf) == 0;
	if (!dp_transformation_trains(tf))
		return 0; /* a pipeline's other step has no configuration to rank */
	dp_qv *row = dp_table_add_row(w->out);
	if (!row)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	int rc = dp_table_text(w->out, &row[0], id, strlen(id));
	if (!rc)
		rc = dp_table_text(w->out, &row[1], known ? status : "", known ? strlen(status) : 0);
	dp_rmap hyps = { .raw = known ? (const unsigned char *)hyp_map.p : NULL, .rawlen = known ? hyp_map.n : 0 };
	size_t nh = hyps.raw ? dp_rmap_size(hyps) : 0;
	for (size_t i = 0; i < nh && !rc; i++) {
		dp_str name;
		dp_field f;
		if (!dp_rmap_at(hyps, i, &name, &f))
			continue;
		/* The declared spelling, in any case (dp_qtask_hyp); the first
		 * of a name used twice. */
		size_t h = 0;
		while (h < d->nhyps && !(strlen(d->hyps[h].name) == name.n &&
					 dp_strncasecmp(d->hyps[h].name, name.p, name.n) == 0))
			h++;
		dp_qv *cell = h < d->nhyps ? &row[2 + h] : NULL;
		if (!cell || cell->type != QV_NULL)
			continue;
		if (f.type == DP_F_TEXT)
			rc = dp_table_text(w->out, cell, f.s.p, f.s.n);
		else if (f.type == DP_F_INT)
			*cell = dp_qv_int(f.i);
		else if (f.type == DP_F_REAL)
			*cell = dp_qv_real(f.d);
	}
	row[2 + d->nhyps] = *metric_value;
	if (metric_value->type != QV_NULL)
		row[3 + d->nhyps] = dp_qv_int(epoch);
	return rc;
}

/* compare without --where or at=EPOCH: one walk of the tasks' keys and the
 * metric's summaries, each task read in place where it lies in the
 * snapshot and its row made there, then sorted (a radix sort, by
 * dp_sort_and_limit).  Loading 100,000 tasks first (a structure and
 * allocations each) and copying every text took most of the time of the
 * whole answer.  *done is false when the question needs the loaded path
 * (--where, at=EPOCH, a hyperparameter the specification does not
 * declare). */
static int compare_whole(dp_query *q, const dp_qopts *o, dp_table *out, dp_qnotes *notes, bool *done)
{
	dp_qdataflow d;
	const char *metric;
	bool lower;
	dp_agg agg;
	int rc;

	*done = false;
	if ((rc = spec_and_metric(q, o, &d, &metric, &lower, &agg)) || !metric)
		return rc;
	if ((rc = compare_columns(out, &d, metric, &agg, lower)))
		goto out;
	*done = true;
	whole_ctx w = { out, &d };
	if ((rc = dp_tasks_scan(q, &d, metric, &agg, add_scanned, &w)) ||
	    (rc = dp_sort_and_limit(out, o, 2 + d.nhyps, !lower))) /* best first, missing last */
		goto out;
	dp_omit_constant_columns(out, 2, d.nhyps, notes);
out:
	if (rc) {
		dp_table_free(out);
		memset(out, 0, sizeof(*out));
	}
	dp_qdataflow_free(&d);
	return rc;
}

static int answer(dp_query *q, const dp_qopts *o, dp_table *out, dp_qnotes *notes)
{
	dp_qdataflow d;
	dp_where *w;
	const dp_qtask **sel = NULL;
	size_t n;
	const char *metric;
	size_t total = 0;
	bool paged, done;
	int rc;

	w = NULL;
	/* A page sorted by the metric: its tasks alone are loaded. */
	if ((rc = compare_page(q, o, &d, &paged, &total)))
		return rc;
	/* Every row, or a page past many: no task is loaded. */
	if (!paged && ((rc = compare_whole(q, o, out, notes, &done)) || done))
		return rc;
	if (!paged && (rc = dp_answer_prepare(q, o, &d, &w)))
		return rc;
	metric = dp_resolve_metric(q, &d, o->metric, &rc);
	if (rc || (rc = dp_select_tasks(q, &d, w, &sel, &n)))
		goto out;
	bool lower = dp_goal_lower(o, metric);
	dp_agg agg = dp_agg_resolved(o, lower);
	if ((rc = compare_columns(out, &d, metric, &agg, lower)))
		goto out;
	dp_qv *vals = calloc(d.ntasks + 1, sizeof(dp_qv));
	int64_t *eps = calloc(d.ntasks + 1, sizeof(int64_t));
	if (!vals || !eps)
		rc = dp_error(DNNPROV_ENOMEM, "out of memory");
	else
		rc = dp_query_metric_column(q, &d, metric, &agg, vals, eps);
	for (size_t i = 0; i < n && !rc; i++) {
		if (!dp_qtask_trains(sel[i]))
			continue; /* a pipeline's other step has no configuration to rank */
		dp_qv *row = dp_table_add_row(out);
		size_t at = (size_t)(sel[i] - d.tasks);
		if (!row) {
			rc = dp_error(DNNPROV_ENOMEM, "out of memory");
			break;
		}
		dp_set_text(&row[0], sel[i]->id);
		dp_set_text(&row[1], sel[i]->status);
		rc = dp_hyp_cells(row, 2, &d, sel[i]);
		row[2 + d.nhyps] = vals[at];
		if (vals[at].type != QV_NULL)
			dp_set_int(&row[3 + d.nhyps], eps[at]);
	}
	free(vals);
	free(eps);
	if (!rc)
		rc = dp_sort_and_limit(out, o, 2 + d.nhyps, !lower); /* best first, missing last */
	if (!rc && paged)
		out->total = total; /* the rows of the whole answer */
	if (!rc)
		dp_omit_constant_columns(out, 2, d.nhyps, notes);
out:
	free(sel);
	dp_where_free(w);
	dp_qdataflow_free(&d);
	return rc;
}

static const dp_param params[] = {
	DP_PARAM_DATAFLOW,
	DP_PARAM_METRIC,
	DP_PARAM_AGG,
	DP_PARAM_GOAL,
	DP_PARAM_WHERE("rows"),
	DP_PARAM_SORT,
	DP_PARAM_LIMIT,
	DP_PARAM_OFFSET,
};

const dp_question dp_q_compare = {
	.name = "compare",
	.summary = "hyperparameters against a metric, best first",
	.description =
		"Each training task's hyperparameters beside the aggregate of one metric over its\n"
		"epochs, best first; tasks lacking the metric come last with an empty cell (the\n"
		"tasks of a pipeline's other steps, docs/LINEAGE.md, are not ranked).  --agg best\n"
		"(the default) is min for loss-like metrics and max for the others; at=EPOCH\n"
		"takes the value at one epoch.  The at_epoch column says which epoch the value\n"
		"comes from.  --where as in `dnnprov help runs`; conditions on hyperparameters\n"
		"are answered by the hyperparameter index.",
	.example = "dnnprov compare -c exp.yaml --metric val_accuracy --where \"epochs >= 10\" --limit 5",
	DP_PARAMS(params),
	.opts_size = sizeof(dp_qopts),
	.answer = answer,
};
