"""dnnprov.dfa: dfa-lib-python's classes, recording in-process through
libdnnprov, with no server.

A program written for DfAnalyzer changes its imports only:

    from dnnprov.dfa import (Dataflow, Transformation, Set, SetType, Attribute,
                             AttributeType, Task, DataSet, Element, Dependency)

and records into dnnprov's logs what `dnnprov receive --dfanalyzer` would
record of the same program (docs/DFANALYZER.md has the mapping, the same
for both routes): one exec is one run; TrainingModel's itrainingmodel,
ilayers and otrainingmodel sets are the begin's hyperparameters, layers and
epochs; oadaptation adaptations, otestingmodel tests; the sets of your own
transformations are elements.

Where to record comes from the environment, as DFA_URL does for the
original: DNNPROV_CONFIG names the experiment file.  Unset, it is
`<dataflow_tag>.yaml` in the working folder: Dataflow.save() writes it from
the declaration when it does not exist, and refuses (ConfigError) to
replace one that says something else.

Tags keep the spelling you give them (dfa-lib-python lower-cased them for
its database), so that they match your experiment file's names.  Element
values keep their Python types; a text that holds a number is read as one
for a NUMERIC attribute, as the original's str() of every value required.

Differences from dfa-lib-python, on purpose: DataSets added to a Task are
all recorded at its next begin(), save() or end() (the original kept only
the last one added); nothing is sent anywhere, so nothing waits on a
network; an undeclared set, or an element with a wrong number of values,
raises ValueError naming it instead of an HTTP error printed and ignored.
"""

import enum
import json
import math
import os

from .errors import ConfigError, ECONFIG
from .task import Task as _Task

__all__ = ["Dataflow", "Transformation", "Set", "SetType", "Attribute", "AttributeType", "Task", "TaskStatus",
           "DataSet", "Element", "Dependency"]


class AttributeType(enum.Enum):
    TEXT = "TEXT"
    NUMERIC = "NUMERIC"
    FILE = "FILE"
    RDFILE = "RDFILE"


class SetType(enum.Enum):
    INPUT = "INPUT"
    OUTPUT = "OUTPUT"


class TaskStatus(enum.Enum):
    READY = "READY"
    RUNNING = "RUNNING"
    FINISHED = "FINISHED"


def _is(value, cls, what):
    if not isinstance(value, cls):
        raise TypeError(f"{what} must be a {cls.__name__}, not {type(value).__name__}")
    return value


class Attribute:
    """A typed attribute of a set."""

    def __init__(self, name, type):
        self.name = _is(name, str, "an attribute's name")
        self.type = _is(type, AttributeType, "an attribute's type")


class Set:
    """A transformation's input or output set of attributes.  `dependency`
    names the transformation whose output it is."""

    def __init__(self, tag, type, attributes, extractors=None, dependency=""):
        self.tag = _is(tag, str, "a set's tag")
        self.type = _is(type, SetType, "a set's type")
        self.attributes = [_is(a, Attribute, "an attribute") for a in _is(attributes, list, "attributes")]
        self.dependency = dependency or ""

    def set_type(self, type):
        self.type = _is(type, SetType, "a set's type")

    def add_attribute(self, attribute):
        self.attributes.append(_is(attribute, Attribute, "an attribute"))

    def _declared(self):
        d = {"tag": self.tag, "type": self.type.value,
             "attributes": [{"name": a.name, "type": a.type.value} for a in self.attributes]}
        if self.dependency:
            d["dependency"] = self.dependency
        return d


class Transformation:
    """A step of the dataflow with its sets."""

    def __init__(self, tag, sets=None):
        self.tag = _is(tag, str, "a transformation's tag")
        self.sets = []
        self.set_sets(sets or [])

    def set_sets(self, sets):
        for s in _is(sets, list, "sets"):
            self.add_set(s)

    def add_set(self, set):
        # A copy, as the original took the set's specification when added:
        # Keras-Prov reuses one Set object as an output, then as an input.
        self.sets.append(_is(set, Set, "a set")._declared())


class Dataflow:
    """A dataflow's specification.  save() declares it: it becomes (or is
    recorded against) the experiment file, see the module's docstring."""

    def __init__(self, tag, transformations=None):
        self.tag = _is(tag, str, "a dataflow's tag")
        self.transformations = []
        for t in transformations or []:
            self.add_transformation(t)

    def add_transformation(self, transformation):
        t = _is(transformation, Transformation, "a transformation")
        self.transformations.append({"tag": t.tag, "sets": [dict(s) for s in t.sets]})

    def save(self):
        _declare(self.tag, self.transformations)


class Element:
    """One tuple of values, in the order of its set's attributes."""

    def __init__(self, values):
        self.values = list(_is(values, list, "an element's values"))


class DataSet:
    """Elements of one set, for a task to record."""

    def __init__(self, tag, elements):
        self.tag = _is(tag, str, "a dataset's tag")
        self.elements = [_is(e, Element, "an element").values for e in _is(elements, list, "elements")]


class Dependency:
    """The tasks a task depends on (kept for compatibility; the dataflow's
    specification says how its transformations depend on each other)."""

    def __init__(self, tags, ids):
        self.tags = list(tags)
        self.ids = [str(i) for i in ids]


_OPTIONS = ("sub_id", "dependency", "workspace", "resource", "output", "error")


class Task:
    """A task of a transformation: Task(id, dataflow_tag, transformation_tag)
    as in Keras-Prov's README, or Task(id, dataflow_tag, exec_tag,
    transformation_tag) as dfa-lib-python now has it, told apart by the
    number of positional arguments (exec_tag may also be given by keyword).
    Tasks of one exec are one run; without an exec, the program's tasks
    are one run."""

    def __init__(self, *args, **kw):
        if "identifier" in kw:
            kw["id"] = kw.pop("identifier")
        four = len(args) >= 4 and "transformation_tag" not in kw
        names = ["id", "dataflow_tag"] + (["exec_tag"] if four else []) + ["transformation_tag", *_OPTIONS]
        if len(args) > len(names):
            raise TypeError(f"Task takes at most {len(names)} positional arguments, not {len(args)}")
        for name, value in zip(names, args):
            if name in kw:
                raise TypeError(f"Task got two values for {name!r}")
            kw[name] = value
        unknown = set(kw) - {"id", "dataflow_tag", "exec_tag", "transformation_tag", *_OPTIONS}
        missing = {"id", "dataflow_tag", "transformation_tag"} - set(kw)
        if unknown or missing:
            raise TypeError(f"Task: unknown argument {sorted(unknown)}" if unknown else
                            f"Task needs {', '.join(sorted(missing))}")
        self.id = str(kw["id"])
        self.dataflow_tag = _is(kw["dataflow_tag"], str, "a dataflow's tag")
        self.exec_tag = kw.get("exec_tag") or None
        self.transformation_tag = _is(kw["transformation_tag"], str, "a transformation's tag")
        self.workspace, self.resource = kw.get("workspace", ""), kw.get("resource", "")
        self.error = kw.get("error", "")
        self.status = TaskStatus.READY
        self._sets = []

    def add_dependency(self, dependency):
        _is(dependency, Dependency, "a dependency")

    def set_datasets(self, datasets):
        for d in _is(datasets, list, "datasets"):
            self.add_dataset(d)

    def add_dataset(self, dataset):
        self._sets.append(_is(dataset, DataSet, "a dataset"))

    def set_status(self, status):
        self.status = _is(status, TaskStatus, "a task status")

    def begin(self):
        self.status = TaskStatus.RUNNING
        self.save()

    def end(self):
        self.status = TaskStatus.FINISHED
        self.save()

    def save(self):
        sets, self._sets = self._sets, []
        _record(self, sets)


# ---- where to record: the experiment file ----------------------------------------------

_BUILTIN_HYPERPARAMETERS = ("OPTIMIZER_NAME", "LEARNING_RATE", "DECAY", "MOMENTUM", "NUM_EPOCHS", "BATCH_SIZE",
                            "NUM_LAYERS")
_BUILTIN_TRANSFORMATIONS = ("TrainingModel", "Adaptation", "TestingModel")
_YAML_TYPE = {"NUMERIC": "numeric", "TEXT": "text", "FILE": "file", "RDFILE": "file"}

_declarations = {}  # dataflow tag, lower-cased -> [transformations]
_runs = {}          # (dataflow tag lower-cased, exec or None) -> _Run


def _fold(s):
    return s.lower()


def _timestamp(name):
    return _fold(name).endswith("timestamp")


def config_path(dataflow_tag):
    """The experiment file a dataflow records into: $DNNPROV_CONFIG, else
    <dataflow_tag>.yaml in the working folder."""
    return os.environ.get("DNNPROV_CONFIG") or os.path.join(os.getcwd(), f"{dataflow_tag}.yaml")


def _find_set(transformations, tf, tag):
    for t in transformations:
        if _fold(t["tag"]) == _fold(tf):
            for s in t["sets"]:
                if _fold(s["tag"]) == _fold(tag):
                    return s
    return None


def _quoted(s):
    return json.dumps(s)  # a JSON string is a YAML double-quoted scalar


def experiment_yaml(tag, transformations):
    """The experiment file a declaration makes (the same rules as `dnnprov
    receive --log-dir`'s, docs/DFANALYZER.md)."""
    lines = ["# Written by dnnprov.dfa from the dataflow the program declared (Dataflow.save()).",
             f"dataflow: {_quoted(tag)}"]
    hyps = []
    s = _find_set(transformations, "TrainingModel", "iTrainingModel")
    for a in s["attributes"] if s else []:
        if _timestamp(a["name"]):
            continue
        builtin = [b for b in _BUILTIN_HYPERPARAMETERS if b == a["name"].upper()]
        hyps.append(f"{builtin[0]}: true" if builtin else f"{_quoted(a['name'])}: {_YAML_TYPE[a['type']]}")
    lines.append("hyperparameters: {" + ", ".join(hyps) + "}")
    metrics = []
    for tf, tag_ in (("TrainingModel", "oTrainingModel"), ("TestingModel", "oTestingModel")):
        s = _find_set(transformations, tf, tag_)
        for a in s["attributes"] if s else []:
            n = a["name"]
            if _timestamp(n) or _fold(n) in ("elapsed_time", "epoch") or _fold(n) in map(_fold, metrics):
                continue
            metrics.append(n)
    lines.append("metrics: [" + ", ".join(map(_quoted, metrics)) + "]")
    lines.append("val_metrics: false")
    lines.append(f"adaptation: {'true' if _find_set(transformations, 'Adaptation', 'oAdaptation') else 'false'}")
    own = [t for t in transformations
           if _fold(t["tag"]) not in map(_fold, _BUILTIN_TRANSFORMATIONS) and any(s["attributes"] for s in t["sets"])]
    if own:
        lines.append("transformations:")
    for t in own:
        lines.append(f"  {_quoted(t['tag'])}:")
        deps = []
        for s in t["sets"]:
            d = s.get("dependency")
            if not d or _fold(d) == _fold(t["tag"]):
                continue
            builtin = [b for b in _BUILTIN_TRANSFORMATIONS if _fold(b) == _fold(d)]
            names = builtin or [o["tag"] for o in own if _fold(o["tag"]) == _fold(d)]
            if names and names[0] not in deps:
                deps.append(names[0])
        if deps:
            lines.append("    depends_on: [" + ", ".join(map(_quoted, deps)) + "]")
        for direction in ("INPUT", "OUTPUT"):
            sets = [s for s in t["sets"] if s["type"] == direction and s["attributes"]]
            if sets:
                lines.append(f"    {direction.lower()}:")
            for s in sets:
                attrs = ", ".join(f"{_quoted(a['name'])}: {_YAML_TYPE[a['type']]}" for a in s["attributes"])
                lines.append(f"      {_quoted(s['tag'])}: {{{attrs}}}")
    return "\n".join(lines) + "\n"


def write_experiment(path, text):
    """Writes an experiment file that does not exist yet; one that exists
    must say the same (it is never replaced)."""
    try:
        with open(path) as f:
            existing = f.read()
    except FileNotFoundError:
        with open(path, "x") as f:
            f.write(text)
        return
    if existing != text:
        raise ConfigError(ECONFIG, f"{path} exists and says something else than the dataflow declared here; "
                                   "set DNNPROV_CONFIG to record into it, or move it away to have it written again")


def _declare(tag, transformations):
    known = _declarations.get(_fold(tag), [])
    merged = [t for t in known if _fold(t["tag"]) not in {_fold(n["tag"]) for n in transformations}]
    merged += [json.loads(json.dumps(t)) for t in transformations]
    if not os.environ.get("DNNPROV_CONFIG"):
        write_experiment(config_path(tag), experiment_yaml(tag, merged))
    _declarations[_fold(tag)] = merged
    # A program declares its dataflow first: its tasks without exec make a
    # new run, as `dnnprov receive` does.
    _runs.pop((_fold(tag), None), None)


# ---- recording ----------------------------------------------------------------------------

def _number(value, where):
    if value is None or isinstance(value, bool):
        return None if value is None else int(value)
    if isinstance(value, (int, float)):
        return value
    item = getattr(value, "item", None)
    if callable(item):
        return _number(item(), where)
    text = str(value).strip()
    if text in ("", "None", "null"):
        return None
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"{where}: {value!r} is not a number") from None


class _Run:
    def __init__(self, config, exec_tag):
        self.config, self.exec_tag = config, exec_tag
        self.task = None
        self.ids = {}
        self.training_seen = False
        self.pending_layers = []
        self.phase = "new"
        self.resume = False
        self.last_epoch = 0

    def start(self, hyperparameters, label):
        values = hyperparameters or {}
        if self.task is None:
            # An exec names its run: a later program of the same exec goes on
            # with it (resume begins a task that does not exist yet).
            self.task = _Task(self.config, values, self.exec_tag, label=None if self.exec_tag else label[:48],
                              resume=self.exec_tag is not None)
        else:
            self.task.close()
            self.task = _Task(self.config, values, self.task.id, resume=True)
        self.phase, self.resume = "running", False
        if self.pending_layers:
            self.task.layers(self.pending_layers)
            self.pending_layers = []


def _plan(task, sets, transformations):
    """(kind, payload) per element, checked whole before anything is recorded."""
    actions = []
    for ds in sets:
        s = _find_set(transformations, task.transformation_tag, ds.tag)
        if s is None:
            raise ValueError(f"transformation {task.transformation_tag!r} of dataflow {task.dataflow_tag!r} "
                             f"declares no set {ds.tag!r}")
        role = _fold(s["tag"])
        tf = _fold(task.transformation_tag)
        for values in ds.elements:
            if len(values) != len(s["attributes"]):
                raise ValueError(f"set {ds.tag!r} has {len(s['attributes'])} attributes, and the element "
                                 f"{values!r} {len(values)} values")
            named = [(a["name"], a["type"], v) for a, v in zip(s["attributes"], values) if not (
                tf in ("trainingmodel", "adaptation", "testingmodel") and _timestamp(a["name"]))]
            where = f"set {ds.tag!r}"
            if tf == "trainingmodel" and role == "itrainingmodel":
                hyps = {}
                for n, t, v in named:
                    builtin = n.upper() in _BUILTIN_HYPERPARAMETERS and n.upper()
                    numeric = builtin != "OPTIMIZER_NAME" if builtin else t == "NUMERIC"
                    v = _number(v, where) if numeric else None if v is None or str(v) in ("None", "null") else str(v)
                    if v is not None:
                        hyps[builtin or n] = v
                actions.append(("hyperparameters", hyps))
            elif tf == "trainingmodel" and role == "ilayers":
                d = {_fold(n): v for n, t, v in named}
                value = d.get("value")
                try:
                    value = _number(value, where) if isinstance(value, str) else value
                except ValueError:
                    pass
                actions.append(("layer", (str(d["name"]), str(d.get("attribute_type", d.get("kind"))), value)))
            elif tf == "trainingmodel" and role == "otrainingmodel":
                epoch, elapsed, metrics = None, None, {}
                for n, t, v in named:
                    v = _number(v, where)
                    if _fold(n) == "epoch":
                        epoch = None if v is None else int(v) + 1  # Keras counts from 0
                    elif _fold(n) == "elapsed_time":
                        elapsed = v
                    elif v is not None:
                        metrics[n] = v
                actions.append(("epoch", (epoch, elapsed, metrics)))
            elif tf == "adaptation" and role == "oadaptation":
                d = {_fold(n): _number(v, where) for n, t, v in named}
                actions.append(("adapt", (int(d["epoch_id"]) + 1, d["new_lrate"])))
            elif tf == "testingmodel" and role == "otestingmodel":
                actions.append(("test", {n: _number(v, where) for n, t, v in named if _number(v, where) is not None}))
            elif tf in ("adaptation", "testingmodel"):
                continue  # the training's output flowing in
            else:
                vals = {}
                for n, t, v in named:
                    v = _number(v, where) if t == "NUMERIC" else (None if v is None else str(v))
                    if v is not None and not (isinstance(v, float) and math.isnan(v) and t != "NUMERIC"):
                        vals[n] = v
                actions.append(("element", (task.transformation_tag, ds.tag, vals)))
                # A FILE value names a file of this program: the entity it
                # is, used by an input set, generated by an output set
                # (docs/LINEAGE.md).  A path that is no file here stays a
                # value only.
                direction = "used" if str(s.get("type", "")).upper() == "INPUT" else "generated"
                for n, t, v in named:
                    if t in ("FILE", "RDFILE") and isinstance(v, str) and v and os.path.exists(v):
                        actions.append(("entity", (direction, _role(n), v)))
    return actions


def _role(name):
    """An attribute's name as an entity's role (a name: letters, digits, _)."""
    role = "".join(c if c.isalnum() or c in "_.-" else "_" for c in name)
    return role if role[:1].isalpha() or role[:1] == "_" else "_" + role


def _record(task, sets):
    key = (_fold(task.dataflow_tag), task.exec_tag)
    transformations = _declarations.get(key[0])
    if transformations is None:
        raise ValueError(f"dataflow {task.dataflow_tag!r} was not declared in this program: save its Dataflow "
                         "first (Dataflow.save())")
    actions = _plan(task, sets, transformations)
    run = _runs.get(key)
    was = run.ids.get(task.id) if run else None
    if run is None or (task.exec_tag is None and was == "FINISHED"):
        run = _runs[key] = _Run(config_path(task.dataflow_tag), task.exec_tag)
        was = None
    training = _fold(task.transformation_tag) == "trainingmodel"
    ends = task.status == TaskStatus.FINISHED
    if training and was != "RUNNING" and run.phase == "ended":
        run.resume = True
    hyps = [p for k, p in actions if k == "hyperparameters"]
    if hyps and not (run.phase == "new" or run.resume):
        raise ValueError(f"run {run.task.id!r} recorded its hyperparameters when it began: a value that changes "
                         "during training is an adaptation (oAdaptation)")
    if any(k != "test" and k != "element" for k, _ in actions) and run.phase == "ended" and not run.resume:
        raise ValueError(f"run {run.task.id!r} has ended: training records need TrainingModel to begin again")
    run.ids[task.id] = "FINISHED" if ends else "RUNNING"
    ending = ends and (training or (not run.training_seen and "RUNNING" not in run.ids.values()))
    run.training_seen |= training
    if (run.phase == "new" or run.resume) and all(k == "layer" for k, _ in actions) and not ending:
        run.pending_layers += [p for _, p in actions]
        return
    if not actions and not ending:
        return
    if run.phase == "new" or run.resume:
        run.start(hyps[0] if hyps else None, task.transformation_tag)
    t = run.task
    for kind, p in actions:
        if kind == "layer":
            t.layers([p])
        elif kind == "epoch":
            epoch, elapsed, metrics = p
            epoch = epoch if epoch is not None else run.last_epoch + 1
            t.epoch(epoch, elapsed=elapsed, **metrics)
            run.last_epoch = max(run.last_epoch, epoch)
        elif kind == "adapt":
            t.adapt(p[0], LEARNING_RATE=p[1])
        elif kind == "test":
            t.test(**p)
        elif kind == "element":
            t.element(*p)
        elif kind == "entity":
            direction, role, path = p
            (t.used if direction == "used" else t.generated)(role, path)
    if ending and run.phase == "running":
        t.end("FINISHED", task.error or None)
        run.phase = "ended"
