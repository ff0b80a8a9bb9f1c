"""dnnprov.optuna.HistoryPruner on a small real study: an MLP on
scikit-learn's digits (examples/torch_digits.py), each trial recorded as a
dnnprov task.  A first study of 10 trials with good learning rates, not
pruned, is the history (indexed by the caller between the two steps); a
second study, a new one, with HistoryPruner prunes its losing trials
(learning rates too small to learn in time, and one behind most of the
history with no run behind it that went on to win) and lets its good ones finish,
from the first study's runs alone; with too little history it prunes
nothing.

usage: steer_optuna.py history CONFIG      the first study
       steer_optuna.py prune CONFIG        the second, with the pruner
"""
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))

import optuna  # noqa: E402
import torch  # noqa: E402
import torch_digits as digits  # noqa: E402

import dnnprov  # noqa: E402
import dnnprov.optuna  # noqa: E402

EPOCHS = 4
GOOD = [0.002, 0.003, 0.004, 0.005, 0.006, 0.007, 0.008, 0.009, 0.01, 0.012]
LOSING = [1e-6, 3e-6]


def objective(config, splits):
    train, val, _ = splits

    def run(trial):
        lr = trial.suggest_float("lr", 1e-7, 1.0, log=True)
        torch.manual_seed(digits.SEED)
        generator = torch.Generator().manual_seed(digits.SEED)
        model = digits.make_model()
        optimizer = digits.make_optimizer("adam", model.parameters(), lr)
        t = dnnprov.Task(config, {"LEARNING_RATE": lr}, label="trial")
        try:
            for epoch in range(1, EPOCHS + 1):
                loss, accuracy = digits.train_epoch(model, optimizer, train, generator)
                val_loss, val_accuracy = digits.evaluate(model, val)
                t.epoch(epoch, loss=loss, accuracy=accuracy, val_loss=val_loss, val_accuracy=val_accuracy)
                trial.report(val_loss, step=epoch)
                if trial.should_prune():
                    t.end("KILLED", f"pruned at epoch {epoch}")
                    raise optuna.TrialPruned()
            t.end()
        finally:
            t.close()
        return val_loss
    return run


def study(config, splits, lrs, pruner=None):
    s = optuna.create_study(direction="minimize", pruner=pruner or optuna.pruners.NopPruner())
    for lr in lrs:
        s.enqueue_trial({"lr": lr})
    s.optimize(objective(config, splits), n_trials=len(lrs))
    return {t.params["lr"]: t.state.name + ("@%d" % t.last_step if t.state.name == "PRUNED" else "") for t in s.trials}


def main():
    what, config = sys.argv[1:3]
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    torch.set_num_threads(1)
    # The digits split and scaled as torch_digits.py's pipeline does it,
    # unrecorded: the studies record their trials only.
    with tempfile.TemporaryDirectory(prefix="steer-digits-") as artifacts:
        splits = digits.load_splits(digits.prepare(config, artifacts, record=False))
    if what == "history":
        states = study(config, splits, GOOD)
        print("history:", " ".join(sorted(set(states.values()))))
        return 0
    failed = 0
    # 0.011 and 0.009 are ahead of most of the history from the first epoch;
    # 0.004 is behind 7 of 10 runs at epoch 1, and no run that was where it
    # is went on to the best final value: the rule stops it, as it stops the
    # two that hardly learn.
    states = study(config, splits, [0.011, LOSING[0], GOOD[7], LOSING[1], GOOD[2]],
                   dnnprov.optuna.HistoryPruner(config, metric="val_loss"))
    want = {0.011: "COMPLETE", LOSING[0]: "PRUNED@1", GOOD[7]: "COMPLETE", LOSING[1]: "PRUNED@1", GOOD[2]: "PRUNED@1"}
    if states != want:
        print(f"FAIL: a new study pruned by the history: {states}, want {want}")
        failed += 1
    states = study(config, splits, [LOSING[0]], dnnprov.optuna.HistoryPruner(config, metric="val_loss", history=1000))
    if states != {LOSING[0]: "COMPLETE"}:
        print(f"FAIL: too little history prunes nothing: {states}")
        failed += 1
    print(f"steer_optuna: 2 checks, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
