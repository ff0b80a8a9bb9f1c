"""Questions over the live index from Python: SQL, and the CLI's commands.

    import dnnprov
    con = dnnprov.connect(config="exp.yaml")            # a sqlite3.Connection
    pandas.read_sql_query("select * from epochs where task = ?", con, params=["run-1"])
    dnnprov.sql("select task, max(val_accuracy) from epochs group by task", config="exp.yaml")
    dnnprov.runs("exp.yaml", where="LEARNING_RATE < 0.01")
    dnnprov.curve("exp.yaml", "run-1")

connect() loads the SQLite extension libdnnprov_sqlite.so into a new
in-memory connection and attaches the index read-only (docs/SQL.md lists
the tables).  The other functions answer with a pandas DataFrame when pandas
imports, a list of dicts otherwise; runs(), compare(), curve() and the other
commands give what `dnnprov COMMAND --format json` gives, read through the
same query functions, except that "NaN", "Infinity" and "-Infinity" in
numeric columns become floats.
"""

import ctypes
import json
import math
import os
import sqlite3

from . import _native
from .errors import EQUERY, Error

try:
    import pandas as _pandas
except ImportError:  # a list of dicts instead
    _pandas = None

_SPECIAL = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


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


def _locations(config, index_dir, dataflow):
    """(index_dir, dataflow) from a config file unless given."""
    if config is None:
        if index_dir is None:
            raise ValueError("give config= or index_dir=")
        return os.fspath(index_dir), dataflow
    cfg = ctypes.c_void_p()
    rc = _native.lib.dnnprov_config_load(os.fsencode(config), ctypes.byref(cfg))
    if rc:
        raise _native.last_error(rc)
    try:
        if index_dir is None:
            index_dir = os.fsdecode(_native.lib.dnnprov_config_index_dir(cfg))
        if dataflow is None:
            dataflow = _native.lib.dnnprov_config_dataflow(cfg).decode("utf-8")
    finally:
        _native.lib.dnnprov_config_free(cfg)
    return os.fspath(index_dir), dataflow


def connect(config=None, *, index_dir=None, dataflow=None, timeout=None, readonly=True):
    """A sqlite3.Connection over the index of `config` (or `index_dir`).

    `dataflow` (default: the config's, or the only one in the index) is the
    one that `epochs` and the DfAnalyzer views show.  Read-only unless
    readonly=False: no writes but to temp, no ATTACH of a file, only the
    functions of docs/SQL.md's list (no loading of extensions, none that
    returns an address, none the caller adds).  `timeout` (seconds) stops a
    statement that runs longer.  The attach itself runs behind the module's
    authorizer, whatever the names in the logs hold.  Each statement reads
    one snapshot of the index; see docs/SQL.md."""
    index_dir, dataflow = _locations(config, index_dir, dataflow)
    con = sqlite3.connect(":memory:", check_same_thread=False)
    try:
        con.enable_load_extension(True)
        try:
            con.load_extension(extension_path())
        finally:
            con.enable_load_extension(False)
        con.execute("select dnnprov_attach(?, ?)", (index_dir, dataflow))
        if readonly:
            con.execute("select dnnprov_restrict(?)", (float(timeout or 0),))
    except sqlite3.Error as e:
        con.close()
        raise Error(EQUERY, str(e)) from None
    return con


def _numeric(values):
    return all(v is None or isinstance(v, (int, float)) or v in _SPECIAL for v in values) and any(
        isinstance(v, (int, float)) for v in values)


def _frame(columns, rows):
    """A DataFrame with the columns in order, or a list of dicts."""
    for c in columns:
        if _numeric([r.get(c) for r in rows]):
            for r in rows:
                if r.get(c) in _SPECIAL:
                    r[c] = _SPECIAL[r[c]]
    if _pandas is None:
        return rows
    return _pandas.DataFrame.from_records(rows, columns=columns)


def sql(query, params=(), config=None, *, index_dir=None, dataflow=None, timeout=None, con=None):
    """The rows of one SQL statement over the index (a DataFrame when pandas
    imports, a list of dicts otherwise)."""
    own = con is None
    if own:
        con = connect(config, index_dir=index_dir, dataflow=dataflow, timeout=timeout)
    try:
        try:
            cur = con.execute(query, params)
            columns = [d[0] for d in cur.description or ()]
            rows = [dict(zip(columns, r)) for r in cur.fetchall()]
        except sqlite3.Error as e:
            raise Error(EQUERY, str(e)) from None
        if _pandas is None:
            return rows
        return _pandas.DataFrame.from_records(rows, columns=columns)
    finally:
        if own:
            con.close()


def command(name, config=None, *, index_dir=None, dataflow=None, con=None, **options):
    """The answer of `dnnprov NAME` with these options (where=, metric=,
    agg=, sort=, limit=, task=, ...), as its --format json gives it."""
    own = con is None
    if own:
        con = connect(config, index_dir=index_dir, dataflow=dataflow)
    args = [name]
    if dataflow is not None and name != "dataflows":
        args += ["dataflow", dataflow]
    for key, value in options.items():
        if value is not None:
            args += [key, str(value)]
    try:
        marks = ", ".join("?" * len(args))
        text = con.execute("select dnnprov_query(%s)" % marks, args).fetchone()[0]
    except sqlite3.Error as e:
        raise Error(EQUERY, str(e)) from None
    finally:
        if own:
            con.close()
    answer = json.loads(text)
    return _frame(answer["columns"], answer["rows"])


def dataflows(config=None, **kw):
    """The dataflows in the index, with task counts."""
    return command("dataflows", config, **kw)


def describe(config=None, **kw):
    """A dataflow's specification and task counts."""
    return command("describe", config, **kw)


def runs(config=None, *, where=None, metric=None, sort=None, limit=None, **kw):
    """A row per task: status, duration, epochs, hyperparameters, the last
    and best value of the main metric (or `metric`)."""
    return command("runs", config, where=where, metric=metric, sort=sort, limit=limit, **kw)


def compare(config=None, *, metric=None, agg=None, goal=None, where=None, sort=None, limit=None, **kw):
    """Hyperparameters against one aggregated metric, best first."""
    return command("compare", config, metric=metric, agg=agg, goal=goal, where=where, sort=sort,
                   limit=limit, **kw)


def effect(config=None, hyp=None, *, metric=None, agg=None, goal=None, bins=None, where=None, **kw):
    """What one hyperparameter does to a metric, per value or bin."""
    return command("effect", config, hyp=hyp, metric=metric, agg=agg, goal=goal, bins=bins,
                   where=where, **kw)


def curve(config=None, task=None, *, metrics=None, **kw):
    """One task epoch by epoch, with the hyperparameters it adapted."""
    if isinstance(metrics, (list, tuple)):
        metrics = ",".join(metrics)
    return command("curve", config, task=task, metrics=metrics, **kw)


def adaptations(config=None, *, task=None, metric=None, window=None, **kw):
    """Every change of a hyperparameter and the metric around it."""
    return command("adaptations", config, task=task, metric=metric, window=window, **kw)


def test(config=None, *, where=None, sort=None, limit=None, **kw):
    """Test results beside hyperparameters."""
    return command("test", config, where=where, sort=sort, limit=limit, **kw)


def elements(config=None, transformation=None, *, set=None, task=None, **kw):
    """The data of a user-defined transformation."""
    return command("elements", config, transformation=transformation, set=set, task=task, **kw)
