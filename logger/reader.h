/*
 * reader.h - reads segment files frame by frame, for `dnnprov cat`,
 * `dnnprov check` and the indexer.  The rules are in format.h.
 *
 * The reader never trusts a length it has not checksummed, never allocates
 * more than one frame (at most DNNPROV_RECORD_MAX bytes) plus a read
 * window, and reports every problem with the offset where it starts and the
 * number of bytes it costs, then carries on after it.
 */
#ifndef DNNPROV_READER_H
#define DNNPROV_READER_H

#include <stdbool.h>
#include <stdint.h>

#include "util/util.h"

#define DP_RUN_ID_MAX 64

typedef struct dp_reader dp_reader;

typedef struct dp_segment_header {
	bool valid;          /* false when the header failed its checksum */
	uint16_t version;
	uint64_t frames_start; /* offset of the first frame */
	char producer[64];
	char dataflow[DNNPROV_NAME_MAX + 1];
	char task[DNNPROV_NAME_MAX + 1];
	char host[256];
	int64_t pid;
	double created;
	uint64_t sequence;
	/* Version 2: the task as its writer knew it when the segment opened
	 * (empty run and state in version 1 segments). */
	char run[DP_RUN_ID_MAX + 1];
	uint64_t attempts;
	char state[16];
	char boot[40]; /* the writing host's boot id; "" when the header has none */
} dp_segment_header;

typedef enum dp_problem_kind {
	DP_PROBLEM_NONE = 0,
	DP_PROBLEM_TRUNCATED,   /* the segment ends inside a frame */
	DP_PROBLEM_CHECKSUM,    /* a frame failed its payload checksum */
	DP_PROBLEM_GARBAGE,     /* bytes that are no frame (bad frame header); skipped */
	DP_PROBLEM_UNDECODABLE, /* a frame whose payload is not one msgpack map */
	DP_PROBLEM_BAD_HEADER,  /* the segment header failed its checksum */
	DP_PROBLEM_VERSION,     /* a segment of a newer format version */
	DP_PROBLEM_AFTER_SEAL,  /* bytes after the seal frame */
} dp_problem_kind;

typedef struct dp_problem {
	dp_problem_kind kind;
	uint64_t offset; /* where it starts */
	uint64_t length; /* bytes it costs */
} dp_problem;

/* One frame; payload points into the reader's buffer and stays valid until
 * the next call on the reader. */
typedef struct dp_frame {
	char type;          /* 'R' record or 'S' seal */
	uint64_t offset;    /* of the frame header */
	uint64_t end;       /* offset after the frame */
	const unsigned char *payload;
	uint32_t length;
} dp_frame;

enum dp_read_result {
	DP_READ_END = 0,     /* clean end: the file ends at a frame boundary */
	DP_READ_RECORD = 1,  /* *frame is a record */
	DP_READ_SEAL = 2,    /* *frame is the seal; what follows is reported as AFTER_SEAL */
	DP_READ_TORN = 3,    /* *problem is a torn tail; the reader stays before it */
	DP_READ_PROBLEM = 4, /* *problem says what was skipped; call again */
};

/* Opens `path` and reads its header.  Frames are read from `start` (0 or
 * less than the first frame's offset: from the first frame), which must be
 * a frame boundary an earlier reader returned.
 * Returns 0, DNNPROV_ETRUNCATED (the header is not complete yet: a new
 * segment being created), DNNPROV_EVERSION (a newer format: *hdr says
 * which), DNNPROV_EINVAL (not a regular file: a FIFO, a device; nothing
 * is read from it), DNNPROV_EIO or DNNPROV_ENOMEM.  A header that fails its checksum
 * is not an error: hdr->valid is false and the first dp_reader_next()
 * reports it, then looks for frames. */
DP_INTERNAL int dp_reader_open(const char *path, uint64_t start, dp_reader **out,
			       dp_segment_header *hdr);

/* A reader of bytes already in memory: a piece of a segment that came
 * without its file (a message of the stream, ship/).  `header` is the
 * segment's header as at offset 0, checksummed (header_len 0 when it was
 * damaged at the source); `bytes` are the segment's bytes from `offset`
 * (at or past the header); frames are read from `from`.  The bytes are not
 * copied and must outlive the reader; a frame cut at their end reads as a
 * torn tail.  `name` is for messages.  Returns 0, DNNPROV_ECORRUPT (a
 * header that is not a valid one), DNNPROV_EINVAL or DNNPROV_ENOMEM. */
DP_INTERNAL int dp_reader_open_mem(const char *name, const unsigned char *header, size_t header_len,
				   uint64_t offset, const unsigned char *bytes, size_t n, uint64_t from,
				   dp_reader **out, dp_segment_header *hdr);

/* A segment read into memory at once (dp_segment_image_load), so that one
 * thread reads files while another applies what they hold: its bytes
 * from the start, or its header region and its bytes from an offset. */
typedef struct dp_segment_image {
	int err;             /* 0, or the errno of opening it (ENOENT: gone) */
	char why[192];       /* with err: what failed, as an error detail says it */
	unsigned mode;       /* its file type (S_IFREG, S_IFLNK, ...); 0 with err */
	uint64_t size;       /* where the bytes read end */
	int read_err;        /* the errno of a read that failed at `size` (the bytes
				before it are kept, as a reader of the file keeps them) */
	unsigned char *head; /* bytes [0, head_len) */
	size_t head_len;
	unsigned char *body; /* bytes [body_off, size); the same buffer as head when 0 */
	uint64_t body_off;
	bool unread;         /* not read (no segment, or nothing new): no bytes */
} dp_segment_image;

/* Opens `name` in the folder dirfd (AT_FDCWD and a path do too) without
 * following a link and reads it from `from` (a frame boundary, or 0) to
 * its end, and its header.  What is no regular file, and a file no longer
 * than a `from` past 0 (nothing new), is not read: *img says its mode (a
 * link is S_IFLNK) and size, and holds no bytes (unread).  Failing to open or read it is no error
 * of the call: img->err says it.  Returns 0 or DNNPROV_ENOMEM. */
DP_INTERNAL int dp_segment_image_load(int dirfd, const char *name, const char *path, uint64_t from,
				      dp_segment_image *img);
DP_INTERNAL void dp_segment_image_free(dp_segment_image *img);
/* A reader of an image, as dp_reader_open would be of the file holding
 * those bytes, from `start` (at or past img->body_off): the same results,
 * errors and problems (DNNPROV_EINVAL for what is no regular file, or a
 * start before the bytes read).  The image must outlive the reader. */
DP_INTERNAL int dp_reader_open_image(const char *path, const dp_segment_image *img, uint64_t start,
				     dp_reader **out, dp_segment_header *hdr);

/* Returns a DP_READ_* result (>= 0) or a negative DNNPROV_E* code on an
 * I/O failure.  Sees bytes appended to the file since the last call. */
DP_INTERNAL int dp_reader_next(dp_reader *r, dp_frame *frame, dp_problem *problem);

/* The offset after the last frame returned or problem skipped: where a
 * later reader resumes. */
DP_INTERNAL uint64_t dp_reader_offset(const dp_reader *r);

DP_INTERNAL void dp_reader_close(dp_reader *r);

DP_INTERNAL const char *dp_problem_name(dp_problem_kind k);

/* Parses a segment header from memory (used by the reader and the fuzzer).
 * Returns 0 with hdr filled, DNNPROV_ETRUNCATED when more bytes are needed,
 * DNNPROV_ECORRUPT, or DNNPROV_EVERSION. */
DP_INTERNAL int dp_segment_header_parse(const unsigned char *buf, size_t len,
					dp_segment_header *hdr);

#endif
