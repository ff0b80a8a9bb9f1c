/*
 * util.h - the bottom layer every component may use: error details,
 * growable byte buffers, tag validation, CRC32C and clocks.
 *
 * Nothing here knows about logs, LMDB or YAML.  See docs/LAYOUT.md for why
 * this folder exists beside the ones DESIGN.md names.
 */
#ifndef DNNPROV_UTIL_H
#define DNNPROV_UTIL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dnnprov.h"

#define DP_INTERNAL __attribute__((visibility("hidden")))
#define DP_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define DP_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- error detail ------------------------------------------------------
 * The library reports failures as a code plus a thread-local detail string
 * (dnnprov_errmsg).  dp_error() sets the detail and returns the code so a
 * failure site is one line: `return dp_error(DNNPROV_EINVAL, "...", ...);`.
 */
DP_INTERNAL int dp_error(int rc, const char *fmt, ...) DP_PRINTF(2, 3);
/* The same for a failure about one parameter the caller gave: `subject`
 * is its name as the question registry spells it (dnnprov_errsubject). */
DP_INTERNAL int dp_error_subject(int rc, const char *subject, const char *fmt, ...) DP_PRINTF(3, 4);
/* Names the subject of the failure already recorded (a caller that knows
 * which parameter a lower layer's error is about); NULL clears it. */
DP_INTERNAL void dp_error_about(const char *subject);

/* One function of a library bound at run time (dynlib.c). */
typedef struct dp_dynsym {
	const char *name;
	void **slot;
} dp_dynsym;

/* A library bound at run time: its file (SONAME), what to call it in an
 * error, the functions to bind; `lock` PTHREAD_MUTEX_INITIALIZER. */
typedef struct dp_dynlib {
	const char *soname, *what;
	const dp_dynsym *syms;
	size_t nsyms;
	pthread_mutex_t lock;
	bool bound;
} dp_dynlib;

/* Loads the library and sets each slot to its function, once per process
 * (a failure is tried again at the next call): 0, or DNNPROV_EIO with the
 * detail saying what is missing. */
DP_INTERNAL int dp_dynlib_bind(dp_dynlib *lib);
/* Same, appending ": strerror(errno)" and mapping ENOSPC/EFBIG/EDQUOT to
 * DNNPROV_ENOSPC and ENOMEM to DNNPROV_ENOMEM, anything else to DNNPROV_EIO. */
DP_INTERNAL int dp_error_errno(int err, const char *fmt, ...) DP_PRINTF(2, 3);
DP_INTERNAL void dp_error_clear(void);

/* ---- arena ---------------------------------------------------------------
 * Memory for many small pieces freed at once (a loaded dataflow's strings,
 * a model): chunks of `chunk` bytes (0: 4 KiB), a piece larger than a
 * chunk in one of its own.  Zero it to start; the pieces live until
 * dp_arena_free.
 */
struct dp_arena_chunk;
typedef struct dp_arena {
	struct dp_arena_chunk *head;
	size_t chunk;
} dp_arena;

/* n bytes, zeroed and aligned for any type; NULL when out of memory. */
DP_INTERNAL void *dp_arena_alloc(dp_arena *a, size_t n);
/* A copy of s[0..n) and a NUL; NULL when out of memory. */
DP_INTERNAL char *dp_arena_strndup(dp_arena *a, const char *s, size_t n);
DP_INTERNAL void dp_arena_free(dp_arena *a);

/* ---- growable buffer ---------------------------------------------------
 * Invariant: data[0..len) is valid, cap >= len, data is NULL only when cap
 * is 0.  The owner frees with dp_buf_free().
 */
typedef struct dp_buf {
	char *data;
	size_t len;
	size_t cap;
	/* An append failed, so the text is incomplete: sticky like ferror(), for
	 * writers that append many pieces and check once at the end. */
	bool failed;
} dp_buf;

DP_INTERNAL int dp_buf_reserve(dp_buf *b, size_t extra);
/* Room for one more item in `array`, which holds n of *cap items of
 * `size` bytes: the array, grown (doubled, from `first` items) when it is
 * full, or NULL when out of memory (the old one is kept, with the detail
 * set).  The caller stores the result. */
DP_INTERNAL void *dp_grow(void *array, size_t n, size_t *cap, size_t size, size_t first);
DP_INTERNAL int dp_buf_append(dp_buf *b, const void *p, size_t n);
DP_INTERNAL int dp_buf_printf(dp_buf *b, const char *fmt, ...) DP_PRINTF(2, 3);
DP_INTERNAL int dp_buf_putc(dp_buf *b, char c);
DP_INTERNAL void dp_buf_free(dp_buf *b);
/* A NUL-terminated view (appends a NUL not counted in len). */
DP_INTERNAL const char *dp_buf_cstr(dp_buf *b);

/* ---- tags and names ----------------------------------------------------
 * A tag becomes a path component or an index key, so it must be 1 to
 * DNNPROV_NAME_MAX bytes of valid UTF-8 without control characters (C0,
 * DEL, C1), characters that hide or reorder text in a terminal
 * (bidirectional controls, U+2028/U+2029, U+200B, U+FEFF), '/', '\\', and
 * must not be "." or "..".  Returns 0 or DNNPROV_EINVAL with a
 * detail naming `what` ("dataflow tag", "metric name", ...).
 */
DP_INTERNAL int dp_check_tag(const char *what, const char *s);
/* The same rules for s[0..n), without setting an error detail. */
DP_INTERNAL bool dp_tag_valid(const char *s, size_t n);
/* The names of a dataflow's parts (hyperparameter, metric, transformation,
 * set, attribute) also become SQL identifiers and column headers, so they
 * are stricter than tags: ASCII letters, digits, '_', '.', '-' and the
 * letters and marks of other scripts, starting with a letter or '_'; no
 * space, quote, ';', bracket or other punctuation of any script, no
 * control or invisible character (docs/CONFIG.md).  Returns 0 or
 * DNNPROV_EINVAL with a detail naming `what` and the character. */
DP_INTERNAL int dp_check_name(const char *what, const char *s);
/* The same rules for s[0..n), without setting an error detail. */
DP_INTERNAL bool dp_name_valid(const char *s, size_t n);
/* 1 with why[0..cap) saying what is wrong with s[0..n) as a name ("has
 * the character ';' at byte 3"), or 0 when it is a name. */
DP_INTERNAL int dp_name_why(const char *s, size_t n, char *why, size_t cap);
/* A character that moves, hides or rewrites text on a terminal: a C0 or
 * C1 control, DEL, a bidirectional control, a line or paragraph separator,
 * a zero-width or invisible character (the set tags refuse, with C0). */
DP_INTERNAL bool dp_char_hides(uint32_t cp);
/* The length of the valid UTF-8 character at s[0..n) (n > 0), its code
 * point in *cp (a NUL byte is the character 0); 0 when s starts with no
 * valid character (a stray, overlong, surrogate or cut sequence). */
DP_INTERNAL size_t dp_utf8_next(const char *s, size_t n, uint32_t *cp);
/* Valid UTF-8 of length n, no NUL bytes. */
DP_INTERNAL bool dp_utf8_valid(const char *s, size_t n);
/* ASCII case-insensitive comparison, for names that must not collide
 * after case folding. */
DP_INTERNAL int dp_strcasecmp(const char *a, const char *b);
/* The same over at most n bytes. */
DP_INTERNAL int dp_strncasecmp(const char *a, const char *b, size_t n);

/* ---- option values (units.c) ------------------------------------------
 * Sizes, durations, counts and addresses as people write them, in the
 * experiment file and on the command line: one exact grammar per kind
 * (docs/CONFIG.md, "Sizes and durations"), so that every option of a kind
 * reads the same.  Each returns 0 or DNNPROV_EINVAL with a detail quoting
 * the input; the caller names the option.
 */
/* "64MiB", "512k", "1 GB", "4096" into bytes (binary and decimal units,
 * case-insensitive; no sign, fraction or exponent). */
DP_INTERNAL int dp_parse_size(const char *s, uint64_t *out);
/* "1s", "250ms", "2m", "500" (a bare number is milliseconds) into whole
 * milliseconds, as the experiment file writes durations. */
DP_INTERNAL int dp_parse_duration_ms(const char *s, uint64_t *out);
/* A duration on the command line, "7d", "12h", "1.5", "250ms", into
 * seconds: decimal digits, an optional decimal fraction, an optional unit
 * (ms, s, m, h, d); a bare number is in `bare_unit` (one of those).  Out
 * of [min_s, max_s] is refused, naming the range. */
DP_INTERNAL int dp_parse_duration(const char *s, const char *bare_unit, double min_s, double max_s,
				  double *seconds);
/* Decimal digits, nothing else, within [min, max]. */
DP_INTERNAL int dp_parse_count(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* An address to listen on: "A.B.C.D:PORT" (four dotted decimal parts),
 * "[IPv6]:PORT", ":PORT" or "PORT" (default_host, or 127.0.0.1 when
 * NULL).  A host name or any other spelling of a number is refused. */
typedef struct dp_address {
	char host[64]; /* the literal, without brackets */
	unsigned port;
	bool v6;
} dp_address;
DP_INTERNAL int dp_parse_address(const char *s, const char *default_host, dp_address *out);

/* ---- checksums ---------------------------------------------------------
 * CRC32C (Castagnoli), hardware-accelerated on x86-64 with SSE4.2.
 * dp_crc32c(0, p, n) is the checksum of p[0..n).
 */
DP_INTERNAL uint32_t dp_crc32c(uint32_t crc, const void *p, size_t n);
/* The table-driven version, for tests and machines without SSE4.2. */
DP_INTERNAL uint32_t dp_crc32c_portable(uint32_t crc, const void *p, size_t n);

/* ---- numbers as text (dtoa.c) -----------------------------------------
 * dp_dtoa writes the shortest decimal that reads back (strtod) as d,
 * laid out as printf's %g lays it out (dtoa.c says how), NUL-terminated
 * in out; returns its length.  NaN and infinities as "nan", "inf" and
 * "-inf": callers spell them as their format wants.
 */
#define DP_DTOA_MAX 32
DP_INTERNAL size_t dp_dtoa(double d, char out[DP_DTOA_MAX]);

/* ---- byte order --------------------------------------------------------*/
static inline void dp_put_be16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}
static inline void dp_put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}
static inline void dp_put_be64(unsigned char *p, uint64_t v)
{
	dp_put_be32(p, (uint32_t)(v >> 32));
	dp_put_be32(p + 4, (uint32_t)v);
}
static inline uint16_t dp_get_be16(const unsigned char *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}
static inline uint32_t dp_get_be32(const unsigned char *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t dp_get_be64(const unsigned char *p)
{
	return ((uint64_t)dp_get_be32(p) << 32) | dp_get_be32(p + 4);
}

/* ---- clocks ------------------------------------------------------------*/
/* Seconds since the Unix epoch, wall clock, with sub-microsecond digits. */
DP_INTERNAL double dp_now(void);
/* Seconds on the monotonic clock, for intervals. */
DP_INTERNAL double dp_monotonic(void);
/* Seconds since this host booted (CLOCK_BOOTTIME): no clock step moves it,
 * it counts time suspended, and every process of one boot shares it. */
DP_INTERNAL double dp_uptime(void);
/* Formats t (seconds since the epoch) as ISO 8601 UTC with microseconds,
 * "2026-11-26T02:36:56.123456Z", into out[32]. */
DP_INTERNAL void dp_format_time(double t, char out[32]);

/* ---- progress ----------------------------------------------------------
 * Long work (a catch-up over millions of records, an export) reports how
 * far it has got through a callback in its options; the library never
 * prints.  Counts of what is done, and of the whole when known (0 when
 * not): the caller decides what to show and how often.
 */
typedef struct dp_work {
	uint64_t items, items_total; /* records indexed, tasks written, ... */
	uint64_t bytes, bytes_total; /* read or written */
} dp_work;
typedef void (*dp_work_fn)(void *ctx, const dp_work *w);

/* ---- files -------------------------------------------------------------*/
/* mkdir -p with mode 0777 & ~umask.  Returns 0 or a DNNPROV_E* code. */
DP_INTERNAL int dp_mkdirs(const char *path);

/* ---- process identity ----------------------------------------------------
 * What tells a live process from a dead one whose pid was given to another:
 * the boot (this host's boot id, "" when unknown) and the process's start
 * time in clock ticks since boot (0 when unknown).
 */
DP_INTERNAL void dp_boot_id(char out[40]);
DP_INTERNAL uint64_t dp_process_start(long pid);
/* Whether process pid lives and started at `start` (0: any start). */
DP_INTERNAL bool dp_process_alive(long pid, uint64_t start);
/* Whether process group pgid lives and is the one whose leader started at
 * `leader_start` (0: any): a group id reused by a later group is not it. */
DP_INTERNAL bool dp_group_alive(long pgid, uint64_t leader_start);
/* Takes the lock file at `path` (created when missing) for this process:
 * an open-file-description lock, which another process can test without
 * taking it (F_OFD_GETLK), and this pid written in it.  *fd_out holds it
 * until closed.  DNNPROV_ELOCKED when another process holds it: "another
 * <who> (pid N) is using <what>". */
DP_INTERNAL int dp_lock_take(const char *path, const char *who, const char *what, int *fd_out);
/* Joins a and b with one '/' into a new malloc'd string, or NULL. */
DP_INTERNAL char *dp_path_join(const char *a, const char *b);

#endif
