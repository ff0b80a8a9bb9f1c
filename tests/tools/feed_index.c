/*
 * feed_index.c - feeds whole segment files to an index as the stream
 * indexer does (dp_indexer_apply: no log folder, each segment one piece in
 * a transaction of its own), in the order given, so that a test can give
 * the stream path any arrival order without a NATS server.
 *
 * usage: feed_index INDEX_DIR LOG_DIR REL...   (REL: <dataflow>/<task>/<file>)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "indexer/index.h"
#include "logger/format.h"

static unsigned char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	unsigned char *b = NULL;
	long len;
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (b = malloc((size_t)len + 1)) && fread(b, 1, (size_t)len, f) != (size_t)len) {
		free(b);
		b = NULL;
	}
	*n = b ? (size_t)len : 0;
	fclose(f);
	return b;
}

int main(int argc, char **argv)
{
	dp_indexer *x;
	int status = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: feed_index INDEX_DIR LOG_DIR REL...\n");
		return 2;
	}
	dp_indexer_options o = { .index_dir = argv[1] };
	if (dp_indexer_open(&o, &x)) {
		fprintf(stderr, "feed_index: %s\n", dnnprov_errmsg());
		return 1;
	}
	for (int i = 3; i < argc && !status; i++) {
		char path[4096];
		size_t n;
		snprintf(path, sizeof(path), "%s/%s", argv[2], argv[i]);
		unsigned char *b = slurp(path, &n);
		if (!b || n < DP_SEGMENT_FIXED + 4) {
			fprintf(stderr, "feed_index: cannot read %s\n", path);
			status = 1;
			break;
		}
		size_t hlen = DP_SEGMENT_FIXED + dp_get_be32(b + 12) + 4;
		dp_chunk c = { .segment = argv[i], .header = b, .header_len = hlen, .bytes = b + hlen, .len = n - hlen };
		dp_chunk_outcome out;
		char why[1][DP_CHUNK_WHY];
		if (dp_indexer_apply(x, &c, 1, &out, why, NULL, NULL, 0)) {
			fprintf(stderr, "feed_index: %s: %s\n", argv[i], dnnprov_errmsg());
			status = 1;
		} else if (out != DP_CHUNK_APPLIED) {
			fprintf(stderr, "feed_index: %s: not applied (%d) %s\n", argv[i], (int)out, why[0]);
			status = 1;
		}
		free(b);
	}
	dp_indexer_close(x);
	return status;
}
