/*
 * dump_index.c - prints every entry of an index, one line each, decoded:
 * "DB key-fields... = value".  Two indexes of the same logs must dump the
 * same text, whatever order or how many runs built them.  Epochs are
 * printed one a line, as the records they hold, whatever blocks hold them
 * (indexer/epochs.h).  `meta` (commit
 * times) is left out; so are the progress fields that depend on when a
 * segment was read (size_seen).
 *
 * usage: dump_index INDEX_DIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "indexer/epochs.h"
#include "indexer/index.h"
#include "logger/decode.h"

static int cmp_cstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void print_key(dp_db db, const unsigned char *k, size_t n)
{
	/* Strings up to each NUL; the 8-byte fields of epochs, adaptations,
	 * tests and elements as numbers. */
	size_t pos = 0;
	int field = 0;
	while (pos < n) {
		bool number = (db == DP_DB_EPOCHS && field == 2) || (db == DP_DB_ADAPTATIONS && field == 2) ||
			      (db == DP_DB_TESTS && field >= 2) || (db == DP_DB_ELEMENTS && field >= 4) ||
			      (db == DP_DB_PROBLEMS && field == 1) ||
			      ((db == DP_DB_HYP_INDEX || db == DP_DB_COUNTS) && field == 2);
		if ((db == DP_DB_RANKS && field == 2) || (db == DP_DB_STARTS && field == 1)) {
			double d;
			if (!dp_key_get_double(k, n, &pos, &d))
				break;
			printf(" %.17g", d);
			field++;
			continue;
		}
		if (db == DP_DB_PROGRESS) { /* the bare path */
			printf(" %.*s", (int)n, (const char *)k);
			return;
		}
		if (number) {
			if (db == DP_DB_HYP_INDEX || db == DP_DB_COUNTS) { /* type byte, then a double or a string */
				unsigned char t = k[pos++];
				if (t == 1 && n - pos >= 8) {
					double d;
					dp_key_get_double(k, n, &pos, &d);
					printf(" %.17g", d);
				} else {
					const char *s;
					size_t len;
					if (!dp_key_get_str(k, n, &pos, &s, &len))
						break;
					printf(" \"%.*s\"", (int)len, s);
				}
			} else if (db == DP_DB_TESTS || db == DP_DB_ELEMENTS) {
				/* time, then the record id (4 + 8 bytes) */
				for (; pos < n; pos++)
					printf("%s%02x", pos ? "" : " ", k[pos]);
				break;
			} else if (n - pos >= 8) {
				int64_t v;
				dp_key_get_i64(k, n, &pos, &v);
				printf(" %lld", (long long)v);
			} else {
				break;
			}
		} else {
			const char *s;
			size_t len;
			if (!dp_key_get_str(k, n, &pos, &s, &len))
				break;
			printf(" %.*s", (int)len, s);
		}
		field++;
	}
}

/* A hyperparameter row (schema.h) by the names of its dataflow's list, in
 * name order: the positions depend on the order the specifications were
 * read in, the values do not. */
static void print_row(dp_index *ix, MDB_txn *txn, const unsigned char *key, size_t kn, const unsigned char *r,
		      size_t n)
{
	static dp_decoder dec;
	const char *names[256] = { 0 }, *df;
	size_t dn, pos = 0, count = 0;
	char *cells[256] = { 0 };
	msgpack_object o;
	MDB_val k, v;
	if (!dp_key_get_str(key, kn, &pos, &df, &dn))
		return;
	k = (MDB_val){ dn + 1, (void *)df };
	if (mdb_get(txn, ix->dbi[DP_DB_DATAFLOWS], &k, &v) == 0 && dp_decode(&dec, v.mv_data, v.mv_size, &o) == 0) {
		const msgpack_object *h = dp_map_get(&o, "hyperparameters");
		for (uint32_t i = 0; h && h->type == MSGPACK_OBJECT_ARRAY && i < h->via.array.size && i < 256; i++) {
			const msgpack_object *nm = dp_map_get(&h->via.array.ptr[i], "name");
			names[i] = nm && nm->type == MSGPACK_OBJECT_STR ? strndup(nm->via.str.ptr, nm->via.str.size) : NULL;
		}
	}
	for (size_t i = 0, p = 0; p < n && i < 256; i++) {
		unsigned char t = r[p++];
		char cell[600];
		uint64_t u = 0;
		if ((t == DP_ROW_INT || t == DP_ROW_REAL) && p + 8 <= n)
			for (int b = 7; b >= 0; b--)
				u = u << 8 | r[p + (size_t)b];
		if (t == DP_ROW_INT && p + 8 <= n) {
			snprintf(cell, sizeof(cell), "%lld", (long long)u);
			p += 8;
		} else if (t == DP_ROW_REAL && p + 8 <= n) {
			double d;
			memcpy(&d, &u, 8);
			snprintf(cell, sizeof(cell), "%.17g", d);
			p += 8;
		} else if (t == DP_ROW_TEXT && p < n && p + 1 + r[p] <= n) {
			snprintf(cell, sizeof(cell), "\"%.*s\"", (int)r[p], (const char *)r + p + 1);
			p += 1 + r[p];
		} else if (t == DP_ROW_OTHER || t == DP_ROW_NONE) {
			snprintf(cell, sizeof(cell), t == DP_ROW_OTHER ? "other" : "");
		} else {
			printf(" <bad row>");
			break;
		}
		if (t != DP_ROW_NONE && asprintf(&cells[count], "%s=%s", names[i] ? names[i] : "?", cell) >= 0)
			count++;
	}
	qsort(cells, count, sizeof(char *), cmp_cstr);
	for (size_t i = 0; i < count; i++) {
		printf(" %s", cells[i]);
		free(cells[i]);
	}
	for (size_t i = 0; i < 256; i++)
		free((char *)names[i]);
}

static void ev_json(dp_buf *b, const dp_ev *v)
{
	if (v->type == DP_EV_INT)
		dp_buf_printf(b, "%lld", (long long)v->i);
	else if (v->type == DP_EV_REAL)
		dp_json_double(b, v->d);
	else
		dp_buf_printf(b, "null");
}

static void dump_epochs(dp_index *ix, MDB_txn *txn, dp_buf *b)
{
	dp_epoch_scan sc;
	dp_epoch_at at;
	dp_key all;
	int r;
	dp_key_reset(&all);
	if (dp_epoch_scan_open(&sc, ix, txn, NULL, &all, false, 0))
		return;
	while ((r = dp_epoch_scan_next(&sc, &at)) == DP_SCAN_ROW) {
		b->len = 0;
		dp_buf_printf(b, "epochs %.*s %.*s %lld = {\"time\":", (int)at.dfn, at.df, (int)at.taskn, at.task,
			      (long long)at.epoch);
		dp_json_double(b, at.time);
		dp_buf_printf(b, ",\"elapsed\":");
		ev_json(b, &at.elapsed);
		dp_buf_printf(b, ",\"metrics\":{");
		for (uint32_t c = 0, k = 0; c < at.block->ncols; c++) {
			const dp_ev *v = &at.block->v[c][at.row];
			uint32_t m = at.block->col[c];
			if (v->type == DP_EV_NULL)
				continue;
			dp_buf_printf(b, "%s\"%s\":", k++ ? "," : "", m < at.nnames && at.names[m] ? at.names[m] : "?");
			ev_json(b, v);
		}
		dp_buf_printf(b, "}}\n");
		fwrite(b->data, 1, b->len, stdout);
	}
	if (r < 0)
		printf("epochs: %s\n", dnnprov_errmsg());
	dp_epoch_scan_close(&sc);
}

int main(int argc, char **argv)
{
	dp_index *ix;
	MDB_txn *txn;
	dp_decoder dec = { 0 };
	dp_buf b = { 0 };

	if (argc != 2) {
		fprintf(stderr, "usage: dump_index INDEX_DIR\n");
		return 2;
	}
	if (dp_index_open(argv[1], false, NULL, &ix) || dp_index_read(ix, &txn)) {
		fprintf(stderr, "dump_index: %s\n", dnnprov_errmsg());
		return 1;
	}
	for (int db = 0; db < DP_DB_COUNT; db++) {
		MDB_cursor *c;
		MDB_val k, v;
		if (db == DP_DB_META)
			continue;
		if (db == DP_DB_EPOCHS) {
			dump_epochs(ix, txn, &b);
			continue;
		}
		mdb_cursor_open(txn, ix->dbi[db], &c);
		for (int mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST); mrc == 0;
		     mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
			printf("%s", dp_db_names[db]);
			print_key((dp_db)db, k.mv_data, k.mv_size);
			printf(" =");
			dp_summary s;
			if (db == DP_DB_SUMMARIES && dp_summary_unpack(v.mv_data, v.mv_size, &s)) {
				printf(" count=%llu nan=%llu min=%.17g@%lld max=%.17g@%lld last=%.17g@%lld sum=%.17g",
				       (unsigned long long)s.count, (unsigned long long)s.nan_count, s.min,
				       (long long)s.min_epoch, s.max, (long long)s.max_epoch, s.last,
				       (long long)s.last_epoch, s.sum);
			} else if (db == DP_DB_PROGRESS && v.mv_size == sizeof(dp_progress)) {
				dp_progress p;
				memcpy(&p, v.mv_data, sizeof(p));
				printf(" offset=%llu records=%llu problems=%llu skipped=%llu sealed=%u",
				       (unsigned long long)p.offset, (unsigned long long)p.records,
				       (unsigned long long)p.problems, (unsigned long long)p.bytes_skipped, p.sealed);
				if (p.flags)
					printf(" flags=%u", p.flags);
			} else if (db == DP_DB_PROBLEMS && v.mv_size == sizeof(dp_problem_entry)) {
				dp_problem_entry e;
				memcpy(&e, v.mv_data, sizeof(e));
				e.why[sizeof(e.why) - 1] = '\0';
				printf(" kind=%u length=%llu %s", e.kind, (unsigned long long)e.length, e.why);
			} else if (db == DP_DB_COUNTS && v.mv_size == 8) {
				uint64_t count;
				dp_count_unpack(v.mv_data, v.mv_size, &count);
				printf(" %llu", (unsigned long long)count);
			} else if (db == DP_DB_RANKS) {
				print_row(ix, txn, k.mv_data, k.mv_size, v.mv_data, v.mv_size);
			} else if (v.mv_size == 0) {
				printf(" -");
			} else {
				msgpack_object o;
				b.len = 0;
				if (dp_decode(&dec, v.mv_data, v.mv_size, &o) == 0 && dp_json_object(&b, &o) == 0)
					printf(" %.*s", (int)b.len, b.data);
				else
					printf(" <%zu bytes>", v.mv_size);
			}
			printf("\n");
		}
		mdb_cursor_close(c);
	}
	mdb_txn_abort(txn);
	dp_index_close(ix);
	dp_buf_free(&b);
	dp_decoder_free(&dec);
	return fflush(stdout) == 0 ? 0 : 1;
}
