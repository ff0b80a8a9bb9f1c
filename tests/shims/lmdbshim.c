/*
 * lmdbshim.c - an LD_PRELOAD library that makes one chosen read of LMDB
 * fail, the way a damaged index does (a page that fails LMDB's checks, a
 * page number past the end of the file), so that a test can walk every
 * read of a query: run it once to count its reads, then once per N with
 * the Nth failing.  It stands between dnnprov and liblmdb, so the code
 * under test is the code that ships.
 *
 *   DP_LMDB_FAIL    the read to fail, counted from 1 (mdb_get,
 *                   mdb_cursor_get); unset or 0: none fails.
 *   DP_LMDB_ERROR   CORRUPTED (MDB_CORRUPTED, the default) or PAGE_NOTFOUND.
 *   DP_LMDB_COUNT   a file to which the number of reads made is written at
 *                   exit.
 *   DP_LMDB_LOG     a file to which one line is appended when the read
 *                   fails, so a test knows it happened.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int (*next_get)(MDB_txn *, MDB_dbi, MDB_val *, MDB_val *);
static int (*next_cursor_get)(MDB_cursor *, MDB_val *, MDB_val *, MDB_cursor_op);
static unsigned long fail_at;
static int fail_code = MDB_CORRUPTED;
static atomic_ulong reads;
static const char *count_file, *log_file;

__attribute__((constructor)) static void setup(void)
{
	next_get = (int (*)(MDB_txn *, MDB_dbi, MDB_val *, MDB_val *))dlsym(RTLD_NEXT, "mdb_get");
	next_cursor_get = (int (*)(MDB_cursor *, MDB_val *, MDB_val *, MDB_cursor_op))dlsym(RTLD_NEXT, "mdb_cursor_get");
	const char *s = getenv("DP_LMDB_FAIL");
	fail_at = s ? strtoul(s, NULL, 10) : 0;
	s = getenv("DP_LMDB_ERROR");
	if (s && strcmp(s, "PAGE_NOTFOUND") == 0)
		fail_code = MDB_PAGE_NOTFOUND;
	count_file = getenv("DP_LMDB_COUNT");
	log_file = getenv("DP_LMDB_LOG");
}

__attribute__((destructor)) static void report(void)
{
	if (!count_file)
		return;
	int fd = open(count_file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return;
	char b[32];
	int n = snprintf(b, sizeof(b), "%lu\n", (unsigned long)reads);
	if (write(fd, b, (size_t)n) < 0) {
		/* nothing to report it to */
	}
	close(fd);
}

static int fails(const char *what)
{
	unsigned long n = ++reads;
	if (!fail_at || n != fail_at)
		return 0;
	if (log_file) {
		int fd = open(log_file, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			char b[64];
			int len = snprintf(b, sizeof(b), "%s %lu\n", what, n);
			if (write(fd, b, (size_t)len) < 0) {
				/* the test will see no log line */
			}
			close(fd);
		}
	}
	return 1;
}

int mdb_get(MDB_txn *txn, MDB_dbi dbi, MDB_val *key, MDB_val *data)
{
	return fails("mdb_get") ? fail_code : next_get(txn, dbi, key, data);
}

int mdb_cursor_get(MDB_cursor *c, MDB_val *key, MDB_val *data, MDB_cursor_op op)
{
	return fails("mdb_cursor_get") ? fail_code : next_cursor_get(c, key, data, op);
}
