/*
 * sql.h - the index as SQLite tables: a virtual-table module over a
 * read-only LMDB snapshot (vtab.c), the tables and views it creates, the
 * DfAnalyzer-compatible views, the authorizer and the time limit
 * (attach.c), and the loadable extension's entry point (ext.c).
 * docs/SQL.md lists the tables and their columns.
 *
 * SNAPSHOTS
 *
 * A connection holds one LMDB read transaction.  It is renewed when a
 * statement opens its first dnnprov cursor while no other dnnprov cursor
 * of the connection is open, and SQLite keeps a statement's cursors open
 * until the statement ends: so a statement reads one snapshot, taken when
 * it first reads a dnnprov table.  Inside an explicit transaction (BEGIN;
 * sqlite3_get_autocommit() is 0) the first statement that reads a dnnprov
 * table takes the snapshot and the others keep it until the transaction
 * ends (dp_sql_statement_done tells the context, and so does any callback
 * that finds the connection back in autocommit mode).  A statement that
 * starts while another one still has rows pending shares its snapshot.
 * The indexer goes on committing meanwhile: readers never block it.
 *
 * The tables of each dataflow are made from its specification when the
 * index is attached; a dataflow that appears later needs a new attach.
 */
#ifndef DNNPROV_SQL_H
#define DNNPROV_SQL_H

#include <stdbool.h>

#include "query/rows.h"
#include "sql/sqlite.h"

typedef struct dp_sql dp_sql;

/* Registers the `dnnprov` module and the SQL functions dnnprov_attach,
 * dnnprov_query and dnnprov_restrict on db; the context they share is
 * freed with the connection.  Returns 0 or a DNNPROV_E* code. */
DP_INTERNAL int dp_sql_register(sqlite3 *db, dp_sql **out);

/* Opens the index at index_dir read-only and creates its tables and views
 * in the connection's temp schema, replacing those of an earlier attach.
 * default_df (may be NULL: the only dataflow, if there is one) is the one
 * the DfAnalyzer views and the unprefixed `epochs` show.  Errors are those
 * of the other queries (no index, an index being rebuilt). */
DP_INTERNAL int dp_sql_attach(dp_sql *s, const char *index_dir, const char *default_df);

/* The same over a snapshot the caller began and keeps (a server that
 * shares one LMDB environment between its threads, as LMDB allows one per
 * file and process): every statement reads that snapshot, which the
 * caller ends after detaching (closing the connection). */
DP_INTERNAL int dp_sql_attach_snapshot(dp_sql *s, dp_index *ix, MDB_txn *txn, const char *default_df);

/* The longest value (text or blob) `dnnprov sql` and the server let a
 * statement make: SQLite's own limit is a gigabyte, which one
 * randomblob() turned into minutes and gigabytes of output. */
#define DP_SQL_MAX_VALUE (16u << 20)

/* Read-only by an authorizer: no ATTACH of a file, no write but to temp,
 * only the functions of an allow-list (attach.c; no loading of
 * extensions, no function that returns an address), no pragma that
 * changes a setting, no virtual table of another module.  A statement
 * runs at most timeout_s seconds (0: no limit); a value is at most
 * max_value bytes (0: SQLite's limit).
 *
 * The authorizer itself is on from the first attach: while an attach
 * runs, only its own statements are allowed, so nothing from the index
 * runs before it is. */
DP_INTERNAL int dp_sql_restrict(dp_sql *s, double timeout_s, size_t max_value);

/* The caller starts a statement (the time limit counts from now) and has
 * finished one (an explicit transaction may have ended). */
DP_INTERNAL void dp_sql_statement_begin(dp_sql *s);
DP_INTERNAL void dp_sql_statement_done(dp_sql *s);
/* Whether the last statement was stopped by the time limit. */
DP_INTERNAL bool dp_sql_timed_out(const dp_sql *s);
/* Whether the statement's time is up: checked by a caller that renders its
 * rows (SQLite only checks while it steps), and then dp_sql_timed_out. */
DP_INTERNAL bool dp_sql_past_deadline(dp_sql *s);
/* What the authorizer refused in the last statement ("the function
 * fts3_tokenizer", "ATTACH of a file", ...), or NULL. */
DP_INTERNAL const char *dp_sql_denied(const dp_sql *s);
/* What the last attach could not create, a line each ("dataflow D: no
 * table D_epochs: its 2104 columns pass SQLite's limit of 2000; ..."), or
 * "": a dataflow too wide for one of its tables keeps the others and the
 * long tables. */
DP_INTERNAL const char *dp_sql_notes(dp_sql *s);
/* The members after "rows" of an SQL answer in JSON: "index", and
 * "notes" when there are notes (one string each).  As one text for
 * dp_rowout_end, which writes it as the value of "index". */
DP_INTERNAL int dp_sql_trailer(dp_buf *b, const char *index_json, const char *notes);

DP_INTERNAL int dp_sql_columns(sqlite3_stmt *st, dp_table *t);
/* Every cell of the current row into cells[0..ncols) (hex[0..ncols) their
 * blob texts): 0, or DNNPROV_ENOMEM when a cell could not be had. */
DP_INTERNAL int dp_sql_row(sqlite3_stmt *st, int ncols, dp_qv *cells, dp_buf *hex);

/* Appends "  LINE\n  ^" (no newline after the caret): the line of sql
 * that holds byte `offset` and a caret under it; nothing when offset < 0. */
DP_INTERNAL void dp_sql_position(dp_buf *b, const char *sql, int offset);

/* The tables and views the last attach created, sorted by name. */
DP_INTERNAL size_t dp_sql_ntables(const dp_sql *s);
DP_INTERNAL const char *dp_sql_table(const dp_sql *s, size_t i);
/* The CREATE statement of one table or view (a virtual table's columns as
 * declared), or NULL. */
DP_INTERNAL const char *dp_sql_schema(const dp_sql *s, const char *name);
/* The default dataflow chosen by the last attach, or NULL. */
DP_INTERNAL const char *dp_sql_default_dataflow(const dp_sql *s);

/* ---- between vtab.c and attach.c ------------------------------------------------------ */

/* The context's snapshot for a cursor that opens (renewed when no cursor
 * is open) and closes. */
DP_INTERNAL int dp_sql_cursor_open(dp_sql *s, dp_query **q);
DP_INTERNAL void dp_sql_cursor_close(dp_sql *s);
/* The snapshot as it is, for planning (no renewal). */
DP_INTERNAL dp_query *dp_sql_query(dp_sql *s);
/* Entries of an LMDB database in the snapshot, for the planner's costs. */
DP_INTERNAL double dp_sql_entries(dp_sql *s, dp_db db);
/* Dataflow names in the current snapshot, sorted (owned by s until the next renewal). */
DP_INTERNAL int dp_sql_dataflows(dp_sql *s, char ***names, size_t *n);

DP_INTERNAL extern const sqlite3_module dp_sql_module;
/* The columns a table of module kind `kind` has besides the dataflow's
 * (its metrics, hyperparameters or attributes). */
DP_INTERNAL int dp_sql_kind_columns(const char *kind);

/* Appends s quoted for SQL: '"' for a name, '\'' for a text.  Every
 * identifier and text an attach builds from the index goes through it. */
DP_INTERNAL void dp_sql_quote(dp_buf *b, const char *s, char quote);

/* Records the declared schema of a table it creates. */
DP_INTERNAL int dp_sql_note_schema(dp_sql *s, const char *name, const char *sql);

#endif
