/*
 * picture.h - one run's provenance as a graph to draw (docs/LINEAGE.md,
 * "The picture"): the datasets, the pre-processing tasks, the training
 * with its epochs collapsed to one node, its adaptations, the model, the
 * evaluation and the agents, laid out left to right, in Graphviz's DOT
 * language.  `dnnprov export --run TASK --format dot` writes it; with
 * --format svg the command gives it to Graphviz's `dot`.
 *
 * Every text from the logs (names, paths, values) is escaped for a DOT
 * string, cut to a width that keeps the picture readable, and free of
 * control characters; Graphviz escapes it again for SVG.
 */
#ifndef DNNPROV_PICTURE_H
#define DNNPROV_PICTURE_H

#include <stdio.h>

#include "query/query.h"

/* Writes the DOT graph of run `run` of dataflow df to out.
 * DNNPROV_ENOTFOUND (no such dataflow or task), DNNPROV_EIO (writing
 * out), DNNPROV_ENOMEM, or an index error. */
DP_INTERNAL int dp_picture_dot(dp_query *q, const char *df, const char *run, FILE *out);

/* Appends s[0..n) to b as the inside of a DOT string, at most max
 * characters (then cut with "..."), with quotes and backslashes escaped
 * and control characters as '?'.  For tests of the escaping. */
DP_INTERNAL void dp_dot_text(dp_buf *b, const char *s, size_t n, size_t max);

#endif
