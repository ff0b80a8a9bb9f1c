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
	"  -l, --listen A:P      the address and port (default 127.0.0.1:8642; port 0:\n"
	"                        any free one).  An address other than loopback needs a\n"
	"                        token, and plain HTTP crosses the network in the clear:\n"
	"                        put a TLS proxy in front (docs/SERVE.md)\n"
	"      --token T         every request must carry T (a header), or the session\n"
	"                        cookie the one-time login URL sets; 16 characters or more\n"
	"      --token-file FILE the token is the first line of FILE (not on the command\n"
	"                        line, where other users of the machine can see it)\n"
	"      --time-limit S    a query stops after S seconds (default 10)\n"
	"      --max-rows N      rows per answer at most (default 10000)\n";

#define CMD "serve"


int cli_parse_listen(const char *s, char *host, size_t cap, unsigned *port)
{
	const char *colon;
	char *end;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':' || (size_t)(close - s - 1) >= cap)
			return -1;
		snprintf(host, cap, "%.*s", (int)(close - s - 1), s + 1);
		colon = close + 1;
	} else if ((colon = strrchr(s, ':'))) {
		if ((size_t)(colon - s) >= cap)
			return -1;
		snprintf(host, cap, "%.*s", (int)(colon - s), s);
		if (!*host)
			snprintf(host, cap, "127.0.0.1");
	} else {
		snprintf(host, cap, "127.0.0.1");
		colon = s - 1;
	}
	long p = strtol(colon + 1, &end, 10);
	if (!colon[1] || *end || p < 0 || p > 65535)
		return -1;
	*port = (unsigned)p;
	return 0;
}

char *cli_read_token_file(const char *cmd, const char *path)
{
	FILE *f = fopen(path, "r");
	char line[512];
	if (!f) {
		cli_error(cmd, "cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	char *got = fgets(line, sizeof(line), f);
	fclose(f);
	if (!got) {
		cli_error(cmd, "%s is empty: it should hold the token on its first line", path);
		return NULL;
	}
	line[strcspn(line, "\r\n")] = '\0';
	char *t = strdup(line);
	if (!t)
		cli_error(cmd, "out of memory");
	return t;
}

int cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },   { "index-dir", required_argument, NULL, 'I' },
		{ "listen", required_argument, NULL, 'l' },   { "token", required_argument, NULL, 'T' },
		{ "token-file", required_argument, NULL, 'F' }, { "time-limit", required_argument, NULL, 't' },
		{ "max-rows", required_argument, NULL, 'r' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char shortopts[] = "c:l:h";
	const char *config = NULL, *index_dir = NULL, *token_file = NULL, *listen = "127.0.0.1:8642";
	char *token = NULL, host[256], *end;
	dp_serve_options o = { 0 };
	cli_paths paths;
	dp_server *s;
	int c, rc, status = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
		switch (c) {
		case 'h': free(token); return cli_help(CMD);
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
			o.request_seconds = strtod(optarg, &end);
			if (*end || !*optarg || !(o.request_seconds >= 0.001 && o.request_seconds <= 3600)) {
				free(token);
				return cli_usage(CMD, "--time-limit takes seconds from 0.001 to 3600, not '%s'", optarg);
			}
			break;
		case 'r': {
			long v = strtol(optarg, &end, 10);
			if (*end || !*optarg || v < 1 || v > 1000000) {
				free(token);
				return cli_usage(CMD, "--max-rows takes a number from 1 to 1000000, not '%s'", optarg);
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
	if (cli_parse_listen(listen, host, sizeof(host), &o.port)) {
		free(token);
		return cli_usage(CMD, "--listen takes ADDR:PORT (127.0.0.1:8642, [::1]:8642, 0.0.0.0:80), not '%s'", listen);
	}
	if (token_file && !(token = cli_read_token_file(CMD, token_file)))
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
	o.host = host;
	o.token = token;
	o.log = cli_log_line;
	o.log_ctx = (void *)CMD;
	/* For tests only (docs/SERVE.md): a shorter time for a request to
	 * arrive, so that a test of slow clients takes seconds. */
	const char *receive = getenv("DNNPROV_SERVE_RECEIVE_SECONDS");
	if (receive && *receive) {
		o.receive_seconds = strtod(receive, &end);
		if (*end || !(o.receive_seconds >= 0.1 && o.receive_seconds <= 3600)) {
			cli_error(CMD, "DNNPROV_SERVE_RECEIVE_SECONDS takes seconds from 0.1 to 3600, not '%s'", receive);
			free(token);
			cli_paths_free(&paths);
			return EXIT_USAGE;
		}
	}

	sigset_t wait_mask;
	cli_stop_signals(&wait_mask);

	if ((rc = dp_serve_start(&o, &s))) {
		cli_error(CMD, "%s", dnnprov_errmsg());
		goto out;
	}
	bool v6 = strchr(host, ':') != NULL;
	const char *login = dp_serve_login_path(s);
	printf("dnnprov serve: the dashboard of %s is at http://%s%s%s:%u%s\n", paths.index_dir, v6 ? "[" : "", host,
	       v6 ? "]" : "", dp_serve_port(s), login ? login : "/");
	if (login)
		printf("(that login URL works once; after it, send the token: \"Authorization: Bearer TOKEN\", or enter it "
		       "at /login)\n");
	printf("Ctrl-C stops it.\n");
	fflush(stdout);
	cli_wait_for_stop(&wait_mask);
	dp_serve_stop(s);
	status = 0;
out:
	free(token);
	cli_paths_free(&paths);
	return status;
}
