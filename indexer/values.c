/*
 * values.c - reading the values the index stores (schema.h), for the
 * indexer, which updates them, and the query side, which shows them.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "indexer/schema.h"
#include "logger/decode.h"
#include "logger/record.h"

static double number_or_nan(const msgpack_object *o)
{
	double d;
	return o && dp_obj_number(o, &d) ? d : NAN;
}

static uint64_t count(const msgpack_object *o)
{
	return o && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? o->via.u64 : 0;
}

static dp_str text(const msgpack_object *o)
{
	if (!o || o->type != MSGPACK_OBJECT_STR)
		return (dp_str){ NULL, 0 };
	return (dp_str){ o->via.str.ptr, o->via.str.size };
}

void dp_task_fields_read(const msgpack_object *value, dp_task_fields *f)
{
	const msgpack_object *x;

	memset(f, 0, sizeof(*f));
	x = dp_map_get(value, "status");
	if (x && x->type == MSGPACK_OBJECT_STR)
		snprintf(f->status, sizeof(f->status), "%.*s", (int)x->via.str.size, x->via.str.ptr);
	f->start = number_or_nan(dp_map_get(value, "start"));
	f->end = number_or_nan(dp_map_get(value, "end"));
	f->last = number_or_nan(dp_map_get(value, "last"));
	f->pid = (int64_t)count(dp_map_get(value, "pid"));
	f->epochs = count(dp_map_get(value, "epochs"));
	f->attempts = count(dp_map_get(value, "attempts"));
	f->attempt_start = number_or_nan(dp_map_get(value, "attempt_start"));
	f->active_before = number_or_nan(dp_map_get(value, "active_before"));
	x = dp_map_get(value, "run");
	if (x && x->type == MSGPACK_OBJECT_STR)
		snprintf(f->run, sizeof(f->run), "%.*s", (int)x->via.str.size, x->via.str.ptr);
	x = dp_map_get(value, "owner");
	if (x && x->type == MSGPACK_OBJECT_MAP) {
		const msgpack_object *y = dp_map_get(x, "host");
		f->owner.known = true;
		if (y && y->type == MSGPACK_OBJECT_STR)
			snprintf(f->owner.host, sizeof(f->owner.host), "%.*s", (int)y->via.str.size, y->via.str.ptr);
		y = dp_map_get(x, "boot");
		if (y && y->type == MSGPACK_OBJECT_STR)
			snprintf(f->owner.boot, sizeof(f->owner.boot), "%.*s", (int)y->via.str.size, y->via.str.ptr);
		y = dp_map_get(x, "pid");
		f->owner.pid = y && y->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? (int64_t)y->via.u64 : 0;
		f->owner.start = count(dp_map_get(x, "start"));
		y = dp_map_get(x, "group");
		f->owner.group = y && y->type == MSGPACK_OBJECT_BOOLEAN && y->via.boolean;
	}
	x = dp_map_get(value, "last_epoch");
	if (x && (x->type == MSGPACK_OBJECT_POSITIVE_INTEGER || x->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)) {
		f->has_last_epoch = true;
		f->last_epoch = x->via.i64;
	}
	f->host = text(dp_map_get(value, "host"));
	f->user = text(dp_map_get(value, "user"));
	f->execution = text(dp_map_get(value, "execution"));
	f->transformation = text(dp_map_get(value, "transformation"));
	f->message = text(dp_map_get(value, "message"));
}

double dp_task_active(const dp_task_fields *f)
{
	double before = isnan(f->active_before) ? 0 : f->active_before;
	double until = isnan(f->end) ? f->last : f->end;
	double now = until - f->attempt_start;
	/* Times are the writers' clocks: a clock stepped back never makes
	 * time run backwards here. */
	return before + (isnan(now) || now < 0 ? 0 : now);
}
