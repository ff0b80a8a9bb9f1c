/*
 * writer.h - internal declarations of the task writer (writer.c); the
 * public API is in dnnprov.h.
 */
#ifndef DNNPROV_WRITER_H
#define DNNPROV_WRITER_H

#include "dnnprov.h"
#include "util/util.h"


/* Makes the process group of the caller, not the process, the task's owner:
 * `dnnprov log` records one record per process, and the task lives as
 * long as the shell script that runs it (docs/RUNS.md). */
DP_INTERNAL void dp_task_owner_is_group(dnnprov_task *t);

/* The path of the segment the handle writes now (for tests and tools). */
DP_INTERNAL const char *dp_task_segment_path(const dnnprov_task *t);

/* Takes the writer lock of the task whose folder is dir: an OFD lock on
 * <dir>/.lock, so that it is this descriptor's (a second one in this
 * process conflicts with it too) and the kernel drops it when the process
 * dies, whatever way.  The file stays empty: the lock's range, bytes
 * [0, pid + 1), says whose it is.  *fd_out holds it (-1 on a file system
 * without such locks, where nothing is guarded).  DNNPROV_ELOCKED names
 * the holder: its pid, and its host as its segments name it. */
DP_INTERNAL int dp_task_lock(const char *dir, const char *df, const char *task, int *fd_out);

/* Sets the modification time of the dataflow folder holding task_dir to
 * now: every process that creates a segment does, after creating it, so
 * that a query can tell from the dataflow folders alone whether segments
 * appeared since the indexer last listed the logs (query/fresh.c).  Best
 * effort: a failure only makes queries walk the logs. */
DP_INTERNAL void dp_touch_dataflow_folder(const char *task_dir);

/* The fields of a segment header (format.h). */
typedef struct dp_segment_header_fields {
	const char *dataflow, *task, *host;
	double created;
	uint32_t sequence; /* 0 in a note segment */
	const char *run;
	uint64_t attempts;
	const char *state; /* "new", "RUNNING" or the status of the last end */
	const char *boot;  /* the writing host's boot id ("" when unknown): records'
			      `mono` times compare within one boot */
} dp_segment_header_fields;

/* The segment header (the fixed part, the map, its checksum) into b. */
DP_INTERNAL int dp_segment_header_encode(const dp_segment_header_fields *h, dp_buf *b);

/* The seal frame of a segment of `records` records into frame; its length. */
#define DP_SEAL_MAX 48
DP_INTERNAL size_t dp_seal_encode(unsigned char frame[DP_SEAL_MAX], uint64_t records);

/* The host name as a segment file name has it: [A-Za-z0-9._], others '_'. */
DP_INTERNAL void dp_sanitize_host(char *dst, size_t cap, const char *src);

/* Checks the pairs of a tag record (names are tags, values any value, NULL
 * to remove); *max gets their encoded size. */
DP_INTERNAL int dp_check_tags(const dnnprov_value *tags, size_t n, size_t *max);
/* Encodes a tag record's payload at p (room: 64 + the size above). */
DP_INTERNAL unsigned char *dp_encode_tag_record(unsigned char *p, const dnnprov_value *tags, size_t n,
						double time);

#include <sys/types.h>
/* pwrite(2), replaceable by tests that make writes fail. */
DP_INTERNAL extern ssize_t (*dp_sys_pwrite)(int fd, const void *buf, size_t n, off_t off);

#endif
