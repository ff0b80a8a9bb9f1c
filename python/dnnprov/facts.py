"""Run facts the Python side knows and the C library cannot (docs/RUNS.md).

The library records by itself the command line, the working folder, the
git commit and branch of the repository holding that folder, and the
accelerator's model when the NVIDIA driver lists one.  From Python a Task
adds the interpreter's version, the versions of the frameworks the program
has imported (never importing one itself), the GPU's name when torch sees
one, and, for the repository holding the script, its commit, branch,
whether its tree was dirty (asking `git`, which the C library never runs)
and the hash of its uncommitted changes (git_diff, by the library's rule).

Once per process.  A sweep begins thousands of runs in one process, and
starting `git` for each cost 3 to 6 ms a begin.  So `git status` runs at
the first begin and its answer (commit, branch, dirty, git_diff) is kept; a
later begin asks again only when git's own files say that something
changed: a stat of the repository's HEAD, the branch it names, packed-refs
and the index (a commit, a checkout, a reset, a `git add` between two runs
of a notebook).  An edit of a tracked file that is not staged changes none
of them, and is not seen until one changes: the facts describe the code the
process started with, which is the code it runs (Python imports a module
once).  The accelerator is asked of torch once too.
"""

import os
import sys

# Versions worth knowing when these modules are loaded; looked up in
# sys.modules only, so that recording never imports a framework.
_FRAMEWORKS = ("torch", "tensorflow", "keras", "numpy", "sklearn")
_GIT_TIMEOUT_S = 2.0


def _git_status(folder):
    """git's commit, branch and dirty state of folder's repository, in one
    `git status` (a dict, empty outside a repository or without git)."""
    import subprocess   # only when git is asked: most begins never are
    try:
        # --no-optional-locks: the status does not refresh (write) the
        # index, whose stat is what later begins compare.
        done = subprocess.run(["git", "--no-optional-locks", "-C", folder, "status", "--porcelain=v2",
                               "--branch", "--untracked-files=no"], stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=_GIT_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError, ValueError):
        return {}
    if done.returncode != 0:
        return {}
    facts, changed = {}, False
    for line in done.stdout.splitlines():
        if line.startswith("# branch.oid "):
            oid = line[len("# branch.oid "):].strip()
            if oid and oid != "(initial)":   # a repository without commits has none
                facts["git_commit"] = oid
        elif line.startswith("# branch.head "):
            head = line[len("# branch.head "):].strip()
            if head and head != "(detached)":
                facts["git_branch"] = head
        elif line and not line.startswith("#"):
            changed = True
    if "git_commit" not in facts:
        return {}
    facts["git_dirty"] = "true" if changed else "false"
    return facts


def _git_dirs(folder):
    """The repository's git folder and common folder (they differ in a
    worktree) holding folder, as git finds them, or None."""
    here = os.path.abspath(folder)
    while True:
        dot = os.path.join(here, ".git")
        if os.path.isdir(dot):
            return dot, dot
        if os.path.isfile(dot):   # a worktree or a submodule: "gitdir: PATH"
            try:
                with open(dot) as f:
                    line = f.readline().strip()
            except OSError:
                return None
            if not line.startswith("gitdir:"):
                return None
            gitdir = os.path.join(here, line[len("gitdir:"):].strip())
            try:
                with open(os.path.join(gitdir, "commondir")) as f:
                    common = os.path.join(gitdir, f.readline().strip())
            except OSError:
                common = gitdir
            return gitdir, common
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent


def _stamp(dirs):
    """What git's files say of the repository's state, as their stats
    (HEAD, the branch it names, packed-refs, the index): equal stamps, the
    same commit, branch and index.  None outside a repository in sight."""
    if dirs is None:
        return None
    gitdir, common = dirs
    paths = [os.path.join(gitdir, "HEAD"), os.path.join(gitdir, "index"),
             os.path.join(common, "packed-refs")]
    try:
        with open(paths[0]) as f:
            head = f.read(4096)
    except OSError:
        head = ""
    if head.startswith("ref:"):
        paths.append(os.path.join(common, head[4:].strip()))
    stamp = [head]
    for p in paths:
        try:
            st = os.stat(p)
            stamp.append((st.st_mtime_ns, st.st_size, st.st_ino))
        except OSError:
            stamp.append(None)
    return tuple(stamp)


# folder -> (git's folders, stamp, facts): what `git status` said, and the
# state of git's files just before it was asked (a change while it ran is
# then seen at the next begin).
_git_cache = {}
_accelerator = []   # [] until torch is asked, then [name or None]


def _git_facts(folder):
    cached = _git_cache.get(folder)
    dirs = cached[0] if cached is not None else _git_dirs(folder)
    stamp = _stamp(dirs)
    # Without git's folder in sight (GIT_DIR, ...), nothing tells of a
    # change: the first answer stands for the process.
    if cached is not None and (stamp is None or stamp == cached[1]):
        return cached[2]
    facts = _git_status(folder)
    if "git_commit" in facts:
        diff = _code_diff(folder)
        if diff:
            facts["git_diff"] = diff
    _git_cache[folder] = (dirs, stamp, facts)
    return facts


def _accelerator_name():
    if not _accelerator:
        torch = sys.modules.get("torch")
        if torch is None:
            return None   # torch may be imported later: asked again then
        name = None
        try:
            if torch.cuda.is_available():
                count = torch.cuda.device_count()
                first = torch.cuda.get_device_name(0)
                name = first if count == 1 else f"{first} x{count}"
        except Exception:  # a broken CUDA setup must not stop a training's begin
            pass
        _accelerator.append(name)
    return _accelerator[0]


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
    facts = {"python": sys.version.split()[0]}   # platform.python_version()
    for name in _FRAMEWORKS:
        module = sys.modules.get(name)
        version = getattr(module, "__version__", None) if module else None
        if isinstance(version, str):
            facts[name] = version
    accelerator = _accelerator_name()
    if accelerator:
        facts["accelerator"] = accelerator
    facts.update(_git_facts(_script_folder()))
    return facts
