/*
 * fuzz_reader.c - the segment reader on arbitrary bytes.  Invariants: no
 * crash, bounded work, and every frame returned as a record passes its
 * checksum and holds one msgpack map (no wrong payload is ever returned).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "logger/format.h"
#include "logger/mpack.h"
#include "logger/reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	dp_segment_header h;
	dp_reader *r;
	dp_frame f;
	dp_problem pb;
	int fd = memfd_create("segment", 0);

	dp_segment_header_parse(data, size, &h);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (dp_reader_open(path, 0, &r, &h) == 0) {
		int rc, guard = 0;
		while ((rc = dp_reader_next(r, &f, &pb)) > 0 && rc != DP_READ_TORN) {
			if (rc == DP_READ_RECORD) {
				if (dp_crc32c(0, f.payload, f.length) != dp_get_be32(f.payload - 8))
					abort(); /* a record that fails its checksum */
				if (!dp_mp_check(f.payload, f.length))
					abort(); /* a record that is not one msgpack object */
			}
			if (rc == DP_READ_PROBLEM && pb.length == 0)
				abort(); /* a problem that skips nothing would loop */
			if (++guard > (int)size + 16)
				abort(); /* more results than bytes: no progress */
		}
		dp_reader_close(r);
	}
	close(fd);
	return 0;
}
