/*
 * cmd_elements.c - `dnnprov elements`: the data of a user-defined
 * transformation.
 */
#include "cli/query_cli.h"

const char cmd_elements_usage[] =
	"usage: dnnprov elements [-c CONFIG | --index-dir DIR] [DF] TRANSFORMATION [--set S]\n"
	"                        [--task T] [--where EXPR] [--format F]\n"
	"\n"
	"The elements recorded for a user-defined transformation (the DenseBlock case),\n"
	"one column per declared attribute of its sets (or of --set).  --where keeps\n"
	"the elements of the tasks it matches, as in `dnnprov help runs`.\n";

static void tf_from_positionals(query_args *a)
{
	a->o.transformation = a->pos[a->npos - 1];
}

static int run(dp_query *q, const dp_qopts *o, dp_table *out, dp_qnotes *notes)
{
	(void)notes;
	return dp_cmd_elements(q, o, out);
}

int cmd_elements(int argc, char **argv)
{
	return query_run("elements", argc, argv, QO_SET | QO_TASK | QO_WHERE, 2, 2, tf_from_positionals, run);
}
