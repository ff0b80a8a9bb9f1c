/*
 * health.c - the health rules, their state and their events (health.h;
 * the formulas are docs/STEERING.md's, and this file is their one
 * implementation).
 *
 * Arithmetic on a metric's values is done in long double: a forged or
 * exploding value (±1e308) minus another would pass the range of a double
 * and turn into an infinity, which compares as no finite value does and
 * would raise or hide an event.  On x86-64 long double has 15 bits of
 * exponent; where it is no wider than double, such values are compared as
 * infinities and may still be told, never crash or loop.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "indexer/health.h"
#include "logger/decode.h"
#include "logger/mpack.h"
#include "logger/record.h"

const char *const dp_rule_names[DP_RULE_COUNT] = { "nan", "divergence", "plateau", "stall" };

dp_rule dp_rule_find(const char *name, size_t n)
{
	for (int i = 0; i < DP_RULE_COUNT; i++)
		if (strlen(dp_rule_names[i]) == n && memcmp(dp_rule_names[i], name, n) == 0)
			return (dp_rule)i;
	return DP_RULE_COUNT;
}

const char *dp_health_name(dp_health_state s)
{
	static const char *const names[] = { "ok", "plateau", "stalled", "diverged", "nan" };
	return (unsigned)s < DP_ARRAY_LEN(names) ? names[s] : "ok";
}

void dp_health_init(dp_health *h)
{
	memset(h, 0, sizeof(*h));
	h->last_time = NAN;
}

/* ---- the stored state ------------------------------------------------------------ */

#define HEALTH_VERSION 1

static unsigned char *put8(unsigned char *p, const void *v)
{
	memcpy(p, v, 8);
	return p + 8;
}

static unsigned char *put4(unsigned char *p, uint32_t v)
{
	memcpy(p, &v, 4);
	return p + 4;
}

size_t dp_health_pack(const dp_health *h, unsigned char *out)
{
	size_t ml = strlen(h->metric);
	unsigned char *p = out;
	*p++ = HEALTH_VERSION;
	*p++ = (unsigned char)h->flags;
	*p++ = (unsigned char)ml;
	memcpy(p, h->metric, ml);
	p += ml;
	p = put8(p, &h->n);
	p = put8(p, &h->first);
	p = put8(p, &h->best);
	p = put8(p, &h->ref);
	p = put8(p, &h->last_time);
	p = put8(p, &h->best_epoch);
	p = put8(p, &h->ref_epoch);
	p = put8(p, &h->bad_since);
	p = put4(p, h->bad_run);
	p = put4(p, h->since_ref);
	p = put4(p, h->intervals);
	uint32_t kept = h->intervals < DP_HEALTH_INTERVALS ? h->intervals : DP_HEALTH_INTERVALS;
	for (uint32_t i = h->intervals - kept; i < h->intervals; i++)
		p = put8(p, &h->interval[i % DP_HEALTH_INTERVALS]);
	return (size_t)(p - out);
}

typedef struct reader {
	const unsigned char *p;
	size_t n, pos;
	bool ok;
} reader;

static void take(reader *r, void *out, size_t k)
{
	if (!r->ok || r->n - r->pos < k) {
		r->ok = false;
		memset(out, 0, k);
		return;
	}
	memcpy(out, r->p + r->pos, k);
	r->pos += k;
}

static void take_name(reader *r, char *out, size_t len)
{
	if (len > DNNPROV_NAME_MAX)
		r->ok = false;
	take(r, out, r->ok ? len : 0);
	out[r->ok ? len : 0] = '\0';
}

bool dp_health_unpack(const void *p, size_t n, dp_health *h)
{
	reader r = { p, n, 0, true };
	unsigned char head[3];
	dp_health_init(h);
	take(&r, head, 3);
	if (!r.ok || head[0] != HEALTH_VERSION)
		return false;
	h->flags = head[1];
	take_name(&r, h->metric, head[2]);
	take(&r, &h->n, 8);
	take(&r, &h->first, 8);
	take(&r, &h->best, 8);
	take(&r, &h->ref, 8);
	take(&r, &h->last_time, 8);
	take(&r, &h->best_epoch, 8);
	take(&r, &h->ref_epoch, 8);
	take(&r, &h->bad_since, 8);
	take(&r, &h->bad_run, 4);
	take(&r, &h->since_ref, 4);
	take(&r, &h->intervals, 4);
	uint32_t kept = h->intervals < DP_HEALTH_INTERVALS ? h->intervals : DP_HEALTH_INTERVALS;
	for (uint32_t i = h->intervals - kept; i < h->intervals && r.ok; i++)
		take(&r, &h->interval[i % DP_HEALTH_INTERVALS], 8);
	if (!r.ok || r.pos != n) {
		dp_health_init(h);
		return false;
	}
	return true;
}

/* ---- the rules ---------------------------------------------------------------------- */

static bool key_is(const msgpack_object *k, const char *name, size_t n)
{
	return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n && memcmp(k->via.str.ptr, name, n) == 0;
}

static const msgpack_object *metric_value(const msgpack_object *metrics, const char *name)
{
	size_t n = strlen(name);
	for (uint32_t i = 0; i < metrics->via.map.size; i++)
		if (key_is(&metrics->via.map.ptr[i].key, name, n))
			return &metrics->via.map.ptr[i].val;
	return NULL;
}

static bool is_number(const msgpack_object *o)
{
	double d;
	return o && dp_obj_number(o, &d);
}

/* The main metric of the task, chosen at its first epoch record that has
 * a number: the rules' metric when they name one; else the record's first
 * metric with a number, M, or its val_ twin when the record has a number
 * for that (val_loss beside loss, as queries prefer).  It reads nothing
 * but the record, so that the choice is the same in every rebuild. */
static void choose_metric(dp_health *h, const dp_rules *r, const msgpack_object *metrics)
{
	char twin[DNNPROV_NAME_MAX + 8];
	if (r->metric) {
		snprintf(h->metric, sizeof(h->metric), "%s", r->metric);
	} else {
		for (uint32_t i = 0; !h->metric[0] && i < metrics->via.map.size; i++) {
			const msgpack_object *k = &metrics->via.map.ptr[i].key;
			if (k->type != MSGPACK_OBJECT_STR || k->via.str.size > DNNPROV_NAME_MAX ||
			    !is_number(&metrics->via.map.ptr[i].val))
				continue;
			snprintf(h->metric, sizeof(h->metric), "%.*s", (int)k->via.str.size, k->via.str.ptr);
			snprintf(twin, sizeof(twin), "val_%s", h->metric);
			if (strncmp(h->metric, "val_", 4) != 0 && strlen(twin) <= DNNPROV_NAME_MAX &&
			    is_number(metric_value(metrics, twin)))
				snprintf(h->metric, sizeof(h->metric), "%s", twin);
		}
		if (!h->metric[0])
			return; /* no number yet: chosen at a later record */
	}
	bool lower = r->goal ? r->goal > 0 : dp_metric_lower_is_better(h->metric);
	h->flags = (h->flags & ~DP_HF_LOWER) | (lower ? DP_HF_LOWER : 0);
}

/* The first non-finite number of the record, or NULL. */
static const msgpack_object *first_nonfinite(const msgpack_object *metrics, size_t *at)
{
	for (uint32_t i = 0; i < metrics->via.map.size; i++) {
		double d;
		if (dp_obj_number(&metrics->via.map.ptr[i].val, &d) && !isfinite(d)) {
			*at = i;
			return &metrics->via.map.ptr[i].val;
		}
	}
	return NULL;
}

static void nan_rule(dp_health *h, const dp_rules *r, int64_t epoch, double time, const msgpack_object *metrics,
		     dp_event *ev, size_t *nev)
{
	size_t at;
	const msgpack_object *bad = first_nonfinite(metrics, &at);
	if (!bad) {
		h->flags &= ~DP_HF_NAN;
		return;
	}
	if ((h->flags & DP_HF_NAN) || !r->nan) {
		h->flags |= r->nan ? DP_HF_NAN : 0;
		return;
	}
	h->flags |= DP_HF_NAN;
	dp_event *e = &ev[(*nev)++];
	memset(e, 0, sizeof(*e));
	e->rule = DP_RULE_NAN;
	e->epoch = epoch;
	e->time = time;
	e->metric = (dp_str){ metrics->via.map.ptr[at].key.via.str.ptr, metrics->via.map.ptr[at].key.via.str.size };
	dp_obj_number(bad, &e->value);
	e->metrics = metrics;
}

static void evidence(dp_event *e, const dp_health *h, dp_rule rule, int64_t epoch, double time, double x,
		     long double s)
{
	memset(e, 0, sizeof(*e));
	e->rule = rule;
	e->epoch = epoch;
	e->time = time;
	e->metric = (dp_str){ h->metric, (uint32_t)strlen(h->metric) };
	e->value = x;
	e->lower = h->flags & DP_HF_LOWER;
	e->best = h->best;
	e->best_epoch = h->best_epoch;
	e->scale = (double)s;
}

size_t dp_health_epoch(dp_health *h, const dp_rules *r, int64_t epoch, double time, const msgpack_object *metrics,
		       dp_event *ev)
{
	size_t nev = 0;
	double x;

	if (!metrics || metrics->type != MSGPACK_OBJECT_MAP)
		return 0;
	if (isfinite(time)) {
		if (isfinite(h->last_time) && time >= h->last_time) {
			h->interval[h->intervals % DP_HEALTH_INTERVALS] = time - h->last_time;
			if (h->intervals < UINT32_MAX)
				h->intervals++;
		}
		h->last_time = time;
	}
	nan_rule(h, r, epoch, time, metrics, ev, &nev);
	if (!h->metric[0])
		choose_metric(h, r, metrics);
	const msgpack_object *v = h->metric[0] ? metric_value(metrics, h->metric) : NULL;
	if (!v || !dp_obj_number(v, &x) || !isfinite(x))
		return nev; /* no observation: the NaN rule has told it */
	long double sign = (h->flags & DP_HF_LOWER) ? 1.0L : -1.0L;
	if (h->n++ == 0) {
		h->first = h->best = h->ref = x;
		h->best_epoch = h->ref_epoch = epoch;
		return nev;
	}
	/* Lower is better for b: the badness of a value. */
	long double b = sign * x, B = sign * h->best, F = sign * h->first, P = sign * h->ref;
	long double learned = F - B, floor = (long double)r->scale_floor * fabsl(B), s = learned;
	if (floor > s)
		s = floor;
	if (s < DP_HEALTH_EPSILON)
		s = DP_HEALTH_EPSILON;

	if (r->divergence) {
		long double line = B + (long double)r->div_factor * s;
		if (b > line) {
			if (h->bad_run == 0)
				h->bad_since = epoch;
			if (h->bad_run < UINT32_MAX)
				h->bad_run++;
			if (h->bad_run >= r->div_epochs && !(h->flags & DP_HF_DIVERGED)) {
				h->flags |= DP_HF_DIVERGED;
				dp_event *e = &ev[nev++];
				evidence(e, h, DP_RULE_DIVERGENCE, epoch, time, x, s);
				e->threshold = (double)(sign * line);
				e->since = h->bad_since;
				e->epochs = r->div_epochs;
				e->factor = r->div_factor;
			}
		} else {
			h->bad_run = 0;
			h->flags &= ~DP_HF_DIVERGED;
		}
	}
	if (r->plateau) {
		long double target = P - (long double)r->plateau_delta * s;
		if (b < target) {
			h->ref = x;
			h->ref_epoch = epoch;
			h->since_ref = 0;
			h->flags &= ~DP_HF_PLATEAU;
		} else {
			if (h->since_ref < UINT32_MAX)
				h->since_ref++;
			if (h->since_ref >= r->plateau_epochs && !(h->flags & DP_HF_PLATEAU)) {
				h->flags |= DP_HF_PLATEAU;
				dp_event *e = &ev[nev++];
				evidence(e, h, DP_RULE_PLATEAU, epoch, time, x, s);
				e->threshold = (double)(sign * target);
				e->ref = h->ref;
				e->since = h->ref_epoch;
				e->epochs = r->plateau_epochs;
				e->factor = r->plateau_delta;
			}
		}
	}
	if (b < B) {
		h->best = x;
		h->best_epoch = epoch;
	}
	return nev;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double dp_health_median_interval(const dp_health *h)
{
	double v[DP_HEALTH_INTERVALS];
	uint32_t n = h->intervals < DP_HEALTH_INTERVALS ? h->intervals : DP_HEALTH_INTERVALS;
	if (n < 2)
		return NAN;
	memcpy(v, h->interval, sizeof(v));
	qsort(v, n, sizeof(double), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

bool dp_health_stalled(const dp_health *h, const dp_rules *r, double last, double now, double *median)
{
	*median = dp_health_median_interval(h);
	if (!r->stall || isnan(*median) || !isfinite(last) || !isfinite(now))
		return false;
	double wait = r->stall_factor * *median;
	if (wait < r->stall_min_s)
		wait = r->stall_min_s;
	return now - last > wait;
}

dp_health_state dp_health_stored_state(const dp_health *h)
{
	return (h->flags & DP_HF_NAN)	     ? DP_HEALTH_NAN
	       : (h->flags & DP_HF_DIVERGED) ? DP_HEALTH_DIVERGED
	       : (h->flags & DP_HF_PLATEAU)  ? DP_HEALTH_PLATEAU
					     : DP_HEALTH_OK;
}

/* ---- events ---------------------------------------------------------------------------- */

int dp_event_encode(const dp_event *e, const dp_buf *adaptations, dp_buf *out)
{
	size_t nonfinite = 0, need = 512 + e->metric.n + (adaptations ? adaptations->len : 0);
	const msgpack_object *m = e->metrics;
	for (uint32_t i = 0; m && i < m->via.map.size; i++) {
		double d;
		if (dp_obj_number(&m->via.map.ptr[i].val, &d) && !isfinite(d) && m->via.map.ptr[i].key.type == MSGPACK_OBJECT_STR) {
			nonfinite++;
			need += DP_MP_STR_OVERHEAD + m->via.map.ptr[i].key.via.str.size + 9;
		}
	}
	int rc;
	out->len = 0;
	if ((rc = dp_buf_reserve(out, need)))
		return rc;
	bool evid = e->rule == DP_RULE_DIVERGENCE || e->rule == DP_RULE_PLATEAU;
	bool adapt = e->rule == DP_RULE_PLATEAU;
	unsigned char *p = (unsigned char *)out->data;
	p = dp_mp_map(p, 5 + (e->rule == DP_RULE_NAN) + (evid ? 9 : 0) + adapt);
	p = dp_mp_key(p, "rule");
	p = dp_mp_str(p, dp_rule_names[e->rule], strlen(dp_rule_names[e->rule]));
	p = dp_mp_key(p, "epoch");
	p = dp_mp_int(p, e->epoch);
	p = dp_mp_key(p, "time");
	p = dp_mp_double(p, e->time);
	p = dp_mp_key(p, "metric");
	p = dp_mp_str(p, e->metric.p, e->metric.n);
	p = dp_mp_key(p, "value");
	p = dp_mp_double(p, e->value);
	if (e->rule == DP_RULE_NAN) {
		p = dp_mp_key(p, "nonfinite");
		p = dp_mp_map(p, (uint32_t)nonfinite);
		for (uint32_t i = 0; m && i < m->via.map.size; i++) {
			double d;
			const msgpack_object *k = &m->via.map.ptr[i].key;
			if (!dp_obj_number(&m->via.map.ptr[i].val, &d) || isfinite(d) || k->type != MSGPACK_OBJECT_STR)
				continue;
			p = dp_mp_str(p, k->via.str.ptr, k->via.str.size);
			p = dp_mp_double(p, d);
		}
	}
	if (evid) {
		p = dp_mp_key(p, "goal");
		p = dp_mp_str(p, e->lower ? "min" : "max", 3);
		p = dp_mp_key(p, "best");
		p = dp_mp_double(p, e->best);
		p = dp_mp_key(p, "best_epoch");
		p = dp_mp_int(p, e->best_epoch);
		p = dp_mp_key(p, "scale");
		p = dp_mp_double(p, e->scale);
		p = dp_mp_key(p, "threshold");
		p = dp_mp_double(p, e->threshold);
		p = dp_mp_key(p, "since");
		p = dp_mp_int(p, e->since);
		p = dp_mp_key(p, "epochs");
		p = dp_mp_uint(p, e->epochs);
		const char *param = e->rule == DP_RULE_DIVERGENCE ? "factor" : "min_delta";
		p = dp_mp_str(p, param, strlen(param));
		p = dp_mp_double(p, e->factor);
		p = dp_mp_key(p, "reference");
		p = dp_mp_double(p, e->rule == DP_RULE_PLATEAU ? e->ref : e->best);
	}
	if (adapt) {
		p = dp_mp_key(p, "adaptations");
		if (adaptations && adaptations->len) {
			memcpy(p, adaptations->data, adaptations->len);
			p += adaptations->len;
		} else {
			p = dp_mp_array(p, 0);
		}
	}
	out->len = (size_t)(p - (unsigned char *)out->data);
	return 0;
}

static bool mpr_key(const char *k, uint32_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(k, lit, n) == 0;
}

static bool mpr_int64(dp_mpr *r, int64_t *v)
{
	double d;
	if (!dp_mpr_number(r, &d) || !(d >= -9.2e18 && d <= 9.2e18))
		return false;
	*v = (int64_t)d;
	return true;
}

/* The bytes of the next value (skipped). */
static dp_str mpr_raw(dp_mpr *r)
{
	size_t at = r->pos;
	if (!dp_mpr_skip(r))
		return (dp_str){ NULL, 0 };
	return (dp_str){ (const char *)r->b + at, (uint32_t)(r->pos - at) };
}

int dp_event_fields_parse(const void *value, size_t n, dp_event_fields *out)
{
	dp_mpr r = { value, n, 0 };
	uint32_t count;
	memset(out, 0, sizeof(*out));
	out->rule = DP_RULE_COUNT;
	out->time = out->value = out->best = out->scale = out->threshold = out->ref = out->factor = NAN;
	if (!dp_mpr_map(&r, &count))
		return DNNPROV_ECORRUPT;
	for (uint32_t i = 0; i < count; i++) {
		const char *k, *s;
		uint32_t kn, sn;
		if (!dp_mpr_str(&r, &k, &kn))
			return DNNPROV_ECORRUPT;
		size_t at = r.pos;
		bool ok = true;
		if (mpr_key(k, kn, "rule") && (ok = dp_mpr_str(&r, &s, &sn)))
			out->rule = dp_rule_find(s, sn);
		else if (mpr_key(k, kn, "metric") && (ok = dp_mpr_str(&r, &s, &sn)))
			out->metric = (dp_str){ s, sn };
		else if (mpr_key(k, kn, "goal") && (ok = dp_mpr_str(&r, &s, &sn)))
			out->lower = sn == 3 && memcmp(s, "min", 3) == 0;
		else if (mpr_key(k, kn, "epoch"))
			ok = mpr_int64(&r, &out->epoch);
		else if (mpr_key(k, kn, "best_epoch"))
			ok = mpr_int64(&r, &out->best_epoch);
		else if (mpr_key(k, kn, "since"))
			ok = mpr_int64(&r, &out->since);
		else if (mpr_key(k, kn, "epochs")) {
			int64_t v;
			if ((ok = mpr_int64(&r, &v)))
				out->epochs = v < 0 ? 0 : v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
		} else if (mpr_key(k, kn, "nonfinite"))
			ok = (out->nonfinite = mpr_raw(&r)).p != NULL;
		else if (mpr_key(k, kn, "adaptations"))
			ok = (out->adaptations = mpr_raw(&r)).p != NULL;
		else {
			double *f = mpr_key(k, kn, "time")	 ? &out->time
				    : mpr_key(k, kn, "value")	 ? &out->value
				    : mpr_key(k, kn, "best")	 ? &out->best
				    : mpr_key(k, kn, "scale")	 ? &out->scale
				    : mpr_key(k, kn, "threshold") ? &out->threshold
				    : mpr_key(k, kn, "reference") ? &out->ref
				    : mpr_key(k, kn, "factor") || mpr_key(k, kn, "min_delta") ? &out->factor
											: NULL;
			if (f)
				ok = dp_mpr_number(&r, f);
			else
				ok = dp_mpr_skip(&r);
			out->has_evidence |= f == &out->best;
		}
		if (!ok) {
			r.pos = at;
			if (!dp_mpr_skip(&r))
				return DNNPROV_ECORRUPT;
		}
	}
	return out->rule == DP_RULE_COUNT ? DNNPROV_ECORRUPT : 0;
}

/* A number as people read it: %g, with NaN and the infinities named. */
static void num(dp_buf *b, double d)
{
	if (isnan(d))
		dp_buf_printf(b, "NaN");
	else if (isinf(d))
		dp_buf_printf(b, d > 0 ? "inf" : "-inf");
	else
		dp_buf_printf(b, "%.6g", d);
}

/* The adaptations of a plateau: "LEARNING_RATE 0.1 -> 0.01 at epoch 10". */
static void adaptations_text(dp_buf *b, dp_str raw)
{
	uint32_t count = 0;
	msgpack_object o;
	dp_decoder dec = { 0 };
	if (raw.p && dp_decode(&dec, (const unsigned char *)raw.p, raw.n, &o) == 0 && o.type == MSGPACK_OBJECT_ARRAY)
		count = o.via.array.size;
	if (!count) {
		dp_buf_printf(b, "; no adaptation since");
		dp_decoder_free(&dec);
		return;
	}
	dp_buf_printf(b, "; adapted since: ");
	for (uint32_t i = 0; i < count; i++) {
		const msgpack_object *a = &o.via.array.ptr[i];
		const msgpack_object *h = dp_map_get(a, "hyperparameter"), *ep = dp_map_get(a, "epoch");
		const msgpack_object *old = dp_map_get(a, "old"), *nw = dp_map_get(a, "new");
		double d;
		dp_buf_printf(b, "%s", i ? ", " : "");
		if (h && h->type == MSGPACK_OBJECT_STR)
			dp_buf_append(b, h->via.str.ptr, h->via.str.size);
		const msgpack_object *vals[] = { old, nw };
		for (int j = 0; j < 2; j++) {
			dp_buf_printf(b, j ? " -> " : " ");
			if (vals[j] && vals[j]->type == MSGPACK_OBJECT_STR)
				dp_buf_append(b, vals[j]->via.str.ptr, vals[j]->via.str.size);
			else if (vals[j] && dp_obj_number(vals[j], &d))
				num(b, d);
			else
				dp_buf_printf(b, "?");
		}
		if (ep && dp_obj_number(ep, &d))
			dp_buf_printf(b, " at epoch %.0f", d);
	}
	dp_decoder_free(&dec);
}

int dp_event_sentence(dp_buf *b, const dp_event_fields *e)
{
	int m = (int)(e->metric.n > 128 ? 128 : e->metric.n);
	switch (e->rule) {
	case DP_RULE_NAN: {
		dp_buf_printf(b, "%.*s was ", m, e->metric.p);
		num(b, e->value);
		dp_buf_printf(b, " at epoch %lld", (long long)e->epoch);
		msgpack_object o;
		dp_decoder dec = { 0 };
		if (e->nonfinite.p && dp_decode(&dec, (const unsigned char *)e->nonfinite.p, e->nonfinite.n, &o) == 0 &&
		    o.type == MSGPACK_OBJECT_MAP && o.via.map.size > 1) {
			dp_buf_printf(b, " (also ");
			for (uint32_t i = 1, k = 0; i < o.via.map.size; i++) {
				const msgpack_object *kk = &o.via.map.ptr[i].key;
				double d;
				if (kk->type != MSGPACK_OBJECT_STR || !dp_obj_number(&o.via.map.ptr[i].val, &d))
					continue;
				dp_buf_printf(b, "%s%.*s ", k++ ? ", " : "", (int)(kk->via.str.size > 128 ? 128 : kk->via.str.size),
					      kk->via.str.ptr);
				num(b, d);
			}
			dp_buf_printf(b, ")");
		}
		dp_decoder_free(&dec);
		break;
	}
	case DP_RULE_DIVERGENCE:
		dp_buf_printf(b, "%.*s has been %s ", m, e->metric.p, e->lower ? "above" : "below");
		num(b, e->threshold);
		dp_buf_printf(b, " for %u epochs since epoch %lld (", e->epochs, (long long)e->since);
		num(b, e->value);
		dp_buf_printf(b, " at epoch %lld; best ", (long long)e->epoch);
		num(b, e->best);
		dp_buf_printf(b, " at epoch %lld, %s ", (long long)e->best_epoch, e->lower ? "plus" : "minus");
		num(b, e->factor);
		dp_buf_printf(b, " x scale ");
		num(b, e->scale);
		dp_buf_printf(b, ")");
		break;
	case DP_RULE_PLATEAU:
		dp_buf_printf(b, "%.*s has not improved on ", m, e->metric.p);
		num(b, e->ref);
		dp_buf_printf(b, " (epoch %lld) by more than ", (long long)e->since);
		num(b, fabs(e->ref - e->threshold));
		dp_buf_printf(b, " for %u epochs (", e->epochs);
		num(b, e->value);
		dp_buf_printf(b, " at epoch %lld; best ", (long long)e->epoch);
		num(b, e->best);
		dp_buf_printf(b, ")");
		adaptations_text(b, e->adaptations);
		break;
	default:
		dp_buf_printf(b, "an event");
	}
	return b->failed ? dp_error(DNNPROV_ENOMEM, "out of memory") : 0;
}

int dp_event_id(dp_buf *b, const char *df, size_t dfn, const char *task, size_t tn, dp_rule rule, int64_t epoch)
{
	dp_buf_append(b, df, dfn);
	dp_buf_putc(b, '/');
	dp_buf_append(b, task, tn);
	dp_buf_printf(b, "/%s/%lld", dp_rule_names[rule < DP_RULE_COUNT ? rule : 0], (long long)epoch);
	return b->failed ? dp_error(DNNPROV_ENOMEM, "out of memory") : 0;
}

static void json_num_field(dp_buf *b, const char *name, double d)
{
	dp_buf_printf(b, ",\"%s\":", name);
	dp_json_double(b, d);
}

int dp_event_evidence_json(dp_buf *b, const dp_event_fields *e)
{
	dp_buf_putc(b, '{');
	if (e->has_evidence) {
		dp_buf_printf(b, "\"goal\":\"%s\"", e->lower ? "min" : "max");
		json_num_field(b, "best", e->best);
		dp_buf_printf(b, ",\"best_epoch\":%lld", (long long)e->best_epoch);
		json_num_field(b, "scale", e->scale);
		json_num_field(b, "threshold", e->threshold);
		json_num_field(b, e->rule == DP_RULE_DIVERGENCE ? "factor" : "min_delta", e->factor);
		dp_buf_printf(b, ",\"epochs\":%u,\"since\":%lld", e->epochs, (long long)e->since);
		json_num_field(b, "reference", e->ref);
	}
	msgpack_object o;
	dp_decoder dec = { 0 };
	dp_str raw = e->rule == DP_RULE_NAN ? e->nonfinite : e->adaptations;
	if (raw.p && dp_decode(&dec, (const unsigned char *)raw.p, raw.n, &o) == 0) {
		dp_buf_printf(b, "%s\"%s\":", e->has_evidence ? "," : "", e->rule == DP_RULE_NAN ? "nonfinite" : "adaptations");
		dp_json_object(b, &o);
	}
	dp_decoder_free(&dec);
	dp_buf_putc(b, '}');
	return b->failed ? dp_error(DNNPROV_ENOMEM, "out of memory") : 0;
}

int dp_event_json(dp_buf *b, const char *df, size_t dfn, const char *task, size_t tn, const dp_event_fields *e)
{
	dp_buf id = { 0 }, detail = { 0 };
	int rc = dp_event_id(&id, df, dfn, task, tn, e->rule, e->epoch);
	if (!rc)
		rc = dp_event_sentence(&detail, e);
	if (rc)
		goto out;
	dp_buf_printf(b, "{\"id\":");
	dp_json_string(b, id.data, id.len);
	dp_buf_printf(b, ",\"dataflow\":");
	dp_json_string(b, df, dfn);
	dp_buf_printf(b, ",\"task\":");
	dp_json_string(b, task, tn);
	dp_buf_printf(b, ",\"rule\":\"%s\",\"epoch\":%lld", dp_rule_names[e->rule], (long long)e->epoch);
	json_num_field(b, "time", e->time);
	dp_buf_printf(b, ",\"metric\":");
	dp_json_string(b, e->metric.p ? e->metric.p : "", e->metric.n);
	json_num_field(b, "value", e->value);
	dp_buf_printf(b, ",\"detail\":");
	dp_json_string(b, detail.data ? detail.data : "", detail.len);
	dp_buf_printf(b, ",\"evidence\":");
	rc = dp_event_evidence_json(b, e);
	dp_buf_putc(b, '}');
	if (!rc && b->failed)
		rc = dp_error(DNNPROV_ENOMEM, "out of memory");
out:
	dp_buf_free(&id);
	dp_buf_free(&detail);
	return rc;
}

/* ---- the rules in the index ----------------------------------------------------------- */

int dp_rules_encode(const dp_rules *r, dp_buf *out)
{
	size_t ml = r->metric ? strlen(r->metric) : 0;
	int rc;
	out->len = 0;
	if ((rc = dp_buf_reserve(out, 512 + ml)))
		return rc;
	unsigned char *p = (unsigned char *)out->data;
	p = dp_mp_map(p, 14);
	p = dp_mp_key(p, "metric");
	p = r->metric ? dp_mp_str(p, r->metric, ml) : dp_mp_nil(p);
	p = dp_mp_key(p, "goal");
	p = r->goal ? dp_mp_str(p, r->goal > 0 ? "min" : "max", 3) : dp_mp_nil(p);
	p = dp_mp_key(p, "nan");
	p = dp_mp_bool(p, r->nan);
	p = dp_mp_key(p, "divergence");
	p = dp_mp_bool(p, r->divergence);
	p = dp_mp_key(p, "divergence_factor");
	p = dp_mp_double(p, r->div_factor);
	p = dp_mp_key(p, "divergence_epochs");
	p = dp_mp_uint(p, r->div_epochs);
	p = dp_mp_key(p, "plateau");
	p = dp_mp_bool(p, r->plateau);
	p = dp_mp_key(p, "plateau_epochs");
	p = dp_mp_uint(p, r->plateau_epochs);
	p = dp_mp_key(p, "plateau_min_delta");
	p = dp_mp_double(p, r->plateau_delta);
	p = dp_mp_key(p, "scale_floor");
	p = dp_mp_double(p, r->scale_floor);
	p = dp_mp_key(p, "stall");
	p = dp_mp_bool(p, r->stall);
	p = dp_mp_key(p, "stall_factor");
	p = dp_mp_double(p, r->stall_factor);
	p = dp_mp_key(p, "stall_at_least");
	p = dp_mp_double(p, r->stall_min_s);
	p = dp_mp_key(p, "epsilon");
	p = dp_mp_double(p, DP_HEALTH_EPSILON);
	out->len = (size_t)(p - (unsigned char *)out->data);
	return 0;
}

void dp_rules_decode(const void *p, size_t n, dp_rules *r)
{
	dp_mpr rd = { p, n, 0 };
	uint32_t count;
	dp_rules_defaults(r);
	if (!dp_mpr_map(&rd, &count))
		return;
	for (uint32_t i = 0; i < count; i++) {
		const char *k;
		uint32_t kn;
		double d;
		if (!dp_mpr_str(&rd, &k, &kn))
			return;
		size_t at = rd.pos;
		bool is_bool = rd.pos < n && (rd.b[rd.pos] == 0xc2 || rd.b[rd.pos] == 0xc3);
		bool flag = is_bool && rd.b[rd.pos] == 0xc3;
		if (is_bool) {
			rd.pos++;
			if (mpr_key(k, kn, "nan"))
				r->nan = flag;
			else if (mpr_key(k, kn, "divergence"))
				r->divergence = flag;
			else if (mpr_key(k, kn, "plateau"))
				r->plateau = flag;
			else if (mpr_key(k, kn, "stall"))
				r->stall = flag;
			continue;
		}
		if (dp_mpr_number(&rd, &d)) {
			if (mpr_key(k, kn, "divergence_factor"))
				r->div_factor = d;
			else if (mpr_key(k, kn, "divergence_epochs"))
				r->div_epochs = (uint32_t)d;
			else if (mpr_key(k, kn, "plateau_epochs"))
				r->plateau_epochs = (uint32_t)d;
			else if (mpr_key(k, kn, "plateau_min_delta"))
				r->plateau_delta = d;
			else if (mpr_key(k, kn, "scale_floor"))
				r->scale_floor = d;
			else if (mpr_key(k, kn, "stall_factor"))
				r->stall_factor = d;
			else if (mpr_key(k, kn, "stall_at_least"))
				r->stall_min_s = d;
			continue;
		}
		rd.pos = at;
		if (!dp_mpr_skip(&rd))
			return;
	}
}
