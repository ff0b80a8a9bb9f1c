"""Run facts once per process (dnnprov.facts): `git` asked at the first
begin and again only when git's own files say that the repository changed;
and `import dnnprov` leaving pandas, numpy and torch unimported.  How long a
begin or an import takes is measured by `make bench`, not asserted here."""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from dnnprov import facts


class ImportTest(unittest.TestCase):

    def test_import_leaves_the_frameworks_out(self):
        code = ("import sys, dnnprov\n"
                "print(' '.join(m for m in ('pandas', 'numpy', 'torch') if m in sys.modules))")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(done.stdout.strip(), "")


class GitOncePerProcessTest(unittest.TestCase):
    """A `git` first on PATH that counts its runs before running the real
    one (which the test itself calls by its path)."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="dnnprov-facts-")
        self.addCleanup(shutil.rmtree, self.dir)
        self.real = real = shutil.which("git")
        if real is None:
            self.fail("git is not installed (make check installs it)")
        self.repo = os.path.join(self.dir, "repo")
        self.count = os.path.join(self.dir, "runs")
        self.git("init", "-q", "-b", "main", self.repo, cwd=self.dir)
        with open(os.path.join(self.repo, "tracked"), "w") as f:
            f.write("one\n")
        self.git("add", "tracked")
        self.git("commit", "-q", "-m", "one")
        script = os.path.join(self.repo, "train.py")
        open(script, "w").close()
        bindir = os.path.join(self.dir, "bin")
        os.mkdir(bindir)
        with open(os.path.join(bindir, "git"), "w") as f:
            f.write('#!/bin/sh\necho run >>"%s"\nexec "%s" "$@"\n' % (self.count, real))
        os.chmod(os.path.join(bindir, "git"), 0o755)
        path = os.environ["PATH"]
        os.environ["PATH"] = bindir + os.pathsep + path
        self.addCleanup(os.environ.__setitem__, "PATH", path)
        argv = sys.argv
        sys.argv = [script]
        self.addCleanup(setattr, sys, "argv", argv)
        # (getattr: the same test fails, rather than errs, on a binding
        # that runs git at every begin and keeps nothing.)
        cache = getattr(facts, "_git_cache", {})
        cache.clear()
        self.addCleanup(cache.clear)

    def git(self, *args, cwd=None):
        subprocess.run([self.real, "-c", "user.email=t@t", "-c", "user.name=t", *args],
                       cwd=cwd or self.repo, check=True, stdin=subprocess.DEVNULL)

    def runs(self):
        try:
            with open(self.count) as f:
                return len(f.readlines())
        except FileNotFoundError:
            return 0

    def git_facts(self):
        got = facts.collect()
        return got.get("git_commit"), got.get("git_branch"), got.get("git_dirty")

    def head(self):
        return subprocess.run([self.real, "-C", self.repo, "rev-parse", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()

    def test_asked_once_then_when_git_says_it_changed(self):
        first = self.head()
        start = self.runs()
        self.assertEqual(self.git_facts(), (first, "main", "false"))
        self.assertEqual(self.runs() - start, 1, "one git for the first begin")
        for _ in range(5):
            self.assertEqual(self.git_facts(), (first, "main", "false"))
        self.assertEqual(self.runs() - start, 1, "none for the begins after it")

        # An edit not staged: git's files do not change, and the facts
        # stay those of the code the process started with.
        with open(os.path.join(self.repo, "tracked"), "a") as f:
            f.write("two\n")
        self.assertEqual(self.git_facts(), (first, "main", "false"))
        self.assertEqual(self.runs() - start, 1)

        self.git("add", "tracked")   # the index changed
        self.assertEqual(self.git_facts(), (first, "main", "true"))
        self.assertEqual(self.runs() - start, 2)
        asked = self.runs()
        self.git("commit", "-q", "-m", "two")   # the branch moved
        second = self.head()
        self.assertNotEqual(second, first)
        self.assertEqual(self.git_facts(), (second, "main", "false"))
        self.git("checkout", "-q", "-b", "feature/x")   # HEAD names another branch
        self.assertEqual(self.git_facts(), (second, "feature/x", "false"))
        self.git("checkout", "-q", "--detach")
        self.assertEqual(self.git_facts(), (second, None, "false"))
        ran = self.runs() - asked
        self.assertEqual(self.git_facts(), (second, None, "false"))
        self.assertEqual(self.runs() - asked, ran, "asked again only after a change")

    def test_outside_a_repository(self):
        outside = os.path.join(self.dir, "plain")
        os.mkdir(outside)
        sys.argv = [os.path.join(outside, "train.py")]
        open(sys.argv[0], "w").close()
        start = self.runs()
        self.assertEqual(self.git_facts(), (None, None, None))
        self.assertEqual(self.git_facts(), (None, None, None))
        self.assertEqual(self.runs() - start, 1)


if __name__ == "__main__":
    unittest.main()
