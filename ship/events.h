/*
 * events.h - health events on the stream (events.c): the sink that
 * publishes them, and how the stream indexer knows them when they come
 * back through its consumer.
 */
#ifndef DNNPROV_SHIP_EVENTS_H
#define DNNPROV_SHIP_EVENTS_H

#include "indexer/notify.h"
#include "ship/conn.h"

#define DP_EVENTS_SUBJECT_PREFIX "dnnprov.events."
#define DP_EVENTS_HDR "Dnnprov-Event"

/* Publishes an event to dnnprov.events.<dataflow> over c (JetStream,
 * message id "event:<id>"). */
DP_INTERNAL dp_notify_sink dp_events_nats_sink(dp_conn *c);
/* Whether a message of the stream is an event (its subject and header):
 * acknowledged, never applied. */
DP_INTERNAL bool dp_events_message(const char *subject, bool has_event_header);
/* A sink that delivers to a, then to b: an event is delivered when both
 * took it (a retry gives it to both again). */
DP_INTERNAL dp_notify_sink dp_events_both(dp_notify_sink a, dp_notify_sink b);
DP_INTERNAL void dp_events_both_free(dp_notify_sink *s);

#endif
