/*
 * cursor.c - the one prefix scan of the index (see index.h).
 *
 * LMDB's cursor ends a range with MDB_NOTFOUND and reports a damaged or
 * missing page with another code on the same call; a loop that stops on
 * "not 0" takes the second for the first and answers from part of the
 * data.  Here the two never meet: END is only MDB_NOTFOUND or a key past
 * the prefix.
 */
#include <assert.h>
#include <string.h>

#include "indexer/index.h"

static void init(dp_scan *s, const char *what, const dp_key *prefix, const dp_key *from)
{
	/* A start key outside the prefix's range would read nothing or the
	 * wrong keys: it begins with the prefix (or is the prefix). */
	assert(!from || from->overflow || prefix->overflow ||
	       (from->n >= prefix->n && memcmp(from->b, prefix->b, prefix->n) == 0));
	s->what = what;
	s->prefix = *prefix;
	s->from = from ? *from : *prefix;
	s->started = false;
	/* A key too long for LMDB was never stored: nothing to find. */
	s->state = prefix->overflow || s->from.overflow ? DP_SCAN_END : DP_SCAN_ROW;
}

void dp_scan_on(dp_scan *s, MDB_cursor *c, dp_db db, const dp_key *prefix, const dp_key *from)
{
	s->c = c;
	s->own = false;
	s->backward = false;
	init(s, dp_db_names[db], prefix, from);
}

static int open_cursor(dp_scan *s, MDB_txn *txn, MDB_dbi dbi)
{
	int mrc = mdb_cursor_open(txn, dbi, &s->c);
	s->own = mrc == 0;
	if (mrc) {
		s->c = NULL;
		s->state = dp_lmdb_error(mrc, s->what);
		return s->state;
	}
	return 0;
}

int dp_scan_open(dp_scan *s, const dp_index *ix, MDB_txn *txn, dp_db db, const dp_key *prefix, const dp_key *from)
{
	init(s, dp_db_names[db], prefix, from);
	s->backward = false;
	return open_cursor(s, txn, ix->dbi[db]);
}

int dp_scan_open_dbi(dp_scan *s, MDB_txn *txn, MDB_dbi dbi, const dp_key *prefix, const dp_key *from)
{
	init(s, "reading the index", prefix, from);
	s->backward = false;
	return open_cursor(s, txn, dbi);
}

int dp_scan_open_before(dp_scan *s, const dp_index *ix, MDB_txn *txn, dp_db db, const dp_key *prefix,
			const dp_key *before)
{
	init(s, dp_db_names[db], prefix, before);
	s->backward = true;
	return open_cursor(s, txn, ix->dbi[db]);
}

void dp_scan_seek(dp_scan *s, const dp_key *key)
{
	assert(!s->backward);
	if (s->state != DP_SCAN_ROW)
		return;
	s->from = *key;
	s->started = false;
	if (key->overflow)
		s->state = DP_SCAN_END;
}

/* The cursor's first position: the first key >= from, or going backwards
 * the last key < from. */
static int first(dp_scan *s, MDB_val *k, MDB_val *v)
{
	*k = dp_key_val(&s->from);
	if (s->from.n == 0)
		return mdb_cursor_get(s->c, k, v, s->backward ? MDB_LAST : MDB_FIRST);
	int mrc = mdb_cursor_get(s->c, k, v, MDB_SET_RANGE);
	if (!s->backward)
		return mrc;
	if (mrc == 0)
		return mdb_cursor_get(s->c, k, v, MDB_PREV);
	return mrc == MDB_NOTFOUND ? mdb_cursor_get(s->c, k, v, MDB_LAST) : mrc;
}

int dp_scan_next(dp_scan *s, MDB_val *k, MDB_val *v)
{
	int mrc;
	if (s->state != DP_SCAN_ROW)
		return s->state;
	if (!s->started) {
		s->started = true;
		mrc = first(s, k, v);
	} else {
		mrc = mdb_cursor_get(s->c, k, v, s->backward ? MDB_PREV : MDB_NEXT);
	}
	assert(s->c);
	if (mrc == MDB_NOTFOUND) {
		s->state = DP_SCAN_END;
	} else if (mrc) {
		s->state = dp_lmdb_error(mrc, s->what);
	} else if (k->mv_size < s->prefix.n || memcmp(k->mv_data, s->prefix.b, s->prefix.n) != 0) {
		s->state = DP_SCAN_END; /* past the prefix; an empty one takes every key */
	}
	/* ROW, END, or an error: never an LMDB code passed through. */
	assert(s->state == DP_SCAN_ROW || s->state == DP_SCAN_END || s->state < 0);
	return s->state;
}

void dp_scan_close(dp_scan *s)
{
	if (s->own && s->c)
		mdb_cursor_close(s->c);
	s->c = NULL;
	s->own = false;
	if (s->state == DP_SCAN_ROW)
		s->state = DP_SCAN_END; /* a closed scan has no more rows */
}
