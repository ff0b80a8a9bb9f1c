/*
 * scan.c - finding segment files (see scan.h).
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "logger/format.h"
#include "logger/scan.h"
#include "logger/trash.h"

#define MAX_DEPTH 8 /* log_dir/dataflow/task/segment needs 3 */

int dp_path_list_add(dp_path_list *l, const char *p)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		char **grown = realloc(l->paths, cap * sizeof(*grown));
		if (!grown)
			return dp_error(DNNPROV_ENOMEM, "out of memory");
		l->paths = grown;
		l->cap = cap;
	}
	if (!(l->paths[l->n] = strdup(p)))
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	l->n++;
	return 0;
}

static bool is_segment_name(const char *name)
{
	size_t n = strlen(name), s = strlen(DP_SEGMENT_SUFFIX);
	return n > s && strcmp(name + n - s, DP_SEGMENT_SUFFIX) == 0 && name[0] != '.';
}

static int walk(const char *dir, dp_path_list *l, int depth)
{
	DIR *d;
	struct dirent *e;
	int rc = 0;

	if (depth > MAX_DEPTH)
		return 0;
	d = opendir(dir);
	if (!d)
		return dp_error_errno(errno, "cannot read directory %s", dir);
	while ((e = readdir(d)) != NULL) {
		struct stat st;
		char *p;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		/* Deleted runs are not logs (trash.h). */
		if (depth == 0 && strcmp(e->d_name, DP_TRASH_DIR) == 0)
			continue;
		if (!(p = dp_path_join(dir, e->d_name))) {
			rc = dp_error(DNNPROV_ENOMEM, "out of memory");
			break;
		}
		/* readdir says what most entries are; lstat only when it cannot
		 * (a rescan of thousands of segments pays one call less each). */
		if (e->d_type == DT_DIR)
			rc = walk(p, l, depth + 1);
		else if (e->d_type == DT_REG)
			rc = is_segment_name(e->d_name) ? dp_path_list_add(l, p) : 0;
		else if (e->d_type == DT_UNKNOWN && lstat(p, &st) == 0) {
			if (S_ISDIR(st.st_mode))
				rc = walk(p, l, depth + 1);
			else if (S_ISREG(st.st_mode) && is_segment_name(e->d_name))
				rc = dp_path_list_add(l, p);
		} /* links and the like are not segments; vanished ones a rescan tells */
		free(p);
		if (rc)
			break;
	}
	closedir(d);
	return rc;
}

uint32_t dp_segment_name_sequence(const char *name)
{
	uint64_t seq = 0;
	for (int i = 0; i < DP_SEQUENCE_DIGITS; i++) {
		if (name[i] < '0' || name[i] > '9')
			return 0;
		seq = seq * 10 + (uint64_t)(name[i] - '0');
	}
	return name[DP_SEQUENCE_DIGITS] == '-' && seq <= UINT32_MAX ? (uint32_t)seq : 0;
}

bool dp_segment_name_is_note(const char *name)
{
	return strncmp(name, DP_NOTE_PREFIX, strlen(DP_NOTE_PREFIX)) == 0;
}

/* 0 a version 1 name, 1 a version 2 name, 2 a note segment's. */
static int name_class(const char *name)
{
	if (dp_segment_name_is_note(name))
		return 2;
	return dp_segment_name_sequence(name) != 0;
}

int dp_segment_path_cmp(const char *a, const char *b)
{
	const char *sa = strrchr(a, '/'), *sb = strrchr(b, '/');
	size_t da = sa ? (size_t)(sa - a) : 0, db = sb ? (size_t)(sb - b) : 0;
	int c = memcmp(a, b, da < db ? da : db);
	if (c || da != db)
		return c ? c : (da < db ? -1 : 1);
	const char *na = sa ? sa + 1 : a, *nb = sb ? sb + 1 : b;
	/* Same folder, so the same task: version 1 names (a creation time)
	 * come first, then version 2 names, whose zero-padded sequence makes
	 * byte order the causal order. */
	int ca = name_class(na), cb = name_class(nb);
	if (ca != cb)
		return ca < cb ? -1 : 1;
	return strcmp(na, nb);
}

static int cmp_paths(const void *a, const void *b)
{
	return dp_segment_path_cmp(*(char *const *)a, *(char *const *)b);
}

int dp_find_segments(const char *path, dp_path_list *list)
{
	struct stat st;
	size_t first = list->n;
	int rc;

	if (stat(path, &st) != 0)
		return dp_error_errno(errno, "cannot read %s", path);
	if (S_ISDIR(st.st_mode))
		rc = walk(path, list, 0);
	else
		rc = dp_path_list_add(list, path);
	/* Sorted even after an error: `cat` and `check` go on with the
	 * folders they could read (and exit 1); the caller frees the list. */
	if (list->n - first > 1) /* qsort(NULL, 0, ...) is undefined */
		qsort(list->paths + first, list->n - first, sizeof(char *), cmp_paths);
	return rc;
}

void dp_path_list_sort(dp_path_list *list)
{
	if (list->n > 1)
		qsort(list->paths, list->n, sizeof(char *), cmp_paths);
}

void dp_path_list_free(dp_path_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->paths[i]);
	free(l->paths);
	l->paths = NULL;
	l->n = l->cap = 0;
}
