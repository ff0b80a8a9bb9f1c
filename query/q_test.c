/*
 * q_test.c - `test`: the latest test-set results of each task beside its
 * hyperparameters.
 */
#include <stdlib.h>

#include "query/registry.h"

static int answer(dp_query *q, const dp_qopts *o, dp_table *out, dp_qnotes *notes)
{
	dp_qdataflow d;
	dp_where *w;
	const dp_qtask **sel = NULL;
	size_t n;
	MDB_cursor *c = NULL;
	char **names = NULL;
	size_t nn = 0;
	dp_buf *latest = NULL; /* per selected task: its latest test payload */
	int rc;

	if ((rc = dp_answer_prepare(q, o, &d, &w)))
		return rc;
	if ((rc = dp_select_tasks(q, &d, w, &sel, &n)))
		goto out;
	latest = calloc(n ? n : 1, sizeof(dp_buf));
	if (!latest || (rc = mdb_cursor_open(q->txn, q->ix->dbi[DP_DB_TESTS], &c))) {
		rc = latest ? dp_lmdb_error(rc, "tests") : dp_error(DNNPROV_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		dp_key key;
		MDB_val k, v;
		dp_scan sc;
		dp_key_reset(&key);
		dp_key_cstr(&key, d.name);
		dp_key_cstr(&key, sel[i]->id);
		dp_scan_on(&sc, c, DP_DB_TESTS, &key, NULL);
		/* Keys sort causally: the last one within the prefix is the latest. */
		while ((rc = dp_scan_next(&sc, &k, &v)) == DP_SCAN_ROW) {
			latest[i].len = 0;
			if ((rc = dp_buf_append(&latest[i], v.mv_data, v.mv_size)))
				break;
		}
		if (rc)
			goto out;
		msgpack_object obj;
		if (latest[i].len && dp_decode(&q->dec, (const unsigned char *)latest[i].data, latest[i].len, &obj) == 0) {
			const msgpack_object *m = dp_map_get(&obj, "metrics");
			for (uint32_t j = 0; m && m->type == MSGPACK_OBJECT_MAP && j < m->via.map.size; j++) {
				const msgpack_object *key2 = &m->via.map.ptr[j].key;
				bool seen = false;
				for (size_t x = 0; x < nn; x++)
					seen |= strlen(names[x]) == key2->via.str.size &&
						memcmp(names[x], key2->via.str.ptr, key2->via.str.size) == 0;
				if (!seen) {
					char **g = realloc(names, (nn + 1) * sizeof(char *));
					if (g)
						names = g;
					if (!g || !(names[nn] = strndup(key2->via.str.ptr, key2->via.str.size))) {
						rc = dp_error(DNNPROV_ENOMEM, "out of memory");
						goto out;
					}
					nn++;
				}
			}
		}
	}
	if ((rc = dp_table_init(out, 3 + d.nhyps + nn)))
		goto out;
	dp_table_set_col(out, 0, "task", COL_TEXT);
	dp_table_set_col(out, 1, "status", COL_TEXT);
	dp_table_col_status(out, 1);
	dp_hyp_columns(out, 2, &d);
	dp_table_set_col(out, 2 + d.nhyps, "tested", COL_TIME);
	for (size_t x = 0; x < nn; x++) {
		dp_table_set_col(out, 3 + d.nhyps + x, names[x], COL_NUM);
		dp_table_col_metric(out, 3 + d.nhyps + x, names[x], NULL, dp_goal_of(dp_metric_lower_is_better(names[x])));
	}
	for (size_t i = 0; i < n && !rc; i++) {
		msgpack_object obj;
		if (!latest[i].len || dp_decode(&q->dec, (const unsigned char *)latest[i].data, latest[i].len, &obj) != 0)
			continue;
		dp_qv *row = dp_table_add_row(out);
		if (!row) {
			rc = dp_error(DNNPROV_ENOMEM, "out of memory");
			break;
		}
		dp_set_text(&row[0], sel[i]->id);
		dp_set_text(&row[1], sel[i]->status);
		dp_hyp_cells(row, 2, &d, sel[i]);
		dp_copy_obj(&row[2 + d.nhyps], dp_map_get(&obj, "time"));
		const msgpack_object *m = dp_map_get(&obj, "metrics");
		for (size_t x = 0; x < nn; x++)
			dp_copy_obj(&row[3 + d.nhyps + x], dp_map_get(m, names[x]));
	}
	if (!rc)
		rc = dp_sort_and_limit(out, o, nn ? 3 + d.nhyps : 0, nn && !dp_metric_lower_is_better(names[0]));
	if (!rc)
		dp_omit_constant_columns(out, 2, d.nhyps, notes);
out:
	if (c)
		mdb_cursor_close(c);
	for (size_t i = 0; latest && i < n; i++)
		dp_buf_free(&latest[i]);
	free(latest);
	for (size_t x = 0; x < nn; x++)
		free(names[x]);
	free(names);
	free(sel);
	dp_where_free(w);
	dp_qdataflow_free(&d);
	return rc;
}

static const dp_param params[] = {
	DP_PARAM_DATAFLOW,
	DP_PARAM_WHERE("rows"),
	DP_PARAM_SORT,
	DP_PARAM_LIMIT,
	DP_PARAM_OFFSET,
};

const dp_question dp_q_test = {
	.name = "test",
	.summary = "test results beside hyperparameters",
	.description =
		"The latest test record of each task that has one, beside its hyperparameters,\n"
		"best first by the first test metric.",
	DP_PARAMS(params),
	.opts_size = sizeof(dp_qopts),
	.answer = answer,
};
