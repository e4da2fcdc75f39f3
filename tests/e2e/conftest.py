"""Black-box test helpers: start the real cserve binary on a loopback port, talk to it, stop it.

Every wait is bounded in time; every server started is stopped at the end of its test."""
import os
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time
import ctypes
import http.client

import pytest

BIN = os.environ.get("CSERVE_BIN", os.path.join(os.path.dirname(__file__), "../../build/cserve"))
BUILD = os.environ.get("CSERVE_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
TEST_MODEL = os.path.join(BUILD, "tests/models/test_model.so")
_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


def wait_until(pred, timeout=10.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def children(pid):
    """Direct child pids of `pid` (the workers of a master)."""
    out = []
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out += [int(x) for x in f.read().split()]
        except OSError:
            pass
    return sorted(out)


def proc_status(pid, field):
    """A number from /proc/<pid>/status ("Threads", "VmRSS" in kB); 0 when absent."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def sanitizer_threads(pid):
    """Threads ThreadSanitizer's runtime itself runs in `pid` (two in a worker). They are told
    apart by what they do: they block every signal and idle in nanosleep, where cserve's
    threads wait in epoll or on a futex. Only looked for in a tsan build (gcc links libtsan.so;
    for clang's static runtime `make tsan` sets CSERVE_SANITIZER=thread)."""
    try:
        with open(f"/proc/{pid}/maps") as f:
            tsan = "libtsan" in f.read() or os.environ.get("CSERVE_SANITIZER") == "thread"
        if not tsan:
            return 0
        n = 0
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/wchan") as f:
                wchan = f.read()
            with open(f"/proc/{pid}/task/{task}/status") as f:
                blocked = re.search(r"^SigBlk:\s*(\S+)", f.read(), re.M).group(1)
            n += wchan == "hrtimer_nanosleep" and int(blocked, 16) & 0x7ffbfeff == 0x7ffbfeff
        return n
    except OSError:
        return 0


def thread_count(pid):
    """The threads cserve itself runs in `pid` (sanitizer runtime threads not counted)."""
    return proc_status(pid, "Threads") - sanitizer_threads(pid)


class Server:
    def __init__(self, args=(), env=None, model=TEST_MODEL, binary=BIN, wait=True,
                 preexec_fn=None, cwd=None):
        self.args = list(args)
        self.port = None  # the server picks a free port; read back from its log
        self.log = tempfile.NamedTemporaryFile(prefix="cserve-", suffix=".log", delete=False)
        full_env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("GUNICORN_", "SELDON_", "FLASK_", "PREDICTIVE_UNIT_"))}
        if model == TEST_MODEL:
            # the test model reads and answers raw bodies (sleep:N, crash, whoami, echo)
            full_env["PAYLOAD_PASSTHROUGH"] = "true"
        full_env.update(env or {})
        cmd = [binary] + ([model] if model else []) + [
            "--host", "127.0.0.1", "--http-port", "0", "--metrics-port", "0", "--grpc-port", "0",
            "--annotations-file", "/nonexistent"] + list(args)
        def child_setup():
            # if pytest itself is killed (a CI timeout, ^C twice), the server gets TERM too
            # instead of living on with its workers
            _libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
            if preexec_fn:
                preexec_fn()
        self.proc = subprocess.Popen(cmd, env=full_env, stdout=self.log, stderr=subprocess.STDOUT,
                                     preexec_fn=child_setup, cwd=cwd)
        if wait:
            self.wait_ready()

    def wait_ready(self, workers=None, timeout=15):
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.logs()}")
            if self.port is None:
                m = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", self.logs())
                if not m:
                    return False
                self.port = int(m.group(1))
            try:
                st, _, _ = self.request("GET", "/health/ping", timeout=1)
                return st == 200
            except OSError:
                return False
        wait_until(ready, timeout, what="server ready")
        # "Metrics at" is logged after "Listening at" and before any worker starts, so it is in
        # the log once the server answers (a poll could fall between the two lines)
        mm = re.search(r"Metrics at: http://127\.0\.0\.1:(\d+)", self.logs())
        self.metrics_port = int(mm.group(1)) if mm else None
        gm = re.search(r"gRPC at: 127\.0\.0\.1:(\d+)", self.logs())
        self.grpc_port = int(gm.group(1)) if gm else None
        if workers is not None:
            wait_until(lambda: len(self.workers()) == workers, timeout, what=f"{workers} workers")

    def scrape(self, path="/prometheus"):
        c = http.client.HTTPConnection("127.0.0.1", self.metrics_port, timeout=10)
        try:
            c.request("GET", path)
            r = c.getresponse()
            return r.status, r.getheader("Content-Type"), r.read().decode()
        finally:
            c.close()

    def workers(self):
        return children(self.proc.pid)

    def logs(self):
        text = ""
        paths = [self.log.name]
        if "--log-file" in self.args:
            paths.append(self.args[self.args.index("--log-file") + 1])
        for p in paths:
            try:
                with open(p, errors="replace") as f:
                    text += f.read()
            except FileNotFoundError:
                pass
        return text

    def request(self, method, path, body=None, headers=None, timeout=10):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, dict(r.getheaders()), r.read()
        finally:
            c.close()

    def raw(self, data, timeout=5, read_until_close=True):
        """Sends raw bytes, returns everything read until the server closes or times out."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        try:
            s.sendall(data)
            out = b""
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                try:
                    chunk = s.recv(65536)
                except socket.timeout:
                    break
                if not chunk:
                    break
                out += chunk
                if not read_until_close:
                    break
            return out
        finally:
            s.close()

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=20):
        if getattr(self, "stopped", False):
            return
        self.stopped = True
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        logs = self.logs()
        os.unlink(self.log.name)
        # Sanitizer builds (make asan / ubsan / tsan) report into the log: any report fails.
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                       "WARNING: ThreadSanitizer"):
            if marker in logs:
                pytest.fail(f"sanitizer report in server log:\n{logs[-4000:]}")


class Load:
    """Keep-alive clients in threads sending `body` to `path` until stopped or `max_requests`
    each. Records every outcome: a status code or the exception name."""

    def __init__(self, server, clients=8, path="/predict", body=b"hello", max_requests=100000,
                 max_seconds=60, check_body=True):
        self.server, self.path, self.body = server, path, body
        # the test model answers "sleep:N" with {"slept":N} and echoes anything else
        self.expect = (b'{"slept":' + body[6:] + b"}") if body.startswith(b"sleep:") else body
        if not check_body:
            self.expect = None  # any 200 counts
        self.max_requests, self.deadline = max_requests, time.monotonic() + max_seconds
        self.stop_flag = threading.Event()
        self.lock = threading.Lock()
        self.ok = 0
        self.failures = []
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(clients)]
        for t in self.threads:
            t.start()

    def _run(self):
        conn = None
        for _ in range(self.max_requests):
            if self.stop_flag.is_set() or time.monotonic() > self.deadline:
                break
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
                conn.request("POST", self.path, body=self.body,
                             headers={"Content-Type": "application/json"})
                r = conn.getresponse()
                data = r.read()
                if r.status == 200 and (self.expect is None or data == self.expect):
                    with self.lock:
                        self.ok += 1
                else:
                    with self.lock:
                        self.failures.append((r.status, data[:200]))
                if r.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except Exception as e:  # noqa: BLE001 - every failure kind is recorded
                with self.lock:
                    self.failures.append(type(e).__name__)
                if conn is not None:
                    conn.close()
                conn = None
        if conn is not None:
            conn.close()

    def count(self):
        with self.lock:
            return self.ok

    def finish(self, timeout=60, stop=True):
        """Stops the clients (or, with stop=False, lets each send its max_requests) and
        returns (successes, failures)."""
        if stop:
            self.stop_flag.set()
        for t in self.threads:
            t.join(timeout)
        return self.ok, list(self.failures)


@pytest.fixture
def server_factory():
    started = []

    def make(*args, **kwargs):
        s = Server(*args, **kwargs)
        started.append(s)
        return s

    yield make
    for s in started:
        s.stop()


SANITIZER_SKIP = "not measurable in a sanitizer build"


def sanitizer_build():
    """True for a cserve built with a sanitizer (make asan / ubsan / tsan), whichever compiler:
    gcc links the runtimes dynamically, clang statically, so the binary itself is read."""
    with open(BIN, "rb") as f:
        image = f.read()
    return any(sym in image for sym in (b"__asan_init", b"__tsan_init", b"__ubsan_handle"))


def skip_in_sanitizer_build(what):
    """For memory measurements, which a sanitizer's allocator (redzones, quarantine, shadow
    memory) makes meaningless: skips in a sanitizer build, where the same test ran, and had to
    pass, in the plain build of the same CI run."""
    if sanitizer_build():
        pytest.skip(f"{SANITIZER_SKIP}: {what}")


# With CI set, a skip is a failure: every dependency of these tests is in scripts/install-deps,
# so a test that skips there is a test that silently did not run. The one exception is a
# measurement that only the plain build can make (skip_in_sanitizer_build).
def _fail_skip_in_ci(rep):
    if (os.environ.get("CI") and rep.skipped and not hasattr(rep, "wasxfail")
            and SANITIZER_SKIP not in str(rep.longrepr)):
        rep.outcome = "failed"
        rep.longrepr = f"skipped although CI is set: {rep.longrepr}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    _fail_skip_in_ci(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    _fail_skip_in_ci(outcome.get_result())
