/*
 * trash.h - removing runs (docs/RUNS.md): a task's folder moved aside into
 * the log folder's trash, where the indexer sees it and drops the task,
 * and moved back by a restore.
 *
 *   <log_dir>/.trash/<deleted>-<host>-<pid>/<dataflow>/<task>/
 *
 * <deleted> is the UTC time of the deletion (20261126T104208Z): one folder
 * per `delete` call, holding every task it removed, with everything their
 * folders held (segments, note segments, the lock file).  Nothing in the
 * trash is read as a log; a reader of the log tree skips `.trash`.  It is
 * kept until `dnnprov delete --purge` removes it.
 */
#ifndef DNNPROV_TRASH_H
#define DNNPROV_TRASH_H

#include <stdbool.h>
#include <stddef.h>

#include "util/util.h"

#define DP_TRASH_DIR ".trash"

/* One trashed task. */
typedef struct dp_trashed {
	char *entry;  /* <deleted>-<host>-<pid> */
	char *df, *task;
	double deleted; /* from the entry's name; NaN when it does not parse */
	char run[65];   /* the run its segments name; "" when none does */
} dp_trashed;

/* Moves the folders of `tasks` of dataflow df into one new trash entry,
 * each under the task's writer lock, so that a task another process is
 * recording is refused (DNNPROV_ELOCKED, naming it) and left in place.
 * Tasks are moved one by one: *moved counts those moved before a failure.
 * DNNPROV_ENOTFOUND: a task with no folder. */
DP_INTERNAL int dp_trash_tasks(const char *log_dir, const char *df, const char *const *tasks, size_t n,
			       size_t *moved);

/* The names of the trash entries, sorted (oldest deletion first). */
DP_INTERNAL int dp_trash_entries(const char *log_dir, char ***names, size_t *n);
DP_INTERNAL void dp_trash_entries_free(char **names, size_t n);
/* The dataflow folders of one entry, sorted. */
DP_INTERNAL int dp_trash_dataflows(const char *log_dir, const char *entry, char ***names, size_t *n);
/* The tasks of one dataflow of one entry. */
DP_INTERNAL int dp_trash_df_tasks(const char *log_dir, const char *entry, const char *df, dp_trashed **out,
				  size_t *n);

/* Every trashed task, oldest deletion first. */
DP_INTERNAL int dp_trash_list(const char *log_dir, dp_trashed **out, size_t *n);
DP_INTERNAL void dp_trash_list_free(dp_trashed *list, size_t n);

/* Moves the most recently trashed copy of task back to its place.
 * DNNPROV_ENOTFOUND when the trash has none; DNNPROV_ESTATE when the log
 * folder holds a task of that id again (a new run took the id). */
DP_INTERNAL int dp_trash_restore(const char *log_dir, const char *df, const char *task);

/* Removes for good the trash entries deleted more than older_than seconds
 * ago (0: all); *removed counts the tasks they held. */
DP_INTERNAL int dp_trash_purge(const char *log_dir, double older_than, size_t *removed);


#endif
