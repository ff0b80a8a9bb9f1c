/*
 * output.c - result tables and their three renderings.
 *
 * table: aligned columns that fit the terminal (100 columns when it is not
 *        one): text is cut with "…" starting with the widest column,
 *        numbers at 6 significant digits, NaN as NaN, times in UTC.
 * csv:   RFC 4180, every number as the shortest text that reads back
 *        exactly, times in ISO 8601.
 * json:  one object, {"columns": [names in order], "kinds": [what each
 *        column holds], "about": {what the question chose}, members a
 *        question adds (describe's "model"), "rows": [an
 *        object per row], "total": N when the rows are a page (--offset,
 *        --limit) of N, "index": {what the caller says of the index}},
 *        strict JSON: NaN and infinities as the strings "NaN", "Infinity",
 *        "-Infinity", missing values as null.  An envelope rather than a
 *        bare array, so that facts about the answer (how fresh the index
 *        is, what each column means) travel with it and a reader keeps the
 *        column order that objects lose.
 *
 *        "kinds" has an object per column of "columns", in that order:
 *        {"kind": K} where K is text, integer, real, time (ISO 8601 UTC
 *        text), duration (seconds), status, hyperparameter (with "type":
 *        numeric or text) or metric (with "metric": its name, "agg": the
 *        aggregate over the epochs as --agg takes it, absent for a value
 *        of one epoch, and "goal": min or max).  "about", present when the
 *        question chose them: "metric", "agg", "goal" and "lower_is_better"
 *        of the metric it ranks or groups by, "hyperparameter" it groups
 *        by, "binned" and "groups": per row, the group's numeric bounds
 *        {"low": x, "high": y} (null for a text value).
 */
#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/query.h"

int dp_table_init(dp_table *t, size_t ncols)
{
	memset(t, 0, sizeof(*t));
	t->cols = calloc(ncols ? ncols : 1, sizeof(char *));
	t->kinds = calloc(ncols ? ncols : 1, sizeof(dp_col_kind));
	t->table_omits = calloc(ncols ? ncols : 1, sizeof(bool));
	t->table_only = calloc(ncols ? ncols : 1, sizeof(bool));
	t->meta = calloc(ncols ? ncols : 1, sizeof(dp_col_meta));
	t->now = dp_now();
	if (!t->cols || !t->kinds || !t->table_omits || !t->table_only || !t->meta) {
		dp_table_free(t);
		t->failed = true;
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	}
	t->ncols = ncols;
	return 0;
}

/* A copy of name in *slot, or the table fails (checked before printing). */
static void meta_name(dp_table *t, char **slot, const char *name)
{
	free(*slot);
	*slot = name ? strdup(name) : NULL;
	if (name && !*slot)
		t->failed = true;
}

void dp_table_col_status(dp_table *t, size_t i)
{
	if (i < t->ncols)
		t->meta[i].role = ROLE_STATUS;
}

void dp_table_col_duration(dp_table *t, size_t i)
{
	if (i < t->ncols)
		t->meta[i].role = ROLE_DURATION;
}

void dp_table_col_hyp(dp_table *t, size_t i, const char *hyp, bool numeric)
{
	if (i >= t->ncols)
		return;
	t->meta[i].role = ROLE_HYP;
	t->meta[i].numeric = numeric;
	meta_name(t, &t->meta[i].name, hyp);
}

void dp_table_col_metric(dp_table *t, size_t i, const char *metric, const dp_agg *agg, dp_goal goal)
{
	if (i >= t->ncols)
		return;
	t->meta[i].role = ROLE_METRIC;
	t->meta[i].has_agg = agg != NULL;
	if (agg)
		t->meta[i].agg = *agg;
	t->meta[i].goal = goal;
	meta_name(t, &t->meta[i].name, metric);
}

void dp_table_col_sql(dp_table *t, size_t i, const char *decltype)
{
	if (i >= t->ncols)
		return;
	t->meta[i].role = ROLE_SQL;
	meta_name(t, &t->meta[i].name, decltype);
}

void dp_table_about_metric(dp_table *t, const char *metric, const dp_agg *agg, dp_goal goal)
{
	t->about.has_agg = agg != NULL;
	if (agg)
		t->about.agg = *agg;
	t->about.goal = goal;
	meta_name(t, &t->about.metric, metric);
}

void dp_table_json_member(dp_table *t, const char *name, const char *json, size_t n)
{
	dp_buf_printf(&t->members, ",\n");
	dp_json_string(&t->members, name, strlen(name));
	dp_buf_printf(&t->members, ": ");
	dp_buf_append(&t->members, json, n);
	if (t->members.failed)
		t->failed = true;
}

void dp_table_about_hyp(dp_table *t, const char *hyp, bool binned)
{
	t->about.binned = binned;
	meta_name(t, &t->about.hyp, hyp);
}

void dp_table_about_group(dp_table *t, size_t row, double low, double high)
{
	dp_about *a = &t->about;
	if (row >= a->ngroups) {
		size_t n = row + 1 > 2 * a->ngroups ? row + 1 : 2 * a->ngroups;
		double *lo = realloc(a->low, n * sizeof(double));
		if (lo)
			a->low = lo;
		double *hi = lo ? realloc(a->high, n * sizeof(double)) : NULL;
		if (hi)
			a->high = hi;
		if (!lo || !hi) {
			t->failed = true;
			return;
		}
		for (size_t i = a->ngroups; i < n; i++)
			a->low[i] = a->high[i] = NAN;
		a->ngroups = n;
	}
	assert(row < a->ngroups);
	a->low[row] = low;
	a->high[row] = high;
}

void dp_table_about_by(dp_table *t, const char *by, bool binned)
{
	t->about.binned = binned;
	meta_name(t, &t->about.by, by);
}

void dp_table_about_spearman(dp_table *t, double rho, size_t n, size_t col)
{
	t->about.has_spearman = true;
	t->about.spearman = rho;
	t->about.spearman_n = n;
	if (col < t->ncols)
		meta_name(t, &t->meta[col].about, "spearman");
}

void dp_table_about_tasks(dp_table *t, const char *a, const char *b)
{
	meta_name(t, &t->about.tasks[0], a);
	meta_name(t, &t->about.tasks[1], b);
}

void dp_table_about_note(dp_table *t, const char *note)
{
	meta_name(t, &t->about.note, note);
}

void dp_table_col_value(dp_table *t, size_t i)
{
	dp_table_col_sql(t, i, NULL);
}

void dp_table_bounds(dp_table *t, const dp_qdataflow *d)
{
	for (size_t c = 0; c < t->ncols; c++) {
		dp_col_meta *m = &t->meta[c];
		if (m->role == ROLE_METRIC && m->name) {
			dp_metric_bounds(d, m->name, &m->low, &m->high);
			m->has_bounds = true;
		}
	}
	if (t->about.metric) {
		t->about.bounds_declared = dp_metric_bounds(d, t->about.metric, &t->about.bounds_low, &t->about.bounds_high);
		t->about.has_bounds = true;
	}
}

/* The text of an aggregate as --agg takes it ("min", "at=5"). */
static const char *dp_agg_text(const dp_agg *a, char *buf, size_t n)
{
	if (a->kind == AGG_AT)
		snprintf(buf, n, "at=%lld", (long long)a->epoch);
	else
		dp_agg_name(a, buf, n);
	return buf;
}

void dp_table_omit(dp_table *t, size_t i)
{
	if (i < t->ncols)
		t->table_omits[i] = true;
}

void dp_table_only(dp_table *t, size_t i)
{
	if (i < t->ncols)
		t->table_only[i] = true;
}

int dp_table_set_col(dp_table *t, size_t i, const char *name, dp_col_kind kind)
{
	assert(kind <= COL_AGO && name);
	if (i >= t->ncols) {
		t->failed = true; /* a table whose init failed */
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	}
	free(t->cols[i]);
	t->cols[i] = strdup(name);
	t->kinds[i] = kind;
	if (!t->cols[i]) {
		t->failed = true;
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	}
	return 0;
}

int dp_table_reserve(dp_table *t, size_t n)
{
	if (n <= t->cap || !t->ncols)
		return 0;
	if (n > SIZE_MAX / sizeof(dp_qv) / t->ncols) {
		t->failed = true;
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	}
	dp_qv *grown = realloc(t->cells, n * t->ncols * sizeof(dp_qv));
	if (!grown) {
		t->failed = true;
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	}
	t->cells = grown;
	t->cap = n;
	return 0;
}

dp_qv *dp_table_add_row(dp_table *t)
{
	if (t->nrows == t->cap && (!t->ncols || dp_table_reserve(t, t->cap ? t->cap * 2 : 64))) {
		t->failed = true;
		dp_error(DNNPROV_ENOMEM, "out of memory");
		return NULL;
	}
	/* Rows are ncols cells each, row-major, within the capacity. */
	assert(t->nrows < t->cap && t->ncols);
	dp_qv *row = &t->cells[t->nrows++ * t->ncols];
	memset(row, 0, t->ncols * sizeof(dp_qv));
	return row;
}

int dp_cell_text(dp_qv *cell, const char *s, size_t n)
{
	char *p = malloc(n + 1);
	dp_cell_clear(cell);
	if (!p) {
		cell->type = QV_FAILED;
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	}
	memcpy(p, s, n);
	p[n] = '\0';
	cell->type = QV_TEXT;
	cell->text = p;
	return 0;
}

int dp_table_text(dp_table *t, dp_qv *cell, const char *s, size_t n)
{
	t->texts.chunk = 65536; /* a malloc per 64 KiB of cells, not per cell */
	char *p = dp_arena_strndup(&t->texts, s, n);
	dp_cell_clear(cell);
	if (!p) {
		cell->type = QV_FAILED;
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	}
	cell->type = QV_TEXT;
	cell->text = p;
	cell->in_arena = true;
	return 0;
}

void dp_table_truncate(dp_table *t, size_t n)
{
	for (size_t i = n * t->ncols; i < t->nrows * t->ncols; i++)
		dp_cell_clear(&t->cells[i]);
	if (n < t->nrows)
		t->nrows = n;
}

int dp_table_check(const dp_table *t, const dp_buf *notes)
{
	bool failed = t->failed || (notes && notes->failed);
	for (size_t i = 0; i < t->nrows * t->ncols && !failed; i++)
		failed = t->cells[i].type == QV_FAILED;
	for (size_t i = 0; i < t->ncols && !failed; i++)
		failed = t->cols[i] == NULL;
	return failed ? dp_error(DNNPROV_ENOMEM, "out of memory: the result is incomplete") : 0;
}

void dp_table_free(dp_table *t)
{
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		dp_cell_clear(&t->cells[i]);
	dp_arena_free(&t->texts);
	for (size_t i = 0; i < t->ncols; i++) {
		free(t->cols[i]);
		if (t->meta) {
			free(t->meta[i].name);
			free(t->meta[i].about);
		}
	}
	free(t->meta);
	free(t->about.metric);
	free(t->about.hyp);
	free(t->about.by);
	free(t->about.tasks[0]);
	free(t->about.tasks[1]);
	free(t->about.note);
	free(t->about.low);
	free(t->about.high);
	dp_buf_free(&t->members);
	free(t->cols);
	free(t->kinds);
	free(t->table_omits);
	free(t->table_only);
	free(t->cells);
	memset(t, 0, sizeof(*t));
}

int dp_format_parse(const char *s, dp_format *out)
{
	if (strcmp(s, "table") == 0)
		*out = FMT_TABLE;
	else if (strcmp(s, "csv") == 0)
		*out = FMT_CSV;
	else if (strcmp(s, "json") == 0)
		*out = FMT_JSON;
	else
		return dp_error_subject(DNNPROV_EQUERY, "format", "unknown format '%s' (table, csv, json)", s);
	return 0;
}

/* ---- cell text -------------------------------------------------------------------- */

/* Durations come from times in the logs, which may be anything a double
 * holds: every branch stays within what its conversion can take. */
static void fmt_secs(dp_buf *b, double s)
{
	if (isnan(s)) {
		dp_buf_append(b, "NaN", 3);
		return;
	}
	if (s < 0) {
		dp_buf_putc(b, '-');
		s = -s;
	}
	if (isinf(s))
		dp_buf_append(b, "inf", 3);
	else if (s < 60)
		dp_buf_printf(b, "%.1fs", s);
	else if (s < 3600)
		dp_buf_printf(b, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
	else if (s < 86400 * 2)
		dp_buf_printf(b, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
	else if (s < 86400.0 * 1e6)
		dp_buf_printf(b, "%dd%02dh", (int)(s / 86400), (int)fmod(s / 3600, 24));
	else
		dp_buf_printf(b, "%.3gd", s / 86400);
}

/* An integer's decimal digits, without printf's parsing of a format. */
static void put_int(dp_buf *b, int64_t i)
{
	char tmp[24], *p = tmp + sizeof(tmp);
	uint64_t u = i < 0 ? -(uint64_t)i : (uint64_t)i;
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (i < 0)
		*--p = '-';
	dp_buf_append(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

/* A number as CSV and the text of JSON cells carry it: an integer as its
 * digits, a real as the shortest text that reads back (util/dtoa.c). */
static void fmt_num_exact(dp_buf *b, const dp_qv *v)
{
	char tmp[DP_DTOA_MAX];
	if (v->integer)
		put_int(b, v->i);
	else if (isnan(v->num))
		dp_buf_append(b, "NaN", 3);
	else if (isinf(v->num))
		dp_buf_printf(b, "%s", v->num > 0 ? "Infinity" : "-Infinity");
	else
		dp_buf_append(b, tmp, dp_dtoa(v->num, tmp));
}

/* The text of a cell in `f`; JSON quoting is done by the caller. */
static void cell_text(dp_buf *b, const dp_qv *v, dp_col_kind k, dp_format f, double now)
{
	char tbuf[32];
	b->len = 0;
	if (v->type == QV_NULL)
		return;
	if (v->type == QV_TEXT || k == COL_TEXT) {
		if (v->type == QV_TEXT)
			dp_buf_append(b, v->text, strlen(v->text));
		else
			fmt_num_exact(b, v);
		return;
	}
	if (k == COL_AGO && f == FMT_TABLE) {
		fmt_secs(b, now - v->num < 0 ? 0 : now - v->num);
		return;
	}
	if (k == COL_TIME || k == COL_AGO) {
		dp_format_time(v->num, tbuf);
		if (f == FMT_TABLE && tbuf[0]) {
			/* "11-26 02:59:43": the year and the fraction cost width
			 * and say little in a table; CSV and JSON keep them. */
			tbuf[19] = '\0';
			tbuf[10] = ' ';
			dp_buf_append(b, tbuf + 5, strlen(tbuf + 5));
			return;
		}
		dp_buf_append(b, tbuf, strlen(tbuf));
		return;
	}
	if (f == FMT_TABLE) {
		if (k == COL_SECS)
			fmt_secs(b, v->num);
		else if (isnan(v->num))
			dp_buf_append(b, "NaN", 3);
		else if (isinf(v->num))
			dp_buf_printf(b, "%s", v->num > 0 ? "inf" : "-inf");
		else if (v->integer)
			put_int(b, v->i);
		else
			dp_buf_printf(b, "%.6g", v->num);
		return;
	}
	fmt_num_exact(b, v);
}

int dp_terminal_text(dp_buf *b, const char *str, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < n) {
		/* Most text needs nothing: copy printable ASCII runs whole. */
		size_t run = i;
		while (run < n && s[run] >= 0x20 && s[run] < 0x7F)
			run++;
		if (run > i && dp_buf_append(b, s + i, run - i))
			return DNNPROV_ENOMEM;
		i = run;
		if (i == n)
			break;
		uint32_t cp;
		size_t len = dp_utf8_next(str + i, n - i, &cp);
		char e[8];
		if (len == 0) { /* no character: the byte, as bytes are written */
			e[0] = '\\', e[1] = 'x', e[2] = hex[s[i] >> 4], e[3] = hex[s[i] & 15];
			dp_buf_append(b, e, 4);
			i++;
		} else if (cp == '\n' || cp == '\r' || cp == '\t') {
			e[0] = '\\', e[1] = cp == '\n' ? 'n' : cp == '\r' ? 'r' : 't';
			dp_buf_append(b, e, 2);
			i++;
		} else if (cp < 0x80 && dp_char_hides(cp)) {
			e[0] = '\\', e[1] = 'x', e[2] = hex[cp >> 4], e[3] = hex[cp & 15];
			dp_buf_append(b, e, 4);
			i++;
		} else if (dp_char_hides(cp)) {
			snprintf(e, sizeof(e), "\\u%04x", (unsigned)cp);
			dp_buf_append(b, e, 6);
			i += len;
		} else {
			dp_buf_append(b, s + i, len);
			i += len;
		}
	}
	return b->failed ? DNNPROV_ENOMEM : 0;
}

/* Display width of UTF-8 text: code points (good enough for names). */
static size_t display_width(const char *s, size_t n)
{
	size_t w = 0;
	for (size_t i = 0; i < n; i++)
		w += ((unsigned char)s[i] & 0xC0) != 0x80;
	return w;
}

/* Byte length of the first `w` code points. */
static size_t prefix_bytes(const char *s, size_t n, size_t w)
{
	size_t i = 0, cps = 0;
	while (i < n) {
		if (((unsigned char)s[i] & 0xC0) != 0x80) {
			if (cps == w)
				break;
			cps++;
		}
		i++;
	}
	return i;
}

static bool right_aligned(dp_col_kind k)
{
	return k == COL_NUM || k == COL_INT || k == COL_SECS || k == COL_AGO;
}

static int write_table(const dp_table *t, FILE *out, int width)
{
	size_t *w = calloc(t->ncols, sizeof(size_t));
	size_t *floor_w = calloc(t->ncols, sizeof(size_t)); /* narrowest each column may get */
	char **text = calloc(t->nrows * t->ncols + 1, sizeof(char *));
	char **head = calloc(t->ncols + 1, sizeof(char *));
	dp_buf b = { 0 }, e = { 0 };
	int rc = 0;

	if (!w || !text || !floor_w || !head) {
		rc = dp_error(DNNPROV_ENOMEM, "out of memory");
		goto out;
	}
	/* Headers and cells as they are shown, escaped (dp_terminal_text):
	 * the widths are those of what is printed. */
	for (size_t c = 0; c < t->ncols; c++) {
		e.len = 0;
		if (dp_terminal_text(&e, t->cols[c], strlen(t->cols[c])) || !(head[c] = strdup(dp_buf_cstr(&e)))) {
			rc = dp_error(DNNPROV_ENOMEM, "out of memory");
			goto out;
		}
		w[c] = display_width(head[c], strlen(head[c]));
	}
	for (size_t r = 0; r < t->nrows; r++)
		for (size_t c = 0; c < t->ncols; c++) {
			cell_text(&b, &t->cells[r * t->ncols + c], t->kinds[c], FMT_TABLE, t->now);
			e.len = 0;
			if (!b.failed)
				dp_terminal_text(&e, b.data ? b.data : "", b.len);
			text[r * t->ncols + c] = b.failed || e.failed ? NULL : strdup(dp_buf_cstr(&e));
			if (!text[r * t->ncols + c]) {
				rc = dp_error(DNNPROV_ENOMEM, "out of memory");
				goto out; /* before anything is printed */
			}
			size_t cw = display_width(e.data, e.len);
			if (cw > w[c])
				w[c] = cw;
			if (cw > floor_w[c])
				floor_w[c] = cw;
		}
	/* Text may be cut to 8 columns; numbers and times never are, only
	 * their headers. */
	for (size_t c = 0; c < t->ncols; c++) {
		bool cuttable = !right_aligned(t->kinds[c]) && t->kinds[c] != COL_TIME;
		if (cuttable || floor_w[c] < 5)
			floor_w[c] = cuttable ? (w[c] < 8 ? w[c] : 8) : 5;
	}
	/* Fit the width: narrow the widest text column, a step at a time; the
	 * first column names the row and is never cut. */
	size_t total = 0;
	for (size_t c = 0; c < t->ncols; c++)
		total += t->table_omits[c] ? 0 : w[c] + (c ? 2 : 0);
	while (width > 0 && total > (size_t)width) {
		size_t widest = t->ncols;
		for (size_t c = 1; c < t->ncols; c++)
			if (!t->table_omits[c] && w[c] > floor_w[c] &&
			    (widest == t->ncols || w[c] > w[widest]))
				widest = c;
		if (widest == t->ncols)
			break;
		w[widest]--;
		total--;
	}
	size_t lastcol = 0;
	for (size_t c = 0; c < t->ncols; c++)
		if (!t->table_omits[c])
			lastcol = c;
	for (size_t r = 0; r <= t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			if (t->table_omits[c])
				continue;
			const char *s = r == 0 ? head[c] : text[(r - 1) * t->ncols + c];
			if (!s)
				s = "";
			size_t n = strlen(s), cw = display_width(s, n);
			bool cut = cw > w[c];
			if (cut) {
				n = prefix_bytes(s, n, w[c] - 1);
				cw = w[c];
			}
			size_t pad = w[c] - cw;
			if (c)
				fputs("  ", out);
			if (right_aligned(t->kinds[c]) && r > 0)
				fprintf(out, "%*s", (int)pad, "");
			fwrite(s, 1, n, out);
			if (cut)
				fputs("\xE2\x80\xA6", out); /* … */
			if (!(right_aligned(t->kinds[c]) && r > 0) && c < lastcol)
				fprintf(out, "%*s", (int)pad, "");
		}
		fputc('\n', out);
	}
out:
	if (text)
		for (size_t i = 0; i < t->nrows * t->ncols; i++)
			free(text[i]);
	if (head)
		for (size_t c = 0; c < t->ncols; c++)
			free(head[c]);
	free(text);
	free(head);
	free(w);
	free(floor_w);
	dp_buf_free(&b);
	dp_buf_free(&e);
	return rc;
}

static void csv_field(dp_buf *b, const char *s, size_t n)
{
	bool quote = n && (s[0] == ' ' || s[n - 1] == ' ');
	for (size_t i = 0; i < n && !quote; i++)
		quote = s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
	if (!quote) {
		dp_buf_append(b, s, n);
		return;
	}
	dp_buf_putc(b, '"');
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"')
			dp_buf_putc(b, '"');
		dp_buf_putc(b, s[i]);
	}
	dp_buf_putc(b, '"');
}

/* ---- rows one at a time: CSV and JSON stream, the table format waits ----------------- */

/* Rows are rendered into w->line and written when it holds this much (and
 * at the end): a write per block rather than a call per field or row. */
#define ROWOUT_BLOCK 65536

static void rowout_flush(dp_rowout *w)
{
	if (w->line.len)
		fwrite(w->line.data, 1, w->line.len, w->out);
	w->line.len = 0;
}

/* Marks for the eye (dp_table_only) stay out of CSV and JSON: their data is
 * in other columns. */
static void csv_header(dp_rowout *w)
{
	bool first = true;
	for (size_t c = 0; c < w->t->ncols; c++) {
		if (w->t->table_only[c])
			continue;
		if (!first)
			dp_buf_putc(&w->line, ',');
		first = false;
		csv_field(&w->line, w->t->cols[c], strlen(w->t->cols[c]));
	}
	dp_buf_append(&w->line, "\r\n", 2);
}

static int csv_row(dp_rowout *w, const dp_qv *cells)
{
	const dp_table *t = w->t;
	dp_buf *line = &w->line;
	bool first = true;
	for (size_t c = 0; c < t->ncols; c++) {
		const dp_qv *v = &cells[c];
		if (t->table_only[c])
			continue;
		if (!first)
			dp_buf_putc(line, ',');
		first = false;
		if (v->type == QV_NUM && (t->kinds[c] == COL_NUM || t->kinds[c] == COL_INT || t->kinds[c] == COL_SECS)) {
			fmt_num_exact(line, v); /* no number needs quotes */
		} else if (v->type == QV_TEXT) {
			csv_field(line, v->text, strlen(v->text));
		} else if (v->type != QV_NULL) {
			cell_text(&w->b, v, t->kinds[c], FMT_CSV, t->now);
			csv_field(line, w->b.data ? w->b.data : "", w->b.len);
		}
	}
	dp_buf_append(line, "\r\n", 2);
	return line->failed || w->b.failed ? dp_error(DNNPROV_ENOMEM, "out of memory") : 0;
}

/* [low, high], an open side null. */
static void json_bounds(dp_buf *b, double low, double high)
{
	dp_buf_putc(b, '[');
	if (isinf(low))
		dp_buf_printf(b, "null");
	else
		dp_json_double(b, low);
	dp_buf_printf(b, ", ");
	if (isinf(high))
		dp_buf_printf(b, "null");
	else
		dp_json_double(b, high);
	dp_buf_putc(b, ']');
}

/* What column c holds, as {"kind": K, ...}. */
static void json_kind_of(dp_buf *b, const dp_table *t, size_t c)
{
	static const char *const plain[] = { [COL_TEXT] = "text", [COL_NUM] = "real", [COL_INT] = "integer",
					     [COL_TIME] = "time", [COL_SECS] = "duration", [COL_AGO] = "time" };
	const dp_col_meta *m = &t->meta[c];
	char agg[32];
	switch (m->role) {
	case ROLE_STATUS: dp_buf_printf(b, "{\"kind\": \"status\"}"); return;
	case ROLE_DURATION: dp_buf_printf(b, "{\"kind\": \"duration\"}"); return;
	case ROLE_HYP:
		dp_buf_printf(b, "{\"kind\": \"hyperparameter\", \"type\": \"%s\"}", m->numeric ? "numeric" : "text");
		return;
	case ROLE_METRIC:
		dp_buf_printf(b, "{\"kind\": \"metric\", \"metric\": ");
		dp_json_string(b, m->name ? m->name : "", m->name ? strlen(m->name) : 0);
		if (m->has_agg)
			dp_buf_printf(b, ", \"agg\": \"%s\"", dp_agg_text(&m->agg, agg, sizeof(agg)));
		if (m->goal != GOAL_UNKNOWN)
			dp_buf_printf(b, ", \"goal\": \"%s\"", m->goal == GOAL_MIN ? "min" : "max");
		if (m->has_bounds) {
			dp_buf_printf(b, ", \"bounds\": ");
			json_bounds(b, m->low, m->high);
		}
		dp_buf_putc(b, '}');
		return;
	case ROLE_SQL: {
		static const char *const declared[][2] = {
			{ "INTEGER", "integer" }, { "REAL", "real" }, { "TEXT", "text" }, { "TIMESTAMP", "time" },
		};
		const char *kind = "value";
		for (size_t k = 0; m->name && k < DP_ARRAY_LEN(declared); k++)
			if (dp_strcasecmp(m->name, declared[k][0]) == 0)
				kind = declared[k][1];
		dp_buf_printf(b, "{\"kind\": \"%s\"}", kind);
		return;
	}
	default: dp_buf_printf(b, "{\"kind\": \"%s\"}", plain[t->kinds[c]]); return;
	}
}

/* The "kinds" member's object for column c. */
static void json_kind(dp_buf *b, const dp_table *t, size_t c)
{
	size_t at = b->len;
	json_kind_of(b, t, c);
	/* A value every row repeats: which member of "about" says it once. */
	if (t->meta[c].about && !b->failed && b->len > at && b->data[b->len - 1] == '}') {
		b->len--;
		dp_buf_printf(b, ", \"about\": ");
		dp_json_string(b, t->meta[c].about, strlen(t->meta[c].about));
		dp_buf_putc(b, '}');
	}
}

/* The "key": with the separator before it. */
static void json_key(dp_buf *b, bool *first, const char *key)
{
	dp_buf_printf(b, "%s\"%s\": ", *first ? "" : ", ", key);
	*first = false;
}

/* "groups": per row, the group's numeric bounds. */
static void json_groups(dp_buf *b, const dp_table *t)
{
	const dp_about *a = &t->about;
	dp_buf_printf(b, ", \"binned\": %s, \"groups\": [", a->binned ? "true" : "false");
	for (size_t r = 0; r < t->nrows && r < a->ngroups; r++) {
		dp_buf_printf(b, "%s{\"low\": ", r ? ", " : "");
		if (isnan(a->low[r]) && isnan(a->high[r]))
			dp_buf_printf(b, "null, \"high\": null}");
		else {
			dp_json_double(b, a->low[r]);
			dp_buf_printf(b, ", \"high\": ");
			dp_json_double(b, a->high[r]);
			dp_buf_putc(b, '}');
		}
	}
	dp_buf_putc(b, ']');
}

/* The "about" member, when the question chose something. */
static void json_about(dp_buf *b, const dp_table *t)
{
	const dp_about *a = &t->about;
	char agg[32];
	bool first = true;
	if (!a->metric && !a->hyp && !a->by && !a->tasks[0] && !a->note)
		return;
	dp_buf_printf(b, ",\n\"about\": {");
	if (a->metric) {
		json_key(b, &first, "metric");
		dp_json_string(b, a->metric, strlen(a->metric));
		if (a->has_agg)
			dp_buf_printf(b, ", \"agg\": \"%s\"", dp_agg_text(&a->agg, agg, sizeof(agg)));
		if (a->goal != GOAL_UNKNOWN)
			dp_buf_printf(b, ", \"goal\": \"%s\", \"lower_is_better\": %s", a->goal == GOAL_MIN ? "min" : "max",
				      a->goal == GOAL_MIN ? "true" : "false");
		if (a->has_bounds) {
			dp_buf_printf(b, ", \"bounds\": ");
			json_bounds(b, a->bounds_low, a->bounds_high);
			dp_buf_printf(b, ", \"bounds_declared\": %s", a->bounds_declared ? "true" : "false");
		}
	}
	if (a->hyp || a->by) {
		json_key(b, &first, a->hyp ? "hyperparameter" : "by");
		dp_json_string(b, a->hyp ? a->hyp : a->by, strlen(a->hyp ? a->hyp : a->by));
		json_groups(b, t);
	}
	if (a->has_spearman) {
		json_key(b, &first, "spearman");
		if (isnan(a->spearman))
			dp_buf_printf(b, "null");
		else
			dp_json_double(b, a->spearman);
		dp_buf_printf(b, ", \"spearman_n\": %zu", a->spearman_n);
	}
	if (a->tasks[0]) {
		json_key(b, &first, "tasks");
		dp_buf_putc(b, '[');
		for (int k = 0; k < 2 && a->tasks[k]; k++) {
			dp_buf_printf(b, "%s", k ? ", " : "");
			dp_json_string(b, a->tasks[k], strlen(a->tasks[k]));
		}
		dp_buf_putc(b, ']');
	}
	if (a->note) {
		json_key(b, &first, "note");
		dp_json_string(b, a->note, strlen(a->note));
	}
	dp_buf_putc(b, '}');
}

static int json_header(dp_rowout *w)
{
	const dp_table *t = w->t;
	if (!(w->key_at = calloc(t->ncols + 1, sizeof(size_t))))
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	/* Each column's "name": once, not once per cell. */
	for (size_t c = 0; c < t->ncols; c++) {
		w->key_at[c] = w->keys.len;
		dp_json_string(&w->keys, t->cols[c], strlen(t->cols[c]));
		dp_buf_putc(&w->keys, ':');
	}
	w->key_at[t->ncols] = w->keys.len;
	/* The names and, in a second list, what each column holds. */
	dp_buf kinds = { 0 };
	w->line.len = 0;
	dp_buf_append(&w->line, "{\"columns\": [", 13);
	dp_buf_append(&kinds, "],\n\"kinds\": [", 13);
	bool first = true;
	for (size_t c = 0; c < t->ncols; c++) {
		if (t->table_only[c])
			continue;
		if (!first) {
			dp_buf_append(&w->line, ", ", 2);
			dp_buf_append(&kinds, ", ", 2);
		}
		first = false;
		dp_json_string(&w->line, t->cols[c], strlen(t->cols[c]));
		json_kind(&kinds, t, c);
	}
	dp_buf_append(&w->line, kinds.data, kinds.len);
	dp_buf_putc(&w->line, ']');
	if (kinds.failed)
		w->line.failed = true;
	dp_buf_free(&kinds);
	json_about(&w->line, t);
	dp_buf_append(&w->line, t->members.data, t->members.len);
	dp_buf_append(&w->line, ",\n\"rows\": [", 11);
	if (w->keys.failed || w->line.failed)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	return 0;
}

static int json_row(dp_rowout *w, const dp_qv *cells)
{
	const dp_table *t = w->t;
	dp_buf *line = &w->line;
	dp_buf_append(line, w->nrows ? ",\n {" : "\n {", w->nrows ? 4 : 3);
	bool first = true;
	for (size_t c = 0; c < t->ncols; c++) {
		const dp_qv *v = &cells[c];
		if (t->table_only[c])
			continue;
		if (!first)
			dp_buf_putc(line, ',');
		first = false;
		dp_buf_append(line, w->keys.data + w->key_at[c], w->key_at[c + 1] - w->key_at[c]);
		if (v->type == QV_NULL) {
			dp_buf_append(line, "null", 4);
		} else if (v->type == QV_TEXT) {
			dp_json_string(line, v->text, strlen(v->text));
		} else if (t->kinds[c] == COL_TIME || t->kinds[c] == COL_AGO || t->kinds[c] == COL_TEXT) {
			cell_text(&w->b, v, t->kinds[c], FMT_JSON, t->now);
			dp_json_string(line, w->b.data ? w->b.data : "", w->b.len);
		} else if (v->integer) {
			put_int(line, v->i);
		} else {
			dp_json_double(line, v->num);
		}
	}
	dp_buf_putc(line, '}');
	if (line->failed || w->b.failed)
		return dp_error(DNNPROV_ENOMEM, "out of memory"); /* the row is incomplete */
	return 0;
}

int dp_rowout_begin(dp_rowout *w, dp_table *t, dp_format f, FILE *out, int width)
{
	memset(w, 0, sizeof(*w));
	w->t = t;
	w->f = f;
	w->out = out;
	w->width = width;
	if (t->failed)
		return dp_table_check(t, NULL);
	if (f == FMT_CSV)
		csv_header(w);
	else if (f == FMT_JSON)
		return json_header(w);
	/* A header that could not be rendered whole is no header at all. */
	return w->line.failed ? dp_error(DNNPROV_ENOMEM, "out of memory") : 0;
}

int dp_rowout_row(dp_rowout *w, const dp_qv *cells)
{
	int rc = 0;
	if (w->f == FMT_TABLE) {
		dp_qv *row = dp_table_add_row(w->t);
		if (!row)
			return dp_error(DNNPROV_ENOMEM, "out of memory");
		for (size_t c = 0; c < w->t->ncols && !rc; c++)
			rc = cells[c].type == QV_TEXT ? dp_cell_text(&row[c], cells[c].text, strlen(cells[c].text))
						      : (row[c] = cells[c], 0);
	} else {
		size_t at = w->line.len;
		rc = w->f == FMT_CSV ? csv_row(w, cells) : json_row(w, cells);
		if (rc) {
			w->line.len = at; /* no part of a row */
			w->line.failed = w->b.failed = false;
		} else if (w->line.len >= ROWOUT_BLOCK) {
			rowout_flush(w);
		}
	}
	if (!rc)
		w->nrows++;
	return rc;
}

int dp_rowout_end(dp_rowout *w, const char *index_json)
{
	int rc = 0;
	if (w->f == FMT_TABLE) {
		if (!(rc = dp_table_check(w->t, NULL)))
			rc = write_table(w->t, w->out, w->width);
	} else if (w->f == FMT_JSON) {
		rowout_flush(w);
		fputs(w->nrows ? "\n]" : "]", w->out);
		if (w->t->paged)
			fprintf(w->out, ",\n\"total\": %zu", w->t->total);
		if (index_json && *index_json)
			fprintf(w->out, ",\n\"index\": %s", index_json);
		fputs("}\n", w->out);
	}
	rowout_flush(w);
	return rc;
}

void dp_rowout_flush(dp_rowout *w)
{
	if (w->out && w->f != FMT_TABLE && !w->line.failed)
		rowout_flush(w);
}

void dp_rowout_free(dp_rowout *w)
{
	dp_buf_free(&w->b);
	dp_buf_free(&w->line);
	dp_buf_free(&w->keys);
	free(w->key_at);
	memset(w, 0, sizeof(*w));
}

/* CSV and JSON of a whole table: its rows through the streaming writer. */
static int write_rows(const dp_table *t, dp_format f, FILE *out, const char *index_json)
{
	dp_rowout w;
	/* The writer only reads the table in these formats. */
	int rc = dp_rowout_begin(&w, (dp_table *)t, f, out, 0);
	for (size_t r = 0; r < t->nrows && !rc; r++)
		rc = dp_rowout_row(&w, &t->cells[r * t->ncols]);
	if (!rc)
		rc = dp_rowout_end(&w, index_json);
	dp_rowout_free(&w);
	return rc;
}

int dp_table_write(const dp_table *t, dp_format f, FILE *out, int width, const char *index_json)
{
	switch (f) {
	case FMT_CSV:
	case FMT_JSON: return write_rows(t, f, out, index_json);
	default: return write_table(t, out, width);
	}
}
