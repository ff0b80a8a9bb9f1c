/*
 * attach.c - a connection's dnnprov context: the snapshot (see sql.h for
 * when it is renewed), the tables and views an attach creates, the SQL
 * functions, the authorizer and the time limit.
 *
 * NAMES. Tables that hold every dataflow have a `dataflow` column and
 * plain names (tasks, summaries, metrics, ...).  Tables whose columns come
 * from one dataflow's declaration are named after it: "<df>_epochs",
 * "<df>_hyperparameters", "<df>_tests" and "<df>_<set>" for each
 * user-defined set.  The default dataflow's also go by the names a
 * Keras-Prov user knows: `epochs` and DfAnalyzer's ds_* views.  Everything
 * lives in the temp schema: nothing is written to the connection's
 * databases, and the index is never copied.
 */
#include <assert.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/registry.h"
#include "sql/sql.h"

typedef struct schema_entry {
	char *name;
	char *sql;
} schema_entry;

struct dp_sql {
	sqlite3 *db;
	dp_query q;
	bool attached;
	char *default_df;
	int ncursors;
	bool in_txn; /* an explicit transaction holds the snapshot */
	bool borrowed; /* the snapshot is the caller's (dp_sql_attach_snapshot): kept, never renewed */
	/* per snapshot */
	double entries[DP_DB_COUNT];
	bool have_entries;
	char **dfs;
	size_t ndfs;
	bool have_dfs;
	/* what the last attach created */
	schema_entry *schema;
	size_t nschema;
	dp_buf notes; /* what the last attach could not create, a line each */
	/* the authorizer, installed by the first attach */
	bool authorizer;
	bool attaching;   /* only the attach's own statements run */
	bool restricted;  /* read-only (dp_sql_restrict) */
	char denied[160]; /* what it refused last, for the message */
	/* the time limit */
	double timeout, deadline;
	sqlite3_stmt *timed_stmt;
	int timed_run;
	bool timed_out;
};

/* ---- the snapshot ------------------------------------------------------------------- */

static void forget_snapshot_facts(dp_sql *s)
{
	for (size_t i = 0; i < s->ndfs; i++)
		free(s->dfs[i]);
	free(s->dfs);
	s->dfs = NULL;
	s->ndfs = 0;
	s->have_dfs = false;
	s->have_entries = false;
}

/* Ends the attachment; a borrowed snapshot stays the caller's. */
static void detach(dp_sql *s)
{
	if (s->attached) {
		if (s->borrowed)
			s->q.txn = NULL;
		dp_query_close(&s->q);
	}
	s->attached = false;
	s->borrowed = false;
}

static int renew(dp_sql *s)
{
	int mrc;
	if (s->borrowed)
		return 0; /* its owner's snapshot, for the owner's one statement */
	forget_snapshot_facts(s);
	mdb_txn_reset(s->q.txn);
	mrc = mdb_txn_renew(s->q.txn);
	if (mrc == 0)
		return 0;
	/* The indexer grew the map (MDB_MAP_RESIZED), or the slot table
	 * filled: a fresh transaction sorts both out. */
	mdb_txn_abort(s->q.txn);
	s->q.txn = NULL;
	return dp_index_read(s->q.ix, &s->q.txn);
}

static int no_index(void)
{
	return dp_error(DNNPROV_ENOTFOUND, "no index is attached: select dnnprov_attach('/path/to/index')");
}

int dp_sql_cursor_open(dp_sql *s, dp_query **q)
{
	int rc = 0;
	if (!s->attached || !s->q.txn)
		return no_index();
	if (s->ncursors == 0) {
		if (sqlite3_get_autocommit(s->db)) {
			s->in_txn = false;
			rc = renew(s);
		} else if (!s->in_txn) {
			s->in_txn = true;
			rc = renew(s);
		}
	}
	if (rc)
		return rc;
	/* The snapshot rule: the statement's cursors share one transaction. */
	assert(s->q.txn);
	s->ncursors++;
	*q = &s->q;
	return 0;
}

void dp_sql_cursor_close(dp_sql *s)
{
	assert(s->ncursors > 0); /* one close per dp_sql_cursor_open */
	if (s->ncursors > 0)
		s->ncursors--;
	if (s->ncursors == 0 && sqlite3_get_autocommit(s->db))
		s->in_txn = false;
}

void dp_sql_statement_done(dp_sql *s)
{
	if (sqlite3_get_autocommit(s->db))
		s->in_txn = false;
}

dp_query *dp_sql_query(dp_sql *s)
{
	return &s->q;
}

double dp_sql_entries(dp_sql *s, dp_db db)
{
	if (!s->attached || !s->q.txn)
		return 0;
	if (!s->have_entries) {
		for (int i = 0; i < DP_DB_COUNT; i++) {
			MDB_stat st;
			s->entries[i] = mdb_stat(s->q.txn, s->q.ix->dbi[i], &st) == 0 ? (double)st.ms_entries : 1e6;
		}
		s->have_entries = true;
	}
	return s->entries[db];
}

int dp_sql_dataflows(dp_sql *s, char ***names, size_t *n)
{
	int rc;
	if (!s->attached || !s->q.txn)
		return no_index();
	if (!s->have_dfs) {
		if ((rc = dp_query_dataflows(&s->q, &s->dfs, &s->ndfs)))
			return rc;
		s->have_dfs = true;
	}
	*names = s->dfs;
	*n = s->ndfs;
	return 0;
}

/* ---- what an attach creates ------------------------------------------------------------ */

int dp_sql_note_schema(dp_sql *s, const char *name, const char *sql)
{
	for (size_t i = 0; i < s->nschema; i++)
		if (sqlite3_stricmp(s->schema[i].name, name) == 0) {
			char *copy = strdup(sql);
			if (!copy)
				return dp_error(DNNPROV_ENOMEM, "out of memory");
			free(s->schema[i].sql);
			s->schema[i].sql = copy;
			return 0;
		}
	schema_entry *grown = realloc(s->schema, (s->nschema + 1) * sizeof(*grown));
	if (!grown)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	s->schema = grown;
	grown[s->nschema].name = strdup(name);
	grown[s->nschema].sql = strdup(sql);
	if (!grown[s->nschema].name || !grown[s->nschema].sql) {
		free(grown[s->nschema].name);
		free(grown[s->nschema].sql);
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	}
	s->nschema++;
	return 0;
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const schema_entry *)a)->name, ((const schema_entry *)b)->name);
}

size_t dp_sql_ntables(const dp_sql *s)
{
	return s->nschema;
}

const char *dp_sql_table(const dp_sql *s, size_t i)
{
	return i < s->nschema ? s->schema[i].name : NULL;
}

const char *dp_sql_schema(const dp_sql *s, const char *name)
{
	for (size_t i = 0; i < s->nschema; i++)
		if (sqlite3_stricmp(s->schema[i].name, name) == 0)
			return s->schema[i].sql;
	return NULL;
}

const char *dp_sql_default_dataflow(const dp_sql *s)
{
	return s->default_df;
}

static void schema_free(dp_sql *s)
{
	for (size_t i = 0; i < s->nschema; i++) {
		free(s->schema[i].name);
		free(s->schema[i].sql);
	}
	free(s->schema);
	s->schema = NULL;
	s->nschema = 0;
}

/* Runs one statement the attach built, prepared alone: text from the
 * index, whatever it holds, can never start a second statement (the
 * authorizer, on since the attach began, refuses anything else too).
 * The error names the statement. */
static int run(dp_sql *s, dp_buf *sql)
{
	sqlite3_stmt *st = NULL;
	const char *tail = NULL, *text = dp_buf_cstr(sql);
	int src;

	if (sql->failed || !text)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	if (sql->len > (size_t)INT_MAX)
		return dp_error(DNNPROV_EQUERY, "a statement of %zu bytes is too long for SQLite", sql->len);
	src = sqlite3_prepare_v2(s->db, text, (int)sql->len, &st, &tail);
	if (src == SQLITE_OK && (!st || tail != text + sql->len)) {
		sqlite3_finalize(st);
		return dp_error(DNNPROV_EQUERY, "not one statement (in: %s)", text);
	}
	if (src == SQLITE_OK) {
		while ((src = sqlite3_step(st)) == SQLITE_ROW)
			;
		src = src == SQLITE_DONE ? SQLITE_OK : src;
	}
	int rc = src == SQLITE_OK ? 0
				  : dp_error(src == SQLITE_NOMEM ? DNNPROV_ENOMEM : DNNPROV_EQUERY, "%s (in: %s)",
					     sqlite3_errmsg(s->db), text);
	sqlite3_finalize(st);
	return rc;
}

/* The one quoting of the SQL text an attach builds: every identifier (a
 * table, a view, a column) and every text literal made from the index's
 * names goes through here, whatever bytes the name holds. */
void dp_sql_quote(dp_buf *b, const char *s, char quote)
{
	assert(quote == '"' || quote == '\''); /* an identifier or a text */
	dp_buf_putc(b, quote);
	for (const char *p = s; *p; p++) {
		if (*p == quote)
			dp_buf_putc(b, quote);
		dp_buf_putc(b, *p);
	}
	dp_buf_putc(b, quote);
}

static void quote_ident(dp_buf *b, const char *name)
{
	dp_sql_quote(b, name, '"');
}

static void quote_text(dp_buf *b, const char *text)
{
	dp_sql_quote(b, text, '\'');
}

/* "<df>_<what>": the name of a per-dataflow table (caller frees; NULL when
 * out of memory). */
static char *df_name(const char *df, const char *what)
{
	size_t n = strlen(df) + strlen(what) + 2;
	char *out = malloc(n);
	if (out)
		snprintf(out, n, "%s_%s", df, what);
	return out;
}

/* CREATE VIRTUAL TABLE temp."name" USING dnnprov(kind, 'names'...) */
static int create_table(dp_sql *s, const char *name, const char *kind, const char *n1, const char *n2,
			const char *n3)
{
	dp_buf b = { 0 };
	int rc;
	dp_buf_printf(&b, "CREATE VIRTUAL TABLE temp.");
	quote_ident(&b, name);
	dp_buf_printf(&b, " USING dnnprov(%s", kind);
	const char *names[3] = { n1, n2, n3 };
	for (int i = 0; i < 3 && names[i]; i++) {
		dp_buf_append(&b, ", ", 2);
		quote_text(&b, names[i]);
	}
	dp_buf_putc(&b, ')');
	rc = run(s, &b);
	dp_buf_free(&b);
	return rc;
}

static int create_view(dp_sql *s, const char *name, dp_buf *select)
{
	dp_buf b = { 0 };
	int rc;
	if (select->failed)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	dp_buf_printf(&b, "CREATE TEMP VIEW ");
	quote_ident(&b, name);
	dp_buf_append(&b, " AS ", 4);
	dp_buf_append(&b, select->data, select->len);
	if (!(rc = run(s, &b))) {
		/* Noted as "CREATE VIEW name AS ...", as .schema prints it. */
		memmove(b.data + 7, b.data + 12, b.len - 12 + 1);
		rc = dp_sql_note_schema(s, name, b.data);
	}
	dp_buf_free(&b);
	return rc;
}

static int drop_all(dp_sql *s)
{
	int rc = 0;
	/* Views first: they name the tables. */
	for (int pass = 0; pass < 2 && !rc; pass++)
		for (size_t i = 0; i < s->nschema && !rc; i++) {
			bool view = strncmp(s->schema[i].sql, "CREATE VIEW", 11) == 0;
			if (view != (pass == 0))
				continue;
			dp_buf b = { 0 };
			dp_buf_printf(&b, "DROP %s IF EXISTS temp.", view ? "VIEW" : "TABLE");
			quote_ident(&b, s->schema[i].name);
			rc = run(s, &b);
			dp_buf_free(&b);
		}
	schema_free(s);
	return rc;
}

/* A name folded to lower case for a DfAnalyzer view (caller frees). */
static char *lower_name(const char *s)
{
	char *out = strdup(s);
	for (char *p = out; p && *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p + 32);
	return out;
}

/* Appends `expr AS "alias"` with a lower-case alias not yet in `used`
 * (a NUL-separated list). */
static void select_as(dp_buf *b, dp_buf *used, const char *expr, const char *alias)
{
	char *low = lower_name(alias);
	dp_buf name = { 0 };
	if (!low) {
		b->failed = true;
		return;
	}
	dp_buf_printf(&name, "%s", low);
	for (int k = 2; !name.failed && dp_buf_cstr(&name); k++) {
		bool taken = false;
		for (size_t at = 0; used->data && at < used->len; at += strlen(used->data + at) + 1)
			taken |= strcmp(used->data + at, name.data) == 0;
		if (!taken)
			break;
		name.len = 0;
		dp_buf_printf(&name, "%s_%d", low, k);
	}
	free(low);
	if (name.failed || !dp_buf_cstr(&name)) {
		b->failed = true;
		dp_buf_free(&name);
		return;
	}
	dp_buf_append(used, name.data, name.len + 1);
	if (b->len && b->data[b->len - 1] != ' ')
		dp_buf_append(b, ", ", 2);
	dp_buf_printf(b, "%s AS ", expr);
	quote_ident(b, name.data);
	dp_buf_free(&name);
}

/* Appends `prefix"name" AS "alias"`: a column of the index as a view's. */
static void select_col(dp_buf *b, dp_buf *used, const char *prefix, const char *name, const char *alias)
{
	dp_buf expr = { 0 };
	dp_buf_printf(&expr, "%s", prefix);
	quote_ident(&expr, name);
	if (expr.failed || !dp_buf_cstr(&expr))
		b->failed = true;
	else
		select_as(b, used, expr.data, alias);
	dp_buf_free(&expr);
}

/* ---- tables wider than SQLite allows ----------------------------------------------------- */

/* A table or view whose columns would pass SQLite's limit (2,000 unless it
 * was built otherwise) cannot be declared; the attach goes on without it
 * and says so in the notes, and the long tables still hold every value. */
static bool fits(dp_sql *s, const char *df, const char *what, size_t columns, const char *instead)
{
	int limit = sqlite3_limit(s->db, SQLITE_LIMIT_COLUMN, -1);
	if (columns <= (size_t)limit)
		return true;
	dp_buf_printf(&s->notes, "dataflow %s: no %s: its %zu columns pass SQLite's limit of %d; %s\n", df, what,
		      columns, limit, instead);
	return false;
}

/* Whether a name of the dataflow's (a set's table, its view) is taken
 * already, by another dataflow's or a table every index has (SQLite
 * compares names ignoring case): the first keeps it, and a note says so. */
static bool taken(dp_sql *s, const char *df, const char *what, const char *name)
{
	if (!dp_sql_schema(s, name))
		return false;
	dp_buf_printf(&s->notes, "dataflow %s: no %s %s: another table or view has that name\n", df, what, name);
	return true;
}

/* A view of the default dataflow that reads a table the attach could not
 * make (fits() said why): it goes too, and says so. */
static void note_view_skipped(dp_sql *s, const char *df, const char *view, const char *what)
{
	dp_buf_printf(&s->notes, "dataflow %s: no view %s: it reads the table %s_%s\n", df, view, df, what);
}

/* Whether a DfAnalyzer view over the dataflow's table `what` can be made:
 * that table was (table_made), and its own columns fit. */
static bool view_possible(dp_sql *s, const char *df, bool table_made, const char *view, const char *what,
			  size_t columns, const char *instead)
{
	char label[64];
	if (!table_made) {
		note_view_skipped(s, df, view, what);
		return false;
	}
	snprintf(label, sizeof(label), "view %s", view);
	return fits(s, df, label, columns, instead);
}

/* The column count of a table of `kind` with n columns of the dataflow's. */
static size_t table_columns(const char *kind, size_t n)
{
	return (size_t)dp_sql_kind_columns(kind) + n;
}

/* ---- the DfAnalyzer views ------------------------------------------------------------------ */

/* The hyperparameters ds_itrainingmodel has a column for, whether the
 * dataflow records them or not, in Keras-Prov's order. */
static const char *const keras_hyps[] = { "OPTIMIZER_NAME", "LEARNING_RATE", "DECAY", "MOMENTUM",
					  "NUM_EPOCHS", "BATCH_SIZE", "NUM_LAYERS" };

/* Which of a dataflow's tables the attach could create. */
typedef struct made {
	bool epochs, hyps, tests;
	bool *sets; /* per transformation, per set: [tf][set] flattened */
} made;

static int view_itrainingmodel(dp_sql *s, const dp_qdataflow *d)
{
	dp_buf b = { 0 }, used = { 0 };
	char *table = df_name(d->name, "hyperparameters");
	int rc;
	dp_buf_printf(&b, "SELECT ");
	select_as(&b, &used, "h.task", "trainingmodel_task_id");
	select_as(&b, &used, "t.start", "timestamp");
	for (size_t i = 0; i < DP_ARRAY_LEN(keras_hyps); i++) {
		const char *h = dp_qdf_hyp(d, keras_hyps[i]);
		if (h)
			select_col(&b, &used, "h.", h, keras_hyps[i]);
		else
			select_as(&b, &used, "NULL", keras_hyps[i]);
	}
	for (size_t i = 0; i < d->nhyps; i++) {
		bool known = false;
		for (size_t k = 0; k < DP_ARRAY_LEN(keras_hyps); k++)
			known |= dp_strcasecmp(d->hyps[i].name, keras_hyps[k]) == 0;
		if (!known)
			select_col(&b, &used, "h.", d->hyps[i].name, d->hyps[i].name);
	}
	dp_buf_printf(&b, " FROM ");
	quote_ident(&b, table ? table : "");
	dp_buf_printf(&b, " AS h JOIN tasks AS t ON t.dataflow = ");
	quote_text(&b, d->name);
	dp_buf_printf(&b, " AND t.task = h.task");
	rc = table ? create_view(s, "ds_itrainingmodel", &b) : dp_error(DNNPROV_ENOMEM, "out of memory");
	free(table);
	dp_buf_free(&b);
	dp_buf_free(&used);
	return rc;
}

/* ds_otrainingmodel (an element per epoch) and ds_otestingmodel (the test
 * results): the metrics, the second without the val_ ones. */
static int view_metrics(dp_sql *s, const dp_qdataflow *d, bool tests)
{
	dp_buf b = { 0 }, used = { 0 };
	char *table = df_name(d->name, tests ? "tests" : "epochs");
	int rc;
	dp_buf_printf(&b, "SELECT ");
	if (tests) {
		select_as(&b, &used, "task", "testingmodel_task_id");
		select_as(&b, &used, "time", "timestamp");
	} else {
		select_as(&b, &used, "task", "trainingmodel_task_id");
		select_as(&b, &used, "task", "adaptation_task_id");
		select_as(&b, &used, "task", "testingmodel_task_id");
		select_as(&b, &used, "time", "timestamp");
		select_as(&b, &used, "elapsed", "elapsed_time");
	}
	for (size_t i = 0; i < d->nmetrics; i++)
		if (!tests || !dp_model_validation_metric(d->metrics[i])) /* oTestingModel's rule */
			select_col(&b, &used, "", d->metrics[i], d->metrics[i]);
	if (!tests)
		select_as(&b, &used, "epoch", "epoch");
	dp_buf_printf(&b, " FROM ");
	quote_ident(&b, table ? table : "");
	rc = table ? create_view(s, tests ? "ds_otestingmodel" : "ds_otrainingmodel", &b)
		   : dp_error(DNNPROV_ENOMEM, "out of memory");
	free(table);
	dp_buf_free(&b);
	dp_buf_free(&used);
	return rc;
}

/* ds_oadaptation and ds_ilayers: rows of the dataflow in the long tables. */
static int view_long(dp_sql *s, const dp_qdataflow *d, const char *name, const char *select, const char *tail)
{
	dp_buf b = { 0 };
	int rc;
	dp_buf_printf(&b, "%s", select);
	quote_text(&b, d->name);
	dp_buf_printf(&b, "%s", tail);
	rc = create_view(s, name, &b);
	dp_buf_free(&b);
	return rc;
}

/* ds_<set> of a user-defined set. */
static int view_set(dp_sql *s, const dp_qdataflow *d, const dp_mtf *tf, const dp_mset *set)
{
	dp_buf b = { 0 }, used = { 0 }, task_col = { 0 }, view = { 0 };
	char *low = lower_name(set->name), *table = df_name(d->name, set->name);
	int rc;
	dp_buf_printf(&task_col, "%s_task_id", tf->name);
	dp_buf_printf(&view, "ds_%s", low ? low : "");
	dp_buf_printf(&b, "SELECT ");
	select_as(&b, &used, "task", dp_buf_cstr(&task_col) ? task_col.data : "");
	select_as(&b, &used, "time", "timestamp");
	for (size_t a = 0; a < set->nattrs; a++)
		select_col(&b, &used, "", set->attrs[a].name, set->attrs[a].name);
	dp_buf_printf(&b, " FROM ");
	quote_ident(&b, table ? table : "");
	if (!low || !table || task_col.failed || view.failed || !dp_buf_cstr(&view))
		rc = dp_error(DNNPROV_ENOMEM, "out of memory");
	else if (!taken(s, d->name, "view", view.data))
		rc = create_view(s, view.data, &b);
	else
		rc = 0;
	free(low);
	free(table);
	dp_buf_free(&b);
	dp_buf_free(&used);
	dp_buf_free(&task_col);
	dp_buf_free(&view);
	return rc;
}

/* DfAnalyzer's views of the default dataflow, over the tables it has. */
static int dfanalyzer_views(dp_sql *s, const dp_qdataflow *d, const made *m)
{
	int rc = 0;
	size_t k = 0;
	if (view_possible(s, d->name, m->hyps, "ds_itrainingmodel", "hyperparameters",
			  2 + DP_ARRAY_LEN(keras_hyps) + d->nhyps, "its hyperparameters are in the table hyperparameters"))
		rc = view_itrainingmodel(s, d);
	if (!rc && view_possible(s, d->name, m->epochs, "ds_otrainingmodel", "epochs", 6 + d->nmetrics,
				 "its epochs are in the tables metrics and summaries"))
		rc = view_metrics(s, d, false);
	if (!rc)
		rc = view_long(s, d, "ds_oadaptation",
			       "SELECT task AS adaptation_task_id, new AS new_lrate, time AS timestamp, epoch AS epoch_id, "
			       "id AS adaptation_id FROM adaptations WHERE dataflow = ",
			       " AND upper(hyperparameter) = 'LEARNING_RATE'");
	if (!rc && view_possible(s, d->name, m->tests, "ds_otestingmodel", "tests", 2 + d->nmetrics,
				 "its test results are in the table tests"))
		rc = view_metrics(s, d, true);
	if (!rc)
		rc = view_long(s, d, "ds_ilayers",
			       "SELECT task AS trainingmodel_task_id, time AS timestamp, layer AS name, kind AS "
			       "attribute_type, value FROM layers WHERE dataflow = ",
			       "");
	for (size_t i = 0; i < d->model.ntfs; i++)
		for (size_t j = 0; !d->model.tfs[i].builtin && j < d->model.tfs[i].nsets; j++, k++)
			if (!rc && m->sets[k])
				rc = view_set(s, d, &d->model.tfs[i], &d->model.tfs[i].sets[j]);
	return rc;
}

/* DfAnalyzer's specification and task tables, over every dataflow, with
 * numbers for ids as DfAnalyzer's tables have. */
/* Views over every dataflow; the DfAnalyzer ones first. */
static const char *const dfanalyzer_common[][2] = {
	{ "dataflow", "SELECT row_number() OVER (ORDER BY dataflow) AS id, dataflow AS tag FROM dataflows" },
	{ "data_transformation",
	  "SELECT row_number() OVER (ORDER BY t.dataflow, t.transformation) AS id, d.id AS df_id, t.transformation AS "
	  "tag FROM transformations AS t JOIN dataflow AS d ON d.tag = t.dataflow" },
	{ "data_set", "SELECT row_number() OVER (ORDER BY s.dataflow, s.\"set\") AS id, d.id AS df_id, s.\"set\" AS tag "
		      "FROM sets AS s JOIN dataflow AS d ON d.tag = s.dataflow" },
	{ "attribute", NULL /* attribute_view() */ },
	{ "data_dependency",
	  "SELECT row_number() OVER (ORDER BY dep.dataflow, dep.\"set\") AS id, p.id AS previous_dt_id, n.id AS "
	  "next_dt_id, ds.id AS ds_id FROM dependencies AS dep JOIN dataflow AS d ON d.tag = dep.dataflow JOIN "
	  "data_set AS ds ON ds.df_id = d.id AND ds.tag = dep.\"set\" LEFT JOIN data_transformation AS p ON p.df_id "
	  "= d.id AND p.tag = dep.previous_transformation LEFT JOIN data_transformation AS n ON n.df_id = d.id AND "
	  "n.tag = dep.next_transformation" },
	{ "task", "SELECT row_number() OVER (ORDER BY t.dataflow, t.task) AS id, t.task AS identifier, 1 AS "
		  "df_version, dt.id AS dt_id, t.status AS status, NULL AS workspace, t.host AS computing_resource, "
		  "t.message AS output_msg, CASE WHEN t.status IN ('FAILED', 'KILLED') THEN t.message END AS error_msg "
		  "FROM tasks AS t JOIN dataflow AS d ON d.tag = t.dataflow LEFT JOIN data_transformation AS dt ON "
		  "dt.df_id = d.id AND dt.tag = coalesce(t.transformation, 'TrainingModel')" },
	/* One row per entity (docs/LINEAGE.md): where it was last written or
	 * read, and how many records generated and used it. */
	{ "entities", "SELECT fingerprint, max(role) AS role, max(location) AS location, max(size) AS size, "
		      "sum(relation = 'generated') AS generated, sum(relation = 'used') AS used "
		      "FROM (SELECT 'generated' AS relation, * FROM generated UNION ALL SELECT 'used', * FROM used) "
		      "GROUP BY fingerprint" },
	/* Runs that repeat one another, by the rule of `runs`' repeats column
	 * (query/repeats.h): equal transformation, inputs, code and
	 * hyperparameters, each known; first is the smallest task id of the
	 * group. */
	{ "repeats",
	  "WITH k AS (SELECT t.dataflow, t.task, t.transformation, "
	  "(SELECT group_concat(fingerprint, ' ') FROM (SELECT DISTINCT fingerprint FROM used AS u WHERE u.dataflow = "
	  "t.dataflow AND u.task = t.task ORDER BY fingerprint)) AS inputs, "
	  "(SELECT value FROM facts AS f WHERE f.dataflow = t.dataflow AND f.task = t.task AND f.name = 'git_commit') "
	  "AS git_commit, "
	  "(SELECT value FROM facts AS f WHERE f.dataflow = t.dataflow AND f.task = t.task AND f.name = 'git_diff') "
	  "AS git_diff, "
	  "coalesce((SELECT group_concat(name || '=' || typeof(value) || ':' || CASE typeof(value) WHEN 'real' THEN "
	  "printf('%.17g', value) ELSE value END, ' ') FROM (SELECT name, value FROM hyperparameters AS h WHERE "
	  "h.dataflow = t.dataflow AND h.task = t.task ORDER BY name)), '') AS hyps FROM tasks AS t), "
	  "g AS (SELECT dataflow, task, min(task) OVER (PARTITION BY dataflow, transformation, inputs, git_commit, "
	  "git_diff, hyps) AS first, count(*) OVER (PARTITION BY dataflow, transformation, inputs, git_commit, "
	  "git_diff, hyps) AS n FROM k WHERE inputs IS NOT NULL AND git_commit <> '' AND git_diff <> '') "
	  "SELECT dataflow, task, first FROM g WHERE n > 1" },
};

/* The condition that a row of `attributes` is built-in attribute x. */
static void is_builtin_attr(dp_buf *b, const dp_builtin_attr *x)
{
	dp_buf_printf(b, "(a.transformation = ");
	quote_text(b, x->tf);
	dp_buf_printf(b, " AND a.\"set\" = ");
	quote_text(b, x->set);
	dp_buf_printf(b, " AND a.attribute = ");
	quote_text(b, x->attr.name);
	dp_buf_putc(b, ')');
}

/* DfAnalyzer's `attribute`: the attributes of the model's sets by the
 * names DfAnalyzer's views give them (a built-in attribute its view has
 * no column for is left out: indexer/model.h). */
static void attribute_view(dp_buf *b)
{
	dp_buf_printf(b, "SELECT row_number() OVER (ORDER BY a.dataflow, a.\"set\", a.position) AS id, ds.id AS ds_id, "
			 "NULL AS extractor_id, CASE");
	for (size_t i = 0; i < dp_builtin_nattrs; i++) {
		const dp_builtin_attr *x = &dp_builtin_attrs[i];
		if (!x->attr.dfanalyzer || !*x->attr.dfanalyzer || strcmp(x->attr.dfanalyzer, x->attr.name) == 0)
			continue;
		dp_buf_printf(b, " WHEN ");
		is_builtin_attr(b, x);
		dp_buf_printf(b, " THEN ");
		quote_text(b, x->attr.dfanalyzer);
	}
	dp_buf_printf(b, " ELSE a.attribute END AS name, upper(a.type) AS type FROM attributes AS a JOIN dataflow AS d "
			 "ON d.tag = a.dataflow JOIN data_set AS ds ON ds.df_id = d.id AND ds.tag = a.\"set\"");
	size_t left_out = 0;
	for (size_t i = 0; i < dp_builtin_nattrs; i++) {
		const dp_builtin_attr *x = &dp_builtin_attrs[i];
		if (!x->attr.dfanalyzer || *x->attr.dfanalyzer)
			continue;
		dp_buf_printf(b, "%s", left_out++ ? " OR " : " WHERE NOT (");
		is_builtin_attr(b, x);
	}
	if (left_out)
		dp_buf_putc(b, ')');
}

/* Creates the per-dataflow table `what` of `kind` over n of the
 * dataflow's columns, unless it is too wide (*made false then). */
static int df_table(dp_sql *s, const char *df, const char *what, const char *kind, size_t n, const char *tf,
		    const char *set, const char *instead, bool *made_it)
{
	char *name = df_name(df, what);
	dp_buf label = { 0 };
	int rc = 0;
	*made_it = false;
	dp_buf_printf(&label, "table %s", name ? name : "");
	if (!name || label.failed || !dp_buf_cstr(&label))
		rc = dp_error(DNNPROV_ENOMEM, "out of memory");
	else if (taken(s, df, "table", name))
		rc = 0;
	else if (fits(s, df, label.data, table_columns(kind, n), instead)) {
		rc = create_table(s, name, kind, df, tf, set);
		*made_it = rc == 0;
	}
	free(name);
	dp_buf_free(&label);
	return rc;
}

static int per_dataflow(dp_sql *s, const char *df, bool is_default)
{
	dp_qdataflow d;
	size_t nsets = 0, k = 0;
	made m = { 0 };
	int rc;

	if ((rc = dp_query_load_model(&s->q, df, &d)))
		return rc;
	const dp_model *model = &d.model;
	for (size_t i = 0; i < model->ntfs; i++)
		nsets += model->tfs[i].builtin ? 0 : model->tfs[i].nsets;
	if (!(m.sets = calloc(nsets + 1, sizeof(bool)))) {
		rc = dp_error(DNNPROV_ENOMEM, "out of memory");
		goto out;
	}
	rc = df_table(s, df, "epochs", "epochs", d.nmetrics, NULL, NULL,
		      "its epochs are in the tables metrics and summaries", &m.epochs);
	if (!rc)
		rc = df_table(s, df, "hyperparameters", "hyperparameters_wide", d.nhyps, NULL, NULL,
			      "its hyperparameters are in the table hyperparameters", &m.hyps);
	if (!rc)
		rc = df_table(s, df, "tests", "tests_wide", d.nmetrics, NULL, NULL,
			      "its test results are in the table tests", &m.tests);
	/* A table per user-defined set; the built-in sets are the tables above. */
	for (size_t i = 0; i < model->ntfs && !rc; i++) {
		const dp_mtf *tf = &model->tfs[i];
		for (size_t j = 0; !tf->builtin && j < tf->nsets && !rc; j++, k++)
			rc = df_table(s, df, tf->sets[j].name, "set", tf->sets[j].nattrs, tf->name, tf->sets[j].name,
				      "its elements are in the table elements", &m.sets[k]);
	}
	if (!rc && is_default && !m.epochs)
		note_view_skipped(s, df, "epochs", "epochs");
	if (!rc && is_default && m.epochs) {
		dp_buf b = { 0 };
		char *table = df_name(df, "epochs");
		dp_buf_printf(&b, "SELECT * FROM ");
		quote_ident(&b, table ? table : "");
		rc = table ? create_view(s, "epochs", &b) : dp_error(DNNPROV_ENOMEM, "out of memory");
		free(table);
		dp_buf_free(&b);
	}
	if (!rc && is_default)
		rc = dfanalyzer_views(s, &d, &m);
out:
	free(m.sets);
	dp_qdataflow_free(&d);
	return rc;
}

static int attach(dp_sql *s, const char *index_dir, dp_index *ix, MDB_txn *txn, const char *default_df);

int dp_sql_attach(dp_sql *s, const char *index_dir, const char *default_df)
{
	return attach(s, index_dir, NULL, NULL, default_df);
}

int dp_sql_attach_snapshot(dp_sql *s, dp_index *ix, MDB_txn *txn, const char *default_df)
{
	return attach(s, NULL, ix, txn, default_df);
}

static int install_authorizer(dp_sql *s);

static int attach(dp_sql *s, const char *index_dir, dp_index *ix, MDB_txn *txn, const char *default_df)
{
	static const char *const common[] = { "dataflows",   "transformations", "sets",	       "attributes",
					      "dependencies", "tasks",		 "hyperparameters", "metrics",
					      "summaries",   "adaptations",	 "tests",	       "layers",
					      "elements",    "facts",		 "tags",	       "events",
					      "used",	     "generated" };
	char **names = NULL;
	size_t n = 0;
	int rc;

	if (s->ncursors)
		return dp_error(DNNPROV_ESTATE, "cannot attach an index while a statement reads the attached one");
	/* From here on, only the attach's own statements run. */
	if ((rc = install_authorizer(s)))
		return rc;
	s->attaching = true;
	if ((rc = drop_all(s)))
		goto out;
	detach(s);
	forget_snapshot_facts(s);
	free(s->default_df);
	s->default_df = NULL;
	s->notes.len = 0;
	s->notes.failed = false;
	if (ix) {
		dp_query_adopt(ix, txn, &s->q);
		s->borrowed = true;
	} else if ((rc = dp_query_open(index_dir, &s->q))) {
		goto out;
	}
	s->attached = true;
	if ((rc = dp_sql_dataflows(s, &names, &n)))
		goto fail;
	if (default_df) {
		bool found = false;
		for (size_t i = 0; i < n; i++)
			found |= strcmp(names[i], default_df) == 0;
		if (!found) {
			rc = dp_query_no_dataflow(&s->q, default_df);
			goto fail;
		}
		s->default_df = strdup(default_df);
	} else if (n == 1) {
		s->default_df = strdup(names[0]);
	}
	if ((default_df || n == 1) && !s->default_df) {
		rc = dp_error(DNNPROV_ENOMEM, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < DP_ARRAY_LEN(common) && !rc; i++)
		rc = create_table(s, common[i], common[i], NULL, NULL, NULL);
	for (size_t i = 0; i < DP_ARRAY_LEN(dfanalyzer_common) && !rc; i++) {
		dp_buf b = { 0 };
		if (dfanalyzer_common[i][1])
			dp_buf_printf(&b, "%s", dfanalyzer_common[i][1]);
		else
			attribute_view(&b);
		rc = create_view(s, dfanalyzer_common[i][0], &b);
		dp_buf_free(&b);
	}
	for (size_t i = 0; i < n && !rc; i++)
		rc = per_dataflow(s, names[i], s->default_df && strcmp(names[i], s->default_df) == 0);
	if (!rc && s->notes.failed)
		rc = dp_error(DNNPROV_ENOMEM, "out of memory");
	if (rc)
		goto fail;
	qsort(s->schema, s->nschema, sizeof(*s->schema), cmp_entry);
	goto out;
fail:
	drop_all(s);
	detach(s);
	forget_snapshot_facts(s);
out:
	s->attaching = false;
	return rc;
}

const char *dp_sql_notes(dp_sql *s)
{
	const char *notes = dp_buf_cstr(&s->notes);
	return notes && !s->notes.failed ? notes : "";
}

/* ---- rows ---------------------------------------------------------------------------- */

/* A column's kind: a TIMESTAMP column shows times; any other value shows
 * as it is (its SQL type decides). */
static dp_col_kind dp_sql_column_kind(sqlite3_stmt *st, int i)
{
	const char *decl = sqlite3_column_decltype(st, i);
	return decl && sqlite3_stricmp(decl, "TIMESTAMP") == 0 ? COL_TIME : COL_NUM;
}

/* The members after "rows" of an SQL answer in JSON: "index", and
 * "notes" when the attach could not create a table of a dataflow too wide
 * for SQLite (one string per note).  As one text for dp_rowout_end, which
 * writes it as the value of "index". */
int dp_sql_trailer(dp_buf *b, const char *index_json, const char *notes)
{
	dp_buf_printf(b, "%s", index_json ? index_json : "null");
	if (*notes) {
		dp_buf_append(b, ",\n\"notes\": [", 12);
		for (const char *p = notes; *p; p += strcspn(p, "\n") + 1) {
			if (p != notes)
				dp_buf_append(b, ", ", 2);
			dp_json_string(b, p, strcspn(p, "\n"));
		}
		dp_buf_putc(b, ']');
	}
	return b->failed ? dp_error(DNNPROV_ENOMEM, "out of memory") : 0;
}

int dp_sql_columns(sqlite3_stmt *st, dp_table *t)
{
	int ncols = sqlite3_column_count(st), rc;
	if ((rc = dp_table_init(t, (size_t)ncols)))
		return rc;
	for (int i = 0; i < ncols; i++) {
		const char *name = sqlite3_column_name(st, i);
		dp_table_set_col(t, (size_t)i, name ? name : "", dp_sql_column_kind(st, i));
		dp_table_col_sql(t, (size_t)i, sqlite3_column_decltype(st, i));
	}
	return t->failed ? dp_error(DNNPROV_ENOMEM, "out of memory") : 0;
}

static void dp_sql_cell(sqlite3_stmt *st, int i, dp_qv *cell, dp_buf *hex)
{
	memset(cell, 0, sizeof(*cell));
	switch (sqlite3_column_type(st, i)) {
	case SQLITE_INTEGER:
		*cell = dp_qv_int(sqlite3_column_int64(st, i)); /* exact, as every integer is */
		break;
	case SQLITE_FLOAT:
		cell->type = QV_NUM;
		cell->num = sqlite3_column_double(st, i);
		break;
	case SQLITE_TEXT:
		cell->type = QV_TEXT;
		cell->text = (const char *)sqlite3_column_text(st, i);
		if (!cell->text)
			cell->type = QV_FAILED;
		break;
	case SQLITE_BLOB: {
		/* As SQL writes a blob: X'0A1B'. */
		const unsigned char *p = sqlite3_column_blob(st, i);
		int n = sqlite3_column_bytes(st, i);
		static const char digits[] = "0123456789ABCDEF";
		hex->len = 0;
		if (dp_buf_reserve(hex, 2 * (size_t)n + 4) == 0) {
			dp_buf_append(hex, "X'", 2);
			for (int k = 0; k < n; k++) {
				hex->data[hex->len++] = digits[p[k] >> 4];
				hex->data[hex->len++] = digits[p[k] & 15];
			}
			dp_buf_putc(hex, '\'');
		}
		cell->type = hex->failed ? QV_FAILED : QV_TEXT;
		cell->text = hex->failed ? NULL : dp_buf_cstr(hex);
		break;
	}
	default: break;
	}
}

int dp_sql_row(sqlite3_stmt *st, int ncols, dp_qv *cells, dp_buf *hex)
{
	for (int i = 0; i < ncols; i++)
		dp_sql_cell(st, i, &cells[i], &hex[i]);
	for (int i = 0; i < ncols; i++)
		if (cells[i].type == QV_FAILED)
			return dp_error(DNNPROV_ENOMEM, "out of memory");
	return 0;
}

void dp_sql_position(dp_buf *b, const char *sql, int offset)
{
	const char *line = sql, *p = sql;
	if (offset < 0)
		return;
	for (int i = 0; i < offset && *p; i++, p++)
		if (*p == '\n')
			line = p + 1;
	size_t len = strcspn(line, "\n");
	dp_buf_printf(b, "  %.*s\n  ", (int)len, line);
	for (const char *q = line; q < p; q++)
		if (((unsigned char)*q & 0xC0) != 0x80) /* one column per code point */
			dp_buf_putc(b, *q == '\t' ? '\t' : ' ');
	dp_buf_putc(b, '^');
}

/* ---- read-only: the authorizer and the time limit ---------------------------------------- */

/* The functions a statement may call once the connection is restricted:
 * SQLite's core, date, math, JSON, aggregate and window functions, and the
 * module's dnnprov_query.  An allow-list, not a deny-list: a function this
 * list does not name (fts3_tokenizer, which returns a pointer into the
 * library; load_extension; one the host program added) is refused, so the
 * next one SQLite or a host adds is refused too.  `->` and `->>` are the
 * JSON operators, `like` and `glob` the operators of those names. */
static const char *const allowed_functions[] = {
	/* core */
	"abs", "changes", "char", "coalesce", "concat", "concat_ws", "format", "glob", "hex", "ifnull", "iif",
	"instr", "last_insert_rowid", "length", "like", "likelihood", "likely", "lower", "ltrim", "max", "min",
	"nullif", "octet_length", "printf", "quote", "random", "randomblob", "replace", "round", "rtrim", "sign",
	"soundex", "sqlite_source_id", "sqlite_version", "substr", "substring", "total_changes", "trim", "typeof",
	"unhex", "unicode", "unistr", "unistr_quote", "unlikely", "upper", "zeroblob",
	/* aggregate */
	"avg", "count", "group_concat", "median", "percentile", "percentile_cont", "percentile_disc", "string_agg",
	"sum", "total",
	/* date and time */
	"current_date", "current_time", "current_timestamp", "date", "datetime", "julianday", "strftime", "time",
	"timediff", "unixepoch",
	/* math */
	"acos", "acosh", "asin", "asinh", "atan", "atan2", "atanh", "ceil", "ceiling", "cos", "cosh", "degrees",
	"exp", "floor", "ln", "log", "log10", "log2", "mod", "pi", "pow", "power", "radians", "sin", "sinh", "sqrt",
	"tan", "tanh", "trunc",
	/* window */
	"cume_dist", "dense_rank", "first_value", "lag", "last_value", "lead", "nth_value", "ntile", "percent_rank",
	"rank", "row_number",
	/* JSON */
	"->", "->>", "json", "json_array", "json_array_length", "json_error_position", "json_extract",
	"json_group_array", "json_group_object", "json_insert", "json_object", "json_patch", "json_pretty",
	"json_quote", "json_remove", "json_replace", "json_set", "json_type", "json_valid", "jsonb", "jsonb_array",
	"jsonb_extract", "jsonb_group_array", "jsonb_group_object", "jsonb_insert", "jsonb_object", "jsonb_patch",
	"jsonb_remove", "jsonb_replace", "jsonb_set",
	/* the module's */
	"dnnprov_query",
};

static bool function_allowed(const char *name)
{
	for (size_t i = 0; name && i < DP_ARRAY_LEN(allowed_functions); i++)
		if (sqlite3_stricmp(name, allowed_functions[i]) == 0)
			return true;
	return false;
}

static bool is_temp(const char *db)
{
	return db && strcmp(db, "temp") == 0;
}

static bool is_module(const char *module)
{
	return module && strcmp(module, "dnnprov") == 0;
}

/* Pragmas that only read, whatever their argument. */
static const char *const reading_pragmas[] = {
	"table_info", "table_xinfo", "table_list", "index_info", "index_list", "index_xinfo", "function_list",
	"module_list", "pragma_list", "database_list", "collation_list", "compile_options", "foreign_key_list",
};

/* Whether an action writes only what SQLite itself keeps: the temp
 * schema, which changes with every temp object, or the schema table's row
 * of a virtual table being declared (sqlite3_declare_vtab asks for an
 * UPDATE of main's sqlite_master, which SQLite refuses to any statement
 * while writable_schema is off, and no pragma here turns it on). */
static bool schema_own_write(int action, const char *table, const char *db)
{
	return is_temp(db) || (action == SQLITE_UPDATE && table && strcmp(table, "sqlite_master") == 0);
}

/* Denies, keeping what for the message (dp_sql_denied). */
static int deny(dp_sql *s, const char *what, const char *name)
{
	snprintf(s->denied, sizeof(s->denied), "%s%s%.100s", what, name ? " " : "", name ? name : "");
	return SQLITE_DENY;
}

/* While an attach runs: only what its own statements do (create and drop
 * the module's tables and the views in temp, read them), so that a name
 * from the index could not make any other statement run even if it
 * escaped its quotes. */
static int authorize_attach(dp_sql *s, int action, const char *a1, const char *a2, const char *db)
{
	switch (action) {
	case SQLITE_CREATE_VTABLE:
	case SQLITE_DROP_VTABLE: return is_temp(db) && is_module(a2) ? SQLITE_OK : deny(s, "a table in", db);
	case SQLITE_CREATE_TEMP_VIEW:
	case SQLITE_DROP_TEMP_VIEW:
	case SQLITE_SELECT:
	case SQLITE_READ: return SQLITE_OK;
	case SQLITE_INSERT:
	case SQLITE_UPDATE:
	case SQLITE_DELETE: return schema_own_write(action, a1, db) ? SQLITE_OK : deny(s, "a write to", a1);
	case SQLITE_FUNCTION: return function_allowed(a2) ? SQLITE_OK : deny(s, "the function", a2);
	default: return deny(s, "a statement that is not the attach's", NULL);
	}
}

static int authorize_restricted(dp_sql *s, int action, const char *a1, const char *a2, const char *db)
{
	switch (action) {
	case SQLITE_ATTACH:
		/* A database in memory holds nothing of anyone's. */
		return a1 && (!*a1 || strcmp(a1, ":memory:") == 0) ? SQLITE_OK : deny(s, "ATTACH of a file", NULL);
	case SQLITE_FUNCTION: return function_allowed(a2) ? SQLITE_OK : deny(s, "the function", a2);
	case SQLITE_INSERT:
	case SQLITE_UPDATE:
	case SQLITE_DELETE: return schema_own_write(action, a1, db) ? SQLITE_OK : deny(s, "a write to", a1);
	case SQLITE_CREATE_INDEX:
	case SQLITE_CREATE_TABLE:
	case SQLITE_CREATE_TRIGGER:
	case SQLITE_CREATE_VIEW:
	case SQLITE_DROP_INDEX:
	case SQLITE_DROP_TABLE:
	case SQLITE_DROP_TRIGGER:
	case SQLITE_DROP_VIEW:
	case SQLITE_ALTER_TABLE:
	case SQLITE_ANALYZE:
	case SQLITE_REINDEX: return is_temp(db) ? SQLITE_OK : deny(s, "a change to the schema", db);
	case SQLITE_CREATE_VTABLE:
	case SQLITE_DROP_VTABLE:
		/* Other modules (fts3tokenize takes a tokenizer's address) are
		 * no part of reading the index. */
		return is_temp(db) && is_module(a2) ? SQLITE_OK : deny(s, "a virtual table of the module", a2);
	case SQLITE_PRAGMA:
		for (size_t i = 0; a1 && i < DP_ARRAY_LEN(reading_pragmas); i++)
			if (sqlite3_stricmp(a1, reading_pragmas[i]) == 0)
				return SQLITE_OK;
		/* a setting is read, never changed */
		return a2 ? deny(s, "a pragma that changes", a1) : SQLITE_OK;
	default: return SQLITE_OK;
	}
}

static int authorize(void *aux, int action, const char *a1, const char *a2, const char *db, const char *trigger)
{
	dp_sql *s = aux;
	(void)trigger;
	if (s->attaching)
		return authorize_attach(s, action, a1, a2, db);
	if (s->restricted)
		return authorize_restricted(s, action, a1, a2, db);
	return SQLITE_OK; /* attached, not restricted: the caller's connection, its rules */
}

/* The authorizer is installed once, by the first attach, before anything
 * of the index is read: its modes (attaching, restricted, open) change,
 * it stays.  It replaces one the host program installed before. */
static int install_authorizer(dp_sql *s)
{
	if (s->authorizer)
		return 0;
	if (sqlite3_set_authorizer(s->db, authorize, s) != SQLITE_OK)
		return dp_error(DNNPROV_EQUERY, "cannot set the authorizer: %s", sqlite3_errmsg(s->db));
	s->authorizer = true;
	return 0;
}

const char *dp_sql_denied(const dp_sql *s)
{
	return s->denied[0] ? s->denied : NULL;
}

/* Called every few thousand VM steps: a statement past its time is
 * interrupted.  A statement that the caller did not announce
 * (dp_sql_statement_begin) is recognized by its handle and run count. */
static int progress(void *aux)
{
	dp_sql *s = aux;
	if (s->timeout <= 0)
		return 0;
	sqlite3_stmt *busy = NULL;
	for (sqlite3_stmt *st = sqlite3_next_stmt(s->db, NULL); st; st = sqlite3_next_stmt(s->db, st))
		if (sqlite3_stmt_busy(st)) {
			busy = st;
			break;
		}
	int run = busy ? sqlite3_stmt_status(busy, SQLITE_STMTSTATUS_RUN, 0) : 0;
	double now = dp_monotonic();
	if (busy != s->timed_stmt || run != s->timed_run) {
		s->timed_stmt = busy;
		s->timed_run = run;
		s->deadline = now + s->timeout;
		return 0;
	}
	if (now > s->deadline) {
		s->timed_out = true;
		return 1;
	}
	return 0;
}

int dp_sql_restrict(dp_sql *s, double timeout_s, size_t max_value)
{
	s->restricted = true;
	/* Set again even when installed: SQLite then prepares again the
	 * statements prepared before, under the new rules. */
	if (sqlite3_set_authorizer(s->db, authorize, s) != SQLITE_OK)
		return dp_error(DNNPROV_EQUERY, "cannot set the authorizer: %s", sqlite3_errmsg(s->db));
	s->authorizer = true;
	if (max_value)
		sqlite3_limit(s->db, SQLITE_LIMIT_LENGTH, max_value < INT_MAX ? (int)max_value : INT_MAX);
	s->timeout = timeout_s > 0 ? timeout_s : 0;
	s->timed_stmt = NULL;
	sqlite3_progress_handler(s->db, s->timeout > 0 ? 1000 : 0, s->timeout > 0 ? progress : NULL, s);
	return 0;
}

void dp_sql_statement_begin(dp_sql *s)
{
	s->timed_out = false;
	s->timed_stmt = NULL;
	s->timed_run = 0;
	s->denied[0] = '\0';
	s->deadline = dp_monotonic() + s->timeout;
}

bool dp_sql_timed_out(const dp_sql *s)
{
	return s->timed_out;
}

bool dp_sql_past_deadline(dp_sql *s)
{
	if (s->timeout > 0 && dp_monotonic() > s->deadline)
		s->timed_out = true;
	return s->timed_out;
}

/* ---- SQL functions ------------------------------------------------------------------------ */

static void result_error(sqlite3_context *ctx, int rc)
{
	const char *d = dnnprov_errmsg();
	if (rc == DNNPROV_ENOMEM)
		sqlite3_result_error_nomem(ctx);
	else
		sqlite3_result_error(ctx, d && *d ? d : dnnprov_strerror(rc), -1);
}

static const char *arg_text(sqlite3_value *v)
{
	return sqlite3_value_type(v) == SQLITE_NULL ? NULL : (const char *)sqlite3_value_text(v);
}

/* dnnprov_attach(INDEX_DIR [, DEFAULT_DATAFLOW]): the names of the tables
 * and views it created, one per line. */
static void fn_attach(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	dp_sql *s = sqlite3_user_data(ctx);
	const char *dir = arg_text(argv[0]);
	int rc;
	if (!dir) {
		sqlite3_result_error(ctx, "dnnprov_attach: give the index folder", -1);
		return;
	}
	if ((rc = dp_sql_attach(s, dir, argc > 1 ? arg_text(argv[1]) : NULL))) {
		result_error(ctx, rc);
		return;
	}
	dp_buf b = { 0 };
	for (size_t i = 0; i < s->nschema; i++)
		dp_buf_printf(&b, "%s%s", i ? "\n" : "", s->schema[i].name);
	if (b.failed)
		sqlite3_result_error_nomem(ctx);
	else
		sqlite3_result_text(ctx, b.len ? b.data : "", (int)b.len, SQLITE_TRANSIENT);
	dp_buf_free(&b);
}

/* dnnprov_restrict([TIMEOUT_SECONDS[, MAX_VALUE_BYTES]]): read-only from
 * now on; a statement stops after TIMEOUT_SECONDS, a value is at most
 * MAX_VALUE_BYTES long (0: no limit of the module's for either). */
static void fn_restrict(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	dp_sql *s = sqlite3_user_data(ctx);
	double timeout = argc > 0 ? sqlite3_value_double(argv[0]) : 0;
	sqlite3_int64 max_value = argc > 1 ? sqlite3_value_int64(argv[1]) : 0;
	int rc = dp_sql_restrict(s, timeout, max_value > 0 ? (size_t)max_value : 0);
	if (rc)
		result_error(ctx, rc);
	else
		sqlite3_result_int(ctx, 1);
}

/* dnnprov_query(QUESTION, [PARAMETER, VALUE]...): the question's answer as
 * the CLI prints it with --format json, read from the connection's
 * snapshot.  The parameters are the registry's (query/registry.h); a
 * question about a dataflow that names none gets the attach's default,
 * else the only one in the index. */
static void fn_query(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	dp_sql *s = sqlite3_user_data(ctx);
	const char *name = arg_text(argv[0]);
	const dp_question *qn = dp_question_find(name);
	dp_ask ask = { 0 };
	dp_table t = { 0 };
	dp_qnotes notes = { 0 };
	dp_query *q;
	char *text = NULL;
	size_t len = 0;
	int rc = 0;

	if (!qn) {
		dp_buf list = { 0 };
		for (size_t i = 0; i < dp_question_count(); i++)
			dp_buf_printf(&list, "%s%s", i ? ", " : "", dp_question_at(i)->name);
		rc = dp_error(DNNPROV_EQUERY, "dnnprov_query: unknown question '%s' (questions: %s)", name ? name : "",
			      dp_buf_cstr(&list) ? dp_buf_cstr(&list) : "");
		dp_buf_free(&list);
		goto out;
	}
	if (argc % 2 == 0) {
		rc = dp_error(DNNPROV_EQUERY, "dnnprov_query: parameters come in pairs of a name and a value");
		goto out;
	}
	if ((rc = dp_ask_init(&ask, qn, DP_FRONT_SQL)))
		goto out;
	for (int i = 1; i + 1 < argc && !rc; i += 2) {
		const char *opt = arg_text(argv[i]), *value = arg_text(argv[i + 1]);
		if (!opt)
			rc = dp_error(DNNPROV_EQUERY, "dnnprov_query: a parameter without a name");
		else if (value) /* NULL: the default, as for a parameter not given */
			rc = dp_ask_set(&ask, opt, value);
	}
	if (rc)
		goto out;
	if (!ask.o->df)
		ask.o->df = s->default_df;
	/* A statement of its own as far as the snapshot goes. */
	if ((rc = dp_sql_cursor_open(s, &q)))
		goto out;
	rc = dp_ask_run(&ask, q, &t, &notes);
	dp_sql_cursor_close(s);
	if (rc == DP_ASK_EMPTY) {
		text = strdup("{\"columns\": [],\n\"rows\": []}\n");
		len = text ? strlen(text) : 0;
		rc = text ? 0 : dp_error(DNNPROV_ENOMEM, "out of memory");
		goto out;
	}
	if (rc)
		goto out;
	FILE *f = open_memstream(&text, &len);
	if (!f) {
		rc = dp_error(DNNPROV_ENOMEM, "out of memory");
		goto out;
	}
	rc = dp_table_write(&t, FMT_JSON, f, 0, NULL);
	if (fclose(f) != 0 && !rc)
		rc = dp_error(DNNPROV_ENOMEM, "out of memory");
out:
	if (rc)
		result_error(ctx, rc);
	else
		sqlite3_result_text(ctx, text, (int)len, SQLITE_TRANSIENT);
	free(text);
	dp_table_free(&t);
	dp_buf_free(&notes.text);
	dp_ask_free(&ask);
}

static void context_free(void *p)
{
	dp_sql *s = p;
	if (!s)
		return;
	schema_free(s);
	forget_snapshot_facts(s);
	detach(s);
	free(s->default_df);
	dp_buf_free(&s->notes);
	free(s);
}

int dp_sql_register(sqlite3 *db, dp_sql **out)
{
	dp_sql *s = calloc(1, sizeof(*s));
	int src;
	if (!s)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	s->db = db;
	/* The module owns the context: it is freed with the connection. */
	if ((src = sqlite3_create_module_v2(db, "dnnprov", &dp_sql_module, s, context_free)) != SQLITE_OK)
		return dp_error(DNNPROV_EQUERY, "cannot register the dnnprov module: %s", sqlite3_errstr(src));
	int flags = SQLITE_UTF8 | SQLITE_DIRECTONLY;
	if ((src = sqlite3_create_function(db, "dnnprov_attach", 1, flags, s, fn_attach, NULL, NULL)) ||
	    (src = sqlite3_create_function(db, "dnnprov_attach", 2, flags, s, fn_attach, NULL, NULL)) ||
	    (src = sqlite3_create_function(db, "dnnprov_restrict", 0, flags, s, fn_restrict, NULL, NULL)) ||
	    (src = sqlite3_create_function(db, "dnnprov_restrict", 1, flags, s, fn_restrict, NULL, NULL)) ||
	    (src = sqlite3_create_function(db, "dnnprov_restrict", 2, flags, s, fn_restrict, NULL, NULL)) ||
	    (src = sqlite3_create_function(db, "dnnprov_query", -1, flags, s, fn_query, NULL, NULL)))
		return dp_error(DNNPROV_EQUERY, "cannot register the dnnprov functions: %s", sqlite3_errstr(src));
	if (out)
		*out = s;
	return 0;
}
