/*
 * q_layers.c - `layers`: the layer facts each task recorded (Keras-Prov's
 * iLayers): task, layer, kind, value.
 */
#include <stdlib.h>

#include "logger/record.h"
#include "query/registry.h"

static int answer(dp_query *q, const dp_qopts *o, dp_table *out, dp_qnotes *notes)
{
	dp_qdataflow d;
	dp_where *w;
	const dp_qtask **sel = NULL;
	size_t n;
	int rc;

	(void)notes;
	if ((rc = dp_answer_prepare(q, o, &d, &w)))
		return rc;
	if (o->task && !dp_qtask_find(&d, o->task)) {
		rc = dp_query_no_task(q, d.name, o->task);
		goto out;
	}
	if ((rc = dp_select_tasks(q, &d, w, &sel, &n)) || (rc = dp_table_init(out, 4)))
		goto out;
	dp_table_set_col(out, 0, "task", COL_TEXT);
	dp_table_set_col(out, 1, "layer", COL_TEXT);
	dp_table_set_col(out, 2, "kind", COL_TEXT);
	dp_table_set_col(out, 3, "value", COL_TEXT);
	/* One lookup per task: the layers database keeps each task's latest
	 * layers record. */
	for (size_t i = 0; i < n && !rc; i++) {
		const dp_qtask *t = sel[i];
		dp_key key;
		MDB_val k, v;
		dp_layers_row r;
		if (o->task && strcmp(t->id, o->task) != 0)
			continue;
		dp_key_reset(&key);
		dp_key_cstr(&key, d.name);
		dp_key_cstr(&key, t->id);
		k = dp_key_val(&key);
		int mrc = mdb_get(q->txn, q->ix->dbi[DP_DB_LAYERS], &k, &v);
		if (mrc == MDB_NOTFOUND)
			continue;
		if (mrc) {
			rc = dp_lmdb_error(mrc, "layers");
			break;
		}
		if (dp_read_layers(&q->dec, &k, &v, &r))
			continue;
		dp_str name, kind;
		dp_field value;
		for (size_t j = 0; j < r.n; j++) {
			if (!dp_layers_at(&r, j, &name, &kind, &value))
				continue;
			dp_qv *row = dp_table_add_row(out);
			if (!row) {
				rc = dp_error(DNNPROV_ENOMEM, "out of memory");
				break;
			}
			dp_set_text(&row[0], t->id);
			dp_cell_text(&row[1], name.p, name.n);
			if (kind.p)
				dp_cell_text(&row[2], kind.p, kind.n);
			dp_copy_field(&row[3], &value);
		}
	}
out:
	free(sel);
	dp_where_free(w);
	dp_qdataflow_free(&d);
	return rc;
}

static const dp_param params[] = {
	DP_PARAM_DATAFLOW,
	{ .name = "task", .short_name = 't', .type = DP_PT_TASK, .arg = "T", .positional = "TASK",
	  .help = "only the layers of this task", .fronts = DP_FRONT_ALL, .offset = offsetof(dp_qopts, task) },
	DP_PARAM_WHERE("layers"),
};

const dp_question dp_q_layers = {
	.name = "layers",
	.summary = "the layer facts of tasks (activations, dropout, ...)",
	.description =
		"The layer facts each task recorded (Keras-Prov's iLayers): a row per layer\n"
		"fact, with the task, the layer's name, its kind (activation, dropout, ...) and\n"
		"its value (relu, 0.5, ...).  TASK (or --task) shows one task's; --where keeps\n"
		"the tasks it matches, as in `dnnprov help runs`.",
	DP_PARAMS(params),
	.opts_size = sizeof(dp_qopts),
	.answer = answer,
};
