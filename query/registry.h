/*
 * registry.h - the questions the index answers, each declared once.
 *
 * A question (runs, compare, effect, ...) is one file of this folder,
 * query/q_<name>.c, holding its declaration beside the function that
 * answers it, as git keeps a command's option table beside the command
 * (builtin/mv.c) and Redis describes each command once (commands.def).
 * registry.c lists them.  Every front end derives from the declaration:
 *
 *   the command line   `dnnprov NAME`: its parsing, --help and `dnnprov help
 *                      NAME` (cli/question.c), and docs/QUERY.md's tables
 *                      (`dnnprov help --markdown NAME`);
 *   HTTP               GET /api/NAME?PARAM=VALUE (serve/api.c);
 *   SQL                dnnprov_query('NAME', 'PARAM', VALUE, ...) (sql/attach.c);
 *   the C API          dnnprov_index_ask(), and the Python functions built
 *                      from dnnprov_questions_json() at import.
 *
 * A declaration holds the question's parameters: each its name (the CLI's
 * --NAME, the HTTP parameter, SQL's and Python's name), its type (which
 * says how a value is parsed and checked: a whole number in a range, a
 * choice, an aggregate, a --where expression, a duration, ...; the
 * counts, durations, sizes and addresses read by util/units.c's grammars,
 * as every other option of the command line), its default, its help
 * and which front ends offer it.  A value is parsed and checked by one
 * function, dp_ask_set(), whatever front end gave it, and a refusal names
 * the parameter in dnnprov_errsubject().
 *
 * A question's options are a struct of its own whose first member is
 * dp_qopts, the vocabulary several questions share (query/answer.h); a
 * parameter's `offset` says where its value goes.  So adding an option to
 * a question is one entry in its table, one field in its struct and the
 * code that uses it, all in its file.
 */
#ifndef DNNPROV_REGISTRY_H
#define DNNPROV_REGISTRY_H

#include <stddef.h>

#include "query/answer.h"

/* The front ends, as a set: which of them offer a parameter by name. */
enum {
	DP_FRONT_CLI = 1 << 0,  /* --NAME on the command line */
	DP_FRONT_HTTP = 1 << 1, /* NAME=VALUE in /api/QUESTION's query string */
	DP_FRONT_SQL = 1 << 2,  /* dnnprov_query(QUESTION, NAME, VALUE, ...) */
	DP_FRONT_API = 1 << 3,  /* dnnprov_index_ask(), and the Python functions */
	DP_FRONT_ALL = 0xf,
	/* Named everywhere but on the command line, which takes the value as
	 * a positional argument. */
	DP_FRONT_NAMED = DP_FRONT_HTTP | DP_FRONT_SQL | DP_FRONT_API,
};

/* A parameter's type: how its value is parsed and checked, and where it
 * is stored (the field at `offset`). */
typedef enum dp_ptype {
	DP_PT_DATAFLOW, /* a dataflow's name (const char *); when none is given, the only one in the index */
	DP_PT_TASK,     /* a task id (const char *) */
	DP_PT_NAME,     /* a name the dataflow declares: a metric, hyperparameter, set... (const char *) */
	DP_PT_NAMES,    /* names separated by commas (const char *) */
	DP_PT_TEXT,     /* any text (const char *) */
	DP_PT_WHERE,    /* a --where expression (const char *), compiled against the dataflow */
	DP_PT_INT,      /* a count: decimal digits from min to max (int64_t; dp_parse_count) */
	DP_PT_REAL,     /* a real number from min to max (double) */
	DP_PT_DURATION, /* a duration from min to max seconds, "500ms", "2m", a bare number in `unit` (double
			 * seconds; dp_parse_duration) */
	DP_PT_SIZE,     /* a size from min to max bytes, "64MiB", "4096" (uint64_t; dp_parse_size) */
	DP_PT_ADDRESS,  /* an address to listen on, A.B.C.D:PORT or [IPv6]:PORT (dp_address; dp_parse_address) */
	DP_PT_CHOICE,   /* one of `choices` (const char *, pointing into choices) */
	DP_PT_FLAG,     /* on or off (bool): no value on the command line; true/false, 1/0, yes/no elsewhere */
	DP_PT_AGG,      /* an aggregate, max|min|last|mean|best|at=EPOCH (dp_agg) */
	DP_PT_COUNT
} dp_ptype;

typedef struct dp_param {
	const char *name;
	const char *http_name;     /* HTTP's name when it differs ("df"), else NULL */
	char short_name;           /* the CLI's -x, or 0 */
	dp_ptype type;
	const char *arg;           /* what usage calls the value ("M", "EXPR") */
	const char *positional;    /* the CLI's positional argument ("TASK"), or NULL */
	bool required;
	double min, max;           /* DP_PT_INT, _REAL, _DURATION (seconds), _SIZE (bytes) */
	const char *unit;          /* DP_PT_DURATION: a bare number's ("s") */
	const char *const *choices; /* DP_PT_CHOICE: NULL-terminated */
	const char *def;           /* the default as a value, applied before the caller's; NULL: none */
	const char *def_help;      /* the default as help says it, when `def` cannot ("the main metric") */
	const char *help;          /* one sentence */
	unsigned fronts;           /* DP_FRONT_*: where it is offered by name */
	size_t offset;             /* of its value in the question's options */
} dp_param;

/* A question refreshed on the command line until interrupted (watch). */
#define DP_Q_REFRESHED 1u
/* A question whose rows the command line can follow (--follow): the
 * rows it has not printed yet, by their first column (an id), as they
 * appear (events). */
#define DP_Q_FOLLOWED 2u

typedef struct dp_question {
	const char *name;
	const char *summary;      /* a line, for `dnnprov help` */
	const char *description;  /* paragraphs, for --help and the docs */
	const char *example;      /* a command line, or NULL */
	const dp_param *params;
	size_t nparams;
	size_t opts_size;         /* its options: a struct whose first member is dp_qopts */
	/* Fills *out from the snapshot q; lines for the table format alone
	 * (a sparkline, a correlation) go to notes. */
	int (*answer)(dp_query *q, const dp_qopts *o, dp_table *out, dp_qnotes *notes);
	unsigned flags;           /* DP_Q_* */
	/* Sets what stands for "not given" in options a parameter without a
	 * default leaves (an epoch of -1, a NaN), before the defaults; NULL:
	 * zero does. */
	void (*init)(dp_qopts *o);
} dp_question;

/* The questions, in the order `dnnprov help` lists them. */
DP_INTERNAL size_t dp_question_count(void);
DP_INTERNAL const dp_question *dp_question_at(size_t i);
/* The question of that name, or NULL. */
DP_INTERNAL const dp_question *dp_question_find(const char *name);
/* The parameter of qn named `name` as front end `front` names it (HTTP's
 * "df" for "dataflow"), whether or not that front end offers it; NULL
 * when qn has none. */
DP_INTERNAL const dp_param *dp_question_param(const dp_question *qn, const char *name, unsigned front);
/* The name of a type, as the registry's JSON and the docs give it. */
DP_INTERNAL const char *dp_ptype_name(dp_ptype t);
/* Where parameter p's value is in options o (of its question). */
static inline void *dp_param_field(const dp_param *p, const dp_qopts *o)
{
	return (char *)o + p->offset;
}

/* The parameters every question takes from some front ends, which the
 * front end handles itself (how to find the index, how to print): listed
 * so that the registry's JSON, the usage and the docs show the whole
 * surface. */
typedef struct dp_common_param {
	const char *name;
	char short_name;
	const char *arg, *help;
	unsigned fronts;
} dp_common_param;
DP_INTERNAL size_t dp_common_count(void);
DP_INTERNAL const dp_common_param *dp_common_at(size_t i);

/* The registry as JSON (dnnprov_questions_json): {"questions": [{"name",
 * "summary", "description", "example", "parameters": [{"name", "type",
 * "help", "fronts": ["cli", "http", "sql", "api"], ...}]}]}. */
DP_INTERNAL int dp_registry_json(dp_buf *out);

/* ---- asking ------------------------------------------------------------------------------
 * One question with its options, whatever the front end: dp_ask_init sets
 * the defaults, dp_ask_set each value a caller gives (the texts must live
 * until the ask is freed), dp_ask_run answers. */

typedef struct dp_ask {
	const dp_question *qn;
	unsigned front;       /* the front end asking: its names and what it offers */
	dp_qopts *o;          /* qn->opts_size bytes */
	bool *given;          /* per parameter: a value was set */
	char *df;             /* the dataflow found in the index (the only one) */
} dp_ask;

DP_INTERNAL int dp_ask_init(dp_ask *a, const dp_question *qn, unsigned front);
DP_INTERNAL void dp_ask_free(dp_ask *a);
/* Parses and checks `value` for parameter `name` (as the front end names
 * it).  DNNPROV_EQUERY with dnnprov_errsubject() the parameter when the
 * value is wrong, given twice, or the parameter unknown or not offered by
 * this front end (the detail then lists the ones it offers). */
DP_INTERNAL int dp_ask_set(dp_ask *a, const char *name, const char *value);
/* The same for parameter p of a->qn, found by the caller. */
DP_INTERNAL int dp_ask_set_param(dp_ask *a, const dp_param *p, const char *value);
/* DNNPROV_EQUERY naming the first required parameter without a value
 * (the dataflow aside: dp_ask_run finds it). */
DP_INTERNAL int dp_ask_check(const dp_ask *a);

/* What dp_ask_run found when the index holds no dataflow yet: the answer
 * is empty (front ends print an empty table and may say why). */
#define DP_ASK_EMPTY 1

/* Answers on snapshot q: a question about a dataflow that was not given
 * gets the only one in the index (DNNPROV_EQUERY naming "dataflow" and
 * listing them when there are several); then the answer, checked whole
 * (a read that failed inside is the error).  0, DP_ASK_EMPTY, or an
 * error. */
DP_INTERNAL int dp_ask_run(dp_ask *a, dp_query *q, dp_table *out, dp_qnotes *notes);

/* The dataflow to use when none was named: the only one in the index in
 * *out (caller frees); DP_ASK_EMPTY when there is none, DNNPROV_EQUERY
 * about "dataflow" listing them when there are several. */
DP_INTERNAL int dp_query_only_dataflow(dp_query *q, char **out);

/* The questions' declarations use these for the parameters several share,
 * as git's OPT_* macros: the same name, type and help everywhere. */
#define DP_PARAM_DATAFLOW                                                                                   \
	{ .name = "dataflow", .http_name = "df", .type = DP_PT_DATAFLOW, .arg = "DF", .positional = "DF",   \
	  .def_help = "the config's, or the only one in the index", .help = "the dataflow to ask about",   \
	  .fronts = DP_FRONT_NAMED, .offset = offsetof(dp_qopts, df) }
#define DP_PARAM_WHERE(what)                                                                                \
	{ .name = "where", .short_name = 'w', .type = DP_PT_WHERE, .arg = "EXPR",                           \
	  .help = "keeps the " what " of the tasks the expression matches (docs/QUERY.md, --where)",         \
	  .fronts = DP_FRONT_ALL, .offset = offsetof(dp_qopts, where) }
#define DP_PARAM_SORT                                                                                       \
	{ .name = "sort", .type = DP_PT_TEXT, .arg = "[+|-]COL",                                            \
	  .help = "sorts by a column (in any case; a leading - sorts descending)", .fronts = DP_FRONT_ALL,    \
	  .offset = offsetof(dp_qopts, sort) }
#define DP_PARAM_LIMIT                                                                                      \
	{ .name = "limit", .short_name = 'n', .type = DP_PT_INT, .arg = "N", .min = 0, .max = 1099511627776.0, \
	  .def_help = "all", .help = "at most N rows, after sorting (0: all)", .fronts = DP_FRONT_ALL,        \
	  .offset = offsetof(dp_qopts, limit) }
#define DP_PARAM_OFFSET                                                                                     \
	{ .name = "offset", .type = DP_PT_INT, .arg = "N", .min = 0, .max = 1099511627776.0,               \
	  .help = "skips the first N rows after sorting: with limit, a page (JSON then says \"total\")",      \
	  .fronts = DP_FRONT_ALL, .offset = offsetof(dp_qopts, offset) }
#define DP_PARAM_METRIC                                                                                     \
	{ .name = "metric", .short_name = 'm', .type = DP_PT_NAME, .arg = "M",                              \
	  .def_help = "the main metric", .help = "the metric, in any case (docs/QUERY.md says which is main)", \
	  .fronts = DP_FRONT_ALL, .offset = offsetof(dp_qopts, metric) }
#define DP_PARAM_AGG                                                                                        \
	{ .name = "agg", .type = DP_PT_AGG, .arg = "A", .def = "best",                                      \
	  .help = "the aggregate of the metric over a task's epochs: best (min for loss-like metrics, else "  \
		  "max), max, min, last, mean or at=EPOCH",                                                  \
	  .fronts = DP_FRONT_ALL, .offset = offsetof(dp_qopts, agg) }
#define DP_PARAM_GOAL                                                                                       \
	{ .name = "goal", .type = DP_PT_CHOICE, .arg = "min|max", .choices = dp_goal_choices,               \
	  .def_help = "from the metric's name", .help = "whether lower (min) or higher (max) is better",     \
	  .fronts = DP_FRONT_ALL, .offset = offsetof(dp_qopts, goal) }
#define DP_PARAM_TASK_REQUIRED                                                                              \
	{ .name = "task", .type = DP_PT_TASK, .arg = "TASK", .positional = "TASK", .required = true,        \
	  .help = "the task", .fronts = DP_FRONT_NAMED, .offset = offsetof(dp_qopts, task) }
#define DP_PARAM_TASK_OPTION(what)                                                                          \
	{ .name = "task", .short_name = 't', .type = DP_PT_TASK, .arg = "T", .help = "only the " what " of task T", \
	  .fronts = DP_FRONT_ALL, .offset = offsetof(dp_qopts, task) }

/* What groups and bands group the runs by; its value goes to `by` of their options' struct. */
#define DP_PARAM_BY(opts_struct)                                                                            \
	{ .name = "by", .type = DP_PT_TEXT, .arg = "KEY", .required = true,                                 \
	  .help = "a hyperparameter (in any case), status, tags.KEY or facts.NAME", .fronts = DP_FRONT_ALL,  \
	  .offset = offsetof(opts_struct, by) }

DP_INTERNAL extern const char *const dp_goal_choices[];

/* The questions (q_<name>.c). */
DP_INTERNAL extern const dp_question dp_q_dataflows, dp_q_describe, dp_q_runs, dp_q_compare, dp_q_effect,
	dp_q_curve, dp_q_adaptations, dp_q_test, dp_q_elements, dp_q_layers, dp_q_watch, dp_q_tasks, dp_q_segments,
	dp_q_diff, dp_q_groups, dp_q_bands, dp_q_events, dp_q_advise, dp_q_lineage;

#define DP_PARAMS(a) .params = (a), .nparams = sizeof(a) / sizeof((a)[0])

#endif
