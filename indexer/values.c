/*
 * values.c - reading the values the index stores (schema.h), for the
 * indexer, which updates them, and the query side, which shows them.
 */
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "indexer/schema.h"
#include "indexer/varint.h"
#include "logger/decode.h"
#include "logger/mpack.h"
#include "logger/record.h"

/* The next value as a time (NaN when nil or no number). */
static double mpr_time(dp_mpr *r)
{
	double d;
	return dp_mpr_number(r, &d) ? d : NAN;
}

/* The next value when it is a non-negative integer, else 0 (skipped). */
static uint64_t mpr_count(dp_mpr *r)
{
	int64_t v;
	bool big;
	size_t at = r->pos;
	if (dp_mpr_int(r, &v, &big) && (v >= 0 || big))
		return (uint64_t)v;
	r->pos = at;
	dp_mpr_skip(r);
	return 0;
}

/* The next value as text (p NULL when it is none: skipped). */
static dp_str mpr_text(dp_mpr *r)
{
	dp_str s = { NULL, 0 };
	if (!dp_mpr_str(r, &s.p, &s.n)) {
		s.p = NULL;
		dp_mpr_skip(r);
	}
	return s;
}

/* As snprintf("%.*s") would, up to a NUL and cut to fit, without its
 * format parsing: a dataflow's load copies four of these per task. */
static void copy_text(char *dst, size_t cap, dp_str s)
{
	size_t n = s.p ? strnlen(s.p, s.n) : 0;
	if (n >= cap)
		n = cap - 1;
	if (n)
		memcpy(dst, s.p, n);
	dst[n] = '\0';
}

static bool key_is(const char *k, uint32_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(k, lit, n) == 0;
}

/* The bytes of the next value when it is a map (skipped either way). */
static dp_str mpr_map_bytes(dp_mpr *r)
{
	size_t at = r->pos;
	uint32_t count;
	dp_mpr probe = *r;
	bool map = dp_mpr_map(&probe, &count);
	if (!dp_mpr_skip(r))
		return (dp_str){ NULL, 0 };
	return map ? (dp_str){ (const char *)r->b + at, (uint32_t)(r->pos - at) } : (dp_str){ NULL, 0 };
}

static void read_owner(dp_str bytes, dp_task_fields *f)
{
	dp_mpr r = { (const unsigned char *)bytes.p, bytes.n, 0 };
	uint32_t count;
	if (!dp_mpr_map(&r, &count))
		return;
	f->owner.known = true;
	for (uint32_t i = 0; i < count; i++) {
		const char *k;
		uint32_t kn;
		int64_t v;
		bool big;
		if (!dp_mpr_str(&r, &k, &kn))
			return;
		if (key_is(k, kn, "host"))
			copy_text(f->owner.host, sizeof(f->owner.host), mpr_text(&r));
		else if (key_is(k, kn, "boot"))
			copy_text(f->owner.boot, sizeof(f->owner.boot), mpr_text(&r));
		else if (key_is(k, kn, "pid")) {
			size_t at = r.pos;
			if (dp_mpr_int(&r, &v, &big) && v >= 0 && !big)
				f->owner.pid = v;
			else if ((r.pos = at), !dp_mpr_skip(&r))
				return;
		} else if (key_is(k, kn, "start"))
			f->owner.start = mpr_count(&r);
		else if (key_is(k, kn, "group")) {
			dp_mpr_scalar b;
			if (!dp_mpr_value(&r, &b))
				return;
			f->owner.group = b.kind == DP_MPR_BOOL && b.i;
		} else if (!dp_mpr_skip(&r))
			return;
	}
}

int dp_task_fields_parse(const void *value, size_t n, dp_task_fields *f)
{
	dp_mpr r = { value, n, 0 };
	uint32_t count;

	memset(f, 0, sizeof(*f));
	f->start = f->end = f->last = f->attempt_start = f->active_before = f->attempt_mono = NAN;
	if (!dp_mpr_map(&r, &count))
		return DNNPROV_ECORRUPT;
	/* One pass over the map, reading every field in place: a query
	 * loads 100,000 of these, and a decode would allocate for each. */
	for (uint32_t i = 0; i < count; i++) {
		const char *k;
		uint32_t kn;
		if (!dp_mpr_str(&r, &k, &kn))
			return DNNPROV_ECORRUPT;
		size_t at = r.pos;
		switch (kn ? k[0] : 0) {
		case 's':
			if (key_is(k, kn, "status")) {
				copy_text(f->status, sizeof(f->status), mpr_text(&r));
				continue;
			}
			if (key_is(k, kn, "start")) {
				f->start = mpr_time(&r);
				continue;
			}
			break;
		case 'e':
			if (key_is(k, kn, "end")) {
				f->end = mpr_time(&r);
				continue;
			}
			if (key_is(k, kn, "epochs")) {
				f->epochs = mpr_count(&r);
				continue;
			}
			if (key_is(k, kn, "execution")) {
				f->execution = mpr_text(&r);
				continue;
			}
			break;
		case 'l':
			if (key_is(k, kn, "last")) {
				f->last = mpr_time(&r);
				continue;
			}
			if (key_is(k, kn, "last_epoch")) {
				int64_t v;
				bool big;
				if (dp_mpr_int(&r, &v, &big) && !big) {
					f->last_epoch = v;
					f->has_last_epoch = true;
				} else {
					r.pos = at;
					dp_mpr_skip(&r);
				}
				continue;
			}
			break;
		case 'h':
			if (key_is(k, kn, "host")) {
				f->host = mpr_text(&r);
				continue;
			}
			if (key_is(k, kn, "hyperparameters")) {
				f->hyps = mpr_map_bytes(&r);
				continue;
			}
			break;
		case 'u':
			if (key_is(k, kn, "user")) {
				f->user = mpr_text(&r);
				continue;
			}
			break;
		case 'p':
			if (key_is(k, kn, "pid")) {
				f->pid = (int64_t)mpr_count(&r);
				continue;
			}
			break;
		case 't':
			if (key_is(k, kn, "transformation")) {
				f->transformation = mpr_text(&r);
				continue;
			}
			break;
		case 'm':
			if (key_is(k, kn, "message")) {
				f->message = mpr_text(&r);
				continue;
			}
			break;
		case 'a':
			if (key_is(k, kn, "attempts")) {
				f->attempts = mpr_count(&r);
				continue;
			}
			if (key_is(k, kn, "attempt_start")) {
				f->attempt_start = mpr_time(&r);
				continue;
			}
			if (key_is(k, kn, "active_before")) {
				f->active_before = mpr_time(&r);
				continue;
			}
			if (key_is(k, kn, "attempt_mono")) {
				f->attempt_mono = mpr_time(&r);
				continue;
			}
			if (key_is(k, kn, "attempt_boot")) {
				f->attempt_boot = (uint32_t)mpr_count(&r);
				continue;
			}
			break;
		case 'r':
			if (key_is(k, kn, "run")) {
				copy_text(f->run, sizeof(f->run), mpr_text(&r));
				continue;
			}
			if (key_is(k, kn, "refused")) {
				f->refused = mpr_map_bytes(&r);
				continue;
			}
			break;
		case 'o':
			if (key_is(k, kn, "owner")) {
				f->owner_map = mpr_map_bytes(&r);
				if (f->owner_map.p)
					read_owner(f->owner_map, f);
				continue;
			}
			break;
		case 'f':
			if (key_is(k, kn, "facts")) {
				f->facts = mpr_map_bytes(&r);
				continue;
			}
			break;

		default:
			break;
		}
		if (!dp_mpr_skip(&r))
			return DNNPROV_ECORRUPT;
	}
	/* A field that was not the type it should be was skipped; what the
	 * reads consumed must still be the whole value. */
	assert(r.pos <= r.n);
	return r.pos == r.n ? 0 : DNNPROV_ECORRUPT;
}

int dp_task_status_hyps(const void *value, size_t n, char status[16], dp_str *hyps, dp_str *transformation)
{
	dp_mpr r = { value, n, 0 };
	uint32_t count;
	bool whole = dp_mpr_map(&r, &count);
	status[0] = '\0';
	*hyps = (dp_str){ NULL, 0 };
	*transformation = (dp_str){ NULL, 0 };
	for (uint32_t i = 0; i < count && whole; i++) {
		const char *k;
		uint32_t kn;
		if (!(whole = dp_mpr_str(&r, &k, &kn)))
			break;
		if (key_is(k, kn, "status"))
			copy_text(status, 16, mpr_text(&r));
		else if (key_is(k, kn, "hyperparameters"))
			*hyps = mpr_map_bytes(&r);
		else if (key_is(k, kn, "transformation"))
			*transformation = mpr_text(&r);
		else
			whole = dp_mpr_skip(&r);
	}
	if (whole && r.pos == r.n)
		return 0;
	/* Damaged: read as dp_task_fields_parse reads it, which takes some
	 * damage in a field for the field's absence. */
	dp_task_fields f;
	int rc = dp_task_fields_parse(value, n, &f);
	memcpy(status, f.status, 16);
	*hyps = f.hyps;
	*transformation = f.transformation;
	return rc;
}

bool dp_task_start(const void *value, size_t n, double *start)
{
	dp_mpr r = { value, n, 0 };
	uint32_t count;
	const char *k;
	uint32_t kn;
	/* The writer puts status first and start second: two keys to read,
	 * not the whole value, when every task's start is asked for. */
	if (!dp_mpr_map(&r, &count))
		return false;
	for (uint32_t i = 0; i < count && i < 2; i++) {
		if (!dp_mpr_str(&r, &k, &kn))
			return false;
		if (key_is(k, kn, "start")) {
			*start = mpr_time(&r);
			return true;
		}
		if (!dp_mpr_skip(&r))
			return false;
	}
	dp_task_fields f;
	if (dp_task_fields_parse(value, n, &f) != 0)
		return false;
	*start = f.start;
	return true;
}

double dp_task_active(const dp_task_fields *f)
{
	double before = isnan(f->active_before) ? 0 : f->active_before;
	double until = isnan(f->end) ? f->last : f->end;
	double now = until - f->attempt_start;
	/* Times are the writers' clocks: a clock stepped back never makes
	 * time run backwards here. */
	double active = before + (isnan(now) || now < 0 ? 0 : now);
	assert(!(active < 0));
	return active;
}

/* ---- summaries --------------------------------------------------------------------- */

static unsigned char *put_d(unsigned char *p, double d)
{
	memcpy(p, &d, 8);
	return p + 8;
}

size_t dp_summary_pack(const dp_summary *s, unsigned char *out)
{
	/* What summary_add keeps: the least and greatest of the values that
	 * are not NaN. */
	assert(!s->count || !(s->min > s->max));
	unsigned char *p = dp_varint_put(out, s->count);
	p = dp_varint_put(p, s->nan_count);
	if (s->count) {
		p = put_d(p, s->min);
		p = put_d(p, s->max);
		p = put_d(p, s->sum);
		p = dp_zigzag_put(p, s->min_epoch);
		p = dp_zigzag_put(p, s->max_epoch);
	}
	if (s->count + s->nan_count) {
		p = put_d(p, s->last);
		p = dp_zigzag_put(p, s->last_epoch);
	}
	assert((size_t)(p - out) <= DP_SUMMARY_PACKED_MAX);
	return (size_t)(p - out);
}

static double get_d(dp_packed_reader *r)
{
	double d = 0;
	if (r->end - r->p < 8) {
		r->bad = true;
		return d;
	}
	memcpy(&d, r->p, 8);
	r->p += 8;
	return d;
}

bool dp_summary_unpack(const void *p, size_t n, dp_summary *out)
{
	dp_packed_reader r = { p, (const unsigned char *)p + n, false };
	memset(out, 0, sizeof(*out));
	out->count = dp_varint_get(&r);
	out->nan_count = dp_varint_get(&r);
	if (out->count) {
		out->min = get_d(&r);
		out->max = get_d(&r);
		out->sum = get_d(&r);
		out->min_epoch = dp_zigzag_get(&r);
		out->max_epoch = dp_zigzag_get(&r);
	}
	if (out->count + out->nan_count) {
		out->last = get_d(&r);
		out->last_epoch = dp_zigzag_get(&r);
	}
	return !r.bad && r.p == r.end;
}

void dp_count_pack(uint64_t n, unsigned char out[8])
{
	for (int b = 0; b < 8; b++)
		out[b] = (unsigned char)(n >> (8 * b));
}

bool dp_count_unpack(const void *p, size_t n, uint64_t *out)
{
	*out = 0;
	if (n != 8)
		return false;
	for (int b = 7; b >= 0; b--)
		*out = *out << 8 | ((const unsigned char *)p)[b];
	return true;
}
