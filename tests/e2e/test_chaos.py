"""Abrupt and broken clients against a busy server, with model timeouts and worker rolls going on:
no worker may crash (a use after free once did exactly that), the sanitizer builds must stay
silent (conftest checks the log), a well-behaved client must still be served afterwards, and no
connection may be left behind.

Each client thread picks, at random with a fixed seed, one of the ways real clients go wrong."""
import random
import signal
import socket
import struct
import threading
import time

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

    threads = [threading.Thread(target=client, args=(i,)) for i in range(6)]
    threads.append(threading.Thread(target=roll))
    for t in threads:
        t.start()
    for t in threads:
        t.join(SECONDS + 20)
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
