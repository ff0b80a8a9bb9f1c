/*
 * cmd_serve.c - `dnnprov serve`: the dashboard and the JSON API over HTTP
 * (serve/; docs/SERVE.md), until interrupted.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "serve/serve.h"

const char cmd_serve_usage[] =
	"usage: dnnprov serve [-c CONFIG | --index-dir DIR] [--listen ADDR:PORT]\n"
	"                     [--token T | --token-file FILE] [--time-limit S] [--max-rows N]\n"
	"\n"
	"Serves a web dashboard of the live index (dataflows, runs, curves, hyperparameters\n"
	"against metrics, adaptations, queries, PROV export) and its JSON API, which\n"
	"answers as the query commands do with --format json.  Read-only: it opens the\n"
	"index as every query does, while training and indexing go on.  It prints the\n"
	"URL to open and serves until interrupted.  docs/SERVE.md has the endpoints.\n"
	"\n"
	"options:\n"
	"  -c, --config FILE     the experiment file: its index, logs and dataflow\n"
	"      --index-dir DIR   the index folder (instead of the config's)\n"
	"  -l, --listen A:P      the address and port: A.B.C.D:P or [IPv6]:P (default\n"
	"                        127.0.0.1:8642; port 0: any free one).  An address\n"
	"                        other than loopback needs a token\n"
	"      --token T         every request must carry T (a header, or the cookie the\n"
	"                        one-time login URL sets); 16 characters or more\n"
	"      --token-file FILE the token is the first line of FILE (not on the command\n"
	"                        line, where other users of the machine can see it)\n"
	"      --time-limit S    a query stops after S seconds (default 10; 500ms, 2m)\n"
	"      --max-rows N      rows per answer at most (default 10000)\n";

#define CMD "serve"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void log_line(void *ctx, const char *line)
{
	(void)ctx;
	cli_error(CMD, "%s", line);
}

static char *read_token_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[512];
	if (!f) {
		cli_error(CMD, "cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	char *got = fgets(line, sizeof(line), f);
	fclose(f);
	if (!got) {
		cli_error(CMD, "%s is empty: it should hold the token on its first line", path);
		return NULL;
	}
	line[strcspn(line, "\r\n")] = '\0';
	char *t = strdup(line);
	if (!t)
		cli_error(CMD, "out of memory");
	return t;
}

int cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },   { "index-dir", required_argument, NULL, 'I' },
		{ "listen", required_argument, NULL, 'l' },   { "token", required_argument, NULL, 'T' },
		{ "token-file", required_argument, NULL, 'F' }, { "time-limit", required_argument, NULL, 't' },
		{ "max-rows", required_argument, NULL, 'r' }, { NULL, 0, NULL, 0 },
	};
	static const char shortopts[] = "c:l:";
	const char *config = NULL, *index_dir = NULL, *token_file = NULL, *listen = "127.0.0.1:8642";
	char *token = NULL;
	dp_address addr;
	dp_serve_options o = { 0 };
	cli_paths paths;
	dp_server *s;
	int c, rc, status = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'I': index_dir = optarg; break;
		case 'l': listen = optarg; break;
		case 'T':
			free(token);
			if (!(token = strdup(optarg))) {
				cli_error(CMD, "out of memory");
				return 1;
			}
			break;
		case 'F': token_file = optarg; break;
		case 't':
			if ((rc = cli_opt_duration(CMD, "--time-limit", optarg, "s", 0.001, 3600, &o.request_seconds))) {
				free(token);
				return rc;
			}
			break;
		case 'r': {
			uint64_t v;
			if ((rc = cli_opt_count(CMD, "--max-rows", optarg, 1, 1000000, &v))) {
				free(token);
				return rc;
			}
			o.max_rows = (size_t)v;
			break;
		}
		default: free(token); return cli_bad_option(CMD, argv, shortopts, opts);
		}
	}
	if (optind < argc) {
		free(token);
		return cli_usage(CMD, "unexpected argument '%s'", argv[optind]);
	}
	if (token && token_file) {
		free(token);
		return cli_usage(CMD, "give --token or --token-file, not both");
	}
	if ((rc = cli_opt_address(CMD, "--listen", listen, &addr))) {
		free(token);
		return rc;
	}
	o.port = addr.port;
	if (token_file && !(token = read_token_file(token_file)))
		return 1;
	if ((rc = cli_locations(CMD, config, NULL, index_dir, &paths))) {
		free(token);
		return rc;
	}
	if (!paths.index_dir) {
		free(token);
		cli_paths_free(&paths);
		return cli_usage(CMD, "give -c CONFIG or --index-dir DIR");
	}
	o.index_dir = paths.index_dir;
	o.log_dir = paths.log_dir;
	o.dataflow = paths.dataflow;
	o.host = addr.host;
	o.token = token;
	o.log = log_line;

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL); /* a client that goes away is the server's to notice */
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* Blocked until sigsuspend (and in the server's threads, which inherit
	 * the mask): a signal between the test of `stop` and the wait would
	 * otherwise be missed. */
	sigset_t block, wait_mask;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &wait_mask);
	sigdelset(&wait_mask, SIGINT);
	sigdelset(&wait_mask, SIGTERM);

	if ((rc = dp_serve_start(&o, &s))) {
		cli_error(CMD, "%s", dnnprov_errmsg());
		goto out;
	}
	bool v6 = addr.v6;
	const char *login = dp_serve_login_path(s);
	printf("dnnprov serve: the dashboard of %s is at http://%s%s%s:%u%s\n", paths.index_dir, v6 ? "[" : "", addr.host,
	       v6 ? "]" : "", dp_serve_port(s), login ? login : "/");
	if (login)
		printf("(that login URL works once; after it, send the token: \"Authorization: Bearer TOKEN\", or enter it "
		       "at /login)\n");
	printf("Ctrl-C stops it.\n");
	fflush(stdout);
	while (!stop)
		sigsuspend(&wait_mask);
	dp_serve_stop(s);
	status = 0;
out:
	free(token);
	cli_paths_free(&paths);
	return status;
}
