/*
 * error.c - error codes and the thread-local detail behind dnnprov_errmsg().
 *
 * Codes alone cannot say which file, line or name was wrong, and the library
 * may not print; so each failure site stores one formatted sentence per
 * thread, the way sqlite3_errmsg() keeps one per connection.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util/util.h"

static _Thread_local char last_error[1024];
/* The parameter the failure is about ("" for none): set beside the detail
 * by dp_error_subject(), cleared by every other dp_error*(). */
static _Thread_local char last_subject[1024];

const char *dnnprov_strerror(int rc)
{
	switch (rc) {
	case DNNPROV_OK: return "success";
	case DNNPROV_EINVAL: return "invalid argument";
	case DNNPROV_ENOMEM: return "out of memory";
	case DNNPROV_EIO: return "input/output error";
	case DNNPROV_ENOSPC: return "no space left (disk full or file-size limit)";
	case DNNPROV_ECONFIG: return "invalid experiment configuration";
	case DNNPROV_ETYPE: return "value of the wrong type";
	case DNNPROV_ESTATE: return "call not allowed in this state";
	case DNNPROV_ECORRUPT: return "corrupt log data";
	case DNNPROV_ETRUNCATED: return "log data ends inside a record";
	case DNNPROV_EVERSION: return "unsupported log format version";
	case DNNPROV_ENOTFOUND: return "not found";
	case DNNPROV_ELOCKED: return "locked by another process";
	case DNNPROV_EINDEX: return "index error";
	case DNNPROV_EQUERY: return "invalid query";
	case DNNPROV_EUNDECLARED: return "name not declared in the experiment file";
	default: return "unknown error";
	}
}

const char *dnnprov_errmsg(void)
{
	return last_error;
}

const char *dnnprov_errsubject(void)
{
	return last_subject;
}

void dp_error_clear(void)
{
	last_error[0] = '\0';
	last_subject[0] = '\0';
}

int dp_error(int rc, const char *fmt, ...)
{
	va_list ap;
	assert(rc != DNNPROV_OK); /* an error return sets its detail; a success has none */
	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	last_subject[0] = '\0';
	return rc;
}

int dp_error_subject(int rc, const char *subject, const char *fmt, ...)
{
	va_list ap;
	assert(rc != DNNPROV_OK && subject);
	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	dp_error_about(subject);
	return rc;
}

void dp_error_about(const char *subject)
{
	snprintf(last_subject, sizeof(last_subject), "%s", subject ? subject : "");
}

int dp_error_errno(int err, const char *fmt, ...)
{
	va_list ap;
	size_t n;
	int rc;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	last_subject[0] = '\0';
	n = strlen(last_error);
	snprintf(last_error + n, sizeof(last_error) - n, ": %s", strerror(err));
	switch (err) {
	case ENOSPC:
	case EFBIG:
	case EDQUOT:
		rc = DNNPROV_ENOSPC;
		break;
	case ENOMEM:
		rc = DNNPROV_ENOMEM;
		break;
	default:
		rc = DNNPROV_EIO;
	}
	return rc;
}
