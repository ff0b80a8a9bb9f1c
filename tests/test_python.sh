#!/usr/bin/env bash
# The Python side: the unittest suite of tests/python (the ctypes binding,
# the PyTorch recorder, the Keras callback), then examples/torch_digits.py
# --quick end to end: its best line parses and names a task of the logs,
# every configuration is a finished task with a test record, and a second
# run prints the same numbers; then examples/optuna_digits.py --quick: a real
# study with pruned trials, each a task, asked which parameter mattered,
# also from another CPython (without extension loading) where there is one.
# With DNNPROV_BUILD=build-asan, Python runs with the ASan runtime preloaded.
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

# --- the Optuna example ---------------------------------------------------------
mkdir "$T/optuna"
expect_status "optuna_digits.py --quick runs" 0 env -C "$T/optuna" sh "$PWD/tools/pyrun.sh" "$PWD/$BUILD/libdnnprov.so" \
	"$PWD/examples/optuna_digits.py" --quick --dnnprov "$DNNPROV"
cp "$T/out" "$T/optuna.out"
expect_grep "the study ran, some trials pruned" "^8 trials: [1-9] complete, [1-9] pruned; best val_accuracy=" "$T/optuna.out"
expect_grep "and says which parameter mattered" "^mattered most: [A-Za-z_]* (spearman -\?[0-9.]* over [0-9]* finished trials)$" \
	<(tail -n 1 "$T/optuna.out")
oc="$T/optuna/optuna-digits.yaml"
expect_status "the pruned trials are PRUNED runs" 0 "$DNNPROV" runs -c "$oc" --where "status = 'pruned'" --format csv
expect_eq "as many as Optuna pruned" "$(($(wc -l <"$T/out") - 1))" "$(sed -n 's/^8 trials: [0-9]* complete, \([0-9]*\) pruned.*/\1/p' "$T/optuna.out")"
"$DNNPROV" cat --kind begin "$T/optuna/dnnprov-logs" >"$T/optuna.begins"
verdict=$(py - "$T/optuna.begins" <<'PY'
import json, sys
begins = sorted((json.loads(l) for l in open(sys.argv[1])), key=lambda r: int(r["task"].split("-")[0][5:]))
have = ["MOMENTUM" in r["hyperparameters"] for r in begins]
sgd = ["MOMENTUM" in r["hyperparameters"] for r in begins if r["hyperparameters"]["optimizer"] == "sgd"]
first = have.index(True) if True in have else -1
# momentum is declared by the first trial that picks SGD, a later one.
print("ok" if first > 0 and all(sgd) and len(begins) == 8 else "momentum in %s" % have)
PY
)
expect_eq "a parameter first sampled by a later trial is declared then" "$verdict" ok

other=
for p in "$HOME"/.pyenv/versions/3.*/bin/python3; do
	[ -x "$p" ] || continue
	"$p" -c 'import sqlite3, sys; sys.exit(sys.version_info < (3, 9) or hasattr(sqlite3.Connection, "enable_load_extension"))' \
		2>/dev/null && { other=$p; break; }
done
if [ -n "$other" ] && [ "$BUILD" = build ]; then
	expect_status "another CPython, without extension loading, asks the study" 0 env DNNPROV_LIB="$PWD/$BUILD/libdnnprov.so" \
		"$other" -c 'import dnnprov, sys; r = dnnprov.runs(sys.argv[1], where="status = '"'pruned'"'")
e = dnnprov.effect(sys.argv[1], "lr", metric="val_accuracy"); print(len(r), len(e))' "$oc"
	expect_grep "its answers" "^[1-9] [1-9]" "$T/out"
fi
finish
