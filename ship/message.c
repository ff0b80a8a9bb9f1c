/*
 * message.c - names as subject tokens, and a stream message read into a
 * chunk by the rules of message.h.  No NATS call here: the fuzzer links
 * this file with the library alone.
 */
#include <stdio.h>
#include <string.h>

#include "logger/format.h"
#include "logger/reader.h"
#include "logger/scan.h"
#include "ship/message.h"

/* ---- names ---------------------------------------------------------------------- */

static bool token_byte(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

int dp_subject_token(dp_buf *out, const char *name, size_t n, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	int rc = dp_buf_reserve(out, 3 * n + 1);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (token_byte(c) || (keep_slash && c == '/')) {
			out->data[out->len++] = (char)c;
		} else {
			out->data[out->len++] = '%';
			out->data[out->len++] = hex[c >> 4];
			out->data[out->len++] = hex[c & 15];
		}
	}
	return 0;
}

static int hex_value(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Decodes what dp_subject_token wrote into out[0..cap); false when it is
 * not such an encoding. */
static bool dp_subject_decode(const char *in, char *out, size_t cap)
{
	size_t n = 0;
	for (; *in; in++) {
		int c = (unsigned char)*in;
		if (c == '%') {
			int hi = hex_value(in[1]), lo = hi < 0 ? -1 : hex_value(in[2]);
			if (lo < 0)
				return false;
			c = hi * 16 + lo;
			in += 2;
		} else if (!token_byte((unsigned char)c) && c != '/') {
			return false;
		}
		/* A name never holds a NUL (tags refuse control characters):
		 * decoded, it would cut the name short. */
		if (c == 0 || n + 1 >= cap)
			return false;
		out[n++] = (char)c;
	}
	out[n] = '\0';
	return n > 0;
}

/* ---- reading a message -------------------------------------------------------------- */

const char *dp_ship_quote(const char *v, char *buf, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; v[i]; i++) {
		unsigned char c = (unsigned char)v[i];
		if (n + 8 >= cap) {
			n += (size_t)snprintf(buf + n, cap - n, "...");
			break;
		}
		if (c >= 0x20 && c < 0x7F && c != '\\' && c != '\'')
			buf[n++] = (char)c;
		else
			n += (size_t)snprintf(buf + n, cap - n, "\\x%02X", c);
	}
	buf[n] = '\0';
	return buf;
}

static bool malformed(char *why, size_t n, const char *header, const char *value, const char *what)
{
	char q[112];
	snprintf(why, n, "malformed %s header '%s': %s", header, dp_ship_quote(value, q, sizeof(q)), what);
	return false;
}

/* A decimal number as the shipper writes one (%llu): digits only, no
 * leading zero, at most `max`.  s[0..len). */
static bool parse_number(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	if (len == 0 || len > 20 || (s[0] == '0' && len > 1))
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		unsigned d = (unsigned)(s[i] - '0');
		if (d > max || v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

/* Decodes a segment path and checks that it is one: three valid names, the
 * last a *.dnplog file, spelled as dp_subject_token spells them.  Returns
 * NULL, or why not. */
static const char *segment_path(const char *enc, size_t enc_len, char *out)
{
	char copy[3 * DP_SHIP_NAME_CAP];
	if (enc_len == 0 || enc_len >= sizeof(copy))
		return enc_len ? "too long for a segment path" : "empty";
	memcpy(copy, enc, enc_len);
	copy[enc_len] = '\0';
	if (!dp_subject_decode(copy, out, DP_SHIP_NAME_CAP))
		return "not names encoded as subject tokens (a byte outside [A-Za-z0-9_-/] not as %XX, or %00)";
	const char *a = out, *b = strchr(a, '/'), *f = b ? strchr(b + 1, '/') : NULL;
	if (!b || !f || strchr(f + 1, '/'))
		return "not <dataflow>/<task>/<file>";
	size_t fn = strlen(f + 1), sn = strlen(DP_SEGMENT_SUFFIX);
	if (!dp_tag_valid(a, (size_t)(b - a)) || !dp_tag_valid(b + 1, (size_t)(f - b - 1)) || !dp_tag_valid(f + 1, fn))
		return "a name is no valid tag (empty, too long, . or .., a control character or a path separator)";
	if (fn <= sn || strcmp(f + 1 + fn - sn, DP_SEGMENT_SUFFIX) != 0)
		return "the file is not named *" DP_SEGMENT_SUFFIX;
	/* One spelling only: the shipper's.  Another (a needless or lower-case
	 * escape, an encoded slash) would be a second name for the segment. */
	dp_buf again = { 0 };
	bool same = dp_subject_token(&again, out, strlen(out), true) == 0 && again.len == enc_len &&
		    memcmp(again.data, enc, enc_len) == 0;
	dp_buf_free(&again);
	return same ? NULL : "not the shipper's encoding of the names";
}

/* Whether the subject is dnnprov.<dataflow>.<task> of the segment: a message
 * published on one task's subject cannot speak for another. */
static bool subject_matches(const char *subject, const char *seg)
{
	const char *b = strchr(seg, '/'), *f = strrchr(seg, '/');
	dp_buf want = { 0 };
	bool same = dp_buf_append(&want, "dnnprov.", 8) == 0 && dp_subject_token(&want, seg, (size_t)(b - seg), false) == 0 &&
		    dp_buf_putc(&want, '.') == 0 && dp_subject_token(&want, b + 1, (size_t)(f - b - 1), false) == 0 &&
		    subject && strcmp(dp_buf_cstr(&want), subject) == 0;
	dp_buf_free(&want);
	return same;
}

static bool parse_after(const dp_ship_message *m, dp_chunk *c, dp_ship_names *names, char *why, size_t n)
{
	const char *sp = strchr(m->after, ' '), *bad;
	if (!sp)
		return malformed(why, n, DP_SHIP_HDR_AFTER, m->after, "not '<segment> <offset>'");
	if ((bad = segment_path(m->after, (size_t)(sp - m->after), names->after)))
		return malformed(why, n, DP_SHIP_HDR_AFTER, m->after, bad);
	if (!parse_number(sp + 1, strlen(sp + 1), DP_SHIP_SEGMENT_MAX, &c->after_offset))
		return malformed(why, n, DP_SHIP_HDR_AFTER, m->after,
				 "the offset is not a decimal number within the segment limit");
	/* The task's previous segment: the same folder, earlier in its order
	 * (and so never the segment itself, nor a cycle). */
	const char *fa = strrchr(names->after, '/'), *fs = strrchr(names->segment, '/');
	if (fa - names->after != fs - names->segment ||
	    memcmp(names->after, names->segment, (size_t)(fs - names->segment)) != 0 ||
	    dp_segment_path_cmp(names->after, names->segment) >= 0)
		return malformed(why, n, DP_SHIP_HDR_AFTER, m->after, "not an earlier segment of the same task");
	c->after = names->after;
	return true;
}

static bool parse_problem(const dp_ship_message *m, dp_chunk *c, char *why, size_t n)
{
	const char *sp = strchr(m->problem, ' ');
	uint64_t kind, len;
	if (!sp || !parse_number(m->problem, (size_t)(sp - m->problem), DP_PROBLEM_AFTER_SEAL, &kind) ||
	    !parse_number(sp + 1, strlen(sp + 1), DP_SHIP_SEGMENT_MAX, &len))
		return malformed(why, n, DP_SHIP_HDR_PROBLEM, m->problem, "not '<kind> <length>' in decimal within the "
				 "segment limit");
	/* What the shipper's reader reports, and nothing else: a torn tail
	 * waits, and a schema problem is the indexer's own finding. */
	if (kind == DP_PROBLEM_NONE || kind == DP_PROBLEM_TRUNCATED)
		return malformed(why, n, DP_SHIP_HDR_PROBLEM, m->problem, "not a kind of damage the shipper sends");
	if (len == 0 || len > DP_SHIP_SEGMENT_MAX - c->start)
		return malformed(why, n, DP_SHIP_HDR_PROBLEM, m->problem, "the damage does not lie within the segment limit");
	if ((kind == DP_PROBLEM_CHECKSUM || kind == DP_PROBLEM_UNDECODABLE) && len > DP_FRAME_HEADER + DNNPROV_RECORD_MAX)
		return malformed(why, n, DP_SHIP_HDR_PROBLEM, m->problem, "longer than one frame");
	if ((kind == DP_PROBLEM_BAD_HEADER || kind == DP_PROBLEM_VERSION) && c->start != 0)
		return malformed(why, n, DP_SHIP_HDR_PROBLEM, m->problem, "damage of the segment header not at offset 0");
	if (m->len != c->header_len)
		return malformed(why, n, DP_SHIP_HDR_PROBLEM, m->problem, "a problem comes without bytes");
	c->problem = (uint32_t)kind;
	c->problem_len = len;
	return true;
}

bool dp_ship_message_parse(const dp_ship_message *m, dp_chunk *c, dp_ship_names *names, char *why, size_t n)
{
	const char *bad;
	uint64_t h;

	memset(c, 0, sizeof(*c));
	if (!m->segment || !m->offset || !m->header) {
		snprintf(why, n, "no %s header: not a message of dnnprov ship",
			 !m->segment ? DP_SHIP_HDR_SEGMENT : !m->offset ? DP_SHIP_HDR_OFFSET : DP_SHIP_HDR_HEADER);
		return false;
	}
	if (m->repeated) {
		snprintf(why, n, "header %.40s given more than once", m->repeated);
		return false;
	}
	if ((bad = segment_path(m->segment, strlen(m->segment), names->segment)))
		return malformed(why, n, DP_SHIP_HDR_SEGMENT, m->segment, bad);
	if (!parse_number(m->offset, strlen(m->offset), DP_SHIP_SEGMENT_MAX, &c->start))
		return malformed(why, n, DP_SHIP_HDR_OFFSET, m->offset, "not a decimal number within the segment limit");
	if (!parse_number(m->header, strlen(m->header), DP_SEGMENT_HEADER_MAX, &h) || h > m->len)
		return malformed(why, n, DP_SHIP_HDR_HEADER, m->header, "not a decimal length of a segment header the body holds");
	if (c->start > 0 && c->start < h)
		return malformed(why, n, DP_SHIP_HDR_OFFSET, m->offset, "inside the segment header");
	if (m->len - h > DP_SHIP_SEGMENT_MAX - (c->start > h ? c->start : h))
		return malformed(why, n, DP_SHIP_HDR_OFFSET, m->offset, "its bytes pass the segment limit");
	if (!subject_matches(m->subject, names->segment)) {
		char q[112];
		snprintf(why, n, "its subject is not the task of segment %s", dp_ship_quote(m->segment, q, sizeof(q)));
		return false;
	}
	c->segment = names->segment;
	c->header = m->data;
	c->header_len = (size_t)h;
	c->bytes = m->data + h;
	c->len = m->len - (size_t)h;
	if (m->after && !parse_after(m, c, names, why, n))
		return false;
	if (m->problem && !parse_problem(m, c, why, n))
		return false;
	return true;
}
