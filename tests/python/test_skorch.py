"""dnnprov.skorch.ProvenanceCallback on a real skorch net (python3-skorch):
the hyperparameters the config selects, the history as epochs, learning-rate
steps of an LRScheduler as adaptations, the end, a test after the fit."""

import numpy
import skorch
import skorch.callbacks
import torch

import dnnprov
import dnnprov.skorch
from support import LogTestCase

SKORCH_CONFIG = """\
dataflow: skorch-df
hyperparameters:
  OPTIMIZER_NAME: true
  LEARNING_RATE: true
  NUM_EPOCHS: true
  BATCH_SIZE: true
  NUM_LAYERS: true
  LR_SCHEDULER: text
metrics: [train_loss, valid_loss, valid_acc, accuracy]
val_metrics: false
adaptation: true
"""


class Module(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = torch.nn.Linear(8, 16)
        self.relu = torch.nn.ReLU()
        self.out = torch.nn.Linear(16, 3)

    def forward(self, x):
        return self.out(self.relu(self.hidden(x)))


class SkorchTest(LogTestCase):
    config_text = SKORCH_CONFIG

    def test_a_fit_is_a_task(self):
        torch.manual_seed(0)
        rng = numpy.random.RandomState(0)
        x = rng.randn(120, 8).astype("float32")
        y = (x[:, 0] > 0).astype("int64") + (x[:, 1] > 0).astype("int64")
        cb = dnnprov.skorch.ProvenanceCallback(self.config, label="skorch")
        net = skorch.NeuralNetClassifier(
            Module, max_epochs=4, lr=0.1, batch_size=32, optimizer=torch.optim.SGD,
            criterion=torch.nn.CrossEntropyLoss, verbose=0,
            callbacks=[skorch.callbacks.LRScheduler(policy="StepLR", step_size=2, gamma=0.5), cb])
        net.fit(x, y)
        cb.test(accuracy=float(net.score(x, y)))

        begin = self.only("begin")
        self.assertRegex(begin["task"], r"^skorch-")
        self.assertEqual(begin["hyperparameters"], {
            "OPTIMIZER_NAME": "SGD", "LEARNING_RATE": 0.1, "NUM_EPOCHS": 4, "BATCH_SIZE": 32, "NUM_LAYERS": 2,
            "LR_SCHEDULER": "StepLR"})
        self.assertEqual(self.only("layers")["layers"], [{"name": "relu", "kind": "activation", "value": "ReLU"}])
        epochs = self.records(kinds="epoch")
        self.assertEqual([r["epoch"] for r in epochs], [1, 2, 3, 4])
        for r, row in zip(epochs, net.history):
            self.assertEqual(set(r["metrics"]), {"train_loss", "valid_loss", "valid_acc"})
            self.assertAlmostEqual(r["metrics"]["valid_loss"], row["valid_loss"])
            self.assertAlmostEqual(r["elapsed"], row["dur"])
        # StepLR at every epoch's end, step 2: epoch 3 is the first at 0.05.
        self.assertEqual([(a["epoch"], a["new"]) for a in self.records(kinds="adapt")], [(3, 0.05)])
        kinds = [r["kind"] for r in self.records()]
        self.assertEqual(kinds[-2:], ["end", "test"])
        self.assertEqual(self.only("end")["status"], "FINISHED")
        self.assertEqual(set(self.only("test")["metrics"]), {"accuracy"})

    def test_clone_keeps_the_arguments(self):
        # sklearn's clone (a grid search) rebuilds the callback from its
        # parameters.
        from sklearn.base import clone
        cb = dnnprov.skorch.ProvenanceCallback(self.config, {"seed": 1}, label="x")
        net = skorch.NeuralNetClassifier(Module, callbacks=[cb], verbose=0)
        copy = clone(net).callbacks[0]
        self.assertEqual((copy.config, copy.hyperparameters, copy.label), (self.config, {"seed": 1}, "x"))


if __name__ == "__main__":
    import unittest
    unittest.main()
