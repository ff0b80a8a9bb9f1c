/*
 * tier1m.c - the 1,000,000-run tier (BENCH_ONLY=tier1m; never part of a
 * plain `make bench`, `make check` or CI): 1,000,000 runs × 10 epochs × 4
 * metrics recorded through the C API with facts: false, caught up, and
 * asked what a dashboard asks, beside the same questions at a tenth of the
 * runs (so that a memory that grows with the runs shows).
 * BENCH_TIER1M_RUNS overrides the number of runs (100,000 checks the code
 * path in minutes).
 *
 * It needs about 13 KiB and 3 inodes per run (a folder, a segment and the
 * run's lock file, each a block at least, and the index): the free space
 * and inodes of the work folder are checked first, and the tier refuses
 * to start without them.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench.h"
#include "bench/peers.h"

#define TIER_EPOCHS 10
#define TIER_WRITERS 2 /* processes recording at once: the machine's cores */

/* Records runs 0..n-1 in TIER_WRITERS processes, each a range of them. */
static double tier_record(const char *name, int n)
{
	pid_t pid[TIER_WRITERS];
	run_shell("rm -rf '%s' '%s'", path("%s-logs", name), path("%s-index", name));
	peer_config(name);
	fflush(NULL);
	double t0 = now_s();
	for (int w = 0; w < TIER_WRITERS; w++) {
		pid[w] = fork();
		if (pid[w] < 0)
			die("fork: %s", strerror(errno));
		if (pid[w] == 0) {
			peer_generate_range(name, (int)((long)n * w / TIER_WRITERS), (int)((long)n * (w + 1) / TIER_WRITERS),
					    TIER_EPOCHS, NULL, NULL);
			_exit(0);
		}
	}
	for (int w = 0; w < TIER_WRITERS; w++) {
		int st;
		if (waitpid(pid[w], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			die("recording the runs of %s failed", name);
	}
	return now_s() - t0;
}

/* The floor of a catch-up's walk: list the log folder, its dataflow
 * folders and every run's folder (readdir: getdents64), and open each
 * segment; with read_them, read it too.  Seconds. */
static DIR *open_dir_at(int at, const char *name)
{
	int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (fd >= 0 && !d)
		close(fd);
	return d;
}

static double walk_floor(const char *logs, bool read_them, long *segments)
{
	static char buf[1 << 16];
	double t0 = now_s();
	*segments = 0;
	DIR *top = opendir(logs);
	if (!top)
		die("cannot list %s: %s", logs, strerror(errno));
	for (struct dirent *d; (d = readdir(top));) {
		DIR *df = d->d_name[0] == '.' ? NULL : open_dir_at(dirfd(top), d->d_name);
		for (struct dirent *t; df && (t = readdir(df));) {
			DIR *task = t->d_name[0] == '.' ? NULL : open_dir_at(dirfd(df), t->d_name);
			for (struct dirent *s; task && (s = readdir(task));) {
				size_t len = strlen(s->d_name);
				if (len < 7 || strcmp(s->d_name + len - 7, ".dnplog") != 0)
					continue;
				int fd = openat(dirfd(task), s->d_name, O_RDONLY | O_CLOEXEC);
				if (fd < 0)
					die("cannot open %s in %s: %s", s->d_name, t->d_name, strerror(errno));
				while (read_them && read(fd, buf, sizeof(buf)) > 0)
					;
				close(fd);
				(*segments)++;
			}
			if (task)
				closedir(task);
		}
		if (df)
			closedir(df);
	}
	closedir(top);
	return now_s() - t0;
}

/* Refuses, with what is missing, when the work folder cannot hold n runs
 * and a tenth besides. */
static void tier_check_disk(long n)
{
	struct statvfs vfs;
	if (statvfs(workdir, &vfs) != 0)
		die("cannot ask %s its free space: %s", workdir, strerror(errno));
	double need_bytes = (double)n * 1.1 * 13312 + 2e9, need_inodes = (double)n * 1.1 * 3 + 10000;
	double free_bytes = (double)vfs.f_bavail * (double)vfs.f_frsize, free_inodes = (double)vfs.f_favail;
	if (free_bytes < need_bytes || free_inodes < need_inodes)
		die("the %ld-run tier needs about %.1f GB and %.1f million inodes free in %s; it has %.1f GB and %.1f "
		    "million (set TMPDIR to a larger file system, or BENCH_TIER1M_RUNS to fewer runs)",
		    n, need_bytes / 1e9, need_inodes / 1e6, workdir, free_bytes / 1e9, free_inodes / 1e6);
	out_line("Disk before: %.1f GB and %.1f million inodes free in the work folder; the tier needs about %.1f GB and "
		 "%.1f million.\n\n",
		 free_bytes / 1e9, free_inodes / 1e6, need_bytes / 1e9, need_inodes / 1e6);
}

typedef struct tier_size {
	int runs;
	double record, catch_up, walk_open, walk_read;
	long segments;
	long long index_bytes, log_disk;
	/* min and median seconds, and the peak heap (KiB), of each query */
	double t[6][2];
	long heap[6];
	long serve_heap;
} tier_size;

enum { Q_PAGE, Q_COMPARE, Q_RUNS, Q_EFFECT, Q_CURVE, Q_FRESH, NQ };
static const char *const q_names[NQ] = {
	"`/api/runs` page: first 100 runs sorted by best(val_accuracy) (`dnnprov serve`, HTTP on loopback, JSON)",
	"`compare --limit 10`",
	"`runs --limit 10`",
	"`effect --hyp LEARNING_RATE`",
	"`curve` of one run",
	"`compare --limit 10` right after the first catch-up, no indexer running",
};
static const char *const q_targets[NQ] = { "target ≤ 100 ms", "target ≤ 30 ms", "target ≤ 30 ms", "target ≤ 150 ms",
					   "target ≤ 3 ms", "target: freshness ≤ 1 ms of it" };

static void min_median(double *t, int runs, double out[2])
{
	out[0] = min_of(t, runs);
	out[1] = median(t, runs);
}

static void tier_measure(const char *name, tier_size *s, int runs)
{
	char yaml[1024], idx[1024], task[32]; /* path()'s buffers are reused */
	snprintf(yaml, sizeof(yaml), "%s", path("%s.yaml", name));
	snprintf(idx, sizeof(idx), "%s", path("%s-index", name));
	snprintf(task, sizeof(task), "t%07d", s->runs / 2);
	s->record = tier_record(name, s->runs);
	char *index[] = { (char *)dnnprov_bin, "index", "-c", yaml, "-q", NULL };
	s->catch_up = run_timed(index, NULL, false);
	s->index_bytes = du_bytes(path("%s-index/CURRENT/data.mdb", name));
	s->log_disk = du_disk_bytes(path("%s-logs", name));

	char *cmds[NQ][14] = {
		{ NULL },
		{ (char *)dnnprov_bin, "compare", "bench", "--index-dir", idx, "--metric", "val_accuracy", "--limit", "10",
		  "--format", "csv", NULL },
		{ (char *)dnnprov_bin, "runs", "bench", "--index-dir", idx, "--limit", "10", "--format", "csv", NULL },
		{ (char *)dnnprov_bin, "effect", "bench", "--index-dir", idx, "--hyp", "LEARNING_RATE", "--metric",
		  "val_accuracy", "--format", "csv", NULL },
		{ (char *)dnnprov_bin, "curve", "bench", task, "--index-dir", idx, "--format", "csv", NULL },
		{ (char *)dnnprov_bin, "compare", "bench", "--index-dir", idx, "--metric", "val_accuracy", "--limit", "10",
		  "--format", "csv", NULL },
	};
	double t[DP_BENCH_MAX_RUNS];
	long rss;
	/* First the freshness case, right after the catch-up; then the
	 * questions while this process holds the index's lock as a following
	 * indexer does. */
	for (int i = 0; i < runs; i++)
		t[i] = run_piped(cmds[Q_FRESH], NULL);
	min_median(t, runs, s->t[Q_FRESH]);
	s->heap[Q_FRESH] = 0;
	/* After the catch-up, so that the floor finds the folders in the
	 * caches at least as warm as it did. */
	s->walk_open = walk_floor(path("%s-logs", name), false, &s->segments);
	s->walk_read = walk_floor(path("%s-logs", name), true, &s->segments);
	int lock = hold_index_lock(idx);
	for (int q = Q_COMPARE; q <= Q_CURVE; q++) {
		run_piped(cmds[q], NULL);
		for (int i = 0; i < runs; i++)
			t[i] = run_piped(cmds[q], NULL);
		min_median(t, runs, s->t[q]);
		run_timed(cmds[q], &rss, true);
		s->heap[q] = peak_anon_kb;
	}
	int port, st;
	pid_t pid = serve_start(idx, &port);
	static const char page[] = "/api/runs?df=bench&metric=val_accuracy&sort=-best(val_accuracy)&limit=100";
	http_median(port, page, 2);
	for (int i = 0; i < runs; i++) {
		t[i] = http_get(port, page, &st);
		if (st != 200)
			die("dnnprov serve answered %d to %s", st, page);
	}
	min_median(t, runs, s->t[Q_PAGE]);
	s->heap[Q_PAGE] = rss_anon_kb(pid);
	stop_bg(pid);
	if (lock >= 0)
		close(lock);
}

static int tier_runs(void)
{
	const char *env = getenv("BENCH_TIER1M_RUNS");
	int n = env && *env ? atoi(env) : 1000000;
	if (n < 1000)
		die("BENCH_TIER1M_RUNS: %s runs are too few (1000 at least)", env);
	return n;
}

void bench_tier1m(void)
{
	int n = tier_runs(), runs = 5;
	long records = (long)n * TIER_EPOCHS;
	char title[256];
	snprintf(title, sizeof(title), "The %d-run tier: %d runs × %d epochs × 4 metrics, facts: false", n, n,
		 TIER_EPOCHS);
	section_begin(title);
	tier_check_disk(n);
	tier_size big = { .runs = n }, small = { .runs = n / 10 };
	double t0 = now_s();
	tier_measure("tier1m-small", &small, runs);
	run_shell("rm -rf '%s' '%s'", path("tier1m-small-logs"), path("tier1m-small-index"));
	tier_measure("tier1m", &big, runs);

	out_line("| row | %d runs, min / median | %d runs, min / median | target / note | runs |\n", n, n / 10);
	out_line("|---|---|---|---|---|\n");
	out_line("| recording the runs through the C API (%d processes, buffered) | %.1f s, %.0f runs/s | %.1f s | wall "
		 "time of the generator | 1 |\n",
		 TIER_WRITERS, big.record, n / big.record, small.record);
	out_line("| catch-up (`dnnprov index`, whole command) | %.0f records/s, %.0f runs/s (%.1f s) | %.0f records/s, "
		 "%.0f runs/s | floor: listing the folders and opening each segment %.0f runs/s (%.1f s); reading "
		 "them too %.0f runs/s (%.1f s) | 1 |\n",
		 records / big.catch_up, n / big.catch_up, big.catch_up, (double)small.runs * TIER_EPOCHS / small.catch_up,
		 small.runs / small.catch_up, big.segments / big.walk_open, big.walk_open, big.segments / big.walk_read,
		 big.walk_read);
	out_line("| index: bytes per run, per epoch record (data file, every table) | %.0f B, %.1f B | %.0f B, %.1f B | "
		 "— | 1 |\n",
		 (double)big.index_bytes / n, (double)big.index_bytes / records, (double)small.index_bytes / small.runs,
		 (double)small.index_bytes / ((double)small.runs * TIER_EPOCHS));
	out_line("| logs: bytes on disk per run (blocks, `du`) | %.0f B (%.2f GB) | %.0f B | — | 1 |\n",
		 (double)big.log_disk / n, big.log_disk / 1e9, (double)small.log_disk / small.runs);
	for (int q = 0; q < NQ; q++) {
		char a[32], b[32], c[32], d[32], h1[64], h2[64], heap[200] = "";
		if (q != Q_FRESH)
			snprintf(heap, sizeof(heap), "; peak heap %s (%s at %d runs)%s", fmt_heap(big.heap[q], h1),
				 fmt_heap(small.heap[q], h2), small.runs, q == Q_PAGE ? ", the server after its requests" : "");
		out_line("| %s | %s / %s | %s / %s | %s%s | %d |\n", q_names[q], fmt_ns(big.t[q][0], a), fmt_ns(big.t[q][1], b),
			 fmt_ns(small.t[q][0], c), fmt_ns(small.t[q][1], d), q_targets[q], heap, runs);
	}
	out_line("\nThe tier took %.1f minutes; the logs of the larger size took %.2f GB on disk.\n", (now_s() - t0) / 60,
		 big.log_disk / 1e9);
	if (!getenv("BENCH_KEEP")) {
		double t1 = now_s();
		run_shell("rm -rf '%s' '%s'", path("tier1m-logs"), path("tier1m-index"));
		out_line("Removing its logs and index took %.1f minutes more.\n", (now_s() - t1) / 60);
	}
	section_end();
}
