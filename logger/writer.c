/*
 * writer.c - the task handle: records encoded, framed and appended to
 * segment files this process alone writes.
 *
 * THE APPEND PATH
 *
 * Every dnnprov_task_* call that records something takes the handle's
 * mutex, encodes its frames at the end of t->out (frame header reserved,
 * payload written by the inline encoder of mpack.h, header filled last) and
 * then commits: in the `interval` and `always` modes it writes t->out with
 * one pwrite(2) at the segment's logical end, in `buffered` mode only when
 * t->out passes 64 KiB.  A call that fails before its commit drops its own
 * frames (t->out is cut back to where it started), so a record is either
 * wholly recorded or not at all.
 *
 * FAILED WRITES
 *
 * t->size is the length of the segment that holds complete frames only.  A
 * write that fails (ENOSPC, EIO) or writes part of its bytes is undone with
 * ftruncate(t->size); if even that fails, the next commit truncates before
 * it writes (t->need_truncate), so no partial frame ever stays in front of
 * a later one.  Appends that would pass RLIMIT_FSIZE fail with
 * DNNPROV_ENOSPC before writing, since the kernel would raise SIGXFSZ.
 *
 * THE FLUSHER
 *
 * In `interval` mode a background thread (one per process, started with the
 * first such handle) fdatasyncs every dirty segment once per interval.  It
 * syncs a dup(2) of the descriptor so that a rotation or a close racing
 * with it cannot make it sync a recycled descriptor, and it holds no
 * handle's mutex while it waits for the disk.  A failure it meets is
 * returned by the handle's next call.  Lock order: a handle, then the
 * registry (a forked child's first append registers its handle again); the
 * flusher, which holds the registry while it looks at the handles, only
 * tries their locks.  So no thread waits for a handle while it holds the
 * registry, which every blocking handle lock asserts.
 *
 * FORK
 *
 * A pthread_atfork child handler bumps dp_fork_generation.  A handle whose
 * generation differs belongs to the parent: its first append in the child
 * closes the inherited descriptor without writing to it, drops the
 * parent's buffered frames and opens a new segment of the same task.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "logger/format.h"
#include "logger/mpack.h"
#include "logger/writer.h"

#define BUFFERED_FLUSH_BYTES (64u * 1024)
/* In buffered mode, frames a failing disk cannot take are kept for the
 * next try up to this much; past it new records are refused. */
#define BUFFERED_LIMIT_BYTES (64u * 1024 * 1024)

typedef struct known_value {
	const dp_hyperparameter *hyp;
	dnnprov_value value; /* value.as.s and value.name are owned copies */
} known_value;

struct dnnprov_task {
	pthread_mutex_t lock;
	const dnnprov_config *cfg;
	char *id;
	char *dir; /* <log_dir>/<dataflow>/<task> */
	char host[65];
	char user[65];
	char execution[DNNPROV_NAME_MAX + 40];

	int fd; /* current segment, -1 when none is open */
	char *seg_path;
	uint64_t size;     /* bytes of complete frames in the segment */
	uint64_t nrecords; /* record frames in the segment */
	uint32_t seq;      /* segments this handle opened */
	unsigned fork_generation;
	bool need_truncate;

	dp_buf out;        /* encoded frames not yet written */
	size_t out_records;
	bool dirty;        /* written since the last fdatasync */
	bool dir_dirty;    /* the segment's folder entry is not synced yet */
	bool ended;
	int sync_errno;    /* a failed background fdatasync, for the next call */
	double last_sync;  /* monotonic */
	uint64_t fsize_limit;

	double last_epoch_time;
	int64_t next_adaptation_id;
	known_value *known;
	size_t nknown;

	/* Names of the last epoch's metrics, NUL-separated, already validated:
	 * a training reports the same names every epoch, and comparing them is
	 * cheaper than validating them again. */
	dp_buf last_names;
	size_t last_nnames;

	struct dnnprov_task *next_registered;
};

/* ---- process-wide state: fork generation and the flusher ------------------ */

static unsigned dp_fork_generation;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t registry_cond = PTHREAD_COND_INITIALIZER;
static dnnprov_task *registry;
static bool flusher_running;
static unsigned flusher_generation;
static _Thread_local bool registry_held; /* for the lock order's assertion */
#define REGISTRY_LOCK() (pthread_mutex_lock(&registry_lock), registry_held = true)
#define REGISTRY_UNLOCK() (registry_held = false, pthread_mutex_unlock(&registry_lock))

static void atfork_prepare(void)
{
	REGISTRY_LOCK();
}

static void atfork_parent(void)
{
	REGISTRY_UNLOCK();
}

static void atfork_child(void)
{
	__atomic_add_fetch(&dp_fork_generation, 1, __ATOMIC_RELAXED);
	/* The flusher thread did not survive the fork; the child's registry
	 * still lists the parent's handles, which re-register on their first
	 * append in the child. */
	registry = NULL;
	flusher_running = false;
	registry_held = false; /* the lock is made anew */
	pthread_mutex_init(&registry_lock, NULL);
	pthread_cond_init(&registry_cond, NULL);
}

static void install_atfork(void)
{
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

static void fsync_dir(const char *dir);

static void *flusher_main(void *arg)
{
	(void)arg;
	REGISTRY_LOCK();
	while (registry) {
		double now = dp_monotonic();
		double wait = 1.0;
		int fds[64];
		dnnprov_task *owners[64];
		char *dirs[64]; /* folders whose new entries need a sync too */
		int nfds = 0;

		for (dnnprov_task *t = registry; t && nfds < 64; t = t->next_registered) {
			double interval = t->cfg->fsync_interval_ms / 1000.0;
			/* trylock: an append holding its handle's lock may be waiting
			 * for the registry (a forked child re-registering); the
			 * handle is looked at again in a millisecond. */
			if (pthread_mutex_trylock(&t->lock) != 0) {
				wait = 0.001;
				continue;
			}
			if (t->dirty && t->fd >= 0) {
				double due = t->last_sync + interval - now;
				if (due <= 0) {
					int fd = dup(t->fd);
					if (fd >= 0) {
						fds[nfds] = fd;
						dirs[nfds] = t->dir_dirty ? strdup(t->dir) : NULL;
						owners[nfds++] = t;
						t->dirty = false;
						t->dir_dirty = false;
						t->last_sync = now;
					}
					due = interval;
				}
				if (due < wait)
					wait = due;
			} else if (interval < wait) {
				wait = interval;
			}
			pthread_mutex_unlock(&t->lock);
		}
		REGISTRY_UNLOCK();

		for (int i = 0; i < nfds; i++) {
			int err = fdatasync(fds[i]) ? errno : 0;
			close(fds[i]);
			if (dirs[i])
				fsync_dir(dirs[i]);
			free(dirs[i]);
			if (!err)
				continue;
			/* The owner may have been closed meanwhile: only a handle
			 * still registered is told, through an atomic so that no
			 * handle lock is needed here. */
			REGISTRY_LOCK();
			for (dnnprov_task *t = registry; t; t = t->next_registered)
				if (t == owners[i])
					__atomic_store_n(&t->sync_errno, err, __ATOMIC_RELEASE);
			REGISTRY_UNLOCK();
		}

		REGISTRY_LOCK();
		if (!registry)
			break;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		if (wait < 0.001)
			wait = 0.001;
		ts.tv_sec += (time_t)wait;
		ts.tv_nsec += (long)((wait - (double)(time_t)wait) * 1e9);
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&registry_cond, &registry_lock, &ts);
	}
	flusher_running = false;
	REGISTRY_UNLOCK();
	return NULL;
}

/* Adds t to the flusher's list, starting the thread if this process has
 * none.  Called without t->lock held. */
static int flusher_register(dnnprov_task *t)
{
	int rc = 0;

	REGISTRY_LOCK();
	t->next_registered = registry;
	registry = t;
	if (!flusher_running || flusher_generation != dp_fork_generation) {
		pthread_t th;
		pthread_attr_t attr;
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		int err = pthread_create(&th, &attr, flusher_main, NULL);
		pthread_attr_destroy(&attr);
		if (err) {
			registry = t->next_registered;
			rc = dp_error_errno(err, "cannot start the fsync thread");
		} else {
			flusher_running = true;
			flusher_generation = dp_fork_generation;
		}
	}
	pthread_cond_signal(&registry_cond);
	REGISTRY_UNLOCK();
	return rc;
}

static void flusher_unregister(dnnprov_task *t)
{
	REGISTRY_LOCK();
	for (dnnprov_task **pp = &registry; *pp; pp = &(*pp)->next_registered) {
		if (*pp == t) {
			*pp = t->next_registered;
			break;
		}
	}
	t->next_registered = NULL;
	pthread_cond_signal(&registry_cond);
	REGISTRY_UNLOCK();
}

/* ---- segment files ------------------------------------------------------- */

static void sanitize_host(char *dst, size_t cap, const char *src)
{
	size_t i = 0;
	for (; *src && i + 1 < cap; src++) {
		char c = *src;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			  c == '.' || c == '_';
		dst[i++] = ok ? c : '_';
	}
	if (i == 0)
		dst[i++] = 'x';
	dst[i] = '\0';
}

ssize_t (*dp_sys_pwrite)(int, const void *, size_t, off_t) = pwrite;

static int write_all_at(int fd, const void *buf, size_t n, uint64_t off)
{
	const char *p = buf;
	while (n) {
		ssize_t w = dp_sys_pwrite(fd, p, n, (off_t)off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (w == 0)
			return -EIO;
		p += w;
		n -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

static void fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd); /* best effort: the entry is durable with the next sync if not now */
		close(fd);
	}
}

/* Builds the segment header into b. */
static int encode_segment_header(dnnprov_task *t, double created, dp_buf *b)
{
	char producer[] = "dnnprov " DNNPROV_VERSION;
	const char *df = t->cfg->dataflow;
	size_t need = 256 + strlen(df) + strlen(t->id) + strlen(t->host) + sizeof(producer);
	unsigned char *p, *start;
	uint32_t crc;
	int rc;

	b->len = 0;
	if ((rc = dp_buf_reserve(b, need)))
		return rc;
	start = (unsigned char *)b->data;
	memcpy(start, DP_SEGMENT_MAGIC, DP_SEGMENT_MAGIC_LEN);
	dp_put_be16(start + 8, DP_FORMAT_VERSION);
	dp_put_be16(start + 10, 0);
	p = start + DP_SEGMENT_FIXED;
	p = dp_mp_map(p, 7);
	p = dp_mp_key(p, "producer");
	p = dp_mp_str(p, producer, strlen(producer));
	p = dp_mp_key(p, "dataflow");
	p = dp_mp_str(p, df, strlen(df));
	p = dp_mp_key(p, "task");
	p = dp_mp_str(p, t->id, strlen(t->id));
	p = dp_mp_key(p, "host");
	p = dp_mp_str(p, t->host, strlen(t->host));
	p = dp_mp_key(p, "pid");
	p = dp_mp_int(p, (int64_t)getpid());
	p = dp_mp_key(p, "created");
	p = dp_mp_double(p, created);
	p = dp_mp_key(p, "sequence");
	p = dp_mp_uint(p, t->seq);
	dp_put_be32(start + 12, (uint32_t)(p - start - DP_SEGMENT_FIXED));
	crc = dp_crc32c(0, start, (size_t)(p - start));
	dp_put_be32(p, crc);
	p += 4;
	b->len = (size_t)(p - start);
	return 0;
}

/* Creates the next segment file of the handle and writes its header. */
static int segment_open(dnnprov_task *t)
{
	char name[160], stamp[32], host[65];
	dp_buf hdr = { 0 };
	double created = dp_now();
	int rc = 0, fd = -1;
	char *path = NULL;

	sanitize_host(host, sizeof(host), t->host);
	dp_format_time(created, stamp);
	/* "2026-11-26T02:36:56.123456Z" -> "20261126T023656.123456Z" sorts the same
	 * and needs no ':' in file names. */
	char compact[32];
	size_t k = 0;
	for (const char *s = stamp; *s; s++)
		if (*s != '-' && *s != ':')
			compact[k++] = *s;
	compact[k] = '\0';

	for (int attempt = 0; attempt < 100; attempt++) {
		t->seq++;
		snprintf(name, sizeof(name), "%s-%s-%ld-%06u%s", compact, host, (long)getpid(), t->seq,
			 DP_SEGMENT_SUFFIX);
		free(path);
		path = dp_path_join(t->dir, name);
		if (!path) {
			rc = dp_error(DNNPROV_ENOMEM, "out of memory");
			goto fail;
		}
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd >= 0 || errno != EEXIST)
			break;
	}
	if (fd < 0) {
		rc = dp_error_errno(errno, "cannot create segment %s", path);
		goto fail;
	}
	if ((rc = encode_segment_header(t, created, &hdr)))
		goto fail_unlink;
	if (t->fsize_limit && hdr.len > t->fsize_limit) {
		rc = dp_error(DNNPROV_ENOSPC, "cannot write segment %s: file-size limit", path);
		goto fail_unlink;
	}
	int err = write_all_at(fd, hdr.data, hdr.len, 0);
	if (err) {
		rc = dp_error_errno(-err, "cannot write segment header of %s", path);
		goto fail_unlink;
	}
	if (t->cfg->durability == DP_DURABILITY_ALWAYS) {
		if (fdatasync(fd) != 0) {
			rc = dp_error_errno(errno, "cannot sync segment %s", path);
			goto fail_unlink;
		}
		fsync_dir(t->dir);
	}
	free(t->seg_path);
	t->seg_path = path;
	t->fd = fd;
	t->size = hdr.len;
	dp_buf_free(&hdr);
	t->nrecords = 0;
	t->need_truncate = false;
	/* In interval mode the flusher makes the new file and its folder entry
	 * durable within the interval, as it does the records: a task's start
	 * does not wait for the disk. */
	t->dirty = t->cfg->durability == DP_DURABILITY_INTERVAL;
	t->dir_dirty = t->dirty;
	t->last_sync = dp_monotonic();
	t->fork_generation = __atomic_load_n(&dp_fork_generation, __ATOMIC_RELAXED);
	return 0;

fail_unlink:
	close(fd);
	unlink(path);
fail:
	dp_buf_free(&hdr);
	free(path);
	return rc;
}

/* Writes the seal frame and closes the segment.  Durable in the non-buffered
 * modes: a sealed segment is complete on disk. */
/* The invariant of FAILED WRITES: the file holds t->size bytes of whole
 * frames, and more only while need_truncate says a torn tail waits to be
 * cut.  Checked where a segment ends, not at every append (an fstat). */
__attribute__((unused)) static bool size_holds(const dnnprov_task *t)
{
	struct stat st;
	if (fstat(t->fd, &st) != 0)
		return true; /* nothing known to contradict it */
	return (uint64_t)st.st_size == t->size || (t->need_truncate && (uint64_t)st.st_size > t->size);
}

static int segment_close(dnnprov_task *t)
{
	unsigned char frame[DP_FRAME_HEADER + 32], *p;
	int rc = 0, err;

	if (t->fd < 0)
		return 0;
	assert(size_holds(t));
	p = frame + DP_FRAME_HEADER;
	p = dp_mp_map(p, 1);
	p = dp_mp_key(p, "records");
	p = dp_mp_uint(p, t->nrecords);
	uint32_t len = (uint32_t)(p - frame - DP_FRAME_HEADER);
	dp_frame_seal_header(frame, DP_FRAME_SEAL, len, dp_crc32c(0, frame + DP_FRAME_HEADER, len),
			     dp_crc32c);
	if (t->need_truncate && ftruncate(t->fd, (off_t)t->size) != 0) {
		rc = dp_error_errno(errno, "cannot truncate the torn tail of %s", t->seg_path);
	} else if (!(t->fsize_limit && t->size + (p - frame) > t->fsize_limit)) {
		/* A seal that cannot be written leaves an unsealed segment, which
		 * readers handle as one whose writer died: nothing is lost. */
		err = write_all_at(t->fd, frame, (size_t)(p - frame), t->size);
		if (err) {
			if (ftruncate(t->fd, (off_t)t->size) != 0) { /* best effort */ }
		} else {
			t->size += (uint64_t)(p - frame);
		}
	}
	if (rc == 0 && t->cfg->durability != DP_DURABILITY_BUFFERED && fdatasync(t->fd) != 0)
		rc = dp_error_errno(errno, "cannot sync segment %s", t->seg_path);
	if (t->dir_dirty) { /* closed before the flusher came by */
		fsync_dir(t->dir);
		t->dir_dirty = false;
	}
	if (close(t->fd) != 0 && rc == 0)
		rc = dp_error_errno(errno, "cannot close segment %s", t->seg_path);
	t->fd = -1;
	t->dirty = false;
	return rc;
}

/* Reports a failure of the background fdatasync once, and marks the
 * segment dirty so the next round syncs it again. */
static int take_sync_error(dnnprov_task *t)
{
	int err = __atomic_exchange_n(&t->sync_errno, 0, __ATOMIC_ACQUIRE);
	if (!err)
		return 0;
	t->dirty = true;
	return dp_error_errno(err, "background fdatasync of %s failed", t->seg_path);
}

/* In a forked child: forget the parent's segment without touching it. */
static int adopt_after_fork(dnnprov_task *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	t->out.len = 0;
	t->out_records = 0;
	t->dirty = false;
	t->sync_errno = 0;
	t->seq = 0;
	if (t->cfg->durability == DP_DURABILITY_INTERVAL) {
		int rc = flusher_register(t);
		if (rc)
			return rc;
	}
	return segment_open(t);
}

/* The limit is read once at open, not per append (a system call); it is
 * read again only when it is what stops a write, so that raising it lets
 * the handle go on. */
static bool fsize_limit_raised(dnnprov_task *t)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_FSIZE, &rl) != 0)
		return false;
	t->fsize_limit = rl.rlim_cur == RLIM_INFINITY ? 0 : (uint64_t)rl.rlim_cur;
	return !t->fsize_limit || t->size + t->out.len <= t->fsize_limit;
}

/* Writes t->out to the segment, rotating first when it would pass the
 * segment size.  On failure, leaves the file as it was. */
static int write_out(dnnprov_task *t)
{
	int rc, err;

	if (t->out.len == 0)
		return 0;
	if (t->fd < 0 && (rc = segment_open(t)))
		return rc;
	if (t->nrecords > 0 && t->size + t->out.len > t->cfg->segment_size) {
		if ((rc = segment_close(t)) || (rc = segment_open(t)))
			return rc;
	}
	if (t->need_truncate) {
		if (ftruncate(t->fd, (off_t)t->size) != 0)
			return dp_error_errno(errno, "cannot truncate the torn tail of %s", t->seg_path);
		t->need_truncate = false;
	}
	if (t->fsize_limit && t->size + t->out.len > t->fsize_limit && !fsize_limit_raised(t))
		return dp_error(DNNPROV_ENOSPC, "cannot append to %s: it would pass the file-size limit of %llu bytes",
				t->seg_path, (unsigned long long)t->fsize_limit);
	err = write_all_at(t->fd, t->out.data, t->out.len, t->size);
	if (err) {
		rc = dp_error_errno(-err, "cannot append to %s", t->seg_path);
		if (ftruncate(t->fd, (off_t)t->size) != 0)
			t->need_truncate = true;
		return rc;
	}
	t->size += t->out.len;
	t->nrecords += t->out_records;
	t->out.len = 0;
	t->out_records = 0;
	t->dirty = true;
	if (t->cfg->durability == DP_DURABILITY_ALWAYS) {
		if (fdatasync(t->fd) != 0)
			return dp_error_errno(errno, "cannot sync %s", t->seg_path);
		t->dirty = false;
	}
	return 0;
}

/* ---- framing and committing ---------------------------------------------- */

/* The state of one recording call: where its frames start in t->out. */
typedef struct append_ctx {
	size_t start;   /* t->out.len when the call began */
	size_t frame;   /* offset of the frame being encoded */
	size_t nframes;
	bool ends_task; /* the call records the task's end */
} append_ctx;

/* Takes the lock and checks what every recording call needs. */
static int append_enter(dnnprov_task *t, append_ctx *ctx)
{
	int rc;

	assert(!registry_held); /* the lock order */
	pthread_mutex_lock(&t->lock);
	dp_error_clear();
	if (t->fork_generation != __atomic_load_n(&dp_fork_generation, __ATOMIC_RELAXED)) {
		if ((rc = adopt_after_fork(t)))
			goto fail;
	}
	if ((rc = take_sync_error(t)))
		goto fail;
	if (t->ended) {
		rc = dp_error(DNNPROV_ESTATE, "task %s has ended; nothing more can be recorded", t->id);
		goto fail;
	}
	if (t->out.len > BUFFERED_LIMIT_BYTES) {
		/* Buffered frames the disk would not take: try once more. */
		if ((rc = write_out(t)))
			goto fail;
	}
	ctx->start = t->out.len;
	ctx->nframes = 0;
	ctx->ends_task = false;
	return 0;
fail:
	pthread_mutex_unlock(&t->lock);
	return rc;
}

/* Reserves room for a frame of at most `max_payload` bytes and returns where
 * its payload starts. */
static unsigned char *frame_begin(dnnprov_task *t, append_ctx *ctx, size_t max_payload)
{
	if (dp_buf_reserve(&t->out, DP_FRAME_HEADER + max_payload))
		return NULL;
	ctx->frame = t->out.len;
	return (unsigned char *)t->out.data + ctx->frame + DP_FRAME_HEADER;
}

static int frame_end(dnnprov_task *t, append_ctx *ctx, unsigned char *end)
{
	unsigned char *frame = (unsigned char *)t->out.data + ctx->frame;
	size_t len = (size_t)(end - frame - DP_FRAME_HEADER);

	if (len > DNNPROV_RECORD_MAX)
		return dp_error(DNNPROV_EINVAL, "record of %zu bytes is over the limit of %u bytes", len,
				DNNPROV_RECORD_MAX);
	assert(ctx->frame + DP_FRAME_HEADER + len <= t->out.cap); /* the reservation held */
	dp_frame_seal_header(frame, DP_FRAME_RECORD, (uint32_t)len,
			     dp_crc32c(0, frame + DP_FRAME_HEADER, len), dp_crc32c);
	t->out.len = ctx->frame + DP_FRAME_HEADER + len;
	ctx->nframes++;
	return 0;
}

/* Commits the call's frames (rc == 0) or drops them, and unlocks. */
static int append_leave(dnnprov_task *t, append_ctx *ctx, int rc)
{
	if (rc == 0) {
		t->out_records += ctx->nframes;
		if (t->cfg->durability != DP_DURABILITY_BUFFERED || t->out.len >= BUFFERED_FLUSH_BYTES) {
			rc = write_out(t);
			if (rc && t->cfg->durability != DP_DURABILITY_BUFFERED) {
				/* Not recorded: the caller is told, and the next call
				 * must not write these frames late. */
				t->out.len = 0;
				t->out_records = 0;
			}
		}
		if (rc == 0 && ctx->ends_task)
			t->ended = true;
	} else {
		t->out.len = ctx->start;
	}
	pthread_mutex_unlock(&t->lock);
	return rc;
}

/* ---- values --------------------------------------------------------------- */

static size_t value_max_size(const dnnprov_value *v)
{
	return v->type == DNNPROV_TEXT ? DP_MP_STR_OVERHEAD + strlen(v->as.s) : DP_MP_MAX_SCALAR;
}

static unsigned char *encode_value(unsigned char *p, const dnnprov_value *v)
{
	switch (v->type) {
	case DNNPROV_INT: return dp_mp_int(p, v->as.i);
	case DNNPROV_REAL: return dp_mp_double(p, v->as.r);
	case DNNPROV_TEXT: return dp_mp_str(p, v->as.s, strlen(v->as.s));
	default: return dp_mp_nil(p);
	}
}

static int check_value(const char *what, const char *name, const dnnprov_value *v)
{
	if (v->type == DNNPROV_TEXT) {
		if (!v->as.s)
			return dp_error(DNNPROV_EINVAL, "%s '%s' has a NULL text value", what, name);
		size_t n = strlen(v->as.s);
		if (n > DNNPROV_RECORD_MAX)
			return dp_error(DNNPROV_EINVAL, "%s '%s' has a text value of %zu bytes", what, name, n);
		if (!dp_utf8_valid(v->as.s, n))
			return dp_error(DNNPROV_EINVAL, "%s '%s' has a text value that is not valid UTF-8",
					what, name);
	} else if (v->type != DNNPROV_INT && v->type != DNNPROV_REAL && v->type != DNNPROV_NULL) {
		return dp_error(DNNPROV_EINVAL, "%s '%s' has an unknown value type %d", what, name,
				(int)v->type);
	}
	return 0;
}

static int check_type(const char *what, const char *name, dp_attr_type type, const dnnprov_value *v)
{
	bool ok;
	if (v->type == DNNPROV_NULL)
		return 0;
	ok = type == DP_ATTR_NUMERIC ? (v->type == DNNPROV_INT || v->type == DNNPROV_REAL)
				     : v->type == DNNPROV_TEXT;
	if (!ok)
		return dp_error(DNNPROV_ETYPE, "%s '%s' is %s but was given a %s value", what, name,
				dp_attr_type_name(type),
				v->type == DNNPROV_TEXT ? "text" : "numeric");
	return 0;
}

/* Names in one record must be valid tags and distinct even after ASCII case
 * folding, since queries look them up case-insensitively. */
static int check_names(const char *what, const dnnprov_value *v, size_t n)
{
	int rc;
	for (size_t i = 0; i < n; i++) {
		if ((rc = dp_check_tag(what, v[i].name)))
			return rc;
		for (size_t j = 0; j < i; j++)
			if (dp_strcasecmp(v[i].name, v[j].name) == 0)
				return dp_error(DNNPROV_EINVAL, "%s '%s' is given twice (as '%s' and '%s')",
						what, v[i].name, v[j].name, v[i].name);
	}
	return 0;
}

/* check_names for metrics, skipped when the names equal the last epoch's. */
static int check_metric_names(dnnprov_task *t, const dnnprov_value *v, size_t n)
{
	int rc;
	if (n == t->last_nnames && t->last_names.len) {
		const char *p = t->last_names.data;
		size_t i = 0;
		for (; i < n; i++) {
			size_t len = strlen(p);
			if (strncmp(p, v[i].name ? v[i].name : "", len + 1) != 0)
				break;
			p += len + 1;
		}
		if (i == n)
			return 0;
	}
	if ((rc = check_names("metric", v, n)))
		return rc;
	t->last_names.len = 0;
	t->last_nnames = 0;
	for (size_t i = 0; i < n; i++)
		if (dp_buf_append(&t->last_names, v[i].name, strlen(v[i].name) + 1))
			return 0; /* the cache is an optimization; validation passed */
	t->last_nnames = n;
	return 0;
}

static int check_metrics(dnnprov_task *t, const dnnprov_value *m, size_t n, size_t *max)
{
	int rc;
	if (n && !m)
		return dp_error(DNNPROV_EINVAL, "metrics array is NULL");
	if (n > 65535)
		return dp_error(DNNPROV_EINVAL, "%zu metrics in one record; the limit is 65535", n);
	if ((rc = check_metric_names(t, m, n)))
		return rc;
	*max = DP_MP_CONTAINER_OVERHEAD;
	for (size_t i = 0; i < n; i++) {
		if (m[i].type != DNNPROV_INT && m[i].type != DNNPROV_REAL)
			return dp_error(DNNPROV_ETYPE, "metric '%s' must be numeric", m[i].name);
		*max += DP_MP_STR_OVERHEAD + strlen(m[i].name) + DP_MP_MAX_SCALAR;
	}
	return 0;
}

static unsigned char *encode_named_values(unsigned char *p, const dnnprov_value *v, size_t n)
{
	p = dp_mp_map(p, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		p = dp_mp_str(p, v[i].name, strlen(v[i].name));
		p = encode_value(p, &v[i]);
	}
	return p;
}

/* Every record starts {kind: ..., time: ...}; n_more is the count of the
 * other keys. */
#define RECORD_HEAD_MAX 48
static unsigned char *encode_head(unsigned char *p, const char *kind, uint32_t n_more, double time)
{
	p = dp_mp_map(p, 2 + n_more);
	p = dp_mp_key(p, "kind");
	p = dp_mp_str(p, kind, strlen(kind));
	p = dp_mp_key(p, "time");
	return dp_mp_double(p, time);
}

/* ---- known hyperparameter values (the "old" side of an adaptation) ------ */

static void known_free(known_value *k)
{
	if (k->value.type == DNNPROV_TEXT)
		free((char *)k->value.as.s);
	k->value.type = DNNPROV_NULL;
}

static int known_set(dnnprov_task *t, const dp_hyperparameter *h, const dnnprov_value *v)
{
	known_value *k = NULL;
	for (size_t i = 0; i < t->nknown; i++)
		if (t->known[i].hyp == h)
			k = &t->known[i];
	if (!k) {
		known_value *grown = realloc(t->known, (t->nknown + 1) * sizeof(*grown));
		if (!grown)
			return dp_error(DNNPROV_ENOMEM, "out of memory");
		t->known = grown;
		k = &t->known[t->nknown++];
		k->hyp = h;
		k->value.type = DNNPROV_NULL;
	}
	known_free(k);
	k->value = *v;
	k->value.name = h->name;
	if (v->type == DNNPROV_TEXT) {
		k->value.as.s = strdup(v->as.s);
		if (!k->value.as.s) {
			k->value.type = DNNPROV_NULL;
			return dp_error(DNNPROV_ENOMEM, "out of memory");
		}
	}
	return 0;
}

static const dnnprov_value *known_get(const dnnprov_task *t, const dp_hyperparameter *h)
{
	for (size_t i = 0; i < t->nknown; i++)
		if (t->known[i].hyp == h)
			return &t->known[i].value;
	return NULL;
}

/* ---- the public API ------------------------------------------------------ */

static void fill_identity(dnnprov_task *t)
{
	char stamp[32];
	struct passwd pw, *res = NULL;
	char pwbuf[1024];
	const char *user = NULL;

	if (gethostname(t->host, sizeof(t->host) - 1) != 0 || !t->host[0])
		strcpy(t->host, "localhost");
	t->host[sizeof(t->host) - 1] = '\0';
	if (getpwuid_r(getuid(), &pw, pwbuf, sizeof(pwbuf), &res) == 0 && res)
		user = res->pw_name;
	if (!user)
		user = getenv("USER");
	snprintf(t->user, sizeof(t->user), "%s", user ? user : "");
	dp_format_time(dp_now(), stamp);
	/* The original tagged each execution with the dataflow tag and the date. */
	snprintf(t->execution, sizeof(t->execution), "%s-%s", t->cfg->dataflow, stamp);
}

/* A new task id: UTC time, host and pid, plus a counter for the second and
 * later tasks one process opens within the same second. */
static int generate_task_id(dnnprov_task *t, char *out, size_t cap)
{
	static unsigned counter;
	char host[33];
	time_t now = time(NULL);
	struct tm tm;
	unsigned n = __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);

	gmtime_r(&now, &tm);
	sanitize_host(host, sizeof(host), t->host);
	size_t k = strftime(out, cap, "%Y%m%dT%H%M%SZ", &tm);
	if (n == 0)
		snprintf(out + k, cap - k, "-%s-%ld", host, (long)getpid());
	else
		snprintf(out + k, cap - k, "-%s-%ld-%u", host, (long)getpid(), n);
	return 0;
}

int dnnprov_task_open(const dnnprov_config *cfg, const char *task_id, dnnprov_task **out)
{
	dnnprov_task *t;
	char generated[DNNPROV_NAME_MAX + 1];
	char *df_dir = NULL;
	struct rlimit rl;
	int rc;

	dp_error_clear();
	if (!cfg || !out)
		return dp_error(DNNPROV_EINVAL, "dnnprov_task_open: config and out must not be NULL");
	*out = NULL;
	if (task_id && (rc = dp_check_tag("task id", task_id)))
		return rc;
	pthread_once(&atfork_once, install_atfork);

	t = calloc(1, sizeof(*t));
	if (!t)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	pthread_mutex_init(&t->lock, NULL);
	t->cfg = cfg;
	t->fd = -1;
	t->next_adaptation_id = 1;
	t->last_epoch_time = dp_now();
	fill_identity(t);
	if (!task_id) {
		generate_task_id(t, generated, sizeof(generated));
		task_id = generated;
	}
	if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		t->fsize_limit = (uint64_t)rl.rlim_cur;
	t->id = strdup(task_id);
	df_dir = dp_path_join(cfg->log_dir, cfg->dataflow);
	t->dir = df_dir && t->id ? dp_path_join(df_dir, t->id) : NULL;
	free(df_dir);
	if (!t->id || !t->dir) {
		rc = dp_error(DNNPROV_ENOMEM, "out of memory");
		goto fail;
	}
	if ((rc = dp_mkdirs(t->dir)))
		goto fail;
	if ((rc = segment_open(t)))
		goto fail;
	if (cfg->durability == DP_DURABILITY_INTERVAL && (rc = flusher_register(t))) {
		segment_close(t);
		goto fail;
	}
	*out = t;
	return 0;
fail:
	free(t->id);
	free(t->dir);
	pthread_mutex_destroy(&t->lock);
	free(t);
	return rc;
}

const char *dnnprov_task_id(const dnnprov_task *t)
{
	return t ? t->id : NULL;
}

/* The dataflow specification: what the config declares, so that the logs
 * alone can rebuild the index.  Layout in docs/FORMAT.md. */
static unsigned char *encode_spec(unsigned char *p, const dnnprov_config *cfg, double now)
{
	size_t nsel = 0;
	for (size_t i = 0; i < cfg->nhyperparameters; i++)
		nsel += cfg->hyperparameters[i].selected;

	p = encode_head(p, "spec", 5, now);
	p = dp_mp_key(p, "dataflow");
	p = dp_mp_str(p, cfg->dataflow, strlen(cfg->dataflow));
	p = dp_mp_key(p, "hyperparameters");
	p = dp_mp_array(p, (uint32_t)nsel);
	for (size_t i = 0; i < cfg->nhyperparameters; i++) {
		const dp_hyperparameter *h = &cfg->hyperparameters[i];
		const char *type = dp_attr_type_name(h->type);
		if (!h->selected)
			continue;
		p = dp_mp_map(p, 2);
		p = dp_mp_key(p, "name");
		p = dp_mp_str(p, h->name, strlen(h->name));
		p = dp_mp_key(p, "type");
		p = dp_mp_str(p, type, strlen(type));
	}
	p = dp_mp_key(p, "metrics");
	p = dp_mp_array(p, (uint32_t)cfg->nmetrics);
	for (size_t i = 0; i < cfg->nmetrics; i++)
		p = dp_mp_str(p, cfg->metrics[i], strlen(cfg->metrics[i]));
	p = dp_mp_key(p, "adaptation");
	p = dp_mp_bool(p, cfg->adaptation);
	p = dp_mp_key(p, "transformations");
	p = dp_mp_array(p, (uint32_t)cfg->ntransformations);
	for (size_t i = 0; i < cfg->ntransformations; i++) {
		const dp_transformation *tf = &cfg->transformations[i];
		p = dp_mp_map(p, 3);
		p = dp_mp_key(p, "name");
		p = dp_mp_str(p, tf->name, strlen(tf->name));
		p = dp_mp_key(p, "depends_on");
		p = dp_mp_array(p, (uint32_t)tf->ndepends);
		for (size_t d = 0; d < tf->ndepends; d++)
			p = dp_mp_str(p, tf->depends_on[d], strlen(tf->depends_on[d]));
		p = dp_mp_key(p, "sets");
		p = dp_mp_array(p, (uint32_t)tf->nsets);
		for (size_t s = 0; s < tf->nsets; s++) {
			const dp_set *set = &tf->sets[s];
			const char *dir = set->is_input ? "input" : "output";
			p = dp_mp_map(p, 3);
			p = dp_mp_key(p, "name");
			p = dp_mp_str(p, set->name, strlen(set->name));
			p = dp_mp_key(p, "direction");
			p = dp_mp_str(p, dir, strlen(dir));
			p = dp_mp_key(p, "attributes");
			p = dp_mp_array(p, (uint32_t)set->nattrs);
			for (size_t a = 0; a < set->nattrs; a++) {
				const char *type = dp_attr_type_name(set->attrs[a].type);
				p = dp_mp_map(p, 2);
				p = dp_mp_key(p, "name");
				p = dp_mp_str(p, set->attrs[a].name, strlen(set->attrs[a].name));
				p = dp_mp_key(p, "type");
				p = dp_mp_str(p, type, strlen(type));
			}
		}
	}
	return p;
}

static size_t spec_max_size(const dnnprov_config *cfg)
{
	size_t n = 256 + strlen(cfg->dataflow);
	for (size_t i = 0; i < cfg->nhyperparameters; i++)
		n += 64 + strlen(cfg->hyperparameters[i].name);
	for (size_t i = 0; i < cfg->nmetrics; i++)
		n += 8 + strlen(cfg->metrics[i]);
	for (size_t i = 0; i < cfg->ntransformations; i++) {
		const dp_transformation *tf = &cfg->transformations[i];
		n += 64 + strlen(tf->name);
		for (size_t d = 0; d < tf->ndepends; d++)
			n += 8 + strlen(tf->depends_on[d]);
		for (size_t s = 0; s < tf->nsets; s++) {
			n += 64 + strlen(tf->sets[s].name);
			for (size_t a = 0; a < tf->sets[s].nattrs; a++)
				n += 64 + strlen(tf->sets[s].attrs[a].name);
		}
	}
	return n;
}

int dnnprov_task_begin(dnnprov_task *t, const dnnprov_value *hyps, size_t n)
{
	append_ctx ctx;
	unsigned char *p;
	size_t max, nsel = 0;
	double now = dp_now();
	int rc;

	if (!t || (n && !hyps))
		return dp_error(DNNPROV_EINVAL, "dnnprov_task_begin: NULL argument");
	if ((rc = append_enter(t, &ctx)))
		return rc;
	if ((rc = check_names("hyperparameter", hyps, n)))
		goto out;
	max = RECORD_HEAD_MAX + 256 + strlen(t->id) + strlen(t->execution) + strlen(t->host) +
	      strlen(t->user);
	for (size_t i = 0; i < n; i++) {
		const dp_hyperparameter *h = dp_config_hyperparameter(t->cfg, hyps[i].name);
		if ((rc = check_value("hyperparameter", hyps[i].name, &hyps[i])))
			goto out;
		if (!h || !h->selected)
			continue;
		if ((rc = check_type("hyperparameter", h->name, h->type, &hyps[i])))
			goto out;
		nsel++;
		max += DP_MP_STR_OVERHEAD + strlen(h->name) + value_max_size(&hyps[i]);
	}

	rc = DNNPROV_ENOMEM;
	if (!(p = frame_begin(t, &ctx, spec_max_size(t->cfg))))
		goto out;
	p = encode_spec(p, t->cfg, now);
	if ((rc = frame_end(t, &ctx, p)))
		goto out;

	rc = DNNPROV_ENOMEM;
	if (!(p = frame_begin(t, &ctx, max)))
		goto out;
	p = encode_head(p, "begin", 7, now);
	p = dp_mp_key(p, "task");
	p = dp_mp_str(p, t->id, strlen(t->id));
	p = dp_mp_key(p, "transformation");
	p = dp_mp_key(p, "TrainingModel");
	p = dp_mp_key(p, "execution");
	p = dp_mp_str(p, t->execution, strlen(t->execution));
	p = dp_mp_key(p, "host");
	p = dp_mp_str(p, t->host, strlen(t->host));
	p = dp_mp_key(p, "pid");
	p = dp_mp_int(p, (int64_t)getpid());
	p = dp_mp_key(p, "user");
	p = dp_mp_str(p, t->user, strlen(t->user));
	p = dp_mp_key(p, "hyperparameters");
	p = dp_mp_map(p, (uint32_t)nsel);
	for (size_t i = 0; i < n; i++) {
		const dp_hyperparameter *h = dp_config_hyperparameter(t->cfg, hyps[i].name);
		if (!h || !h->selected)
			continue;
		p = dp_mp_str(p, h->name, strlen(h->name));
		p = encode_value(p, &hyps[i]);
	}
	if ((rc = frame_end(t, &ctx, p)))
		goto out;
	for (size_t i = 0; i < n && rc == 0; i++) {
		const dp_hyperparameter *h = dp_config_hyperparameter(t->cfg, hyps[i].name);
		if (h && h->selected)
			rc = known_set(t, h, &hyps[i]);
	}
out:
	return append_leave(t, &ctx, rc);
}

int dnnprov_task_layers(dnnprov_task *t, const dnnprov_layer *layers, size_t n)
{
	append_ctx ctx;
	unsigned char *p;
	size_t max = RECORD_HEAD_MAX + 16;
	int rc;

	if (!t || (n && !layers))
		return dp_error(DNNPROV_EINVAL, "dnnprov_task_layers: NULL argument");
	if ((rc = append_enter(t, &ctx)))
		return rc;
	for (size_t i = 0; i < n; i++) {
		if ((rc = dp_check_tag("layer name", layers[i].name)) ||
		    (rc = dp_check_tag("layer kind", layers[i].kind)) ||
		    (rc = check_value("layer", layers[i].name, &layers[i].value)))
			goto out;
		max += 40 + strlen(layers[i].name) + strlen(layers[i].kind) +
		       value_max_size(&layers[i].value);
	}
	rc = DNNPROV_ENOMEM;
	if (!(p = frame_begin(t, &ctx, max)))
		goto out;
	p = encode_head(p, "layers", 1, dp_now());
	p = dp_mp_key(p, "layers");
	p = dp_mp_array(p, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		p = dp_mp_map(p, 3);
		p = dp_mp_key(p, "name");
		p = dp_mp_str(p, layers[i].name, strlen(layers[i].name));
		p = dp_mp_key(p, "kind");
		p = dp_mp_str(p, layers[i].kind, strlen(layers[i].kind));
		p = dp_mp_key(p, "value");
		p = encode_value(p, &layers[i].value);
	}
	rc = frame_end(t, &ctx, p);
out:
	return append_leave(t, &ctx, rc);
}

int dnnprov_task_epoch(dnnprov_task *t, int64_t epoch, double elapsed, const dnnprov_value *metrics,
		       size_t n)
{
	append_ctx ctx;
	unsigned char *p;
	size_t max;
	double now;
	int rc;

	if (!t)
		return dp_error(DNNPROV_EINVAL, "dnnprov_task_epoch: NULL task");
	if ((rc = append_enter(t, &ctx)))
		return rc;
	if ((rc = check_metrics(t, metrics, n, &max)))
		goto out;
	rc = DNNPROV_ENOMEM;
	if (!(p = frame_begin(t, &ctx, RECORD_HEAD_MAX + 48 + max)))
		goto out;
	now = dp_now();
	if (isnan(elapsed))
		elapsed = now - t->last_epoch_time;
	t->last_epoch_time = now;
	p = encode_head(p, "epoch", 3, now);
	p = dp_mp_key(p, "epoch");
	p = dp_mp_int(p, epoch);
	p = dp_mp_key(p, "elapsed");
	p = dp_mp_double(p, elapsed);
	p = dp_mp_key(p, "metrics");
	p = encode_named_values(p, metrics, n);
	rc = frame_end(t, &ctx, p);
out:
	return append_leave(t, &ctx, rc);
}

int dnnprov_task_adapt(dnnprov_task *t, int64_t epoch, const dnnprov_value *v)
{
	append_ctx ctx;
	const dp_hyperparameter *h;
	const dnnprov_value *old;
	unsigned char *p;
	size_t max;
	int rc;

	if (!t || !v)
		return dp_error(DNNPROV_EINVAL, "dnnprov_task_adapt: NULL argument");
	if ((rc = append_enter(t, &ctx)))
		return rc;
	if ((rc = dp_check_tag("hyperparameter", v->name)) ||
	    (rc = check_value("hyperparameter", v->name, v)))
		goto out;
	h = dp_config_hyperparameter(t->cfg, v->name);
	if (!t->cfg->adaptation || !h || !h->selected)
		goto out; /* not recorded, by the config's choice */
	if ((rc = check_type("hyperparameter", h->name, h->type, v)))
		goto out;
	old = known_get(t, h);
	max = RECORD_HEAD_MAX + 64 + strlen(h->name) + value_max_size(v) +
	      (old ? value_max_size(old) : 1);
	rc = DNNPROV_ENOMEM;
	if (!(p = frame_begin(t, &ctx, max)))
		goto out;
	p = encode_head(p, "adapt", old ? 5 : 4, dp_now());
	p = dp_mp_key(p, "epoch");
	p = dp_mp_int(p, epoch);
	p = dp_mp_key(p, "hyperparameter");
	p = dp_mp_str(p, h->name, strlen(h->name));
	if (old) {
		p = dp_mp_key(p, "old");
		p = encode_value(p, old);
	}
	p = dp_mp_key(p, "new");
	p = encode_value(p, v);
	p = dp_mp_key(p, "id");
	p = dp_mp_int(p, t->next_adaptation_id);
	if ((rc = frame_end(t, &ctx, p)))
		goto out;
	if ((rc = known_set(t, h, v)))
		goto out;
	t->next_adaptation_id++;
out:
	return append_leave(t, &ctx, rc);
}

int dnnprov_task_test(dnnprov_task *t, const dnnprov_value *metrics, size_t n)
{
	append_ctx ctx;
	unsigned char *p;
	size_t max;
	int rc;

	if (!t)
		return dp_error(DNNPROV_EINVAL, "dnnprov_task_test: NULL task");
	if ((rc = append_enter(t, &ctx)))
		return rc;
	if ((rc = check_metrics(t, metrics, n, &max)))
		goto out;
	rc = DNNPROV_ENOMEM;
	if (!(p = frame_begin(t, &ctx, RECORD_HEAD_MAX + 16 + max)))
		goto out;
	p = encode_head(p, "test", 1, dp_now());
	p = dp_mp_key(p, "metrics");
	p = encode_named_values(p, metrics, n);
	rc = frame_end(t, &ctx, p);
out:
	return append_leave(t, &ctx, rc);
}

int dnnprov_task_element(dnnprov_task *t, const char *transformation, const char *set,
			 const dnnprov_value *values, size_t n)
{
	append_ctx ctx;
	const dp_transformation *tf;
	const dp_set *st;
	unsigned char *p;
	size_t max;
	int rc;

	if (!t || !transformation || !set || (n && !values))
		return dp_error(DNNPROV_EINVAL, "dnnprov_task_element: NULL argument");
	if ((rc = append_enter(t, &ctx)))
		return rc;
	tf = dp_config_transformation(t->cfg, transformation);
	if (!tf) {
		rc = dp_error(DNNPROV_EINVAL, "transformation '%s' is not declared in %s", transformation,
			      t->cfg->path);
		goto out;
	}
	st = dp_transformation_set(tf, set);
	if (!st) {
		rc = dp_error(DNNPROV_EINVAL, "transformation '%s' has no set '%s' in %s", transformation,
			      set, t->cfg->path);
		goto out;
	}
	if ((rc = check_names("attribute", values, n)))
		goto out;
	max = RECORD_HEAD_MAX + 64 + strlen(tf->name) + strlen(st->name);
	for (size_t i = 0; i < n; i++) {
		const dp_attr *a = NULL;
		for (size_t k = 0; k < st->nattrs; k++)
			if (strcmp(st->attrs[k].name, values[i].name) == 0)
				a = &st->attrs[k];
		if (!a) {
			rc = dp_error(DNNPROV_EINVAL, "set '%s' of transformation '%s' has no attribute '%s'",
				      set, transformation, values[i].name);
			goto out;
		}
		if ((rc = check_value("attribute", a->name, &values[i])) ||
		    (rc = check_type("attribute", a->name, a->type, &values[i])))
			goto out;
		max += DP_MP_STR_OVERHEAD + strlen(a->name) + value_max_size(&values[i]);
	}
	rc = DNNPROV_ENOMEM;
	if (!(p = frame_begin(t, &ctx, max)))
		goto out;
	p = encode_head(p, "element", 3, dp_now());
	p = dp_mp_key(p, "transformation");
	p = dp_mp_str(p, tf->name, strlen(tf->name));
	p = dp_mp_key(p, "set");
	p = dp_mp_str(p, st->name, strlen(st->name));
	p = dp_mp_key(p, "values");
	p = encode_named_values(p, values, n);
	rc = frame_end(t, &ctx, p);
out:
	return append_leave(t, &ctx, rc);
}

const char *dp_status_name(dnnprov_status s)
{
	switch (s) {
	case DNNPROV_RUNNING: return "RUNNING";
	case DNNPROV_FINISHED: return "FINISHED";
	case DNNPROV_FAILED: return "FAILED";
	case DNNPROV_KILLED: return "KILLED";
	}
	return NULL;
}

int dnnprov_task_end(dnnprov_task *t, dnnprov_status status, const char *message)
{
	append_ctx ctx;
	const char *name = dp_status_name(status);
	unsigned char *p;
	size_t mlen = message ? strlen(message) : 0;
	int rc;

	if (!t)
		return dp_error(DNNPROV_EINVAL, "dnnprov_task_end: NULL task");
	if (!name || status == DNNPROV_RUNNING)
		return dp_error(DNNPROV_EINVAL, "task end status must be FINISHED, FAILED or KILLED");
	if (message && (mlen > DNNPROV_RECORD_MAX / 2 || !dp_utf8_valid(message, mlen)))
		return dp_error(DNNPROV_EINVAL, "task end message is too long or not valid UTF-8");
	if ((rc = append_enter(t, &ctx)))
		return rc;
	rc = DNNPROV_ENOMEM;
	if (!(p = frame_begin(t, &ctx, RECORD_HEAD_MAX + 48 + mlen)))
		goto out;
	p = encode_head(p, "end", message ? 2 : 1, dp_now());
	p = dp_mp_key(p, "status");
	p = dp_mp_str(p, name, strlen(name));
	if (message) {
		p = dp_mp_key(p, "message");
		p = dp_mp_str(p, message, mlen);
	}
	rc = frame_end(t, &ctx, p);
	ctx.ends_task = true; /* only once committed: a failed end can be retried */
out:
	return append_leave(t, &ctx, rc);
}

int dnnprov_task_sync(dnnprov_task *t)
{
	int rc;

	if (!t)
		return dp_error(DNNPROV_EINVAL, "dnnprov_task_sync: NULL task");
	assert(!registry_held); /* the lock order */
	pthread_mutex_lock(&t->lock);
	dp_error_clear();
	if (t->fork_generation != __atomic_load_n(&dp_fork_generation, __ATOMIC_RELAXED)) {
		rc = adopt_after_fork(t);
	} else if (!(rc = take_sync_error(t))) {
		rc = write_out(t);
	}
	if (rc == 0 && t->fd >= 0) {
		if (fdatasync(t->fd) != 0)
			rc = dp_error_errno(errno, "cannot sync %s", t->seg_path);
		else
			t->dirty = false;
	}
	pthread_mutex_unlock(&t->lock);
	return rc;
}

int dnnprov_task_close(dnnprov_task *t)
{
	int rc = 0, rc2;

	if (!t)
		return 0;
	dp_error_clear();
	if (t->cfg->durability == DP_DURABILITY_INTERVAL)
		flusher_unregister(t);
	assert(!registry_held); /* the lock order */
	pthread_mutex_lock(&t->lock);
	if (t->fork_generation != __atomic_load_n(&dp_fork_generation, __ATOMIC_RELAXED)) {
		/* The parent's segment and buffer are the parent's to close. */
		if (t->fd >= 0)
			close(t->fd);
		t->fd = -1;
		t->out.len = 0;
	}
	rc = take_sync_error(t);
	rc2 = write_out(t);
	if (!rc)
		rc = rc2;
	rc2 = segment_close(t);
	if (!rc)
		rc = rc2;
	pthread_mutex_unlock(&t->lock);

	for (size_t i = 0; i < t->nknown; i++)
		known_free(&t->known[i]);
	free(t->known);
	dp_buf_free(&t->out);
	dp_buf_free(&t->last_names);
	free(t->seg_path);
	free(t->dir);
	free(t->id);
	pthread_mutex_destroy(&t->lock);
	free(t);
	return rc;
}

const char *dp_task_segment_path(const dnnprov_task *t)
{
	return t->seg_path;
}
