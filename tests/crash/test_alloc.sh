#!/usr/bin/env bash
# Every allocation of a run fails in turn (tests/shims/allocshim.c, preloaded
# into the shipped binary): the reader, the indexer and the queries.  Each
# run either absorbs the failure and gives exactly the answer of a run
# without it, or exits 1 with a `dnnprov: ...` line; never a crash, a wrong
# answer or (under SANITIZE=1) a leak.  The indexer's failed runs leave a
# consistent index, and the next run completes it to a clean rebuild: no
# partial commit.
#   DNNPROV_ALLOC_ONLY   only the commands whose label matches this pattern
. "$(dirname "$0")/../lib.sh"
TOOLS="$PWD/$BUILD/tests/tools"
SHIM="$PWD/$BUILD/tests/shims/allocshim.so"
# Under SANITIZE=1: the shim comes before the ASan runtime, and an ASan or
# LeakSanitizer report gets its own exit status.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0:exitcode=86"
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}exitcode=87:suppressions=$PWD/tests/crash/lsan-alloc.supp"

indexer_config "$T/exp.yaml"
"$TOOLS/gen_logs" "$T/exp.yaml" 3 10 5 # 10 epochs: one adaptation each
"$DNNPROV" index --log-dir "$T/logs" --index-dir "$T/ref" -q
dump() { "$TOOLS/dump_index" "$1" | grep -v '^progress '; }
dump "$T/ref" >"$T/ref.txt"
# 300 tasks: effect past the 256 that a lookup each serves (one scan of the
# summaries joined to hyp_index's runs).  The logs move away: the query's
# look at their folders (freshness) would be most of its allocations.
mkdir "$T/many"
query_config "$T/many/exp.yaml" df
"$TOOLS/gen_logs" "$T/many/exp.yaml" 300 2 6
"$DNNPROV" index -c "$T/many/exp.yaml" -q
mv "$T/many/logs" "$T/many/logs.away"

# count CMD...: the allocations a run of CMD makes.
count() {
	rm -f "$T/count"
	DP_ALLOC_COUNT="$T/count" LD_PRELOAD="$SHIM" "$@" >/dev/null 2>&1 || true
	cat "$T/count"
}
# with_failure N CMD...: runs CMD with its Nth allocation failing; sets st.
with_failure() {
	local n=$1
	shift
	rm -f "$T/failed"
	set +e
	DP_ALLOC_FAIL=$n DP_ALLOC_LOG="$T/failed" LD_PRELOAD="$SHIM" "$@" >"$T/out" 2>"$T/err"
	st=$?
	set -e
}
# normal: what of an answer does not change from run to run (watch's age
# column, the age of the last commit in index --status).
normal() {
	case "$label" in
	watch*) sed 's/,[^,]*$//' ;;
	index*) sed 's/; last commit .* ago$//' ;;
	*) cat ;;
	esac
}
# judge LABEL: the verdict on one failed-allocation run of a command whose
# reference output is in $T/want.
judge() {
	if [ ! -s "$T/failed" ]; then
		missed=$((missed + 1))
	elif [ "$st" = 0 ]; then
		absorbed=$((absorbed + 1))
		normal <"$T/out" | cmp -s "$T/want" - || { wrong=$((wrong + 1)); echo "  $1: exit 0 with another answer" >&2; }
	elif [ "$st" = 1 ] && grep -q "^dnnprov: .*\(out of memory\|Cannot allocate memory\)" "$T/err"; then
		refused=$((refused + 1))
	else
		bad=$((bad + 1))
		echo "  $1: exit $st" >&2
		head -n 15 "$T/err" >&2
	fi
}
report() {
	expect_eq "$1: no crash, no sanitizer report, no silent failure" "$bad" 0
	expect_eq "$1: no run that absorbed the failure answered differently" "$wrong" 0
	expect_eq "$1: every allocation counted was failed" "$missed" 0
	[ "$total" -ge 10 ] && ok || fail "$1: only $total allocations counted: the shim is not in the path"
	echo "  ($1: $total allocations failed in turn; $refused runs exited 1 with an error, $absorbed absorbed it)"
}

# --- the reader and the queries ------------------------------------------------------
seg=$(ls "$T/logs/df/task-0001/"*.dnplog | head -n 1)
while IFS='|' read -r label args; do
	case "$label" in ${DNNPROV_ALLOC_ONLY:-*}) ;; *) continue ;; esac
	# shellcheck disable=SC2086
	set -- $args
	"$DNNPROV" "$@" | normal >"$T/want"
	total=$(count "$DNNPROV" "$@")
	bad=0 wrong=0 missed=0 absorbed=0 refused=0
	for n in $(seq 1 "$total"); do
		with_failure "$n" "$DNNPROV" "$@"
		judge "$label, allocation $n"
	done
	report "$label"
done <<EOF
cat|cat $seg
check|check $T/logs
compare|compare df --metric val_accuracy --agg last --index-dir $T/ref
effect|effect df --hyp LEARNING_RATE --metric loss --index-dir $T/ref
curve|curve df task-0001 --format json --index-dir $T/ref
runs|runs df --where LEARNING_RATE>0.001 --format csv --index-dir $T/ref
adaptations|adaptations df --index-dir $T/ref
test|test df --index-dir $T/ref
elements|elements df DenseBlock --index-dir $T/ref
describe|describe df --index-dir $T/ref
export|export df --format prov-n --index-dir $T/ref
cat --kind --task|cat --kind epoch,begin --task task-0001 $T/logs
check --quiet|check --quiet $T/logs
index --status|index --log-dir $T/logs --index-dir $T/ref --status
dataflows|dataflows --format json --index-dir $T/ref
curve --metrics|curve df task-0001 --metrics loss,LOSS,val_loss --format csv --index-dir $T/ref
runs -c --sort --limit --goal|runs -c $T/exp.yaml --index-dir $T/ref --sort -LEARNING_RATE --limit 2 --metric loss --goal max --format json
compare --agg at= --where|compare df --agg at=3 --sort LEARNING_RATE --limit 2 --where max(loss)>0 --format csv --index-dir $T/ref
effect --bins --agg --where|effect df --hyp LEARNING_RATE --bins 2 --agg mean --goal min --format json --where epochs>1 --index-dir $T/ref
effect, 300 tasks|effect df --hyp LEARNING_RATE --metric loss --index-dir $T/many/index
adaptations --task --window|adaptations df --task task-0001 --window 2 --metric loss --format csv --index-dir $T/ref
test --where --sort --limit|test df --where LEARNING_RATE>0 --sort -loss --limit 2 --format json --index-dir $T/ref
elements --set --task|elements df DenseBlock --set iDenseBlock --task task-0001 --format csv --index-dir $T/ref
watch --count|watch df --count 1 --format csv --index-dir $T/ref
export --task|export df --task task-0001 --format prov-json --index-dir $T/ref
describe TASK|describe df task-0001 --format json --index-dir $T/ref
tag (list)|tag df task-0001 --format csv --index-dir $T/ref
runs --facts --where facts.|runs df --facts --where facts.cwd!='x' --format csv --index-dir $T/ref
EOF

# --- the indexer ------------------------------------------------------------------------
case index in ${DNNPROV_ALLOC_ONLY:-*}) ;; *) finish; exit ;; esac
total=$(count "$DNNPROV" index --log-dir "$T/logs" --index-dir "$T/count-ix" -q --batch-records 10)
: >"$T/want"
bad=0 wrong=0 missed=0 absorbed=0 refused=0 inconsistent=0 incomplete=0
for n in $(seq 1 "$total"); do
	rm -rf "$T/k"
	with_failure "$n" "$DNNPROV" index --log-dir "$T/logs" --index-dir "$T/k" -q --batch-records 10
	judge "index, allocation $n"
	if [ "$st" = 0 ]; then
		dump "$T/k" | cmp -s "$T/ref.txt" - || { wrong=$((wrong + 1)); echo "  index, allocation $n: exit 0, index differs" >&2; }
	elif [ -e "$T/k/CURRENT" ] && "$TOOLS/dump_index" "$T/k" >"$T/snap.txt" 2>/dev/null; then
		# What the failed run committed is whole batches only.
		$PY tests/check_snapshot.py "$T/snap.txt" || inconsistent=$((inconsistent + 1))
	fi
	"$DNNPROV" index --log-dir "$T/logs" --index-dir "$T/k" -q 2>/dev/null || true
	dump "$T/k" | cmp -s "$T/ref.txt" - || incomplete=$((incomplete + 1))
done
report "index"
expect_eq "index: every failed run left a consistent index" "$inconsistent" 0
expect_eq "index: the next run completes it to a clean rebuild" "$incomplete" 0
finish
