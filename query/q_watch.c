/*
 * q_watch.c - `watch`: the running tasks of a dataflow, and those lost in
 * the last hour; the command line refreshes it (DP_Q_REFRESHED).
 */
#include <math.h>
#include <stdlib.h>

#include "query/registry.h"

typedef struct watch_opts {
	dp_qopts o;
	double interval; /* the command line's refresh, in seconds */
	int64_t count;   /* refreshes; 0: until interrupted */
} watch_opts;

#define WATCH_LOST_FOR 3600.0 /* seconds a LOST task stays in watch */

static int answer(dp_query *q, const dp_qopts *o, dp_table *out, dp_qnotes *notes)
{
	dp_qdataflow d;
	dp_where *w;
	size_t shown = 0;
	int rc;

	(void)notes;
	if ((rc = dp_answer_prepare(q, o, &d, &w)))
		return rc;
	shown = d.nmetrics < 4 ? d.nmetrics : 4; /* the first metrics fit a terminal */
	if ((rc = dp_qdf_health(q, &d)) || (rc = dp_table_init(out, 6 + shown)))
		goto out;
	dp_table_set_col(out, 0, "task", COL_TEXT);
	dp_table_set_col(out, 1, "status", COL_TEXT);
	dp_table_col_status(out, 1);
	dp_table_set_col(out, 2, "health", COL_TEXT);
	dp_table_col_health(out, 2);
	dp_table_set_col(out, 3, "epoch", COL_INT);
	dp_agg last = { AGG_LAST, 0 };
	for (size_t i = 0; i < shown; i++) {
		dp_table_set_col(out, 4 + i, d.metrics[i], COL_NUM);
		dp_table_col_metric(out, 4 + i, d.metrics[i], &last, dp_goal_of(dp_metric_lower_is_better(d.metrics[i])));
	}
	dp_table_set_col(out, 4 + shown, "epochs/min", COL_NUM);
	/* A time, its age in a table: as runs has it. */
	dp_table_set_col(out, 5 + shown, "last_activity", COL_AGO);
	out->now = o->now;
	for (size_t i = 0; i < d.ntasks && !rc; i++) {
		const dp_qtask *t = &d.tasks[i];
		/* The running tasks, and those lost in the last hour: a run that
		 * died while watched shows as LOST rather than vanishing. */
		bool lost = strcmp(t->status, "LOST") == 0 && o->now - t->last < WATCH_LOST_FOR;
		if ((strcmp(t->status, "RUNNING") != 0 && !lost) || !dp_where_match(w, q, &d, t))
			continue;
		dp_qv *row = dp_table_add_row(out);
		if (!row) {
			rc = dp_error(DNNPROV_ENOMEM, "out of memory");
			break;
		}
		dp_set_text(&row[0], t->id);
		dp_set_text(&row[1], t->status);
		dp_set_text(&row[2], dp_qtask_health(t));
		if (t->has_last_epoch)
			dp_set_int(&row[3], t->last_epoch);
		for (size_t m = 0; m < shown; m++)
			row[4 + m] = dp_query_metric(q, d.name, t->id, d.metrics[m], &last, NULL);
		if (t->epochs > 1 && t->last > t->start)
			dp_set_num(&row[4 + shown], (double)t->epochs / ((t->last - t->start) / 60.0));
		dp_set_time(&row[5 + shown], t->last);
	}
out:
	dp_where_free(w);
	dp_qdataflow_free(&d);
	return rc;
}

static const dp_param params[] = {
	DP_PARAM_DATAFLOW,
	DP_PARAM_WHERE("rows"),
	{ .name = "interval", .type = DP_PT_DURATION, .arg = "S", .min = 0.1, .max = 86400, .unit = "s", .def = "2",
	  .help = "the time between refreshes (a bare number is seconds; 500ms, 1m)", .fronts = DP_FRONT_CLI,
	  .offset = offsetof(watch_opts, interval) },
	{ .name = "count", .type = DP_PT_INT, .arg = "N", .min = 1, .max = 1e15, .def_help = "until interrupted",
	  .help = "refreshes N times, then ends", .fronts = DP_FRONT_CLI, .offset = offsetof(watch_opts, count) },
};

const dp_question dp_q_watch = {
	.name = "watch",
	.summary = "live view of running tasks",
	.description =
		"The running tasks of a dataflow: health, epoch, latest metrics, epochs per minute and\n"
		"how long ago each was last heard of, refreshed every S seconds (default 2)\n"
		"until interrupted, or N times.  On a terminal the screen is redrawn; otherwise\n"
		"each refresh is printed after a line with its time.  --where keeps the tasks\n"
		"it matches, as in `dnnprov help runs`.  Elsewhere than on the command line,\n"
		"one refresh.",
	DP_PARAMS(params),
	.opts_size = sizeof(watch_opts),
	.answer = answer,
	.flags = DP_Q_REFRESHED,
};
