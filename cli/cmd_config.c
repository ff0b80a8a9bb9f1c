/*
 * cmd_config.c - `dnnprov config check FILE`: an experiment file checked
 * before anything is trained with it, and what it resolves to.
 *
 * The loader (config/config.c) does the checking; this prints the loaded
 * struct the way the rest of the system will use it: folders made absolute,
 * the hyperparameters `begin` records with their types, the metrics with
 * their val_ twins, the user's transformations, and the log settings.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "config/config.h"

const char cmd_config_usage[] =
	"usage: dnnprov config check FILE\n"
	"\n"
	"Checks an experiment file as every other command and the libraries will read\n"
	"it (docs/CONFIG.md), without an index or logs, and prints what it resolves\n"
	"to: the dataflow, the log and index folders as absolute paths (relative ones\n"
	"are relative to the file's folder), the hyperparameters `begin` records with\n"
	"their types, the metrics with their val_ twins, the transformations with their\n"
	"sets and typed attributes, and the log settings.\n"
	"\n"
	"exit status: 0 when the file is valid; 1 with FILE:LINE:COL and the problem\n"
	"when it is not; 2 on a usage error.\n";

#define CMD "config"

/* The absolute path the system will use for `path` (relative to the working
 * folder): resolved through the filesystem as far as it exists, symbolic
 * links and ".." included, the rest appended as named, since the folder may
 * not have been created yet.  NULL when out of memory. */
static char *absolute(const char *path)
{
	char cwd[PATH_MAX], *full, *real, *slash, *parent, *out;
	if (path[0] == '/')
		full = strdup(path);
	else
		full = getcwd(cwd, sizeof(cwd)) ? dp_path_join(cwd, path) : strdup(path);
	if (!full)
		return NULL;
	size_t n = strlen(full);
	while (n > 1 && full[n - 1] == '/')
		full[--n] = '\0';
	if ((real = realpath(full, NULL)) || !(slash = strrchr(full, '/')) || slash == full) {
		if (real)
			free(full);
		return real ? real : full;
	}
	*slash = '\0';
	const char *base = slash + 1;
	if (!(parent = absolute(full))) {
		free(full);
		return NULL;
	}
	if (strcmp(base, ".") == 0) {
		out = parent;
	} else if (strcmp(base, "..") == 0) {
		out = parent;
		char *up = strrchr(out, '/');
		if (up)
			up[up == out ? 1 : 0] = '\0';
	} else {
		out = dp_path_join(parent, base);
		free(parent);
	}
	free(full);
	return out;
}

static void print_folder(const char *key, const char *dir)
{
	struct stat st;
	char *abs = absolute(dir);
	const char *state = stat(dir, &st) != 0 ? (errno == ENOENT ? " (not created yet)" : "")
			    : S_ISDIR(st.st_mode) ? ""
						  : " (not a folder!)";
	printf("%-10s  %s%s\n", key, abs ? abs : dir, state);
	free(abs);
}

/* A size or a duration in the largest unit that divides it: 64MiB, 1s. */
static void print_amount(uint64_t v, const char *const *units, const uint64_t *scales, size_t n)
{
	size_t i = 0;
	while (i + 1 < n && v && v % scales[i] != 0)
		i++;
	printf("%llu%s", (unsigned long long)(v / scales[i]), units[i]);
}

static void print_size(uint64_t bytes)
{
	static const char *const units[] = { "TiB", "GiB", "MiB", "KiB", "B" };
	static const uint64_t scales[] = { 1ull << 40, 1ull << 30, 1ull << 20, 1ull << 10, 1 };
	print_amount(bytes, units, scales, DP_ARRAY_LEN(units));
}

static void print_duration(uint64_t ms)
{
	static const char *const units[] = { "h", "m", "s", "ms" };
	static const uint64_t scales[] = { 3600000, 60000, 1000, 1 };
	print_amount(ms, units, scales, DP_ARRAY_LEN(units));
}

static void print_hyperparameters(const dnnprov_config *cfg)
{
	size_t width = 0, skipped = 0;
	for (size_t i = 0; i < cfg->nhyperparameters; i++)
		if (cfg->hyperparameters[i].selected && strlen(cfg->hyperparameters[i].name) > width)
			width = strlen(cfg->hyperparameters[i].name);
	printf("\nhyperparameters recorded by begin:%s\n", width ? "" : " none");
	for (size_t i = 0; i < cfg->nhyperparameters; i++) {
		const dp_hyperparameter *h = &cfg->hyperparameters[i];
		if (h->selected && h->builtin)
			printf("  %-*s  %-7s  (built-in)\n", (int)width, h->name, dp_attr_type_name(h->type));
		else if (h->selected)
			printf("  %-*s  %s\n", (int)width, h->name, dp_attr_type_name(h->type));
		else
			skipped++;
	}
	if (!skipped)
		return;
	printf("built-in, not recorded:");
	for (size_t i = 0, k = 0; i < cfg->nhyperparameters; i++)
		if (!cfg->hyperparameters[i].selected)
			printf("%s %s", k++ ? "," : "", cfg->hyperparameters[i].name);
	printf("\n");
}

/* The metrics as listed, then the val_ twins the loader added after them. */
static void print_metrics(const dnnprov_config *cfg)
{
	size_t listed = cfg->nmetrics_listed;
	printf("\nmetrics per epoch and test:%s", cfg->nmetrics ? "" : " none");
	for (size_t i = 0; i < listed; i++)
		printf("%s %s", i ? "," : "", cfg->metrics[i]);
	printf("\n");
	if (listed < cfg->nmetrics) {
		printf("  and their validation twins (val_metrics: true):");
		for (size_t i = listed; i < cfg->nmetrics; i++)
			printf("%s %s", i > listed ? "," : "", cfg->metrics[i]);
		printf("\n");
	}
	if (cfg->nmetric_ranges) {
		printf("ranges (metric_ranges):");
		for (size_t i = 0; i < cfg->nmetric_ranges; i++) {
			const dp_metric_range *r = &cfg->metric_ranges[i];
			printf("%s %s [%g, %g]", i ? "," : "", r->metric, r->low, r->high);
		}
		printf("\n");
	}
	printf("adaptations: %s\n", cfg->adaptation ? "recorded (adaptation: true)"
						    : "not recorded (adaptation: false)");
	printf("run facts: %s\n", cfg->facts ? "recorded at begin (facts: true)"
					      : "not recorded (facts: false)");
}

static void print_transformations(const dnnprov_config *cfg)
{
	printf("\ntransformations of your own:%s\n", cfg->ntransformations ? "" : " none");
	for (size_t i = 0; i < cfg->ntransformations; i++) {
		const dp_transformation *tf = &cfg->transformations[i];
		printf("  %s", tf->name);
		for (size_t d = 0; d < tf->ndepends; d++)
			printf("%s%s", d ? ", " : ", depends on ", tf->depends_on[d]);
		printf("\n");
		for (size_t s = 0; s < tf->nsets; s++) {
			const dp_set *set = &tf->sets[s];
			printf("    %-6s %s:", set->is_input ? "input" : "output", set->name);
			for (size_t a = 0; a < set->nattrs; a++)
				printf("%s %s %s", a ? "," : "", set->attrs[a].name, dp_attr_type_name(set->attrs[a].type));
			printf("\n");
		}
	}
}

static void print_log(const dnnprov_config *cfg)
{
	printf("\nlog: segments of ");
	print_size(cfg->segment_size);
	printf(", durability %s", dp_durability_name(cfg->durability));
	if (cfg->durability == DP_DURABILITY_INTERVAL) {
		printf(" (fdatasync every ");
		print_duration(cfg->fsync_interval_ms);
		printf(")");
	}
	printf("\n");
}

static int check(const char *path)
{
	dnnprov_config *cfg;
	int rc = cli_config_load(CMD, path, &cfg);
	if (rc)
		return rc;
	printf("%s is valid.\n\n", path);
	printf("%-10s  %s\n", "dataflow", cfg->dataflow);
	print_folder("log_dir", cfg->log_dir);
	print_folder("index_dir", cfg->index_dir);
	print_hyperparameters(cfg);
	print_metrics(cfg);
	print_transformations(cfg);
	print_log(cfg);
	dnnprov_config_free(cfg);
	return cli_finish(CMD, 0);
}

int cmd_config(int argc, char **argv)
{
	/* Anywhere: config takes no other option, and no file is named -h. */
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return cli_help(CMD);
	if (argc < 2)
		return cli_usage(CMD, "missing the action (check)");
	if (strcmp(argv[1], "check") != 0)
		return cli_usage(CMD, "unknown action '%s' (the action is check)", argv[1]);
	if (argc != 3)
		return cli_usage(CMD, argc < 3 ? "check takes the experiment file" : "check takes one file");
	return check(argv[2]);
}
