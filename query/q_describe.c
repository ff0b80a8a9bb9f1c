/*
 * q_describe.c - `describe`: a dataflow's specification and its tasks
 * counted by status, or one run.
 */
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

	dp_key_reset(&prefix);
	dp_key_cstr(&prefix, df);
	dp_key_cstr(&prefix, task);
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

static int answer(dp_query *q, const dp_qopts *o, dp_table *out, dp_qnotes *notes)
{
	dp_qdataflow d;
	dp_buf b = { 0 };
	msgpack_object tfs;
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
	describe_row(out, "transformation", "TrainingModel", "built-in: a task per run; input iTrainingModel, iLayers; output oTrainingModel (epochs)");
	if (d.adaptation)
		describe_row(out, "transformation", "Adaptation", "built-in: depends on TrainingModel; output oAdaptation");
	describe_row(out, "transformation", "TestingModel", "built-in: depends on TrainingModel; output oTestingModel");
	if (d.transformations.len && dp_decode(&q->dec, (const unsigned char *)d.transformations.data,
					       d.transformations.len, &tfs) == 0 && tfs.type == MSGPACK_OBJECT_ARRAY) {
		for (uint32_t i = 0; i < tfs.via.array.size; i++) {
			const msgpack_object *tf = &tfs.via.array.ptr[i];
			const msgpack_object *name = dp_map_get(tf, "name"), *deps = dp_map_get(tf, "depends_on");
			const msgpack_object *sets = dp_map_get(tf, "sets");
			char tname[DNNPROV_NAME_MAX + 1];
			if (!name || name->type != MSGPACK_OBJECT_STR)
				continue;
			snprintf(tname, sizeof(tname), "%.*s", (int)name->via.str.size, name->via.str.ptr);
			b.len = 0;
			dp_buf_printf(&b, "user-defined");
			for (uint32_t k = 0; deps && deps->type == MSGPACK_OBJECT_ARRAY && k < deps->via.array.size; k++) {
				const msgpack_object *x = &deps->via.array.ptr[k];
				if (x->type == MSGPACK_OBJECT_STR)
					dp_buf_printf(&b, "%s%.*s", k ? ", " : "; depends on ", (int)x->via.str.size, x->via.str.ptr);
			}
			describe_row(out, "transformation", tname, dp_buf_cstr(&b));
			for (uint32_t s = 0; sets && sets->type == MSGPACK_OBJECT_ARRAY && s < sets->via.array.size; s++) {
				const msgpack_object *set = &sets->via.array.ptr[s];
				const msgpack_object *sn = dp_map_get(set, "name"), *dir = dp_map_get(set, "direction");
				const msgpack_object *attrs = dp_map_get(set, "attributes");
				char full[2 * DNNPROV_NAME_MAX + 2];
				if (!sn || sn->type != MSGPACK_OBJECT_STR)
					continue;
				snprintf(full, sizeof(full), "%s.%.*s", tname, (int)sn->via.str.size, sn->via.str.ptr);
				b.len = 0;
				dp_buf_printf(&b, "%s:", dp_obj_is_str(dir, "input") ? "input" : "output");
				for (uint32_t a = 0; attrs && attrs->type == MSGPACK_OBJECT_ARRAY && a < attrs->via.array.size; a++) {
					const msgpack_object *an = dp_map_get(&attrs->via.array.ptr[a], "name");
					const msgpack_object *at = dp_map_get(&attrs->via.array.ptr[a], "type");
					if (an && at && an->type == MSGPACK_OBJECT_STR && at->type == MSGPACK_OBJECT_STR)
						dp_buf_printf(&b, "%s %.*s %.*s", a ? "," : "", (int)an->via.str.size,
							      an->via.str.ptr, (int)at->via.str.size, at->via.str.ptr);
				}
				describe_row(out, "set", full, dp_buf_cstr(&b));
			}
		}
	}
	static const char *const statuses[] = { "RUNNING", "LOST", "FINISHED", "FAILED", "KILLED" };
	for (size_t s = 0; s < DP_ARRAY_LEN(statuses); s++) {
		size_t n = 0;
		for (size_t k = 0; k < d.ntasks; k++)
			n += strcmp(d.tasks[k].status, statuses[s]) == 0;
		b.len = 0;
		dp_buf_printf(&b, "%zu", n);
		describe_row(out, "tasks", statuses[s], dp_buf_cstr(&b));
	}
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
		"and dependencies, and its tasks counted by status.  With TASK, that run: its\n"
		"status, times, attempts, host and user, hyperparameters, run facts, tags, what\n"
		"it used and generated (docs/LINEAGE.md) and, when it repeats other runs, the\n"
		"first of them.",
	DP_PARAMS(params),
	.opts_size = sizeof(dp_qopts),
	.answer = answer,
};
