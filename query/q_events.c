/*
 * q_events.c - `events`: what the indexer's health rules found in a
 * dataflow's runs (a NaN, a divergence, a plateau: stored, once each), and
 * the runs stalled now (a live state, told at the snapshot's time).
 * docs/STEERING.md has the rules.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "query/registry.h"

typedef struct events_opts {
	dp_qopts o;
	const char *rule;  /* one rule's events only */
	bool follow;       /* the command line prints new events as they come */
	double interval;
} events_opts;

enum { EV_ID, EV_TASK, EV_RULE, EV_EPOCH, EV_TIME, EV_METRIC, EV_VALUE, EV_DETAIL, EV_EVIDENCE, EV_NCOLS };

static const char *const rule_choices[] = { "nan", "divergence", "plateau", "stall", NULL };

static int columns(dp_table *out)
{
	int rc = dp_table_init(out, EV_NCOLS);
	if (rc)
		return rc;
	dp_table_set_col(out, EV_ID, "id", COL_TEXT);
	dp_table_omit(out, EV_ID); /* long: the task, rule and epoch say it */
	dp_table_set_col(out, EV_TASK, "task", COL_TEXT);
	dp_table_set_col(out, EV_RULE, "rule", COL_TEXT);
	dp_table_set_col(out, EV_EPOCH, "epoch", COL_INT);
	dp_table_set_col(out, EV_TIME, "time", COL_TIME);
	dp_table_set_col(out, EV_METRIC, "metric", COL_TEXT);
	dp_table_set_col(out, EV_VALUE, "value", COL_NUM);
	dp_table_set_col(out, EV_DETAIL, "detail", COL_TEXT);
	dp_table_set_col(out, EV_EVIDENCE, "evidence", COL_TEXT);
	dp_table_omit(out, EV_EVIDENCE); /* JSON, for programs */
	return out->failed ? dp_error(DNNPROV_ENOMEM, "out of memory") : 0;
}

/* A row of a stored event. */
static int event_row(dp_table *out, const dp_qdataflow *d, const char *task, size_t tn, const dp_event_fields *e)
{
	dp_buf b = { 0 };
	dp_qv *row = dp_table_add_row(out);
	if (!row)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	dp_event_id(&b, d->name, strlen(d->name), task, tn, e->rule, e->epoch);
	dp_cell_text(&row[EV_ID], b.data ? b.data : "", b.len);
	dp_cell_text(&row[EV_TASK], task, tn);
	dp_set_text(&row[EV_RULE], dp_rule_names[e->rule]);
	dp_set_int(&row[EV_EPOCH], e->epoch);
	dp_set_time(&row[EV_TIME], e->time);
	if (e->metric.p)
		dp_cell_text(&row[EV_METRIC], e->metric.p, e->metric.n);
	dp_set_num(&row[EV_VALUE], e->value);
	b.len = 0;
	dp_event_sentence(&b, e);
	dp_cell_text(&row[EV_DETAIL], b.data ? b.data : "", b.len);
	b.len = 0;
	dp_event_evidence_json(&b, e);
	dp_cell_text(&row[EV_EVIDENCE], b.data ? b.data : "", b.len);
	int rc = b.failed ? dp_error(DNNPROV_ENOMEM, "out of memory") : 0;
	dp_buf_free(&b);
	return rc;
}

/* A row of a task stalled now: how long it has been silent. */
static int stall_row(dp_table *out, dp_query *q, const dp_qdataflow *d, const dp_qtask *t)
{
	const dp_rules *r = dp_query_rules(q);
	double silent = q->now - t->last;
	int64_t epoch = t->has_last_epoch ? t->last_epoch : 0;
	dp_buf b = { 0 };
	dp_qv *row = dp_table_add_row(out);
	if (!row)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	dp_event_id(&b, d->name, strlen(d->name), t->id, strlen(t->id), DP_RULE_STALL, epoch);
	dp_cell_text(&row[EV_ID], b.data ? b.data : "", b.len);
	dp_set_text(&row[EV_TASK], t->id);
	dp_set_text(&row[EV_RULE], "stall");
	if (t->has_last_epoch)
		dp_set_int(&row[EV_EPOCH], t->last_epoch);
	dp_set_time(&row[EV_TIME], t->last);
	dp_set_num(&row[EV_VALUE], silent);
	b.len = 0;
	dp_buf_printf(&b, "no record for %.0f s, %.1f times its median epoch time of %.3g s (stall: factor %g, at least %g s)",
		      silent, silent / t->median_epoch, t->median_epoch, r->stall_factor, r->stall_min_s);
	dp_cell_text(&row[EV_DETAIL], b.data ? b.data : "", b.len);
	int rc = b.failed ? dp_error(DNNPROV_ENOMEM, "out of memory") : 0;
	dp_buf_free(&b);
	return rc;
}

static int answer(dp_query *q, const dp_qopts *o, dp_table *out, dp_qnotes *notes)
{
	const events_opts *eo = (const events_opts *)o;
	dp_qdataflow d;
	dp_where *w;
	bool *pass = NULL;
	dp_scan sc;
	dp_key key;
	MDB_val k, v;
	int rc;

	(void)notes;
	if ((rc = dp_answer_prepare(q, o, &d, &w)))
		return rc;
	if (o->task && !dp_qtask_find(&d, o->task)) {
		rc = dp_query_no_task(q, d.name, o->task);
		goto out;
	}
	if ((rc = dp_where_flags(q, &d, w, &pass)) || (rc = columns(out)))
		goto out;
	dp_rule only = eo->rule ? dp_rule_find(eo->rule, strlen(eo->rule)) : DP_RULE_COUNT;
	dp_key_reset(&key);
	dp_key_cstr(&key, d.name);
	size_t dfp = key.n;
	if (o->task)
		dp_key_cstr(&key, o->task);
	if (only != DP_RULE_STALL) {
		if ((rc = dp_scan_open(&sc, q->ix, q->txn, DP_DB_EVENTS, &key, NULL)))
			goto out;
		while ((rc = dp_scan_next(&sc, &k, &v)) == DP_SCAN_ROW) {
			size_t pos = dfp;
			const char *task;
			size_t tn;
			dp_event_fields e;
			if (!dp_key_get_str(k.mv_data, k.mv_size, &pos, &task, &tn) || !dp_task_passes(&d, pass, task, tn) ||
			    dp_event_fields_parse(v.mv_data, v.mv_size, &e) != 0 || (only != DP_RULE_COUNT && e.rule != only))
				continue;
			if ((rc = event_row(out, &d, task, tn, &e)))
				break;
		}
		dp_scan_close(&sc);
		if (rc < 0)
			goto out;
	}
	rc = 0;
	if (only == DP_RULE_COUNT || only == DP_RULE_STALL) {
		if ((rc = dp_qdf_health(q, &d)))
			goto out;
		for (size_t i = 0; i < d.ntasks && !rc; i++) {
			const dp_qtask *t = &d.tasks[i];
			if (t->health == DP_HEALTH_STALLED && (!o->task || strcmp(o->task, t->id) == 0) &&
			    (!pass || pass[i]))
				rc = stall_row(out, q, &d, t);
		}
	}
	if (!rc)
		rc = dp_sort_and_limit(out, o, EV_TIME, false);
out:
	free(pass);
	dp_where_free(w);
	dp_qdataflow_free(&d);
	return rc;
}

static const dp_param params[] = {
	DP_PARAM_DATAFLOW,
	DP_PARAM_TASK_OPTION("events"),
	DP_PARAM_WHERE("events"),
	{ .name = "rule", .type = DP_PT_CHOICE, .arg = "R", .choices = rule_choices,
	  .help = "only the events of one rule", .fronts = DP_FRONT_ALL, .offset = offsetof(events_opts, rule) },
	DP_PARAM_SORT,
	DP_PARAM_LIMIT,
	DP_PARAM_OFFSET,
	{ .name = "follow", .type = DP_PT_FLAG,
	  .help = "keeps printing the events as they are found, one line each, until interrupted",
	  .fronts = DP_FRONT_CLI, .offset = offsetof(events_opts, follow) },
	{ .name = "interval", .type = DP_PT_DURATION, .arg = "S", .min = 0.05, .max = 3600, .unit = "s", .def = "250ms",
	  .help = "with --follow, how often the index is looked at", .fronts = DP_FRONT_CLI,
	  .offset = offsetof(events_opts, interval) },
};

const dp_question dp_q_events = {
	.name = "events",
	.summary = "what the health rules found: NaN, divergence, plateau, stall",
	.description =
		"The events the indexer's health rules found in the runs of a dataflow, by\n"
		"time: a NaN or infinite metric, a main metric that diverged or stayed on a\n"
		"plateau (each stored once, at the epoch it began, with its evidence), and the\n"
		"RUNNING tasks stalled now (silent for a multiple of their median epoch time;\n"
		"a live state, not stored).  The rules and their parameters are in\n"
		"docs/STEERING.md.  --follow keeps printing new events, one line each (JSON\n"
		"Lines with --format json), until interrupted; each has an id\n"
		"(DF/TASK/RULE/EPOCH), the same everywhere and after a reindex.",
	.example = "dnnprov events -c exp.yaml --follow",
	DP_PARAMS(params),
	.opts_size = sizeof(events_opts),
	.answer = answer,
	.flags = DP_Q_FOLLOWED,
};
