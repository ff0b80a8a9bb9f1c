/*
 * ship.h - moving the logs between machines through NATS JetStream
 * (docs/SHIP.md): `dnnprov ship` publishes the local segments, `dnnprov
 * index --from` applies them to an index on another machine.
 *
 * MESSAGES
 *
 * A message carries raw, still checksummed bytes of one segment, so the
 * indexer verifies the CRCs end to end:
 *
 *   subject  dnnprov.<dataflow>.<task>, each name a subject token
 *            (dp_subject_token: every byte outside [A-Za-z0-9_-] as %XX)
 *   headers  Dnnprov-Segment: <dataflow>/<task>/<file>, names encoded alike
 *            Dnnprov-Offset:  S, the first byte of the segment it covers
 *            Dnnprov-Header:  H, the length of the segment header in the body
 *                             (0 when the header is damaged on disk)
 *            Dnnprov-After:   <segment> <offset> (optional): the task's
 *                             previous segment, to be indexed up to there first
 *            Dnnprov-Problem: <kind> <length> (optional): the shipper found
 *                             damage at [S, S+length) and sends no bytes of it
 *            Nats-Msg-Id:     <segment>:<S>:<end>
 *   body     the segment's bytes [0, H) (its header: the identity every
 *            message carries), then its bytes [max(S, H), end): whole frames
 *
 * The message id names the end too: after a failed publish the shipper
 * sends again from the first byte not acknowledged, and the message it
 * then builds may hold more frames than the lost one.  Under an id of the
 * segment and start alone, JetStream's duplicate window would drop it
 * whole, and the frames past the lost message's end with it.
 *
 * ORDER
 *
 * A task's segments are shipped one after the other: the shipper starts on
 * a segment only when the task's earlier ones are acknowledged as far as
 * they go, and names the previous one in Dnnprov-After, so an indexer
 * applies a task's records in their causal order even when a failed
 * publish was sent again behind later ones.
 *
 * The library never prints: what it has to say goes to the callbacks of
 * its options.
 */
#ifndef DNNPROV_SHIP_H
#define DNNPROV_SHIP_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/util.h"

#define DP_SHIP_STREAM "DNNPROV"
#define DP_SHIP_SUBJECTS "dnnprov.>"
/* JetStream drops a message whose id it saw this recently; older resends
 * are stored again and skipped by the indexers. */
#define DP_SHIP_DUPLICATE_WINDOW_S 600

/* Where the servers are and who we are to them.  Credentials come from a
 * file or the environment, never from the command line. */
typedef struct dp_nats_options {
	const char *urls;       /* nats://host:port[,nats://host:port...] */
	const char *creds_file; /* a NATS credentials file (JWT and seed), or NULL */
	const char *user;       /* from the environment, or NULL */
	const char *password;
	const char *stream;     /* DP_SHIP_STREAM when NULL */
	/* How long JetStream may keep failing (no server, a leader being
	 * elected, a server restarting) before the command gives up; calls are
	 * retried meanwhile.  0: never gives up. */
	uint64_t give_up_ms;
} dp_nats_options;

/* Appends `name[0..n)` as one subject token: bytes in [A-Za-z0-9_-] as they
 * are, every other one (dots, spaces, '*', '>', '%', bytes of non-ASCII
 * characters) as %XX.  With keep_slash, '/' stays (a segment path).  */
DP_INTERNAL int dp_subject_token(dp_buf *out, const char *name, size_t n, bool keep_slash);
/* Checks a server list: nats:// URLs, separated by commas, with no
 * credentials in them.  Returns 0 or DNNPROV_EINVAL naming the bad one. */
DP_INTERNAL int dp_nats_check_urls(const char *urls);

/* ---- the shipper ------------------------------------------------------------ */

typedef struct dp_ship_options {
	dp_nats_options nats;
	const char *log_dir;
	const char *state_dir; /* the shipper's progress (an LMDB environment) */
	int replicas;          /* of a stream it creates; 0: 3 on a cluster of 3 or
				  more servers, else 1.  An existing stream with
				  another count is refused when this is not 0. */
	bool follow;           /* keep shipping as the logs grow, until *stop */
	volatile sig_atomic_t *stop;
	uint32_t max_inflight;   /* messages published and not yet acknowledged (default 256) */
	uint32_t message_bytes;  /* a message's frames, about (default 64 KiB) */
	uint32_t ack_wait_ms;    /* a publish not acknowledged by then failed (default 5000) */
	uint32_t rescan_ms;      /* follow mode: new segments are looked for this often (default 250) */
	/* Damage found in a segment (segment, offset, what): published as a
	 * problem, never as bytes.  May be NULL. */
	void (*report)(void *ctx, const char *segment, uint64_t offset, const char *what);
	/* A segment that cannot be read now: tried again, told once. */
	void (*unreadable)(void *ctx, const char *segment, uint64_t offset, const char *why);
	/* The connection or the stream changed state ("connected to ...",
	 * "... unreachable: ...; retrying"), told once per change. */
	void (*state)(void *ctx, const char *what);
	void *ctx;
} dp_ship_options;

typedef struct dp_ship_stats {
	uint64_t messages;   /* acknowledged */
	uint64_t bytes;      /* of segments acknowledged */
	uint64_t records;    /* acknowledged */
	uint64_t failed;     /* publishes that failed or timed out, sent again */
	uint64_t problems;   /* damage reported */
	uint64_t segments;   /* known */
	uint64_t unread;     /* segments that could not be read to their end */
	uint64_t stuck;      /* segments held by a frame larger than a message may be */
	bool reset;          /* the stream was created anew: everything was sent again */
} dp_ship_stats;

/* Ships the log folder: everything now (and, with follow, what comes)
 * until it is acknowledged.  Returns 0 or a DNNPROV_E* code with a detail
 * naming the server and the setting. */
DP_INTERNAL int dp_ship_run(const dp_ship_options *o, dp_ship_stats *stats);

/* What a shipper's state folder says, for `ship --status`. */
typedef struct dp_ship_segment_status {
	const char *segment;
	uint64_t shipped, acked, records, problems;
	long long on_disk; /* -1 when the file is gone */
	bool done;
	bool known;        /* false: on disk, never shipped */
} dp_ship_segment_status;

typedef struct dp_ship_summary {
	long running_pid;   /* a shipper holds the state folder, or 0 */
	char stream[64];
	char state[256];    /* its last connection state, and since when */
	double state_since;
	double last_commit;
} dp_ship_summary;

DP_INTERNAL int dp_ship_status(const char *state_dir, const char *log_dir,
			       void (*each)(void *ctx, const dp_ship_segment_status *s), void *ctx,
			       dp_ship_summary *sum);

/* ---- the stream indexer ---------------------------------------------------------- */

#define DP_STREAM_WAITING_TOLD 10

typedef struct dp_stream_options {
	dp_nats_options nats;
	const char *index_dir;
	const char *consumer; /* durable pull consumer; NULL: dnnprov-<host>-<index hash> */
	const char *dataflow; /* only this dataflow's subjects, or NULL */
	bool follow;          /* keep consuming until *stop; else until nothing is pending */
	volatile sig_atomic_t *stop;
	uint32_t fetch;       /* messages per fetch (default 256) */
	uint32_t retry_ms;    /* a message that arrived before an earlier part of its
				 segment is offered again after this (default 250) */
	uint32_t ack_wait_ms; /* of a consumer it creates: a message not acknowledged by
				 then is delivered again (default 30000) */
	uint64_t initial_map_size; /* of the index (tests: a tiny map grows while fed) */
	double lost_after_s;
	/* A problem of a segment (as the local indexer reports it). */
	void (*report)(void *ctx, const char *segment, uint64_t offset, const char *what);
	/* A message that is no piece of a dnnprov segment: acknowledged, never applied. */
	void (*invalid)(void *ctx, uint64_t seq, const char *subject, const char *why);
	/* A catch-up that stops with messages still waiting for an earlier part
	 * of their segments: the first DP_STREAM_WAITING_TOLD of them, each
	 * with what it waits for. */
	void (*waits)(void *ctx, uint64_t seq, const char *why);
	void (*state)(void *ctx, const char *what);
	void (*fault)(void *ctx, const char *why, unsigned retry_ms);
	void *ctx;
	/* The health rules (NULL: the defaults), and their notifications: the
	 * on_event command, and with `nats` every event published to
	 * dnnprov.events.<dataflow> (ship/events.h); failures go to notify. */
	const struct dp_rules *rules;
	void (*notify)(void *ctx, const char *what);
} dp_stream_options;

typedef struct dp_stream_stats {
	uint64_t messages;  /* applied */
	uint64_t had;       /* already in the index: skipped */
	uint64_t waited;    /* offered again later (an earlier part had not come) */
	uint64_t invalid;   /* not dnnprov's: acknowledged, not applied */
	uint64_t records;
	uint64_t problems;
	uint64_t waiting;   /* at the end: messages still waiting for an earlier part */
	uint64_t events;    /* health events found */
	uint64_t undelivered; /* at the end: notifications still in the outbox */
	char consumer[64];
} dp_stream_stats;

DP_INTERNAL int dp_stream_index(const dp_stream_options *o, dp_stream_stats *stats);

#endif
