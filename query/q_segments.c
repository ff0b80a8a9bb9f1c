/*
 * q_segments.c - `segments`: one run's log segments and how far the index
 * has read each, as `dnnprov index --status` lists every segment.
 */
#include "query/registry.h"

static int answer(dp_query *q, const dp_qopts *o, dp_table *out, dp_qnotes *notes)
{
	dp_qdataflow d;
	dp_index_totals tot;
	int rc;

	(void)notes;
	if ((rc = dp_query_load_tasks(q, o->df, o->task, &d)))
		return rc;
	if (!dp_qtask_find(&d, o->task))
		rc = dp_query_no_task(q, d.name, o->task);
	else
		rc = dp_task_segments(q, d.name, o->task, out, &tot);
	dp_qdataflow_free(&d);
	return rc;
}

static const dp_param params[] = {
	DP_PARAM_DATAFLOW,
	{ .name = "task", .type = DP_PT_TASK, .arg = "TASK", .positional = "TASK", .required = true,
	  .help = "the run", .fronts = DP_FRONT_NAMED, .offset = offsetof(dp_qopts, task) },
};

const dp_question dp_q_segments = {
	.name = "segments",
	.summary = "a run's log segments and how far the index read them",
	.description =
		"The segments of one run's logs: the bytes the index has read of each (indexed),\n"
		"its size on disk, what is left to read (behind), its records and the problems\n"
		"skipped in it, and its state: complete (sealed and read), open (still written\n"
		"or not read to its end), deleted (the file is gone), not indexed yet.  The\n"
		"logs are looked for where the indexer recorded them.",
	.example = "dnnprov segments -c exp.yaml adam-lr0.01-20261126T111412Z-vm-26525-4",
	DP_PARAMS(params),
	.opts_size = sizeof(dp_qopts),
	.answer = answer,
};
