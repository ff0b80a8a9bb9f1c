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
finish
