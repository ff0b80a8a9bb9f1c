/*
 * fuzz_config.c - the experiment YAML loader on arbitrary files: no crash,
 * no leak (LeakSanitizer), bounded time and memory (alias bombs, deep
 * nesting, huge scalars), and every failure explained.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dnnprov.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	dnnprov_config *cfg = NULL;
	int fd = memfd_create("exp.yaml", 0);

	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	int rc = dnnprov_config_load(path, &cfg);
	if (rc == 0)
		dnnprov_config_free(cfg);
	else if (!dnnprov_errmsg()[0])
		abort(); /* an error without a detail */
	close(fd);
	return 0;
}
