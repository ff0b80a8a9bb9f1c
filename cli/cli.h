/*
 * cli.h - what the subcommands share: the command table's entry type,
 * error printing and stdout checking.  Only cli/ prints or exits.
 *
 * Exit statuses: 0 success, 1 failure (or, for check, problems found),
 * 2 a usage error.
 */
#ifndef DNNPROV_CLI_H
#define DNNPROV_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "util/util.h"

#define EXIT_USAGE 2

typedef struct cli_command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
	const char *usage; /* printed by `dnnprov help NAME` and `dnnprov NAME --help` */
} cli_command;
/* The command table lists the questions of the registry at this entry. */
#define CLI_QUESTIONS "(questions)"

/* Prints "dnnprov: CMD: message" to stderr. */
void cli_error(const char *cmd, const char *fmt, ...) DP_PRINTF(2, 3);
/* cli_error() with the library's detail for rc: "what: detail", or the
 * detail alone when it names `what` already ("exp.yaml:2:1: ..."). */
int cli_lib_error(const char *cmd, int rc, const char *what);
/* Prints the usage of `cmd` to stderr with a one-line reason; returns 2. */
int cli_usage(const char *cmd, const char *why, ...) DP_PRINTF(2, 3);
/* Prints the usage to stdout for --help; returns 0. */
int cli_help(const char *cmd);
/* For option parsers, which see --help only where it is not the value of
 * another option: prints the usage and returns CLI_DONE (1 if stdout
 * failed); the command then stops, and cli_status() makes CLI_DONE exit 0. */
#define CLI_DONE (-1)
int cli_help_done(const char *cmd);
static inline int cli_status(int status)
{
	return status == CLI_DONE ? 0 : status;
}
/* Flushes stdout and fails loudly if anything written to it was lost (a
 * full disk, a closed pipe).  Returns the exit status to use. */
int cli_finish(const char *cmd, int status);

/* Loads an experiment file; on failure prints why (FILE:LINE:COL and the
 * problem) and returns 1. */
int cli_config_load(const char *cmd, const char *path, dnnprov_config **out);

/* After getopt_long() returned '?' (opterr is 0: main() turns getopt's own
 * messages off): says which option was unknown or lacked its value, with
 * the usage.  Returns 2. */
struct option;
int cli_bad_option(const char *cmd, char **argv, const char *shortopts, const struct option *opts);

/* The value of option `opt` (its name as written, "--older-than") by the
 * grammars of util/units.c: 0 with *out set, or the usage error naming the
 * option, the value and what was expected (returns 2). */
int cli_opt_duration(const char *cmd, const char *opt, const char *arg, const char *bare_unit, double min_s,
		     double max_s, double *out);
int cli_opt_count(const char *cmd, const char *opt, const char *arg, uint64_t min, uint64_t max, uint64_t *out);
int cli_opt_address(const char *cmd, const char *opt, const char *arg, dp_address *out);

/* Where the logs and the index are: from the experiment file, unless
 * given directly.  Returns 0, or an exit status after printing why. */
typedef struct cli_paths {
	char *log_dir;
	char *index_dir;
	char *dataflow; /* the config's, when one was given */
} cli_paths;
int cli_locations(const char *cmd, const char *config_path, const char *log_dir,
		  const char *index_dir, cli_paths *out);
void cli_paths_free(cli_paths *p);
/* A catch-up (index, ship) reads logs that must exist: a mistyped folder
 * is an error, not "0 records".  Returns 0, or 1 after saying why. */
int cli_logs_exist(const char *cmd, const cli_paths *p);

/* --token-file: the token on the first line of FILE (malloc'd), or NULL
 * after saying why. */
char *cli_read_token_file(const char *cmd, const char *path);

/* The servers (serve, receive) run until SIGINT or SIGTERM: cli_stop_signals
 * ignores SIGPIPE and blocks those two (the threads started next inherit
 * the mask) before the server starts; cli_wait_for_stop waits for one.
 * cli_log_line is their `log` callback, ctx the command's name. */
#include <signal.h>
void cli_stop_signals(sigset_t *wait_mask);
void cli_wait_for_stop(const sigset_t *wait_mask);
void cli_log_line(void *cmd, const char *line);

/* The segments at or under a path named on the command line (cat, check),
 * telling what the walk could not take (logger/scan.h).  Returns 1 when
 * something was told or failed, else 0; the list holds what was found. */
struct dp_path_list;
int cli_find_segments(const char *cmd, const char *path, struct dp_path_list *segs);

/* The questions of the registry (query/registry.h), asked from the command
 * line (question.c): argv is the command's, from its name on.  Returns the
 * exit status. */
struct dp_question;
int cli_ask(const struct dp_question *qn, int argc, char **argv);
/* A question's --help, and its docs/QUERY.md section, from its
 * declaration.  0 or DNNPROV_ENOMEM. */
int cli_question_usage(const struct dp_question *qn, dp_buf *b);
int cli_question_markdown(const struct dp_question *qn, dp_buf *b);
/* Prints the library's detail of rc (or its description): exit status 1. */
int cli_query_fail(const char *cmd, int rc);
/* The width tables get: COLUMNS when set, else the terminal's; on a pipe
 * or a file, or with wide, no limit (0). */
int cli_width(bool wide);

/* The commands that are not questions, one file each. */
int cmd_log(int argc, char **argv);
int cmd_cat(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_index(int argc, char **argv);
int cmd_reindex(int argc, char **argv);
int cmd_export(int, char **);
int cmd_config(int argc, char **argv);
int cmd_sql(int argc, char **argv);
int cmd_ship(int argc, char **argv);
/* `dnnprov index --from URL` (cmd_ship.c): an index fed by the stream. */
bool cli_index_from(int argc, char **argv);
int cmd_index_from(int argc, char **argv);
int cmd_tag(int argc, char **argv);
int cmd_delete(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_receive(int argc, char **argv);
extern const char cmd_log_usage[], cmd_cat_usage[], cmd_check_usage[], cmd_index_usage[],
	cmd_reindex_usage[], cmd_export_usage[], cmd_config_usage[], cmd_sql_usage[], cmd_tag_usage[],
	cmd_delete_usage[], cmd_restore_usage[], cmd_serve_usage[], cmd_ship_usage[], cmd_receive_usage[];

#endif
