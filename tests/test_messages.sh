#!/usr/bin/env bash
# The messages a new user meets first: each says what is wrong once, names
# options and arguments the way the usage does, and lists what exists
# instead of printing a command line that could not run as printed.
. "$(dirname "$0")/lib.sh"
cd "$T"

# expect_err WHAT WANT: the whole of stderr is one line, WANT.
expect_err() { expect_eq "$1" "$(cat "$T/err")" "$2"; }

cat >exp.yaml <<'YAML'
dataflow: exp
hyperparameters:
  LEARNING_RATE: true
metrics: [loss]
adaptation: true
YAML
# Two runs that report loss only: val_loss is declared (a twin) but empty.
for lr in 0.1 0.01; do
	id=$("$DNNPROV" log -c exp.yaml begin LEARNING_RATE=$lr)
	for e in 1 2 3; do
		"$DNNPROV" log -c exp.yaml --task "$id" epoch $e loss=$(awk "BEGIN { print $lr * 10 / $e }")
	done
	"$DNNPROV" log -c exp.yaml --task "$id" end
done
"$DNNPROV" index -c exp.yaml -q
tasks=$("$DNNPROV" runs -c exp.yaml --format csv --sort task | tail -n +2 | cut -d, -f1 | paste -sd,)
first=${tasks%%,*}

# --- the experiment file is named once ----------------------------------------------
printf 'dataflow: exp\nmetrcs: [loss]\n' >bad.yaml
why="bad.yaml:2:1: unknown key 'metrcs' in the top level (expected one of: dataflow, log_dir, index_dir, hyperparameters, metrics, val_metrics, adaptation, transformations, log, free_metrics, facts, strict, metric_ranges)"
for cmd in runs index export; do
	expect_status "$cmd: a bad config" 1 "$DNNPROV" $cmd -c bad.yaml
	expect_err "$cmd: names the file once, with its line" "dnnprov: $cmd: $why"
done
expect_status "log: a bad config" 1 "$DNNPROV" log -c bad.yaml begin
expect_err "log: names the file once, with its line" "dnnprov: log: $why"
expect_status "a missing config" 1 "$DNNPROV" runs -c nothere.yaml
expect_err "names it once" "dnnprov: runs: cannot read nothere.yaml: No such file or directory"

# --- other paths are named once too, and a hint says what to give -------------------------
expect_status "index --status of no index" 1 "$DNNPROV" index --status --index-dir nowhere
expect_err "names it once; the hint has the option dnnprov index needs" \
	"dnnprov: index: no index at nowhere (No such file or directory): run \`dnnprov index -c CONFIG\` first"
expect_status "cat of no file" 1 "$DNNPROV" cat nowhere.dnplog
expect_err "names it once" "dnnprov: cat: cannot read nowhere.dnplog: No such file or directory"

# --- options are named as the usage names them ----------------------------------------
expect_status "curve --task" 2 "$DNNPROV" curve -c exp.yaml "$first" --task "$first"
expect_eq "names --task, not its value" "$(head -n 1 "$T/err")" "dnnprov: curve: option --task does not apply to curve"
expect_status "curve -t" 2 "$DNNPROV" curve -c exp.yaml "$first" -t"$first"
expect_eq "names --task for -tVALUE" "$(head -n 1 "$T/err")" "dnnprov: curve: option --task does not apply to curve"
expect_status "curve --where" 2 "$DNNPROV" curve -c exp.yaml "$first" --where "epochs > 1"
expect_eq "names --where, not the expression" "$(head -n 1 "$T/err")" "dnnprov: curve: option --where does not apply to curve"
expect_status "an unknown option" 2 "$DNNPROV" runs -c exp.yaml --colour
expect_eq "said once, naming it" "$(sed '/^usage:/,$d' "$T/err")" "dnnprov: runs: unknown option '--colour'"
expect_status "an option without its value" 2 "$DNNPROV" runs -c exp.yaml --where
expect_eq "says which" "$(head -n 1 "$T/err")" "dnnprov: runs: option --where needs a value"
expect_status "an abbreviated option without its value" 2 "$DNNPROV" runs -c exp.yaml --wh
expect_eq "says which, in full" "$(head -n 1 "$T/err")" "dnnprov: runs: option --where needs a value"
expect_status "a value for a flag" 2 "$DNNPROV" index -c exp.yaml --quiet=yes
expect_eq "says it takes none" "$(head -n 1 "$T/err")" "dnnprov: index: option --quiet takes no value"
expect_status "an unknown short option in a group" 2 "$DNNPROV" index -c exp.yaml -qz
expect_eq "names the letter" "$(head -n 1 "$T/err")" "dnnprov: index: unknown option -z"

# --- positional arguments ------------------------------------------------------------------
expect_status "curve with two tasks" 1 "$DNNPROV" curve -c exp.yaml "$first" "${tasks##*,}"
expect_err "says how the arguments were read" \
	"dnnprov: curve: no dataflow '$first' in the index (dataflows: exp); curve takes [DF] TASK, so '$first' was read as the dataflow and '${tasks##*,}' as the task"
expect_status "a dataflow that is not there, given alone" 1 "$DNNPROV" runs -c exp.yaml nope
expect_err "lists the dataflows" "dnnprov: runs: no dataflow 'nope' in the index (dataflows: exp)"

# --- an unknown task names the ids it may have meant, and prints no command -----------------
for cmd in "curve -c exp.yaml nope" "adaptations -c exp.yaml --task nope" "export -c exp.yaml --task nope"; do
	expect_status "${cmd%% *}: an unknown task" 1 "$DNNPROV" $cmd
	expect_err "${cmd%% *}: the ids around it" "dnnprov: ${cmd%% *}: no task 'nope' in dataflow exp (did you mean ${tasks//,/, }?)"
done
expect_status "an id's beginning" 1 "$DNNPROV" curve -c exp.yaml "${first:0:10}"
expect_err "the ids that begin so" "dnnprov: curve: no task '${first:0:10}' in dataflow exp (did you mean ${tasks//,/, }?)"
expect_status "a part of an id, in another case" 1 "$DNNPROV" curve -c exp.yaml "$(echo "${first:4:8}" | tr a-z A-Z)"
expect_grep "the ids that hold it" "did you mean $first" "$T/err"

# --- the default main metric has values ---------------------------------------------------------
expect_status "runs" 0 "$DNNPROV" runs -c exp.yaml --format csv
expect_eq "shows the metric the runs reported, not its empty val_ twin" \
	"$(head -n 1 "$T/out" | tr -d "\r" | tr , '\n' | grep '(' | paste -sd,)" "last(loss),best(loss)"
expect_status "compare" 0 "$DNNPROV" compare -c exp.yaml --format csv
expect_eq "compare ranks by it" "$(head -n 1 "$T/out" | tr -d "\r" | tr , '\n' | grep '(')" "min(loss)"
expect_eq "and fills it" "$(cut -d, -f4 "$T/out" | grep -c '^[0-9]')" 2
id=$("$DNNPROV" log -c exp.yaml begin LEARNING_RATE=1)
"$DNNPROV" log -c exp.yaml --task "$id" epoch 1 loss=1 val_loss=2
"$DNNPROV" index -c exp.yaml -q
expect_status "runs, once a task reports val_loss" 0 "$DNNPROV" runs -c exp.yaml --format csv
expect_eq "the val_ twin is the main metric" \
	"$(head -n 1 "$T/out" | tr -d "\r" | tr , '\n' | grep '(' | paste -sd,)" "last(val_loss),best(val_loss)"
# --- config check: the file before any training ------------------------------------------
mkdir -p sub/real && ln -s real sub/link
cat >sub/link/exp.yaml <<'YAML'
dataflow: checked
log_dir: ../logs
hyperparameters:
  LEARNING_RATE: true
  BATCH_SIZE: false
  seed: numeric
metrics: [loss, val_loss, acc]
transformations:
  DenseBlock:
    depends_on: [TrainingModel]
    input: {iDenseBlock: {growth_rate: numeric}}
    output: {oDenseBlock: {output: text}}
log: {segment_size: 4KiB, durability: always}
YAML
mkdir sub/logs
expect_status "config check: a valid file" 0 "$DNNPROV" config check sub/link/exp.yaml
expect_eq "says so first" "$(head -n 1 "$T/out")" "sub/link/exp.yaml is valid."
expect_grep "the dataflow" "^dataflow  *checked$" "$T/out"
expect_grep "log_dir: absolute, from the file's folder, links resolved" "^log_dir  *$(cd sub && pwd -P)/logs$" "$T/out"
expect_grep "index_dir: the default beside the file, not there yet" \
	"^index_dir  *$(cd sub/real && pwd -P)/dnnprov-index (not created yet)$" "$T/out"
expect_grep "a built-in hyperparameter with its type" "^  LEARNING_RATE  *numeric  *(built-in)$" "$T/out"
expect_grep "a declared one" "^  seed  *numeric$" "$T/out"
expect_grep "what is not recorded" "^built-in, not recorded: OPTIMIZER_NAME, DECAY, MOMENTUM, NUM_EPOCHS, BATCH_SIZE, NUM_LAYERS$" "$T/out"
expect_grep "the metrics as listed" "^metrics per epoch and test: loss, val_loss, acc$" "$T/out"
expect_grep "their twins, the listed val_loss not doubled" "validation twins.*: val_acc$" "$T/out"
expect_grep "a transformation and its dependency" "^  DenseBlock, depends on TrainingModel$" "$T/out"
expect_grep "its sets and typed attributes" "^    input  iDenseBlock: growth_rate numeric$" "$T/out"
expect_grep "output sets too" "^    output oDenseBlock: output text$" "$T/out"
expect_grep "the log settings" "^log: segments of 4KiB, durability always$" "$T/out"
expect_status "config check: a bad file" 1 "$DNNPROV" config check bad.yaml
expect_err "FILE:LINE:COL and the problem" "dnnprov: config: $why"
expect_status "config check: no file" 1 "$DNNPROV" config check nothere.yaml
expect_err "says it cannot be read" "dnnprov: config: cannot read nothere.yaml: No such file or directory"
expect_status "config: no action" 2 "$DNNPROV" config
expect_status "config: an unknown action" 2 "$DNNPROV" config chek exp.yaml
expect_eq "names it" "$(head -n 1 "$T/err")" "dnnprov: config: unknown action 'chek' (the action is check)"
expect_status "config check: two files" 2 "$DNNPROV" config check exp.yaml bad.yaml

# --- one size rule for every free text a writer records ----------------------------------
cat >text.yaml <<'YAML'
dataflow: texts
hyperparameters: {OPTIMIZER_NAME: true}
metrics: [loss]
transformations:
  Prep:
    output:
      oPrep: {label: text}
YAML
limit=65536
at=$(head -c $limit /dev/zero | tr '\0' x)
over="${at}x"
X() { "$DNNPROV" log -c text.yaml "$@"; }
X --task t begin OPTIMIZER_NAME=ok >/dev/null
for size in at over; do
	v=${!size}
	want=$([ $size = at ] && echo 0 || echo 1)
	expect_status "a text hyperparameter $size the limit" $want X --task "h-$size" begin "OPTIMIZER_NAME=$v"
	expect_status "an element value $size the limit" $want X --task t element Prep oPrep "label=$v"
	expect_status "a tag $size the limit" $want "$DNNPROV" tag -c text.yaml t "stage=$v"
	expect_status "a note $size the limit" $want "$DNNPROV" tag -c text.yaml t --note "$v"
	X --task "e-$size" begin OPTIMIZER_NAME=ok >/dev/null
	expect_status "an end message $size the limit" $want X --task "e-$size" end --message "$v"
	[ $size = over ] && expect_grep "the end message: the one limit, named" "the limit for a text is $limit" "$T/err"
done
expect_status "python: an end message over the limit is refused, not cut" 0 \
	env PYTHONPATH="$OLDPWD/python" sh "$OLDPWD/tools/pyrun.sh" "$OLDPWD/$BUILD/libdnnprov.so" -c '
import sys, dnnprov
t = dnnprov.Task("text.yaml", {"OPTIMIZER_NAME": "ok"}, task_id="py")
for call in (lambda: t.tag(stage="x" * 65537), lambda: t.end("FINISHED", message="m" * 65537)):
    try:
        call()
    except dnnprov.InvalidArgumentError as e:
        assert "the limit for a text is 65536" in str(e), e
    else:
        raise SystemExit("accepted")
t.end("FINISHED", message="m" * 65536)
t.close()'
finish
