/*
 * check_query.c - the registry of questions (query/registry.c): the one
 * parser of parameter values, type by type and at the edges of each
 * range; refusals naming their parameter (dnnprov_errsubject) as the
 * front end spells it; defaults; what each front end is offered; and the
 * declarations themselves (names unique, help everywhere, offsets inside
 * the options); where two curves part (diff's rule), and the natural
 * bounds of a metric.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/registry.h"

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
