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
expect_eq "curve: one column per distinct metric, in order" "$(head -n 1 "$T/out" | tr -d '\r')" \
	"epoch,elapsed,loss,val_loss,adapted"
expect_status "curve --metrics naming metrics twice" 0 Q curve df task-0001 \
	--metrics TOP5,top5,loss,accuracy,val_loss,val_accuracy,VAL_LOSS --format csv
expect_eq "curve: all five" "$(head -n 1 "$T/out" | tr -d '\r')" \
	"epoch,elapsed,top5,loss,accuracy,val_loss,val_accuracy,adapted"
finish
