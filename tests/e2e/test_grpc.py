"""gRPC on the workers (spec §1.9, §5): the transport, health, routing of methods, limits and
the supervisor's signals, with Debian's grpcio and stubs generated at test time from proto/."""
import concurrent.futures
import os
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import BIN, wait_until

grpc = pytest.importorskip("grpc")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROTO = os.path.join(ROOT, "proto")


def _plugin():
    for d in os.environ.get("PATH", "").split(":") + ["/usr/bin"]:
        p = os.path.join(d, "grpc_python_plugin")
        if os.access(p, os.X_OK):
            return p
    return None


@pytest.fixture(scope="module")
def pb():
    """The health and Seldon messages, generated from our own protos into a temporary package."""
    plugin = _plugin()
    if plugin is None:
        pytest.fail("grpc_python_plugin not found (Debian package protobuf-compiler-grpc)")
    out = tempfile.mkdtemp(prefix="cserve-grpc-stubs-")
    protos = ["grpc/health/v1/health.proto", "seldon_core/proto/prediction.proto",
              "seldon_core/proto/tensorflow/core/framework/tensor.proto",
              "seldon_core/proto/tensorflow/core/framework/tensor_shape.proto",
              "seldon_core/proto/tensorflow/core/framework/types.proto",
              "seldon_core/proto/tensorflow/core/framework/resource_handle.proto"]
    protos = [p for p in protos if os.path.exists(os.path.join(PROTO, p))]
    subprocess.run(["protoc", f"-I{PROTO}", "-I/usr/include", f"--python_out={out}",
                    f"--grpc_out={out}", f"--plugin=protoc-gen-grpc={plugin}"] + protos,
                   check=True, timeout=60)
    yield {"health": _load(out, "grpc/health/v1/health_pb2.py", "cs_health_pb2")}


def _load(root, rel, name):
    import importlib.util
    spec = importlib.util.spec_from_file_location(name, os.path.join(root, rel))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def channel(s):
    assert s.grpc_port, s.logs()
    return grpc.insecure_channel(f"127.0.0.1:{s.grpc_port}")


def health_check(ch, pb, service="", timeout=10):
    h = pb["health"]
    call = ch.unary_unary("/grpc.health.v1.Health/Check",
                          request_serializer=h.HealthCheckRequest.SerializeToString,
                          response_deserializer=h.HealthCheckResponse.FromString)
    return call(h.HealthCheckRequest(service=service), timeout=timeout)


def raw_call(ch, method, payload=b"", timeout=10):
    return ch.unary_unary(method)(payload, timeout=timeout)


def rpc_error(fn):
    with pytest.raises(grpc.RpcError) as e:
        fn()
    return e.value.code(), e.value.details()


@pytest.fixture
def server(server_factory):
    def make(**kw):
        s = server_factory(**kw)
        s.wait_ready()
        return s
    return make


def test_health_is_serving_once_loaded(server, pb):
    s = server()
    with channel(s) as ch:
        st = health_check(ch, pb)
        assert st.status == pb["health"].HealthCheckResponse.SERVING
        assert health_check(ch, pb, "seldon.protos.Model").status == st.status
        code, details = rpc_error(lambda: health_check(ch, pb, "no.such.Service"))
        assert code == grpc.StatusCode.NOT_FOUND


def test_unknown_methods_are_unimplemented(server, pb):
    s = server()
    with channel(s) as ch:
        for m in ["/seldon.protos.Model/Nope", "/no.such.Service/Predict", "/x"]:
            code, details = rpc_error(lambda: raw_call(ch, m))
            assert (code, details) == (grpc.StatusCode.UNIMPLEMENTED, "Method not found!")
        # the connection still serves
        assert health_check(ch, pb).status == pb["health"].HealthCheckResponse.SERVING


def test_graph_metadata_fails_as_the_reference_does(server):
    s = server()
    with channel(s) as ch:
        code, details = rpc_error(lambda: raw_call(ch, "/seldon.protos.Seldon/GraphMetadata"))
        assert code == grpc.StatusCode.UNKNOWN
        assert details == ("Exception calling application: GraphMetadata not available on the "
                           "Model level.")


def test_grpc_workers_zero_turns_grpc_off(server):
    s = server(env={"GRPC_WORKERS": "0"})
    assert s.grpc_port is None
    assert "gRPC at" not in s.logs()
    assert s.request("GET", "/health/ping")[0] == 200


def test_many_concurrent_calls_on_one_connection(server, pb):
    s = server()
    with channel(s) as ch:
        with concurrent.futures.ThreadPoolExecutor(16) as ex:
            futs = [ex.submit(health_check, ch, pb) for _ in range(400)]
            assert all(f.result(timeout=30).status == 1 for f in futs)


def test_oversized_message_is_resource_exhausted(server, pb):
    s = server()
    with channel(s) as ch:
        big = "x" * (5 << 20)
        code, details = rpc_error(lambda: health_check(ch, pb, big, timeout=20))
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert details.startswith("Received message larger than max (")
        assert details.endswith(" vs. 4194304)")
        assert health_check(ch, pb).status == 1


def test_max_message_size_annotation(server, pb, tmp_path):
    ann = tmp_path / "annotations"
    ann.write_text('seldon.io/grpc-max-message-size="100"\n')
    s = server(args=["--annotations-file", str(ann)])
    with channel(s) as ch:
        code, details = rpc_error(lambda: health_check(ch, pb, "y" * 200))
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert details.endswith(" vs. 100)")
        assert health_check(ch, pb).status == 1


def test_invalid_max_message_size_annotation_stops_start_up(tmp_path):
    ann = tmp_path / "annotations"
    ann.write_text('seldon.io/grpc-max-message-size="lots"\n')
    r = subprocess.run([BIN, "--host", "127.0.0.1", "--http-port", "0", "--metrics-port", "0",
                        "--grpc-port", "0", "--annotations-file", str(ann)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert "seldon.io/grpc-max-message-size" in r.stderr + r.stdout


def test_term_with_an_idle_channel_exits_promptly(server, pb):
    s = server()
    with channel(s) as ch:
        assert health_check(ch, pb).status == 1
        t = time.monotonic()
        s.signal(signal.SIGTERM)
        assert s.proc.wait(20) == 0
        assert time.monotonic() - t < 10


def test_a_killed_worker_is_replaced_and_grpc_serves_again(server, pb):
    s = server()
    s.wait_ready(workers=1)
    first = s.workers()[0]
    os.kill(first, signal.SIGKILL)
    wait_until(lambda: s.workers() and first not in s.workers(), 15, what="respawn")

    def serving():
        try:
            with channel(s) as ch:
                return health_check(ch, pb, timeout=2).status == 1
        except grpc.RpcError:
            return False
    wait_until(serving, 15, what="gRPC served by the new worker")
