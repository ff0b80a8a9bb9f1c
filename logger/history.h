/*
 * history.h - what a task's own logs say about it, for a writer about to
 * record it: whether it has begun, how its last attempt ended, the run it
 * belongs to, and, for a resume, the hyperparameter values in force and
 * the last epoch recorded.
 *
 * A writer holds the task's lock while it reads this (writer.c), so no
 * other process can change the answer meanwhile.  The logs are the only
 * source: the writer never asks the index.
 */
#ifndef DNNPROV_HISTORY_H
#define DNNPROV_HISTORY_H

#include <stdbool.h>
#include <stdint.h>

#include "dnnprov.h"
#include "logger/reader.h"

typedef enum dp_task_phase {
	DP_PHASE_NEW = 0, /* no begin record yet */
	DP_PHASE_RUNNING, /* begun, and its last attempt has not ended */
	DP_PHASE_ENDED,   /* its last attempt ended (status says how) */
} dp_task_phase;

typedef struct dp_task_history {
	dp_task_phase phase;
	char status[16];            /* the last end record's status, when ENDED */
	char run[DP_RUN_ID_MAX + 1]; /* "" when no segment names one */
	uint64_t attempts;          /* begin records */
	uint32_t max_sequence;      /* the highest segment sequence in the folder */
	bool has_segments;
	/* Filled by a full read only: */
	bool has_epoch;
	int64_t last_epoch;         /* the highest epoch recorded */
	dnnprov_value *in_force;    /* the first begin's values, then each
				       adaptation's new value (the one of the
				       highest epoch per name); owned copies */
	int64_t *set_at;            /* per value: the epoch of its adaptation,
				       INT64_MIN for a begin value */
	size_t nin_force;
} dp_task_history;

/* Reads the history of the task whose folder is `dir` (which need not
 * exist: a new task).  Quick (full = false): the newest segment's header
 * says what its writer knew, and only that segment's records are read;
 * when it cannot say (a version 1 segment, a damaged header), every segment
 * is read.  Full: every segment is read, in causal order, and the values in
 * force and the last epoch are filled in too.  Damaged frames are skipped,
 * as the indexer skips them.
 * Returns 0, DNNPROV_EIO (a folder or segment that cannot be read) or
 * DNNPROV_ENOMEM; the caller frees *h with dp_task_history_free(). */
DP_INTERNAL int dp_task_history_read(const char *dir, bool full, dp_task_history *h);
DP_INTERNAL void dp_task_history_free(dp_task_history *h);

#endif
