/*
 * rows.c - the index's records one at a time (rows.h): a prefix scan and
 * one reader per database, for the SQL tables and any front end that
 * streams.
 */
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

static dp_field field_of(const msgpack_object *o)
{
	dp_field f = { 0 };
	if (!o)
		return f;
	switch (o->type) {
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		if (o->via.u64 > (uint64_t)INT64_MAX) {
			f.type = DP_F_REAL;
			f.d = (double)o->via.u64;
		} else {
			f.type = DP_F_INT;
			f.i = (int64_t)o->via.u64;
			f.d = (double)f.i;
		}
		break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		f.type = DP_F_INT;
		f.i = o->via.i64;
		f.d = (double)f.i;
		break;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		f.type = DP_F_REAL;
		f.d = o->via.f64;
		break;
	case MSGPACK_OBJECT_BOOLEAN:
		f.type = DP_F_INT;
		f.i = o->via.boolean;
		f.d = (double)f.i;
		break;
	case MSGPACK_OBJECT_STR:
		f.type = DP_F_TEXT;
		f.s.p = o->via.str.ptr;
		f.s.n = o->via.str.size;
		break;
	default:
		break;
	}
	return f;
}

static dp_rmap map_of(const msgpack_object *o)
{
	return (dp_rmap){ o && o->type == MSGPACK_OBJECT_MAP ? o : NULL, NULL, 0 };
}

/* ---- msgpack bytes read in place ----------------------------------------------------
 * A full decode allocates an object per value; a scan of every epoch
 * wants three fields and a few metrics of each record.  These read them
 * where they lie, every read bounds-checked, everything else skipped with
 * the structural check's own walk (dp_mp_skip).
 */
typedef struct mp_in {
	const unsigned char *b;
	size_t n, pos;
} mp_in;

static bool mp_need(const mp_in *in, size_t k)
{
	return in->n - in->pos >= k;
}

static bool mp_map_header(mp_in *in, uint32_t *count)
{
	if (!mp_need(in, 1))
		return false;
	unsigned char c = in->b[in->pos];
	if ((c & 0xf0) == 0x80) {
		*count = c & 0x0f;
		in->pos++;
	} else if (c == 0xde && mp_need(in, 3)) {
		*count = dp_get_be16(in->b + in->pos + 1);
		in->pos += 3;
	} else if (c == 0xdf && mp_need(in, 5)) {
		*count = dp_get_be32(in->b + in->pos + 1);
		in->pos += 5;
	} else {
		return false;
	}
	/* Every pair takes at least two bytes. */
	return *count <= (in->n - in->pos) / 2;
}

static bool mp_str(mp_in *in, dp_str *s)
{
	size_t len, hdr;
	if (!mp_need(in, 1))
		return false;
	unsigned char c = in->b[in->pos];
	if ((c & 0xe0) == 0xa0) {
		len = c & 0x1f;
		hdr = 1;
	} else if (c == 0xd9 && mp_need(in, 2)) {
		len = in->b[in->pos + 1];
		hdr = 2;
	} else if (c == 0xda && mp_need(in, 3)) {
		len = dp_get_be16(in->b + in->pos + 1);
		hdr = 3;
	} else if (c == 0xdb && mp_need(in, 5)) {
		len = dp_get_be32(in->b + in->pos + 1);
		hdr = 5;
	} else {
		return false;
	}
	if (!mp_need(in, hdr + len))
		return false;
	s->p = (const char *)in->b + in->pos + hdr;
	s->n = (uint32_t)len;
	in->pos += hdr + len;
	return true;
}

static bool mp_skip(mp_in *in)
{
	size_t next = dp_mp_skip(in->b, in->n, in->pos);
	if (!next)
		return false;
	in->pos = next;
	return true;
}

/* A scalar as a field (containers, bin and ext are skipped as NULL). */
static bool mp_field(mp_in *in, dp_field *f)
{
	dp_str s;
	memset(f, 0, sizeof(*f));
	if (!mp_need(in, 1))
		return false;
	const unsigned char *p = in->b + in->pos;
	unsigned char c = *p;
	uint64_t u;
	if (c <= 0x7f || c >= 0xe0) {
		f->type = DP_F_INT;
		f->i = (int8_t)c;
		f->d = (double)f->i;
		in->pos++;
		return true;
	}
	if ((c & 0xe0) == 0xa0 || c == 0xd9 || c == 0xda || c == 0xdb) {
		if (!mp_str(in, &s))
			return false;
		f->type = DP_F_TEXT;
		f->s = s;
		return true;
	}
	size_t need = c == 0xcc || c == 0xd0 ? 1 : c == 0xcd || c == 0xd1 ? 2 : c == 0xce || c == 0xd2 || c == 0xca ? 4
		      : c == 0xcf || c == 0xd3 || c == 0xcb ? 8 : 0;
	if (!need) {
		if (c == 0xc2 || c == 0xc3) {
			f->type = DP_F_INT;
			f->i = c == 0xc3;
			f->d = (double)f->i;
		}
		return mp_skip(in); /* nil, containers, bin, ext: NULL */
	}
	if (!mp_need(in, 1 + need))
		return false;
	p++;
	u = need == 1 ? p[0] : need == 2 ? dp_get_be16(p) : need == 4 ? dp_get_be32(p) : dp_get_be64(p);
	in->pos += 1 + need;
	switch (c) {
	case 0xca: {
		uint32_t bits = (uint32_t)u;
		float x;
		memcpy(&x, &bits, 4);
		f->type = DP_F_REAL;
		f->d = x;
		return true;
	}
	case 0xcb:
		f->type = DP_F_REAL;
		memcpy(&f->d, &u, 8);
		return true;
	case 0xd0: f->i = (int8_t)u; break;
	case 0xd1: f->i = (int16_t)u; break;
	case 0xd2: f->i = (int32_t)u; break;
	case 0xd3: f->i = (int64_t)u; break;
	default:
		if (u > (uint64_t)INT64_MAX) {
			f->type = DP_F_REAL;
			f->d = (double)u;
			return true;
		}
		f->i = (int64_t)u;
	}
	f->type = DP_F_INT;
	f->d = (double)f->i;
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
	if (!mp_map_header(&in, &count))
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

size_t dp_rmap_size(dp_rmap m)
{
	if (m.raw) {
		mp_in in = { m.raw, m.rawlen, 0 };
		uint32_t count;
		return mp_map_header(&in, &count) ? count : 0;
	}
	return m.obj ? ((const msgpack_object *)m.obj)->via.map.size : 0;
}

bool dp_rmap_at(dp_rmap m, size_t i, dp_str *name, dp_field *value)
{
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
	msgpack_object o;
	size_t pos = 0;
	int rc;
	memset(out, 0, sizeof(*out));
	if (!key_str(k, &pos, &out->df) || !key_str(k, &pos, &out->task))
		return corrupt();
	if ((rc = decode(dec, v, &o)))
		return rc;
	dp_task_fields_read(&o, &out->f);
	out->hyps = map_of(dp_map_get(&o, "hyperparameters"));
	out->facts = map_of(dp_map_get(&o, "facts"));
	return 0;
}

int dp_read_task_brief(const MDB_val *v, dp_task_brief *out)
{
	mp_in in = { v->mv_data, v->mv_size, 0 };
	uint32_t count;
	memset(out, 0, sizeof(*out));
	out->last = NAN;
	if (!mp_map_header(&in, &count))
		return corrupt();
	for (uint32_t i = 0; i < count; i++) {
		dp_str key;
		dp_field f;
		if (!mp_str(&in, &key))
			return corrupt();
		if (str_is(key, "status")) {
			if (!mp_str(&in, &out->status))
				return corrupt();
		} else if (str_is(key, "last")) {
			if (!mp_field(&in, &f))
				return corrupt();
			if (f.type == DP_F_REAL || f.type == DP_F_INT)
				out->last = f.d;
		} else if (!mp_skip(&in)) {
			return corrupt();
		}
	}
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

/* Read in place, not decoded: the full scans of the SQL tables read every
 * epoch record, and a decode would allocate some twenty objects each. */
int dp_read_epoch(dp_decoder *dec, const MDB_val *k, const MDB_val *v, dp_epoch_row *out)
{
	mp_in in = { v->mv_data, v->mv_size, 0 };
	size_t pos = 0;
	uint32_t count;
	(void)dec;
	memset(out, 0, sizeof(*out));
	out->time = NAN;
	if (!key_str(k, &pos, &out->df) || !key_str(k, &pos, &out->task) ||
	    !dp_key_get_i64(k->mv_data, k->mv_size, &pos, &out->epoch) || !mp_map_header(&in, &count))
		return corrupt();
	for (uint32_t i = 0; i < count; i++) {
		dp_str key;
		dp_field f;
		if (!mp_str(&in, &key))
			return corrupt();
		if (str_is(key, "metrics") && in.pos < in.n && (in.b[in.pos] & 0xf0) != 0x90) {
			size_t at = in.pos;
			if (!mp_skip(&in))
				return corrupt();
			uint32_t n;
			mp_in m = { in.b + at, in.pos - at, 0 };
			if (mp_map_header(&m, &n))
				out->metrics = (dp_rmap){ NULL, in.b + at, in.pos - at };
		} else if (str_is(key, "time") || str_is(key, "elapsed")) {
			if (!mp_field(&in, &f))
				return corrupt();
			if (key.n == 4 && (f.type == DP_F_INT || f.type == DP_F_REAL))
				out->time = f.d;
			else if (key.n == 7)
				out->elapsed = f;
		} else if (!mp_skip(&in)) {
			return corrupt();
		}
	}
	return 0;
}

int dp_read_summary(const MDB_val *k, const MDB_val *v, dp_summary_row *out)
{
	size_t pos = 0;
	memset(out, 0, sizeof(*out));
	if (!key_str(k, &pos, &out->df) || !key_str(k, &pos, &out->metric) || !key_str(k, &pos, &out->task) ||
	    v->mv_size != sizeof(out->s))
		return corrupt();
	memcpy(&out->s, v->mv_data, sizeof(out->s));
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
	size_t pos = 0;
	int rc;
	memset(out, 0, sizeof(*out));
	if (!key_str(k, &pos, &out->df) || !key_str(k, &pos, &out->task))
		return corrupt();
	if ((rc = decode(dec, v, &o)))
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
	dp_qscan s;
	MDB_val k, v;
	char name[DNNPROV_NAME_MAX + 1];
	bool found = false;

	if (metric.n > DNNPROV_NAME_MAX)
		return false;
	memcpy(name, metric.p, metric.n);
	name[metric.n] = '\0';
	dp_key_reset(&key);
	dp_key_str(&key, df.p, df.n);
	dp_key_str(&key, task.p, task.n);
	if (key.overflow || dp_qscan_open(txn, ix->dbi[DP_DB_EPOCHS], &key, key.n, &s))
		return false;
	while (!found && dp_qscan_next(&s, &k, &v) == 1) {
		dp_epoch_row r;
		if (dp_read_epoch(dec, &k, &v, &r))
			continue;
		dp_field f = dp_rmap_get(r.metrics, name);
		if (f.type == DP_F_INT || f.type == DP_F_REAL) {
			*value = f.d;
			*epoch = r.epoch;
			found = true;
		}
	}
	dp_qscan_close(&s);
	return found;
}

/* ---- the user-defined transformations ------------------------------------------------ */

static char *str_copy(const msgpack_object *o)
{
	if (!o || o->type != MSGPACK_OBJECT_STR)
		return NULL;
	return strndup(o->via.str.ptr, o->via.str.size);
}

void dp_qtfs_free(dp_qtf *tfs, size_t n)
{
	for (size_t i = 0; tfs && i < n; i++) {
		dp_qtf *t = &tfs[i];
		free(t->name);
		for (size_t d = 0; d < t->ndeps; d++)
			free(t->deps[d]);
		free(t->deps);
		for (size_t s = 0; s < t->nsets; s++) {
			for (size_t a = 0; a < t->sets[s].nattrs; a++) {
				free(t->sets[s].attrs[a].name);
				free(t->sets[s].attrs[a].type);
			}
			free(t->sets[s].attrs);
			free(t->sets[s].name);
		}
		free(t->sets);
	}
	free(tfs);
}

static size_t array_size(const msgpack_object *o)
{
	return o && o->type == MSGPACK_OBJECT_ARRAY ? o->via.array.size : 0;
}

static int read_set(const msgpack_object *so, dp_qset *set)
{
	const msgpack_object *attrs = dp_map_get(so, "attributes");
	set->input = dp_obj_is_str(dp_map_get(so, "direction"), "input");
	if (!(set->name = str_copy(dp_map_get(so, "name"))))
		return 1; /* skipped (or out of memory: checked by the caller) */
	set->attrs = calloc(array_size(attrs) + 1, sizeof(*set->attrs));
	if (!set->attrs)
		return -1;
	for (size_t a = 0; a < array_size(attrs); a++) {
		const msgpack_object *ao = &attrs->via.array.ptr[a];
		dp_qattr *at = &set->attrs[set->nattrs];
		at->name = str_copy(dp_map_get(ao, "name"));
		at->type = str_copy(dp_map_get(ao, "type"));
		if (at->name && at->type)
			set->nattrs++;
		else if (dp_map_get(ao, "name") && dp_map_get(ao, "type")) {
			free(at->name);
			free(at->type);
			return -1;
		} else {
			free(at->name);
			free(at->type);
		}
	}
	return 0;
}

int dp_qdf_transformations(const dp_qdataflow *d, dp_qtf **out, size_t *n)
{
	dp_decoder dec = { 0 };
	msgpack_object tfs;
	dp_qtf *list = NULL;
	size_t cnt = 0;
	int rc = 0;

	*out = NULL;
	*n = 0;
	if (!d->transformations.len)
		return 0;
	if (dp_decode(&dec, (const unsigned char *)d->transformations.data, d->transformations.len, &tfs) != 0 ||
	    tfs.type != MSGPACK_OBJECT_ARRAY) {
		rc = dec.out_of_memory ? dp_error(DNNPROV_ENOMEM, "out of memory") : 0;
		dp_decoder_free(&dec);
		return rc;
	}
	list = calloc(tfs.via.array.size + 1, sizeof(*list));
	if (!list)
		goto oom;
	for (uint32_t i = 0; i < tfs.via.array.size; i++) {
		const msgpack_object *to = &tfs.via.array.ptr[i];
		const msgpack_object *deps = dp_map_get(to, "depends_on"), *sets = dp_map_get(to, "sets");
		dp_qtf *t = &list[cnt];
		if (!(t->name = str_copy(dp_map_get(to, "name")))) {
			if (dp_map_get(to, "name") && dp_map_get(to, "name")->type == MSGPACK_OBJECT_STR)
				goto oom;
			continue;
		}
		cnt++;
		t->deps = calloc(array_size(deps) + 1, sizeof(char *));
		t->sets = calloc(array_size(sets) + 1, sizeof(dp_qset));
		if (!t->deps || !t->sets)
			goto oom;
		for (size_t k = 0; k < array_size(deps); k++)
			if ((t->deps[t->ndeps] = str_copy(&deps->via.array.ptr[k])))
				t->ndeps++;
			else if (deps->via.array.ptr[k].type == MSGPACK_OBJECT_STR)
				goto oom;
		for (size_t s = 0; s < array_size(sets); s++) {
			int r = read_set(&sets->via.array.ptr[s], &t->sets[t->nsets]);
			if (r < 0 || (r > 0 && dp_map_get(&sets->via.array.ptr[s], "name") &&
				      dp_map_get(&sets->via.array.ptr[s], "name")->type == MSGPACK_OBJECT_STR)) {
				t->nsets++; /* freed with the rest */
				goto oom;
			}
			if (r == 0)
				t->nsets++;
		}
	}
	dp_decoder_free(&dec);
	*out = list;
	*n = cnt;
	return 0;
oom:
	dp_decoder_free(&dec);
	dp_qtfs_free(list, cnt);
	return dp_error(DNNPROV_ENOMEM, "out of memory");
}
