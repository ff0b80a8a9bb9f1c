"""Exceptions raised when libdnnprov reports a failure.

Every C function returns 0 or a negative DNNPROV_E* code and leaves a
sentence about the failure in dnnprov_errmsg().  The binding turns both into
one exception, so a caller sees the library's own words ("task id 'a/b'
contains a path separator") rather than a bare number.  The codes a Python
programmer would expect to catch as built-in exceptions also derive from
them: a value of the wrong type is a TypeError, a bad argument a ValueError,
a full disk an OSError.
"""

# The DNNPROV_E* codes of include/dnnprov.h.
EINVAL = -1
ENOMEM = -2
EIO = -3
ENOSPC = -4
ECONFIG = -5
ETYPE = -6
ESTATE = -7
ECORRUPT = -8
ETRUNCATED = -9
EVERSION = -10
ENOTFOUND = -11
ELOCKED = -12
EINDEX = -13
EQUERY = -14
EUNDECLARED = -15


class Error(Exception):
    """A failure reported by libdnnprov.

    `code` is the negative DNNPROV_E* code and `message` the library's
    detail of the failure (dnnprov_errmsg(), or dnnprov_strerror() when the
    library left no detail).  `parameter` names what the failure is about
    when it is one parameter of a question ("metric", "where", "dataflow",
    "bins", ...; dnnprov_errsubject()), else None.
    """

    def __init__(self, code, message, parameter=None):
        # Exception.__init__ only: OSError's own constructor would read
        # (code, message) as (errno, strerror) and print "[Errno -4] ...".
        Exception.__init__(self, message)
        self.code = code
        self.message = message
        self.parameter = parameter

    def __str__(self):
        return self.message

    def __reduce__(self):
        return (type(self), (self.code, self.message, self.parameter))


class ConfigError(Error):
    """DNNPROV_ECONFIG: the experiment file is invalid; the message is
    FILE:LINE:COL: why."""


class InvalidArgumentError(Error, ValueError):
    """DNNPROV_EINVAL: a malformed name (a task id with '/'), a duplicate
    metric, an undeclared set or attribute, ..."""


class ValueTypeError(Error, TypeError):
    """DNNPROV_ETYPE: a value does not have its declared type (text for a
    numeric hyperparameter, a text metric)."""


class NoSpaceError(Error, OSError):
    """DNNPROV_ENOSPC: the disk is full or a file-size limit was reached."""


class StateError(Error):
    """DNNPROV_ESTATE: the call does not fit the task's state: a begin of a
    task that has begun before (pass resume=True to continue it), a record
    before begin, a training record after end, a closed Task."""


class LockedError(Error):
    """DNNPROV_ELOCKED: another live process is recording the task (the
    message names its pid and host)."""


class UndeclaredError(Error, ValueError):
    """DNNPROV_EUNDECLARED: a metric or hyperparameter name the experiment
    file does not declare (a typo, most likely; the message lists the
    declared names).  Raised at a Task's begin and until its first epoch is
    recorded, and always with strict=True or the file's `strict: true`;
    later the name is refused with an UndeclaredWarning instead, and the
    training goes on (docs/RUNS.md)."""


class UndeclaredWarning(UserWarning):
    """A name the experiment file does not declare was refused after the
    first epoch: the record kept its other values, and the run shows the
    name as a problem (`dnnprov runs`, `index --status`).  Warned once per
    name and Task; `names` lists the refused names."""

    def __init__(self, message, names=()):
        UserWarning.__init__(self, message)
        self.names = tuple(names)


_BY_CODE = {
    ECONFIG: ConfigError,
    EINVAL: InvalidArgumentError,
    ETYPE: ValueTypeError,
    ENOSPC: NoSpaceError,
    ESTATE: StateError,
    ELOCKED: LockedError,
    EUNDECLARED: UndeclaredError,
}


def error_for(code, message, parameter=None):
    """The exception for a DNNPROV_E* code, of its most specific class."""
    return _BY_CODE.get(code, Error)(code, message, parameter)
