/*
 * serve.h - `dnnprov serve`: an HTTP server (libmicrohttpd) that answers
 * the query layer's questions as JSON and serves the web page embedded in
 * the binary (serve/web/, turned into C by tools/embed.c at build time).
 * docs/SERVE.md documents every endpoint and the security model.
 *
 * One query layer, several front ends: /api/runs?df=D&sort=S&limit=N
 * answers with exactly the bytes of `dnnprov runs D --sort S --limit N
 * --format json` (the same question of the registry, query/registry.h,
 * and the same renderer), bar the "index" member, which the server
 * refreshes in the background.
 *
 * The rules, in the order a request meets them:
 *   - Requests are bounded: at most DP_SERVE_MAX_CONNECTIONS at once and
 *     DP_SERVE_MAX_PER_ADDRESS from one client address; a request must
 *     arrive whole within receive_seconds (10 s: a client sending a byte
 *     at a time cannot hold a connection longer), an answer being sent
 *     stalls at most 30 s; headers and URL within DP_SERVE_MAX_HEAD (a
 *     longer URL is a 414, longer headers a 431), at most
 *     DP_SERVE_MAX_PARAMS query parameters (431), a body only for POST
 *     /login (4 KiB); a query stopped at its deadline (503), at most
 *     max_rows rows per answer (a larger limit is a 400; a longer answer
 *     is cut and says "total"), an SQL answer at most DP_SERVE_MAX_ANSWER
 *     bytes (400) and a value in it DP_SQL_MAX_VALUE.
 *   - The Host header must name this server (a DNS-rebinding page cannot
 *     read the API); with a token, every request but /login must carry it
 *     (Authorization: Bearer T) or a session's cookie, compared in constant
 *     time.  The one-time login URL (or the token in the login form) starts
 *     a session: a random id with an expiry, never the token, because a
 *     cookie is sent to every port of the host name (RFC 6265, 8.5).
 *   - GET /, /assets/NAME: the embedded files; /api/NAME: the API; any
 *     other path is 404.  Nothing reads a file of the machine on behalf of
 *     a request, and nothing writes: the index is opened read-only.
 *   - Every response carries a strict Content-Security-Policy (scripts and
 *     styles from the server only, no inline script), nosniff, no-referrer,
 *     and no CORS header.
 *
 * Threads: one per connection (bounded).  They share one LMDB environment
 * (LMDB allows one per file and process) behind a read-write lock: each
 * request takes a snapshot under the read side; reopening after a reindex
 * and adopting a map the indexer grew take the write side, when no
 * snapshot is open.
 *
 * The library's rule holds here too: serve/ never prints; what it has to
 * say goes to the `log` callback.
 */
#ifndef DNNPROV_SERVE_H
#define DNNPROV_SERVE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "util/util.h"

#define DP_SERVE_DEFAULT_PORT 8642
#define DP_SERVE_MAX_CONNECTIONS 64
#define DP_SERVE_MAX_PER_ADDRESS 16
#define DP_SERVE_RECEIVE_SECONDS 10
#define DP_SERVE_MAX_HEAD (32 * 1024) /* request line and headers */
#define DP_SERVE_MAX_PARAMS 512
#define DP_SERVE_MAX_ROWS 10000
#define DP_SERVE_MAX_ANSWER (32u << 20) /* bytes of an SQL answer */
#define DP_SERVE_SESSION_SECONDS (12 * 3600)
#define DP_SERVE_SESSIONS 64

typedef struct dp_server dp_server;

typedef struct dp_serve_options {
	const char *index_dir;
	const char *log_dir;    /* the logs the freshness compares; NULL: as the index records */
	const char *dataflow;   /* the default for requests without df= (the config's); may be NULL */
	const char *host;       /* an address (IPv4, IPv6 or "localhost"); NULL: 127.0.0.1 */
	unsigned port;          /* 0: a free one (dp_serve_port says which) */
	const char *token;      /* NULL: none, which only a loopback address allows */
	double request_seconds; /* a query's deadline; 0: 10 s */
	size_t max_rows;        /* rows per answer; 0: DP_SERVE_MAX_ROWS */
	double receive_seconds; /* a request's time to arrive; 0: DP_SERVE_RECEIVE_SECONDS */
	/* Told a line to show (a request that failed on the server's side);
	 * may be NULL. */
	void (*log)(void *ctx, const char *line);
	void *log_ctx;
} dp_serve_options;

/* Whether host is a loopback address (127.0.0.0/8, ::1, localhost). */
DP_INTERNAL bool dp_serve_is_loopback(const char *host);
/* Whether a Host header names the server bound at bound:port (or a
 * loopback name with that port): without a token, a page of another site
 * whose name points at 127.0.0.1 (DNS rebinding) sends its own name.
 * `dnnprov receive` checks its requests by the same rules. */
DP_INTERNAL bool dp_serve_host_matches(const char *bound, unsigned port, const char *host_header);
/* Whether `given` (n bytes) is the token, in a time that depends on the
 * token's length only. */
DP_INTERNAL bool dp_serve_token_equal(const char *token, size_t token_len, const char *given, size_t n);

/* Binds and starts serving in threads of its own.  DNNPROV_EINVAL for an
 * address that is not loopback without a token (the detail says why),
 * DNNPROV_EIO when the address cannot be bound. */
DP_INTERNAL int dp_serve_start(const dp_serve_options *o, dp_server **out);
/* The port bound. */
DP_INTERNAL unsigned dp_serve_port(const dp_server *s);
/* The path of the one-time login URL ("/login?code=..."), NULL without a
 * token: it starts a session in the browser that opens it first. */
DP_INTERNAL const char *dp_serve_login_path(const dp_server *s);
/* Stops serving (open connections are ended) and frees the server. */
DP_INTERNAL void dp_serve_stop(dp_server *s);

/* ---- inside serve/ ------------------------------------------------------------ */

/* The embedded files (build/serve/assets.c, generated from serve/web). */
typedef struct dp_asset {
	const char *path; /* "/assets/js/main.mjs" */
	const char *type; /* its Content-Type */
	const unsigned char *data;
	size_t len;
	const char *etag;
} dp_asset;

DP_INTERNAL extern const dp_asset dp_assets[];
DP_INTERNAL extern const size_t dp_nassets;

#endif
