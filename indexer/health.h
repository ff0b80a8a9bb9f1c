/*
 * health.h - the health rules the indexer applies to a task's epochs as
 * they arrive (docs/STEERING.md states them as formulas), the state they
 * keep per task, and the events they store.
 *
 * The rules read nothing but the task's own epoch records, in the order
 * the task recorded them, and the rules' parameters (config.h's dp_rules,
 * from the indexer's host): the same logs give the same state and the
 * same events, whichever order segments are read in and however batches
 * fall, so a rebuild equals the index it replaces.  The one state that
 * depends on the present time, a stall, is not stored: the query side
 * tells it from the state's epoch times (dp_health_stalled).
 *
 * STORED (schema.h)
 *
 *   health: df task -> the state below, packed (dp_health_pack): a
 *           version byte (1), a flags byte (DP_HF_*), the length of the
 *           main metric's name, the name, then in host order u64 observations, f64 first, best,
 *           ref, last_time, i64 best_epoch, ref_epoch, bad_since, u32
 *           bad_run, since_ref, intervals, and the last min(intervals,
 *           DP_HEALTH_INTERVALS) intervals as f64, oldest first.
 *   events: df task rule int64(epoch) -> msgpack map: rule, epoch, time
 *           (the epoch record's), metric, value, and the rule's evidence
 *           (dp_event_fields lists them).  One per (task, rule, epoch).
 *   outbox: u64be(n) -> the key of an event of `events`, waiting to be
 *           told by a notification (notify.h); not derived from the logs.
 */
#ifndef DNNPROV_HEALTH_H
#define DNNPROV_HEALTH_H

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "logger/record.h"
#include "util/util.h"

typedef enum dp_rule {
	DP_RULE_NAN,
	DP_RULE_DIVERGENCE,
	DP_RULE_PLATEAU,
	DP_RULE_STALL, /* live: never stored */
	DP_RULE_COUNT
} dp_rule;

/* "nan", "divergence", "plateau", "stall" */
DP_INTERNAL extern const char *const dp_rule_names[DP_RULE_COUNT];
/* The rule of that name, or DP_RULE_COUNT. */
DP_INTERNAL dp_rule dp_rule_find(const char *name, size_t n);

/* The health a task shows: its worst present state. */
typedef enum dp_health_state {
	DP_HEALTH_OK,
	DP_HEALTH_PLATEAU,
	DP_HEALTH_STALLED,
	DP_HEALTH_DIVERGED,
	DP_HEALTH_NAN,
} dp_health_state;
/* "ok", "plateau", "stalled", "diverged", "nan" */
DP_INTERNAL const char *dp_health_name(dp_health_state s);

#define DP_HEALTH_INTERVALS 8
/* The scale's last floor: a metric that neither learned nor is away from
 * zero (docs/STEERING.md). */
#define DP_HEALTH_EPSILON 1e-12

#define DP_HF_LOWER 1u    /* lower is better */
#define DP_HF_NAN 2u      /* the last epoch had a NaN or an infinity */
#define DP_HF_DIVERGED 4u /* diverging, told */
#define DP_HF_PLATEAU 8u  /* on a plateau, told */

typedef struct dp_health {
	char metric[DNNPROV_NAME_MAX + 1];   /* the main metric; "" until the first epoch chose it */
	unsigned flags;                      /* DP_HF_* */
	uint64_t n;          /* observations: epochs with a finite value of the metric */
	double first;        /* the first observation */
	double best, ref;    /* the best so far; the reference of the plateau rule */
	int64_t best_epoch, ref_epoch;
	uint32_t bad_run;    /* observations in a row past the divergence line */
	int64_t bad_since;   /* the epoch of the first of them */
	uint32_t since_ref;  /* observations since the reference */
	double last_time;    /* of the last epoch record; NaN: none */
	uint32_t intervals;  /* between epoch records, counted; the last few kept */
	double interval[DP_HEALTH_INTERVALS]; /* a ring: interval[i % DP_HEALTH_INTERVALS] */
} dp_health;

DP_INTERNAL void dp_health_init(dp_health *h);
#define DP_HEALTH_PACKED_MAX (3 + DNNPROV_NAME_MAX + 8 * 8 + 4 * 3 + 8 * DP_HEALTH_INTERVALS)
/* Packs h into out (DP_HEALTH_PACKED_MAX bytes at most); returns its size. */
DP_INTERNAL size_t dp_health_pack(const dp_health *h, unsigned char *out);
/* Reads a stored state: false when the bytes are none (h is then
 * dp_health_init's). */
DP_INTERNAL bool dp_health_unpack(const void *p, size_t n, dp_health *h);

/* An event a rule found in one epoch record: what the events database
 * stores (dp_event_encode).  Texts point into the record or the state. */
typedef struct dp_event {
	dp_rule rule;
	int64_t epoch;
	double time;
	dp_str metric;
	double value;
	/* divergence and plateau */
	bool lower;
	double best, scale, threshold, ref;
	int64_t best_epoch;
	int64_t since;   /* divergence: the first epoch past the line; plateau: the reference's */
	uint32_t epochs; /* the rule's k or n */
	double factor;   /* divergence: f; plateau: d */
	/* nan: the record's metrics (every non-finite one is named) */
	const msgpack_object *metrics;
} dp_event;

#define DP_HEALTH_EVENTS_MAX 3
/* Applies the rules to an epoch record of the task: its epoch, its time
 * and its metrics map.  Updates h and returns how many events began
 * (at most DP_HEALTH_EVENTS_MAX, in ev). */
DP_INTERNAL size_t dp_health_epoch(dp_health *h, const dp_rules *r, int64_t epoch, double time,
				   const msgpack_object *metrics, dp_event *ev);

/* The task's median time between epoch records, from the last ones kept;
 * NaN with fewer than two intervals. */
DP_INTERNAL double dp_health_median_interval(const dp_health *h);
/* Whether a RUNNING task whose last record was at `last` is stalled at
 * `now` by rules r (their stall part); *median gets its median epoch time
 * (NaN when unknown). */
DP_INTERNAL bool dp_health_stalled(const dp_health *h, const dp_rules *r, double last, double now, double *median);
/* The health a stored state shows, without the live stall. */
DP_INTERNAL dp_health_state dp_health_stored_state(const dp_health *h);

/* Encodes an event as the events database stores it; `adaptations` is a
 * msgpack array of {epoch, hyperparameter, old, new} for a plateau (NULL
 * or empty for none). */
DP_INTERNAL int dp_event_encode(const dp_event *e, const dp_buf *adaptations, dp_buf *out);

/* A stored event, read in place (texts point into the value). */
typedef struct dp_event_fields {
	dp_rule rule;
	int64_t epoch;
	double time, value, best, scale, threshold, ref, factor;
	int64_t best_epoch, since;
	uint32_t epochs;
	bool has_evidence; /* best, scale, threshold... (divergence, plateau) */
	bool lower;
	dp_str metric;
	dp_str nonfinite;   /* nan: the msgpack map {name: value} of the non-finite metrics */
	dp_str adaptations; /* plateau: the msgpack array of the adaptations since the reference */
} dp_event_fields;
DP_INTERNAL int dp_event_fields_parse(const void *value, size_t n, dp_event_fields *out);

/* The event's one sentence of evidence ("val_loss has not improved on
 * ..."), into b. */
DP_INTERNAL int dp_event_sentence(dp_buf *b, const dp_event_fields *e);
/* The event's id: "<dataflow>/<task>/<rule>/<epoch>", which names one
 * event wherever it goes (names hold no '/'). */
DP_INTERNAL int dp_event_id(dp_buf *b, const char *df, size_t dfn, const char *task, size_t tn, dp_rule rule,
			    int64_t epoch);
/* The event's evidence as a JSON object: the rule's numbers, the
 * non-finite metrics of a NaN, the adaptations during a plateau. */
DP_INTERNAL int dp_event_evidence_json(dp_buf *b, const dp_event_fields *e);
/* The event as JSON, as notifications carry it and `events` answers it:
 * {"id", "dataflow", "task", "rule", "epoch", "time", "metric", "value",
 *  "detail", "evidence": {...}}. */
DP_INTERNAL int dp_event_json(dp_buf *b, const char *df, size_t dfn, const char *task, size_t tn,
			      const dp_event_fields *e);

/* The rules as the index records them (meta "rules", msgpack), and read
 * back over the defaults; what a query needs of them: the stall. */
DP_INTERNAL int dp_rules_encode(const dp_rules *r, dp_buf *out);
DP_INTERNAL void dp_rules_decode(const void *p, size_t n, dp_rules *r);

#endif
