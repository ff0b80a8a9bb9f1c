#!/usr/bin/env bash
# The Python side: the unittest suite of tests/python (the ctypes binding,
# the PyTorch recorder, the Keras callback), then examples/torch_digits.py
# --quick end to end: its best line parses and names a task of the logs,
# every configuration is a finished task with a test record, and a second
# run prints the same numbers.  With DNNPROV_BUILD=build-asan, Python runs
# with the ASan runtime preloaded.
. "$(dirname "$0")/lib.sh"

export PYTHONPATH="$PWD/python" DNNPROV_BIN="$DNNPROV"
py() { sh tools/pyrun.sh "$PWD/$BUILD/libdnnprov.so" "$@"; }

# --- the unittest suite -------------------------------------------------------
expect_status "the unittest suite passes" 0 py -m unittest discover -s tests/python -t tests/python
expect_grep "it ran" "^Ran [1-9][0-9]* tests" "$T/err"

# --- the digits example -------------------------------------------------------
mkdir "$T/a" "$T/b"
cp examples/digits.yaml "$T/a/"
cp examples/digits.yaml "$T/b/"
expect_status "torch_digits.py --quick runs" 0 py examples/torch_digits.py --config "$T/a/digits.yaml" --quick
cp "$T/out" "$T/a.out"
best=$(tail -n 1 "$T/a.out")
expect_grep "the best line parses (a labelled id, unique per run)" \
	'^best: task=[a-z]*-lr[0-9.e-]*-[0-9]\{8\}T[0-9]\{6\}Z-[^ ]* optimizer=\(SGD\|Adam\) lr=[0-9.e-]* val_accuracy=[0-9.e-]*$' <(echo "$best")
"$DNNPROV" cat "$T/a/dnnprov-logs" >"$T/a.jsonl"
# Every configuration printed is a training task that began, has a test
# record and ended FINISHED; the best line is the highest final-epoch
# val_accuracy; the pipeline's other steps (docs/LINEAGE.md) finished too.
verdict=$(py - "$T/a.jsonl" "$T/a.out" <<'PY'
import json, re, sys
records = [json.loads(line) for line in open(sys.argv[1])]
printed = [line.split(":")[0] for line in open(sys.argv[2]) if ": val_accuracy=" in line]
best = re.match(r"best: task=(\S+) optimizer=(\S+) lr=(\S+) val_accuracy=(\S+)$",
                open(sys.argv[2]).read().splitlines()[-1])
every = {}
for r in records:
    t = every.setdefault(r["task"], {"kinds": [], "last": None, "transformation": "TrainingModel"})
    t["kinds"].append(r["kind"])
    if r["kind"] == "epoch":
        t["last"] = r["metrics"]["val_accuracy"]
    if r["kind"] == "begin":
        t["begin"] = r["hyperparameters"]
        t["transformation"] = r.get("transformation", "TrainingModel")
    if r["kind"] == "end":
        t["status"] = r["status"]
tasks = {name: t for name, t in every.items() if t["transformation"] == "TrainingModel"}
steps = sorted(t["transformation"] for t in every.values() if t["transformation"] != "TrainingModel")
problems = []
if steps != ["Evaluate", "Load", "Scale", "Select", "Split"] or any(
        t.get("status") != "FINISHED" for t in every.values() if t["transformation"] != "TrainingModel"):
    problems.append(f"the pipeline's steps: {steps}")
if len(printed) < 2 or sorted(printed) != sorted(tasks):
    problems.append(f"printed tasks {printed}, logged {sorted(tasks)}")
for name, t in tasks.items():
    if t["kinds"].count("test") != 1 or t.get("status") != "FINISHED" or "adapt" not in t["kinds"]:
        problems.append(f"{name}: {t['kinds']} {t.get('status')}")
task, optimizer, lr, value = best.groups()
top = max(t["last"] for t in tasks.values())
if tasks[task]["last"] != float(value) or float(value) != top:
    problems.append(f"best {task} {value}, logged {tasks[task]['last']}, top {top}")
if (tasks[task]["begin"]["OPTIMIZER_NAME"], tasks[task]["begin"]["LEARNING_RATE"]) != (optimizer, float(lr)):
    problems.append(f"best {optimizer} {lr}, logged {tasks[task]['begin']}")
print("; ".join(problems) or "ok")
PY
)
expect_eq "the logs hold what the example printed" "$verdict" ok

expect_status "a second run" 0 py examples/torch_digits.py --config "$T/b/digits.yaml" --quick
# The same numbers under new ids: a run of the script is new runs (the
# model is saved under each experiment's folder).
labels() { grep -v ' configurations, ' "$1" | sed -E -e 's/-[0-9]{8}T[0-9]{6}Z-[^ :]*//' -e 's|^model: [^ ]*/|model: |'; }
expect_eq "gives the same numbers" "$(labels "$T/out")" "$(labels "$T/a.out")"
expect_eq "under new task ids" "$(grep -v ' configurations, ' "$T/out" | head -1 | cut -d: -f1 | grep -cF "$(head -1 "$T/a.out" | cut -d: -f1)")" 0
finish
