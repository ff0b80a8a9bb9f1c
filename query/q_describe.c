/*
 * q_describe.c - `describe`: a dataflow's specification and its tasks
 * counted by status, or one run.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

#include "query/registry.h"
#include "query/repeats.h"
#include "query/rows.h"

static void describe_row(dp_table *out, const char *kind, const char *name, const char *detail)
{
	dp_qv *row = dp_table_add_row(out);
	if (!row)
		return;
	dp_set_text(&row[0], kind);
	dp_set_text(&row[1], name);
	dp_set_text(&row[2], detail);
}

static void describe_value(dp_table *out, const char *kind, const char *name, const dp_qv *v)
{
	dp_qv *row = dp_table_add_row(out);
	if (!row)
		return;
	dp_set_text(&row[0], kind);
	dp_set_text(&row[1], name);
	if (dp_copy_value(&row[2], v))
		out->failed = true;
}

static void describe_time(dp_table *out, const char *name, double t)
{
	char text[32];
	if (isnan(t))
		return;
	dp_format_time(t, text);
	describe_row(out, "run", name, text);
}

/* What the task used and generated, in its order: a row each, the role
 * and the fingerprint with the location. */
static int describe_lineage(dp_query *q, dp_table *out, const char *df, const char *task)
{
	dp_key prefix;
	dp_scan sc;
	MDB_val k, v;
	dp_lineage_row row;
	dp_buf b = { 0 };
	int rc;

	dp_key_task(&prefix, df, task);
	if ((rc = dp_scan_open(&sc, q->ix, q->txn, DP_DB_LINEAGE, &prefix, NULL)))
		return rc;
	while ((rc = dp_scan_next(&sc, &k, &v)) == DP_SCAN_ROW) {
		if (dp_read_lineage(&q->dec, &k, &v, &row) != 0)
			continue;
		b.len = 0;
		dp_buf_printf(&b, "%.*s %.*s", (int)row.fingerprint.n, row.fingerprint.p, (int)row.location.n,
			      row.location.p);
		dp_qv *r = dp_table_add_row(out);
		if (!r || b.failed || !dp_buf_cstr(&b)) {
			rc = dp_error(DNNPROV_ENOMEM, "out of memory");
			break;
		}
		dp_set_text(&r[0], row.generated ? "generated" : "used");
		dp_cell_text(&r[1], row.role.p, row.role.n);
		dp_set_text(&r[2], b.data);
	}
	dp_scan_close(&sc);
	dp_buf_free(&b);
	return rc < 0 ? rc : 0;
}

/* One task: what the run was (status, times, attempts, where), its
 * hyperparameters, run facts and tags. */
static int describe_task(dp_query *q, const dp_qopts *o, dp_table *out)
{
	dp_qdataflow d;
	const dp_qtask *t;
	char num[32];
	int rc;

	if ((rc = dp_query_load_tasks(q, o->df, o->task, &d)))
		return rc;
	if (!(t = dp_qtask_find(&d, o->task))) {
		rc = dp_query_no_task(q, o->df, o->task);
		goto out;
	}
	if ((rc = dp_table_init(out, 3)))
		goto out;
	dp_table_set_col(out, 0, "kind", COL_TEXT);
	dp_table_set_col(out, 1, "name", COL_TEXT);
	dp_table_set_col(out, 2, "value", COL_TEXT);
	describe_row(out, "run", "task", t->id);
	describe_row(out, "run", "status", t->status);
	describe_time(out, "start", t->start);
	describe_time(out, "end", t->end);
	describe_time(out, "last_activity", t->last);
	snprintf(num, sizeof(num), "%llu", (unsigned long long)t->attempts);
	describe_row(out, "run", "attempts", num);
	snprintf(num, sizeof(num), "%llu", (unsigned long long)t->epochs);
	describe_row(out, "run", "epochs", num);
	if (t->host)
		describe_row(out, "run", "host", t->host);
	if (t->user)
		describe_row(out, "run", "user", t->user);
	if (t->message)
		describe_row(out, "run", "message", t->message);
	for (size_t i = 0; i < t->nhyps; i++)
		describe_value(out, "hyperparameter", t->hyps[i].name, &t->hyps[i].value);
	for (size_t i = 0; i < t->nfacts; i++)
		describe_value(out, "fact", t->facts[i].name, &t->facts[i].value);
	for (size_t i = 0; i < t->ntags; i++)
		describe_value(out, "tag", t->tags[i].name, &t->tags[i].value);
	dp_repeats rep;
	if ((rc = describe_lineage(q, out, d.name, t->id)) || (rc = dp_repeats_load(q, d.name, &rep)))
		goto out;
	const char *first = dp_repeats_of(&rep, t->id);
	if (first)
		describe_row(out, "run", "repeats", first);
	dp_repeats_free(&rep);
out:
	dp_qdataflow_free(&d);
	return rc;
}

/* The model as JSON, the member "model" of the answer: what the dashboard
 * draws, read as data (docs/MODEL.md has its shape). */
static void model_json(const dp_model *m, dp_buf *b)
{
	dp_buf_printf(b, "{\"dataflow\": ");
	dp_json_string(b, m->dataflow, strlen(m->dataflow));
	dp_buf_printf(b, ", \"transformations\": [");
	for (size_t t = 0; t < m->ntfs; t++) {
		const dp_mtf *tf = &m->tfs[t];
		/* The built-ins first, the user-defined after (model.h). */
		assert(!t || tf->builtin <= m->tfs[t - 1].builtin);
		dp_buf_printf(b, "%s\n {\"name\": ", t ? "," : "");
		dp_json_string(b, tf->name, strlen(tf->name));
		dp_buf_printf(b, ", \"builtin\": %s, \"depends_on\": [", tf->builtin ? "true" : "false");
		for (size_t d = 0; d < tf->ndeps; d++) {
			dp_buf_printf(b, "%s", d ? ", " : "");
			dp_json_string(b, tf->deps[d], strlen(tf->deps[d]));
		}
		dp_buf_printf(b, "], \"sets\": [");
		for (size_t s = 0; s < tf->nsets; s++) {
			const dp_mset *set = &tf->sets[s];
			dp_buf_printf(b, "%s{\"name\": ", s ? ", " : "");
			dp_json_string(b, set->name, strlen(set->name));
			dp_buf_printf(b, ", \"direction\": \"%s\", \"builtin\": %s, \"attributes\": [",
				      set->input ? "input" : "output", set->builtin ? "true" : "false");
			assert(set->builtin == tf->builtin);
			for (size_t a = 0; a < set->nattrs; a++) {
				dp_buf_printf(b, "%s{\"name\": ", a ? ", " : "");
				dp_json_string(b, set->attrs[a].name, strlen(set->attrs[a].name));
				dp_buf_printf(b, ", \"type\": \"%s\"}", dp_attr_type_name(set->attrs[a].type));
			}
			dp_buf_printf(b, "]}");
		}
		dp_buf_printf(b, "]}");
	}
	dp_buf_printf(b, "]}");
}

/* A transformation's row: built-in or user-defined, what it depends on,
 * and for a built-in its sets (a user-defined one's have rows of their
 * own, with their attributes). */
static void describe_tf(dp_table *out, const dp_mtf *tf, dp_buf *b)
{
	b->len = 0;
	dp_buf_printf(b, "%s", tf->builtin ? "built-in" : "user-defined");
	for (size_t k = 0; k < tf->ndeps; k++)
		dp_buf_printf(b, "%s%s", k ? ", " : "; depends on ", tf->deps[k]);
	for (int input = 1; tf->builtin && input >= 0; input--) {
		size_t n = 0;
		for (size_t s = 0; s < tf->nsets; s++)
			if (tf->sets[s].input == (input == 1))
				dp_buf_printf(b, "%s%s", n++ ? ", " : input ? "; input " : "; output ", tf->sets[s].name);
	}
	describe_row(out, "transformation", tf->name, dp_buf_cstr(b));
	for (size_t s = 0; !tf->builtin && s < tf->nsets; s++) {
		const dp_mset *set = &tf->sets[s];
		char full[2 * DNNPROV_NAME_MAX + 2];
		snprintf(full, sizeof(full), "%s.%s", tf->name, set->name);
		b->len = 0;
		dp_buf_printf(b, "%s:", set->input ? "input" : "output");
		for (size_t a = 0; a < set->nattrs; a++)
			dp_buf_printf(b, "%s %s %s", a ? "," : "", set->attrs[a].name,
				      dp_attr_type_name(set->attrs[a].type));
		describe_row(out, "set", full, dp_buf_cstr(b));
	}
}

static int answer(dp_query *q, const dp_qopts *o, dp_table *out, dp_qnotes *notes)
{
	dp_qdataflow d;
	dp_buf b = { 0 };
	int rc;

	(void)notes;
	if (o->task)
		return describe_task(q, o, out);
	if ((rc = dp_query_load(q, o->df, &d)))
		return rc;
	if ((rc = dp_table_init(out, 3)))
		goto out;
	dp_table_set_col(out, 0, "kind", COL_TEXT);
	dp_table_set_col(out, 1, "name", COL_TEXT);
	dp_table_set_col(out, 2, "detail", COL_TEXT);
	for (size_t i = 0; i < d.nhyps; i++)
		describe_row(out, "hyperparameter", d.hyps[i].name, d.hyps[i].type);
	for (size_t i = 0; i < d.nmetrics; i++)
		describe_row(out, "metric", d.metrics[i], NULL);
	/* Every task is loaded: the model has every hyperparameter they used. */
	for (size_t t = 0; t < d.model.ntfs; t++)
		describe_tf(out, &d.model.tfs[t], &b);
	static const char *const statuses[] = { "RUNNING", "LOST", "FINISHED", "FAILED", "KILLED", "PRUNED" };
	for (size_t s = 0; s < DP_ARRAY_LEN(statuses); s++) {
		size_t n = 0;
		for (size_t k = 0; k < d.ntasks; k++)
			n += strcmp(d.tasks[k].status, statuses[s]) == 0;
		b.len = 0;
		dp_buf_printf(&b, "%zu", n);
		describe_row(out, "tasks", statuses[s], dp_buf_cstr(&b));
	}
	b.len = 0;
	model_json(&d.model, &b);
	dp_table_json_member(out, "model", b.data, b.len);
	if (b.failed) /* a detail was cut short */
		out->failed = true;
out:
	dp_buf_free(&b);
	dp_qdataflow_free(&d);
	return rc;
}

static const dp_param params[] = {
	DP_PARAM_DATAFLOW,
	{ .name = "task", .type = DP_PT_TASK, .arg = "TASK", .positional = "TASK",
	  .help = "describes that run instead of the dataflow", .fronts = DP_FRONT_NAMED,
	  .offset = offsetof(dp_qopts, task) },
};

const dp_question dp_q_describe = {
	.name = "describe",
	.summary = "a dataflow's specification and task counts, or one run",
	.description =
		"A dataflow's specification: hyperparameters and their types, metrics,\n"
		"transformations (built-in and user-defined) with their sets, typed attributes\n"
		"and dependencies, and its tasks counted by status; in JSON, the member \"model\"\n"
		"holds the transformations, their sets and attributes as data (docs/MODEL.md).\n"
		"With TASK, that run: its status, times, attempts, host and user,\n"
		"hyperparameters, run facts, tags, what it used and generated\n"
		"(docs/LINEAGE.md) and, when it repeats other runs, the first of them.",
	DP_PARAMS(params),
	.opts_size = sizeof(dp_qopts),
	.answer = answer,
};
