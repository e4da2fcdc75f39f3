"""Metrics on the metrics port: exact sums across workers, counts that survive a killed worker,
model metrics with their type, value and labels, the feedback counters, promtool's approval;
a metrics port that idle, slow or pipelining clients cannot deny to a scraper."""
import http.client
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import time

import pytest

from conftest import BUILD, Load, Server, wait_until

IDENTITY = os.path.join(BUILD, "examples/native/identity/identity.so")
METRIC_PARAMS = json.dumps([
    {"name": "metric:COUNTER:mycounter", "type": "FLOAT", "value": "1"},
    {"name": "metric:GAUGE:mygauge", "type": "FLOAT", "value": "100"},
    {"name": "metric:TIMER:mytimer", "type": "FLOAT", "value": "20.2"},
])
MSG = json.dumps({"data": {"ndarray": [[1, 2]]}}).encode()


def series(text, name, **labels):
    """Value of every sample of `name` whose labels include `labels`."""
    out = []
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        if all(got.get(k) == v for k, v in labels.items()):
            out.append((got, float(m.group(4))))
    return out


def total(text, name, **labels):
    return sum(v for _, v in series(text, name, **labels))


def send(s, n, clients=6):
    load = Load(s, clients=clients, body=MSG, max_requests=n // clients, check_body=False)
    ok, failures = load.finish(timeout=120, stop=False)
    return ok, failures


@pytest.fixture
def metrics_server(server_factory):
    def make(workers=3, extra_env=None, args=()):
        env = {"GUNICORN_WORKERS": str(workers), "GUNICORN_THREADS": "2",
               "SELDON_DEPLOYMENT_ID": "dep", "PREDICTIVE_UNIT_ID": "unit",
               "PREDICTIVE_UNIT_IMAGE": "repo/img:1.2", "PREDICTOR_ID": "pred",
               "PREDICTOR_LABELS": '{"version":"v7"}'}
        env.update(extra_env or {})
        s = server_factory(model=IDENTITY, args=["--parameters", METRIC_PARAMS, *args], env=env)
        s.wait_ready(workers=workers)
        return s
    return make


def test_counts_add_up_exactly_across_workers(metrics_server):
    s = metrics_server(workers=3)
    n = 600
    ok, failures = send(s, n)
    assert failures == [] and ok == n
    st, ctype, text = s.scrape()
    assert st == 200 and ctype.startswith("text/plain; version=0.0.4")
    assert total(text, "cserve_requests_total", route="predict", code="200") == n
    assert total(text, "mycounter_total", method="predict") == n
    assert total(text, "cserve_request_duration_seconds_count", route="predict") == n
    assert total(text, "cserve_in_flight_requests") == 0  # every answered request has left it
    assert total(text, "mytimer_count") == n
    # 20.2 ms lands in the bucket up to 0.02347185009632733 s, and not below it
    assert total(text, "mytimer_bucket", le="0.02347185009632733") == n
    assert total(text, "mytimer_bucket", le="0.019018554321561593") == 0
    assert total(text, "mygauge") == 100.0
    assert total(text, "cserve_workers") == 3
    assert total(text, "cserve_request_bytes_total", route="predict") == n * len(MSG)


def test_default_labels_and_types(metrics_server):
    s = metrics_server(workers=1)
    send(s, 6)
    _, _, text = s.scrape()
    assert "# TYPE mycounter_total counter" in text
    assert "# TYPE mygauge gauge" in text
    assert "# TYPE mytimer histogram" in text
    [(labels, value)] = series(text, "mycounter_total")
    assert value == 6
    assert labels == {"deployment_name": "dep", "seldon_deployment_name": "dep",
                      "model_name": "unit", "model_image": "repo/img", "image_name": "repo/img",
                      "model_version": "1.2", "image_version": "1.2", "predictor_name": "pred",
                      "predictor_version": "v7", "method": "predict", "source": "identity"}
    # one HELP/TYPE per family
    names = re.findall(r"^# TYPE (\S+) ", text, re.M)
    assert len(names) == len(set(names))


def test_killed_worker_counts_survive(metrics_server):
    s = metrics_server(workers=2)
    n = 300
    send(s, n)
    victim = s.workers()[0]
    os.kill(victim, signal.SIGKILL)
    wait_until(lambda: victim not in s.workers() and len(s.workers()) == 2, 10, what="respawn")
    _, _, text = s.scrape()
    assert total(text, "cserve_requests_total", route="predict", code="200") == n
    assert total(text, "mycounter_total") == n
    assert total(text, "cserve_worker_restarts_total", cause="crash") == 1
    send(s, 60)
    _, _, text = s.scrape()
    assert total(text, "mycounter_total") == n + 60


def test_recycled_workers_lose_nothing(metrics_server):
    s = metrics_server(workers=2, extra_env={"GUNICORN_MAX_REQUESTS": "50"})
    ok, failures = send(s, 300)
    assert failures == [], s.logs()[-3000:]
    _, _, text = s.scrape()
    assert total(text, "mycounter_total") == 300
    # a recycled worker is counted when reaped, which may come after its last answer
    wait_until(lambda: total(s.scrape()[2], "cserve_worker_restarts_total", cause="recycle") >= 2,
               30, what="2 recycles counted")
    assert total(s.scrape()[2], "mycounter_total") == 300


def test_per_worker_series(metrics_server):
    s = metrics_server(workers=2, args=["--metrics-per-worker"])
    send(s, 120)
    _, _, text = s.scrape()
    per = series(text, "mycounter_total")
    assert {labels["worker_id"] for labels, _ in per} <= {str(p) for p in s.workers()} | {"retired"}
    assert sum(v for _, v in per) == 120


def test_feedback_counters_and_paths(server_factory):
    s = server_factory(model=IDENTITY, env={"PREDICTIVE_UNIT_METRICS_ENDPOINT": "/custom"})
    for reward in (1.5, 0, 2.0):
        s.request("POST", "/send-feedback", json.dumps({"reward": reward}),
                  {"Content-Type": "application/json"})
    for path in ("/custom", "/prometheus"):
        st, _, text = s.scrape(path)
        assert st == 200
        assert total(text, "seldon_api_model_feedback_total", method="feedback") == 2
        assert total(text, "seldon_api_model_feedback_reward_total") == 3.5
    assert s.scrape("/nope")[0] == 404


def test_legacy_mode_records_no_feedback(server_factory):
    s = server_factory(model=IDENTITY, env={"SELDON_EXECUTOR_ENABLED": "false"})
    s.request("POST", "/send-feedback", '{"reward": 1}', {"Content-Type": "application/json"})
    _, _, text = s.scrape()
    assert total(text, "seldon_api_model_feedback_total") == 0


def test_include_metrics_in_response_false(server_factory):
    s = server_factory(model=IDENTITY, args=["--parameters", METRIC_PARAMS],
                       env={"INCLUDE_METRICS_IN_CLIENT_RESPONSE": "false"})
    st, _, body = s.request("POST", "/predict", MSG, {"Content-Type": "application/json"})
    assert json.loads(body)["meta"] == {}
    _, _, text = s.scrape()
    assert total(text, "mycounter_total") == 1  # recorded all the same


def test_promtool_accepts_the_exposition(metrics_server):
    if not shutil.which("promtool"):
        pytest.skip("promtool (Debian package prometheus) is not installed")
    s = metrics_server(workers=2)
    send(s, 30)
    s.request("POST", "/send-feedback", '{"reward": 1}', {"Content-Type": "application/json"})
    s.request("GET", "/nope")
    _, _, text = s.scrape()
    r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr


def test_debug_mode_serves_metrics(server_factory):
    s = server_factory(model=IDENTITY, args=["--parameters", METRIC_PARAMS],
                       env={"SELDON_DEBUG": "1"})
    s.request("POST", "/predict", MSG, {"Content-Type": "application/json"})
    _, _, text = s.scrape()
    assert total(text, "mycounter_total") == 1


def _open_many(port, n, first_bytes=b""):
    """n connections to the metrics port, each having sent `first_bytes` (nothing: idle)."""
    socks = []
    try:
        for _ in range(n):
            c = socket.create_connection(("127.0.0.1", port), timeout=5)
            if first_bytes:
                c.sendall(first_bytes)
            socks.append(c)
    except BaseException:
        for c in socks:
            c.close()
        raise
    return socks


def _scrape_while_open(s, socks, n):
    """n scrapes succeed while the connections `socks` are open; closes them all."""
    try:
        for _ in range(n):
            st, _, text = s.scrape()
            assert st == 200 and "cserve_workers" in text
    finally:
        for c in socks:
            c.close()


def _raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        if hard != resource.RLIM_INFINITY and hard < n:
            pytest.fail(f"this test needs {n} descriptors; RLIMIT_NOFILE hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, hard))


def _low_nofile():
    # 256 descriptors: the metrics port may use 64, so 1,000 connections must evict
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))


@pytest.mark.parametrize("budget", ["default", "low-nofile"])
@pytest.mark.parametrize("kind", ["idle", "slow"])
def test_scrapes_survive_many_idle_or_slow_connections(server_factory, kind, budget):
    # 64 idle connections used to deny the port for 10 s each: 25 of 25 scrapes failed
    _raise_nofile(1200)
    s = server_factory(model=IDENTITY, env={"GUNICORN_WORKERS": "1"},
                       preexec_fn=_low_nofile if budget == "low-nofile" else None)
    partial = b"GET /prometheus HTTP/1.1\r\nHost: x\r\n" if kind == "slow" else b""
    _scrape_while_open(s, _open_many(s.metrics_port, 1000, partial), 25)


def _tiny_nofile():
    # 64 descriptors: the metrics port may use 16 connections
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))


def test_scrapes_survive_connections_that_never_read(server_factory):
    # Connections that pipeline scrapes and never read the answers each end up with a response
    # it cannot write (1.6 MB queued in the kernel, then a full buffer). Once they fill the
    # table, a new scrape must still get in: the one waiting longest gives way, as idle ones do
    # (the table used to keep every writer for its 10 s, and refuse the scrape).
    s = server_factory(model=IDENTITY, env={"GUNICORN_WORKERS": "1"}, preexec_fn=_tiny_nofile)
    socks = []
    for _ in range(20):
        c = socket.socket()
        socks.append(c)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
        c.settimeout(5)
        try:
            c.connect(("127.0.0.1", s.metrics_port))
        except OSError:
            _scrape_while_open(s, socks, 0)
            raise
        c.setblocking(False)
        try:
            c.send(b"GET /prometheus HTTP/1.1\r\nHost: x\r\n\r\n" * 2000)
        except BlockingIOError:
            pass
    time.sleep(0.5)
    _scrape_while_open(s, socks, 10)


def test_keep_alive_scrapes_share_a_connection(server_factory):
    s = server_factory(model=IDENTITY)
    c = http.client.HTTPConnection("127.0.0.1", s.metrics_port, timeout=10)
    try:
        socks = set()
        for path in ("/prometheus", "/metrics", "/prometheus"):
            c.request("GET", path)
            r = c.getresponse()
            body = r.read()
            assert r.status == 200 and b"cserve_workers" in body
            assert r.getheader("Connection") == "keep-alive"
            socks.add(id(c.sock))
        assert len(socks) == 1
        # pipelined: both answered, in order, the second one closing
        raw = socket.create_connection(("127.0.0.1", s.metrics_port), timeout=10)
        try:
            raw.sendall(b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
                        b"HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            out = b""
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                chunk = raw.recv(65536)
                if not chunk:
                    break
                out += chunk
            assert out.startswith(b"HTTP/1.1 404 ")
            assert b"\r\n\r\nNot Found\nHTTP/1.1 200 OK\r\n" in out
            assert b"Connection: close" in out.split(b"Not Found\n", 1)[1]
        finally:
            raw.close()
    finally:
        c.close()


def test_silent_connection_is_closed_promptly(server_factory):
    s = server_factory(model=IDENTITY)
    c = socket.create_connection(("127.0.0.1", s.metrics_port), timeout=20)
    try:
        t0 = time.monotonic()
        assert c.recv(1) == b""  # closed by the server, not by our timeout
        assert time.monotonic() - t0 < 9  # the request-head timeout, shorter than before (10 s)
    finally:
        c.close()


def test_pipelining_client_cannot_hold_the_master(server_factory):
    # One client keeps the metrics port's socket full of pipelined requests and reads every
    # answer: the master serves that port on its own supervising thread, which must still reap
    # and replace a killed worker meanwhile (it used to answer that one client for ever).
    import threading
    s = server_factory(model=IDENTITY, env={"GUNICORN_WORKERS": "1"})
    s.wait_ready(workers=1)
    old = s.workers()[0]
    c = socket.create_connection(("127.0.0.1", s.metrics_port), timeout=5)
    stop = threading.Event()
    got = {"bytes": 0}

    def send():
        reqs = b"GET /prometheus HTTP/1.1\r\nHost: x\r\n\r\n" * 16384
        try:
            while not stop.is_set():
                c.sendall(reqs)
        except OSError:
            pass

    def read():
        try:
            while not stop.is_set():
                chunk = c.recv(1 << 20)
                if not chunk:
                    break
                got["bytes"] += len(chunk)
        except OSError:
            pass

    threads = [threading.Thread(target=send), threading.Thread(target=read)]
    for t in threads:
        t.start()
    try:
        wait_until(lambda: got["bytes"] > 1000000, 10, what="the flood being answered")
        os.kill(old, signal.SIGKILL)
        wait_until(lambda: len([p for p in s.workers() if p != old]) == 1, 10,
                   what="the killed worker's replacement")
    finally:
        stop.set()
        c.shutdown(socket.SHUT_RDWR)
        c.close()
        for t in threads:
            t.join(10)
