"""What the logs say, replayed from `dnnprov cat`'s JSON lines: the brute
force that the query and SQL checks compare the index with.  It follows
docs/FORMAT.md, not the indexer's code.
"""


class Task:
    def __init__(self, df, tid):
        self.df, self.id = df, tid
        self.begun = False
        self.begins = 0
        self.begin = {}     # the latest begin record
        self.status = None
        self.start = self.end = self.last = self.message = None
        self.hyps = {}
        self.epochs = {}
        self.adapts = {}    # (epoch, hyp) -> record with old filled
        self.tests = []
        self.layers = None  # the latest layers record
        self.elements = []


def replay(records):
    """df -> {"metrics": [...], "hyps": {name: type}, "tasks": {id: Task},
    "spec": the latest spec record}; tasks that never began are left out
    (the indexer reports their records and skips them)."""
    dataflows = {}
    for r in records:
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
            t.begins += 1
            t.begin = r
            t.hyps.update(r["hyperparameters"])
            t.start = r["time"] if t.start is None else min(t.start, r["time"])
            t.status, t.end, t.message, t.begun = "RUNNING", None, None, True
        elif not t.begun:
            continue
        elif kind == "epoch":
            t.epochs[r["epoch"]] = r
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
            t.status, t.end, t.message = r["status"], r["time"], r.get("message")
        t.last = r["time"] if t.last is None else max(t.last, r["time"])
    for d in dataflows.values():
        d["tasks"] = {k: t for k, t in d["tasks"].items() if t.begun}
        for t in d["tasks"].values():
            for h, v in t.hyps.items():
                d["hyps"].setdefault(h, "text" if isinstance(v, str) else "numeric")
    return dataflows


def lower_is_better(m):
    return any(w in m.lower() for w in ("loss", "error", "err", "mse", "mae", "rmse", "perplexity",
                                        "ppl", "cer", "wer", "nll"))
