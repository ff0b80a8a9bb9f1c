/*
 * peers.c - dnnprov beside SQLite and DuckDB, each at its best, on the same
 * runs: 100,000 runs × 100 epochs of 4 metrics (10,000 under QUICK;
 * BENCH_PEERS_RUNS overrides), as a tracker with many runs holds them.
 *
 * The same data three ways:
 * - dnnprov: its logs, written through the C API (facts: false), caught up
 *   by `dnnprov index`; every question asked as a whole command writing
 *   CSV to a pipe this process reads to its end.
 * - SQLite (libsqlite3, in this process, a warm connection): tables shaped
 *   like ours with integer task keys (tasks, epochs WITHOUT ROWID keyed by
 *   (task_id, epoch), summaries keyed by (metric, task_id)) and the indexes
 *   the questions want, bulk inserted in one transaction.
 * - DuckDB (@duckdb/node-api, in a Node process this one talks to): the
 *   same tables loaded from CSV files of the same values, summaries built
 *   from them with one statement; only the query is timed, every value of
 *   every row read into JavaScript.
 * Each peer answers twice where it means something: from its epochs
 * (aggregate, then join) and from its summaries table.  Every answer is
 * checked equal to dnnprov's (numbers to 1e-9) before anything is timed:
 * a difference stops the benchmark.  The contenders take turns in each
 * repetition; the table gives the minimum and the median of each.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench.h"
#include "bench/peers.h"
#include "dnnprov.h"

/* ---- the data ------------------------------------------------------------------------- */

const char *const peer_metrics[PEER_METRICS] = { "loss", "accuracy", "val_loss", "val_accuracy" };
static const char *const optimizers[] = { "SGD", "Adam", "RMSprop" };

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	return x ^ (x >> 33);
}

void peer_values(int k, int e, double m[PEER_METRICS], double *elapsed)
{
	uint64_t r = mix((uint64_t)k * 1000003u + (uint64_t)e);
	double noise = (double)(r % 100000) / 1e6, loss = 2.0 / (e + k % 3) + noise;
	m[0] = loss;
	m[1] = 1.0 - loss / 3;
	m[2] = loss * 1.1 + noise;
	m[3] = 1.0 - loss / 2.5 - noise;
	*elapsed = 10.0 + (double)(r >> 40) / (1 << 24) / 10;
}

static double peer_lr(int k)
{
	return 0.0001 * (1 + (k * 7919) % 100);
}

void peer_config(const char *name)
{
	FILE *f = fopen(path("%s.yaml", name), "w");
	if (!f)
		die("cannot write %s: %s", path("%s.yaml", name), strerror(errno));
	fprintf(f,
		"dataflow: bench\nlog_dir: %s\nindex_dir: %s\n"
		"hyperparameters:\n  OPTIMIZER_NAME: true\n  LEARNING_RATE: true\n  BATCH_SIZE: true\n"
		"metrics: [loss, accuracy, val_loss, val_accuracy]\nfacts: false\nlog:\n  durability: buffered\n",
		path("%s-logs", name), path("%s-index", name));
	fclose(f);
}

dnnprov_task *peer_begin(dnnprov_config *cfg, int k)
{
	dnnprov_task *t;
	char id[32];
	snprintf(id, sizeof(id), "t%07d", k);
	if (dnnprov_task_open(cfg, id, &t))
		die("%s", dnnprov_errmsg());
	dnnprov_value h[3] = { DNNPROV_V_TEXT("OPTIMIZER_NAME", optimizers[k % 3]),
			       DNNPROV_V_REAL("LEARNING_RATE", peer_lr(k)), DNNPROV_V_INT("BATCH_SIZE", 16 << (k % 4)) };
	if (dnnprov_task_begin(t, h, 3))
		die("%s", dnnprov_errmsg());
	return t;
}

void peer_generate_range(const char *name, int first, int end, int epochs, FILE *tasks_csv, FILE *epochs_csv)
{
	dnnprov_config *cfg;
	if (dnnprov_config_load(path("%s.yaml", name), &cfg))
		die("%s", dnnprov_errmsg());
	for (int k = first; k < end; k++) {
		dnnprov_task *t = peer_begin(cfg, k);
		for (int e = 1; e <= epochs; e++) {
			double m[PEER_METRICS], el;
			dnnprov_value v[PEER_METRICS];
			peer_values(k, e, m, &el);
			for (int i = 0; i < PEER_METRICS; i++)
				v[i] = (dnnprov_value)DNNPROV_V_REAL(peer_metrics[i], m[i]);
			if (dnnprov_task_epoch(t, e, el, v, PEER_METRICS))
				die("%s", dnnprov_errmsg());
			if (epochs_csv)
				fprintf(epochs_csv, "%d,%d,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g\n", k, e, 1.7e9 + k + e * 1e-3, el,
					m[0], m[1], m[2], m[3]);
		}
		if (dnnprov_task_end(t, DNNPROV_FINISHED, NULL))
			die("%s", dnnprov_errmsg());
		dnnprov_task_close(t);
		if (tasks_csv)
			fprintf(tasks_csv, "%d,bench,t%07d,FINISHED,%.17g,%.17g,%d,%s,%.17g,%d\n", k, k, 1.7e9 + k,
				1.7e9 + k + epochs * 1e-3, epochs, optimizers[k % 3], peer_lr(k), 16 << (k % 4));
	}
	dnnprov_config_free(cfg);
}

/* The logs of `tasks` runs, one after the other (so that their start times
 * are in task order, as the peers' are), and the same values as CSV for
 * DuckDB. */
static void peer_generate(const char *name, int tasks, int epochs)
{
	run_shell("rm -rf '%s' '%s'", path("%s-logs", name), path("%s-index", name));
	peer_config(name);
	FILE *tc = fopen(path("%s-tasks.csv", name), "w"), *ec = fopen(path("%s-epochs.csv", name), "w");
	if (!tc || !ec)
		die("cannot write the CSV files: %s", strerror(errno));
	static char tbuf[1 << 16], ebuf[1 << 20];
	setvbuf(tc, tbuf, _IOFBF, sizeof(tbuf));
	setvbuf(ec, ebuf, _IOFBF, sizeof(ebuf));
	fprintf(tc, "id,dataflow,task,status,start,end,epochs,OPTIMIZER_NAME,LEARNING_RATE,BATCH_SIZE\n");
	fprintf(ec, "task_id,epoch,time,elapsed,loss,accuracy,val_loss,val_accuracy\n");
	peer_generate_range(name, 0, tasks, epochs, tc, ec);
	if (fclose(tc) || fclose(ec))
		die("cannot write the CSV files: %s", strerror(errno));
}

/* ---- SQLite ---------------------------------------------------------------------------------
 * Tables shaped like dnnprov's (docs/SQL.md) with integer task keys; epochs
 * and summaries are clustered on their keys (WITHOUT ROWID), so grouping
 * epochs by task reads them in order without a sort or a lookup per row.
 * The indexes: a task's name, its start (the runs page) and the summaries
 * by metric and value (a top-k reads 10 entries).  The secondary indexes
 * are built after the rows, which is faster than keeping them during the
 * insert. */
const char peer_tasks_ddl[] =
	"create table tasks(id integer primary key, dataflow text not null, task text not null, status text, "
	"start real, \"end\" real, epochs integer, OPTIMIZER_NAME text, LEARNING_RATE real, BATCH_SIZE integer);";
static const char sqlite_ddl[] =
	"create table epochs(task_id integer not null, epoch integer not null, time real, elapsed real, loss real, "
	"accuracy real, val_loss real, val_accuracy real, primary key(task_id, epoch)) without rowid;"
	"create table summaries(metric text not null, task_id integer not null, n integer, nan_count integer, "
	"min real, min_epoch integer, max real, max_epoch integer, first real, first_epoch integer, last real, "
	"last_epoch integer, mean real, best real, best_epoch integer, primary key(metric, task_id)) without rowid;";
static const char sqlite_indexes[] = "create unique index tasks_name on tasks(dataflow, task);"
				     "create index tasks_start on tasks(dataflow, start);";
static const char sqlite_summary_indexes[] = "create index summaries_max on summaries(metric, max desc);";

typedef struct summary {
	long n;
	double min, max, first, last, sum;
	int min_epoch, max_epoch, first_epoch, last_epoch;
} summary;

static void summary_add(summary *s, int e, double v)
{
	if (!s->n || v < s->min)
		s->min = v, s->min_epoch = e;
	if (!s->n || v > s->max)
		s->max = v, s->max_epoch = e;
	if (!s->n)
		s->first = v, s->first_epoch = e;
	s->last = v, s->last_epoch = e;
	s->sum += v;
	s->n++;
}

static void sqlite_step(sqlite3 *db, sqlite3_stmt *st)
{
	if (sqlite3_step(st) != SQLITE_DONE)
		die("sqlite: %s", sqlite3_errmsg(db));
	sqlite3_reset(st);
}

void peer_insert_task(sqlite3 *db, sqlite3_stmt *tt, int k, int epochs)
{
	char id[32];
	snprintf(id, sizeof(id), "t%07d", k);
	sqlite3_bind_int(tt, 1, k);
	sqlite3_bind_text(tt, 2, "bench", -1, SQLITE_STATIC);
	sqlite3_bind_text(tt, 3, id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(tt, 4, "FINISHED", -1, SQLITE_STATIC);
	sqlite3_bind_double(tt, 5, 1.7e9 + k);
	sqlite3_bind_double(tt, 6, 1.7e9 + k + epochs * 1e-3);
	sqlite3_bind_int(tt, 7, epochs);
	sqlite3_bind_text(tt, 8, optimizers[k % 3], -1, SQLITE_STATIC);
	sqlite3_bind_double(tt, 9, peer_lr(k));
	sqlite3_bind_int(tt, 10, 16 << (k % 4));
	sqlite_step(db, tt);
}

static void sqlite_exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		die("sqlite: %s: %s", err ? err : "?", sql);
}

/* The bulk insert of the same records in one transaction, the summaries
 * computed as the rows go by (as dnnprov's indexer keeps them).  The
 * seconds until the tasks and epochs were in with their indexes, and until
 * the summaries were too. */
static void sqlite_bulk(const char *name, int tasks, int epochs, double *t_epochs, double *t_all)
{
	sqlite3 *db = sqlite_open(path("%s.sqlite", name), "pragma journal_mode=wal; pragma synchronous=normal;");
	sqlite3_stmt *st, *tt, *ss;
	summary *sum = calloc((size_t)tasks * PEER_METRICS, sizeof(summary));
	if (!sum)
		die("out of memory");
	double t0 = now_s();
	sqlite_exec(db, peer_tasks_ddl);
	sqlite_exec(db, sqlite_ddl);
	sqlite_exec(db, "begin");
	sqlite3_prepare_v2(db, "insert into epochs values(?,?,?,?,?,?,?,?)", -1, &st, NULL);
	sqlite3_prepare_v2(db, "insert into tasks values(?,?,?,?,?,?,?,?,?,?)", -1, &tt, NULL);
	for (int k = 0; k < tasks; k++) {
		peer_insert_task(db, tt, k, epochs);
		for (int e = 1; e <= epochs; e++) {
			double m[PEER_METRICS], el;
			peer_values(k, e, m, &el);
			sqlite3_bind_int(st, 1, k);
			sqlite3_bind_int(st, 2, e);
			sqlite3_bind_double(st, 3, 1.7e9 + k + e * 1e-3);
			sqlite3_bind_double(st, 4, el);
			for (int i = 0; i < PEER_METRICS; i++) {
				sqlite3_bind_double(st, 5 + i, m[i]);
				summary_add(&sum[(size_t)i * (size_t)tasks + (size_t)k], e, m[i]);
			}
			sqlite_step(db, st);
		}
	}
	sqlite_exec(db, sqlite_indexes);
	*t_epochs = now_s() - t0;
	double t1 = now_s();
	sqlite3_prepare_v2(db, "insert into summaries values(?,?,?,0,?,?,?,?,?,?,?,?,?,?,?)", -1, &ss, NULL);
	/* In key order: metric (by name), then task. */
	static const int by_name[PEER_METRICS] = { 1, 0, 3, 2 }; /* accuracy, loss, val_accuracy, val_loss */
	for (int j = 0; j < PEER_METRICS; j++) {
		int i = by_name[j];
		bool lower = strstr(peer_metrics[i], "loss") != NULL;
		for (int k = 0; k < tasks; k++) {
			const summary *s = &sum[(size_t)i * (size_t)tasks + (size_t)k];
			sqlite3_bind_text(ss, 1, peer_metrics[i], -1, SQLITE_STATIC);
			sqlite3_bind_int(ss, 2, k);
			sqlite3_bind_int64(ss, 3, s->n);
			sqlite3_bind_double(ss, 4, s->min);
			sqlite3_bind_int(ss, 5, s->min_epoch);
			sqlite3_bind_double(ss, 6, s->max);
			sqlite3_bind_int(ss, 7, s->max_epoch);
			sqlite3_bind_double(ss, 8, s->first);
			sqlite3_bind_int(ss, 9, s->first_epoch);
			sqlite3_bind_double(ss, 10, s->last);
			sqlite3_bind_int(ss, 11, s->last_epoch);
			sqlite3_bind_double(ss, 12, s->sum / (double)s->n);
			sqlite3_bind_double(ss, 13, lower ? s->min : s->max);
			sqlite3_bind_int(ss, 14, lower ? s->min_epoch : s->max_epoch);
			sqlite_step(db, ss);
		}
	}
	sqlite_exec(db, sqlite_summary_indexes);
	sqlite3_finalize(st);
	sqlite3_finalize(tt);
	sqlite3_finalize(ss);
	sqlite_exec(db, "commit");
	*t_all = *t_epochs + (now_s() - t1);
	sqlite_exec(db, "pragma wal_checkpoint(truncate); analyze;");
	sqlite3_close(db);
	free(sum);
}

static volatile double value_sink; /* every value read, none optimised away */

/* Runs sql and reads every column of every row as its type; with out, the
 * rows as CSV (numbers exactly).  Seconds. */
double peer_sqlite_answer(sqlite3 *db, const char *sql, FILE *out)
{
	sqlite3_stmt *st;
	double t0 = now_s();
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		die("sqlite: %s: %s", sqlite3_errmsg(db), sql);
	int rc, n = sqlite3_column_count(st);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		for (int c = 0; c < n; c++) {
			switch (sqlite3_column_type(st, c)) {
			case SQLITE_INTEGER:
				if (out)
					fprintf(out, "%s%lld", c ? "," : "", (long long)sqlite3_column_int64(st, c));
				value_sink += (double)sqlite3_column_int64(st, c);
				break;
			case SQLITE_FLOAT:
				if (out)
					fprintf(out, "%s%.17g", c ? "," : "", sqlite3_column_double(st, c));
				value_sink += sqlite3_column_double(st, c);
				break;
			case SQLITE_NULL:
				if (out)
					fputs(c ? "," : "", out);
				break;
			default:
				if (out)
					fprintf(out, "%s%s", c ? "," : "", (const char *)sqlite3_column_text(st, c));
				value_sink += sqlite3_column_bytes(st, c);
			}
		}
		if (out)
			fputc('\n', out);
	}
	if (rc != SQLITE_DONE)
		die("sqlite: %s: %s", sqlite3_errmsg(db), sql);
	sqlite3_finalize(st);
	return now_s() - t0;
}

/* ---- DuckDB, through Node --------------------------------------------------------------------- */

typedef struct duck {
	pid_t pid;
	FILE *to, *from;
	char reply[4096];
	char *field[8];
	int nfields;
} duck;

static duck duckdb;
static const char *duck_skip; /* why there is no DuckDB column */

/* Starts peer.js (DNNPROV_BENCH_DUCKDB; node from DNNPROV_BENCH_NODE or
 * PATH), or says why not in duck_skip. */
static bool duck_start(void)
{
	const char *script = getenv("DNNPROV_BENCH_DUCKDB"), *node = getenv("DNNPROV_BENCH_NODE");
	if (!script || !*script) {
		duck_skip = getenv("DNNPROV_BENCH_DUCKDB_SKIP");
		if (!duck_skip || !*duck_skip)
			duck_skip = "DNNPROV_BENCH_DUCKDB is not set (tools/bench.sh sets it when Node and the "
				    "@duckdb/node-api package are installed)";
		return false;
	}
	int to[2], from[2];
	if (pipe2(to, O_CLOEXEC) || pipe2(from, O_CLOEXEC))
		die("pipe: %s", strerror(errno));
	posix_spawn_file_actions_t fa;
	extern char **environ;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, to[0], 0);
	posix_spawn_file_actions_adddup2(&fa, from[1], 1);
	char *argv[] = { (char *)(node && *node ? node : "node"), (char *)script, NULL };
	if (posix_spawnp(&duckdb.pid, argv[0], &fa, NULL, argv, environ) != 0)
		die("cannot run %s %s", argv[0], script);
	posix_spawn_file_actions_destroy(&fa);
	close(to[0]);
	close(from[1]);
	duckdb.to = fdopen(to[1], "w");
	duckdb.from = fdopen(from[0], "r");
	return true;
}

/* One request, its reply split into duckdb.field; dies on an error. */
static void duck_ask(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(duckdb.to, fmt, ap);
	va_end(ap);
	fputc('\n', duckdb.to);
	fflush(duckdb.to);
	if (!fgets(duckdb.reply, sizeof(duckdb.reply), duckdb.from))
		die("DuckDB (peer.js) stopped answering");
	duckdb.reply[strcspn(duckdb.reply, "\n")] = '\0';
	duckdb.nfields = 0;
	for (char *p = duckdb.reply, *tok; duckdb.nfields < 8 && (tok = strsep(&p, "\t"));)
		duckdb.field[duckdb.nfields++] = tok;
	if (strcmp(duckdb.field[0], "ok") != 0)
		die("DuckDB: %s", duckdb.nfields > 1 ? duckdb.field[1] : duckdb.reply);
}

static void duck_stop(void)
{
	if (!duckdb.pid)
		return;
	fputs("quit\n", duckdb.to);
	fclose(duckdb.to);
	fclose(duckdb.from);
	waitpid(duckdb.pid, NULL, 0);
	duckdb.pid = 0;
}

/* ---- answers, checked equal -------------------------------------------------------------------- */

/* An answer as lines of comma-separated fields, no header. */
typedef struct answer {
	char *text;
	char **line;
	int n;
} answer;

static void answer_split(answer *a)
{
	int cap = 64;
	a->line = malloc(sizeof(char *) * (size_t)cap);
	a->n = 0;
	for (char *p = a->text; *p;) {
		char *nl = strchr(p, '\n');
		if (nl) {
			*nl = '\0';
			if (nl > p && nl[-1] == '\r') /* CSV's CRLF */
				nl[-1] = '\0';
		}
		if (a->n == cap)
			a->line = realloc(a->line, sizeof(char *) * (size_t)(cap *= 2));
		a->line[a->n++] = p;
		if (!nl)
			break;
		p = nl + 1;
	}
}

static void answer_free(answer *a)
{
	free(a->text);
	free(a->line);
	memset(a, 0, sizeof(*a));
}

static char *slurp(const char *file)
{
	FILE *f = fopen(file, "r");
	if (!f)
		die("cannot read %s: %s", file, strerror(errno));
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	rewind(f);
	char *s = malloc((size_t)n + 1);
	if (!s || fread(s, 1, (size_t)n, f) != (size_t)n)
		die("cannot read %s", file);
	s[n] = '\0';
	fclose(f);
	return s;
}

/* dnnprov's CSV, reduced to the columns named in `cols` (comma-separated;
 * NULL: every column), in that order. */
static void answer_from_csv(answer *a, char *csv, const char *cols)
{
	answer in = { .text = csv };
	size_t cap = strlen(csv) + 2, len = 0;
	answer_split(&in);
	if (in.n == 0)
		die("an empty answer");
	int pick[32], np = 0;
	char header[4096], want[1024];
	snprintf(header, sizeof(header), "%s", in.line[0]);
	if (cols) {
		snprintf(want, sizeof(want), "%s", cols);
		for (char *w = want, *name; np < (int)(sizeof(pick) / sizeof(pick[0])) && (name = strsep(&w, ","));) {
			int i = 0, found = -1;
			char h[4096], *hp = h, *hn;
			snprintf(h, sizeof(h), "%s", header);
			while ((hn = strsep(&hp, ","))) {
				if (strcmp(hn, name) == 0)
					found = i;
				i++;
			}
			if (found < 0)
				die("no column %s in dnnprov's answer (%s)", name, header);
			pick[np++] = found;
		}
	}
	a->text = malloc(cap);
	for (int r = 1; r < in.n; r++) {
		char *f[64], *p = in.line[r], *tok;
		int nf = 0;
		while (nf < 64 && (tok = strsep(&p, ",")))
			f[nf++] = tok;
		if (!cols)
			for (np = 0; np < nf && np < (int)(sizeof(pick) / sizeof(pick[0])); np++)
				pick[np] = np;
		for (int i = 0; i < np; i++) {
			const char *v = pick[i] < nf ? f[pick[i]] : "";
			len += (size_t)snprintf(a->text + len, cap - len, "%s%s", i ? "," : "", v);
		}
		len += (size_t)snprintf(a->text + len, cap - len, "\n");
	}
	a->text[len] = '\0';
	free(in.line);
	free(csv);
	answer_split(a);
}

static bool number(const char *s, double *v)
{
	char *end;
	if (!*s)
		return false;
	*v = strtod(s, &end);
	return *end == '\0';
}

/* Fields equal: the same text, or numbers within 1e-9 (relative above 1);
 * "A .. B" (an effect bin) compared as its two numbers. */
static bool field_equal(const char *a, const char *b)
{
	double x, y;
	if (strcmp(a, b) == 0)
		return true;
	if (number(a, &x) && number(b, &y))
		return fabs(x - y) <= 1e-9 * fmax(1.0, fmax(fabs(x), fabs(y)));
	const char *da = strstr(a, " .. "), *db = strstr(b, " .. ");
	if (da && db) {
		char la[64], lb[64];
		snprintf(la, sizeof(la), "%.*s", (int)(da - a), a);
		snprintf(lb, sizeof(lb), "%.*s", (int)(db - b), b);
		return field_equal(la, lb) && field_equal(da + 4, db + 4);
	}
	return false;
}

/* Stops the benchmark when b is not a's answer. */
static void answer_check(const char *question, const char *an, const answer *a, const char *bn, const answer *b)
{
	if (a->n != b->n)
		die("%s: %s answered %d rows, %s %d: the answers differ", question, an, a->n, bn, b->n);
	for (int r = 0; r < a->n; r++) {
		char la[4096], lb[4096], *pa = la, *pb = lb, *fa, *fb;
		snprintf(la, sizeof(la), "%s", a->line[r]);
		snprintf(lb, sizeof(lb), "%s", b->line[r]);
		for (int c = 0;; c++) {
			fa = strsep(&pa, ",");
			fb = strsep(&pb, ",");
			if (!fa && !fb)
				break;
			if (!fa || !fb || !field_equal(fa, fb))
				die("%s: the answers differ at row %d, column %d:\n  %s: %s\n  %s: %s", question, r + 1, c + 1,
				    an, a->line[r], bn, b->line[r]);
		}
	}
}

/* ---- the questions ------------------------------------------------------------------------------ */

enum { PEER_SQLITE_EPOCHS, PEER_SQLITE_SUMMARIES, PEER_DUCK_EPOCHS, PEER_DUCK_SUMMARIES, NPEERS };
static const char *const peer_names[NPEERS] = { "SQLite, epochs", "SQLite, summaries", "DuckDB, epochs",
						"DuckDB, summaries" };

typedef struct question {
	const char *name;
	const char *idx; /* the index it asks */
	char *cmd[16]; /* dnnprov, a whole command writing CSV */
	const char *cols; /* the columns of its CSV the peers answer */
	const char *sql_name; /* a second dnnprov row: `dnnprov sql` with ... */
	char *sql; /* ... this statement over the same index */
	char *peer[NPEERS]; /* NULL: not a question for that peer */
	int foot[NPEERS + 1]; /* the statements' footnotes */
	/* seconds: [0] dnnprov, [1] dnnprov sql, [2 + p] peer p */
	double t[NPEERS + 2][DP_BENCH_MAX_RUNS];
	long heap_kb;
} question;

/* The binned effect of a hyperparameter x on a value y, as `dnnprov
 * effect` computes it: 5 bins of about equal size that never split a value
 * (a value's bin from the number of runs before it), a row per bin, the
 * best run the first of the tied in the order of x, then name (the order
 * effect walks a bin in), Spearman's rho with average ranks; from
 * a CTE v(name, x, y).  The ranks come from grouping by each value (faster
 * in both engines than rank() over a window, and the bins come with them).
 * SQLite has no stddev or corr, so its statement computes them; DuckDB's
 * uses its own. */
static const char effect_common[] =
	"n as (select count(*) as n from v), "
	"xr as (select x, count(*) as c, sum(count(*)) over (order by x) - count(*) as f from v group by x), "
	"yr as (select y, count(*) as c, sum(count(*)) over (order by y) - count(*) as f from v group by y), "
	"b as (select x, f + (c + 1) / 2.0 as rx, cast(f >= cast(n * 1 / 5.0 + 0.5 as integer) as integer) + "
	"cast(f >= cast(n * 2 / 5.0 + 0.5 as integer) as integer) + cast(f >= cast(n * 3 / 5.0 + 0.5 as integer) as integer) + "
	"cast(f >= cast(n * 4 / 5.0 + 0.5 as integer) as integer) as bin from xr, n), "
	"r as (select v.name, v.x, v.y, b.bin, b.rx, yr.f + (yr.c + 1) / 2.0 as ry from v join b using (x) join yr using (y)), ";
static const char effect_sqlite[] =
	"m as (select bin, avg(y) as mean, max(y) as top from r group by bin), "
	"c as (select (sum(rx * ry) - sum(rx) * sum(ry) / count(*)) / sqrt((sum(rx * rx) - sum(rx) * sum(rx) / count(*)) * "
	"(sum(ry * ry) - sum(ry) * sum(ry) / count(*))) as rho from r) "
	"select printf('%.4g .. %.4g', min(r.x), max(r.x)), count(*), count(r.y), m.mean, "
	"sqrt(sum((r.y - m.mean) * (r.y - m.mean)) / (count(r.y) - 1)), min(r.y), max(r.y), "
	"(select r2.name from r r2 where r2.bin = r.bin and r2.y = m.top order by r2.x, r2.name limit 1), "
	"(select rho from c) from r join m using (bin) group by r.bin, m.mean, m.top order by r.bin";
static const char effect_duck[] =
	"m as (select bin, max(y) as top from r group by bin), c as (select corr(rx, ry) as rho from r) "
	"select printf('%.4g .. %.4g', min(r.x), max(r.x)), count(*), count(r.y), avg(r.y), stddev_samp(r.y), min(r.y), "
	"max(r.y), arg_min(r.name, {'x': r.x, 'name': r.name}) filter (where r.y = m.top), (select rho from c) "
	"from r join m using (bin) group by r.bin order by r.bin";

/* SQLite's bare column (`epoch` beside `max()`) is the epoch of the
 * row that holds the maximum: dnnprov's at_epoch. */
const char peer_compare_sqlite[] =
	"select t.task, t.OPTIMIZER_NAME, t.LEARNING_RATE, t.BATCH_SIZE, m.best, m.at_epoch from "
	"(select task_id, max(val_accuracy) as best, epoch as at_epoch from epochs group by task_id) m "
	"join tasks t on t.id = m.task_id where t.dataflow = 'bench' order by m.best desc, t.id";
static const char eff_epochs[] = "select t.task as name, t.LEARNING_RATE as x, m.y from tasks t join "
				 "(select task_id, max(val_accuracy) as y from epochs group by task_id) m on m.task_id = t.id "
				 "where t.dataflow = 'bench'";
const char sqlite_mmap[] = "pragma mmap_size=68719476736";

static char *str(const char *fmt, ...)
{
	char *s;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		die("out of memory");
	va_end(ap);
	return s;
}

static char *effect_sql(const char *v, const char *tail)
{
	return str("with v as (%s), %s%s", v, effect_common, tail);
}

const char *peer_effect_sqlite(void)
{
	static char *sql;
	if (!sql)
		sql = effect_sql(eff_epochs, effect_sqlite);
	return sql;
}

static int make_questions(question *q, const char *name, int tasks, const char *task)
{
	static char idx[1024]; /* path()'s buffers are reused */
	snprintf(idx, sizeof(idx), "%s", path("%s-index", name));
	int n = 0;
#define CMD(...)                                                                     \
	{                                                                            \
		char *a[] = { (char *)dnnprov_bin, __VA_ARGS__, NULL };              \
		for (size_t i = 0; i < sizeof(a) / sizeof(a[0]); i++)                \
			q[n].cmd[i] = a[i] ? strdup(a[i]) : NULL;                    \
		q[n].idx = idx;                                                      \
	}
	/* The best val_accuracy of every run, with its epoch and
	 * hyperparameters, best first (ties by task). */
	static const char cmp_epochs_duck[] =
		"select t.task, t.OPTIMIZER_NAME, t.LEARNING_RATE, t.BATCH_SIZE, m.best, m.at_epoch from "
		"(select task_id, max(val_accuracy) as best, arg_max(epoch, val_accuracy) as at_epoch from epochs "
		"group by task_id) m join tasks t on t.id = m.task_id where t.dataflow = 'bench' order by m.best desc, t.id";
	static const char cmp_summaries[] =
		"select t.task, t.OPTIMIZER_NAME, t.LEARNING_RATE, t.BATCH_SIZE, s.max, s.max_epoch from summaries s "
		"join tasks t on t.id = s.task_id where s.metric = 'val_accuracy' and t.dataflow = 'bench' "
		"order by s.max desc, s.task_id";
	static const char cmp_summaries_ordered[] =
		"select t.task, t.OPTIMIZER_NAME, t.LEARNING_RATE, t.BATCH_SIZE, s.max, s.max_epoch from summaries s "
		"cross join tasks t on t.id = s.task_id where s.metric = 'val_accuracy' and t.dataflow = 'bench' "
		"order by s.max desc, s.task_id";
	static const char cmp_ours[] =
		"select s.task, h.OPTIMIZER_NAME, h.LEARNING_RATE, h.BATCH_SIZE, s.max, s.max_epoch from summaries s "
		"join bench_hyperparameters h on h.task = s.task where s.dataflow = 'bench' and s.metric = 'val_accuracy' "
		"order by s.max desc, s.task";
	static const char cmp_cols[] = "task,OPTIMIZER_NAME,LEARNING_RATE,BATCH_SIZE,max(val_accuracy),at_epoch";

	q[n] = (question){ .name = "compare --agg max, every row as CSV", .cols = cmp_cols,
			   .sql_name = "dnnprov sql: the same compare from summaries", .sql = strdup(cmp_ours) };
	CMD("compare", "bench", "--index-dir", idx, "--metric", "val_accuracy", "--agg", "max", "--format", "csv");
	q[n].peer[PEER_SQLITE_EPOCHS] = strdup(peer_compare_sqlite);
	q[n].peer[PEER_SQLITE_SUMMARIES] = strdup(cmp_summaries);
	q[n].peer[PEER_DUCK_EPOCHS] = strdup(cmp_epochs_duck);
	q[n].peer[PEER_DUCK_SUMMARIES] = strdup(cmp_summaries);
	n++;

	q[n] = (question){ .name = "compare --agg max --limit 10", .cols = cmp_cols };
	CMD("compare", "bench", "--index-dir", idx, "--metric", "val_accuracy", "--agg", "max", "--limit", "10",
	    "--format", "csv");
	q[n].peer[PEER_SQLITE_EPOCHS] = str("%s limit 10", peer_compare_sqlite);
	/* SQLite's planner scans the tasks first and sorts all of them; CROSS
	 * JOIN (its documented way to fix the order of a join) makes it walk
	 * the summaries' index by value and stop after 10. */
	q[n].peer[PEER_SQLITE_SUMMARIES] = str("%s limit 10", cmp_summaries_ordered);
	q[n].peer[PEER_DUCK_EPOCHS] = str("%s limit 10", cmp_epochs_duck);
	q[n].peer[PEER_DUCK_SUMMARIES] = str("%s limit 10", cmp_summaries);
	n++;

	/* The first runs by start, with the last and best val_loss. */
	static const char runs_epochs[] =
		"select t.task, t.status, t.epochs, t.OPTIMIZER_NAME, t.LEARNING_RATE, t.BATCH_SIZE, "
		"(select val_loss from epochs e where e.task_id = t.id order by e.epoch desc limit 1), "
		"(select min(val_loss) from epochs e where e.task_id = t.id) "
		"from tasks t where t.dataflow = 'bench' order by t.start, t.id limit 10";
	static const char runs_epochs_duck[] =
		"with t as (select * from tasks where dataflow = 'bench' order by start, id limit 10) "
		"select t.task, t.status, t.epochs, t.OPTIMIZER_NAME, t.LEARNING_RATE, t.BATCH_SIZE, "
		"arg_max(e.val_loss, e.epoch), min(e.val_loss) from t join epochs e on e.task_id = t.id "
		"group by t.id, t.start, t.task, t.status, t.epochs, t.OPTIMIZER_NAME, t.LEARNING_RATE, t.BATCH_SIZE "
		"order by t.start, t.id";
	static const char runs_summaries[] =
		"select t.task, t.status, t.epochs, t.OPTIMIZER_NAME, t.LEARNING_RATE, t.BATCH_SIZE, s.last, s.best from "
		"(select * from tasks where dataflow = 'bench' order by start, id limit 10) t "
		"join summaries s on s.metric = 'val_loss' and s.task_id = t.id order by t.start, t.id";
	q[n] = (question){ .name = "runs --limit 10",
			   .cols = "task,status,epochs,OPTIMIZER_NAME,LEARNING_RATE,BATCH_SIZE,last(val_loss),best(val_loss)" };
	CMD("runs", "bench", "--index-dir", idx, "--limit", "10", "--format", "csv");
	q[n].peer[PEER_SQLITE_EPOCHS] = strdup(runs_epochs);
	q[n].peer[PEER_SQLITE_SUMMARIES] = strdup(runs_summaries);
	/* DuckDB runs the correlated subqueries as aggregates over every
	 * epoch (50 times slower): the 10 runs first, then their epochs. */
	q[n].peer[PEER_DUCK_EPOCHS] = strdup(runs_epochs_duck);
	q[n].peer[PEER_DUCK_SUMMARIES] = strdup(runs_summaries);
	n++;

	static const char eff_summaries[] =
		"select t.task as name, t.LEARNING_RATE as x, s.max as y from summaries s join tasks t "
		"on t.id = s.task_id where s.metric = 'val_accuracy' and t.dataflow = 'bench'";
	static const char eff_ours[] =
		"select s.task as name, h.LEARNING_RATE as x, s.max as y from summaries s "
		"join bench_hyperparameters h on h.task = s.task where s.dataflow = 'bench' and s.metric = 'val_accuracy'";
	q[n] = (question){ .name = "effect --hyp LEARNING_RATE", .sql_name = "dnnprov sql: the same effect from summaries",
			   .sql = effect_sql(eff_ours, effect_sqlite) };
	CMD("effect", "bench", "--index-dir", idx, "--hyp", "LEARNING_RATE", "--metric", "val_accuracy", "--format",
	    "csv");
	q[n].peer[PEER_SQLITE_EPOCHS] = effect_sql(eff_epochs, effect_sqlite);
	q[n].peer[PEER_SQLITE_SUMMARIES] = effect_sql(eff_summaries, effect_sqlite);
	q[n].peer[PEER_DUCK_EPOCHS] = effect_sql(eff_epochs, effect_duck);
	q[n].peer[PEER_DUCK_SUMMARIES] = effect_sql(eff_summaries, effect_duck);
	n++;

	q[n] = (question){ .name = "curve of one run", .cols = "epoch,elapsed,loss,accuracy,val_loss,val_accuracy" };
	CMD("curve", "bench", (char *)task, "--index-dir", idx, "--format", "csv");
	char *curve = str("select epoch, elapsed, loss, accuracy, val_loss, val_accuracy from epochs where task_id = "
			  "(select id from tasks where dataflow = 'bench' and task = '%s') order by epoch",
			  task);
	q[n].peer[PEER_SQLITE_EPOCHS] = curve;
	q[n].peer[PEER_DUCK_EPOCHS] = str("select e.epoch, e.elapsed, e.loss, e.accuracy, e.val_loss, e.val_accuracy from "
					  "epochs e join tasks t on t.id = e.task_id where t.dataflow = 'bench' and "
					  "t.task = '%s' order by e.epoch",
					  task);
	n++;
#undef CMD
	(void)tasks;
	return n;
}

static void question_free(question *q)
{
	for (int i = 0; q->cmd[i]; i++)
		free(q->cmd[i]);
	free(q->sql);
	for (int p = 0; p < NPEERS; p++)
		free(q->peer[p]);
}

/* ---- the table ------------------------------------------------------------------------------------ */

static const char *fmt_cell(const double *t, int runs, char *buf)
{
	char a[32], b[32];
	double v[DP_BENCH_MAX_RUNS];
	memcpy(v, t, sizeof(double) * (size_t)runs);
	snprintf(buf, 80, "%s / %s", fmt_ns(min_of(v, runs), a), fmt_ns(median(v, runs), b));
	return buf;
}

static void peers_header(void)
{
	out_line("| question | dnnprov, min / median | %s | %s | %s | %s | dnnprov ÷ the fastest peer (medians) | runs |\n",
		 peer_names[0], peer_names[1], peer_names[2], peer_names[3]);
	out_line("|---|---|---|---|---|---|---|---|\n");
}

/* The statements, each once, numbered as the table cites them. */
typedef struct footnotes {
	const char *text[64];
	int n;
} footnotes;

static int footnote(footnotes *f, const char *sql)
{
	for (int i = 0; i < f->n; i++)
		if (strcmp(f->text[i], sql) == 0)
			return i + 1;
	f->text[f->n] = sql;
	return ++f->n;
}

static void question_row(const question *q, int which, int runs)
{
	char ours[80], cell[NPEERS][120], ratio[96], label[256];
	double best = INFINITY, m;
	int bestp = -1;
	fmt_cell(q->t[which], runs, ours);
	for (int p = 0; p < NPEERS; p++) {
		if (!q->peer[p] || (p >= PEER_DUCK_EPOCHS && duck_skip)) {
			snprintf(cell[p], sizeof(cell[p]), "—");
			continue;
		}
		char c[80];
		double v[DP_BENCH_MAX_RUNS];
		memcpy(v, q->t[2 + p], sizeof(double) * (size_t)runs);
		m = median(v, runs);
		if (m < best)
			best = m, bestp = p;
		snprintf(cell[p], sizeof(cell[p]), "%s [%d]", fmt_cell(q->t[2 + p], runs, c), q->foot[p]);
	}
	double v[DP_BENCH_MAX_RUNS];
	memcpy(v, q->t[which], sizeof(double) * (size_t)runs);
	if (bestp >= 0)
		snprintf(ratio, sizeof(ratio), "%.2f× (%s)", median(v, runs) / best, peer_names[bestp]);
	else
		snprintf(ratio, sizeof(ratio), "—");
	if (which == 0)
		snprintf(label, sizeof(label), "`%s`", q->name);
	else
		snprintf(label, sizeof(label), "%s [%d]", q->sql_name, q->foot[NPEERS]);
	out_line("| %s | %s | %s | %s | %s | %s | %s | %d |\n", label, ours, cell[0], cell[1], cell[2], cell[3], ratio,
		 runs);
}

/* ---- measuring -------------------------------------------------------------------------------------- */

void peer_check_sqlite(const char *what, char *const cmd[], const char *cols, sqlite3 *db, const char *sql)
{
	char *csv, *file = path("answer-check.csv");
	answer ref = { 0 }, other = { 0 };
	run_piped(cmd, &csv);
	answer_from_csv(&ref, csv, cols);
	FILE *f = fopen(file, "w");
	if (!f)
		die("cannot write %s: %s", file, strerror(errno));
	peer_sqlite_answer(db, sql, f);
	fclose(f);
	other.text = slurp(file);
	answer_split(&other);
	answer_check(what, "dnnprov", &ref, "SQLite", &other);
	answer_free(&ref);
	answer_free(&other);
}

/* dnnprov's answer and each peer's, checked equal; then `runs` turns of
 * every contender. */
static void measure_question(question *q, sqlite3 *db, int runs)
{
	char *csv, file[1100];
	answer ref = { 0 }, other = { 0 };
	run_piped(q->cmd, &csv); /* warms the page cache too */
	answer_from_csv(&ref, csv, q->cols);
	if (q->sql) {
		char *argv[] = { (char *)dnnprov_bin, "sql", "--index-dir", (char *)q->idx, "--format", "csv", q->sql, NULL };
		run_piped(argv, &csv);
		answer_from_csv(&other, csv, NULL);
		answer_check(q->name, "dnnprov", &ref, "dnnprov sql", &other);
		answer_free(&other);
	}
	for (int p = 0; p < NPEERS; p++) {
		if (!q->peer[p] || (p >= PEER_DUCK_EPOCHS && duck_skip))
			continue;
		snprintf(file, sizeof(file), "%s", path("answer-%d.csv", p));
		if (p < PEER_DUCK_EPOCHS) {
			FILE *f = fopen(file, "w");
			peer_sqlite_answer(db, q->peer[p], f);
			fclose(f);
		} else {
			duck_ask("answer\t%s\t%s", file, q->peer[p]);
		}
		other.text = slurp(file);
		answer_split(&other);
		answer_check(q->name, "dnnprov", &ref, peer_names[p], &other);
		answer_free(&other);
	}
	answer_free(&ref);
	for (int i = 0; i < runs; i++) {
		q->t[0][i] = run_piped(q->cmd, NULL);
		if (q->sql) {
			char *argv[] = { (char *)dnnprov_bin, "sql", "--index-dir", (char *)q->idx, "--format", "csv", q->sql, NULL };
			q->t[1][i] = run_piped(argv, NULL);
		}
		for (int p = 0; p < NPEERS; p++) {
			if (!q->peer[p] || (p >= PEER_DUCK_EPOCHS && duck_skip))
				continue;
			if (p < PEER_DUCK_EPOCHS) {
				q->t[2 + p][i] = peer_sqlite_answer(db, q->peer[p], NULL);
			} else {
				duck_ask("time\t%s", q->peer[p]);
				q->t[2 + p][i] = strtod(duckdb.field[1], NULL);
			}
		}
	}
	long rss;
	run_timed(q->cmd, &rss, true);
	q->heap_kb = peak_anon_kb;
}

/* A query's seconds while its freshness check is what is measured. */
typedef struct fresh_row {
	const char *label, *note;
	double t[DP_BENCH_MAX_RUNS];
} fresh_row;

static fresh_row fresh[3];
static int fresh_runs;

static void freshness_measure(fresh_row *r, const char *label, char *const argv[], const char *note)
{
	r->label = label;
	r->note = note;
	for (int i = 0; i < fresh_runs; i++)
		r->t[i] = run_piped(argv, NULL);
}

/* What the freshness check costs: a row's median beside the follower's,
 * whose check asks the lock and looks at no log. */
static void freshness_print(void)
{
	char cell[80], note[256];
	double v[DP_BENCH_MAX_RUNS];
	memcpy(v, fresh[2].t, sizeof(double) * (size_t)fresh_runs);
	double follower = median(v, fresh_runs);
	for (int i = 0; i < 3; i++) {
		memcpy(v, fresh[i].t, sizeof(double) * (size_t)fresh_runs);
		if (i < 2)
			snprintf(note, sizeof(note), "%s; the check: %+.1f ms beside the follower's row", fresh[i].note,
				 (median(v, fresh_runs) - follower) * 1e3);
		else
			snprintf(note, sizeof(note), "%s", fresh[i].note);
		out_line("| %s | %s (first %.1f ms) | — | — | — | — | %s | %d |\n", fresh[i].label,
			 fmt_cell(fresh[i].t, fresh_runs, cell), fresh[i].t[0] * 1e3, note, fresh_runs);
	}
}

/* Waits until the process has used no CPU for 300 ms: a follower that has
 * caught up. */
static void wait_idle(pid_t pid)
{
	char p[64];
	long last = -1;
	snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
	for (int i = 0; i < 600; i++) {
		usleep(300000);
		FILE *f = fopen(p, "r");
		long ut = 0, st = 0;
		if (!f || fscanf(f, "%*d (%*[^)]) %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld", &ut, &st) != 2)
			die("the follower (pid %d) stopped", (int)pid);
		fclose(f);
		if (ut + st == last)
			return;
		last = ut + st;
	}
}

static int peers_runs(void)
{
	const char *env = getenv("BENCH_PEERS_RUNS");
	int n = env && *env ? atoi(env) : quick ? 10000 : 100000;
	if (n < 100)
		die("BENCH_PEERS_RUNS: %s runs are too few (100 at least)", env);
	return n;
}

/* A catch-up beside SQLite's bulk insert and DuckDB's CSV load of the same
 * records; the sizes of what each keeps. */
typedef struct ingest {
	double ours, sqlite_epochs, sqlite_all, duck_load, duck_summaries;
	long long index_bytes, sqlite_bytes, duck_bytes, log_disk, log_apparent, csv_bytes;
} ingest;

static void ingest_run(const char *name, int tasks, int epochs, ingest *r, void (*after_catch_up)(const char *))
{
	char *argv[] = { (char *)dnnprov_bin, "index", "-c", path("%s.yaml", name), "-q", NULL };
	/* The catch-up follows the writes at once, as after a sweep: the
	 * freshness rows need logs written within the second before it. */
	peer_generate(name, tasks, epochs);
	r->ours = run_timed(argv, NULL, false);
	if (after_catch_up)
		after_catch_up(name);
	sqlite_bulk(name, tasks, epochs, &r->sqlite_epochs, &r->sqlite_all);
	if (!duck_skip) {
		run_shell("rm -f '%s'", path("%s.duckdb", name));
		duck_ask("open\t%s", path("%s.duckdb", name));
		duck_ask("load\t%s\t%s", path("%s-tasks.csv", name), path("%s-epochs.csv", name));
		r->duck_load = strtod(duckdb.field[1], NULL);
		r->duck_summaries = r->duck_load + strtod(duckdb.field[2], NULL);
		r->duck_bytes = atoll(duckdb.field[3]);
	}
	r->index_bytes = du_bytes(path("%s-index/CURRENT/data.mdb", name));
	r->sqlite_bytes = du_bytes(path("%s.sqlite", name));
	r->log_disk = du_disk_bytes(path("%s-logs", name));
	r->log_apparent = du_bytes(path("%s-logs", name));
	r->csv_bytes = du_bytes(path("%s-tasks.csv", name)) + du_bytes(path("%s-epochs.csv", name));
}

static void ingest_row(const char *label, const ingest *r, long records)
{
	char c[4][64], ratio[96];
	double peers[4] = { r->sqlite_epochs, r->sqlite_all, r->duck_load, r->duck_summaries }, best = INFINITY;
	int bp = 0;
	for (int p = 0; p < 4; p++) {
		if (p >= 2 && duck_skip) {
			snprintf(c[p], sizeof(c[p]), "—");
			continue;
		}
		snprintf(c[p], sizeof(c[p]), "%.0f records/s", (double)records / peers[p]);
		if (peers[p] < best)
			best = peers[p], bp = p;
	}
	snprintf(ratio, sizeof(ratio), "%.2f× the time (%s)", r->ours / best, peer_names[bp]);
	out_line("| %s | %.0f records/s | %s | %s | %s | %s | %s | 1 |\n", label, (double)records / r->ours, c[0], c[1],
		 c[2], c[3], ratio);
}

/* Right after the first catch-up of freshly written logs, before anything
 * else touches them: what a query's freshness check costs then, after a
 * second pass, and while a follower runs. */
static void freshness_rows(const char *name)
{
	char *idx = path("%s-index", name), *yaml = path("%s.yaml", name);
	char *cmp[] = { (char *)dnnprov_bin, "compare", "bench", "--index-dir", idx, "--metric", "val_accuracy",
			"--limit", "10", "--format", "csv", NULL };
	freshness_measure(&fresh[0], "freshness: `compare --limit 10` right after the first `dnnprov index` of "
			  "freshly written logs, no indexer running", cmp, "target ≤ 1 ms for the check (no walk of the logs)");
	/* A second pass more than a second after the logs were written (the
	 * check's slack for coarse file times), as a user's next `dnnprov
	 * index` would be. */
	char *again[] = { (char *)dnnprov_bin, "index", "-c", yaml, "-q", NULL };
	usleep(1500000);
	run_timed(again, NULL, false);
	freshness_measure(&fresh[1], "freshness: the same after a second `dnnprov index` pass (1.5 s later), no "
			  "indexer running", cmp,
			  "target ≤ 1 ms for the check");
	char *follow[] = { (char *)dnnprov_bin, "index", "-c", yaml, "--follow", "-q", NULL };
	pid_t pid = start_bg(follow);
	wait_idle(pid);
	freshness_measure(&fresh[2], "freshness: the same while `dnnprov index --follow` runs (caught up)", cmp,
			  "the lock asked, no log looked at");
	stop_bg(pid);
}

void bench_peers(void)
{
	int tasks = peers_runs(), epochs = 100, runs = quick ? 3 : 5;
	long records = (long)tasks * epochs;
	char title[256], task[32];
	snprintf(title, sizeof(title), "%d runs × %d epochs of 4 metrics, beside SQLite and DuckDB at their best", tasks,
		 epochs);
	section_begin(title);
	if (!duck_start())
		out_line("DuckDB skipped: %s.\n\n", duck_skip);
	peers_header();
	fresh_runs = runs;

	/* Ingest: few large segments, then many one-segment runs (with the
	 * freshness rows right after the first catch-up of those). */
	ingest few = { 0 }, many = { 0 };
	int few_tasks = tasks / 100, few_epochs = epochs * 10;
	char label[256];
	ingest_run("peers-few", few_tasks, few_epochs, &few, NULL);
	snprintf(label, sizeof(label), "catch-up of %ld records in %d segments (`dnnprov index`, whole command)",
		 (long)few_tasks * few_epochs, few_tasks);
	ingest_row(label, &few, (long)few_tasks * few_epochs);
	run_shell("rm -rf '%s' '%s' '%s'* '%s' '%s' '%s'", path("peers-few-logs"), path("peers-few-index"),
		  path("peers-few.sqlite"), path("peers-few.duckdb"), path("peers-few-tasks.csv"),
		  path("peers-few-epochs.csv"));
	ingest_run("peers", tasks, epochs, &many, freshness_rows);
	snprintf(label, sizeof(label), "catch-up of %ld records in %d one-segment runs (`dnnprov index`, whole command)",
		 records, tasks);
	ingest_row(label, &many, records);
	freshness_print();
	char duck_disk[64] = "—";
	if (!duck_skip)
		snprintf(duck_disk, sizeof(duck_disk), "%.1f B (one file, every table)", (double)many.duck_bytes / records);
	out_line("| disk: bytes per epoch record, every table and index | index %.1f B | %.1f B (one file, every table) "
		 "| — | %s | — | — | 1 |\n",
		 (double)many.index_bytes / records, (double)many.sqlite_bytes / records, duck_disk);
	out_line("| disk: the logs, bytes on disk per epoch record (blocks, `du`) | %.1f B (%.1f B of contents) | — | — "
		 "| — | — | the peers' input: the CSV files, %.1f B | 1 |\n",
		 (double)many.log_disk / records, (double)many.log_apparent / records, (double)many.csv_bytes / records);

	/* The questions, while this process holds the index's lock as a
	 * following indexer does (the freshness rows above measure the
	 * other cases). */
	question q[8];
	footnotes notes = { 0 };
	snprintf(task, sizeof(task), "t%07d", tasks / 2);
	int nq = make_questions(q, "peers", tasks, task);
	int lock = hold_index_lock(path("peers-index"));
	sqlite3 *db;
	if (sqlite3_open_v2(path("peers.sqlite"), &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		die("cannot open %s", path("peers.sqlite"));
	/* Reading the file through a map rather than copying pages into
	 * SQLite's cache: 40-45% off the whole-table answers. */
	sqlite_exec(db, sqlite_mmap);
	for (int i = 0; i < nq; i++) {
		measure_question(&q[i], db, runs);
		for (int p = 0; p < NPEERS; p++)
			if (q[i].peer[p] && !(p >= PEER_DUCK_EPOCHS && duck_skip))
				q[i].foot[p] = footnote(&notes, q[i].peer[p]);
		if (q[i].sql)
			q[i].foot[NPEERS] = footnote(&notes, q[i].sql);
		question_row(&q[i], 0, runs);
		if (q[i].sql)
			question_row(&q[i], 1, runs);
	}
	sqlite3_close(db);
	char *nothing[] = { "/bin/true", NULL }, *version[] = { (char *)dnnprov_bin, "--version", NULL };
	double t_true[DP_BENCH_MAX_RUNS], t_version[DP_BENCH_MAX_RUNS];
	for (int i = 0; i < runs; i++) {
		t_true[i] = run_piped(nothing, NULL);
		t_version[i] = run_piped(version, NULL);
	}
	char c1[80], c2[80];
	out_line("| floor of a whole command: `dnnprov --version` (`/bin/true`) | %s (%s) | — | — | — | — | the peers are "
		 "asked in process and pay none of it | %d |\n",
		 fmt_cell(t_version, runs, c1), fmt_cell(t_true, runs, c2), runs);
	out_line("| memory: peak heap of each query (sampled, anonymous memory) | ");
	for (int i = 0; i < nq; i++) {
		char heap[64];
		out_line("%s%s %s", i ? ", " : "", q[i].name, fmt_heap(q[i].heap_kb, heap));
	}
	out_line(" | — | — | — | — | — | 1 |\n");
	if (lock >= 0)
		close(lock);
	duck_stop();

	out_line("\nInputs and outputs. dnnprov: its logs, caught up by `dnnprov index`; each question a whole command "
		 "(process start, opening the index, the answer as CSV written to a pipe this process reads to its "
		 "end), while this process holds the index's lock as a following indexer does. SQLite %s: libsqlite3 "
		 "in this process, a warm read-only connection, every column of every row read as its type; its "
		 "records bulk inserted from memory in one transaction (WAL, synchronous=NORMAL), the summaries computed "
		 "as they go by, the secondary indexes built after. DuckDB: @duckdb/node-api in a Node process, its "
		 "tables loaded from CSV files of the same values (`copy ... from`), the summaries built by one "
		 "statement (the second column of the ingest rows includes it); only the query is timed, every value "
		 "of every row read into JavaScript chunk by chunk. Every answer was checked equal to dnnprov's "
		 "(numbers to 1e-9) before it was timed. Each cell: the minimum / the median of the turns; the "
		 "last column divides dnnprov's median by the fastest peer's (below 1: dnnprov is faster).\n\n",
		 sqlite3_libversion());
	out_line("Statements:\n\n");
	for (int i = 0; i < notes.n; i++)
		out_line("%d. `%s`\n", i + 1, notes.text[i]);
	for (int i = 0; i < nq; i++)
		question_free(&q[i]);
	if (!getenv("BENCH_KEEP"))
		run_shell("rm -rf '%s' '%s' '%s'* '%s' '%s' '%s'", path("peers-logs"), path("peers-index"),
			  path("peers.sqlite"), path("peers.duckdb"), path("peers-tasks.csv"), path("peers-epochs.csv"));
	section_end();
}
