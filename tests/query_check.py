#!/usr/bin/env python3
"""Randomized check of every query command against a brute-force answer.

The brute force reads the logs with `dnnprov cat` (not the index) and
computes what each command should print, from the definitions in
`dnnprov help <command>`; the command's JSON output must match it.

usage: query_check.py DNNPROV LOG_DIR INDEX_DIR SEED
"""
import datetime
import json
import math
import os
import random
import re
import subprocess
import sys

from logmodel import lower_is_better, main_metric, replay

DNNPROV, LOG_DIR, INDEX_DIR, SEED = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
rng = random.Random(SEED)
failures = []
checks = 0


def run(*args):
    out = subprocess.run([DNNPROV, *args], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit("dnnprov %s failed: %s" % (" ".join(args), out.stderr))
    return out.stdout


def query(*args):
    answer = json.loads(run(*args, "--index-dir", INDEX_DIR, "--format", "json"))
    rows = answer["rows"]
    # The envelope's column list is the row objects' keys, in order.
    assert all(list(r) == answer["columns"] for r in rows), (args, answer["columns"])
    return rows


def num(v):
    if v in ("NaN", "Infinity", "-Infinity"):
        return float(v.replace("Infinity", "inf"))
    return v


def same(a, b):
    a, b = num(a), num(b)
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is None and b is None
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b or abs(a - b) <= 1e-9 * max(abs(a), abs(b))
    return a == b


def iso_seconds(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def expect(what, got, want):
    global checks
    checks += 1
    if isinstance(want, list) and isinstance(got, list) and len(got) == len(want) and all(
            same(g, w) for g, w in zip(got, want)):
        return
    if not isinstance(want, list) and same(got, want):
        return
    failures.append("%s:\n    got  %s\n    want %s" % (what, got, want))


# ---- the brute force: the logs, as `dnnprov cat` prints them ----------------------

records = [json.loads(line) for line in run("cat", "--seconds", LOG_DIR).splitlines()]


dataflows = replay(records)   # the brute force: what the logs say (tests/logmodel.py)


def summary(t, m):
    """(count, nan, min, min_epoch, max, max_epoch, last, last_epoch, mean) or None."""
    vals = [(e, num(r["metrics"][m])) for e, r in sorted(t.epochs.items()) if m in r["metrics"]]
    if not vals:
        return None
    good = [(e, v) for e, v in vals if not math.isnan(v)]
    s = {"count": len(good), "last": vals[-1][1], "last_epoch": vals[-1][0]}
    if good:
        mn = min(v for _, v in good)
        mx = max(v for _, v in good)
        s.update(min=mn, min_epoch=min(e for e, v in good if v == mn), max=mx,
                 max_epoch=min(e for e, v in good if v == mx), mean=sum(v for _, v in good) / len(good))
    return s


def aggregate(t, m, agg):
    s = summary(t, m)
    if agg.startswith("at="):
        e = int(agg[3:])
        r = t.epochs.get(e)
        return (num(r["metrics"][m]), e) if r and m in r["metrics"] else (None, None)
    if s is None:
        return None, None
    if agg == "best":
        agg = "min" if lower_is_better(m) else "max"
    if agg == "last":
        return s["last"], s["last_epoch"]
    if not s["count"]:
        return None, None
    if agg == "mean":
        return s["mean"], s["last_epoch"]
    return s[agg], s[agg + "_epoch"]


def sort_key(value, desc):
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    if missing:
        return (1, 0)
    return (0, -value if desc else value)


# ---- where: random expressions and their brute-force truth -----------------------

def hyp_names(d):
    return list(d["hyps"])


def numeric_terms(d):
    return (["epochs"] + [h for h in hyp_names(d) if d["hyps"][h] == "numeric"] +
            ["%s(%s)" % (rng.choice(["max", "min", "last", "mean"]), m) for m in d["metrics"]])


def gen_arith(d, depth=0):
    """A random numeric expression: names, aggregates and numbers under
    + - * / and unary minus, parenthesized or left to precedence."""
    r = rng.random()
    if depth < 2 and r < 0.45:
        e = "%s %s %s" % (gen_arith(d, depth + 1), rng.choice("+-*/"), gen_arith(d, depth + 1))
        return "(%s)" % e if rng.random() < 0.6 else e
    if r < 0.55:
        return "-" + rng.choice(numeric_terms(d) + ["(%s)" % gen_arith(d, 2)])
    if r < 0.85:
        return rng.choice(numeric_terms(d))
    # (epochs - 30) is 0 for the tasks that ran their 30 epochs: a division
    # by it is unknown, and so is any condition on the quotient.
    return rng.choice(["0", "1", "2", "10", "0.5", "0.001", "30", "(epochs - 30)"])


def gen_like(d, tasks):
    """`like` on text: a value of some task with characters turned into _,
    a stretch into %, letters into the other case; now and then one that
    matches nothing."""
    f = rng.choice(["task", "status", "message"] + [h for h in hyp_names(d) if d["hyps"][h] != "numeric"])
    vals = [v for v in (Evaluator(f, t).operand() for t in tasks) if isinstance(v, str)]
    chars = list(rng.choice(vals) if vals else "x")
    for i, c in enumerate(chars):
        r = rng.random()
        chars[i] = "_" if r < 0.15 else c.swapcase() if r < 0.3 else c
    if rng.random() < 0.6:
        i = rng.randrange(len(chars))
        chars[i:rng.randrange(i, len(chars) + 1)] = ["%"]
    if rng.random() < 0.15:
        chars.append("q")
    return "%s %s '%s'" % (f, rng.choice(["like", "not like", "LIKE"]), "".join(chars))


def gen_condition(d, tasks):
    kind = rng.choice(["hyp", "hyp", "hyp_in", "status", "epochs", "metric", "arith", "arith", "like",
                       "attempts"])
    if kind == "attempts":
        return "attempts %s %d" % (rng.choice(["=", ">", "<="]), rng.randint(1, 2))
    if kind == "like":
        return gen_like(d, tasks)
    if kind == "arith":
        left = gen_arith(d)
        if rng.random() < 0.3:   # last(val_loss) < min(val_loss) * 1.1
            right = "%s * %s" % (rng.choice(numeric_terms(d)), rng.choice(["1.1", "0.9", "2"]))
        else:
            vals = [v for v in (eval_value(left, t) for t in tasks) if v is not None]
            right = repr(rng.choice(vals)) if vals and rng.random() < 0.8 else rng.choice(["0", "1", "-1"])
        return "%s %s %s" % (left, rng.choice(["=", "!=", "<", "<=", ">", ">="]), right)
    if kind in ("hyp", "hyp_in"):
        h = rng.choice(hyp_names(d))
        values = sorted({t.hyps[h] for t in tasks if h in t.hyps}, key=str)
        if not values:
            return "epochs >= 0"
        v = rng.choice(values)
        name = rng.choice([h, h.lower()])
        lit = "'%s'" % v if isinstance(v, str) else repr(v)
        if kind == "hyp_in":
            more = rng.sample(values, min(len(values), 2))
            lits = ", ".join("'%s'" % x if isinstance(x, str) else repr(x) for x in more)
            return "%s in (%s)" % (name, lits)
        op = "=" if isinstance(v, str) else rng.choice(["=", "!=", "<", "<=", ">", ">="])
        return "%s %s %s" % (name, op, lit)
    if kind == "status":
        return "status %s '%s'" % (rng.choice(["=", "!="]), rng.choice(["finished", "RUNNING", "FAILED", "lost"]))
    if kind == "epochs":
        return "epochs %s %d" % (rng.choice(["<", ">="]), rng.randint(1, 40))
    m = rng.choice(d["metrics"])
    agg = rng.choice(["max", "min", "last", "mean"])
    vals = [v for v in (aggregate(t, m, agg)[0] for t in tasks) if v is not None and not math.isnan(v)]
    cut = rng.choice(vals) if vals else 0.5
    return "%s(%s) %s %r" % (agg, m, rng.choice(["<", ">="]), cut)


def gen_where(d, tasks, depth=0):
    r = rng.random()
    if depth < 2 and r < 0.25:
        return "(%s) and (%s)" % (gen_where(d, tasks, depth + 1), gen_where(d, tasks, depth + 1))
    if depth < 2 and r < 0.45:
        return "%s or %s" % (gen_where(d, tasks, depth + 1), gen_where(d, tasks, depth + 1))
    if depth < 2 and r < 0.55:
        return "not (%s)" % gen_where(d, tasks, depth + 1)
    return gen_condition(d, tasks)


TOKEN = re.compile(r"\s*(\(|\)|,|!=|<=|>=|=|<|>|\+|-|\*|/|'[^']*'|[A-Za-z_][A-Za-z0-9_]*\([A-Za-z0-9_]+\)|"
                   r"[0-9][0-9.]*(?:e[-+]?[0-9]+)?|[A-Za-z_][A-Za-z0-9_]*)")


def like(s, pattern):
    """SQL LIKE as the filter defines it: % any text, _ one character, ASCII
    case ignored."""
    rx = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(rx, s, re.IGNORECASE | re.ASCII | re.DOTALL) is not None


class Evaluator:
    """The filter language by recursive descent over the brute-force data,
    with SQL's precedence and three-valued logic (None is unknown)."""

    def __init__(self, expr, t):
        self.tokens = TOKEN.findall(expr)
        self.pos = 0
        self.t = t

    def peek(self):
        tok = self.tokens[self.pos] if self.pos < len(self.tokens) else None
        return tok.lower() if tok and tok[0].isalpha() and "(" not in tok else tok

    def take(self):
        self.pos += 1
        return self.tokens[self.pos - 1]

    def operand(self):
        t, tok = self.t, self.take()
        if tok.startswith("'"):
            return tok[1:-1]
        if tok[0].isdigit():
            return float(tok) if any(c in tok for c in ".e") else int(tok)
        if "(" in tok:
            agg, m = tok[:-1].split("(")
            v = aggregate(t, m, agg)[0]
            return None if v is None or (isinstance(v, float) and math.isnan(v)) else v
        low = tok.lower()
        if low == "status":
            return t.status
        if low == "epochs":
            return len(t.epochs)
        if low == "task":
            return t.id
        if low == "message":
            return getattr(t, "message", None)
        if low == "attempts":
            return t.attempts
        for h, v in t.hyps.items():
            if h.lower() == low:
                return v
        return None

    def primary(self):
        if self.peek() == "(":
            self.take()
            v = self.expr()
            self.take()
            return v
        return self.operand()

    def unary(self):
        if self.peek() == "-":
            self.take()
            v = self.unary()
            return -v if isinstance(v, (int, float)) else None
        return self.primary()

    @staticmethod
    def arith(op, a, b):
        if not isinstance(a, (int, float)) or not isinstance(b, (int, float)) or isinstance(a, bool) or (
                op == "/" and b == 0):
            return None
        return {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b, "/": lambda: a / b}[op]()

    def chain(self, ops, next_):
        v = next_()
        while self.peek() in ops:
            op = self.take()
            v = self.arith(op, v, next_())
        return v

    def sum(self):
        return self.chain(("+", "-"), lambda: self.chain(("*", "/"), self.unary))

    @staticmethod
    def cmp(a, op, b):
        if a is None or b is None or isinstance(a, str) != isinstance(b, str):
            return None
        if isinstance(a, str) and op in ("=", "!="):
            a, b = a.lower(), b.lower()
        return {"=": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]

    def pred(self):
        a = self.sum()
        negated = self.peek() == "not"
        if negated:
            self.take()
        if self.peek() == "in":
            self.take()
            self.take()
            vals = [self.operand()]
            while self.peek() == ",":
                self.take()
                vals.append(self.operand())
            self.take()
            res = [self.cmp(a, "=", v) for v in vals]
            r = True if True in res else (None if None in res else False)
            return r if r is None or not negated else not r
        if self.peek() == "like":
            self.take()
            pattern = self.operand()
            return None if not isinstance(a, str) else like(a, pattern) != negated
        if self.peek() in ("=", "!=", "<", "<=", ">", ">="):
            op = self.take()
            return self.cmp(a, op, self.sum())
        return a   # a value, or a parenthesized condition

    def not_(self):
        if self.peek() == "not":
            self.take()
            v = self.not_()
            return None if v is None else not v
        return self.pred()

    def and_(self):
        v = self.not_()
        while self.peek() == "and":
            self.take()
            w = self.not_()
            v = False if v is False or w is False else (None if v is None or w is None else True)
        return v

    def expr(self):
        v = self.and_()
        while self.peek() == "or":
            self.take()
            w = self.and_()
            v = True if v is True or w is True else (None if v is None or w is None else False)
        return v


def eval_where(expr, d, t):
    return Evaluator(expr, t).expr() is True


def eval_value(expr, t):
    return Evaluator(expr, t).sum()


def spearman(pairs):
    """Spearman's rank correlation with average ranks for ties; None for
    fewer than 3 pairs or a constant side."""
    if len(pairs) < 3:
        return None

    def ranks(xs):
        order = sorted(range(len(xs)), key=lambda i: xs[i])
        r = [0.0] * len(xs)
        i = 0
        while i < len(order):
            j = i
            while j + 1 < len(order) and xs[order[j + 1]] == xs[order[i]]:
                j += 1
            for k in range(i, j + 1):
                r[order[k]] = (i + j) / 2 + 1
            i = j + 1
        return r

    rx, ry = ranks([x for x, _ in pairs]), ranks([y for _, y in pairs])
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    sxx = sum((a - mx) ** 2 for a in rx)
    syy = sum((b - my) ** 2 for b in ry)
    return sxy / math.sqrt(sxx * syy) if sxx > 0 and syy > 0 else None


# ---- the checks ---------------------------------------------------------------------

got = query("dataflows")
expect("dataflows", [r["dataflow"] for r in got], sorted(dataflows))
for r in got:
    expect("dataflows tasks %s" % r["dataflow"], r["tasks"], len(dataflows[r["dataflow"]]["tasks"]))

for df, d in sorted(dataflows.items()):
    tasks = sorted(d["tasks"].values(), key=lambda t: t.id)
    m0 = main_metric(d)

    # runs: one row per task, by start time
    rows = query("runs", df)
    want = sorted(tasks, key=lambda t: (t.start, t.id))
    expect("runs %s order" % df, [r["task"] for r in rows], [t.id for t in want])
    for r in rows:
        t = d["tasks"][r["task"]]
        expect("runs %s %s status" % (df, t.id), r["status"], t.status)
        expect("runs %s %s epochs" % (df, t.id), r["epochs"], len(t.epochs))
        expect("runs %s %s start" % (df, t.id), abs(iso_seconds(r["start"]) - t.start) < 2e-6, True)
        for h, v in t.hyps.items():
            expect("runs %s %s %s" % (df, t.id, h), r[h], v)
        expect("runs %s %s last(%s)" % (df, t.id, m0), r["last(%s)" % m0], aggregate(t, m0, "last")[0])
        expect("runs %s %s best(%s)" % (df, t.id, m0), r["best(%s)" % m0], aggregate(t, m0, "best")[0])

    # compare: random metrics, aggregates and filters
    for _ in range(12):
        m = rng.choice(d["metrics"])
        agg = rng.choice(["best", "max", "min", "last", "mean", "at=%d" % rng.randint(1, 30)])
        where = gen_where(d, tasks) if rng.random() < 0.7 else None
        args = ["compare", df, "--metric", m, "--agg", agg] + (["--where", where] if where else [])
        rows = query(*args)
        lower = lower_is_better(m)
        sel = [t for t in tasks if where is None or eval_where(where, d, t)]
        vals = {t.id: aggregate(t, m, agg) for t in sel}
        want = sorted(sel, key=lambda t: (sort_key(vals[t.id][0], not lower), t.id))
        what = "compare %s" % " ".join(args[1:])
        expect(what + " tasks", [r["task"] for r in rows], [t.id for t in want])
        col = [k for k in (rows[0] if rows else {}) if "(" in k]
        for r in rows:
            v, e = vals.get(r["task"], ("not selected", None))
            expect(what + " value of " + r["task"], r[col[0]] if col else None, v)
            expect(what + " epoch of " + r["task"], r["at_epoch"], e)

    # effect of each hyperparameter: without --where (read from hyp_index
    # and the summaries) and with one (the tasks loaded), random
    # aggregates and goals; one row per value in value order (numbers, then
    # text), every statistic, the best task exactly (ties: the first id) and
    # Spearman's correlation
    for h in hyp_names(d):
        for _ in range(3):
            m = rng.choice([m0] + d["metrics"])
            agg = rng.choice(["best", "max", "min", "last", "mean", "at=%d" % rng.randint(1, 30)])
            goal = rng.choice([None, None, "min", "max"])
            where = gen_where(d, tasks) if rng.random() < 0.5 else None
            args = ["effect", df, "--hyp", rng.choice([h, h.lower()]), "--metric", m, "--agg", agg,
                    "--bins", "1000"] + (["--goal", goal] if goal else []) + (["--where", where] if where else [])
            what = " ".join(args[1:])
            rows = query(*args)
            lower = goal == "min" if goal else lower_is_better(m)
            a = ("min" if lower else "max") if agg == "best" else agg
            groups = {}
            for t in tasks:
                if h in t.hyps and (where is None or eval_where(where, d, t)):
                    groups.setdefault(t.hyps[h], []).append(t)
            order = sorted(groups, key=lambda v: (isinstance(v, str), v if isinstance(v, str) else 0,
                                                  0 if isinstance(v, str) or not math.isnan(v) else 1,
                                                  0 if isinstance(v, str) or math.isnan(v) else v))
            expect("effect %s groups" % what, [r[h] for r in rows], order)
            pairs = []
            for r, value in zip(rows, order):
                members = groups[value]
                vals = [(aggregate(t, m, a)[0], t.id) for t in members]
                vals = [(v, i) for v, i in vals if v is not None and not math.isnan(v)]
                expect("effect %s %s=%s tasks" % (what, h, value), r["tasks"], len(members))
                expect("effect %s %s=%s n" % (what, h, value), r["n"], len(vals))
                if not isinstance(value, str) and not math.isnan(value):
                    pairs += [(value, v) for v, _ in vals]
                if vals:
                    mean = sum(v for v, _ in vals) / len(vals)
                    expect("effect %s %s=%s mean" % (what, h, value), r["mean"], mean)
                    expect("effect %s %s=%s min" % (what, h, value), r["min"], min(v for v, _ in vals))
                    expect("effect %s %s=%s max" % (what, h, value), r["max"], max(v for v, _ in vals))
                    best = min(vals, key=lambda x: (x[0] if lower else -x[0], x[1]))
                    expect("effect %s %s=%s best task" % (what, h, value), r["best_task"], best[1])
            numeric = bool(order) and not any(isinstance(v, str) for v in order)
            want = spearman(pairs) if numeric else None
            expect("effect %s spearman" % what, [r["spearman"] for r in rows], [want] * len(rows))

    # curve and adaptations of every task
    for t in tasks:
        rows = query("curve", df, t.id)
        expect("curve %s %s epochs" % (df, t.id), [r["epoch"] for r in rows], sorted(t.epochs))
        adapted = sorted({h for (_, h) in t.adapts})
        for r in rows:
            rec = t.epochs[r["epoch"]]
            for m, v in rec["metrics"].items():
                expect("curve %s %s e%d %s" % (df, t.id, r["epoch"], m), r.get(m), v)
            for h in adapted:
                inforce = before = t.hyps.get(h)
                for (e, hh), a in sorted(t.adapts.items()):
                    if hh == h and e <= r["epoch"]:
                        if e < r["epoch"]:
                            before = a["new"]
                        inforce = a["new"]
                expect("curve %s %s e%d %s in force" % (df, t.id, r["epoch"], h), r.get(h), inforce)
                changed_here = (r["epoch"], h) in t.adapts
                expect("curve %s %s e%d %s_old" % (df, t.id, r["epoch"], h), r.get(h + "_old"),
                       before if changed_here else None)
            # The change as data: the names that changed at this epoch.
            marks = sorted(h for (e, h) in t.adapts if e == r["epoch"])
            expect("curve %s %s e%d changed" % (df, t.id, r["epoch"]),
                   sorted(r["changed"].split(",")) if r["changed"] else [], marks)
            expect("curve %s %s e%d no table mark" % (df, t.id, r["epoch"]), "adapted" in r, False)
        rows = query("adaptations", df, "--task", t.id, "--metric", m0)
        want = sorted(t.adapts.items())
        expect("adaptations %s %s" % (df, t.id), [(r["epoch"], r["hyperparameter"]) for r in rows],
               [k for k, _ in want])
        for r, (_, a) in zip(rows, want):
            expect("adaptations %s %s old" % (df, t.id), r["old"], a.get("old"))
            expect("adaptations %s %s new" % (df, t.id), r["new"], a["new"])
            before = aggregate(t, m0, "at=%d" % (r["epoch"] - 1))[0]
            expect("adaptations %s %s before" % (df, t.id), r["%s_before" % m0], before)

    # adaptations and elements of the tasks a random filter keeps
    for _ in range(4):
        where = gen_where(d, tasks)
        sel = {t.id for t in tasks if eval_where(where, d, t)}
        rows = query("adaptations", df, "--where", where)
        want = [(t.id, e, h) for t in tasks if t.id in sel for (e, h) in sorted(t.adapts)]
        expect("adaptations %s --where %s" % (df, where),
               [(r["task"], r["epoch"], r["hyperparameter"]) for r in rows], want)
        if any(t.elements for t in tasks):
            rows = query("elements", df, "DenseBlock", "--where", where)
            want = sorted((e["task"], e["values"]["growth_rate"]) for t in tasks if t.id in sel for e in t.elements)
            expect("elements %s --where %s" % (df, where), sorted((r["task"], r["growth_rate"]) for r in rows), want)

    # test: the latest test record per task
    rows = query("test", df)
    tested = [t for t in tasks if t.tests]
    expect("test %s tasks" % df, sorted(r["task"] for r in rows), sorted(t.id for t in tested))
    for r in rows:
        latest = max(d["tasks"][r["task"]].tests, key=lambda x: x["time"])
        for m, v in latest["metrics"].items():
            expect("test %s %s %s" % (df, r["task"], m), r[m], v)

    # elements of the user-defined transformation
    if any(t.elements for t in tasks):
        rows = query("elements", df, "DenseBlock")
        want = sorted((e["task"], e["values"]["growth_rate"]) for t in tasks for e in t.elements)
        expect("elements %s" % df, sorted((r["task"], r["growth_rate"]) for r in rows), want)

print("query_check: %d checks, %d failed (seed %d)" % (checks, len(failures), SEED))
for f in failures[:15]:
    print("  " + f, file=sys.stderr)
sys.exit(1 if failures else 0)
