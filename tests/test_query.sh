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

# --- the first rows of a sorted answer ---------------------------------------
# compare and runs with --limit K choose their rows from the keys that keep
# their order (ranks, starts, the task keys) or from one scan, and load
# only those tasks; the answer must be the first K rows of the full one and
# the page the loading path gives (--where "task like '%'"): ties (equal
# values, then the task id; -0 and 0 are one key), NaN, tasks without
# epochs or the metric, failed runs, --goal, --offset and every sort order
# included.
cat >"$T/ties.yaml" <<YAML
dataflow: ties
log_dir: logs
index_dir: ties-index
hyperparameters:
  OPTIMIZER_NAME: true
  LEARNING_RATE: true
metrics: [loss, accuracy]
YAML
DNNPROV_LIB="$PWD/$BUILD/libdnnprov.so" PYTHONPATH="$PWD/python" sh tools/pyrun.sh "$PWD/$BUILD/libdnnprov.so" -c "
import random, sys, dnnprov
rng = random.Random(7)
nan = float('nan')
for k in range(90):
    try:
        with dnnprov.Task(sys.argv[1], {'OPTIMIZER_NAME': rng.choice(['SGD', 'Adam']), 'LEARNING_RATE': rng.choice([0.1, 0.01])},
                          task_id='r%03d' % rng.randrange(1000) + '-%d' % k) as t:
            for e in range(1, rng.randrange(0, 6) + 1):
                m = {'loss': rng.choice([0.5, 0.25, 0.25, nan, 1.0, 0.0, -0.0])}
                if rng.random() < 0.7:
                    m['accuracy'] = rng.choice([0.9, 0.9, 0.5, nan, 0.0, -0.0])
                t.epoch(e, **m)
            if k % 7 == 3:
                raise RuntimeError('diverged')
    except RuntimeError:
        pass
" "$T/ties.yaml"
"$DNNPROV" index -c "$T/ties.yaml" -q
R() { "$DNNPROV" "$@" --index-dir "$T/ties-index" --format csv; }
# same_rows WHAT K CMD...: CMD --limit K against the first K rows of CMD.
same_rows() {
	local what=$1 k=$2
	shift 2
	R "$@" --limit "$k" >"$T/top.csv" 2>&1
	R "$@" 2>&1 | head -n $((k + 1)) >"$T/full.csv"
	if cmp -s "$T/top.csv" "$T/full.csv"; then ok; else
		fail "$what: --limit $k differs from the first rows of the whole answer"
		diff "$T/full.csv" "$T/top.csv" | head -8 >&2
	fi
}
expect_eq "ties: failed runs among them" "$(R runs ties | grep -c ',FAILED,')" 13
for k in 1 3 7 25 60 90 100; do
	for metric in loss accuracy; do
		for agg in best max min last mean; do
			same_rows "compare $metric $agg" "$k" compare ties --metric "$metric" --agg "$agg"
		done
		same_rows "compare $metric, goal min" "$k" compare ties --metric "$metric" --agg max --goal min
		same_rows "compare $metric, goal max" "$k" compare ties --metric "$metric" --agg min --goal max
		same_rows "compare $metric sorted up" "$k" compare ties --metric "$metric" --agg max --sort "+max($metric)"
	done
	for sort in "" task -task start -start "last(loss)" "-last(loss)" "best(loss)" "-best(loss)"; do
		same_rows "runs sorted by '$sort'" "$k" runs ties ${sort:+--sort "$sort"}
	done
	same_rows "runs, goal max" "$k" runs ties --sort "-best(loss)" --goal max
	same_rows "runs, another metric" "$k" runs ties --metric accuracy --sort "best(accuracy)"
done
# same_page WHAT ARGS...: a page (--limit, --offset) against the same page
# from every task loaded, in CSV and, for its total, JSON.
same_page() {
	local what=$1 fmt
	shift
	for fmt in csv json; do
		local st=0
		"$DNNPROV" "$@" --index-dir "$T/ties-index" --format $fmt >"$T/fast.out" 2>&1 || st=$?
		"$DNNPROV" "$@" --index-dir "$T/ties-index" --format $fmt --where "task like '%'" >"$T/slow.out" 2>&1 || true
		if [ $st = 0 ] && cmp -s "$T/fast.out" "$T/slow.out"; then ok; else
			fail "$what ($fmt): the page differs from the loaded one"
			diff "$T/slow.out" "$T/fast.out" | head -8 >&2
		fi
	done
}
for page in "--limit 1" "--limit 9" "--limit 9 --offset 20" "--limit 40 --offset 50" "--limit 200" "--offset 85"; do
	# shellcheck disable=SC2086
	for col in task status start duration active attempts epochs last_activity OPTIMIZER_NAME LEARNING_RATE \
		"last(loss)" "best(loss)"; do
		same_page "runs $page sorted by $col" runs ties $page --sort "$col"
		same_page "runs $page sorted by -$col" runs ties $page --sort "-$col"
	done
	for metric in loss accuracy; do
		for goal in min max; do
			same_page "runs $page, best($metric), goal $goal" runs ties $page --metric $metric --goal $goal \
				--sort "best($metric)"
			same_page "compare $page, $metric, goal $goal" compare ties $page --metric $metric --goal $goal
		done
		same_page "compare $page, $metric ascending" compare ties $page --metric $metric --agg max --sort "+max($metric)"
		same_page "compare $page, $metric, mean" compare ties $page --metric $metric --agg mean
	done
done
# --where: the loading path, whose pages must be the first rows of the whole
# filtered answer too.
for where in "OPTIMIZER_NAME = 'SGD'" "status = 'FAILED'" "max(loss) >= 0.25" "epochs = 0"; do
	for k in 1 5 40; do
		for sort in task -start "best(loss)" "-best(loss)"; do
			same_rows "runs --where $where, sorted by $sort" "$k" runs ties --where "$where" --sort "$sort"
		done
		same_rows "compare --where $where" "$k" compare ties --where "$where" --metric loss
	done
done

# --- effect without --where --------------------------------------------------
# Without --where, effect reads hyp_index and the summaries and loads no
# task (or, where hyp_index cannot tell, loads them as with --where).  Its
# answer must be the loaded one byte for byte: `--where "task like '%'"`
# passes every task through the loading path.  300 tasks (past the 256 a
# lookup each serves), values that hyp_index holds as one double (an
# integer and a real of one value: the label is the first task's),
# -0 beside 0, NaN of both signs, integers past 2^53, text past a key's
# length, text and numbers under one name, tasks without the value (nil,
# absent) or the metric, NaN metrics and tied ones.
mkdir "$T/eff"
cat >"$T/eff/eff.yaml" <<YAML
dataflow: eff
log_dir: logs
index_dir: index
hyperparameters:
  LEARNING_RATE: true
  BATCH_SIZE: true
  OPTIMIZER_NAME: true
  lr_fine: numeric
  dropout: numeric
  zero: numeric
  nanh: numeric
  negnan: numeric
  big: numeric
  long: text
  mixed: numeric
metrics: [loss, acc]
YAML
sed 's/  mixed: numeric/  mixed: text/' "$T/eff/eff.yaml" >"$T/eff/eff-text.yaml"
DNNPROV_LIB="$PWD/$BUILD/libdnnprov.so" PYTHONPATH="$PWD/python" sh tools/pyrun.sh "$PWD/$BUILD/libdnnprov.so" -c "
import random, sys, dnnprov
rng = random.Random(5)
nan = float('nan')
for k in range(300):
    h = {'LEARNING_RATE': rng.choice([0.1, 0.01, 0.001, 0.003, 0.03, 0.3, 1.0]),
         'BATCH_SIZE': rng.choice([16, 32, 32.0, 64, 64.0, 128]),
         'lr_fine': rng.random(),
         'dropout': rng.choice([0, 0.2, 0.5, None]),
         'zero': rng.choice([0.0, -0.0, 1.0]),
         'nanh': rng.choice([nan, 0.5, 0.25]),
         'negnan': rng.choice([nan, -nan, 0.5]),
         'big': rng.choice([2**53, 2**53 + 1, 2**53 + 2, 7]),
         'long': rng.choice(['short', 'x' * 600, 'y' * 600]),
         'mixed': rng.choice([1, 2.5, 2, 'a', 'b'])}
    if rng.random() < 0.8:
        h['OPTIMIZER_NAME'] = rng.choice(['SGD', 'Adam', 'RMSprop'])
    cfg = sys.argv[2] if isinstance(h['mixed'], str) else sys.argv[1]
    with dnnprov.Task(cfg, h, task_id='t%03d' % rng.randrange(1000) + '-%d' % k) as t:
        for e in range(1, rng.randrange(0, 5) + 1):
            m = {'loss': rng.choice([0.5, 0.25, 0.25, nan, 1.0, 0.125])}
            if rng.random() < 0.5:
                m['acc'] = rng.choice([0.9, 0.9, 0.5, nan, 0.75])
            t.epoch(e, **m)
" "$T/eff/eff.yaml" "$T/eff/eff-text.yaml"
"$DNNPROV" index -c "$T/eff/eff.yaml" -q
# same_effect WHAT FORMAT ARGS...: effect ARGS without and with --where.
same_effect() {
	local what=$1 format=$2
	shift 2
	"$DNNPROV" effect "$@" --index-dir "$T/eff/index" --format "$format" >"$T/fast.out" 2>&1
	"$DNNPROV" effect "$@" --index-dir "$T/eff/index" --format "$format" --where "task like '%'" >"$T/slow.out" 2>&1
	if cmp -s "$T/fast.out" "$T/slow.out" && [ -s "$T/fast.out" ]; then ok; else
		fail "effect $what ($format): the answer without --where differs from the loaded one"
		diff "$T/slow.out" "$T/fast.out" | head -8 >&2
	fi
}
HYPS="LEARNING_RATE BATCH_SIZE OPTIMIZER_NAME lr_fine dropout zero nanh negnan big long mixed"
for h in $HYPS; do
	for opts in "" "--bins 3" "--bins 1000" "--agg mean" "--agg last --goal max" "--metric acc --agg max" "--agg at=2"; do
		# shellcheck disable=SC2086
		same_effect "--hyp $h $opts" json eff --hyp "$h" $opts
	done
	same_effect "--hyp $h" table eff --hyp "$h"
	same_effect "--hyp $h" csv eff --hyp "$h"
done
# Another dataflow in the index: the tasks are counted by a scan.
query_config "$T/eff/other.yaml" other
"$TOOLS/gen_logs" "$T/eff/other.yaml" 3 5 13
"$DNNPROV" index -c "$T/eff/eff.yaml" -q
for h in $HYPS; do
	same_effect "--hyp $h, two dataflows" json eff --hyp "$h"
done
# Deleted tasks leave hyp_index with their tasks.
"$DNNPROV" delete -c "$T/eff/eff.yaml" $("$DNNPROV" runs eff --index-dir "$T/eff/index" --format csv | sed -n '2p;40p;41p' | cut -d, -f1) >/dev/null
for h in LEARNING_RATE BATCH_SIZE long; do
	same_effect "--hyp $h, tasks deleted" json eff --hyp "$h"
done
expect_eq "effect: the deleted tasks are not grouped" \
	"$("$DNNPROV" effect eff --hyp LEARNING_RATE --index-dir "$T/eff/index" --format csv | tail -n +2 | awk -F, '{ s += $2 } END { print s }')" 297

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
expect_eq "json: an envelope of columns, their kinds, what was chosen and rows" "$($PY -c "import json,sys; a = json.load(open(sys.argv[1])); print(sorted(a), a['columns'][:2], len(a['rows']) > 0, list(a['rows'][0]) == a['columns'], len(a['kinds']) == len(a['columns']), a['kinds'][1])" "$T/runs.json")" "['about', 'columns', 'index', 'kinds', 'rows'] ['task', 'status'] True True True {'kind': 'status'}"
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
