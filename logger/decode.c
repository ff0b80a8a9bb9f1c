/*
 * decode.c - payload decoding and JSON output (see decode.h).
 */
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logger/decode.h"
#include "logger/mpack.h"

void dp_obj_scalar(const msgpack_object *o, dp_mpr_scalar *v)
{
	memset(v, 0, sizeof(*v));
	v->d = NAN;
	switch (o ? o->type : MSGPACK_OBJECT_NIL) {
	case MSGPACK_OBJECT_NIL: v->kind = DP_MPR_NIL; return;
	case MSGPACK_OBJECT_BOOLEAN:
		v->kind = DP_MPR_BOOL;
		v->i = o->via.boolean;
		break;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		if (o->via.u64 > (uint64_t)INT64_MAX) {
			v->kind = DP_MPR_BIG;
			v->u = o->via.u64;
			v->i = (int64_t)o->via.u64;
			v->d = (double)o->via.u64;
			return;
		}
		v->kind = DP_MPR_INT;
		v->i = (int64_t)o->via.u64;
		break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		v->kind = DP_MPR_INT;
		v->i = o->via.i64;
		break;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		v->kind = DP_MPR_REAL;
		v->d = o->via.f64;
		return;
	case MSGPACK_OBJECT_STR:
		v->kind = DP_MPR_STR;
		v->s = o->via.str.ptr;
		v->n = o->via.str.size;
		return;
	default: v->kind = DP_MPR_OTHER; return;
	}
	v->d = (double)v->i;
}

int dp_decode(dp_decoder *d, const unsigned char *payload, size_t n, msgpack_object *out)
{
	if (!dp_mp_check(payload, n))
		return dp_error(DNNPROV_ECORRUPT, "not one msgpack value of %zu bytes", n);
	return dp_decode_checked(d, payload, n, out);
}

int dp_decode_checked(dp_decoder *d, const unsigned char *payload, size_t n, msgpack_object *out)
{
	size_t off = 0;

	if (!d->ready) {
		if (!msgpack_zone_init(&d->zone, d->chunk_size ? d->chunk_size : 4096)) {
			d->out_of_memory = true;
			return dp_error(DNNPROV_ENOMEM, "out of memory");
		}
		d->ready = true;
	} else if (!d->keep) {
		msgpack_zone_clear(&d->zone);
	}
	switch (msgpack_unpack((const char *)payload, n, &off, &d->zone, out)) {
	case MSGPACK_UNPACK_SUCCESS:
		assert(off <= n);
		return off == n ? 0 : dp_error(DNNPROV_ECORRUPT, "%zu bytes after a msgpack value", n - off);
	case MSGPACK_UNPACK_NOMEM_ERROR:
		d->out_of_memory = true;
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	default:
		return dp_error(DNNPROV_ECORRUPT, "not one msgpack value of %zu bytes", n);
	}
}

void dp_decoder_free(dp_decoder *d)
{
	if (d->ready)
		msgpack_zone_destroy(&d->zone);
	d->ready = false;
}

bool dp_obj_is_str(const msgpack_object *o, const char *s)
{
	size_t n = strlen(s);
	return o && o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
	       memcmp(o->via.str.ptr, s, n) == 0;
}

const msgpack_object *dp_map_get(const msgpack_object *map, const char *key)
{
	if (!map || map->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (uint32_t i = 0; i < map->via.map.size; i++)
		if (dp_obj_is_str(&map->via.map.ptr[i].key, key))
			return &map->via.map.ptr[i].val;
	return NULL;
}

static int buf_write(void *data, const char *p, size_t n)
{
	return dp_buf_append(data, p, n) ? -1 : 0;
}

int dp_pack_object(dp_buf *b, const msgpack_object *o)
{
	msgpack_packer pk;
	msgpack_packer_init(&pk, b, buf_write);
	return msgpack_pack_object(&pk, *o) ? DNNPROV_ENOMEM : 0;
}

int dp_json_string(dp_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	int rc;

	if ((rc = dp_buf_reserve(b, n + 2)))
		return rc;
	dp_buf_putc(b, '"');
	/* Most names and values need no escaping: copy the clean prefix whole. */
	size_t clean = 0;
	while (clean < n && (unsigned char)s[clean] >= 0x20 && (unsigned char)s[clean] < 0x7f &&
	       s[clean] != '"' && s[clean] != '\\')
		clean++;
	assert(b->len + clean <= b->cap); /* inside the reservation above */
	if (clean) /* msgpack-c gives an empty string a NULL pointer */
		memcpy(b->data + b->len, s, clean);
	b->len += clean;
	for (size_t i = clean; i < n;) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x80) {
			/* Copy a valid UTF-8 sequence whole; replace anything else. */
			size_t len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
			if (len && i + len <= n && dp_utf8_valid(s + i, len)) {
				rc = dp_buf_append(b, s + i, len);
				i += len;
			} else {
				rc = dp_buf_append(b, "\xEF\xBF\xBD", 3);
				i++;
			}
		} else {
			i++;
			switch (c) {
			case '"': rc = dp_buf_append(b, "\\\"", 2); break;
			case '\\': rc = dp_buf_append(b, "\\\\", 2); break;
			case '\n': rc = dp_buf_append(b, "\\n", 2); break;
			case '\r': rc = dp_buf_append(b, "\\r", 2); break;
			case '\t': rc = dp_buf_append(b, "\\t", 2); break;
			default:
				if (c < 0x20 || c == 0x7f) {
					char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
					rc = dp_buf_append(b, e, 6);
				} else {
					rc = dp_buf_putc(b, (char)c);
				}
			}
		}
		if (rc)
			return rc;
	}
	return dp_buf_putc(b, '"');
}

int dp_json_double(dp_buf *b, double d)
{
	char tmp[DP_DTOA_MAX + 2];

	if (isnan(d))
		return dp_buf_append(b, "\"NaN\"", 5);
	if (isinf(d))
		return d > 0 ? dp_buf_append(b, "\"Infinity\"", 10) : dp_buf_append(b, "\"-Infinity\"", 11);
	/* The shortest text that reads back exactly (util/dtoa.c). */
	size_t n = dp_dtoa(d, tmp);
	/* Keep it a JSON number that reads back as a float, not an int. */
	if (!memchr(tmp, '.', n) && !memchr(tmp, 'e', n)) {
		memcpy(tmp + n, ".0", 2);
		n += 2;
	}
	return dp_buf_append(b, tmp, n);
}

/* One "key":value of a map. */
static int json_pair(dp_buf *b, const msgpack_object *k, const msgpack_object *v)
{
	int rc;
	/* JSON keys are strings: other key types print as their JSON text. */
	if (k->type == MSGPACK_OBJECT_STR) {
		rc = dp_json_object(b, k);
	} else {
		dp_buf tmp = { 0 };
		rc = dp_json_object(&tmp, k);
		if (!rc)
			rc = dp_json_string(b, tmp.data ? tmp.data : "", tmp.len);
		dp_buf_free(&tmp);
	}
	if (!rc)
		rc = dp_buf_putc(b, ':');
	return rc ? rc : dp_json_object(b, v);
}

int dp_json_record(dp_buf *b, const msgpack_object *o)
{
	int rc = 0;
	if (o->type != MSGPACK_OBJECT_MAP)
		return dp_json_object(b, o);
	if ((rc = dp_buf_putc(b, '{')))
		return rc;
	for (uint32_t i = 0; i < o->via.map.size && !rc; i++) {
		const msgpack_object *k = &o->via.map.ptr[i].key, *v = &o->via.map.ptr[i].val;
		char when[32] = "";
		if (i && (rc = dp_buf_putc(b, ',')))
			return rc;
		if (dp_obj_is_str(k, "time") && (v->type == MSGPACK_OBJECT_FLOAT64 || v->type == MSGPACK_OBJECT_FLOAT32 ||
						 v->type == MSGPACK_OBJECT_POSITIVE_INTEGER))
			dp_format_time(v->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? (double)v->via.u64 : v->via.f64, when);
		if (when[0])
			rc = dp_buf_printf(b, "\"time\":\"%s\"", when);
		else
			rc = json_pair(b, k, v);
	}
	return rc ? rc : dp_buf_putc(b, '}');
}

int dp_json_object(dp_buf *b, const msgpack_object *o)
{
	int rc = 0;

	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		return dp_buf_append(b, "null", 4);
	case MSGPACK_OBJECT_BOOLEAN:
		return o->via.boolean ? dp_buf_append(b, "true", 4) : dp_buf_append(b, "false", 5);
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		return dp_buf_printf(b, "%llu", (unsigned long long)o->via.u64);
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return dp_buf_printf(b, "%lld", (long long)o->via.i64);
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		return dp_json_double(b, o->via.f64);
	case MSGPACK_OBJECT_STR:
		return dp_json_string(b, o->via.str.ptr, o->via.str.size);
	case MSGPACK_OBJECT_ARRAY:
		if ((rc = dp_buf_putc(b, '[')))
			return rc;
		for (uint32_t i = 0; i < o->via.array.size && !rc; i++) {
			if (i && (rc = dp_buf_putc(b, ',')))
				return rc;
			rc = dp_json_object(b, &o->via.array.ptr[i]);
		}
		return rc ? rc : dp_buf_putc(b, ']');
	case MSGPACK_OBJECT_MAP:
		if ((rc = dp_buf_putc(b, '{')))
			return rc;
		for (uint32_t i = 0; i < o->via.map.size && !rc; i++) {
			if (i && (rc = dp_buf_putc(b, ',')))
				return rc;
			rc = json_pair(b, &o->via.map.ptr[i].key, &o->via.map.ptr[i].val);
		}
		return rc ? rc : dp_buf_putc(b, '}');
	default:
		return dp_buf_append(b, "null", 4);
	}
}
