/*
 * api.c - the public query interface (include/dnnprov.h, "Questions"):
 * an index opened read-only, the registry's questions asked by name with
 * their parameters as text, answers as the command line prints them.  The
 * Python package asks its questions through it (python/dnnprov/query.py);
 * dnnprov_index_sql() is in sql/api.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/registry.h"
#include "query/snapshots.h"

void dnnprov_free(void *p)
{
	free(p);
}

int dnnprov_index_open(const char *index_dir, const char *log_dir, dnnprov_index **out)
{
	dnnprov_index *ix;
	dp_query q;
	int rc;

	dp_error_clear();
	if (!index_dir || !out)
		return dp_error(DNNPROV_EINVAL, "dnnprov_index_open: index_dir and out are required");
	*out = NULL;
	if (!(ix = calloc(1, sizeof(*ix))))
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	if ((rc = dp_snapshots_init(&ix->snaps, index_dir, log_dir))) {
		free(ix);
		return rc;
	}
	/* A first snapshot: an index that is not there fails here, not at
	 * the first question. */
	if ((rc = dp_snapshots_begin(&ix->snaps, &q))) {
		dnnprov_index_close(ix);
		return rc;
	}
	dp_snapshots_end(&ix->snaps, &q);
	*out = ix;
	return 0;
}

void dnnprov_index_close(dnnprov_index *ix)
{
	if (!ix)
		return;
	dp_snapshots_free(&ix->snaps);
	free(ix);
}

int dnnprov_questions_json(char **out, size_t *len)
{
	dp_buf b = { 0 };
	int rc;
	dp_error_clear();
	if (!out)
		return dp_error(DNNPROV_EINVAL, "dnnprov_questions_json: out is required");
	if ((rc = dp_registry_json(&b)) || !dp_buf_cstr(&b)) {
		dp_buf_free(&b);
		return rc ? rc : dp_error(DNNPROV_ENOMEM, "out of memory");
	}
	*out = b.data;
	if (len)
		*len = b.len;
	return 0;
}

int dp_api_args(const char *call, const dnnprov_index *ix, const char *text, char **out, size_t n,
		const void *params, dnnprov_format format, dp_format *fmt)
{
	dp_error_clear();
	if (!ix || !text || !out || (n && !params))
		return dp_error(DNNPROV_EINVAL, "%s: its index, text, out and params are required", call);
	*out = NULL;
	if ((unsigned)format > DNNPROV_FORMAT_TABLE)
		return dp_error_subject(DNNPROV_EINVAL, "format", "%s: unknown format %d", call, (int)format);
	*fmt = format == DNNPROV_FORMAT_CSV ? FMT_CSV : format == DNNPROV_FORMAT_TABLE ? FMT_TABLE : FMT_JSON;
	return 0;
}

/* The answer as text in *out: the table in its format, and for the table
 * format the notes and the freshness line the command line prints. */
static int render(dp_query *q, const dp_snapshots *sn, const dp_ask *a, dp_table *t, const dp_qnotes *notes,
		  dp_format fmt, char **out, size_t *len)
{
	dp_freshness f;
	dp_buf json = { 0 }, note = { 0 };
	FILE *mem;
	int rc;

	if ((rc = dp_query_freshness(q, sn->dir, sn->log_dir, a->o->df, a->o->task, &f)) ||
	    (rc = dp_freshness_json(&f, &json)) || (rc = dp_freshness_note(&f, &note)))
		goto out;
	if (!(mem = open_memstream(out, len))) {
		rc = dp_error(DNNPROV_ENOMEM, "out of memory");
		goto out;
	}
	rc = dp_table_write(t, fmt, mem, 0, json.len ? dp_buf_cstr(&json) : NULL);
	if (!rc && fmt == FMT_TABLE) {
		fwrite(notes->text.data ? notes->text.data : "", 1, notes->text.len, mem);
		fwrite(note.data ? note.data : "", 1, note.len, mem);
	}
	if (fclose(mem) != 0 && !rc)
		rc = dp_error(DNNPROV_ENOMEM, "out of memory");
	if (rc) {
		free(*out);
		*out = NULL;
	}
out:
	dp_buf_free(&json);
	dp_buf_free(&note);
	return rc;
}

/* The answer of an index with no dataflow yet, as the CLI prints it. */
static int empty_answer(dp_format fmt, char **out, size_t *len)
{
	const char *text = fmt == FMT_JSON ? "{\"columns\": [],\n\"rows\": []}\n" : "";
	*out = strdup(text);
	*len = strlen(text);
	return *out ? 0 : dp_error(DNNPROV_ENOMEM, "out of memory");
}

int dnnprov_index_ask(dnnprov_index *ix, const char *question, const char *const *params, size_t n,
		      dnnprov_format format, char **out, size_t *len)
{
	const dp_question *qn;
	dp_ask a = { 0 };
	dp_query q;
	dp_table t = { 0 };
	dp_qnotes notes = { 0 };
	dp_format fmt;
	size_t got = 0;
	int rc;

	if ((rc = dp_api_args("dnnprov_index_ask", ix, question, out, n, params, format, &fmt)))
		return rc;
	if (!(qn = dp_question_find(question))) {
		dp_buf list = { 0 };
		for (size_t i = 0; i < dp_question_count(); i++)
			dp_buf_printf(&list, "%s%s", i ? ", " : "", dp_question_at(i)->name);
		rc = dp_error_subject(DNNPROV_EQUERY, "question", "unknown question '%.64s' (questions: %s)", question,
				      dp_buf_cstr(&list) ? dp_buf_cstr(&list) : "");
		dp_buf_free(&list);
		return rc;
	}
	if ((rc = dp_ask_init(&a, qn, DP_FRONT_API)))
		return rc;
	for (size_t i = 0; i < n && !rc; i++) {
		const char *name = params[2 * i], *value = params[2 * i + 1];
		if (!name)
			rc = dp_error(DNNPROV_EINVAL, "dnnprov_index_ask: parameter %zu has no name", i + 1);
		else if (value) /* NULL: the default, as a parameter not given */
			rc = dp_ask_set(&a, name, value);
	}
	if (rc || (rc = dp_ask_check(&a)) || (rc = dp_snapshots_begin(&ix->snaps, &q)))
		goto out;
	rc = dp_ask_run(&a, &q, &t, &notes);
	if (rc == DP_ASK_EMPTY)
		rc = empty_answer(fmt, out, &got);
	else if (rc == 0)
		rc = render(&q, &ix->snaps, &a, &t, &notes, fmt, out, &got);
	dp_snapshots_end(&ix->snaps, &q);
	if (rc == 0) {
		dp_error_clear(); /* a success leaves no earlier failure's detail */
		if (len)
			*len = got;
	}
out:
	dp_table_free(&t);
	dp_buf_free(&notes.text);
	dp_ask_free(&a);
	return rc;
}
