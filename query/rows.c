/*
 * rows.c - the index's records one at a time (rows.h): a prefix scan and
 * one reader per database, for the SQL tables and any front end that
 * streams.
 */
#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "logger/mpack.h"
#include "query/rows.h"

/* ---- prefix scans ------------------------------------------------------------- */

int dp_qscan_open(MDB_txn *txn, MDB_dbi dbi, const dp_key *from, size_t prefix_len, dp_qscan *s)
{
	dp_key prefix = *from;
	prefix.n = prefix_len;
	return dp_scan_open_dbi(s, txn, dbi, &prefix, from);
}

int dp_qscan_next(dp_qscan *s, MDB_val *k, MDB_val *v)
{
	return dp_scan_next(s, k, v);
}

void dp_qscan_close(dp_qscan *s)
{
	dp_scan_close(s);
}

/* ---- values -------------------------------------------------------------------- */

/* A scalar as a field: the one mapping, for bytes read in place and for
 * decoded objects alike (containers, bin and ext are NULL). */
static dp_field field_of_scalar(const dp_mpr_scalar *v)
{
	dp_field f = { 0 };
	switch (v->kind) {
	case DP_MPR_BOOL:
	case DP_MPR_INT:
		f.type = DP_F_INT;
		f.i = v->i;
		f.d = v->d;
		break;
	case DP_MPR_BIG:
		f.type = DP_F_REAL;
		f.d = v->d;
		f.big = true;
		f.u = v->u;
		break;
	case DP_MPR_REAL:
		f.type = DP_F_REAL;
		f.d = v->d;
		break;
	case DP_MPR_STR:
		f.type = DP_F_TEXT;
		f.s = (dp_str){ v->s, v->n };
		break;
	default: break;
	}
	return f;
}

static dp_field field_of(const msgpack_object *o)
{
	dp_mpr_scalar v;
	dp_obj_scalar(o, &v);
	return field_of_scalar(&v);
}

static dp_field field_of_ev(const dp_ev *v)
{
	dp_field f = { 0 };
	if (v->type == DP_EV_INT) {
		f.type = DP_F_INT;
		f.i = v->i;
		f.d = (double)v->i;
	} else if (v->type == DP_EV_REAL) {
		f.type = DP_F_REAL;
		f.d = v->d;
	}
	return f;
}

static dp_rmap map_of(const msgpack_object *o)
{
	return (dp_rmap){ .obj = o && o->type == MSGPACK_OBJECT_MAP ? o : NULL };
}

/* ---- msgpack bytes read in place ----------------------------------------------------
 * A full decode allocates an object per value; a scan of every epoch
 * wants three fields and a few metrics of each record.  These read them
 * where they lie, every read bounds-checked, everything else skipped with
 * the structural check's own walk (dp_mp_skip).
 */
typedef dp_mpr mp_in;

static bool mp_str(mp_in *in, dp_str *s)
{
	return dp_mpr_str(in, &s->p, &s->n);
}

static bool mp_skip(mp_in *in)
{
	return dp_mpr_skip(in);
}

/* A scalar as a field, as field_of() gives it for the decoded object. */
static bool mp_field(mp_in *in, dp_field *f)
{
	dp_mpr_scalar v;
	if (!dp_mpr_value(in, &v)) {
		memset(f, 0, sizeof(*f));
		return false;
	}
	*f = field_of_scalar(&v);
	return true;
}

static bool str_is(dp_str s, const char *lit)
{
	size_t n = strlen(lit);
	return s.n == n && memcmp(s.p, lit, n) == 0;
}

/* Walks a raw map to its i-th pair, or to the pair named `name`. */
static bool raw_find(dp_rmap m, size_t i, const char *name, dp_str *key, dp_field *value)
{
	mp_in in = { m.raw, m.rawlen, 0 };
	uint32_t count;
	if (!dp_mpr_map(&in, &count))
		return false;
	for (uint32_t k = 0; k < count; k++) {
		if (!mp_str(&in, key))
			return false;
		if (name ? str_is(*key, name) : k == i)
			return mp_field(&in, value);
		if (!mp_skip(&in))
			return false;
	}
	return false;
}

/* The name of column c of an epoch block, NULL when it has no value in
 * the row (or no name). */
static const char *block_col(dp_rmap m, uint32_t c)
{
	assert(c < m.block->ncols && m.row < m.block->n); /* a cell of the block */
	uint32_t pos = m.block->col[c];
	if (m.block->v[c][m.row].type == DP_EV_NULL || pos >= m.nnames)
		return NULL;
	return m.names[pos];
}

size_t dp_rmap_size(dp_rmap m)
{
	if (m.block) {
		size_t n = 0;
		for (uint32_t c = 0; c < m.block->ncols; c++)
			n += block_col(m, c) != NULL;
		return n;
	}
	if (m.raw) {
		mp_in in = { m.raw, m.rawlen, 0 };
		uint32_t count;
		return dp_mpr_map(&in, &count) ? count : 0;
	}
	return m.obj ? ((const msgpack_object *)m.obj)->via.map.size : 0;
}

bool dp_rmap_at(dp_rmap m, size_t i, dp_str *name, dp_field *value)
{
	if (m.block) {
		for (uint32_t c = 0; c < m.block->ncols; c++) {
			const char *n = block_col(m, c);
			if (n && i-- == 0) {
				*name = (dp_str){ n, (uint32_t)strlen(n) };
				*value = field_of_ev(&m.block->v[c][m.row]);
				return true;
			}
		}
		return false;
	}
	if (m.raw)
		return raw_find(m, i, NULL, name, value);
	const msgpack_object *o = m.obj;
	if (!o || i >= o->via.map.size || o->via.map.ptr[i].key.type != MSGPACK_OBJECT_STR)
		return false;
	name->p = o->via.map.ptr[i].key.via.str.ptr;
	name->n = o->via.map.ptr[i].key.via.str.size;
	*value = field_of(&o->via.map.ptr[i].val);
	return true;
}

dp_field dp_rmap_get(dp_rmap m, const char *name)
{
	dp_str key;
	dp_field f = { 0 };
	if (m.block) {
		for (uint32_t c = 0; c < m.block->ncols; c++) {
			const char *n = block_col(m, c);
			if (n && strcmp(n, name) == 0)
				return field_of_ev(&m.block->v[c][m.row]);
		}
		return f;
	}
	if (m.raw)
		return raw_find(m, 0, name, &key, &f) ? f : (dp_field){ 0 };
	return m.obj ? field_of(dp_map_get(m.obj, name)) : f;
}

static double time_of(const msgpack_object *root)
{
	double t;
	const msgpack_object *o = dp_map_get(root, "time");
	return o && dp_obj_number(o, &t) ? t : NAN;
}

/* ---- keys ------------------------------------------------------------------------ */

static bool key_str(const MDB_val *k, size_t *pos, dp_str *out)
{
	const char *s;
	size_t n;
	if (!dp_key_get_str(k->mv_data, k->mv_size, pos, &s, &n))
		return false;
	out->p = s;
	out->n = (uint32_t)n;
	return true;
}

static int corrupt(void)
{
	return DNNPROV_ECORRUPT;
}

static int decode(dp_decoder *dec, const MDB_val *v, msgpack_object *o)
{
	int rc = dp_decode(dec, v->mv_data, v->mv_size, o);
	if (rc)
		return rc;
	return o->type == MSGPACK_OBJECT_MAP ? 0 : corrupt();
}

/* ---- one reader per database -------------------------------------------------------- */

int dp_read_task(dp_decoder *dec, const MDB_val *k, const MDB_val *v, dp_task_row *out)
{
	size_t pos = 0;
	int rc;
	(void)dec;
	memset(out, 0, sizeof(*out));
	if (!key_str(k, &pos, &out->df) || !key_str(k, &pos, &out->task))
		return corrupt();
	assert(pos <= k->mv_size);
	/* Read in place: a scan of the tasks reads thousands of them. */
	if ((rc = dp_task_fields_parse(v->mv_data, v->mv_size, &out->f)))
		return rc;
	out->hyps = (dp_rmap){ .raw = (const unsigned char *)out->f.hyps.p, .rawlen = out->f.hyps.n };
	out->facts = (dp_rmap){ .raw = (const unsigned char *)out->f.facts.p, .rawlen = out->f.facts.n };
	return 0;
}

int dp_read_tag(dp_decoder *dec, const MDB_val *k, const MDB_val *v, dp_tag_row *out)
{
	msgpack_object o;
	size_t pos = 0;
	int rc;
	memset(out, 0, sizeof(*out));
	out->time = NAN;
	if (!key_str(k, &pos, &out->df) || !key_str(k, &pos, &out->task) || !key_str(k, &pos, &out->key))
		return corrupt();
	if ((rc = decode(dec, v, &o)))
		return rc;
	const msgpack_object *t = dp_map_get(&o, "time");
	if (t && !dp_obj_number(t, &out->time))
		out->time = NAN;
	out->value = field_of(dp_map_get(&o, "value"));
	return 0;
}

int dp_read_event(const MDB_val *k, const MDB_val *v, dp_event_row *out)
{
	size_t pos = 0;
	memset(out, 0, sizeof(*out));
	if (!key_str(k, &pos, &out->df) || !key_str(k, &pos, &out->task))
		return corrupt();
	return dp_event_fields_parse(v->mv_data, v->mv_size, &out->e) ? corrupt() : 0;
}

/* A row keyed (df, task, ...): its dataflow and task from the key, its
 * value decoded. */
static int task_keyed(dp_decoder *dec, const MDB_val *k, const MDB_val *v, dp_str *df, dp_str *task, msgpack_object *o)
{
	size_t pos = 0;
	if (!key_str(k, &pos, df) || !key_str(k, &pos, task))
		return corrupt();
	return decode(dec, v, o);
}

int dp_read_lineage(dp_decoder *dec, const MDB_val *k, const MDB_val *v, dp_lineage_row *out)
{
	msgpack_object o;
	dp_record r;
	int rc;
	memset(out, 0, sizeof(*out));
	if ((rc = task_keyed(dec, k, v, &out->df, &out->task, &o)))
		return rc;
	if (dp_record_parse(&o, &r) != 0 || (r.kind != DP_REC_USED && r.kind != DP_REC_GENERATED))
		return corrupt();
	out->generated = r.kind == DP_REC_GENERATED;
	out->role = r.u.entity.role;
	out->location = r.u.entity.location;
	out->fingerprint = r.u.entity.fingerprint;
	out->size = r.u.entity.size;
	out->time = r.time;
	return 0;
}

int dp_qepochs_open(dp_qepochs *s, const dp_index *ix, MDB_txn *txn, MDB_cursor *c, const dp_key *prefix, bool has_from,
		    int64_t from)
{
	return dp_epoch_scan_open(s, ix, txn, c, prefix, has_from, from);
}

int dp_qepochs_next(dp_qepochs *s, dp_epoch_row *out)
{
	dp_epoch_at at;
	int r = dp_epoch_scan_next(s, &at);
	if (r != DP_SCAN_ROW)
		return r < 0 ? r : 0;
	memset(out, 0, sizeof(*out));
	out->df = (dp_str){ at.df, (uint32_t)at.dfn };
	out->task = (dp_str){ at.task, (uint32_t)at.taskn };
	out->epoch = at.epoch;
	out->time = at.time;
	out->elapsed = field_of_ev(&at.elapsed);
	out->metrics = (dp_rmap){ .block = at.block, .row = at.row, .names = at.names, .nnames = at.nnames };
	return 1;
}

void dp_qepochs_close(dp_qepochs *s)
{
	dp_epoch_scan_close(s);
}

int dp_read_summary(const MDB_val *k, const MDB_val *v, dp_summary_row *out)
{
	size_t pos = 0;
	memset(out, 0, sizeof(*out));
	if (!key_str(k, &pos, &out->df) || !key_str(k, &pos, &out->metric) || !key_str(k, &pos, &out->task) ||
	    !dp_summary_unpack(v->mv_data, v->mv_size, &out->s))
		return corrupt();
	return 0;
}

int dp_read_adapt(dp_decoder *dec, const MDB_val *k, const MDB_val *v, dp_adapt_row *out)
{
	msgpack_object o;
	size_t pos = 0;
	int rc;
	memset(out, 0, sizeof(*out));
	if (!key_str(k, &pos, &out->df) || !key_str(k, &pos, &out->task) ||
	    !dp_key_get_i64(k->mv_data, k->mv_size, &pos, &out->epoch) || !key_str(k, &pos, &out->hyp))
		return corrupt();
	if ((rc = decode(dec, v, &o)))
		return rc;
	out->time = time_of(&o);
	out->old_value = field_of(dp_map_get(&o, "old"));
	out->new_value = field_of(dp_map_get(&o, "new"));
	out->id = field_of(dp_map_get(&o, "id"));
	return 0;
}

int dp_read_test(dp_decoder *dec, const MDB_val *k, const MDB_val *v, dp_test_row *out)
{
	msgpack_object o;
	int rc;
	memset(out, 0, sizeof(*out));
	if ((rc = task_keyed(dec, k, v, &out->df, &out->task, &o)))
		return rc;
	out->time = time_of(&o); /* the key holds the record's position, not its time */
	out->metrics = map_of(dp_map_get(&o, "metrics"));
	return 0;
}

int dp_read_element(dp_decoder *dec, const MDB_val *k, const MDB_val *v, dp_element_row *out)
{
	msgpack_object o;
	size_t pos = 0;
	int rc;
	memset(out, 0, sizeof(*out));
	if (!key_str(k, &pos, &out->df) || !key_str(k, &pos, &out->transformation) || !key_str(k, &pos, &out->set) ||
	    !key_str(k, &pos, &out->task))
		return corrupt();
	if ((rc = decode(dec, v, &o)))
		return rc;
	out->time = time_of(&o); /* the key holds the record's position, not its time */
	out->values = map_of(dp_map_get(&o, "values"));
	return 0;
}

int dp_read_layers(dp_decoder *dec, const MDB_val *k, const MDB_val *v, dp_layers_row *out)
{
	msgpack_object o;
	size_t pos = 0;
	int rc;
	memset(out, 0, sizeof(*out));
	if (!key_str(k, &pos, &out->df) || !key_str(k, &pos, &out->task))
		return corrupt();
	if ((rc = decode(dec, v, &o)))
		return rc;
	out->time = time_of(&o);
	const msgpack_object *a = dp_map_get(&o, "layers");
	if (a && a->type == MSGPACK_OBJECT_ARRAY) {
		out->layers = a->via.array.ptr;
		out->n = a->via.array.size;
	}
	return 0;
}

bool dp_layers_at(const dp_layers_row *r, size_t i, dp_str *name, dp_str *kind, dp_field *value)
{
	if (i >= r->n)
		return false;
	const msgpack_object *l = (const msgpack_object *)r->layers + i;
	dp_field n = field_of(dp_map_get(l, "name")), k = field_of(dp_map_get(l, "kind"));
	if (n.type != DP_F_TEXT)
		return false;
	*name = n.s;
	*kind = k.type == DP_F_TEXT ? k.s : (dp_str){ NULL, 0 };
	*value = field_of(dp_map_get(l, "value"));
	return true;
}

bool dp_query_first_value(MDB_txn *txn, dp_index *ix, dp_decoder *dec, dp_str df, dp_str task, dp_str metric,
			  double *value, int64_t *epoch)
{
	dp_key key;
	dp_qepochs s;
	dp_epoch_row r;
	char name[DNNPROV_NAME_MAX + 1];
	bool found = false;

	(void)dec;
	if (metric.n > DNNPROV_NAME_MAX)
		return false;
	memcpy(name, metric.p, metric.n);
	name[metric.n] = '\0';
	dp_key_reset(&key);
	dp_key_str(&key, df.p, df.n);
	dp_key_str(&key, task.p, task.n);
	if (key.overflow || dp_qepochs_open(&s, ix, txn, NULL, &key, false, 0))
		return false;
	while (!found && dp_qepochs_next(&s, &r) == 1) {
		dp_field f = dp_rmap_get(r.metrics, name);
		if (f.type == DP_F_INT || f.type == DP_F_REAL) {
			*value = f.d;
			*epoch = r.epoch;
			found = true;
		}
	}
	dp_qepochs_close(&s);
	return found;
}
