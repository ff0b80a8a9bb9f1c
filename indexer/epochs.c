/*
 * epochs.c - epoch blocks: their bytes (epochs.h is the layout), the
 * operations the indexer applies to them, and the scan that reads them.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "indexer/epochs.h"
#include "indexer/varint.h"
#include "logger/decode.h"

/* ---- the block in memory ------------------------------------------------------ */

void dp_eblock_clear(dp_eblock *b)
{
	b->n = 0;
	b->ncols = 0;
	b->next_col = 0;
	if (b->indexed)
		dp_map_clear(&b->col_index);
	b->indexed = 0;
}

void dp_eblock_free(dp_eblock *b)
{
	free(b->epoch);
	free(b->time);
	free(b->elapsed);
	free(b->col);
	for (uint32_t c = 0; c < b->colcap; c++)
		free(b->v[c]);
	free(b->v);
	dp_map_free(&b->col_index);
	memset(b, 0, sizeof(*b));
}

static int grow_rows(dp_eblock *b, uint32_t need)
{
	if (need <= b->cap)
		return 0;
	uint32_t cap = b->cap ? b->cap : 8;
	while (cap < need)
		cap *= 2;
	int64_t *e = realloc(b->epoch, cap * sizeof(*e));
	if (e)
		b->epoch = e;
	double *t = realloc(b->time, cap * sizeof(*t));
	if (t)
		b->time = t;
	dp_ev *el = realloc(b->elapsed, cap * sizeof(*el));
	if (el)
		b->elapsed = el;
	if (!e || !t || !el)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	for (uint32_t c = 0; c < b->colcap; c++) {
		dp_ev *v = realloc(b->v[c], cap * sizeof(*v));
		if (!v)
			return dp_error(DNNPROV_ENOMEM, "out of memory");
		b->v[c] = v;
	}
	b->cap = cap;
	assert(b->cap >= need);
	return 0;
}

#define INDEX_FROM 32 /* columns: fewer are searched one by one */

/* Whether metric m has a column (*out). */
static bool find_column(dp_eblock *b, uint32_t m, uint32_t *out)
{
	if (b->next_col < b->ncols && b->col[b->next_col] == m) {
		*out = b->next_col;
		return true;
	}
	while (b->ncols > INDEX_FROM && b->indexed < b->ncols) {
		void **slot = dp_map_slot(&b->col_index, &b->col[b->indexed], sizeof(uint32_t), true);
		if (!slot)
			break; /* no memory for the map: searched one by one */
		*slot = (void *)(uintptr_t)(b->indexed + 1);
		b->indexed++;
	}
	if (b->ncols > INDEX_FROM && b->indexed == b->ncols) {
		void **slot = dp_map_slot(&b->col_index, &m, sizeof(m), false);
		if (slot && *slot)
			*out = (uint32_t)((uintptr_t)*slot - 1);
		return slot && *slot;
	}
	for (uint32_t c = 0; c < b->ncols; c++)
		if (b->col[c] == m) {
			*out = c;
			return true;
		}
	return false;
}

/* Column of metric m, added (no value in any row) when absent. */
static int column(dp_eblock *b, uint32_t m, uint32_t *out)
{
	if (find_column(b, m, out)) {
		b->next_col = *out + 1;
		return 0;
	}
	if (b->ncols == b->colcap) {
		uint32_t cap = b->colcap ? b->colcap * 2 : 8;
		uint32_t *col = realloc(b->col, cap * sizeof(*col));
		if (col)
			b->col = col;
		dp_ev **v = realloc(b->v, cap * sizeof(*v));
		if (v)
			b->v = v;
		if (!col || !v)
			return dp_error(DNNPROV_ENOMEM, "out of memory");
		for (uint32_t c = b->colcap; c < cap; c++)
			b->v[c] = NULL;
		for (uint32_t c = b->colcap; c < cap; c++)
			if (b->cap && !(b->v[c] = malloc(b->cap * sizeof(dp_ev)))) {
				b->colcap = c; /* freed with the block */
				return dp_error(DNNPROV_ENOMEM, "out of memory");
			}
		b->colcap = cap;
	}
	assert(b->ncols < b->colcap);
	uint32_t c = b->ncols++;
	b->col[c] = m;
	if (b->cap && !b->v[c] && !(b->v[c] = malloc(b->cap * sizeof(dp_ev))))
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	for (uint32_t r = 0; r < b->n; r++)
		b->v[c][r] = (dp_ev){ 0 };
	*out = c;
	b->next_col = c + 1;
	return 0;
}

uint32_t dp_eblock_find(const dp_eblock *b, int64_t e, bool *found)
{
	uint32_t lo = 0, hi = b->n;
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		if (b->epoch[mid] < e)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < b->n && b->epoch[lo] == e;
	/* Rows ascend, one per epoch: lo is where e is or would go. */
	assert(lo <= b->n && (lo == 0 || b->epoch[lo - 1] < e));
	return lo;
}

int dp_eblock_put_row(dp_eblock *b, uint32_t at, bool replace, int64_t e, double time, dp_ev elapsed)
{
	int rc;
	assert(replace ? at < b->n && b->epoch[at] == e : at <= b->n);
	if (!replace) {
		if ((rc = grow_rows(b, b->n + 1)))
			return rc;
		size_t move = b->n - at;
		memmove(b->epoch + at + 1, b->epoch + at, move * sizeof(*b->epoch));
		memmove(b->time + at + 1, b->time + at, move * sizeof(*b->time));
		memmove(b->elapsed + at + 1, b->elapsed + at, move * sizeof(*b->elapsed));
		for (uint32_t c = 0; c < b->ncols; c++)
			memmove(b->v[c] + at + 1, b->v[c] + at, move * sizeof(dp_ev));
		b->n++;
	}
	b->epoch[at] = e;
	b->time[at] = time;
	b->elapsed[at] = elapsed;
	/* The block's epochs stay in ascending order, each once. */
	assert(b->n <= b->cap && (at == 0 || b->epoch[at - 1] < e) && (at + 1 >= b->n || b->epoch[at + 1] > e));
	/* A re-logged epoch replaces the whole record: metrics it no longer
	 * reports are gone. */
	for (uint32_t c = 0; c < b->ncols; c++)
		b->v[c][at] = (dp_ev){ 0 };
	return 0;
}

int dp_eblock_set(dp_eblock *b, uint32_t r, uint32_t metric, dp_ev v)
{
	uint32_t c;
	assert(r < b->n);
	int rc = column(b, metric, &c);
	if (!rc)
		b->v[c][r] = v;
	return rc;
}

int dp_eblock_split(dp_eblock *a, uint32_t from, dp_eblock *b)
{
	int rc;
	assert(from <= a->n && b != a);
	dp_eblock_clear(b);
	if ((rc = grow_rows(b, a->n - from)))
		return rc;
	for (uint32_t c = 0; c < a->ncols; c++) {
		uint32_t bc;
		if ((rc = column(b, a->col[c], &bc)))
			return rc;
	}
	uint32_t n = a->n - from;
	memcpy(b->epoch, a->epoch + from, n * sizeof(*b->epoch));
	memcpy(b->time, a->time + from, n * sizeof(*b->time));
	memcpy(b->elapsed, a->elapsed + from, n * sizeof(*b->elapsed));
	for (uint32_t c = 0; c < a->ncols; c++)
		memcpy(b->v[c], a->v[c] + from, n * sizeof(dp_ev));
	b->n = n;
	a->n = from;
	return 0;
}

/* ---- bytes ------------------------------------------------------------------------ */

static unsigned char *put_value(unsigned char *p, const dp_ev *v, uint64_t *prev)
{
	if (v->type == DP_EV_NULL) {
		*p++ = 0x00;
	} else if (v->type == DP_EV_INT) {
		*p++ = 0x01;
		p = dp_zigzag_put(p, v->i);
	} else {
		uint64_t bits;
		memcpy(&bits, &v->d, 8);
		uint64_t x = bits ^ *prev;
		*prev = bits;
		if (!x) {
			*p++ = 0x02;
			return p;
		}
		unsigned lead = (unsigned)__builtin_clzll(x) / 8, trail = (unsigned)__builtin_ctzll(x) / 8;
		assert(lead + trail < 8); /* x is not 0: a byte at least is written */
		*p++ = (unsigned char)(0x40 | lead << 3 | trail);
		for (int i = 7 - (int)lead; i >= (int)trail; i--)
			*p++ = (unsigned char)(x >> (8 * i));
	}
	return p;
}

int dp_eblock_encode(const dp_eblock *b, dp_buf *out)
{
	/* At most 11 bytes a value (a control byte and a 10-byte varint). */
	size_t need = 16 + 11 * (size_t)b->ncols + 11 * (size_t)b->n * (3 + b->ncols);
	int rc;
	out->len = 0;
	if ((rc = dp_buf_reserve(out, need)))
		return rc;
	unsigned char *p = (unsigned char *)out->data;
	bool dense = true;
	for (uint32_t r = 1; r < b->n && dense; r++)
		dense = b->epoch[r] - b->epoch[r - 1] == 1;
	*p++ = 0x01;
	p = dp_varint_put(p, b->n);
	p = dp_varint_put(p, b->ncols);
	for (uint32_t c = 0; c < b->ncols; c++)
		p = dp_varint_put(p, b->col[c]);
	*p++ = dense;
	for (uint32_t r = 1; r < b->n && !dense; r++)
		p = dp_varint_put(p, (uint64_t)(b->epoch[r] - b->epoch[r - 1] - 1));
	uint64_t prev = 0;
	for (uint32_t r = 0; r < b->n; r++) {
		dp_ev t = { DP_EV_REAL, 0, b->time[r] };
		p = put_value(p, &t, &prev);
	}
	prev = 0;
	for (uint32_t r = 0; r < b->n; r++)
		p = put_value(p, &b->elapsed[r], &prev);
	for (uint32_t c = 0; c < b->ncols; c++) {
		prev = 0;
		for (uint32_t r = 0; r < b->n; r++)
			p = put_value(p, &b->v[c][r], &prev);
	}
	out->len = (size_t)(p - (unsigned char *)out->data);
	assert(out->len <= need); /* the bound reserved above */
	return 0;
}

static dp_ev get_value(dp_packed_reader *r, uint64_t *prev)
{
	dp_ev v = { 0 };
	if (r->p >= r->end) {
		r->bad = true;
		return v;
	}
	unsigned char c = *r->p++;
	if (c == 0x00)
		return v;
	if (c == 0x01) {
		v.type = DP_EV_INT;
		v.i = dp_zigzag_get(r);
		v.d = (double)v.i;
		return v;
	}
	uint64_t x = 0;
	if (c != 0x02) {
		unsigned lead = (c >> 3) & 7, trail = c & 7;
		if ((c & 0xc0) != 0x40 || lead + trail > 7 || (size_t)(r->end - r->p) < 8 - lead - trail) {
			r->bad = true;
			return v;
		}
		for (int i = 7 - (int)lead; i >= (int)trail; i--)
			x |= (uint64_t)*r->p++ << (8 * i);
	}
	*prev ^= x;
	v.type = DP_EV_REAL;
	memcpy(&v.d, prev, 8);
	return v;
}

int dp_eblock_decode(const void *data, size_t len, int64_t first, dp_eblock *b)
{
	dp_packed_reader r = { data, (const unsigned char *)data + len, false };
	int rc;
	dp_eblock_clear(b);
	if (len < 4 || *r.p++ != 0x01)
		return DNNPROV_ECORRUPT;
	uint64_t n = dp_varint_get(&r), ncols = dp_varint_get(&r);
	/* Every value takes a byte at least: bounds before allocating. */
	if (r.bad || n == 0 || n > DP_EBLOCK_MAX || ncols > len || (ncols + 2) * n > len)
		return DNNPROV_ECORRUPT;
	if ((rc = grow_rows(b, (uint32_t)n)))
		return rc;
	for (uint64_t c = 0; c < ncols; c++) {
		uint64_t m = dp_varint_get(&r);
		uint32_t at;
		if (r.bad || m > UINT32_MAX)
			return DNNPROV_ECORRUPT;
		if ((rc = column(b, (uint32_t)m, &at)))
			return rc;
		if (at != c)
			return DNNPROV_ECORRUPT; /* a metric named twice */
	}
	b->n = (uint32_t)n;
	if (r.p >= r.end)
		return DNNPROV_ECORRUPT;
	bool dense = *r.p++;
	b->epoch[0] = first;
	for (uint32_t i = 1; i < b->n; i++) {
		uint64_t gap = dense ? 0 : dp_varint_get(&r);
		if (gap >= (uint64_t)INT64_MAX || b->epoch[i - 1] > INT64_MAX - 1 - (int64_t)gap)
			return DNNPROV_ECORRUPT;
		b->epoch[i] = b->epoch[i - 1] + 1 + (int64_t)gap;
	}
	uint64_t prev = 0;
	for (uint32_t i = 0; i < b->n; i++) {
		dp_ev t = get_value(&r, &prev);
		b->time[i] = t.d;
	}
	prev = 0;
	for (uint32_t i = 0; i < b->n; i++)
		b->elapsed[i] = get_value(&r, &prev);
	for (uint32_t c = 0; c < b->ncols; c++) {
		prev = 0;
		for (uint32_t i = 0; i < b->n; i++)
			b->v[c][i] = get_value(&r, &prev);
	}
	assert(r.p <= r.end);
	return r.bad || r.p != r.end ? DNNPROV_ECORRUPT : 0;
}

/* ---- names ------------------------------------------------------------------------- */

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
}

/* The dataflow's list of metric names (its dataflows value), as the blocks
 * name them: *names (each and the array freed by the caller).  No
 * dataflow: an empty list. */
static int dp_df_metric_names(const dp_index *ix, MDB_txn *txn, const char *df, size_t dfn, char ***names, size_t *n)
{
	dp_key k;
	MDB_val key, val;
	dp_decoder dec = { 0 };
	msgpack_object o;
	int rc = 0;

	*names = NULL;
	*n = 0;
	dp_key_reset(&k);
	dp_key_str(&k, df, dfn);
	key = dp_key_val(&k);
	int mrc = k.overflow ? MDB_NOTFOUND : mdb_get(txn, ix->dbi[DP_DB_DATAFLOWS], &key, &val);
	if (mrc)
		return mrc == MDB_NOTFOUND ? 0 : dp_lmdb_error(mrc, "dataflows");
	if (dp_decode(&dec, val.mv_data, val.mv_size, &o) != 0) {
		rc = dec.out_of_memory ? dp_error(DNNPROV_ENOMEM, "out of memory") : 0;
		dp_decoder_free(&dec);
		return rc;
	}
	const msgpack_object *m = dp_map_get(&o, "metrics");
	size_t cnt = m && m->type == MSGPACK_OBJECT_ARRAY ? m->via.array.size : 0;
	char **list = calloc(cnt + 1, sizeof(char *));
	if (!list)
		rc = dp_error(DNNPROV_ENOMEM, "out of memory");
	for (size_t i = 0; !rc && i < cnt; i++) {
		const msgpack_object *s = &m->via.array.ptr[i];
		if (s->type != MSGPACK_OBJECT_STR)
			continue; /* a name that is no string: its columns stay unnamed */
		if (!(list[i] = strndup(s->via.str.ptr, s->via.str.size)))
			rc = dp_error(DNNPROV_ENOMEM, "out of memory");
	}
	dp_decoder_free(&dec);
	if (rc) {
		free_names(list, cnt);
		return rc;
	}
	*names = list;
	*n = cnt;
	return 0;
}

/* ---- the scan ---------------------------------------------------------------------- */

int dp_epoch_scan_open(dp_epoch_scan *s, const dp_index *ix, MDB_txn *txn, MDB_cursor *c, const dp_key *prefix,
		       bool has_from, int64_t from)
{
	int rc = 0;
	memset(s, 0, sizeof(*s));
	s->ix = ix;
	s->txn = txn;
	s->has_from = has_from;
	s->from_epoch = from;
	s->state = DP_SCAN_ROW;
	dp_key start = *prefix;
	if (has_from) {
		/* The block holding `from` may begin before it: the last block
		 * key <= (task, from), found going backwards from before
		 * (task, from + 1), or from after every epoch. */
		dp_scan back;
		dp_key before = *prefix;
		MDB_val k, v;
		dp_key_i64(&before, from == INT64_MAX ? from : from + 1);
		if (from == INT64_MAX && before.n < DP_KEY_MAX)
			before.b[before.n++] = 0xff;
		if ((rc = dp_scan_open_before(&back, ix, txn, DP_DB_EPOCHS, prefix, &before)))
			return rc;
		int r = dp_scan_next(&back, &k, &v);
		if (r == DP_SCAN_ROW && k.mv_size <= DP_KEY_MAX) {
			memcpy(start.b, k.mv_data, k.mv_size);
			start.n = k.mv_size;
		}
		dp_scan_close(&back);
		if (r < 0)
			return r;
	}
	if (c)
		dp_scan_on(&s->sc, c, DP_DB_EPOCHS, prefix, &start);
	else
		rc = dp_scan_open(&s->sc, ix, txn, DP_DB_EPOCHS, prefix, &start);
	return rc;
}

/* Loads the block at the scan's current key; the names of its dataflow
 * when the dataflow changed. */
static int load_block(dp_epoch_scan *s, const MDB_val *k, const MDB_val *v)
{
	size_t pos = 0, dn, tn;
	const char *df, *task;
	int64_t first;
	int rc;
	if (!dp_key_get_str(k->mv_data, k->mv_size, &pos, &df, &dn) ||
	    !dp_key_get_str(k->mv_data, k->mv_size, &pos, &task, &tn) ||
	    !dp_key_get_i64(k->mv_data, k->mv_size, &pos, &first) || pos != k->mv_size)
		return dp_error(DNNPROV_ECORRUPT, "epochs: a key that is no (dataflow, task, epoch)");
	if ((rc = dp_eblock_decode(v->mv_data, v->mv_size, first, &s->b)))
		return rc == DNNPROV_ENOMEM ? rc : dp_error(rc, "epochs: a damaged block (task %.*s, epoch %lld)",
							     (int)tn, task, (long long)first);
	if (strlen(s->dfname) != dn || memcmp(s->dfname, df, dn) != 0 || !s->names) {
		free_names(s->names, s->nnames);
		s->names = NULL;
		s->nnames = 0;
		if ((rc = dp_df_metric_names(s->ix, s->txn, df, dn, &s->names, &s->nnames)))
			return rc;
		snprintf(s->dfname, sizeof(s->dfname), "%.*s", (int)dn, df);
	}
	s->k = *k;
	s->row = 0;
	s->loaded = true;
	assert(s->b.n >= 1 && s->b.n <= DP_EBLOCK_MAX && s->b.epoch[0] == first); /* a decoded block */
	return 0;
}

int dp_epoch_scan_next(dp_epoch_scan *s, dp_epoch_at *at)
{
	while (s->state == DP_SCAN_ROW) {
		if (!s->loaded || s->row >= s->b.n) {
			MDB_val k, v;
			int r = dp_scan_next(&s->sc, &k, &v);
			if (r != DP_SCAN_ROW) {
				s->state = r;
				break;
			}
			if ((r = load_block(s, &k, &v))) {
				s->state = r;
				break;
			}
		}
		uint32_t r = s->row++;
		assert(r < s->b.n);
		if (s->has_from && s->b.epoch[r] < s->from_epoch)
			continue;
		size_t pos = 0;
		dp_key_get_str(s->k.mv_data, s->k.mv_size, &pos, &at->df, &at->dfn);
		dp_key_get_str(s->k.mv_data, s->k.mv_size, &pos, &at->task, &at->taskn);
		at->epoch = s->b.epoch[r];
		at->time = s->b.time[r];
		at->elapsed = s->b.elapsed[r];
		at->block = &s->b;
		at->row = r;
		at->names = s->names;
		at->nnames = s->nnames;
		return DP_SCAN_ROW;
	}
	return s->state;
}

void dp_epoch_scan_close(dp_epoch_scan *s)
{
	dp_scan_close(&s->sc);
	dp_eblock_free(&s->b);
	free_names(s->names, s->nnames);
	s->names = NULL;
	s->nnames = 0;
	if (s->state == DP_SCAN_ROW)
		s->state = DP_SCAN_END;
}
