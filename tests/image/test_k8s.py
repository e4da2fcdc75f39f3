"""deploy/k8s: every SeldonDeployment is valid for the CRD (strict: unknown fields rejected) and
for the operator's own rules, and the Pod the operator would make of it runs under
`podman kube play` with the worker/thread layout its environment asks for."""
import glob
import json
import os
import re
import tempfile
import time

import pytest
import yaml

import seldon_operator as so
from conftest import IMAGE, MODEL_IMAGE, ROOT, free_ports, grpc_check, podman, request

MANIFESTS = sorted(glob.glob(os.path.join(ROOT, "deploy/k8s/*.yaml")))
IMAGES = {"localhost/cserve:latest": IMAGE,
          "localhost/cserve-mean-classifier:latest": MODEL_IMAGE}


@pytest.fixture(scope="module")
def schema():
    return so.crd_schema()


def test_the_examples_are_all_there():
    names = {os.path.basename(m) for m in MANIFESTS}
    assert {"workers.yaml", "threads.yaml", "single-threaded.yaml", "debug.yaml",
            "scaled.yaml", "grpc.yaml"} <= names


def test_grpc_example_has_a_grpc_endpoint():
    (d,) = so.load(os.path.join(ROOT, "deploy/k8s/grpc.yaml"))
    assert d["spec"]["predictors"][0]["graph"]["endpoint"]["type"] == "GRPC"


@pytest.mark.parametrize("path", MANIFESTS, ids=os.path.basename)
def test_manifest_is_valid(path, schema):
    docs = so.load(path)
    assert docs
    for d in docs:
        assert so.schema_errors(d, schema) == []
        assert so.operator_errors(d) == []


def test_validation_is_strict(schema):
    d = so.load(os.path.join(ROOT, "deploy/k8s/workers.yaml"))[0]
    d["spec"]["predictors"][0]["graph"]["endpoint"]["typo"] = "REST"
    d["spec"]["predictors"][0]["componentSpecs"][0]["spec"]["containers"][0]["envv"] = []
    errs = so.schema_errors(d, schema)
    assert len(errs) == 2 and all("typo" in e or "envv" in e for e in errs)
    d = so.load(os.path.join(ROOT, "deploy/k8s/workers.yaml"))[0]
    d["spec"]["predictors"][0]["componentSpecs"][0]["spec"]["containers"][0]["name"] = "other"
    d["spec"]["predictors"][0]["graph"]["endpoint"]["type"] = "KAFKA"
    assert len(so.operator_errors(d)) == 2


def test_scaled_has_hpa_and_pdb():
    (d,) = so.load(os.path.join(ROOT, "deploy/k8s/scaled.yaml"))
    p = d["spec"]["predictors"][0]
    assert p["replicas"] > 1
    cs = p["componentSpecs"][0]
    assert cs["hpaSpec"]["maxReplicas"] > cs["hpaSpec"]["minReplicas"]
    assert cs["pdbSpec"]["minAvailable"] >= 1
    assert cs["spec"]["containers"][0]["resources"]["requests"]["cpu"]  # the HPA's base


def env_of(c):
    return {e["name"]: e["value"] for e in c.get("env", [])}


def expected_layout(env):
    """The log line cserve's master prints for this environment (None: debug, no master)."""
    if env.get("SELDON_DEBUG") == "1":
        return None
    workers = int(env.get("GUNICORN_WORKERS", "1"))
    threads = 1 if env.get("FLASK_SINGLE_THREADED") == "1" else int(
        env.get("GUNICORN_THREADS", "10"))
    return (f"Using worker: threads ({threads} model thread{'s' if threads != 1 else ''} per "
            f"worker, {workers} worker{'s' if workers != 1 else ''})")


def for_podman(pod, podinfo):
    """The rendered Pod adapted to this machine, nothing else changed: the test images, the host
    network on free loopback ports, the downward-API file as a host file."""
    pod = json.loads(json.dumps(pod))
    pod["metadata"]["name"] += f"-{os.getpid()}"
    spec = pod["spec"]
    spec["hostNetwork"] = True
    ports = {}
    for c in spec["containers"]:
        c["image"] = IMAGES.get(c["image"], c["image"])
        http_port, metrics_port, grpc_port = free_ports(3)
        remap = {"PREDICTIVE_UNIT_SERVICE_PORT": http_port,
                 "PREDICTIVE_UNIT_HTTP_SERVICE_PORT": http_port,
                 "PREDICTIVE_UNIT_GRPC_SERVICE_PORT": grpc_port,
                 "PREDICTIVE_UNIT_METRICS_SERVICE_PORT": metrics_port}
        for e in c["env"]:
            if e["name"] in remap:
                e["value"] = str(remap[e["name"]])
            if e["name"] == "PREDICTIVE_UNIT_IMAGE":
                e["value"] = c["image"]
        # On the host network the ports are the ones the server binds: podman would turn
        # containerPorts into bridge mappings, and a probe names its port by number.
        del c["ports"]
        for probe in ("readinessProbe", "livenessProbe"):
            named = c[probe]["tcpSocket"]["port"]
            c[probe]["tcpSocket"]["port"] = grpc_port if named == "grpc" else http_port
        # The image's own command with the tests' loopback bind added (args keep the
        # entrypoint, tini, as in Kubernetes).
        cmd = json.loads(podman("image", "inspect", c["image"]).stdout)[0]["Config"]["Cmd"]
        c["args"] = [*cmd, "--host", "127.0.0.1"]
        ports[c["name"]] = (http_port, metrics_port, grpc_port)
    with open(os.path.join(podinfo, "annotations"), "w") as f:
        for k, v in pod["metadata"]["annotations"].items():
            f.write(f'{k}="{v}"\n')
    spec["volumes"] = [v for v in spec["volumes"] if v["name"] != "podinfo"]
    spec["volumes"].append({"name": "podinfo",
                            "hostPath": {"path": podinfo, "type": "Directory"}})
    return pod, ports


@pytest.mark.parametrize("path", MANIFESTS, ids=os.path.basename)
def test_kube_play(path):
    (sdep,) = so.load(path)
    for p, cs, pod in so.render_pods(sdep):
        c = pod["spec"]["containers"][0]
        assert c["lifecycle"]["preStop"]["exec"]["command"] == so.PRESTOP
        # the operator probes the port of the graph's endpoint type
        probed = "grpc" if p["graph"]["endpoint"]["type"] == "GRPC" else "http"
        assert c["readinessProbe"]["tcpSocket"]["port"] == probed
        assert c["livenessProbe"]["tcpSocket"]["port"] == probed
        env = env_of(c)
        assert env["PREDICTIVE_UNIT_ID"] == c["name"] == p["graph"]["name"]
        assert env["PREDICTIVE_UNIT_METRICS_ENDPOINT"] == "/prometheus"
        with tempfile.TemporaryDirectory() as d:
            os.chmod(d, 0o755)
            podinfo = os.path.join(d, "podinfo")
            os.mkdir(podinfo, 0o755)
            kube, ports = for_podman(pod, podinfo)
            f = os.path.join(d, "pod.yaml")
            with open(f, "w") as out:
                yaml.safe_dump(kube, out)
            name = kube["metadata"]["name"]
            ctr = f"{name}-{c['name']}"
            try:
                podman("kube", "play", f, timeout=180)
                http_port, metrics_port, grpc_port = ports[c["name"]]
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    try:
                        if request(http_port, "GET", "/health/ping", timeout=5)[0] == 200:
                            break
                    except OSError:
                        time.sleep(0.2)
                status, body = request(http_port, "POST", "/api/v1.0/predictions",
                                       {"data": {"ndarray": [[1.0, 2.0, 3.0, 4.0]]}})
                assert status == 200, body
                if env.get("GRPC_WORKERS", "1") != "0":
                    # the same model over gRPC (what a GRPC endpoint's executor calls), and the
                    # gRPC health check of a gRPC probe
                    status, body = request(http_port, "POST", "/api/v1.0/predictions",
                                           {"data": {"tensor": {"shape": [1, 4],
                                                                "values": [1.0, 2.0, 3.0, 4.0]}}})
                    assert status == 200, body
                    grpc_check(grpc_port, json.loads(body)["data"]["tensor"]["values"][0])
                assert request(metrics_port, "GET", "/prometheus")[0] == 200
                logs = podman("logs", ctr).stderr + podman("logs", ctr).stdout
                layout = expected_layout(env)
                if layout is None:  # debug: one process serves, no master
                    assert "Using worker" not in logs
                    listening = re.search(r"Listening at: \S+ \((\d+)\)", logs).group(1)
                    assert f"Booting worker with pid: {listening}" in logs
                else:
                    assert layout in logs, logs
                    workers = int(env.get("GUNICORN_WORKERS", "1"))
                    assert logs.count("Booting worker with pid") == workers
                if (c.get("securityContext") or {}).get("readOnlyRootFilesystem"):
                    ro = podman("inspect", "--format", "{{.HostConfig.ReadonlyRootfs}}", ctr)
                    assert ro.stdout.strip() == "true"
                    assert podman("exec", ctr, "touch", "/microservice/x",
                                  check=False).returncode != 0
                # The grace period of the manifest: TERM, drained, exit 0 (KILL would be 137).
                grace = kube["spec"]["terminationGracePeriodSeconds"]
                podman("pod", "stop", "--time", str(grace), name, timeout=grace + 60)
                code = podman("inspect", "--format", "{{.State.ExitCode}}", ctr).stdout.strip()
                assert code == "0", logs
            finally:
                podman("pod", "rm", "--force", "--time", "0", name, check=False)
