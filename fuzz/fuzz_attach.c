/*
 * fuzz_attach.c - dataflow specifications with arbitrary names, into the
 * SQL attach (sql/attach.c): the tables and views it creates are built
 * from those names, so a name must never end its quotes.
 *
 * The input is names separated by NUL bytes; each name's first byte says
 * what it names (its value mod 5: a hyperparameter, a metric, a
 * transformation, a set of the last transformation, an attribute of the
 * last set), the rest is the name, any bytes but NUL.  The specification
 * is written into a scratch index as dataflow "df", the default one, so
 * that the DfAnalyzer views are made from it too.  Then:
 *   - the attach succeeds, or fails with a detail and leaves nothing;
 *   - no database is attached and nothing is created in main;
 *   - every statement that ran (SQLITE_TRACE_STMT) is one of the attach's
 *     own: as many as the objects it made, each a CREATE of one of them,
 *     whose quoted name is SQLite's own quoting of the name (%w); a
 *     failed attach ran only CREATEs and the DROPs that undo them;
 *   - every view it made compiles.
 */
#include <msgpack.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "indexer/index.h"
#include "sql/sql.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_NAMES 48

typedef struct traced {
	char **sql;
	size_t n;
} traced;

static int on_trace(unsigned what, void *ctx, void *p, void *x)
{
	traced *t = ctx;
	const char *sql = x;
	(void)p;
	if (what != SQLITE_TRACE_STMT)
		return 0;
	if (strncmp(sql, "-- ", 3) == 0)
		sql += 3;
	char **grown = realloc(t->sql, (t->n + 1) * sizeof(char *));
	if (!grown || !(grown[t->n] = strdup(sql)))
		abort();
	t->sql = grown;
	t->n++;
	return 0;
}

static void pack_str(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str(pk, strlen(s));
	msgpack_pack_str_body(pk, s, strlen(s));
}

typedef struct spec {
	const char *hyps[MAX_NAMES], *metrics[MAX_NAMES], *tfs[MAX_NAMES];
	size_t nhyps, nmetrics, ntfs;
	/* per transformation: its sets; per set: its attributes */
	const char *sets[MAX_NAMES][MAX_NAMES];
	size_t nsets[MAX_NAMES];
	const char *attrs[MAX_NAMES][MAX_NAMES][8];
	size_t nattrs[MAX_NAMES][MAX_NAMES];
} spec;

static void pack_spec(const spec *sp, msgpack_sbuffer *buf)
{
	msgpack_packer pk;
	msgpack_packer_init(&pk, buf, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 4);
	pack_str(&pk, "hyperparameters");
	msgpack_pack_array(&pk, sp->nhyps);
	for (size_t i = 0; i < sp->nhyps; i++) {
		msgpack_pack_map(&pk, 2);
		pack_str(&pk, "name");
		pack_str(&pk, sp->hyps[i]);
		pack_str(&pk, "type");
		pack_str(&pk, i % 2 ? "text" : "numeric");
	}
	pack_str(&pk, "metrics");
	msgpack_pack_array(&pk, sp->nmetrics);
	for (size_t i = 0; i < sp->nmetrics; i++)
		pack_str(&pk, sp->metrics[i]);
	pack_str(&pk, "adaptation");
	msgpack_pack_true(&pk);
	pack_str(&pk, "transformations");
	msgpack_pack_array(&pk, sp->ntfs);
	for (size_t t = 0; t < sp->ntfs; t++) {
		msgpack_pack_map(&pk, 3);
		pack_str(&pk, "name");
		pack_str(&pk, sp->tfs[t]);
		pack_str(&pk, "depends_on");
		msgpack_pack_array(&pk, 0);
		pack_str(&pk, "sets");
		msgpack_pack_array(&pk, sp->nsets[t]);
		for (size_t k = 0; k < sp->nsets[t]; k++) {
			msgpack_pack_map(&pk, 3);
			pack_str(&pk, "name");
			pack_str(&pk, sp->sets[t][k]);
			pack_str(&pk, "direction");
			pack_str(&pk, k % 2 ? "output" : "input");
			pack_str(&pk, "attributes");
			msgpack_pack_array(&pk, sp->nattrs[t][k]);
			for (size_t a = 0; a < sp->nattrs[t][k]; a++) {
				msgpack_pack_map(&pk, 2);
				pack_str(&pk, "name");
				pack_str(&pk, sp->attrs[t][k][a]);
				pack_str(&pk, "type");
				pack_str(&pk, a % 2 ? "text" : "numeric");
			}
		}
	}
}

/* The names of the input, in the specification's places. */
static void read_spec(char *text, size_t size, spec *sp)
{
	memset(sp, 0, sizeof(*sp));
	for (char *p = text, *end = text + size; p < end; p += strlen(p) + 1) {
		if (!*p || !p[1])
			continue;
		const char *name = p + 1;
		switch ((unsigned char)*p % 5) {
		case 0:
			if (sp->nhyps < MAX_NAMES)
				sp->hyps[sp->nhyps++] = name;
			break;
		case 1:
			if (sp->nmetrics < MAX_NAMES)
				sp->metrics[sp->nmetrics++] = name;
			break;
		case 2:
			if (sp->ntfs < MAX_NAMES)
				sp->tfs[sp->ntfs++] = name;
			break;
		case 3:
			if (!sp->ntfs)
				sp->tfs[sp->ntfs++] = "T";
			if (sp->nsets[sp->ntfs - 1] < MAX_NAMES)
				sp->sets[sp->ntfs - 1][sp->nsets[sp->ntfs - 1]++] = name;
			break;
		default: {
			size_t t = sp->ntfs ? sp->ntfs - 1 : 0;
			if (!sp->ntfs || !sp->nsets[t])
				break;
			size_t k = sp->nsets[t] - 1;
			if (sp->nattrs[t][k] < 8)
				sp->attrs[t][k][sp->nattrs[t][k]++] = name;
		}
		}
	}
}

static dp_index *scratch_index(void)
{
	static dp_index *ix;
	static char dir[] = "/tmp/fuzz_attach.XXXXXX";
	if (!ix && (!mkdtemp(dir) || dp_index_open(dir, true, NULL, &ix)))
		abort();
	return ix;
}

static void put_spec(dp_index *ix, const msgpack_sbuffer *buf)
{
	MDB_txn *txn;
	dp_key key;
	dp_key_reset(&key);
	dp_key_cstr(&key, "df");
	MDB_val k = dp_key_val(&key), v = { buf->size, buf->data };
	if (mdb_txn_begin(ix->env, NULL, 0, &txn) || mdb_put(txn, ix->dbi[DP_DB_DATAFLOWS], &k, &v, 0) ||
	    mdb_txn_commit(txn))
		abort();
}

static int count_rows(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	int n = 0;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		abort();
	while (sqlite3_step(st) == SQLITE_ROW)
		n++;
	sqlite3_finalize(st);
	return n;
}

/* Whether a traced statement is the attach's CREATE of object `name`. */
static bool creates(const char *sql, const char *name)
{
	char *table = sqlite3_mprintf("CREATE VIRTUAL TABLE temp.\"%w\" USING dnnprov(", name);
	char *view = sqlite3_mprintf("CREATE TEMP VIEW \"%w\" AS ", name); /* SELECT, or WITH */
	bool yes = (table && strncmp(sql, table, strlen(table)) == 0) || (view && strncmp(sql, view, strlen(view)) == 0);
	sqlite3_free(table);
	sqlite3_free(view);
	return yes;
}

static void check(sqlite3 *db, dp_sql *s, int rc, const traced *t)
{
	/* Nothing attached, nothing in main. */
	if (count_rows(db, "PRAGMA database_list") != 2 || count_rows(db, "SELECT 1 FROM main.sqlite_master") != 0)
		abort();
	if (rc) {
		if (!dnnprov_errmsg()[0] || dp_sql_ntables(s) != 0 || count_rows(db, "SELECT 1 FROM temp.sqlite_master"))
			abort(); /* no detail, or something left */
		for (size_t i = 0; i < t->n; i++)
			if (strncmp(t->sql[i], "CREATE VIRTUAL TABLE temp.\"", 27) && strncmp(t->sql[i], "CREATE TEMP VIEW \"", 18) &&
			    strncmp(t->sql[i], "DROP VIEW IF EXISTS temp.\"", 26) &&
			    strncmp(t->sql[i], "DROP TABLE IF EXISTS temp.\"", 27))
				abort();
		return;
	}
	/* One CREATE per object, in order, each of its object. */
	size_t n = dp_sql_ntables(s);
	if (t->n != n || (size_t)count_rows(db, "SELECT 1 FROM temp.sqlite_master WHERE type IN ('table', 'view')") != n)
		abort();
	for (size_t i = 0; i < t->n; i++) {
		bool found = false;
		for (size_t j = 0; j < n && !found; j++)
			found = creates(t->sql[i], dp_sql_table(s, j));
		if (!found)
			abort();
	}
	for (size_t j = 0; j < n; j++) {
		const char *name = dp_sql_table(s, j);
		char *probe = sqlite3_mprintf("SELECT * FROM temp.\"%w\" LIMIT 0", name);
		sqlite3_stmt *st = NULL;
		if (!probe || sqlite3_prepare_v2(db, probe, -1, &st, NULL) != SQLITE_OK)
			abort(); /* a view that does not compile, or a name that is not its own */
		sqlite3_finalize(st);
		sqlite3_free(probe);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static spec sp;
	msgpack_sbuffer buf;
	traced t = { 0 };
	MDB_txn *txn;
	sqlite3 *db;
	dp_sql *s;
	char *text;

	if (size > 4096)
		return 0;
	if (!(text = malloc(size + 1)))
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	read_spec(text, size, &sp);
	msgpack_sbuffer_init(&buf);
	pack_spec(&sp, &buf);
	dp_index *ix = scratch_index();
	put_spec(ix, &buf);
	if (dp_index_read(ix, &txn) || sqlite3_open(":memory:", &db) != SQLITE_OK || dp_sql_register(db, &s))
		abort();
	sqlite3_trace_v2(db, SQLITE_TRACE_STMT, on_trace, &t);
	int rc = dp_sql_attach_snapshot(s, ix, txn, "df");
	sqlite3_trace_v2(db, 0, NULL, NULL);
	check(db, s, rc, &t);
	sqlite3_close(db);
	mdb_txn_abort(txn);
	for (size_t i = 0; i < t.n; i++)
		free(t.sql[i]);
	free(t.sql);
	msgpack_sbuffer_destroy(&buf);
	free(text);
	return 0;
}
