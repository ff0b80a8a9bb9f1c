/*
 * scan.h - finding segment files under a path.
 */
#ifndef DNNPROV_SCAN_H
#define DNNPROV_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

struct stat;

typedef struct dp_path_list {
	char **paths;
	size_t n;
	size_t cap;
} dp_path_list;

/* What a walk could not take: a folder it could not list (its segments
 * are missing from the list; the next walk tries again), or an entry that
 * is named like a segment but is no regular file, or a symbolic link to a
 * folder (never opened, never followed). */
typedef enum dp_walk_issue { DP_WALK_UNLISTABLE, DP_WALK_NOT_SEGMENT } dp_walk_issue;
typedef void (*dp_walk_report)(void *ctx, const char *path, dp_walk_issue issue, const char *why);

/* Appends to *list every segment at or under `path`, sorted by
 * dp_segment_path_cmp so that a task's segments come in their causal
 * order.
 *
 * The rule, the same for every reader of a log tree (the indexer's
 * catch-up and rescans, follow mode's events, cat, check, reindex): below
 * `path`, a segment is a regular file named *.dnplog found without
 * following symbolic links, and the walk descends into real folders only
 * (a log tree is plain folders; a link loop or a link to /dev/zero must not
 * hang a reader).  `path` itself was named by the caller: it is followed,
 * and must be a folder or a regular file (a FIFO or a device is refused,
 * since reading one may never end).
 *
 * The walk goes on past what it cannot take, telling each to `report`
 * (may be NULL).  Returns 0, DNNPROV_ENOMEM, or the error of the first
 * folder that could not be listed (after listing everything else); the
 * list holds what was found either way, and the caller frees it. */
DP_INTERNAL int dp_find_segments(const char *path, dp_path_list *list, dp_walk_report report, void *ctx);
/* A segment a walk found: `name` in the folder open as `dirfd` (open
 * while the call runs), `path` the whole path.  Non-zero stops the walk. */
typedef int (*dp_walk_visit)(void *ctx, int dirfd, const char *name, const char *path);
/* Walks the folder `path` by the rule above, calling visit for each
 * segment as the folders are listed, in the order dp_find_segments sorts
 * them (a folder's segments, then its folders, each in path order; only
 * segments deeper than <dataflow>/<task>/, which belong to no run, may come
 * in another), so that a caller can read each segment while the rest is
 * still unlisted.  Folders are opened relative to their parent.  Returns 0,
 * visit's first non-zero return, DNNPROV_ENOMEM, or the error of the first
 * folder that could not be listed (after walking everything else). */
DP_INTERNAL int dp_walk_segments(const char *path, dp_walk_visit visit, void *visit_ctx, dp_walk_report report,
				 void *ctx);
/* What kind of file a mode is, for messages: "a FIFO", "a symbolic link". */
DP_INTERNAL const char *dp_file_kind(unsigned mode);
/* The sequence number a version 2 segment name starts with
 * ("0000000003-host-12.dnplog" -> 3), or 0 for any other name. */
DP_INTERNAL uint32_t dp_segment_name_sequence(const char *name);
/* Whether a segment name is a note segment's (format.h). */
DP_INTERNAL bool dp_segment_name_is_note(const char *name);
/* Orders segment paths: by folder, then, within a task's folder, version 1
 * names (by name) before version 2 names (by sequence, then name), and
 * note segments (by name) last. */
DP_INTERNAL int dp_segment_path_cmp(const char *a, const char *b);
DP_INTERNAL int dp_path_list_add(dp_path_list *list, const char *path);
DP_INTERNAL void dp_path_list_sort(dp_path_list *list);
DP_INTERNAL void dp_path_list_free(dp_path_list *list);

/* How long before the real time of a change under `path` (st its stat)
 * the file time it leaves can be: the kernel stamps files with its coarse
 * clock, a tick behind the real one.  Two ticks on a local filesystem that
 * keeps nanoseconds (ext4, XFS, Btrfs, F2FS, tmpfs, overlayfs); a second
 * anywhere else (whole seconds, or a network filesystem's other clock). */
DP_INTERNAL double dp_change_slack(const char *path, const struct stat *st);
/* Returns once every dataflow folder of log_dir last changed more than
 * its slack ago: a listing that begins then can be told apart, by its
 * time alone, from every change before it (query/fresh.c).  Waits at most
 * the slack (a second); a folder dated further ahead is not waited for. */
DP_INTERNAL void dp_wait_out_changes(const char *log_dir);

#endif
