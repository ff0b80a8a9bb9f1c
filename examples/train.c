/*
 * train.c - the C API's worked example: a real (small) training recorded
 * with dnnprov.
 *
 * Logistic regression by full-batch gradient descent on generated data (two
 * Gaussian classes in 8 dimensions, fixed seed; see make_data), for three
 * learning rates.  Each run is a task: its hyperparameters, every epoch's
 * loss and accuracy on the training and validation splits, a step
 * learning-rate schedule (the rate halves every 10 epochs, recorded as
 * adaptations), the model's one layer, and the test accuracy at the end.
 *
 *   build/examples/train examples/train.yaml
 *   dnnprov index -c examples/train.yaml
 *   dnnprov compare -c examples/train.yaml --metric val_accuracy --agg last
 *   dnnprov adaptations -c examples/train.yaml
 *
 * What the three rates show, and the index lets you check:
 *   0.01  barely learns: val_accuracy creeps from 0.61 to 0.65 in 30 epochs;
 *   0.1   learns steadily to the best val_accuracy, 0.80;
 *   1     overshoots: val_loss jumps from 0.69 to over 3 and val_accuracy
 *         swings between 0.46 and 0.57 for ten epochs, until the schedule
 *         halves the rate at epoch 11 (val_loss falls from 1.49 to 0.76 at
 *         that step) and again at 21; it ends at 0.77.
 *
 * Every dnnprov call returns 0 or a negative code; dnnprov_errmsg() says
 * what went wrong.  This example stops at the first error, which a real
 * training may prefer not to do: a failed append loses that record only.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "dnnprov.h"

#define DIM 8
#define N_TRAIN 600
#define N_VAL 200
#define N_TEST 200
#define EPOCHS 30

typedef struct sample {
	double x[DIM];
	int y;
} sample;

static unsigned long long rng_state = 42;

static double uniform(void)
{
	rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
	return (double)(rng_state >> 11) / 9007199254740992.0;
}

static double gaussian(void)
{
	double u = uniform(), v = uniform();
	return sqrt(-2.0 * log(u + 1e-300)) * cos(2.0 * M_PI * v);
}

/* The two classes differ only in feature 0 (means -0.8 and +0.8), and the
 * first three features share a strong common factor (standard deviation
 * 3.5) that hides the difference.  The model must learn to subtract the
 * factor, which features 1 and 2 measure, from feature 0: many small steps
 * at a low rate, while a high rate overshoots along the factor. */
static void make_data(sample *s, int n)
{
	for (int i = 0; i < n; i++) {
		double shared = 3.5 * gaussian();
		s[i].y = i % 2;
		for (int d = 0; d < DIM; d++)
			s[i].x[d] = gaussian() + (d < 3 ? shared : 0) + (d == 0 ? (s[i].y ? 0.8 : -0.8) : 0);
	}
}

static double predict(const double *w, double b, const double *x)
{
	double z = b;
	for (int d = 0; d < DIM; d++)
		z += w[d] * x[d];
	return 1.0 / (1.0 + exp(-z));
}

/* Mean log loss and accuracy over a split. */
static void evaluate(const double *w, double b, const sample *s, int n, double *loss, double *acc)
{
	double l = 0;
	int right = 0;
	for (int i = 0; i < n; i++) {
		double p = predict(w, b, s[i].x);
		l -= s[i].y ? log(p + 1e-12) : log(1 - p + 1e-12);
		right += (p >= 0.5) == (s[i].y == 1);
	}
	*loss = l / n;
	*acc = (double)right / n;
}

static void check(int rc, const char *what)
{
	if (rc) {
		fprintf(stderr, "train: %s: %s\n", what, dnnprov_errmsg());
		exit(1);
	}
}

int main(int argc, char **argv)
{
	static sample train[N_TRAIN], val[N_VAL], test[N_TEST];
	static const double rates[] = { 0.01, 0.1, 1.0 };
	dnnprov_config *cfg;
	char best_task[DNNPROV_NAME_MAX + 1] = "";
	double best_val = -1;

	if (argc != 2) {
		fprintf(stderr, "usage: train CONFIG\n");
		return 2;
	}
	check(dnnprov_config_load(argv[1], &cfg), argv[1]);
	make_data(train, N_TRAIN);
	make_data(val, N_VAL);
	make_data(test, N_TEST);

	for (size_t r = 0; r < sizeof(rates) / sizeof(rates[0]); r++) {
		double w[DIM] = { 0 }, b = 0, lr = rates[r];
		double loss, acc, val_loss, val_acc;
		dnnprov_task *t;
		char label[32], id[DNNPROV_NAME_MAX + 1];

		/* A label: the id adds the time, host and pid, so that running
		 * the example again records new runs (docs/RUNS.md). */
		snprintf(label, sizeof(label), "logreg-lr%g", lr);
		check(dnnprov_task_open_new(cfg, label, &t), "open");
		snprintf(id, sizeof(id), "%s", dnnprov_task_id(t));
		dnnprov_value hyps[] = {
			DNNPROV_V_TEXT("OPTIMIZER_NAME", "GradientDescent"),
			DNNPROV_V_REAL("LEARNING_RATE", lr),
			DNNPROV_V_INT("NUM_EPOCHS", EPOCHS),
			DNNPROV_V_INT("BATCH_SIZE", N_TRAIN),
			DNNPROV_V_INT("NUM_LAYERS", 1),
		};
		check(dnnprov_task_begin(t, hyps, sizeof(hyps) / sizeof(hyps[0])), "begin");
		dnnprov_layer layer = { "dense", "activation", DNNPROV_V_TEXT(NULL, "sigmoid") };
		check(dnnprov_task_layers(t, &layer, 1), "layers");

		for (int epoch = 1; epoch <= EPOCHS; epoch++) {
			if (epoch > 1 && epoch % 10 == 1) {
				/* The schedule's step, recorded before the epoch runs with it. */
				lr /= 2;
				dnnprov_value v = DNNPROV_V_REAL("LEARNING_RATE", lr);
				check(dnnprov_task_adapt(t, epoch, &v), "adapt");
			}
			double gw[DIM] = { 0 }, gb = 0;
			for (int i = 0; i < N_TRAIN; i++) {
				double err = predict(w, b, train[i].x) - train[i].y;
				for (int d = 0; d < DIM; d++)
					gw[d] += err * train[i].x[d];
				gb += err;
			}
			for (int d = 0; d < DIM; d++)
				w[d] -= lr * gw[d] / N_TRAIN;
			b -= lr * gb / N_TRAIN;

			evaluate(w, b, train, N_TRAIN, &loss, &acc);
			evaluate(w, b, val, N_VAL, &val_loss, &val_acc);
			dnnprov_value m[] = {
				DNNPROV_V_REAL("loss", loss), DNNPROV_V_REAL("accuracy", acc),
				DNNPROV_V_REAL("val_loss", val_loss), DNNPROV_V_REAL("val_accuracy", val_acc),
			};
			/* NaN elapsed: the library measures the time since the last epoch. */
			check(dnnprov_task_epoch(t, epoch, NAN, m, 4), "epoch");
		}
		double test_loss, test_acc;
		evaluate(w, b, test, N_TEST, &test_loss, &test_acc);
		dnnprov_value tm[] = { DNNPROV_V_REAL("loss", test_loss), DNNPROV_V_REAL("accuracy", test_acc) };
		check(dnnprov_task_test(t, tm, 2), "test");
		check(dnnprov_task_end(t, DNNPROV_FINISHED, NULL), "end");
		check(dnnprov_task_close(t), "close");

		printf("%s: val_accuracy=%.4f test_accuracy=%.4f\n", id, val_acc, test_acc);
		if (val_acc > best_val) {
			best_val = val_acc;
			snprintf(best_task, sizeof(best_task), "%s", id);
		}
	}
	printf("best: task=%s val_accuracy=%.4f\n", best_task, best_val);
	dnnprov_config_free(cfg);
	return 0;
}
