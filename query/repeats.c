/*
 * repeats.c - runs that repeat one another (see repeats.h).
 *
 * A run's key is its transformation, git_commit, git_diff, the sorted
 * distinct fingerprints it used and its hyperparameters sorted by name,
 * each value with its type (1 and 1.0 differ, as the logs keep them).
 * Runs with equal keys are repeats; the smallest task id labels them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/repeats.h"
#include "query/rows.h"

typedef struct run_key {
	char *task;
	dp_buf key;
	char **fps;
	size_t nfps, cap;
} run_key;

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

typedef struct named {
	dp_str name;
	dp_field value;
} named;

static int cmp_named(const void *a, const void *b)
{
	const named *x = a, *y = b;
	size_t n = x->name.n < y->name.n ? x->name.n : y->name.n;
	int c = memcmp(x->name.p, y->name.p, n);
	return c ? c : (x->name.n > y->name.n) - (x->name.n < y->name.n);
}

static void put_field(dp_buf *b, dp_field v)
{
	switch (v.type) {
	case DP_F_INT: dp_buf_printf(b, "i%lld", (long long)v.i); break;
	case DP_F_REAL: dp_buf_printf(b, "r%a", v.d); break;
	case DP_F_TEXT:
		dp_buf_putc(b, 't');
		dp_buf_append(b, v.s.p, v.s.n);
		break;
	default: dp_buf_putc(b, 'n');
	}
	dp_buf_putc(b, '\0');
}

/* Adds the task's code and hyperparameters to its key: false when its
 * code is unknown. */
static int key_of_task(dp_query *q, const char *df, run_key *r, bool *known)
{
	dp_key k;
	MDB_val key, val;
	dp_task_row row;

	*known = false;
	dp_key_task(&k, df, r->task);
	key = dp_key_val(&k);
	if (k.overflow || !dp_query_get(q, DP_DB_TASKS, &key, &val))
		return dp_query_check(q);
	if (dp_read_task(&q->dec, &key, &val, &row) != 0)
		return 0;
	dp_field commit = dp_rmap_get(row.facts, "git_commit"), diff = dp_rmap_get(row.facts, "git_diff");
	if (commit.type != DP_F_TEXT || diff.type != DP_F_TEXT || !commit.s.n || !diff.s.n)
		return 0;
	dp_buf *b = &r->key;
	if (row.f.transformation.p)
		dp_buf_append(b, row.f.transformation.p, row.f.transformation.n);
	dp_buf_putc(b, '\0');
	put_field(b, commit);
	put_field(b, diff);
	qsort(r->fps, r->nfps, sizeof(*r->fps), cmp_str);
	for (size_t i = 0; i < r->nfps; i++)
		if (i == 0 || strcmp(r->fps[i], r->fps[i - 1]) != 0)
			dp_buf_printf(b, "%s%c", r->fps[i], '\0');
	dp_buf_putc(b, '\x01');
	size_t n = dp_rmap_size(row.hyps);
	named *v = calloc(n + 1, sizeof(*v));
	if (!v)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (dp_rmap_at(row.hyps, i, &v[m].name, &v[m].value))
			m++;
	qsort(v, m, sizeof(*v), cmp_named);
	for (size_t i = 0; i < m; i++) {
		dp_buf_append(b, v[i].name.p, v[i].name.n);
		dp_buf_putc(b, '=');
		put_field(b, v[i].value);
	}
	free(v);
	if (b->failed)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	*known = true;
	return 0;
}

static void run_key_free(run_key *r)
{
	free(r->task);
	for (size_t i = 0; i < r->nfps; i++)
		free(r->fps[i]);
	free(r->fps);
	dp_buf_free(&r->key);
}

/* The runs of df that used something, each with the fingerprints it used
 * (the lineage database, in key order: a task's records together). */
static int runs_with_inputs(dp_query *q, const char *df, run_key **out, size_t *n)
{
	dp_key prefix;
	dp_scan sc;
	MDB_val k, v;
	dp_lineage_row row;
	size_t cap = 0;
	int rc;

	dp_key_reset(&prefix);
	dp_key_cstr(&prefix, df);
	if ((rc = dp_scan_open(&sc, q->ix, q->txn, DP_DB_LINEAGE, &prefix, NULL)))
		return rc;
	while ((rc = dp_scan_next(&sc, &k, &v)) == DP_SCAN_ROW) {
		if (dp_read_lineage(&q->dec, &k, &v, &row) != 0 || row.generated)
			continue;
		run_key *r = *n ? &(*out)[*n - 1] : NULL;
		if (!r || strlen(r->task) != row.task.n || memcmp(r->task, row.task.p, row.task.n) != 0) {
			if (*n == cap) {
				size_t c = cap ? cap * 2 : 16;
				run_key *grown = realloc(*out, c * sizeof(*grown));
				if (!grown) {
					rc = dp_error(DNNPROV_ENOMEM, "out of memory");
					break;
				}
				*out = grown;
				cap = c;
			}
			r = &(*out)[(*n)++];
			memset(r, 0, sizeof(*r));
			if (!(r->task = strndup(row.task.p, row.task.n))) {
				rc = dp_error(DNNPROV_ENOMEM, "out of memory");
				break;
			}
		}
		if (r->nfps == r->cap) {
			size_t c = r->cap ? r->cap * 2 : 4;
			char **grown = realloc(r->fps, c * sizeof(*grown));
			if (!grown) {
				rc = dp_error(DNNPROV_ENOMEM, "out of memory");
				break;
			}
			r->fps = grown;
			r->cap = c;
		}
		if (!(r->fps[r->nfps] = strndup(row.fingerprint.p, row.fingerprint.n))) {
			rc = dp_error(DNNPROV_ENOMEM, "out of memory");
			break;
		}
		r->nfps++;
	}
	dp_scan_close(&sc);
	return rc < 0 ? rc : 0;
}

int dp_repeats_load(dp_query *q, const char *df, dp_repeats *out)
{
	run_key *runs = NULL;
	size_t n = 0;
	dp_map first = { 0 }; /* key -> 1 + index of its smallest task */
	size_t *count = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = runs_with_inputs(q, df, &runs, &n)))
		goto out;
	bool *known = calloc(n + 1, sizeof(*known));
	size_t *group = calloc(n + 1, sizeof(*group));
	count = calloc(n + 1, sizeof(*count));
	if (!known || !group || !count) {
		free(known);
		free(group);
		rc = dp_error(DNNPROV_ENOMEM, "out of memory");
		goto out;
	}
	/* runs come sorted by task id: the first of a key is its smallest */
	for (size_t i = 0; i < n && !rc; i++) {
		if ((rc = key_of_task(q, df, &runs[i], &known[i])) || !known[i])
			continue;
		void **slot = dp_map_slot(&first, runs[i].key.data, runs[i].key.len, true);
		if (!slot) {
			rc = dp_error(DNNPROV_ENOMEM, "out of memory");
			break;
		}
		if (!*slot)
			*slot = (void *)(uintptr_t)(i + 1);
		group[i] = (size_t)(uintptr_t)*slot - 1;
		count[group[i]]++;
	}
	for (size_t i = 0; i < n && !rc; i++) {
		if (!known[i] || count[group[i]] < 2)
			continue;
		void **slot = dp_map_slot(&out->group_of, runs[i].task, strlen(runs[i].task), true);
		if (!slot) {
			rc = dp_error(DNNPROV_ENOMEM, "out of memory");
			break;
		}
		/* The label's offset in labels, + 1. */
		*slot = (void *)(uintptr_t)(out->labels.len + 1);
		dp_buf_append(&out->labels, runs[group[i]].task, strlen(runs[group[i]].task) + 1);
	}
	if (!rc && out->labels.failed)
		rc = dp_error(DNNPROV_ENOMEM, "out of memory");
	free(known);
	free(group);
out:
	free(count);
	dp_map_free(&first);
	for (size_t i = 0; i < n; i++)
		run_key_free(&runs[i]);
	free(runs);
	if (rc)
		dp_repeats_free(out);
	return rc;
}

const char *dp_repeats_of(const dp_repeats *r, const char *id)
{
	void **slot = dp_map_slot((dp_map *)&r->group_of, id, strlen(id), false);
	return slot && *slot ? r->labels.data + ((uintptr_t)*slot - 1) : NULL;
}

void dp_repeats_free(dp_repeats *r)
{
	dp_map_free(&r->group_of);
	dp_buf_free(&r->labels);
	memset(r, 0, sizeof(*r));
}
