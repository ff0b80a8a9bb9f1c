/*
 * model.h - one model of a dataflow: its transformations, built-in and
 * user-defined, their input and output sets and the typed attributes of
 * each (DESIGN decision 15; docs/MODEL.md is the reader's copy).
 *
 * A dataflow's specification is stored once (the dataflows database,
 * schema.h); this file reads it, the only reader of that value, and adds
 * what every dataflow has without declaring it, the built-in
 * transformations of Keras-Prov:
 *
 *   TrainingModel   input  iTrainingModel  a hyperparameter each: the
 *                                          declared ones, then any other a
 *                                          task used (dp_model_add_hyp)
 *                   input  iLayers         name text, kind text, value text
 *                   output oTrainingModel  epoch numeric, elapsed numeric,
 *                                          then every metric (numeric)
 *   Adaptation      output oAdaptation     epoch numeric, hyperparameter
 *                   (when the spec has      text, old numeric, new numeric,
 *                    adaptation)           id numeric
 *   TestingModel    output oTestingModel   every metric but the val_ ones
 *
 * Adaptation and TestingModel depend on TrainingModel.  The attributes are
 * what the index holds of each element, named as dnnprov's own tables
 * (epochs, adaptations, layers) and PROV name them; an element's time and
 * its task are not attributes (every element has them).  DfAnalyzer's
 * views (ds_<set>) call some of them otherwise: `dfanalyzer` gives that
 * name, so that the SQL layer renders the dialect from here.
 *
 * Everything the SQL tables (transformations, sets, attributes,
 * dependencies, the per-set tables and the ds_* views), the PROV export,
 * `describe` and the dashboard (describe's "model") show of a dataflow's
 * prospective provenance is a rendering of a dp_model.
 */
#ifndef DNNPROV_MODEL_H
#define DNNPROV_MODEL_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "util/util.h"

/* An attribute's DfAnalyzer column when its view has none for it (an
 * adaptation's hyperparameter and old value: ds_oadaptation has neither). */
#define DP_MODEL_NO_COLUMN ""

typedef struct dp_mattr {
	const char *name;
	dp_attr_type type;
	/* Its column in DfAnalyzer's view of the set: NULL for its name in
	 * lower case, DP_MODEL_NO_COLUMN for none. */
	const char *dfanalyzer;
} dp_mattr;

typedef struct dp_mset {
	const char *name;
	bool input;
	bool builtin;
	dp_mattr *attrs;
	size_t nattrs, cap;
} dp_mset;

typedef struct dp_mtf {
	const char *name;
	bool builtin;
	const char **deps; /* the transformations it depends on */
	size_t ndeps, depcap;
	dp_mset *sets;
	size_t nsets, setcap;
} dp_mtf;

typedef struct dp_model {
	const char *dataflow;
	/* The built-in transformations first (TrainingModel, Adaptation when
	 * the spec has it, TestingModel), then the user-defined ones in
	 * declaration order.  Names are unique: a repeated transformation, set
	 * of a transformation or attribute of a set is left out. */
	dp_mtf *tfs;
	size_t ntfs;
	/* What else the stored specification says. */
	const char **metrics; /* declared, then any other an epoch or test used, in that order */
	size_t nmetrics;
	bool adaptation;
	bool undeclared;   /* some task used a hyperparameter the specification lacks */
	double first_seen; /* NaN when unknown */
	/* The values a metric can take, as the experiment file declares them
	 * (metric_ranges): -inf or inf for an open side. */
	struct dp_mrange {
		const char *metric;
		double low, high;
	} *ranges;
	size_t nranges;
	dp_arena arena; /* the strings and arrays above */
} dp_model;

/* The attributes of the built-in sets that every dataflow has, whatever
 * it declares (the hyperparameters and metrics come after them), in order:
 * the table docs/MODEL.md shows. */
typedef struct dp_builtin_attr {
	const char *tf, *set;
	dp_mattr attr;
} dp_builtin_attr;
DP_INTERNAL extern const dp_builtin_attr dp_builtin_attrs[];
DP_INTERNAL extern const size_t dp_builtin_nattrs;

/* Reads the stored specification of dataflow df (a value of the dataflows
 * database, value[0..n)) into *m with the built-in transformations.  A
 * value that is no specification gives the built-ins alone (damage is
 * never fatal to a reader).  0 or DNNPROV_ENOMEM; free *m either way. */
DP_INTERNAL int dp_model_read(const void *value, size_t n, const char *df, dp_model *m);
DP_INTERNAL void dp_model_free(dp_model *m);

/* Adds a hyperparameter a task used to iTrainingModel, unless it is
 * there (exact spelling).  0 or DNNPROV_ENOMEM. */
DP_INTERNAL int dp_model_add_hyp(dp_model *m, const char *name, size_t n, dp_attr_type type);

/* The hyperparameters: iTrainingModel's attributes. */
DP_INTERNAL const dp_mset *dp_model_hyps(const dp_model *m);
/* The transformation named `tf`, or NULL. */
DP_INTERNAL const dp_mtf *dp_model_tf(const dp_model *m, const char *tf);
/* Set `set` of transformation `tf`, or NULL. */
DP_INTERNAL const dp_mset *dp_model_set(const dp_model *m, const char *tf, const char *set);
/* Whether metric `name` is measured on the validation set (val_...):
 * oTestingModel leaves those out. */
DP_INTERNAL bool dp_model_validation_metric(const char *name);

#endif
