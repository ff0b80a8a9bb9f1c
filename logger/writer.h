/*
 * writer.h - internal declarations of the task writer (writer.c); the
 * public API is in dnnprov.h.
 */
#ifndef DNNPROV_WRITER_H
#define DNNPROV_WRITER_H

#include "dnnprov.h"
#include "util/util.h"

/* "RUNNING", "FINISHED", "FAILED", "KILLED"; NULL for anything else. */
DP_INTERNAL const char *dp_status_name(dnnprov_status s);

/* Makes the process group of the caller, not the process, the task's owner:
 * `dnnprov log` records one record per process, and the task lives as
 * long as the shell script that runs it (docs/RUNS.md). */
DP_INTERNAL void dp_task_owner_is_group(dnnprov_task *t);

/* The path of the segment the handle writes now (for tests and tools). */
DP_INTERNAL const char *dp_task_segment_path(const dnnprov_task *t);

#include <sys/types.h>
/* pwrite(2), replaceable by tests that make writes fail. */
DP_INTERNAL extern ssize_t (*dp_sys_pwrite)(int fd, const void *buf, size_t n, off_t off);

#endif
