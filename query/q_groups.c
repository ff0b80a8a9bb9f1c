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
	dp_grouped g;
	dp_qv *column = NULL;
	double *vals = NULL;
	int rc;

	(void)notes;
	if ((rc = dp_grouped_open(q, o, ((const groups_opts *)o)->by, &g)))
		goto out;
	bool lower = dp_goal_lower(o, g.metric);
	dp_agg agg = dp_agg_resolved(o, lower);
	column = calloc(g.d.ntasks + 1, sizeof(dp_qv));
	vals = calloc(g.n + 1, sizeof(double));
	if (!column || !vals) {
		rc = dp_error(DNNPROV_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = dp_query_metric_column(q, &g.d, g.metric, &agg, column, NULL)) ||
	    (rc = columns(out, &g.key, g.metric, &agg, dp_goal_of(lower))))
		goto out;
	for (size_t start = 0, end; start < g.n && !rc; start = end) {
		dp_qv kv;
		const dp_qtask *best = NULL;
		double bestv = NAN, mean, sd, mn = NAN, mx = NAN;
		size_t cnt;
		end = dp_grouped_end(&g, start, &kv);
		for (size_t i = start; i < end; i++) {
			dp_qv m = column[g.sel[i] - g.d.tasks];
			double v = vals[i - start] = m.type == QV_NUM ? m.num : NAN;
			if (isnan(v))
				continue;
			mn = isnan(mn) || v < mn ? v : mn;
			mx = isnan(mx) || v > mx ? v : mx;
			if (!best || (lower ? v < bestv : v > bestv)) {
				best = g.sel[i];
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
	dp_grouped_close(&g);
	return rc;
}

static const dp_param params[] = {
	DP_PARAM_DATAFLOW,
	DP_PARAM_BY(groups_opts),
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
