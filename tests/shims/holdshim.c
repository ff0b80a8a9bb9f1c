/*
 * holdshim.c - an LD_PRELOAD library that holds a process right after one
 * chosen call returns, until the test lets it go, so that a race the
 * process would lose once in a thousand runs is lost every time: the test
 * does what races it (a reindex) while the process is held.
 *
 *   DP_HOLD_AFTER   the call: realpath (how a reader resolves the index's
 *                   CURRENT link).
 *   DP_HOLD_PATH    only calls whose path contains this; only the first.
 *   DP_HOLD_READY   a file created once the call has returned and the
 *                   process is held.
 *   DP_HOLD_UNTIL   the process goes on once this file exists (it gives up
 *                   waiting after 60 s).
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *(*next_realpath)(const char *, char *);
static atomic_int held;

static void hold(const char *path)
{
	const char *want = getenv("DP_HOLD_PATH"), *ready = getenv("DP_HOLD_READY"), *until = getenv("DP_HOLD_UNTIL");
	if (!want || !ready || !until || !strstr(path, want) || atomic_exchange(&held, 1))
		return;
	int fd = open(ready, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd >= 0)
		close(fd);
	for (int i = 0; i < 6000 && access(until, F_OK) != 0; i++)
		poll(NULL, 0, 10);
}

char *realpath(const char *path, char *resolved)
{
	if (!next_realpath)
		next_realpath = (char *(*)(const char *, char *))dlsym(RTLD_NEXT, "realpath");
	char *r = next_realpath(path, resolved);
	const char *after = getenv("DP_HOLD_AFTER");
	if (after && strcmp(after, "realpath") == 0)
		hold(path);
	return r;
}
