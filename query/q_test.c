/*
 * q_test.c - `test`: the latest test-set results of each task beside its
 * hyperparameters.
 */
#include <stdlib.h>
#include <string.h>

#include "query/registry.h"

/* Appends the names of metrics m has that names[0..*nn) has not. */
static int add_names(dp_rmap m, char ***names, size_t *nn)
{
	dp_str key;
	dp_field value;
	for (size_t j = 0, n = dp_rmap_size(m); j < n; j++) {
		if (!dp_rmap_at(m, j, &key, &value))
			continue;
		bool seen = false;
		for (size_t x = 0; x < *nn && !seen; x++)
			seen = strlen((*names)[x]) == key.n && memcmp((*names)[x], key.p, key.n) == 0;
		if (seen)
			continue;
		char **g = realloc(*names, (*nn + 1) * sizeof(char *));
		if (g)
			*names = g;
		if (!g || !((*names)[*nn] = strndup(key.p, key.n)))
			return dp_error(DNNPROV_ENOMEM, "out of memory");
		(*nn)++;
	}
	return 0;
}

static int answer(dp_query *q, const dp_qopts *o, dp_table *out, dp_qnotes *notes)
{
	dp_qdataflow d;
	dp_where *w;
	const dp_qtask **sel = NULL;
	size_t n;
	MDB_cursor *c = NULL;
	char **names = NULL;
	size_t nn = 0;
	/* Per selected task, its latest test record's key and value: they
	 * stay valid in the snapshot, and are read again for the rows. */
	MDB_val(*latest)[2] = NULL;
	int rc;

	if ((rc = dp_answer_prepare(q, o, &d, &w)))
		return rc;
	if ((rc = dp_select_tasks(q, &d, w, &sel, &n)))
		goto out;
	latest = calloc(n ? n : 1, sizeof(*latest));
	if (!latest || (rc = mdb_cursor_open(q->txn, q->ix->dbi[DP_DB_TESTS], &c))) {
		rc = latest ? dp_lmdb_error(rc, "tests") : dp_error(DNNPROV_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		dp_key key;
		MDB_val k, v;
		dp_scan sc;
		dp_test_row r;
		dp_key_reset(&key);
		dp_key_cstr(&key, d.name);
		dp_key_cstr(&key, sel[i]->id);
		dp_scan_on(&sc, c, DP_DB_TESTS, &key, NULL);
		/* Keys sort causally: the last one within the prefix is the latest. */
		while ((rc = dp_scan_next(&sc, &k, &v)) == DP_SCAN_ROW) {
			latest[i][0] = k;
			latest[i][1] = v;
		}
		if (rc < 0)
			goto out;
		rc = 0;
		if (latest[i][1].mv_data && !dp_read_test(&q->dec, &latest[i][0], &latest[i][1], &r) &&
		    (rc = add_names(r.metrics, &names, &nn)))
			goto out;
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
		dp_test_row r;
		if (!latest[i][1].mv_data || dp_read_test(&q->dec, &latest[i][0], &latest[i][1], &r))
			continue;
		dp_qv *row = dp_table_add_row(out);
		if (!row) {
			rc = dp_error(DNNPROV_ENOMEM, "out of memory");
			break;
		}
		dp_set_text(&row[0], sel[i]->id);
		dp_set_text(&row[1], sel[i]->status);
		dp_hyp_cells(row, 2, &d, sel[i]);
		dp_set_time(&row[2 + d.nhyps], r.time);
		for (size_t x = 0; x < nn; x++) {
			dp_field f = dp_rmap_get(r.metrics, names[x]);
			dp_copy_field(&row[3 + d.nhyps + x], &f);
		}
	}
	if (!rc)
		rc = dp_sort_and_limit(out, o, nn ? 3 + d.nhyps : 0, nn && !dp_metric_lower_is_better(names[0]));
	if (!rc)
		dp_omit_constant_columns(out, 2, d.nhyps, notes);
out:
	if (c)
		mdb_cursor_close(c);
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
