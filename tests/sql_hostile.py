"""Names from the logs in SQL text: every kind of name (a set, a
transformation, an attribute, a metric, a hyperparameter) holding SQL that
would run if it escaped its quotes, and names that are legal but quoted,
written into the logs as a log from any training node would bring them
(the writer's own checks are bypassed: the segments are rewritten).  The
default dataflow has them, so its DfAnalyzer views are built from them too.

Over that index, `dnnprov sql`, `dnnprov.connect()` and `GET /api/sql`
must create and attach no database (the names say ATTACH 'pwn*.db'), and
every table and view must answer under its exact name.

usage: sql_hostile.py DNNPROV WORKDIR   (run by tests/test_sql.sh)
"""
import glob
import json
import os
import sqlite3
import subprocess
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_lib import Checks, Server  # noqa: E402

import dnnprov  # noqa: E402

DNNPROV, WORK = sys.argv[1:3]
REWRITE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rewrite_segment.py")
check = Checks("sql_hostile")

# Placeholder -> the name the logs will hold.
NAMES = {
    "QQSETONEQQ": "x\"; ATTACH 'pwn.db' AS p; CREATE TABLE p.t(a); INSERT INTO p.t VALUES(1); --",
    "QQSETTWOQQ": "S'\"<i>",
    "QQTFONEQQ": "T'); ATTACH 'pwn2.db' AS q; --",
    "QQTFTWOQQ": "Tr\"x",
    "QQATTRONEQQ": "a\"); ATTACH 'pwn3.db' AS r; --",
    "QQATTRTWOQQ": "b'q",
    "QQATTRTHREEQQ": "\"",
    "QQHYPQQ": "h\" FROM x; ATTACH 'pwn4.db' AS s; --",
    "QQMETRICQQ": "m\"]; ATTACH 'pwn5.db' AS t; --",
}
SET1, SET2 = NAMES["QQSETONEQQ"], NAMES["QQSETTWOQQ"]


def qi(name):
    """An SQL identifier, quoted here independently of the code under test."""
    return '"' + name.replace('"', '""') + '"'


def run(*args):
    p = subprocess.run([DNNPROV, *args], capture_output=True, text=True, timeout=120, cwd=WORK)
    return p.returncode, p.stdout, p.stderr


def no_database_files(what):
    found = glob.glob(os.path.join(WORK, "**", "pwn*"), recursive=True)
    check(f"{what}: no database file was created", not found, str(found))


os.chdir(WORK)  # where a relative 'pwn.db' would be created, by any front end
with open("hostile.yaml", "w") as f:
    f.write("""dataflow: df
log_dir: logs
index_dir: index
hyperparameters:
  OPTIMIZER_NAME: true
  QQHYPQQ: numeric
metrics: [loss, QQMETRICQQ]
transformations:
  QQTFONEQQ:
    input:
      QQSETONEQQ: {QQATTRONEQQ: numeric, QQATTRTWOQQ: text}
  QQTFTWOQQ:
    output:
      QQSETTWOQQ: {QQATTRTHREEQQ: numeric}
""")
steps = [["begin", "OPTIMIZER_NAME=sgd", "QQHYPQQ=0.5"], ["epoch", "1", "loss=2", "QQMETRICQQ=1"],
         ["element", "QQTFONEQQ", "QQSETONEQQ", "QQATTRONEQQ=3", "QQATTRTWOQQ=hello"],
         ["element", "QQTFTWOQQ", "QQSETTWOQQ", "QQATTRTHREEQQ=4"], ["test", "loss=1", "QQMETRICQQ=2"], ["end"]]
for step in steps:
    rc, out, err = run("log", "-c", "hostile.yaml", "--task", "t1", *step)
    check(f"log {step[0]}", rc == 0, err)
# The names as a log written elsewhere brings them: every string of every
# record, through JSON so that the replacement is exact.
replace = "import json\ns = json.dumps(r)\n"
for ph, name in NAMES.items():
    replace += "s = s.replace(%r, %r)\n" % (ph, json.dumps(name)[1:-1])
replace += "r.clear(); r.update(json.loads(s))\n"
segments = glob.glob("logs/**/*.dnplog", recursive=True)
check("the segments to rewrite", len(segments) >= 1, str(segments))
for seg in segments:
    subprocess.run([sys.executable, REWRITE, seg, replace], check=True)
rc, out, err = run("index", "-c", "hostile.yaml", "-q")
check("the rewritten logs index", rc == 0, err)

# ---- dnnprov sql ------------------------------------------------------------------------
rc, out, err = run("sql", "-c", "hostile.yaml", "--format", "json", "select 1 as one")
check("sql: select 1 answers", rc == 0 and json.loads(out)["rows"] == [{"one": 1}], out + err)
rc, out, err = run("sql", "-c", "hostile.yaml", "--format", "json", "pragma database_list")
check("sql: only main and temp", rc == 0 and [r["name"] for r in json.loads(out)["rows"]] == ["main", "temp"], out + err)
rc, out, err = run("sql", "-c", "hostile.yaml", "--format", "json", "select name from pragma_table_list")
tables = [r["name"] for r in json.loads(out)["rows"]] if rc == 0 else []
for name in ["df_" + SET1, "df_" + SET2, "ds_" + SET1.lower(), "ds_" + SET2.lower()]:
    check(f"sql: the table or view {name!r} under its exact name", name in tables, str(tables) + err)
queries = [
    # (what, statement, the first row's values)
    ("a set whose name holds SQL", "select %s, %s from %s" % (qi(NAMES["QQATTRONEQQ"]), qi(NAMES["QQATTRTWOQQ"]),
                                                                qi("df_" + SET1)), [3, "hello"]),
    ("its DfAnalyzer view", "select %s, %s from %s" % (qi(NAMES["QQATTRONEQQ"].lower()), qi(NAMES["QQTFONEQQ"].lower() + "_task_id"),
                                                       qi("ds_" + SET1.lower())), [3, "t1"]),
    ("a legal name with both quotes", "select %s from %s" % (qi(NAMES["QQATTRTHREEQQ"]), qi("df_" + SET2)), [4]),
    ("its view", "select %s from %s" % (qi(NAMES["QQATTRTHREEQQ"]), qi("ds_" + SET2.lower())), [4]),
    ("a metric whose name holds SQL", "select %s from epochs" % qi(NAMES["QQMETRICQQ"]), [1.0]),
    ("the metric in ds_otrainingmodel", "select %s from ds_otrainingmodel" % qi(NAMES["QQMETRICQQ"].lower()), [1.0]),
    ("the metric in ds_otestingmodel", "select %s from ds_otestingmodel" % qi(NAMES["QQMETRICQQ"].lower()), [2.0]),
    ("a hyperparameter whose name holds SQL", "select %s from df_hyperparameters" % qi(NAMES["QQHYPQQ"]), [0.5]),
    ("the hyperparameter in ds_itrainingmodel", "select %s from ds_itrainingmodel" % qi(NAMES["QQHYPQQ"].lower()), [0.5]),
    ("the transformations, as text", "select count(*) from transformations where transformation in (%s, %s)" %
     ("'" + NAMES["QQTFONEQQ"].replace("'", "''") + "'", "'" + NAMES["QQTFTWOQQ"].replace("'", "''") + "'"), [2]),
]
for what, stmt, want in queries:
    rc, out, err = run("sql", "-c", "hostile.yaml", "--format", "json", stmt)
    a = json.loads(out) if rc == 0 else {"columns": [], "rows": []}
    got = [a["rows"][0][c] for c in a["columns"]] if len(a["rows"]) == 1 else None
    check(f"sql: {what}", got == want, f"{stmt!r}: {out!r} {err!r}")
no_database_files("dnnprov sql")

# ---- Python ---------------------------------------------------------------------------
for readonly in (True, False):
    try:
        con = dnnprov.connect(config="hostile.yaml", readonly=readonly)
    except dnnprov.Error as e:
        check(f"connect(readonly={readonly})", False, str(e))
        continue
    try:
        dbs = [r[1] for r in con.execute("pragma database_list")]
        check(f"connect(readonly={readonly}): only main and temp", dbs == ["main", "temp"], str(dbs))
        got = con.execute("select %s from %s" % (qi(NAMES["QQATTRTHREEQQ"]), qi("df_" + SET2))).fetchall()
        check(f"connect(readonly={readonly}): the legal name's table", got == [(4,)], str(got))
    finally:
        con.close()
no_database_files("dnnprov.connect()")

# ---- the server -------------------------------------------------------------------------
with Server(DNNPROV, "-c", "hostile.yaml") as s:
    for stmt, want in [("select 1 as one", [{"one": 1}]),
                       ("select %s as v from %s" % (qi(NAMES["QQATTRTHREEQQ"]), qi("df_" + SET2)), [{"v": 4}])]:
        st, a = s.json("/api/sql?" + urllib.parse.urlencode({"q": stmt}))
        check(f"/api/sql {stmt!r}", st == 200 and a.get("rows") == want, str(a)[:300])
    st, a = s.json("/api/sql?" + urllib.parse.urlencode({"q": "pragma database_list"}))
    check("/api/sql: only main and temp", st == 200 and [r["name"] for r in a["rows"]] == ["main", "temp"], str(a)[:300])
no_database_files("dnnprov serve")

sys.exit(check.finish())
