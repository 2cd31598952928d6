"""HTTP abuse against the real server (`skewless serve`, uvicorn, loopback): malformed bodies of
every kind, oversized and slow bodies, slowloris connections, bad tokens, bad paths and methods,
garbage request lines, concurrent load. Zero 5xx; slow and idle connections are closed by the
server; it is still up and answering at the end."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from skewless.runtime.datagen import GenConfig, generate, write_all
from skewless.runtime.pg_local import free_port

pytestmark = pytest.mark.faults
EXAMPLE = Path(__file__).parents[2] / "features"
TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
BODY = {"txn_id": "x", "user_id": "u000001", "merchant_id": "m00001", "card_id": "c000001_0", "amount": 12.5,
        "country": "US"}
STATUS: Counter = Counter()


def _cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "skewless.runtime.cli", "--project", str(root), *args],
                          capture_output=True, text=True, timeout=600, env={**os.environ, "COLUMNS": "200"})


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("abuse") / "features"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("target", "data"))
    write_all(generate(GenConfig(events=3000, days=2, seed=4)), root / "data")
    for args in (("replay",), ("train", "fraud")):
        proc = _cli(root, *args)
        assert proc.returncode == 0, proc.stderr
    port = free_port()
    # no token: refused unless --insecure
    proc = _cli(root, "serve", "--port", str(port))
    assert proc.returncode == 1 and "has no serve_token" in proc.stderr, proc.stderr
    profiles = root / "profiles.yml"
    profiles.write_text(profiles.read_text().replace("      stream: {kind: file, follow: true}",
                                                     f"      stream: {{kind: file, follow: true}}\n      serve_token: {TOKEN}", 1))
    log = open(root / "serve.log", "w")
    srv = subprocess.Popen([sys.executable, "-m", "skewless.runtime.cli", "--project", str(root), "serve",
                            "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert srv.poll() is None, (root / "serve.log").read_text()
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
    yield port, srv, root / "serve.log"
    srv.terminate()
    srv.wait(timeout=30)
    log.close()


def _request(port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        status = conn.getresponse().status
    except (BrokenPipeError, ConnectionResetError):
        # the server answered 413 and closed while this client was still uploading the rest of an
        # oversized body: the TCP reset can discard the response before the client reads it
        if body is None or len(body) <= 1024 * 1024:
            raise
        status = 413
    finally:
        conn.close()
    STATUS[status] += 1
    return status


def _raw(port: int, data: bytes, read_timeout: float = 30) -> int | None:
    """Send raw bytes; the status of the response, or None if the server closed without one."""
    with socket.create_connection(("127.0.0.1", port), timeout=read_timeout) as s:
        try:
            s.sendall(data)
        except OSError:
            pass
        try:
            head = s.recv(64)
        except OSError:
            head = b""
    if not head.startswith(b"HTTP/1."):
        return None
    status = int(head.split()[1])
    STATUS[status] += 1
    return status


def _json(obj) -> bytes:
    return json.dumps(obj).encode()


BAD_BODIES = {
    "nested_1000": b'{"a": ' + b"[" * 1000 + b"]" * 1000 + b"}",
    "nested_100000": b"[" * 100_000 + b"]" * 100_000,
    "invalid_utf8": b'{"user_id": "\xff\xfe"}',
    "not_json": b"{oops",
    "array": b"[1, 2]",
    "string": b'"x"',
    "null": b"null",
    "empty": b"",
    "big_int_401": ("{" + ", ".join(f'"{k}": {"9" * 401}' for k in BODY) + "}").encode(),
    "big_int_5000": b'{"user_id": ' + b"9" * 5000 + b"}",
    "float_overflow": _json({**BODY, "amount": 1}).replace(b'"amount": 1', b'"amount": 1e999'),
    "nan_key": _json(BODY).replace(b'"u000001"', b"NaN"),
    "object_key": _json({**BODY, "user_id": {"a": 1}}),
    "list_feature": _json({**BODY, "amount": [1, 2]}),
    "text_feature": _json({**BODY, "amount": "lots"}),
    "bool_feature": _json({**BODY, "amount": True}),
    "at_number": _json({**BODY, "at": 5}),
    "at_garbage": _json({**BODY, "at": "yesterday"}),
    "at_out_of_range": _json({**BODY, "at": "9999-12-31T23:59:59-14:00"}),
    "at_past": _json({**BODY, "at": "2000-01-01T00:00:00Z"}),
    "missing": _json({"amount": 1}),
    "many_keys": _json({**BODY, **{f"k{i}": i for i in range(4000)}}),
    "null_keys": _json({k: None for k in BODY}),
    "unicode_keys": _json({**BODY, "user_id": "ü\u0000\ud7ff"}),
    "surrogate_escape": b'{"user_id": "\\ud800", "merchant_id": "m", "card_id": "c", "amount": 1, "country": "US"}',
    "dup_keys": b'{"user_id": "a", "user_id": "b"}',
    "bom": b"\xef\xbb\xbf" + _json(BODY),
}


def test_every_malformed_body_is_a_4xx(server):
    port, srv, _ = server
    assert _request(port, "POST", "/score/fraud", _json(BODY), AUTH) == 200
    for name, body in BAD_BODIES.items():
        status = _request(port, "POST", "/score/fraud", body, AUTH)
        assert status < 500, (name, status)
    assert srv.poll() is None


def test_auth_paths_methods_and_sizes(server):
    port, srv, _ = server
    cases = [
        ("POST", "/score/fraud", _json(BODY), {}, 401),
        ("POST", "/score/fraud", _json(BODY), {"Authorization": "Bearer wrong"}, 401),
        ("POST", "/score/fraud", _json(BODY), {"Authorization": "Bearer " + TOKEN + "x"}, 401),
        ("POST", "/score/fraud", _json(BODY), {"Authorization": "Bearer \u00ff\u00fe"}, 401),
        ("POST", "/score/nope", _json(BODY), AUTH, 404),
        ("GET", "/score/fraud", None, AUTH, 405),
        ("PUT", "/score/fraud", _json(BODY), AUTH, 405),
        ("GET", "/features/nope/x", None, AUTH, 404),
        ("GET", "/features/user_velocity/a,b", None, AUTH, 400),
        ("GET", "/features/user_velocity/%ff%fe%00", None, AUTH, 400),   # text cannot hold NUL
        ("GET", "/features/merchant_risk/" + "x" * 8000, None, AUTH, 200),
        ("GET", "/features/user_velocity/u000001", None, {}, 401),
        ("GET", "/models", None, {}, 401),
        ("GET", "/models", None, AUTH, 200),
        ("GET", "/../../etc/passwd", None, AUTH, 404),
        ("POST", "/score/fraud", b"x" * 1_100_000, AUTH, 413),
        ("POST", "/score/fraud", b"{}", {**AUTH, "Content-Length": "10000000"}, 413),
    ]
    for method, path, body, headers, want in cases:
        got = _request(port, method, path, body, headers)
        assert got == want, (method, path[:60], got, want)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/healthz")
    assert json.loads(conn.getresponse().read()) == {"status": "ok"}  # nothing about models or versions
    conn.close()
    assert srv.poll() is None


def test_raw_protocol_abuse(server):
    port, srv, _ = server
    head = f"POST /score/fraud HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n".encode()
    raw_cases = {
        "garbage_line": b"GARBAGE\r\n\r\n",
        "bad_content_length": head + b"Content-Length: abc\r\n\r\n{}",
        "negative_content_length": head + b"Content-Length: -5\r\n\r\n{}",
        "huge_header": head + b"X-Big: " + b"a" * 70_000 + b"\r\n\r\n",
        "many_headers": head + b"".join(b"X-%d: 1\r\n" % i for i in range(2000)) + b"\r\n",
        "long_url": b"GET /features/user_velocity/" + b"a" * 30_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        "non_ascii_path": b"GET /features/user_velocity/\xff\xfe HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                          + TOKEN.encode() + b"\r\n\r\n",
        "http10": b"GET /healthz HTTP/1.0\r\n\r\n",
        "pipelined": b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
        "te_and_cl": head + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "bad_chunk": head + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    }
    for name, data in raw_cases.items():
        status = _raw(port, data)
        assert status is None or status < 500, (name, status)
    assert srv.poll() is None


def test_a_10mb_chunked_body_is_refused_before_it_is_read(server):
    port, _, _ = server
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(f"POST /score/fraud HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
              "Transfer-Encoding: chunked\r\n\r\n".encode())
    chunk = b"%x\r\n" % 65536 + b"a" * 65536 + b"\r\n"
    sent, status = 0, None
    s.settimeout(0.001)
    try:
        while sent < 10_000_000:
            try:
                s.sendall(chunk)
                sent += 65536
            except (BlockingIOError, socket.timeout):
                pass
            try:
                head = s.recv(64)
                if head:
                    status = int(head.split()[1])
                    break
            except (BlockingIOError, socket.timeout):
                pass
    except OSError:
        pass  # the server closed the connection after answering
    s.settimeout(5)
    if status is None:
        try:
            head = s.recv(64)
            status = int(head.split()[1]) if head else None
        except OSError:
            pass
    s.close()
    assert status == 413
    assert sent < 5_000_000, f"the server read {sent:,} bytes before refusing"
    STATUS[413] += 1


def test_slow_bodies_and_slowloris_connections_are_closed(server):
    port, srv, _ = server
    # a body that stalls: 408 within the body timeout
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(f"POST /score/fraud HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
              "Content-Length: 100\r\n\r\n{\"a\"".encode())
    started = time.monotonic()
    head = s.recv(64)
    s.close()
    assert head.startswith(b"HTTP/1.1 408"), head
    assert time.monotonic() - started < 12
    STATUS[408] += 1
    # 150 slowloris connections: partial headers, one byte a second; all closed by the server
    socks = []
    for _ in range(150):
        c = socket.create_connection(("127.0.0.1", port), timeout=30)
        c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        socks.append(c)
    started = time.monotonic()
    open_ = set(range(len(socks)))
    while open_ and time.monotonic() - started < 20:
        for i in list(open_):
            try:
                socks[i].sendall(b"X: y\r\n")
                socks[i].setblocking(False)
                try:
                    if socks[i].recv(1) == b"":
                        open_.discard(i)
                except BlockingIOError:
                    pass
                socks[i].setblocking(True)
            except OSError:
                open_.discard(i)
        time.sleep(1)
    held = time.monotonic() - started
    for c in socks:
        c.close()
    assert not open_, f"{len(open_)} slowloris connections still open after {held:.0f} s"
    assert held < 12
    # and the service still answers
    assert _request(port, "POST", "/score/fraud", _json(BODY), AUTH) == 200
    assert srv.poll() is None


def test_concurrent_load_gets_no_5xx(server):
    port, srv, log_path = server
    with ThreadPoolExecutor(32) as pool:
        statuses = list(pool.map(lambda _: _request(port, "POST", "/score/fraud", _json(BODY), AUTH), range(400)))
    assert set(statuses) == {200}
    assert srv.poll() is None


def test_zz_no_5xx_at_all(server):
    _, srv, log_path = server
    print(f"\nHTTP abuse: {sum(STATUS.values())} responses by status {dict(sorted(STATUS.items()))}")
    assert not [s for s in STATUS if s >= 500]
    assert "Traceback" not in log_path.read_text()
    assert srv.poll() is None
