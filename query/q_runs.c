/*
 * q_runs.c - `runs`: a row per task of a dataflow, with its status,
 * times, hyperparameters and main metric.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "query/registry.h"
#include "query/repeats.h"

typedef struct runs_opts {
	dp_qopts o;
	bool facts; /* a column per run fact */
} runs_opts;

static bool want_facts(const dp_qopts *o)
{
	return ((const runs_opts *)o)->facts;
}

static int fact_names(const dp_qtask **sel, size_t n, const char ***out, size_t *nout)
{
	for (size_t i = 0; i < n; i++)
		for (size_t f = 0; f < sel[i]->nfacts; f++) {
			const char *name = sel[i]->facts[f].name;
			size_t k = 0;
			while (k < *nout && dp_strcasecmp((*out)[k], name) != 0)
				k++;
			if (k < *nout)
				continue;
			const char **grown = realloc(*out, (*nout + 1) * sizeof(*grown));
			if (!grown)
				return dp_error(DNNPROV_ENOMEM, "out of memory");
			*out = grown;
			(*out)[(*nout)++] = name;
		}
	return 0;
}

/* A task's tags as one cell: "key=value, key=value", by key. */
static int tags_cell(dp_qv *cell, const dp_qtask *t)
{
	dp_buf b = { 0 };
	int rc;
	if (!t->ntags)
		return 0;
	for (size_t i = 0; i < t->ntags; i++) {
		const dp_qv *v = &t->tags[i].value;
		dp_buf_printf(&b, "%s%s=", i ? ", " : "", t->tags[i].name);
		if (v->type == QV_TEXT)
			dp_buf_append(&b, v->text, strlen(v->text));
		else if (v->integer)
			dp_buf_printf(&b, "%lld", (long long)v->num);
		else
			dp_json_double(&b, v->num);
	}
	rc = b.failed ? dp_error(DNNPROV_ENOMEM, "out of memory") : dp_set_text(cell, dp_buf_cstr(&b));
	dp_buf_free(&b);
	return rc;
}

/* A task's problems as one cell: the names its writers refused, each with
 * where it was first refused: "refused: acurracy (epoch 3), lr (begin)". */
static int problems_cell(dp_qv *cell, const dp_qtask *t)
{
	dp_buf b = { 0 };
	int rc;
	if (!t->nrefused)
		return 0;
	dp_buf_printf(&b, "refused: ");
	for (size_t i = 0; i < t->nrefused; i++) {
		const dp_qv *v = &t->refused[i].value;
		dp_buf_printf(&b, "%s%s", i ? ", " : "", t->refused[i].name);
		if (v->type == QV_TEXT)
			dp_buf_printf(&b, " (%s)", v->text);
	}
	rc = b.failed ? dp_error(DNNPROV_ENOMEM, "out of memory") : dp_set_text(cell, dp_buf_cstr(&b));
	dp_buf_free(&b);
	return rc;
}

/* Where the columns of runs are: task, its fields (RUNS_C0 of them), the
 * hyperparameters, the last and best main metric, the end message, the
 * tags, the problems, the run it repeats, then a column per run fact
 * (--facts). */
#define RUNS_C0 9
#define RUNS_START 3
typedef struct runs_cols {
	size_t msg, tags, problems, repeats, f0;
	const char **facts;
	size_t nfacts;
	dp_repeats rep;
} runs_cols;

static int runs_columns(dp_table *out, const dp_qopts *o, const dp_qdataflow *d, const char *metric, runs_cols *rc_)
{
	char name[DNNPROV_NAME_MAX + 16];
	int rc;

	rc_->msg = RUNS_C0 + d->nhyps + (metric ? 2 : 0);
	rc_->tags = rc_->msg + 1;
	rc_->problems = rc_->msg + 2;
	rc_->repeats = rc_->msg + 3;
	rc_->f0 = rc_->msg + 4;
	if ((rc = dp_table_init(out, rc_->f0 + rc_->nfacts)))
		return rc;
	dp_table_set_col(out, 0, "task", COL_TEXT);
	dp_table_set_col(out, 1, "status", COL_TEXT);
	dp_table_col_status(out, 1);
	dp_table_set_col(out, 2, "health", COL_TEXT);
	dp_table_col_health(out, 2);
	dp_table_set_col(out, RUNS_START, "start", COL_TIME);
	dp_table_omit(out, RUNS_START); /* in tables, duration and last_activity tell the time enough */
	dp_table_set_col(out, 4, "duration", COL_SECS);
	dp_table_set_col(out, 5, "active", COL_SECS);
	dp_table_set_col(out, 6, "attempts", COL_INT);
	dp_table_set_col(out, 7, "epochs", COL_INT);
	dp_table_set_col(out, 8, "last_activity", COL_AGO);
	dp_hyp_columns(out, RUNS_C0, d);
	if (metric) {
		dp_goal goal = dp_goal_of(dp_goal_lower(o, metric));
		dp_agg last = { AGG_LAST, 0 }, best = { goal == GOAL_MIN ? AGG_MIN : AGG_MAX, 0 };
		snprintf(name, sizeof(name), "last(%s)", metric);
		dp_table_set_col(out, RUNS_C0 + d->nhyps, name, COL_NUM);
		dp_table_col_metric(out, RUNS_C0 + d->nhyps, metric, &last, goal);
		snprintf(name, sizeof(name), "best(%s)", metric);
		dp_table_set_col(out, RUNS_C0 + d->nhyps + 1, name, COL_NUM);
		dp_table_col_metric(out, RUNS_C0 + d->nhyps + 1, metric, &best, goal);
		dp_table_about_metric(out, metric, NULL, goal);
	}
	dp_table_set_col(out, rc_->msg, "message", COL_TEXT);
	dp_table_set_col(out, rc_->tags, "tags", COL_TEXT);
	dp_table_set_col(out, rc_->problems, "problems", COL_TEXT);
	dp_table_set_col(out, rc_->repeats, "repeats", COL_TEXT);
	for (size_t i = 0; i < rc_->nfacts; i++)
		dp_table_set_col(out, rc_->f0 + i, rc_->facts[i], COL_TEXT);
	/* A name that could not be copied: the page path sorts by name next. */
	return out->failed ? dp_error(DNNPROV_ENOMEM, "out of memory") : 0;
}

/* A row of runs for task t, with its last and best main metric (when the
 * table has those columns). */
static int runs_row(dp_table *out, const dp_qdataflow *d, const dp_qtask *t, const dp_qv *last, const dp_qv *best,
		    const runs_cols *c)
{
	dp_qv *row = dp_table_add_row(out);
	int rc;
	if (!row)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	dp_set_text(&row[0], t->id);
	dp_set_text(&row[1], t->status);
	dp_set_text(&row[2], dp_qtask_health(t));
	dp_set_time(&row[RUNS_START], t->start);
	double until = isnan(t->end) ? t->last : t->end;
	if (!isnan(until) && !isnan(t->start))
		dp_set_num(&row[4], until - t->start);
	dp_set_num(&row[5], t->active);
	dp_set_count(&row[6], t->attempts);
	dp_set_count(&row[7], t->epochs);
	dp_set_time(&row[8], t->last);
	rc = dp_hyp_cells(row, RUNS_C0, d, t);
	if (!rc)
		rc = dp_set_text(&row[c->msg], t->message);
	if (!rc)
		rc = tags_cell(&row[c->tags], t);
	if (!rc)
		rc = problems_cell(&row[c->problems], t);
	if (!rc)
		rc = dp_set_text(&row[c->repeats], dp_repeats_of(&c->rep, t->id));
	for (size_t f = 0; f < c->nfacts && !rc; f++)
		rc = dp_copy_value(&row[c->f0 + f], dp_qtask_fact(t, c->facts[f]));
	if (last && best) {
		row[RUNS_C0 + d->nhyps] = *last;
		row[RUNS_C0 + d->nhyps + 1] = *best;
	}
	return rc;
}

/* A table shows when runs were resumed, why runs ended and their tags
 * only when some of its rows did or have: otherwise the columns say
 * nothing (CSV and JSON keep them). */
static void runs_omit(dp_table *out, const runs_cols *c)
{
	bool resumed = false, messages = false, tagged = false, problems = false, repeated = false;
	for (size_t r = 0; r < out->nrows; r++) {
		const dp_qv *row = &out->cells[r * out->ncols];
		resumed |= row[6].type == QV_NUM && row[6].integer && row[6].i > 1;
		messages |= row[c->msg].type != QV_NULL;
		tagged |= row[c->tags].type != QV_NULL;
		problems |= row[c->problems].type != QV_NULL;
		repeated |= row[c->repeats].type != QV_NULL;
	}
	if (!problems)
		dp_table_omit(out, c->problems);
	if (!repeated)
		dp_table_omit(out, c->repeats);
	if (!tagged)
		dp_table_omit(out, c->tags);
	if (!resumed) {
		dp_table_omit(out, 5);
		dp_table_omit(out, 6);
	}
	if (!messages)
		dp_table_omit(out, c->msg);
}

/* runs with --limit or --offset, no --where, sorted by the task, the start
 * (the default) or the main metric: the page is chosen from the keys kept
 * in that order (dp_page_select), and only its tasks are loaded, so that
 * a first page costs the keys of the page and a lookup per row, whatever
 * the number of runs.  *done is false when the question needs the whole load
 * (runs_all). */
static int runs_page(dp_query *q, const dp_qopts *o, dp_table *out, dp_qnotes *notes, bool *done)
{
	dp_qdataflow d, page = { 0 };
	dp_page_heap h = { 0 };
	const char *metric = NULL, **ids = NULL;
	const dp_qtask **sel = NULL;
	runs_cols cols = { 0 };
	size_t col, total, nsel = 0;
	bool desc, declared;
	int rc;

	*done = false;
	/* --facts: the fact columns are those of every task. */
	if ((o->where && *o->where) || want_facts(o) || (!o->limit && !o->offset))
		return 0;
	if ((rc = dp_query_load_spec(q, o->df, &d)))
		return rc;
	if ((rc = dp_query_hyps_declared(q, &d, &declared)) || !declared)
		goto out;
	metric = d.nmetrics || o->metric ? dp_resolve_metric(q, &d, o->metric, &rc) : NULL;
	if (rc || (rc = runs_columns(out, o, &d, metric, &cols)))
		goto out;
	if ((rc = dp_sort_column(out, o, RUNS_START, false, &col, &desc)))
		goto out;
	bool last_col = metric && col == RUNS_C0 + d.nhyps, best_col = metric && col == RUNS_C0 + d.nhyps + 1;
	dp_page_key pk = col == 0 ? PAGE_TASK : col == RUNS_START ? PAGE_START : last_col || best_col ? PAGE_METRIC : PAGE_SLOW;
	if (pk == PAGE_SLOW) {
		dp_table_free(out);
		goto out;
	}
	*done = true;
	dp_agg agg = { last_col ? AGG_LAST : dp_goal_lower(o, metric) ? AGG_MIN : AGG_MAX, 0 };
	size_t offset = (size_t)o->offset; /* the registry keeps both within 0..2^40 */
	h.k = o->limit ? offset + (size_t)o->limit : SIZE_MAX;
	h.desc = desc;
	if ((rc = dp_page_select(q, &d, metric, pk, &agg, &h, &total)))
		goto out;
	dp_page_sort(&h);
	size_t from = offset < h.n ? offset : h.n, n = h.n - from;
	ids = calloc(n + 1, sizeof(*ids));
	sel = calloc(n + 1, sizeof(*sel));
	if (!ids || !sel) {
		rc = dp_error(DNNPROV_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		ids[i] = h.v[from + i].id;
	if ((rc = dp_query_load_ids(q, o->df, ids, n, &page)) || (rc = dp_qdf_health(q, &page)) ||
	    (rc = dp_repeats_load_page(q, d.name, ids, n, &cols.rep)))
		goto out;
	dp_agg last = { AGG_LAST, 0 }, best = { dp_goal_lower(o, metric) ? AGG_MIN : AGG_MAX, 0 };
	for (size_t i = 0; i < n && !rc; i++) {
		const dp_qtask *t = dp_qtask_find(&page, ids[i]);
		if (!t)
			continue; /* cannot be: the same snapshot listed it */
		sel[nsel++] = t;
		dp_qv lv = { 0 }, bv = { 0 };
		if (metric) {
			lv = dp_query_metric(q, d.name, t->id, metric, &last, NULL);
			bv = dp_query_metric(q, d.name, t->id, metric, &best, NULL);
		}
		rc = runs_row(out, &page, t, metric ? &lv : NULL, metric ? &bv : NULL, &cols);
	}
	if (rc)
		goto out;
	runs_omit(out, &cols);
	out->paged = true;
	out->total = total;
	dp_omit_constant_columns(out, RUNS_C0, d.nhyps, notes);
out:
	if (rc || !*done) {
		dp_table_free(out);
		memset(out, 0, sizeof(*out));
	}
	dp_repeats_free(&cols.rep);
	free(h.v);
	free(ids);
	free(sel);
	dp_qdataflow_free(&page);
	dp_qdataflow_free(&d);
	return rc;
}

/* runs from the whole dataflow: every task loaded, filtered, sorted. */
static int runs_all(dp_query *q, const dp_qopts *o, dp_table *out, dp_qnotes *notes)
{
	dp_qdataflow d;
	dp_where *w;
	const dp_qtask **sel = NULL;
	runs_cols cols = { 0 };
	size_t n;
	const char *metric;
	int rc;

	if ((rc = dp_answer_prepare(q, o, &d, &w)))
		return rc;
	metric = d.nmetrics || o->metric ? dp_resolve_metric(q, &d, o->metric, &rc) : NULL;
	if (rc || (rc = dp_select_tasks(q, &d, w, &sel, &n)) || (rc = dp_qdf_health(q, &d)))
		goto out;
	/* The fact names of the selected tasks, first seen first. */
	if (want_facts(o) && (rc = fact_names(sel, n, &cols.facts, &cols.nfacts)))
		goto out;
	if ((rc = runs_columns(out, o, &d, metric, &cols)) || (rc = dp_repeats_load(q, d.name, &cols.rep)))
		goto out;
	dp_agg last = { AGG_LAST, 0 }, best = { dp_goal_lower(o, metric ? metric : "") ? AGG_MIN : AGG_MAX, 0 };
	dp_qv *lasts = NULL, *bests = NULL;
	if (metric) {
		lasts = calloc(d.ntasks + 1, sizeof(dp_qv));
		bests = calloc(d.ntasks + 1, sizeof(dp_qv));
		if (!lasts || !bests)
			rc = dp_error(DNNPROV_ENOMEM, "out of memory");
		else if (!(rc = dp_query_metric_column(q, &d, metric, &last, lasts, NULL)))
			rc = dp_query_metric_column(q, &d, metric, &best, bests, NULL);
	}
	for (size_t i = 0; i < n && !rc; i++) {
		size_t at = (size_t)(sel[i] - d.tasks);
		rc = runs_row(out, &d, sel[i], metric ? &lasts[at] : NULL, metric ? &bests[at] : NULL, &cols);
	}
	free(lasts);
	free(bests);
	if (!rc)
		rc = dp_sort_and_limit(out, o, RUNS_START, false); /* by start time */
	if (!rc)
		runs_omit(out, &cols);
	if (!rc)
		dp_omit_constant_columns(out, RUNS_C0, d.nhyps, notes);
out:
	dp_repeats_free(&cols.rep);
	free(cols.facts);
	free(sel);
	dp_where_free(w);
	dp_qdataflow_free(&d);
	return rc;
}

static int answer(dp_query *q, const dp_qopts *o, dp_table *out, dp_qnotes *notes)
{
	bool done;
	int rc = runs_page(q, o, out, notes, &done);
	return rc || done ? rc : runs_all(q, o, out, notes);
}

static const dp_param params[] = {
	DP_PARAM_DATAFLOW,
	DP_PARAM_WHERE("rows"),
	DP_PARAM_SORT,
	DP_PARAM_LIMIT,
	DP_PARAM_OFFSET,
	DP_PARAM_METRIC,
	DP_PARAM_GOAL,
	{ .name = "facts", .type = DP_PT_FLAG, .help = "adds a column per run fact (command, cwd, git_commit, python, ...)",
	  .fronts = DP_FRONT_ALL, .offset = offsetof(runs_opts, facts) },
};

const dp_question dp_q_runs = {
	.name = "runs",
	.summary = "a row per task: status, hyperparameters, main metric",
	.description =
		"A row per task: id, status, health, start, duration, epochs done, last activity, the\n"
		"hyperparameters, and the last and best value of the main metric (--metric, or\n"
		"the first declared metric's val_ twin if a task reported it, else the first\n"
		"metric a task reported).  Best means lowest for names with loss, error, mse,\n"
		"mae, perplexity..., else highest (--goal overrides).  Sorted by start time\n"
		"unless --sort names a column (a leading - sorts descending).  DF defaults to\n"
		"the config's dataflow, or the only one in the index.  A tags column shows the\n"
		"runs' tags (dnnprov tag); --facts adds a column per run fact (command, cwd,\n"
		"git_commit, python, ...).  A repeats column names, for runs of equal inputs,\n"
		"code and hyperparameters, the first of them (docs/LINEAGE.md).  --offset N skips the first N rows after sorting:\n"
		"with --limit, a page of the runs (JSON then says how many there are in all,\n"
		"\"total\").  Sorted by the task or by the last or best metric, a page is\n"
		"chosen without loading every task, as fast with 100,000 tasks as with 1,000.\n"
		"Health is what the indexer's rules say of the run now (docs/STEERING.md): ok,\n"
		"plateau, stalled (RUNNING, and silent for a multiple of its epoch time),\n"
		"diverged or nan; `dnnprov events` lists what they found.\n"
		"\n"
		"--where filters tasks: comparisons (= != < <= > >=), in (...), like 'pattern'\n"
		"(% any text, _ one character), and, or, not, + - * / on numbers, parentheses;\n"
		"names are hyperparameters, status, health, epochs, task, host, start, end, tags.KEY,\n"
		"facts.NAME, and metric aggregates such as max(val_accuracy) or last(loss), e.g.\n"
		"  --where \"LEARNING_RATE <= 0.01 and OPTIMIZER_NAME in ('Adam', 'SGD')\"\n"
		"  --where \"task like 'adam-%' and last(val_loss) < min(val_loss) * 1.1\"\n"
		"docs/QUERY.md has the whole language.",
	.example = "dnnprov runs -c exp.yaml --where \"status = 'FINISHED'\" --sort -best(val_accuracy) --limit 10",
	DP_PARAMS(params),
	.opts_size = sizeof(runs_opts),
	.answer = answer,
};
