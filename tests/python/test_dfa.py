"""dnnprov.dfa (dfa-lib-python's classes, in-process) and
dnnprov.keras.provenance (Keras-Prov's entry point), with the examples run
as programs: the corrected DenseBlock example with only its imports
changed, and a Keras-Prov-style training loop."""

import os
import subprocess
import sys
import textwrap

import dnnprov.dfa as dfa
import dnnprov.keras
from support import REPO, LogTestCase
from test_keras import Model, Optimizer

EXAMPLES = os.path.join(REPO, "examples")
FIXTURE = os.path.join(REPO, "tests", "fixtures", "dfanalyzer", "denseblock_dfa_lib_python.py")


def program_lines(path):
    """A program's lines from its first import on, without imports."""
    with open(path) as f:
        lines = f.read().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(("from ", "import ")))
    return [line for line in lines[start:] if not line.startswith(("from ", "import "))]


class ExampleTest(LogTestCase):
    """The examples as their users run them: a program in a working folder
    without DNNPROV_CONFIG."""

    def run_example(self, name, *args):
        env = {k: v for k, v in os.environ.items() if k != "DNNPROV_CONFIG"}
        done = subprocess.run([sys.executable, os.path.join(EXAMPLES, name), *args], cwd=self.dir, env=env,
                              capture_output=True, text=True)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        return done.stdout

    def test_denseblock_only_the_imports_changed(self):
        self.assertEqual(program_lines(os.path.join(EXAMPLES, "dfa_denseblock.py")), program_lines(FIXTURE))

    def test_denseblock_each_program_run_is_a_run(self):
        self.run_example("dfa_denseblock.py")
        self.run_example("dfa_denseblock.py")
        self.assertTrue(os.path.exists(os.path.join(self.dir, "keras-alexnet-df.yaml")))
        elements = self.records(kinds="element")
        tasks = sorted({r["task"] for r in elements})
        self.assertEqual(len(tasks), 2, elements)
        self.assertTrue(all(t.startswith("DenseBlock-") for t in tasks), tasks)
        for t in tasks:
            self.assertEqual([(r["set"], r["values"]) for r in elements if r["task"] == t],
                             [("iDenseBlock", {"growth_rate": 1, "layers_db": 33}),
                              ("oDenseBlock", {"output": "dense_block_1/concat:0"})])
        self.assertEqual([r["status"] for r in self.records(kinds="end")], ["FINISHED", "FINISHED"])

    def test_training_loop(self):
        self.run_example("dfa_training.py", "--epochs", "7")
        kinds = [r["kind"] for r in self.records()]
        self.assertEqual(kinds, ["spec", "begin", "layers"] + ["epoch"] * 3 + ["adapt"] + ["epoch"] * 3 +
                         ["adapt"] + ["epoch"] + ["end", "test"])
        begin = self.only("begin")
        self.assertEqual(begin["hyperparameters"], {"OPTIMIZER_NAME": "SGD", "LEARNING_RATE": 0.5, "NUM_EPOCHS": 7,
                                                    "NUM_LAYERS": 1})
        self.assertTrue(begin["task"].startswith("keras-alexnet-df20"), begin["task"])
        self.assertEqual([(r["epoch"], r["new"]) for r in self.records(kinds="adapt")], [(4, 0.25), (7, 0.125)])
        self.assertEqual([r["epoch"] for r in self.records(kinds="epoch")], list(range(1, 8)))


class DfaTest(LogTestCase):
    """The classes against an experiment file named by DNNPROV_CONFIG."""

    config_text = textwrap.dedent("""\
        dataflow: df
        hyperparameters: {LEARNING_RATE: true}
        metrics: [loss]
        transformations:
          DenseBlock:
            input:
              iDenseBlock: {growth_rate: numeric, layers_db: numeric}
        """)

    def setUp(self):
        super().setUp()
        os.environ["DNNPROV_CONFIG"] = self.config
        self.addCleanup(os.environ.pop, "DNNPROV_CONFIG", None)
        tf = dfa.Transformation("DenseBlock")
        tf.set_sets([dfa.Set("iDenseBlock", dfa.SetType.INPUT, [dfa.Attribute("growth_rate", dfa.AttributeType.NUMERIC),
                                                                 dfa.Attribute("layers_db", dfa.AttributeType.NUMERIC)])])
        dfa.Dataflow("df", [tf]).save()

    def test_three_and_four_arguments(self):
        three = dfa.Task(4, "df", "DenseBlock")
        four = dfa.Task(4, "df", "run-1", "DenseBlock")
        keyword = dfa.Task(4, "df", "DenseBlock", exec_tag="run-2")
        self.assertEqual((three.exec_tag, three.transformation_tag), (None, "DenseBlock"))
        self.assertEqual((four.exec_tag, four.transformation_tag), ("run-1", "DenseBlock"))
        self.assertEqual((keyword.exec_tag, keyword.transformation_tag), ("run-2", "DenseBlock"))
        for t, n in ((four, 1), (keyword, 2)):
            t.add_dataset(dfa.DataSet("iDenseBlock", [dfa.Element([n, "33"])]))
            t.begin()
            t.end()
        runs = sorted({r["task"] for r in self.records(kinds="element")})
        self.assertEqual(runs, ["run-1", "run-2"], "one exec is one run, its id the exec tag")
        with self.assertRaises(TypeError):
            dfa.Task(4, "df")

    def test_refused_whole_before_anything_is_recorded(self):
        t = dfa.Task(4, "df", "DenseBlock")
        t.add_dataset(dfa.DataSet("iDenseBlock", [dfa.Element([1, 2]), dfa.Element([1, 2, 3])]))
        with self.assertRaisesRegex(ValueError, "has 2 attributes"):
            t.begin()
        t.add_dataset(dfa.DataSet("iNothing", [dfa.Element([1])]))
        with self.assertRaisesRegex(ValueError, "declares no set 'iNothing'"):
            t.begin()
        t.add_dataset(dfa.DataSet("iDenseBlock", [dfa.Element(["x", 2])]))
        with self.assertRaisesRegex(ValueError, "'x' is not a number"):
            t.begin()
        self.assertEqual(self.segments(), [])

    def test_an_existing_different_experiment_is_never_replaced(self):
        os.environ.pop("DNNPROV_CONFIG")
        cwd = os.getcwd()
        os.chdir(self.dir)
        self.addCleanup(os.chdir, cwd)
        mine = self.write_config("dataflow: other\n", "other.yaml")
        with self.assertRaisesRegex(dnnprov.ConfigError, "other.yaml exists and says something else"):
            dfa.Dataflow("other", [dfa.Transformation("X", [dfa.Set("iX", dfa.SetType.INPUT, [
                dfa.Attribute("a", dfa.AttributeType.TEXT)])])]).save()
        with open(mine) as f:
            self.assertEqual(f.read(), "dataflow: other\n")


class ProvenanceTest(LogTestCase):
    """dnnprov.keras.provenance on the stand-in model of the callback tests."""

    def fit_and_evaluate(self, model, epochs=3):
        """What fit and evaluate do to their callbacks."""
        model.fit("x", "y", epochs=epochs)
        model.evaluate("x", "y")

    def make_model(self):
        model = Model(Optimizer({"name": "SGD", "learning_rate": 0.01, "momentum": 0.9}, 0.01))
        model.metrics_names = ["loss", "accuracy"]

        def fit(x, y, epochs=1, callbacks=None):
            for cb in callbacks:
                cb.set_model(model)
                cb.set_params({"epochs": epochs, "verbose": 0})
                cb.on_train_begin()
            for e in range(epochs):
                for cb in callbacks:
                    cb.on_epoch_begin(e)
                    cb.on_epoch_end(e, {"loss": 1.0 / (e + 1), "accuracy": 0.5, "val_loss": 2.0,
                                        "val_accuracy": 0.25})
            for cb in callbacks:
                cb.on_train_end()

        def evaluate(x, y, callbacks=None):
            for cb in callbacks:
                cb.on_test_end({"loss": 0.5, "accuracy": 0.75})

        model.fit, model.evaluate = fit, evaluate
        return model

    def test_writes_the_experiment_beside_the_script_and_records(self):
        script = os.path.join(self.dir, "train.py")
        hyps = {"OPTIMIZER_NAME": True, "LEARNING_RATE": True, "DECAY": False, "MOMENTUM": False,
                "NUM_EPOCHS": True, "BATCH_SIZE": False, "NUM_LAYERS": True}
        argv, sys.argv = sys.argv, [script]
        self.addCleanup(setattr, sys, "argv", argv)
        os.environ.pop("DNNPROV_CONFIG", None)
        model = self.make_model()
        dnnprov.keras.provenance(model, dataflow_tag="keras-alexnet-df", adaptation=True, hyps=hyps)
        written = os.path.join(self.dir, "keras-alexnet-df.yaml")
        self.log_dir = os.path.join(self.dir, "dnnprov-logs")
        self.fit_and_evaluate(model)
        self.assertEqual(self.only("begin")["hyperparameters"],
                         {"OPTIMIZER_NAME": "SGD", "LEARNING_RATE": 0.01, "NUM_EPOCHS": 3, "NUM_LAYERS": 4})
        self.assertEqual([r["kind"] for r in self.records()],
                         ["spec", "begin", "layers", "epoch", "epoch", "epoch", "end", "test"])
        # The same experiment written by hand records the same.
        with open(written) as f:
            text = f.read()
        self.assertIn("metrics: [\"loss\", \"accuracy\"]", text)
        by_hand = self.write_config(text.replace("# Written", "# Copied"), "by_hand.yaml")
        model2 = self.make_model()
        model2.fit("x", "y", epochs=3, callbacks=[dnnprov.keras.ProvenanceCallback(by_hand)])
        begins = self.records(kinds="begin")
        self.assertEqual(begins[0]["hyperparameters"], begins[1]["hyperparameters"])
        # A different existing file is never replaced.
        with self.assertRaises(dnnprov.ConfigError):
            dnnprov.keras.provenance(self.make_model(), dataflow_tag="keras-alexnet-df", adaptation=False, hyps=hyps)
        with open(written) as f:
            self.assertEqual(f.read(), text)

    def test_uses_dnnprov_config(self):
        os.environ["DNNPROV_CONFIG"] = self.config
        self.addCleanup(os.environ.pop, "DNNPROV_CONFIG", None)
        model = self.make_model()
        dnnprov.keras.provenance(model, dataflow_tag="py-df", hyps={"LEARNING_RATE": True, "MOMENTUM": False})
        self.fit_and_evaluate(model, epochs=2)
        self.assertEqual(self.only("begin")["hyperparameters"], {"LEARNING_RATE": 0.01})
        self.assertEqual(self.only("test")["metrics"], {"loss": 0.5, "accuracy": 0.75})
        with self.assertRaisesRegex(ValueError, "hyps takes the built-in"):
            dnnprov.keras.provenance(model, dataflow_tag="py-df", hyps={"dropout": True})
