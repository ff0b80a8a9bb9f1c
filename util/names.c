/*
 * names.c - validation of tags and names.
 *
 * Tags become folder names (<log_dir>/<dataflow>/<task>) and index keys, so
 * a hostile tag must not escape the log directory, hide in a terminal or
 * make two different names look alike to the file system.
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "util/util.h"

bool dp_utf8_valid(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		size_t len;
		uint32_t cp;

		if (c == 0)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xE0) == 0xC0) {
			len = 2;
			cp = c & 0x1F;
		} else if ((c & 0xF0) == 0xE0) {
			len = 3;
			cp = c & 0x0F;
		} else if ((c & 0xF8) == 0xF0) {
			len = 4;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (n - i < len)
			return false;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		/* Overlong forms, surrogates and values past Unicode. */
		if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
		    (len == 4 && cp < 0x10000) || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += len;
	}
	return true;
}

/* Code points that are invisible or move the text around them when a
 * terminal shows a name: C1 controls (U+0085 is a line break, U+009B opens
 * an escape sequence like ESC [), bidirectional controls (U+202E prints
 * what follows backwards), line and paragraph separators, and the
 * zero-width space and no-break space.  A name holding one could pass for
 * another in a table; refused rather than escaped on output, so that a
 * name reads the same in the logs, the index, PROV and every format. */
static bool hides(uint32_t cp)
{
	return (cp >= 0x80 && cp <= 0x9F) || cp == 0x061C || cp == 0x200B || cp == 0x200E || cp == 0x200F ||
	       (cp >= 0x2028 && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0xFEFF;
}

bool dp_char_hides(uint32_t cp)
{
	return cp < 0x20 || cp == 0x7F || hides(cp) || (cp >= 0x2060 && cp <= 0x2065);
}

size_t dp_utf8_next(const char *str, size_t n, uint32_t *cp)
{
	const unsigned char *s = (const unsigned char *)str;
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	size_t len = (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3 : (s[0] & 0xF8) == 0xF0 ? 4 : 0;
	if (!len || len > n || !dp_utf8_valid(str, len))
		return 0;
	*cp = s[0] & (len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07);
	for (size_t k = 1; k < len; k++)
		*cp = (*cp << 6) | (s[k] & 0x3F);
	return len;
}

/* The first code point of valid UTF-8 at s[i..n) that hides(), or 0;
 * *at is its byte offset. */
static uint32_t hidden_char(const char *s, size_t n, size_t *at)
{
	uint32_t cp;
	for (size_t i = 0, len; i < n && (len = dp_utf8_next(s + i, n - i, &cp)); i += len)
		if (hides(cp)) {
			*at = i;
			return cp;
		}
	return 0;
}

/* Why s[0..n) is not a valid tag, or NULL when it is; *at is the offending
 * byte for control characters and separators. */
static const char *tag_problem(const char *s, size_t n, size_t *at)
{
	if (n == 0)
		return "is empty";
	if (n > DNNPROV_NAME_MAX)
		return "is too long";
	if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
		return "is not allowed";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		*at = i;
		if (c < 0x20 || c == 0x7F)
			return "has a control character";
		if (c == '/' || c == '\\')
			return "has a path separator";
	}
	if (!dp_utf8_valid(s, n))
		return "is not valid UTF-8";
	if (hidden_char(s, n, at))
		return "has an invisible character";
	return NULL;
}

bool dp_tag_valid(const char *s, size_t n)
{
	size_t at;
	bool valid = tag_problem(s, n, &at) == NULL;
	/* A tag becomes a path component: never a separator, never . or .. */
	assert(!valid || (n >= 1 && n <= DNNPROV_NAME_MAX && !memchr(s, '/', n) && !(n <= 2 && s[0] == '.' && s[n - 1] == '.')));
	return valid;
}

int dp_check_tag(const char *what, const char *s)
{
	const char *why;
	size_t n, at = 0;

	if (!s)
		return dp_error(DNNPROV_EINVAL, "%s is missing", what);
	n = strlen(s);
	why = tag_problem(s, n, &at);
	if (!why)
		return 0;
	if (n > DNNPROV_NAME_MAX)
		return dp_error(DNNPROV_EINVAL, "%s is %zu bytes long; the limit is %d", what, n,
				DNNPROV_NAME_MAX);
	if (strcmp(why, "has a control character") == 0)
		return dp_error(DNNPROV_EINVAL, "%s has a control character (0x%02x) at byte %zu", what,
				(unsigned char)s[at], at);
	if (strcmp(why, "has an invisible character") == 0)
		return dp_error(DNNPROV_EINVAL,
				"%s has a character that hides or reorders text in a terminal (U+%04X) at byte %zu",
				what, (unsigned)hidden_char(s, n, &at), at);
	if (strcmp(why, "has a path separator") == 0)
		return dp_error(DNNPROV_EINVAL, "%s '%s' has a path separator '%c'", what, s, s[at]);
	if (strcmp(why, "is not allowed") == 0)
		return dp_error(DNNPROV_EINVAL, "%s '%s' is not allowed", what, s);
	return dp_error(DNNPROV_EINVAL, "%s %s", what, why);
}

/* ---- names: the identifiers of a dataflow ------------------------------- */

/* Characters beyond ASCII that a name may not hold: besides what hides(),
 * spaces, quotes, brackets and other punctuation of every script, variation
 * selectors, and what no font shows (private use, noncharacters, tag
 * characters).  Letters, marks and digits of other scripts stay names
 * (`précision`, `taux_ß`, `損失`). */
static bool not_in_names(uint32_t cp)
{
	return hides(cp) || (cp >= 0x80 && cp <= 0xBF) || cp == 0xD7 || cp == 0xF7 || cp == 0x034F ||
	       cp == 0x115F || cp == 0x1160 || cp == 0x1680 || cp == 0x17B4 || cp == 0x17B5 ||
	       (cp >= 0x180B && cp <= 0x180F) || (cp >= 0x2000 && cp <= 0x206F) || (cp >= 0x2E00 && cp <= 0x2E7F) ||
	       (cp >= 0x3000 && cp <= 0x3003) || (cp >= 0x3008 && cp <= 0x3011) || (cp >= 0x3014 && cp <= 0x301F) ||
	       cp == 0x3030 || cp == 0x3164 || (cp >= 0xE000 && cp <= 0xF8FF) || (cp >= 0xFE00 && cp <= 0xFE1F) ||
	       (cp >= 0xFE30 && cp <= 0xFE6F) || (cp >= 0xFF00 && cp <= 0xFF0F) || (cp >= 0xFF1A && cp <= 0xFF20) ||
	       (cp >= 0xFF3B && cp <= 0xFF40) || (cp >= 0xFF5B && cp <= 0xFF65) || cp == 0xFFA0 ||
	       (cp >= 0xFFF0 && cp <= 0xFFFF) || (cp & 0xFFFE) == 0xFFFE || (cp >= 0xE0000 && cp <= 0xE0FFF) ||
	       cp >= 0xF0000;
}

static bool ascii_letter(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Why s[0..n) is no name, or NULL; *at is the byte of the first character
 * that is not allowed where it is (a tag's problems come first). */
static const char *name_problem(const char *s, size_t n, size_t *at)
{
	const char *why = tag_problem(s, n, at);
	uint32_t cp;
	if (why)
		return why;
	for (size_t i = 0, len; i < n && (len = dp_utf8_next(s + i, n - i, &cp)); i += len) {
		*at = i;
		if (cp >= 0x80) {
			if (not_in_names(cp))
				return "has a character that names may not hold";
		} else if (!ascii_letter((unsigned char)cp) && cp != '_') {
			bool digit = cp >= '0' && cp <= '9';
			if (i == 0 && (digit || cp == '.' || cp == '-'))
				return "does not start with a letter or '_'";
			if (!digit && cp != '.' && cp != '-')
				return "has a character that names may not hold";
		}
	}
	return NULL;
}

bool dp_name_valid(const char *s, size_t n)
{
	size_t at;
	return name_problem(s, n, &at) == NULL;
}

int dp_name_why(const char *s, size_t n, char *why, size_t cap)
{
	size_t at = 0;
	const char *p = name_problem(s, n, &at);
	if (!p)
		return 0;
	uint32_t cp = 0;
	if (strcmp(p, "has a character that names may not hold") == 0 && dp_utf8_next(s + at, n - at, &cp)) {
		if (cp == ' ')
			snprintf(why, cap, "has a space at byte %zu", at);
		else if (cp > 0x20 && cp < 0x7F)
			snprintf(why, cap, "has the character '%c' at byte %zu", (char)cp, at);
		else
			snprintf(why, cap, "has the character U+%04X at byte %zu", (unsigned)cp, at);
	} else {
		snprintf(why, cap, "%s", p);
	}
	return 1;
}

int dp_check_name(const char *what, const char *s)
{
	char why[96];
	int rc;

	if ((rc = dp_check_tag(what, s)))
		return rc; /* its detail says the most of a tag's problems */
	if (!dp_name_why(s, strlen(s), why, sizeof(why)))
		return 0;
	return dp_error(DNNPROV_EINVAL,
			"%s '%s' %s: a name is letters, digits, '_', '.' and '-', starting with a letter or '_' "
			"(docs/CONFIG.md)",
			what, s, why);
}

int dp_strcasecmp(const char *a, const char *b)
{
	return dp_strncasecmp(a, b, SIZE_MAX);
}

int dp_strncasecmp(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int ca = (unsigned char)a[i], cb = (unsigned char)b[i];
		if (ca >= 'A' && ca <= 'Z')
			ca += 'a' - 'A';
		if (cb >= 'A' && cb <= 'Z')
			cb += 'a' - 'A';
		if (ca != cb || ca == 0)
			return ca - cb;
	}
	return 0;
}
