/*
 * q_tasks.c - `tasks`: the task ids of a dataflow that match a text, for
 * a page that completes an id as it is typed, and the ids an unknown one
 * may have meant ("did you mean", dp_task_suggest).
 *
 * The ids are read from the tasks database's keys, never decoded: ids that
 * begin with the text first (a seek and a range, in id order), then ids
 * that hold it anywhere, in any case (one pass over the keys: a few
 * milliseconds at 100,000 tasks).  Only the rows answered are loaded, for
 * their status.
 */
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "query/registry.h"

typedef struct tasks_opts {
	dp_qopts o;
	const char *match;
} tasks_opts;

/* A candidate: its id in the snapshot's map (valid while the transaction
 * lives). */
typedef struct found {
	const char **ids;
	size_t n, max;
} found;

static bool found_has(const found *f, const char *id, size_t len)
{
	for (size_t i = 0; i < f->n; i++)
		if (strlen(f->ids[i]) == len && memcmp(f->ids[i], id, len) == 0)
			return true;
	return false;
}

/* The id of a tasks key (df, id), NUL-terminated in place: the key's own
 * terminator. */
static const char *key_id(const MDB_val *k, size_t prefix, size_t *len)
{
	*len = k->mv_size - prefix - 1;
	return (const char *)k->mv_data + prefix;
}

/* Whether `hay` of n bytes holds `needle` (m bytes), ignoring ASCII case. */
static bool holds(const char *hay, size_t n, const char *needle, size_t m)
{
	for (size_t i = 0; m <= n && i + m <= n; i++)
		if (strncasecmp(hay + i, needle, m) == 0)
			return true;
	return false;
}

/* The ids that begin with `text`, then those that hold it anywhere (in any
 * case); without a match and with `near`, the ids around where `text`
 * would sort, which share its longest beginnings. */
static int match_ids(dp_query *q, const char *df, const char *text, bool near, found *f)
{
	dp_key pre, from;
	dp_scan sc;
	MDB_val k, v;
	size_t tn = strlen(text), len;
	int r, rc;

	dp_key_reset(&pre);
	dp_key_cstr(&pre, df);
	from = pre;
	dp_key_str(&from, text, tn);
	from.n--; /* not the terminator: every id that begins with text */
	if (from.overflow)
		return 0;
	if ((rc = dp_scan_open(&sc, q->ix, q->txn, DP_DB_TASKS, &pre, &from)))
		return rc;
	while (f->n < f->max && (r = dp_scan_next(&sc, &k, &v)) == DP_SCAN_ROW) {
		const char *id = key_id(&k, pre.n, &len);
		if (len < tn || memcmp(id, text, tn) != 0)
			break;
		f->ids[f->n++] = id;
	}
	dp_scan_close(&sc);
	if (r < 0)
		return r;
	if (f->n < f->max && tn) {
		if ((rc = dp_scan_open(&sc, q->ix, q->txn, DP_DB_TASKS, &pre, NULL)))
			return rc;
		while (f->n < f->max && (r = dp_scan_next(&sc, &k, &v)) == DP_SCAN_ROW) {
			const char *id = key_id(&k, pre.n, &len);
			if (holds(id, len, text, tn) && !found_has(f, id, len))
				f->ids[f->n++] = id;
		}
		dp_scan_close(&sc);
		if (r < 0)
			return r;
	}
	if (f->n || !near)
		return 0;
	/* Two before where it would sort, and what follows. */
	if ((rc = dp_scan_open_before(&sc, q->ix, q->txn, DP_DB_TASKS, &pre, &from)))
		return rc;
	while (f->n < 2 && f->n < f->max && (r = dp_scan_next(&sc, &k, &v)) == DP_SCAN_ROW)
		f->ids[f->n++] = key_id(&k, pre.n, &len);
	dp_scan_close(&sc);
	if (r < 0)
		return r;
	if (f->n == 2) { /* in id order */
		const char *t = f->ids[0];
		f->ids[0] = f->ids[1];
		f->ids[1] = t;
	}
	if ((rc = dp_scan_open(&sc, q->ix, q->txn, DP_DB_TASKS, &pre, &from)))
		return rc;
	while (f->n < f->max && f->n < 4 && (r = dp_scan_next(&sc, &k, &v)) == DP_SCAN_ROW)
		f->ids[f->n++] = key_id(&k, pre.n, &len);
	dp_scan_close(&sc);
	return r < 0 ? r : 0;
}

int dp_task_suggest(dp_query *q, const char *df, const char *text, const char **ids, size_t max, size_t *n)
{
	found f = { ids, 0, max };
	int rc = match_ids(q, df, text, true, &f);
	*n = f.n;
	return rc;
}

static int answer(dp_query *q, const dp_qopts *o, dp_table *out, dp_qnotes *notes)
{
	const tasks_opts *to = (const tasks_opts *)o;
	dp_qdataflow spec, d = { 0 };
	found f = { 0 };
	int rc;

	(void)notes;
	/* An unknown dataflow is an error here as everywhere. */
	if ((rc = dp_query_load_spec(q, o->df, &spec)))
		return rc;
	f.max = o->limit > 0 ? (size_t)o->limit : 20;
	if (!(f.ids = calloc(f.max, sizeof(*f.ids)))) {
		rc = dp_error(DNNPROV_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = match_ids(q, o->df, to->match ? to->match : "", false, &f)) ||
	    (rc = dp_query_load_ids(q, o->df, f.ids, f.n, &d)) || (rc = dp_table_init(out, 2)))
		goto out;
	dp_table_set_col(out, 0, "task", COL_TEXT);
	dp_table_set_col(out, 1, "status", COL_TEXT);
	dp_table_col_status(out, 1);
	for (size_t i = 0; i < f.n; i++) {
		const dp_qtask *t = dp_qtask_find(&d, f.ids[i]);
		dp_qv *row = dp_table_add_row(out);
		if (!row) {
			rc = dp_error(DNNPROV_ENOMEM, "out of memory");
			break;
		}
		dp_set_text(&row[0], f.ids[i]);
		if (t)
			dp_set_text(&row[1], t->status);
	}
out:
	free(f.ids);
	dp_qdataflow_free(&d);
	dp_qdataflow_free(&spec);
	return rc;
}

static const dp_param params[] = {
	DP_PARAM_DATAFLOW,
	{ .name = "match", .type = DP_PT_TEXT, .arg = "TEXT",
	  .help = "the ids that begin with TEXT, then those that hold it in any case", .fronts = DP_FRONT_ALL,
	  .offset = offsetof(tasks_opts, match) },
	{ .name = "limit", .short_name = 'n', .type = DP_PT_INT, .arg = "N", .min = 1, .max = 10000, .def = "20",
	  .help = "at most N ids", .fronts = DP_FRONT_ALL, .offset = offsetof(dp_qopts, limit) },
};

const dp_question dp_q_tasks = {
	.name = "tasks",
	.summary = "task ids that match a text (completion, \"did you mean\")",
	.description =
		"The ids of a dataflow's tasks that begin with TEXT, in id order, then those that\n"
		"hold it anywhere (in any case), with their status: what a page offers as an id\n"
		"is typed.  Read from the index's keys without loading the tasks.  Without\n"
		"--match, the first ids.",
	.example = "dnnprov tasks -c exp.yaml --match adam-lr0.01",
	DP_PARAMS(params),
	.opts_size = sizeof(tasks_opts),
	.answer = answer,
};
