/*
 * state.c - the shipper's state folder (state.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "logger/scan.h"
#include "ship/ship.h"
#include "ship/state.h"
#include "util/map.h"

#define STATE_LOCK "ship.lock"
#define STATE_MAP (256u << 20) /* sparse; a million segments take about 100 MiB */

static int lmdb_error(int mrc, const char *dir)
{
	return dp_error(mrc == ENOSPC ? DNNPROV_ENOSPC : DNNPROV_EIO, "%s: %s", dir, mdb_strerror(mrc));
}

static int open_env(dp_ship_state *st, const char *dir, bool writable)
{
	MDB_txn *txn = NULL;
	int mrc;

	if ((mrc = mdb_env_create(&st->env)) || (mrc = mdb_env_set_maxdbs(st->env, 2)) ||
	    (mrc = mdb_env_set_mapsize(st->env, STATE_MAP)))
		goto fail;
	/* No sync per commit: a machine crash may undo the last commits, which
	 * only sends their records again (dropped by their id, or skipped). */
	mrc = mdb_env_open(st->env, dir, MDB_NOSYNC | MDB_NOTLS | (writable ? 0 : MDB_RDONLY), 0644);
	if (mrc)
		goto fail;
	if ((mrc = mdb_txn_begin(st->env, NULL, writable ? 0 : MDB_RDONLY, &txn)))
		goto fail;
	unsigned flags = writable ? MDB_CREATE : 0;
	if ((mrc = mdb_dbi_open(txn, "segments", flags, &st->segments)) ||
	    (mrc = mdb_dbi_open(txn, "meta", flags, &st->meta))) {
		mdb_txn_abort(txn);
		goto fail;
	}
	if ((mrc = mdb_txn_commit(txn)))
		goto fail;
	return 0;
fail:
	mdb_env_close(st->env);
	st->env = NULL;
	if (mrc == MDB_NOTFOUND || mrc == ENOENT)
		return dp_error(DNNPROV_ENOTFOUND, "%s holds no shipping state", dir);
	return lmdb_error(mrc, dir);
}

static int take_lock(dp_ship_state *st, const char *dir)
{
	char *path = dp_path_join(dir, STATE_LOCK);
	if (!path)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	int rc = dp_lock_take(path, "shipper", dir, &st->lock_fd);
	free(path);
	return rc;
}

/* The pid of the shipper holding the folder's lock, or 0. */
static long dp_ship_state_holder(const char *dir)
{
	char *path = dp_path_join(dir, STATE_LOCK), pid[32] = "";
	long holder = 0;
	int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	free(path);
	if (fd < 0)
		return 0;
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	if (fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK) {
		ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		holder = strtol(pid, NULL, 10);
		if (holder <= 0)
			holder = -1; /* held, pid unknown */
	}
	close(fd);
	return holder;
}

/* The log folder a state folder ships: the same one, or refused (its
 * offsets would name other files). */
static int check_log_dir(dp_ship_state *st, const char *log_dir)
{
	MDB_txn *txn;
	MDB_val k = { 7, "log_dir" }, v;
	int mrc = mdb_txn_begin(st->env, NULL, 0, &txn), rc = 0;
	if (mrc)
		return lmdb_error(mrc, st->dir);
	mrc = mdb_get(txn, st->meta, &k, &v);
	if (mrc == MDB_NOTFOUND) {
		v.mv_size = strlen(log_dir);
		v.mv_data = (void *)log_dir;
		mrc = mdb_put(txn, st->meta, &k, &v, 0);
	} else if (mrc == 0 && (v.mv_size != strlen(log_dir) || memcmp(v.mv_data, log_dir, v.mv_size) != 0)) {
		rc = dp_error(DNNPROV_EINVAL, "the state folder %s ships %.*s, not %s: give each log folder its own --state",
			      st->dir, (int)v.mv_size, (const char *)v.mv_data, log_dir);
	}
	if (rc || mrc) {
		mdb_txn_abort(txn);
		return rc ? rc : lmdb_error(mrc, st->dir);
	}
	mrc = mdb_txn_commit(txn);
	return mrc ? lmdb_error(mrc, st->dir) : 0;
}

int dp_ship_state_open(dp_ship_state *st, const char *dir, const char *log_dir)
{
	int rc;
	memset(st, 0, sizeof(*st));
	st->lock_fd = -1;
	if (!(st->dir = strdup(dir)))
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	if ((rc = dp_mkdirs(dir)) || (rc = take_lock(st, dir)) || (rc = open_env(st, dir, true)) ||
	    (rc = check_log_dir(st, log_dir))) {
		dp_ship_state_close(st);
		return rc;
	}
	return 0;
}

/* Read-only, without the lock, for --status: DNNPROV_ENOTFOUND when the
 * folder has no state. */
static int dp_ship_state_open_read(dp_ship_state *st, const char *dir)
{
	struct stat sb;
	char *data = dp_path_join(dir, "data.mdb");
	memset(st, 0, sizeof(*st));
	st->lock_fd = -1;
	int found = data && stat(data, &sb) == 0;
	free(data);
	if (!found)
		return dp_error(DNNPROV_ENOTFOUND, "%s holds no shipping state (nothing shipped from here yet?)", dir);
	if (!(st->dir = strdup(dir)))
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	int rc = open_env(st, dir, false);
	if (rc)
		dp_ship_state_close(st);
	return rc;
}

void dp_ship_state_close(dp_ship_state *st)
{
	if (st->env)
		mdb_env_close(st->env);
	if (st->lock_fd >= 0)
		close(st->lock_fd);
	free(st->dir);
	memset(st, 0, sizeof(*st));
	st->lock_fd = -1;
}

/* ---- reading and writing ----------------------------------------------------------- */

int dp_ship_state_progress(dp_ship_state *st, const char *rel, dp_ship_progress *p, bool *found)
{
	MDB_txn *txn;
	MDB_val k = { strlen(rel), (void *)rel }, v;
	int mrc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn);
	*found = false;
	if (mrc)
		return lmdb_error(mrc, st->dir);
	mrc = mdb_get(txn, st->segments, &k, &v);
	if (mrc == 0 && v.mv_size == sizeof(*p)) {
		memcpy(p, v.mv_data, sizeof(*p));
		*found = true;
	}
	mdb_txn_abort(txn);
	return mrc && mrc != MDB_NOTFOUND ? lmdb_error(mrc, st->dir) : 0;
}

int dp_ship_write_begin(dp_ship_state *st, dp_ship_write *w)
{
	w->st = st;
	w->txn = NULL;
	int mrc = mdb_txn_begin(st->env, NULL, 0, &w->txn);
	w->rc = mrc ? lmdb_error(mrc, st->dir) : 0;
	return w->rc;
}

static void put(dp_ship_write *w, MDB_dbi dbi, const void *key, size_t kn, const void *v, size_t n)
{
	MDB_val k = { kn, (void *)key }, val = { n, (void *)v };
	int mrc;
	if (!w->rc && (mrc = mdb_put(w->txn, dbi, &k, &val, 0)))
		w->rc = lmdb_error(mrc, w->st->dir);
}

void dp_ship_write_progress(dp_ship_write *w, const char *rel, const dp_ship_progress *p)
{
	put(w, w->st->segments, rel, strlen(rel), p, sizeof(*p));
}

void dp_ship_write_meta(dp_ship_write *w, const char *key, const void *v, size_t n)
{
	put(w, w->st->meta, key, strlen(key), v, n);
}

bool dp_ship_write_get_meta(dp_ship_write *w, const char *key, void *out, size_t n)
{
	MDB_val k = { strlen(key), (void *)key }, v;
	if (w->rc || mdb_get(w->txn, w->st->meta, &k, &v) != 0 || v.mv_size != n)
		return false;
	memcpy(out, v.mv_data, n);
	return true;
}

void dp_ship_write_forget_progress(dp_ship_write *w)
{
	int mrc;
	if (!w->rc && (mrc = mdb_drop(w->txn, w->st->segments, 0)))
		w->rc = lmdb_error(mrc, w->st->dir);
}

int dp_ship_write_end(dp_ship_write *w, bool commit)
{
	if (!w->txn)
		return w->rc;
	if (w->rc || !commit) {
		mdb_txn_abort(w->txn);
	} else {
		int mrc = mdb_txn_commit(w->txn);
		if (mrc)
			w->rc = lmdb_error(mrc, w->st->dir);
	}
	w->txn = NULL;
	return w->rc;
}

/* ---- --status ---------------------------------------------------------------------- */

static void meta_text(MDB_txn *txn, MDB_dbi dbi, const char *key, char *out, size_t cap)
{
	MDB_val k = { strlen(key), (void *)key }, v;
	out[0] = '\0';
	if (mdb_get(txn, dbi, &k, &v) == 0)
		snprintf(out, cap, "%.*s", (int)v.mv_size, (const char *)v.mv_data);
}

static double meta_double(MDB_txn *txn, MDB_dbi dbi, const char *key)
{
	MDB_val k = { strlen(key), (void *)key }, v;
	double d = 0;
	if (mdb_get(txn, dbi, &k, &v) == 0 && v.mv_size == sizeof(d))
		memcpy(&d, v.mv_data, sizeof(d));
	return d;
}

static long long size_on_disk(const char *log_dir, const char *rel)
{
	struct stat sb;
	char *path = log_dir ? dp_path_join(log_dir, rel) : NULL;
	long long size = path && stat(path, &sb) == 0 ? (long long)sb.st_size : -1;
	free(path);
	return size;
}

int dp_ship_status(const char *state_dir, const char *log_dir,
		   void (*each)(void *ctx, const dp_ship_segment_status *s), void *ctx, dp_ship_summary *sum)
{
	dp_ship_state st;
	MDB_txn *txn;
	MDB_cursor *c = NULL;
	MDB_val k, v;
	dp_map seen = { 0 };
	char rel[4096];
	int rc, mrc;

	memset(sum, 0, sizeof(*sum));
	sum->running_pid = dp_ship_state_holder(state_dir);
	if ((rc = dp_ship_state_open_read(&st, state_dir)))
		return rc;
	if ((mrc = mdb_txn_begin(st.env, NULL, MDB_RDONLY, &txn))) {
		dp_ship_state_close(&st);
		return lmdb_error(mrc, state_dir);
	}
	meta_text(txn, st.meta, "stream", sum->stream, sizeof(sum->stream));
	meta_text(txn, st.meta, "state", sum->state, sizeof(sum->state));
	sum->state_since = meta_double(txn, st.meta, "since");
	sum->last_commit = meta_double(txn, st.meta, "commit");
	mrc = mdb_cursor_open(txn, st.segments, &c);
	for (mrc = mrc ? mrc : mdb_cursor_get(c, &k, &v, MDB_FIRST); mrc == 0 && rc == 0;
	     mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		dp_ship_progress p;
		if (v.mv_size != sizeof(p) || k.mv_size >= sizeof(rel))
			continue;
		memcpy(&p, v.mv_data, sizeof(p));
		snprintf(rel, sizeof(rel), "%.*s", (int)k.mv_size, (const char *)k.mv_data);
		void **slot = dp_map_slot(&seen, rel, strlen(rel), true);
		if (!slot) {
			rc = dp_error(DNNPROV_ENOMEM, "out of memory");
			break;
		}
		*slot = &seen;
		dp_ship_segment_status s = { rel, p.shipped, p.acked, p.records, p.problems,
					     size_on_disk(log_dir, rel), p.done != 0, true };
		each(ctx, &s);
	}
	if (rc == 0 && mrc && mrc != MDB_NOTFOUND)
		rc = lmdb_error(mrc, state_dir);
	if (c)
		mdb_cursor_close(c);
	mdb_txn_abort(txn);
	dp_ship_state_close(&st);
	/* What is on disk and not shipped at all yet. */
	dp_path_list segs = { 0 };
	struct stat sb;
	if (rc == 0 && log_dir && stat(log_dir, &sb) == 0 &&
	    (rc = dp_find_segments(log_dir, &segs, NULL, NULL)) != DNNPROV_ENOMEM) {
		rc = 0;
		size_t root = strlen(log_dir);
		for (size_t i = 0; i < segs.n; i++) {
			const char *r = segs.paths[i] + root;
			while (*r == '/')
				r++;
			if (dp_map_slot(&seen, r, strlen(r), false))
				continue;
			dp_ship_segment_status s = { r, 0, 0, 0, 0, size_on_disk(log_dir, r), false, false };
			each(ctx, &s);
		}
	}
	dp_path_list_free(&segs);
	dp_map_free(&seen);
	return rc;
}
