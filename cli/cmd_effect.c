/*
 * cmd_effect.c - `dnnprov effect`: what one hyperparameter does to a metric.
 */
#include "cli/query_cli.h"

const char cmd_effect_usage[] =
	"usage: dnnprov effect [-c CONFIG | --index-dir DIR] [DF] --hyp H [--metric M]\n"
	"                      [--agg A] [--goal min|max] [--bins N] [--where EXPR] [--format F]\n"
	"\n"
	"Groups the tasks by the value of hyperparameter H (or, for a numeric H with more\n"
	"than 10 values, into --bins groups of about equal size; default 5) and gives per\n"
	"group the count, mean, std, min and max of the aggregated metric and the best\n"
	"task.  For a numeric H it also gives Spearman's rank correlation with the metric\n"
	"over all tasks (a line under the table; a column in CSV and JSON).  This says\n"
	"which hyperparameter matters and which value is best.\n";

static int run(dp_query *q, const dp_qopts *o, dp_table *out, dp_qnotes *notes)
{
	return dp_cmd_effect(q, o, out, notes);
}

int cmd_effect(int argc, char **argv)
{
	return query_run("effect", argc, argv,
			 QO_WHERE | QO_METRIC | QO_AGG | QO_GOAL | QO_HYP | QO_NEED_HYP | QO_BINS, 1, 1, NULL, run);
}
