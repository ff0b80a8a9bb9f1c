/*
 * map.c - see map.h.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "util/map.h"

static uint64_t hash(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 1099511628211ull;
	}
	return h ^ (h >> 29);
}

static dp_map_entry *find(dp_map_entry *slots, size_t cap, const void *key, size_t len)
{
	/* Masking needs a power of two; probing ends because a slot is empty. */
	assert(cap && (cap & (cap - 1)) == 0);
	size_t i = (size_t)hash(key, len) & (cap - 1);
	for (;;) {
		dp_map_entry *e = &slots[i];
		if (!e->key || (e->len == len && memcmp(e->key, key, len) == 0))
			return e;
		i = (i + 1) & (cap - 1);
	}
}

static int grow(dp_map *m)
{
	size_t cap = m->cap ? m->cap * 2 : 64;
	assert(cap > m->n);
	dp_map_entry *slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -1;
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].key)
			*find(slots, cap, m->slots[i].key, m->slots[i].len) = m->slots[i];
	free(m->slots);
	m->slots = slots;
	m->cap = cap;
	return 0;
}

void **dp_map_slot(dp_map *m, const void *key, size_t len, bool create)
{
	dp_map_entry *e;
	if (m->cap == 0) {
		if (!create || grow(m))
			return NULL;
	}
	e = find(m->slots, m->cap, key, len);
	if (e->key)
		return &e->value;
	if (!create)
		return NULL;
	if ((m->n + 1) * 10 > m->cap * 7) {
		if (grow(m))
			return NULL;
		e = find(m->slots, m->cap, key, len);
	}
	e->key = malloc(len ? len : 1);
	if (!e->key)
		return NULL;
	memcpy(e->key, key, len);
	e->len = len;
	e->value = NULL;
	m->n++;
	assert(m->n * 10 <= m->cap * 7); /* the load that keeps empty slots */
	return &e->value;
}

void dp_map_clear(dp_map *m)
{
	for (size_t i = 0; i < m->cap; i++) {
		free(m->slots[i].key);
		m->slots[i].key = NULL;
		m->slots[i].value = NULL;
	}
	m->n = 0;
}

void dp_map_free(dp_map *m)
{
	dp_map_clear(m);
	free(m->slots);
	m->slots = NULL;
	m->cap = 0;
}
