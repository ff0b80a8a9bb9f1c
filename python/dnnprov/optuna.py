"""Recording an Optuna study: dnnprov.optuna.ProvenanceCallback.

    cb = dnnprov.optuna.ProvenanceCallback("study.yaml", metric="val_accuracy")
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.MedianPruner())
    study.optimize(cb.objective(objective), n_trials=50, callbacks=[cb])

Each trial is a task of the experiment file's dataflow, labelled after its
number (`trial7-<time>-<host>-<pid>`) and tagged with the study's name
(`study`) and the trial's number (`trial`): a study is a tag, so that the
trials of several studies of one search space compare in one dataflow.

- Its sampled parameters are its hyperparameters (one named like a
  built-in hyperparameter in another case, `momentum`, is that one,
  MOMENTUM).
- Each trial.report(value, step) is the metric `metric` of epoch `step`,
  recorded as it is reported when the objective is wrapped with
  cb.objective() (which wraps the trial's report method); without it, the
  callback alone records the trial when it finishes, from its stored
  intermediate values.  The task begins at the first report, with the
  parameters suggested by then; one suggested later is recorded as the tag
  `param.NAME` when the trial ends.
- The objective's value is its test record (`metric`; `metric_1`, ... for
  the other objectives of a multi-objective study).
- It ends FINISHED (COMPLETE), PRUNED, or FAILED (FAIL, with the
  exception's text when cb.objective() saw it).

Optuna is define-by-run: a parameter exists once a trial suggests it.  The
experiment file is written by this callback (when it does not exist) and
extended with each parameter the first time it appears, typed by its
distribution: numeric for floats and integers and for categorical choices
that are all numbers, text otherwise; any metric name is accepted
(`free_metrics: true`).  The parameters it declared are listed in the
file's first lines, which is how a later process knows the file is the
callback's to extend.  An experiment file written by hand is used as it is:
a parameter it does not declare is refused as a problem of the run
(docs/RUNS.md), the trial's other values recorded.

Optuna is never imported by this module.
"""

import functools
import json
import math
import os
import threading

from .task import Task

HEADER = "# Written by dnnprov.optuna: the dataflow of a study, extended with each parameter as it appears."
_PARAMS = "# parameters: "
# Optuna's TrialState names and the status their task ends with.
_ENDS = {"COMPLETE": "FINISHED", "PRUNED": "PRUNED", "FAIL": "FAILED"}


# Keras-Prov's seven: a parameter of one of these names (any case) is it.
_BUILTIN = {n.lower(): n for n in ("OPTIMIZER_NAME", "LEARNING_RATE", "DECAY", "MOMENTUM", "NUM_EPOCHS",
                                   "BATCH_SIZE", "NUM_LAYERS")}


def hyperparameter_name(parameter):
    """The hyperparameter a parameter is recorded as: itself, or the
    built-in one whose name it spells in another case (`momentum` is
    MOMENTUM), since names are compared ignoring case."""
    return _BUILTIN.get(parameter.lower(), parameter)


def parameter_type(distribution):
    """"numeric" or "text": how a parameter of this Optuna distribution is
    declared."""
    choices = getattr(distribution, "choices", None)
    if choices is None:
        return "numeric"  # FloatDistribution, IntDistribution and their older kinds
    numeric = all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in choices)
    return "numeric" if numeric else "text"


def _value(kind, value):
    if kind == "text":
        return value if isinstance(value, str) else json.dumps(value)
    return value


class _Live:
    """A trial's task while it runs."""

    def __init__(self, task, params):
        self.task = task
        self.params = set(params)


class ProvenanceCallback:
    """An Optuna callback (`callbacks=[cb]`) recording each trial as a task of
    the experiment `config` (see the module docstring).  `dataflow` names
    the dataflow of a file the callback writes (default: the study's name);
    `metric` names what trial.report and the objective give (default
    "value"); `strict` is dnnprov.Task's."""

    def __init__(self, config, *, metric="value", dataflow=None, strict=False):
        self.config = os.fspath(config)
        self.metric = metric
        self.dataflow = dataflow
        self.strict = strict
        self._lock = threading.Lock()
        self._live = {}      # trial number -> _Live
        self._done = set()   # trial numbers whose task ended

    # ---- the experiment file ------------------------------------------------------------

    def _declared(self):
        """The parameters the file declares ({name: type}) when it is this
        callback's, else None (a file written by hand)."""
        try:
            with open(self.config, encoding="utf-8") as f:
                first, second = f.readline().rstrip("\n"), f.readline().rstrip("\n")
        except FileNotFoundError:
            return {}
        if first != HEADER or not second.startswith(_PARAMS):
            return None
        return json.loads(second[len(_PARAMS):])

    def _declare(self, study, distributions):
        """Writes or extends the experiment file so that it declares every
        parameter of `distributions` ({name: distribution})."""
        declared = self._declared()
        if declared is None:
            return
        grown = dict(declared)
        for name, distribution in distributions.items():
            grown.setdefault(name, parameter_type(distribution))
        if grown == declared and os.path.exists(self.config):
            return
        tag = self.dataflow or getattr(study, "study_name", None) or "optuna"
        quoted = json.dumps  # a JSON string is a YAML double-quoted scalar
        entries = [f"{quoted(hyperparameter_name(n))}: {'true' if hyperparameter_name(n) != n else t}"
                   for n, t in sorted(grown.items())]
        lines = [HEADER, _PARAMS + json.dumps(grown, sort_keys=True),
                 f"dataflow: {quoted(tag)}",
                 "hyperparameters: {" + ", ".join(entries) + "}",
                 f"metrics: [{quoted(self.metric)}]", "val_metrics: false", "free_metrics: true"]
        folder = os.path.dirname(os.path.abspath(self.config))
        temporary = os.path.join(folder, f".{os.path.basename(self.config)}.{os.getpid()}.tmp")
        with open(temporary, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        os.replace(temporary, self.config)  # readers see the old file or the new, whole

    # ---- tasks ------------------------------------------------------------------------------

    def _begin(self, study, number, params, distributions):
        self._declare(study, distributions)
        kinds = self._declared() or {}
        values = {hyperparameter_name(name): _value(kinds.get(name, "numeric"), v) for name, v in params.items()}
        task = Task(self.config, values, label=f"trial{number}", strict=self.strict)
        try:
            task.tag(study=str(getattr(study, "study_name", "")), trial=int(number))
        except BaseException:
            task.close()
            raise
        return _Live(task, params)

    def _live_task(self, study, trial):
        with self._lock:
            live = self._live.get(trial.number)
        if live is None:
            live = self._begin(study, trial.number, dict(trial.params), dict(trial.distributions))
            with self._lock:
                self._live[trial.number] = live
        return live

    def objective(self, fn):
        """fn, wrapped so that each trial's reports are recorded as they
        happen, and a failure with its text: study.optimize(cb.objective(fn),
        callbacks=[cb])."""
        @functools.wraps(fn)
        def recorded(trial):
            report = trial.report
            study = getattr(trial, "study", None)

            @functools.wraps(report)
            def recording(value, step):
                report(value, step)  # Optuna's checks first: a refused report records nothing
                self._live_task(study, trial).task.epoch(int(step), **{self.metric: value})

            trial.report = recording
            try:
                return fn(trial)
            except BaseException as e:
                if type(e).__name__ != "TrialPruned":
                    self._end_failed(trial.number, e)
                raise
        return recorded

    def _end_failed(self, number, exc):
        with self._lock:
            live = self._live.pop(number, None)
            self._done.add(number)
        if live is not None:
            try:
                live.task.__exit__(type(exc), exc, exc.__traceback__)
            except Exception:  # the training's own exception is the one to see
                pass

    def __call__(self, study, trial):
        """The callback: ends the task of a finished trial (beginning it
        first, from the trial's stored values, when its reports were not
        recorded as they happened)."""
        state = getattr(trial.state, "name", str(trial.state))
        status = _ENDS.get(state)
        with self._lock:
            if status is None or trial.number in self._done:
                return
            live = self._live.pop(trial.number, None)
            self._done.add(trial.number)
        if live is None:
            live = self._begin(study, trial.number, dict(trial.params), dict(trial.distributions))
            for step, value in sorted(trial.intermediate_values.items()):
                live.task.epoch(int(step), **{self.metric: value})
        task = live.task
        try:
            late = {f"param.{hyperparameter_name(k)}": v if isinstance(v, (int, float, str)) else json.dumps(v)
                    for k, v in trial.params.items() if k not in live.params}
            if late:
                task.tag(**late)
            values = getattr(trial, "values", None) or []
            values = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
            if values and status == "FINISHED":
                names = [self.metric] + [f"{self.metric}_{i}" for i in range(1, len(values))]
                task.test(**dict(zip(names, values)))
            task.end(status)
        finally:
            task.close()
