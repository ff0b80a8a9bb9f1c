/*
 * progress.h - a progress line on stderr for long work (a catch-up index,
 * reindex, export, a catch-up ship): what is done of the total, the rate
 * and the time left, redrawn a few times a second in place.
 *
 * Only on a terminal and never with -q, so a pipe or a log file gets no
 * progress at all; it is erased when the work ends, so the command's own
 * summary line is what stays.  The library reports through a dp_work_fn in
 * its options and never prints; cli_progress_update is that function.
 *
 * DNNPROV_PROGRESS_MS sets the redraw period in milliseconds (default 250,
 * the first draw after twice that); 0 draws at every report, for tests.
 */
#ifndef DNNPROV_CLI_PROGRESS_H
#define DNNPROV_CLI_PROGRESS_H

#include <stdbool.h>

#include "util/util.h"

typedef struct cli_progress cli_progress;

/* A progress line "WHAT: ..." counting items as `unit` ("records"), or
 * showing only their share of the total when unit is NULL.  NULL (which
 * every function below accepts) when stderr is not a terminal, when quiet,
 * or out of memory. */
cli_progress *cli_progress_start(const char *what, const char *unit, bool quiet);

/* A dp_work_fn: ctx is the cli_progress. */
void cli_progress_update(void *ctx, const dp_work *w);

/* Erases the line and frees p. */
void cli_progress_end(cli_progress *p);

/* Erases the line being shown, if any, so that a message can be printed
 * on a line of its own; the next redraw shows it again.  cli_error() calls
 * it. */
void cli_progress_interrupt(void);

#endif
