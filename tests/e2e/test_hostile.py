"""Hostile input on the request path (issue 8): no byte of one request in another's response,
and memory/output bounded by what a request carries."""
import http.client
import json
import os

import pytest

from conftest import Server

MODELS = os.path.join(os.path.dirname(__file__), "pymodels")


def passthrough_error(body):
    """The reference's text for bytes reaching the normal path: Python's bytes repr."""
    return "Invalid request data type: " + repr(body)


def alternate(server, secret_body, error_body, rounds):
    """Secret-bearing and error requests in turn on one keep-alive connection; returns the info
    texts of the error answers."""
    infos = []
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        for i in range(rounds):
            for body, is_error in ((secret_body(i), False), (error_body(i), True)):
                c.request("POST", "/api/v1.0/predictions", body=body,
                          headers={"Content-Type": "text/plain"})
                r = c.getresponse()
                data = r.read()
                if is_error:
                    assert r.status == 400, data
                    infos.append((body, json.loads(data)["status"]["info"]))
    finally:
        c.close()
    return infos


@pytest.mark.parametrize("kind", ["native", "python"])
def test_passthrough_error_has_only_its_own_bytes(kind):
    # thousands of keep-alive requests: long secret bodies, then a short one that the model
    # leaves unanswered; the error text must be the repr of that body and nothing else
    if kind == "native":
        s = Server(env={"GUNICORN_WORKERS": "1"})
        secret = lambda i: b"SECRET-%06d-" % i + b"s" * 300
        short = [b"noanswer", b"noanswer\x00\xff'\"\\\t\n\r", b"noanswer'q"]
    else:
        pytest.importorskip("numpy")
        s = Server(model="Combos.Runtime", cwd=MODELS,
                   env={"GUNICORN_WORKERS": "1", "PAYLOAD_PASSTHROUGH": "true"})
        secret = lambda i: b"SECRET-%06d-" % i + b"s" * 300
        short = [b"x", b"", b"\x00\xff'\"\\\t\n\r", b"it's", b"a\x7f"]
    try:
        errors = [short[i % len(short)] for i in range(1500)]
        infos = alternate(s, secret, lambda i: errors[i], 1500)
        assert len(infos) == 1500
        for body, info in infos:
            assert "SECRET" not in info and "sss" not in info
            assert info == passthrough_error(body)
    finally:
        s.stop()


def test_passthrough_error_is_bounded():
    # a long body: the repr is cut (the reference prints it all) and never reads past the body
    s = Server(env={"GUNICORN_WORKERS": "1"})
    try:
        body = b"noanswer" + bytes(range(256)) * 8
        st, _, data = s.request("POST", "/predict", body, {"Content-Type": "text/plain"})
        assert st == 400
        info = json.loads(data)["status"]["info"]
        full = passthrough_error(body)
        assert len(info) <= len("Invalid request data type: ") + 400
        assert full.startswith(info) and len(info) > 300
    finally:
        s.stop()


def worker_peak_kb(server):
    """Peak resident memory (VmHWM) of the only worker."""
    (pid,) = server.workers()
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM")


def post_json(server, body):
    st, _, data = server.request("POST", "/api/v1.0/predictions", body,
                                 {"Content-Type": "application/json"}, timeout=60)
    return st, json.loads(data)


def test_tftensor_elements_are_bounded_by_the_request():
    # 96 bytes claiming 2^28 doubles (2 GiB): refused before anything is allocated or touched
    s = Server(model=None, env={"GUNICORN_WORKERS": "1"})
    try:
        before = worker_peak_kb(s)
        st, out = post_json(s, b'{"data":{"tftensor":{"dtype":"DT_DOUBLE","tensorShape":'
                               b'{"dim":[{"size":"268435456"}]}}}}')
        assert st == 400, out
        assert out["status"]["reason"] == "MICROSERVICE_BAD_DATA"
        assert "padding to the shape is limited to 65536" in out["status"]["info"]
        assert worker_peak_kb(s) - before < 64 * 1024
        # tensor_content too short for its shape: the mismatch is found before allocating
        st, out = post_json(s, b'{"data":{"tftensor":{"dtype":"DT_DOUBLE","tensorShape":'
                               b'{"dim":[{"size":"268435456"}]},"tensorContent":"AAAAAAAAAAA="}}}')
        assert st == 500 and "does not match the shape" in out["status"]["info"], out
        # a shape whose product overflows
        st, out = post_json(s, b'{"data":{"tftensor":{"dtype":"DT_INT64","tensorShape":{"dim":'
                               b'[{"size":"4294967296"},{"size":"4294967296"},{"size":"16"}]},'
                               b'"int64Val":["1"]}}}')
        assert st == 400 and "is too large" in out["status"]["info"], out
        assert worker_peak_kb(s) - before < 64 * 1024
        # make_ndarray's padding within the bound still works: one value fills the shape
        st, out = post_json(s, b'{"data":{"tftensor":{"dtype":"DT_DOUBLE","tensorShape":'
                               b'{"dim":[{"size":"4"},{"size":"2"}]},"doubleVal":[1]}}}')
        assert st == 200, out
        assert s.request("GET", "/health/ping")[0] == 200
    finally:
        s.stop()


def test_empty_tensor_dimensions_are_bounded():
    # 60 bytes, no elements, a 10^12 second dimension: the identity model's response would be
    # 10^12 generated names (capped at 10^6 = 10.9 MB before); refused instead
    pytest.importorskip("numpy")
    s = Server(model="MModel", cwd=MODELS, env={"GUNICORN_WORKERS": "1"})
    try:
        st, out = post_json(s, b'{"data":{"tensor":{"shape":[0,1000000000000],"values":[]}}}')
        assert st == 400, out
        assert out["status"]["info"] == (
            "tensor shape (0,1000000000000) is too large for an array without elements: its "
            "non-zero dimensions may multiply to at most 65536")
        st, out = post_json(s, b'{"data":{"tftensor":{"dtype":"DT_DOUBLE","tensorShape":{"dim":'
                               b'[{"size":"0"},{"size":"1000000000000"}]}}}}')
        assert st == 400 and "without elements" in out["status"]["info"], out
        # small empty shapes keep the reference's names
        st, out = post_json(s, b'{"data":{"tensor":{"shape":[0,3],"values":[]}}}')
        assert st == 200, out
        assert out["data"]["names"] == ["t:0", "t:1", "t:2"]
        assert out["data"]["tensor"] == {"shape": [0, 3], "values": []}
        # values that do not match the shape, even when its product overflows: numpy's text
        st, out = post_json(s, b'{"data":{"tensor":{"shape":[4294967296,4294967296,2],'
                               b'"values":[1]}}}')
        assert st == 500, out
        assert out["status"]["info"] == ("cannot reshape array of size 1 into shape "
                                         "(4294967296,4294967296,2)")
    finally:
        s.stop()
