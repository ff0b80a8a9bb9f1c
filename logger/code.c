/*
 * code.c - the code a run ran: the git commit of the repository holding
 * a folder and a hash of its working tree's uncommitted changes
 * (docs/LINEAGE.md, "Repeats").
 *
 * The commit is read from .git's files (facts.c).  The changes need git's
 * objects (HEAD's tree, the index, packs and deltas), so they are asked of
 * libgit2, loaded when a begin first needs it (util/dynlib.c): a training
 * process never runs the `git` program, and a process outside a
 * repository never loads the library.  Without libgit2 the changes are
 * unknown, and so a run repeats none.
 *
 * git_diff is "none" for a tree equal to HEAD's, else "sha256:" and the
 * SHA-256 of the sorted list of changed tracked paths, one entry each:
 *     <status> SP <mode, octal> SP <the working file's blob id | -> SP <path> NUL
 * which names the content of each change, not the text of a patch, so it
 * does not depend on a version of git's diff output.  Untracked files are
 * not code until added, as for `git diff HEAD`.
 */
#include <git2.h>
#include <stdio.h>
#include <string.h>

#include "logger/facts.h"
#include "logger/fingerprint.h"

#ifndef DP_GIT2_SONAME
#define DP_GIT2_SONAME "libgit2.so"
#endif

#define GIT_FUNCTIONS(X) \
	X(git_libgit2_init) \
	X(git_libgit2_shutdown) \
	X(git_repository_open_ext) \
	X(git_repository_workdir) \
	X(git_repository_free) \
	X(git_revparse_single) \
	X(git_object_free) \
	X(git_diff_options_init) \
	X(git_diff_tree_to_workdir_with_index) \
	X(git_diff_num_deltas) \
	X(git_diff_get_delta) \
	X(git_diff_free) \
	X(git_repository_hashfile) \
	X(git_oid_fmt)

#define MEMBER(name) __typeof__(name) *name;
static struct {
	GIT_FUNCTIONS(MEMBER)
} git;
#undef MEMBER

#define SYM(name) { #name, (void **)&git.name },
static const dp_dynsym syms[] = { GIT_FUNCTIONS(SYM) };
#undef SYM

static dp_dynlib lib = { DP_GIT2_SONAME, "libgit2", syms, sizeof(syms) / sizeof(syms[0]), PTHREAD_MUTEX_INITIALIZER,
			 false };

/* The listing of the changes of the repository holding dir, into b;
 * false when it cannot be told. */
static bool list_changes(const char *dir, dp_buf *b)
{
	git_repository *repo = NULL;
	git_object *tree = NULL;
	git_diff *diff = NULL;
	git_diff_options opts;
	bool ok = false;

	if (git.git_libgit2_init() < 0)
		return false;
	if (git.git_repository_open_ext(&repo, dir, 0, NULL) != 0 ||
	    git.git_revparse_single(&tree, repo, "HEAD^{tree}") != 0 ||
	    git.git_diff_options_init(&opts, GIT_DIFF_OPTIONS_VERSION) != 0 ||
	    git.git_diff_tree_to_workdir_with_index(&diff, repo, (git_tree *)tree, &opts) != 0)
		goto out;
	size_t n = git.git_diff_num_deltas(diff);
	ok = git.git_repository_workdir(repo) != NULL; /* a bare repository has no tree to run */
	for (size_t i = 0; i < n && ok; i++) {
		const git_diff_delta *d = git.git_diff_get_delta(diff, i);
		char hex[GIT_OID_HEXSZ + 1] = "-";
		if (d->status != GIT_DELTA_DELETED) {
			git_oid id = d->new_file.id;
			/* A working file's id is not always computed by the diff:
			 * hashed as git would store it (its filters applied). */
			if (!(d->new_file.flags & GIT_DIFF_FLAG_VALID_ID) &&
			    git.git_repository_hashfile(&id, repo, d->new_file.path, GIT_OBJECT_BLOB, NULL) != 0) {
				ok = false;
				break;
			}
			git.git_oid_fmt(hex, &id);
			hex[GIT_OID_HEXSZ] = '\0';
		}
		dp_buf_printf(b, "%d %o %s %s", (int)d->status, (unsigned)d->new_file.mode, hex, d->new_file.path);
		dp_buf_putc(b, '\0');
	}
	ok = ok && !b->failed;
out:
	git.git_diff_free(diff);
	git.git_object_free(tree);
	git.git_repository_free(repo);
	git.git_libgit2_shutdown();
	return ok;
}

int dnnprov_code_version(const char *folder, char *commit, size_t commit_cap, char *diff, size_t diff_cap)
{
	char head[65], branch[256];
	dp_buf b = { 0 };

	dp_error_clear();
	if (!folder || !commit || !diff || commit_cap < 65 || diff_cap < DNNPROV_FINGERPRINT_MAX)
		return dp_error(DNNPROV_EINVAL, "dnnprov_code_version: NULL or short argument");
	commit[0] = diff[0] = '\0';
	if (!dp_git_head(folder, head, branch, sizeof(branch)))
		return 0;
	snprintf(commit, commit_cap, "%s", head);
	if (dp_dynlib_bind(&lib) != 0) {
		dp_error_clear(); /* no libgit2: the changes are unknown, not an error */
		return 0;
	}
	if (list_changes(folder, &b)) {
		if (b.len == 0)
			snprintf(diff, diff_cap, "none");
		else
			dp_sha256_text(b.data, b.len, diff);
	}
	dp_buf_free(&b);
	return 0;
}
