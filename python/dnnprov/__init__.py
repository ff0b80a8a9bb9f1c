"""dnnprov: provenance capture for deep-learning training, from Python.

A ctypes binding over libdnnprov.so (include/dnnprov.h); no compilation.

    import dnnprov
    with dnnprov.Task("exp.yaml", {"OPTIMIZER_NAME": "SGD", "LEARNING_RATE": 0.1}) as t:
        for epoch in range(1, 11):
            ...
            t.epoch(epoch, loss=loss, accuracy=acc)
        t.test(loss=test_loss, accuracy=test_acc)

dnnprov.runs(), compare(), curve() and the other questions, and
dnnprov.sql(), answer through the library with pandas DataFrames
(dnnprov.query); dnnprov.connect() gives a sqlite3 connection over the
live index.

Task.tag() and dnnprov.tag() tag a run (also after it ended); a Task
records run facts at its begin (command, git commit and whether the tree
was dirty, Python and framework versions, accelerator) unless the
experiment file says `facts: false`.

Task.used() and Task.generated() record the datasets and models a task
read and wrote, identified by their content's fingerprint, so that
dnnprov.lineage() walks from a model back to its raw data
(docs/LINEAGE.md).

dnnprov.torch records a PyTorch training from its model and optimizer;
dnnprov.keras and dnnprov.skorch have callbacks, dnnprov.optuna records
each trial of a study.  A name the experiment file does not declare raises
UndeclaredError at the begin and the first epoch, then UndeclaredWarning:
the run goes on.  The library is looked for in $DNNPROV_LIB, then the one
inside a package installed from the wheel (`make wheel`) or the one `make
install` put beside it, or (in the source tree) the build tree's, then the
system's; see python/README.md.
"""

from . import _native
from .errors import (EINVAL, ENOMEM, EIO, ENOSPC, ECONFIG, ETYPE, ESTATE, ECORRUPT,
                     ETRUNCATED, EVERSION, ENOTFOUND, ELOCKED, EINDEX, EQUERY, EUNDECLARED,
                     ConfigError, Error, InvalidArgumentError, LockedError, NoSpaceError,
                     StateError, UndeclaredError, UndeclaredWarning, ValueTypeError)
from . import query as _query
from .query import QUESTIONS, ask, command, connect, extension_path, questions, sql
from .task import Task, fingerprint, tag

# Shown as dnnprov.Error, dnnprov.Task in tracebacks and reprs, where users
# meet them, rather than as the private modules that define them.
for _public in (Task, Error, ConfigError, InvalidArgumentError, ValueTypeError, NoSpaceError,
                StateError, LockedError, UndeclaredError, UndeclaredWarning):
    _public.__module__ = __name__
del _public

__version__ = "0.1.0"
library_path = _native.path
"""The libdnnprov.so this process loaded."""

__all__ = ["Task", "Error", "ConfigError", "InvalidArgumentError", "ValueTypeError",
           "NoSpaceError", "StateError", "LockedError", "UndeclaredError", "UndeclaredWarning", "library_path",
           "EINVAL", "ENOMEM", "EIO", "ENOSPC", "ECONFIG", "ETYPE", "ESTATE", "ECORRUPT",
           "ETRUNCATED", "EVERSION", "ENOTFOUND", "ELOCKED", "EINDEX", "EQUERY", "EUNDECLARED",
           "connect", "sql", "command", "ask", "questions", "QUESTIONS", "extension_path", "tag",
           "fingerprint"]

# The questions (runs, compare, effect, ...), as many as the library's
# registry declares: dnnprov.runs is dnnprov.query.runs.
for _name in QUESTIONS:
    globals()[_name] = getattr(_query, _name)
    __all__.append(_name)
del _name
