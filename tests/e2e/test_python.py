"""Unmodified Seldon Python model classes in embedded CPython (spec §2, §6 examples)."""
import json
import os
import socket
import subprocess
import threading
import time
import urllib.parse

import pytest

from conftest import BIN, Server

pytest.importorskip("numpy")
MODELS = os.path.join(os.path.dirname(__file__), "pymodels")


def serve(name, params=None, env=None, args=()):
    extra = list(args)
    if params is not None:
        extra += ["--parameters", json.dumps(params)]
    return Server(model=name, cwd=MODELS, args=extra, env=env)


@pytest.fixture
def py_server():
    started = []

    def make(*a, **k):
        s = serve(*a, **k)
        started.append(s)
        return s
    yield make
    for s in started:
        s.stop()


def get(s, path, msg):
    st, h, body = s.request("GET", path + "?json=" + urllib.parse.quote(json.dumps(msg)))
    return st, body.decode().rstrip("\n")


def post(s, path, msg):
    st, h, body = s.request("POST", path, json.dumps(msg), {"Content-Type": "application/json"})
    return st, body.decode().rstrip("\n")


E1 = ('{"data":{"names":["t:0","t:1"],"ndarray":[[1,2]]},"meta":{"metrics":[{"key":"mycounter",'
      '"type":"COUNTER","value":1}],"tags":{"mytag":1}}}')


def test_e1_e3_m_model(py_server):
    s = py_server("MModel")
    assert get(s, "/predict", {"data": {"names": ["a", "b"], "ndarray": [[1, 2]]}}) == (200, E1)
    st, body = get(s, "/predict", {"meta": {"puid": "123"}, "data": {"names": ["a", "b"],
                                                                     "ndarray": [[1, 2]]}})
    assert json.loads(body)["meta"]["puid"] == "123"
    assert post(s, "/api/v1.0/predictions", {"data": {"names": ["a", "b"],
                                                      "ndarray": [[1, 2]]}}) == (200, E1)


def test_e6_e7_tags_and_metrics_pass_through(py_server):
    s = py_server("MModel")
    st, body = get(s, "/predict", {"meta": {"tags": {"foo": "bar"}}, "data": {"ndarray": []}})
    assert body == ('{"data":{"names":[],"ndarray":[]},"meta":{"metrics":[{"key":"mycounter",'
                    '"type":"COUNTER","value":1}],"tags":{"foo":"bar","mytag":1}}}')
    st, body = get(s, "/predict", {"meta": {"metrics": [{"key": "request_gauge", "type": "GAUGE",
                                                         "value": 100}]}, "data": {"ndarray": []}})
    assert json.loads(body)["meta"]["metrics"] == [
        {"key": "request_gauge", "type": "GAUGE", "value": 100},
        {"key": "mycounter", "type": "COUNTER", "value": 1}]


def test_e8_model_gets_meta(py_server):
    s = py_server("MModel", params=[{"name": "ret_meta", "type": "BOOL", "value": "true"}])
    st, body = get(s, "/predict", {"meta": {"puid": "abc"}, "data": {"ndarray": []}})
    assert json.loads(body)["meta"]["tags"] == {"inc_meta": {"puid": "abc"}}


def test_e9_e12_payload_kinds(py_server):
    s = py_server("MModel")
    assert get(s, "/predict", {"binData": "MTIz"})[1] == (
        '{"binData":"MTIz","meta":{"metrics":[{"key":"mycounter","type":"COUNTER","value":1}],'
        '"tags":{"mytag":1}}}')
    assert get(s, "/predict", {"strData": "my data"})[1] == (
        '{"meta":{"metrics":[{"key":"mycounter","type":"COUNTER","value":1}],"tags":{"mytag":1}},'
        '"strData":"my data"}')
    s2 = py_server("MModel", params=[{"name": "ret_nparray", "type": "BOOL", "value": "1"}])
    assert json.loads(get(s2, "/predict", {"binData": "MTIzNA=="})[1])["data"] == \
        {"names": [], "tensor": {"shape": [3], "values": [1, 2, 3]}}


def test_e14_e15_raw_methods(py_server):
    s = py_server("MLow")
    assert get(s, "/predict", {"data": {"ndarray": [1, 2]}}) == (200, '{"data":{"ndarray":[9,9]}}')
    assert s.request("GET", "/health/status")[2] == b'{"data":{"ndarray":[123.456,7.89]}}\n'
    s2 = py_server("MLow", params=[{"name": "status", "type": "BOOL", "value": "yes"}])
    assert get(s2, "/predict", {"data": {"ndarray": []}}) == \
        (400, '{"data":{"ndarray":[9,9]},"status":{"code":400,"status":"FAILURE"}}')


def test_e26_bad_metrics(py_server):
    s = py_server("MModel", params=[{"name": "metrics_ok", "type": "BOOL", "value": "false"}])
    st, body = get(s, "/predict", {"data": {"ndarray": []}})
    assert st == 500
    assert json.loads(body)["status"] == {
        "code": -1, "reason": "MICROSERVICE_BAD_METRIC", "status": 1,
        "info": 'Bad metric created during request: [{"type": "BAD", "key": "mycounter", '
                '"value": 1}]'}


def test_e27_exceptions(py_server):
    s = py_server("Combos.Raiser")
    st, body = get(s, "/predict", {"strData": "403"})
    assert st == 403 and json.loads(body)["status"]["info"] == "foo"
    assert json.loads(body)["status"]["reason"] == "MICROSERVICE_BAD_DATA"
    st, body = get(s, "/predict", {"strData": "x"})
    assert st == 500 and json.loads(body)["status"]["info"] == "model failed"


def test_results_of_every_type(py_server):
    s = py_server("Combos.Returns")

    def ask(kind, req=None):
        return post(s, "/predict", req or {"strData": kind})
    st, body = ask("five")
    assert st == 400 and "Unknown data type returned as payload (must be list or np array):5" in body
    assert json.loads(ask("bools")[1])["data"] == {"names": [], "ndarray": [True, False]}
    assert json.loads(ask("floats32")[1])["data"]["tensor"]["values"] == [0.10000000149011612]
    assert json.loads(ask("strs")[1])["data"] == {"names": ["t:0", "t:1"], "ndarray": [["a", "b"]]}
    assert json.loads(ask("bytes")[1]) == {"binData": "AAE=", "meta": {}}
    assert ask("dict")[1] == '{"jsonData":{"a":[1,2.5],"b":1},"meta":{}}'
    st, body = ask("int64")
    assert st == 500 and "Object of type int64 is not JSON serializable" in body
    assert json.loads(ask("matrix")[1])["data"] == \
        {"names": ["t:0", "t:1"], "tensor": {"shape": [1, 2], "values": [0.1, 0.9]}}
    # a list comes back unchanged for ndarray requests, through numpy for tensor requests
    st, body = post(s, "/predict", {"strData": "mixed"})
    assert json.loads(body)["data"]["tensor"]["values"] == [1.0, 2.5]
    st, body = ask("ragged")
    assert st == 500 and "inhomogeneous" in body


def test_router_combiner_transformer(py_server):
    r = py_server("Combos.Router")
    st, body = get(r, "/route", {"data": {"ndarray": [2]}})
    assert json.loads(body) == {"data": {"names": ["t:0"], "ndarray": [[22]]},
                                "meta": {"tags": {"mytag": 1}}}
    rb = py_server("Combos.Router", params=[{"name": "answer", "type": "STRING", "value": "str"}])
    st, body = get(rb, "/route", {"data": {"ndarray": [2]}})
    assert st == 400 and "Routing response must be int but got x" in body
    c = py_server("Combos.Combiner")
    st, body = get(c, "/aggregate", {"seldonMessages": [{"strData": "123"}, {"strData": "456"}]})
    assert json.loads(body) == {"meta": {"tags": {"mytag": 1}}, "strData": "123"}
    t = py_server("Combos.Transformer")
    assert get(t, "/transform-input", {"data": {"ndarray": [1]}})[1] == \
        '{"data":{"names":[],"ndarray":[1]},"meta":{}}'
    st, body = get(c, "/route", {"data": {"ndarray": [2]}})
    assert st == 400 and "Route not defined" in body


def test_e23_runtime_metrics_and_tags(py_server):
    s = py_server("Combos.Runtime")
    st, body = get(s, "/predict", {"data": {"names": ["input"], "ndarray": ["data"]}})
    assert body == (
        '{"data":{"names":[],"ndarray":["data"]},"meta":{"metrics":[{"key":"runtime_gauge",'
        '"type":"GAUGE","value":42},{"key":"mycounter","type":"COUNTER","value":1},'
        '{"key":"mygauge","type":"GAUGE","value":100},{"key":"mytimer","type":"TIMER",'
        '"value":20.2},{"key":"customtag","tags":{"method":"predict","mytag":"mytagvalue"},'
        '"type":"GAUGE","value":200}],"tags":{"runtime":"tag","shared":"right one",'
        '"static":"tag"}}}')
    _, _, text = s.scrape()
    assert 'customtag{' in text and 'mytag="mytagvalue"' in text
    assert "mycounter_total{" in text


def test_health_metadata_feedback(py_server):
    s = py_server("MModel")
    assert s.request("GET", "/health/status")[2].decode().rstrip() == (
        '{"data":{"names":[],"tensor":{"shape":[1],"values":[0.123]}},"meta":{"metrics":'
        '[{"key":"mycounter","type":"COUNTER","value":1}],"tags":{"mytag":1}}}')
    assert json.loads(s.request("GET", "/metadata")[2]) == {
        "custom": {}, "inputs": [{"datatype": "BYTES", "name": "input", "shape": [1]}],
        "name": "my-model-name", "outputs": [{"datatype": "BYTES", "name": "output",
                                               "shape": [1]}],
        "platform": "model-platform", "versions": ["model-version"]}
    st, body = post(s, "/send-feedback", {"request": {"data": {"ndarray": [[1, 2]]}},
                                          "reward": 1.0})
    assert (st, json.loads(body)["data"]) == (200, {"ndarray": []})


def test_parameters_are_typed(py_server):
    s = py_server("Combos.Params", params=[
        {"name": "i", "type": "INT", "value": "3"}, {"name": "f", "type": "DOUBLE", "value": "1e3"},
        {"name": "s", "type": "STRING", "value": "x"}, {"name": "b", "type": "BOOL", "value": "off"}])
    st, body = post(s, "/predict", {"strData": "?"})
    assert json.loads(body)["jsonData"] == {"i": ["int", 3], "f": ["float", 1000.0],
                                            "s": ["str", "x"], "b": ["bool", False]}


@pytest.mark.parametrize("params,message", [
    ([{"type": "FLOAT", "name": "f", "value": "abc"}],
     "Bad model parameter: f with value abc can't be parsed as a FLOAT"),
    ([{"type": "INT", "name": "nope", "value": "1"}], "unexpected keyword argument 'nope'"),
])
def test_bad_parameters_stop_start_up(params, message):
    r = subprocess.run([BIN, "Combos.Params", "--host", "127.0.0.1", "--http-port", "0",
                        "--metrics-port", "0", "--annotations-file", "/x",
                        "--parameters", json.dumps(params)], cwd=MODELS, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 1 and message in r.stderr


def test_load_failure_stops_the_server():
    s = Server(model="Combos.BadLoad", cwd=MODELS, wait=False)
    try:
        assert s.proc.wait(20) == 3
        assert "cannot load the weights" in s.logs()
    finally:
        s.stop()


def test_single_threaded_keeps_every_call_on_the_load_thread(py_server):
    s = py_server("Combos.ThreadIds", env={"FLASK_SINGLE_THREADED": "1"})
    seen = set()
    for _ in range(10):
        d = json.loads(post(s, "/predict", {"strData": "x"})[1])["jsonData"]
        assert d["load"] == d["call"]
        seen.add(d["call"])
    assert len(seen) == 1


def test_ten_threads_run_numpy_concurrently(py_server):
    # Calls run at the same time on different model threads: the intervals of two calls'
    # matrix products overlap. (This used to compare durations, which a sanitizer build or a
    # busy machine made fail; how much numpy's released GIL buys is for make bench.)
    s = py_server("Combos.Sleeper", env={"GUNICORN_THREADS": "10"})
    post(s, "/predict", {"strData": "warm"})
    results = []

    def call():
        st, body = post(s, "/predict", {"strData": "x"})
        v = json.loads(body)["data"]["tensor"]["values"] if st == 200 else []
        results.append((st, list(zip(v[0::2], v[1::2]))))
    threads = [threading.Thread(target=call) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert [st for st, _ in results] == [200] * 4, results
    calls = [intervals for _, intervals in results]
    overlap = any(a0 < b1 and b0 < a1
                  for i, x in enumerate(calls) for y in calls[i + 1:]
                  for a0, a1 in x for b0, b1 in y)
    assert overlap, calls


def test_e19_tftensor(py_server):
    s = py_server("MModel")
    req = {"data": {"tftensor": {"dtype": "DT_INT64", "tensorShape": {"dim": [{"size": "2"}]},
                                 "tensorContent": "AQAAAAAAAAACAAAAAAAAAA=="}}}
    st, body = post(s, "/predict", req)
    d = json.loads(body)
    assert d["data"]["tftensor"]["tensorContent"] == "AQAAAAAAAAACAAAAAAAAAA=="  # [1, 2] back
    assert d["meta"]["tags"] == {"mytag": 1}


def test_custom_service_runs_in_its_own_process(py_server, tmp_path):
    path = tmp_path / "service.pid"
    s = py_server("Combos.WithService", params=[{"name": "path", "type": "STRING",
                                                   "value": str(path)}])
    deadline = time.monotonic() + 10
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    pid = int(path.read_text())
    assert pid != s.proc.pid and pid in s.workers() and len(s.workers()) == 2  # beside the worker
    assert os.path.exists(f"/proc/{pid}")
    assert post(s, "/predict", {"strData": "x"})[0] == 200
    s.stop()
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{pid}")  # gone with the master


def test_feedback_protobuf_variants_and_utils(py_server):
    s = py_server("Combos.FeedbackRaw")
    st, body = post(s, "/send-feedback", {"request": {"data": {"ndarray": [[1, 2]]}}, "reward": 2})
    assert (st, json.loads(body)) == (200, {"data": {"tensor": {"shape": [1, 2],
                                                                "values": [2.0, 4.0]}}})
    s = py_server("Combos.FeedbackRest")
    st, body = post(s, "/send-feedback", {"reward": 0.5})
    assert json.loads(body) == {"strData": "reward 0.5"}
    s = py_server("Combos.UsesUtils")
    st, body = post(s, "/predict", {"meta": {"puid": "p"}, "strData": "s"})
    assert json.loads(body) == {"data": {"ndarray": ["s"]}, "meta": {"puid": "p"}}
    st, body = post(s, "/predict", {"bad": 1})
    assert st == 400 and "Invalid JSON" in body


def test_e28_model_error_handler(py_server):
    pytest.importorskip("flask")
    s = py_server("Combos.WithErrorHandler")
    st, body = get(s, "/predict", {"data": {"names": ["a", "b"], "ndarray": [[1, 2]]}})
    assert (st, body) == (402, '{"status":{"app_code":1402,"message":"Test-Error-Msg","status":402}}')
    st, body = post(s, "/predict", {"strData": "plain"})
    assert st == 500 and json.loads(body)["status"]["info"] == "plain failure"


def test_python_logging_is_set_up_like_the_reference(py_server):
    s = py_server("Combos.Logs")
    post(s, "/predict", {"strData": "hello"})
    deadline = time.monotonic() + 5
    while "predict called with hello" not in s.logs() and time.monotonic() < deadline:
        time.sleep(0.05)
    line = [l for l in s.logs().splitlines() if "predict called with hello" in l][0]
    assert " - user.model:predict:" in line and " - INFO:  predict called" in line


def test_deprecated_and_raw_variants(py_server):
    s = py_server("Combos.Deprecated")
    assert post(s, "/transform-input", {"strData": "x"})[1] == '{"strData":"transform_input_rest"}'
    assert post(s, "/transform-output", {"strData": "x"})[1] == \
        '{"strData":"transform_output_grpc"}'
    assert post(s, "/route", {"strData": "x"})[1] == '{"data":{"ndarray":[[3]]}}'
    assert post(s, "/aggregate", [{"strData": "a"}, {"strData": "b"}])[1] == \
        '{"strData":"aggregate_raw:2"}'
    assert post(s, "/predict", {"strData": "x"})[1] == '{"jsonData":{"strData":"x"}}'
    # a raw method that is "not implemented" falls back to predict
    assert post(s, "/predict", {"strData": "fallback"})[1] == '{"meta":{},"strData":"from predict"}'


def test_arrays_the_model_keeps_stay_valid(py_server):
    s = py_server("Combos.KeepsX", env={"GUNICORN_THREADS": "1"})
    total = 0.0
    for i in range(1, 30):
        row = [float(i)] * 5000  # above the size from which arrays are views
        total += sum(row)
        st, body = post(s, "/predict", {"data": {"ndarray": [row]}})
        assert st == 200
        assert json.loads(body)["data"]["ndarray"] == [[total]]


def test_construct_response_json_helper(py_server):
    s = py_server("Combos.BuildsItsResponse")
    st, body = post(s, "/predict", {"meta": {"puid": "p"}, "data": {"ndarray": [[1, 2]]}})
    assert json.loads(body) == {"data": {"names": ["a", "b"], "ndarray": [[0.25, 0.75]]},
                                "meta": {"puid": "p", "tags": {"t": 1}}}


@pytest.mark.parametrize("model, want", [
    ("Combos.NoMeta", [[[1]], [[2]]]),  # no meta parameter: called once per request
    ("Combos.InnerTypeError", [[[0]], [[0]]]),  # TypeError inside: called again without meta
    ("Combos.KeywordOnlyMeta", [[[1]], [[1]]]),  # keyword-only meta gets it
    ("Combos.PositionalOnlyMeta", [[[True]], [[True]]]),  # meta= refused, retried without
    ("Combos.WrappedMeta", [[[True]], [[True]]]),  # **kwargs wrapper passes it on
    ("Combos.LambdaPredict", [[[7]], [[7]]]),  # a plain function as the attribute
])
def test_meta_keyword_and_type_error_retry(py_server, model, want):
    s = py_server(model)
    got = []
    for _ in range(2):
        st, body = post(s, "/predict", {"data": {"ndarray": [[1]]}, "meta": {"tags": {"a": 1}}})
        assert st == 200, body
        got.append(json.loads(body)["data"]["ndarray"])
    assert got == want


def test_model_forking_a_child_does_not_confuse_the_worker(py_server):
    # the child shares the connection's socket: when the worker closes the idle connection
    # (keep-alive 1 s) and the client hangs up afterwards, no event may reach the worker for it
    s = py_server("Combos.Forker", env={"GUNICORN_KEEPALIVE": "1"})
    worker = s.workers()
    conns = []
    for _ in range(4):
        c = socket.create_connection(("127.0.0.1", s.port), timeout=5)
        body = b'{"data":{"ndarray":[[1]]}}'
        c.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        assert c.recv(4096).startswith(b"HTTP/1.1 200")
        conns.append(c)
    time.sleep(1.6)  # the worker has expired and closed them; the children still hold them
    for c in conns:
        c.close()
    time.sleep(0.3)
    assert "Respawning" not in s.logs(), s.logs()[-3000:]
    assert s.workers() == worker
    st, body = post(s, "/predict", {"data": {"ndarray": [[2]]}})
    assert st == 200, body
