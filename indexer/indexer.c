/*
 * indexer.c - the indexer service: one per index (a lock file), catching up
 * with the log tree and then following it.
 *
 * FOLLOWING
 *
 * inotify watches the log folder, each dataflow folder and each task folder.
 * An event on a segment marks it dirty; a new folder gets a watch and
 * triggers a rescan.  Events can be lost (IN_Q_OVERFLOW, a folder created
 * and filled before its watch exists, inotify unavailable or out of
 * watches), so a full rescan runs every rescan period anyway: it is what
 * makes the indexer correct, and inotify only what makes it prompt.
 *
 * A batch commits when it holds batch_records records or is batch_ms old,
 * so the index lags the logs by about batch_ms under load and at most that
 * after a burst.  A catch-up's batches are larger (dp_ingest's bulk).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "indexer/ingest.h"
#include "indexer/loader.h"
#include "indexer/notify.h"
#include "logger/format.h"
#include "logger/scan.h"
#include "logger/trash.h"

struct dp_indexer {
	dp_indexer_options opts;
	char *log_dir; /* without a trailing slash */
	int lock_fd;
	dp_index *ix;
	dp_ingest in;
	char *new_gen; /* rebuild: the generation folder being built */
	int ifd;       /* inotify, or -1 */
	dp_map watches; /* wd -> relative folder path (malloc'd) */
	dp_map dirty;   /* rel path -> non-NULL: segments an event named */
	bool rescan_now;
	bool swapped;  /* rebuild: the new generation is CURRENT */
	uint64_t rollbacks_seen;
	uint64_t faults;
	uint64_t overflows; /* inotify queue overflows (IN_Q_OVERFLOW) */
	dp_indexer_stats before_reopen; /* counts of the ingest states closed by recoveries */
	dev_t index_dev; /* the data file opened, to notice it deleted or replaced */
	ino_t index_ino;
	/* What the walks could not take, told once (the rule of logger/scan.h):
	 * path relative to log_dir -> the number of the last full pass that
	 * met it, so that one that clears and fails again is told again. */
	dp_map told;
	uintptr_t pass;
	uint64_t unlistable_now, unlistable; /* folders not listed: this pass, the last whole one */
	char host[256];  /* this host and boot, for the liveness of tasks */
	char boot[40];
	uint64_t lost;   /* tasks the sweeps found without a live writer */
	dp_map trash_seen; /* "<entry>/<dataflow>" -> the mtime of that trash folder when applied */
	uint64_t removed;  /* tasks dropped because they were deleted */
	bool following;    /* in dp_indexer_follow: a pass records its listing time with the next batch only */
	double last_listing; /* when the last full pass that ended began listing the logs; NaN: none */
	/* A catch-up with a progress callback: the bytes it has to read (counted
	 * at its first pass; a pass retried after the map grew reads again what
	 * the rolled-back batch had read), and has read from the segments
	 * drained so far. */
	bool reporting, counted;
	dp_work work;
	uint64_t work_drained;
};

/* Follow mode's wait after a failed batch, doubling up to the maximum. */
#define FAULT_RETRY_FIRST_MS 500
#define FAULT_RETRY_MAX_MS 30000

/* ---- the lock ------------------------------------------------------------------- */

static int take_lock(const char *index_dir, int *fd_out)
{
	char *path;
	int rc;

	if ((rc = dp_mkdirs(index_dir)))
		return rc;
	if (!(path = dp_path_join(index_dir, DP_INDEX_LOCK)))
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	rc = dp_lock_take(path, "indexer", index_dir, fd_out);
	free(path);
	return rc;
}

/* ---- generations (reindex) -------------------------------------------------------- */

static int current_generation(const char *index_dir, unsigned *n)
{
	char *cur = dp_path_join(index_dir, DP_INDEX_CURRENT);
	char target[PATH_MAX];
	ssize_t len;

	*n = 0;
	if (!cur)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	len = readlink(cur, target, sizeof(target) - 1);
	free(cur);
	if (len > 0) {
		target[len] = '\0';
		sscanf(target, "gen-%u", n);
	}
	return 0;
}

static void remove_generation(const char *dir)
{
	static const char *const files[] = { "data.mdb", "lock.mdb" };
	for (size_t i = 0; i < DP_ARRAY_LEN(files); i++) {
		char *p = dp_path_join(dir, files[i]);
		if (p)
			unlink(p); /* readers that have it mapped keep reading it */
		free(p);
	}
	rmdir(dir);
}

/* Every generation but `keep`: the one swapped out, and any a reader left
 * behind (a query opening a generation while it was being removed can
 * create its lock file again, and the folder then outlives rmdir). */
static void remove_other_generations(const char *index_dir, const char *keep)
{
	DIR *d = opendir(index_dir);
	struct dirent *e;
	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, "gen-", 4) != 0 || strcmp(e->d_name, keep) == 0)
			continue;
		char *p = dp_path_join(index_dir, e->d_name);
		if (p)
			remove_generation(p);
		free(p);
	}
	closedir(d);
}

int dp_indexer_swap(dp_indexer *x)
{
	char *cur, *tmp;
	const char *base;
	int rc = 0;

	if (!x->new_gen)
		return 0;
	size_t unread = dp_ingest_unread_count(&x->in, NULL);
	if (unread)
		return dp_error(DNNPROV_EIO, "%zu segment%s could not be read: the index in use is kept", unread,
				unread == 1 ? "" : "s");
	if (x->unlistable)
		return dp_error(DNNPROV_EIO, "%llu folder%s could not be listed: the index in use is kept",
				(unsigned long long)x->unlistable, x->unlistable == 1 ? "" : "s");
	if ((rc = dp_ingest_commit(&x->in)))
		return rc;
	base = strrchr(x->new_gen, '/');
	base = base ? base + 1 : x->new_gen;
	cur = dp_path_join(x->opts.index_dir, DP_INDEX_CURRENT);
	tmp = dp_path_join(x->opts.index_dir, DP_INDEX_CURRENT ".tmp");
	if (!cur || !tmp) {
		rc = dp_error(DNNPROV_ENOMEM, "out of memory");
		goto out;
	}
	unlink(tmp);
	if (symlink(base, tmp) != 0 || rename(tmp, cur) != 0) {
		rc = dp_error_errno(errno, "cannot point %s at %s", cur, base);
		goto out;
	}
	remove_other_generations(x->opts.index_dir, base);
	x->swapped = true;
out:
	free(cur);
	free(tmp);
	return rc;
}

/* ---- open and close ----------------------------------------------------------------- */

static int open_index(dp_indexer *x)
{
	struct stat st;
	int fd, rc;

	if ((rc = dp_index_open(x->opts.index_dir, true, x->new_gen, &x->ix)))
		return rc;
	if (x->opts.initial_map_size)
		mdb_env_set_mapsize(x->ix->env, x->opts.initial_map_size);
	if (mdb_env_get_fd(x->ix->env, &fd) == 0 && fstat(fd, &st) == 0) {
		x->index_dev = st.st_dev;
		x->index_ino = st.st_ino;
	}
	dp_ingest_init(&x->in, x->ix, &x->opts);
	x->rollbacks_seen = 0;
	return 0;
}

static void close_index(dp_indexer *x)
{
	if (x->ix) {
		x->before_reopen.records += x->in.stats.records;
		x->before_reopen.problems += x->in.stats.problems;
		x->before_reopen.commits += x->in.stats.commits;
		x->before_reopen.map_grows += x->in.stats.map_grows;
		x->before_reopen.events += x->in.stats.events;
		x->before_reopen.unqueued += x->in.stats.unqueued;
		memset(&x->in.stats, 0, sizeof(x->in.stats)); /* counted once */
		x->in.nsegs = 0;
		dp_ingest_free(&x->in);
		dp_index_close(x->ix);
		x->ix = NULL;
	}
}

/* Whether the data file opened is still the one the index folder names:
 * LMDB goes on writing into a deleted file without an error, and queries
 * would never see it. */
static int check_index_file(const dp_indexer *x)
{
	struct stat st;
	char *data = dp_path_join(x->ix->gen_dir, "data.mdb");
	int found = data ? stat(data, &st) : 0;
	int err = errno;
	free(data);
	if (!data)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	if (found != 0)
		return dp_error_errno(err, "the index file %s/data.mdb is gone", x->ix->gen_dir);
	if (st.st_dev != x->index_dev || st.st_ino != x->index_ino)
		return dp_error(DNNPROV_EIO, "the index file %s/data.mdb was replaced", x->ix->gen_dir);
	return 0;
}

static int take_lock(const char *index_dir, int *fd_out);
static int open_index(dp_indexer *x);

/* An indexer without a log folder: fed chunks by dp_indexer_apply. */
static int open_fed(const dp_indexer_options *opts, dp_indexer **out)
{
	dp_indexer *x = calloc(1, sizeof(*x));
	int rc;
	if (!x)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	x->opts = *opts;
	x->lock_fd = -1;
	x->ifd = -1;
	if (gethostname(x->host, sizeof(x->host) - 1) != 0)
		x->host[0] = '\0';
	dp_boot_id(x->boot);
	if ((rc = take_lock(opts->index_dir, &x->lock_fd)) || (rc = open_index(x))) {
		dp_indexer_close(x);
		return rc;
	}
	*out = x;
	return 0;
}

int dp_indexer_open(const dp_indexer_options *opts, dp_indexer **out)
{
	dp_indexer *x;
	int rc;

	*out = NULL;
	dp_error_clear(); /* what fails from here sets its own detail */
	if (!opts->index_dir)
		return dp_error(DNNPROV_EINVAL, "the indexer needs an index folder");
	if (!opts->log_dir)
		return open_fed(opts, out);
	x = calloc(1, sizeof(*x));
	if (!x)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	x->opts = *opts;
	x->lock_fd = -1;
	x->ifd = -1;
	x->last_listing = NAN;
	/* Absolute: the index records it for queries run from anywhere. */
	char *cwd = opts->log_dir[0] == '/' ? NULL : getcwd(NULL, 0);
	x->log_dir = cwd ? dp_path_join(cwd, opts->log_dir) : strdup(opts->log_dir);
	free(cwd);
	if (!x->log_dir) {
		free(x);
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	}
	if (gethostname(x->host, sizeof(x->host) - 1) != 0)
		x->host[0] = '\0';
	dp_boot_id(x->boot);
	size_t n = strlen(x->log_dir);
	while (n > 1 && x->log_dir[n - 1] == '/')
		x->log_dir[--n] = '\0';
	x->opts.log_dir = x->log_dir;
	if ((rc = take_lock(opts->index_dir, &x->lock_fd)))
		goto fail;
	if (opts->rebuild) {
		unsigned cur;
		char name[32];
		current_generation(opts->index_dir, &cur);
		snprintf(name, sizeof(name), "gen-%06u", cur + 1);
		x->new_gen = dp_path_join(opts->index_dir, name);
		if (!x->new_gen) {
			rc = dp_error(DNNPROV_ENOMEM, "out of memory");
			goto fail;
		}
		remove_generation(x->new_gen); /* left by a reindex that died */
		if ((rc = dp_mkdirs(x->new_gen)))
			goto fail;
	}
	if ((rc = open_index(x)))
		goto fail;
	*out = x;
	return 0;
fail:
	dp_indexer_close(x);
	return rc;
}

void dp_indexer_get_stats(const dp_indexer *x, dp_indexer_stats *out)
{
	*out = x->in.stats;
	out->records += x->before_reopen.records;
	out->problems += x->before_reopen.problems;
	out->commits += x->before_reopen.commits;
	out->events += x->before_reopen.events;
	out->unqueued += x->before_reopen.unqueued;
	out->map_grows += x->before_reopen.map_grows;
	out->segments = x->in.nsegs;
	size_t waiting;
	out->unread = dp_ingest_unread_count(&x->in, &waiting);
	out->waiting = waiting;
	out->faults = x->faults;
	out->overflows = x->overflows;
	out->unlistable = x->unlistable;
	out->lost = x->lost;
	out->removed = x->removed;
}

void dp_indexer_close(dp_indexer *x)
{
	if (!x)
		return;
	close_index(x);
	if (x->new_gen && !x->swapped)
		remove_generation(x->new_gen); /* a rebuild that failed: the old index stays */
	for (size_t i = 0; i < x->watches.cap; i++)
		free(x->watches.slots[i].value);
	dp_map_free(&x->watches);
	dp_map_free(&x->told);
	dp_map_free(&x->dirty);
	for (size_t i = 0; i < x->trash_seen.cap; i++)
		free(x->trash_seen.slots[i].value);
	dp_map_free(&x->trash_seen);
	if (x->ifd >= 0)
		close(x->ifd);
	if (x->lock_fd >= 0)
		close(x->lock_fd); /* releases the lock */
	free(x->new_gen);
	free(x->log_dir);
	free(x);
}

/* ---- scanning ---------------------------------------------------------------------- */

static const char *relative(const dp_indexer *x, const char *path)
{
	size_t n = strlen(x->log_dir);
	return strncmp(path, x->log_dir, n) == 0 && path[n] == '/' ? path + n + 1 : path;
}

/* Tells what a walk or a read could not take, once while it stays so. */
static void tell_once(dp_indexer *x, const char *rel, const char *why)
{
	void **seen = dp_map_slot(&x->told, rel, strlen(rel), true);
	uintptr_t last = seen ? (uintptr_t)*seen : 0;
	if (seen)
		*seen = (void *)(x->pass ? x->pass : 1);
	if ((!last || last + 1 < x->pass) && x->opts.skipped)
		x->opts.skipped(x->opts.report_ctx, rel, why);
}

static void walk_report(void *ctx, const char *path, dp_walk_issue issue, const char *why)
{
	dp_indexer *x = ctx;
	if (issue == DP_WALK_UNLISTABLE)
		x->unlistable_now++;
	tell_once(x, relative(x, path), why);
}

/* Tells the progress callback where a catch-up stands: `s` is being read
 * from `from`. */
static void report_progress(dp_indexer *x, const dp_seg_state *s, uint64_t from)
{
	if (!x->reporting)
		return;
	x->work.items = x->before_reopen.records + x->in.stats.records + x->in.batch_records;
	x->work.bytes = x->work_drained + (s->pending.offset > from ? s->pending.offset - from : 0);
	if (x->work.bytes > x->work.bytes_total)
		x->work.bytes = x->work.bytes_total; /* a segment grew meanwhile */
	x->opts.progress(x->opts.progress_ctx, &x->work);
}

/* Reads one segment to its end, committing whenever a batch fills: from
 * what the loader read of it (pf) when that holds the offset to read
 * from, else the file. */
static int drain_segment(dp_indexer *x, dp_seg_state *s, const dp_prefetched *pf)
{
	uint64_t from = s->pending.offset;
	bool more;
	int rc;
	do {
		if ((rc = dp_ingest_segment(&x->in, s, pf, &more)))
			return rc;
		if (more && (rc = dp_ingest_commit(&x->in)))
			return rc;
		report_progress(x, s, from);
	} while (more);
	if (s->not_file) {
		char why[96];
		snprintf(why, sizeof(why), "%s, not a segment: never read", dp_file_kind(s->not_file));
		tell_once(x, s->rel, why);
	}
	if (x->reporting)
		x->work_drained += s->pending.offset > from ? s->pending.offset - from : 0;
	return 0;
}

/* The total a catch-up's progress line counts to, from the loader's count
 * of what the segments hold past their indexed offsets: at the first pass
 * of a catch-up, its total; at a retried pass, the total less what is left
 * is what is done. */
static void count_work(dp_indexer *x, uint64_t left)
{
	if (!x->counted)
		x->work.bytes_total = left;
	x->counted = true;
	x->work_drained = x->work.bytes_total > left ? x->work.bytes_total - left : 0;
}

/* Drops the tasks of one dataflow folder of a trash entry, unless the
 * folder has not changed since they were dropped: `delete` moves its tasks
 * in one by one, each rename changing the folder's mtime, so a pass that
 * came in between looks again.  A restart looks at every folder again,
 * which finds their tasks dropped already. */
static int apply_trash_df(dp_indexer *x, const char *entry, const char *df)
{
	char key[512], *dir = NULL;
	struct stat st;
	int rc = 0;

	snprintf(key, sizeof(key), "%s/%s/%s", DP_TRASH_DIR, entry, df);
	if (!(dir = dp_path_join(x->log_dir, key)))
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	if (lstat(dir, &st) != 0) {
		free(dir); /* restored or purged meanwhile */
		return 0;
	}
	free(dir);
	void **seen = dp_map_slot(&x->trash_seen, key, strlen(key), true);
	if (!seen)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	struct timespec *at = *seen;
	if (at && at->tv_sec == st.st_mtim.tv_sec && at->tv_nsec == st.st_mtim.tv_nsec)
		return 0;
	dp_trashed *tasks = NULL;
	size_t nt = 0;
	rc = dp_trash_df_tasks(x->log_dir, entry, df, &tasks, &nt);
	for (size_t t = 0; t < nt && rc == 0; t++) {
		bool dropped;
		rc = dp_ingest_drop_task(&x->in, tasks[t].df, tasks[t].task, tasks[t].run, &dropped);
		x->removed += dropped;
	}
	dp_trash_list_free(tasks, nt);
	if (rc == 0) {
		if (!at && !(at = *seen = malloc(sizeof(*at))))
			return dp_error(DNNPROV_ENOMEM, "out of memory");
		*at = st.st_mtim;
	}
	return rc;
}

/* Drops from the index the tasks `dnnprov delete` moved to the trash since
 * the last pass. */
static int apply_trash(dp_indexer *x)
{
	char **entries = NULL;
	size_t n = 0;
	int rc = dp_trash_entries(x->log_dir, &entries, &n);

	for (size_t e = 0; e < n && rc == 0; e++) {
		char **dfs = NULL;
		size_t ndfs = 0;
		rc = dp_trash_dataflows(x->log_dir, entries[e], &dfs, &ndfs);
		for (size_t d = 0; d < ndfs && rc == 0; d++)
			rc = apply_trash_df(x, entries[e], dfs[d]);
		dp_trash_entries_free(dfs, ndfs);
	}
	dp_trash_entries_free(entries, n);
	return rc;
}

/* One item of the loader's: a segment drained, a walk's report told. */
static int take_loaded(dp_indexer *x, dp_loaded *it)
{
	if (it->kind == DP_LOAD_REPORT) {
		walk_report(x, it->path, it->issue, it->why);
		return 0;
	}
	if (it->kind == DP_LOAD_TOTAL) {
		count_work(x, it->total);
		return 0;
	}
	dp_seg_state *s = dp_ingest_segment_state(&x->in, it->path);
	return s ? drain_segment(x, s, it->read ? &it->pf : NULL) : dp_error(DNNPROV_ENOMEM, "out of memory");
}

/* A full pass: every segment listed and read to its end, the listing and
 * the reading on the loader's thread (loader.h) while this one applies. */
static int scan_step(dp_ingest *in, void *arg)
{
	dp_indexer *x = arg;
	dp_loader *ld;
	dp_loaded it;
	struct stat st;
	int rc, walk_rc = 0;

	(void)in;
	/* A catch-up that began within a tick of the last run's write would
	 * leave a listing time that queries cannot tell from a later change:
	 * each would walk the logs.  Waiting that slack out first (8 ms here,
	 * a second on a coarse filesystem) makes one of them cost a stat per
	 * dataflow.  A follower's queries ask its lock instead. */
	if (!x->following)
		dp_wait_out_changes(x->log_dir);
	double started = dp_now();
	if (stat(x->log_dir, &st) != 0) {
		if (errno == ENOENT)
			return 0; /* no logs yet: nothing to index */
		return dp_error_errno(errno, "cannot read the log folder %s", x->log_dir);
	}
	if (!S_ISDIR(st.st_mode))
		return dp_error(DNNPROV_EINVAL, "the log folder %s is %s, not a folder", x->log_dir,
				dp_file_kind(st.st_mode));
	x->pass++;
	x->unlistable_now = 0;
	dp_ingest_forget_unreadable(&x->in);
	if ((rc = dp_loader_start(&ld, x->log_dir, x->ix, &x->in.gate, x->reporting)))
		return rc;
	while (rc == 0 && dp_loader_next(ld, &it, &walk_rc)) {
		rc = take_loaded(x, &it);
		dp_loaded_free(&it);
	}
	dp_loader_stop(ld);
	/* A folder it cannot list is told and counted; the rest is indexed. */
	if (rc == 0 && walk_rc == DNNPROV_ENOMEM)
		rc = walk_rc; /* a partial list: this pass fails */
	x->unlistable = x->unlistable_now;
	if (rc == 0)
		rc = apply_trash(x);
	/* Everything listed was read: queries may trust the listing's time
	 * (query/fresh.c).  Not so when a folder or a segment could not be. */
	if (rc == 0 && !x->unlistable && dp_ingest_unread_count(&x->in, NULL) == 0) {
		x->last_listing = started;
		rc = dp_ingest_note_listing(in, started, !x->following);
	}
	return rc;
}

/* ---- liveness (docs/RUNS.md) ------------------------------------------------------- */

/* Whether the writer lock of a task's folder is held: 1 held, 0 free, -1
 * when it cannot be told (no lock file: the task was recorded elsewhere). */
static int writer_lock_held(const dp_indexer *x, const char *df, const char *task)
{
	char path[PATH_MAX];
	if (!x->log_dir)
		return -1; /* fed: the writers' locks are on their machines */
	if (snprintf(path, sizeof(path), "%s/%s/%s/.lock", x->log_dir, df, task) >= (int)sizeof(path))
		return -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return -1;
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	int rc = fcntl(fd, F_OFD_GETLK, &fl);
	close(fd);
	return rc != 0 ? -1 : fl.l_type != F_UNLCK;
}

/* A RUNNING task is alive while its writer holds the task's lock; a task
 * recorded by a shell script, while a process of the script's group lives;
 * a task whose owner is on another host (or unknown), while it records
 * something at least every lost_after seconds. */
static bool task_alive(void *ctx, const char *df, const char *task, const dp_task_fields *f)
{
	const dp_indexer *x = ctx;
	int held = writer_lock_held(x, df, task);
	if (held == 1)
		return true;
	if (held == 0 && f->owner.known && !f->owner.group)
		return false; /* the writer closed its handle, or died */
	bool here = f->owner.known && strcmp(f->owner.host, x->host) == 0 &&
		    (!f->owner.boot[0] || !x->boot[0] || strcmp(f->owner.boot, x->boot) == 0);
	if (here)
		return f->owner.group ? dp_group_alive((long)f->owner.pid, f->owner.start)
				      : dp_process_alive((long)f->owner.pid, f->owner.start);
	double lost_after = x->opts.lost_after_s ? x->opts.lost_after_s : 3600;
	return isnan(f->last) || dp_now() - f->last < lost_after;
}

static int sweep_step(dp_ingest *in, void *arg)
{
	dp_indexer *x = arg;
	size_t lost;
	int rc = dp_ingest_commit(in); /* the sweep judges what is committed */
	if (rc == 0)
		rc = dp_ingest_sweep(in, task_alive, x, &lost);
	if (rc == 0 && lost) {
		rc = dp_ingest_commit(in);
		if (rc == 0)
			x->lost += lost;
	}
	return rc;
}

int dp_indexer_sweep(dp_indexer *x)
{
	return dp_ingest_run_with_retry(&x->in, sweep_step, x);
}

/* A whole pass: every segment read to its end, then committed.  Retried
 * from the committed offsets when the map fills. */
static int scan_and_commit(dp_ingest *in, void *arg)
{
	int rc = scan_step(in, arg);
	return rc ? rc : dp_ingest_commit(in);
}

int dp_indexer_catch_up(dp_indexer *x)
{
	x->reporting = x->opts.progress != NULL;
	x->counted = false;
	x->work = (dp_work){ 0 };
	x->in.bulk = true;
	int rc = dp_ingest_run_with_retry(&x->in, scan_and_commit, x);
	x->in.bulk = false;
	x->reporting = false;
	return rc ? rc : dp_indexer_sweep(x);
}

/* ---- following ---------------------------------------------------------------------- */

static void add_watch(dp_indexer *x, const char *dir)
{
	int wd;
	void **slot;

	if (x->ifd < 0)
		return;
	wd = inotify_add_watch(x->ifd, dir, IN_CREATE | IN_MOVED_TO | IN_MODIFY | IN_CLOSE_WRITE | IN_ONLYDIR);
	if (wd < 0)
		return; /* out of watches, or gone: the rescans cover it */
	slot = dp_map_slot(&x->watches, &wd, sizeof(wd), true);
	if (slot && !*slot)
		*slot = strdup(dir);
}

/* Watches the log folder and every folder below it, two levels deep. */
static void watch_tree(dp_indexer *x, const char *dir, int depth)
{
	DIR *d;
	struct dirent *e;

	add_watch(x, dir);
	if (depth >= 2 || !(d = opendir(dir)))
		return;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char *p = dp_path_join(dir, e->d_name);
		struct stat st;
		if (p && lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
			watch_tree(x, p, depth + 1);
		free(p);
	}
	closedir(d);
}

/* Reads pending events: marks segments dirty; returns whether a rescan is
 * needed (overflow, new folders). */
static bool read_events(dp_indexer *x)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool rescan = false;

	for (;;) {
		ssize_t n = read(x->ifd, buf, sizeof(buf));
		if (n <= 0)
			break;
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;
			p += sizeof(*ev) + ev->len;
			if (ev->mask & IN_Q_OVERFLOW) {
				x->overflows++;
				rescan = true;
				continue;
			}
			void **slot = dp_map_slot(&x->watches, &ev->wd, sizeof(ev->wd), false);
			/* Dot names are no logs: a note segment being written, the
			 * trash (scan.c skips them alike). */
			if (!slot || !*slot || !ev->len || ev->name[0] == '.')
				continue;
			char *path = dp_path_join(*slot, ev->name);
			if (!path) {
				rescan = true; /* the event is lost: the rescan finds what it named */
				continue;
			}
			if (ev->mask & IN_ISDIR) {
				watch_tree(x, path, 2); /* then the rescan finds what it already holds */
				rescan = true;
			} else {
				size_t len = strlen(ev->name), sl = strlen(DP_SEGMENT_SUFFIX);
				if (len > sl && strcmp(ev->name + len - sl, DP_SEGMENT_SUFFIX) == 0) {
					const char *rel = relative(x, path);
					void **d = dp_map_slot(&x->dirty, rel, strlen(rel), true);
					if (d)
						*d = x;
					else
						rescan = true;
				}
			}
			free(path);
		}
	}
	return rescan;
}

/* One turn of the follow loop: the segments events named, a rescan when
 * one is due, and a commit when the batch is due.  When the map fills, the
 * batch is rolled back and the retry rescans everything, since segments
 * read in earlier turns of the rolled-back batch are no longer dirty. */
static int follow_step(dp_ingest *in, void *arg)
{
	dp_indexer *x = arg;
	int rc = 0;

	if (x->rollbacks_seen != in->stats.rollbacks) {
		x->rollbacks_seen = in->stats.rollbacks;
		x->rescan_now = true;
	}
	/* In name order, as a rescan would: a task's segments sort by creation
	 * time, and its first holds the begin record the others need.  A turn
	 * that rescans reads nothing before the rescan: after a rollback or a
	 * lost event, a task's later segment may be dirty while its earlier one
	 * (read in the rolled-back batch, or named by the lost event) is not, and
	 * reading the later one first would apply the task's records out of
	 * order. */
	dp_path_list names = { 0 };
	for (size_t i = 0; i < x->dirty.cap && rc == 0 && !x->rescan_now; i++) {
		dp_map_entry *e = &x->dirty.slots[i];
		char rel[PATH_MAX];
		if (!e->key)
			continue;
		snprintf(rel, sizeof(rel), "%.*s", (int)e->len, (const char *)e->key);
		rc = dp_path_list_add(&names, rel);
	}
	dp_path_list_sort(&names);
	for (size_t i = 0; i < names.n && rc == 0; i++) {
		dp_seg_state *s = dp_ingest_segment_state(in, names.paths[i]);
		rc = s ? drain_segment(x, s, NULL) : dp_error(DNNPROV_ENOMEM, "out of memory");
	}
	dp_path_list_free(&names);
	if (rc == 0 && x->rescan_now) {
		if (x->ifd >= 0)
			watch_tree(x, x->log_dir, 0); /* folders whose events were lost */
		rc = scan_step(in, x);
	}
	if (rc == 0 && dp_ingest_batch_due(in))
		rc = dp_ingest_commit(in);
	if (rc == 0)
		x->rescan_now = false;
	return rc;
}

static int stop_step(dp_ingest *in, void *arg)
{
	dp_indexer *x = arg;
	int rc = 0;
	if (x->rollbacks_seen != in->stats.rollbacks) {
		x->rollbacks_seen = in->stats.rollbacks;
		rc = scan_step(in, x);
	}
	/* Queries without an indexer running rely on the time of the last
	 * listing; the events since it were all read. */
	if (rc == 0 && !isnan(x->last_listing))
		rc = dp_ingest_note_listing(in, x->last_listing, true);
	return rc ? rc : dp_ingest_commit(in);
}

/* Errors that may pass while the service runs: a full or failing disk, a
 * read-only remount, memory pressure, the index folder deleted. */
static bool may_pass(int rc)
{
	return rc == DNNPROV_EIO || rc == DNNPROV_ENOSPC || rc == DNNPROV_ENOMEM;
}

/* Sleeps up to ms, in slices, returning early when asked to stop. */
static void pause_ms(const dp_indexer *x, unsigned ms)
{
	for (unsigned slept = 0; slept < ms && !(x->opts.stop && *x->opts.stop); slept += 50)
		poll(NULL, 0, 50);
}

static bool lock_file_is_ours(const dp_indexer *x)
{
	struct stat held, named;
	char *path = dp_path_join(x->opts.index_dir, DP_INDEX_LOCK);
	bool ours = path && x->lock_fd >= 0 && fstat(x->lock_fd, &held) == 0 && stat(path, &named) == 0 &&
		    held.st_dev == named.st_dev && held.st_ino == named.st_ino;
	free(path);
	return ours;
}

static int reopen(dp_indexer *x)
{
	int rc;
	if (x->lock_fd < 0 && (rc = take_lock(x->opts.index_dir, &x->lock_fd)))
		return rc;
	return open_index(x);
}

/* After a failed batch: reports it, waits, and reopens the index (its lock
 * included, since a deleted folder took the lock file with it).  The
 * rolled-back batch is read again from the committed offsets, so nothing
 * is lost or indexed twice.  Returns 0 to go on, or an error that will not
 * pass (another indexer took the index meanwhile). */
static int recover(dp_indexer *x, unsigned *retry_ms)
{
	x->faults++;
	if (x->opts.fault)
		x->opts.fault(x->opts.report_ctx, dnnprov_errmsg(), *retry_ms);
	close_index(x);
	if (!lock_file_is_ours(x)) {
		/* The folder was deleted with its lock file: another indexer could
		 * lock a new one.  Taken again on the reopen. */
		close(x->lock_fd);
		x->lock_fd = -1;
	}
	pause_ms(x, *retry_ms);
	*retry_ms = *retry_ms * 2 > FAULT_RETRY_MAX_MS ? FAULT_RETRY_MAX_MS : *retry_ms * 2;
	if (x->opts.stop && *x->opts.stop)
		return 0; /* stopping: nothing to reopen for */
	return reopen(x);
}

int dp_indexer_follow(dp_indexer *x)
{
	uint32_t rescan_ms = x->opts.rescan_ms ? x->opts.rescan_ms : 1000;
	unsigned retry_ms = FAULT_RETRY_FIRST_MS;
	bool caught_up = false;
	double next_rescan = 0;
	int rc;

	dp_mkdirs(x->log_dir); /* so that it can be watched before the first writer */
	x->following = true;
	if (!x->opts.no_inotify) {
		x->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (x->ifd >= 0)
			watch_tree(x, x->log_dir, 0);
	}
	while (!(x->opts.stop && *x->opts.stop)) {
		if (!x->ix) {
			rc = reopen(x); /* a recovery whose reopen failed */
		} else if (!caught_up) {
			/* At start and after a recovery: everything on disk, then one
			 * commit. */
			rc = dp_indexer_catch_up(x);
			caught_up = rc == 0;
			next_rescan = dp_monotonic() + rescan_ms / 1000.0;
		} else {
			double now = dp_monotonic();
			double wait = next_rescan - now;
			if (x->in.txn) {
				double due = x->in.batch_started + x->opts.batch_ms / 1000.0 - now;
				if (due < wait)
					wait = due;
			}
			int timeout = wait <= 0 ? 0 : (int)(wait * 1000.0) + 1;
			struct pollfd pfd = { x->ifd, POLLIN, 0 };
			int n = x->ifd >= 0 ? poll(&pfd, 1, timeout) : poll(NULL, 0, timeout);
			if (n < 0 && errno != EINTR)
				return dp_error_errno(errno, "poll");
			if (n > 0 && read_events(x))
				x->rescan_now = true;
			if (dp_monotonic() >= next_rescan)
				x->rescan_now = true;
			bool rescanned = x->rescan_now;
			rc = rescanned ? check_index_file(x) : 0;
			if (rc == 0)
				rc = dp_ingest_run_with_retry(&x->in, follow_step, x);
			dp_map_clear(&x->dirty);
			if (rc == 0 && x->opts.notifier)
				rc = dp_ingest_notify(&x->in, NULL);
			if (rc == 0 && rescanned) {
				int dead;
				mdb_reader_check(x->ix->env, &dead); /* slots of queries that crashed */
				rc = dp_indexer_sweep(x); /* tasks whose writers died */
				next_rescan = dp_monotonic() + rescan_ms / 1000.0;
			}
		}
		if (rc == 0) {
			if (x->in.txn == NULL)
				retry_ms = FAULT_RETRY_FIRST_MS; /* a commit went through */
			continue;
		}
		if (!may_pass(rc) || (x->opts.stop && *x->opts.stop))
			return rc;
		caught_up = false;
		if ((rc = recover(x, &retry_ms)) && !may_pass(rc))
			return rc;
	}
	if (!x->ix)
		return 0; /* stopped while recovering: everything committed is safe */
	/* Stopping: what is read is committed (a full map rereads it all), and
	 * the tasks whose writers died since the last sweep are told. */
	x->rescan_now = false;
	rc = dp_ingest_run_with_retry(&x->in, stop_step, x);
	return rc ? rc : dp_indexer_sweep(x);
}

/* ---- fed from elsewhere (ship/) ------------------------------------------------------ */

typedef struct apply_args {
	const dp_chunk *chunks;
	size_t n;
	dp_chunk_outcome *outcome;
	char (*why)[DP_CHUNK_WHY];
	const char *meta_key;
	const void *meta_value;
	size_t meta_len;
} apply_args;

/* The whole set or nothing: a retry after the map grew applies it all
 * again from the committed offsets. */
static int apply_step(dp_ingest *in, void *arg)
{
	apply_args *a = arg;
	int rc = 0;
	for (size_t i = 0; i < a->n && rc == 0; i++) {
		a->why[i][0] = '\0';
		rc = dp_ingest_chunk(in, &a->chunks[i], &a->outcome[i], a->why[i], DP_CHUNK_WHY);
	}
	if (rc == 0 && a->meta_key)
		rc = dp_ingest_put_meta(in, a->meta_key, a->meta_value, a->meta_len);
	return rc ? rc : dp_ingest_commit(in);
}

int dp_indexer_apply(dp_indexer *x, const dp_chunk *chunks, size_t n, dp_chunk_outcome *outcome,
		     char (*why)[DP_CHUNK_WHY], const char *meta_key, const void *meta_value, size_t meta_len)
{
	apply_args a = { chunks, n, outcome, why, meta_key, meta_value, meta_len };
	if (x->log_dir)
		return dp_error(DNNPROV_EINVAL, "an indexer of a log folder is not fed");
	if (!x->ix)
		return dp_error(DNNPROV_EIO, "the index is not open (a recovery failed)");
	return dp_ingest_run_with_retry(&x->in, apply_step, &a);
}

int dp_indexer_get_meta(dp_indexer *x, const char *key, void *out, size_t cap, size_t *len)
{
	MDB_txn *txn;
	MDB_val k = { strlen(key), (void *)key }, v;
	int rc = dp_index_read(x->ix, &txn);
	if (rc)
		return rc;
	int mrc = mdb_get(txn, x->ix->dbi[DP_DB_META], &k, &v);
	if (mrc == 0) {
		*len = v.mv_size;
		memcpy(out, v.mv_data, v.mv_size < cap ? v.mv_size : cap);
	}
	mdb_txn_abort(txn);
	if (mrc == MDB_NOTFOUND)
		return dp_error(DNNPROV_ENOTFOUND, "no %s in the index", key);
	return mrc ? dp_lmdb_error(mrc, "meta") : 0;
}

bool dp_indexer_may_pass(int rc)
{
	return may_pass(rc);
}

int dp_indexer_recover(dp_indexer *x, unsigned *retry_ms)
{
	return recover(x, retry_ms);
}

/* ---- notifications ------------------------------------------------------------------------- */

static int notify_step(dp_ingest *in, void *arg)
{
	uint64_t *waiting = arg;
	int rc = dp_ingest_notify(in, waiting);
	return rc ? rc : dp_ingest_commit(in);
}

int dp_indexer_notify_drain(dp_indexer *x, double wait_s, uint64_t *waiting)
{
	uint64_t delivered, failed, failed_before;
	double until = dp_monotonic() + wait_s;
	int rc;

	*waiting = 0;
	if (!x->ix || !x->opts.notifier)
		return 0;
	dp_notifier_counts(x->opts.notifier, &delivered, &failed_before);
	for (;;) {
		if ((rc = dp_ingest_run_with_retry(&x->in, notify_step, waiting)))
			return rc;
		dp_notifier_counts(x->opts.notifier, &delivered, &failed);
		bool idle = dp_notifier_idle(x->opts.notifier);
		if ((*waiting == 0 && idle) || failed != failed_before || dp_monotonic() >= until ||
		    (x->opts.stop && *x->opts.stop))
			break;
		poll(NULL, 0, 20);
	}
	/* The last deliveries' deletions. */
	rc = dp_ingest_run_with_retry(&x->in, notify_step, waiting);
	return rc;
}

int dp_indexer_tick(dp_indexer *x)
{
	if (!x->ix || !x->opts.notifier)
		return 0;
	int rc = dp_ingest_notify(&x->in, NULL);
	if (rc == 0 && dp_ingest_batch_due(&x->in))
		rc = dp_ingest_commit(&x->in);
	return rc;
}
