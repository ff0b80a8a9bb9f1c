#!/usr/bin/python3
"""Python rows of `make bench`: the cost of one Task.epoch() call with five
float metrics, beside the storage layer of a SQL-backed tracker (Python's
sqlite3 doing one INSERT of the epoch's row and its COMMIT, WAL, synchronous=NORMAL)
and beside its floor (the same C call made straight through ctypes with an
array built once); what run facts add to a begin in a git work tree, once
the first begin asked git; and `import dnnprov`.  Medians of batches;
prints markdown table rows.

    DNNPROV_LIB=build/libdnnprov.so PYTHONPATH=python /usr/bin/python3 bench/bench_python.py [--quick] DIR
"""

import ctypes
import math
import os
import sqlite3
import statistics
import subprocess
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
    """Python's sqlite3 at its best for the same record: a table shaped like
    an epoch record (a column per metric), one prepared INSERT and its
    COMMIT per epoch, WAL with synchronous=NORMAL (durable at the commit
    as far as the process goes, as dnnprov's default is)."""
    db = sqlite3.connect(os.path.join(folder, "tracker.sqlite"), isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    names = list(METRICS)
    db.execute("CREATE TABLE epochs(run TEXT, step INTEGER, time REAL, %s)" % ", ".join("%s REAL" % m for m in names))
    insert = "INSERT INTO epochs VALUES (?, ?, ?%s)" % (", ?" * len(names))
    values = tuple(METRICS.values())
    step = [0]

    def one_epoch_per_call(count):
        for _ in range(count):
            step[0] += 1
            db.execute("BEGIN")
            db.execute(insert, ("run", step[0], time.time()) + values)
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


def begins_with_facts(folder, n):
    """Seconds per begin (open, begin, end, close) of runs with and without
    run facts, in a git work tree, the first begin of each not counted; and
    the first begin with facts (git asked)."""
    repo = os.path.join(folder, "repo")
    os.makedirs(repo, exist_ok=True)
    git = ["git", "-C", repo, "-c", "user.email=b@b", "-c", "user.name=b"]
    subprocess.run(git[:3] + ["init", "-q"], check=True)
    with open(os.path.join(repo, "train.py"), "w") as f:
        f.write("# the script a sweep runs\n")
    subprocess.run(git + ["add", "train.py"], check=True)
    subprocess.run(git + ["commit", "-q", "-m", "one"], check=True)
    argv, sys.argv = sys.argv, [os.path.join(repo, "train.py")]
    per, first = {}, 0.0
    try:
        for facts in (True, False):
            config = os.path.join(folder, f"facts-{facts}.yaml")
            with open(config, "w") as f:
                f.write(f"dataflow: bench\nlog_dir: logs-facts-{facts}\nmetrics: [loss]\n"
                        f"facts: {'true' if facts else 'false'}\nlog:\n  durability: buffered\n")
            times = []
            for i in range(n + 1):
                start = time.perf_counter()
                with dnnprov.Task(config, task_id=f"run-{i}"):
                    pass
                times.append(time.perf_counter() - start)
            if facts:
                first = times[0]
            per[facts] = statistics.median(times[1:])
    finally:
        sys.argv = argv
    return per[True], per[False], first


def import_seconds(runs):
    """The median of `import dnnprov` in a new interpreter, less that of
    starting one; and which of pandas, numpy, torch it imported."""
    env = dict(os.environ)
    def run(code):
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        return time.perf_counter() - start, out.stdout.strip()
    bare = statistics.median(run("pass")[0] for _ in range(runs))
    probe = "import sys, dnnprov; print(' '.join(m for m in ('pandas', 'numpy', 'torch') if m in sys.modules))"
    timed = [run(probe) for _ in range(runs)]
    return statistics.median(t for t, _ in timed) - bare, timed[0][1]


def main():
    quick = "--quick" in sys.argv
    folder = [a for a in sys.argv[1:] if a != "--quick"][0]
    os.makedirs(folder, exist_ok=True)
    n, batches = (500, 11) if quick else (2000, 21)
    binding, floor = measure(folder, "interval", n, batches)
    peer = sqlite_peer(folder, max(n // 10, 20), batches)
    print(f"| capture Python, Task.epoch() with 5 metrics vs sqlite3 INSERT+COMMIT of the epoch's row "
          f"(WAL/NORMAL) | {fmt(binding)} | {fmt(peer)} | {peer / binding:.1f}× faster | "
          f"raw ctypes call {fmt(floor)} | {batches} |")
    binding, floor = measure(folder, "buffered", n, batches)
    print(f"| capture Python, Task.epoch(), buffered | {fmt(binding)} | — | — | "
          f"raw ctypes call {fmt(floor)} | {batches} |", flush=True)
    with_facts, without_facts, first = begins_with_facts(folder, 50 if quick else 200)
    print(f"| Python run facts: Task open+begin+close in a git work tree, facts on vs off (after the first) | "
          f"{fmt(with_facts)} | {fmt(without_facts)} | facts add {fmt(max(with_facts - without_facts, 0))} a begin "
          f"| the first begin, which runs git: {fmt(first)} | {50 if quick else 200} |", flush=True)
    seconds, imported = import_seconds(3 if quick else 7)
    print(f"| `import dnnprov` in a new interpreter (less starting it) | {fmt(seconds)} | — | — | "
          f"target ≤ 30 ms; frameworks imported: {imported or 'none'} | {3 if quick else 7} |", flush=True)
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
