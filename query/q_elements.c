/*
 * q_elements.c - `elements`: the data a user-defined transformation
 * recorded (the DenseBlock case), a column per declared attribute.
 */
#include <stdlib.h>

#include "logger/record.h"
#include "query/registry.h"

typedef struct elements_opts {
	dp_qopts o;
	const char *transformation;
	const char *set; /* one set only */
} elements_opts;

static int answer(dp_query *q, const dp_qopts *qo, dp_table *out, dp_qnotes *notes)
{
	const elements_opts *o = (const elements_opts *)qo;
	dp_qdataflow d;
	dp_buf attrs = { 0 }; /* NUL-separated declared attribute names */
	size_t nattrs = 0;
	bool numeric[256] = { false }; /* of the first 256 attributes */
	bool found_tf = false, found_set = !o->set;
	dp_scan sc;
	dp_where *w;
	bool *pass = NULL;
	dp_key key;
	MDB_val k, v;
	int rc;

	(void)notes;
	if ((rc = dp_answer_prepare(q, qo, &d, &w)))
		return rc;
	dp_buf tfnames = { 0 };
	for (size_t i = 0; i < d.model.ntfs; i++) {
		const dp_mtf *tf = &d.model.tfs[i];
		if (tf->builtin)
			continue;
		dp_buf_printf(&tfnames, "%s%s", tfnames.len ? ", " : "", tf->name);
		if (strcmp(tf->name, o->transformation) != 0)
			continue;
		found_tf = true;
		for (size_t s = 0; s < tf->nsets; s++) {
			const dp_mset *set = &tf->sets[s];
			if (o->set && strcmp(set->name, o->set) != 0)
				continue;
			found_set = true;
			for (size_t a = 0; a < set->nattrs; a++) {
				dp_buf_append(&attrs, set->attrs[a].name, strlen(set->attrs[a].name) + 1);
				if (nattrs < DP_ARRAY_LEN(numeric))
					numeric[nattrs] = set->attrs[a].type == DP_ATTR_NUMERIC;
				nattrs++;
			}
		}
	}
	if (!found_tf || !found_set) {
		rc = !found_tf ? dp_error_subject(DNNPROV_ENOTFOUND, "transformation",
						  "no transformation '%s' in dataflow %s (user-defined: %s)", o->transformation,
						  d.name, tfnames.len ? dp_buf_cstr(&tfnames) : "none")
			       : dp_error_subject(DNNPROV_ENOTFOUND, "set", "transformation '%s' has no set '%s'",
						  o->transformation, o->set);
		goto out;
	}
	if (qo->task && !dp_qtask_find(&d, qo->task)) {
		rc = dp_query_no_task(q, d.name, qo->task);
		goto out;
	}
	if (attrs.failed) {
		rc = dp_error(DNNPROV_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = dp_where_flags(q, &d, w, &pass)) || (rc = dp_table_init(out, 3 + nattrs)))
		goto out;
	dp_table_set_col(out, 0, "task", COL_TEXT);
	dp_table_set_col(out, 1, "set", COL_TEXT);
	dp_table_set_col(out, 2, "time", COL_TIME);
	const char *an = attrs.data;
	for (size_t a = 0; a < nattrs; a++, an += strlen(an) + 1)
		dp_table_set_col(out, 3 + a, an, a < DP_ARRAY_LEN(numeric) && numeric[a] ? COL_NUM : COL_TEXT);
	dp_key_reset(&key);
	dp_key_cstr(&key, d.name);
	dp_key_cstr(&key, o->transformation);
	if (o->set)
		dp_key_cstr(&key, o->set);
	if ((rc = dp_scan_open(&sc, q->ix, q->txn, DP_DB_ELEMENTS, &key, NULL)))
		goto out;
	while ((rc = dp_scan_next(&sc, &k, &v)) == DP_SCAN_ROW) {
		dp_element_row r;
		rc = 0;
		if (dp_read_element(&q->dec, &k, &v, &r) ||
		    (qo->task && (strlen(qo->task) != r.task.n || memcmp(qo->task, r.task.p, r.task.n) != 0)) ||
		    !dp_task_passes(&d, pass, r.task.p, r.task.n))
			continue;
		dp_qv *row = dp_table_add_row(out);
		if (!row) {
			rc = dp_error(DNNPROV_ENOMEM, "out of memory");
			break;
		}
		dp_cell_text(&row[0], r.task.p, r.task.n);
		dp_cell_text(&row[1], r.set.p, r.set.n);
		dp_set_time(&row[2], r.time);
		an = attrs.data;
		for (size_t a = 0; a < nattrs; a++, an += strlen(an) + 1) {
			dp_field f = dp_rmap_get(r.values, an);
			dp_copy_field(&row[3 + a], &f);
		}
	}
	dp_scan_close(&sc);
out:
	free(pass);
	dp_where_free(w);
	dp_buf_free(&tfnames);
	dp_buf_free(&attrs);
	dp_qdataflow_free(&d);
	return rc;
}

static const dp_param params[] = {
	DP_PARAM_DATAFLOW,
	{ .name = "transformation", .type = DP_PT_NAME, .arg = "TRANSFORMATION", .positional = "TRANSFORMATION",
	  .required = true, .help = "the user-defined transformation", .fronts = DP_FRONT_NAMED,
	  .offset = offsetof(elements_opts, transformation) },
	{ .name = "set", .type = DP_PT_NAME, .arg = "S", .def_help = "every set of the transformation",
	  .help = "the elements of this set only", .fronts = DP_FRONT_ALL, .offset = offsetof(elements_opts, set) },
	DP_PARAM_TASK_OPTION("elements"),
	DP_PARAM_WHERE("elements"),
};

const dp_question dp_q_elements = {
	.name = "elements",
	.summary = "data of user-defined transformations",
	.description =
		"The elements recorded for a user-defined transformation (the DenseBlock case),\n"
		"one column per declared attribute of its sets (or of --set).  --where keeps\n"
		"the elements of the tasks it matches, as in `dnnprov help runs`.",
	.example = "dnnprov elements -c exp.yaml DenseBlock --set oDenseBlock",
	DP_PARAMS(params),
	.opts_size = sizeof(elements_opts),
	.answer = answer,
};
