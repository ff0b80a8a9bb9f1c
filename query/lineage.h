/*
 * lineage.h - the graph of tasks and the entities they used and
 * generated (docs/LINEAGE.md), read from the index's `lineage` and
 * `entities` databases.
 *
 * An entity is its fingerprint: a task that generated sha256:ab.. and a
 * task that later used sha256:ab.., in any dataflow, on any machine, are
 * linked by it.  A walk goes up (what a node came from: the tasks that
 * generated an entity, the entities a task used) or down (what was made
 * from it: the tasks that used an entity, the entities a task generated),
 * visiting each node once; the `lineage` question prints it as a tree,
 * the one-run PROV export and the picture draw it as a graph.
 */
#ifndef DNNPROV_LINEAGE_H
#define DNNPROV_LINEAGE_H

#include "query/query.h"
#include "util/map.h"

typedef struct dp_lnode {
	bool entity;
	/* a task */
	char *df, *task, *transformation, *status;
	double start, end; /* NaN when unknown */
	/* an entity: its fingerprint, and the location, role and size of the
	 * first record that named it on the walk */
	char *fingerprint, *location, *role;
	int64_t size; /* -1: unknown */
} dp_lnode;

/* A task used (generated false) or generated an entity. */
typedef struct dp_ledge {
	size_t task, entity; /* node indexes */
	bool generated;
	char *role, *location;
	int64_t size; /* -1: unknown */
	double time;
} dp_ledge;

/* One step of a walk, in depth-first order: the node, its depth, the edge
 * that led to it (SIZE_MAX for the start) and whether it was reached
 * before (then its own steps are not repeated). */
typedef struct dp_lstep {
	size_t node, edge;
	unsigned depth;
	bool again;
} dp_lstep;

typedef struct dp_lgraph {
	dp_lnode *nodes;
	size_t nnodes, capn;
	dp_ledge *edges;
	size_t nedges, cape;
	dp_lstep *steps;
	size_t nsteps, caps;
	dp_map node_of; /* "t" df NUL task, or "e" fingerprint -> node index + 1 */
	dp_map edge_of; /* the edge's record key -> edge index + 1 */
} dp_lgraph;

/* What a command names: a task of dataflow df (NULL: any dataflow, when
 * the id is one task's), an entity by a unique prefix of at least 8
 * characters of its fingerprint ("sha256:3f2a9b1c", or the hex digits
 * alone), or a path (the fingerprint of the file there now, else the
 * entity last recorded at that location).  Adds the node to g and sets
 * *node.  DNNPROV_ENOTFOUND or DNNPROV_EQUERY (an ambiguous prefix,
 * listing the candidates) about `subject`. */
DP_INTERNAL int dp_lineage_resolve(dp_query *q, const char *df, const char *what, const char *subject, dp_lgraph *g,
				   size_t *node);

/* Walks from node `from`, up or down, at most depth steps away (0: no
 * limit), adding nodes, edges and steps to g. */
DP_INTERNAL int dp_lineage_walk(dp_query *q, dp_lgraph *g, size_t from, bool up, unsigned depth);

/* The node of task (df, task), added to g; DNNPROV_ENOTFOUND when the
 * index has no such task. */
DP_INTERNAL int dp_lineage_task(dp_query *q, dp_lgraph *g, const char *df, const char *task, size_t *node);

DP_INTERNAL void dp_lgraph_free(dp_lgraph *g);

#endif
