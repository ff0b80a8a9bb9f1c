#!/usr/bin/env bash
# Names cannot hide in a terminal: a task id, dataflow, metric or
# hyperparameter name holding a C1 control, a bidirectional control or an
# invisible separator is refused when it is logged, and a forged log that
# holds one is a reported problem, never a row of a table.
. "$(dirname "$0")/lib.sh"

indexer_config "$T/exp.yaml"
L() { "$DNNPROV" log -c "$T/exp.yaml" "$@"; }
for cp in 0085 009B 061C 200B 200E 200F 2028 2029 202A 202E 2066 2069 FEFF; do
	c=$($PY -c "import sys; sys.stdout.write(chr(0x$cp))")
	expect_status "a task id with U+$cp" 1 L --task "a${c}b" begin LEARNING_RATE=1
	expect_grep "U+$cp: named in the refusal" "task id has a character that hides or reorders text in a terminal (U+$cp) at byte 1" "$T/err"
	expect_status "a metric name with U+$cp" 1 L --task ok epoch 1 "lo${c}ss=1"
done
expect_eq "nothing was written for them" "$(ls "$T/logs/df" 2>/dev/null | grep -vc '^ok$' || true)" 0
expect_status "names in other scripts stay" 0 L --task "é-日本-ok" begin LEARNING_RATE=1

# A forged log: a metric name and a task folder with U+202E.
L --task t begin LEARNING_RATE=1 >/dev/null
L --task t epoch 1 loss=1 >/dev/null
for seg in "$T"/logs/df/t/*.dnplog; do
	$PY tests/rewrite_segment.py "$seg" "r.get('kind') == 'epoch' and r.update(metrics={'lo\u202ess': 2})"
done
mkdir "$T/logs/df/x$(printf '\u202e')y"
cp "$(ls "$T"/logs/df/t/*.dnplog | head -n 1)" "$T/logs/df/x$(printf '\u202e')y/"
expect_status "index of the forged log" 0 "$DNNPROV" index -c "$T/exp.yaml" -q
expect_grep "the metric name is a problem" "offset [0-9]*: .*metric.*(skipped)" "$T/err"
expect_grep "the folder is a problem" "offset 0: not in a <dataflow>/<task> folder" "$T/err"
expect_status "runs" 0 "$DNNPROV" runs df --index-dir "$T/index" --format csv
expect_eq "no row or column shows the character" "$(grep -c "$(printf '\u202e')" "$T/out" || true)" 0
finish
