/*
 * health.c - the health of a dataflow's tasks as the queries show it: the
 * state the indexer's rules left (indexer/health.h), and the stall of a
 * RUNNING task, which depends on the present and so is told here, at the
 * snapshot's time, by the rules the indexer recorded (meta "rules").
 */
#include <math.h>
#include <string.h>

#include "query/query.h"

const dp_rules *dp_query_rules(dp_query *q)
{
	if (!q->rules_read) {
		MDB_val k = { 5, "rules" }, v;
		if (dp_query_get(q, DP_DB_META, &k, &v))
			dp_rules_decode(v.mv_data, v.mv_size, &q->rules);
		else
			dp_rules_defaults(&q->rules);
		q->rules_read = true;
	}
	return &q->rules;
}

static void task_health(dp_query *q, dp_qtask *t, const void *p, size_t n)
{
	dp_health h;
	double median;
	if (!dp_health_unpack(p, n, &h))
		return;
	dp_health_state s = dp_health_stored_state(&h);
	bool stalled = strcmp(t->status, "RUNNING") == 0 && dp_health_stalled(&h, dp_query_rules(q), t->last, q->now, &median);
	if (stalled && s < DP_HEALTH_STALLED)
		s = DP_HEALTH_STALLED;
	t->health = (unsigned char)s;
	t->median_epoch = dp_health_median_interval(&h);
}

/* A page of tasks is looked up one by one; a whole dataflow is one scan.
 * A lookup costs about as much as reading 16 keys of a scan, so the
 * tasks are looked up while they are fewer than a sixteenth of the
 * health database's keys (a page of 100 runs of a million: 100 lookups,
 * not a scan of a million keys). */
static bool health_lookups(dp_query *q, size_t ntasks)
{
	MDB_stat st;
	if (ntasks <= 64)
		return true;
	return mdb_stat(q->txn, q->ix->dbi[DP_DB_HEALTH], &st) == 0 && ntasks < st.ms_entries / 16;
}

int dp_qdf_health(dp_query *q, dp_qdataflow *d)
{
	dp_key k;
	MDB_val key, val;
	int r = 0;

	if (d->health_loaded)
		return 0;
	for (size_t i = 0; i < d->ntasks; i++) {
		d->tasks[i].health = DP_HEALTH_OK;
		d->tasks[i].median_epoch = NAN;
	}
	if (health_lookups(q, d->ntasks)) {
		for (size_t i = 0; i < d->ntasks; i++) {
			dp_key_reset(&k);
			dp_key_cstr(&k, d->name);
			dp_key_cstr(&k, d->tasks[i].id);
			key = dp_key_val(&k);
			if (!k.overflow && dp_query_get(q, DP_DB_HEALTH, &key, &val))
				task_health(q, &d->tasks[i], val.mv_data, val.mv_size);
		}
	} else {
		dp_scan sc;
		size_t dfn = strlen(d->name) + 1;
		dp_key_reset(&k);
		dp_key_cstr(&k, d->name);
		if ((r = dp_scan_open(&sc, q->ix, q->txn, DP_DB_HEALTH, &k, NULL)))
			return r;
		while ((r = dp_scan_next(&sc, &key, &val)) == DP_SCAN_ROW) {
			char id[DNNPROV_NAME_MAX + 1];
			if (key.mv_size <= dfn || key.mv_size - dfn - 1 > DNNPROV_NAME_MAX)
				continue;
			memcpy(id, (const char *)key.mv_data + dfn, key.mv_size - dfn - 1);
			id[key.mv_size - dfn - 1] = '\0';
			dp_qtask *t = (dp_qtask *)dp_qtask_find(d, id);
			if (t)
				task_health(q, t, val.mv_data, val.mv_size);
		}
		dp_scan_close(&sc);
	}
	d->health_loaded = r >= 0;
	return r < 0 ? r : dp_query_check(q);
}

const char *dp_qtask_health(const dp_qtask *t)
{
	return dp_health_name((dp_health_state)t->health);
}
