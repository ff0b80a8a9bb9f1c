/*
 * prefetch.c - a segment read, checked and decoded ahead (see prefetch.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "logger/prefetch.h"

/* A copy of the current error detail in the decoder's zone, which lives
 * as long as the results. */
static const char *keep_detail(dp_prefetched *p)
{
	const char *d = dnnprov_errmsg();
	size_t n = strlen(d) + 1;
	char *c = p->dec.ready ? msgpack_zone_malloc(&p->dec.zone, n) : NULL;
	if (c)
		memcpy(c, d, n);
	return c ? c : "out of memory";
}

/* Decodes and checks a record frame: its results in *f. */
static void decode_frame(dp_prefetched *p, dp_prefetched_frame *f)
{
	msgpack_object o;
	if ((f->decoded = dp_decode_checked(&p->dec, f->frame.payload, f->frame.length, &o))) {
		f->why = keep_detail(p);
		return;
	}
	/* The record points at its root: in the zone, where it stays put. */
	msgpack_object *root = msgpack_zone_malloc(&p->dec.zone, sizeof(*root));
	if (!root) {
		f->decoded = dp_error(DNNPROV_ENOMEM, "out of memory");
		p->dec.out_of_memory = true;
		f->why = "out of memory";
		return;
	}
	*root = o;
	if ((f->parsed = dp_record_parse(root, &f->rec)))
		f->why = keep_detail(p);
}

static dp_prefetched_frame *grow(dp_prefetched *p, size_t *cap)
{
	if (p->n == *cap) {
		size_t c = *cap ? *cap * 2 : 64;
		dp_prefetched_frame *g = realloc(p->f, c * sizeof(*g));
		if (!g)
			return NULL;
		p->f = g;
		*cap = c;
	}
	dp_prefetched_frame *f = &p->f[p->n++];
	memset(f, 0, sizeof(*f));
	return f;
}

int dp_prefetch(int dirfd, const char *name, const char *path, uint64_t from, bool decode, dp_prefetched *p)
{
	dp_reader *r = NULL;
	size_t cap = 0;
	int rc;

	memset(p, 0, sizeof(*p));
	p->from = from;
	p->decoded = decode;
	p->dec.keep = true;
	if ((rc = dp_segment_image_load(dirfd, name, path, from, &p->img)))
		return rc;
	if (p->img.err || p->img.mode != S_IFREG || p->img.unread)
		return 0; /* the consumer sees why in img */
	/* The decoded objects take about twice the payloads (dp_prefetched_bytes). */
	uint64_t left = p->img.size > from ? p->img.size - from : 0;
	p->dec.chunk_size = left < 2048 ? 4096 : left > (2u << 20) ? (4u << 20) : (size_t)left * 2;
	if ((p->open_rc = dp_reader_open_image(path, &p->img, from, &r, &p->hdr))) {
		snprintf(p->open_why, sizeof(p->open_why), "%s", dnnprov_errmsg());
		return p->open_rc == DNNPROV_ENOMEM ? p->open_rc : 0;
	}
	for (;;) {
		dp_prefetched_frame *f = grow(p, &cap);
		if (!f) {
			rc = dp_error(DNNPROV_ENOMEM, "out of memory");
			break;
		}
		f->at = dp_reader_offset(r);
		f->res = dp_reader_next(r, &f->frame, &f->problem);
		f->next = dp_reader_offset(r);
		if (f->res == DP_READ_RECORD && decode)
			decode_frame(p, f);
		/* The reader stops at these; so will the one replaying them. */
		if (f->res <= DP_READ_END || f->res == DP_READ_TORN)
			break;
	}
	dp_reader_close(r);
	if (rc)
		dp_prefetched_free(p);
	return rc;
}

ptrdiff_t dp_prefetched_at(const dp_prefetched *p, uint64_t offset)
{
	size_t lo = 0, hi = p->n;
	while (lo < hi) { /* the first result at or after offset */
		size_t mid = (lo + hi) / 2;
		if (p->f[mid].at < offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < p->n && p->f[lo].at == offset ? (ptrdiff_t)lo : -1;
}

size_t dp_prefetched_bytes(const dp_prefetched *p)
{
	/* The image, the results and about twice the payloads in decoded
	 * objects. */
	size_t image = p->img.head ? (size_t)(p->img.size - p->img.body_off) + (p->img.body != p->img.head ? p->img.head_len : 0) : 0;
	return 3 * image + p->n * sizeof(*p->f);
}

void dp_prefetched_free(dp_prefetched *p)
{
	dp_segment_image_free(&p->img);
	free(p->f);
	dp_decoder_free(&p->dec);
	memset(p, 0, sizeof(*p));
}
