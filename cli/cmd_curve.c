/*
 * cmd_curve.c - `dnnprov curve`: one task, epoch by epoch.
 */
#include "cli/query_cli.h"

const char cmd_curve_usage[] =
	"usage: dnnprov curve [-c CONFIG | --index-dir DIR] [DF] TASK [--metrics m1,m2] [--format F]\n"
	"\n"
	"A row per epoch of TASK: its duration, the metrics (all it reported, or\n"
	"--metrics, in any case; a name given twice is one column), the value in\n"
	"force of every hyperparameter the task adapted (the learning rate after\n"
	"each schedule step), and a mark where an adaptation happened.  The table\n"
	"format ends with a sparkline per metric.  One range scan: as fast with\n"
	"100,000 tasks in the index as with one.\n";

static void task_from_positionals(query_args *a)
{
	a->o.task = a->pos[a->npos - 1];
}

static int run(dp_query *q, const dp_qopts *o, dp_table *out, dp_qnotes *notes)
{
	return dp_cmd_curve(q, o, out, notes);
}

int cmd_curve(int argc, char **argv)
{
	return query_run("curve", argc, argv, QO_METRICS, 2, 2, task_from_positionals, run);
}
