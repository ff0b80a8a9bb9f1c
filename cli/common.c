/*
 * common.c - option handling the index and query commands share: where the
 * logs and the index are, from -c CONFIG or --log-dir / --index-dir.
 */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "config/config.h"

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

void cli_paths_free(cli_paths *p)
{
	free(p->log_dir);
	free(p->index_dir);
	free(p->dataflow);
	memset(p, 0, sizeof(*p));
}
