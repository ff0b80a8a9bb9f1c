"""dnnprov: provenance capture for deep-learning training, from Python.

A ctypes binding over libdnnprov.so (include/dnnprov.h); no compilation.

    import dnnprov
    with dnnprov.Task("exp.yaml", {"OPTIMIZER_NAME": "SGD", "LEARNING_RATE": 0.1}) as t:
        for epoch in range(1, 11):
            ...
            t.epoch(epoch, loss=loss, accuracy=acc)
        t.test(loss=test_loss, accuracy=test_acc)

dnnprov.connect() gives a sqlite3 connection over the live index, and
dnnprov.sql(), runs(), compare(), curve() and the other commands answer
with pandas DataFrames (dnnprov.query).

Task.tag() and dnnprov.tag() tag a run (also after it ended); a Task
records run facts at its begin (command, git commit and whether the tree
was dirty, Python and framework versions, accelerator) unless the
experiment file says `facts: false`.

dnnprov.torch records a PyTorch training from its model and optimizer;
dnnprov.keras has a Keras callback.  The library is looked for in
$DNNPROV_LIB, then (installed) the library `make install` put beside this
package or (in the source tree) the build tree's, then the system's; see
python/README.md.
"""

from . import _native
from .errors import (EINVAL, ENOMEM, EIO, ENOSPC, ECONFIG, ETYPE, ESTATE, ECORRUPT,
                     ETRUNCATED, EVERSION, ENOTFOUND, ELOCKED, EINDEX, EQUERY, EUNDECLARED,
                     ConfigError, Error, InvalidArgumentError, LockedError, NoSpaceError,
                     StateError, UndeclaredError, ValueTypeError)
from .query import (adaptations, command, compare, connect, curve, dataflows, describe, effect,
                    elements, extension_path, runs, sql, test)
from .task import Task, tag

# Shown as dnnprov.Error, dnnprov.Task in tracebacks and reprs, where users
# meet them, rather than as the private modules that define them.
for _public in (Task, Error, ConfigError, InvalidArgumentError, ValueTypeError, NoSpaceError,
                StateError, LockedError, UndeclaredError):
    _public.__module__ = __name__
del _public

__version__ = "0.1.0"
library_path = _native.path
"""The libdnnprov.so this process loaded."""

__all__ = ["Task", "Error", "ConfigError", "InvalidArgumentError", "ValueTypeError",
           "NoSpaceError", "StateError", "LockedError", "UndeclaredError", "library_path",
           "EINVAL", "ENOMEM", "EIO", "ENOSPC", "ECONFIG", "ETYPE", "ESTATE", "ECORRUPT",
           "ETRUNCATED", "EVERSION", "ENOTFOUND", "ELOCKED", "EINDEX", "EQUERY", "EUNDECLARED",
           "connect", "sql", "command", "dataflows", "describe", "runs", "compare", "effect",
           "curve", "adaptations", "test", "elements", "extension_path", "tag"]
