/*
 * cmd_layers.c - `dnnprov layers`: the layer facts of tasks.
 */
#include "cli/query_cli.h"

const char cmd_layers_usage[] =
	"usage: dnnprov layers [-c CONFIG | --index-dir DIR] [DF] [TASK] [--where EXPR]\n"
	"                      [--format F]\n"
	"\n"
	"The layer facts each task recorded (Keras-Prov's iLayers): a row per layer\n"
	"fact, with the task, the layer's name, its kind (activation, dropout, ...) and\n"
	"its value (relu, 0.5, ...).  TASK (or --task) shows one task's; --where keeps\n"
	"the tasks it matches, as in `dnnprov help runs`.\n";

/* [DF] [TASK]: with -c, one positional is the task. */
static void task_from_positionals(query_args *a)
{
	int task_at = a->config_df && a->npos == 1 ? 0 : 1;
	if (!a->o.task && a->npos > task_at)
		a->o.task = a->pos[task_at];
}

static int run(dp_query *q, const dp_qopts *o, dp_table *out, dp_qnotes *notes)
{
	(void)notes;
	return dp_cmd_layers(q, o, out);
}

int cmd_layers(int argc, char **argv)
{
	return query_run("layers", argc, argv, QO_TASK | QO_WHERE, 1, 2, task_from_positionals, run);
}
