/*
 * check_query.c - the registry of questions (query/registry.c): the one
 * parser of parameter values, type by type and at the edges of each
 * range; refusals naming their parameter (dnnprov_errsubject) as the
 * front end spells it; defaults; what each front end is offered; and the
 * declarations themselves (names unique, help everywhere, offsets inside
 * the options); the --where language (what matches, SQL's three-valued
 * logic, exact integers, each error with its caret); the readers of
 * stored values (query/rows.c: keys, values, damage), the raw and decoded
 * maps agreeing, the one conversion to a cell and the order of numbers;
 * a JSON answer's own members; where two curves part (diff's rule), and
 * the natural bounds of a metric.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/registry.h"
#include "query/rows.h"

/* A question of every parameter type, declared as the real ones are. */
typedef struct every_opts {
	dp_qopts o;
	int64_t count;
	double ratio, wait;
	uint64_t size;
	dp_address listen;
	bool flag;
	const char *names, *text, *cli_only;
} every_opts;

static const char *const colours[] = { "red", "green", "blue", NULL };
static const dp_param every_params[] = {
	DP_PARAM_DATAFLOW,
	DP_PARAM_WHERE("rows"),
	DP_PARAM_AGG,
	DP_PARAM_GOAL,
	{ .name = "count", .type = DP_PT_INT, .arg = "N", .min = 2, .max = 10, .def = "3", .help = "a count",
	  .fronts = DP_FRONT_ALL, .offset = offsetof(every_opts, count) },
	{ .name = "wait", .type = DP_PT_DURATION, .arg = "D", .min = 0.5, .max = 3600, .unit = "s", .help = "a wait",
	  .fronts = DP_FRONT_ALL, .offset = offsetof(every_opts, wait) },
	{ .name = "size", .type = DP_PT_SIZE, .arg = "S", .min = 1024, .max = 1 << 20, .help = "a size",
	  .fronts = DP_FRONT_ALL, .offset = offsetof(every_opts, size) },
	{ .name = "listen", .type = DP_PT_ADDRESS, .arg = "A", .help = "an address", .fronts = DP_FRONT_ALL,
	  .offset = offsetof(every_opts, listen) },
	{ .name = "ratio", .type = DP_PT_REAL, .arg = "R", .min = 0.5, .max = 2, .help = "a ratio",
	  .fronts = DP_FRONT_ALL, .offset = offsetof(every_opts, ratio) },
	{ .name = "flag", .type = DP_PT_FLAG, .help = "a flag", .fronts = DP_FRONT_ALL,
	  .offset = offsetof(every_opts, flag) },
	{ .name = "colour", .type = DP_PT_CHOICE, .choices = colours, .help = "a colour", .fronts = DP_FRONT_ALL,
	  .offset = offsetof(every_opts, text) },
	{ .name = "names", .type = DP_PT_NAMES, .help = "names", .fronts = DP_FRONT_ALL,
	  .offset = offsetof(every_opts, names) },
	{ .name = "local", .type = DP_PT_TEXT, .required = true, .help = "the command line's only",
	  .fronts = DP_FRONT_CLI, .offset = offsetof(every_opts, cli_only) },
};

static int no_answer(dp_query *q, const dp_qopts *o, dp_table *out, dp_qnotes *notes)
{
	(void)q, (void)o, (void)out, (void)notes;
	return 0;
}

static const dp_question every = {
	.name = "every",
	.summary = "every type",
	.description = "A question of every parameter type.",
	DP_PARAMS(every_params),
	.opts_size = sizeof(every_opts),
	.answer = no_answer,
};

static dp_ask ask;

static void setup(void)
{
	ck_assert_int_eq(dp_ask_init(&ask, &every, DP_FRONT_HTTP), 0);
}

static void teardown(void)
{
	dp_ask_free(&ask);
}

static const every_opts *opts(void)
{
	return (const every_opts *)ask.o;
}

/* A refusal: EQUERY, about `subject`, saying `phrase`. */
static void refused(int rc, const char *subject, const char *phrase)
{
	ck_assert_int_eq(rc, DNNPROV_EQUERY);
	ck_assert_str_eq(dnnprov_errsubject(), subject);
	ck_assert_msg(strstr(dnnprov_errmsg(), phrase), "'%s' does not say '%s'", dnnprov_errmsg(), phrase);
}

/* ---- types --------------------------------------------------------------------------------- */

static const struct {
	const char *value;
	bool ok;
	int64_t want;
} int_cases[] = {
	/* Decimal digits only, as every count of the command line (util/units.c). */
	{ "2", true, 2 }, { "10", true, 10 }, { "007", true, 7 },
	{ "1", false, 0 }, { "11", false, 0 }, { "", false, 0 }, { " 3", false, 0 }, { "+7", false, 0 },
	{ "-3", false, 0 }, { "3 ", false, 0 }, { "3x", false, 0 }, { "0x3", false, 0 }, { "3.0", false, 0 },
	{ "99999999999999999999", false, 0 }, { "1e1", false, 0 },
};

START_TEST(test_int)
{
	int rc = dp_ask_set(&ask, "count", int_cases[_i].value);
	if (int_cases[_i].ok) {
		ck_assert_int_eq(rc, 0);
		ck_assert_int_eq(opts()->count, int_cases[_i].want);
		ck_assert_str_eq(dnnprov_errsubject(), "");
	} else {
		refused(rc, "count", "count: '");
		ck_assert_msg(strstr(dnnprov_errmsg(), int_cases[_i].value), "quotes the value: %s", dnnprov_errmsg());
		ck_assert_int_eq(opts()->count, 3); /* the default stays */
	}
}
END_TEST

static const struct {
	const char *value;
	bool ok;
	double want;
} real_cases[] = {
	{ "0.5", true, 0.5 }, { "2", true, 2 }, { "1e0", true, 1 }, { "0.49", false, 0 }, { "2.01", false, 0 },
	{ "nan", false, 0 }, { "inf", false, 0 }, { "", false, 0 }, { "1,5", false, 0 }, { " 1", false, 0 },
};

START_TEST(test_real)
{
	int rc = dp_ask_set(&ask, "ratio", real_cases[_i].value);
	if (real_cases[_i].ok) {
		ck_assert_int_eq(rc, 0);
		ck_assert(opts()->ratio == real_cases[_i].want);
	} else {
		refused(rc, "ratio", "ratio: '");
		ck_assert_msg(strstr(dnnprov_errmsg(), "from 0.5 to 2"), "names the range: %s", dnnprov_errmsg());
	}
}
END_TEST

START_TEST(test_choice)
{
	ck_assert_int_eq(dp_ask_set(&ask, "colour", "green"), 0);
	ck_assert_str_eq(opts()->text, "green");
	dp_ask_free(&ask);
	setup();
	refused(dp_ask_set(&ask, "colour", "Green"), "colour", "colour: 'Green' is not red, green or blue");
	refused(dp_ask_set(&ask, "goal", "up"), "goal", "goal: 'up' is not min or max");
}
END_TEST

START_TEST(test_flag)
{
	static const char *const yes[] = { "true", "1", "yes", "on", "TRUE" }, *const no[] = { "false", "0", "no", "off" };
	for (size_t i = 0; i < DP_ARRAY_LEN(yes); i++) {
		dp_ask_free(&ask);
		setup();
		ck_assert_int_eq(dp_ask_set(&ask, "flag", yes[i]), 0);
		ck_assert(opts()->flag);
	}
	for (size_t i = 0; i < DP_ARRAY_LEN(no); i++) {
		dp_ask_free(&ask);
		setup();
		ck_assert_int_eq(dp_ask_set(&ask, "flag", no[i]), 0);
		ck_assert(!opts()->flag);
	}
	dp_ask_free(&ask);
	setup();
	refused(dp_ask_set(&ask, "flag", "maybe"), "flag", "flag: 'maybe' is not true or false");
	/* On the command line a flag has no value. */
	dp_ask a;
	ck_assert_int_eq(dp_ask_init(&a, &every, DP_FRONT_CLI), 0);
	ck_assert_int_eq(dp_ask_set_param(&a, dp_question_param(&every, "flag", DP_FRONT_CLI), NULL), 0);
	ck_assert(((const every_opts *)a.o)->flag);
	dp_ask_free(&a);
}
END_TEST

START_TEST(test_agg)
{
	static const struct {
		const char *text;
		dp_agg_kind kind;
		int64_t epoch;
	} good[] = { { "best", AGG_BEST, 0 }, { "max", AGG_MAX, 0 },  { "min", AGG_MIN, 0 },
		     { "last", AGG_LAST, 0 }, { "mean", AGG_MEAN, 0 }, { "at=12", AGG_AT, 12 } };
	for (size_t i = 0; i < DP_ARRAY_LEN(good); i++) {
		dp_ask_free(&ask);
		setup();
		ck_assert_int_eq(dp_ask_set(&ask, "agg", good[i].text), 0);
		ck_assert_int_eq(ask.o->agg.kind, good[i].kind);
		ck_assert_int_eq(ask.o->agg.epoch, good[i].epoch);
	}
	static const char *const bad[] = { "median", "at=", "at=x", "Best", "" };
	for (size_t i = 0; i < DP_ARRAY_LEN(bad); i++) {
		dp_ask_free(&ask);
		setup();
		refused(dp_ask_set(&ask, "agg", bad[i]), "agg", "is not an aggregate: best, max, min, last, mean or at=EPOCH");
	}
}
END_TEST

/* The grammars of util/units.c, as every option of their kind. */
START_TEST(test_units)
{
	ck_assert_int_eq(dp_ask_set(&ask, "wait", "1.5"), 0);
	ck_assert(opts()->wait == 1.5);
	ck_assert_int_eq(dp_ask_set(&ask, "size", "64KiB"), 0);
	ck_assert_int_eq(opts()->size, 65536);
	ck_assert_int_eq(dp_ask_set(&ask, "listen", "127.0.0.1:8080"), 0);
	ck_assert_str_eq(opts()->listen.host, "127.0.0.1");
	ck_assert_int_eq(opts()->listen.port, 8080);
	static const struct {
		const char *name, *value;
	} bad[] = { { "wait", "250ms" }, { "wait", "2h" }, { "wait", "1e3" }, { "wait", "inf" }, { "wait", " 1" },
		    { "size", "1000" }, { "size", "2MiB" }, { "size", "1.5k" }, { "size", "-1" },
		    { "listen", "localhost:80" }, { "listen", "0x7f000001:0" }, { "listen", "1.2.3.4:70000" } };
	for (size_t i = 0; i < DP_ARRAY_LEN(bad); i++) {
		dp_ask_free(&ask);
		setup();
		char phrase[32];
		snprintf(phrase, sizeof(phrase), "%s: ", bad[i].name);
		refused(dp_ask_set(&ask, bad[i].name, bad[i].value), bad[i].name, phrase);
	}
	/* A duration's bare number is in the parameter's unit; 1m is 60 s. */
	dp_ask_free(&ask);
	setup();
	ck_assert_int_eq(dp_ask_set(&ask, "wait", "1m"), 0);
	ck_assert(opts()->wait == 60);
}
END_TEST

START_TEST(test_texts)
{
	/* Texts are kept as given (the caller keeps them alive): what they
	 * name is checked against the index when the question is answered. */
	ck_assert_int_eq(dp_ask_set(&ask, "where", "epochs > 1"), 0);
	ck_assert_int_eq(dp_ask_set(&ask, "names", "a,b"), 0);
	ck_assert_int_eq(dp_ask_set(&ask, "df", "x"), 0);
	ck_assert_str_eq(ask.o->where, "epochs > 1");
	ck_assert_str_eq(opts()->names, "a,b");
	ck_assert_str_eq(ask.o->df, "x");
}
END_TEST

/* ---- names, front ends, defaults -------------------------------------------------------------- */

START_TEST(test_spelling)
{
	/* The command line's message says --count; HTTP's says count. */
	dp_ask a;
	ck_assert_int_eq(dp_ask_init(&a, &every, DP_FRONT_CLI), 0);
	refused(dp_ask_set_param(&a, dp_question_param(&every, "count", DP_FRONT_CLI), "x"), "count", "--count: 'x'");
	dp_ask_free(&a);
	refused(dp_ask_set(&ask, "count", "x"), "count", "count: 'x'");
	ck_assert_msg(strncmp(dnnprov_errmsg(), "count", 5) == 0, "%s", dnnprov_errmsg());
	/* HTTP's name of the dataflow is df; "dataflow" is no HTTP parameter. */
	ck_assert_ptr_eq(dp_question_param(&every, "df", DP_FRONT_HTTP), &every_params[0]);
	ck_assert_ptr_eq(dp_question_param(&every, "dataflow", DP_FRONT_SQL), &every_params[0]);
	refused(dp_ask_set(&ask, "dataflow", "x"), "dataflow", "unknown parameter 'dataflow'");
}
END_TEST

START_TEST(test_unknown_and_not_offered)
{
	refused(dp_ask_set(&ask, "nosuch", "1"), "nosuch", "unknown parameter 'nosuch' (every takes: df, where, agg");
	/* local is the command line's alone. */
	refused(dp_ask_set(&ask, "local", "1"), "local", "unknown parameter 'local'");
	ck_assert_msg(!strstr(dnnprov_errmsg(), "local,"), "lists what HTTP is not offered: %s", dnnprov_errmsg());
	ck_assert_msg(strstr(dnnprov_errmsg(), "format"), "HTTP's format: %s", dnnprov_errmsg());
}
END_TEST

START_TEST(test_twice)
{
	ck_assert_int_eq(dp_ask_set(&ask, "count", "4"), 0);
	refused(dp_ask_set(&ask, "count", "5"), "count", "count is given twice");
	ck_assert_int_eq(opts()->count, 4);
	/* The command line takes the last, as getopt does. */
	dp_ask a;
	const dp_param *p = dp_question_param(&every, "count", DP_FRONT_CLI);
	ck_assert_int_eq(dp_ask_init(&a, &every, DP_FRONT_CLI), 0);
	ck_assert_int_eq(dp_ask_set_param(&a, p, "4"), 0);
	ck_assert_int_eq(dp_ask_set_param(&a, p, "5"), 0);
	ck_assert_int_eq(((const every_opts *)a.o)->count, 5);
	dp_ask_free(&a);
}
END_TEST

START_TEST(test_defaults_and_required)
{
	ck_assert_int_eq(opts()->count, 3);
	ck_assert_int_eq(ask.o->agg.kind, AGG_BEST);
	ck_assert(isfinite(ask.o->now) && ask.o->now > 0);
	ck_assert_ptr_null(ask.o->goal);
	ck_assert_str_eq(dnnprov_errmsg(), ""); /* defaults leave no detail */
	/* A default is no value the caller gave: it may still be given. */
	ck_assert_int_eq(dp_ask_set(&ask, "count", "4"), 0);
	dp_ask a;
	ck_assert_int_eq(dp_ask_init(&a, &every, DP_FRONT_CLI), 0);
	refused(dp_ask_check(&a), "local", "--local is required");
	ck_assert_int_eq(dp_ask_set_param(&a, dp_question_param(&every, "local", DP_FRONT_CLI), "x"), 0);
	ck_assert_int_eq(dp_ask_check(&a), 0);
	dp_ask_free(&a);
	/* The real ones: effect needs hyp; curve its TASK, named so on the
	 * command line. */
	ck_assert_int_eq(dp_ask_init(&a, dp_question_find("effect"), DP_FRONT_SQL), 0);
	refused(dp_ask_check(&a), "hyp", "hyp is required");
	dp_ask_free(&a);
	ck_assert_int_eq(dp_ask_init(&a, dp_question_find("curve"), DP_FRONT_CLI), 0);
	refused(dp_ask_check(&a), "task", "TASK is required");
	dp_ask_free(&a);
}
END_TEST

START_TEST(test_subject_lifetime)
{
	refused(dp_ask_set(&ask, "count", "x"), "count", "count: ");
	/* Any other failure, and a success that clears the detail, clear it. */
	dp_error(DNNPROV_EIO, "elsewhere");
	ck_assert_str_eq(dnnprov_errsubject(), "");
	refused(dp_ask_set(&ask, "ratio", "x"), "ratio", "ratio");
	dp_error_clear();
	ck_assert_str_eq(dnnprov_errsubject(), "");
	ck_assert_str_eq(dnnprov_errmsg(), "");
}
END_TEST

/* ---- the declarations ---------------------------------------------------------------------------- */

START_TEST(test_declarations)
{
	ck_assert_int_ge(dp_question_count(), 11);
	for (size_t q = 0; q < dp_question_count(); q++) {
		const dp_question *qn = dp_question_at(q);
		ck_assert_ptr_eq(dp_question_find(qn->name), qn);
		ck_assert_msg(qn->summary && *qn->summary && qn->description && *qn->description, "%s", qn->name);
		ck_assert_msg(qn->opts_size >= sizeof(dp_qopts) && qn->answer, "%s", qn->name);
		dp_ask a;
		ck_assert_msg(dp_ask_init(&a, qn, DP_FRONT_CLI) == 0, "%s: a default it refuses: %s", qn->name,
			      dnnprov_errmsg());
		dp_ask_free(&a);
		for (size_t i = 0; i < qn->nparams; i++) {
			const dp_param *p = &qn->params[i];
			ck_assert_msg(p->help && *p->help && p->fronts, "%s %s", qn->name, p->name);
			ck_assert_msg(p->offset < qn->opts_size, "%s %s: outside its options", qn->name, p->name);
			ck_assert_msg(!p->positional || p->arg, "%s %s", qn->name, p->name);
			ck_assert_msg((p->type != DP_PT_CHOICE) == !p->choices, "%s %s", qn->name, p->name);
			ck_assert_msg(p->type != DP_PT_INT && p->type != DP_PT_REAL ? 1 : p->min <= p->max, "%s %s",
				      qn->name, p->name);
			ck_assert_msg(p->type != DP_PT_INT || p->min >= 0, "%s %s: a count", qn->name, p->name);
			ck_assert_msg((p->type == DP_PT_DURATION) == (p->unit != NULL), "%s %s", qn->name, p->name);
			for (const char *c = p->name; *c; c++)
				ck_assert_msg((*c >= 'a' && *c <= 'z') || *c == '_', "%s %s", qn->name, p->name);
			for (size_t k = 0; k < i; k++) {
				ck_assert_msg(strcmp(qn->params[k].name, p->name) != 0, "%s: %s twice", qn->name, p->name);
				ck_assert_msg(!p->short_name || qn->params[k].short_name != p->short_name, "%s: -%c twice",
					      qn->name, p->short_name);
			}
			/* The command line's own letters are taken. */
			ck_assert_msg(!p->short_name || !strchr("cfh", p->short_name), "%s %s", qn->name, p->name);
		}
	}
	ck_assert_ptr_null(dp_question_find("nosuch"));
	ck_assert_ptr_null(dp_question_find(NULL));
	dp_buf b = { 0 };
	ck_assert_int_eq(dp_registry_json(&b), 0);
	ck_assert(strncmp(dp_buf_cstr(&b), "{\"questions\": [", 15) == 0);
	ck_assert_ptr_nonnull(strstr(dp_buf_cstr(&b), "\"http_name\": \"df\""));
	dp_buf_free(&b);
}
END_TEST

/* ---- --where: the parser and the evaluator ------------------------------------------------
 * Over a dataflow made here (no index: the conditions below read no
 * metric), with tasks whose values are missing, text, exact integers and
 * reals. */

static dp_qspec_hyp where_hyps[] = { { "LEARNING_RATE", "numeric" }, { "OPTIMIZER_NAME", "text" },
				     { "BATCH_SIZE", "numeric" } };
static const char *where_metrics[] = { "loss", "val_accuracy" };
static dp_qhyp hyps_a[] = { { "LEARNING_RATE", { .type = QV_NUM, .num = 0.01 } },
			    { "OPTIMIZER_NAME", { .type = QV_TEXT, .text = "Adam" } },
			    { "BATCH_SIZE", { .type = QV_NUM, .integer = true, .i = 9007199254740993, .num = 9007199254740992.0 } } };
static dp_qhyp hyps_b[] = { { "LEARNING_RATE", { .type = QV_NUM, .num = 0.1 } },
			    { "OPTIMIZER_NAME", { .type = QV_TEXT, .text = "SGD" } } };
static dp_qtask where_tasks[] = {
	{ .id = "a", .status = "FINISHED", .epochs = 10, .hyps = hyps_a, .nhyps = 3, .start = 100, .end = 160 },
	{ .id = "b", .status = "RUNNING", .epochs = 3, .hyps = hyps_b, .nhyps = 2, .start = 200 },
};

static dp_qdataflow where_df(void)
{
	dp_qdataflow d = { .name = "df", .hyps = where_hyps, .nhyps = 3, .metrics = where_metrics, .nmetrics = 2,
			   .tasks = where_tasks, .ntasks = 2 };
	for (size_t i = 0; i < 2; i++)
		where_tasks[i].end = i ? NAN : 160, where_tasks[i].last = NAN;
	return d;
}

/* Which tasks match: "ab", "a", "b" or "". */
static const char *matching(const char *expr)
{
	static char out[4];
	dp_qdataflow d = where_df();
	dp_where *w;
	int rc = dp_where_compile(expr, &d, &w);
	ck_assert_msg(rc == 0, "%s: %s", expr, dnnprov_errmsg());
	size_t n = 0;
	for (size_t i = 0; i < d.ntasks; i++)
		if (dp_where_match(w, NULL, &d, &d.tasks[i]))
			out[n++] = d.tasks[i].id[0];
	out[n] = '\0';
	dp_where_free(w);
	return out;
}

static const struct {
	const char *expr, *match;
} where_cases[] = {
	{ "LEARNING_RATE < 0.05", "a" },
	{ "learning_rate >= 0.01 and epochs > 5", "a" },
	{ "OPTIMIZER_NAME = 'adam'", "a" },               /* text equality ignores ASCII case */
	{ "OPTIMIZER_NAME like 's%'", "b" },
	{ "OPTIMIZER_NAME not in ('Adam', 'RMSprop')", "b" },
	{ "status in ('RUNNING') or epochs = 10", "ab" },
	{ "epochs > 5 or epochs < 5 and status = 'FINISHED'", "a" }, /* and binds first */
	{ "(epochs > 5 or epochs < 5) and status = 'FINISHED'", "a" },
	{ "LEARNING_RATE * 10 = 1", "b" },                 /* arithmetic on doubles */
	{ "epochs / 0 = 1 or not (epochs / 0 = 1)", "" },  /* division by zero is unknown, and not keeps it */
	{ "BATCH_SIZE = 9007199254740993", "a" },          /* integers stay exact past 2^53 */
	{ "BATCH_SIZE = 9007199254740992", "" },
	{ "BATCH_SIZE > 0 or not (BATCH_SIZE > 0)", "a" }, /* b lacks it: unknown either way */
	{ "end - start = 60", "a" },
	{ "task = 'b' and -epochs = -3", "b" },
};

START_TEST(test_where_eval)
{
	const char *expr = where_cases[_i].expr;
	ck_assert_msg(strcmp(matching(expr), where_cases[_i].match) == 0, "%s: matched '%s', want '%s'", expr,
		      matching(expr), where_cases[_i].match);
}
END_TEST

static const struct {
	const char *expr, *why;
	int caret; /* the column of the caret, or -1 */
} where_errors[] = {
	{ "LEARNIN_RATE > 1", "unknown", 0 },
	{ "LEARNING_RATE > 'x'", "different types", -1 },
	{ "(epochs > 1) + 1 > 0", "expected a value here, not a condition", 0 },
	{ "epochs", "the condition ends too soon", -1 },
	{ "epochs > 1 epochs < 2", "unexpected text after the condition", 11 },
	{ "OPTIMIZER_NAME = 'Adam", "unterminated text", 17 },
	{ "`BATCH SIZE > 1", "unterminated `name`", 0 },
};

START_TEST(test_where_errors)
{
	dp_qdataflow d = where_df();
	dp_where *w = NULL;
	const char *expr = where_errors[_i].expr;
	int rc = dp_where_compile(expr, &d, &w);
	ck_assert_int_eq(rc, DNNPROV_EQUERY);
	ck_assert_ptr_null(w);
	const char *msg = dnnprov_errmsg();
	ck_assert_msg(strstr(msg, where_errors[_i].why), "%s: %s", expr, msg);
	ck_assert_str_eq(dnnprov_errsubject(), "where");
	ck_assert_msg(strstr(msg, expr), "the expression is shown: %s", msg);
	if (where_errors[_i].caret >= 0) {
		/* The caret sits under the offending column of the quoted line. */
		const char *line = strstr(msg, expr), *caret = strchr(line, '\n');
		ck_assert_ptr_nonnull(caret);
		ck_assert_msg(caret[1 + 2 + where_errors[_i].caret] == '^', "%s", msg);
	}
}
END_TEST

START_TEST(test_where_unknown_name_lists_names)
{
	dp_qdataflow d = where_df();
	dp_where *w;
	ck_assert_int_eq(dp_where_compile("dropout > 0.5", &d, &w), DNNPROV_EQUERY);
	ck_assert_ptr_nonnull(strstr(dnnprov_errmsg(), "LEARNING_RATE"));
	ck_assert_ptr_nonnull(strstr(dnnprov_errmsg(), "val_accuracy"));
}
END_TEST

/* ---- rows: one reader per stored value ----------------------------------------------------- */

static msgpack_sbuffer sb;
static msgpack_packer pk;

static void pk_begin(void)
{
	msgpack_sbuffer_clear(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
}

static void pk_str(const char *s)
{
	msgpack_pack_str(&pk, strlen(s));
	msgpack_pack_str_body(&pk, s, strlen(s));
}

static void rows_setup(void)
{
	msgpack_sbuffer_init(&sb);
}

static void rows_teardown(void)
{
	msgpack_sbuffer_destroy(&sb);
}

static MDB_val val_of(void)
{
	return (MDB_val){ sb.size, sb.data };
}

static bool str_is(dp_str s, const char *want)
{
	return s.n == strlen(want) && memcmp(s.p, want, s.n) == 0;
}

START_TEST(test_read_adapt)
{
	dp_key k;
	dp_decoder dec = { 0 };
	dp_adapt_row r;
	dp_key_reset(&k);
	dp_key_cstr(&k, "df");
	dp_key_cstr(&k, "t1");
	dp_key_i64(&k, -3);
	dp_key_cstr(&k, "LEARNING_RATE");
	MDB_val key = dp_key_val(&k);
	pk_begin();
	msgpack_pack_map(&pk, 4);
	pk_str("time");
	msgpack_pack_double(&pk, 12.5);
	pk_str("old");
	msgpack_pack_uint64(&pk, UINT64_MAX); /* past INT64_MAX: kept exact */
	pk_str("new");
	pk_str("cosine");
	pk_str("id");
	msgpack_pack_int64(&pk, 7);
	MDB_val v = val_of();
	ck_assert_int_eq(dp_read_adapt(&dec, &key, &v, &r), 0);
	ck_assert(str_is(r.df, "df") && str_is(r.task, "t1") && str_is(r.hyp, "LEARNING_RATE"));
	ck_assert_int_eq(r.epoch, -3);
	ck_assert(r.time == 12.5);
	ck_assert(r.old_value.type == DP_F_REAL && r.old_value.big && r.old_value.u == UINT64_MAX);
	ck_assert(r.new_value.type == DP_F_TEXT && str_is(r.new_value.s, "cosine"));
	ck_assert(r.id.type == DP_F_INT && r.id.i == 7);

	/* One conversion to a cell: text copied, integers exact. */
	dp_qv cell = { 0 };
	ck_assert_int_eq(dp_copy_field(&cell, &r.new_value), 0);
	ck_assert(cell.type == QV_TEXT && strcmp(cell.text, "cosine") == 0 && cell.text != r.new_value.s.p);
	free((char *)cell.text);
	dp_qv id = dp_qv_number(&r.id);
	ck_assert(id.type == QV_NUM && id.integer && id.i == 7);
	ck_assert(dp_qv_number(&r.new_value).type == QV_NULL);

	/* A key that is no (df, task, epoch, name), bytes that are no map. */
	key.mv_size = 5;
	ck_assert_int_eq(dp_read_adapt(&dec, &key, &v, &r), DNNPROV_ECORRUPT);
	key = dp_key_val(&k);
	v.mv_size = 1;
	ck_assert_int_ne(dp_read_adapt(&dec, &key, &v, &r), 0);
	dp_decoder_free(&dec);
}
END_TEST

START_TEST(test_read_layers_and_elements)
{
	dp_key k;
	dp_decoder dec = { 0 };
	dp_layers_row lr;
	dp_str name, kind;
	dp_field value;
	dp_key_reset(&k);
	dp_key_cstr(&k, "df");
	dp_key_cstr(&k, "t1");
	MDB_val key = dp_key_val(&k);
	pk_begin();
	msgpack_pack_map(&pk, 2);
	pk_str("time");
	msgpack_pack_int64(&pk, 5);
	pk_str("layers");
	msgpack_pack_array(&pk, 3);
	msgpack_pack_map(&pk, 3);
	pk_str("name");
	pk_str("dense");
	pk_str("kind");
	pk_str("activation");
	pk_str("value");
	pk_str("relu");
	msgpack_pack_map(&pk, 1);
	pk_str("kind"); /* no name: malformed, skipped */
	pk_str("dropout");
	msgpack_pack_map(&pk, 2);
	pk_str("name");
	pk_str("drop");
	pk_str("value");
	msgpack_pack_double(&pk, 0.25);
	MDB_val v = val_of();
	ck_assert_int_eq(dp_read_layers(&dec, &key, &v, &lr), 0);
	ck_assert_uint_eq(lr.n, 3);
	ck_assert(lr.time == 5);
	ck_assert(dp_layers_at(&lr, 0, &name, &kind, &value) && str_is(name, "dense") && str_is(kind, "activation") &&
		  value.type == DP_F_TEXT && str_is(value.s, "relu"));
	ck_assert(!dp_layers_at(&lr, 1, &name, &kind, &value));
	ck_assert(dp_layers_at(&lr, 2, &name, &kind, &value) && kind.p == NULL && value.type == DP_F_REAL &&
		  value.d == 0.25);
	ck_assert(!dp_layers_at(&lr, 3, &name, &kind, &value));

	/* An element: (df, transformation, set, task, position) -> its values. */
	dp_element_row er;
	dp_key_reset(&k);
	dp_key_cstr(&k, "df");
	dp_key_cstr(&k, "Dense");
	dp_key_cstr(&k, "iDense");
	dp_key_cstr(&k, "t1");
	dp_key_u64(&k, 42);
	dp_key_u64(&k, 43);
	key = dp_key_val(&k);
	pk_begin();
	msgpack_pack_map(&pk, 2);
	pk_str("time");
	msgpack_pack_double(&pk, 1.5);
	pk_str("values");
	msgpack_pack_map(&pk, 2);
	pk_str("growth");
	msgpack_pack_int64(&pk, -12);
	pk_str("path");
	pk_str("/data");
	v = val_of();
	ck_assert_int_eq(dp_read_element(&dec, &key, &v, &er), 0);
	ck_assert(str_is(er.transformation, "Dense") && str_is(er.set, "iDense") && str_is(er.task, "t1"));
	ck_assert_uint_eq(dp_rmap_size(er.values), 2);
	dp_field g = dp_rmap_get(er.values, "growth");
	ck_assert(g.type == DP_F_INT && g.i == -12);
	ck_assert(dp_rmap_get(er.values, "missing").type == DP_F_NULL);
	ck_assert(dp_rmap_at(er.values, 1, &name, &value) && str_is(name, "path") && str_is(value.s, "/data"));
	dp_decoder_free(&dec);
}
END_TEST

/* A map read in place (raw bytes) gives what the decoded one gives: the
 * one scalar reader of logger/mpack.c behind both. */
START_TEST(test_raw_maps_match_decoded)
{
	pk_begin();
	msgpack_pack_map(&pk, 9);
	const char *names[] = { "i8", "i64", "u64", "big", "f32", "f64", "t", "nil", "arr" };
	pk_str(names[0]);
	msgpack_pack_int8(&pk, -100);
	pk_str(names[1]);
	msgpack_pack_int64(&pk, INT64_MIN);
	pk_str(names[2]);
	msgpack_pack_uint64(&pk, (uint64_t)INT64_MAX);
	pk_str(names[3]);
	msgpack_pack_uint64(&pk, (uint64_t)INT64_MAX + 1);
	pk_str(names[4]);
	msgpack_pack_float(&pk, 0.5f);
	pk_str(names[5]);
	msgpack_pack_double(&pk, -0.1);
	pk_str(names[6]);
	pk_str("text");
	pk_str(names[7]);
	msgpack_pack_nil(&pk);
	pk_str(names[8]);
	msgpack_pack_array(&pk, 1);
	msgpack_pack_int8(&pk, 1);
	dp_decoder dec = { 0 };
	msgpack_object o;
	ck_assert_int_eq(dp_decode(&dec, (const unsigned char *)sb.data, sb.size, &o), 0);
	dp_rmap raw = { .raw = (const unsigned char *)sb.data, .rawlen = sb.size }, obj = { .obj = &o };
	ck_assert_uint_eq(dp_rmap_size(raw), 9);
	ck_assert_uint_eq(dp_rmap_size(obj), 9);
	for (size_t i = 0; i < 9; i++) {
		dp_field a = dp_rmap_get(raw, names[i]), b = dp_rmap_get(obj, names[i]);
		ck_assert_msg(a.type == b.type && a.i == b.i && a.big == b.big && a.u == b.u &&
				      (a.d == b.d || (isnan(a.d) && isnan(b.d))) && a.s.n == b.s.n,
			      "%s differs", names[i]);
	}
	ck_assert(dp_rmap_get(raw, "i64").i == INT64_MIN);
	ck_assert(dp_rmap_get(raw, "big").big && dp_rmap_get(raw, "big").u == (uint64_t)INT64_MAX + 1);
	ck_assert(dp_rmap_get(raw, "arr").type == DP_F_NULL);
	/* Bytes cut short: no entry, no read past them. */
	dp_rmap cut = { .raw = (const unsigned char *)sb.data, .rawlen = sb.size - 3 };
	ck_assert(dp_rmap_get(cut, "arr").type == DP_F_NULL);
	dp_decoder_free(&dec);
}
END_TEST

START_TEST(test_values_order)
{
	/* An integer against a real, exactly; NaN after every number. */
	dp_qv big = dp_qv_int(9007199254740993), real = dp_qv_real(9007199254740992.0), nan = dp_qv_real(NAN);
	ck_assert_int_gt(dp_qv_cmp_num(&big, &real), 0);
	ck_assert_int_lt(dp_qv_cmp_num(&real, &big), 0);
	ck_assert_int_gt(dp_qv_cmp_num(&nan, &big), 0);
	ck_assert_int_eq(dp_qv_cmp_num(&nan, &nan), 0);
	dp_qv max = dp_qv_int(INT64_MAX), two63 = dp_qv_real(9223372036854775808.0);
	ck_assert_int_lt(dp_qv_cmp_num(&max, &two63), 0);
	dp_qv min = dp_qv_int(INT64_MIN), below = dp_qv_real(-9223372036854777856.0);
	ck_assert_int_gt(dp_qv_cmp_num(&min, &below), 0);
}
END_TEST

/* A question's own members of the JSON answer come after "about" and
 * before "rows" (describe's "model"). */
START_TEST(test_json_member)
{
	dp_table t;
	char *text = NULL;
	size_t n = 0;
	ck_assert_int_eq(dp_table_init(&t, 1), 0);
	dp_table_set_col(&t, 0, "kind", COL_TEXT);
	dp_set_text(dp_table_add_row(&t), "x");
	dp_table_json_member(&t, "model", "{\"a\": 1}", 8);
	FILE *f = open_memstream(&text, &n);
	ck_assert_int_eq(dp_table_write(&t, FMT_JSON, f, 0, NULL), 0);
	fclose(f);
	const char *m = strstr(text, "\"model\": {\"a\": 1}"), *rows = strstr(text, "\"rows\"");
	ck_assert_msg(m && rows && m < rows && strstr(text, "\"kinds\"") < m, "%s", text);
	free(text);
	/* Only JSON carries it. */
	f = open_memstream(&text, &n);
	ck_assert_int_eq(dp_table_write(&t, FMT_CSV, f, 0, NULL), 0);
	fclose(f);
	ck_assert_ptr_null(strstr(text, "model"));
	free(text);
	dp_table_free(&t);
}
END_TEST

/* ---- where two curves part ---------------------------------------------------------------------- */

/* A flat curve that wobbles by 0.02 from one epoch to the next. */
static double wobble(size_t i)
{
	return 0.5 + (i % 2 ? 0.01 : -0.01);
}

START_TEST(test_parting)
{
	double a[20], b[20], noise;
	for (size_t i = 0; i < 20; i++)
		a[i] = b[i] = wobble(i);
	/* The same curves never part. */
	ck_assert_uint_eq(dp_curves_part(a, b, 20, &noise), 20);
	ck_assert(isnan(noise));
	/* A gap of 0.05, within 3 x 0.02 of noise, does not part. */
	for (size_t i = 0; i < 20; i++)
		b[i] = a[i] + 0.05;
	ck_assert_uint_eq(dp_curves_part(a, b, 20, &noise), 20);
	/* From the 7th epoch (index 6) a gap of 0.2, held: parts there. */
	for (size_t i = 0; i < 20; i++)
		b[i] = a[i] - (i >= 6 ? 0.2 : 0);
	ck_assert_uint_eq(dp_curves_part(a, b, 20, &noise), 6);
	ck_assert_msg(fabs(noise - 0.02) < 1e-9, "noise %g", noise);
	/* A gap held for two epochs only is noise too: it parts at the next
	 * one that holds. */
	b[6] = b[7] = a[6] - 0.2;
	b[6] = a[6] - 0.2, b[7] = a[7] - 0.2, b[8] = a[8], b[9] = a[9];
	ck_assert_uint_eq(dp_curves_part(a, b, 20, &noise), 10);
	/* A held gap at the very end that lasts fewer than 3 epochs is not a parting. */
	for (size_t i = 0; i < 20; i++)
		b[i] = a[i] - (i >= 18 ? 0.2 : 0);
	ck_assert_uint_eq(dp_curves_part(a, b, 20, &noise), 20);
	/* Fewer epochs than the hold: cannot part. */
	ck_assert_uint_eq(dp_curves_part(a, b, 2, &noise), 2);
	/* Constant curves: any gap passes a noise of 0. */
	double c[4] = { 1, 1, 1, 1 }, e[4] = { 1, 1.001, 1.001, 1.001 };
	ck_assert_uint_eq(dp_curves_part(c, e, 4, &noise), 1);
	/* Noise measured near the gap: early, large steps hide a gap that
	 * later, small steps show. */
	double f[16], g[16];
	for (size_t i = 0; i < 16; i++) {
		f[i] = 10.0 / (double)(i + 1) + (i % 2 ? 0.001 : 0);
		g[i] = f[i] + 0.5;
	}
	size_t at = dp_curves_part(f, g, 16, &noise);
	ck_assert_msg(at > 2 && at < 16, "parts at %zu", at);
}
END_TEST

START_TEST(test_metric_bounds)
{
	double lo, hi;
	ck_assert(!dp_metric_bounds(NULL, "val_accuracy", &lo, &hi));
	ck_assert(lo == 0 && hi == 1);
	ck_assert(!dp_metric_bounds(NULL, "top5_acc", &lo, &hi) && lo == 0 && hi == 1);
	ck_assert(!dp_metric_bounds(NULL, "F1", &lo, &hi) && lo == 0 && hi == 1);
	ck_assert(!dp_metric_bounds(NULL, "val_loss", &lo, &hi) && lo == 0 && isinf(hi));
	ck_assert(!dp_metric_bounds(NULL, "reward", &lo, &hi) && isinf(lo) && lo < 0 && isinf(hi));
	/* "accumulated" is no accuracy: a name's parts are compared, not its letters. */
	ck_assert(!dp_metric_bounds(NULL, "accumulated_reward", &lo, &hi) && isinf(hi));
	struct dp_mrange r = { "val_accuracy", 0, 100 };
	dp_qdataflow d = { .model = { .ranges = &r, .nranges = 1 } };
	ck_assert(dp_metric_bounds(&d, "val_accuracy", &lo, &hi) && lo == 0 && hi == 100);
	ck_assert(!dp_metric_bounds(&d, "accuracy", &lo, &hi) && hi == 1);
}
END_TEST

static Suite *query_suite(void)
{
	Suite *s = suite_create("query");
	TCase *tc = tcase_create("parameters");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_int, 0, (int)DP_ARRAY_LEN(int_cases));
	tcase_add_loop_test(tc, test_real, 0, (int)DP_ARRAY_LEN(real_cases));
	tcase_add_test(tc, test_choice);
	tcase_add_test(tc, test_flag);
	tcase_add_test(tc, test_agg);
	tcase_add_test(tc, test_units);
	tcase_add_test(tc, test_texts);
	tcase_add_test(tc, test_spelling);
	tcase_add_test(tc, test_unknown_and_not_offered);
	tcase_add_test(tc, test_twice);
	tcase_add_test(tc, test_defaults_and_required);
	tcase_add_test(tc, test_subject_lifetime);
	suite_add_tcase(s, tc);

	tc = tcase_create("registry");
	tcase_add_test(tc, test_declarations);
	suite_add_tcase(s, tc);

	tc = tcase_create("where");
	tcase_add_loop_test(tc, test_where_eval, 0, (int)DP_ARRAY_LEN(where_cases));
	tcase_add_loop_test(tc, test_where_errors, 0, (int)DP_ARRAY_LEN(where_errors));
	tcase_add_test(tc, test_where_unknown_name_lists_names);
	suite_add_tcase(s, tc);

	tc = tcase_create("rows and values");
	tcase_add_checked_fixture(tc, rows_setup, rows_teardown);
	tcase_add_test(tc, test_read_adapt);
	tcase_add_test(tc, test_read_layers_and_elements);
	tcase_add_test(tc, test_raw_maps_match_decoded);
	tcase_add_test(tc, test_values_order);
	tcase_add_test(tc, test_json_member);
	suite_add_tcase(s, tc);

	tc = tcase_create("answers");
	tcase_add_test(tc, test_parting);
	tcase_add_test(tc, test_metric_bounds);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(query_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed != 0;
}
