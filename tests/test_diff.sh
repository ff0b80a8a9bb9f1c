#!/usr/bin/env bash
# The questions the dashboard's run page, run diff and grouping ask, on a
# synthetic grid whose answers are known: diff (what differs, the epoch
# where two curves part, by the rule of docs/QUERY.md), groups and bands,
# tasks (completion) and "did you mean", segments, and the metrics'
# natural bounds, declared in the experiment file and recorded in the spec.
. "$(dirname "$0")/lib.sh"
cd "$T"
J() { $PY -c "import json,sys; a = json.load(open('$T/out')); $1"; }

cat >exp.yaml <<'YAML'
dataflow: diffs
hyperparameters:
  OPTIMIZER_NAME: true
  LEARNING_RATE: true
metrics: [loss, acc]
metric_ranges:
  loss: [0, 10]
adaptation: true
YAML
# A and B: the same val_loss, 0.5 wobbling by 0.02 from epoch to epoch,
# until B's learning rate steps down at epoch 6 and its val_loss is 0.2
# lower from epoch 7 on: the curves part at epoch 7.  Their loss is the
# same throughout: it never parts.  C differs in optimizer and ends early.
wobble() { awk "BEGIN { print 0.5 + ($1 % 2 ? 0.01 : -0.01) - $2 }"; }
run() { # LABEL OPTIMIZER EPOCHS STEP_AT
	local id e drop
	id=$("$DNNPROV" log -c exp.yaml begin --label "$1" OPTIMIZER_NAME="$2" LEARNING_RATE=0.01)
	for e in $(seq 1 "$3"); do
		[ "$e" = "$4" ] && "$DNNPROV" log -c exp.yaml --task "$id" adapt "$e" LEARNING_RATE=0.005
		drop=0
		[ -n "$4" ] && [ "$e" -gt "$4" ] && drop=0.2
		"$DNNPROV" log -c exp.yaml --task "$id" epoch "$e" loss="$(wobble "$e" 0)" val_loss="$(wobble "$e" $drop)" acc=0.$e
	done
	"$DNNPROV" log -c exp.yaml --task "$id" end
	echo "$id"
}
A=$(run alpha Adam 12 "")
B=$(run beta Adam 12 6)
C=$(run gamma SGD 4 "")
"$DNNPROV" tag -c exp.yaml "$B" stage=candidate
"$DNNPROV" index -c exp.yaml -q

# --- diff: what differs, where the curves part ------------------------------------------------
expect_status "diff A B" 0 "$DNNPROV" diff -c exp.yaml "$A" "$B" --format json
expect_eq "names the runs" "$(J "print(*a['about']['tasks'])")" "$A $B"
expect_eq "the hyperparameters that differ: none at the start" \
	"$(J "print([r['name'] for r in a['rows'] if r['section'] == 'hyperparameter'])")" "[]"
expect_eq "the tag that differs" "$(J "print([(r['name'], r['a'], r['b']) for r in a['rows'] if r['section'] == 'tag'])")" \
	"[('stage', None, 'candidate')]"
expect_eq "val_loss parts at epoch 7" "$(J "print([r['epoch'] for r in a['rows'] if r['section'] == 'parting' and r['name'] == 'val_loss'])")" "[7]"
expect_eq "after B's step of the learning rate, in words" \
	"$(J "print([r['note'] for r in a['rows'] if r['section'] == 'parting' and r['name'] == 'val_loss'][0].split(' (A ')[0])")" \
	"val_loss parts at epoch 7, after LEARNING_RATE 0.01 → 0.005 in B only (epoch 6)"
expect_eq "the answer's sentence is the main metric's" "$(J "print(a['about']['note'].split(',')[0])")" "val_loss parts at epoch 7"
expect_eq "loss, the same curve, does not part" \
	"$(J "print([r['epoch'] for r in a['rows'] if r['section'] == 'parting' and r['name'] == 'loss'])")" "[None]"
expect_eq "the adaptation on the timeline, B's only" \
	"$(J "print([(r['epoch'], r['a'], r['b'], r['note']) for r in a['rows'] if r['section'] == 'adaptation'])")" \
	"[(6, None, '0.01 → 0.005', 'B only')]"
expect_eq "each metric's best, and which is better" \
	"$(J "print([(r['name'], r['note']) for r in a['rows'] if r['section'] == 'metric'])")" "[('min(val_loss)', 'B better')]"
expect_status "the table says the same" 0 "$DNNPROV" diff -c exp.yaml "$A" "$B"
expect_grep "in its rows" "val_loss parts at epoch 7, after LEARNING_RATE" "$T/out"
expect_grep "and which run is A" "^A: $A" "$T/out"
expect_status "diff A C" 0 "$DNNPROV" diff -c exp.yaml "$A" "$C" --format json
expect_eq "names the optimizer that differs" \
	"$(J "print([(r['name'], r['a'], r['b']) for r in a['rows'] if r['section'] == 'hyperparameter'])")" "[('OPTIMIZER_NAME', 'Adam', 'SGD')]"
expect_eq "and too few epochs to tell where the curves part is no parting" \
	"$(J "print(sorted({r['epoch'] for r in a['rows'] if r['section'] == 'parting'}))")" "[None]"
expect_status "--same adds what is the same" 0 "$DNNPROV" diff -c exp.yaml "$A" "$C" --same --format json
expect_eq "the learning rate, the same" "$(J "print([r['note'] for r in a['rows'] if r['name'] == 'LEARNING_RATE'])")" "['same']"
expect_status "diff A: beside the best of the dataflow" 0 "$DNNPROV" diff -c exp.yaml "$A" --format json
expect_eq "B, the lowest val_loss" "$(J "print(a['about']['tasks'][1])")" "$B"
expect_status "diff B: the best is B itself, so the next best" 0 "$DNNPROV" diff -c exp.yaml "$B" --format json
expect_eq "is another run" "$(J "print(a['about']['tasks'][1] != '$B')")" "True"
expect_status "a run against itself" 1 "$DNNPROV" diff -c exp.yaml "$A" "$A"
expect_grep "is refused" "the same as itself" "$T/err"
expect_status "an unknown B" 1 "$DNNPROV" diff -c exp.yaml "$A" beta
expect_grep "names what it may have meant" "no task 'beta' in dataflow diffs (did you mean $B?)" "$T/err"
expect_status "through SQL too" 0 "$DNNPROV" sql -c exp.yaml --format csv \
	"select count(*) as n from json_each(dnnprov_query('diff', 'task', '$A', 'other', '$B'), '$.rows') where json_extract(value, '$.section') = 'parting' and json_extract(value, '$.epoch') = 7"
expect_eq "the same answer" "$(tail -n 1 "$T/out" | tr -d ' \r')" 1

# --- groups and bands -------------------------------------------------------------------------
expect_status "groups by optimizer" 0 "$DNNPROV" groups -c exp.yaml --by optimizer_name --metric val_loss --format json
expect_eq "two groups, with their counts" "$(J "print([(r['OPTIMIZER_NAME'], r['runs']) for r in a['rows']])")" "[('Adam', 2), ('SGD', 1)]"
want=$(awk 'BEGIN { printf "%.6f", (0.29 + 0.49) / 2 }')
expect_eq "the mean of the best val_loss of Adam's runs" "$(J "print('%.6f' % a['rows'][0]['mean'])")" "$want"
expect_eq "its best run" "$(J "print(a['rows'][0]['best_task'])")" "$B"
expect_eq "says what it grouped by" "$(J "print(a['about']['by'], a['kinds'][0]['kind'])")" "OPTIMIZER_NAME hyperparameter"
expect_status "groups by a tag" 0 "$DNNPROV" groups -c exp.yaml --by tags.stage --format json
expect_eq "the tagged run, then the others" "$(J "print([(r['tags.stage'], r['runs']) for r in a['rows']])")" "[('candidate', 1), (None, 2)]"
expect_status "groups by nothing known" 1 "$DNNPROV" groups -c exp.yaml --by nope
expect_grep "says what it takes" "a hyperparameter (OPTIMIZER_NAME, LEARNING_RATE), status, tags.KEY or facts.NAME" "$T/err"
expect_status "bands by optimizer" 0 "$DNNPROV" bands -c exp.yaml --by OPTIMIZER_NAME --metric val_loss --format json
expect_eq "a row per group and epoch" "$(J "print(len(a['rows']))")" 16
expect_eq "Adam at epoch 8: two runs, 0.2 apart" \
	"$(J "r = [r for r in a['rows'] if r['OPTIMIZER_NAME'] == 'Adam' and r['epoch'] == 8][0]; print(r['runs'], round(r['max'] - r['min'], 6))")" "2 0.2"

# --- tasks, did you mean, segments --------------------------------------------------------------
expect_status "tasks --match a beginning" 0 "$DNNPROV" tasks -c exp.yaml --match al --format json
expect_eq "the ids that begin so" "$(J "print([r['task'] for r in a['rows']])")" "['$A']"
expect_status "tasks --match a part, in another case" 0 "$DNNPROV" tasks -c exp.yaml --match ETA --format json
expect_eq "the ids that hold it" "$(J "print([r['task'] for r in a['rows']])")" "['$B']"
expect_status "segments of a run" 0 "$DNNPROV" segments -c exp.yaml "$A" --format json
expect_eq "each of its segments (a log command writes one), read whole" \
	"$(J "print(len(a['rows']), {(r['state'], r['behind']) for r in a['rows']})")" \
	"$(ls dnnprov-logs/diffs/"$A" | grep -c dnplog) {('complete', 0)}"

# --- the metrics' bounds: declared, then the rule ------------------------------------------------
expect_status "curve" 0 "$DNNPROV" curve -c exp.yaml "$A" --format json
expect_eq "loss, as declared; val_loss, its twin, too; acc by the rule" \
	"$(J "print({k['metric']: k['bounds'] for k in a['kinds'] if k['kind'] == 'metric'})")" \
	"{'loss': [0.0, 10.0], 'acc': [0.0, 1.0], 'val_loss': [0.0, 10.0]}"
expect_status "runs" 0 "$DNNPROV" runs -c exp.yaml --metric acc --format json
expect_eq "about the chosen metric" "$(J "print(a['about']['bounds'], a['about']['bounds_declared'])")" "[0.0, 1.0] False"
finish
