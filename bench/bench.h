/*
 * bench.h - what the sections of the benchmark share (util.c), and the
 * sections each file holds.  docs/PERFORMANCE.md explains every row.
 */
#ifndef DNNPROV_BENCH_H
#define DNNPROV_BENCH_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#define DP_BENCH_MAX_RUNS 15 /* repetitions of one measurement, at most */

extern const char *workdir, *dnnprov_bin;
extern bool quick;
extern FILE *table; /* the rows, also written to the work folder */
extern long peak_anon_kb; /* of the last run_timed() that sampled memory */

double now_s(void);
int cmp_double(const void *a, const void *b);
/* Sorts v. */
double median(double *v, int n);
double percentile(double *v, int n, double p);
double min_of(const double *v, int n);
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* A path in the work folder; one of 8 static buffers, reused in turn. */
char *path(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void run_shell(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The apparent size of a file or folder (du -sb). */
long long du_bytes(const char *p);
/* The blocks a file or folder takes on disk, in bytes (du -s -B1). */
long long du_disk_bytes(const char *p);
long rss_anon_kb(pid_t pid);
/* Runs argv to its end, its output to /dev/null; wall seconds.  With
 * maxrss_kb, samples the anonymous memory into peak_anon_kb. */
double run_timed(char *const argv[], long *maxrss_kb, bool quiet);
/* Runs argv with its output to a pipe this process reads to the end;
 * wall seconds.  With out, the output is kept there (malloc'd, NUL
 * terminated); else it is read and dropped.  Dies when argv fails. */
double run_piped(char *const argv[], char **out);
double median_of(char *const argv[], int runs);

void row_header(void);
void row(const char *workload, const char *ours, const char *peer, const char *ratio, const char *floor_, int runs);
/* Writes one line of the output: to stdout and to the rows file. */
void out_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A section's heading, the load average at its start, and the header of
 * the table of `row`; section_end gives the load average at its end. */
void section_begin(const char *title);
void section_end(void);
const char *fmt_ns(double s, char *buf);
/* A peak heap sampled by run_timed, in MiB. */
const char *fmt_heap(long kb, char *buf);
const char *fmt_ratio(double ours, double peer, bool higher_is_better, char *buf);
double loadavg(void);

sqlite3 *sqlite_open(const char *file, const char *pragmas);
pid_t start_bg(char *const argv[]);
void stop_bg(pid_t pid);
int free_port(void);
/* One GET over a fresh connection, read to the end: seconds, or negative
 * when the server could not be reached. */
double http_get(int port, const char *path, int *status);
double http_median(int port, const char *path, int runs);
/* Starts `dnnprov serve` on a free loopback port and waits until it
 * answers. */
pid_t serve_start(const char *index_dir, int *port);
/* Takes the index's lock as a following indexer holds it (-1: not taken). */
int hold_index_lock(const char *index_dir);

/* The sections, in peers.c and tier1m.c. */
void bench_peers(void);
void bench_tier1m(void);

#endif
