/*
 * question.c - the questions of the registry (query/registry.h) on the
 * command line: `dnnprov NAME [DF] [ARGS] [--OPTION VALUE]...`, its
 * --help and `dnnprov help NAME` (and --markdown for docs/QUERY.md), all
 * made from the question's declaration.
 *
 * Every question also takes -c CONFIG (the index, the logs the freshness
 * note compares, and the default dataflow) or --index-dir DIR, --format
 * and --wide.  A value is parsed and checked by the registry
 * (dp_ask_set_param), as every other front end's.
 *
 * POSITIONAL ARGUMENTS.  A question about a dataflow takes [DF] first,
 * then its own (TASK for curve, TRANSFORMATION for elements, [TASK] for
 * describe and layers).  All of them given: the first is DF.  Fewer: with
 * -c, they are the question's own and DF is the config's; without, the
 * first is DF when the required ones remain, else DF is the only dataflow
 * in the index (dp_ask_run), so that `curve --index-dir I TASK` works on
 * a query host that has no experiment file.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "logger/decode.h"
#include "query/registry.h"
#include "util/map.h"

/* getopt's value for the question's parameter i. */
#define PARAM_VAL(i) (256 + (int)(i))
enum { OPT_INDEX_DIR = 1000, OPT_WIDE };

typedef struct ask_args {
	const char *cmd;
	dp_ask ask;
	dp_format format;
	const char *config, *index_dir;
	bool wide;
	cli_paths paths;       /* from -c */
	bool df_from_config;   /* DF is the config's, and the positionals are the question's own */
} ask_args;

/* ---- what the command line says ------------------------------------------------------------ */

int cli_query_fail(const char *cmd, int rc)
{
	const char *d = dnnprov_errmsg();
	cli_error(cmd, "%s", d && *d ? d : dnnprov_strerror(rc));
	return 1;
}

int cli_width(bool wide)
{
	struct winsize ws;
	const char *env = getenv("COLUMNS");
	long cols = env ? strtol(env, NULL, 10) : 0;
	if (wide)
		return 0;
	/* COLUMNS when set (as ls(1) takes it), or the terminal's width; on a
	 * pipe or a file no limit at all: text written for a program is never
	 * cut. */
	if (cols >= 20 && cols <= 100000)
		return (int)cols;
	if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
		return ws.ws_col;
	return isatty(STDOUT_FILENO) ? 80 : 0;
}

/* The parameters a question takes by position, DF first (at most
 * MAX_POSITIONALS: a question has two or three). */
#define MAX_POSITIONALS 16
static size_t positionals(const dp_question *qn, const dp_param **out)
{
	size_t n = 0;
	for (size_t i = 0; i < qn->nparams && n < MAX_POSITIONALS; i++)
		if (qn->params[i].positional)
			out[n++] = &qn->params[i];
	return n;
}

/* Whether some question takes --name (or -letter when name is NULL) on the
 * command line: then it does not apply to this one, rather than being
 * unknown. */
static const char *known_elsewhere(const char *name, size_t n, char letter)
{
	for (size_t q = 0; q < dp_question_count(); q++) {
		const dp_question *qn = dp_question_at(q);
		for (size_t i = 0; i < qn->nparams; i++) {
			const dp_param *p = &qn->params[i];
			if (!(p->fronts & DP_FRONT_CLI))
				continue;
			if (name ? strlen(p->name) == n && strncmp(p->name, name, n) == 0 : letter && p->short_name == letter)
				return p->name;
		}
	}
	return NULL;
}

/* getopt's tables for qn: the common options, then its parameters. */
static int option_tables(const dp_question *qn, struct option **longs, char **shorts)
{
	static const struct option common[] = {
		{ "config", required_argument, NULL, 'c' },    { "index-dir", required_argument, NULL, OPT_INDEX_DIR },
		{ "format", required_argument, NULL, 'f' },    { "wide", no_argument, NULL, OPT_WIDE },
		{ "help", no_argument, NULL, 'h' },
	};
	size_t n = DP_ARRAY_LEN(common), k = 0;
	*longs = calloc(n + qn->nparams + 1, sizeof(struct option));
	*shorts = calloc(2 * qn->nparams + 8, 1);
	if (!*longs || !*shorts) {
		free(*longs);
		free(*shorts);
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	}
	memcpy(*longs, common, sizeof(common));
	strcpy(*shorts, "c:f:h");
	k = strlen(*shorts);
	for (size_t i = 0; i < qn->nparams; i++) {
		const dp_param *p = &qn->params[i];
		if (!(p->fronts & DP_FRONT_CLI))
			continue;
		bool flag = p->type == DP_PT_FLAG;
		(*longs)[n++] = (struct option){ p->name, flag ? no_argument : required_argument, NULL, PARAM_VAL(i) };
		if (p->short_name) {
			(*shorts)[k++] = p->short_name;
			if (!flag)
				(*shorts)[k++] = ':';
		}
	}
	return 0;
}

/* getopt takes an unambiguous prefix for a long option (--wh for --where),
 * but an option of another question given in full is no prefix of this
 * one's: `curve --metric loss` would else be --metrics.  That name, or
 * NULL. */
static const char *abbreviation_of_another(char **argv, const struct option *longs, int at, int c)
{
	if (c < 256 && c != 'c' && c != 'f' && c != OPT_INDEX_DIR && c != OPT_WIDE)
		return NULL; /* a short option, or --help */
	/* The word getopt read: before its value when the value came apart. */
	const char *word = optarg && optind >= 2 && argv[optind - 1] == optarg ? argv[optind - 2] : argv[optind - 1];
	if (strncmp(word, "--", 2) != 0)
		return NULL;
	size_t n = strcspn(word + 2, "=");
	if (n == strlen(longs[at].name))
		return NULL;
	return known_elsewhere(word + 2, n, 0);
}

/* The parameter of short letter c, or NULL. */
static const dp_param *by_letter(const dp_question *qn, int c)
{
	for (size_t i = 0; i < qn->nparams; i++)
		if (qn->params[i].short_name == c && (qn->params[i].fronts & DP_FRONT_CLI))
			return &qn->params[i];
	return NULL;
}

/* An option getopt refused: one another question takes, or what
 * cli_bad_option says. */
static int bad_option(ask_args *a, char **argv, const char *shorts, const struct option *longs)
{
	const char *arg = argv[optind - 1], *other = NULL;
	if (strncmp(arg, "--", 2) == 0 && !optopt)
		other = known_elsewhere(arg + 2, strcspn(arg + 2, "="), 0);
	else if (optopt && !strchr(shorts, optopt))
		other = known_elsewhere(NULL, 0, (char)optopt);
	if (other)
		return cli_usage(a->cmd, "option --%s does not apply to %s", other, a->cmd);
	return cli_bad_option(a->cmd, argv, shorts, longs);
}

/* Which positionals are which (see the top of the file). */
static int place_positionals(ask_args *a, char **pos, int npos)
{
	const dp_question *qn = a->ask.qn;
	const dp_param *ps[MAX_POSITIONALS];
	size_t np = positionals(qn, ps), required = 0;
	bool has_df = np && ps[0]->type == DP_PT_DATAFLOW;
	size_t first = 0;
	int rc;

	for (size_t i = has_df; i < np; i++)
		required += ps[i]->required;
	if ((size_t)npos > np)
		return cli_usage(a->cmd, "too many arguments");
	if (has_df && (size_t)npos == np) {
		first = 0; /* DF and every other */
	} else if (has_df && a->paths.dataflow) {
		a->df_from_config = true;
		a->ask.o->df = a->paths.dataflow;
		first = 1;
	} else if (has_df && (size_t)npos >= required + 1) {
		first = 0; /* DF, then what is required */
	} else {
		first = has_df; /* DF from the index, when it holds one */
	}
	if ((size_t)npos - (size_t)(has_df && !first ? 1 : 0) < required) {
		dp_buf missing = { 0 };
		for (size_t i = has_df + ((size_t)npos - (has_df && !first)); i < np; i++)
			if (ps[i]->required)
				dp_buf_printf(&missing, "%s%s", missing.len ? " " : "", ps[i]->positional);
		rc = cli_usage(a->cmd, "missing %s", dp_buf_cstr(&missing) ? dp_buf_cstr(&missing) : "arguments");
		dp_buf_free(&missing);
		return rc;
	}
	for (int k = 0; k < npos; k++) {
		const dp_param *p = ps[first + (size_t)k];
		if ((rc = dp_ask_set_param(&a->ask, p, pos[k])))
			return cli_usage(a->cmd, "%s", dnnprov_errmsg());
	}
	return 0;
}

/* Parses the command line into *a: 0, or an exit status after saying why
 * (CLI_DONE after --help). */
static int parse(ask_args *a, int argc, char **argv)
{
	const dp_question *qn = a->ask.qn;
	struct option *longs;
	char *shorts;
	int c, rc, status = 0;

	if ((rc = option_tables(qn, &longs, &shorts)))
		return cli_query_fail(a->cmd, rc);
	optind = 1;
	int at;
	while (!status && (c = getopt_long(argc, argv, shorts, longs, &at)) != -1) {
		const dp_param *p = c >= PARAM_VAL(0) && c < PARAM_VAL(qn->nparams) ? &qn->params[c - PARAM_VAL(0)]
										    : by_letter(qn, c);
		const char *other = abbreviation_of_another(argv, longs, at, c);
		if (other) {
			status = cli_usage(a->cmd, "option --%s does not apply to %s", other, a->cmd);
			break;
		}
		if (p) {
			if (dp_ask_set_param(&a->ask, p, optarg))
				status = cli_usage(a->cmd, "%s", dnnprov_errmsg());
			continue;
		}
		switch (c) {
		case 'h': status = cli_help_done(a->cmd); break;
		case 'c': a->config = optarg; break;
		case OPT_INDEX_DIR: a->index_dir = optarg; break;
		case OPT_WIDE: a->wide = true; break;
		case 'f':
			if (dp_format_parse(optarg, &a->format))
				status = cli_usage(a->cmd, "%s", dnnprov_errmsg());
			break;
		default: status = bad_option(a, argv, shorts, longs); break;
		}
	}
	free(longs);
	free(shorts);
	if (status)
		return status;
	if (a->config && (rc = cli_locations(a->cmd, a->config, NULL, a->index_dir, &a->paths)))
		return rc;
	if (!a->index_dir)
		a->index_dir = a->paths.index_dir;
	if (!a->index_dir)
		return cli_usage(a->cmd, "give -c CONFIG or --index-dir DIR");
	if ((status = place_positionals(a, argv + optind, argc - optind)))
		return status;
	if (dp_ask_check(&a->ask))
		return cli_usage(a->cmd, "%s", dnnprov_errmsg());
	return 0;
}

/* ---- answering --------------------------------------------------------------------------------- */

/* Prints a table and its notes (table format only), with what q's index
 * says of its freshness (the "index" member of JSON, a note line under a
 * table, a line on stderr with CSV); returns the exit status. */
static int print_answer(ask_args *a, dp_table *t, dp_qnotes *notes, dp_query *q)
{
	dp_freshness f;
	dp_buf json = { 0 }, note = { 0 };
	int rc = 0;

	if ((rc = dp_query_freshness(q, a->index_dir, a->paths.log_dir, a->ask.o->df, a->ask.o->task, &f)) == 0 &&
	    (rc = dp_freshness_json(&f, &json)) == 0)
		rc = dp_freshness_note(&f, &note);
	const char *index_json = json.len ? dp_buf_cstr(&json) : NULL;
	if (rc == 0 && json.len && !index_json)
		rc = dp_error(DNNPROV_ENOMEM, "out of memory");
	if (rc == 0)
		rc = dp_table_write(t, a->format, stdout, cli_width(a->wide), index_json);
	if (rc == 0 && a->format == FMT_TABLE && notes && notes->text.len)
		fwrite(notes->text.data, 1, notes->text.len, stdout);
	if (rc == 0 && note.len)
		fwrite(note.data, 1, note.len, a->format == FMT_TABLE ? stdout : stderr);
	dp_buf_free(&json);
	dp_buf_free(&note);
	return rc ? cli_query_fail(a->cmd, rc) : cli_finish(a->cmd, 0);
}

/* `curve -c exp.yaml A B`: with -c, two arguments are a dataflow and a
 * task, so A was taken for a dataflow.  When there is no such dataflow,
 * saying so alone would puzzle whoever meant two tasks. */
static int no_positional_dataflow(ask_args *a, dp_query *q, char **pos)
{
	const dp_param *ps[MAX_POSITIONALS];
	size_t np = positionals(a->ask.qn, ps);
	char lower[32];
	size_t i = 0;
	for (const char *w = np > 1 ? ps[1]->positional : ""; *w && i < sizeof(lower) - 1; w++)
		lower[i++] = (char)tolower((unsigned char)*w);
	lower[i] = '\0';
	dp_query_no_dataflow(q, pos[0]);
	cli_error(a->cmd, "%s; %s takes [DF] %s, so '%s' was read as the dataflow and '%s' as the %s",
		  dnnprov_errmsg(), a->cmd, np > 1 ? ps[1]->positional : "", pos[0], pos[1], lower);
	return 1;
}

/* One answer from a new snapshot. */
static int answer_once(ask_args *a, char **pos, int npos)
{
	dp_query q;
	dp_table t = { 0 };
	dp_qnotes notes = { 0 };
	int rc, status;

	if ((rc = dp_query_open(a->index_dir, &q)))
		return cli_query_fail(a->cmd, rc);
	a->ask.o->now = dp_now();
	/* With -c, two positionals: the first was taken for a dataflow. */
	bool df_is_first = a->paths.dataflow && !a->df_from_config && npos >= 2 && a->ask.o->df == pos[0];
	rc = dp_ask_run(&a->ask, &q, &t, &notes);
	if (rc == DNNPROV_ENOTFOUND && df_is_first && strcmp(dnnprov_errsubject(), "dataflow") == 0) {
		status = no_positional_dataflow(a, &q, pos);
	} else if (rc == DP_ASK_EMPTY) {
		cli_error(a->cmd, "the index at %s is empty: nothing has been indexed yet", a->index_dir);
		if (a->format == FMT_JSON)
			fputs("{\"columns\": [],\n\"rows\": []}\n", stdout);
		status = cli_finish(a->cmd, 0);
	} else if (rc == DNNPROV_EQUERY && strcmp(dnnprov_errsubject(), "dataflow") == 0 && !a->ask.o->df) {
		cli_error(a->cmd, "%s (give DF)", dnnprov_errmsg());
		status = EXIT_USAGE;
	} else if (rc) {
		status = cli_query_fail(a->cmd, rc);
	} else {
		if (a->ask.qn->flags & DP_Q_REFRESHED) {
			char stamp[32];
			dp_format_time(a->ask.o->now, stamp);
			if (isatty(STDOUT_FILENO) && a->format == FMT_TABLE)
				printf("\033[H\033[2J%s  %s of %s\n\n", stamp, a->ask.qn->summary, a->ask.o->df);
			else if (a->format == FMT_TABLE)
				printf("# %s\n", stamp);
		}
		status = print_answer(a, &t, &notes, &q);
	}
	dp_table_free(&t);
	dp_buf_free(&notes.text);
	dp_query_close(&q);
	return status;
}

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* SIGINT and SIGTERM end a refreshed or followed answer between two
 * snapshots, not in the middle of one. */
static void stop_on_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* A question the command line refreshes (watch): a new snapshot every
 * --interval, --count times or until interrupted. */
static int answer_refreshed(ask_args *a, char **pos, int npos)
{
	const dp_param *pi = dp_question_param(a->ask.qn, "interval", DP_FRONT_CLI);
	const dp_param *pc = dp_question_param(a->ask.qn, "count", DP_FRONT_CLI);
	double interval = pi ? *(double *)dp_param_field(pi, a->ask.o) : 2;
	int64_t count = pc ? *(int64_t *)dp_param_field(pc, a->ask.o) : 0;
	int status = 0;

	stop_on_signals();
	for (int64_t n = 0; !stop && (!count || n < count); n++) {
		if (n) {
			struct timespec ts = { (time_t)interval, (long)((interval - (double)(time_t)interval) * 1e9) };
			nanosleep(&ts, NULL); /* a signal ends the sleep early */
			if (stop)
				break;
		}
		if ((status = answer_once(a, pos, npos)))
			break;
	}
	return status;
}

/* A CSV field: quoted when it holds a comma, a quote or a line break. */
static void csv_text(dp_buf *b, const char *s)
{
	if (!strpbrk(s, ",\"\r\n")) {
		dp_buf_printf(b, "%s", s);
		return;
	}
	dp_buf_putc(b, '"');
	for (; *s; s++) {
		if (*s == '"')
			dp_buf_putc(b, '"');
		dp_buf_putc(b, *s);
	}
	dp_buf_putc(b, '"');
}

/* One followed row as one line: the table's cells (the columns it shows)
 * separated by two spaces, terminal-safe; CSV and JSON Lines for
 * programs. */
static void follow_line(ask_args *a, const dp_table *t, const dp_qv *row, bool *header)
{
	dp_buf b = { 0 };
	char stamp[32];
	if (a->format == FMT_CSV && !*header) {
		for (size_t c = 0; c < t->ncols; c++) {
			dp_buf_printf(&b, "%s", c ? "," : "");
			csv_text(&b, t->cols[c]);
		}
		dp_buf_putc(&b, '\n');
		*header = true;
	}
	if (a->format == FMT_JSON)
		dp_buf_putc(&b, '{');
	for (size_t c = 0, k = 0; c < t->ncols; c++) {
		const dp_qv *v = &row[c];
		if (a->format == FMT_TABLE && (t->table_omits[c] || v->type == QV_NULL))
			continue;
		dp_buf_printf(&b, "%s", k++ ? (a->format == FMT_TABLE ? "  " : ",") : "");
		if (a->format == FMT_JSON) {
			dp_json_string(&b, t->cols[c], strlen(t->cols[c]));
			dp_buf_putc(&b, ':');
		}
		if (v->type == QV_NULL)
			dp_buf_printf(&b, a->format == FMT_JSON ? "null" : "");
		else if (v->type == QV_TEXT && a->format == FMT_TABLE)
			dp_terminal_text(&b, v->text, strlen(v->text));
		else if (v->type == QV_TEXT && a->format == FMT_JSON)
			dp_json_string(&b, v->text, strlen(v->text));
		else if (v->type == QV_TEXT)
			csv_text(&b, v->text);
		else if (t->kinds[c] == COL_TIME && a->format != FMT_JSON)
			dp_format_time(v->num, stamp), dp_buf_printf(&b, "%s", stamp);
		else if (v->integer)
			dp_buf_printf(&b, "%lld", (long long)v->i);
		else if (a->format == FMT_TABLE)
			dp_buf_printf(&b, "%.6g", v->num);
		else
			dp_json_double(&b, v->num);
	}
	if (a->format == FMT_JSON)
		dp_buf_putc(&b, '}');
	dp_buf_putc(&b, '\n');
	if (!b.failed)
		fwrite(b.data, 1, b.len, stdout);
	dp_buf_free(&b);
}

/* A question the command line follows (events --follow): the rows it has
 * not printed, by the id in their first column, from a new snapshot every
 * --interval, until interrupted. */
static int answer_followed(ask_args *a)
{
	const dp_param *pi = dp_question_param(a->ask.qn, "interval", DP_FRONT_CLI);
	double interval = pi ? *(double *)dp_param_field(pi, a->ask.o) : 1;
	dp_map seen = { 0 };
	bool header = false;
	int status = 0;

	stop_on_signals();
	for (bool first = true; !stop; first = false) {
		if (!first) {
			struct timespec ts = { (time_t)interval, (long)((interval - (double)(time_t)interval) * 1e9) };
			nanosleep(&ts, NULL);
			if (stop)
				break;
		}
		dp_query q;
		dp_table t = { 0 };
		dp_qnotes notes = { 0 };
		int rc = dp_query_open(a->index_dir, &q);
		if (rc == DNNPROV_ENOTFOUND)
			continue; /* no index yet: the indexer will make one */
		if (rc) {
			status = cli_query_fail(a->cmd, rc);
			break;
		}
		a->ask.o->now = dp_now();
		rc = dp_ask_run(&a->ask, &q, &t, &notes);
		for (size_t r = 0; rc == 0 && r < t.nrows; r++) {
			const dp_qv *row = &t.cells[r * t.ncols];
			if (row[0].type != QV_TEXT)
				continue;
			void **slot = dp_map_slot(&seen, row[0].text, strlen(row[0].text), true);
			if (!slot)
				rc = dp_error(DNNPROV_ENOMEM, "out of memory");
			else if (!*slot) {
				*slot = &seen;
				follow_line(a, &t, row, &header);
			}
		}
		fflush(stdout);
		dp_table_free(&t);
		dp_buf_free(&notes.text);
		dp_query_close(&q);
		/* No such dataflow yet: its first writer has not been indexed. */
		bool not_yet = rc == DNNPROV_ENOTFOUND && strcmp(dnnprov_errsubject(), "dataflow") == 0;
		if (rc && rc != DP_ASK_EMPTY && !not_yet) {
			status = cli_query_fail(a->cmd, rc);
			break;
		}
	}
	dp_map_free(&seen);
	return status ? status : cli_finish(a->cmd, 0);
}

/* Whether the question was asked to follow (--follow). */
static bool following(const ask_args *a)
{
	const dp_param *pf = dp_question_param(a->ask.qn, "follow", DP_FRONT_CLI);
	return (a->ask.qn->flags & DP_Q_FOLLOWED) && pf && *(bool *)dp_param_field(pf, a->ask.o);
}

int cli_ask(const dp_question *qn, int argc, char **argv)
{
	ask_args a = { .cmd = qn->name };
	int rc, status;

	if ((rc = dp_ask_init(&a.ask, qn, DP_FRONT_CLI)))
		return cli_query_fail(a.cmd, rc);
	if ((status = parse(&a, argc, argv)) == 0)
		status = following(&a)			? answer_followed(&a)
			 : qn->flags & DP_Q_REFRESHED ? answer_refreshed(&a, argv + optind, argc - optind)
						      : answer_once(&a, argv + optind, argc - optind);
	dp_ask_free(&a.ask);
	cli_paths_free(&a.paths);
	return cli_status(status);
}

/* ---- usage and docs, from the declaration ---------------------------------------------------- */

/* Appends words to b, wrapped at 79 columns; continuation lines start
 * with `indent` spaces.  *col is the current column. */
static void wrap(dp_buf *b, const char *text, size_t indent, size_t *col)
{
	while (*text) {
		size_t n = strcspn(text, " ");
		if (*col > indent && *col + 1 + n > 79) {
			dp_buf_printf(b, "\n%*s", (int)indent, "");
			*col = indent;
		} else if (*col > indent) {
			dp_buf_putc(b, ' ');
			(*col)++;
		}
		dp_buf_append(b, text, n);
		*col += n;
		text += n;
		text += strspn(text, " ");
	}
}

/* One synopsis word of p: "[--where EXPR]", "--hyp H", "TASK", "[DF]". */
static void synopsis_word(dp_buf *w, const dp_param *p)
{
	w->len = 0;
	if (p->positional)
		dp_buf_printf(w, p->required ? "%s" : "[%s]", p->positional);
	else
		dp_buf_printf(w, "%s--%s%s%s%s", p->required ? "" : "[", p->name, p->arg ? " " : "", p->arg ? p->arg : "",
			      p->required ? "" : "]");
}

/* The option column of p in the list: "  -w, --where EXPR". */
static void option_label(dp_buf *b, const dp_param *p)
{
	if (p->short_name)
		dp_buf_printf(b, "  -%c, --%s", p->short_name, p->name);
	else
		dp_buf_printf(b, "      --%s", p->name);
	if (p->arg && p->type != DP_PT_FLAG)
		dp_buf_printf(b, " %s", p->arg);
}

/* The help of p, with its default. */
static void help_text(dp_buf *b, const dp_param *p)
{
	dp_buf_printf(b, "%s", p->help);
	if (p->def || p->def_help)
		dp_buf_printf(b, " (default: %s)", p->def ? p->def : p->def_help);
}

/* A line of the option list: the label, then the help from column 24. */
static void list_line(dp_buf *b, const char *label, const char *help)
{
	size_t col = 24, n = strlen(label);
	if (n >= 23)
		dp_buf_printf(b, "%s\n%24s", label, "");
	else
		dp_buf_printf(b, "%s%*s", label, (int)(24 - n), "");
	wrap(b, help, 24, &col);
	dp_buf_putc(b, '\n');
}

/* A synopsis word wrapped whole: "[--where EXPR]" is not cut at its space. */
static void wrap_word(dp_buf *b, dp_buf *w, size_t indent, size_t *col)
{
	for (char *s = w->data; s && s < w->data + w->len; s++)
		if (*s == ' ')
			*s = '\x01';
	wrap(b, dp_buf_cstr(w) ? dp_buf_cstr(w) : "", indent, col);
	for (char *s = b->data; s && s < b->data + b->len; s++)
		if (*s == '\x01')
			*s = ' ';
}

int cli_question_usage(const dp_question *qn, dp_buf *b)
{
	const dp_param *ps[MAX_POSITIONALS];
	size_t np = positionals(qn, ps), indent, col;
	dp_buf w = { 0 }, line = { 0 };

	dp_buf_printf(b, "usage: dnnprov %s ", qn->name);
	indent = col = b->len;
	dp_buf_printf(&w, "[-c CONFIG | --index-dir DIR]");
	wrap_word(b, &w, indent, &col);
	for (size_t i = 0; i < np; i++) {
		synopsis_word(&w, ps[i]);
		wrap_word(b, &w, indent, &col);
	}
	for (size_t i = 0; i < qn->nparams; i++) {
		if (!(qn->params[i].fronts & DP_FRONT_CLI))
			continue;
		synopsis_word(&w, &qn->params[i]);
		wrap_word(b, &w, indent, &col);
	}
	w.len = 0;
	dp_buf_printf(&w, "[--format table|csv|json]");
	wrap_word(b, &w, indent, &col);
	dp_buf_printf(b, "\n\n%s\n", qn->description);

	bool args = false;
	for (size_t i = 0; i < np; i++) {
		if (!args)
			dp_buf_printf(b, "\narguments:\n");
		args = true;
		line.len = 0;
		dp_buf_printf(&line, "  %s", ps[i]->positional);
		w.len = 0;
		help_text(&w, ps[i]);
		list_line(b, dp_buf_cstr(&line), dp_buf_cstr(&w));
	}
	dp_buf_printf(b, "\noptions:\n");
	for (size_t i = 0; i < qn->nparams; i++) {
		const dp_param *p = &qn->params[i];
		if (!(p->fronts & DP_FRONT_CLI))
			continue;
		line.len = 0;
		option_label(&line, p);
		w.len = 0;
		help_text(&w, p);
		list_line(b, dp_buf_cstr(&line), dp_buf_cstr(&w));
	}
	for (size_t i = 0; i < dp_common_count(); i++) {
		const dp_common_param *c = dp_common_at(i);
		if (!(c->fronts & DP_FRONT_CLI))
			continue;
		line.len = 0;
		if (c->short_name)
			dp_buf_printf(&line, "  -%c, --%s", c->short_name, c->name);
		else
			dp_buf_printf(&line, "      --%s", c->name);
		if (c->arg)
			dp_buf_printf(&line, " %s", c->arg);
		list_line(b, dp_buf_cstr(&line), c->help);
	}
	list_line(b, "  -h, --help", "this text");
	if (qn->example)
		dp_buf_printf(b, "\nexample: %s\n", qn->example);
	dp_buf_free(&w);
	dp_buf_free(&line);
	return b->failed ? dp_error(DNNPROV_ENOMEM, "out of memory") : 0;
}

/* Appends s with '|' escaped, for a markdown table cell. */
static void md_cell(dp_buf *b, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '|')
			dp_buf_putc(b, '\\');
		dp_buf_putc(b, *s == '\n' ? ' ' : *s);
	}
}

int cli_question_markdown(const dp_question *qn, dp_buf *b)
{
	static const char *const front_names[] = { "CLI", "HTTP", "SQL", "C API, Python" };
	dp_buf w = { 0 };

	dp_buf_printf(b, "### `%s`\n\n", qn->name);
	/* The description's paragraphs, each on one line; an indented line (an
	 * example) as code on a line of its own. */
	for (const char *line = qn->description; *line;) {
		size_t n = strcspn(line, "\n");
		bool example = line[0] == ' ', blank = n == 0;
		if (blank)
			dp_buf_printf(b, "\n\n");
		else if (example)
			dp_buf_printf(b, "%s`%.*s`  \n", b->len && b->data[b->len - 1] != '\n' ? "  \n" : "",
				      (int)(n - strspn(line, " ")), line + strspn(line, " "));
		else
			dp_buf_printf(b, "%s%.*s", b->len && !strchr("\n", b->data[b->len - 1]) ? " " : "", (int)n, line);
		line += n + (line[n] == '\n');
	}
	dp_buf_printf(b, "\n\n| parameter | command line | type | default | what it does | front ends |\n"
			 "|---|---|---|---|---|---|\n");
	for (size_t i = 0; i < qn->nparams; i++) {
		const dp_param *p = &qn->params[i];
		dp_buf_printf(b, "| `%s`%s%s%s | ", p->name, p->http_name ? " (HTTP `" : "", p->http_name ? p->http_name : "",
			      p->http_name ? "`)" : "");
		w.len = 0;
		if (p->positional)
			synopsis_word(&w, p);
		if (p->fronts & DP_FRONT_CLI) {
			if (w.len)
				dp_buf_printf(&w, ", ");
			option_label(&w, p);
		}
		dp_buf_printf(b, "`");
		md_cell(b, dp_buf_cstr(&w) ? dp_buf_cstr(&w) + strspn(dp_buf_cstr(&w), " ") : "");
		dp_buf_printf(b, "` | %s", dp_ptype_name(p->type));
		if (p->type == DP_PT_INT || p->type == DP_PT_REAL) {
			if (p->max >= 1e12)
				dp_buf_printf(b, " ≥ %g", p->min);
			else
				dp_buf_printf(b, " %g–%g", p->min, p->max);
		}
		if (p->choices) {
			dp_buf_printf(b, ":");
			for (const char *const *c = p->choices; *c; c++)
				dp_buf_printf(b, " %s", *c);
		}
		dp_buf_printf(b, "%s | ", p->required ? ", required" : "");
		md_cell(b, p->def ? p->def : p->def_help);
		dp_buf_printf(b, " | ");
		md_cell(b, p->help);
		dp_buf_printf(b, " | ");
		bool first = true;
		for (size_t f = 0; f < DP_ARRAY_LEN(front_names); f++)
			if (p->fronts & (1u << f) || (f == 0 && p->positional)) {
				dp_buf_printf(b, "%s%s", first ? "" : ", ", front_names[f]);
				first = false;
			}
		dp_buf_printf(b, " |\n");
	}
	if (qn->example)
		dp_buf_printf(b, "\nExample: `%s`\n", qn->example);
	dp_buf_free(&w);
	return b->failed ? dp_error(DNNPROV_ENOMEM, "out of memory") : 0;
}
