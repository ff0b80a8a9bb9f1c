/*
 * cmd_tag.c - `dnnprov tag`: tags and notes on a run, at any time.
 *
 * Writing goes through dnnprov_tag(), a note segment of its own in the
 * task's folder, so it needs neither the task's lock (a training process
 * may be recording the task) nor the index.  Without tags to write, the
 * command lists the task's tags as the index has them.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "query/registry.h"

const char cmd_tag_usage[] =
	"usage: dnnprov tag -c CONFIG TASK KEY=VALUE ... [--remove KEY] [--note TEXT]\n"
	"       dnnprov tag [-c CONFIG | --index-dir DIR] [DF] TASK [--format F]\n"
	"\n"
	"Tags a run of CONFIG's dataflow: each KEY takes VALUE (text), --remove KEY\n"
	"removes a key, --note TEXT sets the `note` tag.  Allowed while another process\n"
	"records the task and after it ended; a tag never changes the run's status.\n"
	"The latest value of a key wins.  Tags show in `runs`, filter with\n"
	"--where \"tags.KEY = 'VALUE'\", and go to SQL (the tags table) and PROV.\n"
	"Without KEY=VALUE, --remove or --note, lists the task's tags from the index.\n"
	"\n"
	"example:\n"
	"  dnnprov tag -c exp.yaml adam-lr0.01-20261126T104208Z-gpu3-1234 stage=candidate \\\n"
	"      --note \"best so far; rerun with seed 2\"\n";

#define CMD "tag"

static bool writes(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return false;
		if (strcmp(argv[i], "--remove") == 0 || strcmp(argv[i], "--note") == 0 ||
		    strncmp(argv[i], "--remove=", 9) == 0 || strncmp(argv[i], "--note=", 7) == 0 ||
		    (argv[i][0] != '-' && strchr(argv[i], '=')))
			return true;
	}
	return false;
}

static int list_tags(dp_query *q, const dp_qopts *o, dp_table *out, dp_qnotes *notes)
{
	dp_qdataflow d;
	const dp_qtask *t;
	int rc;

	(void)notes;
	if ((rc = dp_query_load_tasks(q, o->df, o->task, &d)))
		return rc;
	if (!(t = dp_qtask_find(&d, o->task)))
		rc = dp_query_no_task(q, o->df, o->task);
	else if (!(rc = dp_table_init(out, 2))) {
		dp_table_set_col(out, 0, "key", COL_TEXT);
		dp_table_set_col(out, 1, "value", COL_TEXT);
		for (size_t i = 0; i < t->ntags; i++) {
			dp_qv *row = dp_table_add_row(out);
			const dp_qv *v = &t->tags[i].value;
			if (!row || dp_cell_text(&row[0], t->tags[i].name, strlen(t->tags[i].name)) ||
			    (v->type == QV_TEXT ? dp_cell_text(&row[1], v->text, strlen(v->text))
						: ((row[1] = *v), 0)))
				out->failed = true;
		}
	}
	dp_qdataflow_free(&d);
	return rc;
}

/* Listing a task's tags is a question, asked as the registry's are; it is
 * no registry entry since `tag` also writes. */
static const dp_param list_params[] = {
	DP_PARAM_DATAFLOW,
	DP_PARAM_TASK_REQUIRED,
};
static const dp_question list_question = {
	.name = CMD,
	.summary = "the tags of a run",
	.description = "",
	DP_PARAMS(list_params),
	.opts_size = sizeof(dp_qopts),
	.answer = list_tags,
};

int cmd_tag(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "remove", required_argument, NULL, 'r' },
		{ "note", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config_path = NULL;
	dnnprov_value *tags = NULL;
	dnnprov_config *cfg = NULL;
	size_t n = 0;
	int c, rc, status = 0;

	if (!writes(argc, argv))
		return cli_ask(&list_question, argc, argv);
	/* Every argument may be a tag: room for all of them. */
	if (!(tags = calloc((size_t)argc, sizeof(*tags)))) {
		cli_error(CMD, "out of memory");
		return cli_finish(CMD, 1);
	}
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config_path = optarg; break;
		case 'r': tags[n++] = (dnnprov_value){ .name = optarg, .type = DNNPROV_NULL }; break;
		case 'n': tags[n++] = DNNPROV_V_TEXT("note", optarg); break;
		default: free(tags); return cli_bad_option(CMD, argv, "c:", opts);
		}
	}
	if (!config_path)
		status = cli_usage(CMD, "--config is required to write tags");
	else if (optind >= argc)
		status = cli_usage(CMD, "the task is missing");
	for (int i = optind + 1; i < argc && !status; i++) {
		char *eq = strchr(argv[i], '=');
		if (!eq || eq == argv[i]) {
			status = cli_usage(CMD, "'%s' is not KEY=VALUE", argv[i]);
			break;
		}
		*eq = '\0';
		tags[n++] = DNNPROV_V_TEXT(argv[i], eq + 1);
	}
	if (!status && !(status = cli_config_load(CMD, config_path, &cfg)) &&
	    (rc = dnnprov_tag(cfg, argv[optind], tags, n)))
		status = cli_lib_error(CMD, rc, argv[optind]);
	dnnprov_config_free(cfg);
	free(tags);
	return cli_finish(CMD, status);
}
