#!/usr/bin/env bash
# The README as a new user meets it: its quick start and tour run as written
# in a clean copy of the repository (the tracked files, nothing built), and
# what it shows (outputs, the example YAML, the Python and C snippets, links)
# is what the programs do.  tests/readme_check.py says how.
. "$(dirname "$0")/lib.sh"
mkdir "$T/clone" "$T/work"
git ls-files -z | tar --null -T - -cf - | tar -C "$T/clone" -xf -
expect_status "the README runs as written" 0 $PY tests/readme_check.py "$T/clone" "$T/prefix" "$T/work"
expect_grep "it ran the commands" "^readme_check: [1-9][0-9]* commands run, 0 problems" "$T/out"
if [ -s "$T/err" ]; then grep -v '^\$ ' "$T/err" | sed 's/^/    /' >&2 || true; fi
finish
