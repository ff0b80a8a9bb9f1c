/*
 * dynlib.c - binding a shared library's functions when a command first
 * needs them.
 *
 * libnats and libmicrohttpd (with OpenSSL, GnuTLS and their dependencies:
 * 14 libraries) serve two commands each, yet linked into the binary they
 * were mapped and relocated at the start of every command: 2.6 of the 3.8
 * ms a `dnnprov --version` took. Bound here instead, they cost nothing to
 * the commands that do not ship, consume a stream or serve.
 */
#include <dlfcn.h>
#include <pthread.h>

#include "util/util.h"

static int bind_all(const dp_dynlib *lib)
{
	/* RTLD_GLOBAL, then lookups in the global scope: an LD_PRELOAD shim
	 * of one of the functions (the tests' fault injection) comes first,
	 * as it would for a linked library. */
	if (!dlopen(lib->soname, RTLD_NOW | RTLD_GLOBAL)) {
		const char *why = dlerror();
		return dp_error(DNNPROV_EIO, "cannot load %s (the %s library): %s", lib->soname, lib->what,
				why ? why : "unknown error");
	}
	for (size_t i = 0; i < lib->nsyms; i++) {
		void *f = dlsym(RTLD_DEFAULT, lib->syms[i].name);
		if (!f)
			return dp_error(DNNPROV_EIO, "%s has no function %s: a version this build does not know",
					lib->soname, lib->syms[i].name);
		*lib->syms[i].slot = f;
	}
	return 0;
}

int dp_dynlib_bind(dp_dynlib *lib)
{
	int rc = 0;

	pthread_mutex_lock(&lib->lock);
	if (!lib->bound && (rc = bind_all(lib)) == 0)
		lib->bound = true;
	pthread_mutex_unlock(&lib->lock);
	return rc;
}
