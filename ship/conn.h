/*
 * conn.h - what the shipper and the stream indexer share of NATS: a
 * connection made from dp_nats_options, its state as told by the client
 * library's threads, errors as DNNPROV_E* codes that name the server, and
 * the stream's settings.
 */
#ifndef DNNPROV_SHIP_CONN_H
#define DNNPROV_SHIP_CONN_H

#include "ship/natsapi.h"
#include <stdatomic.h>

#include "ship/ship.h"

typedef struct dp_conn {
	natsConnection *nc;
	jsCtx *js;
	const dp_nats_options *o;
	const char *stream;
	/* Set by the client library's threads, read by the loop. */
	atomic_int up;          /* connected now */
	atomic_int reconnected; /* a reconnect happened since the loop last looked */
	atomic_int closed;      /* the client's last callback of the connection has run */
	/* What was last told to the state callback, so each change is told once. */
	char told[512];
} dp_conn;

/* Connects (one attempt over every server of the list) and opens the
 * JetStream context with `jo` (NULL for the defaults).  Returns 0, or
 * DNNPROV_EIO with a detail naming the servers and why (refused, no such
 * host, authorization failed with which credentials). */
DP_INTERNAL int dp_conn_open(dp_conn *c, const dp_nats_options *o, jsOptions *jo);
DP_INTERNAL void dp_conn_close(dp_conn *c);
/* The server connected to, or the list given. */
DP_INTERNAL const char *dp_conn_server(const dp_conn *c, char *buf, size_t cap);
/* Sets the error detail from a NATS status: "<what>: <why>" with the
 * client's last error text; returns DNNPROV_EIO. */
DP_INTERNAL int dp_nats_error(natsStatus s, jsErrCode jerr, const char *fmt, ...) DP_PRINTF(3, 4);
/* Tells `what` to the callback unless it was the last thing told. */
DP_INTERNAL void dp_conn_tell(dp_conn *c, void (*state)(void *, const char *), void *ctx, const char *what);

/* ---- errors that pass --------------------------------------------------------
 * A server killed or restarting, a leader being elected, every server
 * down: JetStream calls fail for a while and then work again.  Such
 * failures (dp_nats_error knows them by their status) are retried, with
 * a wait from 250 ms doubling to 5 s, until give_up_ms has passed since
 * the first of them in a row; anything else (a refused login, a stream
 * that cannot be used) is final at once. */
typedef struct dp_patience {
	double since;     /* dp_monotonic() of the first failure in a row; 0 while calls work */
	unsigned wait_ms; /* before the next try */
} dp_patience;

/* Whether rc, with the detail dp_nats_error set for it on this thread, is
 * a failure that passes. */
DP_INTERNAL bool dp_nats_error_passes(int rc);
/* A call worked. */
DP_INTERNAL void dp_patience_ok(dp_patience *p);
/* A call failed with rc, its detail set, and `passes` says whether it may
 * work later.  Returns 0 when it is to be tried again after *wait_ms (the
 * caller tells what it waits for), or rc when it is not: it will not pass,
 * or give_up_ms has passed since the first failure in a row (the detail
 * then says so). */
DP_INTERNAL int dp_patience_failed(dp_patience *p, const dp_nats_options *o, int rc, bool passes, unsigned *wait_ms);
/* What a retry is told with: "; retrying" and, when it will give up, for
 * how long at most. */
DP_INTERNAL const char *dp_patience_text(const dp_nats_options *o, char *buf, size_t cap);
/* A duration as a person writes it: "5m", "90s", "1h30m". */
DP_INTERNAL const char *dp_duration_text(uint64_t ms, char *buf, size_t cap);

/* The stream's information, or DNNPROV_ENOTFOUND. */
DP_INTERNAL int dp_stream_get(dp_conn *c, jsStreamInfo **si);
/* The stream, created when missing (file storage, `replicas` or the
 * cluster's default, subjects dnnprov.>, the duplicate window); an existing
 * one is checked and refused, never changed, when its settings would lose
 * or hide records. */
DP_INTERNAL int dp_stream_ensure(dp_conn *c, int replicas, jsStreamInfo **si, bool *created);

#endif
