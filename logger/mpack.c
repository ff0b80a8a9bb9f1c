/*
 * mpack.c - structural validation of msgpack bytes (see mpack.h for why).
 */
#include "logger/mpack.h"

/* Returns the offset after the object at buf[pos], or 0 on any problem
 * (0 is never a valid end since every object takes at least one byte). */
static size_t skip_object(const unsigned char *buf, size_t len, size_t pos, int depth)
{
	uint64_t count = 0, body = 0;
	bool container = false, map = false;
	unsigned char c;

	if (depth > DP_MP_MAX_DEPTH || pos >= len)
		return 0;
	c = buf[pos++];
	if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3)
		return pos;
	if ((c & 0xe0) == 0xa0) {
		body = c & 0x1f;
	} else if ((c & 0xf0) == 0x80) {
		count = c & 0x0f;
		container = map = true;
	} else if ((c & 0xf0) == 0x90) {
		count = c & 0x0f;
		container = true;
	} else {
		size_t need;
		switch (c) {
		case 0xcc: case 0xd0: need = 1; break;
		case 0xcd: case 0xd1: need = 2; break;
		case 0xce: case 0xd2: case 0xca: need = 4; break;
		case 0xcf: case 0xd3: case 0xcb: need = 8; break;
		case 0xd9: case 0xc4: need = 1; break; /* str8, bin8 */
		case 0xda: case 0xc5: case 0xdc: case 0xde: need = 2; break;
		case 0xdb: case 0xc6: case 0xdd: case 0xdf: need = 4; break;
		case 0xd4: return pos + 2 <= len ? pos + 2 : 0; /* fixext 1: type + 1 */
		case 0xd5: return pos + 3 <= len ? pos + 3 : 0;
		case 0xd6: return pos + 5 <= len ? pos + 5 : 0;
		case 0xd7: return pos + 9 <= len ? pos + 9 : 0;
		case 0xd8: return pos + 17 <= len ? pos + 17 : 0;
		case 0xc7: need = 1; break; /* ext8 */
		case 0xc8: need = 2; break;
		case 0xc9: need = 4; break;
		default: return 0;          /* 0xc1 is never used */
		}
		if (len - pos < need)
			return 0;
		if (c == 0xcc || c == 0xd0 || c == 0xcd || c == 0xd1 || c == 0xce || c == 0xd2 ||
		    c == 0xca || c == 0xcf || c == 0xd3 || c == 0xcb)
			return pos + need;
		uint64_t n = need == 1 ? buf[pos] : need == 2 ? dp_get_be16(buf + pos) : dp_get_be32(buf + pos);
		pos += need;
		if (c == 0xdc || c == 0xdd) {
			count = n;
			container = true;
		} else if (c == 0xde || c == 0xdf) {
			count = n;
			container = map = true;
		} else if (c == 0xc7 || c == 0xc8 || c == 0xc9) {
			body = n + 1; /* the ext type byte */
		} else {
			body = n;
		}
	}
	if (!container)
		return body <= len - pos ? pos + body : 0;
	if (map) {
		if (count > (len - pos) / 2)
			return 0;
		count *= 2;
	} else if (count > len - pos) {
		return 0; /* every element takes at least a byte */
	}
	for (uint64_t i = 0; i < count; i++) {
		pos = skip_object(buf, len, pos, depth + 1);
		if (!pos)
			return 0;
	}
	return pos;
}

size_t dp_mp_skip(const unsigned char *buf, size_t len, size_t pos)
{
	return skip_object(buf, len, pos, 0);
}

bool dp_mp_check(const unsigned char *buf, size_t len)
{
	return len > 0 && skip_object(buf, len, 0, 0) == len;
}
