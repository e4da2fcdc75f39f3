"""Unmodified Seldon Python model classes in embedded CPython (spec §2, §6 examples)."""
import json
import os
import re
import socket
import subprocess
import threading
import time
import urllib.parse

import pytest

from conftest import BIN, Server, proc_status, skip_in_sanitizer_build

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
    # the model's metrics() first, then the runtime ones (§3.7.4: `metrics + runtime_metrics`)
    assert body == (
        '{"data":{"names":[],"ndarray":["data"]},"meta":{"metrics":[{"key":"mycounter",'
        '"type":"COUNTER","value":1},{"key":"mygauge","type":"GAUGE","value":100},'
        '{"key":"mytimer","type":"TIMER","value":20.2},{"key":"customtag","tags":'
        '{"method":"predict","mytag":"mytagvalue"},"type":"GAUGE","value":200},'
        '{"key":"runtime_gauge","type":"GAUGE","value":42}],"tags":{"runtime":"tag",'
        '"shared":"right one","static":"tag"}}}')
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
    # Structural, not timed: the model's calls meet at a barrier of four, which only works if
    # four model threads are inside Python at once (the GIL released while each waits).
    s = py_server("Combos.Rendezvous", env={"GUNICORN_THREADS": "10"})
    results = []

    def call():
        st, body = post(s, "/predict", {"strData": "x"})
        results.append((st, json.loads(body)["data"]["tensor"]["values"][0] if st == 200 else body))
    threads = [threading.Thread(target=call) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results) == [(200, 0.0), (200, 1.0), (200, 2.0), (200, 3.0)], results


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


@pytest.mark.parametrize("how", ["spawn", "fork"])
def test_model_children_start_clean(py_server, how):
    # A child the model starts must not inherit the worker's blocked signals (proc.terminate()
    # could not stop it), its caught or ignored signals, or its listeners and event descriptors.
    s = py_server("Spawner", env={"GUNICORN_THREADS": "2"})
    st, body = post(s, "/predict", {"strData": how})
    assert st == 200, body
    child = json.loads(body)["jsonData"]
    assert child["terminated"] is True, child
    # signals 1-31 (glibc keeps its internal real-time ones to itself)
    assert int(child["SigBlk"], 16) & 0x7fffffff == 0, child
    assert int(child["SigIgn"], 16) & 0x7fffffff == 0, child
    assert not [t for t in child["fds"] if t.startswith("anon_inode:")], child
    master = set(os.readlink(f"/proc/{s.proc.pid}/fd/{fd}")
                 for fd in os.listdir(f"/proc/{s.proc.pid}/fd"))
    assert not [t for t in child["fds"] if t.startswith("socket:") and t in master], child
    st, _ = post(s, "/predict", {"strData": "still here"})
    assert st == 200
    assert "Respawning" not in s.logs()


def test_connection_closed_by_the_worker_ends_while_a_forked_child_holds_it(py_server):
    # The model's child holds a copy of the connection: when the worker closes it (keep-alive
    # timeout, 1 s), the client must see the end then, not when the child exits (30 s).
    s = py_server("Spawner", env={"GUNICORN_KEEPALIVE": "1"})
    c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    try:
        body = b'{"strData":"hold"}'
        c.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        out = b""
        while b'"hold"' not in out:
            chunk = c.recv(4096)
            assert chunk, out
            out += chunk
        assert out.startswith(b"HTTP/1.1 200"), out
        assert c.recv(4096) == b""  # the EOF, well before the socket timeout
    finally:
        c.close()


# ---- the embedded interpreter's edges (pymodels/Hardened.py) ----------------------------------

def post_all(s, bodies, path="/predict"):
    """Posts the bodies at once, one connection each; returns [(status, body)] in order."""
    out = [None] * len(bodies)

    def one(i):
        out[i] = post(s, path, bodies[i])
    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return out


def idle_growth_kb(s, bodies, rounds=2):
    """Posts the bodies at once, `rounds` times: the answers, and how much the (only) worker's
    RSS has grown since before the first."""
    skip_in_sanitizer_build("RSS")
    [worker] = s.workers()
    base = proc_status(worker, "VmRSS")
    for _ in range(rounds):
        got = post_all(s, bodies)
    return got, proc_status(worker, "VmRSS") - base


def test_large_results_are_released_when_answered(py_server):
    # each model thread used to keep its last result array until it ran again
    s = py_server("Hardened.Large", env={"GUNICORN_THREADS": "4"})
    got, grown = idle_growth_kb(s, [{"data": {"ndarray": [[1]]}}] * 4)
    assert [st for st, _ in got] == [200] * 4
    assert grown < 48 * 1024, f"idle worker grew by {grown} kB"  # one result is 32 MB


def test_large_requests_are_released_when_answered(py_server):
    # each model thread used to keep its last request's arena (the numpy views' memory) until
    # it ran again, and then up to 64 MB of it for reuse
    s = py_server("Hardened.Summer", env={"GUNICORN_THREADS": "4"})
    msg = {"data": {"ndarray": [[1.5] * 1000] * 2000}}  # 16 MB of float64 once decoded
    got, grown = idle_growth_kb(s, [msg] * 4)
    assert [json.loads(b)["data"]["ndarray"] for _, b in got] == [[[3e6]]] * 4
    assert grown < 32 * 1024, f"idle worker grew by {grown} kB"


def test_unencodable_metric_tag_is_an_error_not_a_crash(py_server):
    s = py_server("Hardened.TagsEcho")
    [worker] = s.workers()
    st, body = post(s, "/predict", {"strData": "\ud800"})
    assert st == 500 and "surrogates not allowed" in body, body
    assert post(s, "/predict", {"strData": "plain"}) == (200, '{"meta":{},"strData":"ok"}')
    assert s.workers() == [worker]


def test_uint64_results_are_answered_exactly(py_server):
    # numpy's uint64 has no safe cast to int64: every such result was a 500 ("Cannot cast
    # array data from dtype('uint64') ..."); the reference's tolist() gives exact Python ints
    # (beyond int64 cserve answers them as an ndarray: docs/compatibility.md)
    s = py_server("Hardened.Unsigned")
    assert post(s, "/predict", {"data": {"ndarray": [[1]]}}) == (
        200, '{"data":{"names":["t:0","t:1"],"ndarray":[[9223372036854775807,1]]},"meta":{}}')
    assert post(s, "/predict", {"data": {"tensor": {"shape": [1], "values": [1]}}}) == (
        200, '{"data":{"names":["t:0","t:1"],"tensor":{"shape":[1,2],'
             '"values":[9223372036854775807,1]}},"meta":{}}')
    st, body = post(s, "/predict", {"strData": "big"})
    assert st == 200 and json.loads(body)["data"]["ndarray"] == [[2 ** 64 - 1, 1]], body


def test_non_string_tag_error_names_its_type(py_server):
    # the reference's str.join names the type it found; cserve said "int" for every type
    s = py_server("Hardened.TagTypes")
    for kind, name in [("int", "int"), ("float", "float"), ("none", "NoneType"), ("list", "list")]:
        st, body = post(s, "/predict", {"strData": kind})
        assert (st, json.loads(body)["status"]["info"]) == (
            500, "sequence item 1: expected str instance, %s found" % name)


def test_every_tag_of_a_metric_is_recorded(py_server):
    # the tags were read into 64 slots: a metric with more was recorded silently as another
    # series, its other tags dropped
    s = py_server("Hardened.ManyTags")
    assert post(s, "/predict", {"strData": "x"})[0] == 200
    _, _, text = s.scrape()
    [line] = [x for x in text.splitlines() if x.startswith("many_total{")]
    labels = re.findall(r'([A-Za-z_]+)=""', line)
    assert len(labels) == 70, line


def test_int_overflow_leaves_no_exception_for_the_next_call(py_server):
    s = py_server("Hardened.HugeStatus", env={"GUNICORN_THREADS": "1"})
    st, body = post(s, "/predict", {"strData": "huge"})
    assert st == 500 and json.loads(body) == {"data": {"ndarray": [1]},
                                              "status": {"code": 2 ** 70}}
    assert post(s, "/predict", {"strData": "next"}) == (200, '{"data":{"ndarray":[2]}}')
    st, body = post(s, "/route", {"data": {"ndarray": [[1]]}})
    assert st == 500 and "too big" in body, body
    assert post(s, "/predict", {"strData": "next"}) == (200, '{"data":{"ndarray":[2]}}')


def test_string_parameter_with_a_lone_surrogate():
    s = serve("Hardened.StringParameter",
              params=[{"name": "s", "value": "\ud800", "type": "STRING"}])
    try:
        st, body = post(s, "/predict", {"data": {"ndarray": [[1]]}})
        assert st == 200 and json.loads(body)["jsonData"] == {"len": 1, "surrogate": True}
    finally:
        s.stop()


def test_seldon_response_without_data_reports_why(py_server):
    s = py_server("Hardened.BrokenData")
    st, body = post(s, "/predict", {"data": {"ndarray": [[1]]}})
    assert st == 500 and "no data in this response" in body, body


def test_attribute_cache_survives_lookups_that_release_the_gil(py_server):
    # concurrent first calls each look up the missing attributes, __getattr__ sleeping
    s = py_server("Hardened.SlowGetattr")
    [worker] = s.workers()
    got = post_all(s, [{"data": {"ndarray": [[i]]}} for i in range(8)])
    assert [st for st, _ in got] == [200] * 8, got
    assert [json.loads(b)["data"]["ndarray"] for _, b in got] == [[[i]] for i in range(8)]
    assert s.workers() == [worker]


def test_result_the_model_keeps_writing_is_encoded_from_a_snapshot(py_server):
    s = py_server("Hardened.SharedBuffer", env={"GUNICORN_THREADS": "4"})
    writer = threading.Thread(target=post, args=(s, "/predict", {"strData": "write:3"}))
    writer.start()
    torn = 0
    try:
        time.sleep(0.2)
        for _ in range(15):
            st, body = post(s, "/predict", {"data": {"ndarray": [[1]]}})
            assert st == 200
            row = json.loads(body)["data"]["ndarray"]
            torn += row[0] != row[-1]
    finally:
        writer.join(30)
    assert torn == 0, f"{torn} of 15 responses mixed two states of the buffer"


def test_interpreter_does_not_follow_path(py_server, tmp_path):
    # another python3 first on PATH (as a pyenv or venv puts it) with a prefix of its own:
    # the embedded interpreter used to take its prefix from it and then lacked numpy
    other = tmp_path / "other"
    (other / "bin").mkdir(parents=True)
    (other / "lib").mkdir()
    (other / "lib/python3.11").symlink_to("/usr/lib/python3.11")
    exe = other / "bin/python3"
    exe.write_text("#!/bin/sh\nexec /usr/bin/python3 \"$@\"\n")
    exe.chmod(0o755)
    s = py_server("Hardened.Doubler", env={"PATH": f"{other}/bin:" + os.environ["PATH"]})
    st, body = post(s, "/predict", {"data": {"ndarray": [[1, 2]]}})
    assert st == 200, body
    got = json.loads(body)
    assert got["data"]["ndarray"] == [[2, 4]]
    assert got["meta"]["tags"] == {"prefix": "/usr", "executable": "/usr/bin/python3"}


def test_virtual_env_packages_are_found(py_server, tmp_path):
    site = tmp_path / "venv/lib/python3.11/site-packages"
    site.mkdir(parents=True)
    (site / "venvmod.py").write_text("NAME = 'from the venv'\n")
    s = py_server("Hardened.VenvUser", env={"VIRTUAL_ENV": str(tmp_path / "venv")})
    assert post(s, "/predict", {"data": {"ndarray": [[1]]}}) == \
        (200, '{"meta":{},"strData":"from the venv"}')


def test_model_objects_are_frozen_before_fork(py_server):
    # gc.freeze() in the master: a worker's collections leave the model's pages shared
    s = py_server("Hardened.FreezeCount")
    st, body = post(s, "/predict", {"data": {"ndarray": [[1]]}})
    assert st == 200 and json.loads(body)["jsonData"]["frozen"] > 1000, body


def test_views_kept_and_dropped_across_threads(py_server):
    s = py_server("Hardened.KeepsLast", env={"GUNICORN_THREADS": "4"})
    for r in range(5):
        rows = [[[float(r * 10 + i)] * 5000] for i in range(4)]  # views (above 4096 elements)
        got = post_all(s, [{"data": {"ndarray": x}} for x in rows])
        assert [json.loads(b)["data"]["ndarray"] for _, b in got] == rows
