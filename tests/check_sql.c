/*
 * check_sql.c - the SQL tables (sql/): an attach over a small index and
 * what it creates, names from the index quoted by one function, the
 * authorizer's allow-list, and the plans xBestIndex makes (the idxNum
 * packing of vtab.c's top comment) with the rows they give at the bounds.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "indexer/index.h"
#include "sql/sql.h"
#include "tests/testutil.h"

static char *dir, *index_dir;
static sqlite3 *db;
static dp_sql *ctx;

/* Two runs of df: t1 with epochs 1 to 5, an adaptation at 3, a test, an
 * element and layers; t2 with epochs 1 and 2. */
static void write_logs(void)
{
	dnnprov_config *cfg = tu_config(dir, NULL);
	dnnprov_task *t;
	dnnprov_value h[] = { DNNPROV_V_TEXT("OPTIMIZER_NAME", "Adam"), DNNPROV_V_REAL("LEARNING_RATE", 0.01) };
	ck_assert_int_eq(dnnprov_task_open(cfg, "t1", &t), 0);
	ck_assert_int_eq(dnnprov_task_begin(t, h, 2), 0);
	dnnprov_layer l[] = { { "dense", "activation", DNNPROV_V_TEXT("value", "relu") } };
	ck_assert_int_eq(dnnprov_task_layers(t, l, 1), 0);
	for (int64_t e = 1; e <= 5; e++) {
		dnnprov_value m[] = { DNNPROV_V_REAL("loss", 1.0 / (double)e), DNNPROV_V_REAL("accuracy", 0.1 * (double)e) };
		ck_assert_int_eq(dnnprov_task_epoch(t, e, 1.0, m, 2), 0);
		if (e == 3) {
			dnnprov_value lr = DNNPROV_V_REAL("LEARNING_RATE", 0.005);
			ck_assert_int_eq(dnnprov_task_adapt(t, 3, &lr), 0);
		}
	}
	dnnprov_value tm[] = { DNNPROV_V_REAL("loss", 0.3) };
	ck_assert_int_eq(dnnprov_task_test(t, tm, 1), 0);
	dnnprov_value el[] = { DNNPROV_V_INT("growth_rate", 12), DNNPROV_V_INT("layers_db", 4) };
	ck_assert_int_eq(dnnprov_task_element(t, "DenseBlock", "iDenseBlock", el, 2), 0);
	ck_assert_int_eq(dnnprov_task_end(t, DNNPROV_FINISHED, NULL), 0);
	ck_assert_int_eq(dnnprov_task_close(t), 0);
	ck_assert_int_eq(dnnprov_task_open(cfg, "t2", &t), 0);
	ck_assert_int_eq(dnnprov_task_begin(t, h, 2), 0);
	for (int64_t e = 1; e <= 2; e++) {
		dnnprov_value m[] = { DNNPROV_V_REAL("loss", 2.0) };
		ck_assert_int_eq(dnnprov_task_epoch(t, e, 1.0, m, 1), 0);
	}
	ck_assert_int_eq(dnnprov_task_end(t, DNNPROV_FINISHED, NULL), 0);
	ck_assert_int_eq(dnnprov_task_close(t), 0);
	dnnprov_config_free(cfg);
}

static void setup(void)
{
	dir = tu_mkdtemp();
	index_dir = dp_path_join(dir, "index");
	write_logs();
	char *log_dir = dp_path_join(dir, "logs");
	dp_indexer_options o = { .log_dir = log_dir, .index_dir = index_dir };
	dp_indexer *x;
	ck_assert_msg(dp_indexer_open(&o, &x) == 0, "%s", dnnprov_errmsg());
	ck_assert_msg(dp_indexer_catch_up(x) == 0, "%s", dnnprov_errmsg());
	dp_indexer_close(x);
	free(log_dir);
	ck_assert_int_eq(sqlite3_open(":memory:", &db), SQLITE_OK);
	ck_assert_int_eq(dp_sql_register(db, &ctx), 0);
	ck_assert_msg(dp_sql_attach(ctx, index_dir, NULL) == 0, "%s", dnnprov_errmsg());
}

static void teardown(void)
{
	sqlite3_close(db);
	tu_rmtree(dir);
	free(dir);
	free(index_dir);
}

/* The rows of a statement, a line each, columns separated by '|'. */
static char *rows(const char *sql)
{
	sqlite3_stmt *st;
	dp_buf b = { 0 };
	int rc;
	dp_sql_statement_begin(ctx);
	ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK, "%s: %s", sql, sqlite3_errmsg(db));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		for (int c = 0; c < sqlite3_column_count(st); c++) {
			const unsigned char *v = sqlite3_column_text(st, c);
			dp_buf_printf(&b, "%s%s", c ? "|" : "", v ? (const char *)v : "NULL");
		}
		dp_buf_putc(&b, '\n');
	}
	ck_assert_msg(rc == SQLITE_DONE, "%s: %s", sql, sqlite3_errmsg(db));
	sqlite3_finalize(st);
	dp_sql_statement_done(ctx);
	char *out = strdup(b.data ? dp_buf_cstr(&b) : "");
	dp_buf_free(&b);
	return out;
}

static void expect_rows(const char *sql, const char *want)
{
	char *got = rows(sql);
	ck_assert_msg(strcmp(got, want) == 0, "%s:\n got  %s\n want %s", sql, got, want);
	free(got);
}

/* Whether a statement is refused by the authorizer (prepared or run). */
static bool refused(const char *sql)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		sqlite3_finalize(st);
		return rc == SQLITE_AUTH || rc == SQLITE_ERROR;
	}
	return rc == SQLITE_AUTH || strstr(sqlite3_errmsg(db), "not authorized") != NULL;
}

/* ---- the attach ------------------------------------------------------------------------- */

START_TEST(test_attach_creates_the_tables)
{
	const char *want[] = { "tasks", "epochs", "df_epochs", "df_hyperparameters", "df_iDenseBlock", "attributes",
			       "ds_otrainingmodel", "ds_oadaptation", "ds_idenseblock", "attribute" };
	for (size_t i = 0; i < DP_ARRAY_LEN(want); i++)
		ck_assert_msg(dp_sql_schema(ctx, want[i]) != NULL, "no table %s", want[i]);
	/* The only dataflow is the default one. */
	ck_assert_str_eq(dp_sql_default_dataflow(ctx), "df");
	ck_assert_str_eq(dp_sql_notes(ctx), "");
	/* Sorted by name, as dp_sql_table says. */
	for (size_t i = 1; i < dp_sql_ntables(ctx); i++)
		ck_assert_int_lt(strcmp(dp_sql_table(ctx, i - 1), dp_sql_table(ctx, i)), 0);
	expect_rows("select count(*) from tasks", "2\n");
	expect_rows("select task, epoch, loss from df_epochs where task = 't2'", "t2|1|2.0\nt2|2|2.0\n");
	expect_rows("select adaptation_task_id, epoch_id, new_lrate from ds_oadaptation", "t1|3|0.005\n");
	expect_rows("select growth_rate from df_iDenseBlock", "12\n");
	/* The model's rows: the built-in sets' attributes included. */
	expect_rows("select attribute from attributes where \"set\" = 'oAdaptation' order by position",
		    "epoch\nhyperparameter\nold\nnew\nid\n");
}
END_TEST

START_TEST(test_attach_again_replaces)
{
	size_t n = dp_sql_ntables(ctx);
	ck_assert_int_eq(dp_sql_attach(ctx, index_dir, "df"), 0);
	ck_assert_uint_eq(dp_sql_ntables(ctx), n);
	ck_assert_int_eq(dp_sql_attach(ctx, index_dir, "nope"), DNNPROV_ENOTFOUND);
	ck_assert_ptr_nonnull(strstr(dnnprov_errmsg(), "nope"));
	char *missing = dp_path_join(dir, "none");
	ck_assert_int_ne(dp_sql_attach(ctx, missing, NULL), 0);
	free(missing);
}
END_TEST

/* ---- quoting ------------------------------------------------------------------------------ */

START_TEST(test_quote)
{
	static const struct {
		const char *in, *name, *text;
	} cases[] = {
		{ "plain", "\"plain\"", "'plain'" },
		{ "x\"; ATTACH 'f.db' AS p; --", "\"x\"\"; ATTACH 'f.db' AS p; --\"", "'x\"; ATTACH ''f.db'' AS p; --'" },
		{ "", "\"\"", "''" },
		{ "''\"\"", "\"''\"\"\"\"\"", "'''''\"\"'" },
	};
	for (size_t i = 0; i < DP_ARRAY_LEN(cases); i++) {
		dp_buf b = { 0 };
		dp_sql_quote(&b, cases[i].in, '"');
		ck_assert_str_eq(dp_buf_cstr(&b), cases[i].name);
		b.len = 0;
		dp_sql_quote(&b, cases[i].in, '\'');
		ck_assert_str_eq(dp_buf_cstr(&b), cases[i].text);
		/* SQLite reads it back as the name it was. */
		char sql[256];
		snprintf(sql, sizeof(sql), "select %s", dp_buf_cstr(&b));
		char *got = rows(sql), want[128];
		snprintf(want, sizeof(want), "%s\n", cases[i].in);
		ck_assert_str_eq(got, want);
		free(got);
		dp_buf_free(&b);
	}
}
END_TEST

/* ---- the authorizer --------------------------------------------------------------------- */

START_TEST(test_authorizer_allow_list)
{
	ck_assert_int_eq(dp_sql_restrict(ctx, 0, 0), 0);
	expect_rows("select abs(-2), upper('a'), json_extract('{\"a\": 3}', '$.a'), round(pi(), 2)", "2|A|3|3.14\n");
	expect_rows("select count(*) from pragma_table_info('tasks') where name = 'task'", "1\n");
	static const struct {
		const char *sql, *denied;
	} refusals[] = {
		{ "select load_extension('x')", "the function load_extension" },
		{ "select hex(fts3_tokenizer('simple'))", "the function fts3_tokenizer" },
		{ "select dnnprov_attach('/')", "the function dnnprov_attach" },
		{ "create table main.notes(x)", NULL },
		{ "attach 'file.db' as f", "ATTACH of a file" },
		{ "pragma cache_size = 10", "a pragma that changes" },
	};
	for (size_t i = 0; i < DP_ARRAY_LEN(refusals); i++) {
		ck_assert_msg(refused(refusals[i].sql), "%s was allowed", refusals[i].sql);
		if (refusals[i].denied)
			ck_assert_msg(dp_sql_denied(ctx) && strstr(dp_sql_denied(ctx), refusals[i].denied),
				      "%s: denied %s", refusals[i].sql, dp_sql_denied(ctx) ? dp_sql_denied(ctx) : "NULL");
	}
	/* The tables, in temp, have no write methods: read-only by the module. */
	sqlite3_stmt *st;
	ck_assert_int_ne(sqlite3_prepare_v2(db, "delete from tasks", -1, &st, NULL), SQLITE_OK);
	ck_assert_ptr_nonnull(strstr(sqlite3_errmsg(db), "may not be modified"));
	/* What only writes temp, or a database in memory, is anyone's. */
	expect_rows("create temp table scratch(x)", "");
	expect_rows("attach ':memory:' as m", "");
}
END_TEST

/* ---- plans: idxNum and the rows at the bounds -------------------------------------------- */

/* The idxNum SQLite shows for a statement's scan of `table`, or -1. */
static int index_number(const char *sql)
{
	char eqp[512];
	snprintf(eqp, sizeof(eqp), "explain query plan %s", sql);
	char *plan = rows(eqp), *at = strstr(plan, "VIRTUAL TABLE INDEX ");
	int n = at ? atoi(at + 20) : -1;
	free(plan);
	return n;
}

START_TEST(test_plans)
{
	/* metrics: key (dataflow, task, epoch); two bits a field, then the
	 * lower bound's operator (bits 12-13: 1 >, 2 >=) and the upper's
	 * (14-15: 1 <, 2 <=). */
	static const struct {
		const char *where;
		int plan;
		const char *epochs; /* of task t1's loss rows */
	} cases[] = {
		{ "dataflow = 'df' and task = 't1'", 1 | 1 << 2, "1,2,3,4,5" },
		{ "task = 't1'", 3 | 1 << 2, "1,2,3,4,5" }, /* every dataflow, then the task */
		{ "dataflow = 'df' and task = 't1' and epoch > 2", 1 | 1 << 2 | 2 << 4 | 1 << 12, "3,4,5" },
		{ "dataflow = 'df' and task = 't1' and epoch >= 2.5", 1 | 1 << 2 | 2 << 4 | 2 << 12, "3,4,5" },
		{ "dataflow = 'df' and task = 't1' and epoch < 3", 1 | 1 << 2 | 2 << 4 | 1 << 14, "1,2" },
		{ "dataflow = 'df' and task = 't1' and epoch > 1 and epoch <= 4.5", 1 | 1 << 2 | 2 << 4 | 1 << 12 | 2 << 14,
		  "2,3,4" },
		{ "dataflow = 'df' and task = 't1' and epoch > 9223372036854775807", 1 | 1 << 2 | 2 << 4 | 1 << 12, "" },
		{ "dataflow = 'df' and task = 't1' and epoch = 4", 1 | 1 << 2 | 1 << 4, "4" },
		{ "dataflow = 'df' and task = 't1' and epoch > 4 and epoch < 2", 1 | 1 << 2 | 2 << 4 | 1 << 12 | 1 << 14,
		  "" },
		{ "epoch > 3", 0, "4,5" }, /* no key prefix: a scan, SQLite filters */
	};
	for (size_t i = 0; i < DP_ARRAY_LEN(cases); i++) {
		char sql[512], want[64];
		snprintf(sql, sizeof(sql),
			 "select group_concat(epoch) from (select epoch from metrics where %s and name = 'loss' and "
			 "task = 't1' order by epoch)",
			 cases[i].where);
		char inner[512];
		snprintf(inner, sizeof(inner), "select epoch from metrics where %s", cases[i].where);
		ck_assert_msg(index_number(inner) == cases[i].plan, "%s: plan %d, want %d", cases[i].where,
			      index_number(inner), cases[i].plan);
		snprintf(want, sizeof(want), "%s\n", *cases[i].epochs ? cases[i].epochs : "NULL");
		expect_rows(sql, want);
	}
	/* An equality that no stored key can equal gives nothing, not an error. */
	expect_rows("select count(*) from metrics where dataflow = 'df' and task = 't1' and epoch = 2.5", "0\n");
	expect_rows("select count(*) from metrics where dataflow = NULL", "0\n");
	/* The specification's tables take the dataflow as their key. */
	ck_assert_int_eq(index_number("select * from sets where dataflow = 'df'"), 1);
	expect_rows("select count(*) from sets where dataflow = 'nope'", "0\n");
}
END_TEST

static Suite *sql_suite(void)
{
	Suite *s = suite_create("sql");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_attach_creates_the_tables);
	tcase_add_test(tc, test_attach_again_replaces);
	tcase_add_test(tc, test_quote);
	tcase_add_test(tc, test_authorizer_allow_list);
	tcase_add_test(tc, test_plans);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(sql_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed != 0;
}
