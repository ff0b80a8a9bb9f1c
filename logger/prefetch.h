/*
 * prefetch.h - a segment read, checked and decoded ahead (prefetch.c), by
 * one thread for another that applies it: the indexer's loader reads the
 * next segments while the indexer commits the ones before.
 *
 * dp_prefetch() reads the file (dp_segment_image_load), runs the reader
 * over its bytes from an offset to the end and keeps what each call of
 * dp_reader_next() returned, each record decoded and checked against the
 * record schema.  A consumer replays those results from any frame boundary
 * among them (dp_prefetched_at): the same results a reader of the file
 * started there would have given, when the file held those bytes.
 */
#ifndef DNNPROV_PREFETCH_H
#define DNNPROV_PREFETCH_H

#include "logger/decode.h"
#include "logger/reader.h"
#include "logger/record.h"

/* One result of dp_reader_next(), and for a record what decoding and
 * checking it gave. */
typedef struct dp_prefetched_frame {
	int res;           /* a DP_READ_* result, or a negative DNNPROV_E* read error */
	uint64_t at;       /* the reader's offset before it */
	uint64_t next;     /* dp_reader_offset() after it */
	dp_frame frame;    /* RECORD, SEAL: the payload points into the image */
	dp_problem problem; /* PROBLEM, TORN */
	int decoded;       /* RECORD: 0, or what decoding gave (DNNPROV_ECORRUPT, _ENOMEM) */
	int parsed;        /* decoded: 0, or DNNPROV_ECORRUPT from dp_record_parse() */
	const char *why;   /* the detail of a failure of either (in the decoder's zone) */
	dp_record rec;     /* parsed: the record, pointing into the decoder's objects */
} dp_prefetched_frame;

typedef struct dp_prefetched {
	dp_segment_image img;
	uint64_t from;
	int open_rc;        /* what dp_reader_open_image() returned (not read when not 0) */
	char open_why[256]; /* and its detail */
	dp_segment_header hdr;
	dp_prefetched_frame *f;
	size_t n;
	bool decoded;       /* records were decoded (else decoded, parsed, why, rec are unset) */
	dp_decoder dec;     /* keeps every record's objects */
} dp_prefetched;

/* Reads `name` in folder dirfd (path for messages) from `from` and runs the
 * reader over it, as above (*p says why not, when it could not: img.err,
 * img.mode, open_rc), decoding its records when `decode` is set.  0 or
 * DNNPROV_ENOMEM. */
DP_INTERNAL int dp_prefetch(int dirfd, const char *name, const char *path, uint64_t from, bool decode,
			    dp_prefetched *p);
/* The first result to replay for a reader at `offset`: its index, n when
 * offset is where they end, or -1 when it is none of theirs. */
DP_INTERNAL ptrdiff_t dp_prefetched_at(const dp_prefetched *p, uint64_t offset);
/* The bytes it holds in memory, about. */
DP_INTERNAL size_t dp_prefetched_bytes(const dp_prefetched *p);
DP_INTERNAL void dp_prefetched_free(dp_prefetched *p);

#endif
