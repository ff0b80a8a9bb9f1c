#!/usr/bin/env bash
# The follower under load: the LMDB map grows from 64 KiB, doubling many
# times, while queries run in a loop (none may fail or see fewer tasks than
# the one before); then a rotation storm (4 KiB segments from several
# writers at once) with the inotify event queue shrunk to 16 events, so
# that it overflows.  Each time the followed index must equal a clean
# rebuild of the same logs.  Times are printed, not asserted.
#   DNNPROV_GROWTH_TASKS    tasks of the map-growth run (default 300;
#                           `make stress` 8000: a map of 1 GiB)
#   DNNPROV_GROWTH_EPOCHS   epochs per task (default 120; `make stress` 500)
. "$(dirname "$0")/../lib.sh"
TOOLS="$PWD/$BUILD/tests/tools"
TASKS=${DNNPROV_GROWTH_TASKS:-300}
EPOCHS=${DNNPROV_GROWTH_EPOCHS:-120}
indexer_config "$T/exp.yaml"
sed -i 's/segment_size: 4KiB/segment_size: 1MiB/' "$T/exp.yaml"
dump() { "$TOOLS/dump_index" "$1" | grep -v '^progress '; }
# caught_up INDEX LOGS: waits until --status reports no lag (60 s at most).
caught_up() {
	for _ in $(seq 1 600); do
		"$DNNPROV" index --log-dir "$2" --index-dir "$1" --status 2>/dev/null | tail -n 1 |
			grep -q " 0 not yet; .* lag 0 bytes" && return 0
		sleep 0.1
	done
	return 1
}

# --- the map grows while queries run -----------------------------------------------
DNNPROV_INITIAL_MAP_SIZE=65536 "$DNNPROV" index --log-dir "$T/logs" --index-dir "$T/f" --follow \
	--rescan-ms 200 >"$T/follow.out" 2>"$T/follow.err" &
fpid=$!
start=$(date +%s%N)
"$TOOLS/gen_logs" "$T/exp.yaml" "$TASKS" "$EPOCHS" 17 &
gpid=$!
queries=0 failed_queries=0 shrank=0 last=0 answered=0
running=1
while [ "$running" = 1 ]; do
	kill -0 $gpid 2>/dev/null || running=0 # one more round after the writer ends
	if "$DNNPROV" runs df --index-dir "$T/f" --format csv >"$T/q.csv" 2>"$T/q.err"; then
		answered=1
		n=$(($(wc -l <"$T/q.csv") - 1))
		[ "$n" -lt 0 ] && n=0
		[ "$n" -lt "$last" ] && shrank=$((shrank + 1))
		last=$n
	elif [ "$answered" = 1 ] || ! grep -q "no dataflow 'df'\|no index at\|holds no index\|is empty" "$T/q.err"; then
		# Before the first commit there is no index (a folder without its
		# first generation yet) or no dataflow; after an answer, no query
		# may fail.
		failed_queries=$((failed_queries + 1))
		sed 's/^/    /' "$T/q.err" >&2
	fi
	queries=$((queries + 1))
done
wait $gpid
caught_up "$T/f" "$T/logs" || fail "map growth: the follower did not catch up"
ms=$((($(date +%s%N) - start) / 1000000))
stop_follower $fpid "map growth"
grows=$(sed -n 's/.*; \([0-9]*\) map growths.*/\1/p' "$T/follow.out")
map_mib=$(awk -v g="${grows:-0}" 'BEGIN { printf "%g", 64 * 2 ^ g / 1024 }')
index_mib=$(du -m "$T/f/$(readlink "$T/f/CURRENT")/data.mdb" | cut -f1)
expect_eq "map growth: no query failed" "$failed_queries" 0
expect_eq "map growth: no query saw fewer tasks than the one before" "$shrank" 0
[ "${grows:-0}" -ge 6 ] && ok || fail "map growth: the map grew ${grows:-0} times from 64 KiB"
"$DNNPROV" index --log-dir "$T/logs" --index-dir "$T/ref" -q
dump "$T/ref" >"$T/ref.txt"
dump "$T/f" >"$T/f.txt"
expect_status "map growth: the followed index equals a clean rebuild" 0 cmp -s "$T/ref.txt" "$T/f.txt"
[ "$got" = 0 ] || { diff "$T/ref.txt" "$T/f.txt" | cut -c1-240 | head -8 >&2; grep -v "^$" "$T/follow.err" | head -5 >&2; }
echo "  (map growth: $((TASKS * EPOCHS)) epochs in $ms ms; the map doubled ${grows:-0} times, from 64 KiB to $map_mib MiB, for $index_mib MiB of index; $queries queries ran meanwhile)"

# --- a rotation storm with a tiny inotify queue ------------------------------------------
indexer_config "$T/storm.yaml"
sed -i "s|^log_dir: .*|log_dir: $T/storm-logs|" "$T/storm.yaml"
mkdir -p "$T/storm-logs"
QUEUE=/proc/sys/fs/inotify/max_queued_events
saved=$(cat "$QUEUE")
shrunk=0
# The queue size is fixed when an inotify instance is created: shrunk for
# the follower's start only, and put back at once.
if (echo 16 >"$QUEUE") 2>/dev/null; then
	shrunk=1
	trap 'echo "$saved" >"$QUEUE" 2>/dev/null; rm -rf "$T"' EXIT
fi
"$DNNPROV" index --log-dir "$T/storm-logs" --index-dir "$T/s" --follow --rescan-ms 500 \
	>"$T/storm.out" 2>"$T/storm.err" &
spid=$!
sleep 0.3
[ "$shrunk" = 1 ] && echo "$saved" >"$QUEUE"
start=$(date +%s%N)
for i in 1 2 3 4 5 6; do
	"$TOOLS/writer_child" "$T/storm.yaml" "storm$i" 1500 >/dev/null &
done
wait $(jobs -p | grep -v "^$spid$") 2>/dev/null || true
wrote_ms=$((($(date +%s%N) - start) / 1000000))
segments=$(find "$T/storm-logs" -name '*.dnplog' | wc -l)
t0=$(date +%s%N)
caught_up "$T/s" "$T/storm-logs" || fail "rotation storm: the follower did not catch up"
lag_ms=$((($(date +%s%N) - t0) / 1000000))
stop_follower $spid "rotation storm"
overflows=$(sed -n 's/.*map growths, \([0-9]*\) event queue overflows.*/\1/p' "$T/storm.out")
if [ "$shrunk" = 1 ]; then
	[ "${overflows:-0}" -ge 1 ] && ok || fail "rotation storm: the 16-event queue never overflowed"
else
	echo "  (cannot shrink $QUEUE here: the overflow path is covered by the rescans only)"
fi
"$DNNPROV" index --log-dir "$T/storm-logs" --index-dir "$T/sref" -q
expect_status "rotation storm: the followed index equals a clean rebuild" 0 cmp -s <(dump "$T/sref") <(dump "$T/s")
expect_eq "rotation storm: every epoch is there" "$(dump "$T/s" | grep -c '^epochs ')" 9000
echo "  (rotation storm: $segments segments of 4 KiB in $wrote_ms ms; ${overflows:-0} queue overflows; caught up ${lag_ms} ms after the writers stopped, rescan period 500 ms)"
finish
