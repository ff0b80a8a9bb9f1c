/*
 * query_cli.c - option parsing and printing shared by the query commands.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli/query_cli.h"

/* The long name of option c: argv cannot say it, since after `--task X`
 * optind is past the value and `-tX` has no name at all. */
static const char *option_name(const struct option *opts, int c)
{
	for (; opts->name; opts++)
		if (opts->val == c)
			return opts->name;
	return "?";
}

int query_parse(const char *cmd, int argc, char **argv, unsigned allowed, int npos_min, int npos_max,
		query_args *a)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "index-dir", required_argument, NULL, 'I' },
		{ "format", required_argument, NULL, 'f' },
		{ "where", required_argument, NULL, 'w' },
		{ "sort", required_argument, NULL, 's' },
		{ "limit", required_argument, NULL, 'n' },
		{ "offset", required_argument, NULL, 'O' },
		{ "metric", required_argument, NULL, 'm' },
		{ "agg", required_argument, NULL, 'a' },
		{ "goal", required_argument, NULL, 'g' },
		{ "hyp", required_argument, NULL, 'H' },
		{ "bins", required_argument, NULL, 'b' },
		{ "task", required_argument, NULL, 't' },
		{ "metrics", required_argument, NULL, 'M' },
		{ "window", required_argument, NULL, 'W' },
		{ "set", required_argument, NULL, 'S' },
		{ "interval", required_argument, NULL, 'i' },
		{ "count", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ "wide", no_argument, NULL, 'X' },
		{ "facts", no_argument, NULL, 'F' },
		{ NULL, 0, NULL, 0 },
	};
	static const char shortopts[] = "c:f:w:n:m:t:h";
	static const struct { int c; unsigned bit; } gate[] = {
		{ 'w', QO_WHERE }, { 's', QO_SORT },	{ 'n', QO_LIMIT },   { 'O', QO_LIMIT },   { 'm', QO_METRIC },
		{ 'a', QO_AGG },   { 'g', QO_GOAL },	{ 'H', QO_HYP },     { 'b', QO_BINS },
		{ 't', QO_TASK },  { 'M', QO_METRICS }, { 'W', QO_WINDOW },  { 'S', QO_SET },
		{ 'i', QO_INTERVAL }, { 'C', QO_INTERVAL }, { 'F', QO_FACTS },
	};
	int c, rc;

	memset(a, 0, sizeof(*a));
	a->o.agg.kind = AGG_BEST;
	a->interval = 2.0;
	optind = 1;
	while ((c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
		if (c == 'h')
			return cli_help_done(cmd);
		for (size_t i = 0; i < DP_ARRAY_LEN(gate); i++)
			if (gate[i].c == c && !(allowed & gate[i].bit))
				return cli_usage(cmd, "option --%s does not apply to %s", option_name(opts, c), cmd);
		switch (c) {
		case 'c': a->config = optarg; break;
		case 'I': a->index_dir = optarg; break;
		case 'f':
			if (dp_format_parse(optarg, &a->format))
				return cli_usage(cmd, "%s", dnnprov_errmsg());
			break;
		case 'w': a->o.where = optarg; break;
		case 's': a->o.sort = optarg; break;
		case 'n':
		case 'O': {
			uint64_t v;
			if ((rc = cli_opt_count(cmd, c == 'n' ? "--limit" : "--offset", optarg, 0, SIZE_MAX, &v)))
				return rc;
			*(c == 'n' ? &a->o.limit : &a->o.offset) = (size_t)v;
			break;
		}
		case 'm': a->o.metric = optarg; break;
		case 'a':
			if (dp_agg_parse(optarg, &a->o.agg))
				return cli_usage(cmd, "%s", dnnprov_errmsg());
			break;
		case 'g':
			if (strcmp(optarg, "min") && strcmp(optarg, "max"))
				return cli_usage(cmd, "--goal is min or max, not '%s'", optarg);
			a->o.goal = optarg;
			break;
		case 'H': a->o.hyp = optarg; break;
		case 'b': {
			uint64_t v;
			if ((rc = cli_opt_count(cmd, "--bins", optarg, 1, 1000, &v)))
				return rc;
			a->o.bins = (int)v;
			break;
		}
		case 't': a->o.task = optarg; break;
		case 'M': a->o.metrics = optarg; break;
		case 'W': {
			uint64_t v;
			if ((rc = cli_opt_count(cmd, "--window", optarg, 1, 1000000, &v)))
				return rc;
			a->o.window = (int)v;
			break;
		}
		case 'S': a->o.set = optarg; break;
		case 'X': a->wide = true; break;
		case 'F': a->o.facts = true; break;
		case 'i':
			if ((rc = cli_opt_duration(cmd, "--interval", optarg, "s", 0.1, 86400, &a->interval)))
				return rc;
			break;
		case 'C': {
			uint64_t v;
			if ((rc = cli_opt_count(cmd, "--count", optarg, 1, LONG_MAX, &v)))
				return rc;
			a->count = (long)v;
			break;
		}
		default: return cli_bad_option(cmd, argv, shortopts, opts);
		}
	}
	if (a->config) {
		cli_paths p;
		if ((rc = cli_locations(cmd, a->config, NULL, a->index_dir, &p)))
			return rc;
		a->config_df = p.dataflow;
		a->owned_log_dir = p.log_dir;
		if (!a->index_dir)
			a->index_dir = a->owned_index = p.index_dir;
		else
			free(p.index_dir);
	}
	if ((allowed & QO_NEED_HYP) && !a->o.hyp)
		return cli_usage(cmd, "--hyp is required");
	if (!a->index_dir)
		return cli_usage(cmd, "give -c CONFIG or --index-dir DIR");
	a->npos = argc - optind;
	a->pos = argv + optind;
	/* The dataflow may come from the config instead of the command line. */
	int have = a->npos + (a->config_df && a->npos < npos_max ? 1 : 0);
	if (have < npos_min || a->npos > npos_max)
		return cli_usage(cmd, a->npos > npos_max ? "too many arguments" : "missing arguments");
	if (npos_max > 0)
		a->o.df = a->npos == npos_max || !a->config_df ? a->pos[0] : a->config_df;
	return 0;
}

void query_args_free(query_args *a)
{
	free(a->config_df);
	free(a->owned_index);
	free(a->owned_log_dir);
}

int query_fail(const char *cmd, int rc)
{
	const char *d = dnnprov_errmsg();
	cli_error(cmd, "%s", d && *d ? d : dnnprov_strerror(rc));
	return 1;
}

int query_open(const char *cmd, const query_args *a, dp_query *q)
{
	int rc = dp_query_open(a->index_dir, q);
	return rc ? query_fail(cmd, rc) : 0;
}

/* COLUMNS when set (as ls(1) takes it), or the terminal's width; on a pipe
 * or a file no limit at all: text written for a program is never cut. */
int query_width(bool wide)
{
	struct winsize ws;
	const char *env = getenv("COLUMNS");
	long cols = env ? strtol(env, NULL, 10) : 0;
	if (wide)
		return 0;
	if (cols >= 20 && cols <= 100000)
		return (int)cols;
	if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
		return ws.ws_col;
	return isatty(STDOUT_FILENO) ? 80 : 0;
}

int query_print(const char *cmd, const query_args *a, dp_table *t, dp_qnotes *notes, dp_query *q)
{
	dp_freshness f;
	dp_buf json = { 0 }, note = { 0 };
	int rc = 0;

	if (q && (rc = dp_query_freshness(q, a->index_dir, a->owned_log_dir, a->o.df, a->o.task, &f)) == 0 &&
	    (rc = dp_freshness_json(&f, &json)) == 0)
		rc = dp_freshness_note(&f, &note);
	const char *index_json = json.len ? dp_buf_cstr(&json) : NULL;
	if (rc == 0 && json.len && !index_json)
		rc = dp_error(DNNPROV_ENOMEM, "out of memory");
	if (rc == 0)
		rc = dp_table_write(t, a->format, stdout, query_width(a->wide), index_json);
	if (rc == 0 && a->format == FMT_TABLE && notes && notes->text.len)
		fwrite(notes->text.data, 1, notes->text.len, stdout);
	if (rc == 0 && note.len)
		fwrite(note.data, 1, note.len, a->format == FMT_TABLE ? stdout : stderr);
	dp_buf_free(&json);
	dp_buf_free(&note);
	return rc ? query_fail(cmd, rc) : cli_finish(cmd, 0);
}

/* Whether the index holds any dataflow, and the one the command asks for. */
static int index_holds(dp_query *q, const char *df, bool *empty, bool *has_df)
{
	char **names;
	size_t n;
	int rc = dp_query_dataflows(q, &names, &n);
	if (rc)
		return rc;
	*has_df = false;
	for (size_t i = 0; i < n; i++) {
		*has_df = *has_df || (df && strcmp(names[i], df) == 0);
		free(names[i]);
	}
	free(names);
	*empty = n == 0;
	return 0;
}

/* The argument after [DF] on a command's usage line ("TASK" for curve),
 * so that a message about the arguments names them as the usage does. */
static size_t usage_word_after_df(const char *cmd, const char **word)
{
	const cli_command *c = cli_find(cmd);
	const char *p = c ? strstr(c->usage, "[DF] ") : NULL;
	const char *nl = c ? strchr(c->usage, '\n') : NULL;
	if (!p || (nl && p > nl)) {
		*word = "";
		return 0;
	}
	*word = p + 5;
	return strcspn(*word, " [\n");
}

/* `curve -c exp.yaml A B`: with -c, two arguments are a dataflow and a task,
 * so A was taken for a dataflow.  When there is no such dataflow, saying so
 * alone would puzzle whoever meant two tasks. */
static int no_positional_dataflow(const char *cmd, dp_query *q, const query_args *a)
{
	const char *word;
	char lower[32];
	size_t n = usage_word_after_df(cmd, &word), i = 0;
	for (; i < n && i < sizeof(lower) - 1; i++)
		lower[i] = (char)tolower((unsigned char)word[i]);
	lower[i] = '\0';
	dp_query_no_dataflow(q, a->o.df);
	cli_error(cmd, "%s; %s takes [DF] %.*s, so '%s' was read as the dataflow and '%s' as the %s",
		  dnnprov_errmsg(), cmd, (int)n, word, a->o.df, a->pos[1], lower);
	return 1;
}

int query_run(const char *cmd, int argc, char **argv, unsigned allowed, int npos_min, int npos_max,
	      void (*positional)(query_args *a), query_fn fn)
{
	query_args a;
	dp_query q;
	dp_table t = { 0 };
	dp_qnotes notes = { 0 };
	int rc, status;

	if ((status = query_parse(cmd, argc, argv, allowed, npos_min, npos_max, &a)))
		goto out_args;
	if (positional)
		positional(&a);
	a.o.now = dp_now();
	if ((status = query_open(cmd, &a, &q)))
		goto out_args;
	bool empty = false, has_df = false;
	if ((rc = index_holds(&q, a.o.df, &empty, &has_df))) {
		status = query_fail(cmd, rc);
	} else if (!empty && !has_df && a.config_df && a.npos >= 2 && a.o.df == a.pos[0]) {
		status = no_positional_dataflow(cmd, &q, &a);
	} else if (empty) {
		cli_error(cmd, "the index at %s is empty: nothing has been indexed yet", a.index_dir);
		if (a.format == FMT_JSON)
			fputs("{\"columns\": [],\n\"rows\": []}\n", stdout);
		status = cli_finish(cmd, 0);
	} else if ((rc = fn(&q, &a.o, &t, &notes)) || (rc = dp_table_check(&t, &notes.text)) ||
		   (rc = dp_query_check(&q))) {
		/* A failed read or decode makes later steps fail for a wrong
		 * reason ("no metric" of a spec it could not decode): the
		 * first cause is the error. */
		int cause = dp_query_check(&q);
		status = query_fail(cmd, cause ? cause : rc);
	} else {
		status = query_print(cmd, &a, &t, &notes, &q);
	}
	dp_table_free(&t);
	dp_buf_free(&notes.text);
	dp_query_close(&q);
out_args:
	query_args_free(&a);
	return cli_status(status);
}
