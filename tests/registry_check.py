"""Every front end takes exactly the parameters the registry gives it.

usage: registry_check.py DNNPROV INDEX_DIR

The registry (dnnprov.questions(), the library's dnnprov_questions_json)
says, for each question and parameter, which front ends offer it by name.
Each front end is asked every question with every parameter name any
question has (and one no question has), with a value of the parameter's
type: the command line (--NAME VALUE), HTTP (/api/QUESTION?NAME=VALUE),
SQL (dnnprov_query('QUESTION', 'NAME', VALUE)) and the C API through
Python (dnnprov.ask).  A parameter offered is accepted: whatever else goes
wrong (a metric the index lacks), it is not refused as unknown.  One not
offered is refused, naming it: the CLI's "unknown option"/"does not apply",
the API's 400 with "parameter", SQL's and the C API's "unknown parameter"
with dnnprov_errsubject().  Then the usage the command line prints for a
question lists every option the registry gives it.
"""
import json
import os
import subprocess
import sys
import urllib.parse

import dnnprov
from serve_lib import Checks, Server

DN, INDEX = sys.argv[1:3]
check = Checks("registry_check")
registry = dnnprov.questions()
questions = registry["questions"]
common = {c["name"]: c for c in registry["common"]}

# A value of each type, for the index tests/test_registry.sh makes.
TASK = "task-0001"
SAMPLE_BY_NAME = {"dataflow": "df", "task": TASK, "metric": "loss", "metrics": "loss,accuracy",
                  "hyp": "LEARNING_RATE", "transformation": "DenseBlock", "set": "iDenseBlock",
                  "sort": "task", "where": "epochs >= 0"}
SAMPLE_BY_TYPE = {"aggregate": "best", "flag": "true", "where": "epochs >= 0", "text": "task",
                  "name": "loss", "names": "loss", "task": TASK, "dataflow": "df"}


def sample(p):
    if p["name"] in SAMPLE_BY_NAME:
        return SAMPLE_BY_NAME[p["name"]]
    if p["type"] in ("integer", "real", "duration"):  # a duration's bare number is in its unit
        return str(int(p["min"]) if p["type"] == "integer" else p["min"])
    if p["type"] == "size":
        return str(int(p["min"]))
    if p["type"] == "address":
        return "127.0.0.1:0"
    if p["type"] == "choice":
        return p["choices"][0]
    return SAMPLE_BY_TYPE[p["type"]]


# Every name a parameter has somewhere, with a parameter that has it.
every = {}
for q in questions:
    for p in q["parameters"]:
        every.setdefault(p["name"], p)
every["nosuchparameter"] = {"name": "nosuchparameter", "type": "text", "fronts": []}


def offered(q, name, front):
    return any(p["name"] == name and front in p["fronts"] for p in q["parameters"])


def required_args(q, front):
    """What a question needs besides the probed parameter: its required
    parameters (as positionals on the command line, by name elsewhere)."""
    need = [p for p in q["parameters"] if p["required"] and p["name"] != "dataflow"]
    if front == "cli":
        pos = [sample(p) for p in q["parameters"] if p.get("positional") and p["required"]]
        opts = []
        for p in need:
            if not p.get("positional"):
                opts += ["--" + p["name"], sample(p)]
        return ["df"] + pos + opts
    return {p["name"]: sample(p) for p in need}


# ---- the command line ----------------------------------------------------------------------

for q in questions:
    usage = subprocess.run([DN, q["name"], "--help"], capture_output=True, text=True)
    helped = subprocess.run([DN, "help", q["name"]], capture_output=True, text=True)
    check(q["name"] + " --help: the usage, as `dnnprov help` prints it",
          usage.returncode == 0 and usage.stdout == helped.stdout and usage.stdout.startswith(
              "usage: dnnprov %s " % q["name"]), usage.stderr)
    for p in q["parameters"]:
        if "cli" in p["fronts"]:
            check("%s --help lists --%s" % (q["name"], p["name"]), "--" + p["name"] in usage.stdout)
            check("%s --help says what --%s does" % (q["name"], p["name"]),
                  p["help"].split()[0] in usage.stdout)
        if p.get("positional"):
            check("%s --help names %s" % (q["name"], p["positional"]), p["positional"] in usage.stdout)
    for name, p in sorted(every.items()):
        args = [DN, q["name"], "--index-dir", INDEX] + required_args(q, "cli")
        if q.get("refreshed") and name != "count":
            args += ["--count", "1"]
        args += ["--" + name] + ([] if p["type"] == "flag" else [sample(p)])
        if q.get("followed") and name == "follow":
            # Follows until interrupted: taken when it is still running,
            # or ended without a usage error.
            proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            try:
                proc.wait(timeout=1)
            except subprocess.TimeoutExpired:
                proc.terminate()
                proc.wait(timeout=10)
                check("cli %s --follow: accepted" % q["name"], True)
                continue
            check("cli %s --follow: accepted" % q["name"], proc.returncode != 2, proc.stderr.read())
            continue
        done = subprocess.run(args, capture_output=True, text=True, timeout=60)
        first = done.stderr.splitlines()[0] if done.stderr else ""
        refused = done.returncode == 2 and ("unknown option '--%s'" % name in first or
                                            "option --%s does not apply to %s" % (name, q["name"]) in first)
        want = offered(q, name, "cli")
        check("cli %s --%s: %s" % (q["name"], name, "accepted" if want else "refused, naming it"),
              refused != want, "%d %s" % (done.returncode, first))

# ---- the C API, through Python --------------------------------------------------------------

for q in questions:
    for name, p in sorted(every.items()):
        kw = required_args(q, "api")
        kw[name] = sample(p)
        try:
            dnnprov.ask(q["name"], index_dir=INDEX, **kw)
            refused = False
        except dnnprov.Error as e:
            refused = e.parameter == name and str(e).startswith("unknown parameter")
        want = offered(q, name, "api")
        check("api %s %s: %s" % (q["name"], name, "accepted" if want else "refused, naming it"), refused != want)

# ---- SQL: dnnprov_query() -------------------------------------------------------------------

con = dnnprov.connect(index_dir=INDEX, dataflow="df")
for q in questions:
    for name, p in sorted(every.items()):
        pairs = [x for kv in required_args(q, "sql").items() for x in kv] + [name, sample(p)]
        try:
            con.execute("select dnnprov_query(%s)" % ", ".join("?" * (len(pairs) + 1)), [q["name"]] + pairs).fetchone()
            refused = False
        except Exception as e:  # sqlite3.OperationalError
            refused = ("unknown parameter '%s'" % name) in str(e)
        want = offered(q, name, "sql")
        check("sql %s %s: %s" % (q["name"], name, "accepted" if want else "refused, naming it"), refused != want)
con.close()

# ---- HTTP -----------------------------------------------------------------------------------

with Server(DN, "--index-dir", INDEX) as s:
    for q in questions:
        names = dict(every)
        names["df"] = {"name": "df", "type": "dataflow", "fronts": []}
        names["format"] = {"name": "format", "type": "choice", "choices": ["json"], "fronts": []}
        for name, p in sorted(names.items()):
            params = {("df" if k == "dataflow" else k): v for k, v in required_args(q, "http").items()}
            params[name] = sample(p) if name != "format" else "json"
            if name == "dataflow":
                params.pop("df", None)
            st, hd, body = s.request("/api/%s?%s" % (q["name"], urllib.parse.urlencode(params)))
            try:
                e = json.loads(body)
            except ValueError:
                e = {}
            refused = st == 400 and e.get("parameter") == name and e.get("error", "").startswith("unknown parameter")
            p_http = {pp.get("http_name", pp["name"]): pp for pp in q["parameters"] if "http" in pp["fronts"]}
            want = name in p_http or name == "format"
            check("http %s %s: %s" % (q["name"], name, "accepted" if want else "refused, naming it"),
                  refused != want, "%d %s" % (st, body[:200]))

sys.exit(check.finish())
