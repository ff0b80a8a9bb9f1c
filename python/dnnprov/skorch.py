"""Recording a skorch training: dnnprov.skorch.ProvenanceCallback.

    net = skorch.NeuralNetClassifier(Module, max_epochs=20, lr=0.1,
                                     callbacks=[dnnprov.skorch.ProvenanceCallback("exp.yaml")])
    net.fit(X, y)
    net.callbacks[0].test(accuracy=net.score(X_test, y_test))   # reopens the run

Each fit is a task.  on_train_begin opens it with the values the net and
its optimizer give, recorded where the experiment file selects them (as
dnnprov.torch.Recorder reads them): OPTIMIZER_NAME, LEARNING_RATE, DECAY,
MOMENTUM (and LEARNING_RATE_1, ... of further param groups), NUM_EPOCHS
(max_epochs), BATCH_SIZE, NUM_LAYERS, LR_SCHEDULER (the policy of an
LRScheduler callback); plus `hyperparameters=`, which are checked (a typo
raises).  The layer facts are dnnprov.torch's.

on_epoch_begin records a learning rate, momentum or weight decay that
changed since the last recorded as an adaptation at that epoch (skorch
counts epochs from 1, as dnnprov does); on_epoch_end records the history
row's numbers as the epoch's metrics under skorch's names (train_loss,
valid_loss, valid_acc, and those of scoring callbacks; not the batch
counts, nor `event_lr`), with `dur` as the epoch's duration; on_train_end ends the task FINISHED.  A fit that raises
never reaches on_train_end: that task is shown LOST, as a crashed run
would be.  test(**metrics) records test metrics after the fit, reopening
the task without beginning it again, as the Keras callback does after
evaluate.

skorch is imported only when ProvenanceCallback is first used.
"""

from ._lazy import lazy_class
from .task import Task

# History keys that are no metric: the epoch, its duration, the batch
# counts, and `event_*` (an LRScheduler's event_lr: a hyperparameter,
# recorded as adaptations); skorch's "best so far" flags are booleans.
_NOT_METRICS = ("epoch", "dur", "batches", "train_batch_count", "valid_batch_count")


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class _Recording:
    """skorch callback recording each fit as a dnnprov task (see the module
    docstring)."""

    def __init__(self, config, hyperparameters=None, task_id=None, *, label=None, facts=None, strict=False):
        # Kept as given: sklearn's clone (a grid search) rebuilds the
        # callback from these attributes and checks they are the arguments.
        self.config = config
        self.hyperparameters = hyperparameters
        self.task_id = task_id
        self.label = label
        self.facts = facts
        self.strict = strict
        self.task = None
        self._recorded = {}

    def derived(self, net):
        from .torch import count_layers, group_values
        values = {"OPTIMIZER_NAME": type(net.optimizer_).__name__}
        values.update(group_values(net.optimizer_))
        values["NUM_EPOCHS"] = net.max_epochs
        if isinstance(getattr(net, "batch_size", None), int) and net.batch_size > 0:
            values["BATCH_SIZE"] = net.batch_size
        values["NUM_LAYERS"] = count_layers(net.module_)
        for _, cb in getattr(net, "callbacks_", ()):
            policy = getattr(cb, "policy", None)
            if policy is not None:
                values["LR_SCHEDULER"] = policy if isinstance(policy, str) else getattr(policy, "__name__", str(policy))
        return values

    def _values(self, net):
        from .torch import group_values
        return {k: v for k, v in group_values(net.optimizer_).items() if k in self._adaptable}

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        from .torch import group_values, layer_facts
        self.task = Task(self.config, dict(self.hyperparameters or {}), self.task_id, label=self.label,
                         resume=self.task_id is not None, facts=dict(self.facts or {}), derived=self.derived(net),
                         strict=self.strict)
        facts = layer_facts(net.module_)
        if facts:
            self.task.layers(facts)
        self._adaptable = {k for k in group_values(net.optimizer_) if self.task.selects(k)}
        self._recorded = self._values(net)

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        values = self._values(net)
        changed = {k: v for k, v in values.items() if self._recorded.get(k) != v}
        if changed:
            self.task.adapt(net.history[-1]["epoch"], **changed)
            self._recorded.update(changed)

    def on_epoch_end(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        row = net.history[-1]
        metrics = {k: v for k, v in row.items()
                   if k not in _NOT_METRICS and not k.startswith("event_") and _number(v)}
        elapsed = row.get("dur")
        self.task.epoch(row["epoch"], elapsed if _number(elapsed) else None, **metrics)

    def on_train_end(self, net, X=None, y=None, **kwargs):
        try:
            self.task.end("FINISHED")
        finally:
            self.task.close()

    def test(self, **metrics):
        """Records test metrics of the last fit's task (after it ended)."""
        if self.task is None:
            raise RuntimeError("test() records a fit's test metrics: fit first")
        later = Task(self.config, task_id=self.task.id, begin=False, strict=self.strict)
        try:
            later.test(**metrics)
        finally:
            later.close()

    def get_params(self, deep=True):
        return {"config": self.config, "hyperparameters": self.hyperparameters, "task_id": self.task_id,
                "label": self.label, "facts": self.facts, "strict": self.strict}


def _define():
    import skorch.callbacks
    return type("ProvenanceCallback", (_Recording, skorch.callbacks.Callback),
                {"__module__": __name__, "__doc__": _Recording.__doc__})


# The class is made on first use, so that importing this module never
# imports its framework (and torch with it).
__getattr__ = lazy_class(globals(), "ProvenanceCallback", _define)
