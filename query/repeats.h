/*
 * repeats.h - runs that repeat one another (docs/LINEAGE.md): the same
 * transformation, inputs (the fingerprints of the entities they used),
 * code (git commit and the hash of the working tree's uncommitted diff,
 * run facts git_commit and git_diff) and hyperparameters.  Where any of
 * these is unknown (a run that recorded no input, or whose writer could
 * not tell its code), a run repeats none: an equal spread of metrics
 * between repeats then measures noise, never a hidden difference.
 */
#ifndef DNNPROV_REPEATS_H
#define DNNPROV_REPEATS_H

#include "query/query.h"
#include "util/map.h"

/* For dataflow df: task id -> its group's label (the smallest task id of
 * the group, a NUL-terminated string owned by the map), for every task
 * that has at least one repeat.  One scan of the dataflow's lineage,
 * then a lookup per task that used something. */
typedef struct dp_repeats {
	dp_map group_of;
	dp_buf labels; /* the labels' texts */
} dp_repeats;

DP_INTERNAL int dp_repeats_load(dp_query *q, const char *df, dp_repeats *out);
/* The same for runs ids[0..n) of df alone (a page): the labels of their
 * groups, each group found among the tasks that share one of the run's
 * hyperparameter values (repeats.c); the whole dataflow is read when that
 * would cost more. */
DP_INTERNAL int dp_repeats_load_page(dp_query *q, const char *df, const char *const *ids, size_t n, dp_repeats *out);
/* The label of task id's group, or NULL when it repeats no run. */
DP_INTERNAL const char *dp_repeats_of(const dp_repeats *r, const char *id);
DP_INTERNAL void dp_repeats_free(dp_repeats *r);

#endif
