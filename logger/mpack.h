/*
 * mpack.h - the msgpack encoder of the append path, and a structural check
 * run before msgpack-c decodes anything.
 *
 * Why not msgpack-c's packer for writing: it calls its write callback once
 * per token, some forty indirect calls for an epoch record, which alone
 * costs more than the whole append budget in buffered mode.  These inline
 * writers reserve the worst case once and store bytes directly.  What they
 * produce is checked by decoding it with msgpack-c and with Python's
 * msgpack in the tests.
 *
 * Why a structural check before msgpack-c decodes: msgpack-c allocates an
 * array or map's storage from the count in its header before it looks at
 * the bytes, so a 20-byte frame claiming 2^32 elements asks for 100 GB.
 * dp_mp_check() walks the bytes first and refuses counts and lengths that
 * the remaining bytes cannot hold, and nesting deeper than DP_MP_MAX_DEPTH.
 */
#ifndef DNNPROV_MPACK_H
#define DNNPROV_MPACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "util/util.h"

#define DP_MP_MAX_DEPTH 16

/* Worst-case encoded sizes, for dp_buf_reserve(). */
#define DP_MP_MAX_SCALAR 9          /* int64, double */
#define DP_MP_STR_OVERHEAD 5        /* str32 header */
#define DP_MP_CONTAINER_OVERHEAD 5  /* map32/array32 header */

/* All writers assume the caller reserved room: p points into a buffer
 * with enough capacity, and they return the advanced pointer. */
static inline unsigned char *dp_mp_map(unsigned char *p, uint32_t n)
{
	if (n < 16) {
		*p++ = (unsigned char)(0x80 | n);
	} else if (n < 65536) {
		*p++ = 0xde;
		dp_put_be16(p, (uint16_t)n);
		p += 2;
	} else {
		*p++ = 0xdf;
		dp_put_be32(p, n);
		p += 4;
	}
	return p;
}

static inline unsigned char *dp_mp_array(unsigned char *p, uint32_t n)
{
	if (n < 16) {
		*p++ = (unsigned char)(0x90 | n);
	} else if (n < 65536) {
		*p++ = 0xdc;
		dp_put_be16(p, (uint16_t)n);
		p += 2;
	} else {
		*p++ = 0xdd;
		dp_put_be32(p, n);
		p += 4;
	}
	return p;
}

static inline unsigned char *dp_mp_str(unsigned char *p, const char *s, size_t n)
{
	if (n < 32) {
		*p++ = (unsigned char)(0xa0 | n);
	} else if (n < 256) {
		*p++ = 0xd9;
		*p++ = (unsigned char)n;
	} else if (n < 65536) {
		*p++ = 0xda;
		dp_put_be16(p, (uint16_t)n);
		p += 2;
	} else {
		*p++ = 0xdb;
		dp_put_be32(p, (uint32_t)n);
		p += 4;
	}
	memcpy(p, s, n);
	return p + n;
}

/* A literal key: dp_mp_key(p, "epoch"). */
#define dp_mp_key(p, lit) dp_mp_str((p), (lit), sizeof(lit) - 1)

/* The pieces of a specification (docs/FORMAT.md, "spec"), which the
 * writer records and the indexer stores merged: a {name, type} map (a
 * hyperparameter, an attribute) and an array of names (the metrics). */
static inline unsigned char *dp_mp_name_type(unsigned char *p, const char *name, const char *type)
{
	p = dp_mp_map(p, 2);
	p = dp_mp_key(p, "name");
	p = dp_mp_str(p, name, strlen(name));
	p = dp_mp_key(p, "type");
	return dp_mp_str(p, type, strlen(type));
}

static inline unsigned char *dp_mp_names(unsigned char *p, char *const *names, size_t n)
{
	p = dp_mp_array(p, (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		p = dp_mp_str(p, names[i], strlen(names[i]));
	return p;
}

static inline unsigned char *dp_mp_int(unsigned char *p, int64_t v)
{
	if (v >= 0 && v < 128) {
		*p++ = (unsigned char)v;
	} else if (v < 0 && v >= -32) {
		*p++ = (unsigned char)(0xe0 | (v + 32));
	} else if (v >= INT32_MIN && v <= INT32_MAX) {
		*p++ = 0xd2;
		dp_put_be32(p, (uint32_t)(int32_t)v);
		p += 4;
	} else {
		*p++ = 0xd3;
		dp_put_be64(p, (uint64_t)v);
		p += 8;
	}
	return p;
}

static inline unsigned char *dp_mp_uint(unsigned char *p, uint64_t v)
{
	if (v < 128) {
		*p++ = (unsigned char)v;
	} else if (v <= UINT32_MAX) {
		*p++ = 0xce;
		dp_put_be32(p, (uint32_t)v);
		p += 4;
	} else {
		*p++ = 0xcf;
		dp_put_be64(p, v);
		p += 8;
	}
	return p;
}

static inline unsigned char *dp_mp_double(unsigned char *p, double d)
{
	uint64_t bits;
	memcpy(&bits, &d, 8);
	*p++ = 0xcb;
	dp_put_be64(p, bits);
	return p + 8;
}

static inline unsigned char *dp_mp_bool(unsigned char *p, bool b)
{
	*p++ = b ? 0xc3 : 0xc2;
	return p;
}

static inline unsigned char *dp_mp_nil(unsigned char *p)
{
	*p++ = 0xc0;
	return p;
}

/* A specification's metrics, adaptation, and the header of its array of
 * ntfs transformations (which the caller writes next). */
static inline unsigned char *dp_mp_spec_middle(unsigned char *p, char *const *metrics, size_t nmetrics,
					       bool adaptation, size_t ntfs)
{
	p = dp_mp_key(p, "metrics");
	p = dp_mp_names(p, metrics, nmetrics);
	p = dp_mp_key(p, "adaptation");
	p = dp_mp_bool(p, adaptation);
	p = dp_mp_key(p, "transformations");
	return dp_mp_array(p, (uint32_t)ntfs);
}

/* Checks that buf[0..len) is exactly one msgpack object whose every count
 * and length fits the bytes that remain, nested at most DP_MP_MAX_DEPTH
 * deep, using no allocation.  Returns true when it is. */
DP_INTERNAL bool dp_mp_check(const unsigned char *buf, size_t len);

/* ---- reading in place ------------------------------------------------------
 * A cursor over msgpack bytes for the paths that read a few fields of many
 * stored values (every task, every epoch record) without decoding them:
 * every read is bounds-checked, and a failed one leaves pos where it was
 * or past what it consumed (callers give up on the value).
 */
typedef struct dp_mpr {
	const unsigned char *b;
	size_t n, pos;
} dp_mpr;

static inline bool dp_mpr_need(const dp_mpr *r, size_t k)
{
	return r->n - r->pos >= k;
}
/* A map's header: its number of pairs (at most what the bytes can hold). */
DP_INTERNAL bool dp_mpr_map(dp_mpr *r, uint32_t *count);
/* A string: its bytes in place. */
DP_INTERNAL bool dp_mpr_str(dp_mpr *r, const char **p, uint32_t *len);
/* Skips one object, checked as dp_mp_skip checks it. */
DP_INTERNAL bool dp_mpr_skip(dp_mpr *r);
/* A scalar read in place (dp_mpr_scalar): the one decoder of msgpack's
 * integer, float, boolean, nil and string headers for readers of bytes. */
typedef enum dp_mpr_kind {
	DP_MPR_NIL,
	DP_MPR_BOOL,  /* i: 0 or 1 */
	DP_MPR_INT,   /* i: exact (any width, signed or not, up to INT64_MAX) */
	DP_MPR_BIG,   /* an unsigned integer past INT64_MAX: u exact, d nearest */
	DP_MPR_REAL,  /* d (float32 widened) */
	DP_MPR_STR,   /* s[0..n), in place */
	DP_MPR_OTHER, /* an array, map, bin or ext: skipped */
} dp_mpr_kind;

typedef struct dp_mpr_scalar {
	dp_mpr_kind kind;
	int64_t i;
	uint64_t u;
	double d; /* also set for BOOL and INT */
	const char *s;
	uint32_t n;
} dp_mpr_scalar;

/* Reads the object at the cursor into *v (skipping a container); false
 * when the bytes end or are malformed. */
DP_INTERNAL bool dp_mpr_value(dp_mpr *r, dp_mpr_scalar *v);
/* A number (an integer, as its double) into *d, or nil (*d NaN); false for
 * anything else, which is skipped. */
DP_INTERNAL bool dp_mpr_number(dp_mpr *r, double *d);
/* An integer, exactly, into *v (an unsigned one past INT64_MAX: *big set
 * and its bits in *v); false for anything else, which is skipped. */
DP_INTERNAL bool dp_mpr_int(dp_mpr *r, int64_t *v, bool *big);

#endif
