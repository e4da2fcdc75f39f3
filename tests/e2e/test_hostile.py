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
