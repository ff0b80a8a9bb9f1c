/*
 * writer_child.c - appends epochs to one task and writes each epoch's
 * number to stdout once its append has returned, so that a test which
 * kills it knows which appends were acknowledged.  With keep-going, a
 * failed append is written to stderr with its error and the next epoch is
 * tried (for tests that inject I/O faults); stdout still lists only the
 * acknowledged ones.
 *
 * With hold, it writes MAX_EPOCHS and then waits without closing, a
 * training between epochs, until it is killed.
 *
 * usage: writer_child CONFIG TASK [MAX_EPOCHS [keep-going|hold]]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dnnprov.h"

int main(int argc, char **argv)
{
	dnnprov_config *cfg;
	dnnprov_task *t;
	if (argc < 3)
		return 2;
	long max = argc > 3 ? atol(argv[3]) : 1000000;
	int keep_going = argc > 4 && strcmp(argv[4], "keep-going") == 0;
	int hold = argc > 4 && strcmp(argv[4], "hold") == 0;
	if (dnnprov_config_load(argv[1], &cfg) || dnnprov_task_open(cfg, argv[2], &t))
		return 1;
	dnnprov_value h = DNNPROV_V_REAL("LEARNING_RATE", 0.01);
	if (dnnprov_task_begin(t, &h, 1))
		return 1;
	for (long e = 1; e <= max; e++) {
		/* The metric encodes the epoch, so a wrong payload is visible. */
		dnnprov_value m[2] = { DNNPROV_V_REAL("loss", 1.0 / (double)e), DNNPROV_V_INT("accuracy", e * 7) };
		if (dnnprov_task_epoch(t, e, NAN, m, 2)) {
			if (!keep_going)
				return 1;
			fprintf(stderr, "epoch %ld: %s\n", e, dnnprov_errmsg());
			continue;
		}
		char line[32];
		int n = snprintf(line, sizeof(line), "%ld\n", e);
		if (write(1, line, (size_t)n) != n)
			return 1;
	}
	while (hold)
		pause();
	dnnprov_task_close(t);
	dnnprov_config_free(cfg);
	return 0;
}
