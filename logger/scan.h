/*
 * scan.h - finding segment files under a path.
 */
#ifndef DNNPROV_SCAN_H
#define DNNPROV_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

typedef struct dp_path_list {
	char **paths;
	size_t n;
	size_t cap;
} dp_path_list;

/* Appends to *list every segment file (*.dnplog) at or under `path`, a
 * file or a directory, sorted by dp_segment_path_cmp so that a task's
 * segments come in their causal order.  Symbolic links are not followed below the top
 * (a log tree is plain folders; a link loop must not hang the indexer).
 * Returns 0 or a DNNPROV_E* code naming the path that failed; after an
 * error the list holds what could be listed, and the caller frees it. */
DP_INTERNAL int dp_find_segments(const char *path, dp_path_list *list);
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

#endif
