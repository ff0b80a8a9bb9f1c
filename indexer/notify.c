/*
 * notify.c - the notifier's thread and its memory queue, and the sink that
 * runs a command (notify.h says what is promised and how).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "indexer/notify.h"

extern char **environ;

typedef struct held {
	uint64_t number;
	char *df, *id, *json;
	size_t len;
} held;

struct dp_notifier {
	dp_notify_sink sink;
	void (*report)(void *ctx, const char *what);
	void *report_ctx;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	/* Under lock: the ring of held notifications, the numbers delivered
	 * and not yet taken back, the state. */
	held q[DP_NOTIFY_HELD];
	size_t head, count;
	uint64_t done[DP_NOTIFY_HELD];
	size_t ndone;
	bool busy, stopping, joined;
	uint64_t delivered, failed;
	double retry_first, retry_max;
	volatile double abandon_at;
};

static void held_free(held *h)
{
	free(h->df);
	free(h->id);
	free(h->json);
	memset(h, 0, sizeof(*h));
}

static void tell(dp_notifier *n, const char *fmt, ...) DP_PRINTF(2, 3);
static void tell(dp_notifier *n, const char *fmt, ...)
{
	char what[1024];
	va_list ap;
	if (!n->report)
		return;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	n->report(n->report_ctx, what);
}

/* Waits up to `seconds` unless stopped; false when stopped. */
static bool pause_for(dp_notifier *n, double seconds)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	double t = (double)until.tv_sec + until.tv_nsec / 1e9 + seconds;
	until.tv_sec = (time_t)t;
	until.tv_nsec = (long)((t - (double)until.tv_sec) * 1e9);
	pthread_mutex_lock(&n->lock);
	while (!n->stopping && pthread_cond_timedwait(&n->wake, &n->lock, &until) != ETIMEDOUT)
		;
	bool go_on = !n->stopping;
	pthread_mutex_unlock(&n->lock);
	return go_on;
}

/* The thread: the oldest held notification, delivered until it is (or
 * the notifier stops), then the next. */
static void *run(void *arg)
{
	dp_notifier *n = arg;
	double retry = n->retry_first;

	for (;;) {
		pthread_mutex_lock(&n->lock);
		while (!n->stopping && n->count == 0)
			pthread_cond_wait(&n->wake, &n->lock);
		if (n->stopping) {
			pthread_mutex_unlock(&n->lock);
			break;
		}
		held h = n->q[n->head]; /* stays held until delivered */
		n->busy = true;
		pthread_mutex_unlock(&n->lock);

		dp_error_clear();
		int rc = n->sink.deliver(n->sink.ctx, h.df, h.id, h.json, h.len, &n->abandon_at);

		pthread_mutex_lock(&n->lock);
		n->busy = false;
		if (rc == 0) {
			held_free(&n->q[n->head]);
			n->head = (n->head + 1) % DP_NOTIFY_HELD;
			n->count--;
			if (n->ndone < DP_NOTIFY_HELD)
				n->done[n->ndone++] = h.number;
			n->delivered++;
		} else {
			n->failed++;
		}
		bool stopping = n->stopping;
		pthread_mutex_unlock(&n->lock);
		if (rc == 0) {
			retry = n->retry_first;
			continue;
		}
		if (stopping)
			break;
		tell(n, "%s: event %s: %s; trying again in %.0f s (the events after it wait)", n->sink.what, h.id,
		     dnnprov_errmsg(), retry);
		if (!pause_for(n, retry))
			break;
		retry = retry * 2 > n->retry_max ? n->retry_max : retry * 2;
	}
	return NULL;
}

int dp_notifier_start(const dp_notify_sink *sink, void (*report)(void *ctx, const char *what), void *report_ctx,
		      dp_notifier **out)
{
	dp_notifier *n = calloc(1, sizeof(*n));
	sigset_t all, old;
	int err;

	*out = NULL;
	if (!n)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	n->sink = *sink;
	n->report = report;
	n->report_ctx = report_ctx;
	n->retry_first = 1;
	n->retry_max = 60;
	pthread_mutex_init(&n->lock, NULL);
	pthread_cond_init(&n->wake, NULL);
	/* The thread inherits the mask: SIGTERM and SIGINT reach the main
	 * thread, and a command that closes its input gives EPIPE, not a
	 * SIGPIPE that would end the indexer. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&n->thread, NULL, run, n);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		pthread_cond_destroy(&n->wake);
		pthread_mutex_destroy(&n->lock);
		free(n);
		return dp_error_errno(err, "cannot start the notifier's thread");
	}
	*out = n;
	return 0;
}

void dp_notifier_stop(dp_notifier *n, double grace_s)
{
	if (!n || n->joined)
		return;
	pthread_mutex_lock(&n->lock);
	n->stopping = true;
	n->abandon_at = dp_monotonic() + grace_s;
	pthread_cond_broadcast(&n->wake);
	pthread_mutex_unlock(&n->lock);
	pthread_join(n->thread, NULL);
	n->joined = true;
}

void dp_notifier_free(dp_notifier *n)
{
	if (!n)
		return;
	dp_notifier_stop(n, 0);
	for (size_t i = 0; i < n->count; i++)
		held_free(&n->q[(n->head + i) % DP_NOTIFY_HELD]);
	pthread_cond_destroy(&n->wake);
	pthread_mutex_destroy(&n->lock);
	free(n);
}

bool dp_notifier_offer(dp_notifier *n, uint64_t number, const char *df, const char *id, const char *json, size_t len)
{
	held h = { number, strdup(df), strdup(id), malloc(len + 1), len };
	if (!h.df || !h.id || !h.json) {
		held_free(&h);
		return false;
	}
	memcpy(h.json, json, len);
	h.json[len] = '\0';
	pthread_mutex_lock(&n->lock);
	bool room = !n->stopping && n->count < DP_NOTIFY_HELD && n->count + n->ndone < DP_NOTIFY_HELD;
	if (room) {
		n->q[(n->head + n->count) % DP_NOTIFY_HELD] = h;
		n->count++;
		pthread_cond_signal(&n->wake);
	}
	pthread_mutex_unlock(&n->lock);
	if (!room)
		held_free(&h);
	return room;
}

size_t dp_notifier_delivered(dp_notifier *n, uint64_t *out, size_t cap)
{
	pthread_mutex_lock(&n->lock);
	size_t k = n->ndone < cap ? n->ndone : cap;
	memcpy(out, n->done, k * sizeof(*out));
	memmove(n->done, n->done + k, (n->ndone - k) * sizeof(*out));
	n->ndone -= k;
	pthread_mutex_unlock(&n->lock);
	return k;
}

bool dp_notifier_idle(dp_notifier *n)
{
	pthread_mutex_lock(&n->lock);
	bool idle = n->count == 0 && !n->busy;
	pthread_mutex_unlock(&n->lock);
	return idle;
}

void dp_notifier_counts(dp_notifier *n, uint64_t *delivered, uint64_t *failed)
{
	pthread_mutex_lock(&n->lock);
	*delivered = n->delivered;
	*failed = n->failed;
	pthread_mutex_unlock(&n->lock);
}

void dp_notifier_set_retry(dp_notifier *n, double first_s, double max_s)
{
	pthread_mutex_lock(&n->lock);
	n->retry_first = first_s;
	n->retry_max = max_s;
	pthread_mutex_unlock(&n->lock);
}

/* ---- the command sink ---------------------------------------------------------------- */

typedef struct command_sink {
	char *const *argv;
	double timeout_s;
	char what[160];
} command_sink;

/* The environment of the command: the indexer's, and the event's id. */
static char **command_env(const char *id, char **own)
{
	size_t n = 0;
	while (environ && environ[n])
		n++;
	char **env = calloc(n + 2, sizeof(*env));
	if (!env)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "DNNPROV_EVENT_ID=", 17) != 0)
			env[k++] = environ[i];
	size_t len = strlen(id) + 18;
	if (!(*own = malloc(len))) {
		free(env);
		return NULL;
	}
	snprintf(*own, len, "DNNPROV_EVENT_ID=%s", id);
	env[k] = *own;
	return env;
}

/* Writes what the command's standard input takes of json by `deadline`
 * (a command may read none of it: that is its business). */
static void feed(int fd, const char *json, size_t len, double deadline, const volatile double *abandon_at)
{
	size_t off = 0;
	while (off < len && dp_monotonic() < deadline && !(*abandon_at > 0 && dp_monotonic() >= *abandon_at)) {
		struct pollfd p = { fd, POLLOUT, 0 };
		if (poll(&p, 1, 50) <= 0)
			continue;
		ssize_t w = write(fd, json + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break; /* EPIPE: it closed its input */
		off += (size_t)w;
	}
	/* A SIGPIPE raised at this (blocking it) thread is taken off. */
	sigset_t pipe_set;
	struct timespec zero = { 0, 0 };
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	while (sigtimedwait(&pipe_set, NULL, &zero) > 0)
		;
}

static int command_deliver(void *ctx, const char *df, const char *id, const char *json, size_t len,
			   const volatile double *abandon_at)
{
	command_sink *c = ctx;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, dflt;
	char *own = NULL, **env;
	int in[2], rc = 0;
	pid_t pid;

	(void)df;
	if (pipe2(in, O_CLOEXEC) != 0)
		return dp_error_errno(errno, "cannot make a pipe for the command");
	fcntl(in[1], F_SETFL, O_NONBLOCK);
	if (!(env = command_env(id, &own))) {
		close(in[0]);
		close(in[1]);
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, 2, 1); /* its output is a report, not the indexer's */
	posix_spawn_file_actions_addclosefrom_np(&fa, 3); /* no index, lock or log descriptor */
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	sigfillset(&dflt);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &dflt);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	int err = posix_spawnp(&pid, c->argv[0], &fa, &attr, c->argv, env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	free(env);
	free(own);
	close(in[0]);
	if (err) {
		close(in[1]);
		return dp_error_errno(err, "cannot run %s", c->what);
	}
	double deadline = dp_monotonic() + c->timeout_s;
	feed(in[1], json, len, deadline, abandon_at);
	close(in[1]);
	int status = 0;
	bool killed = false;
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid || (w < 0 && errno != EINTR))
			break;
		double now = dp_monotonic();
		if (!killed && (now >= deadline || (*abandon_at > 0 && now >= *abandon_at))) {
			kill(-pid, SIGKILL); /* the group: a shell's children too */
			kill(pid, SIGKILL);
			killed = true;
			rc = now >= deadline ? dp_error(DNNPROV_EIO, "ran past its timeout (%g s) and was killed", c->timeout_s)
					     : dp_error(DNNPROV_EIO, "stopped with the indexer");
		}
		struct timespec ts = { 0, 5 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	if (killed)
		return rc;
	if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
		return dp_error(DNNPROV_EIO, "exited with status %d", WEXITSTATUS(status));
	if (WIFSIGNALED(status))
		return dp_error(DNNPROV_EIO, "was killed by signal %d", WTERMSIG(status));
	return 0;
}

dp_notify_sink dp_notify_command(char *const *argv, double timeout_s)
{
	dp_notify_sink s = { 0 };
	command_sink *c = calloc(1, sizeof(*c));
	if (!c)
		return s;
	c->argv = argv;
	c->timeout_s = timeout_s;
	/* `sh -c TEXT` is named by its text. */
	const char *name = argv[1] && argv[2] && strcmp(argv[1], "-c") == 0 ? argv[2] : argv[0];
	snprintf(c->what, sizeof(c->what), "on_event command '%.120s'", name);
	s.deliver = command_deliver;
	s.ctx = c;
	s.what = c->what;
	return s;
}

void dp_notify_command_free(dp_notify_sink *s)
{
	free(s->ctx);
	memset(s, 0, sizeof(*s));
}
