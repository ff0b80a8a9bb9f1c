/*
 * cmd_cat.c - `dnnprov cat`: every record of the given segments or log
 * folders as one JSON object per line, for jq, grep and eyes.
 */
#include <getopt.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "logger/decode.h"
#include "logger/reader.h"
#include "logger/scan.h"

const char cmd_cat_usage[] =
	"usage: dnnprov cat [--kind K[,K...]] [--task ID] [--seconds] PATH...\n"
	"\n"
	"Prints the records of segment files, or of every segment under a log\n"
	"folder, as JSON lines.  Each record's keys (kind, time, epoch, metrics, ...;\n"
	"see docs/FORMAT.md) are followed by dataflow, task, segment and offset.  The\n"
	"time is ISO 8601 UTC with microseconds, as every answer writes a time\n"
	"(--seconds: the number of seconds since 1970 as stored, to the last bit).\n"
	"NaN and infinities print as the strings \"NaN\", \"Infinity\", \"-Infinity\".\n"
	"Damaged data is reported on stderr with its offset and skipped.\n"
	"\n"
	"options:\n"
	"  -k, --kind K    only records of these kinds: spec, begin, layers, epoch,\n"
	"                  adapt, test, element, end\n"
	"  -t, --task ID   only records of this task\n"
	"      --seconds   times as the seconds the record holds, not ISO 8601\n"
	"\n"
	"exit status: 0, or 1 when a path could not be read or data was damaged\n"
	"(an incomplete last record of a segment still being written is not damage).\n";

#define CMD "cat"

/* --seconds: a record's time as stored, not as ISO 8601 text. */
static bool exact_times;

static bool kind_wanted(const char *kinds, const msgpack_object *kind)
{
	const char *p = kinds;
	if (!kinds)
		return true;
	if (!kind || kind->type != MSGPACK_OBJECT_STR)
		return false;
	while (*p) {
		size_t n = strcspn(p, ",");
		if (n == kind->via.str.size && memcmp(p, kind->via.str.ptr, n) == 0)
			return true;
		p += n + (p[n] == ',');
	}
	return false;
}

/* The task and dataflow of a segment: from its header, or from its path
 * (<log_dir>/<dataflow>/<task>/<file>) when the header is damaged. */
static void segment_identity(const char *path, const dp_segment_header *h, char *df, char *task,
			     size_t cap)
{
	if (h->valid) {
		snprintf(df, cap, "%s", h->dataflow);
		snprintf(task, cap, "%s", h->task);
		return;
	}
	char *copy = strdup(path);
	char *dir = copy ? dirname(copy) : NULL;
	snprintf(task, cap, "%s", dir ? basename(dir) : "");
	char *copy2 = dir ? strdup(dir) : NULL;
	char *dfdir = copy2 ? dirname(copy2) : NULL;
	snprintf(df, cap, "%s", dfdir ? basename(dfdir) : "");
	free(copy2);
	free(copy);
}

/* One record as a JSON line, with where it came from. */
static int format_record(dp_buf *line, const msgpack_object *o, const char *df, const char *task,
			 const char *path, uint64_t offset)
{
	int rc;
	line->len = 0;
	if ((rc = exact_times ? dp_json_object(line, o) : dp_json_record(line, o)))
		return rc;
	line->len--; /* reopen the object to add where the record came from */
	if (!dp_map_get(o, "dataflow") &&
	    ((rc = dp_buf_append(line, ",\"dataflow\":", 12)) || (rc = dp_json_string(line, df, strlen(df)))))
		return rc;
	if (!dp_map_get(o, "task") &&
	    ((rc = dp_buf_append(line, ",\"task\":", 8)) || (rc = dp_json_string(line, task, strlen(task)))))
		return rc;
	if ((rc = dp_buf_append(line, ",\"segment\":", 11)) || (rc = dp_json_string(line, path, strlen(path))))
		return rc;
	return dp_buf_printf(line, ",\"offset\":%llu}\n", (unsigned long long)offset);
}

static int cat_segment(const char *path, const char *kinds, const char *task_filter, dp_buf *line,
		       dp_decoder *dec)
{
	dp_segment_header hdr;
	dp_reader *r;
	dp_frame f;
	dp_problem pb;
	char df[DNNPROV_NAME_MAX + 1], task[DNNPROV_NAME_MAX + 1];
	int rc, status = 0;

	if ((rc = dp_reader_open(path, 0, &r, &hdr))) {
		if (rc == DNNPROV_ETRUNCATED)
			return 0; /* a segment being created: nothing to show yet */
		cli_lib_error(CMD, rc, path);
		return 1;
	}
	segment_identity(path, &hdr, df, task, sizeof(df));
	if (task_filter && strcmp(task, task_filter) != 0) {
		dp_reader_close(r);
		return 0;
	}
	while ((rc = dp_reader_next(r, &f, &pb)) > 0) {
		msgpack_object o;
		if (rc == DP_READ_SEAL)
			continue;
		if (rc == DP_READ_TORN) {
			cli_error(CMD, "%s: offset %llu: incomplete last record (%llu bytes): still being written, or its writer died",
				  path, (unsigned long long)pb.offset, (unsigned long long)pb.length);
			break;
		}
		if (rc == DP_READ_PROBLEM) {
			cli_error(CMD, "%s: offset %llu: %s, %llu bytes skipped", path,
				  (unsigned long long)pb.offset, dp_problem_name(pb.kind),
				  (unsigned long long)pb.length);
			status = 1;
			continue;
		}
		int drc = dp_decode(dec, f.payload, f.length, &o);
		if (drc == DNNPROV_ENOMEM) {
			cli_lib_error(CMD, drc, path);
			status = 1;
			break;
		}
		if (drc != 0 || o.type != MSGPACK_OBJECT_MAP) {
			cli_error(CMD, "%s: offset %llu: undecodable record skipped", path,
				  (unsigned long long)f.offset);
			status = 1;
			continue;
		}
		if (!kind_wanted(kinds, dp_map_get(&o, "kind")))
			continue;
		int frc = format_record(line, &o, df, task, path, f.offset);
		if (frc) {
			cli_lib_error(CMD, frc, path);
			status = 1;
			break; /* a line cut short must not look like a record */
		}
		fwrite(line->data, 1, line->len, stdout);
	}
	if (rc < 0) {
		cli_lib_error(CMD, rc, path);
		status = 1;
	}
	dp_reader_close(r);
	return status;
}

int cmd_cat(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "kind", required_argument, NULL, 'k' },
		{ "task", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ "seconds", no_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	static const char shortopts[] = "k:t:h";
	const char *kinds = NULL, *task = NULL;
	dp_buf line = { 0 };
	dp_decoder dec = { 0 };
	int c, status = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
		switch (c) {
		case 'h': return cli_help(CMD);
		case 'k': kinds = optarg; break;
		case 't': task = optarg; break;
		case 'S': exact_times = true; break;
		default: return cli_bad_option(CMD, argv, shortopts, opts);
		}
	}
	if (optind >= argc)
		return cli_usage(CMD, "a segment file or log folder is required");
	for (int i = optind; i < argc; i++) {
		dp_path_list segs = { 0 };
		if (cli_find_segments(CMD, argv[i], &segs))
			status = 1;
		for (size_t k = 0; k < segs.n; k++)
			if (cat_segment(segs.paths[k], kinds, task, &line, &dec))
				status = 1;
		dp_path_list_free(&segs);
	}
	dp_buf_free(&line);
	dp_decoder_free(&dec);
	return cli_finish(CMD, status);
}
