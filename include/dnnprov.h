/*
 * dnnprov.h - provenance capture for deep-learning training.
 *
 * OVERVIEW
 *
 * A training process describes its experiment in a YAML file (see
 * docs/CONFIG.md), loads it with dnnprov_config_load(), opens a task with
 * dnnprov_task_open() and records what happens to it: the hyperparameter
 * values it started with (dnnprov_task_begin), layer facts, every epoch's
 * metrics, learning-rate adaptations, test results, the elements of
 * user-defined transformations, and how it ended.  Each call encodes one
 * msgpack record, frames it with a length and a CRC32C and appends it to a
 * segment file owned by this process alone:
 *
 *     <log_dir>/<dataflow>/<task>/<sequence>-<host>-<pid>.dnplog
 *
 * No call waits on a server or on the indexer.  The byte layout is in
 * docs/FORMAT.md; `dnnprov index` turns the files into a queryable index.
 *
 * RUNS (docs/RUNS.md)
 *
 * A task id names one run.  dnnprov_task_begin() refuses a task that has
 * begun before (DNNPROV_ESTATE, naming its status): a rerun of a script
 * under the same id never merges into the old run.  Continuing a run is
 * asked for with dnnprov_task_resume(), which keeps the hyperparameter
 * values of the first begin and records a value that differs as an
 * adaptation.  A task's records are ordered by their segments' sequence,
 * never by a clock.  One process at a time records a task: opening a task
 * another live process has open fails with DNNPROV_ELOCKED.  Records
 * before begin and training records after end are refused when they are
 * appended, so nothing is acknowledged and dropped later.
 *
 * A NAME THE EXPERIMENT FILE DOES NOT DECLARE (a typo: `acurracy`) is
 * refused when it is appended, but it never costs the run: the record is
 * written with the call's other values, the refused names and their values
 * follow in a `refused` record (docs/FORMAT.md), the run shows them as a
 * problem (`runs`, `index --status`, the dashboard), and the call returns
 * DNNPROV_REFUSED, a positive code: dnnprov_errmsg() says what was refused
 * and lists the declared names, dnnprov_errsubject() lists the refused
 * names, separated by commas.  With `strict: true` in the experiment file,
 * or dnnprov_task_strict(), such a name is a hard error instead
 * (DNNPROV_EUNDECLARED, nothing written), for tests and CI.
 *
 * CONVENTIONS
 *
 * Every function that can fail returns 0 or a negative DNNPROV_E* code;
 * the recording calls that take names may also return DNNPROV_REFUSED
 * (positive: recorded, but some names refused; see RUNS above), so test
 * `rc < 0` for failure.
 * dnnprov_strerror() names a code; dnnprov_errmsg() gives the detail of the
 * last failure on the calling thread (file, line, offending name, errno
 * text).  The library never prints, never exits and never changes signal
 * dispositions.  Outputs come through the last argument.  Strings passed in
 * are copied when the library needs them after the call returns.
 *
 * DURABILITY (the `log: durability:` setting)
 *
 *   interval  (default) every append reaches the kernel before the call
 *             returns, so a crashed training process loses nothing; a
 *             background thread fdatasyncs each segment (and, for a new
 *             segment, its folder) every `fsync_interval`, so a power loss
 *             loses at most that interval.  Closing a segment syncs it.
 *   always    every append is written and fdatasync'ed before it returns.
 *   buffered  appends collect in a 64 KiB buffer in the process and are
 *             written when it fills, on dnnprov_task_sync() and on close.
 *             A crash of the process loses what was buffered.
 *
 * CAVEATS
 *
 * - Threads: one handle may be shared by threads; appends are serialized
 *   by a mutex.  Records of one handle appear in the order their calls took
 *   the mutex.
 * - fork(): a child never writes its parent's segment.  The first append
 *   in a child opens a new segment of the same task for the child; records
 *   the parent buffered (buffered mode) stay the parent's to write.  The
 *   child shares the parent's lock: parent and child recording at once are
 *   two writers of one task, ordered by segment sequence only.  Do not fork
 *   while another thread is inside a dnnprov call on the same handle.
 * - One process at a time: the task's lock is an open-file-description
 *   lock (F_OFD_SETLK) on <task folder>/.lock, released when the handle
 *   closes or the process dies; a second handle on the same task, in this
 *   process or another, fails with DNNPROV_ELOCKED.  Several processes may
 *   record a task one after the other (a resumed task, one `dnnprov log`
 *   call per record): each writes its own segments, numbered after the
 *   ones before.
 * - Files over RLIMIT_FSIZE: an append that would pass the limit fails
 *   with DNNPROV_ENOSPC instead of raising SIGXFSZ.
 * - Network filesystems: appends are plain write(2) calls on files no other
 *   process writes, which NFS handles, but the indexer's change
 *   notification needs a local filesystem (it falls back to rescans).
 */
#ifndef DNNPROV_H
#define DNNPROV_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define DNNPROV_API __attribute__((visibility("default")))
#else
#define DNNPROV_API
#endif

#define DNNPROV_VERSION "0.1.0"
#define DNNPROV_VERSION_MAJOR 0
#define DNNPROV_VERSION_MINOR 1
#define DNNPROV_VERSION_PATCH 0

/* Longest tag (dataflow, task, transformation, set, attribute, metric or
 * hyperparameter name), in bytes.  The names of a dataflow's parts are
 * also identifiers: letters, digits, '_', '.' and '-', starting with a
 * letter or '_' (docs/CONFIG.md); others are refused with DNNPROV_EINVAL. */
#define DNNPROV_NAME_MAX 128

/* Longest text a record may hold, in bytes: every free text a writer
 * records (a text hyperparameter value, an element value, a tag or note,
 * a layer value, a run fact, an end message) is refused past it with
 * DNNPROV_EINVAL.  Longer content belongs in a file (a FILE attribute). */
#define DNNPROV_TEXT_MAX (1u << 16)

/* Largest encoded record; larger ones are refused with DNNPROV_EINVAL. */
#define DNNPROV_RECORD_MAX (1u << 20)

/* ------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------ */

enum {
	DNNPROV_OK = 0,
	DNNPROV_EINVAL = -1,     /* a bad argument: NULL, a malformed name, a duplicate */
	DNNPROV_ENOMEM = -2,     /* an allocation failed */
	DNNPROV_EIO = -3,        /* a system call failed; the detail has its errno text */
	DNNPROV_ENOSPC = -4,     /* the disk is full, or a file-size limit was reached */
	DNNPROV_ECONFIG = -5,    /* the experiment file is invalid; the detail is FILE:LINE:COL: why */
	DNNPROV_ETYPE = -6,      /* a value does not have its declared type */
	DNNPROV_ESTATE = -7,     /* the call does not fit the handle's state */
	DNNPROV_ECORRUPT = -8,   /* log data failed its checksum or does not decode */
	DNNPROV_ETRUNCATED = -9, /* log data ends inside a frame (a torn tail) */
	DNNPROV_EVERSION = -10,  /* a segment of a format newer than this library */
	DNNPROV_ENOTFOUND = -11, /* a named dataflow, task, metric, ... does not exist */
	DNNPROV_ELOCKED = -12,   /* another process holds the lock (a second indexer) */
	DNNPROV_EINDEX = -13,    /* the index (LMDB) failed or is of another schema */
	DNNPROV_EQUERY = -14,    /* a query or filter expression is invalid */
	DNNPROV_EUNDECLARED = -15, /* a metric or hyperparameter the experiment file does not declare
				      (with `strict`; see DNNPROV_REFUSED) */
};

/* Not an error: the call recorded its record, but names the experiment file
 * does not declare were refused and recorded as a problem of the run (see
 * RUNS at the top).  Positive, so that `rc < 0` tests for failure. */
#define DNNPROV_REFUSED 1

/* A short, static description of a DNNPROV_E* code. */
DNNPROV_API const char *dnnprov_strerror(int rc);

/* The detail of the last failure on this thread ("" if none).  Valid until
 * the next dnnprov call on this thread. */
DNNPROV_API const char *dnnprov_errmsg(void);

/* What the last failure on this thread is about, when it is about one
 * parameter or name the caller gave: the parameter's name as the question
 * registry spells it ("metric", "where", "dataflow", "task", "bins", ...),
 * so that a front end can point at it (a caret, a form field, an
 * exception's attribute).  "" when the failure is about nothing the caller
 * named (out of memory, a damaged index) or when there was none.  Set and
 * cleared with the detail: every failure replaces it, and so does a call
 * that clears the detail on success.  Valid until the next dnnprov call
 * on this thread. */
DNNPROV_API const char *dnnprov_errsubject(void);

/* ------------------------------------------------------------------------
 * Values
 * ------------------------------------------------------------------------ */

typedef enum dnnprov_type {
	DNNPROV_NULL = 0, /* no value (an attribute left empty) */
	DNNPROV_INT,      /* int64_t, for NUMERIC */
	DNNPROV_REAL,     /* double, for NUMERIC; NaN and infinities are kept */
	DNNPROV_TEXT,     /* UTF-8 string, for TEXT and FILE */
} dnnprov_type;

/* A named, typed value: a hyperparameter, a metric or an attribute.  The
 * strings are the caller's and are only read during the call. */
typedef struct dnnprov_value {
	const char *name;
	dnnprov_type type;
	union {
		int64_t i;
		double r;
		const char *s;
	} as;
} dnnprov_value;

#define DNNPROV_V_INT(n, v) ((dnnprov_value){ .name = (n), .type = DNNPROV_INT, .as.i = (v) })
#define DNNPROV_V_REAL(n, v) ((dnnprov_value){ .name = (n), .type = DNNPROV_REAL, .as.r = (v) })
#define DNNPROV_V_TEXT(n, v) ((dnnprov_value){ .name = (n), .type = DNNPROV_TEXT, .as.s = (v) })

/* One layer fact, as the original's iLayers set: the layer's name, its kind
 * ("activation", "dropout", ...) and its value ("relu", 0.5).  value.name is
 * not used. */
typedef struct dnnprov_layer {
	const char *name;
	const char *kind;
	dnnprov_value value;
} dnnprov_layer;

/* ------------------------------------------------------------------------
 * Experiment configuration (docs/CONFIG.md)
 * ------------------------------------------------------------------------ */

typedef struct dnnprov_config dnnprov_config;

/* Loads and validates an experiment YAML file.  On DNNPROV_ECONFIG the
 * detail is "FILE:LINE:COL: message".  Relative log_dir and index_dir are
 * resolved against the directory of the file.  The caller frees *out with
 * dnnprov_config_free().
 * Errors: DNNPROV_EINVAL, DNNPROV_EIO (unreadable), DNNPROV_ECONFIG,
 * DNNPROV_ENOMEM. */
DNNPROV_API int dnnprov_config_load(const char *path, dnnprov_config **out);

DNNPROV_API void dnnprov_config_free(dnnprov_config *cfg);

/* The dataflow tag and the resolved directories; owned by cfg. */
DNNPROV_API const char *dnnprov_config_dataflow(const dnnprov_config *cfg);
DNNPROV_API const char *dnnprov_config_log_dir(const dnnprov_config *cfg);
DNNPROV_API const char *dnnprov_config_index_dir(const dnnprov_config *cfg);
/* Whether begin records carry run facts (the `facts` setting; default 1). */
DNNPROV_API int dnnprov_config_facts(const dnnprov_config *cfg);
/* Whether a name the file does not declare is a hard error (the `strict`
 * setting; default 0). */
DNNPROV_API int dnnprov_config_strict(const dnnprov_config *cfg);
/* Whether the file selects `hyperparameter` (declares it and records it):
 * what an integration uses to capture a value it derives by itself (an
 * optimizer's momentum, a scheduler's name) only when the file asks for it,
 * as Keras-Prov's `hyps` did.  1 or 0. */
DNNPROV_API int dnnprov_config_selects(const dnnprov_config *cfg, const char *hyperparameter);

/* ------------------------------------------------------------------------
 * Tasks: recording
 * ------------------------------------------------------------------------ */

typedef struct dnnprov_task dnnprov_task;

typedef enum dnnprov_status {
	DNNPROV_RUNNING = 0,
	DNNPROV_FINISHED,
	DNNPROV_FAILED,
	DNNPROV_KILLED,
	DNNPROV_PRUNED, /* stopped early by a hyperparameter search (Optuna's pruner) */
} dnnprov_status;

/* Opens a writer for task `task_id` of cfg's dataflow (NULL: a new id from
 * the time, host and pid, readable with dnnprov_task_id()).  Creates the
 * task's folder, takes the task's lock (held until close) and reads what
 * the task's logs say of it (new, running, or how it ended).  The first
 * record opens the first segment: a handle that records nothing leaves
 * nothing behind.  cfg must outlive the handle.
 * Errors: DNNPROV_EINVAL (a task id that is not a valid tag), DNNPROV_ELOCKED
 * (another live process has the task open: the detail names its pid and
 * host), DNNPROV_EIO, DNNPROV_ENOSPC, DNNPROV_ENOMEM. */
DNNPROV_API int dnnprov_task_open(const dnnprov_config *cfg, const char *task_id,
				  dnnprov_task **out);

/* Opens a writer for a new task whose id is `label`, a '-', and an id made
 * from the time, host and pid (the generated id alone when label is NULL):
 * readable ids that are still unique per run.  Errors as dnnprov_task_open,
 * and DNNPROV_EINVAL when the label is not a tag or leaves no room for the
 * generated part (labels up to 64 bytes always fit). */
DNNPROV_API int dnnprov_task_open_new(const dnnprov_config *cfg, const char *label,
				      dnnprov_task **out);

/* The task's id; owned by the handle. */
DNNPROV_API const char *dnnprov_task_id(const dnnprov_task *t);

/* Records the dataflow specification and the task's start: host, pid, user,
 * time, and the values of the hyperparameters the config selects.  Values
 * of the seven built-in hyperparameters the config does not select are left
 * out.  Nothing is written when it fails: DNNPROV_ESTATE for a task that
 * has begun before (resume it instead), DNNPROV_ETYPE for a value of the wrong type
 * (TEXT for a NUMERIC hyperparameter, ...).  A name the config does not
 * declare gives DNNPROV_REFUSED (the task begins without it) or, strict,
 * DNNPROV_EUNDECLARED; the same holds for the names of every recording call
 * (metrics of epochs and tests, the hyperparameter of an adaptation). */
DNNPROV_API int dnnprov_task_begin(dnnprov_task *t, const dnnprov_value *hyperparameters,
				   size_t n);

/* Passed as the epoch of dnnprov_task_resume(): the epoch after the last
 * one the task recorded. */
#define DNNPROV_NEXT_EPOCH INT64_MIN

/* Begins the task, or resumes it when it has begun before (a run continued
 * from a checkpoint, after a crash or after it ended): a new attempt of the
 * same run.  The hyperparameter values of the first begin stay the task's;
 * a value given here that differs from the one in force is recorded as an
 * adaptation at `epoch` (DNNPROV_NEXT_EPOCH: the one after the last epoch
 * recorded), when the config records adaptations.  Errors as
 * dnnprov_task_begin but DNNPROV_ESTATE. */
DNNPROV_API int dnnprov_task_resume(dnnprov_task *t, int64_t epoch,
				    const dnnprov_value *hyperparameters, size_t n);

/* Records layer facts (the original's iLayers). */
DNNPROV_API int dnnprov_task_layers(dnnprov_task *t, const dnnprov_layer *layers, size_t n);

/* Records one epoch's metrics (numeric values only, names the config
 * declares).  `elapsed` is the epoch's duration in seconds (>= 0); pass NaN
 * to let the library measure it from the previous epoch (or the open).
 * Re-recording an epoch replaces it.  Layers, epochs, adaptations and the
 * end need a task that has begun and not ended (DNNPROV_ESTATE). */
DNNPROV_API int dnnprov_task_epoch(dnnprov_task *t, int64_t epoch, double elapsed,
				   const dnnprov_value *metrics, size_t n);

/* Records that hyperparameter new_value->name took new_value at the start
 * of `epoch` (a learning-rate schedule step).  The old value is the last one
 * this handle knows, if any.  Dropped without error when the config turns
 * adaptation off or does not select the hyperparameter. */
DNNPROV_API int dnnprov_task_adapt(dnnprov_task *t, int64_t epoch, const dnnprov_value *new_value);

/* Records test-set metrics (at least one).  Allowed after the end too:
 * testing is its own transformation (TestingModel), which uses the trained
 * model; it needs a task that has begun. */
DNNPROV_API int dnnprov_task_test(dnnprov_task *t, const dnnprov_value *metrics, size_t n);

/* Records one element of a user-defined transformation's set; every value
 * must name a declared attribute of that set and have its type.  Like
 * test records, allowed once the task has begun, also after its end. */
DNNPROV_API int dnnprov_task_element(dnnprov_task *t, const char *transformation,
				     const char *set, const dnnprov_value *values, size_t n);

/* Tags the run: key=value pairs (values of any type; DNNPROV_NULL removes
 * the key) in a record of its own.  Allowed once the task has begun, also
 * after its end; a tag never changes the task's status.  The latest value
 * of a key wins, by the time it was recorded (docs/RUNS.md). */
DNNPROV_API int dnnprov_task_tag(dnnprov_task *t, const dnnprov_value *tags, size_t n);

/* ------------------------------------------------------------------------
 * Entities: what a task used and generated (docs/LINEAGE.md)
 *
 * A dataset, a checkpoint or a model is an entity identified by a
 * fingerprint of its content, written with its algorithm:
 * "sha256:<64 hex>" (a file's bytes, or a folder's sorted manifest of
 * relative paths, sizes and file hashes) or, with DNNPROV_QUICK,
 * "quick:<64 hex>" (size, modification time and sampled blocks: for
 * datasets too large to read at every run; it never equals a sha256 one).
 * Two runs that read the same bytes, on any machine, used the same entity,
 * so lineage joins them with no id passed by hand.
 * ------------------------------------------------------------------------ */

/* Room for a fingerprint and its NUL. */
#define DNNPROV_FINGERPRINT_MAX 72
/* Fingerprints by size, modification time and sampled blocks, not by
 * reading everything (docs/LINEAGE.md says what it costs and misses). */
#define DNNPROV_QUICK 1u

/* The fingerprint of the file or folder at path (followed if it is a
 * link; links inside a folder are not) into out[0..cap), cap at least
 * DNNPROV_FINGERPRINT_MAX; *size (may be NULL) gets its bytes.
 * Errors: DNNPROV_EIO (unreadable: the detail names it), DNNPROV_EINVAL
 * (neither a regular file nor a folder: a FIFO or a device is never
 * opened), DNNPROV_ENOMEM. */
DNNPROV_API int dnnprov_fingerprint(const char *path, unsigned flags, char *out, size_t cap,
				    uint64_t *size);

/* Records that the task read (used) or wrote (generated) the file or
 * folder at path, in the given role ("train_data", "test_data", "model",
 * "checkpoint", or any name: the rule of names), fingerprinted now (flags:
 * 0 or DNNPROV_QUICK) before the handle's lock is taken, so a long hash
 * holds up no other call.  The location recorded is the path made
 * absolute; it must be valid UTF-8.  Allowed once the task has begun, also
 * after its end (a model saved, or evaluated, after the training).
 * Errors: as dnnprov_fingerprint, DNNPROV_ESTATE (not begun),
 * DNNPROV_EINVAL (a role that is no name, a path that is not UTF-8). */
DNNPROV_API int dnnprov_task_used(dnnprov_task *t, const char *role, const char *path, unsigned flags);
DNNPROV_API int dnnprov_task_generated(dnnprov_task *t, const char *role, const char *path,
				       unsigned flags);

/* Records an entity whose fingerprint the caller already knows (an object
 * in a store, a file on another machine): direction "used" or
 * "generated", a location of any text (a URI), a fingerprint as
 * dnnprov_fingerprint() writes them, and its size in bytes (-1: unknown).
 * Errors: DNNPROV_EINVAL (a malformed fingerprint or role), DNNPROV_ESTATE. */
DNNPROV_API int dnnprov_task_entity(dnnprov_task *t, const char *direction, const char *role,
				    const char *location, const char *fingerprint, int64_t size);

/* The code that runs in folder: the git commit of the repository holding
 * it into commit[0..commit_cap) (cap at least 65), and into
 * diff[0..diff_cap) (at least DNNPROV_FINGERPRINT_MAX) "none" when the
 * working tree equals the commit, else "sha256:" and a hash of its
 * uncommitted changes to tracked files (docs/LINEAGE.md, "Repeats").
 * Either is "" when it cannot be told (no repository; libgit2, which the
 * library loads for the changes, missing).  A begin records them as the
 * run facts git_commit and git_diff of its working folder; the Python
 * package of the script's folder.  Errors: DNNPROV_EINVAL. */
DNNPROV_API int dnnprov_code_version(const char *folder, char *commit, size_t commit_cap, char *diff,
				     size_t diff_cap);

/* Names the transformation the task's next begin records (default
 * "TrainingModel"): a pipeline's other steps (loading, scaling, splitting,
 * evaluation) are tasks of the user-defined transformations the
 * experiment file declares, whose parameters are elements of their input
 * sets and whose data are entities.  Such a begin takes no
 * hyperparameters.  Errors: DNNPROV_EINVAL (not declared),
 * DNNPROV_ESTATE (the task has begun). */
DNNPROV_API int dnnprov_task_transformation(dnnprov_task *t, const char *transformation);

/* Adds run facts (docs/RUNS.md) to the begin or resume record this handle
 * writes next: the library records by itself the command line, the
 * working folder, the git commit and branch of the repository holding it,
 * and the accelerator's model when the driver lists one; a caller adds
 * what it knows (interpreter and framework versions), replaces a fact by
 * giving its name, or keeps one from being recorded with DNNPROV_NULL.
 * Nothing is recorded when the experiment file says `facts: false`. */
DNNPROV_API int dnnprov_task_facts(dnnprov_task *t, const dnnprov_value *facts, size_t n);

/* Makes every name the experiment file does not declare a hard error for
 * this handle (strict 1: DNNPROV_EUNDECLARED, nothing written) or returns
 * it to the file's `strict` setting (strict 0).  A binding uses it to fail
 * fast while a mistake costs seconds (a begin, the first epoch) and to keep
 * the run afterwards. */
DNNPROV_API void dnnprov_task_strict(dnnprov_task *t, int strict);

/* Records the task's end with status FINISHED, FAILED, KILLED or PRUNED and an
 * optional message (NULL for none; valid UTF-8 of at most DNNPROV_TEXT_MAX
 * bytes, or DNNPROV_EINVAL and nothing is written).  Further training records fail with
 * DNNPROV_ESTATE until the task is resumed. */
DNNPROV_API int dnnprov_task_end(dnnprov_task *t, dnnprov_status status, const char *message);

/* Writes what is buffered and fdatasyncs the current segment. */
DNNPROV_API int dnnprov_task_sync(dnnprov_task *t);

/* Writes what is buffered, seals and closes the segment, releases the
 * task's lock and frees the handle, even on error (the error is returned).
 * A task closed without dnnprov_task_end() is shown LOST by the indexer
 * once its process is gone, ready to be resumed. */
DNNPROV_API int dnnprov_task_close(dnnprov_task *t);

/* ------------------------------------------------------------------------
 * Tags from anywhere
 * ------------------------------------------------------------------------ */

/* Tags task `task_id` of cfg's dataflow from any process, without opening
 * it: while another process records it, or long after it ended.  Writes a
 * note segment of its own in the task's folder (docs/FORMAT.md), synced
 * before it returns.  Pairs as dnnprov_task_tag().
 * Errors: DNNPROV_ENOTFOUND (no such task in the logs), DNNPROV_ESTATE (it
 * has not begun), DNNPROV_EINVAL, DNNPROV_EIO, DNNPROV_ENOMEM. */
DNNPROV_API int dnnprov_tag(const dnnprov_config *cfg, const char *task_id,
			    const dnnprov_value *tags, size_t n);

/* ------------------------------------------------------------------------
 * Questions: reading the index (docs/QUERY.md, docs/SQL.md)
 *
 * An index built by `dnnprov index` answers the same questions as the
 * command line (runs, compare, effect, curve, ...): each is declared once
 * in the library's registry, which dnnprov_questions_json() lists with its
 * parameters, their types, defaults and help.  dnnprov_index_ask() asks
 * one and gives its answer in the form `dnnprov QUESTION --format F`
 * prints; dnnprov_index_sql() runs SQL over the same tables as `dnnprov
 * sql`.  Each call reads one consistent snapshot of the index as it is
 * when the call starts, while an indexer goes on: readers never block it.
 * Nothing is ever written to the index.
 *
 * Caveats: a handle opens the index's LMDB environment once for the
 * process and may be shared by threads.  LMDB allows one environment per
 * index per process: keep one handle per index (a second handle on the
 * same index, or a dnnprov.connect() SQLite connection on it in the same
 * process, is a second environment, and closing either drops the other's
 * reader locks).  After `dnnprov reindex` swapped a new index in, the next
 * call reads the new one.
 * ------------------------------------------------------------------------ */

typedef struct dnnprov_index dnnprov_index;

/* What an answer is written as: JSON (one object: "columns", "kinds" with
 * what each column holds, "about" with what the question chose, "rows",
 * "index" with how fresh the index is; docs/QUERY.md), CSV (RFC 4180, with
 * a header) or the command line's table. */
typedef enum dnnprov_format {
	DNNPROV_FORMAT_JSON = 0,
	DNNPROV_FORMAT_CSV,
	DNNPROV_FORMAT_TABLE,
} dnnprov_format;

/* Opens the index at index_dir read-only (nothing is created).  log_dir
 * is the folder of logs it is built from, which answers compare to say
 * how far behind them the index is (NULL: the folder the indexer recorded
 * in the index).  Free *out with dnnprov_index_close().
 * Errors: DNNPROV_ENOTFOUND (no index there), DNNPROV_EINDEX (an index of
 * another schema, or damaged), DNNPROV_EIO, DNNPROV_ENOMEM. */
DNNPROV_API int dnnprov_index_open(const char *index_dir, const char *log_dir, dnnprov_index **out);

/* Closes the index; ix may be NULL.  No call on ix may be running. */
DNNPROV_API void dnnprov_index_close(dnnprov_index *ix);

/* Asks `question` (a name dnnprov_questions_json() lists: "runs",
 * "compare", ...) with parameters params[0..2n): n pairs of a name and a
 * value, the names as the registry gives them ("dataflow", "metric",
 * "where", "limit", ...), the values as text ("10", "min", "at=5"; "true"
 * for a flag).  A question about a dataflow that names none gets the only
 * one in the index.  The answer goes to *out, NUL-terminated, allocated
 * by the library (free it with dnnprov_free()); *len (may be NULL) gets
 * its length.  An index that holds no dataflow yet answers
 * {"columns": [], "rows": []}.
 * Errors, each naming what it is about in dnnprov_errsubject():
 * DNNPROV_EQUERY (an unknown question or parameter, a value the parameter
 * does not take, a parameter given twice, a required one missing, an
 * invalid where expression, several dataflows and none named),
 * DNNPROV_ENOTFOUND (an unknown dataflow, task, metric, hyperparameter,
 * transformation or set: the detail lists the ones there are); and
 * DNNPROV_EINDEX, DNNPROV_EIO, DNNPROV_ENOMEM. */
DNNPROV_API int dnnprov_index_ask(dnnprov_index *ix, const char *question, const char *const *params, size_t n,
				  dnnprov_format format, char **out, size_t *len);

/* Runs one SQL statement (SQLite's dialect, over the tables and views of
 * docs/SQL.md) and gives its rows in *out as dnnprov_index_ask() gives an
 * answer (free it with dnnprov_free()).  params[0..n) are bound to its
 * parameters ?1..?n (a value's name is not used; DNNPROV_NULL binds NULL).
 * dataflow (may be NULL: the only one in the index) is the one the
 * DfAnalyzer views and the unprefixed `epochs` show.  Read-only, as
 * `dnnprov sql` is: no writes but to temp, no ATTACH of a file, no
 * extensions; timeout_s > 0 stops a statement that runs longer.
 * Errors: DNNPROV_EQUERY (the statement failed: SQLite's message, and
 * where in the statement when SQLite says; dnnprov_errsubject() is "sql"),
 * DNNPROV_ENOTFOUND (an unknown dataflow), DNNPROV_EINDEX, DNNPROV_EIO,
 * DNNPROV_ENOMEM. */
DNNPROV_API int dnnprov_index_sql(dnnprov_index *ix, const char *sql, const dnnprov_value *params, size_t n,
				  const char *dataflow, double timeout_s, dnnprov_format format, char **out,
				  size_t *len);

/* The registry of questions as JSON, in *out (free it with dnnprov_free()):
 * {"questions": [{"name", "summary", "description", "example",
 * "parameters": [{"name", "type", "required", "default", "help", "fronts",
 * and for some "short", "arg", "positional", "min", "max", "choices",
 * "http_name"}]}], "common": [the command line's and HTTP's own
 * parameters]}.  "fronts" lists where a parameter is offered by name:
 * "cli", "http", "sql", "api" (this interface, and the Python functions
 * built on it).  Errors: DNNPROV_ENOMEM. */
DNNPROV_API int dnnprov_questions_json(char **out, size_t *len);

/* Frees what the library allocated for the caller (answers, the registry). */
DNNPROV_API void dnnprov_free(void *p);

#ifdef __cplusplus
}
#endif
#endif /* DNNPROV_H */
