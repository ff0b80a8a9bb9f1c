/*
 * server.c - the HTTP side of `dnnprov serve`: libmicrohttpd's daemon, the
 * checks every request passes (method, size, Host, token), the embedded
 * files, the one-time login, and the headers every response carries.
 * serve.h states the rules; api.c answers /api/.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>

#include "logger/decode.h"
#include "serve/internal.h"

#define MAX_BODY 4096            /* POST /login's form */
/* libmicrohttpd keeps a request's line, its headers and a record per
 * header and parameter in this much memory; beyond it, it answers 431
 * itself, except when the parameters of the URL exhaust it: then it closed
 * the connection without a word.  So: room for DP_SERVE_MAX_HEAD bytes and
 * DP_SERVE_MAX_PARAMS records with some to spare (the pages are mapped
 * when used), and the limits checked by the server itself. */
#define MEMORY_PER_CONNECTION (128 * 1024)
#define IDLE_SECONDS 30          /* an answer the client stops reading */
#define COOKIE "dnnprov_session_" /* and the port */

/* Scripts and styles from this server only, nothing inline, no frames, no
 * other origin: a value from the logs that reaches the page as markup
 * despite the page's escaping still cannot run. */
static const char csp[] = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
			  "connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; "
			  "frame-ancestors 'none'";

/* ---- replies ------------------------------------------------------------------------- */

void dp_reply_error(dp_reply *r, unsigned status, const char *parameter, const char *fmt, ...)
{
	char why[2048];
	va_list ap;
	dp_buf b = { 0 };

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	free(r->body);
	memset(r, 0, sizeof(*r));
	r->status = status;
	r->type = "application/json";
	dp_buf_append(&b, "{\"error\": ", 10);
	dp_json_string(&b, why, strlen(why));
	dp_buf_append(&b, ", \"parameter\": ", 15);
	if (parameter)
		dp_json_string(&b, parameter, strlen(parameter));
	else
		dp_buf_append(&b, "null", 4);
	dp_buf_append(&b, "}\n", 2);
	if (b.failed) {
		dp_buf_free(&b);
		return; /* an empty body: the status says enough */
	}
	r->body = b.data;
	r->len = b.len;
}

static void add_headers(struct MHD_Response *resp, const dp_reply *r, bool api)
{
	MHD_add_response_header(resp, "Content-Security-Policy", csp);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, "Cross-Origin-Opener-Policy", "same-origin");
	MHD_add_response_header(resp, "Cross-Origin-Resource-Policy", "same-origin");
	if (r->type)
		MHD_add_response_header(resp, "Content-Type", r->type);
	if (r->disposition[0])
		MHD_add_response_header(resp, "Content-Disposition", r->disposition);
	if (api)
		MHD_add_response_header(resp, "Cache-Control", "no-store");
	if (r->extra[0])
		MHD_add_response_header(resp, "X-Dnnprov-Rows-Cut", r->extra);
}

static enum MHD_Result send_reply(struct MHD_Connection *c, dp_reply *r, bool api)
{
	struct MHD_Response *resp = r->stream;
	if (!resp) {
		resp = MHD_create_response_from_buffer(r->len, r->body, MHD_RESPMEM_MUST_FREE);
		if (!resp) {
			free(r->body);
			r->body = NULL;
			return MHD_NO;
		}
		r->body = NULL; /* libmicrohttpd frees it */
	}
	r->stream = NULL;
	add_headers(resp, r, api);
	enum MHD_Result ok = MHD_queue_response(c, r->status, resp);
	MHD_destroy_response(resp);
	return ok;
}

/* A reply whose body is a static text or an embedded file. */
static enum MHD_Result send_static(struct MHD_Connection *c, unsigned status, const char *type, const void *data,
				   size_t len, const char *etag, const char *location, const char *cookie)
{
	dp_reply r = { .status = status, .type = type };
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	add_headers(resp, &r, false);
	if (etag) {
		MHD_add_response_header(resp, "ETag", etag);
		MHD_add_response_header(resp, "Cache-Control", "no-cache");
	} else {
		MHD_add_response_header(resp, "Cache-Control", "no-store");
	}
	if (location)
		MHD_add_response_header(resp, "Location", location);
	if (cookie)
		MHD_add_response_header(resp, "Set-Cookie", cookie);
	enum MHD_Result ok = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ok;
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *fmt, const char *arg)
{
	dp_reply r = { 0 };
	dp_reply_error(&r, status, NULL, fmt, arg);
	return send_reply(c, &r, true);
}

/* ---- the embedded files ----------------------------------------------------------------- */

static const dp_asset *find_asset(const char *path)
{
	for (size_t i = 0; i < dp_nassets; i++)
		if (strcmp(dp_assets[i].path, path) == 0)
			return &dp_assets[i];
	return NULL;
}

static enum MHD_Result send_asset(struct MHD_Connection *c, const dp_asset *a)
{
	const char *inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-None-Match");
	if (inm && strcmp(inm, a->etag) == 0)
		return send_static(c, 304, NULL, "", 0, a->etag, NULL, NULL);
	return send_static(c, 200, a->type, a->data, a->len, a->etag, NULL, NULL);
}

/* ---- who may ask ---------------------------------------------------------------------- */

bool dp_serve_token_equal(const char *token, size_t token_len, const char *given, size_t n)
{
	volatile unsigned char acc = n != token_len;
	for (size_t i = 0; i < token_len; i++)
		acc |= (unsigned char)((i < n ? (unsigned char)given[i] : 0) ^ (unsigned char)token[i]);
	return acc == 0;
}

static bool token_equal(const dp_server *s, const char *given, size_t n)
{
	return dp_serve_token_equal(s->token, s->token_len, given, n);
}

/* Whether id names a live session, compared in constant time. */
static bool session_live(dp_server *s, const char *id)
{
	size_t n = strlen(id);
	bool live = false;
	double now = dp_monotonic();
	pthread_mutex_lock(&s->login_lock);
	for (size_t i = 0; i < DP_SERVE_SESSIONS; i++) {
		const dp_session *e = &s->sessions[i];
		size_t en = strlen(e->id);
		volatile unsigned char acc = n != en || en == 0 || e->expires < now;
		for (size_t k = 0; k < sizeof(e->id) - 1; k++)
			acc |= (unsigned char)((k < n ? (unsigned char)id[k] : 0) ^ (unsigned char)e->id[k]);
		live |= acc == 0;
	}
	pthread_mutex_unlock(&s->login_lock);
	return live;
}

static bool authorized(dp_server *s, struct MHD_Connection *c)
{
	if (!s->token_len)
		return true;
	const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	if (auth && strncasecmp(auth, "Bearer ", 7) == 0 && token_equal(s, auth + 7, strlen(auth + 7)))
		return true;
	const char *cookie = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, s->cookie);
	return cookie && session_live(s, cookie);
}

/* Whether the Host header names this server.  Without a token the API is
 * open to whoever reaches the loopback address, which includes a page of
 * another site whose name an attacker points at 127.0.0.1 (DNS
 * rebinding); such a page sends its own name as the Host. */
static bool host_ok(const dp_server *s, struct MHD_Connection *c)
{
	if (s->token_len)
		return true; /* that page lacks the token, and the cookie is not sent to its name */
	return dp_serve_host_matches(s->host, s->port, MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host"));
}

bool dp_serve_host_matches(const char *bound, unsigned port, const char *h)
{
	if (!h)
		return false;
	const char *colon = h[0] == '[' ? strstr(h, "]:") : strrchr(h, ':');
	size_t n = colon ? (size_t)(colon - h) + (h[0] == '[') : strlen(h);
	char port_text[16];
	snprintf(port_text, sizeof(port_text), "%u", port);
	const char *p = colon ? colon + 1 + (h[0] == '[') : NULL;
	if (p ? strcmp(p, port_text) != 0 : port != 80)
		return false;
	static const char *const names[] = { "localhost", "127.0.0.1", "[::1]" };
	for (size_t i = 0; i < DP_ARRAY_LEN(names); i++)
		if (strlen(names[i]) == n && strncasecmp(h, names[i], n) == 0)
			return true;
	size_t hn = strlen(bound);
	bool v6 = strchr(bound, ':') != NULL;
	return n == hn + (v6 ? 2 : 0) && strncasecmp(h + v6, bound, hn) == 0;
}

/* Decodes an application/x-www-form-urlencoded value in place. */
static void form_decode(char *s)
{
	char *o = s;
	for (; *s; s++) {
		if (*s == '+') {
			*o++ = ' ';
		} else if (*s == '%' && isxdigit((unsigned char)s[1]) && isxdigit((unsigned char)s[2])) {
			char hex[3] = { s[1], s[2], 0 };
			*o++ = (char)strtol(hex, NULL, 16);
			s += 2;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

static int random_hex(char *out, size_t bytes);

/* A new session (the oldest one gives its place when all are taken) and
 * its cookie.  The cookie is the session's id, not the token: a cookie is
 * sent to every port of the host name (RFC 6265, 8.5), so another service
 * there would receive it; an id stops working when it expires, the token
 * would not. */
static enum MHD_Result logged_in(struct MHD_Connection *c, dp_server *s)
{
	char id[65], cookie[256];
	if (random_hex(id, 32))
		return send_error(c, 503, "cannot start a session: %s", dnnprov_errmsg());
	double now = dp_monotonic();
	pthread_mutex_lock(&s->login_lock);
	dp_session *slot = &s->sessions[0];
	for (size_t i = 0; i < DP_SERVE_SESSIONS; i++)
		if (s->sessions[i].expires < slot->expires)
			slot = &s->sessions[i];
	memcpy(slot->id, id, sizeof(slot->id));
	slot->expires = now + DP_SERVE_SESSION_SECONDS;
	pthread_mutex_unlock(&s->login_lock);
	snprintf(cookie, sizeof(cookie), "%s=%s; Path=/; Max-Age=%d; HttpOnly; SameSite=Strict", s->cookie, id,
		 DP_SERVE_SESSION_SECONDS);
	return send_static(c, 303, "text/plain; charset=utf-8", "", 0, NULL, "/", cookie);
}

/* GET /login?code=C: the one-time URL; POST /login with token=T: the form. */
static enum MHD_Result login(dp_server *s, struct MHD_Connection *c, bool post, dp_buf *body)
{
	const dp_asset *page = find_asset("/assets/login.html");
	if (!s->token_len)
		return send_static(c, 303, "text/plain; charset=utf-8", "", 0, NULL, "/", NULL);
	if (post) {
		char *form = body->len ? (char *)dp_buf_cstr(body) : NULL;
		if (form && strncmp(form, "token=", 6) == 0) {
			form += 6;
			form[strcspn(form, "&")] = '\0';
			form_decode(form);
			if (token_equal(s, form, strlen(form)))
				return logged_in(c, s);
		}
	} else {
		const char *code = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "code");
		bool ok = false;
		pthread_mutex_lock(&s->login_lock);
		if (code && s->login_code[0]) {
			size_t n = strlen(code), cn = strlen(s->login_code);
			volatile unsigned char acc = n != cn;
			for (size_t i = 0; i < cn; i++)
				acc |= (unsigned char)((i < n ? code[i] : 0) ^ s->login_code[i]);
			ok = acc == 0;
			if (ok)
				s->login_code[0] = '\0'; /* once */
		}
		pthread_mutex_unlock(&s->login_lock);
		if (ok)
			return logged_in(c, s);
	}
	return send_static(c, 401, page->type, page->data, page->len, NULL, NULL, NULL);
}

/* ---- requests --------------------------------------------------------------------------- */

typedef struct request {
	bool headers_seen;
	size_t uri_len;
	size_t nparams;  /* in the URL, as it came */
	dp_buf body;
	bool too_big;
} request;

/* Called with the request line, before libmicrohttpd splits the URL's
 * parameters into records of the connection's memory: with too many of
 * them it ran out and closed the connection without an answer.  A URL
 * past the limits has its parameters cut here, in the connection's buffer
 * that libmicrohttpd parses next (so none is parsed), and the request
 * remembers why, for on_request to answer 414 or 431.  The request object
 * made here is on_request's *state. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	request *rq = calloc(1, sizeof(*rq));
	(void)cls;
	(void)c;
	if (!rq)
		return NULL; /* on_request makes one, or refuses */
	rq->uri_len = strlen(uri);
	char *query = strchr(uri, '?');
	if (query) {
		rq->nparams = 1;
		for (const char *p = query + 1; *p; p++)
			rq->nparams += *p == '&';
		if (rq->nparams > DP_SERVE_MAX_PARAMS || rq->uri_len > DP_SERVE_MAX_HEAD)
			query[1] = '\0';
	}
	return rq;
}

/* The bytes of the request line and the headers, as they came (near enough:
 * the separators count as the HTTP syntax has them). */
static enum MHD_Result add_header_size(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
				       const char *value, size_t value_size)
{
	size_t *total = cls;
	(void)kind;
	(void)key;
	(void)value;
	*total += key_size + value_size + 4;
	return MHD_YES;
}

/* The request's receiving is over (arriving: false) or starts again on a
 * kept-alive connection (true): the watchdog's view of it. */
static void watch_receiving(dp_server *s, struct MHD_Connection *c, bool arriving)
{
	const union MHD_ConnectionInfo *info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	dp_conn_watch *w = info ? info->socket_context : NULL;
	if (!w)
		return;
	pthread_mutex_lock(&s->watch_lock);
	w->receiving = arriving;
	w->deadline = dp_monotonic() + s->receive_seconds;
	pthread_mutex_unlock(&s->watch_lock);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
				  const char *version, const char *upload, size_t *upload_size, void **state)
{
	dp_server *s = cls;
	request *rq = *state;
	(void)version;

	if (!rq) {
		if (!(rq = calloc(1, sizeof(*rq))))
			return MHD_NO;
		*state = rq;
	}
	if (!rq->headers_seen) {
		rq->headers_seen = true;
		return MHD_YES; /* the headers; the body, if any, comes next */
	}
	if (*upload_size) {
		if (rq->too_big || rq->body.len + *upload_size > MAX_BODY)
			rq->too_big = true;
		else
			dp_buf_append(&rq->body, upload, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	watch_receiving(s, c, false);
	size_t head = rq->uri_len + strlen(method) + 12;
	MHD_get_connection_values_n(c, MHD_HEADER_KIND, add_header_size, &head);
	if (rq->uri_len > DP_SERVE_MAX_HEAD)
		return send_error(c, 414, "the URL is longer than %s", "32 KiB");
	if (rq->nparams > DP_SERVE_MAX_PARAMS)
		return send_error(c, 431, "the URL has more than %s parameters", "512");
	if (head > DP_SERVE_MAX_HEAD)
		return send_error(c, 431, "the request line and headers are longer than %s", "32 KiB");
	bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
	bool post = strcmp(method, "POST") == 0;
	if (!host_ok(s, c))
		return send_error(c, 403, "the Host header does not name this server (%s)", "open the URL dnnprov serve printed");
	if (post && strcmp(url, "/login") == 0) {
		if (rq->too_big || rq->body.failed)
			return send_error(c, 413, "the form is larger than %s", "4 KiB");
		return login(s, c, true, &rq->body);
	}
	if (!get)
		return send_error(c, 405, "%s: the server only answers GET (it never changes anything)", method);
	if (rq->body.len || rq->too_big)
		return send_error(c, 413, "%s", "a GET request has no body");
	if (strcmp(url, "/login") == 0)
		return login(s, c, false, NULL);
	if (strncmp(url, "/assets/", 8) == 0) {
		/* The page's code is no secret: the login page needs it too. */
		const dp_asset *a = find_asset(url);
		return a ? send_asset(c, a) : send_error(c, 404, "no such file: %s", url);
	}
	bool api = strncmp(url, "/api/", 5) == 0;
	if (!api && strcmp(url, "/") != 0)
		return send_error(c, 404, "no such page: %s (the dashboard is at /, the API under /api/)", url);
	if (!authorized(s, c)) {
		if (!api)
			return send_static(c, 303, "text/plain; charset=utf-8", "", 0, NULL, "/login", NULL);
		return send_error(c, 401, "%s", "this server needs its token: send \"Authorization: Bearer TOKEN\", or "
						  "open the login URL dnnprov serve printed");
	}
	if (!api)
		return send_asset(c, find_asset("/assets/index.html"));
	dp_reply r = { 0 };
	dp_api_answer(s, c, url + 5, &r);
	if (r.status >= 500 && s->o.log) {
		char line[2400];
		snprintf(line, sizeof(line), "%s: %u %.*s", url, r.status, (int)(r.len > 2000 ? 2000 : r.len),
			 r.body ? r.body : "");
		line[strcspn(line, "\n")] = '\0';
		s->o.log(s->o.log_ctx, line);
	}
	return send_reply(c, &r, true);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **state, enum MHD_RequestTerminationCode why)
{
	dp_server *s = cls;
	request *rq = *state;
	(void)why;
	if (rq) {
		dp_buf_free(&rq->body);
		free(rq);
		*state = NULL;
	}
	watch_receiving(s, c, true); /* the next request of a kept-alive connection */
}

/* ---- the watchdog of arriving requests ----------------------------------------------------
 * libmicrohttpd's timeout counts idleness: a client that sends a byte of
 * its headers every few seconds never idles, and 64 such clients held
 * every connection.  A request has receive_seconds to arrive whole; the
 * watchdog shuts down the socket of one that takes longer (libmicrohttpd
 * then closes it: it reads the end).  Sockets are shut down under
 * watch_lock, which the connection's end takes to unlink it before
 * libmicrohttpd closes the descriptor, so the number is never another's. */

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	dp_server *s = cls;
	dp_conn_watch *w = *socket_context;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		if (!info || !(w = calloc(1, sizeof(*w))))
			return; /* unwatched: the idle timeout still ends it */
		w->fd = info->connect_fd;
		w->receiving = true;
		w->deadline = dp_monotonic() + s->receive_seconds;
		pthread_mutex_lock(&s->watch_lock);
		w->next = s->watching;
		if (s->watching)
			s->watching->prev = w;
		s->watching = w;
		pthread_mutex_unlock(&s->watch_lock);
		*socket_context = w;
	} else if (code == MHD_CONNECTION_NOTIFY_CLOSED && w) {
		pthread_mutex_lock(&s->watch_lock);
		if (w->prev)
			w->prev->next = w->next;
		else
			s->watching = w->next;
		if (w->next)
			w->next->prev = w->prev;
		pthread_mutex_unlock(&s->watch_lock);
		free(w);
		*socket_context = NULL;
	}
}

static void *watchdog_main(void *arg)
{
	dp_server *s = arg;
	pthread_mutex_lock(&s->watch_lock);
	while (!s->watch_stop) {
		double now = dp_monotonic();
		for (dp_conn_watch *w = s->watching; w; w = w->next)
			if (w->receiving && !w->cut && now > w->deadline) {
				shutdown(w->fd, SHUT_RDWR);
				w->cut = true;
			}
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += 200 * 1000 * 1000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&s->watch_cond, &s->watch_lock, &until);
	}
	pthread_mutex_unlock(&s->watch_lock);
	return NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	dp_server *s = cls;
	char line[1024];
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	if (s->o.log)
		s->o.log(s->o.log_ctx, line);
}

/* ---- starting and stopping ---------------------------------------------------------- */

static void stop_watchdog(dp_server *s)
{
	if (!s->watch_started)
		return;
	pthread_mutex_lock(&s->watch_lock);
	s->watch_stop = true;
	pthread_cond_signal(&s->watch_cond);
	pthread_mutex_unlock(&s->watch_lock);
	pthread_join(s->watch_thread, NULL);
	s->watch_started = false;
}

bool dp_serve_is_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;
	if (strcmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	return inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

static int random_hex(char *out, size_t bytes)
{
	unsigned char r[32];
	if (bytes > sizeof(r) || getrandom(r, bytes, 0) != (ssize_t)bytes)
		return dp_error_errno(errno ? errno : EIO, "cannot read random bytes");
	for (size_t i = 0; i < bytes; i++)
		sprintf(out + 2 * i, "%02x", r[i]);
	return 0;
}

int dp_serve_start(const dp_serve_options *o, dp_server **out)
{
	struct sockaddr_storage addr;
	socklen_t addrlen = 0;
	const char *host = o->host ? o->host : "127.0.0.1";
	dp_server *s;
	int rc;

	*out = NULL;
	if (!dp_serve_is_loopback(host) && !(o->token && *o->token))
		return dp_error(DNNPROV_EINVAL, "listening on %s needs a token (--token or --token-file): without one, "
						"whoever reaches that address could read every run", host);
	if (o->token && (strlen(o->token) < 16 || strlen(o->token) >= sizeof(s->token)))
		return dp_error(DNNPROV_EINVAL, "a token has 16 to %zu characters", sizeof(s->token) - 1);
	for (const char *p = o->token; p && *p; p++)
		if (!isgraph((unsigned char)*p) || *p == ';' || *p == ',' || *p == '"' || *p == '\\')
			return dp_error(DNNPROV_EINVAL, "a token is printable ASCII without spaces, quotes, ';', ',' or '\\'");
	if ((rc = dp_mhd_bind()))
		return rc;
	memset(&addr, 0, sizeof(addr));
	struct sockaddr_in *a4 = (struct sockaddr_in *)&addr;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&addr;
	if (strcmp(host, "localhost") == 0 || inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		if (strcmp(host, "localhost") == 0)
			a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)o->port);
		addrlen = sizeof(*a4);
	} else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)o->port);
		addrlen = sizeof(*a6);
	} else {
		return dp_error(DNNPROV_EINVAL, "'%s' is not an IP address (nor localhost)", host);
	}
	if (o->port > 65535)
		return dp_error(DNNPROV_EINVAL, "port %u is not a port number", o->port);
	if (!(s = calloc(1, sizeof(*s))))
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	s->o = *o;
	s->request_seconds = o->request_seconds > 0 ? o->request_seconds : 10;
	s->receive_seconds = o->receive_seconds > 0 ? o->receive_seconds : DP_SERVE_RECEIVE_SECONDS;
	s->max_rows = o->max_rows ? o->max_rows : DP_SERVE_MAX_ROWS;
	pthread_mutex_init(&s->login_lock, NULL);
	pthread_mutex_init(&s->watch_lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->watch_cond, &ca);
	pthread_condattr_destroy(&ca);
	if (!(s->host = strdup(host))) {
		rc = dp_error(DNNPROV_ENOMEM, "out of memory");
		goto fail_host;
	}
	/* A name of its own, so that two servers on one host name do not
	 * replace each other's session cookie (cookies ignore the port). */
	memcpy(s->cookie, COOKIE, sizeof(COOKIE) - 1);
	if ((rc = random_hex(s->cookie + sizeof(COOKIE) - 1, 4)))
		goto fail_host;
	if (o->token) {
		snprintf(s->token, sizeof(s->token), "%s", o->token);
		s->token_len = strlen(s->token);
		if ((rc = random_hex(s->login_code, 16)))
			goto fail_host;
		snprintf(s->login_path, sizeof(s->login_path), "/login?code=%s", s->login_code);
	}
	if ((rc = dp_shared_init(&s->index, o->index_dir, o->log_dir)))
		goto fail_host;
	if ((rc = dp_shared_start_fresh(&s->index)))
		goto fail_index;
	if ((rc = pthread_create(&s->watch_thread, NULL, watchdog_main, s))) {
		rc = dp_error_errno(rc, "cannot start a thread");
		goto fail_index;
	}
	s->watch_started = true;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG |
			 (addr.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
	s->daemon = MHD_start_daemon(flags, (uint16_t)o->port, NULL, NULL, on_request, s,
				     MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,
				     MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
				     MHD_OPTION_CONNECTION_LIMIT, (unsigned int)DP_SERVE_MAX_CONNECTIONS,
				     MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)DP_SERVE_MAX_PER_ADDRESS,
				     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)IDLE_SECONDS,
				     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)MEMORY_PER_CONNECTION,
				     MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
				     MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
				     MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_END);
	(void)addrlen;
	if (!s->daemon) {
		rc = dp_error(DNNPROV_EIO, "cannot listen on %s port %u (in use, or not an address of this machine)",
			      host, o->port);
		goto fail_index;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info ? info->port : o->port;
	*out = s;
	return 0;
fail_index:
	stop_watchdog(s);
	dp_shared_free(&s->index);
fail_host:
	pthread_mutex_destroy(&s->login_lock);
	pthread_mutex_destroy(&s->watch_lock);
	pthread_cond_destroy(&s->watch_cond);
	free(s->host);
	free(s);
	return rc;
}

unsigned dp_serve_port(const dp_server *s)
{
	return s->port;
}

const char *dp_serve_login_path(const dp_server *s)
{
	return s->token_len ? s->login_path : NULL;
}

void dp_serve_stop(dp_server *s)
{
	if (!s)
		return;
	stop_watchdog(s);
	MHD_stop_daemon(s->daemon); /* its connections unlink their watch under watch_lock */
	dp_shared_free(&s->index);
	pthread_mutex_destroy(&s->login_lock);
	pthread_mutex_destroy(&s->watch_lock);
	pthread_cond_destroy(&s->watch_cond);
	free(s->host);
	free(s);
}
