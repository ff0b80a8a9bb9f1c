"""dnnprov's questions from Python: made from the library's registry,
answered through libdnnprov (no subprocess, no interpreter sqlite3),
typed by the answers' kinds, refusals naming their parameter."""

import inspect
import json
import os
import subprocess
import sys
import textwrap
import unittest

import dnnprov
from support import DNNPROV, LogTestCase


class QuestionTest(LogTestCase):

    def setUp(self):
        super().setUp()
        for i, lr in enumerate([0.1, 0.01, 0.001]):
            with dnnprov.Task(self.config, {"OPTIMIZER_NAME": "SGD", "LEARNING_RATE": lr, "BATCH_SIZE": 32},
                              task_id="run-%d" % i) as t:
                t.layers([("fc1", "activation", "relu")])
                for e in range(1, 4):
                    t.epoch(e, loss=1.0 / (e + i), accuracy=0.5 + e / 10)
                t.adapt(2, LEARNING_RATE=lr / 10)
                t.element("DenseBlock", "iDenseBlock", {"growth_rate": 12, "layers_db": 3, "note": "x"})
                t.test(loss=0.5 + i, accuracy=0.9 - i / 10)
        subprocess.run([DNNPROV, "index", "-c", self.config, "-q"], check=True)

    def test_every_question_without_the_interpreters_sqlite3(self):
        # Every question and SQL answer through the library; the
        # interpreter's sqlite3 is never imported.
        script = textwrap.dedent("""
            import sys
            sys.modules["sqlite3"] = None
            import dnnprov
            c = sys.argv[1]
            answers = {
                "dataflows": dnnprov.dataflows(c), "describe": dnnprov.describe(c),
                "runs": dnnprov.runs(c), "compare": dnnprov.compare(c, metric="loss"),
                "effect": dnnprov.effect(c, "LEARNING_RATE"), "curve": dnnprov.curve(c, "run-1"),
                "adaptations": dnnprov.adaptations(c), "test": dnnprov.test(c),
                "elements": dnnprov.elements(c, "DenseBlock"), "layers": dnnprov.layers(c),
                "sql": dnnprov.sql("select task from tasks where epochs = ?", [3], config=c),
            }
            for name, a in answers.items():
                assert len(a) > 0, name
            try:
                dnnprov.connect(c)
                sys.exit("connect() without sqlite3")
            except dnnprov.Error as e:
                assert "dnnprov.sql(" in str(e), e
            print("ok", len(answers))
        """)
        done = subprocess.run([sys.executable, "-c", script, self.config], capture_output=True, text=True)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(done.stdout.split(), ["ok", "11"])

    def test_a_sqlite3_without_extension_loading(self):
        # pyenv's default build, python.org's macOS build: sqlite3 without
        # enable_load_extension.  The questions answer; connect() says why
        # it cannot and names dnnprov.sql().  (tests/test_install.sh runs
        # the wheel in such an interpreter where this machine has one.)
        script = textwrap.dedent('''
            import sys, types, sqlite3 as real
            fake = types.ModuleType("sqlite3")
            fake.__dict__.update(real.__dict__)
            fake.Connection = type("Connection", (), {})
            sys.modules["sqlite3"] = fake
            import dnnprov
            c = sys.argv[1]
            assert len(dnnprov.runs(c)) == 3 and len(dnnprov.curve(c, "run-1")) == 3
            assert len(dnnprov.sql("select task from tasks", config=c)) == 3
            try:
                dnnprov.connect(c)
                sys.exit("connect() gave a connection")
            except dnnprov.Error as e:
                print(e)
        ''')
        done = subprocess.run([sys.executable, "-c", script, self.config], capture_output=True, text=True)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn("built without extension loading", done.stdout)
        self.assertIn("dnnprov.sql(query, config=...)", done.stdout)

    def test_the_functions_are_the_registry(self):
        # Each function takes exactly the parameters the registry offers the
        # C API, under the same names, with its help as the docstring.
        registry = dnnprov.questions()
        self.assertEqual(sorted(dnnprov.QUESTIONS), sorted(q["name"] for q in registry["questions"]))
        for q in registry["questions"]:
            fn = getattr(dnnprov, q["name"])
            offered = {p["name"] for p in q["parameters"] if "api" in p["fronts"]}
            taken = set(inspect.signature(fn).parameters) - {"config", "index_dir"}
            self.assertEqual(taken - {"dataflow"}, offered - {"dataflow"}, q["name"])
            self.assertIn(q["description"].split("\n")[0], fn.__doc__)
            for p in q["parameters"]:
                if "api" in p["fronts"]:
                    self.assertIn(p["help"], fn.__doc__, (q["name"], p["name"]))

    def test_answers_are_typed_by_their_kinds(self):
        pandas = __import__("pandas")
        runs = dnnprov.runs(self.config)
        self.assertEqual(str(runs["start"].dtype), "datetime64[ns, UTC]")
        self.assertEqual(str(runs["epochs"].dtype), "Int64")
        self.assertEqual(str(runs["BATCH_SIZE"].dtype), "Int64")
        self.assertEqual(str(runs["LEARNING_RATE"].dtype), "float64")
        self.assertTrue(runs["message"].isna().all())
        rows = dnnprov.query.ask("runs", self.config, format="json")
        self.assertIsInstance(rows, pandas.DataFrame)
        csv = dnnprov.query.ask("runs", self.config, format="csv", sort="task")
        self.assertTrue(csv.startswith("task,status,"), csv[:40])

    def test_values_as_values(self):
        # Tags as a dict of their values as recorded, git_dirty a boolean.
        dnnprov.tag(self.config, "run-1", stage="candidate", seed=7)
        with dnnprov.Task(self.config, {"LEARNING_RATE": 0.5}, task_id="dirty",
                          facts={"git_dirty": "true"}) as t:
            t.epoch(1, loss=1.0)
        subprocess.run([DNNPROV, "index", "-c", self.config, "-q"], check=True)
        script = textwrap.dedent('''
            import sys
            sys.modules["pandas"] = None
            import dnnprov
            rows = {r["task"]: r for r in dnnprov.runs(sys.argv[1], facts=True)}
            print(repr(rows["run-1"]["tags"]), repr(rows["run-0"]["tags"]), repr(rows["dirty"]["git_dirty"]))
        ''')
        done = subprocess.run([sys.executable, "-c", script, self.config], capture_output=True, text=True)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(done.stdout.split("\n")[0], "{'seed': 7, 'stage': 'candidate'} None True")
        runs = dnnprov.runs(self.config)
        self.assertEqual(runs.set_index("task").loc["run-1", "tags"], {"seed": 7, "stage": "candidate"})

    def test_refusals_name_their_parameter(self):
        cases = [
            (lambda: dnnprov.compare(self.config, metric="nope"), "metric", dnnprov.ENOTFOUND),
            (lambda: dnnprov.effect(self.config, "LEARNING_RATE", bins=0), "bins", dnnprov.EQUERY),
            (lambda: dnnprov.effect(self.config, "nope"), "hyp", dnnprov.ENOTFOUND),
            (lambda: dnnprov.runs(self.config, where="lr <"), "where", dnnprov.EQUERY),
            (lambda: dnnprov.runs(self.config, limit=-1), "limit", dnnprov.EQUERY),
            (lambda: dnnprov.compare(self.config, agg="median"), "agg", dnnprov.EQUERY),
            (lambda: dnnprov.curve(self.config, "nope"), "task", dnnprov.ENOTFOUND),
            (lambda: dnnprov.runs(self.config, dataflow="nope"), "dataflow", dnnprov.ENOTFOUND),
            (lambda: dnnprov.query.ask("runs", self.config, bins=3), "bins", dnnprov.EQUERY),
            (lambda: dnnprov.query.ask("watch", self.config, interval=3), "interval", dnnprov.EQUERY),
            (lambda: dnnprov.query.ask("nope", self.config), "question", dnnprov.EQUERY),
            (lambda: dnnprov.effect(self.config), "hyp", dnnprov.EQUERY),
            (lambda: dnnprov.sql("select nope from tasks", config=self.config), "sql", dnnprov.EQUERY),
        ]
        for ask, parameter, code in cases:
            with self.assertRaises(dnnprov.Error) as caught:
                ask()
            self.assertEqual((caught.exception.parameter, caught.exception.code), (parameter, code),
                             str(caught.exception))
        # A success leaves no stale subject for the next failure's reader.
        dnnprov.runs(self.config)
        with self.assertRaises(dnnprov.Error) as caught:
            dnnprov.sql("select 1 from nowhere_at_all", index_dir=os.path.join(self.dir, "no-index"))
        self.assertIsNone(caught.exception.parameter)


if __name__ == "__main__":
    unittest.main()
