#!/usr/bin/env bash
# The indexer as a service: equal to a clean rebuild after SIGKILL at random
# points, exactly once for acknowledged appends of killed writers, follow
# mode picking up new tasks, rotated segments and new dataflows (how soon
# is printed; `make bench` measures the lag), consistent snapshots for readers, one indexer per index, status.
#   DNNPROV_KILLS   indexer kill iterations (default 50; `make stress` more)
. "$(dirname "$0")/lib.sh"
TOOLS="$PWD/$BUILD/tests/tools"
KILLS=${DNNPROV_KILLS:-50}

indexer_config "$T/exp.yaml"
IDX() { "$DNNPROV" index --log-dir "$T/logs" --index-dir "$1" -q "${@:2}"; }
dump() { "$TOOLS/dump_index" "$1" | grep -v '^progress ' ; }

"$TOOLS/gen_logs" "$T/exp.yaml" 30 40 7
IDX "$T/ref"
dump "$T/ref" >"$T/ref.txt"
expect_eq "the reference index has every task" "$(grep -c '^tasks ' "$T/ref.txt")" 30
expect_status "the reference is a consistent snapshot" 0 $PY tests/check_snapshot.py "$T/ref.txt"

# --- idempotence and rebuild --------------------------------------------------
IDX "$T/ref"
dump "$T/ref" >"$T/again.txt"
expect_status "a second run changes nothing" 0 cmp -s "$T/ref.txt" "$T/again.txt"
"$DNNPROV" reindex --log-dir "$T/logs" --index-dir "$T/ref" -q
dump "$T/ref" >"$T/again.txt"
expect_status "reindex gives the same index" 0 cmp -s "$T/ref.txt" "$T/again.txt"
expect_eq "reindex swapped generations" "$(readlink "$T/ref/CURRENT")" "gen-000002"
expect_eq "the old generation is gone" "$(ls -d "$T/ref"/gen-* | wc -l)" 1

# --- SIGKILL at random points of a catch-up -------------------------------------
start=$(date +%s%N)
IDX "$T/timing" --batch-records 20
full_ms=$((($(date +%s%N) - start) / 1000000))
[ "$full_ms" -lt 20 ] && full_ms=20
mismatches=0
killed=0
attempts=0
# Until KILLS runs have died mid-catch-up (a run that finishes first does not count).
while [ "$killed" -lt "$KILLS" ] && [ "$attempts" -lt $((KILLS * 4)) ]; do
	attempts=$((attempts + 1))
	rm -rf "$T/k"
	delay=$((RANDOM % (full_ms * 3 / 4) + 1))
	# Killed and waited for: the next run must not meet it still alive.
	"$DNNPROV" index --log-dir "$T/logs" --index-dir "$T/k" -q --batch-records 20 &
	pid=$!
	sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
	kill -9 $pid 2>/dev/null || true
	st=0
	wait $pid 2>/dev/null || st=$?
	[ "$st" = 137 ] && killed=$((killed + 1)) # it died of the kill, not done already
	IDX "$T/k"
	dump "$T/k" >"$T/k.txt"
	cmp -s "$T/ref.txt" "$T/k.txt" || { mismatches=$((mismatches + 1)); diff "$T/ref.txt" "$T/k.txt" | head -5 >&2; }
done
expect_eq "after $killed kills the index equals a clean rebuild each time" "$mismatches" 0
echo "  ($killed of $attempts runs were killed mid-catch-up; a full catch-up took ${full_ms} ms)"
[ "$killed" -ge "$KILLS" ] && ok || fail "only $killed of $KILLS kill points landed inside a catch-up"

# --- writers killed mid-stream ----------------------------------------------------
for i in 1 2 3 4 5 6 7 8; do
	"$TOOLS/writer_child" "$T/exp.yaml" "w$i" >"$T/acked$i" &
	pid=$!
	sleep "0.0$((RANDOM % 5 + 1))"
	kill -9 $pid 2>/dev/null || true
	wait $pid 2>/dev/null || true
done
IDX "$T/ref"
dump "$T/ref" >"$T/w.txt"
lost=0 wrong=0
for i in 1 2 3 4 5 6 7 8; do
	last=$(tail -n 1 "$T/acked$i")
	last=${last:-0}
	n=$(grep -c "^epochs df w$i " "$T/w.txt" || true)
	# Every acknowledged append is there; at most the one in flight more.
	if [ "$n" -lt "$last" ] || [ "$n" -gt $((last + 1)) ]; then lost=$((lost + 1)); echo "w$i: acked $last, indexed $n" >&2; fi
	# No garbage: each epoch's accuracy is 7 times its number.
	wrong=$((wrong + $(grep "^epochs df w$i " "$T/w.txt" | awk '{ e=$4; if (index($0, "\"accuracy\":" e*7 "}") == 0) print }' | wc -l)))
done
expect_eq "killed writers: every acknowledged append indexed once" "$lost" 0
expect_eq "killed writers: no wrong payload" "$wrong" 0
expect_eq "killed writers: no problem reported" "$(grep -c '^problems ' "$T/w.txt" || true)" 0

# --- follow mode ---------------------------------------------------------------------
# How soon the follower shows what was written is printed, not tested: the
# lag is a figure of `make bench`, measured where the machine's load is
# known.  What is tested is that it shows up at all while the follower runs;
# LIVENESS_MS only bounds a test that would otherwise wait forever.
LIVENESS_MS=30000
# wait_for PATTERN: polls the index until a line matches; prints the ms
# taken, or "never" after LIVENESS_MS.
wait_for() {
	local t0 now
	t0=$(date +%s%N)
	while :; do
		if "$TOOLS/dump_index" "$T/f" 2>/dev/null | grep -q -- "$1"; then
			echo $((($(date +%s%N) - t0) / 1000000))
			return 0
		fi
		now=$(date +%s%N)
		[ $(((now - t0) / 1000000)) -gt $LIVENESS_MS ] && { echo never; return 0; }
		sleep 0.01
	done
}
follow_suite() {
	local label=$1
	shift
	rm -rf "$T/f"
	"$DNNPROV" index --log-dir "$T/logs" --index-dir "$T/f" -q --follow "$@" 2>"$T/follow.err" &
	fpid=$!
	wait_for "^tasks df task-0029 " >/dev/null
	expect_status "$label: a second indexer is refused" 1 "$DNNPROV" index --log-dir "$T/logs" --index-dir "$T/f"
	expect_grep "$label: it says who holds the index" "another indexer (pid $fpid)" "$T/err"

	L="$DNNPROV log -c $T/exp.yaml"
	$L --task "new-$label" begin LEARNING_RATE=0.5 >/dev/null
	ms=$(wait_for "^tasks df new-$label ")
	expect_eq "$label: a new task appears" "$([ "$ms" != never ] && echo yes)" yes
	echo "  ($label: new task queryable after $ms ms)"

	# Rotation: 4 KiB segments fill after a dozen epochs of one writer.
	"$TOOLS/writer_child" "$T/exp.yaml" "rot-$label" 60 >/dev/null
	ms=$(wait_for "^tasks df rot-$label .*\"epochs\":60,")
	expect_eq "$label: the epochs of rotated segments appear" "$([ "$ms" != never ] && echo yes)" yes
	echo "  ($label: 60 epochs over rotated segments queryable after $ms ms)"
	expect_eq "$label: the writer rotated" "$(($(ls "$T/logs/df/rot-$label" | wc -l) > 1))" 1

	# A new dataflow in the same log folder (one per suite: its tasks are
	# new runs, not reruns of the last suite's).
	sed "s/^dataflow: df/dataflow: other-$label/" "$T/exp.yaml" >"$T/other.yaml"
	"$DNNPROV" log -c "$T/other.yaml" --task x begin LEARNING_RATE=1 >/dev/null
	ms=$(wait_for "^dataflows other-$label ")
	expect_eq "$label: a new dataflow appears" "$([ "$ms" != never ] && echo yes)" yes
	echo "  ($label: new dataflow queryable after $ms ms)"

	# Readers during ingestion see consistent snapshots.
	"$TOOLS/gen_logs" "$T/other.yaml" 20 60 3 &
	gpid=$!
	bad=0 snaps=0
	while kill -0 $gpid 2>/dev/null; do
		"$TOOLS/dump_index" "$T/f" >"$T/snap.txt" 2>/dev/null || continue
		snaps=$((snaps + 1))
		$PY tests/check_snapshot.py "$T/snap.txt" || bad=$((bad + 1))
	done
	wait $gpid
	expect_eq "$label: $snaps snapshots during ingestion were consistent" "$bad" 0
	# Caught up: --status on the live index reports no lag.
	t0=$(date +%s%N)
	until "$DNNPROV" index --log-dir "$T/logs" --index-dir "$T/f" --status 2>/dev/null | tail -n 1 | grep -q " 0 not yet; .* lag 0 bytes"; do
		[ $((($(date +%s%N) - t0) / 1000000)) -gt $LIVENESS_MS ] && break
		sleep 0.02
	done
	ms=$((($(date +%s%N) - t0) / 1000000))
	[ "$ms" -le $LIVENESS_MS ] && ok || fail "$label: the follower never caught up with the writers"
	echo "  ($label: caught up $ms ms after the writers stopped)"

	kill -TERM $fpid
	set +e
	wait $fpid
	st=$?
	set -e
	expect_eq "$label: SIGTERM commits and exits 0" "$st" 0
	rm -rf "$T/fref"
	IDX "$T/fref"
	dump "$T/fref" >"$T/fref.txt"
	dump "$T/f" >"$T/f.txt"
	expect_status "$label: the followed index equals a clean rebuild" 0 cmp -s "$T/fref.txt" "$T/f.txt"
	[ "$got" = 0 ] || { diff "$T/fref.txt" "$T/f.txt" | grep -v "^[<>] epochs" | cut -c1-300 | head -12 >&2; grep "task-0000" "$T/follow.err" >&2 || true; }
}
follow_suite inotify
DNNPROV_NO_INOTIFY=1 follow_suite rescan --rescan-ms 200

# --- status and problems -----------------------------------------------------------------
seg=$(ls "$T"/logs/df/task-0003/*.dnplog | head -n 1)
printf 'XXXX' | dd of="$seg" bs=1 seek=300 conv=notrunc status=none
rm -rf "$T/s"
set +e
IDX "$T/s" 2>"$T/index.err"
set -e
expect_grep "the problem is reported on stderr with its offset" "task-0003/.*: offset [0-9]*: .*(skipped)" "$T/index.err"
expect_status "status works" 0 "$DNNPROV" index --log-dir "$T/logs" --index-dir "$T/s" --status
expect_grep "status lists the problem" "problems (skipped):" "$T/out"
expect_grep "status names the segment and offset" "task-0003/.*: offset [0-9]*:" "$T/out"
expect_grep "status gives the lag" "lag 0 bytes" "$T/out" || grep -v " complete$" "$T/out" | head >&2
expect_status "status of a missing index" 1 "$DNNPROV" index --index-dir "$T/nothing" --status
expect_grep "it says so" "no index" "$T/err"
expect_eq "and creates nothing" "$(ls -d "$T/nothing" 2>/dev/null | wc -l)" 0
expect_status "index without logs" 1 "$DNNPROV" index --log-dir "$T/none" --index-dir "$T/x"
expect_grep "it names the folder" "no logs at $T/none" "$T/err"
finish
