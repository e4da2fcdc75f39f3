"""Abrupt and broken clients against a busy server, with model timeouts and worker rolls going on:
no worker may crash (a use after free once did exactly that), the sanitizer builds must stay
silent (conftest checks the log), a well-behaved client must still be served afterwards, and no
connection may be left behind.

Each client thread picks, at random with a fixed seed, one of the ways real clients go wrong."""
import os
import random
import signal
import socket
import struct
import threading
import time

import pytest

SECONDS = 5
ARRAY = (b'{"data":{"ndarray":['
         + b",".join([b"[" + b",".join([b"1.5"] * 1000) + b"]"] * 30) + b"]}}")


def request(body, extra=b""):
    return (b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + extra
            + b"Content-Length: %d\r\n\r\n" % len(body) + body)


def chunked(body):
    out = (b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           b"Transfer-Encoding: chunked\r\n\r\n")
    for i in range(0, len(body), 5000):
        part = body[i:i + 5000]
        out += b"%x\r\n" % len(part) + part + b"\r\n"
    return out + b"0\r\n\r\n"


def run_all(threads, timeout):
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)


def misbehave(port, r):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        k = r.randrange(11)
        if k == 0:  # part of the head, then gone
            s.sendall(request(b"hello")[:r.randrange(1, 40)])
        elif k == 1:  # part of a large body, then gone
            d = request(ARRAY)
            s.sendall(d[:r.randrange(100, len(d))])
        elif k == 2:  # a pipelined burst, then gone before the answers
            s.sendall(request(b"hello") * r.randrange(1, 20) + request(ARRAY))
        elif k == 3:  # reset while large answers are being written
            s.sendall(request(ARRAY) * 3)
            time.sleep(r.uniform(0, 0.003))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif k == 4:  # a chunked body cut short
            d = chunked(ARRAY)
            s.sendall(d[:r.randrange(100, len(d))])
        elif k == 5:  # asks for 100-continue, then vanishes
            s.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                      b"Content-Length: 100000\r\n\r\n")
            time.sleep(r.uniform(0, 0.002))
        elif k == 6:  # well-behaved keep-alive exchanges
            for _ in range(r.randrange(1, 5)):
                s.sendall(request(b"hello"))
                s.recv(65536)
        elif k == 7:  # garbage
            s.sendall(bytes(r.randrange(256) for _ in range(r.randrange(1, 300))))
        elif k == 8:  # hangs up just as its model call ends
            ms = r.randrange(0, 4)
            s.sendall(request(b"sleep:%d" % ms))
            time.sleep(max(0.0, ms + r.uniform(-1, 1)) / 1000)
        elif k == 9:  # a call that outlives the timeout: answered 504, worker replaced
            s.sendall(request(b"sleep:1500"))
            if r.random() < 0.5:
                s.recv(1000)
        else:  # half-close after the request
            s.sendall(request(ARRAY))
            s.shutdown(socket.SHUT_WR)
            time.sleep(r.uniform(0, 0.003))
    except OSError:
        pass
    finally:
        s.close()


def test_broken_clients_crash_nothing(server_factory, tmp_path):
    ann = tmp_path / "annotations"
    ann.write_text('seldon.io/rest-timeout="1000"\n')
    s = server_factory(args=["--annotations-file", str(ann)],
                       env={"GUNICORN_WORKERS": "2", "GUNICORN_THREADS": "4",
                            "GUNICORN_MAX_REQUESTS": "300"})
    s.wait_ready(workers=2)
    deadline = time.monotonic() + SECONDS

    def client(seed):
        r = random.Random(seed)
        while time.monotonic() < deadline:
            try:
                misbehave(s.port, r)
            except OSError:
                pass

    def roll():
        r = random.Random(99)
        while time.monotonic() < deadline - 1:
            time.sleep(r.uniform(0.5, 1.5))
            s.signal(r.choice([signal.SIGHUP, signal.SIGTTIN, signal.SIGTTOU]))

    run_all([threading.Thread(target=client, args=(i,)) for i in range(6)]
            + [threading.Thread(target=roll)], SECONDS + 20)
    logs = s.logs()
    assert "Respawning" not in logs, logs[-3000:]
    st, _, body = s.request("POST", "/predict", b"still here", timeout=20)
    assert (st, body) == (200, b"still here")
    # no connection is left behind: a graceful stop waits only for keep-alive and the calls
    # still running (it once waited out the 30 s graceful timeout for peers that had hung up)
    t0 = time.monotonic()
    s.signal(signal.SIGTERM)
    assert s.proc.wait(20) == 0
    assert time.monotonic() - t0 < 8, s.logs()[-3000:]


MODELS = os.path.join(os.path.dirname(__file__), "pymodels")


def call(port, what, timeout=30):
    """One request on its own connection: (status, headers, body) or the exception's name."""
    import http.client
    import json
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("POST", "/predict", body=json.dumps({"strData": what}),
                  headers={"Content-Type": "application/json"})
        r = c.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    except Exception as e:  # noqa: BLE001 - an unanswered request, whatever the kind
        return type(e).__name__
    finally:
        c.close()


@pytest.mark.parametrize("threads", [1, 10])
def test_hung_threads_and_spawning_models_leave_nothing_unanswered(server_factory, tmp_path,
                                                                   threads):
    # A Python model that starts and stops subprocesses (fork + exec, and fork alone) under
    # steady traffic, while bursts of calls that never return take every model thread of the
    # worker. Every request gets an answer: 200, 504 for a hung call, or 503 + Retry-After for
    # one queued behind hung threads; no connection is cut, no child outlives its terminate().
    import json
    pytest.importorskip("numpy")
    ann = tmp_path / "annotations"
    # 2 s: a spawn or fork call takes about 0.25 s, with room for a loaded machine
    ann.write_text('seldon.io/rest-timeout="2000"\n')
    s = server_factory(model="Spawner", cwd=MODELS, args=["--annotations-file", str(ann)],
                       env={"GUNICORN_WORKERS": "1", "GUNICORN_THREADS": str(threads)})
    s.wait_ready(workers=1)
    deadline = time.monotonic() + SECONDS
    lock = threading.Lock()
    outcomes = []  # (what was asked, what came back)

    def record(what, got):
        with lock:
            outcomes.append((what, got))

    def client(seed):
        r = random.Random(seed)
        while time.monotonic() < deadline:
            what = r.choice(["spawn", "fork", "echo-%d" % r.randrange(1000)])
            record(what, call(s.port, what))

    def hang():
        # every model thread of the worker at once, then the worker is replaced
        while time.monotonic() < deadline - 1:
            burst = [threading.Thread(target=lambda: record("sleep:30", call(s.port, "sleep:30")))
                     for _ in range(threads)]
            run_all(burst, 40)

    run_all([threading.Thread(target=client, args=(i,)) for i in range(3)]
            + [threading.Thread(target=hang)], SECONDS + 60)
    unanswered = [(w, g) for w, g in outcomes if isinstance(g, str)]
    assert unanswered == [], (unanswered, s.logs()[-3000:])
    kinds = {}
    for what, (status, headers, body) in outcomes:
        kind = (what.split("-")[0].split(":")[0], status)  # ("echo", 200), ("sleep", 504), ...
        kinds[kind] = kinds.get(kind, 0) + 1
        if status == 503:
            assert headers.get("Retry-After") == "1", (what, headers, body)
        elif what.startswith("sleep:"):
            assert status == 504, (what, status, body)
        else:
            assert status == 200, (what, status, body)
            if what in ("spawn", "fork"):
                child = json.loads(body)["jsonData"]
                assert child["terminated"] is True, child
                assert int(child["SigBlk"], 16) & 0x7fffffff == 0, child
    assert kinds.get(("sleep", 504)), kinds
    assert kinds.get(("spawn", 200)) and kinds.get(("fork", 200)), kinds
    logs = s.logs()
    assert "Respawning" not in logs, logs[-3000:]
    st, _, _ = s.request("POST", "/predict", json.dumps({"strData": "still here"}),
                         {"Content-Type": "application/json"}, timeout=20)
    assert st == 200
    t0 = time.monotonic()
    s.signal(signal.SIGTERM)
    assert s.proc.wait(20) == 0
    assert time.monotonic() - t0 < 8, s.logs()[-3000:]
