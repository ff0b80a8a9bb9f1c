/*
 * format.h - the segment file format, version 2.  docs/FORMAT.md says the
 * same in more words; this comment is the normative copy.
 *
 * A segment is written by exactly one process and only appended to.
 *
 * NAMES AND ORDER
 *
 *   <log_dir>/<dataflow>/<task>/<sequence>-<host>-<pid>.dnplog
 *
 * `sequence` is the segment's place in its task, ten decimal digits: a
 * writer numbers a new segment one past the highest it finds in the task's
 * folder, so the records of a task are ordered by (sequence, name, offset),
 * causally, whatever the clocks say.  Version 1 names began with the
 * creation time; a reader orders them before every version 2 segment of
 * the same task, by name.
 *
 *   <log_dir>/<dataflow>/<task>/note-<created>-<host>-<pid>-<n>.dnplog
 *
 * A note segment holds tag records that a process other than the task's
 * writer added (`dnnprov tag`): it takes no lock and no sequence number,
 * so a task can be tagged while another process records it, or after it
 * ended.  It appears whole (written under a dot name, then renamed) and
 * holds header, records and seal.  Its header's sequence is 0; its
 * records are ordered among the task's tags by their time.
 *
 * SEGMENT HEADER (all integers big-endian)
 *
 *   offset  size  field
 *   0       8     magic  89 44 4E 50 4C 4F 47 0A   ("\x89DNPLOG\n")
 *   8       2     format version (1)
 *   10      2     reserved, 0
 *   12      4     H, the length of the header map, 1 .. 65536
 *   16      H     msgpack map: producer (str, "dnnprov 0.1.0"), dataflow (str),
 *                 task (str), host (str), pid (int), created (float64 seconds
 *                 since the Unix epoch), sequence (uint, as in the name),
 *                 and, new in version 2, what the writer knew of the task
 *                 when it opened the segment: run (str, the id of the run
 *                 the task's first begin started), attempts (uint, begin
 *                 records of the task before this segment), state (str:
 *                 "new", "RUNNING", or the status of its last end record),
 *                 and since it was added boot (str, the writing host's
 *                 boot id, "" when unknown): what its records' `mono`
 *                 times count in
 *   16+H    4     CRC32C of bytes [0, 16+H)
 *
 * Frames follow at offset 20+H.
 *
 * FRAME
 *
 *   0       3     magic "DPF"
 *   3       1     type: 'R' a record, 'S' the seal (last frame of a segment)
 *   4       4     L, the payload length, 1 .. DNNPROV_RECORD_MAX (1 MiB)
 *   8       4     CRC32C of the payload
 *   12      4     CRC32C of bytes [0, 12) of this frame
 *   16      L     payload: one msgpack map (docs/FORMAT.md lists the keys:
 *                 kind, time, and from writers since it was added mono,
 *                 the seconds since the host booted, CLOCK_BOOTTIME)
 *
 * The header checksum makes the length trustworthy on its own, so a payload
 * that fails its checksum costs exactly that frame: the reader skips L bytes
 * and goes on.  A frame header that fails its checksum means the length is
 * unknown: the reader scans forward for the next "DPF" whose header checksum
 * holds, reports the bytes in between as corrupt, and resumes there.
 *
 * READING RULES (reader.c), at offset p with n bytes left in the file:
 *   n == 0                              clean end
 *   n < 16, bytes a prefix of "DPF"     torn tail (a frame being written)
 *   header checksum holds, 16+L > n     torn tail
 *   header checksum fails or bad magic  corruption; resynchronize
 *   payload checksum fails              corruption of one frame; skip 16+L
 *   payload not one msgpack map         undecodable frame; skip 16+L
 *   any byte after the seal             corruption
 * A torn tail is not an error while the writer lives: the reader stops
 * before it and resumes from the same offset when the file grows.
 *
 * The seal's payload is a map {records: uint} counting the record frames of
 * the segment.  A segment without a seal was not closed (its writer is still
 * running, or died).
 */
#ifndef DNNPROV_FORMAT_H
#define DNNPROV_FORMAT_H

#include <stdint.h>

#define DP_FORMAT_VERSION 2
#define DP_FORMAT_VERSION_MIN 1 /* the oldest version a reader still reads */
#define DP_SEGMENT_MAGIC "\x89" "DNPLOG\n"
#define DP_SEGMENT_MAGIC_LEN 8
#define DP_SEGMENT_FIXED 16      /* magic, version, reserved, H */
#define DP_SEGMENT_HEADER_MAX 65536
#define DP_FRAME_MAGIC "DPF"
#define DP_FRAME_HEADER 16
#define DP_FRAME_RECORD 'R'
#define DP_FRAME_SEAL 'S'
#define DP_SEGMENT_SUFFIX ".dnplog"
#define DP_SEQUENCE_DIGITS 10
#define DP_NOTE_PREFIX "note-"
#define DP_RUN_ID_LEN 32 /* hex digits */

/* Fills the 16-byte header of a frame whose payload is already in place
 * right after it. */
static inline void dp_frame_seal_header(unsigned char *frame, char type, uint32_t len,
					uint32_t payload_crc, uint32_t (*crc)(uint32_t, const void *, size_t))
{
	frame[0] = 'D';
	frame[1] = 'P';
	frame[2] = 'F';
	frame[3] = (unsigned char)type;
	frame[4] = (unsigned char)(len >> 24);
	frame[5] = (unsigned char)(len >> 16);
	frame[6] = (unsigned char)(len >> 8);
	frame[7] = (unsigned char)len;
	frame[8] = (unsigned char)(payload_crc >> 24);
	frame[9] = (unsigned char)(payload_crc >> 16);
	frame[10] = (unsigned char)(payload_crc >> 8);
	frame[11] = (unsigned char)payload_crc;
	uint32_t h = crc(0, frame, 12);
	frame[12] = (unsigned char)(h >> 24);
	frame[13] = (unsigned char)(h >> 16);
	frame[14] = (unsigned char)(h >> 8);
	frame[15] = (unsigned char)h;
}

#endif
