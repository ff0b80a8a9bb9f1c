/*
 * lineage.c - walking the graph of tasks and entities (see lineage.h).
 *
 * The walk keeps its own stack, not the C one: a chain of derived
 * datasets as long as a hostile log makes it costs memory, never the
 * process.  Each node is expanded once, so a graph with cycles (a task
 * that used what it generated) ends.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "logger/fingerprint.h"
#include "logger/record.h"
#include "query/lineage.h"

#define PREFIX_MIN 8 /* hex digits of a fingerprint's prefix */
#define CANDIDATES_MAX 5

static int oom(void)
{
	return dp_error(DNNPROV_ENOMEM, "out of memory");
}

static int grow(void **v, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return 0;
	size_t c = *cap ? *cap * 2 : 16;
	void *p = realloc(*v, c * size);
	if (!p)
		return oom();
	*v = p;
	*cap = c;
	return 0;
}

/* ---- nodes ------------------------------------------------------------------------- */

static void **node_slot(dp_lgraph *g, char kind, const char *a, size_t an, const char *b, size_t bn, bool create)
{
	char key[1 + 2 * 512 + 2];
	size_t n = 0;
	if (an + bn + 2 > sizeof(key) - 1)
		return NULL;
	key[n++] = kind;
	memcpy(key + n, a, an);
	n += an;
	key[n++] = '\0';
	memcpy(key + n, b, bn);
	n += bn;
	return dp_map_slot(&g->node_of, key, n, create);
}

static int new_node(dp_lgraph *g, void **slot, size_t *idx)
{
	int rc;
	if (!slot)
		return oom();
	if ((rc = grow((void **)&g->nodes, &g->capn, g->nnodes, sizeof(*g->nodes))))
		return rc;
	*idx = g->nnodes++;
	memset(&g->nodes[*idx], 0, sizeof(g->nodes[*idx]));
	g->nodes[*idx].size = -1;
	g->nodes[*idx].start = g->nodes[*idx].end = NAN;
	*slot = (void *)(uintptr_t)(*idx + 1);
	return 0;
}

int dp_lineage_task(dp_query *q, dp_lgraph *g, const char *df, const char *task, size_t *node)
{
	size_t dn = strlen(df), tn = strlen(task);
	void **slot = node_slot(g, 't', df, dn, task, tn, true);
	dp_key k;
	MDB_val key, val;
	dp_task_fields f;
	int rc;

	if (slot && *slot) {
		*node = (size_t)(uintptr_t)*slot - 1;
		return 0;
	}
	dp_key_task(&k, df, task);
	key = dp_key_val(&k);
	if (k.overflow || !dp_query_get(q, DP_DB_TASKS, &key, &val))
		return dp_query_check(q) ? dp_query_check(q)
					 : dp_error(DNNPROV_ENOTFOUND, "dataflow '%s' has no task '%s'", df, task);
	if ((rc = new_node(g, slot, node)))
		return rc;
	dp_lnode *n = &g->nodes[*node];
	n->df = strdup(df);
	n->task = strdup(task);
	if (dp_task_fields_parse(val.mv_data, val.mv_size, &f) == 0) {
		n->status = strdup(f.status);
		n->transformation = f.transformation.p ? strndup(f.transformation.p, f.transformation.n)
						       : strdup("TrainingModel");
		n->start = f.start;
		n->end = f.end;
	}
	return n->df && n->task ? 0 : oom();
}

static int entity_node(dp_lgraph *g, const char *fp, size_t fn, const dp_record *r, size_t *node)
{
	void **slot = node_slot(g, 'e', fp, fn, "", 0, true);
	int rc;

	if (slot && *slot) {
		*node = (size_t)(uintptr_t)*slot - 1;
		return 0;
	}
	if ((rc = new_node(g, slot, node)))
		return rc;
	dp_lnode *n = &g->nodes[*node];
	n->entity = true;
	n->fingerprint = strndup(fp, fn);
	if (r) {
		n->location = strndup(r->u.entity.location.p, r->u.entity.location.n);
		n->role = strndup(r->u.entity.role.p, r->u.entity.role.n);
		n->size = r->u.entity.size;
	}
	return n->fingerprint && (!r || (n->location && n->role)) ? 0 : oom();
}

/* ---- edges ------------------------------------------------------------------------- */

/* The lineage record under key (df task position), parsed into *r; false
 * when there is none or it is no entity record. */
static bool read_record(dp_query *q, const unsigned char *kb, size_t kn, msgpack_object *o, dp_record *r)
{
	MDB_val key = { .mv_size = kn, .mv_data = (void *)kb }, val;
	if (!dp_query_get(q, DP_DB_LINEAGE, &key, &val))
		return false;
	if (dp_decode(&q->dec, val.mv_data, val.mv_size, o) != 0 || dp_record_parse(o, r) != 0)
		return false;
	return r->kind == DP_REC_USED || r->kind == DP_REC_GENERATED;
}

/* Adds the edge of the record under lineage key kb[0..kn) (task node t,
 * entity node e), once. */
static int add_edge(dp_lgraph *g, const unsigned char *kb, size_t kn, size_t t, size_t e, const dp_record *r,
		    size_t *edge)
{
	void **slot = dp_map_slot(&g->edge_of, kb, kn, true);
	int rc;

	if (!slot)
		return oom();
	if (*slot) {
		*edge = (size_t)(uintptr_t)*slot - 1;
		return 0;
	}
	if ((rc = grow((void **)&g->edges, &g->cape, g->nedges, sizeof(*g->edges))))
		return rc;
	dp_ledge *x = &g->edges[g->nedges];
	x->task = t;
	x->entity = e;
	x->generated = r->kind == DP_REC_GENERATED;
	x->time = r->time;
	x->size = r->u.entity.size;
	x->role = strndup(r->u.entity.role.p, r->u.entity.role.n);
	x->location = strndup(r->u.entity.location.p, r->u.entity.location.n);
	if (!x->role || !x->location) {
		free(x->role);
		free(x->location);
		return oom();
	}
	*edge = g->nedges++;
	*slot = (void *)(uintptr_t)(*edge + 1);
	return 0;
}

typedef struct edge_list {
	size_t *v;
	size_t n, cap;
} edge_list;

static int push_edge(edge_list *l, size_t e)
{
	int rc = grow((void **)&l->v, &l->cap, l->n, sizeof(*l->v));
	if (!rc)
		l->v[l->n++] = e;
	return rc;
}

/* The entities task node t used (generated false) or generated. */
static int task_edges(dp_query *q, dp_lgraph *g, size_t t, bool generated, edge_list *out)
{
	dp_key prefix;
	dp_scan sc;
	MDB_val k, v;
	msgpack_object o;
	dp_record r;
	int rc;

	dp_key_task(&prefix, g->nodes[t].df, g->nodes[t].task);
	if ((rc = dp_scan_open(&sc, q->ix, q->txn, DP_DB_LINEAGE, &prefix, NULL)))
		return rc;
	while ((rc = dp_scan_next(&sc, &k, &v)) == DP_SCAN_ROW) {
		if (dp_decode(&q->dec, v.mv_data, v.mv_size, &o) != 0 || dp_record_parse(&o, &r) != 0 ||
		    (r.kind == DP_REC_GENERATED) != generated || (r.kind != DP_REC_USED && r.kind != DP_REC_GENERATED))
			continue;
		size_t e, edge;
		if ((rc = entity_node(g, r.u.entity.fingerprint.p, r.u.entity.fingerprint.n, &r, &e)) ||
		    (rc = add_edge(g, k.mv_data, k.mv_size, t, e, &r, &edge)) || (rc = push_edge(out, edge)))
			break;
	}
	dp_scan_close(&sc);
	return rc < 0 ? rc : 0;
}

/* The tasks that generated (or used) entity node e. */
static int entity_edges(dp_query *q, dp_lgraph *g, size_t e, bool generated, edge_list *out)
{
	dp_key prefix, lk;
	dp_scan sc;
	MDB_val k, v;
	msgpack_object o;
	dp_record r;
	int rc;

	dp_key_reset(&prefix);
	dp_key_cstr(&prefix, g->nodes[e].fingerprint);
	dp_key_cstr(&prefix, generated ? "generated" : "used");
	if ((rc = dp_scan_open(&sc, q->ix, q->txn, DP_DB_ENTITIES, &prefix, NULL)))
		return rc;
	while ((rc = dp_scan_next(&sc, &k, &v)) == DP_SCAN_ROW) {
		const unsigned char *kb = k.mv_data;
		size_t pos = prefix.n, dn, tn;
		const char *df, *task;
		if (!dp_key_get_str(kb, k.mv_size, &pos, &df, &dn) || !dp_key_get_str(kb, k.mv_size, &pos, &task, &tn) ||
		    k.mv_size - pos != 16)
			continue;
		dp_key_reset(&lk);
		dp_key_str(&lk, df, dn);
		dp_key_str(&lk, task, tn);
		if (lk.overflow || lk.n + 16 > DP_KEY_MAX)
			continue;
		memcpy(lk.b + lk.n, kb + pos, 16);
		lk.n += 16;
		char *dfs = strndup(df, dn), *ts = strndup(task, tn);
		size_t t, edge;
		if (!dfs || !ts) {
			free(dfs);
			free(ts);
			rc = oom();
			break;
		}
		/* A task the entity index names but the tasks do not (a damaged
		 * index) is left out, not the walk. */
		bool ok = read_record(q, lk.b, lk.n, &o, &r);
		rc = ok ? dp_lineage_task(q, g, dfs, ts, &t) : 0;
		free(dfs);
		free(ts);
		if (rc == DNNPROV_ENOTFOUND) {
			rc = 0;
			continue;
		}
		if (rc || (ok && ((rc = add_edge(g, lk.b, lk.n, t, e, &r, &edge)) || (rc = push_edge(out, edge)))))
			break;
	}
	dp_scan_close(&sc);
	return rc < 0 ? rc : 0;
}

/* ---- the walk ------------------------------------------------------------------------ */

static int add_step(dp_lgraph *g, size_t node, size_t edge, unsigned depth, bool again)
{
	int rc = grow((void **)&g->steps, &g->caps, g->nsteps, sizeof(*g->steps));
	if (!rc)
		g->steps[g->nsteps++] = (dp_lstep){ .node = node, .edge = edge, .depth = depth, .again = again };
	return rc;
}

int dp_lineage_walk(dp_query *q, dp_lgraph *g, size_t from, bool up, unsigned depth)
{
	dp_lstep *stack = NULL;
	size_t n = 0, cap = 0;
	unsigned char *seen = NULL;
	size_t seen_cap = 0;
	edge_list next = { 0 };
	int rc;

	if ((rc = grow((void **)&stack, &cap, n, sizeof(*stack))))
		return rc;
	stack[n++] = (dp_lstep){ .node = from, .edge = SIZE_MAX, .depth = 0 };
	while (n && !rc) {
		dp_lstep s = stack[--n];
		if (s.node >= seen_cap) {
			size_t c = g->capn > s.node ? g->capn : s.node + 1;
			unsigned char *grown = realloc(seen, c);
			if (!grown) {
				rc = oom();
				break;
			}
			memset(grown + seen_cap, 0, c - seen_cap);
			seen = grown;
			seen_cap = c;
		}
		bool again = seen[s.node];
		if ((rc = add_step(g, s.node, s.edge, s.depth, again)) || again)
			continue;
		seen[s.node] = 1;
		if ((depth && s.depth >= depth) || (rc = dp_query_past_deadline(q)))
			continue;
		next.n = 0;
		bool entity = g->nodes[s.node].entity;
		/* up: an entity came from the tasks that generated it, a task from
		 * what it used; down the other way round. */
		rc = entity ? entity_edges(q, g, s.node, up, &next) : task_edges(q, g, s.node, !up, &next);
		for (size_t i = next.n; i-- > 0 && !rc;) {
			if ((rc = grow((void **)&stack, &cap, n, sizeof(*stack))))
				break;
			const dp_ledge *x = &g->edges[next.v[i]];
			stack[n++] = (dp_lstep){ .node = entity ? x->task : x->entity, .edge = next.v[i],
						 .depth = s.depth + 1 };
		}
	}
	free(stack);
	free(seen);
	free(next.v);
	return rc ? rc : dp_query_check(q);
}

/* ---- naming a node ------------------------------------------------------------------- */

static bool all_hex(const char *s)
{
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

/* Distinct fingerprints that start with prefix, into found[] (at most
 * CANDIDATES_MAX + 1, to tell an ambiguous prefix). */
static int fingerprints_with(dp_query *q, const char *prefix, char found[][DNNPROV_FINGERPRINT_MAX], size_t *n)
{
	dp_key p;
	dp_scan sc;
	MDB_val k, v;
	int rc;

	/* The prefix's bytes without the terminator a key field has. */
	dp_key_reset(&p);
	p.n = strlen(prefix) < DP_KEY_MAX ? strlen(prefix) : DP_KEY_MAX;
	memcpy(p.b, prefix, p.n);
	if ((rc = dp_scan_open(&sc, q->ix, q->txn, DP_DB_ENTITIES, &p, NULL)))
		return rc;
	while (*n <= CANDIDATES_MAX && (rc = dp_scan_next(&sc, &k, &v)) == DP_SCAN_ROW) {
		size_t pos = 0, len;
		const char *fp;
		if (!dp_key_get_str(k.mv_data, k.mv_size, &pos, &fp, &len) || len >= DNNPROV_FINGERPRINT_MAX)
			continue;
		if (*n && strlen(found[*n - 1]) == len && memcmp(found[*n - 1], fp, len) == 0)
			continue;
		memcpy(found[*n], fp, len);
		found[*n][len] = '\0';
		(*n)++;
		/* The next fingerprint: past every key of this one. */
		dp_key skip;
		dp_key_reset(&skip);
		dp_key_str(&skip, fp, len);
		skip.b[skip.n - 1] = 1;
		dp_scan_seek(&sc, &skip);
	}
	dp_scan_close(&sc);
	return rc < 0 ? rc : 0;
}

/* A node for an entity named by a prefix of its fingerprint: 1 when none
 * matches (the caller tries the other readings), 0 with *node. */
static int resolve_prefix(dp_query *q, const char *what, const char *subject, dp_lgraph *g, size_t *node)
{
	char found[CANDIDATES_MAX + 1][DNNPROV_FINGERPRINT_MAX];
	char prefix[2][DNNPROV_FINGERPRINT_MAX + 8];
	size_t n = 0, np = 0;
	int rc;

	const char *colon = strchr(what, ':');
	if (colon && (strncmp(what, "sha256:", 7) == 0 || strncmp(what, "quick:", 6) == 0)) {
		if (strlen(colon + 1) < PREFIX_MIN || !all_hex(colon + 1))
			return dp_error_subject(DNNPROV_EQUERY, subject,
						"'%s': a fingerprint's prefix has at least %d lower-case hex digits", what,
						PREFIX_MIN);
		snprintf(prefix[np++], sizeof(prefix[0]), "%.*s", DNNPROV_FINGERPRINT_MAX - 1, what);
	} else if (strlen(what) >= PREFIX_MIN && strlen(what) <= 64 && all_hex(what)) {
		snprintf(prefix[np++], sizeof(prefix[0]), "sha256:%s", what);
		snprintf(prefix[np++], sizeof(prefix[0]), "quick:%s", what);
	}
	for (size_t i = 0; i < np; i++)
		if ((rc = fingerprints_with(q, prefix[i], found, &n)))
			return rc;
	if (n == 0)
		return np && colon ? dp_error_subject(DNNPROV_ENOTFOUND, subject, "no entity has a fingerprint starting with '%s'",
						      what)
				   : 1;
	if (n > 1) {
		dp_buf list = { 0 };
		for (size_t i = 0; i < n && i < CANDIDATES_MAX; i++)
			dp_buf_printf(&list, "%s%s", i ? ", " : "", found[i]);
		rc = dp_error_subject(DNNPROV_EQUERY, subject, "'%s' is the start of several fingerprints (%s%s): give more of it",
				      what, list.len ? dp_buf_cstr(&list) : "", n > CANDIDATES_MAX ? ", ..." : "");
		dp_buf_free(&list);
		return rc;
	}
	return entity_node(g, found[0], strlen(found[0]), NULL, node);
}

/* Fills a node's location and role from the first record of it. */
static int describe_entity(dp_query *q, dp_lgraph *g, size_t e)
{
	edge_list l = { 0 };
	int rc = entity_edges(q, g, e, true, &l);
	if (!rc && !l.n)
		rc = entity_edges(q, g, e, false, &l);
	dp_lnode *n = &g->nodes[e];
	if (!rc && l.n && !n->location) {
		const dp_ledge *x = &g->edges[l.v[0]];
		n->location = strdup(x->location);
		n->role = strdup(x->role);
		n->size = x->size;
		if (!n->location || !n->role)
			rc = oom();
	}
	free(l.v);
	return rc;
}

/* The entity last recorded at location loc: a scan of every record. */
static int by_location(dp_query *q, const char *loc, char fp[DNNPROV_FINGERPRINT_MAX])
{
	dp_scan sc;
	MDB_val k, v;
	msgpack_object o;
	dp_record r;
	double latest = -INFINITY;
	int rc;

	dp_key all;
	dp_key_reset(&all);
	fp[0] = '\0';
	if ((rc = dp_scan_open(&sc, q->ix, q->txn, DP_DB_LINEAGE, &all, NULL)))
		return rc;
	while ((rc = dp_scan_next(&sc, &k, &v)) == DP_SCAN_ROW) {
		if (dp_decode(&q->dec, v.mv_data, v.mv_size, &o) != 0 || dp_record_parse(&o, &r) != 0 ||
		    (r.kind != DP_REC_USED && r.kind != DP_REC_GENERATED) || r.u.entity.location.n != strlen(loc) ||
		    memcmp(r.u.entity.location.p, loc, r.u.entity.location.n) != 0 || r.time < latest)
			continue;
		latest = r.time;
		snprintf(fp, DNNPROV_FINGERPRINT_MAX, "%.*s", (int)r.u.entity.fingerprint.n, r.u.entity.fingerprint.p);
	}
	dp_scan_close(&sc);
	return rc < 0 ? rc : 0;
}

static int resolve_path(dp_query *q, const char *what, const char *subject, dp_lgraph *g, size_t *node)
{
	char found[1][DNNPROV_FINGERPRINT_MAX];
	dp_fingerprint fp;
	struct stat st;
	size_t n = 0;
	int rc;

	if (stat(what, &st) == 0 && dp_fingerprint_path(what, 0, &fp) == 0 &&
	    (rc = fingerprints_with(q, fp.text, found, &n)) == 0 && n)
		return entity_node(g, fp.text, strlen(fp.text), NULL, node);
	char *abs = realpath(what, NULL);
	char last[DNNPROV_FINGERPRINT_MAX];
	rc = by_location(q, abs ? abs : what, last);
	free(abs);
	if (rc)
		return rc;
	if (!last[0])
		return dp_error_subject(DNNPROV_ENOTFOUND, subject,
					"'%s' is no task, no entity's fingerprint and no location of an entity in the index",
					what);
	return entity_node(g, last, strlen(last), NULL, node);
}

/* A task named id in df, or in the one dataflow that has it. */
static int resolve_task(dp_query *q, const char *df, const char *id, const char *subject, dp_lgraph *g, size_t *node)
{
	char **names = NULL;
	size_t n = 0, hits = 0;
	int rc;

	if (!dp_tag_valid(id, strlen(id)))
		return 1;
	if (df) {
		rc = dp_lineage_task(q, g, df, id, node);
		return rc == DNNPROV_ENOTFOUND ? 1 : rc;
	}
	if ((rc = dp_query_dataflows(q, &names, &n)))
		return rc;
	const char *first = NULL;
	for (size_t i = 0; i < n && !rc; i++) {
		dp_key k;
		MDB_val key, val;
		dp_key_task(&k, names[i], id);
		key = dp_key_val(&k);
		if (!k.overflow && dp_query_get(q, DP_DB_TASKS, &key, &val) && hits++ == 0)
			first = names[i];
		rc = dp_query_check(q);
	}
	if (!rc && hits > 1)
		rc = dp_error_subject(DNNPROV_EQUERY, subject,
				      "task '%s' is in %zu dataflows: name one with --dataflow", id, hits);
	else if (!rc)
		rc = hits ? dp_lineage_task(q, g, first, id, node) : 1;
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

int dp_lineage_resolve(dp_query *q, const char *df, const char *what, const char *subject, dp_lgraph *g, size_t *node)
{
	int rc;

	if (!what || !*what)
		return dp_error_subject(DNNPROV_EQUERY, subject, "name a task, an entity's fingerprint or a path");
	if ((rc = resolve_task(q, df, what, subject, g, node)) <= 0)
		return rc;
	if ((rc = resolve_prefix(q, what, subject, g, node)) < 0)
		return rc;
	if (rc > 0 && (rc = resolve_path(q, what, subject, g, node)))
		return rc;
	return describe_entity(q, g, *node);
}

void dp_lgraph_free(dp_lgraph *g)
{
	for (size_t i = 0; i < g->nnodes; i++) {
		dp_lnode *n = &g->nodes[i];
		free(n->df);
		free(n->task);
		free(n->transformation);
		free(n->status);
		free(n->fingerprint);
		free(n->location);
		free(n->role);
	}
	for (size_t i = 0; i < g->nedges; i++) {
		free(g->edges[i].role);
		free(g->edges[i].location);
	}
	free(g->nodes);
	free(g->edges);
	free(g->steps);
	dp_map_free(&g->node_of);
	dp_map_free(&g->edge_of);
	memset(g, 0, sizeof(*g));
}
