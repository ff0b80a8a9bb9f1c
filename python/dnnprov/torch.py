"""Recording a PyTorch training: dnnprov.torch.Recorder.

    rec = dnnprov.torch.Recorder(config="exp.yaml", model=model, optimizer=opt,
                                 scheduler=sched, epochs=20, batch_size=64)
    with rec:
        for epoch in range(1, 21):
            ...train, validate, sched.step()...
            rec.epoch_end(epoch, loss=..., accuracy=..., val_loss=..., val_accuracy=...)
    rec.test(loss=..., accuracy=...)          # after the block too

The hyperparameters Keras-Prov read from a Keras model are read here from
the model and the optimizer, and recorded when the experiment file selects
them (declares them; the built-in seven with `true`): what it does not
select is not captured, as Keras-Prov's `hyps` chose.

    OPTIMIZER_NAME  the optimizer's class name ("SGD", "Adam")
    LEARNING_RATE   param_groups[0]["lr"]
    DECAY           param_groups[0]["weight_decay"], 0 when absent.  (Keras'
                    `decay` was a learning-rate decay; PyTorch expresses that
                    with a scheduler, so the optimizer's own decay is the
                    weight decay.)
    MOMENTUM        param_groups[0]["momentum"] when present (SGD, RMSprop),
                    else betas[0] for the Adam family (Adam, AdamW, NAdam,
                    ...: beta1 is the momentum of the gradient average), else 0
    LEARNING_RATE_1, MOMENTUM_1, DECAY_1, ...
                    the same of param group 1, 2, ... (declare them to
                    record them, e.g. `LEARNING_RATE_1: numeric`)
    NUM_EPOCHS      `epochs`, when given
    BATCH_SIZE      `batch_size`, when given
    NUM_LAYERS      the number of leaf modules that own parameters: Linear,
                    Conv*, BatchNorm*, Embedding, LSTM, PReLU ... count once
                    each; activations without parameters, dropout, pooling
                    and containers do not count
    LR_SCHEDULER    the scheduler's class name, when a scheduler is given

Values in `hyperparameters=` are added to these and win over them; they
are the names that can be typos (UndeclaredError at the begin).

Layer facts (the original's iLayers) are one (module name, "activation",
class name) per leaf activation module (ReLU, GELU, Softmax, ... every class
of torch.nn.modules.activation but MultiheadAttention, and subclasses) and
one (module name, "dropout", p) per dropout module.

Adaptations.  A change of the learning rate, momentum or weight decay of
any param group, whatever made it (any scheduler, a manual change), is
recorded as an adaptation at the epoch whose training first used it.  The
Recorder watches the optimizer's steps (it wraps optimizer.step while the
task is open): epoch_end(n) compares the values the first step of epoch n
used with the ones recorded last, so a loop that calls only epoch_end
(once per epoch, as with MLflow or W&B) misses nothing.  epoch_begin(n),
when called, compares the values in force at its call and records a change
at n; a change is recorded once, at whichever sees it first.  A scheduler
that steps every batch (OneCycleLR) shows as one adaptation per epoch, the
values the epoch starts with.  A change made after the last epoch's steps
(a scheduler stepping after training) is recorded when the task ends, at
the epoch after the last.

test(), element() and tag() also work after the `with` block: the task has
ended, and they reopen it without beginning it again, as the Keras callback
does after fit.

Names the experiment file does not declare: an UndeclaredError at the begin
and the first epoch, then an UndeclaredWarning once per name, the record
keeping its other values and the run showing the name as a problem
(strict=True raises every time; docs/RUNS.md).

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

import functools
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


def _momentum(group):
    if "momentum" in group:
        return group["momentum"]
    if "betas" in group:
        return group["betas"][0]
    return 0


def group_values(optimizer):
    """LEARNING_RATE, MOMENTUM and DECAY of every param group, as floats:
    group 0 under those names, group i under NAME_i."""
    values = {}
    for i, group in enumerate(optimizer.param_groups):
        suffix = f"_{i}" if i else ""
        values["LEARNING_RATE" + suffix] = float(group["lr"])
        values["MOMENTUM" + suffix] = float(_momentum(group))
        values["DECAY" + suffix] = float(group.get("weight_decay", 0))
    return values


def optimizer_hyperparameters(optimizer):
    """OPTIMIZER_NAME, LEARNING_RATE, DECAY and MOMENTUM of an optimizer."""
    group = optimizer.param_groups[0]
    return {
        "OPTIMIZER_NAME": type(optimizer).__name__,
        "LEARNING_RATE": learning_rate(optimizer),
        "DECAY": group.get("weight_decay", 0),
        "MOMENTUM": _momentum(group),
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
                 facts=None, strict=False):
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
        self.strict = strict
        self.task = None
        self._recorded = {}     # the adaptable values as last recorded
        self._adaptable = set()  # the names of those the experiment file selects
        self._first_step = None  # the values the first step since the last epoch_end used
        self._last_epoch = None
        self._step = None        # (the optimizer's step before the wrap, the wrapper)
        self._epoch_started = None
        self.recording = _is_recording_rank()

    def derived(self):
        """The values read from the model, optimizer and arguments; begin()
        records those the experiment file selects."""
        values = {"OPTIMIZER_NAME": type(self.optimizer).__name__}
        values.update(group_values(self.optimizer))
        values["NUM_LAYERS"] = count_layers(self.model)
        if self.epochs is not None:
            values["NUM_EPOCHS"] = self.epochs
        if self.batch_size is not None:
            values["BATCH_SIZE"] = self.batch_size
        if self.scheduler is not None:
            values["LR_SCHEDULER"] = type(self.scheduler).__name__
        return values

    def hyperparameters(self):
        """The values begin() is given (before the config's selection)."""
        values = self.derived()
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
        task = Task(self.config, self.extra_hyperparameters, self.task_id, label=self.label,
                    resume=self.resume, resume_epoch=self.resume_epoch, facts=self.facts,
                    derived=self.derived(), strict=self.strict)
        try:
            facts = layer_facts(self.model)
            if facts:
                task.layers(facts)
            self._adaptable = {name for name in group_values(self.optimizer) if task.selects(name)}
        except BaseException as e:
            task.__exit__(type(e), e, e.__traceback__)
            raise
        self.task = task
        self._recorded = self._values()
        self._recorded.update({k: v for k, v in self.extra_hyperparameters.items() if k in self._recorded})
        self._watch_steps()
        return self

    def _values(self):
        """The adaptable values the experiment file selects, as they are now."""
        return {k: v for k, v in group_values(self.optimizer).items() if k in self._adaptable}

    def _watch_steps(self):
        """Wraps optimizer.step to see the values each epoch's first step
        uses (functools.wraps keeps what a scheduler marked on it)."""
        step = self.optimizer.step

        @functools.wraps(step)
        def watched(*args, **kwargs):
            if self._first_step is None and self.task is not None and not self.task.closed:
                self._first_step = self._values()
            return step(*args, **kwargs)

        # An instance attribute already when a scheduler wrapped it.
        own = "step" in self.optimizer.__dict__
        self.optimizer.step = watched
        self._step = (step if own else None, watched)

    def _unwatch_steps(self):
        if self._step is None:
            return
        step, watched = self._step
        self._step = None
        # Only while nothing wrapped it after us; else ours stays, idle.
        if self.optimizer.__dict__.get("step") is watched:
            if step is None:
                del self.optimizer.step
            else:
                self.optimizer.step = step

    def _adapt(self, epoch, values):
        changed = {k: v for k, v in values.items() if self._recorded.get(k) != v}
        if changed:
            self.task.adapt(epoch, **changed)
            self._recorded.update(changed)

    def __enter__(self):
        return self.begin()

    def __exit__(self, exc_type, exc, tb):
        if self.task is None:
            return False
        try:
            if exc is None and not self.task.closed and self._last_epoch is not None:
                # A change made after the last epoch's steps.
                self._adapt(self._last_epoch + 1, self._values())
        except BaseException as e:
            exc_type, exc, tb = type(e), e, e.__traceback__
            self._unwatch_steps()
            self.task.__exit__(exc_type, exc, tb)
            raise
        self._unwatch_steps()
        return self.task.__exit__(exc_type, exc, tb)

    def epoch_begin(self, epoch):
        """Optional, at the start of each epoch: a value changed since the
        last one recorded is recorded as an adaptation at this epoch."""
        if self.task is None and not self.recording:
            return
        self._adapt(epoch, self._values())
        self._epoch_started = time.perf_counter()

    def epoch_end(self, epoch, /, elapsed=None, **metrics):
        """Records the epoch's metrics, after any adaptation the epoch's
        first optimizer step shows.  Without `elapsed`, the epoch lasted
        from epoch_begin() to now (or, without epoch_begin(), since the
        previous epoch record)."""
        if elapsed is None and self._epoch_started is not None:
            elapsed = time.perf_counter() - self._epoch_started
        self._epoch_started = None
        if not self.recording:
            return
        first, self._first_step = self._first_step, None
        if first is not None:
            self._adapt(epoch, first)
        self.task.epoch(epoch, elapsed, **metrics)
        self._last_epoch = epoch if self._last_epoch is None else max(self._last_epoch, epoch)

    def _after(self, method, *args, **kwargs):
        """A record of the task; once its `with` block is left, through the
        task reopened without a begin (its end stays)."""
        if not self.task.closed:
            return getattr(self.task, method)(*args, **kwargs)
        later = Task(self.config, task_id=self.task.id, begin=False, strict=self.strict)
        try:
            return getattr(later, method)(*args, **kwargs)
        finally:
            later.close()

    def test(self, **metrics):
        """Records the test-set metrics, also after the `with` block."""
        if self.recording:
            self._after("test", **metrics)

    def element(self, transformation, set, values):
        """Records one element of a user-defined transformation's set (see
        dnnprov.Task.element), also after the `with` block."""
        if self.recording:
            self._after("element", transformation, set, values)

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
        """Tags the run (see dnnprov.Task.tag), also after the `with` block."""
        if self.recording:
            self._after("tag", **tags)

    def advice(self, **options):
        """Whether the run is worth continuing (dnnprov.Task.advice); None on
        a rank that does not record."""
        if not self.recording:
            return None
        if self.task is None:
            raise RuntimeError("the task has not begun")
        return self.task.advice(**options)

    def end(self, status="FINISHED", message=None):
        """Ends the task explicitly (outside a `with` block)."""
        if self.recording:
            if not self.task.closed and self._last_epoch is not None:
                self._adapt(self._last_epoch + 1, self._values())
            self._unwatch_steps()
            self.task.end(status, message)

    def close(self):
        """Closes the task's handle (outside a `with` block)."""
        self._unwatch_steps()
        if self.task is not None:
            self.task.close()
