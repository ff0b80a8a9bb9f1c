/*
 * http.c - the HTTP side of `dnnprov receive`: libmicrohttpd's daemon
 * (loaded at run time through serve/mhdapi.h), the checks every request
 * passes (method, body size, Host, token), the two endpoints, and the
 * thread that lets idle runs go.  receive.h states the rules.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "receive/internal.h"
#include "serve/mhdapi.h"
#include "serve/serve.h"

#define MEMORY_PER_CONNECTION (32 * 1024) /* headers and URL: 431 past it */
#define IDLE_SECONDS 30
#define MAX_CONNECTIONS 64

struct dp_receiver {
	struct MHD_Daemon *daemon;
	rcv_core *core;
	char *host;
	unsigned port;
	char token[256];
	size_t token_len;
	size_t max_body;
	double lease_s;
	pthread_t reaper;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stopping, reaper_started;
	void (*log)(void *, const char *);
	void *log_ctx;
};

typedef struct request {
	dp_buf body;
	bool too_big;
} request;

static enum MHD_Result send_answer(struct MHD_Connection *c, rcv_answer *a)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(a->len, a->body, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(a->body);
		return MHD_NO;
	}
	a->body = NULL;
	MHD_add_response_header(resp, "Content-Type", "application/json");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	enum MHD_Result ok = MHD_queue_response(c, a->status, resp);
	MHD_destroy_response(resp);
	return ok;
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *fmt, const char *arg)
{
	rcv_answer a = { 0 };
	rcv_fail(&a, status, NULL, fmt, arg);
	return send_answer(c, &a);
}

/* A token in "Authorization: Bearer T", or as the password of basic
 * authentication (DFA_URL=http://user:T@host:22000/ makes requests send it). */
static bool authorized(const dp_receiver *r, struct MHD_Connection *c)
{
	if (!r->token_len)
		return true;
	const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	if (auth && strncasecmp(auth, "Bearer ", 7) == 0)
		return dp_serve_token_equal(r->token, r->token_len, auth + 7, strlen(auth + 7));
	char *password = NULL, *user = MHD_basic_auth_get_username_password(c, &password);
	bool ok = password && dp_serve_token_equal(r->token, r->token_len, password, strlen(password));
	if (user)
		MHD_free(user);
	if (password)
		MHD_free(password);
	return ok;
}

/* The path with runs of '/' made one: dfa-lib-python joins DFA_URL, which
 * ends with a slash, and "/pde/task/json". */
static void squeeze(const char *url, char *out, size_t cap)
{
	size_t n = 0;
	for (; *url && *url != '?' && n + 1 < cap; url++)
		if (!(*url == '/' && n && out[n - 1] == '/'))
			out[n++] = *url;
	out[n] = '\0';
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
				  const char *version, const char *upload, size_t *upload_size, void **state)
{
	dp_receiver *r = cls;
	request *rq = *state;
	char path[256];
	(void)version;

	if (!rq) {
		if (!(rq = calloc(1, sizeof(*rq))))
			return MHD_NO;
		*state = rq;
		return MHD_YES;
	}
	if (*upload_size) {
		/* Past the limit the rest is read and dropped, so that the client
		 * gets its 413 rather than a reset connection. */
		if (rq->too_big || rq->body.len + *upload_size > r->max_body)
			rq->too_big = true;
		else
			dp_buf_append(&rq->body, upload, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	if (!r->token_len && !dp_serve_host_matches(r->host, r->port, MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host")))
		return send_error(c, 403, "the Host header does not name this server (%s)", "send it to the address dnnprov receive printed");
	if (!authorized(r, c))
		return send_error(c, 401, "%s", "this receiver needs its token: \"Authorization: Bearer TOKEN\", or "
						"DFA_URL=http://dnnprov:TOKEN@HOST:PORT/");
	squeeze(url, path, sizeof(path));
	bool dataflow = strcmp(path, "/pde/dataflow/json") == 0, task = strcmp(path, "/pde/task/json") == 0;
	if (!dataflow && !task) {
		if (strcmp(path, "/") == 0 && strcmp(method, "GET") == 0) {
			rcv_answer a = { 0 };
			rcv_ok(&a, json_pack("{s:s, s:[s,s]}", "service", "dnnprov receive --dfanalyzer", "endpoints",
					     "POST /pde/dataflow/json", "POST /pde/task/json"));
			return send_answer(c, &a);
		}
		return send_error(c, 404, "no such endpoint: %s (DfAnalyzer's are POST /pde/dataflow/json and "
					  "POST /pde/task/json)", path);
	}
	if (strcmp(method, "POST") != 0)
		return send_error(c, 405, "%s: DfAnalyzer's endpoints take POST", method);
	if (rq->too_big) {
		char limit[32];
		snprintf(limit, sizeof(limit), "%zu bytes", r->max_body);
		return send_error(c, 413, "the body is larger than %s (--max-body)", limit);
	}
	if (rq->body.failed)
		return send_error(c, 500, "%s", "out of memory");
	rcv_answer a = { 0 };
	const char *body = rq->body.data ? rq->body.data : "";
	if (dataflow)
		rcv_core_dataflow(r->core, body, rq->body.len, &a);
	else
		rcv_core_task(r->core, body, rq->body.len, &a);
	if (a.status >= 500 && r->log) {
		char line[1200];
		snprintf(line, sizeof(line), "%s: %u %.*s", path, a.status, (int)(a.len > 1000 ? 1000 : a.len),
			 a.body ? a.body : "");
		r->log(r->log_ctx, line);
	}
	return send_answer(c, &a);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **state, enum MHD_RequestTerminationCode why)
{
	request *rq = *state;
	(void)cls;
	(void)c;
	(void)why;
	if (rq) {
		dp_buf_free(&rq->body);
		free(rq);
		*state = NULL;
	}
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	dp_receiver *r = cls;
	char line[1024];
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	if (r->log)
		r->log(r->log_ctx, line);
}

/* Lets idle runs go, a few times per lease. */
static void *reaper_main(void *arg)
{
	dp_receiver *r = arg;
	double step = r->lease_s / 4 < 1 ? r->lease_s / 4 : 1;
	pthread_mutex_lock(&r->lock);
	while (!r->stopping) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		double t = (double)until.tv_sec + until.tv_nsec / 1e9 + step;
		until.tv_sec = (time_t)t;
		until.tv_nsec = (long)((t - (double)until.tv_sec) * 1e9);
		pthread_cond_timedwait(&r->cond, &r->lock, &until);
		if (r->stopping)
			break;
		pthread_mutex_unlock(&r->lock);
		rcv_core_expire(r->core);
		pthread_mutex_lock(&r->lock);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

static int bind_address(const char *host, unsigned port, struct sockaddr_storage *addr)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)addr;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)addr;
	memset(addr, 0, sizeof(*addr));
	if (port > 65535)
		return dp_error(DNNPROV_EINVAL, "port %u is not a port number", port);
	if (strcmp(host, "localhost") == 0 || inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		if (strcmp(host, "localhost") == 0)
			a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		return 0;
	}
	return dp_error(DNNPROV_EINVAL, "'%s' is not an IP address (nor localhost)", host);
}

int dp_receive_start(const dp_receive_options *o, dp_receiver **out)
{
	const char *host = o->host ? o->host : "127.0.0.1";
	struct sockaddr_storage addr;
	dnnprov_config *cfg = NULL;
	dp_receiver *r;
	int rc;

	*out = NULL;
	if (!dp_serve_is_loopback(host) && !(o->token && *o->token))
		return dp_error(DNNPROV_EINVAL, "listening on %s needs a token (--token or --token-file): without one, "
						"whoever reaches that address could write runs into the logs", host);
	if (o->token && (strlen(o->token) < 16 || strlen(o->token) >= sizeof(r->token)))
		return dp_error(DNNPROV_EINVAL, "a token has 16 to %zu characters", sizeof(r->token) - 1);
	for (const char *p = o->token; p && *p; p++)
		if (!isgraph((unsigned char)*p) || *p == ':' || *p == '@' || *p == '/')
			return dp_error(DNNPROV_EINVAL, "a token is printable ASCII without spaces, ':', '@' or '/' "
							"(it may travel in DFA_URL)");
	if ((rc = bind_address(host, o->port, &addr)))
		return rc;
	if (o->config_path && (rc = dnnprov_config_load(o->config_path, &cfg)))
		return rc;
	if ((rc = dp_mhd_bind())) {
		dnnprov_config_free(cfg);
		return rc;
	}
	if (!(r = calloc(1, sizeof(*r))) || !(r->host = strdup(host))) {
		free(r);
		dnnprov_config_free(cfg);
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	}
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	r->max_body = o->max_body ? o->max_body : DP_RECEIVE_DEFAULT_BODY;
	r->lease_s = (double)(o->lease_ms ? o->lease_ms : DP_RECEIVE_DEFAULT_LEASE_MS) / 1000.0;
	r->log = o->log;
	r->log_ctx = o->log_ctx;
	if (o->token) {
		snprintf(r->token, sizeof(r->token), "%s", o->token);
		r->token_len = strlen(r->token);
	}
	rcv_mode mode = { o->log_dir, o->config_path, cfg ? cfg->dataflow : NULL, o->files_dir };
	rc = rcv_core_open(&mode, o->lease_ms, o->log, o->log_ctx, &r->core);
	dnnprov_config_free(cfg);
	if (rc)
		goto fail;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG |
			 (addr.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
	r->daemon = MHD_start_daemon(flags, (uint16_t)o->port, NULL, NULL, on_request, r,
				     MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, r,
				     MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
				     MHD_OPTION_CONNECTION_LIMIT, (unsigned int)MAX_CONNECTIONS,
				     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)IDLE_SECONDS,
				     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)MEMORY_PER_CONNECTION,
				     MHD_OPTION_NOTIFY_COMPLETED, on_completed, r, MHD_OPTION_END);
	if (!r->daemon) {
		rc = dp_error(DNNPROV_EIO, "cannot listen on %s port %u (in use, or not an address of this machine)",
			      host, o->port);
		goto fail;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(r->daemon, MHD_DAEMON_INFO_BIND_PORT);
	r->port = info ? info->port : o->port;
	if (pthread_create(&r->reaper, NULL, reaper_main, r) != 0) {
		rc = dp_error(DNNPROV_EIO, "cannot start a thread");
		goto fail;
	}
	r->reaper_started = true;
	*out = r;
	return 0;
fail:
	dp_receive_stop(r);
	return rc;
}

unsigned dp_receive_port(const dp_receiver *r)
{
	return r->port;
}

size_t dp_receive_reopened(const dp_receiver *r)
{
	return rcv_core_reopened(r->core);
}

void dp_receive_stop(dp_receiver *r)
{
	if (!r)
		return;
	if (r->daemon)
		MHD_stop_daemon(r->daemon);
	if (r->reaper_started) {
		pthread_mutex_lock(&r->lock);
		r->stopping = true;
		pthread_cond_signal(&r->cond);
		pthread_mutex_unlock(&r->lock);
		pthread_join(r->reaper, NULL);
	}
	rcv_core_close(r->core);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
	free(r->host);
	free(r);
}
