/*
 * q_effect.c - `effect`: what one hyperparameter does to a metric, per
 * value or bin of values, with Spearman's rank correlation.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "query/registry.h"
#include "query/rows.h"

typedef struct effect_opts {
	dp_qopts o;
	const char *hyp; /* the hyperparameter */
	int64_t bins;    /* groups of a numeric one; 0: automatic */
} effect_opts;

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

/* Spearman's rank correlation of paired values (ties get average ranks) in
 * *rho: NaN when fewer than 3 pairs or a side is constant.  Returns 0, or
 * DNNPROV_ENOMEM. */
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
static int effect_names(dp_query *q, const effect_opts *o, const dp_qdataflow *d, const char **metric,
			const char **hyp)
{
	int rc = 0;
	*metric = dp_resolve_metric(q, d, o->o.metric, &rc);
	if (rc)
		return rc;
	*hyp = o->hyp ? dp_qdf_hyp(d, o->hyp) : NULL;
	if (!*hyp) {
		dp_buf list = { 0 };
		for (size_t i = 0; i < d->nhyps; i++)
			dp_buf_printf(&list, "%s%s", i ? ", " : "", d->hyps[i].name);
		rc = dp_error_subject(DNNPROV_ENOTFOUND, "hyp", "no hyperparameter '%s' in dataflow %s (hyperparameters: %s)",
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
	dp_table_col_hyp(out, 0, hyp, numeric);
	dp_table_about_metric(out, metric, agg, dp_goal_of(lower));
	dp_table_about_hyp(out, hyp, binned);
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
			dp_set_text(&row[0], label);
		} else if (binned) {
			dp_set_text(&row[0], "NaN");
		} else {
			dp_copy_value(&row[0], &items[start].h);
		}
		/* The bounds as numbers: a reader never parses them back out
		 * of the label. */
		if (items[start].h.type == QV_NUM) /* a group of one value has the label's */
			dp_table_about_group(out, out->nrows - 1, items[start].h.num, items[bin ? end - 1 : start].h.num);
		else
			dp_table_about_group(out, out->nrows - 1, NAN, NAN);
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
		dp_set_count(&row[1], end - start);
		dp_set_count(&row[2], cnt);
		if (cnt) {
			dp_set_num(&row[3], mean);
			if (cnt > 1)
				dp_set_num(&row[4], sd);
			dp_set_num(&row[5], mn);
			dp_set_num(&row[6], mx);
			dp_set_text(&row[7], best);
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
			dp_set_num(&out->cells[r * out->ncols + 8], rho);
	if (numeric)
		dp_table_about_spearman(out, rho, pairs, 8); /* said once; the column repeats it */
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

/* Every task of the dataflow passing --where: loaded, then sorted by value. */
static int effect_slow(dp_query *q, const effect_opts *eo, dp_table *out, dp_qnotes *notes)
{
	const dp_qopts *o = &eo->o;
	dp_qdataflow d;
	dp_where *w;
	const dp_qtask **sel = NULL;
	eff_item *items = NULL;
	dp_qv *column = NULL;
	size_t n, m = 0;
	const char *metric, *hyp;
	int rc;

	if ((rc = dp_answer_prepare(q, o, &d, &w)))
		return rc;
	if ((rc = effect_names(q, eo, &d, &metric, &hyp)) || (rc = dp_select_tasks(q, &d, w, &sel, &n)))
		goto out;
	bool lower = dp_goal_lower(o, metric);
	dp_agg agg = dp_agg_resolved(o, lower);
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
	if (m > 1) /* qsort(NULL, 0, ...) is undefined */
		qsort(items, m, sizeof(*items), cmp_eff);
	eff_shape s = effect_shape(items, m, (int)eo->bins);
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

/* The slot of id[0..n) (of hash h): its own, or the empty one where it
 * would go. */
static eff_slot *id_slot_at(const eff_ids *x, const char *id, size_t n, uint64_t h)
{
	for (size_t i = (size_t)h & x->mask;; i = (i + 1) & x->mask) {
		eff_slot *e = &x->slots[i];
		if (!e->pos)
			return e;
		const char *t = x->items[e->pos - 1].task;
		if (e->hash == (uint32_t)(h >> 32) && strncmp(t, id, n) == 0 && t[n] == '\0')
			return e;
	}
}

static eff_slot *id_slot(const eff_ids *x, const char *id, size_t n)
{
	return id_slot_at(x, id, n, id_hash(id, n));
}

/* A million lookups in a table larger than the caches wait for memory
 * three times each (the slot, the item, its id): a batch of them fetches
 * each step's lines ahead for the whole batch, and waits once per step. */
enum { EFF_BATCH = 16 };

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
	for (size_t at = 0; at < m; at += EFF_BATCH) {
		size_t b = m - at < EFF_BATCH ? m - at : EFF_BATCH, len[EFF_BATCH];
		uint64_t h[EFF_BATCH];
		for (size_t j = 0; j < b; j++) {
			len[j] = strlen(items[at + j].task);
			h[j] = id_hash(items[at + j].task, len[j]);
			__builtin_prefetch(&x->slots[(size_t)h[j] & x->mask]);
		}
		for (size_t j = 0; j < b; j++) {
			eff_slot *e = id_slot_at(x, items[at + j].task, len[j], h[j]);
			if (e->pos)
				return EFFECT_SLOW;
			e->hash = (uint32_t)(h[j] >> 32);
			e->pos = (uint32_t)(at + j + 1);
		}
	}
	return 0;
}

/* The item of task id[0..n), or -1. */
static ptrdiff_t id_item(const eff_ids *x, const char *id, size_t n)
{
	return (ptrdiff_t)id_slot(x, id, n)->pos - 1;
}

/* A summary row waiting for its item. */
typedef struct eff_probe {
	const char *id;
	size_t n;
	MDB_val v;
	ptrdiff_t found; /* the item, or -1 */
} eff_probe;

/* id_item of each of p[0..n), n <= EFF_BATCH, fetching ahead as above. */
static void ids_find_batch(const eff_ids *x, eff_probe *p, size_t n)
{
	const eff_slot *cand[EFF_BATCH];
	uint64_t h[EFF_BATCH];
	for (size_t i = 0; i < n; i++) {
		h[i] = id_hash(p[i].id, p[i].n);
		__builtin_prefetch(&x->slots[(size_t)h[i] & x->mask]);
	}
	/* The first slot of the id's hash: its own, unless two ids share the
	 * hash's half the slots keep. */
	for (size_t i = 0; i < n; i++) {
		size_t j = (size_t)h[i] & x->mask;
		while (x->slots[j].pos && x->slots[j].hash != (uint32_t)(h[i] >> 32))
			j = (j + 1) & x->mask;
		cand[i] = x->slots[j].pos ? &x->slots[j] : NULL;
		if (cand[i])
			__builtin_prefetch(&x->items[cand[i]->pos - 1]);
	}
	for (size_t i = 0; i < n; i++)
		if (cand[i])
			__builtin_prefetch(x->items[cand[i]->pos - 1].task);
	for (size_t i = 0; i < n; i++) {
		const char *t = cand[i] ? x->items[cand[i]->pos - 1].task : NULL;
		if (!t)
			p[i].found = -1; /* an empty slot ended the probe: not listed */
		else if (strncmp(t, p[i].id, p[i].n) == 0 && t[p[i].n] == '\0')
			p[i].found = (ptrdiff_t)cand[i]->pos - 1;
		else
			p[i].found = (ptrdiff_t)id_slot_at(x, p[i].id, p[i].n, h[i])->pos - 1;
	}
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

/* Item `found`'s metric from its summary v (-1: the summary's task has
 * no item). */
static void eff_apply(dp_query *q, const char *df, const char *metric, const dp_agg *agg, eff_item *items,
		      ptrdiff_t found, const MDB_val *v)
{
	dp_summary s;
	int64_t e;
	if (found < 0 || !dp_summary_unpack(v->mv_data, v->mv_size, &s))
		return;
	dp_qv mv = dp_query_summary_value(q, df, items[found].task, &s, metric, agg, &e);
	items[found].m = mv.type == QV_NUM ? mv.num : NAN;
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
	eff_probe batch[EFF_BATCH];
	size_t nb = 0;
	for (size_t row = 0;; row++) {
		int src = dp_scan_next(&sc, &k, &v);
		/* The rows waiting for their items, when the batch is full or the
		 * scan ends. */
		if (nb == EFF_BATCH || (nb && src != DP_SCAN_ROW)) {
			ids_find_batch(x, batch, nb);
			for (size_t b = 0; b < nb; b++)
				eff_apply(q, df, metric, agg, items, batch[b].found, &batch[b].v);
			nb = 0;
		}
		if (src != DP_SCAN_ROW) {
			rc = src;
			break;
		}
		const char *task = (const char *)k.mv_data + prefix;
		size_t tn = k.mv_size - prefix - 1, i = 0;
		if (row % 1024 == 0 && (rc = dp_query_past_deadline(q)))
			break;
		if (!merge) {
			batch[nb++] = (eff_probe){ .id = task, .n = tn, .v = v, .found = -1 };
			continue;
		}
		uint64_t p = id_prefix(task, tn);
		int c = 1;
		/* The items before this task have no summary. */
		while (r.n && (c = runs_cmp(&r, task, tn, p)) < 0 && !(rc = runs_take(&r, &i)))
			;
		if (!rc && r.n && c == 0 && !(rc = runs_take(&r, &i)))
			eff_apply(q, df, metric, agg, items, (ptrdiff_t)i, &v);
		if (rc)
			break;
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

static int effect_fast(dp_query *q, const effect_opts *eo, dp_table *out, dp_qnotes *notes)
{
	const dp_qopts *o = &eo->o;
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
	if ((rc = effect_names(q, eo, &d, &metric, &hyp)))
		goto out;
	for (size_t i = 0; i < d.nhyps; i++)
		if (d.hyps[i].name != hyp && dp_strcasecmp(d.hyps[i].name, hyp) == 0) {
			rc = EFFECT_SLOW;
			goto out;
		}
	bool lower = dp_goal_lower(o, metric);
	dp_agg agg = dp_agg_resolved(o, lower);
	if ((rc = eff_hyp_items(q, d.name, hyp, &items, &m)) || (rc = eff_task_count(q, &ntasks, &counted)))
		goto out;
	if ((!counted || ntasks != m) && (rc = eff_check_tasks(q, d.name, hyp, &x, items, m)))
		goto out;
	if ((rc = eff_metric(q, d.name, metric, &agg, &x, items, m)))
		goto out;
	free(x.slots); /* before the table's correlation needs its memory */
	x.slots = NULL;
	eff_shape s = effect_shape(items, m, (int)eo->bins);
	if ((rc = eff_labels(q, d.name, hyp, &s, items, m)))
		goto out;
	rc = effect_table(items, m, &s, hyp, metric, &agg, lower, out, notes);
out:
	free(x.slots);
	free(items);
	dp_qdataflow_free(&d);
	return rc;
}

static int answer(dp_query *q, const dp_qopts *o, dp_table *out, dp_qnotes *notes)
{
	const effect_opts *eo = (const effect_opts *)o;
	if (!o->where || !*o->where) {
		int rc = effect_fast(q, eo, out, notes);
		if (rc != EFFECT_SLOW)
			return rc;
	}
	return effect_slow(q, eo, out, notes);
}

static const dp_param params[] = {
	DP_PARAM_DATAFLOW,
	{ .name = "hyp", .type = DP_PT_NAME, .arg = "H", .required = true,
	  .help = "the hyperparameter whose values group the tasks, in any case", .fronts = DP_FRONT_ALL,
	  .offset = offsetof(effect_opts, hyp) },
	DP_PARAM_METRIC,
	DP_PARAM_AGG,
	DP_PARAM_GOAL,
	{ .name = "bins", .type = DP_PT_INT, .arg = "N", .min = 1, .max = 1000,
	  .def_help = "5, for a numeric hyperparameter of more than 10 values",
	  .help = "groups of about equal size for a numeric hyperparameter of more values than that",
	  .fronts = DP_FRONT_ALL, .offset = offsetof(effect_opts, bins) },
	DP_PARAM_WHERE("groups"),
};

const dp_question dp_q_effect = {
	.name = "effect",
	.summary = "what one hyperparameter does to a metric",
	.description =
		"Groups the tasks by the value of hyperparameter H (or, for a numeric H with more\n"
		"than 10 values, into --bins groups of about equal size; default 5) and gives per\n"
		"group the count, mean, std, min and max of the aggregated metric and the best\n"
		"task.  For a numeric H it also gives Spearman's rank correlation with the metric\n"
		"over all tasks (a line under the table; a column in CSV and JSON).  This says\n"
		"which hyperparameter matters and which value is best.",
	.example = "dnnprov effect -c exp.yaml --hyp LEARNING_RATE --metric val_accuracy",
	DP_PARAMS(params),
	.opts_size = sizeof(effect_opts),
	.answer = answer,
};
