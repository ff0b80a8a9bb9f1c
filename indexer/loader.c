/*
 * loader.c - reading the log tree on a second thread (see loader.h).
 *
 * Measured on 100,000 runs of 100 epochs (a catch-up on one thread):
 * listing the folders, reading, checking and decoding the segments took
 * about 70% of the time, applying and committing the rest; reading alone
 * on this thread left it waiting for the other two thirds of the time.
 *
 * The queue holds at most QUEUE_ITEMS items or QUEUE_BYTES bytes of
 * segments (one segment more when a single one is larger), so a
 * loader ahead of a slow commit waits instead of reading the tree into
 * memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "indexer/loader.h"

#define QUEUE_ITEMS 1024
#define QUEUE_BYTES (32u << 20)
#define DECODE_AHEAD 8 /* segments waiting, past which the loader decodes too */
#define STOPPED 1 /* internal: the walk was stopped */

struct dp_loader {
	const char *log_dir;
	size_t log_dir_len;
	dp_index *ix;
	pthread_mutex_t *gate;
	MDB_txn *txn; /* reset between lookups */
	bool count;
	pthread_t thread;
	bool started;

	pthread_mutex_t mu;
	pthread_cond_t more, room; /* an item was queued; one was taken */
	dp_loaded q[QUEUE_ITEMS];
	size_t head, n;
	uint64_t bytes;
	bool stop, done;
	int walk_rc;
};

static uint64_t item_bytes(const dp_loaded *it)
{
	return it->kind == DP_LOAD_SEGMENT && it->read ? dp_prefetched_bytes(&it->pf) : 0;
}

void dp_loaded_free(dp_loaded *it)
{
	free(it->path);
	free(it->why);
	dp_prefetched_free(&it->pf);
	memset(it, 0, sizeof(*it));
}

/* Queues an item (taking what it holds), waiting for room; STOPPED when
 * the pass is being stopped (the item is freed). */
static int push(dp_loader *l, dp_loaded *it)
{
	uint64_t b = item_bytes(it);
	pthread_mutex_lock(&l->mu);
	while (!l->stop && (l->n == QUEUE_ITEMS || (l->n && l->bytes + b > QUEUE_BYTES)))
		pthread_cond_wait(&l->room, &l->mu);
	bool stop = l->stop;
	if (!stop) {
		l->q[(l->head + l->n) % QUEUE_ITEMS] = *it;
		__atomic_store_n(&l->n, l->n + 1, __ATOMIC_RELAXED);
		l->bytes += b;
		pthread_cond_signal(&l->more);
	}
	pthread_mutex_unlock(&l->mu);
	if (stop)
		dp_loaded_free(it);
	return stop ? STOPPED : 0;
}

/* The indexed progress of segment `rel`: 1 with *p, 0 when the index has
 * none (or it cannot be read now: the indexer's thread reads it again). */
static int progress_of(dp_loader *l, const char *rel, dp_progress *p)
{
	MDB_val k = { strlen(rel), (void *)rel }, v;
	int found = 0;
	pthread_mutex_lock(l->gate);
	int mrc = l->txn ? mdb_txn_renew(l->txn) : mdb_txn_begin(l->ix->env, NULL, MDB_RDONLY, &l->txn);
	if (mrc == 0) {
		if (mdb_get(l->txn, l->ix->dbi[DP_DB_PROGRESS], &k, &v) == 0 && v.mv_size == sizeof(*p)) {
			memcpy(p, v.mv_data, sizeof(*p));
			found = 1;
		}
		mdb_txn_reset(l->txn);
	} else if (l->txn) {
		mdb_txn_abort(l->txn);
		l->txn = NULL;
	}
	pthread_mutex_unlock(l->gate);
	return found;
}

static const char *relative(const dp_loader *l, const char *path)
{
	return strncmp(path, l->log_dir, l->log_dir_len) == 0 && path[l->log_dir_len] == '/'
		       ? path + l->log_dir_len + 1
		       : path;
}

/* A segment of the pass: read from where the index is, unless the index
 * has all of it (sealed). */
static int load(dp_loader *l, int dirfd, const char *name, const char *path)
{
	dp_loaded it = { .kind = DP_LOAD_SEGMENT };
	dp_progress p;
	int rc;

	if (__atomic_load_n(&l->stop, __ATOMIC_RELAXED))
		return STOPPED;
	if (!(it.path = strdup(relative(l, path))))
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	bool known = progress_of(l, it.path, &p);
	if (!known || !p.sealed) {
		/* Decoded here while the indexer's thread has segments waiting
		 * (it is the slower), else left for it to decode: the two
		 * threads share the work whichever side is short of CPU. */
		bool decode = __atomic_load_n(&l->n, __ATOMIC_RELAXED) >= DECODE_AHEAD;
		if ((rc = dp_prefetch(dirfd, name, path, known ? p.offset : 0, decode, &it.pf))) {
			dp_loaded_free(&it);
			return rc;
		}
		it.read = true;
	}
	return push(l, &it);
}

static int visit(void *ctx, int dirfd, const char *name, const char *path)
{
	return load(ctx, dirfd, name, path);
}

static void report(void *ctx, const char *path, dp_walk_issue issue, const char *why)
{
	dp_loader *l = ctx;
	dp_loaded it = { .kind = DP_LOAD_REPORT, .issue = issue, .path = strdup(path), .why = strdup(why) };
	if (!it.path || !it.why) { /* told at the next pass, which lists it again */
		dp_loaded_free(&it);
		return;
	}
	push(l, &it);
}

/* A counted pass: the whole list first, and what it holds past the index. */
static int walk_counted(dp_loader *l)
{
	dp_path_list segs = { 0 };
	int rc = dp_find_segments(l->log_dir, &segs, report, l);
	if (rc == DNNPROV_ENOMEM) {
		dp_path_list_free(&segs);
		return rc;
	}
	dp_loaded total = { .kind = DP_LOAD_TOTAL };
	for (size_t i = 0; i < segs.n; i++) {
		struct stat st;
		dp_progress p;
		uint64_t at = progress_of(l, relative(l, segs.paths[i]), &p) ? p.offset : 0;
		if (stat(segs.paths[i], &st) == 0 && (uint64_t)st.st_size > at)
			total.total += (uint64_t)st.st_size - at;
	}
	int r = push(l, &total);
	for (size_t i = 0; i < segs.n && r == 0; i++)
		r = load(l, AT_FDCWD, segs.paths[i], segs.paths[i]);
	dp_path_list_free(&segs);
	return r ? r : rc;
}

static void *run(void *arg)
{
	dp_loader *l = arg;
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL); /* signals are the indexer's thread's */
	int rc = l->count ? walk_counted(l) : dp_walk_segments(l->log_dir, visit, l, report, l);
	if (l->txn) {
		pthread_mutex_lock(l->gate);
		mdb_txn_abort(l->txn);
		pthread_mutex_unlock(l->gate);
		l->txn = NULL;
	}
	pthread_mutex_lock(&l->mu);
	l->done = true;
	l->walk_rc = rc == STOPPED ? 0 : rc;
	pthread_cond_signal(&l->more);
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

int dp_loader_start(dp_loader **out, const char *log_dir, dp_index *ix, pthread_mutex_t *gate, bool count)
{
	dp_loader *l = calloc(1, sizeof(*l));
	*out = NULL;
	if (!l)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	l->log_dir = log_dir;
	l->log_dir_len = strlen(log_dir);
	l->ix = ix;
	l->gate = gate;
	l->count = count;
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->more, NULL);
	pthread_cond_init(&l->room, NULL);
	int err = pthread_create(&l->thread, NULL, run, l);
	if (err) {
		dp_loader_stop(l);
		/* EAGAIN: no memory for the thread's stack or its thread-local
		 * storage, or the process's limit of threads reached. */
		if (err == EAGAIN)
			return dp_error(DNNPROV_ENOMEM, "cannot start the thread that reads the logs: out of memory "
							"(or of threads: ulimit -u)");
		return dp_error_errno(err, "cannot start the thread that reads the logs");
	}
	l->started = true;
	*out = l;
	return 0;
}

int dp_loader_next(dp_loader *l, dp_loaded *item, int *walk_rc)
{
	pthread_mutex_lock(&l->mu);
	while (!l->n && !l->done)
		pthread_cond_wait(&l->more, &l->mu);
	int got = l->n > 0;
	if (got) {
		*item = l->q[l->head];
		l->head = (l->head + 1) % QUEUE_ITEMS;
		__atomic_store_n(&l->n, l->n - 1, __ATOMIC_RELAXED);
		l->bytes -= item_bytes(item);
		pthread_cond_signal(&l->room);
	} else {
		*walk_rc = l->walk_rc;
	}
	pthread_mutex_unlock(&l->mu);
	return got;
}

void dp_loader_stop(dp_loader *l)
{
	if (!l)
		return;
	pthread_mutex_lock(&l->mu);
	__atomic_store_n(&l->stop, true, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&l->room);
	pthread_mutex_unlock(&l->mu);
	if (l->started)
		pthread_join(l->thread, NULL);
	for (; l->n; l->n--, l->head = (l->head + 1) % QUEUE_ITEMS)
		dp_loaded_free(&l->q[l->head]);
	pthread_mutex_destroy(&l->mu);
	pthread_cond_destroy(&l->more);
	pthread_cond_destroy(&l->room);
	free(l);
}
