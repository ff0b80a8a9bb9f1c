"""What the receive tests share: `dnnprov receive --dfanalyzer` started on a
loopback port the test picks (and stopped whatever happens), a plain HTTP
client posting as dfa-lib-python does, and the fixtures of tests/fixtures/
dfanalyzer (one JSON line per POST: {"post": PATH, "body": BODY})."""
import http.client
import json
import os
import re
import signal
import subprocess

from serve_lib import Checks, free_port, wait_for  # noqa: F401 (shared with the scenarios)

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures", "dfanalyzer")


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as f:
        return [json.loads(line) for line in f if line.strip()]


class Receiver:
    """`dnnprov receive --dfanalyzer ARGS --listen 127.0.0.1:PORT` as a
    context manager: stopped (SIGTERM, then SIGKILL) on the way out."""

    def __init__(self, dnnprov, *args, port=None):
        self.dnnprov, self.args, self.errors = dnnprov, args, ""
        self.port = port or free_port()
        self.proc = subprocess.Popen([dnnprov, "receive", "--dfanalyzer", *args, "--listen",
                                      f"127.0.0.1:{self.port}"], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.banner = self.proc.stdout.readline()
        if "DfAnalyzer clients post to" not in self.banner:
            err = self.proc.stderr.read() if self.proc.poll() is not None else ""
            self.stop()
            raise RuntimeError(f"dnnprov receive did not start: {self.banner!r} {err!r}")
        while not self.banner.splitlines()[-1].startswith("Ctrl-C"):
            line = self.proc.stdout.readline()
            if not line:
                break
            self.banner += line

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stderr and not self.proc.stderr.closed:
            self.errors = self.proc.stderr.read()
        for f in (self.proc.stdout, self.proc.stderr):
            if f:
                f.close()
        return self.proc.returncode

    def post(self, path, body, headers=None, host=None):
        """(status, the answer's JSON) of one POST; body is an object, or
        bytes sent as they are."""
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            h = {"Host": host or f"127.0.0.1:{self.port}", "Content-Type": "application/json"}
            h.update(headers or {})
            c.request("POST", path, body=data, headers=h)
            r = c.getresponse()
            text = r.read()
            try:
                return r.status, json.loads(text)
            except ValueError:
                return r.status, {"raw": text.decode("utf-8", "replace")}
        finally:
            c.close()

    def replay(self, posts):
        """Posts each fixture line as dfa-lib-python does (DFA_URL ends with
        a slash: the path has two); returns the answers."""
        return [self.post("/" + p["post"], p["body"]) for p in posts]


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def snapshot(folder):
    """Every file under folder, with its bytes: what a refused POST must
    leave as it was."""
    files = {}
    for root, dirs, names in os.walk(folder):
        for n in names:
            p = os.path.join(root, n)
            with open(p, "rb") as f:
                files[os.path.relpath(p, folder)] = f.read()
    return files


def banner_port(text):
    m = re.search(r":(\d+)/", text)
    return int(m.group(1)) if m else None
