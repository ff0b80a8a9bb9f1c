/*
 * message.h - reading a stream message into a piece of a segment, with
 * nothing of NATS: the consumer (consume.c) takes a message's subject,
 * headers and body out of libnats and hands them here, and the fuzzer
 * (fuzz/fuzz_message.c) hands arbitrary ones.  The layout is in ship.h.
 *
 * WHAT IS REFUSED
 *
 * A message is anybody's: whoever may publish on the subjects.  Every
 * header is read in the one form the shipper writes, and a message that
 * strays from it is no piece of a segment (the consumer reports it,
 * acknowledges it and never applies it):
 *
 *   numbers   decimal digits only: no sign, space, leading zero or suffix,
 *             and at most DP_SHIP_SEGMENT_MAX (an offset, a length, and
 *             their sum, checked without overflow)
 *   names     dataflow/task/file, each a valid tag (no control character,
 *             NUL included, no path separator, not . or ..), the file a
 *             *.dnplog name, encoded exactly as dp_subject_token encodes
 *             them (a %00, a %2F, a lower-case or needless escape is
 *             another spelling, refused); the subject is the segment's
 *             task's, and Dnnprov-After names an earlier segment of the
 *             same task
 *   problems  a kind the shipper sends (what its reader reports), a
 *             length of 1 or more within the segment limit; a frame's
 *             kinds (bad checksum, undecodable) at most one frame long;
 *             a bad header or a newer version at offset 0; no body beyond
 *             the segment header
 *   headers   each Dnnprov-* header at most once
 *
 * What a well-formed problem may still claim, and what the indexer does
 * when valid frames arrive where one was recorded, is dp_ingest_chunk's
 * (indexer/ingest.c).
 */
#ifndef DNNPROV_SHIP_MESSAGE_H
#define DNNPROV_SHIP_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "indexer/index.h"
#include "ship/ship.h"

#define DP_SHIP_HDR_SEGMENT "Dnnprov-Segment"
#define DP_SHIP_HDR_OFFSET "Dnnprov-Offset"
#define DP_SHIP_HDR_HEADER "Dnnprov-Header"
#define DP_SHIP_HDR_AFTER "Dnnprov-After"
#define DP_SHIP_HDR_PROBLEM "Dnnprov-Problem"

/* The largest a segment may be (indexer/index.h). */
#define DP_SHIP_SEGMENT_MAX DP_CHUNK_OFFSET_MAX
/* A segment path decoded: three names and two slashes, and its NUL. */
#define DP_SHIP_NAME_CAP (3 * DNNPROV_NAME_MAX + 3)

/* A message as it came: NULL for a header it does not have. */
typedef struct dp_ship_message {
	const char *subject;
	const char *segment, *offset, *header, *after, *problem;
	const char *repeated; /* the name of a Dnnprov-* header given twice, or NULL */
	const unsigned char *data;
	size_t len;
} dp_ship_message;

/* The names a chunk points to: the segment, the one of Dnnprov-After. */
typedef struct dp_ship_names {
	char segment[DP_SHIP_NAME_CAP];
	char after[DP_SHIP_NAME_CAP];
} dp_ship_names;

/* v for a message to a terminal, in buf[0..cap): printable ASCII as it is,
 * every other byte (and \\ and ') as \\xNN, cut with "..." to fit. */
DP_INTERNAL const char *dp_ship_quote(const char *v, char *buf, size_t cap);

/* Turns a message into a chunk whose names point into *names and whose
 * bytes point into m->data.  Returns true, or false with `why` (n bytes)
 * saying what is wrong, quoting the header with every byte outside
 * printable ASCII escaped. */
DP_INTERNAL bool dp_ship_message_parse(const dp_ship_message *m, dp_chunk *c, dp_ship_names *names, char *why,
				       size_t n);

#endif
