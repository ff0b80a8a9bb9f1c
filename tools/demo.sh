#!/bin/sh
# The main job: a real training run captured, indexed and queried.
#   demo.sh BUILD [--quick]
# Trains the digits grid (examples/torch_digits.py) with dnnprov recording
# every configuration with the pipeline around it (load, split, scale,
# select, evaluate: docs/LINEAGE.md), indexes the logs, prints runs,
# compare, effect, a SQL query, the curve of the best task, the lineage of
# the best model and the picture of its run, and checks that the index
# ranks first the configuration the training script itself found best and
# that the model's lineage reaches the raw digits through the split and
# the scaling.
set -eu
build=$1
quick=${2:-}
work="$build/demo${quick:+-quick}"
dnnprov="$build/dnnprov"
rm -rf "$work"
mkdir -p "$work"
sed -e "s|^dataflow:.*|dataflow: torch-digits|" examples/digits.yaml >"$work/digits.yaml"
# Logs and index under the work folder, whatever digits.yaml says.
grep -v -e '^log_dir:' -e '^index_dir:' "$work/digits.yaml" >"$work/d.yaml"
{ echo "log_dir: logs"; echo "index_dir: index"; cat "$work/d.yaml"; } >"$work/digits.yaml"
rm "$work/d.yaml"

if [ -t 1 ]; then
	section() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
else
	section() { printf '\n$ %s\n' "$*"; }
fi

section "/usr/bin/python3 examples/torch_digits.py --config $work/digits.yaml $quick"
sh tools/pyrun.sh "$PWD/$build/libdnnprov.so" examples/torch_digits.py --config "$work/digits.yaml" $quick | tee "$work/train.out"
best=$(sed -n 's/^best: task=\([^ ]*\) .*/\1/p' "$work/train.out")

section "dnnprov index -c digits.yaml"
"$dnnprov" index -c "$work/digits.yaml"
section "dnnprov runs -c digits.yaml"
"$dnnprov" runs -c "$work/digits.yaml"
section "dnnprov compare -c digits.yaml --metric val_accuracy --agg last"
"$dnnprov" compare -c "$work/digits.yaml" --metric val_accuracy --agg last | tee "$work/compare.out"
section "dnnprov effect -c digits.yaml --hyp LEARNING_RATE --metric val_accuracy --agg last"
"$dnnprov" effect -c "$work/digits.yaml" --hyp LEARNING_RATE --metric val_accuracy --agg last
sql="select h.value as optimizer, count(*) as runs, round(avg(s.last), 4) as mean_last, round(max(s.last), 4) as best from hyperparameters h join summaries s on s.task = h.task and s.metric = 'val_accuracy' where h.name = 'OPTIMIZER_NAME' group by 1 order by 3 desc"
section "dnnprov sql -c digits.yaml \"$sql\""
"$dnnprov" sql -c "$work/digits.yaml" "$sql"
section "dnnprov curve -c digits.yaml $best --metrics loss,val_accuracy"
"$dnnprov" curve -c "$work/digits.yaml" "$best" --metrics loss,val_accuracy

model="$work/digits-artifacts/models/best.pt"
section "dnnprov lineage -c digits.yaml digits-artifacts/models/best.pt"
"$dnnprov" lineage -c "$work/digits.yaml" "$model"
"$dnnprov" lineage -c "$work/digits.yaml" "$model" --format csv >"$work/lineage.csv"
if command -v dot >/dev/null 2>&1; then
	section "dnnprov export -c digits.yaml --run $best --format svg -o best-run.svg"
	"$dnnprov" export -c "$work/digits.yaml" --run "$best" --format svg -o "$work/best-run.svg"
	echo "the picture of the best run: $work/best-run.svg"
else
	section "dnnprov export -c digits.yaml --run $best --format dot -o best-run.dot"
	"$dnnprov" export -c "$work/digits.yaml" --run "$best" --format dot -o "$work/best-run.dot"
	echo "the picture of the best run, in Graphviz's language: $work/best-run.dot (apt-get install graphviz draws it)"
fi

first=$(awk 'NR == 2 { print $1 }' "$work/compare.out")
echo
if [ -n "$best" ] && [ "$first" = "$best" ]; then
	echo "demo: the index ranks first what the training found best: $best"
else
	echo "demo: the index ranks '$first' first, but the training found '$best' best" >&2
	exit 1
fi
# The model's lineage: the best run, the scaling, the split, the load, and
# the raw file scikit-learn ships, by its content.
raw=$(/usr/bin/python3 -c 'import os, sklearn.datasets; print(os.path.join(os.path.dirname(sklearn.datasets.__file__), "data", "digits.csv.gz"))')
steps=$(tr -d '\r' <"$work/lineage.csv" | awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) { if ($i == "transformation") c = i; if ($i == "again") a = i }; next }
	$c != "" && $a == 0 { print $c }' | paste -sd' ' -)
if grep -q "$(sha256sum "$raw" | cut -d' ' -f1)" "$work/lineage.csv" && [ "$steps" = "Select TrainingModel Scale Split Load" ]; then
	echo "demo: the best model's lineage reaches the raw digits through $steps"
else
	echo "demo: the best model's lineage is '$steps', not back to $raw" >&2
	exit 1
fi
echo
echo "The dashboard of this index (docs/SERVE.md), until Ctrl-C:"
echo "  $dnnprov serve -c $work/digits.yaml"
