/*
 * cmd_adaptations.c - `dnnprov adaptations`: every hyperparameter change
 * and what followed it.
 */
#include "cli/query_cli.h"

const char cmd_adaptations_usage[] =
	"usage: dnnprov adaptations [-c CONFIG | --index-dir DIR] [DF] [--task T] [--where EXPR]\n"
	"                           [--metric M] [--window K] [--format F]\n"
	"\n"
	"Each adaptation (a learning-rate schedule step, say): task, epoch,\n"
	"hyperparameter, old and new value, the metric at the epoch before it, the\n"
	"metric K epochs later (the K-th epoch run with the new value; default 1), and\n"
	"the change between the two.  --where keeps the tasks it matches, as in\n"
	"`dnnprov help runs`.\n";

static int run(dp_query *q, const dp_qopts *o, dp_table *out, dp_qnotes *notes)
{
	(void)notes;
	return dp_cmd_adaptations(q, o, out);
}

int cmd_adaptations(int argc, char **argv)
{
	return query_run("adaptations", argc, argv, QO_TASK | QO_WHERE | QO_METRIC | QO_WINDOW, 1, 1, NULL, run);
}
