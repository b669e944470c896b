#!/usr/bin/python3
"""h11 as a referee for Tern's HTTP responses.

Requests are built with h11 (so they are valid HTTP/1.1 by an independent
implementation), fed to the engine through h11_driver, and the engine's
bytes are parsed by an h11 client connection: every response must parse,
with the expected status, headers and body, framing must end exactly at
the next response, and a connection the engine closes must be one h11
agrees may close. Hostile raw requests must get one parseable error
response and a close. Usage: h11_referee.py DRIVER
"""
import subprocess
import sys

try:
    import h11
except ImportError:
    print("SKIP: python3-h11 is not installed (scripts/install-deps.sh test)")
    sys.exit(77)

DRIVER = sys.argv[1]
failures = 0


def run(raw, drain=None):
    args = [DRIVER] + ([str(drain)] if drain else [])
    p = subprocess.run(args, input=raw, stdout=subprocess.PIPE, timeout=30)
    if p.returncode not in (0, 3):
        raise RuntimeError(f"driver failed with {p.returncode}")
    return p.stdout, p.returncode == 0


def check(name, cond, detail=""):
    global failures
    if not cond:
        failures += 1
        print(f"FAIL {name}: {detail}")


def parse_responses(reqs, data, closed):
    """Runs an h11 client through len(reqs) exchanges over data."""
    conn = h11.Connection(our_role=h11.CLIENT)
    conn.receive_data(data)
    if closed:
        conn.receive_data(b"")
    out = []
    for i, item in enumerate(reqs):
        r, body = item if isinstance(item, tuple) else (item, None)
        conn.send(r)
        if body:
            conn.send(h11.Data(data=body))
        conn.send(h11.EndOfMessage())
        resp, body = None, b""
        while True:
            ev = conn.next_event()
            if isinstance(ev, h11.InformationalResponse):
                continue
            if isinstance(ev, h11.Response):
                resp = ev
            elif isinstance(ev, h11.Data):
                body += ev.data
            elif isinstance(ev, h11.EndOfMessage):
                break
            elif ev is h11.NEED_DATA:
                raise AssertionError(f"response {i} incomplete")
            elif isinstance(ev, h11.ConnectionClosed):
                raise AssertionError(f"closed before response {i} ended")
        out.append((resp, body))
        if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
            break
        conn.start_next_cycle()
    return out, conn


def hdr(resp, name):
    name = name.lower().encode()
    vals = [v for k, v in resp.headers if k == name]
    return vals[0].decode() if vals else None


def req(method, target, headers=(), **kw):
    return h11.Request(method=method, target=target,
                       headers=[("Host", "tern.test")] + list(headers), **kw)


def wire(reqs_and_bodies):
    raw = b""
    for r, body in reqs_and_bodies:
        c = h11.Connection(our_role=h11.CLIENT)
        raw += c.send(r)
        if body:
            raw += c.send(h11.Data(data=body))
        raw += c.send(h11.EndOfMessage())
    return raw


# 1. A keep-alive pipeline of valid requests, read whole and in small reads.
seq = [
    (req("GET", "/healthz"), None, 200, b"ok"),
    (req("HEAD", "/healthz"), None, 200, b""),
    (req("GET", "/status"), None, 200, None),
    (req("GET", "/small.txt", [("Range", "bytes=10-19")]), None, 206, b"abcdefghij"),
    (req("GET", "/small.txt", [("If-None-Match", '"24-2ebc98a1"')]), None, 304, b""),
    (req("GET", "/big.bin"), None, 200, None),
    (req("POST", "/echo", [("Content-Length", "5")]), b"hello", 200, b"echo:hello"),
    (req("POST", "/echo", [("Transfer-Encoding", "chunked")]), b"chunky", 200,
     b"echo:chunky"),
    (req("GET", "/missing"), None, 404, None),
    (req("DELETE", "/small.txt"), None, 405, None),
    (req("GET", "/../etc/passwd"), None, 400, None),
    (req("GET", "/small.txt", [("Range", "bytes=99-")]), None, 416, b""),
    (req("GET", "/", [("Connection", "close")]), None, 200, b"<h1>tern</h1>\n"),
]
raw = wire([(r, b) for r, b, _, _ in seq])
for drain in (None, 1000, 7):
    data, closed = run(raw, drain)
    try:
        got, conn = parse_responses([(r, b) for r, b, _, _ in seq], data, closed)
    except Exception as e:  # h11.ProtocolError or our assertion
        check(f"pipeline drain={drain}", False, repr(e))
        continue
    check(f"pipeline drain={drain} count", len(got) == len(seq), f"{len(got)} responses")
    for (r, _, status, body), (resp, rbody) in zip(seq, got):
        name = f"{r.method.decode()} {r.target.decode()} drain={drain}"
        check(name + " status", resp.status_code == status, f"{resp.status_code} != {status}")
        if body is not None:
            check(name + " body", rbody == body, repr(rbody[:80]))
        check(name + " nosniff", hdr(resp, "x-content-type-options") == "nosniff")
        check(name + " server", hdr(resp, "server") == "tern")
    check(f"pipeline drain={drain} closed", closed, "engine kept the connection")
    status_resp = got[2]
    check("status CSP", (hdr(status_resp[0], "content-security-policy") or "")
          .startswith("default-src 'none'"))
    check("status json", status_resp[1].startswith(b'{"backend":"sim"'), status_resp[1][:40])
    check("big body", len(got[5][1]) == 100000, len(got[5][1]))

# 2. Hostile raw requests: one parseable error response, then a close.
hostile = [
    (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"0\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400),
    (b"GET / HTTP/1.1\r\nHost: a\nX: 1\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: a\r\nX: \x00\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n", 400),
    (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: a\r\n\r\n", 414),
    (b"GET / HTTP/1.1\r\nHost: a\r\n" + b"X: y\r\n" * 100 + b"\r\n", 431),
    (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999\r\n\r\n", 413),
    (b"GET / HTTP/3.0\r\nHost: a\r\n\r\n", 505),
    (b"\x16\x03\x01\x00\xa5\x01\x00", 400),
]
for raw, status in hostile:
    data, closed = run(raw)
    name = f"hostile {raw[:30]!r}"
    try:
        got, conn = parse_responses([req("GET", "/")], data, closed)
        check(name + " status", got[0][0].status_code == status, got[0][0].status_code)
        check(name + " close header", hdr(got[0][0], "connection") == "close")
        check(name + " h11 must close", conn.their_state in (h11.MUST_CLOSE, h11.CLOSED))
    except Exception as e:
        check(name, False, repr(e))
    check(name + " closed", closed)

# 3. Malformed chunked bodies to routes that do not read a body (a GET-only
# file, /healthz, a path with no file): h11 as a server refuses each body,
# and the engine must answer 400 (not the route's 405) and close.
# (test_http_conn.c splits these inputs at every offset.)
bad_chunks = [b"zz\r\n", b"-5\r\n", b"0x5\r\nhello\r\n0\r\n\r\n",
              b"5\r\nhelloXX0\r\n\r\n", b"1000000000000000000000\r\n"]
for path in ("/small.txt", "/healthz", "/missing"):
    for body in bad_chunks:
        head = (f"POST {path} HTTP/1.1\r\nHost: a\r\n"
                "Transfer-Encoding: chunked\r\n\r\n").encode()
        name = f"bad chunks {path} {body[:12]!r}"
        srv = h11.Connection(our_role=h11.SERVER)
        srv.receive_data(head + body)
        try:
            ev = None
            while ev not in (h11.NEED_DATA, h11.PAUSED):
                ev = srv.next_event()
            check(name + " h11 refuses it too", False, "h11 accepted the body")
        except h11.RemoteProtocolError:
            pass
        for drain in (None, 7):
            data, closed = run(head + body, drain)
            try:
                got, conn = parse_responses([req("GET", "/")], data, closed)
                check(name + " status", got[0][0].status_code == 400, got[0][0].status_code)
                check(name + " close header", hdr(got[0][0], "connection") == "close")
                check(name + " h11 must close", conn.their_state in (h11.MUST_CLOSE, h11.CLOSED))
                check(name + " one response", data.count(b"HTTP/1.1 ") == 1, data[:200])
            except Exception as e:
                check(name, False, repr(e))
            check(name + " closed", closed)

if failures:
    print(f"{failures} failure(s)")
    sys.exit(1)
print("h11 referee: all responses parsed and matched")
