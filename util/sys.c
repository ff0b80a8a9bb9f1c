/*
 * sys.c - clocks and file-system helpers.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/util.h"

double dp_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double dp_monotonic(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double dp_uptime(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void dp_format_time(double t, char out[32])
{
	time_t secs;
	unsigned usec;
	struct tm tm;

	if (!(t == t) || t < 0 || t > 253402300799.0) { /* NaN or outside years 1970..9999 */
		strcpy(out, "");
		return;
	}
	secs = (time_t)t;
	usec = (unsigned)((t - (double)secs) * 1e6 + 0.5);
	if (usec >= 1000000) {
		secs++;
		usec -= 1000000;
	}
	gmtime_r(&secs, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + 19, 13, ".%06uZ", usec % 1000000u);
}

int dp_mkdirs(const char *path)
{
	char *p, *s;
	int rc = 0;

	if (!path || !*path)
		return dp_error(DNNPROV_EINVAL, "empty directory path");
	s = strdup(path);
	if (!s)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	for (p = s + 1;; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;
			*p = '\0';
			if (mkdir(s, 0777) != 0 && errno != EEXIST) {
				rc = dp_error_errno(errno, "cannot create directory %s", s);
				break;
			}
			*p = c;
			if (c == '\0')
				break;
		}
	}
	if (rc == 0) {
		struct stat st;
		if (stat(path, &st) != 0)
			rc = dp_error_errno(errno, "cannot create directory %s", path);
		else if (!S_ISDIR(st.st_mode))
			rc = dp_error(DNNPROV_EIO, "%s exists and is not a directory", path);
	}
	free(s);
	return rc;
}

char *dp_path_join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *p = malloc(la + lb + 2);

	if (!p)
		return NULL;
	memcpy(p, a, la);
	if (la && a[la - 1] != '/')
		p[la++] = '/';
	memcpy(p + la, b, lb + 1);
	return p;
}

/* ---- process identity ---------------------------------------------------------- */

void dp_boot_id(char out[40])
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
	out[0] = '\0';
	if (!f)
		return;
	if (fgets(out, 40, f))
		out[strcspn(out, "\n")] = '\0';
	fclose(f);
}

uint64_t dp_process_start(long pid)
{
	char path[64], buf[1024];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if (!(f = fopen(path, "re")))
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* "pid (comm) state ppid ...": comm may hold spaces and parentheses, so
	 * fields are counted from the last ')'; starttime is field 22. */
	char *p = strrchr(buf, ')');
	if (!p)
		return 0;
	p++;
	for (int field = 3; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	return p ? strtoull(p + 1, NULL, 10) : 0;
}

bool dp_process_alive(long pid, uint64_t start)
{
	if (pid <= 0)
		return false;
	if (kill((pid_t)pid, 0) != 0 && errno == ESRCH)
		return false;
	/* A pid the kernel gave to another process since is not ours. */
	return start == 0 || dp_process_start(pid) == start;
}

bool dp_group_alive(long pgid, uint64_t leader_start)
{
	if (pgid <= 0 || (kill(-(pid_t)pgid, 0) != 0 && errno != EPERM))
		return false;
	/* A group outlives its leader, and Linux gives no new process the id
	 * of a group that lives: a leader that is gone is no sign of reuse.
	 * A leader that started at another time is a new group's. */
	uint64_t now = leader_start ? dp_process_start(pgid) : 0;
	return now == 0 || now == leader_start;
}

int dp_lock_take(const char *path, const char *who, const char *what, int *fd_out)
{
	char pid[32] = "";
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644), rc;
	if (fd < 0)
		return dp_error_errno(errno, "cannot open %s", path);
	/* An open-file-description lock, not flock(2): a query can then ask
	 * whether the holder runs (F_OFD_GETLK) without taking the lock, which
	 * would make a holder starting at that instant fail. */
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	if (fcntl(fd, F_OFD_SETLK, &fl) != 0) {
		ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		rc = errno == EAGAIN || errno == EACCES
			     ? dp_error(DNNPROV_ELOCKED, "another %s (pid %s) is using %s", who, *pid ? pid : "?", what)
			     : dp_error_errno(errno, "cannot lock %s", path);
		close(fd);
		return rc;
	}
	snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, strlen(pid), 0) < 0) {
		/* The pid is only for the message a second one prints. */
	}
	*fd_out = fd;
	return 0;
}
