/*
 * bench_append.c - the cost of one epoch append (8 metrics) in each
 * durability mode, beside its floor: one write(2) of a record of the same
 * size, and write(2)+fdatasync(2).  Prints medians of batches, in ns.
 *
 * usage: bench_append DIR [N]
 */
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dnnprov.h"

#define BATCH 1000

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(double), cmp_double);
	return v[n / 2];
}

static const char *names[8] = { "loss", "accuracy", "val_loss", "val_accuracy",
				"top5", "val_top5", "lr", "grad_norm" };

static double bench_mode(const char *dir, const char *mode, int n, int batches)
{
	char yaml[512], path[512];
	dnnprov_config *cfg;
	dnnprov_task *t;
	double *per = malloc(sizeof(double) * (size_t)batches);
	snprintf(path, sizeof(path), "%s/%s.yaml", dir, mode);
	snprintf(yaml, sizeof(yaml),
		 "dataflow: bench\nlog_dir: %s/logs-%s\nmetrics: [loss, accuracy]\n"
		 "log:\n  durability: %s\n  segment_size: 1GiB\n", dir, mode, mode);
	FILE *f = fopen(path, "w");
	fputs(yaml, f);
	fclose(f);
	if (dnnprov_config_load(path, &cfg) || dnnprov_task_open(cfg, NULL, &t)) {
		fprintf(stderr, "bench_append: %s\n", dnnprov_errmsg());
		exit(1);
	}
	dnnprov_value m[8];
	int64_t e = 0;
	for (int b = 0; b < batches; b++) {
		double t0 = now_ns();
		for (int i = 0; i < n; i++, e++) {
			for (int k = 0; k < 8; k++)
				m[k] = DNNPROV_V_REAL(names[k], (double)(e + k) * 0.001);
			if (dnnprov_task_epoch(t, e, NAN, m, 8)) {
				fprintf(stderr, "bench_append: %s\n", dnnprov_errmsg());
				exit(1);
			}
		}
		per[b] = (now_ns() - t0) / n;
	}
	dnnprov_task_close(t);
	dnnprov_config_free(cfg);
	double med = median(per, batches);
	free(per);
	return med;
}

static double bench_write(const char *dir, bool sync, int n, int batches)
{
	char path[512], rec[170];
	double *per = malloc(sizeof(double) * (size_t)batches);
	memset(rec, 'r', sizeof(rec));
	snprintf(path, sizeof(path), "%s/floor-%d", dir, sync);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
	for (int b = 0; b < batches; b++) {
		double t0 = now_ns();
		for (int i = 0; i < n; i++) {
			if (write(fd, rec, sizeof(rec)) != (ssize_t)sizeof(rec))
				exit(1);
			if (sync)
				fdatasync(fd);
		}
		per[b] = (now_ns() - t0) / n;
	}
	close(fd);
	double med = median(per, batches);
	free(per);
	return med;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: bench_append DIR [BATCHES]\n");
		return 2;
	}
	int batches = argc > 2 ? atoi(argv[2]) : 50;
	printf("| workload | median ns per record |\n|---|---|\n");
	printf("| write(2) of a 170-byte record (floor) | %.0f |\n", bench_write(argv[1], false, BATCH, batches));
	printf("| dnnprov epoch append, interval (default) | %.0f |\n", bench_mode(argv[1], "interval", BATCH, batches));
	printf("| dnnprov epoch append, buffered | %.0f |\n", bench_mode(argv[1], "buffered", BATCH, batches));
	printf("| write(2)+fdatasync (floor) | %.0f |\n", bench_write(argv[1], true, 20, 10));
	printf("| dnnprov epoch append, always | %.0f |\n", bench_mode(argv[1], "always", 20, 10));
	return 0;
}
