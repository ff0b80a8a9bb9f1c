#!/usr/bin/env bash
# Command-line options at their edges: a list option naming one thing
# twice, and --help in a place where it is a value.
. "$(dirname "$0")/lib.sh"
TOOLS="$PWD/$BUILD/tests/tools"

indexer_config "$T/exp.yaml"
"$TOOLS/gen_logs" "$T/exp.yaml" 3 5 1
"$DNNPROV" index -c "$T/exp.yaml" -q
Q() { "$DNNPROV" "$@" --index-dir "$T/index"; }

# --- curve --metrics: a name given twice is one column; none is dropped ---------------
# The dataflow has five metrics: more names than that, duplicates first.
expect_status "curve --metrics with duplicates" 0 Q curve df task-0001 --metrics loss,LOSS,Loss,loss,LoSs,val_loss --format csv
expect_eq "curve: one column per distinct metric, in order" "$(head -n 1 "$T/out" | cut -d, -f1-4)" \
	"epoch,elapsed,loss,val_loss"
expect_eq "curve: and no more" "$(head -n 1 "$T/out" | grep -c 'loss.*loss.*loss')" 0
expect_status "curve --metrics naming metrics twice" 0 Q curve df task-0001 \
	--metrics TOP5,top5,loss,accuracy,val_loss,val_accuracy,VAL_LOSS --format csv
expect_eq "curve: all five" "$(head -n 1 "$T/out" | cut -d, -f1-7)" \
	"epoch,elapsed,top5,loss,accuracy,val_loss,val_accuracy"

# --- --help: where it is no option's value -------------------------------------------
for cmd in log cat check index reindex dataflows describe runs compare effect curve adaptations test elements \
	watch export; do
	expect_status "$cmd --help" 0 "$DNNPROV" $cmd --help
	expect_grep "$cmd --help: the usage on stdout" "^usage: dnnprov $cmd" "$T/out"
done
expect_status "help after other options" 0 Q runs df --format csv --help
expect_grep "help after other options: the usage" "^usage: dnnprov runs" "$T/out"
L() { "$DNNPROV" log -c "$T/exp.yaml" "$@"; }
L --task m begin LEARNING_RATE=1 >/dev/null
expect_status "log end --message --help" 0 L --task m end --status FAILED --message --help
expect_eq "the message --help is recorded" "$("$DNNPROV" cat --kind end "$T/logs/df/m" | grep -c '"message":"--help"')" 1
L --task m2 begin LEARNING_RATE=1 >/dev/null
expect_status "log end --message -h" 0 L --task m2 end --message -h
expect_eq "the message -h is recorded" "$("$DNNPROV" cat --kind end "$T/logs/df/m2" | grep -c '"message":"-h"')" 1
expect_status "log epoch ... --help (no value there)" 0 L --task m2 epoch 2 --help
expect_grep "prints the usage" "^usage: dnnprov log" "$T/out"
expect_status "runs --where --help: the value of --where" 1 Q runs df --where --help
expect_grep "an expression, not a request for help" "invalid --where: " "$T/err"
expect_status "export --task --help: the value of --task" 1 Q export df --task --help
expect_grep "a task, not a request for help" "no task '--help'" "$T/err"
expect_status "cat -- --help: a path" 1 "$DNNPROV" cat -- --help
expect_grep "a path, not a request for help" "cannot read --help" "$T/err"
finish
