/*
 * peers.h - the runs the peers section and the 1,000,000-run tier record
 * (peers.c): their metrics, values and configuration.
 */
#ifndef DNNPROV_BENCH_PEERS_H
#define DNNPROV_BENCH_PEERS_H

#include <sqlite3.h>
#include "dnnprov.h"
#include <stdio.h>

#define PEER_METRICS 4
extern const char *const peer_metrics[PEER_METRICS];

/* Run k's metrics at epoch e: a falling loss with noise in every bit of
 * the mantissa, and the elapsed time, as a training logs them. */
void peer_values(int k, int e, double m[PEER_METRICS], double *elapsed);
/* <name>.yaml: dataflow bench, logs and index in the work folder, the
 * hyperparameters and 4 metrics declared, facts: false, buffered. */
void peer_config(const char *name);
/* Opens run k (t%07d) and begins it with its hyperparameters. */
dnnprov_task *peer_begin(dnnprov_config *cfg, int k);
/* Records runs first..end-1 (named t%07d) through the C API; with the
 * files, the same values as CSV rows. */
void peer_generate_range(const char *name, int first, int end, int epochs, FILE *tasks_csv, FILE *epochs_csv);

/* SQLite at its best, for the query rows of bench.c too: the compare and
 * the effect of LEARNING_RATE on val_accuracy from tables shaped as
 * peers.c makes them (tasks, epochs keyed by task_id), and the setting of
 * every connection that reads. */
extern const char peer_compare_sqlite[];
/* SQLite's tasks table, and one run's row in it (the statement inserts
 * its 10 columns), as both sections key it. */
extern const char peer_tasks_ddl[];
void peer_insert_task(sqlite3 *db, sqlite3_stmt *tt, int k, int epochs);
const char *peer_effect_sqlite(void);
extern const char sqlite_mmap[];
/* Runs sql, reading every column of every row as its type; with out, the
 * rows as CSV (numbers exactly).  Seconds. */
double peer_sqlite_answer(sqlite3 *db, const char *sql, FILE *out);
/* Stops the benchmark unless dnnprov's answer (cmd, writing CSV; the
 * columns named in cols, comma-separated, or all) equals SQLite's to sql,
 * numbers to 1e-9. */
void peer_check_sqlite(const char *question, char *const cmd[], const char *cols, sqlite3 *db, const char *sql);

#endif
