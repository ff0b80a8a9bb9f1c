/*
 * reader.c - the segment reader.  The format and the reading rules are in
 * format.h; this file implements them over a read window so that a segment
 * of any size is read with at most one frame plus 256 KiB in memory, and a
 * segment still being written is followed by calling dp_reader_next() again
 * after it grows.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "logger/format.h"
#include "logger/mpack.h"
#include "logger/reader.h"
#include "logger/scan.h"

#define READ_CHUNK (256u * 1024)

struct dp_reader {
	int fd;
	char *path;
	dp_buf win;        /* bytes [win_off, win_off + win.len) of the file */
	uint64_t win_off;
	uint64_t pos;      /* next frame starts here */
	bool header_problem_pending;
	bool sealed;
	uint64_t header_len;
	uint64_t size_at_open; /* sizes the read window of small segments */
};

const char *dp_problem_name(dp_problem_kind k)
{
	switch (k) {
	case DP_PROBLEM_NONE: return "none";
	case DP_PROBLEM_TRUNCATED: return "truncated tail";
	case DP_PROBLEM_CHECKSUM: return "bad checksum";
	case DP_PROBLEM_GARBAGE: return "garbage (no valid frame header)";
	case DP_PROBLEM_UNDECODABLE: return "undecodable record";
	case DP_PROBLEM_BAD_HEADER: return "bad segment header";
	case DP_PROBLEM_VERSION: return "unknown format version";
	case DP_PROBLEM_AFTER_SEAL: return "data after seal";
	}
	return "unknown";
}

/* Makes bytes [off, off + n) available in the window if the file has them.
 * Returns how many of them are available (< n at the end of the file), or
 * a negative DNNPROV_E* code. */
static int64_t window_fill(dp_reader *r, uint64_t off, size_t n)
{
	int rc;

	if (r->fd < 0) {
		/* In memory (dp_reader_open_mem): the window is all there is. */
		if (off < r->win_off || off > r->win_off + r->win.len)
			return 0;
		uint64_t have = r->win_off + r->win.len - off;
		return (int64_t)(have < n ? have : n);
	}
	if (off < r->win_off || off > r->win_off + r->win.len) {
		r->win.len = 0;
		r->win_off = off;
	} else if (off - r->win_off > READ_CHUNK) {
		/* Drop what lies before `off` so the window stays small. */
		size_t drop = (size_t)(off - r->win_off);
		memmove(r->win.data, r->win.data + drop, r->win.len - drop);
		r->win.len -= drop;
		r->win_off = off;
	}
	while (r->win_off + r->win.len < off + n) {
		size_t want = (size_t)(off + n - (r->win_off + r->win.len));
		/* Read ahead a chunk, but no more than the file held at open (plus
		 * room to grow): a 30 KiB segment needs no 256 KiB buffer, which
		 * malloc would map and unmap for every segment. */
		uint64_t end = r->win_off + r->win.len;
		size_t ahead = r->size_at_open > end ? (size_t)(r->size_at_open - end) + 4096 : 4096;
		if (ahead > READ_CHUNK)
			ahead = READ_CHUNK;
		if (want < ahead)
			want = ahead;
		if ((rc = dp_buf_reserve(&r->win, want)))
			return rc;
		ssize_t got = pread(r->fd, r->win.data + r->win.len, want,
				    (off_t)(r->win_off + r->win.len));
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return dp_error_errno(errno, "cannot read %s", r->path);
		}
		if (got == 0)
			break;
		r->win.len += (size_t)got;
	}
	assert(r->win.len <= r->win.cap && off >= r->win_off);
	uint64_t have = r->win_off + r->win.len - off;
	return (int64_t)(have < n ? have : n);
}

static const unsigned char *window_at(const dp_reader *r, uint64_t off)
{
	/* Only inside the window window_fill made available. */
	assert(off >= r->win_off && off <= r->win_off + r->win.len);
	return (const unsigned char *)r->win.data + (off - r->win_off);
}

static void copy_str(char *dst, size_t cap, const msgpack_object *o)
{
	size_t n = 0;
	if (o->type == MSGPACK_OBJECT_STR) {
		n = o->via.str.size < cap - 1 ? o->via.str.size : cap - 1;
		memcpy(dst, o->via.str.ptr, n);
	}
	dst[n] = '\0';
}

int dp_segment_header_parse(const unsigned char *buf, size_t len, dp_segment_header *hdr)
{
	msgpack_zone zone;
	msgpack_object obj;
	size_t off = 0;
	uint32_t h;
	int rc = 0;

	memset(hdr, 0, sizeof(*hdr));
	if (len < DP_SEGMENT_FIXED)
		return memcmp(buf, DP_SEGMENT_MAGIC, len < 8 ? len : 8) ? DNNPROV_ECORRUPT
									: DNNPROV_ETRUNCATED;
	if (memcmp(buf, DP_SEGMENT_MAGIC, DP_SEGMENT_MAGIC_LEN) != 0)
		return DNNPROV_ECORRUPT;
	h = dp_get_be32(buf + 12);
	if (h == 0 || h > DP_SEGMENT_HEADER_MAX)
		return DNNPROV_ECORRUPT;
	if (len < DP_SEGMENT_FIXED + (size_t)h + 4)
		return DNNPROV_ETRUNCATED;
	if (dp_crc32c(0, buf, DP_SEGMENT_FIXED + h) != dp_get_be32(buf + DP_SEGMENT_FIXED + h))
		return DNNPROV_ECORRUPT;
	hdr->version = dp_get_be16(buf + 8);
	hdr->frames_start = DP_SEGMENT_FIXED + (uint64_t)h + 4;
	if (hdr->version < DP_FORMAT_VERSION_MIN || hdr->version > DP_FORMAT_VERSION)
		return DNNPROV_EVERSION;
	if (!dp_mp_check(buf + DP_SEGMENT_FIXED, h))
		return DNNPROV_ECORRUPT;
	if (!msgpack_zone_init(&zone, 1024))
		return DNNPROV_ENOMEM;
	if (msgpack_unpack((const char *)buf + DP_SEGMENT_FIXED, h, &off, &zone, &obj) !=
		    MSGPACK_UNPACK_SUCCESS ||
	    obj.type != MSGPACK_OBJECT_MAP) {
		rc = DNNPROV_ECORRUPT;
		goto out;
	}
	for (uint32_t i = 0; i < obj.via.map.size; i++) {
		const msgpack_object *k = &obj.via.map.ptr[i].key, *v = &obj.via.map.ptr[i].val;
		if (k->type != MSGPACK_OBJECT_STR)
			continue;
#define KEY_IS(s) (k->via.str.size == sizeof(s) - 1 && memcmp(k->via.str.ptr, s, sizeof(s) - 1) == 0)
		if (KEY_IS("producer"))
			copy_str(hdr->producer, sizeof(hdr->producer), v);
		else if (KEY_IS("dataflow"))
			copy_str(hdr->dataflow, sizeof(hdr->dataflow), v);
		else if (KEY_IS("task"))
			copy_str(hdr->task, sizeof(hdr->task), v);
		else if (KEY_IS("host"))
			copy_str(hdr->host, sizeof(hdr->host), v);
		else if (KEY_IS("pid") && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
			hdr->pid = (int64_t)v->via.u64;
		else if (KEY_IS("created") && v->type == MSGPACK_OBJECT_FLOAT64)
			hdr->created = v->via.f64;
		else if (KEY_IS("sequence") && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
			hdr->sequence = v->via.u64;
		else if (KEY_IS("run"))
			copy_str(hdr->run, sizeof(hdr->run), v);
		else if (KEY_IS("attempts") && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
			hdr->attempts = v->via.u64;
		else if (KEY_IS("state"))
			copy_str(hdr->state, sizeof(hdr->state), v);
		else if (KEY_IS("boot"))
			copy_str(hdr->boot, sizeof(hdr->boot), v);
#undef KEY_IS
	}
	hdr->valid = true;
out:
	msgpack_zone_destroy(&zone);
	return rc;
}

int dp_reader_open(const char *path, uint64_t start, dp_reader **out, dp_segment_header *hdr)
{
	dp_reader *r;
	int64_t got;
	int rc;

	*out = NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	r->path = strdup(path);
	if (!r->path) {
		free(r);
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	}
	/* O_NONBLOCK: opening a FIFO must not wait for a writer.  What is
	 * not a regular file is refused before a byte is read: a FIFO or
	 * /dev/zero would never end. */
	r->fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (r->fd < 0) {
		rc = dp_error_errno(errno, "cannot open %s", path);
		goto fail;
	}
	struct stat st;
	if (fstat(r->fd, &st) != 0) {
		rc = dp_error_errno(errno, "cannot read %s", path);
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = dp_error(DNNPROV_EINVAL, "%s is %s, not a segment", path, dp_file_kind(st.st_mode));
		goto fail;
	}
	r->size_at_open = (uint64_t)st.st_size;
	got = window_fill(r, 0, DP_SEGMENT_FIXED + DP_SEGMENT_HEADER_MAX + 4);
	if (got < 0) {
		rc = (int)got;
		goto fail;
	}
	rc = dp_segment_header_parse(window_at(r, 0), (size_t)got, hdr);
	switch (rc) {
	case 0:
		break;
	case DNNPROV_ETRUNCATED:
		rc = dp_error(DNNPROV_ETRUNCATED, "%s: segment header incomplete (%lld bytes)", path,
			      (long long)got);
		goto fail;
	case DNNPROV_EVERSION:
		rc = dp_error(DNNPROV_EVERSION, "%s: format version %u; this dnnprov reads version %d",
			      path, hdr->version, DP_FORMAT_VERSION);
		goto fail;
	case DNNPROV_ECORRUPT:
		/* The frames may still be good: report the header, then resync. */
		memset(hdr, 0, sizeof(*hdr));
		hdr->frames_start = DP_SEGMENT_FIXED;
		r->header_problem_pending = start <= DP_SEGMENT_FIXED;
		rc = 0;
		break;
	default:
		rc = rc == DNNPROV_ENOMEM ? dp_error(rc, "out of memory reading the header of %s", path)
					  : dp_error(rc, "%s: cannot parse the segment header", path);
		goto fail;
	}
	r->header_len = hdr->frames_start;
	r->pos = start > hdr->frames_start ? start : hdr->frames_start;
	*out = r;
	return 0;
fail:
	if (r->fd >= 0)
		close(r->fd);
	dp_buf_free(&r->win);
	free(r->path);
	free(r);
	return rc;
}

/* Checks a frame header at `p` (16 bytes).  Returns the payload length, or
 * 0 when it is no valid frame header. */
static uint32_t frame_header_ok(const unsigned char *p)
{
	uint32_t len;
	if (p[0] != 'D' || p[1] != 'P' || p[2] != 'F' ||
	    (p[3] != DP_FRAME_RECORD && p[3] != DP_FRAME_SEAL))
		return 0;
	if (dp_crc32c(0, p, 12) != dp_get_be32(p + 12))
		return 0;
	len = dp_get_be32(p + 4);
	return len >= 1 && len <= DNNPROV_RECORD_MAX ? len : 0;
}

/* Looks for the next valid frame header after `from`.  Returns its offset,
 * or the end of the file when there is none.  A header candidate within
 * the last 15 bytes cannot be checked; it counts as garbage too, since the
 * region before it is corrupt anyway. */
static int64_t resync(dp_reader *r, uint64_t from)
{
	uint64_t off = from;
	for (;;) {
		int64_t got = window_fill(r, off, READ_CHUNK);
		if (got < 0)
			return got;
		if (got < DP_FRAME_HEADER)
			return (int64_t)(off + (uint64_t)got);
		const unsigned char *p = window_at(r, off);
		size_t limit = (size_t)got - DP_FRAME_HEADER + 1;
		for (size_t i = 0; i < limit; i++) {
			const unsigned char *q = memchr(p + i, 'D', limit - i);
			if (!q)
				break;
			i = (size_t)(q - p);
			if (frame_header_ok(q))
				return (int64_t)(off + i);
		}
		off += limit;
	}
}

int dp_reader_next(dp_reader *r, dp_frame *f, dp_problem *pb)
{
	int64_t got;
	uint32_t len;
	const unsigned char *p;

	memset(pb, 0, sizeof(*pb));
	if (r->header_problem_pending) {
		r->header_problem_pending = false;
		int64_t next = resync(r, DP_SEGMENT_FIXED);
		if (next < 0)
			return (int)next;
		pb->kind = DP_PROBLEM_BAD_HEADER;
		pb->offset = 0;
		pb->length = (uint64_t)next;
		r->pos = (uint64_t)next;
		return DP_READ_PROBLEM;
	}
	got = window_fill(r, r->pos, DP_FRAME_HEADER);
	if (got < 0)
		return (int)got;
	if (got == 0)
		return DP_READ_END;
	p = window_at(r, r->pos);
	if (r->sealed) {
		uint64_t end = r->pos;
		while ((got = window_fill(r, end, READ_CHUNK)) > 0)
			end += (uint64_t)got;
		if (got < 0)
			return (int)got;
		pb->kind = DP_PROBLEM_AFTER_SEAL;
		pb->offset = r->pos;
		pb->length = end - r->pos;
		r->pos = end;
		return DP_READ_PROBLEM;
	}
	if (got < DP_FRAME_HEADER) {
		if (memcmp(p, "DPF", got < 3 ? (size_t)got : 3) == 0) {
			pb->kind = DP_PROBLEM_TRUNCATED;
			pb->offset = r->pos;
			pb->length = (uint64_t)got;
			return DP_READ_TORN;
		}
		len = 0;
	} else {
		len = frame_header_ok(p);
	}
	if (len == 0) {
		int64_t next = resync(r, r->pos + 1);
		if (next < 0)
			return (int)next;
		pb->kind = DP_PROBLEM_GARBAGE;
		pb->offset = r->pos;
		pb->length = (uint64_t)next - r->pos;
		r->pos = (uint64_t)next;
		return DP_READ_PROBLEM;
	}
	got = window_fill(r, r->pos, DP_FRAME_HEADER + (size_t)len);
	if (got < 0)
		return (int)got;
	if ((uint64_t)got < DP_FRAME_HEADER + (uint64_t)len) {
		pb->kind = DP_PROBLEM_TRUNCATED;
		pb->offset = r->pos;
		pb->length = (uint64_t)got;
		return DP_READ_TORN;
	}
	p = window_at(r, r->pos);
	assert(len >= 1 && len <= DNNPROV_RECORD_MAX); /* frame_header_ok's bounds */
	f->type = (char)p[3];
	f->offset = r->pos;
	f->end = r->pos + DP_FRAME_HEADER + len;
	f->payload = p + DP_FRAME_HEADER;
	f->length = len;
	if (dp_crc32c(0, f->payload, len) != dp_get_be32(p + 8)) {
		pb->kind = DP_PROBLEM_CHECKSUM;
	} else {
		unsigned char c = f->payload[0];
		bool is_map = (c & 0xf0) == 0x80 || c == 0xde || c == 0xdf;
		if (!is_map || !dp_mp_check(f->payload, len))
			pb->kind = DP_PROBLEM_UNDECODABLE;
	}
	r->pos = f->end;
	assert(f->end > f->offset);
	if (pb->kind != DP_PROBLEM_NONE) {
		pb->offset = f->offset;
		pb->length = f->end - f->offset;
		return DP_READ_PROBLEM;
	}
	if (f->type == DP_FRAME_SEAL) {
		r->sealed = true;
		return DP_READ_SEAL;
	}
	return DP_READ_RECORD;
}

uint64_t dp_reader_offset(const dp_reader *r)
{
	return r->pos;
}


void dp_reader_close(dp_reader *r)
{
	if (!r)
		return;
	if (r->fd >= 0) {
		close(r->fd);
		dp_buf_free(&r->win);
	} /* else the window is the caller's bytes */
	free(r->path);
	free(r);
}

int dp_reader_open_mem(const char *name, const unsigned char *header, size_t header_len, uint64_t offset,
		       const unsigned char *bytes, size_t n, uint64_t from, dp_reader **out, dp_segment_header *hdr)
{
	dp_reader *r;
	int rc;

	*out = NULL;
	memset(hdr, 0, sizeof(*hdr));
	if (header_len) {
		/* Whole and checksummed, or not a segment's header at all: a
		 * header damaged at the source comes as header_len 0. */
		rc = dp_segment_header_parse(header, header_len, hdr);
		if (rc == 0 && hdr->frames_start != header_len)
			rc = DNNPROV_ECORRUPT;
		if (rc == DNNPROV_ENOMEM)
			return dp_error(rc, "out of memory");
		if (rc)
			return dp_error(DNNPROV_ECORRUPT, "%s: %s", name,
					rc == DNNPROV_EVERSION ? "a segment header of an unknown format version"
							       : "not a valid segment header");
	} else {
		hdr->frames_start = DP_SEGMENT_FIXED;
	}
	if (from < offset || from > offset + n || offset < hdr->frames_start)
		return dp_error(DNNPROV_EINVAL, "%s: offset %llu is outside the bytes given", name,
				(unsigned long long)from);
	if (!(r = calloc(1, sizeof(*r))) || !(r->path = strdup(name))) {
		free(r);
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	}
	r->fd = -1;
	r->win.data = (char *)bytes; /* borrowed: never grown, moved or freed */
	r->win.len = r->win.cap = n;
	r->win_off = offset;
	r->pos = from;
	r->header_len = hdr->frames_start;
	*out = r;
	return 0;
}
