/*
 * runs.c - the runs receive records: which run a task POST belongs to, the
 * writer it holds for it, the records a POST makes, the state file that
 * lets a later receive go on, and letting idle runs go (receive.h has the
 * rules).
 *
 * One lock serializes every POST: DfAnalyzer's clients wait for each
 * answer, so POSTs come one at a time per program, and a few programs at
 * once cost nothing worth a finer lock.
 *
 * A run's state file (runs/<task>.json in the dataflow's .dfanalyzer
 * folder) holds what the logs cannot say: the exec, whether it is its
 * dataflow's current anonymous run, the status of each DfAnalyzer task id
 * in it, and the start not written yet with the layers that wait for it
 * ("attempt": the attempt that start makes, so that a receive killed after
 * writing it but before replacing the file does not write it twice).
 */
#include <dirent.h>
#include <stdarg.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "logger/history.h"
#include "receive/internal.h"

#define RUNS_DIR "runs"

typedef enum start_kind { START_NONE = 0, START_BEGIN, START_RESUME } start_kind;

typedef struct rcv_run {
	struct rcv_run *next;
	rcv_dataflow *df;      /* the declaration its writer records */
	char *task;            /* the dnnprov task id */
	char *exec;            /* NULL: an anonymous run */
	bool current;          /* its dataflow's current anonymous run */
	double created;        /* wall clock: orders anonymous runs after a restart */
	dnnprov_task *w;
	json_t *ids;           /* DfAnalyzer task id -> "RUNNING" or "FINISHED" */
	bool training_seen;    /* a TrainingModel task posted to it */
	start_kind pending;    /* a start not written yet */
	uint64_t pending_attempt;
	json_t *pending_layers; /* [[name, kind, value], ...] waiting for the start */
	bool needs_resume;     /* its writer was reopened while it was running */
	dp_task_phase phase;
	uint64_t attempts;
	bool has_epoch;
	int64_t last_epoch;
	double last_post;      /* monotonic */
	char *written;         /* the state file's text as last written */
} rcv_run;

struct rcv_core {
	pthread_mutex_t lock;
	rcv_mode mode;
	char *log_dir, *config_path, *config_dataflow;
	char *files_dir; /* absolute, resolved; NULL: FILE values are values only */
	double lease_s;
	rcv_run *runs;
	rcv_dataflow **dfs; /* the latest of each dataflow loaded */
	size_t ndfs;
	size_t reopened;
	void (*log)(void *, const char *);
	void *log_ctx;
};

static void say(rcv_core *c, const char *fmt, ...) DP_PRINTF(2, 3);
static void say(rcv_core *c, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	if (!c->log)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	c->log(c->log_ctx, line);
}

/* ---- dataflows ------------------------------------------------------------------------ */

static rcv_dataflow *df_cached(rcv_core *c, const char *tag)
{
	const char *folder = c->config_dataflow ? c->config_dataflow : tag;
	for (size_t i = 0; i < c->ndfs; i++)
		if (strcmp(c->dfs[i]->tag, folder) == 0)
			return c->dfs[i];
	return NULL;
}

/* Makes df (a new reference) the latest of its dataflow. */
static int df_remember(rcv_core *c, rcv_dataflow *df)
{
	for (size_t i = 0; i < c->ndfs; i++)
		if (strcmp(c->dfs[i]->tag, df->tag) == 0) {
			rcv_dataflow_release(c->dfs[i]);
			c->dfs[i] = df;
			return 0;
		}
	rcv_dataflow **grown = realloc(c->dfs, (c->ndfs + 1) * sizeof(*grown));
	if (!grown)
		return DNNPROV_ENOMEM;
	c->dfs = grown;
	c->dfs[c->ndfs++] = df;
	return 0;
}

/* The latest declaration of a dataflow, from memory or its folder; *out
 * NULL when it was never declared. */
static unsigned df_get(rcv_core *c, const char *tag, rcv_dataflow **out, rcv_answer *a)
{
	unsigned st;
	if ((*out = df_cached(c, tag)))
		return 0;
	if ((st = rcv_dataflow_load(&c->mode, tag, out, a)) || !*out)
		return st;
	if (df_remember(c, *out)) {
		rcv_dataflow_release(*out);
		*out = NULL;
		return rcv_fail(a, 500, NULL, "out of memory");
	}
	return 0;
}

/* ---- state files ------------------------------------------------------------------------ */

static char *runs_dir(rcv_core *c, const char *df)
{
	char *state = rcv_state_dir(&c->mode, df), *dir = state ? dp_path_join(state, RUNS_DIR) : NULL;
	free(state);
	return dir;
}

static json_t *state_of(const rcv_run *r)
{
	json_t *pending = json_null();
	if (r->pending || json_array_size(r->pending_layers))
		pending = json_pack("{s:s, s:I, s:O}", "start", r->pending == START_RESUME ? "resume" : "begin",
				    "attempt", (json_int_t)r->pending_attempt, "layers", r->pending_layers);
	return json_pack("{s:s, s:s?, s:b, s:f, s:O, s:b, s:o*}", "task", r->task, "exec", r->exec, "current",
			 r->current, "created", r->created, "ids", r->ids, "training", r->training_seen, "pending",
			 pending);
}

/* Replaces the run's state file when what it says changed. */
static int state_save(rcv_core *c, rcv_run *r)
{
	json_t *s = state_of(r);
	char *text = s ? json_dumps(s, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	char name[DNNPROV_NAME_MAX + 8], *dir = runs_dir(c, r->df->tag);
	int rc = 0;
	json_decref(s);
	if (!text || !dir) {
		rc = dp_error(DNNPROV_ENOMEM, "out of memory");
	} else if (!r->written || strcmp(r->written, text) != 0) {
		snprintf(name, sizeof(name), "%s.json", r->task);
		if ((rc = rcv_write_file(dir, name, text, strlen(text))) == 0) {
			free(r->written);
			r->written = text;
			text = NULL;
		}
	}
	free(text);
	free(dir);
	return rc;
}

static void state_remove(rcv_core *c, rcv_run *r)
{
	char *dir = runs_dir(c, r->df->tag), path[4096];
	if (dir && snprintf(path, sizeof(path), "%s/%s.json", dir, r->task) < (int)sizeof(path))
		unlink(path);
	free(dir);
}

/* ---- runs and their writers ------------------------------------------------------------- */

static void run_free(rcv_run *r)
{
	if (r->w)
		dnnprov_task_close(r->w);
	rcv_dataflow_release(r->df);
	json_decref(r->ids);
	json_decref(r->pending_layers);
	free(r->task);
	free(r->exec);
	free(r->written);
	free(r);
}

/* Reads what the task's logs say: its phase, attempts and last epoch. */
static int run_read_history(rcv_core *c, rcv_run *r)
{
	char *df = dp_path_join(c->log_dir, r->df->tag), *dir = df ? dp_path_join(df, r->task) : NULL;
	dp_task_history h;
	int rc = dir ? dp_task_history_read(dir, true, &h) : dp_error(DNNPROV_ENOMEM, "out of memory");
	free(df);
	free(dir);
	if (rc)
		return rc;
	r->phase = h.phase;
	r->attempts = h.attempts;
	r->has_epoch = h.has_epoch;
	r->last_epoch = h.last_epoch;
	dp_task_history_free(&h);
	return 0;
}

/* Opens the run's writer (with the run's declaration) and learns the
 * task's state from its logs; a run that was running gets a resume before
 * its next record. */
static int run_open_writer(rcv_core *c, rcv_run *r, const char *label)
{
	int rc = r->task ? dnnprov_task_open(r->df->cfg, r->task, &r->w)
			 : dnnprov_task_open_new(r->df->cfg, label, &r->w);
	if (rc)
		return rc;
	/* A message is checked whole before its first append: a name it does
	 * not declare refuses the message, never a part of it. */
	dnnprov_task_strict(r->w, 1);
	if (!r->task && !(r->task = strdup(dnnprov_task_id(r->w))))
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	if ((rc = run_read_history(c, r)))
		return rc;
	if (r->pending && r->attempts >= r->pending_attempt) {
		/* Written by a receive killed before it replaced the state file. */
		r->pending = START_NONE;
		json_array_clear(r->pending_layers);
	}
	r->needs_resume = r->phase == DP_PHASE_RUNNING && !r->pending;
	return 0;
}

static rcv_run *run_new(rcv_dataflow *df, const char *task, const char *exec)
{
	rcv_run *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	df->refs++;
	r->df = df;
	r->ids = json_object();
	r->pending_layers = json_array();
	r->created = dp_now();
	r->last_post = dp_monotonic();
	r->task = task ? strdup(task) : NULL;
	r->exec = exec ? strdup(exec) : NULL;
	if (!r->ids || !r->pending_layers || (task && !r->task) || (exec && !r->exec)) {
		run_free(r);
		return NULL;
	}
	return r;
}

static void run_link(rcv_core *c, rcv_run *r)
{
	r->next = c->runs;
	c->runs = r;
}

static void run_unlink(rcv_core *c, rcv_run *r)
{
	for (rcv_run **p = &c->runs; *p; p = &(*p)->next)
		if (*p == r) {
			*p = r->next;
			return;
		}
}

static rcv_run *run_of_exec(rcv_core *c, const rcv_dataflow *df, const char *exec)
{
	for (rcv_run *r = c->runs; r; r = r->next)
		if (r->exec && strcmp(r->df->tag, df->tag) == 0 && strcmp(r->exec, exec) == 0)
			return r;
	return NULL;
}

static rcv_run *current_anonymous(rcv_core *c, const rcv_dataflow *df)
{
	for (rcv_run *r = c->runs; r; r = r->next)
		if (!r->exec && r->current && strcmp(r->df->tag, df->tag) == 0)
			return r;
	return NULL;
}

static unsigned writer_status(int rc)
{
	return rc == DNNPROV_ELOCKED ? 409 : rc == DNNPROV_ENOSPC ? 507 : 500;
}

/* Moves a run to the dataflow's latest declaration: its writer is opened
 * again with it, and a run that is running resumes (the resume's spec
 * record carries the new declaration). */
static int run_switch(rcv_core *c, rcv_run *r, rcv_dataflow *df)
{
	int rc = 0;
	if (r->w)
		rc = dnnprov_task_close(r->w);
	r->w = NULL;
	rcv_dataflow_release(r->df);
	df->refs++;
	r->df = df;
	return rc ? rc : run_open_writer(c, r, NULL);
}

/* The run of an exec: in memory, or opened (its logs say where it stands). */
static unsigned run_for_exec(rcv_core *c, rcv_dataflow *df, const char *exec, rcv_run **out, rcv_answer *a)
{
	rcv_run *r = run_of_exec(c, df, exec);
	int rc;
	if (r && r->df != df && (rc = run_switch(c, r, df)))
		return rcv_fail(a, writer_status(rc), "exec", "%s", dnnprov_errmsg());
	if (r && !r->w && (rc = run_open_writer(c, r, NULL)))
		return rcv_fail(a, writer_status(rc), "exec", "%s", dnnprov_errmsg());
	if (!r) {
		if (!(r = run_new(df, exec, exec)))
			return rcv_fail(a, 500, NULL, "out of memory");
		if ((rc = run_open_writer(c, r, NULL))) {
			run_free(r);
			return rcv_fail(a, writer_status(rc), "exec", "%s", dnnprov_errmsg());
		}
		run_link(c, r);
	}
	*out = r;
	return 0;
}

static const char *id_status(const rcv_run *r, const char *id)
{
	return r ? json_string_value(json_object_get(r->ids, id)) : NULL;
}

/* The anonymous run a task without exec belongs to: the current one, or a
 * new one when there is none or the task begins under an id it has seen
 * finish (the next run of a program that reuses its ids). */
static unsigned run_for_anonymous(rcv_core *c, rcv_dataflow *df, const rcv_message *m, rcv_run **out,
				  rcv_answer *a)
{
	rcv_run *r = current_anonymous(c, df);
	const char *was = id_status(r, m->id);
	int rc;
	if (r && !(was && strcmp(was, "FINISHED") == 0)) {
		if (r->df != df && (rc = run_switch(c, r, df)))
			return rcv_fail(a, writer_status(rc), NULL, "%s", dnnprov_errmsg());
		if (!r->w && (rc = run_open_writer(c, r, NULL)))
			return rcv_fail(a, writer_status(rc), NULL, "%s", dnnprov_errmsg());
		*out = r;
		return 0;
	}
	if (r) {
		r->current = false;
		if ((rc = state_save(c, r)))
			return rcv_fail(a, writer_status(rc), NULL, "%s", dnnprov_errmsg());
	}
	char label[49];
	snprintf(label, sizeof(label), "%s", m->transformation);
	if (!(r = run_new(df, NULL, NULL)))
		return rcv_fail(a, 500, NULL, "out of memory");
	r->current = true;
	if ((rc = run_open_writer(c, r, dp_check_tag("task label", label) ? NULL : label))) {
		run_free(r);
		return rcv_fail(a, writer_status(rc), NULL, "%s", dnnprov_errmsg());
	}
	run_link(c, r);
	*out = r;
	return 0;
}

/* ---- recording ------------------------------------------------------------------------- */

/* The run facts are the client's, not this process's: what the library
 * would learn of receive itself is left out. */
static int set_facts(rcv_run *r, const rcv_message *m)
{
	dnnprov_value f[] = {
		{ .name = "command" }, { .name = "cwd" }, { .name = "git_commit" }, { .name = "git_branch" },
		{ .name = "accelerator" }, { .name = "workspace" }, { .name = "resource" },
	};
	size_t n = 5;
	if (m && m->workspace && *m->workspace)
		f[n++] = DNNPROV_V_TEXT("workspace", m->workspace);
	if (m && m->resource && *m->resource)
		f[n++] = DNNPROV_V_TEXT("resource", m->resource);
	return dnnprov_task_facts(r->w, f, n);
}

static int write_layers(rcv_run *r, json_t *layers)
{
	size_t n = json_array_size(layers), i;
	json_t *l;
	if (!n)
		return 0;
	dnnprov_layer *ls = calloc(n, sizeof(*ls));
	if (!ls)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	json_array_foreach(layers, i, l) {
		json_t *v = json_array_get(l, 2);
		ls[i].name = json_string_value(json_array_get(l, 0));
		ls[i].kind = json_string_value(json_array_get(l, 1));
		ls[i].value.type = json_is_integer(v) ? DNNPROV_INT : json_is_real(v) ? DNNPROV_REAL
				 : json_is_string(v) ? DNNPROV_TEXT : DNNPROV_NULL;
		if (json_is_integer(v))
			ls[i].value.as.i = json_integer_value(v);
		else if (json_is_real(v))
			ls[i].value.as.r = json_real_value(v);
		else if (json_is_string(v))
			ls[i].value.as.s = json_string_value(v);
	}
	int rc = dnnprov_task_layers(r->w, ls, n);
	free(ls);
	return rc;
}

static json_t *layer_json(const dnnprov_layer *l)
{
	json_t *v = l->value.type == DNNPROV_INT ? json_integer(l->value.as.i)
		  : l->value.type == DNNPROV_REAL ? (isfinite(l->value.as.r) ? json_real(l->value.as.r) : json_null())
		  : l->value.type == DNNPROV_TEXT ? json_string(l->value.as.s) : json_null();
	return json_pack("[s, s, o]", l->name, l->kind, v);
}

/* Writes the run's start (begin, or resume), with the hyperparameters of
 * `hyps` when given, then the layers that waited for it. */
static int write_start(rcv_run *r, const rcv_message *m, const rcv_action *hyps, size_t *records)
{
	const dnnprov_value *v = hyps ? hyps->values : NULL;
	size_t n = hyps ? hyps->nvalues : 0;
	int rc = set_facts(r, m);
	if (!rc)
		rc = r->phase == DP_PHASE_NEW ? dnnprov_task_begin(r->w, v, n)
					      : dnnprov_task_resume(r->w, DNNPROV_NEXT_EPOCH, v, n);
	if (rc)
		return rc;
	(*records)++;
	r->phase = DP_PHASE_RUNNING;
	r->attempts++;
	r->pending = START_NONE;
	r->needs_resume = false;
	if (json_array_size(r->pending_layers)) {
		if ((rc = write_layers(r, r->pending_layers)))
			return rc;
		(*records)++;
		json_array_clear(r->pending_layers);
	}
	return 0;
}

/* The FILE values of an element that name a file or folder under
 * --files: each the entity it names, used by an input set, generated by
 * an output set.  A client names files of this machine only there; any
 * other path (another machine's, outside it, through a link that leaves
 * it) stays the element's value, as without --files. */
static int write_file_entities(const rcv_core *c, rcv_run *r, const rcv_action *act, size_t *records)
{
	const dp_transformation *tf = dp_config_transformation(r->df->cfg, act->set->tf_name);
	const dp_set *set = tf ? dp_transformation_set(tf, act->set->set_name) : NULL;
	size_t root = strlen(c->files_dir);
	int rc = 0;

	for (size_t i = 0; set && i < act->nvalues && !rc; i++) {
		const dnnprov_value *v = &act->values[i];
		const dp_attr *at = NULL;
		for (size_t k = 0; k < set->nattrs && !at; k++)
			if (strcmp(set->attrs[k].name, v->name) == 0)
				at = &set->attrs[k];
		if (!at || at->type != DP_ATTR_FILE || v->type != DNNPROV_TEXT || !*v->as.s)
			continue;
		dp_buf path = { 0 };
		if (v->as.s[0] != '/')
			dp_buf_printf(&path, "%s/", c->files_dir);
		dp_buf_printf(&path, "%s", v->as.s);
		char *real = path.failed ? NULL : realpath(dp_buf_cstr(&path), NULL);
		dp_buf_free(&path);
		if (real && strncmp(real, c->files_dir, root) == 0 && (real[root] == '/' || (root == 1 && real[0] == '/'))) {
			rc = set->is_input ? dnnprov_task_used(r->w, v->name, real, 0) : dnnprov_task_generated(r->w, v->name, real, 0);
			if (rc == DNNPROV_EIO || rc == DNNPROV_EINVAL)
				rc = 0; /* not a file that can be read (a FIFO, gone): the value says it */
			else if (!rc)
				(*records)++;
		}
		free(real);
	}
	return rc;
}

static int write_action(const rcv_core *c, rcv_run *r, const rcv_action *act, size_t *records)
{
	int rc = 0;
	switch (act->kind) {
	case ACT_HYPERPARAMETERS:
		return 0; /* taken by the start */
	case ACT_LAYER:
		rc = dnnprov_task_layers(r->w, &act->layer, 1);
		break;
	case ACT_EPOCH: {
		int64_t e = act->has_epoch ? act->epoch : r->has_epoch ? r->last_epoch + 1 : 1;
		rc = dnnprov_task_epoch(r->w, e, act->elapsed, act->values, act->nvalues);
		if (!rc && (!r->has_epoch || e > r->last_epoch)) {
			r->last_epoch = e;
			r->has_epoch = true;
		}
		break;
	}
	case ACT_ADAPT:
		rc = dnnprov_task_adapt(r->w, act->epoch, &act->new_lr);
		break;
	case ACT_TEST:
		rc = dnnprov_task_test(r->w, act->values, act->nvalues);
		break;
	case ACT_ELEMENT:
		rc = dnnprov_task_element(r->w, act->set->tf_name, act->set->set_name, act->values, act->nvalues);
		if (!rc && c->files_dir) {
			(*records)++;
			return write_file_entities(c, r, act, records);
		}
		break;
	}
	if (!rc)
		(*records)++;
	return rc;
}

static bool any_running(const rcv_run *r)
{
	const char *k;
	json_t *v;
	json_object_foreach(r->ids, k, v)
		if (strcmp(json_string_value(v), "RUNNING") == 0)
			return true;
	return false;
}

/* Applies a checked message to its run: everything that can refuse it is
 * decided before the first append. */
static unsigned run_apply(rcv_core *c, rcv_run *r, const rcv_message *m, rcv_answer *a)
{
	const char *was = id_status(r, m->id);
	bool begins = !was || strcmp(was, "RUNNING") != 0;
	bool ends = m->status == RCV_FINISHED;
	bool training = rcv_is_training(m->transformation);
	const rcv_action *hyps = NULL;
	bool layers_only = true;
	size_t records = 0;
	int rc = 0;

	for (size_t i = 0; i < m->nactions; i++) {
		if (m->actions[i].kind == ACT_HYPERPARAMETERS)
			hyps = &m->actions[i];
		layers_only &= m->actions[i].kind == ACT_LAYER;
	}
	/* A second fit under one exec: TrainingModel begins again after the
	 * run ended, a new attempt with the values it posts. */
	start_kind pending = r->pending;
	if (training && begins && r->phase == DP_PHASE_ENDED && !pending)
		pending = START_RESUME;
	bool start_open = r->phase == DP_PHASE_NEW || pending == START_RESUME;
	if (hyps && !start_open)
		return rcv_fail(a, 409, "sets",
				"run '%s' recorded its hyperparameters when it began: a value that changes during "
				"training is an adaptation (oadaptation)", r->task);
	if (m->training_data && r->phase == DP_PHASE_ENDED && pending != START_RESUME)
		return rcv_fail(a, 409, "sets",
				"run '%s' has ended: training records need trainingmodel to begin again "
				"(status RUNNING)", r->task);
	bool ending = false;
	if (ends) {
		/* Whether, once this task is FINISHED, nothing else runs. */
		json_t *saved = json_incref(json_object_get(r->ids, m->id));
		json_object_set_new(r->ids, m->id, json_string("FINISHED"));
		ending = ends && (training || (!r->training_seen && !any_running(r)));
		if (saved)
			json_object_set_new(r->ids, m->id, saved);
		else
			json_object_del(r->ids, m->id);
	}

	if (begins && r->phase == DP_PHASE_NEW && !pending)
		pending = START_BEGIN;
	if (pending && !r->pending)
		r->pending_attempt = r->attempts + 1;
	r->pending = pending;

	bool defer = (r->phase == DP_PHASE_NEW || r->pending == START_RESUME) && layers_only && !ending;
	if (defer) {
		for (size_t i = 0; i < m->nactions; i++) {
			json_t *l = layer_json(&m->actions[i].layer);
			if (!l || json_array_append_new(r->pending_layers, l))
				return rcv_fail(a, 500, NULL, "out of memory");
		}
	} else if (m->nactions || ending) {
		bool need_start = r->phase == DP_PHASE_NEW || r->pending == START_RESUME ||
				  (r->needs_resume && r->phase == DP_PHASE_RUNNING);
		if (need_start)
			rc = write_start(r, m, hyps, &records);
		for (size_t i = 0; !rc && i < m->nactions; i++)
			rc = write_action(c, r, &m->actions[i], &records);
		if (!rc && ending && r->phase == DP_PHASE_RUNNING) {
			rc = dnnprov_task_end(r->w, DNNPROV_FINISHED, m->error && *m->error ? m->error : NULL);
			if (!rc) {
				records++;
				r->phase = DP_PHASE_ENDED;
			}
		}
	}
	if (rc)
		return rcv_fail(a, writer_status(rc), NULL, "run '%s': %s (%zu records of this message were written)",
				r->task, dnnprov_errmsg(), records);
	r->training_seen |= training;
	json_object_set_new(r->ids, m->id, json_string(ends ? "FINISHED" : "RUNNING"));
	if ((rc = state_save(c, r)))
		return rcv_fail(a, writer_status(rc), NULL, "%s", dnnprov_errmsg());
	json_t *o = json_pack("{s:s, s:s, s:s?, s:I, s:I, s:s}", "dataflow", r->df->tag, "task", r->task, "exec",
			      r->exec, "records", (json_int_t)records, "waiting",
			      (json_int_t)json_array_size(r->pending_layers), "state",
			      r->phase == DP_PHASE_ENDED ? "ended" : r->phase == DP_PHASE_RUNNING ? "running" : "new");
	return rcv_ok(a, o);
}

/* ---- the two POSTs ------------------------------------------------------------------------ */

void rcv_core_task(rcv_core *c, const char *body, size_t len, rcv_answer *a)
{
	rcv_message m;
	rcv_dataflow *df;
	rcv_run *r = NULL;
	json_t *j;

	if (rcv_parse_json(body, len, &j, a))
		return;
	if (rcv_message_parse(j, &m, a)) {
		rcv_message_free(&m);
		return;
	}
	pthread_mutex_lock(&c->lock);
	if (!rcv_dataflow_is_mine(&c->mode, m.dataflow)) {
		rcv_fail(a, 422, "dataflow", "dataflow '%s' is not the one of %s ('%s')", m.dataflow,
			 c->config_path, c->config_dataflow);
	} else if (df_get(c, m.dataflow, &df, a) == 0) {
		if (!df)
			rcv_fail(a, 409, "dataflow",
				 "dataflow '%s' has not been declared to this receiver: POST /pde/dataflow/json "
				 "first (dfa-lib-python: Dataflow.save())", m.dataflow);
		else if (rcv_message_plan(&m, df, a) == 0 &&
			 (m.exec ? run_for_exec(c, df, m.exec, &r, a) : run_for_anonymous(c, df, &m, &r, a)) == 0) {
			r->last_post = dp_monotonic();
			run_apply(c, r, &m, a);
		}
	}
	pthread_mutex_unlock(&c->lock);
	rcv_message_free(&m);
}

void rcv_core_dataflow(rcv_core *c, const char *body, size_t len, rcv_answer *a)
{
	rcv_dataflow *df, *old = NULL;
	json_t *j;

	if (rcv_parse_json(body, len, &j, a))
		return;
	pthread_mutex_lock(&c->lock);
	json_t *tag = json_object_get(j, "tag");
	if (json_is_string(tag) && rcv_dataflow_is_mine(&c->mode, json_string_value(tag)) &&
	    dp_check_tag("dataflow", json_string_value(tag)) == 0 && df_get(c, json_string_value(tag), &old, a))
		goto out;
	if (rcv_declare(&c->mode, j, old, &df, a))
		goto out;
	if (df_remember(c, df)) {
		rcv_dataflow_release(df);
		rcv_fail(a, 500, NULL, "out of memory");
		goto out;
	}
	/* A program declares its dataflow first: its tasks without exec start
	 * a new anonymous run. */
	rcv_run *r = current_anonymous(c, df);
	if (r) {
		r->current = false;
		int rc = state_save(c, r);
		if (rc) {
			rcv_fail(a, writer_status(rc), NULL, "%s", dnnprov_errmsg());
			goto out;
		}
	}
	char yaml[4096];
	snprintf(yaml, sizeof(yaml), "%s/%s/.dfanalyzer/dataflow.yaml", c->log_dir, df->tag);
	rcv_ok(a, json_pack("{s:s, s:I, s:s}", "dataflow", df->tag, "transformations",
			    (json_int_t)json_array_size(json_object_get(df->decl, "transformations")), "experiment",
			    c->config_path ? c->config_path : yaml));
out:
	pthread_mutex_unlock(&c->lock);
	json_decref(j);
}

/* ---- letting go, starting again ------------------------------------------------------- */

/* A run the client stopped posting to: the start it waited for is written
 * (so that the run shows), its writer closed without an end (LOST by the
 * standard rule when it was running), its state file removed. */
static void let_go(rcv_core *c, rcv_run *r)
{
	size_t records = 0;
	if (r->w && r->phase == DP_PHASE_NEW && (r->pending || json_array_size(r->pending_layers)) &&
	    write_start(r, NULL, NULL, &records))
		say(c, "run '%s' of dataflow '%s': %s", r->task ? r->task : "?", r->df->tag, dnnprov_errmsg());
	if (r->task)
		state_remove(c, r);
	run_unlink(c, r);
	run_free(r);
}

void rcv_core_expire(rcv_core *c)
{
	pthread_mutex_lock(&c->lock);
	double now = dp_monotonic();
	for (rcv_run *r = c->runs, *next; r; r = next) {
		next = r->next;
		if (now - r->last_post >= c->lease_s)
			let_go(c, r);
	}
	pthread_mutex_unlock(&c->lock);
}

/* Reopens one run from its state file. */
static void reopen(rcv_core *c, rcv_dataflow *df, const char *path)
{
	json_error_t e;
	json_t *s = json_load_file(path, JSON_REJECT_DUPLICATES, &e), *pending;
	const char *task = NULL, *exec = NULL;
	int current = 0, training = 0;
	double created = 0;
	json_t *ids = NULL;
	rcv_run *r = NULL;

	if (!s || json_unpack_ex(s, &e, 0, "{s:s, s?s, s:b, s:F, s:o, s:b, s?o}", "task", &task, "exec", &exec,
				 "current", &current, "created", &created, "ids", &ids, "training", &training,
				 "pending", &pending) != 0 ||
	    !json_is_object(ids) || dp_check_tag("task id", task)) {
		say(c, "%s: not a run's state (%s): left alone", path, e.text);
		json_decref(s);
		return;
	}
	if (!(r = run_new(df, task, exec))) {
		json_decref(s);
		return;
	}
	json_decref(r->ids);
	r->ids = json_incref(ids);
	r->current = current;
	r->created = created;
	r->training_seen = training;
	json_t *start = json_object_get(pending, "start"), *layers = json_object_get(pending, "layers");
	if (json_is_string(start)) {
		r->pending = strcmp(json_string_value(start), "resume") == 0 ? START_RESUME : START_BEGIN;
		r->pending_attempt = (uint64_t)json_integer_value(json_object_get(pending, "attempt"));
	}
	if (json_is_array(layers)) {
		json_decref(r->pending_layers);
		r->pending_layers = json_incref(layers);
	}
	json_decref(s);
	if (run_open_writer(c, r, NULL)) {
		say(c, "run '%s' of dataflow '%s' is not reopened: %s", task, df->tag, dnnprov_errmsg());
		run_free(r);
		return;
	}
	run_link(c, r);
	c->reopened++;
}

/* Two anonymous runs that both claim to be current (a kill between the
 * two state files): the later one is. */
static void one_current(rcv_core *c)
{
	for (rcv_run *r = c->runs; r; r = r->next)
		for (rcv_run *o = c->runs; o; o = o->next)
			if (r != o && !r->exec && !o->exec && r->current && o->current &&
			    strcmp(r->df->tag, o->df->tag) == 0 && o->created > r->created)
				r->current = false;
}

static void reopen_dataflow(rcv_core *c, const char *tag)
{
	rcv_answer a = { 0 };
	rcv_dataflow *df;
	char *dir = runs_dir(c, tag);
	DIR *d = dir ? opendir(dir) : NULL;
	struct dirent *e;

	if (!d)
		goto out;
	if (df_get(c, tag, &df, &a) || !df) {
		say(c, "dataflow '%s': open runs are not reopened: %s", tag,
		    a.body ? a.body : "its declaration (dataflow.json) is missing");
		goto out;
	}
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		char path[4096];
		if (e->d_name[0] == '.' || n < 6 || strcmp(e->d_name + n - 5, ".json") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		reopen(c, df, path);
	}
out:
	if (d)
		closedir(d);
	free(dir);
	free(a.body);
}

int rcv_core_open(const rcv_mode *m, uint64_t lease_ms, void (*log)(void *, const char *), void *log_ctx,
		  rcv_core **out)
{
	rcv_core *c = calloc(1, sizeof(*c));
	*out = NULL;
	if (!c)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	pthread_mutex_init(&c->lock, NULL);
	c->lease_s = (double)(lease_ms ? lease_ms : DP_RECEIVE_DEFAULT_LEASE_MS) / 1000.0;
	c->log = log;
	c->log_ctx = log_ctx;
	c->log_dir = strdup(m->log_dir);
	c->config_path = m->config_path ? strdup(m->config_path) : NULL;
	c->config_dataflow = m->config_dataflow ? strdup(m->config_dataflow) : NULL;
	if (m->files_dir && !(c->files_dir = realpath(m->files_dir, NULL))) {
		int rc = dp_error_errno(errno, "--files %s", m->files_dir);
		rcv_core_close(c);
		return rc;
	}
	if (!c->log_dir || (m->config_path && !c->config_path) || (m->config_dataflow && !c->config_dataflow)) {
		rcv_core_close(c);
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	}
	c->mode = (rcv_mode){ c->log_dir, c->config_path, c->config_dataflow, c->files_dir };
	if (c->config_dataflow) {
		reopen_dataflow(c, c->config_dataflow);
	} else {
		DIR *d = opendir(c->log_dir);
		struct dirent *e;
		while (d && (e = readdir(d)))
			if (e->d_name[0] != '.' && dp_tag_valid(e->d_name, strlen(e->d_name)))
				reopen_dataflow(c, e->d_name);
		if (d)
			closedir(d);
	}
	one_current(c);
	*out = c;
	return 0;
}

size_t rcv_core_reopened(const rcv_core *c)
{
	return c->reopened;
}

void rcv_core_close(rcv_core *c)
{
	if (!c)
		return;
	/* Writers closed without an end, state files kept: the next receive
	 * goes on with these runs. */
	while (c->runs) {
		rcv_run *r = c->runs;
		c->runs = r->next;
		run_free(r);
	}
	for (size_t i = 0; i < c->ndfs; i++)
		rcv_dataflow_release(c->dfs[i]);
	free(c->dfs);
	free(c->log_dir);
	free(c->config_path);
	free(c->config_dataflow);
	free(c->files_dir);
	pthread_mutex_destroy(&c->lock);
	free(c);
}
