#!/usr/bin/env bash
# dnnprov serve: its API against the CLI (tests/serve_api.py), its bounds
# against clients that do not play along (tests/serve_limits.py) and its
# page in headless Chromium (tests/serve_browser.py), over an index made by
# a real training: the digits demo's grid, 9 epochs each, and runs that
# failed, were cut short or have every part a run page shows.
. "$(dirname "$0")/lib.sh"
TOOLS="$PWD/$BUILD/tests/tools"

# The digits experiment, logs and index under $T, with one more
# transformation of the user's beside its pipeline's (the run page shows
# its elements).
{ echo "log_dir: logs"; echo "index_dir: index"; grep -v -e '^log_dir:' -e '^index_dir:' examples/digits.yaml |
	sed '/^transformations:$/a\  DenseBlock:\n    depends_on: [TrainingModel]\n    input:\n      iDenseBlock: {growth_rate: numeric, layers_db: numeric}'
} >"$T/digits.yaml"
expect_grep "the experiment has the transformation" "^  DenseBlock:" "$T/digits.yaml"
expect_status "the digits grid trains" 0 sh tools/pyrun.sh "$PWD/$BUILD/libdnnprov.so" examples/torch_digits.py \
	--config "$T/digits.yaml" --epochs 9
expect_grep "six configurations" "^6 configurations" "$T/out"
L() { "$DNNPROV" log -c "$T/digits.yaml" "$@"; }
# What a real grid has besides: a run that failed early, a smoke run of one
# epoch (the hyperparameters view marks it short), and a run with every
# part a run page shows: resumed once, tagged, a note, layers, a test,
# elements of DenseBlock, an end message.
SAME="DECAY=0 MOMENTUM=0.9 NUM_EPOCHS=9 BATCH_SIZE=64 NUM_LAYERS=2 LR_SCHEDULER=StepLR seed=1"
id=$(L begin --label crashed OPTIMIZER_NAME=SGD LEARNING_RATE=0.05)
L --task "$id" epoch 1 loss=2.1 val_loss=2.2 accuracy=0.2 val_accuracy=0.2
L --task "$id" end --status FAILED --message "CUDA out of memory"
id=$(L begin --label smoke OPTIMIZER_NAME=SGD LEARNING_RATE=0.05 $SAME)
L --task "$id" epoch 1 loss=2.0 val_loss=2.05 accuracy=0.3 val_accuracy=0.3
L --task "$id" end
full=$(L begin --label full OPTIMIZER_NAME=Adam LEARNING_RATE=0.02 $SAME)
for e in 1 2 3; do L --task "$full" epoch $e loss=0.$((9 - e)) val_loss=0.$((9 - e))5 accuracy=0.$((5 + e)) val_accuracy=0.$((4 + e)); done
L --task "$full" adapt 3 LEARNING_RATE=0.01
L --task "$full" layers dense_1:activation=relu dropout:rate=0.2
L --task "$full" element DenseBlock iDenseBlock growth_rate=12 layers_db=4
sleep 1
L --task "$full" begin --resume
for e in 4 5; do L --task "$full" epoch $e loss=0.$((9 - e)) val_loss=0.$((9 - e))5 accuracy=0.$((5 + e)) val_accuracy=0.$((4 + e)); done
L --task "$full" test loss=0.4 accuracy=0.88
L --task "$full" end --message "stopped early: val_loss plateaued"
"$DNNPROV" tag -c "$T/digits.yaml" "$full" stage=candidate --note "best of the small runs" >/dev/null
# A run whose id and hyperparameter are markup: it must show as text.
HOSTILE='<img src=x onerror=window.__pwned=1>'
expect_status "a hostile task begins" 0 "$DNNPROV" log -c "$T/digits.yaml" --task "$HOSTILE" begin \
	OPTIMIZER_NAME='</script><script>window.__pwned=2</script>' LEARNING_RATE=0.05
mkdir -p "$T/hostile" && echo 1,2 >"$T/hostile/<svg onload=window.__pwned=3>.csv"
expect_status "and reads a file whose name is markup" 0 "$DNNPROV" log -c "$T/digits.yaml" --task "$HOSTILE" \
	used train_data "$T/hostile/<svg onload=window.__pwned=3>.csv"
expect_status "and reports an epoch" 0 "$DNNPROV" log -c "$T/digits.yaml" --task "$HOSTILE" epoch 1 loss=1.5 val_loss=1.6
"$DNNPROV" index -c "$T/digits.yaml" -q

# Thousands of tasks, for the time limit.
indexer_config "$T/big.yaml"
sed -i -e "s|^log_dir:.*|log_dir: $T/big-logs|" -e "s|^index_dir:.*|index_dir: $T/big-index|" "$T/big.yaml"
"$TOOLS/gen_logs" "$T/big.yaml" 3000 2 5 >/dev/null
"$DNNPROV" index -c "$T/big.yaml" -q

cd tests
expect_status "the API answers as the CLI" 0 $PY serve_api.py "$DNNPROV" "$T/digits.yaml" "$T/big-index"
tail -1 "$T/out"
grep FAIL "$T/out" || true

expect_status "the server's bounds: slow clients, oversized requests, SQL answers, sessions" 0 \
	$PY serve_limits.py "$DNNPROV" "$T/digits.yaml"
tail -1 "$T/out"
grep FAIL "$T/out" || true

mkdir -p "$OLDPWD/$BUILD/screenshots"
expect_status "the page in Chromium" 0 $PY serve_browser.py "$DNNPROV" "$T/digits.yaml" "$OLDPWD/$BUILD/screenshots" "$full"
tail -1 "$T/out"
grep -e FAIL -e '^chromium' -e '^live update' "$T/out" || true
cd "$OLDPWD"
finish
