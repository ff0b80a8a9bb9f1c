/*
 * events.c - health events on the stream (docs/STEERING.md): an indexer
 * fed by the stream publishes each event it stores to
 * dnnprov.events.<dataflow> (the dataflow as a subject token), with its id
 * in the Dnnprov-Event header and, as the message id, "event:<id>", so
 * that JetStream drops a notification sent again within its duplicate
 * window.  The subjects are the stream's own (dnnprov.>): a consumer of the
 * stream gets them back and acknowledges them without applying them, and a
 * subscriber of dnnprov.events.> gets every event.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ship/conn.h"
#include "ship/events.h"
#include "ship/message.h"

static int publish(void *ctx, const char *df, const char *id, const char *json, size_t len,
		   const volatile double *abandon_at)
{
	dp_conn *c = ctx;
	dp_buf subject = { 0 }, msgid = { 0 };
	natsMsg *m = NULL;
	jsPubAck *ack = NULL;
	jsPubOptions po;
	jsErrCode jerr = 0;
	int rc = 0;

	(void)abandon_at; /* a publish waits at most its timeout */
	if (!c->js || !atomic_load(&c->up))
		return dp_error(DNNPROV_EIO, "not connected to %s", c->o->urls);
	dp_buf_printf(&subject, "%s", DP_EVENTS_SUBJECT_PREFIX);
	dp_subject_token(&subject, df, strlen(df), false);
	dp_buf_printf(&msgid, "event:%s", id);
	if (!dp_buf_cstr(&subject) || !dp_buf_cstr(&msgid)) {
		rc = dp_error(DNNPROV_ENOMEM, "out of memory");
		goto out;
	}
	natsStatus s = natsMsg_Create(&m, dp_buf_cstr(&subject), NULL, json, (int)len);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(m, DP_EVENTS_HDR, id);
	if (s == NATS_OK) {
		jsPubOptions_Init(&po);
		po.MsgId = dp_buf_cstr(&msgid);
		po.MaxWait = 5000;
		s = js_PublishMsg(&ack, c->js, m, &po, &jerr);
	}
	if (s != NATS_OK)
		rc = dp_nats_error(s, jerr, "publishing to %s", dp_buf_cstr(&subject));
out:
	jsPubAck_Destroy(ack);
	natsMsg_Destroy(m);
	dp_buf_free(&subject);
	dp_buf_free(&msgid);
	return rc;
}

dp_notify_sink dp_events_nats_sink(dp_conn *c)
{
	return (dp_notify_sink){ .deliver = publish, .ctx = c, .what = "publishing events to the stream" };
}

bool dp_events_message(const char *subject, bool has_event_header)
{
	return has_event_header && subject &&
	       strncmp(subject, DP_EVENTS_SUBJECT_PREFIX, strlen(DP_EVENTS_SUBJECT_PREFIX)) == 0;
}

/* ---- both sinks ---------------------------------------------------------------------------- */

typedef struct both {
	dp_notify_sink a, b;
	char what[200];
} both;

static int deliver_both(void *ctx, const char *df, const char *id, const char *json, size_t len,
			const volatile double *abandon_at)
{
	both *x = ctx;
	int rc = x->a.deliver(x->a.ctx, df, id, json, len, abandon_at);
	return rc ? rc : x->b.deliver(x->b.ctx, df, id, json, len, abandon_at);
}

dp_notify_sink dp_events_both(dp_notify_sink a, dp_notify_sink b)
{
	both *x = calloc(1, sizeof(*x));
	if (!x)
		return (dp_notify_sink){ 0 };
	x->a = a;
	x->b = b;
	snprintf(x->what, sizeof(x->what), "%s, then %s", a.what, b.what);
	return (dp_notify_sink){ .deliver = deliver_both, .ctx = x, .what = x->what };
}

void dp_events_both_free(dp_notify_sink *s)
{
	free(s->ctx);
	memset(s, 0, sizeof(*s));
}
