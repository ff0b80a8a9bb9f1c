/*
 * bench.c - every speed claim of dnnprov measured beside its peer and its
 * floor, in one run, as medians of repeated measurements.  Prints a
 * markdown table per section; docs/PERFORMANCE.md explains each row.
 *
 * usage: bench [--quick] WORKDIR DNNPROV [PYTHON_ROWS_COMMAND]
 *
 * This file holds the sections of capture, ingest, lag, shipping, the
 * query scaling rows and memory, where every contestant writes the same
 * epoch record: dataflow, task, epoch, time and 8 metrics (loss, accuracy
 * and their val_ twins, top5, val_top5, lr, grad_norm).  peers.c holds the
 * rows beside SQLite and DuckDB at their best, tier1m.c the 1,000,000-run
 * tier.
 */
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"
#include "bench/peers.h"
#include "dnnprov.h"
#include "indexer/index.h"
#include "logger/decode.h"
#include "logger/reader.h"
#include "logger/scan.h"

#define NMETRICS 8
static const char *const metric_names[NMETRICS] = { "loss", "accuracy", "val_loss", "val_accuracy",
						    "top5", "val_top5", "lr", "grad_norm" };

/* ---- 1. capture in C ---------------------------------------------------------------- */

static dnnprov_config *config_for(const char *name, const char *durability)
{
	dnnprov_config *cfg;
	char *yaml = path("%s.yaml", name);
	FILE *f = fopen(yaml, "w");
	fprintf(f,
		"dataflow: bench\nlog_dir: %s\nindex_dir: %s\n"
		"hyperparameters:\n  OPTIMIZER_NAME: true\n  LEARNING_RATE: true\n  BATCH_SIZE: true\n"
		"metrics: [loss, accuracy, top5, lr, grad_norm]\n"
		"log:\n  durability: %s\n  segment_size: 1GiB\n",
		path("%s-logs", name), path("%s-index", name), durability);
	fclose(f);
	if (dnnprov_config_load(yaml, &cfg))
		die("%s", dnnprov_errmsg());
	return cfg;
}

static void metrics_for(dnnprov_value *m, int64_t e, int k)
{
	for (int i = 0; i < NMETRICS; i++)
		m[i] = DNNPROV_V_REAL(metric_names[i], 1.0 / (double)(e + i + k % 7 + 1));
}

/* Median ns of one epoch append, over `batches` batches of n appends. */
static double capture_dnnprov(const char *mode, int n, int batches)
{
	char name[64];
	snprintf(name, sizeof(name), "capture-%s", mode);
	run_shell("rm -rf '%s'", path("%s-logs", name));
	dnnprov_config *cfg = config_for(name, mode);
	dnnprov_task *t;
	dnnprov_value m[NMETRICS];
	double *per = malloc(sizeof(double) * (size_t)batches);
	if (dnnprov_task_open(cfg, "t", &t) || dnnprov_task_begin(t, NULL, 0))
		die("%s", dnnprov_errmsg());
	int64_t e = 0;
	for (int b = 0; b < batches; b++) {
		double t0 = now_s();
		for (int i = 0; i < n; i++, e++) {
			metrics_for(m, e, 0);
			if (dnnprov_task_epoch(t, e, 1.0, m, NMETRICS))
				die("%s", dnnprov_errmsg());
		}
		per[b] = (now_s() - t0) / n;
	}
	dnnprov_task_close(t);
	dnnprov_config_free(cfg);
	double r = median(per, batches);
	free(per);
	return r;
}

/* The size of one encoded epoch frame, for the write(2) floor. */
static size_t epoch_frame_size(void)
{
	dp_path_list l = { 0 };
	dp_find_segments(path("capture-buffered-logs"), &l, NULL, NULL);
	size_t size = 190;
	if (l.n) {
		dp_segment_header h;
		dp_reader *r;
		dp_frame f;
		dp_problem pb;
		if (dp_reader_open(l.paths[0], 0, &r, &h) == 0) {
			while (dp_reader_next(r, &f, &pb) == DP_READ_RECORD) {
				size = (size_t)(f.end - f.offset);
				break;
			}
			dp_reader_close(r);
		}
	}
	dp_path_list_free(&l);
	return size;
}

static double capture_write_floor(size_t size, bool sync, int n, int batches)
{
	char *rec = malloc(size);
	double *per = malloc(sizeof(double) * (size_t)batches);
	memset(rec, 'r', size);
	int fd = open(path("floor-%d", sync), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
	for (int b = 0; b < batches; b++) {
		double t0 = now_s();
		for (int i = 0; i < n; i++) {
			if (write(fd, rec, size) != (ssize_t)size)
				die("write");
			if (sync)
				fdatasync(fd);
		}
		per[b] = (now_s() - t0) / n;
	}
	close(fd);
	double r = median(per, batches);
	free(rec);
	free(per);
	return r;
}

/* The floor of buffered mode: copying a record of the same size into a
 * 64 KiB buffer and writing the buffer when it is full. */
static double capture_buffered_floor(size_t size, int n, int batches)
{
	char *rec = malloc(size), *buf = malloc(65536);
	double *per = malloc(sizeof(double) * (size_t)batches);
	size_t used = 0;
	memset(rec, 'r', size);
	int fd = open(path("floor-buffered"), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
	for (int b = 0; b < batches; b++) {
		double t0 = now_s();
		for (int i = 0; i < n; i++) {
			if (used + size > 65536) {
				if (write(fd, buf, used) != (ssize_t)used)
					die("write");
				used = 0;
			}
			memcpy(buf + used, rec, size);
			used += size;
		}
		per[b] = (now_s() - t0) / n;
	}
	close(fd);
	double r = median(per, batches);
	free(rec);
	free(buf);
	free(per);
	return r;
}

/* SQLite's tables, as a competent user keys them: an integer per task,
 * the epochs clustered on (task, epoch) so that a task's epochs, and the
 * grouping of every epoch by task, are read in key order. */
static const char epochs_ddl[] =
	"create table epochs(task_id integer not null, epoch integer not null, time real, loss real, accuracy real, "
	"val_loss real, val_accuracy real, top5 real, val_top5 real, lr real, grad_norm real, "
	"primary key(task_id, epoch)) without rowid;";

static void bind_epoch(sqlite3_stmt *st, int task_id, int64_t e, int k)
{
	dnnprov_value m[NMETRICS];
	metrics_for(m, e, k);
	sqlite3_bind_int(st, 1, task_id);
	sqlite3_bind_int64(st, 2, e);
	sqlite3_bind_double(st, 3, (double)time(NULL));
	for (int i = 0; i < NMETRICS; i++)
		sqlite3_bind_double(st, 4 + i, m[i].as.r);
}

/* SQLite's cost per record, an INSERT each, committed every per_commit
 * records (1: autocommit). */
static double capture_sqlite(const char *pragmas, int per_commit, int n, int batches)
{
	sqlite3 *db = sqlite_open(path("capture.sqlite"), pragmas);
	sqlite3_stmt *st;
	double *per = malloc(sizeof(double) * (size_t)batches);
	sqlite3_exec(db, epochs_ddl, NULL, NULL, NULL);
	sqlite3_prepare_v2(db, "insert or replace into epochs values(?,?,?,?,?,?,?,?,?,?,?)", -1, &st, NULL);
	int64_t e = 0;
	for (int b = 0; b < batches; b++) {
		double t0 = now_s();
		for (int i = 0; i < n; i++, e++) {
			if (per_commit > 1 && i % per_commit == 0 && sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
				die("sqlite begin: %s", sqlite3_errmsg(db));
			bind_epoch(st, 0, e, 0);
			if (sqlite3_step(st) != SQLITE_DONE)
				die("sqlite insert: %s", sqlite3_errmsg(db));
			sqlite3_reset(st);
			if (per_commit > 1 && (i % per_commit == per_commit - 1 || i == n - 1) &&
			    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
				die("sqlite commit: %s", sqlite3_errmsg(db));
		}
		per[b] = (now_s() - t0) / n;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	double r = median(per, batches);
	free(per);
	return r;
}

static void bench_capture(void)
{
	char a[32], b[32], c[32], d[64];
	int n = quick ? 2000 : 10000, batches = quick ? 11 : 31;
	int sn = quick ? 20 : 50, sb = quick ? 5 : 9; /* fsync-bound: fewer */

	double buffered = capture_dnnprov("buffered", n, batches);
	double interval = capture_dnnprov("interval", n, batches);
	double always = capture_dnnprov("always", sn, sb);
	size_t size = epoch_frame_size();
	double wfloor = capture_write_floor(size, false, n, batches);
	double bfloor = capture_buffered_floor(size, n, batches);
	double sfloor = capture_write_floor(size, true, sn, sb);
	double wal = capture_sqlite("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", 1, sn * 4, sb);
	/* Durable at every commit, at its best: WAL with synchronous=FULL (one
	 * fsync of the log per commit; the default rollback journal syncs more). */
	double durable = capture_sqlite("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", 1, sn, sb);
	/* buffered keeps records in memory and writes 64 KiB at a time, losing
	 * them with the process: SQLite's counterpart at its best commits as
	 * rarely, a transaction per 64 KiB of records, with no sync. */
	int per_64k = size < 65536 ? (int)(65536 / size) : 1; /* 1: autocommit, as a record per write */
	double wal_off = capture_sqlite("PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF;", per_64k, n, batches);
	char label[128];
	snprintf(label, sizeof(label), "capture C, interval (default) vs SQLite WAL/NORMAL INSERT+COMMIT [%zu B record]", size);
	row(label, fmt_ns(interval, a), fmt_ns(wal, b), fmt_ratio(interval, wal, false, c),
	    strcat(strcpy(d, "write(2) "), fmt_ns(wfloor, (char[32]){ 0 })), batches);
	snprintf(label, sizeof(label), "capture C, buffered vs SQLite WAL, synchronous=OFF, a COMMIT per %d records (64 KiB)",
		 per_64k);
	row(label, fmt_ns(buffered, a), fmt_ns(wal_off, b),
	    fmt_ratio(buffered, wal_off, false, c),
	    strcat(strcpy(d, "memcpy + write(2) per 64 KiB "), fmt_ns(bfloor, (char[32]){ 0 })), batches);
	row("capture C, always vs SQLite WAL, synchronous=FULL INSERT+COMMIT", fmt_ns(always, a), fmt_ns(durable, b),
	    fmt_ratio(always, durable, false, c), strcat(strcpy(d, "write+fdatasync "), fmt_ns(sfloor, (char[32]){ 0 })),
	    sb);
	snprintf(label, sizeof(label), "%.2f× the write(2) floor", interval / wfloor);
	row("capture C, interval vs its floor", fmt_ns(interval, a), "—", label, fmt_ns(wfloor, b), batches);
}

/* ---- data sets ----------------------------------------------------------------------- */

/* Writes tasks × epochs epoch records (plus begin/spec/end per task) with
 * the buffered writer, into <name>-logs. */
/* Each generated run reads the two datasets every run shares and writes a
 * model of its own, as a training of a pipeline does (docs/LINEAGE.md):
 * three entity records beside its epochs.  BENCH_ENTITIES=0 leaves them
 * out, to measure what they cost the rows. */
static void entities_for(dnnprov_task *t, int k)
{
	char model[80];
	const char *off = getenv("BENCH_ENTITIES");
	if (off && strcmp(off, "0") == 0)
		return;
	snprintf(model, sizeof(model), "sha256:%064x", k + 1);
	if (dnnprov_task_entity(t, "used", "train_data", "/data/train",
				"sha256:1111111111111111111111111111111111111111111111111111111111111111", 1 << 20) ||
	    dnnprov_task_entity(t, "used", "validation_data", "/data/validation",
				"sha256:2222222222222222222222222222222222222222222222222222222222222222", 1 << 18) ||
	    dnnprov_task_entity(t, "generated", "model", "/runs/model.pt", model, 40000))
		die("%s", dnnprov_errmsg());
}

static void generate(const char *name, int tasks, int epochs)
{
	run_shell("rm -rf '%s' '%s'", path("%s-logs", name), path("%s-index", name));
	dnnprov_config *cfg = config_for(name, "buffered");
	dnnprov_value m[NMETRICS];
	for (int k = 0; k < tasks; k++) {
		dnnprov_task *t = peer_begin(cfg, k);
		entities_for(t, k);
		for (int e = 1; e <= epochs; e++) {
			metrics_for(m, e, k);
			if (dnnprov_task_epoch(t, e, 1.0, m, NMETRICS))
				die("%s", dnnprov_errmsg());
		}
		dnnprov_task_end(t, DNNPROV_FINISHED, NULL);
		dnnprov_task_close(t);
	}
	dnnprov_config_free(cfg);
}

/* Loads the same data into SQLite: tasks and epochs, indexed, one
 * transaction.  Returns the seconds it took. */
static double sqlite_load(const char *name, int tasks, int epochs)
{
	sqlite3 *db = sqlite_open(path("%s.sqlite", name), "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;");
	sqlite3_stmt *st, *tt;
	double t0 = now_s();
	sqlite3_exec(db, epochs_ddl, NULL, NULL, NULL);
	sqlite3_exec(db, peer_tasks_ddl, NULL, NULL, NULL);
	sqlite3_exec(db, "begin", NULL, NULL, NULL);
	sqlite3_prepare_v2(db, "insert into epochs values(?,?,?,?,?,?,?,?,?,?,?)", -1, &st, NULL);
	sqlite3_prepare_v2(db, "insert into tasks values(?,?,?,?,?,?,?,?,?,?)", -1, &tt, NULL);
	for (int k = 0; k < tasks; k++) {
		peer_insert_task(db, tt, k, epochs);
		for (int e = 1; e <= epochs; e++) {
			bind_epoch(st, k, e, k);
			if (sqlite3_step(st) != SQLITE_DONE)
				die("sqlite: %s", sqlite3_errmsg(db));
			sqlite3_reset(st);
		}
	}
	sqlite3_finalize(st);
	sqlite3_finalize(tt);
	sqlite3_exec(db, "create unique index tasks_name on tasks(dataflow, task); commit", NULL, NULL, NULL);
	double t = now_s() - t0;
	sqlite3_exec(db, "pragma wal_checkpoint(truncate); analyze", NULL, NULL, NULL);
	sqlite3_close(db);
	return t;
}

/* Raw LMDB puts of the same keys and values the indexer writes for epochs,
 * in the same order, committing every 20,000: the floor of ingest. */
static double lmdb_floor(const char *name)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	dp_path_list l = { 0 };
	dp_decoder dec = { 0 };
	char *dir = path("%s-rawlmdb", name);
	run_shell("rm -rf '%s' && mkdir -p '%s'", dir, dir);
	mdb_env_create(&env);
	mdb_env_set_mapsize(env, 64ull << 30);
	if (mdb_env_open(env, dir, MDB_NOMETASYNC, 0644))
		die("mdb_env_open");
	dp_find_segments(path("%s-logs", name), &l, NULL, NULL);
	double t0 = now_s();
	mdb_txn_begin(env, NULL, 0, &txn);
	mdb_dbi_open(txn, NULL, 0, &dbi);
	long n = 0;
	for (size_t i = 0; i < l.n; i++) {
		dp_segment_header h;
		dp_reader *r;
		dp_frame f;
		dp_problem pb;
		if (dp_reader_open(l.paths[i], 0, &r, &h))
			continue;
		while (dp_reader_next(r, &f, &pb) == DP_READ_RECORD) {
			msgpack_object o;
			if (dp_decode_checked(&dec, f.payload, f.length, &o))
				continue;
			const msgpack_object *e = dp_map_get(&o, "epoch");
			if (!e)
				continue;
			dp_key k;
			dp_key_reset(&k);
			dp_key_cstr(&k, h.dataflow);
			dp_key_cstr(&k, h.task);
			dp_key_i64(&k, (int64_t)e->via.i64);
			MDB_val key = dp_key_val(&k), val = { f.length, (void *)f.payload };
			mdb_put(txn, dbi, &key, &val, 0);
			if (++n % 20000 == 0) {
				mdb_txn_commit(txn);
				mdb_txn_begin(env, NULL, 0, &txn);
			}
		}
		dp_reader_close(r);
	}
	mdb_txn_commit(txn);
	double t = now_s() - t0;
	mdb_env_close(env);
	dp_path_list_free(&l);
	dp_decoder_free(&dec);
	return n ? t / (double)n : 0;
}

static double index_once(const char *name, long *rss)
{
	run_shell("rm -rf '%s'", path("%s-index", name));
	char *argv[] = { (char *)dnnprov_bin, "index", "-c", path("%s.yaml", name), "-q", NULL };
	return run_timed(argv, rss, false);
}

/* ---- 3. ingest -------------------------------------------------------------------------- */

static double ingest_rate; /* records/s of the local catch-up, beside the stream indexer's */

static void bench_ingest(void)
{
	char a[64], b[64], c[64], d[64];
	int tasks = quick ? 1000 : 10000, epochs = 100, runs = 3;
	long records = (long)tasks * epochs;
	generate("ingest", tasks, epochs);
	/* The same logs indexed with every health rule off (docs/STEERING.md):
	 * what the rules, on by default, cost the catch-up. */
	FILE *nf = fopen(path("ingest-norules.yaml"), "w");
	fprintf(nf, "dataflow: bench\nlog_dir: %s\nindex_dir: %s\nmetrics: [loss, accuracy, top5, lr, grad_norm]\n"
		"events: {nan: false, divergence: false, plateau: false, stall: false}\n",
		path("ingest-logs"), path("ingest-norules-index"));
	fclose(nf);
	double ours[3], peer[3], flo[3], off[3];
	long rss;
	for (int i = 0; i < runs; i++) {
		ours[i] = index_once("ingest", &rss);
		off[i] = index_once("ingest-norules", &rss);
		peer[i] = sqlite_load("ingest", tasks, epochs);
		flo[i] = lmdb_floor("ingest");
	}
	double o = records / median(ours, runs), p = records / median(peer, runs);
	ingest_rate = o;
	double f = 1 / median(flo, runs);
	sprintf(a, "%.0f records/s", o);
	sprintf(b, "%.0f records/s", p);
	sprintf(d, "raw LMDB puts %.0f records/s", f);
	char label[128];
	snprintf(label, sizeof(label), "ingest: catch-up of %ld epoch records (whole command) vs SQLite bulk insert", records);
	row(label, a, b, fmt_ratio(o, p, true, c), d, runs);
	double r = records / median(off, runs);
	sprintf(a, "%.0f records/s", o);
	sprintf(b, "%.0f records/s", r);
	snprintf(label, sizeof(label), "ingest: the same catch-up, health rules on (default) vs all off");
	sprintf(c, "%.3f×", o / r); /* the 10% this row is held to needs more than fmt_ratio's one digit */
	row(label, a, b, c, "target ≥ 0.9×", runs);
}

/* ---- 4. lag ------------------------------------------------------------------------------ */

typedef struct lag_state {
	const char *index_dir;
	volatile int done;
	int n;
	double *visible; /* when record i was first seen */
} lag_state;

static void *poller(void *arg)
{
	lag_state *s = arg;
	dp_index *ix = NULL;
	int seen = 0;
	while (!ix && !s->done) {
		if (dp_index_open(s->index_dir, false, NULL, &ix))
			usleep(1000);
	}
	while (ix && seen < s->n) {
		MDB_txn *txn;
		if (dp_index_read(ix, &txn) == 0) {
			/* The epochs the snapshot holds: the task's count. */
			dp_key k;
			MDB_val key, val;
			dp_task_fields f = { 0 };
			dp_key_reset(&k);
			dp_key_cstr(&k, "bench");
			dp_key_cstr(&k, "lag");
			key = dp_key_val(&k);
			if (mdb_get(txn, ix->dbi[DP_DB_TASKS], &key, &val) != 0 ||
			    dp_task_fields_parse(val.mv_data, val.mv_size, &f) != 0)
				f.epochs = 0;
			mdb_txn_abort(txn);
			double t = now_s();
			while (seen < (int)f.epochs && seen < s->n)
				s->visible[seen++] = t;
		}
		if (s->done && seen < s->n) {
			usleep(1000);
			continue;
		}
		usleep(500);
	}
	if (ix)
		dp_index_close(ix);
	return NULL;
}

static const char *nats_urls, *nats_tool; /* a 3-node cluster for the shipping rows, or NULL */

/* The stream and the shipper's state of an earlier row removed: each
 * shipping row starts from an empty stream. */
static void reset_stream(const char *name)
{
	run_shell("'%s' del-stream '%s' DNNPROV && rm -rf '%s' '%s'", nats_tool, nats_urls, path("%s-state", name),
		  path("%s-index", name));
}

/* Follows the logs of `name` into its index: locally, or, with the
 * cluster, through the stream (a shipper and a stream indexer).  Returns
 * the shipper's pid (0 without) in *ship. */
static pid_t start_follower(const char *name, bool stream, pid_t *ship)
{
	*ship = 0;
	if (!stream) {
		char *argv[] = { (char *)dnnprov_bin, "index", "-c", path("%s.yaml", name), "--follow", "-q", NULL };
		return start_bg(argv);
	}
	reset_stream(name);
	char *sargv[] = { (char *)dnnprov_bin, "ship", "--log-dir", path("%s-logs", name), "--state",
			  path("%s-state", name), "--to", (char *)nats_urls, "--follow", "-q", NULL };
	*ship = start_bg(sargv);
	char *iargv[] = { (char *)dnnprov_bin, "index", "--index-dir", path("%s-index", name), "--from",
			  (char *)nats_urls, "--follow", "-q", NULL };
	return start_bg(iargv);
}

static void bench_lag(int rate, bool stream)
{
	char name[32], a[64], b[64];
	snprintf(name, sizeof(name), "lag%d%s", rate, stream ? "-stream" : "");
	run_shell("rm -rf '%s' '%s'", path("%s-logs", name), path("%s-index", name));
	dnnprov_config *cfg = config_for(name, "interval");
	int n = (int)(rate * (quick ? 1.0 : 3.0));
	double *appended = calloc((size_t)n, sizeof(double));
	lag_state s = { path("%s-index", name), 0, n, calloc((size_t)n, sizeof(double)) };
	pid_t ship, pid = start_follower(name, stream, &ship);
	dnnprov_task *t;
	dnnprov_value m[NMETRICS];
	if (dnnprov_task_open(cfg, "lag", &t))
		die("%s", dnnprov_errmsg());
	dnnprov_task_begin(t, NULL, 0);
	usleep(300000); /* the follower is up */
	pthread_t th;
	pthread_create(&th, NULL, poller, &s);
	usleep(200000);
	double t0 = now_s();
	for (int i = 0; i < n; i++) {
		double due = t0 + (double)i / rate;
		while (now_s() < due)
			;
		metrics_for(m, i, 0);
		dnnprov_task_epoch(t, i, 1.0, m, NMETRICS);
		appended[i] = now_s();
	}
	double deadline = now_s() + 5;
	s.done = 1;
	pthread_join(th, NULL);
	(void)deadline;
	stop_bg(pid);
	if (ship)
		stop_bg(ship);
	dnnprov_task_close(t);
	dnnprov_config_free(cfg);
	double *lag = malloc(sizeof(double) * (size_t)n);
	for (int i = 0; i < n; i++)
		lag[i] = s.visible[i] > 0 ? s.visible[i] - appended[i] : 10;
	double p50 = percentile(lag, n, 0.5), p99 = percentile(lag, n, 0.99);
	char label[160], rates[64];
	snprintf(label, sizeof(label), "lag: append to queryable at %d records/s%s, p50 / p99", rate,
		 stream ? " through the stream (ship, 3-node cluster, index --from)" : "");
	snprintf(rates, sizeof(rates), "%s / %s", fmt_ns(p50, a), fmt_ns(p99, b));
	row(label, rates, "—", "—", stream ? "target p99 ≤ 500 ms" : "target p99 ≤ 100 ms", n);
	free(lag);
	free(appended);
	free(s.visible);
}

/* How many events the index at `dir` holds now (0 before it exists). */
static size_t events_stored(const char *dir, dp_index **ix)
{
	MDB_txn *txn;
	MDB_stat st;
	size_t n = 0;
	if (!*ix && dp_index_open(dir, false, NULL, ix))
		return 0;
	if (dp_index_read(*ix, &txn) == 0) {
		if (mdb_stat(txn, (*ix)->dbi[DP_DB_EVENTS], &st) == 0)
			n = st.ms_entries;
		mdb_txn_abort(txn);
	}
	return n;
}

static size_t lines_of(const char *file)
{
	FILE *f = fopen(file, "r");
	size_t n = 0;
	int c;
	if (!f)
		return 0;
	while ((c = getc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

/* Health events (docs/STEERING.md): from the append of an epoch whose
 * metric is NaN to its event in the index a follower keeps, and to the
 * on_event command's standard input, one run at a time. */
static void bench_events(void)
{
	const char *name = "events";
	int n = quick ? 10 : 30;
	char told[1024], index_dir[1024], a[64], b[64], c[64], d[64];
	snprintf(told, sizeof(told), "%s", path("%s-told", name)); /* path()'s buffers are reused */
	snprintf(index_dir, sizeof(index_dir), "%s", path("%s-index", name));
	run_shell("rm -rf '%s' '%s' '%s'", path("%s-logs", name), path("%s-index", name), told);
	FILE *f = fopen(path("%s.yaml", name), "w");
	fprintf(f,
		"dataflow: bench\nlog_dir: %s\nindex_dir: %s\nmetrics: [loss]\n"
		"events:\n  on_event: ['sh', '-c', 'cat >> %s; echo >> %s']\n",
		path("%s-logs", name), path("%s-index", name), told, told);
	fclose(f);
	dnnprov_config *cfg;
	if (dnnprov_config_load(path("%s.yaml", name), &cfg))
		die("%s", dnnprov_errmsg());
	char *argv[] = { (char *)dnnprov_bin, "index", "-c", path("%s.yaml", name), "--follow", "-q", NULL };
	pid_t pid = start_bg(argv);
	usleep(300000);
	double *stored = calloc((size_t)n, sizeof(double)), *heard = calloc((size_t)n, sizeof(double));
	dp_index *ix = NULL;
	for (int i = 0; i < n; i++) {
		char id[32];
		dnnprov_task *t;
		snprintf(id, sizeof(id), "ev%d", i);
		if (dnnprov_task_open(cfg, id, &t) || dnnprov_task_begin(t, NULL, 0))
			die("%s", dnnprov_errmsg());
		for (int e = 1; e <= 3; e++) {
			dnnprov_value m[] = { DNNPROV_V_REAL("loss", e < 3 ? 1.0 / e : NAN) };
			double t0 = now_s();
			if (dnnprov_task_epoch(t, e, 1.0, m, 1))
				die("%s", dnnprov_errmsg());
			if (e < 3)
				continue;
			stored[i] = heard[i] = 10; /* not seen within 10 s */
			bool got_stored = false, got_heard = false;
			while ((!got_stored || !got_heard) && now_s() - t0 < 10) {
				if (!got_stored && events_stored(index_dir, &ix) > (size_t)i) {
					stored[i] = now_s() - t0;
					got_stored = true;
				}
				if (!got_heard && lines_of(told) > (size_t)i) {
					heard[i] = now_s() - t0;
					got_heard = true;
				}
				usleep(500);
			}
		}
		dnnprov_task_end(t, DNNPROV_FINISHED, NULL);
		dnnprov_task_close(t);
	}
	if (ix)
		dp_index_close(ix);
	stop_bg(pid);
	dnnprov_config_free(cfg);
	char v[128];
	snprintf(v, sizeof(v), "%s / %s", fmt_ns(percentile(stored, n, 0.5), a), fmt_ns(percentile(stored, n, 0.99), b));
	row("events: an epoch with a NaN to its stored event, p50 / p99", v, "—", "—", "target ≤ 1 s", n);
	snprintf(v, sizeof(v), "%s / %s", fmt_ns(percentile(heard, n, 0.5), c), fmt_ns(percentile(heard, n, 0.99), d));
	row("events: an epoch with a NaN to the on_event command's input, p50 / p99", v, "—", "—", "target ≤ 1 s", n);
	free(stored);
	free(heard);
}

/* ---- 9. shipping ------------------------------------------------------------------------- */

static void bench_ship(void)
{
	char a[64], b[64], c[64], d[96];
	int tasks = quick ? 1000 : 10000, epochs = 100, runs = 3;
	long records = (long)tasks * epochs;
	double ship[3], from[3];
	/* The ingest row's logs, shipped whole into an empty stream, then read
	 * back by a stream indexer into an empty index.  Without the ingest
	 * section (BENCH_ONLY=ship), its logs and local catch-up are made here:
	 * shipping a folder that is not there would time nothing. */
	if (ingest_rate == 0) {
		double local[3];
		long rss;
		generate("ingest", tasks, epochs);
		for (int i = 0; i < runs; i++)
			local[i] = index_once("ingest", &rss);
		ingest_rate = records / median(local, runs);
	}
	for (int i = 0; i < runs; i++) {
		reset_stream("ship");
		char *sargv[] = { (char *)dnnprov_bin, "ship", "--log-dir", path("ingest-logs"), "--state",
				  path("ship-state"), "--to", (char *)nats_urls, "-q", NULL };
		ship[i] = run_timed(sargv, NULL, true);
		char *iargv[] = { (char *)dnnprov_bin, "index", "--index-dir", path("ship-index"), "--from",
				  (char *)nats_urls, "-q", NULL };
		from[i] = run_timed(iargv, NULL, true);
	}
	double sr = records / median(ship, runs), fr = records / median(from, runs);
	char label[160];
	snprintf(label, sizeof(label), "ship: %ld epoch records to a 3-node JetStream cluster, R=3, file storage (whole command)",
		 records);
	sprintf(a, "%.0f records/s", sr);
	sprintf(d, "target ≥ 100,000 records/s");
	row(label, a, "—", "—", d, runs);
	snprintf(label, sizeof(label), "index --from: the same records from the stream vs local catch-up (row 3)");
	sprintf(a, "%.0f records/s", fr);
	sprintf(b, "%.0f records/s", ingest_rate);
	row(label, a, b, fmt_ratio(fr, ingest_rate, true, c), "—", runs);
	bench_lag(10000, true);
	/* The training process's append, alone and while a shipper and a
	 * stream indexer follow its logs, in the same run. */
	int n = quick ? 2000 : 10000, batches = quick ? 11 : 31;
	double alone = capture_dnnprov("interval", n, batches);
	reset_stream("capture-interval");
	char *sargv[] = { (char *)dnnprov_bin, "ship", "--log-dir", path("capture-interval-logs"), "--state",
			  path("capture-interval-state"), "--to", (char *)nats_urls, "--follow", "-q", NULL };
	char *iargv[] = { (char *)dnnprov_bin, "index", "--index-dir", path("capture-interval-index"), "--from",
			  (char *)nats_urls, "--follow", "-q", NULL };
	pid_t sp = start_bg(sargv), ip = start_bg(iargv);
	usleep(300000);
	double shipped = capture_dnnprov("interval", n, batches);
	stop_bg(sp);
	stop_bg(ip);
	row("capture C, interval, while ship and index --from follow the logs vs alone", fmt_ns(shipped, a),
	    fmt_ns(alone, b), fmt_ratio(shipped, alone, false, c), "the same appends, measured in this run", batches);
}

/* ---- 5, 6, 7. queries, memory, disk ------------------------------------------------------- */

typedef struct qresult {
	double ours[3], peer[3], peer_cli[3]; /* compare, effect, curve */
	long rss[3], anon[3];
	long index_rss, index_anon;
	long long log_bytes, index_bytes, sqlite_bytes;
	long records;
	/* dnnprov sql: best per task through summaries, a full scan
	 * aggregate, one task's epochs; and the sqlite3 shell's scan */
	double sql[3], sql_peer_scan;
	/* dnnprov serve: the first page of runs sorted by a metric, the same
	 * sorted by start (every task loaded), the whole runs command for the
	 * first; a curve; the server's heap and RSS after them */
	double serve_page, serve_page_start, serve_page_cli, serve_curve;
	long serve_anon, serve_rss;
} qresult;

static void bench_serve_at(char *idx, const char *task, int runs, qresult *r)
{
	char curve[128];
	int port, st;
	pid_t pid = serve_start(idx, &port);
	static const char page[] = "/api/runs?df=bench&metric=val_accuracy&sort=-best(val_accuracy)&limit=100";
	static const char page_start[] = "/api/runs?df=bench&metric=val_accuracy&limit=100";
	snprintf(curve, sizeof(curve), "/api/curve?df=bench&task=%s", task);
	http_median(port, page, 2); /* warm the page cache */
	http_median(port, curve, 2);
	r->serve_page = http_median(port, page, runs);
	r->serve_curve = http_median(port, curve, runs);
	/* What the server holds after answering pages and curves: its heap,
	 * and its RSS, which also counts the pages of the index it has read
	 * (the page cache's).  Before the page sorted by start, which loads
	 * every task for the time of its request. */
	r->serve_anon = rss_anon_kb(pid);
	r->serve_page_start = http_median(port, page_start, runs);
	char p[64], line[256];
	snprintf(p, sizeof(p), "/proc/%d/status", (int)pid);
	FILE *f = fopen(p, "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &r->serve_rss) == 1)
			break;
	if (f)
		fclose(f);
	kill(pid, SIGTERM);
	waitpid(pid, &st, 0);
	char *cli[] = { (char *)dnnprov_bin, "runs", "bench", "--index-dir", idx, "--metric", "val_accuracy",
			"--sort", "-best(val_accuracy)", "--limit", "100", "--format", "json", NULL };
	double c[15];
	for (int i = 0; i < runs; i++)
		c[i] = run_timed(cli, NULL, false);
	r->serve_page_cli = median(c, runs);
}

/* SQLite's statements for the questions of the query rows, the fastest
 * found (bench/peers.c says how they were chosen): the epochs aggregated
 * by task, then joined; the curve by its task's key. */
static const char sql_curve[] =
	"select epoch, loss, accuracy, val_loss, val_accuracy, top5, val_top5, lr, grad_norm from epochs "
	"where task_id = (select id from tasks where dataflow = 'bench' and task = '%s') order by epoch";
/* The columns of dnnprov's CSV that answer the same questions. */
static const char *const query_cols[3] = { "task,OPTIMIZER_NAME,LEARNING_RATE,BATCH_SIZE,max(val_accuracy),at_epoch",
					   NULL, "epoch,loss,accuracy,val_loss,val_accuracy,top5,val_top5,lr,grad_norm" };

/* The SQL tables on the same index: the questions of the query rows as
 * SQL, beside the sqlite3 shell on its own indexed tables. */
static const char sql_best[] =
	"select s.task, s.best, h.OPTIMIZER_NAME, h.LEARNING_RATE, h.BATCH_SIZE from summaries s "
	"join bench_hyperparameters h on h.task = s.task where s.dataflow = 'bench' and s.metric = 'val_accuracy' "
	"order by s.best desc";
static const char sql_scan[] = "select task, avg(loss) from epochs group by task";
static const char sql_scan_peer[] = "select t.task, m.a from (select task_id, avg(loss) as a from epochs group by task_id) m "
				    "join tasks t on t.id = m.task_id where t.dataflow = 'bench' order by t.task";

static void bench_sql_at(char *idx, const char *name, const char *task, int runs, qresult *r)
{
	char curve[128], *peer_db = path("%s.sqlite", name);
	snprintf(curve, sizeof(curve), "select * from epochs where task = '%s' order by epoch", task);
	char *cmds[3][9] = {
		{ (char *)dnnprov_bin, "sql", "--index-dir", idx, "--format", "json", (char *)sql_best, NULL },
		{ (char *)dnnprov_bin, "sql", "--index-dir", idx, "--format", "csv", (char *)sql_scan, NULL },
		{ (char *)dnnprov_bin, "sql", "--index-dir", idx, "--format", "json", curve, NULL },
	};
	char *peer[] = { "/usr/bin/sqlite3", "-cmd", (char *)sqlite_mmap, peer_db, (char *)sql_scan_peer, NULL };
	for (int q = 0; q < 3; q++) {
		double o[7];
		run_timed(cmds[q], NULL, false);
		for (int i = 0; i < runs; i++)
			o[i] = run_timed(cmds[q], NULL, false);
		r->sql[q] = median(o, runs);
	}
	double c[7];
	for (int i = 0; i < runs; i++)
		c[i] = access(peer[0], X_OK) == 0 ? run_timed(peer, NULL, false) : NAN;
	r->sql_peer_scan = median(c, runs);
}

static void bench_queries_at(int tasks, int epochs, qresult *r)
{
	char name[32], task[32];
	snprintf(name, sizeof(name), "q%d", tasks);
	snprintf(task, sizeof(task), "t%07d", tasks / 2);
	generate(name, tasks, epochs);
	index_once(name, &r->index_rss);
	r->index_anon = peak_anon_kb;
	sqlite_load(name, tasks, epochs);
	r->records = (long)tasks * epochs;
	r->log_bytes = du_bytes(path("%s-logs", name));
	r->index_bytes = du_bytes(path("%s-index/CURRENT/data.mdb", name));
	r->sqlite_bytes = du_bytes(path("%s.sqlite", name));
	char idx[1024], curve[512]; /* path()'s buffers are reused */
	snprintf(idx, sizeof(idx), "%s", path("%s-index", name));
	char *cmds[3][14] = {
		{ (char *)dnnprov_bin, "compare", "bench", "--index-dir", idx, "--metric", "val_accuracy", "--agg", "max",
		  "--format", "csv", NULL },
		{ (char *)dnnprov_bin, "effect", "bench", "--index-dir", idx, "--hyp", "LEARNING_RATE", "--metric", "val_accuracy",
		  "--format", "csv", NULL },
		{ (char *)dnnprov_bin, "curve", "bench", task, "--index-dir", idx, "--format", "csv", NULL },
	};
	snprintf(curve, sizeof(curve), sql_curve, task);
	const char *sqls[3] = { peer_compare_sqlite, peer_effect_sqlite(), curve };
	sqlite3 *db;
	if (sqlite3_open_v2(path("%s.sqlite", name), &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		die("sqlite open");
	sqlite3_exec(db, sqlite_mmap, NULL, NULL, NULL);
	int runs = tasks >= 100000 ? 3 : 7;
	for (int q = 0; q < 3; q++) {
		double o[7], p[7];
		/* The same answer, checked; the page cache warmed for both. */
		peer_check_sqlite(cmds[q][1], cmds[q], query_cols[q], db, sqls[q]);
		for (int i = 0; i < runs; i++) {
			o[i] = run_piped(cmds[q], NULL);
			p[i] = peer_sqlite_answer(db, sqls[q], NULL);
		}
		run_timed(cmds[q], &r->rss[q], false); /* memory, sampled: not timed */
		r->anon[q] = peak_anon_kb;
		/* The peer as a whole command too: the sqlite3 shell. */
		char *cli[] = { "/usr/bin/sqlite3", "-cmd", (char *)sqlite_mmap, path("%s.sqlite", name), (char *)sqls[q], NULL };
		double c[7];
		for (int i = 0; i < runs; i++)
			c[i] = access(cli[0], X_OK) == 0 ? run_timed(cli, NULL, false) : NAN;
		r->peer_cli[q] = median(c, runs);
		r->ours[q] = median(o, runs);
		r->peer[q] = median(p, runs);
	}
	sqlite3_close(db);
	bench_sql_at(idx, name, task, runs, r);
	bench_serve_at(idx, task, runs, r);
	run_shell("rm -rf '%s' '%s-rawlmdb'", path("%s-logs", name), path("%s", name));
}

static void bench_queries(void)
{
	int sizes_full[3] = { 1000, 10000, 100000 }, sizes_quick[3] = { 100, 1000, 10000 };
	int *sizes = quick ? sizes_quick : sizes_full, epochs = 100;
	qresult r[3];
	static const char *const qnames[3] = { "compare", "effect", "curve" };
	char a[32], b[32], c[32], label[160], note[96];
	memset(r, 0, sizeof(r));
	/* The floor of any whole command: starting a process at all. */
	char *true_argv[] = { "/bin/true", NULL };
	double spawn[9];
	for (int i = 0; i < 9; i++)
		spawn[i] = run_timed(true_argv, NULL, false);
	double spawn_floor = median(spawn, 9);
	for (int s = 0; s < 3; s++)
		bench_queries_at(sizes[s], epochs, &r[s]);
	row_header();
	for (int q = 0; q < 3; q++) {
		for (int s = 0; s < 3; s++) {
			snprintf(label, sizeof(label), "query %s, %d tasks × %d epochs (dnnprov vs sqlite3, whole commands)",
				 qnames[q], sizes[s], epochs);
			double exponent = s ? log(r[s].ours[q] / r[s - 1].ours[q]) / log((double)sizes[s] / sizes[s - 1]) : NAN;
			double pexp = s ? log(r[s].peer[q] / r[s - 1].peer[q]) / log((double)sizes[s] / sizes[s - 1]) : NAN;
			char spawn_s[32], inproc[32];
			double cexp = s ? log(r[s].peer_cli[q] / r[s - 1].peer_cli[q]) / log((double)sizes[s] / sizes[s - 1]) : NAN;
			(void)pexp;
			if (s)
				snprintf(note, sizeof(note), "exponent %.2f (SQLite %.2f); SQLite in-process %s; spawn floor %s",
					 exponent, cexp, fmt_ns(r[s].peer[q], inproc), fmt_ns(spawn_floor, spawn_s));
			else
				snprintf(note, sizeof(note), "SQLite in-process %s; spawn floor %s", fmt_ns(r[s].peer[q], inproc),
					 fmt_ns(spawn_floor, spawn_s));
			/* Whole command against whole command: the sqlite3 shell. */
			row(label, fmt_ns(r[s].ours[q], a), fmt_ns(r[s].peer_cli[q], b),
			    fmt_ratio(r[s].ours[q], r[s].peer_cli[q], false, c), note, sizes[s] >= 100000 ? 3 : 7);
		}
	}
	for (int s = 0; s < 3; s++) {
		char note2[160], d[32];
		snprintf(label, sizeof(label), "SQL: best val_accuracy per task with its hyperparameters (summaries), "
			 "%d tasks (dnnprov sql vs sqlite3)", sizes[s]);
		snprintf(note2, sizeof(note2), "dnnprov compare %s: %.2f× its time (target ≤ 1.5×)", fmt_ns(r[s].ours[0], d),
			 r[s].sql[0] / r[s].ours[0]);
		row(label, fmt_ns(r[s].sql[0], a), fmt_ns(r[s].peer_cli[0], b), fmt_ratio(r[s].sql[0], r[s].peer_cli[0], false, c),
		    note2, sizes[s] >= 100000 ? 3 : 7);
	}
	for (int s = 0; s < 3; s++) {
		snprintf(label, sizeof(label), "SQL: full scan, select task, avg(loss) from epochs group by task, "
			 "%d tasks × %d epochs (vs sqlite3)", sizes[s], epochs);
		row(label, fmt_ns(r[s].sql[1], a), fmt_ns(r[s].sql_peer_scan, b), fmt_ratio(r[s].sql[1], r[s].sql_peer_scan, false, c),
		    "target within 2× of sqlite3", sizes[s] >= 100000 ? 3 : 7);
	}
	for (int s = 0; s < 3; s++) {
		char note2[160];
		snprintf(label, sizeof(label), "SQL: one task's epochs, %d tasks (dnnprov sql vs sqlite3, whole commands)",
			 sizes[s]);
		double exponent = s ? log(r[s].sql[2] / r[s - 1].sql[2]) / log((double)sizes[s] / sizes[s - 1]) : NAN;
		snprintf(note2, sizeof(note2), "target ≤ 5 ms, flat%s%.2f", s ? "; exponent " : "", s ? exponent : 0.0);
		if (!s)
			snprintf(note2, sizeof(note2), "target ≤ 5 ms, flat");
		row(label, fmt_ns(r[s].sql[2], a), fmt_ns(r[s].peer_cli[2], b), fmt_ratio(r[s].sql[2], r[s].peer_cli[2], false, c),
		    note2, sizes[s] >= 100000 ? 3 : 7);
	}
	for (int s = 0; s < 3; s++) {
		char note2[200], d[32], e[32];
		snprintf(label, sizeof(label), "serve: first page of runs sorted by a metric, 100 rows, %d tasks × %d epochs "
			 "(HTTP, JSON)", sizes[s], epochs);
		snprintf(note2, sizeof(note2), "target ≤ 100 ms; sorted by start (every task loaded) %s; the whole "
			 "runs command %s", fmt_ns(r[s].serve_page_start, d), fmt_ns(r[s].serve_page_cli, e));
		row(label, fmt_ns(r[s].serve_page, a), "—", "—", note2, sizes[s] >= 100000 ? 3 : 7);
	}
	for (int s = 0; s < 3; s++) {
		char d[32];
		snprintf(label, sizeof(label), "serve: curve of one run, %d tasks × %d epochs (HTTP, JSON)", sizes[s], epochs);
		snprintf(note, sizeof(note), "target ≤ 10 ms; the curve command %s", fmt_ns(r[s].ours[2], d));
		row(label, fmt_ns(r[s].serve_curve, a), "—", "—", note, sizes[s] >= 100000 ? 3 : 7);
	}
	{
		char mem[200], mem2[200];
		snprintf(mem, sizeof(mem), "heap %.1f, %.1f, %.1f MiB at %d, %d, %d tasks", r[0].serve_anon / 1024.0,
			 r[1].serve_anon / 1024.0, r[2].serve_anon / 1024.0, sizes[0], sizes[1], sizes[2]);
		snprintf(mem2, sizeof(mem2), "target: flat; RSS with the mapped index %ld, %ld, %ld MiB", r[0].serve_rss / 1024,
			 r[1].serve_rss / 1024, r[2].serve_rss / 1024);
		row("memory: dnnprov serve after pages of runs and curves, as the tasks grow ×100", mem, "—", "—", mem2, 1);
	}
	qresult *big = &r[2];
	snprintf(label, sizeof(label), "memory: peak RSS at %d tasks × %d epochs", sizes[2], epochs);
	char rss[160];
	snprintf(rss, sizeof(rss), "heap: indexer %.1f, compare %.1f, effect %.1f, curve %.1f MiB", big->index_anon / 1024.0,
		 big->anon[0] / 1024.0, big->anon[1] / 1024.0, big->anon[2] / 1024.0);
	char rss2[160];
	snprintf(rss2, sizeof(rss2), "RSS with the mapped index: %ld, %ld, %ld, %ld MiB", big->index_rss / 1024,
		 big->rss[0] / 1024, big->rss[1] / 1024, big->rss[2] / 1024);
	row(label, rss, "—", "—", rss2, 1);
	snprintf(rss, sizeof(rss), "heap %.1f MiB at %ld tasks, %.1f MiB at %ld", r[1].index_anon / 1024.0, r[1].records / epochs,
		 r[2].index_anon / 1024.0, r[2].records / epochs);
	row("memory: indexer heap as the tasks (segments) grow ×10", rss, "—", "—", "a state per segment", 1);
	snprintf(label, sizeof(label), "disk: bytes per epoch record (%d tasks × %d epochs)", sizes[2], epochs);
	snprintf(rss, sizeof(rss), "logs %.0f B, index %.0f B", (double)big->log_bytes / big->records,
		 (double)big->index_bytes / big->records);
	snprintf(a, sizeof(a), "SQLite %.0f B", (double)big->sqlite_bytes / big->records);
	row(label, rss, a, "—", "—", 1);
	out_line("\nSQLite's tables: tasks (an integer key, the hyperparameters as columns) and epochs (8 metrics, WITHOUT "
		 "ROWID, keyed by (task_id, epoch)); every connection maps the file (`%s`); every answer of compare, "
		 "effect and curve was checked equal to dnnprov's. Its statements: compare `%s`; effect `%s`; curve "
		 "`%s` (the task's name in place of ?); the full scan `%s`.\n",
		 sqlite_mmap, peer_compare_sqlite, peer_effect_sqlite(), "select epoch, loss, accuracy, val_loss, val_accuracy, "
		 "top5, val_top5, lr, grad_norm from epochs where task_id = (select id from tasks where dataflow = 'bench' and "
		 "task = ?) order by epoch", sql_scan_peer);
}

/* The indexer's heap as the logs grow tenfold with the same tasks: what a
 * long run looks like (the number of segments grows with the tasks, and
 * the row above shows what that costs). */
static void bench_heap_growth(void)
{
	int tasks = quick ? 1000 : 10000;
	long heap[2], sql_heap[2], rss;
	char label[160], v[160];
	char *scan[] = { (char *)dnnprov_bin, "sql", "--index-dir", path("heap-index"), "--format", "csv",
			 (char *)sql_scan, NULL };
	for (int i = 0; i < 2; i++) {
		generate("heap", tasks, i ? 1000 : 100);
		index_once("heap", &rss);
		heap[i] = peak_anon_kb;
		run_timed(scan, &rss, false);
		sql_heap[i] = peak_anon_kb;
	}
	run_shell("rm -rf '%s' '%s'", path("heap-logs"), path("heap-index"));
	snprintf(label, sizeof(label), "memory: indexer heap as the logs grow ×10 (%d tasks, 100 → 1000 epochs)", tasks);
	snprintf(v, sizeof(v), "heap %.1f MiB at %ld records, %.1f MiB at %ld", heap[0] / 1024.0, (long)tasks * 100,
		 heap[1] / 1024.0, (long)tasks * 1000);
	row(label, v, "—", "—", "flat is the target", 1);
	snprintf(label, sizeof(label), "memory: heap of a full-scan SQL query as the epochs grow ×10 (%d tasks, "
		 "100 → 1000 epochs)", tasks);
	snprintf(v, sizeof(v), "heap %.1f MiB at %ld records, %.1f MiB at %ld", sql_heap[0] / 1024.0, (long)tasks * 100,
		 sql_heap[1] / 1024.0, (long)tasks * 1000);
	row(label, v, "—", "—", "select task, avg(loss) from epochs group by task; flat is the target", 1);
}

/* Sections to run, from BENCH_ONLY (names separated by commas; unset:
 * all but tier1m, which needs half an hour and 15 GB): capture, python,
 * ingest, lag, ship, queries, heap, peers, tier1m. */
static bool section(const char *name)
{
	const char *only = getenv("BENCH_ONLY");
	if (!only || !*only)
		return strcmp(name, "tier1m") != 0;
	size_t n = strlen(name);
	for (const char *p = only; (p = strstr(p, name)) != NULL; p += n)
		if ((p == only || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
			return true;
	return false;
}

int main(int argc, char **argv)
{
	int i = 1;
	if (argc > 1 && strcmp(argv[1], "--quick") == 0) {
		quick = true;
		i++;
	}
	if (argc - i < 2) {
		fprintf(stderr, "usage: bench [--quick] WORKDIR DNNPROV [PYTHON_ROWS_COMMAND]\n");
		return 2;
	}
	workdir = argv[i];
	dnnprov_bin = argv[i + 1];
	nats_urls = getenv("DNNPROV_BENCH_NATS");
	nats_tool = getenv("DNNPROV_BENCH_NATS_TOOL");
	if (nats_urls && !nats_tool)
		nats_urls = NULL;
	const char *python_rows = argc - i > 2 ? argv[i + 2] : NULL;
	run_shell("mkdir -p '%s'", workdir);
	table = fopen(path("rows.md"), "w");
	if (section("capture")) {
		section_begin("Capture");
		row_header();
		bench_capture();
		section_end();
	}
	if (python_rows && *python_rows && section("python")) {
		section_begin("Capture from Python");
		row_header();
		if (system(python_rows) != 0)
			fprintf(stderr, "bench: the Python rows failed: %s\n", python_rows);
		section_end();
	}
	if (section("ingest")) {
		section_begin("Ingest");
		row_header();
		bench_ingest();
		section_end();
	}
	if (section("lag")) {
		section_begin("Lag");
		row_header();
		bench_lag(1000, false);
		bench_lag(10000, false);
		bench_events();
		section_end();
	}
	if (section("ship") && nats_urls) {
		section_begin("Shipping");
		row_header();
		bench_ship();
		section_end();
	}
	if (section("queries")) {
		section_begin("Queries as the runs grow, beside SQLite at its best");
		bench_queries();
		section_end();
	}
	if (section("heap")) {
		section_begin("Memory as the logs grow");
		row_header();
		bench_heap_growth();
		section_end();
	}
	if (section("peers"))
		bench_peers();
	if (section("tier1m"))
		bench_tier1m();
	fclose(table);
	return 0;
}
