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
expect_grep "the best model's lineage reaches the raw digits through the split and the scaling" \
	"lineage reaches the raw digits through Select TrainingModel Scale Split Load" "$T/out"
# The picture of the best run: A4 at 9 points or more, at most 1,800 units
# (points, as Graphviz writes SVG) wide.
expect_status "the picture is drawn" 0 test -s "$BUILD/demo-quick/best-run.svg"
expect_status "readable at A4" 0 $PY - "$BUILD/demo-quick/best-run.svg" <<'PY'
import re, sys, xml.etree.ElementTree as E
root = E.parse(sys.argv[1]).getroot()
width = float(re.match(r"[0-9.]+", root.get("width")).group())
sizes = [float(e.get("font-size")) for e in root.iter() if e.get("font-size")]
texts = "".join(root.itertext())
problems = []
if width > 1800:
    problems.append("%g units wide" % width)
if not sizes or min(sizes) < 9:
    problems.append("a label of %s points" % (min(sizes) if sizes else "no"))
for want in ("raw_data", "Split", "Scale", "TrainingModel", "epochs", "Adaptation", "model", "Evaluate", "person"):
    if want not in texts:
        problems.append("no " + want)
sys.exit("; ".join(problems) or None)
PY

# Task ids are labels followed by the time, host and pid: compared by label.
label() { sed -E 's/-[0-9]{8}T[0-9]{6}Z-[^ ,]*//g'; }

# The C API's worked example: a logistic regression recorded through the C API.
sed -e "s|^log_dir:.*|log_dir: $T/c-logs|" -e "s|^index_dir:.*|index_dir: $T/c-index|" examples/train.yaml >"$T/train.yaml"
expect_status "examples/train.c trains and records" 0 "$BUILD/examples/train" "$T/train.yaml"
best=$(sed -n 's/^best: task=\([^ ]*\) .*/\1/p' "$T/out")
"$DNNPROV" index -c "$T/train.yaml" -q
expect_status "its runs are in the index" 0 "$DNNPROV" compare -c "$T/train.yaml" --metric val_accuracy --agg last --format csv
expect_eq "three runs" "$(grep -c '^logreg-' "$T/out")" 3
expect_eq "the ids are unique per run, labelled by rate" "$(grep -c '^logreg-lr[0-9.]*-[0-9]\{8\}T' "$T/out")" 3
expect_eq "the index ranks first what the C training found best" "$(sed -n 2p "$T/out" | cut -d, -f1)" "$best"
expect_status "its schedule steps are adaptations" 0 "$DNNPROV" adaptations -c "$T/train.yaml" --format csv
expect_eq "two steps per run" "$(grep -c '^logreg-' "$T/out")" 6
# The story examples/train.c tells (its top comment): the middle rate ends
# best, the largest second, the smallest far behind; the largest overshoots
# until the first schedule step cuts its val_loss, which the smaller rates'
# steps barely move.
expect_eq "the middle rate first, the largest second, the smallest last" \
	"$("$DNNPROV" compare -c "$T/train.yaml" --metric val_accuracy --agg last --format csv | tail -n +2 | cut -d, -f1 | label | paste -sd' ')" \
	"logreg-lr0.1 logreg-lr1 logreg-lr0.01"
expect_eq "three different endings" \
	"$("$DNNPROV" compare -c "$T/train.yaml" --metric val_accuracy --agg last --format csv | tr -d '\r' |
		awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "last(val_accuracy)") c = i; next } { print $c }' | sort -u | wc -l)" 3
expect_eq "the smallest rate barely learns" \
	"$("$DNNPROV" runs -c "$T/train.yaml" --format csv --where "task like 'logreg-lr0.01-%' and last(val_accuracy) - min(val_accuracy) < 0.1" | tail -n +2 | cut -d, -f1 | label)" logreg-lr0.01
expect_eq "the largest overshoots: val_loss over 3" \
	"$("$DNNPROV" runs -c "$T/train.yaml" --format csv --where "max(val_loss) > 3" | tail -n +2 | cut -d, -f1 | label)" logreg-lr1
expect_status "the schedule's first steps" 0 "$DNNPROV" adaptations -c "$T/train.yaml" --format csv --where "epochs = 30"
expect_eq "cut the largest rate's val_loss by more than 0.5, the others' by less than 0.01" \
	"$(tr -d '\r' <"$T/out" | awk -F, '$2 == 11 { print $1, ($NF < -0.5 ? "big" : $NF > -0.01 ? "small" : "?") }' | label | sort | paste -sd,)" \
	"logreg-lr0.01 small,logreg-lr0.1 small,logreg-lr1 big"
finish
