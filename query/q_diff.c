/*
 * q_diff.c - `diff`: two runs side by side, or a run and the best of its
 * dataflow: what differs between them (status, hyperparameters, run
 * facts, tags, each metric's best), the epoch where each shared metric's
 * curves part, and both runs' adaptations on one timeline.
 *
 * WHERE CURVES PART.  Two runs' curves of one metric are compared at the
 * epochs both reported (finite values), in epoch order, i = 1..n:
 *
 *   d_i      = |a_i - b_i|, the gap between them;
 *   steps    = |a_j - a_(j-1)| and |b_j - b_(j-1)| for j = 2..n: how much
 *              each curve moves from one epoch to the next;
 *   noise_i  = the median of the steps of both curves over a window of
 *              W = 5 epochs ending at i (j from i - W + 1 to i; near the
 *              start, the first W steps);
 *
 * and they part at the first epoch i where d_i > K * noise_i, K = 3, and
 * so on for M = 3 epochs in a row (i, i + 1, i + 2): a gap larger than
 * three times what the curves move by themselves, held, not one noisy
 * epoch.  Fewer than M shared epochs, or no step, cannot part.  The
 * sentence says what came before it: the latest adaptation at or before
 * that epoch that the runs do not share ("after LEARNING_RATE 0.01 ->
 * 0.005 in B only"), else the hyperparameters that differ.  docs/QUERY.md
 * states the same rule.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "query/registry.h"
#include "query/rows.h"

typedef struct diff_opts {
	dp_qopts o;
	const char *other; /* B; NULL: the best of the dataflow */
	bool same;         /* rows for what is the same too */
} diff_opts;

/* The columns. */
enum { C_SECTION, C_NAME, C_EPOCH, C_A, C_B, C_NOTE, NCOLS };

/* ---- the rule ---------------------------------------------------------------------------------- */

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return a < b ? -1 : a > b;
}

/* The median step of both curves over the window of epoch i (0-based). */
static double window_noise(const double *a, const double *b, size_t n, size_t i)
{
	double steps[2 * DP_PART_WINDOW];
	size_t m = 0, lo = i + 1 >= DP_PART_WINDOW ? i + 1 - DP_PART_WINDOW : 0;
	if (lo < 1)
		lo = 1; /* steps begin at the second epoch */
	for (size_t j = lo; j < n && j < lo + DP_PART_WINDOW; j++) {
		steps[m++] = fabs(a[j] - a[j - 1]);
		steps[m++] = fabs(b[j] - b[j - 1]);
	}
	if (!m)
		return NAN;
	qsort(steps, m, sizeof(double), cmp_double);
	return m % 2 ? steps[m / 2] : (steps[m / 2 - 1] + steps[m / 2]) / 2;
}

size_t dp_curves_part(const double *a, const double *b, size_t n, double *noise)
{
	size_t held = 0;
	*noise = NAN;
	if (n < 2 || n < DP_PART_HOLD)
		return n;
	for (size_t i = 0; i < n; i++) {
		double ni = window_noise(a, b, n, i);
		bool apart = fabs(a[i] - b[i]) > DP_PART_K * ni;
		held = apart ? held + 1 : 0;
		if (held == 1)
			*noise = ni;
		if (held == DP_PART_HOLD)
			return i + 1 - DP_PART_HOLD;
	}
	*noise = NAN;
	return n;
}

/* ---- the two runs -------------------------------------------------------------------------------- */

typedef struct adapt {
	int64_t epoch;
	char *hyp;
	dp_qv old_value, new_value;
	int side; /* 0: A, 1: B */
} adapt;

typedef struct side {
	const dp_qtask *t;
	adapt *ad;
	size_t nad;
	int64_t *epochs; /* per metric of the shared list: the epochs and values it reported */
	double **values;
	size_t *n;
} side;

typedef struct diff {
	dp_query *q;
	dp_qdataflow d;
	const char **metrics; /* both reported */
	size_t nm;
	side s[2];
	dp_table *out;
	dp_buf text;
} diff;

static void qv_free(dp_qv *v)
{
	if (v->type == QV_TEXT)
		free((char *)v->text);
	v->type = QV_NULL;
}

static int qv_from_field(dp_qv *v, dp_field f)
{
	memset(v, 0, sizeof(*v));
	if (f.type == DP_F_INT)
		*v = dp_qv_int(f.i);
	else if (f.type == DP_F_REAL)
		*v = dp_qv_real(f.d);
	else if (f.type == DP_F_TEXT) {
		if (!(v->text = strndup(f.s.p, f.s.n)))
			return dp_error(DNNPROV_ENOMEM, "out of memory");
		v->type = QV_TEXT;
	}
	return 0;
}

/* A value as the sentence and the table's notes write it. */
static void value_text(dp_buf *b, const dp_qv *v)
{
	if (!v || v->type == QV_NULL)
		dp_buf_printf(b, "none");
	else if (v->type == QV_TEXT)
		dp_buf_printf(b, "%s", v->text);
	else if (v->integer)
		dp_buf_printf(b, "%lld", (long long)v->i);
	else
		dp_buf_printf(b, "%.6g", v->num);
}

static bool same_value(const dp_qv *a, const dp_qv *b)
{
	bool an = !a || a->type == QV_NULL, bn = !b || b->type == QV_NULL;
	if (an || bn)
		return an && bn;
	return dp_cmp_cells(a, b, false) == 0;
}

/* A task's adaptations, in epoch order (the key's). */
static int load_adaptations(diff *x, int k)
{
	side *s = &x->s[k];
	dp_key key;
	dp_scan sc;
	MDB_val kv, v;
	int r, rc;

	dp_key_reset(&key);
	dp_key_cstr(&key, x->d.name);
	dp_key_cstr(&key, s->t->id);
	if ((rc = dp_scan_open(&sc, x->q->ix, x->q->txn, DP_DB_ADAPTATIONS, &key, NULL)))
		return rc;
	while ((r = dp_scan_next(&sc, &kv, &v)) == DP_SCAN_ROW) {
		dp_adapt_row row;
		if (dp_read_adapt(&x->q->dec, &kv, &v, &row))
			continue; /* a damaged row is left out, as every question leaves it */
		adapt *grown = realloc(s->ad, (s->nad + 1) * sizeof(*grown));
		if (!grown) {
			r = dp_error(DNNPROV_ENOMEM, "out of memory");
			break;
		}
		s->ad = grown;
		adapt *a = &s->ad[s->nad];
		memset(a, 0, sizeof(*a));
		a->epoch = row.epoch;
		a->side = k;
		if (!(a->hyp = strndup(row.hyp.p, row.hyp.n)) || qv_from_field(&a->old_value, row.old_value) ||
		    qv_from_field(&a->new_value, row.new_value)) {
			free(a->hyp);
			qv_free(&a->old_value);
			r = dp_error(DNNPROV_ENOMEM, "out of memory");
			break;
		}
		s->nad++;
	}
	dp_scan_close(&sc);
	return r < 0 ? r : 0;
}

/* The shared metrics' values, epoch by epoch, from one range scan. */
static int load_curves(diff *x, int k)
{
	side *s = &x->s[k];
	dp_key key;
	dp_qepochs scan;
	dp_epoch_row er;
	int rc, more;
	size_t cap = 0;

	s->values = calloc(x->nm + 1, sizeof(double *));
	s->n = calloc(x->nm + 1, sizeof(size_t));
	if (!s->values || !s->n)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	dp_key_reset(&key);
	dp_key_cstr(&key, x->d.name);
	dp_key_cstr(&key, s->t->id);
	if ((rc = dp_qepochs_open(&scan, x->q->ix, x->q->txn, NULL, &key, false, 0)))
		return rc;
	size_t row = 0;
	while ((more = dp_qepochs_next(&scan, &er)) > 0) {
		if (row == cap) {
			cap = cap ? 2 * cap : 64;
			int64_t *ge = realloc(s->epochs, cap * sizeof(int64_t));
			if (ge)
				s->epochs = ge;
			for (size_t m = 0; ge && m < x->nm; m++) {
				double *gv = realloc(s->values[m], cap * sizeof(double));
				if (!gv) {
					ge = NULL;
					break;
				}
				s->values[m] = gv;
			}
			if (!ge) {
				more = dp_error(DNNPROV_ENOMEM, "out of memory");
				break;
			}
		}
		s->epochs[row] = er.epoch;
		for (size_t m = 0; m < x->nm; m++) {
			dp_field f = dp_rmap_get(er.metrics, x->metrics[m]);
			s->values[m][row] = f.type == DP_F_INT || f.type == DP_F_REAL ? f.d : NAN;
		}
		row++;
	}
	dp_qepochs_close(&scan);
	for (size_t m = 0; m < x->nm; m++)
		s->n[m] = row;
	return more < 0 ? more : 0;
}

/* ---- rows --------------------------------------------------------------------------------------- */

static dp_qv *add_row(diff *x, const char *section, const char *name)
{
	dp_qv *row = dp_table_add_row(x->out);
	if (row) {
		dp_set_text(&row[C_SECTION], section);
		dp_set_text(&row[C_NAME], name);
	}
	return row;
}

/* A row of what differs (or, with --same, of what is the same). */
static int pair_row(diff *x, const char *section, const char *name, const dp_qv *a, const dp_qv *b, bool same)
{
	bool eq = same_value(a, b);
	if (eq && !same)
		return 0;
	dp_qv *row = add_row(x, section, name);
	if (!row)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	if (dp_copy_value(&row[C_A], a) || dp_copy_value(&row[C_B], b) || dp_set_text(&row[C_NOTE], eq ? "same" : NULL))
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	return 0;
}

/* Names of both runs' facts or tags, each once, A's order first. */
static int names_of(const dp_qhyp *a, size_t na, const dp_qhyp *b, size_t nb, const char ***out, size_t *n)
{
	*n = 0;
	if (!(*out = calloc(na + nb + 1, sizeof(char *))))
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	for (size_t i = 0; i < na + nb; i++) {
		const char *name = i < na ? a[i].name : b[i - na].name;
		size_t k = 0;
		while (k < *n && strcmp((*out)[k], name) != 0)
			k++;
		if (k == *n)
			(*out)[(*n)++] = name;
	}
	return 0;
}

static const dp_qv *value_in(const dp_qhyp *h, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(h[i].name, name) == 0)
			return &h[i].value;
	return NULL;
}

static int run_rows(diff *x, bool same)
{
	const dp_qtask *a = x->s[0].t, *b = x->s[1].t;
	dp_qv sa = { 0 }, sb = { 0 };
	const char **names = NULL;
	size_t n;
	int rc;

	sa.type = sb.type = QV_TEXT;
	sa.text = a->status;
	sb.text = b->status;
	if ((rc = pair_row(x, "run", "status", &sa, &sb, same)))
		return rc;
	dp_qv ea = dp_qv_int((int64_t)a->epochs), eb = dp_qv_int((int64_t)b->epochs);
	if ((rc = pair_row(x, "run", "epochs", &ea, &eb, same)))
		return rc;
	for (size_t i = 0; i < x->d.nhyps && !rc; i++)
		rc = pair_row(x, "hyperparameter", x->d.hyps[i].name, dp_qtask_hyp(a, x->d.hyps[i].name),
			      dp_qtask_hyp(b, x->d.hyps[i].name), same);
	if (!rc && !(rc = names_of(a->facts, a->nfacts, b->facts, b->nfacts, &names, &n)))
		for (size_t i = 0; i < n && !rc; i++)
			rc = pair_row(x, "fact", names[i], value_in(a->facts, a->nfacts, names[i]),
				      value_in(b->facts, b->nfacts, names[i]), same);
	free(names);
	names = NULL;
	if (!rc && !(rc = names_of(a->tags, a->ntags, b->tags, b->ntags, &names, &n)))
		for (size_t i = 0; i < n && !rc; i++)
			rc = pair_row(x, "tag", names[i], value_in(a->tags, a->ntags, names[i]),
				      value_in(b->tags, b->ntags, names[i]), same);
	free(names);
	return rc;
}

/* Each declared metric's best, in A and B, and which is better. */
static int metric_rows(diff *x, bool same)
{
	for (size_t i = 0; i < x->d.nmetrics; i++) {
		const char *m = x->d.metrics[i];
		bool lower = dp_metric_lower_is_better(m);
		dp_agg best = { lower ? AGG_MIN : AGG_MAX, 0 };
		dp_qv va = dp_query_metric(x->q, x->d.name, x->s[0].t->id, m, &best, NULL);
		dp_qv vb = dp_query_metric(x->q, x->d.name, x->s[1].t->id, m, &best, NULL);
		if (va.type == QV_NULL && vb.type == QV_NULL)
			continue;
		bool eq = same_value(&va, &vb);
		if (eq && !same)
			continue;
		char name[DNNPROV_NAME_MAX + 16];
		snprintf(name, sizeof(name), "%s(%s)", lower ? "min" : "max", m);
		dp_qv *row = add_row(x, "metric", name);
		if (!row)
			return dp_error(DNNPROV_ENOMEM, "out of memory");
		row[C_A] = va;
		row[C_B] = vb;
		const char *note = eq ? "same" : va.type == QV_NULL ? "B only" : vb.type == QV_NULL ? "A only"
			: (lower ? va.num < vb.num : va.num > vb.num) ? "A better" : "B better";
		dp_set_text(&row[C_NOTE], note);
	}
	return 0;
}

static int cmp_adapt(const void *x, const void *y)
{
	const adapt *a = x, *b = y;
	int c = a->epoch < b->epoch ? -1 : a->epoch > b->epoch;
	if (!c)
		c = strcmp(a->hyp, b->hyp);
	return c ? c : a->side - b->side;
}

/* "0.01 -> 0.005" */
static void change_text(dp_buf *b, const adapt *a)
{
	value_text(b, &a->old_value);
	dp_buf_printf(b, " \xE2\x86\x92 ");
	value_text(b, &a->new_value);
}

/* Whether adaptation a (of one side) is the other side's too: the same
 * hyperparameter at the same epoch to the same value. */
static bool shared_adaptation(const diff *x, const adapt *a)
{
	const side *o = &x->s[1 - a->side];
	for (size_t i = 0; i < o->nad; i++)
		if (o->ad[i].epoch == a->epoch && strcmp(o->ad[i].hyp, a->hyp) == 0 &&
		    same_value(&o->ad[i].new_value, &a->new_value))
			return true;
	return false;
}

/* Both runs' adaptations on one timeline: a row per epoch and
 * hyperparameter, the change in A's column, B's, or both. */
static int adaptation_rows(diff *x)
{
	size_t n = x->s[0].nad + x->s[1].nad;
	adapt *all = calloc(n + 1, sizeof(*all));
	dp_buf b = { 0 };
	int rc = 0;
	if (!all)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	/* A run without adaptations has no array: memcpy takes no NULL. */
	if (x->s[0].nad)
		memcpy(all, x->s[0].ad, x->s[0].nad * sizeof(*all));
	if (x->s[1].nad)
		memcpy(all + x->s[0].nad, x->s[1].ad, x->s[1].nad * sizeof(*all));
	qsort(all, n, sizeof(*all), cmp_adapt);
	for (size_t i = 0; i < n && !rc;) {
		size_t j = i + 1;
		while (j < n && all[j].epoch == all[i].epoch && strcmp(all[j].hyp, all[i].hyp) == 0)
			j++;
		dp_qv *row = add_row(x, "adaptation", all[i].hyp);
		if (!row) {
			rc = dp_error(DNNPROV_ENOMEM, "out of memory");
			break;
		}
		dp_set_int(&row[C_EPOCH], all[i].epoch);
		bool sides[2] = { false, false };
		for (size_t k = i; k < j; k++) {
			b.len = 0;
			change_text(&b, &all[k]);
			if (b.failed || dp_set_text(&row[all[k].side == 0 ? C_A : C_B], dp_buf_cstr(&b)))
				rc = dp_error(DNNPROV_ENOMEM, "out of memory");
			sides[all[k].side] = true;
		}
		dp_set_text(&row[C_NOTE], sides[0] && sides[1] ? (shared_adaptation(x, &all[i]) ? "both" : "both, to different values")
					  : sides[0] ? "A only" : "B only");
		i = j;
	}
	dp_buf_free(&b);
	free(all);
	return rc;
}

/* The latest adaptation at or before epoch e that the runs do not share,
 * or NULL. */
static const adapt *last_unshared(const diff *x, int64_t e)
{
	const adapt *best = NULL;
	for (int k = 0; k < 2; k++)
		for (size_t i = 0; i < x->s[k].nad; i++) {
			const adapt *a = &x->s[k].ad[i];
			if (a->epoch <= e && (!best || a->epoch > best->epoch) && !shared_adaptation(x, a))
				best = a;
		}
	return best;
}

/* What came before the parting, for the sentence: an unshared adaptation,
 * else the hyperparameters that differ (three at most). */
static void parting_cause(diff *x, int64_t e, dp_buf *b)
{
	const adapt *a = last_unshared(x, e);
	if (a) {
		const adapt *other = NULL;
		const side *o = &x->s[1 - a->side];
		for (size_t i = 0; i < o->nad; i++)
			if (o->ad[i].epoch == a->epoch && strcmp(o->ad[i].hyp, a->hyp) == 0)
				other = &o->ad[i];
		dp_buf_printf(b, ", after %s ", a->hyp);
		change_text(b, a);
		if (other) {
			dp_buf_printf(b, " in %s and ", a->side ? "B" : "A");
			change_text(b, other);
			dp_buf_printf(b, " in %s at epoch %lld", a->side ? "A" : "B", (long long)a->epoch);
		} else {
			dp_buf_printf(b, " in %s only (epoch %lld)", a->side ? "B" : "A", (long long)a->epoch);
		}
		return;
	}
	size_t said = 0;
	for (size_t i = 0; i < x->d.nhyps && said < 3; i++) {
		const char *h = x->d.hyps[i].name;
		const dp_qv *va = dp_qtask_hyp(x->s[0].t, h), *vb = dp_qtask_hyp(x->s[1].t, h);
		if (same_value(va, vb))
			continue;
		dp_buf_printf(b, "%s%s ", said ? "; " : ", with ", h);
		value_text(b, va);
		dp_buf_printf(b, " in A and ");
		value_text(b, vb);
		dp_buf_printf(b, " in B");
		said++;
	}
	if (!said)
		dp_buf_printf(b, ", with the same hyperparameters and adaptations");
}

/* For each shared metric: the epoch where the curves part, in a row and a
 * sentence. */
static int parting_rows(diff *x, const char *main, dp_buf *summary)
{
	int rc = 0;
	double *a = NULL, *b = NULL;
	int64_t *ep = NULL;
	for (size_t m = 0; m < x->nm && !rc; m++) {
		const side *sa = &x->s[0], *sb = &x->s[1];
		size_t n = 0, i = 0, j = 0;
		free(a);
		free(b);
		free(ep);
		a = malloc((sa->n[m] + 1) * sizeof(double));
		b = malloc((sa->n[m] + 1) * sizeof(double));
		ep = malloc((sa->n[m] + 1) * sizeof(int64_t));
		if (!a || !b || !ep) {
			rc = dp_error(DNNPROV_ENOMEM, "out of memory");
			break;
		}
		/* The epochs both reported, finite, in order (each side's are). */
		while (i < sa->n[m] && j < sb->n[m]) {
			if (sa->epochs[i] < sb->epochs[j])
				i++;
			else if (sa->epochs[i] > sb->epochs[j])
				j++;
			else {
				if (isfinite(sa->values[m][i]) && isfinite(sb->values[m][j])) {
					a[n] = sa->values[m][i];
					b[n] = sb->values[m][j];
					ep[n++] = sa->epochs[i];
				}
				i++;
				j++;
			}
		}
		double noise;
		size_t at = dp_curves_part(a, b, n, &noise);
		dp_qv *row = add_row(x, "parting", x->metrics[m]);
		if (!row) {
			rc = dp_error(DNNPROV_ENOMEM, "out of memory");
			break;
		}
		x->text.len = 0;
		if (at < n) {
			dp_set_int(&row[C_EPOCH], ep[at]);
			dp_set_num(&row[C_A], a[at]);
			dp_set_num(&row[C_B], b[at]);
			dp_buf_printf(&x->text, "%s parts at epoch %lld", x->metrics[m], (long long)ep[at]);
			parting_cause(x, ep[at], &x->text);
			dp_buf_printf(&x->text, " (A %.4g, B %.4g: a gap over %g times the noise of %.3g, for %d epochs)",
				      a[at], b[at], DP_PART_K, noise, DP_PART_HOLD);
		} else if (n < DP_PART_HOLD || n < 2) {
			dp_buf_printf(&x->text, "%s: too few shared epochs to tell (%zu)", x->metrics[m], n);
		} else {
			dp_buf_printf(&x->text, "%s does not part: over its %zu shared epochs the gap stays within %g "
						"times the curves' epoch-to-epoch noise", x->metrics[m], n, DP_PART_K);
		}
		if (x->text.failed || dp_set_text(&row[C_NOTE], dp_buf_cstr(&x->text)))
			rc = dp_error(DNNPROV_ENOMEM, "out of memory");
		else if (!summary->len || (main && strcmp(x->metrics[m], main) == 0)) {
			/* The answer's sentence: the chosen metric's, else the first's. */
			summary->len = 0;
			dp_buf_printf(summary, "%s", dp_buf_cstr(&x->text));
		}
	}
	free(a);
	free(b);
	free(ep);
	return rc;
}

/* ---- the answer ------------------------------------------------------------------------------ */

/* The best run of the dataflow by the metric, other than `not`: from the
 * summaries, without loading the tasks. */
static int best_other(dp_query *q, const dp_qopts *o, const char *not, char **out)
{
	dp_qdataflow spec;
	dp_page_heap h = { 0 };
	size_t total;
	int rc;

	*out = NULL;
	if ((rc = dp_query_load_spec(q, o->df, &spec)))
		return rc;
	const char *metric = dp_resolve_metric(q, &spec, o->metric, &rc);
	if (!rc) {
		bool lower = dp_goal_lower(o, metric);
		dp_agg agg = dp_agg_resolved(o, lower);
		h.k = 2;
		h.desc = !lower;
		if (!(rc = dp_page_select(q, &spec, metric, PAGE_METRIC, &agg, &h, &total))) {
			dp_page_sort(&h);
			for (size_t i = 0; i < h.n && !*out; i++)
				if (strcmp(h.v[i].id, not) != 0 && h.v[i].key.type == QV_NUM && !(*out = strdup(h.v[i].id)))
					rc = dp_error(DNNPROV_ENOMEM, "out of memory");
			if (!rc && !*out)
				rc = dp_error_subject(DNNPROV_ENOTFOUND, "other",
						      "dataflow %s has no other run with %s to compare %s with", spec.name,
						      metric, not);
		}
	}
	free(h.v);
	dp_qdataflow_free(&spec);
	return rc;
}

static void diff_free(diff *x)
{
	for (int k = 0; k < 2; k++) {
		side *s = &x->s[k];
		for (size_t i = 0; i < s->nad; i++) {
			free(s->ad[i].hyp);
			qv_free(&s->ad[i].old_value);
			qv_free(&s->ad[i].new_value);
		}
		free(s->ad);
		for (size_t m = 0; s->values && m < x->nm; m++)
			free(s->values[m]);
		free(s->values);
		free(s->n);
		free(s->epochs);
	}
	free(x->metrics);
	dp_buf_free(&x->text);
	dp_qdataflow_free(&x->d);
}

static int answer(dp_query *q, const dp_qopts *o, dp_table *out, dp_qnotes *notes)
{
	const diff_opts *dox = (const diff_opts *)o;
	diff x = { .q = q, .out = out };
	char *best = NULL;
	dp_buf summary = { 0 };
	int rc;

	if (!dox->other && (rc = best_other(q, o, o->task, &best)))
		return rc;
	const char *ids[2] = { o->task, dox->other ? dox->other : best };
	if ((rc = dp_query_load_ids(q, o->df, ids, 2, &x.d)))
		goto out;
	for (int k = 0; k < 2; k++)
		if (!(x.s[k].t = dp_qtask_find(&x.d, ids[k]))) {
			rc = dp_query_no_task(q, x.d.name, ids[k]);
			if (k == 1 && rc == DNNPROV_ENOTFOUND)
				dp_error_about("other"); /* B, whatever the message's own subject */
			goto out;
		}
	if (strcmp(ids[0], ids[1]) == 0) {
		rc = dp_error_subject(DNNPROV_EQUERY, "other", "a run is the same as itself: give two runs");
		goto out;
	}
	/* The metrics both runs reported. */
	if (!(x.metrics = calloc(x.d.nmetrics + 1, sizeof(char *)))) {
		rc = dp_error(DNNPROV_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < x.d.nmetrics; i++) {
		dp_summary sa, sb;
		if (dp_query_summary(q, x.d.name, ids[0], x.d.metrics[i], &sa) &&
		    dp_query_summary(q, x.d.name, ids[1], x.d.metrics[i], &sb))
			x.metrics[x.nm++] = x.d.metrics[i];
	}
	if ((rc = load_adaptations(&x, 0)) || (rc = load_adaptations(&x, 1)) || (rc = load_curves(&x, 0)) ||
	    (rc = load_curves(&x, 1)) || (rc = dp_table_init(out, NCOLS)))
		goto out;
	dp_table_set_col(out, C_SECTION, "section", COL_TEXT);
	dp_table_set_col(out, C_NAME, "name", COL_TEXT);
	dp_table_set_col(out, C_EPOCH, "epoch", COL_INT);
	dp_table_set_col(out, C_A, "a", COL_NUM); /* numbers as numbers, texts as texts */
	dp_table_col_value(out, C_A);
	dp_table_set_col(out, C_B, "b", COL_NUM);
	dp_table_col_value(out, C_B);
	dp_table_set_col(out, C_NOTE, "note", COL_TEXT);
	dp_table_about_tasks(out, ids[0], ids[1]);
	if (o->metric || x.nm) {
		const char *main = dp_resolve_metric(q, &x.d, o->metric, &rc);
		if (rc)
			goto out;
		bool lower = dp_goal_lower(o, main);
		dp_table_about_metric(out, main, NULL, dp_goal_of(lower));
	}
	if ((rc = run_rows(&x, dox->same)) || (rc = metric_rows(&x, dox->same)) || (rc = parting_rows(&x, out->about.metric, &summary)) ||
	    (rc = adaptation_rows(&x)))
		goto out;
	if (summary.len)
		dp_table_about_note(out, dp_buf_cstr(&summary));
	if (notes)
		dp_buf_printf(&notes->text, "A: %s\nB: %s%s\n", ids[0], ids[1], best ? " (the best of the dataflow)" : "");
out:
	free(best);
	dp_buf_free(&summary);
	diff_free(&x);
	return rc;
}

static const dp_param params[] = {
	DP_PARAM_DATAFLOW,
	{ .name = "task", .type = DP_PT_TASK, .arg = "TASK", .positional = "TASK", .required = true,
	  .help = "run A", .fronts = DP_FRONT_NAMED, .offset = offsetof(dp_qopts, task) },
	{ .name = "other", .type = DP_PT_TASK, .arg = "OTHER", .positional = "OTHER",
	  .def_help = "the best run of the dataflow by the metric (the next best when A is the best)",
	  .help = "run B", .fronts = DP_FRONT_NAMED, .offset = offsetof(diff_opts, other) },
	DP_PARAM_METRIC,
	DP_PARAM_GOAL,
	{ .name = "same", .type = DP_PT_FLAG, .help = "rows for what is the same in both runs too",
	  .fronts = DP_FRONT_ALL, .offset = offsetof(diff_opts, same) },
};

const dp_question dp_q_diff = {
	.name = "diff",
	.summary = "two runs side by side: what differs, where their curves part",
	.description =
		"Run A beside run B (OTHER), or beside the best run of the dataflow by the\n"
		"metric: a row for each thing that differs, by section: run (status, epochs),\n"
		"hyperparameter, fact, tag, metric (each declared metric's best in A and in B,\n"
		"and which is better); then for each metric both reported, the epoch where\n"
		"their curves part (parting), in a sentence: \"val_loss parts at epoch 7, after\n"
		"LEARNING_RATE 0.01 -> 0.005 in B only\"; then both runs' adaptations on one\n"
		"timeline.  Curves part at the first epoch where their gap passes 3 times the\n"
		"median epoch-to-epoch change of both curves over the 5 epochs up to it, and\n"
		"stays past it for 3 epochs (docs/QUERY.md).  --same adds the rows that are the\n"
		"same.",
	.example = "dnnprov diff -c exp.yaml adam-lr0.01-1 adam-lr0.001-2",
	DP_PARAMS(params),
	.opts_size = sizeof(diff_opts),
	.answer = answer,
};
