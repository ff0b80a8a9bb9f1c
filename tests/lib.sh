# Shared by the tests/test_*.sh scripts: a temporary folder, the binary
# under test, and assertions that say what failed.
set -eu
BUILD=${DNNPROV_BUILD:-build}
DNNPROV="$PWD/$BUILD/dnnprov"
PY=/usr/bin/python3
T=$(mktemp -d "${TMPDIR:-/tmp}/dnnprov-sh-XXXXXX")
trap 'rm -rf "$T"' EXIT
passed=0
failed=0

ok() { passed=$((passed + 1)); }
fail() { echo "FAIL: $*" >&2; failed=$((failed + 1)); }
# expect_eq WHAT GOT WANT
expect_eq() { if [ "$2" = "$3" ]; then ok; else fail "$1: got '$2', want '$3'"; fi; }
# expect_grep WHAT PATTERN FILE
expect_grep() { if grep -q -- "$2" "$3"; then ok; else fail "$1: no '$2' in $3:"; sed 's/^/    /' "$3" >&2; fi; }
# expect_status WHAT WANT CMD...: runs CMD, compares its exit status
expect_status() {
	what=$1 want=$2
	shift 2
	set +e
	"$@" >"$T/out" 2>"$T/err"
	got=$?
	set -e
	if [ "$got" = "$want" ]; then ok; else fail "$what: exit $got, want $want"; sed 's/^/    /' "$T/err" >&2; fi
}
finish() {
	echo "$(basename "$0"): $passed passed, $failed failed"
	[ "$failed" = 0 ]
}
