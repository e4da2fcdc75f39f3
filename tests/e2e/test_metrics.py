"""Metrics on the metrics port: exact sums across workers, counts that survive a killed worker,
model metrics with their type, value and labels, the feedback counters, promtool's approval."""
import json
import os
import re
import shutil
import signal
import subprocess

import pytest

from conftest import BUILD, Load, Server, wait_until

IDENTITY = os.path.join(BUILD, "examples/native/identity/identity.so")
METRIC_PARAMS = json.dumps([
    {"name": "metric:COUNTER:mycounter", "type": "FLOAT", "value": "1"},
    {"name": "metric:GAUGE:mygauge", "type": "FLOAT", "value": "100"},
    {"name": "metric:TIMER:mytimer", "type": "FLOAT", "value": "20.2"},
])
MSG = json.dumps({"data": {"ndarray": [[1, 2]]}}).encode()


def series(text, name, **labels):
    """Value of every sample of `name` whose labels include `labels`."""
    out = []
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        if all(got.get(k) == v for k, v in labels.items()):
            out.append((got, float(m.group(4))))
    return out


def total(text, name, **labels):
    return sum(v for _, v in series(text, name, **labels))


def send(s, n, clients=6):
    load = Load(s, clients=clients, body=MSG, max_requests=n // clients, check_body=False)
    ok, failures = load.finish(timeout=120, stop=False)
    return ok, failures


@pytest.fixture
def metrics_server(server_factory):
    def make(workers=3, extra_env=None, args=()):
        env = {"GUNICORN_WORKERS": str(workers), "GUNICORN_THREADS": "2",
               "SELDON_DEPLOYMENT_ID": "dep", "PREDICTIVE_UNIT_ID": "unit",
               "PREDICTIVE_UNIT_IMAGE": "repo/img:1.2", "PREDICTOR_ID": "pred",
               "PREDICTOR_LABELS": '{"version":"v7"}'}
        env.update(extra_env or {})
        s = server_factory(model=IDENTITY, args=["--parameters", METRIC_PARAMS, *args], env=env)
        s.wait_ready(workers=workers)
        return s
    return make


def test_counts_add_up_exactly_across_workers(metrics_server):
    s = metrics_server(workers=3)
    n = 600
    ok, failures = send(s, n)
    assert failures == [] and ok == n
    st, ctype, text = s.scrape()
    assert st == 200 and ctype.startswith("text/plain; version=0.0.4")
    assert total(text, "cserve_requests_total", route="predict", code="200") == n
    assert total(text, "mycounter_total", method="predict") == n
    assert total(text, "cserve_request_duration_seconds_count", route="predict") == n
    assert total(text, "cserve_in_flight_requests") == 0  # every answered request has left it
    assert total(text, "mytimer_count") == n
    # 20.2 ms lands in the bucket up to 0.02347185009632733 s, and not below it
    assert total(text, "mytimer_bucket", le="0.02347185009632733") == n
    assert total(text, "mytimer_bucket", le="0.019018554321561593") == 0
    assert total(text, "mygauge") == 100.0
    assert total(text, "cserve_workers") == 3
    assert total(text, "cserve_request_bytes_total", route="predict") == n * len(MSG)


def test_default_labels_and_types(metrics_server):
    s = metrics_server(workers=1)
    send(s, 6)
    _, _, text = s.scrape()
    assert "# TYPE mycounter_total counter" in text
    assert "# TYPE mygauge gauge" in text
    assert "# TYPE mytimer histogram" in text
    [(labels, value)] = series(text, "mycounter_total")
    assert value == 6
    assert labels == {"deployment_name": "dep", "seldon_deployment_name": "dep",
                      "model_name": "unit", "model_image": "repo/img", "image_name": "repo/img",
                      "model_version": "1.2", "image_version": "1.2", "predictor_name": "pred",
                      "predictor_version": "v7", "method": "predict", "source": "identity"}
    # one HELP/TYPE per family
    names = re.findall(r"^# TYPE (\S+) ", text, re.M)
    assert len(names) == len(set(names))


def test_killed_worker_counts_survive(metrics_server):
    s = metrics_server(workers=2)
    n = 300
    send(s, n)
    victim = s.workers()[0]
    os.kill(victim, signal.SIGKILL)
    wait_until(lambda: victim not in s.workers() and len(s.workers()) == 2, 10, what="respawn")
    _, _, text = s.scrape()
    assert total(text, "cserve_requests_total", route="predict", code="200") == n
    assert total(text, "mycounter_total") == n
    assert total(text, "cserve_worker_restarts_total", cause="crash") == 1
    send(s, 60)
    _, _, text = s.scrape()
    assert total(text, "mycounter_total") == n + 60


def test_recycled_workers_lose_nothing(metrics_server):
    s = metrics_server(workers=2, extra_env={"GUNICORN_MAX_REQUESTS": "50"})
    ok, failures = send(s, 300)
    assert failures == [], s.logs()[-3000:]
    _, _, text = s.scrape()
    assert total(text, "mycounter_total") == 300
    assert total(text, "cserve_worker_restarts_total", cause="recycle") >= 2


def test_per_worker_series(metrics_server):
    s = metrics_server(workers=2, args=["--metrics-per-worker"])
    send(s, 120)
    _, _, text = s.scrape()
    per = series(text, "mycounter_total")
    assert {labels["worker_id"] for labels, _ in per} <= {str(p) for p in s.workers()} | {"retired"}
    assert sum(v for _, v in per) == 120


def test_feedback_counters_and_paths(server_factory):
    s = server_factory(model=IDENTITY, env={"PREDICTIVE_UNIT_METRICS_ENDPOINT": "/custom"})
    for reward in (1.5, 0, 2.0):
        s.request("POST", "/send-feedback", json.dumps({"reward": reward}),
                  {"Content-Type": "application/json"})
    for path in ("/custom", "/prometheus"):
        st, _, text = s.scrape(path)
        assert st == 200
        assert total(text, "seldon_api_model_feedback_total", method="feedback") == 2
        assert total(text, "seldon_api_model_feedback_reward_total") == 3.5
    assert s.scrape("/nope")[0] == 404


def test_legacy_mode_records_no_feedback(server_factory):
    s = server_factory(model=IDENTITY, env={"SELDON_EXECUTOR_ENABLED": "false"})
    s.request("POST", "/send-feedback", '{"reward": 1}', {"Content-Type": "application/json"})
    _, _, text = s.scrape()
    assert total(text, "seldon_api_model_feedback_total") == 0


def test_include_metrics_in_response_false(server_factory):
    s = server_factory(model=IDENTITY, args=["--parameters", METRIC_PARAMS],
                       env={"INCLUDE_METRICS_IN_CLIENT_RESPONSE": "false"})
    st, _, body = s.request("POST", "/predict", MSG, {"Content-Type": "application/json"})
    assert json.loads(body)["meta"] == {}
    _, _, text = s.scrape()
    assert total(text, "mycounter_total") == 1  # recorded all the same


def test_promtool_accepts_the_exposition(metrics_server):
    if not shutil.which("promtool"):
        pytest.skip("promtool (Debian package prometheus) is not installed")
    s = metrics_server(workers=2)
    send(s, 30)
    s.request("POST", "/send-feedback", '{"reward": 1}', {"Content-Type": "application/json"})
    s.request("GET", "/nope")
    _, _, text = s.scrape()
    r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr


def test_debug_mode_serves_metrics(server_factory):
    s = server_factory(model=IDENTITY, args=["--parameters", METRIC_PARAMS],
                       env={"SELDON_DEBUG": "1"})
    s.request("POST", "/predict", MSG, {"Content-Type": "application/json"})
    _, _, text = s.scrape()
    assert total(text, "mycounter_total") == 1
