"""dnnprov.keras.ProvenanceCallback, driven the way Keras' fit and evaluate
drive a callback, with a stand-in model: no Keras package exists here."""

import importlib.util
import os
import subprocess
import sys
import textwrap
import unittest

import dnnprov.keras
from support import LogTestCase


def relu(x):
    return x


def linear(x):
    return x


class Layer:
    def __init__(self, name, activation=None, rate=None):
        self.name = name
        if activation is not None:
            self.activation = activation
        if rate is not None:
            self.rate = rate


class Optimizer:
    def __init__(self, config, learning_rate):
        self._config = config
        self.learning_rate = learning_rate

    def get_config(self):
        return dict(self._config)


class Model:
    def __init__(self, optimizer):
        self.optimizer = optimizer
        self.layers = [Layer("conv_1", relu), Layer("dense_1", linear), Layer("dropout_1", rate=0.5),
                       Layer("flatten_1")]


class Variable:
    """Like a tf.Variable: no float(), a .numpy()."""

    def __init__(self, value):
        self.value = value

    def numpy(self):
        return self.value


class CallbackTest(LogTestCase):

    def fit(self, cb, model, epochs, logs, change_lr_at=None):
        """What Model.fit does to a callback, validation included."""
        cb.set_model(model)
        cb.set_params({"epochs": epochs, "steps": 10, "verbose": 0})
        cb.on_train_begin()
        for epoch in range(epochs):
            if epoch == change_lr_at:
                model.optimizer.learning_rate = model.optimizer.learning_rate / 2
            cb.on_epoch_begin(epoch)
            cb.on_test_end({"loss": 9.0})  # validation inside fit: not a test
            cb.on_epoch_end(epoch, logs[epoch])
        cb.on_train_end()

    def test_sgd_fit_then_evaluate(self):
        cb = dnnprov.keras.ProvenanceCallback(config=self.config, hyperparameters={"seed": 3},
                                              task_id="keras-sgd")
        cb.on_test_end({"loss": 1.0})  # evaluate before any fit: no task, nothing recorded
        model = Model(Optimizer({"name": "SGD", "learning_rate": 0.01, "momentum": 0.9,
                                 "decay": 1e-6, "nesterov": False}, 0.01))
        logs = [{"loss": 1.0 / (e + 1), "accuracy": 0.5 + e / 10, "val_loss": 2.0,
                 "val_accuracy": 0.25} for e in range(3)]
        self.fit(cb, model, 3, logs, change_lr_at=1)
        cb.on_test_end({"loss": 0.125, "accuracy": 0.875})  # model.evaluate afterwards

        recs = self.records()
        self.assertEqual([r["kind"] for r in recs],
                         ["spec", "begin", "layers", "epoch", "adapt", "epoch", "epoch", "end",
                          "test"])
        self.assertEqual(recs[1]["task"], "keras-sgd")
        self.assertEqual(recs[1]["hyperparameters"], {
            "OPTIMIZER_NAME": "SGD", "LEARNING_RATE": 0.01, "DECAY": 1e-6, "MOMENTUM": 0.9,
            "NUM_EPOCHS": 3, "NUM_LAYERS": 4, "seed": 3})
        self.assertEqual(recs[2]["layers"], [
            {"name": "conv_1", "kind": "activation", "value": "relu"},
            {"name": "dropout_1", "kind": "dropout", "value": 0.5}])
        self.assertEqual([(r["epoch"], r["metrics"]) for r in recs if r["kind"] == "epoch"],
                         [(e + 1, logs[e]) for e in range(3)])
        self.assertEqual({k: recs[4][k] for k in ("epoch", "old", "new")},
                         {"epoch": 2, "old": 0.01, "new": 0.005})
        self.assertEqual(recs[7]["status"], "FINISHED")
        self.assertEqual(recs[8]["metrics"], {"loss": 0.125, "accuracy": 0.875})

    def test_adam_config_of_old_keras(self):
        # Keras 2.2 spelled it `lr` and had no momentum: beta_1 stands in;
        # a missing decay is 0; the rate is a variable read with .numpy().
        cb = dnnprov.keras.ProvenanceCallback(self.config, task_id="keras-adam")
        model = Model(Optimizer({"name": "Adam", "lr": 0.001, "beta_1": 0.85, "beta_2": 0.999},
                                None))
        del model.optimizer.learning_rate
        model.optimizer.lr = Variable(0.001)
        cb.set_model(model)
        cb.set_params({"epochs": 2, "batch_size": 32})
        cb.on_train_begin()
        cb.on_epoch_begin(0)
        cb.on_epoch_end(0, {"loss": 0.5})
        model.optimizer.lr = Variable(0.0001)
        cb.on_epoch_begin(1)
        cb.on_epoch_end(1, {"loss": 0.25})
        cb.on_train_end()
        self.assertEqual(self.only("begin")["hyperparameters"], {
            "OPTIMIZER_NAME": "Adam", "LEARNING_RATE": 0.001, "DECAY": 0, "MOMENTUM": 0.85,
            "NUM_EPOCHS": 2, "BATCH_SIZE": 32, "NUM_LAYERS": 4})
        adapt = self.only("adapt")
        self.assertEqual((adapt["epoch"], adapt["old"], adapt["new"]), (2, 0.001, 0.0001))

    def test_keras_is_imported_only_when_used(self):
        # A stand-in `keras` package that says when it is imported: the
        # module must not import it, the class must derive from its Callback.
        fake = os.path.join(self.dir, "fake")
        os.makedirs(os.path.join(fake, "keras"))
        with open(os.path.join(fake, "keras", "__init__.py"), "w") as f:
            f.write(textwrap.dedent("""\
                print("keras imported")
                class _Callbacks:
                    class Callback:
                        def __init__(self):
                            self.model = None
                callbacks = _Callbacks
                """))
        code = textwrap.dedent("""\
            import sys
            import dnnprov.keras
            print("module loaded;", "keras" in sys.modules)
            import keras
            cls = dnnprov.keras.ProvenanceCallback
            print(issubclass(cls, keras.callbacks.Callback), cls.__name__, cls.__module__)
            """)
        env = dict(os.environ, PYTHONPATH=fake + os.pathsep + os.environ.get("PYTHONPATH", ""))
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
        self.assertEqual(out.stdout, "module loaded; False\nkeras imported\n"
                                     "True ProvenanceCallback dnnprov.keras\n", out.stderr)

    @unittest.skipIf(importlib.util.find_spec("keras"), "Keras is installed")
    def test_without_keras_it_is_a_plain_object(self):
        cls = dnnprov.keras.ProvenanceCallback
        self.assertEqual(cls.__mro__[-2].__name__, "_PlainCallback")
        self.assertIn("ProvenanceCallback", dnnprov.keras.__dict__)


if __name__ == "__main__":
    unittest.main()
