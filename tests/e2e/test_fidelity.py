"""The last differences from the reference server a Seldon user's tests would see (issue 10):
raw methods' metrics, models without the called method, feedback metric printing, the order of
meta.metrics, Werkzeug's reason phrases, the built-in model's numpy view of its input. Expected
bodies are the reference's exact bytes (spec §2.4, §3.7.4, §3.8.2, §3.8.5, §4.3)."""
import json
import os
import shutil
import subprocess

import pytest

from conftest import BUILD
from test_metrics import total

pytest.importorskip("numpy")
MODELS = os.path.join(os.path.dirname(__file__), "pymodels")
TEST_MODEL = os.path.join(BUILD, "tests/models/test_model.so")


@pytest.fixture
def serve(server_factory):
    """Python models by name from pymodels/; native ones (or None, the built-in) with cwd=None."""
    return lambda model, env=None, args=(), cwd=MODELS: server_factory(
        model=model, cwd=cwd, env=env, args=list(args))


def post(s, path, msg):
    body = msg if isinstance(msg, (bytes, str)) else json.dumps(msg)
    st, h, data = s.request("POST", path, body, {"Content-Type": "application/json"})
    assert data.endswith(b"\n"), data
    return st, data.decode()[:-1]


def status_line(s, request):
    head = s.raw(request, read_until_close=True)
    return head.split(b"\r\n", 1)[0].decode()


# ---- 1. raw methods' meta.metrics (spec §2.4, §4.3) ------------------------------------------

RAW_ROUTES = [("/predict", {"data": {"ndarray": [1]}}, "predict", "predict"),
              ("/transform-input", {"data": {"ndarray": [1]}}, "transform_input",
               "inputtransform"),
              ("/transform-output", {"data": {"ndarray": [1]}}, "transform_output",
               "outputtransform"),
              ("/route", {"data": {"ndarray": [1]}}, "route", "router"),
              ("/aggregate", [{"data": {"ndarray": [1]}}], "aggregate", "aggregate")]


def raw_body(name, method):
    return ('{"data":{"ndarray":["%s"]},"meta":{"metrics":[{"key":"raw_counter","tags":'
            '{"method":"%s","src":"%s"},"type":"COUNTER","value":1},{"key":"raw_gauge",'
            '"type":"GAUGE","value":7}]}}' % (name, method, name))


def test_raw_methods_metrics_are_recorded_and_tagged(serve):
    s = serve("Fidelity.RawMetrics")
    for path, msg, name, method in RAW_ROUTES:
        assert post(s, path, msg) == (200, raw_body(name, method))
    _, _, text = s.scrape()
    for _, _, name, method in RAW_ROUTES:
        assert total(text, "raw_counter_total", method=method, src=name) == 1
        assert total(text, "raw_gauge", method=method) == 7


def test_raw_methods_metrics_leave_the_reply_when_not_included(serve):
    s = serve("Fidelity.RawMetrics", env={"INCLUDE_METRICS_IN_CLIENT_RESPONSE": "false"})
    for path, msg, name, method in RAW_ROUTES:
        assert post(s, path, msg) == (200, '{"data":{"ndarray":["%s"]},"meta":{}}' % name)
    _, _, text = s.scrape()
    assert total(text, "raw_counter_total", method="router", src="route") == 1
    # falsy metrics stay where they are, as the reference only deletes a non-empty list
    assert post(s, "/predict", {"strData": "empty"}) == (200, '{"meta":{"metrics":[]}}')


def test_raw_metrics_the_reference_cannot_record(serve):
    s = serve("Fidelity.RawMetrics")

    def error(kind, info):
        st, body = post(s, "/predict", {"strData": kind})
        assert st == 500, body
        assert json.loads(body) == {"status": {"code": -1, "info": info, "status": 1,
                                               "reason": "MICROSERVICE_INTERNAL_ERROR"}}
    error("no-key", "'key'")
    error("meta-list", "'list' object has no attribute 'get'")
    error("tag-int", "sequence item 1: expected str instance, int found")
    error("counter-str", "unsupported operand type(s) for +: 'int' and 'str'")
    # a metric without a type is a COUNTER; an unknown type is skipped (its tags still
    # gain the method, as the reference sets it before looking at the type)
    assert post(s, "/predict", {"strData": "no-type"}) == \
        (200, '{"meta":{"metrics":[{"key":"typeless","value":3}]}}')
    assert post(s, "/predict", {"strData": "unknown-type"}) == \
        (200, '{"meta":{"metrics":[{"key":"odd","tags":{"method":"predict"},"type":"FOO",'
              '"value":3}]}}')
    _, _, text = s.scrape()
    assert total(text, "typeless_total", method="predict") == 3
    assert "odd" not in text
    assert "\nk{" not in text  # nothing of a failed update is recorded


def promtool_accepts_metrics_of(serve, metrics, env=None, feedback=False):
    """Records `metrics` through a raw answer's meta; the page must be what Prometheus takes."""
    if not shutil.which("promtool"):
        pytest.skip("promtool (Debian package prometheus) is not installed")
    s = serve("Fidelity.RawEcho", env=env)
    for metric in metrics:
        st, _ = post(s, "/predict", {"jsonData": {"meta": {"metrics": [metric]}}})
        assert st == 200
    if feedback:
        assert post(s, "/send-feedback", {"reward": 1})[0] == 200
    _, _, text = s.scrape()
    r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    return text


def test_metric_text_cannot_break_the_metrics_page(serve):
    # Keys and tag values come from the model, and through it from requests: a line feed or a
    # backslash in a key went into the HELP line as it was (a second line, which Prometheus
    # refuses with the whole page), and a lone surrogate (kept by the JSON decoder as its
    # three bytes) made the page invalid UTF-8.
    text = promtool_accepts_metrics_of(serve, [
        {"key": key, "type": "GAUGE", "value": 1, "tags": tags}
        for key, tags in [("line\nfeed {x} 1", {}), ("back\\slash", {}), ("\ud800key", {}),
                          ("tagged", {"t": "\ud800", "u": "\udc00\\\n\""})]])
    assert "line" in text and "slash" in text and "tagged" in text


def test_tag_names_that_collide_keep_the_metrics_page_valid(serve):
    # Tag names are made valid label names; two that became one ("a b", "a_b"), an empty one,
    # or one that became a default label's name gave a sample a label twice (or an empty
    # label name), and Prometheus refused the whole page. The later tag of a name wins (the
    # answer's keys are sorted as json.dumps(sort_keys=True) would: "a b", "a-b", "a_b").
    text = promtool_accepts_metrics_of(serve, [
        {"key": "collide", "value": 1, "tags": {"a b": "x", "a_b": "y", "a-b": "z"}},
        {"key": "empty", "value": 1, "tags": {"": "e"}},
        {"key": "reserved", "value": 1, "tags": {"model name": "m"}}])
    assert 'collide_total{a_b="y",' in text and 'empty_total{_="e",' in text


def test_keys_of_one_prometheus_name_are_one_family(serve):
    # A counter "x" is exposed as x_total, as is a gauge "x_total": sorted by key, a gauge "x_a"
    # came between them and x_total got a second HELP and TYPE line, which fails the page.
    # Keys that give one name are one family (its first type wins, as for equal keys), and
    # one series where their labels agree ("hits now" and "hits_now" add up). A gauge named
    # or a timer named as a timer's histogram samples (lat_count, lat_bucket) is left out the
    # same way.
    text = promtool_accepts_metrics_of(serve, [
        {"key": "x", "value": 1}, {"key": "x_a", "type": "GAUGE", "value": 5},
        {"key": "x_total", "type": "GAUGE", "value": 7},
        {"key": "lat", "type": "TIMER", "value": 1}, {"key": "lat_count", "type": "GAUGE",
                                                      "value": 1},
        {"key": "lat_sum", "type": "GAUGE", "value": 1},
        {"key": "lat_bucket", "type": "TIMER", "value": 1},
        {"key": "hits now", "value": 1}, {"key": "hits_now", "value": 2}])
    assert total(text, "x_total", method="predict") == 1
    assert total(text, "hits_now_total", method="predict") == 3
    assert total(text, "lat_count", method="predict") == 1  # the histogram's count


def test_tag_value_ending_in_a_backslash_stays_one_label(serve):
    # Merging a series' labels with the defaults split them at commas outside quotes, taking the
    # closing quote of "x\\" (a value ending in a backslash) for an escaped one: the next tag's
    # value was cut at its comma, the defaults written into it, and the page refused.
    text = promtool_accepts_metrics_of(
        serve, [{"key": "bs", "value": 1, "tags": {"a": "x\\", "b": "y,z"}}])
    assert total(text, "bs_total", a="x\\\\", b="y,z", method="predict") == 1  # as escaped


def test_label_names_prometheus_keeps_for_itself(serve):
    # A tag named __name__ (any "__" name is Prometheus' own), or le on a TIMER (its buckets'
    # label), made Prometheus refuse the whole page; they are left out of the series.
    text = promtool_accepts_metrics_of(serve, [
        {"key": "tm", "type": "TIMER", "value": 1, "tags": {"le": "x", "keep": "k"}},
        {"key": "named", "value": 1, "tags": {"__name__": "y", "__x": "z", "keep": "k"}}])
    assert total(text, "tm_count", keep="k") == 1 and total(text, "named_total", keep="k") == 1
    assert 'le="x"' not in text and "__" not in text


def test_long_default_labels_are_not_cut(serve):
    # The default labels come from the environment, of any length; they were merged with a
    # series' tags into fixed buffers (1 KiB for the feedback counters), which cut a long image
    # name in the middle of a label and the page was refused.
    image = "registry.example.com/" + "p" * 600 + ":" + "v" * 100
    text = promtool_accepts_metrics_of(
        serve, [{"key": "lat", "type": "TIMER", "value": 1, "tags": {"t": "x" * 300}}],
        env={"PREDICTIVE_UNIT_IMAGE": image, "SELDON_DEPLOYMENT_ID": "d" * 200},
        feedback=True)
    assert total(text, "lat_count", method="predict", t="x" * 300) == 1
    assert total(text, "seldon_api_model_feedback_total", method="feedback") == 1


def test_deprecated_rest_variant_is_not_looked_into(serve):
    s = serve("Fidelity.RestMetrics", env={"INCLUDE_METRICS_IN_CLIENT_RESPONSE": "false"})
    st, body = post(s, "/predict", {"data": {"ndarray": [1]}})
    assert json.loads(body)["meta"]["metrics"][0] == {
        "key": "raw_counter", "tags": {"src": "predict_rest"}, "type": "COUNTER", "value": 1}
    _, _, text = s.scrape()
    assert "raw_counter" not in text


def test_send_feedback_raw_metrics_are_recorded(serve):
    # read through protobuf: the reply's tags stay as they were, COUNTER has no "type"
    s = serve("Fidelity.FeedbackRawMetrics")
    assert post(s, "/send-feedback", {"reward": 1}) == (
        200, '{"meta":{"metrics":[{"key":"fb_raw","tags":{"a":"b"},"value":2.0},{"key":'
             '"fb_gauge","tags":{"c":"d"},"type":"GAUGE","value":5.0}]},"strData":"ok"}')
    _, _, text = s.scrape()
    assert total(text, "fb_raw_total", a="b", method="feedback") == 2
    assert total(text, "fb_gauge", c="d", method="feedback") == 5
    s = serve("Fidelity.FeedbackRawMetrics", env={"INCLUDE_METRICS_IN_CLIENT_RESPONSE": "false"})
    assert post(s, "/send-feedback", {"reward": 1}) == (200, '{"meta":{},"strData":"ok"}')


def test_native_raw_answers_metrics(serve):
    # the test model answers with call_respond (a raw answer): it echoes the body
    s = serve(TEST_MODEL, env={"PAYLOAD_PASSTHROUGH": "false"}, cwd=None)
    msg = ('{"meta":{"metrics":[{"value":2,"key":"native_raw","type":"COUNTER",'
           '"tags":{"a":"b"}}]},"strData":"x"}\n')
    assert post(s, "/predict", msg) == (
        200, '{"meta":{"metrics":[{"key":"native_raw","tags":{"a":"b","method":"predict"},'
             '"type":"COUNTER","value":2}]},"strData":"x"}')
    _, _, text = s.scrape()
    assert total(text, "native_raw_total", a="b", method="predict") == 2
    # an answer without metrics is sent exactly as the model wrote it
    msg = b'{"strData": "y", "meta": {}}'
    assert s.request("POST", "/predict", msg, {"Content-Type": "application/json"})[2] == msg


# ---- 2. a model without the method still decorates the response (spec §3.8.2, §3.8.5) -------

def test_missing_transforms_use_class_names(serve):
    s = serve("Fidelity.ClassNamesOnly")
    for path in ("/transform-input", "/transform-output"):
        assert post(s, path, {"data": {"ndarray": [[1, 2, 3, 4]]}}) == \
            (200, '{"data":{"names":["proba"],"ndarray":[[1,2,3,4]]},"meta":{}}')


def test_missing_methods_still_call_tags_and_metrics(serve):
    s = serve("Fidelity.NoMethods", env={"PREDICTIVE_UNIT_ID": "u"})
    meta = ('"meta":{"metrics":[{"key":"mycounter","type":"COUNTER","value":1}],'
            '"requestPath":{"u":"NOT_IMPLEMENTED:NOT_IMPLEMENTED"},"tags":{"mytag":1}}')
    for path in ("/transform-input", "/transform-output"):
        assert post(s, path, {"data": {"ndarray": [[1, 2]]}}) == \
            (200, '{"data":{"names":["proba"],"ndarray":[[1,2]]},%s}' % meta)
    assert post(s, "/predict", {"data": {"ndarray": [[1, 2]]}}) == \
        (200, '{"data":{"names":[],"ndarray":[]},%s}' % meta)
    assert post(s, "/send-feedback", {"request": {"data": {"ndarray": [[1, 2]]}}}) == (
        200, '{"data":{"ndarray":[]},"meta":{"metrics":[{"key":"mycounter","value":1.0}],'
             '"requestPath":{"u":"NOT_IMPLEMENTED:NOT_IMPLEMENTED"},"tags":{"mytag":1.0}}}')
    _, _, text = s.scrape()
    for method in ("inputtransform", "outputtransform", "predict", "feedback"):
        assert total(text, "mycounter_total", method=method) == 1


# ---- 3. feedback replies print metrics as protobuf does (spec §3.8.5) ------------------------

def test_feedback_metrics_print_as_protobuf(serve):
    s = serve("Fidelity.FeedbackMetrics")
    assert post(s, "/send-feedback", {}) == (
        200, '{"data":{"tensor":{"shape":[0]}},"meta":{"metrics":[{"key":"mycounter",'
             '"value":1.0},{"key":"zero","type":"GAUGE"},{"key":"mytimer","type":"TIMER",'
             '"value":20.2},{"key":"third","tags":{"method":"feedback","t":"v"},"type":"GAUGE",'
             '"value":0.33333334}]}}')


# ---- 4. order of meta.metrics (spec §3.7.4) --------------------------------------------------

def test_model_metrics_come_before_runtime_metrics(serve):
    s = serve("Combos.Runtime")
    st, body = post(s, "/predict", {"meta": {"metrics": [{"key": "req", "type": "GAUGE",
                                                          "value": 1}]},
                                    "data": {"ndarray": [1]}})
    keys = [m["key"] for m in json.loads(body)["meta"]["metrics"]]
    assert keys == ["req", "mycounter", "mygauge", "mytimer", "customtag", "runtime_gauge"]


# ---- 5. reason phrases as Werkzeug prints them -----------------------------------------------

def test_reason_phrases_are_werkzeugs(serve):
    s = serve("Fidelity.StatusCodes", args=["--limit-request-body", "100"])

    def line(method, path, body=b"", length=None):
        req = (b"%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: "
               b"application/json\r\nContent-Length: %d\r\n\r\n%s"
               % (method.encode(), path.encode(), len(body) if length is None else length, body))
        return status_line(s, req)
    assert line("GET", "/health/ping") == "HTTP/1.1 200 OK"
    assert line("GET", "/nope") == "HTTP/1.1 404 NOT FOUND"
    assert line("DELETE", "/predict") == "HTTP/1.1 405 METHOD NOT ALLOWED"
    assert line("POST", "/predict", b"[1") == "HTTP/1.1 400 BAD REQUEST"
    assert line("POST", "/predict", b'{"strData": "raise"}') == \
        "HTTP/1.1 500 INTERNAL SERVER ERROR"
    # cserve's own refusals (no body sent: the answer comes before it would be read)
    assert line("POST", "/predict", length=5000) == "HTTP/1.1 413 REQUEST ENTITY TOO LARGE"
    assert status_line(s, b"GET / HTTP/1.1\r\nX: " + b"v" * 9000 + b"\r\n\r\n") == \
        "HTTP/1.1 431 REQUEST HEADER FIELDS TOO LARGE"
    for code, text in [(402, "PAYMENT REQUIRED"), (403, "FORBIDDEN"), (418, "I'M A TEAPOT"),
                       (422, "UNPROCESSABLE ENTITY"), (503, "SERVICE UNAVAILABLE"),
                       (299, "UNKNOWN"), (599, "UNKNOWN")]:
        body = b'{"strData": "%d"}' % code
        assert line("POST", "/predict", body) == "HTTP/1.1 %d %s" % (code, text)


def test_statuses_without_a_body_keep_the_connection_framed(serve):
    # A model's status.code of 204 or 304 has no body in HTTP (RFC 9110 15.3.5, 15.4.5), and a
    # 1xx is an interim response, never a final one: sent as they were, the body (or the next
    # response) was read as the answer to the next request on the connection. As Werkzeug:
    # 204 and 304 go out without a body; a 1xx from a model is a 500.
    s = serve("Fidelity.StatusCodes")
    ping = b"GET /health/ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    for code, line in [(204, b"HTTP/1.1 204 NO CONTENT"), (304, b"HTTP/1.1 304 NOT MODIFIED"),
                       (100, b"HTTP/1.1 500 INTERNAL SERVER ERROR"),
                       (101, b"HTTP/1.1 500 INTERNAL SERVER ERROR"),
                       (199, b"HTTP/1.1 500 INTERNAL SERVER ERROR")]:
        body = b'{"strData": "%d"}' % code
        req = (b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Content-Length: %d\r\n\r\n%s" % (len(body), body)) + ping
        out = s.raw(req, read_until_close=True)
        head, _, rest = out.partition(b"\r\n\r\n")
        assert head.split(b"\r\n")[0] == line, out
        if code >= 200:
            assert b"Content-Length" not in head, out
            # the next bytes are the next response's
            assert rest.startswith(b"HTTP/1.1 200 OK\r\n") and rest.endswith(b"pong"), out
        else:
            length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
            assert rest[length:].startswith(b"HTTP/1.1 200 OK\r\n"), out


# ---- 6. the built-in model follows numpy -----------------------------------------------------

@pytest.mark.parametrize("x,want", [
    ([[True, False]], [[0.5]]),                      # the mean of True and False
    ([[12345678901234567890, 1]], [[1.0]]),          # uint64 next to int64: float64
    ([[True, 12345678901234567890]], [[1.0]]),       # bool next to uint64: uint64
    ([[True, 2]], [[0.7310585786300049]]),
    ([[True, False], [1, 2.5]], [[0.5], [0.7772998611746911]]),
])
def test_builtin_model_takes_what_numpy_takes(serve, x, want):
    s = serve(None, cwd=None)
    assert post(s, "/predict", {"data": {"ndarray": x}}) == \
        (200, json.dumps({"data": {"names": ["proba"], "ndarray": want}, "meta": {}},
                         separators=(",", ":")))


def test_builtin_model_rejects_what_numpy_rejects(serve):
    s = serve(None, cwd=None)

    def info(msg):
        st, body = post(s, "/predict", msg)
        assert st == 500, body
        return json.loads(body)["status"]["info"]
    assert info({"data": {"ndarray": [True, False]}}) == "Incorrect shape"
    assert info({"data": {"ndarray": [[[True]]]}}) == "Incorrect shape"
    assert info({"jsonData": [[1], [2, 3]]}).startswith(
        "setting an array element with a sequence. The requested array has an inhomogeneous "
        "shape after 1 dimensions. The detected shape was (2,) + inhomogeneous part.")
    assert info({"data": {"ndarray": [["a", "b"]]}})  # 2-D, but no mean
    assert info({"data": {"ndarray": [[-2000, 1]]}}) == "math range error"  # math.exp overflows
    # a jsonData matrix is a numpy matrix too, answered as a tensor (no data in the request)
    assert post(s, "/predict", {"jsonData": [[True, False]]}) == \
        (200, '{"data":{"names":["proba"],"tensor":{"shape":[1,1],"values":[0.5]}},"meta":{}}')


def test_ragged_ndarray_error_is_numpys(serve):
    # numpy reports the shallowest disagreement, and the detected shape as a tuple's repr
    s = serve(None, cwd=None)
    text = ("setting an array element with a sequence. The requested array has an inhomogeneous "
            "shape after %d dimensions. The detected shape was %s + inhomogeneous part.")
    for x, depth, shape in [([[[1], [2, 3]], [4]], 1, "(2,)"),
                            ([[[1], [2]], [[3], [4, 5]]], 2, "(2, 2)"),
                            ([[1, 2], [3, [4]]], 2, "(2, 2)")]:
        st, body = post(s, "/predict", {"data": {"ndarray": x}})
        assert (st, json.loads(body)["status"]["info"]) == (500, text % (depth, shape))
    # the reshape error keeps numpy's own spelling, without spaces
    st, body = post(s, "/predict", {"data": {"tensor": {"shape": [2, 2], "values": [1, 2, 3]}}})
    assert json.loads(body)["status"]["info"] == "cannot reshape array of size 3 into shape (2,2)"
