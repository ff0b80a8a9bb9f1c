/*
 * common.c - what several commands share: where the logs and the index
 * are, from -c CONFIG or --log-dir / --index-dir, loading the experiment
 * file, saying what was wrong with an option, reading the values of
 * options (util/units.c), and the segments under a path named on the
 * command line.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "config/config.h"
#include "logger/scan.h"

int cli_config_load(const char *cmd, const char *path, dnnprov_config **out)
{
	int rc = dnnprov_config_load(path, out);
	return rc ? cli_lib_error(cmd, rc, path) : 0;
}

int cli_locations(const char *cmd, const char *config_path, const char *log_dir,
		  const char *index_dir, cli_paths *out)
{
	memset(out, 0, sizeof(*out));
	if (config_path) {
		dnnprov_config *cfg;
		int rc = cli_config_load(cmd, config_path, &cfg);
		if (rc)
			return rc;
		out->log_dir = strdup(log_dir ? log_dir : cfg->log_dir);
		out->index_dir = strdup(index_dir ? index_dir : cfg->index_dir);
		out->dataflow = strdup(cfg->dataflow);
		bool copied = out->log_dir && out->index_dir && out->dataflow;
		dnnprov_config_free(cfg);
		if (!copied)
			goto oom;
	} else {
		out->log_dir = log_dir ? strdup(log_dir) : NULL;
		out->index_dir = index_dir ? strdup(index_dir) : NULL;
		if ((log_dir && !out->log_dir) || (index_dir && !out->index_dir))
			goto oom;
	}
	return 0;
oom:
	cli_paths_free(out);
	cli_error(cmd, "out of memory");
	return 1;
}

int cli_rules(const char *cmd, const char *config_path, const char *events_path, dp_rules *out)
{
	int rc;
	dp_rules_defaults(out);
	if (events_path) {
		if ((rc = dp_rules_load(events_path, out)))
			return cli_lib_error(cmd, rc, events_path);
		return 0;
	}
	if (!config_path)
		return 0;
	dnnprov_config *cfg;
	if ((rc = cli_config_load(cmd, config_path, &cfg)))
		return rc;
	*out = cfg->rules;
	memset(&cfg->rules, 0, sizeof(cfg->rules)); /* now *out's */
	dnnprov_config_free(cfg);
	return 0;
}

typedef struct walk_ctx {
	const char *cmd;
	bool told;
} walk_ctx;

static void walk_report(void *ctx, const char *path, dp_walk_issue issue, const char *why)
{
	walk_ctx *w = ctx;
	(void)issue;
	cli_error(w->cmd, "%s: %s", path, why);
	w->told = true;
}

int cli_find_segments(const char *cmd, const char *path, dp_path_list *segs)
{
	walk_ctx w = { cmd, false };
	int rc = dp_find_segments(path, segs, walk_report, &w);
	if (rc && (!w.told || rc == DNNPROV_ENOMEM)) /* a folder's failure was told */
		cli_lib_error(cmd, rc, path);
	return rc || w.told;
}

void cli_paths_free(cli_paths *p)
{
	free(p->log_dir);
	free(p->index_dir);
	free(p->dataflow);
	memset(p, 0, sizeof(*p));
}

int cli_logs_exist(const char *cmd, const cli_paths *p)
{
	struct stat sb;
	if (stat(p->log_dir, &sb) == 0)
		return 0;
	cli_error(cmd, "no logs at %s: %s", p->log_dir, strerror(errno));
	return 1;
}

/* The option of `opts` that `--name` (or an unambiguous prefix of it, which
 * getopt accepts) and getopt's optopt designate, or NULL. */
static const struct option *long_option(const struct option *opts, const char *name, size_t n)
{
	for (; optopt && opts->name; opts++)
		if (opts->val == optopt && strlen(opts->name) >= n && strncmp(name, opts->name, n) == 0)
			return opts;
	return NULL;
}

int cli_bad_option(const char *cmd, char **argv, const char *shortopts, const struct option *opts)
{
	/* A long option is the last argument read; a short one may sit in a
	 * group (-qz) whose argument optind has not passed yet, so it is known
	 * by optopt alone. */
	const char *arg = argv[optind - 1];
	if (strncmp(arg, "--", 2) == 0) {
		size_t n = strcspn(arg, "=");
		const struct option *o = long_option(opts, arg + 2, n - 2);
		if (o)
			return cli_usage(cmd, o->has_arg == no_argument ? "option --%s takes no value"
									: "option --%s needs a value", o->name);
		if (!optopt)
			return cli_usage(cmd, "unknown option '%.*s'", (int)n, arg);
	}
	const char *known = strchr(shortopts, optopt);
	if (optopt && known && known[1] == ':')
		return cli_usage(cmd, "option -%c needs a value", optopt);
	return cli_usage(cmd, "unknown option -%c", optopt);
}

/* ---- the servers' signals ---------------------------------------------------------------- */

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

void cli_stop_signals(sigset_t *wait_mask)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL); /* a client that goes away is the server's to notice */
	sa.sa_handler = on_stop_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* Blocked until sigsuspend (and in the server's threads, which inherit
	 * the mask): a signal between the test of the flag and the wait would
	 * otherwise be missed. */
	sigset_t block;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, wait_mask);
	sigdelset(wait_mask, SIGINT);
	sigdelset(wait_mask, SIGTERM);
}

void cli_wait_for_stop(const sigset_t *wait_mask)
{
	while (!stop_requested)
		sigsuspend(wait_mask);
}

void cli_log_line(void *cmd, const char *line)
{
	cli_error(cmd, "%s", line);
}

/* ---- values of options ------------------------------------------------------------ */

int cli_opt_duration(const char *cmd, const char *opt, const char *arg, const char *bare_unit, double min_s,
		     double max_s, double *out)
{
	return dp_parse_duration(arg, bare_unit, min_s, max_s, out) ? cli_usage(cmd, "%s: %s", opt, dnnprov_errmsg())
								       : 0;
}

int cli_opt_count(const char *cmd, const char *opt, const char *arg, uint64_t min, uint64_t max, uint64_t *out)
{
	return dp_parse_count(arg, min, max, out) ? cli_usage(cmd, "%s: %s", opt, dnnprov_errmsg()) : 0;
}

int cli_opt_address(const char *cmd, const char *opt, const char *arg, dp_address *out)
{
	return dp_parse_address(arg, NULL, out) ? cli_usage(cmd, "%s: %s", opt, dnnprov_errmsg()) : 0;
}
