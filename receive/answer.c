/*
 * answer.c - what every POST is answered (a status and a JSON body), the
 * field paths errors name, parsing a body, and replacing a small file
 * whole.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "receive/internal.h"

unsigned rcv_fail(rcv_answer *a, unsigned status, const char *field, const char *fmt, ...)
{
	char why[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	free(a->body);
	a->body = NULL;
	a->len = 0;
	a->status = status;
	json_t *o = json_pack("{s:s, s:s?}", "error", why, "field", field);
	if (!o)
		o = json_pack("{s:s, s:n}", "error", "the error's text is not valid UTF-8", "field");
	if (o) {
		a->body = json_dumps(o, JSON_COMPACT);
		json_decref(o);
	}
	a->len = a->body ? strlen(a->body) : 0;
	return status;
}

unsigned rcv_ok(rcv_answer *a, json_t *o)
{
	free(a->body);
	a->body = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!a->body)
		return rcv_fail(a, 500, NULL, "out of memory");
	a->len = strlen(a->body);
	a->status = 200;
	return 200;
}

const char *rcv_at(rcv_path *p, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->s, sizeof(p->s), fmt, ap);
	va_end(ap);
	return p->s;
}

unsigned rcv_parse_json(const char *body, size_t len, json_t **out, rcv_answer *a)
{
	json_error_t e;
	/* Duplicate keys would make "which one counts" the parser's choice. */
	*out = json_loadb(body, len, JSON_REJECT_DUPLICATES, &e);
	if (*out && json_is_object(*out))
		return 0;
	if (*out) {
		json_decref(*out);
		*out = NULL;
		return rcv_fail(a, 400, NULL, "the body must be a JSON object");
	}
	if (len == 0)
		return rcv_fail(a, 400, NULL, "the body is empty: it must be a JSON object");
	return rcv_fail(a, 400, NULL, "the body is not valid JSON: %s at line %d, column %d", e.text, e.line,
			e.column);
}

int rcv_write_file(const char *dir, const char *name, const char *text, size_t len)
{
	char tmp[4096], path[4096];
	int rc = 0;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path) ||
	    snprintf(tmp, sizeof(tmp), "%s/.%s.%ld", dir, name, (long)getpid()) >= (int)sizeof(tmp))
		return dp_error(DNNPROV_EINVAL, "the path %s/%s is too long", dir, name);
	if ((rc = dp_mkdirs(dir)))
		return rc;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return dp_error_errno(errno, "cannot write %s", tmp);
	size_t off = 0;
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = dp_error_errno(n < 0 ? errno : ENOSPC, "cannot write %s", tmp);
			break;
		}
		off += (size_t)n;
	}
	if (close(fd) != 0 && !rc)
		rc = dp_error_errno(errno, "cannot write %s", tmp);
	/* The rename replaces the file whole: a reader (a receive started
	 * after a kill) sees the old text or the new, never a mix. */
	if (!rc && rename(tmp, path) != 0)
		rc = dp_error_errno(errno, "cannot rename %s to %s", tmp, path);
	if (rc)
		unlink(tmp);
	return rc;
}
