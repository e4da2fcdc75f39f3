"""The native model ABI 1.0 at its edges: which shared objects load (hidden visibility), which
are refused and how (0.x models, newer minors), and the per-worker unload hook."""
import os
import re
import signal
import subprocess
import threading

from conftest import BUILD, TEST_MODEL, Server, wait_until


def model_path(name):
    return os.path.join(BUILD, "tests/models", name + ".so")


def refused(model):
    """Starts cserve on `model`, expects it to stop at start-up; returns (exit code, log)."""
    s = Server(model=model, wait=False)
    try:
        rc = s.proc.wait(15)
        return rc, s.logs()
    finally:
        s.stop()


def unload_lines(logs):
    return re.findall(r"test model: unload pid=(\d+) tid=(\d+) load_tid=(\d+)", logs)


def test_model_built_with_hidden_visibility_loads():
    # the Makefile builds the test model with -fvisibility=hidden: only what <cserve/model.h>
    # marks CSM_EXPORT is in its dynamic symbol table, and cserve loads it
    out = subprocess.run(["nm", "-D", "--defined-only", TEST_MODEL], capture_output=True,
                         text=True, check=True, timeout=30).stdout
    assert "csm_model_execute" in out and "csm_model_unload" in out
    assert "test_model_visibility_probe" not in out  # the build flag did apply
    s = Server()
    try:
        st, _, body = s.request("POST", "/predict", b"hello")
        assert (st, body) == (200, b"hello")
    finally:
        s.stop()


def test_abi_0x_model_is_refused_with_a_rebuild_message():
    rc, logs = refused(model_path("abi0_model"))
    assert rc != 0
    assert "built for the cserve model ABI 0.x" in logs
    assert "rebuild it against <cserve/model.h>" in logs


def test_model_needing_a_newer_minor_is_refused():
    rc, logs = refused(model_path("abi_future_model"))
    assert rc != 0
    assert "was built for cserve model ABI 1.1; this server provides 1.0" in logs
    assert "init must not be called" not in logs


def test_unload_hook_runs_in_each_worker_on_graceful_stop():
    s = Server(env={"GUNICORN_WORKERS": "2"})
    try:
        s.wait_ready(workers=2)
        pids = set(s.workers())
        s.signal(signal.SIGTERM)
        assert s.proc.wait(20) == 0
        lines = unload_lines(s.logs())
        assert {int(p) for p, _, _ in lines} == pids
        assert len(lines) == 2  # once per worker
    finally:
        s.stop()


def test_unload_hook_runs_when_a_worker_is_recycled():
    # single-threaded: the hook runs on the thread that ran load (and every call). Every request
    # counts toward the limit, readiness probes too, and a probe that timed out on a slow machine
    # was still served: the test cannot know which request is the second, so it sends requests
    # until a worker has been recycled and checks the pid in the unload line against the workers
    # it saw.
    s = Server(env={"GUNICORN_MAX_REQUESTS": "2", "FLASK_SINGLE_THREADED": "1"})
    try:
        s.wait_ready(workers=1)
        seen = set(s.workers())
        def recycled():
            return [(p, t, lt) for p, t, lt in unload_lines(s.logs()) if int(p) in seen]
        for _ in range(6):
            st, _, _ = s.request("POST", "/predict", b"x")
            assert st == 200
            seen |= set(s.workers())
            if recycled():
                break
        wait_until(recycled, 10, what="unload line of a worker the test saw")
        assert all(tid == load_tid for _, tid, load_tid in unload_lines(s.logs()))
        pid = int(recycled()[0][0])
        wait_until(lambda: s.workers() and pid not in s.workers(), 15, what="recycle")
    finally:
        s.stop()


def test_unload_hook_skipped_when_a_call_is_still_running():
    # a call stuck past the graceful timeout may still be inside the model: no hook beside it
    s = Server(args=["--graceful-timeout", "1"])
    t = threading.Thread(target=lambda: s.request("POST", "/predict", b"sleep:5000", timeout=15),
                         daemon=True)
    try:
        t.start()
        wait_until(lambda: re.search(r"^cserve_in_flight_requests(\{[^}]*\})? 1(\.0)?$",
                                     s.scrape()[2], re.M), 10, what="the call inside the model")
        s.signal(signal.SIGTERM)
        s.proc.wait(20)
        assert unload_lines(s.logs()) == []
    finally:
        s.stop()
        t.join(15)
