/*
 * cmd_export.c - `dnnprov export`: a dataflow as a W3C PROV document
 * (query/prov.c writes it; docs/PROV.md is the mapping).
 *
 * Its options differ from the questions' (--task repeats, --format names
 * PROV formats, -o), so it parses its own.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/progress.h"
#include "query/picture.h"
#include "query/prov.h"
#include "query/registry.h"

const char cmd_export_usage[] =
	"usage: dnnprov export [-c CONFIG | --index-dir DIR] [DF] [--task ID]... [--where EXPR]\n"
	"                      [--format prov-json|prov-n] [-o FILE]\n"
	"       dnnprov export [-c CONFIG | --index-dir DIR] [DF] --run ID\n"
	"                      [--format prov-json|prov-n|dot|svg] [-o FILE]\n"
	"\n"
	"Writes the W3C PROV document of dataflow DF (the config's by default, or the\n"
	"only one in the index): its\n"
	"specification (transformations, sets, attributes) and, for every task or\n"
	"each --task, the training with its agents, hyperparameters, epochs,\n"
	"adaptations, tests and the elements of user-defined transformations.\n"
	"docs/PROV.md describes the mapping.  The document is written while the\n"
	"index is scanned, from one snapshot: memory stays small however many tasks\n"
	"and epochs there are, and the same index gives the same document.\n"
	"\n"
	"--run ID writes one run's document: the run with its lineage (the tasks\n"
	"that made the data it used and used what it made, docs/LINEAGE.md), their\n"
	"entities, agents, adaptations and tests, without the specification and the\n"
	"epochs; or its picture, left to right, with the epochs collapsed to one\n"
	"node: --format dot (Graphviz's language) or svg (drawn by Graphviz's `dot`,\n"
	"which must be installed: apt-get install graphviz).\n"
	"\n"
	"options:\n"
	"  -c, --config FILE    the experiment file: its index and dataflow\n"
	"      --index-dir DIR  the index folder (instead of the config's)\n"
	"  -t, --task ID        only this task; repeat for several\n"
	"  -w, --where EXPR     only the tasks EXPR matches (as in `dnnprov help runs`)\n"
	"  -r, --run ID         one run's document or picture (above)\n"
	"  -f, --format F       prov-json (default) or prov-n; with --run also dot or svg\n"
	"  -o, --output FILE    write FILE instead of standard output; a regular file\n"
	"                       is written under a temporary name and renamed when\n"
	"                       complete, so a failed export leaves no partial file\n"
	"\n"
	"When stderr is a terminal and the document does not go to it, a progress line\n"
	"shows the share done, what is written, the rate and the time left.\n";

#define CMD "export"

/* What --format names beside PROV: one run's picture. */
typedef enum picture { PICTURE_NONE, PICTURE_DOT, PICTURE_SVG } picture;

typedef struct export_args {
	const char *config, *index_dir, *output, *df, *where, *run;
	picture picture;
	const char **tasks;
	size_t ntasks;
	dp_prov_format format;
	cli_paths paths;
} export_args;

static int parse(int argc, char **argv, export_args *a)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "index-dir", required_argument, NULL, 'I' },
		{ "task", required_argument, NULL, 't' },
		{ "format", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ "where", required_argument, NULL, 'w' },
		{ "run", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	static const char shortopts[] = "c:t:f:o:w:r:h";
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
		switch (c) {
		case 'h': return cli_help_done(CMD);
		case 'c': a->config = optarg; break;
		case 'I': a->index_dir = optarg; break;
		case 't': {
			const char **g = realloc(a->tasks, (a->ntasks + 1) * sizeof(*g));
			if (!g) {
				cli_error(CMD, "out of memory");
				return 1;
			}
			a->tasks = g;
			a->tasks[a->ntasks++] = optarg;
			break;
		}
		case 'f':
			a->picture = strcmp(optarg, "dot") == 0 ? PICTURE_DOT : strcmp(optarg, "svg") == 0 ? PICTURE_SVG
												  : PICTURE_NONE;
			if (!a->picture && dp_prov_format_parse(optarg, &a->format))
				return cli_usage(CMD, "unknown format '%s' (prov-json, prov-n; with --run dot, svg)", optarg);
			break;
		case 'r': a->run = optarg; break;
		case 'w': a->where = optarg; break;
		case 'o':
			if (!*optarg)
				return cli_usage(CMD, "-o takes a file name");
			a->output = optarg;
			break;
		default: return cli_bad_option(CMD, argv, shortopts, opts);
		}
	}
	if ((rc = cli_locations(CMD, a->config, NULL, a->index_dir, &a->paths)))
		return rc;
	if (!a->paths.index_dir)
		return cli_usage(CMD, "give -c CONFIG or --index-dir DIR");
	if (argc - optind > 1)
		return cli_usage(CMD, "too many arguments");
	if (a->picture && !a->run)
		return cli_usage(CMD, "--format %s draws one run: give --run ID", a->picture == PICTURE_DOT ? "dot" : "svg");
	if (a->run && (a->ntasks || a->where))
		return cli_usage(CMD, "--run writes one run's document: it does not go with --task or --where");
	a->df = optind < argc ? argv[optind] : a->paths.dataflow; /* else the only one in the index */
	return 0;
}

static export_args *current; /* the picture wanted, for write_document() */

/* The picture drawn by Graphviz: DOT into `dot -Tsvg`, whose output goes
 * to out.  A missing Graphviz is named, with what needs nothing. */
static int draw_svg(dp_query *q, const dp_prov_options *o, FILE *out)
{
	int fds[2];
	pid_t pid;
	int rc, status;

	if (fflush(out) != 0 || pipe(fds) != 0)
		return dp_error_errno(errno, "cannot start Graphviz");
	if ((pid = fork()) < 0) {
		close(fds[0]);
		close(fds[1]);
		return dp_error_errno(errno, "cannot start Graphviz");
	}
	if (pid == 0) {
		dup2(fds[0], STDIN_FILENO);
		dup2(fileno(out), STDOUT_FILENO);
		close(fds[0]);
		close(fds[1]);
		execlp("dot", "dot", "-Tsvg", (char *)NULL);
		_exit(127);
	}
	close(fds[0]);
	FILE *to = fdopen(fds[1], "w");
	if (!to) {
		close(fds[1]);
		waitpid(pid, &status, 0);
		return dp_error_errno(errno, "cannot start Graphviz");
	}
	signal(SIGPIPE, SIG_IGN); /* a dot that died is told by its status */
	rc = dp_picture_dot(q, o->df, o->run, to);
	fclose(to);
	if (waitpid(pid, &status, 0) < 0)
		return dp_error_errno(errno, "waiting for Graphviz");
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		return dp_error(DNNPROV_EIO, "--format svg needs Graphviz's dot (apt-get install graphviz); "
					     "--format dot needs nothing");
	if (!rc && (!WIFEXITED(status) || WEXITSTATUS(status) != 0))
		return dp_error(DNNPROV_EIO, "Graphviz's dot failed drawing the picture");
	return rc;
}

static int write_document(dp_query *q, const dp_prov_options *o, FILE *out)
{
	switch (current->picture) {
	case PICTURE_DOT: return dp_picture_dot(q, o->df, o->run, out);
	case PICTURE_SVG: return draw_svg(q, o, out);
	default: return dp_prov_export(q, o, out);
	}
}

/* Exports to a FILE that is not a regular file (a FIFO, /dev/null,
 * /dev/stdout): written in place, since renaming over it would replace
 * the device or pipe with a file. */
static int export_in_place(dp_query *q, const dp_prov_options *o, const char *path)
{
	FILE *f = fopen(path, "w");
	int rc;
	if (!f) {
		cli_error(CMD, "cannot open %s: %s", path, strerror(errno));
		return 1;
	}
	if ((rc = write_document(q, o, f))) {
		cli_query_fail(CMD, rc);
		fclose(f);
		return 1;
	}
	if (fclose(f) != 0) {
		cli_error(CMD, "cannot write %s: %s", path, strerror(errno));
		return 1;
	}
	return 0;
}

/* Exports to FILE through "FILE.XXXXXX" in the same folder, renamed over
 * FILE once the document is complete and on disk.  A symbolic link is
 * followed (its target is replaced, the link kept); an existing file keeps
 * its permissions, a new one gets 0666 less the umask. */
static int export_to_file(dp_query *q, const dp_prov_options *o, const char *path)
{
	struct stat st;
	bool exists = stat(path, &st) == 0;
	char *target = NULL, *tmp = NULL;
	FILE *f = NULL;
	int fd = -1, rc;

	if (exists && !S_ISREG(st.st_mode))
		return export_in_place(q, o, path);
	target = exists ? realpath(path, NULL) : strdup(path);
	if (!target) {
		cli_error(CMD, "%s: %s", path, strerror(errno));
		return 1;
	}
	size_t n = strlen(target);
	if (!(tmp = malloc(n + 8))) {
		cli_error(CMD, "out of memory");
		free(target);
		return 1;
	}
	memcpy(tmp, target, n);
	memcpy(tmp + n, ".XXXXXX", 8);
	if ((fd = mkstemp(tmp)) < 0) {
		cli_error(CMD, "cannot create a file beside %s: %s", target, strerror(errno));
		free(tmp);
		free(target);
		return 1;
	}
	mode_t mode = exists ? st.st_mode & 07777 : 0666;
	if (!exists) {
		mode_t mask = umask(0);
		umask(mask);
		mode &= ~mask;
	}
	if (fchmod(fd, mode) != 0 || !(f = fdopen(fd, "w"))) {
		cli_error(CMD, "cannot write %s: %s", tmp, strerror(errno));
		close(fd);
		goto fail;
	}
	if ((rc = write_document(q, o, f))) {
		cli_query_fail(CMD, rc);
		fclose(f);
		goto fail;
	}
	if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
		cli_error(CMD, "cannot write %s: %s", target, strerror(errno));
		fclose(f);
		goto fail;
	}
	if (fclose(f) != 0) {
		cli_error(CMD, "cannot write %s: %s", target, strerror(errno));
		goto fail;
	}
	if (rename(tmp, target) != 0) {
		cli_error(CMD, "cannot rename %s to %s: %s", tmp, target, strerror(errno));
		goto fail;
	}
	free(tmp);
	free(target);
	return 0;
fail:
	unlink(tmp);
	free(tmp);
	free(target);
	return 1;
}

int cmd_export(int argc, char **argv)
{
	export_args a;
	dp_query q;
	char *only = NULL;
	int rc, status;

	memset(&a, 0, sizeof(a));
	if ((status = parse(argc, argv, &a)))
		goto out;
	if ((rc = dp_query_open(a.paths.index_dir, &q))) {
		status = cli_query_fail(CMD, rc);
		goto out;
	}
	if (!a.df && (rc = dp_query_only_dataflow(&q, &only))) {
		if (rc == DP_ASK_EMPTY)
			cli_error(CMD, "the index at %s is empty: nothing has been indexed yet (give DF)", a.paths.index_dir);
		else
			cli_error(CMD, "%s (give DF)", dnnprov_errmsg());
		status = rc == DP_ASK_EMPTY ? 1 : EXIT_USAGE;
		dp_query_close(&q);
		goto out;
	}
	if (!a.df)
		a.df = only;
	/* Not when the document itself goes to the terminal: the two would mix. */
	cli_progress *progress = a.output || !isatty(STDOUT_FILENO) ? cli_progress_start("exporting", NULL, false) : NULL;
	current = &a;
	dp_prov_options o = { .df = a.df, .tasks = a.tasks, .ntasks = a.ntasks, .where = a.where, .format = a.format,
			      .run = a.run,
			      .progress = progress ? cli_progress_update : NULL, .progress_ctx = progress };
	if (a.output) {
		status = export_to_file(&q, &o, a.output);
	} else if ((rc = write_document(&q, &o, stdout))) {
		status = cli_query_fail(CMD, rc);
	} else {
		status = cli_finish(CMD, 0);
	}
	cli_progress_end(progress);
	dp_query_close(&q);
out:
	free(only);
	free(a.tasks);
	cli_paths_free(&a.paths);
	return cli_status(status);
}
