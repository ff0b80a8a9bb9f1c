"""What the logs say, replayed from `dnnprov cat --seconds`'s JSON lines: the brute
force that the query and SQL checks compare the index with.  It follows
docs/FORMAT.md and docs/RUNS.md, not the indexer's code.
"""

import datetime
import math

from liveness import owner_lives


def seconds(t):
    """A record's time as `dnnprov cat` prints it (ISO 8601 UTC, or a number
    when no such text holds it) as seconds since 1970."""
    if not isinstance(t, str):
        return t
    return datetime.datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


class Task:
    @property
    def attempts(self):
        return self.begins

    @property
    def active(self):
        """Seconds active: each attempt from its begin to its end (or last
        record), without the time between attempts."""
        until = self.end if self.end is not None else self.last
        return self.active_before + max(0.0, until - self.attempt_start)


    def at(self, r):
        """When a record of the current attempt happened (docs/RUNS.md,
        "Times of a run"): the attempt's begin plus the time since boot
        between the two records when both have it (the logs replayed here
        are of one boot), else its wall time; never before the begin."""
        at = r["time"]
        mono = r.get("mono")
        if self.attempt_mono is not None and mono is not None and mono >= self.attempt_mono:
            at = self.attempt_start + (mono - self.attempt_mono)
        return at if at >= self.attempt_start else self.attempt_start

    def __init__(self, df, tid):
        self.df, self.id = df, tid
        self.begun = False
        self.begins = 0     # attempts: begin records
        self.attempt_start = None
        self.attempt_mono = None
        self.active_before = 0.0
        self.begin = {}     # the latest begin record
        self.status = None
        self.start = self.end = self.last = self.message = None
        self.hyps = {}
        self.epochs = {}
        self.adapts = {}    # (epoch, hyp) -> record with old filled
        self.tests = []
        self.layers = None  # the latest layers record
        self.elements = []
        self.epoch_records = []  # every epoch record, in the task's order (a re-logged epoch too)


def replay(records):
    """df -> {"metrics": [...], "hyps": {name: type}, "tasks": {id: Task},
    "spec": the latest spec record}; tasks that never began are left out
    (the indexer reports their records and skips them)."""
    dataflows = {}
    for r in records:
        if "time" in r:
            r["time"] = seconds(r["time"])  # in place: the checks read the records too
        df, tid, kind = r["dataflow"], r["task"], r["kind"]
        d = dataflows.setdefault(df, {"metrics": [], "hyps": {}, "tasks": {}, "spec": None})
        if kind == "spec":
            d["spec"] = r
            for h in r["hyperparameters"]:
                d["hyps"].setdefault(h["name"], h["type"])
            for m in r["metrics"]:
                if m not in d["metrics"]:
                    d["metrics"].append(m)
            continue
        t = d["tasks"].setdefault(tid, Task(df, tid))
        if kind == "begin":
            begins = r["time"]
            if not t.begun:   # a resume keeps the first begin's values and start
                t.hyps = dict(r["hyperparameters"])
                t.start = r["time"]
            else:             # the attempt before ended at its end, or its last record
                until = t.end if t.end is not None else t.last
                if until is not None and until > t.attempt_start:
                    t.active_before += until - t.attempt_start
                if until is not None and not begins >= until:
                    begins = until  # never before the attempt before it ended
            t.attempt_start = begins
            t.attempt_mono = r.get("mono")
            t.last = begins
            t.begins += 1
            t.begin = r
            t.status, t.end, t.message, t.begun = "RUNNING", None, None, True
        elif not t.begun:
            continue
        elif kind == "epoch":
            t.epochs[r["epoch"]] = r
            t.epoch_records.append(r)
            for m in r["metrics"]:
                if m not in d["metrics"]:
                    d["metrics"].append(m)
        elif kind == "adapt":
            rec = dict(r)
            if "old" not in rec:
                before = [a for (e, h), a in t.adapts.items() if h == r["hyperparameter"] and e < r["epoch"]]
                if before:
                    rec["old"] = max(before, key=lambda a: a["epoch"])["new"]
                elif r["hyperparameter"] in t.hyps:
                    rec["old"] = t.hyps[r["hyperparameter"]]
            t.adapts[(r["epoch"], r["hyperparameter"])] = rec
        elif kind == "test":
            t.tests.append(r)
            for m in r["metrics"]:
                if m not in d["metrics"]:
                    d["metrics"].append(m)
        elif kind == "layers":
            t.layers = r
        elif kind == "element":
            t.elements.append(r)
        elif kind == "end":
            t.status, t.end, t.message = r["status"], t.at(r), r.get("message")
        if kind != "begin":
            t.last = t.at(r)   # the causally last record's: `cat` prints them in that order
    for d in dataflows.values():
        d["tasks"] = {k: t for k, t in d["tasks"].items() if t.begun}
        for t in d["tasks"].values():
            if t.status == "RUNNING" and not owner_lives(t.begin.get("owner")):
                t.status = "LOST"
            for h, v in t.hyps.items():
                d["hyps"].setdefault(h, "text" if isinstance(v, str) else "numeric")
    return dataflows


def lower_is_better(m):
    return any(w in m.lower() for w in ("loss", "error", "err", "mse", "mae", "rmse", "perplexity",
                                        "ppl", "cer", "wer", "nll"))


def main_metric(d):
    """The first metric's val_ twin if a task reported it, else the first
    metric a task reported, else the twin if declared, else the first."""
    m = d["metrics"]
    reported = {k for t in d["tasks"].values() for r in t.epochs.values() for k in r["metrics"]}
    twin = "val_" + m[0]
    twin = twin if not m[0].startswith("val_") and twin in m else None
    if twin in reported:
        return twin
    return next((x for x in m if x in reported), twin or m[0])


# ---- the health rules of docs/STEERING.md, from the formulas there -------------------------

RULES = {"nan": True, "divergence": True, "factor": 1.0, "div_epochs": 3, "plateau": True,
         "plateau_epochs": 10, "min_delta": 0.01, "scale_floor": 0.1, "epsilon": 1e-12,
         "metric": None, "goal": None}

NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def number(v):
    """A metric value as `cat` prints it (NaN and the infinities as text),
    or None when it is no number."""
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    return NONFINITE.get(v) if isinstance(v, str) else None


def health(t, rules=RULES):
    """The events [(rule, epoch)] the rules find in a task's epoch records,
    in its order, and the state they leave: "nan", "diverged", "plateau"
    or "ok"."""
    r = dict(RULES, **rules)
    metric, lower = r["metric"], None
    n, bad_run, since = 0, 0, 0
    first = best = ref = None
    nan = div = plat = False
    events = []
    for rec in t.epoch_records:
        ms, e = rec["metrics"], rec["epoch"]
        bad = [k for k, v in ms.items() if number(v) is not None and not math.isfinite(number(v))]
        if not bad:
            nan = False
        elif r["nan"] and not nan:
            events.append(("nan", e))
            nan = True
        if metric is None:
            m = next((k for k, v in ms.items() if number(v) is not None), None)
            if m is not None:
                metric = "val_" + m if not m.startswith("val_") and number(ms.get("val_" + m)) is not None else m
        if metric is not None and lower is None:
            lower = r["goal"] == "min" if r["goal"] else lower_is_better(metric)
        x = number(ms.get(metric)) if metric is not None else None
        if x is None or not math.isfinite(x):
            continue
        sign = 1.0 if lower else -1.0
        n += 1
        if n == 1:
            first = best = ref = x
            continue
        b, B, F, P = sign * x, sign * best, sign * first, sign * ref
        s = max(F - B, r["scale_floor"] * abs(B), r["epsilon"])
        if r["divergence"]:
            if b > B + r["factor"] * s:
                bad_run += 1
                if bad_run >= r["div_epochs"] and not div:
                    div = True
                    events.append(("divergence", e))
            else:
                bad_run, div = 0, False
        if r["plateau"]:
            if b < P - r["min_delta"] * s:
                ref, since, plat = x, 0, False
            else:
                since += 1
                if since >= r["plateau_epochs"] and not plat:
                    plat = True
                    events.append(("plateau", e))
        if b < B:
            best = x
    state = "nan" if nan else "diverged" if div else "plateau" if plat else "ok"
    return events, state
