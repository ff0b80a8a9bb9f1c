/*
 * prov.c - the W3C PROV export (prov.h; docs/PROV.md is the mapping).
 *
 * ONE SET OF EMITTERS, TWO FORMATS
 *
 * The emitters below walk the index and call the writer once per
 * statement: st_begin(kind, identifier, formal attributes), then one
 * at_*() per extra attribute, then st_end().  The writer renders the
 * statement as PROV-N or PROV-JSON, or drops it when its kind is not
 * wanted in the current pass.  Both formats therefore say the same thing
 * by construction; tests/prov_check.py checks it with python3-prov.
 *
 * STREAMING
 *
 * Nothing is held per task or per epoch.  PROV-N has no sections: one
 * scan writes each task's statements together.  PROV-JSON is one object
 * per statement type ("entity", "activity", "wasGeneratedBy", ...) whose
 * keys must be unique, so it is written in one pass per type over the same
 * snapshot, and a pass scans only the databases that yield its type: the
 * epochs twice in all ("entity" and "wasGeneratedBy"), the task records
 * once per pass (cheap: one record per task).  A section is opened when
 * its first statement comes, so a document has no empty sections.
 *
 * What stays in memory: the specification (transformations, sets,
 * attributes: the prospective part), the (transformation, set) pairs that
 * have elements, the machine/user agents already written (one per distinct
 * host and user, not per task), and while a task is written the last
 * value entity of each hyperparameter it adapted.  Output goes through a
 * 64 KiB buffer.
 *
 * KEYS OF PROV-JSON
 *
 * Entities, activities and agents are keyed by their identifier; the
 * identifiers are unique by construction (every encoded component is free
 * of '/', and each kind of thing has its own path: docs/PROV.md).  The
 * few prospective names that could repeat (an attribute listed twice, a
 * metric called "epoch") are deduplicated when the specification is
 * loaded.  Relations carry no identifier: their keys are blank-node labels
 * "_:<letter><n>", counted per section in scan order, so they are unique
 * and the same for the same snapshot and selection.
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "logger/record.h"
#include "query/lineage.h"
#include "query/prov.h"
#include "query/rows.h"
#include "util/map.h"

#define NS_PROV "http://www.w3.org/ns/prov#"
#define NS_XSD "http://www.w3.org/2001/XMLSchema#"
#define NS_DNNPROV "https://dnnprov.dev/ns#"
#define NS_DF "https://dnnprov.dev/df/" /* + encoded tag + "/" */
#define NS_MLS "http://www.w3.org/ns/mls#"
/* PROV-ML's class names (Souza et al., 2019), which its authors publish
 * with no namespace IRI: under one of dnnprov's (docs/PROV.md, "Terms"). */
#define NS_PROVML "https://dnnprov.dev/ns/prov-ml#"
#define NS_ENT "https://dnnprov.dev/entity/" /* + algorithm "/" hex: an entity, in every dataflow */
#define SOFTWARE_ID "df:software/dnnprov"
#define FLUSH_AT (64 * 1024)

int dp_prov_format_parse(const char *s, dp_prov_format *out)
{
	if (strcmp(s, "prov-json") == 0)
		*out = DP_PROV_JSON;
	else if (strcmp(s, "prov-n") == 0)
		*out = DP_PROV_N;
	else
		return dp_error_subject(DNNPROV_EQUERY, "format", "unknown format '%s' (prov-json, prov-n)", s);
	return 0;
}

/* ---- statements and the writer ------------------------------------------------------ */

typedef enum st_kind {
	ST_ENTITY,
	ST_ACTIVITY,
	ST_AGENT,
	ST_GENERATION,
	ST_USAGE,
	ST_COMMUNICATION,
	ST_ASSOCIATION,
	ST_DERIVATION,
	ST_INFLUENCE,
	ST_MEMBERSHIP,
	ST_COUNT
} st_kind;

#define BIT(k) (1u << (k))
#define ALL_KINDS (BIT(ST_COUNT) - 1)

/* The formal attributes of each statement, in PROV-N order; `codes` has
 * one letter per formal: 'r' a reference, 't' a time, '-' one this export
 * never gives. */
static const struct st_info {
	const char *name; /* PROV-N keyword and PROV-JSON section */
	char blank;       /* PROV-JSON blank-node label letter (relations) */
	const char *codes;
	const char *formal[5];
} st_info[ST_COUNT] = {
	[ST_ENTITY] = { "entity", 0, "", { NULL } },
	[ST_ACTIVITY] = { "activity", 0, "tt", { "prov:startTime", "prov:endTime" } },
	[ST_AGENT] = { "agent", 0, "", { NULL } },
	[ST_GENERATION] = { "wasGeneratedBy", 'g', "rrt", { "prov:entity", "prov:activity", "prov:time" } },
	[ST_USAGE] = { "used", 'u', "rrt", { "prov:activity", "prov:entity", "prov:time" } },
	[ST_COMMUNICATION] = { "wasInformedBy", 'c', "rr", { "prov:informed", "prov:informant" } },
	[ST_ASSOCIATION] = { "wasAssociatedWith", 'a', "rrr", { "prov:activity", "prov:agent", "prov:plan" } },
	[ST_DERIVATION] = { "wasDerivedFrom", 'd', "rrr--",
			    { "prov:generatedEntity", "prov:usedEntity", "prov:activity", "prov:generation",
			      "prov:usage" } },
	[ST_INFLUENCE] = { "wasInfluencedBy", 'i', "rr", { "prov:influencee", "prov:influencer" } },
	[ST_MEMBERSHIP] = { "hadMember", 'm', "rr", { "prov:collection", "prov:entity" } },
};

typedef struct pw {
	dp_prov_format fmt;
	FILE *f;
	dp_buf b;             /* rendered, not yet written */
	unsigned want;        /* the kinds this pass writes */
	bool section_open;    /* PROV-JSON: its key has been written */
	bool skip;            /* the open statement is not written */
	size_t nattrs;        /* attributes of the open statement so far */
	uint64_t blank[ST_COUNT];
	int rc;               /* the first error; every write stops after it */
	char why[256];        /* its detail, which later calls may overwrite */
	uint64_t written;     /* bytes handed to the FILE */
	time_t tsec;          /* fmt_time's cache: the last second formatted */
	char tprefix[24];
} pw;

static void w_fail(pw *w, int rc)
{
	if (w->rc)
		return;
	w->rc = rc;
	snprintf(w->why, sizeof(w->why), "%s", dnnprov_errmsg());
}

static void w_put(pw *w, const char *p, size_t n)
{
	if (!w->rc && dp_buf_append(&w->b, p, n))
		w_fail(w, dp_error(DNNPROV_ENOMEM, "out of memory"));
}

static void w_puts(pw *w, const char *s)
{
	w_put(w, s, strlen(s));
}

static void w_flush(pw *w)
{
	if (w->rc || !w->b.len)
		return;
	if (fwrite(w->b.data, 1, w->b.len, w->f) != w->b.len)
		w_fail(w, dp_error_errno(errno ? errno : EIO, "cannot write the export"));
	w->written += w->b.len;
	w->b.len = 0;
}

/* XSD dateTime in UTC with microseconds, "2026-11-26T02:36:56.123456Z";
 * 0 (absent) for NaN and times outside years 1970-9999.  The date and
 * time of day are cached: consecutive records share their second. */
static size_t fmt_time(pw *w, double t, char out[40])
{
	if (!(t >= 0 && t <= 253402300799.0))
		return 0;
	time_t secs = (time_t)t;
	unsigned usec = (unsigned)((t - (double)secs) * 1e6 + 0.5);
	if (usec >= 1000000) {
		secs++;
		usec -= 1000000;
	}
	assert(usec < 1000000); /* six digits below */
	if (secs != w->tsec || !w->tprefix[0]) {
		struct tm tm;
		gmtime_r(&secs, &tm);
		strftime(w->tprefix, sizeof(w->tprefix), "%Y-%m-%dT%H:%M:%S", &tm);
		w->tsec = secs;
	}
	memcpy(out, w->tprefix, 19);
	out[19] = '.';
	for (int i = 25; i >= 20; i--, usec /= 10)
		out[i] = (char)('0' + usec % 10);
	out[26] = 'Z';
	out[27] = '\0';
	return 27;
}

/* The XSD lexical form of a double: NaN, INF, -INF, or the shortest
 * decimal that reads back exactly (util/dtoa.c), as dp_json_double(). */
static size_t fmt_double(double d, char out[40])
{
	if (isnan(d))
		return (size_t)snprintf(out, 40, "NaN");
	if (isinf(d))
		return (size_t)snprintf(out, 40, "%s", d > 0 ? "INF" : "-INF");
	return dp_dtoa(d, out);
}

/* A PROV-N string literal's body: '"', '\', line breaks and tabs escaped
 * (ECHAR), other characters as they are (the grammar allows control
 * characters raw); invalid UTF-8 becomes U+FFFD, as dp_json_string() does,
 * so that both formats carry the same text.  NUL, which only a forged log
 * can hold (the writer's APIs take C strings), has no ECHAR and would cut
 * the text short for C tools: it becomes U+FFFD too. */
static void w_provn_string(pw *w, const char *s, size_t n)
{
	size_t run = 0; /* start of the bytes copied as they are */
	for (size_t i = 0; i < n && !w->rc;) {
		unsigned char c = (unsigned char)s[i];
		const char *esc = NULL;
		size_t skip = 1;
		if (c >= 0x80) {
			size_t len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
			if (len && i + len <= n && dp_utf8_valid(s + i, len)) {
				i += len;
				continue;
			}
			esc = "\xEF\xBF\xBD";
		} else if (c == '"') {
			esc = "\\\"";
		} else if (c == '\\') {
			esc = "\\\\";
		} else if (c == '\n') {
			esc = "\\n";
		} else if (c == '\r') {
			esc = "\\r";
		} else if (c == '\t') {
			esc = "\\t";
		} else if (c == 0) {
			esc = "\xEF\xBF\xBD";
		} else {
			i++;
			continue;
		}
		w_put(w, s + run, i - run);
		w_puts(w, esc);
		i += skip;
		run = i;
	}
	w_put(w, s + run, n - run);
}

static void w_json_string(pw *w, const char *s, size_t n)
{
	if (!w->rc && dp_json_string(&w->b, s, n))
		w_fail(w, dp_error(DNNPROV_ENOMEM, "out of memory"));
}

/* Starts a statement.  `id` names an entity, activity or agent (NULL for
 * relations); r0..r2 and t0, t1 fill the formal attributes in order of
 * st_info (NULL and NaN for absent).  Returns whether it is written; the
 * at_*() calls that follow are dropped when it is not. */
static bool st_begin(pw *w, st_kind k, const char *id, const char *r0, const char *r1, const char *r2, double t0,
		     double t1)
{
	const struct st_info *si = &st_info[k];
	const char *refs[3] = { r0, r1, r2 };
	double times[2] = { t0, t1 };
	size_t nr = 0, nt = 0;
	char tb[40];

	assert(k < ST_COUNT && strlen(si->codes) <= DP_ARRAY_LEN(si->formal));
	w->skip = !(w->want & BIT(k)) || w->rc;
	if (w->skip)
		return false;
	w->nattrs = 0;
	if (w->fmt == DP_PROV_N) {
		w_puts(w, "  ");
		w_puts(w, si->name);
		w_put(w, "(", 1);
		if (id)
			w_puts(w, id);
		for (size_t i = 0; si->codes[i]; i++) {
			if (id || i)
				w_put(w, ", ", 2);
			if (si->codes[i] == 'r' && refs[nr])
				w_puts(w, refs[nr]);
			else if (si->codes[i] == 't' && fmt_time(w, times[nt], tb))
				w_puts(w, tb);
			else
				w_put(w, "-", 1);
			nr += si->codes[i] == 'r';
			nt += si->codes[i] == 't';
		}
		return true;
	}
	if (!w->section_open) {
		w_puts(w, ",\n  \"");
		w_puts(w, si->name);
		w_puts(w, "\": {\n    ");
		w->section_open = true;
	} else {
		w_puts(w, ",\n    ");
	}
	if (id) {
		w_json_string(w, id, strlen(id));
	} else {
		char label[32];
		int n = snprintf(label, sizeof(label), "\"_:%c%" PRIu64 "\"", si->blank, ++w->blank[k]);
		w_put(w, label, (size_t)n);
	}
	w_put(w, ": {", 3);
	for (size_t i = 0; si->codes[i]; i++) {
		const char *ref = si->codes[i] == 'r' ? refs[nr++] : NULL;
		size_t tn = si->codes[i] == 't' ? fmt_time(w, times[nt++], tb) : 0;
		if (!ref && !tn)
			continue;
		w_puts(w, w->nattrs++ ? ", \"" : "\"");
		w_puts(w, si->formal[i]);
		w_puts(w, "\": ");
		if (ref)
			w_json_string(w, ref, strlen(ref));
		else
			w_json_string(w, tb, tn);
	}
	return true;
}

static void st_end(pw *w)
{
	if (w->skip)
		return;
	/* PROV-JSON: inside the section st_begin opened. */
	assert(w->fmt == DP_PROV_N || w->section_open);
	if (w->fmt == DP_PROV_N)
		w_puts(w, w->nattrs ? "])\n" : ")\n");
	else
		w_put(w, "}", 1);
	if (w->b.len >= FLUSH_AT)
		w_flush(w);
}

/* An extra attribute: its name, then a value written by the caller. */
static bool at_name(pw *w, const char *name)
{
	if (w->skip || w->rc)
		return false;
	if (w->fmt == DP_PROV_N) {
		w_puts(w, w->nattrs++ ? ", " : ", [");
		w_puts(w, name);
		w_put(w, "=", 1);
	} else {
		w_puts(w, w->nattrs++ ? ", \"" : "\"");
		w_puts(w, name);
		w_puts(w, "\": ");
	}
	return true;
}

/* A typed literal whose lexical form needs no escaping (numbers, times). */
static void at_lexical(pw *w, const char *name, const char *lex, size_t n, const char *type)
{
	if (!at_name(w, name))
		return;
	if (w->fmt == DP_PROV_N) {
		w_put(w, "\"", 1);
		w_put(w, lex, n);
		w_puts(w, "\" %% ");
		w_puts(w, type);
	} else {
		w_puts(w, "{\"$\": \"");
		w_put(w, lex, n);
		w_puts(w, "\", \"type\": \"");
		w_puts(w, type);
		w_puts(w, "\"}");
	}
}

static void at_qname(pw *w, const char *name, const char *qname)
{
	if (!at_name(w, name))
		return;
	if (w->fmt == DP_PROV_N) {
		w_put(w, "'", 1);
		w_puts(w, qname);
		w_put(w, "'", 1);
	} else {
		w_puts(w, "{\"$\": \"");
		w_puts(w, qname);
		w_puts(w, "\", \"type\": \"prov:QUALIFIED_NAME\"}");
	}
}

/* prov:type with several values: dnnprov's own type first, then the
 * ML-Schema and PROV-ML classes it is an instance of.  PROV-N repeats the
 * attribute; PROV-JSON gives one key a list. */
static void at_types(pw *w, const char *const *types, size_t n)
{
	if (w->fmt == DP_PROV_N || n == 1) {
		for (size_t i = 0; i < n; i++)
			at_qname(w, "prov:type", types[i]);
		return;
	}
	if (!at_name(w, "prov:type"))
		return;
	w_put(w, "[", 1);
	for (size_t i = 0; i < n; i++) {
		w_puts(w, i ? ", {\"$\": \"" : "{\"$\": \"");
		w_puts(w, types[i]);
		w_puts(w, "\", \"type\": \"prov:QUALIFIED_NAME\"}");
	}
	w_put(w, "]", 1);
}
#define AT_TYPES(w, ...)                                                     \
	do {                                                                 \
		static const char *const types_[] = { __VA_ARGS__ };         \
		at_types((w), types_, sizeof(types_) / sizeof(types_[0]));   \
	} while (0)

static void at_str(pw *w, const char *name, const char *s, size_t n)
{
	if (!at_name(w, name))
		return;
	if (w->fmt == DP_PROV_N) {
		w_put(w, "\"", 1);
		w_provn_string(w, s, n);
		w_puts(w, "\" %% xsd:string");
	} else {
		w_puts(w, "{\"$\": ");
		w_json_string(w, s, n);
		w_puts(w, ", \"type\": \"xsd:string\"}");
	}
}

static void at_cstr(pw *w, const char *name, const char *s)
{
	at_str(w, name, s, strlen(s));
}

static void at_long(pw *w, const char *name, int64_t v)
{
	char lex[32];
	int n = snprintf(lex, sizeof(lex), "%" PRId64, v);
	at_lexical(w, name, lex, (size_t)n, "xsd:long");
}

static void at_double(pw *w, const char *name, double v)
{
	char lex[40];
	size_t n = fmt_double(v, lex);
	at_lexical(w, name, lex, n, "xsd:double");
}

static void at_time(pw *w, const char *name, double t)
{
	char lex[40];
	size_t n = fmt_time(w, t, lex);
	if (n)
		at_lexical(w, name, lex, n, "xsd:dateTime");
}

/* A value from a record: integers as xsd:long (xsd:integer past its
 * range), floats as xsd:double, text as xsd:string; nil is left out. */
static void at_field(pw *w, const char *name, const dp_field *f)
{
	char lex[40];
	switch (f->type) {
	case DP_F_INT: at_long(w, name, f->i); break;
	case DP_F_REAL:
		if (f->big) {
			int n = snprintf(lex, sizeof(lex), "%" PRIu64, f->u);
			at_lexical(w, name, lex, (size_t)n, "xsd:integer");
		} else {
			at_double(w, name, f->d);
		}
		break;
	case DP_F_TEXT: at_str(w, name, f->s.p, f->s.n); break;
	default: break;
	}
}

/* ---- identifiers ------------------------------------------------------------------------ */

/* Appends s[0..n) with every byte outside [A-Za-z0-9_-] as %XX (uppercase
 * hex of the UTF-8 bytes), so the result is a PROV-N local name part (and
 * an IRI path segment) whatever the tag holds: no '/', ':', '.', quote or
 * space survives.  `first`: the text starts a local name, where PROV-N
 * does not allow '-', so a leading '-' is encoded too. */
static void enc(pw *w, dp_buf *b, const char *s, size_t n, bool first)
{
	static const char hex[] = "0123456789ABCDEF";
	if (w->rc || dp_buf_reserve(b, 3 * n + 1)) {
		w_fail(w, dp_error(DNNPROV_ENOMEM, "out of memory"));
		return;
	}
	char *p = b->data + b->len;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
			    (c == '-' && !(first && i == 0));
		if (keep) {
			*p++ = (char)c;
		} else {
			*p++ = '%';
			*p++ = hex[c >> 4];
			*p++ = hex[c & 15];
		}
	}
	b->len = (size_t)(p - b->data);
	assert(b->len <= b->cap); /* three bytes a byte at most: reserved above */
}

int dp_prov_escape(dp_prov_format fmt, bool as_id, const char *s, size_t n, dp_buf *out)
{
	pw w;
	memset(&w, 0, sizeof(w));
	w.fmt = fmt;
	if (as_id) {
		enc(&w, out, s, n, true);
		return w.rc;
	}
	w.b = *out; /* the writer's buffer, handed back */
	if (fmt == DP_PROV_N)
		w_provn_string(&w, s, n);
	else
		w_json_string(&w, s, n);
	*out = w.b;
	return w.rc;
}

static void id_lit(pw *w, dp_buf *b, const char *s)
{
	if (!w->rc && dp_buf_append(b, s, strlen(s)))
		w_fail(w, dp_error(DNNPROV_ENOMEM, "out of memory"));
}

static void id_copy(pw *w, dp_buf *b, dp_buf *from)
{
	b->len = 0;
	if (!w->rc && dp_buf_append(b, from->data, from->len))
		w_fail(w, dp_error(DNNPROV_ENOMEM, "out of memory"));
}

static void id_i64(pw *w, dp_buf *b, int64_t v)
{
	char s[24];
	int n = snprintf(s, sizeof(s), "%" PRId64, v);
	if (!w->rc && dp_buf_append(b, s, (size_t)n))
		w_fail(w, dp_error(DNNPROV_ENOMEM, "out of memory"));
}

static const char *id_str(pw *w, dp_buf *b)
{
	const char *s = dp_buf_cstr(b);
	if (!s)
		w_fail(w, dp_error(DNNPROV_ENOMEM, "out of memory"));
	return s ? s : "";
}

/* "dfa:" and the encoded name: the attribute name of a hyperparameter,
 * metric or element attribute. */
static const char *dfa_name(pw *w, dp_buf *b, const char *s, size_t n)
{
	b->len = 0;
	id_lit(w, b, "dfa:");
	enc(w, b, s, n, true);
	return id_str(w, b);
}

/* ---- the specification (prospective provenance) ----------------------------------------- */

/* A (transformation, set) pair that has elements in the index. */
typedef struct elem_set {
	char *tf, *set;
	bool input;
} elem_set;

static char *dup_n(const char *p, size_t n)
{
	char *s = malloc(n + 1);
	if (s) {
		memcpy(s, p, n);
		s[n] = '\0';
	}
	return s;
}

/* ---- the export ---------------------------------------------------------------------------- */

typedef struct adapted {
	char *hyp;
	dp_buf id; /* its latest value entity in this task */
} adapted;

typedef struct ex {
	dp_query *q;
	pw w;
	const char *df;
	dp_key dfkey;
	dp_qdataflow spec; /* the model whole (its hyperparameters too), no task */
	elem_set *esets;
	size_t nesets;
	char **sel; /* selected task ids, sorted and unique; NULL: all... */
	size_t nsel;
	bool filtered; /* ...unless --where chose them: then sel may be empty */
	dp_decoder dtask, drec;
	MDB_cursor *c_epochs, *c_adapt, *c_tests, *c_elems;
	dp_map agents; /* the agents written in this pass */
	dp_map entities; /* the entities written in this pass */
	dp_buf task_agents; /* the agents of the task being written, NUL-separated */
	size_t ntask_agents;
	bool lineage_only; /* one run's document: no specification, no epochs */
	adapted *ad;
	size_t nad, adcap;
	/* scratch identifiers */
	dp_buf tid, hid, agent, plan, uact, a, b, c, name;
	/* the task being written */
	const char *task;
	size_t taskn;
	/* progress: tasks written over all passes, of tasks times passes */
	dp_work_fn progress;
	void *progress_ctx;
	dp_work work;
} ex;

/* ---- progress ---- */

static void report(ex *x)
{
	x->work.bytes = x->w.written + x->w.b.len;
	x->progress(x->progress_ctx, &x->work);
}

static void task_done(ex *x)
{
	if (!x->progress)
		return;
	x->work.items++;
	report(x);
}

/* Whether a pass writing these kinds goes through the tasks, and through
 * their epochs (the bulk of the work). */
static bool pass_has_tasks(unsigned want)
{
	return want & ~(BIT(ST_INFLUENCE) | BIT(ST_MEMBERSHIP));
}

static bool pass_reads_epochs(unsigned want)
{
	return want & (BIT(ST_ENTITY) | BIT(ST_GENERATION));
}

/* ---- prospective ---- */

/* The prospective part: the model whole, so that the hyperparameters
 * tasks used without the specification declaring them join
 * iTrainingModel, as `dnnprov describe` shows them (whatever --task
 * selects). */
static int load_spec(ex *x)
{
	return dp_query_load_model(x->q, x->df, &x->spec);
}

/* The (transformation, set) pairs that have elements: one seek per pair,
 * skipping over each pair's elements. */
static int load_elem_sets(ex *x)
{
	dp_scan sc;
	MDB_val k, v;
	dp_key seek;
	int mrc;

	dp_scan_on(&sc, x->c_elems, DP_DB_ELEMENTS, &x->dfkey, NULL);
	while ((mrc = dp_scan_next(&sc, &k, &v)) == DP_SCAN_ROW) {
		size_t pos = x->dfkey.n;
		const char *tf, *set;
		size_t tfn, setn;
		if (!dp_key_get_str(k.mv_data, k.mv_size, &pos, &tf, &tfn) ||
		    !dp_key_get_str(k.mv_data, k.mv_size, &pos, &set, &setn))
			break; /* a malformed key: stop here rather than loop */
		elem_set *g = realloc(x->esets, (x->nesets + 1) * sizeof(*g));
		if (!g)
			return dp_error(DNNPROV_ENOMEM, "out of memory");
		x->esets = g;
		elem_set *es = &x->esets[x->nesets];
		es->tf = dup_n(tf, tfn);
		es->set = dup_n(set, setn);
		es->input = false;
		if (!es->tf || !es->set) {
			free(es->tf);
			free(es->set);
			return dp_error(DNNPROV_ENOMEM, "out of memory");
		}
		x->nesets++;
		/* The set's direction, from the spec; a set it does not declare is
		 * taken as an output (its elements were produced). */
		const dp_mset *ms = dp_model_set(&x->spec.model, es->tf, es->set);
		es->input = ms && ms->input;
		/* Next pair: the smallest key after every (df, tf, set, ...). */
		dp_key_reset(&seek);
		memcpy(seek.b, k.mv_data, pos - 1); /* df tf\0 set, without set's terminator */
		seek.n = pos - 1;
		seek.b[seek.n++] = 0x01;
		dp_scan_seek(&sc, &seek);
	}
	return mrc < 0 ? mrc : 0;
}

static void emit_spec(ex *x)
{
	pw *w = &x->w;
	if (!(w->want & (BIT(ST_ENTITY) | BIT(ST_MEMBERSHIP) | BIT(ST_INFLUENCE) | BIT(ST_AGENT))))
		return;
	if (st_begin(w, ST_ENTITY, "df:dataflow", NULL, NULL, NULL, NAN, NAN)) {
		at_qname(w, "prov:type", "dnnprov:Dataflow");
		at_cstr(w, "dnnprov:tag", x->df);
		st_end(w);
	}
	for (size_t t = 0; t < x->spec.model.ntfs && !w->rc; t++) {
		const dp_mtf *tf = &x->spec.model.tfs[t];
		x->a.len = 0;
		id_lit(w, &x->a, "df:transformation/");
		enc(w, &x->a, tf->name, strlen(tf->name), false);
		const char *tid = id_str(w, &x->a);
		if (st_begin(w, ST_ENTITY, tid, NULL, NULL, NULL, NAN, NAN)) {
			at_qname(w, "prov:type", "dnnprov:DataTransformation");
			at_cstr(w, "dnnprov:name", tf->name);
			st_end(w);
		}
		if (st_begin(w, ST_MEMBERSHIP, NULL, "df:dataflow", tid, NULL, NAN, NAN))
			st_end(w);
		for (size_t d = 0; d < tf->ndeps; d++) {
			x->b.len = 0;
			id_lit(w, &x->b, "df:transformation/");
			enc(w, &x->b, tf->deps[d], strlen(tf->deps[d]), false);
			if (st_begin(w, ST_INFLUENCE, NULL, tid, id_str(w, &x->b), NULL, NAN, NAN)) {
				at_qname(w, "prov:type", "dnnprov:Dependency");
				st_end(w);
			}
		}
		for (size_t s = 0; s < tf->nsets; s++) {
			const dp_mset *set = &tf->sets[s];
			id_copy(w, &x->b, &x->a);
			id_lit(w, &x->b, "/set/");
			enc(w, &x->b, set->name, strlen(set->name), false);
			const char *sid = id_str(w, &x->b);
			if (st_begin(w, ST_ENTITY, sid, NULL, NULL, NULL, NAN, NAN)) {
				at_qname(w, "prov:type", "dnnprov:DataSetSchema");
				at_cstr(w, "dnnprov:name", set->name);
				at_cstr(w, "dnnprov:direction", set->input ? "input" : "output");
				st_end(w);
			}
			if (st_begin(w, ST_MEMBERSHIP, NULL, tid, sid, NULL, NAN, NAN))
				st_end(w);
			for (size_t i = 0; i < set->nattrs; i++) {
				id_copy(w, &x->c, &x->b);
				id_lit(w, &x->c, "/attribute/");
				enc(w, &x->c, set->attrs[i].name, strlen(set->attrs[i].name), false);
				const char *aid = id_str(w, &x->c);
				if (st_begin(w, ST_ENTITY, aid, NULL, NULL, NULL, NAN, NAN)) {
					at_qname(w, "prov:type", "dnnprov:Attribute");
					at_cstr(w, "dnnprov:name", set->attrs[i].name);
					at_cstr(w, "dnnprov:type", dp_attr_type_name(set->attrs[i].type));
					st_end(w);
				}
				if (st_begin(w, ST_MEMBERSHIP, NULL, sid, aid, NULL, NAN, NAN))
					st_end(w);
			}
		}
	}
	if (st_begin(w, ST_AGENT, SOFTWARE_ID, NULL, NULL, NULL, NAN, NAN)) {
		at_qname(w, "prov:type", "prov:SoftwareAgent");
		at_cstr(w, "dnnprov:name", "dnnprov");
		at_cstr(w, "dnnprov:version", DNNPROV_VERSION);
		st_end(w);
	}
}

/* ---- retrospective, per task ---- */

/* A key prefix: the dataflow, then the given strings. */
static void prefix_key(ex *x, dp_key *k, const char *s1, size_t n1, const char *s2, size_t n2, const char *s3,
		       size_t n3)
{
	*k = x->dfkey;
	if (s1)
		dp_key_str(k, s1, n1);
	if (s2)
		dp_key_str(k, s2, n2);
	if (s3)
		dp_key_str(k, s3, n3);
}

/* The record id at the end of a tests or elements key (after the
 * segment's sequence), as text: "<CRC32C of the segment file name, 8 hex
 * digits>-<frame offset>". */
static bool rid_text(const MDB_val *k, size_t pos, char out[40])
{
	if (k->mv_size != pos + 16)
		return false;
	const unsigned char *p = (const unsigned char *)k->mv_data + pos + 4;
	snprintf(out, 40, "%08" PRIx32 "-%" PRIu64, dp_get_be32(p), dp_get_be64(p + 4));
	return true;
}

/* Writes agent aid once per pass, with its types and one attribute. */
static bool agent_once(ex *x, const char *aid)
{
	pw *w = &x->w;
	size_t n = strlen(aid);
	if (w->rc || !(w->want & BIT(ST_AGENT)) || dp_map_slot(&x->agents, aid, n, false))
		return false;
	void **slot = dp_map_slot(&x->agents, aid, n, true);
	if (!slot) {
		w_fail(w, dp_error(DNNPROV_ENOMEM, "out of memory"));
		return false;
	}
	*slot = x; /* any non-NULL value marks it written */
	return st_begin(w, ST_AGENT, aid, NULL, NULL, NULL, NAN, NAN);
}

static void task_agent(ex *x, const char *aid)
{
	/* Counted only once kept: the associations walk what is there (a
	 * failed append is the buffer's sticky failure, told by emit_agent). */
	if (dp_buf_append(&x->task_agents, aid, strlen(aid) + 1) == 0)
		x->ntask_agents++;
}

/* The frameworks whose versions are run facts become software agents. */
static const char *const frameworks[] = { "python", "torch", "tensorflow", "keras", "numpy", "sklearn" };

/* The agents of a task (docs/PROV.md, "Agents"): the person who ran it,
 * the machine, its accelerator and the software, from the task's latest
 * begin and its run facts; each written once per document. */
static void emit_agent(ex *x, const dp_task_row *task)
{
	pw *w = &x->w;
	const char *host = task->f.host.p, *user = task->f.user.p;
	size_t hn = task->f.host.n, un = task->f.user.n;
	dp_field fact;
	x->task_agents.len = 0;
	x->ntask_agents = 0;
	if (un) {
		x->agent.len = 0;
		id_lit(w, &x->agent, "df:agent/person/");
		enc(w, &x->agent, user, un, false);
		const char *aid = id_str(w, &x->agent);
		if (agent_once(x, aid)) {
			AT_TYPES(w, "prov:Person", "provml:Persona");
			at_str(w, "dnnprov:user", user, un);
			st_end(w);
		}
		task_agent(x, aid);
	}
	x->agent.len = 0;
	id_lit(w, &x->agent, "df:agent/machine/");
	enc(w, &x->agent, host ? host : "", hn, false);
	if (hn) {
		const char *aid = id_str(w, &x->agent);
		if (agent_once(x, aid)) {
			AT_TYPES(w, "dnnprov:Machine");
			at_str(w, "dnnprov:host", host, hn);
			st_end(w);
		}
		task_agent(x, aid);
	}
	fact = dp_rmap_get(task->facts, "accelerator");
	if (fact.type == DP_F_TEXT && fact.s.n) {
		const char *p = fact.s.p;
		size_t n = fact.s.n;
		x->c.len = 0;
		id_lit(w, &x->c, hn ? id_str(w, &x->agent) : "df:agent");
		id_lit(w, &x->c, "/accelerator/");
		enc(w, &x->c, p, n, false);
		const char *aid = id_str(w, &x->c);
		if (agent_once(x, aid)) {
			AT_TYPES(w, "dnnprov:Accelerator");
			at_str(w, "dnnprov:model", p, n);
			st_end(w);
		}
		task_agent(x, aid);
	}
	for (size_t i = 0; i < DP_ARRAY_LEN(frameworks); i++) {
		fact = dp_rmap_get(task->facts, frameworks[i]);
		if (fact.type != DP_F_TEXT || !fact.s.n)
			continue;
		const char *p = fact.s.p;
		size_t n = fact.s.n;
		x->c.len = 0;
		id_lit(w, &x->c, "df:software/");
		id_lit(w, &x->c, frameworks[i]);
		id_lit(w, &x->c, "/");
		enc(w, &x->c, p, n, false);
		const char *aid = id_str(w, &x->c);
		if (agent_once(x, aid)) {
			AT_TYPES(w, "prov:SoftwareAgent", "mls:Software");
			at_cstr(w, "dnnprov:name", frameworks[i]);
			at_str(w, "dnnprov:version", p, n);
			st_end(w);
		}
		task_agent(x, aid);
	}
	if (x->task_agents.failed)
		w_fail(w, dp_error(DNNPROV_ENOMEM, "out of memory"));
}

static void emit_associations(ex *x, const char *activity, const char *plan)
{
	pw *w = &x->w;
	const char *aid = x->task_agents.data;
	for (size_t i = 0; i < x->ntask_agents; i++, aid += strlen(aid) + 1)
		if (st_begin(w, ST_ASSOCIATION, NULL, activity, aid, plan, NAN, NAN))
			st_end(w);
	if (st_begin(w, ST_ASSOCIATION, NULL, activity, SOFTWARE_ID, plan, NAN, NAN))
		st_end(w);
}

/* "dfa:<group>/" and the encoded name: a run fact's or a tag's attribute. */
static const char *dfa_group_name(pw *w, dp_buf *b, const char *group, const char *s, size_t n)
{
	b->len = 0;
	id_lit(w, b, "dfa:");
	id_lit(w, b, group);
	id_lit(w, b, "/");
	enc(w, b, s, n, true);
	return id_str(w, b);
}

/* The run's tags as attributes dfa:tag/<key> (a removed key is left out). */
static void emit_tag_attributes(ex *x)
{
	pw *w = &x->w;
	dp_scan sc;
	MDB_val k, v;
	dp_key prefix = x->dfkey;
	int r;

	dp_key_str(&prefix, x->task, x->taskn);
	if ((r = dp_scan_open(&sc, x->q->ix, x->q->txn, DP_DB_TAGS, &prefix, NULL))) {
		w_fail(w, r);
		return;
	}
	while (!w->rc && (r = dp_scan_next(&sc, &k, &v)) == DP_SCAN_ROW) {
		dp_tag_row tag;
		if (dp_read_tag(&x->drec, &k, &v, &tag))
			continue;
		at_field(w, dfa_group_name(w, &x->name, "tag", tag.key.p, tag.key.n), &tag.value);
	}
	dp_scan_close(&sc);
	if (r < 0)
		w_fail(w, r);
}

/* The task's health, as `runs` shows it (query/health.c): the rules'
 * state, and the stall of a RUNNING task at the snapshot's time. */
static const char *task_health(ex *x, const char *status, double last)
{
	dp_key k;
	MDB_val key, val;
	dp_health h;
	double median;
	prefix_key(x, &k, x->task, x->taskn, NULL, 0, NULL, 0);
	key = dp_key_val(&k);
	if (k.overflow || !dp_query_get(x->q, DP_DB_HEALTH, &key, &val) || !dp_health_unpack(val.mv_data, val.mv_size, &h))
		return dp_health_name(DP_HEALTH_OK);
	dp_health_state st = dp_health_stored_state(&h);
	if (st < DP_HEALTH_STALLED && strcmp(status, "RUNNING") == 0 &&
	    dp_health_stalled(&h, dp_query_rules(x->q), last, x->q->now, &median))
		st = DP_HEALTH_STALLED;
	return dp_health_name(st);
}

/* Each name and value of a map of a record as an attribute: dfa:NAME,
 * or dfa:GROUP/NAME. */
static void at_map(ex *x, dp_rmap m, const char *group)
{
	dp_str name;
	dp_field f;
	for (size_t i = 0, n = dp_rmap_size(m); i < n; i++)
		if (dp_rmap_at(m, i, &name, &f))
			at_field(&x->w, group ? dfa_group_name(&x->w, &x->name, group, name.p, name.n)
					      : dfa_name(&x->w, &x->name, name.p, name.n),
				 &f);
}

/* `known`: the task's value could be read (a damaged one shows the id). */
static void emit_training(ex *x, const dp_task_row *r, bool known)
{
	pw *w = &x->w;
	const dp_task_fields *f = &r->f;
	const char *tid = id_str(w, &x->tid);
	double start = f->start;

	bool training = !f->transformation.p ||
			(f->transformation.n == 13 && memcmp(f->transformation.p, "TrainingModel", 13) == 0);
	if (st_begin(w, ST_ACTIVITY, tid, NULL, NULL, NULL, start, f->end)) {
		if (training)
			AT_TYPES(w, "dnnprov:Training", "mls:Run", "provml:Training");
		else
			AT_TYPES(w, "dnnprov:Task", "mls:Run");
		at_str(w, "dnnprov:task", x->task, x->taskn);
		if (f->status[0]) {
			at_cstr(w, "dnnprov:status", f->status);
			at_cstr(w, "dnnprov:health", task_health(x, f->status, f->last));
		}
		if (known)
			at_long(w, "dnnprov:epochs", (int64_t)f->epochs);
		if (f->has_last_epoch)
			at_long(w, "dnnprov:lastEpoch", f->last_epoch);
		if (known)
			at_long(w, "dnnprov:attempts", (int64_t)f->attempts);
		if (f->execution.p)
			at_str(w, "dnnprov:execution", f->execution.p, f->execution.n);
		if (f->pid > 0)
			at_long(w, "dnnprov:pid", f->pid);
		if (f->message.p)
			at_str(w, "dnnprov:message", f->message.p, f->message.n);
		at_time(w, "dnnprov:lastSeen", f->last);
		at_map(x, r->facts, "fact");
		emit_tag_attributes(x);
		st_end(w);
	}
	emit_agent(x, r);
	x->plan.len = 0;
	id_lit(w, &x->plan, "df:transformation/");
	if (f->transformation.p)
		enc(w, &x->plan, f->transformation.p, f->transformation.n, false);
	else
		id_lit(w, &x->plan, "TrainingModel");
	emit_associations(x, tid, id_str(w, &x->plan));

	id_copy(w, &x->hid, &x->tid);
	id_lit(w, &x->hid, "/hyperparameters");
	const char *hid = id_str(w, &x->hid);
	if (st_begin(w, ST_ENTITY, hid, NULL, NULL, NULL, NAN, NAN)) {
		AT_TYPES(w, "dnnprov:Hyperparameters", "mls:HyperParameterSetting");
		at_map(x, r->hyps, NULL);
		st_end(w);
	}
	if (st_begin(w, ST_USAGE, NULL, tid, hid, NULL, start, NAN))
		st_end(w);
}

static void emit_layers(ex *x)
{
	pw *w = &x->w;
	dp_key key;
	MDB_val k, v;
	dp_layers_row r;
	int mrc;

	if (!(w->want & (BIT(ST_ENTITY) | BIT(ST_USAGE))))
		return;
	prefix_key(x, &key, x->task, x->taskn, NULL, 0, NULL, 0);
	k = dp_key_val(&key);
	if ((mrc = mdb_get(x->q->txn, x->q->ix->dbi[DP_DB_LAYERS], &k, &v))) {
		if (mrc != MDB_NOTFOUND)
			w_fail(w, dp_lmdb_error(mrc, "layers"));
		return;
	}
	if (dp_read_layers(&x->drec, &k, &v, &r))
		return;
	const char *tid = id_str(w, &x->tid);
	for (size_t i = 0; i < r.n; i++) {
		dp_str name, kind;
		dp_field value;
		bool named = dp_layers_at(&r, i, &name, &kind, &value);
		id_copy(w, &x->a, &x->tid);
		id_lit(w, &x->a, "/layer/");
		id_i64(w, &x->a, (int64_t)i);
		const char *lid = id_str(w, &x->a);
		if (st_begin(w, ST_ENTITY, lid, NULL, NULL, NULL, NAN, NAN)) {
			at_qname(w, "prov:type", "dnnprov:Layer");
			if (named) {
				at_str(w, "dnnprov:name", name.p, name.n);
				if (kind.p)
					at_str(w, "dnnprov:kind", kind.p, kind.n);
				at_field(w, "dnnprov:value", &value);
			}
			st_end(w);
		}
		if (st_begin(w, ST_USAGE, NULL, tid, lid, NULL, r.time, NAN))
			st_end(w);
	}
}

static void emit_epochs(ex *x)
{
	pw *w = &x->w;
	dp_key key;
	dp_epoch_row r;
	int mrc = 0;

	if (!pass_reads_epochs(w->want))
		return;
	prefix_key(x, &key, x->task, x->taskn, NULL, 0, NULL, 0);
	const char *tid = id_str(w, &x->tid);
	dp_qepochs sc;
	if ((mrc = dp_qepochs_open(&sc, x->q->ix, x->q->txn, x->c_epochs, &key, false, 0))) {
		w_fail(w, mrc);
		return;
	}
	while (!w->rc && (mrc = dp_qepochs_next(&sc, &r)) == 1) {
		int64_t e = r.epoch;
		if (x->progress && ++x->work.items % 4096 == 0)
			report(x);
		id_copy(w, &x->a, &x->tid);
		id_lit(w, &x->a, "/epoch/");
		id_i64(w, &x->a, e);
		const char *eid = id_str(w, &x->a);
		if (st_begin(w, ST_ENTITY, eid, NULL, NULL, NULL, NAN, NAN)) {
			dp_str name;
			dp_field f;
			at_qname(w, "prov:type", "dnnprov:Epoch");
			at_long(w, "dnnprov:epoch", e);
			at_double(w, "dnnprov:elapsed", r.elapsed.type == DP_F_NULL ? NAN : r.elapsed.d);
			for (size_t i = 0; dp_rmap_at(r.metrics, i, &name, &f); i++)
				if (f.type == DP_F_INT || f.type == DP_F_REAL)
					at_double(w, dfa_name(w, &x->name, name.p, name.n), f.d);
			st_end(w);
		}
		if (st_begin(w, ST_GENERATION, NULL, eid, tid, NULL, r.time, NAN))
			st_end(w);
	}
	dp_qepochs_close(&sc);
	if (mrc < 0)
		w_fail(w, mrc);
}

/* The task's health events (indexer/health.h): an entity each, derived
 * from the epoch the rule found it in. */
static void emit_events(ex *x)
{
	pw *w = &x->w;
	dp_key key;
	MDB_val k, v;
	dp_scan sc;
	int r;

	if (!(w->want & (BIT(ST_ENTITY) | BIT(ST_DERIVATION))))
		return;
	prefix_key(x, &key, x->task, x->taskn, NULL, 0, NULL, 0);
	if ((r = dp_scan_open(&sc, x->q->ix, x->q->txn, DP_DB_EVENTS, &key, NULL))) {
		w_fail(w, r);
		return;
	}
	while (!w->rc && (r = dp_scan_next(&sc, &k, &v)) == DP_SCAN_ROW) {
		dp_event_fields e;
		if (dp_event_fields_parse(v.mv_data, v.mv_size, &e) != 0)
			continue;
		id_copy(w, &x->a, &x->tid);
		id_lit(w, &x->a, "/event/");
		id_lit(w, &x->a, dp_rule_names[e.rule]);
		id_lit(w, &x->a, "/");
		id_i64(w, &x->a, e.epoch);
		const char *evid = id_str(w, &x->a);
		if (st_begin(w, ST_ENTITY, evid, NULL, NULL, NULL, NAN, NAN)) {
			at_qname(w, "prov:type", "dnnprov:HealthEvent");
			at_cstr(w, "dnnprov:rule", dp_rule_names[e.rule]);
			at_long(w, "dnnprov:epoch", e.epoch);
			at_time(w, "dnnprov:time", e.time);
			if (e.metric.p)
				at_str(w, "dnnprov:metric", e.metric.p, e.metric.n);
			at_double(w, "dnnprov:value", e.value);
			if (e.has_evidence) {
				at_double(w, "dnnprov:best", e.best);
				at_double(w, "dnnprov:threshold", e.threshold);
			}
			x->b.len = 0;
			dp_event_sentence(&x->b, &e);
			at_str(w, "dnnprov:detail", x->b.data ? x->b.data : "", x->b.len);
			st_end(w);
		}
		id_copy(w, &x->b, &x->tid);
		id_lit(w, &x->b, "/epoch/");
		id_i64(w, &x->b, e.epoch);
		if (st_begin(w, ST_DERIVATION, NULL, evid, id_str(w, &x->b), NULL, NAN, NAN))
			st_end(w);
	}
	dp_scan_close(&sc);
	if (r < 0)
		w_fail(w, r);
}

/* The entity holding the value of `hyp` before an adaptation: the previous
 * adaptation's value entity, or the task's hyperparameters. */
static dp_buf *adapted_slot(ex *x, const char *hyp, size_t n)
{
	for (size_t i = 0; i < x->nad; i++)
		if (strlen(x->ad[i].hyp) == n && memcmp(x->ad[i].hyp, hyp, n) == 0)
			return &x->ad[i].id;
	if (x->nad == x->adcap) {
		size_t cap = x->adcap ? x->adcap * 2 : 8;
		adapted *g = realloc(x->ad, cap * sizeof(*g));
		if (!g)
			return NULL;
		x->ad = g;
		x->adcap = cap;
	}
	adapted *a = &x->ad[x->nad];
	memset(a, 0, sizeof(*a));
	if (!(a->hyp = dup_n(hyp, n)))
		return NULL;
	x->nad++;
	return &a->id;
}

static void adapted_reset(ex *x)
{
	for (size_t i = 0; i < x->nad; i++) {
		free(x->ad[i].hyp);
		dp_buf_free(&x->ad[i].id);
	}
	x->nad = 0;
}

static void emit_adaptations(ex *x)
{
	pw *w = &x->w;
	dp_key key;
	MDB_val k, v;
	int mrc = 0;

	if (!(w->want & (BIT(ST_ENTITY) | BIT(ST_ACTIVITY) | BIT(ST_GENERATION) | BIT(ST_USAGE) |
			 BIT(ST_COMMUNICATION) | BIT(ST_DERIVATION) | BIT(ST_ASSOCIATION))))
		return;
	adapted_reset(x);
	prefix_key(x, &key, x->task, x->taskn, NULL, 0, NULL, 0);
	const char *tid = id_str(w, &x->tid);
	dp_scan sc;
	dp_scan_on(&sc, x->c_adapt, DP_DB_ADAPTATIONS, &key, NULL);
	while (!w->rc && (mrc = dp_scan_next(&sc, &k, &v)) == DP_SCAN_ROW) {
		dp_adapt_row r;
		if (dp_read_adapt(&x->drec, &k, &v, &r))
			continue;
		const char *h = r.hyp.p;
		size_t hn = r.hyp.n;
		int64_t e = r.epoch;
		double time = r.time;
		dp_buf *prev = adapted_slot(x, h, hn);
		if (!prev) {
			w_fail(w, dp_error(DNNPROV_ENOMEM, "out of memory"));
			break;
		}
		const char *pid = prev->len ? id_str(w, prev) : id_str(w, &x->hid);
		/* A: the adaptation; B: the new value's entity. */
		id_copy(w, &x->a, &x->tid);
		id_lit(w, &x->a, "/adaptation/");
		id_i64(w, &x->a, e);
		id_lit(w, &x->a, "/");
		enc(w, &x->a, h, hn, false);
		const char *aid = id_str(w, &x->a);
		id_copy(w, &x->b, &x->tid);
		id_lit(w, &x->b, "/hyperparameter/");
		enc(w, &x->b, h, hn, false);
		id_lit(w, &x->b, "/epoch/");
		id_i64(w, &x->b, e);
		const char *vid = id_str(w, &x->b);

		if (st_begin(w, ST_ACTIVITY, aid, NULL, NULL, NULL, time, time)) {
			at_qname(w, "prov:type", "dnnprov:Adaptation");
			at_str(w, "dnnprov:hyperparameter", h, hn);
			at_long(w, "dnnprov:epoch", e);
			if (r.id.type == DP_F_INT)
				at_long(w, "dnnprov:id", r.id.i);
			st_end(w);
		}
		emit_associations(x, aid, "df:transformation/Adaptation");
		if (st_begin(w, ST_COMMUNICATION, NULL, aid, tid, NULL, NAN, NAN))
			st_end(w);
		if (st_begin(w, ST_USAGE, NULL, aid, pid, NULL, time, NAN))
			st_end(w);
		if (st_begin(w, ST_ENTITY, vid, NULL, NULL, NULL, NAN, NAN)) {
			at_qname(w, "prov:type", "dnnprov:HyperparameterValue");
			at_str(w, "dnnprov:hyperparameter", h, hn);
			at_long(w, "dnnprov:epoch", e);
			at_field(w, "prov:value", &r.new_value);
			st_end(w);
		}
		if (st_begin(w, ST_GENERATION, NULL, vid, aid, NULL, time, NAN))
			st_end(w);
		if (st_begin(w, ST_DERIVATION, NULL, vid, pid, aid, NAN, NAN))
			st_end(w);
		if (st_begin(w, ST_USAGE, NULL, tid, vid, NULL, time, NAN))
			st_end(w);
		id_copy(w, prev, &x->b);
	}
	if (mrc < 0)
		w_fail(w, mrc);
}

static void emit_tests(ex *x)
{
	pw *w = &x->w;
	dp_key key;
	MDB_val k, v;
	int mrc = 0;

	if (!(w->want & (BIT(ST_ENTITY) | BIT(ST_ACTIVITY) | BIT(ST_GENERATION) | BIT(ST_COMMUNICATION) |
			 BIT(ST_ASSOCIATION))))
		return;
	prefix_key(x, &key, x->task, x->taskn, NULL, 0, NULL, 0);
	const char *tid = id_str(w, &x->tid);
	dp_scan sc;
	dp_scan_on(&sc, x->c_tests, DP_DB_TESTS, &key, NULL);
	while (!w->rc && (mrc = dp_scan_next(&sc, &k, &v)) == DP_SCAN_ROW) {
		dp_test_row r;
		char rid[40];
		if (!rid_text(&k, key.n, rid) || dp_read_test(&x->drec, &k, &v, &r))
			continue;
		double time = r.time;
		id_copy(w, &x->a, &x->tid);
		id_lit(w, &x->a, "/test/");
		id_lit(w, &x->a, rid);
		const char *aid = id_str(w, &x->a);
		id_copy(w, &x->b, &x->a);
		id_lit(w, &x->b, "/result");
		const char *rid_id = id_str(w, &x->b);
		if (st_begin(w, ST_ACTIVITY, aid, NULL, NULL, NULL, time, time)) {
			AT_TYPES(w, "dnnprov:Testing", "provml:Evaluation");
			st_end(w);
		}
		emit_associations(x, aid, "df:transformation/TestingModel");
		if (st_begin(w, ST_COMMUNICATION, NULL, aid, tid, NULL, NAN, NAN))
			st_end(w);
		if (st_begin(w, ST_ENTITY, rid_id, NULL, NULL, NULL, NAN, NAN)) {
			dp_str name;
			dp_field f;
			AT_TYPES(w, "dnnprov:TestResult", "mls:ModelEvaluation");
			/* Metrics are doubles, as the epochs'. */
			for (size_t i = 0, n = dp_rmap_size(r.metrics); i < n; i++)
				if (dp_rmap_at(r.metrics, i, &name, &f) && (f.type == DP_F_INT || f.type == DP_F_REAL))
					at_double(w, dfa_name(w, &x->name, name.p, name.n), f.d);
			st_end(w);
		}
		if (st_begin(w, ST_GENERATION, NULL, rid_id, aid, NULL, time, NAN))
			st_end(w);
	}
	if (mrc < 0)
		w_fail(w, mrc);
}

/* Scans the task's elements of one (transformation, set): calls `fn` for
 * each, or with fn NULL only widens [*first, *last] over their times and
 * counts them in *n. */
static void scan_elements(ex *x, const elem_set *es, void (*fn)(ex *, const elem_set *, const char *, const dp_element_row *),
			  double *first, double *last, size_t *count)
{
	pw *w = &x->w;
	dp_key key;
	MDB_val k, v;
	int mrc = 0;

	prefix_key(x, &key, es->tf, strlen(es->tf), es->set, strlen(es->set), x->task, x->taskn);
	dp_scan sc;
	dp_scan_on(&sc, x->c_elems, DP_DB_ELEMENTS, &key, NULL);
	while (!w->rc && (mrc = dp_scan_next(&sc, &k, &v)) == DP_SCAN_ROW) {
		dp_element_row r;
		char rid[40];
		if (!rid_text(&k, key.n, rid) || dp_read_element(&x->drec, &k, &v, &r))
			continue;
		if (fn) {
			fn(x, es, rid, &r);
			continue;
		}
		/* Keys are in causal order: the times, from the records. */
		if (*count == 0 || r.time < *first)
			*first = r.time;
		if (*count == 0 || r.time > *last)
			*last = r.time;
		++*count;
	}
	if (mrc < 0)
		w_fail(w, mrc);
}

static void emit_element(ex *x, const elem_set *es, const char *rid, const dp_element_row *r)
{
	pw *w = &x->w;
	const char *uid = id_str(w, &x->uact); /* the activity: set by emit_elements */
	id_copy(w, &x->b, &x->tid);
	id_lit(w, &x->b, "/element/");
	enc(w, &x->b, es->tf, strlen(es->tf), false);
	id_lit(w, &x->b, "/");
	enc(w, &x->b, es->set, strlen(es->set), false);
	id_lit(w, &x->b, "/");
	id_lit(w, &x->b, rid);
	const char *eid = id_str(w, &x->b);
	double time = r->time;
	if (st_begin(w, ST_ENTITY, eid, NULL, NULL, NULL, NAN, NAN)) {
		x->c.len = 0;
		id_lit(w, &x->c, "df:transformation/");
		enc(w, &x->c, es->tf, strlen(es->tf), false);
		id_lit(w, &x->c, "/set/");
		enc(w, &x->c, es->set, strlen(es->set), false);
		at_qname(w, "prov:type", "dnnprov:Element");
		at_qname(w, "dnnprov:schema", id_str(w, &x->c));
		at_map(x, r->values, NULL);
		st_end(w);
	}
	if (es->input ? st_begin(w, ST_USAGE, NULL, uid, eid, NULL, time, NAN)
		      : st_begin(w, ST_GENERATION, NULL, eid, uid, NULL, time, NAN))
		st_end(w);
}

/* Per user-defined transformation with elements of this task: one
 * activity spanning their times, associated like the training; then the
 * elements, used (input sets) or generated (output sets) by it. */
static void emit_elements(ex *x)
{
	pw *w = &x->w;
	const unsigned per_activity = BIT(ST_ACTIVITY) | BIT(ST_ASSOCIATION);
	const unsigned per_element = BIT(ST_ENTITY) | BIT(ST_GENERATION) | BIT(ST_USAGE);
	if (!x->nesets || !(w->want & (per_activity | per_element)))
		return;
	for (size_t i = 0; i < x->nesets && !w->rc;) {
		size_t end = i, count = 0;
		double first = NAN, last = NAN;
		const char *tf = x->esets[i].tf;
		while (end < x->nesets && strcmp(x->esets[end].tf, tf) == 0)
			end++;
		id_copy(w, &x->uact, &x->tid);
		id_lit(w, &x->uact, "/transformation/");
		enc(w, &x->uact, tf, strlen(tf), false);
		const char *uid = id_str(w, &x->uact);
		if (w->want & per_activity) {
			/* Whether the task has elements of tf, and their span. */
			for (size_t s = i; s < end; s++)
				scan_elements(x, &x->esets[s], NULL, &first, &last, &count);
			if (count && st_begin(w, ST_ACTIVITY, uid, NULL, NULL, NULL, first, last)) {
				at_qname(w, "prov:type", "dnnprov:UserTransformation");
				at_cstr(w, "dnnprov:transformation", tf);
				at_str(w, "dnnprov:task", x->task, x->taskn);
				st_end(w);
			}
			if (count) {
				x->c.len = 0;
				id_lit(w, &x->c, "df:transformation/");
				enc(w, &x->c, tf, strlen(tf), false);
				emit_associations(x, uid, id_str(w, &x->c));
			}
		}
		if (w->want & per_element)
			for (size_t s = i; s < end; s++)
				scan_elements(x, &x->esets[s], emit_element, NULL, NULL, NULL);
		i = end;
	}
}

/* An entity's identifier: ent:<algorithm>/<hex>. */
static const char *entity_id(ex *x, dp_str fp)
{
	pw *w = &x->w;
	const char *colon = memchr(fp.p, ':', fp.n);
	size_t an = colon ? (size_t)(colon - fp.p) : 0;
	x->b.len = 0;
	id_lit(w, &x->b, "ent:");
	enc(w, &x->b, fp.p, an, false);
	id_lit(w, &x->b, "/");
	enc(w, &x->b, fp.p + an + 1, fp.n - an - 1, false);
	return id_str(w, &x->b);
}

static bool role_is_model(dp_str role)
{
	return (role.n == 5 && memcmp(role.p, "model", 5) == 0) || (role.n == 10 && memcmp(role.p, "checkpoint", 10) == 0);
}

/* What the task used and generated (docs/LINEAGE.md): each entity once
 * per document (the first record of it says its location and size), and
 * a usage or generation per record, with its role. */
static void emit_lineage(ex *x)
{
	pw *w = &x->w;
	dp_key key;
	dp_scan sc;
	MDB_val k, v;
	dp_lineage_row row;
	int r;

	if (!(w->want & (BIT(ST_ENTITY) | BIT(ST_USAGE) | BIT(ST_GENERATION))))
		return;
	prefix_key(x, &key, x->task, x->taskn, NULL, 0, NULL, 0);
	const char *tid = id_str(w, &x->tid);
	if ((r = dp_scan_open(&sc, x->q->ix, x->q->txn, DP_DB_LINEAGE, &key, NULL))) {
		w_fail(w, r);
		return;
	}
	while (!w->rc && (r = dp_scan_next(&sc, &k, &v)) == DP_SCAN_ROW) {
		if (dp_read_lineage(&x->drec, &k, &v, &row) != 0)
			continue;
		const char *eid = entity_id(x, row.fingerprint);
		void **seen = dp_map_slot(&x->entities, eid, strlen(eid), true);
		if (!seen) {
			w_fail(w, dp_error(DNNPROV_ENOMEM, "out of memory"));
			break;
		}
		if (!*seen && (*seen = x, st_begin(w, ST_ENTITY, eid, NULL, NULL, NULL, NAN, NAN))) {
			if (role_is_model(row.role))
				AT_TYPES(w, "dnnprov:Entity", "mls:Model");
			else
				AT_TYPES(w, "dnnprov:Entity", "mls:Data");
			at_str(w, "dnnprov:fingerprint", row.fingerprint.p, row.fingerprint.n);
			at_str(w, "dnnprov:location", row.location.p, row.location.n);
			if (row.size >= 0)
				at_long(w, "dnnprov:size", row.size);
			st_end(w);
		}
		bool made = row.generated;
		if (st_begin(w, made ? ST_GENERATION : ST_USAGE, NULL, made ? eid : tid, made ? tid : eid, NULL, row.time,
			     NAN)) {
			at_str(w, "prov:role", row.role.p, row.role.n);
			st_end(w);
		}
	}
	dp_scan_close(&sc);
	if (r < 0)
		w_fail(w, r);
}

/* The task of key k (the dataflow, its id) and value v. */
static void emit_task(ex *x, const MDB_val *k, const MDB_val *v)
{
	pw *w = &x->w;
	dp_task_row r;
	bool known = dp_read_task(&x->dtask, k, v, &r) == 0;
	if (!known) { /* shown with what is known: its id */
		memset(&r, 0, sizeof(r));
		r.f.start = r.f.end = r.f.last = NAN;
	}
	/* The key is the dataflow, the task id and its terminator. */
	x->task = (const char *)k->mv_data + x->dfkey.n;
	x->taskn = k->mv_size - x->dfkey.n - 1;
	x->tid.len = 0;
	id_lit(w, &x->tid, "df:task/");
	enc(w, &x->tid, x->task, x->taskn, false);
	emit_training(x, &r, known);
	if (!x->lineage_only) {
		emit_layers(x);
		emit_epochs(x);
		emit_events(x);
	}
	emit_adaptations(x);
	emit_tests(x);
	if (!x->lineage_only)
		emit_elements(x);
	emit_lineage(x);
}

/* One pass: the specification, then every selected task in id order. */
static void emit_all(ex *x)
{
	pw *w = &x->w;
	MDB_val k, v;
	dp_key key;
	int mrc = 0;

	dp_map_clear(&x->agents);
	dp_map_clear(&x->entities);
	if (!x->lineage_only)
		emit_spec(x);
	if (!pass_has_tasks(w->want))
		return; /* nothing per task in this pass */
	if (x->sel || x->filtered) {
		for (size_t i = 0; i < x->nsel && !w->rc; i++) {
			prefix_key(x, &key, x->sel[i], strlen(x->sel[i]), NULL, 0, NULL, 0);
			k = dp_key_val(&key);
			if ((mrc = mdb_get(x->q->txn, x->q->ix->dbi[DP_DB_TASKS], &k, &v)) == 0)
				emit_task(x, &k, &v);
			else if (mrc != MDB_NOTFOUND)
				w_fail(w, dp_lmdb_error(mrc, "tasks"));
			task_done(x);
		}
		return;
	}
	dp_scan sc;
	if ((mrc = dp_scan_open(&sc, x->q->ix, x->q->txn, DP_DB_TASKS, &x->dfkey, NULL))) {
		w_fail(w, mrc);
		return;
	}
	while (!w->rc && (mrc = dp_scan_next(&sc, &k, &v)) == DP_SCAN_ROW) {
		emit_task(x, &k, &v);
		task_done(x);
	}
	if (mrc < 0)
		w_fail(w, mrc);
	dp_scan_close(&sc);
}

/* ---- setup and the document ---------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Whether the export writes task id: x->sel holds the ones --task and
 * --where chose, when either was given. */
static bool task_selected(const ex *x, const char *id)
{
	if (!x->sel && !x->filtered)
		return true;
	return x->nsel && bsearch(&id, x->sel, x->nsel, sizeof(char *), cmp_str);
}

/* The progress total, in records read: each task's record once per pass
 * through the tasks, its epochs once per pass through the epochs.  Counting
 * is one scan of the task records, so only when someone is told. */
static int count_work(ex *x)
{
	dp_scan sc;
	MDB_val k, v;
	uint64_t tasks = 0, epochs = 0, task_passes = 0, epoch_passes = 0;
	int mrc;

	if ((mrc = dp_scan_open(&sc, x->q->ix, x->q->txn, DP_DB_TASKS, &x->dfkey, NULL)))
		return mrc;
	while ((mrc = dp_scan_next(&sc, &k, &v)) == DP_SCAN_ROW) {
		const char *id = (const char *)k.mv_data + x->dfkey.n;
		dp_task_fields f;
		if (!task_selected(x, id))
			continue;
		tasks++;
		if (dp_task_fields_parse(v.mv_data, v.mv_size, &f) == 0)
			epochs += f.epochs;
	}
	dp_scan_close(&sc);
	if (mrc < 0)
		return mrc;
	for (int kind = 0; kind < ST_COUNT; kind++) {
		unsigned want = x->w.fmt == DP_PROV_N ? ALL_KINDS : BIT(kind);
		task_passes += pass_has_tasks(want);
		epoch_passes += pass_reads_epochs(want);
		if (x->w.fmt == DP_PROV_N)
			break;
	}
	x->work.items_total = tasks * task_passes + epochs * epoch_passes;
	return 0;
}

/* Keeps, of the tasks selected so far (all when none), those --where
 * matches, in id order. */
static int filter_tasks(ex *x, const char *where)
{
	dp_qdataflow d;
	dp_where *w = NULL;
	char **keep = NULL;
	size_t n = 0;
	int rc;

	if ((rc = dp_query_load(x->q, x->df, &d)))
		return rc;
	if ((rc = dp_where_compile(where, &d, &w)))
		goto out;
	if (d.ntasks && !(keep = calloc(d.ntasks, sizeof(char *)))) {
		rc = dp_error(DNNPROV_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < d.ntasks; i++) {
		const char *id = d.tasks[i].id;
		if (!task_selected(x, id) || !dp_where_match(w, x->q, &d, &d.tasks[i]))
			continue;
		if (!(keep[n++] = strdup(id))) {
			rc = dp_error(DNNPROV_ENOMEM, "out of memory");
			goto out;
		}
	}
	for (size_t i = 0; i < x->nsel; i++)
		free(x->sel[i]);
	free(x->sel);
	x->sel = keep;
	x->nsel = n;
	x->filtered = true;
	keep = NULL;
out:
	for (size_t i = 0; keep && i < n; i++)
		free(keep[i]);
	free(keep);
	dp_where_free(w);
	dp_qdataflow_free(&d);
	return rc;
}

static int select_tasks(ex *x, const dp_prov_options *o)
{
	if (!o->ntasks)
		return o->where && *o->where ? filter_tasks(x, o->where) : 0;
	x->sel = calloc(o->ntasks, sizeof(char *));
	if (!x->sel)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	for (size_t i = 0; i < o->ntasks; i++)
		if (!(x->sel[x->nsel++] = strdup(o->tasks[i])))
			return dp_error(DNNPROV_ENOMEM, "out of memory");
	if (x->nsel > 1) /* qsort(NULL, 0, ...) is undefined */
		qsort(x->sel, x->nsel, sizeof(char *), cmp_str);
	size_t u = 0;
	for (size_t i = 0; i < x->nsel; i++) {
		if (u && strcmp(x->sel[u - 1], x->sel[i]) == 0) {
			free(x->sel[i]);
			continue;
		}
		x->sel[u++] = x->sel[i];
	}
	x->nsel = u;
	for (size_t i = 0; i < x->nsel; i++) {
		dp_key key;
		MDB_val k, v;
		int mrc;
		if (!dp_tag_valid(x->sel[i], strlen(x->sel[i])))
			return dp_query_no_task(x->q, x->df, x->sel[i]);
		prefix_key(x, &key, x->sel[i], strlen(x->sel[i]), NULL, 0, NULL, 0);
		k = dp_key_val(&key);
		if ((mrc = mdb_get(x->q->txn, x->q->ix->dbi[DP_DB_TASKS], &k, &v)) == MDB_NOTFOUND)
			return dp_query_no_task(x->q, x->df, x->sel[i]);
		if (mrc)
			return dp_lmdb_error(mrc, "tasks");
	}
	return o->where && *o->where ? filter_tasks(x, o->where) : 0;
}

/* export --run: the run and the tasks of its lineage in the dataflow,
 * up and down, as the selection. */
static int select_lineage(ex *x, const char *run)
{
	dp_lgraph g = { 0 };
	size_t start;
	int rc;

	if (!dp_tag_valid(run, strlen(run)))
		return dp_query_no_task(x->q, x->df, run);
	if ((rc = dp_lineage_task(x->q, &g, x->df, run, &start)))
		return rc == DNNPROV_ENOTFOUND ? dp_query_no_task(x->q, x->df, run) : rc;
	if ((rc = dp_lineage_walk(x->q, &g, start, true, 0)) || (rc = dp_lineage_walk(x->q, &g, start, false, 0)))
		goto out;
	x->sel = calloc(g.nnodes + 1, sizeof(char *));
	if (!x->sel) {
		rc = dp_error(DNNPROV_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < g.nnodes; i++) {
		const dp_lnode *n = &g.nodes[i];
		if (n->entity || strcmp(n->df, x->df) != 0)
			continue;
		if (!(x->sel[x->nsel++] = strdup(n->task))) {
			rc = dp_error(DNNPROV_ENOMEM, "out of memory");
			goto out;
		}
	}
	qsort(x->sel, x->nsel, sizeof(char *), cmp_str);
	x->lineage_only = true;
out:
	dp_lgraph_free(&g);
	return rc;
}

static void write_head(ex *x)
{
	pw *w = &x->w;
	x->a.len = 0;
	id_lit(w, &x->a, NS_DF);
	enc(w, &x->a, x->df, strlen(x->df), false);
	id_lit(w, &x->a, "/");
	const char *df_ns = id_str(w, &x->a);
	id_copy(w, &x->b, &x->a);
	id_lit(w, &x->b, "attribute/");
	const char *dfa_ns = id_str(w, &x->b);
	if (w->fmt == DP_PROV_N) {
		/* prov and xsd are predefined in PROV-N. */
		w_puts(w, "document\n  prefix dnnprov <" NS_DNNPROV ">\n  prefix mls <" NS_MLS ">\n  prefix provml <" NS_PROVML
			  ">\n  prefix ent <" NS_ENT ">\n  prefix df <");
		w_puts(w, df_ns);
		w_puts(w, ">\n  prefix dfa <");
		w_puts(w, dfa_ns);
		w_puts(w, ">\n\n");
	} else {
		w_puts(w, "{\n  \"prefix\": {\n    \"prov\": \"" NS_PROV "\",\n    \"xsd\": \"" NS_XSD
			  "\",\n    \"dnnprov\": \"" NS_DNNPROV "\",\n    \"mls\": \"" NS_MLS "\",\n    \"provml\": \"" NS_PROVML
			  "\",\n    \"ent\": \"" NS_ENT "\",\n    \"df\": \"");
		w_puts(w, df_ns); /* encoded: nothing to escape */
		w_puts(w, "\",\n    \"dfa\": \"");
		w_puts(w, dfa_ns);
		w_puts(w, "\"\n  }");
	}
}

static void ex_free(ex *x)
{
	dp_qdataflow_free(&x->spec);
	for (size_t i = 0; i < x->nesets; i++) {
		free(x->esets[i].tf);
		free(x->esets[i].set);
	}
	free(x->esets);
	for (size_t i = 0; i < x->nsel; i++)
		free(x->sel[i]);
	free(x->sel);
	adapted_reset(x);
	free(x->ad);
	dp_map_free(&x->agents);
	dp_map_free(&x->entities);
	dp_buf_free(&x->task_agents);
	dp_decoder_free(&x->dtask);
	dp_decoder_free(&x->drec);
	if (x->c_epochs)
		mdb_cursor_close(x->c_epochs);
	if (x->c_adapt)
		mdb_cursor_close(x->c_adapt);
	if (x->c_tests)
		mdb_cursor_close(x->c_tests);
	if (x->c_elems)
		mdb_cursor_close(x->c_elems);
	dp_buf *bufs[] = { &x->tid, &x->hid, &x->agent, &x->plan, &x->uact, &x->a, &x->b, &x->c, &x->name, &x->w.b };
	for (size_t i = 0; i < DP_ARRAY_LEN(bufs); i++)
		dp_buf_free(bufs[i]);
}

static bool export_bufs_failed(const ex *x)
{
	const dp_buf *bufs[] = { &x->tid, &x->hid, &x->agent, &x->plan, &x->uact, &x->a, &x->b, &x->c, &x->name, &x->w.b };
	for (size_t i = 0; i < DP_ARRAY_LEN(bufs); i++)
		if (bufs[i]->failed)
			return true;
	return false;
}

int dp_prov_export(dp_query *q, const dp_prov_options *o, FILE *out)
{
	ex x;
	MDB_val k, v;
	int rc = 0, mrc;

	memset(&x, 0, sizeof(x));
	x.q = q;
	x.df = o->df;
	x.w.fmt = o->format;
	x.w.f = out;
	x.progress = o->progress;
	x.progress_ctx = o->progress_ctx;
	if (dp_check_tag("dataflow", o->df))
		return dp_error_subject(DNNPROV_ENOTFOUND, "dataflow", "'%s' is not a dataflow name", o->df);
	dp_key_reset(&x.dfkey);
	dp_key_cstr(&x.dfkey, o->df);
	k = dp_key_val(&x.dfkey);
	if ((mrc = mdb_get(q->txn, q->ix->dbi[DP_DB_DATAFLOWS], &k, &v)))
		return mrc == MDB_NOTFOUND ? dp_query_no_dataflow(q, o->df) : dp_lmdb_error(mrc, "dataflows");
	if ((mrc = mdb_cursor_open(q->txn, q->ix->dbi[DP_DB_EPOCHS], &x.c_epochs)) ||
	    (mrc = mdb_cursor_open(q->txn, q->ix->dbi[DP_DB_ADAPTATIONS], &x.c_adapt)) ||
	    (mrc = mdb_cursor_open(q->txn, q->ix->dbi[DP_DB_TESTS], &x.c_tests)) ||
	    (mrc = mdb_cursor_open(q->txn, q->ix->dbi[DP_DB_ELEMENTS], &x.c_elems))) {
		rc = dp_lmdb_error(mrc, "cursor");
		goto out;
	}
	if ((rc = o->run ? select_lineage(&x, o->run) : select_tasks(&x, o)) || (rc = load_spec(&x)) || (rc = load_elem_sets(&x)) ||
	    (x.progress && (rc = count_work(&x))))
		goto out;

	write_head(&x);
	if (o->format == DP_PROV_N) {
		x.w.want = ALL_KINDS;
		emit_all(&x);
		w_puts(&x.w, "endDocument\n");
	} else {
		for (int k2 = 0; k2 < ST_COUNT && !x.w.rc; k2++) {
			x.w.want = BIT(k2);
			x.w.section_open = false;
			emit_all(&x);
			if (x.w.section_open)
				w_puts(&x.w, "\n  }");
		}
		w_puts(&x.w, "\n}\n");
	}
	w_flush(&x.w);
	if (!x.w.rc && fflush(out) != 0)
		w_fail(&x.w, dp_error_errno(errno ? errno : EIO, "cannot write the export"));
	rc = x.w.rc ? dp_error(x.w.rc, "%s", x.w.why) : 0;
	if (rc && (q->read_error || q->dec.out_of_memory))
		rc = dp_query_check(q); /* the cause of what followed */
	/* Undecodable values are skipped as damage; for want of memory they
	 * would make a document that silently misses statements. */
	if (!rc && (x.dtask.out_of_memory || x.drec.out_of_memory || q->dec.out_of_memory || export_bufs_failed(&x)))
		rc = dp_error(DNNPROV_ENOMEM, "out of memory: the document is incomplete");
	if (!rc)
		rc = dp_query_check(q);
out:
	ex_free(&x);
	return rc;
}
