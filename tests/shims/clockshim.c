/*
 * clockshim.c - an LD_PRELOAD library that steps the wall clock, the way an
 * NTP correction or a host with a wrong clock would, so that a test can
 * show that no answer follows the clock.
 *
 *   DP_CLOCK_OFFSET_FILE  a file holding a number of seconds (negative to go
 *                         back), added to CLOCK_REALTIME, gettimeofday(2)
 *                         and time(2).  It is read at every call, so a test
 *                         steps the clock of running processes by writing
 *                         it; a missing or empty file is 0.
 *
 * The monotonic clock is left alone: it is what intervals are measured on.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

static double offset(void)
{
	const char *path = getenv("DP_CLOCK_OFFSET_FILE");
	char buf[64];
	double s = 0;
	FILE *f;

	if (!path || !(f = fopen(path, "re")))
		return 0;
	if (fgets(buf, sizeof(buf), f))
		s = strtod(buf, NULL);
	fclose(f);
	return s;
}

static void shift(struct timespec *ts, double by)
{
	long long ns = (long long)ts->tv_sec * 1000000000LL + ts->tv_nsec + (long long)(by * 1e9);
	ts->tv_sec = (time_t)(ns / 1000000000LL);
	ts->tv_nsec = (long)(ns % 1000000000LL);
	if (ts->tv_nsec < 0) {
		ts->tv_nsec += 1000000000L;
		ts->tv_sec--;
	}
}

int clock_gettime(clockid_t id, struct timespec *ts)
{
	static int (*real)(clockid_t, struct timespec *);
	if (!real)
		real = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
	int rc = real(id, ts);
	if (rc == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE))
		shift(ts, offset());
	return rc;
}

int gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
	struct timespec ts;
	(void)tz;
	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return -1;
	tv->tv_sec = ts.tv_sec;
	tv->tv_usec = (suseconds_t)(ts.tv_nsec / 1000);
	return 0;
}

time_t time(time_t *out)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	if (out)
		*out = ts.tv_sec;
	return ts.tv_sec;
}
