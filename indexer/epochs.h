/*
 * epochs.h - the epoch store of the index (schema.h, "epochs"): blocks of
 * a task's epochs, their byte layout, and the one scan that reads them
 * back one epoch at a time, for the indexer and every query.
 *
 * A block is the value of key (df, task, int64 first epoch).  It holds the
 * task's epochs from `first` up to the next block's first epoch, at most
 * DP_EBLOCK_MAX of them, in ascending order, one per epoch number.  Its
 * columns are the epoch numbers, the times, the elapsed times and one
 * column per metric the block's epochs reported, named by its position in
 * the dataflow's list of metrics (the `metrics` of its dataflows value,
 * which only grows), so no record repeats a name.  LAYOUT (v = LEB128
 * varint, z = zig-zag varint):
 *
 *   u8  0x01 (the block format)
 *   v   n: epochs (1..DP_EBLOCK_MAX)
 *   v   ncols: metric columns
 *   v   ncols times: the metric's position in the dataflow's list
 *   u8  dense: 1 when the epochs are first, first+1, ..., else 0 and
 *       v (n-1) times: the gap to the previous epoch, minus one
 *   col times, col elapsed, then col of each metric in order, each a
 *   value per epoch:
 *     0x00               no value (the epoch did not report the metric)
 *     0x01 z             an integer (integers stay integers)
 *     0x02               a double equal to the column's previous double
 *     0x40|L<<3|T bytes  a double: its bits XOR the column's previous
 *                        double (0 before the first), L leading and T
 *                        trailing zero bytes left out, the 8-L-T others
 *                        big-endian
 *
 * Doubles stay doubles, bit for bit (NaN included): the XOR of neighbours
 * is only a shorter spelling.  A block is rewritten whole when an epoch
 * joins it; a re-logged epoch replaces the one it repeats.  Blocks are kept
 * under DP_EBLOCK_BYTES so that four fill an LMDB page without an overflow
 * page (docs/INDEX.md says why these numbers).
 */
#ifndef DNNPROV_EPOCHS_H
#define DNNPROV_EPOCHS_H

#include "indexer/index.h"
#include "util/map.h"

#define DP_EBLOCK_MAX 64
#define DP_EBLOCK_BYTES 510 /* key, node header and value: a quarter of a page */

typedef enum dp_ev_type { DP_EV_NULL = 0, DP_EV_INT, DP_EV_REAL } dp_ev_type;

/* A value of an epoch: absent, an exact integer or a double. */
typedef struct dp_ev {
	uint8_t type;
	int64_t i;
	double d; /* also set for DP_EV_INT */
} dp_ev;

/* A block, decoded.  Column c of row r is v[c][r]. */
typedef struct dp_eblock {
	uint32_t n, cap, ncols, colcap;
	int64_t *epoch;
	double *time;
	dp_ev *elapsed;
	uint32_t *col; /* the metric's position in the dataflow's list */
	dp_ev **v;
	/* Finding a metric's column: after the column found last first (a
	 * record names its metrics in the order of the one before), then, in a
	 * block of many columns, the map metric -> column + 1 of the first
	 * `indexed` columns; one search per name made a record of 60,000 new
	 * metrics cost seconds. */
	uint32_t next_col, indexed;
	dp_map col_index;
} dp_eblock;

DP_INTERNAL void dp_eblock_clear(dp_eblock *b);
DP_INTERNAL void dp_eblock_free(dp_eblock *b);
/* Decodes a stored block (the key's first epoch is `first`); DNNPROV_ECORRUPT
 * for bytes that are no block, DNNPROV_ENOMEM. */
DP_INTERNAL int dp_eblock_decode(const void *p, size_t n, int64_t first, dp_eblock *b);
DP_INTERNAL int dp_eblock_encode(const dp_eblock *b, dp_buf *out);
/* The row of epoch e: its index, or where it would go (*found false). */
DP_INTERNAL uint32_t dp_eblock_find(const dp_eblock *b, int64_t e, bool *found);
/* Puts epoch e at row `at` (a new row, rows after it move up, when !replace);
 * its metric values are set with dp_eblock_set.  0 or DNNPROV_ENOMEM. */
DP_INTERNAL int dp_eblock_put_row(dp_eblock *b, uint32_t at, bool replace, int64_t e, double time, dp_ev elapsed);
/* Sets metric `metric` (a position in the dataflow's list) of row r. */
DP_INTERNAL int dp_eblock_set(dp_eblock *b, uint32_t r, uint32_t metric, dp_ev v);
/* Moves rows [from, n) of a into the empty block b. */
DP_INTERNAL int dp_eblock_split(dp_eblock *a, uint32_t from, dp_eblock *b);

/* ---- reading epochs back ---------------------------------------------------
 * Every read of epochs is this scan: the epochs of a dataflow, of a task, or
 * of a task from an epoch on, in (task, epoch) order, one at a time, with
 * the metric names resolved through the dataflow's list.
 */
typedef struct dp_epoch_at {
	const char *df, *task; /* inside the current key: valid until the next call */
	size_t dfn, taskn;
	int64_t epoch;
	double time;
	dp_ev elapsed;
	const dp_eblock *block; /* the metric values: row `row` of it */
	uint32_t row;
	char *const *names; /* names[block->col[c]] is column c's metric (NULL: unknown) */
	size_t nnames;
} dp_epoch_at;

typedef struct dp_epoch_scan {
	dp_scan sc;
	const dp_index *ix;
	MDB_txn *txn;
	int64_t from_epoch;
	bool has_from;
	int state; /* DP_SCAN_ROW while rows may follow */
	MDB_val k;
	dp_eblock b;
	uint32_t row;
	bool loaded;
	char dfname[DNNPROV_NAME_MAX + 1];
	char **names;
	size_t nnames;
} dp_epoch_scan;

/* The epochs whose keys start with `prefix` (a dataflow, or a dataflow and
 * a task), from epoch `from` on when has_from (then prefix names a task).
 * c, when not NULL, is a cursor on the epochs database the caller keeps.
 * 0 or an error. */
DP_INTERNAL int dp_epoch_scan_open(dp_epoch_scan *s, const dp_index *ix, MDB_txn *txn, MDB_cursor *c,
				   const dp_key *prefix, bool has_from, int64_t from);
/* DP_SCAN_ROW with *at set, DP_SCAN_END, or a negative error (a damaged
 * block is an error: DNNPROV_ECORRUPT naming the database). */
DP_INTERNAL int dp_epoch_scan_next(dp_epoch_scan *s, dp_epoch_at *at);
DP_INTERNAL void dp_epoch_scan_close(dp_epoch_scan *s);


#endif
