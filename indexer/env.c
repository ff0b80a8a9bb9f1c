/*
 * env.c - opening the index: the CURRENT symlink, generations, LMDB's
 * settings, and the traps LMDB's documentation warns of (a map that fills,
 * reader slots left by crashed processes, a map grown by another process).
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "indexer/index.h"

#define MAX_READERS 1022 /* one page of reader slots: crashed queries' slots are reclaimed */
#define DEFAULT_MAP_SIZE (64ull << 20)

int dp_lmdb_error(int mrc, const char *what)
{
	assert(mrc != 0); /* an error: a success has no detail to set */
	if (mrc == ENOSPC)
		return dp_error(DNNPROV_ENOSPC, "%s: %s", what, mdb_strerror(mrc));
	if (mrc == MDB_MAP_FULL)
		return dp_error(DNNPROV_ENOSPC, "%s: the index's map is full (%s)", what, mdb_strerror(mrc));
	if (mrc == ENOMEM)
		return dp_error(DNNPROV_ENOMEM, "%s: %s", what, mdb_strerror(mrc));
	/* MDB_PANIC: a meta page write failed and LMDB refuses this handle
	 * until it is reopened, which is the recovery from any I/O error. */
	if (mrc == EACCES || mrc == EROFS || mrc == EIO || mrc == MDB_PANIC)
		return dp_error(DNNPROV_EIO, "%s: %s", what, mdb_strerror(mrc));
	return dp_error(DNNPROV_EINDEX, "%s: %s", what, mdb_strerror(mrc));
}

/* Below this much free space, a failed write of the index is taken for a
 * full disk: a commit writes many pages at once, and a disk that fills up
 * in the middle ends it with a short write, which LMDB reports as EIO. */
#define FULL_BELOW (1u << 20)

int dp_index_write_error(const dp_index *ix, int mrc, const char *what)
{
	struct statvfs fs;
	if ((mrc == EIO || mrc == ENOSPC || mrc == MDB_PANIC) && statvfs(ix->gen_dir, &fs) == 0) {
		unsigned long long avail = (unsigned long long)fs.f_bavail * fs.f_frsize;
		if (mrc == ENOSPC || avail < FULL_BELOW)
			return dp_error(DNNPROV_ENOSPC, "%s: the disk holding the index is full: %s (%llu KiB free in %s)",
					what, mrc == ENOSPC ? mdb_strerror(mrc) : "a write was cut short", avail / 1024,
					ix->gen_dir);
	}
	return dp_lmdb_error(mrc, what);
}

static bool data_file_empty(const char *gen_dir)
{
	struct stat st;
	char *data = dp_path_join(gen_dir, "data.mdb");
	bool empty = data && stat(data, &st) == 0 && st.st_size == 0;
	free(data);
	return empty;
}

/* Whether the environment holds no database at all: an indexer created it
 * and has not committed its first batch yet, so a reader is early, not
 * facing a damaged index. */
static bool is_blank(MDB_txn *txn)
{
	MDB_dbi main_db;
	MDB_stat st;
	return mdb_dbi_open(txn, NULL, 0, &main_db) == 0 && mdb_stat(txn, main_db, &st) == 0 && st.ms_entries == 0;
}

/* Creates gen-000001 and points CURRENT at it, for a new index. */
static int create_first_generation(const char *dir)
{
	char *cur = dp_path_join(dir, DP_INDEX_CURRENT);
	char *gen = dp_path_join(dir, "gen-000001");
	int rc = 0;

	if (!cur || !gen) {
		rc = dp_error(DNNPROV_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = dp_mkdirs(gen)))
		goto out;
	if (symlink("gen-000001", cur) != 0 && errno != EEXIST)
		rc = dp_error_errno(errno, "cannot create %s", cur);
out:
	free(cur);
	free(gen);
	return rc;
}

static int check_schema(dp_index *ix, MDB_txn *txn)
{
	MDB_val k = { 6, "schema" }, v;
	uint32_t version;
	int mrc = mdb_get(txn, ix->dbi[DP_DB_META], &k, &v);

	if (mrc == MDB_NOTFOUND) {
		if (!ix->writable)
			return dp_error(DNNPROV_EINDEX, "%s: the index has no schema version", ix->dir);
		version = DP_SCHEMA_VERSION;
		v.mv_size = 4;
		v.mv_data = &version;
		mrc = mdb_put(txn, ix->dbi[DP_DB_META], &k, &v, 0);
		return mrc ? dp_lmdb_error(mrc, "writing the schema version") : 0;
	}
	if (mrc)
		return dp_lmdb_error(mrc, "reading the schema version");
	if (v.mv_size != 4)
		return dp_error(DNNPROV_EINDEX, "%s: malformed schema version", ix->dir);
	memcpy(&version, v.mv_data, 4);
	if (version != DP_SCHEMA_VERSION)
		return dp_error(DNNPROV_EINDEX,
				"%s: index schema %u, this dnnprov reads schema %d: run `dnnprov reindex -c CONFIG`",
				ix->dir, version, DP_SCHEMA_VERSION);
	return 0;
}

/* The generation CURRENT names now (a malloc'd path), or NULL. */
static char *current_target(const char *dir)
{
	char *cur = dp_path_join(dir, DP_INDEX_CURRENT);
	char *gen = cur ? realpath(cur, NULL) : NULL;
	free(cur);
	return gen;
}

/* One attempt; *tried gets the generation it resolved (malloc'd), if any. */
static int open_once(const char *dir, bool writable, const char *gen_dir, dp_index **out, char **tried)
{
	dp_index *ix;
	MDB_txn *txn = NULL;
	struct stat st;
	char *cur = NULL;
	int rc = 0, mrc;

	*out = NULL;
	if (!writable && stat(dir, &st) != 0)
		return dp_error(DNNPROV_ENOTFOUND, "no index at %s (%s): run `dnnprov index -c CONFIG` first", dir,
				strerror(errno));
	if (writable && (rc = dp_mkdirs(dir)))
		return rc;
	cur = dp_path_join(dir, DP_INDEX_CURRENT);
	if (!cur)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	if (!gen_dir && lstat(cur, &st) != 0) {
		if (!writable) {
			rc = dp_error(DNNPROV_ENOTFOUND, "%s holds no index: run `dnnprov index -c CONFIG` first", dir);
			free(cur);
			return rc;
		}
		if ((rc = create_first_generation(dir))) {
			free(cur);
			return rc;
		}
	}
	ix = calloc(1, sizeof(*ix));
	if (!ix) {
		free(cur);
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	}
	ix->writable = writable;
	ix->dir = strdup(dir);
	/* Resolve CURRENT once: this process keeps reading the generation it
	 * opened even if a reindex swaps CURRENT meanwhile. */
	errno = 0;
	ix->gen_dir = gen_dir ? strdup(gen_dir) : realpath(cur, NULL);
	int resolve_errno = errno;
	free(cur);
	if (ix->gen_dir)
		*tried = strdup(ix->gen_dir);
	if (!ix->dir || !ix->gen_dir) {
		rc = ix->dir && !ix->gen_dir && !gen_dir && resolve_errno != ENOMEM
			     ? dp_error(DNNPROV_ENOTFOUND, "%s: CURRENT points nowhere: run `dnnprov reindex -c CONFIG`", dir)
			     : dp_error(DNNPROV_ENOMEM, "out of memory");
		goto fail;
	}
	if ((mrc = mdb_env_create(&ix->env))) {
		rc = dp_lmdb_error(mrc, "creating the LMDB environment");
		goto fail;
	}
	mdb_env_set_maxdbs(ix->env, DP_DB_COUNT + 2);
	mdb_env_set_maxreaders(ix->env, MAX_READERS);
	if (writable)
		mdb_env_set_mapsize(ix->env, DEFAULT_MAP_SIZE);
	/* MDB_NOMETASYNC: a crash of the machine may undo the last commit, but
	 * never breaks consistency; since progress commits with the data, an
	 * undone commit is simply read again from the logs. */
	unsigned flags = MDB_NOTLS | (writable ? MDB_NOMETASYNC : MDB_RDONLY);
	if (!writable && data_file_empty(ix->gen_dir)) {
		/* Created by an indexer that has not written its first meta
		 * pages (starting, or its first write failed); LMDB would say
		 * "Bad file descriptor". */
		rc = dp_error(DNNPROV_ENOTFOUND, "the index at %s is empty: nothing has been indexed yet", dir);
		goto fail;
	}
	if ((mrc = mdb_env_open(ix->env, ix->gen_dir, flags, 0644))) {
		rc = mrc == ENOENT ? dp_error(DNNPROV_ENOTFOUND, "%s holds no index: run `dnnprov index -c CONFIG` first", dir)
				   : dp_lmdb_error(mrc, ix->gen_dir);
		goto fail;
	}
	int dead = 0;
	mdb_reader_check(ix->env, &dead); /* slots of crashed readers */
	if ((mrc = mdb_txn_begin(ix->env, NULL, writable ? 0 : MDB_RDONLY, &txn))) {
		rc = dp_lmdb_error(mrc, "opening the index");
		goto fail;
	}
	/* meta first: an index of another schema is refused for that, not for
	 * a database it lacks. */
	for (int i = 0; i < DP_DB_COUNT; i++) {
		if (i == DP_DB_META + 1 && (rc = check_schema(ix, txn)))
			goto fail;
		mrc = mdb_dbi_open(txn, dp_db_names[i], writable ? MDB_CREATE : 0, &ix->dbi[i]);
		if (mrc == MDB_NOTFOUND) {
			rc = is_blank(txn) ? dp_error(DNNPROV_ENOTFOUND, "the index at %s is empty: nothing has been "
									 "indexed yet", dir)
					   : dp_error(DNNPROV_EINDEX, "%s: database '%s' is missing: run `dnnprov reindex -c CONFIG`",
						      dir, dp_db_names[i]);
			goto fail;
		}
		if (mrc) {
			rc = dp_lmdb_error(mrc, dp_db_names[i]);
			goto fail;
		}
	}
	/* Committed even when read-only: DBI handles opened in a transaction
	 * that is aborted are closed with it. */
	mrc = mdb_txn_commit(txn);
	txn = NULL;
	if (mrc) {
		rc = dp_lmdb_error(mrc, "creating the index");
		goto fail;
	}
	assert(ix->env && ix->gen_dir && ix->dir);
	*out = ix;
	return 0;
fail:
	assert(rc != 0);
	if (txn)
		mdb_txn_abort(txn);
	dp_index_close(ix);
	return rc;
}

int dp_index_open(const char *dir, bool writable, const char *gen_dir, dp_index **out)
{
	/* A reader resolves CURRENT, then opens the generation it names, and a
	 * reindex may swap CURRENT and remove that generation in between: the
	 * open fails for want of its files.  When CURRENT names another
	 * generation by then, the reader opens that one, so a query racing a
	 * reindex answers from the old generation or the new, never "no
	 * index".  A failure while CURRENT stays put is returned as it is. */
	for (int attempt = 0;; attempt++) {
		char *tried = NULL, *now = NULL;
		int rc = open_once(dir, writable, gen_dir, out, &tried);
		bool moved = false;
		if (rc && !writable && !gen_dir && attempt < 16) {
			now = current_target(dir);
			moved = now && (!tried || strcmp(now, tried) != 0);
		}
		free(tried);
		free(now);
		assert(rc ? !*out : *out != NULL); /* an index, or an error and none */
		if (!moved)
			return rc;
	}
}

int dp_index_read(dp_index *ix, MDB_txn **txn)
{
	int mrc = mdb_txn_begin(ix->env, NULL, MDB_RDONLY, txn);
	if (mrc == MDB_MAP_RESIZED) {
		/* The indexer grew the map: adopt its size and try again. */
		mdb_env_set_mapsize(ix->env, 0);
		mrc = mdb_txn_begin(ix->env, NULL, MDB_RDONLY, txn);
	}
	if (mrc == MDB_READERS_FULL) {
		int dead = 0;
		mdb_reader_check(ix->env, &dead);
		mrc = mdb_txn_begin(ix->env, NULL, MDB_RDONLY, txn);
	}
	return mrc ? dp_lmdb_error(mrc, "reading the index") : 0;
}

void dp_index_close(dp_index *ix)
{
	if (!ix)
		return;
	if (ix->env)
		mdb_env_close(ix->env);
	free(ix->dir);
	free(ix->gen_dir);
	free(ix);
}
