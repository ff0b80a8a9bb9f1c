/*
 * snapshot.c - the server's index: one environment its threads share
 * (query/snapshots.c: each request asks for the index as it is now, as a
 * CLI command started now would open it, and gets the same errors the CLI
 * prints when there is none), and its freshness, refreshed by a thread of
 * its own.
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
	int rc;
	memset(si, 0, sizeof(*si));
	if ((rc = dp_snapshots_init(&si->snaps, dir, log_dir)))
		return rc;
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
	dp_snapshots_free(&si->snaps);
	pthread_mutex_destroy(&si->fresh_lock);
	pthread_cond_destroy(&si->fresh_cond);
	free(si->fresh_json);
	memset(si, 0, sizeof(*si));
}

int dp_shared_begin(dp_shared_index *si, dp_query *q)
{
	return dp_snapshots_begin(&si->snaps, q);
}

void dp_shared_end(dp_shared_index *si, dp_query *q)
{
	dp_snapshots_end(&si->snaps, q);
}

int dp_shared_change(dp_query *q, const dp_shared_index *si, dp_buf *out)
{
	return dp_snapshots_change(q, &si->snaps, out);
}



/* ---- freshness ------------------------------------------------------------------ */

static void refresh(dp_shared_index *si)
{
	dp_query q;
	dp_freshness f;
	dp_buf json = { 0 };
	char *copy = NULL;

	if (dp_shared_begin(si, &q) == 0) {
		if (dp_query_freshness(&q, si->snaps.dir, si->snaps.log_dir, NULL, NULL, &f) == 0 && dp_freshness_json(&f, &json) == 0)
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
