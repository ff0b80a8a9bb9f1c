/*
 * cmd_delete.c - `dnnprov delete` and `dnnprov restore`: removing junk runs
 * without stopping anything, and taking them back.
 *
 * The logs are the source of truth: a deletion moves the task's folder
 * into the log folder's trash (logger/trash.h), where the indexer sees it
 * and drops the task, in follow mode within a rescan.  When no indexer is
 * running, these commands bring the index up to date themselves, so that
 * the next query agrees at once.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli/cli.h"
#include "indexer/index.h"
#include "logger/trash.h"

const char cmd_delete_usage[] =
	"usage: dnnprov delete -c CONFIG TASK...\n"
	"       dnnprov delete -c CONFIG --purge [--older-than AGE]\n"
	"\n"
	"Moves the logs of each TASK of CONFIG's dataflow into the trash,\n"
	"<log_dir>/.trash/, and drops the tasks from the index: a following indexer\n"
	"does it within its rescan period, else this command does.  A task another\n"
	"process is recording is refused.  `dnnprov restore` takes a task back.\n"
	"--purge removes the trash for good (with --older-than, only what was deleted\n"
	"more than AGE ago: 30 or 30d days, 12h, 30m, 90s); nothing else ever empties it.\n";

const char cmd_restore_usage[] =
	"usage: dnnprov restore -c CONFIG TASK...\n"
	"       dnnprov restore -c CONFIG --list\n"
	"\n"
	"Moves the most recently deleted copy of each TASK back from the trash; the\n"
	"index reads it again.  Refused when a task of that id exists again.  --list\n"
	"shows what the trash holds: when each task was deleted, its dataflow and run.\n";

/* Brings the index up to date when no indexer holds it: the deletion or
 * restore shows in the next query.  Quiet: the command says what it did. */
static int catch_up(const char *cmd, const cli_paths *p)
{
	char *current = dp_path_join(p->index_dir, DP_INDEX_CURRENT);
	struct stat st;
	bool exists = current && lstat(current, &st) == 0;
	dp_indexer *x = NULL;
	int rc;

	free(current);
	if (!exists)
		return 0; /* no index yet: the first `dnnprov index` will not see them */
	dp_indexer_options opts = { .log_dir = p->log_dir, .index_dir = p->index_dir };
	rc = dp_indexer_open(&opts, &x);
	if (rc == DNNPROV_ELOCKED)
		return 0; /* the indexer that follows the logs drops them itself */
	if (rc == 0)
		rc = dp_indexer_catch_up(x);
	dp_indexer_close(x);
	return rc ? cli_lib_error(cmd, rc, p->index_dir) : 0;
}

typedef struct delete_args {
	const char *config;
	bool purge, list, older_than;
	double older_than_s;
} delete_args;

static int parse(const char *cmd, int argc, char **argv, bool restore, delete_args *a)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "purge", no_argument, NULL, 'P' },
		{ "older-than", required_argument, NULL, 'o' },
		{ "list", no_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(a, 0, sizeof(*a));
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'h': return cli_help_done(cmd);
		case 'c': a->config = optarg; break;
		case 'P':
			if (restore)
				return cli_usage(cmd, "--purge is an option of delete");
			a->purge = true;
			break;
		case 'o': {
			/* A bare number is days, as it always was; a century at most,
			 * past which nothing is old enough. */
			int status;
			if (restore)
				return cli_usage(cmd, "--older-than is an option of delete --purge");
			if ((status = cli_opt_duration(cmd, "--older-than", optarg, "d", 0, 36500.0 * 86400, &a->older_than_s)))
				return status;
			a->older_than = true;
			break;
		}
		case 'l':
			if (!restore)
				return cli_usage(cmd, "--list is an option of restore");
			a->list = true;
			break;
		default: return cli_bad_option(cmd, argv, "c:h", opts);
		}
	}
	if (!a->config)
		return cli_usage(cmd, "--config is required");
	if (a->older_than && !a->purge)
		return cli_usage(cmd, "--older-than goes with --purge");
	if ((a->purge || a->list) && optind < argc)
		return cli_usage(cmd, "%s takes no task", a->purge ? "--purge" : "--list");
	if (!a->purge && !a->list && optind >= argc)
		return cli_usage(cmd, "no task given");
	return 0;
}

static int purge(const char *cmd, const cli_paths *p, const delete_args *a)
{
	size_t removed;
	int rc = dp_trash_purge(p->log_dir, a->older_than_s, &removed);
	if (rc)
		return cli_lib_error(cmd, rc, p->log_dir);
	printf("removed %zu deleted task%s from the trash of %s for good\n", removed, removed == 1 ? "" : "s",
	       p->log_dir);
	return 0;
}

int cmd_delete(int argc, char **argv)
{
	const char *cmd = "delete";
	delete_args a;
	cli_paths p;
	size_t moved = 0;
	int rc, status;

	if ((status = parse(cmd, argc, argv, false, &a)))
		return cli_status(status);
	if ((status = cli_locations(cmd, a.config, NULL, NULL, &p)))
		return status;
	if (a.purge) {
		status = purge(cmd, &p, &a);
	} else {
		int n = argc - optind;
		rc = dp_trash_tasks(p.log_dir, p.dataflow, (const char *const *)argv + optind, (size_t)n, &moved);
		if (rc)
			status = cli_lib_error(cmd, rc, (size_t)n > moved ? argv[optind + moved] : p.log_dir);
		if (moved) {
			printf("deleted %zu task%s of dataflow %s: moved to %s/%s (dnnprov restore takes %s back)\n",
			       moved, moved == 1 ? "" : "s", p.dataflow, p.log_dir, DP_TRASH_DIR,
			       moved == 1 ? "it" : "them");
			if ((rc = catch_up(cmd, &p)))
				status = rc;
		}
	}
	cli_paths_free(&p);
	return cli_finish(cmd, status);
}

static int list_trash(const char *cmd, const cli_paths *p)
{
	dp_trashed *list;
	size_t n;
	char when[32];
	int rc = dp_trash_list(p->log_dir, &list, &n);

	if (rc)
		return cli_lib_error(cmd, rc, p->log_dir);
	printf("%-20s  %-16s  %-32s  %s\n", "deleted", "dataflow", "run", "task");
	for (size_t i = 0; i < n; i++) {
		time_t t = isnan(list[i].deleted) ? 0 : (time_t)list[i].deleted;
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		printf("%-20s  %-16s  %-32s  %s\n", isnan(list[i].deleted) ? "?" : when, list[i].df,
		       list[i].run[0] ? list[i].run : "-", list[i].task);
	}
	dp_trash_list_free(list, n);
	return 0;
}

int cmd_restore(int argc, char **argv)
{
	const char *cmd = "restore";
	delete_args a;
	cli_paths p;
	size_t restored = 0;
	int rc, status;

	if ((status = parse(cmd, argc, argv, true, &a)))
		return cli_status(status);
	if ((status = cli_locations(cmd, a.config, NULL, NULL, &p)))
		return status;
	if (a.list) {
		status = list_trash(cmd, &p);
	} else {
		for (int i = optind; i < argc; i++) {
			if ((rc = dp_trash_restore(p.log_dir, p.dataflow, argv[i])))
				status = cli_lib_error(cmd, rc, argv[i]);
			else
				restored++;
		}
		if (restored) {
			printf("restored %zu task%s of dataflow %s\n", restored, restored == 1 ? "" : "s", p.dataflow);
			if ((rc = catch_up(cmd, &p)))
				status = rc;
		}
	}
	cli_paths_free(&p);
	return cli_finish(cmd, status);
}
