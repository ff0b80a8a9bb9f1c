# Shared by the tests/test_*.sh scripts: a temporary folder, the binary
# under test, and assertions that say what failed.
set -eu
BUILD=${DNNPROV_BUILD:-build}
DNNPROV="$PWD/$BUILD/dnnprov"
PY=/usr/bin/python3
T=$(mktemp -d "${TMPDIR:-/tmp}/dnnprov-sh-XXXXXX")
# Whatever a script started in the background (followers, writers) is
# stopped when it exits, also when an assertion or `set -e` ends it early:
# its jobs, and what `started PID` recorded (a process started in a
# function's subshell is no job of the script).
BG_PIDS=""
started() { BG_PIDS="$BG_PIDS $1"; }
cleanup() {
	# Only the test's own shell: a subshell caught in a signal at the wrong
	# moment may run the trap too, and must not remove the folder.
	[ "$BASHPID" = "$$" ] || return 0
	local pids
	pids="$(jobs -p) $BG_PIDS"
	for p in $pids; do kill -9 "$p" 2>/dev/null || true; done
	if [ -n "${DNNPROV_KEEP_FAILED:-}" ] && [ "$failed" != 0 ]; then
		echo "(kept $T for a look: DNNPROV_KEEP_FAILED)" >&2
		return 0
	fi
	rm -rf "$T"
}
trap cleanup EXIT
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
# indexer_config FILE: the experiment of the indexer and crash tests: the
# hyperparameters and DenseBlock transformation tests/tools/gen_logs writes,
# and 4 KiB segments so that tasks rotate.
indexer_config() {
	cat >"$1" <<YAML
dataflow: df
log_dir: logs
index_dir: index
hyperparameters:
  OPTIMIZER_NAME: true
  LEARNING_RATE: true
  BATCH_SIZE: true
  NUM_EPOCHS: true
metrics: [loss, accuracy]
free_metrics: true
adaptation: true
transformations:
  DenseBlock:
    input:
      iDenseBlock: {growth_rate: numeric, layers_db: numeric}
log:
  segment_size: 4KiB
YAML
}
# query_config FILE DATAFLOW: the experiment of the query and SQL tests:
# gen_logs's hyperparameters with `dropout`, which some tasks lack, and its
# undeclared `top5` metric.
query_config() {
	cat >"$1" <<YAML
dataflow: $2
log_dir: logs
index_dir: index
hyperparameters:
  OPTIMIZER_NAME: true
  LEARNING_RATE: true
  BATCH_SIZE: true
  NUM_EPOCHS: true
  dropout: numeric
metrics: [loss, accuracy]
free_metrics: true
adaptation: true
transformations:
  DenseBlock:
    input:
      iDenseBlock: {growth_rate: numeric, layers_db: numeric}
YAML
}
# runs_config FILE: the experiment of the run-model tests: two hyperparameters,
# two metrics, adaptations recorded.
runs_config() {
	cat >"$1" <<YAML
dataflow: df
log_dir: logs
index_dir: index
hyperparameters:
  OPTIMIZER_NAME: true
  LEARNING_RATE: true
metrics: [loss, accuracy]
adaptation: true
YAML
}
# stop_follower PID LABEL: SIGTERM to a `dnnprov index --follow`, which must
# commit and exit 0.  One that is still running 20 s later (stuck, or
# ignoring the signal) is killed, and that is a failure, not a hung test.
stop_follower() {
	kill -TERM "$1" 2>/dev/null || true
	local waited=0
	# Until it has exited (a zombie until waited for) or 20 s have passed.
	while [ "$waited" -lt 400 ] && [ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)" != Z ] &&
		[ -e "/proc/$1" ]; do
		sleep 0.05
		waited=$((waited + 1))
	done
	[ "$waited" -lt 400 ] || kill -9 "$1" 2>/dev/null || true
	set +e
	wait "$1"
	st=$?
	set -e
	expect_eq "$2: SIGTERM exits 0" "$st" 0
}
finish() {
	echo "$(basename "$0"): $passed passed, $failed failed"
	[ "$failed" = 0 ]
}
