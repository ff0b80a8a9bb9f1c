/*
 * config.h - the validated form of an experiment YAML file.
 *
 * dnnprov_config_load() (config.c) reads the file with libyaml's document
 * loader, checks it strictly against the schema in docs/CONFIG.md and fills
 * this struct.  Everything downstream (the writer's validation, the
 * dataflow specification record, the CLI) reads these fields and never the
 * YAML.  The struct owns every string and array in it.
 */
#ifndef DNNPROV_CONFIG_H
#define DNNPROV_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dnnprov.h"
#include "util/util.h"

/* Attribute types, as DfAnalyzer's AttributeType. */
typedef enum dp_attr_type {
	DP_ATTR_NUMERIC = 0,
	DP_ATTR_TEXT,
	DP_ATTR_FILE,
} dp_attr_type;

typedef enum dp_durability {
	DP_DURABILITY_INTERVAL = 0, /* default: write per append, fdatasync every interval */
	DP_DURABILITY_ALWAYS,       /* fdatasync per append */
	DP_DURABILITY_BUFFERED,     /* buffer in process, write when full */
} dp_durability;

typedef struct dp_attr {
	char *name;
	dp_attr_type type;
} dp_attr;

/* One hyperparameter the file mentions.  The seven known ones
 * (OPTIMIZER_NAME, LEARNING_RATE, DECAY, MOMENTUM, NUM_EPOCHS, BATCH_SIZE,
 * NUM_LAYERS) are always present, in that order, with builtin = true and
 * selected as the file says (false when the file omits them); user-declared
 * ones follow in file order with selected = true. */
typedef struct dp_hyperparameter {
	char *name;
	dp_attr_type type;
	bool builtin;
	bool selected;
} dp_hyperparameter;

typedef struct dp_set {
	char *name;
	bool is_input; /* input or output set of its transformation */
	dp_attr *attrs;
	size_t nattrs;
} dp_set;

/* A user-defined transformation (the DenseBlock case). */
typedef struct dp_transformation {
	char *name;
	dp_set *sets; /* inputs first, then outputs, each in file order */
	size_t nsets;
	char **depends_on; /* names of transformations, builtin or user-defined */
	size_t ndepends;
} dp_transformation;

/* A metric's declared range (`metric_ranges`): the values it can take, so
 * that a chart's axis stops there.  -INFINITY or INFINITY: open on that
 * side. */
typedef struct dp_metric_range {
	char *metric;
	double low, high;
} dp_metric_range;

struct dnnprov_config {
	char *path;      /* the file as given */
	char *dataflow;  /* the tag */
	char *log_dir;   /* resolved: absolute, or relative to the CWD */
	char *index_dir; /* resolved likewise */

	dp_hyperparameter *hyperparameters;
	size_t nhyperparameters;

	char **metrics; /* as listed, then their val_ twins when val_metrics */
	size_t nmetrics;
	size_t nmetrics_listed; /* the first ones, as the file lists them */
	bool val_metrics;   /* default true */
	bool adaptation;    /* default false */
	/* Metric names outside `metrics` are accepted (default false: a name
	 * the file does not declare is refused as a typo). */
	bool free_metrics;
	/* Begin records carry the run facts (command line, working folder, git
	 * commit, versions, accelerator; default true). */
	bool facts;
	/* Every name the file does not declare is a hard error, nothing
	 * recorded (default false: the record keeps its declared values and
	 * the refused names are recorded as a problem of the run). */
	bool strict;
	/* As the file lists them, then the val_ twins of listed metrics, which
	 * take their metric's range unless the file gives them one. */
	dp_metric_range *metric_ranges;
	size_t nmetric_ranges;

	dp_transformation *transformations;
	size_t ntransformations;

	uint64_t segment_size;        /* bytes; default 64 MiB; 4 KiB .. 1 TiB */
	dp_durability durability;     /* default interval */
	uint32_t fsync_interval_ms;   /* default 1000; 1 .. 3600000 */
};

/* The seven hyperparameters Keras-Prov knows, and their types. */
extern const char *const dp_builtin_hyperparameters[7];
extern const dp_attr_type dp_builtin_hyperparameter_types[7];

/* Look-ups by exact name; NULL when absent. */
DP_INTERNAL const dp_hyperparameter *dp_config_hyperparameter(const dnnprov_config *cfg,
							      const char *name);
DP_INTERNAL const dp_transformation *dp_config_transformation(const dnnprov_config *cfg,
							      const char *name);
DP_INTERNAL const dp_set *dp_transformation_set(const dp_transformation *tf, const char *name);

DP_INTERNAL const char *dp_attr_type_name(dp_attr_type t); /* "numeric", "text", "file" */
DP_INTERNAL const char *dp_durability_name(dp_durability d);

#endif
