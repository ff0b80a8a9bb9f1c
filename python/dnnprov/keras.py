"""Recording a Keras training: dnnprov.keras.ProvenanceCallback.

    cb = ProvenanceCallback(config="exp.yaml")
    model.fit(x, y, epochs=10, validation_data=(xv, yv), callbacks=[scheduler, cb])
    model.evaluate(xt, yt, callbacks=[cb])

It does what Keras-Prov's patched Keras did, from a callback:

- on_train_begin opens a task (one per fit) with the hyperparameters
  Keras-Prov read:

      OPTIMIZER_NAME  optimizer.get_config()["name"]
      LEARNING_RATE   get_config()["learning_rate"] (or "lr"; the current
                      rate when the config holds a schedule)
      DECAY           get_config()["decay"], 0 when absent
      MOMENTUM        get_config()["momentum"], else "beta_1", else 0
      NUM_EPOCHS      params["epochs"]
      BATCH_SIZE      params["batch_size"], when Keras gives it
      NUM_LAYERS      len(model.layers)

  plus the `hyperparameters=` given (which win), and the layer facts: (name,
  "activation", function name) for each layer with a non-linear
  `activation`, (name, "dropout", rate) for each layer with a `rate`.
- on_epoch_begin records a changed learning rate (optimizer.learning_rate or
  .lr, read with float() or .numpy()) as an adaptation.  Keras runs callbacks
  in list order, so put this one after a LearningRateScheduler to see its
  change in the epoch it applies to.
- on_epoch_end records the logs as the epoch's metrics; Keras counts epochs
  from 0, dnnprov from 1 (epoch + 1 is recorded).
- on_train_end ends the task FINISHED.  A fit that raises never reaches it:
  that task stays RUNNING, as a crashed run would.
- on_test_end records the logs as test metrics, but only for an evaluate()
  after a fit with this callback: Keras also runs the test hooks for the
  validation inside fit, which are not tests, and an evaluate() before any
  fit has no task to belong to.  Since the task has ended by then, the test
  record is added by reopening the task without beginning it again: it
  follows the end record in the log, and the task stays FINISHED.

provenance(model, dataflow_tag=..., adaptation=True, hyps={...}) is
Keras-Prov's entry point, model.provenance(...) of its patched Keras, for an
unpatched one: it adds this callback to every fit and evaluate of the model.

Keras is imported only when ProvenanceCallback is first used, never when
this module is imported.  When Keras is installed the class derives from
keras.callbacks.Callback; otherwise it is a plain object with the same
methods (set_params, set_model and the hooks above), which is how the tests
drive it with a stand-in model on machines without Keras.
"""

import functools
import json
import os
import sys

from ._lazy import lazy_class
from .task import Task


_NOT_METRICS = ("lr", "learning_rate")


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def current_learning_rate(optimizer):
    """The optimizer's learning rate now, as a float (None if it has none)."""
    lr = getattr(optimizer, "learning_rate", None)
    if lr is None:
        lr = getattr(optimizer, "lr", None)
    if lr is None:
        return None
    if callable(lr) and not hasattr(lr, "numpy"):  # a LearningRateSchedule
        lr = lr(optimizer.iterations)
    try:
        return float(lr)
    except TypeError:
        return float(lr.numpy())


def optimizer_hyperparameters(optimizer):
    """OPTIMIZER_NAME, LEARNING_RATE, DECAY and MOMENTUM from get_config()."""
    config = optimizer.get_config()
    lr = config.get("learning_rate", config.get("lr"))
    if not _number(lr):
        lr = current_learning_rate(optimizer)
    momentum = config.get("momentum")
    if momentum is None:
        momentum = config.get("beta_1")
    return {
        "OPTIMIZER_NAME": config.get("name", type(optimizer).__name__),
        "LEARNING_RATE": lr,
        "DECAY": config.get("decay") or 0,
        "MOMENTUM": momentum if momentum is not None else 0,
    }


def layer_facts(model):
    """(name, kind, value) for each activation and dropout layer."""
    facts = []
    for layer in model.layers:
        activation = getattr(layer, "activation", None)
        name = getattr(activation, "__name__", None)
        if name and name != "linear":  # linear is Keras' "no activation"
            facts.append((layer.name, "activation", name))
        rate = getattr(layer, "rate", None)
        if _number(rate):
            facts.append((layer.name, "dropout", float(rate)))
    return facts


class _Recording:
    """Keras callback recording each fit as a dnnprov task (see the module
    docstring).  `config` is the experiment file; `hyperparameters` are
    added to those read from the model.  Each fit is a new task with its own
    id (`label`, the time, host and pid); `task_id` names one instead, and
    each fit with the same id resumes it (a new attempt of the same run)."""

    def __init__(self, config, hyperparameters=None, task_id=None, *, label=None, facts=None, captured=None):
        super().__init__()
        self.config = config
        # The built-in hyperparameters to record (None: every one the
        # config selects), as Keras-Prov's `hyps` chose them.
        self.captured = None if captured is None else set(captured)
        self.facts = dict(facts or {})
        self.extra_hyperparameters = dict(hyperparameters or {})
        self.task_id = task_id
        self.label = label
        self.task = None
        self._training = False
        self._lr = None

    def on_train_begin(self, logs=None):
        values = optimizer_hyperparameters(self.model.optimizer)
        values["NUM_EPOCHS"] = self.params["epochs"]
        if self.params.get("batch_size") is not None:
            values["BATCH_SIZE"] = self.params["batch_size"]
        values["NUM_LAYERS"] = len(self.model.layers)
        if self.captured is not None:
            values = {k: v for k, v in values.items() if k in self.captured}
        # What the model says is captured where the experiment file selects
        # it; the user's names are checked (a typo is refused).
        self.task = Task(self.config, self.extra_hyperparameters, self.task_id, label=self.label,
                         resume=self.task_id is not None, facts=self.facts, derived=values)
        self._training = True
        facts = layer_facts(self.model)
        if facts:
            self.task.layers(facts)
        self._lr = current_learning_rate(self.model.optimizer)

    def on_epoch_begin(self, epoch, logs=None):
        lr = current_learning_rate(self.model.optimizer)
        if lr is not None and lr != self._lr:
            self.task.adapt(epoch + 1, LEARNING_RATE=lr)
            self._lr = lr

    def on_epoch_end(self, epoch, logs=None):
        # Keras puts the learning rate among the logs (as lr or
        # learning_rate): a hyperparameter, recorded as adaptations.
        metrics = {k: v for k, v in (logs or {}).items() if k not in _NOT_METRICS}
        self.task.epoch(epoch + 1, **metrics)

    def on_train_end(self, logs=None):
        self._training = False
        try:
            self.task.end("FINISHED")
        finally:
            self.task.close()

    def on_test_end(self, logs=None):
        if self._training or self.task is None:
            return
        # Reopened without begin and closed without end: the task ended
        # with its fit, and stays so.
        later = Task(self.config, task_id=self.task.id, begin=False)
        try:
            later.test(**(logs or {}))
        finally:
            later.close()


class _PlainCallback:
    """What ProvenanceCallback derives from when Keras is not installed: the
    part of keras.callbacks.Callback it relies on."""

    def __init__(self):
        self.model = None
        self.params = {}

    def set_params(self, params):
        self.params = params

    def set_model(self, model):
        self.model = model


def _define():
    try:
        import keras
        base = keras.callbacks.Callback
    except ImportError:
        base = _PlainCallback
    return type("ProvenanceCallback", (_Recording, base),
                {"__module__": __name__, "__doc__": _Recording.__doc__})


BUILTIN_HYPERPARAMETERS = ("OPTIMIZER_NAME", "LEARNING_RATE", "DECAY", "MOMENTUM", "NUM_EPOCHS", "BATCH_SIZE",
                           "NUM_LAYERS")
_TYPES = {"NUMERIC": "numeric", "TEXT": "text", "FILE": "file", "RDFILE": "file"}


def experiment_yaml(dataflow_tag, hyps, hyperparameters=(), metrics=None, adaptation=False):
    """The experiment file of a provenance() call: the seven built-in
    hyperparameters as `hyps` selects them, the user's (name, type) pairs,
    the model's metrics (any name, when the model does not say yet)."""
    quoted = json.dumps  # a JSON string is a YAML double-quoted scalar
    entries = [f"{name}: {'true' if hyps.get(name) else 'false'}" for name in BUILTIN_HYPERPARAMETERS]
    entries += [f"{quoted(name)}: {_TYPES.get(str(kind).upper(), str(kind).lower())}" for name, kind in hyperparameters]
    lines = ["# Written by dnnprov.keras.provenance(): the experiment of its dataflow_tag, hyps and metrics.",
             f"dataflow: {quoted(dataflow_tag)}",
             "hyperparameters: {" + ", ".join(entries) + "}"]
    if metrics:
        lines.append("metrics: [" + ", ".join(quoted(m) for m in metrics) + "]")
    else:
        lines.append("free_metrics: true")
    lines.append(f"adaptation: {'true' if adaptation else 'false'}")
    return "\n".join(lines) + "\n"


def _with_callback(method, callback):
    @functools.wraps(method)
    def call(*args, **kwargs):
        callbacks = list(kwargs.get("callbacks") or [])
        if callback not in callbacks:
            callbacks.append(callback)  # last: after a LearningRateScheduler
        kwargs["callbacks"] = callbacks
        return method(*args, **kwargs)
    return call


def provenance(model, dataflow_tag="", adaptation=False, hyps=None, hyperparameters=(), transformations=None,
               **kwargs):
    """Keras-Prov's model.provenance(dataflow_tag=..., adaptation=...,
    hyps={...}) for an unpatched Keras: every later fit of `model` is
    recorded as a run, and an evaluate after it as its test.

    `hyps` maps the seven built-in hyperparameters to True (captured) or
    False (not); `hyperparameters` lists (name, type) pairs of your own.
    The experiment file is the one DNNPROV_CONFIG names; without it,
    <dataflow_tag>.yaml beside the script, written from these arguments
    when it does not exist.  One that exists and says something else is
    never replaced: ConfigError says so (set DNNPROV_CONFIG to use it).
    Returns the callback, which also works passed to fit by hand."""
    if not dataflow_tag:
        raise ValueError("provenance() needs a dataflow_tag")
    hyps = dict(hyps or {})
    unknown = sorted(set(hyps) - set(BUILTIN_HYPERPARAMETERS))
    if unknown:
        raise ValueError(f"hyps takes the built-in hyperparameters ({', '.join(BUILTIN_HYPERPARAMETERS)}), not "
                         f"{', '.join(unknown)}; declare others in hyperparameters=[(name, type)]")
    config = os.environ.get("DNNPROV_CONFIG")
    if not config:
        from .dfa import write_experiment
        script = sys.argv[0] if sys.argv and sys.argv[0] not in ("", "-c", "-") else ""
        folder = os.path.dirname(os.path.abspath(script)) if script else os.getcwd()
        config = os.path.join(folder, f"{dataflow_tag}.yaml")
        names = list(getattr(model, "metrics_names", None) or [])
        write_experiment(config, experiment_yaml(dataflow_tag, hyps, hyperparameters, names, adaptation))
    cls = globals().get("ProvenanceCallback") or __getattr__("ProvenanceCallback")
    callback = cls(config, captured={k for k, v in hyps.items() if v})
    model.fit = _with_callback(model.fit, callback)
    model.evaluate = _with_callback(model.evaluate, callback)
    return callback


# The class is made on first use, so that importing this module never
# imports its framework (which drags TensorFlow or JAX in).
__getattr__ = lazy_class(globals(), "ProvenanceCallback", _define)
