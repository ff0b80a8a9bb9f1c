/*
 * registry.c - the list of questions, and the one place where a value a
 * front end gives is parsed, checked and stored (registry.h says why).
 *
 * A refusal says what the parameter takes and what it got, spells the
 * parameter as the front end does (--bins on the command line, bins
 * elsewhere) and names it in dnnprov_errsubject(), so that each front end
 * points at it: the CLI's message and usage, the API's "parameter", the
 * Python exception's `parameter`.
 */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logger/decode.h"
#include "query/registry.h"

static const dp_question *const questions[] = {
	&dp_q_dataflows, &dp_q_describe, &dp_q_runs, &dp_q_compare, &dp_q_effect, &dp_q_curve,
	&dp_q_adaptations, &dp_q_test, &dp_q_elements, &dp_q_layers, &dp_q_watch, &dp_q_tasks, &dp_q_segments, &dp_q_diff,
	&dp_q_groups, &dp_q_bands, &dp_q_events, &dp_q_advise, &dp_q_lineage,
};

const char *const dp_goal_choices[] = { "min", "max", NULL };

size_t dp_question_count(void)
{
	return DP_ARRAY_LEN(questions);
}

const dp_question *dp_question_at(size_t i)
{
	return i < DP_ARRAY_LEN(questions) ? questions[i] : NULL;
}

const dp_question *dp_question_find(const char *name)
{
	for (size_t i = 0; name && i < DP_ARRAY_LEN(questions); i++)
		if (strcmp(questions[i]->name, name) == 0)
			return questions[i];
	return NULL;
}

/* The name front end `front` gives parameter p. */
static const char *dp_param_name(const dp_param *p, unsigned front)
{
	return front == DP_FRONT_HTTP && p->http_name ? p->http_name : p->name;
}

const dp_param *dp_question_param(const dp_question *qn, const char *name, unsigned front)
{
	for (size_t i = 0; i < qn->nparams; i++)
		if (strcmp(dp_param_name(&qn->params[i], front), name) == 0)
			return &qn->params[i];
	return NULL;
}

const char *dp_ptype_name(dp_ptype t)
{
	static const char *const names[DP_PT_COUNT] = {
		[DP_PT_DATAFLOW] = "dataflow", [DP_PT_TASK] = "task",	    [DP_PT_NAME] = "name",
		[DP_PT_NAMES] = "names",       [DP_PT_TEXT] = "text",	    [DP_PT_WHERE] = "where",
		[DP_PT_INT] = "integer",       [DP_PT_REAL] = "real",	    [DP_PT_CHOICE] = "choice",
		[DP_PT_FLAG] = "flag",	       [DP_PT_AGG] = "aggregate",  [DP_PT_DURATION] = "duration",
		[DP_PT_SIZE] = "size",	       [DP_PT_ADDRESS] = "address",
	};
	return (unsigned)t < DP_PT_COUNT ? names[t] : "?";
}

static const dp_common_param common[] = {
	{ "config", 'c', "CONFIG", "the experiment file: its index, its logs and its dataflow", DP_FRONT_CLI },
	{ "index-dir", 0, "DIR", "the index, without an experiment file", DP_FRONT_CLI },
	{ "format", 'f', "F", "table (default), csv or json; over HTTP json (default) or csv",
	  DP_FRONT_CLI | DP_FRONT_HTTP },
	{ "wide", 0, NULL, "tables are never cut to the terminal's width", DP_FRONT_CLI },
};

size_t dp_common_count(void)
{
	return DP_ARRAY_LEN(common);
}

const dp_common_param *dp_common_at(size_t i)
{
	return i < DP_ARRAY_LEN(common) ? &common[i] : NULL;
}

/* Lists the names front end `front` takes for qn into b ("where, sort, ..."). */
static void dp_ask_list_params(const dp_question *qn, unsigned front, dp_buf *b)
{
	size_t at = b->len;
	for (size_t i = 0; i < qn->nparams; i++)
		if (qn->params[i].fronts & front)
			dp_buf_printf(b, "%s%s", b->len > at ? ", " : "", dp_param_name(&qn->params[i], front));
	for (size_t i = 0; i < DP_ARRAY_LEN(common); i++)
		if (common[i].fronts & front && front != DP_FRONT_CLI)
			dp_buf_printf(b, "%s%s", b->len > at ? ", " : "", common[i].name);
	if (b->len == at)
		dp_buf_printf(b, "none");
}

/* ---- parsing one value --------------------------------------------------------------------- */

/* How the front end spells the parameter in a message. */
static const char *shown(const dp_param *p, unsigned front, char *buf, size_t n)
{
	if (front == DP_FRONT_CLI)
		snprintf(buf, n, "--%s", p->name);
	else
		snprintf(buf, n, "%s", dp_param_name(p, front));
	return buf;
}

/* A refusal of value v for p: "NAME: WHY", WHY quoting v, as every option
 * of the command line is refused (cli_opt_count and the like). */
static int refuse(const dp_param *p, unsigned front, const char *fmt, const char *v)
{
	char name[80], why[320];
	snprintf(why, sizeof(why), fmt, v);
	return dp_error_subject(DNNPROV_EQUERY, p->name, "%s: %s", shown(p, front, name, sizeof(name)), why);
}

/* The detail a util/units.c parser left, under p's name. */
static int refuse_detail(const dp_param *p, unsigned front)
{
	char name[80], why[512];
	snprintf(why, sizeof(why), "%s", dnnprov_errmsg());
	return dp_error_subject(DNNPROV_EQUERY, p->name, "%s: %s", shown(p, front, name, sizeof(name)), why);
}

static int parse_real(const dp_param *p, unsigned front, const char *v, double *out)
{
	return dp_parse_real(v, p->min, p->max, out) ? refuse_detail(p, front) : 0;
}

static int parse_choice(const dp_param *p, unsigned front, const char *v, const char **out)
{
	dp_buf what = { 0 };
	size_t n = 0;
	for (const char *const *c = p->choices; *c; c++, n++)
		if (strcmp(*c, v) == 0) {
			*out = *c;
			return 0;
		}
	dp_buf_printf(&what, "'%%.60s' is not ");
	for (size_t i = 0; i < n; i++)
		dp_buf_printf(&what, "%s%s", i == 0 ? "" : i + 1 == n ? " or " : ", ", p->choices[i]);
	int rc = refuse(p, front, dp_buf_cstr(&what) ? dp_buf_cstr(&what) : "'%.60s' is no choice", v);
	dp_buf_free(&what);
	return rc;
}

static int parse_flag(const dp_param *p, unsigned front, const char *v, bool *out)
{
	static const char *const yes[] = { "true", "1", "yes", "on" }, *const no[] = { "false", "0", "no", "off" };
	if (!v) { /* the command line's --NAME */
		*out = true;
		return 0;
	}
	for (size_t i = 0; i < DP_ARRAY_LEN(yes); i++)
		if (dp_strcasecmp(v, yes[i]) == 0 || dp_strcasecmp(v, no[i]) == 0) {
			*out = dp_strcasecmp(v, yes[i]) == 0;
			return 0;
		}
	return refuse(p, front, "'%.60s' is not true or false", v);
}

static int parse_agg(const dp_param *p, unsigned front, const char *v, dp_agg *out)
{
	return dp_agg_parse(v, out) == 0 ? 0
					 : refuse(p, front, "'%.60s' is not an aggregate: best, max, min, last, mean or at=EPOCH", v);
}

/* The parsers of util/units.c: one grammar for a kind, whatever option. */
static int parse_unit(const dp_param *p, unsigned front, const char *v, void *field)
{
	uint64_t u;
	int rc = 0;
	switch (p->type) {
	case DP_PT_INT:
		if (!(rc = dp_parse_count(v, (uint64_t)p->min, (uint64_t)p->max, &u)))
			*(int64_t *)field = (int64_t)u;
		break;
	case DP_PT_DURATION: rc = dp_parse_duration(v, p->unit, p->min, p->max, field); break;
	case DP_PT_SIZE:
		if (!(rc = dp_parse_size(v, &u)) && ((double)u < p->min || (double)u > p->max))
			rc = dp_error(DNNPROV_EINVAL, "size '%.60s' is out of range (%.0f to %.0f bytes)", v, p->min, p->max);
		if (!rc)
			*(uint64_t *)field = u;
		break;
	default: rc = dp_parse_address(v, NULL, field); break;
	}
	return rc ? refuse_detail(p, front) : 0;
}

/* The size of a parameter's value in the question's options. */
__attribute__((unused)) static size_t value_size(dp_ptype t)
{
	switch (t) {
	case DP_PT_INT: return sizeof(int64_t);
	case DP_PT_REAL:
	case DP_PT_DURATION: return sizeof(double);
	case DP_PT_SIZE: return sizeof(uint64_t);
	case DP_PT_ADDRESS: return sizeof(dp_address);
	case DP_PT_FLAG: return sizeof(bool);
	case DP_PT_AGG: return sizeof(dp_agg);
	default: return sizeof(const char *);
	}
}

int dp_ask_set_param(dp_ask *a, const dp_param *p, const char *value)
{
	void *field = dp_param_field(p, a->o);
	size_t i = (size_t)(p - a->qn->params);
	/* One of the question's parameters, whose value lies inside its
	 * options (the declaration's offset). */
	assert(i < a->qn->nparams && p->offset + value_size(p->type) <= a->qn->opts_size);
	char name[80];
	int rc = 0;

	if (!value && p->type != DP_PT_FLAG)
		return dp_error_subject(DNNPROV_EQUERY, p->name, "%s needs a value", shown(p, a->front, name, sizeof(name)));
	/* The command line takes the last of an option given twice, as
	 * getopt does; elsewhere it is a mistake worth saying. */
	if (a->given[i] && a->front != DP_FRONT_CLI)
		return dp_error_subject(DNNPROV_EQUERY, p->name, "%s is given twice", shown(p, a->front, name, sizeof(name)));
	switch (p->type) {
	case DP_PT_INT:
	case DP_PT_DURATION:
	case DP_PT_SIZE:
	case DP_PT_ADDRESS: rc = parse_unit(p, a->front, value, field); break;
	case DP_PT_REAL: rc = parse_real(p, a->front, value, field); break;
	case DP_PT_CHOICE: rc = parse_choice(p, a->front, value, field); break;
	case DP_PT_FLAG: rc = parse_flag(p, a->front, value, field); break;
	case DP_PT_AGG: rc = parse_agg(p, a->front, value, field); break;
	default: *(const char **)field = value; break;
	}
	if (rc == 0)
		a->given[i] = true;
	return rc;
}

int dp_ask_set(dp_ask *a, const char *name, const char *value)
{
	const dp_param *p = dp_question_param(a->qn, name, a->front);
	if (p && (p->fronts & a->front))
		return dp_ask_set_param(a, p, value);
	dp_buf list = { 0 };
	dp_ask_list_params(a->qn, a->front, &list);
	int rc = dp_error_subject(DNNPROV_EQUERY, name, "unknown parameter '%.64s' (%s takes: %s)", name, a->qn->name,
				  dp_buf_cstr(&list) ? dp_buf_cstr(&list) : "");
	dp_buf_free(&list);
	return rc;
}

int dp_ask_init(dp_ask *a, const dp_question *qn, unsigned front)
{
	memset(a, 0, sizeof(*a));
	a->qn = qn;
	a->front = front;
	a->o = calloc(1, qn->opts_size);
	a->given = calloc(qn->nparams + 1, sizeof(bool));
	if (!a->o || !a->given) {
		dp_ask_free(a);
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	}
	a->o->agg.kind = AGG_BEST;
	a->o->now = dp_now();
	if (qn->init)
		qn->init(a->o);
	/* Defaults go through the parser, so that a default is a value the
	 * parameter would take; they do not count as given. */
	for (size_t i = 0; i < qn->nparams; i++) {
		const dp_param *p = &qn->params[i];
		int rc;
		if (p->def && (rc = dp_ask_set_param(a, p, p->def))) {
			dp_ask_free(a);
			return rc;
		}
		a->given[i] = false;
	}
	dp_error_clear();
	return 0;
}

void dp_ask_free(dp_ask *a)
{
	free(a->o);
	free(a->given);
	free(a->df);
	memset(a, 0, sizeof(*a));
}

int dp_ask_check(const dp_ask *a)
{
	char name[80];
	for (size_t i = 0; i < a->qn->nparams; i++) {
		const dp_param *p = &a->qn->params[i];
		if (p->required && !a->given[i] && p->type != DP_PT_DATAFLOW)
			return dp_error_subject(DNNPROV_EQUERY, p->name, "%s is required",
						a->front == DP_FRONT_CLI && p->positional
							? p->positional
							: shown(p, a->front, name, sizeof(name)));
	}
	return 0;
}

/* ---- answering ------------------------------------------------------------------------------ */

int dp_query_only_dataflow(dp_query *q, char **out)
{
	char **names;
	size_t n;
	dp_buf list = { 0 };
	int rc;

	*out = NULL;
	if ((rc = dp_query_dataflows(q, &names, &n)))
		return rc;
	if (n == 1) {
		*out = names[0];
		free(names);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		dp_buf_printf(&list, "%s%s", i ? ", " : "", names[i]);
		free(names[i]);
	}
	free(names);
	if (n == 0)
		rc = DP_ASK_EMPTY;
	else if (!dp_buf_cstr(&list))
		rc = dp_error(DNNPROV_ENOMEM, "out of memory");
	else
		rc = dp_error_subject(DNNPROV_EQUERY, "dataflow", "which dataflow? the index holds %zu: %s", n,
				      dp_buf_cstr(&list));
	dp_buf_free(&list);
	return rc;
}

/* Whether the index holds no dataflow at all. */
static int index_empty(dp_query *q, bool *empty)
{
	char **names;
	size_t n;
	int rc = dp_query_dataflows(q, &names, &n);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	*empty = n == 0;
	return 0;
}

/* Every metric column's natural bounds: the answer says them, so that a
 * chart stops its axis there without a rule of its own (docs/QUERY.md,
 * "Metric bounds").  One lookup of the dataflow's specification. */
static int answer_bounds(dp_query *q, const char *df, dp_table *out)
{
	dp_qdataflow d;
	bool metrics = out->about.metric != NULL;
	for (size_t c = 0; c < out->ncols && !metrics; c++)
		metrics = out->meta[c].role == ROLE_METRIC;
	if (!metrics)
		return 0;
	if (!df || dp_query_load_spec(q, df, &d)) {
		dp_error_clear(); /* the answer stands: the rule gives the bounds */
		dp_table_bounds(out, NULL);
	} else {
		dp_table_bounds(out, &d);
		dp_qdataflow_free(&d);
	}
	return out->failed ? dp_error(DNNPROV_ENOMEM, "out of memory") : dp_query_check(q);
}

int dp_ask_run(dp_ask *a, dp_query *q, dp_table *out, dp_qnotes *notes)
{
	bool about_df = false, empty;
	int rc;

	for (size_t i = 0; i < a->qn->nparams; i++)
		about_df |= a->qn->params[i].type == DP_PT_DATAFLOW;
	if ((rc = dp_ask_check(a)))
		return rc;
	if (about_df && !a->o->df) {
		if ((rc = dp_query_only_dataflow(q, &a->df)))
			return rc;
		a->o->df = a->df;
	} else if ((rc = index_empty(q, &empty)) || empty) {
		/* Nothing indexed yet is an empty answer, not "no dataflow". */
		return rc ? rc : about_df ? DP_ASK_EMPTY : a->qn->answer(q, a->o, out, notes);
	}
	if ((rc = a->qn->answer(q, a->o, out, notes)) || (rc = dp_table_check(out, notes ? &notes->text : NULL)) ||
	    (rc = dp_query_check(q))) {
		/* A failed read or decode makes later steps fail for a wrong
		 * reason ("no metric" of a spec it could not decode): the first
		 * cause is the error. */
		int cause = dp_query_check(q);
		return cause ? cause : rc;
	}
	return answer_bounds(q, a->o->df, out);
}

/* ---- the registry as JSON -------------------------------------------------------------------- */

static void json_str(dp_buf *b, const char *key, const char *v)
{
	dp_buf_printf(b, ", \"%s\": ", key);
	if (v)
		dp_json_string(b, v, strlen(v));
	else
		dp_buf_printf(b, "null");
}

static void json_fronts(dp_buf *b, unsigned fronts)
{
	static const char *const names[] = { "cli", "http", "sql", "api" };
	bool first = true;
	dp_buf_printf(b, ", \"fronts\": [");
	for (size_t i = 0; i < DP_ARRAY_LEN(names); i++)
		if (fronts & (1u << i)) {
			dp_buf_printf(b, "%s\"%s\"", first ? "" : ", ", names[i]);
			first = false;
		}
	dp_buf_putc(b, ']');
}

static void json_param(dp_buf *b, const dp_param *p)
{
	dp_buf_printf(b, "{\"name\": ");
	dp_json_string(b, p->name, strlen(p->name));
	if (p->http_name)
		json_str(b, "http_name", p->http_name);
	if (p->short_name)
		dp_buf_printf(b, ", \"short\": \"%c\"", p->short_name);
	dp_buf_printf(b, ", \"type\": \"%s\"", dp_ptype_name(p->type));
	if (p->arg)
		json_str(b, "arg", p->arg);
	if (p->positional)
		json_str(b, "positional", p->positional);
	dp_buf_printf(b, ", \"required\": %s", p->required ? "true" : "false");
	if (p->type == DP_PT_INT || p->type == DP_PT_REAL || p->type == DP_PT_DURATION || p->type == DP_PT_SIZE) {
		dp_buf_printf(b, ", \"min\": ");
		dp_json_double(b, p->min);
		dp_buf_printf(b, ", \"max\": ");
		dp_json_double(b, p->max);
	}
	if (p->unit)
		json_str(b, "unit", p->unit);
	if (p->choices) {
		dp_buf_printf(b, ", \"choices\": [");
		for (const char *const *c = p->choices; *c; c++)
			dp_buf_printf(b, "%s\"%s\"", c == p->choices ? "" : ", ", *c);
		dp_buf_putc(b, ']');
	}
	json_str(b, "default", p->def ? p->def : p->def_help);
	json_str(b, "help", p->help);
	json_fronts(b, p->fronts);
	dp_buf_putc(b, '}');
}

int dp_registry_json(dp_buf *out)
{
	dp_buf_printf(out, "{\"questions\": [");
	for (size_t i = 0; i < DP_ARRAY_LEN(questions); i++) {
		const dp_question *qn = questions[i];
		dp_buf_printf(out, "%s\n {\"name\": \"%s\"", i ? "," : "", qn->name);
		json_str(out, "summary", qn->summary);
		json_str(out, "description", qn->description);
		json_str(out, "example", qn->example);
		dp_buf_printf(out, ", \"refreshed\": %s", qn->flags & DP_Q_REFRESHED ? "true" : "false");
		dp_buf_printf(out, ", \"followed\": %s", qn->flags & DP_Q_FOLLOWED ? "true" : "false");
		dp_buf_printf(out, ",\n  \"parameters\": [");
		for (size_t k = 0; k < qn->nparams; k++) {
			dp_buf_printf(out, "%s\n   ", k ? "," : "");
			json_param(out, &qn->params[k]);
		}
		dp_buf_printf(out, "]}");
	}
	dp_buf_printf(out, "],\n\"common\": [");
	for (size_t i = 0; i < DP_ARRAY_LEN(common); i++) {
		dp_buf_printf(out, "%s\n {\"name\": \"%s\"", i ? "," : "", common[i].name);
		if (common[i].short_name)
			dp_buf_printf(out, ", \"short\": \"%c\"", common[i].short_name);
		json_str(out, "arg", common[i].arg);
		json_str(out, "help", common[i].help);
		json_fronts(out, common[i].fronts);
		dp_buf_putc(out, '}');
	}
	dp_buf_printf(out, "]}\n");
	return out->failed ? dp_error(DNNPROV_ENOMEM, "out of memory") : 0;
}
