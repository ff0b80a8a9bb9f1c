#!/usr/bin/env python3
"""One model of a dataflow, three renderings that agree (docs/MODEL.md).

For a dataflow of an index, reads `describe --format json`'s "model" and
checks:
  - its built-in transformations against the documented rule, applied to
    the hyperparameters and metrics describe lists (written out here, not
    taken from the code);
  - SQL's tables transformations, sets, attributes and dependencies hold
    exactly the model (names, order, types, directions, dependencies);
  - the PROV-JSON export's prospective part holds exactly the model;
  - DfAnalyzer's `attribute` view names each attribute as the dialect table
    says, and each such name is a column of the
    set's ds_ view (`--dataflow` makes it the default dataflow).

usage: model_check.py DNNPROV INDEX_DIR DATAFLOW
"""
import json
import subprocess
import sys

# The built-in attributes as docs/MODEL.md lists them: (transformation, set,
# attribute, type, DfAnalyzer column or None for none).
BUILTIN = [
    ("TrainingModel", "iLayers", "name", "text", "name"),
    ("TrainingModel", "iLayers", "kind", "text", "attribute_type"),
    ("TrainingModel", "iLayers", "value", "text", "value"),
    ("TrainingModel", "oTrainingModel", "epoch", "numeric", "epoch"),
    ("TrainingModel", "oTrainingModel", "elapsed", "numeric", "elapsed_time"),
    ("Adaptation", "oAdaptation", "epoch", "numeric", "epoch_id"),
    ("Adaptation", "oAdaptation", "hyperparameter", "text", None),
    ("Adaptation", "oAdaptation", "old", "numeric", None),
    ("Adaptation", "oAdaptation", "new", "numeric", "new_lrate"),
    ("Adaptation", "oAdaptation", "id", "numeric", "adaptation_id"),
]

checks = failures = 0


def check(what, ok, detail=""):
    global checks, failures
    checks += 1
    if not ok:
        failures += 1
        print("FAIL: %s %s" % (what, detail))


def run(*args):
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode:
        raise SystemExit("%s: %s" % (" ".join(args), p.stderr.decode(errors="replace")))
    return p.stdout


def sql(dnnprov, index, df, query):
    return json.loads(run(dnnprov, "sql", "--index-dir", index, "--dataflow", df, "--format", "json", query))["rows"]


def fixed(tf, s):
    return [(a, t) for (x, y, a, t, _) in BUILTIN if (x, y) == (tf, s)]


def expected_builtins(hyps, metrics, adaptation):
    """[(name, builtin, deps, [(set, direction, builtin, [(attr, type)])])]."""
    def dedup(attrs):
        seen, out = set(), []
        for a in attrs:
            if a[0] not in seen:
                seen.add(a[0])
                out.append(a)
        return out
    ms = [(m, "numeric") for m in metrics]
    tfs = [("TrainingModel", True, [], [
        ("iTrainingModel", "input", True, dedup(hyps)),
        ("iLayers", "input", True, fixed("TrainingModel", "iLayers")),
        ("oTrainingModel", "output", True, dedup(fixed("TrainingModel", "oTrainingModel") + ms))])]
    if adaptation:
        tfs.append(("Adaptation", True, ["TrainingModel"], [
            ("oAdaptation", "output", True, fixed("Adaptation", "oAdaptation"))]))
    tfs.append(("TestingModel", True, ["TrainingModel"], [
        ("oTestingModel", "output", True, dedup([m for m in ms if not m[0].lower().startswith("val_")]))]))
    return tfs


def as_tuples(model):
    return [(t["name"], t["builtin"], t["depends_on"],
             [(s["name"], s["direction"], s["builtin"], [(a["name"], a["type"]) for a in s["attributes"]])
              for s in t["sets"]]) for t in model["transformations"]]


def from_sql(dnnprov, index, df):
    def w(table):
        return "select * from %s where dataflow = '%s'" % (table, df.replace("'", "''"))
    tfs = [(r["transformation"], bool(r["builtin"]), r["depends_on"].split(",") if r["depends_on"] else [], [])
           for r in sql(dnnprov, index, df, w("transformations"))]
    by = {t[0]: t for t in tfs}
    for r in sql(dnnprov, index, df, w("sets")):
        by[r["transformation"]][3].append((r["set"], r["direction"], by[r["transformation"]][1], []))
        check("%s: a set's DfAnalyzer table" % r["set"], r["table_name"] == "ds_" + r["set"].lower(), r["table_name"])
    for r in sql(dnnprov, index, df, w("attributes")):
        for s in by[r["transformation"]][3]:
            if s[0] == r["set"]:
                check("%s.%s: positions count from 1" % (r["set"], r["attribute"]), r["position"] == len(s[3]) + 1)
                s[3].append((r["attribute"], r["type"]))
    deps = sorted((r["set"], r["previous_transformation"], r["next_transformation"])
                  for r in sql(dnnprov, index, df, w("dependencies")))
    return tfs, deps


def expected_dependencies(tfs):
    out = []
    for name, _, deps, sets in tfs:
        for s, direction, _, _ in sets:
            if direction == "input":
                rows = [(s, d, name) for d in deps] or [(s, None, name)]
            else:
                rows = [(s, name, o[0]) for o in tfs if name in o[2]] or [(s, name, None)]
            out += rows
    return sorted(out, key=lambda r: tuple("" if x is None else x for x in r))


def from_prov(dnnprov, index, df):
    doc = json.loads(run(dnnprov, "export", df, "--index-dir", index, "--format", "prov-json"))
    ents = doc.get("entity", {})

    def val(e, k):
        v = e.get(k)
        return v["$"] if isinstance(v, dict) else v

    members = {}
    for r in doc.get("hadMember", {}).values():
        members.setdefault(r["prov:collection"], []).append(r["prov:entity"])
    deps = {}
    for r in doc.get("wasInfluencedBy", {}).values():
        deps.setdefault(r["prov:influencee"], []).append(ents[r["prov:influencer"]])
    tfs = []
    for tid in members.get("df:dataflow", []):
        sets = []
        for sid in members.get(tid, []):
            attrs = [(val(ents[a], "dnnprov:name"), val(ents[a], "dnnprov:type")) for a in members.get(sid, [])]
            sets.append((val(ents[sid], "dnnprov:name"), val(ents[sid], "dnnprov:direction"), attrs))
        tfs.append((val(ents[tid], "dnnprov:name"), [val(d, "dnnprov:name") for d in deps.get(tid, [])], sets))
    return tfs


def main(dnnprov, index, df):
    d = json.loads(run(dnnprov, "describe", df, "--index-dir", index, "--format", "json"))
    model = d.get("model")
    check("describe's JSON has the model", isinstance(model, dict))
    if not isinstance(model, dict):
        return
    check("the model names its dataflow", model.get("dataflow") == df, model.get("dataflow"))
    m = as_tuples(model)
    hyps = [(r["name"], r["detail"]) for r in d["rows"] if r["kind"] == "hyperparameter"]
    metrics = [r["name"] for r in d["rows"] if r["kind"] == "metric"]
    adaptation = any(t[0] == "Adaptation" for t in m)
    builtins = [t for t in m if t[1]]
    check("the built-ins follow the documented rule", builtins == expected_builtins(hyps, metrics, adaptation),
          "\n  got      %r\n  expected %r" % (builtins, expected_builtins(hyps, metrics, adaptation)))
    check("built-ins come first", [t[1] for t in m] == sorted((t[1] for t in m), reverse=True))
    check("every type is one of three", all(a[1] in ("numeric", "text", "file")
                                            for t in m for s in t[3] for a in s[3]))

    tfs, deps = from_sql(dnnprov, index, df)
    check("SQL's transformations, sets and attributes are the model", tfs == m, "\n  sql   %r\n  model %r" % (tfs, m))
    want = expected_dependencies(m)
    got = sorted(deps, key=lambda r: tuple("" if x is None else x for x in r))
    check("SQL's dependencies follow the model's", got == want, "\n  sql   %r\n  model %r" % (got, want))

    prov = from_prov(dnnprov, index, df)
    flat = [(t[0], t[2], [(s[0], s[1], s[3]) for s in t[3]]) for t in m]
    check("PROV's prospective part is the model", prov == flat, "\n  prov  %r\n  model %r" % (prov, flat))

    # DfAnalyzer's dialect: the attribute view's names, and the ds_ views' columns.
    dialect = {(tf, s, a): col for (tf, s, a, _, col) in BUILTIN}
    q = ("select s.tag as set_tag, a.name, a.type from attribute a join data_set s on s.id = a.ds_id "
         "join dataflow d on d.id = s.df_id where d.tag = '%s' order by a.id" % df.replace("'", "''"))
    rows = sql(dnnprov, index, df, q)
    want = []
    for tf, _, _, sets in m:
        for s, _, _, attrs in sets:
            for a, t in attrs:
                col = dialect.get((tf, s, a), a)
                if col is not None:
                    want.append((s, col, t.upper()))
    got = [(r["set_tag"], r["name"], r["type"]) for r in rows]
    check("DfAnalyzer's attribute view: the dialect's names", sorted(got) == sorted(want),
          "\n  got  %r\n  want %r" % (sorted(got), sorted(want)))
    # --dataflow makes df the default dataflow: its ds_ views exist.
    for tf, _, _, sets in m:
        for s, _, _, attrs in sets:
            view = '"ds_%s"' % s.lower().replace('"', '""')
            try:
                cols = json.loads(run(dnnprov, "sql", "--index-dir", index, "--dataflow", df, "--format", "json",
                                      "select * from %s limit 0" % view))["columns"]
            except SystemExit:
                continue  # a view too wide, or a name taken: the notes say so
            for a, _ in attrs:
                col = dialect.get((tf, s, a), a)
                if col is not None:
                    check("%s has a column for %s" % (view, a), col.lower() in [c.lower() for c in cols],
                          "%r not in %r" % (col, cols))
    print("model_check %s: %d checks, %d failed" % (df, checks, failures))


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    main(*sys.argv[1:])
    sys.exit(1 if failures else 0)
