/*
 * fuzz_value.c - the query layer's numbers: values decoded from msgpack
 * (what the logs and the index hold), their order, and how CSV, JSON and
 * tables print them.  The input is cut into 9-byte values: a type byte
 * (positive integer, negative integer, float64) and 8 payload bytes, read
 * from msgpack bytes as the index's readers read a stored value.
 *
 * Invariants: dp_qv_cmp_num is a total order that agrees with exact
 * comparison (a long double holds every int64 and every double exactly);
 * an integer prints as its exact decimal in every format; a real prints in
 * CSV and JSON as text that reads back to the same double, with no more
 * significant digits than the fewest printf's %.Ng needs to read back.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/rows.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_VALUES 48

static int exact_cmp(const dp_qv *a, const dp_qv *b)
{
	bool an = !a->integer && isnan(a->num), bn = !b->integer && isnan(b->num);
	if (an || bn)
		return an - bn;
	long double x = a->integer ? (long double)a->i : (long double)a->num;
	long double y = b->integer ? (long double)b->i : (long double)b->num;
	return (x > y) - (x < y);
}

static int sign(int c)
{
	return (c > 0) - (c < 0);
}

/* The text of each row's cell in `f`, one per line (the table's rows). */
static char *render(const dp_table *t, dp_format f)
{
	char *text = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);
	if (!m)
		abort();
	if (dp_table_write(t, f, m, 100, NULL) != 0)
		abort(); /* nothing here can fail but memory, which the fuzzer has */
	fclose(m);
	return text;
}

/* The number text at p, up to a delimiter. */
static const char *token(const char *p, char *buf, size_t cap)
{
	size_t n = 0;
	while (*p == ' ' || *p == '"')
		p++;
	while (*p && *p != '\r' && *p != '\n' && *p != '}' && *p != '"' && *p != ',' && n + 1 < cap)
		buf[n++] = *p++;
	buf[n] = '\0';
	return p;
}

/* The significant digits of a number's text, without trailing zeros. */
static int significant_digits(const char *s)
{
	int n = 0, zeros = 0;
	bool lead = true;
	for (; *s && *s != 'e' && *s != 'E'; s++) {
		if (*s < '0' || *s > '9' || (*s == '0' && lead))
			continue;
		lead = false;
		zeros = *s == '0' ? zeros + 1 : 0;
		n++;
	}
	return n - zeros;
}

static void check_text(const dp_qv *v, const char *s, bool table)
{
	if (v->integer) {
		char want[32];
		snprintf(want, sizeof(want), "%lld", (long long)v->i);
		if (strcmp(s, want) != 0)
			abort(); /* an integer is its exact decimal, everywhere */
		return;
	}
	if (isnan(v->num)) {
		if (strcmp(s, "NaN") != 0)
			abort();
		return;
	}
	if (isinf(v->num)) {
		const char *want = table ? (v->num > 0 ? "inf" : "-inf") : (v->num > 0 ? "Infinity" : "-Infinity");
		if (strcmp(s, want) != 0)
			abort();
		return;
	}
	if (table)
		return;
	if (strtod(s, NULL) != v->num)
		abort(); /* CSV and JSON read back exactly */
	char ref[64];
	int p = 1;
	while (p < 17 && (snprintf(ref, sizeof(ref), "%.*g", p, v->num), strtod(ref, NULL) != v->num))
		p++;
	if (significant_digits(s) > p)
		abort(); /* and are the shortest that do */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	dp_qv v[MAX_VALUES];
	size_t n = 0;

	for (size_t at = 0; at + 9 <= size && n < MAX_VALUES; at += 9) {
		/* {"v": a uint64, an int64 or a float64}, read as the index's
		 * readers read a stored value, then as the query layer holds it. */
		static const unsigned char kind[3] = { 0xcf, 0xd3, 0xcb };
		unsigned char map[12] = { 0x81, 0xa1, 'v', kind[data[at] % 3] };
		memcpy(map + 4, data + at + 1, 8);
		if (map[3] == 0xd3)
			map[4] |= 0x80; /* a negative int64, as msgpack writes them */
		dp_field f = dp_rmap_get((dp_rmap){ .raw = map, .rawlen = sizeof(map) }, "v");
		v[n] = dp_qv_number(&f);
		if (v[n].type != QV_NUM)
			abort();
		n++;
	}
	for (size_t i = 0; i < n; i++) {
		if (dp_qv_cmp_num(&v[i], &v[i]) != 0)
			abort();
		for (size_t j = 0; j < n; j++) {
			int c = sign(dp_qv_cmp_num(&v[i], &v[j]));
			if (c != -sign(dp_qv_cmp_num(&v[j], &v[i])) || c != exact_cmp(&v[i], &v[j]))
				abort();
			for (size_t k = 0; k < n && k < 8; k++)
				if (c <= 0 && sign(dp_qv_cmp_num(&v[j], &v[k])) <= 0 && dp_qv_cmp_num(&v[i], &v[k]) > 0)
					abort(); /* transitive */
		}
	}

	dp_table t;
	if (n == 0 || dp_table_init(&t, 1) || dp_table_set_col(&t, 0, "v", COL_NUM))
		return 0;
	for (size_t i = 0; i < n; i++) {
		dp_qv *row = dp_table_add_row(&t);
		if (!row)
			abort();
		row[0] = v[i];
	}
	static const dp_format formats[] = { FMT_CSV, FMT_JSON, FMT_TABLE };
	for (size_t f = 0; f < 3; f++) {
		char *text = render(&t, formats[f]), tok[512];
		const char *p = text;
		for (size_t i = 0; i < n; i++) {
			if (formats[f] == FMT_JSON) {
				p = strstr(p, "{\"v\":");
				if (!p)
					abort();
				p += 5;
			} else {
				p = strchr(p, '\n'); /* past the header, then each row */
				if (!p)
					abort();
				p++;
			}
			p = token(p, tok, sizeof(tok));
			check_text(&v[i], tok, formats[f] == FMT_TABLE);
		}
		free(text);
	}
	dp_table_free(&t);
	return 0;
}
