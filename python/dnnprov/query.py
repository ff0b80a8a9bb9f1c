"""Questions over the live index from Python: the registry's questions
(runs, compare, effect, curve, ...), SQL, and a sqlite3 connection.

    import dnnprov
    dnnprov.runs("exp.yaml", where="LEARNING_RATE < 0.01")
    dnnprov.curve("exp.yaml", "run-1")
    dnnprov.sql("select task, max(val_accuracy) from epochs group by task", config="exp.yaml")
    con = dnnprov.connect(config="exp.yaml")            # a sqlite3.Connection

The question functions are made at import from the library's registry
(dnnprov_questions_json): each takes the parameters the registry offers
its C API, with the registry's help as its docstring, so the functions,
the command line, the HTTP API and SQL's dnnprov_query() take the same
parameters under the same names.  Each call opens the index read-only
through libdnnprov (dnnprov_index_ask, dnnprov_index_sql): no subprocess,
and no use of the interpreter's own sqlite3 module, which only connect()
needs.

An answer is a pandas DataFrame when pandas imports, else a list of dicts,
typed by what the answer says each column holds ("kinds"): times as
datetimes (UTC), integers as integers (pandas' nullable Int64), reals as
floats ("NaN" and "Infinity" as floats), a missing value as NA (None in a
list of dicts).  A run's tags are a dict of their values as recorded
(numbers as numbers), and the run fact git_dirty a boolean, where the JSON
answer has display text ("stage=candidate, seed=7"; "true").  A refused parameter raises dnnprov.Error whose
`parameter` names it.
"""

import ctypes
import json
import keyword
import math
import os

from . import _native
from .errors import EQUERY, Error

JSON, CSV, TABLE = 0, 1, 2  # dnnprov_format
_SPECIAL = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _locations(config, index_dir, dataflow):
    """(index_dir, log_dir, dataflow) from a config file unless given."""
    if config is None:
        if index_dir is None:
            raise ValueError("give config= or index_dir=")
        return os.fspath(index_dir), None, dataflow
    cfg = ctypes.c_void_p()
    rc = _native.lib.dnnprov_config_load(os.fsencode(config), ctypes.byref(cfg))
    if rc:
        raise _native.last_error(rc)
    try:
        log_dir = os.fsdecode(_native.lib.dnnprov_config_log_dir(cfg))
        if index_dir is None:
            index_dir = os.fsdecode(_native.lib.dnnprov_config_index_dir(cfg))
        if dataflow is None:
            dataflow = _native.lib.dnnprov_config_dataflow(cfg).decode("utf-8")
    finally:
        _native.lib.dnnprov_config_free(cfg)
    return os.fspath(index_dir), log_dir, dataflow


class _Index:
    """An index opened read-only for one call (dnnprov_index_open)."""

    def __init__(self, index_dir, log_dir):
        self.handle = ctypes.c_void_p()
        rc = _native.lib.dnnprov_index_open(os.fsencode(index_dir),
                                            os.fsencode(log_dir) if log_dir else None,
                                            ctypes.byref(self.handle))
        if rc:
            raise _native.last_error(rc)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _native.lib.dnnprov_index_close(self.handle)


# ---- answers ------------------------------------------------------------------------------


def _pandas():
    """pandas, imported when an answer is made (it costs a second or so)."""
    try:
        import pandas
    except ImportError:  # a list of dicts instead
        return None
    return pandas


def _time(v):
    if not isinstance(v, str):
        return v
    import datetime   # for answers read without pandas: 10 ms of every import otherwise
    return datetime.datetime.strptime(v, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)


def _number(v):
    return _SPECIAL.get(v, v) if isinstance(v, str) else v


def _kind(k):
    """What the conversion of a column is: "time", "int", "float" or None."""
    kind = (k or {}).get("kind")
    if kind == "time":
        return "time"
    if kind == "integer":
        return "int"
    if kind in ("real", "duration", "metric") or (kind == "hyperparameter" and k.get("type") == "numeric"):
        return "number"
    return None


def _frame(answer):
    """The answer's rows typed by its kinds: a DataFrame, or a list of dicts."""
    columns = answer["columns"]
    rows = answer["rows"]
    kinds = answer.get("kinds") or [None] * len(columns)
    how = {}
    for c, k in zip(columns, kinds):
        how[c] = _kind(k)
        if how[c] == "number":
            values = [r[c] for r in rows if r[c] is not None]
            # Integers stay integers: a numeric column of whole numbers
            # only (an epoch, a batch size) is an integer column; one that
            # holds labels (effect's bins, "0.001 .. 0.003") stays as it is.
            if any(isinstance(v, str) and v not in _SPECIAL for v in values):
                how[c] = None
            elif values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
                how[c] = "int"
            else:
                how[c] = "float"
        for r in rows:
            if how[c] == "time":
                r[c] = _time(r[c])
            elif how[c] == "float":
                r[c] = _number(r[c])
    pandas = _pandas()
    if pandas is None:
        return rows
    frame = pandas.DataFrame.from_records(rows, columns=columns)
    for c in columns:
        if how[c] == "time":
            frame[c] = pandas.to_datetime(frame[c], utc=True)
        elif how[c] == "int":
            frame[c] = frame[c].astype("Int64")
        elif how[c] == "float":
            frame[c] = frame[c].astype("float64")
    return frame


def _text_value(name, value):
    """A parameter's value as the registry parses it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    if not isinstance(value, (str, int, float)):
        raise TypeError(f"parameter {name!r}: {type(value).__name__} is not a value")
    return str(value)


def ask(question, config=None, *, index_dir=None, dataflow=None, format="json", **parameters):
    """The answer of a question of the registry (dnnprov.questions() lists
    them) with these parameters: a DataFrame or a list of dicts; with
    format="csv" or "table", the text `dnnprov QUESTION --format F` prints."""
    fmt = {"json": JSON, "csv": CSV, "table": TABLE}.get(format)
    if fmt is None:
        raise ValueError(f"format is json, csv or table, not {format!r}")
    answer = _answer(question, config, index_dir, dataflow, fmt, parameters)
    return _frame(answer) if fmt == JSON else answer


def advice(config, task, **options):
    """The `advise` question's answer for `task` as one dict (decision,
    runs, percentile, in_position, reached_best, best_final, reason, ...;
    docs/STEERING.md), without pandas: Task.advice() and
    Recorder.advice() ask it during training."""
    answer = _answer("advise", config, None, None, JSON, dict(options, task=task))
    return {c: _number(v) for c, v in answer["rows"][0].items()}


def _answer(question, config, index_dir, dataflow, fmt, parameters):
    """The answer as text, or with fmt JSON as a dict whose values are
    Python's (_values_as_values)."""
    named = dataflow
    index_dir, log_dir, dataflow = _locations(config, index_dir, dataflow)
    if named is None and question in _ABOUT_NO_DATAFLOW:
        dataflow = None  # the config's is no parameter of this question
    pairs = []
    if dataflow is not None:
        pairs += ["dataflow", dataflow]
    for name, value in parameters.items():
        if value is not None:
            pairs += [name, _text_value(name, value)]
    encoded = [p.encode("utf-8") for p in pairs]
    array = (ctypes.c_char_p * max(len(encoded), 1))(*encoded)
    out, length = ctypes.c_void_p(), ctypes.c_size_t()
    with _Index(index_dir, log_dir) as ix:
        rc = _native.lib.dnnprov_index_ask(ix.handle, question.encode("utf-8"), array, len(pairs) // 2, fmt,
                                           ctypes.byref(out), ctypes.byref(length))
        if rc:
            raise _native.last_error(rc)
        text = _native.take_text(out, length.value)
        if fmt != JSON:
            return text
        answer = json.loads(text)
        _values_as_values(ix, answer, dataflow)
    return answer


def _sql_rows(ix, query, params, dataflow):
    """The rows of SQL on an open index, as dicts (numbers as numbers)."""
    from .task import _value_array
    values, keep = _value_array("parameter", {str(i + 1): v for i, v in enumerate(params)})
    out, length = ctypes.c_void_p(), ctypes.c_size_t()
    rc = _native.lib.dnnprov_index_sql(ix.handle, query.encode("utf-8"), values, len(params),
                                       dataflow.encode("utf-8") if dataflow else None, 0.0, JSON,
                                       ctypes.byref(out), ctypes.byref(length))
    if rc:
        raise _native.last_error(rc)
    del keep
    return json.loads(_native.take_text(out, length.value))["rows"]


# Run facts whose text is a boolean ("true", "false"), as Python records them.
_BOOLEAN_FACTS = ("git_dirty",)


def _values_as_values(ix, answer, dataflow):
    """A runs answer's tags as a dict per run, with their values as
    recorded (numbers as numbers, from the SQL table `tags`), and boolean
    run facts as booleans; the JSON answer has them as display text."""
    columns = answer.get("columns") or []
    rows = answer.get("rows") or []
    if "tags" in columns and "task" in columns and any(r.get("tags") is not None for r in rows):
        tags = {}
        # Without a dataflow named, the index holds one: the answer's.
        query, params = ("select task, key, value from tags where dataflow = ?1", [dataflow]) if dataflow \
            else ("select task, key, value from tags", [])
        for t in _sql_rows(ix, query, params, dataflow):
            tags.setdefault(t["task"], {})[t["key"]] = t["value"]
        for r in rows:
            if r.get("tags") is not None:
                r["tags"] = tags.get(r["task"], {})
        kinds = answer.get("kinds")
        if kinds:
            kinds[columns.index("tags")] = {"kind": "tags"}
    for name in _BOOLEAN_FACTS:
        if name in columns:
            for r in rows:
                r[name] = {"true": True, "false": False}.get(r[name], r[name])


def command(name, config=None, *, index_dir=None, dataflow=None, con=None, **options):
    """The answer of `dnnprov NAME` with these options (where=, metric=,
    agg=, sort=, limit=, task=, ...), as its --format json gives it.  With
    con= (a connection from connect()), asked through its dnnprov_query()."""
    if con is None:
        return ask(name, config, index_dir=index_dir, dataflow=dataflow, **options)
    import sqlite3
    args = [name] + (["dataflow", dataflow] if dataflow is not None else [])
    for key, value in options.items():
        if value is not None:
            args += [key, _text_value(key, value)]
    try:
        text = con.execute("select dnnprov_query(%s)" % ", ".join("?" * len(args)), args).fetchone()[0]
    except sqlite3.Error as e:
        raise Error(EQUERY, str(e)) from None
    return _frame(json.loads(text))


def sql(query, params=(), config=None, *, index_dir=None, dataflow=None, timeout=None, con=None):
    """The rows of one SQL statement over the index (docs/SQL.md): a
    DataFrame when pandas imports, a list of dicts otherwise.  params are
    bound to ?1, ?2, ... in order.  Read-only; `timeout` (seconds) stops a
    statement that runs longer.  With con= (a connection from connect()),
    the statement runs on it instead."""
    if con is not None:
        return _sql_on(con, query, params)
    if isinstance(params, dict):
        raise TypeError("sql(): params are bound by position (?1, ?2, ...); named ones need con=connect()")
    from .task import _value_array
    index_dir, log_dir, dataflow = _locations(config, index_dir, dataflow)
    values, keep = _value_array("parameter", {str(i + 1): v for i, v in enumerate(params)})
    out, length = ctypes.c_void_p(), ctypes.c_size_t()
    with _Index(index_dir, log_dir) as ix:
        rc = _native.lib.dnnprov_index_sql(ix.handle, query.encode("utf-8"), values, len(params),
                                           dataflow.encode("utf-8") if dataflow else None,
                                           float(timeout or 0), JSON, ctypes.byref(out), ctypes.byref(length))
        if rc:
            raise _native.last_error(rc)
    del keep
    return _frame(json.loads(_native.take_text(out, length.value)))


def _sql_on(con, query, params):
    """sql() on a sqlite3 connection the caller opened with connect()."""
    import sqlite3
    try:
        cur = con.execute(query, params)
        columns = [d[0] for d in cur.description or ()]
        rows = [dict(zip(columns, r)) for r in cur.fetchall()]
    except sqlite3.Error as e:
        raise Error(EQUERY, str(e)) from None
    pandas = _pandas()
    return rows if pandas is None else pandas.DataFrame.from_records(rows, columns=columns)


# ---- a sqlite3 connection ------------------------------------------------------------------


def extension_path():
    """Where libdnnprov_sqlite.so is: $DNNPROV_SQLITE_EXT, beside the
    libdnnprov.so this process loaded, or where `make install` puts it."""
    env = os.environ.get("DNNPROV_SQLITE_EXT")
    if env:
        return env
    beside = os.path.join(os.path.dirname(os.path.realpath(_native.path)), "libdnnprov_sqlite.so")
    for path in (beside, "/usr/local/lib/libdnnprov_sqlite.so"):
        if os.path.exists(path):
            return path
    raise Error(EQUERY, "cannot find libdnnprov_sqlite.so beside %s or in /usr/local/lib: "
                "build it with `make`, or set DNNPROV_SQLITE_EXT" % _native.path)


def connect(config=None, *, index_dir=None, dataflow=None, timeout=None, readonly=True):
    """A sqlite3.Connection over the index of `config` (or `index_dir`),
    for pandas.read_sql_query and the like.

    `dataflow` (default: the config's, or the only one in the index) is the
    one that `epochs` and the DfAnalyzer views show.  Read-only unless
    readonly=False: no writes but to temp, no ATTACH of a file, only the
    functions of docs/SQL.md's list (no loading of extensions, none that
    returns an address, none the caller adds).  `timeout` (seconds) stops a
    statement that runs longer.  The attach itself runs behind the module's
    authorizer, whatever the names in the logs hold.  Each statement reads
    one snapshot of the index; see docs/SQL.md.  It
    loads the SQLite extension libdnnprov_sqlite.so into the interpreter's
    sqlite3, which some builds cannot do: then dnnprov.Error says so, and
    dnnprov.sql() answers the same SQL without it."""
    try:
        import sqlite3
    except ImportError:
        sqlite3 = None
    if sqlite3 is None or not hasattr(sqlite3.Connection, "enable_load_extension"):
        raise Error(EQUERY, "this Python's sqlite3 cannot load extensions (%s), so connect() cannot "
                    "give a connection over the index: dnnprov.sql(query, config=...) answers the same "
                    "SQL through libdnnprov" % ("no sqlite3 module" if sqlite3 is None else
                                                "built without extension loading"))
    index_dir, _, dataflow = _locations(config, index_dir, dataflow)
    con = sqlite3.connect(":memory:", check_same_thread=False)
    try:
        try:
            con.enable_load_extension(True)
            try:
                con.load_extension(extension_path())
            finally:
                con.enable_load_extension(False)
        except sqlite3.Error as e:
            raise Error(EQUERY, "this Python's sqlite3 cannot load the extension %s (%s): dnnprov.sql(query, "
                        "config=...) answers the same SQL through libdnnprov" % (extension_path(), e)) from None
        con.execute("select dnnprov_attach(?, ?)", (index_dir, dataflow))
        if readonly:
            con.execute("select dnnprov_restrict(?)", (float(timeout or 0),))
    except sqlite3.Error as e:
        con.close()
        raise Error(EQUERY, str(e)) from None
    return con


# ---- the questions, from the registry --------------------------------------------------------


def questions():
    """The library's registry of questions, as dnnprov_questions_json()
    gives it: {"questions": [{"name", "summary", "parameters": [...]}, ...]}."""
    out, length = ctypes.c_void_p(), ctypes.c_size_t()
    rc = _native.lib.dnnprov_questions_json(ctypes.byref(out), ctypes.byref(length))
    if rc:
        raise _native.last_error(rc)
    return json.loads(_native.take_text(out, length.value))


def _docstring(q, params):
    lines = [q["summary"][0].upper() + q["summary"][1:] + ".", "", q["description"], ""]
    lines.append("Parameters (docs/QUERY.md):")
    lines.append("    config, index_dir: the experiment file, or the index without one")
    for p in params:
        default = p.get("default")
        lines.append("    %s (%s%s): %s%s" % (p["name"], p["type"], ", required" if p["required"] else "",
                                             p["help"], " (default: %s)" % default if default else ""))
    lines.append("")
    lines.append("Returns a pandas DataFrame when pandas imports, else a list of dicts.")
    return "\n".join(lines)


def _question_function(q):
    """The Python function of question q: config, then what the question
    requires (its positional arguments and required options), then its
    other parameters by keyword.  Written as source and compiled, so that
    its signature is a plain function's: inspect (12 ms of every import)
    is not needed to make one."""
    offered = [p for p in q["parameters"] if "api" in p["fronts"]]
    name = q["name"]
    first = [p["name"] for p in offered if p["name"] != "dataflow" and (p.get("positional") or p["required"])]
    rest = [p["name"] for p in offered if p["name"] not in first and p["name"] != "dataflow"]
    fixed = {"config", "index_dir", "dataflow", "format", "question", "_ask", "_name"}
    for n in [name] + first + rest:
        # The registry's names are the library's own; one that is no
        # Python name would be a defect of it, never run as code.
        if not n.isidentifier() or keyword.iskeyword(n) or (n != name and n in fixed):
            raise Error(EQUERY, "the registry's question %r has a parameter %r that is no Python name" % (name, n))
    # dataflow too where the question is about none (dataflows), as None:
    # a caller may pass one keyword set to every question.
    params = ["config=None"] + ["%s=None" % n for n in first] + ["*", "index_dir=None", "dataflow=None"]
    params += ["%s=None" % n for n in rest]
    passed = "".join(", %s=%s" % (n, n) for n in first + rest)
    source = ("def %s(%s):\n    return _ask(_name, config, index_dir=index_dir, dataflow=dataflow%s)\n"
              % (name, ", ".join(params), passed))
    scope = {"_ask": ask, "_name": name}
    exec(compile(source, "<dnnprov question %s>" % name, "exec"), scope)
    fn = scope[name]
    fn.__doc__ = _docstring(q, offered)
    fn.__module__ = __name__
    return fn


_REGISTRY = questions()
QUESTIONS = tuple(q["name"] for q in _REGISTRY["questions"])
_ABOUT_NO_DATAFLOW = {q["name"] for q in _REGISTRY["questions"]
                      if not any(p["name"] == "dataflow" for p in q["parameters"])}
for _q in _REGISTRY["questions"]:
    globals()[_q["name"]] = _question_function(_q)
del _q
