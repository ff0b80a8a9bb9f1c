/*
 * ingest.c - turning segment files into index entries, exactly once.
 *
 * BATCHES
 *
 * Records are applied inside one LMDB write transaction per batch.  Task
 * states, metric summaries and dataflow specifications touched by the batch
 * live in write-back caches (one get per task per batch instead of one per
 * record) and are written when the batch commits, together with the
 * progress of every segment read in it.  So the index holds the effects of
 * exactly the frames before each segment's committed offset, whatever
 * instant the process dies: a commit is all of it or none of it.
 *
 * A full map (MDB_MAP_FULL) aborts the batch, doubles the map and starts
 * again from the committed offsets; nothing was visible in between.
 *
 * PROBLEMS
 *
 * A frame the reader rejects, or a record dp_record_parse() rejects or
 * that does not fit the index (an epoch of a task that never began), is
 * stored in the problems database with its offset and told to the report
 * callback; the rest of the segment is indexed.  A torn tail is "not yet":
 * the segment is read again from the same offset when it grows.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "indexer/ingest.h"
#include "indexer/notify.h"
#include "indexer/model.h"
#include "logger/format.h"
#include "logger/mpack.h"
#include "logger/prefetch.h"
#include "logger/scan.h"

#define MAP_FULL_RETRY 1 /* internal: the batch was aborted; start again */

/* ---- small helpers --------------------------------------------------------- */

static char *str_dup(dp_str s)
{
	char *p = malloc((size_t)s.n + 1);
	if (p) {
		memcpy(p, s.p, s.n);
		p[s.n] = '\0';
	}
	return p;
}

static bool str_eq(dp_str s, const char *c)
{
	return strlen(c) == s.n && memcmp(s.p, c, s.n) == 0;
}

static int lmdb_fail(int mrc, const char *what)
{
	if (mrc == MDB_MAP_FULL || mrc == MDB_TXN_FULL)
		return MAP_FULL_RETRY;
	return dp_lmdb_error(mrc, what);
}

static int put(dp_ingest *in, dp_db db, dp_key *k, const void *v, size_t n, unsigned flags)
{
	MDB_val key = dp_key_val(k), val = { n, (void *)v };
	int mrc;
	assert(in->txn); /* every write is in the open batch */
	if (k->overflow)
		return dp_error(DNNPROV_EINVAL, "index key too long");
	mrc = mdb_put(in->txn, in->ix->dbi[db], &key, &val, flags);
	if (mrc == MDB_KEYEXIST)
		return mrc;
	return mrc ? lmdb_fail(mrc, dp_db_names[db]) : 0;
}

/* ---- segments ---------------------------------------------------------------- */

static dp_seg_state *seg_get(dp_ingest *in, const char *rel, bool create)
{
	void **slot = dp_map_slot(&in->segs, rel, strlen(rel), create);
	dp_seg_state *s;
	MDB_txn *txn;
	MDB_val k, v;

	if (!slot)
		return NULL;
	if (*slot)
		return *slot;
	s = calloc(1, sizeof(*s));
	if (!s || !(s->rel = strdup(rel))) {
		free(s);
		return NULL;
	}
	const char *name = strrchr(rel, '/');
	name = name ? name + 1 : rel;
	s->name_crc = dp_crc32c(0, name, strlen(name));
	s->sequence = dp_segment_name_sequence(name);
	s->note = dp_segment_name_is_note(name);
	/* Where the index says we are (the open batch has not touched this
	 * segment yet, so it sees the committed progress). */
	txn = in->txn;
	if (txn || dp_index_read(in->ix, &txn) == 0) {
		k.mv_size = strlen(rel);
		k.mv_data = (void *)rel;
		if (mdb_get(txn, in->ix->dbi[DP_DB_PROGRESS], &k, &v) == 0 && v.mv_size == sizeof(dp_progress)) {
			memcpy(&s->committed, v.mv_data, sizeof(dp_progress));
			s->in_index = true;
		}
		if (txn != in->txn)
			mdb_txn_abort(txn);
	}
	s->pending = s->committed;
	*slot = s;
	in->nsegs++;
	return s;
}

/* Marks a segment's progress for the commit, listing it once: a commit
 * walks the segments its batch read, not every segment known. */
static int seg_touch(dp_ingest *in, dp_seg_state *s)
{
	if (s->touched)
		return 0;
	dp_seg_state **grown = dp_grow(in->touched, in->ntouched, &in->touchedcap, sizeof(*in->touched), 256);
	if (!grown)
		return DNNPROV_ENOMEM;
	in->touched = grown;
	in->touched[in->ntouched++] = s;
	s->touched = true;
	return 0;
}

/* ---- the write-back caches ------------------------------------------------------ */

static void task_free(dp_task_state *t)
{
	if (!t)
		return;
	free(t->host);
	free(t->user);
	free(t->execution);
	free(t->transformation);
	free(t->message);
	dp_buf_free(&t->hyps);
	dp_buf_free(&t->facts);
	dp_buf_free(&t->owner);
	dp_buf_free(&t->refused);
	dp_buf_free(&t->row);
	for (size_t i = 0; i < t->nmetrics; i++)
		free(t->metrics[i].name);
	free(t->metrics);
	free(t->health);
	free(t);
}

static void df_free(dp_df_state *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->nhyps; i++) {
		free(d->hyps[i].name);
		free(d->hyps[i].type);
	}
	free(d->hyps);
	for (size_t i = 0; i < d->nmetrics; i++)
		free(d->metrics[i]);
	free(d->metrics);
	dp_map_free(&d->metric_set);
	for (size_t i = 0; i < d->ntfs; i++) {
		free(d->tfs[i].name);
		dp_buf_free(&d->tfs[i].raw);
	}
	free(d->tfs);
	for (size_t i = 0; i < d->nranges; i++)
		free(d->ranges[i].name);
	free(d->ranges);
	free(d);
}

static void caches_clear(dp_ingest *in)
{
	for (size_t i = 0; i < in->ntouched; i++)
		in->touched[i]->task_cached = NULL, in->touched[i]->df_cached = NULL;
	for (size_t i = 0; i < in->tasks.cap; i++)
		task_free(in->tasks.slots[i].value);
	dp_map_clear(&in->tasks);
	for (size_t i = 0; i < in->summaries.cap; i++)
		free(in->summaries.slots[i].value);
	dp_map_clear(&in->summaries);
	for (size_t i = 0; i < in->dataflows.cap; i++)
		df_free(in->dataflows.slots[i].value);
	dp_map_clear(&in->dataflows);
	dp_map_clear(&in->count_deltas);
}

static char *obj_strdup(const msgpack_object *o)
{
	if (!o || o->type != MSGPACK_OBJECT_STR)
		return NULL;
	return str_dup((dp_str){ o->via.str.ptr, o->via.str.size });
}

static double obj_time(const msgpack_object *o)
{
	double d;
	return o && dp_obj_number(o, &d) ? d : NAN;
}

/* Adds a metric name to the dataflow's list (append-only: epoch blocks
 * name their columns by position in it); *at (optional) gets its position. */
static int df_metric_at(dp_df_state *d, const char *p, size_t n, uint32_t *at)
{
	void **slot = dp_map_slot(&d->metric_set, p, n, false);
	if (slot) {
		if (at)
			*at = (uint32_t)((uintptr_t)*slot - 1);
		return 0;
	}
	char **grown = realloc(d->metrics, (d->nmetrics + 1) * sizeof(*grown));
	if (!grown)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	d->metrics = grown;
	if (!(d->metrics[d->nmetrics] = str_dup((dp_str){ p, (uint32_t)n })))
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	/* Last: a slot marks the metric as listed. */
	if (!(slot = dp_map_slot(&d->metric_set, p, n, true))) {
		free(d->metrics[d->nmetrics]);
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	}
	*slot = (void *)(uintptr_t)(d->nmetrics + 1); /* its position + 1: never NULL */
	if (at)
		*at = (uint32_t)d->nmetrics;
	d->nmetrics++;
	d->dirty = true;
	return 0;
}

static int df_add_metric(dp_df_state *d, const char *p, size_t n)
{
	return df_metric_at(d, p, n, NULL);
}

static int df_add_hyp(dp_df_state *d, const char *name, size_t nn, const char *type, size_t tn)
{
	for (size_t i = 0; i < d->nhyps; i++)
		if (strlen(d->hyps[i].name) == nn && memcmp(d->hyps[i].name, name, nn) == 0)
			return 0;
	void *grown = realloc(d->hyps, (d->nhyps + 1) * sizeof(*d->hyps));
	if (!grown)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	d->hyps = grown;
	d->hyps[d->nhyps].name = str_dup((dp_str){ name, (uint32_t)nn });
	d->hyps[d->nhyps].type = str_dup((dp_str){ type, (uint32_t)tn });
	if (!d->hyps[d->nhyps].name || !d->hyps[d->nhyps].type) {
		free(d->hyps[d->nhyps].name);
		free(d->hyps[d->nhyps].type);
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	}
	d->nhyps++;
	d->dirty = true;
	return 0;
}

/* Adds or replaces a transformation, given as its msgpack object. */
static int df_put_tf(dp_df_state *d, const msgpack_object *tf)
{
	const msgpack_object *name = dp_map_get(tf, "name");
	size_t i;
	for (i = 0; i < d->ntfs; i++)
		if (dp_obj_is_str(name, d->tfs[i].name))
			break;
	if (i == d->ntfs) {
		void *grown = realloc(d->tfs, (d->ntfs + 1) * sizeof(*d->tfs));
		if (!grown)
			return dp_error(DNNPROV_ENOMEM, "out of memory");
		d->tfs = grown;
		memset(&d->tfs[i], 0, sizeof(d->tfs[i]));
		if (!(d->tfs[i].name = obj_strdup(name)))
			return dp_error(DNNPROV_ENOMEM, "out of memory");
		d->ntfs++;
	}
	d->tfs[i].raw.len = 0;
	d->dirty = true;
	return dp_pack_object(&d->tfs[i].raw, tf);
}

/* Sets a metric's range, given as the msgpack [low, high] of a spec. */
static int df_put_range(dp_df_state *d, const msgpack_object *name, const msgpack_object *range)
{
	double low, high;
	size_t i;
	if (name->type != MSGPACK_OBJECT_STR || range->type != MSGPACK_OBJECT_ARRAY || range->via.array.size != 2 ||
	    !dp_obj_number(&range->via.array.ptr[0], &low) || !dp_obj_number(&range->via.array.ptr[1], &high))
		return 0; /* the record's check refused such a range; a stored value is ours */
	for (i = 0; i < d->nranges && !dp_obj_is_str(name, d->ranges[i].name); i++)
		;
	if (i == d->nranges) {
		void *grown = realloc(d->ranges, (d->nranges + 1) * sizeof(*d->ranges));
		if (!grown)
			return dp_error(DNNPROV_ENOMEM, "out of memory");
		d->ranges = grown;
		if (!(d->ranges[i].name = obj_strdup(name)))
			return dp_error(DNNPROV_ENOMEM, "out of memory");
		d->nranges++;
	} else if (d->ranges[i].low == low && d->ranges[i].high == high) {
		return 0;
	}
	d->ranges[i].low = low;
	d->ranges[i].high = high;
	d->dirty = true;
	return 0;
}

/* Merges a spec (from a record or from the stored value) into d. */
static int df_merge_spec(dp_df_state *d, const msgpack_object *hyps, const msgpack_object *metrics,
			 const msgpack_object *adaptation, const msgpack_object *tfs, const msgpack_object *ranges)
{
	int rc;
	for (uint32_t i = 0; ranges && ranges->type == MSGPACK_OBJECT_MAP && i < ranges->via.map.size; i++)
		if ((rc = df_put_range(d, &ranges->via.map.ptr[i].key, &ranges->via.map.ptr[i].val)))
			return rc;
	for (uint32_t i = 0; hyps && hyps->type == MSGPACK_OBJECT_ARRAY && i < hyps->via.array.size; i++) {
		const msgpack_object *n = dp_map_get(&hyps->via.array.ptr[i], "name");
		const msgpack_object *t = dp_map_get(&hyps->via.array.ptr[i], "type");
		if (n && t && n->type == MSGPACK_OBJECT_STR && t->type == MSGPACK_OBJECT_STR &&
		    (rc = df_add_hyp(d, n->via.str.ptr, n->via.str.size, t->via.str.ptr, t->via.str.size)))
			return rc;
	}
	for (uint32_t i = 0; metrics && metrics->type == MSGPACK_OBJECT_ARRAY && i < metrics->via.array.size; i++) {
		const msgpack_object *m = &metrics->via.array.ptr[i];
		if (m->type == MSGPACK_OBJECT_STR && (rc = df_add_metric(d, m->via.str.ptr, m->via.str.size)))
			return rc;
	}
	if (adaptation && adaptation->type == MSGPACK_OBJECT_BOOLEAN && adaptation->via.boolean &&
	    !d->adaptation) {
		d->adaptation = true;
		d->dirty = true;
	}
	for (uint32_t i = 0; tfs && tfs->type == MSGPACK_OBJECT_ARRAY && i < tfs->via.array.size; i++)
		if ((rc = df_put_tf(d, &tfs->via.array.ptr[i])))
			return rc;
	return 0;
}

static int df_get(dp_ingest *in, const char *df, dp_df_state **out)
{
	dp_key k;
	void **slot;
	dp_df_state *d;
	MDB_val key, val;
	int mrc, rc = 0;

	dp_key_reset(&k);
	dp_key_cstr(&k, df);
	slot = dp_map_slot(&in->dataflows, k.b, k.n, true);
	if (!slot)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	if ((*out = *slot))
		return 0;
	d = calloc(1, sizeof(*d));
	if (!d)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	snprintf(d->name, sizeof(d->name), "%s", df);
	d->first_seen = NAN;
	key = dp_key_val(&k);
	mrc = mdb_get(in->txn, in->ix->dbi[DP_DB_DATAFLOWS], &key, &val);
	if (mrc == 0) {
		msgpack_object o;
		if (dp_decode(&in->vdec, val.mv_data, val.mv_size, &o) == 0) {
			d->first_seen = obj_time(dp_map_get(&o, "first_seen"));
			const msgpack_object *u = dp_map_get(&o, "undeclared_hyperparameters");
			d->undeclared = u && u->type == MSGPACK_OBJECT_BOOLEAN && u->via.boolean;
			rc = df_merge_spec(d, dp_map_get(&o, "hyperparameters"), dp_map_get(&o, "metrics"),
					   dp_map_get(&o, "adaptation"), dp_map_get(&o, "transformations"),
					   dp_map_get(&o, "metric_ranges"));
		}
		d->dirty = false;
	} else if (mrc != MDB_NOTFOUND) {
		rc = lmdb_fail(mrc, "dataflows");
	} else {
		d->dirty = true;
	}
	if (rc) {
		df_free(d);
		return rc;
	}
	*slot = d;
	*out = d;
	return 0;
}

static int df_encode(const dp_df_state *d, dp_buf *b)
{
	size_t need = 256;
	unsigned char *p;
	int rc;

	for (size_t i = 0; i < d->nhyps; i++)
		need += 32 + strlen(d->hyps[i].name) + strlen(d->hyps[i].type);
	for (size_t i = 0; i < d->nmetrics; i++)
		need += 8 + strlen(d->metrics[i]);
	for (size_t i = 0; i < d->ntfs; i++)
		need += d->tfs[i].raw.len;
	for (size_t i = 0; i < d->nranges; i++)
		need += 32 + strlen(d->ranges[i].name);
	b->len = 0;
	if ((rc = dp_buf_reserve(b, need)))
		return rc;
	p = (unsigned char *)b->data;
	p = dp_mp_map(p, 5 + (d->undeclared ? 1 : 0) + (d->nranges ? 1 : 0));
	if (d->nranges) {
		p = dp_mp_key(p, "metric_ranges");
		p = dp_mp_map(p, (uint32_t)d->nranges);
		for (size_t i = 0; i < d->nranges; i++) {
			p = dp_mp_str(p, d->ranges[i].name, strlen(d->ranges[i].name));
			p = dp_mp_array(p, 2);
			p = dp_mp_double(p, d->ranges[i].low);
			p = dp_mp_double(p, d->ranges[i].high);
		}
	}
	if (d->undeclared) {
		p = dp_mp_key(p, "undeclared_hyperparameters");
		p = dp_mp_bool(p, true);
	}
	p = dp_mp_key(p, "hyperparameters");
	p = dp_mp_array(p, (uint32_t)d->nhyps);
	for (size_t i = 0; i < d->nhyps; i++)
		p = dp_mp_name_type(p, d->hyps[i].name, d->hyps[i].type);
	p = dp_mp_spec_middle(p, d->metrics, d->nmetrics, d->adaptation, d->ntfs);
	for (size_t i = 0; i < d->ntfs; i++) {
		memcpy(p, d->tfs[i].raw.data, d->tfs[i].raw.len);
		p += d->tfs[i].raw.len;
	}
	p = dp_mp_key(p, "first_seen");
	p = isnan(d->first_seen) ? dp_mp_nil(p) : dp_mp_double(p, d->first_seen);
	b->len = (size_t)(p - (unsigned char *)b->data);
	return 0;
}

static int set_str(char **dst, dp_str s);

/* The pairs of a stored `refused` map, without its header. */
static int refused_load(dp_task_state *t, dp_str map)
{
	dp_mpr r = { (const unsigned char *)map.p, map.n, 0 };
	uint32_t count;
	if (!map.p || !dp_mpr_map(&r, &count))
		return 0;
	t->nrefused = count;
	return dp_buf_append(&t->refused, map.p + r.pos, map.n - r.pos);
}

/* Whether t's refused names hold name. */
static bool refused_has(const dp_task_state *t, const char *name, size_t n)
{
	dp_mpr r = { (const unsigned char *)t->refused.data, t->refused.len, 0 };
	for (uint32_t i = 0; i < t->nrefused; i++) {
		const char *k;
		uint32_t kn;
		if (!dp_mpr_str(&r, &k, &kn) || !dp_mpr_skip(&r))
			return false;
		if (kn == n && memcmp(k, name, n) == 0)
			return true;
	}
	return false;
}

static int task_get(dp_ingest *in, const char *df, const char *task, dp_task_state **out)
{
	dp_key k;
	void **slot;
	dp_task_state *t;
	MDB_val key, val;
	int mrc;

	dp_key_reset(&k);
	dp_key_cstr(&k, df);
	dp_key_cstr(&k, task);
	slot = dp_map_slot(&in->tasks, k.b, k.n, true);
	if (!slot)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	if ((*out = *slot))
		return 0;
	t = calloc(1, sizeof(*t));
	if (!t)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	snprintf(t->df, sizeof(t->df), "%s", df);
	snprintf(t->task, sizeof(t->task), "%s", task);
	t->start = t->end = t->last = t->attempt_start = t->attempt_mono = NAN;
	t->active_before = 0;
	key = dp_key_val(&k);
	mrc = mdb_get(in->txn, in->ix->dbi[DP_DB_TASKS], &key, &val);
	if (mrc == 0) {
		dp_task_fields tf;
		if (dp_task_fields_parse(val.mv_data, val.mv_size, &tf) == 0) {
			t->begun = true;
			t->stored = true;
			memcpy(t->status, tf.status, sizeof(t->status));
			t->start = tf.start;
			t->end = tf.end;
			t->last = tf.last;
			t->pid = tf.pid;
			t->epochs = tf.epochs;
			t->attempts = tf.attempts;
			t->has_last_epoch = tf.has_last_epoch;
			t->last_epoch = tf.last_epoch;
			t->attempt_start = tf.attempt_start;
			t->attempt_mono = tf.attempt_mono;
			t->attempt_boot = tf.attempt_boot;
			t->active_before = isnan(tf.active_before) ? 0 : tf.active_before;
			t->was_running = strcmp(tf.status, "RUNNING") == 0;
			memcpy(t->run, tf.run, sizeof(t->run));
			if (set_str(&t->host, tf.host) || set_str(&t->user, tf.user) ||
			    set_str(&t->execution, tf.execution) || set_str(&t->transformation, tf.transformation) ||
			    set_str(&t->message, tf.message) || (tf.hyps.p && dp_buf_append(&t->hyps, tf.hyps.p, tf.hyps.n)) ||
			    (tf.owner_map.p && dp_buf_append(&t->owner, tf.owner_map.p, tf.owner_map.n)) ||
			    (tf.facts.p && dp_buf_append(&t->facts, tf.facts.p, tf.facts.n)) ||
			    refused_load(t, tf.refused)) {
				task_free(t);
				return dp_error(DNNPROV_ENOMEM, "out of memory");
			}
		}
	} else if (mrc != MDB_NOTFOUND) {
		task_free(t);
		return lmdb_fail(mrc, "tasks");
	}
	*slot = t;
	*out = t;
	return 0;
}

static size_t cstr_size(const char *s)
{
	return s ? DP_MP_STR_OVERHEAD + strlen(s) : 1;
}

static unsigned char *mp_cstr_or_nil(unsigned char *p, const char *s)
{
	return s ? dp_mp_str(p, s, strlen(s)) : dp_mp_nil(p);
}

static unsigned char *mp_time(unsigned char *p, double t)
{
	return isnan(t) ? dp_mp_nil(p) : dp_mp_double(p, t);
}

static int task_encode(const dp_task_state *t, dp_buf *b)
{
	size_t need = 384 + cstr_size(t->host) + cstr_size(t->user) + cstr_size(t->execution) +
		      cstr_size(t->transformation) + cstr_size(t->message) + t->hyps.len + t->owner.len +
		      t->facts.len + t->refused.len;
	unsigned char *p;
	int rc;

	b->len = 0;
	if ((rc = dp_buf_reserve(b, need)))
		return rc;
	p = (unsigned char *)b->data;
	p = dp_mp_map(p, 20 + (t->facts.len ? 1 : 0) + (t->nrefused ? 1 : 0));
	p = dp_mp_key(p, "status");
	p = dp_mp_str(p, t->status, strlen(t->status));
	p = dp_mp_key(p, "start");
	p = mp_time(p, t->start);
	p = dp_mp_key(p, "end");
	p = mp_time(p, t->end);
	p = dp_mp_key(p, "last");
	p = mp_time(p, t->last);
	p = dp_mp_key(p, "host");
	p = mp_cstr_or_nil(p, t->host);
	p = dp_mp_key(p, "user");
	p = mp_cstr_or_nil(p, t->user);
	p = dp_mp_key(p, "pid");
	p = dp_mp_int(p, t->pid);
	p = dp_mp_key(p, "execution");
	p = mp_cstr_or_nil(p, t->execution);
	p = dp_mp_key(p, "transformation");
	p = mp_cstr_or_nil(p, t->transformation);
	p = dp_mp_key(p, "message");
	p = mp_cstr_or_nil(p, t->message);
	p = dp_mp_key(p, "epochs");
	p = dp_mp_uint(p, t->epochs);
	p = dp_mp_key(p, "last_epoch");
	p = t->has_last_epoch ? dp_mp_int(p, t->last_epoch) : dp_mp_nil(p);
	p = dp_mp_key(p, "attempts");
	p = dp_mp_uint(p, t->attempts);
	p = dp_mp_key(p, "run");
	p = t->run[0] ? dp_mp_str(p, t->run, strlen(t->run)) : dp_mp_nil(p);
	p = dp_mp_key(p, "attempt_start");
	p = mp_time(p, t->attempt_start);
	p = dp_mp_key(p, "active_before");
	p = dp_mp_double(p, t->active_before);
	p = dp_mp_key(p, "attempt_mono");
	p = mp_time(p, t->attempt_mono);
	p = dp_mp_key(p, "attempt_boot");
	p = dp_mp_uint(p, t->attempt_boot);
	p = dp_mp_key(p, "owner");
	if (t->owner.len) {
		memcpy(p, t->owner.data, t->owner.len);
		p += t->owner.len;
	} else {
		p = dp_mp_nil(p);
	}
	p = dp_mp_key(p, "hyperparameters");
	if (t->hyps.len) {
		memcpy(p, t->hyps.data, t->hyps.len);
		p += t->hyps.len;
	} else {
		p = dp_mp_map(p, 0);
	}
	if (t->facts.len) {
		p = dp_mp_key(p, "facts");
		memcpy(p, t->facts.data, t->facts.len);
		p += t->facts.len;
	}
	if (t->nrefused) {
		p = dp_mp_key(p, "refused");
		p = dp_mp_map(p, t->nrefused);
		memcpy(p, t->refused.data, t->refused.len);
		p += t->refused.len;
	}
	b->len = (size_t)(p - (unsigned char *)b->data);
	return 0;
}

static void summary_add(dp_summary *s, int64_t epoch, double v)
{
	if (isnan(v)) {
		s->nan_count++;
	} else {
		if (s->count == 0 || v < s->min || (v == s->min && epoch < s->min_epoch)) {
			s->min = v;
			s->min_epoch = epoch;
		}
		if (s->count == 0 || v > s->max || (v == s->max && epoch < s->max_epoch)) {
			s->max = v;
			s->max_epoch = epoch;
		}
		s->sum += v;
		s->count++;
		assert(s->min <= v && v <= s->max);
	}
	if (s->count + s->nan_count == 1 || epoch >= s->last_epoch) {
		s->last = v;
		s->last_epoch = epoch;
	}
}

static int summary_get(dp_ingest *in, dp_key *k, dp_summary_state **out)
{
	void **slot = dp_map_slot(&in->summaries, k->b, k->n, true);
	dp_summary_state *s;
	MDB_val key, val;
	int mrc;

	if (!slot)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	if ((*out = *slot))
		return 0;
	s = calloc(1, sizeof(*s));
	if (!s)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	key = dp_key_val(k);
	mrc = mdb_get(in->txn, in->ix->dbi[DP_DB_SUMMARIES], &key, &val);
	if (mrc == 0 && dp_summary_unpack(val.mv_data, val.mv_size, &s->s)) {
		s->stored = s->s;
		s->has_stored = true;
	} else if (mrc != 0 && mrc != MDB_NOTFOUND) {
		free(s);
		return lmdb_fail(mrc, "summaries");
	}
	*slot = s;
	*out = s;
	return 0;
}

static int count_delta(dp_ingest *in, const dp_key *k, intptr_t delta);

/* ---- hyperparameter index -------------------------------------------------------- */

static int hyp_index_update(dp_ingest *in, const char *df, const char *task, const msgpack_object *map,
			    bool add)
{
	for (uint32_t i = 0; map && map->type == MSGPACK_OBJECT_MAP && i < map->via.map.size; i++) {
		const msgpack_object *n = &map->via.map.ptr[i].key, *v = &map->via.map.ptr[i].val;
		dp_key k;
		double d;
		int mrc;

		if (n->type != MSGPACK_OBJECT_STR)
			continue;
		dp_key_reset(&k);
		dp_key_cstr(&k, df);
		dp_key_str(&k, n->via.str.ptr, n->via.str.size);
		if (dp_obj_number(v, &d)) {
			unsigned char t = 1;
			k.b[k.n < DP_KEY_MAX ? k.n : 0] = t;
			k.n += k.n < DP_KEY_MAX;
			dp_key_double(&k, d);
		} else if (v->type == MSGPACK_OBJECT_STR) {
			if (k.n < DP_KEY_MAX)
				k.b[k.n++] = 2;
			dp_key_str(&k, v->via.str.ptr, v->via.str.size);
		} else {
			continue;
		}
		size_t value_end = k.n;
		dp_key_cstr(&k, task);
		if (k.overflow)
			continue; /* a very long text value: found by scanning instead */
		MDB_val key = dp_key_val(&k), val = { 0, "" };
		mrc = add ? mdb_put(in->txn, in->ix->dbi[DP_DB_HYP_INDEX], &key, &val, MDB_NOOVERWRITE)
			  : mdb_del(in->txn, in->ix->dbi[DP_DB_HYP_INDEX], &key, NULL);
		if (mrc == MDB_KEYEXIST || mrc == MDB_NOTFOUND)
			continue; /* a name the begin gave twice: counted once */
		if (mrc)
			return lmdb_fail(mrc, "hyp_index");
		/* counts: the same key without the task */
		k.n = value_end;
		int rc = count_delta(in, &k, add ? 1 : -1);
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- the health rules (health.h) --------------------------------------------------- */

/* The task's health state, read from the index at its first use in the
 * batch. */
static int health_get(dp_ingest *in, dp_task_state *t, dp_health **out)
{
	dp_key k;
	MDB_val key, val;
	if ((*out = t->health))
		return 0;
	if (!(t->health = malloc(sizeof(*t->health))))
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	dp_health_init(t->health);
	dp_key_reset(&k);
	dp_key_cstr(&k, t->df);
	dp_key_cstr(&k, t->task);
	key = dp_key_val(&k);
	int mrc = mdb_get(in->txn, in->ix->dbi[DP_DB_HEALTH], &key, &val);
	if (mrc == 0)
		dp_health_unpack(val.mv_data, val.mv_size, t->health);
	else if (mrc != MDB_NOTFOUND)
		return lmdb_fail(mrc, "health");
	*out = t->health;
	return 0;
}

/* The adaptations of t after epoch `after` up to `upto`, as a msgpack
 * array of {epoch, hyperparameter, old, new}: what was tried during a
 * plateau. */
static int health_adaptations(dp_ingest *in, const dp_task_state *t, int64_t after, int64_t upto, dp_buf *out)
{
	dp_scan sc;
	dp_key prefix, from;
	MDB_val k, v;
	dp_buf items = { 0 };
	uint32_t n = 0;
	int r, rc = 0;

	dp_key_reset(&prefix);
	dp_key_cstr(&prefix, t->df);
	dp_key_cstr(&prefix, t->task);
	from = prefix;
	dp_key_i64(&from, after == INT64_MAX ? after : after + 1);
	if ((rc = dp_scan_open(&sc, in->ix, in->txn, DP_DB_ADAPTATIONS, &prefix, &from)))
		return rc;
	while (rc == 0 && (r = dp_scan_next(&sc, &k, &v)) == DP_SCAN_ROW) {
		size_t pos = prefix.n;
		int64_t epoch;
		msgpack_object o;
		if (!dp_key_get_i64(k.mv_data, k.mv_size, &pos, &epoch) || epoch > upto)
			break;
		if (dp_decode(&in->vdec, v.mv_data, v.mv_size, &o) != 0)
			continue;
		unsigned char hdr[16], *p = dp_mp_map(hdr, 4);
		p = dp_mp_key(p, "epoch");
		p = dp_mp_int(p, epoch);
		rc = dp_buf_append(&items, hdr, (size_t)(p - hdr));
		static const char *const keys[] = { "hyperparameter", "old", "new" };
		for (size_t i = 0; i < DP_ARRAY_LEN(keys) && !rc; i++) {
			const msgpack_object *val = dp_map_get(&o, keys[i]);
			msgpack_object nil = { .type = MSGPACK_OBJECT_NIL };
			p = dp_mp_str(hdr, keys[i], strlen(keys[i]));
			if (!(rc = dp_buf_append(&items, hdr, (size_t)(p - hdr))))
				rc = dp_pack_object(&items, val ? val : &nil);
		}
		n++;
	}
	dp_scan_close(&sc);
	if (rc == 0 && r < 0)
		rc = r;
	unsigned char hdr[8], *p = dp_mp_array(hdr, n);
	out->len = 0;
	if (rc == 0 && !(rc = dp_buf_append(out, hdr, (size_t)(p - hdr))) && items.len)
		rc = dp_buf_append(out, items.data, items.len);
	dp_buf_free(&items);
	return rc;
}

/* The next number of the outbox, read from meta at the first event. */
static int outbox_number(dp_ingest *in, uint64_t *n)
{
	if (in->outbox_next == UINT64_MAX) {
		MDB_val k = { 11, "outbox_next" }, v;
		int mrc = mdb_get(in->txn, in->ix->dbi[DP_DB_META], &k, &v);
		if (mrc && mrc != MDB_NOTFOUND)
			return lmdb_fail(mrc, "meta");
		in->outbox_next = 1;
		if (mrc == 0 && v.mv_size == 8)
			memcpy(&in->outbox_next, v.mv_data, 8);
		in->outbox_committed = in->outbox_next;
	}
	*n = in->outbox_next++;
	return 0;
}

/* Stores an event of task t (and queues its notification). */
static int health_store(dp_ingest *in, dp_task_state *t, const dp_event *e)
{
	dp_buf adapt = { 0 };
	dp_key k;
	int rc = 0;

	if (e->rule == DP_RULE_PLATEAU)
		rc = health_adaptations(in, t, e->since, e->epoch, &adapt);
	if (!rc)
		rc = dp_event_encode(e, &adapt, &in->event_val);
	dp_buf_free(&adapt);
	dp_key_reset(&k);
	dp_key_cstr(&k, t->df);
	dp_key_cstr(&k, t->task);
	dp_key_cstr(&k, dp_rule_names[e->rule]);
	dp_key_i64(&k, e->epoch);
	if (rc || (rc = put(in, DP_DB_EVENTS, &k, in->event_val.data, in->event_val.len, 0)))
		return rc;
	in->stats.events++;
	if (!in->opts.notify)
		return 0;
	uint64_t n = 0;
	dp_key q;
	MDB_stat st;
	if (mdb_stat(in->txn, in->ix->dbi[DP_DB_OUTBOX], &st) == 0 && st.ms_entries >= in->rules.queue_max) {
		in->stats.unqueued++; /* stored, and told; not queued */
		return 0;
	}
	if ((rc = outbox_number(in, &n)))
		return rc;
	dp_key_reset(&q);
	dp_key_u64(&q, n);
	return put(in, DP_DB_OUTBOX, &q, k.b, k.n, MDB_APPEND);
}

/* An epoch record of t: the rules applied, what began stored. */
static int health_step(dp_ingest *in, dp_task_state *t, const dp_record *r, double time)
{
	dp_event ev[DP_HEALTH_EVENTS_MAX];
	dp_health *h;
	int rc = health_get(in, t, &h);
	if (rc)
		return rc;
	size_t n = dp_health_epoch(h, &in->rules, r->u.epoch.epoch, time, r->u.epoch.metrics, ev);
	t->health_dirty = true;
	for (size_t i = 0; i < n && !rc; i++)
		rc = health_store(in, t, &ev[i]);
	return rc;
}

/* With the batch: the rules in force (once), where the outbox stands, and
 * the notifications delivered leave it. */
static int health_meta(dp_ingest *in)
{
	int mrc = 0;
	for (size_t i = 0; i < in->ndelivered && mrc == 0; i++) {
		unsigned char b[8];
		dp_put_be64(b, in->delivered[i]);
		MDB_val k = { 8, b };
		mrc = mdb_del(in->txn, in->ix->dbi[DP_DB_OUTBOX], &k, NULL);
		mrc = mrc == MDB_NOTFOUND ? 0 : mrc;
	}
	if (!in->rules_stored) {
		int rc = dp_rules_encode(&in->rules, &in->event_val);
		if (rc)
			return rc;
		MDB_val k = { 5, "rules" }, v = { in->event_val.len, in->event_val.data };
		mrc = mdb_put(in->txn, in->ix->dbi[DP_DB_META], &k, &v, 0);
	}
	if (mrc == 0 && in->outbox_next != in->outbox_committed) {
		MDB_val k = { 11, "outbox_next" }, v = { 8, &in->outbox_next };
		mrc = mdb_put(in->txn, in->ix->dbi[DP_DB_META], &k, &v, 0);
	}
	return mrc ? lmdb_fail(mrc, "meta") : 0;
}

/* ---- notifications (notify.h) ------------------------------------------------------ */

static int begin_batch(dp_ingest *in);

/* Keeps the numbers the notifier delivered, to delete with the next commit. */
static int take_delivered(dp_ingest *in)
{
	uint64_t got[DP_NOTIFY_HELD];
	size_t n = dp_notifier_delivered(in->opts.notifier, got, DP_NOTIFY_HELD);
	if (n == 0)
		return 0; /* in->delivered may still be NULL: no memcpy from or to it */
	if (in->ndelivered + n > in->capdelivered) {
		size_t cap = (in->ndelivered + n) * 2;
		uint64_t *g = realloc(in->delivered, cap * sizeof(*g));
		if (!g)
			return dp_error(DNNPROV_ENOMEM, "out of memory");
		in->delivered = g;
		in->capdelivered = cap;
	}
	memcpy(in->delivered + in->ndelivered, got, n * sizeof(*got));
	in->ndelivered += n;
	return 0;
}

/* Hands one outbox entry (its number, the key of its event) to the
 * notifier: false when the notifier holds all it can. */
static bool hand_over(dp_ingest *in, MDB_txn *txn, uint64_t number, const MDB_val *evkey, dp_buf *json, dp_buf *id)
{
	MDB_val k = *evkey, v;
	size_t pos = 0;
	const char *df, *task;
	size_t dfn, tn;
	dp_event_fields e;
	if (mdb_get(txn, in->ix->dbi[DP_DB_EVENTS], &k, &v) != 0 ||
	    !dp_key_get_str(k.mv_data, k.mv_size, &pos, &df, &dfn) || !dp_key_get_str(k.mv_data, k.mv_size, &pos, &task, &tn) ||
	    dp_event_fields_parse(v.mv_data, v.mv_size, &e) != 0) {
		/* Its task was deleted since: nothing to tell. */
		if (in->ndelivered < in->capdelivered)
			in->delivered[in->ndelivered++] = number;
		return true;
	}
	json->len = id->len = 0;
	char dfz[DNNPROV_NAME_MAX + 1];
	snprintf(dfz, sizeof(dfz), "%.*s", (int)dfn, df);
	if (dp_event_json(json, df, dfn, task, tn, &e) || dp_event_id(id, df, dfn, task, tn, e.rule, e.epoch) ||
	    !dp_buf_cstr(id))
		return false;
	return dp_notifier_offer(in->opts.notifier, number, dfz, dp_buf_cstr(id), json->data, json->len);
}

int dp_ingest_notify(dp_ingest *in, uint64_t *waiting)
{
	MDB_txn *txn;
	dp_scan sc;
	dp_key from, all;
	MDB_val k, v;
	dp_buf json = { 0 }, id = { 0 };
	int rc, r;

	if (waiting)
		*waiting = 0;
	if (!in->opts.notifier)
		return 0;
	if ((rc = take_delivered(in)))
		return rc;
	if (in->ndelivered + DP_NOTIFY_HELD > in->capdelivered) {
		/* Room for the entries of deleted tasks hand_over skips. */
		size_t cap = in->ndelivered + 2 * DP_NOTIFY_HELD;
		uint64_t *g = realloc(in->delivered, cap * sizeof(*g));
		if (!g)
			return dp_error(DNNPROV_ENOMEM, "out of memory");
		in->delivered = g;
		in->capdelivered = cap;
	}
	if ((rc = dp_index_read(in->ix, &txn)))
		return rc;
	dp_key_reset(&all);
	dp_key_reset(&from);
	dp_key_u64(&from, in->handed + 1);
	if ((rc = dp_scan_open(&sc, in->ix, txn, DP_DB_OUTBOX, &all, &from))) {
		mdb_txn_abort(txn);
		return rc;
	}
	while ((r = dp_scan_next(&sc, &k, &v)) == DP_SCAN_ROW) {
		if (k.mv_size != 8)
			continue;
		uint64_t number = dp_get_be64(k.mv_data);
		if (!hand_over(in, txn, number, &v, &json, &id))
			break; /* the notifier is full: the rest at the next call */
		in->handed = number;
	}
	dp_scan_close(&sc);
	MDB_stat st;
	if (waiting && mdb_stat(txn, in->ix->dbi[DP_DB_OUTBOX], &st) == 0)
		*waiting = st.ms_entries;
	mdb_txn_abort(txn);
	dp_buf_free(&json);
	dp_buf_free(&id);
	if (r < 0)
		return r;
	return in->ndelivered && !in->txn ? begin_batch(in) : 0;
}

/* ---- applying records ------------------------------------------------------------- */

/* The context of the frame being applied. */
typedef struct frame_ctx {
	dp_seg_state *seg;
	uint64_t offset;
	const unsigned char *payload;
	uint32_t length;
} frame_ctx;

static int schema_problem(dp_ingest *in, frame_ctx *f, const char *why);

/* The states of the frame's task and dataflow: looked up once per segment
 * and batch (caches_clear forgets them with the states). */
static int seg_task(dp_ingest *in, frame_ctx *f, dp_task_state **t)
{
	int rc = 0;
	if (!f->seg->task_cached && !(rc = task_get(in, f->seg->df, f->seg->task, &f->seg->task_cached)))
		assert(f->seg->touched); /* listed: its cache is forgotten with the batch's */
	*t = f->seg->task_cached;
	return rc;
}

static int seg_df(dp_ingest *in, frame_ctx *f, dp_df_state **d)
{
	int rc = f->seg->df_cached ? 0 : df_get(in, f->seg->df, &f->seg->df_cached);
	*d = f->seg->df_cached;
	return rc;
}

static int put_problem(dp_ingest *in, dp_seg_state *s, uint64_t offset, uint64_t length, uint32_t kind,
		       const char *why, uint64_t skipped, bool is_new);

/* The record's position in its task: segment sequence, name, offset. */
static void record_position(dp_key *k, frame_ctx *f)
{
	unsigned char b[8];
	dp_put_be32(b, f->seg->sequence);
	dp_put_be32(b + 4, f->seg->name_crc);
	if (k->n + 8 <= DP_KEY_MAX) {
		memcpy(k->b + k->n, b, 8);
		k->n += 8;
	} else {
		k->overflow = true;
	}
	dp_key_u64(k, f->offset);
}

/* The key (df, task, position) of the record f holds. */
static void task_position_key(dp_key *k, frame_ctx *f)
{
	dp_key_task(k, f->seg->df, f->seg->task);
	record_position(k, f);
}

/* When a record of t's current attempt happened, as the task's times
 * (last, end) count it: the attempt's begin plus the time since boot
 * between the two records, when both say it and were written in one boot,
 * so that a wall clock stepped within the attempt moves nothing; else the
 * record's wall time.  Never before the attempt's begin either way: no
 * duration is negative (docs/RUNS.md). */
static double record_time(const dp_task_state *t, const frame_ctx *f, const dp_record *r)
{
	double at = r->time;
	if (!isnan(r->mono) && !isnan(t->attempt_mono) && t->attempt_boot && f->seg->boot == t->attempt_boot &&
	    r->mono >= t->attempt_mono && !isnan(t->attempt_start))
		at = t->attempt_start + (r->mono - t->attempt_mono);
	return !isnan(t->attempt_start) && !(at >= t->attempt_start) ? t->attempt_start : at;
}

/* A record applied to t: `last` is the time of the causally last record,
 * not the largest time (a clock stepped forward and back must not leave
 * the task looking active in the future). */
static void touch(dp_task_state *t, double time)
{
	t->last = time;
	t->dirty = true;
}

/* A training record is a sign of life: a task shown LOST (its owner looked
 * gone, or it was silent too long) is RUNNING again. */
static void training_record(dp_task_state *t, double time)
{
	if (strcmp(t->status, "LOST") == 0)
		snprintf(t->status, sizeof(t->status), "RUNNING");
	touch(t, time);
}

/* ---- two runs of one task id (docs/RUNS.md) --------------------------------------- */

/* Two writers that used one task id (two hosts, two log folders) each wrote
 * a run of their own, named in every segment's header.  The task id
 * belongs to the run with the smallest run id, whatever order the segments
 * come in: a rebuild, a follower and a stream indexer each reach the same
 * index.  The other run's segments are each one problem (DP_PROGRESS_
 * CONFLICT: offset 0, everything read of the segment) and nothing of them is
 * indexed but their specification records, which describe the dataflow.
 * When the winner's first begin comes after the loser was indexed, the
 * loser's data is dropped and its segments become problems in the batch
 * that applies the begin: no reader sees neither or both. */

static int del_prefix(dp_ingest *in, dp_db db, const void *prefix, size_t n);

/* Deletes every problem entry of a segment. */
static int drop_segment_problems(dp_ingest *in, const dp_seg_state *s)
{
	dp_key k;
	dp_key_reset(&k);
	dp_key_cstr(&k, s->rel);
	return k.overflow ? 0 : del_prefix(in, DP_DB_PROBLEMS, k.b, k.n);
}

/* Writes the one problem of a segment of a run that lost task id `task` to
 * run `winner`, over everything read of it: told the first time.  It names
 * the winner only: what it says must not depend on which segments this
 * process has read (a follower restarted knows its segments' runs only
 * when it reads them again). */
static int conflict_update(dp_ingest *in, dp_seg_state *s, const char *task, const char *winner)
{
	dp_problem_entry e = { .kind = DP_PROBLEM_SCHEMA, .length = s->pending.offset };
	dp_key k;
	MDB_val key, val;
	snprintf(e.why, sizeof(e.why), "another run of task '%.24s' (kept: run %.16s); not indexed", task, winner);
	dp_key_reset(&k);
	dp_key_cstr(&k, s->rel);
	dp_key_u64(&k, 0);
	if (k.overflow)
		return dp_error(DNNPROV_EINVAL, "index key too long");
	key = dp_key_val(&k);
	int mrc = mdb_get(in->txn, in->ix->dbi[DP_DB_PROBLEMS], &key, &val);
	if (mrc && mrc != MDB_NOTFOUND)
		return lmdb_fail(mrc, "problems");
	int rc = put(in, DP_DB_PROBLEMS, &k, &e, sizeof(e), 0);
	if (rc)
		return rc;
	s->pending.records = 0;
	s->pending.problems = 1;
	s->pending.bytes_skipped = s->pending.offset;
	if (mrc == MDB_NOTFOUND) {
		in->stats.problems++;
		if (in->opts.report)
			in->opts.report(in->opts.report_ctx, s->rel, 0, e.why);
	}
	return 0;
}

/* Marks s as a segment of a losing run: what it had stored goes, and what
 * is read of it from now on is its one problem. */
static int conflict_mark(dp_ingest *in, dp_seg_state *s)
{
	s->pending.flags = (s->pending.flags | DP_PROGRESS_CONFLICT) & ~DP_PROGRESS_NAME_TOLD;
	return drop_segment_problems(in, s);
}

/* After a read of a segment of a losing run: its problem covers it all. */
static int conflict_read(dp_ingest *in, dp_seg_state *s)
{
	dp_task_state *t = s->task_cached;
	int rc = t ? 0 : task_get(in, s->df, s->task, &t);
	return rc ? rc : conflict_update(in, s, s->task, t->run[0] ? t->run : "?");
}

static int flush_caches(dp_ingest *in);
static int drop_task_data(dp_ingest *in, const char *df, const char *task);

/* The first begin of run f->seg->run, whose id is smaller than that of the
 * run the task holds: the task's data goes, every segment that gave it
 * becomes a problem (and those that lost before name their new winner),
 * and *t is the task afresh, not begun. */
static int replace_run(dp_ingest *in, frame_ctx *f, dp_task_state **t)
{
	dp_seg_state *s = f->seg;
	dp_path_list rels = { 0 };
	char prefix[2 * DNNPROV_NAME_MAX + 3];
	dp_scan sc;
	dp_key p;
	MDB_val k, v;
	int rc, r;

	/* The caches hold the batch's changes of the task (and of others):
	 * written into the transaction first, so that what follows reads and
	 * drops one consistent state. */
	if ((rc = flush_caches(in)))
		return rc;
	caches_clear(in);
	if ((rc = drop_task_data(in, s->df, s->task)))
		return rc;
	int n = snprintf(prefix, sizeof(prefix), "%s/%s/", s->df, s->task);
	dp_key_reset(&p);
	memcpy(p.b, prefix, (size_t)n);
	p.n = (size_t)n;
	if ((rc = dp_scan_open(&sc, in->ix, in->txn, DP_DB_PROGRESS, &p, NULL)))
		return rc;
	while ((r = dp_scan_next(&sc, &k, &v)) == DP_SCAN_ROW && rc == 0) {
		char rel[4096];
		snprintf(rel, sizeof(rel), "%.*s", (int)k.mv_size, (const char *)k.mv_data);
		rc = dp_path_list_add(&rels, rel);
	}
	dp_scan_close(&sc);
	if (!rc && r < 0)
		rc = r;
	for (size_t i = 0; i < rels.n && !rc; i++) {
		dp_seg_state *g = seg_get(in, rels.paths[i], true);
		if (!g) {
			rc = dp_error(DNNPROV_ENOMEM, "out of memory");
			break;
		}
		bool lost = g->pending.flags & DP_PROGRESS_CONFLICT;
		if (g == s || (!lost && g->pending.records == 0))
			continue; /* nothing of it was the task's: judged when it has records */
		if (!(rc = seg_touch(in, g)) && !lost)
			rc = conflict_mark(in, g);
		if (!rc)
			rc = conflict_update(in, g, s->task, s->run);
	}
	dp_path_list_free(&rels);
	if (rc)
		return rc;
	s->task_cached = NULL;
	return seg_task(in, f, t);
}

/* Whether the record of f belongs to the task *t holds: 0 when it does (or
 * when its run took the task id, *t then the task afresh), 1 when it is of
 * a run that does not hold the task id (the segment becomes a problem), or
 * an error.  `first_begin`: the record is its run's first begin, the one
 * record that takes a task id over; a note segment never does. */
static int other_run(dp_ingest *in, frame_ctx *f, dp_task_state **t, bool first_begin)
{
	dp_seg_state *s = f->seg;
	if (!s->run[0] || !(*t)->run[0] || strcmp(s->run, (*t)->run) == 0)
		return 0;
	if (first_begin && !s->note && strcmp(s->run, (*t)->run) < 0)
		return replace_run(in, f, t);
	int rc = conflict_mark(in, s);
	return rc ? rc : 1;
}

static int apply_spec(dp_ingest *in, frame_ctx *f, const dp_record *r)
{
	dp_df_state *d;
	int rc;
	if (!str_eq(r->u.spec.dataflow, f->seg->df))
		return schema_problem(in, f, "spec of another dataflow than its segment's");
	if ((rc = seg_df(in, f, &d)))
		return rc;
	if (isnan(d->first_seen) || r->time < d->first_seen) {
		d->first_seen = r->time;
		d->dirty = true;
	}
	return df_merge_spec(d, r->u.spec.hyperparameters, r->u.spec.metrics,
			     dp_map_get(r->root, "adaptation"), r->u.spec.transformations, r->u.spec.metric_ranges);
}

static int set_str(char **dst, dp_str s)
{
	char *p = s.p ? str_dup(s) : NULL;
	if (s.p && !p)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	free(*dst);
	*dst = p;
	return 0;
}

/* A begin: the first makes the task, a later one (a resume, or a version 1
 * begin, which resumed) starts a new attempt of it.  The hyperparameters
 * are the first begin's: what a resume changed comes as adaptations. */
static int apply_begin(dp_ingest *in, frame_ctx *f, const dp_record *r)
{
	dp_task_state *t;
	dp_df_state *d;
	int rc;

	if (!str_eq(r->u.begin.task, f->seg->task))
		return schema_problem(in, f, "begin of another task than its segment's");
	if ((rc = seg_task(in, f, &t)))
		return rc;
	/* A first begin (version 2) of another run may take the task id over;
	 * the caches are then new, so the dataflow's state is looked up after. */
	bool first = r->u.begin.attempt == 1 && !r->u.begin.resume;
	if (t->begun && (rc = other_run(in, f, &t, first)))
		return rc > 0 ? 0 : rc;
	if ((rc = seg_df(in, f, &d)))
		return rc;
	if (isnan(d->first_seen)) {
		d->first_seen = r->time;
		d->dirty = true;
	}
	double begins = r->time;
	if (t->begun) {
		if (r->u.begin.attempt && !r->u.begin.resume)
			return schema_problem(in, f, "a second begin of the task that does not resume it");
		/* The attempt before ended at its end record, or at its last
		 * record when its writer died. */
		double until = isnan(t->end) ? t->last : t->end;
		if (!isnan(until) && !isnan(t->attempt_start) && until > t->attempt_start)
			t->active_before += until - t->attempt_start;
		/* An attempt begins after the one before it ended, whatever the
		 * clock of its host says (one behind, or stepped back since). */
		if (!isnan(until) && !(begins >= until))
			begins = until;
	} else {
		/* Queries that load only some tasks need every task's columns
		 * to be the specification's: the dataflow says when not. */
		const msgpack_object *h = r->u.begin.hyperparameters;
		for (uint32_t i = 0; h && h->type == MSGPACK_OBJECT_MAP && i < h->via.map.size && !d->undeclared; i++) {
			const msgpack_object *n = &h->via.map.ptr[i].key;
			bool known = false;
			for (size_t j = 0; j < d->nhyps && !known; j++)
				known = n->type == MSGPACK_OBJECT_STR && strlen(d->hyps[j].name) == n->via.str.size &&
					memcmp(d->hyps[j].name, n->via.str.ptr, n->via.str.size) == 0;
			if (!known)
				d->undeclared = d->dirty = true;
		}
		t->hyps.len = 0;
		if ((rc = dp_pack_object(&t->hyps, r->u.begin.hyperparameters)) ||
		    (rc = hyp_index_update(in, t->df, t->task, r->u.begin.hyperparameters, true)))
			return rc;
		t->start = r->time;
		snprintf(t->run, sizeof(t->run), "%s", f->seg->run);
	}
	/* The facts of the run are its first begin's; a resume by another
	 * process keeps its own in its record (`dnnprov cat`). */
	if (!t->facts.len && r->u.begin.facts && r->u.begin.facts->via.map.size &&
	    (rc = dp_pack_object(&t->facts, r->u.begin.facts)))
		return rc;
	if (!t->run[0]) /* a task begun by version 1 segments, resumed by a newer writer */
		snprintf(t->run, sizeof(t->run), "%s", f->seg->run);
	t->begun = true;
	snprintf(t->status, sizeof(t->status), "RUNNING");
	t->end = NAN;
	free(t->message);
	t->message = NULL;
	t->pid = r->u.begin.pid;
	t->attempts++;
	t->attempt_start = begins;
	t->attempt_mono = r->mono;
	t->attempt_boot = f->seg->boot;
	t->owner.len = 0;
	const msgpack_object *owner = dp_map_get(r->root, "owner");
	if ((owner && (rc = dp_pack_object(&t->owner, owner))) || (rc = set_str(&t->host, r->u.begin.host)) ||
	    (rc = set_str(&t->user, r->u.begin.user)) || (rc = set_str(&t->execution, r->u.begin.execution)) ||
	    (rc = set_str(&t->transformation, r->u.begin.transformation)))
		return rc;
	touch(t, begins);
	return 0;
}

/* The task of a record that needs one; a problem when it never began. */
static int begun_task(dp_ingest *in, frame_ctx *f, const dp_record *r, dp_task_state **t)
{
	int rc = seg_task(in, f, t);
	if (rc)
		return rc;
	if (!(*t)->begun) {
		char why[DNNPROV_NAME_MAX + 64];
		snprintf(why, sizeof(why), "%s record of task '%s', which has not begun",
			 dp_record_kind_name(r->kind), f->seg->task);
		*t = NULL;
		return schema_problem(in, f, why);
	}
	if ((rc = other_run(in, f, t, false))) {
		*t = NULL;
		return rc > 0 ? 0 : rc;
	}
	return 0;
}

/* The summary of metric `name`, new to task t (known_metric found no
 * entry for it): read from the index and added to the task's list.  No
 * search of the list here: with one more per name, a first record of
 * 60,000 metrics took seconds. */
static int task_summary(dp_ingest *in, dp_task_state *t, dp_df_state *d, dp_key *k, const char *name,
			uint32_t len, dp_summary_state **out)
{
	int rc;
	/* Summaries are keyed (df, metric, task): one metric of every task is
	 * one range, which is how compare, runs and effect read them. */
	dp_key_reset(k);
	dp_key_cstr(k, t->df);
	dp_key_str(k, name, len);
	dp_key_cstr(k, t->task);
	if ((rc = summary_get(in, k, out)) || (rc = df_add_metric(d, name, len)))
		return rc;
	(*out)->task = t;
	dp_task_metric *grown = realloc(t->metrics, (t->nmetrics + 1) * sizeof(*grown));
	char *copy = malloc(len ? len : 1);
	if (!grown || !copy) {
		free(copy);
		if (grown)
			t->metrics = grown;
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	}
	memcpy(copy, name, len);
	t->metrics = grown;
	t->metrics[t->nmetrics++] = (dp_task_metric){ copy, len, *out, 0 };
	return 0;
}

/* A metric name that differs only in case from one the dataflow has: the
 * writers refuse it, but two processes with free_metrics, or logs written
 * by hand, can still bring one.  Queries fold case, so it would hide the
 * other: the record is a problem.  Returns 1 when it was one. */
static int metric_case_clash(dp_ingest *in, frame_ctx *f, dp_df_state *d, const msgpack_object *metrics)
{
	for (uint32_t i = 0; i < metrics->via.map.size; i++) {
		const msgpack_object *k = &metrics->via.map.ptr[i].key;
		if (dp_map_slot(&d->metric_set, k->via.str.ptr, k->via.str.size, false))
			continue; /* known as spelled */
		for (size_t j = 0; j < d->nmetrics; j++) {
			if (strlen(d->metrics[j]) != k->via.str.size ||
			    dp_strncasecmp(d->metrics[j], k->via.str.ptr, k->via.str.size) != 0)
				continue;
			char why[200];
			snprintf(why, sizeof(why), "metric '%.*s' differs only in case from '%.64s'",
				 (int)(k->via.str.size > 64 ? 64 : k->via.str.size), k->via.str.ptr, d->metrics[j]);
			int rc = schema_problem(in, f, why);
			return rc ? rc : 1;
		}
	}
	return 0;
}

/* ---- epoch blocks (epochs.h) ---------------------------------------------------- */

/* A metric's value: an integer stays exact, a real (or an unsigned past
 * INT64_MAX) is a double, anything else none. */
static dp_ev ev_of(const msgpack_object *o)
{
	dp_mpr_scalar s;
	dp_ev v = { 0 };
	dp_obj_scalar(o, &s);
	if (s.kind == DP_MPR_INT) {
		v.type = DP_EV_INT;
		v.i = s.i;
		v.d = s.d;
	} else if (s.kind == DP_MPR_REAL || s.kind == DP_MPR_BIG) {
		v.type = DP_EV_REAL;
		v.d = s.d;
	}
	return v;
}

static size_t varint_size(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/* The bytes value v takes after a double whose bits are *prev (updated). */
static size_t ev_size(const dp_ev *v, uint64_t *prev)
{
	if (v->type == DP_EV_NULL)
		return 1;
	if (v->type == DP_EV_INT)
		return 1 + varint_size(((uint64_t)v->i << 1) ^ (uint64_t)(v->i >> 63));
	uint64_t bits;
	memcpy(&bits, &v->d, 8);
	uint64_t x = bits ^ *prev;
	*prev = bits;
	return x ? 9 - (size_t)__builtin_clzll(x) / 8 - (size_t)__builtin_ctzll(x) / 8 : 1;
}

/* The largest value a block under key k may have: the key, LMDB's node
 * header (8) and its pointer (2) share DP_EBLOCK_BYTES. */
static size_t eb_limit(const dp_key *k)
{
	return DP_EBLOCK_BYTES - k->n - 10;
}

/* Measures the open block exactly (after anything but an append) and the
 * last double of each column, for the appends that follow. */
static int eb_measure(dp_ingest *in)
{
	dp_eblock *b = &in->eb.b;
	int rc = dp_eblock_encode(b, &in->eb.enc);
	if (rc)
		return rc;
	in->eb.bytes = in->eb.enc.len;
	if (b->ncols + 2 > in->eb.prevcap) {
		uint64_t *p = realloc(in->eb.prev, (b->ncols + 8) * sizeof(*p));
		if (!p)
			return dp_error(DNNPROV_ENOMEM, "out of memory");
		in->eb.prev = p;
		in->eb.prevcap = b->ncols + 8;
	}
	/* prev[0]: times, prev[1]: elapsed, prev[2 + c]: column c. */
	for (uint32_t c = 0; c < b->ncols + 2; c++) {
		uint64_t bits = 0;
		for (uint32_t r = b->n; r-- > 0;) {
			const dp_ev *v = c == 1 ? &b->elapsed[r] : c > 1 ? &b->v[c - 2][r] : NULL;
			if (!v) {
				memcpy(&bits, &b->time[r], 8);
				break;
			}
			if (v->type == DP_EV_REAL) {
				memcpy(&bits, &v->d, 8);
				break;
			}
		}
		in->eb.prev[c] = bits;
	}
	return 0;
}

static int eb_put(dp_ingest *in, dp_key *k, const dp_eblock *b)
{
	int rc = dp_eblock_encode(b, &in->eb.enc);
	if (rc)
		return rc;
	/* Past the last key of the database (a catch-up's new blocks), an
	 * append fills pages instead of splitting them in half. */
	rc = put(in, DP_DB_EPOCHS, k, in->eb.enc.data, in->eb.enc.len, MDB_APPEND);
	if (rc == MDB_KEYEXIST)
		rc = put(in, DP_DB_EPOCHS, k, in->eb.enc.data, in->eb.enc.len, 0);
	return rc;
}

/* Writes the open block, if it changed, and closes it. */
static int eb_flush(dp_ingest *in)
{
	int rc = 0;
	if (in->eb.task && in->eb.dirty && in->eb.b.n)
		rc = eb_put(in, &in->eb.key, &in->eb.b);
	in->eb.task = NULL;
	in->eb.dirty = false;
	return rc;
}

static void eb_start(dp_ingest *in, dp_task_state *t, int64_t first, int64_t next_first)
{
	dp_key_reset(&in->eb.key);
	dp_key_cstr(&in->eb.key, t->df);
	dp_key_cstr(&in->eb.key, t->task);
	dp_key_i64(&in->eb.key, first);
	dp_eblock_clear(&in->eb.b);
	in->eb.task = t;
	in->eb.first = first;
	in->eb.next_first = next_first;
	in->eb.dirty = false;
	in->eb.bytes = 0;
}

/* Opens the block of task t that epoch e belongs in: the last block that
 * begins at or before e, or a new one for e when none does. */
static int eb_open(dp_ingest *in, dp_task_state *t, int64_t e)
{
	dp_key prefix, at;
	dp_scan sc;
	MDB_val k, v;
	int r, rc;

	if ((rc = eb_flush(in)))
		return rc;
	dp_key_reset(&prefix);
	dp_key_cstr(&prefix, t->df);
	dp_key_cstr(&prefix, t->task);
	at = prefix;
	dp_key_i64(&at, e == INT64_MAX ? e : e + 1);
	if (e == INT64_MAX && at.n < DP_KEY_MAX)
		at.b[at.n++] = 0xff;
	int64_t next = INT64_MAX;
	if ((rc = dp_scan_open(&sc, in->ix, in->txn, DP_DB_EPOCHS, &prefix, &at)))
		return rc;
	r = dp_scan_next(&sc, &k, &v);
	if (r == DP_SCAN_ROW) {
		size_t pos = prefix.n;
		if (!dp_key_get_i64(k.mv_data, k.mv_size, &pos, &next))
			next = INT64_MAX;
	}
	dp_scan_close(&sc);
	if (r < 0)
		return r;
	if ((rc = dp_scan_open_before(&sc, in->ix, in->txn, DP_DB_EPOCHS, &prefix, &at)))
		return rc;
	r = dp_scan_next(&sc, &k, &v);
	if (r == DP_SCAN_ROW) {
		size_t pos = prefix.n;
		int64_t first;
		if (!dp_key_get_i64(k.mv_data, k.mv_size, &pos, &first)) {
			r = DP_SCAN_END; /* not a block key: a block of its own for e */
		} else {
			eb_start(in, t, first, next);
			rc = dp_eblock_decode(v.mv_data, v.mv_size, first, &in->eb.b);
			if (rc == DNNPROV_ECORRUPT) /* unreadable: replaced by what comes */
				dp_eblock_clear(&in->eb.b), rc = 0;
		}
	}
	dp_scan_close(&sc);
	if (r < 0)
		return r;
	if (r != DP_SCAN_ROW)
		eb_start(in, t, e, next);
	return rc ? rc : eb_measure(in);
}

/* Puts the open block and, past the limits, splits it in two first. */
static int eb_split_put(dp_ingest *in)
{
	dp_eblock right = { 0 };
	uint32_t half = in->eb.b.n / 2;
	assert(half >= 1); /* a block of one epoch is never split: two halves */
	int rc = dp_eblock_split(&in->eb.b, half, &right);
	if (!rc)
		rc = eb_put(in, &in->eb.key, &in->eb.b);
	if (!rc) {
		dp_key k = in->eb.key;
		assert(k.n >= 8); /* (df, task, int64 first epoch) */
		k.n -= 8;
		dp_key_i64(&k, right.epoch[0]);
		rc = eb_put(in, &k, &right);
	}
	dp_eblock_free(&right);
	in->eb.task = NULL; /* read again when needed */
	in->eb.dirty = false;
	return rc;
}

/* Whether the block's epochs are consecutive (no gaps stored). */
static bool eb_dense(const dp_eblock *b)
{
	return b->n < 2 || b->epoch[b->n - 1] - b->epoch[0] == (int64_t)b->n - 1;
}

/* The bytes a row appended at the end of the open block adds, when it can
 * be told without encoding it all again (every metric of the row has a
 * column, and the epochs stay dense or were not): true with *add set. */
static bool eb_append_size(dp_ingest *in, int64_t e, double time, const dp_ev *el, const uint32_t *col_of,
			   const dp_ev *vals, uint32_t nvals, size_t *add)
{
	const dp_eblock *b = &in->eb.b;
	if (in->eb.prevcap < b->ncols + 2)
		return false;
	size_t n = 0;
	int64_t gap = e - b->epoch[b->n - 1] - 1;
	if (eb_dense(b) && gap)
		return false;
	if (!eb_dense(b))
		n += varint_size((uint64_t)gap);
	uint64_t p = in->eb.prev[0];
	dp_ev tv = { DP_EV_REAL, 0, time };
	n += ev_size(&tv, &p);
	p = in->eb.prev[1];
	n += ev_size(el, &p);
	for (uint32_t i = 0; i < nvals; i++)
		if (col_of[i] == UINT32_MAX)
			return false; /* a new column */
	for (uint32_t c = 0; c < b->ncols; c++) {
		dp_ev none = { 0 };
		const dp_ev *v = &none;
		for (uint32_t i = 0; i < nvals; i++)
			if (col_of[i] == c)
				v = &vals[i];
		p = in->eb.prev[2 + c];
		n += ev_size(v, &p);
	}
	*add = n;
	return true;
}

/* The epoch record r into its task's block: a new row, or the row of the
 * epoch it re-logs.  *relogged tells which. */
static int eb_add(dp_ingest *in, dp_task_state *t, const dp_record *r, bool *relogged)
{
	int64_t e = r->u.epoch.epoch;
	const msgpack_object *m = r->u.epoch.metrics;
	uint32_t nv = m->via.map.size;
	int rc;

	/* The metrics' positions (the caller's, in in->eb.pos), and values. */
	uint32_t *pos = in->eb.pos, *col_of = in->eb.pos + nv;
	for (uint32_t i = 0; i < nv; i++)
		in->eb.vals[i] = ev_of(&m->via.map.ptr[i].val);
	if (in->eb.task != t || e < in->eb.first || e >= in->eb.next_first)
		if ((rc = eb_open(in, t, e)))
			return rc;
	dp_eblock *b = &in->eb.b;
	bool found, measure = true;
	uint32_t at = dp_eblock_find(b, e, &found);
	dp_ev el = ev_of(dp_map_get(r->root, "elapsed"));
	size_t add = 0;
	*relogged = found;
	if (!found && at == b->n && b->n) {
		for (uint32_t i = 0; i < nv; i++) {
			col_of[i] = UINT32_MAX;
			for (uint32_t c = 0; c < b->ncols && col_of[i] == UINT32_MAX; c++)
				if (b->col[c] == pos[i])
					col_of[i] = c;
		}
		bool exact = eb_append_size(in, e, r->time, &el, col_of, in->eb.vals, nv, &add);
		if (b->n >= DP_EBLOCK_MAX || (exact && in->eb.bytes + add > eb_limit(&in->eb.key)) ||
		    (!exact && in->eb.bytes + 16 * (size_t)(nv + 3) > eb_limit(&in->eb.key))) {
			/* Full: it is written, and e begins the next block. */
			int64_t next = in->eb.next_first;
			if ((rc = eb_flush(in)))
				return rc;
			eb_start(in, t, e, next);
			at = 0;
		} else {
			measure = !exact;
		}
	}
	if ((rc = dp_eblock_put_row(b, at, found, e, r->time, el)))
		return rc;
	for (uint32_t i = 0; i < nv; i++)
		if ((rc = dp_eblock_set(b, at, pos[i], in->eb.vals[i])))
			return rc;
	in->eb.dirty = true;
	if (measure)
		rc = eb_measure(in);
	else {
		/* Appended where its size was known: the sizes and the last
		 * doubles move on without encoding the block again. */
		in->eb.bytes += add;
		memcpy(&in->eb.prev[0], &r->time, 8);
		if (el.type == DP_EV_REAL)
			memcpy(&in->eb.prev[1], &el.d, 8);
		for (uint32_t i = 0; i < nv; i++)
			if (in->eb.vals[i].type == DP_EV_REAL)
				memcpy(&in->eb.prev[2 + col_of[i]], &in->eb.vals[i].d, 8);
	}
	if (rc)
		return rc;
	if (b->n > DP_EBLOCK_MAX || (b->n > 1 && in->eb.bytes > eb_limit(&in->eb.key)))
		return eb_split_put(in);
	return 0;
}

/* The task's entry for the metric named by the key of the record's i-th
 * pair: most records name the task's metrics in the same order as the one
 * before, so the guess at the same position is tried first. */
static dp_task_metric *known_metric(dp_task_state *t, const msgpack_object *name, uint32_t i)
{
	const char *p = name->via.str.ptr;
	uint32_t len = name->via.str.size;
	if (i < t->nmetrics && t->metrics[i].len == len && memcmp(t->metrics[i].name, p, len) == 0)
		return &t->metrics[i];
	for (size_t j = 0; j < t->nmetrics; j++)
		if (t->metrics[j].len == len && memcmp(t->metrics[j].name, p, len) == 0)
			return &t->metrics[j];
	return NULL;
}

static int scratch_metrics(dp_ingest *in, uint32_t nv)
{
	if (nv <= in->eb.tmpcap)
		return 0;
	uint32_t *pos = realloc(in->eb.pos, 2 * (size_t)nv * sizeof(*pos));
	dp_ev *vals = realloc(in->eb.vals, nv * sizeof(*vals));
	dp_task_metric **tm = realloc(in->eb.tm, nv * sizeof(*tm));
	if (pos)
		in->eb.pos = pos;
	if (vals)
		in->eb.vals = vals;
	if (tm)
		in->eb.tm = tm;
	if (!pos || !vals || !tm)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	in->eb.tmpcap = nv;
	return 0;
}

static int apply_epoch(dp_ingest *in, frame_ctx *f, const dp_record *r)
{
	dp_task_state *t;
	dp_df_state *d;
	dp_key k;
	bool relogged = false, all_known = true;
	const msgpack_object *m = r->u.epoch.metrics;
	uint32_t nv = m->via.map.size;
	int rc;

	if ((rc = begun_task(in, f, r, &t)) || !t)
		return rc;
	if ((rc = scratch_metrics(in, nv)))
		return rc;
	for (uint32_t i = 0; i < nv; i++)
		all_known &= (in->eb.tm[i] = known_metric(t, &m->via.map.ptr[i].key, i)) != NULL;
	/* A name the task has not reported yet: checked against the
	 * dataflow's, then given its summary and its position. */
	if (!all_known) {
		if ((rc = seg_df(in, f, &d)) || (rc = metric_case_clash(in, f, d, m)))
			return rc > 0 ? 0 : rc;
		for (uint32_t i = 0; i < nv; i++) {
			const msgpack_object *name = &m->via.map.ptr[i].key;
			dp_summary_state *s;
			if (in->eb.tm[i])
				continue;
			if ((rc = task_summary(in, t, d, &k, name->via.str.ptr, name->via.str.size, &s)))
				return rc;
			dp_task_metric *tm = known_metric(t, name, i);
			if ((rc = df_metric_at(d, name->via.str.ptr, name->via.str.size, &tm->pos)))
				return rc;
			in->eb.tm[i] = tm;
		}
		/* Entries may have moved as the list grew. */
		for (uint32_t i = 0; i < nv; i++)
			in->eb.tm[i] = known_metric(t, &m->via.map.ptr[i].key, i);
	}
	for (uint32_t i = 0; i < nv; i++)
		in->eb.pos[i] = in->eb.tm[i]->pos;
	if ((rc = eb_add(in, t, r, &relogged)))
		return rc;
	if (relogged) {
		/* A re-logged epoch: the latest record wins, and the summaries are
		 * recomputed from all epochs at commit. */
		t->recompute = true;
	} else {
		t->epochs++;
	}
	if (!t->has_last_epoch || r->u.epoch.epoch > t->last_epoch) {
		t->last_epoch = r->u.epoch.epoch;
		t->has_last_epoch = true;
	}
	double time = record_time(t, f, r);
	training_record(t, time);
	if ((rc = health_step(in, t, r, time)))
		return rc;
	if (t->recompute)
		return 0;
	for (uint32_t i = 0; i < nv; i++) {
		dp_summary_state *s = in->eb.tm[i]->summary;
		double v;
		dp_obj_number(&m->via.map.ptr[i].val, &v);
		summary_add(&s->s, r->u.epoch.epoch, v);
		s->dirty = true;
	}
	return 0;
}

/* The value of hyperparameter `name` in force before `epoch`: the newest
 * earlier adaptation's, or the task's begin value. */
static int value_before(dp_ingest *in, dp_task_state *t, dp_str name, int64_t epoch, dp_buf *out)
{
	dp_scan sc;
	dp_key k, before;
	MDB_val key, val;
	int mrc, rc = 0;

	out->len = 0;
	dp_key_reset(&k);
	dp_key_cstr(&k, t->df);
	dp_key_cstr(&k, t->task);
	size_t prefix = k.n;
	before = k;
	dp_key_i64(&before, epoch);
	if ((rc = dp_scan_open_before(&sc, in->ix, in->txn, DP_DB_ADAPTATIONS, &k, &before)))
		return rc;
	while ((mrc = dp_scan_next(&sc, &key, &val)) == DP_SCAN_ROW) {
		size_t pos = prefix;
		int64_t e;
		const char *h;
		size_t hn;
		if (!dp_key_get_i64(key.mv_data, key.mv_size, &pos, &e) ||
		    !dp_key_get_str(key.mv_data, key.mv_size, &pos, &h, &hn))
			continue;
		if (hn == name.n && memcmp(h, name.p, hn) == 0 && e < epoch) {
			msgpack_object o;
			if (dp_decode(&in->vdec, val.mv_data, val.mv_size, &o) == 0) {
				const msgpack_object *nv = dp_map_get(&o, "new");
				if (nv)
					rc = dp_pack_object(out, nv);
			}
			dp_scan_close(&sc);
			return rc;
		}
	}
	dp_scan_close(&sc);
	if (mrc < 0)
		return mrc;
	if (t->hyps.len) {
		msgpack_object o;
		if (dp_decode(&in->vdec, (const unsigned char *)t->hyps.data, t->hyps.len, &o) == 0) {
			for (uint32_t i = 0; i < o.via.map.size; i++) {
				const msgpack_object *kk = &o.via.map.ptr[i].key;
				if (kk->type == MSGPACK_OBJECT_STR && kk->via.str.size == name.n &&
				    memcmp(kk->via.str.ptr, name.p, name.n) == 0)
					return dp_pack_object(out, &o.via.map.ptr[i].val);
			}
		}
	}
	return 0;
}

static int apply_adapt(dp_ingest *in, frame_ctx *f, const dp_record *r)
{
	dp_task_state *t;
	dp_key k;
	dp_buf val = { 0 }, old = { 0 };
	int rc;

	if ((rc = begun_task(in, f, r, &t)) || !t)
		return rc;
	dp_key_reset(&k);
	dp_key_cstr(&k, f->seg->df);
	dp_key_cstr(&k, f->seg->task);
	dp_key_i64(&k, r->u.adapt.epoch);
	dp_key_str(&k, r->u.adapt.hyperparameter.p, r->u.adapt.hyperparameter.n);
	if (r->u.adapt.old_value) {
		rc = put(in, DP_DB_ADAPTATIONS, &k, f->payload, f->length, 0);
	} else {
		/* Fill in `old` so that readers need not reconstruct it. */
		const msgpack_object *root = r->root;
		if ((rc = value_before(in, t, r->u.adapt.hyperparameter, r->u.adapt.epoch, &old)))
			goto out;
		unsigned char hdr[8], *p = dp_mp_map(hdr, root->via.map.size + (old.len ? 1 : 0));
		if ((rc = dp_buf_append(&val, hdr, (size_t)(p - hdr))))
			goto out;
		for (uint32_t i = 0; i < root->via.map.size && !rc; i++) {
			rc = dp_pack_object(&val, &root->via.map.ptr[i].key);
			if (!rc)
				rc = dp_pack_object(&val, &root->via.map.ptr[i].val);
		}
		if (!rc && old.len) {
			p = dp_mp_key(hdr, "old");
			rc = dp_buf_append(&val, hdr, (size_t)(p - hdr));
			if (!rc)
				rc = dp_buf_append(&val, old.data, old.len);
		}
		if (!rc)
			rc = put(in, DP_DB_ADAPTATIONS, &k, val.data, val.len, 0);
	}
	if (!rc)
		training_record(t, record_time(t, f, r));
out:
	dp_buf_free(&val);
	dp_buf_free(&old);
	return rc;
}

static int apply_test(dp_ingest *in, frame_ctx *f, const dp_record *r)
{
	dp_task_state *t;
	dp_df_state *d;
	dp_key k;
	int rc;

	if ((rc = begun_task(in, f, r, &t)) || !t)
		return rc;
	if ((rc = seg_df(in, f, &d)) || (rc = metric_case_clash(in, f, d, r->u.test.metrics)))
		return rc > 0 ? 0 : rc;
	task_position_key(&k, f);
	if ((rc = put(in, DP_DB_TESTS, &k, f->payload, f->length, 0)))
		return rc;
	const msgpack_object *m = r->u.test.metrics;
	for (uint32_t i = 0; i < m->via.map.size; i++)
		if ((rc = df_add_metric(d, m->via.map.ptr[i].key.via.str.ptr, m->via.map.ptr[i].key.via.str.size)))
			return rc;
	touch(t, record_time(t, f, r));
	return 0;
}

static int apply_element(dp_ingest *in, frame_ctx *f, const dp_record *r)
{
	dp_task_state *t;
	dp_key k;
	int rc;

	if ((rc = begun_task(in, f, r, &t)) || !t)
		return rc;
	dp_key_reset(&k);
	dp_key_cstr(&k, f->seg->df);
	dp_key_str(&k, r->u.element.transformation.p, r->u.element.transformation.n);
	dp_key_str(&k, r->u.element.set.p, r->u.element.set.n);
	dp_key_cstr(&k, f->seg->task);
	record_position(&k, f);
	if ((rc = put(in, DP_DB_ELEMENTS, &k, f->payload, f->length, 0)))
		return rc;
	touch(t, record_time(t, f, r));
	return 0;
}

/* The entity index's key of one lineage record: (fingerprint, direction,
 * df, task, position); the position is the last 16 bytes of the lineage
 * key it mirrors. */
static void entity_key(dp_key *k, dp_str fingerprint, bool generated, const char *df, const char *task,
		       const unsigned char *position)
{
	dp_key_reset(k);
	dp_key_str(k, fingerprint.p, fingerprint.n);
	dp_key_cstr(k, generated ? "generated" : "used");
	dp_key_cstr(k, df);
	dp_key_cstr(k, task);
	if (k->n + 16 <= DP_KEY_MAX) {
		memcpy(k->b + k->n, position, 16);
		k->n += 16;
	} else {
		k->overflow = true;
	}
}

static int apply_entity(dp_ingest *in, frame_ctx *f, const dp_record *r)
{
	dp_task_state *t;
	dp_key k, e;
	int rc;

	if ((rc = begun_task(in, f, r, &t)) || !t)
		return rc;
	task_position_key(&k, f);
	if (k.overflow)
		return schema_problem(in, f, "entity key too long");
	entity_key(&e, r->u.entity.fingerprint, r->kind == DP_REC_GENERATED, f->seg->df, f->seg->task,
		   k.b + k.n - 16);
	if ((rc = put(in, DP_DB_LINEAGE, &k, f->payload, f->length, 0)) || (rc = put(in, DP_DB_ENTITIES, &e, "", 0, 0)))
		return rc;
	touch(t, record_time(t, f, r));
	return 0;
}

static int apply_layers(dp_ingest *in, frame_ctx *f, const dp_record *r)
{
	dp_task_state *t;
	dp_key k;
	int rc;

	if ((rc = begun_task(in, f, r, &t)) || !t)
		return rc;
	dp_key_reset(&k);
	dp_key_cstr(&k, f->seg->df);
	dp_key_cstr(&k, f->seg->task);
	if ((rc = put(in, DP_DB_LAYERS, &k, f->payload, f->length, 0)))
		return rc;
	training_record(t, record_time(t, f, r));
	return 0;
}

static int apply_end(dp_ingest *in, frame_ctx *f, const dp_record *r)
{
	dp_task_state *t;
	int rc;

	if ((rc = begun_task(in, f, r, &t)) || !t)
		return rc;
	snprintf(t->status, sizeof(t->status), "%.*s", (int)r->u.end.status.n, r->u.end.status.p);
	t->end = record_time(t, f, r);
	if ((rc = set_str(&t->message, r->u.end.message)))
		return rc;
	touch(t, t->end);
	return 0;
}

/* A refused record: the names its writer refused join the task's, and
 * each new one is reported once (index --status), the record itself
 * staying in the logs with their values.  Not a training record: it never
 * changes the status. */
static int apply_refused(dp_ingest *in, frame_ctx *f, const dp_record *r)
{
	const msgpack_object *m = r->u.refused.values;
	const char *rec = r->u.refused.record.p;
	int recn = (int)r->u.refused.record.n;
	const char *what = recn == 5 && memcmp(rec, "epoch", 5) == 0   ? "metric"
			   : recn == 4 && memcmp(rec, "test", 4) == 0  ? "metric"
			   : recn == 7 && memcmp(rec, "element", 7) == 0 ? "attribute"
									   : "hyperparameter";
	char where[48], why[sizeof(((dp_problem_entry *)0)->why)];
	dp_task_state *t;
	int rc;

	if ((rc = begun_task(in, f, r, &t)) || !t)
		return rc;
	if (r->u.refused.has_epoch)
		snprintf(where, sizeof(where), "%.*s %lld", recn < 16 ? recn : 16, rec, (long long)r->u.refused.epoch);
	else
		snprintf(where, sizeof(where), "%.*s", recn < 16 ? recn : 16, rec);
	dp_buf names = { 0 };
	for (uint32_t i = 0; i < m->via.map.size && t->nrefused < DP_REFUSED_NAMES_MAX; i++) {
		const msgpack_object *key = &m->via.map.ptr[i].key;
		if (refused_has(t, key->via.str.ptr, key->via.str.size))
			continue;
		size_t need = DP_MP_STR_OVERHEAD * 2 + key->via.str.size + strlen(where);
		if ((rc = dp_buf_reserve(&t->refused, need)))
			break;
		unsigned char *p = (unsigned char *)t->refused.data + t->refused.len;
		p = dp_mp_str(p, key->via.str.ptr, key->via.str.size);
		p = dp_mp_str(p, where, strlen(where));
		t->refused.len = (size_t)(p - (unsigned char *)t->refused.data);
		t->nrefused++;
		t->dirty = true;
		dp_buf_printf(&names, "%s'%.*s'", names.len ? ", " : "", (int)key->via.str.size, key->via.str.ptr);
	}
	/* One problem per record, naming what it refused first. */
	if (!rc && names.len) {
		snprintf(why, sizeof(why), "%s %s refused at %s: not declared (task '%s')", what, dp_buf_cstr(&names),
			 where, f->seg->task);
		rc = put_problem(in, f->seg, f->offset, 0, DP_PROBLEM_REFUSED, why, 0, true);
	}
	dp_buf_free(&names);
	return rc;
}

/* Whether a stored tag entry comes after (time, position at[]). */
static bool tag_is_later(const MDB_val *v, double time, const uint64_t at[3], dp_decoder *dec)
{
	msgpack_object o;
	double t;
	if (dp_decode(dec, v->mv_data, v->mv_size, &o) != 0)
		return false;
	const msgpack_object *ot = dp_map_get(&o, "time"), *oa = dp_map_get(&o, "at");
	if (!ot || !dp_obj_number(ot, &t))
		return false;
	if (t != time)
		return t > time;
	if (!oa || oa->type != MSGPACK_OBJECT_ARRAY || oa->via.array.size != 3)
		return false;
	for (int i = 0; i < 3; i++) {
		uint64_t x = oa->via.array.ptr[i].via.u64;
		if (x != at[i])
			return x > at[i];
	}
	return false;
}

/* A tag record: each key takes its value unless a later one (by time,
 * then position) is stored already.  It needs no begin in the index yet
 * (a note segment may be read before the task's first segment) and never
 * changes the task's status or last record. */
static int apply_tag(dp_ingest *in, frame_ctx *f, const dp_record *r)
{
	const msgpack_object *m = r->u.tag.tags;
	const char *run = f->seg->run;
	uint64_t at[3] = { f->seg->sequence, f->seg->name_crc, f->offset };
	dp_task_state *t;
	int rc;

	if ((rc = seg_task(in, f, &t)))
		return rc;
	if (t->begun && (rc = other_run(in, f, &t, false)))
		return rc > 0 ? 0 : rc;
	for (uint32_t i = 0; i < m->via.map.size; i++) {
		const msgpack_object *key = &m->via.map.ptr[i].key, *val = &m->via.map.ptr[i].val;
		MDB_val kv, old;
		dp_key k;
		dp_key_reset(&k);
		dp_key_cstr(&k, f->seg->df);
		dp_key_cstr(&k, f->seg->task);
		dp_key_str(&k, key->via.str.ptr, key->via.str.size);
		kv = dp_key_val(&k);
		int mrc = k.overflow ? MDB_NOTFOUND : mdb_get(in->txn, in->ix->dbi[DP_DB_TAGS], &kv, &old);
		if (mrc == 0 && tag_is_later(&old, r->time, at, &in->vdec))
			continue;
		if (mrc && mrc != MDB_NOTFOUND)
			return lmdb_fail(mrc, "tags");
		dp_buf *b = &in->scratch;
		b->len = 0;
		if ((rc = dp_buf_reserve(b, 96 + strlen(run))))
			return rc;
		unsigned char *p = (unsigned char *)b->data;
		p = dp_mp_map(p, 4);
		p = dp_mp_key(p, "time");
		p = dp_mp_double(p, r->time);
		p = dp_mp_key(p, "run");
		p = dp_mp_str(p, run, strlen(run));
		p = dp_mp_key(p, "at");
		p = dp_mp_array(p, 3);
		for (int j = 0; j < 3; j++)
			p = dp_mp_uint(p, at[j]);
		p = dp_mp_key(p, "value");
		b->len = (size_t)(p - (unsigned char *)b->data);
		if ((rc = dp_pack_object(b, val)) || (rc = put(in, DP_DB_TAGS, &k, b->data, b->len, 0)))
			return rc;
	}
	return 0;
}

/* Applies the record of frame f: decoded here, or ahead by the loader
 * (pre, NULL when not). */
static int apply_record(dp_ingest *in, frame_ctx *f, const dp_prefetched_frame *pre)
{
	msgpack_object o;
	dp_record r;
	int rc;

	/* The reader has checked the payload's structure (dp_mp_check). */
	bool lost = f->seg->pending.flags & DP_PROGRESS_CONFLICT;
	if (pre) {
		if (pre->decoded == DNNPROV_ENOMEM)
			return dp_error(DNNPROV_ENOMEM, "out of memory decoding a record");
		if (pre->decoded)
			return lost ? 0 : schema_problem(in, f, "undecodable record");
		if (pre->parsed)
			return lost ? 0 : schema_problem(in, f, pre->why);
		r = pre->rec;
	} else if ((rc = dp_decode_checked(&in->rdec, f->payload, f->length, &o)) != 0) {
		return rc == DNNPROV_ENOMEM ? rc : lost ? 0 : schema_problem(in, f, "undecodable record");
	} else if (dp_record_parse(&o, &r) != 0) {
		return lost ? 0 : schema_problem(in, f, dnnprov_errmsg());
	}
	/* A losing run's segment is one problem; its specifications still
	 * describe the dataflow, as every run's do. */
	if (lost)
		return r.kind == DP_REC_SPEC && !f->seg->note && str_eq(r.u.spec.dataflow, f->seg->df)
			       ? apply_spec(in, f, &r)
			       : 0;
	if (f->seg->note && r.kind != DP_REC_TAG)
		return schema_problem(in, f, "a note segment holds tag records only");
	uint64_t problems = f->seg->pending.problems;
	switch (r.kind) {
	case DP_REC_SPEC: rc = apply_spec(in, f, &r); break;
	case DP_REC_BEGIN: rc = apply_begin(in, f, &r); break;
	case DP_REC_LAYERS: rc = apply_layers(in, f, &r); break;
	case DP_REC_EPOCH: rc = apply_epoch(in, f, &r); break;
	case DP_REC_ADAPT: rc = apply_adapt(in, f, &r); break;
	case DP_REC_TEST: rc = apply_test(in, f, &r); break;
	case DP_REC_ELEMENT: rc = apply_element(in, f, &r); break;
	case DP_REC_END: rc = apply_end(in, f, &r); break;
	case DP_REC_TAG: rc = apply_tag(in, f, &r); break;
	case DP_REC_USED:
	case DP_REC_GENERATED: rc = apply_entity(in, f, &r); break;
	case DP_REC_REFUSED: rc = apply_refused(in, f, &r); break;
	default: rc = schema_problem(in, f, "unknown record kind");
	}
	if (rc == 0)
		f->seg->pending.records++;
	/* A name an older writer allowed, in a record that was indexed: told
	 * once per segment, at the first such record, by a rule that does not
	 * depend on what else was read. */
	char why[112];
	if (rc == 0 && !(f->seg->pending.flags & (DP_PROGRESS_NAME_TOLD | DP_PROGRESS_CONFLICT)) &&
	    f->seg->pending.problems == problems && dp_record_name_problem(&r, why, sizeof(why))) {
		f->seg->pending.flags |= DP_PROGRESS_NAME_TOLD;
		rc = put_problem(in, f->seg, f->offset, 0, DP_PROBLEM_NAME, why, 0, true);
	}
	return rc;
}

/* ---- problems ---------------------------------------------------------------------- */

/* Writes the problem entry at (segment, offset).  A new problem is counted
 * and reported; an existing one (a run of skipped records that grew) is
 * rewritten with its new length. */
static int put_problem(dp_ingest *in, dp_seg_state *s, uint64_t offset, uint64_t length, uint32_t kind,
		       const char *why, uint64_t skipped, bool is_new)
{
	dp_problem_entry e = { .kind = kind, .length = length };
	dp_key k;
	int rc;

	snprintf(e.why, sizeof(e.why), "%s", why);
	dp_key_reset(&k);
	dp_key_cstr(&k, s->rel);
	dp_key_u64(&k, offset);
	if ((rc = put(in, DP_DB_PROBLEMS, &k, &e, sizeof(e), 0)))
		return rc;
	s->pending.bytes_skipped += skipped;
	if (!is_new)
		return 0;
	s->pending.problems++;
	if (kind == DP_PROBLEM_NAME || kind == DP_PROBLEM_REFUSED) { /* indexed: nothing was skipped */
		if (in->opts.notice)
			in->opts.notice(in->opts.report_ctx, s->rel, offset, why);
		return 0;
	}
	in->stats.problems++;
	if (in->opts.report)
		in->opts.report(in->opts.report_ctx, s->rel, offset, why);
	return 0;
}

static int store_problem(dp_ingest *in, dp_seg_state *s, uint64_t offset, uint64_t length, uint32_t kind,
			 const char *why)
{
	return put_problem(in, s, offset, length, kind, why, length, true);
}

static int schema_problem(dp_ingest *in, frame_ctx *f, const char *why)
{
	char copy[256];
	snprintf(copy, sizeof(copy), "%s", why); /* why may be the error detail itself */
	return store_problem(in, f->seg, f->offset, (uint64_t)f->length + DP_FRAME_HEADER, DP_PROBLEM_SCHEMA,
			     copy);
}

/* ---- ranks, starts and counts (schema.h) ------------------------------------------------ */

/* Adds delta to the counts entry of key k, with the batch (flush_counts). */
static int count_delta(dp_ingest *in, const dp_key *k, intptr_t delta)
{
	if (k->overflow)
		return 0;
	void **slot = dp_map_slot(&in->count_deltas, k->b, k->n, true);
	if (!slot)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	*slot = (void *)((intptr_t)*slot + delta);
	return 0;
}

static int flush_counts(dp_ingest *in)
{
	for (size_t i = 0; i < in->count_deltas.cap; i++) {
		dp_map_entry *e = &in->count_deltas.slots[i];
		intptr_t delta = (intptr_t)e->value;
		if (!e->key || !delta)
			continue;
		MDB_val key = { e->len, e->key }, val;
		uint64_t n = 0;
		int mrc = mdb_get(in->txn, in->ix->dbi[DP_DB_COUNTS], &key, &val);
		if (mrc == 0)
			dp_count_unpack(val.mv_data, val.mv_size, &n); /* none: counted from 0 */
		else if (mrc != MDB_NOTFOUND)
			return lmdb_fail(mrc, "counts");
		assert(delta > 0 || n >= (uint64_t)-delta); /* nothing is dropped that was not counted */
		n = delta < 0 && n < (uint64_t)-delta ? 0 : n + (uint64_t)delta;
		if (n == 0) {
			mrc = mdb_del(in->txn, in->ix->dbi[DP_DB_COUNTS], &key, NULL);
			mrc = mrc == MDB_NOTFOUND ? 0 : mrc;
		} else {
			unsigned char le[8];
			dp_count_pack(n, le);
			val = (MDB_val){ 8, le };
			mrc = mdb_put(in->txn, in->ix->dbi[DP_DB_COUNTS], &key, &val, 0);
		}
		if (mrc)
			return lmdb_fail(mrc, "counts");
		e->value = NULL;
	}
	return 0;
}

static void put_le64(dp_buf *b, uint64_t v)
{
	unsigned char le[8];
	for (int i = 0; i < 8; i++)
		le[i] = (unsigned char)(v >> (8 * i));
	dp_buf_append(b, le, 8);
}

/* The task's hyperparameter row (schema.h): its values of the dataflow's
 * declared hyperparameters, by position; built once per batch. */
static int task_row(dp_ingest *in, dp_task_state *t)
{
	dp_df_state *d;
	msgpack_object o;
	int rc;

	if (t->row_built)
		return 0;
	if ((rc = df_get(in, t->df, &d)))
		return rc;
	t->row.len = 0;
	bool map = t->hyps.len && dp_decode(&in->rowdec, (const unsigned char *)t->hyps.data, t->hyps.len, &o) == 0 &&
		   o.type == MSGPACK_OBJECT_MAP;
	size_t used = 0;
	for (size_t i = 0; map && i < d->nhyps; i++) {
		const msgpack_object *v = NULL;
		for (uint32_t j = 0; j < o.via.map.size && !v; j++)
			if (dp_obj_is_str(&o.via.map.ptr[j].key, d->hyps[i].name))
				v = &o.via.map.ptr[j].val;
		unsigned char type = DP_ROW_OTHER;
		if (!v)
			type = DP_ROW_NONE;
		else if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER ||
			 (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER && v->via.u64 <= (uint64_t)INT64_MAX))
			type = DP_ROW_INT;
		else if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER || v->type == MSGPACK_OBJECT_FLOAT32 ||
			 v->type == MSGPACK_OBJECT_FLOAT64)
			type = DP_ROW_REAL;
		else if (v->type == MSGPACK_OBJECT_STR && v->via.str.size <= 255)
			type = DP_ROW_TEXT;
		dp_buf_append(&t->row, &type, 1);
		if (type == DP_ROW_INT) {
			put_le64(&t->row, v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER ? (uint64_t)v->via.i64 : v->via.u64);
		} else if (type == DP_ROW_REAL) {
			double x = v->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? (double)v->via.u64 : v->via.f64;
			uint64_t bits;
			memcpy(&bits, &x, 8);
			put_le64(&t->row, bits);
		} else if (type == DP_ROW_TEXT) {
			unsigned char n = (unsigned char)v->via.str.size;
			dp_buf_append(&t->row, &n, 1);
			dp_buf_append(&t->row, v->via.str.ptr, n);
		}
		if (type != DP_ROW_NONE)
			used = t->row.len; /* trailing NONEs are left out */
	}
	if (t->row.failed || in->rowdec.out_of_memory)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	t->row.len = used;
	t->row_built = true;
	return 0;
}

/* A summary's value in ranks: its best by the metric's own goal; false
 * when it has none (every value NaN, or none). */
static bool rank_value(const dp_summary *s, bool lower, double *v)
{
	if (!s || !s->count)
		return false;
	*v = lower ? s->min : s->max;
	return true;
}

static void rank_key(dp_key *k, const dp_task_state *t, const char *metric, size_t len, double v)
{
	dp_key_reset(k);
	dp_key_cstr(k, t->df);
	dp_key_str(k, metric, len);
	dp_key_double(k, v);
	dp_key_cstr(k, t->task);
}

/* Keeps the ranks key of task t's summary of metric[0..len) as the
 * summary goes from `was` (NULL: none) to `now` (NULL: none): the old key
 * goes, the new one comes with the task's row. */
static int rank_update(dp_ingest *in, dp_task_state *t, const char *metric, size_t len, const dp_summary *was,
		       const dp_summary *now)
{
	char name[DNNPROV_NAME_MAX + 1];
	double before, after;
	dp_key k;
	int rc;

	if (len > DNNPROV_NAME_MAX)
		return 0; /* no metric name is that long */
	memcpy(name, metric, len);
	name[len] = '\0';
	bool lower = dp_metric_lower_is_better(name);
	bool had = rank_value(was, lower, &before), has = rank_value(now, lower, &after);
	if (had && has && memcmp(&before, &after, sizeof(double)) == 0)
		return 0; /* the same key, and a row that does not change */
	if (had) {
		rank_key(&k, t, metric, len, before);
		MDB_val key = dp_key_val(&k);
		int mrc = k.overflow ? 0 : mdb_del(in->txn, in->ix->dbi[DP_DB_RANKS], &key, NULL);
		if (mrc && mrc != MDB_NOTFOUND)
			return lmdb_fail(mrc, "ranks");
	}
	if (!has)
		return 0;
	rank_key(&k, t, metric, len, after);
	if (k.overflow)
		return 0; /* found by scanning the summaries instead */
	if ((rc = task_row(in, t)))
		return rc;
	return put(in, DP_DB_RANKS, &k, t->row.data ? t->row.data : "", t->row.len, 0);
}

/* The starts key of a task (schema.h); false when it has no start. */
static bool start_key(dp_key *k, const char *df, const char *task, double start)
{
	if (isnan(start))
		return false;
	dp_key_reset(k);
	dp_key_cstr(k, df);
	dp_key_double(k, start);
	dp_key_cstr(k, task);
	return !k->overflow;
}

/* A task written for the first time: counted, and in starts. */
static int task_stored(dp_ingest *in, dp_task_state *t)
{
	dp_key k;
	int rc;
	if (t->stored)
		return 0;
	t->stored = true;
	dp_key_reset(&k);
	dp_key_cstr(&k, t->df);
	if ((rc = count_delta(in, &k, 1)))
		return rc;
	return start_key(&k, t->df, t->task, t->start) ? put(in, DP_DB_STARTS, &k, "", 0, 0) : 0;
}

/* ---- commit ---------------------------------------------------------------------------- */

/* Recomputes a task's summaries and epoch count from its epochs, after an
 * epoch was re-logged (max-ing would keep the replaced value). */
static int recompute_task(dp_ingest *in, dp_task_state *t)
{
	dp_epoch_scan sc;
	dp_epoch_at at;
	dp_key k, sk;
	dp_map sums = { 0 };
	int mrc, rc = 0;

	dp_key_reset(&k);
	dp_key_cstr(&k, t->df);
	dp_key_cstr(&k, t->task);
	t->epochs = 0;
	t->has_last_epoch = false;
	if ((rc = dp_epoch_scan_open(&sc, in->ix, in->txn, NULL, &k, false, 0)))
		return rc;
	while (rc == 0 && (mrc = dp_epoch_scan_next(&sc, &at)) == DP_SCAN_ROW) {
		t->epochs++;
		t->last_epoch = at.epoch;
		t->has_last_epoch = true;
		for (uint32_t c = 0; c < at.block->ncols; c++) {
			const dp_ev *v = &at.block->v[c][at.row];
			uint32_t m = at.block->col[c];
			if (v->type == DP_EV_NULL || m >= at.nnames || !at.names[m])
				continue;
			void **slot = dp_map_slot(&sums, at.names[m], strlen(at.names[m]), true);
			if (!slot || (!*slot && !(*slot = calloc(1, sizeof(dp_summary))))) {
				rc = dp_error(DNNPROV_ENOMEM, "out of memory");
				break;
			}
			summary_add(*slot, at.epoch, v->d);
		}
	}
	dp_epoch_scan_close(&sc);
	if (!rc && mrc < 0)
		rc = mrc;
	for (size_t i = 0; i < sums.cap && !rc; i++) {
		if (!sums.slots[i].key)
			continue;
		dp_key_reset(&sk);
		dp_key_cstr(&sk, t->df);
		dp_key_str(&sk, sums.slots[i].key, sums.slots[i].len);
		dp_key_cstr(&sk, t->task);
		/* What the index held, whose ranks key goes. */
		dp_summary was;
		MDB_val key = dp_key_val(&sk), val;
		int got = sk.overflow ? MDB_NOTFOUND : mdb_get(in->txn, in->ix->dbi[DP_DB_SUMMARIES], &key, &val);
		if (got && got != MDB_NOTFOUND) {
			rc = lmdb_fail(got, "summaries");
			break;
		}
		bool had = got == 0 && dp_summary_unpack(val.mv_data, val.mv_size, &was);
		unsigned char packed[DP_SUMMARY_PACKED_MAX];
		rc = put(in, DP_DB_SUMMARIES, &sk, packed, dp_summary_pack(sums.slots[i].value, packed), 0);
		if (!rc)
			rc = rank_update(in, t, sums.slots[i].key, sums.slots[i].len, had ? &was : NULL, sums.slots[i].value);
		/* The cache must not overwrite what was just computed. */
		void **cached = dp_map_slot(&in->summaries, sk.b, sk.n, false);
		if (cached && *cached) {
			dp_summary_state *c = *cached;
			c->dirty = false;
			c->stored = *(dp_summary *)sums.slots[i].value;
			c->has_stored = true;
		}
	}
	for (size_t i = 0; i < sums.cap; i++)
		free(sums.slots[i].value);
	dp_map_free(&sums);
	t->recompute = false;
	return rc;
}

/* A segment's pending progress includes its committed progress: a batch
 * only reads on, but for claims of damage that gave way to the frames
 * (damage_withdraw).  (A rolled-back batch resets pending to committed.)
 * Its counts start again when it becomes a losing run's, which it stays. */
__attribute__((unused)) static bool progress_follows(const dp_progress *pending, const dp_progress *committed)
{
	if ((pending->flags & DP_PROGRESS_CONFLICT) && !(committed->flags & DP_PROGRESS_CONFLICT))
		return pending->offset >= committed->offset && pending->sealed >= committed->sealed;
	return !(committed->flags & DP_PROGRESS_CONFLICT & ~pending->flags) && pending->offset >= committed->offset &&
	       pending->records >= committed->records &&
	       pending->problems >= committed->problems && pending->bytes_skipped >= committed->bytes_skipped &&
	       pending->sealed >= committed->sealed;
}

static int cmp_seg_rel(const void *a, const void *b)
{
	return strcmp((*(dp_seg_state *const *)a)->rel, (*(dp_seg_state *const *)b)->rel);
}

/* An entry of a write-back cache, sorted by key before it is written. */
typedef struct flush_item {
	const unsigned char *key;
	size_t n;
	void *state;
} flush_item;

static int cmp_flush_item(const void *a, const void *b)
{
	const flush_item *x = a, *y = b;
	int c = memcmp(x->key, y->key, x->n < y->n ? x->n : y->n);
	return c ? c : (x->n > y->n) - (x->n < y->n);
}

/* The dirty entries of a cache, in key order; *out NULL when none. */
static int sorted_dirty(const dp_map *m, bool (*dirty)(const void *), flush_item **out, size_t *n)
{
	size_t cnt = 0;
	*out = NULL;
	*n = 0;
	for (size_t i = 0; i < m->cap; i++)
		cnt += m->slots[i].value && dirty(m->slots[i].value);
	if (!cnt)
		return 0;
	flush_item *items = malloc(cnt * sizeof(*items));
	if (!items)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].value && dirty(m->slots[i].value))
			items[(*n)++] = (flush_item){ m->slots[i].key, m->slots[i].len, m->slots[i].value };
	qsort(items, *n, sizeof(*items), cmp_flush_item);
	*out = items;
	return 0;
}

static bool task_dirty(const void *p)
{
	return ((const dp_task_state *)p)->dirty;
}

/* A put in key order: past the database's last key (what a catch-up
 * mostly writes), an append fills the page instead of splitting it in
 * half. */
static int put_ordered(dp_ingest *in, dp_db db, dp_key *k, const void *v, size_t n)
{
	int rc = put(in, db, k, v, n, MDB_APPEND);
	return rc == MDB_KEYEXIST ? put(in, db, k, v, n, 0) : rc;
}

static int flush_caches(dp_ingest *in)
{
	flush_item *items = NULL;
	size_t n = 0;
	/* First the open epoch block and the dataflows: recomputed summaries
	 * read the blocks, whose metrics the dataflows' lists name. */
	int rc = eb_flush(in);
	for (size_t i = 0; i < in->dataflows.cap && !rc; i++) {
		dp_df_state *d = in->dataflows.slots[i].value;
		dp_key k;
		if (!d || !d->dirty)
			continue;
		if ((rc = df_encode(d, &in->scratch)))
			break;
		dp_key_reset(&k);
		memcpy(k.b, in->dataflows.slots[i].key, in->dataflows.slots[i].len);
		k.n = in->dataflows.slots[i].len;
		rc = put(in, DP_DB_DATAFLOWS, &k, in->scratch.data, in->scratch.len, 0);
		d->dirty = false;
	}

	/* Summaries are not sorted: their keys (df, metric, task) land in the
	 * middle of each metric's range, where LMDB splits pages in half
	 * whatever the order; written in the cache's order they fill better. */
	for (size_t i = 0; i < in->summaries.cap && !rc; i++) {
		dp_summary_state *s = in->summaries.slots[i].value;
		if (!s || !s->dirty)
			continue;
		dp_key k;
		dp_key_reset(&k);
		memcpy(k.b, in->summaries.slots[i].key, in->summaries.slots[i].len);
		k.n = in->summaries.slots[i].len;
		unsigned char packed[DP_SUMMARY_PACKED_MAX];
		rc = put(in, DP_DB_SUMMARIES, &k, packed, dp_summary_pack(&s->s, packed), 0);
		/* Its ranks key: the metric is the key's second field. */
		size_t pos = 0, dn, mn;
		const char *dfn, *metric;
		assert(s->task); /* summaries are made for a task of the batch (task_summary) */
		if (!rc && s->task && dp_key_get_str(k.b, k.n, &pos, &dfn, &dn) &&
		    dp_key_get_str(k.b, k.n, &pos, &metric, &mn))
			rc = rank_update(in, s->task, metric, mn, s->has_stored ? &s->stored : NULL, &s->s);
		s->stored = s->s;
		s->has_stored = true;
		s->dirty = false;
	}
	if (!rc)
		rc = sorted_dirty(&in->tasks, task_dirty, &items, &n);
	for (size_t i = 0; i < n && !rc; i++) {
		dp_task_state *t = items[i].state;
		dp_key k;
		if (t->recompute && (rc = recompute_task(in, t)))
			break;
		if ((rc = task_encode(t, &in->scratch)) || (rc = task_stored(in, t)))
			break;
		dp_key_reset(&k);
		memcpy(k.b, items[i].key, items[i].n);
		k.n = items[i].n;
		rc = put_ordered(in, DP_DB_TASKS, &k, in->scratch.data, in->scratch.len);
		t->dirty = false;
		if (rc == 0 && t->health_dirty) {
			unsigned char packed[DP_HEALTH_PACKED_MAX];
			rc = put_ordered(in, DP_DB_HEALTH, &k, packed, dp_health_pack(t->health, packed));
			t->health_dirty = false;
		}
		/* The running database lists exactly the RUNNING tasks, for the
		 * liveness sweep. */
		bool running = strcmp(t->status, "RUNNING") == 0;
		if (rc == 0 && running != t->was_running) {
			MDB_val key = dp_key_val(&k), none = { 0, "" };
			int mrc = running ? mdb_put(in->txn, in->ix->dbi[DP_DB_RUNNING], &key, &none, 0)
					  : mdb_del(in->txn, in->ix->dbi[DP_DB_RUNNING], &key, NULL);
			rc = mrc && mrc != MDB_NOTFOUND ? lmdb_fail(mrc, "running") : 0;
			t->was_running = running;
		}
	}
	free(items);
	/* Progress, in path order too. */
	if (!rc && in->ntouched > 1)
		qsort(in->touched, in->ntouched, sizeof(*in->touched), cmp_seg_rel);
	if (!rc)
		rc = flush_counts(in);
	for (size_t i = 0; i < in->ntouched && !rc; i++) {
		dp_seg_state *s = in->touched[i];
		dp_key k;
		assert(s->gave_way || progress_follows(&s->pending, &s->committed));
		dp_key_reset(&k);
		memcpy(k.b, s->rel, strlen(s->rel)); /* the progress key is the bare path */
		k.n = strlen(s->rel);
		rc = put_ordered(in, DP_DB_PROGRESS, &k, &s->pending, sizeof(s->pending));
	}
	return rc;
}

static void abort_batch(dp_ingest *in)
{
	if (in->txn)
		mdb_txn_abort(in->txn);
	in->txn = NULL;
	in->batch_records = 0;
	in->listed_at = NAN; /* the pass is read again */
	in->outbox_next = in->outbox_committed;
	in->vdec.out_of_memory = in->rdec.out_of_memory = false;
	in->eb.task = NULL; /* its task's state goes with the caches */
	in->eb.dirty = false;
	caches_clear(in);
	for (size_t i = 0; i < in->ntouched; i++) {
		dp_seg_state *s = in->touched[i];
		s->pending = s->committed;
		s->touched = s->gave_way = false;
	}
	in->ntouched = 0;
}

static int grow_map(dp_ingest *in)
{
	MDB_envinfo info;
	mdb_env_info(in->ix->env, &info);
	size_t size = info.me_mapsize * 2;
	pthread_mutex_lock(&in->gate);
	int mrc = mdb_env_set_mapsize(in->ix->env, size);
	pthread_mutex_unlock(&in->gate);
	if (mrc)
		return dp_lmdb_error(mrc, "growing the index map");
	in->stats.map_grows++;
	return 0;
}

/* After a commit: a map more than three quarters full is doubled before
 * the next batch needs it.  A batch that fills the map is rolled back and
 * its whole pass read again (dp_ingest_run_with_retry), which at a million
 * segments costs a walk of a million folders per doubling; grown ahead,
 * that happens only to a batch larger than the quarter left. */
static int grow_ahead(dp_ingest *in)
{
	MDB_envinfo info;
	MDB_stat st;
	if (mdb_env_info(in->ix->env, &info) || mdb_env_stat(in->ix->env, &st))
		return 0; /* the batch that fills it grows it */
	uint64_t used = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
	return used > info.me_mapsize / 4 * 3 ? grow_map(in) : 0;
}

int dp_ingest_commit(dp_ingest *in)
{
	int rc, mrc;

	if (!in->txn)
		return 0;
	rc = flush_caches(in);
	/* A value of the index that could not be decoded for want of memory
	 * (here or while flushing, which recomputes summaries) was taken as
	 * absent: the batch would write wrong state. */
	if (rc == 0 && (in->vdec.out_of_memory || in->rdec.out_of_memory))
		rc = dp_error(DNNPROV_ENOMEM, "out of memory decoding a record or an index value");
	if (rc == 0) {
		double now = dp_now();
		MDB_val k = { 11, "last_commit" }, v = { sizeof(now), &now };
		mrc = mdb_put(in->txn, in->ix->dbi[DP_DB_META], &k, &v, 0);
		rc = mrc ? lmdb_fail(mrc, "meta") : 0;
	}
	if (rc == 0 && !isnan(in->listed_at)) {
		/* Every segment that existed then is in the index now: queries
		 * compare it with the dataflow folders' times (query/fresh.c). */
		MDB_val k = { 9, "listed_at" }, v = { sizeof(in->listed_at), &in->listed_at };
		mrc = mdb_put(in->txn, in->ix->dbi[DP_DB_META], &k, &v, 0);
		rc = mrc ? lmdb_fail(mrc, "meta") : 0;
	}
	if (rc == 0)
		rc = health_meta(in);
	if (rc == 0 && !in->log_dir_stored && in->opts.log_dir) {
		/* For queries given only the index: where its logs are, to tell
		 * how far behind them it is. */
		MDB_val k = { 7, "log_dir" }, v = { strlen(in->opts.log_dir), (void *)in->opts.log_dir };
		mrc = mdb_put(in->txn, in->ix->dbi[DP_DB_META], &k, &v, 0);
		rc = mrc ? lmdb_fail(mrc, "meta") : 0;
	}
	if (rc) {
		abort_batch(in);
		return rc;
	}
	mrc = mdb_txn_commit(in->txn);
	in->txn = NULL;
	if (mrc) {
		abort_batch(in);
		return mrc == MDB_MAP_FULL || mrc == MDB_TXN_FULL ? lmdb_fail(mrc, "committing")
								  : dp_index_write_error(in->ix, mrc, "committing");
	}
	in->stats.commits++;
	in->log_dir_stored = in->rules_stored = true;
	in->outbox_committed = in->outbox_next;
	in->ndelivered = 0;
	in->listed_at = NAN;
	in->stats.records += in->batch_records;
	in->batch_records = 0;
	caches_clear(in);
	for (size_t i = 0; i < in->ntouched; i++) {
		dp_seg_state *s = in->touched[i];
		s->committed = s->pending;
		s->touched = s->gave_way = false;
		s->in_index = true;
	}
	in->ntouched = 0;
	/* What was just stored goes to the notifier (a failure to read the
	 * outbox now is tried again at the next call). */
	if (in->opts.notifier)
		dp_ingest_notify(in, NULL);
	/* No transaction of this process is open (LMDB's condition). */
	return grow_ahead(in);
}

static int begin_batch(dp_ingest *in);

int dp_ingest_note_listing(dp_ingest *in, double started, bool write_now)
{
	in->listed_at = started;
	return write_now ? begin_batch(in) : 0;
}

static int begin_batch(dp_ingest *in)
{
	int mrc;
	if (in->txn)
		return 0;
	assert(in->ix->writable);
	mrc = mdb_txn_begin(in->ix->env, NULL, 0, &in->txn);
	if (mrc)
		return dp_lmdb_error(mrc, "beginning a write transaction");
	in->batch_started = dp_monotonic();
	return 0;
}

/* Whether the open batch holds as much as one may (see bulk). */
static bool batch_full(const dp_ingest *in)
{
	if (!in->bulk)
		return in->batch_records >= in->opts.batch_records;
	return in->batch_records >= in->bulk_records || in->tasks.n >= in->opts.batch_records;
}

bool dp_ingest_batch_due(const dp_ingest *in)
{
	return in->txn && (batch_full(in) || (dp_monotonic() - in->batch_started) * 1000.0 >= in->opts.batch_ms);
}

/* ---- reading a segment -------------------------------------------------------------------- */

/* Sets the segment's names, as exact-size strings: the indexer keeps a
 * state per segment, and a log tree can hold hundreds of thousands. */
static int set_identity(dp_seg_state *s, const char *df, size_t dn, const char *task, size_t tn)
{
	if (!dp_tag_valid(df, dn) || !dp_tag_valid(task, tn))
		return -1;
	if (s->df && strlen(s->df) == dn && memcmp(s->df, df, dn) == 0 && strlen(s->task) == tn &&
	    memcmp(s->task, task, tn) == 0)
		return 0;
	char *d = str_dup((dp_str){ df, (uint32_t)dn }), *t = str_dup((dp_str){ task, (uint32_t)tn });
	if (!d || !t) {
		free(d);
		free(t);
		return -1;
	}
	free(s->df);
	free(s->task);
	s->df = d;
	s->task = t;
	return 0;
}

/* Whether a whole header names another dataflow or task than the folder
 * of rel (<dataflow>/<task>/<file>). */
static bool header_elsewhere(const dp_segment_header *h, const char *rel)
{
	const char *b = strchr(rel, '/'), *c = b ? strchr(b + 1, '/') : NULL;
	if (!h->valid || !c)
		return false;
	size_t dn = (size_t)(b - rel), tn = (size_t)(c - b - 1);
	return strlen(h->dataflow) != dn || memcmp(h->dataflow, rel, dn) != 0 || strlen(h->task) != tn ||
	       memcmp(h->task, b + 1, tn) != 0;
}

/* Fills in the segment's dataflow and task from its path, rel being
 * <dataflow>/<task>/<file>; a whole header must name the same two, or a
 * segment copied into another dataflow's or task's folder would be
 * indexed where its header says, unseen.  Returns 0, 1 with `why` set
 * (a problem of the segment: it is not indexed), or DNNPROV_ENOMEM. */
static int seg_identity(dp_seg_state *s, const dp_segment_header *h, char *why, size_t n)
{
	snprintf(s->run, sizeof(s->run), "%s", h->valid ? h->run : "");
	s->boot = h->valid && h->boot[0] ? dp_crc32c(0, h->boot, strlen(h->boot)) : 0;
	const char *a = s->rel, *b = strchr(a, '/'), *c = b ? strchr(b + 1, '/') : NULL;
	if (!b || !c || strchr(c + 1, '/') || !dp_tag_valid(a, (size_t)(b - a)) ||
	    !dp_tag_valid(b + 1, (size_t)(c - b - 1))) {
		snprintf(why, n, "not in a <dataflow>/<task> folder of the log folder");
		return 1;
	}
	size_t dn = (size_t)(b - a), tn = (size_t)(c - b - 1);
	if (header_elsewhere(h, s->rel)) {
		snprintf(why, n, "its header names %.24s/%.24s, not the folder it is in", h->dataflow, h->task);
		return 1;
	}
	return set_identity(s, a, dn, b + 1, tn) ? dp_error(DNNPROV_ENOMEM, "out of memory") : 0;
}

#define NO_IDENTITY 2 /* internal: identify() stored the segment's one problem */

/* Takes the segment's identity from its header (or path); a segment that
 * has none is one problem over its `size` bytes and is never read again.
 * Returns 0, NO_IDENTITY when it had none, or an error (MAP_FULL_RETRY
 * too). */
static int identify(dp_ingest *in, dp_seg_state *s, const dp_segment_header *hdr, uint64_t size)
{
	char why[112];
	int rc = seg_identity(s, hdr, why, sizeof(why));
	if (rc <= 0)
		return rc;
	rc = store_problem(in, s, 0, size, DP_PROBLEM_BAD_HEADER, why);
	s->pending.sealed = 1;
	if (size > s->pending.offset) /* a file cut since keeps what was read */
		s->pending.offset = size;
	return rc ? rc : NO_IDENTITY;
}

/* A segment that cannot be read now (permissions, an I/O error) is told
 * once, tried again at every pass, and never recorded as a problem of the
 * data, since nothing is known to be wrong with its bytes.  The other
 * segments of its task wait for it: read past it, an epoch would meet a task
 * whose begin record is still unread and be skipped for good. */
static void **unreadable_slot(dp_ingest *in, const dp_seg_state *s, bool create)
{
	const char *slash = strrchr(s->rel, '/');
	size_t len = slash ? (size_t)(slash - s->rel) : 0;
	return dp_map_slot(&in->unreadable_in, s->rel, len, create);
}

static void set_unreadable(dp_ingest *in, dp_seg_state *s, bool unreadable)
{
	if (s->unreadable == unreadable)
		return;
	void **n = unreadable_slot(in, s, unreadable);
	if (n)
		*n = (void *)((uintptr_t)*n + (unreadable ? 1 : (uintptr_t)-1));
	s->unreadable = unreadable;
}

static void mark_unreadable(dp_ingest *in, dp_seg_state *s, uint64_t offset)
{
	if (!s->unreadable_told && in->opts.unreadable)
		in->opts.unreadable(in->opts.report_ctx, s->rel, offset, dnnprov_errmsg());
	s->unreadable_told = true;
	set_unreadable(in, s, true);
}

void dp_ingest_forget_unreadable(dp_ingest *in)
{
	for (size_t i = 0; i < in->segs.cap; i++) {
		dp_seg_state *s = in->segs.slots[i].value;
		if (s)
			s->unreadable = s->waiting = false;
	}
	dp_map_clear(&in->unreadable_in);
}

size_t dp_ingest_unread_count(const dp_ingest *in, size_t *waiting)
{
	size_t n = 0, w = 0;
	for (size_t i = 0; i < in->segs.cap; i++) {
		const dp_seg_state *s = in->segs.slots[i].value;
		if (s && !s->gone) {
			n += s->unreadable;
			w += s->waiting;
		}
	}
	if (waiting)
		*waiting = w;
	return n + w;
}

/* Frames as a reader yields them, or as the loader kept them (a reader's
 * results from one of them on, prefetch.h). */
typedef struct frames {
	dp_reader *r;
	const dp_prefetched *pf;
	size_t i;
	uint64_t offset; /* dp_reader_offset() after the last */
} frames;

static int frames_next(frames *fs, dp_frame *fr, dp_problem *pb, const dp_prefetched_frame **pre)
{
	if (fs->r) {
		int res = dp_reader_next(fs->r, fr, pb);
		fs->offset = dp_reader_offset(fs->r);
		*pre = NULL;
		return res;
	}
	const dp_prefetched_frame *f = &fs->pf->f[fs->i];
	/* The last kept result ends the reading (prefetch.c): never past it. */
	assert(fs->i < fs->pf->n);
	fs->i += fs->i + 1 < fs->pf->n;
	*fr = f->frame;
	*pb = f->problem;
	*pre = f->res == DP_READ_RECORD && fs->pf->decoded ? f : NULL;
	fs->offset = f->next;
	return f->res;
}

/* Applies what the reader yields from its position, from a file or from
 * memory (dp_ingest_chunk, the loader's): records, problems and the seal,
 * until the end, a torn tail, a read error (*res < 0) or, when `more` is
 * not NULL, a full batch (*more set).  Returns 0 or the error of applying
 * a frame. */
static int read_frames(dp_ingest *in, dp_seg_state *s, frames *fs, bool *more, int *res)
{
	const dp_prefetched_frame *pre;
	dp_frame fr;
	dp_problem pb;
	int rc = 0;

	while ((*res = frames_next(fs, &fr, &pb, &pre)) > 0) {
		if (*res == DP_READ_TORN)
			break;
		if (*res == DP_READ_PROBLEM) {
			if (!(s->pending.flags & DP_PROGRESS_CONFLICT)) /* else part of its one problem */
				rc = store_problem(in, s, pb.offset, pb.length, pb.kind, dp_problem_name(pb.kind));
		} else if (*res == DP_READ_SEAL) {
			s->pending.sealed = 1;
		} else {
			frame_ctx f = { s, fr.offset, fr.payload, fr.length };
			rc = apply_record(in, &f, pre);
			in->batch_records++;
		}
		if (rc)
			return rc;
		s->pending.offset = fs->offset;
		if (more && batch_full(in)) {
			*more = true; /* let the caller commit, then come back */
			break;
		}
	}
	return s->pending.flags & DP_PROGRESS_CONFLICT ? conflict_read(in, s) : 0;
}

/* Where a segment's bytes come from: its file, read now, or what the
 * loader (loader.h) read of it ahead, when that holds the offset the
 * segment is read from. */
typedef struct seg_source {
	const dp_prefetched *pf; /* NULL: the file */
	ptrdiff_t first;         /* the loader's first result to replay */
	char *path;
	unsigned mode;           /* its file type; 0: unknown */
	uint64_t size;
} seg_source;

/* Whether what the loader read of a segment says what reading its file
 * from `offset` would have: its failure to open, its type, that nothing
 * is new, the header's failure, or results replayed from one at offset
 * (*first).  Otherwise the file is read now (a batch read it further since,
 * or it was read from elsewhere). */
static bool prefetched_holds(const dp_prefetched *p, uint64_t offset, ptrdiff_t *first)
{
	const dp_segment_image *img = &p->img;
	*first = -1;
	if (img->err || img->mode != S_IFREG || p->open_rc)
		return true;
	if (img->unread) /* nothing past its size */
		return offset >= img->size && offset > 0;
	uint64_t fs = p->hdr.frames_start;
	/* A reader from before the first frame starts at it (with the header's
	 * problem, when it has one); from a frame, there. */
	if ((offset <= fs) != (p->from <= fs))
		return false;
	*first = dp_prefetched_at(p, offset > fs ? offset : fs);
	return *first >= 0;
}

/* The file's type and size (lstat: by the rule of logger/scan.h, what is no
 * regular file there, a FIFO or a link to /dev/zero named by an inotify
 * event, is never opened; the indexer tells it).  0, or 1 when it is gone. */
static int source_stat(seg_source *src)
{
	struct stat st;
	if (src->pf) {
		src->mode = src->pf->img.err ? 0 : src->pf->img.mode;
		src->size = src->pf->img.size;
		return src->pf->img.err == ENOENT;
	}
	if (lstat(src->path, &st) != 0) {
		src->mode = 0;
		return errno == ENOENT;
	}
	src->mode = st.st_mode & S_IFMT;
	src->size = (uint64_t)st.st_size;
	return 0;
}

/* Opens the frames from `from`: 0, or what dp_reader_open returns, with
 * its detail. */
static int source_open(const seg_source *src, uint64_t from, frames *fs, dp_segment_header *hdr)
{
	const dp_prefetched *p = src->pf;
	if (!p)
		return dp_reader_open(src->path, from, &fs->r, hdr);
	if (p->img.err)
		return dp_error(DNNPROV_EIO, "%s", p->img.why);
	if (p->open_rc)
		return dp_error(p->open_rc, "%s", p->open_why);
	*hdr = p->hdr;
	fs->pf = p;
	fs->i = (size_t)src->first;
	fs->offset = p->f[fs->i].at;
	return 0;
}

int dp_ingest_segment(dp_ingest *in, dp_seg_state *s, const dp_prefetched *pf, bool *more)
{
	dp_segment_header hdr;
	frames fs = { 0 };
	seg_source src = { 0 };
	int rc, res;

	*more = false;
	if (s->pending.sealed || s->gone)
		return 0;
	void **blocked = unreadable_slot(in, s, false);
	s->waiting = !s->unreadable && blocked && *blocked != NULL;
	if (s->waiting)
		return 0;
	src.pf = pf && prefetched_holds(pf, s->pending.offset, &src.first) ? pf : NULL;
	src.path = dp_path_join(in->opts.log_dir, s->rel);
	if (!src.path)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	if (source_stat(&src)) {
		s->gone = true; /* deleted: what was indexed stays */
		set_unreadable(in, s, false);
		free(src.path);
		return 0;
	}
	if (!src.mode && !src.pf) {
		free(src.path);
		return 0;
	}
	s->not_file = !src.mode || src.mode == S_IFREG ? 0 : src.mode;
	if (s->not_file) {
		set_unreadable(in, s, false);
		free(src.path);
		return 0;
	}
	if (src.mode && src.size <= s->pending.offset && s->pending.offset > 0) {
		set_unreadable(in, s, false); /* everything it holds has been read */
		free(src.path);
		return 0; /* nothing new */
	}
	rc = source_open(&src, s->pending.offset, &fs, &hdr);
	if (rc == DNNPROV_ETRUNCATED) {
		/* Being created, or its writer died before the header was whole:
		 * recorded as known and open, read again when it grows. */
		rc = 0;
		if (!s->in_index || s->pending.size_seen != src.size) {
			if ((rc = begin_batch(in)) == 0 && (rc = seg_touch(in, s)) == 0)
				s->pending.size_seen = src.size;
		}
		free(src.path);
		return rc;
	}
	if (rc == DNNPROV_ENOMEM) {
		free(src.path);
		return rc;
	}
	if (rc && rc != DNNPROV_EVERSION) {
		mark_unreadable(in, s, 0);
		free(src.path);
		return 0;
	}
	int open_rc = rc;
	if ((rc = begin_batch(in)) || (rc = seg_touch(in, s)))
		goto out;
	set_unreadable(in, s, false); /* it opened: whatever follows, it was read */
	if (open_rc == DNNPROV_EVERSION) {
		/* A newer format: recorded once, then left alone. */
		rc = store_problem(in, s, 0, src.size, DP_PROBLEM_VERSION, dnnprov_errmsg());
		s->pending.sealed = 1;
		if (src.size > s->pending.offset) /* a file cut since keeps what was read */
			s->pending.offset = src.size;
		goto out;
	}
	if ((rc = identify(in, s, &hdr, src.size)) != 0) {
		rc = rc == NO_IDENTITY ? 0 : rc;
		goto out;
	}
	if ((rc = read_frames(in, s, &fs, more, &res)))
		goto out;
	if (res == DNNPROV_ENOMEM) {
		rc = res;
		goto out;
	}
	if (res < 0) {
		/* What was read before the failure stays in the batch; the rest is
		 * read again from pending.offset at the next pass. */
		mark_unreadable(in, s, s->pending.offset);
		goto out;
	}
	set_unreadable(in, s, false);
	s->unreadable_told = false; /* read to its end: told again if it fails again */
	/* Also past the segment header when no frame follows it yet. */
	if (s->pending.offset < fs.offset)
		s->pending.offset = fs.offset;
	s->pending.size_seen = src.size;
out:
	dp_reader_close(fs.r);
	free(src.path);
	return rc;
}

int dp_ingest_sweep(dp_ingest *in, dp_alive_fn alive, void *ctx, size_t *lost)
{
	MDB_txn *txn;
	dp_scan sc;
	dp_key all;
	MDB_val k, v;
	dp_path_list dead = { 0 }; /* keys (df NUL task NUL), as paths are strings */
	int mrc, rc;

	*lost = 0;
	if ((rc = dp_index_read(in->ix, &txn)))
		return rc;
	dp_key_reset(&all);
	if ((rc = dp_scan_open(&sc, in->ix, txn, DP_DB_RUNNING, &all, NULL))) {
		mdb_txn_abort(txn);
		return rc;
	}
	while (rc == 0 && (mrc = dp_scan_next(&sc, &k, &v)) == DP_SCAN_ROW) {
		size_t pos = 0;
		const char *df, *task;
		size_t dn, tn;
		MDB_val tv;
		dp_task_fields f;
		if (!dp_key_get_str(k.mv_data, k.mv_size, &pos, &df, &dn) ||
		    !dp_key_get_str(k.mv_data, k.mv_size, &pos, &task, &tn))
			continue;
		if ((mrc = mdb_get(txn, in->ix->dbi[DP_DB_TASKS], &k, &tv)) != 0) {
			if (mrc != MDB_NOTFOUND)
				rc = dp_lmdb_error(mrc, "tasks");
			continue;
		}
		if (dp_task_fields_parse(tv.mv_data, tv.mv_size, &f) != 0)
			continue;
		if (alive(ctx, df, task, &f))
			continue;
		char key[2 * DNNPROV_NAME_MAX + 4];
		snprintf(key, sizeof(key), "%.*s/%.*s", (int)dn, df, (int)tn, task);
		rc = dp_path_list_add(&dead, key);
	}
	if (rc == 0 && mrc < 0)
		rc = mrc;
	dp_scan_close(&sc);
	mdb_txn_abort(txn);
	for (size_t i = 0; i < dead.n && rc == 0; i++) {
		char *slash = strchr(dead.paths[i], '/');
		dp_task_state *t;
		*slash = '\0';
		if ((rc = begin_batch(in)) || (rc = task_get(in, dead.paths[i], slash + 1, &t)))
			break;
		/* The open batch may have ended or resumed it meanwhile. */
		if (strcmp(t->status, "RUNNING") == 0) {
			snprintf(t->status, sizeof(t->status), "LOST");
			t->dirty = true;
			(*lost)++;
		}
	}
	dp_path_list_free(&dead);
	return rc;
}

int dp_ingest_run_with_retry(dp_ingest *in, int (*step)(dp_ingest *, void *), void *arg)
{
	for (int attempt = 0; attempt < 64; attempt++) {
		int rc = step(in, arg);
		if (rc != MAP_FULL_RETRY)
			return rc;
		abort_batch(in);
		in->stats.rollbacks++;
		if ((rc = grow_map(in)))
			return rc;
	}
	return dp_error(DNNPROV_EINDEX, "the index map could not be grown enough");
}

int dp_ingest_init(dp_ingest *in, dp_index *ix, const dp_indexer_options *opts)
{
	memset(in, 0, sizeof(*in));
	pthread_mutex_init(&in->gate, NULL);
	in->ix = ix;
	in->opts = *opts;
	in->listed_at = NAN;
	if (opts->rules)
		in->rules = *opts->rules;
	else
		dp_rules_defaults(&in->rules);
	in->outbox_next = in->outbox_committed = UINT64_MAX;
	in->bulk_records = in->opts.batch_records ? in->opts.batch_records : 100000;
	if (!in->opts.batch_records)
		in->opts.batch_records = 20000;
	if (!in->opts.batch_ms)
		in->opts.batch_ms = 50;
	return 0;
}

void dp_ingest_free(dp_ingest *in)
{
	abort_batch(in);
	dp_buf_free(&in->event_val);
	free(in->delivered);
	for (size_t i = 0; i < in->segs.cap; i++) {
		dp_seg_state *s = in->segs.slots[i].value;
		if (s) {
			free(s->rel);
			free(s->df);
			free(s->task);
			free(s);
		}
	}
	dp_map_free(&in->segs);
	dp_map_free(&in->unreadable_in);
	dp_map_free(&in->tasks);
	dp_map_free(&in->summaries);
	dp_map_free(&in->dataflows);
	dp_map_free(&in->count_deltas);
	dp_decoder_free(&in->rowdec);
	dp_decoder_free(&in->rdec);
	dp_decoder_free(&in->vdec);
	dp_buf_free(&in->scratch);
	free(in->touched);
	dp_eblock_free(&in->eb.b);
	dp_buf_free(&in->eb.enc);
	free(in->eb.prev);
	free(in->eb.pos);
	free(in->eb.vals);
	free(in->eb.tm);
	pthread_mutex_destroy(&in->gate);
}

dp_seg_state *dp_ingest_segment_state(dp_ingest *in, const char *rel)
{
	return seg_get(in, rel, true);
}

/* ---- pieces of segments from elsewhere (the stream, ship/) ---------------------------- */

/* Checks that c's bytes are whole, checksummed frames and nothing else, and
 * whether `at` starts one of them or is where they end.  Returns 0, 1 with
 * `why` set when they are not, or an error. */
static int chunk_check(const dp_chunk *c, uint64_t from, uint64_t at, dp_segment_header *hdr, bool *boundary,
		       char *why, size_t n)
{
	dp_reader *r;
	dp_frame fr;
	dp_problem pb;
	int rc, res;

	if ((rc = dp_reader_open_mem(c->segment, c->header, c->header_len, from, c->bytes, c->len, from, &r, hdr))) {
		if (rc == DNNPROV_ENOMEM)
			return rc;
		snprintf(why, n, "%s", dnnprov_errmsg());
		return 1;
	}
	*boundary = at == c->start || at == from + c->len;
	while ((res = dp_reader_next(r, &fr, &pb)) == DP_READ_RECORD || res == DP_READ_SEAL)
		*boundary = *boundary || fr.offset == at;
	dp_reader_close(r);
	if (res == DNNPROV_ENOMEM)
		return dp_error(res, "out of memory");
	if (res == DP_READ_END)
		return 0;
	snprintf(why, n, "offset %llu: %s: not whole frames of a dnnprov segment", (unsigned long long)pb.offset,
		 dp_problem_name(pb.kind));
	return 1;
}

/* The last problem of s before offset `at`: 1 with its offset and entry,
 * 0 when there is none, or an error. */
static int problem_before(dp_ingest *in, dp_seg_state *s, uint64_t at, uint64_t *off, dp_problem_entry *e)
{
	dp_scan sc;
	dp_key prefix, before;
	MDB_val k, v;
	int r;

	dp_key_reset(&prefix);
	dp_key_cstr(&prefix, s->rel);
	before = prefix;
	dp_key_u64(&before, at);
	if ((r = dp_scan_open_before(&sc, in->ix, in->txn, DP_DB_PROBLEMS, &prefix, &before)))
		return r;
	r = dp_scan_next(&sc, &k, &v);
	if (r == DP_SCAN_ROW && k.mv_size == prefix.n + 8 && v.mv_size == sizeof(*e)) {
		memcpy(e, v.mv_data, sizeof(*e));
		*off = dp_get_be64((const unsigned char *)k.mv_data + prefix.n);
	} else if (r == DP_SCAN_ROW) {
		r = 0; /* not an entry of this layout: no claim */
	}
	dp_scan_close(&sc);
	return r;
}

/* Damage a message claimed (a shipper's reader kinds; a record that failed
 * the schema was a frame, and stays) that ends at `at`. */
static bool claim_ends_at(uint64_t off, const dp_problem_entry *e, uint64_t at)
{
	return e->kind != DP_PROBLEM_NONE && e->kind < DP_PROBLEM_SCHEMA && off + e->length == at;
}

/* A problem that came in a message claims bytes without showing them;
 * valid frames show theirs, and win.  The claims that end what the index
 * holds of a segment (nothing applied after them) can still give way:
 * damage_run finds where they begin (*from; the indexed offset itself when
 * none ends there), and whether one of them sealed the segment (a claim of
 * a newer format version covers all of it). */
static int damage_run(dp_ingest *in, dp_seg_state *s, uint64_t *from, bool *sealed_by_claim)
{
	dp_problem_entry e;
	uint64_t off = 0, at = s->pending.offset;
	int r;
	*sealed_by_claim = false;
	while ((r = problem_before(in, s, at, &off, &e)) == 1 && claim_ends_at(off, &e, at)) {
		at = off;
		*sealed_by_claim = *sealed_by_claim || e.kind == DP_PROBLEM_VERSION;
	}
	*from = at;
	return r < 0 ? r : 0;
}

/* Gives the claims of damage_run from offset `to` on back to the valid
 * frames that came for them: removes them (the one that straddles `to`
 * keeps its part before it), so that the frames are applied from `to` as
 * if no claim had come. */
static int damage_withdraw(dp_ingest *in, dp_seg_state *s, uint64_t to)
{
	dp_problem_entry e;
	uint64_t off = 0;
	int r = 0;
	while (s->pending.offset > to && (r = problem_before(in, s, s->pending.offset, &off, &e)) == 1 &&
	       claim_ends_at(off, &e, s->pending.offset)) {
		dp_key k;
		dp_key_reset(&k);
		dp_key_cstr(&k, s->rel);
		dp_key_u64(&k, off);
		if (e.kind == DP_PROBLEM_VERSION)
			s->pending.sealed = 0; /* it sealed the segment */
		if (off < to) {
			s->pending.bytes_skipped -= e.length - (to - off);
			e.length = to - off;
			r = put(in, DP_DB_PROBLEMS, &k, &e, sizeof(e), 0);
		} else {
			MDB_val key = dp_key_val(&k);
			int mrc = mdb_del(in->txn, in->ix->dbi[DP_DB_PROBLEMS], &key, NULL);
			r = mrc ? lmdb_fail(mrc, "problems") : 0;
			s->pending.bytes_skipped -= e.length;
			s->pending.problems--;
		}
		if (r)
			return r;
		s->pending.offset = off < to ? to : off;
		s->gave_way = true;
	}
	return r < 0 ? r : 0;
}

int dp_ingest_chunk(dp_ingest *in, const dp_chunk *c, dp_chunk_outcome *outcome, char *why, size_t n)
{
	const char *a = c->segment, *b = strchr(a, '/'), *f = b ? strchr(b + 1, '/') : NULL;
	uint64_t from = c->start > c->header_len ? c->start : c->header_len;
	uint64_t end = c->problem ? c->start + c->problem_len : from + c->len;
	dp_segment_header hdr;
	dp_reader *r = NULL;
	bool boundary = true;
	dp_seg_state *s;
	int rc, res;

	*outcome = DP_CHUNK_INVALID;
	if (!b || !f || strchr(f + 1, '/') || !f[1] || !dp_tag_valid(a, (size_t)(b - a)) ||
	    !dp_tag_valid(b + 1, (size_t)(f - b - 1))) {
		snprintf(why, n, "'%.100s' names no segment (<dataflow>/<task>/<file>)", c->segment);
		return 0;
	}
	/* Offsets past any segment's end (a message's claim, unchecked by a
	 * sum that would wrap) are no piece of a segment. */
	uint64_t len = c->problem ? c->problem_len : c->len;
	if ((c->problem && len == 0) || from > DP_CHUNK_OFFSET_MAX || len > DP_CHUNK_OFFSET_MAX - from) {
		snprintf(why, n, "%llu bytes at offset %llu pass the segment limit", (unsigned long long)len,
			 (unsigned long long)c->start);
		return 0;
	}
	if (!(s = seg_get(in, c->segment, true)))
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	uint64_t p = s->pending.offset, claimed = p;
	bool give_way = false, sealed_by_claim = false;
	if (c->problem) {
		memset(&hdr, 0, sizeof(hdr));
		if (c->header_len && dp_segment_header_parse(c->header, c->header_len, &hdr) != 0) {
			snprintf(why, n, "not a valid segment header");
			return 0;
		}
	} else {
		/* Frames for bytes that problems of messages claimed since the last
		 * frame applied: they give way (damage_withdraw, below), from the
		 * first of those bytes the frames cover. */
		if (c->start < p && end > c->start && s->pending.problems &&
		    ((rc = begin_batch(in)) || (rc = damage_run(in, s, &claimed, &sealed_by_claim))))
			return rc;
		uint64_t at = c->start > claimed ? c->start : claimed;
		give_way = at < p && end > at;
		if ((rc = chunk_check(c, from, give_way ? at : p, &hdr, &boundary, why, n)) != 0)
			return rc < 0 ? rc : 0;
		if (give_way && !boundary) { /* the frames do not begin where the claims do */
			give_way = false;
			if ((rc = chunk_check(c, from, p, &hdr, &boundary, why, n)) != 0)
				return rc < 0 ? rc : 0;
		}
		if (give_way)
			p = at;
		/* A seal read from a frame ends the segment: the shipper's reader
		 * calls whatever follows it damage, never frames. */
		if (end > p && s->pending.sealed && !(give_way && sealed_by_claim)) {
			snprintf(why, n, "frames after the seal of segment %.100s: a sealed segment has none", c->segment);
			return 0;
		}
	}
	/* Every message of a segment carries its header: one that names
	 * another task is no piece of this segment (a segment copied by hand
	 * into another folder is one problem when indexed from its file). */
	if (header_elsewhere(&hdr, c->segment)) {
		snprintf(why, n, "its segment header names another dataflow or task than the folder of %.100s", c->segment);
		return 0;
	}
	if (end <= p) {
		*outcome = DP_CHUNK_HAD;
		return 0;
	}
	/* A gap: a part of the segment before it has not come yet (a publish
	 * that failed and was sent again later), or the task's previous segment
	 * is not indexed as far as the shipper had read it. */
	dp_seg_state *prev = c->after ? seg_get(in, c->after, true) : NULL;
	if (c->after && !prev)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	if (c->start > p) {
		if (p == 0)
			snprintf(why, n, "%.100s from offset %llu: the index holds nothing of it yet", c->segment,
				 (unsigned long long)c->start);
		else
			snprintf(why, n, "%.100s from offset %llu: the index holds it up to offset %llu", c->segment,
				 (unsigned long long)c->start, (unsigned long long)p);
		*outcome = DP_CHUNK_WAIT;
		return 0;
	}
	if (prev && prev->pending.offset < c->after_offset) {
		snprintf(why, n, "%.100s: the task's previous segment is indexed up to offset %llu, not %llu", c->segment,
			 (unsigned long long)prev->pending.offset, (unsigned long long)c->after_offset);
		*outcome = DP_CHUNK_WAIT;
		return 0;
	}
	if (!boundary) {
		snprintf(why, n, "offset %llu, where the index is, falls inside a frame: another segment of the same name?",
			 (unsigned long long)p);
		return 0;
	}
	if ((rc = begin_batch(in)) || (rc = seg_touch(in, s)) || (give_way && (rc = damage_withdraw(in, s, p))))
		return rc;
	*outcome = DP_CHUNK_APPLIED;
	if (c->problem) {
		if (!c->header_len)
			hdr.frames_start = DP_SEGMENT_FIXED;
		if ((rc = identify(in, s, &hdr, end)) != 0)
			return rc == NO_IDENTITY ? 0 : rc;
		/* What the index holds of it already (a region the shipper read
		 * again after the file grew) is not a problem twice. */
		uint64_t at = c->start > p ? c->start : p;
		if (!(s->pending.flags & DP_PROGRESS_CONFLICT) && /* else part of its one problem */
		    (rc = store_problem(in, s, at, end - at, c->problem,
					c->why ? c->why : dp_problem_name((dp_problem_kind)c->problem))))
			return rc;
		if (c->problem == DP_PROBLEM_VERSION)
			s->pending.sealed = 1;
	} else {
		if ((rc = dp_reader_open_mem(c->segment, c->header, c->header_len, from, c->bytes, c->len,
					     p > from ? p : from, &r, &hdr)))
			return rc;
		frames fs = { .r = r };
		if ((rc = identify(in, s, &hdr, end)) == 0 && (rc = read_frames(in, s, &fs, NULL, &res)) == 0 && res < 0)
			rc = res;
		dp_reader_close(r);
		if (rc)
			return rc == NO_IDENTITY ? 0 : rc;
	}
	s->pending.offset = end;
	s->pending.size_seen = end;
	return s->pending.flags & DP_PROGRESS_CONFLICT ? conflict_read(in, s) : 0;
}

int dp_ingest_put_meta(dp_ingest *in, const char *key, const void *value, size_t n)
{
	int rc = begin_batch(in);
	if (rc)
		return rc;
	MDB_val k = { strlen(key), (void *)key }, v = { n, (void *)value };
	int mrc = mdb_put(in->txn, in->ix->dbi[DP_DB_META], &k, &v, 0);
	return mrc ? lmdb_fail(mrc, "meta") : 0;
}

/* ---- removing a task (dnnprov delete) -------------------------------------------------- */

/* Deletes every key of db that starts with prefix[0..n). */
static int del_prefix(dp_ingest *in, dp_db db, const void *prefix, size_t n)
{
	dp_scan sc;
	dp_key p;
	MDB_val k, v;
	int r, mrc = 0;

	dp_key_reset(&p);
	if (n > DP_KEY_MAX)
		return 0; /* no key has such a prefix */
	memcpy(p.b, prefix, n);
	p.n = n;
	if ((r = dp_scan_open(&sc, in->ix, in->txn, db, &p, NULL)))
		return r;
	/* A deletion moves the cursor to the next key: start again from the
	 * prefix each time. */
	while ((r = dp_scan_next(&sc, &k, &v)) == DP_SCAN_ROW) {
		if ((mrc = mdb_cursor_del(sc.c, 0)))
			break;
		dp_scan_seek(&sc, &p);
	}
	dp_scan_close(&sc);
	if (mrc)
		return lmdb_fail(mrc, dp_db_names[db]);
	return r < 0 ? r : 0;
}

static int del_key(dp_ingest *in, dp_db db, dp_key *k)
{
	MDB_val key = dp_key_val(k);
	int mrc = mdb_del(in->txn, in->ix->dbi[db], &key, NULL);
	return mrc && mrc != MDB_NOTFOUND ? lmdb_fail(mrc, dp_db_names[db]) : 0;
}

/* The keys of a task that do not start with (df, task): its summaries (by
 * metric) and its elements (by transformation and set), named by the
 * dataflow's model. */
static int drop_by_spec(dp_ingest *in, const char *df, const char *task)
{
	dp_key k;
	MDB_val key, val;
	dp_model m;
	int rc = 0;

	dp_key_reset(&k);
	dp_key_cstr(&k, df);
	key = dp_key_val(&k);
	int mrc = mdb_get(in->txn, in->ix->dbi[DP_DB_DATAFLOWS], &key, &val);
	if (mrc)
		return mrc == MDB_NOTFOUND ? 0 : lmdb_fail(mrc, "dataflows");
	if ((rc = dp_model_read(val.mv_data, val.mv_size, df, &m))) {
		dp_model_free(&m);
		return rc;
	}
	for (size_t i = 0; i < m.nmetrics && !rc; i++) {
		dp_key_reset(&k);
		dp_key_cstr(&k, df);
		dp_key_cstr(&k, m.metrics[i]);
		dp_key_cstr(&k, task);
		if (k.overflow)
			continue;
		/* Its ranks key first, named by the summary's value. */
		dp_summary was;
		MDB_val skey = dp_key_val(&k), sv;
		int got = mdb_get(in->txn, in->ix->dbi[DP_DB_SUMMARIES], &skey, &sv);
		if (got && got != MDB_NOTFOUND)
			return lmdb_fail(got, "summaries");
		if (got == 0 && dp_summary_unpack(sv.mv_data, sv.mv_size, &was)) {
			dp_task_state gone = { 0 };
			snprintf(gone.df, sizeof(gone.df), "%s", df);
			snprintf(gone.task, sizeof(gone.task), "%s", task);
			rc = rank_update(in, &gone, m.metrics[i], strlen(m.metrics[i]), &was, NULL);
		}
		if (!rc)
			rc = del_key(in, DP_DB_SUMMARIES, &k);
	}
	/* Elements are of user-defined sets only. */
	for (size_t i = 0; i < m.ntfs && !rc; i++)
		for (size_t j = 0; !m.tfs[i].builtin && j < m.tfs[i].nsets && !rc; j++) {
			dp_key_reset(&k);
			dp_key_cstr(&k, df);
			dp_key_cstr(&k, m.tfs[i].name);
			dp_key_cstr(&k, m.tfs[i].sets[j].name);
			dp_key_cstr(&k, task);
			rc = k.overflow ? 0 : del_prefix(in, DP_DB_ELEMENTS, k.b, k.n);
		}
	dp_model_free(&m);
	return rc;
}

/* Forgets what the indexer knew of the task's segments: if they come back
 * (a restore), they are read from the start, as new. */
static void forget_segments(dp_ingest *in, const char *df, const char *task)
{
	size_t dn = strlen(df), tn = strlen(task);
	for (size_t i = 0; i < in->segs.cap; i++) {
		dp_seg_state *s = in->segs.slots[i].value;
		if (!s || strncmp(s->rel, df, dn) != 0 || s->rel[dn] != '/' || strncmp(s->rel + dn + 1, task, tn) != 0 ||
		    s->rel[dn + 1 + tn] != '/')
			continue;
		memset(&s->committed, 0, sizeof(s->committed));
		s->pending = s->committed;
		s->run[0] = '\0';
		s->touched = s->gone = s->unreadable = s->unreadable_told = s->waiting = s->in_index = false;
	}
	char folder[2 * DNNPROV_NAME_MAX + 2];
	int n = snprintf(folder, sizeof(folder), "%s/%s", df, task);
	void **slot = dp_map_slot(&in->unreadable_in, folder, (size_t)n, false);
	if (slot)
		*slot = NULL;
}

/* The entity index's keys of a task's lineage records (prefix: df task). */
static int drop_entity_keys(dp_ingest *in, const char *df, const char *task, const dp_key *prefix)
{
	dp_scan sc;
	MDB_val k, v;
	msgpack_object o;
	dp_record r;
	dp_key e;
	int rc;

	if ((rc = dp_scan_open(&sc, in->ix, in->txn, DP_DB_LINEAGE, prefix, NULL)))
		return rc;
	while ((rc = dp_scan_next(&sc, &k, &v)) == DP_SCAN_ROW) {
		if (k.mv_size < prefix->n + 16 || dp_decode(&in->vdec, v.mv_data, v.mv_size, &o) != 0 ||
		    dp_record_parse(&o, &r) != 0 || (r.kind != DP_REC_USED && r.kind != DP_REC_GENERATED))
			continue;
		entity_key(&e, r.u.entity.fingerprint, r.kind == DP_REC_GENERATED, df, task,
			   (const unsigned char *)k.mv_data + k.mv_size - 16);
		if (!e.overflow && (rc = del_key(in, DP_DB_ENTITIES, &e)))
			break;
	}
	dp_scan_close(&sc);
	return rc < 0 ? rc : 0;
}

/* Deletes, in the open batch, everything derived from a task's records:
 * its value, epochs, adaptations, tests, elements, layers, summaries,
 * hyperparameter index entries, tags and lineage (not its segments' progress and
 * problems, nor its dataflow). */
static int drop_task_data(dp_ingest *in, const char *df, const char *task)
{
	dp_key k;
	MDB_val key, val;
	dp_buf hyps = { 0 };
	int rc = 0;

	dp_key_reset(&k);
	dp_key_cstr(&k, df);
	dp_key_cstr(&k, task);
	key = dp_key_val(&k);
	int mrc = k.overflow ? MDB_NOTFOUND : mdb_get(in->txn, in->ix->dbi[DP_DB_TASKS], &key, &val);
	if (mrc && mrc != MDB_NOTFOUND)
		return lmdb_fail(mrc, "tasks");
	dp_task_fields f;
	bool stored = mrc == 0 && dp_task_fields_parse(val.mv_data, val.mv_size, &f) == 0;
	if (stored && f.hyps.p && (rc = dp_buf_append(&hyps, f.hyps.p, f.hyps.n)))
		return rc;
	if (stored) { /* uncounted, and out of starts */
		dp_key c;
		dp_key_reset(&c);
		dp_key_cstr(&c, df);
		if (!rc)
			rc = count_delta(in, &c, -1);
		if (!rc && start_key(&c, df, task, f.start))
			rc = del_key(in, DP_DB_STARTS, &c);
		if (rc) {
			dp_buf_free(&hyps);
			return rc;
		}
	}
	if (hyps.len) {
		msgpack_object ho;
		if (dp_decode(&in->vdec, (const unsigned char *)hyps.data, hyps.len, &ho) == 0)
			rc = hyp_index_update(in, df, task, &ho, false);
	}
	dp_buf_free(&hyps);
	if (!rc)
		rc = drop_entity_keys(in, df, task, &k);
	static const dp_db by_task[] = { DP_DB_TASKS, DP_DB_RUNNING, DP_DB_LAYERS, DP_DB_EPOCHS,
					 DP_DB_ADAPTATIONS, DP_DB_TESTS, DP_DB_TAGS, DP_DB_HEALTH, DP_DB_EVENTS,
					 DP_DB_LINEAGE };
	for (size_t i = 0; i < DP_ARRAY_LEN(by_task) && !rc; i++)
		rc = del_prefix(in, by_task[i], k.b, k.n);
	return rc ? rc : drop_by_spec(in, df, task);
}

int dp_ingest_drop_task(dp_ingest *in, const char *df, const char *task, const char *run, bool *dropped)
{
	dp_key k;
	MDB_val key, val;
	char rel[2 * DNNPROV_NAME_MAX + 3];
	int rc, mrc;

	*dropped = false;
	if ((rc = dp_ingest_commit(in)) || (rc = begin_batch(in)))
		return rc;
	dp_key_reset(&k);
	dp_key_cstr(&k, df);
	dp_key_cstr(&k, task);
	key = dp_key_val(&k);
	mrc = k.overflow ? MDB_NOTFOUND : mdb_get(in->txn, in->ix->dbi[DP_DB_TASKS], &key, &val);
	if (mrc) {
		abort_batch(in);
		return mrc == MDB_NOTFOUND ? 0 : lmdb_fail(mrc, "tasks");
	}
	dp_task_fields f;
	if (dp_task_fields_parse(val.mv_data, val.mv_size, &f) == 0 && run[0] && f.run[0] && strcmp(run, f.run) != 0) {
		abort_batch(in); /* the id names another run now */
		return 0;
	}
	if ((rc = drop_task_data(in, df, task)))
		goto fail;
	/* Progress and problems are keyed by the segment's path. */
	int n = snprintf(rel, sizeof(rel), "%s/%s/", df, task);
	if ((rc = del_prefix(in, DP_DB_PROGRESS, rel, (size_t)n)) || (rc = del_prefix(in, DP_DB_PROBLEMS, rel, (size_t)n)))
		goto fail;
	/* The dataflow goes with its last task, as a rebuild would not know it. */
	dp_key_reset(&k);
	dp_key_cstr(&k, df);
	dp_scan sc;
	if ((rc = dp_scan_open(&sc, in->ix, in->txn, DP_DB_TASKS, &k, NULL)))
		goto fail;
	int others = dp_scan_next(&sc, &key, &val);
	dp_scan_close(&sc);
	if (others < 0) {
		rc = others;
		goto fail;
	}
	if (others == DP_SCAN_END && (rc = del_key(in, DP_DB_DATAFLOWS, &k)))
		goto fail;
	if ((rc = dp_ingest_commit(in)))
		return rc;
	forget_segments(in, df, task);
	*dropped = true;
	return 0;
fail:
	abort_batch(in);
	return rc;
}
