#!/usr/bin/env python3
"""Checks that an index dump (tests/tools/dump_index) is a consistent
snapshot: every task's epoch count equals its epoch entries, every epoch
belongs to a task, and every summary counts exactly the epochs that carry
its metric; every summary with a value has one ranks key, at its best by
the metric's goal, holding its task's declared hyperparameters, and no
other ranks key exists; starts lists every task at its start; counts has
each dataflow's tasks and each hyperparameter value's hyp_index keys.  A
half-applied batch would break one of these."""
import collections
import json
import sys

def float_cells(row):
    """name=value cells, numbers as floats (%.17g and repr spell them apart)."""
    out = []
    for c in row.split():
        n, _, v = c.partition("=")
        try:
            v = float(v)
        except ValueError:
            pass
        out.append((n, v))
    return [repr(x) for x in out]


LOWER = ("loss", "error", "err", "mse", "mae", "rmse", "perplexity", "ppl", "cer", "wer", "nll")


def lower_is_better(metric):
    return any(w in metric.lower() for w in LOWER)


epochs = collections.Counter()
metric_counts = collections.Counter()
tasks = {}
summaries = {}
want_ranks, ranks, starts, counts, declared = {}, {}, {}, {}, {}
hyp_counts = collections.Counter()
for line in open(sys.argv[1]):
    db, _, rest = line.partition(" ")
    key, _, val = rest.partition(" = ")
    if db == "tasks":
        df, task = key.split(" ")[:2]
        tasks[(df, task)] = json.loads(val)
    elif db == "epochs":
        df, task, e = key.split(" ")[:3]
        epochs[(df, task)] += 1
        for m in json.loads(val)["metrics"]:
            metric_counts[(df, task, m)] += 1
    elif db == "summaries":
        df, m, task = key.split(" ")[:3]
        fields = dict(f.split("=", 1) for f in val.split())
        summaries[(df, task, m)] = int(fields["count"]) + int(fields["nan"])
        if int(fields["count"]):
            best = fields["min" if lower_is_better(m) else "max"].rsplit("@", 1)[0]
            want_ranks[(df, m, task)] = float(best)
    elif db == "ranks":
        df, m, v, task = key.split(" ")[:4]
        ranks.setdefault((df, m, task), []).append((float(v), val.strip()))
    elif db == "starts":
        df, v, task = key.split(" ")[:3]
        starts.setdefault((df, task), []).append(float(v))
    elif db == "counts":
        counts[tuple(key.split(" "))] = int(val)
    elif db == "hyp_index":
        f = key.split(" ")
        hyp_counts[tuple(f[:3])] += 1
    elif db == "dataflows":
        declared[key.strip()] = [h["name"] for h in json.loads(val)["hyperparameters"]]
bad = []
for k, n in epochs.items():
    if k not in tasks:
        bad.append("epochs of a task not in the index: %s" % (k,))
    elif tasks[k]["epochs"] != n:
        bad.append("task %s says %d epochs, index has %d" % (k, tasks[k]["epochs"], n))
for k, n in metric_counts.items():
    if summaries.get(k) != n:
        bad.append("summary %s counts %s, epochs carry it %d times" % (k, summaries.get(k), n))

def cell(v):
    if isinstance(v, bool) or v is None or isinstance(v, (dict, list)) or (isinstance(v, str) and len(v.encode()) > 255):
        return "other"
    if isinstance(v, str):
        return '"%s"' % v
    return repr(v) if isinstance(v, int) else "%r" % float(v)


for k, v in want_ranks.items():
    got = ranks.get(k, [])
    if [g for g, _ in got] != [v]:
        bad.append("ranks of summary %s: %s, want [%r]" % (k, [g for g, _ in got], v))
        continue
    df, _, task = k
    hyps = tasks.get((df, task), {}).get("hyperparameters", {})
    row = sorted("%s=%s" % (n, cell(hyps[n])) for n in declared.get(df, []) if n in hyps)
    if sorted(float_cells(got[0][1])) != sorted(float_cells(" ".join(row))):
        bad.append("ranks row of %s: %r, want %r" % (k, got[0][1], " ".join(row)))
for k in ranks:
    if k not in want_ranks:
        bad.append("a ranks key of no summary with a value: %s" % (k,))
for (df, task), t in tasks.items():
    want = [t["start"]] if t.get("start") is not None else []
    if starts.get((df, task), []) != want:
        bad.append("starts of %s/%s: %s, want %s" % (df, task, starts.get((df, task)), want))
for k in starts:
    if k not in tasks:
        bad.append("starts of a task not in the index: %s" % (k,))
per_df = collections.Counter(df for df, _ in tasks)
want_counts = {(df,): n for df, n in per_df.items()}
want_counts.update(hyp_counts)
if counts != want_counts:
    bad.append("counts: %s, want %s" % (sorted(counts.items())[:5], sorted(want_counts.items())[:5]))
for msg in bad[:10]:
    print(msg, file=sys.stderr)
sys.exit(1 if bad else 0)
