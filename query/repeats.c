/*
 * repeats.c - runs that repeat one another (see repeats.h).
 *
 * A run's key is its transformation, git_commit, git_diff, the sorted
 * distinct fingerprints it used and its hyperparameters sorted by name,
 * each value with its type (1 and 1.0 differ, as the logs keep them).
 * Runs with equal keys are repeats; the smallest task id labels them.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/answer.h"
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

/* Appends a fingerprint the run used. */
static int add_fingerprint(run_key *r, dp_str fp)
{
	char **grown = dp_grow(r->fps, r->nfps, &r->cap, sizeof(*grown), 4);
	if (!grown)
		return DNNPROV_ENOMEM;
	r->fps = grown;
	if (!(r->fps[r->nfps] = strndup(fp.p, fp.n)))
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	r->nfps++;
	return 0;
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
		if ((rc = add_fingerprint(r, row.fingerprint)))
			break;
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

/* ---- the repeats of a page of runs ---------------------------------------------------
 * A page of 100 runs of 100,000 needs the groups of its own runs only.
 * Every run of a page run's group has its hyperparameters (the first
 * begin's, as hyp_index keeps them), so the candidates are the tasks
 * hyp_index lists under one of the page run's values: the value that
 * counts lists fewest tasks under (or, for a run without one, the tasks
 * that used one of the entities it used).  Each candidate's key is made
 * as dp_repeats_load makes it and compared; the label is the smallest id
 * of the group.  When the candidates would be more than the dataflow's
 * tasks (a few values shared by every run), or hyp_index does not list a
 * run under its own value, the whole dataflow is read instead. */

/* The key of run `id`: the fingerprints it used (its lineage rows), then
 * key_of_task.  *known is false when it used nothing or its code is
 * unknown. */
static int run_key_of(dp_query *q, const char *df, const char *id, run_key *r, bool *known)
{
	dp_key prefix;
	dp_scan sc;
	MDB_val k, v;
	dp_lineage_row row;
	int rc;

	memset(r, 0, sizeof(*r));
	*known = false;
	if (!(r->task = strdup(id)))
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	dp_key_reset(&prefix);
	dp_key_cstr(&prefix, df);
	dp_key_cstr(&prefix, id);
	if (prefix.overflow)
		return 0;
	if ((rc = dp_scan_open(&sc, q->ix, q->txn, DP_DB_LINEAGE, &prefix, NULL)))
		return rc;
	while ((rc = dp_scan_next(&sc, &k, &v)) == DP_SCAN_ROW) {
		rc = 0;
		if (dp_read_lineage(&q->dec, &k, &v, &row) == 0 && !row.generated && (rc = add_fingerprint(r, row.fingerprint)))
			break;
	}
	dp_scan_close(&sc);
	if (rc < 0)
		return rc;
	return r->nfps ? key_of_task(q, df, r, known) : 0;
}

/* Where a page run's candidates are: the tasks of one hyp_index range
 * (the key ends with the task) or of one entities range (the task, then
 * its record's 16-byte position), and how many there are. */
typedef struct cand_range {
	dp_db db;
	dp_key prefix;
	size_t tail;
	uint64_t count;
} cand_range;

/* The task id of key k of range c, in task (a name's room). */
static bool range_task(const MDB_val *k, const cand_range *c, char task[DNNPROV_NAME_MAX + 1])
{
	size_t pos = c->prefix.n, tn;
	const char *t;
	if (!dp_key_get_str(k->mv_data, k->mv_size, &pos, &t, &tn) || k->mv_size - pos != c->tail ||
	    tn > DNNPROV_NAME_MAX)
		return false;
	memcpy(task, t, tn);
	task[tn] = '\0';
	return true;
}

/* The tasks of df that used fingerprint fp, as a range, counted up to
 * limit + 1: a run without hyperparameters finds its repeats among them
 * (every one used what it used). */
static int entity_range(dp_query *q, const char *df, const char *fp, uint64_t limit, cand_range *c)
{
	dp_scan sc;
	MDB_val k, v;
	char last[DNNPROV_NAME_MAX + 1] = "";
	int rc;

	c->db = DP_DB_ENTITIES;
	c->tail = 16;
	c->count = 0;
	dp_key_reset(&c->prefix);
	dp_key_cstr(&c->prefix, fp);
	dp_key_cstr(&c->prefix, "used");
	dp_key_cstr(&c->prefix, df);
	if (c->prefix.overflow) {
		c->count = UINT64_MAX; /* no such key: read the whole dataflow */
		return 0;
	}
	if ((rc = dp_scan_open(&sc, q->ix, q->txn, DP_DB_ENTITIES, &c->prefix, NULL)))
		return rc;
	while (c->count <= limit && (rc = dp_scan_next(&sc, &k, &v)) == DP_SCAN_ROW) {
		char task[DNNPROV_NAME_MAX + 1];
		rc = 0;
		if (range_task(&k, c, task) && strcmp(task, last) != 0) {
			memcpy(last, task, sizeof(last));
			c->count++;
		}
	}
	dp_scan_close(&sc);
	return rc < 0 ? rc : 0;
}

/* The hyp_index prefix (df, name, value) of the value of run id's
 * hyperparameters that the fewest tasks share, and how many do; false
 * when hyp_index holds none of its values. */
static int narrowest_value(dp_query *q, const char *df, const char *id, cand_range *best, bool *found)
{
	dp_key k;
	MDB_val key, val;
	dp_task_row row;
	int rc;

	*found = false;
	dp_key_task(&k, df, id);
	key = dp_key_val(&k);
	if (k.overflow || !dp_query_get(q, DP_DB_TASKS, &key, &val))
		return dp_query_check(q);
	if (dp_read_task(&q->dec, &key, &val, &row) != 0)
		return 0;
	size_t n = dp_rmap_size(row.hyps);
	for (size_t i = 0; i < n; i++) {
		dp_str name;
		dp_field f;
		uint64_t count;
		if (!dp_rmap_at(row.hyps, i, &name, &f))
			continue;
		/* The key the indexer writes (indexer/ingest.c): a number as a
		 * double, a text as itself. */
		dp_key_reset(&k);
		dp_key_cstr(&k, df);
		dp_key_str(&k, name.p, name.n);
		if (k.n >= DP_KEY_MAX)
			continue;
		if (f.type == DP_F_INT || f.type == DP_F_REAL) {
			k.b[k.n++] = 1;
			dp_key_double(&k, f.type == DP_F_INT ? (double)f.i : f.d);
		} else if (f.type == DP_F_TEXT) {
			k.b[k.n++] = 2;
			dp_key_str(&k, f.s.p, f.s.n);
		} else {
			continue;
		}
		/* The indexer leaves out a key that the task id makes too long,
		 * so a value is a range of every task that has it only when the
		 * longest id fits after it.  NaNs of other payloads make equal
		 * keys here but other ranges there. */
		if (k.overflow || k.n + DNNPROV_NAME_MAX + 1 > DP_KEY_MAX || (f.type == DP_F_REAL && isnan(f.d)))
			continue;
		if ((rc = dp_query_count(q, &k, &count)) != 0 || count == 0)
			continue; /* not held, or no count to tell */
		if (!*found || count < best->count) {
			best->db = DP_DB_HYP_INDEX;
			best->prefix = k;
			best->tail = 0;
			best->count = count;
			*found = true;
		}
	}
	return dp_query_check(q);
}

/* Records run id's label in out. */
static int label_run(dp_repeats *out, const char *id, const char *label)
{
	void **slot = dp_map_slot(&out->group_of, id, strlen(id), true);
	if (!slot)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	*slot = (void *)(uintptr_t)(out->labels.len + 1);
	dp_buf_append(&out->labels, label, strlen(label) + 1);
	return out->labels.failed ? dp_error(DNNPROV_ENOMEM, "out of memory") : 0;
}

/* The group of page run `id` among the tasks of range `prefix`: its label
 * in out when it has a repeat.  *whole is set when the range does not
 * list the run itself (hyp_index cannot be trusted for it). */
static int page_run_group(dp_query *q, const char *df, const char *id, const run_key *mine, const cand_range *c,
			  dp_repeats *out, bool *whole)
{
	const dp_key *prefix = &c->prefix;
	char last[DNNPROV_NAME_MAX + 1] = "";
	dp_scan sc;
	MDB_val k, v;
	char label[DNNPROV_NAME_MAX + 1];
	bool self = false, repeated = false;
	int rc;

	snprintf(label, sizeof(label), "%s", id);
	if ((rc = dp_scan_open(&sc, q->ix, q->txn, c->db, prefix, NULL)))
		return rc;
	while ((rc = dp_scan_next(&sc, &k, &v)) == DP_SCAN_ROW) {
		char task[DNNPROV_NAME_MAX + 1];
		rc = 0;
		if (!range_task(&k, c, task) || strcmp(task, last) == 0)
			continue; /* no key of the layout, or the task's next position */
		memcpy(last, task, sizeof(last));
		if (strcmp(task, id) == 0) {
			self = true;
			continue;
		}
		run_key other;
		bool known;
		rc = run_key_of(q, df, task, &other, &known);
		if (!rc && known && other.key.len == mine->key.len && memcmp(other.key.data, mine->key.data, mine->key.len) == 0) {
			repeated = true;
			if (strcmp(task, label) < 0)
				snprintf(label, sizeof(label), "%s", task);
		}
		run_key_free(&other);
		if (rc)
			break;
	}
	dp_scan_close(&sc);
	if (rc < 0)
		return rc;
	if (!self) {
		*whole = true;
		return 0;
	}
	return repeated ? label_run(out, id, label) : 0;
}

int dp_repeats_load_page(dp_query *q, const char *df, const char *const *ids, size_t n, dp_repeats *out)
{
	cand_range *ranges = calloc(n + 1, sizeof(*ranges));
	run_key *keys = calloc(n + 1, sizeof(*keys));
	bool *known = calloc(n + 1, sizeof(*known));
	uint64_t budget = 0, spent = 0;
	bool whole = false;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (!ranges || !keys || !known) {
		rc = dp_error(DNNPROV_ENOMEM, "out of memory");
		goto out;
	}
	dp_key all;
	dp_key_reset(&all);
	dp_key_cstr(&all, df);
	if ((rc = dp_query_count(q, &all, &budget)) != 0 || budget == 0) {
		whole = rc >= 0; /* no count of the dataflow's tasks */
		rc = rc < 0 ? rc : 0;
		goto out;
	}
	/* First every page run's key and candidates, to know what they will
	 * cost before reading any: no more than the whole dataflow would. */
	for (size_t i = 0; i < n && !rc && !whole; i++) {
		bool found;
		if ((rc = run_key_of(q, df, ids[i], &keys[i], &known[i])) || !known[i])
			continue;
		if ((rc = narrowest_value(q, df, ids[i], &ranges[i], &found)))
			break;
		if (!found && (rc = entity_range(q, df, keys[i].fps[0], budget - spent, &ranges[i])))
			break;
		spent += ranges[i].count < budget ? ranges[i].count : budget + 1;
		whole = spent > budget;
	}
	for (size_t i = 0; i < n && !rc && !whole; i++)
		if (known[i])
			rc = page_run_group(q, df, ids[i], &keys[i], &ranges[i], out, &whole);
out:
	for (size_t i = 0; keys && i < n; i++)
		run_key_free(&keys[i]);
	free(keys);
	free(known);
	free(ranges);
	if (rc || whole)
		dp_repeats_free(out);
	return rc ? rc : whole ? dp_repeats_load(q, df, out) : 0;
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
