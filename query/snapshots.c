/*
 * snapshots.c - one index environment shared by a process's threads, and
 * what a reader must notice: a reindex that swapped CURRENT to a new
 * generation, an index deleted (or deleted and built again under the same
 * generation name), a map the indexer grew (snapshots.h).
 */
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "query/snapshots.h"

int dp_snapshots_init(dp_snapshots *si, const char *dir, const char *log_dir)
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
	 * snapshots open, a long one included, while new readers go on
	 * answering from the generation they find; a lock that preferred the
	 * writer would stall every reader behind a long download. */
	pthread_rwlock_init(&si->lock, NULL);
	return 0;
}

void dp_snapshots_free(dp_snapshots *si)
{
	dp_index_close(si->ix);
	pthread_rwlock_destroy(&si->lock);
	free(si->dir);
	free(si->log_dir);
	memset(si, 0, sizeof(*si));
}

/* Which index CURRENT names now: its target and the identity of the data
 * file there (the same generation name may be a new index after the folder
 * was deleted and built again).  "" when there is none. */
static void current_identity(const dp_snapshots *si, char *out, size_t cap)
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
static int reopen(dp_snapshots *si, const char *identity)
{
	dp_index *ix;
	int rc;

	/* The write side is held (by this thread): no reader can take it. */
	assert(pthread_rwlock_tryrdlock(&si->lock) != 0);
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

int dp_snapshots_begin(dp_snapshots *si, dp_query *q)
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
				assert(q->ix == si->ix && q->txn && q->shared);
				return 0; /* the read lock is held until dp_snapshots_end */
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

void dp_snapshots_end(dp_snapshots *si, dp_query *q)
{
	if (!q->ix)
		return;
	/* The read side is held since dp_snapshots_begin: no writer can take
	 * it, and the snapshot is of this environment. */
	assert(q->ix == si->ix && q->shared && pthread_rwlock_trywrlock(&si->lock) != 0);
	dp_query_close(q);
	pthread_rwlock_unlock(&si->lock);
}

int dp_snapshots_change(dp_query *q, const dp_snapshots *si, dp_buf *out)
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
