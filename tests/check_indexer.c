/*
 * check_indexer.c - the index: key encodings that sort, what each record
 * becomes, epoch blocks (bytes, boundaries, re-logged and late epochs, the
 * size limit), summaries (also after a re-logged epoch), resumed tasks, map
 * growth, the lock, and every kind of bad input: skipped, reported with its
 * offset, and the rest kept.
 */
#include <check.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "indexer/epochs.h"
#include "indexer/index.h"
#include "indexer/ingest.h"
#include "indexer/model.h"
#include "logger/scan.h"
#include "logger/decode.h"
#include "logger/format.h"
#include "logger/prefetch.h"
#include "logger/reader.h"
#include "logger/writer.h"
#include "tests/testutil.h"

static char *dir, *log_dir, *index_dir;
static char problems_seen[8192];

static void setup(void)
{
	dir = tu_mkdtemp();
	log_dir = dp_path_join(dir, "logs");
	index_dir = dp_path_join(dir, "index");
	problems_seen[0] = '\0';
}

static void teardown(void)
{
	tu_rmtree(dir);
	free(dir);
	free(log_dir);
	free(index_dir);
}

static void collect(void *ctx, const char *segment, uint64_t offset, const char *what)
{
	(void)ctx;
	size_t n = strlen(problems_seen);
	snprintf(problems_seen + n, sizeof(problems_seen) - n, "%s@%llu:%s\n", strrchr(segment, '/') + 1,
		 (unsigned long long)offset, what);
}

static dp_indexer_stats index_now(uint32_t batch, uint64_t map_size)
{
	dp_indexer_options o = { .log_dir = log_dir, .index_dir = index_dir, .batch_records = batch,
				 .initial_map_size = map_size, .report = collect };
	dp_indexer *x;
	dp_indexer_stats st;
	int rc = dp_indexer_open(&o, &x);
	ck_assert_msg(rc == 0, "open: %s", dnnprov_errmsg());
	rc = dp_indexer_catch_up(x);
	ck_assert_msg(rc == 0, "catch up: %s", dnnprov_errmsg());
	dp_indexer_get_stats(x, &st);
	dp_indexer_close(x);
	return st;
}

/* Looks a key up; returns the value as JSON (msgpack values) or NULL. */
static char *lookup(dp_db db, dp_key *k)
{
	dp_index *ix;
	MDB_txn *txn;
	MDB_val key = dp_key_val(k), val;
	char *out = NULL;
	ck_assert_int_eq(dp_index_open(index_dir, false, NULL, &ix), 0);
	ck_assert_int_eq(dp_index_read(ix, &txn), 0);
	if (mdb_get(txn, ix->dbi[db], &key, &val) == 0) {
		if (db == DP_DB_SUMMARIES) {
			out = malloc(sizeof(dp_summary));
			ck_assert(dp_summary_unpack(val.mv_data, val.mv_size, (dp_summary *)out));
		} else {
			dp_decoder d = { 0 };
			msgpack_object o;
			dp_buf b = { 0 };
			ck_assert_int_eq(dp_decode(&d, val.mv_data, val.mv_size, &o), 0);
			dp_json_object(&b, &o);
			out = strdup(dp_buf_cstr(&b));
			dp_buf_free(&b);
			dp_decoder_free(&d);
		}
	}
	mdb_txn_abort(txn);
	dp_index_close(ix);
	return out;
}

/* The entries of a database; for epochs, the epochs its blocks hold. */
static size_t count_entries(dp_db db)
{
	dp_index *ix;
	MDB_txn *txn;
	MDB_stat st;
	ck_assert_int_eq(dp_index_open(index_dir, false, NULL, &ix), 0);
	ck_assert_int_eq(dp_index_read(ix, &txn), 0);
	mdb_stat(txn, ix->dbi[db], &st);
	if (db == DP_DB_EPOCHS) {
		dp_epoch_scan sc;
		dp_epoch_at at;
		dp_key all;
		dp_key_reset(&all);
		st.ms_entries = 0;
		ck_assert_int_eq(dp_epoch_scan_open(&sc, ix, txn, NULL, &all, false, 0), 0);
		while (dp_epoch_scan_next(&sc, &at) == DP_SCAN_ROW)
			st.ms_entries++;
		dp_epoch_scan_close(&sc);
	}
	mdb_txn_abort(txn);
	dp_index_close(ix);
	return st.ms_entries;
}

static char *task_json(const char *task)
{
	dp_key k;
	dp_key_reset(&k);
	dp_key_cstr(&k, "df");
	dp_key_cstr(&k, task);
	return lookup(DP_DB_TASKS, &k);
}

static dp_summary summary(const char *task, const char *metric)
{
	dp_key k;
	dp_summary s;
	dp_key_reset(&k);
	dp_key_cstr(&k, "df");
	dp_key_cstr(&k, metric);
	dp_key_cstr(&k, task);
	char *v = lookup(DP_DB_SUMMARIES, &k);
	ck_assert_msg(v != NULL, "no summary of %s %s", task, metric);
	memcpy(&s, v, sizeof(s));
	free(v);
	return s;
}

static dnnprov_task *begin_task(dnnprov_config *cfg, const char *id, double lr)
{
	dnnprov_task *t;
	dnnprov_value h[] = { DNNPROV_V_TEXT("OPTIMIZER_NAME", "SGD"), DNNPROV_V_REAL("LEARNING_RATE", lr) };
	ck_assert_int_eq(dnnprov_task_open(cfg, id, &t), 0);
	ck_assert_int_eq(dnnprov_task_begin(t, h, 2), 0);
	return t;
}

static void epoch(dnnprov_task *t, int64_t e, double loss, double acc)
{
	dnnprov_value m[2] = { DNNPROV_V_REAL("loss", loss), DNNPROV_V_REAL("accuracy", acc) };
	ck_assert_int_eq(dnnprov_task_epoch(t, e, 1.0, m, 2), 0);
}

/* ---- keys --------------------------------------------------------------------------- */

static int key_cmp(dp_key *a, dp_key *b)
{
	size_t n = a->n < b->n ? a->n : b->n;
	int c = memcmp(a->b, b->b, n);
	return c ? c : (a->n > b->n) - (a->n < b->n);
}

START_TEST(test_keys_sort_as_tuples)
{
	static const double d[] = { -INFINITY, -1e300, -2.5, -1e-300, 0.0, 1e-300, 0.001, 1.0, 2.5, 1e300,
				    INFINITY };
	static const int64_t v[] = { INT64_MIN, -1000, -1, 0, 1, 255, 256, 1000000, INT64_MAX };
	for (size_t i = 0; i + 1 < DP_ARRAY_LEN(d); i++) {
		dp_key a, b;
		dp_key_reset(&a);
		dp_key_reset(&b);
		dp_key_double(&a, d[i]);
		dp_key_double(&b, d[i + 1]);
		ck_assert_msg(key_cmp(&a, &b) < 0, "%g !< %g", d[i], d[i + 1]);
		size_t pos = 0;
		double back;
		ck_assert(dp_key_get_double(a.b, a.n, &pos, &back));
		ck_assert(back == d[i]);
	}
	for (size_t i = 0; i + 1 < DP_ARRAY_LEN(v); i++) {
		dp_key a, b;
		dp_key_reset(&a);
		dp_key_reset(&b);
		dp_key_i64(&a, v[i]);
		dp_key_i64(&b, v[i + 1]);
		ck_assert(key_cmp(&a, &b) < 0);
		size_t pos = 0;
		int64_t back;
		ck_assert(dp_key_get_i64(a.b, a.n, &pos, &back));
		ck_assert_int_eq(back, v[i]);
	}
	/* Strings: a prefix sorts first, and ("a","bc") != ("ab","c"). */
	dp_key a, b;
	dp_key_reset(&a);
	dp_key_reset(&b);
	dp_key_cstr(&a, "a");
	dp_key_cstr(&a, "bc");
	dp_key_cstr(&b, "ab");
	dp_key_cstr(&b, "c");
	ck_assert(key_cmp(&a, &b) != 0);
	ck_assert(key_cmp(&a, &b) < 0);
	/* A task's epochs sort by epoch and stay inside the task's range. */
	dp_key e1, e2, other;
	dp_key_reset(&e1);
	dp_key_cstr(&e1, "df");
	dp_key_cstr(&e1, "t");
	dp_key_i64(&e1, 9);
	e2 = e1;
	e2.n -= 8;
	dp_key_i64(&e2, 10);
	dp_key_reset(&other);
	dp_key_cstr(&other, "df");
	dp_key_cstr(&other, "t2");
	ck_assert(key_cmp(&e1, &e2) < 0);
	ck_assert(key_cmp(&e2, &other) < 0);
	/* Overflow is flagged, not truncated. */
	char longs[600];
	memset(longs, 'x', sizeof(longs) - 1);
	longs[599] = '\0';
	dp_key_reset(&a);
	dp_key_cstr(&a, longs);
	ck_assert(a.overflow);
}
END_TEST

/* ---- what records become ----------------------------------------------------------- */

/* The quick reader of a task's status and hyperparameters agrees with the
 * whole one on the task's value and on every prefix of it (damaged). */
static void status_hyps_agree(const char *task)
{
	dp_index *ix;
	MDB_txn *txn;
	dp_key k;
	MDB_val key, val;
	dp_key_reset(&k);
	dp_key_cstr(&k, "df");
	dp_key_cstr(&k, task);
	key = dp_key_val(&k);
	ck_assert_int_eq(dp_index_open(index_dir, false, NULL, &ix), 0);
	ck_assert_int_eq(dp_index_read(ix, &txn), 0);
	ck_assert_int_eq(mdb_get(txn, ix->dbi[DP_DB_TASKS], &key, &val), 0);
	for (size_t n = val.mv_size + 1; n-- > 0;) {
		dp_task_fields f;
		char status[16];
		dp_str hyps, tf;
		int whole = dp_task_fields_parse(val.mv_data, n, &f),
		    quick = dp_task_status_hyps(val.mv_data, n, status, &hyps, &tf);
		ck_assert_msg(quick == whole, "at %zu of %zu bytes: %d, %d", n, (size_t)val.mv_size, quick, whole);
		if (whole)
			continue;
		ck_assert_str_eq(status, f.status);
		ck_assert_uint_eq(hyps.n, f.hyps.n);
		ck_assert(hyps.p == f.hyps.p);
		ck_assert_uint_eq(tf.n, f.transformation.n);
		ck_assert(tf.p == f.transformation.p);
	}
	mdb_txn_abort(txn);
	dp_index_close(ix);
}

START_TEST(test_index_contents)
{
	dnnprov_config *cfg = tu_config(dir, "free_metrics: true\n");
	dnnprov_task *t = begin_task(cfg, "t1", 0.1);
	dnnprov_layer l = { "dense", "activation", DNNPROV_V_TEXT(NULL, "relu") };
	ck_assert_int_eq(dnnprov_task_layers(t, &l, 1), 0);
	epoch(t, 1, 0.9, 0.5);
	epoch(t, 2, NAN, 0.7);
	dnnprov_value lr = DNNPROV_V_REAL("LEARNING_RATE", 0.05);
	ck_assert_int_eq(dnnprov_task_adapt(t, 3, &lr), 0);
	epoch(t, 3, 0.4, 0.6);
	dnnprov_value extra = DNNPROV_V_REAL("top5", 0.99);
	ck_assert_int_eq(dnnprov_task_epoch(t, 4, 1.0, &extra, 1), 0); /* free_metrics */
	dnnprov_value test = DNNPROV_V_REAL("accuracy", 0.65);
	ck_assert_int_eq(dnnprov_task_test(t, &test, 1), 0);
	dnnprov_value el[] = { DNNPROV_V_INT("growth_rate", 12), DNNPROV_V_INT("layers_db", 33) };
	ck_assert_int_eq(dnnprov_task_element(t, "DenseBlock", "iDenseBlock", el, 2), 0);
	ck_assert_int_eq(dnnprov_task_end(t, DNNPROV_FAILED, "diverged"), 0);
	ck_assert_int_eq(dnnprov_task_close(t), 0);

	dp_indexer_stats st = index_now(0, 0);
	ck_assert_uint_eq(st.records, 11);
	ck_assert_uint_eq(st.problems, 0);

	char *tj = task_json("t1");
	ck_assert_ptr_nonnull(tj);
	ck_assert_ptr_nonnull(strstr(tj, "\"status\":\"FAILED\""));
	ck_assert_ptr_nonnull(strstr(tj, "\"message\":\"diverged\""));
	ck_assert_ptr_nonnull(strstr(tj, "\"epochs\":4"));
	ck_assert_ptr_nonnull(strstr(tj, "\"last_epoch\":4"));
	ck_assert_ptr_nonnull(strstr(tj, "\"hyperparameters\":{\"OPTIMIZER_NAME\":\"SGD\",\"LEARNING_RATE\":0.1}"));
	free(tj);
	status_hyps_agree("t1");

	dp_summary s = summary("t1", "loss");
	ck_assert_uint_eq(s.count, 2);
	ck_assert_uint_eq(s.nan_count, 1);
	ck_assert(s.min == 0.4 && s.min_epoch == 3);
	ck_assert(s.max == 0.9 && s.max_epoch == 1);
	ck_assert(s.last == 0.4 && s.last_epoch == 3);
	ck_assert(fabs(s.sum - 1.3) < 1e-12);
	s = summary("t1", "accuracy");
	ck_assert(s.max == 0.7 && s.max_epoch == 2);
	ck_assert_uint_eq(s.count, 3);

	/* The dataflow: declared metrics and their twins first, then top5. */
	dp_key k;
	dp_key_reset(&k);
	dp_key_cstr(&k, "df");
	char *dfj = lookup(DP_DB_DATAFLOWS, &k);
	ck_assert_ptr_nonnull(dfj);
	ck_assert_ptr_nonnull(strstr(dfj, "\"metrics\":[\"loss\",\"accuracy\",\"val_loss\",\"val_accuracy\",\"top5\"]"));
	ck_assert_ptr_nonnull(strstr(dfj, "\"adaptation\":true"));
	ck_assert_ptr_nonnull(strstr(dfj, "\"name\":\"DenseBlock\""));
	free(dfj);

	/* The adaptation, with its old value. */
	dp_key_reset(&k);
	dp_key_cstr(&k, "df");
	dp_key_cstr(&k, "t1");
	dp_key_i64(&k, 3);
	dp_key_cstr(&k, "LEARNING_RATE");
	char *aj = lookup(DP_DB_ADAPTATIONS, &k);
	ck_assert_ptr_nonnull(aj);
	ck_assert_ptr_nonnull(strstr(aj, "\"old\":0.1"));
	ck_assert_ptr_nonnull(strstr(aj, "\"new\":0.05"));
	free(aj);

	ck_assert_uint_eq(count_entries(DP_DB_EPOCHS), 4);
	ck_assert_uint_eq(count_entries(DP_DB_TESTS), 1);
	ck_assert_uint_eq(count_entries(DP_DB_ELEMENTS), 1);
	ck_assert_uint_eq(count_entries(DP_DB_LAYERS), 1);
	ck_assert_uint_eq(count_entries(DP_DB_HYP_INDEX), 2);

	/* Running it again indexes nothing twice. */
	st = index_now(0, 0);
	ck_assert_uint_eq(st.records, 0);
	ck_assert_uint_eq(count_entries(DP_DB_EPOCHS), 4);
	dnnprov_config_free(cfg);
}
END_TEST

START_TEST(test_resumed_task_and_relogged_epoch)
{
	dnnprov_config *cfg = tu_config(dir, NULL);
	dnnprov_task *t = begin_task(cfg, "r", 0.1);
	epoch(t, 1, 0.9, 0.5);
	epoch(t, 2, 0.1, 0.9); /* the best loss, soon replaced */
	ck_assert_int_eq(dnnprov_task_close(t), 0);   /* crashed: no end */
	index_now(0, 0);
	char *tj = task_json("r");
	/* Its writer is gone (the lock is free): not RUNNING. */
	ck_assert_msg(strstr(tj, "\"status\":\"LOST\""), "%s", tj);
	free(tj);
	ck_assert(summary("r", "loss").min == 0.1);

	/* A later process resumes the task and redoes epoch 2. */
	dnnprov_value h[] = { DNNPROV_V_TEXT("OPTIMIZER_NAME", "SGD"), DNNPROV_V_REAL("LEARNING_RATE", 0.1) };
	ck_assert_int_eq(dnnprov_task_open(cfg, "r", &t), 0);
	ck_assert_int_eq(dnnprov_task_begin(t, h, 2), DNNPROV_ESTATE);
	ck_assert_int_eq(dnnprov_task_resume(t, DNNPROV_NEXT_EPOCH, h, 2), 0);
	epoch(t, 2, 0.8, 0.6);
	epoch(t, 3, 0.7, 0.65);
	ck_assert_int_eq(dnnprov_task_end(t, DNNPROV_FINISHED, NULL), 0);
	ck_assert_int_eq(dnnprov_task_close(t), 0);
	index_now(0, 0);

	tj = task_json("r");
	ck_assert_ptr_nonnull(strstr(tj, "\"status\":\"FINISHED\""));
	ck_assert_ptr_nonnull(strstr(tj, "\"epochs\":3"));
	ck_assert_ptr_nonnull(strstr(tj, "\"attempts\":2"));
	free(tj);
	dp_summary s = summary("r", "loss");
	/* Recomputed, not max-ed: the replaced 0.1 is gone. */
	ck_assert_msg(s.min == 0.7, "min %g", s.min);
	ck_assert_uint_eq(s.count, 3);
	ck_assert(s.last == 0.7 && s.last_epoch == 3);
	ck_assert_uint_eq(count_entries(DP_DB_EPOCHS), 3);
	dnnprov_config_free(cfg);
}
END_TEST

START_TEST(test_map_grows_and_batches)
{
	/* A 64 KiB map must grow many times; tiny batches commit often.  The
	 * result equals one big batch into a roomy map.  (Epochs are stored
	 * compactly: 60 tasks of 100 epochs outgrow 64 KiB three times.) */
	dnnprov_config *cfg = tu_config(dir, NULL);
	for (int k = 0; k < 60; k++) {
		char id[16];
		snprintf(id, sizeof(id), "t%02d", k);
		dnnprov_task *t = begin_task(cfg, id, 0.01 * k);
		for (int e = 1; e <= 100; e++)
			epoch(t, e, 1.0 / e, e / 100.0);
		ck_assert_int_eq(dnnprov_task_close(t), 0);
	}
	dp_indexer_stats st = index_now(37, 64 * 1024);
	ck_assert_uint_eq(st.records, 60 * 102);
	ck_assert_uint_ge(st.map_grows, 3);
	ck_assert_uint_gt(st.commits, 50);
	ck_assert_uint_eq(count_entries(DP_DB_EPOCHS), 6000);
	ck_assert_uint_eq(count_entries(DP_DB_SUMMARIES), 120);
	dp_summary s = summary("t07", "loss");
	ck_assert_uint_eq(s.count, 100);
	ck_assert(s.min == 0.01 && s.min_epoch == 100);
	dnnprov_config_free(cfg);
}
END_TEST

/* A catch-up commits every 100,000 records, not every 20,000 (each
 * commit writes the tree's upper pages again and waits for the disk),
 * unless the batch size was given; and never holds more tasks than a
 * batch of 20,000 records could, which bounds its memory. */
START_TEST(test_catch_up_batches)
{
	/* No run facts and no fsync per task: 20,000 of them to write. */
	dnnprov_config *cfg = tu_config(dir, "facts: false\nlog:\n  durability: buffered\n");
	dnnprov_task *t = begin_task(cfg, "long", 0.1);
	for (int e = 1; e <= 45000; e++)
		epoch(t, e, 1.0 / e, e / 45000.0);
	ck_assert_int_eq(dnnprov_task_close(t), 0);
	/* The records in one commit; the listing's time in another. */
	dp_indexer_stats st = index_now(0, 0);
	ck_assert_uint_eq(st.records, 45002);
	ck_assert_uint_le(st.commits, 2);
	tu_rmtree(index_dir);
	st = index_now(20000, 0);
	ck_assert_uint_eq(st.records, 45002);
	ck_assert_uint_ge(st.commits, 3);
	/* 20,100 tasks of 3 records: far from 100,000 records, past 20,000
	 * tasks. */
	tu_rmtree(index_dir);
	tu_rmtree(log_dir);
	for (int k = 0; k < 20100; k++) {
		char id[16];
		snprintf(id, sizeof(id), "s%05d", k);
		t = begin_task(cfg, id, 0.01);
		epoch(t, 1, 0.5, 0.5);
		ck_assert_int_eq(dnnprov_task_close(t), 0);
	}
	st = index_now(0, 0);
	ck_assert_uint_eq(st.records, 20100 * 3);
	ck_assert_uint_ge(st.commits, 3);
	ck_assert_uint_eq(count_entries(DP_DB_TASKS), 20100);
	dnnprov_config_free(cfg);
}
END_TEST

START_TEST(test_second_indexer_is_refused)
{
	dp_indexer_options o = { .log_dir = log_dir, .index_dir = index_dir };
	dp_indexer *a, *b;
	ck_assert_int_eq(dp_indexer_open(&o, &a), 0);
	ck_assert_int_eq(dp_indexer_open(&o, &b), DNNPROV_ELOCKED);
	char pid[32];
	snprintf(pid, sizeof(pid), "pid %d", (int)getpid());
	ck_assert_ptr_nonnull(strstr(dnnprov_errmsg(), pid));
	dp_indexer_close(a);
	ck_assert_int_eq(dp_indexer_open(&o, &b), 0);
	dp_indexer_close(b);
}
END_TEST

START_TEST(test_missing_index_is_not_created)
{
	dp_index *ix;
	char *nowhere = dp_path_join(dir, "nowhere");
	ck_assert_int_eq(dp_index_open(nowhere, false, NULL, &ix), DNNPROV_ENOTFOUND);
	ck_assert_ptr_nonnull(strstr(dnnprov_errmsg(), "dnnprov index"));
	ck_assert_int_eq(access(nowhere, F_OK), -1);
	free(nowhere);
}
END_TEST

/* ---- epoch blocks (indexer/epochs.h) ------------------------------------------------- */

static uint64_t rnd_state = 88172645463325252ull;
static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

static dp_ev rnd_value(void)
{
	static const double odd[] = { 0.0, -0.0, INFINITY, -INFINITY, 5e-324, 1e308, 0.1, 1.0 };
	dp_ev v = { 0 };
	uint64_t bits;
	switch (rnd() % 6) {
	case 0: return v; /* no value */
	case 1:
		v.type = DP_EV_INT;
		v.i = rnd() % 3 == 0 ? (rnd() % 2 ? INT64_MIN : INT64_MAX) : (int64_t)(rnd() % 2000) - 1000;
		v.d = (double)v.i;
		return v;
	case 2:
		v.type = DP_EV_REAL;
		v.d = odd[rnd() % DP_ARRAY_LEN(odd)];
		return v;
	case 3: /* any bits: NaN payloads, denormals */
		v.type = DP_EV_REAL;
		bits = rnd();
		memcpy(&v.d, &bits, 8);
		return v;
	default: /* a smooth series, as training logs it */
		v.type = DP_EV_REAL;
		v.d = 1.0 / (double)(rnd() % 50 + 1);
		return v;
	}
}

static bool same_ev(const dp_ev *a, const dp_ev *b)
{
	if (a->type != b->type)
		return false;
	if (a->type == DP_EV_INT)
		return a->i == b->i;
	return a->type == DP_EV_NULL || memcmp(&a->d, &b->d, 8) == 0; /* bit for bit, NaN too */
}

START_TEST(test_eblock_codec)
{
	/* Random blocks survive encoding bit for bit; damaged bytes are
	 * refused, never read past. */
	dp_eblock a = { 0 }, b = { 0 };
	dp_buf enc = { 0 };
	for (int round = 0; round < 300; round++) {
		dp_eblock_clear(&a);
		uint32_t n = (uint32_t)(rnd() % DP_EBLOCK_MAX) + 1, ncols = (uint32_t)(rnd() % 6);
		int64_t e = round % 3 == 0 ? INT64_MIN + 5 : (int64_t)(rnd() % 1000) - 500;
		bool dense = rnd() % 2;
		for (uint32_t r = 0; r < n; r++) {
			double t = 1.7e9 + r * 0.001 * (double)(rnd() % 1000);
			ck_assert_int_eq(dp_eblock_put_row(&a, r, false, e, t, rnd_value()), 0);
			for (uint32_t c = 0; c < ncols; c++)
				ck_assert_int_eq(dp_eblock_set(&a, r, c * 7 + 3, rnd_value()), 0);
			e += dense ? 1 : (int64_t)(rnd() % 1000) + 1;
		}
		ck_assert_int_eq(dp_eblock_encode(&a, &enc), 0);
		ck_assert_int_eq(dp_eblock_decode(enc.data, enc.len, a.epoch[0], &b), 0);
		ck_assert_uint_eq(b.n, a.n);
		ck_assert_uint_eq(b.ncols, a.ncols);
		for (uint32_t r = 0; r < a.n; r++) {
			ck_assert(b.epoch[r] == a.epoch[r]);
			ck_assert(memcmp(&b.time[r], &a.time[r], 8) == 0);
			ck_assert(same_ev(&b.elapsed[r], &a.elapsed[r]));
			for (uint32_t c = 0; c < a.ncols; c++) {
				ck_assert_uint_eq(b.col[c], a.col[c]);
				ck_assert_msg(same_ev(&b.v[c][r], &a.v[c][r]), "round %d row %u col %u", round, r, c);
			}
		}
		/* Every prefix of the bytes is refused, and so is a flipped
		 * control byte where one can be told. */
		for (size_t cut = 0; cut < enc.len; cut += 1 + enc.len / 16)
			ck_assert_int_eq(dp_eblock_decode(enc.data, cut, 0, &b), DNNPROV_ECORRUPT);
		((unsigned char *)enc.data)[0] = 0x02;
		ck_assert_int_eq(dp_eblock_decode(enc.data, enc.len, 0, &b), DNNPROV_ECORRUPT);
	}
	dp_eblock_free(&a);
	dp_eblock_free(&b);
	dp_buf_free(&enc);
}
END_TEST

#define BIG_EPOCHS 300
#define BIG_METRICS 6
static double big_value[BIG_EPOCHS + 1][BIG_METRICS];

/* Checks every epoch of task `task` read back through the scan: ascending,
 * each as expected(epoch, metric) says; and that no block passes
 * DP_EBLOCK_BYTES (so none needed an overflow page).  Returns the epochs. */
static size_t check_epochs(const char *task, bool (*expected)(int64_t e, const char *metric, double *v),
			   size_t *blocks)
{
	dp_index *ix;
	MDB_txn *txn;
	dp_epoch_scan sc;
	dp_epoch_at at;
	dp_key prefix;
	MDB_stat st;
	size_t n = 0;
	int64_t last = INT64_MIN;
	ck_assert_int_eq(dp_index_open(index_dir, false, NULL, &ix), 0);
	ck_assert_int_eq(dp_index_read(ix, &txn), 0);
	dp_key_reset(&prefix);
	dp_key_cstr(&prefix, "df");
	dp_key_cstr(&prefix, task);
	ck_assert_int_eq(dp_epoch_scan_open(&sc, ix, txn, NULL, &prefix, false, 0), 0);
	while (dp_epoch_scan_next(&sc, &at) == DP_SCAN_ROW) {
		ck_assert_msg(n == 0 || at.epoch > last, "epoch %lld after %lld", (long long)at.epoch, (long long)last);
		last = at.epoch;
		for (uint32_t c = 0; c < at.block->ncols; c++) {
			const dp_ev *v = &at.block->v[c][at.row];
			const char *name = at.names[at.block->col[c]];
			double want;
			bool has = expected(at.epoch, name, &want);
			ck_assert_msg(has == (v->type != DP_EV_NULL), "epoch %lld %s: value %s", (long long)at.epoch, name,
				      has ? "missing" : "unexpected");
			if (has)
				ck_assert_msg(memcmp(&v->d, &want, 8) == 0, "epoch %lld %s: %.17g, want %.17g",
					      (long long)at.epoch, name, v->d, want);
		}
		n++;
	}
	dp_epoch_scan_close(&sc);
	/* The blocks, and their sizes as LMDB stores them. */
	dp_scan raw;
	MDB_val k, v;
	*blocks = 0;
	ck_assert_int_eq(dp_scan_open(&raw, ix, txn, DP_DB_EPOCHS, &prefix, NULL), 0);
	while (dp_scan_next(&raw, &k, &v) == DP_SCAN_ROW) {
		ck_assert_msg(k.mv_size + v.mv_size + 10 <= DP_EBLOCK_BYTES, "a block of %zu bytes", v.mv_size);
		(*blocks)++;
	}
	dp_scan_close(&raw);
	mdb_stat(txn, ix->dbi[DP_DB_EPOCHS], &st);
	ck_assert_uint_eq(st.ms_overflow_pages, 0);
	mdb_txn_abort(txn);
	dp_index_close(ix);
	return n;
}

static const char *const big_names[BIG_METRICS] = { "loss", "accuracy", "val_loss", "val_accuracy", "lr", "gnorm" };

static bool first_run(int64_t e, const char *metric, double *v)
{
	for (int m = 0; m < BIG_METRICS; m++)
		if (e >= 1 && e <= BIG_EPOCHS && strcmp(metric, big_names[m]) == 0) {
			*v = big_value[e][m];
			return true;
		}
	return false;
}

/* After the resume: epoch 150 re-logged with loss and 24 other metrics
 * (its block grows past the limit and splits), epochs -5, 500 and 1000
 * logged out of order. */
static bool second_run(int64_t e, const char *metric, double *v)
{
	if (e == 150 || e == -5 || e == 500 || e == 1000) {
		if (strcmp(metric, "loss") == 0) {
			*v = -(double)e / 7;
			return true;
		}
		if (e == 150 && metric[0] == 'x') {
			*v = atoi(metric + 1) / 3.0;
			return true;
		}
		return false;
	}
	return first_run(e, metric, v);
}

START_TEST(test_epoch_blocks)
{
	dnnprov_config *cfg = tu_config(dir, "free_metrics: true\n");
	dnnprov_task *t = begin_task(cfg, "b", 0.1);
	dnnprov_value m[32];
	for (int e = 1; e <= BIG_EPOCHS; e++) {
		for (int k = 0; k < BIG_METRICS; k++) {
			uint64_t bits = rnd() >> 2; /* positive, finite, every mantissa bit used */
			memcpy(&big_value[e][k], &bits, 8);
			m[k] = (dnnprov_value)DNNPROV_V_REAL(big_names[k], big_value[e][k]);
		}
		ck_assert_int_eq(dnnprov_task_epoch(t, e, 1.0, m, BIG_METRICS), 0);
	}
	ck_assert_int_eq(dnnprov_task_close(t), 0);
	index_now(37, 64 * 1024); /* small batches: blocks continued across commits */
	size_t blocks;
	ck_assert_uint_eq(check_epochs("b", first_run, &blocks), BIG_EPOCHS);
	ck_assert_msg(blocks >= BIG_EPOCHS * 56 / DP_EBLOCK_BYTES, "%zu blocks", blocks);

	dnnprov_value h[] = { DNNPROV_V_TEXT("OPTIMIZER_NAME", "SGD"), DNNPROV_V_REAL("LEARNING_RATE", 0.1) };
	ck_assert_int_eq(dnnprov_task_open(cfg, "b", &t), 0);
	ck_assert_int_eq(dnnprov_task_resume(t, DNNPROV_NEXT_EPOCH, h, 2), 0);
	char names[24][8];
	m[0] = (dnnprov_value)DNNPROV_V_REAL("loss", -150.0 / 7);
	for (int k = 0; k < 24; k++) {
		snprintf(names[k], sizeof(names[k]), "x%d", k);
		m[k + 1] = (dnnprov_value)DNNPROV_V_REAL(names[k], k / 3.0);
	}
	ck_assert_int_eq(dnnprov_task_epoch(t, 150, 1.0, m, 25), 0);
	static const int64_t late[] = { 1000, -5, 500 };
	for (size_t i = 0; i < DP_ARRAY_LEN(late); i++) {
		m[0] = (dnnprov_value)DNNPROV_V_REAL("loss", -(double)late[i] / 7);
		ck_assert_int_eq(dnnprov_task_epoch(t, late[i], 1.0, m, 1), 0);
	}
	ck_assert_int_eq(dnnprov_task_close(t), 0);
	index_now(2, 0);
	size_t blocks2;
	ck_assert_uint_eq(check_epochs("b", second_run, &blocks2), BIG_EPOCHS + 3);
	ck_assert_uint_gt(blocks2, blocks);
	char *tj = task_json("b");
	ck_assert_ptr_nonnull(strstr(tj, "\"epochs\":303"));
	ck_assert_ptr_nonnull(strstr(tj, "\"last_epoch\":1000"));
	free(tj);
	/* Summaries recomputed from the blocks: the re-logged value counts. */
	dp_summary s = summary("b", "loss");
	ck_assert_uint_eq(s.count, BIG_EPOCHS + 3);
	ck_assert(s.min == -1000.0 / 7 && s.min_epoch == 1000);
	s = summary("b", "x23");
	ck_assert(s.count == 1 && s.max == 23 / 3.0 && s.max_epoch == 150);
	s = summary("b", "accuracy");
	ck_assert_uint_eq(s.count, BIG_EPOCHS - 1); /* epoch 150 no longer reports it */
	dnnprov_config_free(cfg);
}
END_TEST

START_TEST(test_older_schema_refused)
{
	/* An index of the schema before, which lacks the databases added
	 * since: refused for its schema, with the way out. */
	dnnprov_config *cfg = tu_config(dir, NULL);
	dnnprov_task *t = begin_task(cfg, "t", 0.1);
	epoch(t, 1, 0.5, 0.5);
	ck_assert_int_eq(dnnprov_task_close(t), 0);
	index_now(0, 0);
	dp_index *ix;
	MDB_txn *txn;
	uint32_t old = DP_SCHEMA_VERSION - 1;
	MDB_val k = { 6, "schema" }, v = { sizeof(old), &old };
	ck_assert_int_eq(dp_index_open(index_dir, true, NULL, &ix), 0);
	ck_assert_int_eq(mdb_txn_begin(ix->env, NULL, 0, &txn), 0);
	ck_assert_int_eq(mdb_put(txn, ix->dbi[DP_DB_META], &k, &v, 0), 0);
	ck_assert_int_eq(mdb_drop(txn, ix->dbi[DP_DB_COUNT - 1], 1), 0);
	ck_assert_int_eq(mdb_txn_commit(txn), 0);
	dp_index_close(ix);
	ck_assert_int_eq(dp_index_open(index_dir, false, NULL, &ix), DNNPROV_EINDEX);
	ck_assert_ptr_nonnull(strstr(dnnprov_errmsg(), "dnnprov reindex"));
	char said[64];
	snprintf(said, sizeof(said), "index schema %u, this dnnprov reads schema %d", old, DP_SCHEMA_VERSION);
	ck_assert_msg(strstr(dnnprov_errmsg(), said), "%s", dnnprov_errmsg());
	dnnprov_config_free(cfg);
}
END_TEST

/* ---- bad input ------------------------------------------------------------------------ */

static char *only_segment(const char *task)
{
	char *tdir;
	ck_assert_int_ge(asprintf(&tdir, "%s/df/%s", log_dir, task), 0);
	tu_records rs;
	tu_read_all(tdir, &rs);
	ck_assert_uint_ge(rs.n, 1);
	char *seg = strdup(rs.r[0].segment);
	tu_records_free(&rs);
	free(tdir);
	return seg;
}

START_TEST(test_bad_checksum_is_skipped_and_reported)
{
	dnnprov_config *cfg = tu_config(dir, NULL);
	dnnprov_task *t = begin_task(cfg, "bad", 0.1);
	for (int e = 1; e <= 5; e++)
		epoch(t, e, 1.0 / e, 0.1 * e);
	ck_assert_int_eq(dnnprov_task_close(t), 0);
	char *seg = only_segment("bad");
	tu_records rs;
	tu_read_all(seg, &rs);
	uint64_t victim = rs.r[4].offset; /* epoch 3 */
	tu_records_free(&rs);
	FILE *f = fopen(seg, "r+b");
	fseek(f, (long)victim + 30, SEEK_SET);
	fputc('#', f);
	fclose(f);

	dp_indexer_stats st = index_now(0, 0);
	ck_assert_uint_eq(st.problems, 1);
	ck_assert_uint_eq(count_entries(DP_DB_EPOCHS), 4); /* 1, 2, 4, 5 */
	ck_assert_uint_eq(count_entries(DP_DB_PROBLEMS), 1);
	char expect[64];
	snprintf(expect, sizeof(expect), "@%llu:bad checksum", (unsigned long long)victim);
	ck_assert_msg(strstr(problems_seen, expect), "reported: %s", problems_seen);
	/* Reported once: a second run does not see it again. */
	problems_seen[0] = '\0';
	index_now(0, 0);
	ck_assert_str_eq(problems_seen, "");
	free(seg);
	dnnprov_config_free(cfg);
}
END_TEST

/* Appends a raw frame with the given payload to a segment. */
static void append_frame(const char *seg, const unsigned char *payload, uint32_t len)
{
	unsigned char hdr[DP_FRAME_HEADER];
	dp_frame_seal_header(hdr, DP_FRAME_RECORD, len, dp_crc32c(0, payload, len), dp_crc32c);
	FILE *f = fopen(seg, "ab");
	fwrite(hdr, 1, sizeof(hdr), f);
	fwrite(payload, 1, len, f);
	fclose(f);
}

static uint64_t seal_offset(const char *seg)
{
	dp_segment_header h;
	dp_reader *r;
	dp_frame f;
	dp_problem pb;
	uint64_t at = 0;
	int rc;
	ck_assert_int_eq(dp_reader_open(seg, 0, &r, &h), 0);
	while ((rc = dp_reader_next(r, &f, &pb)) > 0)
		if (rc == DP_READ_SEAL)
			at = f.offset;
	dp_reader_close(r);
	ck_assert_uint_gt(at, 0);
	return at;
}

START_TEST(test_schema_breaking_records)
{
	/* Valid frames whose records break the schema: each skipped with its
	 * offset and reason; the good records around them are kept. */
	dnnprov_config *cfg = tu_config(dir, "log:\n  durability: always\n");
	dnnprov_task *t = begin_task(cfg, "s", 0.1);
	epoch(t, 1, 0.5, 0.5);
	char *seg = strdup(dp_task_segment_path(t));
	/* Frames appended behind the writer's back, then the writer goes on:
	 * it writes at its own offset, so write them after it closes. */
	ck_assert_int_eq(dnnprov_task_close(t), 0);
	/* The seal is last; drop it so the appended frames are not "after seal". */
	ck_assert_int_eq(truncate(seg, (off_t)seal_offset(seg)), 0);

	static const unsigned char no_kind[] = { 0x81, 0xa4, 't', 'i', 'm', 'e', 0x01 };
	static const unsigned char text_epoch[] = { 0x84, 0xa4, 'k', 'i', 'n', 'd', 0xa5, 'e', 'p', 'o', 'c', 'h',
						    0xa4, 't', 'i', 'm', 'e', 0x01, 0xa5, 'e', 'p', 'o', 'c', 'h',
						    0xa1, 'x', 0xa7, 'm', 'e', 't', 'r', 'i', 'c', 's', 0x80 };
	static const unsigned char not_map[] = { 0x93, 1, 2, 3 };
	static const unsigned char bad_name[] = { 0x85, 0xa4, 'k', 'i', 'n', 'd', 0xa5, 'e', 'p', 'o', 'c', 'h',
						  0xa4, 't', 'i', 'm', 'e', 0x01, 0xa5, 'e', 'p', 'o', 'c', 'h', 0x02,
						  0xa7, 'e', 'l', 'a', 'p', 's', 'e', 'd', 0x00,
						  0xa7, 'm', 'e', 't', 'r', 'i', 'c', 's', 0x81, 0xa3, 'a', '/', 'b', 0x01 };
	append_frame(seg, no_kind, sizeof(no_kind));
	append_frame(seg, text_epoch, sizeof(text_epoch));
	append_frame(seg, not_map, sizeof(not_map));
	append_frame(seg, bad_name, sizeof(bad_name));
	/* Then a good epoch, from a new writer of the same task. */
	t = NULL;
	ck_assert_int_eq(dnnprov_task_open(cfg, "s", &t), 0);
	epoch(t, 2, 0.4, 0.6);
	ck_assert_int_eq(dnnprov_task_close(t), 0);
	/* And an epoch of a task that never began: writers refuse to record
	 * one, so it is a segment copied without the one before it. */
	char *elsewhere = dp_path_join(dir, "elsewhere");
	dnnprov_config *cfg2 = tu_config(dir, "log:\n  durability: always\n");
	free(cfg2->log_dir);
	cfg2->log_dir = strdup(elsewhere);
	t = begin_task(cfg2, "never", 0.1);
	ck_assert_int_eq(dnnprov_task_close(t), 0);
	ck_assert_int_eq(dnnprov_task_open(cfg2, "never", &t), 0);
	epoch(t, 1, 0.4, 0.6);
	char *second = strdup(dp_task_segment_path(t));
	ck_assert_int_eq(dnnprov_task_close(t), 0);
	char *never_dir, *copy;
	ck_assert_int_ge(asprintf(&never_dir, "%s/df/never", log_dir), 0);
	ck_assert_int_eq(dp_mkdirs(never_dir), 0);
	ck_assert_int_ge(asprintf(&copy, "%s/%s", never_dir, strrchr(second, '/') + 1), 0);
	tu_copy_prefix(second, copy, tu_file_size(second));
	free(copy);
	free(never_dir);
	free(second);
	free(elsewhere);
	dnnprov_config_free(cfg2);

	dp_indexer_stats st = index_now(0, 0);
	ck_assert_msg(st.problems == 5, "problems: %s", problems_seen);
	ck_assert_ptr_nonnull(strstr(problems_seen, "record has no kind"));
	ck_assert_ptr_nonnull(strstr(problems_seen, "epoch is not an integer"));
	ck_assert_ptr_nonnull(strstr(problems_seen, "undecodable record"));
	ck_assert_ptr_nonnull(strstr(problems_seen, "metrics has an invalid name"));
	ck_assert_ptr_nonnull(strstr(problems_seen, "epoch record of task 'never', which has not begun"));
	ck_assert_uint_eq(count_entries(DP_DB_EPOCHS), 2); /* s: 1 and 2 */
	ck_assert_ptr_null(task_json("never"));
	free(seg);
	dnnprov_config_free(cfg);
}
END_TEST

START_TEST(test_newer_version_and_torn_tail)
{
	dnnprov_config *cfg = tu_config(dir, NULL);
	dnnprov_task *t = begin_task(cfg, "v", 0.1);
	epoch(t, 1, 0.5, 0.5);
	ck_assert_int_eq(dnnprov_task_close(t), 0);
	char *seg = only_segment("v");
	/* Rewrite the version to 9 with a valid header checksum. */
	long long size = tu_file_size(seg);
	unsigned char *all = malloc((size_t)size);
	FILE *f = fopen(seg, "r+b");
	ck_assert_uint_eq(fread(all, 1, (size_t)size, f), (size_t)size);
	all[9] = 9;
	uint32_t h = dp_get_be32(all + 12);
	dp_put_be32(all + 16 + h, dp_crc32c(0, all, 16 + h));
	fseek(f, 0, SEEK_SET);
	fwrite(all, 1, (size_t)size, f);
	fclose(f);
	free(all);

	/* A second task whose last record is torn: a writer still at work. */
	t = begin_task(cfg, "torn", 0.2);
	epoch(t, 1, 0.5, 0.5);
	epoch(t, 2, 0.4, 0.6);
	char *tseg = strdup(dp_task_segment_path(t));
	long long tsize = tu_file_size(tseg);
	unsigned char tail[5];
	f = fopen(tseg, "rb");
	fseek(f, (long)tsize - 5, SEEK_SET);
	ck_assert_uint_eq(fread(tail, 1, 5, f), 5);
	fclose(f);
	ck_assert_int_eq(truncate(tseg, tsize - 5), 0);

	dp_indexer_stats st = index_now(0, 0);
	ck_assert_uint_eq(st.problems, 1); /* the version; the torn tail is not a problem */
	ck_assert_ptr_nonnull(strstr(problems_seen, "version 9"));
	ck_assert_ptr_null(task_json("v"));
	char *tj = task_json("torn");
	ck_assert_ptr_nonnull(strstr(tj, "\"epochs\":1"));
	free(tj);

	/* The last bytes arrive: the next pass picks the record up from where
	 * it stopped, and reports nothing. */
	f = fopen(tseg, "ab");
	fwrite(tail, 1, 5, f);
	fclose(f);
	problems_seen[0] = '\0';
	st = index_now(0, 0);
	ck_assert_str_eq(problems_seen, "");
	ck_assert_uint_eq(st.records, 1);
	tj = task_json("torn");
	ck_assert_ptr_nonnull(strstr(tj, "\"epochs\":2"));
	free(tj);
	dnnprov_task_close(t); /* writes the seal at its own offset, past the cut */
	free(tseg);
	free(seg);
	dnnprov_config_free(cfg);
}
END_TEST

/* ingest.h: a segment's pending progress includes its committed progress;
 * a commit that would write less than was committed aborts. */
START_TEST(test_pending_behind_committed_asserted)
{
	dnnprov_config *cfg = tu_config(dir, NULL);
	dnnprov_task *t = NULL;
	ck_assert_int_eq(dnnprov_task_open(cfg, "t", &t), 0);
	ck_assert_int_eq(dnnprov_task_begin(t, NULL, 0), 0);
	ck_assert_int_eq(dnnprov_task_close(t), 0);
	dp_path_list segs = { 0 };
	ck_assert_int_eq(dp_find_segments(log_dir, &segs, NULL, NULL), 0);
	ck_assert_uint_eq(segs.n, 1);

	dp_indexer_options o = { .log_dir = log_dir, .index_dir = index_dir };
	dp_index *ix;
	dp_ingest in;
	bool more;
	ck_assert_int_eq(dp_index_open(index_dir, true, NULL, &ix), 0);
	dp_ingest_init(&in, ix, &o);
	dp_seg_state *s = dp_ingest_segment_state(&in, segs.paths[0] + strlen(log_dir) + 1);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(dp_ingest_segment(&in, s, NULL, &more), 0);
	s->committed.offset = s->pending.offset + 1;
	dp_ingest_commit(&in);
}
END_TEST

/* The keys and values of database db, one line each, into out. */
static void dump_db(dp_index *ix, dp_db db, dp_buf *out)
{
	MDB_txn *txn;
	MDB_cursor *c;
	MDB_val k, v;
	ck_assert_int_eq(dp_index_read(ix, &txn), 0);
	ck_assert_int_eq(mdb_cursor_open(txn, ix->dbi[db], &c), 0);
	for (int op = MDB_FIRST; mdb_cursor_get(c, &k, &v, op) == 0; op = MDB_NEXT) {
		dp_buf_append(out, k.mv_data, k.mv_size);
		dp_buf_append(out, "=", 1);
		dp_buf_append(out, v.mv_data, v.mv_size);
		dp_buf_append(out, "\n", 1);
	}
	mdb_cursor_close(c);
	mdb_txn_abort(txn);
}

/* A task's used and generated records are applied the same whether the
 * loader decoded them ahead (decode: a prefetched segment) or the batch
 * engine decodes them: the same lineage and entities entries. */
START_TEST(test_entities_decoded_ahead_or_not)
{
	static const char fp_data[] = "sha256:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
	static const char fp_model[] = "sha256:ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";
	dnnprov_config *cfg = tu_config(dir, NULL);
	dnnprov_task *t = NULL;
	ck_assert_int_eq(dnnprov_task_open(cfg, "t", &t), 0);
	ck_assert_int_eq(dnnprov_task_begin(t, NULL, 0), 0);
	ck_assert_int_eq(dnnprov_task_entity(t, "used", "train_data", "/data/train", fp_data, 10), 0);
	ck_assert_int_eq(dnnprov_task_entity(t, "generated", "model", "/runs/model.pt", fp_model, -1), 0);
	ck_assert_int_eq(dnnprov_task_close(t), 0);
	dp_path_list segs = { 0 };
	ck_assert_int_eq(dp_find_segments(log_dir, &segs, NULL, NULL), 0);
	ck_assert_uint_eq(segs.n, 1);
	const char *path = segs.paths[0];

	dp_buf dumps[3] = { { 0 } };
	for (int mode = 0; mode < 3; mode++) { /* the file; read ahead; read and decoded ahead */
		char *idir;
		ck_assert_int_ge(asprintf(&idir, "%s-%d", index_dir, mode), 0);
		dp_indexer_options o = { .log_dir = log_dir, .index_dir = idir };
		dp_index *ix;
		dp_ingest in;
		dp_prefetched pf;
		bool more;
		ck_assert_int_eq(dp_index_open(idir, true, NULL, &ix), 0);
		ck_assert_int_eq(dp_ingest_init(&in, ix, &o), 0);
		if (mode)
			ck_assert_int_eq(dp_prefetch(AT_FDCWD, path, path, 0, mode == 2, &pf), 0);
		dp_seg_state *s = dp_ingest_segment_state(&in, path + strlen(log_dir) + 1);
		ck_assert_ptr_nonnull(s);
		do {
			ck_assert_int_eq(dp_ingest_segment(&in, s, mode ? &pf : NULL, &more), 0);
			ck_assert_int_eq(dp_ingest_commit(&in), 0);
		} while (more);
		dump_db(ix, DP_DB_LINEAGE, &dumps[mode]);
		dump_db(ix, DP_DB_ENTITIES, &dumps[mode]);
		if (mode)
			dp_prefetched_free(&pf);
		dp_ingest_free(&in);
		dp_index_close(ix);
		free(idir);
	}
	ck_assert(!dumps[0].failed);
	ck_assert_ptr_nonnull(memmem(dumps[0].data, dumps[0].len, "/data/train", 11));
	ck_assert_ptr_nonnull(memmem(dumps[0].data, dumps[0].len, fp_model, sizeof(fp_model) - 1));
	for (int mode = 1; mode < 3; mode++) {
		ck_assert_uint_eq(dumps[mode].len, dumps[0].len);
		ck_assert_int_eq(memcmp(dumps[mode].data, dumps[0].data, dumps[0].len), 0);
	}
	for (int mode = 0; mode < 3; mode++)
		dp_buf_free(&dumps[mode]);
	dp_path_list_free(&segs);
	dnnprov_config_free(cfg);
}
END_TEST

/* ---- the model of a dataflow ---------------------------------------------------- */

static void pack_str(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str(pk, strlen(s));
	msgpack_pack_str_body(pk, s, strlen(s));
}

static void pack_named(msgpack_packer *pk, const char *name, const char *type)
{
	msgpack_pack_map(pk, 2);
	pack_str(pk, "name");
	pack_str(pk, name);
	pack_str(pk, "type");
	pack_str(pk, type);
}

/* A stored specification: hyperparameters lr (numeric) twice, metrics
 * loss, val_loss, VAL_acc, epoch; a user transformation Dense with set
 * iD (a, b, a again), one named TrainingModel, and Dense again. */
static void pack_spec(msgpack_sbuffer *sb, bool adaptation)
{
	msgpack_packer pk;
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 4);
	pack_str(&pk, "hyperparameters");
	msgpack_pack_array(&pk, 2);
	pack_named(&pk, "lr", "numeric");
	pack_named(&pk, "lr", "text");
	pack_str(&pk, "metrics");
	msgpack_pack_array(&pk, 4);
	pack_str(&pk, "loss");
	pack_str(&pk, "val_loss");
	pack_str(&pk, "VAL_acc");
	pack_str(&pk, "epoch");
	pack_str(&pk, "adaptation");
	if (adaptation)
		msgpack_pack_true(&pk);
	else
		msgpack_pack_false(&pk);
	pack_str(&pk, "transformations");
	msgpack_pack_array(&pk, 3);
	for (int t = 0; t < 3; t++) {
		msgpack_pack_map(&pk, 3);
		pack_str(&pk, "name");
		pack_str(&pk, t == 1 ? "TrainingModel" : "Dense");
		pack_str(&pk, "depends_on");
		msgpack_pack_array(&pk, 2);
		pack_str(&pk, "TrainingModel");
		pack_str(&pk, "TrainingModel");
		pack_str(&pk, "sets");
		msgpack_pack_array(&pk, 1);
		msgpack_pack_map(&pk, 3);
		pack_str(&pk, "name");
		pack_str(&pk, t == 2 ? "other" : "iD");
		pack_str(&pk, "direction");
		pack_str(&pk, "input");
		pack_str(&pk, "attributes");
		msgpack_pack_array(&pk, 3);
		pack_named(&pk, "a", "file");
		pack_named(&pk, "b", "text");
		pack_named(&pk, "a", "numeric");
	}
}

static const char *attr_names(const dp_mset *s, char *out, size_t n)
{
	size_t at = 0;
	out[0] = '\0';
	for (size_t i = 0; s && i < s->nattrs && at < n; i++)
		at += (size_t)snprintf(out + at, n - at, "%s%s", i ? "," : "", s->attrs[i].name);
	return out;
}

START_TEST(test_model_of_a_spec)
{
	msgpack_sbuffer sb;
	dp_model m;
	char names[256];

	msgpack_sbuffer_init(&sb);
	pack_spec(&sb, true);
	ck_assert_int_eq(dp_model_read(sb.data, sb.size, "df", &m), 0);
	ck_assert_str_eq(m.dataflow, "df");
	ck_assert_uint_eq(m.ntfs, 4); /* the three built-ins, then Dense once */
	ck_assert_str_eq(m.tfs[0].name, "TrainingModel");
	ck_assert_str_eq(m.tfs[1].name, "Adaptation");
	ck_assert_str_eq(m.tfs[2].name, "TestingModel");
	ck_assert_str_eq(m.tfs[3].name, "Dense");
	ck_assert(m.tfs[0].builtin && m.tfs[2].builtin && !m.tfs[3].builtin);
	ck_assert_uint_eq(m.tfs[0].ndeps, 0);
	ck_assert_uint_eq(m.tfs[3].ndeps, 1); /* a repeat is one dependency */
	ck_assert_str_eq(attr_names(dp_model_hyps(&m), names, sizeof(names)), "lr");
	ck_assert_int_eq(dp_model_hyps(&m)->attrs[0].type, DP_ATTR_NUMERIC); /* the first declaration */
	ck_assert_str_eq(attr_names(dp_model_set(&m, "TrainingModel", "iLayers"), names, sizeof(names)),
			 "name,kind,value");
	/* A metric called epoch is the attribute epoch, once. */
	ck_assert_str_eq(attr_names(dp_model_set(&m, "TrainingModel", "oTrainingModel"), names, sizeof(names)),
			 "epoch,elapsed,loss,val_loss,VAL_acc");
	ck_assert_str_eq(attr_names(dp_model_set(&m, "Adaptation", "oAdaptation"), names, sizeof(names)),
			 "epoch,hyperparameter,old,new,id");
	ck_assert_str_eq(attr_names(dp_model_set(&m, "TestingModel", "oTestingModel"), names, sizeof(names)),
			 "loss,epoch"); /* no validation metric, in any case */
	const dp_mset *d = dp_model_set(&m, "Dense", "iD");
	ck_assert_ptr_nonnull(d);
	ck_assert(d->input && !d->builtin);
	ck_assert_str_eq(attr_names(d, names, sizeof(names)), "a,b");
	ck_assert_int_eq(d->attrs[0].type, DP_ATTR_FILE);
	ck_assert_ptr_null(dp_model_set(&m, "Dense", "other")); /* the second Dense is left out */
	/* A hyperparameter a task used joins iTrainingModel once; the sets
	 * keep their places. */
	ck_assert_int_eq(dp_model_add_hyp(&m, "seed", 4, DP_ATTR_NUMERIC), 0);
	ck_assert_int_eq(dp_model_add_hyp(&m, "lr", 2, DP_ATTR_TEXT), 0);
	ck_assert_str_eq(attr_names(dp_model_hyps(&m), names, sizeof(names)), "lr,seed");
	ck_assert_ptr_eq(dp_model_set(&m, "Dense", "iD"), d);
	dp_model_free(&m);

	/* Without adaptation, no Adaptation; damaged bytes: the built-ins. */
	msgpack_sbuffer_clear(&sb);
	pack_spec(&sb, false);
	ck_assert_int_eq(dp_model_read(sb.data, sb.size, "df", &m), 0);
	ck_assert_ptr_null(dp_model_tf(&m, "Adaptation"));
	ck_assert_ptr_nonnull(dp_model_tf(&m, "TestingModel"));
	dp_model_free(&m);
	ck_assert_int_eq(dp_model_read("\xc1junk", 5, "df", &m), 0);
	ck_assert_uint_eq(m.ntfs, 2);
	ck_assert_uint_eq(dp_model_hyps(&m)->nattrs, 0);
	ck_assert(isnan(m.first_seen));
	dp_model_free(&m);
	msgpack_sbuffer_destroy(&sb);
}
END_TEST

static Suite *indexer_suite(void)
{
	Suite *s = suite_create("indexer");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_keys_sort_as_tuples);
	tcase_add_test(tc, test_index_contents);
	tcase_add_test(tc, test_resumed_task_and_relogged_epoch);
	tcase_add_test(tc, test_map_grows_and_batches);
	tcase_add_test(tc, test_catch_up_batches);
	tcase_add_test(tc, test_eblock_codec);
	tcase_add_test(tc, test_epoch_blocks);
	tcase_add_test(tc, test_older_schema_refused);
	tcase_add_test(tc, test_second_indexer_is_refused);
	tcase_add_test(tc, test_missing_index_is_not_created);
	tcase_add_test(tc, test_bad_checksum_is_skipped_and_reported);
	tcase_add_test(tc, test_schema_breaking_records);
	tcase_add_test(tc, test_newer_version_and_torn_tail);
	tcase_add_test(tc, test_model_of_a_spec);
	tcase_add_test(tc, test_entities_decoded_ahead_or_not);
	tcase_add_test_raise_signal(tc, test_pending_behind_committed_asserted, SIGABRT);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(indexer_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
