/*
 * task.c - a task POST read and checked whole against its dataflow's plan,
 * and turned into the records it makes (actions), before anything is
 * appended: a message that does not fit is answered 4xx with nothing
 * written.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "receive/internal.h"

/* The largest element a record can take with room to spare: a larger
 * one is refused (413) before the writer would. */
#define ELEMENT_MAX (DNNPROV_RECORD_MAX / 2)

/* A NUMERIC value's text as a dnnprov value (INT, REAL, or NULL for "None",
 * "null", ""); false when it is no number. */
static bool rcv_number(const char *s, dnnprov_value *v)
{
	char *end;
	v->type = DNNPROV_NULL;
	if (!*s || strcmp(s, "None") == 0 || strcmp(s, "null") == 0)
		return true;
	/* Python's str() of a float: "nan", "inf", "-inf". */
	if (dp_strcasecmp(s, "nan") == 0 || dp_strcasecmp(s, "+nan") == 0 || dp_strcasecmp(s, "-nan") == 0) {
		v->type = DNNPROV_REAL;
		v->as.r = NAN;
		return true;
	}
	const char *digits = s + (*s == '-' || *s == '+');
	bool integer = *digits != '\0';
	for (const char *p = digits; *p; p++)
		integer &= *p >= '0' && *p <= '9';
	if (integer) {
		errno = 0;
		long long i = strtoll(s, &end, 10);
		if (errno == ERANGE)
			return false; /* no silent rounding of an id-like integer */
		v->type = DNNPROV_INT;
		v->as.i = i;
		return true;
	}
	/* strtod takes hexadecimal and leading spaces, which no client sends
	 * for a number: the first character must be a sign, a digit, a point
	 * or the start of "inf". */
	if (!(*digits == '.' || (*digits >= '0' && *digits <= '9') || dp_strncasecmp(digits, "inf", 3) == 0) ||
	    strpbrk(s, "xX"))
		return false;
	errno = 0;
	double d = strtod(s, &end);
	if (*end || end == s || (errno == ERANGE && isinf(d) && dp_strncasecmp(digits, "inf", 3) != 0))
		return false;
	v->type = DNNPROV_REAL;
	v->as.r = d;
	return true;
}

void rcv_message_free(rcv_message *m)
{
	for (size_t i = 0; i < m->nactions; i++)
		free(m->actions[i].values);
	free(m->actions);
	for (size_t i = 0; i < m->nowned; i++)
		free(m->owned[i]);
	free(m->owned);
	json_decref(m->json);
	memset(m, 0, sizeof(*m));
}

static unsigned string_field(rcv_message *m, const char *key, bool required, const char **out, rcv_answer *a)
{
	json_t *v = json_object_get(m->json, key);
	*out = NULL;
	if (!v || json_is_null(v)) {
		if (required)
			return rcv_fail(a, 400, key, "'%s' is missing", key);
		return 0;
	}
	if (!json_is_string(v))
		return rcv_fail(a, 400, key, "'%s' must be a string", key);
	*out = json_string_value(v);
	return 0;
}

unsigned rcv_message_parse(json_t *body, rcv_message *m, rcv_answer *a)
{
	const char *status;
	unsigned st;
	json_t *id, *v;

	memset(m, 0, sizeof(*m));
	m->json = body;
	/* dfa-lib-python sends str(id); a hand-written client may send a number. */
	id = json_object_get(body, "id");
	if (json_is_integer(id)) {
		snprintf(m->id_buf, sizeof(m->id_buf), "%lld", (long long)json_integer_value(id));
		m->id = m->id_buf;
	} else if ((st = string_field(m, "id", true, &m->id, a))) {
		return st;
	}
	if ((st = string_field(m, "dataflow", true, &m->dataflow, a)) ||
	    (st = string_field(m, "transformation", true, &m->transformation, a)) ||
	    (st = string_field(m, "exec", false, &m->exec, a)) || (st = string_field(m, "status", true, &status, a)) ||
	    (st = string_field(m, "error", false, &m->error, a)) ||
	    (st = string_field(m, "workspace", false, &m->workspace, a)) ||
	    (st = string_field(m, "resource", false, &m->resource, a)))
		return st;
	if (dp_check_tag("task id", m->id))
		return rcv_fail(a, 422, "id", "%s", dnnprov_errmsg());
	if (dp_check_tag("dataflow tag", m->dataflow))
		return rcv_fail(a, 422, "dataflow", "%s", dnnprov_errmsg());
	if (dp_check_tag("transformation tag", m->transformation))
		return rcv_fail(a, 422, "transformation", "%s", dnnprov_errmsg());
	if (m->exec && *m->exec && dp_check_tag("exec tag", m->exec))
		return rcv_fail(a, 422, "exec", "%s (the exec tag is the run's task id)", dnnprov_errmsg());
	if (m->exec && !*m->exec)
		m->exec = NULL;
	if (strcmp(status, "READY") == 0)
		m->status = RCV_READY;
	else if (strcmp(status, "RUNNING") == 0)
		m->status = RCV_RUNNING;
	else if (strcmp(status, "FINISHED") == 0)
		m->status = RCV_FINISHED;
	else
		return rcv_fail(a, 400, "status", "a task's status is READY, RUNNING or FINISHED, not '%s'", status);
	if ((v = json_object_get(body, "sets")) && !json_is_array(v))
		return rcv_fail(a, 400, "sets", "'sets' must be a list");
	if ((v = json_object_get(body, "dependency")) && !json_is_object(v) && !json_is_string(v))
		return rcv_fail(a, 400, "dependency", "'dependency' must be an object {\"tags\": [...], \"ids\": [...]}");
	if ((v = json_object_get(body, "performances")) && !json_is_array(v))
		return rcv_fail(a, 400, "performances", "'performances' must be a list");
	return 0;
}

/* A text the message owns (a number posted for a TEXT attribute). */
static const char *own_text(rcv_message *m, char *s)
{
	char **grown = s ? realloc(m->owned, (m->nowned + 1) * sizeof(*grown)) : NULL;
	if (!grown) {
		free(s);
		return NULL;
	}
	m->owned = grown;
	m->owned[m->nowned++] = s;
	return s;
}

/* One value of an element as its attribute takes it; 0 or the answer. */
static unsigned convert(rcv_message *m, json_t *j, const rcv_plan_attr *pa, const char *field, dnnprov_value *v,
			rcv_answer *a)
{
	v->name = pa->name;
	v->type = DNNPROV_NULL;
	if (json_is_null(j))
		return 0;
	if (!json_is_string(j) && !json_is_number(j))
		return rcv_fail(a, 400, field, "an element's values are strings, numbers or null");
	bool numeric = pa->type == DP_ATTR_NUMERIC && pa->role != RCV_LAYER_VALUE;
	if (pa->role == RCV_LAYER_VALUE) {
		/* str() of a dropout rate or an activation's name: typed back. */
		if (json_is_string(j) && *json_string_value(j) && rcv_number(json_string_value(j), v) &&
		    v->type != DNNPROV_NULL)
			return 0;
		numeric = json_is_number(j);
	}
	if (numeric) {
		if (json_is_integer(j)) {
			v->type = DNNPROV_INT;
			v->as.i = json_integer_value(j);
		} else if (json_is_real(j)) {
			v->type = DNNPROV_REAL;
			v->as.r = json_real_value(j);
		} else if (!rcv_number(json_string_value(j), v)) {
			return rcv_fail(a, 422, field, "'%s' is not a number (attribute '%s' is NUMERIC)",
					json_string_value(j), pa->name ? pa->name : "?");
		}
		return 0;
	}
	if (json_is_string(j)) {
		v->type = DNNPROV_TEXT;
		v->as.s = json_string_value(j);
		return 0;
	}
	const char *s = own_text(m, json_dumps(j, JSON_ENCODE_ANY)); /* a number posted for a text */
	if (!s)
		return rcv_fail(a, 500, NULL, "out of memory");
	v->type = DNNPROV_TEXT;
	v->as.s = s;
	return 0;
}

static unsigned add_action(rcv_message *m, const rcv_action *act, rcv_answer *a)
{
	rcv_action *grown = realloc(m->actions, (m->nactions + 1) * sizeof(*grown));
	if (!grown) {
		free(act->values);
		return rcv_fail(a, 500, NULL, "out of memory");
	}
	m->actions = grown;
	m->actions[m->nactions++] = *act;
	return 0;
}

/* The action of one element of set ps. */
static unsigned plan_element(rcv_message *m, const rcv_plan_set *ps, json_t *el, const char *field, rcv_answer *a)
{
	rcv_action act = { .set = ps, .elapsed = NAN };
	rcv_path p;
	size_t bytes = 0;
	unsigned st;

	if (!json_is_array(el))
		return rcv_fail(a, 400, field, "an element must be a list of values");
	if (json_array_size(el) != ps->nattrs)
		return rcv_fail(a, 422, field, "set '%s' has %zu attributes, and the element %zu values", ps->set,
				ps->nattrs, json_array_size(el));
	if (!(act.values = calloc(ps->nattrs ? ps->nattrs : 1, sizeof(*act.values))))
		return rcv_fail(a, 500, NULL, "out of memory");
	for (size_t k = 0; k < ps->nattrs; k++) {
		const rcv_plan_attr *pa = &ps->attrs[k];
		dnnprov_value v;
		if (pa->role == RCV_SKIP)
			continue;
		if ((st = convert(m, json_array_get(el, k), pa, rcv_at(&p, "%s[%zu]", field, k), &v, a))) {
			free(act.values);
			return st;
		}
		bytes += (pa->name ? strlen(pa->name) : 0) + (v.type == DNNPROV_TEXT ? strlen(v.as.s) : 8);
		switch (pa->role) {
		case RCV_EPOCH: {
			double e = v.type == DNNPROV_INT ? (double)v.as.i : v.type == DNNPROV_REAL ? v.as.r : NAN;
			if (v.type == DNNPROV_NULL)
				break;
			if (!(e >= 0 && e < 9.0e15 && e == floor(e))) {
				free(act.values);
				return rcv_fail(a, 422, p.s, "an epoch is a whole number from 0, not %g", e);
			}
			act.has_epoch = true;
			act.epoch = (int64_t)e + 1; /* Keras counts from 0, dnnprov from 1 */
			break;
		}
		case RCV_ELAPSED: {
			double e = v.type == DNNPROV_INT ? (double)v.as.i : v.type == DNNPROV_REAL ? v.as.r : NAN;
			if (v.type != DNNPROV_NULL && !(e >= 0 && isfinite(e))) {
				free(act.values);
				return rcv_fail(a, 422, p.s, "an elapsed time is seconds (>= 0), not %g", e);
			}
			act.elapsed = e;
			break;
		}
		case RCV_NEW_LR:
			v.name = "LEARNING_RATE";
			act.new_lr = v;
			break;
		case RCV_LAYER_NAME:
		case RCV_LAYER_KIND:
			if (v.type != DNNPROV_TEXT) {
				free(act.values);
				return rcv_fail(a, 422, p.s, "a layer's %s is a text", pa->role == RCV_LAYER_NAME ? "NAME"
														 : "ATTRIBUTE_TYPE");
			}
			*(pa->role == RCV_LAYER_NAME ? &act.layer.name : &act.layer.kind) = v.as.s;
			break;
		case RCV_LAYER_VALUE:
			act.layer.value = v;
			break;
		default:
			if (v.type != DNNPROV_NULL && !pa->dropped)
				act.values[act.nvalues++] = v;
		}
	}
	if (bytes > ELEMENT_MAX) {
		free(act.values);
		return rcv_fail(a, 413, field, "the element's values take %zu bytes; the limit is %u", bytes,
				(unsigned)ELEMENT_MAX);
	}
	switch (ps->role) {
	case RCV_HYPERPARAMETERS: act.kind = ACT_HYPERPARAMETERS; m->nhyperparameter_sets++; break;
	case RCV_LAYERS: act.kind = ACT_LAYER; break;
	case RCV_EPOCHS: act.kind = ACT_EPOCH; break;
	case RCV_ADAPTATIONS:
		act.kind = ACT_ADAPT;
		if (act.new_lr.type == DNNPROV_NULL || !act.has_epoch) {
			free(act.values);
			return rcv_fail(a, 422, field, "an adaptation needs NEW_LRATE and EPOCH_ID");
		}
		break;
	case RCV_TESTS:
		act.kind = ACT_TEST;
		if (!act.nvalues) {
			free(act.values);
			return rcv_fail(a, 422, field, "a test needs at least one metric value");
		}
		break;
	case RCV_ELEMENTS: act.kind = ACT_ELEMENT; break;
	default: free(act.values); return 0; /* a flowing set: nothing of its own */
	}
	m->training_data |= act.kind == ACT_HYPERPARAMETERS || act.kind == ACT_LAYER || act.kind == ACT_EPOCH ||
			    act.kind == ACT_ADAPT;
	return add_action(m, &act, a);
}

unsigned rcv_message_plan(rcv_message *m, const rcv_dataflow *df, rcv_answer *a)
{
	json_t *sets = json_object_get(m->json, "sets"), *set;
	size_t i;
	unsigned st;
	rcv_path p;

	json_array_foreach(sets, i, set) {
		const char *tag;
		json_t *elements, *el;
		size_t j;
		if (!json_is_object(set))
			return rcv_fail(a, 400, rcv_at(&p, "sets[%zu]", i), "a set must be an object {\"tag\", \"elements\"}");
		json_t *t = json_object_get(set, "tag");
		if (!json_is_string(t))
			return rcv_fail(a, 400, rcv_at(&p, "sets[%zu].tag", i), "a set's 'tag' must be a string");
		tag = json_string_value(t);
		const rcv_plan_set *ps = rcv_plan_find(df, m->transformation, tag);
		if (!ps)
			return rcv_fail(a, 422, rcv_at(&p, "sets[%zu].tag", i),
					"transformation '%s' of dataflow '%s' declares no set '%s'", m->transformation,
					df->tag, tag);
		elements = json_object_get(set, "elements");
		if (elements && !json_is_array(elements))
			return rcv_fail(a, 400, rcv_at(&p, "sets[%zu].elements", i), "'elements' must be a list");
		json_array_foreach(elements, j, el) {
			rcv_path at;
			if ((st = plan_element(m, ps, el, rcv_at(&at, "sets[%zu].elements[%zu]", i, j), a)))
				return st;
		}
	}
	if (m->nhyperparameter_sets > 1)
		return rcv_fail(a, 422, "sets", "a run's hyperparameters are one element of itrainingmodel, not %zu",
				m->nhyperparameter_sets);
	return 0;
}
