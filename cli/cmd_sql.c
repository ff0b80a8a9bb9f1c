/*
 * cmd_sql.c - `dnnprov sql`: SQL over the live index (sql/), from the
 * command line or standard input, in the formats of the other commands.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "config/config.h"
#include "sql/sql.h"

const char cmd_sql_usage[] =
	"usage: dnnprov sql [-c CONFIG | --index-dir DIR] [--dataflow DF] [--format F]\n"
	"                   [--timeout SECONDS] [QUERY]\n"
	"\n"
	"Runs SQL (SQLite's dialect) over the live index: tasks, epochs, metrics,\n"
	"summaries, hyperparameters, adaptations, tests, layers, elements, the\n"
	"specification, a table per dataflow and per user-defined set, and the\n"
	"DfAnalyzer views (ds_itrainingmodel, ds_otrainingmodel, ...) of the default\n"
	"dataflow.  docs/SQL.md lists every table.  Each statement reads one\n"
	"consistent snapshot while the indexer goes on.  Read-only: no writes but to\n"
	"temp, no ATTACH of a file, no extensions.\n"
	"\n"
	"Without QUERY, statements come from standard input (a file of them, or typed\n"
	"at a prompt when it is a terminal), where .tables, .schema [TABLE] and\n"
	".help also work.  Each statement's rows print as a table, CSV or one JSON\n"
	"object; CSV and JSON stream, whatever the number of rows.\n"
	"\n"
	"options:\n"
	"  --dataflow DF     the dataflow of `epochs` and the DfAnalyzer views\n"
	"                    (default: the config's, or the only one in the index)\n"
	"  --format F        table (default), csv or json\n"
	"  --timeout SECS    stop a statement that runs longer\n"
	"\n"
	"exit status: 0, or 1 when a statement failed (input stops at the first\n"
	"failure unless it is typed at a terminal).\n";

#define CMD "sql"

typedef struct sql_run {
	sqlite3 *db;
	dp_sql *s;
	dp_format format;
	int width;
	bool interactive;
	const char *index_dir, *log_dir, *df; /* for the freshness of answers */
} sql_run;

/* ---- errors ------------------------------------------------------------------------ */

/* The statement with a caret under the place SQLite names. */
static void show_position(const char *sql, int offset)
{
	dp_buf b = { 0 };
	dp_sql_position(&b, sql, offset);
	if (b.len && !b.failed)
		fprintf(stderr, "%s\n", dp_buf_cstr(&b));
	dp_buf_free(&b);
}

static void list_tables(const sql_run *r)
{
	size_t n = dp_sql_ntables(r->s);
	fputs("tables:", stderr);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "%s %s", i ? "," : "", dp_sql_table(r->s, i));
	fputs(n ? "\n" : " none\n", stderr);
}

static int statement_failed(const sql_run *r, const char *sql, int offset)
{
	const char *msg = sqlite3_errmsg(r->db);
	int code = sqlite3_errcode(r->db);
	if (code == SQLITE_INTERRUPT && dp_sql_timed_out(r->s)) {
		cli_error(CMD, "the statement ran past the --timeout and was stopped");
		return 1;
	}
	const char *denied = dp_sql_denied(r->s);
	if (denied && strncmp(denied, "the function ", 13) == 0)
		cli_error(CMD, "%s: %s is not one dnnprov sql allows (docs/SQL.md lists them)", msg, denied);
	else if (code == SQLITE_AUTH || denied)
		cli_error(CMD, "%s%s%s: dnnprov sql is read-only (no writes but to temp, no ATTACH of a file, "
			       "no extensions, no settings)", msg, denied ? ": " : "", denied ? denied : "");
	else
		cli_error(CMD, "%s", msg);
	show_position(sql, offset);
	if (strncmp(msg, "no such table", 13) == 0)
		list_tables(r);
	return 1;
}

/* ---- rows ---------------------------------------------------------------------------- */

/* In the table format, a column of text only is aligned as text. */
static void text_columns(dp_table *t)
{
	for (size_t c = 0; c < t->ncols; c++) {
		bool text = t->kinds[c] == COL_NUM && t->nrows > 0;
		for (size_t r = 0; r < t->nrows && text; r++)
			text = t->cells[r * t->ncols + c].type != QV_NUM;
		if (text)
			t->kinds[c] = COL_TEXT;
	}
}

static int print_rows(sql_run *r, sqlite3_stmt *st, const char *sql)
{
	int ncols = sqlite3_column_count(st), src, rc;
	dp_table t = { 0 };
	dp_rowout w;
	dp_qv *cells = calloc((size_t)ncols, sizeof(dp_qv));
	dp_buf *hex = calloc((size_t)ncols, sizeof(dp_buf));
	int status = 0;

	if (!cells || !hex || (rc = dp_sql_columns(st, &t))) {
		free(cells);
		free(hex);
		dp_table_free(&t);
		cli_error(CMD, "out of memory");
		return 1;
	}
	/* The answer says how fresh the index is, as every query does: the
	 * "index" member of JSON, a note under a table, a line on stderr with
	 * CSV. */
	dp_freshness fresh;
	dp_buf json = { 0 }, note = { 0 };
	const char *index_json = NULL;
	if ((rc = dp_query_freshness(dp_sql_query(r->s), r->index_dir, r->log_dir, r->df, NULL, &fresh)) ||
	    (rc = dp_freshness_json(&fresh, &json)) || (rc = dp_freshness_note(&fresh, &note)) ||
	    !(index_json = dp_buf_cstr(&json))) {
		status = cli_query_fail(CMD, rc ? rc : dp_error(DNNPROV_ENOMEM, "out of memory"));
		goto out;
	}
	if ((rc = dp_rowout_begin(&w, &t, r->format, stdout, r->width))) {
		status = cli_query_fail(CMD, rc);
		goto out;
	}
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		if ((rc = dp_sql_row(st, ncols, cells, hex)) || (rc = dp_rowout_row(&w, cells)))
			break;
		if (ferror(stdout)) {
			cli_error(CMD, "cannot write the output: %s", strerror(errno ? errno : EIO));
			status = 1;
			goto out_w;
		}
		/* SQLite checks the time only while it steps: rendering a row
		 * counts too. */
		if (dp_sql_past_deadline(r->s)) {
			src = SQLITE_INTERRUPT;
			break;
		}
	}
	if (src == SQLITE_INTERRUPT && dp_sql_timed_out(r->s)) {
		cli_error(CMD, "the statement ran past the --timeout and was stopped");
		status = 1;
	} else if (rc) {
		status = cli_query_fail(CMD, rc);
	} else if (src != SQLITE_DONE) {
		/* CSV and JSON printed so far stay; the error says the rest
		 * is missing. */
		status = statement_failed(r, sql, sqlite3_error_offset(r->db));
	} else {
		if (r->format == FMT_TABLE)
			text_columns(&t);
		if ((rc = dp_rowout_end(&w, index_json)))
			status = cli_query_fail(CMD, rc);
		else if (note.len)
			fwrite(note.data, 1, note.len, r->format == FMT_TABLE ? stdout : stderr);
	}
out_w:
	if (status)
		dp_rowout_flush(&w); /* the rows printed before the error stay */
	dp_rowout_free(&w);
out:
	dp_buf_free(&json);
	dp_buf_free(&note);
	for (int i = 0; i < ncols; i++)
		dp_buf_free(&hex[i]);
	free(hex);
	free(cells);
	dp_table_free(&t);
	return status;
}

/* Runs every statement of `text`; stops at the first failure. */
static int run_text(sql_run *r, const char *text)
{
	const char *rest = text;
	while (rest && *rest) {
		sqlite3_stmt *st = NULL;
		const char *tail = NULL;
		dp_sql_statement_begin(r->s);
		if (sqlite3_prepare_v2(r->db, rest, -1, &st, &tail) != SQLITE_OK) {
			int offset = sqlite3_error_offset(r->db);
			int status = statement_failed(r, rest, offset);
			sqlite3_finalize(st);
			return status;
		}
		if (!st) { /* only spaces or a comment */
			rest = tail;
			continue;
		}
		int status = 0;
		if (sqlite3_column_count(st) > 0) {
			status = print_rows(r, st, rest);
		} else {
			int src;
			while ((src = sqlite3_step(st)) == SQLITE_ROW)
				;
			if (src != SQLITE_DONE)
				status = statement_failed(r, rest, sqlite3_error_offset(r->db));
		}
		sqlite3_finalize(st);
		dp_sql_statement_done(r->s);
		if (status)
			return status;
		rest = tail;
	}
	return 0;
}

/* ---- standard input ------------------------------------------------------------------ */

static void dot_help(void)
{
	fputs(".tables            the tables and views\n"
	      ".schema [TABLE]    their CREATE statements\n"
	      ".help              this list\n"
	      ".quit              leave (so does end of input)\n",
	      stdout);
}

/* A dot command; false for .quit. */
static bool dot_command(sql_run *r, char *line, int *status)
{
	char *arg = line + strcspn(line, " \t\r\n");
	if (*arg)
		*arg++ = '\0';
	arg += strspn(arg, " \t");
	arg[strcspn(arg, " \t\r\n;")] = '\0';
	size_t n = dp_sql_ntables(r->s);
	if (strcmp(line, ".quit") == 0 || strcmp(line, ".exit") == 0)
		return false;
	if (strcmp(line, ".tables") == 0) {
		for (size_t i = 0; i < n; i++)
			printf("%s\n", dp_sql_table(r->s, i));
	} else if (strcmp(line, ".schema") == 0) {
		bool found = false;
		for (size_t i = 0; i < n; i++) {
			const char *name = dp_sql_table(r->s, i);
			if (*arg && sqlite3_stricmp(arg, name) != 0)
				continue;
			printf("%s;\n", dp_sql_schema(r->s, name));
			found = true;
		}
		if (*arg && !found) {
			cli_error(CMD, "no table '%s'", arg);
			list_tables(r);
			*status = 1;
		}
	} else if (strcmp(line, ".help") == 0) {
		dot_help();
	} else {
		cli_error(CMD, "unknown command '%s' (.help lists them)", line);
		*status = 1;
	}
	return true;
}

static int run_stdin(sql_run *r)
{
	dp_buf stmt = { 0 };
	char *line = NULL;
	size_t cap = 0;
	int status = 0;
	ssize_t n;

	for (;;) {
		if (r->interactive) {
			fputs(stmt.len ? "   ...> " : "dnnprov> ", stdout);
			fflush(stdout);
		}
		if ((n = getline(&line, &cap, stdin)) < 0)
			break;
		if (stmt.len == 0 && line[strspn(line, " \t")] == '.') {
			int st = 0;
			bool go_on = dot_command(r, line + strspn(line, " \t"), &st);
			status |= st;
			if (!go_on || (st && !r->interactive))
				break;
			continue;
		}
		dp_buf_append(&stmt, line, (size_t)n);
		if (stmt.failed) {
			cli_error(CMD, "out of memory");
			status = 1;
			break;
		}
		if (!sqlite3_complete(dp_buf_cstr(&stmt)))
			continue;
		int st = run_text(r, dp_buf_cstr(&stmt));
		fflush(stdout);
		status |= st;
		stmt.len = 0;
		if (st && !r->interactive)
			break;
	}
	if (stmt.len && !status && stmt.data[strspn(dp_buf_cstr(&stmt), " \t\r\n")]) {
		/* The last statement may lack its ';'. */
		status = run_text(r, dp_buf_cstr(&stmt));
	}
	if (r->interactive)
		fputc('\n', stdout);
	free(line);
	dp_buf_free(&stmt);
	return status;
}

/* ---- the command ----------------------------------------------------------------------- */

int cmd_sql(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },  { "index-dir", required_argument, NULL, 'I' },
		{ "dataflow", required_argument, NULL, 'd' }, { "format", required_argument, NULL, 'f' },
		{ "timeout", required_argument, NULL, 'T' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *index_dir = NULL, *df = NULL;
	char *owned_index = NULL, *config_df = NULL, *owned_log_dir = NULL;
	double timeout = 0;
	sql_run r = { .format = FMT_TABLE };
	int c, rc, status = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:f:h", opts, NULL)) != -1) {
		switch (c) {
		case 'h': return cli_help(CMD);
		case 'c': config = optarg; break;
		case 'I': index_dir = optarg; break;
		case 'd': df = optarg; break;
		case 'f':
			if (dp_format_parse(optarg, &r.format))
				return cli_usage(CMD, "%s", dnnprov_errmsg());
			break;
		case 'T':
			if ((rc = cli_opt_duration(CMD, "--timeout", optarg, "s", 0.001, 86400, &timeout)))
				return rc;
			break;
		default: return cli_bad_option(CMD, argv, "c:f:h", opts);
		}
	}
	if (argc - optind > 1)
		return cli_usage(CMD, "too many arguments (quote the query)");
	if (config) {
		dnnprov_config *cfg;
		if ((rc = dnnprov_config_load(config, &cfg)))
			return cli_lib_error(CMD, rc, config);
		config_df = strdup(cfg->dataflow);
		owned_log_dir = strdup(cfg->log_dir);
		if (!index_dir)
			index_dir = owned_index = strdup(cfg->index_dir);
		dnnprov_config_free(cfg);
		if (!config_df || !index_dir || !owned_log_dir) {
			free(config_df);
			free(owned_index);
			free(owned_log_dir);
			cli_error(CMD, "out of memory");
			return 1;
		}
	}
	if (!index_dir)
		return cli_usage(CMD, "give -c CONFIG or --index-dir DIR");
	if (!df)
		df = config_df;

	if (sqlite3_open_v2(":memory:", &r.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_MEMORY, NULL) != SQLITE_OK) {
		cli_error(CMD, "cannot open SQLite: %s", r.db ? sqlite3_errmsg(r.db) : "out of memory");
		status = 1;
		goto out;
	}
	if ((rc = dp_sql_register(r.db, &r.s)) || (rc = dp_sql_attach(r.s, index_dir, df)) ||
	    (rc = dp_sql_restrict(r.s, timeout, DP_SQL_MAX_VALUE))) {
		status = cli_query_fail(CMD, rc);
		goto out;
	}
	/* A table a dataflow is too wide for: the others work, and say so. */
	for (const char *note = dp_sql_notes(r.s); *note; note += strcspn(note, "\n") + 1)
		cli_error(CMD, "note: %.*s", (int)strcspn(note, "\n"), note);
	if (!dp_sql_ntables(r.s) || !dp_sql_default_dataflow(r.s)) {
		char **names;
		size_t n = 0;
		if (dp_sql_dataflows(r.s, &names, &n) == 0 && n == 0)
			cli_error(CMD, "the index at %s is empty: nothing has been indexed yet", index_dir);
	}
	r.width = cli_width(false);
	r.index_dir = index_dir;
	r.log_dir = owned_log_dir;
	r.df = df;
	r.interactive = optind == argc && isatty(STDIN_FILENO);
	if (optind < argc)
		status = run_text(&r, argv[optind]);
	else
		status = run_stdin(&r);
	status = cli_finish(CMD, status);
out:
	sqlite3_close_v2(r.db);
	free(owned_index);
	free(config_df);
	free(owned_log_dir);
	return status;
}
