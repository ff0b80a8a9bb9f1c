/*
 * where.c - the --where filter language.
 *
 *   expr    := and ('or' and)*
 *   and     := not ('and' not)*
 *   not     := 'not' not | '(' expr ')' | cond
 *   cond    := operand op operand | operand ['not'] 'in' '(' literal {',' literal} ')'
 *   op      := '=' | '==' | '!=' | '<>' | '<' | '<=' | '>' | '>='
 *   operand := number | 'text' | "text" | name | agg '(' metric ')'
 *   agg     := max | min | last | mean | best
 *   name    := a hyperparameter, status, epochs, task, host, start, end
 *              (case-insensitive); `back quotes` for names with spaces or
 *              operators in them
 *
 * Keywords are case-insensitive.  Text equality ignores ASCII case ('adam'
 * finds Adam); ordering compares bytes.  A condition on something a task
 * lacks is unknown, and as in SQL unknown is neither true nor false: `not`
 * keeps it unknown and the task is not listed.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "query/query.h"

typedef enum { TV_FALSE = 0, TV_TRUE = 1, TV_UNKNOWN = 2 } tv;

typedef enum { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE } cmp_op;

typedef enum { OPD_LIT, OPD_HYP, OPD_STATUS, OPD_EPOCHS, OPD_TASK, OPD_HOST, OPD_START, OPD_END,
	       OPD_METRIC } opd_kind;

typedef struct operand {
	opd_kind kind;
	dp_qv lit;  /* OPD_LIT; text owned */
	char *name; /* OPD_HYP, OPD_METRIC: the canonical name */
	dp_agg agg; /* OPD_METRIC */
} operand;

typedef enum { N_OR, N_AND, N_NOT, N_CMP, N_IN } node_kind;

typedef struct node {
	node_kind kind;
	struct node *a, *b; /* N_OR, N_AND, N_NOT */
	cmp_op op;          /* N_CMP */
	bool negated;       /* N_IN */
	operand l, r;       /* N_CMP: l op r; N_IN: l in list */
	operand *list;
	size_t nlist;
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
	dp_buf_printf(b, "names: status, epochs, task, host, start, end");
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

static bool parse_operand(parser *p, operand *o)
{
	static const struct { const char *name; opd_kind kind; } fixed[] = {
		{ "status", OPD_STATUS }, { "epochs", OPD_EPOCHS }, { "task", OPD_TASK },
		{ "host", OPD_HOST },     { "start", OPD_START },   { "end", OPD_END },
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
			return true;
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
	operand_free(&n->l);
	operand_free(&n->r);
	for (size_t i = 0; i < n->nlist; i++)
		operand_free(&n->list[i]);
	free(n->list);
	free(n);
}

static node *new_node(parser *p, node_kind k)
{
	node *n = calloc(1, sizeof(*n));
	if (!n)
		p->rc = dp_error(DNNPROV_ENOMEM, "out of memory");
	else
		n->kind = k;
	return n;
}

/* Declared numeric hyperparameters and metrics compare with numbers only. */
static bool type_clash(parser *p, const operand *a, const operand *b)
{
	bool a_num = a->kind == OPD_EPOCHS || a->kind == OPD_METRIC || a->kind == OPD_START || a->kind == OPD_END;
	bool a_text = a->kind == OPD_STATUS || a->kind == OPD_TASK || a->kind == OPD_HOST;
	if (a->kind == OPD_HYP)
		for (size_t i = 0; i < p->d->nhyps; i++)
			if (strcmp(p->d->hyps[i].name, a->name) == 0) {
				a_num = strcmp(p->d->hyps[i].type, "numeric") == 0;
				a_text = !a_num;
			}
	return b->kind == OPD_LIT && ((a_num && b->lit.type == QV_TEXT) || (a_text && b->lit.type == QV_NUM));
}

static node *parse_expr(parser *p, int depth);

static node *parse_cond(parser *p, int depth)
{
	size_t at;
	node *n;

	if (depth > 64)
		return fail_at(p, p->pos, "nested too deeply", NULL);
	if (keyword(p, "not")) {
		if (!(n = new_node(p, N_NOT)))
			return NULL;
		if (!(n->a = parse_cond(p, depth + 1))) {
			node_free(n);
			return NULL;
		}
		return n;
	}
	if (punct(p, "(")) {
		n = parse_expr(p, depth + 1);
		if (n && !punct(p, ")")) {
			node_free(n);
			return fail_at(p, p->pos, "expected ')'", NULL);
		}
		return n;
	}
	if (!(n = new_node(p, N_CMP)))
		return NULL;
	skip_space(p);
	at = p->pos;
	if (!parse_operand(p, &n->l))
		goto fail;
	skip_space(p);
	size_t op_at = p->pos;
	bool negated = keyword(p, "not");
	if (keyword(p, "in")) {
		n->kind = N_IN;
		n->negated = negated;
		if (!punct(p, "(")) {
			fail_at(p, p->pos, "expected '(' after in", "e.g. OPTIMIZER_NAME in ('Adam', 'SGD')");
			goto fail;
		}
		do {
			operand *grown = realloc(n->list, (n->nlist + 1) * sizeof(*grown));
			if (!grown) {
				out_of_memory(p);
				goto fail;
			}
			n->list = grown;
			skip_space(p);
			size_t lat = p->pos;
			if (!parse_literal(p, &n->list[n->nlist])) {
				fail_at(p, lat, "expected a number or 'text' in the list", NULL);
				goto fail;
			}
			n->nlist++;
			if (type_clash(p, &n->l, &n->list[n->nlist - 1])) {
				fail_at(p, lat, "this value's type does not match the left side", NULL);
				goto fail;
			}
		} while (punct(p, ","));
		if (!punct(p, ")")) {
			fail_at(p, p->pos, "expected ',' or ')'", NULL);
			goto fail;
		}
		return n;
	}
	if (negated) {
		fail_at(p, op_at, "expected 'in' after 'not'", NULL);
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
	if (k == DP_ARRAY_LEN(ops)) {
		fail_at(p, op_at, p->src[op_at] ? "expected a comparison (= != < <= > >=) or in"
						: "the condition ends too soon",
			NULL);
		goto fail;
	}
	n->op = ops[k].op;
	skip_space(p);
	size_t r_at = p->pos;
	if (!parse_operand(p, &n->r))
		goto fail;
	if (type_clash(p, &n->l, &n->r) || type_clash(p, &n->r, &n->l)) {
		fail_at(p, r_at, "the two sides have different types (a number and text)", NULL);
		goto fail;
	}
	(void)at;
	return n;
fail:
	node_free(n);
	return NULL;
}

static node *parse_and(parser *p, int depth)
{
	node *l = parse_cond(p, depth);
	while (l && keyword(p, "and")) {
		node *n = new_node(p, N_AND);
		if (!n) {
			node_free(l);
			return NULL;
		}
		n->a = l;
		if (!(n->b = parse_cond(p, depth))) {
			node_free(n);
			return NULL;
		}
		l = n;
	}
	return l;
}

static node *parse_expr(parser *p, int depth)
{
	node *l = parse_and(p, depth);
	while (l && keyword(p, "or")) {
		node *n = new_node(p, N_OR);
		if (!n) {
			node_free(l);
			return NULL;
		}
		n->a = l;
		if (!(n->b = parse_and(p, depth))) {
			node_free(n);
			return NULL;
		}
		l = n;
	}
	return l;
}

int dp_where_compile(const char *expr, const dp_qdataflow *d, dp_where **out)
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
		if (p.src[p.pos]) {
			fail_at(&p, p.pos, "unexpected text after the condition (missing 'and' or 'or'?)", NULL);
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
	case OPD_STATUS:
		v.type = QV_TEXT;
		v.text = t->status;
		return v;
	case OPD_TASK:
		v.type = QV_TEXT;
		v.text = t->id;
		return v;
	case OPD_HOST:
		if (t->host) {
			v.type = QV_TEXT;
			v.text = t->host;
		}
		return v;
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

static tv eval(const node *n, dp_query *q, const dp_qdataflow *d, const dp_qtask *t)
{
	tv a, b;
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
		dp_qv l = eval_operand(&n->l, q, d, t), r = eval_operand(&n->r, q, d, t);
		return compare(&l, &r, n->op);
	}
	case N_IN: {
		dp_qv l = eval_operand(&n->l, q, d, t);
		tv res = TV_FALSE;
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
	}
	return TV_UNKNOWN;
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
	if (n->kind == N_CMP && n->l.kind == OPD_HYP && n->r.kind == OPD_LIT && n->op != OP_NE &&
	    (n->r.lit.type == QV_NUM || n->op == OP_EQ))
		return n;
	if (n->kind == N_IN && !n->negated && n->l.kind == OPD_HYP)
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
		scan_condition(q, w->df, c->l.name, c->op, &c->r.lit, &s);
	} else {
		for (size_t i = 0; i < c->nlist; i++)
			scan_condition(q, w->df, c->l.name, OP_EQ, &c->list[i].lit, &s);
	}
	/* Text equality in the index is exact; the filter ignores case, so a
	 * text condition cannot narrow by the index.  Nor can a set that may
	 * miss tasks: the full scan is slower, never wrong. */
	if (s.incomplete || (c->kind == N_CMP && c->r.lit.type == QV_TEXT) ||
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
