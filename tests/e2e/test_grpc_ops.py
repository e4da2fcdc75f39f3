"""gRPC on the workers, the process side (spec §1.1, §5.3, §6.7): GRPC_THREADS bounding a
worker's gRPC model calls, GUNICORN_MAX_REQUESTS counting RPCs, the two-phase GOAWAY of a
graceful stop (seen with a hand-built HTTP/2 client), and a Python model's predict_grpc."""
import json
import signal
import socket
import struct
import time

import pytest

from conftest import wait_until
from test_grpc import (PREDICT, PYMODELS, _samples, channel, gauge, predict_fn,  # noqa: F401
                       predict_load, seldon_call, seldon_pb, server)

grpc = pytest.importorskip("grpc")


def concurrent_predicts(ch, seldon_pb, n, seconds):
    """n Predict calls of the Concurrency model at once; returns each answer's [most, calls]."""
    pb, jf = seldon_pb
    fn, req = predict_fn(ch, seldon_pb, seconds)
    futs = [fn.future(req, timeout=60) for _ in range(n)]
    return [jf.MessageToDict(f.result())["data"]["ndarray"][0] for f in futs]


def test_grpc_threads_default_runs_one_call_at_a_time(server, seldon_pb):
    """GRPC_THREADS defaults to 1 (spec §5.3): one RPC at a time per worker, the others queue,
    even with ten model threads (which REST may still use)."""
    s = server(model="GrpcOps.Concurrency", cwd=PYMODELS, env={"GUNICORN_THREADS": "10"})
    with channel(s) as ch:
        answers = concurrent_predicts(ch, seldon_pb, 4, 0.3)
    assert max(most for most, _ in answers) == 1, answers
    assert sorted(calls for _, calls in answers) == [1, 2, 3, 4]


def test_grpc_threads_n_runs_n_calls_at_a_time(server, seldon_pb):
    s = server(model="GrpcOps.Concurrency", cwd=PYMODELS,
               env={"GUNICORN_THREADS": "10", "GRPC_THREADS": "3"})
    with channel(s) as ch:
        answers = concurrent_predicts(ch, seldon_pb, 6, 1.0)
    assert max(most for most, _ in answers) == 3, answers


def test_grpc_threads_beyond_the_pool_is_bounded_by_it_and_warned_once(server, seldon_pb):
    s = server(model="GrpcOps.Concurrency", cwd=PYMODELS,
               env={"GUNICORN_THREADS": "2", "GRPC_THREADS": "20", "GUNICORN_WORKERS": "2"})
    s.wait_ready(workers=2)
    assert s.logs().count("GRPC_THREADS=20 exceeds the 2 model thread(s)") == 1, s.logs()
    with channel(s) as ch:
        answers = concurrent_predicts(ch, seldon_pb, 1, 0.0)  # a call works
    assert answers[0][0] == 1


def test_cancelling_a_call_waiting_for_a_grpc_thread_frees_it(server, seldon_pb):
    """A call waiting behind GRPC_THREADS is counted in the queue gauge; cancelling it takes it
    out of the queue, and the model never sees it."""
    s = server(model="GrpcOps.Concurrency", cwd=PYMODELS, env={"GUNICORN_THREADS": "10"})
    with channel(s) as ch:
        fn, slow = predict_fn(ch, seldon_pb, 3.0)
        _, quick = predict_fn(ch, seldon_pb, 0.0)
        running = fn.future(slow, timeout=60)
        wait_until(lambda: (gauge(s, "cserve_in_flight_requests") or 0) >= 1, 10, what="running")
        first = fn.future(quick, timeout=60)
        wait_until(lambda: gauge(s, "cserve_model_queue_depth") == 1, 10, what="queued")
        waiting = fn.future(quick, timeout=60)
        wait_until(lambda: gauge(s, "cserve_model_queue_depth") == 2, 10, what="queued")
        last = fn.future(quick, timeout=60)
        wait_until(lambda: gauge(s, "cserve_model_queue_depth") == 3, 10, what="queued")
        waiting.cancel()  # the middle one of three
        wait_until(lambda: gauge(s, "cserve_model_queue_depth") == 2, 10, what="cancel dequeued")
        assert not running.done()  # the queue shrank by the cancel, not by the slow call
        pb, jf = seldon_pb
        assert jf.MessageToDict(running.result())["data"]["ndarray"][0] == [1, 1]
        # in order, one at a time; the cancelled one never ran
        assert jf.MessageToDict(first.result())["data"]["ndarray"][0] == [1, 2]
        assert jf.MessageToDict(last.result())["data"]["ndarray"][0] == [1, 3]
        assert gauge(s, "cserve_model_queue_depth") == 0
    assert waiting.cancelled()
    assert s.proc.poll() is None


def test_max_requests_counts_rpcs_and_the_recycle_loses_none(server, seldon_pb):
    """Only gRPC calls (beside the one readiness ping): the worker recycles every 15 of them, and
    no RPC fails across a recycle (GOAWAY, in-flight calls finished, the client reconnects)."""
    s = server(model=None, env={"GUNICORN_MAX_REQUESTS": "15",
                                "GUNICORN_MAX_REQUESTS_JITTER": "0"})
    s.wait_ready(workers=1)
    first = s.workers()[0]
    join = predict_load(s, seldon_pb, 4, clients=3)
    ok, failures = join()
    assert failures == [] and ok > 30, (ok, failures[:5])
    assert s.logs().count("Autorestarting worker") >= 2, s.logs()[-3000:]
    wait_until(lambda: s.workers() and first not in s.workers(), 20, what="recycled worker")


# ---- a hand-built HTTP/2 client: grpcio hides the GOAWAYs -------------------------------------

H2_DATA, H2_HEADERS, H2_SETTINGS, H2_PING, H2_GOAWAY = 0x0, 0x1, 0x4, 0x6, 0x7
END_STREAM, END_HEADERS, ACK = 0x1, 0x4, 0x1
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def h2_frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + \
        struct.pack(">I", stream) + payload


class RawH2:
    """Frames in and out of one connection; every loop bounded by `deadline`."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        self.eof = False
        self.sock.sendall(PREFACE + h2_frame(H2_SETTINGS, 0, 0))

    def next_frame(self, deadline):
        """(kind, flags, stream, payload), or None at EOF or the deadline."""
        while True:
            if len(self.buf) >= 9:
                n = int.from_bytes(self.buf[:3], "big")
                if len(self.buf) >= 9 + n:
                    head, self.buf = self.buf[:9 + n], self.buf[9 + n:]
                    return head[3], head[4], int.from_bytes(head[5:9], "big") & 0x7fffffff, head[9:]
            left = deadline - time.monotonic()
            if self.eof or left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return None
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                self.eof = True
            self.buf += chunk

    def wait_for(self, kind, deadline, flags_without=0):
        """Reads up to the first frame of `kind` (not carrying `flags_without`); acks SETTINGS."""
        while (f := self.next_frame(deadline)) is not None:
            if f[0] == H2_SETTINGS and not f[1] & ACK:
                self.sock.sendall(h2_frame(H2_SETTINGS, ACK, 0))
            if f[0] == kind and not f[1] & flags_without:
                return f
        return None

    def goaway_and_ping(self, deadline):
        """The first GOAWAY and the server's PING, in whichever order they come."""
        goaway = ping = None
        while goaway is None or ping is None:
            f = self.next_frame(deadline)
            if f is None:
                break
            if f[0] == H2_GOAWAY and goaway is None:
                goaway = f
            elif f[0] == H2_PING and not f[1] & ACK:
                ping = f
        return goaway, ping

    def close(self):
        self.sock.close()


def test_graceful_stop_serves_streams_opened_between_the_two_goaways(server, seldon_pb):
    """TERM: the first GOAWAY names stream 2^31-1 and comes with a PING; a stream the client
    opens before it acks the PING is still answered, and the final GOAWAY (after the ACK) names
    it. A connection that never acks gets its final GOAWAY anyway, after a bounded wait."""
    import hpack
    pb, jf = seldon_pb
    s = server(model=None, env={"GUNICORN_THREADS": "2"})
    s.wait_ready(workers=1)
    acking, silent = RawH2(s.grpc_port), RawH2(s.grpc_port)
    try:
        deadline = time.monotonic() + 10
        for c in (acking, silent):
            assert c.wait_for(H2_SETTINGS, deadline) is not None
        time.sleep(0.2)  # both settled on the worker's loop
        s.signal(signal.SIGTERM)
        goaway, ping = acking.goaway_and_ping(deadline)
        assert goaway is not None, s.logs()
        assert int.from_bytes(goaway[3][:4], "big") & 0x7fffffff == 2**31 - 1, goaway
        assert ping is not None
        # a stream opened now, before the PING's ACK: as if it had crossed the GOAWAY
        enc = hpack.Encoder()
        headers = enc.encode([(":method", "POST"), (":scheme", "http"),
                              (":path", "/seldon.protos.Model/Predict"),
                              (":authority", "127.0.0.1"), ("content-type", "application/grpc"),
                              ("te", "trailers")])
        msg = jf.ParseDict({"data": {"ndarray": [[1.0, 2.0, 3.0, 4.0]]}},
                           pb.SeldonMessage()).SerializeToString()
        acking.sock.sendall(h2_frame(H2_HEADERS, END_HEADERS, 1, headers) +
                            h2_frame(H2_DATA, END_STREAM, 1,
                                     b"\0" + struct.pack(">I", len(msg)) + msg) +
                            h2_frame(H2_PING, ACK, 0, ping[3]))
        dec = hpack.Decoder()
        fields, body, final = {}, b"", None
        while (f := acking.next_frame(deadline)) is not None:
            if f[0] == H2_HEADERS:
                fields.update(dict(dec.decode(f[3])))
            elif f[0] == H2_DATA and f[2] == 1:
                body += f[3]
            elif f[0] == H2_GOAWAY:
                final = int.from_bytes(f[3][:4], "big") & 0x7fffffff
        assert final == 1, (final, s.logs())
        assert fields.get("grpc-status") == "0", fields
        answer = jf.MessageToDict(pb.SeldonMessage.FromString(body[5:]))
        assert answer["data"]["ndarray"] == [[0.8807970779778823]], answer
        # the connection that never acked: its final GOAWAY (no stream: last id 0) came anyway
        first, _ = silent.goaway_and_ping(deadline)
        assert first is not None
        assert int.from_bytes(first[3][:4], "big") & 0x7fffffff == 2**31 - 1
        last = silent.wait_for(H2_GOAWAY, deadline)
        assert last is not None and int.from_bytes(last[3][:4], "big") == 0, last
    finally:
        acking.close()
        silent.close()
    s.proc.wait(20)
    assert s.proc.returncode == 0, s.logs()


# ---- §6.7 G3 ---------------------------------------------------------------------------------

def test_predict_grpc_gets_the_message_and_its_answer_is_the_response(server, seldon_pb):
    """G3: a Python model's predict_grpc takes the request SeldonMessage and what it returns is
    the answer, as it is (predict_raw and predict are not reached)."""
    s = server(model="GrpcOps.LowLevelGrpc", cwd=PYMODELS)
    with channel(s) as ch:
        r = seldon_call(ch, seldon_pb, "/seldon.protos.Model/Predict",
                        {"data": {"tensor": {"shape": [2, 1], "values": [1.0, 2.0]}}})
        assert r == {"data": {"tensor": {"shape": [2, 1], "values": [9.0, 9.0]}}}
        r = seldon_call(ch, seldon_pb, "/seldon.protos.Seldon/Predict", {"strData": "hi"})
        assert r == {"strData": "SeldonMessage:hi"}


# ---- hostile clients and models against the slots, the wait queue and the stop -------------

def predict_frames(seldon_pb, sid, x, hpack_encoder):
    """HEADERS and DATA (ending the stream) of one Model/Predict of [[x]] on stream `sid`."""
    pb, jf = seldon_pb
    headers = hpack_encoder.encode([(":method", "POST"), (":scheme", "http"),
                                    (":path", "/seldon.protos.Model/Predict"),
                                    (":authority", "127.0.0.1"),
                                    ("content-type", "application/grpc"), ("te", "trailers")])
    msg = jf.ParseDict({"data": {"ndarray": [[x]]}}, pb.SeldonMessage()).SerializeToString()
    return (h2_frame(H2_HEADERS, END_HEADERS, sid, headers) +
            h2_frame(H2_DATA, END_STREAM, sid, b"\0" + struct.pack(">I", len(msg)) + msg))


def test_a_connection_closed_with_calls_running_and_waiting_leaks_no_slot(server, seldon_pb):
    """A client sends a slow call and four that must wait for the one GRPC_THREADS slot, then
    drops the connection: the waiting ones leave the queue unrun, the running one's answer is
    dropped, each of the five is counted once (Canceled), and the slot serves the next call."""
    import hpack
    s = server(model="GrpcOps.Concurrency", cwd=PYMODELS, env={"GUNICORN_THREADS": "4"})
    raw = RawH2(s.grpc_port)
    try:
        assert raw.wait_for(H2_SETTINGS, time.monotonic() + 10) is not None
        enc = hpack.Encoder()
        raw.sock.sendall(b"".join(predict_frames(seldon_pb, sid, 1.0 if sid == 1 else 0.0, enc)
                                  for sid in (1, 3, 5, 7, 9)))
        wait_until(lambda: gauge(s, "cserve_model_queue_depth") == 4, 10, what="four waiting")
    finally:
        raw.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        raw.close()  # a reset, with five calls open
    wait_until(lambda: gauge(s, "cserve_model_queue_depth") == 0 and
               gauge(s, "cserve_in_flight_requests") == 0, 10, what="calls released")
    pb, jf = seldon_pb
    with channel(s) as ch:
        fn, quick = predict_fn(ch, seldon_pb, 0.0)
        # the model ran the slow call and now this one: the four waiting never reached it
        assert jf.MessageToDict(fn(quick, timeout=10))["data"]["ndarray"][0] == [1, 2]
    text = s.scrape()[2]
    assert _samples(text, "cserve_requests_total", route=PREDICT, code="Canceled") == 5, text
    assert _samples(text, "cserve_requests_total", route=PREDICT) == 6, text
    assert s.proc.poll() is None


def slow_call_and_waiting(s, ch, seldon_pb, n):
    """A Concurrency call of 4 s running (seen in the in-flight gauge), then `n` quick ones sent
    behind it; returns their futures."""
    fn, slow = predict_fn(ch, seldon_pb, 4.0)
    _, quick = predict_fn(ch, seldon_pb, 0.0)
    running = fn.future(slow, timeout=30)
    wait_until(lambda: (gauge(s, "cserve_in_flight_requests") or 0) >= 1, 10, what="running")
    return running, [fn.future(quick, timeout=30) for _ in range(n)]


def test_graceful_timeout_answers_running_and_waiting_calls_unavailable(server, seldon_pb):
    """TERM with one call running past the graceful timeout and two waiting for its slot: the
    running one is answered UNAVAILABLE at the timeout, the waiting ones too (the model never
    saw them), and the worker exits cleanly."""
    s = server(model="GrpcOps.Concurrency", cwd=PYMODELS, env={"GUNICORN_THREADS": "4"},
               args=["--graceful-timeout", "1"])
    with channel(s) as ch:
        running, waiting = slow_call_and_waiting(s, ch, seldon_pb, 2)
        wait_until(lambda: gauge(s, "cserve_model_queue_depth") == 2, 10, what="two waiting")
        s.signal(signal.SIGTERM)
        for f, text in [(running, "while the model call ran")] + \
                [(w, "before a model thread was free") for w in waiting]:
            with pytest.raises(grpc.RpcError) as e:
                f.result(timeout=15)
            assert e.value.code() == grpc.StatusCode.UNAVAILABLE, e.value.details()
            assert text in e.value.details()
    assert s.proc.wait(20) == 0, s.logs()


def test_a_model_call_past_the_timeout_refuses_the_calls_waiting_behind_it(server, seldon_pb):
    """--timeout with GRPC_THREADS=1: the stuck call is DEADLINE_EXCEEDED, the calls waiting
    for its slot are UNAVAILABLE at once (no slot will come), and a new worker serves."""
    s = server(model="GrpcOps.Concurrency", cwd=PYMODELS, env={"GUNICORN_THREADS": "4"},
               args=["--timeout", "1"])
    s.wait_ready(workers=1)
    first = s.workers()[0]
    with channel(s) as ch:
        running, waiting = slow_call_and_waiting(s, ch, seldon_pb, 3)
        with pytest.raises(grpc.RpcError) as e:
            running.result(timeout=15)
        assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED, e.value.details()
        for w in waiting:
            with pytest.raises(grpc.RpcError) as e:
                w.result(timeout=15)
            assert e.value.code() == grpc.StatusCode.UNAVAILABLE, e.value.details()
    wait_until(lambda: s.workers() and first not in s.workers(), 20, what="replaced worker")
    s.wait_ready(workers=1)
    with channel(s) as ch:
        fn, quick = predict_fn(ch, seldon_pb, 0.0)
        fn(quick, timeout=20)


def stopping_server(server, **kw):
    """A server with one hand-built connection settled on its worker's loop, then TERM: the
    server, the connection and a deadline for the test's reads."""
    s = server(**kw)
    s.wait_ready(workers=1)
    raw = RawH2(s.grpc_port)
    deadline = time.monotonic() + 15
    assert raw.wait_for(H2_SETTINGS, deadline) is not None
    time.sleep(0.2)
    s.signal(signal.SIGTERM)
    return s, raw, deadline


def note_status(frame, dec, status):
    """Records the grpc-status of a HEADERS frame that carries one, by stream."""
    if frame[0] == H2_HEADERS:
        fields = dict(dec.decode(frame[3]))
        if "grpc-status" in fields:
            status[frame[2]] = fields["grpc-status"]


def test_a_client_opening_streams_between_the_goaways_is_bounded(server, seldon_pb):
    """After TERM a client that never acks the PING (an ACK with other opaque data is no ACK)
    and keeps opening streams still gets the final GOAWAY, naming the last stream served; every
    stream up to it is answered, and the worker exits."""
    import hpack
    s, raw, deadline = stopping_server(server, model=None, env={"GUNICORN_THREADS": "2"})
    try:
        goaway, ping = raw.goaway_and_ping(deadline)
        assert goaway is not None and ping is not None, s.logs()
        raw.sock.sendall(h2_frame(H2_PING, ACK, 0, b"notours!"))  # a spoofed ACK
        enc, dec = hpack.Encoder(), hpack.Decoder()
        sid, final, status = 1, None, {}
        while final is None and time.monotonic() < deadline:
            try:
                raw.sock.sendall(predict_frames(seldon_pb, sid, 1.0, enc))
            except OSError:
                break
            sid += 2
            until = time.monotonic() + 0.05
            while (f := raw.next_frame(until)) is not None:
                note_status(f, dec, status)
                if f[0] == H2_GOAWAY:
                    final = int.from_bytes(f[3][:4], "big") & 0x7fffffff
        assert final is not None, s.logs()
        assert final >= 3  # the spoofed ACK did not end the notice before our second stream
        while len(status) < (final + 1) // 2 and (f := raw.next_frame(deadline)) is not None:
            note_status(f, dec, status)
        assert status == {i: "0" for i in range(1, final + 1, 2)}, (final, status)
    finally:
        raw.close()
    assert s.proc.wait(20) == 0, s.logs()


def test_the_shutdown_ping_follows_its_goaway_on_the_wire(server, seldon_pb):
    """RFC 9113 §6.8: the PING times a round trip after the first GOAWAY, so it must not overtake
    it. A client that reads frames in order, acks a PING at once and opens a stream whenever it
    has not seen a GOAWAY yet: the first GOAWAY comes before the PING, and every stream the
    client opened is served and covered by the final GOAWAY."""
    import hpack
    s, raw, deadline = stopping_server(server, model=None, env={"GUNICORN_THREADS": "2"})
    try:
        enc, dec = hpack.Encoder(), hpack.Decoder()
        seen, opened, status, final = [], [], {}, None
        while (f := raw.next_frame(deadline)) is not None:
            if f[0] == H2_GOAWAY:
                last = int.from_bytes(f[3][:4], "big") & 0x7fffffff
                if "GOAWAY" in seen or last != 2**31 - 1:
                    final = last
                seen.append("GOAWAY")
            elif f[0] == H2_PING and not f[1] & ACK:
                seen.append("PING")
                raw.sock.sendall(h2_frame(H2_PING, ACK, 0, f[3]))
                if "GOAWAY" not in seen:  # it may still open streams
                    sid = 2 * len(opened) + 1
                    raw.sock.sendall(predict_frames(seldon_pb, sid, 1.0, enc))
                    opened.append(sid)
            else:
                note_status(f, dec, status)
            if final is not None and len(status) == len(opened):
                break
        assert seen[:2] == ["GOAWAY", "PING"], seen
        assert final is not None and all(sid <= final for sid in opened), (final, opened)
        assert status == {sid: "0" for sid in opened}, status
    finally:
        raw.close()
    assert s.proc.wait(20) == 0, s.logs()


def test_a_stop_cut_short_by_the_graceful_timeout_still_sends_the_final_goaway(server):
    """GRACEFUL_TIMEOUT=0 ends the stop before the PING's ACK or its one-second bound: the
    connection still gets the final GOAWAY (naming the last stream served, none here) before
    its end, so the client knows no stream it opened meanwhile was processed, rather than a
    bare close after the notice."""
    s, silent, deadline = stopping_server(server, model=None, args=["--graceful-timeout", "0"])
    try:  # `silent` never acks the PING
        goaways = []
        while (f := silent.next_frame(deadline)) is not None:
            if f[0] == H2_GOAWAY:
                goaways.append(int.from_bytes(f[3][:4], "big") & 0x7fffffff)
        assert silent.eof, "the connection did not end"
        assert goaways == [2**31 - 1, 0], goaways
    finally:
        silent.close()
    assert s.proc.wait(20) == 0, s.logs()


def test_the_graceful_timeout_answers_and_counts_a_call_still_being_received(server):
    """A call whose message has not all arrived when a stopping worker's graceful timeout
    passes is answered UNAVAILABLE by the server (as a partial HTTP request gets its 503) and
    counted once, not left to the connection's end at the worker's exit, unseen by the
    metrics. The stop is a HUP's (the old worker drains while its replacement serves); a
    recycle after GUNICORN_MAX_REQUESTS=1 raced the readiness probe, which counts too."""
    import threading
    s = server(args=["--graceful-timeout", "1"])
    s.wait_ready(workers=1)
    first = s.workers()[0]
    stop = threading.Event()

    def requests():
        stop.wait(20)  # headers only: the message never comes
        yield b""

    with channel(s) as ch:
        fut = ch.stream_unary(PREDICT).future(requests(), timeout=30)
        time.sleep(0.3)
        s.signal(signal.SIGHUP)  # the worker holding the call drains
        with pytest.raises(grpc.RpcError) as e:
            fut.result(timeout=15)
        stop.set()
        assert e.value.code() == grpc.StatusCode.UNAVAILABLE, e.value.details()
        assert "graceful timeout" in e.value.details(), e.value.details()
    wait_until(lambda: s.workers() and first not in s.workers(), 20, what="recycled worker")
    text = s.scrape()[2]
    assert _samples(text, "cserve_requests_total", route=PREDICT, code="Unavailable") == 1, text


def test_a_cancel_storm_over_many_connections_leaves_the_slots_whole(server, seldon_pb):
    """Four connections, 40 calls each waiting for the one slot; half cancelled one by one,
    then every connection reset under the rest: the queue and the in-flight gauge go back to
    zero, each call is counted once, and the worker serves the next call."""
    import hpack
    s = server(model="GrpcOps.Concurrency", cwd=PYMODELS, env={"GUNICORN_THREADS": "2"})
    conns = [RawH2(s.grpc_port) for _ in range(4)]
    try:
        deadline = time.monotonic() + 10
        for c in conns:
            assert c.wait_for(H2_SETTINGS, deadline) is not None
        encs = [hpack.Encoder() for _ in conns]
        for i, c in enumerate(conns):
            c.sock.sendall(b"".join(predict_frames(seldon_pb, 2 * k + 1, 0.3, encs[i])
                                    for k in range(40)))
        wait_until(lambda: (gauge(s, "cserve_in_flight_requests") or 0) == 160, 10,
                   what="160 calls in")
        RST_STREAM = 0x3
        for i, c in enumerate(conns):  # every other stream: CANCEL (8)
            c.sock.sendall(b"".join(h2_frame(RST_STREAM, 0, 2 * k + 1, struct.pack(">I", 8))
                                    for k in range(0, 40, 2)))
    finally:
        for c in conns:
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c.close()
    wait_until(lambda: gauge(s, "cserve_model_queue_depth") == 0 and
               gauge(s, "cserve_in_flight_requests") == 0, 15, what="calls released")
    with channel(s) as ch:
        fn, quick = predict_fn(ch, seldon_pb, 0.0)
        fn(quick, timeout=10)
    text = s.scrape()[2]
    assert _samples(text, "cserve_requests_total", route=PREDICT) == 161, text
    assert _samples(text, "cserve_requests_total", route=PREDICT, code="OK") >= 1
    assert s.proc.poll() is None
