/*
 * internal.h - what the files of serve/ share: the server's state
 * (server.c), snapshots of the shared index (snapshot.c) and the API
 * (api.c).
 */
#ifndef DNNPROV_SERVE_INTERNAL_H
#define DNNPROV_SERVE_INTERNAL_H

#include "serve/mhdapi.h"
#include <pthread.h>

#include "query/answer.h"
#include "query/snapshots.h"
#include "serve/serve.h"

/* ---- the shared index (snapshot.c) ---------------------------------------------- */

typedef struct dp_shared_index {
	dp_snapshots snaps;
	/* The "index" member of answers and the change key the page polls,
	 * refreshed by a thread of their own every second (walking the logs
	 * of a large index takes longer than a request should). */
	pthread_mutex_t fresh_lock;
	pthread_cond_t fresh_cond;
	pthread_t fresh_thread;
	bool fresh_started, stopping;
	char *fresh_json;  /* NULL until known */
} dp_shared_index;

DP_INTERNAL int dp_shared_init(dp_shared_index *si, const char *dir, const char *log_dir);
DP_INTERNAL void dp_shared_free(dp_shared_index *si);
/* Opens a snapshot of the index as it is now (reopening it after a
 * reindex, adopting a grown map) and holds the read lock until
 * dp_shared_end.  On failure nothing is held, and the error is the one
 * the CLI gives for the same state (no index, an empty one, ...). */
DP_INTERNAL int dp_shared_begin(dp_shared_index *si, dp_query *q);
DP_INTERNAL void dp_shared_end(dp_shared_index *si, dp_query *q);
/* A copy of the latest "index" JSON object (caller frees); NULL when none
 * is known yet or out of memory. */
DP_INTERNAL char *dp_shared_freshness(dp_shared_index *si);
/* Starts the thread that refreshes it. */
DP_INTERNAL int dp_shared_start_fresh(dp_shared_index *si);
/* What changes when the index does (a commit, a reindex), for the page's
 * live updates: the generation and the time of the last commit. */
DP_INTERNAL int dp_shared_change(dp_query *q, const dp_shared_index *si, dp_buf *out);

/* ---- replies (server.c sends them) -------------------------------------------------- */

typedef struct dp_reply {
	unsigned status;
	const char *type;        /* Content-Type */
	char *body;              /* malloc'd; NULL for an empty body */
	size_t len;
	char disposition[300];   /* Content-Disposition ("" for none) */
	struct MHD_Response *stream; /* instead of body: a streamed answer (export) */
	char extra[32];          /* X-Dnnprov-Rows-Cut: rows kept of a longer answer ("" for none) */
} dp_reply;

/* A JSON error: {"error": why, "parameter": name (or null)}. */
DP_INTERNAL void dp_reply_error(dp_reply *r, unsigned status, const char *parameter, const char *fmt, ...)
	DP_PRINTF(4, 5);

/* A login's session: the cookie holds its id, never the token. */
typedef struct dp_session {
	char id[65];    /* 64 hex digits; "" for a free slot */
	double expires; /* dp_monotonic() */
} dp_session;

/* A connection while its request arrives (server.c's watchdog ends one
 * that takes longer than receive_seconds). */
typedef struct dp_conn_watch {
	int fd;
	double deadline;  /* dp_monotonic() */
	bool receiving;   /* a request is arriving (or awaited on a kept-alive connection) */
	bool cut;
	struct dp_conn_watch *prev, *next;
} dp_conn_watch;

struct dp_server {
	struct MHD_Daemon *daemon;
	dp_serve_options o;
	char *host;            /* the address bound, as given */
	unsigned port;
	char token[256];       /* "" without one */
	size_t token_len;
	char cookie[48];       /* the session cookie's name (with the port: one per server) */
	char login_code[48];   /* the one-time login URL's code; "" once used */
	char login_path[64];
	pthread_mutex_t login_lock; /* the code and the sessions */
	dp_session sessions[DP_SERVE_SESSIONS];
	dp_shared_index index;
	double request_seconds;
	double receive_seconds;
	size_t max_rows;
	/* the watchdog of arriving requests */
	pthread_mutex_t watch_lock;
	pthread_cond_t watch_cond;
	pthread_t watch_thread;
	bool watch_started, watch_stop;
	dp_conn_watch *watching;
};

/* ---- the API (api.c) ---------------------------------------------------------------- */

/* Answers GET /api/<name>?<the connection's arguments>. */
DP_INTERNAL void dp_api_answer(dp_server *s, struct MHD_Connection *c, const char *name, dp_reply *r);

#endif
