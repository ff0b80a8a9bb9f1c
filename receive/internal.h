/*
 * internal.h - what the files of receive/ share: declarations and the plan
 * made from them (decl.c), task messages checked against a plan (task.c),
 * the runs and their writers (runs.c), the HTTP side (http.c).
 */
#ifndef DNNPROV_RECEIVE_INTERNAL_H
#define DNNPROV_RECEIVE_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "receive/receive.h"

/* ---- answers ------------------------------------------------------------------------ */

/* What a POST is answered: a status and a JSON body (malloc'd). */
typedef struct rcv_answer {
	unsigned status;
	char *body;
	size_t len;
} rcv_answer;

/* An error answer {"error": why, "field": field or null}; returns status. */
DP_INTERNAL unsigned rcv_fail(rcv_answer *a, unsigned status, const char *field, const char *fmt, ...)
	DP_PRINTF(4, 5);
/* A success: 200 with the object o (stolen). */
DP_INTERNAL unsigned rcv_ok(rcv_answer *a, json_t *o);

/* A field path for messages: "sets[0].elements[1][2]". */
typedef struct rcv_path {
	char s[160];
} rcv_path;
DP_INTERNAL const char *rcv_at(rcv_path *p, const char *fmt, ...) DP_PRINTF(2, 3);

/* ---- declarations and plans (decl.c) ---------------------------------------------- */

/* What an attribute of a set becomes. */
typedef enum rcv_attr_role {
	RCV_SKIP,        /* a client timestamp, an adaptation id, a flowing set's */
	RCV_HYPERPARAMETER,
	RCV_METRIC,
	RCV_ELAPSED,
	RCV_EPOCH,       /* EPOCH of otrainingmodel, EPOCH_ID of oadaptation */
	RCV_LAYER_NAME,
	RCV_LAYER_KIND,
	RCV_LAYER_VALUE,
	RCV_NEW_LR,
	RCV_ATTRIBUTE,   /* an attribute of a user-defined set */
} rcv_attr_role;

/* What a set becomes. */
typedef enum rcv_set_role {
	RCV_HYPERPARAMETERS,
	RCV_LAYERS,
	RCV_EPOCHS,
	RCV_ADAPTATIONS,
	RCV_TESTS,
	RCV_FLOW,        /* an input set of adaptation or testingmodel */
	RCV_ELEMENTS,
} rcv_set_role;

typedef struct rcv_plan_attr {
	rcv_attr_role role;
	const char *name;  /* the config's spelling (a hyperparameter, metric or attribute); owned by cfg */
	dp_attr_type type; /* of the value */
	bool dropped;      /* a built-in hyperparameter the config does not select */
} rcv_plan_attr;

typedef struct rcv_plan_set {
	char *tf, *set;            /* as declared (lower-cased by the client) */
	const char *tf_name, *set_name; /* the config's spelling, for element records */
	rcv_set_role role;
	rcv_plan_attr *attrs;      /* in declared order: elements follow it */
	size_t nattrs;
} rcv_plan_set;

/* A dataflow as receive knows it: its declaration, the experiment it is
 * recorded as, and the plan of every declared set.  Shared by the runs
 * that use it (refs), replaced whole when it is declared again. */
typedef struct rcv_dataflow {
	char *tag;        /* the log folder's name (the config's spelling) */
	json_t *decl;     /* the merged declaration, as persisted */
	dnnprov_config *cfg;
	rcv_plan_set *sets;
	size_t nsets;
	bool has_training; /* declares trainingmodel */
	unsigned refs;
} rcv_dataflow;

DP_INTERNAL void rcv_dataflow_release(rcv_dataflow *df);
DP_INTERNAL const rcv_plan_set *rcv_plan_find(const rcv_dataflow *df, const char *tf, const char *set);
/* Whether a transformation tag is one of the built-in three (any case). */
DP_INTERNAL bool rcv_is_training(const char *tf);

typedef struct rcv_mode {
	const char *log_dir;
	const char *config_path; /* NULL with --log-dir */
	const char *config_dataflow; /* the config's tag, with -c */
	/* --files DIR: FILE values naming files under it are fingerprinted
	 * and recorded as entities (docs/DFANALYZER.md); NULL: none is read. */
	const char *files_dir;
} rcv_mode;

/* Checks a dataflow POST (parsed) and merges it into what the log folder
 * holds of that dataflow (*old, NULL when none); on success *out is the new
 * dataflow (refs 1), already persisted.  Fills the answer on failure (4xx
 * with the field, 5xx when the files cannot be written) and returns it. */
DP_INTERNAL unsigned rcv_declare(const rcv_mode *m, json_t *body, const rcv_dataflow *old, rcv_dataflow **out,
				 rcv_answer *a);
/* Loads what the log folder holds of dataflow `tag` (the name as posted);
 * *out NULL when it was never declared.  0, or an answer status. */
DP_INTERNAL unsigned rcv_dataflow_load(const rcv_mode *m, const char *tag, rcv_dataflow **out, rcv_answer *a);
/* The log folder's name of a posted dataflow tag: the config's spelling
 * with -c (409-free: a tag of another dataflow is refused by the callers),
 * the tag itself with --log-dir. */
DP_INTERNAL bool rcv_dataflow_is_mine(const rcv_mode *m, const char *tag);
/* The folder .dfanalyzer of a dataflow (malloc'd). */
DP_INTERNAL char *rcv_state_dir(const rcv_mode *m, const char *df);
/* Writes `text` to dir/name through a temporary file and a rename. */
DP_INTERNAL int rcv_write_file(const char *dir, const char *name, const char *text, size_t len);

/* ---- task messages (task.c) -------------------------------------------------------- */

typedef enum rcv_status { RCV_READY, RCV_RUNNING, RCV_FINISHED } rcv_status;

/* One converted value of an element (dnnprov_value; texts point into the
 * message's JSON). */
typedef struct rcv_action {
	enum { ACT_HYPERPARAMETERS, ACT_LAYER, ACT_EPOCH, ACT_ADAPT, ACT_TEST, ACT_ELEMENT } kind;
	const rcv_plan_set *set;
	dnnprov_value *values;  /* hyperparameters, metrics, attributes; NULLs left out */
	size_t nvalues;
	dnnprov_layer layer;
	bool has_epoch;         /* ACT_EPOCH, ACT_ADAPT: a posted epoch (already + 1) */
	int64_t epoch;
	double elapsed;         /* NaN: not posted */
	dnnprov_value new_lr;
} rcv_action;

typedef struct rcv_message {
	json_t *json;
	const char *id, *dataflow, *transformation, *exec, *error;
	char id_buf[32];        /* an id posted as a number */
	rcv_status status;
	const char *workspace, *resource;
	rcv_action *actions;
	size_t nactions;
	size_t nhyperparameter_sets; /* ACT_HYPERPARAMETERS among them */
	bool training_data;     /* layers, epochs, adaptations, hyperparameters */
	char **owned;           /* texts made for the values (numbers posted for TEXT) */
	size_t nowned;
} rcv_message;

/* Parses the envelope of a task POST (fields and their types, status);
 * 0 or the answer's status. */
DP_INTERNAL unsigned rcv_message_parse(json_t *body, rcv_message *m, rcv_answer *a);
/* Checks every set and element against the dataflow's plan and converts
 * them into actions; 0 or the answer's status.  Nothing is appended. */
DP_INTERNAL unsigned rcv_message_plan(rcv_message *m, const rcv_dataflow *df, rcv_answer *a);
DP_INTERNAL void rcv_message_free(rcv_message *m);

/* ---- runs (runs.c) ------------------------------------------------------------------- */

typedef struct rcv_core rcv_core;

DP_INTERNAL int rcv_core_open(const rcv_mode *m, uint64_t lease_ms, void (*log)(void *, const char *),
			      void *log_ctx, rcv_core **out);
DP_INTERNAL size_t rcv_core_reopened(const rcv_core *c);
/* Answers one POST; thread-safe. */
DP_INTERNAL void rcv_core_dataflow(rcv_core *c, const char *body, size_t len, rcv_answer *a);
DP_INTERNAL void rcv_core_task(rcv_core *c, const char *body, size_t len, rcv_answer *a);
/* Lets go of the runs idle for the lease. */
DP_INTERNAL void rcv_core_expire(rcv_core *c);
DP_INTERNAL void rcv_core_close(rcv_core *c);

/* Parses a body: 0, or 400 naming the line and column of a syntax error. */
DP_INTERNAL unsigned rcv_parse_json(const char *body, size_t len, json_t **out, rcv_answer *a);

#endif
