/*
 * names.c - validation of tags and names.
 *
 * Tags become folder names (<log_dir>/<dataflow>/<task>) and index keys, so
 * a hostile tag must not escape the log directory, hide in a terminal or
 * make two different names look alike to the file system.
 */
#include <stdint.h>
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

/* The first code point of valid UTF-8 at s[i..n) that hides(), or 0;
 * *at is its byte offset. */
static uint32_t hidden_char(const char *str, size_t n, size_t *at)
{
	const unsigned char *s = (const unsigned char *)str;
	for (size_t i = 0; i < n;) {
		uint32_t cp = s[i];
		size_t len = cp < 0x80 ? 1 : cp < 0xE0 ? 2 : cp < 0xF0 ? 3 : 4;
		if (len > 1) {
			cp &= len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07;
			for (size_t k = 1; k < len; k++)
				cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		if (hides(cp)) {
			*at = i;
			return cp;
		}
		i += len;
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
	return tag_problem(s, n, &at) == NULL;
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
