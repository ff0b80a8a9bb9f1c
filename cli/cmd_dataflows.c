/*
 * cmd_dataflows.c - `dnnprov dataflows` and `dnnprov describe`.
 */
#include "cli/query_cli.h"

const char cmd_dataflows_usage[] =
	"usage: dnnprov dataflows [-c CONFIG | --index-dir DIR] [--format F]\n"
	"\n"
	"The dataflows in the index, with their task counts and last activity.\n";

const char cmd_describe_usage[] =
	"usage: dnnprov describe [-c CONFIG | --index-dir DIR] [DF] [TASK] [--format F]\n"
	"\n"
	"A dataflow's specification: hyperparameters and their types, metrics,\n"
	"transformations (built-in and user-defined) with their sets, typed attributes\n"
	"and dependencies, and its tasks counted by status.  With TASK, that run: its\n"
	"status, times, attempts, host and user, hyperparameters, run facts and tags.\n";

static int run_dataflows(dp_query *q, const dp_qopts *o, dp_table *out, dp_qnotes *notes)
{
	(void)o;
	(void)notes;
	return dp_cmd_dataflows(q, out);
}

static int run_describe(dp_query *q, const dp_qopts *o, dp_table *out, dp_qnotes *notes)
{
	(void)notes;
	return dp_cmd_describe(q, o, out);
}

int cmd_dataflows(int argc, char **argv)
{
	return query_run("dataflows", argc, argv, 0, 0, 0, NULL, run_dataflows);
}

/* With -c, a positional is the TASK; without, DF then TASK. */
static void task_if_given(query_args *a)
{
	if (a->npos && a->pos[a->npos - 1] != a->o.df)
		a->o.task = a->pos[a->npos - 1];
}

int cmd_describe(int argc, char **argv)
{
	return query_run("describe", argc, argv, 0, 1, 2, task_if_given, run_describe);
}
