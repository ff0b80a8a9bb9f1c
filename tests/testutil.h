/*
 * testutil.h - helpers shared by the Check suites: temporary folders,
 * experiment files, and reading back every record of a log tree.
 */
#ifndef DNNPROV_TESTUTIL_H
#define DNNPROV_TESTUTIL_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dnnprov.h"
#include "util/util.h"

/* A new empty folder under $TMPDIR (or /tmp); the caller frees the string
 * and may remove the tree with tu_rmtree(). */
char *tu_mkdtemp(void);
void tu_rmtree(const char *path);

/* Writes `text` to dir/name and returns the path (caller frees). */
char *tu_write_file(const char *dir, const char *name, const char *text);

/* Writes a config with the given extra YAML lines appended to a standard
 * header (dataflow "df", log_dir dir/logs, index_dir dir/index, the seven
 * hyperparameters selected, metrics loss and accuracy, adaptation on) and
 * loads it; aborts the test on failure. */
dnnprov_config *tu_config(const char *dir, const char *extra_yaml);

/* One record read back. */
typedef struct tu_record {
	char *json;      /* the record as JSON (dp_json_object) */
	char kind[16];
	char segment[4096];
	uint64_t offset;
} tu_record;

typedef struct tu_records {
	tu_record *r;
	size_t n;
	size_t problems; /* frames reported damaged */
	size_t torn;     /* segments ending in a torn tail */
	size_t sealed;   /* segments with a seal */
	size_t segments;
} tu_records;

/* Reads every segment under path in name order. */
void tu_read_all(const char *path, tu_records *out);
void tu_records_free(tu_records *rs);
/* Index of the first record of `kind` at or after `from`, or -1. */
long tu_find(const tu_records *rs, const char *kind, size_t from);
size_t tu_count(const tu_records *rs, const char *kind);

/* Size of a file, or -1. */
long long tu_file_size(const char *path);
/* Copies the first n bytes of src to dst. */
void tu_copy_prefix(const char *src, const char *dst, long long n);

#endif
