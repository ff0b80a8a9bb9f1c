/*
 * snapshots.h - an index opened once in a process and read by its threads:
 * each reader takes a snapshot (a read-only LMDB transaction) of the index
 * as it is now, as a command started now would open it.
 *
 * LMDB permits one environment per file in a process (closing a second one
 * would drop the first one's locks), and changing the map size only while
 * no transaction of the process is open; hence one environment behind a
 * read-write lock: snapshots hold the read side, reopening (after a
 * reindex swapped CURRENT to a new generation, or the index was deleted
 * and built again) and adopting a map the indexer grew hold the write
 * side.  The server (serve/) and the public API (dnnprov_index_*) read
 * through it.
 */
#ifndef DNNPROV_SNAPSHOTS_H
#define DNNPROV_SNAPSHOTS_H

#include <pthread.h>

#include "query/query.h"

typedef struct dp_snapshots {
	pthread_rwlock_t lock; /* read: a snapshot is open; write: (re)opening, remapping */
	char *dir;
	char *log_dir;  /* NULL: as the index records */
	dp_index *ix;   /* NULL until opened, or when it could not be */
	char gen[4096]; /* what CURRENT pointed to when ix was opened */
} dp_snapshots;

DP_INTERNAL int dp_snapshots_init(dp_snapshots *s, const char *dir, const char *log_dir);
DP_INTERNAL void dp_snapshots_free(dp_snapshots *s);
/* Opens a snapshot of the index as it is now (reopening it after a
 * reindex, adopting a grown map) and holds the read lock until
 * dp_snapshots_end.  On failure nothing is held, and the error is the one
 * the CLI gives for the same state (no index, an empty one, ...). */
DP_INTERNAL int dp_snapshots_begin(dp_snapshots *s, dp_query *q);
DP_INTERNAL void dp_snapshots_end(dp_snapshots *s, dp_query *q);
/* What changes when the index does (a commit, a reindex): the generation
 * and the time of the last commit, as an opaque key. */
DP_INTERNAL int dp_snapshots_change(dp_query *q, const dp_snapshots *s, dp_buf *out);

/* The public API's handle on an index (include/dnnprov.h): its snapshots. */
struct dnnprov_index {
	dp_snapshots snaps;
};

/* What every dnnprov_index_* call checks first, `call` naming it: the
 * arguments it needs (text: the question or statement), a known format
 * (*fmt the renderer's); clears the detail of an earlier failure and
 * *out.  0 or DNNPROV_EINVAL. */
DP_INTERNAL int dp_api_args(const char *call, const dnnprov_index *ix, const char *text, char **out, size_t n,
			    const void *params, dnnprov_format format, dp_format *fmt);

#endif
