/*
 * cmd_index.c - `dnnprov index` (catch up, or follow with --follow),
 * `dnnprov index --status`, and `dnnprov reindex`.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "config/config.h"
#include "cli/progress.h"
#include "indexer/index.h"
#include "indexer/notify.h"
#include "logger/reader.h"
#include "logger/scan.h"
#include "query/query.h"

const char cmd_index_usage[] =
	"usage: dnnprov index [-c CONFIG | --log-dir DIR --index-dir DIR] [--follow] [--events FILE] [-q]\n"
	"       dnnprov index [-c CONFIG | --log-dir DIR --index-dir DIR] --status\n"
	"       dnnprov index [-c CONFIG | --index-dir DIR] --from nats://HOST:PORT[,...]\n"
	"                     [--stream NAME] [--consumer NAME] [--dataflow NAME] [--follow]\n"
	"\n"
	"Reads every segment under the log folder into the index (LMDB), each record\n"
	"exactly once, and exits; with --follow, keeps tailing the logs (inotify plus a\n"
	"rescan every second) until SIGTERM or SIGINT, which commit and exit 0.  Damaged\n"
	"records are skipped and reported with their segment and offset; an incomplete\n"
	"last record of a segment being written is waited for.  One indexer per index.\n"
	"\n"
	"options:\n"
	"  -c, --config FILE     take log_dir and index_dir from the experiment file\n"
	"      --log-dir DIR     the log folder\n"
	"      --index-dir DIR   the index folder\n"
	"  -f, --follow          keep indexing as the logs grow\n"
	"      --status          per segment: bytes indexed and on disk, records,\n"
	"                        problems with their offsets; the overall lag\n"
	"      --rescan-ms N     follow mode's full rescan period (default 1000)\n"
	"      --batch-ms N      commit at least this often while records arrive (default 50)\n"
	"      --batch-records N commit after this many records (default 20000; a catch-up\n"
	"                        100000, or 20000 tasks)\n"
	"      --lost-after D    a RUNNING task recorded on another host is LOST after D\n"
	"                        without a record (default 1h; 30m, 3600: a bare number\n"
	"                        is seconds; docs/RUNS.md)\n"
	"      --events FILE     the health rules and notifications (the keys of an\n"
	"                        `events:` section), instead of the experiment file's\n"
	"  -q, --quiet           no summary line, and no progress line on a terminal\n"
	"\n"
	"As epochs arrive, the indexer applies the health rules of the experiment\n"
	"file's `events:` section (or their defaults): a NaN or infinite metric, a main\n"
	"metric that diverges or stays on a plateau is stored as an event (`dnnprov\n"
	"events`), and `on_event:` runs a command for each (docs/STEERING.md).\n"
	"\n"
	"On a terminal, a catch-up shows how far it is on stderr (records, bytes of the\n"
	"total, rate, time left) until its summary line.\n"
	"\n"
	"With --from, the records come from the NATS JetStream stream `dnnprov ship`\n"
	"publishes to, through a durable pull consumer (--consumer, default one per host\n"
	"and index; --dataflow takes one dataflow's subjects only; --creds FILE or\n"
	"DNNPROV_NATS_USER/DNNPROV_NATS_PASSWORD for the servers), applied exactly once\n"
	"by segment and offset: the index equals one built from the same logs.  Without\n"
	"--follow it exits once the consumer has nothing left; --ack-wait D (default\n"
	"30s) is how long the consumer it creates waits for an acknowledgement before\n"
	"delivering a message again.  Through a server down or a leader election it\n"
	"retries, until --give-up-after D (90s, 5m, 1h or never; default 5m, with\n"
	"--follow never) passes without success.  docs/SHIP.md.\n";

const char cmd_reindex_usage[] =
	"usage: dnnprov reindex [-c CONFIG | --log-dir DIR --index-dir DIR] [--events FILE] [-q]\n"
	"\n"
	"Rebuilds the index from the logs into a new generation folder and swaps it in\n"
	"atomically; queries running meanwhile keep reading the old one.  Use it after\n"
	"an upgrade that changes the index schema, or to drop what deleted logs left.\n"
	"Fails if an indexer is running on the index (stop it first).  On a terminal it\n"
	"shows its progress as index does; -q turns it and the summary line off.  The\n"
	"health rules are the experiment file's (or --events FILE's); a rebuild runs no\n"
	"notification command: what it finds was told when it was first found.\n";

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* A segment's name is whatever file is in a task's folder, and a problem's
 * words may quote a name from it: shown as a table shows text
 * (dp_terminal_text), never as terminal controls.  Out of memory, "?":
 * b->failed stays set, and a listing that used it fails. */
static const char *shown(dp_buf *b, const char *s, size_t n)
{
	b->len = 0;
	dp_terminal_text(b, s, n);
	return b->failed ? "?" : dp_buf_cstr(b);
}

static void tell(const char *cmd, const char *segment, uint64_t offset, const char *what, const char *suffix)
{
	dp_buf a = { 0 }, b = { 0 };
	cli_error(cmd, "%s: offset %llu: %s%s", shown(&a, segment, strlen(segment)), (unsigned long long)offset,
		  shown(&b, what, strlen(what)), suffix);
	dp_buf_free(&a);
	dp_buf_free(&b);
}

static void report(void *ctx, const char *segment, uint64_t offset, const char *what)
{
	tell((const char *)ctx, segment, offset, what, " (skipped)");
}

static void notice(void *ctx, const char *segment, uint64_t offset, const char *what)
{
	tell((const char *)ctx, segment, offset, what, "");
}

static void report_unreadable(void *ctx, const char *segment, uint64_t offset, const char *why)
{
	cli_error((const char *)ctx, "%s: offset %llu: %s (nothing skipped: read again at the next pass)", segment,
		  (unsigned long long)offset, why);
}

static void report_fault(void *ctx, const char *why, unsigned retry_ms)
{
	cli_error((const char *)ctx, "%s; rolled back, retrying in %.1f s", why, retry_ms / 1000.0);
}

static void report_skipped(void *ctx, const char *path, const char *why)
{
	cli_error((const char *)ctx, "%s: %s", path, why);
}

/* A notification's failure, from the notifier's thread. */
static void report_notify(void *ctx, const char *what)
{
	cli_error((const char *)ctx, "%s", what);
}

/* Hands what the indexer found to the notifier before the command ends:
 * a catch-up waits until every notification is delivered or one fails;
 * follow mode gives the one under way a moment.  What is left stays in
 * the outbox for the next indexer, and is said. */
static void finish_notifications(const char *cmd, dp_indexer *x, dp_notifier *n, bool follow)
{
	uint64_t waiting = 0;
	if (!n)
		return;
	if (!follow)
		dp_indexer_notify_drain(x, INFINITY, &waiting);
	dp_notifier_stop(n, 2.0);
	if (dp_indexer_notify_drain(x, 0, &waiting) == 0 && waiting)
		cli_error(cmd, "%llu notification%s not delivered yet: the next `dnnprov index` sends %s",
			  (unsigned long long)waiting, waiting == 1 ? "" : "s", waiting == 1 ? "it" : "them");
}

typedef struct index_args {
	const char *config, *log_dir, *index_dir, *events;
	bool follow, status, quiet;
	unsigned long rescan_ms, batch_ms, batch_records;
	double lost_after_s;
} index_args;

static int parse_args(const char *cmd, int argc, char **argv, index_args *a, bool allow_follow)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "log-dir", required_argument, NULL, 'L' },
		{ "index-dir", required_argument, NULL, 'I' },
		{ "follow", no_argument, NULL, 'f' },
		{ "status", no_argument, NULL, 's' },
		{ "rescan-ms", required_argument, NULL, 'R' },
		{ "batch-ms", required_argument, NULL, 'B' },
		{ "batch-records", required_argument, NULL, 'N' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "lost-after", required_argument, NULL, 'T' },
		{ "events", required_argument, NULL, 'E' },
		{ NULL, 0, NULL, 0 },
	};
	static const char shortopts[] = "c:fqh";
	int c;

	memset(a, 0, sizeof(*a));
	optind = 1;
	while ((c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
		switch (c) {
		case 'h': return cli_help_done(cmd);
		case 'c': a->config = optarg; break;
		case 'L': a->log_dir = optarg; break;
		case 'E': a->events = optarg; break;
		case 'I': a->index_dir = optarg; break;
		case 'f': a->follow = true; break;
		case 's': a->status = true; break;
		case 'q': a->quiet = true; break;
		case 'T': {
			/* A bare number is seconds, as docs/INDEX.md says. */
			int status = cli_opt_duration(cmd, "--lost-after", optarg, "s", 1, 100.0 * 365 * 86400, &a->lost_after_s);
			if (status)
				return status;
			break;
		}
		case 'R':
		case 'B':
		case 'N': {
			const char *name = c == 'R' ? "--rescan-ms" : c == 'B' ? "--batch-ms" : "--batch-records";
			uint64_t v;
			int status = cli_opt_count(cmd, name, optarg, 1, 3600000, &v);
			if (status)
				return status;
			*(c == 'R' ? &a->rescan_ms : c == 'B' ? &a->batch_ms : &a->batch_records) = (unsigned long)v;
			break;
		}
		default: return cli_bad_option(cmd, argv, shortopts, opts);
		}
	}
	if (optind < argc)
		return cli_usage(cmd, "unexpected argument '%s'", argv[optind]);
	if (!allow_follow && (a->follow || a->status))
		return cli_usage(cmd, "--follow and --status belong to `dnnprov index`");
	if (a->follow && a->status)
		return cli_usage(cmd, "--follow and --status do not go together");
	if (!a->config && (!a->log_dir || !a->index_dir) && !(a->status && a->index_dir))
		return cli_usage(cmd, "give -c CONFIG, or --log-dir and --index-dir");
	return 0;
}

/* ---- --status ------------------------------------------------------------------- */

static int show_status(const char *cmd, const cli_paths *p)
{
	dp_query q;
	dp_table segs = { 0 }, problems = { 0 };
	dp_index_totals tot;
	dp_buf b = { 0 }, b2 = { 0 };
	int rc;

	if ((rc = dp_query_open(p->index_dir, &q)))
		return cli_lib_error(cmd, rc, p->index_dir);
	if ((rc = dp_index_status(&q, p->log_dir, &segs, &problems, &tot))) {
		dp_table_free(&segs);
		dp_table_free(&problems);
		dp_query_close(&q);
		return cli_lib_error(cmd, rc, p->index_dir);
	}
	/* Paths and reasons come from the logs: shown as a table shows text. */
	printf("%-60s %12s %12s %9s %8s  %s\n", "segment", "indexed", "on disk", "records", "problems", "state");
	for (size_t r = 0; r < segs.nrows; r++) {
		const dp_qv *row = &segs.cells[r * segs.ncols];
		printf("%-60s %12lld %12lld %9lld %8lld  %s\n", shown(&b, row[0].text, strlen(row[0].text)),
		       (long long)row[1].i, row[2].type == QV_NULL ? -1LL : (long long)row[2].i, (long long)row[4].i,
		       (long long)row[5].i, row[6].text);
	}
	if (problems.nrows) {
		printf("\nproblems (skipped):\n");
		for (size_t r = 0; r < problems.nrows; r++) {
			const dp_qv *row = &problems.cells[r * problems.ncols];
			printf("  %s: offset %lld: ", shown(&b, row[0].text, strlen(row[0].text)), (long long)row[1].i);
			if (row[3].type == QV_NULL) /* a name refused but indexed: its text says so */
				printf("%s\n", shown(&b2, row[2].text, strlen(row[2].text)));
			else
				printf("%s, %lld bytes\n", shown(&b2, row[2].text, strlen(row[2].text)), (long long)row[3].i);
		}
	}
	printf("\n%llu segments indexed, %llu not yet; %llu problems; lag %llu bytes", (unsigned long long)tot.indexed,
	       (unsigned long long)tot.unindexed, (unsigned long long)tot.problems, (unsigned long long)tot.behind_bytes);
	if (!isnan(tot.last_commit))
		printf("; last commit %.1f s ago", dp_now() - tot.last_commit);
	printf("\n");
	rc = b.failed || b2.failed ? dp_error(DNNPROV_ENOMEM, "out of memory") : 0;
	dp_buf_free(&b);
	dp_buf_free(&b2);
	dp_table_free(&segs);
	dp_table_free(&problems);
	dp_query_close(&q);
	return rc ? cli_lib_error(cmd, rc, p->index_dir) : cli_finish(cmd, 0);
}

/* ---- index and reindex ------------------------------------------------------------ */

static int run(const char *cmd, const index_args *a, bool rebuild)
{
	cli_paths p;
	dp_indexer *x = NULL;
	dp_indexer_stats st;
	dp_rules rules;
	dp_notify_sink sink = { 0 };
	dp_notifier *notifier = NULL;
	int rc, status = 0;

	if ((rc = cli_locations(cmd, a->config, a->log_dir, a->index_dir, &p)))
		return rc;
	if (a->status) {
		status = show_status(cmd, &p);
		cli_paths_free(&p);
		return status;
	}
	if ((!a->follow && cli_logs_exist(cmd, &p)) || cli_rules(cmd, a->config, a->events, &rules)) {
		cli_paths_free(&p);
		return 1;
	}
	/* A rebuild tells nothing: what it finds was told when it was found. */
	if (rules.on_event && !rebuild) {
		sink = dp_notify_command(rules.on_event, rules.on_event_timeout_s);
		if (!sink.ctx || (rc = dp_notifier_start(&sink, report_notify, (void *)cmd, &notifier))) {
			status = cli_lib_error(cmd, sink.ctx ? rc : DNNPROV_ENOMEM, "on_event");
			dp_notify_command_free(&sink);
			dp_rules_free(&rules);
			cli_paths_free(&p);
			return status;
		}
	}
	/* A catch-up can read millions of records: it says how far it is.
	 * Follow mode is a service, and says nothing until it stops. */
	cli_progress *progress = a->follow ? NULL : cli_progress_start(rebuild ? "reindexing" : "indexing", "records",
								    a->quiet);
	dp_indexer_options opts = {
		.log_dir = p.log_dir,
		.index_dir = p.index_dir,
		.rebuild = rebuild,
		.batch_ms = (uint32_t)a->batch_ms,
		.batch_records = (uint32_t)a->batch_records,
		.rescan_ms = (uint32_t)a->rescan_ms,
		.lost_after_s = a->lost_after_s,
		.rules = &rules,
		.notify = notifier != NULL,
		.notifier = notifier,
		.no_inotify = getenv("DNNPROV_NO_INOTIFY") != NULL,
		/* Tests start from a tiny map to make it grow while queries run. */
		.initial_map_size = getenv("DNNPROV_INITIAL_MAP_SIZE") ? strtoull(getenv("DNNPROV_INITIAL_MAP_SIZE"), NULL, 10) : 0,
		.stop = &stop_requested,
		.report = report,
		.notice = notice,
		.unreadable = report_unreadable,
		.fault = report_fault,
		.skipped = report_skipped,
		.report_ctx = (void *)cmd,
		.progress = progress ? cli_progress_update : NULL,
		.progress_ctx = progress,
	};
	if (a->follow) {
		/* Before the lock is taken: a signal the moment the index shows
		 * a running indexer must stop it cleanly, not kill it. */
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_signal; /* no SA_RESTART: poll returns at once */
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGINT, &sa, NULL);
	}
	if ((rc = dp_indexer_open(&opts, &x))) {
		status = cli_lib_error(cmd, rc, p.index_dir);
		goto out;
	}
	if (a->follow) {
		rc = dp_indexer_follow(x);
	} else {
		rc = dp_indexer_catch_up(x);
		if (rc == 0 && rebuild)
			rc = dp_indexer_swap(x);
	}
	cli_progress_end(progress);
	progress = NULL;
	if (rc == 0)
		finish_notifications(cmd, x, notifier, a->follow);
	if (rc) {
		status = cli_lib_error(cmd, rc, p.index_dir);
		goto out;
	}
	dp_indexer_get_stats(x, &st);
	if (st.unqueued)
		cli_error(cmd, "%llu event%s stored but not queued for on_event: the queue held `queue` (%u) "
			  "notifications", (unsigned long long)st.unqueued, st.unqueued == 1 ? "" : "s", rules.queue_max);
	if (st.unread && !a->follow) {
		/* Not done: a run that left records unread must not look like one
		 * that read them all (scripts and unit files check the status). */
		char waiting[96] = "";
		if (st.waiting)
			snprintf(waiting, sizeof(waiting), ", and %llu more of the same tasks wait for them",
				 (unsigned long long)st.waiting);
		cli_error(cmd, "%llu segment%s could not be read%s; everything else is indexed: run again once "
			  "they can be read", (unsigned long long)(st.unread - st.waiting),
			  st.unread - st.waiting == 1 ? "" : "s", waiting);
		status = 1;
	}
	if (st.unlistable && !a->follow) {
		cli_error(cmd, "%llu folder%s could not be listed (named above); everything else is indexed: run "
			  "again once %s can be read", (unsigned long long)st.unlistable,
			  st.unlistable == 1 ? "" : "s", st.unlistable == 1 ? "it" : "they");
		status = 1;
	}
	if (!a->quiet) {
		printf("indexed %llu records from %llu segments into %s; %llu problems skipped",
		       (unsigned long long)st.records, (unsigned long long)st.segments, p.index_dir,
		       (unsigned long long)st.problems);
		if (st.removed)
			printf("; %llu deleted task%s dropped", (unsigned long long)st.removed, st.removed == 1 ? "" : "s");
		if (st.events)
			printf("; %llu health event%s found", (unsigned long long)st.events, st.events == 1 ? "" : "s");
		if (a->follow)
			printf("; %llu map growths, %llu event queue overflows, %llu batches retried after a fault",
			       (unsigned long long)st.map_grows, (unsigned long long)st.overflows,
			       (unsigned long long)st.faults);
		printf("\n");
	}
out:
	cli_progress_end(progress);
	dp_notifier_stop(notifier, 2.0);
	dp_indexer_close(x);
	dp_notifier_free(notifier);
	dp_notify_command_free(&sink);
	dp_rules_free(&rules);
	cli_paths_free(&p);
	return cli_finish(cmd, status);
}

int cmd_index(int argc, char **argv)
{
	if (cli_index_from(argc, argv))
		return cmd_index_from(argc, argv);
	index_args a;
	int rc = parse_args("index", argc, argv, &a, true);
	return rc ? cli_status(rc) : run("index", &a, false);
}

int cmd_reindex(int argc, char **argv)
{
	index_args a;
	int rc = parse_args("reindex", argc, argv, &a, false);
	return rc ? cli_status(rc) : run("reindex", &a, true);
}
