#!/usr/bin/python3
"""An Optuna study on scikit-learn's digits, recorded with dnnprov, then asked
which parameter mattered.

Each trial trains the MLP of torch_digits.py (64 -> hidden -> 10, ReLU,
Dropout) with a sampled learning rate, hidden width and optimizer; SGD
trials also sample a momentum, a parameter that first appears in whichever
trial first picks SGD.  Each epoch's validation accuracy is reported to
Optuna, whose median pruner stops trials that fall behind: those end
PRUNED.  dnnprov.optuna.ProvenanceCallback records every trial as a task
of the dataflow `optuna-digits`, writing and extending the experiment file
as parameters appear.  Then the script indexes the logs and asks
`dnnprov effect` of each parameter: the one whose value ranks the final
validation accuracy most (|Spearman's rho|) is printed last.

Seeded (the sampler, the split, each trial's initialization and batches)
and on one thread, so two runs give the same numbers.

    /usr/bin/python3 examples/optuna_digits.py            # 16 trials, 8 epochs
    /usr/bin/python3 examples/optuna_digits.py --quick    # 8 trials, 4 epochs
    dnnprov serve -c optuna-digits.yaml                    # the same, on the dashboard

The last line printed:
    mattered most: <parameter> (spearman <rho> over <n> finished trials)
"""

import argparse
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
sys.path.insert(0, HERE)

import optuna  # noqa: E402
import torch  # noqa: E402

import dnnprov  # noqa: E402
import dnnprov.optuna  # noqa: E402
from torch_digits import SEED, evaluate, load_splits, prepare, train_epoch  # noqa: E402

METRIC = "val_accuracy"


def make_model(hidden):
    from collections import OrderedDict
    return torch.nn.Sequential(OrderedDict(
        hidden=torch.nn.Linear(64, hidden), relu=torch.nn.ReLU(), dropout=torch.nn.Dropout(0.2),
        output=torch.nn.Linear(hidden, 10)))


def objective_for(splits, epochs):
    train, val, _ = splits

    def objective(trial):
        lr = trial.suggest_float("lr", 1e-4, 0.3, log=True)
        hidden = trial.suggest_int("hidden", 8, 128, log=True)
        kind = trial.suggest_categorical("optimizer", ["sgd", "adam"])
        torch.manual_seed(SEED + trial.number)
        generator = torch.Generator().manual_seed(SEED + trial.number)
        model = make_model(hidden)
        if kind == "sgd":
            momentum = trial.suggest_float("momentum", 0.0, 0.95)
            optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
        else:
            optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        accuracy = 0.0
        for epoch in range(1, epochs + 1):
            train_epoch(model, optimizer, train, generator)
            _, accuracy = evaluate(model, val)
            trial.report(accuracy, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return accuracy

    return objective


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="optuna-digits.yaml",
                        help="the experiment file the callback writes and extends (default: %(default)s)")
    parser.add_argument("--trials", type=int, help="trials (default: 16, or 8 with --quick)")
    parser.add_argument("--epochs", type=int, help="epochs per trial (default: 8, or 4 with --quick)")
    parser.add_argument("--quick", action="store_true", help="a small study, for tests")
    parser.add_argument("--dnnprov", default="dnnprov", help="the dnnprov command (default: on PATH)")
    args = parser.parse_args()
    trials = args.trials or (8 if args.quick else 16)
    epochs = args.epochs or (4 if args.quick else 8)

    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    callback = dnnprov.optuna.ProvenanceCallback(args.config, metric=METRIC, dataflow="optuna-digits")
    study = optuna.create_study(study_name="digits", direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=SEED, n_startup_trials=4),
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1))
    # The digits split and scaled as torch_digits.py's pipeline does it,
    # unrecorded: the study records its trials only.
    with tempfile.TemporaryDirectory(prefix="optuna-digits-") as artifacts:
        splits = load_splits(prepare(args.config, artifacts, record=False))
    study.optimize(callback.objective(objective_for(splits, epochs)), n_trials=trials,
                   callbacks=[callback])
    states = [t.state.name for t in study.trials]
    print(f"{trials} trials: {states.count('COMPLETE')} complete, {states.count('PRUNED')} pruned; "
          f"best {METRIC}={study.best_value!r} with {study.best_params}", flush=True)

    subprocess.run([args.dnnprov, "index", "-c", args.config, "-q"], check=True)
    strongest = None
    for name in sorted(study.best_params.keys() | {"momentum"}):
        hyperparameter = dnnprov.optuna.hyperparameter_name(name)
        rows = dnnprov.effect(args.config, hyperparameter, metric=METRIC, where="status = 'finished'")
        rows = rows.to_dict("records") if hasattr(rows, "to_dict") else rows
        rho = next((r["spearman"] for r in rows if r.get("spearman") not in (None, "")), None)
        n = sum(int(r["n"]) for r in rows)
        print(f"{hyperparameter}: " + "; ".join(f"{r[hyperparameter]} -> mean {r['mean']:.4f} (n={r['n']})"
                                                for r in rows) + (f"; spearman {rho:.3f}" if rho is not None
                                                                  and rho == rho else ""))
        if rho is not None and rho == rho and (strongest is None or abs(rho) > abs(strongest[1])):
            strongest = (hyperparameter, rho, n)
    if strongest:
        print(f"mattered most: {strongest[0]} (spearman {strongest[1]:.3f} over {strongest[2]} finished trials)")


if __name__ == "__main__":
    main()
