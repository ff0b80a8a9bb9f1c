/*
 * check_logger.c - the log format, the writer and the reader: encoding
 * round trips, framing, torn tails at every byte, flipped bits, rotation,
 * the durability modes, fork, threads and failing writes.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config/config.h"
#include "logger/decode.h"
#include "logger/format.h"
#include "logger/mpack.h"
#include "logger/prefetch.h"
#include "logger/reader.h"
#include "logger/writer.h"
#include "tests/testutil.h"

static char *dir;

static void setup(void)
{
	dir = tu_mkdtemp();
}

static void teardown(void)
{
	tu_rmtree(dir);
	free(dir);
}

/* A task with a begin record and n epochs. */
static dnnprov_task *open_task(dnnprov_config *cfg, const char *id)
{
	dnnprov_task *t = NULL;
	int rc = dnnprov_task_open(cfg, id, &t);
	ck_assert_msg(rc == 0, "open: %s", dnnprov_errmsg());
	return t;
}

static void epoch(dnnprov_task *t, int64_t n)
{
	dnnprov_value m[2] = { DNNPROV_V_REAL("loss", 1.0 / (double)(n + 1)),
			       DNNPROV_V_REAL("accuracy", (double)n / 100.0) };
	int rc = dnnprov_task_epoch(t, n, NAN, m, 2);
	ck_assert_msg(rc == 0, "epoch: %s", dnnprov_errmsg());
}

/* ---- checksums and encoding ------------------------------------------------ */

/* A library bound at run time (util/dynlib.c, used for libnats and
 * libmicrohttpd): its functions when it has them, and otherwise an error
 * that names the file or the function missing. */
START_TEST(test_dynlib_bind)
{
	double (*cosine)(double) = NULL;
	void *none = NULL;
	dp_dynsym good[] = { { "cos", (void **)&cosine } };
	dp_dynlib math = { "libm.so.6", "math", good, 1, PTHREAD_MUTEX_INITIALIZER, false };
	ck_assert_int_eq(dp_dynlib_bind(&math), 0);
	ck_assert_ptr_nonnull(cosine);
	ck_assert(cosine(0.0) == 1.0);
	ck_assert_int_eq(dp_dynlib_bind(&math), 0); /* once bound, bound */

	dp_dynsym missing[] = { { "cos", (void **)&cosine }, { "dp_no_such_function", &none } };
	dp_dynlib short_of_one = { "libm.so.6", "math", missing, 2, PTHREAD_MUTEX_INITIALIZER, false };
	ck_assert_int_eq(dp_dynlib_bind(&short_of_one), DNNPROV_EIO);
	ck_assert_ptr_nonnull(strstr(dnnprov_errmsg(), "libm.so.6 has no function dp_no_such_function"));
	ck_assert_ptr_null(none);
	ck_assert(!short_of_one.bound);

	dp_dynlib absent = { "libdnnprov-absent.so.9", "absent", good, 1, PTHREAD_MUTEX_INITIALIZER, false };
	ck_assert_int_eq(dp_dynlib_bind(&absent), DNNPROV_EIO);
	ck_assert_ptr_nonnull(strstr(dnnprov_errmsg(), "cannot load libdnnprov-absent.so.9 (the absent library)"));
}
END_TEST

START_TEST(test_crc32c_vectors)
{
	/* The standard check value of CRC-32C, and agreement of the hardware
	 * and table versions at every length and alignment. */
	ck_assert_uint_eq(dp_crc32c(0, "123456789", 9), 0xE3069283u);
	ck_assert_uint_eq(dp_crc32c_portable(0, "123456789", 9), 0xE3069283u);
	unsigned char buf[300];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(i * 7 + 3);
	for (size_t off = 0; off < 8; off++)
		for (size_t n = 0; n + off <= sizeof(buf); n += 13)
			ck_assert_uint_eq(dp_crc32c(0, buf + off, n), dp_crc32c_portable(0, buf + off, n));
	/* Incremental use equals one pass. */
	ck_assert_uint_eq(dp_crc32c(dp_crc32c(0, buf, 100), buf + 100, 200), dp_crc32c(0, buf, 300));
}
END_TEST

static void decode_one(const unsigned char *p, size_t n, msgpack_object *o, dp_decoder *d)
{
	ck_assert_msg(dp_mp_check(p, n), "dp_mp_check rejected valid bytes");
	ck_assert_int_eq(dp_decode(d, p, n, o), 0);
}

START_TEST(test_mpack_round_trip)
{
	static const int64_t ints[] = { 0, 1, 127, 128, 255, 256, 65535, 65536, -1, -32, -33, -128,
					-129, INT32_MAX, (int64_t)INT32_MAX + 1, INT32_MIN,
					(int64_t)INT32_MIN - 1, INT64_MAX, INT64_MIN };
	static const double dbls[] = { 0.0, -0.0, 0.1, 1e300, -1e-300, INFINITY, -INFINITY };
	static const size_t strs[] = { 0, 1, 31, 32, 255, 256, 65535, 65536 };
	unsigned char *buf = malloc(200000), *p;
	dp_decoder d = { 0 };
	msgpack_object o;

	for (size_t i = 0; i < DP_ARRAY_LEN(ints); i++) {
		p = dp_mp_int(buf, ints[i]);
		decode_one(buf, (size_t)(p - buf), &o, &d);
		if (ints[i] >= 0) {
			ck_assert_int_eq(o.type, MSGPACK_OBJECT_POSITIVE_INTEGER);
			ck_assert_uint_eq(o.via.u64, (uint64_t)ints[i]);
		} else {
			ck_assert_int_eq(o.type, MSGPACK_OBJECT_NEGATIVE_INTEGER);
			ck_assert_int_eq(o.via.i64, ints[i]);
		}
	}
	for (size_t i = 0; i < DP_ARRAY_LEN(dbls); i++) {
		p = dp_mp_double(buf, dbls[i]);
		decode_one(buf, (size_t)(p - buf), &o, &d);
		ck_assert_int_eq(o.type, MSGPACK_OBJECT_FLOAT64);
		ck_assert(memcmp(&o.via.f64, &dbls[i], 8) == 0);
	}
	p = dp_mp_double(buf, NAN);
	decode_one(buf, (size_t)(p - buf), &o, &d);
	ck_assert(isnan(o.via.f64));
	char *s = malloc(70000);
	memset(s, 'x', 70000);
	for (size_t i = 0; i < DP_ARRAY_LEN(strs); i++) {
		p = dp_mp_str(buf, s, strs[i]);
		decode_one(buf, (size_t)(p - buf), &o, &d);
		ck_assert_int_eq(o.type, MSGPACK_OBJECT_STR);
		ck_assert_uint_eq(o.via.str.size, strs[i]);
	}
	for (uint32_t n = 14; n <= 17; n++) { /* fixmap/fixarray to 16-bit forms */
		p = dp_mp_map(buf, n);
		for (uint32_t k = 0; k < n; k++) {
			p = dp_mp_int(p, k);
			p = dp_mp_nil(p);
		}
		decode_one(buf, (size_t)(p - buf), &o, &d);
		ck_assert_uint_eq(o.via.map.size, n);
		p = dp_mp_array(buf, n);
		for (uint32_t k = 0; k < n; k++)
			p = dp_mp_bool(p, k & 1);
		decode_one(buf, (size_t)(p - buf), &o, &d);
		ck_assert_uint_eq(o.via.array.size, n);
	}
	p = dp_mp_array(buf, 70000);
	for (uint32_t k = 0; k < 70000; k++)
		p = dp_mp_int(p, 1);
	decode_one(buf, (size_t)(p - buf), &o, &d);
	ck_assert_uint_eq(o.via.array.size, 70000);
	dp_decoder_free(&d);
	free(s);
	free(buf);
}
END_TEST

START_TEST(test_mpack_check_rejects)
{
	/* An array claiming 2^32-1 elements in 5 bytes: rejected before any
	 * decoder allocates for it. */
	unsigned char huge[] = { 0xdd, 0xff, 0xff, 0xff, 0xff };
	ck_assert(!dp_mp_check(huge, sizeof(huge)));
	unsigned char hugemap[] = { 0xdf, 0x80, 0, 0, 0, 1, 2 };
	ck_assert(!dp_mp_check(hugemap, sizeof(hugemap)));
	unsigned char longstr[] = { 0xdb, 0x7f, 0xff, 0xff, 0xff, 'a' };
	ck_assert(!dp_mp_check(longstr, sizeof(longstr)));
	unsigned char never[] = { 0xc1 };
	ck_assert(!dp_mp_check(never, 1));
	unsigned char trailing[] = { 0x01, 0x02 };
	ck_assert(!dp_mp_check(trailing, 2));
	ck_assert(!dp_mp_check(trailing, 0));
	/* Nesting: 16 levels pass, 17 do not. */
	unsigned char deep[40];
	memset(deep, 0x91, sizeof(deep));
	deep[16] = 0x01;
	ck_assert(dp_mp_check(deep, 17));
	deep[16] = 0x91;
	deep[17] = 0x01;
	ck_assert(!dp_mp_check(deep, 18));
	dp_decoder d = { 0 };
	msgpack_object o;
	ck_assert_int_eq(dp_decode(&d, huge, sizeof(huge), &o), DNNPROV_ECORRUPT);
	dp_decoder_free(&d);
}
END_TEST

START_TEST(test_json_output)
{
	dp_buf b = { 0 };
	/* Found by fuzz_record: an empty msgpack string has a NULL pointer. */
	dp_json_string(&b, NULL, 0);
	ck_assert_str_eq(dp_buf_cstr(&b), "\"\"");
	static const unsigned char empty_keys[] = { 0x83, 0xa0, 0x75, 0x81, 0xa7, 'r', 'e', 0x81, 0x79, 0x46,
						    0xa7, 0x8a, 0x72, 0x65, 0x73, 0x05 };
	dp_decoder dec = { 0 };
	msgpack_object o;
	if (dp_decode(&dec, empty_keys, sizeof(empty_keys), &o) == 0) {
		b.len = 0;
		ck_assert_int_eq(dp_json_object(&b, &o), 0);
	}
	dp_decoder_free(&dec);
	b.len = 0;
	dp_json_string(&b, "a\"b\\c\n\x01\xff\xc3\xa9", 10);
	ck_assert_str_eq(dp_buf_cstr(&b), "\"a\\\"b\\\\c\\n\\u0001\xEF\xBF\xBD\xc3\xa9\"");
	b.len = 0;
	dp_json_double(&b, 0.1);
	dp_buf_putc(&b, ' ');
	dp_json_double(&b, NAN);
	dp_buf_putc(&b, ' ');
	dp_json_double(&b, -INFINITY);
	dp_buf_putc(&b, ' ');
	dp_json_double(&b, 3.0);
	ck_assert_str_eq(dp_buf_cstr(&b), "0.1 \"NaN\" \"-Infinity\" 3.0");
	dp_buf_free(&b);
}
END_TEST

/* ---- a whole task round trip ------------------------------------------------ */

START_TEST(test_round_trip_all_kinds)
{
	dnnprov_config *cfg = tu_config(dir, NULL);
	dnnprov_task *t = open_task(cfg, "run-1");
	dnnprov_value hyps[] = { DNNPROV_V_TEXT("OPTIMIZER_NAME", "Adam"),
				 DNNPROV_V_REAL("LEARNING_RATE", 0.01),
				 DNNPROV_V_REAL("MOMENTUM", 0.9), /* not selected: left out */
				 DNNPROV_V_INT("BATCH_SIZE", 64),
				 DNNPROV_V_REAL("dropout", 0.5),
				 DNNPROV_V_INT("not_declared", 3) };
	dnnprov_layer layers[] = { { "dense_1", "activation", DNNPROV_V_TEXT(NULL, "relu") },
				   { "drop_1", "dropout", DNNPROV_V_REAL(NULL, 0.25) } };
	dnnprov_value lr = DNNPROV_V_REAL("LEARNING_RATE", 0.005);
	dnnprov_value test[] = { DNNPROV_V_REAL("loss", NAN), DNNPROV_V_REAL("accuracy", INFINITY) };
	dnnprov_value el[] = { DNNPROV_V_INT("growth_rate", 12), DNNPROV_V_INT("layers_db", 33) };
	dnnprov_value out[] = { DNNPROV_V_TEXT("output", "ok \"quoted\"\nline") };

	ck_assert_str_eq(dnnprov_task_id(t), "run-1");
	/* A name the config does not declare is a typo: strict, refused whole,
	 * naming it (test_refused_names: not strict). */
	dnnprov_task_strict(t, 1);
	ck_assert_int_eq(dnnprov_task_begin(t, hyps, DP_ARRAY_LEN(hyps)), DNNPROV_EUNDECLARED);
	ck_assert_ptr_nonnull(strstr(dnnprov_errmsg(), "'not_declared' is not declared"));
	ck_assert_int_eq(dnnprov_task_epoch(t, 1, NAN, test, 2), DNNPROV_ESTATE); /* before begin */
	ck_assert_int_eq(dnnprov_task_begin(t, hyps, DP_ARRAY_LEN(hyps) - 1), 0);
	ck_assert_int_eq(dnnprov_task_begin(t, hyps, 1), DNNPROV_ESTATE);
	ck_assert_int_eq(dnnprov_task_layers(t, layers, 2), 0);
	epoch(t, 1);
	ck_assert_int_eq(dnnprov_task_adapt(t, 2, &lr), 0);
	epoch(t, 2);
	ck_assert_int_eq(dnnprov_task_test(t, test, 2), 0);
	ck_assert_int_eq(dnnprov_task_element(t, "DenseBlock", "iDenseBlock", el, 2), 0);
	ck_assert_int_eq(dnnprov_task_element(t, "DenseBlock", "oDenseBlock", out, 1), 0);
	ck_assert_int_eq(dnnprov_task_end(t, DNNPROV_FINISHED, "done"), 0);
	ck_assert_int_eq(dnnprov_task_epoch(t, 3, NAN, test, 2), DNNPROV_ESTATE);
	ck_assert_int_eq(dnnprov_task_end(t, DNNPROV_FINISHED, NULL), DNNPROV_ESTATE);
	ck_assert_int_eq(dnnprov_task_close(t), 0);

	tu_records rs;
	tu_read_all(dir, &rs);
	ck_assert_uint_eq(rs.problems, 0);
	ck_assert_uint_eq(rs.torn, 0);
	ck_assert_uint_eq(rs.sealed, 1);
	const char *kinds[] = { "spec", "begin", "layers", "epoch", "adapt", "epoch",
				"test", "element", "element", "end" };
	ck_assert_uint_eq(rs.n, DP_ARRAY_LEN(kinds));
	for (size_t i = 0; i < rs.n; i++)
		ck_assert_str_eq(rs.r[i].kind, kinds[i]);
	ck_assert_ptr_nonnull(strstr(rs.r[0].json, "\"dataflow\":\"df\""));
	ck_assert_ptr_nonnull(strstr(rs.r[0].json, "{\"name\":\"dropout\",\"type\":\"numeric\"}"));
	ck_assert_ptr_null(strstr(rs.r[0].json, "MOMENTUM"));
	ck_assert_ptr_nonnull(strstr(rs.r[1].json, "\"hyperparameters\":{\"OPTIMIZER_NAME\":\"Adam\","
						   "\"LEARNING_RATE\":0.01,\"BATCH_SIZE\":64,\"dropout\":0.5}"));
	ck_assert_ptr_nonnull(strstr(rs.r[1].json, "\"task\":\"run-1\""));
	ck_assert_ptr_nonnull(strstr(rs.r[2].json, "{\"name\":\"drop_1\",\"kind\":\"dropout\",\"value\":0.25}"));
	ck_assert_ptr_nonnull(strstr(rs.r[3].json, "\"epoch\":1,"));
	ck_assert_ptr_nonnull(strstr(rs.r[3].json, "\"metrics\":{\"loss\":0.5,\"accuracy\":0.01}"));
	ck_assert_ptr_nonnull(strstr(rs.r[4].json, "\"hyperparameter\":\"LEARNING_RATE\",\"old\":0.01,"
						   "\"new\":0.005,\"id\":1"));
	ck_assert_ptr_nonnull(strstr(rs.r[6].json, "{\"loss\":\"NaN\",\"accuracy\":\"Infinity\"}"));
	ck_assert_ptr_nonnull(strstr(rs.r[7].json, "\"values\":{\"growth_rate\":12,\"layers_db\":33}"));
	ck_assert_ptr_nonnull(strstr(rs.r[8].json, "\"output\":\"ok \\\"quoted\\\"\\nline\""));
	ck_assert_ptr_nonnull(strstr(rs.r[9].json, "\"status\":\"FINISHED\",\"message\":\"done\""));
	tu_records_free(&rs);
	dnnprov_config_free(cfg);
}
END_TEST

/* Tags and run facts through the C API: the writer's own tag records, a
 * note segment written beside a live writer, facts set, replaced and
 * removed, and refusals that write nothing. */
START_TEST(test_tags_and_facts)
{
	dnnprov_config *cfg = tu_config(dir, NULL);
	dnnprov_task *t = open_task(cfg, "tagged");
	dnnprov_value tags[] = { DNNPROV_V_TEXT("stage", "dev"), DNNPROV_V_INT("seed", 3) };
	dnnprov_value gone = { .name = "stage", .type = DNNPROV_NULL };
	dnnprov_value facts[] = { DNNPROV_V_TEXT("python", "3.11"), DNNPROV_V_TEXT("cwd", "/elsewhere"),
				  { .name = "command", .type = DNNPROV_NULL } };
	dnnprov_value bad[] = { DNNPROV_V_TEXT("a/b", "x") };
	dnnprov_value twice[] = { DNNPROV_V_TEXT("Stage", "x"), DNNPROV_V_TEXT("stage", "y") };

	ck_assert_int_eq(dnnprov_task_tag(t, tags, 2), DNNPROV_ESTATE); /* before begin */
	ck_assert_int_eq(dnnprov_tag(cfg, "tagged", tags, 2), DNNPROV_ENOTFOUND); /* no segment yet */
	ck_assert_int_eq(dnnprov_task_facts(t, bad, 1), DNNPROV_EINVAL);
	ck_assert_int_eq(dnnprov_task_facts(t, facts, 3), 0);
	ck_assert_int_eq(dnnprov_task_begin(t, NULL, 0), 0);
	ck_assert_int_eq(dnnprov_task_tag(t, tags, 2), 0);
	ck_assert_int_eq(dnnprov_task_tag(t, bad, 1), DNNPROV_EINVAL);
	ck_assert_int_eq(dnnprov_task_tag(t, twice, 2), DNNPROV_EINVAL);
	ck_assert_int_eq(dnnprov_task_tag(t, tags, 0), DNNPROV_EINVAL);
	/* Another "process" tags it while this handle holds the lock. */
	ck_assert_int_eq(dnnprov_tag(cfg, "tagged", &gone, 1), 0);
	ck_assert_int_eq(dnnprov_tag(cfg, "nosuch", tags, 1), DNNPROV_ENOTFOUND);
	ck_assert_int_eq(dnnprov_task_end(t, DNNPROV_FINISHED, NULL), 0);
	ck_assert_int_eq(dnnprov_task_tag(t, tags, 1), 0); /* after the end too */
	ck_assert_int_eq(dnnprov_task_close(t), 0);

	tu_records rs;
	tu_read_all(dir, &rs);
	ck_assert_uint_eq(rs.problems, 0);
	ck_assert_uint_eq(tu_count(&rs, "tag"), 3);
	long b = tu_find(&rs, "begin", 0);
	ck_assert_int_ge(b, 0);
	/* The caller's facts replace the collected ones; a removed one is absent. */
	ck_assert_ptr_nonnull(strstr(rs.r[b].json, "\"python\":\"3.11\""));
	ck_assert_ptr_nonnull(strstr(rs.r[b].json, "\"cwd\":\"/elsewhere\""));
	ck_assert_ptr_null(strstr(rs.r[b].json, "\"command\""));
	long note = -1;
	for (size_t i = 0; i < rs.n; i++)
		if (strstr(rs.r[i].segment, "/note-") && strcmp(rs.r[i].kind, "tag") == 0)
			note = (long)i;
	ck_assert_int_ge(note, 0);
	ck_assert_ptr_nonnull(strstr(rs.r[note].json, "\"tags\":{\"stage\":null}"));
	tu_records_free(&rs);
	dnnprov_config_free(cfg);

	/* facts: false records none, whatever the caller adds. */
	char *sub = tu_mkdtemp();
	cfg = tu_config(sub, "facts: false\n");
	t = open_task(cfg, "quiet");
	ck_assert_int_eq(dnnprov_task_facts(t, facts, 2), 0);
	ck_assert_int_eq(dnnprov_task_begin(t, NULL, 0), 0);
	ck_assert_int_eq(dnnprov_task_close(t), 0);
	tu_read_all(sub, &rs);
	b = tu_find(&rs, "begin", 0);
	ck_assert_int_ge(b, 0);
	ck_assert_ptr_null(strstr(rs.r[b].json, "\"facts\""));
	tu_records_free(&rs);
	dnnprov_config_free(cfg);
	tu_rmtree(sub);
	free(sub);
}
END_TEST

START_TEST(test_segment_header)
{
	dnnprov_config *cfg = tu_config(dir, NULL);
	dnnprov_task *t = open_task(cfg, "hdr");
	ck_assert_ptr_null(dp_task_segment_path(t)); /* none until the first record */
	ck_assert_int_eq(dnnprov_task_begin(t, NULL, 0), 0);
	char *path = strdup(dp_task_segment_path(t));
	ck_assert_int_eq(dnnprov_task_close(t), 0);

	dp_segment_header h;
	dp_reader *r;
	ck_assert_int_eq(dp_reader_open(path, 0, &r, &h), 0);
	ck_assert(h.valid);
	ck_assert_uint_eq(h.version, DP_FORMAT_VERSION);
	ck_assert_str_eq(h.dataflow, "df");
	ck_assert_str_eq(h.task, "hdr");
	ck_assert_int_eq(h.pid, getpid());
	ck_assert_uint_eq(h.sequence, 1);
	ck_assert_str_eq(h.producer, "dnnprov " DNNPROV_VERSION);
	/* What the writer knew of the task when it opened the segment. */
	ck_assert_str_eq(h.state, "new");
	ck_assert_uint_eq(h.attempts, 0);
	ck_assert_uint_eq(strlen(h.run), DP_RUN_ID_LEN);
	dp_frame f;
	dp_problem pb;
	ck_assert_int_eq(dp_reader_next(r, &f, &pb), DP_READ_RECORD); /* spec */
	ck_assert_int_eq(dp_reader_next(r, &f, &pb), DP_READ_RECORD); /* begin */
	ck_assert_int_eq(dp_reader_next(r, &f, &pb), DP_READ_SEAL);
	ck_assert_int_eq(dp_reader_next(r, &f, &pb), DP_READ_END);
	dp_reader_close(r);
	/* The path is <log_dir>/<dataflow>/<task>/<file>.dnplog. */
	char *expect;
	ck_assert_int_ge(asprintf(&expect, "%s/logs/df/hdr/", dir), 0);
	ck_assert(strncmp(path, expect, strlen(expect)) == 0);
	ck_assert_ptr_nonnull(strstr(path, "/0000000001-"));
	ck_assert_ptr_nonnull(strstr(path, ".dnplog"));

	/* A newer version is refused with its number, not misread. */
	FILE *fp = fopen(path, "r+b");
	unsigned char v3[2] = { 0, 3 };
	fseek(fp, 8, SEEK_SET);
	fwrite(v3, 1, 2, fp);
	fclose(fp);
	/* Recompute the header checksum so that only the version differs. */
	long long size = tu_file_size(path);
	unsigned char *all = malloc((size_t)size);
	fp = fopen(path, "r+b");
	ck_assert_uint_eq(fread(all, 1, (size_t)size, fp), (size_t)size);
	uint32_t hlen = dp_get_be32(all + 12);
	dp_put_be32(all + 16 + hlen, dp_crc32c(0, all, 16 + hlen));
	fseek(fp, 0, SEEK_SET);
	fwrite(all, 1, (size_t)size, fp);
	fclose(fp);
	ck_assert_int_eq(dp_reader_open(path, 0, &r, &h), DNNPROV_EVERSION);
	ck_assert_uint_eq(h.version, 3);
	ck_assert_ptr_nonnull(strstr(dnnprov_errmsg(), "version 3"));
	free(all);
	free(expect);
	free(path);
	dnnprov_config_free(cfg);
}
END_TEST

/* ---- damage ------------------------------------------------------------------ */

/* Writes a closed, unsealed-or-sealed segment of n epochs and returns its
 * path (caller frees). */
static char *write_segment(dnnprov_config *cfg, const char *id, int n)
{
	dnnprov_task *t = open_task(cfg, id);
	ck_assert_int_eq(dnnprov_task_begin(t, NULL, 0), 0);
	for (int i = 1; i <= n; i++)
		epoch(t, i);
	char *path = strdup(dp_task_segment_path(t));
	ck_assert_int_eq(dnnprov_task_close(t), 0);
	return path;
}

/* Reads one segment, collecting record offsets and problems. */
typedef struct seg_result {
	uint64_t offsets[256];
	size_t n;
	dp_problem problems[64];
	size_t nproblems;
	bool torn;
	dp_problem torn_at;
	bool sealed;
} seg_result;

static void read_segment(const char *path, seg_result *res)
{
	dp_segment_header h;
	dp_reader *r;
	dp_frame f;
	dp_problem pb;
	int rc;

	memset(res, 0, sizeof(*res));
	ck_assert_int_eq(dp_reader_open(path, 0, &r, &h), 0);
	while ((rc = dp_reader_next(r, &f, &pb)) > 0) {
		if (rc == DP_READ_RECORD) {
			ck_assert_uint_lt(res->n, 256);
			res->offsets[res->n++] = f.offset;
		} else if (rc == DP_READ_SEAL) {
			res->sealed = true;
		} else if (rc == DP_READ_TORN) {
			res->torn = true;
			res->torn_at = pb;
			break;
		} else {
			ck_assert_uint_lt(res->nproblems, 64);
			res->problems[res->nproblems++] = pb;
		}
	}
	ck_assert_int_ge(rc, 0);
	dp_reader_close(r);
}

/* Offsets of every frame of a segment (records and seal) and its size. */
static size_t frame_boundaries(const char *path, uint64_t *bounds, size_t cap)
{
	dp_segment_header h;
	dp_reader *r;
	dp_frame f;
	dp_problem pb;
	size_t n = 0;
	int rc;
	ck_assert_int_eq(dp_reader_open(path, 0, &r, &h), 0);
	while ((rc = dp_reader_next(r, &f, &pb)) > 0) {
		ck_assert(rc == DP_READ_RECORD || rc == DP_READ_SEAL);
		ck_assert_uint_lt(n, cap);
		bounds[n++] = f.offset;
	}
	ck_assert_uint_lt(n, cap);
	bounds[n++] = dp_reader_offset(r);
	dp_reader_close(r);
	return n;
}

START_TEST(test_torn_tail_every_byte)
{
	/* Cut the segment at every byte from the start of the second-last
	 * record to the end: the reader returns exactly the records that lie
	 * wholly before the cut, and reports the rest as a torn tail ending at
	 * the cut, never as corruption. */
	dnnprov_config *cfg = tu_config(dir, NULL);
	char *path = write_segment(cfg, "cut", 5);
	uint64_t b[64];
	size_t nb = frame_boundaries(path, b, 64); /* 7 records, the seal, the end */
	ck_assert_uint_eq(nb, 9);
	ck_assert_uint_eq(b[nb - 1], (uint64_t)tu_file_size(path));
	char *copy;
	seg_result cut;
	ck_assert_int_ge(asprintf(&copy, "%s/cut.dnplog", dir), 0);
	for (uint64_t len = b[5]; len < b[nb - 1]; len++) {
		size_t complete = 0;
		bool boundary = false;
		for (size_t i = 0; i + 1 < nb; i++) {
			complete += b[i + 1] <= len && i < 7; /* records only, not the seal */
			boundary |= b[i] == len;
		}
		tu_copy_prefix(path, copy, (long long)len);
		read_segment(copy, &cut);
		ck_assert_uint_eq(cut.nproblems, 0);
		ck_assert_msg(cut.n == complete, "cut at %llu: %zu records, expected %zu",
			      (unsigned long long)len, cut.n, complete);
		ck_assert_msg(cut.torn == !boundary, "cut at %llu: torn %d", (unsigned long long)len,
			      cut.torn);
		ck_assert(!cut.sealed);
		if (cut.torn)
			ck_assert_uint_eq(cut.torn_at.offset + cut.torn_at.length, len);
	}
	free(copy);
	free(path);
	dnnprov_config_free(cfg);
}
END_TEST

START_TEST(test_flipped_bits)
{
	/* Flip each bit of every byte of the third epoch record, one at a
	 * time: that record is reported (checksum or garbage) with its offset
	 * and every other record comes back intact. */
	dnnprov_config *cfg = tu_config(dir, NULL);
	char *path = write_segment(cfg, "flip", 6);
	seg_result full, got;
	read_segment(path, &full);
	long long size = tu_file_size(path);
	unsigned char *orig = malloc((size_t)size), *buf = malloc((size_t)size);
	FILE *fp = fopen(path, "rb");
	ck_assert_uint_eq(fread(orig, 1, (size_t)size, fp), (size_t)size);
	fclose(fp);
	char *copy;
	ck_assert_int_ge(asprintf(&copy, "%s/flip.dnplog", dir), 0);
	size_t victim = 4; /* spec, begin, epoch 1, epoch 2, [epoch 3] */
	uint64_t from = full.offsets[victim], to = full.offsets[victim + 1];
	for (uint64_t byte = from; byte < to; byte++) {
		for (int bit = 0; bit < 8; bit += 3) {
			memcpy(buf, orig, (size_t)size);
			buf[byte] ^= (unsigned char)(1u << bit);
			fp = fopen(copy, "wb");
			fwrite(buf, 1, (size_t)size, fp);
			fclose(fp);
			read_segment(copy, &got);
			ck_assert_msg(got.n == full.n - 1, "flip at %llu: %zu records",
				      (unsigned long long)byte, got.n);
			ck_assert_uint_eq(got.nproblems, 1);
			ck_assert_uint_eq(got.problems[0].offset, from);
			ck_assert_uint_eq(got.problems[0].length, to - from);
			ck_assert(got.problems[0].kind == DP_PROBLEM_CHECKSUM ||
				  got.problems[0].kind == DP_PROBLEM_GARBAGE);
			for (size_t i = 0, k = 0; i < full.n; i++) {
				if (i == victim)
					continue;
				ck_assert_uint_eq(got.offsets[k++], full.offsets[i]);
			}
			ck_assert(got.sealed);
			ck_assert(!got.torn);
		}
	}
	/* Garbage appended after the seal is reported, nothing else lost. */
	fp = fopen(copy, "wb");
	fwrite(orig, 1, (size_t)size, fp);
	fwrite("\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 1, 20, fp);
	fclose(fp);
	read_segment(copy, &got);
	ck_assert_uint_eq(got.n, full.n);
	ck_assert_uint_eq(got.nproblems, 1);
	ck_assert_int_eq(got.problems[0].kind, DP_PROBLEM_AFTER_SEAL);
	ck_assert_uint_eq(got.problems[0].offset, (uint64_t)size);
	ck_assert_uint_eq(got.problems[0].length, 20);
	free(copy);
	free(orig);
	free(buf);
	free(path);
	dnnprov_config_free(cfg);
}
END_TEST

START_TEST(test_bad_segment_header_keeps_frames)
{
	dnnprov_config *cfg = tu_config(dir, NULL);
	char *path = write_segment(cfg, "badhdr", 3);
	seg_result full, got;
	read_segment(path, &full);
	FILE *fp = fopen(path, "r+b");
	fseek(fp, 20, SEEK_SET);
	fputc('Z', fp); /* inside the header map */
	fclose(fp);
	read_segment(path, &got);
	ck_assert_uint_eq(got.nproblems, 1);
	ck_assert_int_eq(got.problems[0].kind, DP_PROBLEM_BAD_HEADER);
	ck_assert_uint_eq(got.problems[0].offset, 0);
	ck_assert_uint_eq(got.problems[0].length, full.offsets[0]);
	ck_assert_uint_eq(got.n, full.n);
	free(path);
	dnnprov_config_free(cfg);
}
END_TEST

/* What a reader of the file gives from `from`, against what the loader's
 * prefetch of it from `ahead` replays from there: the same open result,
 * then the same results one by one, and each record decoded as the file's
 * reader's payload decodes. */
static void same_as_reader(const char *path, uint64_t from, uint64_t ahead)
{
	dp_segment_header h;
	dp_reader *r = NULL;
	dp_prefetched p;
	int rc = dp_reader_open(path, from, &r, &h);
	ck_assert_int_eq(dp_prefetch(AT_FDCWD, path, path, ahead, true, &p), 0);
	if (p.img.unread) { /* nothing past `ahead`: nothing for the reader either */
		dp_frame f;
		dp_problem pb;
		ck_assert_uint_le(p.img.size, ahead);
		ck_assert_int_eq(rc ? DP_READ_END : dp_reader_next(r, &f, &pb), DP_READ_END);
		dp_reader_close(r);
		dp_prefetched_free(&p);
		return;
	}
	ck_assert_int_eq(p.open_rc, rc);
	if (rc) {
		dp_prefetched_free(&p);
		return;
	}
	uint64_t fs = p.hdr.frames_start;
	ck_assert_uint_eq(fs, h.frames_start);
	ptrdiff_t i = dp_prefetched_at(&p, from > fs ? from : fs);
	ck_assert_msg(i >= 0, "%s: no result at %llu", path, (unsigned long long)from);
	for (;; i++) {
		dp_frame f;
		dp_problem pb;
		int res = dp_reader_next(r, &f, &pb);
		ck_assert_uint_lt((size_t)i, p.n);
		const dp_prefetched_frame *k = &p.f[i];
		ck_assert_int_eq(k->res, res);
		ck_assert_uint_eq(k->next, dp_reader_offset(r));
		if (res == DP_READ_RECORD || res == DP_READ_SEAL) {
			ck_assert_uint_eq(k->frame.offset, f.offset);
			ck_assert_uint_eq(k->frame.length, f.length);
			ck_assert_int_eq(memcmp(k->frame.payload, f.payload, f.length), 0);
		} else if (res > 0) {
			ck_assert_int_eq(k->problem.kind, pb.kind);
			ck_assert_uint_eq(k->problem.offset, pb.offset);
			ck_assert_uint_eq(k->problem.length, pb.length);
		}
		if (res == DP_READ_RECORD) {
			dp_decoder d = { 0 };
			msgpack_object o;
			dp_record rec;
			int dec = dp_decode_checked(&d, f.payload, f.length, &o);
			ck_assert_int_eq(k->decoded, dec);
			if (!dec) {
				ck_assert_int_eq(k->parsed, dp_record_parse(&o, &rec));
				ck_assert(k->parsed || (k->rec.kind == rec.kind && k->rec.time == rec.time));
			}
			dp_decoder_free(&d);
		}
		if (res <= DP_READ_END || res == DP_READ_TORN) {
			ck_assert_uint_eq((size_t)i, p.n - 1); /* the last one kept */
			break;
		}
	}
	dp_reader_close(r);
	dp_prefetched_free(&p);
}

START_TEST(test_prefetch_replays_the_reader)
{
	/* Segments whole, with a flipped byte, garbage after the seal, a
	 * damaged header, cut inside a frame and inside the header: read ahead
	 * from the start or from any frame boundary, the results replayed from
	 * any later boundary are the reader's from there. */
	dnnprov_config *cfg = tu_config(dir, NULL);
	char *path = write_segment(cfg, "ahead", 6), *copy;
	long long size = tu_file_size(path);
	uint64_t b[64];
	size_t nb = frame_boundaries(path, b, 64);
	ck_assert_int_ge(asprintf(&copy, "%s/ahead.dnplog", dir), 0);
	unsigned char *orig = malloc((size_t)size);
	FILE *fp = fopen(path, "rb");
	ck_assert_uint_eq(fread(orig, 1, (size_t)size, fp), (size_t)size);
	fclose(fp);
	for (int variant = 0; variant < 6; variant++) {
		fp = fopen(copy, "wb");
		long long len = variant == 4 ? (long long)b[3] + 5 : variant == 5 ? 30 : size;
		unsigned char *buf = malloc((size_t)size);
		memcpy(buf, orig, (size_t)size);
		if (variant == 1)
			buf[b[2] + 20] ^= 0x10;
		if (variant == 3)
			buf[20] = 'Z';
		fwrite(buf, 1, (size_t)len, fp);
		if (variant == 2)
			fwrite("garbage after the seal", 1, 22, fp);
		fclose(fp);
		free(buf);
		same_as_reader(copy, 0, 0);
		/* Not from past the seal (the last boundary) when read ahead from
		 * before it: a reader that read the seal calls what follows data
		 * after it, one that starts there cannot know, and the indexer
		 * never reads a sealed segment again. */
		for (size_t i = 0; i < nb; i++)
			for (size_t j = 0; j <= i; j++)
				if ((long long)b[i] <= len && (i + 1 < nb || j == i))
					same_as_reader(copy, b[i], b[j]);
	}
	free(orig);
	free(copy);
	free(path);
	dnnprov_config_free(cfg);
}
END_TEST

/* ---- rotation and durability -------------------------------------------------- */

START_TEST(test_rotation)
{
	dnnprov_config *cfg = tu_config(dir, "log:\n  segment_size: 4KiB\n");
	dnnprov_task *t = open_task(cfg, "rot");
	ck_assert_int_eq(dnnprov_task_begin(t, NULL, 0), 0);
	for (int i = 1; i <= 500; i++)
		epoch(t, i);
	ck_assert_int_eq(dnnprov_task_close(t), 0);

	tu_records rs;
	tu_read_all(dir, &rs);
	ck_assert_uint_gt(rs.segments, 10);
	ck_assert_uint_eq(rs.sealed, rs.segments); /* every segment closed */
	ck_assert_uint_eq(rs.problems, 0);
	ck_assert_uint_eq(tu_count(&rs, "epoch"), 500);
	/* In name order the epochs come back in the order written. */
	int expect = 1;
	for (size_t i = 0; i < rs.n; i++) {
		if (strcmp(rs.r[i].kind, "epoch") != 0)
			continue;
		char needle[32];
		snprintf(needle, sizeof(needle), "\"epoch\":%d,", expect++);
		ck_assert_msg(strstr(rs.r[i].json, needle), "%s", rs.r[i].json);
	}
	for (size_t i = 0; i < rs.n; i++)
		ck_assert_int_le(tu_file_size(rs.r[i].segment), 4096);
	tu_records_free(&rs);
	dnnprov_config_free(cfg);
}
END_TEST

static size_t records_on_disk(const char *path)
{
	tu_records rs;
	tu_read_all(path, &rs);
	size_t n = rs.n;
	tu_records_free(&rs);
	return n;
}

START_TEST(test_durability_modes)
{
	static const char *modes[] = { "interval", "always", "buffered" };
	for (size_t m = 0; m < 3; m++) {
		char extra[128], sub[64];
		snprintf(sub, sizeof(sub), "%s/%s", dir, modes[m]);
		mkdir(sub, 0755);
		snprintf(extra, sizeof(extra), "log:\n  durability: %s\n  fsync_interval: 10ms\n", modes[m]);
		dnnprov_config *cfg = tu_config(sub, extra);
		dnnprov_task *t = open_task(cfg, "d");
		ck_assert_int_eq(dnnprov_task_begin(t, NULL, 0), 0);
		for (int i = 1; i <= 10; i++)
			epoch(t, i);
		size_t before = records_on_disk(sub);
		if (m == 2) {
			/* Buffered: nothing has reached the file yet... */
			ck_assert_uint_eq(before, 0);
			ck_assert_int_eq(dnnprov_task_sync(t), 0);
			ck_assert_uint_eq(records_on_disk(sub), 12); /* ...until a sync */
		} else {
			/* Every append returned only once in the file. */
			ck_assert_uint_eq(before, 12);
		}
		if (m == 0)
			usleep(50000); /* let the flusher run at least once */
		ck_assert_int_eq(dnnprov_task_close(t), 0);
		ck_assert_uint_eq(records_on_disk(sub), 12);
		dnnprov_config_free(cfg);
	}
}
END_TEST

START_TEST(test_buffered_flushes_when_full)
{
	dnnprov_config *cfg = tu_config(dir, "log:\n  durability: buffered\n");
	dnnprov_task *t = open_task(cfg, "b");
	ck_assert_int_eq(dnnprov_task_begin(t, NULL, 0), 0);
	int i = 0;
	while (records_on_disk(dir) == 0 && i < 5000)
		epoch(t, ++i);
	/* The buffer filled (64 KiB) and was written out on its own. */
	ck_assert_int_lt(i, 5000);
	ck_assert_int_gt(i, 100);
	ck_assert_int_eq(dnnprov_task_close(t), 0);
	ck_assert_uint_eq(records_on_disk(dir), (size_t)i + 2); /* and spec, begin */
	dnnprov_config_free(cfg);
}
END_TEST

/* ---- processes and threads ----------------------------------------------------- */

START_TEST(test_fork_child_writes_own_segment)
{
	for (int buffered = 0; buffered < 2; buffered++) {
		char sub[64];
		snprintf(sub, sizeof(sub), "%s/%d", dir, buffered);
		mkdir(sub, 0755);
		dnnprov_config *cfg = tu_config(sub, buffered ? "log:\n  durability: buffered\n" : NULL);
		dnnprov_task *t = open_task(cfg, "f");
		ck_assert_int_eq(dnnprov_task_begin(t, NULL, 0), 0);
		epoch(t, 1);
		if (buffered)
			ck_assert_int_eq(dnnprov_task_sync(t), 0); /* so that a segment exists */
		char *parent_seg = strdup(dp_task_segment_path(t));
		pid_t pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			/* Child: its records go to a segment of its own, and the
			 * parent's buffered records are not written twice. */
			epoch(t, 100);
			int ok = strcmp(dp_task_segment_path(t), parent_seg) != 0 &&
				 strstr(dp_task_segment_path(t), "-f-") == NULL;
			char pidpart[32];
			snprintf(pidpart, sizeof(pidpart), "-%d.dnplog", (int)getpid());
			ok = ok && strstr(dp_task_segment_path(t), pidpart) != NULL;
			ok = ok && dnnprov_task_close(t) == 0;
			_exit(ok ? 0 : 1);
		}
		int status;
		waitpid(pid, &status, 0);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		epoch(t, 2);
		ck_assert_int_eq(dnnprov_task_close(t), 0);

		tu_records rs;
		tu_read_all(sub, &rs);
		ck_assert_uint_eq(rs.segments, 2);
		ck_assert_uint_eq(rs.problems, 0);
		ck_assert_uint_eq(tu_count(&rs, "epoch"), 3);
		size_t in_parent = 0;
		for (size_t i = 0; i < rs.n; i++) {
			bool is_parent = strcmp(rs.r[i].segment, parent_seg) == 0;
			in_parent += is_parent;
			if (strstr(rs.r[i].json, "\"epoch\":100,"))
				ck_assert(!is_parent);
		}
		ck_assert_uint_eq(in_parent, 4); /* spec, begin, epochs 1 and 2 */
		tu_records_free(&rs);
		free(parent_seg);
		dnnprov_config_free(cfg);
	}
}
END_TEST

typedef struct thread_arg {
	dnnprov_task *t;
	int base;
} thread_arg;

static void *thread_main(void *p)
{
	thread_arg *a = p;
	for (int i = 0; i < 500; i++) {
		dnnprov_value m[2] = { DNNPROV_V_INT("loss", a->base + i), DNNPROV_V_INT("accuracy", i) };
		if (dnnprov_task_epoch(a->t, a->base + i, 0.0, m, 2) != 0)
			return (void *)1;
	}
	return NULL;
}

START_TEST(test_threads_share_a_handle)
{
	dnnprov_config *cfg = tu_config(dir, "log:\n  segment_size: 16KiB\n");
	dnnprov_task *t = open_task(cfg, "threads");
	ck_assert_int_eq(dnnprov_task_begin(t, NULL, 0), 0);
	pthread_t th[4];
	thread_arg args[4];
	for (int i = 0; i < 4; i++) {
		args[i] = (thread_arg){ t, (i + 1) * 10000 };
		ck_assert_int_eq(pthread_create(&th[i], NULL, thread_main, &args[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		void *res;
		pthread_join(th[i], &res);
		ck_assert_ptr_null(res);
	}
	ck_assert_int_eq(dnnprov_task_close(t), 0);
	tu_records rs;
	tu_read_all(dir, &rs);
	ck_assert_uint_eq(rs.problems, 0);
	ck_assert_uint_eq(tu_count(&rs, "epoch"), 2000);
	/* Each thread's epochs appear in its own order. */
	int last[4] = { 0 };
	for (size_t i = 0; i < rs.n; i++) {
		const char *e = strstr(rs.r[i].json, "\"epoch\":");
		if (strcmp(rs.r[i].kind, "epoch") != 0)
			continue;
		int v = atoi(e + 8);
		int th_i = v / 10000 - 1;
		ck_assert_int_gt(v, last[th_i]);
		last[th_i] = v;
	}
	tu_records_free(&rs);
	dnnprov_config_free(cfg);
}
END_TEST

/* ---- failures ------------------------------------------------------------------ */

/* A pwrite that writes half of what it is given, then fails: a disk that
 * fills in the middle of a record. */
static int pwrite_calls_to_fail;
static ssize_t half_then_enospc(int fd, const void *buf, size_t n, off_t off)
{
	if (pwrite_calls_to_fail-- > 0) {
		ssize_t w = pwrite(fd, buf, n / 2, off);
		(void)w;
		errno = ENOSPC;
		return -1;
	}
	return pwrite(fd, buf, n, off);
}

START_TEST(test_failing_write_leaves_no_partial_record)
{
	for (int buffered = 0; buffered < 2; buffered++) {
		char sub[64];
		snprintf(sub, sizeof(sub), "%s/%d", dir, buffered);
		mkdir(sub, 0755);
		dnnprov_config *cfg = tu_config(sub, buffered ? "log:\n  durability: buffered\n" : NULL);
		dnnprov_task *t = open_task(cfg, "full");
		ck_assert_int_eq(dnnprov_task_begin(t, NULL, 0), 0);
		epoch(t, 1);
		if (buffered)
			ck_assert_int_eq(dnnprov_task_sync(t), 0);
		const char *seg = dp_task_segment_path(t);
		long long size = tu_file_size(seg);

		dp_sys_pwrite = half_then_enospc;
		pwrite_calls_to_fail = 1;
		dnnprov_value m[2] = { DNNPROV_V_REAL("loss", 2), DNNPROV_V_REAL("accuracy", 2) };
		int rc = dnnprov_task_epoch(t, 2, NAN, m, 2);
		if (buffered) {
			ck_assert_int_eq(rc, 0); /* buffered: accepted into the buffer */
			rc = dnnprov_task_sync(t);
		}
		ck_assert_int_eq(rc, DNNPROV_ENOSPC);
		ck_assert_ptr_nonnull(strstr(dnnprov_errmsg(), "No space left"));
		ck_assert_int_eq(tu_file_size(seg), size); /* the half frame was cut off */
		dp_sys_pwrite = pwrite;

		/* Space returns: the handle goes on.  In buffered mode the record
		 * that could not be written is still held and arrives now. */
		epoch(t, 3);
		ck_assert_int_eq(dnnprov_task_close(t), 0);
		tu_records rs;
		tu_read_all(sub, &rs);
		ck_assert_uint_eq(rs.problems, 0);
		ck_assert_uint_eq(rs.torn, 0);
		ck_assert_uint_eq(tu_count(&rs, "epoch"), buffered ? 3 : 2);
		tu_records_free(&rs);
		dnnprov_config_free(cfg);
	}
}
END_TEST

START_TEST(test_file_size_limit)
{
	/* Past RLIMIT_FSIZE the kernel would raise SIGXFSZ and kill the
	 * training; the writer fails the append instead.  In a child, so the
	 * limit does not outlive the test. */
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct rlimit rl = { 4096, RLIM_INFINITY };
		dnnprov_config *cfg = tu_config(dir, NULL);
		if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
			_exit(10);
		dnnprov_task *t = open_task(cfg, "limit");
		int ok = 0, rc = 0;
		if (dnnprov_task_begin(t, NULL, 0) != 0)
			_exit(11);
		const char *seg = dp_task_segment_path(t);
		for (int i = 1; i < 1000; i++) {
			long long before = tu_file_size(seg);
			dnnprov_value m[2] = { DNNPROV_V_REAL("loss", 1), DNNPROV_V_REAL("accuracy", 1) };
			rc = dnnprov_task_epoch(t, i, NAN, m, 2);
			if (rc) {
				if (tu_file_size(seg) != before)
					_exit(12);
				break;
			}
			ok++;
		}
		if (rc != DNNPROV_ENOSPC || !strstr(dnnprov_errmsg(), "file-size limit"))
			_exit(13);
		/* The limit is raised: the same handle works again. */
		rl.rlim_cur = RLIM_INFINITY;
		setrlimit(RLIMIT_FSIZE, &rl);
		dnnprov_value m[2] = { DNNPROV_V_REAL("loss", 1), DNNPROV_V_REAL("accuracy", 1) };
		if (dnnprov_task_epoch(t, 5000, NAN, m, 2) != 0)
			_exit(14);
		if (dnnprov_task_close(t) != 0)
			_exit(15);
		_exit(ok > 10 ? 0 : 16);
	}
	int status;
	waitpid(pid, &status, 0);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
	tu_records rs;
	tu_read_all(dir, &rs);
	ck_assert_uint_eq(rs.problems, 0);
	ck_assert_uint_eq(rs.torn, 0);
	ck_assert_uint_eq(rs.sealed, 1);
	ck_assert_int_ge(tu_find(&rs, "epoch", 0), 0);
	ck_assert_ptr_nonnull(strstr(rs.r[rs.n - 1].json, "\"epoch\":5000,"));
	tu_records_free(&rs);
}
END_TEST

START_TEST(test_bad_values)
{
	dnnprov_config *cfg = tu_config(dir, NULL);
	dnnprov_task *t = NULL;
	ck_assert_int_eq(dnnprov_task_open(cfg, "a/b", &t), DNNPROV_EINVAL);
	ck_assert_ptr_nonnull(strstr(dnnprov_errmsg(), "path separator"));
	ck_assert_int_eq(dnnprov_task_open(cfg, "..", &t), DNNPROV_EINVAL);
	ck_assert_int_eq(dnnprov_task_open(cfg, "tab\there", &t), DNNPROV_EINVAL);
	char longid[DNNPROV_NAME_MAX + 2];
	memset(longid, 'x', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	ck_assert_int_eq(dnnprov_task_open(cfg, longid, &t), DNNPROV_EINVAL);

	t = open_task(cfg, "bad");
	dnnprov_task_strict(t, 1); /* every refusal a hard error: nothing written */
	dnnprov_value text_lr = DNNPROV_V_TEXT("LEARNING_RATE", "fast");
	ck_assert_int_eq(dnnprov_task_begin(t, &text_lr, 1), DNNPROV_ETYPE);
	ck_assert_ptr_nonnull(strstr(dnnprov_errmsg(), "LEARNING_RATE"));
	dnnprov_value num_opt = DNNPROV_V_REAL("OPTIMIZER_NAME", 1);
	ck_assert_int_eq(dnnprov_task_begin(t, &num_opt, 1), DNNPROV_ETYPE);
	dnnprov_value badutf = DNNPROV_V_TEXT("OPTIMIZER_NAME", "\xff\xfe");
	ck_assert_int_eq(dnnprov_task_begin(t, &badutf, 1), DNNPROV_EINVAL);
	ck_assert_ptr_null(dp_task_segment_path(t)); /* refused begins wrote nothing */
	ck_assert_int_eq(dnnprov_task_begin(t, NULL, 0), 0);
	char *seg = strdup(dp_task_segment_path(t));
	long long size = tu_file_size(seg);
	dnnprov_value dup[2] = { DNNPROV_V_REAL("loss", 1), DNNPROV_V_REAL("Loss", 2) };
	ck_assert_int_eq(dnnprov_task_epoch(t, 1, NAN, dup, 2), DNNPROV_EINVAL);
	ck_assert_ptr_nonnull(strstr(dnnprov_errmsg(), "twice"));
	dnnprov_value textm = DNNPROV_V_TEXT("loss", "x");
	ck_assert_int_eq(dnnprov_task_epoch(t, 1, NAN, &textm, 1), DNNPROV_ETYPE);
	dnnprov_value badname = DNNPROV_V_REAL("lo/ss", 1);
	ck_assert_int_eq(dnnprov_task_epoch(t, 1, NAN, &badname, 1), DNNPROV_EINVAL);
	/* Typos, wrong counts and impossible durations: refused at append. */
	dnnprov_value typo = DNNPROV_V_REAL("val_acc", 0.9), caps = DNNPROV_V_REAL("LOSS", 0.9);
	ck_assert_int_eq(dnnprov_task_epoch(t, 1, NAN, &typo, 1), DNNPROV_EUNDECLARED);
	ck_assert_ptr_nonnull(strstr(dnnprov_errmsg(), "metrics: loss, accuracy, val_loss, val_accuracy"));
	ck_assert_int_eq(dnnprov_task_epoch(t, 1, NAN, &caps, 1), DNNPROV_EUNDECLARED);
	ck_assert_ptr_nonnull(strstr(dnnprov_errmsg(), "declared as 'loss'"));
	ck_assert_int_eq(dnnprov_task_test(t, &typo, 1), DNNPROV_EUNDECLARED);
	ck_assert_int_eq(dnnprov_task_test(t, NULL, 0), DNNPROV_EINVAL);
	dnnprov_value one = DNNPROV_V_REAL("loss", 1);
	ck_assert_int_eq(dnnprov_task_epoch(t, 1, -1.0, &one, 1), DNNPROV_EINVAL);
	ck_assert_int_eq(dnnprov_task_epoch(t, 1, INFINITY, &one, 1), DNNPROV_EINVAL);
	dnnprov_value undeclared_h = DNNPROV_V_REAL("drop_out", 0.5);
	ck_assert_int_eq(dnnprov_task_adapt(t, 1, &undeclared_h), DNNPROV_EUNDECLARED);
	dnnprov_value el = DNNPROV_V_INT("nope", 1);
	ck_assert_int_eq(dnnprov_task_element(t, "DenseBlock", "iDenseBlock", &el, 1), DNNPROV_EUNDECLARED);
	ck_assert_ptr_nonnull(strstr(dnnprov_errmsg(), "no attribute 'nope'"));
	ck_assert_int_eq(dnnprov_task_element(t, "Nope", "iDenseBlock", &el, 1), DNNPROV_EINVAL);
	ck_assert_int_eq(dnnprov_task_element(t, "DenseBlock", "nope", &el, 1), DNNPROV_EINVAL);
	dnnprov_value eltext = DNNPROV_V_TEXT("growth_rate", "x");
	ck_assert_int_eq(dnnprov_task_element(t, "DenseBlock", "iDenseBlock", &eltext, 1),
			 DNNPROV_ETYPE);
	ck_assert_int_eq(dnnprov_task_end(t, DNNPROV_RUNNING, NULL), DNNPROV_EINVAL);
	/* A record over the size limit is refused and the handle goes on. */
	char *big = malloc(DNNPROV_RECORD_MAX + 10);
	memset(big, 'a', DNNPROV_RECORD_MAX + 9);
	big[DNNPROV_RECORD_MAX + 9] = '\0';
	dnnprov_value bigv = DNNPROV_V_TEXT("output", big);
	ck_assert_int_eq(dnnprov_task_element(t, "DenseBlock", "oDenseBlock", &bigv, 1), DNNPROV_EINVAL);
	free(big);
	/* Nothing of the failed calls reached the file. */
	ck_assert_int_eq(tu_file_size(seg), size);
	epoch(t, 1);
	ck_assert_int_gt(tu_file_size(seg), size);
	/* Adaptation of a hyperparameter the config does not select: dropped. */
	dnnprov_value mom = DNNPROV_V_REAL("MOMENTUM", 0.5);
	size = tu_file_size(seg);
	ck_assert_int_eq(dnnprov_task_adapt(t, 2, &mom), 0);
	ck_assert_int_eq(tu_file_size(seg), size);
	ck_assert_int_eq(dnnprov_task_close(t), 0);
	free(seg);
	dnnprov_config_free(cfg);
}
END_TEST

/* Not strict, a name the config does not declare is refused alone: the
 * record keeps the other values, a refused record keeps the name and its
 * value, the call returns DNNPROV_REFUSED with the details and the names;
 * `strict: true` makes it a hard error again. */
START_TEST(test_refused_names)
{
	dnnprov_config *cfg = tu_config(dir, NULL);
	dnnprov_task *t = open_task(cfg, "typos");
	dnnprov_value hyps[] = { DNNPROV_V_REAL("LEARNING_RATE", 0.1), DNNPROV_V_REAL("drop_out", 0.5) };
	dnnprov_value m[] = { DNNPROV_V_REAL("loss", 0.5), DNNPROV_V_REAL("acurracy", 0.9),
			      DNNPROV_V_REAL("val_acc", 0.8) };
	dnnprov_value lr = DNNPROV_V_REAL("lr", 0.01);
	ck_assert_int_eq(dnnprov_task_begin(t, hyps, 2), DNNPROV_REFUSED);
	ck_assert_ptr_nonnull(strstr(dnnprov_errmsg(), "'drop_out' is not declared"));
	ck_assert_str_eq(dnnprov_errsubject(), "drop_out");
	ck_assert_int_eq(dnnprov_task_epoch(t, 1, NAN, m, 3), DNNPROV_REFUSED);
	ck_assert_str_eq(dnnprov_errsubject(), "acurracy,val_acc");
	ck_assert_ptr_nonnull(strstr(dnnprov_errmsg(), "the epoch was recorded without them"));
	ck_assert_int_eq(dnnprov_task_adapt(t, 2, &lr), DNNPROV_REFUSED);
	ck_assert_ptr_nonnull(strstr(dnnprov_errmsg(), "no adaptation was recorded"));
	ck_assert_int_eq(dnnprov_task_test(t, &m[1], 1), DNNPROV_REFUSED); /* nothing left: no test record */
	epoch(t, 2); /* the call after a refusal is told nothing */
	ck_assert_str_eq(dnnprov_errmsg(), "");
	ck_assert_int_eq(dnnprov_task_end(t, DNNPROV_PRUNED, NULL), 0);
	char *seg = strdup(dp_task_segment_path(t));
	ck_assert_int_eq(dnnprov_task_close(t), 0);

	/* spec, begin, refused, epoch, refused, refused, refused, epoch, end */
	static const char *const kinds[] = { "spec", "begin", "refused", "epoch", "refused", "refused",
					     "refused", "epoch", "end" };
	tu_records rs;
	tu_read_all(seg, &rs);
	ck_assert_uint_eq(rs.n, DP_ARRAY_LEN(kinds));
	for (size_t k = 0; k < rs.n; k++)
		ck_assert_str_eq(rs.r[k].kind, kinds[k]);
	ck_assert_ptr_nonnull(strstr(rs.r[1].json, "\"hyperparameters\":{\"LEARNING_RATE\":0.1}"));
	ck_assert_ptr_nonnull(strstr(rs.r[2].json, "\"record\":\"begin\",\"values\":{\"drop_out\":0.5}"));
	ck_assert_ptr_nonnull(strstr(rs.r[3].json, "\"metrics\":{\"loss\":0.5}"));
	ck_assert_ptr_nonnull(strstr(rs.r[4].json, "\"values\":{\"acurracy\":0.9,\"val_acc\":0.8}"));
	ck_assert_ptr_nonnull(strstr(rs.r[5].json, "\"record\":\"adapt\",\"epoch\":2,\"values\":{\"lr\":0.01}"));
	ck_assert_ptr_nonnull(strstr(rs.r[6].json, "\"record\":\"test\""));
	ck_assert_ptr_nonnull(strstr(rs.r[8].json, "\"status\":\"PRUNED\""));
	tu_records_free(&rs);
	free(seg);
	dnnprov_config_free(cfg);

	/* strict: true in the file: a hard error, nothing written. */
	cfg = tu_config(dir, "strict: true\n");
	t = open_task(cfg, "strict");
	ck_assert_int_eq(dnnprov_config_strict(cfg), 1);
	ck_assert_int_eq(dnnprov_task_begin(t, hyps, 2), DNNPROV_EUNDECLARED);
	ck_assert_ptr_null(dp_task_segment_path(t));
	ck_assert_int_eq(dnnprov_task_close(t), 0);
	dnnprov_config_free(cfg);
}
END_TEST

START_TEST(test_generated_task_ids_are_unique)
{
	dnnprov_config *cfg = tu_config(dir, NULL);
	dnnprov_task *a = open_task(cfg, NULL), *b = open_task(cfg, NULL);
	ck_assert_str_ne(dnnprov_task_id(a), dnnprov_task_id(b));
	ck_assert_int_eq(dp_check_tag("id", dnnprov_task_id(a)), 0);
	ck_assert_int_eq(dnnprov_task_close(a), 0);
	ck_assert_int_eq(dnnprov_task_close(b), 0);
	dnnprov_config_free(cfg);
}
END_TEST

/* ---- invariants written in prose are asserted ------------------------------- */

/* util.h: len <= cap, and data is NULL only when cap is 0. */
START_TEST(test_buf_invariant_asserted)
{
	dp_buf b = { .data = NULL, .len = 4, .cap = 0 };
	dp_buf_putc(&b, 'x');
}
END_TEST

/* writer.c, FAILED WRITES: the segment holds t->size bytes of whole
 * frames.  Another writer appending to the file breaks it (one writer per
 * file); the segment's close notices. */
START_TEST(test_writer_size_asserted)
{
	dnnprov_config *cfg = tu_config(dir, NULL);
	dnnprov_task *t = open_task(cfg, "two-writers");
	ck_assert_int_eq(dnnprov_task_begin(t, NULL, 0), 0);
	epoch(t, 1);
	FILE *f = fopen(dp_task_segment_path(t), "a");
	ck_assert_ptr_nonnull(f);
	fputs("another writer", f);
	fclose(f);
	dnnprov_task_close(t);
}
END_TEST

static Suite *logger_suite(void)
{
	Suite *s = suite_create("logger");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_crc32c_vectors);
	tcase_add_test(tc, test_mpack_round_trip);
	tcase_add_test(tc, test_mpack_check_rejects);
	tcase_add_test(tc, test_json_output);
	tcase_add_test(tc, test_round_trip_all_kinds);
	tcase_add_test(tc, test_tags_and_facts);
	tcase_add_test(tc, test_segment_header);
	tcase_add_test(tc, test_torn_tail_every_byte);
	tcase_add_test(tc, test_flipped_bits);
	tcase_add_test(tc, test_bad_segment_header_keeps_frames);
	tcase_add_test(tc, test_prefetch_replays_the_reader);
	tcase_add_test(tc, test_rotation);
	tcase_add_test(tc, test_dynlib_bind);
	tcase_add_test(tc, test_durability_modes);
	tcase_add_test(tc, test_buffered_flushes_when_full);
	tcase_add_test(tc, test_fork_child_writes_own_segment);
	tcase_add_test(tc, test_threads_share_a_handle);
	tcase_add_test(tc, test_failing_write_leaves_no_partial_record);
	tcase_add_test(tc, test_file_size_limit);
	tcase_add_test(tc, test_bad_values);
	tcase_add_test(tc, test_generated_task_ids_are_unique);
	tcase_add_test(tc, test_refused_names);
	tcase_add_test_raise_signal(tc, test_buf_invariant_asserted, SIGABRT);
	tcase_add_test_raise_signal(tc, test_writer_size_asserted, SIGABRT);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(logger_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
