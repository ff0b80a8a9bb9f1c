#!/usr/bin/env bash
# `dnnprov export`: every PROV-JSON document it writes here is loaded with
# python3-prov and checked by tests/prov_check.py (statement counts and
# content against the logs, PROV-N against python3-prov's PROV-N of the
# same data, determinism); then -o FILE, and bad input.
. "$(dirname "$0")/lib.sh"
TOOLS="$PWD/$BUILD/tests/tools"

# --- data ------------------------------------------------------------------------
# 1. gen_logs: adaptations, tests, elements, layers, NaN, a resumed task
#    (re-logged epochs), tasks that crashed half-way and one still running.
cat >"$T/df.yaml" <<'YAML'
dataflow: df
log_dir: logs
index_dir: index
hyperparameters:
  OPTIMIZER_NAME: true
  LEARNING_RATE: true
  BATCH_SIZE: true
  NUM_EPOCHS: true
  dropout: numeric
metrics: [loss, accuracy]
free_metrics: true
adaptation: true
transformations:
  DenseBlock:
    depends_on: [TrainingModel]
    input:
      iDenseBlock: {growth_rate: numeric, layers_db: numeric}
YAML
"$TOOLS/gen_logs" "$T/df.yaml" 12 25 5

# 2. Names and values that must be escaped or encoded: quotes, backslashes,
#    line breaks, control characters, non-ASCII, '%', '.', spaces, a leading
#    '-', a 60,000-byte text; NaN, infinities, -0.0, extreme doubles,
#    negative epochs; a task still running.  Names with spaces, quotes or a
#    leading '-' are refused by writers today (docs/CONFIG.md), but logs an
#    older writer made may hold them, and are indexed as written: the logs
#    are written with names that pass, then renamed in place.
W='wéird "df" 100%.v1 <x>'
cat >"$T/w.yaml" <<'YAML'
dataflow: 'wéird "df" 100%.v1 <x>'
log_dir: logs
index_dir: index
hyperparameters:
  OPTIMIZER_NAME: true
  LEARNING_RATE: true
  neg: numeric
  note_u: text
  data.path: file
metrics: [loss_u, acc_q, top.5]
adaptation: true
transformations:
  Dense_Block:
    depends_on: [TrainingModel]
    input:
      i_DB: {growth_rate: numeric, a.b: text}
    output:
      oDB: {out: text}
YAML
long=$(head -c 60000 /dev/zero | tr '\0' 'x')
L() { "$DNNPROV" log -c "$T/w.yaml" "$@" >/dev/null; }
T1='tâsk "one" 50%.x'
L --task "$T1" begin OPTIMIZER_NAME=$'Adam "w" \\ back\nline ü\t\x01\x7f' LEARNING_RATE=0.01 neg=-3 "note_u=$long" \
	'data.path=/p/a b.csv'
L --task "$T1" layers 'dense "1":activation=re\lu' 'drop 1:dropout=0.25'
L --task "$T1" epoch 1 --elapsed 1.5 'loss_u=nan' 'acc_q=inf' top.5=-inf
L --task "$T1" epoch 2 'loss_u=0.1' 'acc_q=1e308' top.5=5e-324
L --task "$T1" adapt 2 LEARNING_RATE=0.005
L --task "$T1" adapt 3 LEARNING_RATE=0.0025
L --task "$T1" adapt 3 OPTIMIZER_NAME=$'SGD\r\n"x"'
L --task "$T1" epoch 3 'loss_u=-0.0' 'acc_q=0.30000000000000004'
L --task "$T1" test 'loss_u=0.5' 'acc_q=-1e-300'
L --task "$T1" element Dense_Block i_DB 'growth_rate=12' $'a.b=q"\\\n€'
L --task "$T1" element Dense_Block oDB "out=$long"
L --task "$T1" end --status FAILED --message $'diverged "badly" \\ here\n2nd line'
T2='-lead.task'
L --task "$T2" begin OPTIMIZER_NAME=SGD LEARNING_RATE=1
L --task "$T2" epoch 1 'loss_u=1'
L --task "$T2" epoch -2 'loss_u=2'
RENAME='global names, renamed
names = {"neg": "-neg", "note_u": "note ü", "loss_u": "loss ü", "acc_q": "acc\"q", "Dense_Block": "Dense Block",
         "i_DB": "i\"DB", "growth_rate": "growth rate"}
def renamed(x):
    if isinstance(x, dict):
        return {renamed(k): renamed(v) for k, v in x.items()}
    if isinstance(x, list):
        return [renamed(v) for v in x]
    return names.get(x, x) if isinstance(x, str) else x
r.update(renamed(r))'
find "$T/logs/$W" -name '*.dnplog' | while read -r seg; do $PY tests/rewrite_segment.py "$seg" "$RENAME"; done

# 3. The least there can be: no adaptation, no user transformation, no epochs;
#    but hyperparameters its specification does not declare (a log an older
#    writer made), which join iTrainingModel in every rendering of the model.
printf 'dataflow: plain\nlog_dir: logs\nindex_dir: index\nmetrics: [loss, val_loss]\nfree_metrics: true\n' >"$T/plain.yaml"
"$DNNPROV" log -c "$T/plain.yaml" --task only begin >/dev/null
"$DNNPROV" log -c "$T/plain.yaml" --task only test loss=0.5 >/dev/null
find "$T/logs/plain" -name '*.dnplog' | while read -r seg; do
	$PY tests/rewrite_segment.py "$seg" 'r.get("kind") == "begin" and r["hyperparameters"].update({"seed": 7, "opt": "adam"})'
done

"$DNNPROV" index --log-dir "$T/logs" --index-dir "$T/index" -q

# --- python3-prov ------------------------------------------------------------------
CHECK() {
	what=$1
	shift
	expect_status "prov_check: $what" 0 $PY tests/prov_check.py --dnnprov "$DNNPROV" --logs "$T/logs" \
		--index "$T/index" --label "$what" "$@"
	cat "$T/out"
}
CHECK "df, every task" --df df
CHECK "df, --task twice and a repeat" --df df --task task-0004 --task task-0003 --task task-0004
CHECK "special characters" --df "$W"
CHECK "special characters, one task" --df "$W" --task="$T2"
CHECK "plain" --df plain

# --- one model, rendered alike by describe, SQL, PROV and DfAnalyzer's views -----------
for df in df "$W" plain; do
	expect_status "model_check: $df" 0 $PY tests/model_check.py "$DNNPROV" "$T/index" "$df"
	cat "$T/out"
done
expect_status "describe: the undeclared hyperparameters" 0 "$DNNPROV" describe plain --index-dir "$T/index" --format csv
expect_grep "join the dataflow's" "^hyperparameter,opt,text" "$T/out"

# --- the command line ----------------------------------------------------------------
X() { "$DNNPROV" export --index-dir "$T/index" "$@"; }
expect_status "the config gives the index and the dataflow" 0 "$DNNPROV" export -c "$T/df.yaml" --format prov-n
expect_grep "PROV-N" '^  activity(df:task/task-0000, ' "$T/out"
cp "$T/out" "$T/stdout.provn"
expect_status "-o FILE" 0 "$DNNPROV" export -c "$T/df.yaml" -f prov-n -o "$T/a.provn"
expect_eq "-o writes what stdout gets" "$(cmp -s "$T/a.provn" "$T/stdout.provn" && echo same)" same
expect_eq "-o: nothing on stdout" "$(wc -c <"$T/out")" 0
expect_eq "-o: a new file gets 0666 less the umask" "$(stat -c %a "$T/a.provn")" \
	"$(printf '%o' $((0666 & ~$(umask))))"
chmod 600 "$T/a.provn"
X df -f prov-n -o "$T/a.provn" >/dev/null
expect_eq "-o: a replaced file keeps its mode" "$(stat -c %a "$T/a.provn")" 600
ln -s a.provn "$T/link.provn"
X df --task task-0001 -o "$T/link.provn" >/dev/null
expect_eq "-o through a symlink keeps the link" "$(test -L "$T/link.provn" && echo link)" link
expect_grep "and writes its target" 'df:task/task-0001' "$T/a.provn"
mkfifo "$T/fifo"
cat "$T/fifo" >"$T/from-fifo" &
X df -o "$T/fifo" >/dev/null
wait
expect_eq "-o to a FIFO writes into it" "$(test -p "$T/fifo" && head -c 1 "$T/from-fifo")" "{"
echo "old" >"$T/keep.json"
expect_status "a failed export" 1 X df --task task-9999 -o "$T/keep.json"
expect_eq "leaves the old file as it was" "$(cat "$T/keep.json")" old
expect_eq "and no temporary file" "$(ls "$T" | grep -c 'keep.json.')" 0
expect_status "a failed export to a new file" 1 X df --task task-9999 -o "$T/new.json"
expect_eq "leaves no file" "$(ls "$T" | grep -c 'new.json')" 0
expect_status "-o in a missing folder" 1 X df -o "$T/nowhere/x.json"
expect_grep "says where" "cannot create a file beside $T/nowhere/x.json" "$T/err"

# --- --where: the tasks runs lists for the same filter -------------------------------------
tasks_of() { grep -o '^  activity(df:task/[^,/]*,' "$1" | sed 's|.*df:task/||; s|,$||' | sort | paste -sd' '; }
runs_where() { "$DNNPROV" runs df --index-dir "$T/index" --format csv --where "$1" | tail -n +2 | cut -d, -f1 | sort | paste -sd' '; }
for where in "LEARNING_RATE <= 0.003" "OPTIMIZER_NAME like 'ad%' or epochs < 20" "epochs > 1000"; do
	expect_status "--where $where" 0 X df -f prov-n --where "$where"
	expect_eq "--where $where: the tasks runs lists" "$(tasks_of "$T/out")" "$(runs_where "$where")"
done
expect_grep "a filter that matches nothing keeps the specification" '^  entity(df:dataflow, ' "$T/out"
expect_status "--task and --where" 0 X df -f prov-n --task task-0001 --task task-0002 --task task-0009 \
	--where "LEARNING_RATE <= 0.003"
expect_eq "the tasks both choose" "$(tasks_of "$T/out")" \
	"$(runs_where "LEARNING_RATE <= 0.003 and task in ('task-0001', 'task-0002', 'task-0009')")"
expect_status "an invalid --where" 1 X df --where "LEARNING_RATE > 'x'"
expect_grep "shows where" "invalid --where: the two sides have different types" "$T/err"

# --- bad input -------------------------------------------------------------------------
expect_status "unknown dataflow" 1 X nope
expect_grep "names it and lists what exists" "dnnprov: export: no dataflow 'nope' in the index (dataflows: df, plain, $W)" "$T/err"
expect_eq "and writes nothing" "$(wc -c <"$T/out")" 0
expect_status "unknown task" 1 X df --task task-0001 --task task-9999
expect_grep "names it and the ids it may have meant" "no task 'task-9999' in dataflow df (did you mean task-[0-9]*, task-[0-9]*?)" "$T/err"
expect_eq "and writes nothing" "$(wc -c <"$T/out")" 0
expect_status "bad --format" 2 X df --format rdf
expect_grep "lists the formats" "unknown format 'rdf' (prov-json, prov-n; with --run dot, svg)" "$T/err"
expect_status "no index given" 2 "$DNNPROV" export df
expect_status "no dataflow given" 2 X
expect_status "two dataflows" 2 X df plain
expect_status "an option of another command" 2 X df --metric loss
expect_status "a missing index" 1 "$DNNPROV" export df --index-dir "$T/nowhere"
expect_grep "says so" "no index at $T/nowhere" "$T/err"
expect_status "stdout to a full disk fails loudly" 1 sh -c "'$DNNPROV' export df --index-dir '$T/index' >/dev/full"
expect_grep "and says why" "dnnprov: export: .*No space left on device" "$T/err"
expect_status "help" 0 "$DNNPROV" help export
expect_grep "usage" "^usage: dnnprov export" "$T/out"
finish
