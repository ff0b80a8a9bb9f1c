/*
 * model.c - one model of a dataflow (model.h): the stored specification
 * read once, with the built-in transformations every dataflow has.
 *
 * The model's strings and arrays live in an arena freed at once: a model
 * is read for an answer and dropped with it.  An array that grows (a set's
 * attributes, as dp_model_add_hyp adds to iTrainingModel) moves to a
 * larger block of the arena; the old one is freed with the rest.
 */
#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "indexer/model.h"
#include "logger/decode.h"
#include "logger/record.h"

static void *arena_alloc(dp_model *m, size_t n)
{
	return dp_arena_alloc(&m->arena, n);
}

static const char *arena_str(dp_model *m, const char *s, size_t n)
{
	return dp_arena_strndup(&m->arena, s, n);
}

/* Grows *array of *count items of `size` bytes to hold one more; the new
 * item is zeroed.  NULL when out of memory. */
static void *grow(dp_model *m, void **array, size_t *count, size_t *cap, size_t size)
{
	if (*count == *cap) {
		size_t more = *cap ? *cap * 2 : 4;
		void *bigger = arena_alloc(m, more * size);
		if (!bigger)
			return NULL;
		if (*count)
			memcpy(bigger, *array, *count * size);
		*array = bigger;
		*cap = more;
	}
	assert(*count < *cap);
	return (char *)*array + (*count)++ * size;
}

void dp_model_free(dp_model *m)
{
	dp_arena_free(&m->arena);
	memset(m, 0, sizeof(*m));
}

/* ---- building ------------------------------------------------------------------- */

static bool same(const char *a, const char *b, size_t bn)
{
	return strlen(a) == bn && memcmp(a, b, bn) == 0;
}

/* The adders leave out a name already present, so that every name of
 * the model (and every identifier made of them) is unique; they return
 * the new item, or NULL for a repeat or want of memory (*oom). */
typedef struct build {
	dp_model *m;
	size_t tfcap;
	bool oom;
} build;

static dp_mtf *add_tf(build *b, const char *name, size_t n, bool builtin)
{
	for (size_t i = 0; i < b->m->ntfs; i++)
		if (same(b->m->tfs[i].name, name, n))
			return NULL;
	dp_mtf *tf = grow(b->m, (void **)&b->m->tfs, &b->m->ntfs, &b->tfcap, sizeof(*tf));
	if (!tf || !(tf->name = arena_str(b->m, name, n))) {
		b->oom = true;
		if (tf)
			b->m->ntfs--;
		return NULL;
	}
	tf->builtin = builtin;
	return tf;
}

static void add_dep(build *b, dp_mtf *tf, const char *name, size_t n)
{
	for (size_t i = 0; i < tf->ndeps; i++)
		if (same(tf->deps[i], name, n))
			return;
	const char **slot = grow(b->m, (void **)&tf->deps, &tf->ndeps, &tf->depcap, sizeof(*slot));
	if (!slot || !(*slot = arena_str(b->m, name, n))) {
		b->oom = true;
		if (slot)
			tf->ndeps--;
	}
}

static dp_mset *add_set(build *b, dp_mtf *tf, const char *name, size_t n, bool input)
{
	if (!tf)
		return NULL;
	for (size_t i = 0; i < tf->nsets; i++)
		if (same(tf->sets[i].name, name, n))
			return NULL;
	dp_mset *s = grow(b->m, (void **)&tf->sets, &tf->nsets, &tf->setcap, sizeof(*s));
	if (!s || !(s->name = arena_str(b->m, name, n))) {
		b->oom = true;
		if (s)
			tf->nsets--;
		return NULL;
	}
	s->input = input;
	s->builtin = tf->builtin;
	return s;
}

static int add_attr(dp_model *m, dp_mset *s, const char *name, size_t n, dp_attr_type type, const char *dfanalyzer)
{
	if (!s)
		return 0;
	for (size_t i = 0; i < s->nattrs; i++)
		if (same(s->attrs[i].name, name, n))
			return 0;
	dp_mattr *a = grow(m, (void **)&s->attrs, &s->nattrs, &s->cap, sizeof(*a));
	if (!a || !(a->name = arena_str(m, name, n))) {
		if (a)
			s->nattrs--;
		return DNNPROV_ENOMEM;
	}
	a->type = type;
	a->dfanalyzer = dfanalyzer;
	return 0;
}

static void attr(build *b, dp_mset *s, const char *name, dp_attr_type type, const char *dfanalyzer)
{
	if (add_attr(b->m, s, name, strlen(name), type, dfanalyzer))
		b->oom = true;
}

static bool type_of(const msgpack_object *o, dp_attr_type *t)
{
	if (dp_obj_is_str(o, "numeric"))
		*t = DP_ATTR_NUMERIC;
	else if (dp_obj_is_str(o, "text"))
		*t = DP_ATTR_TEXT;
	else if (dp_obj_is_str(o, "file"))
		*t = DP_ATTR_FILE;
	else
		return false;
	return true;
}

static bool str_of(const msgpack_object *o, const char **p, size_t *n)
{
	if (!o || o->type != MSGPACK_OBJECT_STR)
		return false;
	*p = o->via.str.ptr;
	*n = o->via.str.size;
	return true;
}

static size_t array_size(const msgpack_object *o)
{
	return o && o->type == MSGPACK_OBJECT_ARRAY ? o->via.array.size : 0;
}

/* A list of {name, type} maps (hyperparameters, a set's attributes) into s. */
static void typed_names(build *b, dp_mset *s, const msgpack_object *list)
{
	for (size_t i = 0; i < array_size(list); i++) {
		const msgpack_object *e = &list->via.array.ptr[i];
		const char *p;
		size_t n;
		dp_attr_type t;
		if (str_of(dp_map_get(e, "name"), &p, &n) && type_of(dp_map_get(e, "type"), &t) &&
		    add_attr(b->m, s, p, n, t, NULL))
			b->oom = true;
	}
}

static void user_transformations(build *b, const msgpack_object *tfs)
{
	for (size_t i = 0; i < array_size(tfs); i++) {
		const msgpack_object *to = &tfs->via.array.ptr[i];
		const msgpack_object *deps = dp_map_get(to, "depends_on"), *sets = dp_map_get(to, "sets");
		const char *p;
		size_t n;
		if (!str_of(dp_map_get(to, "name"), &p, &n))
			continue;
		dp_mtf *tf = add_tf(b, p, n, false);
		if (!tf)
			continue;
		for (size_t k = 0; k < array_size(deps); k++)
			if (str_of(&deps->via.array.ptr[k], &p, &n))
				add_dep(b, tf, p, n);
		for (size_t s = 0; s < array_size(sets); s++) {
			const msgpack_object *so = &sets->via.array.ptr[s];
			if (!str_of(dp_map_get(so, "name"), &p, &n))
				continue;
			dp_mset *set = add_set(b, tf, p, n, dp_obj_is_str(dp_map_get(so, "direction"), "input"));
			typed_names(b, set, dp_map_get(so, "attributes"));
		}
	}
}

/* What the index holds of each element of a built-in set, named as
 * dnnprov's tables and PROV name it, with DfAnalyzer's column for it. */
const dp_builtin_attr dp_builtin_attrs[] = {
	{ "TrainingModel", "iLayers", { "name", DP_ATTR_TEXT, "name" } },
	{ "TrainingModel", "iLayers", { "kind", DP_ATTR_TEXT, "attribute_type" } },
	/* A rate (a dropout's) or a name (an activation's): text holds both. */
	{ "TrainingModel", "iLayers", { "value", DP_ATTR_TEXT, "value" } },
	{ "TrainingModel", "oTrainingModel", { "epoch", DP_ATTR_NUMERIC, "epoch" } },
	{ "TrainingModel", "oTrainingModel", { "elapsed", DP_ATTR_NUMERIC, "elapsed_time" } },
	/* Any hyperparameter may be adapted; DfAnalyzer's view shows the
	 * learning rate's alone, as new_lrate. */
	{ "Adaptation", "oAdaptation", { "epoch", DP_ATTR_NUMERIC, "epoch_id" } },
	{ "Adaptation", "oAdaptation", { "hyperparameter", DP_ATTR_TEXT, DP_MODEL_NO_COLUMN } },
	{ "Adaptation", "oAdaptation", { "old", DP_ATTR_NUMERIC, DP_MODEL_NO_COLUMN } },
	{ "Adaptation", "oAdaptation", { "new", DP_ATTR_NUMERIC, "new_lrate" } },
	{ "Adaptation", "oAdaptation", { "id", DP_ATTR_NUMERIC, "adaptation_id" } },
};
const size_t dp_builtin_nattrs = DP_ARRAY_LEN(dp_builtin_attrs);

/* A built-in set, with its attributes of dp_builtin_attrs. */
static dp_mset *builtin_set(build *b, dp_mtf *tf, const char *name, bool input)
{
	dp_mset *s = add_set(b, tf, name, strlen(name), input);
	for (size_t i = 0; s && i < dp_builtin_nattrs; i++)
		if (strcmp(dp_builtin_attrs[i].set, name) == 0) {
			const dp_mattr *a = &dp_builtin_attrs[i].attr;
			assert(strcmp(dp_builtin_attrs[i].tf, tf->name) == 0);
			attr(b, s, a->name, a->type, a->dfanalyzer);
		}
	return s;
}

static void builtins(build *b, const msgpack_object *hyps)
{
	dp_model *m = b->m;
	dp_mtf *train = add_tf(b, "TrainingModel", 13, true);
	if (!train)
		return; /* out of memory */
	typed_names(b, builtin_set(b, train, "iTrainingModel", true), hyps);
	builtin_set(b, train, "iLayers", true);
	dp_mset *out = builtin_set(b, train, "oTrainingModel", false);
	for (size_t i = 0; i < m->nmetrics; i++)
		attr(b, out, m->metrics[i], DP_ATTR_NUMERIC, NULL);
	if (m->adaptation) {
		dp_mtf *adapt = add_tf(b, "Adaptation", 10, true);
		if (adapt)
			add_dep(b, adapt, "TrainingModel", 13);
		builtin_set(b, adapt, "oAdaptation", false);
	}
	dp_mtf *test = add_tf(b, "TestingModel", 12, true);
	if (test)
		add_dep(b, test, "TrainingModel", 13);
	dp_mset *s = builtin_set(b, test, "oTestingModel", false);
	for (size_t i = 0; i < m->nmetrics; i++)
		if (!dp_model_validation_metric(m->metrics[i]))
			attr(b, s, m->metrics[i], DP_ATTR_NUMERIC, NULL);
}

int dp_model_read(const void *value, size_t n, const char *df, dp_model *m)
{
	dp_decoder dec = { 0 };
	msgpack_object o;
	build b = { .m = m };

	memset(m, 0, sizeof(*m));
	m->first_seen = NAN;
	if (!(m->dataflow = arena_str(m, df, strlen(df))))
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	if (!value || dp_decode(&dec, (const unsigned char *)value, n, &o) != 0 || o.type != MSGPACK_OBJECT_MAP)
		memset(&o, 0, sizeof(o)); /* damaged: the built-ins alone */
	const msgpack_object *metrics = dp_map_get(&o, "metrics");
	const msgpack_object *ad = dp_map_get(&o, "adaptation"), *u = dp_map_get(&o, "undeclared_hyperparameters");
	const msgpack_object *fs = dp_map_get(&o, "first_seen");
	m->adaptation = ad && ad->type == MSGPACK_OBJECT_BOOLEAN && ad->via.boolean;
	m->undeclared = u && u->type == MSGPACK_OBJECT_BOOLEAN && u->via.boolean;
	if (!fs || !dp_obj_number(fs, &m->first_seen))
		m->first_seen = NAN;
	size_t cap = 0;
	for (size_t i = 0; i < array_size(metrics) && !b.oom; i++) {
		const char *p;
		size_t len;
		if (!str_of(&metrics->via.array.ptr[i], &p, &len))
			continue;
		const char **slot = grow(m, (void **)&m->metrics, &m->nmetrics, &cap, sizeof(*slot));
		if (!slot || !(*slot = arena_str(m, p, len)))
			b.oom = true;
	}
	const msgpack_object *mr = dp_map_get(&o, "metric_ranges");
	cap = 0;
	for (uint32_t i = 0; mr && mr->type == MSGPACK_OBJECT_MAP && i < mr->via.map.size && !b.oom; i++) {
		const msgpack_object *r = &mr->via.map.ptr[i].val;
		const char *p;
		size_t len;
		double lo, hi;
		if (!str_of(&mr->via.map.ptr[i].key, &p, &len) || r->type != MSGPACK_OBJECT_ARRAY || r->via.array.size != 2 ||
		    !dp_obj_number(&r->via.array.ptr[0], &lo) || !dp_obj_number(&r->via.array.ptr[1], &hi))
			continue;
		struct dp_mrange *x = grow(m, (void **)&m->ranges, &m->nranges, &cap, sizeof(*x));
		if (!x || !(x->metric = arena_str(m, p, len)))
			b.oom = true;
		else
			x->low = lo, x->high = hi;
	}
	if (!b.oom)
		builtins(&b, dp_map_get(&o, "hyperparameters"));
	if (!b.oom)
		user_transformations(&b, dp_map_get(&o, "transformations"));
	assert(b.oom || (m->ntfs >= 2 && m->tfs[0].builtin && m->tfs[0].nsets == 3)); /* TrainingModel's three */
	bool oom = b.oom || dec.out_of_memory;
	dp_decoder_free(&dec);
	return oom ? dp_error(DNNPROV_ENOMEM, "out of memory reading the specification of %s", df) : 0;
}

/* ---- reading ------------------------------------------------------------------- */

const dp_mset *dp_model_hyps(const dp_model *m)
{
	/* TrainingModel's first set, by construction (builtins()). */
	assert(!m->ntfs || (m->tfs[0].builtin && strcmp(m->tfs[0].name, "TrainingModel") == 0));
	return m->ntfs && m->tfs[0].nsets ? &m->tfs[0].sets[0] : NULL;
}

int dp_model_add_hyp(dp_model *m, const char *name, size_t n, dp_attr_type type)
{
	assert(type == DP_ATTR_NUMERIC || type == DP_ATTR_TEXT || type == DP_ATTR_FILE);
	dp_mset *s = (dp_mset *)dp_model_hyps(m);
	if (s && add_attr(m, s, name, n, type, NULL))
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	return 0;
}

const dp_mtf *dp_model_tf(const dp_model *m, const char *tf)
{
	for (size_t i = 0; i < m->ntfs; i++)
		if (strcmp(m->tfs[i].name, tf) == 0)
			return &m->tfs[i];
	return NULL;
}

const dp_mset *dp_model_set(const dp_model *m, const char *tf, const char *set)
{
	const dp_mtf *t = dp_model_tf(m, tf);
	for (size_t i = 0; t && i < t->nsets; i++)
		if (strcmp(t->sets[i].name, set) == 0)
			return &t->sets[i];
	return NULL;
}

bool dp_model_validation_metric(const char *name)
{
	return dp_strncasecmp(name, "val_", 4) == 0;
}
