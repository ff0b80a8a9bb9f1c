#!/usr/bin/env bash
# The main job end to end on a smaller grid: a real PyTorch training on the
# digits data captured by dnnprov, indexed and queried; the configuration
# `compare` ranks first must be the one the training script printed as best.
. "$(dirname "$0")/lib.sh"
expect_status "the demo runs and agrees with the training script" 0 sh tools/demo.sh "$BUILD" --quick
expect_grep "it trained every configuration" "configurations, .* epochs each" "$T/out"
expect_grep "it printed its best" "^best: task=" "$T/out"
expect_grep "it indexed the run" "^indexed [0-9]* records" "$T/out"
expect_grep "the index agreed" "the index ranks first what the training found best" "$T/out"
expect_grep "the curve shows the schedule step" "\* LEARNING_RATE" "$T/out"

# The C API's worked example: a logistic regression recorded through the C API.
sed -e "s|^log_dir:.*|log_dir: $T/c-logs|" -e "s|^index_dir:.*|index_dir: $T/c-index|" examples/train.yaml >"$T/train.yaml"
expect_status "examples/train.c trains and records" 0 "$BUILD/examples/train" "$T/train.yaml"
best=$(sed -n 's/^best: task=\([^ ]*\) .*/\1/p' "$T/out")
"$DNNPROV" index -c "$T/train.yaml" -q
expect_status "its runs are in the index" 0 "$DNNPROV" compare -c "$T/train.yaml" --metric val_accuracy --agg last --format csv
expect_eq "three runs" "$(grep -c '^logreg-' "$T/out")" 3
expect_eq "the index ranks first what the C training found best" "$(sed -n 2p "$T/out" | cut -d, -f1)" "$best"
expect_status "its schedule steps are adaptations" 0 "$DNNPROV" adaptations -c "$T/train.yaml" --format csv
expect_eq "two steps per run" "$(grep -c '^logreg-' "$T/out")" 6
finish
