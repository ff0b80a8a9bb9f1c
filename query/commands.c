/*
 * commands.c - the query commands: each reads one snapshot and fills a
 * result table.  They cost O(tasks) reads of the per-task records and
 * summaries the indexer keeps, not O(epochs), except curve (one task's
 * epochs, a range scan) and adaptations (the adaptations and two epochs
 * each).
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "logger/record.h"
#include "query/commands.h"
#include "query/rows.h"

/* ---- shared pieces --------------------------------------------------------------- */

static int set_text(dp_qv *cell, const char *s)
{
	return s ? dp_cell_text(cell, s, strlen(s)) : 0;
}

static void set_num(dp_qv *cell, double v)
{
	*cell = dp_qv_real(v);
}

static void set_int(dp_qv *cell, int64_t v)
{
	*cell = dp_qv_int(v);
}

static void set_count(dp_qv *cell, uint64_t n)
{
	set_int(cell, n > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)n);
}

static void set_time(dp_qv *cell, double t)
{
	if (!isnan(t))
		set_num(cell, t);
}

static int copy_value(dp_qv *cell, const dp_qv *v)
{
	if (!v || v->type == QV_NULL)
		return 0;
	if (v->type == QV_TEXT)
		return dp_cell_text(cell, v->text, strlen(v->text));
	*cell = *v;
	return 0;
}

static void copy_obj(dp_qv *cell, const msgpack_object *o)
{
	if (!o)
		return;
	if (o->type == MSGPACK_OBJECT_STR)
		dp_cell_text(cell, o->via.str.ptr, o->via.str.size);
	else
		dp_qv_from_number(o, cell);
}

static void copy_field(dp_qv *cell, dp_field f)
{
	if (f.type == DP_F_TEXT)
		dp_cell_text(cell, f.s.p, f.s.n);
	else if (f.type == DP_F_INT)
		set_int(cell, f.i);
	else if (f.type == DP_F_REAL)
		set_num(cell, f.d);
}

/* Loads the dataflow and compiles --where; on error both are freed. */
static int prepare(dp_query *q, const dp_qopts *o, dp_qdataflow *d, dp_where **w)
{
	int rc;
	*w = NULL;
	if ((rc = dp_query_load(q, o->df, d)))
		return rc;
	if (o->where && *o->where && (rc = dp_where_compile(o->where, d, w)))
		dp_qdataflow_free(d);
	return rc;
}

/* The tasks passing --where, in index order; the secondary index narrows
 * the candidates when the expression allows. */
static int select_tasks(dp_query *q, const dp_qdataflow *d, const dp_where *w, const dp_qtask ***out,
			size_t *n)
{
	char **ids = NULL;
	size_t nids = 0, k = 0;
	bool narrowed = dp_where_candidates(w, q, d, &ids, &nids);
	const dp_qtask **sel = malloc((d->ntasks ? d->ntasks : 1) * sizeof(*sel));

	if (!sel) {
		for (size_t i = 0; i < nids; i++)
			free(ids[i]);
		free(ids);
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	}
	*n = 0;
	if (narrowed) {
		for (size_t i = 0; i < nids; i++) {
			if (i && strcmp(ids[i], ids[i - 1]) == 0)
				continue;
			const dp_qtask *t = dp_qtask_find(d, ids[i]);
			if (t && dp_where_match(w, q, d, t))
				sel[k++] = t;
		}
		for (size_t i = 0; i < nids; i++)
			free(ids[i]);
		free(ids);
	} else {
		for (size_t i = 0; i < d->ntasks; i++) {
			if (i % 1024 == 0 && dp_query_past_deadline(q)) {
				free(sel);
				return DNNPROV_EQUERY;
			}
			if (dp_where_match(w, q, d, &d->tasks[i]))
				sel[k++] = &d->tasks[i];
		}
	}
	*out = sel;
	*n = k;
	return 0;
}

/* Which tasks pass --where, as a flag per task of d (in d->tasks order), for
 * commands whose rows come from a scan of another database; *flags is NULL
 * when there is no filter. */
static int where_flags(dp_query *q, const dp_qdataflow *d, const dp_where *w, bool **flags)
{
	const dp_qtask **sel;
	size_t n;
	int rc;

	*flags = NULL;
	if (!w)
		return 0;
	if ((rc = select_tasks(q, d, w, &sel, &n)))
		return rc;
	*flags = calloc(d->ntasks ? d->ntasks : 1, sizeof(bool));
	for (size_t i = 0; *flags && i < n; i++)
		(*flags)[sel[i] - d->tasks] = true;
	free(sel);
	return *flags ? 0 : dp_error(DNNPROV_ENOMEM, "out of memory");
}

/* Whether the task id[0..n) passed --where (see where_flags). */
static bool task_passes(const dp_qdataflow *d, const bool *flags, const char *id, size_t n)
{
	char tid[DNNPROV_NAME_MAX + 1];
	const dp_qtask *t;
	if (!flags)
		return true;
	if (n >= sizeof(tid))
		return false;
	memcpy(tid, id, n);
	tid[n] = '\0';
	return (t = dp_qtask_find(d, tid)) && flags[t - d->tasks];
}

static const char *resolve_metric(dp_query *q, const dp_qdataflow *d, const char *name, int *rc)
{
	const char *m = NULL;
	if (name)
		m = dp_qdf_metric(d, name);
	else if ((*rc = dp_qdf_main_metric(q, d, &m)))
		return NULL;
	if (!m) {
		dp_buf list = { 0 };
		for (size_t i = 0; i < d->nmetrics; i++)
			dp_buf_printf(&list, "%s%s", i ? ", " : "", d->metrics[i]);
		*rc = name ? dp_error(DNNPROV_ENOTFOUND, "no metric '%s' in dataflow %s (metrics: %s)", name, d->name,
				      list.len ? dp_buf_cstr(&list) : "none")
			   : dp_error(DNNPROV_ENOTFOUND, "dataflow %s has no metrics yet", d->name);
		dp_buf_free(&list);
	}
	return m;
}

static bool goal_lower(const dp_qopts *o, const char *metric)
{
	if (o->goal)
		return strcmp(o->goal, "min") == 0;
	return dp_metric_lower_is_better(metric);
}

/* Sorts rows by a column: missing values last whatever the direction. */
typedef struct sort_ctx {
	const dp_table *t;
	size_t col;
	bool desc;
} sort_ctx;

/* qsort has no context argument in C11; per thread, since a server runs
 * queries in several. */
static _Thread_local sort_ctx g_sort;

static int cmp_cells(const dp_qv *a, const dp_qv *b, bool desc)
{
	/* A failed cell (the table will be refused) sorts as missing. */
	bool an = a->type == QV_NULL || a->type == QV_FAILED || dp_qv_isnan(a);
	bool bn = b->type == QV_NULL || b->type == QV_FAILED || dp_qv_isnan(b);
	int c;
	if (an || bn)
		return an - bn;
	if (a->type != b->type)
		c = a->type == QV_NUM ? -1 : 1;
	else if (a->type == QV_NUM)
		c = dp_qv_cmp_num(a, b);
	else
		c = strcmp(a->text, b->text);
	return desc ? -c : c;
}

static int cmp_rows(const void *x, const void *y)
{
	const dp_qv *a = x, *b = y;
	int c = cmp_cells(&a[g_sort.col], &b[g_sort.col], g_sort.desc);
	return c ? c : cmp_cells(&a[0], &b[0], false); /* then by the first column: stable output */
}

/* The column --sort [+|-]COLUMN names (the last of that name, in any
 * case), or def_col and def_desc without --sort; DNNPROV_EQUERY listing
 * the columns when there is none. */
static int sort_column(const dp_table *t, const dp_qopts *o, size_t def_col, bool def_desc, size_t *col,
		       bool *desc)
{
	*col = def_col;
	*desc = def_desc;
	if (!o->sort || !*o->sort)
		return 0;
	const char *name = o->sort;
	*desc = false;
	if (*name == '-' || *name == '+')
		*desc = *name++ == '-';
	*col = t->ncols;
	for (size_t c = 0; c < t->ncols; c++)
		if (t->cols[c] && dp_strcasecmp(t->cols[c], name) == 0)
			*col = c;
	if (*col < t->ncols)
		return 0;
	dp_buf list = { 0 };
	for (size_t c = 0; c < t->ncols; c++)
		dp_buf_printf(&list, "%s%s", c ? ", " : "", t->cols[c]);
	int rc = dp_error(DNNPROV_EQUERY, "cannot sort by '%s': columns are %s", name, dp_buf_cstr(&list));
	dp_buf_free(&list);
	return rc;
}

static void free_rows(dp_table *t, size_t from, size_t to)
{
	for (size_t i = from * t->ncols; i < to * t->ncols; i++)
		if (t->cells[i].type == QV_TEXT)
			free((char *)t->cells[i].text);
}

/* --sort [+|-]COLUMN, or the default; then --offset and --limit. */
static int sort_and_limit(dp_table *t, const dp_qopts *o, size_t def_col, bool def_desc)
{
	size_t col;
	bool desc;
	int rc;
	/* An incomplete table is refused before printing; found here, since
	 * --limit could cut its failed cells off and hide it. */
	for (size_t i = 0; i < t->nrows * t->ncols && !t->failed; i++)
		t->failed = t->cells[i].type == QV_FAILED;
	for (size_t c = 0; c < t->ncols && !t->failed; c++)
		t->failed = t->cols[c] == NULL;
	if (t->failed)
		return dp_error(DNNPROV_ENOMEM, "out of memory: the result is incomplete");
	if ((rc = sort_column(t, o, def_col, def_desc, &col, &desc)))
		return rc;
	if (col < t->ncols && t->nrows > 1) {
		g_sort = (sort_ctx){ t, col, desc };
		qsort(t->cells, t->nrows, t->ncols * sizeof(dp_qv), cmp_rows);
	}
	t->paged = o->offset || o->limit;
	t->total = t->nrows;
	if (o->offset) {
		size_t skip = o->offset < t->nrows ? o->offset : t->nrows;
		free_rows(t, 0, skip);
		memmove(t->cells, t->cells + skip * t->ncols, (t->nrows - skip) * t->ncols * sizeof(dp_qv));
		t->nrows -= skip;
	}
	if (o->limit && t->nrows > o->limit) {
		free_rows(t, o->limit, t->nrows);
		t->nrows = o->limit;
	}
	return 0;
}

/* Whether `name` ([+|-]COLUMN as --sort takes it) names `col`, and no
 * hyperparameter of d has that name (--sort takes the last column of a
 * name): then *desc is the direction it asks for. */
static bool sort_names(const dp_qdataflow *d, const char *sort, const char *col, bool *desc)
{
	const char *name = sort;
	bool down = false;
	if (*name == '-' || *name == '+')
		down = *name++ == '-';
	if (dp_strcasecmp(name, col) != 0)
		return false;
	for (size_t i = 0; i < d->nhyps; i++)
		if (dp_strcasecmp(d->hyps[i].name, name) == 0)
			return false;
	*desc = down;
	return true;
}

/* The hyperparameter columns: the dataflow's, in declaration order. */
static int hyp_columns(dp_table *t, size_t first, const dp_qdataflow *d)
{
	int rc = 0;
	for (size_t i = 0; i < d->nhyps && !rc; i++)
		rc = dp_table_set_col(t, first + i, d->hyps[i].name,
				      strcmp(d->hyps[i].type, "numeric") == 0 ? COL_NUM : COL_TEXT);
	return rc;
}

/* In the table format, hyperparameter columns with one value in every row
 * say nothing about the differences between rows: they become one note
 * line, and the columns that differ get the width. */
static void omit_constant_columns(dp_table *t, size_t first, size_t n, dp_qnotes *notes)
{
	dp_buf line = { 0 };
	if (!notes || t->nrows < 2 || t->failed)
		return;
	for (size_t c = first; c < first + n; c++) {
		const dp_qv *v0 = &t->cells[c];
		bool same = true;
		for (size_t r = 1; r < t->nrows && same; r++) {
			const dp_qv *v = &t->cells[r * t->ncols + c];
			same = v->type == v0->type && v->type != QV_FAILED &&
			       (v->type == QV_NULL ||
				(v->type == QV_NUM ? dp_qv_cmp_num(v, v0) == 0 : strcmp(v->text, v0->text) == 0));
		}
		if (!same || v0->type == QV_NULL || v0->type == QV_FAILED)
			continue;
		dp_table_omit(t, c);
		if (v0->type == QV_TEXT) { /* a note of the table: shown as a cell would be */
			dp_buf_printf(&line, "%s%s=", line.len ? ", " : "", t->cols[c]);
			dp_terminal_text(&line, v0->text, strlen(v0->text));
		}
		else if (v0->integer)
			dp_buf_printf(&line, "%s%s=%" PRId64, line.len ? ", " : "", t->cols[c], v0->i);
		else
			dp_buf_printf(&line, "%s%s=%g", line.len ? ", " : "", t->cols[c], v0->num);
	}
	if (line.failed)
		notes->text.failed = true; /* the note would miss a column */
	else if (line.len)
		dp_buf_printf(&notes->text, "same in every row: %s\n", dp_buf_cstr(&line));
	dp_buf_free(&line);
}

static int hyp_cells(dp_qv *row, size_t first, const dp_qdataflow *d, const dp_qtask *t)
{
	int rc = 0;
	for (size_t i = 0; i < d->nhyps && !rc; i++)
		rc = copy_value(&row[first + i], dp_qtask_hyp(t, d->hyps[i].name));
	return rc;
}

/* ---- dataflows, describe ---------------------------------------------------------- */

int dp_cmd_dataflows(dp_query *q, dp_table *out)
{
	char **names;
	size_t n;
	int rc;

	if ((rc = dp_query_dataflows(q, &names, &n)))
		return rc;
	rc = dp_table_init(out, 4); /* on failure, the loop below frees the names */
	dp_table_set_col(out, 0, "dataflow", COL_TEXT);
	dp_table_set_col(out, 1, "tasks", COL_INT);
	dp_table_set_col(out, 2, "running", COL_INT);
	dp_table_set_col(out, 3, "last activity", COL_TIME);
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
				set_text(&row[0], names[i]);
				set_count(&row[1], tasks);
				set_count(&row[2], running);
				set_time(&row[3], last);
			}
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

static void describe_row(dp_table *out, const char *kind, const char *name, const char *detail)
{
	dp_qv *row = dp_table_add_row(out);
	if (!row)
		return;
	set_text(&row[0], kind);
	set_text(&row[1], name);
	set_text(&row[2], detail);
}

static void describe_value(dp_table *out, const char *kind, const char *name, const dp_qv *v)
{
	dp_qv *row = dp_table_add_row(out);
	if (!row)
		return;
	set_text(&row[0], kind);
	set_text(&row[1], name);
	if (copy_value(&row[2], v))
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
	describe_time(out, "last_seen", t->last);
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
out:
	dp_qdataflow_free(&d);
	return rc;
}

int dp_cmd_describe(dp_query *q, const dp_qopts *o, dp_table *out)
{
	dp_qdataflow d;
	dp_buf b = { 0 };
	msgpack_object tfs;
	int rc;

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

/* ---- runs ---------------------------------------------------------------------------- */

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
	rc = b.failed ? dp_error(DNNPROV_ENOMEM, "out of memory") : set_text(cell, dp_buf_cstr(&b));
	dp_buf_free(&b);
	return rc;
}


/* Where the columns of runs are: task, its fields (RUNS_C0 of them), the
 * hyperparameters, the last and best main metric, the end message, the
 * tags, then a column per run fact (--facts). */
#define RUNS_C0 8
typedef struct runs_cols {
	size_t msg, tags, f0;
	const char **facts;
	size_t nfacts;
} runs_cols;

static int runs_columns(dp_table *out, const dp_qdataflow *d, const char *metric, runs_cols *rc_)
{
	char name[DNNPROV_NAME_MAX + 16];
	int rc;

	rc_->msg = RUNS_C0 + d->nhyps + (metric ? 2 : 0);
	rc_->tags = rc_->msg + 1;
	rc_->f0 = rc_->msg + 2;
	if ((rc = dp_table_init(out, rc_->f0 + rc_->nfacts)))
		return rc;
	dp_table_set_col(out, 0, "task", COL_TEXT);
	dp_table_set_col(out, 1, "status", COL_TEXT);
	dp_table_set_col(out, 2, "start", COL_TIME);
	dp_table_omit(out, 2); /* in tables, duration and last_seen tell the time enough */
	dp_table_set_col(out, 3, "duration", COL_SECS);
	dp_table_set_col(out, 4, "active", COL_SECS);
	dp_table_set_col(out, 5, "attempts", COL_INT);
	dp_table_set_col(out, 6, "epochs", COL_INT);
	dp_table_set_col(out, 7, "last_seen", COL_AGO);
	hyp_columns(out, RUNS_C0, d);
	if (metric) {
		snprintf(name, sizeof(name), "last(%s)", metric);
		dp_table_set_col(out, RUNS_C0 + d->nhyps, name, COL_NUM);
		snprintf(name, sizeof(name), "best(%s)", metric);
		dp_table_set_col(out, RUNS_C0 + d->nhyps + 1, name, COL_NUM);
	}
	dp_table_set_col(out, rc_->msg, "message", COL_TEXT);
	dp_table_set_col(out, rc_->tags, "tags", COL_TEXT);
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
	set_text(&row[0], t->id);
	set_text(&row[1], t->status);
	set_time(&row[2], t->start);
	double until = isnan(t->end) ? t->last : t->end;
	if (!isnan(until) && !isnan(t->start))
		set_num(&row[3], until - t->start);
	set_num(&row[4], t->active);
	set_count(&row[5], t->attempts);
	set_count(&row[6], t->epochs);
	set_time(&row[7], t->last);
	rc = hyp_cells(row, RUNS_C0, d, t);
	if (!rc)
		rc = set_text(&row[c->msg], t->message);
	if (!rc)
		rc = tags_cell(&row[c->tags], t);
	for (size_t f = 0; f < c->nfacts && !rc; f++)
		rc = copy_value(&row[c->f0 + f], dp_qtask_fact(t, c->facts[f]));
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
	bool resumed = false, messages = false, tagged = false;
	for (size_t r = 0; r < out->nrows; r++) {
		const dp_qv *row = &out->cells[r * out->ncols];
		resumed |= row[5].type == QV_NUM && row[5].integer && row[5].i > 1;
		messages |= row[c->msg].type != QV_NULL;
		tagged |= row[c->tags].type != QV_NULL;
	}
	if (!tagged)
		dp_table_omit(out, c->tags);
	if (!resumed) {
		dp_table_omit(out, 4);
		dp_table_omit(out, 5);
	}
	if (!messages)
		dp_table_omit(out, c->msg);
}

/* ---- runs, a page of them ------------------------------------------------------------ */

/* One candidate of a page: its sort value and its id, which points into the
 * snapshot's map (valid while the transaction lives). */
typedef struct page_item {
	dp_qv key;
	const char *id;
} page_item;

/* Whether a comes before b in the page's order: the sort column as
 * cmp_rows orders it, then the task id. */
static bool page_before(const page_item *a, const page_item *b, bool desc)
{
	int c = cmp_cells(&a->key, &b->key, desc);
	return c ? c < 0 : strcmp(a->id, b->id) < 0;
}

/* The k best candidates seen, as a heap whose top is the worst of them. */
typedef struct page_heap {
	page_item *v;
	size_t n, cap, k;
	bool desc;
} page_heap;

static void heap_down(page_heap *h, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, w = i;
		if (l < h->n && page_before(&h->v[w], &h->v[l], h->desc))
			w = l;
		if (r < h->n && page_before(&h->v[w], &h->v[r], h->desc))
			w = r;
		if (w == i)
			return;
		page_item x = h->v[i];
		h->v[i] = h->v[w];
		h->v[w] = x;
		i = w;
	}
}

static int heap_offer(page_heap *h, const page_item *it)
{
	if (h->n < h->k) {
		if (h->n == h->cap) {
			size_t cap = h->cap ? h->cap * 2 : 128;
			page_item *grown = realloc(h->v, cap * sizeof(*grown));
			if (!grown)
				return dp_error(DNNPROV_ENOMEM, "out of memory");
			h->v = grown;
			h->cap = cap;
		}
		size_t i = h->n++;
		h->v[i] = *it;
		while (i && page_before(&h->v[(i - 1) / 2], &h->v[i], h->desc)) {
			page_item x = h->v[i];
			h->v[i] = h->v[(i - 1) / 2];
			h->v[(i - 1) / 2] = x;
			i = (i - 1) / 2;
		}
	} else if (h->k && page_before(it, &h->v[0], h->desc)) {
		h->v[0] = *it;
		heap_down(h, 0);
	}
	return 0;
}

/* Which column a page can be cut by without loading every task: the task
 * id (the tasks' keys), the start (read in place from the task values) or
 * an aggregate of a metric (the summaries). */
typedef enum page_key { PAGE_SLOW, PAGE_TASK, PAGE_START, PAGE_METRIC } page_key;

/* Walks the dataflow's task keys and, for PAGE_METRIC, the metric's
 * summaries beside them (both sorted by task id: a merge), and keeps the
 * k first in the page's order; *total counts the tasks.  Every task is
 * offered, so a task without a value takes its place among the missing
 * (last, by id), as in the whole answer. */
static int page_select(dp_query *q, const dp_qdataflow *d, const char *metric, page_key pk, const dp_agg *agg,
		       page_heap *h, size_t *total)
{
	dp_key tkey, skey;
	dp_scan ts, ss;
	MDB_val k, v, sk = { 0, NULL }, sv = { 0, NULL };
	int rc, src = DP_SCAN_END;

	*total = 0;
	dp_key_reset(&tkey);
	dp_key_cstr(&tkey, d->name);
	dp_key_reset(&skey);
	dp_key_cstr(&skey, d->name);
	if (metric)
		dp_key_cstr(&skey, metric);
	if ((rc = dp_scan_open(&ts, q->ix, q->txn, DP_DB_TASKS, &tkey, NULL)))
		return rc;
	if (pk == PAGE_METRIC) {
		if ((rc = dp_scan_open(&ss, q->ix, q->txn, DP_DB_SUMMARIES, &skey, NULL))) {
			dp_scan_close(&ts);
			return rc;
		}
		src = dp_scan_next(&ss, &sk, &sv);
	}
	while ((rc = dp_scan_next(&ts, &k, &v)) == DP_SCAN_ROW) {
		rc = 0;
		if (*total % 1024 == 0 && (rc = dp_query_past_deadline(q)))
			break;
		page_item it = { .id = (const char *)k.mv_data + tkey.n };
		(*total)++;
		if (pk == PAGE_TASK) {
			it.key.type = QV_TEXT;
			it.key.text = it.id;
		} else if (pk == PAGE_START) {
			double start;
			if (dp_task_start(v.mv_data, v.mv_size, &start) && !isnan(start))
				it.key = dp_qv_real(start);
		}
		/* Summaries of tasks before this one (none, unless the index
		 * holds a summary without its task) are passed over. */
		while (pk == PAGE_METRIC && src == DP_SCAN_ROW) {
			int c = strcmp((const char *)sk.mv_data + skey.n, it.id);
			if (c > 0)
				break;
			dp_summary s;
			int64_t e;
			if (c == 0 && dp_summary_unpack(sv.mv_data, sv.mv_size, &s))
				it.key = dp_query_summary_value(q, d->name, it.id, &s, metric, agg, &e);
			src = dp_scan_next(&ss, &sk, &sv);
		}
		if ((rc = heap_offer(h, &it)))
			break;
	}
	if (!rc && src < 0)
		rc = src;
	if (pk == PAGE_METRIC)
		dp_scan_close(&ss);
	dp_scan_close(&ts);
	return rc < 0 ? rc : dp_query_check(q);
}

static _Thread_local bool g_page_desc; /* as g_sort */
static int cmp_page(const void *a, const void *b)
{
	return page_before(a, b, g_page_desc) ? -1 : page_before(b, a, g_page_desc) ? 1 : 0;
}

/* runs with --limit or --offset, no --where, sorted by the task, the start
 * (the default) or the main metric: the page is chosen from the keys,
 * the starts and the summaries alone, and only its tasks are loaded, so
 * that the first page of 100,000 runs costs two range scans without
 * decoding and a lookup per row.  *done is false when the question needs
 * the whole load (runs_all). */
static int runs_page(dp_query *q, const dp_qopts *o, dp_table *out, dp_qnotes *notes, bool *done)
{
	dp_qdataflow d, page = { 0 };
	page_heap h = { 0 };
	const char *metric = NULL, **ids = NULL;
	const dp_qtask **sel = NULL;
	runs_cols cols = { 0 };
	size_t col, total, nsel = 0;
	bool desc, declared;
	int rc;

	*done = false;
	/* --facts: the fact columns are those of every task. */
	if ((o->where && *o->where) || o->facts || (!o->limit && !o->offset) || o->offset > SIZE_MAX / 2 ||
	    o->limit > SIZE_MAX / 2)
		return 0;
	if ((rc = dp_query_load_spec(q, o->df, &d)))
		return rc;
	if ((rc = dp_query_hyps_declared(q, &d, &declared)) || !declared)
		goto out;
	metric = d.nmetrics || o->metric ? resolve_metric(q, &d, o->metric, &rc) : NULL;
	if (rc || (rc = runs_columns(out, &d, metric, &cols)))
		goto out;
	if ((rc = sort_column(out, o, 2, false, &col, &desc)))
		goto out;
	bool last_col = metric && col == RUNS_C0 + d.nhyps, best_col = metric && col == RUNS_C0 + d.nhyps + 1;
	page_key pk = col == 0 ? PAGE_TASK : col == 2 ? PAGE_START : last_col || best_col ? PAGE_METRIC : PAGE_SLOW;
	if (pk == PAGE_SLOW) {
		dp_table_free(out);
		goto out;
	}
	*done = true;
	dp_agg agg = { last_col ? AGG_LAST : goal_lower(o, metric) ? AGG_MIN : AGG_MAX, 0 };
	h.k = o->limit ? o->offset + o->limit : SIZE_MAX;
	h.desc = desc;
	if ((rc = page_select(q, &d, metric, pk, &agg, &h, &total)))
		goto out;
	g_page_desc = desc;
	qsort(h.v, h.n, sizeof(*h.v), cmp_page);
	size_t from = o->offset < h.n ? o->offset : h.n, n = h.n - from;
	ids = calloc(n + 1, sizeof(*ids));
	sel = calloc(n + 1, sizeof(*sel));
	if (!ids || !sel) {
		rc = dp_error(DNNPROV_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		ids[i] = h.v[from + i].id;
	if ((rc = dp_query_load_ids(q, o->df, ids, n, &page)))
		goto out;
	dp_agg last = { AGG_LAST, 0 }, best = { goal_lower(o, metric) ? AGG_MIN : AGG_MAX, 0 };
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
	omit_constant_columns(out, RUNS_C0, d.nhyps, notes);
out:
	if (rc || !*done) {
		dp_table_free(out);
		memset(out, 0, sizeof(*out));
	}
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

	if ((rc = prepare(q, o, &d, &w)))
		return rc;
	metric = d.nmetrics || o->metric ? resolve_metric(q, &d, o->metric, &rc) : NULL;
	if (rc || (rc = select_tasks(q, &d, w, &sel, &n)))
		goto out;
	/* The fact names of the selected tasks, first seen first. */
	if (o->facts && (rc = fact_names(sel, n, &cols.facts, &cols.nfacts)))
		goto out;
	if ((rc = runs_columns(out, &d, metric, &cols)))
		goto out;
	dp_agg last = { AGG_LAST, 0 }, best = { goal_lower(o, metric ? metric : "") ? AGG_MIN : AGG_MAX, 0 };
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
		rc = sort_and_limit(out, o, 2, false); /* by start time */
	if (!rc)
		runs_omit(out, &cols);
	if (!rc)
		omit_constant_columns(out, RUNS_C0, d.nhyps, notes);
out:
	free(cols.facts);
	free(sel);
	dp_where_free(w);
	dp_qdataflow_free(&d);
	return rc;
}

int dp_cmd_runs(dp_query *q, const dp_qopts *o, dp_table *out, dp_qnotes *notes)
{
	bool done;
	int rc = runs_page(q, o, out, notes, &done);
	return rc || done ? rc : runs_all(q, o, out, notes);
}

/* ---- compare ------------------------------------------------------------------------- */

/* compare with --limit (and --offset), no --where, sorted by its metric
 * (the default): the rows are chosen as runs_page chooses a page, and only
 * their tasks are loaded into *d; *total gets the number of tasks, which
 * the whole answer would have had as rows.  *done is false when the
 * question needs every task loaded. */
static int compare_page(dp_query *q, const dp_qopts *o, dp_qdataflow *d, bool *done, size_t *total)
{
	dp_qdataflow spec;
	page_heap h = { 0 };
	const char **ids = NULL;
	char col[DNNPROV_NAME_MAX + 32], aggname[32];
	bool declared;
	int rc;

	*done = false;
	if ((o->where && *o->where) || !o->limit || o->agg.kind == AGG_AT || o->offset > SIZE_MAX / 2 ||
	    o->limit > SIZE_MAX / 2)
		return 0;
	if ((rc = dp_query_load_spec(q, o->df, &spec)))
		return rc;
	const char *metric = NULL;
	if ((rc = dp_query_hyps_declared(q, &spec, &declared)) || !declared ||
	    !(metric = resolve_metric(q, &spec, o->metric, &rc)) || rc)
		goto out;
	bool lower = goal_lower(o, metric), desc = !lower;
	dp_agg agg = o->agg;
	if (agg.kind == AGG_BEST)
		agg.kind = lower ? AGG_MIN : AGG_MAX;
	snprintf(col, sizeof(col), "%s(%s)", dp_agg_name(&agg, aggname, sizeof(aggname)), metric);
	if (o->sort && *o->sort && !sort_names(&spec, o->sort, col, &desc))
		goto out;
	h.k = o->offset + o->limit;
	h.desc = desc;
	if ((rc = page_select(q, &spec, metric, PAGE_METRIC, &agg, &h, total)))
		goto out;
	g_page_desc = desc;
	qsort(h.v, h.n, sizeof(*h.v), cmp_page);
	if (!(ids = calloc(h.n + 1, sizeof(*ids)))) {
		rc = dp_error(DNNPROV_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < h.n; i++)
		ids[i] = h.v[i].id;
	if ((rc = dp_query_load_ids(q, o->df, ids, h.n, d)))
		goto out;
	*done = true;
out:
	free(ids);
	free(h.v);
	dp_qdataflow_free(&spec);
	if (!*done && (rc == DNNPROV_EQUERY || rc == DNNPROV_ENOTFOUND)) {
		rc = 0; /* the whole load gives the answer or the error */
		dp_error_clear();
	}
	return rc;
}

int dp_cmd_compare(dp_query *q, const dp_qopts *o, dp_table *out, dp_qnotes *notes)
{
	dp_qdataflow d;
	dp_where *w;
	const dp_qtask **sel = NULL;
	size_t n;
	const char *metric;
	char name[DNNPROV_NAME_MAX + 32], aggname[32];
	size_t total = 0;
	bool paged;
	int rc;

	w = NULL;
	if ((rc = compare_page(q, o, &d, &paged, &total)) || (!paged && (rc = prepare(q, o, &d, &w))))
		return rc;
	metric = resolve_metric(q, &d, o->metric, &rc);
	if (rc || (rc = select_tasks(q, &d, w, &sel, &n)) || (rc = dp_table_init(out, 4 + d.nhyps)))
		goto out;
	bool lower = goal_lower(o, metric);
	dp_agg agg = o->agg;
	if (agg.kind == AGG_BEST)
		agg.kind = lower ? AGG_MIN : AGG_MAX;
	snprintf(name, sizeof(name), "%s(%s)", dp_agg_name(&agg, aggname, sizeof(aggname)), metric);
	dp_table_set_col(out, 0, "task", COL_TEXT);
	dp_table_set_col(out, 1, "status", COL_TEXT);
	hyp_columns(out, 2, &d);
	dp_table_set_col(out, 2 + d.nhyps, name, COL_NUM);
	dp_table_set_col(out, 3 + d.nhyps, "at_epoch", COL_INT);
	dp_qv *vals = calloc(d.ntasks + 1, sizeof(dp_qv));
	int64_t *eps = calloc(d.ntasks + 1, sizeof(int64_t));
	if (!vals || !eps)
		rc = dp_error(DNNPROV_ENOMEM, "out of memory");
	else
		rc = dp_query_metric_column(q, &d, metric, &agg, vals, eps);
	for (size_t i = 0; i < n && !rc; i++) {
		dp_qv *row = dp_table_add_row(out);
		size_t at = (size_t)(sel[i] - d.tasks);
		if (!row) {
			rc = dp_error(DNNPROV_ENOMEM, "out of memory");
			break;
		}
		set_text(&row[0], sel[i]->id);
		set_text(&row[1], sel[i]->status);
		rc = hyp_cells(row, 2, &d, sel[i]);
		row[2 + d.nhyps] = vals[at];
		if (vals[at].type != QV_NULL)
			set_int(&row[3 + d.nhyps], eps[at]);
	}
	free(vals);
	free(eps);
	if (!rc)
		rc = sort_and_limit(out, o, 2 + d.nhyps, !lower); /* best first, missing last */
	if (!rc && paged)
		out->total = total; /* the rows of the whole answer */
	if (!rc)
		omit_constant_columns(out, 2, d.nhyps, notes);
out:
	free(sel);
	dp_where_free(w);
	dp_qdataflow_free(&d);
	return rc;
}

/* ---- effect ------------------------------------------------------------------------- */

/* The ranks of v[0..n) in r, ties sharing the mean of their ranks, NaN
 * last.  The values are sorted by their sortable bits (dp_sortable_double:
 * unsigned order is numeric order), an LSD radix sort of 6 digits of 11
 * bits that skips a digit every value shares (and values already in
 * order are not sorted): a correlation of 100,000 tasks costs a few
 * passes, not a qsort through a comparison function. */
static bool ranks(const double *v, size_t n, double *r)
{
	enum { BITS = 11, DIGITS = 6, RADIX = 1 << BITS };
	typedef struct rkey {
		uint64_t key;
		size_t i;
	} rkey;
	rkey *a = malloc((n ? n : 1) * sizeof(*a)), *b = malloc((n ? n : 1) * sizeof(*b));
	size_t(*count)[RADIX] = calloc(DIGITS, sizeof(*count));
	bool sorted = true; /* effect's x comes in order */

	if (!a || !b || !count) {
		free(a);
		free(b);
		free(count);
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		a[i].key = isnan(v[i]) ? UINT64_MAX : dp_sortable_double(v[i]);
		a[i].i = i;
		sorted = sorted && !isnan(v[i]) && (i == 0 || v[i - 1] <= v[i]);
	}
	for (size_t i = 0; i < n && !sorted; i++)
		for (int d = 0; d < DIGITS; d++)
			count[d][(a[i].key >> (d * BITS)) & (RADIX - 1)]++;
	for (int d = 0; d < DIGITS && !sorted; d++) {
		size_t sum = 0;
		bool shared = false;
		for (size_t c = 0; c < RADIX; c++) {
			size_t k = count[d][c];
			shared = shared || k == n;
			count[d][c] = sum;
			sum += k;
		}
		if (shared)
			continue;
		for (size_t i = 0; i < n; i++)
			b[count[d][(a[i].key >> (d * BITS)) & (RADIX - 1)]++] = a[i];
		rkey *t = a;
		a = b;
		b = t;
	}
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && v[a[j + 1].i] == v[a[i].i])
			j++;
		double avg = (double)(i + j) / 2.0 + 1.0; /* ties share the mean rank */
		for (size_t k = i; k <= j; k++)
			r[a[k].i] = avg;
		i = j + 1;
	}
	free(a);
	free(b);
	free(count);
	return true;
}

int dp_spearman(const double *x, const double *y, size_t n, double *rho)
{
	double *rx, *ry, mx = 0, my = 0, sxy = 0, sxx = 0, syy = 0;
	*rho = NAN;
	if (n < 3)
		return 0;
	rx = malloc(n * sizeof(double));
	ry = malloc(n * sizeof(double));
	if (!rx || !ry || !ranks(x, n, rx) || !ranks(y, n, ry)) {
		free(rx);
		free(ry);
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		mx += rx[i];
		my += ry[i];
	}
	mx /= (double)n;
	my /= (double)n;
	for (size_t i = 0; i < n; i++) {
		sxy += (rx[i] - mx) * (ry[i] - my);
		sxx += (rx[i] - mx) * (rx[i] - mx);
		syy += (ry[i] - my) * (ry[i] - my);
	}
	free(rx);
	free(ry);
	if (sxx > 0 && syy > 0)
		*rho = sxy / sqrt(sxx * syy);
	return 0;
}

typedef struct eff_item {
	const char *task; /* its id */
	dp_qv h;
	double m; /* NaN when the task lacks the metric */
} eff_item;

/* By value, then by task id: the order of hyp_index's keys, which the
 * quick path reads as they come (ties are broken the same way on both
 * paths, whatever qsort does with equal items). */
static int cmp_eff(const void *a, const void *b)
{
	const eff_item *x = a, *y = b;
	int c;
	if (x->h.type != y->h.type)
		return x->h.type == QV_NUM ? -1 : 1;
	c = x->h.type == QV_NUM ? dp_qv_cmp_num(&x->h, &y->h) : strcmp(x->h.text, y->h.text);
	return c ? c : strcmp(x->task, y->task);
}

/* The mean and sample standard deviation of the metric values (not NaN,
 * cnt of them) of items[start..end).  Values near DBL_MAX overflow a plain
 * sum or sum of squares although the answer is a double: such a pass is
 * redone on halves, the squares scaled by the largest deviation. */
static void group_stats(const eff_item *items, size_t start, size_t end, size_t cnt, double *mean, double *sd)
{
	double sum = 0, sq = 0, scale = 0;
	bool finite = true;

	*mean = *sd = NAN;
	if (!cnt)
		return;
	for (size_t i = start; i < end; i++)
		if (!isnan(items[i].m)) {
			sum += items[i].m;
			finite = finite && isfinite(items[i].m);
		}
	*mean = sum / (double)cnt;
	if (finite && !isfinite(*mean)) {
		*mean = 0;
		for (size_t i = start; i < end; i++)
			if (!isnan(items[i].m))
				*mean += items[i].m / (double)cnt;
	}
	if (cnt < 2)
		return;
	for (size_t i = start; i < end; i++)
		if (!isnan(items[i].m))
			sq += (items[i].m - *mean) * (items[i].m - *mean);
	*sd = sqrt(sq / (double)(cnt - 1));
	if (!finite || isfinite(*sd))
		return;
	for (size_t i = start; i < end; i++)
		if (!isnan(items[i].m) && fabs(items[i].m / 2 - *mean / 2) > scale)
			scale = fabs(items[i].m / 2 - *mean / 2);
	sq = 0;
	for (size_t i = start; i < end; i++)
		if (!isnan(items[i].m)) {
			double r = (items[i].m / 2 - *mean / 2) / scale;
			sq += r * r;
		}
	*sd = 2 * scale * sqrt(sq / (double)(cnt - 1));
}

static bool same_value(const dp_qv *a, const dp_qv *b)
{
	return a->type == b->type && (a->type == QV_NUM ? dp_qv_cmp_num(a, b) == 0 : strcmp(a->text, b->text) == 0);
}

/* The metric and hyperparameter named by the options, as the dataflow
 * spells them. */
static int effect_names(dp_query *q, const dp_qopts *o, const dp_qdataflow *d, const char **metric,
			const char **hyp)
{
	int rc = 0;
	*metric = resolve_metric(q, d, o->metric, &rc);
	if (rc)
		return rc;
	*hyp = o->hyp ? dp_qdf_hyp(d, o->hyp) : NULL;
	if (!*hyp) {
		dp_buf list = { 0 };
		for (size_t i = 0; i < d->nhyps; i++)
			dp_buf_printf(&list, "%s%s", i ? ", " : "", d->hyps[i].name);
		rc = dp_error(DNNPROV_ENOTFOUND, "no hyperparameter '%s' in dataflow %s (hyperparameters: %s)",
			      o->hyp ? o->hyp : "", d->name, list.len ? dp_buf_cstr(&list) : "none");
		dp_buf_free(&list);
	}
	return rc;
}

/* What the groups of items (in value order) are. */
typedef struct eff_shape {
	bool numeric; /* every value is a number: bins and a correlation */
	bool binned;
	int bins;
	size_t m_bin; /* the items before the NaN values */
} eff_shape;

static eff_shape effect_shape(const eff_item *items, size_t m, int bins)
{
	eff_shape s = { .numeric = m && items[0].h.type == QV_NUM && items[m - 1].h.type == QV_NUM };
	size_t distinct = 0;
	/* NaN is no place on the axis: NaN values (sorted last) are a group
	 * of their own, never in a bin or the correlation. */
	s.m_bin = m;
	while (s.numeric && s.m_bin && dp_qv_isnan(&items[s.m_bin - 1].h))
		s.m_bin--;
	for (size_t i = 0; i < s.m_bin; i++)
		distinct += i == 0 || !same_value(&items[i].h, &items[i - 1].h);
	if (bins <= 0)
		bins = s.numeric && distinct > 10 ? 5 : 0;
	s.bins = bins;
	s.binned = s.numeric && bins > 0 && distinct > (size_t)bins;
	return s;
}

/* The table of items (in value order, then task id): a row per group. */
static int effect_table(const eff_item *items, size_t m, const eff_shape *s, const char *hyp, const char *metric,
			const dp_agg *agg, bool lower, dp_table *out, dp_qnotes *notes)
{
	char aggname[32], col[DNNPROV_NAME_MAX + 40];
	bool numeric = s->numeric, binned = s->binned;
	size_t m_bin = s->m_bin;
	int bins = s->bins, rc;

	if ((rc = dp_table_init(out, 9)))
		return rc;
	dp_table_set_col(out, 0, hyp, numeric && !binned ? COL_NUM : COL_TEXT);
	dp_table_set_col(out, 1, "tasks", COL_INT);
	snprintf(col, sizeof(col), "%s(%s)", dp_agg_name(agg, aggname, sizeof(aggname)), metric);
	dp_table_set_col(out, 2, "n", COL_INT);
	dp_table_set_col(out, 3, "mean", COL_NUM);
	dp_table_set_col(out, 4, "std", COL_NUM);
	dp_table_set_col(out, 5, "min", COL_NUM);
	dp_table_set_col(out, 6, "max", COL_NUM);
	dp_table_set_col(out, 7, "best_task", COL_TEXT);
	dp_table_set_col(out, 8, "spearman", COL_NUM);
	dp_table_omit(out, 8); /* the table says it in a note */

	/* Groups: each distinct value, or `bins` groups of about equal size
	 * that never split one value. */
	size_t start = 0;
	for (size_t g = 0; start < m && !rc; g++) {
		size_t end = start + 1;
		bool bin = binned && start < m_bin;
		if (bin) {
			size_t target = (size_t)(((double)m_bin * (double)(g + 1)) / (double)bins + 0.5);
			if (target <= start)
				target = start + 1;
			end = target > m_bin ? m_bin : target;
			while (end < m_bin && same_value(&items[end].h, &items[end - 1].h))
				end++;
		} else {
			while (end < m && same_value(&items[end].h, &items[start].h))
				end++;
		}
		dp_qv *row = dp_table_add_row(out);
		if (!row)
			return dp_error(DNNPROV_ENOMEM, "out of memory");
		if (bin) {
			char label[96];
			snprintf(label, sizeof(label), "%.4g .. %.4g", items[start].h.num, items[end - 1].h.num);
			set_text(&row[0], label);
		} else if (binned) {
			set_text(&row[0], "NaN");
		} else {
			copy_value(&row[0], &items[start].h);
		}
		size_t cnt = 0;
		double mn = NAN, mx = NAN, mean, sd;
		const char *best = NULL;
		double bestv = NAN;
		for (size_t i = start; i < end; i++) {
			double v = items[i].m;
			if (isnan(v))
				continue;
			cnt++;
			if (isnan(mn) || v < mn)
				mn = v;
			if (isnan(mx) || v > mx)
				mx = v;
			if (!best || (lower ? v < bestv : v > bestv)) {
				best = items[i].task;
				bestv = v;
			}
		}
		group_stats(items, start, end, cnt, &mean, &sd);
		set_count(&row[1], end - start);
		set_count(&row[2], cnt);
		if (cnt) {
			set_num(&row[3], mean);
			if (cnt > 1)
				set_num(&row[4], sd);
			set_num(&row[5], mn);
			set_num(&row[6], mx);
			set_text(&row[7], best);
		}
		start = end;
	}
	/* Spearman over every task with both values. */
	double rho = NAN;
	size_t pairs = 0;
	if (numeric && m) {
		double *x = malloc(m * sizeof(double)), *y = malloc(m * sizeof(double));
		for (size_t i = 0; x && y && i < m_bin; i++)
			if (!isnan(items[i].m)) {
				x[pairs] = items[i].h.num;
				y[pairs++] = items[i].m;
			}
		/* Out of memory is an error, not "n/a": that would be a finding. */
		rc = x && y ? dp_spearman(x, y, pairs, &rho) : dp_error(DNNPROV_ENOMEM, "out of memory");
		free(x);
		free(y);
		if (rc)
			return rc;
	}
	for (size_t r = 0; r < out->nrows; r++)
		if (!isnan(rho))
			set_num(&out->cells[r * out->ncols + 8], rho);
	if (notes) {
		dp_buf_printf(&notes->text, "grouped %zu tasks with %s by %s%s; metric: %s\n", m, hyp,
			      binned ? "bins of about equal size" : "value", lower ? " (lower is better)" : "", col);
		if (numeric && isnan(rho))
			dp_buf_printf(&notes->text, "Spearman's rank correlation of %s with %s: n/a (n=%zu)\n", hyp,
				      col, pairs);
		else if (numeric)
			dp_buf_printf(&notes->text, "Spearman's rank correlation of %s with %s: %.3f (n=%zu)\n", hyp,
				      col, rho, pairs);
	}
	return 0;
}

/* The aggregate --agg names, with best made min or max by the goal. */
static dp_agg effect_agg(const dp_qopts *o, bool lower)
{
	dp_agg agg = o->agg;
	if (agg.kind == AGG_BEST)
		agg.kind = lower ? AGG_MIN : AGG_MAX;
	return agg;
}

/* Every task of the dataflow passing --where: loaded, then sorted by value. */
static int effect_slow(dp_query *q, const dp_qopts *o, dp_table *out, dp_qnotes *notes)
{
	dp_qdataflow d;
	dp_where *w;
	const dp_qtask **sel = NULL;
	eff_item *items = NULL;
	dp_qv *column = NULL;
	size_t n, m = 0;
	const char *metric, *hyp;
	int rc;

	if ((rc = prepare(q, o, &d, &w)))
		return rc;
	if ((rc = effect_names(q, o, &d, &metric, &hyp)) || (rc = select_tasks(q, &d, w, &sel, &n)))
		goto out;
	bool lower = goal_lower(o, metric);
	dp_agg agg = effect_agg(o, lower);
	items = calloc(n ? n : 1, sizeof(*items));
	column = calloc(d.ntasks + 1, sizeof(dp_qv));
	if (!items || !column) {
		rc = dp_error(DNNPROV_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = dp_query_metric_column(q, &d, metric, &agg, column, NULL)))
		goto out;
	for (size_t i = 0; i < n; i++) {
		const dp_qv *h = dp_qtask_hyp(sel[i], hyp);
		if (!h || h->type == QV_NULL)
			continue; /* a task without the hyperparameter says nothing of it */
		dp_qv v = column[sel[i] - d.tasks];
		items[m].task = sel[i]->id;
		items[m].h = *h;
		items[m].m = v.type == QV_NUM ? v.num : NAN;
		m++;
	}
	qsort(items, m, sizeof(*items), cmp_eff);
	eff_shape s = effect_shape(items, m, o->bins);
	rc = effect_table(items, m, &s, hyp, metric, &agg, lower, out, notes);
out:
	free(column);
	free(items);
	free(sel);
	dp_where_free(w);
	dp_qdataflow_free(&d);
	return rc;
}

/* ---- effect without loading tasks ----------------------------------------------------
 * Without --where, effect reads hyp_index (the tasks with a value, in value
 * order, then id: the order effect_slow sorts them in) and the metric's
 * summaries, and loads no task.  hyp_index holds a number as a double and
 * leaves out what is neither number nor text (or too long for a key), so
 * its answer is the slow path's only when the data allow; else effect_fast
 * says so (EFFECT_SLOW) and the tasks are loaded:
 *   - a name some task used is not in the specification (the dataflow's
 *     mark), or two declared names differ only in case: a task's value
 *     could sit under another spelling;
 *   - a task hyp_index lists twice;
 *   - a task hyp_index lacks that has a value (a boolean, a long text):
 *     when the dataflow has more tasks than hyp_index lists, or the
 *     number is unknown (the index holds other dataflows: LMDB counts a
 *     whole database), the tasks are scanned and those it lacks read;
 *   - a number that no double tells apart from its neighbours (past 2^53:
 *     integers), or two keys effect takes for one value (NaNs of two
 *     kinds), or a NaN before a number (a negative NaN): effect's order
 *     would differ.
 * An integer and a real of one value are one key, and so are -0 and 0:
 * the values a label shows are read from their tasks.  hyp_index is
 * written and dropped with its tasks, in their transaction: a task it
 * lists is taken to exist, and to have the value it lists (a begin naming
 * one hyperparameter twice, which no writer makes, could differ). */
enum { EFFECT_SLOW = 1 };

/* The items' task ids by hash: open addressing, the hash kept in the slot
 * so that a probe reads an id only when the hash matches. */
typedef struct eff_slot {
	uint32_t hash;
	uint32_t pos; /* the item's position + 1; 0: an empty slot */
} eff_slot;

typedef struct eff_ids {
	const eff_item *items;
	eff_slot *slots;
	size_t mask;
} eff_ids;

static uint64_t id_hash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a, then a final mix */
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ull;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	return h ^ (h >> 33);
}

/* The slot of id[0..n): its own, or the empty one where it would go. */
static eff_slot *id_slot(const eff_ids *x, const char *id, size_t n)
{
	uint64_t h = id_hash(id, n);
	for (size_t i = (size_t)h & x->mask;; i = (i + 1) & x->mask) {
		eff_slot *e = &x->slots[i];
		if (!e->pos)
			return e;
		const char *t = x->items[e->pos - 1].task;
		if (e->hash == (uint32_t)(h >> 32) && strncmp(t, id, n) == 0 && t[n] == '\0')
			return e;
	}
}

/* Indexes items[0..m) by task id (once); EFFECT_SLOW when a task is there
 * twice. */
static int eff_ids_build(eff_ids *x, const eff_item *items, size_t m)
{
	size_t cap = 64;
	if (x->slots)
		return 0;
	while (cap < 2 * m)
		cap *= 2;
	x->items = items;
	x->mask = cap - 1;
	if (m >= UINT32_MAX || !(x->slots = calloc(cap, sizeof(*x->slots))))
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	for (size_t i = 0; i < m; i++) {
		size_t n = strlen(items[i].task);
		eff_slot *e = id_slot(x, items[i].task, n);
		if (e->pos)
			return EFFECT_SLOW;
		e->hash = (uint32_t)(id_hash(items[i].task, n) >> 32);
		e->pos = (uint32_t)(i + 1);
	}
	return 0;
}

/* The item of task id[0..n), or -1. */
static ptrdiff_t id_item(const eff_ids *x, const char *id, size_t n)
{
	return (ptrdiff_t)id_slot(x, id, n)->pos - 1;
}

/* A task's value of hyp as dp_qtask_hyp has it once loaded: the first
 * name that matches ignoring case; DP_F_NULL when none, or when the task
 * value cannot be read (load_task shows such a task without values). */
static dp_field task_hyp(const MDB_val *v, const char *hyp)
{
	dp_task_fields tf;
	dp_field f = { 0 };
	if (dp_task_fields_parse(v->mv_data, v->mv_size, &tf) != 0 || !tf.hyps.p)
		return f;
	dp_rmap m = { .raw = (const unsigned char *)tf.hyps.p, .rawlen = tf.hyps.n };
	size_t n = dp_rmap_size(m), hn = strlen(hyp);
	for (size_t i = 0; i < n; i++) {
		dp_str name;
		/* A name is a C string once loaded: up to a NUL. */
		if (dp_rmap_at(m, i, &name, &f) && strnlen(name.p, name.n) == hn && dp_strncasecmp(name.p, hyp, hn) == 0)
			return f;
	}
	return (dp_field){ 0 };
}

/* One row of hyp_index past its prefix (df, hyp): the value as effect_slow
 * would have it but for integers, and the task; false for a key that is
 * none. */
static bool hyp_row(const MDB_val *k, size_t prefix, dp_qv *h, const char **task)
{
	const unsigned char *b = k->mv_data;
	size_t pos = prefix + 1, n, tn;
	const char *s;
	double d;
	if (k->mv_size <= prefix)
		return false;
	memset(h, 0, sizeof(*h));
	if (b[prefix] == 1 && dp_key_get_double(b, k->mv_size, &pos, &d)) {
		*h = dp_qv_real(d);
	} else if (b[prefix] == 2 && dp_key_get_str(b, k->mv_size, &pos, &s, &n)) {
		h->type = QV_TEXT;
		h->text = s; /* ends at the key's 0x00 */
	} else {
		return false;
	}
	/* A text holding a NUL would leave a field over. */
	return dp_key_get_str(b, k->mv_size, &pos, task, &tn) && pos == k->mv_size && tn > 0;
}

/* Whether value h, after prev (in key order), keeps effect_slow's order
 * and groups: see the list above. */
static bool hyp_row_fits(const dp_qv *prev, const dp_qv *h)
{
	if (h->type != QV_NUM)
		return true;
	if (fabs(h->num) >= 9007199254740992.0) /* 2^53 */
		return false;
	if (!prev || prev->type != QV_NUM)
		return true;
	if (dp_qv_isnan(prev))
		return false; /* NaN sorts last in effect */
	uint64_t a, b;
	memcpy(&a, &prev->num, sizeof(a));
	memcpy(&b, &h->num, sizeof(b));
	return a == b || !same_value(prev, h); /* two NaNs */
}

/* The tasks with a value of hyp, from hyp_index, in *items (m of them). */
static int eff_hyp_items(dp_query *q, const char *df, const char *hyp, eff_item **items, size_t *m)
{
	dp_key key;
	dp_scan sc;
	MDB_val k, v;
	size_t cap = 0;
	int rc;

	dp_key_reset(&key);
	dp_key_cstr(&key, df);
	dp_key_cstr(&key, hyp);
	if (key.overflow)
		return EFFECT_SLOW;
	if ((rc = dp_scan_open(&sc, q->ix, q->txn, DP_DB_HYP_INDEX, &key, NULL)))
		return rc;
	while ((rc = dp_scan_next(&sc, &k, &v)) == DP_SCAN_ROW) {
		eff_item it = { .m = NAN };
		rc = 0;
		if (*m % 1024 == 0 && (rc = dp_query_past_deadline(q)))
			break;
		if (!hyp_row(&k, key.n, &it.h, &it.task) || !hyp_row_fits(*m ? &(*items)[*m - 1].h : NULL, &it.h)) {
			rc = EFFECT_SLOW;
			break;
		}
		if (*m == cap) {
			size_t grow = cap ? cap * 2 : 1024;
			eff_item *more = realloc(*items, grow * sizeof(*more));
			if (!more) {
				rc = dp_error(DNNPROV_ENOMEM, "out of memory");
				break;
			}
			*items = more;
			cap = grow;
		}
		(*items)[(*m)++] = it;
	}
	dp_scan_close(&sc);
	return rc;
}

/* The first 8 bytes of id[0..n) (then zeros), big-endian: integers that
 * order as the ids do, unless equal. */
static uint64_t id_prefix(const char *id, size_t n)
{
	uint64_t p = 0;
	for (size_t i = 0; i < 8; i++)
		p = p << 8 | (i < n ? (unsigned char)id[i] : 0);
	return p;
}

/* The runs of hyp_index's keys (items of one key, in task order) merged
 * into task order: a heap of the runs by their next item's task.  For a
 * hyperparameter of a few values, this joins the items with the
 * summaries (in task order too) at a few comparisons of nearby ids each,
 * where a hash table would reach far into memory twice per task. */
typedef struct eff_run {
	uint64_t prefix; /* of the next item's task */
	size_t next, end; /* items[next..end) */
} eff_run;

typedef struct eff_runs {
	const eff_item *items;
	eff_run *run; /* a heap: run[0] has the first task */
	size_t n;
	const char *last; /* the task taken last, to find one listed twice */
} eff_runs;

enum { EFF_MERGE_RUNS = 32 };

static void run_head(eff_runs *r, eff_run *x)
{
	const char *t = r->items[x->next].task;
	x->prefix = id_prefix(t, strnlen(t, 8));
}

static bool run_before(const eff_runs *r, const eff_run *a, const eff_run *b)
{
	if (a->prefix != b->prefix)
		return a->prefix < b->prefix;
	return strcmp(r->items[a->next].task, r->items[b->next].task) < 0;
}

static void runs_sift(eff_runs *r, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, least = i;
		if (l < r->n && run_before(r, &r->run[l], &r->run[least]))
			least = l;
		if (l + 1 < r->n && run_before(r, &r->run[l + 1], &r->run[least]))
			least = l + 1;
		if (least == i)
			return;
		eff_run t = r->run[i];
		r->run[i] = r->run[least];
		r->run[least] = t;
		i = least;
	}
}

/* Takes the first item in task order: its position, or EFFECT_SLOW when its
 * task came before (listed twice). */
static int runs_take(eff_runs *r, size_t *item)
{
	*item = r->run[0].next;
	if (r->last && strcmp(r->last, r->items[*item].task) == 0)
		return EFFECT_SLOW;
	r->last = r->items[*item].task;
	if (++r->run[0].next == r->run[0].end)
		r->run[0] = r->run[--r->n];
	else
		run_head(r, &r->run[0]);
	runs_sift(r, 0);
	return 0;
}

/* How the first task of the runs compares with task s[0..n) (prefix p). */
static int runs_cmp(const eff_runs *r, const char *s, size_t n, uint64_t p)
{
	const eff_run *x = &r->run[0];
	if (x->prefix != p)
		return x->prefix < p ? -1 : 1;
	const char *t = r->items[x->next].task;
	int c = strncmp(t, s, n);
	return c ? c : t[n] != '\0';
}

/* The runs of items[0..m): false when there are more than EFF_MERGE_RUNS. */
static bool runs_find(eff_runs *r, const eff_item *items, size_t m, eff_run *run)
{
	r->items = items;
	r->run = run;
	r->n = 0;
	r->last = NULL;
	for (size_t i = 0; i < m; i++) {
		const dp_qv *a = &items[i].h, *b = i ? &items[i - 1].h : NULL;
		bool same = b && a->type == b->type &&
			    (a->type == QV_NUM ? memcmp(&a->num, &b->num, sizeof(a->num)) == 0 : strcmp(a->text, b->text) == 0);
		if (same) {
			run[r->n - 1].end = i + 1;
			continue;
		}
		if (r->n == EFF_MERGE_RUNS)
			return false;
		run[r->n] = (eff_run){ .next = i, .end = i + 1 };
		run_head(r, &run[r->n++]);
	}
	for (size_t i = r->n; i-- > 0;)
		runs_sift(r, i);
	return true;
}

/* The metric of each item's task (items hold NaN), and whether a task is
 * listed twice (EFFECT_SLOW): one scan of the metric's summaries, joined
 * by merging the runs or through the table of ids x (built here when
 * *x has none); or a lookup each where effect_slow looks up (a few tasks,
 * at=EPOCH). */
static int eff_metric(dp_query *q, const char *df, const char *metric, const dp_agg *agg, eff_ids *x,
		      eff_item *items, size_t m)
{
	eff_run run[EFF_MERGE_RUNS];
	eff_runs r;
	dp_scan sc;
	MDB_val k, v;
	size_t prefix;
	int rc;

	bool merge = agg->kind != AGG_AT && m > 256 && runs_find(&r, items, m, run);
	if (!merge && (rc = eff_ids_build(x, items, m)))
		return rc;
	if (agg->kind == AGG_AT || m <= 256) {
		for (size_t i = 0; i < m; i++) {
			dp_qv mv = dp_query_metric(q, df, items[i].task, metric, agg, NULL);
			items[i].m = mv.type == QV_NUM ? mv.num : NAN;
		}
		return 0;
	}
	if ((rc = dp_query_summaries_open(q, df, metric, &sc, &prefix)))
		return rc;
	for (size_t row = 0; (rc = dp_scan_next(&sc, &k, &v)) == DP_SCAN_ROW; row++) {
		const char *task = (const char *)k.mv_data + prefix;
		size_t tn = k.mv_size - prefix - 1, i = 0;
		ptrdiff_t found = -1;
		dp_summary s;
		int64_t e;
		rc = 0;
		if (row % 1024 == 0 && (rc = dp_query_past_deadline(q)))
			break;
		if (merge) {
			uint64_t p = id_prefix(task, tn);
			int c = 1;
			/* The items before this task have no summary. */
			while (r.n && (c = runs_cmp(&r, task, tn, p)) < 0 && !(rc = runs_take(&r, &i)))
				;
			if (!rc && r.n && c == 0 && !(rc = runs_take(&r, &i)))
				found = (ptrdiff_t)i;
			if (rc)
				break;
		} else {
			found = id_item(x, task, tn);
		}
		if (found < 0 || !dp_summary_unpack(v.mv_data, v.mv_size, &s))
			continue;
		dp_qv mv = dp_query_summary_value(q, df, items[found].task, &s, metric, agg, &e);
		items[found].m = mv.type == QV_NUM ? mv.num : NAN;
	}
	dp_scan_close(&sc);
	for (size_t i; merge && !rc && r.n;) /* the rest, for a task listed twice */
		rc = runs_take(&r, &i);
	return rc;
}

/* How many tasks the dataflow has, when one look tells: the whole tasks
 * database's when the index holds one dataflow; else *known is false. */
static int eff_task_count(dp_query *q, size_t *n, bool *known)
{
	MDB_stat dfs, ts;
	int mrc;
	*known = false;
	if ((mrc = mdb_stat(q->txn, q->ix->dbi[DP_DB_DATAFLOWS], &dfs)) ||
	    (mrc = mdb_stat(q->txn, q->ix->dbi[DP_DB_TASKS], &ts)))
		return dp_lmdb_error(mrc, "tasks");
	*known = dfs.ms_entries == 1;
	*n = ts.ms_entries;
	return 0;
}

/* The tasks hyp_index lacks must lack a value, and the ones it lists
 * must exist: one scan of the dataflow's tasks, reading the values of the
 * tasks it lacks. */
static int eff_check_tasks(dp_query *q, const char *df, const char *hyp, eff_ids *x, const eff_item *items,
			   size_t m)
{
	dp_key key;
	dp_scan sc;
	MDB_val k, v;
	size_t met = 0, row = 0;
	int rc;

	if ((rc = eff_ids_build(x, items, m)))
		return rc;
	dp_key_reset(&key);
	dp_key_cstr(&key, df);
	if ((rc = dp_scan_open(&sc, q->ix, q->txn, DP_DB_TASKS, &key, NULL)))
		return rc;
	while ((rc = dp_scan_next(&sc, &k, &v)) == DP_SCAN_ROW) {
		const char *id = (const char *)k.mv_data + key.n;
		size_t idn = k.mv_size - key.n;
		rc = 0;
		if (row++ % 1024 == 0 && (rc = dp_query_past_deadline(q)))
			break;
		if (idn < 2 || memchr(id, '\0', idn) != id + idn - 1) {
			rc = EFFECT_SLOW; /* no task key: load() takes it as it is */
			break;
		}
		if (id_item(x, id, idn - 1) >= 0)
			met++;
		else if (task_hyp(&v, hyp).type != DP_F_NULL) {
			rc = EFFECT_SLOW;
			break;
		}
	}
	dp_scan_close(&sc);
	return rc ? rc : met == m ? 0 : EFFECT_SLOW;
}

/* The values a label shows as its tasks have them: hyp_index keeps a
 * number as a double, and -0 as 0.  A group's label is its first value
 * (an integer or a real, -0 or 0); a bin's shows the doubles of its first
 * and last values, which differ from the keys' only for -0.  A lookup of
 * each such task. */
static int eff_labels(dp_query *q, const char *df, const char *hyp, const eff_shape *s, eff_item *items, size_t m)
{
	for (size_t i = 0; i < m; i++) {
		double d = items[i].h.num;
		if (items[i].h.type != QV_NUM || (s->binned ? i >= s->m_bin || d != 0
							    : i && same_value(&items[i].h, &items[i - 1].h)))
			continue;
		dp_key key;
		MDB_val k, v;
		dp_field f = { 0 };
		dp_key_reset(&key);
		dp_key_cstr(&key, df);
		dp_key_cstr(&key, items[i].task);
		k = dp_key_val(&key);
		if (!key.overflow && dp_query_get(q, DP_DB_TASKS, &k, &v))
			f = task_hyp(&v, hyp);
		else if (dp_query_check(q))
			return dp_query_check(q);
		if (f.type == DP_F_INT && f.d == d)
			items[i].h = dp_qv_int(f.i);
		else if (f.type == DP_F_REAL && (isnan(d) ? isnan(f.d) : f.d == d))
			items[i].h = dp_qv_real(f.d);
		else
			return EFFECT_SLOW; /* the index and the task disagree */
	}
	return 0;
}

static int effect_fast(dp_query *q, const dp_qopts *o, dp_table *out, dp_qnotes *notes)
{
	dp_qdataflow d;
	eff_item *items = NULL;
	eff_ids x = { 0 };
	size_t m = 0, ntasks = 0;
	bool counted;
	const char *metric, *hyp;
	int rc;

	if ((rc = dp_query_load_spec(q, o->df, &d)))
		return rc;
	if (d.undeclared_hyps) {
		rc = EFFECT_SLOW;
		goto out;
	}
	if ((rc = effect_names(q, o, &d, &metric, &hyp)))
		goto out;
	for (size_t i = 0; i < d.nhyps; i++)
		if (d.hyps[i].name != hyp && dp_strcasecmp(d.hyps[i].name, hyp) == 0) {
			rc = EFFECT_SLOW;
			goto out;
		}
	bool lower = goal_lower(o, metric);
	dp_agg agg = effect_agg(o, lower);
	if ((rc = eff_hyp_items(q, d.name, hyp, &items, &m)) || (rc = eff_task_count(q, &ntasks, &counted)))
		goto out;
	if ((!counted || ntasks != m) && (rc = eff_check_tasks(q, d.name, hyp, &x, items, m)))
		goto out;
	if ((rc = eff_metric(q, d.name, metric, &agg, &x, items, m)))
		goto out;
	eff_shape s = effect_shape(items, m, o->bins);
	if ((rc = eff_labels(q, d.name, hyp, &s, items, m)))
		goto out;
	rc = effect_table(items, m, &s, hyp, metric, &agg, lower, out, notes);
out:
	free(x.slots);
	free(items);
	dp_qdataflow_free(&d);
	return rc;
}

int dp_cmd_effect(dp_query *q, const dp_qopts *o, dp_table *out, dp_qnotes *notes)
{
	if (!o->where || !*o->where) {
		int rc = effect_fast(q, o, out, notes);
		if (rc != EFFECT_SLOW)
			return rc;
	}
	return effect_slow(q, o, out, notes);
}

/* ---- curve -------------------------------------------------------------------------- */

static const char *const spark_levels[] = { "\xE2\x96\x81", "\xE2\x96\x82", "\xE2\x96\x83", "\xE2\x96\x84",
					    "\xE2\x96\x85", "\xE2\x96\x86", "\xE2\x96\x87", "\xE2\x96\x88" };

/* The level (0..7) of v in [mn, mx], all three finite.  Halved, the
 * differences stay finite even when mx - mn is past DBL_MAX (-1e308 to
 * 1e308), where inf / inf would make NaN and NaN no index. */
static int spark_level(double v, double mn, double mx)
{
	if (!(mx > mn))
		return 3;
	double f = (v / 2 - mn / 2) / (mx / 2 - mn / 2);
	f = f > 1 ? 1 : f > 0 ? f : 0;
	return (int)(f * 7.0 + 0.5);
}

static void sparkline(dp_buf *b, const dp_table *t, size_t col, size_t max_width)
{
	double mn = NAN, mx = NAN;
	size_t n = t->nrows, step = n > max_width ? (n + max_width - 1) / max_width : 1;
	for (size_t r = 0; r < n; r++) {
		const dp_qv *v = &t->cells[r * t->ncols + col];
		if (v->type == QV_NUM && isfinite(v->num)) {
			if (isnan(mn) || v->num < mn)
				mn = v->num;
			if (isnan(mx) || v->num > mx)
				mx = v->num;
		}
	}
	for (size_t r = 0; r < n; r += step) {
		const dp_qv *v = &t->cells[r * t->ncols + col];
		if (v->type != QV_NUM || !isfinite(v->num)) {
			dp_buf_putc(b, ' ');
			continue;
		}
		dp_buf_printf(b, "%s", spark_levels[spark_level(v->num, mn, mx)]);
	}
	if (!isnan(mn))
		dp_buf_printf(b, "  %.4g .. %.4g", mn, mx);
}

int dp_cmd_curve(dp_query *q, const dp_qopts *o, dp_table *out, dp_qnotes *notes)
{
	dp_qdataflow d;
	const dp_qtask *t;
	const char **metrics = NULL;
	size_t nm = 0;
	char **adapted = NULL; /* hyperparameters this task adapted */
	size_t na = 0;
	dp_scan sc;
	dp_key key;
	MDB_val k, v;
	dp_epoch_row er;
	int rc;

	if ((rc = dp_query_load_tasks(q, o->df, o->task, &d)))
		return rc;
	if (!(t = dp_qtask_find(&d, o->task))) {
		rc = dp_query_no_task(q, d.name, o->task);
		goto out;
	}
	metrics = calloc(d.nmetrics + 1, sizeof(char *));
	if (!metrics) {
		rc = dp_error(DNNPROV_ENOMEM, "out of memory");
		goto out;
	}
	if (o->metrics && *o->metrics) {
		char *list = strdup(o->metrics), *save = NULL;
		if (!list) {
			rc = dp_error(DNNPROV_ENOMEM, "out of memory");
			goto out;
		}
		for (char *m = strtok_r(list, ",", &save); m && !rc; m = strtok_r(NULL, ",", &save)) {
			const char *canon = resolve_metric(q, &d, m, &rc);
			bool listed = false;
			/* A name given twice (in any case) is one column. */
			for (size_t i = 0; canon && i < nm; i++)
				listed |= metrics[i] == canon;
			if (canon && !listed)
				metrics[nm++] = canon; /* at most d.nmetrics: each is one of them */
		}
		free(list);
		if (rc)
			goto out;
	} else {
		/* Every metric the task reported. */
		for (size_t i = 0; i < d.nmetrics; i++) {
			dp_summary s;
			if (dp_query_summary(q, d.name, t->id, d.metrics[i], &s))
				metrics[nm++] = d.metrics[i];
		}
	}

	/* The task's adaptations, in epoch order. */
	typedef struct { int64_t epoch; char *hyp; dp_qv value; } adapt_t;
	adapt_t *ad = NULL;
	size_t nad = 0;
	dp_key_reset(&key);
	dp_key_cstr(&key, d.name);
	dp_key_cstr(&key, t->id);
	size_t prefix = key.n;
	if ((rc = dp_scan_open(&sc, q->ix, q->txn, DP_DB_ADAPTATIONS, &key, NULL))) {
		goto out_ad;
	} else {
		while ((rc = dp_scan_next(&sc, &k, &v)) == DP_SCAN_ROW) {
			size_t pos = prefix;
			int64_t e;
			const char *h;
			size_t hn;
			msgpack_object obj;
			rc = 0;
			if (!dp_key_get_i64(k.mv_data, k.mv_size, &pos, &e) || !dp_key_get_str(k.mv_data, k.mv_size, &pos, &h, &hn) ||
			    dp_decode(&q->dec, v.mv_data, v.mv_size, &obj) != 0)
				continue;
			adapt_t *grown = realloc(ad, (nad + 1) * sizeof(*ad));
			if (!grown) {
				rc = dp_error(DNNPROV_ENOMEM, "out of memory");
				break;
			}
			ad = grown;
			ad[nad].epoch = e;
			memset(&ad[nad].value, 0, sizeof(dp_qv));
			if (!(ad[nad].hyp = strndup(h, hn))) {
				rc = dp_error(DNNPROV_ENOMEM, "out of memory");
				break;
			}
			copy_obj(&ad[nad].value, dp_map_get(&obj, "new"));
			nad++;
			bool seen = false;
			for (size_t i = 0; i < na; i++)
				seen |= strcmp(adapted[i], ad[nad - 1].hyp) == 0;
			if (!seen) {
				char **g2 = realloc(adapted, (na + 1) * sizeof(char *));
				if (!g2) {
					rc = dp_error(DNNPROV_ENOMEM, "out of memory");
					break;
				}
				adapted = g2;
				adapted[na++] = ad[nad - 1].hyp;
			}
		}
		dp_scan_close(&sc);
		if (rc)
			goto out_ad;
	}

	/* Columns: epoch, elapsed, the metrics, then for each hyperparameter
	 * the task adapted its value in force and (CSV and JSON) its value
	 * before a change; then the changes as a table mark ("* LEARNING_RATE")
	 * and, for CSV and JSON, as data (the names). */
	size_t first_hyp = 2 + nm, mark_col = first_hyp + 2 * na, ncols = mark_col + 2;
	if ((rc = dp_table_init(out, ncols)))
		goto out_ad;
	dp_table_set_col(out, 0, "epoch", COL_INT);
	dp_table_set_col(out, 1, "elapsed", COL_NUM);
	for (size_t i = 0; i < nm; i++)
		dp_table_set_col(out, 2 + i, metrics[i], COL_NUM);
	for (size_t i = 0; i < na; i++) {
		const dp_qv *h = dp_qtask_hyp(t, adapted[i]);
		dp_col_kind kind = h && h->type == QV_TEXT ? COL_TEXT : COL_NUM;
		char old[DNNPROV_NAME_MAX + 8];
		snprintf(old, sizeof(old), "%s_old", adapted[i]);
		dp_table_set_col(out, first_hyp + 2 * i, adapted[i], kind);
		dp_table_set_col(out, first_hyp + 2 * i + 1, old, kind);
		dp_table_omit(out, first_hyp + 2 * i + 1);
	}
	dp_table_set_col(out, mark_col, "adapted", COL_TEXT);
	dp_table_only(out, mark_col);
	dp_table_set_col(out, mark_col + 1, "changed", COL_TEXT);
	dp_table_omit(out, mark_col + 1);

	/* One range scan of the task's epochs, read as the SQL tables read them. */
	dp_key_reset(&key);
	dp_key_cstr(&key, d.name);
	dp_key_cstr(&key, t->id);
	dp_qepochs scan;
	if ((rc = dp_qepochs_open(&scan, q->ix, q->txn, NULL, &key, false, 0)))
		goto out_ad;
	for (int more; !rc && (more = dp_qepochs_next(&scan, &er)) != 0;) {
		if (more < 0) {
			rc = more;
			break;
		}
		int64_t e = er.epoch;
		dp_qv *row = dp_table_add_row(out);
		if (!row) {
			rc = dp_error(DNNPROV_ENOMEM, "out of memory");
			break;
		}
		set_int(&row[0], e);
		copy_field(&row[1], er.elapsed);
		for (size_t i = 0; i < nm; i++)
			copy_field(&row[2 + i], dp_rmap_get(er.metrics, metrics[i]));
		/* The value in force: the task's initial value, replaced by every
		 * adaptation at or before this epoch (they come in epoch order);
		 * where one is at this epoch, the value before it too. */
		dp_buf marks = { 0 };
		for (size_t i = 0; i < na; i++) {
			const dp_qv *val = dp_qtask_hyp(t, adapted[i]), *before = val;
			bool changed = false;
			for (size_t a = 0; a < nad; a++) {
				if (strcmp(ad[a].hyp, adapted[i]) != 0 || ad[a].epoch > e)
					continue;
				if (ad[a].epoch < e)
					before = &ad[a].value;
				changed |= ad[a].epoch == e;
				val = &ad[a].value;
			}
			copy_value(&row[first_hyp + 2 * i], val);
			if (changed)
				copy_value(&row[first_hyp + 2 * i + 1], before);
		}
		for (size_t a = 0; a < nad; a++)
			if (ad[a].epoch == e)
				dp_buf_printf(&marks, "%s%s", marks.len ? "," : "* ", ad[a].hyp);
		if (marks.failed)
			out->failed = true;
		else if (marks.len) {
			dp_cell_text(&row[mark_col], marks.data, marks.len);
			dp_cell_text(&row[mark_col + 1], marks.data + 2, marks.len - 2);
		}
		dp_buf_free(&marks);
	}
	dp_qepochs_close(&scan);
	if (notes && out->nrows > 1)
		for (size_t i = 0; i < nm; i++) {
			dp_buf_printf(&notes->text, "%-16s ", metrics[i]);
			sparkline(&notes->text, out, 2 + i, 60);
			dp_buf_putc(&notes->text, '\n');
		}
out_ad:
	for (size_t a = 0; a < nad; a++) {
		free(ad[a].hyp);
		if (ad[a].value.type == QV_TEXT)
			free((char *)ad[a].value.text);
	}
	free(ad);
	free(adapted);
out:
	free(metrics);
	dp_qdataflow_free(&d);
	return rc;
}

/* ---- adaptations ----------------------------------------------------------------------- */

static dp_qv metric_at(dp_query *q, const char *df, const char *task, const char *metric, int64_t e)
{
	dp_agg at = { AGG_AT, e };
	return dp_query_metric(q, df, task, metric, &at, NULL);
}

int dp_cmd_adaptations(dp_query *q, const dp_qopts *o, dp_table *out)
{
	dp_qdataflow d;
	dp_where *w;
	bool *pass = NULL;
	const char *metric;
	dp_scan sc;
	dp_key key;
	MDB_val k, v;
	char col[DNNPROV_NAME_MAX + 32];
	int window = o->window > 0 ? o->window : 1, rc;

	if ((rc = prepare(q, o, &d, &w)))
		return rc;
	metric = resolve_metric(q, &d, o->metric, &rc);
	if (rc)
		goto out;
	if (o->task && !dp_qtask_find(&d, o->task)) {
		rc = dp_query_no_task(q, d.name, o->task);
		goto out;
	}
	if ((rc = where_flags(q, &d, w, &pass)) || (rc = dp_table_init(out, 8)))
		goto out;
	dp_table_set_col(out, 0, "task", COL_TEXT);
	dp_table_set_col(out, 1, "epoch", COL_INT);
	dp_table_set_col(out, 2, "hyperparameter", COL_TEXT);
	dp_table_set_col(out, 3, "old", COL_NUM);
	dp_table_set_col(out, 4, "new", COL_NUM);
	snprintf(col, sizeof(col), "%s_before", metric);
	dp_table_set_col(out, 5, col, COL_NUM);
	snprintf(col, sizeof(col), "%s_after%d", metric, window);
	dp_table_set_col(out, 6, col, COL_NUM);
	dp_table_set_col(out, 7, "change", COL_NUM);
	dp_key_reset(&key);
	dp_key_cstr(&key, d.name);
	if (o->task)
		dp_key_cstr(&key, o->task);
	if ((rc = dp_scan_open(&sc, q->ix, q->txn, DP_DB_ADAPTATIONS, &key, NULL)))
		goto out;
	size_t dfp;
	{
		dp_key dk;
		dp_key_reset(&dk);
		dp_key_cstr(&dk, d.name);
		dfp = dk.n;
	}
	while ((rc = dp_scan_next(&sc, &k, &v)) == DP_SCAN_ROW) {
		size_t pos = dfp;
		const char *task, *h;
		size_t tn, hn;
		int64_t e;
		msgpack_object obj;
		rc = 0;
		if (!dp_key_get_str(k.mv_data, k.mv_size, &pos, &task, &tn) || !dp_key_get_i64(k.mv_data, k.mv_size, &pos, &e) ||
		    !dp_key_get_str(k.mv_data, k.mv_size, &pos, &h, &hn) || !task_passes(&d, pass, task, tn) ||
		    dp_decode(&q->dec, v.mv_data, v.mv_size, &obj) != 0)
			continue;
		dp_qv *row = dp_table_add_row(out);
		if (!row) {
			rc = dp_error(DNNPROV_ENOMEM, "out of memory");
			break;
		}
		dp_cell_text(&row[0], task, tn);
		set_int(&row[1], e);
		dp_cell_text(&row[2], h, hn);
		copy_obj(&row[3], dp_map_get(&obj, "old"));
		copy_obj(&row[4], dp_map_get(&obj, "new"));
		char tid[DNNPROV_NAME_MAX + 1];
		snprintf(tid, sizeof(tid), "%.*s", (int)tn, task);
		/* Keep the key: the lookups below use the decoder.  Epochs are
		 * any int64: past either end there is no epoch to look at. */
		int64_t before, after;
		if (!__builtin_sub_overflow(e, 1, &before))
			row[5] = metric_at(q, d.name, tid, metric, before);
		if (!__builtin_add_overflow(e, window - 1, &after))
			row[6] = metric_at(q, d.name, tid, metric, after);
		if (row[5].type == QV_NUM && row[6].type == QV_NUM)
			set_num(&row[7], row[6].num - row[5].num);
	}
	dp_scan_close(&sc);
out:
	free(pass);
	dp_where_free(w);
	dp_qdataflow_free(&d);
	return rc;
}

/* ---- test ---------------------------------------------------------------------------- */

int dp_cmd_test(dp_query *q, const dp_qopts *o, dp_table *out, dp_qnotes *notes)
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

	if ((rc = prepare(q, o, &d, &w)))
		return rc;
	if ((rc = select_tasks(q, &d, w, &sel, &n)))
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
	hyp_columns(out, 2, &d);
	dp_table_set_col(out, 2 + d.nhyps, "tested", COL_TIME);
	for (size_t x = 0; x < nn; x++)
		dp_table_set_col(out, 3 + d.nhyps + x, names[x], COL_NUM);
	for (size_t i = 0; i < n && !rc; i++) {
		msgpack_object obj;
		if (!latest[i].len || dp_decode(&q->dec, (const unsigned char *)latest[i].data, latest[i].len, &obj) != 0)
			continue;
		dp_qv *row = dp_table_add_row(out);
		if (!row) {
			rc = dp_error(DNNPROV_ENOMEM, "out of memory");
			break;
		}
		set_text(&row[0], sel[i]->id);
		set_text(&row[1], sel[i]->status);
		hyp_cells(row, 2, &d, sel[i]);
		copy_obj(&row[2 + d.nhyps], dp_map_get(&obj, "time"));
		const msgpack_object *m = dp_map_get(&obj, "metrics");
		for (size_t x = 0; x < nn; x++)
			copy_obj(&row[3 + d.nhyps + x], dp_map_get(m, names[x]));
	}
	if (!rc)
		rc = sort_and_limit(out, o, nn ? 3 + d.nhyps : 0, nn && !dp_metric_lower_is_better(names[0]));
	if (!rc)
		omit_constant_columns(out, 2, d.nhyps, notes);
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

/* ---- elements ------------------------------------------------------------------------ */

int dp_cmd_elements(dp_query *q, const dp_qopts *o, dp_table *out)
{
	dp_qdataflow d;
	msgpack_object tfs;
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

	if ((rc = prepare(q, o, &d, &w)))
		return rc;
	dp_buf tfnames = { 0 };
	if (d.transformations.len &&
	    dp_decode(&q->dec, (const unsigned char *)d.transformations.data, d.transformations.len, &tfs) == 0 &&
	    tfs.type == MSGPACK_OBJECT_ARRAY) {
		for (uint32_t i = 0; i < tfs.via.array.size; i++) {
			const msgpack_object *tf = &tfs.via.array.ptr[i], *name = dp_map_get(tf, "name");
			if (!name || name->type != MSGPACK_OBJECT_STR)
				continue;
			dp_buf_printf(&tfnames, "%s%.*s", tfnames.len ? ", " : "", (int)name->via.str.size, name->via.str.ptr);
			if (!dp_obj_is_str(name, o->transformation))
				continue;
			found_tf = true;
			const msgpack_object *sets = dp_map_get(tf, "sets");
			for (uint32_t s = 0; sets && sets->type == MSGPACK_OBJECT_ARRAY && s < sets->via.array.size; s++) {
				const msgpack_object *set = &sets->via.array.ptr[s];
				if (o->set && !dp_obj_is_str(dp_map_get(set, "name"), o->set))
					continue;
				found_set = true;
				const msgpack_object *as = dp_map_get(set, "attributes");
				for (uint32_t a = 0; as && as->type == MSGPACK_OBJECT_ARRAY && a < as->via.array.size; a++) {
					const msgpack_object *an = dp_map_get(&as->via.array.ptr[a], "name");
					if (an && an->type == MSGPACK_OBJECT_STR) {
						dp_buf_append(&attrs, an->via.str.ptr, an->via.str.size);
						dp_buf_putc(&attrs, '\0');
						if (nattrs < DP_ARRAY_LEN(numeric))
							numeric[nattrs] = dp_obj_is_str(dp_map_get(&as->via.array.ptr[a], "type"), "numeric");
						nattrs++;
					}
				}
			}
		}
	}
	if (!found_tf || !found_set) {
		rc = !found_tf ? dp_error(DNNPROV_ENOTFOUND, "no transformation '%s' in dataflow %s (user-defined: %s)",
					  o->transformation, d.name, tfnames.len ? dp_buf_cstr(&tfnames) : "none")
			       : dp_error(DNNPROV_ENOTFOUND, "transformation '%s' has no set '%s'", o->transformation, o->set);
		goto out;
	}
	if (o->task && !dp_qtask_find(&d, o->task)) {
		rc = dp_query_no_task(q, d.name, o->task);
		goto out;
	}
	if (attrs.failed) {
		rc = dp_error(DNNPROV_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = where_flags(q, &d, w, &pass)) || (rc = dp_table_init(out, 3 + nattrs)))
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
		msgpack_object obj;
		rc = 0;
		if (dp_decode(&q->dec, v.mv_data, v.mv_size, &obj) != 0)
			continue;
		/* key: df tf set task position */
		size_t pos = 0;
		const char *s, *set = NULL, *task = NULL;
		size_t n, setn = 0, taskn = 0;
		for (int f = 0; f < 4 && dp_key_get_str(k.mv_data, k.mv_size, &pos, &s, &n); f++) {
			if (f == 2) {
				set = s;
				setn = n;
			} else if (f == 3) {
				task = s;
				taskn = n;
			}
		}
		if (!task || (o->task && (strlen(o->task) != taskn || memcmp(o->task, task, taskn) != 0)) ||
		    !task_passes(&d, pass, task, taskn))
			continue;
		dp_qv *row = dp_table_add_row(out);
		if (!row) {
			rc = dp_error(DNNPROV_ENOMEM, "out of memory");
			break;
		}
		dp_cell_text(&row[0], task, taskn);
		dp_cell_text(&row[1], set, setn);
		copy_obj(&row[2], dp_map_get(&obj, "time"));
		const msgpack_object *vals = dp_map_get(&obj, "values");
		an = attrs.data;
		for (size_t a = 0; a < nattrs; a++, an += strlen(an) + 1)
			copy_obj(&row[3 + a], dp_map_get(vals, an));
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

/* ---- layers ------------------------------------------------------------------------------ */

int dp_cmd_layers(dp_query *q, const dp_qopts *o, dp_table *out)
{
	dp_qdataflow d;
	dp_where *w;
	const dp_qtask **sel = NULL;
	size_t n;
	int rc;

	if ((rc = prepare(q, o, &d, &w)))
		return rc;
	if (o->task && !dp_qtask_find(&d, o->task)) {
		rc = dp_query_no_task(q, d.name, o->task);
		goto out;
	}
	if ((rc = select_tasks(q, &d, w, &sel, &n)) || (rc = dp_table_init(out, 4)))
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
		msgpack_object obj;
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
		if (dp_decode(&q->dec, v.mv_data, v.mv_size, &obj) != 0)
			continue;
		const msgpack_object *layers = dp_map_get(&obj, "layers");
		for (uint32_t j = 0; layers && layers->type == MSGPACK_OBJECT_ARRAY && j < layers->via.array.size; j++) {
			const msgpack_object *l = &layers->via.array.ptr[j];
			dp_qv *row = dp_table_add_row(out);
			if (!row) {
				rc = dp_error(DNNPROV_ENOMEM, "out of memory");
				break;
			}
			set_text(&row[0], t->id);
			copy_obj(&row[1], dp_map_get(l, "name"));
			copy_obj(&row[2], dp_map_get(l, "kind"));
			copy_obj(&row[3], dp_map_get(l, "value"));
		}
	}
out:
	free(sel);
	dp_where_free(w);
	dp_qdataflow_free(&d);
	return rc;
}

/* ---- watch ----------------------------------------------------------------------------- */

#define WATCH_LOST_FOR 3600.0 /* seconds a LOST task stays in watch */

int dp_cmd_watch(dp_query *q, const dp_qopts *o, dp_table *out)
{
	dp_qdataflow d;
	dp_where *w;
	size_t shown = 0;
	int rc;

	if ((rc = prepare(q, o, &d, &w)))
		return rc;
	shown = d.nmetrics < 4 ? d.nmetrics : 4; /* the first metrics fit a terminal */
	if ((rc = dp_table_init(out, 5 + shown)))
		goto out;
	dp_table_set_col(out, 0, "task", COL_TEXT);
	dp_table_set_col(out, 1, "status", COL_TEXT);
	dp_table_set_col(out, 2, "epoch", COL_INT);
	for (size_t i = 0; i < shown; i++)
		dp_table_set_col(out, 3 + i, d.metrics[i], COL_NUM);
	dp_table_set_col(out, 3 + shown, "epochs/min", COL_NUM);
	dp_table_set_col(out, 4 + shown, "last_seen", COL_SECS);
	dp_agg last = { AGG_LAST, 0 };
	for (size_t i = 0; i < d.ntasks && !rc; i++) {
		const dp_qtask *t = &d.tasks[i];
		/* The running tasks, and those lost in the last hour: a run that
		 * died while watched shows as LOST rather than vanishing. */
		bool lost = strcmp(t->status, "LOST") == 0 && o->now - t->last < WATCH_LOST_FOR;
		if ((strcmp(t->status, "RUNNING") != 0 && !lost) || !dp_where_match(w, q, &d, t))
			continue;
		dp_qv *row = dp_table_add_row(out);
		if (!row) {
			rc = dp_error(DNNPROV_ENOMEM, "out of memory");
			break;
		}
		set_text(&row[0], t->id);
		set_text(&row[1], t->status);
		if (t->has_last_epoch)
			set_int(&row[2], t->last_epoch);
		for (size_t m = 0; m < shown; m++)
			row[3 + m] = dp_query_metric(q, d.name, t->id, d.metrics[m], &last, NULL);
		if (t->epochs > 1 && t->last > t->start)
			set_num(&row[3 + shown], (double)t->epochs / ((t->last - t->start) / 60.0));
		if (!isnan(t->last))
			set_num(&row[4 + shown], o->now - t->last);
	}
out:
	dp_where_free(w);
	dp_qdataflow_free(&d);
	return rc;
}
