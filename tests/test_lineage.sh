#!/usr/bin/env bash
# Lineage (docs/LINEAGE.md): a pipeline of tasks recorded from the shell
# (split, scale, a grid of trainings, their models, an evaluation), asked
# from the command line and SQL; the documented recursive query run as it
# is written; repeats by inputs, code and hyperparameters; a dataset
# changed by one byte; a folder's fingerprint against the manifest the
# docs describe, whatever the listing order; one run's PROV document and
# picture; hostile paths and roles in every output; reindex and delete.
. "$(dirname "$0")/lib.sh"
ROOT=$PWD
cd "$T"
mkdir repo
cd repo
git init -q . && git config user.email t@t && git config user.name t
cat >exp.yaml <<YAML
dataflow: digits
log_dir: logs
index_dir: index
hyperparameters:
  LEARNING_RATE: true
  NOTE: text
metrics: [loss, accuracy]
transformations:
  Split:
    input:
      iSplit: {seed: numeric, test_size: numeric}
  Scale:
    depends_on: [Split]
    input:
      iScale: {method: text}
YAML
printf 'logs/\nindex/\ndata/\nruns/\n' >.gitignore
echo "print('train')" >train.py
git add exp.yaml train.py .gitignore && git commit -q -m one
L() { "$DNNPROV" log -c exp.yaml "$@"; }
Q() { "$DNNPROV" "$@"; }
csvcol() { $PY -c 'import csv, sys; print("\n".join(r[sys.argv[1]] for r in csv.DictReader(open(sys.argv[2]))))' "$1" "$2"; }
mkdir data runs
$PY -c 'import os; open("data/digits.npz", "wb").write(os.urandom(20000))'
raw=sha256:$(sha256sum data/digits.npz | cut -d' ' -f1)

# pipeline PREFIX: split (seed 7) and scale data/digits.npz into PREFIX-*.npz
pipeline() {
	local s c
	s=$(L begin --transformation Split --label split)
	L --task "$s" element Split iSplit seed=7 test_size=0.25
	L --task "$s" used raw_data data/digits.npz
	# each part says which whole it came from, as a split by seed would
	{ head -c 15000 data/digits.npz; sha256sum <data/digits.npz; } >"data/$1-train.npz"
	{ tail -c 5000 data/digits.npz; sha256sum <data/digits.npz; } >"data/$1-test.npz"
	L --task "$s" generated train_data "data/$1-train.npz"
	L --task "$s" generated test_data "data/$1-test.npz"
	L --task "$s" end
	c=$(L begin --transformation Scale --label scale)
	L --task "$c" element Scale iScale method=standard
	L --task "$c" used train_data "data/$1-train.npz"
	L --task "$c" used test_data "data/$1-test.npz"
	{ cat "data/$1-train.npz"; echo scaled; } >"data/$1-train-scaled.npz"
	{ cat "data/$1-test.npz"; echo scaled; } >"data/$1-test-scaled.npz"
	L --task "$c" generated train_data "data/$1-train-scaled.npz"
	L --task "$c" generated test_data "data/$1-test-scaled.npz"
	L --task "$c" end
	echo "$s $c"
}
# train PREFIX LABEL LR ACCURACY: a run on PREFIX's scaled data, its model
train() {
	local r
	r=$(L begin --label "$2" LEARNING_RATE="$3")
	L --task "$r" used train_data "data/$1-train-scaled.npz"
	L --task "$r" epoch 1 loss=0.5 accuracy="$4"
	echo "$2 $3 $4" >"runs/$r.pt"
	L --task "$r" generated model "runs/$r.pt"
	L --task "$r" end
	L --task "$r" test accuracy="$4"
	echo "$r"
}
read -r split1 scale1 < <(pipeline v1)
runA=$(train v1 a 0.1 0.91)
runB=$(train v1 b 0.1 0.93)
runC=$(train v1 c 0.2 0.95)
Q index -c exp.yaml -q
best_model=runs/$runC.pt

# --- lineage of the best model reaches the raw data through scale and split -------------
expect_status "lineage of the best model" 0 Q lineage -c exp.yaml "$best_model" --format csv
cp "$T/out" "$T/lineage.csv"
# model, run, its data, scale, its train input, split, the raw data; scale's
# test input, whose split was shown above
expect_eq "the walk, depth first" "$(csvcol kind "$T/lineage.csv" | paste -sd' ')" \
	"entity task entity task entity task entity entity task"
expect_eq "through the scaling and the split" "$(csvcol transformation "$T/lineage.csv" | grep . | paste -sd' ')" \
	"TrainingModel Scale Split Split"
expect_eq "a node reached again is marked" "$(csvcol again "$T/lineage.csv" | paste -sd' ')" "0 0 0 0 0 0 0 0 1"
raw_row() { paste -d' ' <(csvcol role "$1") <(csvcol "$2" "$1") | grep '^raw_data ' | cut -d' ' -f2-; }
expect_eq "to the raw digits" "$(raw_row "$T/lineage.csv" fingerprint)" "$raw"
expect_eq "the raw data's location" "$(raw_row "$T/lineage.csv" location)" "$PWD/data/digits.npz"
expect_status "the table" 0 Q lineage -c exp.yaml "$best_model"
expect_grep "the table is a tree" "^            raw_data $PWD/data/digits.npz" "$T/out"
expect_status "named by a prefix of 8 hex digits" 0 Q lineage -c exp.yaml "${raw:7:8}" --down --format csv
expect_eq "down from the raw data: every run" "$(csvcol task "$T/out" | grep -c '^[abc]-')" 3
expect_status "named by a task" 0 Q lineage -c exp.yaml "$runC" --depth 1 --format csv
expect_eq "--depth 1: the task and what it used" "$(csvcol role "$T/out" | grep . | paste -sd' ')" "train_data"
expect_status "a prefix too short is no fingerprint" 1 Q lineage -c exp.yaml "${raw:7:6}"
expect_grep "and names what it is not" "no task, no entity's fingerprint" "$T/err"
expect_status "--up and --down together" 1 Q lineage -c exp.yaml "$best_model" --up --down

expect_status "compare" 0 Q compare -c exp.yaml --metric accuracy --format csv
expect_eq "ranks the trainings, not the pipeline's other steps" "$(csvcol task "$T/out" | grep -c -e '^split-' -e '^scale-')" 0
expect_eq "every training" "$(csvcol task "$T/out" | grep -c -e '^[abc]-')" 3
expect_status "a page of compare" 0 Q compare -c exp.yaml --metric accuracy --limit 10 --format json
expect_eq "the page's rows and total are the trainings" \
	"$($PY -c 'import json, sys; a = json.load(open(sys.argv[1])); print(sorted(r["task"][0] for r in a["rows"]), a.get("total"))' "$T/out")" \
	"['a', 'b', 'c'] 3"

# --- the documented recursive query gives the same path ------------------------------------
$PY - "$ROOT/docs/SQL.md" >"$T/path.sql" <<'PY'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
print(re.search(r"<!-- lineage-path -->\n```sql\n(.*?)```", text, re.S).group(1))
PY
expect_status "the docs' recursive query" 0 Q sql -c exp.yaml --format csv "$(cat "$T/path.sql")"
cp "$T/out" "$T/path.csv"
sql_pairs=$(paste -d' ' <(csvcol made_by "$T/path.csv") <(csvcol fingerprint "$T/path.csv") | grep -v '^ ' | sort)
cli_pairs=$($PY - "$T/lineage.csv" <<'PY'
import csv, sys
rows, pairs = list(csv.DictReader(open(sys.argv[1]))), []
for i, r in enumerate(rows):
    if r["kind"] == "entity" and r["relation"] == "used":
        parent = next(p for p in reversed(rows[:i]) if int(p["depth"]) == int(r["depth"]) - 1)
        pairs.append("%s %s" % (parent["task"], r["fingerprint"]))
print("\n".join(sorted(pairs)))
PY
)
expect_eq "SQL's path is lineage's" "$sql_pairs" "$cli_pairs"
expect_eq "and ends at the raw digits" "$(csvcol fingerprint "$T/path.csv" | tail -1)" "$raw"

# --- repeats: equal data, code and hyperparameters -----------------------------------------
expect_status "runs" 0 Q runs -c exp.yaml --format csv --sort task
repeats=$(paste -d' ' <(csvcol task "$T/out") <(csvcol repeats "$T/out") | grep -E '^[abc]-' | sed 's/ $//')
expect_eq "a and b repeat each other; c has another learning rate" "$repeats" \
	"$runA $runA
$runB $runA
$runC"
# A page of runs finds its runs' groups among the tasks that share one of
# their values, or one of their inputs (query/repeats.c): the same labels
# as the whole answer.  Pages of one run, so that what they read stays
# below what the whole dataflow costs (else the whole is read).
same_page_repeats() {
	Q runs -c exp.yaml --format csv --sort task >"$T/whole.csv"
	paste -d' ' <(csvcol task "$T/whole.csv") <(csvcol repeats "$T/whole.csv") | grep . >"$T/whole.pairs"
	: >"$T/page.pairs"
	for i in $(seq 0 $(($(wc -l <"$T/whole.pairs") - 1))); do
		Q runs -c exp.yaml --format csv --sort task --limit 1 --offset "$i" >"$T/page.csv"
		paste -d' ' <(csvcol task "$T/page.csv") <(csvcol repeats "$T/page.csv") | grep . >>"$T/page.pairs"
	done
	expect_eq "$1: pages' repeats are the whole answer's" "$(cat "$T/page.pairs")" "$(cat "$T/whole.pairs")"
	expect_grep "$1: and some run has one" " [a-z]" "$T/page.pairs"
}
same_page_repeats "a and b"
expect_status "SQL's repeats" 0 Q sql -c exp.yaml --format csv "select task, first from repeats order by task"
expect_eq "the same in SQL" "$(tail -n +2 "$T/out" | tr -d '\r' | paste -sd' ')" "$runA,$runA $runB,$runA"
# --- the docs' other lineage questions, as written (the dataset's prefix is this one's) -----
$PY - "$ROOT/docs/SQL.md" "$T/lq" <<'PY'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
start = text.index("\n## Lineage")
section = text[start:text.index("\n## ", start + 1)]
for i, q in enumerate(re.findall(r"```sql\n(.*?)```", section, re.S)):
    open("%s%d.sql" % (sys.argv[2], i), "w").write(q)
PY
expect_status "the shortest path to the split" 0 Q sql -c exp.yaml --format csv "$(cat "$T/lq1.sql")"
expect_eq "one step from the test data the scaling used to the split that drew it" \
	"$(tail -n +2 "$T/out" | tr -d '\r')" "$split1,Split,1"
expect_status "every model from the raw data" 0 Q sql -c exp.yaml --format csv \
	"$(sed "s/'sha256:[0-9a-f]*%'/'${raw:0:15}%'/" "$T/lq2.sql")"
expect_eq "the three runs' models" "$(csvcol task "$T/out" | sort | paste -sd' ')" "$runA $runB $runC"
expect_status "runs of the same data and code" 0 Q sql -c exp.yaml --format csv "$(cat "$T/lq3.sql")"
expect_eq "every pair of the three: one commit, one input" "$(tail -n +2 "$T/out" | tr -d '\r' | sort | paste -sd' ')" \
	"$runA,$runB $runA,$runC $runB,$runC"
expect_status "describe says it" 0 Q describe -c exp.yaml digits "$runB" --format csv
expect_grep "describe names the first" "^run,repeats,$runA" "$T/out"
expect_grep "and what the run used" "^used,train_data,sha256:" "$T/out"
expect_status "the code is a fact" 0 Q runs -c exp.yaml --facts --format csv --sort task
expect_eq "git_diff of a clean tree" "$(csvcol git_diff "$T/out" | sort -u | grep . | paste -sd' ')" "none"
echo "# changed" >>train.py
runD=$(train v1 d 0.1 0.90)
git checkout -q train.py
mkdir -p "$T/elsewhere"
cp exp.yaml "$T/elsewhere/"
sed -i "s|log_dir: logs|log_dir: $PWD/logs|; s|index_dir: index|index_dir: $PWD/index|" "$T/elsewhere/exp.yaml"
runE=$(cd "$T/elsewhere" && r=$("$DNNPROV" log -c exp.yaml begin --label e LEARNING_RATE=0.1) &&
	"$DNNPROV" log -c exp.yaml --task "$r" used train_data "$OLDPWD/data/v1-train-scaled.npz" && "$DNNPROV" log -c exp.yaml --task "$r" end && echo "$r")
Q index -c exp.yaml -q
expect_status "runs" 0 Q runs -c exp.yaml --facts --format csv --sort task
expect_grep "an uncommitted change is hashed" "^$runD,.*,sha256:[0-9a-f]\{64\}" "$T/out"
expect_eq "a changed tree repeats none; outside git, the code is unknown" \
	"$(paste -d' ' <(csvcol task "$T/out") <(csvcol repeats "$T/out") | grep -E '^[de]-' | sed 's/ $//' | paste -sd' ')" \
	"$runD $runE"
same_page_repeats "a changed tree"
# A value so long that a long task id takes its hyp_index key past the
# limit: the indexer lists the short id's run under it and not the long
# one's, so a page must not look for repeats there.
long=$(printf 'v%.0s' $(seq 480))
for id in x x-a-longer-task-id-past-the-keys-limit; do
	L --task "$id" begin NOTE="$long" >/dev/null
	L --task "$id" used train_data data/v1-train-scaled.npz
	L --task "$id" end
done
Q index -c exp.yaml -q
same_page_repeats "a value past a key's room"
expect_grep "the long value's runs repeat each other" "^x-a-longer-task-id-past-the-keys-limit x$" "$T/page.pairs"

# --- from Python: a pipeline step, entities, a repeat of the shell's run, lineage -----------
export PYTHONPATH="$ROOT/python"
PYRUN() { sh "$ROOT/tools/pyrun.sh" "$ROOT/$BUILD/libdnnprov.so" "$@"; }
cat >run.py <<'PY'
import dnnprov, sys
with dnnprov.Task("exp.yaml", transformation="Scale", label="pyscale") as s:
    s.element("Scale", "iScale", {"method": "minmax"})
    s.used("train_data", "data/v1-train.npz")
    s.generated("train_data", "data/v1-train-scaled.npz", quick=True)
    s.generated("archive", "s3://bucket/v1.tar", fingerprint=dnnprov.fingerprint("exp.yaml"), size=1)
with dnnprov.Task("exp.yaml", {"LEARNING_RATE": 0.1}, label="p") as t:
    t.used("train_data", "data/v1-train-scaled.npz")
    t.epoch(1, loss=0.5, accuracy=0.9)
    open("runs/" + t.id + ".pt", "w").write("p")
    t.generated("model", "runs/" + t.id + ".pt")
    for bad in (lambda: t.used("a b", "data/digits.npz"), lambda: t.used("x", "nothere"),
                lambda: dnnprov.Task("exp.yaml", {"LEARNING_RATE": 1}, transformation="Scale")):
        try:
            bad()
            sys.exit("accepted")
        except dnnprov.Error as e:
            print(type(e).__name__)
print(t.id, s.id)
PY
expect_status "Python records a step and a run" 0 PYRUN run.py
read -r runP pyscale < <(tail -1 "$T/out")
expect_eq "Python's refusals: a role that is no name, no file, hyperparameters of a step" \
	"$(head -3 "$T/out" | paste -sd' ')" "InvalidArgumentError Error InvalidArgumentError"
Q index -c exp.yaml -q
expect_status "the Python run" 0 Q runs -c exp.yaml --format csv --sort task
expect_eq "Python's code is the shell's: the run repeats a" \
	"$(paste -d' ' <(csvcol task "$T/out") <(csvcol repeats "$T/out") | grep "^$runP")" "$runP $runA"
cat >ask.py <<'PY'
import dnnprov, sys
up = dnnprov.lineage("exp.yaml", sys.argv[1])
print(" ".join(up["transformation"].dropna()))
print(dnnprov.lineage("exp.yaml", sys.argv[2], down=True, depth=1)["role"].dropna().tolist())
PY
expect_status "dnnprov.lineage" 0 PYRUN ask.py "runs/$runA.pt" "$pyscale"
expect_eq "from Python, up to the split" "$(head -1 "$T/out")" "TrainingModel Scale Split Split"
expect_eq "and down from the Python step" "$(tail -1 "$T/out")" "['train_data', 'archive']"

# --- a FILE attribute from a DfAnalyzer program is the entity it names -----------------------
mkdir -p "$T/dfa" && cd "$T/dfa"
printf 'raw images' >images.bin
cat >prep.py <<'PY'
from dnnprov.dfa import Attribute, AttributeType, DataSet, Dataflow, Element, Set, SetType, Task, Transformation
df = Dataflow("prep-df")
tf = Transformation("Prep")
tf.set_sets([Set("iPrep", SetType.INPUT, [Attribute("images", AttributeType.FILE), Attribute("size", AttributeType.NUMERIC)]),
             Set("oPrep", SetType.OUTPUT, [Attribute("cropped", AttributeType.FILE), Attribute("remote", AttributeType.FILE)])])
df.add_transformation(tf)
df.save()
t = Task(1, "prep-df", "Prep")
t.add_dataset(DataSet("iPrep", [Element(["images.bin", 32])]))
t.begin()
open("cropped.bin", "w").write("cropped")
t.add_dataset(DataSet("oPrep", [Element(["cropped.bin", "/nonexistent/elsewhere.bin"])]))
t.end()
PY
expect_status "a dfa-lib-python program with FILE attributes" 0 PYRUN prep.py
"$DNNPROV" index -c prep-df.yaml -q
expect_status "lineage of the file it wrote" 0 "$DNNPROV" lineage -c prep-df.yaml cropped.bin --format csv
# The program's run is the task (docs/DFANALYZER.md: one exec is one run).
expect_eq "the output file, the run, the input file" \
	"$(paste -d' ' <(csvcol kind "$T/out") <(csvcol role "$T/out") | sed 's/ *$//' | paste -sd,)" \
	"entity cropped,task,entity images"
expect_eq "by content" "$(csvcol fingerprint "$T/out" | tail -1)" "sha256:$(sha256sum images.bin | cut -d' ' -f1)"
# libcrypto is loaded by the first fingerprint (a file named to lineage
# is looked up by its content), not at the start of every command.
LD_DEBUG=libs "$DNNPROV" lineage -c prep-df.yaml cropped.bin >/dev/null 2>"$T/ld.err"
expect_grep "a fingerprint loads libcrypto" "calling init: .*libcrypto" "$T/ld.err"
LD_DEBUG=libs "$DNNPROV" runs -c prep-df.yaml >/dev/null 2>"$T/ld.err"
expect_eq "a question without one does not" "$(grep -c libcrypto "$T/ld.err")" 0
expect_status "a path that is no file here stays a value" 0 "$DNNPROV" elements -c prep-df.yaml Prep --format csv
expect_grep "the element keeps every path" "/nonexistent/elsewhere.bin" "$T/out"
# Through `dnnprov receive`: only with --files, only files under it.
mkdir -p served outside
printf 'served' >served/in.bin
printf 'served out' >served/out.bin
printf 'secret' >outside/secret.bin
ln -s ../outside/secret.bin served/link.bin
cat >receive.py <<'PY'
import os, sys
sys.path.insert(0, sys.argv[2])
from receive_lib import Receiver
dnnprov, logs, served = sys.argv[1], sys.argv[3], sys.argv[4]
decl = {"tag": "recv-df", "transformations": [{"tag": "prep", "sets": [
    {"tag": "iprep", "type": "INPUT", "attributes": [{"name": "images", "type": "FILE"}]},
    {"tag": "oprep", "type": "OUTPUT", "attributes": [{"name": "cropped", "type": "FILE"},
                                                       {"name": "leak", "type": "FILE"},
                                                       {"name": "escape", "type": "FILE"}]}]}]}
task = {"tag": "prep", "dataflow": "recv-df", "transformation": "prep", "id": "1", "exec": "run-1"}
with Receiver(dnnprov, "--log-dir", logs, "--files", served) as r:
    for path, body in (("/pde/dataflow/json", decl),
                       ("/pde/task/json", dict(task, status="RUNNING", sets=[{"tag": "iprep", "elements": [["in.bin"]]}])),
                       ("/pde/task/json", dict(task, status="FINISHED", sets=[{"tag": "oprep", "elements": [
                           [os.path.join(served, "out.bin"), os.path.join(served, "link.bin"),
                            os.path.join(served, "..", "outside", "secret.bin")]]}]))):
        status, answer = r.post(path, body)[:2]
        if status != 200:
            sys.exit("%s: %s %s" % (path, status, answer))
PY
expect_status "receive --files records FILE values as entities" 0 $PY receive.py "$DNNPROV" "$ROOT/tests" "$PWD/rlogs" "$PWD/served"
"$DNNPROV" index --log-dir rlogs --index-dir rindex -q
expect_status "what the received run used and generated" 0 "$DNNPROV" sql --index-dir rindex --format csv \
	"select role, location from used union all select role, location from generated"
expect_eq "the files under --files, nothing a link or a path leads out to" "$(tail -n +2 "$T/out" | tr -d '\r' | paste -sd' ')" \
	"images,$PWD/served/in.bin cropped,$PWD/served/out.bin"
expect_status "the others stay values" 0 "$DNNPROV" elements --index-dir rindex recv-df prep --format csv
expect_grep "a path out of it" "outside/secret.bin" "$T/out"
cd "$T/repo"

# --- one byte changed: a new entity, and the runs downstream told apart --------------------
$PY -c 'b = bytearray(open("data/digits.npz", "rb").read()); b[100] ^= 1; open("data/digits.npz", "wb").write(b)'
raw2=sha256:$(sha256sum data/digits.npz | cut -d' ' -f1)
read -r split2 scale2 < <(pipeline v2)
runF=$(train v2 f 0.1 0.92)
Q index -c exp.yaml -q
expect_status "lineage of the new run's model" 0 Q lineage -c exp.yaml "runs/$runF.pt" --format csv
expect_eq "reaches the changed data" "$(raw_row "$T/out" fingerprint)" "$raw2"
expect_eq "through the second split" "$(csvcol task "$T/out" | grep split | sort -u)" "$split2"
expect_status "down from the first version" 0 Q lineage -c exp.yaml "$raw" --down --format csv
expect_eq "has none of the second's runs" "$(csvcol task "$T/out" | grep -c -e "$runF" -e "$split2")" 0
expect_status "runs" 0 Q runs -c exp.yaml --format csv --sort task
expect_eq "another input repeats none" "$(paste -d' ' <(csvcol task "$T/out") <(csvcol repeats "$T/out") | grep "^$runF" | sed 's/ $//')" "$runF"
expect_status "the old path now names the first version" 0 Q lineage -c exp.yaml "$raw2" --format csv

# --- a folder: the manifest of the docs, whatever the listing order ------------------------
mkdir -p f1/sub f2/sub
for f in a b c; do echo "content $f" >"f1/$f"; done
echo deep >f1/sub/d
ln -s a f1/link
echo deep >f2/sub/d
for f in c b a; do echo "content $f" >"f2/$f"; done
ln -s a f2/link
mkfifo f1/pipe f2/pipe
r=$(L begin --label folders LEARNING_RATE=1)
L --task "$r" used ds f1
L --task "$r" used ds f2
L --task "$r" used ds f1 --quick
"$DNNPROV" cat "logs/digits/$r" | grep '"kind":"used"' >"$T/used.jsonl"
want=$($PY - f1 <<'PY'
import hashlib, os, sys
root, entries = sys.argv[1], []
for d, dirs, files in os.walk(root):
    for name in dirs + files:
        p = os.path.join(d, name)
        rel = os.path.relpath(p, root).encode()
        if os.path.islink(p):
            t = os.readlink(p).encode()
            entries.append((rel, b"l", len(t), t))
        elif os.path.isfile(p):
            b = open(p, "rb").read()
            entries.append((rel, b"f", len(b), hashlib.sha256(b).hexdigest().encode()))
        elif not os.path.isdir(p):
            entries.append((rel, b"o", 0, b""))
m = b"dnnprov manifest 1\n" + b"".join(r + b"\0" + k + b"\0" + str(n).encode() + b"\0" + x + b"\n"
                                      for r, k, n, x in sorted(entries))
print("sha256:" + hashlib.sha256(m).hexdigest())
PY
)
fps=$($PY -c 'import json, sys; print(" ".join(json.loads(l)["fingerprint"] for l in open(sys.argv[1])))' "$T/used.jsonl")
expect_eq "a folder's fingerprint is its manifest's, in any listing order" "${fps% *}" "$want $want"
case "${fps##* }" in quick:*) ok ;; *) fail "the quick mode has its own prefix: ${fps##* }" ;; esac
expect_status "a FIFO is never opened" 1 L --task "$r" used ds f1/pipe
expect_grep "and is named" "f1/pipe is not a regular file" "$T/err"
expect_status "a missing file" 1 L --task "$r" used ds nothere
expect_status "a role that is no name" 1 L --task "$r" used "a role" data/digits.npz
expect_status "a fingerprint that is no fingerprint" 1 L --task "$r" used ds s3://b/k --fingerprint sha256:abc
expect_status "a location given with its fingerprint" 0 L --task "$r" generated ds s3://bucket/key --fingerprint "$raw" --size 12
L --task "$r" end

# --- hostile paths and roles, escaped everywhere ----------------------------------------------
mkdir -p "$T/hostile"
evil="$T/hostile/"$'a"b\\N<b>&\x1b[31m%\nline'
printf 'evil' >"$evil"
h=$(L begin --label hostile LEARNING_RATE=0.3)
L --task "$h" used train_data "$evil"
L --task "$h" generated model "$evil"
L --task "$h" end
Q index -c exp.yaml -q
expect_status "lineage of it, as a table" 0 Q lineage -c exp.yaml "$h"
if grep -q $'\x1b' "$T/out"; then fail "the terminal gets an escape character"; else ok; fi
expect_status "as JSON" 0 Q lineage -c exp.yaml "$h" --format json
expect_eq "JSON keeps the path exactly" "$($PY -c 'import json, sys; print(json.load(open(sys.argv[1]))["rows"][1]["location"] == sys.argv[2])' "$T/out" "$evil")" True
expect_status "as SQL" 0 Q sql -c exp.yaml --format json "select location from used where task = '$h'"
expect_eq "SQL keeps it" "$($PY -c 'import json, sys; print(json.load(open(sys.argv[1]))["rows"][0]["location"] == sys.argv[2])' "$T/out" "$evil")" True
expect_status "PROV of every run" 0 $PY "$ROOT/tests/prov_check.py" --dnnprov "$DNNPROV" --logs logs --index index --df digits --label lineage
expect_status "one run's PROV" 0 Q export -c exp.yaml --run "$h" -o "$T/h.json"
expect_status "one run's PROV-N" 0 Q export -c exp.yaml --run "$h" --format prov-n -o "$T/h.provn"
expect_status "the picture" 0 Q export -c exp.yaml --run "$h" --format dot -o "$T/h.dot"
if command -v dot >/dev/null; then
	expect_status "Graphviz reads it" 0 dot -Tsvg -o "$T/h.svg" "$T/h.dot"
	expect_status "the SVG is XML holding the name" 0 $PY -c '
import sys, xml.etree.ElementTree as E
text = "".join(E.parse(sys.argv[1]).getroot().itertext())
sys.exit(0 if "a\"b\\N<b>&" in text else "the name is not in the SVG")' "$T/h.svg"
else
	fail "Graphviz (apt-get install graphviz) is needed to check the picture"
fi
expect_status "the DOT has no control character" 1 grep -q $'\x1b' "$T/h.dot"

# --- one run's document: its lineage, no specification, python3-prov reads it --------------
expect_status "one run's document" 0 Q export -c exp.yaml --run "$runC" -o "$T/c.json"
expect_status "python3-prov reads it and it holds the path" 0 $PY - "$T/c.json" "$runC" "$split1" "$scale1" "${raw#sha256:}" <<'PY'
import sys
from prov.model import ProvDocument
path, run, split, scale, raw = sys.argv[1:6]
doc = ProvDocument.deserialize(path, format="json")
ids = {str(r.identifier) for r in doc.get_records() if r.identifier is not None}
for want in ("df:task/" + run, "df:task/" + split, "df:task/" + scale, "ent:sha256/" + raw,
             "df:agent/person/" + __import__("getpass").getuser()):
    if want not in ids:
        sys.exit("missing " + want)
if "df:dataflow" in ids or any(i.startswith("df:task/" + run + "/epoch/") for i in ids):
    sys.exit("the specification or the epochs are in one run's document")
roles = {str(v) for r in doc.get_records() for a, v in r.attributes if str(a) == "prov:role"}
if not {"raw_data", "train_data", "model"} <= roles:
    sys.exit("roles: %r" % roles)
PY
expect_status "--run with --task" 2 Q export -c exp.yaml --run "$runC" --task "$runA"
expect_status "dot without --run" 2 Q export -c exp.yaml --format dot
expect_status "an unknown run" 1 Q export -c exp.yaml --run nosuchrun

# --- rebuilt, and deleted --------------------------------------------------------------------
Q sql -c exp.yaml --format csv "select * from used union all select * from generated order by 1, 2, 7" >"$T/before"
"$DNNPROV" reindex -c exp.yaml -q
Q sql -c exp.yaml --format csv "select * from used union all select * from generated order by 1, 2, 7" >"$T/after"
expect_eq "a rebuild gives the same lineage" "$(cmp -s "$T/before" "$T/after" && echo same)" same
"$DNNPROV" delete -c exp.yaml "$runF" >/dev/null
expect_status "a deleted run's model" 1 Q lineage -c exp.yaml "runs/$runF.pt" --depth 1 --format csv
expect_status "is no more in the entity index" 0 Q lineage -c exp.yaml "$scale2" --down --format csv
expect_eq "down from its scaling" "$(csvcol task "$T/out" | grep -c "$runF")" 0

echo "test_lineage.sh: $passed passed, $failed failed"
[ "$failed" = 0 ]
