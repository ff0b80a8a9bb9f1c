/*
 * byte_writer.c - writes one epoch record into a task's open segment one
 * byte at a time, DELAY_MS apart, then keeps the segment open for a while:
 * a record being written must not be indexed before its last byte, and must
 * be indexed while the segment is still open (the writer has not sealed or
 * closed it).  Prints "before-last" and "last-byte" with wall-clock seconds.
 * The test kills it once it has seen the record; the 30 s hold is only a
 * bound for a test that never sees it.
 *
 * usage: byte_writer CONFIG TASK EPOCH DELAY_MS SCRATCH_DIR
 */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dnnprov.h"
#include "logger/reader.h"
#include "logger/writer.h"

static double wall(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The bytes of one epoch frame, made by writing it in a scratch log (the
 * payload names no task: a frame fits any segment). */
static unsigned char *make_frame(const char *scratch_dir, long epoch, size_t *n)
{
	char yaml[1024];
	dnnprov_config *cfg;
	dnnprov_task *t;
	dp_segment_header hd;
	dp_reader *r;
	dp_frame f;
	dp_problem pb;
	snprintf(yaml, sizeof(yaml), "%s/scratch.yaml", scratch_dir);
	FILE *y = fopen(yaml, "w");
	fprintf(y, "dataflow: scratch\nlog_dir: %s/scratch-logs\nmetrics: [loss, accuracy]\n", scratch_dir);
	fclose(y);
	if (dnnprov_config_load(yaml, &cfg) || dnnprov_task_open(cfg, "s", &t) || dnnprov_task_begin(t, NULL, 0))
		exit(1);
	dnnprov_value m[2] = { DNNPROV_V_REAL("loss", 0.25), DNNPROV_V_INT("accuracy", epoch * 7) };
	if (dnnprov_task_epoch(t, epoch, 1.0, m, 2))
		exit(1);
	char seg[1024];
	snprintf(seg, sizeof(seg), "%s", dp_task_segment_path(t));
	dnnprov_task_close(t);
	/* The frames are the spec, the begin, then the epoch. */
	if (dp_reader_open(seg, 0, &r, &hd))
		exit(1);
	for (int i = 0; i < 3; i++)
		if (dp_reader_next(r, &f, &pb) != DP_READ_RECORD)
			exit(1);
	*n = (size_t)(f.end - f.offset);
	unsigned char *frame = malloc(*n);
	memcpy(frame, f.payload - 16, *n);
	dp_reader_close(r);
	dnnprov_config_free(cfg);
	return frame;
}

int main(int argc, char **argv)
{
	dnnprov_config *cfg;
	dnnprov_task *t;
	size_t n;
	if (argc != 6)
		return 2;
	long epoch = atol(argv[3]), delay_ms = atol(argv[4]);
	unsigned char *frame = make_frame(argv[5], epoch, &n);
	if (dnnprov_config_load(argv[1], &cfg) || dnnprov_task_open(cfg, argv[2], &t))
		return 1;
	dnnprov_value h = DNNPROV_V_REAL("LEARNING_RATE", 0.01);
	if (dnnprov_task_begin(t, &h, 1))
		return 1;
	const char *seg = dp_task_segment_path(t);
	int fd = open(seg, O_WRONLY);
	off_t at = lseek(fd, 0, SEEK_END);
	for (size_t i = 0; i < n; i++) {
		if (i + 1 == n) {
			printf("before-last %.6f\n", wall());
			fflush(stdout);
		}
		if (pwrite(fd, frame + i, 1, at + (off_t)i) != 1)
			return 1;
		if (i + 1 < n)
			usleep((useconds_t)delay_ms * 1000);
	}
	printf("last-byte %.6f\n", wall());
	fflush(stdout);
	sleep(30); /* the writer lives on: the segment stays open */
	close(fd);
	_exit(0); /* without closing the handle: it would seal at its own size */
}
