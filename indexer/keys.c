/*
 * keys.c - the order-preserving key encodings of schema.h.
 */
#include <assert.h>
#include <string.h>

#include "indexer/schema.h"

const char *const dp_db_names[DP_DB_COUNT] = {
	[DP_DB_META] = "meta",
	[DP_DB_DATAFLOWS] = "dataflows",
	[DP_DB_TASKS] = "tasks",
	[DP_DB_EPOCHS] = "epochs",
	[DP_DB_ADAPTATIONS] = "adaptations",
	[DP_DB_TESTS] = "tests",
	[DP_DB_ELEMENTS] = "elements",
	[DP_DB_LAYERS] = "layers",
	[DP_DB_SUMMARIES] = "summaries",
	[DP_DB_HYP_INDEX] = "hyp_index",
	[DP_DB_PROGRESS] = "progress",
	[DP_DB_PROBLEMS] = "problems",
	[DP_DB_RUNNING] = "running",
	[DP_DB_TAGS] = "tags",
	[DP_DB_LINEAGE] = "lineage",
	[DP_DB_ENTITIES] = "entities",
	[DP_DB_RANKS] = "ranks",
	[DP_DB_STARTS] = "starts",
	[DP_DB_COUNTS] = "counts",
	[DP_DB_HEALTH] = "health",
	[DP_DB_EVENTS] = "events",
	[DP_DB_OUTBOX] = "outbox",
};

static void put(dp_key *k, const void *p, size_t n)
{
	if (k->overflow || n > DP_KEY_MAX - k->n) {
		k->overflow = true;
		return;
	}
	memcpy(k->b + k->n, p, n);
	k->n += n;
	assert(k->n <= DP_KEY_MAX);
}

void dp_key_str(dp_key *k, const char *s, size_t n)
{
	static const unsigned char nul = 0;
	if (memchr(s, 0, n)) { /* would collide with the terminator */
		k->overflow = true;
		return;
	}
	put(k, s, n);
	put(k, &nul, 1);
}

void dp_key_cstr(dp_key *k, const char *s)
{
	dp_key_str(k, s, strlen(s));
}

void dp_key_u64(dp_key *k, uint64_t v)
{
	unsigned char b[8];
	dp_put_be64(b, v);
	put(k, b, 8);
}

void dp_key_i64(dp_key *k, int64_t v)
{
	uint64_t u = (uint64_t)v ^ (1ull << 63);
	/* Negatives below the positives, each in order: the top bit is clear
	 * for them alone. */
	assert(((u >> 63) == 1) == (v >= 0));
	dp_key_u64(k, u);
}

uint64_t dp_sortable_double(double v)
{
	uint64_t u;
	memcpy(&u, &v, 8);
	uint64_t s = (u & (1ull << 63)) ? ~u : u | (1ull << 63);
	/* Sortable: positives (and +0, NaN with a clear sign) above every
	 * negative. */
	assert((s >> 63) == !(u >> 63));
	return s;
}

static double dp_unsortable_double(uint64_t u)
{
	double v;
	u = (u & (1ull << 63)) ? u & ~(1ull << 63) : ~u;
	memcpy(&v, &u, 8);
	return v;
}

void dp_key_double(dp_key *k, double v)
{
	if (v == 0)
		v = 0; /* -0.0 and 0.0 are one key */
	dp_key_u64(k, dp_sortable_double(v));
}

bool dp_key_get_str(const unsigned char *key, size_t n, size_t *pos, const char **s, size_t *len)
{
	const unsigned char *end;
	if (*pos >= n)
		return false;
	end = memchr(key + *pos, 0, n - *pos);
	if (!end)
		return false;
	*s = (const char *)key + *pos;
	*len = (size_t)(end - (key + *pos));
	*pos += *len + 1;
	assert(*pos <= n);
	return true;
}

bool dp_key_get_i64(const unsigned char *key, size_t n, size_t *pos, int64_t *v)
{
	if (n - *pos < 8 || *pos > n)
		return false;
	*v = (int64_t)(dp_get_be64(key + *pos) ^ (1ull << 63));
	*pos += 8;
	return true;
}

bool dp_key_get_double(const unsigned char *key, size_t n, size_t *pos, double *v)
{
	if (n - *pos < 8 || *pos > n)
		return false;
	*v = dp_unsortable_double(dp_get_be64(key + *pos));
	*pos += 8;
	return true;
}
