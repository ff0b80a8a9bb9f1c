/*
 * mhdapi.c - binding serve/mhdapi.h's functions at run time.
 */
#define DP_MHD_NO_MACROS
#include "serve/mhdapi.h"

#ifndef DP_MHD_SONAME
#error "DP_MHD_SONAME (the library's file name, set by the Makefile) is not defined"
#endif

struct dp_mhd_api dp_mhd;

#define SYM(name) { #name, (void **)&dp_mhd.p_##name },
static const dp_dynsym syms[] = { DP_MHD_FUNCTIONS(SYM) };
#undef SYM

static dp_dynlib lib = { DP_MHD_SONAME, "GNU libmicrohttpd", syms, sizeof(syms) / sizeof(syms[0]), PTHREAD_MUTEX_INITIALIZER, false };

int dp_mhd_bind(void)
{
	return dp_dynlib_bind(&lib);
}
