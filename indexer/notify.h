/*
 * notify.h - notifications of health events (docs/STEERING.md): each event
 * the indexer stores is delivered at least once to a sink (a command run
 * with the event as JSON on its standard input, or a NATS subject), by a
 * thread of its own, so that a slow or failing sink never holds indexing.
 *
 * THE QUEUE
 *
 * An event is queued in the index itself, in the same transaction that
 * stores it: the outbox database (schema.h), key the notification's
 * number.  After each commit the indexer hands the notifier the entries it
 * has not handed yet, as many as the notifier's memory queue takes
 * (DP_NOTIFY_HELD); the notifier delivers them in order, one at a time,
 * and gives back the numbers delivered, which the indexer deletes from the
 * outbox in its next batch.  So a process killed at any point loses no
 * notification: an entry leaves the outbox only after its delivery, and
 * one delivered but not yet deleted is delivered again by the next
 * indexer.  Each carries its event's id (DF/TASK/RULE/EPOCH), the same
 * every time, for the receiver to drop what it has seen.
 *
 * A delivery that fails (a command that exits non-zero, is killed by a
 * signal, or runs past its timeout and is killed; a publish that is not
 * acknowledged) is reported and tried again after a pause that doubles,
 * from 1 s to 60 s; the events behind it wait, in order.  The outbox holds
 * at most the rules' `queue` entries: past that, an event is stored and
 * not queued, which is reported.
 *
 * Logs never configure any of this: the sink is the indexer host's
 * (docs/RELIABILITY.md, "What an attacker controls").
 */
#ifndef DNNPROV_NOTIFY_H
#define DNNPROV_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

/* Notifications the notifier holds in memory at once. */
#define DP_NOTIFY_HELD 64

/* Where events go.  deliver() runs on the notifier's thread: 0 when the
 * event was delivered, or an error whose detail says why (reported).  It
 * gives up once dp_monotonic() passes *abandon_at (0: never), which the
 * notifier sets when it is stopped. */
typedef struct dp_notify_sink {
	int (*deliver)(void *ctx, const char *df, const char *id, const char *json, size_t len,
		       const volatile double *abandon_at);
	void *ctx;
	const char *what; /* for reports: "on_event command 'notify.sh'" */
} dp_notify_sink;

typedef struct dp_notifier dp_notifier;

/* Starts the notifier's thread (with every signal blocked, so that the
 * process's signals reach its main thread).  `report` is told each
 * failure and each pause, from that thread; it may be NULL. */
DP_INTERNAL int dp_notifier_start(const dp_notify_sink *sink, void (*report)(void *ctx, const char *what),
				  void *report_ctx, dp_notifier **out);
/* Stops the thread: a delivery under way is given `grace_s` seconds to
 * end, then abandoned (its command killed); what was not delivered stays
 * in the outbox for the next indexer.  dp_notifier_delivered still
 * answers after it; dp_notifier_free releases the notifier. */
DP_INTERNAL void dp_notifier_stop(dp_notifier *n, double grace_s);
DP_INTERNAL void dp_notifier_free(dp_notifier *n);

/* The indexer's side (one thread). */
/* Takes notification n (its event's id, dataflow and JSON, copied) when
 * the memory queue has room: false when it is full. */
DP_INTERNAL bool dp_notifier_offer(dp_notifier *n, uint64_t number, const char *df, const char *id,
				   const char *json, size_t len);
/* The numbers delivered since the last call, up to cap, into out. */
DP_INTERNAL size_t dp_notifier_delivered(dp_notifier *n, uint64_t *out, size_t cap);
/* Whether nothing is held or being delivered. */
DP_INTERNAL bool dp_notifier_idle(dp_notifier *n);
/* Notifications delivered, and deliveries that failed, so far. */
DP_INTERNAL void dp_notifier_counts(dp_notifier *n, uint64_t *delivered, uint64_t *failed);
/* Sets the pause before the next try after a failure (tests). */
DP_INTERNAL void dp_notifier_set_retry(dp_notifier *n, double first_s, double max_s);

/* A sink that runs argv (argv[0] found on PATH) with the event's JSON on
 * its standard input, its standard output sent to the indexer's standard
 * error, DNNPROV_EVENT_ID in its environment, in a process group of its
 * own that is killed when it runs past timeout_s.  The strings are the
 * caller's and must outlive the sink. */
DP_INTERNAL dp_notify_sink dp_notify_command(char *const *argv, double timeout_s);
DP_INTERNAL void dp_notify_command_free(dp_notify_sink *s);

#endif
