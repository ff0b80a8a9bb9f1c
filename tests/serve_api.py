"""The API of `dnnprov serve`: every endpoint answers what the CLI's
--format json answers for the same question (the same bytes before the
"index" member, which the server refreshes on its own), bad input gets a
400 naming the parameter, unknown names a 404, paths outside the API and
the embedded files a 404; the token, the Host check, the security headers,
the row cap, the time limit, and the index vanishing or rebuilt while the
server runs.

usage: serve_api.py DNNPROV CONFIG BIG_INDEX
  CONFIG     the experiment of an index made by a real training (digits)
  BIG_INDEX  an index of some thousands of tasks (for the time limit)
"""
import json
import os
import shutil
import subprocess
import sys
import urllib.parse

from serve_lib import Checks, Server, wait_for

dnnprov, config, big_index = sys.argv[1:4]
workdir = os.path.dirname(os.path.abspath(config))
index_dir = os.path.join(workdir, "index")
HOSTILE = "<img src=x onerror=window.__pwned=1>"
check = Checks("serve_api")


def cli(*args):
    # A bound: `serve` that should refuse to start must not hang the test if it starts.
    p = subprocess.run([dnnprov, *args], capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def before_index(text):
    """The answer up to its "index" member: what both front ends share."""
    i = text.find(',\n"index":')
    return text[:i] if i >= 0 else text.rstrip("\n}")


def q(params):
    return urllib.parse.urlencode(params, doseq=True)


# The examples label their ids with time, host and pid: "sgd-lr0.1-2026...".
_ids = [r["task"] for r in json.loads(cli("runs", "torch-digits", "--index-dir", index_dir, "--format", "json")[1])["rows"]]


def tid(label):
    return next(t for t in _ids if t.startswith(label + "-2"))


# The same questions to both front ends: (CLI args, API endpoint, params).
cases = [
    (["dataflows"], "dataflows", {}),
    (["describe", "torch-digits"], "describe", {"df": "torch-digits"}),
    (["runs", "torch-digits"], "runs", {"df": "torch-digits"}),
    (["runs", "torch-digits", "--sort", "-LEARNING_RATE", "--limit", "3", "--offset", "1"], "runs",
     {"df": "torch-digits", "sort": "-LEARNING_RATE", "limit": 3, "offset": 1}),
    (["runs", "torch-digits", "--sort", "best(val_accuracy)", "--metric", "val_accuracy", "--limit", "4"], "runs",
     {"df": "torch-digits", "sort": "best(val_accuracy)", "metric": "val_accuracy", "limit": 4}),
    (["runs", "torch-digits", "--where", "OPTIMIZER_NAME = 'Adam' and LEARNING_RATE < 0.05", "--goal", "max"], "runs",
     {"df": "torch-digits", "where": "OPTIMIZER_NAME = 'Adam' and LEARNING_RATE < 0.05", "goal": "max"}),
    (["compare", "torch-digits", "--metric", "val_accuracy", "--agg", "last"], "compare",
     {"df": "torch-digits", "metric": "val_accuracy", "agg": "last"}),
    (["compare", "torch-digits", "--agg", "at=2", "--where", "epochs >= 3", "--sort", "task", "--limit", "2"], "compare",
     {"df": "torch-digits", "agg": "at=2", "where": "epochs >= 3", "sort": "task", "limit": 2}),
    (["effect", "torch-digits", "--hyp", "LEARNING_RATE", "--metric", "val_accuracy"], "effect",
     {"df": "torch-digits", "hyp": "LEARNING_RATE", "metric": "val_accuracy"}),
    (["effect", "torch-digits", "--hyp", "OPTIMIZER_NAME", "--bins", "2", "--agg", "mean"], "effect",
     {"df": "torch-digits", "hyp": "OPTIMIZER_NAME", "bins": 2, "agg": "mean"}),
    (["curve", "torch-digits", tid("adam-lr0.1")], "curve", {"df": "torch-digits", "task": tid("adam-lr0.1")}),
    (["curve", "torch-digits", tid("sgd-lr0.01"), "--metrics", "loss,val_accuracy"], "curve",
     {"df": "torch-digits", "task": tid("sgd-lr0.01"), "metrics": "loss,val_accuracy"}),
    (["adaptations", "torch-digits", "--metric", "val_loss", "--window", "1"], "adaptations",
     {"df": "torch-digits", "metric": "val_loss", "window": 1}),
    (["adaptations", "torch-digits", "--task", tid("sgd-lr0.1")], "adaptations", {"df": "torch-digits", "task": tid("sgd-lr0.1")}),
    (["test", "torch-digits"], "test", {"df": "torch-digits"}),
    (["test", "torch-digits", "--sort", "task", "--limit", "2", "--where", "OPTIMIZER_NAME = 'SGD'"], "test",
     {"df": "torch-digits", "sort": "task", "limit": 2, "where": "OPTIMIZER_NAME = 'SGD'"}),
    (["watch", "torch-digits", "--count", "1"], "watch", {"df": "torch-digits"}),
    (["runs", "torch-digits", "--where", f"task = '{HOSTILE}'"], "runs", {"df": "torch-digits", "where": f"task = '{HOSTILE}'"}),
    # The questions of the dashboard's run page, diff and grouping.
    (["diff", "torch-digits", tid("adam-lr0.1"), tid("adam-lr0.001")], "diff",
     {"df": "torch-digits", "task": tid("adam-lr0.1"), "other": tid("adam-lr0.001")}),
    (["diff", "torch-digits", tid("sgd-lr0.01"), "--metric", "val_accuracy", "--same"], "diff",
     {"df": "torch-digits", "task": tid("sgd-lr0.01"), "metric": "val_accuracy", "same": "true"}),
    (["groups", "torch-digits", "--by", "OPTIMIZER_NAME", "--where", "status = 'FINISHED'"], "groups",
     {"df": "torch-digits", "by": "OPTIMIZER_NAME", "where": "status = 'FINISHED'"}),
    (["bands", "torch-digits", "--by", "status", "--metric", "val_accuracy"], "bands",
     {"df": "torch-digits", "by": "status", "metric": "val_accuracy"}),
    (["tasks", "torch-digits", "--match", "lr0.1"], "tasks", {"df": "torch-digits", "match": "lr0.1"}),
    (["segments", "torch-digits", tid("adam-lr0.1")], "segments", {"df": "torch-digits", "task": tid("adam-lr0.1")}),
]

with Server(dnnprov, "-c", config) as s:
    # ---- every endpoint: the CLI's answer --------------------------------------------
    for args, name, params in cases:
        rc, out, err = cli(*args, "--index-dir", index_dir, "--format", "json")
        st, hd, body = s.request(f"/api/{name}?{q(params)}")
        text = body.decode()
        what = f"/api/{name}?{q(params)}"
        check(f"{what}: 200", st == 200 and rc == 0, f"{st} {text[:300]} {err}")
        if name == "watch":  # a running task's last_activity moves between the two asks
            a, b = json.loads(out), json.loads(text)
            for r in a["rows"] + b["rows"]:
                r.pop("last_activity", None)
            check(f"{what}: the CLI's rows", (a["columns"], a["rows"]) == (b["columns"], b["rows"]))
        else:
            check(f"{what}: the CLI's bytes", before_index(text) == before_index(out),
                  f"\nAPI: {before_index(text)[:400]}\nCLI: {before_index(out)[:400]}")
        check(f"{what}: JSON", hd.get("content-type") == "application/json")
        check(f"{what}: an index member", '"index"' in text)
    # CSV: the CLI's too, as a download.
    out = subprocess.run([dnnprov, "runs", "torch-digits", "--index-dir", index_dir, "--format", "csv", "--sort", "task"],
                         capture_output=True).stdout
    st, hd, body = s.request("/api/runs?df=torch-digits&format=csv&sort=task")
    check("csv: the CLI's bytes", st == 200 and body == out, f"{body[:200]!r} {out[:200]!r}")
    check("csv: a download", hd.get("content-type", "").startswith("text/csv") and
          hd.get("content-disposition") == 'attachment; filename="torch-digits-runs.csv"', str(hd))
    # The config's dataflow is the default, as with -c on the command line.
    st, hd, body = s.request("/api/runs?limit=2&sort=-task")
    rc, out, _ = cli("runs", "-c", config, "--limit", "2", "--sort", "-task", "--format", "json")
    check("df defaults to the config's", st == 200 and before_index(body.decode()) == before_index(out), body[:200])

    # ---- export: the CLI's document ----------------------------------------------------
    for params, args in [({"df": "torch-digits"}, []), ({"df": "torch-digits", "format": "prov-n"}, ["--format", "prov-n"]),
                         ({"df": "torch-digits", "task": [tid("sgd-lr0.1"), tid("adam-lr0.1")]}, ["--task", tid("sgd-lr0.1"), "--task", tid("adam-lr0.1")]),
                         ({"df": "torch-digits", "where": "LEARNING_RATE > 0.05"}, ["--where", "LEARNING_RATE > 0.05"])]:
        rc, out, err = cli("export", "torch-digits", "--index-dir", index_dir, *args)
        st, hd, body = s.request(f"/api/export?{q(params)}")
        check(f"export {params}: the CLI's document", st == 200 and rc == 0 and body.decode() == out,
              f"{st} {len(body)} vs {len(out)} {err}")
        check(f"export {params}: a download", "attachment" in hd.get("content-disposition", ""))
    st, e = s.json("/api/export?df=torch-digits&task=nope")
    check("export of an unknown task: 404 naming task", st == 404 and e["parameter"] == "task", str(e))
    st, e = s.json("/api/export?df=torch-digits&format=pdf")
    check("export in an unknown format: 400 naming format", st == 400 and e["parameter"] == "format", str(e))

    # ---- SQL: the CLI's answer; read-only; one statement ---------------------------------
    for stmt in ["select task, status, epochs from tasks order by task",
                 "select metric, count(*) as runs, min(best) from summaries group by metric order by metric",
                 'select * from "torch-digits_hyperparameters" order by task']:
        rc, out, err = cli("sql", "-c", config, "--format", "json", stmt)
        st, hd, body = s.request("/api/sql?" + q({"q": stmt}))
        check(f"sql {stmt!r}: the CLI's bytes", st == 200 and rc == 0 and before_index(body.decode()) == before_index(out),
              f"{st} {body[:300]!r} {err}")
    out = subprocess.run([dnnprov, "sql", "-c", config, "--format", "csv", "select task from tasks order by task"],
                         capture_output=True).stdout
    st, hd, body = s.request("/api/sql?" + q({"q": "select task from tasks order by task", "format": "csv"}))
    check("sql as CSV: the CLI's bytes", st == 200 and body == out)
    for stmt, want in [("select nope from tasks", "no such column"), ("delete from tasks", "may not be modified"),
                       ("select 1; select 2", "one statement"), ("attach database '/tmp/x' as x", "not authorized"),
                       ("create temp table t(x)", "returns no rows"), ("", "no statement")]:
        st, e = s.json("/api/sql?" + q({"q": stmt}))
        check(f"sql {stmt!r}: 400 naming q", st == 400 and e["parameter"] == "q" and want in e["error"], str(e))
    st, e = s.json("/api/sql?" + q({"q": "select nope from tasks"}))
    check("sql: the error shows where", e["error"].endswith("\n  select nope from tasks\n         ^"), repr(e["error"]))
    st, e = s.json("/api/sql")
    check("sql without q: 400", st == 400 and e["parameter"] == "q", str(e))

    # ---- bad input: 400 naming the parameter -------------------------------------------
    bad = [
        ("/api/runs?df=torch-digits&limit=x", 400, "limit"),
        ("/api/runs?df=torch-digits&limit=20000", 400, "limit"),
        ("/api/runs?df=torch-digits&offset=-1", 400, "offset"),
        ("/api/runs?df=torch-digits&nosuch=1", 400, "nosuch"),
        ("/api/runs?df=torch-digits&hyp=x", 400, "hyp"),
        ("/api/runs?df=torch-digits&sort=a&sort=b", 400, "sort"),
        ("/api/runs?df=torch-digits&where=lr%20%3C%201", 400, "where"),
        ("/api/runs?df=torch-digits&where=%28", 400, "where"),
        ("/api/runs?df=torch-digits&sort=nosuch", 400, "sort"),
        ("/api/runs?df=torch-digits&format=table", 400, "format"),
        ("/api/runs?df=torch-digits&goal=up", 400, "goal"),
        ("/api/compare?df=torch-digits&agg=median", 400, "agg"),
        ("/api/effect?df=torch-digits", 400, "hyp"),
        ("/api/effect?df=torch-digits&hyp=LEARNING_RATE&bins=0", 400, "bins"),
        ("/api/curve?df=torch-digits", 400, "task"),
        ("/api/adaptations?df=torch-digits&window=0", 400, "window"),
        ("/api/elements?df=torch-digits", 400, "transformation"),
        ("/api/changes?df=x", 400, "df"),
        ("/api/runs?df=torch-digits&where=a%00b", 400, "where"),
        # unknown names: 404 naming them
        ("/api/runs?df=nosuch", 404, "df"),
        ("/api/runs?df=..%2Fetc", 404, "df"),
        ("/api/curve?df=torch-digits&task=nosuch", 404, "task"),
        ("/api/compare?df=torch-digits&metric=nosuch", 404, "metric"),
        ("/api/effect?df=torch-digits&hyp=nosuch", 404, "hyp"),
        ("/api/elements?df=torch-digits&transformation=nosuch", 404, "transformation"),
        ("/api/nosuch", 404, None),
    ]
    for path, want, param in bad:
        st, hd, body = s.request(path)
        try:
            e = json.loads(body)
        except ValueError:
            e = {}
        check(f"{path}: {want}", st == want, f"got {st} {body[:200]!r}")
        check(f"{path}: the parameter is {param}", e.get("parameter") == param and e.get("error"), str(e)[:300])
    # An unknown task: the ids it may have meant, beside the error, for a
    # page to offer (not every id of the dataflow).
    st, e = s.json("/api/curve?df=torch-digits&task=adam-lr0.1")
    check("an id's beginning: 404 with the ids it may have meant", st == 404 and e["parameter"] == "task" and
          e.get("did_you_mean") == [tid("adam-lr0.1")], str(e))
    st, e = s.json("/api/diff?" + q({"df": "torch-digits", "task": tid("adam-lr0.1"), "other": "LR0.01"}))
    check("diff: an unknown B is about other, with what it may have meant", st == 404 and e["parameter"] == "other" and
          sorted(e.get("did_you_mean", [])) == sorted([tid("adam-lr0.01"), tid("sgd-lr0.01")]), str(e))
    st, e = s.json("/api/curve?df=torch-digits&task=zzz")
    check("an id like none: the ids around it", st == 404 and 0 < len(e.get("did_you_mean", [])) <= 4, str(e))
    st, e = s.json("/api/runs?df=torch-digits&where=lr%20%3C%201")
    check("where: the error shows the caret and the names", "^" in e["error"] and "LEARNING_RATE" in e["error"], e["error"])
    rc, out, err = cli("runs", "torch-digits", "--index-dir", index_dir, "--where", "lr < 1")
    check("where: the CLI's message", err.strip() == "dnnprov: runs: " + e["error"], f"{err!r} vs {e['error']!r}")

    # ---- paths, methods, sizes ---------------------------------------------------------
    for path in ["/etc/passwd", "/assets/../../etc/passwd", "/assets/%2e%2e/js/main.mjs", "/api", "/index.html",
                 "/assets/", "/assets/nosuch.js", "//etc/passwd", "/favicon.ico", "/assets/js/../js/main.mjs"]:
        st, hd, body = s.request(path)
        check(f"{path}: 404", st == 404, f"{st} {body[:100]!r}")
    for path in ["/", "/assets/js/main.mjs", "/assets/app.css", "/assets/vendor/echarts.min.js", "/assets/vendor/LICENSE",
                 "/login"]:
        st, hd, body = s.request(path)
        check(f"{path}: 200 or the way on", st in (200, 303), str(st))
    # Every file of the page, its modules among them: its bytes, and a
    # JavaScript type for a module (a browser runs no module sent as
    # anything else).
    web = os.path.join(os.path.dirname(__file__), "..", "serve", "web")
    modules = 0
    for root, _, files in os.walk(web):
        for f in files:
            rel = os.path.relpath(os.path.join(root, f), web)
            st, hd, body = s.request("/assets/" + rel)
            check(f"/assets/{rel}: its bytes", st == 200 and body == open(os.path.join(root, f), "rb").read(), str(st))
            if f.endswith(".mjs"):
                modules += 1
                check(f"/assets/{rel}: a module's type", hd.get("content-type") == "text/javascript; charset=utf-8",
                      hd.get("content-type"))
    check("the page is modules: one per view and what they share", modules >= 15, str(modules))
    st, hd, body = s.request("/")
    check("the page loads its modules", b'<script type="module" src="/assets/js/main.mjs">' in body, body[:600])
    st, hd, body = s.request("/assets/js/main.mjs")
    st2, _, _ = s.request("/assets/js/main.mjs", headers={"If-None-Match": hd.get("etag", "")})
    check("an unchanged file: 304", st2 == 304, str(st2))
    for method in ["POST", "PUT", "DELETE", "PATCH"]:
        st, hd, body = s.request("/api/runs?df=torch-digits", method=method, body=b"x")
        check(f"{method} /api/runs: 405", st == 405, str(st))
    st, hd, body = s.request("/api/dataflows", headers={"X-Big": "x" * 40000})
    check("a 40 KB header: refused", st in (413, 431), str(st))
    st, hd, body = s.request("/api/dataflows?" + "a" * 40000)
    check("a 40 KB URL: refused", st in (413, 414, 431), str(st))
    st, hd, body = s.request("/login", method="POST", body=b"token=" + b"x" * 10000,
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
    check("a 10 KB form: refused", st in (303, 413), str(st))  # no token: /login is a redirect

    # ---- headers: CSP, nosniff, no CORS; the Host ---------------------------------------
    for path in ["/", "/api/runs?df=torch-digits", "/api/nosuch", "/assets/js/main.mjs", "/assets/views/run.mjs", "/nosuch"]:
        st, hd, body = s.request(path, headers={"Origin": "http://evil.example"})
        csp = hd.get("content-security-policy", "")
        check(f"{path}: a strict CSP", "script-src 'self'" in csp and "default-src 'none'" in csp and "unsafe" not in csp, csp)
        check(f"{path}: nosniff", hd.get("x-content-type-options") == "nosniff")
        check(f"{path}: no CORS", not any(k.startswith("access-control-") for k in hd), str(hd))
    st, hd, body = s.request("/api/dataflows", headers={"Host": f"evil.example:{s.port}"})
    check("another Host: 403 (DNS rebinding)", st == 403, str(st))
    st, hd, body = s.request("/api/dataflows", headers={"Host": f"localhost:{s.port}"})
    check("Host localhost: 200", st == 200, str(st))

    # ---- escaping: the hostile task comes back as the same text -------------------------
    st, a = s.json("/api/runs?" + q({"df": "torch-digits", "where": f"task = '{HOSTILE}'"}))
    check("a hostile task id: the same text", st == 200 and [r["task"] for r in a["rows"]] == [HOSTILE], str(a)[:300])
    check("a hostile value: the same text", a["rows"][0]["OPTIMIZER_NAME"] == "</script><script>window.__pwned=2</script>")

    # ---- live: the change key moves when the index does -------------------------------------
    st, c0 = s.json("/api/changes")
    check("changes: a key and the index", st == 200 and c0["change"] and "indexer" in c0["index"], str(c0))
    cli("log", "-c", config, "--task", HOSTILE, "epoch", "2", "loss=1.25", "val_loss=1.3")
    cli("index", "-c", config, "-q")
    st, c1 = s.json("/api/changes")
    check("changes: another key after a commit", c1["change"] != c0["change"], f"{c0} {c1}")

    # ---- the index rebuilt, then gone, then back, while the server runs ------------------------
    rc, _, err = cli("reindex", "-c", config, "-q")
    check("reindex", rc == 0, err)
    st, c2 = s.json("/api/changes")
    check("after a reindex: another key", st == 200 and c2["change"] != c1["change"], f"{c1} {c2}")
    st, a = s.json("/api/runs?df=torch-digits&sort=task")
    rc, out, _ = cli("runs", "torch-digits", "--index-dir", index_dir, "--format", "json", "--sort", "task")
    check("after a reindex: the new index's answer", st == 200 and a["rows"] == json.loads(out)["rows"])
    shutil.move(index_dir, index_dir + ".away")
    try:
        st, e = s.json("/api/runs?df=torch-digits")
        rc, out, err = cli("runs", "torch-digits", "--index-dir", index_dir)
        check("no index: 503", st == 503, str(st))
        check("no index: the CLI's message", rc == 1 and err.strip() == "dnnprov: runs: " + e["error"], f"{err!r} vs {e}")
        st, e = s.json("/api/changes")
        check("no index: changes says so", st == 503, str(e))
    finally:
        shutil.move(index_dir + ".away", index_dir)
    st, a = s.json("/api/runs?df=torch-digits")
    check("the index back: 200", st == 200, str(a)[:200])

# ---- the row cap, the time limit -----------------------------------------------------------
with Server(dnnprov, "-c", config, "--max-rows", "2") as s:
    st, hd, body = s.request("/api/sql?" + q({"q": "select task from tasks"}))
    check("--max-rows 2: SQL cut at two rows, and says so", st == 200 and len(json.loads(body)["rows"]) == 2 and
          hd.get("x-dnnprov-rows-cut") == "2", f"{st} {hd}")
    st, a = s.json("/api/runs?df=torch-digits&sort=task")
    check("--max-rows 2: two rows and the total", st == 200 and len(a["rows"]) == 2 and a["total"] == len(_ids) > 7, str(a)[:300])
    st, e = s.json("/api/runs?df=torch-digits&limit=3")
    check("--max-rows 2: limit 3 is a 400", st == 400 and e["parameter"] == "limit", str(e))
with Server(dnnprov, "--index-dir", big_index, "--time-limit", "0.001") as s:
    st, e = s.json("/api/runs?df=df&where=epochs%20%3E%3D%200")
    check("a query past the time limit: 503", st == 503 and "time limit" in e["error"], str(e)[:300])
    st, a = s.json("/api/runs?df=df&limit=5&sort=task")
    check("the server goes on after it", st in (200, 503), str(st))
    st, e = s.json("/api/sql?" + q({"q": "with recursive c(x) as (select 1 union all select x + 1 from c) select count(*) from c"}))
    check("an endless statement: 503 at the time limit", st == 503 and "time limit" in e["error"], str(e))

# ---- the token ------------------------------------------------------------------------------
TOKEN = "s3cret-token-0123456789"
rc, out, err = cli("serve", "-c", config, "--listen", "0.0.0.0:0")
check("a non-loopback address without a token: refused", rc == 1 and "needs a token" in err, err)
rc, out, err = cli("serve", "-c", config, "--token", "short")
check("a short token: refused", rc == 1 and "16" in err, err)
with Server(dnnprov, "-c", config, "--token", TOKEN) as s:
    login = s.url[len(s.base):]
    check("the printed URL is the one-time login", login.startswith("/login?code="), s.url)
    st, hd, body = s.request("/api/dataflows")
    check("no token: 401", st == 401, str(st))
    st, hd, body = s.request("/api/dataflows", headers={"Authorization": "Bearer " + TOKEN[:-1] + "X"})
    check("a wrong token: 401", st == 401, str(st))
    st, hd, body = s.request("/api/dataflows", headers={"Authorization": "Bearer " + TOKEN + "X"})
    check("a longer token: 401", st == 401, str(st))
    st, hd, body = s.request("/api/dataflows", headers={"Authorization": "Bearer " + TOKEN})
    check("the token: 200", st == 200, str(st))
    st, hd, body = s.request("/")
    check("the page without the token: to the login", st == 303 and hd.get("location") == "/login", str(st))
    st, hd, body = s.request("/api/dataflows", headers={"Host": "evil.example"})
    check("with a token, the token decides (another Host, no token: 401)", st == 401, str(st))
    st, hd, body = s.request(login)
    cookie = hd.get("set-cookie", "")
    check("the one-time URL: a session cookie and the page", st == 303 and cookie.startswith("dnnprov_session_") and
          "HttpOnly" in cookie and "SameSite=Strict" in cookie and TOKEN not in cookie, f"{st} {cookie}")
    st, hd2, body = s.request(login)
    check("the one-time URL twice: 401", st == 401 and "set-cookie" not in hd2, str(st))
    st, hd, body = s.request("/api/dataflows", headers={"Cookie": cookie.split(";")[0]})
    check("the cookie: 200", st == 200, str(st))
    st, hd, body = s.request("/api/dataflows", headers={"Cookie": cookie.split("=")[0] + "=nope"})
    check("a wrong cookie: 401", st == 401, str(st))
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    st, hd, body = s.request("/login", method="POST", body=("token=" + TOKEN).encode(), headers=form)
    check("the login form: a session cookie", st == 303 and hd.get("set-cookie", "").startswith("dnnprov_session_"), str(st))
    st, hd, body = s.request("/login", method="POST", body=b"token=wrong", headers=form)
    check("the login form, a wrong token: 401", st == 401 and "set-cookie" not in hd, str(st))
    st, hd, body = s.request("/login", method="POST", body=b"token=" + b"x" * 10000, headers=form)
    check("a 10 KB form: 413", st == 413, str(st))
    for path in ["/assets/js/main.mjs", "/assets/views/runs.mjs"]:
        st, hd, body = s.request(path)
        check(f"{path}: the page's code needs no token", st == 200, str(st))

sys.exit(check.finish())
