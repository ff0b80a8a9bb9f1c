/*
 * scan.c - finding segment files (see scan.h).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "logger/format.h"
#include "logger/scan.h"
#include "logger/trash.h"

#define MAX_DEPTH 8 /* log_dir/dataflow/task/segment needs 3 */

int dp_path_list_add(dp_path_list *l, const char *p)
{
	char **grown = dp_grow(l->paths, l->n, &l->cap, sizeof(*l->paths), 64);
	if (!grown)
		return DNNPROV_ENOMEM;
	l->paths = grown;
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

const char *dp_file_kind(unsigned mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return "a regular file";
	case S_IFDIR: return "a folder";
	case S_IFLNK: return "a symbolic link";
	case S_IFIFO: return "a FIFO";
	case S_IFCHR: return "a character device";
	case S_IFBLK: return "a block device";
	case S_IFSOCK: return "a socket";
	default: return "not a regular file";
	}
}

typedef struct walker {
	dp_path_list *list;
	dp_walk_report report;
	void *ctx;
	int first_error; /* of a folder that could not be listed */
	char first_why[512];
} walker;

static void tell(walker *w, const char *path, dp_walk_issue issue, const char *why)
{
	if (w->report)
		w->report(w->ctx, path, issue, why);
}

/* An entry that is not a folder or a regular file: a segment's name on it,
 * or a link to a folder, is told; anything else is none of our business. */
static void not_segment(walker *w, const char *path, const char *name, unsigned mode)
{
	char why[96];
	struct stat target;
	if (S_ISLNK(mode) && !is_segment_name(name)) {
		/* stat() follows the link without opening what it names. */
		if (stat(path, &target) != 0 || !S_ISDIR(target.st_mode))
			return;
		tell(w, path, DP_WALK_NOT_SEGMENT, "a symbolic link to a folder: not followed");
		return;
	}
	if (!is_segment_name(name))
		return;
	snprintf(why, sizeof(why), "%s, not a segment: never read", dp_file_kind(mode));
	tell(w, path, DP_WALK_NOT_SEGMENT, why);
}

static int walk(walker *w, const char *dir, int depth)
{
	DIR *d;
	struct dirent *e;
	int rc = 0;

	if (depth > MAX_DEPTH)
		return 0;
	d = opendir(dir);
	if (!d) {
		/* Told, and the walk goes on: one unreadable folder (a user's
		 * umask 077 in a shared log folder) must not hide the others. */
		int saved = errno;
		int err = dp_error_errno(saved, "cannot list the folder %s", dir);
		if (err == DNNPROV_ENOMEM)
			return err;
		if (!w->first_error) {
			w->first_error = err;
			snprintf(w->first_why, sizeof(w->first_why), "%s", dnnprov_errmsg());
		}
		char why[128];
		snprintf(why, sizeof(why), "a folder that cannot be listed: %s", strerror(saved));
		tell(w, dir, DP_WALK_UNLISTABLE, why);
		return 0;
	}
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
		unsigned mode = e->d_type == DT_DIR ? S_IFDIR : e->d_type == DT_REG ? S_IFREG
			      : e->d_type == DT_LNK ? S_IFLNK : e->d_type == DT_FIFO ? S_IFIFO
			      : e->d_type == DT_CHR ? S_IFCHR : e->d_type == DT_BLK ? S_IFBLK
			      : e->d_type == DT_SOCK ? S_IFSOCK : 0;
		if (!mode && lstat(p, &st) == 0)
			mode = st.st_mode & S_IFMT;
		if (S_ISDIR(mode))
			rc = walk(w, p, depth + 1);
		else if (S_ISREG(mode))
			rc = is_segment_name(e->d_name) ? dp_path_list_add(w->list, p) : 0;
		else if (mode)
			not_segment(w, p, e->d_name, mode);
		/* mode 0: gone since readdir; a rescan tells */
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

int dp_find_segments(const char *path, dp_path_list *list, dp_walk_report report, void *ctx)
{
	walker w = { .list = list, .report = report, .ctx = ctx };
	struct stat st;
	size_t first = list->n;
	int rc;

	if (stat(path, &st) != 0)
		return dp_error_errno(errno, "cannot read %s", path);
	if (S_ISDIR(st.st_mode))
		rc = walk(&w, path, 0);
	else if (S_ISREG(st.st_mode))
		rc = dp_path_list_add(list, path);
	else
		return dp_error(DNNPROV_EINVAL, "%s is %s, not a segment file or a log folder", path,
				dp_file_kind(st.st_mode));
	if (!rc && w.first_error)
		rc = dp_error(w.first_error, "%s", w.first_why);
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
