/*
 * varint.h - the index's packed integers: LEB128 varints, zig-zag for
 * signed values, read back bounds-checked.  The epoch blocks (epochs.c) and
 * the summaries (values.c) are written with them; docs/INDEX.md describes
 * the bytes.
 */
#ifndef DNNPROV_INDEXER_VARINT_H
#define DNNPROV_INDEXER_VARINT_H

#include <stdbool.h>
#include <stdint.h>

/* Writes v in 1 to 10 bytes; returns the byte after them. */
static inline unsigned char *dp_varint_put(unsigned char *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	*p++ = (unsigned char)v;
	return p;
}

/* Small magnitudes of either sign in few bytes. */
static inline unsigned char *dp_zigzag_put(unsigned char *p, int64_t v)
{
	return dp_varint_put(p, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

/* Bytes being read: a read past `end`, or a varint longer than 64 bits,
 * sets `bad` and gives 0. */
typedef struct dp_packed_reader {
	const unsigned char *p, *end;
	bool bad;
} dp_packed_reader;

static inline uint64_t dp_varint_get(dp_packed_reader *r)
{
	uint64_t v = 0;
	for (unsigned shift = 0; shift < 64 && r->p < r->end; shift += 7) {
		unsigned char c = *r->p++;
		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return v;
	}
	r->bad = true;
	return 0;
}

static inline int64_t dp_zigzag_get(dp_packed_reader *r)
{
	uint64_t z = dp_varint_get(r);
	return (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
}

#endif
