/*
 * testutil.c - see testutil.h.
 */
#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "logger/decode.h"
#include "logger/reader.h"
#include "logger/scan.h"
#include "tests/testutil.h"

char *tu_mkdtemp(void)
{
	const char *base = getenv("TMPDIR");
	char *p;
	if (!base || !*base)
		base = "/tmp";
	if (asprintf(&p, "%s/dnnprov-test-XXXXXX", base) < 0)
		ck_abort_msg("asprintf");
	ck_assert_ptr_nonnull(mkdtemp(p));
	return p;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void tu_rmtree(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

char *tu_write_file(const char *dir, const char *name, const char *text)
{
	char *path = dp_path_join(dir, name);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
	return path;
}

dnnprov_config *tu_config(const char *dir, const char *extra)
{
	char *yaml, *path;
	dnnprov_config *cfg = NULL;
	int rc;

	if (asprintf(&yaml,
		     "dataflow: df\n"
		     "log_dir: %s/logs\n"
		     "index_dir: %s/index\n"
		     "hyperparameters:\n"
		     "  OPTIMIZER_NAME: true\n"
		     "  LEARNING_RATE: true\n"
		     "  DECAY: true\n"
		     "  MOMENTUM: false\n"
		     "  NUM_EPOCHS: true\n"
		     "  BATCH_SIZE: true\n"
		     "  NUM_LAYERS: true\n"
		     "  dropout: numeric\n"
		     "metrics: [loss, accuracy]\n"
		     "adaptation: true\n"
		     "transformations:\n"
		     "  DenseBlock:\n"
		     "    depends_on: [TrainingModel]\n"
		     "    input:\n"
		     "      iDenseBlock: {growth_rate: numeric, layers_db: numeric}\n"
		     "    output:\n"
		     "      oDenseBlock: {output: text}\n"
		     "%s",
		     dir, dir, extra ? extra : "") < 0)
		ck_abort_msg("asprintf");
	path = tu_write_file(dir, "exp.yaml", yaml);
	rc = dnnprov_config_load(path, &cfg);
	ck_assert_msg(rc == 0, "config: %s", dnnprov_errmsg());
	free(yaml);
	free(path);
	return cfg;
}

void tu_read_all(const char *path, tu_records *out)
{
	dp_path_list segs = { 0 };
	dp_decoder dec = { 0 };

	memset(out, 0, sizeof(*out));
	ck_assert_int_eq(dp_find_segments(path, &segs, NULL, NULL), 0);
	for (size_t i = 0; i < segs.n; i++) {
		dp_segment_header hdr;
		dp_reader *r;
		dp_frame f;
		dp_problem pb;
		int rc = dp_reader_open(segs.paths[i], 0, &r, &hdr);
		if (rc == DNNPROV_ETRUNCATED)
			continue;
		ck_assert_msg(rc == 0, "open %s: %s", segs.paths[i], dnnprov_errmsg());
		out->segments++;
		while ((rc = dp_reader_next(r, &f, &pb)) > 0) {
			msgpack_object o;
			if (rc == DP_READ_SEAL) {
				out->sealed++;
				continue;
			}
			if (rc == DP_READ_TORN) {
				out->torn++;
				break;
			}
			if (rc == DP_READ_PROBLEM) {
				out->problems++;
				continue;
			}
			ck_assert_int_eq(dp_decode(&dec, f.payload, f.length, &o), 0);
			out->r = realloc(out->r, (out->n + 1) * sizeof(*out->r));
			tu_record *t = &out->r[out->n++];
			dp_buf b = { 0 };
			dp_json_object(&b, &o);
			t->json = strdup(dp_buf_cstr(&b));
			dp_buf_free(&b);
			const msgpack_object *k = dp_map_get(&o, "kind");
			ck_assert_ptr_nonnull(k);
			snprintf(t->kind, sizeof(t->kind), "%.*s", (int)k->via.str.size, k->via.str.ptr);
			snprintf(t->segment, sizeof(t->segment), "%s", segs.paths[i]);
			t->offset = f.offset;
		}
		ck_assert_int_ge(rc, 0);
		dp_reader_close(r);
	}
	dp_decoder_free(&dec);
	dp_path_list_free(&segs);
}

void tu_records_free(tu_records *rs)
{
	for (size_t i = 0; i < rs->n; i++)
		free(rs->r[i].json);
	free(rs->r);
	memset(rs, 0, sizeof(*rs));
}

long tu_find(const tu_records *rs, const char *kind, size_t from)
{
	for (size_t i = from; i < rs->n; i++)
		if (strcmp(rs->r[i].kind, kind) == 0)
			return (long)i;
	return -1;
}

size_t tu_count(const tu_records *rs, const char *kind)
{
	size_t n = 0;
	for (size_t i = 0; i < rs->n; i++)
		n += strcmp(rs->r[i].kind, kind) == 0;
	return n;
}

long long tu_file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

void tu_copy_prefix(const char *src, const char *dst, long long n)
{
	FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
	char buf[65536];
	ck_assert_ptr_nonnull(in);
	ck_assert_ptr_nonnull(out);
	while (n > 0) {
		size_t want = n < (long long)sizeof(buf) ? (size_t)n : sizeof(buf);
		size_t got = fread(buf, 1, want, in);
		ck_assert_uint_gt(got, 0);
		fwrite(buf, 1, got, out);
		n -= (long long)got;
	}
	fclose(in);
	ck_assert_int_eq(fclose(out), 0);
}
