"""dnnprov.Task: every method, the three endings, value conversion, the
library's errors as exceptions, runs (reruns refused, resumes), strict
names, threads and fork.  The speed of a call is measured by `make bench`
(bench/bench_python.py), not asserted here."""

import gc
import os
import subprocess
import sys
import threading
import time
import unittest

import numpy as np
import torch

import dnnprov
from support import REPO, LogTestCase

HYPS = {"OPTIMIZER_NAME": "SGD", "LEARNING_RATE": 0.1, "NUM_EPOCHS": 3, "seed": 7}


FREE_METRICS = "free_metrics: true\n"


class EveryMethodTest(LogTestCase):

    def test_a_whole_task(self):
        with self.assertRaisesRegex(dnnprov.UndeclaredError, "'unknown' is not declared"):
            dnnprov.Task(self.config, dict(HYPS, unknown=1), task_id="run-1")
        with dnnprov.Task(self.config, dict(HYPS, dataset="/data/x.npz"),
                          task_id="run-1") as t:
            self.assertEqual(t.id, "run-1")
            self.assertEqual(t.dataflow, "py-df")
            self.assertEqual(t.log_dir, self.log_dir)
            t.layers([("fc1", "activation", "relu"), {"name": "drop", "kind": "dropout", "value": 0.5},
                      ("out", "units", 10), ("none", "activation", None)])
            t.epoch(1, elapsed=2.5, loss=0.9, accuracy=0.5, val_loss=float("nan"),
                    val_accuracy=float("inf"))
            t.adapt(2, LEARNING_RATE=0.05, NUM_EPOCHS=4)
            t.epoch(2, loss=-float("inf"), accuracy=1)
            t.test(loss=0.25, accuracy=0.875)
            t.element("DenseBlock", "iDenseBlock", {"growth_rate": 12, "layers_db": 33.5,
                                                    "note": "ünïcode \"q\""})
            t.sync()

        self.assertTrue(t.closed)
        recs = self.records()
        self.assertEqual([r["kind"] for r in recs],
                         ["spec", "begin", "layers", "epoch", "adapt", "adapt", "epoch", "test",
                          "element", "end"])
        self.assertEqual(recs[1]["task"], "run-1")
        self.assertEqual(recs[1]["hyperparameters"],
                         {"OPTIMIZER_NAME": "SGD", "LEARNING_RATE": 0.1, "NUM_EPOCHS": 3,
                          "seed": 7, "dataset": "/data/x.npz"})
        self.assertEqual(recs[2]["layers"], [
            {"name": "fc1", "kind": "activation", "value": "relu"},
            {"name": "drop", "kind": "dropout", "value": 0.5},
            {"name": "out", "kind": "units", "value": 10},
            {"name": "none", "kind": "activation", "value": None}])
        self.assertEqual(recs[3]["epoch"], 1)
        self.assertEqual(recs[3]["elapsed"], 2.5)
        self.assertEqual(recs[3]["metrics"], {"loss": 0.9, "accuracy": 0.5, "val_loss": "NaN",
                                              "val_accuracy": "Infinity"})
        self.assertEqual({k: recs[4][k] for k in ("epoch", "hyperparameter", "old", "new", "id")},
                         {"epoch": 2, "hyperparameter": "LEARNING_RATE", "old": 0.1, "new": 0.05,
                          "id": 1})
        self.assertEqual({k: recs[5][k] for k in ("epoch", "hyperparameter", "old", "new", "id")},
                         {"epoch": 2, "hyperparameter": "NUM_EPOCHS", "old": 3, "new": 4, "id": 2})
        self.assertEqual(recs[6]["metrics"], {"loss": "-Infinity", "accuracy": 1})
        self.assertGreaterEqual(recs[6]["elapsed"], 0)  # measured by the library
        self.assertEqual(recs[7]["metrics"], {"loss": 0.25, "accuracy": 0.875})
        self.assertEqual(recs[8]["transformation"], "DenseBlock")
        self.assertEqual(recs[8]["set"], "iDenseBlock")
        self.assertEqual(recs[8]["values"], {"growth_rate": 12, "layers_db": 33.5,
                                             "note": "ünïcode \"q\""})
        self.assertEqual(recs[9], {"kind": "end", "status": "FINISHED", "task": "run-1"})

    def test_changing_metric_names_between_calls(self):
        # The binding reuses one array and rewrites a slot's name only when
        # it changes: names, counts and types that vary must all land right.
        free = self.write_config(self.config_text + FREE_METRICS, "free.yaml")
        with dnnprov.Task(free, task_id="vary") as t:
            t.epoch(1, loss=1.0, accuracy=0.5)
            t.epoch(2, accuracy=0.25, loss=2)
            t.epoch(3, loss=3.0)
            t.epoch(4, **{f"m{i}": float(i) for i in range(20)})  # past the initial capacity
            t.epoch(5, loss=5.0, accuracy=0.75)
        epochs = [r["metrics"] for r in self.records(kinds="epoch")]
        self.assertEqual(epochs[:3], [{"loss": 1.0, "accuracy": 0.5}, {"accuracy": 0.25, "loss": 2},
                                      {"loss": 3.0}])
        self.assertEqual(epochs[3], {f"m{i}": float(i) for i in range(20)})
        self.assertEqual(epochs[4], {"loss": 5.0, "accuracy": 0.75})

    def test_without_with(self):
        t = dnnprov.Task(self.config, HYPS, task_id="manual")
        t.epoch(1, loss=1.0)
        t.end("FAILED", message="diverged at epoch 1")
        with self.assertRaises(dnnprov.Error) as caught:
            t.epoch(2, loss=1.0)
        self.assertEqual(caught.exception.code, dnnprov.ESTATE)
        self.assertIsInstance(caught.exception, dnnprov.StateError)
        self.assertEqual(str(caught.exception),
                         "task 'manual' of dataflow 'py-df' has ended (FAILED): nothing more can be "
                         "recorded for its training unless it is resumed")
        t.close()
        t.close()  # a second close is a no-op
        with self.assertRaises(dnnprov.Error) as caught:
            t.epoch(2, loss=1.0)
        self.assertEqual(caught.exception.code, dnnprov.ESTATE)
        self.assertIn("closed", str(caught.exception))
        self.assertEqual(self.only("end"), {"kind": "end", "status": "FAILED",
                                            "message": "diverged at epoch 1", "task": "manual"})

    def test_forgotten_task_is_closed_without_an_end(self):
        t = dnnprov.Task(self.config, HYPS, task_id="forgotten")
        t.epoch(1, loss=1.0)
        del t
        gc.collect()
        self.assertEqual([r["kind"] for r in self.records()], ["spec", "begin", "epoch"])
        self.assertIn("sealed", self.check_output())

    def test_bad_status(self):
        with dnnprov.Task(self.config, task_id="s") as t:
            with self.assertRaises(ValueError):
                t.end("RUNNING")


class EndingTest(LogTestCase):

    def test_exception_fails_the_task_and_propagates(self):
        with self.assertRaisesRegex(ValueError, "bad batch"):
            with dnnprov.Task(self.config, HYPS, task_id="boom") as t:
                t.epoch(1, loss=1.0)
                raise ValueError("bad batch 17")
        self.assertTrue(t.closed)
        self.assertEqual(self.only("end"), {"kind": "end", "status": "FAILED",
                                            "message": "ValueError: bad batch 17", "task": "boom"})

    def test_exception_without_text(self):
        with self.assertRaises(RuntimeError):
            with dnnprov.Task(self.config, task_id="quiet"):
                raise RuntimeError()
        self.assertEqual(self.only("end")["message"], "RuntimeError")

    def test_keyboard_interrupt_kills_the_task(self):
        with self.assertRaises(KeyboardInterrupt):
            with dnnprov.Task(self.config, HYPS, task_id="ctrl-c") as t:
                raise KeyboardInterrupt
        self.assertTrue(t.closed)
        self.assertEqual(self.only("end"), {"kind": "end", "status": "KILLED",
                                            "message": "KeyboardInterrupt", "task": "ctrl-c"})

    def test_sys_exit(self):
        with self.assertRaises(SystemExit):
            with dnnprov.Task(self.config, task_id="exit0"):
                sys.exit(0)
        with self.assertRaises(SystemExit):
            with dnnprov.Task(self.config, task_id="exit2"):
                sys.exit(2)
        self.assertEqual(self.only("end", "exit0")["status"], "FINISHED")
        self.assertEqual(self.only("end", "exit2")["message"], "SystemExit: 2")

    def test_long_exception_text_is_cut(self):
        with self.assertRaises(ValueError):
            with dnnprov.Task(self.config, task_id="long"):
                raise ValueError("x" * 100000 + "\0")
        message = self.only("end")["message"]
        self.assertEqual(message, "ValueError: " + "x" * (4096 - len("ValueError: ")) + "...")

    def test_explicit_end_inside_with_is_not_repeated(self):
        with dnnprov.Task(self.config, task_id="early") as t:
            t.end("KILLED", "stopped by the scheduler")
        self.assertEqual(self.only("end")["status"], "KILLED")

    def test_a_failing_end_does_not_mask_the_exception(self):
        def end_fails(*args):
            raise dnnprov.Error(dnnprov.EIO, "cannot write: disk gone")
        with self.assertRaises(ZeroDivisionError):
            with dnnprov.Task(self.config, task_id="masked") as t:
                t.end = end_fails
                1 / 0
        self.assertTrue(t.closed)
        # Without an exception of its own, the block reports the failed end.
        with self.assertRaisesRegex(dnnprov.Error, "disk gone"):
            with dnnprov.Task(self.config, task_id="reported") as t:
                t.end = end_fails
        self.assertTrue(t.closed)
        self.assertEqual(self.records(kinds="end"), [])


class ValuesTest(LogTestCase):

    def test_numpy_and_torch_scalars(self):
        hyps = {"LEARNING_RATE": np.float32(0.5), "NUM_EPOCHS": np.int64(12),
                "BATCH_SIZE": np.array(32), "MOMENTUM": torch.tensor(0.25),
                "OPTIMIZER_NAME": np.str_("Adam"), "DECAY": np.bool_(False),
                "NUM_LAYERS": True, "seed": torch.tensor([3])}
        with dnnprov.Task(self.config, hyps, task_id="np") as t:
            w = torch.tensor(2.0, requires_grad=True)
            t.epoch(np.int32(1), elapsed=np.float64(1.5), loss=w * 0.25, accuracy=np.float16(0.5),
                    val_loss=np.array([0.125]), val_accuracy=np.uint8(1))
            t.test(loss=torch.tensor(float("nan")), accuracy=np.float64("-inf"))
            t.element("DenseBlock", "iDenseBlock", {"growth_rate": np.int16(-4), "layers_db": None,
                                                    "note": None})
        self.assertEqual(self.only("begin")["hyperparameters"],
                         {"LEARNING_RATE": 0.5, "NUM_EPOCHS": 12, "BATCH_SIZE": 32,
                          "MOMENTUM": 0.25, "OPTIMIZER_NAME": "Adam", "DECAY": 0,
                          "NUM_LAYERS": 1, "seed": 3})
        epoch = self.only("epoch")
        self.assertEqual((epoch["epoch"], epoch["elapsed"]), (1, 1.5))
        self.assertEqual(epoch["metrics"], {"loss": 0.5, "accuracy": 0.5, "val_loss": 0.125,
                                            "val_accuracy": 1})
        self.assertEqual(self.only("test")["metrics"], {"loss": "NaN", "accuracy": "-Infinity"})
        self.assertEqual(self.only("element")["values"],
                         {"growth_rate": -4, "layers_db": None, "note": None})

    def test_extreme_integers(self):
        with dnnprov.Task(self.config, task_id="ints") as t:
            t.epoch(2**63 - 1, loss=-2**63, accuracy=2**63 - 1)
            with self.assertRaisesRegex(OverflowError, "'loss'"):
                t.epoch(1, loss=2**63)
            with self.assertRaisesRegex(OverflowError, "epoch"):
                t.epoch(2**63, loss=1)
        epoch = self.only("epoch")
        self.assertEqual((epoch["epoch"], epoch["metrics"]),
                         (2**63 - 1, {"loss": -2**63, "accuracy": 2**63 - 1}))

    def test_bad_types_name_the_key(self):
        with dnnprov.Task(self.config, task_id="types") as t:
            for bad in ([0.5], {"a": 1}, object(), b"0.5", 1 + 2j, np.array([1.0, 2.0]),
                        torch.tensor([1.0, 2.0])):
                with self.subTest(bad=type(bad).__name__):
                    with self.assertRaisesRegex(TypeError, "metric 'val_loss'"):
                        t.epoch(1, loss=0.5, val_loss=bad)
            with self.assertRaisesRegex(TypeError, "attribute 'note'"):
                t.element("DenseBlock", "iDenseBlock", {"note": ["a"]})
            with self.assertRaisesRegex(TypeError, "attribute name 1 must be a str"):
                t.element("DenseBlock", "iDenseBlock", {1: 2})
            with self.assertRaisesRegex(TypeError, "layer 'fc'"):
                t.layers([("fc", "activation", object())])
            with self.assertRaises(TypeError):
                t.epoch(1.0, loss=0.5)
            with self.assertRaises(TypeError):
                t.adapt(2)
            with self.assertRaisesRegex(ValueError, "NUL"):
                t.element("DenseBlock", "iDenseBlock", {"note": "a\0b"})
        with self.assertRaisesRegex(TypeError, "hyperparameter 'LEARNING_RATE'"):
            dnnprov.Task(self.config, {"LEARNING_RATE": [0.1]}, task_id="types2")
        # Nothing was recorded by the refused calls, and the refused task
        # was not even opened.
        self.assertEqual([r["kind"] for r in self.records()], ["spec", "begin", "end"])
        self.assertEqual(os.listdir(os.path.join(self.log_dir, "py-df")), ["types"])


class LibraryErrorTest(LogTestCase):

    def test_a_task_id_with_a_slash(self):
        with self.assertRaises(dnnprov.InvalidArgumentError) as caught:
            dnnprov.Task(self.config, HYPS, task_id="a/b")
        e = caught.exception
        self.assertIsInstance(e, dnnprov.Error)
        self.assertIsInstance(e, ValueError)
        self.assertEqual(e.code, dnnprov.EINVAL)
        self.assertEqual(str(e), "task id 'a/b' has a path separator '/'")
        self.assertEqual(e.message, str(e))
        self.assertEqual(self.segments(), [])

    def test_text_for_a_numeric_hyperparameter(self):
        with self.assertRaises(dnnprov.ValueTypeError) as caught:
            dnnprov.Task(self.config, {"LEARNING_RATE": "fast"}, task_id="typed")
        e = caught.exception
        self.assertIsInstance(e, TypeError)
        self.assertEqual(e.code, dnnprov.ETYPE)
        self.assertEqual(str(e), "hyperparameter 'LEARNING_RATE' is numeric but was given a text value")
        self.assertEqual(self.records(kinds="begin"), [])

    def test_record_errors(self):
        with dnnprov.Task(self.config, task_id="errs") as t:
            with self.assertRaises(dnnprov.ValueTypeError) as caught:
                t.epoch(1, loss="high")
            self.assertEqual(str(caught.exception), "metric 'loss' must be numeric")
            with self.assertRaises(dnnprov.InvalidArgumentError) as caught:
                t.epoch(1, loss=1.0, Loss=2.0)
            self.assertEqual(str(caught.exception),
                             "metric 'Loss' is given twice (as 'loss' and 'Loss')")
            with self.assertRaises(dnnprov.InvalidArgumentError) as caught:
                t.element("DenseBlock", "oDenseBlock", {"x": 1})
            self.assertEqual(str(caught.exception),
                             f"transformation 'DenseBlock' has no set 'oDenseBlock' in {self.config}")
            with self.assertRaises(dnnprov.ValueTypeError) as caught:
                t.element("DenseBlock", "iDenseBlock", {"growth_rate": "twelve"})
            self.assertEqual(str(caught.exception),
                             "attribute 'growth_rate' is numeric but was given a text value")
        self.assertEqual(self.records(kinds="epoch,element"), [])

    def test_config_errors(self):
        bad = self.write_config("dataflow: x\nmetrcs: [loss]\n", "bad.yaml")
        with self.assertRaises(dnnprov.ConfigError) as caught:
            dnnprov.Task(bad)
        self.assertEqual(caught.exception.code, dnnprov.ECONFIG)
        self.assertRegex(str(caught.exception), r"^.*bad\.yaml:2:1: unknown key 'metrcs'")
        with self.assertRaises(dnnprov.Error) as caught:
            dnnprov.Task(os.path.join(self.dir, "none.yaml"))
        self.assertEqual(caught.exception.code, dnnprov.EIO)
        self.assertRegex(str(caught.exception), r"cannot read .*none\.yaml: No such file")

    def test_no_space_is_an_oserror(self):
        # RLIMIT_FSIZE makes the library fail with DNNPROV_ENOSPC (not SIGXFSZ).
        code = (
            "import resource, dnnprov\n"
            "t = dnnprov.Task(%r, task_id='full')\n"
            "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))\n"
            "try:\n"
            "    for i in range(1000): t.epoch(i, loss=float(i))\n"
            "except OSError as e:\n"
            "    print(type(e).__name__, e.code, e.errno)\n" % self.config)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        self.assertEqual(out.stdout, "NoSpaceError -4 None\n", out.stderr)

    def test_library_lookup(self):
        env = dict(os.environ, DNNPROV_LIB="/nonexistent/libdnnprov.so")
        out = subprocess.run([sys.executable, "-c", "import dnnprov"], env=env,
                             capture_output=True, text=True)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("ImportError: cannot load libdnnprov; looked at:", out.stderr)
        self.assertIn("/nonexistent/libdnnprov.so ($DNNPROV_LIB): no such file", out.stderr)

        # Without $DNNPROV_LIB, the build tree beside the package comes first.
        env = {k: v for k, v in os.environ.items() if k != "DNNPROV_LIB"}
        out = subprocess.run([sys.executable, "-c", "import dnnprov; print(dnnprov.library_path)"],
                             env=env, capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn(out.stdout.strip(), [os.path.join(REPO, build, "libdnnprov.so")
                                           for build in ("build", "build-asan")])


class ResumeTest(LogTestCase):

    def test_resume_by_id(self):
        first = dnnprov.Task(self.config, HYPS, task_id="long-run")
        first.epoch(1, loss=1.0)
        first.epoch(2, loss=0.5)
        first.close()  # a crash, as far as the logs know
        # Beginning it again is refused, and the log stays as it was.
        with self.assertRaises(dnnprov.StateError) as caught:
            dnnprov.Task(self.config, HYPS, task_id="long-run")
        self.assertIn("has already begun", str(caught.exception))
        self.assertIn("pass resume=True", str(caught.exception))
        self.assertEqual(len(self.segments()), 1)
        with dnnprov.Task(self.config, HYPS, task_id="long-run", resume=True) as again:
            again.epoch(3, loss=0.25)
        recs = self.records(task="long-run")
        self.assertEqual([r["kind"] for r in recs],
                         ["spec", "begin", "epoch", "epoch", "spec", "begin", "epoch", "end"])
        self.assertEqual([r["epoch"] for r in recs if r["kind"] == "epoch"], [1, 2, 3])
        second = recs[5]
        self.assertEqual((second["attempt"], second["resume"], second["hyperparameters"]),
                         (2, True, {}))
        self.assertEqual(len(self.segments()), 2)

    def test_rerun_of_a_finished_task_is_refused(self):
        with dnnprov.Task(self.config, HYPS, task_id="sgd-lr0.1") as t:
            t.epoch(1, loss=1.0)
        before = self.records()
        with self.assertRaises(dnnprov.StateError) as caught:
            dnnprov.Task(self.config, dict(HYPS, NUM_EPOCHS=3), task_id="sgd-lr0.1")
        self.assertEqual(caught.exception.code, dnnprov.ESTATE)
        self.assertIn("task 'sgd-lr0.1' of dataflow 'py-df' has already FINISHED", str(caught.exception))
        self.assertEqual(self.records(), before)

    def test_a_resumed_value_that_differs_is_an_adaptation(self):
        # A checkpoint restored after a learning-rate step: the task keeps
        # the rate it began with, and the restored one is an adaptation.
        with dnnprov.Task(self.config, HYPS, task_id="ckpt") as t:
            t.epoch(1, loss=1.0)
            t.epoch(2, loss=0.8)
        with dnnprov.Task(self.config, dict(HYPS, LEARNING_RATE=0.01), task_id="ckpt",
                          resume=True) as t:
            t.epoch(3, loss=0.5)
        adapt = self.only("adapt")
        self.assertEqual({k: adapt[k] for k in ("epoch", "hyperparameter", "old", "new")},
                         {"epoch": 3, "hyperparameter": "LEARNING_RATE", "old": 0.1, "new": 0.01})
        self.assertEqual(self.records(kinds="begin")[0]["hyperparameters"]["LEARNING_RATE"], 0.1)
        # resume_epoch says where, when the checkpoint is older than the log.
        with dnnprov.Task(self.config, dict(HYPS, LEARNING_RATE=0.001), task_id="ckpt",
                          resume=True, resume_epoch=2):
            pass
        self.assertEqual([(a["epoch"], a["old"], a["new"]) for a in self.records(kinds="adapt")],
                         [(3, 0.1, 0.01), (2, 0.01, 0.001)])

    def test_resume_of_a_new_task_begins_it(self):
        with dnnprov.Task(self.config, HYPS, task_id="fresh", resume=True):
            pass
        self.assertEqual(self.only("begin")["attempt"], 1)
        self.assertEqual(self.only("begin")["hyperparameters"]["LEARNING_RATE"], 0.1)

    def test_adding_records_without_beginning_again(self):
        with dnnprov.Task(self.config, HYPS, task_id="tested-later"):
            pass
        later = dnnprov.Task(self.config, task_id="tested-later", begin=False)
        later.test(loss=0.5)
        with self.assertRaises(dnnprov.StateError):
            later.epoch(9, loss=0.5)  # training records need a running task
        later.close()
        # Used as a context manager, a Task that did not begin never ends.
        with dnnprov.Task(self.config, task_id="tested-later", begin=False) as later:
            later.test(loss=0.25)
        self.assertEqual([r["kind"] for r in self.records()], ["spec", "begin", "end", "test", "test"])

    def test_records_before_begin_are_refused(self):
        t = dnnprov.Task(self.config, task_id="not-begun", begin=False)
        for record in (lambda: t.epoch(1, loss=1.0), lambda: t.test(loss=1.0),
                       lambda: t.adapt(1, LEARNING_RATE=0.1), lambda: t.end()):
            with self.assertRaisesRegex(dnnprov.StateError, "has not begun: begin it first"):
                record()
        t.close()
        self.assertEqual(self.segments(), [])
        self.assertFalse(os.path.exists(os.path.join(self.log_dir, "py-df", "not-begun")))

    def test_generated_id(self):
        with dnnprov.Task(self.config) as t:
            pass
        self.assertRegex(t.id, r"^\d{8}T\d{6}Z-.+-\d+")
        self.assertEqual(self.only("begin")["task"], t.id)
        with dnnprov.Task(self.config, label="adam-lr0.01") as u:
            pass
        self.assertRegex(u.id, r"^adam-lr0\.01-\d{8}T\d{6}Z-.+-\d+")
        self.assertNotEqual(t.id, u.id)
        with self.assertRaises(ValueError):
            dnnprov.Task(self.config, task_id="x", label="y")

    def test_a_second_live_writer_is_refused(self):
        with dnnprov.Task(self.config, HYPS, task_id="busy") as t:
            with self.assertRaises(dnnprov.LockedError) as caught:
                dnnprov.Task(self.config, task_id="busy", begin=False)
            self.assertIn("is being recorded by pid %d" % os.getpid(), str(caught.exception))
            code = "import dnnprov\ndnnprov.Task(%r, task_id='busy', resume=True)\n" % self.config
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
            self.assertIn("dnnprov.LockedError", out.stderr)
            t.epoch(1, loss=1.0)
        self.assertEqual([r["kind"] for r in self.records()], ["spec", "begin", "epoch", "end"])


class StrictTest(LogTestCase):

    def test_typos_are_refused(self):
        with dnnprov.Task(self.config, HYPS, task_id="typos") as t:
            with self.assertRaises(dnnprov.UndeclaredError) as caught:
                t.epoch(1, val_acc=0.9)
            self.assertIsInstance(caught.exception, ValueError)
            self.assertIn("metrics: loss, accuracy, val_loss, val_accuracy", str(caught.exception))
            with self.assertRaisesRegex(dnnprov.UndeclaredError, "declared as 'loss'"):
                t.epoch(1, LOSS=0.9)
            with self.assertRaisesRegex(dnnprov.UndeclaredError, "'drop_out' is not declared"):
                t.adapt(2, drop_out=0.1)
            with self.assertRaisesRegex(dnnprov.InvalidArgumentError, "elapsed"):
                t.epoch(1, elapsed=-1, loss=0.5)
            with self.assertRaisesRegex(dnnprov.InvalidArgumentError, "at least one metric"):
                t.test()
        with self.assertRaisesRegex(dnnprov.UndeclaredError, "'drop_out' is not declared"):
            dnnprov.Task(self.config, {"drop_out": 0.5}, task_id="typos2")
        self.assertEqual([r["kind"] for r in self.records()], ["spec", "begin", "end"])

    def test_hyperparameters_must_be_a_mapping(self):
        with self.assertRaisesRegex(TypeError, "must be a mapping"):
            dnnprov.Task(self.config, [("LEARNING_RATE", 1)], task_id="listed")
        self.assertEqual(self.segments(), [])

    def test_free_metrics_still_collide_ignoring_case(self):
        free = self.write_config(self.config_text + FREE_METRICS, "free.yaml")
        with dnnprov.Task(free, task_id="free", strict=True) as t:
            t.epoch(1, top5=0.5, loss=1.0)
            with self.assertRaisesRegex(dnnprov.UndeclaredError, "collides with 'top5'"):
                t.epoch(2, TOP5=0.5)
            with self.assertRaisesRegex(dnnprov.UndeclaredError, "declared as 'loss'"):
                t.epoch(2, Loss=0.5)


class ThreadsTest(LogTestCase):

    def test_threads_sharing_a_task(self):
        # One value array per handle: the lock must keep each call's values
        # together while ctypes runs the C call without the GIL.
        free = self.write_config(self.config_text + FREE_METRICS, "free.yaml")
        with dnnprov.Task(free, task_id="threads") as t:
            def work(k):
                for i in range(300):
                    n = k * 1000 + i
                    t.epoch(n, loss=float(n), accuracy=n / 2, **{f"thread{k}": k})
            threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
        epochs = self.records(kinds="epoch")
        self.assertEqual(len(epochs), 1200)
        for r in epochs:
            n = r["epoch"]
            self.assertEqual(r["metrics"], {"loss": n, "accuracy": n / 2,
                                            f"thread{n // 1000}": n // 1000})


    def test_close_while_another_thread_reads(self):
        # dataflow and log_dir reach the library: a close in another thread
        # must not free the config under them.
        for _ in range(50):
            t = dnnprov.Task(self.config, task_id="closing", begin=False)
            seen = []

            def read():
                for _ in range(200):
                    try:
                        seen.append((t.dataflow, t.log_dir))
                    except dnnprov.StateError:
                        seen.append("closed")
            reader = threading.Thread(target=read)
            reader.start()
            t.close()
            reader.join()
            self.assertEqual({x for x in seen} - {"closed"} - {("py-df", self.log_dir)}, set())

    def test_fork_while_another_thread_records(self):
        # A child forked while another thread is inside a call starts with
        # usable locks: it records into a segment of its own and exits.
        with dnnprov.Task(self.config, HYPS, task_id="forked") as t:
            stop = threading.Event()

            def record():
                i = 0
                while not stop.is_set():
                    i += 1
                    t.epoch(i, loss=float(i))
            worker = threading.Thread(target=record)
            worker.start()
            children = []
            try:
                for k in range(30):
                    pid = os.fork()
                    if pid == 0:
                        try:
                            t.test(loss=float(k))
                            os._exit(0 if t.dataflow == "py-df" else 1)
                        except BaseException:
                            os._exit(2)
                    children.append(pid)
            finally:
                stop.set()
                worker.join()
            deadline = time.monotonic() + 30
            hung = 0
            for pid in children:
                while True:
                    done, status = os.waitpid(pid, os.WNOHANG)
                    if done:
                        self.assertEqual(os.waitstatus_to_exitcode(status), 0)
                        break
                    if time.monotonic() > deadline:
                        hung += 1
                        os.kill(pid, 9)
                        os.waitpid(pid, 0)
                        break
                    time.sleep(0.01)
            self.assertEqual(hung, 0)
        self.assertEqual(len(self.records(kinds="test")), 30)


if __name__ == "__main__":
    unittest.main()
