/*
 * cmd_runs.c - `dnnprov runs`: one row per task of a dataflow.
 */
#include "cli/query_cli.h"

const char cmd_runs_usage[] =
	"usage: dnnprov runs [-c CONFIG | --index-dir DIR] [DF] [--where EXPR] [--sort [+|-]COL]\n"
	"                    [--limit N] [--offset N] [--metric M] [--goal min|max] [--facts]\n"
	"                    [--format table|csv|json]\n"
	"\n"
	"A row per task: id, status, start, duration, epochs done, last activity, the\n"
	"hyperparameters, and the last and best value of the main metric (--metric, or\n"
	"the first declared metric's val_ twin if a task reported it, else the first\n"
	"metric a task reported).  Best means lowest for names with loss, error, mse,\n"
	"mae, perplexity..., else highest (--goal overrides).  Sorted by start time\n"
	"unless --sort names a column (a leading - sorts descending).  DF defaults to\n"
	"the config's dataflow.  A tags column shows the runs' tags (dnnprov tag);\n"
	"--facts adds a column per run fact (command, cwd, git_commit, python, ...).\n"
	"--offset N skips the first N rows after sorting: with --limit, a page of the\n"
	"runs (JSON then says how many there are in all, \"total\").  Sorted by the task\n"
	"or by the last or best metric, a page is chosen without loading every task,\n"
	"as fast with 100,000 tasks as with 1,000.\n"
	"\n"
	"--where filters tasks: comparisons (= != < <= > >=), in (...), like 'pattern'\n"
	"(% any text, _ one character), and, or, not, + - * / on numbers, parentheses;\n"
	"names are hyperparameters, status, epochs, task, host, start, end, tags.KEY,\n"
	"facts.NAME, and metric aggregates such as max(val_accuracy) or last(loss), e.g.\n"
	"  --where \"LEARNING_RATE <= 0.01 and OPTIMIZER_NAME in ('Adam', 'SGD')\"\n"
	"  --where \"task like 'adam-%' and last(val_loss) < min(val_loss) * 1.1\"\n"
	"docs/QUERY.md has the whole language.\n";

static int run(dp_query *q, const dp_qopts *o, dp_table *out, dp_qnotes *notes)
{
	return dp_cmd_runs(q, o, out, notes);
}

int cmd_runs(int argc, char **argv)
{
	return query_run("runs", argc, argv, QO_WHERE | QO_SORT | QO_LIMIT | QO_METRIC | QO_GOAL | QO_FACTS, 1, 1, NULL, run);
}
