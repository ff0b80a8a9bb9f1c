#!/usr/bin/env bash
# The query commands: a randomized brute-force check of every command's JSON
# (tests/query_check.py), the three formats, and bad input of every kind.
#   DNNPROV_QUERY_SEEDS   how many random seeds (default 3)
. "$(dirname "$0")/lib.sh"
TOOLS="$PWD/$BUILD/tests/tools"

for df in df other; do
	query_config "$T/$df.yaml" "$df"
done
"$TOOLS/gen_logs" "$T/df.yaml" 40 30 11
"$TOOLS/gen_logs" "$T/other.yaml" 12 25 12
"$DNNPROV" index -c "$T/df.yaml" -q
Q() { "$DNNPROV" "$@" --index-dir "$T/index"; }

for seed in $(seq 1 "${DNNPROV_QUERY_SEEDS:-3}"); do
	expect_status "randomized check, seed $seed" 0 $PY tests/query_check.py "$DNNPROV" "$T/logs" "$T/index" "$seed"
	cat "$T/out" "$T/err" | head -12
done

expect_status "pages of runs equal the whole list" 0 $PY tests/page_check.py "$DNNPROV" "$T/index" df
tail -3 "$T/out"

# --- formats -------------------------------------------------------------------
expect_status "table" 0 Q compare df --limit 3
expect_eq "table: 3 rows" "$(grep -c "^task-" "$T/out")" 3
expect_grep "table: the header" "^task  *status" "$T/out"
expect_eq "table: fits 100 columns" "$($PY -c "import sys; print(int(max(len(l.rstrip('\n')) for l in open(sys.argv[1], encoding='utf-8')) <= 100))" "$T/out")" 1
expect_status "csv" 0 Q compare df --limit 3 --format csv
expect_eq "csv: a header and 3 rows" "$(wc -l <"$T/out")" 4
expect_grep "csv: header" "^task,status,OPTIMIZER_NAME,LEARNING_RATE" "$T/out"
expect_status "json parses" 0 Q runs df --format json
cp "$T/out" "$T/runs.json"
expect_status "json is strict" 0 $PY -c "import json,sys; json.loads(open('$T/runs.json').read(), parse_constant=lambda c: sys.exit('bare ' + c))"
expect_eq "json: an envelope of columns and rows" "$($PY -c "import json,sys; a = json.load(open(sys.argv[1])); print(sorted(a), a['columns'][:2], len(a['rows']) > 0, list(a['rows'][0]) == a['columns'])" "$T/runs.json")" "['columns', 'index', 'rows'] ['task', 'status'] True True"
expect_status "NaN is shown as NaN" 0 Q curve df task-0003 --metrics loss
expect_grep "NaN in the table" " NaN" "$T/out"
expect_status "curve: sparklines" 0 Q curve df task-0001
expect_grep "a sparkline per metric" "^loss .*[▁▂▃▄▅▆▇█]" "$T/out"
expect_status "config gives the dataflow" 0 "$DNNPROV" runs -c "$T/df.yaml" --format csv
expect_eq "runs: one row per task" "$(($(wc -l <"$T/out") - 1))" 40
expect_status "describe" 0 Q describe df
expect_grep "describe: sets" "DenseBlock.iDenseBlock .*growth_rate numeric" "$T/out"
expect_grep "describe: counts" "^tasks  *FINISHED  *[0-9]" "$T/out"
expect_status "watch once, no terminal" 0 Q watch df --count 1
expect_grep "watch: the running tasks" "^task-0009 " "$T/out"
expect_status "effect with bins" 0 Q effect df --hyp learning_rate --bins 3
expect_grep "effect: the correlation" "Spearman's rank correlation of LEARNING_RATE" "$T/out"

# --- like and arithmetic, by hand -------------------------------------------------
# What the randomized check's ASCII data cannot show: '_' is one UTF-8
# character, case is ignored, precedence and associativity, and a division
# by zero is unknown (so neither it nor its negation holds).
mkdir "$T/w"
printf 'dataflow: w\nhyperparameters:\n  OPTIMIZER_NAME: true\n  BATCH_SIZE: true\n' >"$T/w/w.yaml"
for t in "café 16" "Cafe 32" "cafés 64"; do
	set -- $t
	"$DNNPROV" log -c "$T/w/w.yaml" --task "t-$2" begin OPTIMIZER_NAME="$1" BATCH_SIZE="$2"
done
"$DNNPROV" index -c "$T/w/w.yaml" -q
W() { "$DNNPROV" runs -c "$T/w/w.yaml" --sort task --format csv --where "$1" | tail -n +2 | cut -d, -f1 | paste -sd' '; }
expect_eq "like: _ is one character, é included" "$(W "OPTIMIZER_NAME like 'caf_'")" "t-16 t-32"
expect_eq "like: case is ignored" "$(W "OPTIMIZER_NAME like 'CAF%'")" "t-16 t-32 t-64"
expect_eq "not like" "$(W "OPTIMIZER_NAME not like '%s'")" "t-16 t-32"
expect_eq "like: the whole text" "$(W "OPTIMIZER_NAME like 'caf'")" ""
expect_eq "* before +" "$(W "2 + 3 * BATCH_SIZE = 50")" "t-16"
expect_eq "parentheses" "$(W "(2 + 3) * BATCH_SIZE = 80")" "t-16"
expect_eq "- and / from the left" "$(W "BATCH_SIZE - 8 - 4 = 4 and BATCH_SIZE / 4 / 2 = 2")" "t-16"
expect_eq "unary minus" "$(W "-BATCH_SIZE * 2 < -40")" "t-32 t-64"
expect_eq "a quotient on both sides" "$(W "BATCH_SIZE / 2 >= 64 / BATCH_SIZE")" "t-16 t-32 t-64"
expect_eq "a division by zero is unknown" "$(W "BATCH_SIZE / 0 > 1 or not (BATCH_SIZE / (BATCH_SIZE - 32) > 0)")" "t-16"
expect_status "arithmetic on text" 1 "$DNNPROV" runs -c "$T/w/w.yaml" --where "OPTIMIZER_NAME * 2 > 1"
expect_eq "points at the text" "$(sed -n 1p "$T/err"; sed -n 3p "$T/err")" "dnnprov: runs: invalid --where: '*' needs numbers, and this is text
  ^"
expect_status "like on a number" 1 "$DNNPROV" runs -c "$T/w/w.yaml" --where "BATCH_SIZE like '1%'"
expect_grep "says like is for text" "like matches text, and this is a number" "$T/err"
expect_status "a condition as a number" 1 "$DNNPROV" runs -c "$T/w/w.yaml" --where "(BATCH_SIZE > 1) * 2 > 1"
expect_grep "says a value belongs there" "expected a value here, not a condition" "$T/err"
expect_status "a minus without a space" 1 "$DNNPROV" runs -c "$T/w/w.yaml" --where "BATCH_SIZE-16 > 0"
expect_grep "says how to subtract" "to subtract, write 'BATCH_SIZE - 16'" "$T/err"

# --- bad input -------------------------------------------------------------------
expect_status "unknown dataflow" 1 Q runs nope
expect_grep "names it and lists what exists" "no dataflow 'nope' in the index (dataflows: df, other)" "$T/err"
expect_status "unknown task" 1 Q curve df task-9999
expect_grep "names the task" "no task 'task-9999' in dataflow df" "$T/err"
expect_status "unknown metric" 1 Q compare df --metric acc
expect_grep "lists the metrics" "no metric 'acc' in dataflow df (metrics: loss, accuracy, val_loss, val_accuracy, top5)" "$T/err"
expect_status "unknown hyperparameter" 1 Q effect df --hyp lr
expect_grep "lists the hyperparameters" "no hyperparameter 'lr' in dataflow df (hyperparameters: OPTIMIZER_NAME" "$T/err"
expect_status "where: syntax error" 1 Q runs df --where "LEARNING_RATE >"
expect_grep "shows the expression" "LEARNING_RATE >" "$T/err"
expect_grep "with a caret" "^   *\^" "$T/err"
expect_status "where: unknown name" 1 Q runs df --where "lr < 0.1"
expect_grep "lists the names" "names: status, epochs, task" "$T/err"
expect_status "where: a metric without an aggregate" 1 Q runs df --where "loss < 0.1"
expect_grep "suggests one" "max(loss) or last(loss)" "$T/err"
expect_status "where: text against a number" 1 Q runs df --where "LEARNING_RATE = 'fast'"
expect_status "bad --sort column" 1 Q compare df --sort nope
expect_grep "lists the columns" "columns are task, status" "$T/err"
expect_status "bad --agg" 2 Q compare df --agg median
expect_status "bad --format" 2 Q runs df --format xml
expect_status "an option of another command" 2 Q curve df task-0001 --hyp x
mkdir "$T/empty"
"$DNNPROV" index --log-dir "$T/empty" --index-dir "$T/empty-index" -q
expect_status "an empty index: exit 0" 0 Q dataflows --format json
expect_status "an empty index: exit 0" 0 "$DNNPROV" runs df --index-dir "$T/empty-index" --format json
expect_eq "an empty result" "$($PY -c "import json,sys; a = json.load(open(sys.argv[1])); print(a['rows'], a['columns'])" "$T/out")" "[] []"
expect_grep "and a note" "is empty" "$T/err"
expect_status "a missing index" 1 "$DNNPROV" runs df --index-dir "$T/nowhere"
expect_grep "says so" "no index at $T/nowhere" "$T/err"
expect_eq "and creates nothing" "$(ls -d "$T/nowhere" 2>/dev/null | wc -l)" 0
expect_status "stdout to a full disk fails loudly" 1 sh -c "'$DNNPROV' runs df --index-dir '$T/index' >/dev/full"
finish
