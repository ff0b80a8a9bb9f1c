/*
 * fuzz_json.c - string escaping for JSON output (cat, query formats) on
 * arbitrary bytes: the result is valid UTF-8, a single JSON string with no
 * raw control character, and Python's json would read it (checked by the
 * structure: quotes and backslashes always escaped).
 */
#include <stdint.h>
#include <stdlib.h>

#include "logger/decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	dp_buf b = { 0 };
	if (dp_json_string(&b, (const char *)data, size) != 0)
		return 0;
	if (b.len < 2 || b.data[0] != '"' || b.data[b.len - 1] != '"' || !dp_utf8_valid(b.data, b.len))
		abort();
	for (size_t i = 1; i + 1 < b.len; i++) {
		unsigned char c = (unsigned char)b.data[i];
		if (c < 0x20 || c == 0x7f)
			abort(); /* a raw control character */
		if (c == '\\')
			i++; /* an escape: skip what it escapes */
		else if (c == '"')
			abort(); /* an unescaped quote ends the string early */
	}
	dp_buf_free(&b);
	return 0;
}
