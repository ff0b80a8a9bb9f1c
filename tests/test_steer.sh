#!/usr/bin/env bash
# Steering (docs/STEERING.md): the health rules under `index --follow` (a
# NaN run, a diverging run and a plateau run raise exactly one event each,
# the same after reindex, and in the dashboard), checked against the rules replayed from the
# logs on hostile values and random walks; a stalled run shows the stall
# and loses it when records resume; `events --follow`; `advise` on a
# history whose answer is known, from Python too; the Optuna pruner on a
# small real study; notifications delivered once each across
# an indexer killed with -9 (deduplicated by id), and a hanging command
# that holds nothing back.  Waits are bounded generously: the latency
# itself is a `make bench` figure.
. "$(dirname "$0")/lib.sh"
TOOLS="$PWD/$BUILD/tests/tools"
ROOT=$PWD
export PYTHONPATH="$ROOT/python:$ROOT/tests"
PYRUN() { sh "$ROOT/tools/pyrun.sh" "$ROOT/$BUILD/libdnnprov.so" "$@"; }
RUNS() { PYRUN "$ROOT/tests/steer_runs.py" "$@"; }
cd "$T"

# config FILE [EXTRA]: the experiment, with the events: section's EXTRA lines.
config() {
	cat >"$1" <<YAML
dataflow: steer
log_dir: logs
index_dir: index
hyperparameters:
  LEARNING_RATE: true
metrics: [loss, accuracy]
events:
  stall: {factor: 5, at_least: 3s}
${2:-}
YAML
}
Q() { "$DNNPROV" "$@" 2>/dev/null; }
sqlcol() { Q sql -c exp.yaml --format csv "$1" | tail -n +2 | tr -d '\r' | paste -sd' '; }
# until_true WHAT CMD...: retries CMD (quietly) for up to 60 s.
until_true() {
	local what=$1 deadline=$((SECONDS + 60))
	shift
	until "$@" >/dev/null 2>&1; do
		if [ $SECONDS -gt $deadline ]; then fail "$what: not within 60 s"; return 0; fi
		sleep 0.05
	done
	ok
}
follow() { "$DNNPROV" index -c "${1:-exp.yaml}" --follow -q --rescan-ms 200 2>>"$T/index.err" & started $!; FPID=$!; }
stop_follow() { kill -TERM "$FPID" 2>/dev/null || true; wait "$FPID" 2>/dev/null || true; }
dump() { "$TOOLS/dump_index" "$1" | grep -v '^progress '; }

# --- one event of each kind, under follow mode -------------------------------------------------
config exp.yaml
follow
"$DNNPROV" events -c exp.yaml --follow --format json --interval 100ms >followed.jsonl 2>/dev/null & started $!
EFPID=$!
RUNS kinds exp.yaml >kinds.txt
id_of() { grep "^$1 " kinds.txt | cut -d' ' -f2; }
three() { [ "$(sqlcol "select count(*) from events")" = 3 ]; }
until_true "the three events under --follow" three
expect_eq "the NaN run: one event, nan, at its first NaN" \
	"$(sqlcol "select rule || '@' || epoch from events where task = '$(id_of nan)'")" "nan@4"
expect_eq "the diverging run: one event, divergence" \
	"$(sqlcol "select rule || '@' || epoch from events where task = '$(id_of diverge)'")" "divergence@9"
expect_eq "the plateau run: one event, plateau" \
	"$(sqlcol "select rule || '@' || epoch from events where task = '$(id_of plateau)'")" "plateau@15"
expect_eq "health in runs" "$(Q runs -c exp.yaml --format csv --sort task | tail -n +2 | cut -d, -f3 | paste -sd' ')" \
	"diverged nan plateau"
expect_eq "--where on health" "$(Q runs -c exp.yaml --format csv --where "health = 'diverged'" | tail -n +2 | cut -d, -f1)" \
	"$(id_of diverge)"
expect_status "events" 0 "$DNNPROV" events -c exp.yaml --rule plateau
expect_grep "says what was tried meanwhile" "no adaptation since" "$T/out"
followed_ids() { $PY -c 'import json, sys; print(" ".join(sorted(json.loads(l)["id"] for l in open(sys.argv[1]))))' followed.jsonl; }
printed_three() { [ "$(wc -l <followed.jsonl)" -ge 3 ]; }
until_true "events --follow printed the three" printed_three
expect_eq "events --follow: each once, by its id" "$(followed_ids)" \
	"$(sqlcol "select id from events order by id")"
kill "$EFPID" 2>/dev/null || true
stop_follow
dump index >followed.txt
expect_status "reindex" 0 "$DNNPROV" reindex -c exp.yaml -q
dump index >rebuilt.txt
expect_eq "the same events and health after reindex" "$(diff followed.txt rebuilt.txt >/dev/null && echo same)" same
expect_grep "the rebuild holds the events" "^events steer" rebuilt.txt
mkdir -p "$ROOT/$BUILD/screenshots"
expect_status "health in the dashboard: badges, the list of events, the marks on a curve" 0 \
	$PY "$ROOT/tests/steer_browser.py" "$DNNPROV" exp.yaml "$ROOT/$BUILD/screenshots"
grep -e FAIL -e '^chromium' "$T/out" || true

# --- the rules against the model, on hostile values and random walks ---------------------------
RUNS hostile exp.yaml >/dev/null
RUNS random exp.yaml 11 40 >/dev/null
"$DNNPROV" index -c exp.yaml -q
expect_status "index, events and health as the rules replayed from the logs give them" 0 \
	env PYTHONPATH="$PYTHONPATH" sh "$ROOT/tools/pyrun.sh" "$ROOT/$BUILD/libdnnprov.so" \
	"$ROOT/tests/steer_runs.py" check "$DNNPROV" exp.yaml logs
hostile_events() { sqlcol "select t.task || ':' || rule from events e join tasks t on t.task = e.task where t.task not like 'walk-%' and t.task not like 'nan-%' and t.task not like 'diverge-%' and t.task not like 'plateau-%'"; }
expect_eq "hostile values: the one true event (a NaN payload), no other" "$(hostile_events | sed 's/-[^:]*:/:/')" "payload:nan"

# --- a stall, and its end when records resume ------------------------------------------------------
rm -rf index
follow
id=$("$DNNPROV" log -c exp.yaml begin --label stall LEARNING_RATE=0.1)
for e in 1 2 3 4; do "$DNNPROV" log -c exp.yaml --task "$id" epoch $e loss=1; sleep 0.05; done
stalled() { [ "$(Q runs -c exp.yaml --format csv --where "health = 'stalled'" | tail -n +2 | cut -d, -f1)" = "$id" ]; }
until_true "a RUNNING run silent past factor x median (at least 3 s) is stalled" stalled
expect_eq "its status stays RUNNING" "$(sqlcol "select status from tasks where task = '$id'")" RUNNING
expect_eq "events lists the stall, live" "$(Q events -c exp.yaml --rule stall --format csv | tail -n +2 | cut -d, -f3)" stall
expect_eq "SQL shows it" "$(sqlcol "select health from tasks where task = '$id'")" stalled
( for e in $(seq 5 400); do "$DNNPROV" log -c exp.yaml --task "$id" epoch $e loss=1 2>/dev/null || exit; sleep 0.05; done ) &
WPID=$!
not_stalled() { [ "$(sqlcol "select health from tasks where task = '$id'")" = ok ]; }
until_true "records resume: the stall is gone" not_stalled
kill $WPID 2>/dev/null || true
wait $WPID 2>/dev/null || true
"$DNNPROV" log -c exp.yaml --task "$id" end
stop_follow

# --- advise, on a history whose answer is known ------------------------------------------------------
mkdir adv && config adv/exp.yaml
RUNS history adv/exp.yaml >history.txt
"$DNNPROV" index -c adv/exp.yaml -q
advise() {
	Q advise -c adv/exp.yaml "$(grep "^$1 " history.txt | cut -d' ' -f2)" --format csv "${@:2}" |
		$PY -c 'import csv, sys; r = next(csv.DictReader(sys.stdin)); print(r["decision"], r["runs"], r["percentile"], r["in_position"], r["reached_best"], r["best_final"])'
}
expect_eq "behind every finished run: stop" "$(advise behind)" "stop 100 0 0 0 0.05"
expect_eq "ahead of every one: continue" "$(advise ahead)" "continue 100 100 100 1 0.05"
expect_eq "behind 70%, but the winner was behind it then: continue" "$(advise before-bloomer)" "continue 100 30 30 1 0.05"
expect_eq "behind 72%, and none behind it won: stop" "$(advise after-bloomer)" "stop 100 28 28 0 0.05"
expect_eq "fewer comparable runs than --history: too little history" "$(advise ahead --history 101 | cut -d' ' -f1-4)" \
	"too little history 100"
expect_eq "Task.advice(): the same decision and evidence" "$(RUNS advice adv/exp.yaml "$(grep '^before-bloomer ' history.txt | cut -d' ' -f2)")" \
	"continue 100 30 30 1 0.05"
expect_eq "Task.advice(history=101): too little history" "$(RUNS advice adv/exp.yaml "$(grep '^ahead ' history.txt | cut -d' ' -f2)" history=101 | cut -d' ' -f1-4)" \
	"too little history 100"
expect_status "advise --epoch --value, no task" 0 "$DNNPROV" advise -c adv/exp.yaml --epoch 5 --value 5 --format csv
expect_grep "judges the value given" ",stop," "$T/out"
expect_status "the reason, one sentence with the evidence" 0 "$DNNPROV" advise -c adv/exp.yaml \
	"$(grep '^after-bloomer ' history.txt | cut -d' ' -f2)"
expect_grep "says it" "0 of the 28 runs at or behind it then went on to the best final value 0.05" "$T/out"
expect_status "a value without an epoch is refused" 1 "$DNNPROV" advise -c adv/exp.yaml --value 1
expect_grep "saying why" "needs --epoch" "$T/err"

# --- the Optuna pruner, on a small real study with the history of an earlier one ----------------------
mkdir opt && config opt/exp.yaml
expect_status "a first study: the history" 0 PYRUN "$ROOT/tests/steer_optuna.py" history opt/exp.yaml
"$DNNPROV" index -c opt/exp.yaml -q
expect_status "HistoryPruner prunes a new study's losing trials, and nothing on too little history" 0 \
	PYRUN "$ROOT/tests/steer_optuna.py" prune opt/exp.yaml
grep FAIL "$T/out" || true

# --- notifications: each event delivered, across an indexer killed -9 -----------------------------
rm -rf logs index
config exp.yaml "  on_event: ['sh', '-c', 'cat >> $T/got.jsonl; echo >> $T/got.jsonl; sleep 0.3']"
follow
RUNS nan exp.yaml 8 >/dev/null
first_two() { [ "$(cat got.jsonl 2>/dev/null | grep -c '"id"')" -ge 2 ]; }
until_true "the first notifications" first_two
kill -9 "$FPID"
wait "$FPID" 2>/dev/null || true
RUNS nan exp.yaml 4 >/dev/null
follow
ids_got() { $PY -c 'import json, sys; print(" ".join(sorted({json.loads(l)["id"] for l in open(sys.argv[1]) if l.strip()})))' got.jsonl; }
all_told() { [ "$(ids_got)" = "$(sqlcol "select id from events order by id")" ]; }
until_true "every event told, once the indexer runs again" all_told
expect_eq "twelve events" "$(sqlcol "select count(*) from events")" 12
expect_eq "each notification is the event, with its evidence" \
	"$(head -n 1 got.jsonl | $PY -c 'import json, sys; e = json.load(sys.stdin); print(e["rule"], e["epoch"], sorted(e["evidence"]["nonfinite"]))')" \
	"nan 3 ['loss']"
stop_follow
expect_eq "the outbox is empty" "$("$TOOLS/dump_index" index | grep -c '^outbox' || true)" 0

# --- a command that fails is reported and tried again; one that hangs holds nothing back ----------
rm -rf logs index got.jsonl
config exp.yaml "  on_event: 'exit 3'"
RUNS nan exp.yaml 1 >/dev/null
expect_status "a failing command: the catch-up says so" 0 "$DNNPROV" index -c exp.yaml -q
expect_grep "names the command and the event" "on_event command 'exit 3': event steer/nan-.*/nan/3: exited with status 3" "$T/err"
expect_grep "and that it waits for the next run" "1 notification not delivered yet" "$T/err"
rm -rf logs index
config exp.yaml "  on_event: ['sh', '-c', 'echo \$\$ > $T/hang.pid; exec sleep 4321.5']
  timeout: 1h"
follow
RUNS nan exp.yaml 1 >/dev/null
until_true "the command runs, and hangs" test -s hang.pid
RUNS kinds exp.yaml >kinds.txt
three_more() { [ "$(sqlcol "select count(*) from events")" = 4 ]; }
until_true "indexing goes on while the command hangs" three_more
expect_eq "nothing was delivered" "$(ls got.jsonl 2>/dev/null || echo none)" none
stop_follow
hung=$(cat hang.pid)
gone() { ! kill -0 "$hung" 2>/dev/null; }
until_true "stopping the indexer ended the hanging command" gone
kill -9 "$hung" 2>/dev/null || true
config exp.yaml "  on_event: ['sh', '-c', 'cat >> $T/got.jsonl; echo >> $T/got.jsonl']"
expect_status "the next indexer" 0 "$DNNPROV" index -c exp.yaml -q
expect_eq "delivers what waited in the outbox" "$(ids_got)" "$(sqlcol "select id from events order by id")"

echo "test_steer.sh: $passed passed, $failed failed"
[ "$failed" = 0 ]
