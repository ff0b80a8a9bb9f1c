/*
 * facts.c - run facts (see facts.h).
 *
 * Everything here is read from files (/proc, the repository's .git), never
 * by running a program: a begin must not fork a training process that may
 * hold GPU contexts and threads, nor wait on one.  What only a program
 * knows (whether a git tree is dirty) is left to the Python recorders,
 * which may run `git` before they begin.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "logger/facts.h"

#define COMMAND_MAX 8192 /* a longer command line is cut, marked with "…" */

static void value_free(dnnprov_value *v)
{
	free((char *)v->name);
	if (v->type == DNNPROV_TEXT)
		free((char *)v->as.s);
}

int dp_facts_set(dp_facts *f, const dnnprov_value *v)
{
	dnnprov_value copy = *v;
	size_t i;

	if (!(copy.name = strdup(v->name)))
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	if (v->type == DNNPROV_TEXT && !(copy.as.s = strdup(v->as.s))) {
		free((char *)copy.name);
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	}
	/* Names of one record must differ ignoring case (queries fold it). */
	for (i = 0; i < f->n; i++)
		if (dp_strcasecmp(f->v[i].name, v->name) == 0)
			break;
	if (i == f->n) {
		dnnprov_value *grown = realloc(f->v, (f->n + 1) * sizeof(*grown));
		if (!grown) {
			value_free(&copy);
			return dp_error(DNNPROV_ENOMEM, "out of memory");
		}
		f->v = grown;
		f->n++;
	} else {
		value_free(&f->v[i]);
	}
	f->v[i] = copy;
	return 0;
}

static bool has(const dp_facts *f, const char *name)
{
	for (size_t i = 0; i < f->n; i++)
		if (dp_strcasecmp(f->v[i].name, name) == 0)
			return true;
	return false;
}

/* Bytes that are not valid UTF-8 (a path in another encoding) become '?':
 * a fact is text for people, and a record must be valid UTF-8. */
static void make_utf8(char *s)
{
	size_t n = strlen(s);
	for (size_t i = 0; i < n;) {
		size_t len = 1;
		unsigned char c = (unsigned char)s[i];
		if (c >= 0xF0)
			len = 4;
		else if (c >= 0xE0)
			len = 3;
		else if (c >= 0xC0)
			len = 2;
		if (i + len > n || !dp_utf8_valid(s + i, len) || (len == 1 && c >= 0x80)) {
			s[i++] = '?';
			continue;
		}
		i += len;
	}
}

static int set_text(dp_facts *f, const char *name, char *text)
{
	make_utf8(text);
	return dp_facts_set(f, &DNNPROV_V_TEXT(name, text));
}

static bool shell_safe(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./=:,+@%^-",
			    *s))
			return false;
	return true;
}

int dp_process_command(long pid, dp_buf *out)
{
	char raw[COMMAND_MAX], path[64];
	FILE *in;
	size_t n;

	out->len = 0;
	if (pid)
		snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
	else
		snprintf(path, sizeof(path), "/proc/self/cmdline");
	if (!(in = fopen(path, "re")))
		return 0;
	n = fread(raw, 1, sizeof(raw) - 1, in);
	bool cut = n == sizeof(raw) - 1 && fgetc(in) != EOF;
	fclose(in);
	if (n == 0)
		return 0;
	raw[n] = '\0';
	for (size_t i = 0; i < n; i += strlen(raw + i) + 1) {
		const char *arg = raw + i;
		if (i)
			dp_buf_putc(out, ' ');
		if (shell_safe(arg)) {
			dp_buf_append(out, arg, strlen(arg));
			continue;
		}
		dp_buf_putc(out, '\'');
		for (; *arg; arg++) {
			if (*arg == '\'')
				dp_buf_append(out, "'\\''", 4);
			else
				dp_buf_putc(out, *arg);
		}
		dp_buf_putc(out, '\'');
	}
	if (cut)
		dp_buf_append(out, " \xe2\x80\xa6", 4);
	if (out->failed || !dp_buf_cstr(out))
		return dp_error(DNNPROV_ENOMEM, "out of memory");
	make_utf8(out->data);
	return 0;
}

static int collect_command(dp_facts *f)
{
	dp_buf b = { 0 };
	int rc = dp_process_command(0, &b);
	if (rc == 0 && b.len)
		rc = set_text(f, "command", b.data);
	dp_buf_free(&b);
	return rc;
}

/* The first line of a small file, without its newline. */
static bool read_line(const char *path, char *buf, size_t cap)
{
	FILE *in = fopen(path, "re");
	bool ok;

	if (!in)
		return false;
	ok = fgets(buf, (int)cap, in) != NULL;
	fclose(in);
	if (ok)
		buf[strcspn(buf, "\r\n")] = '\0';
	return ok;
}

static bool is_hash(const char *s)
{
	size_t n = strspn(s, "0123456789abcdef");
	return (n == 40 || n == 64) && s[n] == '\0';
}

/* `rel` as a path relative to `base` (unless it is absolute), into out. */
static bool resolve(const char *base, const char *rel, char *out, size_t cap)
{
	int n = rel[0] == '/' ? snprintf(out, cap, "%s", rel) : snprintf(out, cap, "%s/%s", base, rel);
	return n > 0 && (size_t)n < cap;
}

/* The .git folder for dir or its nearest parent that has one. */
static bool find_git_dir(const char *dir, char *gitdir, size_t cap)
{
	char d[PATH_MAX], path[PATH_MAX + 8], line[PATH_MAX];
	struct stat st;

	if (snprintf(d, sizeof(d), "%s", dir) >= (int)sizeof(d))
		return false;
	for (;;) {
		snprintf(path, sizeof(path), "%s/.git", strcmp(d, "/") == 0 ? "" : d);
		if (stat(path, &st) == 0) {
			if (S_ISDIR(st.st_mode))
				return snprintf(gitdir, cap, "%s", path) < (int)cap;
			/* A linked worktree or a submodule: "gitdir: <path>". */
			if (S_ISREG(st.st_mode) && read_line(path, line, sizeof(line)) &&
			    strncmp(line, "gitdir: ", 8) == 0)
				return resolve(d, line + 8, gitdir, cap);
			return false;
		}
		char *slash = strrchr(d, '/');
		if (!slash || strcmp(d, "/") == 0)
			return false;
		if (slash == d)
			d[1] = '\0';
		else
			*slash = '\0';
	}
}

/* The commit a ref names: its loose file, else its line in packed-refs. */
static bool read_ref(const char *common, const char *gitdir, const char *ref, char commit[65])
{
	char path[PATH_MAX * 2], line[512];
	const char *dirs[] = { gitdir, common };

	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", dirs[i], ref);
		if (read_line(path, line, sizeof(line)) && is_hash(line))
			return snprintf(commit, 65, "%s", line) < 65;
	}
	snprintf(path, sizeof(path), "%s/packed-refs", common);
	FILE *in = fopen(path, "re");
	bool found = false;
	if (!in)
		return false;
	while (!found && fgets(line, sizeof(line), in)) {
		char *sp = strchr(line, ' ');
		line[strcspn(line, "\r\n")] = '\0';
		if (!sp || strcmp(sp + 1, ref) != 0)
			continue;
		*sp = '\0';
		if (is_hash(line))
			found = snprintf(commit, 65, "%s", line) < 65;
	}
	fclose(in);
	return found;
}

bool dp_git_head(const char *dir, char commit[65], char *branch, size_t branch_cap)
{
	char gitdir[PATH_MAX], common[PATH_MAX], path[PATH_MAX + 16], line[PATH_MAX];

	if (!find_git_dir(dir, gitdir, sizeof(gitdir)))
		return false;
	snprintf(path, sizeof(path), "%s/commondir", gitdir);
	if (!read_line(path, line, sizeof(line)) || !resolve(gitdir, line, common, sizeof(common)))
		snprintf(common, sizeof(common), "%s", gitdir);
	snprintf(path, sizeof(path), "%s/HEAD", gitdir);
	if (!read_line(path, line, sizeof(line)))
		return false;
	branch[0] = '\0';
	if (is_hash(line))
		return snprintf(commit, 65, "%s", line) < 65;
	if (strncmp(line, "ref: ", 5) != 0)
		return false;
	const char *ref = line + 5;
	if (strncmp(ref, "refs/heads/", 11) == 0 && branch_cap) {
		size_t n = strnlen(ref + 11, branch_cap - 1); /* a longer name is cut */
		memcpy(branch, ref + 11, n);
		branch[n] = '\0';
	}
	/* A branch without a commit yet (a new repository) has no ref file. */
	return read_ref(common, gitdir, ref, commit);
}

/* NVIDIA's driver lists its GPUs in /proc, one folder each; their models,
 * the same ones counted ("NVIDIA A100-SXM4-40GB x4"). */
static int collect_accelerator(dp_facts *f)
{
	const char *root = "/proc/driver/nvidia/gpus";
	char path[PATH_MAX], line[256], first[200] = "";
	DIR *d = opendir(root);
	struct dirent *e;
	unsigned count = 0;
	bool mixed = false;
	int rc = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/information", root, e->d_name);
		FILE *in = fopen(path, "re");
		if (!in)
			continue;
		while (fgets(line, sizeof(line), in)) {
			if (strncmp(line, "Model:", 6) != 0)
				continue;
			char *model = line + 6 + strspn(line + 6, " \t");
			model[strcspn(model, "\r\n")] = '\0';
			if (!count)
				snprintf(first, sizeof(first), "%s", model);
			else if (strcmp(first, model) != 0)
				mixed = true;
			count++;
			break;
		}
		fclose(in);
	}
	closedir(d);
	if (count) {
		char text[256];
		if (count == 1)
			snprintf(text, sizeof(text), "%s", first);
		else
			snprintf(text, sizeof(text), "%s%s x%u", first, mixed ? " and others," : "", count);
		rc = set_text(f, "accelerator", text);
	}
	return rc;
}

int dp_facts_collect(dp_facts *f)
{
	char cwd[PATH_MAX], commit[65], branch[256];
	int rc = 0;

	if (!has(f, "command"))
		rc = collect_command(f);
	if (rc == 0 && getcwd(cwd, sizeof(cwd))) {
		if (!has(f, "cwd"))
			rc = set_text(f, "cwd", cwd);
		if (rc == 0 && !has(f, "git_commit") && dp_git_head(cwd, commit, branch, sizeof(branch))) {
			rc = set_text(f, "git_commit", commit);
			if (rc == 0 && branch[0] && !has(f, "git_branch"))
				rc = set_text(f, "git_branch", branch);
			/* The changes go with the commit they are counted from:
			 * a caller that named another commit names its own. */
			char diff[DNNPROV_FINGERPRINT_MAX];
			if (rc == 0 && !has(f, "git_diff") &&
			    dnnprov_code_version(cwd, commit, sizeof(commit), diff, sizeof(diff)) == 0 && diff[0])
				rc = set_text(f, "git_diff", diff);
		}
	}
	if (rc == 0 && !has(f, "accelerator"))
		rc = collect_accelerator(f);
	return rc;
}

int dp_facts_copy(dp_facts *dst, const dp_facts *src)
{
	int rc = 0;
	for (size_t i = 0; i < src->n && rc == 0; i++)
		rc = dp_facts_set(dst, &src->v[i]);
	return rc;
}

size_t dp_facts_count(const dp_facts *f)
{
	size_t n = 0;
	for (size_t i = 0; i < f->n; i++)
		n += f->v[i].type != DNNPROV_NULL;
	return n;
}

void dp_facts_free(dp_facts *f)
{
	for (size_t i = 0; i < f->n; i++)
		value_free(&f->v[i]);
	free(f->v);
	f->v = NULL;
	f->n = 0;
}
