#!/usr/bin/python3
"""A pipeline on scikit-learn's digits, recorded with dnnprov.

Each step is a task of the dataflow, with the data it read and wrote as
entities identified by their content (docs/LINEAGE.md):

  Load      the 8x8 digits that scikit-learn ships (digits.csv.gz, no
            download) into data/digits/ (X.npy, y.npy)
  Split     train, validation and test, 60/20/20, stratified, seeded
  Scale     each split divided by 16, the pixels' maximum
  training  a grid: a small MLP (64 -> 128 -> 10, ReLU, Dropout) for each of
            3 learning rates x 2 optimizers (SGD with momentum, Adam), with
            a StepLR schedule whose steps are recorded as adaptations; each
            configuration is one task, labelled after it (its id is
            `sgd-lr0.1-<time>-<host>-<pid>`, unique per run), recorded with
            dnnprov.torch.Recorder: the hyperparameters, the layers, per
            epoch loss, accuracy, val_loss and val_accuracy, a final test,
            the scaled data it used and the checkpoint it saved
  Select    the best configuration's checkpoint saved as models/best.pt
  Evaluate  the best model on the test set

The files go to a folder `digits-artifacts` beside the experiment file.

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
import shutil
import sys
import time
from collections import OrderedDict

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

import numpy  # noqa: E402
import sklearn.datasets  # noqa: E402
import torch  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

import dnnprov  # noqa: E402
import dnnprov.torch  # noqa: E402

SEED = 1
BATCH_SIZE = 64
GRID = [(name, lr) for name in ("sgd", "adam") for lr in (0.1, 0.01, 0.001)]
QUICK_GRID = [("sgd", 0.1), ("adam", 0.001)]
QUICK_EPOCHS = 3


RAW = os.path.join(os.path.dirname(sklearn.datasets.__file__), "data", "digits.csv.gz")
DIVISOR = 16.0  # the pixels' maximum


def save_set(folder, x, y):
    """A dataset as a folder of two .npy files (whose bytes depend on the
    arrays alone: the same data, the same fingerprint)."""
    os.makedirs(folder, exist_ok=True)
    numpy.save(os.path.join(folder, "X.npy"), x)
    numpy.save(os.path.join(folder, "y.npy"), y)
    return folder


def load_set(folder):
    return numpy.load(os.path.join(folder, "X.npy")), numpy.load(os.path.join(folder, "y.npy"))


class Step:
    """A pipeline step recorded as a task of its transformation, or, with
    --no-provenance, only run."""

    def __init__(self, config, transformation, record):
        self.task = dnnprov.Task(config, transformation=transformation,
                                 label=transformation.lower()) if record else None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self.task.__exit__(*exc) if self.task else False

    def __getattr__(self, name):  # element, used, generated
        return getattr(self.task, name) if self.task else (lambda *a, **k: None)


def prepare(config, artifacts, record):
    """Load, Split and Scale: the scaled train, validation and test folders."""
    data = os.path.join(artifacts, "data")
    with Step(config, "Load", record) as step:
        step.used("raw_data", RAW)
        digits = load_digits()
        step.generated("dataset", save_set(os.path.join(data, "digits"), digits.data, digits.target))
        step.element("Load", "oLoad", {"samples": len(digits.data), "features": digits.data.shape[1]})
    with Step(config, "Split", record) as step:
        step.element("Split", "iSplit", {"seed": SEED, "test_size": 0.2, "validation_size": 0.2})
        step.used("dataset", os.path.join(data, "digits"))
        x, y = load_set(os.path.join(data, "digits"))
        x_train, x_rest, y_train, y_rest = train_test_split(
            x, y, test_size=0.4, random_state=SEED, stratify=y)
        x_val, x_test, y_val, y_test = train_test_split(
            x_rest, y_rest, test_size=0.5, random_state=SEED, stratify=y_rest)
        parts = {"train": (x_train, y_train), "validation": (x_val, y_val), "test": (x_test, y_test)}
        for part, (xs, ys) in parts.items():
            step.generated(part + "_data", save_set(os.path.join(data, "split", part), xs, ys))
    scaled = {}
    with Step(config, "Scale", record) as step:
        step.element("Scale", "iScale", {"method": "max_abs", "divisor": DIVISOR})
        for part in ("train", "validation", "test"):
            src = os.path.join(data, "split", part)
            step.used(part + "_data", src)
            xs, ys = load_set(src)
            scaled[part] = save_set(os.path.join(data, "scaled", part), (xs / DIVISOR).astype("float32"), ys)
            step.generated(part + "_data", scaled[part])
    return scaled


def load_splits(scaled):
    """Train, validation and test tensors from the scaled folders."""
    def as_tensors(folder):
        x, y = load_set(folder)
        return torch.from_numpy(x), torch.from_numpy(y).long()
    return as_tensors(scaled["train"]), as_tensors(scaled["validation"]), as_tensors(scaled["test"])


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

    def used(self, role, path, **kw):
        pass

    def generated(self, role, path, **kw):
        pass


def run(config, name, lr, epochs, splits, scaled, checkpoints, record=True):
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
        rec.used("train_data", scaled["train"])
        rec.used("validation_data", scaled["validation"])
        for epoch in range(1, epochs + 1):
            rec.epoch_begin(epoch)
            loss, accuracy = train_epoch(model, optimizer, train, generator)
            val_loss, val_accuracy = evaluate(model, val)
            rec.epoch_end(epoch, loss=loss, accuracy=accuracy,
                          val_loss=val_loss, val_accuracy=val_accuracy)
            scheduler.step()
        test_loss, test_accuracy = evaluate(model, test)
        rec.test(loss=test_loss, accuracy=test_accuracy)
        checkpoint = os.path.join(checkpoints, rec.id + ".pt")
        torch.save(model.state_dict(), checkpoint)
        rec.generated("checkpoint", checkpoint)
    print(f"{rec.id}: val_accuracy={val_accuracy:.4f} val_loss={val_loss:.4f} "
          f"test_accuracy={test_accuracy:.4f}", flush=True)
    return (val_accuracy, val_loss), rec.id, type(optimizer).__name__, checkpoint


def select_and_evaluate(config, artifacts, best, test, scaled, record):
    """Select saves the best configuration's model; Evaluate tests it."""
    (_, task_id, optimizer, lr, val_accuracy, checkpoint) = best
    models = os.path.join(artifacts, "models")
    os.makedirs(models, exist_ok=True)
    model_path = os.path.join(models, "best.pt")
    with Step(config, "Select", record) as step:
        step.element("Select", "iSelect", {"metric": "val_accuracy", "rule": "max of the last epoch"})
        step.used("checkpoint", checkpoint)
        torch.save({"task": task_id, "optimizer": optimizer, "lr": lr, "state_dict": torch.load(checkpoint)},
                   model_path)
        step.generated("model", model_path)
        step.element("Select", "oSelect", {"task": task_id, "value": val_accuracy})
    with Step(config, "Evaluate", record) as step:
        step.used("model", model_path)
        step.used("test_data", scaled["test"])
        model = make_model()
        model.load_state_dict(torch.load(model_path)["state_dict"])
        loss, accuracy = evaluate(model, test)
        step.element("Evaluate", "oEvaluate", {"loss": loss, "accuracy": accuracy})
    return model_path, accuracy


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
    record = not args.no_provenance
    artifacts = os.path.join(os.path.dirname(os.path.abspath(args.config)), "digits-artifacts")
    checkpoints = os.path.join(artifacts, "checkpoints")
    os.makedirs(checkpoints, exist_ok=True)
    scaled = prepare(args.config, artifacts, record)
    splits = load_splits(scaled)
    started = time.perf_counter()
    results = []
    for name, lr in QUICK_GRID if args.quick else GRID:
        (val_accuracy, val_loss), task_id, optimizer, checkpoint = run(
            args.config, name, lr, epochs, splits, scaled, checkpoints, record=record)
        results.append((-val_accuracy, task_id, optimizer, lr, val_accuracy, checkpoint))
    print(f"{len(results)} configurations, {epochs} epochs each, "
          f"in {time.perf_counter() - started:.2f} s", flush=True)
    best = min(results)
    model_path, test_accuracy = select_and_evaluate(args.config, artifacts, best, splits[2], scaled, record)
    print(f"model: {model_path} test_accuracy={test_accuracy:.4f}")
    _, task_id, optimizer, lr, val_accuracy, _ = best
    print(f"best: task={task_id} optimizer={optimizer} lr={lr:g} val_accuracy={val_accuracy!r}")


if __name__ == "__main__":
    main()
