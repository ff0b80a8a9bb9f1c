/*
 * faultshim.c - an LD_PRELOAD library that makes chosen I/O calls fail, the
 * way a full disk, a dying disk or a read-only remount would.  It stands
 * between dnnprov (or LMDB inside it) and libc, so the code under test is the
 * code that ships.
 *
 * Configured by environment variables:
 *   DP_FAULT_OPS    the calls to fail, comma-separated, from: write (write,
 *                   pwrite, writev, pwritev), sync (fsync, fdatasync), read
 *                   (read, pread), open (opening for writing or creating),
 *                   mkdir, opendir (listing a folder, by opendir or by
 *                   opening it with O_DIRECTORY, relative to another or
 *                   not: EACCES is a folder of another user's with umask
 *                   077, which root cannot otherwise simulate).  Required.
 *   DP_FAULT_PATH   only calls on files whose path contains this.  Required:
 *                   stderr must keep working to report the fault.
 *   DP_FAULT_ERRNO  ENOSPC (default), EIO, EROFS or EACCES.
 *   DP_FAULT_NTH    the first matching call to fail, counted from 1
 *                   (default 1).
 *   DP_FAULT_COUNT  how many consecutive matching calls fail from there;
 *                   0 (default) fails all of them: a persistent fault.
 *   DP_FAULT_WHILE  a file: matching calls are counted and failed only while
 *                   it exists, so a test can start and clear a fault in a
 *                   running process.
 *   DP_FAULT_LOG    a file to which one line per injected failure is
 *                   appended, so a test knows that the fault did happen.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

enum { OP_WRITE = 1, OP_SYNC = 2, OP_READ = 4, OP_OPEN = 8, OP_MKDIR = 16, OP_OPENDIR = 32 };

static int armed_ops;
static const char *path_part;
static const char *while_file;
static const char *log_file;
static int fault_errno = ENOSPC;
static unsigned long first_call = 1, fail_count;
static atomic_ulong calls_seen;

static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_pwrite64)(int, const void *, size_t, off_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static ssize_t (*real_pwritev)(int, const struct iovec *, int, off_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static ssize_t (*real_read)(int, void *, size_t);
static ssize_t (*real_pread)(int, void *, size_t, off_t);
static ssize_t (*real_pread64)(int, void *, size_t, off_t);
static int (*real_open)(const char *, int, ...);
static int (*real_open64)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static int (*real_openat64)(int, const char *, int, ...);
static int (*real_mkdir)(const char *, mode_t);
static DIR *(*real_opendir)(const char *);

#define RESOLVE(name) (real_##name = dlsym(RTLD_NEXT, #name))

__attribute__((constructor)) static void setup(void)
{
	RESOLVE(write), RESOLVE(pwrite), RESOLVE(pwrite64), RESOLVE(writev), RESOLVE(pwritev);
	RESOLVE(fsync), RESOLVE(fdatasync);
	RESOLVE(read), RESOLVE(pread), RESOLVE(pread64);
	RESOLVE(open), RESOLVE(open64), RESOLVE(openat), RESOLVE(openat64), RESOLVE(mkdir), RESOLVE(opendir);

	const char *ops = getenv("DP_FAULT_OPS");
	path_part = getenv("DP_FAULT_PATH");
	if (!ops || !path_part || !*path_part)
		return; /* not armed: every call passes through */
	static const struct { const char *name; int bit; } names[] = {
		{ "write", OP_WRITE }, { "sync", OP_SYNC }, { "read", OP_READ },
		{ "open", OP_OPEN }, { "mkdir", OP_MKDIR }, { "opendir", OP_OPENDIR },
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *at = strstr(ops, names[i].name);
		size_t n = strlen(names[i].name);
		if (at && (at == ops || at[-1] == ',') && (at[n] == '\0' || at[n] == ','))
			armed_ops |= names[i].bit;
	}
	const char *e = getenv("DP_FAULT_ERRNO");
	if (e && strcmp(e, "EIO") == 0)
		fault_errno = EIO;
	else if (e && strcmp(e, "EROFS") == 0)
		fault_errno = EROFS;
	else if (e && strcmp(e, "EACCES") == 0)
		fault_errno = EACCES;
	if ((e = getenv("DP_FAULT_NTH")))
		first_call = strtoul(e, NULL, 10);
	if ((e = getenv("DP_FAULT_COUNT")))
		fail_count = strtoul(e, NULL, 10);
	while_file = getenv("DP_FAULT_WHILE");
	log_file = getenv("DP_FAULT_LOG");
}

static void note(const char *op, const char *path)
{
	if (!log_file)
		return;
	int fd = real_open(log_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	char line[600];
	int n = snprintf(line, sizeof(line), "%d %s %s %s\n", (int)getpid(), op, path, strerror(fault_errno));
	if (n > 0)
		real_write(fd, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	close(fd);
}

/* Whether this call fails; sets errno when it does. */
static int should_fail(int op, const char *op_name, const char *path)
{
	if (!(armed_ops & op) || !path || !strstr(path, path_part))
		return 0;
	if (while_file && access(while_file, F_OK) != 0)
		return 0;
	unsigned long n = atomic_fetch_add(&calls_seen, 1) + 1;
	if (n < first_call || (fail_count && n >= first_call + fail_count))
		return 0;
	note(op_name, path);
	errno = fault_errno;
	return 1;
}

static int fd_fails(int fd, int op, const char *op_name)
{
	char link[64], path[512];
	if (!(armed_ops & op))
		return 0;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, path, sizeof(path) - 1);
	if (n < 0)
		return 0;
	path[n] = '\0';
	return should_fail(op, op_name, path);
}

ssize_t write(int fd, const void *buf, size_t n)
{
	return fd_fails(fd, OP_WRITE, "write") ? -1 : real_write(fd, buf, n);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t at)
{
	return fd_fails(fd, OP_WRITE, "pwrite") ? -1 : real_pwrite(fd, buf, n, at);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t at)
{
	return fd_fails(fd, OP_WRITE, "pwrite") ? -1 : real_pwrite64(fd, buf, n, at);
}

ssize_t writev(int fd, const struct iovec *iov, int n)
{
	return fd_fails(fd, OP_WRITE, "writev") ? -1 : real_writev(fd, iov, n);
}

ssize_t pwritev(int fd, const struct iovec *iov, int n, off_t at)
{
	return fd_fails(fd, OP_WRITE, "pwritev") ? -1 : real_pwritev(fd, iov, n, at);
}

int fsync(int fd)
{
	return fd_fails(fd, OP_SYNC, "fsync") ? -1 : real_fsync(fd);
}

int fdatasync(int fd)
{
	return fd_fails(fd, OP_SYNC, "fdatasync") ? -1 : real_fdatasync(fd);
}

ssize_t read(int fd, void *buf, size_t n)
{
	return fd_fails(fd, OP_READ, "read") ? -1 : real_read(fd, buf, n);
}

ssize_t pread(int fd, void *buf, size_t n, off_t at)
{
	return fd_fails(fd, OP_READ, "pread") ? -1 : real_pread(fd, buf, n, at);
}

ssize_t pread64(int fd, void *buf, size_t n, off_t at)
{
	return fd_fails(fd, OP_READ, "pread") ? -1 : real_pread64(fd, buf, n, at);
}

/* Opening for reading never fails here, but a folder to list (opendir):
 * a read-only filesystem still reads.  A folder opened relative to
 * another is matched by its whole path. */
static int open_fails(int dirfd, const char *path, int flags)
{
	if ((flags & O_DIRECTORY) && (armed_ops & OP_OPENDIR)) {
		char whole[8192] = "";
		if (dirfd != AT_FDCWD && path[0] != '/') {
			char link[64];
			snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
			ssize_t n = readlink(link, whole, sizeof(whole) - 2);
			whole[n > 0 ? n : 0] = '\0';
			strcat(whole, "/");
		}
		strncat(whole, path, sizeof(whole) - strlen(whole) - 1);
		return should_fail(OP_OPENDIR, "opendir", whole);
	}
	if (!(flags & (O_WRONLY | O_RDWR | O_CREAT)))
		return 0;
	return should_fail(OP_OPEN, "open", path);
}

#define OPEN_MODE(flags, mode)                          \
	do {                                            \
		if ((flags) & (O_CREAT | O_TMPFILE)) {  \
			va_list ap;                     \
			va_start(ap, flags);            \
			mode = (mode_t)va_arg(ap, int); \
			va_end(ap);                     \
		}                                       \
	} while (0)

int open(const char *path, int flags, ...)
{
	mode_t mode = 0;
	OPEN_MODE(flags, mode);
	return open_fails(AT_FDCWD, path, flags) ? -1 : real_open(path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
	mode_t mode = 0;
	OPEN_MODE(flags, mode);
	return open_fails(AT_FDCWD, path, flags) ? -1 : real_open64(path, flags, mode);
}

int openat(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;
	OPEN_MODE(flags, mode);
	return open_fails(dirfd, path, flags) ? -1 : real_openat(dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;
	OPEN_MODE(flags, mode);
	return open_fails(dirfd, path, flags) ? -1 : real_openat64(dirfd, path, flags, mode);
}

int mkdir(const char *path, mode_t mode)
{
	return should_fail(OP_MKDIR, "mkdir", path) ? -1 : real_mkdir(path, mode);
}

DIR *opendir(const char *path)
{
	return should_fail(OP_OPENDIR, "opendir", path) ? NULL : real_opendir(path);
}
