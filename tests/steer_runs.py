"""Runs of known shapes for tests/test_steer.sh, written through the Python
binding, and the check of the index's health events against the rules
replayed from the logs (tests/logmodel.py, docs/STEERING.md).

usage: steer_runs.py kinds CONFIG          a NaN run, a diverging run, a plateau run
       steer_runs.py hostile CONFIG        NaN payloads, denormals, +-1e308, -0.0
       steer_runs.py random CONFIG SEED N  N random walks, some exploding, some flat
       steer_runs.py history CONFIG        100 finished runs and 4 left at epoch 5
       steer_runs.py nan CONFIG N          N runs that go NaN at their third epoch
       steer_runs.py check DNNPROV CONFIG LOGS   the index's events and health against the model
       steer_runs.py advice CONFIG TASK [K=V...]  Task.advice() of TASK, as the test prints advise

Each writer prints the ids of the tasks it wrote, one a line, as
"<shape> <id>".
"""
import json
import math
import random
import struct
import subprocess
import sys

import dnnprov
from logmodel import health, replay


def bits(u):
    """The double whose IEEE bits are u (NaN payloads, signalling NaNs)."""
    return struct.unpack("<d", struct.pack("<Q", u))[0]


def run(config, shape, losses, end=True, **extra):
    t = dnnprov.Task(config, {"LEARNING_RATE": 0.1}, label=shape)
    for e, v in enumerate(losses, 1):
        t.epoch(e, loss=v, **{k: f(e) for k, f in extra.items()})
    if end:
        t.end()
        t.close()
    print(shape, t.id, flush=True)
    return t


def kinds(config):
    run(config, "nan", [2.0, 1.5, 1.2, math.nan, math.nan, math.nan])
    # Learned 2.3 -> 0.5, then worse than it started for four epochs.
    run(config, "diverge", [2.3, 1.4, 0.9, 0.6, 0.5, 0.55, 3.0, 3.5, 4.0, 5.0])
    # Learned, then flat within 1% of what it learned for twelve epochs.
    run(config, "plateau", [2.3, 1.4, 0.9, 0.6, 0.5] + [0.5 + 0.001 * (e % 2) for e in range(12)])


def hostile(config):
    # A NaN with a payload, a signalling NaN, a negative NaN: one event, at
    # the first; never a divergence or a plateau of the NaN.
    run(config, "payload", [1.0, 0.9, bits(0x7ff8000000000123), bits(0x7ff0000000000001), bits(0xfff8000000000000),
                            0.8])
    # Denormals, and values a denormal apart.
    run(config, "denormal", [5e-324 * k for k in (9, 8, 8, 7, 9, 6, 6, 5)])
    # The ends of the doubles: differences that pass a double's range.
    run(config, "huge", [1e308, -1e308, 1e308, -1e308, 1.7e308, -1.7e308, 1e308, -1e308])
    run(config, "zeros", [0.0, -0.0, 0.0, -0.0, 0.0, -0.0, 0.0, -0.0])
    # Higher is better (accuracy), near zero and negative.
    t = dnnprov.Task(config, {"LEARNING_RATE": 0.1}, label="negative")
    for e, v in enumerate([-1e-9, -5e-10, -1e-10, -2e-10, -1e-10, -3e-10, -1e-10, -1e-10], 1):
        t.epoch(e, accuracy=v)
    t.end()
    t.close()
    print("negative", t.id, flush=True)


def random_walks(config, seed, n):
    rng = random.Random(seed)
    for i in range(n):
        v, losses = rng.uniform(0.5, 3.0), []
        explode = rng.random() < 0.3
        flat = rng.random() < 0.3
        for e in range(rng.randint(5, 40)):
            if explode and e > 10:
                v *= rng.uniform(1.0, 1.8)
            elif flat and e > 5:
                v += rng.uniform(-1e-4, 1e-4)
            else:
                v *= rng.uniform(0.8, 1.05)
            losses.append(math.nan if rng.random() < 0.02 else v)
        run(config, "walk", losses, val_loss=lambda e: losses[e - 1] * 1.1 if e % 3 else math.inf)


def history(config):
    """Loss a_i + 1/(e+1) for 99 ordinary runs (a_i = 0.1 + 0.01 i), and one
    late bloomer: at epoch 5 where the run a = 0.8 is, yet the best final
    value of all (0.05).  Four runs stopped at epoch 5: behind every run,
    ahead of every run, just ahead of the bloomer, just behind it."""
    for i in range(99):
        run(config, "finished", [0.1 + 0.01 * i + 1 / (e + 1) for e in range(1, 11)])
    bloomer = [0.8 + 1 / (e + 1) for e in range(1, 6)] + [0.6, 0.3, 0.1, 0.06, 0.05]
    run(config, "bloomer", bloomer)
    at5 = bloomer[4]
    left = []
    for shape, v in (("behind", 5.0), ("ahead", 0.01), ("before-bloomer", at5 - 1e-6), ("after-bloomer", at5 + 1e-6)):
        left.append(run(config, shape, [v + 0.1 * (5 - e) for e in range(1, 6)], end=False))
    for t in left:
        t.close()  # no end: they stopped at epoch 5


def nan_runs(config, n):
    for _ in range(n):
        run(config, "nan", [1.0, 0.9, math.nan, 0.8])


def check(dn, config, logs):
    """Every task's events and health, as the index has them and as the
    rules give them from the logs."""
    cat = subprocess.run([dn, "cat", "--seconds", logs], capture_output=True, text=True, check=True)
    records = [json.loads(line) for line in cat.stdout.splitlines() if line.strip()]
    problems = checked = 0
    for df, d in replay(records).items():
        got = subprocess.run([dn, "sql", "-c", config, "--format", "json",
                              "select task, rule, epoch from events where dataflow = '%s'" % df],
                             capture_output=True, text=True, check=True)
        rows = json.loads(got.stdout)["rows"]
        stored = sorted((r["task"], r["rule"], r["epoch"]) for r in rows)
        checked += len(stored)
        want = sorted((tid, rule, e) for tid, t in d["tasks"].items() for rule, e in health(t)[0])
        if stored != want:
            problems += 1
            print("events of %s: index %s, rules %s" % (df, sorted(set(stored) - set(want)),
                                                          sorted(set(want) - set(stored))), file=sys.stderr)
        got = subprocess.run([dn, "sql", "-c", config, "--format", "json",
                              "select task, health from tasks where dataflow = '%s' and status != 'RUNNING'" % df],
                             capture_output=True, text=True, check=True)
        for r in json.loads(got.stdout)["rows"]:
            want_state = health(d["tasks"][r["task"]])[1]
            if r["health"] != want_state:
                problems += 1
                print("health of %s: index %s, rules %s" % (r["task"], r["health"], want_state), file=sys.stderr)
    print("%d events checked, %d problems" % (checked, problems))
    return 1 if problems else 0


if __name__ == "__main__":
    what = sys.argv[1]
    if what == "kinds":
        kinds(sys.argv[2])
    elif what == "hostile":
        hostile(sys.argv[2])
    elif what == "random":
        random_walks(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif what == "history":
        history(sys.argv[2])
    elif what == "nan":
        nan_runs(sys.argv[2], int(sys.argv[3]))
    elif what == "advice":
        # Task.advice() of a task the history left at epoch 5, opened to add records.
        with dnnprov.Task(sys.argv[2], task_id=sys.argv[3], begin=False) as t:
            a = t.advice(**dict(kv.split("=", 1) for kv in sys.argv[4:]))
        print(a["decision"], *("%g" % a[k] for k in ("runs", "percentile", "in_position", "reached_best", "best_final")))
    elif what == "check":
        sys.exit(check(sys.argv[2], sys.argv[3], sys.argv[4]))
    else:
        sys.exit(__doc__)
