/*
 * picture.c - one run's provenance as a DOT graph (see picture.h).
 *
 * The layout is Graphviz's (rankdir=LR): data flows from the raw dataset
 * on the left through the pre-processing tasks to the training, its model
 * and the evaluation on the right.  The colours and shapes are PROV's
 * usual ones: entities yellow ellipses, activities blue boxes, agents
 * orange houses.  Labels are short (a file's name, not its path; eight
 * hex digits of a fingerprint; at most four hyperparameters), and each
 * node's tooltip holds the long form, so that one run fits an A4 page at
 * a 9-point font or more.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "query/lineage.h"
#include "query/picture.h"
#include "query/rows.h"

#define LABEL_CHARS 24 /* a line of a label */
#define TIP_CHARS 400  /* a tooltip */
#define LINES_MAX 4    /* hyperparameters, adaptations, test metrics shown */
#define FONT_PT 9

static const char *const frameworks[] = { "python", "torch", "tensorflow", "keras", "numpy", "sklearn" };

void dp_dot_text(dp_buf *b, const char *s, size_t n, size_t max)
{
	size_t chars = 0;
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		size_t len = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
		if (chars == max) {
			dp_buf_append(b, "...", 3);
			return;
		}
		chars++;
		if (i + len > n || (len > 1 && !dp_utf8_valid(s + i, len))) {
			dp_buf_putc(b, '?');
			i++;
			continue;
		}
		if (c < 0x20 || c == 0x7f)
			dp_buf_putc(b, '?');
		else if (c == '"' || c == '\\')
			dp_buf_printf(b, "\\%c", c);
		else
			dp_buf_append(b, s + i, len);
		i += len;
	}
}

static void text(dp_buf *b, const char *s, size_t max)
{
	dp_dot_text(b, s ? s : "", s ? strlen(s) : 0, max);
}

/* A line break inside a label. */
static void br(dp_buf *b)
{
	dp_buf_append(b, "\\n", 2);
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash && slash[1] ? slash + 1 : path;
}

static void size_text(dp_buf *b, int64_t size)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)size;
	size_t u = 0;
	while (v >= 1024 && u + 1 < DP_ARRAY_LEN(units)) {
		v /= 1024;
		u++;
	}
	dp_buf_printf(b, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

/* The algorithm and eight hex digits, as the commands take it back. */
static void short_fingerprint(dp_buf *b, const char *fp)
{
	const char *colon = strchr(fp, ':');
	size_t n = colon ? (size_t)(colon - fp) + 1 + 8 : 15;
	dp_dot_text(b, fp, strlen(fp) < n ? strlen(fp) : n, LABEL_CHARS);
}

static void value_text(dp_buf *b, const dp_qv *v)
{
	char num[40];
	if (v->type == QV_TEXT)
		text(b, v->text, LABEL_CHARS / 2);
	else if (v->type == QV_NUM && v->integer)
		dp_buf_printf(b, "%" PRId64, v->i);
	else if (v->type == QV_NUM) {
		snprintf(num, sizeof(num), "%.4g", v->num);
		dp_buf_printf(b, "%s", num);
	}
}

static void field_text(dp_buf *b, dp_field f)
{
	if (f.type == DP_F_TEXT)
		dp_dot_text(b, f.s.p, f.s.n, LABEL_CHARS / 2);
	else if (f.type == DP_F_INT)
		dp_buf_printf(b, "%" PRId64, f.i);
	else if (f.type == DP_F_REAL)
		dp_buf_printf(b, "%.4g", f.d);
	else
		dp_buf_putc(b, '-');
}

/* ---- nodes -------------------------------------------------------------------------- */

/* The role of entity node e: the one its first edge in the graph names. */
static const dp_ledge *first_edge(const dp_lgraph *g, size_t e)
{
	for (size_t i = 0; i < g->nedges; i++)
		if (g->edges[i].entity == e)
			return &g->edges[i];
	return NULL;
}

static void entity_node(dp_buf *b, const dp_lgraph *g, size_t i)
{
	const dp_lnode *n = &g->nodes[i];
	const dp_ledge *x = first_edge(g, i);
	const char *role = x ? x->role : n->role ? n->role : "entity";
	const char *loc = x ? x->location : n->location ? n->location : "";
	int64_t size = x && x->size >= 0 ? x->size : n->size;
	bool model = strcmp(role, "model") == 0 || strcmp(role, "checkpoint") == 0;

	dp_buf_printf(b, "  n%zu [shape=box, style=\"rounded,filled\", fillcolor=\"%s\", label=\"", i,
		      model ? "#FFE08A" : "#FFFC87");
	text(b, role, LABEL_CHARS);
	br(b);
	text(b, base_name(loc), LABEL_CHARS);
	br(b);
	short_fingerprint(b, n->fingerprint);
	if (size >= 0) {
		dp_buf_append(b, ", ", 2);
		size_text(b, size);
	}
	dp_buf_append(b, "\", tooltip=\"", 12);
	text(b, loc, TIP_CHARS);
	br(b);
	text(b, n->fingerprint, TIP_CHARS);
	dp_buf_append(b, "\"];\n", 4);
}

/* The run's own lines: up to LINES_MAX hyperparameters, its epochs. */
static void run_lines(dp_buf *b, const dp_qtask *t)
{
	for (size_t h = 0; t && h < t->nhyps && h < LINES_MAX; h++) {
		if (t->hyps[h].value.type == QV_NULL)
			continue;
		br(b);
		text(b, t->hyps[h].name, LABEL_CHARS);
		dp_buf_putc(b, '=');
		value_text(b, &t->hyps[h].value);
	}
	if (t && t->nhyps > LINES_MAX) {
		br(b);
		dp_buf_printf(b, "and %zu more", t->nhyps - LINES_MAX);
	}
}

/* A generated id by its label alone (sgd-lr0.1 of sgd-lr0.1-20261206T103011Z-
 * vm-4242), so a task node stays narrow: the whole id is in the tooltip,
 * and the run's in the title. */
static void task_id_lines(dp_buf *b, const char *id)
{
	const char *cut = NULL;
	for (const char *p = id; (p = strchr(p, '-')) != NULL; p++)
		if (strspn(p + 1, "0123456789") == 8 && p[9] == 'T') {
			cut = p;
			break;
		}
	if (!cut || cut == id) {
		text(b, id, LABEL_CHARS);
		return;
	}
	dp_dot_text(b, id, (size_t)(cut - id), LABEL_CHARS);
}

static void task_node(dp_buf *b, const dp_lgraph *g, size_t i, bool run, const dp_qtask *t)
{
	const dp_lnode *n = &g->nodes[i];
	dp_buf_printf(b, "  n%zu [shape=box, fillcolor=\"%s\"%s, label=\"", i, run ? "#7F96F5" : "#9FB1FC",
		      run ? ", penwidth=2.5" : "");
	text(b, n->transformation ? n->transformation : "task", LABEL_CHARS);
	br(b);
	task_id_lines(b, n->task);
	if (n->status) {
		br(b);
		text(b, n->status, LABEL_CHARS);
	}
	if (run)
		run_lines(b, t);
	dp_buf_append(b, "\", tooltip=\"", 12);
	text(b, n->df, TIP_CHARS);
	dp_buf_putc(b, '/');
	text(b, n->task, TIP_CHARS);
	dp_buf_append(b, "\"];\n", 4);
}

/* ---- the run's own parts ------------------------------------------------------------ */

static int epochs_node(dp_query *q, dp_buf *b, const char *df, const dp_qdataflow *d, const dp_qtask *t, size_t run)
{
	const char *metric = NULL;
	int rc;

	if (!t->epochs)
		return 0;
	if ((rc = dp_qdf_main_metric(q, d, &metric)))
		return rc;
	dp_buf_printf(b, "  epochs [shape=box3d, fillcolor=\"#FFFC87\", label=\"%" PRIu64 " epoch%s", t->epochs,
		      t->epochs == 1 ? "" : "s");
	if (metric) {
		bool lower = dp_metric_lower_is_better(metric);
		dp_agg best = { lower ? AGG_MIN : AGG_MAX, 0 };
		int64_t at = 0;
		dp_qv v = dp_query_metric(q, df, t->id, metric, &best, &at);
		if (v.type == QV_NUM) {
			br(b);
			dp_buf_append(b, "best ", 5);
			text(b, metric, LABEL_CHARS / 2);
			dp_buf_putc(b, ' ');
			value_text(b, &v);
			dp_buf_printf(b, " (epoch %" PRId64 ")", at);
		}
	}
	dp_buf_append(b, "\", tooltip=\"the epochs, collapsed: dnnprov curve shows them\"];\n", 62);
	dp_buf_printf(b, "  n%zu -> epochs [tooltip=\"generated\"];\n", run);
	return 0;
}

static int adaptations_node(dp_query *q, dp_buf *b, const char *df, const char *task, size_t run)
{
	dp_key prefix;
	dp_scan sc;
	MDB_val k, v;
	dp_adapt_row row;
	size_t n = 0;
	int rc;

	dp_key_task(&prefix, df, task);
	if ((rc = dp_scan_open(&sc, q->ix, q->txn, DP_DB_ADAPTATIONS, &prefix, NULL)))
		return rc;
	while ((rc = dp_scan_next(&sc, &k, &v)) == DP_SCAN_ROW) {
		if (dp_read_adapt(&q->dec, &k, &v, &row) != 0)
			continue;
		if (n == 0)
			dp_buf_printf(b, "  adaptations [shape=box, fillcolor=\"#C9D3FB\", label=\"Adaptation");
		if (n < LINES_MAX) {
			br(b);
			dp_buf_printf(b, "epoch %" PRId64 ": ", row.epoch);
			dp_dot_text(b, row.hyp.p, row.hyp.n, LABEL_CHARS);
			dp_buf_putc(b, ' ');
			field_text(b, row.old_value);
			dp_buf_append(b, " to ", 4);
			field_text(b, row.new_value);
		}
		n++;
	}
	dp_scan_close(&sc);
	if (rc < 0)
		return rc;
	if (n > LINES_MAX) {
		br(b);
		dp_buf_printf(b, "and %zu more", n - LINES_MAX);
	}
	if (n)
		dp_buf_printf(b, "\"];\n  n%zu -> adaptations [style=dashed, label=\"informed\"];\n", run);
	return 0;
}

/* The latest test of the run, as an activity and its result. */
static int tests_node(dp_query *q, dp_buf *b, const char *df, const char *task, size_t run)
{
	dp_key prefix;
	dp_scan sc;
	MDB_val k, v;
	dp_test_row row;
	dp_buf last = { 0 };
	size_t n = 0;
	int rc;

	dp_key_task(&prefix, df, task);
	dp_key end = prefix; /* past the task's keys: a position (16 bytes) of 0xff, and one more */
	for (int i = 0; i < 17 && end.n < DP_KEY_MAX; i++)
		end.b[end.n++] = 0xff;
	if ((rc = dp_scan_open_before(&sc, q->ix, q->txn, DP_DB_TESTS, &prefix, &end)))
		return rc;
	if ((rc = dp_scan_next(&sc, &k, &v)) == DP_SCAN_ROW && dp_read_test(&q->dec, &k, &v, &row) == 0) {
		size_t m = dp_rmap_size(row.metrics);
		for (size_t i = 0; i < m && n < LINES_MAX; i++) {
			dp_str name;
			dp_field f;
			if (!dp_rmap_at(row.metrics, i, &name, &f))
				continue;
			br(&last);
			dp_dot_text(&last, name.p, name.n, LABEL_CHARS / 2);
			dp_buf_putc(&last, '=');
			field_text(&last, f);
			n++;
		}
	}
	dp_scan_close(&sc);
	if (rc >= 0 && n) {
		dp_buf_printf(b, "  testing [shape=box, fillcolor=\"#9FB1FC\", label=\"TestingModel\"];\n"
				 "  n%zu -> testing [style=dashed, label=\"informed\"];\n"
				 "  result [shape=box, style=\"rounded,filled\", fillcolor=\"#FFFC87\", label=\"test result",
			      run);
		dp_buf_append(b, last.data, last.len);
		dp_buf_printf(b, "\"];\n  testing -> result [tooltip=\"generated\"];\n");
	}
	dp_buf_free(&last);
	return rc < 0 ? rc : 0;
}

static void agent(dp_buf *b, const char *id, const char *kind, const char *name)
{
	dp_buf_printf(b, "  %s [shape=house, fillcolor=\"#FED37F\", label=\"%s", id, kind);
	br(b);
	text(b, name, LABEL_CHARS);
	dp_buf_printf(b, "\"];\n");
}

/* Who and what ran it: the person, the machine, its accelerator, the
 * software with its versions (docs/PROV.md, "Agents"), in the run's
 * column, below it: they add height to the picture, not width. */
static void agents(dp_buf *b, const dp_qtask *t, size_t run)
{
	const dp_qv *acc = dp_qtask_fact(t, "accelerator");
	bool has_acc = acc && acc->type == QV_TEXT;
	if (t->user)
		agent(b, "person", "person", t->user);
	if (t->host)
		agent(b, "machine", "machine", t->host);
	if (has_acc)
		agent(b, "accelerator", "accelerator", acc->text);
	dp_buf_printf(b, "  software [shape=house, fillcolor=\"#FED37F\", label=\"software\\ndnnprov " DNNPROV_VERSION);
	for (size_t i = 0; i < DP_ARRAY_LEN(frameworks); i++) {
		const dp_qv *v = dp_qtask_fact(t, frameworks[i]);
		if (!v || v->type != QV_TEXT)
			continue;
		br(b);
		dp_buf_printf(b, "%s ", frameworks[i]);
		text(b, v->text, LABEL_CHARS / 2);
	}
	dp_buf_printf(b, "\"];\n");
	const char *ids[] = { t->user ? "person" : NULL, t->host ? "machine" : NULL, has_acc ? "accelerator" : NULL,
			      "software" };
	dp_buf_printf(b, "  { rank=same; n%zu", run);
	for (size_t i = 0; i < DP_ARRAY_LEN(ids); i++)
		if (ids[i])
			dp_buf_printf(b, "; %s", ids[i]);
	dp_buf_printf(b, " }\n");
	for (size_t i = 0; i < DP_ARRAY_LEN(ids); i++)
		if (ids[i])
			dp_buf_printf(b, "  n%zu -> %s [style=dotted, arrowhead=none, color=\"#999999\", "
					 "tooltip=\"wasAssociatedWith\"];\n",
				      run, ids[i]);
}

/* ---- the graph ------------------------------------------------------------------------ */

static void edges(dp_buf *b, const dp_lgraph *g)
{
	dp_map seen = { 0 };
	for (size_t i = 0; i < g->nedges; i++) {
		const dp_ledge *x = &g->edges[i];
		size_t from = x->generated ? x->task : x->entity, to = x->generated ? x->entity : x->task;
		size_t pair[2] = { from, to };
		void **slot = dp_map_slot(&seen, pair, sizeof(pair), true);
		if (!slot) {
			b->failed = true;
			break;
		}
		if (*slot)
			continue; /* the same file used twice by one task: one arrow */
		*slot = b;
		/* Data flows left to right; the arrow's direction says which:
		 * into a task it used, out of one it generated. */
		dp_buf_printf(b, "  n%zu -> n%zu [tooltip=\"%s\"];\n", from, to, x->generated ? "generated" : "used");
	}
	dp_map_free(&seen);
}

int dp_picture_dot(dp_query *q, const char *df, const char *run, FILE *out)
{
	dp_qdataflow d = { 0 };
	dp_lgraph g = { 0 };
	dp_buf b = { 0 };
	size_t start;
	int rc;

	if ((rc = dp_query_load_tasks(q, df, run, &d)))
		return rc;
	const dp_qtask *t = dp_qtask_find(&d, run);
	if (!t) {
		rc = dp_query_no_task(q, df, run);
		goto out;
	}
	if ((rc = dp_lineage_task(q, &g, df, run, &start)) || (rc = dp_lineage_walk(q, &g, start, true, 0)) ||
	    (rc = dp_lineage_walk(q, &g, start, false, 0)))
		goto out;
	dp_buf_printf(&b, "digraph \"");
	text(&b, run, TIP_CHARS);
	dp_buf_printf(&b, "\" {\n  graph [rankdir=LR, fontname=\"Helvetica\", fontsize=%d, nodesep=0.15, ranksep=0.25, "
			  "pad=0.2, label=\"",
		      FONT_PT + 2);
	text(&b, df, LABEL_CHARS);
	dp_buf_putc(&b, '/');
	text(&b, run, LABEL_CHARS * 2);
	dp_buf_printf(&b, "\", labelloc=t];\n  node [fontname=\"Helvetica\", fontsize=%d, style=\"filled\", "
			  "margin=\"0.06,0.03\"];\n  edge [fontname=\"Helvetica\", fontsize=%d, color=\"#555555\"];\n",
		      FONT_PT, FONT_PT);
	for (size_t i = 0; i < g.nnodes; i++) {
		if (g.nodes[i].entity)
			entity_node(&b, &g, i);
		else
			task_node(&b, &g, i, i == start, t);
	}
	edges(&b, &g);
	if ((rc = epochs_node(q, &b, df, &d, t, start)) || (rc = adaptations_node(q, &b, df, run, start)) ||
	    (rc = tests_node(q, &b, df, run, start)))
		goto out;
	agents(&b, t, start);
	dp_buf_printf(&b, "}\n");
	if ((rc = dp_query_check(q)))
		goto out;
	if (b.failed) {
		rc = dp_error(DNNPROV_ENOMEM, "out of memory");
		goto out;
	}
	if (fwrite(b.data, 1, b.len, out) != b.len || fflush(out) != 0)
		rc = dp_error_errno(errno ? errno : EIO, "cannot write the picture");
out:
	dp_buf_free(&b);
	dp_lgraph_free(&g);
	dp_qdataflow_free(&d);
	return rc;
}
