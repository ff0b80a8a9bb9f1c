/*
 * q_adaptations.c - `adaptations`: every change of a hyperparameter during
 * training, and the metric before it and some epochs after.
 */
#include <stdio.h>
#include <stdlib.h>

#include "query/registry.h"

typedef struct adaptations_opts {
	dp_qopts o;
	int64_t window; /* the metric this many epochs after the change */
} adaptations_opts;

static dp_qv metric_at(dp_query *q, const char *df, const char *task, const char *metric, int64_t e)
{
	dp_agg at = { AGG_AT, e };
	return dp_query_metric(q, df, task, metric, &at, NULL);
}

static int answer(dp_query *q, const dp_qopts *o, dp_table *out, dp_qnotes *notes)
{
	dp_qdataflow d;
	dp_where *w;
	bool *pass = NULL;
	const char *metric;
	dp_scan sc;
	dp_key key;
	MDB_val k, v;
	char col[DNNPROV_NAME_MAX + 32];
	int window = (int)((const adaptations_opts *)o)->window, rc; /* 1..1000000 */

	(void)notes;
	if ((rc = dp_answer_prepare(q, o, &d, &w)))
		return rc;
	metric = dp_resolve_metric(q, &d, o->metric, &rc);
	if (rc)
		goto out;
	if (o->task && !dp_qtask_find(&d, o->task)) {
		rc = dp_query_no_task(q, d.name, o->task);
		goto out;
	}
	if ((rc = dp_where_flags(q, &d, w, &pass)) || (rc = dp_table_init(out, 8)))
		goto out;
	dp_table_set_col(out, 0, "task", COL_TEXT);
	dp_table_set_col(out, 1, "epoch", COL_INT);
	dp_table_set_col(out, 2, "hyperparameter", COL_TEXT);
	dp_table_set_col(out, 3, "old", COL_NUM);
	dp_table_set_col(out, 4, "new", COL_NUM);
	dp_goal goal = dp_goal_of(dp_goal_lower(o, metric));
	dp_table_about_metric(out, metric, NULL, goal);
	snprintf(col, sizeof(col), "%s_before", metric);
	dp_table_set_col(out, 5, col, COL_NUM);
	dp_table_col_metric(out, 5, metric, NULL, goal);
	snprintf(col, sizeof(col), "%s_after%d", metric, window);
	dp_table_set_col(out, 6, col, COL_NUM);
	dp_table_col_metric(out, 6, metric, NULL, goal);
	dp_table_set_col(out, 7, "change", COL_NUM);
	dp_key_reset(&key);
	dp_key_cstr(&key, d.name);
	if (o->task)
		dp_key_cstr(&key, o->task);
	if ((rc = dp_scan_open(&sc, q->ix, q->txn, DP_DB_ADAPTATIONS, &key, NULL)))
		goto out;
	while ((rc = dp_scan_next(&sc, &k, &v)) == DP_SCAN_ROW) {
		dp_adapt_row r;
		rc = 0;
		if (dp_read_adapt(&q->dec, &k, &v, &r) || !dp_task_passes(&d, pass, r.task.p, r.task.n))
			continue;
		dp_qv *row = dp_table_add_row(out);
		if (!row) {
			rc = dp_error(DNNPROV_ENOMEM, "out of memory");
			break;
		}
		int64_t e = r.epoch;
		dp_cell_text(&row[0], r.task.p, r.task.n);
		dp_set_int(&row[1], e);
		dp_cell_text(&row[2], r.hyp.p, r.hyp.n);
		dp_copy_field(&row[3], &r.old_value);
		dp_copy_field(&row[4], &r.new_value);
		char tid[DNNPROV_NAME_MAX + 1];
		snprintf(tid, sizeof(tid), "%.*s", (int)r.task.n, r.task.p);
		/* Keep the key: the lookups below use the decoder.  Epochs are
		 * any int64: past either end there is no epoch to look at. */
		int64_t before, after;
		if (!__builtin_sub_overflow(e, 1, &before))
			row[5] = metric_at(q, d.name, tid, metric, before);
		if (!__builtin_add_overflow(e, window - 1, &after))
			row[6] = metric_at(q, d.name, tid, metric, after);
		if (row[5].type == QV_NUM && row[6].type == QV_NUM)
			dp_set_num(&row[7], row[6].num - row[5].num);
	}
	dp_scan_close(&sc);
out:
	free(pass);
	dp_where_free(w);
	dp_qdataflow_free(&d);
	return rc;
}

static const dp_param params[] = {
	DP_PARAM_DATAFLOW,
	DP_PARAM_TASK_OPTION("adaptations"),
	DP_PARAM_WHERE("adaptations"),
	DP_PARAM_METRIC,
	{ .name = "window", .type = DP_PT_INT, .arg = "K", .min = 1, .max = 1000000, .def = "1",
	  .help = "the metric K epochs after the change (the K-th epoch run with the new value)",
	  .fronts = DP_FRONT_ALL, .offset = offsetof(adaptations_opts, window) },
};

const dp_question dp_q_adaptations = {
	.name = "adaptations",
	.summary = "hyperparameter changes and what followed",
	.description =
		"Each adaptation (a learning-rate schedule step, say): task, epoch,\n"
		"hyperparameter, old and new value, the metric at the epoch before it, the\n"
		"metric K epochs later (the K-th epoch run with the new value; default 1), and\n"
		"the change between the two.  --where keeps the tasks it matches, as in\n"
		"`dnnprov help runs`.",
	.example = "dnnprov adaptations -c exp.yaml --metric val_loss --window 3",
	DP_PARAMS(params),
	.opts_size = sizeof(adaptations_opts),
	.answer = answer,
};
