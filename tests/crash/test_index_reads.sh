#!/usr/bin/env bash
# Every read of the index fails in turn (tests/shims/lmdbshim.c, preloaded
# into the shipped binary, returns MDB_CORRUPTED or MDB_PAGE_NOTFOUND from
# the Nth mdb_get or mdb_cursor_get), as a damaged index would: each run of
# a query either exits 1 with a `dnnprov: ...` line naming the database, or
# gives exactly the answer of a run without the failure.  A read error
# never passes for the end of a range or a missing value.
. "$(dirname "$0")/../lib.sh"
TOOLS="$PWD/$BUILD/tests/tools"
SHIM="$PWD/$BUILD/tests/shims/lmdbshim.so"
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0:exitcode=86"

indexer_config "$T/exp.yaml"
"$TOOLS/gen_logs" "$T/exp.yaml" 3 10 5
"$DNNPROV" index --log-dir "$T/logs" --index-dir "$T/ix" -q
# The status line's age changes between runs; so does a table's last_activity
# (an age): runs and watch are asked for CSV, whose times are absolute.
normal() { sed 's/; last commit .* ago$//'; }

while IFS='|' read -r label args; do
	# shellcheck disable=SC2086
	set -- $args
	"$DNNPROV" "$@" | normal >"$T/want"
	rm -f "$T/count"
	DP_LMDB_COUNT="$T/count" LD_PRELOAD="$SHIM" "$DNNPROV" "$@" >/dev/null 2>&1 || true
	total=$(cat "$T/count")
	bad=0 wrong=0 missed=0 absorbed=0 refused=0
	for n in $(seq 1 "$total"); do
		error=CORRUPTED
		[ $((n % 2)) = 0 ] && error=PAGE_NOTFOUND
		rm -f "$T/failed"
		set +e
		DP_LMDB_FAIL=$n DP_LMDB_ERROR=$error DP_LMDB_LOG="$T/failed" LD_PRELOAD="$SHIM" "$DNNPROV" "$@" >"$T/out" 2>"$T/err"
		st=$?
		set -e
		if [ ! -s "$T/failed" ]; then
			missed=$((missed + 1))
		elif [ "$st" = 0 ]; then
			absorbed=$((absorbed + 1))
			normal <"$T/out" | cmp -s "$T/want" - || { wrong=$((wrong + 1)); echo "  $label, read $n: exit 0 with another answer" >&2; }
		elif [ "$st" = 1 ] && grep -q "^dnnprov: .*MDB_\(CORRUPTED\|PAGE_NOTFOUND\)" "$T/err"; then
			refused=$((refused + 1))
		else
			bad=$((bad + 1))
			echo "  $label, read $n: exit $st" >&2
			head -n 5 "$T/err" >&2
		fi
	done
	expect_eq "$label: every failed read fails the query with its LMDB error, or changes nothing" "$bad" 0
	expect_eq "$label: no run that went on answered differently" "$wrong" 0
	expect_eq "$label: every read counted was failed" "$missed" 0
	[ "$total" -ge 5 ] && ok || fail "$label: only $total reads counted: the shim is not in the path"
	echo "  ($label: $total reads failed in turn; $refused runs exited 1, $absorbed went on)"
done <<EOF2
dataflows|dataflows --index-dir $T/ix
describe|describe df --index-dir $T/ix
runs (the hyperparameter index)|runs df --where LEARNING_RATE>0.001 --format csv --index-dir $T/ix
runs (metric lookups)|runs df --where max(loss)>0 --format csv --index-dir $T/ix
compare|compare df --metric loss --agg mean --index-dir $T/ix
compare at=|compare df --metric loss --agg at=3 --format json --index-dir $T/ix
effect|effect df --hyp LEARNING_RATE --metric loss --index-dir $T/ix
curve|curve df task-0001 --format csv --index-dir $T/ix
adaptations|adaptations df --metric loss --index-dir $T/ix
test|test df --index-dir $T/ix
elements|elements df DenseBlock --index-dir $T/ix
export|export df --format prov-n --index-dir $T/ix
export (one task)|export df --task task-0002 --index-dir $T/ix
index --status|index --log-dir $T/logs --index-dir $T/ix --status
EOF2

# The indexer's reads (progress, task states, summaries, an adaptation's
# old value, the epochs of a resumed task that re-logs one): a failed run
# commits nothing wrong, and the next run completes the index to a clean
# rebuild.
dump() { "$TOOLS/dump_index" "$1" | grep -v '^progress '; }
"$TOOLS/gen_logs" "$T/exp.yaml" 3 10 5 3 # three more tasks
rm -f "$T/count"
DP_LMDB_COUNT="$T/count" LD_PRELOAD="$SHIM" "$DNNPROV" index --log-dir "$T/logs" --index-dir "$T/n" -q --batch-records 10 2>/dev/null || true
"$DNNPROV" index --log-dir "$T/logs" --index-dir "$T/ref2" -q
dump "$T/ref2" >"$T/ref.txt"
total=$(cat "$T/count")
incomplete=0
for n in $(seq 1 "$total"); do
	rm -rf "$T/k"
	DP_LMDB_FAIL=$n LD_PRELOAD="$SHIM" "$DNNPROV" index --log-dir "$T/logs" --index-dir "$T/k" -q --batch-records 10 >/dev/null 2>&1 || true
	"$DNNPROV" index --log-dir "$T/logs" --index-dir "$T/k" -q 2>/dev/null || true
	dump "$T/k" | cmp -s "$T/ref.txt" - || incomplete=$((incomplete + 1))
done
expect_eq "index: after each failed read, the next run completes the index to a clean rebuild" "$incomplete" 0
echo "  (index: $total reads failed in turn)"
finish
