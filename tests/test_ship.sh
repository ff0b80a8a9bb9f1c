#!/usr/bin/env bash
# Shipping logs through NATS JetStream: a 3-node cluster on loopback ports,
# two "nodes" (log folders) shipped while their writers write, an index fed
# by the stream equal entry for entry to a local rebuild of the same logs;
# `ship` killed at random points, one server killed and all three stopped
# while shipping and indexing, the stream indexer killed between its commit
# and its acknowledgements, two indexers on two consumers; one-shot ship and
# index --from through a rolling restart of the servers, and giving up
# (--give-up-after) when every server is down, with nothing lost; forged
# and malformed messages aimed at a live segment; and the errors: a wrong
# address, an incompatible stream, a failed authorization, another
# producer's messages, a segment damaged after shipping began.
#   DNNPROV_SHIP_KILLS   ship kill iterations (default 20; `make stress` more)
#   DNNPROV_SHIP_ROLLS   rolling restarts of the three servers (default 1)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nats.sh"
TOOLS="$PWD/$BUILD/tests/tools"
SHIM="$PWD/$BUILD/tests/shims/natsshim.so"
KILLS=${DNNPROV_SHIP_KILLS:-20}
ROLLS=${DNNPROV_SHIP_ROLLS:-1}
# How long a follower may take to show what was written: only a bound on a
# test that would otherwise wait for ever, never an expectation.
LIVENESS=90
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"

dump() { "$TOOLS/dump_index" "$1"; }
# experiment DIR DATAFLOW: an experiment file (DIR/exp.yaml) logging to DIR/logs
experiment() {
	mkdir -p "$1"
	indexer_config "$1/exp.yaml"
	sed -i "s/^dataflow: df$/dataflow: $2/" "$1/exp.yaml"
}
# reference OUT DIR...: a local rebuild of the logs of the DIRs, merged
reference() {
	local out=$1 d
	shift
	rm -rf "$T/merged"
	mkdir -p "$T/merged/logs"
	for d in "$@"; do cp -a "$d/logs/." "$T/merged/logs/"; done
	"$DNNPROV" reindex --log-dir "$T/merged/logs" --index-dir "$T/merged/index" -q
	dump "$T/merged/index" >"$out"
}
# converge INDEX REF: waits until the index dumps as REF does
converge() {
	local t0
	t0=$(date +%s)
	while :; do
		if dump "$1" >"$T/conv.txt" 2>/dev/null && cmp -s "$T/conv.txt" "$2"; then return 0; fi
		[ $(($(date +%s) - t0)) -gt $LIVENESS ] && { diff "$2" "$T/conv.txt" | head -5 >&2; return 1; }
		sleep 0.2
	done
}
SHIP() { "$DNNPROV" ship -q --to "$NATS_URLS" "$@"; }
FROM() { "$DNNPROV" index -q --from "$NATS_URLS" "$@"; }
# again_if_waiting CMD...: a catch-up from the stream, run a second time
# when the first stops with messages waiting for earlier parts, as its
# error tells a user to do: JetStream may hold a message back from a
# consumer for a while (delivered to a fetch that had expired, it comes
# again only after the ack wait) and the catch-up does not wait for ever.
# Both runs' words are kept; each second run is counted and told.
again_if_waiting() {
	local st=0
	"$@" || st=$?
	if [ "$st" = 1 ] && grep -q "wait for earlier parts of their segments" "$T/err"; then
		echo "$*" >>"$T/again"
		st=0
		"$@" || st=$?
	fi
	return $st
}
# split_segment SEG WHICH REST: cuts SEG before its frame WHICH ("mid", or
# a frame's number from 0) and moves what follows to REST, as a writer not
# done yet would have it; prints the cut's offset and the header's length.
split_segment() {
	$PY - "$@" <<'PY'
import struct, sys
p, which, rest = sys.argv[1:4]
b = open(p, "rb").read()
h = 20 + struct.unpack(">I", b[12:16])[0]
off, frames = h, []
while off < len(b):
    frames.append(off)
    off += 16 + struct.unpack(">I", b[off + 4:off + 8])[0]
cut = frames[len(frames) // 2 if which == "mid" else int(which)]
open(rest, "wb").write(b[cut:])
open(p, "wb").write(b[:cut])
print(cut, h)
PY
}

nats_start

# --- two nodes, concurrent writers, followed on both sides ----------------------
experiment "$T/a" df
experiment "$T/b" df
"$DNNPROV" index -q --index-dir "$T/x1" --from "$NATS_URLS" --dataflow df --follow 2>"$T/x1.err" &
x1=$!
"$DNNPROV" ship -q -c "$T/a/exp.yaml" --to "$NATS_URLS" --follow 2>"$T/sa.err" &
sa=$!
"$DNNPROV" ship -q -c "$T/b/exp.yaml" --to "$NATS_URLS" --follow 2>"$T/sb.err" &
sb=$!
"$TOOLS/gen_logs" "$T/a/exp.yaml" 12 30 1 0 &
ga=$!
"$TOOLS/gen_logs" "$T/b/exp.yaml" 12 30 2 100 &
gb=$!
"$TOOLS/gen_logs" "$T/a/exp.yaml" 6 30 3 200 &
gc=$!
wait $ga $gb $gc
reference "$T/two.txt" "$T/a" "$T/b"
expect_eq "two nodes: the reference has every task" "$(grep -c '^tasks df ' "$T/two.txt")" 30
converge "$T/x1" "$T/two.txt" && ok || fail "two nodes: the followed stream index never equalled a local rebuild"
expect_status "two nodes: ship --status" 0 "$DNNPROV" ship -c "$T/a/exp.yaml" --status
expect_grep "ship --status lists complete segments" "complete" "$T/out"
expect_grep "ship --status names the shipper" "shipper: running (pid $sa)" "$T/out"
stop_follower $sa "ship A"
stop_follower $sb "ship B"
stop_follower $x1 "stream indexer"
expect_status "ship --status: nothing left" 0 "$DNNPROV" ship -c "$T/a/exp.yaml" --status
expect_grep "ship --status: lag 0" "lag 0 bytes" "$T/out"
expect_grep "ship --status: the shipper stopped" "shipper: not running" "$T/out"
expect_status "a second ship resumes: nothing is sent again" 0 "$DNNPROV" ship -c "$T/a/exp.yaml" --to "$NATS_URLS"
expect_grep "a second ship ships nothing" "^shipped 0 records" "$T/out"
expect_eq "the stream has 3 replicas" "$("$NATS_TOOL" stream "$NATS_URLS" DNNPROV | cut -d' ' -f1)" "replicas=3"

# --- names that are no subject tokens as they are --------------------------------
experiment "$T/n" n
sed -i 's/^dataflow: n$/dataflow: "lr 0.1 *>ß"/' "$T/n/exp.yaml"
"$TOOLS/gen_logs" "$T/n/exp.yaml" 3 10 8 0
expect_status "a dataflow named with a dot, spaces, '*', '>' and a non-ASCII letter ships" 0 \
	"$DNNPROV" ship -c "$T/n/exp.yaml" --to "$NATS_URLS"
expect_status "and is indexed from its own subjects" 0 \
	"$DNNPROV" index --index-dir "$T/xn" --from "$NATS_URLS" --dataflow "lr 0.1 *>ß"
reference "$T/n.txt" "$T/n"
dump "$T/xn" >"$T/xn.txt"
expect_status "such names: the stream index equals a local rebuild" 0 cmp -s "$T/n.txt" "$T/xn.txt"
expect_eq "it has every task" "$(grep -c '^tasks lr 0.1 \*>ß ' "$T/xn.txt")" 3

# --- ship killed at random points ------------------------------------------------
experiment "$T/k" k
"$TOOLS/gen_logs" "$T/k/exp.yaml" 6 40 4 0
killed=0 attempts=0
while [ "$killed" -lt "$KILLS" ] && [ "$attempts" -lt $((KILLS * 4)) ]; do
	attempts=$((attempts + 1))
	# More to ship at every turn, and one frame per message, one at a time:
	# the kill lands while messages are in flight.
	"$TOOLS/gen_logs" "$T/k/exp.yaml" 3 40 $((attempts + 10)) $((attempts * 10 + 100)) >/dev/null
	"$DNNPROV" ship -q -c "$T/k/exp.yaml" --to "$NATS_URLS" --max-inflight 1 --message-bytes 1 2>>"$T/k.err" &
	pid=$!
	sleep "0.$(printf '%03d' $((RANDOM % 300 + 50)))"
	kill -9 $pid 2>/dev/null || true
	st=0
	wait $pid 2>/dev/null || st=$?
	[ "$st" = 137 ] && killed=$((killed + 1))
done
echo "  ($killed of $attempts ship runs were killed mid-shipping)"
[ "$killed" -ge "$KILLS" ] && ok || fail "only $killed of $KILLS kills landed while shipping"
expect_status "after the kills, a ship finishes" 0 "$DNNPROV" ship -c "$T/k/exp.yaml" --to "$NATS_URLS"
reference "$T/k.txt" "$T/k"
expect_status "after the kills, the stream indexer catches up" 0 "$DNNPROV" index --index-dir "$T/xk" --from "$NATS_URLS" --dataflow k
dump "$T/xk" >"$T/xk.txt"
expect_status "after $killed ship kills, nothing lost or doubled: the stream index equals a local rebuild" 0 cmp -s "$T/k.txt" "$T/xk.txt"

# --- publishes the servers refuse: sent again, the gaps they leave filled -----------
experiment "$T/r" r
"$TOOLS/gen_logs" "$T/r/exp.yaml" 8 40 7 0
DNNPROV_REJECT_EVERY=7 LD_PRELOAD="$SHIM" expect_status "ship through refused publishes" 0 \
	"$DNNPROV" ship -c "$T/r/exp.yaml" --to "$NATS_URLS" --message-bytes 512
again=$(sed -n 's/.*; \([0-9]*\) publishes sent again.*/\1/p' "$T/out")
[ "${again:-0}" -gt 0 ] && ok || fail "no publish was refused (got '$again')"
reference "$T/r.txt" "$T/r"
expect_status "the stream indexer through the gaps" 0 "$DNNPROV" index --index-dir "$T/xr" --from "$NATS_URLS" --dataflow r
waited=$(sed -n 's/.*, \([0-9]*\) offered again.*/\1/p' "$T/out")
[ "${waited:-0}" -gt 0 ] && ok || fail "no message came before an earlier part of its segment (got '$waited')"
dump "$T/xr" >"$T/xr.txt"
expect_status "refused publishes: the stream index equals a local rebuild" 0 cmp -s "$T/r.txt" "$T/xr.txt"

# --- a server killed, then all three stopped, while shipping and indexing ------------
experiment "$T/f" f
"$DNNPROV" index -q --index-dir "$T/xf" --from "$NATS_URLS" --dataflow f --follow 2>"$T/xf.err" &
xf=$!
"$DNNPROV" ship -q -c "$T/f/exp.yaml" --to "$NATS_URLS" --follow 2>"$T/sf.err" &
sf=$!
writers() {
	for i in 1 2 3 4 5 6; do
		"$TOOLS/gen_logs" "$T/f/exp.yaml" 2 30 $((i + $1)) $((i * 10 + $1)) >/dev/null
		sleep 0.3
	done
}
writers 0 &
w=$!
sleep 0.6
victim=$((RANDOM % 3 + 1))
nats_kill $victim
sleep 1.5
nats_run $victim
wait $w
# The restarted server back in the stream's group, a leader elected: the
# outage below starts from a settled cluster, whatever this machine's speed.
nats_ready DNNPROV || fail "the cluster never settled after the restart"
# Every server down: one-shot commands wait a bounded time (--give-up-after),
# say what they waited for, exit 1 and lose nothing; a follower given a
# bound does the same.  The one-shot ship sends one frame at a time, each
# 20 ms late, so it is still at work when the servers go.
experiment "$T/o" o
"$TOOLS/gen_logs" "$T/o/exp.yaml" 4 40 33 0
DNNPROV_PUBLISH_DELAY_MS=20 LD_PRELOAD="$SHIM" "$DNNPROV" ship -c "$T/o/exp.yaml" --to "$NATS_URLS" \
	--give-up-after 2s --max-inflight 1 --message-bytes 1 >"$T/o.out" 2>"$T/o.err" &
so=$!
"$DNNPROV" index --index-dir "$T/xo" --from "$NATS_URLS" --dataflow o --follow --give-up-after 2s 2>"$T/xo.err" &
xo=$!
writers 1000 &
w=$!
# Once the one-shot ship is shipping (the cluster may still be electing
# leaders after the restart above).
for _ in $(seq $((LIVENESS * 10))); do grep -q "connected to" "$T/o.err" && break; sleep 0.1; done
grep -q "connected to" "$T/o.err" || fail "the one-shot ship never connected before the outage: $(cat "$T/o.err")"
sleep 0.3
nats_kill 1
nats_kill 2
nats_kill 3
# an outage: the writers go on, shipping waits
"$DNNPROV" index --index-dir "$T/xo2" --from "$NATS_URLS" --dataflow o --give-up-after 1s 2>"$T/xo2.err" &
xo2=$!
sleep 1
st=0
wait $so || st=$?
expect_eq "ship with every server down: exit 1 after --give-up-after" "$st" 1
expect_grep "it said what it waited for" "ship: disconnected from nats://127.0.0.1:[0-9]*: reconnecting" "$T/o.err"
expect_grep "it says it gave up, and on what" "ship: nats://127.0.0.1:[0-9]*: disconnected; gave up after 2s of failures (--give-up-after)" "$T/o.err"
st=0
wait $xo2 || st=$?
expect_eq "index --from with every server down: exit 1 after --give-up-after" "$st" 1
expect_grep "it says on what it gave up" "no server answered (refused, unreachable or no such host); gave up after 1s of failures" "$T/xo2.err"
st=0
wait $xo || st=$?
expect_eq "a follower given --give-up-after gives up too" "$st" 1
expect_grep "it says so" "; gave up after 2s of failures (--give-up-after)" "$T/xo.err"
for i in 1 2 3; do nats_run $i; done
wait $w
nats_ready
reference "$T/f.txt" "$T/f"
converge "$T/xf" "$T/f.txt" && ok || fail "server killed and outage: the followed stream index never equalled a local rebuild"
expect_grep "ship said the servers were gone" "disconnected from" "$T/sf.err"
expect_grep "ship said when they were back" "connected to" "$T/sf.err"
stop_follower $sf "ship through faults"
stop_follower $xf "stream indexer through faults"
expect_status "ship --status after giving up" 0 "$DNNPROV" ship -c "$T/o/exp.yaml" --status
grep -q " open$" "$T/out" && ok || fail "the ship that gave up had shipped everything: nothing was cut short"
expect_status "servers back: ship ships the rest" 0 SHIP -c "$T/o/exp.yaml"
expect_status "and index --from indexes it" 0 FROM --index-dir "$T/xo" --dataflow o
reference "$T/o.txt" "$T/o"
dump "$T/xo" >"$T/xo.txt"
expect_status "given up and run again: nothing lost, the stream index equals a local rebuild" 0 cmp -s "$T/o.txt" "$T/xo.txt"

# --- the stream indexer killed between its commit and its acknowledgement -------------
set +e
DNNPROV_KILL_AT_ACK=1 LD_PRELOAD="$SHIM" "$DNNPROV" index -q --index-dir "$T/xc" --from "$NATS_URLS" \
	--dataflow df --consumer crash --ack-wait 2s 2>/dev/null
st=$?
set -e
expect_eq "the indexer died at its first acknowledgement" "$st" 137
[ "$(dump "$T/xc" | grep -c '^progress ' || true)" -gt 0 ] && ok || fail "the killed indexer had committed nothing"
expect_status "the indexer after the crash" 0 "$DNNPROV" index --index-dir "$T/xc" --from "$NATS_URLS" --dataflow df --consumer crash
had=$(sed -n 's/.*; \([0-9]*\) already indexed.*/\1/p' "$T/out")
[ "${had:-0}" -gt 0 ] && ok || fail "the redelivered messages were not recognised as indexed (got '$had')"
dump "$T/xc" >"$T/xc.txt"
expect_status "no record applied twice: the index equals a local rebuild" 0 cmp -s "$T/two.txt" "$T/xc.txt"

# --- a segment damaged after shipping began --------------------------------------------
experiment "$T/d" d
sed -i 's/segment_size: 4KiB/segment_size: 1MiB/' "$T/d/exp.yaml"
"$TOOLS/gen_logs" "$T/d/exp.yaml" 2 30 5 0
seg=$(ls "$T"/d/logs/d/task-0001/*.dnplog | tail -1)
# The last segment of a task: its second half is held back (a writer not
# done yet), the first shipped, then the rest put back with a byte of a
# record flipped.
split_segment "$seg" mid "$T/rest" >/dev/null
expect_status "a segment half written ships" 0 "$DNNPROV" ship -c "$T/d/exp.yaml" --to "$NATS_URLS"
$PY - "$seg" "$T/rest" <<'PY'
import sys
p, rest = sys.argv[1], sys.argv[2]
r = bytearray(open(rest, "rb").read())
r[20] ^= 0xFF  # inside the payload of its first record
open(p, "ab").write(bytes(r))
PY
expect_status "the damaged rest ships" 0 "$DNNPROV" ship -c "$T/d/exp.yaml" --to "$NATS_URLS"
expect_grep "ship reports the damage" "bad checksum (skipped)" "$T/err"
reference "$T/d.txt" "$T/d"
expect_eq "the local rebuild has the problem too" "$(grep -c '^problems ' "$T/d.txt")" 1
expect_status "the damaged segment through the stream" 0 "$DNNPROV" index --index-dir "$T/xd" --from "$NATS_URLS" --dataflow d
dump "$T/xd" >"$T/xd.txt"
expect_status "damage: the stream index equals a local rebuild, problem and all" 0 cmp -s "$T/d.txt" "$T/xd.txt"

# --- another producer's messages on the subjects ---------------------------------------
"$NATS_TOOL" pub "$NATS_URLS" dnnprov.df.intruder "hello" >/dev/null
"$NATS_TOOL" pub "$NATS_URLS" dnnprov.df.intruder "not frames" Dnnprov-Segment=df/intruder/0000000001-h-1.dnplog \
	Dnnprov-Offset=100 Dnnprov-Header=0 >/dev/null
"$NATS_TOOL" pub "$NATS_URLS" dnnprov.df.intruder "not frames" Dnnprov-Segment=df/intruder/0000000001-h-1%2Ednplog \
	Dnnprov-Offset=100 Dnnprov-Header=0 >/dev/null
expect_status "foreign messages: the indexer goes on" 0 "$DNNPROV" index --index-dir "$T/x1" --from "$NATS_URLS" --dataflow df
expect_grep "a message without headers is reported" "on dnnprov.df.intruder: no Dnnprov-Segment header" "$T/err"
expect_grep "a message with malformed headers is reported" "malformed Dnnprov-Segment header" "$T/err"
expect_grep "a message that is not frames is reported" "not whole frames of a dnnprov segment (acknowledged, not applied)" "$T/err"
dump "$T/x1" >"$T/x1.txt"
expect_status "foreign messages change nothing" 0 cmp -s "$T/two.txt" "$T/x1.txt"

# --- two indexers on two consumers ---------------------------------------------------------
expect_status "indexer one (every dataflow)" 0 again_if_waiting "$DNNPROV" index --index-dir "$T/all1" --from "$NATS_URLS" --consumer one
cp "$T/err" "$T/all1.err"
# The second from a 64 KiB map, which has to grow many times on the way.
DNNPROV_INITIAL_MAP_SIZE=65536 expect_status "indexer two (every dataflow, a map that grows)" 0 \
	again_if_waiting "$DNNPROV" index --index-dir "$T/all2" --from "$NATS_URLS" --consumer two
dump "$T/all1" >"$T/all1.txt"
dump "$T/all2" >"$T/all2.txt"
expect_status "two consumers build identical indexes" 0 cmp -s "$T/all1.txt" "$T/all2.txt"
reference "$T/all.txt" "$T/a" "$T/b" "$T/n" "$T/k" "$T/r" "$T/f" "$T/d" "$T/o"
expect_status "and they equal a local rebuild of every node's logs" 0 cmp -s "$T/all.txt" "$T/all1.txt"

# --- health events published to the stream (docs/STEERING.md) ----------------------------
# gen_logs writes NaNs: an indexer with `nats: true` publishes each event
# to dnnprov.events.<dataflow> and runs on_event; the stream holds them, and
# an indexer that gets them back through its consumer acknowledges them
# without a word and builds the same index.
cat >"$T/events.yaml" <<YAML
nats: true
on_event: ['sh', '-c', 'cat >> $T/told.jsonl; echo >> $T/told.jsonl']
YAML
expect_status "an indexer that publishes its events" 0 \
	again_if_waiting "$DNNPROV" index --index-dir "$T/all3" --from "$NATS_URLS" --consumer three --events "$T/events.yaml"
nevents=$("$DNNPROV" sql --index-dir "$T/all3" "select count(*) from events where dataflow = 'df'" --format csv | tail -n 1 | tr -d '\r')
expect_eq "the command got every event" "$(grep -c '"id"' "$T/told.jsonl")" \
	"$("$DNNPROV" sql --index-dir "$T/all3" "select count(*) from events" --format csv | tail -n 1 | tr -d '\r')"
expect_status "the stream holds them" 0 "$NATS_TOOL" last "$NATS_URLS" DNNPROV dnnprov.events.df
expect_eq "on dnnprov.events.<dataflow>, with the id in Dnnprov-Event" \
	"$(cut -f1 "$T/out" | cut -d/ -f1,3)" "df/nan"
expect_eq "the body is the event" "$(cut -f2- "$T/out" | $PY -c 'import json, sys; print(json.load(sys.stdin)["rule"])')" nan
[ "$nevents" -gt 0 ] && ok || fail "gen_logs wrote no event: the test proves nothing"
expect_status "an indexer that gets the events back" 0 again_if_waiting "$DNNPROV" index --index-dir "$T/all4" --from "$NATS_URLS" --consumer four
# The messages reported, each once however often JetStream delivered it
# (at least once: a redelivered message is reported again).
refused() { sed -n 's/.*stream message \([0-9]*\) on .*(acknowledged, not applied)$/\1/p' "$1" | sort -un | paste -sd' '; }
expect_eq "acknowledges them without a word" "$(refused "$T/err")" "$(refused "$T/all1.err")"
expect_eq "(the intruder's three are among them)" "$(refused "$T/all1.err" | wc -w)" 3
dump "$T/all4" >"$T/all4.txt"
expect_status "and builds the same index" 0 cmp -s "$T/all1.txt" "$T/all4.txt"

# --- one-shot commands through servers killed, restarted, rolled ----------------------
# ship and index --from without --follow, run again and again while the
# servers are restarted one by one: each keeps the cluster's quorum, so
# every run must end well (retrying through leader elections), and the
# index equal a local rebuild.
experiment "$T/h" h
"$TOOLS/gen_logs" "$T/h/exp.yaml" 2 20 31 0
# runs_while_rolling: ship and index --from, side by side, again and again
# until $T/rolled exists; one line per run in $T/runs
runs_while_rolling() {
	local n=10 s
	while [ ! -e "$T/rolled" ]; do
		"$TOOLS/gen_logs" "$T/h/exp.yaml" 1 20 $((n + 40)) $n >/dev/null
		n=$((n + 1))
		"$DNNPROV" ship -q -c "$T/h/exp.yaml" --to "$NATS_URLS" --give-up-after 60s --max-inflight 4 \
			--message-bytes 256 2>>"$T/h.err" &
		s=$!
		st=0
		FROM --index-dir "$T/xh" --dataflow h --give-up-after 60s 2>>"$T/xh.err" || st=$?
		echo "index exit $st: $(tail -1 "$T/xh.err")" >>"$T/runs"
		st=0
		wait $s || st=$?
		echo "ship exit $st: $(tail -1 "$T/h.err")" >>"$T/runs"
	done
}
runs_while_rolling &
runner=$!
for r in $(seq "$ROLLS"); do
	for i in 1 2 3; do
		sleep 1
		nats_kill $i
		sleep 1.5
		nats_run $i
	done
done
sleep 1
touch "$T/rolled"
wait $runner
nats_ready
echo "  ($(wc -l <"$T/runs") one-shot runs during $ROLLS rolling restart(s); $(cat "$T/h.err" "$T/xh.err" | grep -c retrying) retries told)"
expect_eq "one-shot ship and index --from through a rolling restart: every run ends well" \
	"$(grep -v '^[a-z]* exit 0:' "$T/runs" || true)" ""
expect_status "a last ship" 0 SHIP -c "$T/h/exp.yaml"
expect_status "a last index --from" 0 FROM --index-dir "$T/xh" --dataflow h
reference "$T/h.txt" "$T/h"
dump "$T/xh" >"$T/xh.txt"
expect_status "through the restarts: the stream index equals a local rebuild" 0 cmp -s "$T/h.txt" "$T/xh.txt"

# --- forged and malformed messages on a live segment ------------------------------
# A segment half shipped (its writer not done yet) and indexed from the
# stream; then another publisher's messages aimed at it: headers of every
# malformed kind, each refused and reported, and well-formed claims of
# damage over the bytes still to come, which give way to them.  The rest
# ships, and the stream index equals a local rebuild.
experiment "$T/g" g
sed -i 's/segment_size: 4KiB/segment_size: 1MiB/' "$T/g/exp.yaml"
"$TOOLS/gen_logs" "$T/g/exp.yaml" 1 5 9 0
seg=$(ls "$T"/g/logs/g/*/*.dnplog | head -1)
rel=${seg#"$T/g/logs/"}
cut=$(split_segment "$seg" 3 "$T/g.rest" | cut -d" " -f1)
expect_status "the first part of a segment ships" 0 "$DNNPROV" ship -c "$T/g/exp.yaml" --to "$NATS_URLS"
expect_status "and is indexed" 0 FROM --index-dir "$T/xg" --dataflow g
# The segment's names as the shipper spells them.
tok() { $PY -c 'import sys,re; print(re.sub(r"[^A-Za-z0-9_/-]", lambda m: "".join("%%%02X" % c for c in m.group().encode()), sys.argv[1]))' "$1"; }
S=$(tok "$rel")
task=$(echo "$rel" | cut -d/ -f2)
SUBJ="dnnprov.g.$(tok "$task")"
EARLIER="g/$(tok "$task")/0000000000-h-1%2Ednplog"
OTHER="g/other/0000000001-h-1%2Ednplog"
printf x >"$T/x.body"
# forge REASON BODY KEY=VALUE...: publishes on the task's subject; the
# indexer must refuse it for REASON
FORGED=()
forge() {
	local why=$1 body=$2 subj=$SUBJ
	shift 2
	[ "${1%%=*}" = subject ] && { subj=${1#subject=}; shift; }
	FORGED+=("$("$NATS_TOOL" pub "$NATS_URLS" "$subj" "$body" "$@")|$why|$*")
}
claim=(Dnnprov-Offset=$cut Dnnprov-Header=0 Dnnprov-Problem="3 64")
forge "malformed Dnnprov-Segment header '$S%00b'" "" Dnnprov-Segment="$S%00b" "${claim[@]}"
forge "malformed Dnnprov-Segment header" "" Dnnprov-Segment="${S/\%2E/%00}" "${claim[@]}"
forge "malformed Dnnprov-Segment header" "" Dnnprov-Segment="${S/\%2E/%2e}" "${claim[@]}"
forge "not the shipper's encoding" "" Dnnprov-Segment="%67${S#g}" "${claim[@]}"
forge "not the shipper's encoding" "" Dnnprov-Segment="g%2F${S#g/}" "${claim[@]}"
forge "not <dataflow>/<task>/<file>" "" Dnnprov-Segment="g/$(tok "$task")%2F${S#g/}" "${claim[@]}"
forge "no valid tag" "" Dnnprov-Segment="g/%2E%2E/${S##*/}" "${claim[@]}"
forge "no valid tag" "" Dnnprov-Segment="g/$(tok "$task")/%0A${S##*/}" "${claim[@]}"
forge "no valid tag" "" Dnnprov-Segment="g/$(tok "$task")/$(printf 'a%.0s' $(seq 200))%2Ednplog" "${claim[@]}"
forge "too long for a segment path" "" Dnnprov-Segment="g/$(tok "$task")/$(printf '%%41%.0s' $(seq 400))" "${claim[@]}"
forge "not named \*.dnplog" "" Dnnprov-Segment="g/$(tok "$task")/x" "${claim[@]}"
forge "malformed Dnnprov-Segment header" "" Dnnprov-Segment="$S/" "${claim[@]}"
forge "its subject is not the task of segment" "" subject=dnnprov.g.other Dnnprov-Segment="$S" "${claim[@]}"
for o in "+$cut" "-$cut" "0$cut" "${cut}x" "$cut 1" "0x10" "1e3" "18446744073709551616" \
	"99999999999999999999" "18446744073709551615" "1099512676369"; do
	forge "malformed Dnnprov-Offset header" "" Dnnprov-Segment="$S" Dnnprov-Offset="$o" Dnnprov-Header=0 \
		Dnnprov-Problem="3 64"
done
for h in "-1" "00" "1" "65537" "4294967296" " 0x0"; do
	forge "malformed Dnnprov-Header header" "" Dnnprov-Segment="$S" Dnnprov-Offset=$cut Dnnprov-Header="$h" \
		Dnnprov-Problem="3 64"
done
for p in "1 9223372036854775808" "3 9223372036854775808" "3 18446744073709551615" "3 18446744073709551616" \
	"3 -1" "3 0" "3" "3 64 x" "3  64" "3 064" "-3 64" "0 64" "1 64" "100 64" "8 64" "2 2000000" "4 1048593" \
	"6 64" "5 64" "3 1099512676369"; do
	forge "malformed Dnnprov-Problem header" "" Dnnprov-Segment="$S" Dnnprov-Offset=$cut Dnnprov-Header=0 \
		Dnnprov-Problem="$p"
done
forge "a problem comes without bytes" @"$T/x.body" Dnnprov-Segment="$S" "${claim[@]}"
for a in "$OTHER 5" "$S 0" "$EARLIER" "$EARLIER -1" "$EARLIER 5x" "$EARLIER  5" "g/$(tok "$task")/0000000002-h-1%2Ednplog 5"; do
	forge "malformed Dnnprov-After header" "" Dnnprov-Segment="$S" "${claim[@]}" Dnnprov-After="$a"
done
forge "given more than once" "" Dnnprov-Segment="$S" "${claim[@]}" Dnnprov-Offset=$cut
forge "given more than once" "" Dnnprov-Segment="$S" "${claim[@]}" Dnnprov-Segment="$S"
# Well-formed claims of damage where the rest of the segment will be: each
# recorded as a problem until the frames come, which win.
"$NATS_TOOL" pub "$NATS_URLS" "$SUBJ" "" Dnnprov-Segment="$S" Dnnprov-Offset=$cut Dnnprov-Header=0 \
	Dnnprov-Problem="3 1048576" >/dev/null
"$NATS_TOOL" pub "$NATS_URLS" "$SUBJ" "" Dnnprov-Segment="$S" Dnnprov-Offset=$((cut + 1048576)) Dnnprov-Header=0 \
	Dnnprov-Problem="2 64" >/dev/null
expect_status "the forged messages: the indexer goes on" 0 FROM --index-dir "$T/xg" --dataflow g
cp "$T/err" "$T/g.err"
for f in "${FORGED[@]}"; do
	seq=${f%%|*} why=${f#*|} what=${why#*|} why=${why%%|*}
	grep -q "stream message $seq on .*$why.*(acknowledged, not applied)" "$T/g.err" && ok ||
		fail "forged message $seq ($what): no '$why' in its report: $(grep "stream message $seq " "$T/g.err")"
done
expect_eq "every forged message is refused" "$(grep -c 'acknowledged, not applied' "$T/g.err")" ${#FORGED[@]}
expect_grep "the well-formed claims are problems meanwhile" "offset $cut: garbage" "$T/g.err"
cat "$T/g.rest" >>"$seg"
expect_status "the rest of the segment ships" 0 "$DNNPROV" ship -c "$T/g/exp.yaml" --to "$NATS_URLS"
expect_status "and is indexed" 0 FROM --index-dir "$T/xg" --dataflow g
reference "$T/g.txt" "$T/g"
dump "$T/xg" >"$T/xg.txt"
expect_status "forged messages lose nothing: the stream index equals a local rebuild" 0 cmp -s "$T/g.txt" "$T/xg.txt"
grep -q "^tasks g .*FINISHED" "$T/xg.txt" && ok || fail "the task is not FINISHED in the stream index: $(grep '^tasks g' "$T/xg.txt")"

# --- a part of a segment that never comes ----------------------------------------------------
# Only the second half of a segment on the stream: a catch-up applies
# nothing of it, waits its patience out, exits 1 and names the message,
# its segment and the part it waits for.
experiment "$T/w" w
"$TOOLS/gen_logs" "$T/w/exp.yaml" 1 5 12 0
seg=$(ls "$T"/w/logs/w/*/*.dnplog | head -1)
rel=${seg#"$T/w/logs/"}
cut=$(split_segment "$seg" mid "$T/w.rest")
hlen=${cut#* } cut=${cut% *}
{ head -c "$hlen" "$seg"; cat "$T/w.rest"; } >"$T/w.body"
task=$(echo "$rel" | cut -d/ -f2)
wseq=$("$NATS_TOOL" pub "$NATS_URLS" "dnnprov.w.$(tok "$task")" @"$T/w.body" Dnnprov-Segment="$(tok "$rel")" \
	Dnnprov-Offset="$cut" Dnnprov-Header="$hlen")
expect_status "a message whose earlier part never comes: the catch-up gives up waiting" 1 \
	FROM --index-dir "$T/xw" --dataflow w --ack-wait 1s
expect_grep "it names the message, its segment and what it waits for" \
	"stream message $wseq waits: $rel from offset $cut: the index holds nothing of it yet" "$T/err"
expect_grep "and says the rest is indexed" "1 message wait for earlier parts of their segments" "$T/err"
expect_eq "nothing of it is applied" "$(dump "$T/xw" | grep -c '^tasks w ' || true)" 0

# --- errors --------------------------------------------------------------------------------
expect_status "a wrong address" 1 "$DNNPROV" ship -c "$T/a/exp.yaml" --to nats://127.0.0.1:1 --give-up-after 1s
expect_grep "it names the server" "nats://127.0.0.1:1: no server answered" "$T/err"
expect_grep "it says at once that it retries, and for how long" "no server answered .*; retrying for up to 1s (--give-up-after)" "$T/err"
expect_grep "and that it gave up" "; gave up after 1s of failures (--give-up-after)" "$T/err"
expect_status "a wrong address (index)" 1 "$DNNPROV" index --index-dir "$T/xe" --from nats://127.0.0.1:1 --give-up-after 1s
expect_grep "it names the server (index)" "nats://127.0.0.1:1: no server answered" "$T/err"
for d in 0s 0.5s -5m 5mx "" 800h 31d 300 5; do
	expect_status "--give-up-after '$d' is refused" 2 "$DNNPROV" ship -c "$T/a/exp.yaml" --to nats://127.0.0.1:1 --give-up-after "$d"
done
expect_grep "it says what it takes" "takes a duration with its unit from 1s to 30 days (90s, 5m, 1h) or 'never'" "$T/err"
expect_status "a log folder that is not there" 1 "$DNNPROV" ship --log-dir "$T/no-such-logs" --state "$T/nl-state" --to "$NATS_URLS"
expect_grep "it is named, as index names it" "no logs at $T/no-such-logs" "$T/err"
[ ! -e "$T/nl-state" ] && ok || fail "a refused ship left a state folder"
expect_status "not a URL" 2 "$DNNPROV" ship -c "$T/a/exp.yaml" --to 127.0.0.1:4222
expect_status "credentials on the command line" 2 "$DNNPROV" ship -c "$T/a/exp.yaml" --to nats://ada:s3cret@127.0.0.1:4222
expect_grep "they are refused" "credentials in a server URL are refused" "$T/err"
expect_eq "and never printed" "$(grep -c s3cret "$T/err" || true)" 0
"$NATS_TOOL" add-stream "$NATS_URLS" OTHER "other.>" memory
expect_status "an incompatible stream" 1 "$DNNPROV" ship -c "$T/a/exp.yaml" --to "$NATS_URLS" --stream OTHER
expect_grep "it names server, stream and setting" "nats://127.0.0.1:[0-9]*: stream OTHER: its subjects do not include dnnprov.>" "$T/err"
expect_status "a stream with other replicas" 1 "$DNNPROV" ship -c "$T/a/exp.yaml" --to "$NATS_URLS" --replicas 1
expect_grep "it names the setting" "it has 3 replicas, not the 1 asked for" "$T/err"
expect_eq "the stream was not changed" "$("$NATS_TOOL" stream "$NATS_URLS" DNNPROV | cut -d' ' -f1)" "replicas=3"
# One server of its own that wants a user and a password.
port=$(nats_ports | cut -d' ' -f1)
"$NATS_SERVER" -a 127.0.0.1 -p "$port" -js -sd "$T/auth" --user ada --pass right >"$T/auth.log" 2>&1 &
auth=$!
AUTH_URL="nats://127.0.0.1:$port"
for _ in $(seq 100); do "$NATS_TOOL" stream "$AUTH_URL" X 2>&1 | grep -q Authorization && break; sleep 0.1; done
experiment "$T/u" u
"$TOOLS/gen_logs" "$T/u/exp.yaml" 2 5 6 0
DNNPROV_NATS_USER=ada DNNPROV_NATS_PASSWORD=wrong expect_status "a wrong password" 1 "$DNNPROV" ship -c "$T/u/exp.yaml" --to "$AUTH_URL"
expect_grep "an authorization failure says so" "$AUTH_URL (user of DNNPROV_NATS_USER): authorization failed" "$T/err"
expect_eq "the password is never printed" "$(grep -c wrong "$T/err" || true)" 0
DNNPROV_NATS_USER=ada DNNPROV_NATS_PASSWORD=right expect_status "the right password, from the environment" 0 "$DNNPROV" ship -c "$T/u/exp.yaml" --to "$AUTH_URL"
expect_grep "one server: one replica" "(1 replicas, created now)" "$T/err"
kill $auth
wait $auth 2>/dev/null || true

[ -e "$T/again" ] && echo "  ($(wc -l <"$T/again") catch-up(s) stopped with messages waiting and ran again: $(cut -d' ' -f2- "$T/again" | grep -o 'consumer [a-z]*' | paste -sd,))"
finish
