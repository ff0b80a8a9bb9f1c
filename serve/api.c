/*
 * api.c - /api/NAME?PARAMS: the query commands over HTTP.
 *
 * Each endpoint is a query command: the parameters are the command's long
 * options (and df, task, transformation for its positional arguments),
 * the answer is the table the same dp_cmd_* function fills, rendered by
 * the same dp_table_write as `--format json` (or csv).  So an answer and
 * the CLI's for the same question are the same bytes, bar "index", which
 * the server refreshes in the background (snapshot.c).
 *
 * Bad input is a 400 naming the parameter ({"error", "parameter"}); an
 * unknown dataflow, task, metric... a 404 naming it; no index, or a query
 * past its deadline, a 503.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "query/prov.h"
#include "serve/internal.h"
#include "sql/sql.h"

/* ---- parameters ------------------------------------------------------------------------ */

enum {
	P_DF = 1 << 0,
	P_WHERE = 1 << 1,
	P_SORT = 1 << 2,
	P_LIMIT = 1 << 3,
	P_OFFSET = 1 << 4,
	P_METRIC = 1 << 5,
	P_AGG = 1 << 6,
	P_GOAL = 1 << 7,
	P_HYP = 1 << 8,
	P_BINS = 1 << 9,
	P_TASK = 1 << 10,
	P_METRICS = 1 << 11,
	P_WINDOW = 1 << 12,
	P_TRANSFORMATION = 1 << 13,
	P_SET = 1 << 14,
	P_FORMAT = 1 << 15,
	P_Q = 1 << 16,
	P_COUNT = 17
};

static const char *const param_names[P_COUNT] = { "df",	 "where",   "sort", "limit",   "offset", "metric",
						  "agg",	 "goal",    "hyp",  "bins",    "task",   "metrics",
						  "window", "transformation", "set", "format", "q" };

typedef struct args {
	const char *v[P_COUNT]; /* copies, or NULL */
	const char **tasks;     /* export: every task= */
	size_t ntasks;
	unsigned allowed, seen;
	bool many_tasks;        /* task= may repeat */
	const char *bad;        /* a parameter that failed: its name */
	char badname[65];       /* the name of an unknown one, as given */
	char why[512];
} args;

static int param_index(const char *key, size_t n)
{
	for (int i = 0; i < P_COUNT; i++)
		if (strlen(param_names[i]) == n && memcmp(param_names[i], key, n) == 0)
			return i;
	return -1;
}

static void list_allowed(unsigned allowed, char *out, size_t cap)
{
	size_t at = 0;
	out[0] = '\0';
	for (int i = 0; i < P_COUNT && at < cap; i++)
		if (allowed & (1u << i))
			at += (size_t)snprintf(out + at, cap - at, "%s%s", at ? ", " : "", param_names[i]);
	if (!at)
		snprintf(out, cap, "none");
}

static enum MHD_Result collect(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
			       const char *value, size_t value_size)
{
	args *a = cls;
	char allowed[256];
	(void)kind;
	if (a->bad)
		return MHD_NO;
	int i = param_index(key, key_size);
	if (i < 0 || !(a->allowed & (1u << i))) {
		list_allowed(a->allowed, allowed, sizeof(allowed));
		snprintf(a->badname, sizeof(a->badname), "%.*s", (int)(key_size > 64 ? 64 : key_size), key);
		a->bad = a->badname;
		snprintf(a->why, sizeof(a->why), "unknown parameter '%s' (this endpoint takes: %s)", a->badname, allowed);
		return MHD_NO;
	}
	if (!value || memchr(value, '\0', value_size)) {
		a->bad = param_names[i];
		snprintf(a->why, sizeof(a->why), "%s: %s", param_names[i], value ? "a value holds a NUL byte" : "no value");
		return MHD_NO;
	}
	if ((1u << i) == P_TASK && a->many_tasks) {
		const char **g = realloc(a->tasks, (a->ntasks + 1) * sizeof(*g));
		if (!g) {
			a->bad = "task";
			snprintf(a->why, sizeof(a->why), "out of memory");
			return MHD_NO;
		}
		a->tasks = g;
		a->tasks[a->ntasks++] = value;
	} else if (a->seen & (1u << i)) {
		a->bad = param_names[i];
		snprintf(a->why, sizeof(a->why), "%s is given twice", param_names[i]);
		return MHD_NO;
	}
	a->seen |= 1u << i;
	a->v[i] = value; /* libmicrohttpd keeps it for the request */
	return MHD_YES;
}

/* Index of a P_ bit. */
static int bit(unsigned p)
{
	int i = 0;
	while (p > 1) {
		p >>= 1;
		i++;
	}
	return i;
}

static const char *arg(const args *a, unsigned p)
{
	return a->v[bit(p)];
}

static bool whole_number(const char *s, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (!*s || *end || errno || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

/* Fills the command's options from the parameters: false with a->bad and
 * a->why when one is wrong. */
static bool options(dp_server *s, args *a, dp_qopts *o, dp_format *fmt)
{
	long v;
	memset(o, 0, sizeof(*o));
	o->agg.kind = AGG_BEST;
	o->now = dp_now();
	o->df = arg(a, P_DF) ? arg(a, P_DF) : s->o.dataflow;
	o->where = arg(a, P_WHERE);
	o->sort = arg(a, P_SORT);
	o->metric = arg(a, P_METRIC);
	o->hyp = arg(a, P_HYP);
	o->task = arg(a, P_TASK);
	o->metrics = arg(a, P_METRICS);
	o->transformation = arg(a, P_TRANSFORMATION);
	o->set = arg(a, P_SET);
	*fmt = FMT_JSON;
#define BAD(p, ...)                                                      \
	do {                                                             \
		a->bad = param_names[bit(p)];                            \
		snprintf(a->why, sizeof(a->why), __VA_ARGS__);           \
		return false;                                            \
	} while (0)
	if ((a->allowed & P_DF) && !o->df)
		BAD(P_DF, "df is missing: which dataflow (GET /api/dataflows lists them)");
	if (arg(a, P_LIMIT)) {
		if (!whole_number(arg(a, P_LIMIT), 0, (long)s->max_rows, &v))
			BAD(P_LIMIT, "limit takes a whole number from 0 to %zu (rows per answer), not '%.40s'", s->max_rows,
			    arg(a, P_LIMIT));
		o->limit = (size_t)v;
	}
	if (arg(a, P_OFFSET)) {
		if (!whole_number(arg(a, P_OFFSET), 0, 1L << 40, &v))
			BAD(P_OFFSET, "offset takes a whole number, not '%.40s'", arg(a, P_OFFSET));
		o->offset = (size_t)v;
	}
	if (arg(a, P_AGG) && dp_agg_parse(arg(a, P_AGG), &o->agg))
		BAD(P_AGG, "agg: %s", dnnprov_errmsg());
	if (arg(a, P_GOAL)) {
		if (strcmp(arg(a, P_GOAL), "min") && strcmp(arg(a, P_GOAL), "max"))
			BAD(P_GOAL, "goal is min or max, not '%.40s'", arg(a, P_GOAL));
		o->goal = arg(a, P_GOAL);
	}
	if (arg(a, P_BINS)) {
		if (!whole_number(arg(a, P_BINS), 1, 1000, &v))
			BAD(P_BINS, "bins takes a number from 1 to 1000, not '%.40s'", arg(a, P_BINS));
		o->bins = (int)v;
	}
	if (arg(a, P_WINDOW)) {
		if (!whole_number(arg(a, P_WINDOW), 1, 1000000, &v))
			BAD(P_WINDOW, "window takes a whole number from 1 to 1000000, not '%.40s'", arg(a, P_WINDOW));
		o->window = (int)v;
	}
	if (arg(a, P_FORMAT)) {
		if (strcmp(arg(a, P_FORMAT), "json") == 0)
			*fmt = FMT_JSON;
		else if (strcmp(arg(a, P_FORMAT), "csv") == 0)
			*fmt = FMT_CSV;
		else
			BAD(P_FORMAT, "format is json or csv, not '%.40s'", arg(a, P_FORMAT));
	}
#undef BAD
	return true;
}

/* ---- errors ---------------------------------------------------------------------------- */

/* The parameter a library error is about, from what its detail names. */
static const char *blame(int rc, const char *detail, const dp_qopts *o)
{
	static const struct {
		int rc;
		const char *start, *param;
	} rules[] = {
		{ DNNPROV_ENOTFOUND, "no dataflow ", "df" },
		{ DNNPROV_ENOTFOUND, "'", "df" }, /* "'x' is not a dataflow name" */
		{ DNNPROV_ENOTFOUND, "no task ", "task" },
		{ DNNPROV_ENOTFOUND, "no metric ", "metric" },
		{ DNNPROV_ENOTFOUND, "dataflow ", "metric" }, /* "has no metrics yet" */
		{ DNNPROV_ENOTFOUND, "no hyperparameter ", "hyp" },
		{ DNNPROV_ENOTFOUND, "no transformation ", "transformation" },
		{ DNNPROV_ENOTFOUND, "transformation ", "set" },
		{ DNNPROV_EQUERY, "invalid --where", "where" },
		{ DNNPROV_EQUERY, "cannot sort", "sort" },
	};
	for (size_t i = 0; i < DP_ARRAY_LEN(rules); i++)
		if (rules[i].rc == rc && strncmp(detail, rules[i].start, strlen(rules[i].start)) == 0)
			return rules[i].param;
	return rc == DNNPROV_EQUERY && o->where ? "where" : NULL;
}

/* The reply for a library error rc of a query on q. */
static void query_error(dp_server *s, dp_reply *r, int rc, const dp_query *q, const dp_qopts *o)
{
	const char *d = dnnprov_errmsg();
	if (!d || !*d)
		d = dnnprov_strerror(rc);
	if (q && q->expired)
		dp_reply_error(r, 503, NULL, "the query ran past the server's time limit of %g s: narrow it (where, limit)",
			       s->request_seconds);
	else if (rc == DNNPROV_ENOTFOUND)
		dp_reply_error(r, 404, o ? blame(rc, d, o) : NULL, "%s", d);
	else if (rc == DNNPROV_EQUERY)
		dp_reply_error(r, 400, o ? blame(rc, d, o) : NULL, "%s", d);
	else if (rc == DNNPROV_ENOMEM)
		dp_reply_error(r, 503, NULL, "%s", d);
	else
		dp_reply_error(r, 500, NULL, "%s", d);
}

/* No index (yet), a damaged one...: what the CLI would say, as a 503. */
static void index_error(dp_reply *r, int rc)
{
	const char *d = dnnprov_errmsg();
	dp_reply_error(r, 503, NULL, "%s", d && *d ? d : dnnprov_strerror(rc));
}

/* ---- the commands ---------------------------------------------------------------------- */

static int run_dataflows(dp_query *q, const dp_qopts *o, dp_table *t, dp_qnotes *n)
{
	(void)o;
	(void)n;
	return dp_cmd_dataflows(q, t);
}

static int run_describe(dp_query *q, const dp_qopts *o, dp_table *t, dp_qnotes *n)
{
	(void)n;
	return dp_cmd_describe(q, o, t);
}

static int run_adaptations(dp_query *q, const dp_qopts *o, dp_table *t, dp_qnotes *n)
{
	(void)n;
	return dp_cmd_adaptations(q, o, t);
}

static int run_elements(dp_query *q, const dp_qopts *o, dp_table *t, dp_qnotes *n)
{
	(void)n;
	return dp_cmd_elements(q, o, t);
}

static int run_layers(dp_query *q, const dp_qopts *o, dp_table *t, dp_qnotes *n)
{
	(void)n;
	return dp_cmd_layers(q, o, t);
}

static int run_watch(dp_query *q, const dp_qopts *o, dp_table *t, dp_qnotes *n)
{
	(void)n;
	return dp_cmd_watch(q, o, t);
}

typedef int (*cmd_fn)(dp_query *q, const dp_qopts *o, dp_table *out, dp_qnotes *notes);

/* The parameters are the CLI's options of the same command (cli/cmd_*.c),
 * plus df, task or transformation where the CLI takes them positionally. */
static const struct endpoint {
	const char *name;
	cmd_fn run;
	unsigned params, required;
} endpoints[] = {
	{ "dataflows", run_dataflows, P_FORMAT, 0 },
	{ "describe", run_describe, P_DF | P_FORMAT, 0 },
	{ "runs", dp_cmd_runs, P_DF | P_WHERE | P_SORT | P_LIMIT | P_OFFSET | P_METRIC | P_GOAL | P_FORMAT, 0 },
	{ "compare", dp_cmd_compare,
	  P_DF | P_METRIC | P_AGG | P_GOAL | P_WHERE | P_SORT | P_LIMIT | P_OFFSET | P_FORMAT, 0 },
	{ "effect", dp_cmd_effect, P_DF | P_WHERE | P_METRIC | P_AGG | P_GOAL | P_HYP | P_BINS | P_FORMAT, P_HYP },
	{ "curve", dp_cmd_curve, P_DF | P_TASK | P_METRICS | P_FORMAT, P_TASK },
	{ "adaptations", run_adaptations, P_DF | P_TASK | P_WHERE | P_METRIC | P_WINDOW | P_FORMAT, 0 },
	{ "test", dp_cmd_test, P_DF | P_WHERE | P_SORT | P_LIMIT | P_OFFSET | P_FORMAT, 0 },
	{ "elements", run_elements, P_DF | P_TRANSFORMATION | P_SET | P_TASK | P_WHERE | P_FORMAT,
	  P_TRANSFORMATION },
	{ "layers", run_layers, P_DF | P_TASK | P_WHERE | P_FORMAT, 0 },
	{ "watch", run_watch, P_DF | P_WHERE | P_FORMAT, 0 },
};

/* Parses the request's parameters for an endpoint taking `allowed`. */
static bool parse_args(struct MHD_Connection *c, args *a, unsigned allowed, unsigned required, dp_reply *r)
{
	a->allowed = allowed;
	MHD_get_connection_values_n(c, MHD_GET_ARGUMENT_KIND, collect, a);
	for (int i = 0; i < P_COUNT && !a->bad; i++)
		if ((required & (1u << i)) && !a->v[i]) {
			a->bad = param_names[i];
			snprintf(a->why, sizeof(a->why), "%s is required", param_names[i]);
		}
	if (a->bad)
		dp_reply_error(r, 400, a->bad, "%s", a->why);
	return !a->bad;
}

/* A safe file name for Content-Disposition: letters, digits, . _ - */
static void file_name(char *out, size_t cap, const char *df, const char *what, const char *ext)
{
	snprintf(out, cap, "attachment; filename=\"%s-%s.%s\"", df ? df : "dnnprov", what, ext);
	for (char *p = out + 22; *p && p[1]; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' ||
		      *p == '_' || *p == '-'))
			*p = '_';
}

/* Whether the index holds no dataflow: the CLI answers those with an
 * empty result. */
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

/* Cuts a longer answer at the server's cap on rows; it then says "total". */
static void cap_rows(dp_table *t, size_t max)
{
	if (t->nrows <= max)
		return;
	for (size_t i = max * t->ncols; i < t->nrows * t->ncols; i++)
		if (t->cells[i].type == QV_TEXT)
			free((char *)t->cells[i].text);
	if (!t->paged)
		t->total = t->nrows;
	t->paged = true;
	t->nrows = max;
}

static void answer_command(dp_server *s, struct MHD_Connection *c, const struct endpoint *e, dp_reply *r)
{
	args a = { 0 };
	dp_qopts o;
	dp_format fmt;
	dp_query q;
	dp_table t = { 0 };
	dp_qnotes notes = { 0 };
	bool empty;
	char *index_json = NULL, *body = NULL;
	size_t len = 0;
	int rc;

	if (!parse_args(c, &a, e->params, e->required, r))
		goto out_args;
	if (!options(s, &a, &o, &fmt)) {
		dp_reply_error(r, 400, a.bad, "%s", a.why);
		goto out_args;
	}
	if ((rc = dp_shared_begin(&s->index, &q))) {
		index_error(r, rc);
		goto out_args;
	}
	q.deadline = dp_monotonic() + s->request_seconds;
	if ((rc = index_empty(&q, &empty))) {
		query_error(s, r, rc, &q, NULL);
		goto out;
	}
	if (empty) {
		/* As the CLI: an empty answer (its note goes to stderr there). */
		static const char none[] = "{\"columns\": [],\n\"rows\": []}\n";
		r->status = 200;
		r->type = "application/json";
		r->body = strdup(none);
		r->len = r->body ? strlen(none) : 0;
		goto out;
	}
	/* dp_query_check: a read that failed inside a lookup is an error, not
	 * a missing value (as the CLI checks it). */
	if ((rc = e->run(&q, &o, &t, &notes)) || (rc = dp_table_check(&t, &notes.text)) || (rc = dp_query_check(&q))) {
		query_error(s, r, rc, &q, &o);
		goto out;
	}
	cap_rows(&t, s->max_rows);
	index_json = dp_shared_freshness(&s->index);
	FILE *f = open_memstream(&body, &len);
	if (!f || (rc = dp_table_write(&t, fmt, f, 0, index_json)) != 0 || fclose(f) != 0) {
		if (f && rc)
			fclose(f);
		free(body);
		dp_reply_error(r, 503, NULL, "out of memory writing the answer");
		goto out;
	}
	r->status = 200;
	r->body = body;
	r->len = len;
	r->type = fmt == FMT_CSV ? "text/csv; charset=utf-8" : "application/json";
	if (fmt == FMT_CSV)
		file_name(r->disposition, sizeof(r->disposition), o.df, e->name, "csv");
out:
	free(index_json);
	dp_table_free(&t);
	dp_buf_free(&notes.text);
	dp_shared_end(&s->index, &q);
out_args:
	free(a.tasks);
}

/* GET /api/changes: what the page polls to know that the index changed
 * (a commit, a reindex), with the index's freshness. */
static void answer_changes(dp_server *s, struct MHD_Connection *c, dp_reply *r)
{
	args a = { 0 };
	dp_query q;
	dp_buf b = { 0 }, change = { 0 };
	int rc;

	if (!parse_args(c, &a, 0, 0, r))
		return;
	if ((rc = dp_shared_begin(&s->index, &q))) {
		index_error(r, rc);
		return;
	}
	rc = dp_shared_change(&q, &s->index, &change);
	dp_shared_end(&s->index, &q);
	char *index_json = dp_shared_freshness(&s->index);
	dp_buf_append(&b, "{\"change\": ", 11);
	if (!rc)
		dp_json_string(&b, change.data, change.len);
	dp_buf_printf(&b, ",\n\"index\": %s}\n", index_json ? index_json : "null");
	free(index_json);
	dp_buf_free(&change);
	if (rc || b.failed) {
		dp_buf_free(&b);
		dp_reply_error(r, 503, NULL, "out of memory");
		return;
	}
	r->status = 200;
	r->type = "application/json";
	r->body = b.data;
	r->len = b.len;
}

/* ---- export: a document as long as the dataflow, streamed ----------------------------------- */

/* The export runs in a thread of its own writing into a pipe; the
 * connection reads the other end.  Whoever finishes last frees the job. */
typedef struct export_job {
	dp_server *s;
	pthread_mutex_t lock;
	pthread_cond_t done_cond;
	int refs;
	bool done;
	int rc;
	char err[1024];
	bool expired;
	int rfd, wfd;
	char *df, *where;
	char **tasks;
	size_t ntasks;
	dp_prov_format format;
	char first[65536]; /* read before the status is chosen */
	size_t first_len, first_sent;
} export_job;

static void job_release(export_job *j)
{
	pthread_mutex_lock(&j->lock);
	int left = --j->refs;
	pthread_mutex_unlock(&j->lock);
	if (left)
		return;
	if (j->rfd >= 0)
		close(j->rfd);
	pthread_mutex_destroy(&j->lock);
	pthread_cond_destroy(&j->done_cond);
	for (size_t i = 0; i < j->ntasks; i++)
		free(j->tasks[i]);
	free(j->tasks);
	free(j->df);
	free(j->where);
	free(j);
}

static void *export_main(void *arg)
{
	export_job *j = arg;
	dp_query q;
	int rc;
	FILE *f = fdopen(j->wfd, "w");

	if (!f) {
		close(j->wfd);
		rc = dp_error_errno(errno, "cannot write the export");
	} else if ((rc = dp_shared_begin(&j->s->index, &q)) == 0) {
		dp_prov_options o = { .df = j->df, .tasks = (const char *const *)j->tasks, .ntasks = j->ntasks,
				      .where = j->where, .format = j->format };
		rc = dp_prov_export(&q, &o, f);
		dp_shared_end(&j->s->index, &q);
	}
	if (f)
		fclose(f); /* the reader sees the end */
	pthread_mutex_lock(&j->lock);
	j->rc = rc;
	if (rc)
		snprintf(j->err, sizeof(j->err), "%s", dnnprov_errmsg() && *dnnprov_errmsg() ? dnnprov_errmsg()
											: dnnprov_strerror(rc));
	j->done = true;
	pthread_cond_signal(&j->done_cond);
	pthread_mutex_unlock(&j->lock);
	job_release(j);
	return NULL;
}

static ssize_t read_all(int fd, char *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t k = read(fd, buf + got, n - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return got ? (ssize_t)got : -1;
		if (k == 0)
			break;
		got += (size_t)k;
	}
	return (ssize_t)got;
}

static ssize_t export_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	export_job *j = cls;
	(void)pos;
	if (j->first_sent < j->first_len) {
		size_t n = j->first_len - j->first_sent < max ? j->first_len - j->first_sent : max;
		memcpy(buf, j->first + j->first_sent, n);
		j->first_sent += n;
		return (ssize_t)n;
	}
	ssize_t n;
	do
		n = read(j->rfd, buf, max);
	while (n < 0 && errno == EINTR);
	if (n > 0)
		return n;
	pthread_mutex_lock(&j->lock);
	while (!j->done)
		pthread_cond_wait(&j->done_cond, &j->lock);
	int rc = j->rc;
	pthread_mutex_unlock(&j->lock);
	/* A failure after the first bytes can only cut the stream: the chunked
	 * encoding's missing end tells the client it is incomplete. */
	return rc || n < 0 ? MHD_CONTENT_READER_END_WITH_ERROR : MHD_CONTENT_READER_END_OF_STREAM;
}

static void export_free(void *cls)
{
	export_job *j = cls;
	close(j->rfd); /* a writer still exporting gets EPIPE and stops */
	j->rfd = -1;
	job_release(j);
}

static void answer_export(dp_server *s, struct MHD_Connection *c, dp_reply *r)
{
	args a = { .many_tasks = true };
	export_job *j = NULL;
	const char *fmt;
	int fds[2] = { -1, -1 };
	pthread_t th;
	int err;

	if (!parse_args(c, &a, P_DF | P_TASK | P_WHERE | P_FORMAT, 0, r))
		goto out;
	const char *df = arg(&a, P_DF) ? arg(&a, P_DF) : s->o.dataflow;
	if (!df) {
		dp_reply_error(r, 400, "df", "df is missing: which dataflow (GET /api/dataflows lists them)");
		goto out;
	}
	if (!(j = calloc(1, sizeof(*j)))) {
		dp_reply_error(r, 503, NULL, "out of memory");
		goto out;
	}
	j->rfd = j->wfd = -1;
	fmt = arg(&a, P_FORMAT) ? arg(&a, P_FORMAT) : "prov-json";
	if (dp_prov_format_parse(fmt, &j->format)) {
		dp_reply_error(r, 400, "format", "format: %s", dnnprov_errmsg());
		goto fail;
	}
	j->s = s;
	j->df = strdup(df);
	j->where = arg(&a, P_WHERE) ? strdup(arg(&a, P_WHERE)) : NULL;
	j->tasks = calloc(a.ntasks + 1, sizeof(char *));
	bool copied = j->df && j->tasks && (!arg(&a, P_WHERE) || j->where);
	for (size_t i = 0; copied && i < a.ntasks; i++)
		copied = (j->tasks[j->ntasks++] = strdup(a.tasks[i])) != NULL;
	if (!copied || pipe2(fds, O_CLOEXEC) != 0) {
		dp_reply_error(r, 503, NULL, "cannot start the export: %s", copied ? strerror(errno) : "out of memory");
		goto fail;
	}
	j->rfd = fds[0];
	j->wfd = fds[1];
	pthread_mutex_init(&j->lock, NULL);
	pthread_cond_init(&j->done_cond, NULL);
	j->refs = 2; /* this connection and the thread */
	if ((err = pthread_create(&th, NULL, export_main, j))) {
		close(fds[1]);
		j->refs = 1;
		dp_reply_error(r, 503, NULL, "cannot start the export: %s", strerror(err));
		job_release(j);
		goto out;
	}
	pthread_detach(th);
	/* The first bytes, or the end: a dataflow or task that does not exist
	 * fails before anything is written, and gets its status. */
	ssize_t n = read_all(j->rfd, j->first, sizeof(j->first));
	if (n <= 0) {
		pthread_mutex_lock(&j->lock);
		while (!j->done)
			pthread_cond_wait(&j->done_cond, &j->lock);
		pthread_mutex_unlock(&j->lock);
		if (j->rc) {
			dp_error(j->rc, "%s", j->err);
			dp_qopts o = { .df = j->df, .where = j->where };
			query_error(s, r, j->rc, NULL, &o);
			job_release(j);
			goto out;
		}
	}
	j->first_len = n > 0 ? (size_t)n : 0;
	r->stream = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 65536, export_read, j, export_free);
	if (!r->stream) {
		dp_reply_error(r, 503, NULL, "out of memory");
		job_release(j);
		goto out;
	}
	r->status = 200;
	r->type = j->format == DP_PROV_N ? "text/provenance-notation; charset=utf-8" : "application/json";
	file_name(r->disposition, sizeof(r->disposition), df, "prov", j->format == DP_PROV_N ? "provn" : "json");
	goto out;
fail:
	free(j->df);
	free(j->where);
	for (size_t i = 0; i < j->ntasks; i++)
		free(j->tasks[i]);
	free(j->tasks);
	free(j);
out:
	free(a.tasks);
}

/* ---- SQL: one read-only statement, time-bounded --------------------------------------------- */

/* Why a statement failed: SQLite's message, and what the authorizer
 * refused, if it did. */
static void statement_error(dp_buf *msg, sqlite3 *db, dp_sql *sql)
{
	const char *denied = dp_sql_denied(sql);
	if (denied && strncmp(denied, "the function ", 13) == 0)
		dp_buf_printf(msg, "%s: %s is not one the server allows (docs/SQL.md lists them)", sqlite3_errmsg(db),
			      denied);
	else if (sqlite3_errcode(db) == SQLITE_AUTH || denied)
		dp_buf_printf(msg, "%s%s%s: the server is read-only (no writes but to temp, no ATTACH of a file, no "
				   "extensions, no settings)", sqlite3_errmsg(db), denied ? ": " : "", denied ? denied : "");
	else
		dp_buf_printf(msg, "%s", sqlite3_errmsg(db));
}

/* The members after "rows" of an SQL answer in JSON: "index", and
 * "notes" when the attach could not create a table of a dataflow too wide
 * for SQLite (one string per note).  As one text for dp_rowout_end, which
 * writes it as the value of "index". */
static int answer_trailer(dp_buf *b, const char *index_json, const char *notes)
{
	dp_buf_printf(b, "%s", index_json ? index_json : "null");
	if (*notes) {
		dp_buf_append(b, ",\n\"notes\": [", 12);
		for (const char *p = notes; *p; p += strcspn(p, "\n") + 1) {
			if (p != notes)
				dp_buf_append(b, ", ", 2);
			dp_json_string(b, p, strcspn(p, "\n"));
		}
		dp_buf_putc(b, ']');
	}
	return b->failed ? dp_error(DNNPROV_ENOMEM, "out of memory") : 0;
}

/* GET /api/sql?q=SELECT...: the statement on the SQL tables of the index
 * (docs/SQL.md), as `dnnprov sql --format json` answers it, on a fresh
 * connection over this request's snapshot: read-only by the module's
 * authorizer, stopped at the server's time limit, at most max_rows rows
 * (a longer answer is cut, and says so in X-Dnnprov-Rows-Cut). */
static void answer_sql(dp_server *s, struct MHD_Connection *c, dp_reply *r)
{
	args a = { 0 };
	dp_qopts o;
	dp_format fmt;
	dp_query q;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	dp_sql *sql;
	dp_table t = { 0 };
	dp_rowout w = { 0 };
	dp_qv *cells = NULL;
	dp_buf *hex = NULL, msg = { 0 }, trailer = { 0 };
	char *body = NULL, *index_json = NULL;
	size_t len = 0, rows = 0;
	FILE *f = NULL;
	int rc, src = SQLITE_OK, ncols = 0;

	if (!parse_args(c, &a, P_Q | P_DF | P_FORMAT, P_Q, r))
		goto out_args;
	a.allowed &= ~P_DF; /* optional here: the views' dataflow */
	if (!options(s, &a, &o, &fmt)) {
		dp_reply_error(r, 400, a.bad, "%s", a.why);
		goto out_args;
	}
	const char *text = arg(&a, P_Q), *df = arg(&a, P_DF) ? arg(&a, P_DF) : s->o.dataflow;
	if ((rc = dp_shared_begin(&s->index, &q))) {
		index_error(r, rc);
		goto out_args;
	}
	if (sqlite3_open(":memory:", &db) != SQLITE_OK || (rc = dp_sql_register(db, &sql)) ||
	    (rc = dp_sql_attach_snapshot(sql, q.ix, q.txn, df)) ||
	    (rc = dp_sql_restrict(sql, s->request_seconds, DP_SQL_MAX_VALUE))) {
		if (!db || rc == 0)
			dp_reply_error(r, 503, NULL, "cannot open SQLite: out of memory");
		else
			query_error(s, r, rc, NULL, &o);
		goto out;
	}
	dp_sql_statement_begin(sql);
	const char *tail = NULL;
	if (sqlite3_prepare_v2(db, text, -1, &st, &tail) != SQLITE_OK || !st) {
		int at = sqlite3_error_offset(db);
		if (st || sqlite3_errcode(db) != SQLITE_OK)
			statement_error(&msg, db, sql);
		else
			dp_buf_printf(&msg, "no statement");
		dp_buf_printf(&msg, "%s", at >= 0 ? "\n" : "");
		dp_sql_position(&msg, text, at);
		dp_reply_error(r, 400, "q", "%s", dp_buf_cstr(&msg) ? dp_buf_cstr(&msg) : "invalid statement");
		goto out;
	}
	if (tail && tail[strspn(tail, " \t\r\n;")]) {
		dp_reply_error(r, 400, "q", "one statement at a time: '%.60s' follows it", tail + strspn(tail, " \t\r\n;"));
		goto out;
	}
	if ((ncols = sqlite3_column_count(st)) == 0) {
		dp_reply_error(r, 400, "q", "the statement returns no rows: ask with SELECT (the server is read-only)");
		goto out;
	}
	cells = calloc((size_t)ncols, sizeof(dp_qv));
	hex = calloc((size_t)ncols, sizeof(dp_buf));
	if (!cells || !hex || dp_table_init(&t, (size_t)ncols)) {
		dp_reply_error(r, 503, NULL, "out of memory");
		goto out;
	}
	for (int i = 0; i < ncols; i++) {
		const char *name = sqlite3_column_name(st, i);
		dp_table_set_col(&t, (size_t)i, name ? name : "", dp_sql_column_kind(st, i));
	}
	if (!(f = open_memstream(&body, &len)) || (rc = dp_rowout_begin(&w, &t, fmt, f, 0))) {
		dp_reply_error(r, 503, NULL, "out of memory");
		goto out;
	}
	bool too_long = false;
	while (rows < s->max_rows && (src = sqlite3_step(st)) == SQLITE_ROW) {
		if ((rc = dp_sql_row(st, ncols, cells, hex)) || (rc = dp_rowout_row(&w, cells)))
			break;
		rows++;
		/* The answer is held until it is sent: bounded, and its
		 * rendering counts against the time limit (SQLite checks it
		 * only while it steps). */
		off_t at = ftello(f);
		if ((too_long = at < 0 || (size_t)at > DP_SERVE_MAX_ANSWER) || dp_sql_past_deadline(sql)) {
			src = SQLITE_INTERRUPT;
			break;
		}
	}
	bool cut = src == SQLITE_ROW && rows == s->max_rows && sqlite3_step(st) == SQLITE_ROW;
	if (rc) {
		dp_reply_error(r, 503, NULL, "out of memory");
		goto out;
	}
	if (too_long) {
		dp_reply_error(r, 400, "q", "the answer passed the server's limit of %u MiB at row %zu: select fewer "
					    "rows or columns, or shorter values (the CLI streams any length)",
			       DP_SERVE_MAX_ANSWER >> 20, rows);
		goto out;
	} else if (src == SQLITE_INTERRUPT && dp_sql_timed_out(sql)) {
		dp_reply_error(r, 503, NULL, "the statement ran past the server's time limit of %g s and was stopped",
			       s->request_seconds);
		goto out;
	} else if (!cut && src != SQLITE_ROW && src != SQLITE_DONE) {
		statement_error(&msg, db, sql);
		dp_reply_error(r, 400, "q", "%s", dp_buf_cstr(&msg) ? dp_buf_cstr(&msg) : "the statement failed");
		goto out;
	}
	index_json = dp_shared_freshness(&s->index);
	if ((rc = answer_trailer(&trailer, index_json, dp_sql_notes(sql))) ||
	    (rc = dp_rowout_end(&w, dp_buf_cstr(&trailer))) || fflush(f) != 0) {
		dp_reply_error(r, 503, NULL, "out of memory writing the answer");
		goto out;
	}
	fclose(f);
	f = NULL;
	r->status = 200;
	r->body = body;
	r->len = len;
	body = NULL;
	r->type = fmt == FMT_CSV ? "text/csv; charset=utf-8" : "application/json";
	if (fmt == FMT_CSV)
		file_name(r->disposition, sizeof(r->disposition), df, "sql", "csv");
	if (cut)
		snprintf(r->extra, sizeof(r->extra), "%zu", rows);
out:
	if (f)
		fclose(f);
	free(body);
	free(index_json);
	dp_rowout_free(&w);
	dp_table_free(&t);
	for (int i = 0; hex && i < ncols; i++)
		dp_buf_free(&hex[i]);
	free(hex);
	free(cells);
	dp_buf_free(&msg);
	dp_buf_free(&trailer);
	sqlite3_finalize(st);
	if (db) {
		dp_sql_statement_done(sql);
		sqlite3_close(db); /* detaches: the snapshot stays this request's */
	}
	dp_shared_end(&s->index, &q);
out_args:
	free(a.tasks);
}

/* ---- dispatch ------------------------------------------------------------------------------ */

void dp_api_answer(dp_server *s, struct MHD_Connection *c, const char *name, dp_reply *r)
{
	char list[512];
	size_t at = 0;

	memset(r, 0, sizeof(*r));
	for (size_t i = 0; i < DP_ARRAY_LEN(endpoints); i++)
		if (strcmp(name, endpoints[i].name) == 0) {
			answer_command(s, c, &endpoints[i], r);
			return;
		}
	if (strcmp(name, "changes") == 0) {
		answer_changes(s, c, r);
		return;
	}
	if (strcmp(name, "export") == 0) {
		answer_export(s, c, r);
		return;
	}
	if (strcmp(name, "sql") == 0) {
		answer_sql(s, c, r);
		return;
	}
	for (size_t i = 0; i < DP_ARRAY_LEN(endpoints); i++)
		at += (size_t)snprintf(list + at, sizeof(list) - at, "%s, ", endpoints[i].name);
	snprintf(list + at, sizeof(list) - at, "changes, export, sql");
	dp_reply_error(r, 404, NULL, "no endpoint /api/%.64s (endpoints: %s)", name, list);
}
