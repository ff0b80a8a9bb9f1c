/*
 * check_util.c - the bottom layer's parsers and rules, one input at a time:
 * the values of options (sizes, durations, counts, addresses), the rule of
 * names, the terminal's view of text, numbers as the shortest text that
 * reads back.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/query.h"
#include "util/util.h"

/* ------------------------------------------------------------------------
 * Sizes and the experiment file's durations
 * ------------------------------------------------------------------------ */

struct parse_case {
	const char *in;
	int rc;
	uint64_t want;
};

static const struct parse_case size_cases[] = {
	{ "0", 0, 0 },
	{ "4096", 0, 4096 },
	{ "10B", 0, 10 },
	{ "10 b", 0, 10 },
	{ "1k", 0, 1024 },
	{ "1K", 0, 1024 },
	{ "1KB", 0, 1000 },
	{ "1kb", 0, 1000 },
	{ "1KiB", 0, 1024 },
	{ "1M", 0, 1 << 20 },
	{ "1MB", 0, 1000000 },
	{ "64MiB", 0, 64 << 20 },
	{ "64 MiB", 0, 64 << 20 },
	{ "64  mib", 0, 64 << 20 },
	{ "1G", 0, UINT64_C(1) << 30 },
	{ "1GB", 0, 1000000000 },
	{ "1GiB", 0, UINT64_C(1) << 30 },
	{ "1T", 0, UINT64_C(1) << 40 },
	{ "1TB", 0, UINT64_C(1000000000000) },
	{ "1TiB", 0, UINT64_C(1) << 40 },
	{ "007K", 0, 7 * 1024 },
	{ "16777215TiB", 0, UINT64_C(16777215) << 40 },
	{ "18446744073709551615", 0, UINT64_MAX },
	{ "18446744073709551615B", 0, UINT64_MAX },
	{ "16777216TiB", DNNPROV_EINVAL, 0 },
	{ "99999999999999TiB", DNNPROV_EINVAL, 0 },
	{ "18446744073709551616", DNNPROV_EINVAL, 0 },
	{ "18446744073709551615K", DNNPROV_EINVAL, 0 },
	{ "184467440737095516150", DNNPROV_EINVAL, 0 },
	{ "", DNNPROV_EINVAL, 0 },
	{ " 1", DNNPROV_EINVAL, 0 },
	{ "-1", DNNPROV_EINVAL, 0 },
	{ "+1", DNNPROV_EINVAL, 0 },
	{ "1.5G", DNNPROV_EINVAL, 0 },
	{ "1e3", DNNPROV_EINVAL, 0 },
	{ "0x10", DNNPROV_EINVAL, 0 },
	{ "1iB", DNNPROV_EINVAL, 0 },
	{ "1KiBB", DNNPROV_EINVAL, 0 },
	{ "1 K B", DNNPROV_EINVAL, 0 },
	{ "MiB", DNNPROV_EINVAL, 0 },
	{ "1ms", DNNPROV_EINVAL, 0 },
};

static const struct parse_case duration_cases[] = {
	{ "0", 0, 0 },
	{ "1", 0, 1 },
	{ "500", 0, 500 },
	{ "250ms", 0, 250 },
	{ "250 ms", 0, 250 },
	{ "1s", 0, 1000 },
	{ "1S", 0, 1000 },
	{ "2m", 0, 120000 },
	{ "1h", 0, 3600000 },
	{ "18446744073709551615", 0, UINT64_MAX },
	{ "18446744073709551615ms", 0, UINT64_MAX },
	{ "18446744073709551s", 0, UINT64_C(18446744073709551000) },
	{ "18446744073709552s", DNNPROV_EINVAL, 0 },
	{ "99999999999999999h", DNNPROV_EINVAL, 0 },
	{ "18446744073709551616", DNNPROV_EINVAL, 0 },
	{ "", DNNPROV_EINVAL, 0 },
	{ "s", DNNPROV_EINVAL, 0 },
	{ "1d", DNNPROV_EINVAL, 0 },
	{ "1sec", DNNPROV_EINVAL, 0 },
	{ "0.5s", DNNPROV_EINVAL, 0 },
	{ "-1s", DNNPROV_EINVAL, 0 },
	{ "1MiB", DNNPROV_EINVAL, 0 },
};

static void check_parse(const struct parse_case *c, int (*parse)(const char *, uint64_t *))
{
	uint64_t v = 12345;
	int rc = parse(c->in, &v);

	ck_assert_msg(rc == c->rc, "'%s': rc %d (%s)", c->in, rc, dnnprov_errmsg());
	if (rc == 0)
		ck_assert_msg(v == c->want, "'%s': %ju != %ju", c->in, (uintmax_t)v, (uintmax_t)c->want);
	else
		ck_assert_msg(strstr(dnnprov_errmsg(), c->in) != NULL, "'%s': detail '%s'", c->in, dnnprov_errmsg());
}

START_TEST(test_parse_size)
{
	check_parse(&size_cases[_i], dp_parse_size);
}
END_TEST

START_TEST(test_parse_duration)
{
	check_parse(&duration_cases[_i], dp_parse_duration_ms);
}
END_TEST

START_TEST(test_parse_null)
{
	uint64_t v;

	ck_assert_int_eq(dp_parse_size(NULL, &v), DNNPROV_EINVAL);
	ck_assert_int_eq(dp_parse_size("1", NULL), DNNPROV_EINVAL);
	ck_assert_int_eq(dp_parse_duration_ms(NULL, &v), DNNPROV_EINVAL);
}
END_TEST


/* ------------------------------------------------------------------------
 * Durations on the command line: a fraction, a unit, a range
 * ------------------------------------------------------------------------ */

struct cli_duration_case {
	const char *in;
	const char *bare;
	bool ok;
	double want;
};

static const struct cli_duration_case cli_duration_cases[] = {
	{ "7", "d", true, 7 * 86400.0 },
	{ "7d", "d", true, 7 * 86400.0 },
	{ "12h", "d", true, 12 * 3600.0 },
	{ "30m", "d", true, 30 * 60.0 },
	{ "90s", "d", true, 90.0 },
	{ "250ms", "s", true, 0.25 },
	{ "1.5", "d", true, 1.5 * 86400 },
	{ "0.5", "s", true, 0.5 },
	{ "2 h", "s", true, 7200.0 },
	{ "0", "d", true, 0 },
	{ "10", "s", true, 10.0 },
	{ "36500", "d", true, 36500.0 * 86400 },
	/* what strtod took */
	{ "1e-300", "d", false, 0 },
	{ "inf", "d", false, 0 },
	{ "nan", "d", false, 0 },
	{ "1e309", "d", false, 0 },
	{ "0x10", "d", false, 0 },
	{ "9999999999999999999", "d", false, 0 },
	{ " 5", "d", false, 0 },
	{ "5 ", "d", false, 0 },
	{ "+5", "d", false, 0 },
	{ "-5", "d", false, 0 },
	{ "", "d", false, 0 },
	{ ".5", "d", false, 0 },
	{ "5.", "d", false, 0 },
	{ "1,5", "d", false, 0 },
	{ "5x", "d", false, 0 },
	{ "5 days", "d", false, 0 },
	{ "36501", "d", false, 0 },
	{ "99999999999999999999999", "d", false, 0 },
};

START_TEST(test_cli_duration)
{
	const struct cli_duration_case *c = &cli_duration_cases[_i];
	double v = -1;
	int rc = dp_parse_duration(c->in, c->bare, 0, 36500.0 * 86400, &v);

	ck_assert_msg((rc == 0) == c->ok, "'%s': rc %d (%s)", c->in, rc, dnnprov_errmsg());
	if (c->ok)
		ck_assert_msg(fabs(v - c->want) < 1e-9 * (c->want + 1), "'%s': %.17g != %.17g", c->in, v, c->want);
	else
		ck_assert_msg(strstr(dnnprov_errmsg(), c->in) != NULL, "'%s': detail '%s'", c->in, dnnprov_errmsg());
}
END_TEST

START_TEST(test_cli_duration_range)
{
	double v;
	ck_assert_int_eq(dp_parse_duration("0.05", "s", 0.1, 86400, &v), DNNPROV_EINVAL);
	ck_assert_msg(strstr(dnnprov_errmsg(), "out of range (100ms to 1d)"), "%s", dnnprov_errmsg());
	ck_assert_int_eq(dp_parse_duration("2d", "s", 0.1, 86400, &v), DNNPROV_EINVAL);
	ck_assert_int_eq(dp_parse_duration("1d", "s", 0.1, 86400, &v), 0);
	ck_assert_int_eq(dp_parse_duration("5", "x", 0, 10, &v), DNNPROV_EINVAL);
	ck_assert_int_eq(dp_parse_duration(NULL, "s", 0, 10, &v), DNNPROV_EINVAL);
	/* the message says what a bare number is */
	ck_assert_int_eq(dp_parse_duration("1e3", "d", 0, 1e9, &v), DNNPROV_EINVAL);
	ck_assert_msg(strstr(dnnprov_errmsg(), "a bare number is days"), "%s", dnnprov_errmsg());
}
END_TEST

/* ------------------------------------------------------------------------
 * Counts
 * ------------------------------------------------------------------------ */

START_TEST(test_count)
{
	uint64_t v;
	ck_assert_int_eq(dp_parse_count("0", 0, 10, &v), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(dp_parse_count("10", 0, 10, &v), 0);
	ck_assert_uint_eq(v, 10);
	ck_assert_int_eq(dp_parse_count("18446744073709551615", 0, UINT64_MAX, &v), 0);
	ck_assert_uint_eq(v, UINT64_MAX);
	static const char *const bad[] = { "11", "-1", "+1", " 1", "1 ", "0x10", "1e3", "1.0", "", "18446744073709551616", "1k" };
	for (size_t i = 0; i < DP_ARRAY_LEN(bad); i++) {
		ck_assert_msg(dp_parse_count(bad[i], 0, 10, &v) == DNNPROV_EINVAL, "'%s' accepted", bad[i]);
		ck_assert_msg(strstr(dnnprov_errmsg(), bad[i]), "'%s': %s", bad[i], dnnprov_errmsg());
	}
}
END_TEST

/* ------------------------------------------------------------------------
 * Addresses
 * ------------------------------------------------------------------------ */

struct address_case {
	const char *in;
	bool ok;
	const char *host;
	unsigned port;
	bool v6;
};

static const struct address_case address_cases[] = {
	{ "127.0.0.1:8642", true, "127.0.0.1", 8642, false },
	{ "0.0.0.0:0", true, "0.0.0.0", 0, false },
	{ "[::1]:80", true, "::1", 80, true },
	{ "[fe80::1]:65535", true, "fe80::1", 65535, true },
	{ ":9000", true, "127.0.0.1", 9000, false },
	{ "9000", true, "127.0.0.1", 9000, false },
	{ "0x7f000001:0", false, NULL, 0, false },
	{ "127.1:80", false, NULL, 0, false },
	{ "2130706433:80", false, NULL, 0, false },
	{ "127.0.0.01:80", false, NULL, 0, false },
	{ "localhost:80", false, NULL, 0, false },
	{ "1.2.3.4.5:80", false, NULL, 0, false },
	{ "::1:80", false, NULL, 0, false },
	{ "[::1]", false, NULL, 0, false },
	{ "[::1:80", false, NULL, 0, false },
	{ "[127.0.0.1]:80", false, NULL, 0, false },
	{ "127.0.0.1:65536", false, NULL, 0, false },
	{ "127.0.0.1:-1", false, NULL, 0, false },
	{ "127.0.0.1: 80", false, NULL, 0, false },
	{ "127.0.0.1:0x50", false, NULL, 0, false },
	{ "127.0.0.1:", false, NULL, 0, false },
	{ " 127.0.0.1:80", false, NULL, 0, false },
	{ "", false, NULL, 0, false },
};

START_TEST(test_address)
{
	const struct address_case *c = &address_cases[_i];
	dp_address a;
	int rc = dp_parse_address(c->in, NULL, &a);

	ck_assert_msg((rc == 0) == c->ok, "'%s': rc %d (%s)", c->in, rc, dnnprov_errmsg());
	if (!c->ok)
		return;
	ck_assert_str_eq(a.host, c->host);
	ck_assert_uint_eq(a.port, c->port);
	ck_assert_int_eq(a.v6, c->v6);
}
END_TEST

START_TEST(test_address_says_why)
{
	dp_address a;
	ck_assert_int_eq(dp_parse_address("0x7f000001:0", NULL, &a), DNNPROV_EINVAL);
	ck_assert_msg(strstr(dnnprov_errmsg(), "'0x7f000001' is not an IP address"), "%s", dnnprov_errmsg());
	ck_assert_int_eq(dp_parse_address("127.0.0.1:99999", NULL, &a), DNNPROV_EINVAL);
	ck_assert_msg(strstr(dnnprov_errmsg(), "'99999' is not a port"), "%s", dnnprov_errmsg());
}
END_TEST

/* ------------------------------------------------------------------------
 * The rule of names
 * ------------------------------------------------------------------------ */

START_TEST(test_names)
{
	static const char *const good[] = { "loss", "val_accuracy", "layers.0.units", "optimizer__lr", "top-5",
					    "idenseblock", "_private", "OPTIMIZER_NAME", "précision", "taux_ß",
					    "損失", "a1.b-2_c" };
	static const char *const bad[] = { "val acc", "a\"b", "a'b", "x;y", "1cycle", "-lr", ".x", "a(b)", "a,b",
					   "a=b", "a`b", "a$b", "a\\b", "a/b", "a\tb", "", "é\xc2\xa0" "x",
					   "q\xe2\x80\x9c" "x", "a\xe2\x80\xae" "b", "a\xef\xbc\x9b", "a\xc2\xab" "b", "a\xee\x80\x80" };
	for (size_t i = 0; i < DP_ARRAY_LEN(good); i++) {
		ck_assert_msg(dp_check_name("metric", good[i]) == 0, "'%s': %s", good[i], dnnprov_errmsg());
		ck_assert(dp_name_valid(good[i], strlen(good[i])));
	}
	for (size_t i = 0; i < DP_ARRAY_LEN(bad); i++) {
		ck_assert_msg(dp_check_name("metric", bad[i]) == DNNPROV_EINVAL, "'%s' accepted", bad[i]);
		ck_assert_msg(strstr(dnnprov_errmsg(), "metric"), "'%s': %s", bad[i], dnnprov_errmsg());
		ck_assert(!dp_name_valid(bad[i], strlen(bad[i])));
	}
	char longest[DNNPROV_NAME_MAX + 2];
	memset(longest, 'a', DNNPROV_NAME_MAX);
	longest[DNNPROV_NAME_MAX] = '\0';
	ck_assert_int_eq(dp_check_name("metric", longest), 0);
	longest[DNNPROV_NAME_MAX] = 'a';
	longest[DNNPROV_NAME_MAX + 1] = '\0';
	ck_assert_int_eq(dp_check_name("metric", longest), DNNPROV_EINVAL);
	char why[96];
	ck_assert_int_eq(dp_name_why("x;y", 3, why, sizeof(why)), 1);
	ck_assert_str_eq(why, "has the character ';' at byte 1");
	ck_assert_int_eq(dp_name_why("val acc", 7, why, sizeof(why)), 1);
	ck_assert_str_eq(why, "has a space at byte 3");
}
END_TEST

/* ------------------------------------------------------------------------
 * Text as a terminal shows it
 * ------------------------------------------------------------------------ */

START_TEST(test_terminal_text)
{
	static const struct {
		const char *in;
		size_t n;
		const char *out;
	} cases[] = {
		{ "plain text", 10, "plain text" },
		{ "a\x1b[31mb", 7, "a\\x1b[31mb" },
		{ "\x1b]0;title\x07", 10, "\\x1b]0;title\\x07" },
		{ "row\r\nfake", 9, "row\\r\\nfake" },
		{ "t\tx\x7f", 4, "t\\tx\\x7f" },
		{ "a\xe2\x80\xae" "b", 5, "a\\u202eb" },
		{ "\xc2\x9b" "31m", 5, "\\u009b31m" },
		{ "\xc2\x85", 2, "\\u0085" },
		{ "\xe2\x81\xa6x\xe2\x80\x8e\xd8\x9c", 9, "\\u2066x\\u200e\\u061c" },
		{ "\xe2\x80\xa8\xef\xbb\xbf", 6, "\\u2028\\ufeff" },
		{ "bad\xff\xfe", 5, "bad\\xff\\xfe" },
		{ "\x9b" "31m", 4, "\\x9b31m" },
		{ "cut\xe2\x80", 5, "cut\\xe2\\x80" },
		{ "\xc0\xaf", 2, "\\xc0\\xaf" },
		{ "nul\0x", 5, "nul\\x00x" },
		{ "é日本 \\n", 11, "é日本 \\n" },
	};
	for (size_t i = 0; i < DP_ARRAY_LEN(cases); i++) {
		dp_buf b = { 0 };
		ck_assert_int_eq(dp_terminal_text(&b, cases[i].in, cases[i].n), 0);
		ck_assert_msg(strcmp(dp_buf_cstr(&b), cases[i].out) == 0, "case %zu: '%s' != '%s'", i, dp_buf_cstr(&b),
			      cases[i].out);
		dp_buf_free(&b);
	}
}
END_TEST

/* ------------------------------------------------------------------------
 * Doubles as text (dtoa.c): the shortest that reads back, laid out as %g
 * ------------------------------------------------------------------------ */

struct dtoa_case {
	double in;
	const char *out;
};

static const struct dtoa_case dtoa_cases[] = {
	/* What "%.15g" printed, kept byte for byte. */
	{ 0.0, "0" },
	{ -0.0, "-0" },
	{ 0.1, "0.1" },
	{ 1.0, "1" },
	{ 100.0, "100" },
	{ 0.0001, "0.0001" },
	{ 1e-5, "1e-05" },
	{ 123456789012345.0, "123456789012345" },
	{ 1e15, "1e+15" },
	{ 1e100, "1e+100" },
	{ 1.5e-300, "1.5e-300" },
	{ -2.5, "-2.5" },
	/* What "%.17g" printed, when 17 digits are the shortest. */
	{ 0.30000000000000004, "0.30000000000000004" },
	{ 1.2345678901234568e17, "1.2345678901234568e+17" },
	{ 1.7976931348623157e308, "1.7976931348623157e+308" },
	{ 2.2250738585072014e-308, "2.2250738585072014e-308" },
	{ 12345678901234568.0, "12345678901234568" },
	/* Shorter than before: 16 digits where "%.17g" gave 17, and
	 * subnormals, whose shortest text may have fewer than 15. */
	{ 0.7999999999999999, "0.7999999999999999" },
	{ 1234567890123456.0, "1234567890123456" },
	{ 5e-324, "5e-324" },
	{ 1e-320, "1e-320" },
};

START_TEST(test_dtoa_cases)
{
	char out[DP_DTOA_MAX];
	size_t n = dp_dtoa(dtoa_cases[_i].in, out);
	ck_assert_str_eq(out, dtoa_cases[_i].out);
	ck_assert_uint_eq(n, strlen(out));
}
END_TEST

/* The significant digits of a decimal's text, trailing zeros removed. */
static size_t dtoa_digits(const char *s, char *d)
{
	size_t k = 0;
	bool lead = true;
	for (; *s && *s != 'e'; s++) {
		if (*s < '0' || *s > '9' || (*s == '0' && lead))
			continue;
		lead = false;
		d[k++] = *s;
	}
	while (k > 1 && d[k - 1] == '0')
		k--;
	d[k] = '\0';
	return k;
}

/* d's text reads back as d, has no more digits than the fewest that
 * printf's %.Ng needs to read back, and where it has as many, the same
 * digits (the nearest); up to 15 digits it is "%.15g" exactly, outside the
 * subnormals. */
static void dtoa_check(double d)
{
	char out[DP_DTOA_MAX], ref[64], want[32], got[32];
	int p;
	if (!isfinite(d))
		return;
	dp_dtoa(d, out);
	double back = strtod(out, NULL);
	ck_assert_msg(memcmp(&back, &d, sizeof(d)) == 0, "%a printed as %s, which reads back as %a", d, out, back);
	for (p = 1; p < 17; p++) {
		snprintf(ref, sizeof(ref), "%.*g", p, d);
		if (strtod(ref, NULL) == d)
			break;
	}
	snprintf(ref, sizeof(ref), "%.*g", p, d);
	size_t n = dtoa_digits(out, got), m = dtoa_digits(ref, want);
	ck_assert_msg(n <= m, "%a printed as %s, but %s reads back too", d, out, ref);
	ck_assert_msg(n < m || strcmp(got, want) == 0, "%a printed as %s, nearer is %s", d, out, ref);
	if (n <= 15 && fpclassify(d) == FP_NORMAL) {
		snprintf(ref, sizeof(ref), "%.15g", d);
		ck_assert_msg(strcmp(out, ref) == 0, "%a printed as %s, not as %%.15g: %s", d, out, ref);
	}
}

static uint64_t dtoa_random(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Every binary exponent a double has (so every entry of the table of
 * powers of five is used), with the smallest, largest and random
 * mantissas, both signs; then random bit patterns and short decimals. */
START_TEST(test_dtoa_every_exponent)
{
	uint64_t seed = 88172645463325252ull;
	for (uint64_t e = 0; e < 2047; e++)
		for (int k = 0; k < 12; k++) {
			uint64_t m = k == 0 ? 0 : k == 1 ? 1 : k == 2 ? (1ull << 52) - 1 : dtoa_random(&seed) >> 12;
			uint64_t bits = e << 52 | m;
			double d;
			memcpy(&d, &bits, sizeof(d));
			dtoa_check(d);
			dtoa_check(-d);
		}
	for (int i = 0; i < 40000; i++) {
		uint64_t bits = dtoa_random(&seed);
		double d;
		char text[64];
		memcpy(&d, &bits, sizeof(d));
		dtoa_check(d);
		snprintf(text, sizeof(text), "%llue%d", (unsigned long long)(dtoa_random(&seed) % 100000000),
			 (int)(dtoa_random(&seed) % 40) - 20);
		dtoa_check(strtod(text, NULL));
	}
}
END_TEST

static Suite *util_suite(void)
{
	Suite *s = suite_create("util");
	TCase *tc = tcase_create("units");
	tcase_add_loop_test(tc, test_parse_size, 0, (int)DP_ARRAY_LEN(size_cases));
	tcase_add_loop_test(tc, test_parse_duration, 0, (int)DP_ARRAY_LEN(duration_cases));
	tcase_add_test(tc, test_parse_null);
	tcase_add_loop_test(tc, test_cli_duration, 0, (int)DP_ARRAY_LEN(cli_duration_cases));
	tcase_add_test(tc, test_cli_duration_range);
	tcase_add_test(tc, test_count);
	tcase_add_loop_test(tc, test_address, 0, (int)DP_ARRAY_LEN(address_cases));
	tcase_add_test(tc, test_address_says_why);
	suite_add_tcase(s, tc);

	tc = tcase_create("text");
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_terminal_text);
	suite_add_tcase(s, tc);

	tc = tcase_create("dtoa");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_dtoa_cases, 0, (int)DP_ARRAY_LEN(dtoa_cases));
	tcase_add_test(tc, test_dtoa_every_exponent);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(util_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed != 0;
}
