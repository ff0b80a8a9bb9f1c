/*
 * cmd_receive.c - `dnnprov receive --dfanalyzer`: DfAnalyzer's REST service
 * for the programs written for it (receive/; docs/DFANALYZER.md), until
 * interrupted.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "config/config.h"
#include "receive/receive.h"

const char cmd_receive_usage[] =
	"usage: dnnprov receive --dfanalyzer (-c CONFIG | --log-dir DIR) [--listen ADDR:PORT]\n"
	"                       [--token T | --token-file FILE] [--lease DURATION] [--max-body SIZE]\n"
	"                       [--files DIR]\n"
	"\n"
	"Answers DfAnalyzer's REST endpoints (POST /pde/dataflow/json and /pde/task/json),\n"
	"as dfa-lib-python and Keras-Prov send them, and records what they post as\n"
	"dnnprov runs: point DFA_URL at it (http://127.0.0.1:22000/) and a program written\n"
	"for DfAnalyzer records into the log folder unchanged.  One exec is one run.  A\n"
	"writer, unlike serve: it holds the writers of the runs it receives, lets a run\n"
	"go (LOST) when nothing comes for the lease, and goes on with open runs when it\n"
	"is started again.  docs/DFANALYZER.md has the mapping.\n"
	"\n"
	"options:\n"
	"      --dfanalyzer       the protocol spoken (DfAnalyzer's; the only one)\n"
	"  -c, --config FILE      the experiment file: its log folder, and the dataflow's\n"
	"                         specification, which declarations are checked against\n"
	"      --log-dir DIR      the log folder (without a config: a declaration becomes\n"
	"                         the specification, DIR/<dataflow>/.dfanalyzer/dataflow.yaml)\n"
	"  -l, --listen A:P       the address and port (default 127.0.0.1:22000, DfAnalyzer's;\n"
	"                         port 0: any free one).  An address other than loopback\n"
	"                         needs a token\n"
	"      --token T          every request must carry T: \"Authorization: Bearer T\", or\n"
	"                         the password in DFA_URL (http://dnnprov:T@host:22000/);\n"
	"                         16 characters or more\n"
	"      --token-file FILE  the token is the first line of FILE\n"
	"      --lease DURATION   a run that receives nothing this long is let go: LOST\n"
	"                         unless it ended (default 10m; ms, s, m, h)\n"
	"      --max-body SIZE    the largest body taken (default 1MiB; 413 past it)\n"
	"      --files DIR        a FILE value naming a file under DIR (or relative to it)\n"
	"                         is the entity it names, fingerprinted (docs/LINEAGE.md);\n"
	"                         without it, no file of this machine is ever read\n";

#define CMD "receive"


int cmd_receive(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dfanalyzer", no_argument, NULL, 'D' },    { "config", required_argument, NULL, 'c' },
		{ "log-dir", required_argument, NULL, 'L' }, { "listen", required_argument, NULL, 'l' },
		{ "token", required_argument, NULL, 'T' },   { "token-file", required_argument, NULL, 'F' },
		{ "lease", required_argument, NULL, 'e' },   { "max-body", required_argument, NULL, 'b' },
		{ "files", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },          { NULL, 0, NULL, 0 },
	};
	static const char shortopts[] = "c:l:h";
	const char *config = NULL, *log_dir = NULL, *token_file = NULL, *listen = "127.0.0.1:22000";
	const char *token_arg = NULL;
	char *token = NULL;
	dp_address addr;
	bool dfanalyzer = false;
	dp_receive_options o = { 0 };
	uint64_t v;
	cli_paths paths;
	dp_receiver *r;
	int c, rc, status = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
		switch (c) {
		case 'D': dfanalyzer = true; break;
		case 'c': config = optarg; break;
		case 'L': log_dir = optarg; break;
		case 'l': listen = optarg; break;
		case 'T': token_arg = optarg; break;
		case 'F': token_file = optarg; break;
		case 'e':
			if (dp_parse_duration_ms(optarg, &v) || v < 100 || v > 7ull * 24 * 3600 * 1000)
				return cli_usage(CMD, "--lease takes a duration from 100ms to 7 days (10m, 30s), not '%s'",
						 optarg);
			o.lease_ms = v;
			break;
		case 'f': o.files_dir = optarg; break;
		case 'b':
			if (dp_parse_size(optarg, &v) || v < 1024 || v > (64u << 20))
				return cli_usage(CMD, "--max-body takes a size from 1KiB to 64MiB, not '%s'", optarg);
			o.max_body = (size_t)v;
			break;
		case 'h': return cli_status(cli_help_done(CMD));
		default: return cli_bad_option(CMD, argv, shortopts, opts);
		}
	}
	if (optind < argc)
		return cli_usage(CMD, "unexpected argument '%s'", argv[optind]);
	if (!dfanalyzer)
		return cli_usage(CMD, "say which protocol to receive: --dfanalyzer (the only one)");
	if (!config == !log_dir)
		return cli_usage(CMD, "give -c CONFIG or --log-dir DIR (one of them)");
	if (token_arg && token_file)
		return cli_usage(CMD, "give --token or --token-file, not both");
	if ((rc = cli_opt_address(CMD, "--listen", listen, &addr)))
		return rc;
	o.port = addr.port;
	if (token_file && !(token = cli_read_token_file(CMD, token_file)))
		return 1;
	if (token_arg && !(token = strdup(token_arg))) {
		cli_error(CMD, "out of memory");
		return 1;
	}
	if ((rc = cli_locations(CMD, config, log_dir, NULL, &paths))) {
		free(token);
		return rc;
	}
	o.config_path = config;
	o.log_dir = paths.log_dir;
	o.host = addr.host;
	o.token = token;
	o.log = cli_log_line;
	o.log_ctx = (void *)CMD;

	sigset_t wait_mask;
	cli_stop_signals(&wait_mask);

	if ((rc = dp_receive_start(&o, &r))) {
		cli_lib_error(CMD, rc, config ? config : paths.log_dir);
		goto out;
	}
	bool v6 = addr.v6;
	printf("dnnprov receive: DfAnalyzer clients post to http://%s%s%s:%u/ (DFA_URL); recording into %s\n",
	       v6 ? "[" : "", addr.host, v6 ? "]" : "", dp_receive_port(r), paths.log_dir);
	if (dp_receive_reopened(r))
		printf("%zu open run%s taken up again\n", dp_receive_reopened(r), dp_receive_reopened(r) == 1 ? "" : "s");
	printf("Ctrl-C stops it (open runs are taken up again by the next receive).\n");
	fflush(stdout);
	cli_wait_for_stop(&wait_mask);
	dp_receive_stop(r);
	status = 0;
out:
	free(token);
	cli_paths_free(&paths);
	return status;
}
