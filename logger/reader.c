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
	int mem_err;       /* in memory: what reading past the bytes gives (a read
			      that failed there), else the end */
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
		/* In memory (dp_reader_open_mem, _image): the window is all
		 * there is, and where the reading of an image failed, past it
		 * is that failure. */
		if (off < r->win_off || off > r->win_off + r->win.len)
			return 0;
		uint64_t have = r->win_off + r->win.len - off;
		if (have < n && r->mem_err)
			return dp_error_errno(r->mem_err, "cannot read %s", r->path);
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

/* Reads the header from the first `got` bytes of the segment (all of them,
 * or as many as a header may take) and places the reader at `start`: what
 * dp_reader_open does once the file is open.  Returns 0 or the error to
 * return, with its detail. */
static int reader_start(dp_reader *r, const unsigned char *head, size_t got, uint64_t start,
			dp_segment_header *hdr)
{
	const char *path = r->path;
	int rc = dp_segment_header_parse(head, got, hdr);
	switch (rc) {
	case 0:
		break;
	case DNNPROV_ETRUNCATED:
		return dp_error(DNNPROV_ETRUNCATED, "%s: segment header incomplete (%lld bytes)", path, (long long)got);
	case DNNPROV_EVERSION:
		return dp_error(DNNPROV_EVERSION, "%s: format version %u; this dnnprov reads version %d", path,
				hdr->version, DP_FORMAT_VERSION);
	case DNNPROV_ECORRUPT:
		/* The frames may still be good: report the header, then resync. */
		memset(hdr, 0, sizeof(*hdr));
		hdr->frames_start = DP_SEGMENT_FIXED;
		r->header_problem_pending = start <= DP_SEGMENT_FIXED;
		break;
	default:
		return rc == DNNPROV_ENOMEM ? dp_error(rc, "out of memory reading the header of %s", path)
					    : dp_error(rc, "%s: cannot parse the segment header", path);
	}
	r->header_len = hdr->frames_start;
	r->pos = start > hdr->frames_start ? start : hdr->frames_start;
	return 0;
}

static void reader_free(dp_reader *r)
{
	if (r->fd >= 0) {
		close(r->fd);
		dp_buf_free(&r->win);
	} /* else the window is the caller's bytes */
	free(r->path);
	free(r);
}

static dp_reader *reader_new(const char *path)
{
	dp_reader *r = calloc(1, sizeof(*r));
	if (r && !(r->path = strdup(path))) {
		free(r);
		r = NULL;
	}
	if (r)
		r->fd = -1;
	return r;
}

int dp_reader_open(const char *path, uint64_t start, dp_reader **out, dp_segment_header *hdr)
{
	dp_reader *r;
	int64_t got;
	int rc;

	*out = NULL;
	if (!(r = reader_new(path)))
		return dp_error(DNNPROV_ENOMEM, "out of memory");
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
	if ((rc = reader_start(r, window_at(r, 0), (size_t)got, start, hdr)))
		goto fail;
	*out = r;
	return 0;
fail:
	reader_free(r);
	return rc;
}

/* ---- segments read whole ------------------------------------------------------- */

#define HEAD_MAX (DP_SEGMENT_FIXED + DP_SEGMENT_HEADER_MAX + 4)

/* Reads b[*len..want) from the file at off + *len, until `want` bytes or
 * the end of the file; the errno of a read that failed, else 0 (what came
 * before it is kept in *len). */
static int pread_until(int fd, uint64_t off, unsigned char *b, size_t *len, size_t want)
{
	while (*len < want) {
		ssize_t got = pread(fd, b + *len, want - *len, (off_t)(off + *len));
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return errno;
		if (got == 0)
			break;
		*len += (size_t)got;
	}
	return 0;
}

/* Reads bytes from `off` to the end of the file into a new buffer of at
 * least `hint` bytes; *err is the errno of a read that failed (what came
 * before it is kept). */
static unsigned char *read_to_end(int fd, uint64_t off, size_t hint, size_t *n, int *err)
{
	size_t cap = hint + 4096, len = 0;
	unsigned char *b = malloc(cap);
	*err = 0;
	while (b) {
		if (len == cap) {
			unsigned char *grown = realloc(b, cap * 2);
			if (!grown) {
				free(b);
				b = NULL;
				break;
			}
			b = grown;
			cap *= 2;
		}
		if ((*err = pread_until(fd, off, b, &len, cap)) || len < cap)
			break; /* a failed read, or the end of the file */
	}
	if (!b)
		*err = ENOMEM;
	*n = len;
	return b;
}

/* The header region of a segment read from an offset: its fixed part and
 * its map, not the 64 KiB a header may take (a follower reads each
 * growing segment's header at every pass). */
static unsigned char *read_head(int fd, size_t *n, int *err)
{
	unsigned char *b = malloc(HEAD_MAX);
	size_t want = 4096, len = 0;
	*err = 0;
	*n = 0;
	if (!b) {
		*err = ENOMEM;
		return NULL;
	}
	/* The fixed part says how long the map is: read past 4096 bytes
	 * only when it needs more. */
	if (!(*err = pread_until(fd, 0, b, &len, want)) && len == want) {
		uint64_t need = DP_SEGMENT_FIXED + (uint64_t)dp_get_be32(b + 12) + 4;
		want = need > HEAD_MAX ? HEAD_MAX : need > want ? (size_t)need : want;
		*err = pread_until(fd, 0, b, &len, want);
	}
	*n = len;
	return b;
}

static void image_error(dp_segment_image *img, int err, const char *what, const char *path)
{
	img->err = err;
	snprintf(img->why, sizeof(img->why), "cannot %s %s: %s", what, path, strerror(err));
}

int dp_segment_image_load(int dirfd, const char *name, const char *path, uint64_t from, dp_segment_image *img)
{
	struct stat st;
	int err;

	memset(img, 0, sizeof(*img));
	/* As dp_reader_open: a FIFO must not block the open, and what is no
	 * regular file is never read. */
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ELOOP)
			img->mode = S_IFLNK;
		else
			image_error(img, errno, "open", path);
		return img->err == ENOMEM ? dp_error(DNNPROV_ENOMEM, "out of memory") : 0;
	}
	if (fstat(fd, &st) != 0) {
		image_error(img, errno, "read", path);
		close(fd);
		return 0;
	}
	img->mode = st.st_mode & S_IFMT;
	img->size = (uint64_t)st.st_size;
	if (!S_ISREG(st.st_mode) || (from > 0 && img->size <= from)) {
		/* Not read: no segment, or nothing new since `from`. */
		img->unread = true;
		close(fd);
		return 0;
	}
	size_t n;
	if (from <= HEAD_MAX) {
		/* Small, or read from its start: one buffer holds it all. */
		img->body = img->head = read_to_end(fd, 0, (size_t)st.st_size, &n, &err);
		img->head_len = n < HEAD_MAX ? n : HEAD_MAX;
	} else {
		size_t hn;
		img->head = read_head(fd, &hn, &err);
		img->head_len = hn;
		if (err) { /* the header failed to come: so does the reader */
			img->body = img->head;
			n = hn;
		} else {
			img->body_off = from;
			img->body = read_to_end(fd, from, st.st_size > (off_t)from ? (size_t)(st.st_size - (off_t)from) : 0,
						&n, &err);
		}
	}
	close(fd);
	if (err == ENOMEM || !img->head || !img->body) {
		dp_segment_image_free(img);
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	}
	img->size = img->body_off + n;
	img->read_err = err;
	return 0;
}

void dp_segment_image_free(dp_segment_image *img)
{
	if (img->body != img->head)
		free(img->body);
	free(img->head);
	img->head = img->body = NULL;
}

int dp_reader_open_image(const char *path, const dp_segment_image *img, uint64_t start, dp_reader **out,
			 dp_segment_header *hdr)
{
	dp_reader *r;
	int rc;

	*out = NULL;
	if (img->mode != S_IFREG)
		return dp_error(DNNPROV_EINVAL, "%s is %s, not a segment", path, dp_file_kind(img->mode));
	if (img->unread)
		return dp_error(DNNPROV_EINVAL, "%s: not read", path);
	if (!(r = reader_new(path)))
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	r->win.data = (char *)img->body; /* borrowed: never grown, moved or freed */
	r->win.len = r->win.cap = (size_t)(img->size - img->body_off);
	r->win_off = img->body_off;
	r->mem_err = img->read_err;
	/* What the file reader would have had of the header: the bytes read,
	 * or the failure of reading them. */
	if (img->read_err && img->head_len < HEAD_MAX && img->body_off == 0) {
		rc = dp_error_errno(img->read_err, "cannot read %s", path);
		reader_free(r);
		return rc;
	}
	if ((rc = reader_start(r, img->head, img->head_len, start, hdr))) {
		reader_free(r);
		return rc;
	}
	if (r->pos < r->win_off) { /* frames before the bytes read: not this image's */
		reader_free(r);
		return dp_error(DNNPROV_EINVAL, "%s: offset %llu is outside the bytes read", path,
				(unsigned long long)start);
	}
	*out = r;
	return 0;
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
	if (r)
		reader_free(r);
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
