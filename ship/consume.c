/*
 * consume.c - `dnnprov index --from`: a durable pull consumer of the
 * stream feeding an index (docs/SHIP.md).
 *
 * EXACTLY ONCE
 *
 * The messages of a fetch are applied as chunks (indexer/index.h) in one
 * LMDB transaction, with the segments' offsets and the consumer's position
 * in the stream; they are acknowledged only after it commits.  A message
 * applied already (a redelivery after a crash between the commit and the
 * acknowledgement, a resend older than the duplicate window) is recognised
 * by its segment and offsets and skipped.  A message that arrives before an
 * earlier part of its segment (a publish that failed and was sent again
 * behind it) is not applied: it is negatively acknowledged with a delay,
 * and JetStream offers it again.  A message that is no piece of a dnnprov
 * segment is reported, acknowledged and never applied.
 *
 * POSITION
 *
 * meta["stream:<name>"] holds "floor <seq> consumer <name>": every message
 * of the stream up to seq has been applied or skipped.  It is written one
 * fetch behind (before the fetch's own outcomes are known), which only
 * makes a new consumer read a little more.  A consumer that is missing
 * (deleted, or a new name for an index that has one) is created to start
 * after the floor.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "indexer/index.h"
#include "ship/conn.h"
#include "ship/events.h"
#include "ship/message.h"

/* What a message that is no chunk is told with: its header quoted. */
#define BAD_WHY 320

typedef struct consumer {
	const dp_stream_options *o;
	dp_conn c;
	dp_indexer *x;
	natsSubscription *sub;
	char name[64];
	char filter[512];
	char meta_key[96];
	uint64_t floor, last;
	/* Messages offered again later: their stream sequences, and what each
	 * waits for (told when a catch-up stops with some still waiting). */
	struct waiting {
		uint64_t seq;
		char why[DP_CHUNK_WHY];
	} *waiting;
	size_t nwaiting, capwaiting;
	/* One fetch's chunks and the names they point to. */
	dp_chunk *chunks;
	dp_chunk_outcome *outcome;
	char (*why)[DP_CHUNK_WHY];     /* the indexer's, per chunk */
	char (*bad_why)[BAD_WHY];     /* per message that is no chunk */
	dp_ship_names *names;
	uint64_t *seqs;
	bool *bad; /* not even a chunk: invalid before the indexer sees it */
	dp_patience patience; /* JetStream calls failing in a row: --give-up-after */
	dp_stream_stats stats;
	/* Notifications: the sinks, and the notifier that runs them. */
	dp_notify_sink command, nats, sink;
	dp_notifier *notifier;
} consumer;

static bool stopping(const consumer *k)
{
	return k->o->stop && *k->o->stop;
}

static void nap(const consumer *k, unsigned ms)
{
	for (unsigned slept = 0; slept < ms && !stopping(k); slept += 20) {
		struct timespec ts = { 0, 20 * 1000000L };
		nanosleep(&ts, NULL);
	}
}

static void tell(consumer *k, const char *fmt, ...) DP_PRINTF(2, 3);
static void tell(consumer *k, const char *fmt, ...)
{
	char what[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	dp_conn_tell(&k->c, k->o->state, k->o->ctx, what);
}

/* ---- the position --------------------------------------------------------------- */

static void waiting_add(consumer *k, uint64_t seq, const char *why)
{
	size_t i = 0;
	while (i < k->nwaiting && k->waiting[i].seq != seq)
		i++;
	if (i == k->nwaiting) {
		if (k->nwaiting == k->capwaiting) {
			size_t cap = k->capwaiting ? k->capwaiting * 2 : 64;
			struct waiting *grown = realloc(k->waiting, cap * sizeof(*grown));
			if (!grown)
				return; /* the floor is only lower for it: see floor_now */
			k->waiting = grown;
			k->capwaiting = cap;
		}
		k->waiting[k->nwaiting++].seq = seq;
	}
	snprintf(k->waiting[i].why, sizeof(k->waiting[i].why), "%s", why);
}

static void waiting_remove(consumer *k, uint64_t seq)
{
	for (size_t i = 0; i < k->nwaiting; i++)
		if (k->waiting[i].seq == seq) {
			k->waiting[i] = k->waiting[--k->nwaiting];
			return;
		}
}

static int by_seq(const void *a, const void *b)
{
	uint64_t x = ((const struct waiting *)a)->seq, y = ((const struct waiting *)b)->seq;
	return (x > y) - (x < y);
}

/* A catch-up that stops with messages waiting names the first few: which
 * segment each is of, and what part it waits for. */
static void tell_waiting(consumer *k)
{
	if (!k->nwaiting)
		return; /* and k->waiting may be NULL, which qsort must not get */
	qsort(k->waiting, k->nwaiting, sizeof(*k->waiting), by_seq);
	for (size_t i = 0; i < k->nwaiting && i < DP_STREAM_WAITING_TOLD; i++)
		k->o->waits(k->o->ctx, k->waiting[i].seq, k->waiting[i].why);
}

/* Every message up to the floor has been applied or skipped. */
static uint64_t floor_now(const consumer *k)
{
	uint64_t f = k->last;
	for (size_t i = 0; i < k->nwaiting; i++)
		if (k->waiting[i].seq - 1 < f)
			f = k->waiting[i].seq - 1;
	return f > k->floor ? f : k->floor;
}

static void read_floor(consumer *k)
{
	char v[256];
	size_t len = 0;
	if (dp_indexer_get_meta(k->x, k->meta_key, v, sizeof(v) - 1, &len) != 0)
		return;
	v[len < sizeof(v) ? len : sizeof(v) - 1] = '\0';
	unsigned long long f;
	if (sscanf(v, "floor %llu", &f) == 1)
		k->floor = k->last = f;
}

/* ---- the consumer ------------------------------------------------------------------- */

static void default_name(consumer *k)
{
	char host[64] = "host";
	gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	for (char *p = host; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
			*p = '_';
	char *cwd = k->o->index_dir[0] == '/' ? NULL : getcwd(NULL, 0);
	char *abs = cwd ? dp_path_join(cwd, k->o->index_dir) : NULL;
	const char *dir = abs ? abs : k->o->index_dir;
	/* One per index: two indexes on one host must not share a consumer
	 * (a pull consumer hands each message to one of them). */
	snprintf(k->name, sizeof(k->name), "dnnprov-%.32s-%08x", host, dp_crc32c(0, dir, strlen(dir)));
	free(cwd);
	free(abs);
}

static int ensure_consumer(consumer *k)
{
	jsConsumerInfo *ci = NULL;
	jsErrCode jerr = 0;
	char server[256];
	natsStatus s = js_GetConsumerInfo(&ci, k->c.js, k->c.stream, k->name, NULL, &jerr);
	dp_conn_server(&k->c, server, sizeof(server));
	if (s == NATS_OK) {
		const jsConsumerConfig *cfg = ci->Config;
		const char *why = NULL;
		if (cfg->DeliverSubject && *cfg->DeliverSubject)
			why = "it is a push consumer; dnnprov needs a pull consumer";
		else if (cfg->AckPolicy != js_AckExplicit)
			why = "its ack policy is not explicit (an index acknowledges after it commits)";
		else if (!cfg->FilterSubject || strcmp(cfg->FilterSubject, k->filter) != 0)
			why = "it filters other subjects";
		int rc = why ? dp_error(DNNPROV_EINVAL, "%s: consumer %s of stream %s: %s (%s, not %s): give another "
					"--consumer", server, k->name, k->c.stream, why,
					cfg->FilterSubject && *cfg->FilterSubject ? cfg->FilterSubject : "none", k->filter)
			     : 0;
		/* Acknowledged past what the index holds (an index removed and
		 * begun again, or restored from a copy): what lies between would
		 * never come.  It starts again after the index's floor. */
		bool ahead = !why && ci->AckFloor.Stream > k->floor;
		jsConsumerInfo_Destroy(ci);
		ci = NULL; /* js_AddConsumer leaves it as it is when it fails */
		if (rc || !ahead)
			return rc;
		s = js_DeleteConsumer(k->c.js, k->c.stream, k->name, NULL, &jerr);
		if (s != NATS_OK)
			return dp_nats_error(s, jerr, "%s: consumer %s of stream %s is ahead of the index: removing it",
					     server, k->name, k->c.stream);
	} else if (s != NATS_NOT_FOUND && jerr != JSConsumerNotFoundErr) {
		return dp_nats_error(s, jerr, "%s: consumer %s of stream %s", server, k->name, k->c.stream);
	}
	jsConsumerConfig cfg;
	jsConsumerConfig_Init(&cfg);
	cfg.Durable = k->name;
	cfg.Description = "dnnprov index --from";
	cfg.AckPolicy = js_AckExplicit;
	cfg.DeliverPolicy = k->floor ? js_DeliverByStartSequence : js_DeliverAll;
	cfg.OptStartSeq = k->floor ? k->floor + 1 : 0;
	cfg.FilterSubject = k->filter;
	cfg.AckWait = (int64_t)k->o->ack_wait_ms * 1000000; /* redelivered if the index has not committed by then */
	cfg.MaxDeliver = -1;
	/* Messages waiting for an earlier part count as pending: room for many,
	 * or a long gap would stop the very message that fills it. */
	cfg.MaxAckPending = 1 << 20;
	s = js_AddConsumer(&ci, k->c.js, k->c.stream, &cfg, NULL, &jerr);
	jsConsumerInfo_Destroy(ci);
	if (s != NATS_OK)
		return dp_nats_error(s, jerr, "%s: creating consumer %s of stream %s", server, k->name, k->c.stream);
	return 0;
}

static int subscribe(consumer *k)
{
	jsSubOptions so;
	jsErrCode jerr = 0;
	char server[256];
	int rc = ensure_consumer(k);
	if (rc)
		return rc;
	jsSubOptions_Init(&so);
	so.Stream = k->c.stream;
	so.Consumer = k->name;
	natsStatus s = js_PullSubscribe(&k->sub, k->c.js, k->filter, k->name, NULL, &so, &jerr);
	if (s != NATS_OK) {
		k->sub = NULL;
		return dp_nats_error(s, jerr, "%s: consumer %s of stream %s", dp_conn_server(&k->c, server, sizeof(server)),
				     k->name, k->c.stream);
	}
	return 0;
}

/* A JetStream call failed with rc: 0 when it is to be tried again (told,
 * and waited for) or the indexer is stopping, else rc.  In follow mode
 * whatever the servers answer is waited out (a stream not created yet, a
 * consumer deleted); a catch-up waits only for what passes.  Both give up
 * after --give-up-after. */
static int retry_after(consumer *k, int rc, bool passes)
{
	unsigned wait_ms;
	char retrying[96];
	if (stopping(k))
		return 0;
	if ((rc = dp_patience_failed(&k->patience, &k->o->nats, rc, passes, &wait_ms)))
		return rc;
	tell(k, "%s%s", dnnprov_errmsg(), dp_patience_text(&k->o->nats, retrying, sizeof(retrying)));
	nap(k, wait_ms);
	return 0;
}

static bool passes(const consumer *k, int rc)
{
	return k->o->follow ? rc == DNNPROV_EIO || rc == DNNPROV_ENOTFOUND : dp_nats_error_passes(rc);
}

/* Connects and binds to the consumer, through failures that pass. */
static int connect_all(consumer *k)
{
	for (;;) {
		jsStreamInfo *si = NULL;
		char server[256];
		int rc = dp_conn_open(&k->c, &k->o->nats, NULL);
		if (rc == 0 && (rc = dp_stream_get(&k->c, &si)) == 0) {
			jsStreamInfo_Destroy(si);
			if ((rc = subscribe(k)) == 0) {
				dp_patience_ok(&k->patience);
				tell(k, "connected to %s; stream %s, consumer %s", dp_conn_server(&k->c, server, sizeof(server)),
				     k->c.stream, k->name);
				return 0;
			}
		}
		if (k->sub)
			natsSubscription_Destroy(k->sub);
		k->sub = NULL;
		dp_conn_close(&k->c);
		if ((rc = retry_after(k, rc, passes(k, rc))) || stopping(k))
			return rc;
	}
}

/* ---- messages ------------------------------------------------------------------------ */

/* The first value of a header, NULL when there is none; *repeated names
 * it when it came more than once. */
static const char *header_value(natsMsg *m, const char *key, const char **repeated)
{
	const char **values = NULL;
	int count = 0;
	if (natsMsgHeader_Values(m, key, &values, &count) != NATS_OK || count < 1) {
		free((void *)values);
		return NULL;
	}
	const char *v = values[0];
	if (count > 1)
		*repeated = key;
	free((void *)values);
	return v;
}

/* Turns a message into a chunk (message.c's rules); false with `why` set
 * when it is no message of a shipper. */
static bool to_chunk(natsMsg *m, dp_chunk *c, dp_ship_names *names, char *why, size_t n)
{
	dp_ship_message sm = { 0 };
	sm.subject = natsMsg_GetSubject(m);
	sm.segment = header_value(m, DP_SHIP_HDR_SEGMENT, &sm.repeated);
	sm.offset = header_value(m, DP_SHIP_HDR_OFFSET, &sm.repeated);
	sm.header = header_value(m, DP_SHIP_HDR_HEADER, &sm.repeated);
	sm.after = header_value(m, DP_SHIP_HDR_AFTER, &sm.repeated);
	sm.problem = header_value(m, DP_SHIP_HDR_PROBLEM, &sm.repeated);
	sm.data = (const unsigned char *)natsMsg_GetData(m);
	sm.len = (size_t)natsMsg_GetDataLength(m);
	return dp_ship_message_parse(&sm, c, names, why, n);
}

static int grow_batch(consumer *k, size_t n)
{
	k->chunks = calloc(n, sizeof(*k->chunks));
	k->outcome = calloc(n, sizeof(*k->outcome));
	k->why = calloc(n, sizeof(*k->why));
	k->bad_why = calloc(n, sizeof(*k->bad_why));
	k->names = calloc(n, sizeof(*k->names));
	k->seqs = calloc(n, sizeof(*k->seqs));
	k->bad = calloc(n, sizeof(*k->bad));
	if (!k->chunks || !k->outcome || !k->why || !k->bad_why || !k->names || !k->seqs || !k->bad)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	return 0;
}

static uint64_t stream_seq(natsMsg *m)
{
	jsMsgMetaData *meta = NULL;
	uint64_t seq = 0;
	if (natsMsg_GetMetaData(&meta, m) == NATS_OK) {
		seq = meta->Sequence.Stream;
		jsMsgMetaData_Destroy(meta);
	}
	return seq;
}

/* Applies a fetch (until it commits, through recoveries of the index),
 * then acknowledges it. */
static int apply(consumer *k, natsMsgList *list)
{
	size_t n = (size_t)list->Count, good = 0;
	unsigned retry_ms = 500;
	char position[160];
	int rc;

	/* The chunks the indexer sees, in order; the bad ones it never sees. */
	for (size_t i = 0; i < n; i++) {
		k->seqs[i] = stream_seq(list->Msgs[i]);
		const char *repeated = NULL;
		if (dp_events_message(natsMsg_GetSubject(list->Msgs[i]),
				      header_value(list->Msgs[i], DP_EVENTS_HDR, &repeated) != NULL)) {
			/* An event an indexer published: not a piece of a segment. */
			k->bad[i] = true;
			k->bad_why[i][0] = '\0';
			continue;
		}
		k->bad[i] = !to_chunk(list->Msgs[i], &k->chunks[good], &k->names[i], k->bad_why[i], BAD_WHY);
		good += !k->bad[i];
	}
	snprintf(position, sizeof(position), "floor %llu consumer %s", (unsigned long long)floor_now(k), k->name);
	while ((rc = dp_indexer_apply(k->x, k->chunks, good, k->outcome, k->why, k->meta_key, position,
				      strlen(position))) != 0) {
		if (!dp_indexer_may_pass(rc) || stopping(k))
			return rc; /* not acknowledged: offered again to the next run */
		if ((rc = dp_indexer_recover(k->x, &retry_ms)) && !dp_indexer_may_pass(rc))
			return rc;
	}
	/* After the commit: acknowledge, or offer again later. */
	for (size_t i = 0, g = 0; i < n; i++) {
		natsMsg *m = list->Msgs[i];
		dp_chunk_outcome out = k->bad[i] ? DP_CHUNK_INVALID : k->outcome[g];
		const char *why = k->bad[i] ? k->bad_why[i] : k->why[g];
		g += !k->bad[i];
		if (out == DP_CHUNK_WAIT) {
			natsMsg_NakWithDelay(m, k->o->retry_ms, NULL);
			waiting_add(k, k->seqs[i], why);
			k->stats.waited++;
			continue;
		}
		natsMsg_Ack(m, NULL);
		waiting_remove(k, k->seqs[i]);
		if (k->seqs[i] > k->last)
			k->last = k->seqs[i];
		if (out == DP_CHUNK_APPLIED)
			k->stats.messages++;
		else if (out == DP_CHUNK_HAD)
			k->stats.had++;
		else if (k->bad[i] && !why[0])
			; /* an event: acknowledged, nothing to say */
		else {
			k->stats.invalid++;
			char subject[256];
			if (k->o->invalid)
				k->o->invalid(k->o->ctx, k->seqs[i], dp_ship_quote(natsMsg_GetSubject(m) ? natsMsg_GetSubject(m) : "?",
										 subject, sizeof(subject)), why);
		}
	}
	return 0;
}

/* Whether the consumer has nothing left to deliver (a catch-up ends):
 * 1 or 0, or an error (the consumer's leader is being elected, the
 * servers are gone).  *others: messages delivered and not acknowledged
 * that are none of those offered again on purpose (k->waiting), which the
 * consumer will deliver again. */
static int drained(consumer *k, uint64_t *others)
{
	jsConsumerInfo *ci = NULL;
	jsErrCode jerr = 0;
	char server[256];
	natsStatus s = js_GetConsumerInfo(&ci, k->c.js, k->c.stream, k->name, NULL, &jerr);
	if (s != NATS_OK)
		return dp_nats_error(s, jerr, "%s: consumer %s of stream %s", dp_conn_server(&k->c, server, sizeof(server)),
				     k->name, k->c.stream);
	bool done = ci->NumPending == 0 && ci->NumAckPending == 0;
	*others = ci->NumPending + (ci->NumAckPending > (int64_t)k->nwaiting ? (uint64_t)ci->NumAckPending - k->nwaiting : 0);
	jsConsumerInfo_Destroy(ci);
	return done;
}

/* The notifier of the rules' on_event command and, with `nats: true`,
 * of the publisher of events, both when both are asked for. */
static int start_notifier(consumer *k)
{
	const dp_rules *r = k->o->rules;
	if (!r || (!r->on_event && !r->nats))
		return 0;
	if (r->on_event && !(k->command = dp_notify_command(r->on_event, r->on_event_timeout_s)).ctx)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	if (r->nats)
		k->nats = dp_events_nats_sink(&k->c);
	k->sink = r->on_event && r->nats ? dp_events_both(k->nats, k->command) : r->nats ? k->nats : k->command;
	if (!k->sink.deliver)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	return dp_notifier_start(&k->sink, k->o->notify, k->o->ctx, &k->notifier);
}

static int loop(consumer *k)
{
	uint32_t fetch = k->o->fetch ? k->o->fetch : 256;
	double last_sweep = dp_monotonic(), last_applied = dp_monotonic(), last_look = dp_monotonic();
	int rc = 0;

	while (!stopping(k)) {
		natsMsgList list = { 0 };
		jsErrCode jerr = 0;
		char server[256];
		if (!k->sub && (rc = subscribe(k)) != 0) {
			/* The consumer or the stream gone, or no leader yet: bound
			 * again (created when missing) once it works. */
			if ((rc = retry_after(k, rc, passes(k, rc))))
				break;
			continue;
		}
		natsStatus s = natsSubscription_Fetch(&list, k->sub, (int)fetch, 250, &jerr);
		if (s == NATS_OK && list.Count > 0) {
			uint64_t applied_before = k->stats.messages + k->stats.had + k->stats.invalid;
			dp_patience_ok(&k->patience);
			rc = apply(k, &list);
			natsMsgList_Destroy(&list);
			if (rc)
				break;
			if (k->stats.messages + k->stats.had + k->stats.invalid > applied_before)
				last_applied = dp_monotonic();
		} else {
			natsMsgList_Destroy(&list);
			if (!atomic_load(&k->c.up)) {
				/* The client reconnects by itself. */
				rc = dp_error(DNNPROV_EIO, "disconnected from %s", k->o->nats.urls);
				if ((rc = retry_after(k, rc, true)))
					break;
				continue;
			}
			if (s != NATS_OK && s != NATS_TIMEOUT) {
				rc = dp_nats_error(s, jerr, "%s: fetching from consumer %s of stream %s",
						   dp_conn_server(&k->c, server, sizeof(server)), k->name, k->c.stream);
				natsSubscription_Destroy(k->sub);
				k->sub = NULL;
				if ((rc = retry_after(k, rc, passes(k, rc))))
					break;
				continue;
			}
			/* Nothing came: the end of a catch-up, or (when the consumer
			 * cannot be asked) a leader being elected.  A follower asks
			 * now and then, so an outage that leaves fetches merely empty
			 * is told too. */
			int d = 0;
			uint64_t others = 1;
			if (!k->o->follow || dp_monotonic() - last_look >= 5.0) {
				d = drained(k, &others);
				last_look = dp_monotonic();
				if (d < 0) {
					if ((rc = retry_after(k, d, passes(k, d))))
						break;
					continue;
				}
				dp_patience_ok(&k->patience);
			}
			if (atomic_exchange(&k->c.reconnected, 0) || k->c.told[0] != 'c')
				tell(k, "connected to %s; stream %s, consumer %s", dp_conn_server(&k->c, server, sizeof(server)),
				     k->c.stream, k->name);
			if (!k->o->follow && d == 1)
				break;
			/* A catch-up whose only messages left wait for parts that do not
			 * come: stop and say so rather than wait for ever.  Not before
			 * the ack wait has passed without progress: a message handed to
			 * a fetch that had just expired is lost to this client and comes
			 * again only then, and may be the part they wait for.  While the
			 * consumer says it holds other messages, twice that, in case it
			 * happens twice running. */
			double stuck = dp_monotonic() - last_applied;
			double patience = 5 + k->o->ack_wait_ms / 1000.0;
			if (patience < 10 + 20 * k->o->retry_ms / 1000.0)
				patience = 10 + 20 * k->o->retry_ms / 1000.0;
			double patience_others = 5 + 2 * (k->o->ack_wait_ms / 1000.0);
			if (!k->o->follow && k->nwaiting &&
			    ((others == 0 && stuck > patience) || stuck > patience_others)) {
				k->stats.waiting = k->nwaiting;
				break;
			}
		}
		if (dp_monotonic() - last_sweep >= 1.0) {
			/* Tasks whose writers are gone (docs/RUNS.md). */
			if ((rc = dp_indexer_sweep(k->x)))
				break;
			last_sweep = dp_monotonic();
		}
		if ((rc = dp_indexer_tick(k->x)))
			break;
	}
	if (rc == 0)
		rc = dp_indexer_sweep(k->x);
	return rc;
}

int dp_stream_index(const dp_stream_options *opts, dp_stream_stats *stats)
{
	dp_stream_options o = *opts;
	consumer k;
	int rc;

	memset(&k, 0, sizeof(k));
	memset(stats, 0, sizeof(*stats));
	if ((rc = dp_nats_bind()))
		return rc;
	if (!o.retry_ms)
		o.retry_ms = 250;
	if (!o.fetch)
		o.fetch = 256;
	if (!o.ack_wait_ms)
		o.ack_wait_ms = 30000;
	k.o = &o;
	k.c.o = &o.nats;
	k.c.stream = o.nats.stream ? o.nats.stream : DP_SHIP_STREAM;
	if (o.consumer)
		snprintf(k.name, sizeof(k.name), "%s", o.consumer);
	else
		default_name(&k);
	dp_buf f = { 0 };
	rc = dp_buf_append(&f, "dnnprov.", 8);
	if (rc == 0 && o.dataflow)
		rc = dp_subject_token(&f, o.dataflow, strlen(o.dataflow), false);
	if (rc == 0)
		rc = o.dataflow ? dp_buf_append(&f, ".>", 2) : dp_buf_putc(&f, '>');
	if (rc == 0 && f.len >= sizeof(k.filter))
		rc = dp_error(DNNPROV_EINVAL, "the dataflow name is too long for a subject");
	if (rc == 0)
		snprintf(k.filter, sizeof(k.filter), "%s", dp_buf_cstr(&f));
	dp_buf_free(&f);
	snprintf(k.meta_key, sizeof(k.meta_key), "stream:%.80s", k.c.stream);
	if (rc || (rc = grow_batch(&k, o.fetch)))
		goto out;
	if ((rc = start_notifier(&k)))
		goto out;
	dp_indexer_options io = {
		.index_dir = o.index_dir,
		.lost_after_s = o.lost_after_s,
		.initial_map_size = o.initial_map_size,
		.stop = o.stop,
		.report = o.report,
		.fault = o.fault,
		.report_ctx = o.ctx,
		.rules = o.rules,
		.notify = k.notifier != NULL,
		.notifier = k.notifier,
	};
	if ((rc = dp_indexer_open(&io, &k.x)))
		goto out;
	read_floor(&k);
	if ((rc = connect_all(&k)) || stopping(&k))
		goto out;
	rc = loop(&k);
	if (rc == 0 && k.notifier) {
		/* A catch-up sends what it found before it ends; a follower what
		 * is under way.  The rest waits in the outbox for the next run. */
		uint64_t waiting;
		if (!o.follow)
			dp_indexer_notify_drain(k.x, 1e9, &waiting);
		dp_notifier_stop(k.notifier, 2.0);
		if (dp_indexer_notify_drain(k.x, 0, &waiting) == 0)
			k.stats.undelivered = waiting;
	}
out:
	dp_notifier_stop(k.notifier, 2.0);
	if (k.sub)
		natsSubscription_Destroy(k.sub); /* the durable consumer stays */
	dp_conn_close(&k.c);
	*stats = k.stats;
	snprintf(stats->consumer, sizeof(stats->consumer), "%s", k.name);
	stats->waiting = k.nwaiting;
	if (!o.follow && o.waits)
		tell_waiting(&k);
	if (k.x) {
		dp_indexer_stats is;
		dp_indexer_get_stats(k.x, &is);
		stats->records = is.records;
		stats->problems = is.problems;
		stats->events = is.events;
	}
	dp_indexer_close(k.x);
	dp_notifier_free(k.notifier);
	if (k.sink.ctx != k.command.ctx && k.sink.ctx != k.nats.ctx)
		dp_events_both_free(&k.sink);
	dp_notify_command_free(&k.command);
	free(k.waiting);
	free(k.chunks);
	free(k.outcome);
	free(k.why);
	free(k.bad_why);
	free(k.names);
	free(k.seqs);
	free(k.bad);
	return rc;
}
