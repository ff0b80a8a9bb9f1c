/*
 * q_curve.c - `curve`: one task epoch by epoch, with the hyperparameters
 * it adapted and sparklines.
 */
#include <stdio.h>
#include <stdlib.h>

#include "query/registry.h"
#include "query/rows.h"

typedef struct curve_opts {
	dp_qopts o;
	const char *metrics; /* m1,m2: these metrics only */
} curve_opts;

static void copy_field(dp_qv *cell, dp_field f)
{
	if (f.type == DP_F_TEXT)
		dp_cell_text(cell, f.s.p, f.s.n);
	else if (f.type == DP_F_INT)
		dp_set_int(cell, f.i);
	else if (f.type == DP_F_REAL)
		dp_set_num(cell, f.d);
}

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

static int answer(dp_query *q, const dp_qopts *o, dp_table *out, dp_qnotes *notes)
{
	const char *wanted = ((const curve_opts *)o)->metrics;
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
	if (wanted && *wanted) {
		char *list = strdup(wanted), *save = NULL;
		if (!list) {
			rc = dp_error(DNNPROV_ENOMEM, "out of memory");
			goto out;
		}
		for (char *m = strtok_r(list, ",", &save); m && !rc; m = strtok_r(NULL, ",", &save)) {
			const char *canon = dp_resolve_metric(q, &d, m, &rc);
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
	if ((rc = dp_scan_open(&sc, q->ix, q->txn, DP_DB_ADAPTATIONS, &key, NULL))) {
		goto out_ad;
	} else {
		while ((rc = dp_scan_next(&sc, &k, &v)) == DP_SCAN_ROW) {
			dp_adapt_row r;
			rc = 0;
			if (dp_read_adapt(&q->dec, &k, &v, &r))
				continue;
			int64_t e = r.epoch;
			const char *h = r.hyp.p;
			size_t hn = r.hyp.n;
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
			if ((rc = dp_copy_field(&ad[nad].value, &r.new_value))) {
				free(ad[nad].hyp);
				break;
			}
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
	dp_table_col_duration(out, 1); /* seconds, shown as they are */
	for (size_t i = 0; i < nm; i++) {
		dp_table_set_col(out, 2 + i, metrics[i], COL_NUM);
		dp_table_col_metric(out, 2 + i, metrics[i], NULL, dp_goal_of(dp_metric_lower_is_better(metrics[i])));
	}
	for (size_t i = 0; i < na; i++) {
		const dp_qv *h = dp_qtask_hyp(t, adapted[i]);
		dp_col_kind kind = h && h->type == QV_TEXT ? COL_TEXT : COL_NUM;
		char old[DNNPROV_NAME_MAX + 8];
		snprintf(old, sizeof(old), "%s_old", adapted[i]);
		dp_table_set_col(out, first_hyp + 2 * i, adapted[i], kind);
		dp_table_col_hyp(out, first_hyp + 2 * i, adapted[i], kind == COL_NUM);
		dp_table_set_col(out, first_hyp + 2 * i + 1, old, kind);
		dp_table_col_hyp(out, first_hyp + 2 * i + 1, adapted[i], kind == COL_NUM);
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
		dp_set_int(&row[0], e);
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
			dp_copy_value(&row[first_hyp + 2 * i], val);
			if (changed)
				dp_copy_value(&row[first_hyp + 2 * i + 1], before);
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

static const dp_param params[] = {
	DP_PARAM_DATAFLOW,
	DP_PARAM_TASK_REQUIRED,
	{ .name = "metrics", .type = DP_PT_NAMES, .arg = "m1,m2", .def_help = "every metric the task reported",
	  .help = "these metrics only, in this order (in any case; a name given twice is one column)",
	  .fronts = DP_FRONT_ALL, .offset = offsetof(curve_opts, metrics) },
};

const dp_question dp_q_curve = {
	.name = "curve",
	.summary = "one task epoch by epoch, with adaptations",
	.description =
		"A row per epoch of TASK: its duration, the metrics (all it reported, or\n"
		"--metrics, in any case; a name given twice is one column), the value in\n"
		"force of every hyperparameter the task adapted (the learning rate after\n"
		"each schedule step), and a mark where an adaptation happened.  The table\n"
		"format ends with a sparkline per metric.  One range scan: as fast with\n"
		"100,000 tasks in the index as with one.",
	.example = "dnnprov curve -c exp.yaml run-1 --metrics loss,val_loss",
	DP_PARAMS(params),
	.opts_size = sizeof(curve_opts),
	.answer = answer,
};
