/*
 * history.c - a task's state read back from its segments (see history.h).
 *
 * The segments of a task are read in causal order (scan.c's order), and
 * their records replayed: begin and end records move the phase, adapt and
 * epoch records (in a full read) the values in force and the last epoch.
 * A version 2 segment header carries what its writer knew when it opened
 * the segment, so the quick read starts from the newest header and
 * replays only that segment: a shell script that records each epoch with
 * its own `dnnprov log` call reads one small segment per call, not all of
 * them.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "logger/decode.h"
#include "logger/format.h"
#include "logger/history.h"
#include "logger/record.h"
#include "logger/scan.h"

void dp_task_history_free(dp_task_history *h)
{
	for (size_t i = 0; i < h->nin_force; i++) {
		if (h->in_force[i].type == DNNPROV_TEXT)
			free((char *)h->in_force[i].as.s);
		free((char *)h->in_force[i].name);
	}
	free(h->in_force);
	free(h->set_at);
	memset(h, 0, sizeof(*h));
}

/* ---- the values in force ---------------------------------------------------- */

static int value_from_obj(const msgpack_object *o, dnnprov_value *v)
{
	dp_mpr_scalar s;
	dp_obj_scalar(o, &s);
	v->type = DNNPROV_NULL;
	switch (s.kind) {
	case DP_MPR_INT:
		v->type = DNNPROV_INT;
		v->as.i = s.i;
		return 0;
	case DP_MPR_BIG: /* past INT64_MAX: its nearest double */
	case DP_MPR_REAL:
		v->type = DNNPROV_REAL;
		v->as.r = s.d;
		return 0;
	case DP_MPR_STR: {
		char *text = malloc((size_t)s.n + 1);
		if (!text)
			return dp_error(DNNPROV_ENOMEM, "out of memory");
		if (s.n)
			memcpy(text, s.s, s.n);
		text[s.n] = '\0';
		v->type = DNNPROV_TEXT;
		v->as.s = text;
		return 0;
	}
	default:
		return 0;
	}
}

/* Sets `name` to `o` as of `epoch` unless a later adaptation set it. */
static int set_value(dp_task_history *h, const char *name, size_t nlen, const msgpack_object *o,
		     int64_t epoch)
{
	size_t i = 0;
	for (; i < h->nin_force; i++)
		if (strlen(h->in_force[i].name) == nlen && memcmp(h->in_force[i].name, name, nlen) == 0)
			break;
	if (i < h->nin_force && h->set_at[i] > epoch)
		return 0;
	dnnprov_value v;
	int rc = value_from_obj(o, &v);
	if (rc)
		return rc;
	if (i == h->nin_force) {
		dnnprov_value *grown = realloc(h->in_force, (i + 1) * sizeof(*grown));
		int64_t *at = grown ? realloc(h->set_at, (i + 1) * sizeof(*at)) : NULL;
		char *copy = at ? malloc(nlen + 1) : NULL;
		if (grown)
			h->in_force = grown;
		if (at)
			h->set_at = at;
		if (!copy) {
			if (v.type == DNNPROV_TEXT)
				free((char *)v.as.s);
			return dp_error(DNNPROV_ENOMEM, "out of memory");
		}
		memcpy(copy, name, nlen);
		copy[nlen] = '\0';
		h->in_force[i].name = copy;
		h->in_force[i].type = DNNPROV_NULL;
		h->nin_force++;
	}
	if (h->in_force[i].type == DNNPROV_TEXT)
		free((char *)h->in_force[i].as.s);
	v.name = h->in_force[i].name;
	h->in_force[i] = v;
	h->set_at[i] = epoch;
	return 0;
}

/* ---- replaying records ----------------------------------------------------------- */

static int apply(dp_task_history *h, const dp_record *r, bool full)
{
	int rc = 0;
	switch (r->kind) {
	case DP_REC_BEGIN:
		/* The values are the first begin's: a resume keeps them, and what
		 * it changed is an adaptation. */
		if (full && h->attempts == 0) {
			const msgpack_object *m = r->u.begin.hyperparameters;
			for (uint32_t i = 0; i < m->via.map.size && !rc; i++)
				rc = set_value(h, m->via.map.ptr[i].key.via.str.ptr, m->via.map.ptr[i].key.via.str.size,
					       &m->via.map.ptr[i].val, INT64_MIN);
		}
		h->attempts++;
		h->phase = DP_PHASE_RUNNING;
		h->status[0] = '\0';
		break;
	case DP_REC_END:
		h->phase = DP_PHASE_ENDED;
		snprintf(h->status, sizeof(h->status), "%.*s", (int)r->u.end.status.n, r->u.end.status.p);
		break;
	case DP_REC_EPOCH:
		if (!h->has_epoch || r->u.epoch.epoch > h->last_epoch)
			h->last_epoch = r->u.epoch.epoch;
		h->has_epoch = true;
		break;
	case DP_REC_ADAPT:
		if (full)
			rc = set_value(h, r->u.adapt.hyperparameter.p, r->u.adapt.hyperparameter.n,
				       r->u.adapt.new_value, r->u.adapt.epoch);
		break;
	default:
		break;
	}
	return rc;
}

/* Replays the records of one segment; a version 2 header also names the
 * run.  Frames that fail their checks are skipped, as the indexer skips
 * them; a torn tail ends the segment (its writer died: we hold the lock). */
static int replay_segment(dp_task_history *h, const char *path, bool full, dp_decoder *dec)
{
	dp_segment_header hdr;
	dp_reader *r = NULL;
	dp_frame f;
	dp_problem pb;
	int res, rc = dp_reader_open(path, 0, &r, &hdr);

	if (rc == DNNPROV_ETRUNCATED || rc == DNNPROV_EVERSION)
		return 0; /* a header never completed, or a newer format: nothing to replay */
	if (rc)
		return rc;
	if (hdr.valid && hdr.run[0] && !h->run[0])
		snprintf(h->run, sizeof(h->run), "%s", hdr.run);
	while ((res = dp_reader_next(r, &f, &pb)) > 0) {
		msgpack_object o;
		dp_record rec;
		if (res == DP_READ_TORN)
			break;
		if (res != DP_READ_RECORD)
			continue;
		rc = dp_decode_checked(dec, f.payload, f.length, &o);
		if (rc == DNNPROV_ENOMEM)
			break;
		if (rc == 0 && dp_record_parse(&o, &rec) == 0 && (rc = apply(h, &rec, full)))
			break;
		rc = 0;
	}
	if (!rc && res < 0)
		rc = res;
	dp_reader_close(r);
	return rc;
}

/* Starts from what the newest segment's header says: true when it could. */
static bool start_from_header(dp_task_history *h, const char *path)
{
	dp_segment_header hdr;
	dp_reader *r = NULL;
	if (dp_reader_open(path, 0, &r, &hdr) != 0)
		return false;
	dp_reader_close(r);
	if (!hdr.valid || hdr.version < 2 || !hdr.run[0] || !hdr.state[0])
		return false;
	snprintf(h->run, sizeof(h->run), "%s", hdr.run);
	h->attempts = hdr.attempts;
	if (strcmp(hdr.state, "new") == 0) {
		h->phase = DP_PHASE_NEW;
	} else if (strcmp(hdr.state, "RUNNING") == 0) {
		h->phase = DP_PHASE_RUNNING;
	} else {
		h->phase = DP_PHASE_ENDED;
		snprintf(h->status, sizeof(h->status), "%s", hdr.state);
	}
	return true;
}

static int list_segments(const char *dir, dp_path_list *names, uint32_t *max_seq)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t sl = strlen(DP_SEGMENT_SUFFIX);
	int rc = 0;

	*max_seq = 0;
	if (!d)
		return errno == ENOENT ? 0 : dp_error_errno(errno, "cannot read the task folder %s", dir);
	while (rc == 0 && (e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);
		/* Note segments hold tags, which say nothing of the task's state. */
		if (e->d_name[0] == '.' || n <= sl || strcmp(e->d_name + n - sl, DP_SEGMENT_SUFFIX) != 0 ||
		    dp_segment_name_is_note(e->d_name))
			continue;
		uint32_t seq = dp_segment_name_sequence(e->d_name);
		if (seq > *max_seq)
			*max_seq = seq;
		char *p = dp_path_join(dir, e->d_name);
		struct stat st;
		/* Regular files only, as the indexer reads them. */
		if (!p)
			rc = dp_error(DNNPROV_ENOMEM, "out of memory");
		else if (lstat(p, &st) == 0 && S_ISREG(st.st_mode))
			rc = dp_path_list_add(names, p);
		free(p);
	}
	closedir(d);
	if (rc == 0)
		dp_path_list_sort(names);
	return rc;
}

int dp_task_history_read(const char *dir, bool full, dp_task_history *h)
{
	dp_path_list segs = { 0 };
	dp_decoder dec = { 0 };
	size_t first = 0;
	int rc;

	memset(h, 0, sizeof(*h));
	if ((rc = list_segments(dir, &segs, &h->max_sequence)))
		goto out;
	h->has_segments = segs.n > 0;
	if (!full && segs.n && start_from_header(h, segs.paths[segs.n - 1]))
		first = segs.n - 1;
	for (size_t i = first; i < segs.n && rc == 0; i++)
		rc = replay_segment(h, segs.paths[i], full, &dec);
	if (rc == 0 && dec.out_of_memory)
		rc = dp_error(DNNPROV_ENOMEM, "out of memory reading the task's records");
out:
	dp_path_list_free(&segs);
	dp_decoder_free(&dec);
	if (rc)
		dp_task_history_free(h);
	else
		dp_error_clear();
	return rc;
}
