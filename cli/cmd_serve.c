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
	"                        other than loopback needs a token, and plain HTTP\n"
	"                        crosses the network in the clear: put a TLS proxy\n"
	"                        in front (docs/SERVE.md)\n"
	"      --token T         every request must carry T (a header), or the session\n"
	"                        cookie the one-time login URL sets; 16 characters or more\n"
	"      --token-file FILE the token is the first line of FILE (not on the command\n"
	"                        line, where other users of the machine can see it)\n"
	"      --time-limit S    a query stops after S seconds (default 10; 500ms, 2m)\n"
	"      --max-rows N      rows per answer at most (default 10000)\n";

#define CMD "serve"


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
	char *token = NULL;
	dp_address addr;
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
	o.host = addr.host;
	o.token = token;
	o.log = cli_log_line;
	o.log_ctx = (void *)CMD;
	/* For tests only (docs/SERVE.md): a shorter time for a request to
	 * arrive, so that a test of slow clients takes seconds. */
	const char *receive = getenv("DNNPROV_SERVE_RECEIVE_SECONDS");
	if (receive && *receive) {
		if (dp_parse_duration(receive, "s", 0.1, 3600, &o.receive_seconds)) {
			cli_error(CMD, "DNNPROV_SERVE_RECEIVE_SECONDS: %s", dnnprov_errmsg());
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
	bool v6 = addr.v6;
	const char *login = dp_serve_login_path(s);
	printf("dnnprov serve: the dashboard of %s is at http://%s%s%s:%u%s\n", paths.index_dir, v6 ? "[" : "", addr.host,
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
