"""Helpers of the image test (deploy/image-test builds the images and runs this directory).

Containers run with podman and runc on the host network only, bound to 127.0.0.1 on free ports
(the ports the operator would inject are set through its own environment variables); every wait
is bounded; every container started is removed at the end of its test."""
import http.client
import json
import os
import socket
import struct
import subprocess
import time

import pytest

IMAGE = os.environ.get("CSERVE_IMAGE", "localhost/cserve:latest")
MODEL_IMAGE = os.environ.get("CSERVE_MODEL_IMAGE", "localhost/cserve-mean-classifier:latest")
PKG_IMAGE = os.environ.get("CSERVE_PKG_IMAGE", "localhost/cserve-slow:latest")
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
# What this machine needs of every container (see deploy/image-test).
PODMAN_RUN = ["podman", "--runtime", "runc", "run", "--network", "host",
              "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096"]
# The listen address of the tests: the run script passes its arguments on to the server.
LOOPBACK = ["--host", "127.0.0.1"]


def podman(*args, timeout=120, check=True):
    r = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)}: exit {r.returncode}\n{r.stderr}")
    return r


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def operator_env(http_port, metrics_port, grpc_port, name="classifier", image=MODEL_IMAGE):
    """The variables the Seldon operator injects into a model container (spec §1.2)."""
    return {
        "PREDICTIVE_UNIT_SERVICE_PORT": str(http_port),
        "PREDICTIVE_UNIT_HTTP_SERVICE_PORT": str(http_port),
        "PREDICTIVE_UNIT_GRPC_SERVICE_PORT": str(grpc_port),
        "PREDICTIVE_UNIT_METRICS_SERVICE_PORT": str(metrics_port),
        "PREDICTIVE_UNIT_METRICS_ENDPOINT": "/prometheus",
        "PREDICTIVE_UNIT_ID": name,
        "PREDICTIVE_UNIT_IMAGE": image,
        "PREDICTOR_ID": "example",
        "PREDICTOR_LABELS": '{"version":"v1"}',
        "SELDON_DEPLOYMENT_ID": "cserve-test",
        "SELDON_EXECUTOR_ENABLED": "true",
    }


def request(port, method, path, body=None, timeout=30):
    """(status, body text) of one request to 127.0.0.1:port."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        c.request(method, path, body=json.dumps(body) if body is not None else None,
                  headers=headers)
        r = c.getresponse()
        return r.status, r.read().decode()
    finally:
        c.close()


def _varint(n):
    out = b""
    while True:
        low, n = n & 0x7F, n >> 7
        out += bytes([low | (0x80 if n else 0)])
        if not n:
            return out


def _field(number, payload):
    """A length-delimited protobuf field."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def seldon_tensor(values):
    """The bytes of SeldonMessage {data {tensor {shape [1, n] values [...]}}} (prediction.proto:
    SeldonMessage.data = 3, DefaultData.tensor = 2, Tensor.shape = 1 and .values = 2, packed),
    so that no stubs need generating for the image test."""
    shape = _varint(1) + _varint(len(values))
    tensor = _field(1, shape) + _field(2, struct.pack(f"<{len(values)}d", *values))
    return _field(3, _field(2, tensor))


def grpc_unary(port, method, payload, timeout=30):
    """One unary call to 127.0.0.1:port with raw message bytes; returns the response bytes."""
    import grpc
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        return ch.unary_unary(method)(payload, timeout=timeout)


# grpc.health.v1.HealthCheckResponse {status: SERVING}
GRPC_SERVING = b"\x08\x01"


def grpc_check(port, proba):
    """The gRPC health check answers SERVING and Model/Predict of the row [1, 2, 3, 4] (as a
    tensor) answers `proba` (the little-endian double is in the response's packed values)."""
    assert grpc_unary(port, "/grpc.health.v1.Health/Check", b"") == GRPC_SERVING
    answer = grpc_unary(port, "/seldon.protos.Model/Predict", seldon_tensor([1.0, 2.0, 3.0, 4.0]))
    assert struct.pack("<d", proba) in answer, answer


class Container:
    """One detached container; `port`/`metrics_port` are the free ports it was given."""

    def __init__(self, image, cmd=(), env=None, opts=(), name_hint="c"):
        self.port, self.metrics_port, self.grpc_port = free_ports(3)
        self.env = operator_env(self.port, self.metrics_port, self.grpc_port, image=image)
        self.env.update(env or {})
        self.name = f"cserve-test-{name_hint}-{os.getpid()}-{self.port}"
        args = [*PODMAN_RUN, "-d", "--name", self.name]
        for k, v in self.env.items():
            args += ["-e", f"{k}={v}"]
        r = subprocess.run([*args, *opts, image, *cmd], capture_output=True, text=True,
                           timeout=120)
        if r.returncode != 0:
            raise AssertionError(f"podman run: exit {r.returncode}\n{r.stderr}")

    def logs(self):
        r = podman("logs", self.name, check=False)
        return r.stdout + r.stderr

    def running(self):
        r = podman("inspect", "--format", "{{.State.Running}}", self.name, check=False)
        return r.stdout.strip() == "true"

    def exit_code(self):
        return int(podman("inspect", "--format", "{{.State.ExitCode}}", self.name).stdout)

    def wait_ready(self, timeout=60):
        """Like the operator's TCP readiness probe, then /health/ping answers."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running():
                break
            try:
                if request(self.port, "GET", "/health/ping", timeout=5)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"{self.name} not ready within {timeout}s:\n{self.logs()}")

    def exec(self, *cmd, timeout=60):
        return podman("exec", self.name, *cmd, timeout=timeout, check=False)

    def remove(self):
        podman("rm", "--force", "--time", "0", self.name, check=False)


@pytest.fixture
def containers():
    made = []

    def start(*args, **kwargs):
        c = Container(*args, **kwargs)
        made.append(c)
        return c

    yield start
    for c in made:
        c.remove()
