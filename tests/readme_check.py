#!/usr/bin/env python3
"""The README, run as written in a clean copy of the repository.

usage: readme_check.py CLONE PREFIX WORK

CLONE holds the tracked files and nothing built.  Every ```sh block of the
README's "Quick start" and "A short tour" runs there, one command after the
other in one shell, each of which must exit 0; then what the README shows
is compared with what happened:

  - each output block (``` with no language) is a run of "$ COMMAND" lines,
    each followed by what COMMAND printed: the command must have run (in a
    sh block, or as a section of `make demo`'s output), and its output must
    match line by line up to a blank line, "..." standing for any lines,
    numbers within 0.1% (a PyTorch build on another CPU may round
    differently) and the columns of elapsed times not compared;
  - the YAML block is examples/digits.yaml without its comments;
  - the Python block compiles, and the recorder it calls has those methods
    and arguments; the C block compiles against the installed header;
  - every link of the README and docs/ points at a file of the repository;
  - no file of the repository was changed or removed by the tour.

The commands run as a user would run them, with these changes only:
`sudo make install` installs into PREFIX (whose bin/ and Python folder are
on PATH and PYTHONPATH, as the README says for a prefix of one's own);
`make check` is skipped, since it is what runs this; and the two commands
that run until interrupted (`index --follow`, `watch`) get SIGTERM and
SIGINT after two seconds, and must exit 0 then.
"""
import hashlib
import inspect
import os
import re
import subprocess
import sys

CLONE, PREFIX, WORK = sys.argv[1:4]
README = os.path.join(CLONE, "README.md")
failures = []


def fail(what):
    failures.append(what)


# ---- the README's blocks -----------------------------------------------------------

def blocks(path, sections):
    """(language, lines) of each fenced block under the given ## sections."""
    out, section, fence = [], None, None
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if fence is None and line.startswith("## "):
            section = line[3:].strip()
        elif fence is None and line.startswith("```"):
            fence = (line[3:].strip(), [])
        elif fence is not None and line.startswith("```"):
            if section in sections:
                out.append(fence)
            fence = None
        elif fence is not None:
            fence[1].append(line)
    return out


SECTIONS = ("Quick start", "A short tour")
readme = blocks(README, SECTIONS)


def commands(lines):
    """Shell commands, with continuation lines joined."""
    cmds, cur = [], ""
    for line in lines:
        cur += line
        if cur.endswith("\\"):
            cur = cur[:-1] + " "
            continue
        if cur.strip():
            cmds.append(cur.strip())
        cur = ""
    return cmds


def as_run(cmd):
    """The command as the test runs it (the changes the docstring lists)."""
    if re.match(r"sudo make install\b", cmd):
        return 'make install PREFIX="$PREFIX"'
    if re.match(r"make check\b", cmd):
        return None
    if re.search(r"\bindex\b.*--follow", cmd):
        return "timeout --preserve-status -s TERM 2 " + cmd
    if re.match(r"dnnprov watch\b", cmd) and "--count" not in cmd:
        return "timeout --preserve-status -s INT 2 " + cmd
    return cmd


# ---- run the sh blocks ---------------------------------------------------------------

ran = []   # (command as written, output file)
script = ["set -u -o pipefail", 'cd "$CLONE"']
for lang, lines in readme:
    if lang != "sh":
        continue
    for cmd in commands(lines):
        run = as_run(cmd)
        if run is None:
            continue
        n = len(ran)
        ran.append((cmd, os.path.join(WORK, "%d.out" % n)))
        script.append('echo "$ %s" >&2' % cmd.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$"))
        script.append('{ %s\n} >"$WORK/%d.out" 2>"$WORK/%d.err" || '
                      '{ st=$?; echo "exit $st: %s" >&2; cat "$WORK/%d.out" "$WORK/%d.err" >&2; exit 1; }'
                      % (run, n, n, cmd.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$"), n, n))
if not ran:
    fail("no sh blocks found in the README's %s" % ", ".join(SECTIONS))
site = subprocess.run(["/usr/bin/python3", "-c", 'import sys; print("lib/python%d.%d/dist-packages" % '
                       "sys.version_info[:2])"], capture_output=True, text=True).stdout.strip()
env = dict(os.environ, CLONE=CLONE, PREFIX=PREFIX, WORK=WORK,
           PATH=os.path.join(PREFIX, "bin") + ":" + os.environ["PATH"],
           PYTHONPATH=os.path.join(PREFIX, site), MAKEFLAGS="-j2")
# Not the settings of the make that runs the tests: `make check SANITIZE=1`
# exports SANITIZE, which would turn `make demo` into an ASan build.
for k in ("MAKELEVEL", "MFLAGS", "SANITIZE", "DNNPROV_LIB", "DNNPROV_BUILD"):
    env.pop(k, None)


def tracked():
    """Each file of the clone (the tracked files) and its content's digest."""
    found = {}
    for folder, _, names in os.walk(CLONE):
        for name in names:
            path = os.path.join(folder, name)
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, "rb") as f:
                    found[os.path.relpath(path, CLONE)] = hashlib.sha256(f.read()).hexdigest()
    return found


before = tracked()
res = subprocess.run(["bash", "-c", "\n".join(script)], env=env)
if res.returncode != 0:
    fail("the README's commands stopped (see above)")
# The tour works on copies: it writes new files, never over the repository's.
after = tracked()
for name in sorted(before):
    if after.get(name) != before[name]:
        fail("the tour %s %s, a file of the repository" % ("changed" if name in after else "removed", name))

# Task ids made by the library end in <time>-<host>-<pid>, different at
# every run (docs/RUNS.md): they compare by their label.
GENERATED_ID = re.compile(r"-\d{8}T\d{6}Z-[A-Za-z0-9._]+-\d+(?:-\d+)?\b")


def ids_as_labels(line):
    return GENERATED_ID.sub("-<run>", line)


# What each command printed, by the command as written; `make demo` prints
# the commands it runs as "$ COMMAND" sections.
printed = {}
for cmd, path in ran:
    if not os.path.exists(path):
        continue
    out = [ids_as_labels(line) for line in open(path, encoding="utf-8").read().splitlines()]
    printed[ids_as_labels(cmd)] = out
    if cmd.startswith("make demo"):
        current = None
        for line in out:
            if line.startswith("$ "):
                current = line[2:].strip()
                printed[current] = []
            elif current is not None:
                printed[current].append(line)

# ---- output blocks ------------------------------------------------------------------------

VOLATILE = {"elapsed", "duration", "last_activity", "start"}


def number(tok):
    try:
        return float(tok)
    except ValueError:
        return None


def same_line(want, got, masked):
    w, g = want.split(), got.split()
    if len(w) != len(g):
        return False
    for i, (a, b) in enumerate(zip(w, g)):
        if a == b or i in masked:
            continue
        x, y = number(a), number(b)
        if x is None or y is None or abs(x - y) > 1e-3 * max(abs(x), abs(y)):
            return False
    return True


def match(want, got, masked):
    """want's lines against got's, '...' matching any run of lines.  The
    output shown is whole up to a blank line: `make demo` goes on with its
    verdict after the last command's output."""
    if not want:
        return not got or not got[0].strip()
    if want[0].strip() == "...":
        return any(match(want[1:], got[i:], masked) for i in range(len(got) + 1))
    return bool(got) and same_line(want[0], got[0], masked) and match(want[1:], got[1:], masked)


for lang, lines in readme:
    if lang:
        continue
    sections, current = [], None
    for line in map(ids_as_labels, lines):
        if line.startswith("$ "):
            current = (line[2:].strip(), [])
            sections.append(current)
        elif current is not None:
            current[1].append(line)
    if not sections:
        fail("an output block without a '$ command' line: %r" % lines[:2])
    for cmd, want in sections:
        while want and not want[-1].strip():
            want.pop()
        if cmd not in printed:
            fail("the README shows the output of `%s`, which none of its commands ran" % cmd)
            continue
        got = printed[cmd]
        header = want[0].split() if want else []
        masked = {i for i, name in enumerate(header) if name in VOLATILE}
        if not match(want, got, masked):
            fail("`%s` prints something else than the README shows:\n      %s\n    it printed:\n      %s"
                 % (cmd, "\n      ".join(want), "\n      ".join(got)))

# ---- the YAML, Python and C blocks ------------------------------------------------------------


def without_comments(lines):
    out = []
    for line in lines:
        line = re.sub(r"\s+#.*$", "", line).rstrip()
        if line and not line.lstrip().startswith("#"):
            out.append(line)
    return out


example = open(os.path.join(CLONE, "examples/digits.yaml"), encoding="utf-8").read().splitlines()
yaml_blocks = [lines for lang, lines in readme if lang == "yaml"]
if len(yaml_blocks) != 1:
    fail("%d YAML blocks; the tour shows one, examples/digits.yaml" % len(yaml_blocks))
elif without_comments(yaml_blocks[0]) != without_comments(example):
    fail("the README's YAML is not examples/digits.yaml:\n  %s\nand\n  %s"
         % ("\n  ".join(without_comments(yaml_blocks[0])), "\n  ".join(without_comments(example))))

for lang, lines in readme:
    if lang == "python":
        src = "\n".join(lines)
        try:
            compile(src, "README.md", "exec")
        except SyntaxError as e:
            fail("the Python block does not compile: %s" % e)
        if "Recorder(" not in src:
            # A query block: the functions it names on dnnprov exist.
            names = sorted(set(re.findall(r"\bdnnprov\.(\w+)\(", src)))
            probe = "import dnnprov\nfor n in %r: assert callable(getattr(dnnprov, n)), n\n" % names
            r = subprocess.run(["/usr/bin/python3", "-c", probe], env=env, cwd=WORK, capture_output=True, text=True)
            if not names or r.returncode:
                fail("the Python block names what the installed dnnprov lacks:\n%s" % r.stderr)
            continue
        # What it calls on the recorder exists, with those arguments.
        calls = {m: re.findall(r"rec\.%s\(([^)]*)\)" % m, src) for m in ("epoch_begin", "epoch_end", "test")}
        kwargs = re.findall(r"(\w+)=", re.search(r"Recorder\((.*?)\)\n", src, re.S).group(1))
        probe = ("import inspect, dnnprov.torch as t\n"
                 "R = t.Recorder\n"
                 "inspect.signature(R).bind_partial(**dict.fromkeys(%r))\n"
                 "for m in %r: assert callable(getattr(R, m)), m\n"
                 "assert hasattr(R, '__enter__') and hasattr(R, '__exit__')\n"
                 % (kwargs, [m for m, c in calls.items() if c]))
        r = subprocess.run(["/usr/bin/python3", "-c", probe], env=env, cwd=WORK, capture_output=True, text=True)
        if r.returncode:
            fail("the Python block calls what the installed dnnprov.torch lacks:\n%s" % r.stderr)
    if lang == "c":
        path = os.path.join(WORK, "readme.c")
        with open(path, "w") as f:
            f.write("#include <math.h>\n#include <dnnprov.h>\nint main(void)\n{\n"
                    "\tdnnprov_config *cfg;\n\tdnnprov_task *t;\n%s\n\treturn 0;\n}\n" % "\n".join(lines))
        r = subprocess.run(["cc", "-std=c11", "-fsyntax-only", "-Wall", "-Werror", "-Wno-unused-variable",
                            "-I", os.path.join(PREFIX, "include"), path], capture_output=True, text=True)
        if r.returncode:
            fail("the C block does not compile against the installed header:\n%s" % r.stderr)

# ---- links ------------------------------------------------------------------------------------

docs = [README, os.path.join(CLONE, "python/README.md")] + [
    os.path.join(CLONE, "docs", f) for f in sorted(os.listdir(os.path.join(CLONE, "docs"))) if f.endswith(".md")]
root = os.path.realpath(CLONE)
for doc in docs:
    text = open(doc, encoding="utf-8").read()
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        path = os.path.realpath(os.path.join(os.path.dirname(doc), target.split("#")[0]))
        name = os.path.relpath(doc, CLONE)
        if not (path == root or path.startswith(root + os.sep)):
            fail("%s links outside the repository: %s" % (name, target))
        elif not os.path.exists(path):
            fail("%s links to a file that does not exist: %s" % (name, target))

print("readme_check: %d commands run, %d problems" % (len(ran), len(failures)))
for f in failures:
    print("  " + f, file=sys.stderr)
sys.exit(1 if failures else 0)
