/*
 * q_compare.c - `compare`: hyperparameters against one aggregated metric,
 * best first.
 */
#include <stdio.h>
#include <stdlib.h>

#include "query/registry.h"

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
	bool declared;
	int rc;

	*done = false;
	if ((o->where && *o->where) || !o->limit || o->agg.kind == AGG_AT)
		return 0;
	if ((rc = dp_query_load_spec(q, o->df, &spec)))
		return rc;
	const char *metric = NULL;
	if ((rc = dp_query_hyps_declared(q, &spec, &declared)) || !declared ||
	    !(metric = dp_resolve_metric(q, &spec, o->metric, &rc)) || rc)
		goto out;
	bool lower = dp_goal_lower(o, metric), desc = !lower;
	dp_agg agg = dp_agg_resolved(o, lower);
	snprintf(col, sizeof(col), "%s(%s)", dp_agg_name(&agg, aggname, sizeof(aggname)), metric);
	if (o->sort && *o->sort && !dp_sort_names(&spec, o->sort, col, &desc))
		goto out;
	h.k = (size_t)o->offset + (size_t)o->limit; /* the registry keeps both within 0..2^40 */
	h.desc = desc;
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

static int answer(dp_query *q, const dp_qopts *o, dp_table *out, dp_qnotes *notes)
{
	dp_qdataflow d;
	dp_where *w;
	const dp_qtask **sel = NULL;
	size_t n;
	const char *metric;
	char name[DNNPROV_NAME_MAX + 32], aggname[32];
	size_t total = 0;
	bool paged;
	int rc;

	w = NULL;
	if ((rc = compare_page(q, o, &d, &paged, &total)) || (!paged && (rc = dp_answer_prepare(q, o, &d, &w))))
		return rc;
	metric = dp_resolve_metric(q, &d, o->metric, &rc);
	if (rc || (rc = dp_select_tasks(q, &d, w, &sel, &n)) || (rc = dp_table_init(out, 4 + d.nhyps)))
		goto out;
	bool lower = dp_goal_lower(o, metric);
	dp_agg agg = dp_agg_resolved(o, lower);
	snprintf(name, sizeof(name), "%s(%s)", dp_agg_name(&agg, aggname, sizeof(aggname)), metric);
	dp_table_set_col(out, 0, "task", COL_TEXT);
	dp_table_set_col(out, 1, "status", COL_TEXT);
	dp_table_col_status(out, 1);
	dp_hyp_columns(out, 2, &d);
	dp_table_set_col(out, 2 + d.nhyps, name, COL_NUM);
	dp_table_col_metric(out, 2 + d.nhyps, metric, &agg, dp_goal_of(lower));
	dp_table_about_metric(out, metric, &agg, dp_goal_of(lower));
	dp_table_set_col(out, 3 + d.nhyps, "at_epoch", COL_INT);
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
