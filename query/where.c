/*
 * where.c - the --where filter language.
 *
 *   expr    := and ('or' and)*
 *   and     := not ('and' not)*
 *   not     := 'not' not | pred
 *   pred    := sum [ op sum
 *                  | ['not'] 'in' '(' literal {',' literal} ')'
 *                  | ['not'] 'like' 'pattern' ]
 *   op      := '=' | '==' | '!=' | '<>' | '<' | '<=' | '>' | '>='
 *   sum     := product (('+' | '-') product)*
 *   product := unary (('*' | '/') unary)*
 *   unary   := '-' unary | '(' expr ')' | operand
 *   operand := number | 'text' | "text" | name | agg '(' metric ')'
 *   agg     := max | min | last | mean | best
 *   name    := a hyperparameter, status, epochs, task, host, start, end
 *              (case-insensitive); `back quotes` for names with spaces or
 *              operators in them
 *
 * Precedence is SQL's: or < and < not < comparisons, in, like < + - < * /
 * < unary minus.  Parentheses group conditions and arithmetic alike, so the
 * parser types every node (condition, number, text) and refuses a
 * condition where a value belongs and the other way round, with a caret
 * under it.  Names may contain '-' (tags do), so a minus after a name needs
 * a space before it.
 *
 * Keywords are case-insensitive.  Text equality and like ignore ASCII case
 * ('adam' finds Adam); ordering compares bytes.  Arithmetic is on doubles
 * (5 / 2 is 2.5); a division by zero, like anything involving a value a task
 * lacks, is unknown.  A condition on something a task lacks is unknown, and
 * as in SQL unknown is neither true nor false: `not` keeps it unknown and the
 * task is not listed.
 */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "query/query.h"

typedef enum { TV_FALSE = 0, TV_TRUE = 1, TV_UNKNOWN = 2 } tv;

typedef enum { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE } cmp_op;

typedef enum { OPD_LIT, OPD_HYP, OPD_STATUS, OPD_EPOCHS, OPD_TASK, OPD_HOST, OPD_START, OPD_END,
	       OPD_METRIC, OPD_MESSAGE, OPD_USER, OPD_ATTEMPTS, OPD_ACTIVE, OPD_LAST, OPD_DURATION,
	       OPD_NOW, OPD_TAG, OPD_FACT } opd_kind;

typedef struct operand {
	opd_kind kind;
	dp_qv lit;  /* OPD_LIT; text owned */
	bool is_time; /* a time (start, end, last_activity, now): text beside it is ISO 8601 */
	char *name; /* OPD_HYP, OPD_METRIC: the canonical name; OPD_TAG, OPD_FACT: the key */
	dp_agg agg; /* OPD_METRIC */
} operand;

typedef enum { N_OR, N_AND, N_NOT, N_CMP, N_IN, N_LIKE, /* conditions */
	       N_VALUE, N_NEG, N_ARITH /* values */ } node_kind;

/* What a node stands for, for the parser's checks: a condition, a number,
 * text, or a value whose type the dataflow does not say. */
typedef enum { VT_BOOL, VT_NUM, VT_TEXT, VT_ANY } vtype;

typedef struct node {
	node_kind kind;
	struct node *a, *b; /* N_OR, N_AND, N_CMP, N_ARITH: a and b; N_NOT, N_NEG, N_IN, N_LIKE: a */
	cmp_op op;          /* N_CMP */
	char aop;           /* N_ARITH: '+', '-', '*', '/' */
	bool negated;       /* N_IN, N_LIKE */
	operand o;          /* N_VALUE; N_LIKE: the pattern, a text literal */
	operand *list;      /* N_IN */
	size_t nlist;
	vtype type;
	size_t at, end; /* where it starts and ends in the expression, for errors */
} node;

struct dp_where {
	node *root;
	char *df;
};

/* ---- the parser ----------------------------------------------------------------- */

typedef struct parser {
	const char *src;
	size_t pos;
	const dp_qdataflow *d;
	int rc;
} parser;

static void skip_space(parser *p)
{
	while (p->src[p->pos] && isspace((unsigned char)p->src[p->pos]))
		p->pos++;
}

/* Sets the error once: the message, the expression and a caret under `at`. */
static void *fail_at(parser *p, size_t at, const char *why, const char *hint)
{
	assert(at <= strlen(p->src)); /* the caret goes under the expression */
	if (p->rc)
		return NULL;
	dp_buf b = { 0 };
	dp_buf_printf(&b, "invalid --where: %s\n  %s\n  %*s^", why, p->src, (int)at, "");
	if (hint)
		dp_buf_printf(&b, "\n%s", hint);
	const char *text = dp_buf_cstr(&b);
	p->rc = b.failed || !text ? dp_error(DNNPROV_EQUERY, "invalid --where: %s", why)
				  : dp_error(DNNPROV_EQUERY, "%s", text);
	dp_buf_free(&b);
	return NULL;
}

/* An allocation failed: the error, unless one is set already. */
static void *out_of_memory(parser *p)
{
	if (!p->rc)
		p->rc = dp_error(DNNPROV_ENOMEM, "out of memory");
	return NULL;
}

/* A malloc'd copy, or NULL with the parser's error set. */
static char *parser_strndup(parser *p, const char *s, size_t n)
{
	char *copy = strndup(s, n);
	return copy ? copy : out_of_memory(p);
}

static bool is_name_char(unsigned char c)
{
	return isalnum(c) || c == '_' || c == '.' || c == ':' || c == '-' || c >= 0x80;
}

static bool keyword(parser *p, const char *kw)
{
	size_t n = strlen(kw);
	skip_space(p);
	if (strncasecmp(p->src + p->pos, kw, n) == 0 && !is_name_char((unsigned char)p->src[p->pos + n])) {
		p->pos += n;
		return true;
	}
	return false;
}

static bool punct(parser *p, const char *s)
{
	size_t n = strlen(s);
	skip_space(p);
	if (strncmp(p->src + p->pos, s, n) == 0) {
		p->pos += n;
		return true;
	}
	return false;
}

/* A name: bare, or in back quotes.  Returns a malloc'd copy or NULL. */
static char *read_name(parser *p)
{
	size_t start;
	skip_space(p);
	if (p->src[p->pos] == '`') {
		start = ++p->pos;
		while (p->src[p->pos] && p->src[p->pos] != '`')
			p->pos++;
		if (!p->src[p->pos])
			return fail_at(p, start - 1, "unterminated `name`", NULL);
		char *s = parser_strndup(p, p->src + start, p->pos - start);
		p->pos++;
		return s;
	}
	start = p->pos;
	while (is_name_char((unsigned char)p->src[p->pos]))
		p->pos++;
	return p->pos > start ? parser_strndup(p, p->src + start, p->pos - start) : NULL;
}

static void names_hint(const dp_qdataflow *d, dp_buf *b)
{
	dp_buf_printf(b, "names: status, epochs, task, host, user, start, end, last_activity, duration, active, attempts, message, now, tags.KEY, facts.NAME");
	for (size_t i = 0; i < d->nhyps; i++)
		dp_buf_printf(b, ", %s", d->hyps[i].name);
	if (d->nmetrics)
		dp_buf_printf(b, "\nmetrics (as max(m), min(m), last(m), mean(m), best(m)):");
	for (size_t i = 0; i < d->nmetrics; i++)
		dp_buf_printf(b, "%s %s", i ? "," : "", d->metrics[i]);
}

static bool parse_literal(parser *p, operand *o)
{
	char *end;
	skip_space(p);
	char c = p->src[p->pos];
	memset(o, 0, sizeof(*o));
	o->kind = OPD_LIT;
	if (c == '\'' || c == '"') {
		size_t start = ++p->pos;
		dp_buf s = { 0 };
		for (;;) {
			char ch = p->src[p->pos];
			if (!ch) {
				dp_buf_free(&s);
				fail_at(p, start - 1, "unterminated text", "quote text with '...' or \"...\"; double a quote to include it");
				return false;
			}
			p->pos++;
			if (ch == c) {
				if (p->src[p->pos] != c)
					break;
				p->pos++; /* a doubled quote is one quote */
			}
			dp_buf_putc(&s, ch);
		}
		const char *text = s.data ? dp_buf_cstr(&s) : "";
		o->lit.text = s.failed || !text ? NULL : parser_strndup(p, text, strlen(text));
		dp_buf_free(&s);
		if (!o->lit.text)
			return out_of_memory(p);
		o->lit.type = QV_TEXT;
		return true;
	}
	double v = strtod(p->src + p->pos, &end);
	if (end != p->src + p->pos && (c == '-' || c == '+' || c == '.' || isdigit((unsigned char)c))) {
		/* An integer literal stays exact, as integer values do. */
		char *iend;
		errno = 0;
		long long i = strtoll(p->src + p->pos, &iend, 10);
		o->lit = iend == end && errno == 0 ? dp_qv_int(i) : dp_qv_real(v);
		p->pos = (size_t)(end - p->src);
		return true;
	}
	return false;
}

/* Whether the part of `name` before its first '-' names a number (a numeric
 * hyperparameter, epochs, start, end): then `name` was likely meant as a
 * subtraction. */
static bool numeric_stem(const parser *p, const char *name)
{
	size_t n = strcspn(name, "-");
	char stem[DNNPROV_NAME_MAX + 1];
	if (!name[n] || !n || n > DNNPROV_NAME_MAX)
		return false;
	memcpy(stem, name, n);
	stem[n] = '\0';
	if (!strcasecmp(stem, "epochs") || !strcasecmp(stem, "start") || !strcasecmp(stem, "end"))
		return true;
	for (size_t i = 0; i < p->d->nhyps; i++)
		if (!dp_strcasecmp(p->d->hyps[i].name, stem))
			return !strcmp(p->d->hyps[i].type, "numeric");
	return false;
}

static bool parse_operand(parser *p, operand *o)
{
	static const struct { const char *name; opd_kind kind; } fixed[] = {
		{ "status", OPD_STATUS },     { "epochs", OPD_EPOCHS },     { "task", OPD_TASK },
		{ "host", OPD_HOST },         { "start", OPD_START },       { "end", OPD_END },
		{ "message", OPD_MESSAGE },   { "user", OPD_USER },         { "attempts", OPD_ATTEMPTS },
		{ "active", OPD_ACTIVE },     { "last_activity", OPD_LAST }, { "duration", OPD_DURATION },
		{ "now", OPD_NOW },
		{ "last_seen", OPD_LAST }, /* its name before last_activity, still taken */
	};
	size_t at;
	char *name;

	if (parse_literal(p, o))
		return true;
	if (p->rc)
		return false;
	skip_space(p);
	at = p->pos;
	if (!(name = read_name(p))) {
		fail_at(p, at, p->src[at] ? "expected a name, a number or 'text'" : "the expression ends too soon", NULL);
		return false;
	}
	memset(o, 0, sizeof(*o));
	skip_space(p);
	if (p->src[p->pos] == '(') {
		/* agg(metric) */
		dp_agg agg;
		if (dp_agg_parse(name, &agg) != 0 || agg.kind == AGG_AT) {
			free(name);
			fail_at(p, at, "unknown aggregate", "aggregates: max(m), min(m), last(m), mean(m), best(m)");
			return false;
		}
		free(name);
		p->pos++;
		size_t mat = (skip_space(p), p->pos);
		char *m = read_name(p);
		const char *canon = m ? dp_qdf_metric(p->d, m) : NULL;
		free(m);
		if (!canon) {
			dp_buf h = { 0 };
			names_hint(p->d, &h);
			fail_at(p, mat, "unknown metric", dp_buf_cstr(&h));
			dp_buf_free(&h);
			return false;
		}
		if (!punct(p, ")")) {
			fail_at(p, p->pos, "expected ')'", NULL);
			return false;
		}
		o->kind = OPD_METRIC;
		o->name = parser_strndup(p, canon, strlen(canon));
		o->agg = agg;
		return o->name != NULL;
	}
	for (size_t i = 0; i < DP_ARRAY_LEN(fixed); i++)
		if (strcasecmp(name, fixed[i].name) == 0) {
			o->kind = fixed[i].kind;
			free(name);
			if (o->kind == OPD_NOW) {
				/* The time the expression was compiled: one instant
				 * for every task of the query. */
				o->kind = OPD_LIT;
				o->lit.type = QV_NUM;
				o->lit.num = dp_now();
				o->is_time = true;
			}
			o->is_time |= o->kind == OPD_START || o->kind == OPD_END || o->kind == OPD_LAST;
			return true;
		}
	/* tags.KEY and facts.NAME: any key, as a run may have it or not. */
	static const struct { const char *prefix; opd_kind kind; } keyed[] = {
		{ "tags.", OPD_TAG }, { "facts.", OPD_FACT },
	};
	for (size_t i = 0; i < DP_ARRAY_LEN(keyed); i++) {
		size_t n = strlen(keyed[i].prefix);
		if (strncasecmp(name, keyed[i].prefix, n) != 0)
			continue;
		if (!name[n]) {
			free(name);
			fail_at(p, at, "a key is missing after the dot", "tags.KEY, facts.NAME");
			return false;
		}
		o->kind = keyed[i].kind;
		o->name = parser_strndup(p, name + n, strlen(name + n));
		free(name);
		return o->name != NULL;
	}
	const char *h = dp_qdf_hyp(p->d, name);
	if (h) {
		o->kind = OPD_HYP;
		o->name = parser_strndup(p, h, strlen(h));
		free(name);
		return o->name != NULL;
	}
	dp_buf hint = { 0 };
	char why[DNNPROV_NAME_MAX + 64];
	if (dp_qdf_metric(p->d, name)) {
		snprintf(why, sizeof(why), "'%.*s' is a metric: say which value, e.g. max(%.*s) or last(%.*s)",
			 40, name, 40, name, 40, name);
	} else {
		snprintf(why, sizeof(why), "unknown name '%.*s'", DNNPROV_NAME_MAX, name);
		if (numeric_stem(p, name))
			/* LEARNING_RATE-0.1: '-' is part of a name unless spaced. */
			dp_buf_printf(&hint, "a name may contain '-': to subtract, write '%.*s - %s'\n",
				      (int)strcspn(name, "-"), name, name + strcspn(name, "-") + 1);
		names_hint(p->d, &hint);
	}
	free(name);
	fail_at(p, at, why, hint.len ? dp_buf_cstr(&hint) : NULL);
	dp_buf_free(&hint);
	return false;
}

static void operand_free(operand *o)
{
	free((char *)o->lit.text);
	free(o->name);
}

static void node_free(node *n)
{
	if (!n)
		return;
	node_free(n->a);
	node_free(n->b);
	operand_free(&n->o);
	for (size_t i = 0; i < n->nlist; i++)
		operand_free(&n->list[i]);
	free(n->list);
	free(n);
}

static node *new_node(parser *p, node_kind k, size_t at)
{
	assert(at <= p->pos);
	node *n = calloc(1, sizeof(*n));
	if (!n)
		return out_of_memory(p);
	n->kind = k;
	n->at = at;
	n->end = p->pos;
	n->type = k <= N_LIKE ? VT_BOOL : VT_NUM;
	return n;
}

/* The type of an operand: declared numeric hyperparameters, metrics,
 * epochs and times are numbers; the other hyperparameters, status, task
 * and host are text. */
static vtype operand_type(const parser *p, const operand *o)
{
	switch (o->kind) {
	case OPD_LIT: return o->lit.type == QV_TEXT ? VT_TEXT : VT_NUM;
	case OPD_STATUS:
	case OPD_TASK:
	case OPD_MESSAGE:
	case OPD_USER:
	case OPD_HOST: return VT_TEXT;
	case OPD_HYP:
		for (size_t i = 0; i < p->d->nhyps; i++)
			if (strcmp(p->d->hyps[i].name, o->name) == 0)
				return strcmp(p->d->hyps[i].type, "numeric") == 0 ? VT_NUM : VT_TEXT;
		return VT_ANY;
	case OPD_TAG:
	case OPD_FACT: return VT_ANY;
	default: return VT_NUM;
	}
}

/* A node that must be a value (a side of a comparison, of arithmetic):
 * false, with the error set, when it is a condition. */
static bool need_value(parser *p, const node *n)
{
	if (n->type != VT_BOOL)
		return true;
	fail_at(p, n->at, "expected a value here, not a condition", NULL);
	return false;
}

/* A node that must be a condition (a side of and/or, after not, the whole
 * expression). */
static bool need_condition(parser *p, const node *n)
{
	if (n->type == VT_BOOL)
		return true;
	fail_at(p, n->end, p->src[n->end] ? "expected a comparison (= != < <= > >=), in or like"
					  : "the condition ends too soon", NULL);
	return false;
}

/* Text and numbers never compare: a clash known from the names is an error
 * rather than a condition that is never true. */
static bool types_clash(const node *a, const node *b)
{
	return a->type != VT_ANY && b->type != VT_ANY && a->type != b->type;
}

static node *parse_expr(parser *p, int depth);
static node *parse_sum(parser *p, int depth);

/* Seconds since the epoch of an ISO 8601 time: 2026-11-26, 2026-11-26T09:00,
 * 2026-11-26 09:00:30.5, with Z or an offset (+01:00); UTC when none.
 * False when s is not one. */
static bool parse_iso_time(const char *s, double *out)
{
	struct tm tm = { 0 };
	int n = 0, off_h = 0, off_m = 0;
	double frac = 0;
	const char *p = s;

	if (sscanf(p, "%4d-%2d-%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &n) != 3 || n != 10)
		return false;
	p += n;
	if (*p == 'T' || *p == ' ') {
		int m = 0;
		if (sscanf(p + 1, "%2d:%2d%n", &tm.tm_hour, &tm.tm_min, &m) != 2 || m != 5)
			return false;
		p += 1 + m;
		if (*p == ':') {
			if (sscanf(p + 1, "%2d%n", &tm.tm_sec, &m) != 1 || m != 2)
				return false;
			p += 1 + m;
			if (*p == '.') {
				char *end;
				frac = strtod(p, &end);
				p = end;
			}
		}
	}
	if (*p == 'Z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int m = 0, sign = *p == '-' ? -1 : 1;
		if (sscanf(p + 1, "%2d:%2d%n", &off_h, &off_m, &m) != 2 || m != 5)
			return false;
		p += 1 + m;
		off_h *= sign;
		off_m *= sign;
	}
	if (*p || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
	    tm.tm_min > 59 || tm.tm_sec > 60)
		return false;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	time_t t = timegm(&tm);
	*out = (double)t + frac - off_h * 3600.0 - off_m * 60.0;
	return true;
}

/* A text literal compared with a time (start, end, last_activity, now) is an
 * ISO 8601 time: it becomes seconds, as times are; one that does not parse
 * as a time is an error at the literal. */
static bool time_literal(parser *p, node *time, node *lit)
{
	if (time->kind != N_VALUE || !time->o.is_time || lit->kind != N_VALUE || lit->o.kind != OPD_LIT ||
	    lit->o.lit.type != QV_TEXT)
		return true;
	double t;
	if (!parse_iso_time(lit->o.lit.text, &t)) {
		fail_at(p, lit->at, "a time here: ISO 8601 such as '2026-11-26T09:00' or '2026-11-26T09:00:30Z', "
				    "or seconds since 1970", "or relative to now: start > now - 3600");
		return false;
	}
	free((char *)lit->o.lit.text);
	lit->o.lit.text = NULL;
	lit->o.lit.type = QV_NUM;
	lit->o.lit.num = t;
	lit->type = VT_NUM;
	return true;
}

/* An operand as a value node. */
static node *parse_value(parser *p)
{
	skip_space(p);
	node *n = new_node(p, N_VALUE, p->pos);
	if (!n)
		return NULL;
	if (!parse_operand(p, &n->o)) {
		node_free(n);
		return NULL;
	}
	n->type = operand_type(p, &n->o);
	n->end = p->pos;
	return n;
}

static node *parse_unary(parser *p, int depth)
{
	size_t at;
	node *n;

	if (depth > 64)
		return fail_at(p, p->pos, "nested too deeply", NULL);
	skip_space(p);
	at = p->pos;
	if (p->src[at] == '-' && !isdigit((unsigned char)p->src[at + 1]) && p->src[at + 1] != '.') {
		p->pos++;
		node *a = parse_unary(p, depth + 1);
		if (!a || !need_value(p, a) || !(n = new_node(p, N_NEG, at))) {
			node_free(a);
			return NULL;
		}
		if (a->type == VT_TEXT) {
			size_t text_at = a->at;
			node_free(a);
			node_free(n);
			return fail_at(p, text_at, "'-' needs numbers, and this is text", NULL);
		}
		n->a = a;
		return n;
	}
	if (punct(p, "(")) {
		if (!(n = parse_expr(p, depth + 1)))
			return NULL;
		if (!punct(p, ")")) {
			node_free(n);
			return fail_at(p, p->pos, "expected ')'", NULL);
		}
		n->at = at;
		n->end = p->pos;
		return n;
	}
	return parse_value(p);
}

/* A left-associative chain of binary arithmetic: sum over products, or a
 * product over unary terms. */
static node *parse_chain(parser *p, int depth, const char *ops, node *(*next)(parser *, int))
{
	node *l = next(p, depth);
	for (;;) {
		if (!l)
			return NULL;
		skip_space(p);
		char c = p->src[p->pos];
		if (!c || !strchr(ops, c))
			return l;
		p->pos++;
		node *r = next(p, depth);
		node *n = r ? new_node(p, N_ARITH, l->at) : NULL;
		if (!n || !need_value(p, l) || !need_value(p, r)) {
			node_free(l);
			node_free(r);
			node_free(n);
			return NULL;
		}
		n->aop = c;
		n->a = l;
		n->b = r;
		l = n;
		if (n->a->type == VT_TEXT || n->b->type == VT_TEXT) {
			size_t text_at = n->a->type == VT_TEXT ? n->a->at : n->b->at;
			char why[64];
			node_free(n);
			snprintf(why, sizeof(why), "'%c' needs numbers, and this is text", c);
			return fail_at(p, text_at, why, NULL);
		}
	}
}

static node *parse_product(parser *p, int depth)
{
	return parse_chain(p, depth, "*/", parse_unary);
}

static node *parse_sum(parser *p, int depth)
{
	return parse_chain(p, depth, "+-", parse_product);
}

static bool parse_in_list(parser *p, node *n)
{
	if (!punct(p, "(")) {
		fail_at(p, p->pos, "expected '(' after in", "e.g. OPTIMIZER_NAME in ('Adam', 'SGD')");
		return false;
	}
	do {
		operand *grown = realloc(n->list, (n->nlist + 1) * sizeof(*grown));
		if (!grown) {
			out_of_memory(p);
			return false;
		}
		n->list = grown;
		skip_space(p);
		size_t lat = p->pos;
		if (!parse_literal(p, &n->list[n->nlist])) {
			fail_at(p, lat, "expected a number or 'text' in the list", NULL);
			return false;
		}
		n->nlist++;
		vtype t = operand_type(p, &n->list[n->nlist - 1]);
		if (n->a->type != VT_ANY && t != n->a->type) {
			fail_at(p, lat, "this value's type does not match the left side", NULL);
			return false;
		}
	} while (punct(p, ","));
	if (!punct(p, ")")) {
		fail_at(p, p->pos, "expected ',' or ')'", NULL);
		return false;
	}
	return true;
}

static bool parse_like_pattern(parser *p, node *n)
{
	skip_space(p);
	size_t at = p->pos;
	if (n->a->type == VT_NUM) {
		fail_at(p, n->a->at, "like matches text, and this is a number", NULL);
		return false;
	}
	if (!parse_literal(p, &n->o) || n->o.lit.type != QV_TEXT) {
		fail_at(p, at, "like takes a 'pattern' in quotes",
			"% matches any text, _ any one character: task like 'adam-%'");
		return false;
	}
	return true;
}

static node *parse_pred(parser *p, int depth)
{
	node *l = parse_sum(p, depth), *n = NULL;
	size_t op_at;

	if (!l)
		return NULL;
	skip_space(p);
	op_at = p->pos;
	bool negated = keyword(p, "not");
	bool in = keyword(p, "in"), like = !in && keyword(p, "like");
	if (in || like) {
		if (!need_value(p, l) || !(n = new_node(p, in ? N_IN : N_LIKE, l->at)))
			goto fail;
		n->a = l;
		l = NULL;
		n->negated = negated;
		if (in ? !parse_in_list(p, n) : !parse_like_pattern(p, n))
			goto fail;
		n->end = p->pos;
		return n;
	}
	if (negated) {
		fail_at(p, op_at, "expected 'in' or 'like' after 'not'", NULL);
		goto fail;
	}
	static const struct { const char *s; cmp_op op; } ops[] = {
		{ "==", OP_EQ }, { "!=", OP_NE }, { "<>", OP_NE }, { "<=", OP_LE }, { ">=", OP_GE },
		{ "=", OP_EQ },  { "<", OP_LT },  { ">", OP_GT },
	};
	size_t k = 0;
	for (; k < DP_ARRAY_LEN(ops); k++)
		if (punct(p, ops[k].s))
			break;
	if (k == DP_ARRAY_LEN(ops))
		return l; /* a value, or a parenthesized condition: the caller checks */
	if (!need_value(p, l) || !(n = new_node(p, N_CMP, l->at)))
		goto fail;
	n->op = ops[k].op;
	n->a = l;
	l = NULL;
	if (!(n->b = parse_sum(p, depth)) || !need_value(p, n->b))
		goto fail;
	if (!time_literal(p, n->a, n->b) || !time_literal(p, n->b, n->a))
		goto fail;
	if (types_clash(n->a, n->b)) {
		fail_at(p, n->b->at, "the two sides have different types (a number and text)", NULL);
		goto fail;
	}
	n->end = p->pos;
	return n;
fail:
	node_free(l);
	node_free(n);
	return NULL;
}

static node *parse_not(parser *p, int depth)
{
	skip_space(p);
	size_t at = p->pos;
	if (depth > 64)
		return fail_at(p, p->pos, "nested too deeply", NULL);
	if (!keyword(p, "not"))
		return parse_pred(p, depth);
	node *n = new_node(p, N_NOT, at);
	if (n && (n->a = parse_not(p, depth + 1)) && need_condition(p, n->a)) {
		n->end = p->pos;
		return n;
	}
	node_free(n);
	return NULL;
}

/* A chain of and (or of or): each side must be a condition. */
static node *parse_logic(parser *p, int depth, const char *kw, node_kind kind, node *(*next)(parser *, int))
{
	node *l = next(p, depth);
	while (l && keyword(p, kw)) {
		node *n = need_condition(p, l) ? new_node(p, kind, l->at) : NULL;
		if (!n) {
			node_free(l);
			return NULL;
		}
		n->a = l;
		if (!(n->b = next(p, depth)) || !need_condition(p, n->b)) {
			node_free(n);
			return NULL;
		}
		n->end = p->pos;
		l = n;
	}
	return l;
}

static node *parse_and(parser *p, int depth)
{
	return parse_logic(p, depth, "and", N_AND, parse_not);
}

static node *parse_expr(parser *p, int depth)
{
	return parse_logic(p, depth, "or", N_OR, parse_and);
}

static int compile(const char *expr, const dp_qdataflow *d, dp_where **out);

/* Every error of the expression is about the where parameter. */
int dp_where_compile(const char *expr, const dp_qdataflow *d, dp_where **out)
{
	int rc = compile(expr, d, out);
	if (rc == DNNPROV_EQUERY)
		dp_error_about("where");
	return rc;
}

static int compile(const char *expr, const dp_qdataflow *d, dp_where **out)
{
	parser p = { .src = expr, .d = d };
	dp_where *w;
	node *root;

	*out = NULL;
	if (strlen(expr) > 4096)
		return dp_error(DNNPROV_EQUERY, "invalid --where: longer than 4096 bytes");
	root = parse_expr(&p, 0);
	if (root) {
		skip_space(&p);
		if (p.src[p.pos] && root->type == VT_BOOL) {
			fail_at(&p, p.pos, "unexpected text after the condition (missing 'and' or 'or'?)", NULL);
			node_free(root);
			root = NULL;
		} else if (!need_condition(&p, root)) {
			node_free(root);
			root = NULL;
		}
	}
	if (!root)
		return p.rc ? p.rc : dp_error(DNNPROV_EQUERY, "invalid --where");
	w = calloc(1, sizeof(*w));
	if (!w || !(w->df = strdup(d->name))) {
		free(w);
		node_free(root);
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	}
	w->root = root;
	*out = w;
	return 0;
}

void dp_where_free(dp_where *w)
{
	if (!w)
		return;
	node_free(w->root);
	free(w->df);
	free(w);
}

/* ---- evaluation ---------------------------------------------------------------- */

static dp_qv eval_operand(const operand *o, dp_query *q, const dp_qdataflow *d, const dp_qtask *t)
{
	dp_qv v = { 0 };
	const dp_qv *h;
	switch (o->kind) {
	case OPD_LIT: return o->lit;
	case OPD_HYP:
		h = dp_qtask_hyp(t, o->name);
		return h ? *h : v;
	case OPD_TAG:
	case OPD_FACT:
		h = o->kind == OPD_TAG ? dp_qtask_tag(t, o->name) : dp_qtask_fact(t, o->name);
		return h ? *h : v;
	case OPD_STATUS:
		v.type = QV_TEXT;
		v.text = t->status;
		return v;
	case OPD_TASK:
		v.type = QV_TEXT;
		v.text = t->id;
		return v;
	case OPD_HOST:
	case OPD_MESSAGE:
	case OPD_USER: {
		const char *x = o->kind == OPD_HOST ? t->host : o->kind == OPD_USER ? t->user : t->message;
		if (x) {
			v.type = QV_TEXT;
			v.text = x;
		}
		return v;
	}
	case OPD_ATTEMPTS:
		return dp_qv_int(t->attempts > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)t->attempts);
	case OPD_ACTIVE:
	case OPD_LAST:
	case OPD_DURATION: {
		double until = isnan(t->end) ? t->last : t->end;
		double x = o->kind == OPD_ACTIVE ? t->active : o->kind == OPD_LAST ? t->last : until - t->start;
		if (!isnan(x)) {
			v.type = QV_NUM;
			v.num = x;
		}
		return v;
	}
	case OPD_NOW:
		break; /* compiled into a literal */
	case OPD_EPOCHS:
		return dp_qv_int(t->epochs > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)t->epochs);
	case OPD_START:
	case OPD_END: {
		double x = o->kind == OPD_START ? t->start : t->end;
		if (!isnan(x)) {
			v.type = QV_NUM;
			v.num = x;
		}
		return v;
	}
	case OPD_METRIC:
		return dp_query_metric(q, d->name, t->id, o->name, &o->agg, NULL);
	}
	return v;
}

static tv compare(const dp_qv *a, const dp_qv *b, cmp_op op)
{
	int c;
	if (a->type == QV_NULL || b->type == QV_NULL || a->type != b->type)
		return TV_UNKNOWN;
	if (a->type == QV_NUM) {
		if (dp_qv_isnan(a) || dp_qv_isnan(b))
			return TV_UNKNOWN;
		c = dp_qv_cmp_num(a, b);
	} else if (op == OP_EQ || op == OP_NE) {
		c = strcasecmp(a->text, b->text);
	} else {
		c = strcmp(a->text, b->text);
	}
	switch (op) {
	case OP_EQ: return c == 0;
	case OP_NE: return c != 0;
	case OP_LT: return c < 0;
	case OP_LE: return c <= 0;
	case OP_GT: return c > 0;
	default: return c >= 0;
	}
}

/* SQL's LIKE: % matches any text, _ one character (a UTF-8 sequence),
 * anything else itself ignoring ASCII case.  The last % seen is the only
 * backtracking point, so the cost is at most the product of the lengths. */
static int ascii_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : (unsigned char)c;
}

static bool like(const char *s, const char *pat)
{
	const char *star = NULL, *resume = NULL;
	while (*s) {
		if (*pat == '%') {
			star = ++pat;
			resume = s;
		} else if (*pat == '_' || (*pat && ascii_lower(*pat) == ascii_lower(*s))) {
			if (*pat == '_')
				while ((s[1] & 0xC0) == 0x80)
					s++; /* the continuation bytes of one character */
			pat++;
			s++;
		} else if (star) {
			pat = star;
			s = ++resume;
			while ((*s & 0xC0) == 0x80)
				s++;
			resume = s;
		} else {
			return false;
		}
	}
	while (*pat == '%')
		pat++;
	return !*pat;
}

static dp_qv eval_value(const node *n, dp_query *q, const dp_qdataflow *d, const dp_qtask *t)
{
	dp_qv r = { 0 };
	assert(n->type != VT_BOOL && n->kind >= N_VALUE); /* the parser put a value here */
	if (n->kind == N_VALUE)
		return eval_operand(&n->o, q, d, t);
	dp_qv a = eval_value(n->a, q, d, t);
	if (a.type != QV_NUM)
		return r;
	if (n->kind == N_NEG) {
		r.type = QV_NUM;
		r.num = -a.num;
		return r;
	}
	assert(n->kind == N_ARITH && n->b);
	dp_qv b = eval_value(n->b, q, d, t);
	if (b.type != QV_NUM || (n->aop == '/' && b.num == 0))
		return r; /* unknown, as SQL's NULL */
	r.type = QV_NUM;
	switch (n->aop) {
	case '+': r.num = a.num + b.num; break;
	case '-': r.num = a.num - b.num; break;
	case '*': r.num = a.num * b.num; break;
	default: r.num = a.num / b.num; break;
	}
	return r;
}

static tv eval(const node *n, dp_query *q, const dp_qdataflow *d, const dp_qtask *t)
{
	tv a, b;
	assert(n->type == VT_BOOL && n->kind <= N_LIKE); /* the parser put a condition here */
	switch (n->kind) {
	case N_OR:
		a = eval(n->a, q, d, t);
		if (a == TV_TRUE)
			return TV_TRUE;
		b = eval(n->b, q, d, t);
		return b == TV_TRUE ? TV_TRUE : (a == TV_UNKNOWN || b == TV_UNKNOWN) ? TV_UNKNOWN : TV_FALSE;
	case N_AND:
		a = eval(n->a, q, d, t);
		if (a == TV_FALSE)
			return TV_FALSE;
		b = eval(n->b, q, d, t);
		return b == TV_FALSE ? TV_FALSE : (a == TV_UNKNOWN || b == TV_UNKNOWN) ? TV_UNKNOWN : TV_TRUE;
	case N_NOT:
		a = eval(n->a, q, d, t);
		return a == TV_UNKNOWN ? TV_UNKNOWN : (tv)!a;
	case N_CMP: {
		dp_qv l = eval_value(n->a, q, d, t), r = eval_value(n->b, q, d, t);
		return compare(&l, &r, n->op);
	}
	case N_IN: {
		dp_qv l = eval_value(n->a, q, d, t);
		tv res = TV_FALSE;
		assert(n->nlist >= 1);
		for (size_t i = 0; i < n->nlist; i++) {
			tv c = compare(&l, &n->list[i].lit, OP_EQ);
			if (c == TV_TRUE) {
				res = TV_TRUE;
				break;
			}
			if (c == TV_UNKNOWN)
				res = TV_UNKNOWN;
		}
		if (n->negated && res != TV_UNKNOWN)
			res = (tv)!res;
		return res;
	}
	case N_LIKE: {
		dp_qv l = eval_value(n->a, q, d, t);
		if (l.type != QV_TEXT)
			return TV_UNKNOWN;
		assert(n->o.lit.type == QV_TEXT); /* the pattern is a text literal */
		return (tv)(like(l.text, n->o.lit.text) != n->negated);
	}
	default: return TV_UNKNOWN; /* a value: the parser never leaves one here */
	}
}

bool dp_where_match(const dp_where *w, dp_query *q, const dp_qdataflow *d, const dp_qtask *t)
{
	return !w || eval(w->root, q, d, t) == TV_TRUE;
}

/* ---- the secondary index ------------------------------------------------------------- */

typedef struct idset {
	char **ids;
	size_t n, cap;
	/* A scan could not finish (memory, LMDB): the set may miss tasks, so
	 * it must not narrow anything. */
	bool incomplete;
} idset;

static void idset_add(idset *s, const char *p, size_t n)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		char **grown = realloc(s->ids, cap * sizeof(char *));
		if (!grown) {
			s->incomplete = true;
			return;
		}
		s->ids = grown;
		s->cap = cap;
	}
	char *id = strndup(p, n);
	if (id)
		s->ids[s->n++] = id;
	else
		s->incomplete = true;
}

/* Scans hyp_index for one condition `name op value`, adding task ids. */
static void scan_condition(dp_query *q, const char *df, const char *name, cmp_op op, const dp_qv *v, idset *out)
{
	dp_key base, from;
	dp_scan sc;
	MDB_val k, val;

	dp_key_reset(&base);
	dp_key_cstr(&base, df);
	dp_key_cstr(&base, name);
	base.b[base.n++] = v->type == QV_NUM ? 1 : 2; /* the value's type byte */
	size_t prefix = base.n;                       /* df, name, type */
	from = base;
	if (v->type == QV_NUM)
		dp_key_double(&from, v->num);
	else
		dp_key_cstr(&from, v->text);
	size_t vlen = from.n; /* df, name, type, value */
	if (from.overflow ||
	    dp_scan_open(&sc, q->ix, q->txn, DP_DB_HYP_INDEX, &base, op == OP_LT || op == OP_LE ? NULL : &from)) {
		out->incomplete = true;
		return;
	}
	int rc;
	while ((rc = dp_scan_next(&sc, &k, &val)) == DP_SCAN_ROW) {
		const unsigned char *kb = k.mv_data;
		/* The value part ends where the task id starts. */
		size_t vend = prefix;
		if (v->type == QV_NUM) {
			vend += 8;
		} else {
			const unsigned char *z = memchr(kb + prefix, 0, k.mv_size - prefix);
			if (!z)
				continue;
			vend = (size_t)(z - kb) + 1;
		}
		if (vend >= k.mv_size)
			continue;
		int c2 = memcmp(kb + prefix, from.b + prefix, (vend - prefix) < (vlen - prefix) ? vend - prefix : vlen - prefix);
		if (c2 == 0)
			c2 = (int)(vend - prefix) - (int)(vlen - prefix);
		/* Keys hold doubles: an integer value or literal past 2^53 is
		 * rounded, so strict conditions keep the equal keys too (rounding
		 * is monotonic: the set stays a superset), and the filter decides
		 * exactly. */
		bool keep = op == OP_EQ ? c2 == 0 : op == OP_GE || op == OP_GT ? c2 >= 0 : c2 <= 0;
		if ((op == OP_EQ || op == OP_LT || op == OP_LE) && c2 > 0)
			break; /* sorted: nothing further can match */
		if (keep)
			idset_add(out, (const char *)kb + vend, k.mv_size - vend - 1);
	}
	if (rc < 0) {
		out->incomplete = true;
		dp_query_read_failed(q, rc);
	}
	dp_scan_close(&sc);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The first condition of an and-chain that the index can answer. */
static const node *indexable(const node *n)
{
	if (n->kind == N_AND) {
		const node *x = indexable(n->a);
		return x ? x : indexable(n->b);
	}
	if (n->kind == N_CMP && n->a->kind == N_VALUE && n->a->o.kind == OPD_HYP && n->b->kind == N_VALUE &&
	    n->b->o.kind == OPD_LIT && n->op != OP_NE && (n->b->o.lit.type == QV_NUM || n->op == OP_EQ))
		return n;
	if (n->kind == N_IN && !n->negated && n->a->kind == N_VALUE && n->a->o.kind == OPD_HYP)
		return n;
	return NULL;
}

bool dp_where_candidates(const dp_where *w, dp_query *q, const dp_qdataflow *d, char ***ids, size_t *n)
{
	const node *c = w ? indexable(w->root) : NULL;
	idset s = { 0 };
	(void)d;
	if (!c)
		return false;
	if (c->kind == N_CMP) {
		scan_condition(q, w->df, c->a->o.name, c->op, &c->b->o.lit, &s);
	} else {
		for (size_t i = 0; i < c->nlist; i++)
			scan_condition(q, w->df, c->a->o.name, OP_EQ, &c->list[i].lit, &s);
	}
	/* Text equality in the index is exact; the filter ignores case, so a
	 * text condition cannot narrow by the index.  Nor can a set that may
	 * miss tasks: the full scan is slower, never wrong. */
	if (s.incomplete || (c->kind == N_CMP && c->b->o.lit.type == QV_TEXT) ||
	    (c->kind == N_IN && c->nlist && c->list[0].lit.type == QV_TEXT)) {
		for (size_t i = 0; i < s.n; i++)
			free(s.ids[i]);
		free(s.ids);
		return false;
	}
	if (s.n > 1) /* qsort(NULL, 0, ...) is undefined */
		qsort(s.ids, s.n, sizeof(char *), cmp_str);
	*ids = s.ids;
	*n = s.n;
	return true;
}
