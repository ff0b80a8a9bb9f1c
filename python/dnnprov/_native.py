"""Finding and loading libdnnprov.so, and the C declarations the binding uses.

The structs mirror include/dnnprov.h; every prototype (argtypes/restype) is
set once here, at import, because ctypes would otherwise guess the types on
every call (and guess int for pointers and doubles).
"""

import ctypes
import os

from .errors import error_for

# dnnprov_type
NULL, INT, REAL, TEXT = 0, 1, 2, 3
# dnnprov_status
RUNNING, FINISHED, FAILED, KILLED, PRUNED = 0, 1, 2, 3, 4
# DNNPROV_REFUSED: recorded, but names the experiment file does not declare
# were refused (a positive code: not an error)
REFUSED = 1
# DNNPROV_NEXT_EPOCH: dnnprov_task_resume's "after the last epoch recorded"
NEXT_EPOCH = -(1 << 63)


class ValueUnion(ctypes.Union):
    # Strings are held as addresses (c_void_p) rather than c_char_p: the
    # binding keeps the bytes objects alive itself, and storing an int is
    # cheaper than ctypes' own keep-alive bookkeeping on the per-epoch path.
    _fields_ = [("i", ctypes.c_int64), ("r", ctypes.c_double), ("s", ctypes.c_void_p)]


class Value(ctypes.Structure):
    """dnnprov_value: a named, typed value (24 bytes on x86-64)."""
    _fields_ = [("name", ctypes.c_void_p), ("type", ctypes.c_int), ("as_", ValueUnion)]


class Layer(ctypes.Structure):
    """dnnprov_layer: one layer fact (name, kind, value)."""
    _fields_ = [("name", ctypes.c_char_p), ("kind", ctypes.c_char_p), ("value", Value)]


_HERE = os.path.dirname(os.path.abspath(__file__))
_BUILD_TREE = os.path.dirname(os.path.dirname(_HERE))


def _candidates():
    """Where to look for the library, in order, as (description, path): a
    generator, so that the first library found ends the search."""
    env = os.environ.get("DNNPROV_LIB")
    if env:
        # An explicit choice is never second-guessed by a fallback.
        yield ("$DNNPROV_LIB", env)
        return
    packaged = os.path.join(_HERE, "libdnnprov.so.0")
    if os.path.exists(packaged):
        # A wheel carries its library (`make wheel`): that one, never
        # another version found elsewhere first.
        yield ("the wheel", packaged)
        return
    try:
        from . import _install   # written by `make install`, absent in the source tree
    except ImportError:
        _install = None
    if _install is not None:
        # An installed package loads the library installed with it, never
        # another version found elsewhere first.
        yield ("make install", _install.LIBRARY)
    else:
        for build in ("build", "build-asan"):
            yield ("build tree", os.path.join(_BUILD_TREE, build, "libdnnprov.so"))
    # Only when those are missing: find_library runs ldconfig and imports
    # subprocess, tens of milliseconds that every import paid.
    import ctypes.util
    name = ctypes.util.find_library("dnnprov")
    if name:
        yield ("ctypes.util.find_library", name)
    if _install is None:
        yield ("make install", "/usr/local/lib/libdnnprov.so.0")


def _needs_missing_asan(path):
    """True for an AddressSanitizer build loaded into a process without the
    ASan runtime: loading it would abort the interpreter instead of
    raising, so it is refused with advice instead."""
    try:
        with open(path, "rb") as f:
            if b"libasan.so" not in f.read():
                return False
        with open("/proc/self/maps") as f:
            return "libasan" not in f.read()
    except OSError:
        return False


def _load():
    tried = []
    for where, path in _candidates():
        if os.sep in path and not os.path.exists(path):
            tried.append(f"{path} ({where}): no such file")
            continue
        if os.sep in path and _needs_missing_asan(path):
            tried.append(f"{path} ({where}): an ASan build; run Python with "
                         "LD_PRELOAD=$(gcc -print-file-name=libasan.so)")
            continue
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            tried.append(f"{path} ({where}): {e}")
    raise ImportError("cannot load libdnnprov; looked at:\n  " + "\n  ".join(tried) +
                      "\nbuild it with `make all`, or set DNNPROV_LIB to its path")


lib = _load()
path = lib._name

_P = ctypes.c_void_p
_S = ctypes.c_char_p
_PV = ctypes.POINTER(Value)
_PROTOTYPES = {
    "dnnprov_strerror": (ctypes.c_char_p, [ctypes.c_int]),
    # c_void_p, not c_char_p: the text is decoded with replacement by hand.
    "dnnprov_errmsg": (ctypes.c_void_p, []),
    "dnnprov_config_load": (ctypes.c_int, [_S, ctypes.POINTER(_P)]),
    "dnnprov_config_free": (None, [_P]),
    "dnnprov_config_dataflow": (ctypes.c_char_p, [_P]),
    "dnnprov_config_log_dir": (ctypes.c_char_p, [_P]),
    "dnnprov_config_index_dir": (ctypes.c_char_p, [_P]),
    "dnnprov_config_facts": (ctypes.c_int, [_P]),
    "dnnprov_config_strict": (ctypes.c_int, [_P]),
    "dnnprov_config_selects": (ctypes.c_int, [_P, _S]),
    "dnnprov_task_strict": (None, [_P, ctypes.c_int]),
    "dnnprov_task_open": (ctypes.c_int, [_P, _S, ctypes.POINTER(_P)]),
    "dnnprov_task_open_new": (ctypes.c_int, [_P, _S, ctypes.POINTER(_P)]),
    "dnnprov_task_resume": (ctypes.c_int, [_P, ctypes.c_int64, _PV, ctypes.c_size_t]),
    "dnnprov_task_id": (ctypes.c_char_p, [_P]),
    "dnnprov_task_begin": (ctypes.c_int, [_P, _PV, ctypes.c_size_t]),
    "dnnprov_task_layers": (ctypes.c_int, [_P, ctypes.POINTER(Layer), ctypes.c_size_t]),
    "dnnprov_task_epoch": (ctypes.c_int, [_P, ctypes.c_int64, ctypes.c_double, _PV,
                                          ctypes.c_size_t]),
    "dnnprov_task_adapt": (ctypes.c_int, [_P, ctypes.c_int64, _PV]),
    "dnnprov_task_test": (ctypes.c_int, [_P, _PV, ctypes.c_size_t]),
    "dnnprov_task_element": (ctypes.c_int, [_P, _S, _S, _PV, ctypes.c_size_t]),
    "dnnprov_task_end": (ctypes.c_int, [_P, ctypes.c_int, _S]),
    "dnnprov_task_sync": (ctypes.c_int, [_P]),
    "dnnprov_task_close": (ctypes.c_int, [_P]),
    "dnnprov_task_tag": (ctypes.c_int, [_P, _PV, ctypes.c_size_t]),
    "dnnprov_task_facts": (ctypes.c_int, [_P, _PV, ctypes.c_size_t]),
    "dnnprov_tag": (ctypes.c_int, [_P, _S, _PV, ctypes.c_size_t]),
    # Lineage (docs/LINEAGE.md).
    "dnnprov_task_used": (ctypes.c_int, [_P, _S, _S, ctypes.c_uint]),
    "dnnprov_task_generated": (ctypes.c_int, [_P, _S, _S, ctypes.c_uint]),
    "dnnprov_task_entity": (ctypes.c_int, [_P, _S, _S, _S, _S, ctypes.c_int64]),
    "dnnprov_task_transformation": (ctypes.c_int, [_P, _S]),
    "dnnprov_fingerprint": (ctypes.c_int, [_S, ctypes.c_uint, ctypes.c_char_p, ctypes.c_size_t,
                                           ctypes.POINTER(ctypes.c_uint64)]),
    "dnnprov_code_version": (ctypes.c_int, [_S, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p,
                                            ctypes.c_size_t]),
    # The query interface: answers come back as library memory (c_void_p),
    # read with string_at and handed back to dnnprov_free.
    "dnnprov_errsubject": (ctypes.c_void_p, []),
    "dnnprov_index_open": (ctypes.c_int, [_S, _S, ctypes.POINTER(_P)]),
    "dnnprov_index_close": (None, [_P]),
    "dnnprov_index_ask": (ctypes.c_int, [_P, _S, ctypes.POINTER(_S), ctypes.c_size_t, ctypes.c_int,
                                         ctypes.POINTER(_P), ctypes.POINTER(ctypes.c_size_t)]),
    "dnnprov_index_sql": (ctypes.c_int, [_P, _S, _PV, ctypes.c_size_t, _S, ctypes.c_double, ctypes.c_int,
                                         ctypes.POINTER(_P), ctypes.POINTER(ctypes.c_size_t)]),
    "dnnprov_questions_json": (ctypes.c_int, [ctypes.POINTER(_P), ctypes.POINTER(ctypes.c_size_t)]),
    "dnnprov_free": (None, [_P]),
}
FINGERPRINT_MAX = 72  # DNNPROV_FINGERPRINT_MAX
QUICK = 1  # DNNPROV_QUICK

for _name, (_restype, _argtypes) in _PROTOTYPES.items():
    _fn = getattr(lib, _name)
    _fn.restype = _restype
    _fn.argtypes = _argtypes


def last_error(rc):
    """The exception for return code rc, with the calling thread's detail
    and the parameter it is about (dnnprov_errsubject).

    Call it right after the failing call: the detail is thread-local in C
    and the next dnnprov call on this thread replaces it."""
    addr = lib.dnnprov_errmsg()
    detail = ctypes.string_at(addr).decode("utf-8", "replace") if addr else ""
    if not detail:
        detail = lib.dnnprov_strerror(rc).decode("utf-8", "replace")
    addr = lib.dnnprov_errsubject()
    subject = ctypes.string_at(addr).decode("utf-8", "replace") if addr else ""
    return error_for(rc, detail, subject or None)


def refusal():
    """(detail, refused names) of the DNNPROV_REFUSED the last call on this
    thread returned."""
    addr = lib.dnnprov_errmsg()
    detail = ctypes.string_at(addr).decode("utf-8", "replace") if addr else ""
    addr = lib.dnnprov_errsubject()
    names = ctypes.string_at(addr).decode("utf-8", "replace") if addr else ""
    return detail, tuple(n for n in names.split(",") if n)


def take_text(addr, length):
    """The library's text at addr (length bytes) as str; the memory is freed."""
    try:
        return ctypes.string_at(addr, length).decode("utf-8")
    finally:
        lib.dnnprov_free(addr)
