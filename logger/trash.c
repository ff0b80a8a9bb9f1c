/*
 * trash.c - removing and restoring runs (see trash.h).
 *
 * A move is one rename(2) of the task's folder, made while holding the
 * task's writer lock: no writer is appending, and none can start on the
 * folder being moved (a writer that opens the task afterwards creates a
 * new folder: a new run).  The folders that a rename changes are synced,
 * so a deletion survives a crash once it has returned.
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "logger/format.h"
#include "logger/reader.h"
#include "logger/scan.h"
#include "logger/trash.h"
#include "logger/writer.h"

static void sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		if (fsync(fd) != 0) { /* the rename is done; durability is best effort */ }
		close(fd);
	}
}

static char *join3(const char *a, const char *b, const char *c)
{
	char *ab = dp_path_join(a, b), *abc = ab ? dp_path_join(ab, c) : NULL;
	free(ab);
	return abc;
}

/* The run a task folder's segments name (the first header that names
 * one), or "" when none does. */
static void dp_folder_run(const char *dir, char run[65])
{
	dp_path_list segs = { 0 };

	run[0] = '\0';
	if (dp_find_segments(dir, &segs, NULL, NULL) == 0) {
		for (size_t i = 0; i < segs.n && !run[0]; i++) {
			dp_segment_header hdr;
			dp_reader *r = NULL;
			if (dp_reader_open(segs.paths[i], 0, &r, &hdr) == 0 && hdr.valid)
				snprintf(run, 65, "%s", hdr.run);
			dp_reader_close(r);
		}
	}
	dp_path_list_free(&segs);
	dp_error_clear();
}

/* "<UTC time>-<host>-<pid>", the name of a new trash entry. */
static void entry_name(char *out, size_t cap)
{
	char host[65] = "", clean[65], stamp[32];
	time_t now = time(NULL);
	struct tm tm;

	if (gethostname(host, sizeof(host) - 1) != 0 || !host[0])
		strcpy(host, "localhost");
	dp_sanitize_host(clean, sizeof(clean), host);
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(out, cap, "%s-%s-%ld", stamp, clean, (long)getpid());
}

static int move_task(const char *log_dir, const char *df, const char *task, const char *dest_df)
{
	char *src = join3(log_dir, df, task), *dst = dp_path_join(dest_df, task), *src_df = NULL;
	struct stat st;
	int fd = -1, rc;

	if (!src || !dst) {
		rc = dp_error(DNNPROV_ENOMEM, "out of memory");
		goto out;
	}
	if (lstat(src, &st) != 0 || !S_ISDIR(st.st_mode)) {
		rc = dp_error(DNNPROV_ENOTFOUND, "dataflow '%s' has no task '%s' in %s", df, task, log_dir);
		goto out;
	}
	if ((rc = dp_task_lock(src, df, task, &fd)))
		goto out;
	if (rename(src, dst) != 0) {
		rc = dp_error_errno(errno, "cannot move %s to %s", src, dst);
		goto out;
	}
	src_df = dp_path_join(log_dir, df);
	if (src_df)
		sync_dir(src_df);
	sync_dir(dest_df);
out:
	if (fd >= 0)
		close(fd); /* the lock goes with it */
	free(src_df);
	free(src);
	free(dst);
	return rc;
}

int dp_trash_tasks(const char *log_dir, const char *df, const char *const *tasks, size_t n, size_t *moved)
{
	char name[160];
	char *trash = dp_path_join(log_dir, DP_TRASH_DIR), *dest = NULL;
	int rc = 0;

	*moved = 0;
	for (size_t i = 0; i < n; i++)
		if ((rc = dp_check_tag("task id", tasks[i])))
			goto out;
	entry_name(name, sizeof(name));
	if (!trash || !(dest = join3(trash, name, df))) {
		rc = dp_error(DNNPROV_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = dp_mkdirs(dest)))
		goto out;
	sync_dir(trash);
	for (size_t i = 0; i < n && rc == 0; i++) {
		if ((rc = move_task(log_dir, df, tasks[i], dest)) == 0)
			(*moved)++;
	}
	if (*moved == 0) { /* leave no empty entry behind */
		char *entry = dp_path_join(trash, name);
		rmdir(dest);
		if (entry)
			rmdir(entry);
		free(entry);
	}
out:
	free(dest);
	free(trash);
	return rc;
}

static double entry_time(const char *entry)
{
	struct tm tm = { 0 };
	const char *end = strptime(entry, "%Y%m%dT%H%M%SZ", &tm);
	return end && *end == '-' ? (double)timegm(&tm) : NAN;
}

static int add_trashed(dp_trashed **list, size_t *n, const char *entry, const char *df, const char *task,
		       const char *dir)
{
	dp_trashed *grown = realloc(*list, (*n + 1) * sizeof(*grown));
	if (!grown)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	*list = grown;
	dp_trashed *t = &grown[*n];
	memset(t, 0, sizeof(*t));
	t->entry = strdup(entry);
	t->df = strdup(df);
	t->task = strdup(task);
	if (!t->entry || !t->df || !t->task) {
		free(t->entry);
		free(t->df);
		free(t->task);
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	}
	t->deleted = entry_time(entry);
	dp_folder_run(dir, t->run);
	(*n)++;
	return 0;
}

/* The names of the folders in dir, sorted; none when dir is missing. */
static int subfolders(const char *dir, char ***out, size_t *n)
{
	struct dirent **names = NULL;
	int count = scandir(dir, &names, NULL, alphasort);

	*out = NULL;
	*n = 0;
	if (count < 0)
		return errno == ENOENT ? 0 : dp_error_errno(errno, "cannot read %s", dir);
	int rc = 0;
	char **list = calloc((size_t)count + 1, sizeof(*list));
	if (!list)
		rc = dp_error(DNNPROV_ENOMEM, "out of memory");
	for (int i = 0; i < count; i++) {
		const char *nm = names[i]->d_name;
		char *p = rc ? NULL : dp_path_join(dir, nm);
		struct stat st;
		if (!rc && nm[0] != '.' && p && lstat(p, &st) == 0 && S_ISDIR(st.st_mode) &&
		    !(list[*n] = strdup(nm)))
			rc = dp_error(DNNPROV_ENOMEM, "out of memory");
		else if (!rc && list[*n])
			(*n)++;
		free(p);
		free(names[i]);
	}
	free(names);
	if (rc) {
		for (size_t i = 0; i < *n; i++)
			free(list[i]);
		free(list);
		*n = 0;
		return rc;
	}
	*out = list;
	return 0;
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int dp_trash_entries(const char *log_dir, char ***names, size_t *n)
{
	char *trash = dp_path_join(log_dir, DP_TRASH_DIR);
	int rc = trash ? subfolders(trash, names, n) : dp_error(DNNPROV_ENOMEM, "out of memory");
	free(trash);
	return rc;
}

void dp_trash_entries_free(char **names, size_t n)
{
	free_names(names, n);
}

int dp_trash_dataflows(const char *log_dir, const char *entry, char ***names, size_t *n)
{
	char *edir = join3(log_dir, DP_TRASH_DIR, entry);
	int rc = edir ? subfolders(edir, names, n) : dp_error(DNNPROV_ENOMEM, "out of memory");
	free(edir);
	return rc;
}

/* Appends the tasks of one dataflow of one trash entry to *out. */
static int df_tasks(const char *log_dir, const char *entry, const char *df, dp_trashed **out, size_t *n)
{
	char *edir = join3(log_dir, DP_TRASH_DIR, entry), *ddir = edir ? dp_path_join(edir, df) : NULL;
	char **tasks = NULL;
	size_t ntasks = 0;
	int rc = ddir ? subfolders(ddir, &tasks, &ntasks) : dp_error(DNNPROV_ENOMEM, "out of memory");
	for (size_t t = 0; t < ntasks && rc == 0; t++) {
		char *tdir = dp_path_join(ddir, tasks[t]);
		rc = tdir ? add_trashed(out, n, entry, df, tasks[t], tdir) : dp_error(DNNPROV_ENOMEM, "out of memory");
		free(tdir);
	}
	free_names(tasks, ntasks);
	free(ddir);
	free(edir);
	return rc;
}

static int entry_tasks(const char *log_dir, const char *entry, dp_trashed **out, size_t *n)
{
	char **dfs = NULL;
	size_t ndfs = 0;
	int rc = dp_trash_dataflows(log_dir, entry, &dfs, &ndfs);
	for (size_t d = 0; d < ndfs && rc == 0; d++)
		rc = df_tasks(log_dir, entry, dfs[d], out, n);
	free_names(dfs, ndfs);
	return rc;
}

int dp_trash_df_tasks(const char *log_dir, const char *entry, const char *df, dp_trashed **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	int rc = df_tasks(log_dir, entry, df, out, n);
	if (rc) {
		dp_trash_list_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

int dp_trash_list(const char *log_dir, dp_trashed **out, size_t *n)
{
	char **entries = NULL;
	size_t nentries = 0;
	int rc;

	*out = NULL;
	*n = 0;
	rc = dp_trash_entries(log_dir, &entries, &nentries);
	/* Entry names start with the deletion time: sorted, oldest first. */
	for (size_t e = 0; e < nentries && rc == 0; e++)
		rc = entry_tasks(log_dir, entries[e], out, n);
	free_names(entries, nentries);
	if (rc) {
		dp_trash_list_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

void dp_trash_list_free(dp_trashed *list, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(list[i].entry);
		free(list[i].df);
		free(list[i].task);
	}
	free(list);
}

/* Removes the entry's folders that its last task left empty. */
static void prune_entry(const char *log_dir, const char *entry, const char *df)
{
	char *edir = join3(log_dir, DP_TRASH_DIR, entry), *ddir = edir ? dp_path_join(edir, df) : NULL;
	if (ddir && rmdir(ddir) == 0)
		rmdir(edir);
	free(ddir);
	free(edir);
}

int dp_trash_restore(const char *log_dir, const char *df, const char *task)
{
	dp_trashed *list;
	size_t n;
	char *src = NULL, *dst = NULL, *df_dir = NULL;
	struct stat st;
	int rc;

	if ((rc = dp_check_tag("task id", task)) || (rc = dp_trash_list(log_dir, &list, &n)))
		return rc;
	const dp_trashed *found = NULL;
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i].df, df) == 0 && strcmp(list[i].task, task) == 0)
			found = &list[i]; /* the latest deletion wins */
	if (!found) {
		rc = dp_error(DNNPROV_ENOTFOUND, "the trash of %s has no task '%s' of dataflow '%s'", log_dir, task,
			      df);
		goto out;
	}
	char *entry_dir = join3(log_dir, DP_TRASH_DIR, found->entry);
	src = entry_dir ? join3(entry_dir, df, task) : NULL;
	free(entry_dir);
	df_dir = dp_path_join(log_dir, df);
	dst = df_dir ? dp_path_join(df_dir, task) : NULL;
	if (!src || !dst) {
		rc = dp_error(DNNPROV_ENOMEM, "out of memory");
		goto out;
	}
	if (lstat(dst, &st) == 0) {
		rc = dp_error(DNNPROV_ESTATE,
			      "dataflow '%s' has a task '%s' in %s again (a new run took the id): delete "
			      "or rename it first",
			      df, task, log_dir);
		goto out;
	}
	if ((rc = dp_mkdirs(df_dir)))
		goto out;
	if (rename(src, dst) != 0) {
		rc = dp_error_errno(errno, "cannot move %s back to %s", src, dst);
		goto out;
	}
	sync_dir(df_dir);
	prune_entry(log_dir, found->entry, df);
out:
	free(src);
	free(dst);
	free(df_dir);
	dp_trash_list_free(list, n);
	return rc;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

int dp_trash_purge(const char *log_dir, double older_than, size_t *removed)
{
	char *trash = dp_path_join(log_dir, DP_TRASH_DIR);
	dp_trashed *list = NULL;
	size_t n = 0;
	double now = (double)time(NULL);
	int rc;

	*removed = 0;
	if (!trash)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	if ((rc = dp_trash_list(log_dir, &list, &n)))
		goto out;
	for (size_t i = 0; i < n && rc == 0; i++) {
		bool old = older_than <= 0 || (!isnan(list[i].deleted) && now - list[i].deleted > older_than);
		if (!old)
			continue;
		char *dir = join3(trash, list[i].entry, list[i].df), *tdir = dir ? dp_path_join(dir, list[i].task) : NULL;
		if (!tdir)
			rc = dp_error(DNNPROV_ENOMEM, "out of memory");
		else if (nftw(tdir, remove_one, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT)
			rc = dp_error_errno(errno, "cannot remove %s", tdir);
		else {
			(*removed)++;
			prune_entry(log_dir, list[i].entry, list[i].df);
		}
		free(tdir);
		free(dir);
	}
	if (*removed)
		sync_dir(trash);
out:
	dp_trash_list_free(list, n);
	free(trash);
	return rc;
}
