"""Recording a PyTorch training: dnnprov.torch.Recorder.

    rec = dnnprov.torch.Recorder(config="exp.yaml", model=model, optimizer=opt,
                                 scheduler=sched, epochs=20, batch_size=64)
    with rec:
        for epoch in range(1, 21):
            rec.epoch_begin(epoch)
            ...train, validate, sched.step()...
            rec.epoch_end(epoch, loss=..., accuracy=..., val_loss=..., val_accuracy=...)
        rec.test(loss=..., accuracy=...)

The hyperparameters Keras-Prov read from a Keras model are read here from
the model and the optimizer (from its first param group, the one a
scheduler's first learning rate belongs to):

    OPTIMIZER_NAME  the optimizer's class name ("SGD", "Adam")
    LEARNING_RATE   param_groups[0]["lr"]
    DECAY           param_groups[0]["weight_decay"], 0 when absent.  (Keras'
                    `decay` was a learning-rate decay; PyTorch expresses that
                    with a scheduler, so the optimizer's own decay is the
                    weight decay.)
    MOMENTUM        param_groups[0]["momentum"] when present (SGD, RMSprop),
                    else betas[0] for the Adam family (Adam, AdamW, NAdam,
                    ...: beta1 is the momentum of the gradient average), else 0
    NUM_EPOCHS      `epochs`, when given
    BATCH_SIZE      `batch_size`, when given
    NUM_LAYERS      the number of leaf modules that own parameters: Linear,
                    Conv*, BatchNorm*, Embedding, LSTM, PReLU ... count once
                    each; activations without parameters, dropout, pooling
                    and containers do not count
    LR_SCHEDULER    the scheduler's class name, when a scheduler is given;
                    recorded only if the experiment file declares it
                    (`LR_SCHEDULER: text`)

The library keeps only the hyperparameters the experiment file selects.
Values in `hyperparameters=` are added to these and win over them.

Layer facts (the original's iLayers) are one (module name, "activation",
class name) per leaf activation module (ReLU, GELU, Softmax, ... every class
of torch.nn.modules.activation but MultiheadAttention, and subclasses) and
one (module name, "dropout", p) per dropout module.

A change of param_groups[0]["lr"] between epochs, whatever made it (any
scheduler, a manual change), becomes an adaptation at epoch_begin(): the
new learning rate, with the old one, at the epoch it first applies to.
A scheduler that steps every batch (OneCycleLR) shows as one adaptation
per epoch, the rate the epoch starts with.

Each Recorder is a new run with its own id (`label`, then the time, host
and pid) unless `task_id` names one.  To continue a run from a checkpoint,
pass its task_id and resume=True: the task keeps the hyperparameters it
started with, and a learning rate the checkpoint restored that differs
(after a ReduceLROnPlateau step, say) is recorded as an adaptation at the
resume epoch (`resume_epoch`, default the one after the last recorded).

Distributed training: when torch.distributed is initialised, only rank 0
records; on the other ranks every method does nothing (one task per run,
one writer per task).
"""

import time

import torch

from .task import Task

_ACTIVATIONS = tuple(getattr(torch.nn.modules.activation, name)
                     for name in torch.nn.modules.activation.__all__
                     if name != "MultiheadAttention")
_DROPOUTS = tuple(getattr(torch.nn.modules.dropout, name)
                  for name in torch.nn.modules.dropout.__all__)


def _leaf_modules(model):
    return [(name, module) for name, module in model.named_modules()
            if next(module.children(), None) is None]


def optimizer_hyperparameters(optimizer):
    """OPTIMIZER_NAME, LEARNING_RATE, DECAY and MOMENTUM of an optimizer."""
    group = optimizer.param_groups[0]
    if "momentum" in group:
        momentum = group["momentum"]
    elif "betas" in group:
        momentum = group["betas"][0]
    else:
        momentum = 0
    return {
        "OPTIMIZER_NAME": type(optimizer).__name__,
        "LEARNING_RATE": learning_rate(optimizer),
        "DECAY": group.get("weight_decay", 0),
        "MOMENTUM": momentum,
    }


def _is_recording_rank():
    """False on the ranks other than 0 of an initialised torch.distributed
    job: one process records a run."""
    dist = getattr(torch, "distributed", None)
    if dist is None or not dist.is_available() or not dist.is_initialized():
        return True
    return dist.get_rank() == 0


def learning_rate(optimizer):
    """The learning rate of the first param group, as a float (it may be a
    tensor)."""
    return float(optimizer.param_groups[0]["lr"])


def count_layers(model):
    """NUM_LAYERS: leaf modules with parameters of their own."""
    return sum(1 for _, module in _leaf_modules(model)
               if next(module.parameters(recurse=False), None) is not None)


def layer_facts(model):
    """(name, kind, value) for each activation and dropout leaf module."""
    facts = []
    for name, module in _leaf_modules(model):
        name = name or type(module).__name__  # the model itself is a leaf
        if isinstance(module, _ACTIVATIONS):
            facts.append((name, "activation", type(module).__name__))
        elif isinstance(module, _DROPOUTS):
            facts.append((name, "dropout", float(module.p)))
    return facts


class Recorder:
    """Records one training of `model` with `optimizer` as a dnnprov task.

    Entering the `with` block (or calling begin()) opens the task with the
    hyperparameters read from the model and optimizer (see the module
    docstring) and records the layer facts; leaving it ends the task as
    dnnprov.Task does: FINISHED, FAILED with the exception's text, or KILLED
    on KeyboardInterrupt.
    """

    def __init__(self, config, model, optimizer, scheduler=None, epochs=None, batch_size=None,
                 hyperparameters=None, task_id=None, *, label=None, resume=False, resume_epoch=None,
                 facts=None):
        self.config = config
        self.model = model
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.epochs = epochs
        self.batch_size = batch_size
        self.extra_hyperparameters = dict(hyperparameters or {})
        self.task_id = task_id
        self.label = label
        self.resume = resume
        self.resume_epoch = resume_epoch
        self.facts = dict(facts or {})
        self.task = None
        self._lr = None
        self._epoch_started = None
        self.recording = _is_recording_rank()

    def hyperparameters(self):
        """The values begin() records (before the config's selection)."""
        values = optimizer_hyperparameters(self.optimizer)
        values["NUM_LAYERS"] = count_layers(self.model)
        if self.epochs is not None:
            values["NUM_EPOCHS"] = self.epochs
        if self.batch_size is not None:
            values["BATCH_SIZE"] = self.batch_size
        if self.scheduler is not None:
            values["LR_SCHEDULER"] = type(self.scheduler).__name__
        values.update(self.extra_hyperparameters)
        return values

    @property
    def id(self):
        """The task's id; known once the task has begun."""
        return self.task.id if self.task is not None else self.task_id

    def begin(self):
        """Opens the task and records its start (or its resumption) and
        layer facts."""
        if self.task is not None:
            raise RuntimeError(f"task {self.task.id} has already begun")
        if not self.recording:
            return self
        task = Task(self.config, self.hyperparameters(), self.task_id, label=self.label,
                    resume=self.resume, resume_epoch=self.resume_epoch, facts=self.facts)
        try:
            facts = layer_facts(self.model)
            if facts:
                task.layers(facts)
        except BaseException as e:
            task.__exit__(type(e), e, e.__traceback__)
            raise
        self.task = task
        self._lr = learning_rate(self.optimizer)
        return self

    def __enter__(self):
        return self.begin()

    def __exit__(self, exc_type, exc, tb):
        if self.task is None:
            return False
        return self.task.__exit__(exc_type, exc, tb)

    def epoch_begin(self, epoch):
        """Call at the start of each epoch: a learning rate that changed since
        the last epoch is recorded as an adaptation at this epoch."""
        if self.task is None and not self.recording:
            return
        lr = learning_rate(self.optimizer)
        if lr != self._lr:
            self.task.adapt(epoch, LEARNING_RATE=lr)
            self._lr = lr
        self._epoch_started = time.perf_counter()

    def epoch_end(self, epoch, /, elapsed=None, **metrics):
        """Records the epoch's metrics.  Without `elapsed`, the epoch lasted
        from epoch_begin() to now (or, without epoch_begin(), since the
        previous epoch record)."""
        if elapsed is None and self._epoch_started is not None:
            elapsed = time.perf_counter() - self._epoch_started
        self._epoch_started = None
        if self.recording:
            self.task.epoch(epoch, elapsed, **metrics)

    def test(self, **metrics):
        """Records the test-set metrics."""
        if self.recording:
            self.task.test(**metrics)

    def element(self, transformation, set, values):
        """Records one element of a user-defined transformation's set (see
        dnnprov.Task.element)."""
        if self.recording:
            self.task.element(transformation, set, values)

    def used(self, role, path, **kw):
        """Records a file or folder the run read (see dnnprov.Task.used)."""
        if self.recording:
            self.task.used(role, path, **kw)

    def generated(self, role, path, **kw):
        """Records a file or folder the run wrote, a saved model (see
        dnnprov.Task.generated); also after its end."""
        if self.recording:
            self.task.generated(role, path, **kw)

    def tag(self, **tags):
        """Tags the run (see dnnprov.Task.tag); also after its end."""
        if self.recording:
            self.task.tag(**tags)

    def end(self, status="FINISHED", message=None):
        """Ends the task explicitly (outside a `with` block)."""
        if self.recording:
            self.task.end(status, message)

    def close(self):
        """Closes the task's handle (outside a `with` block)."""
        if self.task is not None:
            self.task.close()
