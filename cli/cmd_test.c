/*
 * cmd_test.c - `dnnprov test`: test-set results beside hyperparameters.
 */
#include "cli/query_cli.h"

const char cmd_test_usage[] =
	"usage: dnnprov test [-c CONFIG | --index-dir DIR] [DF] [--where EXPR] [--sort [+|-]COL]\n"
	"                    [--limit N] [--offset N] [--format F]\n"
	"\n"
	"The latest test record of each task that has one, beside its hyperparameters,\n"
	"best first by the first test metric.\n";

static int run(dp_query *q, const dp_qopts *o, dp_table *out, dp_qnotes *notes)
{
	return dp_cmd_test(q, o, out, notes);
}

int cmd_test(int argc, char **argv)
{
	return query_run("test", argc, argv, QO_WHERE | QO_SORT | QO_LIMIT, 1, 1, NULL, run);
}
