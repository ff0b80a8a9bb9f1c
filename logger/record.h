/*
 * record.h - a decoded record, checked against the schema of
 * docs/FORMAT.md.  The indexer applies only records that pass; anything
 * else is reported with the reason dp_record_parse() gives.
 *
 * A log file is untrusted input: names are checked as tags (they become
 * index keys), counts are bounded, and values must have the types the
 * format says.  Unknown keys are ignored, as FORMAT.md promises.
 */
#ifndef DNNPROV_RECORD_H
#define DNNPROV_RECORD_H

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/util.h"

typedef enum dp_record_kind {
	DP_REC_SPEC = 1,
	DP_REC_BEGIN,
	DP_REC_LAYERS,
	DP_REC_EPOCH,
	DP_REC_ADAPT,
	DP_REC_TEST,
	DP_REC_ELEMENT,
	DP_REC_END,
	DP_REC_TAG,
	DP_REC_USED,      /* an entity the task read (docs/LINEAGE.md) */
	DP_REC_GENERATED, /* an entity the task wrote */
	DP_REC_REFUSED,
} dp_record_kind;
#define DP_REC_LAST DP_REC_REFUSED

/* A string inside the decoded msgpack object (not NUL-terminated). */
typedef struct dp_str {
	const char *p;
	uint32_t n;
} dp_str;

/* The process (or process group) a task's liveness follows. */
typedef struct dp_owner {
	dp_str host, boot;
	int64_t pid;
	uint64_t start; /* the process's start time in ticks since boot; 0: unknown */
	bool group;     /* pid is a process group (a shell script's) */
} dp_owner;

/* Every pointer points into the msgpack object the record was parsed from
 * and lives as long as it does. */
typedef struct dp_record {
	dp_record_kind kind;
	double time;
	double mono; /* seconds since its writer's host booted; NaN when the record has none */
	const msgpack_object *root;
	union {
		struct {
			dp_str dataflow;
			const msgpack_object *hyperparameters; /* array of {name, type} */
			const msgpack_object *metrics;         /* array of str */
			bool adaptation;
			const msgpack_object *transformations; /* array */
			const msgpack_object *metric_ranges;   /* map str -> [low, high], or NULL */
		} spec;
		struct {
			dp_str task, transformation, execution, host, user;
			int64_t pid;
			const msgpack_object *hyperparameters; /* map name -> value */
			uint64_t attempt; /* 0 in version 1 records */
			bool resume;
			bool has_owner;
			dp_owner owner;
			const msgpack_object *facts; /* map name -> value; NULL when absent */
		} begin;
		struct {
			const msgpack_object *layers; /* array of {name, kind, value} */
		} layers;
		struct {
			int64_t epoch;
			double elapsed;
			const msgpack_object *metrics; /* map name -> number */
		} epoch;
		struct {
			int64_t epoch;
			dp_str hyperparameter;
			const msgpack_object *old_value; /* NULL when absent */
			const msgpack_object *new_value;
			int64_t id;
		} adapt;
		struct {
			const msgpack_object *metrics;
		} test;
		struct {
			dp_str transformation, set;
			const msgpack_object *values; /* map attribute -> value */
		} element;
		struct {
			dp_str status;  /* FINISHED, FAILED, KILLED or PRUNED */
			dp_str message; /* n == 0 when absent */
		} end;
		struct {
			const msgpack_object *tags; /* map key -> value; nil removes the key */
		} tag;
		struct { /* DP_REC_USED and DP_REC_GENERATED */
			dp_str role, location, fingerprint;
			int64_t size;  /* -1: absent */
			int64_t files; /* a folder's entries; -1: absent */
		} entity;
		struct {
			dp_str record;  /* the kind of the record the names were refused from */
			bool has_epoch;
			int64_t epoch;
			const msgpack_object *values; /* map name -> value */
			dp_str why;     /* n == 0 when absent */
		} refused;
	} u;
} dp_record;

/* Checks `root` against the record schema and fills *rec.  Returns 0, or
 * DNNPROV_ECORRUPT with a detail naming the offending field. */
DP_INTERNAL int dp_record_parse(const msgpack_object *root, dp_record *rec);

/* The first name of the dataflow's parts in r (a hyperparameter, metric,
 * transformation, set or attribute name) that is a tag but not a name
 * (dp_check_name): older writers took any tag.  Such a record is still
 * indexed as written; the indexer reports it.  Returns true with why[]
 * naming it and the character, false when every name is one. */
DP_INTERNAL bool dp_record_name_problem(const dp_record *r, char *why, size_t cap);

/* A number from an integer or float object; false for anything else. */
DP_INTERNAL bool dp_obj_number(const msgpack_object *o, double *out);

DP_INTERNAL const char *dp_record_kind_name(dp_record_kind k);

#endif
