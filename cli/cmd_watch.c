/*
 * cmd_watch.c - `dnnprov watch`: the running tasks of a dataflow, refreshed.
 */
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/query_cli.h"

const char cmd_watch_usage[] =
	"usage: dnnprov watch [-c CONFIG | --index-dir DIR] [DF] [--where EXPR] [--interval S]\n"
	"                     [--count N] [--format F]\n"
	"\n"
	"The running tasks of a dataflow: epoch, latest metrics, epochs per minute and\n"
	"how long ago each was last heard of, refreshed every S seconds (default 2)\n"
	"until interrupted, or N times.  On a terminal the screen is redrawn; otherwise\n"
	"each refresh is printed after a line with its time.  --where keeps the tasks\n"
	"it matches, as in `dnnprov help runs`.\n";

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int cmd_watch(int argc, char **argv)
{
	query_args a;
	int status;
	bool tty = isatty(STDOUT_FILENO);
	struct sigaction sa;

	if ((status = query_parse("watch", argc, argv, QO_INTERVAL | QO_WHERE, 1, 1, &a)))
		goto out;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	for (long n = 0; !stop && (!a.count || n < a.count); n++) {
		dp_query q;
		dp_table t = { 0 };
		char stamp[32];
		int rc;
		if (n) {
			struct timespec ts = { (time_t)a.interval, (long)((a.interval - (double)(time_t)a.interval) * 1e9) };
			nanosleep(&ts, NULL); /* a signal ends the sleep early */
			if (stop)
				break;
		}
		/* A new snapshot per refresh. */
		if ((status = query_open("watch", &a, &q)))
			break;
		a.o.now = dp_now();
		rc = dp_cmd_watch(&q, &a.o, &t);
		if (rc == 0)
			rc = dp_table_check(&t, NULL);
		int cause = dp_query_check(&q); /* the first cause, when it failed for one */
		if (cause)
			rc = cause;
		if (rc) {
			dp_query_close(&q);
			dp_table_free(&t);
			status = query_fail("watch", rc);
			break;
		}
		dp_format_time(a.o.now, stamp);
		if (tty && a.format == FMT_TABLE)
			printf("\033[H\033[2J%s  running tasks of %s\n\n", stamp, a.o.df);
		else if (a.format == FMT_TABLE)
			printf("# %s\n", stamp);
		status = query_print("watch", &a, &t, NULL, &q);
		dp_query_close(&q);
		dp_table_free(&t);
		if (status)
			break;
	}
out:
	query_args_free(&a);
	return cli_status(status);
}
