"""The Seldon REST protocol end to end against native models (spec §3, §6 examples).

IDENTITY echoes its input; with the parameter tag:mytag=1 it behaves like the reference tests'
M-Model for tags (metrics arrive with the metrics issue)."""
import base64
import json
import math
import os
import subprocess
import urllib.parse

import pytest

from conftest import BIN, BUILD, Server

IDENTITY = os.path.join(BUILD, "examples/native/identity/identity.so")
MOCK = os.path.join(BUILD, "examples/native/mock_classifier/mock_classifier.so")
TAGGED = ["--parameters", json.dumps([{"name": "tag:mytag", "type": "STRING", "value": "1"}])]


@pytest.fixture(scope="module")
def identity():
    s = Server(model=IDENTITY)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def tagged():
    s = Server(model=IDENTITY, args=TAGGED,
               env={"PREDICTIVE_UNIT_ID": "my-test-model",
                    "PREDICTIVE_UNIT_IMAGE": "my-test-model-image"})
    yield s
    s.stop()


@pytest.fixture(scope="module")
def builtin():
    s = Server(model=None)
    yield s
    s.stop()


def get(s, path, msg):
    return s.request("GET", path + "?json=" + urllib.parse.quote(json.dumps(msg)))


def post(s, path, body, ctype="application/json"):
    if not isinstance(body, (bytes, str)):
        body = json.dumps(body)
    return s.request("POST", path, body, {"Content-Type": ctype} if ctype else {})


def ok(resp):
    st, h, body = resp
    assert st == 200, body
    assert h["Content-Type"] == "application/json"
    assert body.endswith(b"\n")
    return body.rstrip(b"\n").decode()


def error(resp, status, reason, info=None):
    st, h, body = resp
    assert st == status, body
    d = json.loads(body)
    assert d["status"]["code"] == -1 and d["status"]["status"] == 1
    assert d["status"]["reason"] == reason
    if info is not None:
        assert d["status"]["info"] == info
    return d["status"]["info"]


def test_e1_query_json_ndarray(tagged):
    body = ok(get(tagged, "/predict", {"data": {"names": ["a", "b"], "ndarray": [[1, 2]]}}))
    assert body == ('{"data":{"names":["t:0","t:1"],"ndarray":[[1,2]]},"meta":{"requestPath":'
                    '{"my-test-model":"my-test-model-image"},"tags":{"mytag":1}}}')


@pytest.mark.parametrize("path", ["/predict", "/api/v1.0/predictions", "/api/v0.1/predictions"])
def test_e2_post_json_body_on_every_predict_path(identity, path):
    body = ok(post(identity, path, {"data": {"names": ["a", "b"], "ndarray": [[1, 2]]}}))
    assert body == '{"data":{"names":["t:0","t:1"],"ndarray":[[1,2]]},"meta":{}}'


def test_e3_e5_puid_and_request_path(tagged):
    msg = {"meta": {"puid": "123", "requestPath": {"earlier-node": "earlier-image"}},
           "data": {"names": ["a", "b"], "ndarray": [[1, 2]]}}
    body = json.loads(ok(get(tagged, "/predict", msg)))
    assert body["meta"]["puid"] == "123"
    assert body["meta"]["requestPath"] == {"earlier-node": "earlier-image",
                                           "my-test-model": "my-test-model-image"}


def test_e6_request_tags_merge_with_model_tags(tagged):
    body = json.loads(ok(get(tagged, "/predict", {"meta": {"tags": {"foo": "bar", "mytag": 0}},
                                                  "data": {"ndarray": []}})))
    assert body["data"] == {"names": [], "ndarray": []}
    assert body["meta"]["tags"] == {"foo": "bar", "mytag": 1}  # the model's tag wins


def test_e7_request_metrics_pass_through(identity):
    m = [{"key": "request_gauge", "type": "GAUGE", "value": 100}]
    body = ok(get(identity, "/predict", {"meta": {"metrics": m}, "data": {"ndarray": []}}))
    assert body == ('{"data":{"names":[],"ndarray":[]},"meta":{"metrics":[{"key":"request_gauge",'
                    '"type":"GAUGE","value":100}]}}')


def test_puid_dropped_when_falsy(identity):
    body = json.loads(ok(post(identity, "/predict", {"meta": {"puid": ""}, "strData": "x"})))
    assert body == {"meta": {}, "strData": "x"}


def test_e9_e12_bin_and_str_data(identity):
    assert ok(get(identity, "/predict", {"binData": "MTIz"})) == '{"binData":"MTIz","meta":{}}'
    assert ok(get(identity, "/predict", {"binData": "MTIzNA=="})) == \
        '{"binData":"MTIzNA==","meta":{}}'
    assert ok(get(identity, "/predict", {"strData": "my data"})) == \
        '{"meta":{},"strData":"my data"}'


def test_non_ascii_is_escaped_like_flask(identity):
    assert ok(post(identity, "/predict", {"strData": "h\u00e9llo \u2603 <>"})) == \
        '{"meta":{},"strData":"h\\u00e9llo \\u2603 <>"}'


def test_x4_tensor_in_tensor_out(identity):
    body = ok(post(identity, "/predict",
                   {"data": {"names": ["a", "b"], "tensor": {"shape": [1, 2], "values": [1, 2]}}}))
    assert body == '{"data":{"names":["t:0","t:1"],"tensor":{"shape":[1,2],"values":[1,2]}},"meta":{}}'
    body = ok(post(identity, "/predict", {"data": {"tensor": {"shape": [1, -1],
                                                              "values": [1.0, 2.5]}}}))
    assert body == '{"data":{"names":["t:0","t:1"],"tensor":{"shape":[1,2],"values":[1.0,2.5]}},"meta":{}}'


def test_floats_print_like_python(identity):
    body = ok(post(identity, "/predict",
                   {"data": {"ndarray": [[0.1, 1e-05, 1e16, 1.5, 123456789012345678]]}}))
    assert body == ('{"data":{"names":["t:0","t:1","t:2","t:3","t:4"],"ndarray":'
                    '[[0.1,1e-05,1e+16,1.5,1.2345678901234568e+17]]},"meta":{}}')
    # NaN / Infinity are accepted and sent back bare, as the reference does
    body = ok(post(identity, "/predict", '{"data":{"ndarray":[NaN, Infinity, -Infinity]}}'))
    assert body == '{"data":{"names":[],"ndarray":[NaN,Infinity,-Infinity]},"meta":{}}'


def test_mixed_int_float_list_becomes_float_array(identity, builtin):
    # X is a float64 array (numpy), so a model returning it answers floats
    body = ok(post(identity, "/predict", {"data": {"ndarray": [[1, 2.5]]}}))
    assert body == '{"data":{"names":["t:0","t:1"],"ndarray":[[1.0,2.5]]},"meta":{}}'
    # and so does a transform the model does not implement (it returns X)
    body = ok(post(builtin, "/transform-input", {"data": {"ndarray": [[1, 2.5]]}}))
    assert body == '{"data":{"names":["t:0","t:1"],"ndarray":[[1.0,2.5]]},"meta":{}}'


def test_x5_json_data_sorted(identity):
    body = ok(post(identity, "/predict", {"jsonData": {"b": [1, {"d": 1, "c": None}], "a": True}}))
    assert body == '{"jsonData":{"a":true,"b":[1,{"c":null,"d":1}]},"meta":{}}'


def test_string_ndarray_passes_through(identity):
    body = ok(post(identity, "/predict", {"data": {"names": ["input"], "ndarray": ["data"]}}))
    assert body == '{"data":{"names":[],"ndarray":["data"]},"meta":{}}'


def test_e16_multipart_text_fields(identity):
    boundary = "XyZ"
    parts = [("meta", '{"puid":"p1","tags":{"x":1}}'), ("data", '{"names":["a"],"ndarray":[[1]]}')]
    body = "".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{n}"\r\n\r\n{v}\r\n'
                   for n, v in parts) + f"--{boundary}--\r\n"
    out = ok(post(identity, "/predict", body, f"multipart/form-data; boundary={boundary}"))
    assert out == '{"data":{"names":["t:0"],"ndarray":[[1]]},"meta":{"puid":"p1","tags":{"x":1}}}'


def test_x14_multipart_file_bin_data_arrives_unchanged(identity):
    b = "B0und"
    body = (f'--{b}\r\nContent-Disposition: form-data; name="binData"; filename="x.bin"\r\n'
            f'Content-Type: application/octet-stream\r\n\r\n').encode() + b"\x00\x01\x02" + \
        f"\r\n--{b}--\r\n".encode()
    assert ok(post(identity, "/predict", body, f"multipart/form-data; boundary={b}")) == \
        '{"binData":"AAEC","meta":{}}'
    body = f'--{b}\r\nContent-Disposition: form-data; name="binData"\r\n\r\nAAEC\r\n--{b}--\r\n'
    error(post(identity, "/predict", body, f"multipart/form-data; boundary={b}"), 500,
          "MICROSERVICE_INTERNAL_ERROR", "Expecting value: line 1 column 1 (char 0)")


def test_form_field_and_query_precedence(identity):
    form = "json=" + urllib.parse.quote('{"strData":"from-form"}')
    st, _, body = identity.request(
        "POST", "/predict?json=" + urllib.parse.quote('{"strData":"from-query"}'), form,
        {"Content-Type": "application/x-www-form-urlencoded"})
    assert json.loads(body)["strData"] == "from-form"
    st, _, body = identity.request(
        "POST", "/predict?json=" + urllib.parse.quote('{"strData":"from-query"}'),
        '{"strData":"from-body"}', {"Content-Type": "application/json"})
    assert json.loads(body)["strData"] == "from-query"


def test_x15_form_field_too_large(identity):
    form = "json=" + "x" * 500001
    error(post(identity, "/predict", form, "application/x-www-form-urlencoded"), 500,
          "MICROSERVICE_INTERNAL_ERROR",
          "413 Request Entity Too Large: The data value transmitted exceeds the capacity limit.")


def test_e25_x1_x2_request_errors(identity):
    error(identity.request("GET", "/predict?", None, {"Content-Type": "application/json"}),
          400, "MICROSERVICE_BAD_DATA", "Can't find JSON in data")
    error(post(identity, "/predict", "null"), 400, "MICROSERVICE_BAD_DATA",
          "Can't find JSON in data")
    error(post(identity, "/predict", "{bad"), 400, "MICROSERVICE_BAD_DATA",
          "Can't find JSON in data")
    error(post(identity, "/api/v1.0/predictions", "{}", "text/plain"), 500,
          "MICROSERVICE_INTERNAL_ERROR",
          "415 Unsupported Media Type: Did not attempt to load JSON data because the request "
          "Content-Type was not 'application/json'.")
    error(post(identity, "/predict", {}), 400, "MICROSERVICE_BAD_DATA",
          "Invalid request data type: {}")
    error(post(identity, "/predict", [1, 2, 3]), 400, "MICROSERVICE_BAD_DATA",
          "Invalid request data type: [1, 2, 3]")
    error(identity.request("GET", "/predict?json=" + urllib.parse.quote("{x")), 500,
          "MICROSERVICE_INTERNAL_ERROR",
          "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)")
    # application/*+json counts as JSON
    assert ok(post(identity, "/predict", '{"strData":"v"}', "application/vnd.x+json; charset=utf-8"))


def test_x8_numpy_errors(identity):
    error(post(identity, "/predict", {"data": {"ndarray": [[1, 2], [3]]}}), 500,
          "MICROSERVICE_INTERNAL_ERROR",
          "setting an array element with a sequence. The requested array has an inhomogeneous "
          "shape after 1 dimensions. The detected shape was (2,) + inhomogeneous part.")
    error(post(identity, "/predict", {"data": {"tensor": {"shape": [2, 2], "values": [1, 2, 3]}}}),
          500, "MICROSERVICE_INTERNAL_ERROR", "cannot reshape array of size 3 into shape (2,2)")
    error(post(identity, "/predict", {"data": {"tensor": {"values": [1]}}}), 500,
          "MICROSERVICE_INTERNAL_ERROR", "'shape'")


def test_meta_and_data_type_errors(identity):
    error(post(identity, "/predict", {"meta": None, "strData": "x"}), 500,
          "MICROSERVICE_INTERNAL_ERROR", "'NoneType' object has no attribute 'get'")
    error(post(identity, "/predict", {"data": None}), 500, "MICROSERVICE_INTERNAL_ERROR",
          "argument of type 'NoneType' is not iterable")
    error(post(identity, "/predict", {"binData": "MTIzN"}), 500, "MICROSERVICE_INTERNAL_ERROR",
          "Invalid base64-encoded string: number of data characters (5) cannot be 1 more than "
          "a multiple of 4")
    error(post(identity, "/predict", {"binData": "MTIzNA"}), 500, "MICROSERVICE_INTERNAL_ERROR",
          "Incorrect padding")
    error(post(identity, "/predict", {"binData": 5}), 500, "MICROSERVICE_INTERNAL_ERROR",
          "argument should be a bytes-like object or ASCII string, not 'int'")


def test_empty_data_member(identity):
    body = ok(post(identity, "/predict", {"data": {}}))
    assert body == '{"data":{"names":[],"ndarray":[]},"meta":{}}'


def test_transforms_route_and_aggregate(tagged, identity):
    assert json.loads(ok(get(tagged, "/transform-input", {"data": {"ndarray": [1]}}))) == \
        {"data": {"names": [], "ndarray": [1]},
         "meta": {"requestPath": {"my-test-model": "my-test-model-image"}, "tags": {"mytag": 1}}}
    assert ok(get(identity, "/transform-output", {"binData": "MTIz"})) == \
        '{"binData":"MTIz","meta":{}}'
    # route: [[0]], mirroring the request kind, request tags dropped, puid kept
    assert ok(get(identity, "/route", {"meta": {"puid": "x", "tags": {"a": 1}},
                                       "data": {"ndarray": [2]}})) == \
        '{"data":{"names":["t:0"],"ndarray":[[0]]},"meta":{"puid":"x"}}'
    assert ok(get(identity, "/route", {"strData": "s"})) == \
        '{"data":{"names":["t:0"],"tensor":{"shape":[1,1],"values":[0]}},"meta":{}}'
    # aggregate: the first message back; metas merged
    msgs = [{"meta": {"tags": {"input-1": "yes", "common": 1}}, "data": {"ndarray": [1]}},
            {"meta": {"tags": {"input-2": "yes", "common": 2}}, "data": {"ndarray": [2]}}]
    assert ok(post(identity, "/aggregate", {"seldonMessages": msgs})) == \
        ('{"data":{"names":[],"ndarray":[1]},"meta":{"tags":{"common":2,"input-1":"yes",'
         '"input-2":"yes"}}}')
    assert ok(post(identity, "/aggregate", [{"strData": "123"}, {"strData": "456"}])) == \
        '{"meta":{},"strData":"123"}'


def test_e32_e34_aggregate_errors(identity):
    error(get(identity, "/aggregate", {"wrong": [{"data": {"ndarray": [1]}}]}), 400,
          "MICROSERVICE_BAD_DATA",
          "Invalid request data type: {'wrong': [{'data': {'ndarray': [1]}}]}")
    error(get(identity, "/aggregate", {"seldonMessages": {"data": {"ndarray": [1]}}}), 400,
          "MICROSERVICE_BAD_DATA",
          "Invalid request data type: {'seldonMessages': {'data': {'ndarray': [1]}}}")
    error(get(identity, "/aggregate", {"seldonMessages": [{"data2": {"ndarray": [1]}}]}), 400,
          "MICROSERVICE_BAD_DATA", "Invalid request data type: {'data2': {'ndarray': [1]}}")


def test_e30_e31_route_and_aggregate_not_defined(builtin):
    error(get(builtin, "/route", {"data": {"ndarray": [2]}}), 400, "MICROSERVICE_BAD_DATA",
          "Route not defined")
    error(get(builtin, "/aggregate", {"seldonMessages": [{"data": {"ndarray": [1]}}]}), 400,
          "MICROSERVICE_BAD_DATA", "Aggregate not defined")


def test_feedback(identity, tagged):
    assert ok(post(identity, "/send-feedback",
                   {"request": {"data": {"ndarray": [[1, 2]]}}, "reward": 1})) == \
        '{"data":{"ndarray":[]},"meta":{}}'
    assert ok(post(identity, "/api/v1.0/feedback",
                   {"request": {"data": {"tensor": {"shape": [1], "values": [1]}}}})) == \
        '{"data":{"tensor":{"shape":[0]}},"meta":{}}'
    assert ok(post(identity, "/api/v0.1/feedback", {})) == '{"data":{"tensor":{"shape":[0]}},"meta":{}}'
    assert ok(post(identity, "/send-feedback",
                   {"request": {"meta": {"puid": "pp"}, "strData": "s"}})) == \
        '{"data":{"tensor":{"shape":[0]}},"meta":{"puid":"pp"}}'
    assert json.loads(ok(post(tagged, "/send-feedback", {"reward": 1})))["meta"] == \
        {"requestPath": {"my-test-model": "my-test-model-image"}}
    error(post(identity, "/send-feedback", {"bad": 1}), 400, "MICROSERVICE_BAD_DATA",
          'Invalid JSON: Message type "seldon.protos.Feedback" has no field named "bad" at '
          '"Feedback".\n Available Fields(except extensions): "[\'request\', \'response\', '
          '\'reward\', \'truth\']"')
    error(post(identity, "/send-feedback", {"reward": "abc"}), 400, "MICROSERVICE_BAD_DATA",
          "Invalid JSON: Failed to parse reward field: Couldn't parse float: abc at "
          "Feedback.reward.")


def test_health_metadata_and_openapi(identity):
    st, h, body = identity.request("GET", "/health/status")
    assert (st, body) == (200, b'{"meta":{},"strData":"healthy"}\n')
    for path in ("/metadata", "/api/v1.0/metadata"):
        assert ok(identity.request("GET", path)) == \
            '{"custom":{},"inputs":[],"name":"","outputs":[],"platform":"","versions":[""]}'
    st, h, body = identity.request("GET", "/seldon.json")
    assert st == 200 and json.loads(body)["openapi"].startswith("3.")
    assert "/api/v1.0/predictions" in json.loads(body)["paths"]
    assert h["Cache-Control"] == "no-cache" and h["ETag"]
    st, _, body = identity.request("GET", "/seldon.json", headers={"If-None-Match": h["ETag"]})
    assert (st, body) == (304, b"")


def test_metadata_from_environment():
    meta = {"name": "env-name", "versions": ["v9"], "platform": "p",
            "inputs": [{"name": "input", "datatype": "BYTES", "shape": [1, 2]}],
            "outputs": [{"messagetype": "ndarray", "schema": {"names": ["a"], "shape": [1]}}],
            "custom": {"k": "v"}}
    s = Server(model=IDENTITY, env={"MODEL_METADATA": json.dumps(meta),
                                    "PREDICTIVE_UNIT_IMAGE": "localhost:32000/sklearn-iris:0.1"})
    try:
        assert json.loads(ok(s.request("GET", "/metadata"))) == meta
    finally:
        s.stop()
    # E59: the reference's YAML document
    yaml_doc = ("name: test-name-env\nversions: [test-version]\nplatform: test-platform\n"
                "inputs: [{datatype: BYTES, name: input, shape: [1, 2]}]\n"
                "outputs: [{datatype: BYTES, name: output, shape: [1, 2, 3]}]\n"
                "custom: {tag-key: tag-value}\n")
    s = Server(model=IDENTITY, env={"MODEL_METADATA": yaml_doc})
    try:
        assert json.loads(ok(s.request("GET", "/metadata"))) == {
            "name": "test-name-env", "versions": ["test-version"], "platform": "test-platform",
            "inputs": [{"datatype": "BYTES", "name": "input", "shape": [1, 2]}],
            "outputs": [{"datatype": "BYTES", "name": "output", "shape": [1, 2, 3]}],
            "custom": {"tag-key": "tag-value"}}
    finally:
        s.stop()
    # not YAML at all: logged and ignored
    s = Server(model=IDENTITY, env={"MODEL_METADATA": "a: [unclosed"})
    try:
        assert json.loads(ok(s.request("GET", "/metadata")))["name"] == ""
    finally:
        s.stop()
    s = Server(model=IDENTITY, env={"PREDICTIVE_UNIT_IMAGE": "localhost:32000/sklearn-iris:0.1"})
    try:
        d = json.loads(ok(s.request("GET", "/metadata")))
        assert (d["name"], d["versions"]) == ("localhost:32000/sklearn-iris", ["0.1"])
    finally:
        s.stop()
    for bad in [{"versions": "v1"}, {"versions": [1]}, {"inputs": [{"datatype": "data-type"}]},
                {"inputs": ["some string"]}, {"extra": 1}, {"outputs": [{"shape": [1.5]}]}]:
        s = Server(model=IDENTITY, env={"MODEL_METADATA": json.dumps(bad)})
        try:
            error(s.request("GET", "/metadata"), 500, "MICROSERVICE_BAD_METADATA",
                  "Model metadata unavailable")
            assert s.request("GET", "/health/status")[0] == 200  # the rest still works
        finally:
            s.stop()


def sigmoid(x):
    return 1 / (1 + math.exp(-x))


def test_builtin_mock_classifier(builtin):
    body = json.loads(ok(post(builtin, "/predict", {"data": {"names": ["a", "b", "c"],
                                                             "ndarray": [[1.0, 2.0, 3.0],
                                                                         [0.5, 0.1, 0.2]]}})))
    assert body["data"]["names"] == ["proba"]
    assert body["data"]["ndarray"] == [[sigmoid(2.0 - 0.5)], [sigmoid(0.8 / 3 - 0.5)]]
    body = json.loads(ok(post(builtin, "/predict", {"data": {"tensor": {"shape": [1, 3],
                                                                        "values": [1, 2, 3]}}})))
    assert body == {"data": {"names": ["proba"], "tensor": {"shape": [1, 1],
                                                            "values": [sigmoid(1.5)]}},
                    "meta": {}}
    error(post(builtin, "/predict", {"data": {"ndarray": [1, 2]}}), 500,
          "MICROSERVICE_INTERNAL_ERROR", "Incorrect shape")
    assert ok(builtin.request("GET", "/health/status")) == '{"meta":{},"strData":"healthy"}'
    # the same model as a shared object gives the same answers
    s = Server(model=MOCK, args=["--parameters", json.dumps(
        [{"name": "threshold", "type": "FLOAT", "value": "1.5"}])])
    try:
        body = json.loads(ok(post(s, "/predict", {"data": {"ndarray": [[1, 2]]}})))
        assert body["data"]["ndarray"] == [[0.5]]  # sigmoid(mean 1.5 - threshold 1.5)
    finally:
        s.stop()


@pytest.mark.parametrize("params,message", [
    ([{"type": "FLOAT", "name": "threshold", "value": "abc"}],
     "Bad model parameter: threshold with value abc can't be parsed as a FLOAT"),
    ([{"type": "FOO", "name": "threshold", "value": "1"}],
     "Bad model parameter type: FOO valid are INT, FLOAT, DOUBLE, STRING, BOOL"),
    ([{"type": "BOOL", "name": "b", "value": "maybe"}], "invalid truth value 'maybe'"),
    ([{"type": "INT", "name": "n", "value": "1.5"}],
     "Bad model parameter: n with value 1.5 can't be parsed as a INT"),
    ([{"type": "STRING", "name": "other", "value": "x"}], "unexpected parameter 'other'"),
])
def test_e35_bad_parameters_stop_start_up(params, message):
    r = subprocess.run([BIN, "--host", "127.0.0.1", "--http-port", "0", "--metrics-port", "0",
                        "--annotations-file", "/x",
                        "--parameters", json.dumps(params)], capture_output=True, text=True,
                       timeout=20)
    assert r.returncode == 1
    assert message in r.stderr


def test_builtin_matches_numpy_to_the_last_bit(builtin):
    np = pytest.importorskip("numpy")
    rnd = np.random.default_rng(7)
    for rows, cols in [(3, 5), (2, 130), (4, 1000), (1, 7)]:
        x = rnd.uniform(-10, 10, size=(rows, cols))
        body = json.loads(ok(post(builtin, "/predict", {"data": {"ndarray": x.tolist()}})))
        want = [[1 / (1 + math.exp(-(row.mean() - 0.5)))] for row in x]
        assert body["data"]["ndarray"] == want  # exact: same summation order as numpy


def test_tftensor_without_tensorflow(identity):
    # spec §5.5 examples: int64 [1,2] as tensor_content, and a single int64 as int64Val
    req = {"data": {"tftensor": {"dtype": "DT_INT64", "tensorShape": {"dim": [{"size": "2"}]},
                                 "tensorContent": "AQAAAAAAAAACAAAAAAAAAA=="}}}
    assert ok(post(identity, "/predict", req)) == (
        '{"data":{"names":[],"tftensor":{"dtype":"DT_INT64","tensorContent":'
        '"AQAAAAAAAAACAAAAAAAAAA==","tensorShape":{"dim":[{"size":"2"}]}}},"meta":{}}')
    req = {"data": {"tftensor": {"dtype": "DT_INT64", "tensor_shape": {"dim": [{"size": 1}]},
                                 "int64_val": [5]}}}
    assert ok(post(identity, "/predict", req)) == (
        '{"data":{"names":[],"tftensor":{"dtype":"DT_INT64","int64Val":["5"],"tensorShape":'
        '{"dim":[{"size":"1"}]}}},"meta":{}}')
    # float32 content decodes exactly; one value fills the shape (make_ndarray's padding)
    req = {"data": {"tftensor": {"dtype": "DT_FLOAT", "tensorShape": {"dim": [{"size": "2"},
                                                                                {"size": "2"}]},
                                 "floatVal": [0.5]}}}
    body = json.loads(ok(post(identity, "/predict", req)))
    assert body["data"]["names"] == ["t:0", "t:1"]
    assert body["data"]["tftensor"]["dtype"] == "DT_DOUBLE"
    error(post(identity, "/predict", {"data": {"tftensor": {"dtype": "DT_STRING"}}}), 500,
          "MICROSERVICE_INTERNAL_ERROR")
