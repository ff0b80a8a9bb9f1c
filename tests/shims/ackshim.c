/*
 * ackshim.c - LD_PRELOAD: kills the process (SIGKILL) at its Nth
 * acknowledgement of a JetStream message (DNNPROV_KILL_AT_ACK=N).  The
 * stream indexer acknowledges only after its commit, so this is a crash
 * between the commit and the acknowledgement, the one a redelivery follows.
 */
#include <dlfcn.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

typedef int (*ack_fn)(void *msg, void *opts);

int natsMsg_Ack(void *msg, void *opts);
int natsMsg_Ack(void *msg, void *opts)
{
	static int acks;
	static ack_fn real;
	const char *at = getenv("DNNPROV_KILL_AT_ACK");
	if (at && ++acks >= atoi(at))
		kill(getpid(), SIGKILL);
	if (!real)
		real = (ack_fn)dlsym(RTLD_NEXT, "natsMsg_Ack");
	return real(msg, opts);
}
