#!/usr/bin/python3
"""The cost of one Task.epoch() call with five float metrics, beside its
floor: the same C call made straight through ctypes with an array built
once.  Prints, per durability mode, the median over 20 batches of 2000
calls, in microseconds (bench/bench_append.c measures the C side alone).

    PYTHONPATH=python /usr/bin/python3 python/bench_epoch.py [MODE ...]
"""

import ctypes
import math
import os
import statistics
import sys
import tempfile
import time

import dnnprov
from dnnprov import _native

BATCHES, CALLS = 20, 2000
METRICS = {"loss": 0.5, "accuracy": 0.9, "val_loss": 0.6, "val_accuracy": 0.8, "lr": 0.1}


def median_us(calls):
    batches = []
    for _ in range(BATCHES):
        start = time.perf_counter()
        calls()
        batches.append((time.perf_counter() - start) / CALLS * 1e6)
    return statistics.median(batches)


def measure(folder, mode):
    config = os.path.join(folder, f"{mode}.yaml")
    with open(config, "w") as f:
        f.write(f"dataflow: bench\nmetrics: [loss, accuracy]\nlog:\n  durability: {mode}\n")
    with dnnprov.Task(config, task_id=mode) as t:
        def binding():
            epoch = t.epoch
            for i in range(CALLS):
                epoch(i, loss=0.5, accuracy=0.9, val_loss=0.6, val_accuracy=0.8, lr=0.1)

        names = [name.encode() for name in METRICS]
        array = (_native.Value * len(names))()
        for slot, name, value in zip(array, names, METRICS.values()):
            slot.name = ctypes.cast(name, ctypes.c_void_p).value
            slot.type = _native.REAL
            slot.as_.r = value
        append, handle = _native.lib.dnnprov_task_epoch, t._handle

        def floor():
            for i in range(CALLS):
                append(handle, i, math.nan, array, 5)

        return median_us(binding), median_us(floor)


def main():
    modes = sys.argv[1:] or ["interval", "buffered"]
    with tempfile.TemporaryDirectory() as folder:
        print(f"{'durability':<10}  {'Task.epoch()':>12}  {'raw ctypes':>10}  (us per call, median)")
        for mode in modes:
            binding, floor = measure(folder, mode)
            print(f"{mode:<10}  {binding:12.2f}  {floor:10.2f}")


if __name__ == "__main__":
    main()
