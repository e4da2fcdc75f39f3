"""The master/worker supervisor under load: crashes, hangs, recycling, reloads, signals."""
import json
import re
import os
import signal
import subprocess
import tempfile
import time

from conftest import Load, Server, TEST_MODEL, BIN, thread_count, wait_until


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
    ann = tmp_path / "annotations"
    ann.write_text('seldon.io/rest-timeout="1000"\n')
    s = server_factory(args=["--annotations-file", str(ann)],
                       env={"GUNICORN_WORKERS": "1", "GUNICORN_THREADS": "4"})
    s.wait_ready(workers=1)
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
    ann = tmp_path / "annotations"
    ann.write_text('seldon.io/rest-timeout="1500"\n')
    s = server_factory(args=["--annotations-file", str(ann)],
                       env={"GUNICORN_WORKERS": "1", "GUNICORN_THREADS": "4"})
    s.wait_ready(workers=1)
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
