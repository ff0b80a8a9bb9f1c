/*
 * prov.h - the W3C PROV export of a dataflow, as PROV-JSON or PROV-N.
 *
 * docs/PROV.md is the mapping from the index to PROV (namespaces,
 * identifiers and their encoding, one table row per statement) with a
 * worked example; the top comment of prov.c says how the document is
 * written.  In short:
 *
 *   - The document is written while the index is scanned, to a FILE*;
 *     memory does not grow with the number of tasks, epochs or elements
 *     (it holds the specification, the distinct machine/user agents and,
 *     per task, the adapted hyperparameter names).
 *   - Everything comes from one read-only snapshot (the dp_query's
 *     transaction), so the document is consistent while training and
 *     indexing go on.  PROV-JSON scans the snapshot once per statement
 *     type, so a large export holds its snapshot for a while: like any
 *     long LMDB reader, it keeps the indexer from reusing the pages it
 *     frees meanwhile (the index file grows instead).
 *   - The same index gives the same bytes: identifiers derive from tags,
 *     epoch numbers and log record ids, never from the export's time.
 *
 * Caveat: a write error on `out` is reported (DNNPROV_EIO / DNNPROV_ENOSPC)
 * when it is seen, and the output is then incomplete; the caller decides
 * what to do with it (the CLI writes -o FILE through a temporary file).
 */
#ifndef DNNPROV_PROV_H
#define DNNPROV_PROV_H

#include <stdio.h>

#include "query/query.h"

typedef enum dp_prov_format {
	DP_PROV_JSON, /* PROV-JSON (W3C Member Submission, 2013) */
	DP_PROV_N,    /* PROV-N (W3C Recommendation, 2013) */
} dp_prov_format;

/* Parses "prov-json" or "prov-n"; DNNPROV_EQUERY with the choices
 * otherwise. */
DP_INTERNAL int dp_prov_format_parse(const char *s, dp_prov_format *out);

typedef struct dp_prov_options {
	const char *df;            /* the dataflow's tag */
	const char *const *tasks;  /* only these task ids (repeats are fine)... */
	size_t ntasks;             /* ...or, when 0, every task */
	const char *where;         /* of those, only the ones this --where matches */
	/* One run's document (export --run): the run, the tasks of its
	 * lineage in this dataflow (what made the entities it used, what used
	 * the ones it generated: docs/LINEAGE.md), their entities, agents,
	 * adaptations and tests, without the specification, the epochs, the
	 * layers and the elements. */
	const char *run;
	dp_prov_format format;
	/* Told after each task of each pass: tasks written (items, of the
	 * tasks times the passes that go through them) and bytes written;
	 * may be NULL. */
	dp_work_fn progress;
	void *progress_ctx;
} dp_prov_options;

/* Writes the PROV document of a dataflow (its whole specification, and
 * the tasks selected) to `out`.  A `where` filter loads the dataflow's
 * tasks to choose (memory grows with the number of tasks then).
 *
 * Returns 0, or:
 *   DNNPROV_ENOTFOUND  no such dataflow (the detail lists the dataflows),
 *                      or no such task (the detail names it and lists
 *                      some tasks); nothing has been written then
 *   DNNPROV_EIO, DNNPROV_ENOSPC  writing `out` failed (output incomplete)
 *   DNNPROV_ENOMEM, or an LMDB error mapped by dp_lmdb_error()
 * with a detail in dnnprov_errmsg().  `out` is flushed but not closed. */
DP_INTERNAL int dp_prov_export(dp_query *q, const dp_prov_options *o, FILE *out);

/* Appends s[0..n) to out as the export writes it: as an identifier's local
 * part (as_id: %XX-encoded), or as the body of a string literal of the
 * format.  For tests and the fuzzer of the escaping (fuzz/fuzz_prov.c). */
DP_INTERNAL int dp_prov_escape(dp_prov_format fmt, bool as_id, const char *s, size_t n, dp_buf *out);

#endif
