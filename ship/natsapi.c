/*
 * natsapi.c - binding ship/natsapi.h's functions at run time.
 */
#define DP_NATS_NO_MACROS
#include "ship/natsapi.h"

#ifndef DP_NATS_SONAME
#error "DP_NATS_SONAME (the library's file name, set by the Makefile) is not defined"
#endif

struct dp_nats_api dp_nats;

#define SYM(name) { #name, (void **)&dp_nats.p_##name },
static const dp_dynsym syms[] = { DP_NATS_FUNCTIONS(SYM) };
#undef SYM

static dp_dynlib lib = { DP_NATS_SONAME, "NATS C client", syms, sizeof(syms) / sizeof(syms[0]), PTHREAD_MUTEX_INITIALIZER, false };

int dp_nats_bind(void)
{
	return dp_dynlib_bind(&lib);
}
