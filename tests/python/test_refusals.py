"""A typo never costs the run (docs/RUNS.md): a name the experiment file
does not declare raises at the begin and until the first epoch is recorded,
then is refused alone with a warning once per name; the record keeps its
other values, a refused record keeps the name and value, and the run shows
it as a problem.  strict=True and `strict: true` make every refusal an
error that records nothing."""

import json
import os
import subprocess
import sys
import urllib.request
import warnings

import dnnprov
from support import DNNPROV, REPO, LogTestCase

sys.path.insert(0, os.path.join(REPO, "tests"))
from serve_lib import Server  # noqa: E402

HYPS = {"OPTIMIZER_NAME": "SGD", "LEARNING_RATE": 0.1}


class RefusalTest(LogTestCase):

    def index(self):
        subprocess.run([DNNPROV, "index", "-c", self.config, "-q"], check=True, capture_output=True)

    def test_a_typo_at_the_begin_raises_and_records_nothing(self):
        with self.assertRaisesRegex(dnnprov.UndeclaredError, "'drop_out' is not declared"):
            dnnprov.Task(self.config, dict(HYPS, drop_out=0.5), task_id="typo")
        self.assertEqual(self.segments(), [])

    def test_a_typo_in_the_first_epoch_raises(self):
        with self.assertRaises(dnnprov.UndeclaredError):
            with dnnprov.Task(self.config, HYPS, task_id="first") as t:
                t.epoch(1, loss=0.5, acurracy=0.9)
        self.assertEqual(self.only("end")["status"], "FAILED")
        self.assertEqual(self.records(kinds="epoch"), [])

    def test_a_typo_in_the_test_after_training_keeps_the_run(self):
        # The most common end of a script: train, then test with a typo,
        # then save the model.  The save must still happen.
        saved = []
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with dnnprov.Task(self.config, HYPS, task_id="tested") as t:
                for e in range(1, 4):
                    t.epoch(e, loss=1.0 / e, accuracy=0.5)
                t.test(loss=0.3, acurracy=0.9)
                t.test(acurracy=0.8)
                saved.append("model.pt")
        self.assertEqual(saved, ["model.pt"])
        self.assertEqual(self.only("end")["status"], "FINISHED")
        # Warned once for the name, though refused twice.
        told = [w for w in caught if issubclass(w.category, dnnprov.UndeclaredWarning)]
        self.assertEqual(len(told), 1, [str(w.message) for w in caught])
        self.assertEqual(told[0].message.names, ("acurracy",))
        self.assertIn("metrics: loss, accuracy", str(told[0].message))
        # The valid value is kept; nothing the program gave is lost.
        self.assertEqual([r["metrics"] for r in self.records(kinds="test")], [{"loss": 0.3}])
        refused = self.records(kinds="refused")
        self.assertEqual([(r["record"], r["values"]) for r in refused],
                         [("test", {"acurracy": 0.9}), ("test", {"acurracy": 0.8})])
        self.index()
        runs = dnnprov.runs(self.config)
        self.assertEqual(list(runs["problems"]), ["refused: acurracy (test)"])
        status = subprocess.run([DNNPROV, "index", "-c", self.config, "--status"], capture_output=True,
                                text=True, check=True).stdout
        self.assertIn("metric 'acurracy' refused at test: not declared (task 'tested')", status)

    def test_after_the_first_epoch_every_kind_of_name_is_refused_alone(self):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with dnnprov.Task(self.config, HYPS, task_id="later") as t:
                t.epoch(1, loss=0.5)
                t.epoch(2, loss=0.4, acurracy=0.9)
                t.epoch(3, loss=0.3, acurracy=0.95, val_acc=0.9)
                t.adapt(3, LR=0.01)
                t.element("DenseBlock", "iDenseBlock", {"growth_rate": 12, "growth": 3})
        names = [w.message.names for w in caught if issubclass(w.category, dnnprov.UndeclaredWarning)]
        self.assertEqual(names, [("acurracy",), ("acurracy", "val_acc"), ("LR",), ("growth",)])
        self.assertEqual([r["metrics"] for r in self.records(kinds="epoch")],
                         [{"loss": 0.5}, {"loss": 0.4}, {"loss": 0.3}])
        self.assertEqual(self.records(kinds="adapt"), [])
        self.assertEqual(self.only("element")["values"], {"growth_rate": 12})
        self.assertEqual([(r["record"], r.get("epoch"), r["values"]) for r in self.records(kinds="refused")], [
            ("epoch", 2, {"acurracy": 0.9}), ("epoch", 3, {"acurracy": 0.95, "val_acc": 0.9}),
            ("adapt", 3, {"LR": 0.01}), ("element", None, {"growth": 3})])
        self.assertEqual(self.only("end")["status"], "FINISHED")
        self.index()
        runs = dnnprov.runs(self.config)
        self.assertEqual(list(runs["problems"]),
                         ["refused: acurracy (epoch 2), val_acc (epoch 3), LR (adapt 3), growth (element)"])
        self.assertEqual(list(runs["status"]), ["FINISHED"])
        # The dashboard's answer has the column too.
        with Server(DNNPROV, "-c", self.config) as server:
            with urllib.request.urlopen(server.base + "/api/runs") as answer:
                page = json.load(answer)
        self.assertIn("problems", page["columns"])
        self.assertEqual([r["problems"] for r in page["rows"]], list(runs["problems"]))

    def test_strict_makes_every_refusal_an_error(self):
        strict_file = self.write_config(self.config_text + "strict: true\n", "strict.yaml")
        for config, strict in ((self.config, True), (strict_file, False)):
            with dnnprov.Task(config, HYPS, label="strict", strict=strict) as t:
                t.epoch(1, loss=0.5)
                with self.assertRaisesRegex(dnnprov.UndeclaredError, "'acurracy' is not declared"):
                    t.epoch(2, loss=0.4, acurracy=0.9)
                with self.assertRaises(dnnprov.UndeclaredError):
                    t.test(acurracy=0.9)
        self.assertEqual(len(self.records(kinds="epoch")), 2)
        self.assertEqual(self.records(kinds="refused"), [])
        self.assertEqual(self.records(kinds="test"), [])

    def test_the_shell_says_so_and_exits_3(self):
        log = [DNNPROV, "log", "-c", self.config]
        began = subprocess.run(log + ["begin", "LEARNING_RATE=0.1", "drop_out=0.5"], capture_output=True, text=True)
        self.assertEqual(began.returncode, 3, began.stderr)
        task = began.stdout.strip()
        self.assertIn("hyperparameter 'drop_out' is not declared", began.stderr)
        done = subprocess.run(log + ["--task", task, "epoch", "1", "loss=0.5", "acurracy=0.9"],
                              capture_output=True, text=True)
        self.assertEqual(done.returncode, 3, done.stderr)
        self.assertRegex(done.stderr, r"^dnnprov: log: metric 'acurracy' is not declared .*the epoch was "
                                      r"recorded without it")
        strict_file = self.write_config(self.config_text + "strict: true\n", "strict.yaml")
        done = subprocess.run([DNNPROV, "log", "-c", strict_file, "--task", task, "epoch", "2", "loss=0.5",
                               "acurracy=0.9"], capture_output=True, text=True)
        self.assertEqual(done.returncode, 1, done.stderr)
        self.assertEqual([r["metrics"] for r in self.records(kinds="epoch")], [{"loss": 0.5}])
        self.assertEqual([r["record"] for r in self.records(kinds="refused")], ["begin", "epoch"])
        self.assertEqual(self.only("begin")["hyperparameters"], {"LEARNING_RATE": 0.1})


if __name__ == "__main__":
    import unittest
    unittest.main()
