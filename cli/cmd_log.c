/*
 * cmd_log.c - `dnnprov log`: records provenance from a shell, one record
 * per call, so that scripts in any language can use dnnprov.
 *
 * Each call is a separate process and so writes its own segment (the
 * one-writer-per-file rule), numbered after the task's earlier ones.  The
 * task's owner is the calling shell's process group, not the short-lived
 * `dnnprov log` process: the task is LOST once the script is gone
 * (docs/RUNS.md).  Values are typed by the experiment file: a NUMERIC
 * hyperparameter or attribute must parse as a number, TEXT and FILE take
 * the text as it is.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "config/config.h"
#include "logger/facts.h"
#include "logger/writer.h"

const char cmd_log_usage[] =
	"usage: dnnprov log -c CONFIG [--task ID] ACTION [ARGS]\n"
	"\n"
	"Appends one record to task ID of CONFIG's dataflow.\n"
	"\n"
	"actions:\n"
	"  begin [NAME=VALUE ...]            start the task with hyperparameter values;\n"
	"                                    without --task, prints the new task id\n"
	"      --label L                     the new id starts with L (L-<time>-<host>-<pid>)\n"
	"      --resume                      resume the task if it has begun before: its first\n"
	"                                    values stay, a different value is an adaptation\n"
	"      --epoch N                     with --resume: the epoch such adaptations apply\n"
	"                                    from (default: after the last one recorded)\n"
	"      --transformation T            a task of the declared transformation T (a\n"
	"                                    pipeline's loading, splitting, evaluation): no\n"
	"                                    hyperparameters; its parameters are elements\n"
	"  epoch N [--elapsed S] M=V ...     metrics of epoch N (S: its duration in seconds)\n"
	"  adapt N NAME=VALUE                hyperparameter NAME changed at epoch N\n"
	"  test M=V ...                      test-set metrics (also after the end)\n"
	"  layers NAME:KIND=VALUE ...        layer facts, e.g. dense_1:activation=relu\n"
	"  element TRANSFORMATION SET A=V ...  one element of a user-defined transformation\n"
	"  used ROLE PATH [--quick]          the task read the file or folder PATH (a dataset),\n"
	"                                    fingerprinted now; --quick: by size, time and\n"
	"                                    sampled blocks (docs/LINEAGE.md)\n"
	"  generated ROLE PATH [--quick]     the task wrote PATH (a model, a split)\n"
	"      --fingerprint FP [--size N]   PATH is a location not on this machine (a URI)\n"
	"                                    whose fingerprint FP is known\n"
	"  end [--status S] [--message TEXT] end the task: S is FINISHED (default), FAILED,\n"
	"                                    KILLED or PRUNED\n"
	"\n"
	"options:\n"
	"  -c, --config FILE   the experiment YAML file\n"
	"  -t, --task ID       the task; required except for begin\n"
	"\n"
	"A record for a task that has not begun and a training record after its end are\n"
	"refused (exit 1); so is a task another live process is recording.  A name the\n"
	"experiment file does not declare is refused alone: the record keeps its other\n"
	"values, the run shows the name as a problem, and dnnprov log says so and exits 3\n"
	"(exit 1 and nothing recorded with `strict: true`).\n"
	"\n"
	"example:\n"
	"  id=$(dnnprov log -c exp.yaml begin --label adam OPTIMIZER_NAME=Adam LEARNING_RATE=0.01)\n"
	"  dnnprov log -c exp.yaml --task \"$id\" used train_data data/train.npz\n"
	"  dnnprov log -c exp.yaml --task \"$id\" epoch 1 loss=0.41 accuracy=0.88\n"
	"  dnnprov log -c exp.yaml --task \"$id\" generated model model.pt\n"
	"  dnnprov log -c exp.yaml --task \"$id\" end\n";

#define CMD "log"
/* The exit status of a call whose record was written without a name the
 * experiment file does not declare (DNNPROV_REFUSED). */
#define LOG_REFUSED 3

typedef enum { TYPE_GUESS, TYPE_NUMBER, TYPE_TEXT } want_type;

/* Parses "NAME=VALUE" into v (pointing into arg, which it modifies). */
static int parse_assignment(char *arg, want_type (*type_of)(const dnnprov_config *, const char *),
			    const dnnprov_config *cfg, dnnprov_value *v)
{
	char *eq = strchr(arg, '=');
	char *end;
	want_type want;

	if (!eq || eq == arg)
		return cli_usage(CMD, "'%s' is not NAME=VALUE", arg);
	*eq = '\0';
	v->name = arg;
	want = type_of(cfg, arg);
	const char *text = eq + 1;
	if (want != TYPE_TEXT && *text) {
		errno = 0;
		long long i = strtoll(text, &end, 10);
		if (*end == '\0' && errno == 0) {
			v->type = DNNPROV_INT;
			v->as.i = i;
			return 0;
		}
		double d = strtod(text, &end);
		if (*end == '\0') {
			v->type = DNNPROV_REAL;
			v->as.r = d;
			return 0;
		}
	}
	if (want == TYPE_NUMBER) {
		cli_error(CMD, "%s=%s: %s takes a number", arg, text, arg);
		return 1;
	}
	v->type = DNNPROV_TEXT;
	v->as.s = text;
	return 0;
}

static want_type hyperparameter_type(const dnnprov_config *cfg, const char *name)
{
	const dp_hyperparameter *h = dp_config_hyperparameter(cfg, name);
	if (!h)
		return TYPE_GUESS;
	return h->type == DP_ATTR_NUMERIC ? TYPE_NUMBER : TYPE_TEXT;
}

static want_type metric_type(const dnnprov_config *cfg, const char *name)
{
	(void)cfg;
	(void)name;
	return TYPE_NUMBER;
}

static want_type guess_type(const dnnprov_config *cfg, const char *name)
{
	(void)cfg;
	(void)name;
	return TYPE_GUESS;
}

static const dp_set *element_set; /* for attribute_type() during one call */

static want_type attribute_type(const dnnprov_config *cfg, const char *name)
{
	(void)cfg;
	for (size_t i = 0; element_set && i < element_set->nattrs; i++)
		if (strcmp(element_set->attrs[i].name, name) == 0)
			return element_set->attrs[i].type == DP_ATTR_NUMERIC ? TYPE_NUMBER : TYPE_TEXT;
	return TYPE_GUESS;
}

static int parse_all(char **args, int n, want_type (*type_of)(const dnnprov_config *, const char *),
		     const dnnprov_config *cfg, dnnprov_value *out)
{
	for (int i = 0; i < n; i++) {
		int rc = parse_assignment(args[i], type_of, cfg, &out[i]);
		if (rc)
			return rc;
	}
	return 0;
}

static int parse_epoch(const char *s, int64_t *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (!*s || *end || errno) {
		cli_error(CMD, "'%s' is not an epoch number", s);
		return 1;
	}
	*out = v;
	return 0;
}

/* Opens the task for one record.  Another `dnnprov log` of the same script
 * (run in the background) holds the lock for a moment: it is waited for,
 * up to two seconds, before the call is refused. */
static int open_task(dnnprov_task **t, const char *task_id, const char *label,
		     const dnnprov_config *cfg)
{
	int rc;
	for (int waited_ms = 0;; waited_ms += 10) {
		rc = task_id ? dnnprov_task_open(cfg, task_id, t) : dnnprov_task_open_new(cfg, label, t);
		if (rc != DNNPROV_ELOCKED || waited_ms >= 2000)
			break;
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	if (rc == 0) {
		dp_task_owner_is_group(*t);
		/* The run's command is the script that calls us: our parent (a
		 * command substitution's subshell shows its shell's command). */
		dp_buf command = { 0 };
		if (getppid() > 1 && dp_process_command((long)getppid(), &command) == 0 && command.len)
			rc = dnnprov_task_facts(*t, &DNNPROV_V_TEXT("command", command.data), 1);
		dp_buf_free(&command);
		if (rc) {
			dnnprov_task_close(*t);
			*t = NULL;
		}
	}
	return rc;
}

/* A begin (or resume) of a task of `transformation` (NULL: training). */
static int begin_as(dnnprov_task *t, const char *transformation, bool resume, int64_t epoch,
		    const dnnprov_value *vals, size_t n)
{
	int rc;
	if (transformation && (rc = dnnprov_task_transformation(t, transformation)))
		return rc;
	return resume ? dnnprov_task_resume(t, epoch, vals, n) : dnnprov_task_begin(t, vals, n);
}

/* used|generated ROLE PATH [--quick] | ROLE LOCATION --fingerprint FP [--size N] */
static int parse_entity(int argc, char **argv, unsigned *flags, const char **fingerprint, int64_t *size)
{
	*flags = 0;
	*fingerprint = NULL;
	*size = -1;
	if (argc < 3)
		return cli_usage(CMD, "%s takes a ROLE and a PATH", argv[0]);
	for (int i = 3; i < argc; i++) {
		char *end;
		if (strcmp(argv[i], "--quick") == 0) {
			*flags |= DNNPROV_QUICK;
		} else if (strcmp(argv[i], "--fingerprint") == 0 && i + 1 < argc) {
			*fingerprint = argv[++i];
		} else if (strcmp(argv[i], "--size") == 0 && i + 1 < argc) {
			errno = 0;
			long long v = strtoll(argv[++i], &end, 10);
			if (!*argv[i] || *end || errno || v < 0)
				return cli_usage(CMD, "--size takes a number of bytes, not '%s'", argv[i]);
			*size = v;
		} else {
			return cli_usage(CMD, "%s takes --quick, or --fingerprint FP and --size N, not '%s'", argv[0],
					 argv[i]);
		}
	}
	if (*fingerprint && *flags)
		return cli_usage(CMD, "--quick fingerprints a file here: it does not go with --fingerprint");
	if (*size >= 0 && !*fingerprint)
		return cli_usage(CMD, "--size goes with --fingerprint: a file's size is measured");
	return 0;
}

/* The task is opened only once the arguments have parsed, so that a
 * mistyped call leaves nothing behind. */
#define RECORD(call) ((lib = open_task(t, task_id, label, cfg)) ? lib : (call))

static int run_action(dnnprov_task **t, const char *task_id, const dnnprov_config *cfg, int argc,
		      char **argv)
{
	const char *action = argv[0];
	const char *label = NULL, *transformation = NULL;
	dnnprov_value *vals = NULL;
	int rc = 0, lib = 0;
	bool resume = false;

	vals = calloc((size_t)argc + 1, sizeof(*vals));
	if (!vals) {
		cli_error(CMD, "out of memory");
		return 1;
	}
	if (strcmp(action, "begin") == 0) {
		int first = 1;
		int64_t epoch = DNNPROV_NEXT_EPOCH;
		bool have_epoch = false;
		for (; first < argc && !rc && strncmp(argv[first], "--", 2) == 0; first++) {
			if (strcmp(argv[first], "--resume") == 0) {
				resume = true;
			} else if (strcmp(argv[first], "--label") == 0 && first + 1 < argc) {
				label = argv[++first];
			} else if (strcmp(argv[first], "--transformation") == 0 && first + 1 < argc) {
				transformation = argv[++first];
			} else if (strcmp(argv[first], "--epoch") == 0 && first + 1 < argc) {
				rc = parse_epoch(argv[++first], &epoch);
				have_epoch = true;
			} else {
				rc = cli_usage(CMD, "begin takes --resume, --label L, --epoch N and --transformation T, not '%s'",
					       argv[first]);
			}
		}
		if (!rc && label && task_id)
			rc = cli_usage(CMD, "--label names a new task: it does not go with --task");
		if (!rc && have_epoch && !resume)
			rc = cli_usage(CMD, "--epoch goes with --resume");
		if (!rc && !(rc = parse_all(argv + first, argc - first, hyperparameter_type, cfg, vals))) {
			size_t n = (size_t)(argc - first);
			for (size_t i = 0; i < n; i++) {
				const dp_hyperparameter *h = dp_config_hyperparameter(cfg, vals[i].name);
				if (h && !h->selected)
					cli_error(CMD, "hyperparameter '%s' is not selected in %s; not recorded",
						  vals[i].name, cfg->path);
			}
			lib = RECORD(begin_as(*t, transformation, resume, epoch, vals, n));
		}
	} else if (strcmp(action, "epoch") == 0) {
		int64_t epoch;
		double elapsed = NAN;
		int first = 2;
		if (argc < 2)
			rc = cli_usage(CMD, "epoch needs an epoch number");
		else if (!(rc = parse_epoch(argv[1], &epoch))) {
			if (argc >= 4 && strcmp(argv[2], "--elapsed") == 0) {
				char *end;
				elapsed = strtod(argv[3], &end);
				if (*end || !*argv[3] || elapsed < 0)
					rc = cli_usage(CMD, "--elapsed takes a duration in seconds");
				first = 4;
			}
			if (!rc && !(rc = parse_all(argv + first, argc - first, metric_type, cfg, vals)))
				lib = RECORD(dnnprov_task_epoch(*t, epoch, elapsed, vals,
								 (size_t)(argc - first)));
		}
	} else if (strcmp(action, "adapt") == 0) {
		int64_t epoch;
		if (argc != 3)
			rc = cli_usage(CMD, "adapt takes an epoch number and one NAME=VALUE");
		else if (!(rc = parse_epoch(argv[1], &epoch)) &&
			 !(rc = parse_assignment(argv[2], hyperparameter_type, cfg, &vals[0]))) {
			const dp_hyperparameter *h = dp_config_hyperparameter(cfg, vals[0].name);
			if (!cfg->adaptation)
				cli_error(CMD, "adaptation is off in %s; not recorded", cfg->path);
			else if (h && !h->selected)
				cli_error(CMD, "hyperparameter '%s' is not selected in %s; not recorded",
					  vals[0].name, cfg->path);
			lib = RECORD(dnnprov_task_adapt(*t, epoch, &vals[0]));
		}
	} else if (strcmp(action, "test") == 0) {
		if (!(rc = parse_all(argv + 1, argc - 1, metric_type, cfg, vals)))
			lib = RECORD(dnnprov_task_test(*t, vals, (size_t)argc - 1));
	} else if (strcmp(action, "layers") == 0) {
		dnnprov_layer *layers = calloc((size_t)argc, sizeof(*layers));
		if (!layers) {
			rc = 1;
			cli_error(CMD, "out of memory");
		}
		for (int i = 1; !rc && i < argc; i++) {
			char *colon = strchr(argv[i], ':');
			if (!colon || !strchr(colon, '=')) {
				rc = cli_usage(CMD, "'%s' is not NAME:KIND=VALUE", argv[i]);
				break;
			}
			*colon = '\0';
			layers[i - 1].name = argv[i];
			rc = parse_assignment(colon + 1, guess_type, cfg, &layers[i - 1].value);
			layers[i - 1].kind = layers[i - 1].value.name;
		}
		if (!rc)
			lib = RECORD(dnnprov_task_layers(*t, layers, (size_t)argc - 1));
		free(layers);
	} else if (strcmp(action, "element") == 0) {
		const dp_transformation *tf;
		if (argc < 3) {
			rc = cli_usage(CMD, "element takes TRANSFORMATION SET and values");
		} else if (!(tf = dp_config_transformation(cfg, argv[1]))) {
			cli_error(CMD, "transformation '%s' is not declared in %s", argv[1], cfg->path);
			rc = 1;
		} else {
			element_set = dp_transformation_set(tf, argv[2]);
			if (!(rc = parse_all(argv + 3, argc - 3, attribute_type, cfg, vals)))
				lib = RECORD(dnnprov_task_element(*t, argv[1], argv[2], vals,
								   (size_t)argc - 3));
		}
	} else if (strcmp(action, "used") == 0 || strcmp(action, "generated") == 0) {
		unsigned flags;
		const char *fingerprint;
		int64_t size;
		if (!(rc = parse_entity(argc, argv, &flags, &fingerprint, &size))) {
			if (fingerprint)
				lib = RECORD(dnnprov_task_entity(*t, action, argv[1], argv[2], fingerprint, size));
			else if (action[0] == 'u')
				lib = RECORD(dnnprov_task_used(*t, argv[1], argv[2], flags));
			else
				lib = RECORD(dnnprov_task_generated(*t, argv[1], argv[2], flags));
		}
	} else if (strcmp(action, "end") == 0) {
		dnnprov_status status = DNNPROV_FINISHED;
		const char *message = NULL;
		for (int i = 1; !rc && i < argc; i++) {
			if (strcmp(argv[i], "--status") == 0 && i + 1 < argc) {
				const char *s = argv[++i];
				if (strcmp(s, "FINISHED") == 0)
					status = DNNPROV_FINISHED;
				else if (strcmp(s, "FAILED") == 0)
					status = DNNPROV_FAILED;
				else if (strcmp(s, "KILLED") == 0)
					status = DNNPROV_KILLED;
				else if (strcmp(s, "PRUNED") == 0)
					status = DNNPROV_PRUNED;
				else
					rc = cli_usage(CMD, "--status is FINISHED, FAILED, KILLED or PRUNED, not '%s'", s);
			} else if (strcmp(argv[i], "--message") == 0 && i + 1 < argc) {
				message = argv[++i];
			} else {
				rc = cli_usage(CMD, "end takes --status S and --message TEXT, not '%s'", argv[i]);
			}
		}
		if (!rc)
			lib = RECORD(dnnprov_task_end(*t, status, message));
	} else {
		rc = cli_usage(CMD, "unknown action '%s'", action);
	}
	free(vals);
	if (rc)
		return rc;
	if (lib == DNNPROV_ESTATE && strcmp(action, "begin") == 0) {
		cli_error(CMD, "%s; use --resume to continue it, or another task id", dnnprov_errmsg());
		return 1;
	}
	if (lib == DNNPROV_REFUSED) {
		/* Recorded: the script goes on if it wants to, told why. */
		cli_error(CMD, "%s", dnnprov_errmsg());
		return LOG_REFUSED;
	}
	if (lib)
		return cli_lib_error(CMD, lib, action);
	return 0;
}

int cmd_log(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "task", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config_path = NULL, *task_id = NULL;
	dnnprov_config *cfg = NULL;
	dnnprov_task *t = NULL;
	int c, rc, status;


	optind = 1;
	while ((c = getopt_long(argc, argv, "+c:t:h", opts, NULL)) != -1) {
		switch (c) {
		case 'h': return cli_help(CMD);
		case 'c': config_path = optarg; break;
		case 't': task_id = optarg; break;
		default: return cli_bad_option(CMD, argv, "+c:t:", opts);
		}
	}
	/* After the action, --help is help only where it is no option's value
	 * (`end --message --help` records the message "--help"). */
	for (int i = optind + 1; i < argc; i++) {
		if (strcmp(argv[i], "--message") == 0 || strcmp(argv[i], "--status") == 0 ||
		    strcmp(argv[i], "--elapsed") == 0 || strcmp(argv[i], "--transformation") == 0 ||
		    strcmp(argv[i], "--label") == 0 || strcmp(argv[i], "--fingerprint") == 0 ||
		    strcmp(argv[i], "--size") == 0)
			i++;
		else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return cli_help(CMD);
	}
	if (!config_path)
		return cli_usage(CMD, "--config is required");
	if (optind >= argc)
		return cli_usage(CMD, "an action is required");
	if (!task_id && strcmp(argv[optind], "begin") != 0)
		return cli_usage(CMD, "--task is required for '%s'", argv[optind]);
	for (int i = optind; i < argc && !task_id; i++)
		if (strcmp(argv[i], "--resume") == 0)
			return cli_usage(CMD, "--resume needs --task: the task to resume");
	if ((rc = cli_config_load(CMD, config_path, &cfg)))
		return rc;
	/* Parsing cuts NAME=VALUE in place: it works on copies, so that the
	 * process's command line (a run fact, read from /proc) stays whole. */
	char **args = calloc((size_t)argc + 1, sizeof(*args));
	status = args ? 0 : 1;
	for (int i = optind; i < argc && !status; i++)
		if (!(args[i] = strdup(argv[i])))
			status = 1;
	if (status)
		cli_error(CMD, "out of memory");
	else
		status = run_action(&t, task_id, cfg, argc - optind, args + optind);
	for (int i = 0; args && i < argc; i++)
		free(args[i]);
	free(args);
	if ((status == 0 || status == LOG_REFUSED) && !task_id)
		printf("%s\n", dnnprov_task_id(t)); /* a generated id, for the next calls */
	if (t && (rc = dnnprov_task_close(t)) && (status == 0 || status == LOG_REFUSED))
		status = cli_lib_error(CMD, rc, "closing the segment");
	dnnprov_config_free(cfg);
	return cli_finish(CMD, status);
}
