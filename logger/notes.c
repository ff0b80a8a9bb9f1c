/*
 * notes.c - tags added from outside the task's writer (dnnprov_tag): a
 * note segment per call, as format.h describes.
 *
 * The task's writer lock is not taken, so a task can be tagged while a
 * training process records it.  The file is written under a dot name
 * (which no reader lists), synced, and renamed into place: readers see it
 * whole or not at all, and a crash leaves at most a dot file behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "logger/format.h"
#include "logger/history.h"
#include "logger/writer.h"

static int write_file(const char *path, const void *data, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	const char *p = data;

	if (fd < 0)
		return -errno;
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int err = w < 0 ? errno : ENOSPC;
			close(fd);
			unlink(path);
			return -err;
		}
		p += w;
		n -= (size_t)w;
	}
	if (fsync(fd) != 0) {
		int err = errno;
		close(fd);
		unlink(path);
		return -err;
	}
	return close(fd) == 0 ? 0 : -errno;
}

static void sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		if (fsync(fd) != 0) { /* the rename happened; durability is best effort */ }
		close(fd);
	}
}

/* The bytes of a note segment: header, one tag record, seal. */
static int encode_note(const dnnprov_config *cfg, const char *task, const char *host,
		       const dp_task_history *h, const dnnprov_value *tags, size_t n, size_t max,
		       dp_buf *out)
{
	const char *state = h->phase == DP_PHASE_RUNNING ? "RUNNING" : h->status;
	char boot[40];
	dp_boot_id(boot);
	dp_segment_header_fields f = {
		.dataflow = cfg->dataflow, .task = task, .host = host, .created = dp_now(),
		.sequence = 0, .run = h->run, .attempts = h->attempts, .state = state, .boot = boot,
	};
	unsigned char *frame, *p;
	size_t at;
	int rc;

	if ((rc = dp_segment_header_encode(&f, out)))
		return rc;
	at = out->len;
	if ((rc = dp_buf_reserve(out, DP_FRAME_HEADER + 64 + max + DP_SEAL_MAX)))
		return rc;
	frame = (unsigned char *)out->data + at;
	p = dp_encode_tag_record(frame + DP_FRAME_HEADER, tags, n, f.created);
	size_t len = (size_t)(p - frame - DP_FRAME_HEADER);
	if (len > DNNPROV_RECORD_MAX)
		return dp_error(DNNPROV_EINVAL, "tag record of %zu bytes is over the limit of %u bytes",
				len, DNNPROV_RECORD_MAX);
	dp_frame_seal_header(frame, DP_FRAME_RECORD, (uint32_t)len,
			     dp_crc32c(0, frame + DP_FRAME_HEADER, len), dp_crc32c);
	out->len = at + DP_FRAME_HEADER + len;
	out->len += dp_seal_encode((unsigned char *)out->data + out->len, 1);
	return 0;
}

int dnnprov_tag(const dnnprov_config *cfg, const char *task_id, const dnnprov_value *tags, size_t n)
{
	dp_task_history h = { 0 };
	dp_buf bytes = { 0 };
	char hostname[65] = "", host[65], name[256], tmp[260];
	char *dir = NULL, *df_dir = NULL, *path = NULL, *tmp_path = NULL;
	size_t max;
	int rc;

	if (!cfg)
		return dp_error(DNNPROV_EINVAL, "dnnprov_tag: NULL config");
	if ((rc = dp_check_tag("task id", task_id)) || (rc = dp_check_tags(tags, n, &max)))
		return rc;
	if (!(df_dir = dp_path_join(cfg->log_dir, cfg->dataflow)) || !(dir = dp_path_join(df_dir, task_id))) {
		rc = dp_error(DNNPROV_ENOMEM, "out of memory");
		goto out;
	}
	/* The logs say whether the task exists, and give the run to name. */
	if ((rc = dp_task_history_read(dir, false, &h)))
		goto out;
	if (!h.has_segments) {
		rc = dp_error(DNNPROV_ENOTFOUND, "dataflow '%s' has no task '%s' in %s", cfg->dataflow,
			      task_id, cfg->log_dir);
		goto out;
	}
	if (h.phase == DP_PHASE_NEW) {
		rc = dp_error(DNNPROV_ESTATE, "task '%s' of dataflow '%s' has not begun: nothing to tag",
			      task_id, cfg->dataflow);
		goto out;
	}
	if (gethostname(hostname, sizeof(hostname) - 1) != 0 || !hostname[0])
		strcpy(hostname, "localhost");
	if ((rc = encode_note(cfg, task_id, hostname, &h, tags, n, max, &bytes)))
		goto out;
	dp_sanitize_host(host, sizeof(host), hostname);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char stamp[40];
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", &tm);
	for (int attempt = 0;; attempt++) {
		/* The nanoseconds keep names distinct and in time order within a
		 * process; the counter covers a clock that does not move. */
		snprintf(name, sizeof(name), DP_NOTE_PREFIX "%s.%09ldZ-%s-%ld-%d%s", stamp, ts.tv_nsec, host,
			 (long)getpid(), attempt, DP_SEGMENT_SUFFIX);
		snprintf(tmp, sizeof(tmp), ".%s", name);
		free(path);
		free(tmp_path);
		tmp_path = NULL;
		if (!(path = dp_path_join(dir, name)) || !(tmp_path = dp_path_join(dir, tmp))) {
			rc = dp_error(DNNPROV_ENOMEM, "out of memory");
			goto out;
		}
		if (access(path, F_OK) == 0 && attempt < 100)
			continue;
		int err = write_file(tmp_path, bytes.data, bytes.len);
		if (err == -EEXIST && attempt < 100)
			continue;
		if (err) {
			rc = dp_error_errno(-err, "cannot write %s", tmp_path);
			goto out;
		}
		break;
	}
	/* link(2) fails rather than replace a note of the same name. */
	if (link(tmp_path, path) != 0) {
		rc = dp_error_errno(errno, "cannot create %s", path);
		unlink(tmp_path);
		goto out;
	}
	unlink(tmp_path);
	sync_dir(dir);
	dp_touch_dataflow_folder(dir);
	dp_error_clear();
out:
	dp_task_history_free(&h);
	dp_buf_free(&bytes);
	free(tmp_path);
	free(path);
	free(dir);
	free(df_dir);
	return rc;
}
