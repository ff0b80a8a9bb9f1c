/*
 * util.c - what every section of the benchmark shares: clocks and
 * medians, paths in the work folder, running and timing commands, the
 * table's rows and their units, SQLite files, background servers and HTTP
 * on loopback.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"
#include "indexer/index.h"

const char *workdir, *dnnprov_bin;
bool quick;
FILE *table;

double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(double), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double percentile(double *v, int n, double p)
{
	qsort(v, (size_t)n, sizeof(double), cmp_double);
	int i = (int)(p * (n - 1) + 0.5);
	return v[i < 0 ? 0 : i >= n ? n - 1 : i];
}

void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "bench: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

char *path(const char *fmt, ...)
{
	static char buf[8][1024];
	static int k;
	va_list ap;
	char *p = buf[k++ % 8];
	int n = snprintf(p, 1024, "%s/", workdir);
	va_start(ap, fmt);
	vsnprintf(p + n, (size_t)(1024 - n), fmt, ap);
	va_end(ap);
	return p;
}

void run_shell(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		die("command failed: %s", cmd);
}

double min_of(const double *v, int n)
{
	double m = v[0];
	for (int i = 1; i < n; i++)
		m = v[i] < m ? v[i] : m;
	return m;
}

long long du_bytes(const char *p)
{
	struct stat st;
	long long total = 0;
	if (stat(p, &st) == 0 && S_ISREG(st.st_mode))
		return (long long)st.st_size;
	char cmd[1200];
	snprintf(cmd, sizeof(cmd), "du -sb '%s' | cut -f1", p);
	FILE *f = popen(cmd, "r");
	if (f && fscanf(f, "%lld", &total) != 1)
		total = 0;
	if (f)
		pclose(f);
	return total;
}

long long du_disk_bytes(const char *p)
{
	long long total = 0;
	char cmd[1200];
	snprintf(cmd, sizeof(cmd), "du -s -B1 '%s' | cut -f1", p);
	FILE *f = popen(cmd, "r");
	if (f && fscanf(f, "%lld", &total) != 1)
		total = 0;
	if (f)
		pclose(f);
	return total;
}

/* The peak of a process's anonymous resident memory (its heap and
 * stacks, not the index's pages LMDB maps from the file), sampled. */
long rss_anon_kb(pid_t pid)
{
	char p[64], line[256];
	long kb = -1;
	snprintf(p, sizeof(p), "/proc/%d/status", (int)pid);
	FILE *f = fopen(p, "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "RssAnon: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

long peak_anon_kb;

/* Runs argv, waits; returns wall seconds and the child's peak RSS (KiB).
 * posix_spawn, not fork: copying this process's page tables would be timed
 * as the command's. */
double run_timed(char *const argv[], long *maxrss_kb, bool quiet)
{
	posix_spawn_file_actions_t fa;
	extern char **environ;
	pid_t pid;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	if (quiet)
		posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	double t0 = now_s();
	if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) != 0)
		die("cannot run %s", argv[0]);
	posix_spawn_file_actions_destroy(&fa);
	int status;
	struct rusage ru;
	peak_anon_kb = 0;
	/* Sample the heap while it runs (every 0.25 ms: a query can end in 2
	 * ms), unless timing matters more: then only the final wait. */
	while (maxrss_kb && wait4(pid, &status, WNOHANG, &ru) == 0) {
		long a = rss_anon_kb(pid);
		if (a > peak_anon_kb)
			peak_anon_kb = a;
		usleep(250);
	}
	if (!maxrss_kb || peak_anon_kb == 0)
		wait4(pid, &status, 0, &ru);
	double t = now_s() - t0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		die("%s %s failed", argv[0], argv[1]);
	if (maxrss_kb)
		*maxrss_kb = ru.ru_maxrss;
	return t;
}

double run_piped(char *const argv[], char **out)
{
	posix_spawn_file_actions_t fa;
	extern char **environ;
	int fds[2];
	pid_t pid;
	if (pipe2(fds, O_CLOEXEC) != 0)
		die("pipe: %s", strerror(errno));
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
	double t0 = now_s();
	if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) != 0)
		die("cannot run %s", argv[0]);
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	size_t len = 0, cap = out ? 1 << 16 : 0;
	char drop[1 << 16], *buf = out ? malloc(cap) : NULL;
	for (;;) {
		if (out && cap - len < 1 << 15 && !(buf = realloc(buf, cap *= 2)))
			die("out of memory");
		ssize_t k = out ? read(fds[0], buf + len, cap - len - 1) : read(fds[0], drop, sizeof(drop));
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		len += (size_t)k;
	}
	close(fds[0]);
	int status;
	waitpid(pid, &status, 0);
	double t = now_s() - t0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		die("%s %s failed", argv[0], argv[1]);
	if (out) {
		buf[len] = '\0';
		*out = buf;
	}
	return t;
}

/* ---- the table ------------------------------------------------------------------- */

void out_line(const char *fmt, ...)
{
	char line[16384];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fputs(line, stdout);
	fflush(stdout);
	if (table)
		fputs(line, table);
}

void row(const char *workload, const char *ours, const char *peer, const char *ratio, const char *floor_, int runs)
{
	out_line("| %s | %s | %s | %s | %s | %d |\n", workload, ours, peer, ratio, floor_, runs);
}

void row_header(void)
{
	out_line("| workload | dnnprov (median) | peer (median) | ratio | floor / note | runs |\n");
	out_line("|---|---|---|---|---|---|\n");
}

/* The machine is shared: what else ran is part of every figure, so each
 * section says the load average when it began and when it ended. */
void section_begin(const char *title)
{
	out_line("\n### %s\n\nLoad average at the start: %.2f.\n\n", title, loadavg());
}

void section_end(void)
{
	out_line("\nLoad average at the end: %.2f.\n", loadavg());
}

const char *fmt_ns(double s, char *buf)
{
	double ns = s * 1e9;
	if (ns < 10000)
		sprintf(buf, "%.0f ns", ns);
	else if (ns < 1e7)
		sprintf(buf, "%.1f µs", ns / 1e3);
	else if (ns < 1e10)
		sprintf(buf, "%.1f ms", ns / 1e6);
	else
		sprintf(buf, "%.2f s", ns / 1e9);
	return buf;
}

const char *fmt_heap(long kb, char *buf)
{
	if (kb < 64) /* a process holds more: no sample fell within its life */
		sprintf(buf, "n/a (ended between samples)");
	else
		sprintf(buf, "%.1f MiB", kb / 1024.0);
	return buf;
}

const char *fmt_ratio(double ours, double peer, bool higher_is_better, char *buf)
{
	double r = higher_is_better ? ours / peer : peer / ours;
	sprintf(buf, "%.1f× %s", r, r >= 1 ? "faster" : "slower");
	return buf;
}

sqlite3 *sqlite_open(const char *file, const char *pragmas)
{
	sqlite3 *db;
	unlink(file);
	char wal[1100];
	snprintf(wal, sizeof(wal), "%s-wal", file);
	unlink(wal);
	if (sqlite3_open(file, &db) != SQLITE_OK)
		die("sqlite3_open %s", file);
	if (pragmas && sqlite3_exec(db, pragmas, NULL, NULL, NULL) != SQLITE_OK)
		die("sqlite: %s", sqlite3_errmsg(db));
	return db;
}

/* Starts argv in the background, its output to /dev/null. */
pid_t start_bg(char *const argv[])
{
	posix_spawn_file_actions_t fa;
	extern char **environ;
	pid_t pid;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) != 0)
		die("cannot run %s", argv[0]);
	posix_spawn_file_actions_destroy(&fa);
	return pid;
}

void stop_bg(pid_t pid)
{
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t n = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || getsockname(fd, (struct sockaddr *)&a, &n) != 0)
		die("no free port: %s", strerror(errno));
	close(fd);
	return ntohs(a.sin_port);
}

/* One GET over a fresh connection, read to the end; the seconds it took,
 * or a negative number when the server could not be reached. */
double http_get(int port, const char *path, int *status)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	char req[1024], buf[65536];
	double t0 = now_s();
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n", path, port);
	if (write(fd, req, (size_t)n) != n)
		die("cannot send a request");
	ssize_t k;
	size_t got = 0;
	*status = 0;
	while ((k = read(fd, buf, sizeof(buf))) > 0) {
		if (!got)
			sscanf(buf, "HTTP/1.1 %d", status);
		got += (size_t)k;
	}
	close(fd);
	return now_s() - t0;
}

double http_median(int port, const char *path, int runs)
{
	double t[15];
	int st;
	for (int i = 0; i < runs; i++) {
		t[i] = http_get(port, path, &st);
		if (st != 200)
			die("dnnprov serve answered %d to %s", st, path);
	}
	return median(t, runs);
}

pid_t serve_start(const char *index_dir, int *port)
{
	char listen[32];
	int st;
	*port = free_port();
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", *port);
	char *argv[] = { (char *)dnnprov_bin, "serve", "--index-dir", (char *)index_dir, "--listen", listen, NULL };
	pid_t pid = start_bg(argv);
	for (int i = 0; http_get(*port, "/api/changes", &st) < 0; i++) {
		if (i > 600)
			die("dnnprov serve did not start");
		usleep(10000);
	}
	return pid;
}

double loadavg(void)
{
	double l = NAN;
	FILE *f = fopen("/proc/loadavg", "r");
	if (f && fscanf(f, "%lf", &l) != 1)
		l = NAN;
	if (f)
		fclose(f);
	return l;
}

/* Takes the index's lock as a following indexer holds it: queries then do
 * not walk the logs.  Returns the descriptor (-1: not taken). */
int hold_index_lock(const char *index_dir)
{
	char p[1200];
	snprintf(p, sizeof(p), "%s/%s", index_dir, DP_INDEX_LOCK);
	int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	if (fd >= 0 && fcntl(fd, F_OFD_SETLK, &fl) != 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

double median_of(char *const argv[], int runs)
{
	double t[DP_BENCH_MAX_RUNS];
	run_timed(argv, NULL, true); /* the page cache warmed for both */
	for (int i = 0; i < runs; i++)
		t[i] = run_timed(argv, NULL, true);
	return median(t, runs);
}

