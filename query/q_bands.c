/*
 * q_bands.c - `bands`: a metric's curve per group of runs (grouped as
 * `groups` groups them), epoch by epoch: how many runs of the group
 * reported that epoch, their mean and standard deviation, min and max;
 * what a chart draws as one line per group with a band of mean ± std.
 * One range scan of each run's epochs.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "query/registry.h"
#include "query/rows.h"

typedef struct bands_opts {
	dp_qopts o;
	const char *by;
} bands_opts;

enum { C_KEY, C_EPOCH, C_RUNS, C_MEAN, C_STD, C_MIN, C_MAX, NCOLS };

typedef struct point {
	int64_t epoch;
	double v;
} point;

static int cmp_point(const void *x, const void *y)
{
	const point *a = x, *b = y;
	return a->epoch < b->epoch ? -1 : a->epoch > b->epoch;
}

/* A task's values of the metric, appended to *pts. */
static int task_points(dp_query *q, const char *df, const dp_qtask *t, const char *metric, point **pts, size_t *n,
		       size_t *cap)
{
	dp_key key;
	dp_qepochs scan;
	dp_epoch_row er;
	int more, rc;

	dp_key_reset(&key);
	dp_key_cstr(&key, df);
	dp_key_cstr(&key, t->id);
	if ((rc = dp_qepochs_open(&scan, q->ix, q->txn, NULL, &key, false, 0)))
		return rc;
	while ((more = dp_qepochs_next(&scan, &er)) > 0) {
		dp_field f = dp_rmap_get(er.metrics, metric);
		if (f.type != DP_F_INT && f.type != DP_F_REAL)
			continue;
		if (*n == *cap) {
			size_t c = *cap ? 2 * *cap : 256;
			point *g = realloc(*pts, c * sizeof(*g));
			if (!g) {
				more = dp_error(DNNPROV_ENOMEM, "out of memory");
				break;
			}
			*pts = g;
			*cap = c;
		}
		(*pts)[(*n)++] = (point){ er.epoch, f.d };
	}
	dp_qepochs_close(&scan);
	return more < 0 ? more : 0;
}

/* The rows of one group: its points by epoch. */
static int group_rows(dp_table *out, const dp_qv *kv, point *pts, size_t n)
{
	double *vals = malloc((n + 1) * sizeof(double));
	int rc = 0;
	if (!vals)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	qsort(pts, n, sizeof(*pts), cmp_point);
	for (size_t i = 0, j; i < n && !rc; i = j) {
		double mn = pts[i].v, mx = pts[i].v, mean, sd;
		size_t cnt;
		for (j = i; j < n && pts[j].epoch == pts[i].epoch; j++) {
			vals[j - i] = pts[j].v;
			mn = pts[j].v < mn ? pts[j].v : mn;
			mx = pts[j].v > mx ? pts[j].v : mx;
		}
		dp_moments(vals, j - i, &cnt, &mean, &sd);
		dp_qv *row = dp_table_add_row(out);
		if (!row || dp_copy_value(&row[C_KEY], kv)) {
			rc = dp_error(DNNPROV_ENOMEM, "out of memory");
			break;
		}
		dp_set_int(&row[C_EPOCH], pts[i].epoch);
		dp_set_count(&row[C_RUNS], j - i);
		if (cnt) {
			dp_set_num(&row[C_MEAN], mean);
			if (cnt > 1)
				dp_set_num(&row[C_STD], sd);
			dp_set_num(&row[C_MIN], mn);
			dp_set_num(&row[C_MAX], mx);
		}
	}
	free(vals);
	return rc;
}

static int answer(dp_query *q, const dp_qopts *o, dp_table *out, dp_qnotes *notes)
{
	static const char *const stats[] = { [C_MEAN] = "mean", [C_STD] = "std", [C_MIN] = "min", [C_MAX] = "max" };
	dp_grouped g;
	point *pts = NULL;
	size_t npts = 0, cap = 0;
	int rc;

	(void)notes;
	if ((rc = dp_grouped_open(q, o, ((const bands_opts *)o)->by, &g)) || (rc = dp_table_init(out, NCOLS)))
		goto out;
	dp_goal goal = dp_goal_of(dp_goal_lower(o, g.metric));
	dp_group_column(out, C_KEY, &g.key);
	dp_table_set_col(out, C_EPOCH, "epoch", COL_INT);
	dp_table_set_col(out, C_RUNS, "runs", COL_INT);
	for (size_t c = C_MEAN; c < NCOLS; c++) {
		dp_table_set_col(out, c, stats[c], COL_NUM);
		dp_table_col_metric(out, c, g.metric, NULL, goal);
	}
	dp_table_about_metric(out, g.metric, NULL, goal);
	dp_table_about_by(out, g.key.label, false);
	for (size_t start = 0, end; start < g.n && !rc; start = end) {
		dp_qv kv;
		end = dp_grouped_end(&g, start, &kv);
		npts = 0;
		for (size_t i = start; i < end && !rc; i++)
			rc = task_points(q, g.d.name, g.sel[i], g.metric, &pts, &npts, &cap);
		if (!rc)
			rc = group_rows(out, &kv, pts, npts);
	}
out:
	free(pts);
	dp_grouped_close(&g);
	return rc;
}

static const dp_param params[] = {
	DP_PARAM_DATAFLOW,
	DP_PARAM_BY(bands_opts),
	DP_PARAM_METRIC,
	DP_PARAM_GOAL,
	DP_PARAM_WHERE("runs"),
};

const dp_question dp_q_bands = {
	.name = "bands",
	.summary = "a metric's curve per group of runs: mean and std by epoch",
	.description =
		"The runs grouped as `groups` groups them (--by: a hyperparameter, status,\n"
		"tags.KEY or facts.NAME), and for each group and epoch: the runs that reported\n"
		"the metric there, their mean, sample standard deviation, min and max; a chart\n"
		"draws one line per group with a band of mean ± std.  --where keeps the runs it\n"
		"matches.",
	.example = "dnnprov bands -c exp.yaml --by OPTIMIZER_NAME --metric val_loss",
	DP_PARAMS(params),
	.opts_size = sizeof(bands_opts),
	.answer = answer,
};
