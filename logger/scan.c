/*
 * scan.c - finding segment files (see scan.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

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
	dp_walk_visit visit;
	void *visit_ctx;
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
static void not_segment(walker *w, int dirfd, const char *path, const char *name, unsigned mode)
{
	char why[96];
	struct stat target;
	if (S_ISLNK(mode) && !is_segment_name(name)) {
		/* stat() follows the link without opening what it names. */
		if (fstatat(dirfd, name, &target, 0) != 0 || !S_ISDIR(target.st_mode))
			return;
		tell(w, path, DP_WALK_NOT_SEGMENT, "a symbolic link to a folder: not followed");
		return;
	}
	if (!is_segment_name(name))
		return;
	snprintf(why, sizeof(why), "%s, not a segment: never read", dp_file_kind(mode));
	tell(w, path, DP_WALK_NOT_SEGMENT, why);
}

/* 0 a version 1 name, 1 a version 2 name, 2 a note segment's. */
static int name_class(const char *name)
{
	if (dp_segment_name_is_note(name))
		return 2;
	return dp_segment_name_sequence(name) != 0;
}

/* Segments of one folder in their causal order (dp_segment_path_cmp). */
static int cmp_segment_names(const void *a, const void *b)
{
	const char *na = *(char *const *)a, *nb = *(char *const *)b;
	int ca = name_class(na), cb = name_class(nb);
	return ca != cb ? (ca < cb ? -1 : 1) : strcmp(na, nb);
}

/* Folders as their paths sort: a name ends where a path goes on with '/',
 * so "bench-x" comes before "bench" ('-' before '/'), as their segments'
 * paths do. */
static int cmp_folder_names(const void *a, const void *b)
{
	const unsigned char *x = *(unsigned char *const *)a, *y = *(unsigned char *const *)b;
	for (;; x++, y++) {
		unsigned cx = *x ? *x : '/', cy = *y ? *y : '/';
		if (cx != cy)
			return cx < cy ? -1 : 1;
		if (!*x || !*y)
			return (*x != 0) - (*y != 0);
	}
}

typedef struct names {
	char **v;
	size_t n, cap;
} names;

static int names_add(names *l, const char *name)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		char **grown = realloc(l->v, cap * sizeof(*grown));
		if (!grown)
			return dp_error(DNNPROV_ENOMEM, "out of memory");
		l->v = grown;
		l->cap = cap;
	}
	if (!(l->v[l->n] = strdup(name)))
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	l->n++;
	return 0;
}

static void names_free(names *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

/* Lists the folder `dir` (open as fd, which this call closes): its
 * segments, visited in their order, then its folders, walked in theirs.
 * Each folder is opened relative to its parent, so no path is looked up
 * again from the top for every one of a million runs. */
static int walk(walker *w, int fd, const char *dir, int depth)
{
	names segs = { 0 }, dirs = { 0 };
	struct dirent *e;
	int rc = 0;

	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return dp_error_errno(errno, "cannot list the folder %s", dir);
	}
	while (rc == 0 && (e = readdir(d)) != NULL) {
		struct stat st;
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		/* Deleted runs are not logs (trash.h). */
		if (depth == 0 && strcmp(e->d_name, DP_TRASH_DIR) == 0)
			continue;
		/* readdir says what most entries are; lstat only when it cannot
		 * (a rescan of thousands of segments pays one call less each). */
		unsigned mode = e->d_type == DT_DIR ? S_IFDIR : e->d_type == DT_REG ? S_IFREG
			      : e->d_type == DT_LNK ? S_IFLNK : e->d_type == DT_FIFO ? S_IFIFO
			      : e->d_type == DT_CHR ? S_IFCHR : e->d_type == DT_BLK ? S_IFBLK
			      : e->d_type == DT_SOCK ? S_IFSOCK : 0;
		if (!mode && fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
			mode = st.st_mode & S_IFMT;
		if (S_ISDIR(mode)) {
			rc = depth < MAX_DEPTH ? names_add(&dirs, e->d_name) : 0;
		} else if (S_ISREG(mode)) {
			rc = is_segment_name(e->d_name) ? names_add(&segs, e->d_name) : 0;
		} else if (mode) {
			char *p = dp_path_join(dir, e->d_name);
			if (!p)
				rc = dp_error(DNNPROV_ENOMEM, "out of memory");
			else
				not_segment(w, dirfd(d), p, e->d_name, mode);
			free(p);
		}
		/* mode 0: gone since readdir; a rescan tells */
	}
	if (segs.n > 1)
		qsort(segs.v, segs.n, sizeof(char *), cmp_segment_names);
	for (size_t i = 0; i < segs.n && rc == 0; i++) {
		char *p = dp_path_join(dir, segs.v[i]);
		rc = p ? w->visit(w->visit_ctx, dirfd(d), segs.v[i], p) : dp_error(DNNPROV_ENOMEM, "out of memory");
		free(p);
	}
	names_free(&segs);
	if (dirs.n > 1)
		qsort(dirs.v, dirs.n, sizeof(char *), cmp_folder_names);
	for (size_t i = 0; i < dirs.n && rc == 0; i++) {
		char *p = dp_path_join(dir, dirs.v[i]);
		if (!p) {
			rc = dp_error(DNNPROV_ENOMEM, "out of memory");
			break;
		}
		int sub = openat(dirfd(d), dirs.v[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0) {
			/* Told, and the walk goes on: one unreadable folder (a user's
			 * umask 077 in a shared log folder) must not hide the others. */
			int saved = errno;
			int err = dp_error_errno(saved, "cannot list the folder %s", p);
			if (err == DNNPROV_ENOMEM) {
				rc = err;
			} else if (saved != ENOENT) { /* gone since readdir: a rescan tells */
				if (!w->first_error) {
					w->first_error = err;
					snprintf(w->first_why, sizeof(w->first_why), "%s", dnnprov_errmsg());
				}
				char why[128];
				snprintf(why, sizeof(why), "a folder that cannot be listed: %s", strerror(saved));
				tell(w, p, DP_WALK_UNLISTABLE, why);
			}
		} else {
			rc = walk(w, sub, p, depth + 1);
		}
		free(p);
	}
	names_free(&dirs);
	closedir(d);
	return rc;
}

int dp_walk_segments(const char *path, dp_walk_visit visit, void *visit_ctx, dp_walk_report report, void *ctx)
{
	walker w = { .visit = visit, .visit_ctx = visit_ctx, .report = report, .ctx = ctx };
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		int saved = errno;
		int err = dp_error_errno(saved, "cannot list the folder %s", path);
		if (err == DNNPROV_ENOMEM)
			return err;
		char msg[512], why[128];
		snprintf(msg, sizeof(msg), "%s", dnnprov_errmsg());
		snprintf(why, sizeof(why), "a folder that cannot be listed: %s", strerror(saved));
		tell(&w, path, DP_WALK_UNLISTABLE, why);
		return dp_error(err, "%s", msg);
	}
	int rc = walk(&w, fd, path, 0);
	if (!rc && w.first_error)
		rc = dp_error(w.first_error, "%s", w.first_why);
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

static int collect(void *ctx, int dirfd, const char *name, const char *path)
{
	(void)dirfd;
	(void)name;
	return dp_path_list_add(ctx, path);
}

int dp_find_segments(const char *path, dp_path_list *list, dp_walk_report report, void *ctx)
{
	struct stat st;
	size_t first = list->n;
	int rc;

	if (stat(path, &st) != 0)
		return dp_error_errno(errno, "cannot read %s", path);
	if (S_ISDIR(st.st_mode))
		rc = dp_walk_segments(path, collect, list, report, ctx);
	else if (S_ISREG(st.st_mode))
		rc = dp_path_list_add(list, path);
	else
		return dp_error(DNNPROV_EINVAL, "%s is %s, not a segment file or a log folder", path,
				dp_file_kind(st.st_mode));
	/* Sorted even after an error: `cat` and `check` go on with the
	 * folders they could read (and exit 1); the caller frees the list.
	 * The walk's order is this one for <dataflow>/<task>/ folders; deeper
	 * folders, which hold no run, may interleave otherwise. */
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

/* ---- the time of a change --------------------------------------------------------- */

/* Local filesystems whose file times are the kernel's clock to the
 * nanosecond (statfs's f_type). */
static bool fine_times(const char *path, const struct stat *st)
{
	static const unsigned long local[] = {
		0xEF53,     /* ext2, ext3, ext4 */
		0x58465342, /* XFS */
		0x9123683E, /* Btrfs */
		0xF2F52010, /* F2FS */
		0x01021994, /* tmpfs */
		0x794C7630, /* overlayfs */
	};
	struct statfs fs;
	if (st->st_mtim.tv_nsec == 0 || statfs(path, &fs) != 0)
		return false; /* whole seconds, or unknown */
	for (size_t i = 0; i < DP_ARRAY_LEN(local); i++)
		if ((unsigned long)fs.f_type == local[i])
			return true;
	return false;
}

double dp_change_slack(const char *path, const struct stat *st)
{
	struct timespec tick;
	if (!fine_times(path, st) || clock_getres(CLOCK_REALTIME_COARSE, &tick) != 0)
		return 1.0;
	double two = 2 * ((double)tick.tv_sec + tick.tv_nsec / 1e9);
	return two < 0.001 ? 0.001 : two > 1.0 ? 1.0 : two;
}

void dp_wait_out_changes(const char *log_dir)
{
	DIR *d = opendir(log_dir);
	struct dirent *e;
	double until = 0;

	if (!d)
		return; /* the listing says why */
	while ((e = readdir(d)) != NULL) {
		char path[4096];
		struct stat st;
		if (e->d_name[0] == '.' ||
		    snprintf(path, sizeof(path), "%s/%s", log_dir, e->d_name) >= (int)sizeof(path) ||
		    lstat(path, &st) != 0 || !S_ISDIR(st.st_mode))
			continue;
		double changed = (double)st.st_mtim.tv_sec + st.st_mtim.tv_nsec / 1e9 + dp_change_slack(path, &st);
		if (changed > until)
			until = changed;
	}
	closedir(d);
	/* A clock set back, or a folder dated in the future, is not waited
	 * for: the slack is at most a second. */
	for (double now = dp_now(); now < until && until - now <= 1.0; now = dp_now()) {
		double left = until - now;
		long ns = (long)((left - floor(left)) * 1e9) + 1;
		struct timespec ts = { (time_t)left, ns > 999999999 ? 999999999 : ns };
		nanosleep(&ts, NULL);
	}
}
