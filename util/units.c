/*
 * units.c - the values of options as people write them: sizes, durations,
 * counts and addresses, in the experiment file and on the command line.
 *
 * `segment_size: 64MiB`, `--older-than 7d` and `--listen [::1]:8642` read
 * better than byte, second and address counts, but every such string is a
 * chance to overflow or to mean something else than was written (strtod
 * takes "1e-300", "inf", "0x10" and " 5"; strtol wraps "-1").  So each kind
 * has one small, exact grammar, here, used by every caller that takes a
 * value of that kind; anything else is DNNPROV_EINVAL with a detail that
 * quotes the input.  The grammars are in docs/CONFIG.md ("Sizes and
 * durations").
 *
 * Sizes and the experiment file's durations are whole numbers: "1.5GiB"
 * and "0.5s" would need rounding rules for results that are not whole
 * bytes or milliseconds; "1536MiB" and "500ms" say the same without one.
 * Durations on the command line take a decimal fraction ("0.5" days), as
 * they always have, and are returned in seconds.
 */
#include <assert.h>
#include <arpa/inet.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "util/util.h"

struct unit {
	const char *name;
	uint64_t factor;
};

#define KIB (UINT64_C(1) << 10)
#define MIB (UINT64_C(1) << 20)
#define GIB (UINT64_C(1) << 30)
#define TIB (UINT64_C(1) << 40)

/* Bare K/M/G/T are binary because that is what `ulimit`, `dd` and most
 * people mean by them; KB/MB/... are the SI units they are named after. */
static const struct unit size_units[] = {
	{ "", 1 },    { "b", 1 },
	{ "k", KIB }, { "kb", UINT64_C(1000) },          { "kib", KIB },
	{ "m", MIB }, { "mb", UINT64_C(1000000) },       { "mib", MIB },
	{ "g", GIB }, { "gb", UINT64_C(1000000000) },    { "gib", GIB },
	{ "t", TIB }, { "tb", UINT64_C(1000000000000) }, { "tib", TIB },
};

/* In milliseconds; the unit of a bare number is the caller's.  Days come
 * last: the experiment file's durations stop at hours. */
static const struct unit duration_units[] = {
	{ "ms", 1 }, { "s", 1000 }, { "m", 60 * 1000 }, { "h", 60 * 60 * 1000 }, { "d", 24 * 60 * 60 * 1000 },
};
#define DURATION_UNITS "ms, s, m, h, d"
#define SIZE_UNITS "B, K, KB, KiB, M, MB, MiB, G, GB, GiB, T, TB, TiB"

/* Quoted inputs in details are cut here so one absurd value cannot crowd
 * the position and the key out of the 1 KiB detail buffer. */
#define QUOTE_MAX 64

/* The parts of "<digits>[.<digits>][ *<unit>]": the whole number (false
 * when it passes 64 bits), the fraction's digits and the unit, which is
 * "" only when nothing follows the number (spaces alone are no unit). */
typedef struct number_parts {
	uint64_t whole;
	bool fits;
	const char *frac;
	size_t frac_len;
	const char *unit;
} number_parts;

static int split_number(const char *what, const char *s, const char *expected, number_parts *out)
{
	const char *p = s;

	memset(out, 0, sizeof(*out));
	out->fits = true;
	if (*p < '0' || *p > '9')
		return dp_error(DNNPROV_EINVAL, "'%.*s' is not a %s (expected %s)", QUOTE_MAX, s, what, expected);
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');
		if (out->whole > (UINT64_MAX - d) / 10)
			out->fits = false;
		else
			out->whole = out->whole * 10 + d;
	}
	if (*p == '.' && p[1] >= '0' && p[1] <= '9') {
		out->frac = ++p;
		while (*p >= '0' && *p <= '9')
			p++;
		out->frac_len = (size_t)(p - out->frac);
	} else if (*p == '.' || *p == ',') {
		return dp_error(DNNPROV_EINVAL, "'%.*s' is not a %s (expected %s)", QUOTE_MAX, s, what, expected);
	}
	const char *spaces = p;
	while (*p == ' ')
		p++;
	if (!*p && p != spaces) /* trailing spaces */
		return dp_error(DNNPROV_EINVAL, "'%.*s' is not a %s (expected %s)", QUOTE_MAX, s, what, expected);
	out->unit = p;
	return 0;
}

static const struct unit *find_unit(const struct unit *units, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (dp_strcasecmp(name, units[i].name) == 0)
			return &units[i];
	return NULL;
}

/* A whole number of `what` with a unit of units[0..nunits) (`bare` when
 * none is written), times the unit's factor. */
static int parse_whole(const char *what, const char *s, const struct unit *units, size_t nunits,
		       const struct unit *bare, const char *unit_list, uint64_t *out)
{
	char expected[192];
	number_parts n;
	int rc;

	if (!s || !out)
		return dp_error(DNNPROV_EINVAL, "%s: no value given", what);
	snprintf(expected, sizeof(expected), "digits and an optional unit: %s", unit_list);
	if ((rc = split_number(what, s, expected, &n)))
		return rc;
	if (n.frac)
		return dp_error(DNNPROV_EINVAL, "%s '%.*s' is not a whole number; write it in a smaller unit", what,
				QUOTE_MAX, s);
	const struct unit *u = *n.unit ? find_unit(units, nunits, n.unit) : bare;
	if (!u)
		return dp_error(DNNPROV_EINVAL, "%s '%.*s' has an unknown unit '%.*s' (expected one of: %s)", what,
				QUOTE_MAX, s, QUOTE_MAX, n.unit, unit_list);
	if (!n.fits || n.whole > UINT64_MAX / u->factor)
		return dp_error(DNNPROV_EINVAL, "%s '%.*s' is too large", what, QUOTE_MAX, s);
	assert(u->factor >= 1);
	*out = n.whole * u->factor;
	return 0;
}

int dp_parse_size(const char *s, uint64_t *out)
{
	return parse_whole("size", s, size_units, DP_ARRAY_LEN(size_units), &size_units[0], SIZE_UNITS, out);
}

int dp_parse_duration_ms(const char *s, uint64_t *out)
{
	/* The file's fields are a millisecond to an hour: no days there. */
	return parse_whole("duration", s, duration_units, DP_ARRAY_LEN(duration_units) - 1, &duration_units[0],
			   "ms, s, m, h; a bare number is milliseconds", out);
}

/* A duration in seconds as the tables above would write it: "100ms",
 * "0.1s", "90s", "24h", "3650d". */
static void format_seconds(double secs, char out[32])
{
	static const struct {
		const char *name;
		double secs;
	} units[] = { { "d", 86400 }, { "h", 3600 }, { "m", 60 }, { "s", 1 } };
	for (size_t i = 0; i < DP_ARRAY_LEN(units); i++)
		if (secs >= units[i].secs && fmod(secs, units[i].secs) == 0) {
			snprintf(out, 32, "%.15g%s", secs / units[i].secs, units[i].name);
			return;
		}
	snprintf(out, 32, secs < 1 && secs > 0 ? "%.15gms" : "%.15gs", secs < 1 && secs > 0 ? secs * 1000 : secs);
}

int dp_parse_duration(const char *s, const char *bare_unit, double min_s, double max_s, double *seconds)
{
	char expected[160], lo[32], hi[32];
	const struct unit *bare = find_unit(duration_units, DP_ARRAY_LEN(duration_units), bare_unit ? bare_unit : "");
	number_parts n;
	int rc;

	if (!bare)
		return dp_error(DNNPROV_EINVAL, "duration: unknown unit '%s' for a bare number", bare_unit ? bare_unit : "");
	if (!s || !seconds)
		return dp_error(DNNPROV_EINVAL, "duration: no value given");
	snprintf(expected, sizeof(expected), "digits, an optional fraction and an optional unit: %s; a bare number is %s",
		 DURATION_UNITS, strcmp(bare->name, "d") == 0 ? "days" : strcmp(bare->name, "h") == 0 ? "hours"
				 : strcmp(bare->name, "m") == 0 ? "minutes" : strcmp(bare->name, "s") == 0 ? "seconds"
				 : "milliseconds");
	if ((rc = split_number("duration", s, expected, &n)))
		return rc;
	const struct unit *u = *n.unit ? find_unit(duration_units, DP_ARRAY_LEN(duration_units), n.unit) : bare;
	if (!u)
		return dp_error(DNNPROV_EINVAL, "duration '%.*s' has an unknown unit '%.*s' (expected %s)", QUOTE_MAX, s,
				QUOTE_MAX, n.unit, expected);
	/* Whole milliseconds are exact in a double up to 2^53; past the
	 * largest range any caller has, the value is out of range anyway. */
	double v = n.fits ? (double)n.whole : INFINITY;
	double scale = 0.1;
	for (size_t i = 0; i < n.frac_len && i < 17; i++, scale /= 10)
		v += (n.frac[i] - '0') * scale;
	v = v * (double)u->factor / 1000.0;
	format_seconds(min_s, lo);
	format_seconds(max_s, hi);
	if (!(v >= min_s && v <= max_s))
		return dp_error(DNNPROV_EINVAL, "duration '%.*s' is out of range (%s to %s)", QUOTE_MAX, s, lo, hi);
	assert(!isnan(v)); /* NaN is in no range */
	*seconds = v;
	return 0;
}

int dp_parse_count(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	number_parts n;
	int rc;

	if (!s || !out)
		return dp_error(DNNPROV_EINVAL, "number: no value given");
	if ((rc = split_number("whole number", s, "decimal digits", &n)))
		return rc;
	if (n.frac || *n.unit)
		return dp_error(DNNPROV_EINVAL, "'%.*s' is not a whole number (expected decimal digits)", QUOTE_MAX, s);
	if (!n.fits || n.whole < min || n.whole > max)
		return dp_error(DNNPROV_EINVAL, "'%.*s' is out of range (%ju to %ju)", QUOTE_MAX, s, (uintmax_t)min,
				(uintmax_t)max);
	assert(min <= n.whole && n.whole <= max);
	*out = n.whole;
	return 0;
}

/* A port: 0 to 65535, decimal digits only. */
static bool parse_port(const char *s, unsigned *port)
{
	uint64_t v;
	if (dp_parse_count(s, 0, 65535, &v))
		return false;
	*port = (unsigned)v;
	return true;
}

int dp_parse_address(const char *s, const char *default_host, dp_address *out)
{
	static const char expected[] = "expected A.B.C.D:PORT, [IPv6]:PORT, :PORT or PORT";
	const char *port;
	size_t hn;

	if (!s || !out)
		return dp_error(DNNPROV_EINVAL, "address: no value given");
	memset(out, 0, sizeof(*out));
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':')
			return dp_error(DNNPROV_EINVAL, "'%.*s' is not an address (%s)", QUOTE_MAX, s, expected);
		hn = (size_t)(close - s - 1);
		port = close + 2;
		out->v6 = true;
		s++;
	} else if ((port = strrchr(s, ':'))) {
		hn = (size_t)(port - s);
		port++;
	} else {
		hn = 0;
		port = s;
	}
	if (hn >= sizeof(out->host))
		return dp_error(DNNPROV_EINVAL, "'%.*s' is not an IP address (%s)", QUOTE_MAX, s, expected);
	if (hn)
		memcpy(out->host, s, hn);
	else
		snprintf(out->host, sizeof(out->host), "%s", default_host ? default_host : "127.0.0.1");
	/* inet_pton takes exactly four dotted decimal parts for IPv4 (no hex,
	 * no octal, no shorthand like "127.1") and the RFC 4291 text forms
	 * for IPv6: a host name or "0x7f000001" is no address. */
	unsigned char bin[16];
	bool v6 = strchr(out->host, ':') != NULL;
	if (v6 && !out->v6 && hn)
		return dp_error(DNNPROV_EINVAL, "'%.*s': write an IPv6 address in brackets, [%s]:PORT", QUOTE_MAX, s,
				out->host);
	if (!v6 && out->v6)
		return dp_error(DNNPROV_EINVAL, "'[%s]': brackets hold an IPv6 address; write A.B.C.D:PORT", out->host);
	if (inet_pton(v6 ? AF_INET6 : AF_INET, out->host, bin) != 1)
		return dp_error(DNNPROV_EINVAL, "'%s' is not an IP address (%s)", out->host, expected);
	out->v6 = v6;
	if (!*port || !parse_port(port, &out->port))
		return dp_error(DNNPROV_EINVAL, "'%.*s' is not a port (0 to 65535)", QUOTE_MAX, port);
	return 0;
}
