"""What the serve tests share: starting `dnnprov serve` on a loopback port
the test picks, asking it, and stopping it whatever happens."""
import http.client
import json
import re
import socket
import subprocess
import sys
import time


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`dnnprov serve ARGS --listen 127.0.0.1:PORT`, as a context manager:
    stopped (SIGTERM, then SIGKILL) on the way out, also after a failure."""

    def __init__(self, dnnprov, *args):
        self.port = free_port()
        self.proc = subprocess.Popen([dnnprov, "serve", *args, "--listen", f"127.0.0.1:{self.port}"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.banner = self.proc.stdout.readline()
        m = re.search(r"is at (http://\S+)", self.banner)
        if not m:
            err = self.proc.stderr.read() if self.proc.poll() is not None else ""
            self.stop()
            raise RuntimeError(f"dnnprov serve did not start: {self.banner!r} {err!r}")
        self.url = m.group(1)
        self.base = f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        died = self.proc.poll()
        if died is not None and died != 0 and self.proc.stderr:
            # A server that ended on its own (a sanitizer's report, a
            # crash) says why, or a test sees only requests that fail.
            sys.stderr.write(f"dnnprov serve exited with {died} on its own:\n{self.proc.stderr.read()[-8000:]}\n")
        if died is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for f in (self.proc.stdout, self.proc.stderr):
            if f:
                f.close()
        return self.proc.returncode

    def request(self, path, method="GET", headers=None, body=None):
        """(status, headers as a dict of lower-case names, body bytes)."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            h = {"Host": f"127.0.0.1:{self.port}"}
            h.update(headers or {})
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            c.close()

    def json(self, path, **kw):
        st, hd, body = self.request(path, **kw)
        return st, json.loads(body)


def wait_for(what, cond, seconds, step=0.05):
    """Polls cond() until it is true; raises with `what` after `seconds`."""
    end = time.monotonic() + seconds
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > end:
            raise AssertionError(f"{what}: not within {seconds} s")
        time.sleep(step)


class Checks:
    """Counts checks and prints each failure."""

    def __init__(self, name):
        self.name, self.checks, self.failed = name, 0, 0

    def __call__(self, what, ok, detail=""):
        self.checks += 1
        if not ok:
            self.failed += 1
            print("FAIL:", what, detail)

    def finish(self):
        print(f"{self.name}: {self.checks} checks, {self.failed} failed")
        return 1 if self.failed else 0


def start_browser(profile):
    """Headless Chromium through Selenium, with a fresh profile and nothing
    that phones home.  Chromium that cannot start is a failure, never a skip."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as e:
        print(f"chromium: python3-selenium is missing ({e}): `make check` installs it (apt-get install python3-selenium)")
        sys.exit(1)
    opts = webdriver.ChromeOptions()
    for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
              "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
              "--window-size=1400,1000", "--user-data-dir=" + profile]:
        opts.add_argument(a)
    opts.binary_location = "/usr/bin/chromium"
    try:
        return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    except Exception as e:  # noqa: BLE001 - any failure to start is the message
        print(f"chromium: cannot start headless Chromium (/usr/bin/chromium, /usr/bin/chromedriver): {e}".strip())
        print("chromium: install the Debian packages chromium and chromium-driver (`make check` does)")
        sys.exit(1)
