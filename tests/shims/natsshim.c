/*
 * natsshim.c - LD_PRELOAD faults in the NATS client, for the shipping tests.
 *
 * DNNPROV_KILL_AT_ACK=N   SIGKILL at the Nth acknowledgement of a consumed
 *                         message.  The stream indexer acknowledges only after
 *                         its commit: this is a crash between the two, the one
 *                         a redelivery follows.
 * DNNPROV_REJECT_EVERY=N  every Nth asynchronous publish carries an expected
 *                         last sequence the stream cannot have, so the server
 *                         refuses it and stores nothing: a lost publish, with
 *                         the ones after it stored (a gap for the indexers).
 * DNNPROV_PUBLISH_DELAY_MS=N  every asynchronous publish waits N ms first: a
 *                         shipper still at work when the test stops the
 *                         servers.
 */
#include <dlfcn.h>
#include <nats/nats.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

typedef natsStatus (*ack_fn)(natsMsg *msg, jsOptions *opts);
typedef natsStatus (*publish_fn)(jsCtx *js, natsMsg **msg, jsPubOptions *opts);

natsStatus natsMsg_Ack(natsMsg *msg, jsOptions *opts)
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

natsStatus js_PublishMsgAsync(jsCtx *js, natsMsg **msg, jsPubOptions *opts)
{
	static int publishes;
	static publish_fn real;
	const char *every = getenv("DNNPROV_REJECT_EVERY"), *delay = getenv("DNNPROV_PUBLISH_DELAY_MS");
	if (delay && atoi(delay) > 0)
		nanosleep(&(struct timespec){ atoi(delay) / 1000, (long)(atoi(delay) % 1000) * 1000000L }, NULL);
	if (every && opts && atoi(every) > 0 && ++publishes % atoi(every) == 0)
		opts->ExpectLastSeq = 1;
	if (!real)
		real = (publish_fn)dlsym(RTLD_NEXT, "js_PublishMsgAsync");
	return real(js, msg, opts);
}
