/*
 * allocshim.c - an LD_PRELOAD library that makes one chosen allocation fail,
 * so that a test can walk every error path of a run: run it once to count
 * its allocations, then once per N with the Nth failing.
 *
 * It forwards to the next malloc in the load order: glibc's in the plain
 * build, AddressSanitizer's under SANITIZE=1, which then reports any leak
 * an error path leaves.
 *
 *   DP_ALLOC_FAIL   the allocation to fail, counted from 1 (malloc, calloc,
 *                   realloc to a non-zero size, posix_memalign,
 *                   aligned_alloc); unset or 0: none fails.
 *   DP_ALLOC_COUNT  a file to which the number of allocations made is
 *                   written at exit.
 *   DP_ALLOC_LOG    a file to which one line is appended when the
 *                   allocation fails, so a test knows it happened.
 *
 * Counting starts when the library is loaded, so the loader's own
 * allocations are never failed.  N names the same allocation twice only
 * in a run without threads racing to allocate; the indexer's catch-up
 * reads the logs on a second thread, so there N is one of those near it,
 * and every failure must still end in a clean error or a whole answer.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *(*next_malloc)(size_t);
static void *(*next_calloc)(size_t, size_t);
static void *(*next_realloc)(void *, size_t);
static void (*next_free)(void *);
static int (*next_posix_memalign)(void **, size_t, size_t);
static void *(*next_aligned_alloc)(size_t, size_t);

static unsigned long fail_at;
static atomic_ulong allocations;
static const char *count_file, *log_file;

/* dlsym allocates (calloc) before the next allocator is known: those few
 * calls are served from here and never freed. */
static _Alignas(max_align_t) unsigned char bootstrap[8192];
static size_t bootstrap_used;
static int resolving;

static int from_bootstrap(const void *p)
{
	return (const unsigned char *)p >= bootstrap && (const unsigned char *)p < bootstrap + sizeof(bootstrap);
}

static void *bootstrap_alloc(size_t n)
{
	size_t at = (bootstrap_used + 15) & ~(size_t)15;
	if (at + n > sizeof(bootstrap))
		return NULL;
	bootstrap_used = at + n;
	return bootstrap + at;
}

static void resolve(void)
{
	if (next_malloc || resolving)
		return;
	resolving = 1;
	next_malloc = dlsym(RTLD_NEXT, "malloc");
	next_calloc = dlsym(RTLD_NEXT, "calloc");
	next_realloc = dlsym(RTLD_NEXT, "realloc");
	next_free = dlsym(RTLD_NEXT, "free");
	next_posix_memalign = dlsym(RTLD_NEXT, "posix_memalign");
	next_aligned_alloc = dlsym(RTLD_NEXT, "aligned_alloc");
	resolving = 0;
}

__attribute__((constructor)) static void setup(void)
{
	resolve();
	const char *e = getenv("DP_ALLOC_FAIL");
	count_file = getenv("DP_ALLOC_COUNT");
	log_file = getenv("DP_ALLOC_LOG");
	atomic_store(&allocations, 0);
	fail_at = e ? strtoul(e, NULL, 10) : 0; /* last: counting starts here */
}

__attribute__((destructor)) static void report_count(void)
{
	if (!count_file)
		return;
	int fd = open(count_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	char line[32];
	int n = snprintf(line, sizeof(line), "%lu\n", atomic_load(&allocations));
	if (write(fd, line, (size_t)n) != n) {
		/* nothing to do: the test sees a missing count */
	}
	close(fd);
}

/* Called when the allocation fails: a place for a debugger's breakpoint
 * (gdb -ex 'break dp_alloc_failing') to see who asked for it. */
__attribute__((noinline, visibility("default"))) void dp_alloc_failing(unsigned long n);
__attribute__((noinline, visibility("default"))) void dp_alloc_failing(unsigned long n)
{
	__asm__ volatile("" : : "r"(n) : "memory");
}

/* Allocations made inside pthread_getattr_np are neither counted nor
 * failed: AddressSanitizer calls it as each new thread starts, before the
 * thread runs any of our code, and aborts when it fails (the program has
 * no say in it).  Initial-exec TLS: reading it allocates nothing. */
static __thread int exempt __attribute__((tls_model("initial-exec")));

int pthread_getattr_np(pthread_t thread, pthread_attr_t *attr)
{
	static int (*next)(pthread_t, pthread_attr_t *);
	exempt++;
	if (!next)
		*(void **)&next = dlsym(RTLD_NEXT, "pthread_getattr_np");
	int rc = next ? next(thread, attr) : ENOSYS;
	exempt--;
	return rc;
}

/* Whether this allocation is the one to fail. */
static int fails(void)
{
	if (exempt)
		return 0;
	unsigned long n = atomic_fetch_add(&allocations, 1) + 1;
	if (!fail_at || n != fail_at)
		return 0;
	dp_alloc_failing(n);
	if (log_file) {
		int fd = open(log_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fd >= 0) {
			char line[48];
			int len = snprintf(line, sizeof(line), "failed allocation %lu\n", n);
			if (write(fd, line, (size_t)len) != len) {
				/* the test sees no log line and reports it */
			}
			close(fd);
		}
	}
	return 1;
}

void *malloc(size_t n)
{
	resolve();
	if (!next_malloc)
		return bootstrap_alloc(n);
	if (fails()) {
		errno = ENOMEM;
		return NULL;
	}
	return next_malloc(n);
}

void *calloc(size_t count, size_t size)
{
	resolve();
	if (!next_calloc) {
		if (size && count > SIZE_MAX / size)
			return NULL;
		return bootstrap_alloc(count * size); /* static: already zero */
	}
	if (fails()) {
		errno = ENOMEM;
		return NULL;
	}
	return next_calloc(count, size);
}

void *realloc(void *p, size_t n)
{
	resolve();
	if (from_bootstrap(p)) {
		void *q = malloc(n);
		size_t room = (size_t)(bootstrap + sizeof(bootstrap) - (unsigned char *)p);
		if (q)
			memcpy(q, p, n < room ? n : room);
		return q;
	}
	if (n && fails()) {
		errno = ENOMEM;
		return NULL;
	}
	return next_realloc(p, n);
}

void free(void *p)
{
	if (!p || from_bootstrap(p))
		return;
	resolve();
	next_free(p);
}

int posix_memalign(void **out, size_t align, size_t n)
{
	resolve();
	if (fails())
		return ENOMEM;
	return next_posix_memalign(out, align, n);
}

void *aligned_alloc(size_t align, size_t n)
{
	resolve();
	if (fails()) {
		errno = ENOMEM;
		return NULL;
	}
	return next_aligned_alloc(align, n);
}
