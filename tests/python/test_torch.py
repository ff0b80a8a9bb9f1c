"""dnnprov.torch.Recorder on a tiny model: the hyperparameter mapping for SGD
and Adam, layer facts, learning-rate changes as adaptations, endings."""

import subprocess
import unittest
from collections import OrderedDict

import torch

import dnnprov
import dnnprov.torch
from support import DNNPROV, LogTestCase


def tiny_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(OrderedDict(
        fc1=torch.nn.Linear(4, 8),
        act=torch.nn.ReLU(),
        drop=torch.nn.Dropout(0.25),
        block=torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.GELU(), torch.nn.BatchNorm1d(8)),
        out=torch.nn.Linear(8, 3),
        soft=torch.nn.Softmax(dim=1),
    ))


def train_step(model, optimizer):
    optimizer.zero_grad()
    x = torch.randn(16, 4)
    loss = model(x).sum() * 0
    loss.backward()
    optimizer.step()
    return loss


class MappingTest(unittest.TestCase):

    def test_sgd(self):
        model = tiny_model()
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
        self.assertEqual(dnnprov.torch.optimizer_hyperparameters(opt),
                         {"OPTIMIZER_NAME": "SGD", "LEARNING_RATE": 0.1, "DECAY": 1e-4,
                          "MOMENTUM": 0.9})

    def test_adam_family_uses_beta1(self):
        model = tiny_model()
        for cls in (torch.optim.Adam, torch.optim.AdamW):
            opt = cls(model.parameters(), lr=0.01, betas=(0.8, 0.99))
            values = dnnprov.torch.optimizer_hyperparameters(opt)
            self.assertEqual((values["OPTIMIZER_NAME"], values["MOMENTUM"]), (cls.__name__, 0.8))

    def test_neither_momentum_nor_betas(self):
        opt = torch.optim.Adagrad(tiny_model().parameters(), lr=0.5)
        self.assertEqual(dnnprov.torch.optimizer_hyperparameters(opt),
                         {"OPTIMIZER_NAME": "Adagrad", "LEARNING_RATE": 0.5, "DECAY": 0,
                          "MOMENTUM": 0})

    def test_layers(self):
        model = tiny_model()
        # fc1, block.0, block.2 (BatchNorm), out: leaf modules with parameters.
        self.assertEqual(dnnprov.torch.count_layers(model), 4)
        self.assertEqual(dnnprov.torch.layer_facts(model), [
            ("act", "activation", "ReLU"), ("drop", "dropout", 0.25),
            ("block.1", "activation", "GELU"), ("soft", "activation", "Softmax")])
        self.assertEqual(dnnprov.torch.layer_facts(torch.nn.Tanh()), [("Tanh", "activation", "Tanh")])


class RecorderTest(LogTestCase):

    def test_sgd_with_a_scheduler(self):
        model = tiny_model()
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
        rec = dnnprov.torch.Recorder(config=self.config, model=model, optimizer=opt,
                                     scheduler=sched, epochs=5, batch_size=16,
                                     hyperparameters={"seed": 1}, task_id="sgd")
        rates = {}
        with rec:
            self.assertEqual(rec.id, "sgd")
            for epoch in range(1, 6):
                rec.epoch_begin(epoch)
                rates[epoch] = opt.param_groups[0]["lr"]
                loss = train_step(model, opt)
                rec.epoch_end(epoch, loss=loss, accuracy=epoch / 10)
                sched.step()
            rec.test(loss=torch.tensor(0.5), accuracy=0.75)

        self.assertEqual(self.only("begin")["hyperparameters"], {
            "OPTIMIZER_NAME": "SGD", "LEARNING_RATE": 0.1, "DECAY": 1e-4, "MOMENTUM": 0.9,
            "NUM_EPOCHS": 5, "BATCH_SIZE": 16, "NUM_LAYERS": 4, "LR_SCHEDULER": "StepLR",
            "seed": 1})
        self.assertEqual(self.only("layers")["layers"], [
            {"name": "act", "kind": "activation", "value": "ReLU"},
            {"name": "drop", "kind": "dropout", "value": 0.25},
            {"name": "block.1", "kind": "activation", "value": "GELU"},
            {"name": "soft", "kind": "activation", "value": "Softmax"}])
        adapts = [(r["epoch"], r["old"], r["new"], r["id"]) for r in self.records(kinds="adapt")]
        self.assertEqual(adapts, [(3, 0.1, rates[3], 1), (5, rates[3], rates[5], 2)])
        self.assertEqual((rates[3], rates[5]), (0.05, 0.025))
        epochs = self.records(kinds="epoch")
        self.assertEqual([(r["epoch"], r["metrics"]) for r in epochs],
                         [(e, {"loss": 0.0, "accuracy": e / 10}) for e in range(1, 6)])
        for r in epochs:  # measured from epoch_begin to epoch_end
            self.assertGreater(r["elapsed"], 0)
            self.assertLess(r["elapsed"], 5)
        self.assertEqual(self.only("test")["metrics"], {"loss": 0.5, "accuracy": 0.75})
        self.assertEqual(self.only("end")["status"], "FINISHED")

    def test_adam_and_a_manual_change(self):
        model = tiny_model()
        opt = torch.optim.Adam(model.parameters(), lr=0.01)
        with dnnprov.torch.Recorder(self.config, model, opt, task_id="adam") as rec:
            rec.epoch_begin(1)
            rec.epoch_end(1, loss=1.0)
            rec.epoch_begin(2)  # unchanged: nothing recorded
            rec.epoch_end(2, loss=0.5)
            opt.param_groups[0]["lr"] = 0.001
            rec.epoch_begin(3)
            rec.epoch_end(3, elapsed=7.5, loss=0.25)
        self.assertEqual(self.only("begin")["hyperparameters"], {
            "OPTIMIZER_NAME": "Adam", "LEARNING_RATE": 0.01, "DECAY": 0, "MOMENTUM": 0.9,
            "NUM_LAYERS": 4})
        adapt = self.only("adapt")
        self.assertEqual((adapt["epoch"], adapt["hyperparameter"], adapt["old"], adapt["new"]),
                         (3, "LEARNING_RATE", 0.01, 0.001))
        self.assertEqual(self.records(kinds="epoch")[2]["elapsed"], 7.5)

    def test_user_values_win(self):
        model = tiny_model()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        rec = dnnprov.torch.Recorder(self.config, model, opt,
                                     hyperparameters={"OPTIMIZER_NAME": "SGD+warmup"})
        self.assertEqual(rec.hyperparameters()["OPTIMIZER_NAME"], "SGD+warmup")

    def test_a_failing_training(self):
        model = tiny_model()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        with self.assertRaisesRegex(RuntimeError, "out of memory"):
            with dnnprov.torch.Recorder(self.config, model, opt, task_id="oom") as rec:
                rec.epoch_begin(1)
                raise RuntimeError("CUDA out of memory")
        self.assertTrue(rec.task.closed)
        end = self.only("end")
        self.assertEqual((end["status"], end["message"]),
                         ("FAILED", "RuntimeError: CUDA out of memory"))

    def test_resume_from_a_checkpoint_after_a_plateau_step(self):
        # The first process trains 3 epochs, ReduceLROnPlateau cuts the rate,
        # a checkpoint is saved, the process dies.  The second loads it and
        # resumes: the task keeps LEARNING_RATE 0.1, and the restored 0.01
        # is an adaptation at the resume epoch.
        model = tiny_model()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.1, patience=0)
        rec = dnnprov.torch.Recorder(self.config, model, opt, task_id="ckpt").begin()
        for epoch in range(1, 4):
            rec.epoch_begin(epoch)
            rec.epoch_end(epoch, loss=1.0)
            sched.step(1.0)
        checkpoint = {"model": model.state_dict(), "optimizer": opt.state_dict()}
        rec.task.close()  # the process died: no end

        model2 = tiny_model()
        opt2 = torch.optim.SGD(model2.parameters(), lr=0.1)
        opt2.load_state_dict(checkpoint["optimizer"])
        self.assertAlmostEqual(dnnprov.torch.learning_rate(opt2), 0.001)
        with self.assertRaises(dnnprov.StateError):
            dnnprov.torch.Recorder(self.config, model2, opt2, task_id="ckpt").begin()
        with dnnprov.torch.Recorder(self.config, model2, opt2, task_id="ckpt", resume=True) as rec2:
            rec2.epoch_begin(4)
            rec2.epoch_end(4, loss=0.5)
        begins = self.records(kinds="begin")
        self.assertEqual(begins[0]["hyperparameters"]["LEARNING_RATE"], 0.1)
        self.assertEqual((begins[1]["resume"], begins[1]["attempt"]), (True, 2))
        adapts = [(a["epoch"], a["old"], a["new"]) for a in self.records(kinds="adapt")]
        # The second plateau step applied to epoch 3 (seen at its
        # epoch_begin); the third came after epoch 3 was recorded, and only
        # the checkpoint knows it: the resume records it at epoch 4.
        self.assertEqual([e for e, _, _ in adapts], [3, 4])
        self.assertAlmostEqual(adapts[0][1], 0.1)
        self.assertAlmostEqual(adapts[1][1], 0.01)
        self.assertAlmostEqual(adapts[1][2], 0.001)

    def test_resume_with_another_rate_is_an_adaptation(self):
        model = tiny_model()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        with dnnprov.torch.Recorder(self.config, model, opt, task_id="r") as rec:
            rec.epoch_begin(1)
            rec.epoch_end(1, loss=1.0)
        opt.param_groups[0]["lr"] = 0.02  # a checkpoint taken after a step, say
        with dnnprov.torch.Recorder(self.config, model, opt, task_id="r", resume=True) as rec:
            rec.epoch_begin(2)
            rec.epoch_end(2, loss=0.5)
        adapt = self.only("adapt")
        self.assertEqual((adapt["epoch"], adapt["old"], adapt["new"]), (2, 0.1, 0.02))

    def test_label_and_element(self):
        model = tiny_model()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        with dnnprov.torch.Recorder(self.config, model, opt, label="sgd") as rec:
            self.assertRegex(rec.id, r"^sgd-\d{8}T\d{6}Z-")
            self.assertIs(rec.task.id, rec.id)
            rec.element("DenseBlock", "iDenseBlock", {"growth_rate": 12, "layers_db": 3})
        self.assertEqual(self.only("element")["values"], {"growth_rate": 12, "layers_db": 3})

    def test_only_rank_0_records(self):
        code = (
            "import os, sys, torch.distributed as dist, dnnprov.torch, torch\n"
            "dist.init_process_group('gloo', init_method='tcp://127.0.0.1:%d', rank=int(sys.argv[1]), world_size=2)\n"
            "m = torch.nn.Linear(2, 2); opt = torch.optim.SGD(m.parameters(), lr=0.1)\n"
            "with dnnprov.torch.Recorder(%r, m, opt, task_id='dist') as rec:\n"
            "    rec.epoch_begin(1); rec.epoch_end(1, loss=float(sys.argv[1]))\n"
            "dist.destroy_process_group()\n")
        import socket
        import subprocess
        import sys
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        procs = [subprocess.Popen([sys.executable, "-c", code % (port, self.config), str(rank)],
                                  stderr=subprocess.PIPE, text=True) for rank in (0, 1)]
        for p in procs:
            _, err = p.communicate(timeout=120)
            self.assertEqual(p.returncode, 0, err)
        epochs = self.records(kinds="epoch")
        self.assertEqual([r["metrics"] for r in epochs], [{"loss": 0.0}])

    def test_without_with(self):
        model = tiny_model()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        rec = dnnprov.torch.Recorder(self.config, model, opt, task_id="plain").begin()
        rec.epoch_begin(1)
        rec.epoch_end(1, loss=1.0)
        rec.end("KILLED", "preempted")
        rec.close()
        self.assertEqual(self.only("end")["status"], "KILLED")


TWO_GROUPS = "  LEARNING_RATE_1: numeric\n  MOMENTUM_1: numeric\n"


def batches(model, opt, n, sched=None):
    """n optimizer steps (a scheduler stepped after each, when given)."""
    for _ in range(n):
        train_step(model, opt)
        if sched is not None:
            sched.step()


class RecorderRulesTest(LogTestCase):
    """The Recorder misses no adaptation, whichever hooks a loop calls, and
    keeps what it records after the `with` block."""

    def adapts(self, name="LEARNING_RATE"):
        return [(r["epoch"], r["new"]) for r in self.records(kinds="adapt") if r["hyperparameter"] == name]

    def step_lr_run(self, order):
        model = tiny_model()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
        with dnnprov.torch.Recorder(self.config, model, opt, sched, label=order) as rec:
            for epoch in range(1, 7):
                if order == "both":
                    rec.epoch_begin(epoch)
                batches(model, opt, 3)
                if order == "step-then-end":
                    sched.step()
                    rec.epoch_end(epoch, loss=1.0)
                else:
                    rec.epoch_end(epoch, loss=1.0)
                    sched.step()
        return rec.id

    def test_epoch_end_alone_sees_every_step_lr_change(self):
        # StepLR halves the rate after epochs 2, 4 and 6: epochs 3 and 5 are
        # the first to use the new rates, and the change after the last
        # epoch is recorded at its end, at epoch 7.  Where the scheduler
        # steps relative to epoch_end, and whether epoch_begin is called,
        # does not matter.
        for order in ("step-then-end", "end-then-step", "both"):
            task = self.step_lr_run(order)
            adapts = [(r["epoch"], r["new"]) for r in self.records(task=task, kinds="adapt")]
            self.assertEqual(adapts, [(3, 0.05), (5, 0.025), (7, 0.0125)], order)
            self.assertEqual(self.only("end", task=task)["status"], "FINISHED")
        subprocess.run([DNNPROV, "index", "-c", self.config, "-q"], check=True)
        curve = dnnprov.curve(self.config, task)
        self.assertIn("LEARNING_RATE", list(curve.columns))
        self.assertEqual(list(curve["LEARNING_RATE"]), [0.1, 0.1, 0.05, 0.05, 0.025, 0.025])

    def test_reduce_lr_on_plateau(self):
        model = tiny_model()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.1, patience=0)
        with dnnprov.torch.Recorder(self.config, model, opt, sched, task_id="plateau") as rec:
            for epoch in range(1, 5):
                batches(model, opt, 2)
                sched.step(1.0)  # no better: the rate drops from the second step on
                rec.epoch_end(epoch, val_loss=1.0)
        got = self.adapts()
        self.assertEqual([e for e, _ in got], [3, 4, 5])
        for (_, new), want in zip(got, (0.01, 0.001, 0.0001)):
            self.assertAlmostEqual(new, want)

    def test_one_cycle_per_batch(self):
        # OneCycleLR steps every batch and cycles the momentum too: each
        # epoch shows the values its first batch used.
        model = tiny_model()
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0, epochs=3, steps_per_epoch=4)
        first = {}
        with dnnprov.torch.Recorder(self.config, model, opt, sched, task_id="onecycle") as rec:
            for epoch in range(1, 4):
                first[epoch] = (opt.param_groups[0]["lr"], opt.param_groups[0]["momentum"])
                batches(model, opt, 4, sched)
                rec.epoch_end(epoch, loss=1.0)
        after = (opt.param_groups[0]["lr"], opt.param_groups[0]["momentum"])
        self.assertEqual(self.only("begin")["hyperparameters"]["LEARNING_RATE"], first[1][0])
        self.assertEqual(self.adapts(), [(2, first[2][0]), (3, first[3][0]), (4, after[0])])
        self.assertEqual(self.adapts("MOMENTUM"), [(2, first[2][1]), (3, first[3][1]), (4, after[1])])

    def test_every_param_group(self):
        two = self.write_config(self.config_text.replace("  seed: numeric\n", "  seed: numeric\n" + TWO_GROUPS),
                                "two.yaml")
        model = tiny_model()
        head = list(model.out.parameters())
        body = [p for n, p in model.named_parameters() if not n.startswith("out.")]
        opt = torch.optim.SGD([{"params": body}, {"params": head, "lr": 0.01, "momentum": 0.5}],
                              lr=0.1, momentum=0.9)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.1)
        with dnnprov.torch.Recorder(two, model, opt, sched, task_id="groups") as rec:
            for epoch in (1, 2):
                batches(model, opt, 1)
                rec.epoch_end(epoch, loss=1.0)
                if epoch == 1:
                    sched.step()
        begin = self.only("begin")["hyperparameters"]
        self.assertEqual((begin["LEARNING_RATE"], begin["LEARNING_RATE_1"], begin["MOMENTUM_1"]),
                         (0.1, 0.01, 0.5))
        got = [(r["epoch"], r["hyperparameter"], round(r["new"], 12)) for r in self.records(kinds="adapt")]
        self.assertEqual(got, [(2, "LEARNING_RATE", 0.01), (2, "LEARNING_RATE_1", 0.001)])

    def test_test_after_the_block(self):
        # Train inside, evaluate after: the most common PyTorch layout.
        model = tiny_model()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        with dnnprov.torch.Recorder(self.config, model, opt, task_id="after") as rec:
            batches(model, opt, 1)
            rec.epoch_end(1, loss=1.0)
        rec.test(loss=0.5, accuracy=0.8)
        rec.tag(stage="evaluated")
        kinds = [r["kind"] for r in self.records()]
        self.assertEqual(kinds[-3:], ["end", "test", "tag"])
        self.assertEqual(self.only("test")["metrics"], {"loss": 0.5, "accuracy": 0.8})
        self.assertEqual(self.only("end")["status"], "FINISHED")
        # The optimizer is its own again.
        self.assertNotIn("step", opt.__dict__)

    def test_the_config_selects_what_is_derived(self):
        # Keras-Prov's seven plus a scheduler, in a file that declares only
        # some: what it does not declare is not captured, and no error.
        few = self.write_config("dataflow: few\nhyperparameters:\n  LEARNING_RATE: true\n  OPTIMIZER_NAME: true\n"
                                "metrics: [loss]\nadaptation: true\n", "few.yaml")
        model = tiny_model()
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
        with dnnprov.torch.Recorder(few, model, opt, sched, epochs=2, batch_size=8, task_id="few") as rec:
            for epoch in (1, 2):
                batches(model, opt, 1)
                rec.epoch_end(epoch, loss=1.0)
                sched.step()
        self.assertEqual(self.only("begin")["hyperparameters"], {"OPTIMIZER_NAME": "SGD", "LEARNING_RATE": 0.1})
        self.assertEqual(self.records(kinds="refused"), [])
        self.assertEqual(self.adapts(), [(2, 0.05), (3, 0.025)])
        # A name the user passes is still checked: it can be a typo.
        with self.assertRaisesRegex(dnnprov.UndeclaredError, "'seed' is not declared"):
            dnnprov.torch.Recorder(few, model, opt, hyperparameters={"seed": 1}, task_id="typo").begin()


if __name__ == "__main__":
    unittest.main()
