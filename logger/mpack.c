/*
 * mpack.c - structural validation of msgpack bytes (see mpack.h for why).
 */
#include <assert.h>
#include <math.h>

#include "logger/mpack.h"

/* Returns the offset after the object at buf[pos], or 0 on any problem
 * (0 is never a valid end since every object takes at least one byte). */
static size_t skip_object(const unsigned char *buf, size_t len, size_t pos, int depth)
{
	uint64_t count = 0, body = 0;
	bool container = false, map = false;
	unsigned char c;

	if (depth > DP_MP_MAX_DEPTH || pos >= len)
		return 0;
	c = buf[pos++];
	if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3)
		return pos;
	if ((c & 0xe0) == 0xa0) {
		body = c & 0x1f;
	} else if ((c & 0xf0) == 0x80) {
		count = c & 0x0f;
		container = map = true;
	} else if ((c & 0xf0) == 0x90) {
		count = c & 0x0f;
		container = true;
	} else {
		size_t need;
		switch (c) {
		case 0xcc: case 0xd0: need = 1; break;
		case 0xcd: case 0xd1: need = 2; break;
		case 0xce: case 0xd2: case 0xca: need = 4; break;
		case 0xcf: case 0xd3: case 0xcb: need = 8; break;
		case 0xd9: case 0xc4: need = 1; break; /* str8, bin8 */
		case 0xda: case 0xc5: case 0xdc: case 0xde: need = 2; break;
		case 0xdb: case 0xc6: case 0xdd: case 0xdf: need = 4; break;
		case 0xd4: return pos + 2 <= len ? pos + 2 : 0; /* fixext 1: type + 1 */
		case 0xd5: return pos + 3 <= len ? pos + 3 : 0;
		case 0xd6: return pos + 5 <= len ? pos + 5 : 0;
		case 0xd7: return pos + 9 <= len ? pos + 9 : 0;
		case 0xd8: return pos + 17 <= len ? pos + 17 : 0;
		case 0xc7: need = 1; break; /* ext8 */
		case 0xc8: need = 2; break;
		case 0xc9: need = 4; break;
		default: return 0;          /* 0xc1 is never used */
		}
		if (len - pos < need)
			return 0;
		if (c == 0xcc || c == 0xd0 || c == 0xcd || c == 0xd1 || c == 0xce || c == 0xd2 ||
		    c == 0xca || c == 0xcf || c == 0xd3 || c == 0xcb)
			return pos + need;
		uint64_t n = need == 1 ? buf[pos] : need == 2 ? dp_get_be16(buf + pos) : dp_get_be32(buf + pos);
		pos += need;
		if (c == 0xdc || c == 0xdd) {
			count = n;
			container = true;
		} else if (c == 0xde || c == 0xdf) {
			count = n;
			container = map = true;
		} else if (c == 0xc7 || c == 0xc8 || c == 0xc9) {
			body = n + 1; /* the ext type byte */
		} else {
			body = n;
		}
	}
	if (!container)
		return body <= len - pos ? pos + body : 0;
	if (map) {
		if (count > (len - pos) / 2)
			return 0;
		count *= 2;
	} else if (count > len - pos) {
		return 0; /* every element takes at least a byte */
	}
	for (uint64_t i = 0; i < count; i++) {
		pos = skip_object(buf, len, pos, depth + 1);
		if (!pos)
			return 0;
	}
	assert(pos <= len); /* never past the bytes it was given */
	return pos;
}

/* The offset after the object at buf[pos], checked as dp_mp_check checks
 * a whole payload; 0 when it is malformed.  For readers that walk
 * msgpack bytes without decoding them all. */
static size_t dp_mp_skip(const unsigned char *buf, size_t len, size_t pos)
{
	return skip_object(buf, len, pos, 0);
}

bool dp_mp_check(const unsigned char *buf, size_t len)
{
	return len > 0 && skip_object(buf, len, 0, 0) == len;
}

/* ---- reading in place ---------------------------------------------------------- */

bool dp_mpr_map(dp_mpr *r, uint32_t *count)
{
	if (!dp_mpr_need(r, 1))
		return false;
	unsigned char c = r->b[r->pos];
	if ((c & 0xf0) == 0x80) {
		*count = c & 0x0f;
		r->pos++;
	} else if (c == 0xde && dp_mpr_need(r, 3)) {
		*count = dp_get_be16(r->b + r->pos + 1);
		r->pos += 3;
	} else if (c == 0xdf && dp_mpr_need(r, 5)) {
		*count = dp_get_be32(r->b + r->pos + 1);
		r->pos += 5;
	} else {
		return false;
	}
	/* Every pair takes at least two bytes. */
	assert(r->pos <= r->n);
	return *count <= (r->n - r->pos) / 2;
}

bool dp_mpr_str(dp_mpr *r, const char **p, uint32_t *len)
{
	size_t n, hdr;
	if (!dp_mpr_need(r, 1))
		return false;
	unsigned char c = r->b[r->pos];
	if ((c & 0xe0) == 0xa0) {
		n = c & 0x1f;
		hdr = 1;
	} else if (c == 0xd9 && dp_mpr_need(r, 2)) {
		n = r->b[r->pos + 1];
		hdr = 2;
	} else if (c == 0xda && dp_mpr_need(r, 3)) {
		n = dp_get_be16(r->b + r->pos + 1);
		hdr = 3;
	} else if (c == 0xdb && dp_mpr_need(r, 5)) {
		n = dp_get_be32(r->b + r->pos + 1);
		hdr = 5;
	} else {
		return false;
	}
	if (!dp_mpr_need(r, hdr + n))
		return false;
	*p = (const char *)r->b + r->pos + hdr;
	*len = (uint32_t)n;
	r->pos += hdr + n;
	assert(r->pos <= r->n);
	return true;
}

bool dp_mpr_skip(dp_mpr *r)
{
	size_t next = dp_mp_skip(r->b, r->n, r->pos);
	if (!next)
		return false;
	r->pos = next;
	return true;
}

bool dp_mpr_value(dp_mpr *r, dp_mpr_scalar *v)
{
	memset(v, 0, sizeof(*v));
	if (!dp_mpr_need(r, 1))
		return false;
	const unsigned char *p = r->b + r->pos;
	unsigned char c = *p;
	if (c <= 0x7f || c >= 0xe0) { /* fixint */
		v->kind = DP_MPR_INT;
		v->i = (int8_t)c;
		v->d = (double)v->i;
		r->pos++;
		return true;
	}
	if ((c & 0xe0) == 0xa0 || c == 0xd9 || c == 0xda || c == 0xdb) {
		v->kind = DP_MPR_STR;
		return dp_mpr_str(r, &v->s, &v->n);
	}
	if (c == 0xc0 || c == 0xc2 || c == 0xc3) {
		v->kind = c == 0xc0 ? DP_MPR_NIL : DP_MPR_BOOL;
		v->i = c == 0xc3;
		v->d = c == 0xc0 ? NAN : (double)v->i;
		r->pos++;
		return true;
	}
	size_t need = c == 0xcc || c == 0xd0 ? 1 : c == 0xcd || c == 0xd1 ? 2 : c == 0xce || c == 0xd2 || c == 0xca ? 4
		      : c == 0xcf || c == 0xd3 || c == 0xcb ? 8 : 0;
	if (!need) {
		v->kind = DP_MPR_OTHER;
		return dp_mpr_skip(r);
	}
	if (!dp_mpr_need(r, 1 + need))
		return false;
	uint64_t u = need == 1 ? p[1] : need == 2 ? dp_get_be16(p + 1) : need == 4 ? dp_get_be32(p + 1) : dp_get_be64(p + 1);
	r->pos += 1 + need;
	assert(r->pos <= r->n);
	v->kind = DP_MPR_INT;
	switch (c) {
	case 0xca: {
		uint32_t bits = (uint32_t)u;
		float x;
		memcpy(&x, &bits, 4);
		v->kind = DP_MPR_REAL;
		v->d = x;
		return true;
	}
	case 0xcb:
		v->kind = DP_MPR_REAL;
		memcpy(&v->d, &u, 8);
		return true;
	case 0xd0: v->i = (int8_t)u; break;
	case 0xd1: v->i = (int16_t)u; break;
	case 0xd2: v->i = (int32_t)u; break;
	case 0xd3: v->i = (int64_t)u; break;
	default:
		if (u > (uint64_t)INT64_MAX) {
			v->kind = DP_MPR_BIG;
			v->u = u;
			v->i = (int64_t)u;
			v->d = (double)u;
			return true;
		}
		v->i = (int64_t)u;
	}
	v->d = (double)v->i;
	return true;
}

bool dp_mpr_number(dp_mpr *r, double *d)
{
	dp_mpr_scalar v;
	if (!dp_mpr_value(r, &v))
		return false;
	*d = v.d;
	return v.kind == DP_MPR_INT || v.kind == DP_MPR_BIG || v.kind == DP_MPR_REAL || v.kind == DP_MPR_NIL;
}

bool dp_mpr_int(dp_mpr *r, int64_t *i, bool *big)
{
	dp_mpr_scalar v;
	if (!dp_mpr_value(r, &v))
		return false;
	*i = v.i;
	*big = v.kind == DP_MPR_BIG;
	return v.kind == DP_MPR_INT || *big;
}
