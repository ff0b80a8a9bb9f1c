/*
 * q_lineage.c - `lineage`: what a model or dataset came from, or what was
 * made from it, as a tree of tasks and entities (docs/LINEAGE.md).
 */
#include <inttypes.h>
#include <stdlib.h>

#include "query/lineage.h"
#include "query/registry.h"

typedef struct lineage_opts {
	dp_qopts base;
	const char *node;
	bool up, down;
	int64_t depth;
} lineage_opts;

/* The tree first: an omitted first column would leave its separator. */
enum {
	COL_TREE,
	COL_DEPTH,
	COL_KIND,
	COL_RELATION,
	COL_DATAFLOW,
	COL_TASK,
	COL_TRANSFORMATION,
	COL_STATUS,
	COL_ROLE,
	COL_LOCATION,
	COL_FINGERPRINT,
	COL_SHORT,
	COL_SIZE,
	COL_AGAIN,
	NCOLS
};

static void columns(dp_table *t)
{
	static const struct {
		const char *name;
		dp_col_kind kind;
	} cols[NCOLS] = {
		[COL_DEPTH] = { "depth", COL_INT },		  [COL_TREE] = { "lineage", COL_TEXT },
		[COL_KIND] = { "kind", COL_TEXT },		  [COL_RELATION] = { "relation", COL_TEXT },
		[COL_DATAFLOW] = { "dataflow", COL_TEXT },	  [COL_TASK] = { "task", COL_TEXT },
		[COL_TRANSFORMATION] = { "transformation", COL_TEXT }, [COL_STATUS] = { "status", COL_TEXT },
		[COL_ROLE] = { "role", COL_TEXT },		  [COL_LOCATION] = { "location", COL_TEXT },
		[COL_FINGERPRINT] = { "fingerprint", COL_TEXT }, [COL_SHORT] = { "entity", COL_TEXT },
		[COL_SIZE] = { "size", COL_INT },		  [COL_AGAIN] = { "again", COL_INT },
	};
	for (size_t i = 0; i < NCOLS; i++)
		dp_table_set_col(t, i, cols[i].name, cols[i].kind);
	dp_table_col_status(t, COL_STATUS);
	/* The table is the tree and what tells its nodes apart; CSV and JSON
	 * have every field and the depth instead of the drawing. */
	static const int table_omits[] = { COL_DEPTH, COL_KIND, COL_DATAFLOW, COL_TASK, COL_TRANSFORMATION,
					   COL_LOCATION, COL_FINGERPRINT, COL_AGAIN };
	for (size_t i = 0; i < DP_ARRAY_LEN(table_omits); i++)
		dp_table_omit(t, (size_t)table_omits[i]);
	dp_table_only(t, COL_TREE);
	dp_table_only(t, COL_SHORT);
}

/* The tree's cell: two spaces a level, then what the node is. */
static int tree_cell(dp_qv *cell, const dp_lnode *n, const dp_ledge *via, unsigned depth, bool again)
{
	dp_buf b = { 0 };
	int rc;
	for (unsigned i = 0; i < depth; i++)
		dp_buf_append(&b, "  ", 2);
	if (n->entity)
		dp_buf_printf(&b, "%s %s", via ? via->role : n->role ? n->role : "entity",
			      via ? via->location : n->location ? n->location : "");
	else
		dp_buf_printf(&b, "%s %s", n->transformation ? n->transformation : "task", n->task);
	if (again)
		dp_buf_printf(&b, " (above)");
	rc = b.failed || !dp_buf_cstr(&b) ? dp_error(DNNPROV_ENOMEM, "out of memory") : dp_set_text(cell, b.data);
	dp_buf_free(&b);
	return rc;
}

static int row_of(dp_table *t, const dp_lgraph *g, const dp_lstep *s)
{
	const dp_lnode *n = &g->nodes[s->node];
	const dp_ledge *via = s->edge == SIZE_MAX ? NULL : &g->edges[s->edge];
	dp_qv *row = dp_table_add_row(t);
	int rc;

	if (!row)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	dp_set_int(&row[COL_DEPTH], s->depth);
	if ((rc = tree_cell(&row[COL_TREE], n, via, s->depth, s->again)))
		return rc;
	dp_set_text(&row[COL_KIND], n->entity ? "entity" : "task");
	if (via)
		dp_set_text(&row[COL_RELATION], via->generated ? "generated" : "used");
	dp_set_int(&row[COL_AGAIN], s->again);
	if (!n->entity) {
		dp_set_text(&row[COL_DATAFLOW], n->df);
		dp_set_text(&row[COL_TASK], n->task);
		dp_set_text(&row[COL_TRANSFORMATION], n->transformation);
		dp_set_text(&row[COL_STATUS], n->status);
		return 0;
	}
	dp_set_text(&row[COL_ROLE], via ? via->role : n->role);
	dp_set_text(&row[COL_LOCATION], via ? via->location : n->location);
	dp_set_text(&row[COL_FINGERPRINT], n->fingerprint);
	/* The algorithm and 8 hex digits: what the commands take back. */
	const char *colon = strchr(n->fingerprint, ':');
	int shown = colon ? (int)(colon - n->fingerprint) + 1 + 8 : 15;
	dp_cell_text(&row[COL_SHORT], n->fingerprint, (size_t)shown);
	if (n->size >= 0)
		dp_set_int(&row[COL_SIZE], n->size);
	return 0;
}

static int answer(dp_query *q, const dp_qopts *base, dp_table *out, dp_qnotes *notes)
{
	const lineage_opts *o = (const lineage_opts *)base;
	dp_lgraph g = { 0 };
	size_t start;
	int rc;

	(void)notes;
	if (o->up && o->down)
		return dp_error_subject(DNNPROV_EQUERY, "down", "--up and --down go one way each: give one of them");
	if ((rc = dp_table_init(out, NCOLS)))
		return rc;
	columns(out);
	if ((rc = dp_lineage_resolve(q, base->df, o->node, "node", &g, &start)) ||
	    (rc = dp_lineage_walk(q, &g, start, !o->down, (unsigned)o->depth)))
		goto out;
	for (size_t i = 0; i < g.nsteps && !rc; i++)
		rc = row_of(out, &g, &g.steps[i]);
out:
	dp_lgraph_free(&g);
	return rc;
}

static const dp_param params[] = {
	{ .name = "node", .type = DP_PT_TEXT, .arg = "ENTITY|TASK", .positional = "ENTITY|TASK", .required = true,
	  .help = "a task id, a fingerprint or a unique prefix of at least 8 of its hex digits, or a path",
	  .fronts = DP_FRONT_NAMED, .offset = offsetof(lineage_opts, node) },
	{ .name = "dataflow", .http_name = "df", .type = DP_PT_TEXT, .arg = "DF",
	  .def_help = "the one that has the task",
	  .help = "the dataflow of the task named (entities belong to none: lineage crosses dataflows)",
	  .fronts = DP_FRONT_ALL, .offset = offsetof(dp_qopts, df) },
	{ .name = "up", .type = DP_PT_FLAG, .def_help = "on",
	  .help = "what it came from: the tasks that generated an entity, the entities a task used",
	  .fronts = DP_FRONT_ALL, .offset = offsetof(lineage_opts, up) },
	{ .name = "down", .type = DP_PT_FLAG,
	  .help = "what was made from it: the tasks that used an entity, the entities a task generated",
	  .fronts = DP_FRONT_ALL, .offset = offsetof(lineage_opts, down) },
	{ .name = "depth", .type = DP_PT_INT, .arg = "N", .min = 0, .max = 1000000, .def_help = "all",
	  .help = "at most N steps from it (0: all)", .fronts = DP_FRONT_ALL, .offset = offsetof(lineage_opts, depth) },
};

const dp_question dp_q_lineage = {
	.name = "lineage",
	.summary = "what a model or dataset came from, or what was made from it",
	.description =
		"The lineage of a task or an entity (a dataset, a split, a model: docs/LINEAGE.md),\n"
		"as a tree: --up (the default) follows each entity to the tasks that generated\n"
		"it and each task to the entities it used, back to the raw data; --down follows\n"
		"each entity to the tasks that used it and each task to what it generated.  An\n"
		"entity is its content's fingerprint, so the walk crosses runs, dataflows and\n"
		"machines.  ENTITY is a fingerprint, a unique prefix of at least 8 of its hex\n"
		"digits, or a path (the file there now, else the entity last recorded there).\n"
		"A node reached twice is shown again marked (above), without its lineage.\n"
		"CSV and JSON have a row per node with its depth, every field and the whole\n"
		"fingerprint; relation says whether the task generated or used the entity.",
	.example = "dnnprov lineage -c exp.yaml runs/best.pt",
	DP_PARAMS(params),
	.opts_size = sizeof(lineage_opts),
	.answer = answer,
};
