/*
 * fresh.c - how far behind its logs the index that answers a query is
 * (docs/RUNS.md, "Freshness").
 *
 * An indexer that follows the logs keeps the index within a batch of them;
 * whether one runs is a question to the lock it holds (F_OFD_GETLK, which
 * takes nothing).  When none runs, what can have changed since the index
 * was last brought up to date is looked at, and no more:
 *
 * - New segments.  Every process that creates a segment touches its
 *   dataflow folder afterwards (dp_touch_dataflow_folder), and the indexer
 *   records in meta when its last complete pass began listing the logs
 *   (`listed_at`).  A dataflow folder changed since then (or an index that
 *   does not say) has its logs walked: each segment's size compared with
 *   what the index read of it.
 * - Growing segments.  Otherwise only the segments that can still grow are
 *   looked at: those not read to their seal of the tasks the index has as
 *   RUNNING (the `running` database), a stat each.
 *
 * So a question about 100,000 finished runs costs a stat per dataflow, not
 * a walk of 100,000 folders.
 *
 * The slack.  A folder touched after the listing began can show a time a
 * little before it: the kernel stamps files with its coarse clock
 * (CLOCK_REALTIME_COARSE), which lags the real one by up to its
 * resolution, a tick (4 ms here).  On a local filesystem that keeps
 * nanoseconds (ext4, XFS, Btrfs, F2FS, tmpfs, overlayfs) two ticks cover
 * it; anywhere else (a filesystem of whole seconds, whose times have no
 * fraction, or a network one, whose times come from another machine's
 * clock) a second does.  The fine slack is what makes a query after a
 * catch-up of logs written just before it cheap: with a second, every
 * query walked the logs when their last run was written within the second
 * before the catch-up began listing them (the usual end of a sweep).
 * A pass that is not following also waits, before it starts listing,
 * until the dataflow folders' last changes are a slack in the past
 * (dp_wait_out_changes): a catch-up right after the last run was written
 * would otherwise leave a time no query can tell from a change after it,
 * and every query would walk the logs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "logger/decode.h"
#include "logger/scan.h"
#include "query/query.h"

/* Whether an indexer holds the index's lock, and its pid. */
static bool indexer_running(const char *index_dir, long *pid)
{
	char path[4096];
	*pid = 0;
	if (snprintf(path, sizeof(path), "%s/%s", index_dir, DP_INDEX_LOCK) >= (int)sizeof(path))
		return false;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	bool held = fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
	char buf[32];
	ssize_t n = held ? pread(fd, buf, sizeof(buf) - 1, 0) : 0;
	if (n > 0) {
		buf[n] = '\0';
		*pid = strtol(buf, NULL, 10);
	}
	close(fd);
	return held;
}

/* What "behind" means, for answers and for `dnnprov index --status`: the
bytes of a segment of `size` bytes the index has not read.  A torn tail
that never grows (the size the index last saw) is waited for, not
behind. */
static uint64_t behind(const dp_progress *p, uint64_t size)
{
	uint64_t read = !p ? 0 : p->size_seen == size ? size : p->offset;
	return size > read ? size - read : 0;
}

static bool meta_string(dp_query *q, const char *key, char *out, size_t cap)
{
	MDB_val k = { strlen(key), (void *)key }, v;
	if (!dp_query_get(q, DP_DB_META, &k, &v) || v.mv_size >= cap)
		return false;
	memcpy(out, v.mv_data, v.mv_size);
	out[v.mv_size] = '\0';
	return true;
}

/* Bytes of the logs under log_dir[/df[/task]] the index has not read yet. */
static int walk_logs(dp_query *q, const char *log_dir, const char *df, const char *task, dp_freshness *f)
{
	dp_path_list segs = { 0 };
	size_t root = strlen(log_dir);
	char *scope = NULL;
	if (df && task && (dp_check_tag("dataflow", df) || dp_check_tag("task", task)))
		task = NULL; /* not a name: the query says so; walk the dataflow */
	if (df && dp_check_tag("dataflow", df))
		df = NULL;
	dp_error_clear();
	if (df) {
		char *d = dp_path_join(log_dir, df);
		scope = d && task ? dp_path_join(d, task) : d;
		if (scope != d)
			free(d);
		if (!scope)
			return dp_error(DNNPROV_ENOMEM, "out of memory");
	}
	struct stat st0;
	int rc = scope && stat(scope, &st0) != 0 ? 0 : dp_find_segments(scope ? scope : log_dir, &segs, NULL, NULL);
	free(scope);

	/* A folder that cannot be read is not a reason to fail the query:
	 * what was found is counted, and the walk says it is partial. */
	f->walk_incomplete = rc != 0;
	if (rc == DNNPROV_ENOMEM) {
		dp_path_list_free(&segs);
		return rc;
	}
	for (size_t i = 0; i < segs.n; i++) {
		struct stat st;
		const char *rel = segs.paths[i] + root + (segs.paths[i][root] == '/');
		MDB_val k = { strlen(rel), (void *)rel }, v;
		dp_progress p;
		bool known = dp_query_get(q, DP_DB_PROGRESS, &k, &v) && v.mv_size == sizeof(p);
		if (known)
			memcpy(&p, v.mv_data, sizeof(p));
		/* A segment read up to its seal is complete: no stat for it. */
		if (known && p.sealed)
			continue;
		if (stat(segs.paths[i], &st) != 0)
			continue;
		uint64_t lag = behind(known ? &p : NULL, (uint64_t)st.st_size);
		f->behind_bytes += lag;
		f->behind_segments += lag > 0;
	}
	dp_path_list_free(&segs);
	dp_error_clear();
	return 0;
}

/* A segment of the index (rel, with its progress) against its file. */
static void compare_segment(const char *log_dir, const char *rel, size_t rel_len, const dp_progress *p,
			    dp_freshness *f)
{
	char path[8192];
	struct stat st;
	if (snprintf(path, sizeof(path), "%s/%.*s", log_dir, (int)rel_len, rel) >= (int)sizeof(path) ||
	    stat(path, &st) != 0)
		return;
	uint64_t lag = behind(p, (uint64_t)st.st_size);
	f->behind_bytes += lag;
	f->behind_segments += lag > 0;
}

/* Calls fn with every segment's progress under prefix (a read that fails
 * is the error, never the end); fn's non-zero return stops the walk. */
static int each_progress(dp_query *q, const dp_key *prefix, int (*fn)(void *ctx, const MDB_val *k, const dp_progress *p),
			 void *ctx)
{
	dp_scan sc;
	MDB_val k, v;
	int r, rc;
	if ((rc = dp_scan_open(&sc, q->ix, q->txn, DP_DB_PROGRESS, prefix, NULL)))
		return rc;
	while ((r = dp_scan_next(&sc, &k, &v)) == DP_SCAN_ROW) {
		dp_progress p;
		if (v.mv_size != sizeof(p))
			continue;
		memcpy(&p, v.mv_data, sizeof(p));
		if ((r = fn(ctx, &k, &p)))
			break;
	}
	dp_scan_close(&sc);
	return r < 0 ? r : 0;
}

typedef struct unsealed_ctx {
	const char *log_dir;
	dp_freshness *f;
} unsealed_ctx;

static int compare_unsealed(void *ctx, const MDB_val *k, const dp_progress *p)
{
	unsealed_ctx *u = ctx;
	if (!p->sealed)
		compare_segment(u->log_dir, k->mv_data, k->mv_size, p, u->f);
	return 0;
}

/* The progress keys of a task's segments begin "df/task/" (the segment's
 * path under the logs); false when that is longer than a key. */
static bool task_prefix(dp_key *prefix, const char *df, size_t dn, const char *task, size_t tn)
{
	dp_key_reset(prefix);
	if (dn + tn + 2 > DP_KEY_MAX)
		return false;
	memcpy(prefix->b, df, dn);
	prefix->b[dn] = '/';
	memcpy(prefix->b + dn + 1, task, tn);
	prefix->b[dn + 1 + tn] = '/';
	prefix->n = dn + tn + 2;
	return true;
}

/* The segments not read to their seal of one task. */
static int check_task(dp_query *q, const char *log_dir, const char *df, size_t dn, const char *task, size_t tn,
		      dp_freshness *f)
{
	dp_key prefix;
	unsealed_ctx u = { log_dir, f };

	if (!task_prefix(&prefix, df, dn, task, tn))
		return 0;
	return each_progress(q, &prefix, compare_unsealed, &u);
}

/* The growing segments of the dataflow's RUNNING tasks (or of one task). */
static int check_running(dp_query *q, const char *log_dir, const char *df, const char *task, dp_freshness *f)
{
	dp_key prefix;
	dp_scan sc;
	MDB_val k, v;
	int r, rc;

	if (task)
		return check_task(q, log_dir, df, strlen(df), task, strlen(task), f);
	dp_key_reset(&prefix);
	dp_key_cstr(&prefix, df);
	if ((rc = dp_scan_open(&sc, q->ix, q->txn, DP_DB_RUNNING, &prefix, NULL)))
		return rc;
	rc = 0;
	while (rc == 0 && (r = dp_scan_next(&sc, &k, &v)) == DP_SCAN_ROW) {
		size_t pos = prefix.n, tn;
		const char *t;
		if (dp_key_get_str(k.mv_data, k.mv_size, &pos, &t, &tn))
			rc = check_task(q, log_dir, df, strlen(df), t, tn, f);
	}
	dp_scan_close(&sc);
	return rc ? rc : r < 0 ? r : 0;
}

/* One dataflow's logs: walked when its folder changed since the index's
 * last listing, else only what can still grow. */
static int check_dataflow(dp_query *q, const char *log_dir, const char *df, const char *task, double listed_at,
			  dp_freshness *f)
{
	char path[8192];
	struct stat st;
	if (snprintf(path, sizeof(path), "%s/%s", log_dir, df) >= (int)sizeof(path) || lstat(path, &st) != 0 ||
	    !S_ISDIR(st.st_mode))
		return 0; /* no logs of it */
	double changed = (double)st.st_mtim.tv_sec + st.st_mtim.tv_nsec / 1e9;
	if (isnan(listed_at) || changed > listed_at - dp_change_slack(path, &st))
		return walk_logs(q, log_dir, df, task, f);
	return check_running(q, log_dir, df, task, f);
}

/* Every dataflow folder of the logs. */
static int check_all(dp_query *q, const char *log_dir, double listed_at, dp_freshness *f)
{
	DIR *d = opendir(log_dir);
	struct dirent *e;
	int rc = 0;

	if (!d) {
		if (errno == ENOMEM)
			return dp_error(DNNPROV_ENOMEM, "out of memory");
		f->walk_incomplete = errno != ENOENT;
		return 0;
	}
	while (rc == 0 && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || dp_check_tag("dataflow", e->d_name)) {
			dp_error_clear(); /* a folder that names no dataflow is no error */
			continue;
		}
		rc = check_dataflow(q, log_dir, e->d_name, NULL, listed_at, f);
	}
	closedir(d);
	return rc; /* with the detail of a read that failed */
}

int dp_query_freshness(dp_query *q, const char *index_dir, const char *log_dir, const char *df,
		       const char *task, dp_freshness *f)
{
	MDB_val k = { 11, "last_commit" }, v;
	MDB_stat st;

	memset(f, 0, sizeof(*f));
	f->last_commit = NAN;
	f->indexer_running = indexer_running(index_dir, &f->indexer_pid);
	if (dp_query_get(q, DP_DB_META, &k, &v) && v.mv_size == sizeof(double))
		memcpy(&f->last_commit, v.mv_data, sizeof(double));
	if (mdb_stat(q->txn, q->ix->dbi[DP_DB_PROBLEMS], &st) == 0)
		f->problems = st.ms_entries;
	if (log_dir)
		snprintf(f->log_dir, sizeof(f->log_dir), "%s", log_dir);
	else if (!meta_string(q, "log_dir", f->log_dir, sizeof(f->log_dir)))
		f->log_dir[0] = '\0';
	/* A failed read makes no fact to print: the query fails with it. */
	if (f->indexer_running || !f->log_dir[0])
		return dp_query_check(q);
	f->walked = true;
	double listed_at = NAN;
	MDB_val lk = { 9, "listed_at" }, lv;
	if (dp_query_get(q, DP_DB_META, &lk, &lv) && lv.mv_size == sizeof(double))
		memcpy(&listed_at, lv.mv_data, sizeof(double));
	if (df && dp_check_tag("dataflow", df))
		df = NULL;
	if (task && dp_check_tag("task", task))
		task = NULL;
	dp_error_clear();
	int rc = df ? check_dataflow(q, f->log_dir, df, task, listed_at, f) : check_all(q, f->log_dir, listed_at, f);
	return rc ? rc : dp_query_check(q);
}

int dp_freshness_json(const dp_freshness *f, dp_buf *b)
{
	char when[32];
	b->len = 0;
	dp_buf_printf(b, "{\"indexer\": \"%s\"", f->indexer_running ? "running" : "not running");
	if (f->walked)
		dp_buf_printf(b, ", \"behind_bytes\": %llu, \"behind_segments\": %llu",
			      (unsigned long long)f->behind_bytes, (unsigned long long)f->behind_segments);
	else
		dp_buf_printf(b, ", \"behind_bytes\": null, \"behind_segments\": null");
	if (f->walk_incomplete)
		dp_buf_printf(b, ", \"partial\": true");
	dp_buf_printf(b, ", \"problems\": %llu", (unsigned long long)f->problems);
	dp_format_time(f->last_commit, when);
	if (when[0])
		dp_buf_printf(b, ", \"last_commit\": \"%s\"", when);
	dp_buf_putc(b, '}');
	return b->failed ? dp_error(DNNPROV_ENOMEM, "out of memory") : 0;
}

static void human_bytes(dp_buf *b, uint64_t n)
{
	if (n < 10240)
		dp_buf_printf(b, "%llu bytes", (unsigned long long)n);
	else if (n < 10ull << 20)
		dp_buf_printf(b, "%.0f KiB", n / 1024.0);
	else
		dp_buf_printf(b, "%.0f MiB", n / 1048576.0);
}

int dp_freshness_note(const dp_freshness *f, dp_buf *b)
{
	if (f->walked && f->behind_bytes) {
		dp_buf_printf(b, "index: behind its logs by %llu segment%s (",
			      (unsigned long long)f->behind_segments, f->behind_segments == 1 ? "" : "s");
		human_bytes(b, f->behind_bytes);
		dp_buf_printf(b, " not indexed) and no indexer is running: run `dnnprov index`%s\n",
			      f->walk_incomplete ? " (some log folders could not be read)" : "");
	}
	if (f->problems)
		dp_buf_printf(b, "index: %llu problem%s skipped in the logs (`dnnprov index --status` lists them)\n",
			      (unsigned long long)f->problems, f->problems == 1 ? "" : "s");
	return b->failed ? dp_error(DNNPROV_ENOMEM, "out of memory") : 0;
}

/* ---- every segment: `dnnprov index --status` ---------------------------------------------------- */

typedef struct status_ctx {
	dp_table *t;
	const char *log_dir;
	dp_index_totals *tot;
} status_ctx;

/* The row of one segment the index knows (its path is the key). */
static int status_row(void *ctx, const MDB_val *k, const dp_progress *p)
{
	status_ctx *c = ctx;
	dp_table *t = c->t;
	const char *log_dir = c->log_dir, *rel = k->mv_data;
	size_t rel_len = k->mv_size;
	dp_index_totals *tot = c->tot;
	struct stat st;
	char path[8192];
	bool there = log_dir && snprintf(path, sizeof(path), "%s/%.*s", log_dir, (int)rel_len, rel) < (int)sizeof(path) &&
		     stat(path, &st) == 0;
	dp_qv *row = dp_table_add_row(t);
	if (!row)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	dp_cell_text(&row[0], rel, rel_len);
	row[1] = dp_qv_int((int64_t)p->offset);
	if (there) {
		row[2] = dp_qv_int((int64_t)st.st_size);
		uint64_t lag = behind(p, (uint64_t)st.st_size);
		row[3] = dp_qv_int((int64_t)lag);
		tot->behind_bytes += lag;
	}
	row[4] = dp_qv_int((int64_t)p->records);
	row[5] = dp_qv_int((int64_t)p->problems);
	const char *state = !there ? (log_dir ? "deleted" : "?") : p->sealed ? "complete" : "open";
	dp_cell_text(&row[6], state, strlen(state));
	tot->indexed++;
	tot->problems += p->problems;
	return 0;
}

/* The rows of the segments of the logs the index has not read, under
 * `under` (log_dir itself, or one task's folder in it). */
static int unread_rows(dp_query *q, dp_table *t, const char *log_dir, const char *under, dp_index_totals *tot)
{
	dp_path_list segs = { 0 };
	size_t root = strlen(log_dir);
	struct stat dir;
	/* A folder it cannot list only shortens these rows. */
	int rc = stat(under, &dir) == 0 ? dp_find_segments(under, &segs, NULL, NULL) : 0;
	if (rc == DNNPROV_ENOMEM)
		goto out;
	rc = 0;
	dp_error_clear(); /* a folder it could not list is no error */
	for (size_t i = 0; i < segs.n && !rc; i++) {
		const char *rel = segs.paths[i] + root + (segs.paths[i][root] == '/');
		MDB_val k = { strlen(rel), (void *)rel }, v;
		struct stat st;
		if (dp_query_get(q, DP_DB_PROGRESS, &k, &v))
			continue;
		if ((rc = dp_query_check(q)))
			break;
		uint64_t size = stat(segs.paths[i], &st) == 0 ? (uint64_t)st.st_size : 0;
		dp_qv *row = dp_table_add_row(t);
		if (!row) {
			rc = dp_error(DNNPROV_ENOMEM, "out of memory");
			break;
		}
		dp_cell_text(&row[0], rel, strlen(rel));
		row[1] = dp_qv_int(0);
		row[2] = dp_qv_int((int64_t)size);
		row[3] = dp_qv_int((int64_t)size);
		row[4] = dp_qv_int(0);
		row[5] = dp_qv_int(0);
		dp_cell_text(&row[6], "not indexed yet", 15);
		tot->behind_bytes += size;
		tot->unindexed++;
	}
out:
	dp_path_list_free(&segs);
	return rc;
}

/* The problems the indexer skipped: segment, offset, why, bytes. */
static int problem_rows(dp_query *q, dp_table *t)
{
	dp_key all;
	dp_scan sc;
	MDB_val k, v;
	int r, rc;

	dp_key_reset(&all);
	if ((rc = dp_scan_open(&sc, q->ix, q->txn, DP_DB_PROBLEMS, &all, NULL)))
		return rc;
	while ((r = dp_scan_next(&sc, &k, &v)) == DP_SCAN_ROW) {
		const char *seg;
		size_t seglen, pos = 0;
		dp_problem_entry e;
		if (v.mv_size != sizeof(e) || !dp_key_get_str(k.mv_data, k.mv_size, &pos, &seg, &seglen) ||
		    k.mv_size - pos != 8)
			continue;
		memcpy(&e, v.mv_data, sizeof(e));
		e.why[sizeof(e.why) - 1] = '\0';
		dp_qv *row = dp_table_add_row(t);
		if (!row) {
			r = dp_error(DNNPROV_ENOMEM, "out of memory");
			break;
		}
		dp_cell_text(&row[0], seg, seglen);
		row[1] = dp_qv_int((int64_t)dp_get_be64((const unsigned char *)k.mv_data + pos));
		dp_cell_text(&row[2], e.why, strlen(e.why));
		if (e.kind != DP_PROBLEM_NAME && e.kind != DP_PROBLEM_REFUSED) /* nothing skipped: indexed */
			row[3] = dp_qv_int((int64_t)e.length);
	}
	dp_scan_close(&sc);
	return r < 0 ? r : 0;
}

/* The columns of a table of segments (index --status, segments). */
static int segments_table(dp_table *segments)
{
	static const char *const seg_cols[] = { "segment", "indexed", "on_disk", "behind", "records", "problems", "state" };
	int rc = dp_table_init(segments, DP_ARRAY_LEN(seg_cols));
	for (size_t i = 0; !rc && i < DP_ARRAY_LEN(seg_cols); i++)
		dp_table_set_col(segments, i, seg_cols[i], i == 0 || i == 6 ? COL_TEXT : COL_INT);
	return rc;
}

int dp_task_segments(dp_query *q, const char *df, const char *task, dp_table *segments, dp_index_totals *tot)
{
	char log_dir[4096], folder[8192];
	bool known = meta_string(q, "log_dir", log_dir, sizeof(log_dir));
	status_ctx ctx = { segments, known ? log_dir : NULL, tot };
	size_t dn = strlen(df), tn = strlen(task);
	dp_key prefix;
	int rc;

	memset(tot, 0, sizeof(*tot));
	tot->last_commit = NAN;
	if ((rc = segments_table(segments)))
		return rc;
	if (!task_prefix(&prefix, df, dn, task, tn))
		return 0;
	if ((rc = each_progress(q, &prefix, status_row, &ctx)))
		return rc;
	if (known && snprintf(folder, sizeof(folder), "%s/%s/%s", log_dir, df, task) < (int)sizeof(folder) &&
	    (rc = unread_rows(q, segments, log_dir, folder, tot)))
		return rc;
	return (rc = dp_query_check(q)) ? rc : dp_table_check(segments, NULL);
}

int dp_index_status(dp_query *q, const char *log_dir, dp_table *segments, dp_table *problems, dp_index_totals *tot)
{
	static const char *const prob_cols[] = { "segment", "offset", "why", "bytes" };
	dp_key all;
	status_ctx ctx = { segments, log_dir, tot };
	int rc;

	memset(tot, 0, sizeof(*tot));
	tot->last_commit = NAN;
	if ((rc = segments_table(segments)) || (rc = dp_table_init(problems, DP_ARRAY_LEN(prob_cols))))
		return rc;
	for (size_t i = 0; i < DP_ARRAY_LEN(prob_cols); i++)
		dp_table_set_col(problems, i, prob_cols[i], i == 0 || i == 2 ? COL_TEXT : COL_INT);
	dp_key_reset(&all);
	if ((rc = each_progress(q, &all, status_row, &ctx)) || (log_dir && (rc = unread_rows(q, segments, log_dir, log_dir, tot))) ||
	    (tot->problems && (rc = problem_rows(q, problems))))
		return rc;
	MDB_val lk = { 11, "last_commit" }, lv;
	if (dp_query_get(q, DP_DB_META, &lk, &lv) && lv.mv_size == sizeof(double))
		memcpy(&tot->last_commit, lv.mv_data, sizeof(double));
	if ((rc = dp_query_check(q)))
		return rc;
	return dp_table_check(segments, NULL) ? DNNPROV_ENOMEM : dp_table_check(problems, NULL);
}
