/*
 * arena.c - memory freed at once (util.h): the strings of a loaded
 * dataflow, a model's names and arrays.
 */
#include <assert.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

struct dp_arena_chunk {
	struct dp_arena_chunk *next;
	size_t used, cap;
	max_align_t data[];
};

/* n bytes aligned to `align` (a power of two) in the current chunk, or in
 * a new one. */
static void *take(dp_arena *a, size_t n, size_t align)
{
	struct dp_arena_chunk *c = a->head;
	size_t at = c ? (c->used + align - 1) & ~(align - 1) : 0;
	if (!c || at > c->cap || c->cap - at < n) {
		size_t want = a->chunk ? a->chunk : 4096;
		size_t cap = n > want ? n : want;
		struct dp_arena_chunk *fresh = malloc(sizeof(*fresh) + cap);
		if (!fresh)
			return NULL;
		fresh->next = c;
		fresh->used = 0;
		fresh->cap = cap;
		a->head = c = fresh;
		at = 0;
	}
	assert(at + n <= c->cap && (at & (align - 1)) == 0);
	c->used = at + n;
	return (char *)c->data + at;
}

void *dp_arena_alloc(dp_arena *a, size_t n)
{
	void *p = take(a, n ? n : 1, _Alignof(max_align_t));
	if (p)
		memset(p, 0, n);
	return p;
}

char *dp_arena_strndup(dp_arena *a, const char *s, size_t n)
{
	char *p = take(a, n + 1, 1);
	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

void dp_arena_free(dp_arena *a)
{
	for (struct dp_arena_chunk *c = a->head, *next; c; c = next) {
		next = c->next;
		free(c);
	}
	a->head = NULL;
}
