/*
 * facts.h - the run facts a begin record carries (docs/RUNS.md): what the
 * library learns of the process by itself (command line, working folder,
 * git commit, accelerator), merged with what the caller adds (the Python
 * recorders add the interpreter's and the framework's versions).
 */
#ifndef DNNPROV_FACTS_H
#define DNNPROV_FACTS_H

#include "dnnprov.h"
#include "util/util.h"

/* A list of named values with owned strings.  A name set to a NULL value
 * stays in the list, so that a fact the caller removed is not collected
 * again; it is not recorded. */
typedef struct dp_facts {
	dnnprov_value *v;
	size_t n;
} dp_facts;

/* Sets (or replaces, by exact name) one fact; copies name and text. */
DP_INTERNAL int dp_facts_set(dp_facts *f, const dnnprov_value *v);
/* Adds the facts the process can tell about itself, for the names not
 * set yet: command, cwd, git_commit, git_branch, accelerator.  A fact that
 * cannot be learned is left out; only an allocation failure fails. */
DP_INTERNAL int dp_facts_collect(dp_facts *f);
DP_INTERNAL int dp_facts_copy(dp_facts *dst, const dp_facts *src);
/* Facts with a value (the ones recorded). */
DP_INTERNAL size_t dp_facts_count(const dp_facts *f);
DP_INTERNAL void dp_facts_free(dp_facts *f);

/* The git commit and branch of the repository holding `dir` (or one of its
 * parents), read from its files: HEAD, the ref it names, packed-refs;
 * linked worktrees too.  false when there is none.  branch is "" on a
 * detached HEAD. */
DP_INTERNAL bool dp_git_head(const char *dir, char commit[65], char *branch, size_t branch_cap);

/* The command line of process pid (0: this one) as a shell would take it
 * back, quoted where needed and valid UTF-8, into out; empty when it
 * cannot be read.  Only an allocation failure fails. */
DP_INTERNAL int dp_process_command(long pid, dp_buf *out);

#endif
