/*
 * cmd_check.c - `dnnprov check`: verifies segment files and says, per
 * segment, how much of it is good and what is wrong where, the way
 * redis-check-aof reports ok_up_to.  With --fix it truncates a torn tail of
 * a segment whose writer is gone and seals it.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "logger/format.h"
#include "logger/mpack.h"
#include "logger/reader.h"
#include "logger/scan.h"
#include "logger/writer.h"

const char cmd_check_usage[] =
	"usage: dnnprov check [--fix [--yes]] [--quiet] PATH...\n"
	"\n"
	"Reads every frame of the segment files at or under each PATH and prints, per\n"
	"segment: records, valid bytes, whether it is sealed, and each problem with its\n"
	"offset and the bytes it costs (bad checksum, garbage, undecodable record,\n"
	"truncated tail, data after the seal).  A damaged record costs only itself.\n"
	"\n"
	"A truncated tail is normal while its writer runs; it is a problem once the\n"
	"writer is gone (a process of this host that no longer exists).\n"
	"\n"
	"options:\n"
	"  --fix     truncate the torn tail of each unsealed segment whose writer is gone\n"
	"            and seal it; asks first unless --yes\n"
	"  --yes     do not ask; also fix segments written on other hosts\n"
	"  -q, --quiet  print only segments with problems\n"
	"\n"
	"exit status: 0 when every segment is clean, 1 when a problem was found (and\n"
	"not fixed), 2 on a usage error.\n";

#define CMD "check"

typedef enum { WRITER_ALIVE, WRITER_GONE, WRITER_UNKNOWN } writer_state;

static writer_state writer_of(const dp_segment_header *h)
{
	char host[256];
	if (!h->valid || gethostname(host, sizeof(host)) != 0 || strcmp(host, h->host) != 0)
		return WRITER_UNKNOWN;
	if (h->pid <= 0 || (kill((pid_t)h->pid, 0) != 0 && errno == ESRCH))
		return WRITER_GONE;
	return WRITER_ALIVE;
}

static bool confirm(const char *path, uint64_t off, uint64_t drop)
{
	char answer[16];
	FILE *tty = fopen("/dev/tty", "r+");
	if (!tty)
		return false;
	fprintf(tty, "truncate %s at offset %llu, dropping %llu bytes, and seal it? [y/N] ", path,
		(unsigned long long)off, (unsigned long long)drop);
	fflush(tty);
	bool yes = fgets(answer, sizeof(answer), tty) && (answer[0] == 'y' || answer[0] == 'Y');
	fclose(tty);
	return yes;
}

static int fix_tail(const char *path, uint64_t off, uint64_t records)
{
	unsigned char frame[DP_SEAL_MAX];
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0) {
		cli_error(CMD, "%s: cannot open for writing: %s", path, strerror(errno));
		return 1;
	}
	/* The seal a writer closes a segment with. */
	size_t n = dp_seal_encode(frame, records);
	if (ftruncate(fd, (off_t)off) != 0 || pwrite(fd, frame, n, (off_t)off) != (ssize_t)n ||
	    fsync(fd) != 0) {
		cli_error(CMD, "%s: cannot fix: %s", path, strerror(errno));
		rc = 1;
	}
	close(fd);
	return rc;
}

static int check_segment(const char *path, bool fix, bool yes, bool quiet)
{
	dp_segment_header hdr;
	dp_reader *r;
	dp_frame f;
	dp_problem pb;
	uint64_t records = 0, bad_bytes = 0, torn_at = 0, torn_len = 0;
	dp_buf report = { 0 };
	bool torn = false, sealed = false;
	int rc, status = 0;
	struct stat st;

	if ((rc = dp_reader_open(path, 0, &r, &hdr))) {
		cli_lib_error(CMD, rc, path);
		return 1;
	}
	while ((rc = dp_reader_next(r, &f, &pb)) > 0) {
		if (rc == DP_READ_RECORD) {
			records++;
		} else if (rc == DP_READ_SEAL) {
			sealed = true;
		} else if (rc == DP_READ_TORN) {
			torn = true;
			torn_at = pb.offset;
			torn_len = pb.length;
			break;
		} else {
			bad_bytes += pb.length;
			dp_buf_printf(&report, "  offset %llu: %s, %llu bytes skipped\n",
				      (unsigned long long)pb.offset, dp_problem_name(pb.kind),
				      (unsigned long long)pb.length);
			status = 1;
		}
	}
	if (rc < 0) {
		cli_lib_error(CMD, rc, path);
		dp_reader_close(r);
		dp_buf_free(&report);
		return 1;
	}
	uint64_t good_end = dp_reader_offset(r);
	dp_reader_close(r);
	if (stat(path, &st) != 0)
		st.st_size = (off_t)good_end;

	writer_state ws = writer_of(&hdr);
	const char *state = sealed ? "sealed" : ws == WRITER_ALIVE ? "open, writer running"
			  : ws == WRITER_GONE ? "not sealed, writer gone" : "not sealed";
	if (torn) {
		if (ws == WRITER_ALIVE) {
			dp_buf_printf(&report, "  offset %llu: last record incomplete (%llu bytes): being written\n",
				      (unsigned long long)torn_at, (unsigned long long)torn_len);
		} else {
			dp_buf_printf(&report, "  offset %llu: truncated tail, %llu bytes\n",
				      (unsigned long long)torn_at, (unsigned long long)torn_len);
			status = 1;
		}
	}
	if (!quiet || status) {
		printf("%s: %llu record%s, %llu of %llu bytes valid, %s\n", path,
		       (unsigned long long)records, records == 1 ? "" : "s",
		       (unsigned long long)((uint64_t)st.st_size - bad_bytes - (torn ? torn_len : 0)),
		       (unsigned long long)st.st_size, state);
		if (report.len)
			fwrite(report.data, 1, report.len, stdout);
	}
	if (fix && torn && ws != WRITER_ALIVE) {
		if (ws == WRITER_UNKNOWN && !yes) {
			cli_error(CMD, "%s: written on host '%s'; cannot tell whether its writer runs: use --yes to fix it",
				  path, hdr.valid ? hdr.host : "?");
		} else if (yes || confirm(path, torn_at, torn_len)) {
			if (fix_tail(path, good_end, records) == 0) {
				printf("%s: truncated at offset %llu and sealed\n", path,
				       (unsigned long long)good_end);
				if (bad_bytes == 0)
					status = 0;
			}
		} else {
			cli_error(CMD, "%s: not fixed (no confirmation; use --yes)", path);
		}
	}
	dp_buf_free(&report);
	return status;
}

int cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "fix", no_argument, NULL, 'f' },
		{ "yes", no_argument, NULL, 'y' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char shortopts[] = "fyqh";
	bool fix = false, yes = false, quiet = false;
	int c, status = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
		switch (c) {
		case 'h': return cli_help(CMD);
		case 'f': fix = true; break;
		case 'y': yes = true; break;
		case 'q': quiet = true; break;
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
			if (check_segment(segs.paths[k], fix, yes, quiet))
				status = 1;
		dp_path_list_free(&segs);
	}
	return cli_finish(CMD, status);
}
