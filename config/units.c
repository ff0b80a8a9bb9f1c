/*
 * units.c - sizes and durations as people write them in a YAML file.
 *
 * `segment_size: 64MiB` and `fsync_interval: 1s` read better than byte and
 * millisecond counts, but every such string is a chance to overflow or to
 * mean something else than was written.  So the grammar is small and
 * exact: a run of decimal digits (no sign, no fraction, no exponent), any
 * number of spaces, and an optional unit from a fixed table, matched
 * without regard to case.  Anything else, and any result that does not fit
 * in 64 bits, is DNNPROV_EINVAL with a detail that quotes the input.
 *
 * Why no fractions: "1.5GiB" and "0.5s" would need rounding rules for
 * results that are not whole bytes or milliseconds; "1536MiB" and "500ms"
 * say the same without one.
 */
#include <stdint.h>
#include <string.h>

#include "config/config.h"

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

/* A bare number is milliseconds, the unit the field is stored in. */
static const struct unit duration_units[] = {
	{ "", 1 }, { "ms", 1 }, { "s", 1000 }, { "m", 60 * 1000 }, { "h", 60 * 60 * 1000 },
};

/* Quoted inputs in details are cut here so one absurd value cannot crowd
 * the position and the key out of the 1 KiB detail buffer. */
#define QUOTE_MAX 64

static int parse_with_units(const char *what, const char *s, const struct unit *units,
			    size_t nunits, const char *unit_list, uint64_t *out)
{
	const char *p = s;
	uint64_t n = 0;

	if (!s || !out)
		return dp_error(DNNPROV_EINVAL, "%s: no value given", what);
	if (*p < '0' || *p > '9')
		return dp_error(DNNPROV_EINVAL,
				"'%.*s' is not a %s (expected digits and an optional unit: %s)",
				QUOTE_MAX, s, what, unit_list);
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');
		if (n > (UINT64_MAX - d) / 10)
			return dp_error(DNNPROV_EINVAL, "%s '%.*s' is too large", what, QUOTE_MAX,
					s);
		n = n * 10 + d;
	}
	if (*p == '.' || *p == ',')
		return dp_error(DNNPROV_EINVAL,
				"%s '%.*s' is not a whole number; write it in a smaller unit", what,
				QUOTE_MAX, s);
	while (*p == ' ')
		p++;
	for (size_t i = 0; i < nunits; i++) {
		if (dp_strcasecmp(p, units[i].name) != 0)
			continue;
		if (units[i].factor != 1 && n > UINT64_MAX / units[i].factor)
			return dp_error(DNNPROV_EINVAL, "%s '%.*s' is too large", what, QUOTE_MAX,
					s);
		*out = n * units[i].factor;
		return 0;
	}
	return dp_error(DNNPROV_EINVAL,
			"%s '%.*s' has an unknown unit '%.*s' (expected one of: %s)", what,
			QUOTE_MAX, s, QUOTE_MAX, p, unit_list);
}

int dp_parse_size(const char *s, uint64_t *out)
{
	return parse_with_units("size", s, size_units, DP_ARRAY_LEN(size_units),
				"B, K, KB, KiB, M, MB, MiB, G, GB, GiB, T, TB, TiB", out);
}

int dp_parse_duration_ms(const char *s, uint64_t *out)
{
	return parse_with_units("duration", s, duration_units, DP_ARRAY_LEN(duration_units),
				"ms, s, m, h; a bare number is milliseconds", out);
}
