/*
 * q_advise.c - `advise`: whether a running task is worth continuing,
 * from the history of its dataflow.
 *
 * THE RULE (docs/STEERING.md, "Advice", says the same).  The task's
 * current epoch e is the epoch of its last value of the metric, v that
 * value (or --epoch and --value, for a run the index does not hold yet:
 * an Optuna trial).  Its history is every FINISHED task of the dataflow
 * but itself with a finite value of the metric at epoch e: n runs, each
 * with its value at e, x_i, and its final value, f_i (its best over all
 * its epochs).  With b(y) = y when lower is better, -y otherwise:
 *
 *   percentile   P = 100 (#{b(x_i) > b(v)} + #{b(x_i) = b(v)} / 2) / n:
 *                the share of the history it is ahead of at epoch e
 *   in position  R = {i : b(x_i) >= b(v)}: the runs that were where it is,
 *                or behind, at epoch e
 *   current best T = the best f_i over the history
 *   reached      k = #{i in R : b(f_i) <= b(T)}: the runs of R that went
 *                on to the best final value
 *   best of R    F = the best f_i over R
 *
 *   decision     n < history (default 10): too little history, continue;
 *                v not finite: stop;
 *                k >= 1 or P >= keep (default 50): continue;
 *                else stop.
 *
 * The answer is a function of the snapshot alone: the same index gives
 * the same advice.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "query/registry.h"

typedef struct advise_opts {
	dp_qopts o;
	int64_t epoch;    /* with value: compare this instead of the task's */
	double value;
	int64_t history;  /* the fewest comparable runs to judge from */
	double keep;      /* a percentile at least this: continue */
} advise_opts;

enum { AD_TASK, AD_EPOCH, AD_METRIC, AD_VALUE, AD_RUNS, AD_PERCENTILE, AD_IN_POSITION, AD_REACHED, AD_BEST,
       AD_BEST_IN_POSITION, AD_DECISION, AD_REASON, AD_NCOLS };

typedef struct advice {
	int64_t epoch;
	double value;
	size_t n, ahead2, in_position, reached; /* ahead2: twice the runs it is ahead of (ties count half) */
	double best, best_in_position;          /* NaN when none */
	const char *decision;
} advice;

static double badness(double y, bool lower)
{
	return lower ? y : -y;
}

/* The history's numbers: x[i] the runs' values at the epoch, f[i] their
 * finals, for the runs that count. */
static void weigh(advice *a, const double *x, const double *f, size_t n, bool lower)
{
	double bv = badness(a->value, lower), bt = INFINITY, br = INFINITY;
	a->n = n;
	for (size_t i = 0; i < n; i++)
		if (isfinite(f[i]) && badness(f[i], lower) < bt)
			bt = badness(f[i], lower);
	for (size_t i = 0; i < n; i++) {
		double bx = badness(x[i], lower), bf = badness(f[i], lower);
		a->ahead2 += bx > bv ? 2 : bx == bv ? 1 : 0;
		if (bx < bv)
			continue;
		a->in_position++;
		if (isfinite(f[i]) && bf <= bt)
			a->reached++;
		if (isfinite(f[i]) && bf < br)
			br = bf;
	}
	a->best = isfinite(bt) ? badness(bt, lower) : NAN;
	a->best_in_position = isfinite(br) ? badness(br, lower) : NAN;
}

static void decide(advice *a, const advise_opts *ao)
{
	double p = a->n ? 50.0 * (double)a->ahead2 / (double)a->n : NAN;
	if (!isfinite(a->value))
		a->decision = "stop";
	else if (a->n < (size_t)ao->history)
		a->decision = "too little history";
	else if (a->reached > 0 || p >= ao->keep)
		a->decision = "continue";
	else
		a->decision = "stop";
}

static void reason(dp_buf *b, const advice *a, const advise_opts *ao, const char *metric)
{
	double p = a->n ? 50.0 * (double)a->ahead2 / (double)a->n : NAN;
	if (!isfinite(a->value)) {
		dp_buf_printf(b, "stop: its %s is %s at epoch %lld", metric,
			      isnan(a->value) ? "NaN" : a->value > 0 ? "inf" : "-inf", (long long)a->epoch);
		return;
	}
	if (a->n < (size_t)ao->history) {
		dp_buf_printf(b, "too little history: %zu finished run%s reached epoch %lld with a value of %s (at least %lld "
			      "are needed to judge)", a->n, a->n == 1 ? "" : "s", (long long)a->epoch, metric,
			      (long long)ao->history);
		return;
	}
	dp_buf_printf(b, "%s: at epoch %lld its %s %.6g is ahead of %.0f%% of %zu finished runs; ", a->decision,
		      (long long)a->epoch, metric, a->value, p, a->n);
	if (!a->in_position) {
		dp_buf_printf(b, "no finished run was where it is or behind, and the best final value is %.6g", a->best);
		return;
	}
	dp_buf_printf(b, "%zu of the %zu run%s at or behind it then went on to the best final value %.6g", a->reached,
		      a->in_position, a->in_position == 1 ? "" : "s", a->best);
	if (!a->reached)
		dp_buf_printf(b, " (the best of them ended at %.6g)", a->best_in_position);
	if (!a->reached && p >= ao->keep)
		dp_buf_printf(b, ", but it is ahead of at least %g%% of them", ao->keep);
}

/* The epoch and value to compare: --epoch and --value, or the task's last
 * value of the metric. */
static int position(dp_query *q, const advise_opts *ao, const dp_qdataflow *d, const char *metric, advice *a)
{
	const dp_qopts *o = &ao->o;
	if (!o->task) {
		a->epoch = ao->epoch;
		a->value = ao->value;
		return 0;
	}
	if (!dp_qtask_find(d, o->task))
		return dp_query_no_task(q, d->name, o->task);
	if (ao->epoch >= 0) {
		a->epoch = ao->epoch;
		a->value = isnan(ao->value) ? NAN : ao->value;
		if (isnan(ao->value)) {
			dp_agg at = { AGG_AT, ao->epoch };
			dp_qv v = dp_query_metric(q, d->name, o->task, metric, &at, NULL);
			a->value = v.type == QV_NUM ? v.num : NAN;
		}
		return dp_query_check(q);
	}
	dp_summary s;
	if (!dp_query_summary(q, d->name, o->task, metric, &s) || (s.count + s.nan_count) == 0)
		return dp_query_check(q) ? dp_query_check(q)
					  : dp_error_subject(DNNPROV_ENOTFOUND, "task", "task '%s' has no value of %s yet",
							     o->task, metric);
	a->epoch = s.last_epoch;
	a->value = s.last;
	return 0;
}

static int columns(dp_table *out, const char *metric, dp_goal goal)
{
	int rc = dp_table_init(out, AD_NCOLS);
	if (rc)
		return rc;
	dp_agg last = { AGG_LAST, 0 }, best = { goal == GOAL_MIN ? AGG_MIN : AGG_MAX, 0 };
	dp_table_set_col(out, AD_TASK, "task", COL_TEXT);
	dp_table_set_col(out, AD_EPOCH, "epoch", COL_INT);
	dp_table_set_col(out, AD_METRIC, "metric", COL_TEXT);
	dp_table_set_col(out, AD_VALUE, "value", COL_NUM);
	dp_table_col_metric(out, AD_VALUE, metric, &last, goal);
	dp_table_set_col(out, AD_RUNS, "runs", COL_INT);
	dp_table_set_col(out, AD_PERCENTILE, "percentile", COL_NUM);
	dp_table_set_col(out, AD_IN_POSITION, "in_position", COL_INT);
	dp_table_set_col(out, AD_REACHED, "reached_best", COL_INT);
	dp_table_set_col(out, AD_BEST, "best_final", COL_NUM);
	dp_table_col_metric(out, AD_BEST, metric, &best, goal);
	dp_table_set_col(out, AD_BEST_IN_POSITION, "best_final_in_position", COL_NUM);
	dp_table_col_metric(out, AD_BEST_IN_POSITION, metric, &best, goal);
	dp_table_set_col(out, AD_DECISION, "decision", COL_TEXT);
	dp_table_set_col(out, AD_REASON, "reason", COL_TEXT);
	dp_table_about_metric(out, metric, NULL, goal);
	return out->failed ? dp_error(DNNPROV_ENOMEM, "out of memory") : 0;
}

static int answer(dp_query *q, const dp_qopts *o, dp_table *out, dp_qnotes *notes)
{
	const advise_opts *ao = (const advise_opts *)o;
	dp_qdataflow d;
	dp_where *w;
	advice a = { 0 };
	dp_qv *at = NULL, *fin = NULL;
	double *x = NULL, *f = NULL;
	dp_buf why = { 0 };
	int rc;

	(void)notes;
	if (!isnan(ao->value) && ao->epoch < 0)
		return dp_error_subject(DNNPROV_EQUERY, "value", "--value needs --epoch");
	if (!o->task && (ao->epoch < 0 || isnan(ao->value)))
		return dp_error_subject(DNNPROV_EQUERY, "task", "give a TASK, or --epoch and --value");
	if ((rc = dp_answer_prepare(q, o, &d, &w)))
		return rc;
	const char *metric = dp_resolve_metric(q, &d, o->metric, &rc);
	if (rc || (rc = position(q, ao, &d, metric, &a)))
		goto out;
	bool lower = dp_goal_lower(o, metric);
	dp_agg at_e = { AGG_AT, a.epoch }, best = { lower ? AGG_MIN : AGG_MAX, 0 };
	at = calloc(d.ntasks + 1, sizeof(*at));
	fin = calloc(d.ntasks + 1, sizeof(*fin));
	x = calloc(d.ntasks + 1, sizeof(*x));
	f = calloc(d.ntasks + 1, sizeof(*f));
	if (!at || !fin || !x || !f) {
		rc = dp_error(DNNPROV_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = dp_query_metric_column(q, &d, metric, &at_e, at, NULL)) ||
	    (rc = dp_query_metric_column(q, &d, metric, &best, fin, NULL)))
		goto out;
	size_t n = 0;
	for (size_t i = 0; i < d.ntasks; i++) {
		const dp_qtask *t = &d.tasks[i];
		if (strcmp(t->status, "FINISHED") != 0 || (o->task && strcmp(t->id, o->task) == 0) ||
		    at[i].type != QV_NUM || !isfinite(at[i].num) || (w && !dp_where_match(w, q, &d, t)))
			continue;
		x[n] = at[i].num;
		f[n++] = fin[i].type == QV_NUM ? fin[i].num : NAN;
	}
	if ((rc = dp_query_check(q)))
		goto out;
	weigh(&a, x, f, n, lower);
	decide(&a, ao);
	reason(&why, &a, ao, metric);
	if ((rc = columns(out, metric, dp_goal_of(lower))))
		goto out;
	dp_qv *row = dp_table_add_row(out);
	if (!row || why.failed) {
		rc = dp_error(DNNPROV_ENOMEM, "out of memory");
		goto out;
	}
	if (o->task)
		dp_set_text(&row[AD_TASK], o->task);
	dp_set_int(&row[AD_EPOCH], a.epoch);
	dp_set_text(&row[AD_METRIC], metric);
	dp_set_num(&row[AD_VALUE], a.value);
	dp_set_count(&row[AD_RUNS], a.n);
	if (a.n)
		dp_set_num(&row[AD_PERCENTILE], 50.0 * (double)a.ahead2 / (double)a.n);
	dp_set_count(&row[AD_IN_POSITION], a.in_position);
	dp_set_count(&row[AD_REACHED], a.reached);
	if (!isnan(a.best))
		dp_set_num(&row[AD_BEST], a.best);
	if (!isnan(a.best_in_position))
		dp_set_num(&row[AD_BEST_IN_POSITION], a.best_in_position);
	dp_set_text(&row[AD_DECISION], a.decision);
	dp_set_text(&row[AD_REASON], dp_buf_cstr(&why));
out:
	dp_buf_free(&why);
	free(at);
	free(fin);
	free(x);
	free(f);
	dp_where_free(w);
	dp_qdataflow_free(&d);
	return rc;
}

static const dp_param params[] = {
	DP_PARAM_DATAFLOW,
	{ .name = "task", .type = DP_PT_TASK, .arg = "TASK", .positional = "TASK",
	  .help = "the running task to judge", .fronts = DP_FRONT_NAMED, .offset = offsetof(dp_qopts, task) },
	DP_PARAM_METRIC,
	DP_PARAM_GOAL,
	DP_PARAM_WHERE("finished runs"),
	{ .name = "epoch", .type = DP_PT_INT, .arg = "E", .min = 0, .max = 9e15,
	  .def_help = "the task's last epoch with a value", .help = "judges the value at epoch E",
	  .fronts = DP_FRONT_ALL, .offset = offsetof(advise_opts, epoch) },
	{ .name = "value", .type = DP_PT_REAL, .arg = "V", .min = -1.7e308, .max = 1.7e308,
	  .def_help = "the task's value at the epoch",
	  .help = "judges this value (with --epoch, for a run the index does not hold yet)",
	  .fronts = DP_FRONT_ALL, .offset = offsetof(advise_opts, value) },
	{ .name = "history", .type = DP_PT_INT, .arg = "N", .min = 1, .max = 1e9, .def = "10",
	  .help = "the fewest finished runs that reached the epoch to judge from", .fronts = DP_FRONT_ALL,
	  .offset = offsetof(advise_opts, history) },
	{ .name = "keep", .type = DP_PT_REAL, .arg = "P", .min = 0, .max = 100.000001, .def = "50",
	  .help = "continue a run ahead of at least P% of the history at its epoch", .fronts = DP_FRONT_ALL,
	  .offset = offsetof(advise_opts, keep) },
};

static void init(dp_qopts *o)
{
	((advise_opts *)o)->epoch = -1;
	((advise_opts *)o)->value = NAN;
}

const dp_question dp_q_advise = {
	.name = "advise",
	.summary = "continue or stop a running task, from the history of its dataflow",
	.description =
		"Compares a task at its current epoch (its last value of the metric) with every\n"
		"finished run of the dataflow at the same epoch: its percentile; how many of\n"
		"the runs that were where it is, or behind, went on to the best final value of\n"
		"the history; the best final value any of them reached.  It answers continue\n"
		"or stop in one sentence with that evidence: continue when one of those runs\n"
		"went on to the best, or when it is ahead of at least --keep percent of the\n"
		"history (default 50); stop otherwise, or at once when its value is NaN or\n"
		"infinite.  Below --history comparable runs (default 10) it says \"too little\n"
		"history\".  --epoch E --value V judge a value the index does not hold (an\n"
		"Optuna trial's, say; TASK may then be left out).  --where narrows the history.\n"
		"docs/STEERING.md has the rule.",
	.example = "dnnprov advise -c exp.yaml adam-lr0.01-20261126T093722Z-gpu3-41522",
	DP_PARAMS(params),
	.opts_size = sizeof(advise_opts),
	.answer = answer,
	.init = init,
};
