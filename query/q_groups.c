/*
 * q_groups.c - `groups`: the runs grouped by a hyperparameter, their
 * status, a tag or a run fact, with the count, mean and standard deviation
 * of a metric and the best run of each group (what W&B and Aim call
 * grouping).  Each value is its own group (effect puts the values of a
 * numeric hyperparameter in bins and adds a correlation); runs without a
 * value form the last group.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "query/registry.h"

typedef struct groups_opts {
	dp_qopts o;
	const char *by;
} groups_opts;

enum { C_KEY, C_RUNS, C_N, C_MEAN, C_STD, C_MIN, C_MAX, C_BEST_TASK, C_BEST, NCOLS };

static int columns(dp_table *out, const dp_group_key *k, const char *metric, const dp_agg *agg, dp_goal goal)
{
	static const char *const stats[] = { [C_MEAN] = "mean", [C_STD] = "std", [C_MIN] = "min", [C_MAX] = "max",
					     [C_BEST] = "best" };
	int rc = dp_table_init(out, NCOLS);
	if (rc)
		return rc;
	dp_group_column(out, C_KEY, k);
	dp_table_set_col(out, C_RUNS, "runs", COL_INT);
	dp_table_set_col(out, C_N, "n", COL_INT);
	dp_table_set_col(out, C_BEST_TASK, "best_task", COL_TEXT);
	for (size_t c = C_MEAN; c < NCOLS; c++) {
		if (!stats[c])
			continue;
		dp_table_set_col(out, c, stats[c], COL_NUM);
		/* Values of the metric's aggregate (a deviation is in its unit). */
		dp_table_col_metric(out, c, metric, agg, goal);
	}
	dp_table_about_metric(out, metric, agg, goal);
	dp_table_about_by(out, k->label, false);
	return 0;
}

static int answer(dp_query *q, const dp_qopts *o, dp_table *out, dp_qnotes *notes)
{
	const char *by = ((const groups_opts *)o)->by;
	dp_qdataflow d;
	dp_where *w;
	const dp_qtask **sel = NULL;
	dp_qv *column = NULL;
	double *vals = NULL;
	dp_group_key key;
	size_t n;
	int rc;

	(void)notes;
	if ((rc = dp_answer_prepare(q, o, &d, &w)))
		return rc;
	const char *metric = dp_resolve_metric(q, &d, o->metric, &rc);
	if (rc || (rc = dp_group_key_resolve(&d, by, &key)) || (rc = dp_select_tasks(q, &d, w, &sel, &n)))
		goto out;
	bool lower = dp_goal_lower(o, metric);
	dp_agg agg = dp_agg_resolved(o, lower);
	column = calloc(d.ntasks + 1, sizeof(dp_qv));
	vals = calloc(n + 1, sizeof(double));
	if (!column || !vals) {
		rc = dp_error(DNNPROV_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = dp_query_metric_column(q, &d, metric, &agg, column, NULL)) ||
	    (rc = columns(out, &key, metric, &agg, dp_goal_of(lower))))
		goto out;
	dp_group_sort(&key, sel, n);
	for (size_t start = 0, end; start < n && !rc; start = end) {
		dp_qv kv = dp_group_key_value(&key, sel[start]);
		const dp_qtask *best = NULL;
		double bestv = NAN, mean, sd, mn = NAN, mx = NAN;
		size_t cnt;
		for (end = start; end < n; end++) {
			dp_qv ev = dp_group_key_value(&key, sel[end]);
			if (dp_cmp_cells(&kv, &ev, false) != 0)
				break;
			dp_qv m = column[sel[end] - d.tasks];
			double v = vals[end - start] = m.type == QV_NUM ? m.num : NAN;
			if (isnan(v))
				continue;
			mn = isnan(mn) || v < mn ? v : mn;
			mx = isnan(mx) || v > mx ? v : mx;
			if (!best || (lower ? v < bestv : v > bestv)) {
				best = sel[end];
				bestv = v;
			}
		}
		dp_moments(vals, end - start, &cnt, &mean, &sd);
		dp_qv *row = dp_table_add_row(out);
		if (!row) {
			rc = dp_error(DNNPROV_ENOMEM, "out of memory");
			break;
		}
		rc = dp_copy_value(&row[C_KEY], &kv);
		if (kv.type == QV_NUM)
			dp_table_about_group(out, out->nrows - 1, kv.num, kv.num);
		else
			dp_table_about_group(out, out->nrows - 1, NAN, NAN);
		dp_set_count(&row[C_RUNS], end - start);
		dp_set_count(&row[C_N], cnt);
		if (cnt) {
			dp_set_num(&row[C_MEAN], mean);
			if (cnt > 1)
				dp_set_num(&row[C_STD], sd);
			dp_set_num(&row[C_MIN], mn);
			dp_set_num(&row[C_MAX], mx);
			dp_set_text(&row[C_BEST_TASK], best->id);
			dp_set_num(&row[C_BEST], bestv);
		}
	}
out:
	free(vals);
	free(column);
	free(sel);
	dp_where_free(w);
	dp_qdataflow_free(&d);
	return rc;
}

static const dp_param params[] = {
	DP_PARAM_DATAFLOW,
	{ .name = "by", .type = DP_PT_TEXT, .arg = "KEY", .required = true,
	  .help = "a hyperparameter (in any case), status, tags.KEY or facts.NAME", .fronts = DP_FRONT_ALL,
	  .offset = offsetof(groups_opts, by) },
	DP_PARAM_METRIC,
	DP_PARAM_AGG,
	DP_PARAM_GOAL,
	DP_PARAM_WHERE("runs"),
};

const dp_question dp_q_groups = {
	.name = "groups",
	.summary = "runs grouped by a hyperparameter or tag: count, mean, std, best",
	.description =
		"The runs grouped by the value of --by: a hyperparameter, status, a tag\n"
		"(tags.KEY) or a run fact (facts.NAME); runs without a value form the last\n"
		"group.  For each group: the runs, n (those with the metric), the mean, sample\n"
		"standard deviation, min and max of the metric's aggregate (--agg, best by\n"
		"default), and the best run.  Each value is a group of its own: `effect` puts\n"
		"a numeric hyperparameter's many values in bins and adds Spearman's rho.\n"
		"--where keeps the runs it matches.",
	.example = "dnnprov groups -c exp.yaml --by OPTIMIZER_NAME --metric val_accuracy",
	DP_PARAMS(params),
	.opts_size = sizeof(groups_opts),
	.answer = answer,
};
