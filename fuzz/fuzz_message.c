/*
 * fuzz_message.c - stream messages, as anybody may publish them, through
 * the consumer's reading of their headers (ship/message.c) and then, for
 * what it accepts, the in-memory reader the indexer checks a chunk's
 * frames with.  What is accepted must be what message.h promises: a
 * segment path of three valid names whose encoding is the one given,
 * offsets within the segment limit, a problem of a known kind without
 * bytes; no crash, no read past the body.
 *
 * Input: six lines (subject, Dnnprov-Segment, -Offset, -Header, -After,
 * -Problem; a line "!" for a header the message does not have, a subject
 * line starting with '*' for a header given twice), then the body.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "logger/reader.h"
#include "logger/scan.h"
#include "ship/message.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_accepted(const dp_ship_message *m, const dp_chunk *c)
{
	const char *b = strchr(c->segment, '/'), *f = b ? strchr(b + 1, '/') : NULL;
	if (!f || strchr(f + 1, '/') || !dp_tag_valid(c->segment, (size_t)(b - c->segment)) ||
	    !dp_tag_valid(b + 1, (size_t)(f - b - 1)) || !dp_tag_valid(f + 1, strlen(f + 1)))
		abort(); /* a segment path that is none */
	dp_buf enc = { 0 };
	if (dp_subject_token(&enc, c->segment, strlen(c->segment), true) != 0 || strcmp(dp_buf_cstr(&enc), m->segment))
		abort(); /* another spelling of a name passed */
	dp_buf_free(&enc);
	if (c->header != m->data || c->header_len > m->len || c->bytes != m->data + c->header_len ||
	    c->len != m->len - c->header_len || c->start > DP_SHIP_SEGMENT_MAX ||
	    c->len > DP_SHIP_SEGMENT_MAX - (c->start > c->header_len ? c->start : c->header_len))
		abort();
	if (c->problem && (c->len != 0 || c->problem_len == 0 || c->problem_len > DP_SHIP_SEGMENT_MAX - c->start ||
			   c->problem > DP_PROBLEM_AFTER_SEAL))
		abort();
	if (c->after && (dp_segment_path_cmp(c->after, c->segment) >= 0 || c->after_offset > DP_SHIP_SEGMENT_MAX))
		abort();
}

/* What the indexer does first with an accepted chunk's bytes. */
static void read_frames(const dp_chunk *c)
{
	dp_segment_header hdr;
	dp_reader *r;
	dp_frame fr;
	dp_problem pb;
	uint64_t from = c->start > c->header_len ? c->start : c->header_len;
	if (dp_reader_open_mem(c->segment, c->header, c->header_len, from, c->bytes, c->len, from, &r, &hdr) != 0)
		return;
	int res;
	while ((res = dp_reader_next(r, &fr, &pb)) > 0 && res != DP_READ_TORN)
		if (res != DP_READ_PROBLEM && (fr.offset < from || fr.end > from + c->len))
			abort(); /* a frame outside the bytes given */
	dp_reader_close(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1), *fields[6];
	size_t at = 0;
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	for (int i = 0; i < 6; i++) {
		char *nl = memchr(copy + at, '\n', size - at);
		if (!nl) {
			free(copy);
			return 0;
		}
		*nl = '\0';
		fields[i] = strcmp(copy + at, "!") == 0 ? NULL : copy + at;
		at = (size_t)(nl - copy) + 1;
	}
	dp_ship_message m = { 0 };
	m.subject = fields[0];
	if (m.subject && m.subject[0] == '*') {
		m.subject++;
		m.repeated = DP_SHIP_HDR_OFFSET;
	}
	m.segment = fields[1];
	m.offset = fields[2];
	m.header = fields[3];
	m.after = fields[4];
	m.problem = fields[5];
	/* The body in a buffer of its own size, so that ASan sees a read past it. */
	unsigned char *body = malloc(size - at + 1);
	if (body) {
		memcpy(body, data + at, size - at);
		m.data = body;
		m.len = size - at;
		dp_chunk c;
		dp_ship_names names;
		char why[320];
		if (dp_ship_message_parse(&m, &c, &names, why, sizeof(why))) {
			check_accepted(&m, &c);
			if (!c.problem)
				read_frames(&c);
		} else if (!memchr(why, '\0', sizeof(why)) || strchr(why, '\n') || strchr(why, '\033')) {
			abort(); /* a message for a terminal: one line, escaped */
		}
	}
	free(body);
	free(copy);
	return 0;
}
