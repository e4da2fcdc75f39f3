"""The master/worker supervisor under load: crashes, hangs, recycling, reloads, signals."""
import json
import re
import os
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import Load, Server, TEST_MODEL, BIN, thread_count, wait_until


def timeout_server(server_factory, tmp_path, timeout_ms, threads, env=None):
    """One worker with `threads` model threads and the model call timeout set the way Seldon
    sets it (the seldon.io/rest-timeout annotation, in milliseconds)."""
    ann = tmp_path / "annotations"
    ann.write_text(f'seldon.io/rest-timeout="{timeout_ms}"\n')
    s = server_factory(args=["--annotations-file", str(ann)],
                       env={"GUNICORN_WORKERS": "1", "GUNICORN_THREADS": str(threads),
                            **(env or {})})
    s.wait_ready(workers=1)
    return s


def test_worker_and_thread_counts_follow_configuration(server_factory):
    s = server_factory(env={"GUNICORN_WORKERS": "3", "GUNICORN_THREADS": "4"})
    s.wait_ready(workers=3)
    for pid in s.workers():
        # the event-loop thread plus the model threads
        wait_until(lambda: thread_count(pid) == 1 + 4, 5, what="thread count")


def test_default_threads_is_ten(server_factory):
    s = server_factory()
    s.wait_ready(workers=1)
    pid = s.workers()[0]
    wait_until(lambda: thread_count(pid) == 1 + 10, 5, what="thread count")


def test_single_threaded_runs_load_and_every_call_on_one_thread(server_factory):
    s = server_factory(env={"FLASK_SINGLE_THREADED": "1", "GUNICORN_THREADS": "8"})
    s.wait_ready(workers=1)
    pid = s.workers()[0]
    wait_until(lambda: thread_count(pid) == 2, 5, what="thread count")
    seen = set()
    for _ in range(20):
        st, _, body = s.request("POST", "/predict", b"whoami")
        assert st == 200
        d = json.loads(body)
        assert d["tid"] == d["load_tid"]
        seen.add(d["tid"])
    assert len(seen) == 1


def test_kill_9_worker_under_load_is_respawned_and_other_workers_lose_nothing(server_factory):
    s = server_factory(env={"GUNICORN_WORKERS": "2", "GUNICORN_THREADS": "4"})
    s.wait_ready(workers=2)
    before = s.workers()
    load = Load(s, clients=8, body=b"sleep:5")
    wait_until(lambda: load.count() > 200, 20, what="load running")
    victim = before[0]
    os.kill(victim, signal.SIGKILL)
    wait_until(lambda: len(s.workers()) == 2 and victim not in s.workers(), 10,
               what="respawn")
    after_respawn = load.count()
    wait_until(lambda: load.count() > after_respawn + 200, 20, what="load continuing")
    ok, failures = load.finish()
    # Only requests in flight on the killed worker's connections can fail: at most one per client.
    assert len(failures) <= 8, failures
    # Load records a failure as (status, body) or as an exception's name: those connections may
    # break, but no request may get an HTTP error
    assert [f for f in failures if not isinstance(f, str)] == [], failures
    assert "was sent Killed" in s.logs() or "Respawning" in s.logs()
    assert ok > 400


def test_hung_model_call_gets_answer_and_worker_is_replaced(server_factory, tmp_path):
    s = timeout_server(server_factory, tmp_path, 1000, 4)
    old = s.workers()[0]
    t0 = time.monotonic()
    st, _, body = s.request("POST", "/predict", b"sleep:30000", timeout=20)
    elapsed = time.monotonic() - t0
    assert st == 504
    assert json.loads(body)["status"]["reason"] == "MICROSERVICE_INTERNAL_ERROR"
    assert elapsed < 5
    wait_until(lambda: old not in s.workers() and len(s.workers()) == 1, 20,
               what="replacement worker")
    assert "WORKER TIMEOUT" in s.logs()
    st, _, body = s.request("POST", "/predict", b"still-alive")
    assert (st, body) == (200, b"still-alive")
    # the 504 the worker answered is counted like any other response
    _, _, text = s.scrape()
    assert re.search(r'cserve_requests_total\{code="504",route="predict"\} 1\b', text), text


def test_other_requests_finish_while_a_timed_out_worker_drains(server_factory, tmp_path):
    s = timeout_server(server_factory, tmp_path, 1500, 4)
    load = Load(s, clients=4, body=b"sleep:20")
    wait_until(lambda: load.count() > 20, 10, what="load running")
    st, _, _ = s.request("POST", "/predict", b"sleep:60000", timeout=20)
    assert st == 504
    time.sleep(1)
    ok, failures = load.finish()
    assert failures == []


def test_term_under_load_finishes_every_in_flight_request(server_factory):
    pidfile = tempfile.mktemp(prefix="cserve-pid-")
    s = server_factory(args=["--pidfile", pidfile],
                       env={"GUNICORN_WORKERS": "2", "GUNICORN_THREADS": "10"})
    s.wait_ready(workers=2)
    assert int(open(pidfile).read()) == s.proc.pid
    load = Load(s, clients=10, body=b"sleep:800", max_requests=1)
    time.sleep(0.4)  # all ten are inside the model now
    s.signal(signal.SIGTERM)
    ok, failures = load.finish()
    assert (ok, failures) == (10, [])
    assert s.proc.wait(20) == 0
    assert not os.path.exists(pidfile)


def test_int_stops_quickly(server_factory):
    s = server_factory(env={"GUNICORN_WORKERS": "2"})
    s.wait_ready(workers=2)
    workers = s.workers()
    t0 = time.monotonic()
    s.signal(signal.SIGINT)
    assert s.proc.wait(10) == 0
    assert time.monotonic() - t0 < 5
    for pid in workers:
        wait_until(lambda: not os.path.exists(f"/proc/{pid}"), 5, what="worker gone")


def test_hup_rolls_workers_with_zero_failed_requests(server_factory):
    s = server_factory(env={"GUNICORN_WORKERS": "2", "GUNICORN_THREADS": "4"})
    s.wait_ready(workers=2)
    before = set(s.workers())
    load = Load(s, clients=8, body=b"sleep:2")
    wait_until(lambda: load.count() > 100, 20, what="load running")
    s.signal(signal.SIGHUP)
    wait_until(lambda: len(set(s.workers()) & before) == 0 and len(s.workers()) == 2, 30,
               what="all workers replaced")
    n = load.count()
    wait_until(lambda: load.count() > n + 100, 20, what="load after reload")
    ok, failures = load.finish()
    assert failures == []


def test_max_requests_recycles_with_zero_failed_requests(server_factory):
    s = server_factory(env={"GUNICORN_WORKERS": "2", "GUNICORN_THREADS": "4",
                            "GUNICORN_MAX_REQUESTS": "100",
                            "GUNICORN_MAX_REQUESTS_JITTER": "20"})
    s.wait_ready(workers=2)
    first = set(s.workers())
    load = Load(s, clients=6, body=b"x" * 100, max_requests=150)
    ok, failures = load.finish(timeout=90, stop=False)
    assert failures == [], s.logs()[-3000:]
    assert ok == 6 * 150
    assert "Autorestarting worker" in s.logs()
    wait_until(lambda: len(s.workers()) == 2, 10, what="two workers")
    assert not (set(s.workers()) & first), (first, s.workers(), s.logs()[-3000:])


def test_ttin_ttou_change_the_worker_count(server_factory):
    s = server_factory(env={"GUNICORN_WORKERS": "2"})
    s.wait_ready(workers=2)
    s.signal(signal.SIGTTIN)
    wait_until(lambda: len(s.workers()) == 3, 10, what="3 workers")
    s.signal(signal.SIGTTOU)
    wait_until(lambda: len(s.workers()) == 2, 10, what="2 workers")  # signals do not queue
    s.signal(signal.SIGTTOU)
    wait_until(lambda: len(s.workers()) == 1, 10, what="1 worker")
    st, _, body = s.request("POST", "/predict", b"ok")
    assert (st, body) == (200, b"ok")


def test_crashing_model_call_is_respawned(server_factory):
    s = server_factory(env={"GUNICORN_WORKERS": "1"})
    s.wait_ready(workers=1)
    old = s.workers()[0]
    try:
        s.request("POST", "/predict", b"crash")
    except Exception:  # noqa: BLE001 - the connection dies with the worker
        pass
    wait_until(lambda: s.workers() and old not in s.workers(), 10, what="respawn")
    s.wait_ready()
    st, _, body = s.request("POST", "/predict", b"after")
    assert (st, body) == (200, b"after")


def test_worker_that_cannot_boot_stops_the_master(tmp_path):
    s = Server(env={"CSERVE_TEST_LOAD_FAIL": "1", "GUNICORN_WORKERS": "2"}, wait=False)
    try:
        rc = s.proc.wait(15)
        assert rc == 3
        logs = s.logs()
        assert "Worker failed to boot" in logs
        assert "load failed on purpose" in logs
        assert logs.count("Booting worker") <= 2  # no respawn loop
    finally:
        s.stop()


def test_usr1_reopens_the_log_file(server_factory, tmp_path):
    log = tmp_path / "err.log"
    s = server_factory(args=["--log-file", str(log)])
    s.wait_ready(workers=1)
    os.rename(log, tmp_path / "err.log.1")
    s.signal(signal.SIGUSR1)
    wait_until(lambda: log.exists(), 5, what="log reopened")
    s.signal(signal.SIGTTIN)
    wait_until(lambda: "ttin" in log.read_text(), 5, what="new lines in the new file")


def test_debug_mode_is_one_process_with_request_logging(server_factory):
    s = server_factory(env={"SELDON_DEBUG": "1"})
    assert s.workers() == []
    st, _, body = s.request("POST", "/predict", b"dbg-body")
    assert (st, body) == (200, b"dbg-body")
    wait_until(lambda: "[DEBUG] request POST /predict dbg-body" in s.logs(), 5,
               what="request log")
    assert "[DEBUG] response 200 dbg-body" in s.logs()


def test_answers_to_the_seldon_core_microservice_name(tmp_path):
    link = tmp_path / "seldon-core-microservice"
    link.symlink_to(os.path.abspath(BIN))
    s = Server(binary=str(link))
    try:
        st, _, body = s.request("GET", "/health/ping")
        assert (st, body) == (200, b"pong")
    finally:
        s.stop()


def fd_targets(pid):
    out = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            out.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            pass
    return out


def test_worker_holds_none_of_the_masters_descriptors(server_factory):
    # a worker holding the master's metrics listener keeps the port open (and its backlog
    # filling) after the master is gone; the master's epoll set and signalfd are not its own
    s = server_factory(env={"GUNICORN_WORKERS": "1"})
    s.wait_ready(workers=1)
    s.scrape()  # the metrics server has an epoll set and has served a connection
    master = fd_targets(s.proc.pid)
    worker = fd_targets(s.workers()[0])
    shared = sorted(set(t for t in worker if t.startswith("socket:")) & set(master))
    # the HTTP and gRPC listeners, and only them
    assert len(shared) == 2, (shared, worker, master)
    assert worker.count("anon_inode:[eventpoll]") == 1, worker  # its own
    assert "anon_inode:[signalfd]" not in worker, worker


def answers(port, bodies, timeout):
    """Sends each body as its own POST /predict, all at once on separate connections; returns
    (status, headers, body) or the exception's name for each, in order."""
    import http.client
    import threading
    out = [None] * len(bodies)

    def one(i):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        try:
            c.request("POST", "/predict", body=bodies[i])
            r = c.getresponse()
            out[i] = (r.status, dict(r.getheaders()), r.read())
        except Exception as e:  # noqa: BLE001 - every failure kind is an outcome here
            out[i] = type(e).__name__
        finally:
            c.close()
    threads = []
    for i in range(len(bodies)):
        t = threading.Thread(target=one, args=(i,))
        t.start()
        threads.append(t)
        if bodies[i].startswith(b"sleep:"):
            time.sleep(0.05)  # the hung calls reach the model threads first
    for t in threads:
        t.join(timeout + 5)
    return out


@pytest.mark.parametrize("threads", [1, 10])
def test_requests_queued_behind_hung_calls_are_answered(server_factory, tmp_path, threads):
    # Every model thread hangs: the hung calls get their 504 at the timeout, and the requests
    # queued behind them, which no thread will take, get a prompt 503 with Retry-After instead
    # of being cut at the graceful timeout (30 s here). Retried, they are served by the
    # replacement worker.
    import http.client
    s = timeout_server(server_factory, tmp_path, 1000, threads, env={"GUNICORN_KEEPALIVE": "60"})
    old = s.workers()[0]
    idle = http.client.HTTPConnection("127.0.0.1", s.port, timeout=5)  # a keep-alive client
    idle.request("POST", "/predict", body=b"before")
    assert idle.getresponse().read() == b"before"
    hung = [b"sleep:60000"] * threads
    queued = [b"queued-%d" % i for i in range(2 * threads)]
    t0 = time.monotonic()
    got = answers(s.port, hung + queued, timeout=12)
    assert time.monotonic() - t0 < 12
    for r in got[:threads]:
        assert not isinstance(r, str) and r[0] == 504, got
    for body, r in zip(queued, got[threads:]):
        assert not isinstance(r, str), got  # an answer, not a cut connection
        assert r[0] in (200, 503), got
        if r[0] == 503:
            assert r[1].get("Retry-After") == "1", r
            assert json.loads(r[2])["status"]["reason"] == "MICROSERVICE_INTERNAL_ERROR"
        else:
            assert r[2] == body
    assert [r for r in got[threads:] if r[0] == 503], got
    # a request arriving later on a connection of the stuck worker is not queued either
    idle.request("POST", "/predict", body=b"after")
    r = idle.getresponse()
    assert (r.status, r.getheader("Retry-After"), r.getheader("Connection")) == (503, "1", "close")
    r.read()
    idle.close()
    wait_until(lambda: old not in s.workers() and len(s.workers()) == 1, 20,
               what="replacement worker")
    for body in queued:
        st, _, b = s.request("POST", "/predict", body)
        assert (st, b) == (200, body)
    _, _, text = s.scrape()
    assert re.search(r'cserve_requests_total\{code="503",route="predict"\} \d+', text), text


def test_pipelined_request_behind_a_hung_call_gets_a_clean_close(server_factory, tmp_path):
    # The 504 comes, then the connection ends with a FIN, not a reset that could destroy the 504
    # in flight: the client knows the pipelined request was not answered and can retry it.
    import socket
    s = timeout_server(server_factory, tmp_path, 1000, 2)
    c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    try:
        req = b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s"
        c.sendall(req % (11, b"sleep:60000"))
        time.sleep(0.3)  # the call runs: the next request stays unread in the socket
        c.sendall(req % (5, b"hello") * 3)
        out = b""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            chunk = c.recv(65536)  # a reset raises ConnectionResetError here
            if not chunk:
                break
            out += chunk
        assert out.startswith(b"HTTP/1.1 504"), out
        assert out.count(b"HTTP/1.1") == 1, out
        assert b"Connection: close" in out, out
        # no reset came after the FIN (Linux keeps the data read before one, other stacks
        # and a slower reader would have lost the 504)
        time.sleep(0.2)
        assert c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
        c.sendall(b"x")  # the server still reads (and discards) until its linger ends
        time.sleep(0.2)
        assert c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
    finally:
        c.close()


def test_answered_call_that_returns_late_still_lingers(server_factory, tmp_path):
    # The call outlives the timeout (504), then returns while the client is still sending: the
    # connection goes on lingering as the loop's own, rather than being closed over the bytes
    # still arriving (a reset, which can destroy the 504 before the client has read it).
    import http.client
    import socket
    s = timeout_server(server_factory, tmp_path, 1000, 2)
    c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    try:
        c.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nsleep:1800")
        t0 = time.monotonic()
        r = http.client.HTTPResponse(c)
        r.begin()
        assert r.status == 504
        r.read()
        time.sleep(max(0, 2.3 - (time.monotonic() - t0)))  # the call has returned meanwhile
        c.sendall(b"POST /predict HTTP/1.1\r\n")  # a client still sending
        time.sleep(0.2)
        assert c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
    finally:
        c.close()


def test_graceful_timeout_answers_what_is_left(server_factory):
    # TERM with a long call running and a request queued behind it (one thread): at the graceful
    # timeout the running call gets a 504 and the queued one a 503, not an empty reply.
    s = server_factory(args=["--graceful-timeout", "1", "--timeout", "60"],
                       env={"GUNICORN_WORKERS": "1", "GUNICORN_THREADS": "1"})
    s.wait_ready(workers=1)
    import threading
    result = {}
    t = threading.Thread(target=lambda: result.update(
        r=answers(s.port, [b"sleep:20000", b"queued"], timeout=10)))
    t.start()
    time.sleep(0.5)
    s.signal(signal.SIGTERM)
    t.join(15)
    got = result["r"]
    assert not isinstance(got[0], str) and got[0][0] == 504, got
    assert not isinstance(got[1], str) and got[1][0] == 503, got
    assert got[1][1].get("Retry-After") == "1", got
    assert s.proc.wait(10) == 0
