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
 * THE TASK'S STATE
 *
 * A handle takes the task's lock at open (an OFD lock on <task>/.lock, so
 * that one process at a time records a task) and reads what the task's
 * logs say of it (history.c): new, running or ended, its attempts and its
 * run id.  Each recording call checks that it fits that state and, once
 * its frames are committed, applies its own transition (a begin makes the
 * task RUNNING, an end ENDED).  t->disk is the state as of the bytes
 * already in the segment files: a new segment's header carries it, so that
 * the next process learns the state from the newest header alone.
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
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "logger/facts.h"
#include "logger/fingerprint.h"
#include "logger/format.h"
#include "logger/history.h"
#include "logger/mpack.h"
#include "logger/reader.h"
#include "logger/scan.h"
#include "logger/writer.h"
#include "util/map.h"

#define BUFFERED_FLUSH_BYTES (64u * 1024)
/* In buffered mode, frames a failing disk cannot take are kept for the
 * next try up to this much; past it new records are refused. */
#define BUFFERED_LIMIT_BYTES (64u * 1024 * 1024)

typedef struct known_value {
	const dp_hyperparameter *hyp;
	dnnprov_value value; /* value.as.s and value.name are owned copies */
} known_value;

/* Where a task stands: what the checks of each call read. */
typedef struct task_state {
	dp_task_phase phase;
	char status[16]; /* of the last end, when ENDED */
	uint64_t attempts;
} task_state;

#define LOCK_FILE ".lock"
/* A label leaves room for the generated part of an id (at most 68 bytes)
 * within DNNPROV_NAME_MAX. */
#define DP_LABEL_MAX 48

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
	uint32_t seq;      /* the task's highest segment sequence known */
	unsigned fork_generation;
	bool need_truncate;

	int lock_fd;       /* <dir>/.lock, locked while the handle is open */
	bool made_dir;     /* open created the task's folder */
	bool wrote;        /* a segment was created */
	task_state state;  /* including the calls committed to t->out */
	task_state disk;   /* as of the bytes in the segment files */
	char run[DP_RUN_ID_MAX + 1];
	struct {
		char boot[40];
		int64_t pid;     /* a process, or a process group when group */
		uint64_t start;  /* the process's (or the group leader's) start time; 0: unknown */
		bool group;
	} owner;           /* whose death makes the task LOST (docs/RUNS.md) */
	dp_buf used_names; /* free_metrics: names used, NUL-separated */
	dp_map used_folded; /* each used name case-folded -> 1 + its offset in used_names */
	dp_facts facts;    /* the caller's, for the next begin or resume */
	char *transformation; /* what the next begin records; NULL: TrainingModel */

	dp_buf out;        /* encoded frames not yet written */
	size_t out_records;
	bool dirty;        /* written since the last fdatasync */
	bool dir_dirty;    /* the segment's folder entry is not synced yet */
	int sync_errno;    /* a failed background fdatasync, for the next call */
	double last_sync;  /* monotonic */
	uint64_t fsize_limit;

	double last_epoch_mono; /* dp_monotonic() at the last epoch (or the open) */
	int64_t next_adaptation_id;
	known_value *known;
	size_t nknown;

	/* Names of the last epoch's metrics, NUL-separated, already validated:
	 * a training reports the same names every epoch, and comparing them is
	 * cheaper than validating them again. */
	dp_buf last_names;
	size_t last_nnames;

	bool strict; /* dnnprov_task_strict(): refusals are hard errors */

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

void dp_sanitize_host(char *dst, size_t cap, const char *src)
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

static const char *phase_name(const task_state *st)
{
	switch (st->phase) {
	case DP_PHASE_NEW: return "new";
	case DP_PHASE_RUNNING: return "RUNNING";
	default: return st->status;
	}
}

void dp_touch_dataflow_folder(const char *task_dir)
{
	const char *slash = strrchr(task_dir, '/');
	char parent[4096];
	if (!slash || (size_t)(slash - task_dir) >= sizeof(parent))
		return;
	memcpy(parent, task_dir, (size_t)(slash - task_dir));
	parent[slash - task_dir] = '\0';
	if (utimensat(AT_FDCWD, parent[0] ? parent : "/", NULL, 0) != 0) {
		/* Only a query's shortcut depends on it: it then walks the logs. */
	}
}

int dp_segment_header_encode(const dp_segment_header_fields *h, dp_buf *b)
{
	char producer[] = "dnnprov " DNNPROV_VERSION;
	size_t need = 352 + strlen(h->dataflow) + strlen(h->task) + strlen(h->host) + sizeof(producer) +
		      strlen(h->run) + strlen(h->boot);
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
	p = dp_mp_map(p, 11);
	p = dp_mp_key(p, "producer");
	p = dp_mp_str(p, producer, strlen(producer));
	p = dp_mp_key(p, "dataflow");
	p = dp_mp_str(p, h->dataflow, strlen(h->dataflow));
	p = dp_mp_key(p, "task");
	p = dp_mp_str(p, h->task, strlen(h->task));
	p = dp_mp_key(p, "host");
	p = dp_mp_str(p, h->host, strlen(h->host));
	p = dp_mp_key(p, "pid");
	p = dp_mp_int(p, (int64_t)getpid());
	p = dp_mp_key(p, "created");
	p = dp_mp_double(p, h->created);
	p = dp_mp_key(p, "sequence");
	p = dp_mp_uint(p, h->sequence);
	p = dp_mp_key(p, "run");
	p = dp_mp_str(p, h->run, strlen(h->run));
	p = dp_mp_key(p, "attempts");
	p = dp_mp_uint(p, h->attempts);
	p = dp_mp_key(p, "state");
	p = dp_mp_str(p, h->state, strlen(h->state));
	p = dp_mp_key(p, "boot");
	p = dp_mp_str(p, h->boot, strlen(h->boot));
	dp_put_be32(start + 12, (uint32_t)(p - start - DP_SEGMENT_FIXED));
	crc = dp_crc32c(0, start, (size_t)(p - start));
	dp_put_be32(p, crc);
	p += 4;
	b->len = (size_t)(p - start);
	assert(b->len <= need); /* the bound reserved above */
	return 0;
}

/* The header of the handle's next segment: what this writer knows of the
 * task as of the bytes already written (format.h). */
static int encode_segment_header(dnnprov_task *t, double created, dp_buf *b)
{
	dp_segment_header_fields h = {
		.dataflow = t->cfg->dataflow, .task = t->id, .host = t->host, .created = created,
		.sequence = t->seq, .run = t->run, .attempts = t->disk.attempts,
		.state = phase_name(&t->disk), .boot = t->owner.boot,
	};
	return dp_segment_header_encode(&h, b);
}

size_t dp_seal_encode(unsigned char frame[DP_SEAL_MAX], uint64_t records)
{
	unsigned char *p = frame + DP_FRAME_HEADER;
	p = dp_mp_map(p, 1);
	p = dp_mp_key(p, "records");
	p = dp_mp_uint(p, records);
	uint32_t len = (uint32_t)(p - frame - DP_FRAME_HEADER);
	dp_frame_seal_header(frame, DP_FRAME_SEAL, len, dp_crc32c(0, frame + DP_FRAME_HEADER, len),
			     dp_crc32c);
	return (size_t)(p - frame);
}

/* Creates the next segment file of the task and writes its header.  Its
 * sequence is one past the highest this handle knows: the lock keeps other
 * processes out, and a forked child (which shares it) looks again. */
static int segment_open(dnnprov_task *t)
{
	char name[160], host[65];
	dp_buf hdr = { 0 };
	double created = dp_now();
	int rc = 0, fd = -1;
	char *path = NULL;

	dp_sanitize_host(host, sizeof(host), t->host);
	for (int attempt = 0; attempt < 100; attempt++) {
		t->seq++;
		snprintf(name, sizeof(name), "%0*u-%s-%ld%s", DP_SEQUENCE_DIGITS, t->seq, host,
			 (long)getpid(), DP_SEGMENT_SUFFIX);
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
	dp_touch_dataflow_folder(t->dir);
	free(t->seg_path);
	t->seg_path = path;
	t->fd = fd;
	t->wrote = true;
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

/* Writes the seal frame and closes the segment.  Durable in the non-buffered
 * modes: a sealed segment is complete on disk. */
static int segment_close(dnnprov_task *t)
{
	unsigned char frame[DP_SEAL_MAX], *p;
	int rc = 0, err;

	if (t->fd < 0)
		return 0;
	assert(size_holds(t));
	p = frame + dp_seal_encode(frame, t->nrecords);
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
	t->state = t->disk; /* the parent's buffered calls stay the parent's */
	dp_task_history h;
	if (dp_task_history_read(t->dir, false, &h) == 0) {
		if (h.max_sequence > t->seq)
			t->seq = h.max_sequence;
		dp_task_history_free(&h);
	}
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
	/* The seal closes the segment within its size too. */
	unsigned char seal[DP_SEAL_MAX];
	size_t seal_len = dp_seal_encode(seal, t->nrecords + t->out_records);
	if (t->nrecords > 0 && t->size + t->out.len + seal_len > t->cfg->segment_size) {
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
	t->disk = t->state; /* every call committed to t->out is in the file now */
	if (t->cfg->durability == DP_DURABILITY_ALWAYS) {
		if (fdatasync(t->fd) != 0)
			return dp_error_errno(errno, "cannot sync %s", t->seg_path);
		t->dirty = false;
	}
	return 0;
}

/* ---- framing and committing ---------------------------------------------- */

/* What a recording call may do, by the task's phase (docs/RUNS.md). */
typedef enum call_kind {
	CALL_BEGIN,    /* a new task only */
	CALL_RESUME,   /* any */
	CALL_TRAINING, /* layers, epoch, adapt, end: begun and not ended */
	CALL_AFTER,    /* test, element, tag: begun (TestingModel and user
			  transformations use the trained model, also after
			  its end; a tag annotates the run at any time) */
} call_kind;

/* The state of one recording call: where its frames start in t->out. */
typedef struct append_ctx {
	size_t start;   /* t->out.len when the call began */
	size_t frame;   /* offset of the frame being encoded */
	size_t nframes;
	bool begins;    /* the call records a begin: RUNNING, one more attempt */
	const char *ends_with; /* the call records an end with this status */
} append_ctx;

static int refuse_state(const dnnprov_task *t, call_kind kind)
{
	const char *df = t->cfg->dataflow;
	const task_state *st = &t->state;
	if (st->phase == DP_PHASE_NEW)
		return dp_error(DNNPROV_ESTATE, "task '%s' of dataflow '%s' has not begun: begin it first",
				t->id, df);
	/* A refused begin says what the task is; each front end adds how to
	 * resume in its own words. */
	if (kind == CALL_BEGIN && st->phase == DP_PHASE_RUNNING)
		return dp_error(DNNPROV_ESTATE,
				"task '%s' of dataflow '%s' has already begun (its attempt %llu never "
				"ended: its writer is gone)",
				t->id, df, (unsigned long long)st->attempts);
	if (kind == CALL_BEGIN)
		return dp_error(DNNPROV_ESTATE, "task '%s' of dataflow '%s' has already %s", t->id, df,
				st->status);
	return dp_error(DNNPROV_ESTATE,
			"task '%s' of dataflow '%s' has ended (%s): nothing more can be recorded for its "
			"training unless it is resumed",
			t->id, df, st->status);
}

static bool call_fits(const task_state *st, call_kind kind)
{
	switch (kind) {
	case CALL_BEGIN: return st->phase == DP_PHASE_NEW;
	case CALL_RESUME: return true;
	case CALL_TRAINING: return st->phase == DP_PHASE_RUNNING;
	default: return st->phase != DP_PHASE_NEW;
	}
}

/* Takes the lock and checks what every recording call needs. */
static int append_enter(dnnprov_task *t, append_ctx *ctx, call_kind kind)
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
	if (!call_fits(&t->state, kind)) {
		rc = refuse_state(t, kind);
		goto fail;
	}
	if (t->out.len > BUFFERED_LIMIT_BYTES) {
		/* Buffered frames the disk would not take: try once more. */
		if ((rc = write_out(t)))
			goto fail;
	}
	ctx->start = t->out.len;
	ctx->nframes = 0;
	ctx->begins = false;
	ctx->ends_with = NULL;
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
	assert(t->out.len >= ctx->start); /* the call's frames follow the buffered ones */
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

/* Commits the call's frames (rc == 0) or drops them, and unlocks.  The
 * call's transition applies before the write, so that a segment the write
 * opens carries the state before it in its header (t->disk); a write that
 * fails takes it back. */
static int append_leave(dnnprov_task *t, append_ctx *ctx, int rc)
{
	if (rc == 0) {
		task_state before = t->state;
		t->out_records += ctx->nframes;
		if (ctx->begins) {
			t->state.phase = DP_PHASE_RUNNING;
			t->state.attempts++;
			t->state.status[0] = '\0';
		}
		if (ctx->ends_with) {
			t->state.phase = DP_PHASE_ENDED;
			snprintf(t->state.status, sizeof(t->state.status), "%s", ctx->ends_with);
		}
		if (t->cfg->durability != DP_DURABILITY_BUFFERED || t->out.len >= BUFFERED_FLUSH_BYTES) {
			rc = write_out(t);
			if (rc && t->out.len && t->cfg->durability != DP_DURABILITY_BUFFERED) {
				/* Not recorded: the caller is told, and the next call
				 * must not write these frames late. */
				t->out.len = 0;
				t->out_records = 0;
				t->state = before;
			}
		}
	} else {
		t->out.len = ctx->start;
	}
	pthread_mutex_unlock(&t->lock);
	return rc;
}

/* append_leave for a call that may have refused names (refusals below):
 * DNNPROV_REFUSED with their details once its records are written.  kept:
 * the call's own record was written, with its other values. */
typedef struct refusals refusals;
static int append_leave_refused(dnnprov_task *t, append_ctx *ctx, int rc, refusals *r, const char *record,
				bool kept);

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

/* The one rule for every free text a writer records (a value, a tag, a
 * note, an end message): valid UTF-8 of at most DNNPROV_TEXT_MAX bytes.
 * `what` and `name` say whose text it is ("tag", "stage"; name NULL for
 * none). */
static int check_text(const char *what, const char *name, const char *s)
{
	size_t n = strlen(s);
	if (n > DNNPROV_TEXT_MAX)
		return name ? dp_error(DNNPROV_EINVAL, "%s '%s' has a text value of %zu bytes; the limit for a text is %u",
				       what, name, n, DNNPROV_TEXT_MAX)
			    : dp_error(DNNPROV_EINVAL, "%s is %zu bytes; the limit for a text is %u", what, n,
				       DNNPROV_TEXT_MAX);
	if (!dp_utf8_valid(s, n))
		return name ? dp_error(DNNPROV_EINVAL, "%s '%s' has a text value that is not valid UTF-8", what, name)
			    : dp_error(DNNPROV_EINVAL, "%s is not valid UTF-8", what);
	return 0;
}

static int check_value(const char *what, const char *name, const dnnprov_value *v)
{
	if (v->type == DNNPROV_TEXT) {
		if (!v->as.s)
			return dp_error(DNNPROV_EINVAL, "%s '%s' has a NULL text value", what, name);
		return check_text(what, name, v->as.s);
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

/* A name folded to ASCII lower case, as queries compare names: the key of
 * the maps that find a name given twice in one pass, not by comparing every
 * pair (a record of 60,000 metric names took seconds that way). */
static size_t fold_name(const char *name, char out[DNNPROV_NAME_MAX + 1])
{
	size_t n = 0;
	for (; name[n] && n < DNNPROV_NAME_MAX; n++)
		out[n] = (char)(name[n] >= 'A' && name[n] <= 'Z' ? name[n] + ('a' - 'A') : name[n]);
	assert(!name[n]); /* dp_check_tag bounds a name's length */
	return n;
}

/* Names in one record must be valid and distinct even after ASCII case
 * folding, since queries look them up case-insensitively.  The names of
 * a dataflow's parts (metrics, hyperparameters, attributes) become SQL
 * identifiers and follow the stricter rule of names; tag keys and run
 * facts are rows, not columns, and follow the rule of tags. */
static int check_names(const char *what, const dnnprov_value *v, size_t n, int (*rule)(const char *, const char *))
{
	dp_map seen = { 0 };
	char key[DNNPROV_NAME_MAX + 1];
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		if ((rc = rule(what, v[i].name)))
			break;
		void **first = dp_map_slot(&seen, key, fold_name(v[i].name, key), true);
		if (!first)
			rc = dp_error(DNNPROV_ENOMEM, "out of memory");
		else if (*first)
			rc = dp_error(DNNPROV_EINVAL, "%s '%s' is given twice (as '%s' and '%s')", what, v[i].name,
				      (const char *)*first, v[i].name);
		else
			*first = (void *)v[i].name;
	}
	dp_map_free(&seen);
	return rc;
}

/* ---- names the experiment file does not declare -------------------------- */

/* The names of one call that the experiment file does not declare.  Unless
 * the handle is strict, each is refused alone (docs/RUNS.md): the record
 * keeps the call's other values, a `refused` record after it keeps the
 * refused ones, and the call returns DNNPROV_REFUSED with their details. */
struct refusals {
	bool *mask;   /* per value of the call: refused; NULL while none is */
	size_t count;
	dp_buf why;   /* the details, "; "-separated */
	dp_buf names; /* the refused names, ","-separated (dnnprov_errsubject) */
};

static bool strict(const dnnprov_task *t)
{
	return t->strict || t->cfg->strict;
}

/* Takes the failure rc of value i's check (of n) as a refusal of its name
 * when it is one and the handle is not strict: 0, and the call goes on
 * without it; else rc. */
static int refuse_name(const dnnprov_task *t, refusals *r, size_t n, size_t i, const char *name, int rc)
{
	if (rc != DNNPROV_EUNDECLARED || strict(t))
		return rc;
	if (!r->mask && !(r->mask = calloc(n, sizeof(bool))))
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	if (!r->mask[i])
		r->count++;
	r->mask[i] = true;
	dp_buf_printf(&r->why, "%s%s", r->why.len ? "; " : "", dnnprov_errmsg());
	dp_buf_printf(&r->names, "%s%s", r->names.len ? "," : "", name);
	dp_error_clear();
	return r->why.failed || r->names.failed ? dp_error(DNNPROV_ENOMEM, "out of memory") : 0;
}

static void refusals_free(refusals *r)
{
	free(r->mask);
	dp_buf_free(&r->why);
	dp_buf_free(&r->names);
}

static int append_leave_refused(dnnprov_task *t, append_ctx *ctx, int rc, refusals *r, const char *record,
				bool kept)
{
	rc = append_leave(t, ctx, rc);
	if (rc == 0 && r->count) {
		if (kept)
			rc = dp_error(DNNPROV_REFUSED, "%s; the %s was recorded without %s, and %s as a problem of the run",
				      dp_buf_cstr(&r->why), record, r->count == 1 ? "it" : "them",
				      r->count == 1 ? "the name" : "the names");
		else
			rc = dp_error(DNNPROV_REFUSED, "%s; no %s was recorded, the %s recorded as a problem of the run",
				      dp_buf_cstr(&r->why), record, r->count == 1 ? "name" : "names");
		dp_error_about(dp_buf_cstr(&r->names));
	}
	refusals_free(r);
	return rc;
}

static bool refused(const refusals *r, size_t i)
{
	return r && r->mask && r->mask[i];
}

/* Whether a metric name may be recorded: one the config declares (exactly:
 * queries fold case, so a near miss is a typo); with free_metrics any name
 * that does not collide, ignoring case, with a declared one or one this
 * handle used before. */
static int check_metric_declared(dnnprov_task *t, const char *name)
{
	const dnnprov_config *cfg = t->cfg;
	int rc;
	for (size_t i = 0; i < cfg->nmetrics; i++) {
		if (strcmp(cfg->metrics[i], name) == 0)
			return 0;
		if (dp_strcasecmp(cfg->metrics[i], name) == 0)
			return dp_error(DNNPROV_EUNDECLARED, "metric '%s' is declared as '%s' in %s", name,
					cfg->metrics[i], cfg->path);
	}
	if (cfg->free_metrics) {
		char key[DNNPROV_NAME_MAX + 1];
		void **used = dp_map_slot(&t->used_folded, key, fold_name(name, key), true);
		if (!used)
			return dp_error(DNNPROV_ENOMEM, "out of memory");
		if (*used) {
			const char *u = t->used_names.data + ((uintptr_t)*used - 1);
			if (strcmp(u, name) == 0)
				return 0;
			return dp_error(DNNPROV_EUNDECLARED,
					"metric '%s' collides with '%s', recorded before (names are compared ignoring case)",
					name, u);
		}
		size_t at = t->used_names.len;
		if ((rc = dp_buf_append(&t->used_names, name, strlen(name) + 1)))
			return rc; /* the slot stays empty: a NULL value is no entry */
		*used = (void *)(uintptr_t)(at + 1);
		return 0;
	}
	dp_buf list = { 0 };
	for (size_t i = 0; i < cfg->nmetrics; i++)
		dp_buf_printf(&list, "%s%s", i ? ", " : "", cfg->metrics[i]);
	rc = dp_error(DNNPROV_EUNDECLARED,
		      "metric '%s' is not declared in %s (metrics: %s; `free_metrics: true` accepts any name)",
		      name, cfg->path, list.len && !list.failed ? dp_buf_cstr(&list) : "none");
	dp_buf_free(&list);
	return rc;
}

/* check_names for metrics, skipped when the names equal the last epoch's;
 * undeclared names go to r. */
static int check_metric_names(dnnprov_task *t, const dnnprov_value *v, size_t n, refusals *r)
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
	if ((rc = check_names("metric", v, n, dp_check_name)))
		return rc;
	for (size_t i = 0; i < n; i++)
		if ((rc = check_metric_declared(t, v[i].name)) && (rc = refuse_name(t, r, n, i, v[i].name, rc)))
			return rc;
	if (r->count)
		return 0; /* the cache holds names that all passed */
	t->last_names.len = 0;
	t->last_nnames = 0;
	for (size_t i = 0; i < n; i++)
		if (dp_buf_append(&t->last_names, v[i].name, strlen(v[i].name) + 1))
			return 0; /* the cache is an optimization; validation passed */
	t->last_nnames = n;
	return 0;
}

static int check_metrics(dnnprov_task *t, const dnnprov_value *m, size_t n, size_t *max, refusals *r)
{
	int rc;
	if (n && !m)
		return dp_error(DNNPROV_EINVAL, "metrics array is NULL");
	if (n > 65535)
		return dp_error(DNNPROV_EINVAL, "%zu metrics in one record; the limit is 65535", n);
	if ((rc = check_metric_names(t, m, n, r)))
		return rc;
	*max = DP_MP_CONTAINER_OVERHEAD;
	for (size_t i = 0; i < n; i++) {
		if (m[i].type != DNNPROV_INT && m[i].type != DNNPROV_REAL)
			return dp_error(DNNPROV_ETYPE, "metric '%s' must be numeric", m[i].name);
		*max += DP_MP_STR_OVERHEAD + strlen(m[i].name) + DP_MP_MAX_SCALAR;
	}
	return 0;
}

/* The values of v that r did not refuse (r may be NULL), as a map. */
static unsigned char *encode_named_values(unsigned char *p, const dnnprov_value *v, size_t n, const refusals *r)
{
	p = dp_mp_map(p, (uint32_t)(n - (r ? r->count : 0)));
	for (size_t i = 0; i < n; i++) {
		if (refused(r, i))
			continue;
		p = dp_mp_str(p, v[i].name, strlen(v[i].name));
		p = encode_value(p, &v[i]);
	}
	return p;
}

/* Every record starts {kind: ..., time: ...}; n_more is the count of the
 * other keys. */
#define RECORD_HEAD_MAX 48
/* Every record says when it was made twice: on the wall clock (`time`,
 * data a person reads) and on this host's clock since boot (`mono`), which
 * no clock step moves, so that the indexer measures an attempt's durations
 * from its begin whatever the wall clock did meanwhile (docs/RUNS.md).
 * Both are read together, so that they name one instant. */
typedef struct clocks {
	double wall, boot;
} clocks;

static clocks clocks_now(void)
{
	clocks c = { dp_now(), dp_uptime() };
	return c;
}

static unsigned char *encode_head(unsigned char *p, const char *kind, uint32_t n_more, clocks at)
{
	p = dp_mp_map(p, 3 + n_more);
	p = dp_mp_key(p, "kind");
	p = dp_mp_str(p, kind, strlen(kind));
	p = dp_mp_key(p, "time");
	p = dp_mp_double(p, at.wall);
	p = dp_mp_key(p, "mono");
	return dp_mp_double(p, at.boot);
}

/* The detail kept in a refused record: enough to read why in `dnnprov cat`. */
#define REFUSED_WHY_MAX 1024


/* Appends the refused record of a call to `record` (at `epoch` when
 * has_epoch): the refused values v[i], and why. */
static int encode_refused(dnnprov_task *t, append_ctx *ctx, const char *record, bool has_epoch, int64_t epoch,
			  const dnnprov_value *v, size_t n, const refusals *r)
{
	size_t why = r->why.len > REFUSED_WHY_MAX ? REFUSED_WHY_MAX : r->why.len;
	size_t max = RECORD_HEAD_MAX + 64 + strlen(record) + why;
	unsigned char *p;

	for (size_t i = 0; i < n; i++)
		if (refused(r, i))
			max += DP_MP_STR_OVERHEAD + strlen(v[i].name) + value_max_size(&v[i]);
	if (!(p = frame_begin(t, ctx, max)))
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	p = encode_head(p, "refused", has_epoch ? 4 : 3, clocks_now());
	p = dp_mp_key(p, "record");
	p = dp_mp_str(p, record, strlen(record));
	if (has_epoch) {
		p = dp_mp_key(p, "epoch");
		p = dp_mp_int(p, epoch);
	}
	p = dp_mp_key(p, "values");
	p = dp_mp_map(p, (uint32_t)r->count);
	for (size_t i = 0; i < n; i++) {
		if (!refused(r, i))
			continue;
		p = dp_mp_str(p, v[i].name, strlen(v[i].name));
		p = encode_value(p, &v[i]);
	}
	p = dp_mp_key(p, "why");
	/* Cut at a character boundary: the details are UTF-8 (names are ASCII,
	 * the config's path may not be). */
	while (why && why < r->why.len && (r->why.data[why] & 0xC0) == 0x80)
		why--;
	p = dp_mp_str(p, r->why.data, why);
	return frame_end(t, ctx, p);
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

static int encode_adapt(dnnprov_task *t, append_ctx *ctx, int64_t epoch, const dp_hyperparameter *h,
			const dnnprov_value *v);

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

/* A new task id: [label-] UTC time, host and pid, plus a counter for the
 * second and later tasks one process opens.  A label that leaves no room is
 * refused by the caller's check of the result. */
static void generate_task_id(dnnprov_task *t, const char *label, char *out, size_t cap)
{
	static unsigned counter;
	char host[33];
	time_t now = time(NULL);
	struct tm tm;
	unsigned n = __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
	size_t k = 0;

	if (label) {
		int w = snprintf(out, cap, "%s-", label);
		k = w < 0 ? 0 : (size_t)w < cap ? (size_t)w : cap - 1;
	}
	gmtime_r(&now, &tm);
	dp_sanitize_host(host, sizeof(host), t->host);
	k += strftime(out + k, cap - k, "%Y%m%dT%H%M%SZ", &tm);
	if (n == 0)
		snprintf(out + k, cap - k, "-%s-%ld", host, (long)getpid());
	else
		snprintf(out + k, cap - k, "-%s-%ld-%u", host, (long)getpid(), n);
}

/* A run id: 128 random bits in hex, so that two runs given the same task id
 * (two hosts, two log folders) never pass for one. */
static void new_run_id(char out[DP_RUN_ID_LEN + 1])
{
	unsigned char bytes[DP_RUN_ID_LEN / 2];
	ssize_t got = getrandom(bytes, sizeof(bytes), GRND_NONBLOCK);
	if (got != (ssize_t)sizeof(bytes)) {
		/* No entropy yet (early boot): time, pid and an address differ
		 * between any two runs that could meet. */
		uint64_t a = (uint64_t)(dp_now() * 1e9), b = (uint64_t)getpid() ^ (uintptr_t)&got;
		memcpy(bytes, &a, 8);
		memcpy(bytes + 8, &b, 8);
	}
	for (size_t i = 0; i < sizeof(bytes); i++)
		snprintf(out + 2 * i, 3, "%02x", bytes[i]);
}

/* The host of a writer whose process is pid: named by the newest segment
 * of the task it wrote (its header says the host exactly), else this one
 * (the lock is this host's, but through a network file system). */
static void writer_host(const char *dir, long pid, char *host, size_t cap)
{
	dp_path_list segs = { 0 };
	char tail[32];
	int n = snprintf(tail, sizeof(tail), "-%ld%s", pid, DP_SEGMENT_SUFFIX);
	if (gethostname(host, cap - 1) != 0)
		snprintf(host, cap, "?");
	host[cap - 1] = '\0';
	if (dp_find_segments(dir, &segs, NULL, NULL) != 0)
		n = 0;
	for (size_t i = segs.n; n > 0 && i-- > 0;) {
		const char *p = segs.paths[i];
		size_t len = strlen(p);
		dp_segment_header h;
		dp_reader *r;
		if (len < (size_t)n || strcmp(p + len - (size_t)n, tail) != 0 || dp_reader_open(p, 0, &r, &h) != 0)
			continue;
		dp_reader_close(r);
		if (h.valid && h.pid == pid) {
			snprintf(host, cap, "%s", h.host);
			break;
		}
	}
	dp_path_list_free(&segs);
}

/* The lock is a write lock on bytes [0, pid + 1) of the lock file, which
 * stays empty: it costs an inode but no block in each task folder (a
 * million runs of 2.5 KB each took 12 KiB apiece with the holder's name
 * written into it), and a refused process reads the holder's pid from the
 * range the kernel says is locked.  A writer of before this held the
 * whole file (l_len 0) and wrote its name into it, which is read then. */
int dp_task_lock(const char *dir, const char *df, const char *task, int *fd_out)
{
	char *path = dp_path_join(dir, LOCK_FILE);
	char who[300];
	int fd, rc = 0;

	*fd_out = -1;
	if (!path)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = dp_error_errno(errno, "cannot open the task's lock %s", path);
		goto out;
	}
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_len = (off_t)getpid() + 1 };
	if (fcntl(fd, F_OFD_SETLK, &fl) != 0) {
		if (errno == EAGAIN || errno == EACCES) {
			struct flock held = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
			who[0] = '\0';
			if (fcntl(fd, F_OFD_GETLK, &held) == 0 && held.l_type != F_UNLCK && held.l_start == 0 &&
			    held.l_len > 1) {
				char host[256];
				long pid = (long)held.l_len - 1;
				writer_host(dir, pid, host, sizeof(host));
				snprintf(who, sizeof(who), "pid %ld on host %s", pid, host);
			} else {
				ssize_t n = pread(fd, who, sizeof(who) - 1, 0);
				who[n > 0 ? n : 0] = '\0';
				who[strcspn(who, "\n")] = '\0';
			}
			rc = dp_error(DNNPROV_ELOCKED,
				      "task '%s' of dataflow '%s' is being recorded by %s: one process at a "
				      "time records a task",
				      task, df, who[0] ? who : "another process");
			close(fd);
			goto out;
		}
		if (errno != EINVAL && errno != ENOLCK && errno != EOPNOTSUPP) {
			rc = dp_error_errno(errno, "cannot lock %s", path);
			close(fd);
			goto out;
		}
		/* A file system without such locks: recorded, unguarded. */
	}
	/* What a writer of before this wrote into it: its block goes. */
	struct stat st;
	if (fstat(fd, &st) == 0 && st.st_size > 0 && ftruncate(fd, 0) != 0) {
		/* Only a block lost: the lock holds. */
	}
	*fd_out = fd;
out:
	free(path);
	return rc;
}

/* Takes the task's lock (dp_task_lock). */
static int lock_task(dnnprov_task *t)
{
	int fd, rc = dp_task_lock(t->dir, t->cfg->dataflow, t->id, &fd);
	if (rc)
		return rc;
	t->lock_fd = fd;
	return 0;
}

/* Reads what the task's logs say of it: its phase, attempts, run and the
 * highest segment sequence. */
static int load_history(dnnprov_task *t)
{
	dp_task_history h;
	int rc = dp_task_history_read(t->dir, false, &h);
	if (rc)
		return rc;
	t->state.phase = h.phase;
	t->state.attempts = h.attempts;
	snprintf(t->state.status, sizeof(t->state.status), "%s", h.status);
	t->disk = t->state;
	t->seq = h.max_sequence;
	if (h.run[0])
		snprintf(t->run, sizeof(t->run), "%s", h.run);
	else
		new_run_id(t->run);
	dp_task_history_free(&h);
	return 0;
}

/* A handle that recorded nothing leaves nothing: the folder it created goes,
 * with its lock file, which is unlinked only by its holder (another process
 * may be about to lock it). */
static void discard_if_unused(dnnprov_task *t)
{
	bool discard = !t->wrote && t->made_dir && t->dir;
	if (t->lock_fd >= 0) {
		char *lock = discard ? dp_path_join(t->dir, LOCK_FILE) : NULL;
		if (lock)
			unlink(lock);
		free(lock);
		close(t->lock_fd);
		t->lock_fd = -1;
	}
	if (discard)
		rmdir(t->dir); /* fails, harmlessly, when anything else is in it */
}

static int task_open(const dnnprov_config *cfg, const char *label, const char *task_id,
		     dnnprov_task **out)
{
	dnnprov_task *t;
	char generated[DNNPROV_NAME_MAX + 1];
	char *df_dir = NULL;
	struct rlimit rl;
	struct stat st;
	int rc;

	dp_error_clear();
	if (!cfg || !out)
		return dp_error(DNNPROV_EINVAL, "dnnprov_task_open: config and out must not be NULL");
	*out = NULL;
	if (task_id && (rc = dp_check_tag("task id", task_id)))
		return rc;
	if (label && (rc = dp_check_tag("task label", label)))
		return rc;
	if (label && strlen(label) > DP_LABEL_MAX)
		return dp_error(DNNPROV_EINVAL, "task label '%s' is longer than %d bytes", label, DP_LABEL_MAX);
	pthread_once(&atfork_once, install_atfork);

	t = calloc(1, sizeof(*t));
	if (!t)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	pthread_mutex_init(&t->lock, NULL);
	t->cfg = cfg;
	t->fd = -1;
	t->lock_fd = -1;
	t->next_adaptation_id = 1;
	t->last_epoch_mono = dp_monotonic();
	fill_identity(t);
	dp_boot_id(t->owner.boot);
	t->owner.pid = (int64_t)getpid();
	t->owner.start = dp_process_start((long)getpid());
	if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		t->fsize_limit = (uint64_t)rl.rlim_cur;
	if (!(df_dir = dp_path_join(cfg->log_dir, cfg->dataflow))) {
		rc = dp_error(DNNPROV_ENOMEM, "out of memory");
		goto fail;
	}
	/* A generated id names a task that does not exist yet: one whose folder
	 * exists (a clock stepped back onto an earlier run's second) is passed
	 * over for the next. */
	for (int attempt = 0; attempt < 1000; attempt++) {
		if (!task_id || label) {
			generate_task_id(t, label, generated, sizeof(generated));
			if ((rc = dp_check_tag("task id", generated)))
				goto fail;
		}
		free(t->id);
		free(t->dir);
		t->id = strdup(task_id && !label ? task_id : generated);
		t->dir = t->id ? dp_path_join(df_dir, t->id) : NULL;
		if (!t->id || !t->dir) {
			rc = dp_error(DNNPROV_ENOMEM, "out of memory");
			goto fail;
		}
		t->made_dir = stat(t->dir, &st) != 0;
		if (t->made_dir || (task_id && !label))
			break;
	}
	if ((rc = dp_mkdirs(t->dir)) || (rc = lock_task(t)) || (rc = load_history(t)))
		goto fail;
	if (cfg->durability == DP_DURABILITY_INTERVAL && (rc = flusher_register(t)))
		goto fail;
	free(df_dir);
	*out = t;
	return 0;
fail:
	discard_if_unused(t);
	free(df_dir);
	free(t->id);
	free(t->dir);
	pthread_mutex_destroy(&t->lock);
	free(t);
	return rc;
}

int dnnprov_task_open(const dnnprov_config *cfg, const char *task_id, dnnprov_task **out)
{
	return task_open(cfg, NULL, task_id, out);
}

int dnnprov_task_open_new(const dnnprov_config *cfg, const char *label, dnnprov_task **out)
{
	return task_open(cfg, label, NULL, out);
}

void dp_task_owner_is_group(dnnprov_task *t)
{
	pthread_mutex_lock(&t->lock);
	t->owner.pid = (int64_t)getpgrp();
	/* Its leader's start time (0 when the leader is gone), so that a
	 * later group given the same id is not taken for this one. */
	t->owner.start = dp_process_start((long)t->owner.pid);
	t->owner.group = true;
	pthread_mutex_unlock(&t->lock);
}

const char *dnnprov_task_id(const dnnprov_task *t)
{
	return t ? t->id : NULL;
}

/* The dataflow specification: what the config declares, so that the logs
 * alone can rebuild the index.  Layout in docs/FORMAT.md. */
static unsigned char *encode_spec(unsigned char *p, const dnnprov_config *cfg, clocks now)
{
	size_t nsel = 0;
	for (size_t i = 0; i < cfg->nhyperparameters; i++)
		nsel += cfg->hyperparameters[i].selected;

	/* metric_ranges only when the file gives some: a spec without them is
	 * the one earlier versions wrote. */
	p = encode_head(p, "spec", cfg->nmetric_ranges ? 6 : 5, now);
	p = dp_mp_key(p, "dataflow");
	p = dp_mp_str(p, cfg->dataflow, strlen(cfg->dataflow));
	p = dp_mp_key(p, "hyperparameters");
	p = dp_mp_array(p, (uint32_t)nsel);
	for (size_t i = 0; i < cfg->nhyperparameters; i++) {
		const dp_hyperparameter *h = &cfg->hyperparameters[i];
		const char *type = dp_attr_type_name(h->type);
		if (h->selected)
			p = dp_mp_name_type(p, h->name, type);
	}
	p = dp_mp_spec_middle(p, cfg->metrics, cfg->nmetrics, cfg->adaptation, cfg->ntransformations);
	for (size_t i = 0; i < cfg->ntransformations; i++) {
		const dp_transformation *tf = &cfg->transformations[i];
		p = dp_mp_map(p, 3);
		p = dp_mp_key(p, "name");
		p = dp_mp_str(p, tf->name, strlen(tf->name));
		p = dp_mp_key(p, "depends_on");
		p = dp_mp_names(p, tf->depends_on, tf->ndepends);
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
			for (size_t a = 0; a < set->nattrs; a++)
				p = dp_mp_name_type(p, set->attrs[a].name, dp_attr_type_name(set->attrs[a].type));
		}
	}
	if (cfg->nmetric_ranges) {
		p = dp_mp_key(p, "metric_ranges");
		p = dp_mp_map(p, (uint32_t)cfg->nmetric_ranges);
		for (size_t i = 0; i < cfg->nmetric_ranges; i++) {
			const dp_metric_range *r = &cfg->metric_ranges[i];
			p = dp_mp_str(p, r->metric, strlen(r->metric));
			p = dp_mp_array(p, 2);
			p = dp_mp_double(p, r->low);
			p = dp_mp_double(p, r->high);
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
	for (size_t i = 0; i < cfg->nmetric_ranges; i++)
		n += 32 + strlen(cfg->metric_ranges[i].metric);
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

/* The declaration of a hyperparameter a call names: *out is NULL for one of
 * the seven built-in ones the config does not select (left out, as the
 * config chose); any other name the config does not declare is a typo. */
static int declared_hyperparameter(const dnnprov_task *t, const dnnprov_value *v,
				   const dp_hyperparameter **out)
{
	const dnnprov_config *cfg = t->cfg;
	const dp_hyperparameter *h = dp_config_hyperparameter(cfg, v->name);
	int rc;

	*out = NULL;
	if (!h) {
		dp_buf list = { 0 };
		for (size_t i = 0; i < cfg->nhyperparameters; i++) {
			const dp_hyperparameter *c = &cfg->hyperparameters[i];
			if (dp_strcasecmp(c->name, v->name) == 0) {
				dp_buf_free(&list);
				return dp_error(DNNPROV_EUNDECLARED,
						"hyperparameter '%s' is declared as '%s' in %s", v->name, c->name,
						cfg->path);
			}
			if (c->selected)
				dp_buf_printf(&list, "%s%s", list.len ? ", " : "", c->name);
		}
		rc = dp_error(DNNPROV_EUNDECLARED,
			      "hyperparameter '%s' is not declared in %s (declared: %s)", v->name, cfg->path,
			      list.len && !list.failed ? dp_buf_cstr(&list) : "none");
		dp_buf_free(&list);
		return rc;
	}
	if ((rc = check_value("hyperparameter", v->name, v)))
		return rc;
	if (!h->selected)
		return 0;
	if ((rc = check_type("hyperparameter", h->name, h->type, v)))
		return rc;
	*out = h;
	return 0;
}

/* Checks the values of a begin or resume: the size the begin record needs
 * for them. */
static int check_begin_values(const dnnprov_task *t, const dnnprov_value *hyps, size_t n,
			      size_t *max, uint32_t *nsel, refusals *r)
{
	int rc;
	if ((rc = check_names("hyperparameter", hyps, n, dp_check_name)))
		return rc;
	if (n && t->transformation)
		return dp_error(DNNPROV_EINVAL,
				"a task of transformation '%s' takes no hyperparameters: record its parameters as "
				"elements of its input set",
				t->transformation);
	*nsel = 0;
	*max = RECORD_HEAD_MAX + 512 + strlen(t->id) + strlen(t->execution) + 2 * strlen(t->host) +
	       strlen(t->user) + sizeof(t->owner.boot) + (t->transformation ? strlen(t->transformation) : 0);
	for (size_t i = 0; i < n; i++) {
		const dp_hyperparameter *h;
		if ((rc = declared_hyperparameter(t, &hyps[i], &h)) &&
		    (rc = refuse_name(t, r, n, i, hyps[i].name, rc)))
			return rc;
		if (!h)
			continue;
		(*nsel)++;
		*max += DP_MP_STR_OVERHEAD + strlen(h->name) + value_max_size(&hyps[i]);
	}
	return 0;
}

/* Encodes the spec and begin records of a begin (resume false: with the
 * hyperparameter values) or of a resume (the task keeps its first values:
 * what differs becomes adaptations, encoded by the caller). */
static int encode_begin(dnnprov_task *t, append_ctx *ctx, bool resume, const dnnprov_value *hyps,
			size_t n, size_t max, uint32_t nsel)
{
	clocks now = clocks_now();
	dp_facts facts = { 0 };
	unsigned char *p;
	int rc;

	if (t->cfg->facts && ((rc = dp_facts_copy(&facts, &t->facts)) || (rc = dp_facts_collect(&facts))))
		goto out;
	for (size_t i = 0; i < facts.n; i++)
		if (facts.v[i].type != DNNPROV_NULL)
			max += DP_MP_STR_OVERHEAD + strlen(facts.v[i].name) + value_max_size(&facts.v[i]);
	rc = DNNPROV_ENOMEM;
	if (!(p = frame_begin(t, ctx, spec_max_size(t->cfg))))
		goto out;
	p = encode_spec(p, t->cfg, now);
	if ((rc = frame_end(t, ctx, p)))
		goto out;
	rc = DNNPROV_ENOMEM;
	if (!(p = frame_begin(t, ctx, max + 16)))
		goto out;
	p = encode_head(p, "begin", t->cfg->facts ? 11 : 10, now);
	p = dp_mp_key(p, "task");
	p = dp_mp_str(p, t->id, strlen(t->id));
	p = dp_mp_key(p, "transformation");
	{
		const char *tf = t->transformation ? t->transformation : "TrainingModel";
		p = dp_mp_str(p, tf, strlen(tf));
	}
	p = dp_mp_key(p, "execution");
	p = dp_mp_str(p, t->execution, strlen(t->execution));
	p = dp_mp_key(p, "host");
	p = dp_mp_str(p, t->host, strlen(t->host));
	p = dp_mp_key(p, "pid");
	p = dp_mp_int(p, (int64_t)getpid());
	p = dp_mp_key(p, "user");
	p = dp_mp_str(p, t->user, strlen(t->user));
	p = dp_mp_key(p, "attempt");
	p = dp_mp_uint(p, t->state.attempts + 1);
	p = dp_mp_key(p, "resume");
	p = dp_mp_bool(p, resume);
	p = dp_mp_key(p, "owner");
	p = dp_mp_map(p, 5);
	p = dp_mp_key(p, "host");
	p = dp_mp_str(p, t->host, strlen(t->host));
	p = dp_mp_key(p, "boot");
	p = dp_mp_str(p, t->owner.boot, strlen(t->owner.boot));
	p = dp_mp_key(p, "pid");
	p = dp_mp_int(p, t->owner.pid);
	p = dp_mp_key(p, "start");
	p = dp_mp_uint(p, t->owner.start);
	p = dp_mp_key(p, "group");
	p = dp_mp_bool(p, t->owner.group);
	p = dp_mp_key(p, "hyperparameters");
	p = dp_mp_map(p, resume ? 0 : nsel);
	for (size_t i = 0; i < n && !resume; i++) {
		const dp_hyperparameter *h = dp_config_hyperparameter(t->cfg, hyps[i].name);
		if (!h || !h->selected)
			continue;
		p = dp_mp_str(p, h->name, strlen(h->name));
		p = encode_value(p, &hyps[i]);
	}
	if (t->cfg->facts) {
		p = dp_mp_key(p, "facts");
		p = dp_mp_map(p, (uint32_t)dp_facts_count(&facts));
		for (size_t i = 0; i < facts.n; i++) {
			if (facts.v[i].type == DNNPROV_NULL)
				continue;
			p = dp_mp_str(p, facts.v[i].name, strlen(facts.v[i].name));
			p = encode_value(p, &facts.v[i]);
		}
	}
	if ((rc = frame_end(t, ctx, p)))
		goto out;
	ctx->begins = true;
out:
	dp_facts_free(&facts);
	return rc;
}

int dnnprov_task_begin(dnnprov_task *t, const dnnprov_value *hyps, size_t n)
{
	append_ctx ctx;
	refusals r = { 0 };
	size_t max;
	uint32_t nsel;
	int rc;

	if (!t || (n && !hyps))
		return dp_error(DNNPROV_EINVAL, "dnnprov_task_begin: NULL argument");
	if ((rc = append_enter(t, &ctx, CALL_BEGIN)))
		return rc;
	if ((rc = check_begin_values(t, hyps, n, &max, &nsel, &r)) ||
	    (rc = encode_begin(t, &ctx, false, hyps, n, max, nsel)) ||
	    (r.count && (rc = encode_refused(t, &ctx, "begin", false, 0, hyps, n, &r))))
		goto out;
	for (size_t i = 0; i < n && rc == 0; i++) {
		const dp_hyperparameter *h = dp_config_hyperparameter(t->cfg, hyps[i].name);
		if (h && h->selected)
			rc = known_set(t, h, &hyps[i]);
	}
out:
	return append_leave_refused(t, &ctx, rc, &r, "begin", true);
}

static bool same_value(const dnnprov_value *a, const dnnprov_value *b)
{
	bool an = a->type == DNNPROV_INT || a->type == DNNPROV_REAL;
	bool bn = b->type == DNNPROV_INT || b->type == DNNPROV_REAL;
	if (an && bn) {
		if (a->type == DNNPROV_INT && b->type == DNNPROV_INT)
			return a->as.i == b->as.i;
		double x = a->type == DNNPROV_INT ? (double)a->as.i : a->as.r;
		double y = b->type == DNNPROV_INT ? (double)b->as.i : b->as.r;
		return x == y || (isnan(x) && isnan(y));
	}
	if (a->type != b->type)
		return false;
	return a->type != DNNPROV_TEXT || strcmp(a->as.s, b->as.s) == 0;
}

/* The next epoch after the last one the task recorded. */
static int64_t epoch_after(const dp_task_history *h)
{
	if (!h->has_epoch)
		return 1;
	return h->last_epoch == INT64_MAX ? INT64_MAX : h->last_epoch + 1;
}

int dnnprov_task_resume(dnnprov_task *t, int64_t epoch, const dnnprov_value *hyps, size_t n)
{
	append_ctx ctx;
	dp_task_history hist = { 0 };
	refusals r = { 0 };
	size_t max;
	uint32_t nsel;
	int rc;

	if (!t || (n && !hyps))
		return dp_error(DNNPROV_EINVAL, "dnnprov_task_resume: NULL argument");
	if ((rc = append_enter(t, &ctx, CALL_RESUME)))
		return rc;
	if (t->state.phase == DP_PHASE_NEW) {
		pthread_mutex_unlock(&t->lock);
		return dnnprov_task_begin(t, hyps, n);
	}
	if ((rc = check_begin_values(t, hyps, n, &max, &nsel, &r)))
		goto out;
	/* The values in force and the last epoch are in the logs, this
	 * handle's buffered records included once they are written. */
	if ((rc = write_out(t)) || (rc = dp_task_history_read(t->dir, true, &hist)))
		goto out;
	ctx.start = t->out.len;
	if ((rc = encode_begin(t, &ctx, true, hyps, n, max, nsel)) ||
	    (r.count && (rc = encode_refused(t, &ctx, "begin", false, 0, hyps, n, &r))))
		goto out;
	for (size_t i = 0; i < hist.nin_force && rc == 0; i++) {
		const dp_hyperparameter *h = dp_config_hyperparameter(t->cfg, hist.in_force[i].name);
		if (h && h->selected)
			rc = known_set(t, h, &hist.in_force[i]);
	}
	if (epoch == DNNPROV_NEXT_EPOCH)
		epoch = epoch_after(&hist);
	for (size_t i = 0; i < n && rc == 0; i++) {
		const dp_hyperparameter *h = dp_config_hyperparameter(t->cfg, hyps[i].name);
		const dnnprov_value *old = h && h->selected ? known_get(t, h) : NULL;
		if (!h || !h->selected || !t->cfg->adaptation || (old && same_value(old, &hyps[i])))
			continue;
		rc = encode_adapt(t, &ctx, epoch, h, &hyps[i]);
	}
out:
	dp_task_history_free(&hist);
	return append_leave_refused(t, &ctx, rc, &r, "begin", true);
}

int dnnprov_task_layers(dnnprov_task *t, const dnnprov_layer *layers, size_t n)
{
	append_ctx ctx;
	unsigned char *p;
	size_t max = RECORD_HEAD_MAX + 16;
	int rc;

	if (!t || (n && !layers))
		return dp_error(DNNPROV_EINVAL, "dnnprov_task_layers: NULL argument");
	if ((rc = append_enter(t, &ctx, CALL_TRAINING)))
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
	p = encode_head(p, "layers", 1, clocks_now());
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
	refusals r = { 0 };
	unsigned char *p;
	size_t max;
	clocks now;
	int rc;

	if (!t)
		return dp_error(DNNPROV_EINVAL, "dnnprov_task_epoch: NULL task");
	if (!isnan(elapsed) && !(elapsed >= 0 && isfinite(elapsed)))
		return dp_error(DNNPROV_EINVAL,
				"epoch %lld: elapsed must be a duration in seconds (>= 0), not %g",
				(long long)epoch, elapsed);
	if ((rc = append_enter(t, &ctx, CALL_TRAINING)))
		return rc;
	if ((rc = check_metrics(t, metrics, n, &max, &r)))
		goto out;
	rc = DNNPROV_ENOMEM;
	if (!(p = frame_begin(t, &ctx, RECORD_HEAD_MAX + 48 + max)))
		goto out;
	now = clocks_now();
	/* Measured on the monotonic clock: a wall clock stepped back must not
	 * make an epoch last a negative time. */
	double mono = dp_monotonic();
	if (isnan(elapsed))
		elapsed = mono - t->last_epoch_mono;
	t->last_epoch_mono = mono;
	p = encode_head(p, "epoch", 3, now);
	p = dp_mp_key(p, "epoch");
	p = dp_mp_int(p, epoch);
	p = dp_mp_key(p, "elapsed");
	p = dp_mp_double(p, elapsed);
	p = dp_mp_key(p, "metrics");
	p = encode_named_values(p, metrics, n, &r);
	if (!(rc = frame_end(t, &ctx, p)) && r.count)
		rc = encode_refused(t, &ctx, "epoch", true, epoch, metrics, n, &r);
out:
	return append_leave_refused(t, &ctx, rc, &r, "epoch", true);
}

/* Encodes an adapt record: h took v at `epoch`; the old value is the one
 * this handle knows, if any. */
static int encode_adapt(dnnprov_task *t, append_ctx *ctx, int64_t epoch, const dp_hyperparameter *h,
			const dnnprov_value *v)
{
	const dnnprov_value *old = known_get(t, h);
	size_t max = RECORD_HEAD_MAX + 64 + strlen(h->name) + value_max_size(v) +
		     (old ? value_max_size(old) : 1);
	unsigned char *p;
	int rc;

	if (!(p = frame_begin(t, ctx, max)))
		return DNNPROV_ENOMEM;
	p = encode_head(p, "adapt", old ? 5 : 4, clocks_now());
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
	if ((rc = frame_end(t, ctx, p)) || (rc = known_set(t, h, v)))
		return rc;
	t->next_adaptation_id++;
	return 0;
}

int dnnprov_task_adapt(dnnprov_task *t, int64_t epoch, const dnnprov_value *v)
{
	append_ctx ctx;
	refusals r = { 0 };
	const dp_hyperparameter *h;
	int rc;

	if (!t || !v)
		return dp_error(DNNPROV_EINVAL, "dnnprov_task_adapt: NULL argument");
	if ((rc = append_enter(t, &ctx, CALL_TRAINING)))
		return rc;
	if ((rc = dp_check_name("hyperparameter", v->name)))
		goto out;
	if ((rc = declared_hyperparameter(t, v, &h))) {
		if (!(rc = refuse_name(t, &r, 1, 0, v->name, rc)))
			rc = encode_refused(t, &ctx, "adapt", true, epoch, v, 1, &r);
		goto out;
	}
	if (t->cfg->adaptation && h) /* else not recorded, by the config's choice */
		rc = encode_adapt(t, &ctx, epoch, h, v);
out:
	return append_leave_refused(t, &ctx, rc, &r, "adaptation", false);
}

int dnnprov_task_test(dnnprov_task *t, const dnnprov_value *metrics, size_t n)
{
	append_ctx ctx;
	refusals r = { 0 };
	unsigned char *p;
	size_t max;
	int rc;

	if (!t)
		return dp_error(DNNPROV_EINVAL, "dnnprov_task_test: NULL task");
	if (n == 0)
		return dp_error(DNNPROV_EINVAL, "a test record needs at least one metric");
	if ((rc = append_enter(t, &ctx, CALL_AFTER)))
		return rc;
	if ((rc = check_metrics(t, metrics, n, &max, &r)))
		goto out;
	if (r.count < n) { /* a test record has at least one metric */
		rc = DNNPROV_ENOMEM;
		if (!(p = frame_begin(t, &ctx, RECORD_HEAD_MAX + 16 + max)))
			goto out;
		p = encode_head(p, "test", 1, clocks_now());
		p = dp_mp_key(p, "metrics");
		p = encode_named_values(p, metrics, n, &r);
		if ((rc = frame_end(t, &ctx, p)))
			goto out;
	}
	if (r.count)
		rc = encode_refused(t, &ctx, "test", false, 0, metrics, n, &r);
out:
	return append_leave_refused(t, &ctx, rc, &r, "test", r.count < n);
}

int dnnprov_task_element(dnnprov_task *t, const char *transformation, const char *set,
			 const dnnprov_value *values, size_t n)
{
	append_ctx ctx;
	refusals r = { 0 };
	const dp_transformation *tf;
	const dp_set *st;
	unsigned char *p;
	size_t max;
	int rc;

	if (!t || !transformation || !set || (n && !values))
		return dp_error(DNNPROV_EINVAL, "dnnprov_task_element: NULL argument");
	if ((rc = append_enter(t, &ctx, CALL_AFTER)))
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
	if ((rc = check_names("attribute", values, n, dp_check_name)))
		goto out;
	max = RECORD_HEAD_MAX + 64 + strlen(tf->name) + strlen(st->name);
	for (size_t i = 0; i < n; i++) {
		const dp_attr *a = NULL;
		for (size_t k = 0; k < st->nattrs; k++)
			if (strcmp(st->attrs[k].name, values[i].name) == 0)
				a = &st->attrs[k];
		if (!a) {
			dp_buf list = { 0 };
			for (size_t k = 0; k < st->nattrs; k++)
				dp_buf_printf(&list, "%s%s", k ? ", " : "", st->attrs[k].name);
			rc = dp_error(DNNPROV_EUNDECLARED,
				      "set '%s' of transformation '%s' has no attribute '%s' in %s (attributes: %s)", set,
				      transformation, values[i].name, t->cfg->path,
				      list.len && !list.failed ? dp_buf_cstr(&list) : "none");
			dp_buf_free(&list);
			if ((rc = refuse_name(t, &r, n, i, values[i].name, rc)))
				goto out;
			continue;
		}
		if ((rc = check_value("attribute", a->name, &values[i])) ||
		    (rc = check_type("attribute", a->name, a->type, &values[i])))
			goto out;
		max += DP_MP_STR_OVERHEAD + strlen(a->name) + value_max_size(&values[i]);
	}
	rc = DNNPROV_ENOMEM;
	if (!(p = frame_begin(t, &ctx, max)))
		goto out;
	p = encode_head(p, "element", 3, clocks_now());
	p = dp_mp_key(p, "transformation");
	p = dp_mp_str(p, tf->name, strlen(tf->name));
	p = dp_mp_key(p, "set");
	p = dp_mp_str(p, st->name, strlen(st->name));
	p = dp_mp_key(p, "values");
	p = encode_named_values(p, values, n, &r);
	if (!(rc = frame_end(t, &ctx, p)) && r.count)
		rc = encode_refused(t, &ctx, "element", false, 0, values, n, &r);
out:
	return append_leave_refused(t, &ctx, rc, &r, "element", true);
}

/* ---- entities (docs/LINEAGE.md) ------------------------------------------ */

typedef struct entity_fields {
	const char *direction, *role, *location, *fingerprint;
	int64_t size;      /* -1: unknown */
	int64_t files;     /* a folder's entries; -1: not a folder */
} entity_fields;

static int check_entity(const entity_fields *e)
{
	int rc;
	if (strcmp(e->direction, "used") != 0 && strcmp(e->direction, "generated") != 0)
		return dp_error(DNNPROV_EINVAL, "an entity is 'used' or 'generated', not '%s'", e->direction);
	if ((rc = dp_check_name("entity role", e->role)))
		return rc;
	if (!*e->location)
		return dp_error(DNNPROV_EINVAL, "an entity needs a location");
	if ((rc = check_text("entity location", NULL, e->location)))
		return rc;
	if (!dp_fingerprint_valid(e->fingerprint, strlen(e->fingerprint)))
		return dp_error(DNNPROV_EINVAL,
				"'%.80s' is no fingerprint: 'sha256:' or 'quick:' and 64 lower-case hex digits",
				e->fingerprint);
	return 0;
}

static int append_entity(dnnprov_task *t, const entity_fields *e)
{
	append_ctx ctx;
	unsigned char *p;
	int rc;

	if ((rc = check_entity(e)))
		return rc;
	if ((rc = append_enter(t, &ctx, CALL_AFTER)))
		return rc;
	rc = DNNPROV_ENOMEM;
	size_t max = RECORD_HEAD_MAX + 96 + DP_MP_STR_OVERHEAD * 3 + strlen(e->role) + strlen(e->location) +
		     strlen(e->fingerprint) + 2 * DP_MP_MAX_SCALAR;
	if (!(p = frame_begin(t, &ctx, max)))
		goto out;
	p = encode_head(p, e->direction, 3 + (e->size >= 0) + (e->files >= 0), clocks_now());
	p = dp_mp_key(p, "role");
	p = dp_mp_str(p, e->role, strlen(e->role));
	p = dp_mp_key(p, "location");
	p = dp_mp_str(p, e->location, strlen(e->location));
	p = dp_mp_key(p, "fingerprint");
	p = dp_mp_str(p, e->fingerprint, strlen(e->fingerprint));
	if (e->size >= 0) {
		p = dp_mp_key(p, "size");
		p = dp_mp_uint(p, (uint64_t)e->size);
	}
	if (e->files >= 0) {
		p = dp_mp_key(p, "files");
		p = dp_mp_uint(p, (uint64_t)e->files);
	}
	rc = frame_end(t, &ctx, p);
out:
	return append_leave(t, &ctx, rc);
}

/* Fingerprints path, then records it: the hash runs before the handle's
 * lock is taken. */
static int record_path(dnnprov_task *t, const char *direction, const char *role, const char *path, unsigned flags)
{
	dp_fingerprint fp;
	char *abs;
	int rc;

	if (!t || !role || !path)
		return dp_error(DNNPROV_EINVAL, "dnnprov_task_%s: NULL argument", direction);
	dp_error_clear();
	if ((rc = dp_check_name("entity role", role)))
		return rc;
	if ((rc = dp_fingerprint_path(path, flags, &fp)))
		return rc;
	if (!(abs = realpath(path, NULL)))
		return dp_error_errno(errno, "cannot resolve %s", path);
	entity_fields e = { direction, role, abs, fp.text, (int64_t)fp.size, fp.directory ? (int64_t)fp.files : -1 };
	rc = append_entity(t, &e);
	free(abs);
	return rc;
}

int dnnprov_task_used(dnnprov_task *t, const char *role, const char *path, unsigned flags)
{
	return record_path(t, "used", role, path, flags);
}

int dnnprov_task_generated(dnnprov_task *t, const char *role, const char *path, unsigned flags)
{
	return record_path(t, "generated", role, path, flags);
}

int dnnprov_task_entity(dnnprov_task *t, const char *direction, const char *role, const char *location,
			const char *fingerprint, int64_t size)
{
	if (!t || !direction || !role || !location || !fingerprint)
		return dp_error(DNNPROV_EINVAL, "dnnprov_task_entity: NULL argument");
	dp_error_clear();
	entity_fields e = { direction, role, location, fingerprint, size < 0 ? -1 : size, -1 };
	return append_entity(t, &e);
}

int dnnprov_task_transformation(dnnprov_task *t, const char *transformation)
{
	char *copy = NULL;
	int rc = 0;

	if (!t || !transformation)
		return dp_error(DNNPROV_EINVAL, "dnnprov_task_transformation: NULL argument");
	dp_error_clear();
	if (strcmp(transformation, "TrainingModel") != 0) {
		if (!dp_config_transformation(t->cfg, transformation))
			return dp_error(DNNPROV_EINVAL, "transformation '%s' is not declared in %s", transformation,
					t->cfg->path);
		if (!(copy = strdup(transformation)))
			return dp_error(DNNPROV_ENOMEM, "out of memory");
	}
	pthread_mutex_lock(&t->lock);
	if (t->state.phase != DP_PHASE_NEW) {
		rc = dp_error(DNNPROV_ESTATE, "task '%s' has begun: its transformation is the one its begin recorded",
			      t->id);
		free(copy);
	} else {
		free(t->transformation);
		t->transformation = copy;
	}
	pthread_mutex_unlock(&t->lock);
	return rc;
}

int dnnprov_task_facts(dnnprov_task *t, const dnnprov_value *facts, size_t n)
{
	int rc = 0;

	if (!t || (n && !facts))
		return dp_error(DNNPROV_EINVAL, "dnnprov_task_facts: NULL argument");
	if ((rc = check_names("run fact", facts, n, dp_check_tag)))
		return rc;
	for (size_t i = 0; i < n; i++)
		if ((rc = check_value("run fact", facts[i].name, &facts[i])))
			return rc;
	pthread_mutex_lock(&t->lock);
	dp_error_clear();
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = dp_facts_set(&t->facts, &facts[i]);
	pthread_mutex_unlock(&t->lock);
	return rc;
}

/* The checks of a tag record's pairs; *max gets their encoded size. */
int dp_check_tags(const dnnprov_value *tags, size_t n, size_t *max)
{
	int rc;

	if (n == 0)
		return dp_error(DNNPROV_EINVAL, "no tags given");
	if (!tags)
		return dp_error(DNNPROV_EINVAL, "tags array is NULL");
	if (n > 65535)
		return dp_error(DNNPROV_EINVAL, "%zu tags in one record; the limit is 65535", n);
	if ((rc = check_names("tag", tags, n, dp_check_tag)))
		return rc;
	*max = DP_MP_CONTAINER_OVERHEAD;
	for (size_t i = 0; i < n; i++) {
		if ((rc = check_value("tag", tags[i].name, &tags[i])))
			return rc;
		*max += DP_MP_STR_OVERHEAD + strlen(tags[i].name) + value_max_size(&tags[i]);
	}
	return 0;
}

unsigned char *dp_encode_tag_record(unsigned char *p, const dnnprov_value *tags, size_t n, double time)
{
	p = encode_head(p, "tag", 1, (clocks){ time, dp_uptime() });
	p = dp_mp_key(p, "tags");
	return encode_named_values(p, tags, n, NULL);
}

int dnnprov_task_tag(dnnprov_task *t, const dnnprov_value *tags, size_t n)
{
	append_ctx ctx;
	unsigned char *p;
	size_t max;
	int rc;

	if (!t)
		return dp_error(DNNPROV_EINVAL, "dnnprov_task_tag: NULL task");
	if ((rc = dp_check_tags(tags, n, &max)))
		return rc;
	if ((rc = append_enter(t, &ctx, CALL_AFTER)))
		return rc;
	rc = DNNPROV_ENOMEM;
	if ((p = frame_begin(t, &ctx, RECORD_HEAD_MAX + 16 + max)))
		rc = frame_end(t, &ctx, dp_encode_tag_record(p, tags, n, dp_now()));
	return append_leave(t, &ctx, rc);
}

/* "RUNNING", "FINISHED", "FAILED", "KILLED"; NULL for anything else. */
static const char *dp_status_name(dnnprov_status s)
{
	switch (s) {
	case DNNPROV_RUNNING: return "RUNNING";
	case DNNPROV_FINISHED: return "FINISHED";
	case DNNPROV_FAILED: return "FAILED";
	case DNNPROV_KILLED: return "KILLED";
	case DNNPROV_PRUNED: return "PRUNED";
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
		return dp_error(DNNPROV_EINVAL, "task end status must be FINISHED, FAILED, KILLED or PRUNED");
	if (message && (rc = check_text("task end message", NULL, message)))
		return rc;
	if ((rc = append_enter(t, &ctx, CALL_TRAINING)))
		return rc;
	rc = DNNPROV_ENOMEM;
	if (!(p = frame_begin(t, &ctx, RECORD_HEAD_MAX + 48 + mlen)))
		goto out;
	p = encode_head(p, "end", message ? 2 : 1, clocks_now());
	p = dp_mp_key(p, "status");
	p = dp_mp_str(p, name, strlen(name));
	if (message) {
		p = dp_mp_key(p, "message");
		p = dp_mp_str(p, message, mlen);
	}
	if ((rc = frame_end(t, &ctx, p)) == 0)
		ctx.ends_with = name; /* applied once committed: a failed end can be retried */
out:
	return append_leave(t, &ctx, rc);
}

void dnnprov_task_strict(dnnprov_task *t, int on)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	t->strict = on != 0;
	pthread_mutex_unlock(&t->lock);
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
	discard_if_unused(t);
	pthread_mutex_unlock(&t->lock);

	for (size_t i = 0; i < t->nknown; i++)
		known_free(&t->known[i]);
	free(t->known);
	dp_buf_free(&t->out);
	dp_buf_free(&t->last_names);
	dp_buf_free(&t->used_names);
	dp_map_free(&t->used_folded);
	dp_facts_free(&t->facts);
	free(t->transformation);
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
