"""gRPC on the workers, the process side: the two-phase GOAWAY of a graceful stop (seen with a
hand-built HTTP/2 client)."""
import signal
import socket
import struct
import time

import pytest

from test_grpc import seldon_pb, server  # noqa: F401 (fixtures)

grpc = pytest.importorskip("grpc")


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
