"""The server's bounds against clients that do not play along: slow
clients (a header byte at a time) cannot hold the connections, requests of
every oversized shape get a status line, and the login's cookie is a
session, not the token.

  - Slow clients from one address: at most 16 connections each
    (DP_SERVE_MAX_PER_ADDRESS), so other addresses are answered while they
    hold theirs.  Slow clients from many addresses, enough for every
    connection: each request has DNNPROV_SERVE_RECEIVE_SECONDS (a variable
    for tests; 10 s otherwise) to arrive, so the others are answered while
    the slow clients keep coming back.  The loopback network is 127/8, so
    the test's clients pick their source address.
  - Many query parameters, many headers, long header values, many cookies,
    a long URL: 414 or 431 with a body saying why, never a closed
    connection.
  - An SQL answer: a value at most 16 MiB, the answer at most 32 MiB (400
    saying so), and rendering the rows counts against --time-limit.
  - The one-time login URL and the login form set a session cookie: a
    random id, not the token, which stops working when the server does.

usage: serve_limits.py DNNPROV CONFIG   (run by tests/test_serve.sh)
"""
import http.client
import json
import os
import re
import socket
import sys
import threading
import time
import urllib.parse

from serve_lib import Checks, Server, wait_for

DNNPROV, CONFIG = sys.argv[1:3]
check = Checks("serve_limits")


class SlowClients:
    """Clients that send a request a byte every 0.3 s, reconnecting when
    the server ends them: as long as they run, they try to hold `count`
    connections."""

    REQUEST = b"GET /api/dataflows HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"x" * 10000

    def __init__(self, port, sources, count):
        self.port, self.sources, self.count = port, sources, count
        self.stop = threading.Event()
        self.cut = 0  # connections the server ended
        self.thread = threading.Thread(target=self.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()

    def connect(self, i):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(0.2)  # a connection the server cannot take yet is tried again next round
        try:
            s.bind((self.sources[i % len(self.sources)], 0))
            s.connect(("127.0.0.1", self.port))
            s.setblocking(False)  # a read that finds nothing says so at once
            s.sendall(self.REQUEST[:1])
            return [s, 1]
        except OSError:
            s.close()
            return None

    def run(self):
        socks = [None] * self.count
        while not self.stop.is_set():
            for i in range(self.count):
                if self.stop.is_set():
                    break
                if socks[i] is None:
                    socks[i] = self.connect(i)
                    continue
                sock, at = socks[i]
                try:
                    ended = sock.recv(1, socket.MSG_DONTWAIT) == b""  # the server closed it
                except BlockingIOError:
                    ended = False
                except OSError:
                    ended = True
                try:
                    if not ended:
                        sock.sendall(self.REQUEST[at:at + 1])
                        socks[i][1] += 1
                except OSError:
                    ended = True
                if ended:
                    sock.close()
                    socks[i] = None
                    self.cut += 1
            self.stop.wait(0.3)
        for s in socks:
            if s:
                s[0].close()


def normal_requests(port, n, bound):
    """n plain requests from 127.0.0.1, one after the other; how many were
    answered 200.  `bound` seconds each at most: a request held up that
    long counts as not answered (the slow clients hold connections for
    hours otherwise)."""
    answered = 0
    for _ in range(n):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=bound)
        try:
            c.request("GET", "/api/dataflows", headers={"Host": f"127.0.0.1:{port}"})
            answered += c.getresponse().status == 200
        except OSError:
            pass
        finally:
            c.close()
    return answered


def raw(port, head):
    """The status line (and the body) of a request sent as raw bytes, or
    "" when the connection closed without one."""
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    try:
        s.sendall(head)
        data = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            data += d
            m = re.search(rb"Content-Length: (\d+)\r\n", data)
            if m and b"\r\n\r\n" in data and len(data.split(b"\r\n\r\n", 1)[1]) >= int(m.group(1)):
                break
    except OSError:
        pass
    finally:
        s.close()
    return data.decode("latin-1")


# ---- slow clients ------------------------------------------------------------------------
# From one address, more than every connection: the limit per address
# leaves the others to other addresses, at once (the receive time is long
# here, so it is not what frees them).
os.environ["DNNPROV_SERVE_RECEIVE_SECONDS"] = "600"
with Server(DNNPROV, "-c", CONFIG) as s:
    with SlowClients(s.port, ["127.0.0.2"], 70) as slow:
        time.sleep(1.5)
        got = normal_requests(s.port, 9, 20)
        check("70 slow clients from one address: 9 of 9 other requests answered", got == 9, f"{got} answered")
# From many addresses, more than every connection: the time a request has
# to arrive frees them, and requests waiting for a connection get them.
os.environ["DNNPROV_SERVE_RECEIVE_SECONDS"] = "2"
with Server(DNNPROV, "-c", CONFIG) as s:
    with SlowClients(s.port, [f"127.0.0.{i}" for i in range(2, 8)], 80) as slow:
        time.sleep(1.5)
        got = normal_requests(s.port, 9, 20)
        check("80 slow clients from 6 addresses: 9 of 9 other requests answered", got == 9, f"{got} answered")
        try:
            wait_for("a slow client ended", lambda: slow.cut > 0, 10)
            check("the slow clients were ended at the receive time", True)
        except AssertionError as e:
            check("the slow clients were ended at the receive time", False, str(e))
del os.environ["DNNPROV_SERVE_RECEIVE_SECONDS"]

# ---- oversized requests: a status line, always -----------------------------------------------
with Server(DNNPROV, "-c", CONFIG) as s:
    host = f"Host: 127.0.0.1:{s.port}\r\n"
    shapes = [
        ("1,000 query parameters (a 16 KiB URL)", "/api/dataflows?" + "&".join(f"p{i}=1" for i in range(1000)), "", "431"),
        ("16,000 empty query parameters", "/api/dataflows?" + "&" * 16000, "", "431"),
        ("513 query parameters", "/api/runs?" + "&".join("df=x" for _ in range(513)), "", "431"),
        ("a 40 KiB URL", "/api/dataflows?q=" + "x" * 40000, "", "414"),
        ("a 100 KiB URL", "/api/dataflows?q=" + "x" * 100000, "", "414"),
        ("3,000 headers", "/api/dataflows", "".join(f"X-H{i}: 1\r\n" for i in range(3000)), "431"),
        ("10,000 tiny headers", "/api/dataflows", "a:\r\n" * 10000, "431"),
        ("a 40 KiB header value", "/api/dataflows", "X-A: " + "x" * 40000 + "\r\n", "431"),
        ("a 200 KiB header value", "/api/dataflows", "X-A: " + "x" * 200000 + "\r\n", "431"),
        ("4,000 cookies", "/api/dataflows", "Cookie: " + "; ".join("a=1" for _ in range(4000)) + "\r\n", "431"),
    ]
    for what, path, headers, want in shapes:
        answer = raw(s.port, f"GET {path} HTTP/1.1\r\n{host}{headers}\r\n".encode())
        status = answer[9:12] if answer.startswith("HTTP/1.1 ") else ""
        check(f"{what}: {want}", status == want, repr(answer[:120]))
    # Within the limits: answered.
    for what, path, headers in [("500 query parameters", "/api/export?df=torch&" + "&".join("task=t" for _ in range(499)), ""),
                                ("1,000 headers", "/api/dataflows", "".join(f"X-H{i}: 1\r\n" for i in range(1000))),
                                ("a 30 KiB header value", "/api/dataflows", "X-A: " + "x" * 30000 + "\r\n")]:
        answer = raw(s.port, f"GET {path} HTTP/1.1\r\n{host}{headers}\r\n".encode())
        check(f"{what}: answered", answer[9:12] in ("200", "404"), repr(answer[:120]))
    try:
        st, e = s.json("/api/dataflows?" + "&".join(f"p{i}=1" for i in range(1000)))
        check("431 says why", st == 431 and "512" in e["error"], str(e))
    except (OSError, http.client.HTTPException, ValueError) as e:
        check("431 says why", False, repr(e))

# ---- SQL answers: bounded, and timed while they are rendered -----------------------------------
def sql(s, stmt):
    return s.json("/api/sql?" + urllib.parse.urlencode({"q": stmt}))


with Server(DNNPROV, "-c", CONFIG) as s:
    st, e = sql(s, "select length(randomblob(16777217))")
    check("a value past 16 MiB: 400", st == 400 and "too big" in e["error"], str(e)[:300])
    st, a = sql(s, "select length(randomblob(16777216)) as n")
    check("a value of 16 MiB: 200", st == 200 and a["rows"] == [{"n": 16777216}], str(a)[:300])
    st, e = sql(s, "with recursive c(x) as (select 1 union all select x + 1 from c limit 4) "
                   "select hex(zeroblob(5000000)) from c")
    check("an answer past 32 MiB: 400 saying so", st == 400 and e["parameter"] == "q" and
          "passed the server's limit of 32 MiB" in e["error"], str(e)[:300])
    st, a = sql(s, "with recursive c(x) as (select 1 union all select x + 1 from c limit 3) "
                   "select hex(zeroblob(5000000)) as h from c")
    check("an answer of 30 MB: 200", st == 200 and len(a["rows"]) == 3, str(st))
with Server(DNNPROV, "-c", CONFIG, "--time-limit", "0.002") as s:
    # Three rows of 10 MB: few steps of SQLite's, much rendering.
    st, e = sql(s, "with recursive c(x) as (select 1 union all select x + 1 from c limit 3) "
                   "select printf('%.*c', 10000000, 'x') from c")
    check("rendering counts against the time limit: 503", st == 503 and "time limit" in e["error"], str(e)[:300])

# ---- the login: a session, not the token --------------------------------------------------
TOKEN = "s3cret-token-0123456789"
with Server(DNNPROV, "-c", CONFIG, "--token", TOKEN) as s:
    login = s.url[len(s.base):]
    st, hd, body = s.request(login)
    cookie = hd.get("set-cookie", "")
    name, _, rest = cookie.partition("=")
    value = rest.split(";")[0]
    check("the one-time URL: a session cookie", st == 303 and name.startswith("dnnprov_session_") and
          re.fullmatch(r"[0-9a-f]{64}", value) is not None, cookie)
    check("the cookie is not the token", TOKEN not in cookie, cookie)
    check("the cookie expires", "Max-Age=43200" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie, cookie)
    st, hd, body = s.request("/api/dataflows", headers={"Cookie": f"{name}={value}"})
    check("the session: 200", st == 200, str(st))
    st, hd, body = s.request("/api/dataflows", headers={"Cookie": f"{name}={TOKEN}"})
    check("the token as the cookie: 401", st == 401, str(st))
    st, hd, body = s.request("/api/dataflows", headers={"Cookie": f"{name}={value[:-1]}0"})
    check("another session id: 401", st == 401 or value.endswith("0"), str(st))
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    st, hd, body = s.request("/login", method="POST", body=("token=" + TOKEN).encode(), headers=form)
    cookie2 = hd.get("set-cookie", "")
    check("the login form: another session", st == 303 and cookie2.startswith(name + "=") and
          cookie2.split(";")[0] != f"{name}={value}" and TOKEN not in cookie2, cookie2)
    st, hd, body = s.request("/api/dataflows", headers={"Cookie": cookie2.split(";")[0]})
    check("the form's session: 200", st == 200, str(st))
with Server(DNNPROV, "-c", CONFIG, "--token", TOKEN) as s:
    st, hd, body = s.request("/api/dataflows", headers={"Cookie": f"{name}={value}"})
    check("a session of a server that stopped: 401", st == 401, str(st))

sys.exit(check.finish())
