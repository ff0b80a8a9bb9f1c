#!/usr/bin/python3
"""A grid search on scikit-learn's digits, recorded with dnnprov.

Trains a small MLP (64 -> 128 -> 10, ReLU, Dropout) on the 8x8 digits that
scikit-learn ships (no download) for each of 3 learning rates x 2 optimizers
(SGD with momentum, Adam), with a StepLR schedule whose steps are recorded as
adaptations.  Each configuration is one task, labelled after it: its id is
`sgd-lr0.1-<time>-<host>-<pid>`, unique per run, recorded with
dnnprov.torch.Recorder: the hyperparameters, the layers, per epoch loss,
accuracy, val_loss and val_accuracy, and a final test.

Everything is seeded (the split, the initialization, the batch order) and
runs on one thread, so two runs give the same numbers.  Running it again
with the same log folder records new tasks beside the earlier ones: a run
is never merged into another (docs/RUNS.md).

    /usr/bin/python3 examples/torch_digits.py            # the full grid, 20 epochs
    /usr/bin/python3 examples/torch_digits.py --quick    # 2 configurations, 3 epochs
    dnnprov index --config examples/digits.yaml

The last line printed is the best configuration by final-epoch
val_accuracy (ties: the task id), the rule of
`dnnprov compare --metric val_accuracy --agg last`:
    best: task=<task id> optimizer=<name> lr=<lr> val_accuracy=<value>
"""

import argparse
import os
import sys
import time
from collections import OrderedDict

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

import torch  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

import dnnprov.torch  # noqa: E402

SEED = 1
BATCH_SIZE = 64
GRID = [(name, lr) for name in ("sgd", "adam") for lr in (0.1, 0.01, 0.001)]
QUICK_GRID = [("sgd", 0.1), ("adam", 0.001)]
QUICK_EPOCHS = 3


def load_splits():
    """Train, validation and test tensors: 60/20/20, stratified, seeded."""
    digits = load_digits()
    x = digits.data.astype("float32") / 16.0
    y = digits.target
    x_train, x_rest, y_train, y_rest = train_test_split(
        x, y, test_size=0.4, random_state=SEED, stratify=y)
    x_val, x_test, y_val, y_test = train_test_split(
        x_rest, y_rest, test_size=0.5, random_state=SEED, stratify=y_rest)
    as_tensors = lambda a, b: (torch.from_numpy(a), torch.from_numpy(b).long())  # noqa: E731
    return as_tensors(x_train, y_train), as_tensors(x_val, y_val), as_tensors(x_test, y_test)


def make_model():
    # Named layers, so that the recorded layer facts read "relu", "dropout".
    return torch.nn.Sequential(OrderedDict(
        hidden=torch.nn.Linear(64, 128),
        relu=torch.nn.ReLU(),
        dropout=torch.nn.Dropout(0.2),
        output=torch.nn.Linear(128, 10),
    ))


def make_optimizer(name, params, lr):
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9)
    return torch.optim.Adam(params, lr=lr)


def train_epoch(model, optimizer, data, generator):
    """One pass over the training set in seeded random batches: (loss, accuracy)."""
    x, y = data
    model.train()
    total_loss, correct = 0.0, 0
    for batch in torch.randperm(len(x), generator=generator).split(BATCH_SIZE):
        optimizer.zero_grad()
        out = model(x[batch])
        loss = torch.nn.functional.cross_entropy(out, y[batch])
        loss.backward()
        optimizer.step()
        total_loss += loss.item() * len(batch)
        correct += (out.argmax(1) == y[batch]).sum().item()
    return total_loss / len(x), correct / len(x)


@torch.no_grad()
def evaluate(model, data):
    """(loss, accuracy) on a whole set, dropout off."""
    x, y = data
    model.eval()
    out = model(x)
    loss = torch.nn.functional.cross_entropy(out, y).item()
    return loss, (out.argmax(1) == y).sum().item() / len(y)


class NoRecorder:
    """The recorder's methods, doing nothing: --no-provenance, to measure
    what recording costs the training."""

    def __init__(self, task_id):
        self.id = task_id

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def epoch_begin(self, epoch):
        pass

    def epoch_end(self, epoch, **metrics):
        pass

    def test(self, **metrics):
        pass


def run(config, name, lr, epochs, splits, record=True):
    """Trains and records one configuration; returns its final-epoch validation
    (accuracy, loss), the recorded task id and the optimizer's class name."""
    train, val, test = splits
    torch.manual_seed(SEED)
    generator = torch.Generator().manual_seed(SEED)
    model = make_model()
    optimizer = make_optimizer(name, model.parameters(), lr)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=max(1, epochs // 3), gamma=0.5)
    # A label, not an id: each run of the script is new runs, with ids of
    # their own (sgd-lr0.1-<time>-<host>-<pid>), never a rerun merged into
    # the last one.
    label = f"{name}-lr{lr:g}"
    rec = dnnprov.torch.Recorder(config=config, model=model, optimizer=optimizer,
                                 scheduler=scheduler, epochs=epochs, batch_size=BATCH_SIZE,
                                 hyperparameters={"seed": SEED}, label=label) if record \
        else NoRecorder(label)
    with rec:
        for epoch in range(1, epochs + 1):
            rec.epoch_begin(epoch)
            loss, accuracy = train_epoch(model, optimizer, train, generator)
            val_loss, val_accuracy = evaluate(model, val)
            rec.epoch_end(epoch, loss=loss, accuracy=accuracy,
                          val_loss=val_loss, val_accuracy=val_accuracy)
            scheduler.step()
        test_loss, test_accuracy = evaluate(model, test)
        rec.test(loss=test_loss, accuracy=test_accuracy)
    print(f"{rec.id}: val_accuracy={val_accuracy:.4f} val_loss={val_loss:.4f} "
          f"test_accuracy={test_accuracy:.4f}", flush=True)
    return (val_accuracy, val_loss), rec.id, type(optimizer).__name__


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--config", default=os.path.join(here, "digits.yaml"),
                        help="the experiment file (default: digits.yaml beside this script)")
    parser.add_argument("--epochs", type=int, help=f"epochs per configuration "
                        f"(default: 20, or {QUICK_EPOCHS} with --quick)")
    parser.add_argument("--no-provenance", action="store_true",
                        help="train without recording (to measure what recording costs)")
    parser.add_argument("--quick", action="store_true",
                        help=f"{len(QUICK_GRID)} configurations instead of {len(GRID)}, for tests")
    args = parser.parse_args()
    epochs = args.epochs or (QUICK_EPOCHS if args.quick else 20)
    if epochs < 1:
        parser.error("--epochs must be at least 1")

    torch.set_num_threads(1)
    splits = load_splits()
    started = time.perf_counter()
    results = []
    for name, lr in QUICK_GRID if args.quick else GRID:
        (val_accuracy, val_loss), task_id, optimizer = run(args.config, name, lr, epochs, splits,
                                                           record=not args.no_provenance)
        results.append((-val_accuracy, task_id, optimizer, lr, val_accuracy))
    print(f"{len(results)} configurations, {epochs} epochs each, "
          f"in {time.perf_counter() - started:.2f} s", flush=True)
    _, task_id, optimizer, lr, val_accuracy = min(results)
    print(f"best: task={task_id} optimizer={optimizer} lr={lr:g} val_accuracy={val_accuracy!r}")


if __name__ == "__main__":
    main()
