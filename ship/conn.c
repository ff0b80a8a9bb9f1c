/*
 * conn.c - the server list, connecting, and the stream's settings (conn.h);
 * names as subject tokens are message.c's.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ship/conn.h"

int dp_nats_check_urls(const char *urls)
{
	if (!urls || !*urls)
		return dp_error(DNNPROV_EINVAL, "no server given (nats://HOST:PORT)");
	const char *p = urls;
	while (*p) {
		size_t n = strcspn(p, ",");
		const char *scheme = strstr(p, "://");
		if (n == 0 || !scheme || scheme >= p + n || scheme == p)
			return dp_error(DNNPROV_EINVAL, "'%.*s' is no server URL (nats://HOST:PORT)", (int)n, p);
		if (strncmp(p, "nats://", 7) != 0 && strncmp(p, "tls://", 6) != 0)
			return dp_error(DNNPROV_EINVAL, "'%.*s': the scheme must be nats:// or tls://", (int)n, p);
		const char *host = scheme + 3;
		if (host >= p + n)
			return dp_error(DNNPROV_EINVAL, "'%.*s' names no host", (int)n, p);
		/* A command line is seen by every user of the machine (ps, shell
		 * history): credentials come from a file or the environment. */
		if (memchr(host, '@', (size_t)(p + n - host)))
			return dp_error(DNNPROV_EINVAL,
					"credentials in a server URL are refused (the command line is visible "
					"to every user): use --creds FILE or DNNPROV_NATS_USER and DNNPROV_NATS_PASSWORD");
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

/* ---- errors ----------------------------------------------------------------------- */

/* Set by dp_nats_error for dp_patience_failed: the detail it set is of a
 * failure that passes. */
static _Thread_local bool last_passes;

/* What fails for a while and then works: the connection, a timeout, no
 * responder (a stream or consumer whose leader is being elected), and the
 * JetStream answers of a cluster that is not whole yet.  Not a refused
 * login or permission, a bad argument, or another JetStream answer (a
 * setting that is wrong stays wrong). */
static bool status_passes(natsStatus s, jsErrCode jerr)
{
	if (jerr) {
		switch (jerr) {
		case JSClusterIncompleteErr:
		case JSClusterNoPeersErr:
		case JSClusterNotAssignedErr:
		case JSClusterNotAvailErr:
		case JSClusterNotLeaderErr:
		case JSClusterPeerNotMemberErr:
		case JSClusterServerNotMemberErr:
		case JSInsufficientResourcesErr:
		case JSRaftGeneralErr:
		case JSStreamOfflineErr:
		case JSConsumerOfflineErr:
			return true;
		default:
			return false;
		}
	}
	switch (s) {
	case NATS_ERR:
	case NATS_IO_ERROR:
	case NATS_CONNECTION_CLOSED:
	case NATS_NO_SERVER:
	case NATS_STALE_CONNECTION:
	case NATS_CONNECTION_DISCONNECTED:
	case NATS_TIMEOUT:
	case NATS_NOT_YET_CONNECTED:
	case NATS_NO_RESPONDERS:
	case NATS_MISSED_HEARTBEAT:
	case NATS_SLOW_CONSUMER:
		return true;
	default:
		return false;
	}
}

bool dp_nats_error_passes(int rc)
{
	return rc == DNNPROV_EIO && last_passes;
}

const char *dp_patience_text(const dp_nats_options *o, char *buf, size_t cap)
{
	char d[32];
	if (o->give_up_ms)
		snprintf(buf, cap, "; retrying for up to %s (--give-up-after)", dp_duration_text(o->give_up_ms, d, sizeof(d)));
	else
		snprintf(buf, cap, "; retrying");
	return buf;
}

void dp_patience_ok(dp_patience *p)
{
	p->since = 0;
	p->wait_ms = 0;
}

const char *dp_duration_text(uint64_t ms, char *buf, size_t cap)
{
	uint64_t s = ms / 1000;
	if (ms % 1000 || ms == 0)
		snprintf(buf, cap, "%llums", (unsigned long long)ms);
	else if (s % 3600 == 0)
		snprintf(buf, cap, "%lluh", (unsigned long long)(s / 3600));
	else if (s >= 3600)
		snprintf(buf, cap, "%lluh%llum", (unsigned long long)(s / 3600), (unsigned long long)(s % 3600 / 60));
	else if (s % 60 == 0)
		snprintf(buf, cap, "%llum", (unsigned long long)(s / 60));
	else
		snprintf(buf, cap, "%llus", (unsigned long long)s);
	return buf;
}

int dp_patience_failed(dp_patience *p, const dp_nats_options *o, int rc, bool passes, unsigned *wait_ms)
{
	double now = dp_monotonic();
	if (!passes)
		return rc;
	if (p->since == 0)
		p->since = now;
	if (o->give_up_ms && (now - p->since) * 1000.0 >= (double)o->give_up_ms) {
		char d[32], why[768];
		snprintf(why, sizeof(why), "%s", dnnprov_errmsg());
		return dp_error(rc, "%s; gave up after %s of failures (--give-up-after)", why,
				dp_duration_text(o->give_up_ms, d, sizeof(d)));
	}
	p->wait_ms = p->wait_ms ? (p->wait_ms * 2 > 5000 ? 5000 : p->wait_ms * 2) : 250;
	/* Never sleep past the moment to give up. */
	double left_ms = o->give_up_ms ? (double)o->give_up_ms - (now - p->since) * 1000.0 : 1e9;
	*wait_ms = left_ms < p->wait_ms ? (unsigned)left_ms + 1 : p->wait_ms;
	return 0;
}

int dp_nats_error(natsStatus s, jsErrCode jerr, const char *fmt, ...)
{
	char what[512], last[256] = "";
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	natsStatus ls;
	const char *t = nats_GetLastError(&ls);
	/* The client's text begins with where in its own source it was set. */
	if (t && *t == '(' && strstr(t, "): "))
		t = strstr(t, "): ") + 3;
	if (t && *t && s != NATS_NO_SERVER)
		snprintf(last, sizeof(last), "%s", t);
	const char *why = natsStatus_GetText(s);
	if (s == NATS_CONNECTION_AUTH_FAILED || (last[0] && strstr(last, "Authorization")))
		why = "authorization failed";
	else if (s == NATS_NO_SERVER)
		why = "no server answered (refused, unreachable or no such host)";
	last_passes = status_passes(s, jerr) && strcmp(why, "authorization failed") != 0 &&
		      !(last[0] && strstr(last, "Permissions Violation"));
	if (jerr)
		return dp_error(DNNPROV_EIO, "%s: %s (JetStream error %d)", what, last[0] ? last : why, (int)jerr);
	if (last[0] && strcmp(last, why) != 0 && !strstr(why, "authorization"))
		return dp_error(DNNPROV_EIO, "%s: %s: %s", what, why, last);
	return dp_error(DNNPROV_EIO, "%s: %s", what, why);
}

void dp_conn_tell(dp_conn *c, void (*state)(void *, const char *), void *ctx, const char *what)
{
	if (strcmp(c->told, what) == 0)
		return;
	snprintf(c->told, sizeof(c->told), "%s", what);
	if (state)
		state(ctx, what);
}

/* ---- connecting -------------------------------------------------------------------- */

static void on_disconnected(natsConnection *nc, void *closure)
{
	(void)nc;
	atomic_store(&((dp_conn *)closure)->up, 0);
}

static void on_reconnected(natsConnection *nc, void *closure)
{
	(void)nc;
	dp_conn *c = closure;
	atomic_store(&c->up, 1);
	atomic_store(&c->reconnected, 1);
}

/* The client runs a closed connection's callbacks on a thread of its own,
 * after natsConnection_Close has returned, and the closed callback last:
 * until it has run, the others may still write into the dp_conn, which
 * dp_conn_close waits for (its owner may be a stack frame about to go). */
static void on_closed(natsConnection *nc, void *closure)
{
	(void)nc;
	atomic_store(&((dp_conn *)closure)->closed, 1);
}

const char *dp_conn_server(const dp_conn *c, char *buf, size_t cap)
{
	if (c->nc && natsConnection_GetConnectedUrl(c->nc, buf, cap) == NATS_OK && buf[0])
		return buf;
	snprintf(buf, cap, "%s", c->o->urls);
	return buf;
}

/* The server list as the client wants it: an array of URLs. */
static int split_urls(const char *urls, char ***out, int *n)
{
	char *copy = strdup(urls), *save = NULL;
	int cap = 1;
	for (const char *p = urls; *p; p++)
		cap += *p == ',';
	char **list = calloc((size_t)cap, sizeof(*list));
	if (!copy || !list) {
		free(copy);
		free(list);
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	}
	*n = 0;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
		list[(*n)++] = t;
	*out = list; /* list[0] is the copy */
	return 0;
}

int dp_conn_open(dp_conn *c, const dp_nats_options *o, jsOptions *jo)
{
	natsOptions *opts = NULL;
	char **urls = NULL;
	int n = 0, rc;
	natsStatus s;

	c->nc = NULL;
	c->js = NULL;
	c->o = o;
	c->stream = o->stream ? o->stream : DP_SHIP_STREAM;
	atomic_store(&c->up, 0);
	atomic_store(&c->reconnected, 0);
	atomic_store(&c->closed, 0);
	if ((rc = dp_nats_check_urls(o->urls)) || (rc = split_urls(o->urls, &urls, &n)))
		return rc;
	s = natsOptions_Create(&opts);
	if (s == NATS_OK)
		s = natsOptions_SetServers(opts, (const char **)urls, n);
	/* A server that dies is noticed within seconds, and the client goes
	 * on trying the others (and it) for ever: an outage costs a delay. */
	if (s == NATS_OK)
		s = natsOptions_SetTimeout(opts, 2000);
	if (s == NATS_OK)
		s = natsOptions_SetMaxReconnect(opts, -1);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectWait(opts, 250);
	if (s == NATS_OK)
		s = natsOptions_SetPingInterval(opts, 2000);
	if (s == NATS_OK)
		s = natsOptions_SetMaxPingsOut(opts, 2);
	if (s == NATS_OK)
		s = natsOptions_SetDisconnectedCB(opts, on_disconnected, c);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectedCB(opts, on_reconnected, c);
	if (s == NATS_OK)
		s = natsOptions_SetClosedCB(opts, on_closed, c);
	if (s == NATS_OK && o->creds_file)
		s = natsOptions_SetUserCredentialsFromFiles(opts, o->creds_file, NULL);
	if (s == NATS_OK && o->user)
		s = natsOptions_SetUserInfo(opts, o->user, o->password ? o->password : "");
	if (s != NATS_OK) {
		rc = dp_nats_error(s, 0, "%s", o->creds_file && s != NATS_NO_MEMORY ? o->creds_file : "connection options");
		goto out;
	}
	s = natsConnection_Connect(&c->nc, opts);
	if (s != NATS_OK) {
		const char *who = o->creds_file ? " (credentials of --creds)" : o->user ? " (user of DNNPROV_NATS_USER)" : "";
		rc = dp_nats_error(s, 0, "%s%s", o->urls, s == NATS_CONNECTION_AUTH_FAILED ? who : "");
		c->nc = NULL;
		goto out;
	}
	atomic_store(&c->up, 1);
	s = natsConnection_JetStream(&c->js, c->nc, jo);
	if (s != NATS_OK) {
		char buf[256];
		rc = dp_nats_error(s, 0, "%s: JetStream", dp_conn_server(c, buf, sizeof(buf)));
		goto out;
	}
	rc = 0;
out:
	natsOptions_Destroy(opts);
	if (urls)
		free(urls[0]);
	free(urls);
	if (rc)
		dp_conn_close(c);
	return rc;
}

void dp_conn_close(dp_conn *c)
{
	if (c->js)
		jsCtx_Destroy(c->js);
	if (c->nc) {
		natsConnection_Close(c->nc);
		/* Bounded, in case the client never calls back: 5 s. */
		for (int i = 0; i < 5000 && !atomic_load(&c->closed); i++) {
			struct timespec ms = { 0, 1000000L };
			nanosleep(&ms, NULL);
		}
		natsConnection_Destroy(c->nc);
	}
	c->js = NULL;
	c->nc = NULL;
	atomic_store(&c->up, 0);
}

/* ---- the stream ------------------------------------------------------------------------ */

int dp_stream_get(dp_conn *c, jsStreamInfo **si)
{
	jsErrCode jerr = 0;
	char buf[256];
	natsStatus s = js_GetStreamInfo(si, c->js, c->stream, NULL, &jerr);
	if (s == NATS_OK)
		return 0;
	*si = NULL;
	if (s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr)
		return dp_error(DNNPROV_ENOTFOUND, "%s: no stream %s", dp_conn_server(c, buf, sizeof(buf)), c->stream);
	return dp_nats_error(s, jerr, "%s: stream %s", dp_conn_server(c, buf, sizeof(buf)), c->stream);
}

/* How many servers the cluster announces (the client's pool: those given
 * and those discovered). */
static int cluster_size(dp_conn *c)
{
	char **servers = NULL;
	int n = 0;
	if (natsConnection_GetServers(c->nc, &servers, &n) != NATS_OK)
		return 1;
	for (int i = 0; i < n; i++)
		free(servers[i]);
	free(servers);
	return n > 0 ? n : 1;
}

static bool covers_ours(const jsStreamConfig *cfg)
{
	for (int i = 0; i < cfg->SubjectsLen; i++)
		if (strcmp(cfg->Subjects[i], DP_SHIP_SUBJECTS) == 0 || strcmp(cfg->Subjects[i], ">") == 0)
			return true;
	return false;
}

/* Why an existing stream cannot take dnnprov's records as they are, or
 * NULL.  Only what would lose or hide records is refused. */
static const char *incompatible(const jsStreamConfig *cfg, int replicas, char *buf, size_t cap)
{
	if (!covers_ours(cfg))
		snprintf(buf, cap, "its subjects do not include %s", DP_SHIP_SUBJECTS);
	else if (cfg->Storage != js_FileStorage)
		snprintf(buf, cap, "its storage is memory (a restart of the servers loses the records); dnnprov "
			 "needs file storage");
	else if (cfg->Retention != js_LimitsPolicy)
		snprintf(buf, cap, "its retention is %s (a message acknowledged by one indexer would be gone for "
			 "the others); dnnprov needs limits", cfg->Retention == js_WorkQueuePolicy ? "workqueue" : "interest");
	else if (cfg->MaxMsgSize > 0 && (uint64_t)cfg->MaxMsgSize < DNNPROV_RECORD_MAX + 65536u + 1024u)
		snprintf(buf, cap, "its max_msg_size is %d bytes; a record may take %u", (int)cfg->MaxMsgSize,
			 DNNPROV_RECORD_MAX + 65536u + 1024u);
	else if (cfg->Sealed)
		snprintf(buf, cap, "it is sealed");
	else if (replicas > 0 && cfg->Replicas != replicas)
		snprintf(buf, cap, "it has %lld replicas, not the %d asked for", (long long)cfg->Replicas, replicas);
	else
		return NULL;
	return buf;
}

int dp_stream_ensure(dp_conn *c, int replicas, jsStreamInfo **si, bool *created)
{
	char server[256], why[256];
	int rc = dp_stream_get(c, si);

	*created = false;
	dp_conn_server(c, server, sizeof(server));
	if (rc == 0) {
		if (incompatible((*si)->Config, replicas, why, sizeof(why))) {
			jsStreamInfo_Destroy(*si);
			*si = NULL;
			return dp_error(DNNPROV_EINVAL, "%s: stream %s: %s; dnnprov never changes a stream: change it "
					"yourself or give another --stream", server, c->stream, why);
		}
		return 0;
	}
	if (rc != DNNPROV_ENOTFOUND)
		return rc;
	jsStreamConfig cfg;
	const char *subjects[] = { DP_SHIP_SUBJECTS };
	jsErrCode jerr = 0;
	jsStreamConfig_Init(&cfg);
	cfg.Name = c->stream;
	cfg.Description = "dnnprov segments (dnnprov ship)";
	cfg.Subjects = subjects;
	cfg.SubjectsLen = 1;
	cfg.Storage = js_FileStorage;
	cfg.Retention = js_LimitsPolicy;
	cfg.Replicas = replicas > 0 ? replicas : cluster_size(c) >= 3 ? 3 : 1;
	cfg.Duplicates = (int64_t)DP_SHIP_DUPLICATE_WINDOW_S * 1000000000;
	natsStatus s = js_AddStream(si, c->js, &cfg, NULL, &jerr);
	if (s == NATS_OK) {
		*created = true;
		return 0;
	}
	*si = NULL;
	if (jerr == JSStreamNameExistErr) /* created meanwhile by another shipper */
		return dp_stream_ensure(c, replicas, si, created);
	return dp_nats_error(s, jerr, "%s: creating stream %s (file storage, %lld replicas, subjects %s)", server,
			     c->stream, (long long)cfg.Replicas, DP_SHIP_SUBJECTS);
}
