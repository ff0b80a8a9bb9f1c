#!/usr/bin/env python3
"""Checks that an index dump (tests/tools/dump_index) is a consistent
snapshot: every task's epoch count equals its epoch entries, every epoch
belongs to a task, and every summary counts exactly the epochs that carry
its metric.  A half-applied batch would break one of these."""
import collections
import json
import sys

epochs = collections.Counter()
metric_counts = collections.Counter()
tasks = {}
summaries = {}
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
bad = []
for k, n in epochs.items():
    if k not in tasks:
        bad.append("epochs of a task not in the index: %s" % (k,))
    elif tasks[k]["epochs"] != n:
        bad.append("task %s says %d epochs, index has %d" % (k, tasks[k]["epochs"], n))
for k, n in metric_counts.items():
    if summaries.get(k) != n:
        bad.append("summary %s counts %s, epochs carry it %d times" % (k, summaries.get(k), n))
for msg in bad[:10]:
    print(msg, file=sys.stderr)
sys.exit(1 if bad else 0)
