"""Run facts the Python side knows and the C library cannot (docs/RUNS.md).

The library records by itself the command line, the working folder, the
git commit and branch of the repository holding that folder, and the
accelerator's model when the NVIDIA driver lists one.  From Python a Task
adds the interpreter's version, the versions of the frameworks the program
has imported (never importing one itself), the GPU's name when torch sees
one, and, for the repository holding the script, its commit, whether its
tree was dirty (asking `git`, which the C library never runs) and the hash
of its uncommitted changes (git_diff, by the library's rule).
"""

import os
import platform
import subprocess
import sys

# Versions worth knowing when these modules are loaded; looked up in
# sys.modules only, so that recording never imports a framework.
_FRAMEWORKS = ("torch", "tensorflow", "keras", "numpy", "sklearn")
_GIT_TIMEOUT_S = 2.0


def _git(folder, *args):
    """git's output in folder, or None when git is missing, fails or hangs."""
    try:
        done = subprocess.run(["git", "-C", folder, *args], stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=_GIT_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    return done.stdout if done.returncode == 0 else None


def _code_diff(folder):
    """The hash of the uncommitted changes of the repository holding folder,
    by the library's rule (docs/LINEAGE.md, "Repeats"), so that a run from
    Python and one from C or the shell on the same code agree; None when it
    cannot be told."""
    import ctypes
    from ._native import FINGERPRINT_MAX, lib
    commit = ctypes.create_string_buffer(80)
    diff = ctypes.create_string_buffer(FINGERPRINT_MAX)
    if lib.dnnprov_code_version(os.fsencode(folder), commit, len(commit), diff, len(diff)) != 0:
        return None
    return diff.value.decode("ascii") or None


def _script_folder():
    script = sys.argv[0] if sys.argv else ""
    if script and os.path.isfile(script):
        return os.path.dirname(os.path.abspath(script))
    return os.getcwd()


def collect():
    """The facts as a dict of name to str."""
    facts = {"python": platform.python_version()}
    for name in _FRAMEWORKS:
        module = sys.modules.get(name)
        version = getattr(module, "__version__", None) if module else None
        if isinstance(version, str):
            facts[name] = version
    torch = sys.modules.get("torch")
    try:
        if torch is not None and torch.cuda.is_available():
            count = torch.cuda.device_count()
            name = torch.cuda.get_device_name(0)
            facts["accelerator"] = name if count == 1 else f"{name} x{count}"
    except Exception:  # a broken CUDA setup must not stop a training's begin
        pass
    folder = _script_folder()
    commit = _git(folder, "rev-parse", "HEAD")
    if commit and commit.strip():
        facts["git_commit"] = commit.strip()
        diff = _code_diff(folder)
        if diff:
            facts["git_diff"] = diff
        branch = _git(folder, "symbolic-ref", "--short", "-q", "HEAD")
        if branch and branch.strip():
            facts["git_branch"] = branch.strip()
        status = _git(folder, "status", "--porcelain", "--untracked-files=no")
        if status is not None:
            facts["git_dirty"] = "true" if status.strip() else "false"
    return facts
