/*
 * vtab.c - the `dnnprov` virtual-table module: each table is a "kind" of
 * index content (tasks, epochs, summaries, ...) read through the query
 * layer's readers (query/rows.h), never by decoding stored values here.
 *
 * PLANNING. A kind names the fields of its LMDB key in order (dataflow,
 * task, epoch, ...) and the column each one shows.  xBestIndex walks them:
 * equality on a field extends the key prefix; a dataflow column left free
 * before a constrained field becomes one range per dataflow; a range on an
 * epoch or a time becomes the scan's bounds; the walk stops at the first
 * field it cannot use.  The estimated rows come from the snapshot's entry
 * counts, so a plan through one task costs what that task's records cost
 * and SQLite drives joins through the key.  Constraints are never marked
 * `omit`: SQLite checks them again, so a plan only has to return a superset
 * (a bound it cannot convert is simply not used).
 *
 * idxNum packs the plan: two bits per key field (0 unused, 1 equality,
 * 2 range, 3 every dataflow), then the lower bound's operator (bits 12-13:
 * 1 >, 2 >=) and the upper bound's (bits 14-15: 1 <, 2 <=).  The arguments
 * are the equality values in key order, then the lower and upper bounds.
 */
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sql/sql.h"

enum kind {
	K_DATAFLOWS,
	K_TRANSFORMATIONS,
	K_SETS,
	K_ATTRIBUTES,
	K_DEPENDENCIES,
	K_TASKS,
	K_HYPS,
	K_HYPS_WIDE,
	K_EPOCHS,
	K_METRICS,
	K_SUMMARIES,
	K_ADAPTATIONS,
	K_TESTS,
	K_TESTS_WIDE,
	K_LAYERS,
	K_ELEMENTS,
	K_SET,
	K_FACTS,
	K_TAGS,
	K_EVENTS,
	K_USED,
	K_GENERATED,
	K_COUNT
};

#define FIXED (-2) /* a key field the table fixes (its dataflow, transformation, set) */
#define NOCOL (-1) /* a key field no column shows (a record id) */
#define MAXKEY 6

typedef struct col_def {
	const char *name, *type;
} col_def;

typedef struct key_def {
	int col;
	char type; /* 's' text, 'i' int64, 'd' double, 'r' record position */
} key_def;

typedef enum wide_kind { W_NONE, W_HYPS, W_METRICS, W_ATTRS } wide_kind;

typedef struct kind_def {
	const char *arg; /* the module argument naming it */
	int db;          /* DP_DB_*, or -1: rows made from the specification */
	int nnames;      /* names after the kind: 0, 1 (dataflow) or 3 (dataflow, transformation, set) */
	const col_def *cols;
	int ncols;
	key_def key[MAXKEY];
	int nkey;
	bool sub; /* several rows per record */
	wide_kind wide;
} kind_def;

#define COLS(a) a, (int)DP_ARRAY_LEN(a)

static const col_def c_dataflows[] = { { "dataflow", "TEXT" }, { "adaptation", "INTEGER" },
				       { "first_seen", "TIMESTAMP" } };
static const col_def c_transformations[] = { { "dataflow", "TEXT" }, { "transformation", "TEXT" },
					     { "builtin", "INTEGER" }, { "depends_on", "TEXT" } };
static const col_def c_sets[] = { { "dataflow", "TEXT" }, { "transformation", "TEXT" }, { "set", "TEXT" },
				  { "direction", "TEXT" }, { "table_name", "TEXT" } };
static const col_def c_attributes[] = { { "dataflow", "TEXT" }, { "transformation", "TEXT" }, { "set", "TEXT" },
					{ "attribute", "TEXT" }, { "type", "TEXT" }, { "position", "INTEGER" } };
static const col_def c_dependencies[] = { { "dataflow", "TEXT" }, { "set", "TEXT" },
					  { "previous_transformation", "TEXT" }, { "next_transformation", "TEXT" } };
static const col_def c_tasks[] = {
	{ "dataflow", "TEXT" },	   { "task", "TEXT" },		     { "transformation", "TEXT" },
	{ "status", "TEXT" },	   { "host", "TEXT" },		     { "user", "TEXT" },
	{ "pid", "INTEGER" },	   { "execution", "TEXT" },	     { "start", "TIMESTAMP" },
	{ "end", "TIMESTAMP" },	   { "last_activity", "TIMESTAMP" }, { "duration", "REAL" },
	{ "epochs", "INTEGER" },   { "last_epoch", "INTEGER" },	     { "attempts", "INTEGER" },
	{ "message", "TEXT" },	   { "active", "REAL" },	     { "health", "TEXT" },
};
static const col_def c_hyps[] = { { "dataflow", "TEXT" }, { "task", "TEXT" }, { "name", "TEXT" }, { "value", "" },
				  { "type", "TEXT" } };
static const col_def c_hyps_wide[] = { { "task", "TEXT" } };
static const col_def c_epochs[] = { { "task", "TEXT" }, { "epoch", "INTEGER" }, { "time", "TIMESTAMP" },
				    { "elapsed", "REAL" } };
static const col_def c_metrics[] = { { "dataflow", "TEXT" }, { "task", "TEXT" }, { "epoch", "INTEGER" },
				     { "name", "TEXT" }, { "value", "REAL" } };
static const col_def c_summaries[] = {
	{ "dataflow", "TEXT" }, { "metric", "TEXT" },	      { "task", "TEXT" },	{ "n", "INTEGER" },
	{ "nan_count", "INTEGER" }, { "min", "REAL" },	      { "min_epoch", "INTEGER" }, { "max", "REAL" },
	{ "max_epoch", "INTEGER" }, { "first", "REAL" },      { "first_epoch", "INTEGER" }, { "last", "REAL" },
	{ "last_epoch", "INTEGER" }, { "mean", "REAL" },      { "best", "REAL" },	{ "best_epoch", "INTEGER" },
};
static const col_def c_adaptations[] = { { "dataflow", "TEXT" }, { "task", "TEXT" },	 { "epoch", "INTEGER" },
					 { "hyperparameter", "TEXT" }, { "old", "" }, { "new", "" },
					 { "time", "TIMESTAMP" }, { "id", "INTEGER" } };
static const col_def c_tests[] = { { "dataflow", "TEXT" }, { "task", "TEXT" }, { "time", "TIMESTAMP" },
				   { "metric", "TEXT" }, { "value", "REAL" } };
static const col_def c_tests_wide[] = { { "task", "TEXT" }, { "time", "TIMESTAMP" } };
static const col_def c_layers[] = { { "dataflow", "TEXT" }, { "task", "TEXT" },	 { "time", "TIMESTAMP" },
				    { "position", "INTEGER" }, { "layer", "TEXT" }, { "kind", "TEXT" },
				    { "value", "" } };
static const col_def c_elements[] = { { "dataflow", "TEXT" }, { "transformation", "TEXT" }, { "set", "TEXT" },
				      { "task", "TEXT" }, { "time", "TIMESTAMP" }, { "attribute", "TEXT" },
				      { "value", "" } };
static const col_def c_set[] = { { "task", "TEXT" }, { "time", "TIMESTAMP" } };
static const col_def c_facts[] = { { "dataflow", "TEXT" }, { "task", "TEXT" }, { "name", "TEXT" }, { "value", "" } };
static const col_def c_events[] = { { "dataflow", "TEXT" }, { "task", "TEXT" },    { "rule", "TEXT" },
				    { "epoch", "INTEGER" },  { "id", "TEXT" },	    { "time", "TIMESTAMP" },
				    { "metric", "TEXT" },    { "value", "REAL" },   { "detail", "TEXT" },
				    { "evidence", "TEXT" } };
static const col_def c_tags[] = { { "dataflow", "TEXT" }, { "task", "TEXT" }, { "key", "TEXT" }, { "value", "" },
				  { "time", "TIMESTAMP" } };

static const col_def c_lineage[] = { { "dataflow", "TEXT" }, { "task", "TEXT" },     { "role", "TEXT" },
				     { "fingerprint", "TEXT" }, { "location", "TEXT" }, { "size", "INTEGER" },
				     { "time", "TIMESTAMP" } };

static const kind_def kinds[K_COUNT] = {
	[K_DATAFLOWS] = { "dataflows", -1, 0, COLS(c_dataflows), { { 0, 's' } }, 1, false, W_NONE },
	[K_TRANSFORMATIONS] = { "transformations", -1, 0, COLS(c_transformations), { { 0, 's' } }, 1, false, W_NONE },
	[K_SETS] = { "sets", -1, 0, COLS(c_sets), { { 0, 's' } }, 1, false, W_NONE },
	[K_ATTRIBUTES] = { "attributes", -1, 0, COLS(c_attributes), { { 0, 's' } }, 1, false, W_NONE },
	[K_DEPENDENCIES] = { "dependencies", -1, 0, COLS(c_dependencies), { { 0, 's' } }, 1, false, W_NONE },
	[K_TASKS] = { "tasks", DP_DB_TASKS, 0, COLS(c_tasks), { { 0, 's' }, { 1, 's' } }, 2, false, W_NONE },
	[K_HYPS] = { "hyperparameters", DP_DB_TASKS, 0, COLS(c_hyps), { { 0, 's' }, { 1, 's' } }, 2, true, W_NONE },
	[K_HYPS_WIDE] = { "hyperparameters_wide", DP_DB_TASKS, 1, COLS(c_hyps_wide), { { FIXED, 's' }, { 0, 's' } },
			  2, false, W_HYPS },
	[K_EPOCHS] = { "epochs", DP_DB_EPOCHS, 1, COLS(c_epochs), { { FIXED, 's' }, { 0, 's' }, { 1, 'i' } }, 3,
		       false, W_METRICS },
	[K_METRICS] = { "metrics", DP_DB_EPOCHS, 0, COLS(c_metrics), { { 0, 's' }, { 1, 's' }, { 2, 'i' } }, 3, true,
			W_NONE },
	[K_SUMMARIES] = { "summaries", DP_DB_SUMMARIES, 0, COLS(c_summaries), { { 0, 's' }, { 1, 's' }, { 2, 's' } },
			  3, false, W_NONE },
	[K_ADAPTATIONS] = { "adaptations", DP_DB_ADAPTATIONS, 0, COLS(c_adaptations),
			    { { 0, 's' }, { 1, 's' }, { 2, 'i' }, { 3, 's' } }, 4, false, W_NONE },
	/* Tests and elements are keyed by the record's causal position, not
	 * its time (indexer/schema.h): time is a column, not a bound. */
	[K_TESTS] = { "tests", DP_DB_TESTS, 0, COLS(c_tests), { { 0, 's' }, { 1, 's' }, { NOCOL, 'r' } },
		      3, true, W_NONE },
	[K_TESTS_WIDE] = { "tests_wide", DP_DB_TESTS, 1, COLS(c_tests_wide),
			   { { FIXED, 's' }, { 0, 's' }, { NOCOL, 'r' } }, 3, false, W_METRICS },
	[K_LAYERS] = { "layers", DP_DB_LAYERS, 0, COLS(c_layers), { { 0, 's' }, { 1, 's' } }, 2, true, W_NONE },
	[K_ELEMENTS] = { "elements", DP_DB_ELEMENTS, 0, COLS(c_elements),
			 { { 0, 's' }, { 1, 's' }, { 2, 's' }, { 3, 's' }, { NOCOL, 'r' } }, 5, true, W_NONE },
	[K_SET] = { "set", DP_DB_ELEMENTS, 3, COLS(c_set),
		    { { FIXED, 's' }, { FIXED, 's' }, { FIXED, 's' }, { 0, 's' }, { NOCOL, 'r' } }, 5, false,
		    W_ATTRS },
	[K_FACTS] = { "facts", DP_DB_TASKS, 0, COLS(c_facts), { { 0, 's' }, { 1, 's' } }, 2, true, W_NONE },
	[K_TAGS] = { "tags", DP_DB_TAGS, 0, COLS(c_tags), { { 0, 's' }, { 1, 's' }, { 2, 's' } }, 3, false, W_NONE },
	[K_EVENTS] = { "events", DP_DB_EVENTS, 0, COLS(c_events), { { 0, 's' }, { 1, 's' }, { 2, 's' }, { 3, 'i' } },
		       4, false, W_NONE },
	/* What tasks used and generated: one database, each table the
	 * records of its direction (docs/LINEAGE.md). */
	[K_USED] = { "used", DP_DB_LINEAGE, 0, COLS(c_lineage), { { 0, 's' }, { 1, 's' }, { NOCOL, 'r' } }, 3, false,
		     W_NONE },
	[K_GENERATED] = { "generated", DP_DB_LINEAGE, 0, COLS(c_lineage), { { 0, 's' }, { 1, 's' }, { NOCOL, 'r' } },
			  3, false, W_NONE },
};

/* ---- tables ---------------------------------------------------------------------- */

typedef struct sql_table {
	sqlite3_vtab base;
	dp_sql *ctx;
	int kind;
	char *names[3];   /* the dataflow, transformation and set it is fixed to */
	int nfixed;       /* key fields the table fixes */
	int ncols;        /* all columns */
	char **wide;      /* the stored name of each wide column (metric, hyperparameter, attribute) */
	int nwide;
	bool wide_real;   /* the wide columns are declared REAL (metrics) */
	bool lower_better_cache;
} sql_table;

static char *unquote(const char *s)
{
	size_t n = strlen(s);
	if (n >= 2 && (s[0] == '\'' || s[0] == '"') && s[n - 1] == s[0]) {
		char *out = malloc(n), *o = out;
		if (!out)
			return NULL;
		for (size_t i = 1; i + 1 < n; i++) {
			*o++ = s[i];
			if (s[i] == s[0] && s[i + 1] == s[0])
				i++;
		}
		*o = '\0';
		return out;
	}
	return strdup(s);
}

/* A column name not yet used (case-insensitively, as SQLite compares
 * them): "time", then "time_2", ... (caller frees; NULL when out of
 * memory). */
static char *unique_name(char **used, int nused, const char *base)
{
	dp_buf name = { 0 };
	dp_buf_printf(&name, "%s", base);
	for (int k = 2; !name.failed && dp_buf_cstr(&name); k++) {
		bool taken = false;
		for (int i = 0; i < nused && !taken; i++)
			taken = sqlite3_stricmp(used[i], name.data) == 0;
		if (!taken)
			return name.data; /* the buffer's, now the caller's */
		name.len = 0;
		dp_buf_printf(&name, "%s_%d", base, k);
	}
	dp_buf_free(&name);
	return NULL;
}

static void table_free(sql_table *t)
{
	if (!t)
		return;
	for (int i = 0; i < 3; i++)
		free(t->names[i]);
	for (int i = 0; i < t->nwide; i++)
		free(t->wide[i]);
	free(t->wide);
	sqlite3_free(t);
}

static const char *attr_type(dp_attr_type t)
{
	return t == DP_ATTR_NUMERIC ? "NUMERIC" : "TEXT";
}

/* The wide columns of a per-dataflow table, from the dataflow's model in
 * the snapshot: a hyperparameter, metric or attribute each. */
static int wide_columns(sql_table *t, dp_buf *decl, char ***colnames, int *ncolnames)
{
	const kind_def *k = &kinds[t->kind];
	dp_qdataflow d;
	const dp_mset *set = NULL;
	size_t n = 0;
	int rc;

	if ((rc = dp_query_load_model(dp_sql_query(t->ctx), t->names[0], &d)))
		return rc;
	if (k->wide == W_HYPS) {
		set = dp_model_hyps(&d.model);
	} else if (k->wide == W_METRICS) {
		n = d.nmetrics;
		t->wide_real = true;
	} else {
		const dp_mtf *tf = dp_model_tf(&d.model, t->names[1]);
		if (tf && !tf->builtin)
			set = dp_model_set(&d.model, t->names[1], t->names[2]);
		if (!set)
			rc = dp_error(DNNPROV_ENOTFOUND, "no set %s.%s in dataflow %s", t->names[1], t->names[2],
				      t->names[0]);
	}
	if (set)
		n = set->nattrs;
	if (!rc && !(t->wide = calloc(n + 1, sizeof(char *))))
		rc = dp_error(DNNPROV_ENOMEM, "out of memory");
	for (size_t i = 0; !rc && i < n; i++) {
		const char *name = set ? set->attrs[i].name : d.metrics[i];
		const char *type = set ? attr_type(set->attrs[i].type) : "REAL";
		char **grown = realloc(*colnames, (size_t)(*ncolnames + 1) * sizeof(char *));
		if (!grown || !(t->wide[i] = strdup(name))) {
			if (grown)
				*colnames = grown;
			rc = dp_error(DNNPROV_ENOMEM, "out of memory");
			break;
		}
		t->nwide++;
		*colnames = grown;
		if (!((*colnames)[*ncolnames] = unique_name(*colnames, *ncolnames, name))) {
			rc = dp_error(DNNPROV_ENOMEM, "out of memory");
			break;
		}
		dp_buf_append(decl, ", ", 2);
		dp_sql_quote(decl, (*colnames)[*ncolnames], '"');
		dp_buf_printf(decl, " %s", type);
		(*ncolnames)++;
	}
	dp_qdataflow_free(&d);
	return rc;
}

/* argv: module, database, table, kind, then the names of kind_def.nnames. */
static int x_connect(sqlite3 *db, void *aux, int argc, const char *const *argv, sqlite3_vtab **out, char **err)
{
	dp_sql *ctx = aux;
	sql_table *t;
	dp_buf decl = { 0 };
	char **colnames = NULL;
	int ncolnames = 0, kind = -1, rc = 0;

	for (int i = 0; argc > 3 && i < K_COUNT; i++)
		if (strcmp(argv[3], kinds[i].arg) == 0)
			kind = i;
	if (kind < 0 || argc != 4 + kinds[kind].nnames) {
		*err = sqlite3_mprintf("dnnprov: unknown table kind or wrong arguments");
		return SQLITE_ERROR;
	}
	if (!(t = sqlite3_malloc(sizeof(*t)))) /* the base's zErrMsg is SQLite's to free */
		return SQLITE_NOMEM;
	memset(t, 0, sizeof(*t));
	t->ctx = ctx;
	t->kind = kind;
	t->nfixed = kinds[kind].nnames;
	for (int i = 0; i < kinds[kind].nnames; i++)
		if (!(t->names[i] = unquote(argv[4 + i])))
			rc = dp_error(DNNPROV_ENOMEM, "out of memory");
	dp_buf_printf(&decl, "CREATE TABLE x(");
	for (int i = 0; i < kinds[kind].ncols && !rc; i++) {
		char **grown = realloc(colnames, (size_t)(ncolnames + 1) * sizeof(char *));
		if (!grown || !(grown[ncolnames] = strdup(kinds[kind].cols[i].name))) {
			colnames = grown ? grown : colnames;
			rc = dp_error(DNNPROV_ENOMEM, "out of memory");
			break;
		}
		colnames = grown;
		if (i)
			dp_buf_append(&decl, ", ", 2);
		dp_sql_quote(&decl, colnames[ncolnames++], '"');
		if (*kinds[kind].cols[i].type)
			dp_buf_printf(&decl, " %s", kinds[kind].cols[i].type);
	}
	if (!rc && kinds[kind].wide != W_NONE)
		rc = wide_columns(t, &decl, &colnames, &ncolnames);
	dp_buf_putc(&decl, ')');
	if (!rc && decl.failed)
		rc = dp_error(DNNPROV_ENOMEM, "out of memory");
	t->ncols = ncolnames;
	if (!rc) {
		if (sqlite3_declare_vtab(db, dp_buf_cstr(&decl)) != SQLITE_OK)
			rc = dp_error(DNNPROV_EQUERY, "declaring %s: %s", argv[2], sqlite3_errmsg(db));
		else {
			/* Noted with its name where SQLite takes "x". */
			dp_buf named = { 0 };
			dp_buf_printf(&named, "CREATE TABLE ");
			dp_sql_quote(&named, argv[2], '"');
			dp_buf_printf(&named, "%s", dp_buf_cstr(&decl) + 14);
			rc = named.failed ? dp_error(DNNPROV_ENOMEM, "out of memory")
					  : dp_sql_note_schema(ctx, argv[2], dp_buf_cstr(&named));
			dp_buf_free(&named);
		}
	}
	for (int i = 0; i < ncolnames; i++)
		free(colnames[i]);
	free(colnames);
	dp_buf_free(&decl);
	if (rc) {
		*err = sqlite3_mprintf("%s", dnnprov_errmsg());
		table_free(t);
		return rc == DNNPROV_ENOMEM ? SQLITE_NOMEM : SQLITE_ERROR;
	}
	*out = &t->base;
	return SQLITE_OK;
}

int dp_sql_kind_columns(const char *kind)
{
	for (int i = 0; i < K_COUNT; i++)
		if (strcmp(kinds[i].arg, kind) == 0)
			return kinds[i].ncols;
	return 0;
}

static int x_disconnect(sqlite3_vtab *vt)
{
	table_free((sql_table *)vt);
	return SQLITE_OK;
}

/* ---- planning ------------------------------------------------------------------------ */

enum { M_NONE = 0, M_EQ = 1, M_RANGE = 2, M_EVERY = 3 };

static int field_mode(int plan, int f)
{
	assert(f >= 0 && f < MAXKEY); /* two bits a field below bit 12 */
	return (plan >> (2 * f)) & 3;
}

/* The number of arguments of a plan: x_best_index numbers the equality
 * values in key order, then the lower and upper bounds.  Checks on the way
 * that the plan is one it makes: no mode on a fixed or missing field, every
 * dataflow on the first field only, one range at most, and bound
 * operators only with a range. */
__attribute__((unused)) static int plan_args(const sql_table *t, int plan)
{
	const kind_def *k = &kinds[t->kind];
	int n = 0, ranges = 0;
	assert(plan >= 0 && (plan >> 16) == 0);
	for (int f = 0; f < MAXKEY; f++) {
		int m = field_mode(plan, f);
		assert(m == M_NONE || (f < k->nkey && f >= t->nfixed));
		assert(m != M_EVERY || (f == 0 && k->db >= 0));
		n += m == M_EQ;
		ranges += m == M_RANGE;
	}
	assert(ranges <= 1 && (ranges || (plan >> 12) == 0));
	return n + (((plan >> 12) & 3) != 0) + (((plan >> 14) & 3) != 0);
}

/* How many rows one value of key field f narrows to, from the snapshot's
 * entry counts: the planner's costs are only as honest as these. */
static double fanout(sql_table *t, int f, double rows)
{
	dp_sql *c = t->ctx;
	double dfs = dp_sql_entries(c, DP_DB_DATAFLOWS), tasks = dp_sql_entries(c, DP_DB_TASKS);
	const kind_def *k = &kinds[t->kind];
	if (dfs < 1)
		dfs = 1;
	if (tasks < 1)
		tasks = 1;
	if (k->db < 0 || f == 0)
		return dfs;
	switch (k->key[f].type) {
	case 'i':
	case 'd': return rows > 1 ? rows : 1; /* one epoch, one time: about one record */
	default: break;
	}
	if (t->kind == K_SUMMARIES && f == 1) /* metrics per dataflow */
		return dp_sql_entries(c, DP_DB_SUMMARIES) / tasks > 1 ? dp_sql_entries(c, DP_DB_SUMMARIES) / tasks : 1;
	if (k->key[f].col >= 0 && strcmp(k->cols[k->key[f].col].name, "task") == 0)
		return tasks / dfs > 1 ? tasks / dfs : 1;
	return 2; /* a transformation, a set, a hyperparameter */
}

static double subrows(sql_table *t)
{
	dp_sql *c = t->ctx;
	double tasks = dp_sql_entries(c, DP_DB_TASKS);
	switch (t->kind) {
	case K_METRICS: return tasks >= 1 ? dp_sql_entries(c, DP_DB_SUMMARIES) / tasks + 1 : 8;
	case K_HYPS: return tasks >= 1 ? dp_sql_entries(c, DP_DB_HYP_INDEX) / tasks + 1 : 8;
	case K_LAYERS: return 10;
	default: return kinds[t->kind].sub ? 4 : 1;
	}
}

static int find_constraint(sqlite3_index_info *info, int col, int op)
{
	for (int i = 0; i < info->nConstraint; i++) {
		const struct sqlite3_index_constraint *c = &info->aConstraint[i];
		if (c->usable && c->iColumn == col && c->op == op) {
			const char *coll = sqlite3_vtab_collation(info, i);
			if (!coll || sqlite3_stricmp(coll, "BINARY") == 0)
				return i;
		}
	}
	return -1;
}

static int x_best_index(sqlite3_vtab *vt, sqlite3_index_info *info)
{
	sql_table *t = (sql_table *)vt;
	const kind_def *k = &kinds[t->kind];
	int plan = 0, argc = 0, f;
	double all = k->db < 0 ? 50 : dp_sql_entries(t->ctx, k->db);
	double rows, seeks = 1;
	int eq_at[MAXKEY], lower = -1, upper = -1;

	if (all < 1)
		all = 1;
	rows = all;
	for (f = 0; f < t->nfixed; f++)
		rows /= fanout(t, f, rows);
	for (f = t->nfixed; f < k->nkey; f++) {
		int col = k->key[f].col;
		eq_at[f] = col >= 0 ? find_constraint(info, col, SQLITE_INDEX_CONSTRAINT_EQ) : -1;
		if (eq_at[f] >= 0) {
			plan |= M_EQ << (2 * f);
			rows /= fanout(t, f, rows);
			continue;
		}
		if (f == 0 && k->db >= 0 && k->nkey > 1 && k->key[1].col >= 0 &&
		    find_constraint(info, k->key[1].col, SQLITE_INDEX_CONSTRAINT_EQ) >= 0) {
			/* The dataflow is free but the next field is not: a range
			 * per dataflow. */
			plan |= M_EVERY << (2 * f);
			seeks = dp_sql_entries(t->ctx, DP_DB_DATAFLOWS);
			continue;
		}
		if (col >= 0 && (k->key[f].type == 'i' || k->key[f].type == 'd')) {
			int gt = find_constraint(info, col, SQLITE_INDEX_CONSTRAINT_GT);
			int ge = find_constraint(info, col, SQLITE_INDEX_CONSTRAINT_GE);
			int lt = find_constraint(info, col, SQLITE_INDEX_CONSTRAINT_LT);
			int le = find_constraint(info, col, SQLITE_INDEX_CONSTRAINT_LE);
			lower = ge >= 0 ? ge : gt;
			upper = le >= 0 ? le : lt;
			if (lower >= 0 || upper >= 0) {
				plan |= M_RANGE << (2 * f);
				plan |= (lower < 0 ? 0 : lower == ge ? 2 : 1) << 12;
				plan |= (upper < 0 ? 0 : upper == le ? 2 : 1) << 14;
				rows /= lower >= 0 && upper >= 0 ? 4 : 2;
			}
		}
		break;
	}
	for (int g = t->nfixed; g < k->nkey; g++)
		if (field_mode(plan, g) == M_EQ)
			info->aConstraintUsage[eq_at[g]].argvIndex = ++argc;
	if (lower >= 0)
		info->aConstraintUsage[lower].argvIndex = ++argc;
	if (upper >= 0)
		info->aConstraintUsage[upper].argvIndex = ++argc;
	assert(argc == plan_args(t, plan) && argc <= info->nConstraint);

	/* The scan returns key order: an ORDER BY on the key's columns in
	 * that order, ascending, needs no sort. */
	bool ordered = info->nOrderBy > 0;
	int g = t->nfixed;
	for (int i = 0; i < info->nOrderBy && ordered; i++) {
		const struct sqlite3_index_orderby *o = &info->aOrderBy[i];
		while (g < k->nkey && field_mode(plan, g) == M_EQ && k->key[g].col != o->iColumn)
			g++;
		ordered = !o->desc && g < k->nkey && k->key[g].col == o->iColumn;
		g++;
	}
	if (ordered && !(k->db < 0 && info->nOrderBy > 1))
		info->orderByConsumed = 1;
	rows *= subrows(t);
	if (rows < 1)
		rows = 1;
	info->idxNum = plan;
	info->estimatedRows = (sqlite3_int64)rows;
	info->estimatedCost = rows + seeks * (log2(all) + 1);
	/* At most one row only when every key field is fixed: a task id
	 * looked up in every dataflow may be in several. */
	bool unique = !k->sub && k->key[k->nkey - 1].type != 'r';
	for (int g2 = t->nfixed; g2 < k->nkey && unique; g2++)
		unique = field_mode(plan, g2) == M_EQ;
	if (unique)
		info->idxFlags |= SQLITE_INDEX_SCAN_UNIQUE;
	return SQLITE_OK;
}

/* ---- cursors ------------------------------------------------------------------------- */

typedef struct range {
	dp_key from;
	size_t prefix_len;
	bool whole_key; /* every field of the key is given: one record, looked up */
} range;

typedef struct sql_cursor {
	sqlite3_vtab_cursor base;
	dp_query *q;
	dp_decoder dec;
	range *ranges;
	size_t nranges, at;
	dp_qscan scan;
	dp_qepochs escan; /* the epoch kinds: epochs are stored in blocks */
	bool scanning, escanning, eof;
	bool eq_epoch; /* the epoch kinds: one epoch, the_epoch, is asked for */
	int64_t the_epoch;
	/* the range field's upper bound */
	int range_field;
	bool has_upper;
	int64_t upper_i;
	double upper_d;
	MDB_val k, v;
	sqlite3_int64 rowid;
	size_t sub, nsub;
	union {
		dp_task_row task;
		dp_epoch_row epoch;
		dp_summary_row summary;
		dp_adapt_row adapt;
		dp_test_row test;
		dp_element_row element;
		dp_layers_row layers;
		dp_tag_row tag;
		dp_event_row event;
		dp_lineage_row lineage;
	} r;
	/* summaries: the first value, read when asked */
	bool first_done, first_found;
	double first;
	int64_t first_epoch;
	/* rows made from the specification */
	dp_qv *cells;
	size_t nrows, ncells_cap;
	char *dfs_filter; /* a dataflow equality, for them */
} sql_cursor;

static int x_open(sqlite3_vtab *vt, sqlite3_vtab_cursor **out)
{
	sql_table *t = (sql_table *)vt;
	sql_cursor *c = calloc(1, sizeof(*c));
	int rc;
	if (!c)
		return SQLITE_NOMEM;
	if ((rc = dp_sql_cursor_open(t->ctx, &c->q))) {
		free(c);
		sqlite3_free(vt->zErrMsg);
		vt->zErrMsg = sqlite3_mprintf("%s", dnnprov_errmsg());
		return rc == DNNPROV_ENOMEM ? SQLITE_NOMEM : SQLITE_ERROR;
	}
	*out = &c->base;
	return SQLITE_OK;
}

static void cells_free(sql_cursor *c)
{
	for (size_t i = 0; i < c->nrows * (size_t)kinds[((sql_table *)c->base.pVtab)->kind].ncols; i++)
		if (c->cells[i].type == QV_TEXT)
			free((char *)c->cells[i].text);
	free(c->cells);
	c->cells = NULL;
	c->nrows = c->ncells_cap = 0;
}

static void cursor_reset(sql_cursor *c)
{
	dp_qscan_close(&c->scan);
	c->scanning = false;
	if (c->escanning)
		dp_qepochs_close(&c->escan);
	c->escanning = false;
	free(c->ranges);
	c->ranges = NULL;
	c->nranges = c->at = 0;
	cells_free(c);
	free(c->dfs_filter);
	c->dfs_filter = NULL;
	c->rowid = 0;
	c->eof = false;
}

static int x_close(sqlite3_vtab_cursor *cur)
{
	sql_cursor *c = (sql_cursor *)cur;
	sql_table *t = (sql_table *)cur->pVtab;
	cursor_reset(c);
	dp_decoder_free(&c->dec);
	free(c);
	dp_sql_cursor_close(t->ctx);
	return SQLITE_OK;
}

static int fail(sql_cursor *c, int rc)
{
	sqlite3_vtab *vt = c->base.pVtab;
	sqlite3_free(vt->zErrMsg);
	vt->zErrMsg = sqlite3_mprintf("%s", dnnprov_errmsg() && *dnnprov_errmsg() ? dnnprov_errmsg()
										 : dnnprov_strerror(rc));
	return rc == DNNPROV_ENOMEM ? SQLITE_NOMEM : SQLITE_ERROR;
}

/* ---- rows from the specification ------------------------------------------------------- */

static dp_qv *spec_row(sql_cursor *c, int ncols)
{
	if (c->nrows == c->ncells_cap) {
		size_t cap = c->ncells_cap ? c->ncells_cap * 2 : 16;
		dp_qv *grown = realloc(c->cells, cap * (size_t)ncols * sizeof(dp_qv));
		if (!grown)
			return NULL;
		c->cells = grown;
		c->ncells_cap = cap;
	}
	dp_qv *row = &c->cells[c->nrows++ * (size_t)ncols];
	memset(row, 0, (size_t)ncols * sizeof(dp_qv));
	return row;
}

static bool set_text(dp_qv *x, const char *s)
{
	return !s || dp_cell_text(x, s, strlen(s)) == 0;
}

static void set_int(dp_qv *x, int64_t v)
{
	*x = dp_qv_int(v);
}

/* The DfAnalyzer name of a set's table: ds_ and the set in lower case. */
static void set_table_name(char *out, size_t n, const char *set)
{
	size_t i = 0;
	i += (size_t)snprintf(out, n, "ds_");
	for (const char *p = set; *p && i + 1 < n; p++)
		out[i++] = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	out[i < n ? i : n - 1] = '\0';
}

/* A row of dependencies: set flows from `from` to `to` (NULL: from
 * nowhere, to nowhere). */
static bool dependency_row(sql_cursor *c, int ncols, const char *df, const char *set, const char *from, const char *to)
{
	dp_qv *row = spec_row(c, ncols);
	return row && set_text(&row[0], df) && set_text(&row[1], set) && set_text(&row[2], from) &&
	       set_text(&row[3], to);
}

/* The rows of the dependencies of one set: an input flows from each
 * transformation its own depends on (or from nowhere); an output to each
 * that depends on its own (or to nowhere). */
static bool dependency_rows(sql_cursor *c, int ncols, const dp_model *m, const dp_mtf *tf, const dp_mset *set)
{
	size_t made = 0;
	bool ok = true;
	for (size_t k = 0; ok && set->input && k < tf->ndeps; k++, made++)
		ok = dependency_row(c, ncols, m->dataflow, set->name, tf->deps[k], tf->name);
	for (size_t o = 0; ok && !set->input && o < m->ntfs; o++)
		for (size_t k = 0; ok && k < m->tfs[o].ndeps; k++)
			if (strcmp(m->tfs[o].deps[k], tf->name) == 0) {
				made++;
				ok = dependency_row(c, ncols, m->dataflow, set->name, tf->name, m->tfs[o].name);
			}
	if (ok && !made)
		ok = dependency_row(c, ncols, m->dataflow, set->name, set->input ? NULL : tf->name,
				    set->input ? tf->name : NULL);
	return ok;
}

/* Appends the rows of one dataflow's model for the kind. */
static int spec_rows(sql_cursor *c, int kind, dp_query *q, const char *df)
{
	dp_qdataflow d;
	int ncols = kinds[kind].ncols, rc;
	bool ok = true;
	char tname[DNNPROV_NAME_MAX + 8];

	if ((rc = dp_query_load_model(q, df, &d)))
		return rc == DNNPROV_ENOTFOUND ? 0 : rc; /* gone meanwhile */
	const dp_model *m = &d.model;
	if (kind == K_DATAFLOWS) {
		dp_qv *row = spec_row(c, ncols);
		ok = row && set_text(&row[0], d.name);
		if (ok) {
			set_int(&row[1], d.adaptation);
			if (!isnan(d.first_seen))
				row[2] = dp_qv_real(d.first_seen);
		}
	}
	for (size_t i = 0; ok && i < m->ntfs; i++) {
		const dp_mtf *tf = &m->tfs[i];
		if (kind == K_TRANSFORMATIONS) {
			dp_buf deps = { 0 };
			for (size_t k = 0; k < tf->ndeps; k++)
				dp_buf_printf(&deps, "%s%s", k ? "," : "", tf->deps[k]);
			dp_qv *row = spec_row(c, ncols);
			ok = row && !deps.failed && set_text(&row[0], d.name) && set_text(&row[1], tf->name) &&
			     set_text(&row[3], deps.len ? dp_buf_cstr(&deps) : NULL);
			if (ok)
				set_int(&row[2], tf->builtin);
			dp_buf_free(&deps);
			continue;
		}
		for (size_t s = 0; ok && s < tf->nsets; s++) {
			const dp_mset *set = &tf->sets[s];
			dp_qv *row;
			if (kind == K_SETS) {
				row = spec_row(c, ncols);
				set_table_name(tname, sizeof(tname), set->name);
				ok = row && set_text(&row[0], d.name) && set_text(&row[1], tf->name) &&
				     set_text(&row[2], set->name) && set_text(&row[3], set->input ? "input" : "output") &&
				     set_text(&row[4], tname);
			} else if (kind == K_ATTRIBUTES) {
				for (size_t a = 0; ok && a < set->nattrs; a++) {
					row = spec_row(c, ncols);
					ok = row && set_text(&row[0], d.name) && set_text(&row[1], tf->name) &&
					     set_text(&row[2], set->name) && set_text(&row[3], set->attrs[a].name) &&
					     set_text(&row[4], dp_attr_type_name(set->attrs[a].type));
					if (ok)
						set_int(&row[5], (int64_t)a + 1);
				}
			} else if (kind == K_DEPENDENCIES) {
				ok = dependency_rows(c, ncols, m, tf, set);
			}
		}
	}
	if (!ok)
		rc = dp_error(DNNPROV_ENOMEM, "out of memory");
	dp_qdataflow_free(&d);
	return rc;
}

static int spec_filter(sql_cursor *c, int kind, const char *only_df)
{
	char **names;
	size_t n;
	int rc;
	if (only_df)
		return spec_rows(c, kind, c->q, only_df);
	if ((rc = dp_sql_dataflows(((sql_table *)c->base.pVtab)->ctx, &names, &n)))
		return rc;
	for (size_t i = 0; i < n && !rc; i++)
		rc = spec_rows(c, kind, c->q, names[i]);
	return rc;
}

/* ---- scans of the index ----------------------------------------------------------------- */

/* An equality value as a key field; false when no stored key can equal it. */
static bool key_value(dp_key *key, char type, sqlite3_value *v)
{
	switch (type) {
	case 's': {
		if (sqlite3_value_type(v) == SQLITE_NULL)
			return false;
		const unsigned char *s = sqlite3_value_text(v);
		if (!s)
			return false;
		dp_key_str(key, (const char *)s, (size_t)sqlite3_value_bytes(v));
		return !key->overflow;
	}
	case 'i': {
		int t = sqlite3_value_numeric_type(v);
		if (t == SQLITE_INTEGER) {
			dp_key_i64(key, sqlite3_value_int64(v));
			return true;
		}
		double d = sqlite3_value_double(v);
		if (t != SQLITE_FLOAT || d != floor(d) || fabs(d) >= 9.2e18)
			return false;
		dp_key_i64(key, (int64_t)d);
		return true;
	}
	case 'd': {
		int t = sqlite3_value_numeric_type(v);
		if (t != SQLITE_INTEGER && t != SQLITE_FLOAT)
			return false;
		dp_key_double(key, sqlite3_value_double(v));
		return true;
	}
	default: return false;
	}
}

/* A bound on an int64 field: the smallest (lower) or largest (upper)
 * integer meeting it; false when the value bounds nothing. */
static bool int_bound(sqlite3_value *v, int op, bool lower, int64_t *out)
{
	int t = sqlite3_value_numeric_type(v);
	if (t == SQLITE_INTEGER) {
		int64_t x = sqlite3_value_int64(v);
		if (lower)
			*out = op == 1 ? (x == INT64_MAX ? x : x + 1) : x;
		else
			*out = op == 1 ? (x == INT64_MIN ? x : x - 1) : x;
		return true;
	}
	if (t != SQLITE_FLOAT)
		return false;
	double d = sqlite3_value_double(v);
	if (isnan(d) || fabs(d) >= 9.2e18)
		return false;
	if (lower)
		*out = (int64_t)(op == 1 ? floor(d) + 1 : ceil(d));
	else
		*out = (int64_t)(op == 1 ? ceil(d) - 1 : floor(d));
	return true;
}

static int add_range(sql_cursor *c, const dp_key *from, size_t prefix_len)
{
	range *grown = realloc(c->ranges, (c->nranges + 1) * sizeof(*grown));
	if (!grown)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	c->ranges = grown;
	c->ranges[c->nranges].from = *from;
	c->ranges[c->nranges].prefix_len = prefix_len;
	c->nranges++;
	return 0;
}

/* The ranges of a plan: one, or one per dataflow (M_EVERY). */
static int make_ranges(sql_cursor *c, int plan, int argc, sqlite3_value **argv)
{
	sql_table *t = (sql_table *)c->base.pVtab;
	const kind_def *k = &kinds[t->kind];
	char **dfs = NULL;
	size_t ndfs = 1;
	int rc = 0;
	bool every = field_mode(plan, 0) == M_EVERY;

	if (every && (rc = dp_sql_dataflows(t->ctx, &dfs, &ndfs)))
		return rc;
	for (size_t d = 0; d < ndfs && !rc; d++) {
		dp_key key;
		int a = 0;
		bool possible = true;
		dp_key_reset(&key);
		c->range_field = -1;
		c->has_upper = false;
		for (int f = 0; f < k->nkey && possible; f++) {
			int mode = field_mode(plan, f);
			if (f < t->nfixed) {
				dp_key_cstr(&key, t->names[f]);
			} else if (mode == M_EVERY) {
				dp_key_cstr(&key, dfs[d]);
			} else if (mode == M_EQ) {
				possible = a < argc && key_value(&key, k->key[f].type, argv[a]);
				a++;
			} else {
				break;
			}
		}
		size_t prefix_len = key.n;
		/* Every field given, the last a text (it ends the key): the
		 * record is one lookup, not a scan (the inner side of a join
		 * asks it once per row of the outer). */
		bool whole_key = k->key[k->nkey - 1].type == 's';
		for (int f = 0; f < k->nkey && whole_key; f++)
			whole_key = f < t->nfixed || field_mode(plan, f) == M_EQ;
		for (int f = 0; f < k->nkey && possible; f++) {
			if (field_mode(plan, f) != M_RANGE)
				continue;
			int lop = (plan >> 12) & 3, uop = (plan >> 14) & 3;
			c->range_field = f;
			if (lop && a < argc) {
				if (k->key[f].type == 'i') {
					int64_t lo;
					if (int_bound(argv[a], lop, true, &lo))
						dp_key_i64(&key, lo);
				} else {
					int nt = sqlite3_value_numeric_type(argv[a]);
					if (nt == SQLITE_INTEGER || nt == SQLITE_FLOAT)
						dp_key_double(&key, sqlite3_value_double(argv[a]));
				}
				a++;
			}
			if (uop && a < argc) {
				if (k->key[f].type == 'i')
					c->has_upper = int_bound(argv[a], uop, false, &c->upper_i);
				else {
					int nt = sqlite3_value_numeric_type(argv[a]);
					c->has_upper = nt == SQLITE_INTEGER || nt == SQLITE_FLOAT;
					c->upper_d = sqlite3_value_double(argv[a]);
				}
				if (c->has_upper && k->key[f].type == 'i' && key.n > prefix_len) {
					size_t pos = prefix_len;
					int64_t lo;
					if (dp_key_get_i64(key.b, key.n, &pos, &lo) && lo > c->upper_i)
						possible = false;
				}
			}
		}
		assert(a <= argc);
		if (possible && !key.overflow && !(rc = add_range(c, &key, prefix_len)))
			c->ranges[c->nranges - 1].whole_key = whole_key;
	}
	(void)dfs; /* owned by the context */
	return rc;
}

/* Past the range's upper bound: the field right after the prefix. */
static bool beyond(const sql_cursor *c)
{
	if (!c->has_upper)
		return false;
	const kind_def *k = &kinds[((sql_table *)c->base.pVtab)->kind];
	assert(c->range_field >= 0 && c->range_field < k->nkey && c->at < c->nranges);
	size_t pos = c->ranges[c->at].prefix_len;
	if (k->key[c->range_field].type == 'i') {
		int64_t e;
		return dp_key_get_i64(c->k.mv_data, c->k.mv_size, &pos, &e) && e > c->upper_i;
	}
	double d;
	return dp_key_get_double(c->k.mv_data, c->k.mv_size, &pos, &d) && d > c->upper_d;
}

/* Reads the current record with the kind's reader; DNNPROV_ECORRUPT to skip it. */
static int read_record(sql_cursor *c)
{
	sql_table *t = (sql_table *)c->base.pVtab;
	int rc;
	c->first_done = false;
	switch (t->kind) {
	case K_TASKS:
	case K_HYPS:
	case K_HYPS_WIDE:
	case K_FACTS:
		if ((rc = dp_read_task(&c->dec, &c->k, &c->v, &c->r.task)))
			return rc;
		c->nsub = t->kind == K_HYPS ? dp_rmap_size(c->r.task.hyps)
			: t->kind == K_FACTS ? dp_rmap_size(c->r.task.facts) : 1;
		return 0;
	case K_TAGS:
		if ((rc = dp_read_tag(&c->dec, &c->k, &c->v, &c->r.tag)))
			return rc;
		c->nsub = c->r.tag.value.type != DP_F_NULL; /* a removed key has no row */
		return 0;
	case K_USED:
	case K_GENERATED:
		if ((rc = dp_read_lineage(&c->dec, &c->k, &c->v, &c->r.lineage)))
			return rc;
		c->nsub = c->r.lineage.generated == (t->kind == K_GENERATED); /* the other direction has no row */
		return 0;
	case K_SUMMARIES: c->nsub = 1; return dp_read_summary(&c->k, &c->v, &c->r.summary);
	case K_EVENTS: c->nsub = 1; return dp_read_event(&c->k, &c->v, &c->r.event);
	case K_ADAPTATIONS: c->nsub = 1; return dp_read_adapt(&c->dec, &c->k, &c->v, &c->r.adapt);
	case K_TESTS:
	case K_TESTS_WIDE:
		if ((rc = dp_read_test(&c->dec, &c->k, &c->v, &c->r.test)))
			return rc;
		c->nsub = t->kind == K_TESTS ? dp_rmap_size(c->r.test.metrics) : 1;
		return 0;
	case K_LAYERS:
		if ((rc = dp_read_layers(&c->dec, &c->k, &c->v, &c->r.layers)))
			return rc;
		c->nsub = c->r.layers.n;
		return 0;
	case K_ELEMENTS:
	case K_SET:
		if ((rc = dp_read_element(&c->dec, &c->k, &c->v, &c->r.element)))
			return rc;
		c->nsub = t->kind == K_ELEMENTS ? dp_rmap_size(c->r.element.values) : 1;
		return 0;
	default: return DNNPROV_ECORRUPT;
	}
}

/* next_record for the epoch kinds: the range's epochs one at a time (a
 * lower bound on the epoch, after a fixed task, starts the scan there). */
static int next_epoch(sql_cursor *c)
{
	sql_table *t = (sql_table *)c->base.pVtab;
	for (;;) {
		if (!c->escanning) {
			if (c->at >= c->nranges) {
				c->eof = true;
				return 0;
			}
			/* The range's key is (df[, task[, epoch]]) up to its
			 * prefix, then maybe a lower bound on the epoch. */
			const range *rg = &c->ranges[c->at];
			dp_key prefix = rg->from;
			size_t pos = 0, fields = 0;
			const char *s;
			size_t n;
			int64_t from = 0;
			prefix.n = rg->prefix_len;
			while (fields < 2 && dp_key_get_str(prefix.b, prefix.n, &pos, &s, &n))
				fields++;
			size_t strings = pos;
			bool has_from = fields == 2 && rg->from.n >= strings + 8 &&
					dp_key_get_i64(rg->from.b, rg->from.n, &pos, &from);
			c->eq_epoch = has_from && rg->prefix_len > strings; /* the epoch is fixed */
			c->the_epoch = from;
			prefix.n = strings;
			int rc = dp_qepochs_open(&c->escan, c->q->ix, c->q->txn, NULL, &prefix, has_from, from);
			if (rc)
				return rc;
			c->escanning = true;
		}
		int r = dp_qepochs_next(&c->escan, &c->r.epoch);
		if (r < 0)
			return r;
		if (r == 0 || (c->eq_epoch && c->r.epoch.epoch != c->the_epoch) ||
		    (c->has_upper && kinds[t->kind].key[c->range_field].type == 'i' && c->r.epoch.epoch > c->upper_i)) {
			dp_qepochs_close(&c->escan);
			c->escanning = false;
			c->at++;
			continue;
		}
		c->first_done = false;
		c->nsub = t->kind == K_METRICS ? dp_rmap_size(c->r.epoch.metrics) : 1;
		if (c->nsub == 0)
			continue;
		c->sub = 0;
		return 0;
	}
}

/* Moves to the next record that has rows; eof at the end of the last range. */
static int next_record(sql_cursor *c)
{
	sql_table *t = (sql_table *)c->base.pVtab;
	if (t->kind == K_EPOCHS || t->kind == K_METRICS)
		return next_epoch(c);
	for (;;) {
		if (!c->scanning && c->at < c->nranges && c->ranges[c->at].whole_key) {
			MDB_val key = dp_key_val(&c->ranges[c->at++].from);
			if (!dp_query_get(c->q, kinds[t->kind].db, &key, &c->v)) {
				if (c->q->read_error)
					return dp_query_check(c->q); /* a read that failed is no missing record */
				continue;
			}
			c->k = key; /* the range's own copy, which lives as long as the cursor's ranges */
			int rc = read_record(c);
			if (rc == DNNPROV_ENOMEM || (rc && c->dec.out_of_memory))
				return dp_error(DNNPROV_ENOMEM, "out of memory reading the index");
			if (rc || c->nsub == 0)
				continue;
			c->sub = 0;
			return 0;
		}
		if (!c->scanning) {
			if (c->at >= c->nranges) {
				c->eof = true;
				return 0;
			}
			int rc = dp_qscan_open(c->q->txn, c->q->ix->dbi[kinds[t->kind].db], &c->ranges[c->at].from,
					       c->ranges[c->at].prefix_len, &c->scan);
			if (rc)
				return rc;
			c->scanning = true;
		}
		int r = dp_qscan_next(&c->scan, &c->k, &c->v);
		if (r < 0)
			return r;
		if (r == 0 || beyond(c)) {
			dp_qscan_close(&c->scan);
			c->scanning = false;
			c->at++;
			continue;
		}
		int rc = read_record(c);
		if (rc == DNNPROV_ENOMEM || (rc && c->dec.out_of_memory))
			return dp_error(DNNPROV_ENOMEM, "out of memory reading the index");
		if (rc || c->nsub == 0)
			continue; /* unreadable, or no rows: as the commands skip it */
		c->sub = 0;
		return 0;
	}
}

static int x_filter(sqlite3_vtab_cursor *cur, int plan, const char *idx, int argc, sqlite3_value **argv)
{
	sql_cursor *c = (sql_cursor *)cur;
	sql_table *t = (sql_table *)cur->pVtab;
	int rc;
	(void)idx;
	assert(argc == plan_args(t, plan)); /* the plan x_best_index made */
	cursor_reset(c);
	if (kinds[t->kind].db < 0) {
		const char *only = NULL;
		if (field_mode(plan, 0) == M_EQ && argc > 0) {
			if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
				c->eof = true;
				return SQLITE_OK;
			}
			only = (const char *)sqlite3_value_text(argv[0]);
		}
		if (only && dp_check_tag("dataflow", only)) {
			dp_error_clear();
			c->eof = true;
			return SQLITE_OK;
		}
		if ((rc = spec_filter(c, t->kind, only)))
			return fail(c, rc);
		c->at = 0;
		c->eof = c->nrows == 0;
		return SQLITE_OK;
	}
	if ((rc = make_ranges(c, plan, argc, argv)) || (rc = next_record(c)))
		return fail(c, rc);
	return SQLITE_OK;
}

static int x_next(sqlite3_vtab_cursor *cur)
{
	sql_cursor *c = (sql_cursor *)cur;
	sql_table *t = (sql_table *)cur->pVtab;
	int rc;
	c->rowid++;
	if (kinds[t->kind].db < 0) {
		c->eof = ++c->at >= c->nrows;
		return SQLITE_OK;
	}
	if (++c->sub < c->nsub)
		return SQLITE_OK;
	if ((rc = next_record(c)))
		return fail(c, rc);
	return SQLITE_OK;
}

static int x_eof(sqlite3_vtab_cursor *cur)
{
	return ((sql_cursor *)cur)->eof;
}

static int x_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *rowid)
{
	*rowid = ((sql_cursor *)cur)->rowid;
	return SQLITE_OK;
}

/* ---- columns ----------------------------------------------------------------------- */

static void result_str(sqlite3_context *ctx, dp_str s)
{
	if (s.p)
		sqlite3_result_text(ctx, s.p, (int)s.n, SQLITE_TRANSIENT);
	else
		sqlite3_result_null(ctx);
}

/* NaN has no SQL value: it reads as NULL (summaries count it apart). */
static void result_double(sqlite3_context *ctx, double d)
{
	if (isnan(d))
		sqlite3_result_null(ctx);
	else
		sqlite3_result_double(ctx, d);
}

/* A stored value; in a column declared REAL, an integer as a double (a
 * metric logged as 1 is 1.0, so that val_loss / loss divides as numbers
 * do).  Columns declared INTEGER or without a type keep exact integers. */
static void result_field(sqlite3_context *ctx, dp_field f, bool real)
{
	switch (f.type) {
	case DP_F_INT:
		if (real)
			sqlite3_result_double(ctx, (double)f.i);
		else
			sqlite3_result_int64(ctx, f.i);
		break;
	case DP_F_REAL: result_double(ctx, f.d); break;
	case DP_F_TEXT: result_str(ctx, f.s); break;
	default: sqlite3_result_null(ctx);
	}
}

static void result_cstr(sqlite3_context *ctx, const char *s)
{
	if (s && *s)
		sqlite3_result_text(ctx, s, -1, SQLITE_TRANSIENT);
	else
		sqlite3_result_null(ctx);
}

static void column_task(sqlite3_context *ctx, const dp_task_row *r, int col)
{
	const dp_task_fields *f = &r->f;
	double until;
	switch (col) {
	case 0: result_str(ctx, r->df); break;
	case 1: result_str(ctx, r->task); break;
	case 2: result_str(ctx, f->transformation); break;
	case 3: result_cstr(ctx, f->status); break;
	case 4: result_str(ctx, f->host); break;
	case 5: result_str(ctx, f->user); break;
	case 6: sqlite3_result_int64(ctx, f->pid); break;
	case 7: result_str(ctx, f->execution); break;
	case 8: result_double(ctx, f->start); break;
	case 9: result_double(ctx, f->end); break;
	case 10: result_double(ctx, f->last); break;
	case 11:
		/* As `runs`: to the end, or to the last record of a task that
		 * has not ended. */
		until = isnan(f->end) ? f->last : f->end;
		result_double(ctx, until - f->start);
		break;
	case 12: sqlite3_result_int64(ctx, (sqlite3_int64)f->epochs); break;
	case 13:
		if (f->has_last_epoch)
			sqlite3_result_int64(ctx, f->last_epoch);
		else
			sqlite3_result_null(ctx);
		break;
	case 14: sqlite3_result_int64(ctx, (sqlite3_int64)f->attempts); break;
	case 15: result_str(ctx, f->message); break;
	case 16: result_double(ctx, dp_task_active(f)); break; /* without the time between attempts */
	default: sqlite3_result_null(ctx);
	}
}

/* The task's health, as `runs` shows it: the rules' state, and the stall
 * of a RUNNING task at the snapshot's time (query/health.c). */
#define TASKS_HEALTH 17
static void column_health(sql_cursor *c, sqlite3_context *ctx)
{
	const dp_task_row *r = &c->r.task;
	dp_key k;
	MDB_val key, val;
	dp_health h;
	double median;
	dp_key_reset(&k);
	dp_key_str(&k, r->df.p, r->df.n);
	dp_key_str(&k, r->task.p, r->task.n);
	key = dp_key_val(&k);
	dp_health_state st = DP_HEALTH_OK;
	if (!k.overflow && dp_query_get(c->q, DP_DB_HEALTH, &key, &val) && dp_health_unpack(val.mv_data, val.mv_size, &h)) {
		st = dp_health_stored_state(&h);
		if (st < DP_HEALTH_STALLED && strcmp(r->f.status, "RUNNING") == 0 &&
		    dp_health_stalled(&h, dp_query_rules(c->q), r->f.last, c->q->now, &median))
			st = DP_HEALTH_STALLED;
	}
	result_cstr(ctx, dp_health_name(st));
}

static void column_event(sqlite3_context *ctx, const dp_event_row *r, int col)
{
	dp_buf b = { 0 };
	const dp_event_fields *e = &r->e;
	switch (col) {
	case 0: result_str(ctx, r->df); break;
	case 1: result_str(ctx, r->task); break;
	case 2: result_cstr(ctx, dp_rule_names[e->rule]); break;
	case 3: sqlite3_result_int64(ctx, e->epoch); break;
	case 4: dp_event_id(&b, r->df.p, r->df.n, r->task.p, r->task.n, e->rule, e->epoch); break;
	case 5: result_double(ctx, e->time); break;
	case 6: result_str(ctx, e->metric); break;
	case 7: result_double(ctx, e->value); break;
	case 8: dp_event_sentence(&b, e); break;
	case 9: dp_event_evidence_json(&b, e); break;
	default: sqlite3_result_null(ctx);
	}
	if (col == 4 || col == 8 || col == 9) {
		if (b.failed)
			sqlite3_result_error_nomem(ctx);
		else
			sqlite3_result_text(ctx, b.data ? b.data : "", (int)b.len, SQLITE_TRANSIENT);
	}
	dp_buf_free(&b);
}

static const char *field_type_name(dp_field f)
{
	return f.type == DP_F_TEXT ? "text" : f.type == DP_F_NULL ? NULL : "numeric";
}

static void column_summary(sql_cursor *c, sqlite3_context *ctx, int col)
{
	const dp_summary_row *r = &c->r.summary;
	const dp_summary *s = &r->s;
	bool any = s->count > 0;
	switch (col) {
	case 0: result_str(ctx, r->df); return;
	case 1: result_str(ctx, r->metric); return;
	case 2: result_str(ctx, r->task); return;
	case 3: sqlite3_result_int64(ctx, (sqlite3_int64)s->count); return;
	case 4: sqlite3_result_int64(ctx, (sqlite3_int64)s->nan_count); return;
	case 9:
	case 10:
		if (!c->first_done) {
			c->first_done = true;
			c->first_found = dp_query_first_value(c->q->txn, c->q->ix, &c->dec, r->df, r->task, r->metric,
							      &c->first, &c->first_epoch);
			/* The decoder's zone held only the key's record: the
			 * summary lives in the key and the value, untouched. */
		}
		if (!c->first_found)
			sqlite3_result_null(ctx);
		else if (col == 9)
			result_double(ctx, c->first);
		else
			sqlite3_result_int64(ctx, c->first_epoch);
		return;
	case 11:
	case 12:
		if (!(s->count + s->nan_count)) {
			sqlite3_result_null(ctx);
			return;
		}
		if (col == 11)
			result_double(ctx, s->last);
		else
			sqlite3_result_int64(ctx, s->last_epoch);
		return;
	default: break;
	}
	if (!any) {
		sqlite3_result_null(ctx);
		return;
	}
	/* Which way is best, only for the columns that say. */
	bool lower = false;
	if (col == 14 || col == 15) {
		char metric[DNNPROV_NAME_MAX + 1];
		snprintf(metric, sizeof(metric), "%.*s", (int)r->metric.n, r->metric.p);
		lower = dp_metric_lower_is_better(metric);
	}
	switch (col) {
	case 5: result_double(ctx, s->min); break;
	case 6: sqlite3_result_int64(ctx, s->min_epoch); break;
	case 7: result_double(ctx, s->max); break;
	case 8: sqlite3_result_int64(ctx, s->max_epoch); break;
	case 13: result_double(ctx, s->sum / (double)s->count); break;
	case 14: result_double(ctx, lower ? s->min : s->max); break;
	case 15: sqlite3_result_int64(ctx, lower ? s->min_epoch : s->max_epoch); break;
	default: sqlite3_result_null(ctx);
	}
}

static void column_sub_map(sqlite3_context *ctx, dp_rmap m, size_t sub, bool name, bool real)
{
	dp_str n;
	dp_field v;
	if (!dp_rmap_at(m, sub, &n, &v))
		sqlite3_result_null(ctx);
	else if (name)
		result_str(ctx, n);
	else
		result_field(ctx, v, real);
}

static int x_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col)
{
	sql_cursor *c = (sql_cursor *)cur;
	sql_table *t = (sql_table *)cur->pVtab;
	int nbase = kinds[t->kind].ncols;
	const char *wide = col >= nbase && col - nbase < t->nwide ? t->wide[col - nbase] : NULL;
	bool real = col < nbase ? strcmp(kinds[t->kind].cols[col].type, "REAL") == 0 : t->wide_real;

	assert(col >= 0 && col < t->ncols && !c->eof);
	if (kinds[t->kind].db < 0) {
		assert(c->at < c->nrows && col < nbase);
		const dp_qv *x = &c->cells[c->at * (size_t)nbase + (size_t)col];
		if (x->type == QV_TEXT)
			sqlite3_result_text(ctx, x->text, -1, SQLITE_TRANSIENT);
		else if (x->type == QV_NUM && x->integer)
			sqlite3_result_int64(ctx, x->i);
		else if (x->type == QV_NUM)
			result_double(ctx, x->num);
		else
			sqlite3_result_null(ctx);
		return SQLITE_OK;
	}
	switch (t->kind) {
	case K_TASKS:
		if (col == TASKS_HEALTH)
			column_health(c, ctx);
		else
			column_task(ctx, &c->r.task, col);
		break;
	case K_EVENTS: column_event(ctx, &c->r.event, col); break;
	case K_HYPS: {
		dp_str n;
		dp_field v;
		if (col < 2) {
			result_str(ctx, col ? c->r.task.task : c->r.task.df);
		} else if (!dp_rmap_at(c->r.task.hyps, c->sub, &n, &v)) {
			sqlite3_result_null(ctx);
		} else if (col == 2) {
			result_str(ctx, n);
		} else if (col == 3) {
			result_field(ctx, v, real);
		} else {
			result_cstr(ctx, field_type_name(v));
		}
		break;
	}
	case K_FACTS: {
		dp_str n;
		dp_field v;
		if (col < 2)
			result_str(ctx, col ? c->r.task.task : c->r.task.df);
		else if (!dp_rmap_at(c->r.task.facts, c->sub, &n, &v))
			sqlite3_result_null(ctx);
		else if (col == 2)
			result_str(ctx, n);
		else
			result_field(ctx, v, real);
		break;
	}
	case K_TAGS:
		switch (col) {
		case 0: result_str(ctx, c->r.tag.df); break;
		case 1: result_str(ctx, c->r.tag.task); break;
		case 2: result_str(ctx, c->r.tag.key); break;
		case 3: result_field(ctx, c->r.tag.value, real); break;
		default: result_double(ctx, c->r.tag.time); break;
		}
		break;
	case K_USED:
	case K_GENERATED: {
		const dp_lineage_row *l = &c->r.lineage;
		switch (col) {
		case 0: result_str(ctx, l->df); break;
		case 1: result_str(ctx, l->task); break;
		case 2: result_str(ctx, l->role); break;
		case 3: result_str(ctx, l->fingerprint); break;
		case 4: result_str(ctx, l->location); break;
		case 5:
			if (l->size >= 0)
				sqlite3_result_int64(ctx, l->size);
			break;
		default: result_double(ctx, l->time); break;
		}
		break;
	}
	case K_HYPS_WIDE:
		if (col == 0)
			result_str(ctx, c->r.task.task);
		else if (wide)
			result_field(ctx, dp_rmap_get(c->r.task.hyps, wide), real);
		break;
	case K_EPOCHS:
		switch (col) {
		case 0: result_str(ctx, c->r.epoch.task); break;
		case 1: sqlite3_result_int64(ctx, c->r.epoch.epoch); break;
		case 2: result_double(ctx, c->r.epoch.time); break;
		case 3: result_field(ctx, c->r.epoch.elapsed, real); break;
		default:
			if (wide)
				result_field(ctx, dp_rmap_get(c->r.epoch.metrics, wide), real);
		}
		break;
	case K_METRICS:
		switch (col) {
		case 0: result_str(ctx, c->r.epoch.df); break;
		case 1: result_str(ctx, c->r.epoch.task); break;
		case 2: sqlite3_result_int64(ctx, c->r.epoch.epoch); break;
		default: column_sub_map(ctx, c->r.epoch.metrics, c->sub, col == 3, real);
		}
		break;
	case K_SUMMARIES: column_summary(c, ctx, col); break;
	case K_ADAPTATIONS: {
		const dp_adapt_row *r = &c->r.adapt;
		switch (col) {
		case 0: result_str(ctx, r->df); break;
		case 1: result_str(ctx, r->task); break;
		case 2: sqlite3_result_int64(ctx, r->epoch); break;
		case 3: result_str(ctx, r->hyp); break;
		case 4: result_field(ctx, r->old_value, real); break;
		case 5: result_field(ctx, r->new_value, real); break;
		case 6: result_double(ctx, r->time); break;
		case 7: result_field(ctx, r->id, real); break;
		}
		break;
	}
	case K_TESTS:
		switch (col) {
		case 0: result_str(ctx, c->r.test.df); break;
		case 1: result_str(ctx, c->r.test.task); break;
		case 2: result_double(ctx, c->r.test.time); break;
		default: column_sub_map(ctx, c->r.test.metrics, c->sub, col == 3, real);
		}
		break;
	case K_TESTS_WIDE:
		if (col == 0)
			result_str(ctx, c->r.test.task);
		else if (col == 1)
			result_double(ctx, c->r.test.time);
		else if (wide)
			result_field(ctx, dp_rmap_get(c->r.test.metrics, wide), real);
		break;
	case K_LAYERS: {
		dp_str name, kind;
		dp_field value;
		if (col < 3) {
			if (col == 2)
				result_double(ctx, c->r.layers.time);
			else
				result_str(ctx, col ? c->r.layers.task : c->r.layers.df);
		} else if (col == 3) {
			sqlite3_result_int64(ctx, (sqlite3_int64)c->sub + 1);
		} else if (!dp_layers_at(&c->r.layers, c->sub, &name, &kind, &value)) {
			sqlite3_result_null(ctx);
		} else {
			if (col == 4)
				result_str(ctx, name);
			else if (col == 5)
				result_str(ctx, kind);
			else
				result_field(ctx, value, real);
		}
		break;
	}
	case K_ELEMENTS: {
		const dp_element_row *r = &c->r.element;
		switch (col) {
		case 0: result_str(ctx, r->df); break;
		case 1: result_str(ctx, r->transformation); break;
		case 2: result_str(ctx, r->set); break;
		case 3: result_str(ctx, r->task); break;
		case 4: result_double(ctx, r->time); break;
		default: column_sub_map(ctx, r->values, c->sub, col == 5, real);
		}
		break;
	}
	case K_SET:
		if (col == 0)
			result_str(ctx, c->r.element.task);
		else if (col == 1)
			result_double(ctx, c->r.element.time);
		else if (wide)
			result_field(ctx, dp_rmap_get(c->r.element.values, wide), real);
		break;
	default: sqlite3_result_null(ctx);
	}
	return SQLITE_OK;
}

const sqlite3_module dp_sql_module = {
	.iVersion = 0,
	.xCreate = x_connect,
	.xConnect = x_connect,
	.xBestIndex = x_best_index,
	.xDisconnect = x_disconnect,
	.xDestroy = x_disconnect,
	.xOpen = x_open,
	.xClose = x_close,
	.xFilter = x_filter,
	.xNext = x_next,
	.xEof = x_eof,
	.xColumn = x_column,
	.xRowid = x_rowid,
};
