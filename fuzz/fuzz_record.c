/*
 * fuzz_record.c - the record decoder and the indexer's record validation on
 * arbitrary payloads (as if they had a valid checksum): no crash, no
 * unbounded allocation (counts are checked against the bytes before
 * msgpack-c allocates), and JSON output of what decodes.
 */
#include <stdint.h>
#include <stdlib.h>

#include "logger/decode.h"
#include "logger/record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static dp_decoder dec;
	msgpack_object o;
	dp_record rec;
	dp_buf json = { 0 };

	if (dp_decode(&dec, data, size, &o) != 0)
		return 0;
	dp_record_parse(&o, &rec);
	if (dp_json_object(&json, &o) == 0 && !dp_utf8_valid(json.data, json.len))
		abort(); /* JSON output must be valid UTF-8 */
	dp_buf_free(&json);
	return 0;
}
