/*
 * decode.h - turning a frame's payload into a msgpack-c object, and the
 * JSON form of records that `dnnprov cat` prints.
 */
#ifndef DNNPROV_DECODE_H
#define DNNPROV_DECODE_H

#include <msgpack.h>
#include <stdbool.h>

#include "logger/mpack.h"
#include "util/util.h"

/* A decoder reuses one msgpack zone for every payload it decodes: objects
 * it returns live until the next dp_decode() or dp_decoder_free(). */
typedef struct dp_decoder {
	msgpack_zone zone;
	bool ready;
	/* Set by the caller: objects live until dp_decoder_free(), not only
	 * until the next decode (a segment decoded ahead, prefetch.h). */
	bool keep;
	/* Set by the caller: the bytes the zone takes from malloc at a time
	 * (0: 4 KiB).  A segment decoded on one thread is freed on another,
	 * and every chunk freed there waits on the first thread's malloc
	 * lock: one chunk the size of the segment's objects, not fifteen. */
	size_t chunk_size;
	/* A decode ran out of memory.  Sticky: code that takes an undecodable
	 * value as damage and goes on checks it once at the end, so that a
	 * failed allocation never passes for a missing value. */
	bool out_of_memory;
} dp_decoder;

/* Decodes payload[0..n) into *out after dp_mp_check() proves it safe.
 * Returns 0 or DNNPROV_ECORRUPT / DNNPROV_ENOMEM. */
DP_INTERNAL int dp_decode(dp_decoder *d, const unsigned char *payload, size_t n, msgpack_object *out);
/* The same for a payload that already passed dp_mp_check() (a frame the
 * reader returned as a record). */
DP_INTERNAL int dp_decode_checked(dp_decoder *d, const unsigned char *payload, size_t n,
				  msgpack_object *out);
DP_INTERNAL void dp_decoder_free(dp_decoder *d);

/* The value of `key` in a map object, or NULL. */
DP_INTERNAL const msgpack_object *dp_map_get(const msgpack_object *map, const char *key);
/* Whether o is the string s. */
DP_INTERNAL bool dp_obj_is_str(const msgpack_object *o, const char *s);
/* A decoded scalar as the reader of bytes gives it (logger/mpack.h):
 * integers exact, an unsigned one past INT64_MAX as DP_MPR_BIG, strings in
 * place; o NULL (absent) is DP_MPR_NIL. */
DP_INTERNAL void dp_obj_scalar(const msgpack_object *o, dp_mpr_scalar *v);

/* Appends the msgpack encoding of o (msgpack-c's packer). */
DP_INTERNAL int dp_pack_object(dp_buf *b, const msgpack_object *o);

/* Appends the JSON form of o: NaN and infinities as the strings "NaN",
 * "Infinity" and "-Infinity" (JSON has no such numbers), binary as base64
 * would be unusual in records, so bin and ext become null. */
DP_INTERNAL int dp_json_object(dp_buf *b, const msgpack_object *o);
/* A record as `dnnprov cat` prints it: as dp_json_object, but its "time"
 * as ISO 8601 UTC text with microseconds, the form every answer gives a
 * time in; a time no such text holds (NaN, before 1970, after 9999) stays
 * a number. */
DP_INTERNAL int dp_json_record(dp_buf *b, const msgpack_object *o);
/* Appends s[0..n) as a JSON string, escaping what JSON requires and
 * replacing invalid UTF-8 with U+FFFD. */
DP_INTERNAL int dp_json_string(dp_buf *b, const char *s, size_t n);
/* Appends a double as JSON: the shortest form that reads back exactly. */
DP_INTERNAL int dp_json_double(dp_buf *b, double d);

#endif
