/*
 * commands.h - the query commands as functions from options to a result
 * table (commands.c); cli/ parses arguments and prints.
 */
#ifndef DNNPROV_COMMANDS_H
#define DNNPROV_COMMANDS_H

#include "query/query.h"

typedef struct dp_qopts {
	const char *df;
	const char *where;          /* --where */
	const char *sort;           /* --sort [+|-]COLUMN */
	size_t limit;               /* --limit; 0 for all */
	size_t offset;              /* --offset: rows skipped after sorting */
	const char *metric;         /* --metric; NULL: the main metric */
	dp_agg agg;                 /* --agg; default best */
	const char *goal;           /* --goal min|max; NULL: from the metric's name */
	const char *hyp;            /* effect: --hyp */
	int bins;                   /* effect: --bins; 0: automatic */
	const char *task;           /* curve, adaptations, elements: --task */
	const char *metrics;        /* curve: --metrics m1,m2 */
	int window;                 /* adaptations: --window K (default 1) */
	const char *transformation; /* elements */
	const char *set;            /* elements: --set */
	double now;                 /* for "last seen" */
	bool facts;                 /* runs: --facts, a column per run fact */
} dp_qopts;

/* Extra lines a command has for the table format only (sparklines, the
 * correlation); the caller prints them after the table. */
typedef struct dp_qnotes {
	dp_buf text;
} dp_qnotes;

DP_INTERNAL int dp_cmd_dataflows(dp_query *q, dp_table *out);
DP_INTERNAL int dp_cmd_describe(dp_query *q, const dp_qopts *o, dp_table *out);
DP_INTERNAL int dp_cmd_runs(dp_query *q, const dp_qopts *o, dp_table *out, dp_qnotes *notes);
DP_INTERNAL int dp_cmd_compare(dp_query *q, const dp_qopts *o, dp_table *out, dp_qnotes *notes);
DP_INTERNAL int dp_cmd_effect(dp_query *q, const dp_qopts *o, dp_table *out, dp_qnotes *notes);
DP_INTERNAL int dp_cmd_curve(dp_query *q, const dp_qopts *o, dp_table *out, dp_qnotes *notes);
DP_INTERNAL int dp_cmd_adaptations(dp_query *q, const dp_qopts *o, dp_table *out);
DP_INTERNAL int dp_cmd_test(dp_query *q, const dp_qopts *o, dp_table *out, dp_qnotes *notes);
DP_INTERNAL int dp_cmd_elements(dp_query *q, const dp_qopts *o, dp_table *out);
/* The layer facts (the original's iLayers) of each task: task, layer, kind,
 * value (text; numbers exact). */
DP_INTERNAL int dp_cmd_layers(dp_query *q, const dp_qopts *o, dp_table *out);
DP_INTERNAL int dp_cmd_watch(dp_query *q, const dp_qopts *o, dp_table *out);

/* Spearman's rank correlation of paired values (ties get average ranks) in
 * *rho: NaN when fewer than 3 pairs or a side is constant.  Returns 0, or
 * DNNPROV_ENOMEM. */
DP_INTERNAL int dp_spearman(const double *x, const double *y, size_t n, double *rho);

#endif
