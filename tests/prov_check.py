#!/usr/bin/python3
"""Checks `dnnprov export` against the reference PROV implementation.

usage: prov_check.py --dnnprov BIN --logs LOG_DIR --index INDEX_DIR --df DF
                     [--task ID]... [--label TEXT]

Run it with /usr/bin/python3: python3-prov (the `prov` package) is the
Debian one.  It exports DF (restricted to the --task ids, if any) in both
formats and checks:

1. Determinism: two exports of the same index are byte for byte equal,
   in both formats.
2. PROV-JSON is strict JSON (no bare NaN, no key twice in an object) and
   python3-prov loads it without error.
3. The statement counts by type equal the counts computed here from the
   logs, independently of the index: `dnnprov cat` prints every record;
   this script applies them as docs/INDEX.md says the indexer does (a
   task's records count once it has begun, the latest epoch record of an
   (task, epoch) and the latest adaptation of a (task, epoch, name) win,
   the latest begin gives the host, user and hyperparameters, ...) and
   derives from that model how many statements of each type docs/PROV.md
   promises.
4. The content equals that model: every identifier (the encoding of
   docs/PROV.md, recomputed here, test and element ids from the CRC32C of
   the segment file name and the frame offset that `cat` prints), every
   hyperparameter value, metric, test result, element value, adaptation,
   layer and task attribute, with exact floats (NaN, infinities, -0.0) and
   exact text.
5. PROV-N equals, statement for statement, what python3-prov writes for
   our PROV-JSON.  python3-prov cannot read PROV-N, so this script parses
   our PROV-N itself, strictly, with the PROV-N grammar for what it uses
   (QUALIFIED_NAME and PN_LOCAL, STRING_LITERAL with ECHAR escapes, typed
   literals "lexical" %% type whose lexical form must match the type's
   XSD pattern, xsd:dateTime formal times, '-' for absent formals, and
   only declared prefixes), builds the same python3-prov records from it,
   and compares python3-prov's PROV-N rendering of each record on both
   sides, sorted.  The normalization, and why:
     - statement order: PROV-N is written task by task, PROV-JSON section
       by section (the statement multiset is compared);
     - literal spelling: python3-prov converts typed literals to Python
       values and writes them back its own way (xsd:double as "%g" %%
       xsd:float, xsd:long as a bare integer, xsd:string unquoted-typed,
       times with +00:00, no escaping of '\\'), lossy and not always valid
       PROV-N; rendering both sides through it compares values, not
       spelling;
     - attribute order inside a statement: rendered the same on both
       sides because both formats list attributes in the same order, and
       compared after sorting anyway;
     - prefixes: PROV-N omits prov and xsd (predefined), as python3-prov
       does; the other declarations must be equal.
   Because "%g" hides digits, a second comparison uses exact values on
   both sides: floats by repr (NaN equal to NaN), qualified names by their
   full IRI, times as UTC instants.
Exits 1 with the first differences on failure.
"""
import argparse
import collections
import datetime
import json
import math
import os
import re
import subprocess
import sys
from types import SimpleNamespace

from prov.constants import PROV_N_MAP, PROV_RECORD_IDS_MAP
from prov.identifier import QualifiedName
from prov.model import PROV_REC_CLS, Literal, ProvDocument, encoding_provn_value

from liveness import owner_lives
from logmodel import health

DNNPROV_NS = "https://dnnprov.dev/ns#"
problems = []


def problem(msg):
    problems.append(msg)


# ---- the identifier encoding of docs/PROV.md, written again ----------------------------

SAFE = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def enc(s, first=False):
    out = []
    for i, b in enumerate(s.encode("utf-8")):
        if b in SAFE and not (first and i == 0 and b == ord("-")):
            out.append(chr(b))
        else:
            out.append("%%%02X" % b)
    return "".join(out)


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def record_id(rec):
    name = rec["segment"].rsplit("/", 1)[-1]
    return "%08x-%d" % (crc32c(name.encode("utf-8")), rec["offset"])


# ---- the model, from `dnnprov cat` ------------------------------------------------------

NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def number(v):
    """cat prints NaN and infinities as strings: numbers where numbers are."""
    return NONFINITE.get(v, v) if isinstance(v, str) else v



def attempt_time(t, r):
    """When a record of the task's current attempt happened, by the rule of
    docs/RUNS.md: the attempt's begin plus the time since boot between the
    two records when both have it (every segment here is of this boot),
    else its wall time; never before the attempt's begin."""
    begins, mono = t["attempt"]
    at = r["time"]
    if mono is not None and r.get("mono") is not None and r["mono"] >= mono:
        at = begins + (r["mono"] - mono)
    return at if at >= begins else begins

class Model:
    def __init__(self, records, df, selected):
        self.spec = {"hyperparameters": [], "metrics": [], "adaptation": False, "transformations": {}}
        self.tasks = {}  # id -> state
        self.epochs = {}  # (task, epoch) -> record
        self.adapts = {}  # (task, epoch, name) -> record
        self.tests = []  # (task, rid, record)
        self.elements = []  # (task, tf, set, rid, record)
        self.layers = {}  # task -> record
        self.epoch_records = {}  # task -> its epoch records in order (the health rules read them)
        self.lineage = []  # (task, "used" | "generated", record)
        metric_names = []
        for r in records:
            if r.get("dataflow") != df:
                continue
            kind, task = r["kind"], r.get("task")
            if kind == "spec":
                for h in r["hyperparameters"]:
                    if h["name"] not in [x["name"] for x in self.spec["hyperparameters"]]:
                        self.spec["hyperparameters"].append(h)
                for m in r["metrics"]:
                    if m not in self.spec["metrics"]:
                        self.spec["metrics"].append(m)
                self.spec["adaptation"] |= r["adaptation"]
                for tf in r["transformations"]:
                    self.spec["transformations"][tf["name"]] = tf
                continue
            if kind == "begin":
                # The first begin gives the values and the start; a resume
                # starts a new attempt of the same run, never before the
                # one before it ended (docs/RUNS.md, "Times of a run").
                begins = r["time"]
                if task in self.tasks:
                    before = self.tasks[task]
                    until = before["end"] if before["end"] is not None else before["last"]
                    if until is not None and not begins >= until:
                        begins = until
                t = self.tasks.setdefault(task, {"hyps": dict(r["hyperparameters"]), "start": r["time"],
                                                 "attempts": 0})
                t.update(status="RUNNING", end=None, message=None, host=r.get("host"), user=r.get("user"),
                         pid=r["pid"], execution=r.get("execution"), transformation=r["transformation"],
                         owner=r.get("owner"), attempt=(begins, r.get("mono")), last=begins)
                t["attempts"] += 1
                if r.get("facts") and "facts" not in t:
                    t["facts"] = r["facts"]  # the index keeps the first begin's that had them
                continue
            if task not in self.tasks:
                continue  # the indexer reports it and skips it
            t = self.tasks[task]
            if kind == "epoch":
                self.epochs[(task, r["epoch"])] = r
                self.epoch_records.setdefault(task, []).append(r)
                metric_names += list(r["metrics"])
            elif kind == "adapt":
                self.adapts[(task, r["epoch"], r["hyperparameter"])] = r
            elif kind == "test":
                self.tests.append((task, record_id(r), r))
                metric_names += list(r["metrics"])
            elif kind == "element":
                self.elements.append((task, r["transformation"], r["set"], record_id(r), r))
            elif kind == "layers":
                self.layers[task] = r
            elif kind in ("used", "generated"):
                self.lineage.append((task, kind, r))
            elif kind == "end":
                t.update(status=r["status"], end=attempt_time(t, r), message=r.get("message"))
            if kind in ("epoch", "adapt", "test", "element", "layers", "end", "used", "generated"):
                t["last"] = attempt_time(t, r)
        for m in metric_names:
            if m not in self.spec["metrics"]:
                self.spec["metrics"].append(m)
        for t in self.tasks.values():
            if t["status"] == "RUNNING" and not owner_lives(t["owner"]):
                t["status"] = "LOST"
        self.all_tasks = sorted(self.tasks)
        self.selected = sorted(set(selected)) if selected else self.all_tasks
        sel = set(self.selected)
        self.epochs = {k: v for k, v in self.epochs.items() if k[0] in sel}
        self.adapts = {k: v for k, v in self.adapts.items() if k[0] in sel}
        self.tests = [x for x in self.tests if x[0] in sel]
        self.elements = [x for x in self.elements if x[0] in sel]
        self.layers = {k: v for k, v in self.layers.items() if k in sel}
        # The health rules (docs/STEERING.md), replayed by tests/logmodel.py.
        self.events, self.health = [], {}
        for tid in self.selected:
            events, state = health(SimpleNamespace(epoch_records=self.epoch_records.get(tid, [])))
            self.events += [(tid, rule, e) for rule, e in events]
            self.health[tid] = state
        self.lineage = [x for x in self.lineage if x[0] in sel]

    def prospective(self):
        """[(transformation, [dependencies], [(set, input, [(attribute, type)])])], deduplicated."""
        hyps = [(h["name"], h["type"]) for h in self.spec["hyperparameters"]]
        for tid in self.all_tasks:
            for name, value in self.tasks[tid]["hyps"].items():
                if name not in [h[0] for h in hyps]:
                    hyps.append((name, "text" if isinstance(value, str) else "numeric"))
        metrics = [(m, "numeric") for m in self.spec["metrics"]]
        tfs = [("TrainingModel", [], [("iTrainingModel", True, hyps),
                                      ("iLayers", True, [("name", "text"), ("kind", "text"), ("value", "text")]),
                                      ("oTrainingModel", False, [("epoch", "numeric"), ("elapsed", "numeric")] + metrics)])]
        if self.spec["adaptation"]:
            tfs.append(("Adaptation", ["TrainingModel"], [("oAdaptation", False, [
                ("epoch", "numeric"), ("hyperparameter", "text"), ("old", "numeric"), ("new", "numeric"),
                ("id", "numeric")])]))
        tfs.append(("TestingModel", ["TrainingModel"], [("oTestingModel", False, [m for m in metrics if not m[0].lower().startswith("val_")])]))
        for name, tf in self.spec["transformations"].items():
            sets = [(s["name"], s["direction"] == "input", [(a["name"], a["type"]) for a in s["attributes"]])
                    for s in tf["sets"]]
            tfs.append((name, tf["depends_on"], sets))
        out, seen_tf = [], set()
        for name, deps, sets in tfs:
            if name in seen_tf:
                continue
            seen_tf.add(name)
            dedup_sets, seen_set = [], set()
            for sname, inp, attrs in sets:
                if sname in seen_set:
                    continue
                seen_set.add(sname)
                dedup_attrs, seen_attr = [], set()
                for a in attrs:
                    if a[0] not in seen_attr:
                        seen_attr.add(a[0])
                        dedup_attrs.append(a)
                dedup_sets.append((sname, inp, dedup_attrs))
            out.append((name, list(dict.fromkeys(deps)), dedup_sets))
        return out

    def set_input(self, tf, set_name):
        for name, _, sets in self.prospective():
            for s, inp, _ in sets:
                if name == tf and s == set_name:
                    return inp
        return False

    FRAMEWORKS = ("python", "torch", "tensorflow", "keras", "numpy", "sklearn")

    def agents(self, task):
        """The task's agents but the software, as the export names them (docs/PROV.md)."""
        t = self.tasks[task]
        out, facts = [], t.get("facts") or {}
        if t.get("user"):
            out.append("df:agent/person/" + enc(t["user"]))
        machine = "df:agent/machine/" + enc(t["host"]) if t.get("host") else None
        if machine:
            out.append(machine)
        if isinstance(facts.get("accelerator"), str) and facts["accelerator"]:
            out.append((machine or "df:agent") + "/accelerator/" + enc(facts["accelerator"]))
        for name in self.FRAMEWORKS:
            if isinstance(facts.get(name), str) and facts[name]:
                out.append("df:software/%s/%s" % (name, enc(facts[name])))
        return out

    def expected_counts(self):
        pro = self.prospective()
        ntf = len(pro)
        nsets = sum(len(s) for _, _, s in pro)
        nattrs = sum(len(a) for _, _, sets in pro for _, _, a in sets)
        ndeps = sum(len(d) for _, d, _ in pro)
        tasks = self.selected
        nlayers = sum(len(r["layers"]) for r in self.layers.values())
        nad, ntest = len(self.adapts), len(self.tests)
        user_acts = {(t, tf) for t, tf, _, _, _ in self.elements}
        inputs = sum(1 for t, tf, s, _, _ in self.elements if self.set_input(tf, s))
        outputs = len(self.elements) - inputs
        # Every activity is associated with the software and, when the task
        # names a host or user, with that agent.
        activities = list(tasks) + [k[0] for k in self.adapts] + [t[0] for t in self.tests] + \
            [t for t, _ in user_acts]
        agents = {a for t in tasks for a in self.agents(t)}
        entities = {r["fingerprint"] for _, _, r in self.lineage}
        nused = sum(1 for _, kind, _ in self.lineage if kind == "used")
        ngen = len(self.lineage) - nused
        return {
            "entity": 1 + ntf + nsets + nattrs + len(tasks) + nlayers + len(self.epochs) + nad + ntest
            + len(self.elements) + len(self.events) + len(entities),
            "activity": len(tasks) + nad + ntest + len(user_acts),
            "agent": len(agents) + 1,
            "wasGeneratedBy": len(self.epochs) + nad + ntest + outputs + ngen,
            "used": len(tasks) + nlayers + 2 * nad + inputs + nused,
            "wasInformedBy": nad + ntest,
            "wasAssociatedWith": sum(1 + len(self.agents(t)) for t in activities),
            "wasDerivedFrom": nad + len(self.events),
            "wasInfluencedBy": ndeps,
            "hadMember": ntf + nsets + nattrs,
        }


# ---- exact values ------------------------------------------------------------------------


def exact(v):
    """A value as a comparable, exact key."""
    if isinstance(v, bool):
        return ("bool", v)
    if isinstance(v, float):
        return ("float", "nan" if math.isnan(v) else repr(v))
    if isinstance(v, int):
        return ("int", v)
    if isinstance(v, str):
        return ("str", v)
    if isinstance(v, datetime.datetime):
        return ("time", v.astimezone(datetime.timezone.utc).isoformat())
    if isinstance(v, QualifiedName):
        return ("qname", v.uri)
    if isinstance(v, Literal):
        return ("literal", v.value, v.datatype.uri if v.datatype else None, v.langtag)
    return ("other", repr(v))


def exact_record(r):
    formal = tuple((a.uri, exact(v) if v is not None else None) for a, v in r.formal_attributes)
    extra = tuple(sorted((a.uri, exact(v)) for a, v in r.extra_attributes))
    return (PROV_N_MAP[r.get_type()], r.identifier.uri if r.identifier else None, formal, extra)


def expected_value(v):
    """A value from a cat record as the export types it (numbers: cat's NaN strings)."""
    v = number(v)
    if isinstance(v, float):
        return ("float", "nan" if math.isnan(v) else repr(v))
    if isinstance(v, bool):
        return ("bool", v)
    if isinstance(v, int):
        return ("int", v)
    return ("str", v)


def metric_value(v):
    v = float(number(v))
    return ("float", "nan" if math.isnan(v) else repr(v))


# ---- PROV-N, parsed strictly ----------------------------------------------------------------

PN_CHARS_BASE = ("A-Za-z\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u02FF\u0370-\u037D\u037F-\u1FFF\u200C-\u200D"
                 "\u2070-\u218F\u2C00-\u2FEF\u3001-\uD7FF\uF900-\uFDCF\uFDF0-\uFFFD\U00010000-\U000EFFFF")
PN_CHARS_U = PN_CHARS_BASE + "_"
PN_CHARS = PN_CHARS_U + "\\-0-9\u00B7\u0300-\u036F\u203F-\u2040"
OTHERS = r"(?:[/@~&+*?#$!]|%[0-9A-Fa-f]{2}|\\[=\'(),\-:;\[\].])"
PN_PREFIX = "[%s](?:[%s.]*[%s])?" % (PN_CHARS_BASE, PN_CHARS, PN_CHARS)
PN_LOCAL = "(?:[%s0-9]|%s)(?:(?:[%s.]|%s)*(?:[%s]|%s))?" % (PN_CHARS_U, OTHERS, PN_CHARS, OTHERS, PN_CHARS, OTHERS)
QNAME_RE = re.compile("(%s):(%s)" % (PN_PREFIX, PN_LOCAL))
DATETIME_RE = re.compile(r"-?\d{4,}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")
LEXICAL = {
    "xsd:string": re.compile(r"(?s).*"),
    "xsd:long": re.compile(r"[+-]?\d+"),
    "xsd:integer": re.compile(r"[+-]?\d+"),
    "xsd:double": re.compile(r"(\+|-)?([0-9]+(\.[0-9]*)?|\.[0-9]+)([Ee](\+|-)?[0-9]+)?|(\+|-)?INF|NaN"),
    "xsd:dateTime": DATETIME_RE,
}
ECHAR = {"t": "\t", "b": "\b", "n": "\n", "r": "\r", "f": "\f", "\\": "\\", '"': '"', "'": "'"}


class ProvNError(Exception):
    pass


class ProvNParser:
    def __init__(self, text):
        self.s, self.i = text, 0

    def fail(self, what):
        line = self.s.count("\n", 0, self.i) + 1
        raise ProvNError("PROV-N line %d: %s near %r" % (line, what, self.s[self.i:self.i + 60]))

    def ws(self):
        while self.i < len(self.s) and self.s[self.i] in " \t\r\n":
            self.i += 1

    def lit(self, t):
        self.ws()
        if not self.s.startswith(t, self.i):
            self.fail("expected %r" % t)
        self.i += len(t)

    def peek(self, t):
        self.ws()
        return self.s.startswith(t, self.i)

    def regex(self, rx, what):
        self.ws()
        m = rx.match(self.s, self.i)
        if not m:
            self.fail("expected " + what)
        self.i = m.end()
        return m

    def qname(self):
        m = self.regex(QNAME_RE, "a qualified name")
        if m.group(1) not in self.prefixes:
            self.fail("undeclared prefix %r" % m.group(1))
        if "\\" in m.group(2):
            self.fail("escaped local names are not expected")
        return m.group(0)

    def string(self):
        self.lit('"')
        out = []
        while True:
            if self.i >= len(self.s):
                self.fail("unterminated string")
            c = self.s[self.i]
            if c == '"':
                self.i += 1
                return "".join(out)
            if c in "\n\r":
                self.fail("raw line break in a string")
            if c == "\\":
                e = self.s[self.i + 1:self.i + 2]
                if e not in ECHAR:
                    self.fail("bad escape")
                out.append(ECHAR[e])
                self.i += 2
                continue
            out.append(c)
            self.i += 1

    def literal(self):
        if self.peek("'"):
            self.lit("'")
            q = self.qname()
            if self.s[self.i] != "'":
                self.fail("expected a closing quote")
            self.i += 1
            return ("qname", q)
        value = self.string()
        if self.peek("%%"):
            self.lit("%%")
            dt = self.qname()
            if dt not in LEXICAL or not LEXICAL[dt].fullmatch(value):
                self.fail("%r is not a valid %s" % (value[:40], dt))
            return ("typed", value, dt)
        return ("typed", value, "xsd:string")

    def document(self):
        self.prefixes = {"prov": "http://www.w3.org/ns/prov#", "xsd": "http://www.w3.org/2001/XMLSchema#"}
        declared = []
        self.lit("document")
        while self.peek("prefix "):
            self.lit("prefix")
            p = self.regex(re.compile(PN_PREFIX), "a prefix").group(0)
            iri = self.regex(re.compile(r'<([^<>"{}|^`\\\x00-\x20]*)>'), "an IRI").group(1)
            if p in self.prefixes:
                self.fail("prefix %r declared twice or reserved" % p)
            if not re.match(r"[a-z][a-z0-9+.-]*:", iri):
                self.fail("the IRI of %r is not absolute" % p)
            self.prefixes[p] = iri
            declared.append((p, iri))
        statements = []
        while not self.peek("endDocument"):
            kw = self.regex(re.compile(r"[A-Za-z]+"), "a statement").group(0)
            if kw not in PROV_RECORD_IDS_MAP:
                self.fail("unknown statement " + kw)
            rtype = PROV_RECORD_IDS_MAP[kw]
            nformal = len(PROV_REC_CLS[rtype].FORMAL_ATTRIBUTES)
            self.lit("(")
            ident, args, attrs = None, [], []
            is_element = kw in ("entity", "activity", "agent")
            if is_element:
                ident = self.qname()
            for k in range(nformal):
                if is_element or k:
                    self.lit(",")
                if self.peek("-") and not DATETIME_RE.match(self.s, self.i):
                    self.lit("-")
                    args.append(None)
                elif PROV_REC_CLS[rtype].FORMAL_ATTRIBUTES[k].localpart in ("time", "startTime", "endTime"):
                    args.append(("time", self.regex(DATETIME_RE, "a dateTime").group(0)))
                else:
                    args.append(("ref", self.qname()))
            if self.peek(","):
                self.lit(",")
                self.lit("[")
                while True:
                    name = self.qname()
                    self.lit("=")
                    attrs.append((name, self.literal()))
                    if self.peek("]"):
                        break
                    self.lit(",")
                self.lit("]")
            self.lit(")")
            statements.append((kw, ident, args, attrs))
        self.lit("endDocument")
        self.ws()
        if self.i != len(self.s):
            self.fail("text after endDocument")
        return declared, statements


def provn_to_doc(declared, statements):
    doc = ProvDocument()
    for p, iri in declared:
        doc.add_namespace(p, iri)
    for kw, ident, args, attrs in statements:
        rtype = PROV_RECORD_IDS_MAP[kw]
        formal = []
        for name, a in zip(PROV_REC_CLS[rtype].FORMAL_ATTRIBUTES, args):
            if a is not None:
                formal.append((name, a[1]))
        other = []
        for name, v in attrs:
            if v[0] == "qname":
                other.append((name, doc.valid_qualified_name(v[1])))
            else:
                other.append((name, Literal(v[1], doc.valid_qualified_name(v[2]))))
        doc.new_record(rtype, ident, formal, other)
    return doc


# ---- the checks ------------------------------------------------------------------------------


def export(args, fmt):
    cmd = [args.dnnprov, "export", "--index-dir", args.index, args.df, "--format", fmt]
    for t in args.task:
        cmd += ["--task", t]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        sys.exit("prov_check: %s failed (%d): %s" % (" ".join(cmd), p.returncode, p.stderr.decode(errors="replace")))
    return p.stdout.decode("utf-8")


def strict_json(text):
    def pairs(kv):
        keys = [k for k, _ in kv]
        dup = [k for k, n in collections.Counter(keys).items() if n > 1]
        if dup:
            problem("PROV-JSON: key %r twice in one object" % dup[0])
        return dict(kv)

    def constant(c):
        problem("PROV-JSON: bare %s is not JSON" % c)

    return json.loads(text, object_pairs_hook=pairs, parse_constant=constant)


def check_content(model, doc):
    """Every retrospective record against the model, by identifier."""
    by_id = {}
    for r in doc.get_records():
        if r.identifier is not None:
            by_id[(PROV_N_MAP[r.get_type()], str(r.identifier))] = r

    def attrs_of(kind, ident):
        r = by_id.get((kind, ident))
        if r is None:
            problem("missing %s %s" % (kind, ident))
            return None
        return {str(a): exact(v) for a, v in r.extra_attributes}

    def same(where, got, want):
        if got != want:
            problem("%s: got %r, want %r" % (where, got, want))

    def dfa(name):
        return "dfa:" + enc(name, first=True)

    for tid in model.selected:
        t = model.tasks[tid]
        T = "df:task/" + enc(tid)
        a = attrs_of("activity", T)
        if a is not None:
            same(T + " status", a.get("dnnprov:status"), ("str", t["status"]))
            same(T + " task", a.get("dnnprov:task"), ("str", tid))
            same(T + " message", a.get("dnnprov:message"), ("str", t["message"]) if t["message"] else None)
            same(T + " attempts", a.get("dnnprov:attempts"), ("int", t["attempts"]))
            if t["status"] != "RUNNING":  # a running one may be stalled by the time it is exported
                same(T + " health", a.get("dnnprov:health"), ("str", model.health[tid]))
            r = by_id[("activity", T)]
            start, end = r.formal_attributes[0][1], r.formal_attributes[1][1]
            same(T + " start", abs(start.timestamp() - t["start"]) < 1e-6, True)
            same(T + " end", end is None if t["end"] is None else abs(end.timestamp() - t["end"]) < 1e-6, True)
        h = attrs_of("entity", T + "/hyperparameters")
        if h is not None:
            want = {dfa(k): expected_value(v) for k, v in t["hyps"].items() if v is not None}
            same(T + " hyperparameters", {k: v for k, v in h.items() if k.startswith("dfa:")}, want)
        for ag in model.agents(tid):
            if ("agent", ag) not in by_id:
                problem("missing agent " + ag)
    for tid, kind, rec in model.lineage:
        alg, _, hexd = rec["fingerprint"].partition(":")
        eid = "ent:%s/%s" % (enc(alg), enc(hexd))
        a = attrs_of("entity", eid)
        if a is not None:
            same(eid + " fingerprint", a.get("dnnprov:fingerprint"), ("str", rec["fingerprint"]))
    for (tid, e), rec in model.epochs.items():
        eid = "df:task/%s/epoch/%d" % (enc(tid), e)
        a = attrs_of("entity", eid)
        if a is not None:
            want = {dfa(k): metric_value(v) for k, v in rec["metrics"].items()}
            same(eid, {k: v for k, v in a.items() if k.startswith("dfa:")}, want)
            same(eid + " elapsed", a.get("dnnprov:elapsed"), metric_value(rec["elapsed"]))
            same(eid + " epoch", a.get("dnnprov:epoch"), ("int", e))
    for tid, rule, e in model.events:
        evid = "df:task/%s/event/%s/%d" % (enc(tid), rule, e)
        a = attrs_of("entity", evid)
        if a is not None:
            same(evid + " rule", a.get("dnnprov:rule"), ("str", rule))
            same(evid + " epoch", a.get("dnnprov:epoch"), ("int", e))
    for (tid, e, hname), rec in model.adapts.items():
        vid = "df:task/%s/hyperparameter/%s/epoch/%d" % (enc(tid), enc(hname), e)
        a = attrs_of("entity", vid)
        if a is not None and rec["new"] is not None:
            same(vid, a.get("prov:value"), expected_value(rec["new"]))
        attrs_of("activity", "df:task/%s/adaptation/%d/%s" % (enc(tid), e, enc(hname)))
    for tid, rid, rec in model.tests:
        rid_id = "df:task/%s/test/%s/result" % (enc(tid), rid)
        a = attrs_of("entity", rid_id)
        if a is not None:
            same(rid_id, {k: v for k, v in a.items() if k.startswith("dfa:")},
                 {dfa(k): metric_value(v) for k, v in rec["metrics"].items()})
    for tid, tf, s, rid, rec in model.elements:
        eid = "df:task/%s/element/%s/%s/%s" % (enc(tid), enc(tf), enc(s), rid)
        a = attrs_of("entity", eid)
        if a is not None:
            same(eid, {k: v for k, v in a.items() if k.startswith("dfa:")},
                 {dfa(k): expected_value(v) for k, v in rec["values"].items() if v is not None})
    for tid, rec in model.layers.items():
        for i, layer in enumerate(rec["layers"]):
            lid = "df:task/%s/layer/%d" % (enc(tid), i)
            a = attrs_of("entity", lid)
            if a is not None:
                same(lid, (a.get("dnnprov:name"), a.get("dnnprov:kind"), a.get("dnnprov:value")),
                     (("str", layer["name"]), ("str", layer["kind"]), expected_value(layer["value"])))
    for name, deps, sets in model.prospective():
        tfid = "df:transformation/" + enc(name)
        attrs_of("entity", tfid)
        for sname, inp, attrs in sets:
            sid = tfid + "/set/" + enc(sname)
            a = attrs_of("entity", sid)
            if a is not None:
                same(sid + " direction", a.get("dnnprov:direction"), ("str", "input" if inp else "output"))
            for an, at in attrs:
                a = attrs_of("entity", sid + "/attribute/" + enc(an))
                if a is not None:
                    same(sid + "/" + an, a.get("dnnprov:type"), ("str", at))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dnnprov", required=True)
    ap.add_argument("--logs", required=True)
    ap.add_argument("--index", required=True)
    ap.add_argument("--df", required=True)
    ap.add_argument("--task", action="append", default=[])
    ap.add_argument("--label", default="")
    args = ap.parse_args()
    label = args.label or args.df

    pj, pn = export(args, "prov-json"), export(args, "prov-n")
    if export(args, "prov-json") != pj or export(args, "prov-n") != pn:
        problem("two exports of the same index differ")

    raw = strict_json(pj)
    ns = raw.get("prefix", {})
    if ns.get("dnnprov") != DNNPROV_NS or not ns.get("df", "").startswith("https://dnnprov.dev/df/" + enc(args.df) + "/"):
        problem("unexpected namespaces: %r" % ns)
    for p, iri in ns.items():
        if not re.match(r"[a-z][a-z0-9+.-]*://", iri):
            problem("prefix %s is not an absolute IRI: %s" % (p, iri))
    doc = ProvDocument.deserialize(content=pj, format="json")

    cat = subprocess.run([args.dnnprov, "cat", "--seconds", args.logs], stdout=subprocess.PIPE, check=True)
    records = [json.loads(line) for line in cat.stdout.decode("utf-8").splitlines()]
    model = Model(records, args.df, args.task)

    got = collections.Counter(PROV_N_MAP[r.get_type()] for r in doc.get_records())
    want = collections.Counter({k: v for k, v in model.expected_counts().items() if v})
    if got != want:
        problem("statement counts: got %s, want %s" % (dict(sorted(got.items())), dict(sorted(want.items()))))
    if len(raw) - 1 != len(want):
        problem("PROV-JSON has %d sections for %d statement types" % (len(raw) - 1, len(want)))
    check_content(model, doc)

    try:
        declared, statements = ProvNParser(pn).document()
    except ProvNError as e:
        problem(str(e))
        declared, statements = [], []
    if statements:
        ndoc = provn_to_doc(declared, statements)
        json_prefixes = [l.strip() for l in doc.get_provn().splitlines() if l.strip().startswith("prefix ")]
        ours = ["prefix %s <%s>" % d for d in declared]
        if sorted(json_prefixes) != sorted(ours):
            problem("PROV-N prefixes %r, python3-prov writes %r" % (ours, json_prefixes))

        def rendering(d):
            out = []
            for r in d.get_records():
                s = r.get_provn()
                m = re.match(r"(?s)(.*?)(, \[(.*)\])?\)$", s)
                # python3-prov's own text, attributes sorted (see the top).
                extras = sorted("%s=%s" % (a, v.provn_representation() if hasattr(v, "provn_representation")
                                           else encoding_provn_value(v))
                                for a, v in r.extra_attributes)
                out.append((m.group(1) if m else s, tuple(extras)))
            return collections.Counter(out)

        a, b = rendering(doc), rendering(ndoc)
        if a != b:
            only_json = list((a - b).elements())[:3]
            only_n = list((b - a).elements())[:3]
            problem("PROV-N differs from python3-prov's PROV-N of our PROV-JSON:\n  only from JSON: %r\n"
                    "  only in ours: %r" % (only_json, only_n))
        ea = collections.Counter(exact_record(r) for r in doc.get_records())
        eb = collections.Counter(exact_record(r) for r in ndoc.get_records())
        if ea != eb:
            problem("PROV-N and PROV-JSON values differ:\n  JSON: %r\n  PROV-N: %r" %
                    (list((ea - eb).elements())[:2], list((eb - ea).elements())[:2]))

    total = sum(got.values())
    summary = ", ".join("%s %d" % (k, got[k]) for k in sorted(got))
    if problems:
        print("prov_check: %s: %d problems" % (label, len(problems)), file=sys.stderr)
        for p in problems[:15]:
            print("  " + (p if len(p) < 1500 else p[:1500] + "..."), file=sys.stderr)
        return 1
    print("prov_check: %s: ok, %d statements (%s)" % (label, total, summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
