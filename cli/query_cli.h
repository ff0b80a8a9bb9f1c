/*
 * query_cli.h - what the query subcommands share: their options, opening
 * the index, and printing a result table in the chosen format.
 */
#ifndef DNNPROV_QUERY_CLI_H
#define DNNPROV_QUERY_CLI_H

#include "cli/cli.h"
#include "query/commands.h"

/* Options a command accepts, as a bit set. */
enum {
	QO_WHERE = 1 << 0,
	QO_SORT = 1 << 1,
	QO_LIMIT = 1 << 2,
	QO_METRIC = 1 << 3,
	QO_AGG = 1 << 4,
	QO_GOAL = 1 << 5,
	QO_HYP = 1 << 6,
	QO_BINS = 1 << 7,
	QO_TASK = 1 << 8,
	QO_METRICS = 1 << 9,
	QO_WINDOW = 1 << 10,
	QO_SET = 1 << 11,
	QO_INTERVAL = 1 << 12,
	QO_NEED_HYP = 1 << 13, /* --hyp must be given */
	QO_FACTS = 1 << 14,
};

typedef struct query_args {
	dp_qopts o;
	dp_format format;
	const char *index_dir;
	const char *config;
	char *config_df;      /* the config's dataflow, when -c was given */
	char *owned_index;    /* from the config */
	char *owned_log_dir;  /* from the config: the logs the freshness note compares */
	bool wide;            /* --wide: tables are never cut */
	char **pos;           /* positional arguments */
	int npos;
	double interval;      /* watch */
	long count;           /* watch: refreshes, 0 for endless */
} query_args;

/* Parses the options in `allowed` and the positionals; `npos_min` and
 * `npos_max` count them including the dataflow, which may come from -c.
 * Returns 0 or an exit status after printing why. */
int query_parse(const char *cmd, int argc, char **argv, unsigned allowed, int npos_min, int npos_max,
		query_args *a);
void query_args_free(query_args *a);

/* Opens the index; prints why and returns an exit status on failure. */
int query_open(const char *cmd, const query_args *a, dp_query *q);

/* The width tables get: COLUMNS when set, else the terminal's; on a pipe
 * or a file, or with wide, no limit (0). */
int query_width(bool wide);

/* Prints a table and its notes (table format only), with what q's index
 * says of its freshness (the "index" member of JSON, a note line under a
 * table, a line on stderr with CSV); returns the exit status: 0, or 1 when
 * stdout failed. */
int query_print(const char *cmd, const query_args *a, dp_table *t, dp_qnotes *notes, dp_query *q);

/* Prints the library error of a query: exit status 1. */
int query_fail(const char *cmd, int rc);

/* The whole of most commands: parse, open the snapshot, run `fn`, print.
 * An index with no dataflow prints an empty result and a note on stderr,
 * and exits 0. */
typedef int (*query_fn)(dp_query *q, const dp_qopts *o, dp_table *out, dp_qnotes *notes);
int query_run(const char *cmd, int argc, char **argv, unsigned allowed, int npos_min, int npos_max,
	      void (*positional)(query_args *a), query_fn fn);

#endif
