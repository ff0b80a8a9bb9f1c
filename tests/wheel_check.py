"""The installed wheel at work, from a folder outside the source tree
(tests/test_install.sh runs it with each interpreter it installs into).

usage: wheel_check.py plain|pandas ENV WHEEL

Both modes check that dnnprov comes from ENV's site-packages with the
library the wheel carries, record a run, index it with the `dnnprov` on
PATH, and then:

  plain   asks every question of the registry and runs SQL: each answer is
          a list of dicts, pandas never imported; connect() gives a working
          connection where the interpreter's sqlite3 loads extensions, and
          raises dnnprov.Error naming dnnprov.sql() where it cannot;
  pandas  gets typed DataFrames (times as datetimes, integers as Int64),
          and pandas.read_sql_query over dnnprov.connect().

The last line printed says what was checked.
"""

import os
import subprocess
import sys

MODE, ENV = sys.argv[1], os.path.realpath(sys.argv[2])

import dnnprov  # noqa: E402

where = os.path.realpath(dnnprov.__file__)
assert where.startswith(ENV + os.sep), f"dnnprov from {where}, not from {ENV}"
assert os.path.realpath(dnnprov.library_path) == os.path.join(os.path.dirname(where), "libdnnprov.so.0"), \
    dnnprov.library_path

CONFIG = "wheel.yaml"
with open(CONFIG, "w") as f:
    f.write("dataflow: wheel-%s\nlog_dir: logs-%s\nindex_dir: index-%s\n"
            "hyperparameters: {OPTIMIZER_NAME: true, LEARNING_RATE: true, BATCH_SIZE: true}\n"
            "metrics: [loss, accuracy]\nadaptation: true\n"
            "transformations:\n  DenseBlock:\n    input:\n      iDenseBlock: {growth_rate: numeric}\n"
            % ((MODE,) * 3))
for i, lr in enumerate((0.1, 0.01)):
    with dnnprov.Task(CONFIG, {"OPTIMIZER_NAME": "SGD", "LEARNING_RATE": lr, "BATCH_SIZE": 32},
                      task_id=f"run-{i}") as t:
        t.layers([("fc1", "activation", "relu")])
        t.used("train_data", CONFIG)  # fingerprinted by the wheel's own libcrypto
        for e in range(1, 4):
            t.epoch(e, loss=1.0 / (e + i), accuracy=0.5 + e / 10)
        t.adapt(3, LEARNING_RATE=lr / 10)
        t.element("DenseBlock", "iDenseBlock", {"growth_rate": 12})
        t.tag(stage="candidate")
    later = dnnprov.Task(CONFIG, task_id=f"run-{i}", begin=False)
    later.test(loss=0.5 + i, accuracy=0.9)
    later.close()
subprocess.run(["dnnprov", "index", "-c", CONFIG, "-q"], check=True)

if MODE == "plain":
    # What each question requires, by the registry's names.
    given = {"hyp": "LEARNING_RATE", "task": "run-1", "transformation": "DenseBlock", "metric": "loss",
             "by": "OPTIMIZER_NAME", "node": "run-1"}
    answers = {}
    for q in dnnprov.questions()["questions"]:
        needed = [p["name"] for p in q["parameters"] if "api" in p["fronts"] and p["required"]
                  and p["name"] != "dataflow"]
        # advise judges a task, or a value at an epoch: one or the other,
        # which no parameter alone can say it requires.
        needed += ["task"] if q["name"] == "advise" else []
        missing = [n for n in needed if n not in given]
        assert not missing, f"{q['name']} requires {missing}: teach wheel_check.py a value"
        answers[q["name"]] = getattr(dnnprov, q["name"])(CONFIG, **{n: given[n] for n in needed})
    answers["sql"] = dnnprov.sql("select task, epochs from tasks where epochs = ?", [3], config=CONFIG)
    for name, a in answers.items():
        assert isinstance(a, list) and all(isinstance(r, dict) for r in a), (name, type(a))
    for name in ("runs", "compare", "curve", "adaptations", "test", "elements", "layers", "lineage", "sql"):
        assert answers[name], f"{name}: no rows"
    assert "pandas" not in sys.modules, "pandas was imported"
    assert any(r["role"] == "train_data" and r["fingerprint"].startswith("sha256:") for r in answers["lineage"]), \
        answers["lineage"]
    runs = {r["task"]: r for r in answers["runs"]}
    assert runs["run-1"]["epochs"] == 3 and runs["run-1"]["status"] == "FINISHED", runs
    import sqlite3
    if hasattr(sqlite3.Connection, "enable_load_extension"):
        con = dnnprov.connect(CONFIG)
        assert con.execute("select count(*) from tasks").fetchone()[0] == 2
    else:
        try:
            dnnprov.connect(CONFIG)
            sys.exit("connect() without extension loading gave a connection")
        except dnnprov.Error as e:
            assert "dnnprov.sql(" in str(e), e
    print("ok: every question, lists of dicts")
else:
    import pandas
    runs = dnnprov.runs(CONFIG)
    assert isinstance(runs, pandas.DataFrame)
    assert str(runs["start"].dtype) == "datetime64[ns, UTC]", runs.dtypes
    assert str(runs["epochs"].dtype) == "Int64" and str(runs["BATCH_SIZE"].dtype) == "Int64", runs.dtypes
    top = dnnprov.compare(CONFIG, metric="loss", limit=5)
    assert list(top["task"])[:1] == ["run-1"], top
    frame = pandas.read_sql_query("select * from epochs where task = ?", dnnprov.connect(CONFIG),
                                  params=["run-1"])
    assert len(frame) == 3, frame
    print("ok: frames typed, read_sql_query")
