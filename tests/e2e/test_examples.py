"""Every example under examples/ serves with its one README command and answers sensibly."""
import json
import os

import pytest

from conftest import BUILD, Server

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
PY = os.path.join(ROOT, "examples", "python")


def served(name, directory, args=()):
    return Server(model=name, cwd=os.path.join(PY, directory), args=list(args))


def post(s, path, msg):
    st, _, body = s.request("POST", path, json.dumps(msg), {"Content-Type": "application/json"})
    return st, json.loads(body)


def test_mean_classifier():
    pytest.importorskip("numpy")
    s = served("MeanClassifier", "mean_classifier")
    try:
        st, d = post(s, "/predict", {"data": {"ndarray": [[1.0, 2.0, 3.0]]}})
        assert st == 200 and d["data"]["names"] == ["proba"]
        assert s.request("GET", "/health/status")[2] == b'{"jsonData":{"status":"ok"},"meta":{}}\n'
    finally:
        s.stop()


def test_echo_tags_metrics_router_combiner():
    pytest.importorskip("numpy")
    s = served("Echo", "echo")
    try:
        assert post(s, "/predict", {"strData": "hi"})[1] == {"meta": {}, "strData": "hi"}
    finally:
        s.stop()
    s = served("TagsMetrics", "tags_metrics")
    try:
        st, d = post(s, "/predict", {"data": {"ndarray": [[1, 2]]}})
        assert d["meta"]["tags"] == {"model": "tags-metrics", "request_kind": "ndarray"}
        assert {m["key"] for m in d["meta"]["metrics"]} == {"predict_time_ms", "input_size", "calls"}
        assert "calls_total{" in s.scrape()[2]
    finally:
        s.stop()
    s = served("Router", "router")
    try:
        assert post(s, "/route", {"data": {"ndarray": [[0.9, 0.8]]}})[1]["data"]["ndarray"] == [[1]]
    finally:
        s.stop()
    s = served("Combiner", "combiner")
    try:
        st, d = post(s, "/aggregate", [{"data": {"ndarray": [1.0, 3.0]}},
                                       {"data": {"ndarray": [3.0, 5.0]}}])
        assert d["data"]["ndarray"] == [2.0, 4.0]
    finally:
        s.stop()


def test_sklearn_iris():
    pytest.importorskip("sklearn", reason="python3-sklearn is not installed")
    s = served("IrisClassifier", "sklearn_iris")
    try:
        st, d = post(s, "/predict", {"data": {"ndarray": [[5.1, 3.5, 1.4, 0.2],
                                                          [6.7, 3.0, 5.2, 2.3]]}})
        assert st == 200 and d["data"]["names"] == ["setosa", "versicolor", "virginica"]
        setosa, virginica = d["data"]["ndarray"]
        assert setosa[0] > 0.9 and virginica[2] > 0.8
        assert json.loads(s.request("GET", "/metadata")[2])["platform"] == "sklearn"
    finally:
        s.stop()


def test_native_examples():
    for so in ("mock_classifier", "identity"):
        s = Server(model=os.path.join(BUILD, "examples", "native", so, so + ".so"))
        try:
            assert s.request("GET", "/health/status")[0] == 200
        finally:
            s.stop()
