/*
 * publish.c - `dnnprov ship`: the local segments, read with the indexer's
 * reader, published to a JetStream stream (the message layout is in
 * ship.h, the guarantees in docs/SHIP.md).
 *
 * IN FLIGHT
 *
 * Publishing is asynchronous with a bound on the messages not yet
 * acknowledged.  Each segment keeps its messages in flight in order; the
 * client library's thread marks them acknowledged (on_ack), and a
 * segment's acknowledged offset moves over the acknowledged messages at
 * the head of its list, never past one that is not.  A publish that fails
 * or is not acknowledged within ack_wait_ms marks its segment failed: once
 * nothing of it is in flight, it is read again from its acknowledged
 * offset (what the stream may hold twice, the message id or the indexers
 * drop).  Only acknowledged offsets are written to the state folder.
 *
 * ORDER
 *
 * A task's segments go one after the other (ship.h): a segment is read
 * only when the task's earlier segments are settled, that is read as far
 * as they go and acknowledged, and its messages name the previous one.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "logger/format.h"
#include "logger/reader.h"
#include "logger/scan.h"
#include "ship/conn.h"
#include "ship/message.h"
#include "ship/state.h"
#include "util/map.h"

#define NATS_HEADROOM 4096 /* NATS headers of a message, at most */

typedef struct inflight {
	uint64_t start, end, records, problems;
	size_t bytes;
	bool acked;
	bool failed; /* stays in the list: the acknowledged offset must not pass it */
	struct inflight *next;
} inflight;

typedef struct seg {
	char *rel;     /* <dataflow>/<task>/<file> */
	char *enc;     /* rel as in headers and message ids */
	char *subject; /* dnnprov.<dataflow>.<task> */
	char *path;
	size_t folder; /* length of <dataflow>/<task>: the segments of a task share it */
	unsigned char *header;
	size_t header_len;
	bool header_known;
	dp_ship_progress p; /* p.acked moves in on_ack; under the shipper's mutex */
	uint64_t size;      /* on disk, at the last look */
	uint64_t tail;      /* the size when a read last reached its end (or a torn tail) */
	uint64_t told_upto; /* damage before this offset has been reported */
	bool sealed;        /* the seal (or what ends a segment) was read */
	bool gone, failed, unreadable, stuck, incomplete, dirty;
	inflight *head, *last;
	unsigned n_inflight;
} seg;

typedef struct shipper {
	const dp_ship_options *o;
	dp_conn c;
	dp_ship_state st;
	char *log_dir;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	dp_map by_enc; /* enc -> seg, for on_ack */
	seg **segs;    /* in dp_segment_path_cmp order */
	size_t n, cap;
	unsigned inflight;
	dp_buf body;
	dp_buf scratch;
	int64_t max_payload;
	uint32_t message_bytes;
	/* After a failure: nothing is published before `pause_until`. */
	double pause_until;
	unsigned backoff_ms;
	bool acked_since_failure;
	char failure[256];
	dp_patience connecting;
	/* Since when nothing got through (publishes failing, or disconnected)
	 * while there was something to ship, and why: --give-up-after. */
	double stalled_since;
	char stalled[512];
	double next_rescan, last_commit;
	bool dirty;
	char connected[512]; /* what is told when it works */
	char server[256];    /* the server connected to last */
	uint64_t last_seq;   /* the highest stream sequence acknowledged to it */
	dp_ship_stats stats;
} shipper;

/* ---- acknowledgements (the client library's thread) ---------------------------------- */

static void advance(shipper *sh, seg *s)
{
	while (s->head && s->head->acked) {
		inflight *e = s->head;
		s->p.acked = e->end;
		s->p.records += e->records;
		s->p.problems += e->problems;
		sh->stats.messages++;
		sh->stats.bytes += e->end - e->start;
		sh->stats.records += e->records;
		s->head = e->next;
		if (!s->head)
			s->last = NULL;
		free(e);
		s->dirty = true;
	}
}

static void on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
	shipper *sh = closure;
	const char *enc = NULL, *off = NULL;
	(void)js;
	natsMsgHeader_Get(msg, DP_SHIP_HDR_SEGMENT, &enc);
	natsMsgHeader_Get(msg, DP_SHIP_HDR_OFFSET, &off);
	pthread_mutex_lock(&sh->mu);
	void **slot = enc ? dp_map_slot(&sh->by_enc, enc, strlen(enc), false) : NULL;
	seg *s = slot ? *slot : NULL;
	uint64_t start = off ? strtoull(off, NULL, 10) : 0;
	inflight *e = s ? s->head : NULL;
	while (e && (e->start != start || e->acked || e->failed))
		e = e->next;
	if (e) {
		s->n_inflight--;
		sh->inflight--;
		if (pa) {
			if (pa->Sequence > sh->last_seq)
				sh->last_seq = pa->Sequence;
			e->acked = true;
			sh->acked_since_failure = true;
			advance(sh, s);
		} else {
			/* Read again from the acknowledged offset once nothing of the
			 * segment is in flight. */
			e->failed = true;
			s->failed = true;
			sh->stats.failed++;
			snprintf(sh->failure, sizeof(sh->failure), "%s", pae && pae->ErrText ? pae->ErrText : "failed");
		}
	}
	pthread_cond_broadcast(&sh->cv);
	pthread_mutex_unlock(&sh->mu);
	natsMsg_Destroy(msg);
}

/* ---- segments ----------------------------------------------------------------------- */

static void seg_free(seg *s)
{
	while (s->head) {
		inflight *e = s->head;
		s->head = e->next;
		free(e);
	}
	free(s->rel);
	free(s->enc);
	free(s->subject);
	free(s->path);
	free(s->header);
	free(s);
}

static int load_progress(shipper *sh, seg *s)
{
	bool found;
	int rc = dp_ship_state_progress(&sh->st, s->rel, &s->p, &found);
	if (rc)
		return rc;
	/* What was published and not acknowledged when the last shipper
	 * stopped is sent again. */
	s->p.shipped = s->p.acked;
	s->sealed = s->p.done;
	return 0;
}

/* A new segment at path `rel`, or NULL with *skip set when it is in no
 * <dataflow>/<task> folder (it cannot have a subject; the indexer reports
 * it as a problem of its own logs). */
static int seg_new(shipper *sh, const char *rel, seg **out)
{
	const char *a = rel, *b = strchr(a, '/'), *f = b ? strchr(b + 1, '/') : NULL;
	*out = NULL;
	if (!b || !f || strchr(f + 1, '/') || !dp_tag_valid(a, (size_t)(b - a)) ||
	    !dp_tag_valid(b + 1, (size_t)(f - b - 1)))
		return 0;
	seg *s = calloc(1, sizeof(*s));
	dp_buf e = { 0 }, subj = { 0 };
	int rc = s ? 0 : DNNPROV_ENOMEM;
	if (!rc)
		rc = dp_subject_token(&e, rel, strlen(rel), true);
	if (!rc)
		rc = dp_buf_append(&subj, "dnnprov.", 8);
	if (!rc)
		rc = dp_subject_token(&subj, a, (size_t)(b - a), false);
	if (!rc)
		rc = dp_buf_putc(&subj, '.');
	if (!rc)
		rc = dp_subject_token(&subj, b + 1, (size_t)(f - b - 1), false);
	if (!rc && (!(s->rel = strdup(rel)) || !(s->path = dp_path_join(sh->log_dir, rel)) ||
		    !(s->enc = strdup(dp_buf_cstr(&e))) || !(s->subject = strdup(dp_buf_cstr(&subj)))))
		rc = DNNPROV_ENOMEM;
	dp_buf_free(&e);
	dp_buf_free(&subj);
	if (rc) {
		if (s)
			seg_free(s);
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	}
	s->folder = (size_t)(f - a);
	if ((rc = load_progress(sh, s))) {
		seg_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

static int cmp_segs(const void *x, const void *y)
{
	return dp_segment_path_cmp((*(seg *const *)x)->rel, (*(seg *const *)y)->rel);
}

/* Finds the segments that appeared since the last look. */
static int rescan(shipper *sh)
{
	dp_path_list list = { 0 };
	size_t root = strlen(sh->log_dir) + 1;
	bool added = false;
	struct stat sb;
	int rc = 0;

	if (stat(sh->log_dir, &sb) != 0)
		return 0; /* no logs yet */
	if ((rc = dp_find_segments(sh->log_dir, &list, NULL, NULL)) == DNNPROV_ENOMEM)
		goto out;
	rc = 0; /* a folder that cannot be read now is read at a later look */
	for (size_t i = 0; i < list.n && rc == 0; i++) {
		const char *rel = list.paths[i] + root;
		seg *s;
		/* Known ones are found by their encoded name. */
		dp_buf e = { 0 };
		if ((rc = dp_subject_token(&e, rel, strlen(rel), true)))
			break;
		pthread_mutex_lock(&sh->mu);
		bool known = dp_map_slot(&sh->by_enc, e.data, e.len, false) != NULL;
		pthread_mutex_unlock(&sh->mu);
		dp_buf_free(&e);
		if (known || (rc = seg_new(sh, rel, &s)) || !s)
			continue;
		if (sh->n == sh->cap) {
			size_t cap = sh->cap ? sh->cap * 2 : 64;
			seg **grown = realloc(sh->segs, cap * sizeof(*grown));
			if (!grown) {
				seg_free(s);
				rc = dp_error(DNNPROV_ENOMEM, "out of memory");
				break;
			}
			sh->segs = grown;
			sh->cap = cap;
		}
		pthread_mutex_lock(&sh->mu);
		void **slot = dp_map_slot(&sh->by_enc, s->enc, strlen(s->enc), true);
		if (slot)
			*slot = s;
		pthread_mutex_unlock(&sh->mu);
		if (!slot) {
			seg_free(s);
			rc = dp_error(DNNPROV_ENOMEM, "out of memory");
			break;
		}
		sh->segs[sh->n++] = s;
		added = true;
	}
	if (added)
		qsort(sh->segs, sh->n, sizeof(*sh->segs), cmp_segs);
out:
	dp_path_list_free(&list);
	sh->stats.segments = sh->n;
	return rc;
}

/* ---- publishing ---------------------------------------------------------------------- */

typedef struct message {
	seg *s;
	uint64_t start, end, records;
	const unsigned char *frames; /* the segment's bytes from max(start, header_len) */
	size_t len;
	uint32_t problem; /* a dp_problem_kind: [start, end) is damage, and there are no bytes */
	const char *after;
	uint64_t after_offset;
} message;

static int set_header(natsMsg *m, const char *key, const char *fmt, ...) DP_PRINTF(3, 4);
static int set_header(natsMsg *m, const char *key, const char *fmt, ...)
{
	char v[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(v, sizeof(v), fmt, ap);
	va_end(ap);
	natsStatus s = natsMsgHeader_Set(m, key, v);
	return s == NATS_OK ? 0 : dp_nats_error(s, 0, "setting %s", key);
}

/* Waits until fewer than max_inflight messages are unacknowledged. */
static void wait_room(shipper *sh)
{
	pthread_mutex_lock(&sh->mu);
	while (sh->inflight >= sh->o->max_inflight && !(sh->o->stop && *sh->o->stop)) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&sh->cv, &sh->mu, &ts);
	}
	pthread_mutex_unlock(&sh->mu);
}

static int publish(shipper *sh, const message *m)
{
	seg *s = m->s;
	natsMsg *msg = NULL;
	jsPubOptions po;
	char id[1024];
	natsStatus ns;
	int rc;

	wait_room(sh);
	sh->body.len = 0;
	if ((rc = dp_buf_append(&sh->body, s->header, s->header_len)) ||
	    (rc = dp_buf_append(&sh->body, m->frames, m->len)))
		return rc;
	ns = natsMsg_Create(&msg, s->subject, NULL, sh->body.data, (int)sh->body.len);
	if (ns != NATS_OK)
		return dp_nats_error(ns, 0, "%s: building a message", s->rel);
	if ((rc = set_header(msg, DP_SHIP_HDR_SEGMENT, "%s", s->enc)) ||
	    (rc = set_header(msg, DP_SHIP_HDR_OFFSET, "%llu", (unsigned long long)m->start)) ||
	    (rc = set_header(msg, DP_SHIP_HDR_HEADER, "%zu", s->header_len)) ||
	    (m->after && (rc = set_header(msg, DP_SHIP_HDR_AFTER, "%s %llu", m->after, (unsigned long long)m->after_offset))) ||
	    (m->problem && (rc = set_header(msg, DP_SHIP_HDR_PROBLEM, "%u %llu", m->problem,
					    (unsigned long long)(m->end - m->start))))) {
		natsMsg_Destroy(msg);
		return rc;
	}
	snprintf(id, sizeof(id), "%s:%llu:%llu", s->enc, (unsigned long long)m->start, (unsigned long long)m->end);
	jsPubOptions_Init(&po);
	po.MsgId = id;
	po.MaxWait = sh->o->ack_wait_ms;
	po.ExpectStream = sh->c.stream;
	inflight *e = calloc(1, sizeof(*e));
	if (!e) {
		natsMsg_Destroy(msg);
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	}
	*e = (inflight){ m->start, m->end, m->records, m->problem ? 1 : 0, sh->body.len, false, false, NULL };
	/* In the list before the publish: its acknowledgement may come first. */
	pthread_mutex_lock(&sh->mu);
	if (s->last)
		s->last->next = e;
	else
		s->head = e;
	s->last = e;
	s->n_inflight++;
	sh->inflight++;
	pthread_mutex_unlock(&sh->mu);
	ns = js_PublishMsgAsync(sh->c.js, &msg, &po);
	if (ns != NATS_OK) {
		/* Not taken by the library: no callback will come for it. */
		pthread_mutex_lock(&sh->mu);
		e->failed = true;
		s->n_inflight--;
		sh->inflight--;
		s->failed = true;
		sh->stats.failed++;
		snprintf(sh->failure, sizeof(sh->failure), "%s", natsStatus_GetText(ns));
		pthread_mutex_unlock(&sh->mu);
		natsMsg_Destroy(msg);
	}
	s->p.shipped = m->end;
	return 0;
}

/* The message being built from a segment's frames. */
typedef struct batch {
	message m;
	dp_buf frames;
	bool open;
} batch;

static int flush(shipper *sh, batch *b)
{
	if (!b->open)
		return 0;
	b->open = false;
	b->m.frames = (const unsigned char *)b->frames.data;
	b->m.len = b->frames.len;
	return publish(sh, &b->m);
}

static void tell_unreadable(shipper *sh, seg *s, uint64_t offset)
{
	if (!s->unreadable && sh->o->unreadable)
		sh->o->unreadable(sh->o->ctx, s->rel, offset, dnnprov_errmsg());
	s->unreadable = true;
}

static int read_header(shipper *sh, seg *s, const dp_segment_header *hdr)
{
	if (s->header_known)
		return 0;
	s->header_known = true;
	if (!hdr->valid)
		return 0; /* damaged on disk: messages carry none, the path names the segment */
	int fd = open(s->path, O_RDONLY | O_CLOEXEC);
	s->header = malloc(hdr->frames_start);
	ssize_t got = fd >= 0 && s->header ? pread(fd, s->header, hdr->frames_start, 0) : -1;
	int err = errno;
	if (fd >= 0)
		close(fd);
	if (got != (ssize_t)hdr->frames_start) {
		free(s->header);
		s->header = NULL;
		s->header_known = false;
		(void)sh;
		return got < 0 && s->header ? dp_error_errno(err, "cannot read %s", s->path)
					    : dp_error(DNNPROV_EIO, "cannot read the header of %s", s->path);
	}
	s->header_len = hdr->frames_start;
	return 0;
}

/* A publish of the segment failed: reading on is wasted, it is read again
 * from its acknowledged offset. */
static bool has_failed(shipper *sh, seg *s)
{
	pthread_mutex_lock(&sh->mu);
	bool failed = s->failed;
	pthread_mutex_unlock(&sh->mu);
	return failed;
}

/* Reads a segment from its shipped offset to its end (or a torn tail),
 * publishing whole frames in messages of about message_bytes, and damage
 * as problems. */
static int ship_segment(shipper *sh, seg *s, const char *after, uint64_t after_offset)
{
	dp_segment_header hdr;
	dp_reader *r = NULL;
	dp_frame fr;
	dp_problem pb;
	struct stat st;
	batch b = { 0 };
	int rc, res = 0;

	if (stat(s->path, &st) != 0) {
		s->gone = errno == ENOENT; /* deleted: what was shipped stays */
		return 0;
	}
	s->size = (uint64_t)st.st_size;
	if (s->size == s->tail)
		return 0; /* nothing new since a read reached the end */
	rc = dp_reader_open(s->path, s->p.shipped, &r, &hdr);
	s->incomplete = rc == DNNPROV_ETRUNCATED;
	if (rc == DNNPROV_ETRUNCATED)
		return 0; /* being created: read when its header is whole */
	if (rc == DNNPROV_ENOMEM)
		return rc;
	if (rc == DNNPROV_EVERSION) {
		/* A newer format: one problem over it, as the indexer records. */
		s->sealed = true;
		s->tail = s->size;
		if (s->p.shipped > 0)
			return 0;
		s->header_known = true;
		message m = { s, 0, s->size, 0, NULL, 0, DP_PROBLEM_VERSION, after, after_offset };
		return publish(sh, &m);
	}
	if (rc) {
		tell_unreadable(sh, s, s->p.shipped);
		return 0;
	}
	if ((rc = read_header(sh, s, &hdr))) {
		tell_unreadable(sh, s, 0);
		goto out;
	}
	b.m = (message){ s, 0, 0, 0, NULL, 0, 0, after, after_offset };
	if (hdr.valid && s->p.shipped < hdr.frames_start) {
		/* The first message of a segment begins with its header, frames
		 * or not: it makes the segment known to the indexers. */
		b.open = true;
		b.m.end = hdr.frames_start;
	}
	size_t room = (size_t)(sh->max_payload - NATS_HEADROOM) - s->header_len;
	while (!has_failed(sh, s) && (res = dp_reader_next(r, &fr, &pb)) > 0) {
		if (res == DP_READ_TORN)
			break;
		if (res == DP_READ_PROBLEM) {
			if ((rc = flush(sh, &b)))
				goto out;
			if (pb.offset >= s->told_upto && sh->o->report)
				sh->o->report(sh->o->ctx, s->rel, pb.offset, dp_problem_name(pb.kind));
			if (pb.offset >= s->told_upto)
				sh->stats.problems++;
			s->told_upto = pb.offset + pb.length;
			message m = { s, pb.offset, pb.offset + pb.length, 0, NULL, 0, pb.kind, after, after_offset };
			if ((rc = publish(sh, &m)))
				goto out;
			continue;
		}
		size_t flen = (size_t)(fr.end - fr.offset);
		if (flen > room) {
			if (!s->stuck && sh->o->unreadable) {
				dp_error(DNNPROV_EINVAL, "a frame of %zu bytes does not fit in a message of the servers' "
					 "max_payload (%lld bytes): raise max_payload on the servers", flen,
					 (long long)sh->max_payload);
				sh->o->unreadable(sh->o->ctx, s->rel, fr.offset, dnnprov_errmsg());
			}
			s->stuck = true;
			break;
		}
		if (b.open && b.frames.len + flen > sh->message_bytes && (rc = flush(sh, &b)))
			goto out;
		if (!b.open) {
			b.open = true;
			b.frames.len = 0;
			b.m = (message){ s, fr.offset, fr.offset, 0, NULL, 0, 0, after, after_offset };
		}
		/* The reader's window holds the frame header right before the
		 * payload: the frame's bytes as they are on disk. */
		if ((rc = dp_buf_append(&b.frames, fr.payload - DP_FRAME_HEADER, flen)))
			goto out;
		b.m.end = fr.end;
		b.m.records += res == DP_READ_RECORD;
		if (res == DP_READ_SEAL)
			s->sealed = true;
	}
	if ((rc = flush(sh, &b)))
		goto out;
	if (res < 0 && res != DNNPROV_ENOMEM) {
		tell_unreadable(sh, s, s->p.shipped);
	} else if (res == DNNPROV_ENOMEM) {
		rc = res;
	} else if (!s->stuck) {
		s->unreadable = false;
		s->tail = s->size;
	}
out:
	dp_buf_free(&b.frames);
	dp_reader_close(r);
	return rc;
}

/* Where a segment stands after a pass. */
typedef enum standing {
	SETTLED, /* read as far as it goes and all acknowledged: the task's next segment may go */
	BUSY,    /* in flight, failed, or with more to read */
	HELD,    /* waits for a change from outside: unreadable, a frame too large, a header
		    not whole yet; a catch-up ends without it, and says so */
} standing;

static standing standing_of(shipper *sh, seg *s)
{
	pthread_mutex_lock(&sh->mu);
	bool quiet = !s->failed && s->n_inflight == 0 && s->p.acked == s->p.shipped;
	if (quiet && s->sealed && !s->p.done) {
		s->p.done = 1;
		s->dirty = true;
	}
	pthread_mutex_unlock(&sh->mu);
	if (s->gone || (quiet && (s->p.done || s->tail == s->size)))
		return SETTLED;
	return quiet && (s->unreadable || s->stuck || s->incomplete) ? HELD : BUSY;
}

/* A segment whose publish failed is read again from its acknowledged
 * offset once nothing of it is in flight. */
static bool rewind_failed(shipper *sh)
{
	bool any = false;
	pthread_mutex_lock(&sh->mu);
	for (size_t i = 0; i < sh->n; i++) {
		seg *s = sh->segs[i];
		if (!s->failed || s->n_inflight)
			continue;
		while (s->head) { /* acknowledged after the failed one: sent again all the same */
			inflight *e = s->head;
			s->head = e->next;
			free(e);
		}
		s->last = NULL;
		s->p.shipped = s->p.acked;
		s->failed = false;
		s->tail = 0;
		s->sealed = s->p.done;
		any = true;
	}
	pthread_mutex_unlock(&sh->mu);
	return any;
}

/* ---- the state folder ------------------------------------------------------------------ */

/* Writes the progress of the segments that moved, and the connection's
 * state, in one transaction. */
static int commit_state(shipper *sh)
{
	dp_ship_write w;
	int rc;
	if ((rc = dp_ship_write_begin(&sh->st, &w)))
		return rc;
	pthread_mutex_lock(&sh->mu);
	for (size_t i = 0; i < sh->n && !w.rc; i++) {
		seg *s = sh->segs[i];
		if (!s->dirty)
			continue;
		dp_ship_write_progress(&w, s->rel, &s->p);
		s->dirty = false;
	}
	pthread_mutex_unlock(&sh->mu);
	double now = dp_now();
	if (!w.rc && sh->dirty) {
		dp_ship_write_meta(&w, "state", sh->c.told, strlen(sh->c.told));
		dp_ship_write_meta(&w, "since", &now, sizeof(now));
		sh->dirty = false;
	}
	dp_ship_write_meta(&w, "commit", &now, sizeof(now));
	pthread_mutex_lock(&sh->mu);
	uint64_t last_seq = sh->last_seq;
	pthread_mutex_unlock(&sh->mu);
	dp_ship_write_meta(&w, "last_seq", &last_seq, sizeof(last_seq));
	bool wrote = !w.rc;
	rc = dp_ship_write_end(&w, true);
	if (wrote)
		sh->last_commit = dp_monotonic();
	return rc;
}

static void tell(shipper *sh, const char *fmt, ...) DP_PRINTF(2, 3);
static void tell(shipper *sh, const char *fmt, ...)
{
	char what[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (strcmp(what, sh->c.told) != 0)
		sh->dirty = true;
	dp_conn_tell(&sh->c, sh->o->state, sh->o->ctx, what);
}

/* The stream it ships to: when it is not the one the state folder's
 * offsets were acknowledged by, everything is sent again.  A stream
 * created anew (deleted, or another cluster's under the same name) holds
 * fewer messages than were acknowledged to this shipper, or was created
 * at another time (replicas of one stream are created within moments of
 * each other, and each server answers with its own). */
static int check_stream(shipper *sh, const jsStreamInfo *si)
{
	dp_ship_write w;
	int64_t was = 0, now = si->Created;
	int rc;
	if ((rc = dp_ship_write_begin(&sh->st, &w)))
		return rc;
	dp_ship_write_get_meta(&w, "created", &was, sizeof(was));
	dp_ship_write_get_meta(&w, "last_seq", &sh->last_seq, sizeof(sh->last_seq));
	int64_t apart = was > now ? was - now : now - was;
	if (was && (apart > (int64_t)60 * 1000000000 || sh->last_seq > si->State.LastSeq)) {
		dp_ship_write_forget_progress(&w);
		sh->stats.reset = true;
		sh->last_seq = 0;
	}
	if (!was || sh->stats.reset)
		dp_ship_write_meta(&w, "created", &now, sizeof(now));
	dp_ship_write_meta(&w, "stream", sh->c.stream, strlen(sh->c.stream));
	return dp_ship_write_end(&w, true);
}

/* ---- the loop ----------------------------------------------------------------------------- */

static bool stopping(const shipper *sh)
{
	return sh->o->stop && *sh->o->stop;
}

static void nap(shipper *sh, unsigned ms)
{
	for (unsigned slept = 0; slept < ms && !stopping(sh); slept += 20) {
		struct timespec ts = { 0, 20 * 1000000L };
		nanosleep(&ts, NULL);
	}
}

/* Connects and makes sure of the stream, through failures that pass
 * (until --give-up-after). */
static int connect_all(shipper *sh)
{
	unsigned wait_ms;
	char retrying[96];
	jsOptions jo;
	jsOptions_Init(&jo);
	jo.Wait = sh->o->ack_wait_ms;
	jo.PublishAsync.AckHandler = on_ack;
	jo.PublishAsync.AckHandlerClosure = sh;
	jo.PublishAsync.MaxPending = (int64_t)sh->o->max_inflight * 2; /* ours is the bound */
	for (;;) {
		jsStreamInfo *si = NULL;
		bool created = false;
		char server[256];
		int rc = dp_conn_open(&sh->c, &sh->o->nats, &jo);
		if (rc == 0)
			rc = dp_stream_ensure(&sh->c, sh->o->replicas, &si, &created);
		if (rc == 0) {
			rc = check_stream(sh, si);
			if (rc == 0) {
				sh->max_payload = natsConnection_GetMaxPayload(sh->c.nc);
				snprintf(sh->server, sizeof(sh->server), "%s", dp_conn_server(&sh->c, server, sizeof(server)));
				snprintf(sh->connected, sizeof(sh->connected), "connected to %s; stream %s (%lld replicas%s)",
					 sh->server, sh->c.stream,
					 (long long)si->Config->Replicas, created ? ", created now" : "");
				tell(sh, "%s", sh->connected);
			}
			jsStreamInfo_Destroy(si);
			if (rc == 0) {
				dp_patience_ok(&sh->connecting);
				return 0;
			}
		}
		dp_conn_close(&sh->c);
		/* A setting that is wrong stays wrong: only what may pass is
		 * retried (in follow mode, whatever the servers answer). */
		bool passes = sh->o->follow ? rc == DNNPROV_EIO : dp_nats_error_passes(rc);
		if (stopping(sh))
			return 0;
		if ((rc = dp_patience_failed(&sh->connecting, &sh->o->nats, rc, passes, &wait_ms)))
			return rc;
		tell(sh, "%s%s", dnnprov_errmsg(), dp_patience_text(&sh->o->nats, retrying, sizeof(retrying)));
		nap(sh, wait_ms);
		if (stopping(sh))
			return 0;
	}
}

/* One pass over the segments, task by task.  *busy tells whether any
 * has work left that needs no change from outside. */
static int pass(shipper *sh, bool *busy)
{
	int rc = 0;
	*busy = false;
	for (size_t i = 0; i < sh->n && rc == 0;) {
		size_t j = i;
		const char *after = NULL;
		uint64_t after_offset = 0;
		/* The task's segments in order, each once the one before is settled. */
		for (; j < sh->n && sh->segs[j]->folder == sh->segs[i]->folder &&
		       strncmp(sh->segs[j]->rel, sh->segs[i]->rel, sh->segs[i]->folder + 1) == 0;
		     j++) {
			seg *s = sh->segs[j];
			if (rc == 0 && !s->p.done && !s->gone && !stopping(sh) && dp_monotonic() >= sh->pause_until &&
			    atomic_load(&sh->c.up))
				rc = ship_segment(sh, s, after, after_offset);
			standing st = standing_of(sh, s);
			if (st != SETTLED) {
				*busy = *busy || st == BUSY;
				break;
			}
			after = s->enc;
			after_offset = s->p.acked;
		}
		while (j < sh->n && sh->segs[j]->folder == sh->segs[i]->folder &&
		       strncmp(sh->segs[j]->rel, sh->segs[i]->rel, sh->segs[i]->folder + 1) == 0)
			j++;
		i = j;
	}
	return rc;
}

/* Nothing gets through: the clock of --give-up-after runs from the first
 * such moment until something is acknowledged. */
static void stall(shipper *sh, const char *fmt, ...) DP_PRINTF(2, 3);
static void stall(shipper *sh, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(sh->stalled, sizeof(sh->stalled), fmt, ap);
	va_end(ap);
	if (sh->stalled_since == 0)
		sh->stalled_since = dp_monotonic();
}

/* Whether it is time to give up (--give-up-after): 0, or an error saying
 * what kept failing. */
static int given_up(shipper *sh)
{
	const dp_nats_options *n = &sh->o->nats;
	char d[32];
	if (!n->give_up_ms || !sh->stalled_since || (dp_monotonic() - sh->stalled_since) * 1000.0 < (double)n->give_up_ms)
		return 0;
	return dp_error(DNNPROV_EIO, "%s; gave up after %s of failures (--give-up-after)", sh->stalled,
			dp_duration_text(n->give_up_ms, d, sizeof(d)));
}

/* What the state callback hears of failures and of the connection. */
static void watch_connection(shipper *sh)
{
	char server[256];
	pthread_mutex_lock(&sh->mu);
	bool failed_now = sh->failure[0] != '\0', recovered = sh->acked_since_failure;
	char failure[256];
	snprintf(failure, sizeof(failure), "%s", sh->failure);
	sh->failure[0] = '\0';
	sh->acked_since_failure = false;
	pthread_mutex_unlock(&sh->mu);
	if (!atomic_load(&sh->c.up)) {
		tell(sh, "disconnected from %s: reconnecting", sh->server);
		stall(sh, "%s: disconnected", sh->server);
		return;
	}
	if (atomic_load(&sh->c.reconnected)) {
		/* Back: what failed meanwhile goes again at once. */
		sh->backoff_ms = 0;
		sh->pause_until = 0;
	}
	if (failed_now) {
		/* Wait before sending again, longer while nothing gets through. */
		sh->backoff_ms = sh->backoff_ms && !recovered ? (sh->backoff_ms * 2 > 5000 ? 5000 : sh->backoff_ms * 2) : 250;
		sh->pause_until = dp_monotonic() + sh->backoff_ms / 1000.0;
		tell(sh, "publishing to stream %s on %s failed (%s): sending again from the first byte not "
		     "acknowledged", sh->c.stream, dp_conn_server(&sh->c, server, sizeof(server)), failure);
		if (recovered)
			sh->stalled_since = 0;
		stall(sh, "%s: publishing to stream %s: %s", server, sh->c.stream, failure);
	} else if (atomic_exchange(&sh->c.reconnected, 0)) {
		sh->backoff_ms = 0;
		snprintf(sh->server, sizeof(sh->server), "%s", dp_conn_server(&sh->c, server, sizeof(server)));
		snprintf(sh->connected, sizeof(sh->connected), "connected to %s; stream %s", sh->server, sh->c.stream);
		tell(sh, "%s", sh->connected);
	} else if (recovered) {
		sh->backoff_ms = 0;
		tell(sh, "%s", sh->connected);
	}
	if (recovered && !failed_now)
		sh->stalled_since = 0;
}

static int loop(shipper *sh)
{
	uint32_t rescan_ms = sh->o->rescan_ms ? sh->o->rescan_ms : 250;
	int rc = 0;
	while (!stopping(sh)) {
		bool busy, rewound;
		watch_connection(sh);
		rewound = rewind_failed(sh);
		if (dp_monotonic() >= sh->next_rescan) {
			if ((rc = rescan(sh)))
				break;
			sh->next_rescan = dp_monotonic() + rescan_ms / 1000.0;
		}
		if ((rc = pass(sh, &busy)))
			break;
		if (dp_monotonic() - sh->last_commit >= 0.1 && (rc = commit_state(sh)))
			break;
		pthread_mutex_lock(&sh->mu);
		unsigned in_flight = sh->inflight;
		pthread_mutex_unlock(&sh->mu);
		/* Segments held by something outside do not keep a catch-up
		 * going: it ends, and its caller says which. */
		if (!sh->o->follow && !busy && in_flight == 0 && !rewound)
			break;
		if (!busy && in_flight == 0 && !rewound && atomic_load(&sh->c.up))
			sh->stalled_since = 0; /* nothing is waiting to get through */
		if ((rc = given_up(sh)))
			break;
		/* Acknowledgements wake it; new data is looked for every 10 ms. */
		pthread_mutex_lock(&sh->mu);
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 10 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&sh->cv, &sh->mu, &ts);
		pthread_mutex_unlock(&sh->mu);
	}
	return rc;
}

static void count_unsettled(shipper *sh)
{
	sh->stats.unread = sh->stats.stuck = 0;
	for (size_t i = 0; i < sh->n; i++) {
		sh->stats.unread += sh->segs[i]->unreadable || sh->segs[i]->incomplete;
		sh->stats.stuck += sh->segs[i]->stuck;
	}
}

int dp_ship_run(const dp_ship_options *opts, dp_ship_stats *stats)
{
	dp_ship_options o = *opts;
	shipper sh;
	int rc;

	memset(&sh, 0, sizeof(sh));
	memset(stats, 0, sizeof(*stats));
	if ((rc = dp_nats_bind()))
		return rc;
	if (!o.max_inflight)
		o.max_inflight = 256;
	if (!o.message_bytes)
		o.message_bytes = 64 * 1024;
	if (!o.ack_wait_ms)
		o.ack_wait_ms = 5000;
	sh.o = &o;
	pthread_mutex_init(&sh.mu, NULL);
	pthread_cond_init(&sh.cv, NULL);
	char *cwd = o.log_dir[0] == '/' ? NULL : getcwd(NULL, 0);
	sh.log_dir = cwd ? dp_path_join(cwd, o.log_dir) : strdup(o.log_dir);
	free(cwd);
	if (!sh.log_dir) {
		rc = dp_error(DNNPROV_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t n = strlen(sh.log_dir); n > 1 && sh.log_dir[n - 1] == '/';)
		sh.log_dir[--n] = '\0';
	if ((rc = dp_ship_state_open(&sh.st, o.state_dir, sh.log_dir)))
		goto out;
	if ((rc = connect_all(&sh)) || stopping(&sh))
		goto out;
	sh.message_bytes = o.message_bytes;
	if ((int64_t)sh.message_bytes > sh.max_payload - NATS_HEADROOM - DP_SEGMENT_HEADER_MAX)
		sh.message_bytes = (uint32_t)(sh.max_payload / 2);
	rc = loop(&sh);
	/* Stopping: what is in flight is given its acknowledgement's time,
	 * unless there is no server to give it. */
	jsPubOptions po;
	jsPubOptions_Init(&po);
	po.MaxWait = o.ack_wait_ms;
	if (sh.c.js && atomic_load(&sh.c.up))
		js_PublishAsyncComplete(sh.c.js, &po);
	int crc = commit_state(&sh);
	if (rc == 0)
		rc = crc;
	count_unsettled(&sh);
out:
	dp_conn_close(&sh.c); /* no more acknowledgements after this */
	pthread_mutex_lock(&sh.mu);
	*stats = sh.stats;
	pthread_mutex_unlock(&sh.mu);
	for (size_t i = 0; i < sh.n; i++)
		seg_free(sh.segs[i]);
	free(sh.segs);
	dp_map_free(&sh.by_enc);
	dp_buf_free(&sh.body);
	dp_buf_free(&sh.scratch);
	dp_ship_state_close(&sh.st);
	free(sh.log_dir);
	pthread_cond_destroy(&sh.cv);
	pthread_mutex_destroy(&sh.mu);
	return rc;
}
