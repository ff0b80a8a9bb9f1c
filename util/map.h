/*
 * map.h - a hash map from byte strings to pointers, for caches that live
 * for one batch (open addressing, linear probing, no deletion: a cache is
 * cleared whole).
 */
#ifndef DNNPROV_MAP_H
#define DNNPROV_MAP_H

#include <stdbool.h>
#include <stddef.h>

#include "util/util.h"

typedef struct dp_map_entry {
	void *key;      /* owned copy; NULL for an empty slot */
	size_t len;
	void *value;
} dp_map_entry;

typedef struct dp_map {
	dp_map_entry *slots;
	size_t cap; /* a power of two, or 0 */
	size_t n;
} dp_map;

/* The value slot for key, or NULL when it is absent.  With create, an
 * absent key is added with a NULL value (NULL then means out of memory). */
DP_INTERNAL void **dp_map_slot(dp_map *m, const void *key, size_t len, bool create);
/* Forgets every entry (the caller frees values first, iterating slots). */
DP_INTERNAL void dp_map_clear(dp_map *m);
DP_INTERNAL void dp_map_free(dp_map *m);

#endif
