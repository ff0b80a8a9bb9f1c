/*
 * common.c - what several commands share: where the logs and the index
 * are, from -c CONFIG or --log-dir / --index-dir; and the segments under a
 * path named on the command line.
 */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "config/config.h"
#include "logger/scan.h"

int cli_locations(const char *cmd, const char *config_path, const char *log_dir,
		  const char *index_dir, cli_paths *out)
{
	memset(out, 0, sizeof(*out));
	if (config_path) {
		dnnprov_config *cfg;
		int rc = dnnprov_config_load(config_path, &cfg);
		if (rc)
			return cli_lib_error(cmd, rc, config_path);
		out->log_dir = strdup(log_dir ? log_dir : cfg->log_dir);
		out->index_dir = strdup(index_dir ? index_dir : cfg->index_dir);
		out->dataflow = strdup(cfg->dataflow);
		bool copied = out->log_dir && out->index_dir && out->dataflow;
		dnnprov_config_free(cfg);
		if (!copied)
			goto oom;
	} else {
		out->log_dir = log_dir ? strdup(log_dir) : NULL;
		out->index_dir = index_dir ? strdup(index_dir) : NULL;
		if ((log_dir && !out->log_dir) || (index_dir && !out->index_dir))
			goto oom;
	}
	return 0;
oom:
	cli_paths_free(out);
	cli_error(cmd, "out of memory");
	return 1;
}

typedef struct walk_ctx {
	const char *cmd;
	bool told;
} walk_ctx;

static void walk_report(void *ctx, const char *path, dp_walk_issue issue, const char *why)
{
	walk_ctx *w = ctx;
	(void)issue;
	cli_error(w->cmd, "%s: %s", path, why);
	w->told = true;
}

int cli_find_segments(const char *cmd, const char *path, dp_path_list *segs)
{
	walk_ctx w = { cmd, false };
	int rc = dp_find_segments(path, segs, walk_report, &w);
	if (rc && (!w.told || rc == DNNPROV_ENOMEM)) /* a folder's failure was told */
		cli_lib_error(cmd, rc, path);
	return rc || w.told;
}

void cli_paths_free(cli_paths *p)
{
	free(p->log_dir);
	free(p->index_dir);
	free(p->dataflow);
	memset(p, 0, sizeof(*p));
}
