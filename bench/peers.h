/*
 * peers.h - the runs the peers section and the 1,000,000-run tier record
 * (peers.c): their metrics, values and configuration.
 */
#ifndef DNNPROV_BENCH_PEERS_H
#define DNNPROV_BENCH_PEERS_H

#include <stdio.h>

#define PEER_METRICS 4
extern const char *const peer_metrics[PEER_METRICS];

/* Run k's metrics at epoch e: a falling loss with noise in every bit of
 * the mantissa, and the elapsed time, as a training logs them. */
void peer_values(int k, int e, double m[PEER_METRICS], double *elapsed);
/* <name>.yaml: dataflow bench, logs and index in the work folder, the
 * hyperparameters and 4 metrics declared, facts: false, buffered. */
void peer_config(const char *name);
/* Records runs first..end-1 (named t%07d) through the C API; with the
 * files, the same values as CSV rows. */
void peer_generate_range(const char *name, int first, int end, int epochs, FILE *tasks_csv, FILE *epochs_csv);

#endif
