/*
 * api.c - dnnprov_index_sql() (include/dnnprov.h): one SQL statement over
 * a snapshot of the index, on a connection of its own that lives for the
 * call, read-only and time-bounded as `dnnprov sql` is; the rows rendered
 * as every answer is (query/output.c).  The library carries SQLite for
 * it, so a program (the Python package) needs no SQLite of its own.
 *
 * Not in the loadable extension: that one runs inside a host's SQLite.
 */
#ifndef DP_SQLITE_EXTENSION
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/snapshots.h"
#include "sql/sql.h"

/* The error of a statement that failed, about the "sql" parameter: SQLite's
 * message and, when it says where, the statement with a caret. */
static int statement_error(sqlite3 *db, dp_sql *s, const char *text, double timeout_s)
{
	int code = sqlite3_errcode(db), at = sqlite3_error_offset(db);
	if (code == SQLITE_NOMEM)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	if (code == SQLITE_INTERRUPT && dp_sql_timed_out(s))
		return dp_error_subject(DNNPROV_EQUERY, "timeout", "the statement ran past its time limit of %g s",
					timeout_s);
	const char *denied = dp_sql_denied(s);
	dp_buf b = { 0 };
	if (code == SQLITE_AUTH || denied)
		dp_buf_printf(&b, "%s%s%s (read-only: no writes but to temp, no ATTACH of a file, only the functions "
				  "docs/SQL.md lists)", sqlite3_errmsg(db), denied ? ": " : "", denied ? denied : "");
	else
		dp_buf_printf(&b, "%s", sqlite3_errmsg(db));
	if (at >= 0) {
		dp_buf_putc(&b, '\n');
		dp_sql_position(&b, text, at);
	}
	int rc = dp_buf_cstr(&b) ? dp_error_subject(DNNPROV_EQUERY, "sql", "%s", dp_buf_cstr(&b))
				 : dp_error(DNNPROV_ENOMEM, "out of memory");
	dp_buf_free(&b);
	return rc;
}

static int bind_params(sqlite3_stmt *st, const dnnprov_value *params, size_t n)
{
	int src = SQLITE_OK;
	if (n > (size_t)sqlite3_bind_parameter_count(st))
		return dp_error_subject(DNNPROV_EQUERY, "params", "%zu parameters for a statement that takes %d", n,
					sqlite3_bind_parameter_count(st));
	for (size_t i = 0; i < n && src == SQLITE_OK; i++) {
		int at = (int)i + 1;
		assert(at <= sqlite3_bind_parameter_count(st)); /* ?1..?n, counted above */
		switch (params[i].type) {
		case DNNPROV_INT: src = sqlite3_bind_int64(st, at, params[i].as.i); break;
		case DNNPROV_REAL: src = sqlite3_bind_double(st, at, params[i].as.r); break;
		case DNNPROV_TEXT:
			src = params[i].as.s ? sqlite3_bind_text(st, at, params[i].as.s, -1, SQLITE_TRANSIENT)
					     : sqlite3_bind_null(st, at);
			break;
		default: src = sqlite3_bind_null(st, at); break;
		}
	}
	return src == SQLITE_OK ? 0 : dp_error(DNNPROV_ENOMEM, "out of memory binding the parameters");
}

/* Steps st to its end, its rows through w; rendering them counts
 * against the time limit, which SQLite checks only while it steps. */
static int write_rows(sqlite3_stmt *st, dp_sql *s, dp_rowout *w, int *src)
{
	int ncols = sqlite3_column_count(st), rc = 0;
	dp_qv *cells = calloc((size_t)ncols + 1, sizeof(dp_qv));
	dp_buf *hex = calloc((size_t)ncols + 1, sizeof(dp_buf));
	if (!cells || !hex)
		rc = dp_error(DNNPROV_ENOMEM, "out of memory");
	while (!rc && (*src = sqlite3_step(st)) == SQLITE_ROW) {
		if (!(rc = dp_sql_row(st, ncols, cells, hex)))
			rc = dp_rowout_row(w, cells);
		if (!rc && dp_sql_past_deadline(s)) {
			*src = SQLITE_INTERRUPT;
			break;
		}
	}
	for (int i = 0; hex && i < ncols; i++)
		dp_buf_free(&hex[i]);
	free(hex);
	free(cells);
	return rc;
}

/* The statement's answer, on a connection over snapshot q. */
static int answer(dp_query *q, const dnnprov_index *ix, const char *text, const dnnprov_value *params, size_t n,
		  const char *df, double timeout_s, dp_format fmt, FILE *mem)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	dp_sql *s;
	dp_table t = { 0 };
	dp_rowout w = { 0 };
	dp_freshness f;
	dp_buf json = { 0 }, trailer = { 0 };
	const char *tail = NULL;
	int rc, src = SQLITE_DONE;

	if (sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_MEMORY, NULL) != SQLITE_OK) {
		rc = dp_error(DNNPROV_ENOMEM, "cannot open SQLite: out of memory");
		goto out;
	}
	if ((rc = dp_sql_register(db, &s)) || (rc = dp_sql_attach_snapshot(s, q->ix, q->txn, df)) ||
	    (rc = dp_sql_restrict(s, timeout_s > 0 ? timeout_s : 0, DP_SQL_MAX_VALUE)))
		goto out;
	dp_sql_statement_begin(s);
	if (sqlite3_prepare_v2(db, text, -1, &st, &tail) != SQLITE_OK) {
		rc = statement_error(db, s, text, timeout_s);
		goto out_stmt;
	}
	if (!st) {
		rc = dp_error_subject(DNNPROV_EQUERY, "sql", "no statement");
		goto out_stmt;
	}
	if (tail && tail[strspn(tail, " \t\r\n;")]) {
		rc = dp_error_subject(DNNPROV_EQUERY, "sql", "one statement at a time: '%.60s' follows it",
				      tail + strspn(tail, " \t\r\n;"));
		goto out_stmt;
	}
	if ((rc = bind_params(st, params, n)) || (rc = dp_sql_columns(st, &t)) ||
	    (rc = dp_rowout_begin(&w, &t, fmt, mem, 0)) || (rc = write_rows(st, s, &w, &src)))
		goto out_stmt;
	if (src != SQLITE_DONE) {
		rc = statement_error(db, s, text, timeout_s);
		goto out_stmt;
	}
	if (!(rc = dp_query_freshness(q, ix->snaps.dir, ix->snaps.log_dir, df, NULL, &f)) &&
	    !(rc = dp_freshness_json(&f, &json)) && !(rc = dp_sql_trailer(&trailer, dp_buf_cstr(&json), dp_sql_notes(s))))
		rc = dp_rowout_end(&w, dp_buf_cstr(&trailer));
out_stmt:
	sqlite3_finalize(st);
	dp_sql_statement_done(s);
out:
	dp_rowout_free(&w);
	dp_table_free(&t);
	dp_buf_free(&json);
	dp_buf_free(&trailer);
	sqlite3_close(db); /* detaches: the snapshot stays the caller's */
	return rc;
}

int dnnprov_index_sql(dnnprov_index *ix, const char *sql, const dnnprov_value *params, size_t n,
		      const char *dataflow, double timeout_s, dnnprov_format format, char **out, size_t *len)
{
	dp_format fmt;
	dp_query q;
	size_t got = 0;
	FILE *mem;
	int rc;

	if ((rc = dp_api_args("dnnprov_index_sql", ix, sql, out, n, params, format, &fmt)) ||
	    (rc = dp_snapshots_begin(&ix->snaps, &q)))
		return rc;
	if (!(mem = open_memstream(out, &got))) {
		rc = dp_error(DNNPROV_ENOMEM, "out of memory");
	} else {
		rc = answer(&q, ix, sql, params, n, dataflow, timeout_s, fmt, mem);
		if (fclose(mem) != 0 && !rc)
			rc = dp_error(DNNPROV_ENOMEM, "out of memory");
	}
	dp_snapshots_end(&ix->snaps, &q);
	if (rc) {
		free(*out);
		*out = NULL;
		return rc;
	}
	dp_error_clear();
	if (len)
		*len = got;
	return 0;
}
#endif
