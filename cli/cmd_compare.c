/*
 * cmd_compare.c - `dnnprov compare`: hyperparameters against one
 * aggregated metric, best first.
 */
#include "cli/query_cli.h"

const char cmd_compare_usage[] =
	"usage: dnnprov compare [-c CONFIG | --index-dir DIR] [DF] [--metric M]\n"
	"                       [--agg best|max|min|last|mean|at=EPOCH] [--goal min|max]\n"
	"                       [--where EXPR] [--sort [+|-]COL] [--limit N]\n"
	"                       [--offset N] [--format F]\n"
	"\n"
	"Each task's hyperparameters beside the aggregate of one metric over its epochs,\n"
	"best first; tasks lacking the metric come last with an empty cell.  --agg best\n"
	"(the default) is min for loss-like metrics and max for the others; at=EPOCH\n"
	"takes the value at one epoch.  The at_epoch column says which epoch the value\n"
	"comes from.  --where as in `dnnprov help runs`; conditions on hyperparameters\n"
	"are answered by the hyperparameter index.\n"
	"\n"
	"example: dnnprov compare -c exp.yaml --metric val_accuracy --where \"epochs >= 10\" --limit 5\n";

static int run(dp_query *q, const dp_qopts *o, dp_table *out, dp_qnotes *notes)
{
	return dp_cmd_compare(q, o, out, notes);
}

int cmd_compare(int argc, char **argv)
{
	return query_run("compare", argc, argv,
			 QO_WHERE | QO_SORT | QO_LIMIT | QO_METRIC | QO_AGG | QO_GOAL, 1, 1, NULL, run);
}
