/*
 * partial_writer.c - a writer that dies in the middle of a frame: its
 * pwrite(2) hook writes a random prefix of the bytes of append number
 * KILL_AT and then raises SIGKILL, as a crash between two writes of one
 * frame would leave it.  Prints each epoch whose append returned.
 *
 * usage: partial_writer CONFIG TASK KILL_AT SEED
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "dnnprov.h"
#include "logger/writer.h"

static long calls, kill_at;

static ssize_t dying_pwrite(int fd, const void *buf, size_t n, off_t off)
{
	if (++calls == kill_at) {
		size_t part = n > 1 ? (size_t)rand() % n : 0;
		if (pwrite(fd, buf, part, off) < 0)
			_exit(3);
		raise(SIGKILL);
	}
	return pwrite(fd, buf, n, off);
}

int main(int argc, char **argv)
{
	dnnprov_config *cfg;
	dnnprov_task *t;
	if (argc != 5)
		return 2;
	kill_at = atol(argv[3]);
	srand((unsigned)atoi(argv[4]));
	if (dnnprov_config_load(argv[1], &cfg) || dnnprov_task_open(cfg, argv[2], &t))
		return 1;
	dp_sys_pwrite = dying_pwrite; /* the segment header is already written */
	dnnprov_value h = DNNPROV_V_REAL("LEARNING_RATE", 0.01);
	if (dnnprov_task_begin(t, &h, 1))
		return 1;
	for (long e = 1;; e++) {
		dnnprov_value m[2] = { DNNPROV_V_REAL("loss", 1.0 / (double)e), DNNPROV_V_INT("accuracy", e * 7) };
		if (dnnprov_task_epoch(t, e, NAN, m, 2))
			return 1;
		printf("%ld\n", e);
		fflush(stdout);
	}
}
