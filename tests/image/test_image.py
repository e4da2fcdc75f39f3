"""The images honour the contract of Seldon's Python images (issue 13): run script, user,
read-only root, operator environment, metrics at /prometheus, preStop hook, TERM draining."""
import json
import os
import subprocess
import tempfile
import threading
import time

from conftest import (IMAGE, LOOPBACK, MODEL_IMAGE, PKG_IMAGE, PODMAN_RUN, grpc_check, podman,
                      request)

RUN = PODMAN_RUN[1:]  # podman's run arguments
ROW = {"data": {"ndarray": [[1.0, 2.0, 3.0, 4.0]]}}
MOCK_PROBA = 0.8807970779778823  # sigmoid(mean(1..4) - 0.5), the built-in and MeanClassifier


def config(image):
    return json.loads(podman("image", "inspect", image).stdout)[0]["Config"]


def test_image_config_is_seldons_contract():
    for image in (IMAGE, MODEL_IMAGE, PKG_IMAGE):
        c = config(image)
        assert c["WorkingDir"] == "/microservice"
        assert c["User"] == "8888"
        assert c["Entrypoint"] == ["/usr/bin/tini", "--"]
        assert "LANG=C.UTF-8" in c["Env"]
        assert set(c["ExposedPorts"]) == {"9000/tcp", "5000/tcp", "9500/tcp", "6000/tcp"}
    model = config(MODEL_IMAGE)
    assert model["Cmd"] == ["/s2i/bin/run"]
    assert "MODEL_NAME=MeanClassifier" in model["Env"] and "SERVICE_TYPE=MODEL" in model["Env"]


def test_builtin_model(containers):
    c = containers(IMAGE, ["seldon-core-microservice", *LOOPBACK], name_hint="builtin")
    c.wait_ready()
    assert request(c.port, "GET", "/health/ping") == (200, "pong")
    status, body = request(c.port, "POST", "/api/v1.0/predictions", ROW)
    assert status == 200, body
    assert json.loads(body)["data"]["ndarray"] == [[MOCK_PROBA]]
    grpc_check(c.grpc_port, MOCK_PROBA)  # the same model on the gRPC port


def test_no_build_toolchain_in_base_image():
    r = podman(*RUN, "--rm", "--entrypoint", "/bin/sh", IMAGE, "-c",
               "for t in gcc cc make apt-get dpkg-deb python3; do command -v $t || true; done")
    assert r.stdout.split() == ["/usr/bin/dpkg-deb", "/usr/bin/python3"]


def test_python_model_image_with_operator_env(containers):
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "annotations"), "w") as f:
            f.write('seldon.io/rest-timeout="60000"\nseldon.io/svc-orch="false"\n')
        os.chmod(d, 0o755)
        params = '[{"name":"threshold","value":"1.5","type":"FLOAT"}]'
        c = containers(MODEL_IMAGE, ["/s2i/bin/run", *LOOPBACK],
                       env={"PREDICTIVE_UNIT_PARAMETERS": params},
                       opts=["-v", f"{d}:/etc/podinfo:ro"], name_hint="model")
        c.wait_ready()
        status, body = request(c.port, "POST", "/api/v1.0/predictions", ROW)
        assert status == 200, body
        # threshold 1.5 from PREDICTIVE_UNIT_PARAMETERS: sigmoid(2.5 - 1.5)
        assert json.loads(body)["data"]["ndarray"] == [[0.7310585786300049]]
        grpc_check(c.grpc_port, 0.7310585786300049)
        # A feedback reward is counted with the operator's labels (spec §4.2).
        status, body = request(c.port, "POST", "/api/v1.0/feedback",
                               {"request": ROW, "reward": 1.0})
        assert status == 200, body
        assert json.loads(body)["meta"]["requestPath"] == {"classifier": MODEL_IMAGE}
        status, text = request(c.metrics_port, "GET", "/prometheus")
        assert status == 200
        assert "seldon_api_model_feedback_reward_total{" in text
        assert 'model_name="classifier"' in text and 'deployment_name="cserve-test"' in text
        assert 'predictor_version="v1"' in text
        assert f'model_image="{MODEL_IMAGE.rsplit(":", 1)[0]}"' in text
        logs = c.logs()
        assert "starting microservice" in logs
        assert "Using worker: threads" in logs


def test_run_script_requires_model_name():
    r = podman(*RUN, "--rm", "-e", "MODEL_NAME=", MODEL_IMAGE, check=False)
    assert r.returncode == 1
    assert "Failed to find required env var MODEL_NAME" in r.stderr


def test_before_run_runs_first(containers):
    with tempfile.TemporaryDirectory() as d:
        script = os.path.join(d, "before-run")
        with open(script, "w") as f:
            f.write("#!/bin/sh\necho before-run ran as $(id -u)\n")
        os.chmod(script, 0o755)
        os.chmod(d, 0o755)
        c = containers(MODEL_IMAGE, ["/s2i/bin/run", *LOOPBACK],
                       opts=["-v", f"{script}:/microservice/before-run:ro"], name_hint="before")
        c.wait_ready()
        logs = c.logs()
        assert "before-run ran as 8888" in logs
        assert logs.index("before-run ran") < logs.index("starting microservice")


def uids(c):
    """Real uid and gid of every process in the container."""
    r = c.exec("/bin/sh", "-c", "cat /proc/[0-9]*/status")
    ids = set()
    uid = None
    for line in r.stdout.splitlines():
        if line.startswith("Uid:"):
            uid = int(line.split()[1])
        elif line.startswith("Gid:"):
            ids.add((uid, int(line.split()[1])))
    return ids


def test_non_root_user(containers):
    c = containers(MODEL_IMAGE, ["/s2i/bin/run", *LOOPBACK], name_hint="user")
    c.wait_ready()
    assert uids(c) == {(8888, 0)}


def test_arbitrary_uid_read_only_root(containers):
    # readOnlyRootFilesystem as Kubernetes does it: no tmpfs anywhere either.
    c = containers(MODEL_IMAGE, ["/s2i/bin/run", *LOOPBACK],
                   opts=["--user", "1000123456:0", "--read-only", "--read-only-tmpfs=false"],
                   env={"GUNICORN_WORKERS": "2"}, name_hint="ro")
    c.wait_ready()
    assert uids(c) == {(1000123456, 0)}
    for _ in range(4):
        status, body = request(c.port, "POST", "/api/v1.0/predictions", ROW)
        assert status == 200, body
    assert c.exec("/bin/sh", "-c", "touch /microservice/x").returncode != 0  # really read-only


def test_package_list_model_image(containers):
    c = containers(PKG_IMAGE, ["/s2i/bin/run", *LOOPBACK], name_hint="pkg")
    c.wait_ready()
    status, body = request(c.port, "POST", "/api/v1.0/predictions", {"data": {"ndarray": [[0]]}})
    assert status == 200, body
    assert "yaml" in json.loads(body)["meta"]["tags"]  # python3-yaml from debian-packages


def test_prestop_command(containers):
    # The operator's hook, verbatim: exec ["/bin/sh", "-c", "/bin/sleep 10"].
    c = containers(MODEL_IMAGE, ["/s2i/bin/run", *LOOPBACK], name_hint="prestop")
    c.wait_ready()
    r = c.exec("/bin/sh", "-c", "/bin/sleep 10", timeout=60)
    assert r.returncode == 0, r.stderr
    assert c.running()


def in_flight(c):
    status, text = request(c.metrics_port, "GET", "/prometheus")
    for line in text.splitlines():
        if line.startswith("cserve_in_flight_requests"):
            return float(line.split()[-1])
    return 0.0


def test_stop_drains_in_flight_requests(containers):
    grace = 20
    c = containers(PKG_IMAGE, ["/s2i/bin/run", *LOOPBACK], env={"GUNICORN_THREADS": "4"},
                   name_hint="stop")
    c.wait_ready()
    results = []

    def call(i):
        try:
            results.append(request(c.port, "POST", "/api/v1.0/predictions",
                                   {"data": {"ndarray": [[3, i]]}}, timeout=grace))
        except OSError as e:
            results.append((0, repr(e)))

    threads = [threading.Thread(target=call, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 10
    while in_flight(c) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert in_flight(c) == 3
    # podman stop: the image's stop signal (TERM) to tini, which forwards it to the server;
    # KILL only after the grace period, which would make the exit status 137.
    r = subprocess.run(["podman", "stop", "--time", str(grace), c.name], capture_output=True,
                       text=True, timeout=grace + 30)
    assert r.returncode == 0, r.stderr
    for t in threads:
        t.join(timeout=grace)
    assert sorted(s for s, _ in results) == [200, 200, 200], results
    assert c.exit_code() == 0, c.logs()
    assert "Handling signal: term" in c.logs()
