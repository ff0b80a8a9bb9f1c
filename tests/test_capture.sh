#!/usr/bin/env bash
# Capture from the shell: `dnnprov log` then `dnnprov cat` round-trips a
# training, an independent Python reader agrees with the C reader, and
# `dnnprov check` finds a cut tail and a corrupted byte with their offsets
# and loses nothing else.
. "$(dirname "$0")/lib.sh"

cat >"$T/exp.yaml" <<YAML
dataflow: shell-df
hyperparameters:
  OPTIMIZER_NAME: true
  LEARNING_RATE: true
  NUM_EPOCHS: true
  BATCH_SIZE: true
  seed: numeric
metrics: [loss, accuracy]
adaptation: true
transformations:
  DenseBlock:
    input:
      iDenseBlock: {growth_rate: numeric, layers_db: numeric}
log:
  segment_size: 4KiB
YAML
L="$DNNPROV log -c $T/exp.yaml"

# --- a whole training, one call per record ----------------------------------
id=$($L begin OPTIMIZER_NAME=SGD LEARNING_RATE=0.1 NUM_EPOCHS=5 BATCH_SIZE=32 seed=7)
expect_eq "generated task id is printed" "$(echo "$id" | grep -c -- '-')" 1
$L --task "$id" layers dense_1:activation=relu drop_1:dropout=0.25
for e in 1 2 3 4 5; do
	[ $e = 3 ] && $L --task "$id" adapt 3 LEARNING_RATE=0.05
	$L --task "$id" epoch $e loss=0.$((9 - e)) accuracy=0.$((5 + e)) val_loss=nan val_accuracy=0.$((4 + e))
done
$L --task "$id" test loss=0.2 accuracy=0.91
$L --task "$id" element DenseBlock iDenseBlock growth_rate=12 layers_db=33
$L --task "$id" end

"$DNNPROV" cat "$T/dnnprov-logs" >"$T/cat.jsonl"
expect_eq "records in the log" "$(wc -l <"$T/cat.jsonl")" 12
expect_eq "epochs" "$(grep -c '"kind":"epoch"' "$T/cat.jsonl")" 5
expect_grep "hyperparameters recorded" '"hyperparameters":{"OPTIMIZER_NAME":"SGD","LEARNING_RATE":0.1,"NUM_EPOCHS":5,"BATCH_SIZE":32,"seed":7}' "$T/cat.jsonl"
expect_grep "NaN kept" '"val_loss":"NaN"' "$T/cat.jsonl"
expect_grep "adaptation" '"kind":"adapt".*"hyperparameter":"LEARNING_RATE","new":0.05' "$T/cat.jsonl"
expect_grep "layers" '{"name":"drop_1","kind":"dropout","value":0.25}' "$T/cat.jsonl"
expect_grep "end" '"status":"FINISHED"' "$T/cat.jsonl"
"$DNNPROV" cat --kind epoch,test --task "$id" "$T/dnnprov-logs" >"$T/f.jsonl"
expect_eq "cat --kind filters" "$(wc -l <"$T/f.jsonl")" 6
"$DNNPROV" cat --task nope "$T/dnnprov-logs" >"$T/f.jsonl"
expect_eq "cat --task filters" "$(wc -l <"$T/f.jsonl")" 0

# --- bad calls leave nothing behind -----------------------------------------
n=$(find "$T/dnnprov-logs" -name '*.dnplog' | wc -l)
expect_status "a text metric is refused" 1 $L --task "$id" epoch 6 loss=high
expect_grep "it says why" "loss takes a number" "$T/err"
expect_status "a text learning rate is refused" 1 $L begin LEARNING_RATE=fast
expect_status "a task id with a slash" 1 $L --task a/b epoch 1 loss=1
expect_grep "it names the problem" "path separator" "$T/err"
expect_status "an unknown action" 2 $L --task "$id" train
expect_status "a missing config" 1 "$DNNPROV" log -c "$T/none.yaml" --task x end
expect_grep "config error names the file" "none.yaml" "$T/err"
expect_eq "no segment created by failed calls" "$(find "$T/dnnprov-logs" -name '*.dnplog' | wc -l)" "$n"

# --- a second, independent reader agrees ------------------------------------
# A longer run, with rotation (4 KiB segments), so the comparison covers many
# segments and every record kind.
id2=$($L begin OPTIMIZER_NAME="Adam \"quoted\" ünïcode" LEARNING_RATE=1e-3)
for e in $(seq 1 60); do $L --task "$id2" epoch "$e" loss=$e.5 accuracy=inf val_loss=-inf; done
$L --task "$id2" end --status KILLED --message 'line one
line "two"'
"$DNNPROV" cat --seconds "$T/dnnprov-logs" >"$T/cat.jsonl"
expect_status "the Python reader agrees with dnnprov cat" 0 $PY tests/indep_reader.py --compare "$T/cat.jsonl" "$T/dnnprov-logs"

# --- check: a clean tree, then a cut tail and a corrupted byte ---------------
expect_status "check: clean tree" 0 "$DNNPROV" check -q "$T/dnnprov-logs"
seg=$(find "$T/dnnprov-logs/shell-df/$id2" -name '*.dnplog' | sort | tail -n 20 | head -n 1)
size=$(stat -c %s "$seg")
offsets=$("$DNNPROV" cat "$seg" | sed 's/.*"offset":\([0-9]*\)}$/\1/')
records_before=$(echo "$offsets" | wc -l)
# Corrupt the middle of the (only) record's payload.
off=$(echo "$offsets" | head -n 1)
printf '\xff' | dd of="$seg" bs=1 seek=$((off + 20)) conv=notrunc status=none
expect_status "check: a corrupted byte is found" 1 "$DNNPROV" check "$seg"
expect_grep "with its offset" "offset $off: bad checksum" "$T/out"
expect_status "cat reports it and goes on" 1 "$DNNPROV" cat "$T/dnnprov-logs"
expect_eq "only that record is lost" "$(wc -l <"$T/out")" "$(($(wc -l <"$T/cat.jsonl") - 1))"

# Cut a sealed segment in the middle of its last record: a dead writer's tail.
seg2=$(find "$T/dnnprov-logs/shell-df/$id2" -name '*.dnplog' | sort | tail -n 5 | head -n 1)
off2=$("$DNNPROV" cat "$seg2" | tail -n 1 | sed 's/.*"offset":\([0-9]*\)}$/\1/')
truncate -s $((off2 + 7)) "$seg2"
expect_status "check: a cut tail is found" 1 "$DNNPROV" check "$seg2"
expect_grep "with its offset" "offset $off2: truncated tail, 7 bytes" "$T/out"
expect_status "check --fix without --yes and no terminal does nothing" 1 setsid -w "$DNNPROV" check --fix "$seg2" </dev/null
expect_eq "the file is as it was" "$(stat -c %s "$seg2")" $((off2 + 7))
expect_status "check --fix --yes truncates and seals" 0 "$DNNPROV" check --fix --yes "$seg2"
expect_grep "it says where" "truncated at offset $off2 and sealed" "$T/out"
expect_status "the fixed segment is clean" 0 "$DNNPROV" check "$seg2"
expect_grep "sealed" "sealed" "$T/out"

expect_status "usage: check without a path" 2 "$DNNPROV" check
expect_status "help for a command" 0 "$DNNPROV" help check
expect_grep "help shows usage" "usage: dnnprov check" "$T/out"
expect_status "--help shows the same" 0 "$DNNPROV" log --help
expect_grep "log usage" "usage: dnnprov log" "$T/out"
expect_status "version" 0 "$DNNPROV" --version
expect_grep "version text" "dnnprov 0.1.0" "$T/out"
expect_status "unknown command" 2 "$DNNPROV" frobnicate
finish
