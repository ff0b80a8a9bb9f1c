/*
 * fuzz_prov.c - the escaping of the PROV export on arbitrary bytes.  The
 * first byte picks what the rest becomes:
 *   an identifier's local part: only [A-Za-z0-9_-] and %XX, no leading '-',
 *     and decoding the %XX gives the input back (names cannot collide);
 *   a PROV-N string literal's body: valid UTF-8 without NUL, no raw line
 *     break, every '"' escaped, so the literal cannot end early or span
 *     lines (other control characters may stay raw: the grammar allows
 *     them, and python3-prov writes them so).
 * (JSON strings have their own harness, fuzz_json.)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "query/prov.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static void check_id(const uint8_t *s, size_t n, const dp_buf *b)
{
	size_t at = 0;
	if (b->len && b->data[0] == '-')
		abort(); /* PROV-N local names do not start with '-' */
	for (size_t i = 0; i < b->len; i++) {
		char c = b->data[i];
		int byte;
		if (c == '%') {
			if (i + 2 >= b->len)
				abort();
			int hi = hexval(b->data[i + 1]), lo = hexval(b->data[i + 2]);
			if (hi < 0 || lo < 0)
				abort();
			byte = hi * 16 + lo;
			i += 2;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
			   c == '-') {
			byte = (unsigned char)c;
		} else {
			abort(); /* a character a local name cannot hold */
		}
		if (at >= n || s[at++] != byte)
			abort(); /* does not decode to the input */
	}
	if (at != n)
		abort();
}

static void check_literal(const dp_buf *b)
{
	if (b->len && !dp_utf8_valid(b->data, b->len))
		abort();
	for (size_t i = 0; i < b->len; i++) {
		char c = b->data[i];
		if (c == '\n' || c == '\r')
			abort(); /* a raw line break */
		if (c == '\\') {
			if (i + 1 >= b->len || !strchr("\"\\nrt", b->data[i + 1]))
				abort(); /* an escape PROV-N does not know, or a dangling one */
			i++;
		} else if (c == '"') {
			abort(); /* the literal would end here */
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	dp_buf b = { 0 };
	if (size < 1)
		return 0;
	bool as_id = data[0] & 1;
	if (dp_prov_escape(DP_PROV_N, as_id, (const char *)data + 1, size - 1, &b) == 0) {
		if (as_id)
			check_id(data + 1, size - 1, &b);
		else
			check_literal(&b);
	}
	dp_buf_free(&b);
	return 0;
}
