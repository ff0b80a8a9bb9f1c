#!/usr/bin/env bash
# Runs a user can trust (docs/RUNS.md), from the shell and the C writer: a
# rerun refused and a resume accepted; typos refused with the log left as
# it was; a second live writer refused; the clock stepped back and forward
# changing no answer; two runs under one task id kept apart; a killed
# training shown LOST by the follower; the freshness note; what runs,
# curve, layers and --where show of it all.
. "$(dirname "$0")/lib.sh"
TOOLS="$PWD/$BUILD/tests/tools"
cd "$T"
runs_config exp.yaml
L() { "$DNNPROV" log -c exp.yaml "$@"; }
tree_sum() { find logs -type f -name '*.dnplog' -print0 2>/dev/null | sort -z | xargs -0r cat | md5sum; }

# --- a rerun never merges -----------------------------------------------------------
L --task sgd-lr0.1 begin OPTIMIZER_NAME=SGD LEARNING_RATE=0.1 >/dev/null
L --task sgd-lr0.1 epoch 1 loss=0.9 accuracy=0.5
L --task sgd-lr0.1 epoch 2 loss=0.7 accuracy=0.6
L --task sgd-lr0.1 end
before=$(tree_sum)
expect_status "a rerun under the same id is refused" 1 L --task sgd-lr0.1 begin OPTIMIZER_NAME=SGD LEARNING_RATE=0.5
expect_grep "it names the task, its status and what to do" \
	"^dnnprov: log: task 'sgd-lr0.1' of dataflow 'df' has already FINISHED; use --resume to continue it, or another task id$" "$T/err"
expect_status "an epoch after the end is refused" 1 L --task sgd-lr0.1 epoch 3 loss=0.5 accuracy=0.7
expect_grep "it says the task has ended" "has ended (FINISHED)" "$T/err"
expect_eq "the refused calls left the log as it was" "$(tree_sum)" "$before"
# A resume with another learning rate: the first value stays, the new one is
# an adaptation at the resume epoch.
expect_status "--resume is accepted" 0 L --task sgd-lr0.1 begin --resume LEARNING_RATE=0.05
L --task sgd-lr0.1 epoch 3 loss=0.5 accuracy=0.7
L --task sgd-lr0.1 end
"$DNNPROV" index -c exp.yaml -q
expect_status "runs" 0 "$DNNPROV" runs -c exp.yaml --format csv --where "task = 'sgd-lr0.1'"
col() { awk -F, -v name="$1" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) c = i; next } { print $c }' "$T/out"; }
expect_eq "the task keeps the learning rate it began with" "$(col LEARNING_RATE)" 0.1
expect_eq "two attempts" "$(col attempts)" 2
expect_eq "three epochs, one run" "$(col epochs)" 3
expect_status "adaptations" 0 "$DNNPROV" adaptations -c exp.yaml --task sgd-lr0.1 --metric loss --format csv
expect_eq "the resumed value is an adaptation at the resume epoch" "$(tail -n +2 "$T/out" | cut -d, -f1-5 | tr -d '\r')" \
	"sgd-lr0.1,3,LEARNING_RATE,0.1,0.05"
expect_status "curve as CSV" 0 "$DNNPROV" curve -c exp.yaml sgd-lr0.1 --format csv
expect_grep "curve: the change is data, not a table mark" "^3,.*,0.05,0.1,LEARNING_RATE" "$T/out"
expect_eq "curve: no table mark in CSV" "$(grep -c '\*' "$T/out")" 0

# --- typos are refused when written; strict, they leave nothing -----------------------------
# (Not strict, a typo is refused alone and the run goes on: at the end, and
# tests/python/test_refusals.py.)
L --task typos begin LEARNING_RATE=0.1 >/dev/null
{ cat exp.yaml; echo "strict: true"; } >strict.yaml
S() { "$DNNPROV" log -c strict.yaml "$@"; }
before=$(tree_sum)
expect_status "an undeclared metric" 1 S --task typos epoch 1 los=0.7
expect_grep "it lists the declared metrics" "metric 'los' is not declared in strict.yaml (metrics: loss, accuracy, val_loss, val_accuracy" "$T/err"
expect_status "a metric in another case" 1 S --task typos epoch 1 LOSS=0.7
expect_grep "it names the declared spelling" "metric 'LOSS' is declared as 'loss'" "$T/err"
expect_status "an undeclared hyperparameter" 1 S begin drop_out=0.5
expect_grep "it names it" "hyperparameter 'drop_out' is not declared" "$T/err"
expect_status "a test without metrics" 1 L --task typos test
expect_status "a record of a task that has not begun" 1 L --task typo epoch 1 loss=1
expect_grep "it says so" "task 'typo' of dataflow 'df' has not begun" "$T/err"
expect_eq "the refused calls left the log as it was" "$(tree_sum)" "$before"
expect_eq "and no folder for the task that never began" "$(ls logs/df | grep -c '^typo$')" 0
expect_status "--resume without --task" 2 L begin --resume

# --- one live writer per task -------------------------------------------------------------
"$TOOLS/writer_child" exp.yaml live 5 hold >/dev/null &
wpid=$!
disown $wpid # killed below; bash would report "Killed" on stderr
trap 'kill -9 $wpid 2>/dev/null || true; cleanup' EXIT
until [ -n "$(ls logs/df/live 2>/dev/null | grep dnplog)" ]; do sleep 0.01; done
expect_status "a second writer is refused" 1 L --task live epoch 1 loss=1
expect_grep "it names the writer" "task 'live' of dataflow 'df' is being recorded by pid $wpid on host $(hostname)" "$T/err"
# The lock costs no block: the file is empty, its locked range says whose.
expect_eq "the held lock file is empty" "$(stat -c %s logs/df/live/.lock)" 0
expect_eq "every lock file is empty" "$(find logs -name .lock -size +0c | wc -l)" 0
# A writer of before held the whole file and wrote its name into it: still
# refused, named as it wrote, and a writer after it empties the file.
mkdir -p logs/df/old-writer
printf 'pid 4242 on host oldbox\n' >logs/df/old-writer/.lock
$PY - logs/df/old-writer/.lock <<'PYEOF' &
import fcntl, os, struct, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.fcntl(fd, fcntl.F_OFD_SETLK, struct.pack("hhqqi4x", fcntl.F_WRLCK, 0, 0, 0, 0))
open(sys.argv[1] + "-held", "w").close()
time.sleep(30)
PYEOF
opid=$!
until [ -e logs/df/old-writer/.lock-held ]; do sleep 0.01; done
expect_status "a writer held by an older writer's lock is refused" 1 L --task old-writer begin OPTIMIZER_NAME=SGD
expect_grep "it names the older writer as it wrote" "is being recorded by pid 4242 on host oldbox" "$T/err"
kill $opid 2>/dev/null || true
wait $opid 2>/dev/null || true
rm -f logs/df/old-writer/.lock-held
expect_status "once it is gone, a writer records" 0 L --task old-writer begin OPTIMIZER_NAME=SGD
expect_eq "and empties the older writer's lock file" "$(stat -c %s logs/df/old-writer/.lock)" 0

# --- a killed training is LOST, seen by the follower ------------------------------------
"$DNNPROV" index -c exp.yaml --follow -q 2>"$T/follow.err" &
fpid=$!
status_of() { "$DNNPROV" runs -c exp.yaml --format csv --where "task = '$1'" 2>/dev/null | awk -F, 'NR == 2 { print $2 }'; }
until [ "$(status_of live)" = RUNNING ]; do sleep 0.05; done
kill -9 $wpid
while kill -0 $wpid 2>/dev/null; do sleep 0.01; done
t0=$(date +%s%N)
until [ "$(status_of live)" = LOST ]; do
	[ $((($(date +%s%N) - t0) / 1000000)) -gt 5000 ] && break
	sleep 0.05
done
ms=$((($(date +%s%N) - t0) / 1000000))
expect_eq "a task killed with SIGKILL is LOST within 5 s" "$(status_of live)" LOST
echo "  (a killed writer's task shown LOST after $ms ms)"
expect_status "--where finds it" 0 "$DNNPROV" runs -c exp.yaml --where "status = 'lost'" --format csv
expect_grep "by its status" "^live,LOST," "$T/out"
# A task recorded by this shell stays RUNNING while the script lives.
expect_eq "a shell-recorded task lives with its script" "$(status_of typos)" RUNNING
# Resumed, it runs again.
L --task live begin --resume >/dev/null
until [ "$(status_of live)" = RUNNING ]; do sleep 0.05; done
ok
stop_follower $fpid "follower"
expect_eq "the follower said nothing" "$(wc -c <"$T/follow.err")" 0
"$DNNPROV" reindex -c exp.yaml -q
expect_eq "a rebuild agrees: the resumed task runs" "$(status_of live)" RUNNING

# --- a process group id given to a later group is not the script's ----------------------
# A group that lives, as a dead script's id would be once reused: a begin
# naming it with its leader's start time is RUNNING; with another start
# time (the dead script's leader) it is a reused id, and the task LOST.
$PY -c "import os, time; os.setsid(); time.sleep(600)" &
gpid=$!
started $gpid
until [ "$(ps -o pgid= -p $gpid | tr -d ' ')" = "$gpid" ]; do sleep 0.01; done
gstart=$($PY -c "import sys; print(open('/proc/%s/stat' % sys.argv[1]).read().rsplit(')', 1)[1].split()[19])" $gpid)
for task in group-same group-reused; do
	L --task $task begin LEARNING_RATE=0.1 >/dev/null
	L --task $task epoch 1 loss=1 accuracy=0
done
# A script in a group of its own, whose leader (the shell) lives meanwhile.
setsid -w bash -c '"$0" log -c exp.yaml --task group-leader begin LEARNING_RATE=0.1 >/dev/null; true' "$DNNPROV"
expect_eq "the writer records its group leader's start time" \
	"$("$DNNPROV" cat --kind begin --task group-leader logs/df/group-leader | $PY -c "import json, sys; o = json.load(sys.stdin)['owner']; print(o['group'], o['start'] > 0)")" \
	"True True"
$PY "$OLDPWD/tests/rewrite_segment.py" logs/df/group-same/0000000001-*.dnplog \
	"r.get('kind') == 'begin' and r['owner'].update(pid=$gpid, start=$gstart)"
$PY "$OLDPWD/tests/rewrite_segment.py" logs/df/group-reused/0000000001-*.dnplog \
	"r.get('kind') == 'begin' and r['owner'].update(pid=$gpid, start=$gstart + 1)"
rm -rf index
"$DNNPROV" index -c exp.yaml -q
expect_eq "a live group with its leader's start time: RUNNING" "$(status_of group-same)" RUNNING
expect_eq "a group id reused by another group: LOST" "$(status_of group-reused)" LOST
kill $gpid

# --- the clock steps back and forward: no answer changes --------------------------------
SHIM="$OLDPWD/$BUILD/tests/shims/clockshim.so"
# Under SANITIZE=1 the shim comes before the ASan runtime in the load order.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
offset() { echo "$1" >"$T/offset"; }
C() { DP_CLOCK_OFFSET_FILE="$T/offset" LD_PRELOAD="$SHIM" "$DNNPROV" log -c exp.yaml "$@"; }
offset 0
C --task clock begin LEARNING_RATE=0.1 >/dev/null
C --task clock epoch 1 loss=0.9 accuracy=0.1
offset -2
C --task clock test loss=0.8 accuracy=0.2
offset 3600
C --task clock epoch 2 loss=0.5 accuracy=0.5
offset -3600
C --task clock epoch 3 loss=0.25 accuracy=0.75
C --task clock end
offset -30
C --task clock begin --resume >/dev/null
C --task clock test loss=0.1 accuracy=0.9
C --task clock end
rm -rf index
"$DNNPROV" index -c exp.yaml -q
expect_eq "clock: the task ended, whatever the clocks said" "$(status_of clock)" FINISHED
expect_status "clock: curve" 0 "$DNNPROV" curve -c exp.yaml clock --metrics loss --format csv
expect_eq "clock: epochs in order with their values" "$(tail -n +2 "$T/out" | cut -d, -f1,3 | tr -d '\r' | paste -sd' ')" \
	"1,0.9 2,0.5 3,0.25"
expect_status "clock: test" 0 "$DNNPROV" test -c exp.yaml --where "task = 'clock'" --format csv
expect_eq "clock: the latest test is the last one recorded" \
	"$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "loss") c = i; next } { print $c }' "$T/out")" 0.1
expect_status "clock: runs" 0 "$DNNPROV" runs -c exp.yaml --format json --where "task = 'clock'"
expect_eq "clock: two attempts, none lasting a negative time" \
	"$($PY -c "import json,sys; r = json.load(open(sys.argv[1]))['rows'][0]; print(r['attempts'], r['active'] >= 0, r['duration'] >= 0)" "$T/out")" \
	"2 True True"
# A clock stepped back an hour for the last epoch and the end, then a
# resume on a host whose clock is two hours behind: the attempts' times come
# from their begins and the time since boot, so the run lasted what it
# lasted (seconds here), and the resume begins after the first attempt.
offset 0
C --task step begin LEARNING_RATE=0.1 >/dev/null
C --task step epoch 1 loss=0.9 accuracy=0.1
offset -3600
C --task step epoch 2 loss=0.5 accuracy=0.5
C --task step end
"$DNNPROV" index -c exp.yaml -q
expect_status "clock step: runs" 0 "$DNNPROV" runs -c exp.yaml --format json --where "task = 'step'"
times() { $PY -c "import json,sys; r = json.load(open(sys.argv[1]))['rows'][0]; print(0 < r['duration'] < 600, 0 < r['active'] <= r['duration'] + 1e-6)" "$T/out"; }
expect_eq "clock step: a positive duration and active time, seconds long" "$(times)" "True True"
offset -7200
C --task step begin --resume >/dev/null
C --task step epoch 3 loss=0.25 accuracy=0.75
C --task step end
"$DNNPROV" index -c exp.yaml -q
expect_status "clock behind: runs" 0 "$DNNPROV" runs -c exp.yaml --format json --where "task = 'step'"
expect_eq "a resume on a clock behind: still positive, seconds long" "$(times)" "True True"
SQL_DURATION=$("$DNNPROV" sql -c exp.yaml --format csv "select duration >= 0 and active >= 0 from tasks where task = 'step'" | tail -n 1 | tr -d '\r')
expect_eq "SQL agrees" "$SQL_DURATION" 1
# A follower that saw it all as it happened equals a clean rebuild.
rm -rf index
"$DNNPROV" index -c exp.yaml --follow --rescan-ms 200 -q &
fpid=$!
sleep 0.3
offset 7200
C --task clock2 begin LEARNING_RATE=0.2 >/dev/null
C --task clock2 epoch 1 loss=1 accuracy=0
offset -7200
C --task clock2 epoch 2 loss=0.5 accuracy=0.5
C --task clock2 end
until [ "$(status_of clock2)" = FINISHED ]; do sleep 0.05; done
stop_follower $fpid "clock follower"
"$TOOLS/dump_index" index | grep -v '^progress ' >"$T/followed.txt"
"$DNNPROV" index --log-dir logs --index-dir "$T/ref" -q
"$TOOLS/dump_index" "$T/ref" | grep -v '^progress ' >"$T/ref.txt"
expect_status "clock: the followed index equals a clean rebuild" 0 cmp -s "$T/followed.txt" "$T/ref.txt"

# --- two runs under one task id: the smaller run id keeps it, in any order -----------------
sed 's|^log_dir: logs|log_dir: logs-b|' exp.yaml >b.yaml
L --task shared begin LEARNING_RATE=0.1 >/dev/null
L --task shared epoch 1 loss=0.9 accuracy=0.1
"$DNNPROV" log -c b.yaml --task shared begin LEARNING_RATE=0.9 >/dev/null
"$DNNPROV" log -c b.yaml --task shared epoch 1 loss=0.1 accuracy=0.9
"$DNNPROV" log -c b.yaml --task shared epoch 2 loss=0.1 accuracy=0.9
L --task shared end
"$DNNPROV" log -c b.yaml --task shared end
# The run a segment header names (FORMAT.md), read here with Python's msgpack.
run_of() { $PY -c "import msgpack, struct, sys; b = open(sys.argv[1], 'rb').read(); h = struct.unpack('>I', b[12:16])[0]; print(msgpack.unpackb(b[16:16 + h])['run'])" "$1"; }
a_run=$(run_of "$(ls logs/df/shared/*.dnplog | head -n 1)")
b_run=$(run_of "$(ls logs-b/df/shared/*.dnplog | head -n 1)")
if [[ "$a_run" < "$b_run" ]]; then winner="0.1,1" kept=$a_run; else winner="0.9,2" kept=$b_run; fi
# The second host's segments as its shipped logs would arrive: after the
# first run's (sequence 101, 102, ...), so that a rebuild reads them last.
copy_b() {
	local n=100
	for f in logs-b/df/shared/*.dnplog; do
		n=$((n + 1))
		cp "$f" "$1/$(printf '%010d' $n)-elsewhere-b.dnplog"
	done
}
shared_of() { # INDEX: "LEARNING_RATE,epochs" of task shared
	"$DNNPROV" runs --index-dir "$1" df --format csv --where "task = 'shared'" >"$T/out" 2>/dev/null || true
	echo "$(col LEARNING_RATE),$(col epochs)"
}
twin_dump() { "$TOOLS/dump_index" "$1" | grep ' df/*shared'; }
# A follower that indexed the local run first, then meets the other.
rm -rf index
"$DNNPROV" index -c exp.yaml --follow --rescan-ms 200 -q 2>"$T/follow.err" &
fpid=$!
until [ "$(shared_of index)" = "0.1,1" ]; do sleep 0.05; done
copy_b logs/df/shared
nb=$(ls logs-b/df/shared/*.dnplog | wc -l)
until [ "$("$TOOLS/dump_index" index | grep -c '^progress df/shared/.*elsewhere-b.*sealed=1')" = "$nb" ]; do sleep 0.05; done
stop_follower $fpid "twin follower"
expect_eq "followed, local run first: the smaller run id keeps the task" "$(shared_of index)" "$winner"
expect_grep "the other run is reported" "offset 0: another run of task 'shared' (kept: run ${kept:0:16}); not indexed" \
	"$T/follow.err"
"$DNNPROV" index --log-dir logs --index-dir "$T/twin-ref" -q 2>/dev/null
expect_eq "a rebuild keeps the same run" "$(shared_of "$T/twin-ref")" "$winner"
twin_dump "$T/twin-ref" >"$T/twin-ref.txt"
twin_dump index >"$T/twin-followed.txt"
if [ "$winner" = "0.1,1" ]; then lost=$nb; else lost=$(ls logs/df/shared/0*-vm-*.dnplog | wc -l); fi
expect_eq "each segment of the other run is one problem" "$(grep -c '^problems ' "$T/twin-ref.txt")" "$lost"
expect_status "the followed index equals the rebuild, problems and progress too" 0 \
	cmp "$T/twin-followed.txt" "$T/twin-ref.txt"
# The other order: the second host's run indexed first (a catch-up), then
# the local run's segments appear.
mkdir -p logs2/df/shared
copy_b logs2/df/shared
"$DNNPROV" index --log-dir logs2 --index-dir "$T/twin2" -q 2>/dev/null
expect_eq "the other run alone first" "$(shared_of "$T/twin2")" "0.9,2"
cp logs/df/shared/0*-vm-*.dnplog logs2/df/shared/
"$DNNPROV" index --log-dir logs2 --index-dir "$T/twin2" -q 2>/dev/null
expect_eq "caught up, other run first: the smaller run id keeps the task" "$(shared_of "$T/twin2")" "$winner"
twin_dump "$T/twin2" >"$T/twin2.txt"
expect_status "equal to the rebuild" 0 cmp "$T/twin2.txt" "$T/twin-ref.txt"
# The stream path (dp_indexer_apply), each segment in a transaction of its
# own, in both orders.
local_segs=$(cd logs && ls df/shared/0*-vm-*.dnplog)
other_segs=$(cd logs && ls df/shared/0*-elsewhere-b.dnplog)
# shellcheck disable=SC2086
"$TOOLS/feed_index" "$T/fed1" logs $local_segs $other_segs
# shellcheck disable=SC2086
"$TOOLS/feed_index" "$T/fed2" logs $other_segs $local_segs
for fed in fed1 fed2; do
	twin_dump "$T/$fed" >"$T/$fed.txt"
	expect_status "fed in order $fed: equal to the rebuild" 0 cmp "$T/$fed.txt" "$T/twin-ref.txt"
done
# The derived keys (ranks, starts, counts) follow the task through its
# takeover, whoever came first, and each index is a consistent snapshot.
derived() { "$TOOLS/dump_index" "$1" | grep -E '^(ranks|starts) df .* shared = ' || true; }
derived "$T/twin-ref" >"$T/derived-ref.txt"
grep -q '^ranks ' "$T/derived-ref.txt" && grep -q '^starts ' "$T/derived-ref.txt" && ok ||
	fail "two runs of one id: the rebuild has no ranks or start of the task"
inconsistent=0 differ=0
for ix in index "$T/twin-ref" "$T/twin2" "$T/fed1" "$T/fed2"; do
	"$TOOLS/dump_index" "$ix" >"$T/full.txt"
	$PY "${DNNPROV%/*/*}/tests/check_snapshot.py" "$T/full.txt" || inconsistent=$((inconsistent + 1))
	derived "$ix" | cmp -s - "$T/derived-ref.txt" || { differ=$((differ + 1)); derived "$ix" | diff - "$T/derived-ref.txt" | head -5 >&2; }
done
expect_eq "two runs of one id: every index is a consistent snapshot" "$inconsistent" 0
expect_eq "two runs of one id: the task's ranks and start as the rebuild's" "$differ" 0
expect_status "index --status lists the problem" 0 "$DNNPROV" index -c exp.yaml --status
expect_grep "with its segment" "shared/.*: offset 0: another run of task 'shared'" "$T/out"

# --- freshness ----------------------------------------------------------------------------
L --task fresh begin LEARNING_RATE=0.3 >/dev/null
L --task fresh epoch 1 loss=0.3 accuracy=0.3
expect_status "runs on an index behind its logs" 0 "$DNNPROV" runs -c exp.yaml
expect_grep "a table says so" "^index: behind its logs by [0-9]* segments* (.* not indexed) and no indexer is running: run \`dnnprov index\`" "$T/out"
expect_grep "and that problems were skipped" "^index: [0-9]* problems* skipped in the logs" "$T/out"
expect_status "as JSON" 0 "$DNNPROV" runs -c exp.yaml --format json
expect_eq "JSON says it in the index member" \
	"$($PY -c "import json,sys; i = json.load(open(sys.argv[1]))['index']; print(i['indexer'], i['behind_bytes'] > 0, i['behind_segments'], i['problems'] > 0)" "$T/out")" \
	"not running True 2 True"
expect_status "CSV" 0 "$DNNPROV" runs -c exp.yaml --format csv
expect_grep "CSV tells it on stderr" "^index: behind its logs" "$T/err"
"$DNNPROV" index -c exp.yaml -q 2>/dev/null || true
expect_status "caught up" 0 "$DNNPROV" runs -c exp.yaml --format json --index-dir index
expect_eq "nothing behind, from the index alone" \
	"$($PY -c "import json,sys; i = json.load(open(sys.argv[1]))['index']; print(i['behind_bytes'], i['behind_segments'])" "$T/out")" "0 0"
behind() { "$DNNPROV" runs -c exp.yaml --format json 2>/dev/null | $PY -c "import json,sys; print(json.load(sys.stdin)['index']['behind_segments'])"; }
# Without an indexer, a query looks at the segments that can still grow (a
# running task's) and walks a dataflow's logs only when its folder says a
# segment appeared since the index last listed them.
cat >grow.py <<'PY'
import os, sys, time, dnnprov
def wait(name):
    while not os.path.exists(name):
        time.sleep(0.01)
t = dnnprov.Task("exp.yaml", {"LEARNING_RATE": 0.2}, task_id="growing")
t.epoch(1, loss=0.5, accuracy=0.5)
open("grew1", "w").close(); wait("go2")
t.epoch(2, loss=0.4, accuracy=0.6)
open("grew2", "w").close(); wait("go3")
t.end(); t.close()
PY
PYTHONPATH="$OLDPWD/python" sh "$OLDPWD/tools/pyrun.sh" "$OLDPWD/$BUILD/libdnnprov.so" grow.py &
gpid=$!
until [ -e grew1 ]; do sleep 0.01; done
sleep 1.2 # past the slack given to the coarse clock of file times
"$DNNPROV" index -c exp.yaml -q 2>/dev/null || true
expect_eq "a running task, indexed: nothing behind" "$(behind)" 0
touch go2
until [ -e grew2 ]; do sleep 0.01; done
expect_eq "its segment grew: one segment behind" "$(behind)" 1
touch go3
wait $gpid
"$DNNPROV" index -c exp.yaml -q 2>/dev/null || true
sleep 1.2
"$DNNPROV" index -c exp.yaml -q 2>/dev/null || true
expect_eq "ended and indexed" "$(behind)" 0
"$DNNPROV" tag -c exp.yaml sgd-lr0.1 looked=yes
expect_eq "a note on a finished task: its dataflow folder says so" "$(behind)" 1
L --task sgd-lr0.1 begin --resume >/dev/null
expect_eq "a resume's new segment in an old folder too" "$(behind)" 2
# A catch-up right after the last write (the end of a sweep): the
# catch-up waits out the slack of the kernel's coarse clock before it
# lists (two ticks here, not a second), so that a query trusts its listing
# while the dataflow folder has not changed since and walks no log.  A
# segment put in an old folder without the touch every writer gives the
# dataflow folder stands for what a walk would find.
# What the last writer did, a moment before the catch-up: dated 0.2 s
# ahead, so that the catch-up begins within the slack however fast it
# starts (it waits up to a second for a folder dated ahead).
touch -d "@$(date +%s.%N | awk '{ printf "%.9f", $1 + 0.2 }')" logs/df
"$DNNPROV" index -c exp.yaml -q 2>/dev/null || true
listed=$(stat -c %y logs/df)
cp logs/df/sgd-lr0.1/"$(ls logs/df/sgd-lr0.1 | grep -m1 'dnplog$')" logs/df/sgd-lr0.1/9999999999-planted.dnplog
touch -d "$listed" logs/df
expect_eq "right after a catch-up, no log is walked" "$(behind)" 0
touch logs/df
expect_eq "once the dataflow folder changed, the logs are" "$(behind)" 1
rm logs/df/sgd-lr0.1/9999999999-planted.dnplog
"$DNNPROV" index -c exp.yaml --follow -q 2>/dev/null &
fpid=$!
until "$DNNPROV" runs -c exp.yaml --format json 2>/dev/null | grep -q '"indexer": "running"'; do sleep 0.05; done
ok
stop_follower $fpid "freshness follower"

# --- --where on the run facts; tables that are not cut ----------------------------------
L --task failing begin LEARNING_RATE=0.7 >/dev/null
L --task failing end --status FAILED --message "diverged at epoch 3"
"$DNNPROV" index -c exp.yaml -q 2>/dev/null || true
W() { "$DNNPROV" runs -c exp.yaml --format csv --sort task --where "$1" 2>/dev/null | tail -n +2 | cut -d, -f1 | paste -sd' '; }
expect_eq "--where on the end message" "$(W "message like 'diverged%'")" failing
expect_eq "--where on attempts" "$(W "attempts > 1")" "clock live sgd-lr0.1 step"
expect_eq "--where on an ISO 8601 time" "$(W "start > '2000-01-01T00:00Z' and task = 'failing'")" failing
expect_eq "--where relative to now" "$(W "start > now - 86400 and task = 'failing'")" failing
expect_status "a time that is not one" 1 "$DNNPROV" runs -c exp.yaml --where "start > 'yesterday'"
expect_grep "is shown with a caret" "a time here: ISO 8601" "$T/err"
expect_status "runs, piped" 0 "$DNNPROV" runs -c exp.yaml
expect_grep "the message column" "diverged at epoch 3" "$T/out"
expect_eq "a table on a pipe is never cut" "$(grep -c '…' "$T/out")" 0
COLUMNS=60 "$DNNPROV" runs -c exp.yaml >"$T/narrow" 2>/dev/null
widest() { awk '{ if (length($0) > w) w = length($0) } END { print w + 0 }' "$1"; }
expect_eq "COLUMNS narrows it (text is cut, numbers never)" \
	"$([ "$(widest "$T/narrow")" -lt "$(widest "$T/out")" ] && grep -q '…' "$T/narrow" && echo yes)" yes
COLUMNS=60 "$DNNPROV" runs -c exp.yaml --wide >"$T/wide" 2>/dev/null
expect_eq "--wide does not cut" "$(grep -c '…' "$T/wide")" 0

# --- layers ---------------------------------------------------------------------------------
L --task layered begin LEARNING_RATE=0.1 >/dev/null
L --task layered layers 'dense_1:activation=relu' 'drop_1:dropout=0.25'
"$DNNPROV" index -c exp.yaml -q 2>/dev/null || true
expect_status "layers of a task" 0 "$DNNPROV" layers -c exp.yaml layered --format csv
expect_eq "a row per layer fact" "$(tail -n +2 "$T/out" | tr -d '\r' | paste -sd' ')" \
	"layered,dense_1,activation,relu layered,drop_1,dropout,0.25"
# Last: the indexers above must have nothing to report.
expect_status "not strict, an undeclared metric is refused alone" 3 L --task typos epoch 1 los=0.7 loss=0.6
expect_grep "it says so" "metric 'los' is not declared in exp.yaml .*the epoch was recorded without it" "$T/err"
finish
