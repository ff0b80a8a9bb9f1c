"""`dnnprov receive --dfanalyzer` end to end, posting what dfa-lib-python
posts (tests/fixtures/dfanalyzer) with a plain HTTP client.

usage: receive_check.py DNNPROV DUMP_INDEX FOLDER [SCENARIO...]

Scenarios: training (Keras-Prov's SQL question names the right run; the
index equals one recorded natively with the same values), denseblock
(a program run that reuses its ids makes a new run each time), hostile
(each malformed or out-of-order POST gets a 4xx naming the field and leaves
the log folder's bytes as they were), kills (SIGKILL at random points loses
no acknowledged POST), lease (a silent client's run becomes LOST, and comes
back with a resume), restart (a receive started again takes up open runs),
access (token, Host header, body limit, endpoints).
"""
import base64
import copy
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

from receive_lib import Checks, Receiver, fixture, run, snapshot, wait_for

DNNPROV, DUMP, TOP = sys.argv[1], sys.argv[2], sys.argv[3]
check = Checks("receive")

CONFIG = """\
dataflow: keras-alexnet-df
log_dir: logs
index_dir: index
hyperparameters: {OPTIMIZER_NAME: true, LEARNING_RATE: true, NUM_EPOCHS: true, NUM_LAYERS: true}
metrics: [loss, accuracy]
adaptation: true
transformations:
  DenseBlock:
    input:
      iDenseBlock: {growth_rate: numeric, layers_db: numeric}
    output:
      oDenseBlock: {output: text}
"""
EXEC = "keras-alexnet-df2024-03-05 14:21:07.512093"


def folder(name, config=True):
    d = os.path.join(TOP, name)
    os.makedirs(d)
    if config:
        with open(os.path.join(d, "exp.yaml"), "w") as f:
            f.write(CONFIG)
    return d


def all_ok(what, answers):
    bad = [(st, a) for st, a in answers if st != 200]
    check(what, not bad, str(bad[:3]))


def dnnprov(*args):
    r = run([DNNPROV, *args])
    if r.returncode != 0:
        raise AssertionError(f"dnnprov {' '.join(args)}: {r.stderr}")
    return r.stdout


def second_run(posts, exec_tag, lr, scale):
    """The training fixture as a second fit would post it (the dataflow is
    not posted again, as the patched Keras does once it exists)."""
    out = []
    for p in copy.deepcopy(posts):
        b = p["body"]
        if p["post"].endswith("dataflow/json"):
            continue
        b["exec"] = exec_tag
        for s in b.get("sets", []):
            for el in s["elements"]:
                if s["tag"] == "itrainingmodel":
                    el[1], el[2] = "Adam", lr
                if s["tag"] == "otrainingmodel":
                    el[5] = str(round(float(el[5]) * scale, 4))
        out.append(p)
    return out


# ---- training: the SQL question, and the index equal to a native one ------------------

NATIVE = """
import sys, dnnprov
config, exec_tag, lr, opt, scale = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4], float(sys.argv[5])
t = dnnprov.Task(config, {"OPTIMIZER_NAME": opt, "LEARNING_RATE": lr, "NUM_EPOCHS": 5, "NUM_LAYERS": 8}, exec_tag)
t.layers([("activation_1", "activation", "relu"), ("dropout_1", "dropout", 0.5), ("activation_2", "activation", "softmax")])
epochs = [(0.693, 0.51, 0.702, 0.48), (0.52, 0.66, 0.55, 0.61), (0.41, 0.74, 0.47, 0.69), (0.37, 0.78, 0.45, 0.71),
          (0.35, 0.8, 0.44, 0.72)]
for e, m in enumerate(epochs):
    if e == 2:
        t.adapt(3, LEARNING_RATE=0.005)
    t.epoch(e + 1, elapsed=10.25 + e, loss=m[0], accuracy=m[1], val_loss=m[2], val_accuracy=round(m[3] * scale, 4))
t.end()
t.close()
later = dnnprov.Task(config, task_id=exec_tag, begin=False)
later.test(loss=0.39, accuracy=0.77)
later.close()
"""

# What must differ between two recordings of the same values: clocks,
# processes, run ids, facts of the recording process, file names.
VOLATILE = {"time", "start", "end", "last", "first_seen", "attempt_start", "attempt_boot", "attempt_mono", "mono", "boot", "pid", "run", "execution", "owner",
            "facts", "host", "user", "active_before"}


# The columns of answers that are clock readings.
CLOCKS = {"start", "end", "last", "last_activity", "duration", "active", "tested", "time"}


def normalized_dump(index):
    out = []
    for line in run([DUMP, index]).stdout.splitlines():
        db, _, rest = line.partition(" ")
        if db in ("progress", "meta"):
            continue
        key, _, value = rest.partition(" = ")
        if db == "tests":
            key = key[: key.index(EXEC) + len(EXEC)] if EXEC in key else key.split(" ")[0]
        if db == "starts":  # df start task: the start is a clock
            df, _, rest = key.partition(" ")
            key = f"{df} {rest.partition(' ')[2]}"
        try:
            v = json.loads(value)
            if isinstance(v, dict):
                v = {k: x for k, x in v.items() if k not in VOLATILE}
            value = json.dumps(v, sort_keys=True)
        except ValueError:
            pass
        out.append(f"{db} {key} = {value}")
    return sorted(out)


def scenario_training():
    a, b = folder("received"), folder("native")
    posts = fixture("keras-prov-training.jsonl")
    other = EXEC.replace("07.512093", "59.000001")
    with Receiver(DNNPROV, "-c", os.path.join(a, "exp.yaml")) as r:
        answers = r.replay(posts)
        all_ok("the training's POSTs are answered 200", answers)
        check("the run ends with TrainingModel", answers[-3][1].get("state") == "ended", str(answers[-3]))
        check("the layers wait for the hyperparameters", [x[1].get("waiting") for x in answers[2:5]] == [1, 2, 3],
              str(answers[2:5]))
        all_ok("a second fit is answered 200", r.replay(second_run(posts, other, "0.1", 0.9)))
    check("receive stops cleanly on SIGTERM (no sanitizer report)", r.proc.returncode == 0 and not r.errors,
          f"exit {r.proc.returncode}: {r.errors}")
    dnnprov("index", "-c", os.path.join(a, "exp.yaml"), "-q")
    sql = ("SELECT i.trainingmodel_task_id, i.optimizer_name, i.learning_rate, MAX(o.val_accuracy) AS best "
           "FROM ds_itrainingmodel i JOIN ds_otrainingmodel o ON o.trainingmodel_task_id = i.trainingmodel_task_id "
           "GROUP BY i.trainingmodel_task_id ORDER BY best DESC LIMIT 1")
    rows = dnnprov("sql", "-c", os.path.join(a, "exp.yaml"), "--format", "csv", sql).splitlines()
    check("Keras-Prov's question names the better run", rows[1:] == [f"{EXEC},SGD,0.01,0.72"], str(rows))
    env = dict(os.environ)
    for tag, lr, opt, scale in ((EXEC, "0.01", "SGD", "1"), (other, "0.1", "Adam", "0.9")):
        r = run([sys.executable, "-c", NATIVE, os.path.join(b, "exp.yaml"), tag, lr, opt, scale], env=env)
        check("the native recording runs", r.returncode == 0, r.stderr)
    dnnprov("index", "-c", os.path.join(b, "exp.yaml"), "-q")
    got, want = normalized_dump(os.path.join(a, "index")), normalized_dump(os.path.join(b, "index"))
    diff = sorted(set(got) ^ set(want))
    check("the index of the received runs equals the native one", got == want and len(got) > 20,
          "\n  " + "\n  ".join(diff[:12]))
    for cmd in (["runs"], ["curve", "keras-alexnet-df", EXEC], ["adaptations"], ["test"], ["layers"]):
        ga = json.loads(dnnprov(*cmd, "-c", os.path.join(a, "exp.yaml"), "--format", "json"))
        gb = json.loads(dnnprov(*cmd, "-c", os.path.join(b, "exp.yaml"), "--format", "json"))
        rows_a, rows_b = ([{k: v for k, v in row.items() if k not in CLOCKS} for row in g.get("rows", [])]
                          for g in (ga, gb))
        check(f"`dnnprov {cmd[0]}` answers the same", rows_a == rows_b and rows_a, f"{rows_a} != {rows_b}")


# ---- denseblock: fixed ids, a new run per program run ----------------------------------------

def scenario_denseblock():
    d = folder("dense", config=False)
    logs = os.path.join(d, "logs")
    posts = fixture("denseblock.jsonl")
    with Receiver(DNNPROV, "--log-dir", logs) as r:
        first = r.replay(posts)
        second = r.replay(posts)
    all_ok("the DenseBlock program's POSTs are answered 200", first + second)
    tasks = {a.get("task") for _, a in first[1:] + second[1:]}
    check("each program run is a run of its own", len(tasks) == 2, str(tasks))
    check("each ended", first[-1][1].get("state") == "ended" and second[-1][1].get("state") == "ended",
          str(first[-1]))
    records = [json.loads(x) for x in dnnprov("cat", logs).splitlines()]
    elements = sorted((x["task"], x["set"], json.dumps(x["values"])) for x in records if x["kind"] == "element")
    want = sorted((t, s, v) for t in tasks for s, v in (("idenseblock", '{"growth_rate": 1, "layers_db": 33}'),
                                                        ("odenseblock", '{"output": "dense_block_1/concat:0"}')))
    check("the elements are recorded with their types", elements == want, str(elements))
    yaml = os.path.join(logs, "keras-alexnet-df", ".dfanalyzer", "dataflow.yaml")
    r = run([DNNPROV, "config", "check", yaml])
    check("the declaration became an experiment file", r.returncode == 0 and "denseblock" in r.stdout, r.stdout + r.stderr)


# ---- hostile: 4xx naming the field, the log as it was ---------------------------------------

def task_body(**kw):
    b = {"tag": "trainingmodel", "exec": EXEC, "status": "RUNNING", "dataflow": "keras-alexnet-df",
         "transformation": "trainingmodel", "id": "1"}
    b.update(kw)
    return b


def scenario_hostile():
    d = folder("hostile")
    posts = fixture("keras-prov-training.jsonl")
    epoch = [["1709648467.2", "10.5", "0.3", "0.8", "0.4", "0.7"]]
    cases = [
        ("truncated JSON", "/pde/task/json", json.dumps(task_body()).encode()[:-7], 400, None),
        ("a list, not an object", "/pde/task/json", b"[1, 2]", 400, None),
        ("an empty body", "/pde/task/json", b"", 400, None),
        ("duplicate keys", "/pde/task/json", b'{"id": "1", "id": "2"}', 400, None),
        ("an id of the wrong type", "/pde/task/json", task_body(id=[1]), 400, "id"),
        ("a status of the wrong type", "/pde/task/json", task_body(status=5), 400, "status"),
        ("an unknown status", "/pde/task/json", task_body(status="DONE"), 400, "status"),
        ("sets that are no list", "/pde/task/json", task_body(sets="x"), 400, "sets"),
        ("a task before its dataflow", "/pde/task/json", task_body(dataflow="keras-alexnet-df"), 409, "dataflow"),
        ("an element that is no list", "/pde/task/json",
         task_body(sets=[{"tag": "otrainingmodel", "elements": ["0.3"]}]), 400, "sets[0].elements[0]"),
        ("a value of the wrong type", "/pde/task/json",
         task_body(sets=[{"tag": "otrainingmodel", "elements": [["1", "2", {"x": 1}, "4", "5", "6"]]}]), 400,
         "sets[0].elements[0][2]"),
        ("a metric that is no number", "/pde/task/json",
         task_body(sets=[{"tag": "otrainingmodel", "elements": [["1", "2", "abc", "4", "5", "6"]]}]), 422,
         "sets[0].elements[0][2]"),
        ("an unknown set", "/pde/task/json", task_body(sets=[{"tag": "onothing", "elements": [["1"]]}]), 422,
         "sets[0].tag"),
        ("too few values", "/pde/task/json", task_body(sets=[{"tag": "otrainingmodel", "elements": [["1", "2"]]}]),
         422, "sets[0].elements[0]"),
        ("too many values, in the second element", "/pde/task/json",
         task_body(sets=[{"tag": "otrainingmodel", "elements": [epoch[0], epoch[0] + ["7"]]}]), 422,
         "sets[0].elements[1]"),
        ("another dataflow than the config's", "/pde/task/json", task_body(dataflow="other-df"), 422, "dataflow"),
        ("an id with path characters", "/pde/task/json", task_body(id="../../etc/passwd"), 422, "id"),
        ("an exec with path characters", "/pde/task/json", task_body(exec="../../x"), 422, "exec"),
        ("a dataflow with path characters", "/pde/task/json", task_body(dataflow="a/b"), 422, "dataflow"),
        ("an exec with a control character", "/pde/task/json", task_body(exec="run\x1b[2J"), 422, "exec"),
        ("10 MB", "/pde/task/json", b'{"id": "' + b"x" * (10 << 20) + b'"}', 413, None),
        ("a declaration of another dataflow", "/pde/dataflow/json", {"tag": "other"}, 422, "tag"),
        ("a set type that does not exist", "/pde/dataflow/json",
         {"tag": "keras-alexnet-df", "transformations": [{"tag": "denseblock", "sets": [
             {"tag": "idenseblock", "type": "BOTH", "attributes": []}]}]}, 400, "transformations[0].sets[0].type"),
        ("an attribute type that does not exist", "/pde/dataflow/json",
         {"tag": "keras-alexnet-df", "transformations": [{"tag": "denseblock", "sets": [
             {"tag": "idenseblock", "type": "INPUT", "attributes": [{"name": "growth_rate", "type": "BLOB"}]}]}]},
         400, "transformations[0].sets[0].attributes[0].type"),
        ("a transformation the config does not declare", "/pde/dataflow/json",
         {"tag": "keras-alexnet-df", "transformations": [{"tag": "mystery", "sets": [
             {"tag": "imystery", "type": "INPUT", "attributes": [{"name": "x", "type": "TEXT"}]}]}]}, 422,
         "transformations[0].tag"),
        ("an attribute the config does not declare", "/pde/dataflow/json",
         {"tag": "keras-alexnet-df", "transformations": [{"tag": "denseblock", "sets": [
             {"tag": "idenseblock", "type": "INPUT", "attributes": [{"name": "depth", "type": "NUMERIC"}]}]}]}, 422,
         "transformations[0].sets[0].attributes[0]"),
        ("a metric the config does not declare", "/pde/dataflow/json",
         {"tag": "keras-alexnet-df", "transformations": [{"tag": "testingmodel", "sets": [
             {"tag": "otestingmodel", "type": "OUTPUT", "attributes": [{"name": "top5", "type": "NUMERIC"}]}]}]}, 422,
         "transformations[0].sets[0].attributes[0]"),
        ("a tag with a slash", "/pde/dataflow/json", {"tag": "keras/alexnet"}, 422, "tag"),
    ]
    after_end = [
        ("training after the run ended", "/pde/task/json",
         task_body(sets=[{"tag": "otrainingmodel", "elements": epoch}], id="2", transformation="adaptation",
                   tag="adaptation", status="FINISHED") | {"sets": [{"tag": "oadaptation",
                                                                     "elements": [["0.1", "1", "4", "2"]]}]},
         409, "sets"),
        ("hyperparameters after the begin", "/pde/task/json",
         task_body(exec=EXEC + "-b", sets=[{"tag": "itrainingmodel", "elements": [["1", "SGD", "0.1", "5", "8"]]}]),
         409, "sets"),
    ]
    logs = os.path.join(d, "logs")
    with Receiver(DNNPROV, "-c", os.path.join(d, "exp.yaml")) as r:
        os.makedirs(logs, exist_ok=True)
        for what, path, body, status, field in cases:
            before = snapshot(logs)
            st, ans = r.post(path, body)
            check(f"{what}: {status}", st == status, f"got {st} {ans}")
            check(f"{what}: names {field}", ans.get("field") == field and ans.get("error"), str(ans))
            check(f"{what}: the log is as it was", snapshot(logs) == before)
            if what == "a task before its dataflow":
                all_ok("the training's POSTs are answered 200", r.replay(posts))
        # A run that began, then hyperparameters again.
        b = task_body(exec=EXEC + "-b", sets=[{"tag": "itrainingmodel", "elements": [["1", "SGD", "0.1", "5", "8"]]}])
        all_ok("a run begins", [r.post("/pde/task/json", b)])
        for what, path, body, status, field in after_end:
            before = snapshot(logs)
            st, ans = r.post(path, body)
            check(f"{what}: {status}", st == status and ans.get("field") == field, f"got {st} {ans}")
            check(f"{what}: the log is as it was", snapshot(logs) == before)


# ---- kills: SIGKILL at random points loses no acknowledged POST ------------------------------

def kill_posts(n_epochs):
    posts = fixture("keras-prov-training.jsonl")
    head = [p for p in posts[:6]]
    body = copy.deepcopy(posts[6]["body"])
    out = head
    for e in range(n_epochs):
        b = copy.deepcopy(body)
        b["sets"][0]["elements"][0][2] = str(1000 + e)  # a loss that names the POST
        out.append({"post": "/pde/task/json", "body": b})
    return out


def scenario_kills():
    d = folder("kills")
    cfg = os.path.join(d, "exp.yaml")
    kills = int(os.environ.get("DNNPROV_RECEIVE_KILLS", "8"))
    rnd = random.Random(int(os.environ.get("DNNPROV_SEED", str(os.getpid()))))
    posts = kill_posts(40)
    # SIGKILL while chosen POSTs are in flight, a random instant after
    # they are sent: before, during or after the append and the answer.
    doomed = set(rnd.sample(range(1, len(posts)), min(kills, len(posts) - 1)))
    acked, acked_layers, killed = [], [], 0
    r = Receiver(DNNPROV, "-c", cfg)
    try:
        for i, p in enumerate(posts):
            timer = None
            if i in doomed:
                proc = r.proc
                timer = threading.Timer(rnd.uniform(0, 0.004), lambda: proc.poll() is None and proc.kill())
                timer.start()
            try:
                st, ans = r.post("/" + p["post"], p["body"])
                check("an answered POST is answered 200", st == 200, f"{st} {ans}")
                sets = p["body"].get("sets") or [{"tag": None}]
                if st == 200 and sets[0]["tag"] == "otrainingmodel":
                    acked.append(float(sets[0]["elements"][0][2]))
                if st == 200 and sets[0]["tag"] == "ilayers":
                    acked_layers.append(sets[0]["elements"][0][1])
                if st == 200 and sets[0]["tag"] == "itrainingmodel":
                    acked_layers.append("hyperparameters")
            except OSError:
                pass  # killed before it answered: not acknowledged; the client goes on
            if timer:
                timer.join()
            if r.proc.poll() is not None:
                killed += 1
                r.stop()
                r = Receiver(DNNPROV, "-c", cfg, port=r.port)
    finally:
        r.stop()
    check("receive was killed", killed >= max(1, len(doomed) // 2), f"{killed} of {len(doomed)}")
    dnnprov("index", "-c", cfg, "-q")
    epochs = json.loads(dnnprov("curve", "-c", cfg, "keras-alexnet-df", EXEC, "--format", "json"))["rows"]
    losses = sorted(row["loss"] for row in epochs)
    missing = sorted(set(acked) - set(losses))
    check("every acknowledged epoch is in the index", not missing and acked, f"missing {missing} of {len(acked)}")
    check("epochs are counted one after another", [row["epoch"] for row in epochs] == list(range(1, len(epochs) + 1)),
          str([row["epoch"] for row in epochs][:20]))
    layers = {row["layer"] for row in json.loads(dnnprov("layers", "-c", cfg, "--format", "json"))["rows"]}
    if "hyperparameters" in acked_layers:
        layers.add("hyperparameters") if (status_of(cfg, EXEC) or {}).get("LEARNING_RATE") == 0.01 else None
    missing = set(acked_layers) - layers
    check("every acknowledged layer and the hyperparameters are there", not missing, f"missing {missing}")


# ---- lease: a silent client's run is LOST, a later POST resumes it --------------------------

def status_of(cfg, task):
    dnnprov("index", "-c", cfg, "-q")
    for row in json.loads(dnnprov("runs", "-c", cfg, "--format", "json"))["rows"]:
        if row["task"] == task:
            return row
    return None


def scenario_lease():
    d = folder("lease")
    cfg = os.path.join(d, "exp.yaml")
    posts = fixture("keras-prov-training.jsonl")[:7]
    with Receiver(DNNPROV, "-c", cfg, "--lease", "1s") as r:
        all_ok("a run begins", r.replay(posts))
        wait_for("the silent run LOST", lambda: (status_of(cfg, EXEC) or {}).get("status") == "LOST", 60)
        check("its state file is gone",
              not os.listdir(os.path.join(d, "logs", "keras-alexnet-df", ".dfanalyzer", "runs")))
        all_ok("it posts again", r.replay(fixture("keras-prov-training.jsonl")[7:8]))
        row = status_of(cfg, EXEC)
        check("it runs again, a new attempt", row["status"] == "RUNNING" and row["attempts"] == 2, str(row))


# ---- restart: open runs taken up again ---------------------------------------------------------

def scenario_restart():
    d = folder("restart")
    cfg = os.path.join(d, "exp.yaml")
    posts = fixture("keras-prov-training.jsonl")
    with Receiver(DNNPROV, "-c", cfg) as r:
        all_ok("a run begins, layers wait", r.replay(posts[:4]))
    with Receiver(DNNPROV, "-c", cfg) as r:
        check("the open run is taken up again", "1 open run taken up again" in r.banner, r.banner)
        row = status_of(cfg, EXEC)
        check("nothing was written yet: the layers still wait", row is None, str(row))
        answers = r.replay(posts[4:8])
        all_ok("it goes on", answers)
        row = status_of(cfg, EXEC)
        check("held by receive, it is RUNNING", row and row["status"] == "RUNNING", str(row))
    with Receiver(DNNPROV, "-c", cfg) as r:
        check("still open", "1 open run taken up again" in r.banner, r.banner)
        all_ok("the rest", r.replay(posts[8:]))
    dnnprov("index", "-c", cfg, "-q")
    row = status_of(cfg, EXEC)
    check("it finished in two attempts (the restart resumed it)", row["status"] == "FINISHED" and
          row["attempts"] == 2 and row["epochs"] == 5, str(row))
    layers = json.loads(dnnprov("layers", "-c", cfg, "--format", "json"))["rows"]
    check("the layers that waited across the restart", len(layers) == 3, str(layers))


# ---- access ------------------------------------------------------------------------------------

def scenario_access():
    d = folder("access")
    cfg = os.path.join(d, "exp.yaml")
    r = run([DNNPROV, "receive", "--dfanalyzer", "-c", cfg, "--listen", "0.0.0.0:0"])
    check("another address than loopback needs a token", r.returncode == 1 and "token" in r.stderr, r.stderr)
    r = run([DNNPROV, "receive", "-c", cfg])
    check("--dfanalyzer is asked for", r.returncode == 2, r.stderr)
    token = "s3cret-token-0123456789"
    posts = fixture("keras-prov-training.jsonl")
    with Receiver(DNNPROV, "-c", cfg, "--token", token, "--max-body", "4KiB") as r:
        st, ans = r.post("/pde/dataflow/json", posts[0]["body"])
        check("without the token: 401", st == 401, str(ans))
        st, ans = r.post("/pde/dataflow/json", posts[0]["body"], {"Authorization": "Bearer " + token})
        check("with the bearer token: 200", st == 200, str(ans))
        basic = base64.b64encode(b"dnnprov:" + token.encode()).decode()
        st, ans = r.post("/pde/task/json", posts[1]["body"], {"Authorization": "Basic " + basic})
        check("with the token in DFA_URL (basic): 200", st == 200, str(ans))
        st, ans = r.post("/pde/task/json", b"x" * 5000, {"Authorization": "Bearer " + token})
        check("past --max-body: 413", st == 413, str(ans))
    with Receiver(DNNPROV, "-c", cfg) as r:
        st, ans = r.post("/pde/task/json", posts[1]["body"], host="evil.example:22000")
        check("another Host: 403", st == 403, str(ans))
        st, ans = r.post("/pde/task", posts[1]["body"])
        check("another endpoint: 404", st == 404, str(ans))


SCENARIOS = {name[len("scenario_"):]: f for name, f in globals().items() if name.startswith("scenario_")}
for name in sys.argv[4:] or SCENARIOS:
    try:
        SCENARIOS[name]()
    except Exception as e:  # one scenario's failure is reported, the others run
        check(f"scenario {name}", False, f"{type(e).__name__}: {e}")
sys.exit(check.finish())
