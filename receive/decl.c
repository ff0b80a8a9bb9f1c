/*
 * decl.c - dataflow declarations: a dataflow POST checked, merged into what
 * the log folder holds of the dataflow, written down, and turned into the
 * plan that says what each declared set becomes (receive.h has the table).
 *
 * With -c the experiment file is the specification and a declaration is
 * checked against it; with --log-dir the declaration becomes one, an
 * experiment file written beside it and loaded by the same loader as any
 * other, so no second set of rules decides what a name may be.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "receive/internal.h"

#define STATE_DIR ".dfanalyzer"
#define DECL_FILE "dataflow.json"
#define YAML_FILE "dataflow.yaml"

static const char *const builtin_tfs[] = { "TrainingModel", "Adaptation", "TestingModel" };

bool rcv_is_training(const char *tf)
{
	return dp_strcasecmp(tf, "trainingmodel") == 0;
}

static const char *builtin_tf(const char *tag)
{
	for (size_t i = 0; i < DP_ARRAY_LEN(builtin_tfs); i++)
		if (dp_strcasecmp(tag, builtin_tfs[i]) == 0)
			return builtin_tfs[i];
	return NULL;
}

static bool ends_with_timestamp(const char *name)
{
	size_t n = strlen(name), k = strlen("TIMESTAMP");
	return n >= k && dp_strcasecmp(name + n - k, "TIMESTAMP") == 0;
}

char *rcv_state_dir(const rcv_mode *m, const char *df)
{
	char *dir = dp_path_join(m->log_dir, df), *state = dir ? dp_path_join(dir, STATE_DIR) : NULL;
	free(dir);
	return state;
}

bool rcv_dataflow_is_mine(const rcv_mode *m, const char *tag)
{
	return !m->config_dataflow || dp_strcasecmp(tag, m->config_dataflow) == 0;
}

/* The folder name of a posted tag (the config's spelling with -c). */
static const char *folder_of(const rcv_mode *m, const char *tag)
{
	return m->config_dataflow ? m->config_dataflow : tag;
}

static void plan_free(rcv_plan_set *sets, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(sets[i].tf);
		free(sets[i].set);
		free(sets[i].attrs);
	}
	free(sets);
}

void rcv_dataflow_release(rcv_dataflow *df)
{
	if (!df || --df->refs)
		return;
	free(df->tag);
	json_decref(df->decl);
	dnnprov_config_free(df->cfg);
	plan_free(df->sets, df->nsets);
	free(df);
}

const rcv_plan_set *rcv_plan_find(const rcv_dataflow *df, const char *tf, const char *set)
{
	for (size_t i = 0; i < df->nsets; i++)
		if (dp_strcasecmp(df->sets[i].tf, tf) == 0 && dp_strcasecmp(df->sets[i].set, set) == 0)
			return &df->sets[i];
	return NULL;
}

/* ---- the shape of a declaration ----------------------------------------------------- */

static const char *const attr_types[] = { "NUMERIC", "TEXT", "FILE", "RDFILE" };

static dp_attr_type attr_type_of(const char *s)
{
	return strcmp(s, "NUMERIC") == 0 ? DP_ATTR_NUMERIC : strcmp(s, "TEXT") == 0 ? DP_ATTR_TEXT : DP_ATTR_FILE;
}

/* A string member, when present; 400 for another type. */
static unsigned get_string(json_t *o, const char *key, bool required, const char *at, const char **out,
			   rcv_answer *a)
{
	json_t *v = json_object_get(o, key);
	rcv_path p;
	*out = NULL;
	if (!v || json_is_null(v)) {
		if (required)
			return rcv_fail(a, 400, rcv_at(&p, "%s%s%s", at, *at ? "." : "", key), "'%s' is missing", key);
		return 0;
	}
	if (!json_is_string(v))
		return rcv_fail(a, 400, rcv_at(&p, "%s%s%s", at, *at ? "." : "", key), "'%s' must be a string", key);
	*out = json_string_value(v);
	return 0;
}

/* An array member, absent meaning empty (the client leaves out empty lists). */
static unsigned get_array(json_t *o, const char *key, const char *at, json_t **out, rcv_answer *a)
{
	json_t *v = json_object_get(o, key);
	rcv_path p;
	*out = v;
	if (v && !json_is_array(v))
		return rcv_fail(a, 400, rcv_at(&p, "%s%s%s", at, *at ? "." : "", key), "'%s' must be a list", key);
	return 0;
}

/* A name that becomes a folder, an index key or a column: a tag. */
static unsigned check_name(const char *what, const char *name, const char *field, rcv_answer *a)
{
	if (dp_check_tag(what, name) == 0)
		return 0;
	return rcv_fail(a, 422, field, "%s", dnnprov_errmsg());
}

/* Checks the shape of one set and returns its normalized copy. */
static unsigned normalize_set(json_t *s, const char *at, json_t **out, rcv_answer *a)
{
	const char *tag, *type, *dep;
	json_t *attrs;
	rcv_path p;
	unsigned st;

	*out = NULL;
	if (!json_is_object(s))
		return rcv_fail(a, 400, at, "a set must be an object");
	if ((st = get_string(s, "tag", true, at, &tag, a)) || (st = get_string(s, "type", true, at, &type, a)) ||
	    (st = get_string(s, "dependency", false, at, &dep, a)) || (st = get_array(s, "attributes", at, &attrs, a)))
		return st;
	if ((st = check_name("set tag", tag, rcv_at(&p, "%s.tag", at), a)))
		return st;
	if (strcmp(type, "INPUT") != 0 && strcmp(type, "OUTPUT") != 0)
		return rcv_fail(a, 400, rcv_at(&p, "%s.type", at), "a set's type is INPUT or OUTPUT, not '%s'", type);
	json_t *list = json_array();
	size_t i;
	json_t *attr;
	json_array_foreach(attrs, i, attr) {
		rcv_path wp;
		const char *name, *atype, *where = rcv_at(&wp, "%s.attributes[%zu]", at, i);
		if (!json_is_object(attr)) {
			json_decref(list);
			return rcv_fail(a, 400, where, "an attribute must be an object");
		}
		if ((st = get_string(attr, "name", true, where, &name, a)) ||
		    (st = get_string(attr, "type", true, where, &atype, a)) ||
		    (st = check_name("attribute name", name, rcv_at(&p, "%s.name", where), a))) {
			json_decref(list);
			return st;
		}
		bool known = false;
		for (size_t k = 0; k < DP_ARRAY_LEN(attr_types); k++)
			known |= strcmp(atype, attr_types[k]) == 0;
		if (!known) {
			json_decref(list);
			return rcv_fail(a, 400, rcv_at(&p, "%s.type", where),
					"an attribute's type is TEXT, NUMERIC, FILE or RDFILE, not '%s'", atype);
		}
		for (size_t k = 0; k < i; k++)
			if (dp_strcasecmp(json_string_value(json_object_get(json_array_get(list, k), "name")), name) == 0) {
				json_decref(list);
				return rcv_fail(a, 422, rcv_at(&p, "%s.name", where),
						"set '%s' declares attribute '%s' twice (names are compared ignoring case)",
						tag, name);
			}
		json_array_append_new(list, json_pack("{s:s, s:s}", "name", name, "type", atype));
	}
	*out = json_pack("{s:s, s:s, s:o}", "tag", tag, "type", type, "attributes", list);
	if (*out && dep && *dep)
		json_object_set_new(*out, "dependency", json_string(dep));
	return *out ? 0 : rcv_fail(a, 500, NULL, "out of memory");
}

static unsigned normalize_transformation(json_t *t, const char *at, json_t **out, rcv_answer *a)
{
	const char *tag;
	json_t *sets, *set;
	rcv_path p;
	unsigned st;
	size_t i;

	*out = NULL;
	if (!json_is_object(t))
		return rcv_fail(a, 400, at, "a transformation must be an object");
	if ((st = get_string(t, "tag", true, at, &tag, a)) || (st = get_array(t, "sets", at, &sets, a)) ||
	    (st = check_name("transformation tag", tag, rcv_at(&p, "%s.tag", at), a)))
		return st;
	json_t *list = json_array();
	json_array_foreach(sets, i, set) {
		json_t *norm;
		rcv_path wp;
		const char *where = rcv_at(&wp, "%s.sets[%zu]", at, i);
		if ((st = normalize_set(set, where, &norm, a))) {
			json_decref(list);
			return st;
		}
		const char *stag = json_string_value(json_object_get(norm, "tag"));
		for (size_t k = 0; k < i; k++)
			if (dp_strcasecmp(json_string_value(json_object_get(json_array_get(list, k), "tag")), stag) == 0) {
				json_decref(list);
				json_decref(norm);
				return rcv_fail(a, 422, rcv_at(&p, "%s.tag", where),
						"transformation '%s' declares set '%s' twice", tag, stag);
			}
		json_array_append_new(list, norm);
	}
	*out = json_pack("{s:s, s:o}", "tag", tag, "sets", list);
	return *out ? 0 : rcv_fail(a, 500, NULL, "out of memory");
}

/* ---- plans ------------------------------------------------------------------------------ */

/* Where a merged declaration's transformations came from: their index in
 * the POST's body, for messages (-1: declared before). */
typedef struct origin {
	const long *body_index;
} origin;

static const char *tf_field(rcv_path *p, const origin *o, size_t t, const char *rest)
{
	if (!o->body_index || o->body_index[t] < 0)
		return rcv_at(p, "tag"); /* an earlier declaration no longer fits: the dataflow */
	return rcv_at(p, "transformations[%ld]%s", o->body_index[t], rest);
}

static bool type_fits(dp_attr_type declared, const char *posted)
{
	return declared == attr_type_of(posted);
}

static const char *dfa_type_name(dp_attr_type t)
{
	return t == DP_ATTR_NUMERIC ? "NUMERIC" : t == DP_ATTR_TEXT ? "TEXT" : "FILE";
}

static const char *find_metric(const dnnprov_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->nmetrics; i++)
		if (dp_strcasecmp(cfg->metrics[i], name) == 0)
			return cfg->metrics[i];
	return NULL;
}

static const dp_hyperparameter *find_hyperparameter(const dnnprov_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->nhyperparameters; i++)
		if (dp_strcasecmp(cfg->hyperparameters[i].name, name) == 0)
			return &cfg->hyperparameters[i];
	return NULL;
}

static const dp_transformation *find_transformation(const dnnprov_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->ntransformations; i++)
		if (dp_strcasecmp(cfg->transformations[i].name, name) == 0)
			return &cfg->transformations[i];
	return NULL;
}

typedef struct plan_ctx {
	const dnnprov_config *cfg;
	const origin *o;
	size_t t; /* the transformation's index in the merged declaration */
	size_t s; /* the set's index in it */
	rcv_answer *a;
} plan_ctx;

static const char *attr_field(plan_ctx *c, rcv_path *p, size_t k)
{
	char rest[96];
	snprintf(rest, sizeof(rest), ".sets[%zu].attributes[%zu]", c->s, k);
	return tf_field(p, c->o, c->t, rest);
}

/* A metric attribute of otrainingmodel or otestingmodel. */
static unsigned plan_metric(plan_ctx *c, const char *name, const char *type, size_t k, rcv_plan_attr *pa)
{
	rcv_path p;
	const char *m = find_metric(c->cfg, name);
	if (strcmp(type, "NUMERIC") != 0)
		return rcv_fail(c->a, 422, attr_field(c, &p, k), "metric '%s' must be NUMERIC, not %s", name, type);
	if (!m && !c->cfg->free_metrics)
		return rcv_fail(c->a, 422, attr_field(c, &p, k), "metric '%s' is not declared in %s (metrics: %s%s)",
				name, c->cfg->path, c->cfg->nmetrics ? c->cfg->metrics[0] : "none",
				c->cfg->nmetrics > 1 ? ", ..." : "");
	pa->role = RCV_METRIC;
	pa->name = m ? m : name;
	pa->type = DP_ATTR_NUMERIC;
	return 0;
}

static unsigned plan_hyperparameter(plan_ctx *c, const char *name, const char *type, size_t k, rcv_plan_attr *pa)
{
	rcv_path p;
	const dp_hyperparameter *h = find_hyperparameter(c->cfg, name);
	if (!h)
		return rcv_fail(c->a, 422, attr_field(c, &p, k), "hyperparameter '%s' is not declared in %s", name,
				c->cfg->path);
	if (!type_fits(h->type, type))
		return rcv_fail(c->a, 422, attr_field(c, &p, k), "hyperparameter '%s' is %s, not %s", h->name,
				dfa_type_name(h->type), type);
	pa->role = RCV_HYPERPARAMETER;
	pa->name = h->name;
	pa->type = h->type;
	pa->dropped = h->builtin && !h->selected;
	return 0;
}

/* One attribute of a set of the built-in transformations. */
static unsigned plan_builtin_attr(plan_ctx *c, rcv_set_role role, const char *name, const char *type, size_t k,
				  rcv_plan_attr *pa)
{
	rcv_path p;
	pa->role = RCV_SKIP;
	pa->type = DP_ATTR_TEXT;
	if (role == RCV_FLOW || ends_with_timestamp(name))
		return 0;
	switch (role) {
	case RCV_HYPERPARAMETERS:
		return plan_hyperparameter(c, name, type, k, pa);
	case RCV_EPOCHS:
		if (dp_strcasecmp(name, "ELAPSED_TIME") == 0 || dp_strcasecmp(name, "EPOCH") == 0) {
			/* ELAPSED_TIME is TEXT in Keras-Prov's declaration, str() of seconds. */
			pa->role = toupper((unsigned char)name[0]) == 'E' && strlen(name) == 5 ? RCV_EPOCH : RCV_ELAPSED;
			pa->type = DP_ATTR_NUMERIC;
			return 0;
		}
		return plan_metric(c, name, type, k, pa);
	case RCV_TESTS:
		return plan_metric(c, name, type, k, pa);
	case RCV_LAYERS:
		pa->role = dp_strcasecmp(name, "NAME") == 0 ? RCV_LAYER_NAME
			 : dp_strcasecmp(name, "ATTRIBUTE_TYPE") == 0 || dp_strcasecmp(name, "KIND") == 0 ? RCV_LAYER_KIND
			 : dp_strcasecmp(name, "VALUE") == 0 ? RCV_LAYER_VALUE : RCV_SKIP;
		if (pa->role == RCV_SKIP)
			return rcv_fail(c->a, 422, attr_field(c, &p, k),
					"ilayers has the attributes NAME, ATTRIBUTE_TYPE and VALUE, not '%s'", name);
		return 0;
	case RCV_ADAPTATIONS:
		if (dp_strcasecmp(name, "NEW_LRATE") == 0)
			pa->role = RCV_NEW_LR;
		else if (dp_strcasecmp(name, "EPOCH_ID") == 0)
			pa->role = RCV_EPOCH;
		else if (dp_strcasecmp(name, "ADAPTATION_ID") != 0)
			return rcv_fail(c->a, 422, attr_field(c, &p, k),
					"oadaptation has the attributes NEW_LRATE, EPOCH_ID and ADAPTATION_ID, not '%s'",
					name);
		pa->type = DP_ATTR_NUMERIC;
		return 0;
	default:
		return 0;
	}
}

/* What a set of a built-in transformation is. */
static unsigned builtin_set_role(plan_ctx *c, const char *tf, const char *set, bool input, rcv_set_role *role)
{
	rcv_path p;
	char rest[64];
	snprintf(rest, sizeof(rest), ".sets[%zu].tag", c->s);
	if (dp_strcasecmp(tf, "TrainingModel") == 0) {
		static const struct { const char *name; rcv_set_role role; bool input; } sets[] = {
			{ "iTrainingModel", RCV_HYPERPARAMETERS, true },
			{ "iLayers", RCV_LAYERS, true },
			{ "oTrainingModel", RCV_EPOCHS, false },
		};
		for (size_t i = 0; i < DP_ARRAY_LEN(sets); i++)
			if (dp_strcasecmp(set, sets[i].name) == 0) {
				if (input != sets[i].input)
					break;
				*role = sets[i].role;
				return 0;
			}
		return rcv_fail(c->a, 422, tf_field(&p, c->o, c->t, rest),
				"trainingmodel's sets are the inputs itrainingmodel and ilayers and the output "
				"otrainingmodel, not the %s '%s'", input ? "input" : "output", set);
	}
	const char *own = dp_strcasecmp(tf, "Adaptation") == 0 ? "oAdaptation" : "oTestingModel";
	if (input) {
		*role = RCV_FLOW;
		return 0;
	}
	if (dp_strcasecmp(set, own) == 0) {
		*role = own[1] == 'A' ? RCV_ADAPTATIONS : RCV_TESTS;
		return 0;
	}
	return rcv_fail(c->a, 422, tf_field(&p, c->o, c->t, rest), "%s's output set is %s, not '%s'", tf, own, set);
}

static unsigned plan_user_set(plan_ctx *c, const dp_transformation *tf, json_t *set, rcv_plan_set *ps)
{
	rcv_path p;
	char rest[64];
	const char *tag = json_string_value(json_object_get(set, "tag"));
	bool input = strcmp(json_string_value(json_object_get(set, "type")), "INPUT") == 0;
	const dp_set *ds = NULL;
	for (size_t i = 0; i < tf->nsets; i++)
		if (dp_strcasecmp(tf->sets[i].name, tag) == 0)
			ds = &tf->sets[i];
	snprintf(rest, sizeof(rest), ".sets[%zu].tag", c->s);
	if (!ds)
		return rcv_fail(c->a, 422, tf_field(&p, c->o, c->t, rest), "transformation '%s' of %s has no set '%s'",
				tf->name, c->cfg->path, tag);
	if (ds->is_input != input)
		return rcv_fail(c->a, 422, tf_field(&p, c->o, c->t, rest), "set '%s' of '%s' is an %s set in %s",
				ds->name, tf->name, ds->is_input ? "input" : "output", c->cfg->path);
	ps->tf_name = tf->name;
	ps->set_name = ds->name;
	ps->role = RCV_ELEMENTS;
	json_t *attrs = json_object_get(set, "attributes");
	for (size_t k = 0; k < ps->nattrs; k++) {
		json_t *at = json_array_get(attrs, k);
		const char *name = json_string_value(json_object_get(at, "name"));
		const char *type = json_string_value(json_object_get(at, "type"));
		const dp_attr *da = NULL;
		for (size_t i = 0; i < ds->nattrs; i++)
			if (dp_strcasecmp(ds->attrs[i].name, name) == 0)
				da = &ds->attrs[i];
		if (!da)
			return rcv_fail(c->a, 422, attr_field(c, &p, k), "set '%s' of '%s' in %s has no attribute '%s'",
					ds->name, tf->name, c->cfg->path, name);
		if (!type_fits(da->type, type))
			return rcv_fail(c->a, 422, attr_field(c, &p, k), "attribute '%s' of set '%s' is %s, not %s",
					da->name, ds->name, dfa_type_name(da->type), type);
		ps->attrs[k] = (rcv_plan_attr){ .role = RCV_ATTRIBUTE, .name = da->name, .type = da->type };
	}
	return 0;
}

/* The plan of every set of the declaration, checked against cfg. */
static unsigned plan_build(rcv_dataflow *df, const origin *o, rcv_answer *a)
{
	json_t *tfs = json_object_get(df->decl, "transformations"), *tf;
	size_t t, total = 0;
	unsigned st = 0;
	rcv_path p;

	json_array_foreach(tfs, t, tf)
		total += json_array_size(json_object_get(tf, "sets"));
	if (!(df->sets = calloc(total ? total : 1, sizeof(*df->sets))))
		return rcv_fail(a, 500, NULL, "out of memory");
	json_array_foreach(tfs, t, tf) {
		const char *tag = json_string_value(json_object_get(tf, "tag"));
		const char *builtin = builtin_tf(tag);
		const dp_transformation *user = builtin ? NULL : find_transformation(df->cfg, tag);
		json_t *sets = json_object_get(tf, "sets"), *set;
		size_t s;
		if (!builtin && !user && json_array_size(sets))
			return rcv_fail(a, 422, tf_field(&p, o, t, ".tag"), "transformation '%s' is not declared in %s",
					tag, df->cfg->path);
		df->has_training |= builtin && rcv_is_training(tag);
		json_array_foreach(sets, s, set) {
			rcv_plan_set *ps = &df->sets[df->nsets++];
			plan_ctx c = { df->cfg, o, t, s, a };
			json_t *attrs = json_object_get(set, "attributes");
			bool input = strcmp(json_string_value(json_object_get(set, "type")), "INPUT") == 0;
			ps->tf = strdup(tag);
			ps->set = strdup(json_string_value(json_object_get(set, "tag")));
			ps->nattrs = json_array_size(attrs);
			ps->attrs = calloc(ps->nattrs ? ps->nattrs : 1, sizeof(*ps->attrs));
			if (!ps->tf || !ps->set || !ps->attrs)
				return rcv_fail(a, 500, NULL, "out of memory");
			if (user) {
				if ((st = plan_user_set(&c, user, set, ps)))
					return st;
				continue;
			}
			ps->tf_name = builtin;
			ps->set_name = ps->set;
			if ((st = builtin_set_role(&c, builtin, ps->set, input, &ps->role)))
				return st;
			int seen[RCV_ATTRIBUTE + 1] = { 0 };
			for (size_t k = 0; k < ps->nattrs; k++) {
				json_t *at = json_array_get(attrs, k);
				if ((st = plan_builtin_attr(&c, ps->role, json_string_value(json_object_get(at, "name")),
							    json_string_value(json_object_get(at, "type")), k, &ps->attrs[k])))
					return st;
				seen[ps->attrs[k].role]++;
			}
			char rest[48];
			snprintf(rest, sizeof(rest), ".sets[%zu]", s);
			if (ps->role == RCV_LAYERS && (!seen[RCV_LAYER_NAME] || !seen[RCV_LAYER_KIND] || !seen[RCV_LAYER_VALUE]))
				return rcv_fail(a, 422, tf_field(&p, o, t, rest),
						"ilayers needs the attributes NAME, ATTRIBUTE_TYPE and VALUE");
			if (ps->role == RCV_ADAPTATIONS && (!seen[RCV_NEW_LR] || !seen[RCV_EPOCH]))
				return rcv_fail(a, 422, tf_field(&p, o, t, rest),
						"oadaptation needs the attributes NEW_LRATE and EPOCH_ID");
		}
	}
	return 0;
}

/* ---- the experiment file of a declaration (--log-dir) -------------------------------- */

static void yaml_quoted(dp_buf *b, const char *s)
{
	dp_buf_putc(b, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			dp_buf_putc(b, '\\');
		dp_buf_putc(b, *s);
	}
	dp_buf_putc(b, '"');
}

static const char *yaml_type(const char *dfa)
{
	return strcmp(dfa, "NUMERIC") == 0 ? "numeric" : strcmp(dfa, "TEXT") == 0 ? "text" : "file";
}

static json_t *find_set(json_t *decl, const char *tf, const char *set)
{
	size_t t, s;
	json_t *x, *y;
	json_array_foreach(json_object_get(decl, "transformations"), t, x) {
		if (dp_strcasecmp(json_string_value(json_object_get(x, "tag")), tf) != 0)
			continue;
		json_array_foreach(json_object_get(x, "sets"), s, y)
			if (dp_strcasecmp(json_string_value(json_object_get(y, "tag")), set) == 0)
				return y;
	}
	return NULL;
}

/* The metrics of the declaration: otrainingmodel's then otestingmodel's,
 * each once (ignoring case). */
static void yaml_metrics(dp_buf *b, json_t *decl)
{
	const char *where[][2] = { { "trainingmodel", "otrainingmodel" }, { "testingmodel", "otestingmodel" } };
	json_t *seen = json_array();
	dp_buf_printf(b, "metrics: [");
	for (size_t w = 0; w < DP_ARRAY_LEN(where); w++) {
		json_t *set = find_set(decl, where[w][0], where[w][1]), *at;
		size_t k;
		json_array_foreach(set ? json_object_get(set, "attributes") : NULL, k, at) {
			const char *name = json_string_value(json_object_get(at, "name"));
			bool dup = false;
			if (ends_with_timestamp(name) || dp_strcasecmp(name, "ELAPSED_TIME") == 0 ||
			    (w == 0 && dp_strcasecmp(name, "EPOCH") == 0))
				continue;
			for (size_t i = 0; i < json_array_size(seen); i++)
				dup |= dp_strcasecmp(json_string_value(json_array_get(seen, i)), name) == 0;
			if (dup)
				continue;
			if (json_array_size(seen))
				dp_buf_printf(b, ", ");
			yaml_quoted(b, name);
			json_array_append_new(seen, json_string(name));
		}
	}
	dp_buf_printf(b, "]\nval_metrics: false\n");
	json_decref(seen);
}

static void yaml_hyperparameters(dp_buf *b, json_t *decl)
{
	json_t *set = find_set(decl, "trainingmodel", "itrainingmodel"), *at;
	size_t k;
	dp_buf_printf(b, "hyperparameters: {");
	bool first = true;
	json_array_foreach(set ? json_object_get(set, "attributes") : NULL, k, at) {
		const char *name = json_string_value(json_object_get(at, "name"));
		const char *builtin = NULL;
		if (ends_with_timestamp(name))
			continue;
		for (size_t i = 0; i < DP_ARRAY_LEN(dp_builtin_hyperparameters); i++)
			if (dp_strcasecmp(name, dp_builtin_hyperparameters[i]) == 0)
				builtin = dp_builtin_hyperparameters[i];
		dp_buf_printf(b, "%s", first ? "" : ", ");
		first = false;
		if (builtin) {
			dp_buf_printf(b, "%s: true", builtin);
		} else {
			yaml_quoted(b, name);
			dp_buf_printf(b, ": %s", yaml_type(json_string_value(json_object_get(at, "type"))));
		}
	}
	dp_buf_printf(b, "}\n");
}

/* depends_on: the transformations a set's `dependency` names. */
static void yaml_depends(dp_buf *b, json_t *decl, json_t *tf)
{
	const char *self = json_string_value(json_object_get(tf, "tag"));
	json_t *names = json_array(), *set;
	size_t s, t;
	json_array_foreach(json_object_get(tf, "sets"), s, set) {
		const char *dep = json_string_value(json_object_get(set, "dependency")), *name = NULL;
		json_t *other;
		if (!dep || dp_strcasecmp(dep, self) == 0)
			continue;
		if (!(name = builtin_tf(dep)))
			json_array_foreach(json_object_get(decl, "transformations"), t, other)
				if (dp_strcasecmp(json_string_value(json_object_get(other, "tag")), dep) == 0 &&
				    json_array_size(json_object_get(other, "sets")))
					name = json_string_value(json_object_get(other, "tag"));
		bool dup = false;
		for (size_t i = 0; name && i < json_array_size(names); i++)
			dup |= strcmp(json_string_value(json_array_get(names, i)), name) == 0;
		if (name && !dup)
			json_array_append_new(names, json_string(name));
	}
	if (json_array_size(names)) {
		dp_buf_printf(b, "    depends_on: [");
		for (size_t i = 0; i < json_array_size(names); i++) {
			dp_buf_printf(b, "%s", i ? ", " : "");
			yaml_quoted(b, json_string_value(json_array_get(names, i)));
		}
		dp_buf_printf(b, "]\n");
	}
	json_decref(names);
}

static void yaml_sets(dp_buf *b, json_t *tf, bool input)
{
	json_t *set, *at;
	size_t s, k;
	bool any = false;
	json_array_foreach(json_object_get(tf, "sets"), s, set) {
		if ((strcmp(json_string_value(json_object_get(set, "type")), "INPUT") == 0) != input ||
		    !json_array_size(json_object_get(set, "attributes")))
			continue;
		if (!any)
			dp_buf_printf(b, "    %s:\n", input ? "input" : "output");
		any = true;
		dp_buf_printf(b, "      ");
		yaml_quoted(b, json_string_value(json_object_get(set, "tag")));
		dp_buf_printf(b, ": {");
		json_array_foreach(json_object_get(set, "attributes"), k, at) {
			dp_buf_printf(b, "%s", k ? ", " : "");
			yaml_quoted(b, json_string_value(json_object_get(at, "name")));
			dp_buf_printf(b, ": %s", yaml_type(json_string_value(json_object_get(at, "type"))));
		}
		dp_buf_printf(b, "}\n");
	}
}

static int yaml_of(json_t *decl, dp_buf *b)
{
	json_t *tf;
	size_t t;
	bool adaptation = find_set(decl, "adaptation", "oadaptation") != NULL, any = false;

	dp_buf_printf(b, "# Written by dnnprov receive from the dataflow its DfAnalyzer clients declared\n"
			 "# (dataflow.json beside it); written again when they declare it again.\n");
	dp_buf_printf(b, "dataflow: ");
	yaml_quoted(b, json_string_value(json_object_get(decl, "tag")));
	dp_buf_printf(b, "\nlog_dir: \"../..\"\nindex_dir: \"../../../dnnprov-index\"\n");
	yaml_hyperparameters(b, decl);
	yaml_metrics(b, decl);
	dp_buf_printf(b, "adaptation: %s\n", adaptation ? "true" : "false");
	json_array_foreach(json_object_get(decl, "transformations"), t, tf) {
		const char *tag = json_string_value(json_object_get(tf, "tag"));
		bool has_attrs = false;
		size_t s;
		json_t *set;
		json_array_foreach(json_object_get(tf, "sets"), s, set)
			has_attrs |= json_array_size(json_object_get(set, "attributes")) > 0;
		if (builtin_tf(tag) || !has_attrs)
			continue;
		if (!any)
			dp_buf_printf(b, "transformations:\n");
		any = true;
		dp_buf_printf(b, "  ");
		yaml_quoted(b, tag);
		dp_buf_printf(b, ":\n");
		yaml_depends(b, decl, tf);
		yaml_sets(b, tf, true);
		yaml_sets(b, tf, false);
	}
	return b->failed ? dp_error(DNNPROV_ENOMEM, "out of memory") : 0;
}

/* ---- declaring, loading ---------------------------------------------------------------- */

/* A new dataflow over decl (stolen): its experiment loaded and its plan
 * made; persisted when `write`. */
static unsigned dataflow_make(const rcv_mode *m, const char *folder, json_t *decl, const origin *o, bool write,
			      rcv_dataflow **out, rcv_answer *a)
{
	rcv_dataflow *df = calloc(1, sizeof(*df));
	char *dir = rcv_state_dir(m, folder);
	char *text = NULL;
	unsigned st = 0;
	int rc;

	*out = NULL;
	if (!df || !dir || !(df->tag = strdup(folder))) {
		json_decref(decl);
		st = rcv_fail(a, 500, NULL, "out of memory");
		goto done;
	}
	df->refs = 1;
	df->decl = decl;
	if (m->config_path) {
		if ((rc = dnnprov_config_load(m->config_path, &df->cfg))) {
			st = rcv_fail(a, 500, NULL, "%s", dnnprov_errmsg());
			goto done;
		}
	} else {
		dp_buf y = { 0 };
		char yaml[4096];
		snprintf(yaml, sizeof(yaml), "%s/%s", dir, YAML_FILE);
		if (write) {
			/* Loaded from a name of its own first: a declaration the
			 * loader refuses replaces nothing. */
			char trial[64];
			snprintf(trial, sizeof(trial), ".trial-%ld.yaml", (long)getpid());
			if ((rc = yaml_of(decl, &y)) || (rc = rcv_write_file(dir, trial, y.data, y.len))) {
				dp_buf_free(&y);
				st = rcv_fail(a, rc == DNNPROV_ENOSPC ? 507 : 500, NULL, "%s", dnnprov_errmsg());
				goto done;
			}
			char path[4096];
			snprintf(path, sizeof(path), "%s/%s", dir, trial);
			rc = dnnprov_config_load(path, &df->cfg);
			if (!rc)
				dnnprov_config_free(df->cfg);
			df->cfg = NULL;
			if (rc) {
				unlink(path);
				dp_buf_free(&y);
				st = rcv_fail(a, 422, "transformations", "the dataflow does not make an experiment file: %s",
					      dnnprov_errmsg());
				goto done;
			}
			rc = rename(path, yaml) == 0 ? 0 : dp_error_errno(errno, "cannot rename %s", path);
			dp_buf_free(&y);
			if (rc) {
				unlink(path);
				st = rcv_fail(a, 500, NULL, "%s", dnnprov_errmsg());
				goto done;
			}
		}
		if ((rc = dnnprov_config_load(yaml, &df->cfg))) {
			st = rcv_fail(a, write ? 500 : 409, "dataflow", "%s", dnnprov_errmsg());
			goto done;
		}
	}
	if ((st = plan_build(df, o, a)))
		goto done;
	if (write) {
		if (!(text = json_dumps(decl, JSON_INDENT(1))) || (rc = rcv_write_file(dir, DECL_FILE, text, strlen(text)))) {
			st = rcv_fail(a, text && rc == DNNPROV_ENOSPC ? 507 : 500, NULL, "%s",
				      text ? dnnprov_errmsg() : "out of memory");
			goto done;
		}
	}
done:
	free(text);
	free(dir);
	if (st)
		rcv_dataflow_release(df);
	else
		*out = df;
	return st;
}

unsigned rcv_declare(const rcv_mode *m, json_t *body, const rcv_dataflow *old, rcv_dataflow **out, rcv_answer *a)
{
	const char *tag;
	json_t *tfs, *tf, *posted = NULL, *merged = NULL;
	long *body_index = NULL;
	unsigned st;
	size_t i;
	rcv_path p;

	*out = NULL;
	if ((st = get_string(body, "tag", true, "", &tag, a)) || (st = get_array(body, "transformations", "", &tfs, a)) ||
	    (st = check_name("dataflow tag", tag, "tag", a)))
		return st;
	if (!rcv_dataflow_is_mine(m, tag))
		return rcv_fail(a, 422, "tag", "dataflow '%s' is not the one of %s ('%s')", tag, m->config_path,
				m->config_dataflow);
	if (!(posted = json_array()))
		return rcv_fail(a, 500, NULL, "out of memory");
	json_array_foreach(tfs, i, tf) {
		json_t *norm;
		rcv_path at;
		if ((st = normalize_transformation(tf, rcv_at(&at, "transformations[%zu]", i), &norm, a)))
			goto out;
		const char *ttag = json_string_value(json_object_get(norm, "tag"));
		for (size_t k = 0; k < i; k++)
			if (dp_strcasecmp(json_string_value(json_object_get(json_array_get(posted, k), "tag")), ttag) == 0) {
				json_decref(norm);
				st = rcv_fail(a, 422, rcv_at(&p, "transformations[%zu].tag", i),
					      "transformation '%s' is declared twice", ttag);
				goto out;
			}
		json_array_append_new(posted, norm);
	}
	/* Merged: what was declared before, each transformation replaced by a
	 * new declaration of it, then the new ones. */
	json_t *list = json_array();
	size_t nold = old ? json_array_size(json_object_get(old->decl, "transformations")) : 0;
	size_t nnew = json_array_size(posted);
	if (!list || !(body_index = calloc(nold + nnew + 1, sizeof(*body_index)))) {
		json_decref(list);
		st = rcv_fail(a, 500, NULL, "out of memory");
		goto out;
	}
	bool *used = calloc(nnew + 1, sizeof(*used));
	for (size_t k = 0; k < nold && used; k++) {
		json_t *o = json_array_get(json_object_get(old->decl, "transformations"), k);
		long from = -1;
		for (size_t n = 0; n < nnew; n++)
			if (dp_strcasecmp(json_string_value(json_object_get(o, "tag")),
					  json_string_value(json_object_get(json_array_get(posted, n), "tag"))) == 0) {
				from = (long)n;
				used[n] = true;
			}
		body_index[json_array_size(list)] = from;
		json_array_append(list, from < 0 ? o : json_array_get(posted, (size_t)from));
	}
	for (size_t n = 0; n < nnew && used; n++)
		if (!used[n]) {
			body_index[json_array_size(list)] = (long)n;
			json_array_append(list, json_array_get(posted, n));
		}
	free(used);
	merged = json_pack("{s:s, s:o}", "tag", folder_of(m, tag), "transformations", list);
	if (!merged) {
		st = rcv_fail(a, 500, NULL, "out of memory");
		goto out;
	}
	origin o = { body_index };
	st = dataflow_make(m, folder_of(m, tag), merged, &o, true, out, a);
	merged = NULL;
out:
	json_decref(posted);
	json_decref(merged);
	free(body_index);
	return st;
}

unsigned rcv_dataflow_load(const rcv_mode *m, const char *tag, rcv_dataflow **out, rcv_answer *a)
{
	char *dir = rcv_state_dir(m, folder_of(m, tag));
	char path[4096];
	json_error_t e;
	json_t *decl;

	*out = NULL;
	if (!dir)
		return rcv_fail(a, 500, NULL, "out of memory");
	snprintf(path, sizeof(path), "%s/%s", dir, DECL_FILE);
	free(dir);
	if (!(decl = json_load_file(path, JSON_REJECT_DUPLICATES, &e))) {
		if (access(path, F_OK) != 0 && errno == ENOENT)
			return 0;
		return rcv_fail(a, 500, "dataflow", "%s: %s", path, e.text);
	}
	origin o = { NULL };
	return dataflow_make(m, folder_of(m, tag), decl, &o, false, out, a);
}
