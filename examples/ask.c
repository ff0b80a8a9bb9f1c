/*
 * ask.c - the C API's reading side: questions and SQL over an index, as
 * `dnnprov compare` and `dnnprov sql` answer them, from a program.
 *
 *   build/examples/train examples/train.yaml
 *   dnnprov index -c examples/train.yaml
 *   build/examples/ask build/examples/train-index
 *
 * Asks `compare` for the two best runs by their last val_accuracy (JSON,
 * which says what each column holds), then runs SQL with a bound
 * parameter (CSV), and shows what a refused parameter looks like: the
 * error's detail and the parameter it is about.
 */
#include <stdio.h>
#include <stdlib.h>

#include "dnnprov.h"

static int fail(const char *what, int rc)
{
	const char *about = dnnprov_errsubject();
	fprintf(stderr, "ask: %s: %s%s%s%s\n", what, *dnnprov_errmsg() ? dnnprov_errmsg() : dnnprov_strerror(rc),
		*about ? " (about " : "", about, *about ? ")" : "");
	return 1;
}

int main(int argc, char **argv)
{
	dnnprov_index *ix;
	char *out;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: ask INDEX_DIR\n");
		return 2;
	}
	/* NULL: the logs are where the indexer recorded them. */
	if ((rc = dnnprov_index_open(argv[1], NULL, &ix)))
		return fail(argv[1], rc);

	/* Parameters by name, values as text, as the registry declares them
	 * (dnnprov_questions_json lists them; docs/QUERY.md too). */
	const char *params[] = { "metric", "val_accuracy", "agg", "last", "limit", "2" };
	if ((rc = dnnprov_index_ask(ix, "compare", params, 3, DNNPROV_FORMAT_JSON, &out, NULL))) {
		dnnprov_index_close(ix);
		return fail("compare", rc);
	}
	fputs(out, stdout);
	dnnprov_free(out);

	dnnprov_value lr = DNNPROV_V_REAL(NULL, 0.05);
	if ((rc = dnnprov_index_sql(ix, "select task, value from hyperparameters where name = 'LEARNING_RATE' "
					"and value > ?1 order by task",
				    &lr, 1, NULL, 10, DNNPROV_FORMAT_CSV, &out, NULL))) {
		dnnprov_index_close(ix);
		return fail("sql", rc);
	}
	fputs(out, stdout);
	dnnprov_free(out);

	/* A value the parameter does not take: refused, naming it. */
	const char *bad[] = { "hyp", "LEARNING_RATE", "bins", "0" };
	rc = dnnprov_index_ask(ix, "effect", bad, 2, DNNPROV_FORMAT_JSON, &out, NULL);
	printf("effect with bins=0: %s; about: %s\n", rc ? dnnprov_errmsg() : "answered", dnnprov_errsubject());
	dnnprov_index_close(ix);
	return rc == DNNPROV_EQUERY ? 0 : 1;
}
