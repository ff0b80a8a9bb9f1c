/*
 * main.c - the `dnnprov` command: a table of subcommands, git style.  A
 * command that is not a question lives in cli/cmd_<name>.c with its usage
 * text beside it; the questions (runs, compare, ...) come from the query
 * layer's registry, each declared once in query/q_<name>.c, and
 * cli/question.c asks them.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/progress.h"
#include "query/registry.h"

static int cmd_help(int argc, char **argv);
static int cmd_version(int argc, char **argv);

static const char cmd_help_usage[] =
	"usage: dnnprov help [COMMAND]\n"
	"       dnnprov help --markdown [QUESTION]\n"
	"\n"
	"Lists the commands, or prints the usage of one.  --markdown prints the\n"
	"sections of docs/QUERY.md that describe the questions (all of them, or\n"
	"one), made from the same declarations as their usage.\n";
static const char cmd_version_usage[] = "usage: dnnprov version\n";

static const cli_command commands[] = {
	{ "config", cmd_config, "check an experiment file and show what it resolves to", cmd_config_usage },
	{ "log", cmd_log, "record provenance from a shell script", cmd_log_usage },
	{ "cat", cmd_cat, "print log records as JSON lines", cmd_cat_usage },
	{ "check", cmd_check, "verify segment files; --fix truncates torn tails", cmd_check_usage },
	{ "index", cmd_index, "index the logs into LMDB (--follow keeps tailing)", cmd_index_usage },
	{ "reindex", cmd_reindex, "rebuild the index from the logs and swap it in", cmd_reindex_usage },
	{ "ship", cmd_ship, "publish the logs to NATS JetStream (index --from reads them)", cmd_ship_usage },
	{ CLI_QUESTIONS, NULL, NULL, NULL },
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

static const cli_command *cli_find(const char *name)
{
	for (size_t i = 0; i < DP_ARRAY_LEN(commands); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/* Prints the usage of command or question `cmd` to f; false when there is
 * no such command. */
static bool print_usage(const char *cmd, FILE *f)
{
	const dp_question *qn = dp_question_find(cmd);
	const cli_command *c = qn ? NULL : cli_find(cmd);
	if (qn) {
		dp_buf b = { 0 };
		if (cli_question_usage(qn, &b) == 0)
			fputs(dp_buf_cstr(&b), f);
		else
			fprintf(f, "usage: dnnprov %s ...\n", cmd); /* out of memory */
		dp_buf_free(&b);
	} else if (c) {
		fputs(c->usage, f);
	}
	return qn || c;
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
	va_list ap;
	fprintf(stderr, "dnnprov: %s: ", cmd);
	va_start(ap, why);
	vfprintf(stderr, why, ap);
	va_end(ap);
	fputc('\n', stderr);
	print_usage(cmd, stderr);
	return EXIT_USAGE;
}

int cli_help(const char *cmd)
{
	print_usage(cmd, stdout);
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
	for (size_t i = 0; i < DP_ARRAY_LEN(commands); i++) {
		if (strcmp(commands[i].name, CLI_QUESTIONS) != 0) {
			fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
			continue;
		}
		for (size_t q = 0; q < dp_question_count(); q++)
			fprintf(f, "  %-12s %s\n", dp_question_at(q)->name, dp_question_at(q)->summary);
	}
	fputs("\n`dnnprov help COMMAND` or `dnnprov COMMAND --help` shows a command's usage.\n", f);
}

/* `dnnprov help --markdown [QUESTION]`: docs/QUERY.md's sections. */
static int help_markdown(int argc, char **argv)
{
	dp_buf b = { 0 };
	int rc = 0;
	if (argc > 3)
		return cli_usage("help", "too many arguments");
	if (argc == 3 && !dp_question_find(argv[2]))
		return cli_usage("help", "'%s' is no question", argv[2]);
	for (size_t q = 0; q < dp_question_count() && !rc; q++) {
		const dp_question *qn = dp_question_at(q);
		if (argc == 3 && strcmp(argv[2], qn->name) != 0)
			continue;
		if (b.len)
			dp_buf_putc(&b, '\n');
		rc = cli_question_markdown(qn, &b);
	}
	if (rc)
		return cli_query_fail("help", rc);
	fwrite(b.data, 1, b.len, stdout);
	dp_buf_free(&b);
	return cli_finish("help", 0);
}

static int cmd_help(int argc, char **argv)
{
	if (argc < 2) {
		list_commands(stdout);
		return cli_finish("help", 0);
	}
	if (strcmp(argv[1], "--markdown") == 0)
		return help_markdown(argc, argv);
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)
		return cli_help("help");
	if (argc > 2)
		return cli_usage("help", "too many arguments");
	if (!print_usage(argv[1], stdout)) {
		cli_error("help", "unknown command '%s'", argv[1]);
		list_commands(stderr);
		return EXIT_USAGE;
	}
	return cli_finish("help", 0);
}

static int cmd_version(int argc, char **argv)
{
	if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0))
		return cli_help("version");
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
	const dp_question *qn = dp_question_find(argv[1]);
	if (qn)
		return cli_ask(qn, argc - 1, argv + 1);
	if (!(c = cli_find(argv[1])) || !c->run) {
		cli_error(argv[1], "unknown command; `dnnprov help` lists them");
		return EXIT_USAGE;
	}
	/* --help is each command's option: only its parser knows where it
	 * would be a value (`log ... end --message --help`). */
	return c->run(argc - 1, argv + 1);
}
