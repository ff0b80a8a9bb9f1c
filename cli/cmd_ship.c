/*
 * cmd_ship.c - `dnnprov ship` (publish the logs to a NATS JetStream
 * stream), `dnnprov ship --status`, and `dnnprov index --from` (an index fed
 * by the stream).  docs/SHIP.md says what they promise.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "config/config.h"
#include "ship/ship.h"

const char cmd_ship_usage[] =
	"usage: dnnprov ship [-c CONFIG | --log-dir DIR --state DIR] --to nats://HOST:PORT[,...]\n"
	"                    [--follow] [--stream NAME] [--replicas N] [--creds FILE] [-q]\n"
	"       dnnprov ship [-c CONFIG | --log-dir DIR --state DIR] --status\n"
	"\n"
	"Publishes every record of the log folder to a NATS JetStream stream, read as the\n"
	"indexer reads it (a torn tail waits; damage is reported and sent as a problem,\n"
	"never as bytes), and exits once the servers have acknowledged everything; with\n"
	"--follow, keeps shipping as the logs grow until SIGTERM or SIGINT.  Each\n"
	"segment's acknowledged offset is kept in the state folder, so a restart\n"
	"resumes where the servers' acknowledgements reached: nothing is lost, and what\n"
	"is sent twice is dropped by its message id or skipped by the indexers.  While\n"
	"the servers are unreachable, or the stream has no leader, it retries and says\n"
	"so once per change, until --give-up-after passes without success (exit 1).\n"
	"The stream is created when missing (file storage, subjects dnnprov.>); an\n"
	"existing stream whose settings would lose records is refused, never changed.\n"
	"\n"
	"options:\n"
	"  -c, --config FILE   take log_dir and index_dir from the experiment file\n"
	"      --log-dir DIR   the log folder\n"
	"      --to URLS       the servers, comma-separated (no credentials in them)\n"
	"  -f, --follow        keep shipping as the logs grow\n"
	"      --stream NAME   the stream (default DNNPROV)\n"
	"      --replicas N    of a stream it creates (default 3 when the cluster has 3\n"
	"                      servers or more, else 1); an existing one must have N\n"
	"      --state DIR     the shipper's progress (default: INDEX_DIR.ship, beside the\n"
	"                      index folder of the experiment file)\n"
	"      --creds FILE    a NATS credentials file; or DNNPROV_NATS_CREDS, or\n"
	"                      DNNPROV_NATS_USER and DNNPROV_NATS_PASSWORD in the environment\n"
	"      --status        per segment: bytes on disk, shipped, acknowledged, lag; and\n"
	"                      the shipper's connection\n"
	"      --max-inflight N  messages not yet acknowledged, at most (default 256)\n"
	"      --message-bytes N the frames of one message, about (default 65536): smaller\n"
	"                      messages cost throughput, larger ones latency\n"
	"      --give-up-after D  how long JetStream may keep failing before it gives up:\n"
	"                      a duration with its unit (90s, 5m, 1h) or never (default 5m;\n"
	"                      with --follow, never)\n"
	"  -q, --quiet         no summary line\n";

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void catch_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
}

static void report(void *ctx, const char *segment, uint64_t offset, const char *what)
{
	cli_error((const char *)ctx, "%s: offset %llu: %s (skipped)", segment, (unsigned long long)offset, what);
}

static void report_unreadable(void *ctx, const char *segment, uint64_t offset, const char *why)
{
	cli_error((const char *)ctx, "%s: offset %llu: %s (nothing skipped: read again later)", segment,
		  (unsigned long long)offset, why);
}

static void report_state(void *ctx, const char *what)
{
	cli_error((const char *)ctx, "%s", what);
}

static void report_invalid(void *ctx, uint64_t seq, const char *subject, const char *why)
{
	cli_error((const char *)ctx, "stream message %llu on %s: %s (acknowledged, not applied)",
		  (unsigned long long)seq, subject ? subject : "?", why);
}

static void report_waiting(void *ctx, uint64_t seq, const char *why)
{
	cli_error((const char *)ctx, "stream message %llu waits: %s", (unsigned long long)seq, why);
}

static void report_fault(void *ctx, const char *why, unsigned retry_ms)
{
	cli_error((const char *)ctx, "%s; rolled back, retrying in %.1f s", why, retry_ms / 1000.0);
}

/* Credentials from a file or the environment: a command line is visible to
 * every user of the machine, and none is ever printed. */
static void credentials(dp_nats_options *n, const char *creds)
{
	n->creds_file = creds ? creds : getenv("DNNPROV_NATS_CREDS");
	if (n->creds_file && !*n->creds_file)
		n->creds_file = NULL;
	n->user = getenv("DNNPROV_NATS_USER");
	n->password = getenv("DNNPROV_NATS_PASSWORD");
	if (n->user && !*n->user)
		n->user = NULL;
}

/* --give-up-after: "never", or a duration with its unit from 1s to 30
 * days.  A bare number is refused: for a span of minutes, "300" would read
 * as seconds to some and as milliseconds to others. */
static int parse_give_up(const char *cmd, const char *arg, uint64_t *ms)
{
	size_t n = strlen(arg);
	double seconds;
	int rc;
	if (strcmp(arg, "never") == 0) {
		*ms = 0;
		return 0;
	}
	if (n == 0 || (arg[n - 1] >= '0' && arg[n - 1] <= '9'))
		return cli_usage(cmd, "--give-up-after: takes a duration with its unit from 1s to 30 days (90s, 5m, 1h) "
				 "or 'never', not '%s'", arg);
	if ((rc = cli_opt_duration(cmd, "--give-up-after", arg, "s", 1, 30.0 * 86400, &seconds)))
		return rc;
	*ms = (uint64_t)(seconds * 1000.0 + 0.5);
	return 0;
}

/* Unless --give-up-after says otherwise: a catch-up gives up after 5
 * minutes of failures, a follower never (it waits out an outage of any
 * length). */
#define GIVE_UP_DEFAULT_MS (5 * 60 * 1000)
#define GIVE_UP_UNSET UINT64_MAX

static uint64_t give_up_ms(uint64_t given, bool follow)
{
	return given != GIVE_UP_UNSET ? given : follow ? 0 : GIVE_UP_DEFAULT_MS;
}

/* ---- ship --status ---------------------------------------------------------------------- */

typedef struct status_totals {
	uint64_t segments, complete, unshipped, lag;
} status_totals;

static void print_segment(void *ctx, const dp_ship_segment_status *s)
{
	status_totals *t = ctx;
	const char *state = !s->known ? "not shipped yet" : s->done ? "complete" : s->on_disk < 0 ? "deleted" : "open";
	uint64_t lag = s->on_disk > 0 && (uint64_t)s->on_disk > s->acked ? (uint64_t)s->on_disk - s->acked : 0;
	printf("%-60s %12lld %12llu %12llu %12llu  %s\n", s->segment, s->on_disk, (unsigned long long)s->shipped,
	       (unsigned long long)s->acked, (unsigned long long)lag, state);
	t->segments++;
	t->complete += s->done;
	t->unshipped += !s->known;
	t->lag += lag;
}

static int ship_status(const char *cmd, const char *state_dir, const char *log_dir)
{
	status_totals t = { 0 };
	dp_ship_summary sum;
	printf("%-60s %12s %12s %12s %12s  %s\n", "segment", "bytes", "shipped", "acked", "lag", "state");
	int rc = dp_ship_status(state_dir, log_dir, print_segment, &t, &sum);
	if (rc)
		return cli_lib_error(cmd, rc, state_dir);
	printf("\n%llu segments: %llu complete, %llu not shipped yet; lag %llu bytes\n",
	       (unsigned long long)t.segments, (unsigned long long)t.complete, (unsigned long long)t.unshipped,
	       (unsigned long long)t.lag);
	if (sum.running_pid > 0)
		printf("shipper: running (pid %ld)", sum.running_pid);
	else
		printf("shipper: %s", sum.running_pid ? "running" : "not running");
	if (sum.state[0])
		printf("; %s%s (%.0f s ago)", sum.running_pid ? "" : "last: ", sum.state, dp_now() - sum.state_since);
	if (sum.last_commit > 0)
		printf("; progress saved %.1f s ago", dp_now() - sum.last_commit);
	printf("\n");
	return cli_finish(cmd, 0);
}

/* ---- ship ---------------------------------------------------------------------------------- */

int cmd_ship(int argc, char **argv)
{
	static const char cmd[] = "ship";
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "log-dir", required_argument, NULL, 'L' },
		{ "index-dir", required_argument, NULL, 'I' },
		{ "to", required_argument, NULL, 't' },
		{ "follow", no_argument, NULL, 'f' },
		{ "stream", required_argument, NULL, 'S' },
		{ "replicas", required_argument, NULL, 'R' },
		{ "state", required_argument, NULL, 'D' },
		{ "creds", required_argument, NULL, 'C' },
		{ "status", no_argument, NULL, 's' },
		{ "max-inflight", required_argument, NULL, 'M' },
		{ "message-bytes", required_argument, NULL, 'B' },
		{ "give-up-after", required_argument, NULL, 'G' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char shortopts[] = "c:fqh";
	const char *config = NULL, *log_dir = NULL, *index_dir = NULL, *state = NULL, *creds = NULL;
	bool status = false, quiet = false;
	uint64_t replicas = 0, inflight = 0, message_bytes = 0;
	uint64_t give_up = GIVE_UP_UNSET;
	dp_ship_options o = { 0 };
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'L': log_dir = optarg; break;
		case 'I': index_dir = optarg; break;
		case 't': o.nats.urls = optarg; break;
		case 'f': o.follow = true; break;
		case 'S': o.nats.stream = optarg; break;
		case 'D': state = optarg; break;
		case 'C': creds = optarg; break;
		case 's': status = true; break;
		case 'q': quiet = true; break;
		case 'h': return cli_help(cmd);
		case 'R':
			if ((rc = cli_opt_count(cmd, "--replicas", optarg, 1, 5, &replicas)))
				return rc;
			break;
		case 'M':
			if ((rc = cli_opt_count(cmd, "--max-inflight", optarg, 1, 65536, &inflight)))
				return rc;
			break;
		case 'B':
			if ((rc = cli_opt_count(cmd, "--message-bytes", optarg, 1, 4 << 20, &message_bytes)))
				return rc;
			break;
		case 'G':
			if ((rc = parse_give_up(cmd, optarg, &give_up)))
				return rc;
			break;
		default: return cli_bad_option(cmd, argv, shortopts, opts);
		}
	}
	if (optind < argc)
		return cli_usage(cmd, "unexpected argument '%s'", argv[optind]);
	if (!config && !log_dir)
		return cli_usage(cmd, "give -c CONFIG, or --log-dir DIR");
	if (!status && !o.nats.urls)
		return cli_usage(cmd, "give the servers: --to nats://HOST:PORT[,...]");
	if (status && (o.nats.urls || o.follow))
		return cli_usage(cmd, "--status goes without --to and --follow");
	if (o.nats.urls && (rc = dp_nats_check_urls(o.nats.urls)))
		return cli_usage(cmd, "--to: %s", dnnprov_errmsg());
	cli_paths p;
	if ((rc = cli_locations(cmd, config, log_dir, index_dir, &p)))
		return rc;
	char *state_dir = state ? strdup(state) : NULL;
	if (!state && p.index_dir) {
		size_t n = strlen(p.index_dir);
		while (n > 1 && p.index_dir[n - 1] == '/')
			n--;
		if ((state_dir = malloc(n + 6)))
			snprintf(state_dir, n + 6, "%.*s.ship", (int)n, p.index_dir);
	}
	if (!state_dir) {
		cli_paths_free(&p);
		return state || p.index_dir ? (cli_error(cmd, "out of memory"), 1)
					    : cli_usage(cmd, "give --state DIR (or -c CONFIG, whose index_dir it goes beside)");
	}
	int status_code = 0;
	if (status) {
		status_code = ship_status(cmd, state_dir, p.log_dir);
		goto out;
	}
	/* Following waits for logs to appear; a catch-up of none is a typo. */
	if (!o.follow && cli_logs_exist(cmd, &p)) {
		status_code = 1;
		goto out;
	}
	credentials(&o.nats, creds);
	o.nats.give_up_ms = give_up_ms(give_up, o.follow);
	o.log_dir = p.log_dir;
	o.state_dir = state_dir;
	o.replicas = (int)replicas;
	o.max_inflight = (uint32_t)inflight;
	o.message_bytes = (uint32_t)message_bytes;
	o.stop = &stop_requested;
	o.report = report;
	o.unreadable = report_unreadable;
	o.state = report_state;
	o.ctx = (void *)cmd;
	catch_signals();
	dp_ship_stats st;
	if ((rc = dp_ship_run(&o, &st))) {
		/* The detail names what failed: a server, the state folder. */
		cli_error(cmd, "%s", dnnprov_errmsg());
		status_code = 1;
		goto out;
	}
	if (st.reset)
		cli_error(cmd, "stream %s was created anew since the last run: everything was shipped again",
			  o.nats.stream ? o.nats.stream : DP_SHIP_STREAM);
	if ((st.unread || st.stuck) && !o.follow) {
		cli_error(cmd, "%llu segment%s could not be shipped to their end (named above); everything else is "
			  "acknowledged: run again once they can be", (unsigned long long)(st.unread + st.stuck),
			  st.unread + st.stuck == 1 ? "" : "s");
		status_code = 1;
	}
	if (!quiet)
		printf("shipped %llu records in %llu messages (%llu bytes) from %llu segments to stream %s; %llu "
		       "problems; %llu publishes sent again\n",
		       (unsigned long long)st.records, (unsigned long long)st.messages, (unsigned long long)st.bytes,
		       (unsigned long long)st.segments, o.nats.stream ? o.nats.stream : DP_SHIP_STREAM,
		       (unsigned long long)st.problems, (unsigned long long)st.failed);
	status_code = cli_finish(cmd, status_code);
out:
	free(state_dir);
	cli_paths_free(&p);
	return status_code;
}

/* ---- index --from ---------------------------------------------------------------------------- */

bool cli_index_from(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--from") == 0 || strncmp(argv[i], "--from=", 7) == 0)
			return true;
	return false;
}

int cmd_index_from(int argc, char **argv)
{
	static const char cmd[] = "index";
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "index-dir", required_argument, NULL, 'I' },
		{ "from", required_argument, NULL, 'F' },
		{ "stream", required_argument, NULL, 'S' },
		{ "consumer", required_argument, NULL, 'K' },
		{ "dataflow", required_argument, NULL, 'd' },
		{ "creds", required_argument, NULL, 'C' },
		{ "follow", no_argument, NULL, 'f' },
		{ "lost-after", required_argument, NULL, 'T' },
		{ "ack-wait", required_argument, NULL, 'W' },
		{ "give-up-after", required_argument, NULL, 'G' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "events", required_argument, NULL, 'E' },
		{ NULL, 0, NULL, 0 },
	};
	static const char shortopts[] = "c:fqh";
	const char *config = NULL, *index_dir = NULL, *creds = NULL, *events = NULL;
	dp_stream_options o = { 0 };
	uint64_t give_up = GIVE_UP_UNSET;
	bool quiet = false;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'I': index_dir = optarg; break;
		case 'F': o.nats.urls = optarg; break;
		case 'S': o.nats.stream = optarg; break;
		case 'K': o.consumer = optarg; break;
		case 'd': o.dataflow = optarg; break;
		case 'C': creds = optarg; break;
		case 'E': events = optarg; break;
		case 'f': o.follow = true; break;
		case 'q': quiet = true; break;
		case 'h': return cli_help(cmd);
		case 'T':
			if ((rc = cli_opt_duration(cmd, "--lost-after", optarg, "s", 1, 100.0 * 365 * 86400, &o.lost_after_s)))
				return rc;
			break;
		case 'W': {
			double seconds;
			if ((rc = cli_opt_duration(cmd, "--ack-wait", optarg, "s", 1, 3600, &seconds)))
				return rc;
			o.ack_wait_ms = (uint32_t)(seconds * 1000.0 + 0.5);
			break;
		}
		case 'G':
			if ((rc = parse_give_up(cmd, optarg, &give_up)))
				return rc;
			break;
		default: return cli_bad_option(cmd, argv, shortopts, opts);
		}
	}
	if (optind < argc)
		return cli_usage(cmd, "unexpected argument '%s'", argv[optind]);
	if (!config && !index_dir)
		return cli_usage(cmd, "give -c CONFIG, or --index-dir DIR");
	if ((rc = dp_nats_check_urls(o.nats.urls)))
		return cli_usage(cmd, "--from: %s", dnnprov_errmsg());
	if (o.consumer && (!*o.consumer || strlen(o.consumer) > 48 || strpbrk(o.consumer, ". *>\t")))
		return cli_usage(cmd, "--consumer takes a name of 1 to 48 characters without dots, spaces, '*' or '>'");
	if (o.dataflow && dp_check_tag("dataflow tag", o.dataflow))
		return cli_usage(cmd, "--dataflow: %s", dnnprov_errmsg());
	cli_paths p;
	dp_rules rules;
	if ((rc = cli_locations(cmd, config, NULL, index_dir, &p)))
		return rc;
	if ((rc = cli_rules(cmd, config, events, &rules))) {
		cli_paths_free(&p);
		return rc;
	}
	o.rules = &rules;
	o.notify = report_state;
	credentials(&o.nats, creds);
	o.nats.give_up_ms = give_up_ms(give_up, o.follow);
	o.index_dir = p.index_dir;
	/* Tests start from a tiny map to make it grow while messages arrive. */
	o.initial_map_size = getenv("DNNPROV_INITIAL_MAP_SIZE") ? strtoull(getenv("DNNPROV_INITIAL_MAP_SIZE"), NULL, 10) : 0;
	o.stop = &stop_requested;
	o.report = report;
	o.invalid = report_invalid;
	o.waits = report_waiting;
	o.state = report_state;
	o.fault = report_fault;
	o.ctx = (void *)cmd;
	catch_signals();
	dp_stream_stats st;
	int status = 0;
	if ((rc = dp_stream_index(&o, &st))) {
		status = rc == DNNPROV_EIO && strstr(dnnprov_errmsg(), "://") ? (cli_error(cmd, "%s", dnnprov_errmsg()), 1)
									      : cli_lib_error(cmd, rc, p.index_dir);
		goto out;
	}
	if (st.waiting && !o.follow) {
		cli_error(cmd, "%llu message%s wait for earlier parts of their segments that the stream does not hold "
			  "(yet)%s: everything else is indexed; run again once their shippers have sent them",
			  (unsigned long long)st.waiting, st.waiting == 1 ? "" : "s",
			  st.waiting > DP_STREAM_WAITING_TOLD ? " (the first ones told above)" : "");
		status = 1;
	}
	if (!quiet)
		printf("indexed %llu records from %llu messages of stream %s (consumer %s) into %s; %llu already "
		       "indexed, %llu offered again, %llu not dnnprov's; %llu problems skipped\n",
		       (unsigned long long)st.records, (unsigned long long)st.messages,
		       o.nats.stream ? o.nats.stream : DP_SHIP_STREAM, st.consumer, p.index_dir,
		       (unsigned long long)st.had, (unsigned long long)st.waited, (unsigned long long)st.invalid,
		       (unsigned long long)st.problems);
	if (st.undelivered)
		cli_error(cmd, "%llu notification%s not delivered yet: the next `dnnprov index --from` sends %s",
			  (unsigned long long)st.undelivered, st.undelivered == 1 ? "" : "s",
			  st.undelivered == 1 ? "it" : "them");
	status = cli_finish(cmd, status);
out:
	dp_rules_free(&rules);
	cli_paths_free(&p);
	return status;
}
