"""HTTP/1.1 behaviour of the real binary: framing, keep-alive, limits, errors, logs."""
import http.client
import json
import os
import random
import re
import socket
import subprocess
import threading
import time

from conftest import BIN, wait_until


def parse_responses(data):
    """Splits raw bytes into (status, headers, body) tuples using Content-Length."""
    out = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            break
        lines = head.decode().split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}
        n = int(headers.get("content-length", 0)) if status != 100 else 0
        out.append((status, headers, rest[:n]))
        data = rest[n:]
    return out


def seldon_error(body):
    d = json.loads(body)
    assert set(d) == {"status"}
    assert d["status"]["code"] == -1 and d["status"]["status"] == 1
    return d["status"]


def test_ping_headers(server_factory):
    s = server_factory()
    st, h, body = s.request("GET", "/health/ping")
    assert (st, body) == (200, b"pong")
    assert h["Content-Type"] == "text/html; charset=utf-8"
    assert h["Access-Control-Allow-Origin"] == "*"
    assert h["Connection"] == "keep-alive"
    assert "Date" in h


def test_cors_origin_is_echoed(server_factory):
    s = server_factory()
    _, h, _ = s.request("GET", "/health/ping", headers={"Origin": "http://x.example"})
    assert h["Access-Control-Allow-Origin"] == "http://x.example"
    assert h["Vary"] == "Origin"


def test_pipelined_requests_answered_in_order(server_factory):
    s = server_factory()
    reqs = b"".join(
        b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(b), b)
        for b in [b"sleep:200", b"one", b"sleep:50", b"two"])
    reqs += b"GET /health/ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    resps = parse_responses(s.raw(reqs))
    assert [r[2] for r in resps] == [b'{"slept":200}', b"one", b'{"slept":50}', b"two", b"pong"]
    assert resps[-1][1]["connection"] == "close"


def test_chunked_request_body(server_factory):
    s = server_factory()
    raw = (b"POST /predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
           b"Connection: close\r\n\r\n"
           b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
    [(st, _, body)] = parse_responses(s.raw(raw))
    assert (st, body) == (200, b"hello world")


def test_expect_100_continue(server_factory):
    s = server_factory()
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=5)
    try:
        sock.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                     b"Expect: 100-continue\r\n\r\n")
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"body")
        data = b""
        while b"body" not in data:
            chunk = sock.recv(4096)
            assert chunk
            data += chunk
        assert data.startswith(b"HTTP/1.1 200 OK")
    finally:
        sock.close()


def test_http10_and_head(server_factory):
    s = server_factory()
    [(st, h, body)] = parse_responses(s.raw(b"GET /health/ping HTTP/1.0\r\n\r\n"))
    assert (st, body, h["connection"]) == (200, b"pong", "close")
    data = s.raw(b"HEAD /health/ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head, _, rest = data.partition(b"\r\n\r\n")
    assert b"Content-Length: 4" in head and rest == b""


def test_options_and_unknown_paths(server_factory):
    s = server_factory()
    st, h, body = s.request("OPTIONS", "/api/v1.0/predictions")
    assert st == 200 and body == b"" and "POST" in h["Allow"]
    st, _, body = s.request("GET", "/nope")
    assert st == 404
    assert seldon_error(body)["info"].startswith("404 Not Found")
    st, h, body = s.request("GET", "/api/v1.0/predictions")
    assert st == 405 and h["Allow"] == "OPTIONS, POST"
    assert seldon_error(body)["info"].startswith("405 Method Not Allowed")
    st, _, _ = s.request("GET", "/predict/")
    assert st == 404


def test_limits_give_seldon_error_bodies(server_factory):
    s = server_factory(args=["--limit-request-body", "1000"])
    [(st, h, body)] = parse_responses(s.raw(b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\n\r\n"))
    assert st == 400 and h["connection"] == "close"
    assert "Request Line is too large" in seldon_error(body)["info"]
    [(st, _, body)] = parse_responses(
        s.raw(b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"v" * 9000 + b"\r\n\r\n"))
    assert st == 431
    [(st, _, body)] = parse_responses(
        s.raw(b"GET / HTTP/1.1\r\nHost: x\r\n" + b"A: b\r\n" * 101 + b"\r\n"))
    assert st == 431
    [(st, _, body)] = parse_responses(
        s.raw(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n"))
    assert st == 413
    assert seldon_error(body)["reason"] == "MICROSERVICE_BAD_DATA"
    # the server is still fine
    assert s.request("GET", "/health/ping")[0] == 200


def test_conflicting_length_and_chunked_is_rejected(server_factory):
    s = server_factory()
    raw = (b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
           b"Transfer-Encoding: chunked\r\n\r\n"
           b"0\r\n\r\nGET /health/ping HTTP/1.1\r\nHost: x\r\n\r\n")
    resps = parse_responses(s.raw(raw))
    assert len(resps) == 1 and resps[0][0] == 400
    assert resps[0][1]["connection"] == "close"


def test_garbage_gets_400_and_server_survives(server_factory):
    s = server_factory()
    for junk in [b"\x00\x01\x02\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"GET\r\n\r\n",
                 b"POST /predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"]:
        resps = parse_responses(s.raw(junk))
        assert resps and resps[0][0] == 400, junk
    assert s.request("GET", "/health/ping")[0] == 200


def test_slow_client_is_timed_out(server_factory):
    s = server_factory(args=["--client-timeout", "1"])
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    try:
        sock.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        t0 = time.monotonic()
        data = b""
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        assert time.monotonic() - t0 < 5
        [(st, _, body)] = parse_responses(data)
        assert st == 408
    finally:
        sock.close()


def test_idle_keepalive_connection_closed_after_keepalive(server_factory):
    s = server_factory(env={"GUNICORN_KEEPALIVE": "1"})
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    try:
        sock.sendall(b"GET /health/ping HTTP/1.1\r\nHost: x\r\n\r\n")
        assert b"pong" in sock.recv(4096)
        t0 = time.monotonic()
        assert sock.recv(4096) == b""  # closed by the server
        assert 0.5 < time.monotonic() - t0 < 4
    finally:
        sock.close()


def test_keepalive_zero_closes_after_each_response(server_factory):
    s = server_factory(env={"GUNICORN_KEEPALIVE": "0"})
    _, h, _ = s.request("GET", "/health/ping")
    assert h["Connection"] == "close"


def test_large_body_roundtrip(server_factory):
    s = server_factory()
    body = bytes(range(256)) * 8192  # 2 MiB
    st, _, out = s.request("POST", "/predict", body)
    assert st == 200 and out == body


def test_access_log_gunicorn_format(server_factory):
    s = server_factory(env={"GUNICORN_ACCESS_LOG": "true"})
    s.request("GET", "/health/ping?x=1", headers={"User-Agent": "tester/1",
                                                   "Referer": "http://r"})
    pat = (r'127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000\] '
           r'"GET /health/ping\?x=1 HTTP/1\.1" 200 4 "http://r" "tester/1"')
    wait_until(lambda: re.search(pat, s.logs()), 5, what="access log line")


def test_no_access_log_by_default(server_factory):
    s = server_factory()
    s.request("GET", "/health/ping")
    time.sleep(0.2)
    assert '"GET /health/ping' not in s.logs()


def run_cli(*args, env=None):
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=20,
                          env=env or {"PATH": "/usr/bin:/bin"})


def test_cli_errors_and_help():
    r = run_cli("--help")
    assert r.returncode == 0 and "--workers" in r.stdout and "GUNICORN_THREADS" in r.stdout
    r = run_cli("M.so", "--bogus")
    assert r.returncode == 255 and "Unknown args" in r.stderr
    r = run_cli("--workers", "many")
    assert r.returncode == 2 and "--workers" in r.stderr
    r = run_cli(env={"PATH": "/usr/bin", "GUNICORN_THREADS": "ten"})
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and "GUNICORN_THREADS" in r.stderr
    r = run_cli("/nonexistent/model.so", "--http-port", "0", "--metrics-port", "0")
    assert r.returncode == 1 and "cannot load native model" in r.stderr


def test_port_in_use_is_a_clear_error(server_factory):
    s = server_factory()
    r = run_cli("--host", "127.0.0.1", "--http-port", str(s.port), "--metrics-port", "0",
                "--annotations-file", "/x")
    assert r.returncode == 1 and "bind()" in r.stderr
    # the metrics port taken instead; under the sanitizers this exit path must not leak either
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        r = run_cli("--host", "127.0.0.1", "--http-port", "0", "--metrics-port",
                    str(taken.getsockname()[1]), "--annotations-file", "/x")
    assert r.returncode == 1 and "metrics port: bind()" in r.stderr, r.stderr
    assert "Sanitizer" not in r.stderr, r.stderr


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_out_of_descriptors_neither_spins_nor_dies(server_factory):
    import resource

    def low_fd_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
    s = server_factory(env={"GUNICORN_THREADS": "2"}, preexec_fn=low_fd_limit)
    s.wait_ready(workers=1)
    worker = s.workers()[0]
    socks = []
    try:
        for _ in range(100):  # more than the worker can hold
            socks.append(socket.create_connection(("127.0.0.1", s.port), timeout=5))
        time.sleep(0.5)
        before = cpu_seconds(worker)
        time.sleep(1.0)
        assert cpu_seconds(worker) - before < 0.5  # not spinning on accept
        assert "accept4() failed" in s.logs()
    finally:
        for k in socks:
            k.close()
    wait_until(lambda: s.request("GET", "/health/ping", timeout=2)[0] == 200, 10,
               what="service after descriptors are free again")


def test_keepalive_zero_still_waits_for_the_first_request(server_factory):
    s = server_factory(env={"GUNICORN_KEEPALIVE": "0"})
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    try:
        time.sleep(0.8)  # longer than the loop's timer tick: the connection must still be open
        sock.sendall(b"GET /health/ping HTTP/1.1\r\nHost: x\r\n\r\n")
        data = sock.recv(4096)
        assert b"pong" in data and b"Connection: close" in data
    finally:
        sock.close()


def test_clients_hanging_up_as_calls_finish_do_not_crash_the_worker(server_factory):
    """Clients that hang up right after sending a request that goes to a model thread (as wrk
    does at the end of a run): the call's completion and the client's FIN often land in one
    epoll batch, and the connection closed while handling the first must not be touched by the
    second (it once was: a use after free that aborted the worker)."""
    s = server_factory(model=None, env={"GUNICORN_THREADS": "4"})
    worker = s.workers()
    # ~200 KB: above the size the built-in model is called inline for, so a model thread runs it
    body = json.dumps({"data": {"ndarray": [[i * 0.5 for i in range(1000)]] * 20}}).encode()
    headers = {"Content-Type": "application/json"}
    deadline = time.monotonic() + 4

    def client(seed):
        r = random.Random(seed)
        while time.monotonic() < deadline:
            conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
            try:
                for _ in range(r.randint(0, 3)):
                    conn.request("POST", "/predict", body, headers)
                    conn.getresponse().read()
                conn.request("POST", "/predict", body, headers)  # and hang up unanswered
                time.sleep(r.uniform(0, 0.002))
            except (OSError, http.client.HTTPException):
                pass
            finally:
                conn.close()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(15)
    assert "Respawning" not in s.logs(), s.logs()[-3000:]
    assert s.workers() == worker
    st, _, out = s.request("POST", "/predict", b'{"data":{"ndarray":[[1.0]]}}',
                           {"Content-Type": "application/json"})
    assert st == 200, out


# ---- RFC 9112 framing, as a hostile client tries it ---------------------------------------

def assert_rejected(s, raw, status, info_part):
    """One error response with the Seldon body, then the connection is closed: nothing sent
    after the bad request is answered."""
    resps = parse_responses(s.raw(raw + b"GET /health/ping HTTP/1.1\r\nHost: x\r\n\r\n"))
    assert len(resps) == 1, (raw, resps)
    st, h, body = resps[0]
    assert st == status, (raw, st, body)
    assert h["connection"] == "close"
    assert info_part in seldon_error(body)["info"], (raw, body)


def test_ignored_upgrade_keeps_the_connection_serving(server_factory):
    s = server_factory()
    h2c = (b"GET /health/ping HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\n"
           b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n")
    ws = (b"POST /predict HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: websocket\r\n"
          b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
          b"Content-Length: 5\r\n\r\nhello")
    last = b"GET /health/ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    resps = parse_responses(s.raw(h2c + ws + h2c + last))
    assert [(r[0], r[2]) for r in resps] == [(200, b"pong"), (200, b"hello"), (200, b"pong"),
                                             (200, b"pong")]


def test_curl_http2_two_urls_on_one_connection(server_factory):
    import shutil
    curl = shutil.which("curl")
    if curl is None:
        import pytest
        pytest.skip("curl is not installed")
    s = server_factory()
    url = f"http://127.0.0.1:{s.port}/health/ping"
    r = subprocess.run([curl, "-s", "--http2", "--max-time", "10", url, url],
                       capture_output=True, timeout=20)
    assert r.stdout == b"pongpong", r


def test_connect_is_refused_and_the_connection_closed(server_factory):
    s = server_factory()
    # a client may send tunnel bytes right behind CONNECT; they must not be read as a request
    assert_rejected(s, b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
                    501, "CONNECT")


def test_chunk_data_not_followed_by_crlf_is_rejected(server_factory):
    s = server_factory()
    body = b"abcdefghijklmnopqrstuvwxyz"
    assert_rejected(s, b"POST /predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                    b"1a\r\n" + body + b"XX0\r\n\r\n", 400, "Bad Request")


def stream_until_cut_off(s, head, filler):
    """Sends `head`, then `filler` over and over (at most 64 MB, 5 s); returns the response and
    how much was sent before the server closed its end."""
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=5)
    try:
        sock.sendall(head)
        piece = filler * (65536 // len(filler))
        deadline = time.monotonic() + 5
        sent = 0
        try:
            while sent < (64 << 20) and time.monotonic() < deadline:
                sock.sendall(piece)
                sent += len(piece)
        except OSError:
            pass  # the server closed its end: the point of the test
        data = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except (socket.timeout, OSError):
                break
            if not chunk:
                break
            data += chunk
        return parse_responses(data), sent
    finally:
        sock.close()


def test_endless_chunk_extension_is_cut_off(server_factory):
    s = server_factory(args=["--limit-request-body", "1000"])
    head = b"POST /predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    for start, filler, info in [(b"5;ext=", b"v", "chunk extensions too large"),
                                (b"5\r\nhello\r\n", b"0", "chunk size line too long")]:
        resps, sent = stream_until_cut_off(s, head + start, filler)
        [(st, h, body)] = resps
        assert st == 400 and h["connection"] == "close"
        assert info in seldon_error(body)["info"]
        assert sent < (16 << 20)  # stopped early, not after the client gave up
    assert s.request("GET", "/health/ping")[0] == 200


def test_transfer_codings_other_than_chunked_are_501(server_factory):
    s = server_factory()
    for te in [b"gzip, chunked", b"identity, chunked", b"deflate"]:
        assert_rejected(s, b"POST /predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + te +
                        b"\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 501, "transfer coding")


def test_request_heads_the_rfc_rejects(server_factory):
    s = server_factory()
    cases = [
        (b"GET /health/ping HTTP/1.1\r\nHost: x\r\n: no-name\r\n\r\n", "empty header name"),
        (b"GET /health/ping HTTP/1.1\r\n\r\n", "missing Host"),
        (b"GET /health/ping HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", "more than one Host"),
        (b"GET /health/ping HTTP/1.1\r\nHost: x y\r\n\r\n", "invalid Host"),
        (b"GET /health/ping\r\nHost: x\r\n\r\n", "version"),
        (b"GET /health/ping HTTP/2.0\r\nHost: x\r\n\r\n", "version"),
        (b"GET /health/ping HTTP/1.1\r\nHost : x\r\n\r\n", "Bad Request"),
    ]
    for raw, info in cases:
        assert_rejected(s, raw, 400, info)
    # HTTP/1.0 needs no Host
    [(st, _, body)] = parse_responses(s.raw(b"GET /health/ping HTTP/1.0\r\n\r\n"))
    assert (st, body) == (200, b"pong")


def test_absolute_form_target_and_fragment(server_factory):
    s = server_factory()
    raw = (b"GET http://example.com/health/ping HTTP/1.1\r\nHost: example.com\r\n\r\n"
           b"GET /health/ping#top HTTP/1.1\r\nHost: x\r\n\r\n"
           b"POST http://example.com:9000/predict?x=1#frag HTTP/1.1\r\nHost: x\r\n"
           b"Content-Length: 3\r\n\r\nabc"
           b"GET /health/ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    resps = parse_responses(s.raw(raw))
    assert [(r[0], r[2]) for r in resps] == [(200, b"pong"), (200, b"pong"), (200, b"abc"),
                                             (200, b"pong")]
