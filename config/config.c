/*
 * config.c - an experiment YAML file, read strictly, into struct dnnprov_config.
 *
 * The schema is in docs/CONFIG.md.  The file is read whole (at most 1 MiB)
 * and parsed twice: a pass over libyaml's events checks the stream's shape
 * and bounds what libyaml's own costs grow with (nesting depth, anchors,
 * aliases; see prescan()), then the document loader builds the node graph
 * and code that follows the schema walks it: each level knows which keys it
 * accepts and what node type each takes, so the walk never goes deeper than
 * the schema.  Every failure is DNNPROV_ECONFIG with a detail
 * "FILE:LINE:COL: message" (1-based; libyaml's marks are 0-based).
 *
 * Decisions the schema left open, written down here and in docs/CONFIG.md:
 *
 * - Null.  A plain empty value, `~` or `null` is null, and null is never a
 *   valid value: `metrics:` with nothing after it is an error rather than
 *   "no metrics", because a half-edited file should not silently mean
 *   something.  Write `[]` or `{}`, or remove the key.
 * - Booleans are the plain scalars `true` and `false`; a quoted "true" is a
 *   string, and YAML 1.1's yes/no/on/off/1/0/True are refused.
 * - Type names (numeric, text, file) and durability names are lowercase.
 *   Size and duration units are matched ignoring case (units.c).
 * - Names are compared ignoring ASCII case within each namespace, because
 *   they become folder names and index keys, and `Loss` beside `loss` would
 *   be two runs of curves that look like one.  The first spelling wins and
 *   the second is an error naming the first's position.
 * - A dependency must be spelled exactly as declared (the error suggests
 *   the declared spelling), may name a transformation declared later in the
 *   file, may not be listed twice, and the dependencies of user-defined
 *   transformations may not form a cycle (a transformation depending on
 *   itself included).
 * - val_ twins: a metric starting with "val_" (any case) gets none, and no
 *   twin is added when a listed metric already has its name (any case).  A
 *   metric whose twin would pass DNNPROV_NAME_MAX is refused while
 *   val_metrics is on.
 * - Aliases are followed (reusing one attribute mapping for several sets
 *   is a fine use) but an alias node has no position of its own in libyaml's
 *   graph, so an error inside aliased content points at the anchored
 *   original.  YAML merge keys (`<<`) are not supported and are reported
 *   as unknown keys.  The walk stops after CONFIG_VISITS_MAX nodes, which
 *   bounds the work a small file of nested aliases can cause.
 * - log_dir and index_dir may not start with '~' (only a shell expands it).
 * - fsync_interval is accepted whatever the durability; only `interval`
 *   uses it.
 * - Explicit YAML tags (`!!str`, `!!binary`, `!local`) are refused: the
 *   schema types every value, and a tag would change what a value means
 *   without anything else saying so.
 * - metric_ranges: each bound is a plain number or YAML's .inf / -.inf
 *   (open on that side), low below high; the metric must be declared
 *   (any name with free_metrics) and spelled as declared.  A listed
 *   metric's val_ twin takes its range unless the file gives the twin one.
 * - A relative log_dir or index_dir is relative to the folder of the file;
 *   when the file is named through a symbolic link, to the folder of the
 *   file the link names (its real path), so that every path to one file
 *   gives one log folder.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "config/config.h"

#define CONFIG_FILE_MAX (1u << 20)
#define CONFIG_VISITS_MAX 100000
#define CONFIG_DEPTH_MAX 32
#define CONFIG_ANCHORS_MAX 1000
#define CONFIG_ALIASES_MAX 10000

#define SEGMENT_SIZE_DEFAULT (UINT64_C(64) << 20)
#define SEGMENT_SIZE_MIN (UINT64_C(4) << 10)
#define SEGMENT_SIZE_MAX (UINT64_C(1) << 40)
#define FSYNC_INTERVAL_DEFAULT 1000
#define FSYNC_INTERVAL_MAX (60 * 60 * 1000)

#define LOG_DIR_DEFAULT "./dnnprov-logs"
#define INDEX_DIR_DEFAULT "./dnnprov-index"

/* Values quoted in details are cut to this many bytes so that the position
 * and the key always fit in the 1 KiB detail. */
#define QUOTE_MAX 64

const char *const dp_builtin_hyperparameters[7] = {
	"OPTIMIZER_NAME", "LEARNING_RATE", "DECAY", "MOMENTUM", "NUM_EPOCHS", "BATCH_SIZE",
	"NUM_LAYERS",
};

const dp_attr_type dp_builtin_hyperparameter_types[7] = {
	DP_ATTR_TEXT,    DP_ATTR_NUMERIC, DP_ATTR_NUMERIC, DP_ATTR_NUMERIC,
	DP_ATTR_NUMERIC, DP_ATTR_NUMERIC, DP_ATTR_NUMERIC,
};

static const char *const builtin_transformations[] = {
	"TrainingModel",
	"Adaptation",
	"TestingModel",
};

/* ------------------------------------------------------------------------
 * Walking the document
 * ------------------------------------------------------------------------ */

struct loader {
	const char *path;
	const char *dirs_base; /* the file relative folders are resolved from */
	yaml_document_t doc;
	size_t visits;
	dnnprov_config *cfg;
};

static int vfail_at(const struct loader *ld, yaml_mark_t mark, const char *fmt, va_list ap)
{
	char why[900];

	/* Formatting into a local buffer first also makes it safe to pass
	 * dnnprov_errmsg() itself as an argument, as the callers that wrap a
	 * detail from dp_check_tag() or units.c do. */
	vsnprintf(why, sizeof(why), fmt, ap);
	return dp_error(DNNPROV_ECONFIG, "%s:%zu:%zu: %s", ld->path, mark.line + 1, mark.column + 1,
			why);
}

static int fail_at(const struct loader *ld, yaml_mark_t mark, const char *fmt, ...) DP_PRINTF(3, 4);
static int fail_at(const struct loader *ld, yaml_mark_t mark, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vfail_at(ld, mark, fmt, ap);
	va_end(ap);
	return rc;
}

static int fail(const struct loader *ld, const yaml_node_t *node, const char *fmt, ...)
	DP_PRINTF(3, 4);
static int fail(const struct loader *ld, const yaml_node_t *node, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vfail_at(ld, node->start_mark, fmt, ap);
	va_end(ap);
	return rc;
}

/* Every node the walk looks at comes through here, so that the visit cap
 * holds however aliases multiply the graph. */
static int child(struct loader *ld, yaml_node_item_t item, yaml_node_t **out)
{
	yaml_node_t *n = yaml_document_get_node(&ld->doc, item);

	if (!n) /* libyaml never makes dangling references; be safe anyway */
		return dp_error(DNNPROV_ECONFIG, "%s: malformed YAML document", ld->path);
	if (++ld->visits > CONFIG_VISITS_MAX)
		return fail(ld, n, "alias expansion too large: more than %d nodes to visit",
			    CONFIG_VISITS_MAX);
	*out = n;
	return 0;
}

static size_t npairs(const yaml_node_t *map)
{
	return (size_t)(map->data.mapping.pairs.top - map->data.mapping.pairs.start);
}

static size_t nitems(const yaml_node_t *seq)
{
	return (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
}

static const char *scalar(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

static bool is_null(const yaml_node_t *n)
{
	static const char *const spellings[] = { "", "~", "null", "Null", "NULL" };

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	for (size_t i = 0; i < DP_ARRAY_LEN(spellings); i++)
		if (strcmp(scalar(n), spellings[i]) == 0)
			return true;
	return false;
}

static const char *kind_name(yaml_node_type_t t)
{
	switch (t) {
	case YAML_SCALAR_NODE:
		return "a scalar";
	case YAML_SEQUENCE_NODE:
		return "a sequence";
	case YAML_MAPPING_NODE:
		return "a mapping";
	default:
		return "nothing";
	}
}

static const char *node_kind(const yaml_node_t *n)
{
	return is_null(n) ? "null" : kind_name(n->type);
}

/* `what` names the place in the file: "'metrics'", "set 'iA'". */
static int expect(const struct loader *ld, const yaml_node_t *n, yaml_node_type_t type,
		  const char *what)
{
	if (n->type == type && !is_null(n))
		return 0;
	return fail(ld, n, "%s must be %s, not %s", what, kind_name(type), node_kind(n));
}

static int get_string(const struct loader *ld, const yaml_node_t *n, const char *what,
		      const char **out)
{
	int rc = expect(ld, n, YAML_SCALAR_NODE, what);

	if (rc)
		return rc;
	/* A double-quoted "\0" puts a NUL inside the scalar, which C strings
	 * would silently cut. */
	if (memchr(n->data.scalar.value, '\0', n->data.scalar.length))
		return fail(ld, n, "%s contains a NUL character", what);
	*out = scalar(n);
	return 0;
}

/* A scalar that becomes a tag (rule dp_check_tag) or the name of a part of
 * the dataflow, an SQL column or table too (dp_check_name): `what` is the
 * rule's noun ("metric name"). */
static int get_named(const struct loader *ld, const yaml_node_t *n, const char *what,
		     int (*rule)(const char *, const char *), const char **out)
{
	int rc = get_string(ld, n, what, out);

	if (rc)
		return rc;
	if (rule(what, *out) < 0)
		return fail(ld, n, "%s", dnnprov_errmsg());
	return 0;
}

static bool is_bool_literal(const yaml_node_t *n)
{
	return n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	       (strcmp(scalar(n), "true") == 0 || strcmp(scalar(n), "false") == 0);
}

static int get_bool(const struct loader *ld, const yaml_node_t *n, const char *what, bool *out)
{
	int rc = expect(ld, n, YAML_SCALAR_NODE, what);

	if (rc)
		return rc;
	if (!is_bool_literal(n)) {
		if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
			return fail(ld, n, "%s must be true or false, not a quoted string", what);
		return fail(ld, n, "%s must be true or false, not '%.*s'", what, QUOTE_MAX,
			    scalar(n));
	}
	*out = strcmp(scalar(n), "true") == 0;
	return 0;
}

static int get_type(const struct loader *ld, const yaml_node_t *n, const char *what,
		    dp_attr_type *out)
{
	static const dp_attr_type types[] = { DP_ATTR_NUMERIC, DP_ATTR_TEXT, DP_ATTR_FILE };
	const char *s;
	int rc = get_string(ld, n, what, &s);

	if (rc)
		return rc;
	for (size_t i = 0; i < DP_ARRAY_LEN(types); i++) {
		if (strcmp(s, dp_attr_type_name(types[i])) == 0) {
			*out = types[i];
			return 0;
		}
	}
	return fail(ld, n, "unknown type '%.*s' for %s (expected numeric, text or file)", QUOTE_MAX,
		    s, what);
}

/* Checks a mapping with a fixed set of keys and hands back each key's node
 * and value node (NULL when absent).  `where` names the mapping for the
 * message: "the top level", "'log'". */
static int get_fields(struct loader *ld, const yaml_node_t *map, const char *where,
		      const char *const *names, size_t n, yaml_node_t **keys, yaml_node_t **vals)
{
	yaml_node_pair_t *pair;
	int rc;

	for (size_t i = 0; i < n; i++)
		keys[i] = vals[i] = NULL;
	for (pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top; pair++) {
		yaml_node_t *key, *val;
		const char *k;
		size_t i;

		if ((rc = child(ld, pair->key, &key)) || (rc = child(ld, pair->value, &val)))
			return rc;
		if ((rc = get_string(ld, key, "a key", &k)))
			return rc;
		for (i = 0; i < n && strcmp(k, names[i]) != 0; i++)
			;
		if (i == n) {
			char list[256] = "";
			size_t len = 0;

			for (size_t j = 0; j < n && len < sizeof(list); j++)
				len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s",
							j ? ", " : "", names[j]);
			return fail(ld, key, "unknown key '%.*s' in %s (expected one of: %s)",
				    QUOTE_MAX, k, where, list);
		}
		if (keys[i])
			return fail(ld, key, "duplicate key '%s' in %s (first at %zu:%zu)", k,
				    where, keys[i]->start_mark.line + 1,
				    keys[i]->start_mark.column + 1);
		keys[i] = key;
		vals[i] = val;
	}
	return 0;
}

/* ------------------------------------------------------------------------
 * Name sets: duplicate and case-folding collision checks in linear time
 *
 * A file may list tens of thousands of names; comparing each with all
 * before it would let a 1 MiB file cost billions of comparisons.  The table
 * is sized once for the names the caller will add, so adding never fails.
 * Entries with node == NULL are built-in names reserved in the namespace.
 * ------------------------------------------------------------------------ */

struct name_entry {
	const char *name; /* not owned: a YAML scalar or a string of the config */
	const yaml_node_t *node;
	size_t index;
};

struct nameset {
	struct name_entry *slots;
	size_t mask;
};

static int nameset_init(struct nameset *ns, size_t n)
{
	size_t cap = 8;

	while (cap < 2 * n + 1)
		cap *= 2;
	ns->slots = calloc(cap, sizeof(*ns->slots));
	ns->mask = cap - 1;
	if (!ns->slots)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	return 0;
}

static void nameset_free(struct nameset *ns)
{
	free(ns->slots);
	ns->slots = NULL;
}

static uint64_t fold_hash(const char *s)
{
	uint64_t h = UINT64_C(14695981039346656037);

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		h = (h ^ c) * UINT64_C(1099511628211);
	}
	return h;
}

/* The entry whose name equals `name` ignoring case, or the free slot where
 * it belongs: the caller tests ->name and fills the slot itself. */
static struct name_entry *nameset_slot(const struct nameset *ns, const char *name)
{
	size_t i = (size_t)fold_hash(name) & ns->mask;

	while (ns->slots[i].name && dp_strcasecmp(ns->slots[i].name, name) != 0)
		i = (i + 1) & ns->mask;
	return &ns->slots[i];
}

static void nameset_fill(struct name_entry *e, const char *name, const yaml_node_t *node,
			 size_t index)
{
	e->name = name;
	e->node = node;
	e->index = index;
}

/* The message for `name` (at node) meeting the earlier entry prev. */
static int clash(const struct loader *ld, const yaml_node_t *node, const char *what,
		 const char *name, const struct name_entry *prev)
{
	bool same = strcmp(name, prev->name) == 0;

	if (!prev->node && same)
		return fail(ld, node, "'%s' is a built-in %s; choose another name", name, what);
	if (!prev->node)
		return fail(ld, node,
			    "%s '%s' collides with the built-in %s '%s' (names are compared ignoring case)",
			    what, name, what, prev->name);
	if (same)
		return fail(ld, node, "duplicate %s '%s' (first at %zu:%zu)", what, name,
			    prev->node->start_mark.line + 1, prev->node->start_mark.column + 1);
	return fail(ld, node,
		    "%s '%s' collides with '%s' at %zu:%zu (names are compared ignoring case)",
		    what, name, prev->name, prev->node->start_mark.line + 1,
		    prev->node->start_mark.column + 1);
}

static char *xstrdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		dp_error(DNNPROV_ENOMEM, "out of memory");
	return p;
}

/* ------------------------------------------------------------------------
 * Sections
 * ------------------------------------------------------------------------ */

static int builtin_hyperparameter(const char *name)
{
	for (int i = 0; i < 7; i++)
		if (strcmp(name, dp_builtin_hyperparameters[i]) == 0)
			return i;
	return -1;
}

/* The seven built-ins are always present, so this runs even when the file
 * has no `hyperparameters` (map == NULL). */
static int load_hyperparameters(struct loader *ld, const yaml_node_t *map)
{
	dnnprov_config *cfg = ld->cfg;
	const yaml_node_t *seen[7] = { NULL };
	struct nameset ns = { NULL, 0 };
	size_t n = 0;
	int rc;

	if (map) {
		if ((rc = expect(ld, map, YAML_MAPPING_NODE, "'hyperparameters'")))
			return rc;
		n = npairs(map);
	}
	cfg->hyperparameters = calloc(7 + n, sizeof(*cfg->hyperparameters));
	if (!cfg->hyperparameters)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	for (int i = 0; i < 7; i++) {
		dp_hyperparameter *hp = &cfg->hyperparameters[cfg->nhyperparameters];

		if (!(hp->name = xstrdup(dp_builtin_hyperparameters[i])))
			return DNNPROV_ENOMEM;
		hp->type = dp_builtin_hyperparameter_types[i];
		hp->builtin = true;
		cfg->nhyperparameters++;
	}
	if (!map)
		return 0;

	if ((rc = nameset_init(&ns, 7 + n)))
		return rc;
	for (size_t i = 0; i < 7; i++)
		nameset_fill(nameset_slot(&ns, dp_builtin_hyperparameters[i]),
			     dp_builtin_hyperparameters[i], NULL, i);

	for (yaml_node_pair_t *pair = map->data.mapping.pairs.start;
	     pair < map->data.mapping.pairs.top; pair++) {
		yaml_node_t *key, *val;
		struct name_entry *e;
		dp_hyperparameter *hp;
		const char *name;
		char what[DNNPROV_NAME_MAX + 40];
		int b;

		if ((rc = child(ld, pair->key, &key)) || (rc = child(ld, pair->value, &val)) ||
		    (rc = get_named(ld, key, "hyperparameter name", dp_check_name, &name)))
			goto out;
		b = builtin_hyperparameter(name);
		if (b >= 0) {
			if (seen[b]) {
				rc = fail(ld, key,
					  "duplicate hyperparameter '%s' (first at %zu:%zu)", name,
					  seen[b]->start_mark.line + 1,
					  seen[b]->start_mark.column + 1);
				goto out;
			}
			seen[b] = key;
			snprintf(what, sizeof(what), "built-in hyperparameter '%s'", name);
			if ((rc = get_bool(ld, val, what, &cfg->hyperparameters[b].selected)))
				goto out;
			continue;
		}
		e = nameset_slot(&ns, name);
		if (e->name) {
			rc = clash(ld, key, "hyperparameter", name, e);
			goto out;
		}
		nameset_fill(e, name, key, cfg->nhyperparameters);
		if (is_bool_literal(val)) {
			rc = fail(ld, val,
				  "hyperparameter '%s' is not built in, so it takes a type (numeric, text or file), not %s",
				  name, scalar(val));
			goto out;
		}
		snprintf(what, sizeof(what), "hyperparameter '%s'", name);
		hp = &cfg->hyperparameters[cfg->nhyperparameters];
		if ((rc = get_type(ld, val, what, &hp->type)))
			goto out;
		if (!(hp->name = xstrdup(name))) {
			rc = DNNPROV_ENOMEM;
			goto out;
		}
		hp->selected = true;
		cfg->nhyperparameters++;
	}
out:
	nameset_free(&ns);
	return rc;
}

static bool has_val_prefix(const char *s)
{
	char head[5] = "";

	strncat(head, s, 4);
	return dp_strcasecmp(head, "val_") == 0;
}

/* Runs after val_metrics is known. */
static int load_metrics(struct loader *ld, const yaml_node_t *seq)
{
	dnnprov_config *cfg = ld->cfg;
	struct nameset ns = { NULL, 0 };
	size_t n, listed;
	int rc;

	if ((rc = expect(ld, seq, YAML_SEQUENCE_NODE, "'metrics'")))
		return rc;
	n = nitems(seq);
	cfg->metrics = calloc(2 * n + 1, sizeof(*cfg->metrics));
	if (!cfg->metrics)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	if ((rc = nameset_init(&ns, 2 * n)))
		return rc;

	for (yaml_node_item_t *it = seq->data.sequence.items.start;
	     it < seq->data.sequence.items.top; it++) {
		yaml_node_t *item;
		struct name_entry *e;
		const char *name;

		if ((rc = child(ld, *it, &item)) || (rc = get_named(ld, item, "metric name", dp_check_name, &name)))
			goto out;
		e = nameset_slot(&ns, name);
		if (e->name) {
			rc = clash(ld, item, "metric", name, e);
			goto out;
		}
		/* Refused here rather than when the twin is made, while the
		 * metric's node is at hand for the position. */
		if (cfg->val_metrics && !has_val_prefix(name) &&
		    strlen(name) + 4 > DNNPROV_NAME_MAX) {
			rc = fail(ld, item,
				  "metric name '%s' is too long for its val_ twin (the limit is %d bytes); shorten it or set val_metrics: false",
				  name, DNNPROV_NAME_MAX);
			goto out;
		}
		assert(cfg->nmetrics < n); /* one listed name a node */
		if (!(cfg->metrics[cfg->nmetrics] = xstrdup(name))) {
			rc = DNNPROV_ENOMEM;
			goto out;
		}
		nameset_fill(e, cfg->metrics[cfg->nmetrics], item, cfg->nmetrics);
		cfg->nmetrics++;
	}
	cfg->nmetrics_listed = cfg->nmetrics;
	if (!cfg->val_metrics)
		goto out;

	listed = cfg->nmetrics;
	for (size_t i = 0; i < listed; i++) {
		char twin[DNNPROV_NAME_MAX + 1];
		struct name_entry *e;

		if (has_val_prefix(cfg->metrics[i]))
			continue;
		snprintf(twin, sizeof(twin), "val_%s", cfg->metrics[i]);
		e = nameset_slot(&ns, twin);
		if (e->name)
			continue;
		/* At most a twin a listed name: the array holds 2n and its NULL. */
		assert(cfg->nmetrics < 2 * n && strlen(twin) <= DNNPROV_NAME_MAX);
		if (!(cfg->metrics[cfg->nmetrics] = xstrdup(twin))) {
			rc = DNNPROV_ENOMEM;
			goto out;
		}
		nameset_fill(e, cfg->metrics[cfg->nmetrics], NULL, cfg->nmetrics);
		cfg->nmetrics++;
	}
out:
	nameset_free(&ns);
	return rc;
}

/* A bound of a range: a plain number, or .inf / -.inf (YAML 1.1's
 * spellings, any case) for an open side. */
static int get_bound(const struct loader *ld, const yaml_node_t *n, const char *what, double *out)
{
	static const char *const inf[] = { ".inf", "+.inf" };
	const char *s;
	char *end;
	int rc;

	if ((rc = get_string(ld, n, what, &s)))
		return rc;
	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return fail(ld, n, "%s must be a number, not a quoted string", what);
	for (size_t i = 0; i < DP_ARRAY_LEN(inf); i++)
		if (dp_strcasecmp(s, inf[i]) == 0) {
			*out = INFINITY;
			return 0;
		}
	if (dp_strcasecmp(s, "-.inf") == 0) {
		*out = -INFINITY;
		return 0;
	}
	errno = 0;
	*out = strtod(s, &end);
	if (!*s || *end || end == s || isnan(*out) || isinf(*out) || (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')))
		return fail(ld, n, "%s must be a number or .inf / -.inf, not '%.*s'", what, QUOTE_MAX, s);
	return 0;
}

static int add_range(dnnprov_config *cfg, const char *metric, double low, double high)
{
	dp_metric_range *r = &cfg->metric_ranges[cfg->nmetric_ranges];
	if (!(r->metric = xstrdup(metric)))
		return DNNPROV_ENOMEM;
	r->low = low;
	r->high = high;
	cfg->nmetric_ranges++;
	return 0;
}

/* Runs after the metrics are known.  `accuracy: [0, 1]`. */
static int load_metric_ranges(struct loader *ld, const yaml_node_t *map)
{
	dnnprov_config *cfg = ld->cfg;
	size_t listed;
	int rc;

	if ((rc = expect(ld, map, YAML_MAPPING_NODE, "'metric_ranges'")))
		return rc;
	/* Room for the twins too. */
	if (!(cfg->metric_ranges = calloc(2 * npairs(map) + 1, sizeof(*cfg->metric_ranges))))
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	for (yaml_node_pair_t *pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top; pair++) {
		yaml_node_t *key, *val, *lo, *hi;
		const char *name, *declared = NULL;
		double low, high;

		if ((rc = child(ld, pair->key, &key)) || (rc = child(ld, pair->value, &val)) ||
		    (rc = get_named(ld, key, "metric name", dp_check_name, &name)))
			return rc;
		for (size_t i = 0; i < cfg->nmetrics && !declared; i++)
			if (dp_strcasecmp(cfg->metrics[i], name) == 0)
				declared = cfg->metrics[i];
		if (declared && strcmp(declared, name) != 0)
			return fail(ld, key, "metric_ranges: the metric is spelled '%s'", declared);
		if (!declared && !cfg->free_metrics)
			return fail(ld, key, "metric_ranges: '%s' is not a declared metric", name);
		for (size_t i = 0; i < cfg->nmetric_ranges; i++)
			if (dp_strcasecmp(cfg->metric_ranges[i].metric, name) == 0)
				return fail(ld, key, "metric_ranges: '%s' is given twice", name);
		if ((rc = expect(ld, val, YAML_SEQUENCE_NODE, "a metric's range")))
			return rc;
		if (nitems(val) != 2)
			return fail(ld, val, "a metric's range is [low, high], two bounds, not %zu", nitems(val));
		if ((rc = child(ld, val->data.sequence.items.start[0], &lo)) ||
		    (rc = child(ld, val->data.sequence.items.start[1], &hi)) ||
		    (rc = get_bound(ld, lo, "the low bound", &low)) || (rc = get_bound(ld, hi, "the high bound", &high)))
			return rc;
		if (!(low < high))
			return fail(ld, val, "metric_ranges: '%s': the low bound must be below the high bound", name);
		if ((rc = add_range(cfg, name, low, high)))
			return rc;
	}
	listed = cfg->nmetric_ranges;
	for (size_t i = 0; cfg->val_metrics && i < listed; i++) {
		char twin[DNNPROV_NAME_MAX + 8];
		bool given = false, is_metric = false;
		if (has_val_prefix(cfg->metric_ranges[i].metric))
			continue;
		snprintf(twin, sizeof(twin), "val_%s", cfg->metric_ranges[i].metric);
		for (size_t k = 0; k < cfg->nmetric_ranges && !given; k++)
			given = dp_strcasecmp(cfg->metric_ranges[k].metric, twin) == 0;
		for (size_t k = 0; k < cfg->nmetrics && !is_metric; k++)
			is_metric = strcmp(cfg->metrics[k], twin) == 0;
		if (!given && is_metric &&
		    (rc = add_range(cfg, twin, cfg->metric_ranges[i].low, cfg->metric_ranges[i].high)))
			return rc;
	}
	return 0;
}

/* Adds the sets of one `input` or `output` mapping to tf.  setns holds the
 * set names of both, since inputs and outputs share one namespace. */
static int load_sets(struct loader *ld, struct nameset *setns, dp_transformation *tf,
		     const yaml_node_t *map, bool is_input)
{
	for (yaml_node_pair_t *pair = map->data.mapping.pairs.start;
	     pair < map->data.mapping.pairs.top; pair++) {
		struct nameset attrns = { NULL, 0 };
		yaml_node_t *key, *val;
		struct name_entry *e;
		const char *name;
		char what[DNNPROV_NAME_MAX + 40];
		dp_set *set;
		int rc;

		if ((rc = child(ld, pair->key, &key)) || (rc = child(ld, pair->value, &val)) ||
		    (rc = get_named(ld, key, "set name", dp_check_name, &name)))
			return rc;
		e = nameset_slot(setns, name);
		if (e->name)
			return clash(ld, key, "set", name, e);
		nameset_fill(e, name, key, tf->nsets);
		snprintf(what, sizeof(what), "set '%s'", name);
		if ((rc = expect(ld, val, YAML_MAPPING_NODE, what)))
			return rc;
		if (npairs(val) == 0)
			return fail(ld, key,
				    "set '%s' of transformation '%s' needs at least one attribute",
				    name, tf->name);

		set = &tf->sets[tf->nsets++];
		set->is_input = is_input;
		if (!(set->name = xstrdup(name)))
			return DNNPROV_ENOMEM;
		set->attrs = calloc(npairs(val), sizeof(*set->attrs));
		if (!set->attrs)
			return dp_error(DNNPROV_ENOMEM, "out of memory");
		if ((rc = nameset_init(&attrns, npairs(val))))
			return rc;
		for (yaml_node_pair_t *ap = val->data.mapping.pairs.start;
		     ap < val->data.mapping.pairs.top; ap++) {
			yaml_node_t *akey, *aval;
			dp_attr *attr = &set->attrs[set->nattrs];
			const char *aname;

			if ((rc = child(ld, ap->key, &akey)) ||
			    (rc = child(ld, ap->value, &aval)) ||
			    (rc = get_named(ld, akey, "attribute name", dp_check_name, &aname)))
				break;
			e = nameset_slot(&attrns, aname);
			if (e->name) {
				rc = clash(ld, akey, "attribute", aname, e);
				break;
			}
			nameset_fill(e, aname, akey, set->nattrs);
			snprintf(what, sizeof(what), "attribute '%s'", aname);
			if ((rc = get_type(ld, aval, what, &attr->type)))
				break;
			if (!(attr->name = xstrdup(aname))) {
				rc = DNNPROV_ENOMEM;
				break;
			}
			set->nattrs++;
		}
		nameset_free(&attrns);
		if (rc)
			return rc;
	}
	return 0;
}

static int load_depends(struct loader *ld, const struct nameset *tfns, dp_transformation *tf,
			const yaml_node_t *seq)
{
	struct nameset depns = { NULL, 0 };
	int rc;

	tf->depends_on = calloc(nitems(seq) + 1, sizeof(*tf->depends_on));
	if (!tf->depends_on)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	if ((rc = nameset_init(&depns, nitems(seq))))
		return rc;
	for (yaml_node_item_t *it = seq->data.sequence.items.start;
	     it < seq->data.sequence.items.top; it++) {
		const struct name_entry *decl;
		struct name_entry *e;
		yaml_node_t *item;
		const char *name;

		if ((rc = child(ld, *it, &item)) ||
		    (rc = get_string(ld, item, "a dependency", &name)))
			goto out;
		decl = nameset_slot(tfns, name);
		if (!decl->name) {
			rc = fail(ld, item,
				  "unknown dependency '%.*s' of transformation '%s' (expected TrainingModel, Adaptation, TestingModel or a transformation declared in this file)",
				  QUOTE_MAX, name, tf->name);
			goto out;
		}
		if (strcmp(decl->name, name) != 0) {
			rc = fail(ld, item,
				  "unknown dependency '%s' of transformation '%s' (did you mean '%s'?)",
				  name, tf->name, decl->name);
			goto out;
		}
		e = nameset_slot(&depns, name);
		if (e->name) {
			rc = fail(ld, item, "transformation '%s' lists dependency '%s' twice",
				  tf->name, name);
			goto out;
		}
		nameset_fill(e, name, item, tf->ndepends);
		if (!(tf->depends_on[tf->ndepends] = xstrdup(name))) {
			rc = DNNPROV_ENOMEM;
			goto out;
		}
		tf->ndepends++;
	}
out:
	nameset_free(&depns);
	return rc;
}

enum { TF_INPUT, TF_OUTPUT, TF_DEPENDS_ON, TF_NFIELDS };
static const char *const tf_fields[TF_NFIELDS] = { "input", "output", "depends_on" };

static int load_transformation(struct loader *ld, const struct nameset *tfns, dp_transformation *tf,
			       const yaml_node_t *key, const yaml_node_t *body)
{
	yaml_node_t *keys[TF_NFIELDS], *vals[TF_NFIELDS];
	struct nameset setns = { NULL, 0 };
	char where[DNNPROV_NAME_MAX + 40];
	size_t nsets = 0;
	int rc;

	snprintf(where, sizeof(where), "transformation '%s'", tf->name);
	if ((rc = expect(ld, body, YAML_MAPPING_NODE, where)) ||
	    (rc = get_fields(ld, body, where, tf_fields, TF_NFIELDS, keys, vals)))
		return rc;
	for (int i = TF_INPUT; i <= TF_OUTPUT; i++) {
		char what[DNNPROV_NAME_MAX + 60];

		if (!vals[i])
			continue;
		snprintf(what, sizeof(what), "'%s' of transformation '%s'", tf_fields[i], tf->name);
		if ((rc = expect(ld, vals[i], YAML_MAPPING_NODE, what)))
			return rc;
		nsets += npairs(vals[i]);
	}
	if (nsets == 0)
		return fail(ld, key, "transformation '%s' needs at least one input or output set",
			    tf->name);

	tf->sets = calloc(nsets, sizeof(*tf->sets));
	if (!tf->sets)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	if ((rc = nameset_init(&setns, nsets)))
		return rc;
	if ((vals[TF_INPUT] && (rc = load_sets(ld, &setns, tf, vals[TF_INPUT], true))) ||
	    (vals[TF_OUTPUT] && (rc = load_sets(ld, &setns, tf, vals[TF_OUTPUT], false))))
		goto out;
	if (vals[TF_DEPENDS_ON]) {
		char what[DNNPROV_NAME_MAX + 60];

		snprintf(what, sizeof(what), "'depends_on' of transformation '%s'", tf->name);
		if ((rc = expect(ld, vals[TF_DEPENDS_ON], YAML_SEQUENCE_NODE, what)) ||
		    (rc = load_depends(ld, tfns, tf, vals[TF_DEPENDS_ON])))
			goto out;
	}
out:
	nameset_free(&setns);
	return rc;
}

/* The cycle is the stack from d's entry to the top, then d again. */
static int cycle_error(const struct loader *ld, yaml_node_t **keys, const size_t *stack, size_t sp,
		       size_t d)
{
	const dp_transformation *tfs = ld->cfg->transformations;
	char path[600];
	size_t k = sp, len = 0;

	while (stack[k - 1] != d)
		k--;
	for (k--; k < sp && len < sizeof(path); k++)
		len += (size_t)snprintf(path + len, sizeof(path) - len, "%s -> ",
					tfs[stack[k]].name);
	if (len < sizeof(path))
		snprintf(path + len, sizeof(path) - len, "%s", tfs[d].name);
	return fail(ld, keys[d], "transformations depend on each other in a cycle: %s", path);
}

/* A depth-first search with an explicit stack, since a hostile file can
 * chain tens of thousands of transformations. */
static int check_cycles(struct loader *ld, const struct nameset *tfns, yaml_node_t **keys)
{
	enum { WHITE, GREY, BLACK };
	const dnnprov_config *cfg = ld->cfg;
	size_t n = cfg->ntransformations, sp = 0;
	unsigned char *color = calloc(n + 1, 1);
	size_t *stack = calloc(n + 1, sizeof(*stack));
	size_t *next = calloc(n + 1, sizeof(*next)); /* next[i]: stack[i]'s next dependency */
	int rc = 0;

	if (!color || !stack || !next) {
		rc = dp_error(DNNPROV_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t root = 0; root < n && !rc; root++) {
		if (color[root] != WHITE)
			continue;
		color[root] = GREY;
		stack[sp] = root;
		next[sp++] = 0;
		while (sp > 0 && !rc) {
			const dp_transformation *tf = &cfg->transformations[stack[sp - 1]];
			size_t d;

			if (next[sp - 1] == tf->ndepends) {
				color[stack[--sp]] = BLACK;
				continue;
			}
			d = nameset_slot(tfns, tf->depends_on[next[sp - 1]++])->index;
			if (d == SIZE_MAX || color[d] == BLACK) /* a built-in, or known acyclic */
				continue;
			if (color[d] == GREY) {
				rc = cycle_error(ld, keys, stack, sp, d);
				continue;
			}
			color[d] = GREY;
			stack[sp] = d;
			next[sp++] = 0;
		}
	}
out:
	free(next);
	free(stack);
	free(color);
	return rc;
}

static int load_transformations(struct loader *ld, const yaml_node_t *map)
{
	dnnprov_config *cfg = ld->cfg;
	struct nameset ns = { NULL, 0 };
	yaml_node_t **keys = NULL;
	size_t n;
	int rc;

	if ((rc = expect(ld, map, YAML_MAPPING_NODE, "'transformations'")))
		return rc;
	n = npairs(map);
	cfg->transformations = calloc(n + 1, sizeof(*cfg->transformations));
	keys = calloc(n + 1, sizeof(*keys));
	if (!cfg->transformations || !keys) {
		rc = dp_error(DNNPROV_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = nameset_init(&ns, n + DP_ARRAY_LEN(builtin_transformations))))
		goto out;
	for (size_t i = 0; i < DP_ARRAY_LEN(builtin_transformations); i++)
		nameset_fill(nameset_slot(&ns, builtin_transformations[i]),
			     builtin_transformations[i], NULL, SIZE_MAX);

	/* Names first, so that depends_on may name a transformation declared
	 * further down. */
	for (size_t i = 0; i < n; i++) {
		struct name_entry *e;
		const char *name;

		if ((rc = child(ld, map->data.mapping.pairs.start[i].key, &keys[i])) ||
		    (rc = get_named(ld, keys[i], "transformation name", dp_check_name, &name)))
			goto out;
		e = nameset_slot(&ns, name);
		if (e->name) {
			rc = clash(ld, keys[i], "transformation", name, e);
			goto out;
		}
		if (!(cfg->transformations[i].name = xstrdup(name))) {
			rc = DNNPROV_ENOMEM;
			goto out;
		}
		nameset_fill(e, cfg->transformations[i].name, keys[i], i);
		cfg->ntransformations++;
	}
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *body;

		if ((rc = child(ld, map->data.mapping.pairs.start[i].value, &body)) ||
		    (rc = load_transformation(ld, &ns, &cfg->transformations[i], keys[i], body)))
			goto out;
	}
	rc = check_cycles(ld, &ns, keys);
out:
	nameset_free(&ns);
	free(keys);
	return rc;
}

enum { LOG_SEGMENT_SIZE, LOG_DURABILITY, LOG_FSYNC_INTERVAL, LOG_NFIELDS };
static const char *const log_fields[LOG_NFIELDS] = { "segment_size", "durability",
						     "fsync_interval" };

static int load_log(struct loader *ld, const yaml_node_t *map)
{
	yaml_node_t *keys[LOG_NFIELDS], *vals[LOG_NFIELDS];
	dnnprov_config *cfg = ld->cfg;
	const char *s;
	uint64_t v;
	int rc;

	if ((rc = expect(ld, map, YAML_MAPPING_NODE, "'log'")) ||
	    (rc = get_fields(ld, map, "'log'", log_fields, LOG_NFIELDS, keys, vals)))
		return rc;

	if (vals[LOG_SEGMENT_SIZE]) {
		yaml_node_t *n = vals[LOG_SEGMENT_SIZE];

		if ((rc = get_string(ld, n, "'segment_size'", &s)))
			return rc;
		if (dp_parse_size(s, &v) < 0)
			return fail(ld, n, "segment_size: %s", dnnprov_errmsg());
		if (v < SEGMENT_SIZE_MIN || v > SEGMENT_SIZE_MAX)
			return fail(ld, n, "segment_size '%.*s' is out of range (4 KiB .. 1 TiB)",
				    QUOTE_MAX, s);
		cfg->segment_size = v;
	}
	if (vals[LOG_DURABILITY]) {
		static const dp_durability modes[] = { DP_DURABILITY_INTERVAL, DP_DURABILITY_ALWAYS,
						       DP_DURABILITY_BUFFERED };
		yaml_node_t *n = vals[LOG_DURABILITY];
		size_t i;

		if ((rc = get_string(ld, n, "'durability'", &s)))
			return rc;
		for (i = 0; i < DP_ARRAY_LEN(modes) && strcmp(s, dp_durability_name(modes[i])); i++)
			;
		if (i == DP_ARRAY_LEN(modes))
			return fail(ld, n,
				    "unknown durability '%.*s' (expected interval, always or buffered)",
				    QUOTE_MAX, s);
		cfg->durability = modes[i];
	}
	if (vals[LOG_FSYNC_INTERVAL]) {
		yaml_node_t *n = vals[LOG_FSYNC_INTERVAL];

		if ((rc = get_string(ld, n, "'fsync_interval'", &s)))
			return rc;
		if (dp_parse_duration_ms(s, &v) < 0)
			return fail(ld, n, "fsync_interval: %s", dnnprov_errmsg());
		if (v < 1 || v > FSYNC_INTERVAL_MAX)
			return fail(ld, n, "fsync_interval '%.*s' is out of range (1ms .. 1h)",
				    QUOTE_MAX, s);
		cfg->fsync_interval_ms = (uint32_t)v;
	}
	return 0;
}

/* A relative directory is relative to the folder of the file, so that an
 * experiment folder can be moved or run from anywhere.  When the file was
 * named without a folder, that folder is the CWD and the value stays as
 * written. */
static char *resolve_dir(const char *file, const char *dir)
{
	const char *slash = strrchr(file, '/');
	char *base, *joined;

	if (dir[0] == '/' || !slash)
		return xstrdup(dir);
	/* "./x" under "exp/" reads better as "exp/x". */
	while (dir[0] == '.' && dir[1] == '/') {
		const char *rest = dir + 2;

		while (*rest == '/')
			rest++;
		if (!*rest)
			break;
		dir = rest;
	}
	base = strndup(file, slash == file ? 1 : (size_t)(slash - file));
	if (!base) {
		dp_error(DNNPROV_ENOMEM, "out of memory");
		return NULL;
	}
	joined = dp_path_join(base, dir);
	if (!joined)
		dp_error(DNNPROV_ENOMEM, "out of memory");
	free(base);
	return joined;
}

static int load_dir(struct loader *ld, const yaml_node_t *n, const char *what, const char *def,
		    char **out)
{
	const char *s = def;
	int rc;

	if (n) {
		if ((rc = get_string(ld, n, what, &s)))
			return rc;
		if (!*s)
			return fail(ld, n, "%s is empty", what);
		/* Only a shell expands "~"; here it would become a folder
		 * named "~" beside the file. */
		if (s[0] == '~')
			return fail(ld, n,
				    "%s '%.*s' starts with '~', which is not expanded; write the full path",
				    what, QUOTE_MAX, s);
	}
	*out = resolve_dir(ld->dirs_base, s);
	return *out ? 0 : DNNPROV_ENOMEM;
}

enum {
	TOP_DATAFLOW,
	TOP_LOG_DIR,
	TOP_INDEX_DIR,
	TOP_HYPERPARAMETERS,
	TOP_METRICS,
	TOP_VAL_METRICS,
	TOP_ADAPTATION,
	TOP_TRANSFORMATIONS,
	TOP_LOG,
	TOP_FREE_METRICS,
	TOP_FACTS,
	TOP_STRICT,
	TOP_METRIC_RANGES,
	TOP_NFIELDS
};
static const char *const top_fields[TOP_NFIELDS] = {
	"dataflow",   "log_dir",         "index_dir", "hyperparameters", "metrics", "val_metrics",
	"adaptation", "transformations", "log",       "free_metrics",    "facts",     "strict",
	"metric_ranges",
};

static int load_root(struct loader *ld, const yaml_node_t *root)
{
	yaml_node_t *keys[TOP_NFIELDS], *vals[TOP_NFIELDS];
	dnnprov_config *cfg = ld->cfg;
	const char *s;
	int rc;

	if (root->type != YAML_MAPPING_NODE)
		return fail(ld, root, "the document must be a mapping of settings, not %s",
			    node_kind(root));
	if ((rc = get_fields(ld, root, "the top level", top_fields, TOP_NFIELDS, keys, vals)))
		return rc;
	if (!vals[TOP_DATAFLOW])
		return fail(ld, root, "missing required key 'dataflow'");
	if ((rc = get_named(ld, vals[TOP_DATAFLOW], "dataflow tag", dp_check_tag, &s)))
		return rc;
	if (strcmp(s, ".trash") == 0) /* logger/trash.h */
		return fail(ld, vals[TOP_DATAFLOW], "the dataflow tag '.trash' is reserved for deleted runs");
	if (!(cfg->dataflow = xstrdup(s)))
		return DNNPROV_ENOMEM;
	if ((rc = load_dir(ld, vals[TOP_LOG_DIR], "'log_dir'", LOG_DIR_DEFAULT, &cfg->log_dir)) ||
	    (rc = load_dir(ld, vals[TOP_INDEX_DIR], "'index_dir'", INDEX_DIR_DEFAULT,
			   &cfg->index_dir)) ||
	    (rc = load_hyperparameters(ld, vals[TOP_HYPERPARAMETERS])))
		return rc;
	if (vals[TOP_VAL_METRICS] &&
	    (rc = get_bool(ld, vals[TOP_VAL_METRICS], "'val_metrics'", &cfg->val_metrics)))
		return rc;
	if (vals[TOP_ADAPTATION] &&
	    (rc = get_bool(ld, vals[TOP_ADAPTATION], "'adaptation'", &cfg->adaptation)))
		return rc;
	if (vals[TOP_FREE_METRICS] &&
	    (rc = get_bool(ld, vals[TOP_FREE_METRICS], "'free_metrics'", &cfg->free_metrics)))
		return rc;
	if (vals[TOP_FACTS] && (rc = get_bool(ld, vals[TOP_FACTS], "'facts'", &cfg->facts)))
		return rc;
	if (vals[TOP_STRICT] && (rc = get_bool(ld, vals[TOP_STRICT], "'strict'", &cfg->strict)))
		return rc;
	if (vals[TOP_METRICS] && (rc = load_metrics(ld, vals[TOP_METRICS])))
		return rc;
	if (vals[TOP_METRIC_RANGES] && (rc = load_metric_ranges(ld, vals[TOP_METRIC_RANGES])))
		return rc;
	if (vals[TOP_TRANSFORMATIONS] && (rc = load_transformations(ld, vals[TOP_TRANSFORMATIONS])))
		return rc;
	if (vals[TOP_LOG] && (rc = load_log(ld, vals[TOP_LOG])))
		return rc;
	return 0;
}

/* ------------------------------------------------------------------------
 * Reading and parsing
 * ------------------------------------------------------------------------ */

/* The size limit is checked before parsing: a config file is a few hundred
 * bytes, and a huge one is a mistake (or an attack) either way. */
static int read_file(const char *path, dp_buf *buf)
{
	struct stat st;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return dp_error_errno(errno, "cannot read %s", path);
	if (fstat(fd, &st) != 0) {
		rc = dp_error_errno(errno, "cannot read %s", path);
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		rc = dp_error_errno(EISDIR, "cannot read %s", path);
		goto out;
	}
	if (S_ISREG(st.st_mode) && st.st_size > (off_t)CONFIG_FILE_MAX) {
		rc = dp_error(DNNPROV_ECONFIG, "%s: file is %jd bytes; the limit is 1 MiB", path,
			      (intmax_t)st.st_size);
		goto out;
	}
	/* Pipes and files that grow while read have no trustworthy st_size. */
	for (;;) {
		ssize_t got;

		if ((rc = dp_buf_reserve(buf, 64 * 1024)))
			goto out;
		got = read(fd, buf->data + buf->len, buf->cap - buf->len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			rc = dp_error_errno(errno, "cannot read %s", path);
			goto out;
		}
		if (got == 0)
			break;
		buf->len += (size_t)got;
		if (buf->len > CONFIG_FILE_MAX) {
			rc = dp_error(DNNPROV_ECONFIG,
				      "%s: file is more than %u bytes; the limit is 1 MiB", path,
				      CONFIG_FILE_MAX);
			goto out;
		}
	}
out:
	close(fd);
	return rc;
}

/* A reader error (bad UTF-8) comes with a byte offset, not a mark. */
static yaml_mark_t mark_of_offset(const dp_buf *text, size_t offset)
{
	yaml_mark_t m = { offset, 0, 0 };

	for (size_t i = 0; i < offset && i < text->len; i++) {
		unsigned char c = (unsigned char)text->data[i];

		if (c == '\n') {
			m.line++;
			m.column = 0;
		} else if ((c & 0xC0) != 0x80) {
			m.column++;
		}
	}
	return m;
}

static int parse_error(const struct loader *ld, const yaml_parser_t *parser, const dp_buf *text)
{
	yaml_mark_t at = parser->problem_mark;
	const char *problem = parser->problem ? parser->problem : "unknown problem";

	switch (parser->error) {
	case YAML_MEMORY_ERROR:
	/* libyaml's loader gives up without setting an error when copying a
	 * tag or an anchor fails: every real problem has one. */
	case YAML_NO_ERROR:
		return dp_error(DNNPROV_ENOMEM, "out of memory parsing %s", ld->path);
	case YAML_READER_ERROR:
		return fail_at(ld, mark_of_offset(text, parser->problem_offset), "YAML error: %s",
			       problem);
	default:
		break;
	}
	if (parser->context)
		return fail_at(ld, at, "YAML syntax error: %s (%s at %zu:%zu)", problem,
			       parser->context, parser->context_mark.line + 1,
			       parser->context_mark.column + 1);
	return fail_at(ld, at, "YAML syntax error: %s", problem);
}

/* libyaml's scanner does work in proportion to the flow nesting depth for
 * every token, and its loader compares each anchor with all the earlier
 * ones: a 1 MiB file of "[[[[..." keeps it busy for minutes, and one of
 * 60000 anchors for seconds.  This first pass over the events bounds both,
 * and checks the shape of the stream, before the loader runs. */
static int prescan(const struct loader *ld, const dp_buf *text)
{
	size_t depth = 0, anchors = 0, aliases = 0, docs = 0;
	yaml_parser_t parser;
	yaml_event_t ev;
	bool done = false;
	int rc = 0;

	if (!yaml_parser_initialize(&parser))
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	yaml_parser_set_input_string(&parser, (const unsigned char *)text->data, text->len);
	while (!done && !rc) {
		const yaml_char_t *anchor = NULL, *tag = NULL;

		if (!yaml_parser_parse(&parser, &ev)) {
			rc = parse_error(ld, &parser, text);
			break;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (++docs > 1)
				rc = fail_at(ld, ev.start_mark,
					     "more than one YAML document; an experiment file holds exactly one");
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			anchor = ev.type == YAML_SEQUENCE_START_EVENT
					 ? ev.data.sequence_start.anchor
					 : ev.data.mapping_start.anchor;
			tag = ev.type == YAML_SEQUENCE_START_EVENT ? ev.data.sequence_start.tag
								   : ev.data.mapping_start.tag;
			if (++depth > CONFIG_DEPTH_MAX)
				rc = fail_at(ld, ev.start_mark,
					     "nested more than %d levels deep; the schema needs 6",
					     CONFIG_DEPTH_MAX);
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			depth--;
			break;
		case YAML_SCALAR_EVENT:
			anchor = ev.data.scalar.anchor;
			tag = ev.data.scalar.tag;
			break;
		case YAML_ALIAS_EVENT:
			if (++aliases > CONFIG_ALIASES_MAX)
				rc = fail_at(ld, ev.start_mark, "more than %d aliases",
					     CONFIG_ALIASES_MAX);
			break;
		default:
			break;
		}
		if (!rc && anchor && ++anchors > CONFIG_ANCHORS_MAX)
			rc = fail_at(ld, ev.start_mark, "more than %d anchors", CONFIG_ANCHORS_MAX);
		/* The schema types every value; a tag would retype it unseen
		 * (`dataflow: !!binary eA==` read as the name "eA=="). */
		if (!rc && tag)
			rc = fail_at(ld, ev.start_mark, "YAML tag '%.*s' is not allowed: the schema gives every value its type",
				     QUOTE_MAX, (const char *)tag);
		yaml_event_delete(&ev);
	}
	if (!rc && docs == 0) {
		yaml_mark_t start = { 0, 0, 0 };

		rc = fail_at(ld, start,
			     "the file has no YAML document; it needs at least 'dataflow'");
	}
	yaml_parser_delete(&parser);
	return rc;
}

static int parse_and_load(struct loader *ld, const dp_buf *text)
{
	yaml_parser_t parser;
	yaml_node_t *root;
	int rc;

	if ((rc = prescan(ld, text)))
		return rc;
	if (!yaml_parser_initialize(&parser))
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	yaml_parser_set_input_string(&parser, (const unsigned char *)text->data, text->len);
	if (!yaml_parser_load(&parser, &ld->doc)) {
		rc = parse_error(ld, &parser, text); /* an undefined alias, or out of memory */
		goto out;
	}
	root = yaml_document_get_root_node(&ld->doc);
	rc = root ? load_root(ld, root)
		  : dp_error(DNNPROV_ECONFIG, "%s: no YAML document",
			     ld->path); /* prescan saw one */
	yaml_document_delete(&ld->doc);
out:
	yaml_parser_delete(&parser);
	return rc;
}

/* ------------------------------------------------------------------------
 * Public functions
 * ------------------------------------------------------------------------ */

DNNPROV_API int dnnprov_config_load(const char *path, dnnprov_config **out)
{
	struct loader ld = { .path = path };
	dp_buf text = { 0 };
	dnnprov_config *cfg;
	char *real = NULL;
	struct stat st;
	int rc;

	dp_error_clear(); /* a success leaves no earlier failure's detail */
	if (!out)
		return dp_error(DNNPROV_EINVAL, "dnnprov_config_load: out is NULL");
	*out = NULL;
	if (!path || !*path)
		return dp_error(DNNPROV_EINVAL, "dnnprov_config_load: no file name given");
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	cfg->val_metrics = true;
	cfg->facts = true;
	cfg->segment_size = SEGMENT_SIZE_DEFAULT;
	cfg->durability = DP_DURABILITY_INTERVAL;
	cfg->fsync_interval_ms = FSYNC_INTERVAL_DEFAULT;
	ld.cfg = cfg;
	if (!(cfg->path = xstrdup(path))) {
		rc = DNNPROV_ENOMEM;
		goto out;
	}
	if ((rc = read_file(path, &text)))
		goto out;
	/* Named through a link, the file's own folder is the link target's:
	 * two paths to one file must not mean two log folders. */
	ld.dirs_base = path;
	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
		if ((real = realpath(path, NULL)))
			ld.dirs_base = real;
		else if (errno == ENOMEM) {
			rc = dp_error(DNNPROV_ENOMEM, "out of memory");
			goto out;
		}
	}
	if ((rc = parse_and_load(&ld, &text)))
		goto out;
	*out = cfg;
	cfg = NULL;
out:
	free(real);
	dp_buf_free(&text);
	dnnprov_config_free(cfg);
	return rc;
}

DNNPROV_API void dnnprov_config_free(dnnprov_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->nhyperparameters; i++)
		free(cfg->hyperparameters[i].name);
	free(cfg->hyperparameters);
	for (size_t i = 0; i < cfg->nmetrics; i++)
		free(cfg->metrics[i]);
	free(cfg->metrics);
	for (size_t i = 0; i < cfg->nmetric_ranges; i++)
		free(cfg->metric_ranges[i].metric);
	free(cfg->metric_ranges);
	for (size_t i = 0; i < cfg->ntransformations; i++) {
		dp_transformation *tf = &cfg->transformations[i];

		for (size_t j = 0; j < tf->nsets; j++) {
			for (size_t k = 0; k < tf->sets[j].nattrs; k++)
				free(tf->sets[j].attrs[k].name);
			free(tf->sets[j].attrs);
			free(tf->sets[j].name);
		}
		free(tf->sets);
		for (size_t j = 0; j < tf->ndepends; j++)
			free(tf->depends_on[j]);
		free(tf->depends_on);
		free(tf->name);
	}
	free(cfg->transformations);
	free(cfg->index_dir);
	free(cfg->log_dir);
	free(cfg->dataflow);
	free(cfg->path);
	free(cfg);
}

DNNPROV_API const char *dnnprov_config_dataflow(const dnnprov_config *cfg)
{
	return cfg ? cfg->dataflow : NULL;
}

DNNPROV_API const char *dnnprov_config_log_dir(const dnnprov_config *cfg)
{
	return cfg ? cfg->log_dir : NULL;
}

DNNPROV_API const char *dnnprov_config_index_dir(const dnnprov_config *cfg)
{
	return cfg ? cfg->index_dir : NULL;
}

const dp_hyperparameter *dp_config_hyperparameter(const dnnprov_config *cfg, const char *name)
{
	for (size_t i = 0; cfg && name && i < cfg->nhyperparameters; i++)
		if (strcmp(cfg->hyperparameters[i].name, name) == 0)
			return &cfg->hyperparameters[i];
	return NULL;
}

const dp_transformation *dp_config_transformation(const dnnprov_config *cfg, const char *name)
{
	for (size_t i = 0; cfg && name && i < cfg->ntransformations; i++)
		if (strcmp(cfg->transformations[i].name, name) == 0)
			return &cfg->transformations[i];
	return NULL;
}

const dp_set *dp_transformation_set(const dp_transformation *tf, const char *name)
{
	for (size_t i = 0; tf && name && i < tf->nsets; i++)
		if (strcmp(tf->sets[i].name, name) == 0)
			return &tf->sets[i];
	return NULL;
}

const char *dp_attr_type_name(dp_attr_type t)
{
	switch (t) {
	case DP_ATTR_NUMERIC:
		return "numeric";
	case DP_ATTR_TEXT:
		return "text";
	case DP_ATTR_FILE:
		return "file";
	}
	return "unknown";
}

const char *dp_durability_name(dp_durability d)
{
	switch (d) {
	case DP_DURABILITY_INTERVAL:
		return "interval";
	case DP_DURABILITY_ALWAYS:
		return "always";
	case DP_DURABILITY_BUFFERED:
		return "buffered";
	}
	return "unknown";
}

DNNPROV_API int dnnprov_config_facts(const dnnprov_config *cfg)
{
	return cfg ? cfg->facts : 0;
}

DNNPROV_API int dnnprov_config_strict(const dnnprov_config *cfg)
{
	return cfg ? cfg->strict : 0;
}

DNNPROV_API int dnnprov_config_selects(const dnnprov_config *cfg, const char *hyperparameter)
{
	const dp_hyperparameter *h = dp_config_hyperparameter(cfg, hyperparameter);
	return h && h->selected;
}
