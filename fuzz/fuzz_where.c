/*
 * fuzz_where.c - the --where parser on arbitrary expressions against a
 * fixed dataflow: no crash, no leak, and every rejection explained.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "query/query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static dp_qspec_hyp hyps[] = { { "LEARNING_RATE", "numeric" }, { "OPTIMIZER_NAME", "text" },
				       { "batch size", "numeric" } };
	static const char *metrics[] = { "loss", "val_accuracy" };
	dp_qdataflow d = { .name = "df", .hyps = hyps, .nhyps = 3, .metrics = metrics, .nmetrics = 2 };
	dp_where *w = NULL;
	char *expr = malloc(size + 1);

	memcpy(expr, data, size);
	expr[size] = '\0';
	if (dp_where_compile(expr, &d, &w) == 0)
		dp_where_free(w);
	else if (!dnnprov_errmsg()[0])
		abort();
	free(expr);
	return 0;
}
