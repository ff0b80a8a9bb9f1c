/*
 * api.c - /api/NAME?PARAMS: the questions of the registry over HTTP, and
 * export, SQL and the change key the page polls.
 *
 * /api/QUESTION takes the parameters the registry offers HTTP for that
 * question (query/registry.h: df for the dataflow, task, where, ...) and
 * format=json|csv; the answer is the table the same question fills,
 * rendered by the same dp_table_write as `--format json` (or csv).  So an
 * answer and the CLI's for the same question are the same bytes, bar
 * "index", which the server refreshes in the background (snapshot.c).
 *
 * Bad input is a 400 naming the parameter ({"error", "parameter"}); an
 * unknown dataflow, task, metric... a 404 naming it: the parameter is the
 * one the library's error is about (dnnprov_errsubject).  No index, or a
 * query past its deadline, a 503.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "query/prov.h"
#include "query/registry.h"
#include "serve/internal.h"
#include "sql/sql.h"

/* ---- parameters ------------------------------------------------------------------------ */

/* The query string's parameters as given.  A question's go one by one to
 * its ask, which parses and checks them (query/registry.h); the other
 * endpoints read theirs by name. */
typedef struct params {
	struct {
		const char *key, *value; /* libmicrohttpd keeps them for the request */
	} *p;
	size_t n;
	char bad[65];  /* a parameter that cannot be read: its name */
	char why[160];
} params;

static enum MHD_Result collect(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
			       const char *value, size_t value_size)
{
	params *l = cls;
	(void)kind;
	if (l->bad[0])
		return MHD_NO;
	if (memchr(key, '\0', key_size) || !value || memchr(value, '\0', value_size)) {
		snprintf(l->bad, sizeof(l->bad), "%.*s", (int)strnlen(key, key_size > 64 ? 64 : key_size), key);
		snprintf(l->why, sizeof(l->why), "%s: %s", l->bad, value ? "a value holds a NUL byte" : "no value");
		return MHD_NO;
	}
	void *g = realloc(l->p, (l->n + 1) * sizeof(*l->p));
	if (!g) {
		snprintf(l->bad, sizeof(l->bad), "%.*s", (int)(key_size > 64 ? 64 : key_size), key);
		snprintf(l->why, sizeof(l->why), "out of memory");
		return MHD_NO;
	}
	l->p = g;
	l->p[l->n].key = key;
	l->p[l->n++].value = value;
	return MHD_YES;
}

/* Reads the request's parameters; false after replying 400 when one
 * cannot be read. */
static bool read_params(struct MHD_Connection *c, params *l, dp_reply *r)
{
	memset(l, 0, sizeof(*l));
	MHD_get_connection_values_n(c, MHD_GET_ARGUMENT_KIND, collect, l);
	if (l->bad[0])
		dp_reply_error(r, 400, l->bad, "%s", l->why);
	return !l->bad[0];
}

/* For the endpoints that are not questions: every parameter is one of
 * `allowed` (NULL-terminated), and only `repeats` may come twice; false
 * after replying 400 naming the one that is not. */
static bool check_params(const params *l, const char *const *allowed, const char *repeats, dp_reply *r)
{
	for (size_t i = 0; i < l->n; i++) {
		const char *k = l->p[i].key;
		size_t a = 0;
		while (allowed[a] && strcmp(allowed[a], k) != 0)
			a++;
		if (!allowed[a]) {
			char list[160] = "none";
			for (size_t j = 0, at = 0; allowed[j] && at < sizeof(list); j++)
				at += (size_t)snprintf(list + at, sizeof(list) - at, "%s%s", j ? ", " : "", allowed[j]);
			dp_reply_error(r, 400, k, "unknown parameter '%.64s' (this endpoint takes: %s)", k, list);
			return false;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(l->p[j].key, k) == 0 && !(repeats && strcmp(k, repeats) == 0)) {
				dp_reply_error(r, 400, k, "%s is given twice", k);
				return false;
			}
	}
	return true;
}

/* The value of parameter `name`, or NULL. */
static const char *param(const params *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->p[i].key, name) == 0)
			return l->p[i].value;
	return NULL;
}

/* The HTTP name of what an error is about (the registry's "dataflow" is
 * the API's df); NULL when it is about nothing the request named. */
static const char *http_param(const char *subject)
{
	if (!subject || !*subject)
		return NULL;
	return strcmp(subject, "dataflow") == 0 ? "df" : subject;
}

/* json (the default) or csv: false after replying 400. */
static bool answer_format(const char *text, dp_format *fmt, dp_reply *r)
{
	*fmt = FMT_JSON;
	if (!text || strcmp(text, "json") == 0)
		return true;
	if (strcmp(text, "csv") == 0) {
		*fmt = FMT_CSV;
		return true;
	}
	dp_reply_error(r, 400, "format", "format is json or csv, not '%.40s'", text);
	return false;
}

/* ---- errors ---------------------------------------------------------------------------- */

/* The reply for a library error rc of a query on q: what it is about is
 * the library's subject (dnnprov_errsubject), never guessed from the
 * message. */
static void query_error(dp_server *s, dp_reply *r, int rc, const dp_query *q)
{
	const char *d = dnnprov_errmsg(), *about = http_param(dnnprov_errsubject());
	if (!d || !*d)
		d = dnnprov_strerror(rc);
	if (q && q->expired)
		dp_reply_error(r, 503, NULL, "the query ran past the server's time limit of %g s: narrow it (where, limit)",
			       s->request_seconds);
	else if (rc == DNNPROV_ENOTFOUND)
		dp_reply_error(r, 404, about, "%s", d);
	else if (rc == DNNPROV_EQUERY)
		dp_reply_error(r, 400, about, "%s", d);
	else if (rc == DNNPROV_ENOMEM)
		dp_reply_error(r, 503, NULL, "%s", d);
	else
		dp_reply_error(r, 500, NULL, "%s", d);
}

/* A 404 about a task (a parameter of type task): the ids it may have
 * meant, as "did_you_mean": [...] beside the error, so that a page offers
 * them as links. */
static void suggest_tasks(dp_reply *r, dp_query *q, const dp_ask *a)
{
	const char *subject = dnnprov_errsubject(), *near[5];
	const dp_param *p = subject && *subject ? dp_question_param(a->qn, subject, DP_FRONT_API) : NULL;
	const char *given = p && p->type == DP_PT_TASK && a->given[p - a->qn->params]
				    ? *(const char **)dp_param_field(p, a->o) : NULL;
	dp_buf b = { 0 };
	size_t n = 0;

	if (r->status != 404 || !given || !a->o->df || !r->body || r->len < 2 ||
	    dp_task_suggest(q, a->o->df, given, near, DP_ARRAY_LEN(near), &n) || !n)
		return;
	dp_buf_append(&b, r->body, r->len - 2); /* the error without its "}\n" */
	dp_buf_printf(&b, ", \"did_you_mean\": [");
	for (size_t i = 0; i < n; i++) {
		dp_buf_printf(&b, "%s", i ? ", " : "");
		dp_json_string(&b, near[i], strlen(near[i]));
	}
	dp_buf_printf(&b, "]}\n");
	if (b.failed) {
		dp_buf_free(&b);
		return;
	}
	free(r->body);
	r->body = b.data;
	r->len = b.len;
}

/* No index (yet), a damaged one...: what the CLI would say, as a 503. */
static void index_error(dp_reply *r, int rc)
{
	const char *d = dnnprov_errmsg();
	dp_reply_error(r, 503, NULL, "%s", d && *d ? d : dnnprov_strerror(rc));
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

/* Cuts a longer answer at the server's cap on rows; it then says "total". */
static void cap_rows(dp_table *t, size_t max)
{
	if (t->nrows <= max)
		return;
	if (!t->paged)
		t->total = t->nrows;
	t->paged = true;
	dp_table_truncate(t, max);
}

/* The question's parameters from the query string, through the registry,
 * and the server's own bounds; false after replying. */
static bool ask_params(dp_server *s, const params *l, dp_ask *a, dp_format *fmt, dp_reply *r)
{
	const char *format = NULL;
	for (size_t i = 0; i < l->n; i++) {
		if (strcmp(l->p[i].key, "format") == 0) {
			if (format) {
				dp_reply_error(r, 400, "format", "format is given twice");
				return false;
			}
			format = l->p[i].value;
		} else if (dp_ask_set(a, l->p[i].key, l->p[i].value)) {
			/* About the parameter as the request names it. */
			dp_reply_error(r, 400, l->p[i].key, "%s", dnnprov_errmsg());
			return false;
		}
	}
	if (!answer_format(format, fmt, r))
		return false;
	if (a->o->limit > 0 && (size_t)a->o->limit > s->max_rows) {
		dp_reply_error(r, 400, "limit", "limit takes a whole number from 0 to %zu (rows per answer), not %lld",
			       s->max_rows, (long long)a->o->limit);
		return false;
	}
	if (!a->o->df)
		a->o->df = s->o.dataflow; /* the config's, as with -c on the command line */
	return true;
}

static void answer_question(dp_server *s, struct MHD_Connection *c, const dp_question *qn, dp_reply *r)
{
	params l;
	dp_ask a = { 0 };
	dp_format fmt;
	dp_query q;
	dp_table t = { 0 };
	dp_qnotes notes = { 0 };
	char *index_json = NULL, *body = NULL;
	size_t len = 0;
	int rc;

	if (!read_params(c, &l, r))
		goto out_args;
	if ((rc = dp_ask_init(&a, qn, DP_FRONT_HTTP))) {
		dp_reply_error(r, 503, NULL, "out of memory");
		goto out_args;
	}
	if (!ask_params(s, &l, &a, &fmt, r))
		goto out_args;
	if ((rc = dp_shared_begin(&s->index, &q))) {
		index_error(r, rc);
		goto out_args;
	}
	q.deadline = dp_monotonic() + s->request_seconds;
	/* dp_ask_run checks the answer whole: a read that failed inside a
	 * lookup is an error, not a missing value (as the CLI checks it). */
	if ((rc = dp_ask_run(&a, &q, &t, &notes)) == DP_ASK_EMPTY) {
		/* As the CLI: an empty answer (its note goes to stderr there). */
		static const char none[] = "{\"columns\": [],\n\"rows\": []}\n";
		r->status = 200;
		r->type = "application/json";
		r->body = strdup(none);
		r->len = r->body ? strlen(none) : 0;
		goto out;
	}
	if (rc) {
		query_error(s, r, rc, &q);
		suggest_tasks(r, &q, &a);
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
		file_name(r->disposition, sizeof(r->disposition), a.o->df, qn->name, "csv");
out:
	free(index_json);
	dp_table_free(&t);
	dp_buf_free(&notes.text);
	dp_shared_end(&s->index, &q);
out_args:
	dp_ask_free(&a);
	free(l.p);
}

/* GET /api/changes: what the page polls to know that the index changed
 * (a commit, a reindex), with the index's freshness. */
static void answer_changes(dp_server *s, struct MHD_Connection *c, dp_reply *r)
{
	static const char *const none[] = { NULL };
	params l;
	dp_query q;
	dp_buf b = { 0 }, change = { 0 };
	int rc;

	if (!read_params(c, &l, r))
		return;
	bool ok = check_params(&l, none, NULL, r);
	free(l.p);
	if (!ok)
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
	char subject[64]; /* what the error is about (dnnprov_errsubject) */
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
	if (rc) {
		snprintf(j->err, sizeof(j->err), "%s", dnnprov_errmsg() && *dnnprov_errmsg() ? dnnprov_errmsg()
											: dnnprov_strerror(rc));
		snprintf(j->subject, sizeof(j->subject), "%s", dnnprov_errsubject());
	}
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
	static const char *const allowed[] = { "df", "task", "where", "format", NULL };
	params l;
	export_job *j = NULL;
	const char *fmt;
	char *only = NULL;
	int fds[2] = { -1, -1 };
	pthread_t th;
	int err, rc;

	if (!read_params(c, &l, r) || !check_params(&l, allowed, "task", r))
		goto out;
	const char *df = param(&l, "df") ? param(&l, "df") : s->o.dataflow;
	if (!df) {
		/* The only dataflow in the index, as the questions take it. */
		dp_query q;
		if ((rc = dp_shared_begin(&s->index, &q))) {
			index_error(r, rc);
			goto out;
		}
		rc = dp_query_only_dataflow(&q, &only);
		if (rc == DP_ASK_EMPTY)
			rc = dp_error_subject(DNNPROV_ENOTFOUND, "dataflow", "the index holds no dataflow yet");
		if (rc)
			query_error(s, r, rc, &q);
		dp_shared_end(&s->index, &q);
		if (rc)
			goto out;
		df = only;
	}
	if (!(j = calloc(1, sizeof(*j)))) {
		dp_reply_error(r, 503, NULL, "out of memory");
		goto out;
	}
	j->rfd = j->wfd = -1;
	fmt = param(&l, "format") ? param(&l, "format") : "prov-json";
	if (dp_prov_format_parse(fmt, &j->format)) {
		dp_reply_error(r, 400, "format", "format: %s", dnnprov_errmsg());
		goto fail;
	}
	j->s = s;
	j->df = strdup(df);
	j->where = param(&l, "where") ? strdup(param(&l, "where")) : NULL;
	j->tasks = calloc(l.n + 1, sizeof(char *));
	bool copied = j->df && j->tasks && (!param(&l, "where") || j->where);
	for (size_t i = 0; copied && i < l.n; i++)
		if (strcmp(l.p[i].key, "task") == 0)
			copied = (j->tasks[j->ntasks++] = strdup(l.p[i].value)) != NULL;
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
			dp_error_subject(j->rc, j->subject, "%s", j->err);
			query_error(s, r, j->rc, NULL);
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
	free(only);
	free(l.p);
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

/* GET /api/sql?q=SELECT...: the statement on the SQL tables of the index
 * (docs/SQL.md), as `dnnprov sql --format json` answers it, on a fresh
 * connection over this request's snapshot: read-only by the module's
 * authorizer, stopped at the server's time limit, at most max_rows rows
 * (a longer answer is cut, and says so in X-Dnnprov-Rows-Cut). */
static void answer_sql(dp_server *s, struct MHD_Connection *c, dp_reply *r)
{
	static const char *const allowed[] = { "q", "df", "format", NULL };
	params l;
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

	if (!read_params(c, &l, r) || !check_params(&l, allowed, NULL, r) || !answer_format(param(&l, "format"), &fmt, r))
		goto out_args;
	/* df is optional here: the views' dataflow. */
	const char *text = param(&l, "q"), *df = param(&l, "df") ? param(&l, "df") : s->o.dataflow;
	if (!text) {
		dp_reply_error(r, 400, "q", "q is required: the statement");
		goto out_args;
	}
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
			query_error(s, r, rc, NULL);
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
	if (!cells || !hex || dp_sql_columns(st, &t)) {
		dp_reply_error(r, 503, NULL, "out of memory");
		goto out;
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
	if ((rc = dp_sql_trailer(&trailer, index_json, dp_sql_notes(sql))) ||
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
	free(l.p);
}

/* ---- dispatch ------------------------------------------------------------------------------ */

void dp_api_answer(dp_server *s, struct MHD_Connection *c, const char *name, dp_reply *r)
{
	char list[512];
	size_t at = 0;

	memset(r, 0, sizeof(*r));
	const dp_question *qn = dp_question_find(name);
	if (qn) {
		answer_question(s, c, qn, r);
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
	for (size_t i = 0; i < dp_question_count(); i++)
		at += (size_t)snprintf(list + at, sizeof(list) - at, "%s, ", dp_question_at(i)->name);
	snprintf(list + at, sizeof(list) - at, "changes, export, sql");
	dp_reply_error(r, 404, NULL, "no endpoint /api/%.64s (endpoints: %s)", name, list);
}
