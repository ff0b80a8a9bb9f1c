/*
 * buf.c - growable byte buffers (see util.h for the invariants).
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

/* The invariant of util.h, asserted at every entry. */
#define BUF_OK(b) ((b)->len <= (b)->cap && ((b)->data != NULL || (b)->cap == 0))

int dp_buf_reserve(dp_buf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	assert(BUF_OK(b));
	if (extra > SIZE_MAX / 2 - b->len) {
		b->failed = true;
		return dp_error(DNNPROV_ENOMEM, "a buffer cannot grow by %zu bytes", extra);
	}
	need = b->len + extra;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap *= 2;
	p = realloc(b->data, cap);
	if (!p) {
		b->failed = true;
		return dp_error(DNNPROV_ENOMEM, "out of memory growing a buffer to %zu bytes", cap);
	}
	b->data = p;
	b->cap = cap;
	return 0;
}

void *dp_grow(void *array, size_t n, size_t *cap, size_t size, size_t first)
{
	assert(n <= *cap && size && first);
	if (n < *cap)
		return array;
	size_t more = *cap ? *cap * 2 : first;
	if (more > SIZE_MAX / size) {
		dp_error(DNNPROV_ENOMEM, "an array cannot grow to %zu items", more);
		return NULL;
	}
	void *grown = realloc(array, more * size);
	if (!grown) {
		dp_error(DNNPROV_ENOMEM, "out of memory growing an array to %zu items", more);
		return NULL;
	}
	*cap = more;
	return grown;
}

int dp_buf_append(dp_buf *b, const void *p, size_t n)
{
	int rc = dp_buf_reserve(b, n);
	if (rc)
		return rc;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

int dp_buf_putc(dp_buf *b, char c)
{
	assert(BUF_OK(b));
	if (b->len < b->cap) {
		b->data[b->len++] = c;
		return 0;
	}
	return dp_buf_append(b, &c, 1);
}

int dp_buf_printf(dp_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n, rc;

	assert(BUF_OK(b));
	va_start(ap, fmt);
	n = vsnprintf(b->data ? b->data + b->len : NULL, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = true;
		return dp_error(DNNPROV_EINVAL, "cannot format text: %s", fmt);
	}
	if ((size_t)n < b->cap - b->len) {
		b->len += (size_t)n;
		return 0;
	}
	rc = dp_buf_reserve(b, (size_t)n + 1);
	if (rc)
		return rc;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

const char *dp_buf_cstr(dp_buf *b)
{
	if (dp_buf_reserve(b, 1))
		return NULL;
	b->data[b->len] = '\0';
	return b->data;
}

void dp_buf_free(dp_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}
