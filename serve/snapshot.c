/*
 * snapshot.c - the server's one LMDB environment, shared by its threads,
 * and what it must notice while it serves: a reindex that swapped CURRENT
 * to a new generation, an index deleted (or deleted and built again under
 * the same generation name), a map the indexer grew.  Each request asks
 * for the index as it is now, as a CLI command started now would open it,
 * and gets the same errors the CLI prints when there is none.
 *
 * LMDB permits one environment per file in a process (closing a second one
 * would drop the first one's locks), and changing the map size only while
 * no transaction of the process is open; hence the read-write lock:
 * snapshots hold the read side, reopening and remapping the write side.
 */
#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "serve/internal.h"

int dp_shared_init(dp_shared_index *si, const char *dir, const char *log_dir)
{
	memset(si, 0, sizeof(*si));
	si->dir = strdup(dir);
	si->log_dir = log_dir ? strdup(log_dir) : NULL;
	if (!si->dir || (log_dir && !si->log_dir)) {
		free(si->dir);
		free(si->log_dir);
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	}
	/* Readers first (the default): a reopen after a reindex waits for the
	 * snapshots open, an export's included, while new requests go on
	 * answering from the generation they find; a lock that preferred the
	 * writer would stall every request behind a long download. */
	pthread_rwlock_init(&si->lock, NULL);
	pthread_mutex_init(&si->fresh_lock, NULL);
	pthread_cond_init(&si->fresh_cond, NULL);
	return 0;
}

void dp_shared_free(dp_shared_index *si)
{
	if (si->fresh_started) {
		pthread_mutex_lock(&si->fresh_lock);
		si->stopping = true;
		pthread_cond_signal(&si->fresh_cond);
		pthread_mutex_unlock(&si->fresh_lock);
		pthread_join(si->fresh_thread, NULL);
	}
	dp_index_close(si->ix);
	pthread_rwlock_destroy(&si->lock);
	pthread_mutex_destroy(&si->fresh_lock);
	pthread_cond_destroy(&si->fresh_cond);
	free(si->fresh_json);
	free(si->dir);
	free(si->log_dir);
	memset(si, 0, sizeof(*si));
}

/* Which index CURRENT names now: its target and the identity of the data
 * file there (the same generation name may be a new index after the folder
 * was deleted and built again).  "" when there is none. */
static void current_identity(const dp_shared_index *si, char *out, size_t cap)
{
	char path[4096], target[2048];
	struct stat st;
	ssize_t n;

	out[0] = '\0';
	if (snprintf(path, sizeof(path), "%s/%s", si->dir, DP_INDEX_CURRENT) >= (int)sizeof(path) ||
	    (n = readlink(path, target, sizeof(target) - 1)) <= 0)
		return;
	target[n] = '\0';
	if (snprintf(path, sizeof(path), "%s/%s/data.mdb", si->dir, target) >= (int)sizeof(path) ||
	    stat(path, &st) != 0)
		return;
	snprintf(out, cap, "%s %llu %llu", target, (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
}

/* Under the write lock: opens the index CURRENT names now, closing the one
 * that was open. */
static int reopen(dp_shared_index *si, const char *identity)
{
	dp_index *ix;
	int rc;

	if (si->ix) {
		dp_index_close(si->ix);
		si->ix = NULL;
		si->gen[0] = '\0';
	}
	if ((rc = dp_index_open(si->dir, false, NULL, &ix)))
		return rc;
	si->ix = ix;
	/* Read before the open: if a swap came between, the next request sees
	 * a difference and opens again. */
	snprintf(si->gen, sizeof(si->gen), "%s", identity);
	return 0;
}

int dp_shared_begin(dp_shared_index *si, dp_query *q)
{
	char identity[sizeof(si->gen)];
	int rc = 0;

	memset(q, 0, sizeof(*q));
	for (int attempt = 0; attempt < 8; attempt++) {
		current_identity(si, identity, sizeof(identity));
		pthread_rwlock_rdlock(&si->lock);
		if (si->ix && identity[0] && strcmp(identity, si->gen) == 0) {
			MDB_txn *txn;
			int mrc = mdb_txn_begin(si->ix->env, NULL, MDB_RDONLY, &txn);
			if (mrc == 0) {
				dp_query_adopt(si->ix, txn, q);
				return 0; /* the read lock is held until dp_shared_end */
			}
			if (mrc == MDB_READERS_FULL) {
				int dead = 0;
				mdb_reader_check(si->ix->env, &dead); /* slots of crashed readers */
			}
			pthread_rwlock_unlock(&si->lock);
			if (mrc == MDB_MAP_RESIZED) {
				/* The indexer grew the map: adopt its size while no
				 * snapshot of this process is open. */
				pthread_rwlock_wrlock(&si->lock);
				if (si->ix)
					mdb_env_set_mapsize(si->ix->env, 0);
				pthread_rwlock_unlock(&si->lock);
				continue;
			}
			if (mrc != MDB_READERS_FULL)
				return dp_lmdb_error(mrc, "reading the index");
			continue;
		}
		pthread_rwlock_unlock(&si->lock);
		pthread_rwlock_wrlock(&si->lock);
		current_identity(si, identity, sizeof(identity));
		if (!si->ix || !identity[0] || strcmp(identity, si->gen) != 0)
			rc = reopen(si, identity);
		pthread_rwlock_unlock(&si->lock);
		if (rc)
			return rc;
	}
	return dp_error(DNNPROV_EINDEX, "%s: the index kept changing while it was opened", si->dir);
}

void dp_shared_end(dp_shared_index *si, dp_query *q)
{
	if (!q->ix)
		return;
	dp_query_close(q);
	pthread_rwlock_unlock(&si->lock);
}

int dp_shared_change(dp_query *q, const dp_shared_index *si, dp_buf *out)
{
	MDB_val k = { 11, "last_commit" }, v;
	double when = NAN;
	if (mdb_get(q->txn, q->ix->dbi[DP_DB_META], &k, &v) == 0 && v.mv_size == sizeof(double))
		memcpy(&when, v.mv_data, sizeof(when));
	/* The generation's name, device and inode and the commit's time, as
	 * one opaque hash: the page compares keys, it does not read them. */
	char text[sizeof(si->gen) + 32];
	uint64_t h = 1469598103934665603ull;
	snprintf(text, sizeof(text), "%s/%.6f", si->gen, when);
	for (const char *p = text; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	out->len = 0;
	dp_buf_printf(out, "%016llx", (unsigned long long)h);
	return out->failed ? dp_error(DNNPROV_ENOMEM, "out of memory") : 0;
}

/* ---- freshness ------------------------------------------------------------------ */

static void refresh(dp_shared_index *si)
{
	dp_query q;
	dp_freshness f;
	dp_buf json = { 0 };
	char *copy = NULL;

	if (dp_shared_begin(si, &q) == 0) {
		if (dp_query_freshness(&q, si->dir, si->log_dir, NULL, NULL, &f) == 0 && dp_freshness_json(&f, &json) == 0)
			copy = strdup(dp_buf_cstr(&json) ? dp_buf_cstr(&json) : "{}");
		dp_shared_end(si, &q);
	}
	dp_buf_free(&json);
	pthread_mutex_lock(&si->fresh_lock);
	free(si->fresh_json);
	si->fresh_json = copy; /* NULL while there is no index */
	pthread_mutex_unlock(&si->fresh_lock);
}

/* Every second, or ten times as long as the last walk of the logs took:
 * with no indexer running, a log tree of 100,000 segments takes most of a
 * second to walk, which must not become the server's steady load.  After
 * each, the heap that requests freed (a query that loaded every task) is
 * given back to the system: the server's memory stays what it holds, not
 * its largest answer. */
static void *fresh_main(void *arg)
{
	dp_shared_index *si = arg;
	pthread_mutex_lock(&si->fresh_lock);
	while (!si->stopping) {
		struct timespec until;
		pthread_mutex_unlock(&si->fresh_lock);
		double t0 = dp_monotonic();
		refresh(si);
		double took = dp_monotonic() - t0, wait = took * 10 > 1 ? took * 10 : 1;
		malloc_trim(0);
		pthread_mutex_lock(&si->fresh_lock);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += (time_t)wait;
		until.tv_nsec += (long)((wait - (double)(time_t)wait) * 1e9);
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		while (!si->stopping && pthread_cond_timedwait(&si->fresh_cond, &si->fresh_lock, &until) == 0)
			;
	}
	pthread_mutex_unlock(&si->fresh_lock);
	return NULL;
}

int dp_shared_start_fresh(dp_shared_index *si)
{
	refresh(si); /* the first answers have it */
	int err = pthread_create(&si->fresh_thread, NULL, fresh_main, si);
	if (err)
		return dp_error_errno(err, "cannot start a thread");
	si->fresh_started = true;
	return 0;
}

char *dp_shared_freshness(dp_shared_index *si)
{
	pthread_mutex_lock(&si->fresh_lock);
	char *copy = si->fresh_json ? strdup(si->fresh_json) : NULL;
	pthread_mutex_unlock(&si->fresh_lock);
	return copy;
}
