#!/usr/bin/env bash
# Injected I/O faults (tests/shims/faultshim.c, preloaded into the shipped
# binary): the Nth write, fsync or read fails, once or until cleared, with
# ENOSPC or EIO; the index folder is deleted, the log folder replaced, the
# index made read-only.  Every failure reaches the caller as an error naming
# what failed; nothing acknowledged is lost; nothing is indexed twice; and
# once the fault clears, the index equals a clean rebuild of the same logs.
#   DNNPROV_FAULT_STEP   test every Nth call of a run (default 1: all of them)
. "$(dirname "$0")/../lib.sh"
TOOLS="$PWD/$BUILD/tests/tools"
SHIM="$PWD/$BUILD/tests/shims/faultshim.so"
STEP=${DNNPROV_FAULT_STEP:-1}
# Under SANITIZE=1 the shim comes before the ASan runtime in the load order.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"

indexer_config "$T/exp.yaml"
dump() { "$TOOLS/dump_index" "$1" | grep -v '^progress '; }
# Under SANITIZE=1 a leak or undefined behaviour on an error path shows in
# stderr; counted wherever a loop looks at a failed run's stderr.
sanitizer_reports=0
check_sanitizers() {
	if grep -q "Sanitizer\|runtime error" "$1"; then
		sanitizer_reports=$((sanitizer_reports + 1))
		head -n 20 "$1" >&2
	fi
}
# faulty VAR=VALUE... -- CMD...: runs CMD with the shim preloaded.
faulty() {
	local vars=()
	while [ "$1" != -- ]; do vars+=("$1"); shift; done
	shift
	env "${vars[@]}" DP_FAULT_LOG="$T/faults" LD_PRELOAD="$SHIM" "$@"
}

"$TOOLS/gen_logs" "$T/exp.yaml" 8 15 3
"$DNNPROV" index --log-dir "$T/logs" --index-dir "$T/ref" -q
dump "$T/ref" >"$T/ref.txt"

# --- the indexer's writes and syncs fail at every call of a catch-up ----------
# ONE run per call N: the catch-up fails with a clear error, and a run
# without the fault then gives the reference index.  N goes up until a run
# sees no fault (N is past the run's last call).
for spec in "write ENOSPC 0" "write EIO 1" "sync EIO 0" "sync ENOSPC 1"; do
	set -- $spec
	op=$1 err=$2 count=$3
	want=$([ "$err" = ENOSPC ] && echo "No space left on device" || echo "Input/output error")
	runs=0 unclear=0 mismatch=0 n=1
	while :; do
		rm -rf "$T/k" "$T/faults"
		set +e
		faulty DP_FAULT_OPS=$op DP_FAULT_ERRNO=$err DP_FAULT_NTH=$n DP_FAULT_COUNT=$count \
			DP_FAULT_PATH="$T/k/" -- "$DNNPROV" index --log-dir "$T/logs" --index-dir "$T/k" -q \
			--batch-records 25 2>"$T/k.err"
		st=$?
		set -e
		[ -s "$T/faults" ] || break
		runs=$((runs + 1))
		check_sanitizers "$T/k.err"
		# A fault in a call that does not decide the outcome (the lock file's
		# pid, a sync LMDB retries) may let the run succeed; a failed run
		# must say what failed.
		if [ "$st" != 0 ] && ! grep -q "^dnnprov: index: .*$want" "$T/k.err"; then
			unclear=$((unclear + 1))
			sed 's/^/    /' "$T/k.err" >&2
		fi
		"$DNNPROV" index --log-dir "$T/logs" --index-dir "$T/k" -q
		dump "$T/k" | cmp -s "$T/ref.txt" - || mismatch=$((mismatch + 1))
		n=$((n + STEP))
	done
	kind=$([ "$count" = 0 ] && echo persistent || echo transient)
	expect_eq "$kind $err on the index's ${op}s: every failed run names it" "$unclear" 0
	expect_eq "$kind $err on the index's ${op}s: a clean run afterwards gives the reference" "$mismatch" 0
	[ "$runs" -ge 3 ] && ok || fail "only $runs ${op} calls seen: the shim is not in the path"
	echo "  ($kind $err injected at each of the $runs index ${op}s of a catch-up)"
done

# --- the indexer's reads of the logs fail ---------------------------------------
runs=0 unclear=0 mismatch=0 problems=0 n=1
while :; do
	rm -rf "$T/k" "$T/faults"
	set +e
	faulty DP_FAULT_OPS=read DP_FAULT_ERRNO=EIO DP_FAULT_NTH=$n DP_FAULT_COUNT=1 \
		DP_FAULT_PATH="$T/logs/" -- "$DNNPROV" index --log-dir "$T/logs" --index-dir "$T/k" -q 2>"$T/k.err"
	st=$?
	set -e
	[ -s "$T/faults" ] || break
	runs=$((runs + 1))
	check_sanitizers "$T/k.err"
	if [ "$st" != 1 ] || ! grep -q "Input/output error (nothing skipped" "$T/k.err" ||
		! grep -q "could not be read.*; everything else is indexed" "$T/k.err"; then
		unclear=$((unclear + 1))
		sed 's/^/    /' "$T/k.err" >&2
	fi
	grep -q "(skipped)" "$T/k.err" && problems=$((problems + 1))
	"$DNNPROV" index --log-dir "$T/logs" --index-dir "$T/k" -q
	dump "$T/k" | cmp -s "$T/ref.txt" - || mismatch=$((mismatch + 1))
	n=$((n + STEP))
done
expect_eq "a failed log read: exit 1 naming the segment" "$unclear" 0
expect_eq "a failed log read is not a problem of the data" "$problems" 0
expect_eq "a failed log read: the next run completes the index" "$mismatch" 0
echo "  (EIO injected at each of the $runs reads of the logs)"

# The first segment of a task unreadable: its later segments wait for it
# instead of being skipped as epochs of a task that never began.
for d in "$T/logs/df/"*/; do
	[ "$(ls "$d" | wc -l)" -ge 2 ] && break
done
first=$(ls "$d"*.dnplog | head -n 1)
rm -rf "$T/k"
expect_status "an unreadable first segment: exit 1" 1 faulty DP_FAULT_OPS=read DP_FAULT_ERRNO=EIO \
	DP_FAULT_PATH="$first" -- "$DNNPROV" index --log-dir "$T/logs" --index-dir "$T/k" -q
expect_grep "its task's other segments wait" "more of the same tasks wait for them" "$T/err"
expect_eq "nothing is skipped meanwhile" "$(grep -c '(skipped)' "$T/err" || true)" 0
"$DNNPROV" index --log-dir "$T/logs" --index-dir "$T/k" -q
expect_status "then the index is whole" 0 cmp -s "$T/ref.txt" <(dump "$T/k")

# reindex never swaps in a generation that misses segments.
cp -a "$T/ref" "$T/r"
expect_status "reindex with an unreadable segment fails" 1 faulty DP_FAULT_OPS=read DP_FAULT_ERRNO=EIO \
	DP_FAULT_PATH="$first" -- "$DNNPROV" reindex --log-dir "$T/logs" --index-dir "$T/r" -q
expect_grep "and says the old index is kept" "the index in use is kept" "$T/err"
expect_eq "the old generation is still CURRENT" "$(readlink "$T/r/CURRENT")" "gen-000001"
expect_eq "the failed generation is removed" "$(ls -d "$T/r"/gen-* | wc -l)" 1
expect_status "and it still answers" 0 cmp -s "$T/ref.txt" <(dump "$T/r")

# --- an index whose first commit failed --------------------------------------------
# Its data file is empty (the first write failed) or holds no database (the
# first commit failed): a query says the index is empty, not that it is
# damaged, and the next catch-up fills it.
for n in 1 2; do
	rm -rf "$T/e"
	faulty DP_FAULT_OPS=write DP_FAULT_NTH=$n DP_FAULT_PATH="$T/e/gen" -- \
		"$DNNPROV" index --log-dir "$T/logs" --index-dir "$T/e" -q 2>/dev/null || true
	expect_status "first commit failed at write $n: a query exits 1" 1 "$DNNPROV" runs df --index-dir "$T/e"
	expect_grep "first commit failed at write $n: it says the index is empty" "is empty: nothing has been indexed yet" "$T/err"
	"$DNNPROV" index --log-dir "$T/logs" --index-dir "$T/e" -q
	expect_status "first commit failed at write $n: the next run fills it" 0 cmp -s "$T/ref.txt" <(dump "$T/e")
done

# --- a read-only index ---------------------------------------------------------------
rm -rf "$T/ro"
expect_status "an index folder on a read-only filesystem: exit 1" 1 faulty DP_FAULT_OPS=open,mkdir \
	DP_FAULT_ERRNO=EROFS DP_FAULT_PATH="$T/ro" -- "$DNNPROV" index --log-dir "$T/logs" --index-dir "$T/ro" -q
expect_grep "it names the folder and the reason" "^dnnprov: index: .*$T/ro.*Read-only file system" "$T/err"
expect_eq "nothing is created" "$(ls "$T/ro" 2>/dev/null | wc -l)" 0

# --- the writer's writes and syncs fail -------------------------------------------
# Appends whose write fails report the error and leave nothing behind; the
# next ones succeed; every acknowledged epoch is indexed once.
for spec in "write ENOSPC interval" "write EIO interval" "sync EIO always"; do
	set -- $spec
	op=$1 err=$2 mode=$3
	sed "s/segment_size: 4KiB/segment_size: 4KiB\n  durability: $mode/" "$T/exp.yaml" >"$T/w.yaml"
	rm -rf "$T/logs-w" "$T/iw" "$T/faults"
	sed -i "s|^log_dir: .*|log_dir: $T/logs-w|" "$T/w.yaml"
	lost=0 extra=0 nfailed=0
	for i in 1 2 3 4 5 6; do
		faulty DP_FAULT_OPS=$op DP_FAULT_ERRNO=$err DP_FAULT_NTH=$((i * 3 + 2)) DP_FAULT_COUNT=$i \
			DP_FAULT_PATH="$T/logs-w/" -- "$TOOLS/writer_child" "$T/w.yaml" "w$i" 40 keep-going \
			>"$T/acked$i" 2>"$T/werr$i" || true
		nfailed=$((nfailed + $(grep -c "^epoch " "$T/werr$i" || true)))
		check_sanitizers "$T/werr$i"
	done
	"$DNNPROV" index --log-dir "$T/logs-w" --index-dir "$T/iw" -q
	"$TOOLS/dump_index" "$T/iw" >"$T/w.txt"
	for i in 1 2 3 4 5 6; do
		acked=$(sort -n "$T/acked$i" | tr '\n' ' ')
		indexed=$(grep "^epochs df w$i " "$T/w.txt" | awk '{ print $4 }' | sort -n | tr '\n' ' ')
		for e in $acked; do
			case " $indexed " in *" $e "*) ;; *) lost=$((lost + 1)) ;; esac
		done
		# A failed write leaves nothing; a failed sync may leave the record
		# (written, durability unknown), which is then indexed once.
		for e in $indexed; do
			case " $acked " in *" $e "*) ;; *) [ "$op" = sync ] || extra=$((extra + 1)) ;; esac
		done
		[ "$(grep -c "^epochs df w$i " "$T/w.txt" || true)" = "$(echo $indexed | wc -w)" ] || extra=$((extra + 1))
	done
	expect_eq "$err on the writer's ${op}s: every acknowledged epoch indexed" "$lost" 0
	expect_eq "$err on the writer's ${op}s: nothing failed is indexed, nothing twice" "$extra" 0
	expect_eq "$err on the writer's ${op}s: no problem in the logs" "$(grep -c '^problems ' "$T/w.txt" || true)" 0
	[ "$nfailed" -gt 0 ] && ok || fail "$err on the writer's ${op}s: no append failed (the shim missed)"
	expect_grep "$err on the writer's ${op}s: the error says why" "$([ "$err" = EIO ] && echo "Input/output" || echo "No space")" "$T/werr6"
	echo "  ($err on the writer's ${op}s, $mode mode: $nfailed appends failed, $(grep -c '^epochs ' "$T/w.txt") indexed)"
done

# --- follow mode: the disk fills while writers go on, then frees up -------------
# wait_for DIR PATTERN: polls until a dump line matches (30 s at most).
wait_for() {
	for _ in $(seq 1 1500); do
		"$TOOLS/dump_index" "$1" 2>/dev/null | grep -q -- "$2" && return 0
		sleep 0.02
	done
	return 1
}
rm -rf "$T/f" "$T/faults" "$T/full"
# Not through faulty(): $! must be the follower's pid, not a subshell's.
env DP_FAULT_OPS=write,sync DP_FAULT_PATH="$T/f/" DP_FAULT_WHILE="$T/full" DP_FAULT_LOG="$T/faults" \
	LD_PRELOAD="$SHIM" "$DNNPROV" index --log-dir "$T/logs" --index-dir "$T/f" --follow --rescan-ms 200 -q 2>"$T/follow.err" &
fpid=$!
wait_for "$T/f" "^tasks df task-0007 " || fail "the follower did not catch up"
touch "$T/full"
"$TOOLS/gen_logs" "$T/exp.yaml" 4 15 3 8 # tasks 8-11
sleep 1.5
expect_eq "full disk: the follower keeps running" "$(kill -0 $fpid && echo yes)" yes
rm "$T/full"
wait_for "$T/f" "^tasks df task-0011 " || fail "full disk: the follower did not resume"
sleep 0.5
stop_follower $fpid "full disk"
check_sanitizers "$T/follow.err"
expect_grep "full disk: each failed batch is reported" "No space left on device.*; rolled back, retrying in" "$T/follow.err"
"$DNNPROV" index --log-dir "$T/logs" --index-dir "$T/fref" -q
dump "$T/fref" >"$T/fref.txt"
expect_status "full disk: the followed index equals a clean rebuild" 0 cmp -s "$T/fref.txt" <(dump "$T/f")
echo "  (full disk: $(grep -c 'rolled back' "$T/follow.err") batches rolled back, $(wc -l <"$T/faults") writes failed)"

# --- follow mode: the index folder is deleted --------------------------------------
rm -rf "$T/f"
"$DNNPROV" index --log-dir "$T/logs" --index-dir "$T/f" --follow --rescan-ms 200 -q 2>"$T/follow.err" &
fpid=$!
wait_for "$T/f" "^tasks df task-0011 " || fail "the follower did not catch up"
rm -rf "$T/f"
wait_for "$T/f" "^tasks df task-0011 " || fail "deleted index: not rebuilt"
stop_follower $fpid "deleted index"
expect_grep "deleted index: it is reported" "the index file .* is gone" "$T/follow.err"
expect_status "deleted index: rebuilt equal to a clean rebuild" 0 cmp -s "$T/fref.txt" <(dump "$T/f")

# --- follow mode: the log folder is replaced -----------------------------------------
"$DNNPROV" index --log-dir "$T/logs" --index-dir "$T/f" --follow --rescan-ms 200 -q 2>"$T/follow.err" &
fpid=$!
sleep 0.3
mv "$T/logs" "$T/logs.old"
sed 's/^dataflow: df/dataflow: df2/' "$T/exp.yaml" >"$T/df2.yaml"
"$TOOLS/gen_logs" "$T/df2.yaml" 2 5 4
wait_for "$T/f" "^tasks df2 task-0001 " || fail "replaced log folder: the new logs were not indexed"
stop_follower $fpid "replaced log folder"
expect_eq "replaced log folder: what was indexed stays" "$(dump "$T/f" | grep -c '^tasks df ')" 12
expect_eq "replaced log folder: nothing on stderr" "$(wc -c <"$T/follow.err")" 0
expect_eq "no sanitizer report on any error path" "$sanitizer_reports" 0
finish
