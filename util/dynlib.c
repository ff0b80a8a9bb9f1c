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

int dp_dynlib_bind(const char *soname, const char *what, const dp_dynsym *syms, size_t n)
{
	/* RTLD_GLOBAL, then lookups in the global scope: an LD_PRELOAD shim
	 * of one of the functions (the tests' fault injection) comes first,
	 * as it would for a linked library. */
	if (!dlopen(soname, RTLD_NOW | RTLD_GLOBAL)) {
		const char *why = dlerror();
		return dp_error(DNNPROV_EIO, "cannot load %s (the %s library): %s", soname, what,
				why ? why : "unknown error");
	}
	for (size_t i = 0; i < n; i++) {
		void *f = dlsym(RTLD_DEFAULT, syms[i].name);
		if (!f)
			return dp_error(DNNPROV_EIO, "%s has no function %s: a version this build does not know",
					soname, syms[i].name);
		*syms[i].slot = f;
	}
	return 0;
}
