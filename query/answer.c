/*
 * answer.c - what the questions share: loading a dataflow and selecting
 * its tasks by --where, resolving a metric, sorting and cutting a table,
 * and choosing a page of tasks from the keys and summaries alone.
 */
#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "query/answer.h"
#include "query/rows.h"

/* ---- cells, the dataflow, its tasks -------------------------------------------------- */

int dp_copy_value(dp_qv *cell, const dp_qv *v)
{
	if (!v || v->type == QV_NULL)
		return 0;
	if (v->type == QV_TEXT)
		return dp_cell_text(cell, v->text, strlen(v->text));
	*cell = *v;
	return 0;
}

int dp_copy_field(dp_qv *cell, const dp_field *f)
{
	if (f->type == DP_F_TEXT)
		return dp_cell_text(cell, f->s.p, f->s.n);
	*cell = dp_qv_number(f);
	return 0;
}

/* Loads the dataflow and compiles --where; on error both are freed. */
int dp_answer_prepare(dp_query *q, const dp_qopts *o, dp_qdataflow *d, dp_where **w)
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
int dp_select_tasks(dp_query *q, const dp_qdataflow *d, const dp_where *w, const dp_qtask ***out,
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
int dp_where_flags(dp_query *q, const dp_qdataflow *d, const dp_where *w, bool **flags)
{
	const dp_qtask **sel;
	size_t n;
	int rc;

	*flags = NULL;
	if (!w)
		return 0;
	if ((rc = dp_select_tasks(q, d, w, &sel, &n)))
		return rc;
	*flags = calloc(d->ntasks ? d->ntasks : 1, sizeof(bool));
	for (size_t i = 0; *flags && i < n; i++)
		(*flags)[sel[i] - d->tasks] = true;
	free(sel);
	return *flags ? 0 : dp_error(DNNPROV_ENOMEM, "out of memory");
}

/* Whether the task id[0..n) passed --where (see dp_where_flags). */
bool dp_task_passes(const dp_qdataflow *d, const bool *flags, const char *id, size_t n)
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

const char *dp_resolve_metric(dp_query *q, const dp_qdataflow *d, const char *name, int *rc)
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
		*rc = name ? dp_error_subject(DNNPROV_ENOTFOUND, "metric", "no metric '%s' in dataflow %s (metrics: %s)", name,
					      d->name, list.len ? dp_buf_cstr(&list) : "none")
			   : dp_error_subject(DNNPROV_ENOTFOUND, "metric", "dataflow %s has no metrics yet", d->name);
		dp_buf_free(&list);
	}
	return m;
}

bool dp_goal_lower(const dp_qopts *o, const char *metric)
{
	if (o->goal)
		return strcmp(o->goal, "min") == 0;
	return dp_metric_lower_is_better(metric);
}

dp_agg dp_agg_resolved(const dp_qopts *o, bool lower)
{
	dp_agg agg = o->agg;
	if (agg.kind == AGG_BEST)
		agg.kind = lower ? AGG_MIN : AGG_MAX;
	return agg;
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

/* Orders two cells as a sort does: missing (and NaN) last whatever the
 * direction. */
int dp_cmp_cells(const dp_qv *a, const dp_qv *b, bool desc)
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
	int c = dp_cmp_cells(&a[g_sort.col], &b[g_sort.col], g_sort.desc);
	return c ? c : dp_cmp_cells(&a[0], &b[0], false); /* then by the first column: stable output */
}

/* The column --sort [+|-]COLUMN names (the last of that name, in any
 * case), or def_col and def_desc without --sort; DNNPROV_EQUERY listing
 * the columns when there is none. */
int dp_sort_column(const dp_table *t, const dp_qopts *o, size_t def_col, bool def_desc, size_t *col,
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
	int rc = dp_error_subject(DNNPROV_EQUERY, "sort", "cannot sort by '%s': columns are %s", name, dp_buf_cstr(&list));
	dp_buf_free(&list);
	return rc;
}

/* A number's place in an order of unsigned integers: doubles by their
 * bits with the sign folded (-0 as 0), an integer as its double when that
 * is exact (|i| <= 2^53); false for anything else (text, a larger
 * integer), which the caller orders by comparing. */
static bool order_bits(const dp_qv *v, bool desc, uint64_t *out)
{
	double d;
	uint64_t u;
	if (v->type == QV_NULL || dp_qv_isnan(v)) {
		*out = UINT64_MAX; /* missing and NaN last, whatever the direction */
		return true;
	}
	if (v->type != QV_NUM || (v->integer && (v->i > (1ll << 53) || v->i < -(1ll << 53))))
		return false;
	d = v->integer ? (double)v->i : v->num;
	if (d == 0)
		d = 0; /* -0 equals 0 */
	memcpy(&u, &d, sizeof(u));
	u = u >> 63 ? ~u : u | (1ull << 63);
	/* From 0x000f...f (-inf) to 0xfff0...0 (+inf), and as much turned
	 * over: UINT64_MAX is free for the missing. */
	*out = desc ? ~u : u;
	return true;
}

typedef struct order_item {
	uint64_t key;
	uint32_t at;
} order_item;

/* A stable sort of items by key: 8 passes of a byte each (LSD radix), a
 * few milliseconds for 100,000 rows where qsort's comparisons took tens. */
static int radix_sort(order_item *v, size_t n)
{
	order_item *tmp = malloc((n ? n : 1) * sizeof(*tmp)), *from = v, *to = tmp;
	if (!tmp)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	for (int shift = 0; shift < 64; shift += 8) {
		size_t count[257] = { 0 };
		for (size_t i = 0; i < n; i++)
			count[((from[i].key >> shift) & 0xff) + 1]++;
		if (count[((from[0].key >> shift) & 0xff) + 1] == n)
			continue; /* every key has the same byte here */
		for (int b = 0; b < 256; b++)
			count[b + 1] += count[b];
		for (size_t i = 0; i < n; i++)
			to[count[(from[i].key >> shift) & 0xff]++] = from[i];
		order_item *x = from;
		from = to;
		to = x;
	}
	if (from != v)
		memcpy(v, from, n * sizeof(*v));
	free(tmp);
	return 0;
}

int dp_order_numbers(const dp_qv *keys, size_t stride, size_t n, bool desc, uint32_t *order, bool *done)
{
	order_item *v;
	*done = false;
	if (n > UINT32_MAX || !(v = malloc((n ? n : 1) * sizeof(*v))))
		return n > UINT32_MAX ? 0 : dp_error(DNNPROV_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const dp_qv *k = (const dp_qv *)(const void *)((const char *)keys + i * stride);
		v[i].at = (uint32_t)i;
		if (!order_bits(k, desc, &v[i].key)) {
			free(v);
			return 0;
		}
	}
	int rc = n ? radix_sort(v, n) : 0;
	for (size_t i = 0; i < n && !rc; i++)
		order[i] = v[i].at;
	free(v);
	*done = !rc;
	return rc;
}

/* Puts the rows of t in the order order[] gives (row i becomes row
 * order[i]'s), following each cycle of the permutation with one row aside. */
static int permute_rows(dp_table *t, uint32_t *order)
{
	size_t w = t->ncols;
	dp_qv *aside = malloc((w ? w : 1) * sizeof(dp_qv));
	if (!aside)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	for (size_t i = 0; i < t->nrows; i++) {
		if (order[i] == i)
			continue;
		memcpy(aside, &t->cells[i * w], w * sizeof(dp_qv));
		size_t j = i;
		while (order[j] != i) {
			size_t from = order[j];
			memcpy(&t->cells[j * w], &t->cells[from * w], w * sizeof(dp_qv));
			order[j] = (uint32_t)j;
			j = from;
		}
		memcpy(&t->cells[j * w], aside, w * sizeof(dp_qv));
		order[j] = (uint32_t)j;
	}
	free(aside);
	return 0;
}

/* Sorts t's rows by column col as cmp_rows orders them: by numbers in a
 * radix sort when the column allows, its ties then by the first column. */
static int sort_rows(dp_table *t, size_t col, bool desc)
{
	uint32_t *order = malloc(t->nrows * sizeof(*order));
	bool done = false;
	int rc;
	g_sort = (sort_ctx){ t, col, desc };
	if (!order)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	if ((rc = dp_order_numbers(&t->cells[col], t->ncols * sizeof(dp_qv), t->nrows, desc, order, &done)) || !done) {
		free(order);
		if (!rc)
			qsort(t->cells, t->nrows, t->ncols * sizeof(dp_qv), cmp_rows);
		return rc;
	}
	if (!(rc = permute_rows(t, order))) {
		/* Equal keys kept the rows' order: a run of them is put in the
		 * order of the first column. */
		for (size_t i = 0, j; i < t->nrows; i = j) {
			for (j = i + 1; j < t->nrows && dp_cmp_cells(&t->cells[i * t->ncols + col],
								     &t->cells[j * t->ncols + col], desc) == 0;)
				j++;
			if (j - i > 1)
				qsort(&t->cells[i * t->ncols], j - i, t->ncols * sizeof(dp_qv), cmp_rows);
		}
	}
	free(order);
	return rc;
}

/* --sort [+|-]COLUMN, or the default; then --offset and --limit. */
int dp_sort_and_limit(dp_table *t, const dp_qopts *o, size_t def_col, bool def_desc)
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
	if ((rc = dp_sort_column(t, o, def_col, def_desc, &col, &desc)))
		return rc;
	if (col < t->ncols && t->nrows > 1 && (rc = sort_rows(t, col, desc)))
		return rc;
	/* The registry keeps both within 0..2^40. */
	size_t offset = o->offset > 0 ? (size_t)o->offset : 0, limit = o->limit > 0 ? (size_t)o->limit : 0;
	t->paged = offset || limit;
	t->total = t->nrows;
	if (offset) {
		size_t skip = offset < t->nrows ? offset : t->nrows;
		for (size_t i = 0; i < skip * t->ncols; i++)
			dp_cell_clear(&t->cells[i]);
		memmove(t->cells, t->cells + skip * t->ncols, (t->nrows - skip) * t->ncols * sizeof(dp_qv));
		t->nrows -= skip;
	}
	if (limit && t->nrows > limit)
		dp_table_truncate(t, limit);
	/* A page of the rows that matched, never more. */
	assert(t->nrows <= t->total && (!limit || t->nrows <= limit) && t->nrows + (offset < t->total ? offset : t->total) <= t->total);
	return 0;
}

/* Whether `name` ([+|-]COLUMN as --sort takes it) names `col`, and no
 * hyperparameter of d has that name (--sort takes the last column of a
 * name): then *desc is the direction it asks for. */
bool dp_sort_names(const dp_qdataflow *d, const char *sort, const char *col, bool *desc)
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
int dp_hyp_columns(dp_table *t, size_t first, const dp_qdataflow *d)
{
	int rc = 0;
	for (size_t i = 0; i < d->nhyps && !rc; i++) {
		bool numeric = strcmp(d->hyps[i].type, "numeric") == 0;
		rc = dp_table_set_col(t, first + i, d->hyps[i].name, numeric ? COL_NUM : COL_TEXT);
		dp_table_col_hyp(t, first + i, d->hyps[i].name, numeric);
	}
	return rc;
}

/* In the table format, hyperparameter columns with one value in every row
 * say nothing about the differences between rows: they become one note
 * line, and the columns that differ get the width. */
void dp_omit_constant_columns(dp_table *t, size_t first, size_t n, dp_qnotes *notes)
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

int dp_hyp_cells(dp_qv *row, size_t first, const dp_qdataflow *d, const dp_qtask *t)
{
	int rc = 0;
	for (size_t i = 0; i < d->nhyps && !rc; i++)
		rc = dp_copy_value(&row[first + i], dp_qtask_hyp(t, d->hyps[i].name));
	return rc;
}

/* ---- a page of tasks without loading them all ----------------------------------------- */

/* Whether a comes before b in the page's order: the sort column as
 * cmp_rows orders it, then the task id. */
static bool page_before(const dp_page_item *a, const dp_page_item *b, bool desc)
{
	int c = dp_cmp_cells(&a->key, &b->key, desc);
	return c ? c < 0 : strcmp(a->id, b->id) < 0;
}

static void heap_down(dp_page_heap *h, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, w = i;
		if (l < h->n && page_before(&h->v[w], &h->v[l], h->desc))
			w = l;
		if (r < h->n && page_before(&h->v[w], &h->v[r], h->desc))
			w = r;
		if (w == i)
			return;
		dp_page_item x = h->v[i];
		h->v[i] = h->v[w];
		h->v[w] = x;
		i = w;
	}
}

static int heap_offer(dp_page_heap *h, const dp_page_item *it)
{
	if (h->n < h->k) {
		dp_page_item *grown = dp_grow(h->v, h->n, &h->cap, sizeof(*grown), 128);
		if (!grown)
			return DNNPROV_ENOMEM;
		h->v = grown;
		size_t i = h->n++;
		h->v[i] = *it;
		while (i && page_before(&h->v[(i - 1) / 2], &h->v[i], h->desc)) {
			dp_page_item x = h->v[i];
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

int dp_query_count(dp_query *q, const dp_key *key, uint64_t *n)
{
	MDB_val k = dp_key_val((dp_key *)key), v;
	*n = 0;
	if (key->overflow || !dp_query_get(q, DP_DB_COUNTS, &k, &v))
		return dp_query_check(q);
	return dp_count_unpack(v.mv_data, v.mv_size, n) ? 0 : 1;
}

/* The keys of an ordered range (ranks, starts, tasks) from its first or,
 * with h->desc, its last, offered to the heap: h->k of them and every
 * key after that ties with the k-th (ties go by id, whatever order the
 * range keeps them in; -0 and 0 are one key, dp_key_double).  `valued`:
 * after the prefix, each key holds a sortable double, then the task id;
 * else the task id alone (the task keys), which is the page's order.
 * *taken counts the keys offered. */
static int page_range(dp_query *q, dp_db db, const dp_key *prefix, bool valued, dp_page_heap *h, size_t *taken)
{
	dp_scan sc;
	dp_key before = *prefix;
	MDB_val k, v;
	double last = 0;
	int rc;

	*taken = 0;
	for (int i = 0; i < 9 && before.n < DP_KEY_MAX; i++)
		before.b[before.n++] = 0xff; /* past every key of the range (no NaN is kept) */
	rc = h->desc ? dp_scan_open_before(&sc, q->ix, q->txn, db, prefix, &before)
		     : dp_scan_open(&sc, q->ix, q->txn, db, prefix, NULL);
	if (rc)
		return rc;
	while ((rc = dp_scan_next(&sc, &k, &v)) == DP_SCAN_ROW) {
		const unsigned char *b = k.mv_data;
		size_t pos = prefix->n, idn;
		const char *id;
		dp_page_item it = { 0 };
		double x = 0;
		/* Ties past the k-th can be every task of the dataflow. */
		if (*taken % 1024 == 1023 && (rc = dp_query_past_deadline(q)))
			break;
		if (valued && !dp_key_get_double(b, k.mv_size, &pos, &x))
			continue; /* no key of this layout */
		if (!dp_key_get_str(b, k.mv_size, &pos, &id, &idn) || pos != k.mv_size)
			continue;
		if (*taken >= h->k && (!valued || memcmp(&x, &last, 8)))
			break;
		it.id = id;
		if (valued) {
			it.key = dp_qv_real(x);
		} else {
			it.key.type = QV_TEXT;
			it.key.text = id;
		}
		if ((rc = heap_offer(h, &it)))
			break;
		last = x;
		(*taken)++;
	}
	dp_scan_close(&sc);
	return rc < 0 ? rc : 0;
}

/* A page chosen from the keys that keep its order (schema 5): the task
 * ids, the starts, or a metric's best by its own goal (ranks), and the
 * number of tasks from counts.  1 when they cannot tell it (another
 * aggregate or goal, fewer keys than the page, an index without counts):
 * the page is chosen by the scan. */
static int page_ordered(dp_query *q, const dp_qdataflow *d, const char *metric, dp_page_key pk, const dp_agg *agg,
			dp_page_heap *h, size_t *total)
{
	dp_key key;
	uint64_t n;
	int rc;

	dp_key_reset(&key);
	dp_key_cstr(&key, d->name);
	if ((rc = dp_query_count(q, &key, &n)) || !n)
		return rc ? rc : 1;
	if (pk == PAGE_METRIC) {
		if (!metric || agg->kind != (dp_metric_lower_is_better(metric) ? AGG_MIN : AGG_MAX))
			return 1;
		dp_key_cstr(&key, metric);
	}
	dp_db db = pk == PAGE_METRIC ? DP_DB_RANKS : pk == PAGE_START ? DP_DB_STARTS : DP_DB_TASKS;
	size_t taken;
	if ((rc = page_range(q, db, &key, pk != PAGE_TASK, h, &taken)))
		return rc;
	/* Fewer keys than the page: it needs tasks without one (they come
	 * last, by id), which only the scan finds. */
	if (taken < h->k && taken < n)
		return 1;
	*total = (size_t)n;
	return dp_query_check(q);
}

int dp_tasks_scan(dp_query *q, const dp_qdataflow *d, const char *metric, const dp_agg *agg, dp_task_visit visit,
		  void *ctx)
{
	dp_key tkey, skey;
	dp_scan ts, ss;
	MDB_val k, v, sk = { 0, NULL }, sv = { 0, NULL };
	int rc, src = DP_SCAN_END;
	size_t seen = 0;

	dp_key_reset(&tkey);
	dp_key_cstr(&tkey, d->name);
	dp_key_reset(&skey);
	dp_key_cstr(&skey, d->name);
	if (metric)
		dp_key_cstr(&skey, metric);
	if ((rc = dp_scan_open(&ts, q->ix, q->txn, DP_DB_TASKS, &tkey, NULL)))
		return rc;
	if (metric) {
		if ((rc = dp_scan_open(&ss, q->ix, q->txn, DP_DB_SUMMARIES, &skey, NULL))) {
			dp_scan_close(&ts);
			return rc;
		}
		src = dp_scan_next(&ss, &sk, &sv);
	}
	while ((rc = dp_scan_next(&ts, &k, &v)) == DP_SCAN_ROW) {
		rc = 0;
		if (seen++ % 1024 == 0 && (rc = dp_query_past_deadline(q)))
			break;
		/* The key ends with the id and its NUL. */
		const char *id = (const char *)k.mv_data + tkey.n;
		dp_qv value = { 0 };
		int64_t epoch = 0;
		/* Summaries of tasks before this one (none, unless the index
		 * holds a summary without its task) are passed over. */
		while (metric && src == DP_SCAN_ROW) {
			int c = strcmp((const char *)sk.mv_data + skey.n, id);
			if (c > 0)
				break;
			dp_summary s;
			if (c == 0 && dp_summary_unpack(sv.mv_data, sv.mv_size, &s))
				value = dp_query_summary_value(q, d->name, id, &s, metric, agg, &epoch);
			src = dp_scan_next(&ss, &sk, &sv);
		}
		if ((rc = visit(ctx, id, &v, &value, epoch)))
			break;
	}
	if (!rc && src < 0)
		rc = src;
	if (metric)
		dp_scan_close(&ss);
	dp_scan_close(&ts);
	return rc < 0 ? rc : dp_query_check(q);
}

typedef struct page_ctx {
	dp_page_heap *h;
	dp_page_key pk;
	size_t total;
} page_ctx;

static int offer_task(void *ctx, const char *id, const MDB_val *v, const dp_qv *value, int64_t epoch)
{
	page_ctx *p = ctx;
	dp_page_item it = { .id = id };
	(void)epoch;
	if (p->h->trainings) {
		char status[16];
		dp_str hyps, tf;
		dp_task_status_hyps(v->mv_data, v->mv_size, status, &hyps, &tf);
		if (!dp_transformation_trains(tf))
			return 0;
	}
	p->total++;
	if (p->pk == PAGE_TASK) {
		it.key.type = QV_TEXT;
		it.key.text = it.id;
	} else if (p->pk == PAGE_START) {
		double start;
		if (dp_task_start(v->mv_data, v->mv_size, &start) && !isnan(start))
			it.key = dp_qv_real(start);
	} else {
		it.key = *value;
	}
	return heap_offer(p->h, &it);
}

/* Every task is offered, so a task without a value takes its place among
 * the missing (last, by id), as in the whole answer. */
int dp_page_select(dp_query *q, const dp_qdataflow *d, const char *metric, dp_page_key pk, const dp_agg *agg,
		   dp_page_heap *h, size_t *total)
{
	page_ctx p = { h, pk, 0 };
	int rc;
	/* First the keys that keep the page's order (page_ordered): a page of
	 * a million runs costs the keys of the page. */
	*total = 0;
	/* The keys and counts hold every task: when some may be a pipeline's
	 * other step (the model declares a transformation of the user's), a
	 * page of trainings is chosen by the scan. */
	bool steps = false;
	for (size_t i = 0; h->trainings && i < d->model.ntfs; i++)
		steps |= !d->model.tfs[i].builtin;
	if (!steps && (rc = page_ordered(q, d, metric, pk, agg, h, total)) <= 0)
		return rc;
	h->n = 0; /* what the keys gave was not the whole page */
	rc = dp_tasks_scan(q, d, pk == PAGE_METRIC ? metric : NULL, agg, offer_task, &p);
	*total = p.total;
	return rc;
}

static _Thread_local bool g_page_desc; /* as g_sort */
static int cmp_page(const void *a, const void *b)
{
	return page_before(a, b, g_page_desc) ? -1 : page_before(b, a, g_page_desc) ? 1 : 0;
}

void dp_page_sort(dp_page_heap *h)
{
	g_page_desc = h->desc;
	if (h->n > 1) /* qsort(NULL, 0, ...) is undefined */
		qsort(h->v, h->n, sizeof(*h->v), cmp_page);
}

/* ---- groups of tasks --------------------------------------------------------------------------- */

int dp_group_key_resolve(const dp_qdataflow *d, const char *by, dp_group_key *k)
{
	memset(k, 0, sizeof(*k));
	if (dp_strcasecmp(by, "status") == 0) {
		k->kind = GROUP_STATUS;
		k->name = k->label = "status";
		return 0;
	}
	if (dp_strncasecmp(by, "tags.", 5) == 0 && by[5]) {
		k->kind = GROUP_TAG;
		k->name = by + 5;
		k->label = by;
		return 0;
	}
	if (dp_strncasecmp(by, "facts.", 6) == 0 && by[6]) {
		k->kind = GROUP_FACT;
		k->name = by + 6;
		k->label = by;
		return 0;
	}
	const char *hyp = dp_qdf_hyp(d, by);
	if (hyp) {
		k->kind = GROUP_HYP;
		k->name = k->label = hyp;
		for (size_t i = 0; i < d->nhyps; i++)
			if (strcmp(d->hyps[i].name, hyp) == 0)
				k->numeric = strcmp(d->hyps[i].type, "numeric") == 0;
		return 0;
	}
	dp_buf list = { 0 };
	for (size_t i = 0; i < d->nhyps; i++)
		dp_buf_printf(&list, "%s, ", d->hyps[i].name);
	int rc = dp_error_subject(DNNPROV_ENOTFOUND, "by",
				  "nothing to group by is called '%s' in dataflow %s: a hyperparameter (%.*s), status, "
				  "tags.KEY or facts.NAME",
				  by, d->name, list.len ? (int)list.len - 2 : 4, list.len ? dp_buf_cstr(&list) : "none");
	dp_buf_free(&list);
	return rc;
}

dp_qv dp_group_key_value(const dp_group_key *k, const dp_qtask *t)
{
	const dp_qv *v = NULL;
	dp_qv none = { 0 };
	switch (k->kind) {
	case GROUP_STATUS:
		none.type = QV_TEXT;
		none.text = t->status;
		return none;
	case GROUP_HYP: v = dp_qtask_hyp(t, k->name); break;
	case GROUP_TAG: v = dp_qtask_tag(t, k->name); break;
	case GROUP_FACT: v = dp_qtask_fact(t, k->name); break;
	}
	return v ? *v : none;
}

static _Thread_local const dp_group_key *g_group; /* for qsort, as g_sort */
static int cmp_grouped(const void *x, const void *y)
{
	const dp_qtask *a = *(const dp_qtask *const *)x, *b = *(const dp_qtask *const *)y;
	dp_qv va = dp_group_key_value(g_group, a), vb = dp_group_key_value(g_group, b);
	int c = dp_cmp_cells(&va, &vb, false);
	return c ? c : strcmp(a->id, b->id);
}

void dp_group_sort(const dp_group_key *k, const dp_qtask **sel, size_t n)
{
	g_group = k;
	if (n > 1) /* qsort(NULL, 0, ...) is undefined */
		qsort(sel, n, sizeof(*sel), cmp_grouped);
	g_group = NULL;
}

void dp_group_column(dp_table *t, size_t i, const dp_group_key *k)
{
	dp_table_set_col(t, i, k->label, k->numeric ? COL_NUM : COL_TEXT);
	if (k->kind == GROUP_HYP)
		dp_table_col_hyp(t, i, k->name, k->numeric);
	else if (k->kind == GROUP_STATUS)
		dp_table_col_status(t, i);
}

int dp_grouped_open(dp_query *q, const dp_qopts *o, const char *by, dp_grouped *g)
{
	int rc;
	memset(g, 0, sizeof(*g));
	if ((rc = dp_answer_prepare(q, o, &g->d, &g->w)))
		return rc;
	g->metric = dp_resolve_metric(q, &g->d, o->metric, &rc);
	if (rc || (rc = dp_group_key_resolve(&g->d, by, &g->key)) || (rc = dp_select_tasks(q, &g->d, g->w, &g->sel, &g->n)))
		return rc;
	dp_group_sort(&g->key, g->sel, g->n);
	return 0;
}

void dp_grouped_close(dp_grouped *g)
{
	free(g->sel);
	dp_where_free(g->w);
	dp_qdataflow_free(&g->d);
	memset(g, 0, sizeof(*g));
}

size_t dp_grouped_end(const dp_grouped *g, size_t start, dp_qv *value)
{
	size_t end = start;
	*value = dp_group_key_value(&g->key, g->sel[start]);
	while (end < g->n) {
		dp_qv ev = dp_group_key_value(&g->key, g->sel[end]);
		if (dp_cmp_cells(value, &ev, false) != 0)
			break;
		end++;
	}
	return end;
}

void dp_moments(const double *v, size_t n, size_t *count, double *mean, double *sd)
{
	double sum = 0, sq = 0;
	size_t c = 0;
	*mean = *sd = NAN;
	for (size_t i = 0; i < n; i++)
		if (!isnan(v[i])) {
			sum += v[i] / 2; /* halved: the sum of two values near DBL_MAX stays finite longer */
			c++;
		}
	*count = c;
	if (!c)
		return;
	*mean = 2 * (sum / (double)c);
	if (!isfinite(*mean)) {
		*mean = 0; /* past the range even so: the mean of the quotients */
		for (size_t i = 0; i < n; i++)
			if (!isnan(v[i]))
				*mean += v[i] / (double)c;
	}
	if (c < 2)
		return;
	/* Deviations halved and scaled by the largest: their squares stay
	 * finite whatever the values. */
	double scale = 0;
	for (size_t i = 0; i < n; i++)
		if (!isnan(v[i]) && fabs(v[i] / 2 - *mean / 2) > scale)
			scale = fabs(v[i] / 2 - *mean / 2);
	if (!(scale > 0)) {
		*sd = scale == 0 ? 0 : NAN;
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (!isnan(v[i])) {
			double r = (v[i] / 2 - *mean / 2) / scale;
			sq += r * r;
		}
	*sd = 2 * scale * sqrt(sq / (double)(c - 1));
}
