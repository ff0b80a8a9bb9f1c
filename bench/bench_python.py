#!/usr/bin/python3
"""Python rows of `make bench`: the cost of one Task.epoch() call with five
float metrics, beside the storage layer of a SQL-backed tracker (Python's
sqlite3 doing one INSERT and COMMIT per metric value, WAL, synchronous=NORMAL)
and beside its floor (the same C call made straight through ctypes with an
array built once).  Medians of batches; prints markdown table rows.

    DNNPROV_LIB=build/libdnnprov.so PYTHONPATH=python /usr/bin/python3 bench/bench_python.py [--quick] DIR
"""

import ctypes
import math
import os
import sqlite3
import statistics
import sys
import time

import dnnprov
from dnnprov import _native

METRICS = {"loss": 0.5, "accuracy": 0.9, "val_loss": 0.6, "val_accuracy": 0.8, "lr": 0.1}


def median_per_call(calls, n, batches):
    per = []
    for _ in range(batches):
        start = time.perf_counter()
        calls(n)
        per.append((time.perf_counter() - start) / n)
    return statistics.median(per)


def fmt(seconds):
    us = seconds * 1e6
    return f"{us:.1f} µs" if us < 10000 else f"{us / 1000:.1f} ms"


def measure(folder, mode, n, batches):
    config = os.path.join(folder, f"{mode}.yaml")
    with open(config, "w") as f:
        f.write(f"dataflow: bench\nlog_dir: logs-{mode}\nmetrics: [loss, accuracy]\nfree_metrics: true\n"
                f"log:\n  durability: {mode}\n")
    with dnnprov.Task(config, task_id=mode) as t:
        def binding(count):
            epoch = t.epoch
            for i in range(count):
                epoch(i, loss=0.5, accuracy=0.9, val_loss=0.6, val_accuracy=0.8, lr=0.1)

        names = [name.encode() for name in METRICS]
        array = (_native.Value * len(names))()
        for slot, name, value in zip(array, names, METRICS.values()):
            slot.name = ctypes.cast(name, ctypes.c_void_p).value
            slot.type = _native.REAL
            slot.as_.r = value
        append, handle = _native.lib.dnnprov_task_epoch, t._handle

        def floor(count):
            for i in range(count):
                append(handle, i, math.nan, array, 5)

        return median_per_call(binding, n, batches), median_per_call(floor, n, batches)


def sqlite_peer(folder, n, batches):
    db = sqlite3.connect(os.path.join(folder, "tracker.sqlite"), isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE metrics(run TEXT, key TEXT, value REAL, step INTEGER, time REAL)")
    step = [0]

    def one_epoch_per_call(count):
        for _ in range(count):
            step[0] += 1
            for key, value in METRICS.items():
                db.execute("BEGIN")
                db.execute("INSERT INTO metrics VALUES (?, ?, ?, ?, ?)",
                           ("run", key, value, step[0], time.time()))
                db.execute("COMMIT")

    result = median_per_call(one_epoch_per_call, n, batches)
    db.close()
    return result


def training_seconds(folder, quick, record):
    """The digits grid's own training time (it prints it), with or without
    dnnprov recording."""
    import re
    import subprocess
    here = os.path.dirname(os.path.abspath(__file__))
    config = os.path.join(folder, "digits.yaml")
    with open(os.path.join(here, "..", "examples", "digits.yaml")) as src, open(config, "w") as dst:
        dst.write("".join(l for l in src if not l.startswith(("log_dir:", "index_dir:"))))
        dst.write("log_dir: digits-logs\n")
    cmd = [sys.executable, os.path.join(here, "..", "examples", "torch_digits.py"), "--config", config]
    cmd += (["--quick"] if quick else []) + ([] if record else ["--no-provenance"])
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return float(re.search(r"in ([0-9.]+) s", out).group(1))


def main():
    quick = "--quick" in sys.argv
    folder = [a for a in sys.argv[1:] if a != "--quick"][0]
    os.makedirs(folder, exist_ok=True)
    n, batches = (500, 11) if quick else (2000, 21)
    binding, floor = measure(folder, "interval", n, batches)
    peer = sqlite_peer(folder, max(n // 10, 20), batches)
    print(f"| capture Python, Task.epoch() with 5 metrics vs sqlite3 INSERT+COMMIT per value "
          f"(WAL/NORMAL) | {fmt(binding)} | {fmt(peer)} | {peer / binding:.1f}× faster | "
          f"raw ctypes call {fmt(floor)} | {batches} |")
    binding, floor = measure(folder, "buffered", n, batches)
    print(f"| capture Python, Task.epoch(), buffered | {fmt(binding)} | — | — | "
          f"raw ctypes call {fmt(floor)} | {batches} |", flush=True)
    runs = 1 if quick else 5
    with_, without = [], []
    for _ in range(runs):   # interleaved, so that drift hits both alike
        with_.append(training_seconds(folder, quick, True))
        without.append(training_seconds(folder, quick, False))
    spread = (max(without) - min(without)) / statistics.median(without)
    print(f"| training the digits grid{' (quick)' if quick else ''} with dnnprov vs without | "
          f"{statistics.median(with_):.2f} s | {statistics.median(without):.2f} s | "
          f"{statistics.median(with_) / statistics.median(without):.3f}× the time | "
          f"run-to-run spread without: {spread * 100:.0f}% | {runs} |", flush=True)


if __name__ == "__main__":
    main()
