/*
 * gen_logs.c - writes a log tree with every feature the indexer must
 * handle: many tasks, NaN, missing metrics, adaptations, tests, elements,
 * layer facts, a task resumed by a second writer that re-logs an epoch,
 * a task that never ends, and small segments (rotation).  Its `top5` is a
 * metric the configs do not declare: they set `free_metrics: true`.  Deterministic
 * for a given seed, apart from times.
 *
 * usage: gen_logs CONFIG TASKS EPOCHS [SEED [FIRST]]
 * FIRST numbers the first task (default 0): a second run adds new tasks
 * (task ids name runs: writing an existing one again would be refused).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "dnnprov.h"

static void check(int rc, const char *what)
{
	if (rc) {
		fprintf(stderr, "gen_logs: %s: %s\n", what, dnnprov_errmsg());
		exit(1);
	}
}

int main(int argc, char **argv)
{
	dnnprov_config *cfg;
	if (argc < 4) {
		fprintf(stderr, "usage: gen_logs CONFIG TASKS EPOCHS [SEED [FIRST]]\n");
		return 2;
	}
	int ntasks = atoi(argv[2]), nepochs = atoi(argv[3]), first = argc > 5 ? atoi(argv[5]) : 0;
	srand(argc > 4 ? (unsigned)atoi(argv[4]) : 1);
	check(dnnprov_config_load(argv[1], &cfg), argv[1]);
	static const char *opts[] = { "SGD", "Adam", "RMSprop" };
	for (int k = first; k < first + ntasks; k++) {
		char id[32];
		dnnprov_task *t;
		snprintf(id, sizeof(id), "task-%04d", k);
		check(dnnprov_task_open(cfg, id, &t), "open");
		dnnprov_task_strict(t, 1); /* an undeclared `dropout` is refused whole, below */
		double lr = 0.001 * (1 + k % 7);
		/* `dropout` (a user hyperparameter, where the config declares it)
		 * only for even tasks: filters must treat its absence as unknown. */
		dnnprov_value h[] = { DNNPROV_V_TEXT("OPTIMIZER_NAME", opts[k % 3]), DNNPROV_V_REAL("LEARNING_RATE", lr),
				      DNNPROV_V_INT("BATCH_SIZE", 16 << (k % 4)), DNNPROV_V_INT("NUM_EPOCHS", nepochs),
				      DNNPROV_V_REAL("dropout", 0.1 * (k % 4)) };
		int rc = dnnprov_task_begin(t, h, k % 2 ? 4 : 5);
		if (rc == DNNPROV_EUNDECLARED) /* a config without `dropout`: refused, nothing written */
			rc = dnnprov_task_begin(t, h, 4);
		check(rc, "begin");
		dnnprov_layer l[] = { { "dense_1", "activation", DNNPROV_V_TEXT(NULL, "relu") },
				      { "drop_1", "dropout", DNNPROV_V_REAL(NULL, 0.1 * (k % 5)) } };
		check(dnnprov_task_layers(t, l, 2), "layers");
		int stop = k % 5 == 4 ? nepochs / 2 : nepochs; /* some crash half-way */
		for (int e = 1; e <= stop; e++) {
			if (e % 10 == 0) {
				lr /= 2;
				dnnprov_value a = DNNPROV_V_REAL("LEARNING_RATE", lr);
				check(dnnprov_task_adapt(t, e, &a), "adapt");
			}
			double loss = 2.0 / (e + k % 3) + (rand() % 100) / 1000.0;
			/* top5 only for every third task, and NaN throughout one. */
			dnnprov_value m[] = { DNNPROV_V_REAL("loss", k % 11 == 3 && e == 2 ? NAN : loss),
					      DNNPROV_V_REAL("accuracy", 1.0 - loss / 3),
					      DNNPROV_V_REAL("val_loss", loss * 1.1),
					      DNNPROV_V_REAL("val_accuracy", 1.0 - loss / 2.5),
					      DNNPROV_V_REAL("top5", k % 6 == 3 ? NAN : 1.0 - loss / 5) };
			check(dnnprov_task_epoch(t, e, NAN, m, e % 7 == 0 ? 2 : k % 3 == 0 ? 5 : 4), "epoch");
		}
		if (stop == nepochs) {
			dnnprov_value tm[] = { DNNPROV_V_REAL("loss", 0.5), DNNPROV_V_REAL("accuracy", 0.8 + k * 0.001) };
			check(dnnprov_task_test(t, tm, 2), "test");
			dnnprov_value el[] = { DNNPROV_V_INT("growth_rate", k), DNNPROV_V_INT("layers_db", 33) };
			check(dnnprov_task_element(t, "DenseBlock", "iDenseBlock", el, 2), "element");
			check(dnnprov_task_end(t, k % 9 == 8 ? DNNPROV_FAILED : DNNPROV_FINISHED,
					       k % 9 == 8 ? "diverged \"badly\"" : NULL), "end");
		}
		check(dnnprov_task_close(t), "close");
		if (stop != nepochs && k % 10 == 4) {
			/* Resumed by a second process: re-logs the last epoch, ends.
			 * It passes the learning rate it started with, which differs
			 * from the one in force: an adaptation at the resume. */
			check(dnnprov_task_open(cfg, id, &t), "reopen");
			check(dnnprov_task_resume(t, DNNPROV_NEXT_EPOCH, h, 4), "resume");
			for (int e = stop; e <= nepochs; e++) {
				dnnprov_value m[] = { DNNPROV_V_REAL("loss", 1.0 / e), DNNPROV_V_REAL("accuracy", 0.9) };
				check(dnnprov_task_epoch(t, e, NAN, m, 2), "epoch");
			}
			check(dnnprov_task_end(t, DNNPROV_FINISHED, NULL), "end");
			check(dnnprov_task_close(t), "close");
		}
	}
	dnnprov_config_free(cfg);
	return 0;
}
