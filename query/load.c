/*
 * load.c - reading a dataflow out of the index: its specification, its
 * tasks and their hyperparameters, metric summaries and aggregates.
 */
#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "logger/record.h"
#include "query/query.h"
#include "logger/mpack.h"
#include "query/rows.h"

int dp_query_open(const char *index_dir, dp_query *q)
{
	int rc;
	dp_error_clear(); /* what fails from here sets its own detail */
	memset(q, 0, sizeof(*q));
	q->now = dp_now();
	if ((rc = dp_index_open(index_dir, false, NULL, &q->ix)))
		return rc;
	if ((rc = dp_index_read(q->ix, &q->txn))) {
		dp_index_close(q->ix);
		q->ix = NULL;
	}
	return rc;
}

void dp_query_adopt(dp_index *ix, MDB_txn *txn, dp_query *q)
{
	memset(q, 0, sizeof(*q));
	q->ix = ix;
	q->txn = txn;
	q->shared = true;
	q->now = dp_now();
}

int dp_query_past_deadline(dp_query *q)
{
	if (q->expired)
		return DNNPROV_EQUERY;
	if (q->deadline <= 0 || dp_monotonic() < q->deadline)
		return 0;
	q->expired = true;
	return dp_error(DNNPROV_EQUERY, "the query ran past its time limit");
}

/* Every this many tasks a loop over tasks looks at the clock. */
#define DEADLINE_EVERY 1024

int dp_query_check(const dp_query *q)
{
	if (q->read_error)
		return dp_error(q->read_error, "%s", q->read_error_detail);
	if (q->dec.out_of_memory)
		return dp_error(DNNPROV_ENOMEM, "out of memory decoding the index");
	return 0;
}

void dp_query_read_failed(dp_query *q, int rc)
{
	if (q->read_error)
		return;
	q->read_error = rc;
	snprintf(q->read_error_detail, sizeof(q->read_error_detail), "%s", dnnprov_errmsg());
}

bool dp_query_get(dp_query *q, dp_db db, MDB_val *k, MDB_val *v)
{
	int mrc = mdb_get(q->txn, q->ix->dbi[db], k, v);
	if (mrc && mrc != MDB_NOTFOUND)
		dp_query_read_failed(q, dp_lmdb_error(mrc, dp_db_names[db]));
	return mrc == 0;
}

void dp_query_close(dp_query *q)
{
	if (q->txn)
		mdb_txn_abort(q->txn);
	if (!q->shared)
		dp_index_close(q->ix);
	dp_decoder_free(&q->dec);
	memset(q, 0, sizeof(*q));
}

static char *strndup_(const char *p, size_t n)
{
	char *s = malloc(n + 1);
	if (s) {
		memcpy(s, p, n);
		s[n] = '\0';
	}
	return s;
}

int dp_query_dataflows(dp_query *q, char ***names, size_t *n)
{
	dp_scan sc;
	dp_key all;
	MDB_val k, v;
	char **out = NULL;
	size_t cnt = 0;
	int rc;

	*names = NULL;
	*n = 0;
	dp_key_reset(&all);
	if ((rc = dp_scan_open(&sc, q->ix, q->txn, DP_DB_DATAFLOWS, &all, NULL)))
		return rc;
	while ((rc = dp_scan_next(&sc, &k, &v)) == DP_SCAN_ROW) {
		char **grown = realloc(out, (cnt + 1) * sizeof(*out));
		if (!grown) {
			rc = dp_error(DNNPROV_ENOMEM, "out of memory");
			break;
		}
		out = grown;
		/* The key is the name and its NUL terminator. */
		if (!(out[cnt] = strndup_(k.mv_data, k.mv_size - 1))) {
			rc = dp_error(DNNPROV_ENOMEM, "out of memory");
			break;
		}
		cnt++;
	}
	dp_scan_close(&sc);
	if (rc) {
		for (size_t i = 0; i < cnt; i++)
			free(out[i]);
		free(out);
		return rc;
	}
	*names = out;
	*n = cnt;
	return 0;
}

/* The strings of a loaded dataflow's tasks live in an arena freed at once:
 * a dataflow of 10,000 tasks would otherwise cost some 70,000 mallocs. */
#define ARENA_CHUNK 65536

static char *arena_strndup(dp_qdataflow *d, const char *p, size_t n)
{
	d->arena.chunk = ARENA_CHUNK;
	return dp_arena_strndup(&d->arena, p, n);
}

/* A stored value as the dataflow keeps it: text in its arena. */
static int qv_of_field(dp_qdataflow *d, dp_qv *v, const dp_field *f)
{
	if (f->type != DP_F_TEXT) {
		*v = dp_qv_number(f);
		return 0;
	}
	memset(v, 0, sizeof(*v));
	if (!(v->text = arena_strndup(d, f->s.p, f->s.n)))
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	v->type = QV_TEXT;
	return 0;
}

/* The dataflow's own copy of a hyperparameter name, so that every task's
 * list points at one string. */
static const char *intern_hyp(dp_qdataflow *d, const char *p, size_t n)
{
	for (size_t i = 0; i < d->nhyps; i++)
		if (strlen(d->hyps[i].name) == n && memcmp(d->hyps[i].name, p, n) == 0)
			return d->hyps[i].name;
	return arena_strndup(d, p, n);
}

/* A map of names to values (hyperparameters, facts) in a task value's
 * bytes, as a list; names interned when every task repeats them. */
static int named_values_raw(dp_qdataflow *d, dp_str bytes, bool intern, dp_qhyp **out, size_t *n)
{
	dp_rmap m = { .raw = (const unsigned char *)bytes.p, .rawlen = bytes.n };
	size_t cnt = bytes.p ? dp_rmap_size(m) : 0;
	dp_mpr r = { m.raw, m.rawlen, 0 };
	uint32_t pairs;
	if (!cnt || !dp_mpr_map(&r, &pairs))
		return 0;
	if (!(*out = calloc(cnt, sizeof(**out))))
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	for (size_t i = 0; i < cnt; i++) {
		dp_str name;
		dp_field f;
		if (!dp_rmap_at(m, i, &name, &f))
			continue;
		dp_qhyp *h = &(*out)[*n];
		h->name = intern ? intern_hyp(d, name.p, name.n) : arena_strndup(d, name.p, name.n);
		if (!h->name)
			return dp_error(DNNPROV_ENOMEM, "out of memory");
		int rc = qv_of_field(d, &h->value, &f);
		if (rc)
			return rc;
		(*n)++;
	}
	return 0;
}

static int load_task(dp_query *q, dp_qdataflow *d, const MDB_val *k, const MDB_val *v, size_t prefix,
		     dp_qtask *t)
{
	dp_task_fields tf;

	(void)q;
	memset(t, 0, sizeof(*t));
	t->id = arena_strndup(d, (const char *)k->mv_data + prefix, k->mv_size - prefix - 1);
	if (!t->id)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	t->start = t->end = t->last = NAN;
	/* Read in place: a dataflow of 100,000 tasks is loaded without a
	 * decode (and its allocations) per task. */
	if (dp_task_fields_parse(v->mv_data, v->mv_size, &tf) != 0)
		return 0; /* shown with what is known: its id */
	memcpy(t->status, tf.status, sizeof(t->status));
	t->start = tf.start;
	t->end = tf.end;
	t->last = tf.last;
	t->epochs = tf.epochs;
	t->attempts = tf.attempts;
	t->active = dp_task_active(&tf);
	t->has_last_epoch = tf.has_last_epoch;
	t->last_epoch = tf.last_epoch;
	const dp_str texts[] = { tf.host, tf.user, tf.message, tf.transformation };
	char **fields[] = { &t->host, &t->user, &t->message, &t->transformation };
	for (size_t i = 0; i < DP_ARRAY_LEN(texts); i++)
		if (texts[i].p && !(*fields[i] = arena_strndup(d, texts[i].p, texts[i].n)))
			return dp_error(DNNPROV_ENOMEM, "out of memory");
	int rc = named_values_raw(d, tf.hyps, true, &t->hyps, &t->nhyps);
	if (!rc)
		rc = named_values_raw(d, tf.refused, false, &t->refused, &t->nrefused);
	return rc ? rc : named_values_raw(d, tf.facts, false, &t->facts, &t->nfacts);
}

static void task_free(dp_qtask *t)
{
	free(t->hyps); /* their strings are in the arena */
	free(t->facts);
	free(t->tags);
	free(t->refused);
}

/* The tags of the loaded tasks: one range scan of the dataflow's (or the
 * one task's) tags.  A removed key (a nil value) is left out. */
static int load_tags(dp_query *q, dp_qdataflow *d, const dp_key *prefix)
{
	dp_scan sc;
	MDB_val k, v;
	int r, rc;

	if ((rc = dp_scan_open(&sc, q->ix, q->txn, DP_DB_TAGS, prefix, NULL)))
		return rc;
	while ((r = dp_scan_next(&sc, &k, &v)) == DP_SCAN_ROW) {
		dp_tag_row tag;
		if (dp_read_tag(&q->dec, &k, &v, &tag) || tag.value.type == DP_F_NULL)
			continue;
		char id[DNNPROV_NAME_MAX + 1];
		snprintf(id, sizeof(id), "%.*s", (int)tag.task.n, tag.task.p);
		dp_qtask *t = (dp_qtask *)dp_qtask_find(d, id);
		if (!t)
			continue;
		dp_qhyp *grown = realloc(t->tags, (t->ntags + 1) * sizeof(*grown));
		if (!grown) {
			r = dp_error(DNNPROV_ENOMEM, "out of memory");
			break;
		}
		t->tags = grown;
		dp_qhyp *h = &t->tags[t->ntags];
		if (!(h->name = arena_strndup(d, tag.key.p, tag.key.n))) {
			r = dp_error(DNNPROV_ENOMEM, "out of memory");
			break;
		}
		if ((r = qv_of_field(d, &h->value, &tag.value)))
			break;
		t->ntags++;
	}
	dp_scan_close(&sc);
	return r < 0 ? r : 0;
}

void dp_qdataflow_free(dp_qdataflow *d)
{
	free(d->name);
	free(d->hyps); /* names and metrics in the model's arena */
	dp_model_free(&d->model);
	for (size_t i = 0; i < d->ntasks; i++)
		task_free(&d->tasks[i]);
	free(d->tasks);
	dp_arena_free(&d->arena);
	memset(d, 0, sizeof(*d));
}

/* d->hyps, from iTrainingModel's attributes: the model holds the names. */
static int sync_hyps(dp_qdataflow *d)
{
	const dp_mset *s = dp_model_hyps(&d->model);
	size_t n = s ? s->nattrs : 0;
	if (n == d->nhyps)
		return 0;
	dp_qspec_hyp *grown = realloc(d->hyps, n * sizeof(*grown));
	if (!grown)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	d->hyps = grown;
	for (; d->nhyps < n; d->nhyps++) {
		d->hyps[d->nhyps].name = s->attrs[d->nhyps].name;
		d->hyps[d->nhyps].type = dp_attr_type_name(s->attrs[d->nhyps].type);
	}
	/* The model only grows: the hyperparameters are its iTrainingModel's,
	 * in its order. */
	assert(d->nhyps == n && (!n || d->hyps[n - 1].name == s->attrs[n - 1].name));
	return 0;
}

/* A hyperparameter a loaded task used, joining the specification's. */
static int add_spec_hyp(dp_qdataflow *d, const char *name, bool text)
{
	int rc = dp_model_add_hyp(&d->model, name, strlen(name), text ? DP_ATTR_TEXT : DP_ATTR_NUMERIC);
	return rc ? rc : sync_hyps(d);
}

int dp_query_no_dataflow(dp_query *q, const char *df)
{
	char **names;
	size_t n;
	dp_buf list = { 0 };
	if (dp_query_dataflows(q, &names, &n))
		return dp_error_subject(DNNPROV_ENOTFOUND, "dataflow", "no dataflow '%s' in the index", df);
	for (size_t i = 0; i < n; i++) {
		dp_buf_printf(&list, "%s%s", i ? ", " : "", names[i]);
		free(names[i]);
	}
	free(names);
	const char *known = n ? dp_buf_cstr(&list) : "";
	int rc = list.failed || !known
			 ? dp_error_subject(DNNPROV_ENOTFOUND, "dataflow", "no dataflow '%s' in the index", df)
			 : dp_error_subject(DNNPROV_ENOTFOUND, "dataflow", "no dataflow '%s' in the index (%s%s)", df,
				    n ? "dataflows: " : "the index is empty", known);
	dp_buf_free(&list);
	return rc;
}

int dp_query_no_task(dp_query *q, const char *df, const char *id)
{
	const char *near[5];
	dp_buf list = { 0 };
	size_t n = 0;
	int rc;

	/* The ids it may have meant, not every id: a dataflow may have
	 * 100,000 (`dnnprov tasks DF --match TEXT` finds the others). */
	if ((rc = dp_task_suggest(q, df, id, near, DP_ARRAY_LEN(near), &n)))
		return rc;
	for (size_t i = 0; i < n; i++)
		dp_buf_printf(&list, "%s%s", i ? ", " : "", near[i]);
	rc = list.failed || !n ? dp_error_subject(DNNPROV_ENOTFOUND, "task", "no task '%s' in dataflow %s%s", id, df,
						   n ? "" : " (it has no tasks)")
			       : dp_error_subject(DNNPROV_ENOTFOUND, "task", "no task '%s' in dataflow %s (did you mean %s?)",
						  id, df, dp_buf_cstr(&list));
	dp_buf_free(&list);
	return rc;
}

int dp_query_load(dp_query *q, const char *df, dp_qdataflow *d)
{
	return dp_query_load_tasks(q, df, NULL, d);
}

/* Loads the task of key k, value v at the end of d->tasks (*cap of them
 * allocated); DNNPROV_ENOMEM unreported, as load() reports it. */
static int add_task(dp_query *q, dp_qdataflow *d, size_t *cap, const MDB_val *k, const MDB_val *v, size_t prefix)
{
	if (d->ntasks == *cap) {
		size_t grow = *cap ? *cap * 2 : 64;
		dp_qtask *grown = realloc(d->tasks, grow * sizeof(*grown));
		if (!grown)
			return DNNPROV_ENOMEM;
		d->tasks = grown;
		*cap = grow;
	}
	int rc = load_task(q, d, k, v, prefix, &d->tasks[d->ntasks]);
	d->ntasks++; /* freed with d, loaded or not */
	return rc;
}

/* The specification, and then no task, one task or every task; or no
 * task and the model whole. */
enum { LOAD_ALL, LOAD_ONE, LOAD_NONE, LOAD_MODEL };
static int load(dp_query *q, const char *df, int which, const char *only_task, dp_qdataflow *d);

int dp_query_load_tasks(dp_query *q, const char *df, const char *only_task, dp_qdataflow *d)
{
	return load(q, df, only_task ? LOAD_ONE : LOAD_ALL, only_task, d);
}

int dp_query_load_spec(dp_query *q, const char *df, dp_qdataflow *d)
{
	return load(q, df, LOAD_NONE, NULL, d);
}

int dp_query_load_model(dp_query *q, const char *df, dp_qdataflow *d)
{
	return load(q, df, LOAD_MODEL, NULL, d);
}

/* The stored specification of df in *v, its key in *key; an unknown
 * dataflow is DNNPROV_ENOTFOUND listing the ones there are. */
static int spec_value(dp_query *q, const char *df, dp_key *key, MDB_val *v)
{
	if (dp_check_tag("dataflow", df))
		return dp_error_subject(DNNPROV_ENOTFOUND, "dataflow", "'%s' is not a dataflow name", df);
	dp_key_reset(key);
	dp_key_cstr(key, df);
	MDB_val k = dp_key_val(key);
	int mrc = mdb_get(q->txn, q->ix->dbi[DP_DB_DATAFLOWS], &k, v);
	if (mrc == MDB_NOTFOUND)
		return dp_query_no_dataflow(q, df);
	return mrc ? dp_lmdb_error(mrc, "dataflows") : 0;
}

/* Adds to m the hyperparameters the dataflow's tasks used beside the
 * declared ones, as a load of every task adds them: in task order, each
 * task's in its order.  Only when the indexer marked the dataflow. */
static int add_used_hyps(dp_query *q, const dp_key *dfkey, dp_model *m)
{
	MDB_val k, v;
	dp_scan sc;
	dp_task_row r;
	int rc;

	if (!m->undeclared)
		return 0;
	if ((rc = dp_scan_open(&sc, q->ix, q->txn, DP_DB_TASKS, dfkey, NULL)))
		return rc;
	while ((rc = dp_scan_next(&sc, &k, &v)) == DP_SCAN_ROW) {
		dp_str name;
		dp_field f;
		rc = 0;
		if (dp_read_task(&q->dec, &k, &v, &r))
			continue; /* damaged: as a load shows it, without hyperparameters */
		for (size_t i = 0, n = dp_rmap_size(r.hyps); !rc && i < n; i++)
			if (dp_rmap_at(r.hyps, i, &name, &f))
				rc = dp_model_add_hyp(m, name.p, name.n, f.type == DP_F_TEXT ? DP_ATTR_TEXT : DP_ATTR_NUMERIC);
		if (rc)
			break;
	}
	dp_scan_close(&sc);
	return rc < 0 ? rc : 0;
}

static int load(dp_query *q, const char *df, int which, const char *only_task, dp_qdataflow *d)
{
	dp_key key;
	MDB_val k, v;
	dp_scan sc;
	int rc = 0, mrc;

	memset(d, 0, sizeof(*d));
	if ((rc = spec_value(q, df, &key, &v)))
		return rc;
	if (!(d->name = strdup(df)))
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	if (!(rc = dp_model_read(v.mv_data, v.mv_size, df, &d->model)) && !(rc = sync_hyps(d))) {
		d->metrics = d->model.metrics;
		d->nmetrics = d->model.nmetrics;
		d->adaptation = d->model.adaptation;
		d->undeclared_hyps = d->model.undeclared;
		d->first_seen = d->model.first_seen;
	}
	if (!rc && which == LOAD_MODEL && !(rc = add_used_hyps(q, &key, &d->model)))
		rc = sync_hyps(d);
	if (rc)
		goto fail;
	if (which == LOAD_NONE || which == LOAD_MODEL)
		return 0;
	if (which == LOAD_ONE) {
		/* One task: one lookup, whatever the size of the dataflow. */
		dp_key tk = key;
		dp_key_cstr(&tk, only_task);
		k = dp_key_val(&tk);
		mrc = tk.overflow ? MDB_NOTFOUND : mdb_get(q->txn, q->ix->dbi[DP_DB_TASKS], &k, &v);
		if (mrc == 0) {
			if (!(d->tasks = calloc(1, sizeof(*d->tasks)))) {
				rc = DNNPROV_ENOMEM;
				goto fail;
			}
			d->ntasks = 1;
			if ((rc = load_task(q, d, &k, &v, key.n, &d->tasks[0])) || (rc = load_tags(q, d, &tk)))
				goto fail;
		} else if (mrc != MDB_NOTFOUND) {
			rc = dp_lmdb_error(mrc, "tasks");
			goto fail;
		}
		return 0;
	}
	/* The tasks: one range scan of (df, *). */
	if ((rc = dp_scan_open(&sc, q->ix, q->txn, DP_DB_TASKS, &key, NULL)))
		goto fail;
	size_t cap = 0;
	while ((rc = dp_scan_next(&sc, &k, &v)) == DP_SCAN_ROW) {
		rc = 0;
		if (d->ntasks % DEADLINE_EVERY == 0 && (rc = dp_query_past_deadline(q)))
			break;
		if ((rc = add_task(q, d, &cap, &k, &v, key.n)))
			break;
		/* Names a task used that the spec does not declare join it. */
		const dp_qtask *t = &d->tasks[d->ntasks - 1];
		for (size_t i = 0; i < t->nhyps && !rc; i++)
			rc = add_spec_hyp(d, t->hyps[i].name, t->hyps[i].value.type == QV_TEXT);
		if (rc)
			break;
	}
	dp_scan_close(&sc);
	if (rc || (rc = load_tags(q, d, &key)))
		goto fail;
	return 0;
fail:
	dp_qdataflow_free(d);
	return rc == DNNPROV_ENOMEM ? dp_error(rc, "out of memory loading %s", df) : rc;
}

static int cmp_task_id(const void *a, const void *b)
{
	return strcmp(((const dp_qtask *)a)->id, ((const dp_qtask *)b)->id);
}

int dp_query_load_ids(dp_query *q, const char *df, const char *const *ids, size_t n, dp_qdataflow *d)
{
	dp_key key;
	int rc;

	if ((rc = dp_query_load_spec(q, df, d)))
		return rc;
	if (!(d->tasks = calloc(n + 1, sizeof(*d->tasks)))) {
		rc = DNNPROV_ENOMEM;
		goto fail;
	}
	dp_key_reset(&key);
	dp_key_cstr(&key, df);
	for (size_t i = 0; i < n; i++) {
		bool seen = false;
		for (size_t j = 0; j < d->ntasks && !seen; j++)
			seen = strcmp(d->tasks[j].id, ids[i]) == 0;
		dp_key tk = key;
		MDB_val k, v;
		dp_key_cstr(&tk, ids[i]);
		k = dp_key_val(&tk);
		if (seen || tk.overflow || !dp_query_get(q, DP_DB_TASKS, &k, &v))
			continue;
		rc = load_task(q, d, &k, &v, key.n, &d->tasks[d->ntasks]);
		d->ntasks++; /* freed with d, loaded or not */
		if (rc)
			goto fail;
	}
	/* A read that failed is no missing task. */
	if ((rc = dp_query_check(q)))
		goto fail;
	if (d->ntasks > 1)
		qsort(d->tasks, d->ntasks, sizeof(*d->tasks), cmp_task_id);
	for (size_t t = 0; t < d->ntasks && !rc; t++)
		for (size_t i = 0; i < d->tasks[t].nhyps && !rc; i++)
			rc = add_spec_hyp(d, d->tasks[t].hyps[i].name, d->tasks[t].hyps[i].value.type == QV_TEXT);
	if (rc || (rc = load_tags(q, d, &key)))
		goto fail;
	return 0;
fail:
	dp_qdataflow_free(d);
	return rc == DNNPROV_ENOMEM ? dp_error(rc, "out of memory loading %s", df) : rc;
}

int dp_query_hyps_declared(dp_query *q, const dp_qdataflow *d, bool *all)
{
	/* The indexer marks the dataflow when a task uses a name its
	 * specification does not (the hyperparameter index would miss a name
	 * whose values are all nil or too long to index). */
	(void)q;
	*all = !d->undeclared_hyps;
	return 0;
}

const dp_qtask *dp_qtask_find(const dp_qdataflow *d, const char *id)
{
	size_t lo = 0, hi = d->ntasks;
	/* A binary search: the tasks are sorted by id (the index's order, or
	 * dp_query_load_ids's sort). */
	assert(d->ntasks < 2 || strcmp(d->tasks[0].id, d->tasks[d->ntasks - 1].id) < 0);
	while (lo < hi) { /* tasks come sorted by id from the index */
		size_t mid = (lo + hi) / 2;
		int c = strcmp(d->tasks[mid].id, id);
		if (c == 0)
			return &d->tasks[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static const dp_qv *named(const dp_qhyp *list, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (dp_strcasecmp(list[i].name, name) == 0)
			return &list[i].value;
	return NULL;
}

const dp_qv *dp_qtask_hyp(const dp_qtask *t, const char *name)
{
	return named(t->hyps, t->nhyps, name);
}

const dp_qv *dp_qtask_tag(const dp_qtask *t, const char *key)
{
	return named(t->tags, t->ntags, key);
}

const dp_qv *dp_qtask_fact(const dp_qtask *t, const char *name)
{
	return named(t->facts, t->nfacts, name);
}

const char *dp_qdf_metric(const dp_qdataflow *d, const char *name)
{
	for (size_t i = 0; i < d->nmetrics; i++)
		if (dp_strcasecmp(d->metrics[i], name) == 0)
			return d->metrics[i];
	return NULL;
}

const char *dp_qdf_hyp(const dp_qdataflow *d, const char *name)
{
	for (size_t i = 0; i < d->nhyps; i++)
		if (dp_strcasecmp(d->hyps[i].name, name) == 0)
			return d->hyps[i].name;
	return NULL;
}

int dp_query_summaries_open(dp_query *q, const char *df, const char *metric, dp_scan *sc, size_t *prefix)
{
	dp_key key;
	dp_key_reset(&key);
	dp_key_cstr(&key, df);
	dp_key_cstr(&key, metric);
	*prefix = key.n;
	return dp_scan_open(sc, q->ix, q->txn, DP_DB_SUMMARIES, &key, NULL);
}

/* Whether any task of the dataflow reported the metric, in *found: one key
 * lookup, since the summaries are keyed by dataflow, metric, task. */
static int metric_reported(dp_query *q, const char *df, const char *metric, bool *found)
{
	dp_scan sc;
	MDB_val k, v;
	size_t prefix;
	int rc;

	*found = false;
	if ((rc = dp_query_summaries_open(q, df, metric, &sc, &prefix)))
		return rc;
	rc = dp_scan_next(&sc, &k, &v); /* the first row says it */
	dp_scan_close(&sc);
	if (rc < 0)
		return rc;
	*found = rc == DP_SCAN_ROW;
	return 0;
}

int dp_qdf_main_metric(dp_query *q, const dp_qdataflow *d, const char **out)
{
	char twin[DNNPROV_NAME_MAX + 8];
	bool found;
	int rc;

	*out = NULL;
	if (!d->nmetrics)
		return 0;
	snprintf(twin, sizeof(twin), "val_%s", d->metrics[0]);
	const char *t = strncmp(d->metrics[0], "val_", 4) == 0 ? NULL : dp_qdf_metric(d, twin);
	if (t && ((rc = metric_reported(q, d->name, t, &found)) || found)) {
		*out = t;
		return rc;
	}
	for (size_t i = 0; i < d->nmetrics; i++) {
		if ((rc = metric_reported(q, d->name, d->metrics[i], &found)))
			return rc;
		if (found) {
			*out = d->metrics[i];
			return 0;
		}
	}
	/* Nothing reported yet: the metric the runs will most likely report. */
	*out = t ? t : d->metrics[0];
	return 0;
}

/* Whether the name has `word` as one of its parts: the pieces between
 * underscores, dashes and dots ("val_acc", "top5_acc"), in any case. */
static bool has_part(const char *name, const char *word)
{
	size_t n = strlen(word);
	for (const char *p = name; *p;) {
		size_t len = strcspn(p, "_-.");
		if (len == n && dp_strncasecmp(p, word, n) == 0)
			return true;
		p += len;
		p += strspn(p, "_-.");
	}
	return false;
}

bool dp_metric_bounds(const dp_qdataflow *d, const char *metric, double *low, double *high)
{
	static const char *const unit[] = { "accuracy", "acc", "precision", "recall", "f1", "auc", "iou", "miou", "dice" };
	for (size_t i = 0; d && i < d->model.nranges; i++)
		if (strcmp(d->model.ranges[i].metric, metric) == 0) {
			*low = d->model.ranges[i].low;
			*high = d->model.ranges[i].high;
			return true;
		}
	*low = -INFINITY;
	*high = INFINITY;
	for (size_t i = 0; i < DP_ARRAY_LEN(unit); i++)
		if (has_part(metric, unit[i]) || (i == 0 && strcasestr(metric, unit[i]))) {
			*low = 0;
			*high = 1;
			return false;
		}
	if (dp_metric_lower_is_better(metric))
		*low = 0;
	return false;
}

/* ---- metrics ------------------------------------------------------------------- */

int dp_agg_parse(const char *s, dp_agg *out)
{
	char *end;
	memset(out, 0, sizeof(*out));
	if (strcmp(s, "max") == 0)
		out->kind = AGG_MAX;
	else if (strcmp(s, "min") == 0)
		out->kind = AGG_MIN;
	else if (strcmp(s, "last") == 0)
		out->kind = AGG_LAST;
	else if (strcmp(s, "mean") == 0)
		out->kind = AGG_MEAN;
	else if (strcmp(s, "best") == 0)
		out->kind = AGG_BEST;
	else if (strncmp(s, "at=", 3) == 0 && s[3]) {
		out->kind = AGG_AT;
		out->epoch = strtoll(s + 3, &end, 10);
		if (*end)
			return dp_error_subject(DNNPROV_EQUERY, "agg", "--agg at=EPOCH takes an epoch number, not '%s'", s + 3);
	} else {
		return dp_error_subject(DNNPROV_EQUERY, "agg", "unknown aggregate '%s' (max, min, last, mean, best, at=EPOCH)", s);
	}
	return 0;
}

const char *dp_agg_name(const dp_agg *a, char *buf, size_t n)
{
	static const char *const names[] = { "max", "min", "last", "mean", "best" };
	if (a->kind == AGG_AT)
		snprintf(buf, n, "at%lld", (long long)a->epoch);
	else
		snprintf(buf, n, "%s", names[a->kind]);
	return buf;
}

bool dp_query_summary(dp_query *q, const char *df, const char *task, const char *metric, dp_summary *out)
{
	dp_key key;
	MDB_val k, v;
	dp_key_reset(&key);
	dp_key_cstr(&key, df);
	dp_key_cstr(&key, metric);
	dp_key_cstr(&key, task);
	k = dp_key_val(&key);
	return !key.overflow && dp_query_get(q, DP_DB_SUMMARIES, &k, &v) && dp_summary_unpack(v.mv_data, v.mv_size, out);
}

/* The aggregate `agg` of a summary (AGG_BEST by the metric's name); *e
 * gets the epoch it came from.  QV_NULL when the summary has no such
 * value. */
static dp_qv dp_summary_value(const dp_summary *s, const char *metric, const dp_agg *agg, int64_t *e)
{
	dp_qv r = { 0 };
	dp_agg_kind kind = agg->kind;
	if (kind == AGG_BEST)
		kind = dp_metric_lower_is_better(metric) ? AGG_MIN : AGG_MAX;
	switch (kind) {
	case AGG_MAX:
		if (s->count) {
			r.type = QV_NUM;
			r.num = s->max;
			*e = s->max_epoch;
		}
		break;
	case AGG_MIN:
		if (s->count) {
			r.type = QV_NUM;
			r.num = s->min;
			*e = s->min_epoch;
		}
		break;
	case AGG_MEAN:
		if (s->count) {
			r.type = QV_NUM;
			r.num = s->sum / (double)s->count;
			*e = s->last_epoch;
		}
		break;
	default: /* AGG_LAST: NaN is a value here, the last one reported */
		if (s->count + s->nan_count) {
			r.type = QV_NUM;
			r.num = s->last;
			*e = s->last_epoch;
		}
	}
	return r;
}

/* The mean of a task's metric from its epochs, when the sum the summary
 * keeps overflowed (values near DBL_MAX) although the mean is a double:
 * summed as value / count, so no partial sum passes DBL_MAX. */
static double mean_from_epochs(dp_query *q, const char *df, const char *task, const char *metric, uint64_t count)
{
	dp_qepochs sc;
	dp_epoch_row r;
	dp_key key;
	double mean = 0;
	int rc;

	dp_key_reset(&key);
	dp_key_cstr(&key, df);
	dp_key_cstr(&key, task);
	if ((rc = dp_qepochs_open(&sc, q->ix, q->txn, NULL, &key, false, 0))) {
		dp_query_read_failed(q, rc);
		return NAN;
	}
	while ((rc = dp_qepochs_next(&sc, &r)) == 1) {
		dp_field f = dp_rmap_get(r.metrics, metric);
		if ((f.type == DP_F_INT || f.type == DP_F_REAL) && !isnan(f.d))
			mean += f.d / (double)count;
	}
	dp_qepochs_close(&sc);
	if (rc < 0)
		dp_query_read_failed(q, rc);
	return mean;
}

/* summary_value, with the mean computed again when its sum overflowed. */
dp_qv dp_query_summary_value(dp_query *q, const char *df, const char *task, const dp_summary *s, const char *metric,
			      const dp_agg *agg, int64_t *e)
{
	dp_qv r = dp_summary_value(s, metric, agg, e);
	if (agg->kind == AGG_MEAN && r.type == QV_NUM && !isfinite(r.num) && isfinite(s->min) && isfinite(s->max))
		r.num = mean_from_epochs(q, df, task, metric, s->count);
	return r;
}

/* The id of entry i of an array of ids or of structs holding one. */
static const char *id_at(const char *const *ids, size_t stride, size_t i)
{
	return *(const char *const *)(const void *)((const char *)ids + i * stride);
}

/* The same for the tasks ids[0..n) of dataflow df, sorted as the index
 * sorts them (by bytes), without loading them: entry i's id is at
 * ids + i * stride bytes, so that ids is an array of ids or of structs
 * holding one (stride sizeof(const char *) or the struct's size). */
static int dp_query_metric_ids(dp_query *q, const char *df, const char *const *ids, size_t stride, size_t n,
			const char *metric, const dp_agg *agg, dp_qv *values, int64_t *epochs)
{
	dp_scan sc;
	MDB_val k, v;
	size_t i = 0, prefix;
	int rc;

	memset(values, 0, n * sizeof(*values));
	if (epochs)
		memset(epochs, 0, n * sizeof(*epochs));
	/* A few tasks (the first rows of an answer): a lookup each, rather
	 * than the metric's whole range. */
	if (agg->kind == AGG_AT || n <= 256) {
		for (size_t t = 0; t < n; t++)
			values[t] = dp_query_metric(q, df, id_at(ids, stride, t), metric, agg, epochs ? &epochs[t] : NULL);
		return 0;
	}
	if ((rc = dp_query_summaries_open(q, df, metric, &sc, &prefix)))
		return rc;
	/* Both sides are sorted by task id: a merge, one pass each. */
	while (i < n && (rc = dp_scan_next(&sc, &k, &v)) == DP_SCAN_ROW) {
		dp_summary s;
		int64_t e = 0;
		const char *task = (const char *)k.mv_data + prefix;
		size_t tn = k.mv_size - prefix - 1;
		int cmp = -1;
		while (i < n) {
			const char *id = id_at(ids, stride, i);
			cmp = strncmp(id, task, tn);
			if (cmp == 0 && id[tn] != '\0')
				cmp = 1;
			if (cmp >= 0)
				break;
			i++;
		}
		if (cmp != 0 || !dp_summary_unpack(v.mv_data, v.mv_size, &s))
			continue;
		values[i] = dp_query_summary_value(q, df, id_at(ids, stride, i), &s, metric, agg, &e);
		if (epochs)
			epochs[i] = e;
		i++;
	}
	dp_scan_close(&sc);
	return rc < 0 ? rc : 0;
}

int dp_query_metric_column(dp_query *q, const dp_qdataflow *d, const char *metric, const dp_agg *agg,
			   dp_qv *values, int64_t *epochs)
{
	const char *const *ids = d->ntasks ? (const char *const *)&d->tasks[0].id : NULL;
	return dp_query_metric_ids(q, d->name, ids, sizeof(dp_qtask), d->ntasks, metric, agg, values, epochs);
}

dp_qv dp_query_metric(dp_query *q, const char *df, const char *task, const char *metric, const dp_agg *agg,
		      int64_t *epoch)
{
	dp_qv r = { 0 };
	dp_summary s;
	int64_t e = 0;

	if (agg->kind == AGG_AT) {
		dp_key key;
		dp_qepochs sc;
		dp_epoch_row er;
		int more = 0;
		dp_key_reset(&key);
		dp_key_cstr(&key, df);
		dp_key_cstr(&key, task);
		if (key.overflow || (more = dp_qepochs_open(&sc, q->ix, q->txn, NULL, &key, true, agg->epoch)) != 0) {
			if (!key.overflow)
				dp_query_read_failed(q, more);
		} else {
			/* The values live in the scan's block: read before closing it. */
			if ((more = dp_qepochs_next(&sc, &er)) < 0)
				dp_query_read_failed(q, more);
			dp_field f = more == 1 && er.epoch == agg->epoch ? dp_rmap_get(er.metrics, metric) : (dp_field){ 0 };
			if (f.type == DP_F_INT)
				r = dp_qv_int(f.i);
			else if (f.type == DP_F_REAL)
				r = dp_qv_real(f.d);
			if (f.type == DP_F_INT || f.type == DP_F_REAL)
				e = agg->epoch;
			dp_qepochs_close(&sc);
		}
	} else if (dp_query_summary(q, df, task, metric, &s)) {
		r = dp_query_summary_value(q, df, task, &s, metric, agg, &e);
	}
	if (epoch)
		*epoch = e;
	return r;
}
