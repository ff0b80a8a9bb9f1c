/*
 * q_dataflows.c - `dataflows`: the dataflows in the index, with their task
 * counts and last activity.
 */
#include <stdlib.h>

#include "query/registry.h"

/* One scan of each dataflow's tasks, each read in place: counting needs
 * no loaded model. */
static int answer(dp_query *q, const dp_qopts *o, dp_table *out, dp_qnotes *notes)
{
	char **names;
	size_t n;
	int rc;

	(void)o;
	(void)notes;
	if ((rc = dp_query_dataflows(q, &names, &n)))
		return rc;
	rc = dp_table_init(out, 4); /* on failure, the loop below frees the names */
	dp_table_set_col(out, 0, "dataflow", COL_TEXT);
	dp_table_set_col(out, 1, "tasks", COL_INT);
	dp_table_set_col(out, 2, "running", COL_INT);
	dp_table_set_col(out, 3, "last_activity", COL_TIME);
	for (size_t i = 0; i < n; i++) {
		/* One scan of the dataflow's tasks, each read in place: counting
		 * needs no loaded model. */
		size_t tasks = 0, running = 0;
		double last = NAN;
		dp_scan sc;
		dp_key prefix;
		MDB_val k, v;
		int r = 0;
		dp_key_reset(&prefix);
		dp_key_cstr(&prefix, names[i]);
		if (rc == 0 && (rc = dp_scan_open(&sc, q->ix, q->txn, DP_DB_TASKS, &prefix, NULL)) == 0) {
			while ((r = dp_scan_next(&sc, &k, &v)) == DP_SCAN_ROW) {
				dp_task_fields f;
				tasks++;
				if (dp_task_fields_parse(v.mv_data, v.mv_size, &f) != 0)
					continue; /* counted, as a loaded dataflow shows it */
				running += strcmp(f.status, "RUNNING") == 0;
				if (isnan(last) || f.last > last)
					last = f.last;
			}
			dp_scan_close(&sc);
			if (r < 0)
				rc = r;
		}
		if (rc == 0) {
			dp_qv *row = dp_table_add_row(out);
			if (!row)
				rc = dp_error(DNNPROV_ENOMEM, "out of memory");
			else {
				dp_set_text(&row[0], names[i]);
				dp_set_count(&row[1], tasks);
				dp_set_count(&row[2], running);
				dp_set_time(&row[3], last);
			}
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

const dp_question dp_q_dataflows = {
	.name = "dataflows",
	.summary = "list the dataflows in the index",
	.description = "The dataflows in the index, with their task counts and last activity.",
	.opts_size = sizeof(dp_qopts),
	.answer = answer,
};
