/*
 * check_config.c - the experiment YAML loader (config/).
 *
 * Valid files are checked field by field; every class of invalid file is
 * checked for its code, the exact "FILE:LINE:COL: " prefix of the detail
 * and a phrase that names what was wrong.  Files are written into a fresh
 * mkdtemp() folder per test.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"

static char tmpdir[PATH_MAX];
static char yaml_path[PATH_MAX + 16];

static void setup(void)
{
	const char *base = getenv("TMPDIR");

	snprintf(tmpdir, sizeof(tmpdir), "%s/check_config.XXXXXX", base && *base ? base : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(yaml_path, sizeof(yaml_path), "%s/t.yaml", tmpdir);
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void teardown(void)
{
	nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void write_file(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "wb");

	ck_assert_msg(f != NULL, "cannot write %s: %s", path, strerror(errno));
	ck_assert_uint_eq(fwrite(text, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

static void write_str(const char *path, const char *text)
{
	write_file(path, text, strlen(text));
}

static int load_text(const char *text, dnnprov_config **cfg)
{
	write_str(yaml_path, text);
	return dnnprov_config_load(yaml_path, cfg);
}

static dnnprov_config *load_ok(const char *text)
{
	dnnprov_config *cfg = NULL;
	int rc = load_text(text, &cfg);

	ck_assert_msg(rc == 0, "load failed: %d %s", rc, dnnprov_errmsg());
	ck_assert_ptr_nonnull(cfg);
	return cfg;
}

/* Asserts that loading `text` fails with ECONFIG at line:col with `phrase`. */
static void expect_error(const char *name, const char *text, int line, int col, const char *phrase)
{
	dnnprov_config *cfg = (dnnprov_config *)&cfg; /* must be reset to NULL */
	char want[PATH_MAX + 40];
	const char *msg;
	int rc;

	rc = load_text(text, &cfg);
	msg = dnnprov_errmsg();
	if (getenv("CHECK_CONFIG_VERBOSE")) /* to read every message at once */
		fprintf(stderr, "%-36s %s\n", name, msg + strlen(tmpdir) + 1);
	ck_assert_msg(rc == DNNPROV_ECONFIG, "%s: rc %d, detail '%s'", name, rc, msg);
	ck_assert_msg(cfg == NULL, "%s: *out not reset", name);
	snprintf(want, sizeof(want), "%s:%d:%d: ", yaml_path, line, col);
	ck_assert_msg(strncmp(msg, want, strlen(want)) == 0,
		      "%s: detail '%s' does not start with '%s'", name, msg, want);
	ck_assert_msg(strstr(msg, phrase) != NULL, "%s: detail '%s' lacks '%s'", name, msg, phrase);
}

static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	ck_assert_ptr_nonnull(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* ------------------------------------------------------------------------
 * Valid files
 * ------------------------------------------------------------------------ */

static const dp_set *set_of(const dnnprov_config *cfg, const char *tf, const char *set)
{
	const dp_transformation *t = dp_config_transformation(cfg, tf);

	ck_assert_msg(t != NULL, "no transformation %s", tf);
	return dp_transformation_set(t, set);
}

START_TEST(test_alexnet_example)
{
	const char *srcdir = getenv("DNNPROV_SRCDIR");
	char path[PATH_MAX], want[PATH_MAX];
	static const bool selected[7] = { true, true, false, false, true, false, true };
	static const char *const metrics[] = { "loss", "accuracy", "val_loss", "val_accuracy" };
	const dp_transformation *tf;
	const dp_set *set;
	dnnprov_config *cfg = NULL;
	int rc;

	snprintf(path, sizeof(path), "%s/examples/alexnet.yaml", srcdir ? srcdir : ".");
	rc = dnnprov_config_load(path, &cfg);
	ck_assert_msg(rc == 0, "%s: %s", path, dnnprov_errmsg());

	ck_assert_str_eq(dnnprov_config_dataflow(cfg), "keras-alexnet-df");
	ck_assert_str_eq(cfg->path, path);
	snprintf(want, sizeof(want), "%s/examples/dnnprov-logs", srcdir ? srcdir : ".");
	ck_assert_str_eq(dnnprov_config_log_dir(cfg), want);
	snprintf(want, sizeof(want), "%s/examples/dnnprov-index", srcdir ? srcdir : ".");
	ck_assert_str_eq(dnnprov_config_index_dir(cfg), want);

	ck_assert_uint_eq(cfg->nhyperparameters, 9);
	for (int i = 0; i < 7; i++) {
		ck_assert_str_eq(cfg->hyperparameters[i].name, dp_builtin_hyperparameters[i]);
		ck_assert(cfg->hyperparameters[i].builtin);
		ck_assert_int_eq(cfg->hyperparameters[i].selected, selected[i]);
		ck_assert_int_eq(cfg->hyperparameters[i].type, dp_builtin_hyperparameter_types[i]);
	}
	ck_assert_str_eq(cfg->hyperparameters[7].name, "dropout_rate");
	ck_assert_int_eq(cfg->hyperparameters[7].type, DP_ATTR_NUMERIC);
	ck_assert(!cfg->hyperparameters[7].builtin && cfg->hyperparameters[7].selected);
	ck_assert_str_eq(cfg->hyperparameters[8].name, "dataset");
	ck_assert_int_eq(cfg->hyperparameters[8].type, DP_ATTR_FILE);

	ck_assert_uint_eq(cfg->nmetrics, 4);
	for (size_t i = 0; i < 4; i++)
		ck_assert_str_eq(cfg->metrics[i], metrics[i]);
	ck_assert(cfg->val_metrics);
	ck_assert(cfg->adaptation);

	ck_assert_uint_eq(cfg->ntransformations, 1);
	tf = &cfg->transformations[0];
	ck_assert_str_eq(tf->name, "DenseBlock");
	ck_assert_uint_eq(tf->ndepends, 1);
	ck_assert_str_eq(tf->depends_on[0], "TrainingModel");
	ck_assert_uint_eq(tf->nsets, 2);
	set = &tf->sets[0];
	ck_assert_str_eq(set->name, "iDenseBlock");
	ck_assert(set->is_input);
	ck_assert_uint_eq(set->nattrs, 2);
	ck_assert_str_eq(set->attrs[0].name, "growth_rate");
	ck_assert_int_eq(set->attrs[0].type, DP_ATTR_NUMERIC);
	ck_assert_str_eq(set->attrs[1].name, "layers_db");
	ck_assert_int_eq(set->attrs[1].type, DP_ATTR_NUMERIC);
	set = &tf->sets[1];
	ck_assert_str_eq(set->name, "oDenseBlock");
	ck_assert(!set->is_input);
	ck_assert_uint_eq(set->nattrs, 1);
	ck_assert_str_eq(set->attrs[0].name, "output");
	ck_assert_int_eq(set->attrs[0].type, DP_ATTR_TEXT);

	ck_assert_uint_eq(cfg->segment_size, 64u << 20);
	ck_assert_int_eq(cfg->durability, DP_DURABILITY_INTERVAL);
	ck_assert_uint_eq(cfg->fsync_interval_ms, 1000);
	dnnprov_config_free(cfg);
}
END_TEST

START_TEST(test_defaults)
{
	dnnprov_config *cfg = load_ok("dataflow: minimal\n");
	char want[PATH_MAX + 32];

	ck_assert_str_eq(cfg->dataflow, "minimal");
	snprintf(want, sizeof(want), "%s/dnnprov-logs", tmpdir);
	ck_assert_str_eq(cfg->log_dir, want);
	snprintf(want, sizeof(want), "%s/dnnprov-index", tmpdir);
	ck_assert_str_eq(cfg->index_dir, want);
	ck_assert_uint_eq(cfg->nhyperparameters, 7);
	for (int i = 0; i < 7; i++) {
		ck_assert_str_eq(cfg->hyperparameters[i].name, dp_builtin_hyperparameters[i]);
		ck_assert_int_eq(cfg->hyperparameters[i].type, dp_builtin_hyperparameter_types[i]);
		ck_assert(cfg->hyperparameters[i].builtin);
		ck_assert(!cfg->hyperparameters[i].selected);
	}
	ck_assert_uint_eq(cfg->nmetrics, 0);
	ck_assert(cfg->val_metrics);
	ck_assert(!cfg->adaptation);
	ck_assert_uint_eq(cfg->ntransformations, 0);
	ck_assert_uint_eq(cfg->segment_size, UINT64_C(64) << 20);
	ck_assert_int_eq(cfg->durability, DP_DURABILITY_INTERVAL);
	ck_assert_uint_eq(cfg->fsync_interval_ms, 1000);
	dnnprov_config_free(cfg);
}
END_TEST

START_TEST(test_every_field)
{
	dnnprov_config *cfg = load_ok("# every key, none at its default\n"
				      "dataflow: 'every-field df'\n"
				      "log_dir: /var/tmp/dp-logs\n"
				      "index_dir: idx/../index\n"
				      "hyperparameters:\n"
				      "  NUM_LAYERS: true\n"
				      "  user_text: text\n"
				      "  OPTIMIZER_NAME: true\n"
				      "  weights: file\n"
				      "  BATCH_SIZE: false\n"
				      "  momentum2: numeric\n"
				      "metrics:\n"
				      "  - loss\n"
				      "  - val_loss\n"
				      "  - top5\n"
				      "  - \"true\"\n"
				      "val_metrics: false\n"
				      "adaptation: true\n"
				      "transformations:\n"
				      "  Later:\n"
				      "    output:\n"
				      "      oLater: {path: file}\n"
				      "  First:\n"
				      "    output:\n"
				      "      oFirst: {z: text}\n"
				      "    input:\n"
				      "      iFirst: {a: numeric, b: text}\n"
				      "      iFirst2: {c: file}\n"
				      "    depends_on: [Later, TestingModel, Adaptation]\n"
				      "log:\n"
				      "  segment_size: 1 GB\n"
				      "  durability: always\n"
				      "  fsync_interval: 250ms\n");
	const dp_transformation *tf;
	char want[PATH_MAX + 32];

	ck_assert_str_eq(cfg->dataflow, "every-field df");
	ck_assert_str_eq(cfg->log_dir, "/var/tmp/dp-logs");
	snprintf(want, sizeof(want), "%s/idx/../index", tmpdir);
	ck_assert_str_eq(cfg->index_dir, want);

	/* Built-ins first in their fixed order, then user ones in file order. */
	ck_assert_uint_eq(cfg->nhyperparameters, 10);
	ck_assert(cfg->hyperparameters[0].selected);  /* OPTIMIZER_NAME */
	ck_assert(!cfg->hyperparameters[1].selected); /* LEARNING_RATE, omitted */
	ck_assert(!cfg->hyperparameters[5].selected); /* BATCH_SIZE: false */
	ck_assert(cfg->hyperparameters[6].selected);  /* NUM_LAYERS */
	ck_assert_str_eq(cfg->hyperparameters[7].name, "user_text");
	ck_assert_int_eq(cfg->hyperparameters[7].type, DP_ATTR_TEXT);
	ck_assert_str_eq(cfg->hyperparameters[8].name, "weights");
	ck_assert_int_eq(cfg->hyperparameters[8].type, DP_ATTR_FILE);
	ck_assert_str_eq(cfg->hyperparameters[9].name, "momentum2");
	ck_assert_int_eq(cfg->hyperparameters[9].type, DP_ATTR_NUMERIC);
	ck_assert(cfg->hyperparameters[9].selected && !cfg->hyperparameters[9].builtin);

	ck_assert_uint_eq(cfg->nmetrics, 4); /* no twins */
	ck_assert_str_eq(cfg->metrics[3], "true");
	ck_assert(!cfg->val_metrics);
	ck_assert(cfg->adaptation);

	ck_assert_uint_eq(cfg->ntransformations, 2);
	ck_assert_str_eq(cfg->transformations[0].name, "Later");
	tf = &cfg->transformations[1];
	ck_assert_str_eq(tf->name, "First");
	/* Inputs first, then outputs, each in file order. */
	ck_assert_uint_eq(tf->nsets, 3);
	ck_assert_str_eq(tf->sets[0].name, "iFirst");
	ck_assert_str_eq(tf->sets[1].name, "iFirst2");
	ck_assert_str_eq(tf->sets[2].name, "oFirst");
	ck_assert(tf->sets[0].is_input && tf->sets[1].is_input && !tf->sets[2].is_input);
	ck_assert_uint_eq(tf->sets[0].nattrs, 2);
	ck_assert_int_eq(tf->sets[0].attrs[1].type, DP_ATTR_TEXT);
	ck_assert_int_eq(tf->sets[1].attrs[0].type, DP_ATTR_FILE);
	ck_assert_uint_eq(tf->ndepends, 3);
	ck_assert_str_eq(tf->depends_on[0], "Later");
	ck_assert_str_eq(tf->depends_on[1], "TestingModel");
	ck_assert_str_eq(tf->depends_on[2], "Adaptation");

	ck_assert_uint_eq(cfg->segment_size, 1000000000u);
	ck_assert_int_eq(cfg->durability, DP_DURABILITY_ALWAYS);
	ck_assert_uint_eq(cfg->fsync_interval_ms, 250);
	dnnprov_config_free(cfg);
}
END_TEST

START_TEST(test_log_section_variants)
{
	dnnprov_config *cfg;

	cfg = load_ok(
		"dataflow: x\nlog: {segment_size: 4KiB, durability: buffered, fsync_interval: 1h}\n");
	ck_assert_uint_eq(cfg->segment_size, 4096);
	ck_assert_int_eq(cfg->durability, DP_DURABILITY_BUFFERED);
	ck_assert_uint_eq(cfg->fsync_interval_ms, 3600000);
	dnnprov_config_free(cfg);

	cfg = load_ok("dataflow: x\nlog: {segment_size: 1TiB, fsync_interval: 1}\n");
	ck_assert_uint_eq(cfg->segment_size, UINT64_C(1) << 40);
	ck_assert_uint_eq(cfg->fsync_interval_ms, 1);
	dnnprov_config_free(cfg);

	cfg = load_ok("dataflow: x\nlog: {segment_size: 4096, durability: interval}\n");
	ck_assert_uint_eq(cfg->segment_size, 4096);
	ck_assert_int_eq(cfg->durability, DP_DURABILITY_INTERVAL);
	dnnprov_config_free(cfg);

	cfg = load_ok("dataflow: x\nlog: {}\n");
	ck_assert_uint_eq(cfg->segment_size, UINT64_C(64) << 20);
	dnnprov_config_free(cfg);
}
END_TEST

START_TEST(test_empty_collections)
{
	dnnprov_config *cfg = load_ok(
		"dataflow: x\nhyperparameters: {}\nmetrics: []\n"
		"transformations: {T: {input: {}, output: {o: {a: text}}, depends_on: []}}\n");

	ck_assert_uint_eq(cfg->nhyperparameters, 7);
	ck_assert_uint_eq(cfg->nmetrics, 0);
	ck_assert_uint_eq(cfg->ntransformations, 1);
	ck_assert_uint_eq(cfg->transformations[0].nsets, 1);
	ck_assert_uint_eq(cfg->transformations[0].ndepends, 0);
	dnnprov_config_free(cfg);

	cfg = load_ok("dataflow: x\ntransformations: {}\n");
	ck_assert_uint_eq(cfg->ntransformations, 0);
	dnnprov_config_free(cfg);
}
END_TEST

START_TEST(test_aliases)
{
	dnnprov_config *cfg = load_ok("dataflow: x\n"
				      "metrics: &m [loss, acc]\n"
				      "transformations:\n"
				      "  A: &a\n"
				      "    input: {iA: &attrs {x: numeric, y: text}}\n"
				      "    output: {oA: *attrs}\n"
				      "  B:\n"
				      "    depends_on: &deps [A]\n"
				      "    input: {iB: *attrs}\n"
				      "  C: *a\n");
	const dp_set *s;

	ck_assert_uint_eq(cfg->nmetrics, 4);
	ck_assert_uint_eq(cfg->ntransformations, 3);
	s = set_of(cfg, "A", "oA");
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(s->nattrs, 2);
	ck_assert_str_eq(s->attrs[1].name, "y");
	s = set_of(cfg, "B", "iB");
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(s->attrs[0].type, DP_ATTR_NUMERIC);
	s = set_of(cfg, "C", "iA");
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(dp_config_transformation(cfg, "C")->nsets, 2);
	/* Each set owns its attributes even when the YAML shared them. */
	ck_assert_ptr_ne(set_of(cfg, "A", "iA")->attrs, set_of(cfg, "A", "oA")->attrs);
	dnnprov_config_free(cfg);
}
END_TEST

START_TEST(test_val_twins)
{
	dnnprov_config *cfg;

	cfg = load_ok("dataflow: x\nmetrics: [loss, val_loss, acc, VAL_top, mae]\n");
	ck_assert_uint_eq(cfg->nmetrics, 7);
	ck_assert_uint_eq(cfg->nmetrics_listed, 5);
	ck_assert_str_eq(cfg->metrics[4], "mae");
	ck_assert_str_eq(cfg->metrics[5], "val_acc");
	ck_assert_str_eq(cfg->metrics[6], "val_mae");
	dnnprov_config_free(cfg);

	/* A twin is not added when a listed name differs only in case. */
	cfg = load_ok("dataflow: x\nmetrics: [loss, Val_Loss]\n");
	ck_assert_uint_eq(cfg->nmetrics, 2);
	ck_assert_uint_eq(cfg->nmetrics_listed, 2);
	dnnprov_config_free(cfg);

	cfg = load_ok("dataflow: x\nval_metrics: false\nmetrics: [loss]\n");
	ck_assert_uint_eq(cfg->nmetrics, 1);
	ck_assert_uint_eq(cfg->nmetrics_listed, 1);
	dnnprov_config_free(cfg);
}
END_TEST

/* A metric's range: its bounds, .inf for an open side, a val_ twin taking
 * its metric's unless given its own. */
START_TEST(test_metric_ranges)
{
	dnnprov_config *cfg = load_ok("dataflow: x\nmetrics: [loss, acc, mae]\nmetric_ranges:\n"
				      "  acc: [0, 1]\n  loss: [0, .inf]\n  val_loss: [-.INF, 10.5]\n");
	ck_assert_uint_eq(cfg->nmetric_ranges, 4);
	ck_assert_str_eq(cfg->metric_ranges[0].metric, "acc");
	ck_assert(cfg->metric_ranges[0].low == 0 && cfg->metric_ranges[0].high == 1);
	ck_assert(cfg->metric_ranges[1].low == 0 && isinf(cfg->metric_ranges[1].high) && cfg->metric_ranges[1].high > 0);
	ck_assert(isinf(cfg->metric_ranges[2].low) && cfg->metric_ranges[2].low < 0 && cfg->metric_ranges[2].high == 10.5);
	ck_assert_str_eq(cfg->metric_ranges[3].metric, "val_acc"); /* val_loss has its own */
	ck_assert(cfg->metric_ranges[3].low == 0 && cfg->metric_ranges[3].high == 1);
	dnnprov_config_free(cfg);

	/* Without twins, none is added; with free_metrics, any name. */
	cfg = load_ok("dataflow: x\nval_metrics: false\nfree_metrics: true\nmetrics: [acc]\nmetric_ranges: {acc: [0, 1], "
		      "iou: [0, 1]}\n");
	ck_assert_uint_eq(cfg->nmetric_ranges, 2);
	ck_assert_str_eq(cfg->metric_ranges[1].metric, "iou");
	dnnprov_config_free(cfg);
}
END_TEST

START_TEST(test_long_names)
{
	char *name = repeat('n', DNNPROV_NAME_MAX);
	char *text = malloc(8 * DNNPROV_NAME_MAX + 256);
	dnnprov_config *cfg;

	ck_assert_ptr_nonnull(text);
	sprintf(text,
		"dataflow: %s\nval_metrics: false\nmetrics: [%s]\n"
		"transformations: {%s: {input: {%s: {%s: text}}}}\n",
		name, name, name, name, name);
	cfg = load_ok(text);
	ck_assert_str_eq(cfg->dataflow, name);
	ck_assert_str_eq(cfg->metrics[0], name);
	dnnprov_config_free(cfg);

	sprintf(text, "dataflow: x\nmetrics: [%.*s]\n", DNNPROV_NAME_MAX - 4, name);
	cfg = load_ok(text);
	ck_assert_uint_eq(strlen(cfg->metrics[1]), DNNPROV_NAME_MAX);
	dnnprov_config_free(cfg);

	sprintf(text, "dataflow: x\nmetrics: [%.*s]\n", DNNPROV_NAME_MAX - 3, name);
	expect_error("twin too long", text, 2, 11, "too long for its val_ twin");

	sprintf(text, "dataflow: %sn\n", name);
	expect_error("dataflow too long", text, 1, 11,
		     "dataflow tag is 129 bytes long; the limit is 128");
	sprintf(text, "dataflow: x\nhyperparameters: {%sn: text}\n", name);
	expect_error("hyperparameter too long", text, 2, 19, "hyperparameter name is 129 bytes");
	sprintf(text, "dataflow: x\ntransformations: {T: {output: {o: {%sn: text}}}}\n", name);
	expect_error("attribute too long", text, 2, 36, "attribute name is 129 bytes");
	free(text);
	free(name);
}
END_TEST

START_TEST(test_relative_dirs)
{
	char cwd[PATH_MAX], sub[PATH_MAX + 8];
	dnnprov_config *cfg = NULL;

	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	ck_assert_int_eq(chdir(tmpdir), 0);
	write_str("t.yaml", "dataflow: x\nindex_dir: ../idx\n");
	ck_assert_int_eq(dnnprov_config_load("t.yaml", &cfg), 0);
	ck_assert_str_eq(cfg->log_dir, "./dnnprov-logs");
	ck_assert_str_eq(cfg->index_dir, "../idx");
	dnnprov_config_free(cfg);

	snprintf(sub, sizeof(sub), "%s/sub", tmpdir);
	ck_assert_int_eq(mkdir(sub, 0777), 0);
	write_str("sub/t.yaml", "dataflow: x\nindex_dir: .//./idx\nlog_dir: ./\n");
	ck_assert_int_eq(dnnprov_config_load("sub/t.yaml", &cfg), 0);
	ck_assert_str_eq(cfg->index_dir, "sub/idx");
	ck_assert_str_eq(cfg->log_dir, "sub/./");
	dnnprov_config_free(cfg);

	/* Through a symbolic link (or two, or one in another folder), the
	 * folder of the file the link names: one file, one log folder. */
	char real[PATH_MAX], want_idx[PATH_MAX + 16], want_log[PATH_MAX + 16];
	ck_assert_ptr_nonnull(realpath(sub, real));
	snprintf(want_idx, sizeof(want_idx), "%s/idx", real);
	snprintf(want_log, sizeof(want_log), "%s/./", real);
	ck_assert_int_eq(mkdir("elsewhere", 0777), 0);
	ck_assert_int_eq(symlink("sub/t.yaml", "link.yaml"), 0);
	ck_assert_int_eq(symlink("link.yaml", "link2.yaml"), 0);
	ck_assert_int_eq(symlink("../sub/t.yaml", "elsewhere/t.yaml"), 0);
	static const char *const links[] = { "link.yaml", "link2.yaml", "elsewhere/t.yaml" };
	for (size_t i = 0; i < DP_ARRAY_LEN(links); i++) {
		ck_assert_int_eq(dnnprov_config_load(links[i], &cfg), 0);
		ck_assert_str_eq(cfg->index_dir, want_idx);
		ck_assert_str_eq(cfg->log_dir, want_log);
		dnnprov_config_free(cfg);
	}
	ck_assert_int_eq(chdir(cwd), 0);
}
END_TEST

/* A success leaves no earlier failure's detail behind: a caller that
 * reads dnnprov_errmsg() after a later failure must not see this one. */
START_TEST(test_success_clears_detail)
{
	char cwd[PATH_MAX];
	dnnprov_config *cfg = NULL;

	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	ck_assert_int_eq(chdir(tmpdir), 0);
	write_str("bad.yaml", "dataflow: x\nmetrcs: [a]\n");
	write_str("good.yaml", "dataflow: x\n");
	ck_assert_int_eq(dnnprov_config_load("bad.yaml", &cfg), DNNPROV_ECONFIG);
	ck_assert_str_ne(dnnprov_errmsg(), "");
	ck_assert_int_eq(dnnprov_config_load("good.yaml", &cfg), 0);
	ck_assert_str_eq(dnnprov_errmsg(), "");
	dnnprov_config_free(cfg);
	ck_assert_int_eq(chdir(cwd), 0);
}
END_TEST

START_TEST(test_lookups)
{
	dnnprov_config *cfg = load_ok("dataflow: x\nhyperparameters: {extra: text}\n"
				      "transformations: {T: {input: {s: {a: text}}}}\n");
	const dp_transformation *tf;

	ck_assert_ptr_eq(dp_config_hyperparameter(cfg, "LEARNING_RATE"), &cfg->hyperparameters[1]);
	ck_assert_ptr_eq(dp_config_hyperparameter(cfg, "extra"), &cfg->hyperparameters[7]);
	ck_assert_ptr_null(dp_config_hyperparameter(cfg, "learning_rate"));
	ck_assert_ptr_null(dp_config_hyperparameter(cfg, NULL));
	tf = dp_config_transformation(cfg, "T");
	ck_assert_ptr_eq(tf, &cfg->transformations[0]);
	ck_assert_ptr_null(dp_config_transformation(cfg, "TrainingModel"));
	ck_assert_ptr_eq(dp_transformation_set(tf, "s"), &tf->sets[0]);
	ck_assert_ptr_null(dp_transformation_set(tf, "S"));
	ck_assert_ptr_null(dp_transformation_set(NULL, "s"));
	ck_assert_str_eq(dp_attr_type_name(DP_ATTR_NUMERIC), "numeric");
	ck_assert_str_eq(dp_attr_type_name(DP_ATTR_TEXT), "text");
	ck_assert_str_eq(dp_attr_type_name(DP_ATTR_FILE), "file");
	ck_assert_str_eq(dp_durability_name(DP_DURABILITY_INTERVAL), "interval");
	ck_assert_str_eq(dp_durability_name(DP_DURABILITY_ALWAYS), "always");
	ck_assert_str_eq(dp_durability_name(DP_DURABILITY_BUFFERED), "buffered");
	ck_assert_str_eq(dp_builtin_hyperparameters[0], "OPTIMIZER_NAME");
	ck_assert_int_eq(dp_builtin_hyperparameter_types[0], DP_ATTR_TEXT);
	ck_assert_str_eq(dp_builtin_hyperparameters[6], "NUM_LAYERS");
	ck_assert_int_eq(dp_builtin_hyperparameter_types[6], DP_ATTR_NUMERIC);
	ck_assert_ptr_null(dnnprov_config_dataflow(NULL));
	dnnprov_config_free(cfg);
	dnnprov_config_free(NULL);
}
END_TEST

/* Duplicate detection must stay linear: 30000 names, collision at the end. */
START_TEST(test_many_names)
{
	size_t n = 30000;
	char *text = malloc(n * 12 + 64);
	size_t len;
	dnnprov_config *cfg;
	struct timespec t0, t1;

	ck_assert_ptr_nonnull(text);
	len = (size_t)sprintf(text, "dataflow: x\nmetrics: [");
	for (size_t i = 0; i < n; i++)
		len += (size_t)sprintf(text + len, "m%zu, ", i);
	strcpy(text + len, "z]\n");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cfg = load_ok(text);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_uint_eq(cfg->nmetrics, 2 * (n + 1));
	ck_assert_str_eq(cfg->metrics[2 * n + 1], "val_z");
	dnnprov_config_free(cfg);
	ck_assert_msg(t1.tv_sec - t0.tv_sec < 2, "30000 metrics took %ld s",
		      (long)(t1.tv_sec - t0.tv_sec));

	strcpy(text + len, "M29999]\n");
	expect_error("late collision", text, 2, (int)(len - 12 + 1),
		     "metric 'M29999' collides with 'm29999'");
	free(text);
}
END_TEST

START_TEST(test_size_limit)
{
	size_t max = 1u << 20;
	char *text = repeat('#', max + 1);
	dnnprov_config *cfg = NULL;
	char want[PATH_MAX + 64];
	int rc;

	/* Exactly 1 MiB is allowed. */
	memcpy(text, "dataflow: x\n", 12);
	text[max - 1] = '\n';
	write_file(yaml_path, text, max);
	rc = dnnprov_config_load(yaml_path, &cfg);
	ck_assert_msg(rc == 0, "%s", dnnprov_errmsg());
	dnnprov_config_free(cfg);

	write_file(yaml_path, text, max + 1);
	rc = dnnprov_config_load(yaml_path, &cfg);
	ck_assert_int_eq(rc, DNNPROV_ECONFIG);
	ck_assert_ptr_null(cfg);
	snprintf(want, sizeof(want), "%s: file is 1048577 bytes; the limit is 1 MiB", yaml_path);
	ck_assert_str_eq(dnnprov_errmsg(), want);

	/* A device has no size to check up front. */
	rc = dnnprov_config_load("/dev/zero", &cfg);
	ck_assert_int_eq(rc, DNNPROV_ECONFIG);
	ck_assert_msg(strstr(dnnprov_errmsg(), "/dev/zero: file is more than 1048576 bytes"), "%s",
		      dnnprov_errmsg());
	free(text);
}
END_TEST

START_TEST(test_alias_bomb)
{
	/* 50 transformations x 50 sets x 50 attributes through aliases: a
	 * 3 KB file that would make 250000 visits. */
	char *text = malloc(64 * 1024);
	size_t len;

	ck_assert_ptr_nonnull(text);
	len = (size_t)sprintf(text, "dataflow: x\ntransformations:\n  T0: {input: &s {");
	for (int i = 0; i < 50; i++)
		len += (size_t)sprintf(text + len, "%ss%d: %s", i ? ", " : "", i,
				       i ? "*a" : "&a {a0: text");
	text[len] = '\0';
	/* attributes of the anchored set, closed after its first entry */
	{
		char *p = strstr(text, "&a {a0: text");
		char attrs[2048];
		size_t al = 0;

		for (int i = 1; i < 50; i++)
			al += (size_t)sprintf(attrs + al, ", a%d: text", i);
		al += (size_t)sprintf(attrs + al, "}");
		p += strlen("&a {a0: text");
		memmove(p + al, p, strlen(p) + 1);
		memcpy(p, attrs, al);
		len += al;
	}
	len += (size_t)sprintf(text + len, "}}\n");
	for (int i = 1; i < 50; i++)
		len += (size_t)sprintf(text + len, "  T%d: {input: *s}\n", i);
	expect_error("alias bomb", text, 3, 160, "alias expansion too large");
	free(text);
}
END_TEST

START_TEST(test_recursive_alias_and_deep_nesting)
{
	size_t depth = 200000;
	char *text = malloc(2 * depth + 64);
	size_t len;

	expect_error("self alias tf", "dataflow: x\ntransformations: &t\n  T: *t\n", 3, 3,
		     "unknown key 'T' in transformation 'T'");
	expect_error("self alias metrics", "dataflow: x\nmetrics: &m [*m]\n", 2, 10,
		     "metric name must be a scalar, not a sequence");

	ck_assert_ptr_nonnull(text);
	len = (size_t)sprintf(text, "dataflow: x\nmetrics: ");
	memset(text + len, '[', depth);
	memset(text + len + depth, ']', depth);
	strcpy(text + len + 2 * depth, "\n");
	/* the 32nd '[' is the 33rd level, counting the top mapping */
	expect_error("deep nesting", text, 2, 41, "nested more than 32 levels deep");
	free(text);
}
END_TEST

/* The loader compares each anchor with all earlier ones and resolves each
 * alias by a linear search, so both counts are capped. */
START_TEST(test_anchor_and_alias_caps)
{
	char *text = malloc(200000);
	size_t len;

	ck_assert_ptr_nonnull(text);
	len = (size_t)sprintf(text, "dataflow: x\nmetrics: [");
	for (int i = 0; i < 1001; i++)
		len += (size_t)sprintf(text + len, "&a%d m%d, ", i, i);
	strcpy(text + len, "z]\n");
	/* the 1001st anchor: 10 entries "&aN mN, " of 8 bytes, 90 of 10,
	 * 900 of 12 before it */
	expect_error("anchors", text, 2, 11 + 10 * 8 + 90 * 10 + 900 * 12,
		     "more than 1000 anchors");

	len = (size_t)sprintf(text, "dataflow: x\nval_metrics: &b false\nmetrics: [");
	for (int i = 0; i < 10001; i++)
		len += (size_t)sprintf(text + len, "*b, ");
	strcpy(text + len, "z]\n");
	expect_error("aliases", text, 3, 11 + 10000 * 4, "more than 10000 aliases");
	free(text);
}
END_TEST

START_TEST(test_io_errors)
{
	dnnprov_config *cfg = (dnnprov_config *)&cfg;
	char path[PATH_MAX + 16];
	int rc;

	snprintf(path, sizeof(path), "%s/missing.yaml", tmpdir);
	rc = dnnprov_config_load(path, &cfg);
	ck_assert_int_eq(rc, DNNPROV_EIO);
	ck_assert_ptr_null(cfg);
	ck_assert_msg(strstr(dnnprov_errmsg(), "cannot read ") &&
			      strstr(dnnprov_errmsg(), "missing.yaml: No such file or directory"),
		      "%s", dnnprov_errmsg());

	rc = dnnprov_config_load(tmpdir, &cfg);
	ck_assert_int_eq(rc, DNNPROV_EIO);
	ck_assert_msg(strstr(dnnprov_errmsg(), "Is a directory"), "%s", dnnprov_errmsg());

	ck_assert_int_eq(dnnprov_config_load(NULL, &cfg), DNNPROV_EINVAL);
	ck_assert_int_eq(dnnprov_config_load("", &cfg), DNNPROV_EINVAL);
	ck_assert_int_eq(dnnprov_config_load(path, NULL), DNNPROV_EINVAL);

	rc = dnnprov_config_load("/dev/null", &cfg);
	ck_assert_int_eq(rc, DNNPROV_ECONFIG);
	ck_assert_str_eq(dnnprov_errmsg(),
			 "/dev/null:1:1: the file has no YAML document; it needs at least 'dataflow'");
}
END_TEST

/* ------------------------------------------------------------------------
 * Invalid files: one row per error class (and variants)
 * ------------------------------------------------------------------------ */

struct bad_case {
	const char *name;
	const char *yaml;
	int line, col;
	const char *phrase;
};

#define DF "dataflow: x\n"
#define TF(body) DF "transformations:\n  T:\n" body

static const struct bad_case bad_cases[] = {
	/* YAML syntax */
	{ "unclosed flow", DF "metrics: [a, b\n", 3, 1,
	  "YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence at 2:10)" },
	{ "tab indent", DF "log:\n\tdurability: always\n", 3, 1, "YAML syntax error: found" },
	{ "bad indent", DF "log:\n  durability: always\n fsync_interval: 1s\n", 4, 2,
	  "YAML syntax error" },
	{ "invalid utf-8", DF "metrics: [ok, b\xff]\n", 2, 16, "invalid leading UTF-8 octet" },
	{ "undefined alias", "dataflow: *x\n", 1, 11, "found undefined alias" },
	{ "syntax error in 2nd doc", DF "---\n[a\n", 2, 1, "more than one YAML document" },
	/* document shape */
	{ "empty file", "", 1, 1, "the file has no YAML document" },
	{ "only comments", "# nothing here\n\n", 1, 1, "the file has no YAML document" },
	{ "sequence document", "- dataflow\n- x\n", 1, 1,
	  "the document must be a mapping of settings, not a sequence" },
	{ "scalar document", "dataflow\n", 1, 1, "must be a mapping of settings, not a scalar" },
	{ "null document", "---\n", 2, 1, "must be a mapping of settings, not null" },
	{ "two documents", DF "---\ndataflow: y\n", 2, 1, "more than one YAML document" },
	{ "empty second document", DF "---\n", 2, 1, "more than one YAML document" },
	{ "missing dataflow", "metrics: [a]\n", 1, 1, "missing required key 'dataflow'" },
	{ "missing dataflow, flow", "\n{}\n", 2, 1, "missing required key 'dataflow'" },
	/* unknown keys */
	{ "unknown top key", DF "metrcs: [a]\n", 2, 1,
	  "unknown key 'metrcs' in the top level (expected one of: dataflow, log_dir, index_dir, "
	  "hyperparameters, metrics, val_metrics, adaptation, transformations, log, free_metrics, facts, strict, metric_ranges)" },
	{ "key case matters", "Dataflow: x\n", 1, 1, "unknown key 'Dataflow'" },
	{ "unknown log key", DF "log:\n  segment: 1MiB\n", 3, 3,
	  "unknown key 'segment' in 'log' (expected one of: segment_size, durability, fsync_interval)" },
	{ "unknown tf key", TF("    inputs: {s: {a: text}}\n"), 4, 5,
	  "unknown key 'inputs' in transformation 'T' (expected one of: input, output, depends_on)" },
	{ "merge key", DF "transformations:\n  A: &a {input: {s: {x: text}}}\n  B:\n    <<: *a\n",
	  5, 5, "unknown key '<<' in transformation 'B'" },
	{ "non-scalar key", DF "? [a]\n: b\n", 2, 3, "a key must be a scalar, not a sequence" },
	{ "null key", DF "~: b\n", 2, 1, "a key must be a scalar, not null" },
	/* duplicate keys */
	{ "duplicate top key", DF "adaptation: true\ndataflow: y\n", 3, 1,
	  "duplicate key 'dataflow' in the top level (first at 1:1)" },
	{ "duplicate log key", DF "log:\n  durability: always\n  durability: buffered\n", 4, 3,
	  "duplicate key 'durability' in 'log' (first at 3:3)" },
	{ "duplicate tf key", TF("    input: {s: {a: text}}\n    input: {t: {b: text}}\n"), 5, 5,
	  "duplicate key 'input' in transformation 'T' (first at 4:5)" },
	{ "duplicate builtin hyperparameter",
	  DF "hyperparameters:\n  DECAY: true\n  DECAY: false\n", 4, 3,
	  "duplicate hyperparameter 'DECAY' (first at 3:3)" },
	{ "duplicate user hyperparameter", DF "hyperparameters:\n  lr2: numeric\n  lr2: text\n", 4,
	  3, "duplicate hyperparameter 'lr2' (first at 3:3)" },
	{ "duplicate metric", DF "metrics: [loss, acc, loss]\n", 2, 22,
	  "duplicate metric 'loss' (first at 2:11)" },
	{ "duplicate transformation",
	  DF "transformations:\n  T: {input: {s: {a: text}}}\n  T: {input: {s: {a: text}}}\n", 4, 3,
	  "duplicate transformation 'T' (first at 3:3)" },
	{ "duplicate set", TF("    input: {iA: {a: text}}\n    output: {iA: {a: text}}\n"), 5, 14,
	  "duplicate set 'iA' (first at 4:13)" },
	{ "duplicate attribute", TF("    input: {s: {a: text, a: numeric}}\n"), 4, 26,
	  "duplicate attribute 'a' (first at 4:17)" },
	{ "duplicate dependency",
	  TF("    input: {s: {a: text}}\n    depends_on: [TrainingModel, TrainingModel]\n"), 5, 33,
	  "transformation 'T' lists dependency 'TrainingModel' twice" },
	/* case-folding collisions */
	{ "metric case collision", DF "metrics: [loss, Loss]\n", 2, 17,
	  "metric 'Loss' collides with 'loss' at 2:11 (names are compared ignoring case)" },
	{ "metric collides with twin spelling", DF "metrics: [val_loss, VAL_LOSS]\n", 2, 21,
	  "metric 'VAL_LOSS' collides with 'val_loss'" },
	{ "hyperparameter vs builtin", DF "hyperparameters:\n  learning_rate: numeric\n", 3, 3,
	  "hyperparameter 'learning_rate' collides with the built-in hyperparameter 'LEARNING_RATE'" },
	{ "hyperparameter vs builtin, bool", DF "hyperparameters:\n  Decay: true\n", 3, 3,
	  "collides with the built-in hyperparameter 'DECAY'" },
	{ "user hyperparameters collide", DF "hyperparameters:\n  drop: numeric\n  DROP: text\n", 4,
	  3, "hyperparameter 'DROP' collides with 'drop' at 3:3" },
	{ "attribute case collision", TF("    output: {o: {x: text, X: numeric}}\n"), 4, 27,
	  "attribute 'X' collides with 'x' at 4:18" },
	{ "set case collision", TF("    input: {iA: {a: text}}\n    output: {IA: {a: text}}\n"), 5,
	  14, "set 'IA' collides with 'iA' at 4:13" },
	{ "builtin transformation",
	  DF "transformations:\n  TrainingModel: {input: {s: {a: text}}}\n", 3, 3,
	  "'TrainingModel' is a built-in transformation; choose another name" },
	{ "builtin transformation, case",
	  DF "transformations:\n  testingmodel: {input: {s: {a: text}}}\n", 3, 3,
	  "transformation 'testingmodel' collides with the built-in transformation 'TestingModel'" },
	{ "transformations collide",
	  DF "transformations:\n  DenseBlock: {input: {s: {a: text}}}\n"
	     "  denseblock: {input: {s: {a: text}}}\n",
	  4, 3, "transformation 'denseblock' collides with 'DenseBlock' at 3:3" },
	/* node types */
	{ "dataflow sequence", "dataflow: [x]\n", 1, 11,
	  "dataflow tag must be a scalar, not a sequence" },
	{ "dataflow null", "dataflow:\nadaptation: true\n", 1, 10,
	  "dataflow tag must be a scalar, not null" },
	{ "dataflow tilde", "dataflow: ~\n", 1, 11, "dataflow tag must be a scalar, not null" },
	{ "metrics scalar", DF "metrics: loss\n", 2, 10,
	  "'metrics' must be a sequence, not a scalar" },
	{ "metrics null", DF "metrics:\n", 2, 9, "'metrics' must be a sequence, not null" },
	{ "metric mapping", DF "metrics: [{a: b}]\n", 2, 11,
	  "metric name must be a scalar, not a mapping" },
	{ "hyperparameters sequence", DF "hyperparameters: [LEARNING_RATE]\n", 2, 18,
	  "'hyperparameters' must be a mapping, not a sequence" },
	{ "hyperparameters null", DF "hyperparameters:\n# all commented out\n", 2, 17,
	  "'hyperparameters' must be a mapping, not null" },
	{ "hyperparameter value mapping", DF "hyperparameters:\n  LEARNING_RATE: {a: 1}\n", 3, 18,
	  "built-in hyperparameter 'LEARNING_RATE' must be a scalar, not a mapping" },
	{ "user hyperparameter value sequence", DF "hyperparameters:\n  drop: [numeric]\n", 3, 9,
	  "hyperparameter 'drop' must be a scalar, not a sequence" },
	{ "log scalar", DF "log: 5\n", 2, 6, "'log' must be a mapping, not a scalar" },
	{ "log_dir mapping", DF "log_dir: {a: b}\n", 2, 10,
	  "'log_dir' must be a scalar, not a mapping" },
	{ "segment_size sequence", DF "log: {segment_size: [1]}\n", 2, 21,
	  "'segment_size' must be a scalar, not a sequence" },
	{ "transformations sequence", DF "transformations: [T]\n", 2, 18,
	  "'transformations' must be a mapping, not a sequence" },
	{ "transformation scalar", TF("    x\n"), 4, 5,
	  "transformation 'T' must be a mapping, not a scalar" },
	{ "input scalar", TF("    input: iA\n"), 4, 12,
	  "'input' of transformation 'T' must be a mapping, not a scalar" },
	{ "output null", TF("    output:\n    input: {s: {a: text}}\n"), 4, 12,
	  "'output' of transformation 'T' must be a mapping, not null" },
	{ "set sequence", TF("    input: {iA: [a, b]}\n"), 4, 17,
	  "set 'iA' must be a mapping, not a sequence" },
	{ "attribute type mapping", TF("    input: {iA: {a: {type: text}}}\n"), 4, 21,
	  "attribute 'a' must be a scalar, not a mapping" },
	{ "depends_on scalar", TF("    input: {s: {a: text}}\n    depends_on: TrainingModel\n"), 5,
	  17, "'depends_on' of transformation 'T' must be a sequence, not a scalar" },
	{ "dependency mapping", TF("    input: {s: {a: text}}\n    depends_on: [{a: b}]\n"), 5, 18,
	  "a dependency must be a scalar, not a mapping" },
	{ "val_metrics sequence", DF "val_metrics: [true]\n", 2, 14,
	  "'val_metrics' must be a scalar, not a sequence" },
	/* booleans */
	{ "bool yes", DF "val_metrics: yes\n", 2, 14,
	  "'val_metrics' must be true or false, not 'yes'" },
	{ "bool on", DF "adaptation: on\n", 2, 13, "'adaptation' must be true or false, not 'on'" },
	{ "bool no", DF "adaptation: no\n", 2, 13, "'adaptation' must be true or false, not 'no'" },
	{ "bool 1", DF "adaptation: 1\n", 2, 13, "'adaptation' must be true or false, not '1'" },
	{ "bool True", DF "adaptation: True\n", 2, 13, "must be true or false, not 'True'" },
	{ "bool quoted", DF "adaptation: \"true\"\n", 2, 13,
	  "must be true or false, not a quoted string" },
	{ "bool null", DF "adaptation:\n", 2, 12, "'adaptation' must be a scalar, not null" },
	{ "builtin hyperparameter off", DF "hyperparameters: {DECAY: off}\n", 2, 26,
	  "built-in hyperparameter 'DECAY' must be true or false, not 'off'" },
	/* hyperparameter kinds and types */
	{ "builtin given a type", DF "hyperparameters:\n  LEARNING_RATE: numeric\n", 3, 18,
	  "built-in hyperparameter 'LEARNING_RATE' must be true or false, not 'numeric'" },
	{ "user given a bool", DF "hyperparameters:\n  dropout_rate: true\n", 3, 17,
	  "hyperparameter 'dropout_rate' is not built in, so it takes a type (numeric, text or file), not true" },
	{ "unknown hyperparameter type", DF "hyperparameters:\n  dropout_rate: float\n", 3, 17,
	  "unknown type 'float' for hyperparameter 'dropout_rate' (expected numeric, text or file)" },
	{ "type names are lowercase", DF "hyperparameters:\n  dropout_rate: NUMERIC\n", 3, 17,
	  "unknown type 'NUMERIC'" },
	{ "unknown attribute type", TF("    input: {s: {a: integer}}\n"), 4, 20,
	  "unknown type 'integer' for attribute 'a'" },
	{ "null attribute type", TF("    input: {s: {a: }}\n"), 4, 20,
	  "attribute 'a' must be a scalar, not null" },
	/* tags */
	{ "dataflow with slash", "dataflow: a/b\n", 1, 11,
	  "dataflow tag 'a/b' has a path separator '/'" },
	{ "dataflow with backslash", "dataflow: 'a\\b'\n", 1, 11,
	  "dataflow tag 'a\\b' has a path separator '\\'" },
	{ "dataflow dot-dot", "dataflow: ..\n", 1, 11, "dataflow tag '..' is not allowed" },
	{ "dataflow dot", "dataflow: '.'\n", 1, 11, "dataflow tag '.' is not allowed" },
	{ "dataflow empty", "dataflow: ''\n", 1, 11, "dataflow tag is empty" },
	{ "dataflow control char", "dataflow: \"a\\tb\"\n", 1, 11,
	  "dataflow tag has a control character (0x09) at byte 1" },
	{ "dataflow DEL", "dataflow: \"ab\\x7f\"\n", 1, 11, "control character (0x7f) at byte 2" },
	{ "dataflow NUL", "dataflow: \"a\\0b\"\n", 1, 11, "dataflow tag contains a NUL character" },
	/* what hides or reorders text in a terminal */
	{ "dataflow RLO", "dataflow: \"ab\xe2\x80\xae" "cd\"\n", 1, 11,
	  "dataflow tag has a character that hides or reorders text in a terminal (U+202E) at byte 2" },
	{ "dataflow NEL", "dataflow: \"a\\N\"\n", 1, 11, "(U+0085) at byte 1" },
	{ "metric CSI", DF "metrics: [\"\\x9b2J\"]\n", 2, 11, "metric name has a character that hides or reorders text in a terminal (U+009B) at byte 0" },
	{ "hyperparameter LRI", DF "hyperparameters: {\"lr\xe2\x81\xa6\": numeric}\n", 2, 19, "(U+2066) at byte 2" },
	{ "transformation ZWSP", DF "transformations: {\"T\xe2\x80\x8b\": {input: {s: {a: text}}}}\n", 2, 19, "(U+200B) at byte 1" },
	{ "set BOM", TF("    input: {\"\xef\xbb\xbfs\": {a: text}}\n"), 4, 13, "(U+FEFF) at byte 0" },
	{ "attribute ALM", TF("    input: {s: {\"a\xd8\x9c\": text}}\n"), 4, 17, "(U+061C) at byte 1" },
	{ "dataflow LS", "dataflow: \"a\xe2\x80\xa8\"\n", 1, 11, "(U+2028) at byte 1" },
	{ "metric with slash", DF "metrics: [loss, a/b]\n", 2, 17,
	  "metric name 'a/b' has a path separator" },
	{ "hyperparameter dot-dot", DF "hyperparameters: {'..': text}\n", 2, 19,
	  "hyperparameter name '..' is not allowed" },
	{ "transformation control char",
	  DF "transformations: {\"T\\n\": {input: {s: {a: text}}}}\n", 2, 19,
	  "transformation name has a control character (0x0a)" },
	{ "set with slash", TF("    input: {i/A: {a: text}}\n"), 4, 13,
	  "set name 'i/A' has a path separator" },
	{ "attribute dot", TF("    input: {s: {.: text}}\n"), 4, 17,
	  "attribute name '.' is not allowed" },
	{ "attribute empty", TF("    input: {s: {'': text}}\n"), 4, 17, "attribute name is empty" },
	/* sets */
	{ "transformation without sets", TF("    depends_on: [TrainingModel]\n"), 3, 3,
	  "transformation 'T' needs at least one input or output set" },
	{ "transformation empty", DF "transformations: {T: {}}\n", 2, 19,
	  "transformation 'T' needs at least one input or output set" },
	{ "transformation empty sets", TF("    input: {}\n    output: {}\n"), 3, 3,
	  "needs at least one input or output set" },
	{ "set without attributes", TF("    input: {s: {a: text}}\n    output: {o: {}}\n"), 5, 14,
	  "set 'o' of transformation 'T' needs at least one attribute" },
	/* dependencies */
	{ "unknown dependency", TF("    input: {s: {a: text}}\n    depends_on: [Training]\n"),
	  5, 18,
	  "unknown dependency 'Training' of transformation 'T' (expected TrainingModel, Adaptation, "
	  "TestingModel or a transformation declared in this file)" },
	{ "dependency case", TF("    input: {s: {a: text}}\n    depends_on: [trainingmodel]\n"),
	  5, 18,
	  "unknown dependency 'trainingmodel' of transformation 'T' (did you mean 'TrainingModel'?)" },
	{ "self dependency", TF("    input: {s: {a: text}}\n    depends_on: [T]\n"), 3, 3,
	  "transformations depend on each other in a cycle: T -> T" },
	{ "dependency cycle",
	  DF "transformations:\n  A: {input: {s: {a: text}}, depends_on: [TrainingModel, B]}\n"
	     "  B: {input: {s: {a: text}}, depends_on: [C]}\n"
	     "  C: {input: {s: {a: text}}, depends_on: [A]}\n",
	  3, 3, "cycle: A -> B -> C -> A" },
	/* log settings */
	{ "size unknown unit", DF "log: {segment_size: 64XB}\n", 2, 21,
	  "segment_size: size '64XB' has an unknown unit 'XB' (expected one of: B, K, KB, KiB" },
	{ "size not a number", DF "log: {segment_size: big}\n", 2, 21,
	  "segment_size: 'big' is not a size" },
	{ "size negative", DF "log: {segment_size: -5MiB}\n", 2, 21, "'-5MiB' is not a size" },
	{ "size overflow", DF "log: {segment_size: 99999999999999TiB}\n", 2, 21,
	  "size '99999999999999TiB' is too large" },
	{ "size fraction", DF "log: {segment_size: 1.5GiB}\n", 2, 21, "is not a whole number" },
	{ "size too small", DF "log: {segment_size: 4095}\n", 2, 21,
	  "segment_size '4095' is out of range (4 KiB .. 1 TiB)" },
	{ "size zero", DF "log: {segment_size: 0}\n", 2, 21, "out of range" },
	{ "size too large", DF "log: {segment_size: 1025GiB}\n", 2, 21, "out of range" },
	{ "size empty", DF "log: {segment_size: ''}\n", 2, 21, "'' is not a size" },
	{ "duration unknown unit", DF "log: {fsync_interval: 1d}\n", 2, 23,
	  "fsync_interval: duration '1d' has an unknown unit 'd'" },
	{ "duration zero", DF "log: {fsync_interval: 0ms}\n", 2, 23,
	  "fsync_interval '0ms' is out of range (1ms .. 1h)" },
	{ "duration too long", DF "log: {fsync_interval: 61m}\n", 2, 23, "out of range" },
	{ "duration overflow", DF "log: {fsync_interval: 99999999999999999h}\n", 2, 23,
	  "is too large" },
	{ "duration fraction", DF "log: {fsync_interval: 0.5s}\n", 2, 23, "not a whole number" },
	{ "unknown durability", DF "log: {durability: sometimes}\n", 2, 19,
	  "unknown durability 'sometimes' (expected interval, always or buffered)" },
	{ "durability case", DF "log: {durability: Always}\n", 2, 19,
	  "unknown durability 'Always'" },
	/* directories */
	{ "empty log_dir", DF "log_dir: ''\n", 2, 10, "'log_dir' is empty" },
	{ "tilde log_dir", DF "log_dir: ~/logs\n", 2, 10,
	  "'log_dir' '~/logs' starts with '~', which is not expanded" },
	{ "null index_dir", DF "index_dir:\n", 2, 11, "'index_dir' must be a scalar, not null" },
	{ "NUL in index_dir", DF "index_dir: \"a\\0\"\n", 2, 12,
	  "'index_dir' contains a NUL character" },
	/* explicit tags: the schema types every value */
	{ "binary tag", "dataflow: !!binary eA==\n", 1, 11,
	  "YAML tag 'tag:yaml.org,2002:binary' is not allowed: the schema gives every value its type" },
	{ "str tag", "dataflow: !!str x\n", 1, 11, "YAML tag 'tag:yaml.org,2002:str' is not allowed" },
	{ "local tag on a mapping", DF "log: !conf {durability: always}\n", 2, 6, "YAML tag '!conf' is not allowed" },
	{ "tag on a sequence", DF "metrics: !!seq [a]\n", 2, 10, "YAML tag 'tag:yaml.org,2002:seq' is not allowed" },
	{ "verbatim tag on a key", DF "!<tag:x> metrics: [a]\n", 2, 1, "YAML tag 'tag:x' is not allowed" },
	{ "tag directive", "%TAG !e! tag:example.com,2000:\n---\ndataflow: !e!x y\n", 3, 11,
	  "YAML tag 'tag:example.com,2000:x' is not allowed" },
	{ "tag in a set", TF("    input:\n      s: {a: !!str text}\n"), 5, 14, "YAML tag 'tag:yaml.org,2002:str'" },
	/* metric_ranges */
	{ "range of no metric", DF "metrics: [acc]\nmetric_ranges: {ac: [0, 1]}\n", 3, 17,
	  "metric_ranges: 'ac' is not a declared metric" },
	{ "range of a metric spelled otherwise", DF "metrics: [acc]\nmetric_ranges: {ACC: [0, 1]}\n", 3, 17,
	  "metric_ranges: the metric is spelled 'acc'" },
	{ "range given twice", DF "metrics: [acc]\nmetric_ranges: {acc: [0, 1], acc: [0, 2]}\n", 3, 30,
	  "is given twice" },
	{ "range of one bound", DF "metrics: [acc]\nmetric_ranges: {acc: [0]}\n", 3, 22,
	  "a metric's range is [low, high], two bounds, not 1" },
	{ "range not a sequence", DF "metrics: [acc]\nmetric_ranges: {acc: 1}\n", 3, 22,
	  "a metric's range must be a sequence, not a scalar" },
	{ "range upside down", DF "metrics: [acc]\nmetric_ranges: {acc: [1, 0]}\n", 3, 22,
	  "the low bound must be below the high bound" },
	{ "range of equal bounds", DF "metrics: [acc]\nmetric_ranges: {acc: [1, 1]}\n", 3, 22,
	  "the low bound must be below the high bound" },
	{ "range bound quoted", DF "metrics: [acc]\nmetric_ranges: {acc: [0, '1']}\n", 3, 26,
	  "the high bound must be a number, not a quoted string" },
	{ "range bound not a number", DF "metrics: [acc]\nmetric_ranges: {acc: [0, one]}\n", 3, 26,
	  "the high bound must be a number or .inf / -.inf, not 'one'" },
	{ "range bound NaN", DF "metrics: [acc]\nmetric_ranges: {acc: [.nan, 1]}\n", 3, 23,
	  "the low bound must be a number or .inf / -.inf, not '.nan'" },
	{ "range bound null", DF "metrics: [acc]\nmetric_ranges: {acc: [~, 1]}\n", 3, 23,
	  "the low bound must be a scalar, not null" },
	{ "ranges not a mapping", DF "metrics: [acc]\nmetric_ranges: [acc]\n", 3, 16,
	  "'metric_ranges' must be a mapping, not a sequence" },
};

START_TEST(test_bad_file)
{
	const struct bad_case *c = &bad_cases[_i];

	expect_error(c->name, c->yaml, c->line, c->col, c->phrase);
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc;

	tc = tcase_create("valid");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_alexnet_example);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_every_field);
	tcase_add_test(tc, test_log_section_variants);
	tcase_add_test(tc, test_empty_collections);
	tcase_add_test(tc, test_aliases);
	tcase_add_test(tc, test_val_twins);
	tcase_add_test(tc, test_metric_ranges);
	tcase_add_test(tc, test_long_names);
	tcase_add_test(tc, test_relative_dirs);
	tcase_add_test(tc, test_lookups);
	tcase_add_test(tc, test_success_clears_detail);
	tcase_add_test(tc, test_many_names);
	suite_add_tcase(s, tc);

	tc = tcase_create("invalid");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_bad_file, 0, (int)DP_ARRAY_LEN(bad_cases));
	tcase_add_test(tc, test_size_limit);
	tcase_add_test(tc, test_alias_bomb);
	tcase_add_test(tc, test_recursive_alias_and_deep_nesting);
	tcase_add_test(tc, test_anchor_and_alias_caps);
	tcase_add_test(tc, test_io_errors);
	suite_add_tcase(s, tc);

	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(config_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed != 0;
}
