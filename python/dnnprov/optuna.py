"""An Optuna pruner that judges a trial by the history of its dataflow.

Optuna's own pruners compare a trial with the other trials of its study,
in the process that runs it.  HistoryPruner asks the index of a dnnprov
experiment instead: `dnnprov advise` compares the trial's value at its
step with every finished run of the dataflow at the same epoch, whichever
study, script or machine recorded it (docs/STEERING.md, "Advice"), and the
trial is pruned when the advice is "stop".  With too little history it
prunes nothing.

    import optuna, dnnprov, dnnprov.optuna
    pruner = dnnprov.optuna.HistoryPruner("exp.yaml", metric="val_loss")
    study = optuna.create_study(direction="minimize", pruner=pruner)

    def objective(trial):
        lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
        with dnnprov.Task("exp.yaml", {"LEARNING_RATE": lr}) as t:
            for epoch in range(1, 21):
                ...
                t.epoch(epoch, loss=loss, val_loss=val_loss)
                trial.report(val_loss, step=epoch)      # the step is the epoch
                if trial.should_prune():
                    raise optuna.TrialPruned()
        return val_loss

The history is what the index holds: keep `dnnprov index --follow`
running (or run `dnnprov index` between studies) so that finished runs
are in it.
"""
import math

import optuna

from . import query as _query


class HistoryPruner(optuna.pruners.BasePruner):
    """Prunes a trial that `dnnprov advise` says to stop.

    config: the experiment file whose index holds the history.
    metric: the metric the trial reports with trial.report() (default: the
        queries' main metric of the dataflow); the step reported is the epoch.
    goal: "min" or "max" (default: the study's direction).
    history, keep, where: as `dnnprov advise --history --keep --where`.
    warmup_steps: no pruning before this step.

    The advice behind the last decision is in `last_advice` (a dict, as
    dnnprov.Task.advice() returns; None when no advice was asked: before
    the warm-up, or a value that is NaN or infinite, which is pruned)."""

    def __init__(self, config, metric=None, *, goal=None, history=None, keep=None, where=None,
                 warmup_steps=0):
        if goal not in (None, "min", "max"):
            raise ValueError(f"goal is 'min' or 'max', not {goal!r}")
        self._config = config
        self._options = {"metric": metric, "history": history, "keep": keep, "where": where}
        self._goal = goal
        self._warmup = warmup_steps
        self.last_advice = None

    def prune(self, study, trial):
        self.last_advice = None
        step = trial.last_step
        if step is None or step < self._warmup:
            return False
        value = trial.intermediate_values[step]
        if not math.isfinite(value):
            return True  # advise's first rule, for a value no parameter can carry
        goal = self._goal or ("max" if study.direction == optuna.study.StudyDirection.MAXIMIZE else "min")
        self.last_advice = _query.advice(self._config, None, epoch=step, value=value,
                                         goal=goal, **self._options)
        return self.last_advice["decision"] == "stop"
