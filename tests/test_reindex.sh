#!/usr/bin/env bash
# Queries racing `dnnprov reindex`: a query started at any moment of a swap
# answers from the old generation or the new one.  The race is made certain
# by holding the query right after it resolved CURRENT (tests/shims/
# holdshim.c) while reindex swaps in one or two new generations and removes
# the one it resolved; then queries loop against back-to-back reindexes.
#   DNNPROV_REINDEX_SWAPS   reindexes in the loop (default 20; `make stress` 1000)
. "$(dirname "$0")/lib.sh"
TOOLS="$PWD/$BUILD/tests/tools"
SHIM="$PWD/$BUILD/tests/shims/holdshim.so"
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
SWAPS=${DNNPROV_REINDEX_SWAPS:-20}

indexer_config "$T/exp.yaml"
"$TOOLS/gen_logs" "$T/exp.yaml" 5 8 3
RE() { "$DNNPROV" reindex --log-dir "$T/logs" --index-dir "$T/ix" -q; }
"$DNNPROV" index --log-dir "$T/logs" --index-dir "$T/ix" -q
"$DNNPROV" runs df --index-dir "$T/ix" --format csv | cut -d, -f1,2,5,7- >"$T/want"

for swaps in 1 2; do
	rm -f "$T/ready" "$T/go"
	DP_HOLD_AFTER=realpath DP_HOLD_PATH=CURRENT DP_HOLD_READY="$T/ready" DP_HOLD_UNTIL="$T/go" LD_PRELOAD="$SHIM" \
		"$DNNPROV" runs df --index-dir "$T/ix" --format csv >"$T/held" 2>"$T/held.err" &
	qpid=$!
	started $qpid
	for i in $(seq 1 600); do [ -e "$T/ready" ] && break; sleep 0.05; done
	[ -e "$T/ready" ] && ok || fail "$swaps swaps: the query was never held"
	old=$(readlink "$T/ix/CURRENT")
	for i in $(seq 1 $swaps); do RE; done
	expect_eq "$swaps swaps: the generation the query resolved is gone" "$(ls -d "$T/ix/$old" 2>/dev/null | wc -l)" 0
	touch "$T/go"
	set +e
	wait $qpid
	st=$?
	set -e
	expect_eq "$swaps swaps: the held query succeeds" "$st" 0
	[ "$st" = 0 ] || sed 's/^/    /' "$T/held.err" >&2
	cut -d, -f1,2,5,7- "$T/held" >"$T/held.cut"
	expect_status "$swaps swaps: with the same answer" 0 cmp -s "$T/want" "$T/held.cut"
done

# A generation folder a reader left behind (it opened one being removed and
# created its lock file again) goes at the next swap.
mkdir "$T/ix/gen-000000"
: >"$T/ix/gen-000000/lock.mdb"
RE
expect_eq "a swap removes every other generation" "$(ls -d "$T/ix"/gen-* | wc -l)" 1

# Queries in a loop against reindexes back to back.
(for i in $(seq 1 "$SWAPS"); do RE; done) &
rpid=$!
started $rpid
queries=0 failures=0
while kill -0 $rpid 2>/dev/null; do
	queries=$((queries + 1))
	if ! "$DNNPROV" runs df --index-dir "$T/ix" --format csv >"$T/loop" 2>"$T/loop.err"; then
		failures=$((failures + 1))
		sed 's/^/    /' "$T/loop.err" >&2
	elif ! cmp -s "$T/want" <(cut -d, -f1,2,5,7- "$T/loop"); then
		failures=$((failures + 1))
		echo "    another answer" >&2
	fi
done
wait $rpid
expect_eq "$queries queries during $SWAPS reindexes: every one answered" "$failures" 0
expect_eq "one generation is left" "$(ls -d "$T/ix"/gen-* | wc -l)" 1
finish
