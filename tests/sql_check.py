#!/usr/bin/env python3
"""Randomized check of the SQL tables against plain SQLite tables.

The reference is built from the logs as `dnnprov cat` prints them (not from
the index): the same tables, as real SQLite tables.  A battery of queries
(joins, group by, window functions, filters on every column type, NULL and
NaN, unicode names, the planner's equality and range paths) must give the
same rows on both.  Then the answers of runs/compare/effect/curve are
recomputed in SQL and compared with the commands' JSON, and Keras-Prov
style queries run unchanged on the DfAnalyzer views.

usage: sql_check.py DNNPROV LOG_DIR INDEX_DIR SEED   (with PYTHONPATH=python)
"""
import json
import math
import random
import sqlite3
import subprocess
import sys

import dnnprov
from logmodel import health, lower_is_better, main_metric, replay

DNNPROV, LOG_DIR, INDEX_DIR, SEED = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
rng = random.Random(SEED)
failures = []
checks = 0


def run(*args):
    out = subprocess.run([DNNPROV, *args], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit("dnnprov %s failed: %s" % (" ".join(args), out.stderr))
    return out.stdout


def num(v):
    if v in ("NaN", "Infinity", "-Infinity"):
        return float(v.replace("Infinity", "inf"))
    return v


def sqlval(v):
    """A value as SQLite stores it: NaN has no SQL value."""
    v = num(v)
    return None if isinstance(v, float) and math.isnan(v) else v


def same(a, b):
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        if math.isinf(a) or math.isinf(b):
            return a == b
        return a == b or abs(a - b) <= 1e-9 * max(abs(a), abs(b), 1e-300)
    return a == b


def same_rows(got, want):
    return len(got) == len(want) and all(len(g) == len(w) and all(same(x, y) for x, y in zip(g, w))
                                         for g, w in zip(got, want))


def expect(what, got, want):
    global checks
    checks += 1
    if not same_rows(got, want) if isinstance(want, list) else not same(got, want):
        failures.append("%s:\n    got  %s\n    want %s" % (what, str(got)[:600], str(want)[:600]))


# ---- the reference: the logs, replayed into plain tables ------------------------------

records = [json.loads(line) for line in run("cat", "--seconds", LOG_DIR).splitlines()]
dfs = replay(records)  # the logs replayed (tests/logmodel.py)


def q(name):
    return '"%s"' % name.replace('"', '""')


ref = sqlite3.connect(":memory:")
ref.executescript("""
create table tasks(dataflow TEXT, task TEXT, transformation TEXT, status TEXT, host TEXT, user TEXT,
  pid INTEGER, execution TEXT, start TIMESTAMP, "end" TIMESTAMP, last_activity TIMESTAMP, duration REAL,
  epochs INTEGER, last_epoch INTEGER, attempts INTEGER, message TEXT, active REAL, health TEXT);
create table events(dataflow TEXT, task TEXT, rule TEXT, epoch INTEGER);
create table hyperparameters(dataflow TEXT, task TEXT, name TEXT, value, type TEXT);
create table metrics(dataflow TEXT, task TEXT, epoch INTEGER, name TEXT, value REAL);
create table summaries(dataflow TEXT, metric TEXT, task TEXT, n INTEGER, nan_count INTEGER, min REAL,
  min_epoch INTEGER, max REAL, max_epoch INTEGER, first REAL, first_epoch INTEGER, last REAL,
  last_epoch INTEGER, mean REAL, best REAL, best_epoch INTEGER);
create table adaptations(dataflow TEXT, task TEXT, epoch INTEGER, hyperparameter TEXT, old, new,
  time TIMESTAMP, id INTEGER);
create table tests(dataflow TEXT, task TEXT, time TIMESTAMP, metric TEXT, value REAL);
create table layers(dataflow TEXT, task TEXT, time TIMESTAMP, position INTEGER, layer TEXT, kind TEXT, value);
create table elements(dataflow TEXT, transformation TEXT, "set" TEXT, task TEXT, time TIMESTAMP,
  attribute TEXT, value);
""")
for df, d in dfs.items():
    ref.execute("create table %s(task TEXT, epoch INTEGER, time TIMESTAMP, elapsed REAL%s)" % (
        q(df + "_epochs"), "".join(", %s REAL" % q(m) for m in d["metrics"])))
    declared = {h["name"]: h["type"] for h in (d["spec"] or {}).get("hyperparameters", [])}
    ref.execute("create table %s(task TEXT%s)" % (q(df + "_hyperparameters"), "".join(
        ", %s %s" % (q(h), "NUMERIC" if t == "numeric" else "TEXT") for h, t in declared.items())))
    sets = [(tf["name"], s) for tf in (d["spec"] or {}).get("transformations", []) for s in tf["sets"]]
    d["sets"] = sets
    for tf, s in sets:
        ref.execute("create table %s(task TEXT, time TIMESTAMP%s)" % (q(df + "_" + s["name"]), "".join(
            ", %s %s" % (q(a["name"]), "NUMERIC" if a["type"] == "numeric" else "TEXT") for a in s["attributes"])))
    for tid, t in d["tasks"].items():
        b = t.begin
        until = t.end if t.end is not None else t.last
        events, state = health(t)  # no task of these logs is RUNNING: none is stalled
        ref.execute("insert into tasks values (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", (
            df, tid, b.get("transformation"), t.status, b.get("host"), b.get("user"), b.get("pid"),
            b.get("execution"), t.start, t.end, t.last, until - t.start, len(t.epochs),
            max(t.epochs) if t.epochs else None, t.attempts, t.message, t.active, state))
        for rule, e in events:
            ref.execute("insert into events values (?,?,?,?)", (df, tid, rule, e))
        for h, v in t.hyps.items():
            ref.execute("insert into hyperparameters values (?,?,?,?,?)",
                        (df, tid, h, v, "text" if isinstance(v, str) else "numeric"))
        ref.execute("insert into %s(task%s) values (?%s)" % (
            q(df + "_hyperparameters"), "".join(", " + q(h) for h in t.hyps), ", ?" * len(t.hyps)),
            [tid] + list(t.hyps.values()))
        for e, r in sorted(t.epochs.items()):
            for m, v in r["metrics"].items():
                ref.execute("insert into metrics values (?,?,?,?,?)", (df, tid, e, m, sqlval(v)))
            ms = [m for m in d["metrics"] if m in r["metrics"]]
            ref.execute("insert into %s(task, epoch, time, elapsed%s) values (?,?,?,?%s)" % (
                q(df + "_epochs"), "".join(", " + q(m) for m in ms), ", ?" * len(ms)),
                [tid, e, r["time"], sqlval(r.get("elapsed"))] + [sqlval(r["metrics"][m]) for m in ms])
        for m in d["metrics"]:
            vals = [(e, num(r["metrics"][m])) for e, r in sorted(t.epochs.items()) if m in r["metrics"]]
            if not vals:
                continue
            good = [(e, v) for e, v in vals if not math.isnan(v)]
            row = dict(n=len(good), nan=len(vals) - len(good), first=vals[0][1], first_epoch=vals[0][0],
                       last=vals[-1][1], last_epoch=vals[-1][0])
            mn = mx = mean = mn_e = mx_e = None
            if good:
                mn, mx = min(v for _, v in good), max(v for _, v in good)
                mn_e = min(e for e, v in good if v == mn)
                mx_e = min(e for e, v in good if v == mx)
                mean = sum(v for _, v in good) / len(good)
            lower = lower_is_better(m)
            ref.execute("insert into summaries values (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", (
                df, m, tid, row["n"], row["nan"], mn, mn_e, mx, mx_e, sqlval(row["first"]), row["first_epoch"],
                sqlval(row["last"]), row["last_epoch"], mean, mn if lower else mx, mn_e if lower else mx_e))
        for (e, h), a in sorted(t.adapts.items()):
            ref.execute("insert into adaptations values (?,?,?,?,?,?,?,?)",
                        (df, tid, e, h, sqlval(a.get("old")), sqlval(a["new"]), a["time"], a.get("id")))
        for r in t.tests:
            for m, v in r["metrics"].items():
                ref.execute("insert into tests values (?,?,?,?,?)", (df, tid, r["time"], m, sqlval(v)))
        if t.layers:
            for i, layer in enumerate(t.layers["layers"]):
                ref.execute("insert into layers values (?,?,?,?,?,?,?)", (df, tid, t.layers["time"], i + 1,
                                                                          layer["name"], layer.get("kind"),
                                                                          sqlval(layer.get("value"))))
        for r in t.elements:
            for a, v in r["values"].items():
                ref.execute("insert into elements values (?,?,?,?,?,?,?)",
                            (df, r["transformation"], r["set"], tid, r["time"], a, sqlval(v)))
            attrs = [a for tf, s in sets if tf == r["transformation"] and s["name"] == r["set"]
                     for a in (x["name"] for x in s["attributes"]) if a in r["values"]]
            ref.execute("insert into %s(task, time%s) values (?,?%s)" % (
                q(df + "_" + r["set"]), "".join(", " + q(a) for a in attrs), ", ?" * len(attrs)),
                [tid, r["time"]] + [sqlval(r["values"][a]) for a in attrs])

con = dnnprov.connect(index_dir=INDEX_DIR, dataflow="df")


def both(sql, params=(), ordered=None):
    """Runs sql on the index and on the reference; compares the rows (in
    order when the query orders them completely, else as sets)."""
    try:
        got = con.execute(sql, params).fetchall()
    except sqlite3.Error as e:
        failures.append("%s %s: dnnprov failed: %s" % (sql, params, e))
        return
    want = ref.execute(sql, params).fetchall()
    if ordered is None:
        ordered = False
    if not ordered:
        key = lambda r: tuple((v is None, isinstance(v, (str, bytes)), v if v is not None else 0) for v in r)
        got, want = sorted(got, key=key), sorted(want, key=key)
    expect("%s %s" % (sql, params), got, want)


# ---- the battery --------------------------------------------------------------------------

for df, d in sorted(dfs.items()):
    tids = sorted(d["tasks"])
    metrics = d["metrics"]
    E = q(df + "_epochs")
    H = q(df + "_hyperparameters")
    both("select * from tasks where dataflow = ? order by task", (df,), True)
    both("select * from summaries where dataflow = ?", (df,))
    both("select * from hyperparameters where dataflow = ?", (df,))
    both("select * from %s" % H)
    both("select * from adaptations where dataflow = ? order by task, epoch, hyperparameter", (df,), True)
    both("select * from tests where dataflow = ?", (df,))
    both("select * from layers where dataflow = ?", (df,))
    both("select * from elements where dataflow = ?", (df,))
    # The health rules, replayed by tests/logmodel.py from docs/STEERING.md.
    both("select dataflow, task, rule, epoch from events where dataflow = ? order by task, rule, epoch", (df,), True)
    both("select health, count(*) from tasks where dataflow = ? group by health", (df,))
    for tf, s in d["sets"]:
        both("select * from %s" % q(df + "_" + s["name"]))
    both("select count(*), sum(epochs) from tasks where dataflow = ?", (df,))
    both("select status, count(*), min(start), max(duration) from tasks where dataflow = ? group by status", (df,))
    both("select task from tasks where dataflow = ? and \"end\" is null", (df,))
    for _ in range(6):
        t = rng.choice(tids)
        lo = rng.randint(0, 12)
        hi = lo + rng.randint(0, 10)
        both("select * from %s where task = ? order by epoch" % E, (t,), True)
        both("select * from tasks where task = ?", (t,))
        both("select * from hyperparameters where task = ?", (t,))
        both("select * from %s where task = ? and epoch between ? and ? order by epoch" % E, (t, lo, hi), True)
        both("select epoch from %s where task = ? and epoch > ? and epoch < ?" % E, (t, lo + 0.5, hi + 0.5))
        both("select epoch from %s where task = ? and epoch >= ? and epoch <= ?" % E, (t, lo - 0.5, float(hi)))
        both("select * from %s where task = ? and epoch = ?" % E, (t, lo))
        both("select * from %s where task = ? and epoch = ?" % E, (t, lo + 0.5))
        both("select * from metrics where dataflow = ? and task = ? and epoch >= ?", (df, t, lo))
        if metrics:
            m = rng.choice(metrics)
            both("select * from summaries where dataflow = ? and metric = ? and task = ?", (df, m, t))
            both("select * from summaries where metric = ? and task = ?", (m, t))
            both("select task, best from summaries where dataflow = ? and metric = ? order by task", (df, m), True)
            both("select * from metrics where task = ? and name = ? and value is null", (t, m))
            cut = rng.random()
            both("select task, epoch from metrics where dataflow = ? and name = ? and value > ?", (df, m, cut))
        both("select * from tasks where task in (?, ?, ?)", tuple(rng.sample(tids, min(3, len(tids))) + [tids[0]] * 3)[:3])
        both("select * from adaptations where task = ? and epoch >= ?", (t, lo))
        both("select * from tests where task = ? and time > 0", (t,))
    if len(metrics) >= 2:
        m1, m2 = metrics[0], metrics[-1]
        both("select task, count(*), avg(%s), max(%s), min(%s) from %s group by task" % (q(m1), q(m2), q(m1), E))
        both("select task, epoch, %s, avg(%s) over (partition by task order by epoch rows between 4 preceding and "
             "current row), rank() over (partition by task order by %s desc) from %s" % (q(m1), q(m1), q(m2), E))
        # a metric's slope over the last 5 epochs of each task
        both("with last5 as (select task, epoch, %s as y from %s e where epoch > (select max(epoch) - 5 from %s "
             "where task = e.task) and %s is not null) select task, (count(*) * sum(epoch * y) - sum(epoch) * sum(y)) "
             "/ nullif(count(*) * sum(epoch * epoch) - sum(epoch) * sum(epoch), 0) from last5 group by task"
             % (q(m1), E, E, q(m1)))
    hyps = list(d["hyps"])
    if len(hyps) >= 2 and metrics:
        h1, h2 = hyps[0], hyps[-1]
        both("select h.%s, h.%s, count(*), avg(s.best), max(s.best) from %s h join summaries s on s.dataflow = ? "
             "and s.task = h.task and s.metric = ? group by 1, 2" % (q(h1), q(h2), H), (df, metrics[0]))
        both("select t.task, t.status, h.value, s.best from tasks t join hyperparameters h on h.dataflow = "
             "t.dataflow and h.task = t.task and h.name = ? join summaries s on s.dataflow = t.dataflow and "
             "s.task = t.task and s.metric = ? where t.dataflow = ? order by s.best desc, t.task", (h1, metrics[-1], df),
             True)
        both("select e.task, e.epoch, h.%s from %s e join %s h on h.task = e.task where e.epoch = 3" % (q(h1), E, H))
    both("select t.task, m.name, m.value from tasks t join metrics m on m.dataflow = t.dataflow and m.task = t.task "
         "and m.epoch = t.last_epoch where t.dataflow = ?", (df,))

# ---- the commands, recomputed in SQL ------------------------------------------------------------


def cli(*args):
    answer = json.loads(run(*args, "--index-dir", INDEX_DIR, "--format", "json"))
    return answer["rows"]


for df, d in sorted(dfs.items()):
    if not d["metrics"]:
        continue
    main = main_metric(d)
    rows = cli("runs", df)
    sql = {r[0]: r[1:] for r in con.execute(
        "select t.task, t.status, t.duration, t.epochs, s.last, s.best from tasks t left join summaries s on "
        "s.dataflow = t.dataflow and s.task = t.task and s.metric = ? where t.dataflow = ?", (main, df))}
    expect("runs %s: the tasks" % df, sorted(r["task"] for r in rows), sorted(sql))
    for r in rows:
        s = sql.get(r["task"], (None,) * 5)
        expect("runs %s %s" % (df, r["task"]), [[r["status"], r["epochs"], sqlval(r["last(%s)" % main]),
                                                sqlval(r["best(%s)" % main])]], [[s[0], s[2], s[3], s[4]]])
    for agg in ("max", "min", "mean", "last"):
        m = rng.choice(d["metrics"])
        rows = cli("compare", df, "--metric", m, "--agg", agg)
        col = {"max": "max", "min": "min", "mean": "mean", "last": "last"}[agg]
        ep = {"max": "max_epoch", "min": "min_epoch", "mean": "last_epoch", "last": "last_epoch"}[agg]
        sql = {r[0]: r[1:] for r in con.execute(
            "select task, %s, %s from summaries where dataflow = ? and metric = ?" % (col, ep), (df, m))}
        for r in rows:
            v = sqlval(r["%s(%s)" % (agg, m)])
            want = sql.get(r["task"], (None, None))
            expect("compare %s %s %s %s" % (df, m, agg, r["task"]), [[v, r["at_epoch"] if v is not None or agg ==
                                                                      "last" else None]],
                   [[want[0], want[1] if want[0] is not None or agg == "last" else None]])
    for h in d["hyps"]:
        rows = cli("effect", df, "--hyp", h, "--bins", "1000")
        sql = {r[0]: r[1:] for r in con.execute(
            "select h.value, count(*), count(s.best), avg(s.best), min(s.best), max(s.best) from hyperparameters h "
            "left join summaries s on s.dataflow = h.dataflow and s.task = h.task and s.metric = ? where "
            "h.dataflow = ? and h.name = ? group by h.value", (main, df, h))}
        expect("effect %s %s: groups" % (df, h), [[len(rows)]], [[len(sql)]])
        for r in rows:
            s = sql.get(r[h], (None,) * 5)
            expect("effect %s %s=%s" % (df, h, r[h]), [[r["tasks"], r["n"], r["mean"], r["min"], r["max"]]],
                   [list(s)])
    for t in rng.sample(sorted(d["tasks"]), min(4, len(d["tasks"]))):
        rows = cli("curve", df, t)
        ms = [m for m in d["metrics"] if any(m in e["metrics"] for e in d["tasks"][t].epochs.values())]
        got = [[r["epoch"], r["elapsed"]] + [sqlval(r.get(m)) for m in ms] for r in rows]
        want = [list(r) for r in con.execute("select epoch, elapsed%s from %s where task = ? order by epoch" % (
            "".join(", " + q(m) for m in ms), q(df + "_epochs")), (t,))]
        expect("curve %s %s" % (df, t), got, want)

# ---- Keras-Prov's questions on the DfAnalyzer views, unchanged ---------------------------------

d = dfs["df"]
got = con.execute("""
SELECT i.trainingmodel_task_id, i.optimizer_name, i.learning_rate, max(o.val_accuracy) AS best
FROM ds_itrainingmodel i JOIN ds_otrainingmodel o ON o.trainingmodel_task_id = i.trainingmodel_task_id
GROUP BY i.trainingmodel_task_id ORDER BY best DESC, i.trainingmodel_task_id""").fetchall()
want = []
for tid, t in d["tasks"].items():
    vals = [num(e["metrics"]["val_accuracy"]) for e in t.epochs.values() if "val_accuracy" in e["metrics"]]
    vals = [v for v in vals if not math.isnan(v)]
    if t.epochs:
        want.append((tid, t.hyps.get("OPTIMIZER_NAME"), t.hyps.get("LEARNING_RATE"), max(vals) if vals else None))
want.sort(key=lambda r: (r[3] is None, -(r[3] or 0), r[0]))
expect("keras-prov: runs ranked by val_accuracy", got, want)
got = con.execute("""
SELECT a.adaptation_task_id, a.epoch_id,
  coalesce((SELECT p.new_lrate FROM ds_oadaptation p WHERE p.adaptation_task_id = a.adaptation_task_id
            AND p.epoch_id < a.epoch_id ORDER BY p.epoch_id DESC LIMIT 1), i.learning_rate) AS before,
  a.new_lrate AS after
FROM ds_oadaptation a JOIN ds_itrainingmodel i ON i.trainingmodel_task_id = a.adaptation_task_id
ORDER BY 1, 2""").fetchall()
want = sorted((tid, e, sqlval(a.get("old")), sqlval(a["new"])) for tid, t in d["tasks"].items()
              for (e, h), a in t.adapts.items() if h.upper() == "LEARNING_RATE")
expect("keras-prov: adaptations with the learning rate before and after", got, want)
got = con.execute("SELECT identifier, status, computing_resource FROM task t JOIN data_transformation dt ON "
                  "dt.id = t.dt_id JOIN dataflow f ON f.id = dt.df_id WHERE f.tag = 'df' ORDER BY 1").fetchall()
want = sorted((tid, t.status, t.begin.get("host")) for tid, t in d["tasks"].items())
expect("dfanalyzer: task", got, want)
got = con.execute("SELECT count(*) FROM ds_otestingmodel").fetchall()
expect("dfanalyzer: ds_otestingmodel", got, [(sum(len(t.tests) for t in d["tasks"].values()),)])

print("sql_check: %d checks, %d failed (seed %d)" % (checks, len(failures), SEED))
for f in failures[:20]:
    print("FAIL:", f)
sys.exit(1 if failures else 0)
