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
	s->ncursors++;
	*q = &s->q;
	return 0;
}

void dp_sql_cursor_close(dp_sql *s)
{
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

/* Runs one statement of the attach; the error names it. */
static int exec(dp_sql *s, const char *sql)
{
	char *err = NULL;
	int src = sqlite3_exec(s->db, sql, NULL, NULL, &err);
	if (src == SQLITE_OK)
		return 0;
	int rc = dp_error(src == SQLITE_NOMEM ? DNNPROV_ENOMEM : DNNPROV_EQUERY, "%s (in: %s)",
			  err ? err : sqlite3_errstr(src), sql);
	sqlite3_free(err);
	return rc;
}

void dp_sql_quote(dp_buf *b, const char *s, char quote)
{
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
	rc = b.failed ? dp_error(DNNPROV_ENOMEM, "out of memory") : exec(s, dp_buf_cstr(&b));
	dp_buf_free(&b);
	return rc;
}

static int create_view(dp_sql *s, const char *name, const char *select)
{
	dp_buf b = { 0 };
	int rc;
	dp_buf_printf(&b, "CREATE TEMP VIEW ");
	quote_ident(&b, name);
	dp_buf_printf(&b, " AS %s", select);
	if (b.failed)
		rc = dp_error(DNNPROV_ENOMEM, "out of memory");
	else if (!(rc = exec(s, dp_buf_cstr(&b)))) {
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
			rc = b.failed ? dp_error(DNNPROV_ENOMEM, "out of memory") : exec(s, dp_buf_cstr(&b));
			dp_buf_free(&b);
		}
	schema_free(s);
	return rc;
}

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
	char name[DNNPROV_NAME_MAX + 16];
	if (!low) {
		b->failed = true;
		return;
	}
	snprintf(name, sizeof(name), "%s", low);
	for (int k = 2;; k++) {
		bool taken = false;
		for (size_t at = 0; used->data && at < used->len; at += strlen(used->data + at) + 1)
			taken |= strcmp(used->data + at, name) == 0;
		if (!taken)
			break;
		snprintf(name, sizeof(name), "%s_%d", low, k);
	}
	free(low);
	dp_buf_append(used, name, strlen(name) + 1);
	if (b->len && b->data[b->len - 1] != ' ')
		dp_buf_append(b, ", ", 2);
	dp_buf_printf(b, "%s AS ", expr);
	quote_ident(b, name);
}

static void col_expr(char *out, size_t n, const char *prefix, const char *name)
{
	dp_buf b = { 0 };
	quote_ident(&b, name);
	snprintf(out, n, "%s%s", prefix, b.failed ? "NULL" : dp_buf_cstr(&b));
	dp_buf_free(&b);
}

/* The column of a per-dataflow table that shows `stored` (its declared
 * schema may have renamed it to stay unique): the name as declared. */
static const char *const keras_hyps[] = { "OPTIMIZER_NAME", "LEARNING_RATE", "DECAY", "MOMENTUM",
					  "NUM_EPOCHS", "BATCH_SIZE", "NUM_LAYERS" };

/* DfAnalyzer's views of the default dataflow. */
static int dfanalyzer_views(dp_sql *s, const dp_qdataflow *d, const dp_qtf *tfs, size_t ntfs)
{
	dp_buf b = { 0 }, used = { 0 }, t = { 0 };
	char expr[DNNPROV_NAME_MAX * 2 + 32];
	int rc = 0;

	/* ds_itrainingmodel: the run and its hyperparameters. */
	quote_ident(&t, d->name);
	t.len--;
	dp_buf_append(&t, "_hyperparameters\"", 17);
	dp_buf_printf(&b, "SELECT ");
	select_as(&b, &used, "h.task", "trainingmodel_task_id");
	select_as(&b, &used, "t.start", "timestamp");
	for (size_t i = 0; i < DP_ARRAY_LEN(keras_hyps); i++) {
		const char *h = dp_qdf_hyp(d, keras_hyps[i]);
		if (h)
			col_expr(expr, sizeof(expr), "h.", h);
		select_as(&b, &used, h ? expr : "NULL", keras_hyps[i]);
	}
	for (size_t i = 0; i < d->nhyps; i++) {
		bool known = false;
		for (size_t k = 0; k < DP_ARRAY_LEN(keras_hyps); k++)
			known |= dp_strcasecmp(d->hyps[i].name, keras_hyps[k]) == 0;
		if (known)
			continue;
		col_expr(expr, sizeof(expr), "h.", d->hyps[i].name);
		select_as(&b, &used, expr, d->hyps[i].name);
	}
	dp_buf_printf(&b, " FROM %s AS h JOIN tasks AS t ON t.dataflow = ", dp_buf_cstr(&t));
	quote_text(&b, d->name);
	dp_buf_printf(&b, " AND t.task = h.task");
	rc = b.failed ? DNNPROV_ENOMEM : create_view(s, "ds_itrainingmodel", dp_buf_cstr(&b));

	/* ds_otrainingmodel: an element per epoch. */
	b.len = used.len = t.len = 0;
	quote_ident(&t, d->name);
	t.len--;
	dp_buf_append(&t, "_epochs\"", 8);
	dp_buf_printf(&b, "SELECT ");
	select_as(&b, &used, "task", "trainingmodel_task_id");
	select_as(&b, &used, "task", "adaptation_task_id");
	select_as(&b, &used, "task", "testingmodel_task_id");
	select_as(&b, &used, "time", "timestamp");
	select_as(&b, &used, "elapsed", "elapsed_time");
	for (size_t i = 0; i < d->nmetrics; i++) {
		col_expr(expr, sizeof(expr), "", d->metrics[i]);
		select_as(&b, &used, expr, d->metrics[i]);
	}
	select_as(&b, &used, "epoch", "epoch");
	dp_buf_printf(&b, " FROM %s", dp_buf_cstr(&t));
	if (!rc)
		rc = b.failed ? DNNPROV_ENOMEM : create_view(s, "ds_otrainingmodel", dp_buf_cstr(&b));

	/* ds_oadaptation: the learning rate's changes. */
	b.len = 0;
	dp_buf_printf(&b, "SELECT task AS adaptation_task_id, new AS new_lrate, time AS timestamp, epoch AS epoch_id, "
			  "id AS adaptation_id FROM adaptations WHERE dataflow = ");
	quote_text(&b, d->name);
	dp_buf_printf(&b, " AND upper(hyperparameter) = 'LEARNING_RATE'");
	if (!rc)
		rc = b.failed ? DNNPROV_ENOMEM : create_view(s, "ds_oadaptation", dp_buf_cstr(&b));

	/* ds_otestingmodel: the test results. */
	b.len = used.len = t.len = 0;
	quote_ident(&t, d->name);
	t.len--;
	dp_buf_append(&t, "_tests\"", 7);
	dp_buf_printf(&b, "SELECT ");
	select_as(&b, &used, "task", "testingmodel_task_id");
	select_as(&b, &used, "time", "timestamp");
	for (size_t i = 0; i < d->nmetrics; i++) {
		if (strncmp(d->metrics[i], "val_", 4) == 0)
			continue;
		col_expr(expr, sizeof(expr), "", d->metrics[i]);
		select_as(&b, &used, expr, d->metrics[i]);
	}
	dp_buf_printf(&b, " FROM %s", dp_buf_cstr(&t));
	if (!rc)
		rc = b.failed ? DNNPROV_ENOMEM : create_view(s, "ds_otestingmodel", dp_buf_cstr(&b));

	/* ds_ilayers: the layer facts. */
	b.len = 0;
	dp_buf_printf(&b, "SELECT task AS trainingmodel_task_id, time AS timestamp, layer AS name, kind AS "
			  "attribute_type, value FROM layers WHERE dataflow = ");
	quote_text(&b, d->name);
	if (!rc)
		rc = b.failed ? DNNPROV_ENOMEM : create_view(s, "ds_ilayers", dp_buf_cstr(&b));

	/* ds_<set> of each user-defined set. */
	for (size_t i = 0; i < ntfs && !rc; i++)
		for (size_t k = 0; k < tfs[i].nsets && !rc; k++) {
			const dp_qset *set = &tfs[i].sets[k];
			char task_col[DNNPROV_NAME_MAX + 16], view[DNNPROV_NAME_MAX + 8];
			char *low = lower_name(set->name);
			b.len = used.len = t.len = 0;
			snprintf(task_col, sizeof(task_col), "%s_task_id", tfs[i].name);
			snprintf(view, sizeof(view), "ds_%s", low ? low : "");
			free(low);
			quote_ident(&t, d->name);
			t.len--;
			dp_buf_printf(&t, "_%s", set->name);
			dp_buf_putc(&t, '"');
			dp_buf_printf(&b, "SELECT ");
			select_as(&b, &used, "task", task_col);
			select_as(&b, &used, "time", "timestamp");
			for (size_t a = 0; a < set->nattrs; a++) {
				col_expr(expr, sizeof(expr), "", set->attrs[a].name);
				select_as(&b, &used, expr, set->attrs[a].name);
			}
			dp_buf_printf(&b, " FROM %s", dp_buf_cstr(&t));
			rc = b.failed || !low ? DNNPROV_ENOMEM : create_view(s, view, dp_buf_cstr(&b));
		}
	dp_buf_free(&b);
	dp_buf_free(&used);
	dp_buf_free(&t);
	return rc == DNNPROV_ENOMEM ? dp_error(rc, "out of memory") : rc;
}

/* DfAnalyzer's specification and task tables, over every dataflow, with
 * numbers for ids as DfAnalyzer's tables have. */
static const char *const dfanalyzer_common[][2] = {
	{ "dataflow", "SELECT row_number() OVER (ORDER BY dataflow) AS id, dataflow AS tag FROM dataflows" },
	{ "data_transformation",
	  "SELECT row_number() OVER (ORDER BY t.dataflow, t.transformation) AS id, d.id AS df_id, t.transformation AS "
	  "tag FROM transformations AS t JOIN dataflow AS d ON d.tag = t.dataflow" },
	{ "data_set", "SELECT row_number() OVER (ORDER BY s.dataflow, s.\"set\") AS id, d.id AS df_id, s.\"set\" AS tag "
		      "FROM sets AS s JOIN dataflow AS d ON d.tag = s.dataflow" },
	{ "attribute",
	  "SELECT row_number() OVER (ORDER BY a.dataflow, a.\"set\", a.position) AS id, ds.id AS ds_id, NULL AS "
	  "extractor_id, a.attribute AS name, upper(a.type) AS type FROM attributes AS a JOIN dataflow AS d ON d.tag "
	  "= a.dataflow JOIN data_set AS ds ON ds.df_id = d.id AND ds.tag = a.\"set\"" },
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
};

static int per_dataflow(dp_sql *s, const char *df, bool is_default)
{
	dp_qdataflow d;
	dp_qtf *tfs = NULL;
	size_t ntfs = 0;
	char name[2 * DNNPROV_NAME_MAX + 32];
	int rc;

	if ((rc = dp_query_load_spec(&s->q, df, &d)))
		return rc;
	if ((rc = dp_qdf_transformations(&d, &tfs, &ntfs)))
		goto out;
	static const char *const wide[][2] = { { "epochs", "epochs" },
					       { "hyperparameters", "hyperparameters_wide" },
					       { "tests", "tests_wide" } };
	for (size_t i = 0; i < DP_ARRAY_LEN(wide) && !rc; i++) {
		snprintf(name, sizeof(name), "%s_%s", df, wide[i][0]);
		rc = create_table(s, name, wide[i][1], df, NULL, NULL);
	}
	for (size_t i = 0; i < ntfs && !rc; i++)
		for (size_t k = 0; k < tfs[i].nsets && !rc; k++) {
			snprintf(name, sizeof(name), "%s_%s", df, tfs[i].sets[k].name);
			rc = create_table(s, name, "set", df, tfs[i].name, tfs[i].sets[k].name);
		}
	if (!rc && is_default) {
		dp_buf b = { 0 };
		dp_buf_printf(&b, "SELECT * FROM ");
		snprintf(name, sizeof(name), "%s_epochs", df);
		quote_ident(&b, name);
		rc = b.failed ? dp_error(DNNPROV_ENOMEM, "out of memory") : create_view(s, "epochs", dp_buf_cstr(&b));
		dp_buf_free(&b);
		if (!rc)
			rc = dfanalyzer_views(s, &d, tfs, ntfs);
	}
out:
	dp_qtfs_free(tfs, ntfs);
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

static int attach(dp_sql *s, const char *index_dir, dp_index *ix, MDB_txn *txn, const char *default_df)
{
	static const char *const common[] = { "dataflows",   "transformations", "sets",	       "attributes",
					      "dependencies", "tasks",		 "hyperparameters", "metrics",
					      "summaries",   "adaptations",	 "tests",	       "layers",
					      "elements",    "facts",		 "tags" };
	char **names = NULL;
	size_t n = 0;
	int rc;

	if (s->ncursors)
		return dp_error(DNNPROV_ESTATE, "cannot attach an index while a statement reads the attached one");
	if ((rc = drop_all(s)))
		return rc;
	detach(s);
	forget_snapshot_facts(s);
	free(s->default_df);
	s->default_df = NULL;
	if (ix) {
		dp_query_adopt(ix, txn, &s->q);
		s->borrowed = true;
	} else if ((rc = dp_query_open(index_dir, &s->q))) {
		return rc;
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
	for (size_t i = 0; i < DP_ARRAY_LEN(dfanalyzer_common) && !rc; i++)
		rc = create_view(s, dfanalyzer_common[i][0], dfanalyzer_common[i][1]);
	for (size_t i = 0; i < n && !rc; i++)
		rc = per_dataflow(s, names[i], s->default_df && strcmp(names[i], s->default_df) == 0);
	if (rc)
		goto fail;
	qsort(s->schema, s->nschema, sizeof(*s->schema), cmp_entry);
	return 0;
fail:
	drop_all(s);
	detach(s);
	forget_snapshot_facts(s);
	return rc;
}

/* ---- rows ---------------------------------------------------------------------------- */

/* A column's kind: a TIMESTAMP column shows times; any other value shows
 * as it is (its SQL type decides). */
dp_col_kind dp_sql_column_kind(sqlite3_stmt *st, int i)
{
	const char *decl = sqlite3_column_decltype(st, i);
	return decl && sqlite3_stricmp(decl, "TIMESTAMP") == 0 ? COL_TIME : COL_NUM;
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

void dp_sql_cell(sqlite3_stmt *st, int i, dp_qv *cell, dp_buf *hex)
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
		hex->len = 0;
		dp_buf_append(hex, "X'", 2);
		for (int k = 0; k < n; k++)
			dp_buf_printf(hex, "%02X", p[k]);
		dp_buf_putc(hex, '\'');
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

static bool is_temp(const char *db)
{
	return db && strcmp(db, "temp") == 0;
}

/* Pragmas that only read, whatever their argument. */
static const char *const reading_pragmas[] = {
	"table_info", "table_xinfo", "table_list", "index_info", "index_list", "index_xinfo", "function_list",
	"module_list", "pragma_list", "database_list", "collation_list", "compile_options", "foreign_key_list",
};

static int authorize(void *aux, int action, const char *a1, const char *a2, const char *db, const char *trigger)
{
	(void)aux;
	(void)trigger;
	switch (action) {
	case SQLITE_ATTACH:
		/* A database in memory holds nothing of anyone's. */
		return a1 && (!*a1 || strcmp(a1, ":memory:") == 0) ? SQLITE_OK : SQLITE_DENY;
	case SQLITE_FUNCTION:
		return a2 && sqlite3_stricmp(a2, "load_extension") == 0 ? SQLITE_DENY : SQLITE_OK;
	case SQLITE_INSERT:
	case SQLITE_UPDATE:
	case SQLITE_DELETE:
		/* sqlite_temp_master changes with every temp object. */
		return is_temp(db) ? SQLITE_OK : SQLITE_DENY;
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
	case SQLITE_REINDEX:
		return is_temp(db) ? SQLITE_OK : SQLITE_DENY;
	case SQLITE_CREATE_VTABLE:
	case SQLITE_DROP_VTABLE:
		return is_temp(db) ? SQLITE_OK : SQLITE_DENY;
	case SQLITE_PRAGMA:
		for (size_t i = 0; a1 && i < DP_ARRAY_LEN(reading_pragmas); i++)
			if (sqlite3_stricmp(a1, reading_pragmas[i]) == 0)
				return SQLITE_OK;
		return a2 ? SQLITE_DENY : SQLITE_OK; /* a setting is read, never changed */
	default: return SQLITE_OK;
	}
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

int dp_sql_restrict(dp_sql *s, double timeout_s)
{
	if (sqlite3_set_authorizer(s->db, authorize, s) != SQLITE_OK)
		return dp_error(DNNPROV_EQUERY, "cannot set the authorizer: %s", sqlite3_errmsg(s->db));
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
	s->deadline = dp_monotonic() + s->timeout;
}

bool dp_sql_timed_out(const dp_sql *s)
{
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

/* dnnprov_restrict([TIMEOUT_SECONDS]): read-only from now on. */
static void fn_restrict(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	dp_sql *s = sqlite3_user_data(ctx);
	double timeout = argc > 0 ? sqlite3_value_double(argv[0]) : 0;
	int rc = dp_sql_restrict(s, timeout);
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
	    (src = sqlite3_create_function(db, "dnnprov_query", -1, flags, s, fn_query, NULL, NULL)))
		return dp_error(DNNPROV_EQUERY, "cannot register the dnnprov functions: %s", sqlite3_errstr(src));
	if (out)
		*out = s;
	return 0;
}
