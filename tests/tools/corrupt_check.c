/*
 * corrupt_check.c - damages a closed 100-record segment N times (a flipped
 * bit, or random or zero bytes appended) and reads it back: no record may
 * come back with a payload that differs from the one written at its offset,
 * every record not damaged must come back, and the damage must be reported
 * with an offset at or before it.  Also: every truncation of the segment
 * returns exactly the records wholly before the cut, and calls the rest an
 * incomplete tail, never corruption.
 *
 * usage: corrupt_check DIR ITERATIONS SEED
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dnnprov.h"
#include "logger/reader.h"
#include "logger/writer.h"

typedef struct frame_info {
	uint64_t offset, end;
	unsigned char *payload;
	uint32_t length;
} frame_info;

static frame_info frames[256];
static size_t nframes;

static void fail(const char *fmt, const char *what, unsigned long long a, unsigned long long b)
{
	fprintf(stderr, "corrupt_check: ");
	fprintf(stderr, fmt, what, a, b);
	fprintf(stderr, "\n");
	exit(1);
}

/* Reads `path`; checks every returned record against the original frames.
 * Returns the number of records returned and the problems' offsets. */
static size_t read_back(const char *path, uint64_t *first_problem, size_t *problems, int *torn)
{
	dp_segment_header h;
	dp_reader *r;
	dp_frame f;
	dp_problem pb;
	size_t n = 0;
	int rc;
	*first_problem = UINT64_MAX;
	*problems = 0;
	*torn = 0;
	if ((rc = dp_reader_open(path, 0, &r, &h)) != 0)
		return 0;
	while ((rc = dp_reader_next(r, &f, &pb)) > 0) {
		if (rc == DP_READ_RECORD) {
			size_t i = 0;
			while (i < nframes && frames[i].offset != f.offset)
				i++;
			if (i == nframes || frames[i].length != f.length || memcmp(frames[i].payload, f.payload, f.length))
				fail("%s: a record at offset %llu that was not written there (%llu bytes)", path,
				     (unsigned long long)f.offset, f.length);
			n++;
		} else if (rc == DP_READ_PROBLEM) {
			if (pb.length == 0)
				fail("%s: a problem of 0 bytes at %llu%llu", path, pb.offset, 0);
			if (pb.offset < *first_problem)
				*first_problem = pb.offset;
			(*problems)++;
		} else if (rc == DP_READ_TORN) {
			*torn = 1;
			if (pb.offset < *first_problem)
				*first_problem = pb.offset;
			break;
		}
	}
	dp_reader_close(r);
	return n;
}

int main(int argc, char **argv)
{
	if (argc != 4)
		return 2;
	const char *dir = argv[1];
	long iterations = atol(argv[2]);
	srand((unsigned)atoi(argv[3]));
	char yaml[1024], path[1024], copy[1024];
	snprintf(yaml, sizeof(yaml), "%s/c.yaml", dir);
	FILE *y = fopen(yaml, "w");
	fprintf(y, "dataflow: c\nlog_dir: %s/logs\nmetrics: [loss, accuracy]\nhyperparameters:\n  LEARNING_RATE: true\n", dir);
	fclose(y);
	dnnprov_config *cfg;
	dnnprov_task *t;
	if (dnnprov_config_load(yaml, &cfg) || dnnprov_task_open(cfg, "t", &t))
		return 1;
	dnnprov_value h = DNNPROV_V_REAL("LEARNING_RATE", 0.1);
	if (dnnprov_task_begin(t, &h, 1)) /* 2 records: spec, begin */
		return 1;
	snprintf(path, sizeof(path), "%s", dp_task_segment_path(t));
	for (int e = 1; e <= 98; e++) {
		dnnprov_value m[2] = { DNNPROV_V_REAL("loss", 1.0 / e), DNNPROV_V_INT("accuracy", e) };
		if (dnnprov_task_epoch(t, e, 0.5, m, 2))
			return 1;
	}
	dnnprov_task_close(t);
	dnnprov_config_free(cfg);

	/* The original frames. */
	dp_segment_header hd;
	dp_reader *r;
	dp_frame f;
	dp_problem pb;
	if (dp_reader_open(path, 0, &r, &hd))
		return 1;
	int rc;
	while ((rc = dp_reader_next(r, &f, &pb)) > 0) {
		if (rc != DP_READ_RECORD)
			continue;
		frames[nframes].offset = f.offset;
		frames[nframes].end = f.end;
		frames[nframes].length = f.length;
		frames[nframes].payload = malloc(f.length);
		memcpy(frames[nframes].payload, f.payload, f.length);
		nframes++;
	}
	dp_reader_close(r);
	if (nframes != 100)
		fail("%s: %llu records written, %llu expected", path, nframes, 100);

	struct stat st;
	stat(path, &st);
	size_t size = (size_t)st.st_size;
	unsigned char *orig = malloc(size + 4096), *buf = malloc(size + 4096);
	FILE *fp = fopen(path, "rb");
	if (fread(orig, 1, size, fp) != size)
		return 1;
	fclose(fp);
	snprintf(copy, sizeof(copy), "%s/damaged.dnplog", dir);

	long flips = 0, appends = 0, truncations = 0;
	for (long it = 0; it < iterations; it++) {
		size_t n = size;
		uint64_t damage_at;
		memcpy(buf, orig, size);
		int kind = rand() % 4;
		if (kind < 2) { /* a flipped bit anywhere after the segment header */
			size_t at = hd.frames_start + (size_t)rand() % (size - hd.frames_start);
			buf[at] ^= (unsigned char)(1u << (rand() % 8));
			damage_at = at;
			flips++;
		} else { /* random or zero bytes appended after the seal */
			size_t extra = 1 + (size_t)rand() % 64;
			for (size_t k = 0; k < extra; k++)
				buf[size + k] = kind == 2 ? 0 : (unsigned char)rand();
			n += extra;
			damage_at = size;
			appends++;
		}
		fp = fopen(copy, "wb");
		fwrite(buf, 1, n, fp);
		fclose(fp);
		uint64_t first;
		size_t problems;
		int torn;
		size_t got = read_back(copy, &first, &problems, &torn);
		/* Records wholly before the damage must all come back. */
		size_t before = 0;
		for (size_t i = 0; i < nframes; i++)
			before += frames[i].end <= damage_at;
		if (got < before)
			fail("%s: %llu records before the damage, %llu read back", copy, before, got);
		if (!problems && !torn && damage_at < size)
			fail("%s: damage at %llu not reported (%llu records)", copy, damage_at, got);
		if (first > damage_at && damage_at < size)
			fail("%s: damage at %llu reported later, at %llu", copy, damage_at, first);
		if (damage_at >= size && got != nframes)
			fail("%s: bytes after the seal cost records: %llu of %llu", copy, got, nframes);
	}
	/* Every truncation: exactly the records wholly before the cut. */
	for (size_t cut = hd.frames_start; cut < size; cut++) {
		fp = fopen(copy, "wb");
		fwrite(orig, 1, cut, fp);
		fclose(fp);
		uint64_t first;
		size_t problems;
		int torn;
		size_t got = read_back(copy, &first, &problems, &torn);
		size_t before = 0;
		for (size_t i = 0; i < nframes; i++)
			before += frames[i].end <= cut;
		if (got != before || problems)
			fail("%s: cut at %llu gave a problem or lost a record (%llu read)", copy, cut, got);
		truncations++;
	}
	printf("corrupt_check: %ld flips, %ld appends, %ld truncations of a %zu-byte segment: no wrong payload, "
	       "every damage reported\n", flips, appends, truncations, size);
	for (size_t i = 0; i < nframes; i++)
		free(frames[i].payload);
	free(orig);
	free(buf);
	return 0;
}
