/*
 * record.c - schema checks of decoded records (see record.h).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "logger/decode.h"
#include "logger/fingerprint.h"
#include "logger/record.h"
#include "util/map.h"

/* Containers in a record are bounded so that a hostile record cannot make
 * the indexer do unbounded work per byte; the frame size bounds them too. */
#define MAX_ENTRIES 65535

static const char *const kind_names[] = {
	[DP_REC_SPEC] = "spec",       [DP_REC_BEGIN] = "begin", [DP_REC_LAYERS] = "layers",
	[DP_REC_EPOCH] = "epoch",     [DP_REC_ADAPT] = "adapt", [DP_REC_TEST] = "test",
	[DP_REC_ELEMENT] = "element", [DP_REC_END] = "end",     [DP_REC_TAG] = "tag",
	[DP_REC_USED] = "used",       [DP_REC_GENERATED] = "generated",
	[DP_REC_REFUSED] = "refused",
};

const char *dp_record_kind_name(dp_record_kind k)
{
	return k >= DP_REC_SPEC && k <= DP_REC_LAST ? kind_names[k] : "unknown";
}

bool dp_obj_number(const msgpack_object *o, double *out)
{
	dp_mpr_scalar v;
	dp_obj_scalar(o, &v);
	if (v.kind != DP_MPR_INT && v.kind != DP_MPR_BIG && v.kind != DP_MPR_REAL)
		return false;
	*out = v.d;
	return true;
}

/* An optional count: -1 when absent. */
static int get_count(const msgpack_object *root, const char *kind, const char *key, int64_t *out)
{
	const msgpack_object *o = dp_map_get(root, key);
	*out = -1;
	if (!o)
		return 0;
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || o->via.u64 > INT64_MAX)
		return dp_error(DNNPROV_ECORRUPT, "%s record: %s is not a count", kind, key);
	*out = (int64_t)o->via.u64;
	return 0;
}

static int get_str(const msgpack_object *root, const char *kind, const char *key, bool tag,
		   bool required, dp_str *out);

static int parse_entity(const msgpack_object *root, const char *k, dp_record *rec)
{
	int rc;
	if ((rc = get_str(root, k, "role", true, true, &rec->u.entity.role)) ||
	    (rc = get_str(root, k, "location", false, true, &rec->u.entity.location)) ||
	    (rc = get_str(root, k, "fingerprint", false, true, &rec->u.entity.fingerprint)) ||
	    (rc = get_count(root, k, "size", &rec->u.entity.size)) ||
	    (rc = get_count(root, k, "files", &rec->u.entity.files)))
		return rc;
	if (!dp_fingerprint_valid(rec->u.entity.fingerprint.p, rec->u.entity.fingerprint.n))
		return dp_error(DNNPROV_ECORRUPT, "%s record: fingerprint is not 'sha256:' or 'quick:' and 64 hex digits",
				k);
	if (rec->u.entity.location.n == 0)
		return dp_error(DNNPROV_ECORRUPT, "%s record: location is empty", k);
	return 0;
}

/* Whether a msgpack string is a valid tag (dp_check_tag's rules). */
static bool dp_str_is_tag(dp_str s)
{
	return dp_tag_valid(s.p, s.n);
}

static int bad(const char *kind, const char *field, const char *why)
{
	return dp_error(DNNPROV_ECORRUPT, "%s record: %s %s", kind, field, why);
}

static int get_str(const msgpack_object *root, const char *kind, const char *key, bool tag,
		   bool required, dp_str *out)
{
	const msgpack_object *o = dp_map_get(root, key);
	out->p = NULL;
	out->n = 0;
	if (!o)
		return required ? bad(kind, key, "is missing") : 0;
	if (o->type != MSGPACK_OBJECT_STR)
		return bad(kind, key, "is not a string");
	out->p = o->via.str.ptr;
	out->n = o->via.str.size;
	if (tag && !dp_str_is_tag(*out))
		return bad(kind, key, "is not a valid name");
	if (!tag && !dp_utf8_valid(out->p, out->n))
		return bad(kind, key, "is not valid UTF-8");
	return 0;
}

static int get_int(const msgpack_object *root, const char *kind, const char *key, int64_t *out)
{
	const msgpack_object *o = dp_map_get(root, key);
	dp_mpr_scalar v;
	if (!o)
		return bad(kind, key, "is missing");
	dp_obj_scalar(o, &v);
	if (v.kind != DP_MPR_INT)
		return bad(kind, key, "is not an integer");
	*out = v.i;
	return 0;
}

/* The owner of a begin record: whose death makes the task LOST. */
static int parse_owner(const char *kind, const msgpack_object *o, dp_owner *out)
{
	const msgpack_object *g = dp_map_get(o, "group"), *st = dp_map_get(o, "start");
	int rc;
	memset(out, 0, sizeof(*out));
	if (o->type != MSGPACK_OBJECT_MAP)
		return bad(kind, "owner", "is not a map");
	if ((rc = get_str(o, kind, "host", false, true, &out->host)) ||
	    (rc = get_str(o, kind, "boot", false, false, &out->boot)) ||
	    (rc = get_int(o, kind, "pid", &out->pid)))
		return rc;
	if (st && st->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return bad(kind, "owner start", "is not an integer");
	if (g && g->type != MSGPACK_OBJECT_BOOLEAN)
		return bad(kind, "owner group", "is not a boolean");
	out->start = st ? st->via.u64 : 0;
	out->group = g && g->via.boolean;
	return 0;
}

static bool is_value(const msgpack_object *o)
{
	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		return true;
	case MSGPACK_OBJECT_STR:
		return dp_utf8_valid(o->via.str.ptr, o->via.str.size);
	default:
		return false;
	}
}

/* The names of the last map whose names passed (each a tag, distinct after
 * case folding), as length-prefixed bytes: a training logs the same
 * metrics every epoch, and an indexer reads millions of such records, so
 * a list seen just before is not checked again.  Per thread: a reader in
 * each of several threads keeps its own. */
static _Thread_local struct {
	unsigned char b[1024];
	size_t n;
	bool names; /* every one is also a name (dp_name_valid) */
} checked_names;

/* Whether the names of map m are those checked last (all strings). */
static bool names_checked(const msgpack_object *m)
{
	size_t at = 0;
	for (uint32_t i = 0; i < m->via.map.size; i++) {
		const msgpack_object *k = &m->via.map.ptr[i].key;
		if (k->type != MSGPACK_OBJECT_STR || k->via.str.size > 255 || at + 1 + k->via.str.size > checked_names.n ||
		    checked_names.b[at] != k->via.str.size || memcmp(checked_names.b + at + 1, k->via.str.ptr, k->via.str.size))
			return false;
		at += 1 + k->via.str.size;
	}
	return at == checked_names.n;
}

static void remember_names(const msgpack_object *m)
{
	size_t at = 0;
	for (uint32_t i = 0; i < m->via.map.size; i++) {
		const msgpack_object *k = &m->via.map.ptr[i].key;
		if (k->via.str.size > 255 || at + 1 + k->via.str.size > sizeof(checked_names.b)) {
			checked_names.n = 0; /* too long to keep: checked every time */
			return;
		}
		checked_names.b[at] = (unsigned char)k->via.str.size;
		memcpy(checked_names.b + at + 1, k->via.str.ptr, k->via.str.size);
		at += 1 + k->via.str.size;
	}
	checked_names.n = at;
	checked_names.names = true;
	for (uint32_t i = 0; i < m->via.map.size && checked_names.names; i++)
		checked_names.names = dp_name_valid(m->via.map.ptr[i].key.via.str.ptr, m->via.map.ptr[i].key.via.str.size);
}

/* ---- names of the dataflow's parts -------------------------------------------- */

/* Sets why[] when s is no name; true then. */
static bool name_told(const char *what, const char *s, size_t n, char *why, size_t cap)
{
	char detail[96];
	if (!dp_name_why(s, n, detail, sizeof(detail)))
		return false;
	size_t shown = n > 40 ? 40 : n;
	while (shown < n && shown && ((unsigned char)s[shown] & 0xC0) == 0x80)
		shown--; /* not inside a character */
	snprintf(why, cap, "%s name '%.*s' %s; indexed as written", what, (int)shown, s, detail);
	return true;
}

static bool obj_name_told(const char *what, const msgpack_object *o, char *why, size_t cap)
{
	return o && o->type == MSGPACK_OBJECT_STR && name_told(what, o->via.str.ptr, o->via.str.size, why, cap);
}

/* The keys of a map already checked by dp_record_parse; the last map's
 * verdict is remembered with its names (an epoch's metrics repeat). */
static bool keys_told(const char *what, const msgpack_object *m, char *why, size_t cap)
{
	if (!m || m->type != MSGPACK_OBJECT_MAP || (m->via.map.size && names_checked(m) && checked_names.names))
		return false;
	for (uint32_t i = 0; i < m->via.map.size; i++)
		if (obj_name_told(what, &m->via.map.ptr[i].key, why, cap))
			return true;
	return false;
}

/* The "name" of each map of an array. */
static bool array_names_told(const char *what, const msgpack_object *a, char *why, size_t cap)
{
	for (uint32_t i = 0; a && a->type == MSGPACK_OBJECT_ARRAY && i < a->via.array.size; i++)
		if (obj_name_told(what, dp_map_get(&a->via.array.ptr[i], "name"), why, cap))
			return true;
	return false;
}

static bool spec_name_problem(const dp_record *r, char *why, size_t cap)
{
	const msgpack_object *m = r->u.spec.metrics, *tfs = r->u.spec.transformations;
	if (array_names_told("hyperparameter", r->u.spec.hyperparameters, why, cap))
		return true;
	for (uint32_t i = 0; i < m->via.array.size; i++)
		if (obj_name_told("metric", &m->via.array.ptr[i], why, cap))
			return true;
	for (uint32_t i = 0; i < tfs->via.array.size; i++) {
		const msgpack_object *tf = &tfs->via.array.ptr[i], *deps = dp_map_get(tf, "depends_on");
		const msgpack_object *sets = dp_map_get(tf, "sets");
		if (obj_name_told("transformation", dp_map_get(tf, "name"), why, cap) ||
		    array_names_told("set", sets, why, cap))
			return true;
		for (uint32_t d = 0; d < deps->via.array.size; d++)
			if (obj_name_told("transformation", &deps->via.array.ptr[d], why, cap))
				return true;
		for (uint32_t k = 0; k < sets->via.array.size; k++)
			if (array_names_told("attribute", dp_map_get(&sets->via.array.ptr[k], "attributes"), why, cap))
				return true;
	}
	return false;
}

bool dp_record_name_problem(const dp_record *r, char *why, size_t cap)
{
	switch (r->kind) {
	case DP_REC_SPEC: return spec_name_problem(r, why, cap);
	case DP_REC_BEGIN: return keys_told("hyperparameter", r->u.begin.hyperparameters, why, cap);
	case DP_REC_EPOCH: return keys_told("metric", r->u.epoch.metrics, why, cap);
	case DP_REC_TEST: return keys_told("metric", r->u.test.metrics, why, cap);
	case DP_REC_ADAPT:
		return name_told("hyperparameter", r->u.adapt.hyperparameter.p, r->u.adapt.hyperparameter.n, why, cap);
	case DP_REC_ELEMENT:
		return name_told("transformation", r->u.element.transformation.p, r->u.element.transformation.n, why,
				 cap) ||
		       name_told("set", r->u.element.set.p, r->u.element.set.n, why, cap) ||
		       keys_told("attribute", r->u.element.values, why, cap);
	default: return false;
	}
}

/* Whether two names of map m (tags, so at most DNNPROV_NAME_MAX bytes)
 * are equal after ASCII case folding, as queries compare them.  Through a
 * hash set of the folded names: comparing every pair took seconds for a
 * record of 60,000 metrics.  Without memory for the set, every pair. */
static bool fold_equal(const msgpack_object *a, const msgpack_object *b)
{
	if (a->via.str.size != b->via.str.size)
		return false;
	for (uint32_t c = 0; c < a->via.str.size; c++) {
		char x = a->via.str.ptr[c], y = b->via.str.ptr[c];
		if (x >= 'A' && x <= 'Z')
			x += 'a' - 'A';
		if (y >= 'A' && y <= 'Z')
			y += 'a' - 'A';
		if (x != y)
			return false;
	}
	return true;
}

static bool names_clash_folded(const msgpack_object *m)
{
	dp_map seen = { 0 };
	char key[DNNPROV_NAME_MAX];
	uint32_t size = m->via.map.size;
	bool clash = false, hashed = size > 16; /* a few names: no allocation */
	for (uint32_t i = 0; i < size && !clash && hashed; i++) {
		const msgpack_object *k = &m->via.map.ptr[i].key;
		uint32_t n = k->via.str.size; /* a tag's: within key */
		for (uint32_t c = 0; c < n && c < sizeof(key); c++)
			key[c] = (char)(k->via.str.ptr[c] >= 'A' && k->via.str.ptr[c] <= 'Z' ? k->via.str.ptr[c] + ('a' - 'A')
											   : k->via.str.ptr[c]);
		void **slot = dp_map_slot(&seen, key, n < sizeof(key) ? n : sizeof(key), true);
		if (!slot)
			hashed = false;
		else if (*slot)
			clash = true;
		else
			*slot = (void *)k;
	}
	dp_map_free(&seen);
	for (uint32_t i = 0; !hashed && i < size && !clash; i++)
		for (uint32_t j = 0; j < i && !clash; j++)
			clash = fold_equal(&m->via.map.ptr[i].key, &m->via.map.ptr[j].key);
	return clash;
}

/* A map of distinct tag -> value (numbers only when `numeric`). */
static int check_named_values(const char *kind, const char *key, const msgpack_object *m,
			      bool numeric)
{
	if (!m)
		return bad(kind, key, "is missing");
	if (m->type != MSGPACK_OBJECT_MAP || m->via.map.size > MAX_ENTRIES)
		return bad(kind, key, "is not a map of names to values");
	bool known = m->via.map.size && names_checked(m);
	for (uint32_t i = 0; i < m->via.map.size; i++) {
		const msgpack_object *k = &m->via.map.ptr[i].key, *v = &m->via.map.ptr[i].val;
		double d;
		if (!known && (k->type != MSGPACK_OBJECT_STR || !dp_str_is_tag((dp_str){ k->via.str.ptr, k->via.str.size })))
			return bad(kind, key, "has an invalid name");
		if (numeric ? !dp_obj_number(v, &d) : !is_value(v))
			return bad(kind, key, numeric ? "has a value that is not a number"
						      : "has a value of an unknown type");
	}
	if (!known && names_clash_folded(m))
		return bad(kind, key, "has two names that differ only in case");
	if (!known)
		remember_names(m);
	return 0;
}

/* An array of maps, each with string fields `fields` (tags). */
static int check_array_of(const char *kind, const char *key, const msgpack_object *a,
			  const char *const *fields, size_t nfields, const char *value_field)
{
	if (!a || a->type != MSGPACK_OBJECT_ARRAY || a->via.array.size > MAX_ENTRIES)
		return bad(kind, key, "is not an array");
	for (uint32_t i = 0; i < a->via.array.size; i++) {
		const msgpack_object *e = &a->via.array.ptr[i];
		dp_str s;
		if (e->type != MSGPACK_OBJECT_MAP)
			return bad(kind, key, "has an element that is not a map");
		for (size_t f = 0; f < nfields; f++)
			if (get_str(e, kind, fields[f], true, true, &s))
				return bad(kind, key, "has an element with a missing or invalid name");
		if (value_field) {
			const msgpack_object *v = dp_map_get(e, value_field);
			if (!v || !is_value(v))
				return bad(kind, key, "has an element without a valid value");
		}
	}
	return 0;
}

static bool is_type_name(const msgpack_object *o)
{
	return dp_obj_is_str(o, "numeric") || dp_obj_is_str(o, "text") || dp_obj_is_str(o, "file");
}

static int check_spec_lists(const msgpack_object *root, dp_record *rec)
{
	static const char *const name_type[] = { "name", "type" };
	const msgpack_object *h = dp_map_get(root, "hyperparameters");
	const msgpack_object *m = dp_map_get(root, "metrics");
	const msgpack_object *tfs = dp_map_get(root, "transformations");
	const msgpack_object *ad = dp_map_get(root, "adaptation");
	int rc;

	if ((rc = check_array_of("spec", "hyperparameters", h, name_type, 1, NULL)))
		return rc;
	for (uint32_t i = 0; i < h->via.array.size; i++)
		if (!is_type_name(dp_map_get(&h->via.array.ptr[i], "type")))
			return bad("spec", "hyperparameters", "has an unknown type");
	if (!m || m->type != MSGPACK_OBJECT_ARRAY || m->via.array.size > MAX_ENTRIES)
		return bad("spec", "metrics", "is not an array");
	for (uint32_t i = 0; i < m->via.array.size; i++) {
		const msgpack_object *s = &m->via.array.ptr[i];
		if (s->type != MSGPACK_OBJECT_STR || !dp_str_is_tag((dp_str){ s->via.str.ptr, s->via.str.size }))
			return bad("spec", "metrics", "has an invalid name");
	}
	if (!ad || ad->type != MSGPACK_OBJECT_BOOLEAN)
		return bad("spec", "adaptation", "is not a boolean");
	if (!tfs || tfs->type != MSGPACK_OBJECT_ARRAY || tfs->via.array.size > MAX_ENTRIES)
		return bad("spec", "transformations", "is not an array");
	for (uint32_t i = 0; i < tfs->via.array.size; i++) {
		const msgpack_object *tf = &tfs->via.array.ptr[i];
		static const char *const set_fields[] = { "name", "direction" };
		dp_str s;
		if (tf->type != MSGPACK_OBJECT_MAP || get_str(tf, "spec", "name", true, true, &s))
			return bad("spec", "transformations", "has an element without a valid name");
		const msgpack_object *deps = dp_map_get(tf, "depends_on");
		if (!deps || deps->type != MSGPACK_OBJECT_ARRAY)
			return bad("spec", "transformations", "has no depends_on array");
		for (uint32_t d = 0; d < deps->via.array.size; d++) {
			const msgpack_object *x = &deps->via.array.ptr[d];
			if (x->type != MSGPACK_OBJECT_STR || !dp_str_is_tag((dp_str){ x->via.str.ptr, x->via.str.size }))
				return bad("spec", "transformations", "has an invalid dependency");
		}
		const msgpack_object *sets = dp_map_get(tf, "sets");
		if ((rc = check_array_of("spec", "sets", sets, set_fields, 1, NULL)))
			return rc;
		for (uint32_t k = 0; k < sets->via.array.size; k++) {
			const msgpack_object *set = &sets->via.array.ptr[k];
			const msgpack_object *dir = dp_map_get(set, "direction");
			if (!dp_obj_is_str(dir, "input") && !dp_obj_is_str(dir, "output"))
				return bad("spec", "sets", "has a direction other than input or output");
			const msgpack_object *attrs = dp_map_get(set, "attributes");
			if ((rc = check_array_of("spec", "attributes", attrs, name_type, 1, NULL)))
				return rc;
			for (uint32_t a = 0; a < attrs->via.array.size; a++)
				if (!is_type_name(dp_map_get(&attrs->via.array.ptr[a], "type")))
					return bad("spec", "attributes", "has an unknown type");
		}
	}
	const msgpack_object *mr = dp_map_get(root, "metric_ranges");
	if (mr && (mr->type != MSGPACK_OBJECT_MAP || mr->via.map.size > MAX_ENTRIES))
		return bad("spec", "metric_ranges", "is not a map");
	for (uint32_t i = 0; mr && i < mr->via.map.size; i++) {
		const msgpack_object *k = &mr->via.map.ptr[i].key, *r = &mr->via.map.ptr[i].val;
		double lo, hi;
		if (k->type != MSGPACK_OBJECT_STR || !dp_str_is_tag((dp_str){ k->via.str.ptr, k->via.str.size }))
			return bad("spec", "metric_ranges", "has an invalid name");
		if (r->type != MSGPACK_OBJECT_ARRAY || r->via.array.size != 2 || !dp_obj_number(&r->via.array.ptr[0], &lo) ||
		    !dp_obj_number(&r->via.array.ptr[1], &hi) || !(lo < hi))
			return bad("spec", "metric_ranges", "has a range that is not [low, high] with low below high");
	}
	rec->u.spec.metric_ranges = mr;
	rec->u.spec.hyperparameters = h;
	rec->u.spec.metrics = m;
	rec->u.spec.adaptation = ad->via.boolean;
	rec->u.spec.transformations = tfs;
	return 0;
}

int dp_record_parse(const msgpack_object *root, dp_record *rec)
{
	static const char *const layer_fields[] = { "name", "kind" };
	const msgpack_object *kind, *time;
	const char *k;
	int rc = 0;

	memset(rec, 0, sizeof(*rec));
	rec->root = root;
	if (root->type != MSGPACK_OBJECT_MAP)
		return dp_error(DNNPROV_ECORRUPT, "record is not a map");
	kind = dp_map_get(root, "kind");
	time = dp_map_get(root, "time");
	if (!kind || kind->type != MSGPACK_OBJECT_STR)
		return dp_error(DNNPROV_ECORRUPT, "record has no kind");
	for (int i = DP_REC_SPEC; i <= DP_REC_LAST; i++)
		if (dp_obj_is_str(kind, kind_names[i]))
			rec->kind = (dp_record_kind)i;
	if (!rec->kind)
		return dp_error(DNNPROV_ECORRUPT, "record of unknown kind '%.*s'",
				(int)(kind->via.str.size > 32 ? 32 : kind->via.str.size), kind->via.str.ptr);
	k = kind_names[rec->kind];
	if (!time || !dp_obj_number(time, &rec->time) || !(rec->time == rec->time))
		return bad(k, "time", "is missing or not a number");
	/* Optional (format version 2 writers since it was added); one that is
	 * no time since boot only costs the record its clock correction. */
	const msgpack_object *mono = dp_map_get(root, "mono");
	if (!mono || !dp_obj_number(mono, &rec->mono) || !isfinite(rec->mono) || rec->mono < 0)
		rec->mono = NAN;

	switch (rec->kind) {
	case DP_REC_SPEC:
		if ((rc = get_str(root, k, "dataflow", true, true, &rec->u.spec.dataflow)))
			return rc;
		return check_spec_lists(root, rec);
	case DP_REC_BEGIN: {
		const msgpack_object *h = dp_map_get(root, "hyperparameters");
		if ((rc = get_str(root, k, "task", true, true, &rec->u.begin.task)) ||
		    (rc = get_str(root, k, "transformation", true, true, &rec->u.begin.transformation)) ||
		    (rc = get_str(root, k, "execution", false, false, &rec->u.begin.execution)) ||
		    (rc = get_str(root, k, "host", false, false, &rec->u.begin.host)) ||
		    (rc = get_str(root, k, "user", false, false, &rec->u.begin.user)) ||
		    (rc = get_int(root, k, "pid", &rec->u.begin.pid)) ||
		    (rc = check_named_values(k, "hyperparameters", h, false)))
			return rc;
		rec->u.begin.hyperparameters = h;
		/* Version 2 keys; a version 1 begin is a first attempt, or a resume
		 * when its task has begun before. */
		const msgpack_object *a = dp_map_get(root, "attempt"), *r = dp_map_get(root, "resume");
		const msgpack_object *o = dp_map_get(root, "owner"), *f = dp_map_get(root, "facts");
		if (f && (rc = check_named_values(k, "facts", f, false)))
			return rc;
		rec->u.begin.facts = f;
		if (a && (a->type != MSGPACK_OBJECT_POSITIVE_INTEGER || a->via.u64 == 0))
			return bad(k, "attempt", "is not a positive integer");
		if (r && r->type != MSGPACK_OBJECT_BOOLEAN)
			return bad(k, "resume", "is not a boolean");
		if (o && (rc = parse_owner(k, o, &rec->u.begin.owner)))
			return rc;
		rec->u.begin.attempt = a ? a->via.u64 : 0;
		rec->u.begin.resume = r && r->via.boolean;
		rec->u.begin.has_owner = o != NULL;
		return 0;
	}
	case DP_REC_LAYERS: {
		const msgpack_object *l = dp_map_get(root, "layers");
		if ((rc = check_array_of(k, "layers", l, layer_fields, 2, "value")))
			return rc;
		rec->u.layers.layers = l;
		return 0;
	}
	case DP_REC_EPOCH: {
		const msgpack_object *m = dp_map_get(root, "metrics"), *e = dp_map_get(root, "elapsed");
		if ((rc = get_int(root, k, "epoch", &rec->u.epoch.epoch)))
			return rc;
		if (!e || !dp_obj_number(e, &rec->u.epoch.elapsed))
			return bad(k, "elapsed", "is missing or not a number");
		if ((rc = check_named_values(k, "metrics", m, true)))
			return rc;
		rec->u.epoch.metrics = m;
		return 0;
	}
	case DP_REC_ADAPT: {
		const msgpack_object *o = dp_map_get(root, "old"), *n = dp_map_get(root, "new");
		if ((rc = get_int(root, k, "epoch", &rec->u.adapt.epoch)) ||
		    (rc = get_str(root, k, "hyperparameter", true, true, &rec->u.adapt.hyperparameter)) ||
		    (rc = get_int(root, k, "id", &rec->u.adapt.id)))
			return rc;
		if (!n || !is_value(n))
			return bad(k, "new", "is missing or not a value");
		if (o && !is_value(o))
			return bad(k, "old", "is not a value");
		rec->u.adapt.old_value = o;
		rec->u.adapt.new_value = n;
		return 0;
	}
	case DP_REC_TEST: {
		const msgpack_object *m = dp_map_get(root, "metrics");
		if ((rc = check_named_values(k, "metrics", m, true)))
			return rc;
		rec->u.test.metrics = m;
		return 0;
	}
	case DP_REC_ELEMENT: {
		const msgpack_object *v = dp_map_get(root, "values");
		if ((rc = get_str(root, k, "transformation", true, true, &rec->u.element.transformation)) ||
		    (rc = get_str(root, k, "set", true, true, &rec->u.element.set)) ||
		    (rc = check_named_values(k, "values", v, false)))
			return rc;
		rec->u.element.values = v;
		return 0;
	}
	case DP_REC_END: {
		dp_str s;
		if ((rc = get_str(root, k, "status", false, true, &s)) ||
		    (rc = get_str(root, k, "message", false, false, &rec->u.end.message)))
			return rc;
		if (!(s.n == 8 && memcmp(s.p, "FINISHED", 8) == 0) && !(s.n == 6 && memcmp(s.p, "FAILED", 6) == 0) &&
		    !(s.n == 6 && memcmp(s.p, "KILLED", 6) == 0) && !(s.n == 6 && memcmp(s.p, "PRUNED", 6) == 0))
			return bad(k, "status", "is not FINISHED, FAILED, KILLED or PRUNED");
		rec->u.end.status = s;
		return 0;
	}
	case DP_REC_TAG: {
		const msgpack_object *t = dp_map_get(root, "tags");
		if ((rc = check_named_values(k, "tags", t, false)))
			return rc;
		if (t->via.map.size == 0)
			return bad(k, "tags", "is empty");
		rec->u.tag.tags = t;
		return 0;
	}
	case DP_REC_USED:
	case DP_REC_GENERATED:
		return parse_entity(root, k, rec);
	case DP_REC_REFUSED: {
		const msgpack_object *v = dp_map_get(root, "values"), *e = dp_map_get(root, "epoch");
		if ((rc = get_str(root, k, "record", false, true, &rec->u.refused.record)) ||
		    (rc = get_str(root, k, "why", false, false, &rec->u.refused.why)) ||
		    (e && (rc = get_int(root, k, "epoch", &rec->u.refused.epoch))) ||
		    (rc = check_named_values(k, "values", v, false)))
			return rc;
		if (v->via.map.size == 0)
			return bad(k, "values", "is empty");
		rec->u.refused.has_epoch = e != NULL;
		rec->u.refused.values = v;
		return 0;
	}
	}
	return dp_error(DNNPROV_ECORRUPT, "record of unknown kind");
}
