#!/usr/bin/env bash
# Names cannot hide in a terminal: a task id, dataflow, metric or
# hyperparameter name holding a C1 control, a bidirectional control or an
# invisible separator is refused when it is logged, and a forged log that
# holds one is a reported problem, never a row of a table.  The names of a
# dataflow's parts follow the rule of names (docs/CONFIG.md) in the
# experiment file, `dnnprov log`, Python and the indexer alike; values from
# the logs reach the terminal escaped in every table.
. "$(dirname "$0")/lib.sh"
PY_RUN() { PYTHONPATH="$PWD/python" sh tools/pyrun.sh "$PWD/$BUILD/libdnnprov.so" "$@"; }

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

# --- the rule of names: what real tools write passes, what breaks an identifier does not ---
names_config() { # FILE METRIC HYPERPARAMETER SET ATTRIBUTE TRANSFORMATION, quoted as JSON (YAML reads it)
	$PY - "$T" "$@" <<'PY'
import json, sys
t, path, metric, hyp, st, attr, tf = sys.argv[1:]
q = json.dumps
open(path, "w").write(f"""dataflow: nf
log_dir: {t}/nlogs
index_dir: {t}/nindex
hyperparameters:
  LEARNING_RATE: true
  {q(hyp)}: numeric
metrics: [{q(metric)}]
transformations:
  {q(tf)}:
    output:
      {q(st)}: {{{q(attr)}: text}}
""")
PY
}
for good in layers.0.units optimizer__lr val_accuracy top-5 idenseblock _x précision; do
	names_config "$T/n.yaml" "$good" "$good" "$good" "$good" "T$good"
	expect_status "config: '$good' is a name" 0 "$DNNPROV" config check "$T/n.yaml"
done
bad_names=("val acc" 'a"b' "a'b" 'x;y' '1cycle' '-lr' '.x' 'a(b)' 'a,b' 'a=b' 'a`b' 'a$b' 'a*b' "tab$(printf '	')x"
	"nb$(printf ' ')sp" "q$(printf '“')x")
for bad in "${bad_names[@]}"; do
	for part in metric hyperparameter set attribute transformation; do
		case $part in
		metric) names_config "$T/n.yaml" "$bad" h s a T ;;
		hyperparameter) names_config "$T/n.yaml" m "$bad" s a T ;;
		set) names_config "$T/n.yaml" m h "$bad" a T ;;
		attribute) names_config "$T/n.yaml" m h s "$bad" T ;;
		transformation) names_config "$T/n.yaml" m h s a "$bad" ;;
		esac
		expect_status "config: $part '$bad' is refused" 1 "$DNNPROV" config check "$T/n.yaml"
		expect_grep "config: $part '$bad': the refusal says where and what" "n.yaml:[0-9]*:[0-9]*: $part name " "$T/err"
	done
done
# At append time: the shell and Python (through the C writer).
cat >"$T/free.yaml" <<YAML
dataflow: ff
log_dir: $T/flogs
index_dir: $T/findex
hyperparameters: {LEARNING_RATE: true}
metrics: [loss]
free_metrics: true
transformations:
  Prep:
    output:
      oPrep: {label: text}
YAML
F() { "$DNNPROV" log -c "$T/free.yaml" "$@"; }
F --task f begin LEARNING_RATE=1 >/dev/null
for bad in "val acc" 'a"b' 'x;y' '1cycle'; do
	expect_status "log: metric '$bad' is refused" 1 F --task f epoch 1 "$bad=1"
	expect_grep "log: it says why" "metric '.*' .*: a name is letters" "$T/err"
	expect_status "log: hyperparameter '$bad' is refused" 1 F --task f adapt 1 "$bad=1"
done
expect_status "log: a free metric that is a name" 0 F --task f epoch 1 layers.0.units=1 optimizer__lr=0.1
expect_status "python: a name that is none is refused" 0 PY_RUN -c '
import sys, dnnprov
t = dnnprov.Task(sys.argv[1], {"LEARNING_RATE": 1}, task_id="p")
for bad in ("val acc", "x;y", "a(b)", "1cycle"):
    try:
        t.epoch(1, **{bad: 1.0})
    except dnnprov.InvalidArgumentError as e:
        assert "a name is letters" in str(e), e
    else:
        raise SystemExit("accepted %r" % bad)
t.epoch(1, val_accuracy=0.5)
t.end(); t.close()' "$T/free.yaml"
# A log an older writer wrote, with names the rule refuses: reported with
# its segment, offset and name, and indexed as written, never lost.
F --task old epoch 1 loss=1 >/dev/null 2>&1 || true
F --task old begin LEARNING_RATE=1 >/dev/null
F --task old epoch 1 loss=1 >/dev/null
F --task old epoch 2 loss=2 >/dev/null
for seg in "$T"/flogs/ff/old/*.dnplog; do
	$PY tests/rewrite_segment.py "$seg" "r.get('kind') == 'epoch' and r.update(metrics={'val acc': r['metrics']['loss']})"
done
expect_status "index of an older writer's names" 0 "$DNNPROV" index -c "$T/free.yaml"
expect_grep "the name is reported with its segment and offset" \
	"ff/old/[0-9]*-.*dnplog: offset [0-9]*: metric name 'val acc' has a space at byte 3; indexed as written$" "$T/err"
expect_eq "once per segment, at its first such record" "$(grep -c "metric name 'val acc'" "$T/err")" 2
expect_status "index --status lists it" 0 "$DNNPROV" index -c "$T/free.yaml" --status
expect_grep "status: with the name" "ff/old/.*: offset [0-9]*: metric name 'val acc' has a space" "$T/out"
expect_status "the epochs are indexed" 0 "$DNNPROV" curve -c "$T/free.yaml" old --metrics "val acc" --format csv
expect_eq "both, with their values" "$(tail -n +2 "$T/out" | cut -d, -f1,3 | tr -d '\r' | paste -sd' ')" "1,1 2,2"
"$DNNPROV" reindex -c "$T/free.yaml" -q 2>"$T/reindex.err"
expect_eq "a rebuild reports the same" "$(grep -c "metric name 'val acc'" "$T/reindex.err")" 2

# --- values reach the terminal escaped, in every table -------------------------------------
# ESC and OSC sequences, BEL, CR/LF (a fake row), U+202E and a C1 CSI in a
# text hyperparameter, a layer value, an adaptation, an element, a tag, a
# note, an end message and a run fact (the working folder).
cat >"$T/ev.yaml" <<YAML
dataflow: ev
log_dir: $T/elogs
index_dir: $T/eindex
hyperparameters: {OPTIMIZER_NAME: true, LEARNING_RATE: true}
metrics: [loss]
adaptation: true
transformations:
  Prep:
    output:
      oPrep: {label: text}
YAML
H=$(printf 'A\033]0;pwn\007B\r\nfake-row 1 2\342\200\256C\302\233[31mD')
E() { "$DNNPROV" log -c "$T/ev.yaml" "$@"; }
mkdir -p "$T/w$H"
(cd "$T/w$H" && "$DNNPROV" log -c "$T/ev.yaml" --task evil begin "OPTIMIZER_NAME=$H" LEARNING_RATE=0.1 >/dev/null)
E --task evil layers "dense:activation=$H"
E --task evil epoch 1 loss=0.5
E --task evil adapt 2 "OPTIMIZER_NAME=$H-2"
E --task evil epoch 2 loss=0.4
E --task evil test loss=0.3
E --task evil element Prep oPrep "label=$H"
E --task evil end --message "$H"
E --task calm begin OPTIMIZER_NAME=SGD LEARNING_RATE=0.2 >/dev/null
E --task calm epoch 1 loss=0.6
"$DNNPROV" tag -c "$T/ev.yaml" evil "stage=$H" --note "$H"
"$DNNPROV" index -c "$T/ev.yaml" -q
raw() { $PY -c "import sys; b = open(sys.argv[1], 'rb').read(); print(sum(b.count(x) for x in (b'\x1b', b'\x07', b'\r', b'\xe2\x80\xae', b'\xc2\x9b')))" "$1"; }
tables=("runs" "runs --facts" "compare --metric loss" "effect --hyp OPTIMIZER_NAME --metric loss" "curve evil"
	"adaptations" "test" "elements Prep" "layers" "describe evil" "describe" "dataflows" "tag evil" "watch --count 1")
for c in "${tables[@]}"; do
	# shellcheck disable=SC2086
	expect_status "table of $c" 0 "$DNNPROV" $c -c "$T/ev.yaml"
	expect_eq "$c: no control, C1 or bidirectional character reaches the terminal" "$(raw "$T/out")" 0
	expect_eq "$c: no fake row" "$(grep -c '^fake-row' "$T/out" || true)" 0
done
for c in "runs" "describe evil" "tag evil" "layers" "elements Prep" "adaptations" "curve evil" "test"; do
	# shellcheck disable=SC2086
	"$DNNPROV" $c -c "$T/ev.yaml" >"$T/out"
	expect_grep "$c: the value is shown, escaped" 'A\\x1b\]0;pwn\\x07B\\r\\nfake-row 1 2\\u202eC\\u009b\[31mD' "$T/out"
done
expect_status "sql, a table" 0 "$DNNPROV" sql -c "$T/ev.yaml" "select message, cast(x'41ff1b5b33316d0a' as text) as bytes from tasks where task = 'evil'"
expect_eq "sql: nothing raw" "$(raw "$T/out")" 0
expect_grep "sql: invalid UTF-8 and controls shown as bytes" 'A\\xff\\x1b\[31m\\n' "$T/out"
expect_eq "sql: one row" "$(wc -l <"$T/out")" 2
# Column widths are those of the escaped text: every line of a table is as
# wide as its header's columns say (the last column of the header sets none).
"$DNNPROV" runs -c "$T/ev.yaml" --where "task = 'evil'" >"$T/out"
expect_eq "runs: two lines, the row aligned under its header" "$(wc -l <"$T/out")" 2
for f in csv json; do
	expect_status "$f keeps the exact value" 0 "$DNNPROV" runs -c "$T/ev.yaml" --format "$f" --where "task = 'evil'"
done
expect_eq "JSON: the exact value" "$($PY -c "import json,sys; print(json.load(open(sys.argv[1]))['rows'][0]['message'] == sys.argv[2])" "$T/out" "$H")" True
cp "$(ls "$T"/elogs/ev/calm/*.dnplog | head -n 1)" "$T/elogs/ev/calm/0000000099-$(printf 'x\033[31m').dnplog"
"$DNNPROV" index -c "$T/ev.yaml" -q 2>"$T/err" || true
expect_eq "index: its report is escaped" "$(raw "$T/err")" 0
expect_status "index --status" 0 "$DNNPROV" index -c "$T/ev.yaml" --status
expect_eq "status: nothing raw" "$(raw "$T/out")" 0
expect_grep "status: the name is shown" 'x\\x1b\[31m.dnplog' "$T/out"
finish
