/*
 * receive.h - `dnnprov receive --dfanalyzer`: DfAnalyzer's REST service, as
 * dfa-lib-python and Keras-Prov talk to it, recording into dnnprov's logs.
 * docs/DFANALYZER.md is the user's page; this comment is the normative
 * description of the mapping.
 *
 * THE PROTOCOL (dfa-lib-python, DFA_URL default http://localhost:22000/)
 *
 *   POST /pde/dataflow/json  {"tag", "transformations": [{"tag", "sets":
 *        [{"tag", "type": INPUT|OUTPUT, "attributes": [{"name", "type":
 *        TEXT|NUMERIC|FILE|RDFILE}], "dependency"}]}], "exec"}
 *   POST /pde/task/json      {"id", "dataflow", "transformation", "exec",
 *        "status": READY|RUNNING|FINISHED, "sets": [{"tag", "elements":
 *        [[value, ...], ...]}], "dependency", "performances", "workspace",
 *        "resource", "output", "error", "sub", "first", "tag"}
 *
 * The library lower-cases the dataflow, transformation and set tags (not
 * attribute names), leaves out empty fields, and sends every element value
 * as str(x), in the order of the set's declared attributes; the URL it
 * posts to has a doubled slash (DFA_URL ends with one).  It prints the
 * status code and never reads the body, so every answer is final: 200 with
 * what was recorded, or a 4xx naming the field, and nothing is retried.
 *
 * DECLARATIONS (the dataflow POST)
 *
 * With -c CONFIG the experiment file is the dataflow's specification, and a
 * declaration is checked against it: every transformation, set and
 * attribute must be declared there (names compared ignoring ASCII case,
 * since the library lower-cases tags), with a compatible type.  With
 * --log-dir the declaration becomes the specification: receive writes the
 * experiment file <log_dir>/<dataflow>/.dfanalyzer/dataflow.yaml from it and
 * loads it, so the loader's rules hold.  A later declaration of the same
 * dataflow replaces the transformations it names and keeps the others (the
 * patched Keras posts its dataflow once; a program adds DenseBlock later).
 * In both modes the declaration itself is kept in .dfanalyzer/dataflow.json
 * beside it, since it gives the order of each set's attributes, which
 * elements follow; a task of a dataflow never declared is refused (409).
 *
 * What each set becomes:
 *
 *   trainingmodel.itrainingmodel   the begin record's hyperparameters (the
 *                                  seven built-in names ignoring case, any
 *                                  other a declared one)
 *   trainingmodel.ilayers          layers records (NAME, ATTRIBUTE_TYPE, VALUE)
 *   trainingmodel.otrainingmodel   epoch records: ELAPSED_TIME the elapsed
 *                                  seconds, EPOCH (optional) the epoch,
 *                                  every other attribute a metric
 *   adaptation.oadaptation         adapt records of LEARNING_RATE: NEW_LRATE
 *                                  at EPOCH_ID (ADAPTATION_ID is dnnprov's own)
 *   testingmodel.otestingmodel     test records
 *   input sets of adaptation and   nothing: they name the training's output
 *   testingmodel                   flowing in
 *   any other transformation       element records of that set
 *
 * Attributes of the built-in sets named *TIMESTAMP are the client's clock
 * and are not kept: every record carries the time it was appended.  Epochs:
 * DfAnalyzer's epoch attributes (EPOCH, EPOCH_ID) are Keras's, counted from
 * 0; dnnprov counts from 1, as its Keras callback does, so epoch e is
 * recorded as e + 1, and an epoch element without EPOCH is the epoch after
 * the last one recorded.  A NUMERIC value is the text of a number
 * ("0.01" real, "10" integer, "nan" and "inf" kept), or "None", "null" or
 * "" for no value; a FILE (or RDFILE) value is a path, kept as an element
 * value of a `file` attribute, which is how the lineage of entities will
 * find it.
 *
 * RUNS
 *
 * One exec is one dnnprov run: the task whose id is the exec tag (Keras-Prov
 * posts its TrainingModel, Adaptation and TestingModel tasks, ids 1, 2, 3,
 * under one exec).  A task without an exec (the README's three-argument
 * Task) belongs to its dataflow's current anonymous run, with an id
 * made of the transformation, the time, the host and the pid; a program run
 * that reuses its fixed ids therefore makes a new run each time: a new
 * anonymous run starts at a declaration of the dataflow (every program
 * saves it first), or at a task that begins (READY or RUNNING, or posted
 * only FINISHED) under an id the current run has already seen FINISHED.
 *
 * The begin record is written when the run's first record is: Keras-Prov
 * begins TrainingModel, then posts one ilayers element per layer, then the
 * hyperparameters; the layers wait (in the run's state file, so that an
 * answered POST is never lost) until the hyperparameters or any other
 * record come, and are written after the begin.  A TrainingModel that
 * begins again after the run ended (a second fit under one exec) is a
 * resume of the run: a new attempt with the values posted then.  The run
 * ends (FINISHED, with the task's `error` text as the message) when its
 * TrainingModel task finishes, or, in a run without one, when none of its
 * tasks is still running.  Tests and elements after the end are added to
 * the ended run, as dnnprov allows; training records after it are refused
 * (409) unless TrainingModel began again.
 *
 * LIVENESS
 *
 * receive holds the writer (and so the lock) of every run it receives: the
 * indexer shows it RUNNING.  A run that receives nothing for the lease
 * (--lease, default 10 minutes) is let go: its writer is closed without an
 * end, so the standard rule shows it LOST (docs/RUNS.md), and a POST that
 * comes later reopens it with a resume (a new attempt).  Each open run has
 * a state file, <log_dir>/<dataflow>/.dfanalyzer/runs/<task>.json, written
 * (to a temporary name, then renamed) before the POST that changed it is
 * answered; a receive started again reopens every run that has one, and
 * the first record it then writes for a run that was running is a resume.
 * The logs are appended before the state file is replaced, so a state file
 * never claims more than the logs hold.
 *
 * SECURITY
 *
 * A writer, separate from the read-only `serve`: loopback by default; any
 * other address needs a token, sent as "Authorization: Bearer T" or as the
 * password of HTTP basic authentication, which dfa-lib-python sends when
 * DFA_URL carries it (http://dnnprov:T@host:22000/).  Without a token the
 * Host header must name this server (DNS rebinding).  Bodies are bounded
 * (413), every message is validated whole against the declaration and the
 * run's state before anything is appended, and names that become folders
 * (dataflow tag, exec, task ids) follow the tag rules.
 *
 * receive/ never prints; what it has to say goes to the `log` callback.
 */
#ifndef DNNPROV_RECEIVE_H
#define DNNPROV_RECEIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

#define DP_RECEIVE_DEFAULT_PORT 22000
#define DP_RECEIVE_DEFAULT_BODY (1u << 20)
#define DP_RECEIVE_DEFAULT_LEASE_MS (10u * 60 * 1000)

typedef struct dp_receiver dp_receiver;

typedef struct dp_receive_options {
	const char *config_path; /* -c: the experiment file, the specification; NULL with --log-dir */
	const char *log_dir;     /* where runs are recorded (the config's, or --log-dir) */
	const char *host;        /* an address; NULL: 127.0.0.1 */
	unsigned port;           /* 0: a free one (dp_receive_port says which) */
	const char *token;       /* NULL: none, which only a loopback address allows */
	size_t max_body;         /* bytes; 0: DP_RECEIVE_DEFAULT_BODY */
	uint64_t lease_ms;       /* idle time after which a run is let go; 0: the default */
	const char *files_dir;   /* FILE values under it become entities; NULL: no file is read */
	void (*log)(void *ctx, const char *line);
	void *log_ctx;
} dp_receive_options;

/* Reopens the runs a previous receive left open, binds and starts serving
 * in threads of its own.  DNNPROV_EINVAL for an address that is not
 * loopback without a token, DNNPROV_ECONFIG for an experiment file that
 * does not load, DNNPROV_EIO when the address cannot be bound. */
DP_INTERNAL int dp_receive_start(const dp_receive_options *o, dp_receiver **out);
DP_INTERNAL unsigned dp_receive_port(const dp_receiver *r);
/* Runs reopened at the start. */
DP_INTERNAL size_t dp_receive_reopened(const dp_receiver *r);
/* Stops serving and closes every writer without an end (the runs stay open
 * for the next receive). */
DP_INTERNAL void dp_receive_stop(dp_receiver *r);

#endif
