"""dnnprov.Task: one task's provenance, recorded through libdnnprov.

A Task loads the experiment file, opens the task's writer and records its
start with the hyperparameter values; then each method appends one record
(see docs/FORMAT.md).  Used as a context manager it also records how the
task ended, from how the `with` block was left.  A task id names one run
(docs/RUNS.md): beginning a task that has begun before raises StateError
unless resume=True asks to continue it.

Values: int and bool are DNNPROV_INT, float DNNPROV_REAL (NaN and infinities
kept), str DNNPROV_TEXT, None DNNPROV_NULL; numpy scalars, 0-d arrays and
one-element torch tensors (anything with .item() and one element) are taken
by their .item().  Anything else is a TypeError naming the key; an int
outside int64 is an OverflowError.

Speed: epoch() is called once per epoch, but also once per batch by people
who log batch losses, so it avoids per-call allocation where it can: one
ctypes array of dnnprov_value per handle, reused; struct and union views
of each slot made once; names encoded once and kept (their addresses stay
valid while the cache holds them); a slot's name pointer and type are only
rewritten when they change.  A lock makes the shared array safe when
threads share a Task (ctypes releases the GIL during the C call); every
method that reaches the library holds it.  A fork while another thread is
inside a call would give the child a lock (and a C mutex) copied in the
locked state: os.register_at_fork takes every Task's lock before a fork
and releases it after, in the parent and in the child, so calls in
progress finish first and the child starts with usable locks.
"""

import ctypes
import math
import operator
import os
import threading
import warnings
import weakref
from collections.abc import Mapping

from . import _native, facts as _facts, query as _query
from ._native import FAILED, FINISHED, INT, KILLED, NULL, PRUNED, REAL, REFUSED, TEXT, lib
from .errors import ESTATE, Error, StateError, UndeclaredWarning

_STATUS = {"FINISHED": FINISHED, "FAILED": FAILED, "KILLED": KILLED, "PRUNED": PRUNED}
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
# Longest end message kept from an exception's text: a tensor printed into
# an error message can be megabytes, and the end record is not a log file.
_MESSAGE_MAX = 4096
# Distinct names a handle remembers before it forgets them all (only a
# program inventing names would reach it).
_NAME_CACHE_MAX = 4096

_address = ctypes.addressof
_NAN = math.nan


def _text(what, key, s):
    if not isinstance(s, str):
        raise TypeError(f"{what} {key!r} must be a str, not {type(s).__name__}")
    data = s.encode("utf-8")
    if b"\0" in data:
        raise ValueError(f"{what} {key!r} has a text value containing a NUL character")
    return data


def _scalar(what, key, value):
    """(dnnprov_type, payload) of a Python value; payload is an int, a float,
    bytes for text, or None."""
    if isinstance(value, float):
        return REAL, float(value)
    if isinstance(value, int):  # bool included
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise OverflowError(f"{what} {key!r}: {value} does not fit in 64 bits")
        return INT, int(value)
    if isinstance(value, str):
        return TEXT, _text(what, key, value)
    if value is None:
        return NULL, None
    item = getattr(value, "item", None)
    if callable(item):
        try:
            plain = item()
        except (ValueError, RuntimeError) as e:  # numpy's and torch's "more than one element"
            raise TypeError(f"{what} {key!r} must be a single value, not a "
                            f"{type(value).__name__} of several ({e})") from None
        if isinstance(plain, (float, int, str)):
            return _scalar(what, key, plain)
    raise TypeError(f"{what} {key!r} has a value of type {type(value).__name__}; expected "
                    "int, float, str, None or a one-element numpy or torch value")


def _value_array(what, values):
    """A one-off array of values (tags, facts) and the bytes that must stay
    alive during the call; the per-epoch path reuses one array instead."""
    array = (_native.Value * max(len(values), 1))()
    keep = []
    for slot, (key, value) in zip(array, values.items()):
        name = _text(what + " name", key, key)
        keep.append(name)
        slot.name = ctypes.cast(name, ctypes.c_void_p).value
        tag, payload = _scalar(what, key, value)
        slot.type = tag
        if tag == REAL:
            slot.as_.r = payload
        elif tag == INT:
            slot.as_.i = payload
        elif tag == TEXT:
            keep.append(payload)
            slot.as_.s = ctypes.cast(payload, ctypes.c_void_p).value
    return array, keep


def _epoch_number(n):
    n = operator.index(n)  # a TypeError for 2.0 or "2"; numpy ints are fine
    if not _INT64_MIN <= n <= _INT64_MAX:
        raise OverflowError(f"epoch {n} does not fit in 64 bits")
    return n


def _message(text):
    """An end message as the C side accepts it: valid UTF-8, no NUL.  Its
    length is the C side's to judge (one limit for every text)."""
    return text.replace("\0", "\\0").encode("utf-8", "backslashreplace")


def _cut(text):
    """An exception's text, cut to what an end message should keep."""
    return text[:_MESSAGE_MAX] + "..." if len(text) > _MESSAGE_MAX else text


# Every open Task, for the fork hooks below.
_LIVE = weakref.WeakSet()


def _lock_all_before_fork():
    # In one order (by id), so that two threads forking at once cannot each
    # hold a lock the other waits for.
    tasks = sorted(list(_LIVE), key=id)
    for task in tasks:
        task._lock.acquire()
    _lock_all_before_fork.held = tasks


def _unlock_all_after_fork():
    for task in getattr(_lock_all_before_fork, "held", ()):
        task._lock.release()
    _lock_all_before_fork.held = ()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_lock_all_before_fork, after_in_parent=_unlock_all_after_fork,
                        after_in_child=_unlock_all_after_fork)


def describe_exception(exc):
    """The text an exception leaves in a task's end record: "ValueError: why"."""
    name = type(exc).__name__
    text = str(exc)
    return f"{name}: {text}" if text else name


class Task:
    """A task of the experiment described by `config` (a YAML path).

    Opening a Task loads the config, opens the task's writer and, unless
    begin=False, records its start with the `hyperparameters` (a mapping of
    name to value; built-in names the config does not select are dropped,
    any other name it does not declare raises UndeclaredError).  `derived`
    maps names to values an integration read by itself (an optimizer's
    momentum, a scheduler's class): each is recorded only when the config
    selects it, and never refused; `hyperparameters` win over them.

    A name the config does not declare raises UndeclaredError at the begin
    and until the first epoch is recorded, where stopping costs seconds;
    after that it is refused alone: the record keeps its other values, the
    run shows the name as a problem, and an UndeclaredWarning says so once
    per name.  strict=True (or `strict: true` in the config) raises every
    time, and records nothing of the call.

    task_id None makes a new id, unique per run: `label` (when given), the
    time, the host and the pid.  The id of a task that has begun before
    raises StateError, unless resume=True: then the run goes on as a new
    attempt; its first hyperparameter values stay, and a value given here
    that differs (a learning rate restored from a checkpoint) is recorded
    as an adaptation at `resume_epoch` (default: after the last epoch
    recorded).  resume=True on a new task simply begins it.  transformation
    names the declared step of a pipeline the task is (a split, a scaling,
    an evaluation: docs/LINEAGE.md); such a task takes no hyperparameters
    and records its parameters with element().  begin=False
    opens an existing task only to add records to it, e.g. test metrics
    measured after it ended; such a Task never writes an end.

    As a context manager, leaving the block ends the task it began:
    FINISHED when the block completes, KILLED on KeyboardInterrupt, FAILED
    with the exception's text otherwise (SystemExit with status 0 or None
    counts as FINISHED); the exception always propagates.  The handle is
    closed in every case.  Without `with`, call end() and close(); a Task
    collected unclosed is closed without an end record and is shown LOST
    by the indexer, as a crashed run would be.
    """

    def __init__(self, config, hyperparameters=None, task_id=None, *, begin=True, resume=False,
                 label=None, resume_epoch=None, facts=None, derived=None, strict=False,
                 transformation=None):
        self._lock = threading.Lock()
        self._handle = None
        self._config = None
        self._ended = False
        self._began = False
        self._id = task_id
        self._names = {}
        self._warned = set()
        # Strict until the first epoch is recorded (or for good, as asked).
        self._early = True
        self._strict = bool(strict)
        self._grow(8)
        if hyperparameters is not None and not isinstance(hyperparameters, Mapping):
            raise TypeError("hyperparameters must be a mapping of name to value (a dict), not "
                            f"{type(hyperparameters).__name__}")
        if derived is not None and not isinstance(derived, Mapping):
            raise TypeError(f"derived must be a mapping of name to value (a dict), not {type(derived).__name__}")
        if facts is not None and not isinstance(facts, Mapping):
            raise TypeError(f"facts must be a mapping of name to value (a dict), not {type(facts).__name__}")
        if task_id is not None and label is not None:
            raise ValueError("label names a new task: give task_id or label, not both")
        epoch = _native.NEXT_EPOCH if resume_epoch is None else _epoch_number(resume_epoch)
        cfg = ctypes.c_void_p()
        rc = lib.dnnprov_config_load(os.fsencode(config), ctypes.byref(cfg))
        if rc:
            raise _native.last_error(rc)
        self._config = cfg
        self._config_path = config
        self._strict = self._strict or bool(lib.dnnprov_config_strict(cfg))
        if begin:
            values = {k: v for k, v in (derived or {}).items() if self._selects(k)}
            values.update(hyperparameters or {})
            # Converted before the task is opened, so that a value Python
            # refuses leaves no empty task folder behind.
            try:
                count, keep = self._fill("hyperparameter", values)
            except BaseException:
                self._free_config()
                raise
        handle = ctypes.c_void_p()
        if task_id is None:
            name = None if label is None else _text("task label", label, label)
            rc = lib.dnnprov_task_open_new(cfg, name, ctypes.byref(handle))
        else:
            rc = lib.dnnprov_task_open(cfg, _text("task id", task_id, task_id), ctypes.byref(handle))
        if rc:
            error = _native.last_error(rc)
            self._free_config()
            raise error
        self._handle = handle
        self._id = lib.dnnprov_task_id(handle).decode("utf-8")
        lib.dnnprov_task_strict(handle, 1)
        _LIVE.add(self)
        if begin and transformation is not None:
            rc = lib.dnnprov_task_transformation(
                handle, _text("transformation", transformation, transformation))
            if rc:
                error = _native.last_error(rc)
                self.close()
                raise error
        if begin:
            if lib.dnnprov_config_facts(cfg):
                try:
                    self._add_facts(dict(_facts.collect(), **(facts or {})))
                except BaseException:
                    self.close()
                    raise
            if resume:
                rc = lib.dnnprov_task_resume(handle, epoch, self._array, count)
            else:
                rc = lib.dnnprov_task_begin(handle, self._array, count)
            if rc:
                error = _native.last_error(rc)
                if isinstance(error, StateError) and not resume:
                    error = StateError(error.code, error.message +
                                       "; pass resume=True to continue it, or use another task id")
                self.close()
                raise error
            self._began = True
        else:
            # Adding to a task that has trained (a test after its end): a
            # typo now must not lose what is recorded.
            self._settle()

    # ---- identity ---------------------------------------------------------

    @property
    def id(self):
        """The task's id (given, or generated by the library)."""
        return self._id

    @property
    def dataflow(self):
        """The dataflow tag of the experiment file."""
        with self._lock:
            return lib.dnnprov_config_dataflow(self._live_config()).decode("utf-8")

    @property
    def log_dir(self):
        """Where the segments are written (resolved against the YAML's folder)."""
        with self._lock:
            return os.fsdecode(lib.dnnprov_config_log_dir(self._live_config()))

    @property
    def closed(self):
        return self._handle is None

    def selects(self, name):
        """Whether the experiment file selects hyperparameter `name` (declares
        it and records it): what an integration asks before it records a
        value it derived by itself."""
        with self._lock:
            return self._selects(name)

    def _selects(self, name):
        if not isinstance(name, str):
            return False
        return bool(lib.dnnprov_config_selects(self._live_config(), name.encode("utf-8")))

    def _failed(self, rc):
        """Handles a recording call's non-zero rc: DNNPROV_REFUSED warns once
        per refused name (the record was written); anything else raises."""
        if rc != REFUSED:
            raise _native.last_error(rc)
        detail, names = _native.refusal()
        fresh = [n for n in names if n not in self._warned]
        if fresh or not names:
            self._warned.update(names)
            warnings.warn(UndeclaredWarning(f"dnnprov: task {self._id}: {detail}", names), stacklevel=3)

    def _settle(self):
        """After the first epoch: refusals no longer raise unless strict."""
        self._early = False
        if not self._strict:
            lib.dnnprov_task_strict(self._handle, 0)

    def _live_config(self):
        if self._config is None:
            raise StateError(ESTATE, f"task {self._id} is closed")
        return self._config

    # ---- the value array --------------------------------------------------

    def _grow(self, capacity):
        """(Re)allocates the value array; every slot's name must be set again."""
        self._array = (_native.Value * capacity)()
        self._slots = list(self._array)
        self._unions = [slot.as_ for slot in self._slots]
        self._slot_keys = [None] * capacity
        self._slot_types = [None] * capacity

    def _name(self, what, key):
        """The address of the cached UTF-8 copy of a name."""
        data = _text(what + " name", key, key)
        address = ctypes.cast(data, ctypes.c_void_p).value
        self._names[key] = (data, address)
        return address

    def _fill(self, what, values):
        """Writes a dict of values into the array; returns the count and the
        text bytes that must stay alive during the call."""
        n = len(values)
        if n > len(self._slots):
            self._grow(max(n, 2 * len(self._slots)))
        if len(self._names) > _NAME_CACHE_MAX:
            # The slots point into the cache: forget them with it (never
            # during a fill, whose earlier slots still need their names).
            self._names = {}
            self._slot_keys = [None] * len(self._slots)
        slots, unions, keys, types = self._slots, self._unions, self._slot_keys, self._slot_types
        keep = None
        i = 0
        for key, value in values.items():
            if keys[i] != key:
                cached = self._names.get(key)
                slots[i].name = cached[1] if cached else self._name(what, key)
                keys[i] = key
            if type(value) is float:  # the per-epoch case: no conversion
                tag = REAL
                unions[i].r = value
            else:
                tag, payload = _scalar(what, key, value)
                if tag == REAL:
                    unions[i].r = payload
                elif tag == INT:
                    unions[i].i = payload
                elif tag == TEXT:
                    keep = keep or []
                    keep.append(payload)
                    unions[i].s = ctypes.cast(payload, ctypes.c_void_p).value
            if types[i] != tag:
                slots[i].type = tag
                types[i] = tag
            i += 1
        return n, keep

    def _live(self):
        handle = self._handle
        if handle is None:
            raise StateError(ESTATE, f"task {self._id} is closed")
        return handle

    def _add_facts(self, facts):
        array, keep = _value_array("run fact", facts)
        with self._lock:
            rc = lib.dnnprov_task_facts(self._live(), array, len(facts))
            if rc:
                raise _native.last_error(rc)

    # ---- records ----------------------------------------------------------

    def tag(self, **tags):
        """Tags the run: each key takes its value (None removes the key).
        Allowed once the task has begun, also after its end; a tag never
        changes the task's status, and the latest value of a key wins."""
        array, keep = _value_array("tag", tags)
        with self._lock:
            rc = lib.dnnprov_task_tag(self._live(), array, len(tags))
            if rc:
                raise _native.last_error(rc)

    def epoch(self, n, /, elapsed=None, **metrics):
        """Records epoch n's metrics (numbers).  elapsed is the epoch's
        duration in seconds; None lets the library measure the time since
        the previous epoch record (or the open).  Re-recording an epoch
        replaces it."""
        if type(n) is not int or not _INT64_MIN <= n <= _INT64_MAX:
            n = _epoch_number(n)
        elapsed = _NAN if elapsed is None else float(elapsed)
        with self._lock:
            count, keep = self._fill("metric", metrics)
            rc = lib.dnnprov_task_epoch(self._live(), n, elapsed, self._array, count)
            if rc:
                self._failed(rc)
            if self._early:
                self._settle()

    def adapt(self, n, /, **hyperparameters):
        """Records that hyperparameters took new values at the start of
        epoch n: one adaptation record per keyword, in order, e.g.
        adapt(5, LEARNING_RATE=0.01).  The old value is the last one this
        handle recorded.  Dropped by the library when the config turns
        adaptation off or does not select the hyperparameter."""
        if not hyperparameters:
            raise TypeError("adapt() needs a hyperparameter, e.g. adapt(5, LEARNING_RATE=0.01)")
        n = _epoch_number(n)
        with self._lock:
            for name, value in hyperparameters.items():
                _, keep = self._fill("hyperparameter", {name: value})
                rc = lib.dnnprov_task_adapt(self._live(), n, self._array)
                if rc:
                    self._failed(rc)

    def layers(self, layers):
        """Records layer facts (the original's iLayers): a list of
        (name, kind, value) tuples or of dicts with those keys, e.g.
        [("relu1", "activation", "ReLU"), ("drop1", "dropout", 0.5)]."""
        facts = []
        for fact in layers:
            if isinstance(fact, dict):
                fact = (fact["name"], fact["kind"], fact["value"])
            name, kind, value = fact
            facts.append((_text("layer", name, name), _text("layer kind", name, kind),
                          _scalar("layer", name, value)))
        array = (_native.Layer * len(facts))()
        for slot, (name, kind, (tag, payload)) in zip(array, facts):
            slot.name = name
            slot.kind = kind
            slot.value.type = tag
            if tag == REAL:
                slot.value.as_.r = payload
            elif tag == INT:
                slot.value.as_.i = payload
            elif tag == TEXT:
                slot.value.as_.s = ctypes.cast(payload, ctypes.c_void_p).value
        with self._lock:
            rc = lib.dnnprov_task_layers(self._live(), array, len(facts))
            if rc:
                raise _native.last_error(rc)

    def test(self, **metrics):
        """Records test-set metrics (numbers)."""
        with self._lock:
            n, keep = self._fill("metric", metrics)
            rc = lib.dnnprov_task_test(self._live(), self._array, n)
            if rc:
                self._failed(rc)

    def element(self, transformation, set, values):
        """Records one element of a user-defined transformation's set:
        values is a dict attribute -> value, each attribute declared in
        the config with the value's type."""
        tname = _text("transformation", transformation, transformation)
        sname = _text("set", set, set)
        with self._lock:
            n, keep = self._fill("attribute", values)
            rc = lib.dnnprov_task_element(self._live(), tname, sname, self._array, n)
            if rc:
                self._failed(rc)

    def _entity(self, direction, role, path, quick, fingerprint, size):
        role_b = _text("entity role", role, role)
        if fingerprint is not None:
            if quick:
                raise ValueError("quick fingerprints a file here: it does not go with fingerprint=")
            location = _text("entity location", role, str(path))
            with self._lock:
                rc = lib.dnnprov_task_entity(self._live(), direction.encode(), role_b, location,
                                             _text("fingerprint", role, fingerprint),
                                             -1 if size is None else int(size))
        else:
            if size is not None:
                raise ValueError("size goes with fingerprint=: a file's size is measured")
            call = lib.dnnprov_task_used if direction == "used" else lib.dnnprov_task_generated
            with self._lock:
                rc = call(self._live(), role_b, os.fsencode(path), _native.QUICK if quick else 0)
        if rc:
            raise _native.last_error(rc)

    def used(self, role, path, *, quick=False, fingerprint=None, size=None):
        """Records that the task read the file or folder at path (a
        dataset) in `role` ("train_data", "test_data", or any name):
        fingerprinted now, SHA-256 of its content, or with quick=True by
        size, modification time and sampled blocks (docs/LINEAGE.md).  For
        a location that is no local file (a URI), give its fingerprint=
        ("sha256:..." as dnnprov.fingerprint() writes them) and size=.
        Allowed once the task has begun, also after its end."""
        self._entity("used", role, path, quick, fingerprint, size)

    def generated(self, role, path, *, quick=False, fingerprint=None, size=None):
        """Records that the task wrote the file or folder at path (a model,
        a checkpoint, a split) in `role`; as used()."""
        self._entity("generated", role, path, quick, fingerprint, size)

    def end(self, status="FINISHED", message=None):
        """Records the task's end: status FINISHED, FAILED, KILLED or PRUNED
        (stopped early by a hyperparameter search), with an optional
        message.  Nothing can be recorded after it."""
        code = _STATUS.get(str(status).upper())
        if code is None:
            raise ValueError(f"status must be FINISHED, FAILED, KILLED or PRUNED, not {status!r}")
        text = None if message is None else _message(str(message))
        with self._lock:
            rc = lib.dnnprov_task_end(self._live(), code, text)
            if rc:
                raise _native.last_error(rc)
            self._ended = True

    def advice(self, **options):
        """Whether this task is worth continuing, judged by the index of the
        experiment file against every finished run of the dataflow at its
        current epoch (`dnnprov advise`; docs/STEERING.md): a dict with
        "decision" ("continue", "stop" or "too little history"), the
        evidence, and "reason", one sentence.  The index is what the
        indexer has seen: an epoch just recorded counts once indexed.
        Options as advise's: metric, goal, history, keep, where."""
        return _query.advice(self._config_path, self._id, **options)

    def sync(self):
        """Writes what is buffered and fdatasyncs the current segment."""
        with self._lock:
            rc = lib.dnnprov_task_sync(self._live())
            if rc:
                raise _native.last_error(rc)

    def close(self):
        """Seals the segment and frees the handle; a no-op when closed.  A task
        closed without end() stays RUNNING, ready to be resumed."""
        _LIVE.discard(self)
        with self._lock:
            handle, self._handle = self._handle, None
            error = None
            if handle is not None:
                rc = lib.dnnprov_task_close(handle)
                if rc:
                    error = _native.last_error(rc)
            self._free_config()
        if error is not None:
            raise error

    def _free_config(self):
        config, self._config = self._config, None
        if config is not None:
            lib.dnnprov_config_free(config)

    # ---- context manager --------------------------------------------------

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            # Only the Task that began (or resumed) the task ends it: one
            # opened with begin=False adds records and leaves its state.
            if self._began and not self._ended and self._handle is not None:
                status, message = _ending(exc)
                try:
                    self.end(status, message)
                except Error:
                    if exc is None:
                        raise
                    # The training's own exception matters more than a
                    # failed end record; it propagates unmasked.
        finally:
            try:
                self.close()
            except Error:
                if exc is None:
                    raise
        return False

    def __del__(self):
        # No end record: an abandoned task looks like a crashed one.
        if getattr(self, "_handle", None) is not None:
            try:
                self.close()
            except Exception:  # nobody to tell, maybe at interpreter exit
                pass

    def __repr__(self):
        state = "closed" if self._handle is None else "ended" if self._ended else "open"
        return f"<dnnprov.Task {self._id!r} {state}>"


def _ending(exc):
    """(status, message) for a `with` block left with exception exc (or None)."""
    if exc is None:
        return "FINISHED", None
    if isinstance(exc, KeyboardInterrupt):
        return "KILLED", _cut(describe_exception(exc))
    if isinstance(exc, SystemExit) and exc.code in (None, 0):
        return "FINISHED", None
    return "FAILED", _cut(describe_exception(exc))


def fingerprint(path, quick=False):
    """The fingerprint of the file or folder at path, as a task records it:
    "sha256:<hex>", or "quick:<hex>" with quick=True (docs/LINEAGE.md)."""
    out = ctypes.create_string_buffer(_native.FINGERPRINT_MAX)
    rc = lib.dnnprov_fingerprint(os.fsencode(path), _native.QUICK if quick else 0, out, len(out), None)
    if rc:
        raise _native.last_error(rc)
    return out.value.decode("ascii")


def tag(config, task_id, **tags):
    """Tags task task_id of config's dataflow from any process, while
    another process records it or after it ended (a note segment of its
    own, docs/FORMAT.md).  Each key takes its value; None removes it."""
    array, keep = _value_array("tag", tags)
    cfg = ctypes.c_void_p()
    rc = lib.dnnprov_config_load(os.fsencode(config), ctypes.byref(cfg))
    if rc:
        raise _native.last_error(rc)
    try:
        rc = lib.dnnprov_tag(cfg, _text("task id", task_id, task_id), array, len(tags))
        if rc:
            raise _native.last_error(rc)
    finally:
        lib.dnnprov_config_free(cfg)
