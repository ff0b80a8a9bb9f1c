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

/* The stream's information, or DNNPROV_ENOTFOUND. */
DP_INTERNAL int dp_stream_get(dp_conn *c, jsStreamInfo **si);
/* The stream, created when missing (file storage, `replicas` or the
 * cluster's default, subjects dnnprov.>, the duplicate window); an existing
 * one is checked and refused, never changed, when its settings would lose
 * or hide records. */
DP_INTERNAL int dp_stream_ensure(dp_conn *c, int replicas, jsStreamInfo **si, bool *created);

#endif
