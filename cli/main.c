/*
 * main.c - the `dnnprov` command: a table of subcommands, git style.  Each
 * subcommand lives in cli/cmd_<name>.c with its usage text beside it.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/progress.h"

static int cmd_help(int argc, char **argv);
static int cmd_version(int argc, char **argv);

static const char cmd_help_usage[] =
	"usage: dnnprov help [COMMAND]\n"
	"\n"
	"Lists the commands, or prints the usage of one.\n";
static const char cmd_version_usage[] = "usage: dnnprov version\n";

static const cli_command commands[] = {
	{ "config", cmd_config, "check an experiment file and show what it resolves to", cmd_config_usage },
	{ "log", cmd_log, "record provenance from a shell script", cmd_log_usage },
	{ "cat", cmd_cat, "print log records as JSON lines", cmd_cat_usage },
	{ "check", cmd_check, "verify segment files; --fix truncates torn tails", cmd_check_usage },
	{ "index", cmd_index, "index the logs into LMDB (--follow keeps tailing)", cmd_index_usage },
	{ "reindex", cmd_reindex, "rebuild the index from the logs and swap it in", cmd_reindex_usage },
	{ "ship", cmd_ship, "publish the logs to NATS JetStream (index --from reads them)", cmd_ship_usage },
	{ "dataflows", cmd_dataflows, "list the dataflows in the index", cmd_dataflows_usage },
	{ "describe", cmd_describe, "a dataflow's specification and task counts, or one run", cmd_describe_usage },
	{ "runs", cmd_runs, "a row per task: status, hyperparameters, main metric", cmd_runs_usage },
	{ "compare", cmd_compare, "hyperparameters against a metric, best first", cmd_compare_usage },
	{ "effect", cmd_effect, "what one hyperparameter does to a metric", cmd_effect_usage },
	{ "curve", cmd_curve, "one task epoch by epoch, with adaptations", cmd_curve_usage },
	{ "adaptations", cmd_adaptations, "hyperparameter changes and what followed", cmd_adaptations_usage },
	{ "test", cmd_test, "test results beside hyperparameters", cmd_test_usage },
	{ "elements", cmd_elements, "data of user-defined transformations", cmd_elements_usage },
	{ "layers", cmd_layers, "the layer facts of tasks (activations, dropout, ...)", cmd_layers_usage },
	{ "watch", cmd_watch, "live view of running tasks", cmd_watch_usage },
	{ "sql", cmd_sql, "SQL over the live index (tables, DfAnalyzer views)", cmd_sql_usage },
	{ "tag", cmd_tag, "tag or annotate a run, at any time", cmd_tag_usage },
	{ "delete", cmd_delete, "move runs to the trash; the index drops them", cmd_delete_usage },
	{ "restore", cmd_restore, "take deleted runs back from the trash", cmd_restore_usage },
	{ "export", cmd_export, "write W3C PROV (PROV-JSON or PROV-N)", cmd_export_usage },
	{ "serve", cmd_serve, "a web dashboard and JSON API of the live index", cmd_serve_usage },
	{ "receive", cmd_receive, "record what DfAnalyzer clients post (Keras-Prov, dfa-lib-python)", cmd_receive_usage },
	{ "help", cmd_help, "show the commands or one command's usage", cmd_help_usage },
	{ "version", cmd_version, "print the version", cmd_version_usage },
};

const cli_command *cli_find(const char *name)
{
	for (size_t i = 0; i < DP_ARRAY_LEN(commands); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

void cli_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	cli_progress_interrupt(); /* the message gets a line of its own */
	fprintf(stderr, "dnnprov: %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_lib_error(const char *cmd, int rc, const char *what)
{
	const char *detail = dnnprov_errmsg();
	if (detail && *detail && strstr(detail, what))
		cli_error(cmd, "%s", detail); /* it names what already: once is enough */
	else if (detail && *detail)
		cli_error(cmd, "%s: %s", what, detail);
	else
		cli_error(cmd, "%s: %s", what, dnnprov_strerror(rc));
	return 1;
}

int cli_usage(const char *cmd, const char *why, ...)
{
	const cli_command *c = cli_find(cmd);
	va_list ap;
	fprintf(stderr, "dnnprov: %s: ", cmd);
	va_start(ap, why);
	vfprintf(stderr, why, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (c)
		fputs(c->usage, stderr);
	return EXIT_USAGE;
}

int cli_help(const char *cmd)
{
	const cli_command *c = cli_find(cmd);
	if (c)
		fputs(c->usage, stdout);
	return cli_finish(cmd, 0);
}

int cli_help_done(const char *cmd)
{
	int status = cli_help(cmd);
	return status ? status : CLI_DONE;
}

int cli_finish(const char *cmd, int status)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		cli_error(cmd, "cannot write the output: %s", strerror(errno ? errno : EIO));
		return 1;
	}
	return status;
}

static void list_commands(FILE *f)
{
	fputs("usage: dnnprov COMMAND [ARGS]\n\ncommands:\n", f);
	for (size_t i = 0; i < DP_ARRAY_LEN(commands); i++)
		fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
	fputs("\n`dnnprov help COMMAND` or `dnnprov COMMAND --help` shows a command's usage.\n", f);
}

static int cmd_help(int argc, char **argv)
{
	const cli_command *c;
	if (argc < 2) {
		list_commands(stdout);
		return cli_finish("help", 0);
	}
	if (!(c = cli_find(argv[1]))) {
		cli_error("help", "unknown command '%s'", argv[1]);
		list_commands(stderr);
		return EXIT_USAGE;
	}
	fputs(c->usage, stdout);
	return cli_finish("help", 0);
}

static int cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("dnnprov %s\n", DNNPROV_VERSION);
	return cli_finish("version", 0);
}

int main(int argc, char **argv)
{
	const cli_command *c;

	opterr = 0; /* cli_bad_option() says what was wrong, once */
	if (argc < 2) {
		list_commands(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return cmd_help(1, argv);
	if (strcmp(argv[1], "--version") == 0)
		return cmd_version(1, argv);
	if (!(c = cli_find(argv[1]))) {
		cli_error(argv[1], "unknown command; `dnnprov help` lists them");
		return EXIT_USAGE;
	}
	/* --help is each command's option: only its parser knows where it
	 * would be a value (`log ... end --message --help`). */
	return c->run(argc - 1, argv + 1);
}
