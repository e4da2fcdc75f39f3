"""gRPC on the workers (spec §1.9, §5): the transport, health, routing of methods, limits and
the supervisor's signals, with Debian's grpcio and stubs generated at test time from proto/."""
import concurrent.futures
import json
import os
import re
import shutil
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
    protos = ["grpc/health/v1/health.proto", "grpc/reflection/v1alpha/reflection.proto",
              "seldon_core/proto/prediction.proto",
              "seldon_core/proto/tensorflow/core/framework/tensor.proto",
              "seldon_core/proto/tensorflow/core/framework/tensor_shape.proto",
              "seldon_core/proto/tensorflow/core/framework/types.proto",
              "seldon_core/proto/tensorflow/core/framework/resource_handle.proto"]
    protos = [p for p in protos if os.path.exists(os.path.join(PROTO, p))]
    subprocess.run(["protoc", f"-I{PROTO}", "-I/usr/include", f"--python_out={out}",
                    f"--grpc_out={out}", f"--plugin=protoc-gen-grpc={plugin}"] + protos,
                   check=True, timeout=60)
    yield {"health": _load(out, "grpc/health/v1/health_pb2.py", "cs_health_pb2"),
           "reflection": _load(out, "grpc/reflection/v1alpha/reflection_pb2.py",
                               "cs_reflection_pb2")}


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


# ---- the model path ----------------------------------------------------------------------

PYMODELS = os.path.join(os.path.dirname(__file__), "pymodels")


@pytest.fixture(scope="module")
def seldon_pb():
    import sys
    sys.path.insert(0, os.path.join(os.environ.get("CSERVE_BUILD", os.path.join(ROOT, "build")),
                                    "python"))
    from seldon_core.proto import prediction_pb2
    from google.protobuf import json_format
    return prediction_pb2, json_format


def seldon_call(ch, seldon_pb, method, doc, timeout=10, metadata=None):
    pb, jf = seldon_pb
    req = jf.ParseDict(doc, pb.SeldonMessage()) if isinstance(doc, dict) else doc
    fn = ch.unary_unary(method, request_serializer=lambda m: m.SerializeToString(),
                        response_deserializer=pb.SeldonMessage.FromString)
    return jf.MessageToDict(fn(req, timeout=timeout, metadata=metadata))


def predict_fn(ch, seldon_pb, x=None):
    """Model/Predict as a callable taking a SeldonMessage, and (given x) the ndarray [[x]]."""
    pb, jf = seldon_pb
    fn = ch.unary_unary("/seldon.protos.Model/Predict",
                        request_serializer=lambda m: m.SerializeToString(),
                        response_deserializer=pb.SeldonMessage.FromString)
    return fn, None if x is None else jf.ParseDict({"data": {"ndarray": [[x]]}}, pb.SeldonMessage())


def test_builtin_predict_ndarray_and_tensor(server, seldon_pb):
    s = server(model=None)
    with channel(s) as ch:
        r = seldon_call(ch, seldon_pb, "/seldon.protos.Model/Predict",
                        {"data": {"ndarray": [[1.0, 2.0, 3.0, 4.0]]}})
        assert r == {"data": {"names": ["proba"], "ndarray": [[0.8807970779778823]]}}
        r = seldon_call(ch, seldon_pb, "/seldon.protos.Seldon/Predict",
                        {"data": {"tensor": {"shape": [1, 2], "values": [1, 2]}}})
        assert r["data"]["tensor"] == {"shape": [1, 1], "values": [0.7310585786300049]}
        # the same answer as REST for the same request
        st, _, body = s.request("POST", "/api/v1.0/predictions",
                                b'{"data":{"ndarray":[[1.0,2.0,3.0,4.0]]}}',
                                {"Content-Type": "application/json"})
        assert st == 200 and b"0.8807970779778823" in body


def test_every_seldon_service_routes(server, seldon_pb):
    s = server(model=None)
    x = {"data": {"ndarray": [[1.0, 2.0]]}}
    with channel(s) as ch:
        for m in ["/seldon.protos.Model/Predict", "/seldon.protos.Seldon/Predict",
                  "/seldon.protos.Generic/TransformInput", "/seldon.protos.Transformer/TransformInput",
                  "/seldon.protos.Generic/TransformOutput",
                  "/seldon.protos.OutputTransformer/TransformOutput"]:
            assert "data" in seldon_call(ch, seldon_pb, m, x), m


def test_model_errors_are_unknown_with_the_reference_texts(server, seldon_pb):
    s = server(model="GrpcModels.Raises", cwd=PYMODELS)
    with channel(s) as ch:
        code, details = rpc_error(lambda: seldon_call(ch, seldon_pb, "/seldon.protos.Model/Predict",
                                                      {"strData": "value"}))
        assert (code, details) == (grpc.StatusCode.UNKNOWN, "Exception calling application: boom")
        code, details = rpc_error(lambda: seldon_call(ch, seldon_pb, "/seldon.protos.Model/Predict",
                                                      {"strData": "other"}))
        assert (code, details) == (grpc.StatusCode.UNKNOWN, "Exception calling application: ")
        code, details = rpc_error(lambda: seldon_call(ch, seldon_pb, "/seldon.protos.Model/Predict",
                                                      {}))
        assert (code, details) == (grpc.StatusCode.UNKNOWN, "Exception calling application: ")


def test_python_raw_method_gets_and_returns_protobuf(server, seldon_pb):
    s = server(model="GrpcModels.RawProto", cwd=PYMODELS)
    with channel(s) as ch:
        r = seldon_call(ch, seldon_pb, "/seldon.protos.Model/Predict", {"strData": "hi"})
        assert r == {"strData": "SeldonMessage:hi"}


def test_client_deadline_is_deadline_exceeded_and_the_worker_goes_on(server, seldon_pb):
    s = server(model="GrpcModels.Sleeper", cwd=PYMODELS)
    with channel(s) as ch:
        t = time.monotonic()
        code, _ = rpc_error(lambda: seldon_call(ch, seldon_pb, "/seldon.protos.Model/Predict",
                                                {"data": {"ndarray": [[1.5]]}}, timeout=0.3))
        assert code == grpc.StatusCode.DEADLINE_EXCEEDED
        assert time.monotonic() - t < 1.4
        r = seldon_call(ch, seldon_pb, "/seldon.protos.Model/Predict",
                        {"data": {"ndarray": [[0.0]]}})
        assert r["data"]["ndarray"] == [[0.0]]


def test_model_call_past_the_timeout_is_answered_and_the_worker_replaced(server, seldon_pb):
    s = server(model="GrpcModels.Sleeper", cwd=PYMODELS, args=["--timeout", "1"])
    s.wait_ready(workers=1)
    first = s.workers()[0]
    with channel(s) as ch:
        code, details = rpc_error(lambda: seldon_call(ch, seldon_pb, "/seldon.protos.Model/Predict",
                                                      {"data": {"ndarray": [[6.0]]}}, timeout=15))
        assert code == grpc.StatusCode.DEADLINE_EXCEEDED
        assert "timed out" in details
    wait_until(lambda: s.workers() and first not in s.workers(), 20, what="replacement")


def test_cancelled_calls_free_their_requests(server, seldon_pb):
    s = server(model="GrpcModels.Sleeper", cwd=PYMODELS, env={"GUNICORN_THREADS": "2"})
    with channel(s) as ch:
        fn, req = predict_fn(ch, seldon_pb, 0.5)
        futs = [fn.future(req, timeout=10) for _ in range(20)]
        for f in futs:
            f.cancel()
        r = seldon_call(ch, seldon_pb, "/seldon.protos.Model/Predict",
                        {"data": {"ndarray": [[0.0]]}}, timeout=30)
        assert r["data"]["ndarray"] == [[0.0]]
    assert s.proc.poll() is None


def gauge(s, name):
    m = re.search(rf"^{name} (\S+)$", s.scrape()[2], re.M)
    return float(m.group(1)) if m else None


def test_cancelled_queued_calls_leave_the_queue(server, seldon_pb):
    """A call cancelled (RST_STREAM) while it waits for a model thread is dropped from the queue:
    otherwise a client that sends and cancels in a loop queues unbounded work and memory (the
    stream, and its share of the connection budget, is gone at once)."""
    s = server(model="GrpcModels.Sleeper", cwd=PYMODELS, env={"GUNICORN_THREADS": "1"})
    with channel(s) as ch:
        fn, req = predict_fn(ch, seldon_pb, 1.0)
        futs = [fn.future(req, timeout=60) for _ in range(30)]
        wait_until(lambda: (gauge(s, "cserve_model_queue_depth") or 0) >= 20, 10, what="queued")
        for f in futs:
            f.cancel()
        wait_until(lambda: gauge(s, "cserve_model_queue_depth") == 0 and
                   (gauge(s, "cserve_in_flight_requests") or 0) <= 1, 5, what="queue emptied")
        t = time.monotonic()
        r = seldon_call(ch, seldon_pb, "/seldon.protos.Model/Predict",
                        {"data": {"ndarray": [[0.0]]}}, timeout=10)
        assert r["data"]["ndarray"] == [[0.0]]
        assert time.monotonic() - t < 3
    assert s.proc.poll() is None


def test_term_lets_running_calls_finish(server, seldon_pb):
    s = server(model="GrpcModels.Sleeper", cwd=PYMODELS, env={"GUNICORN_THREADS": "4"})
    with channel(s) as ch:
        pb, jf = seldon_pb
        fn, req = predict_fn(ch, seldon_pb, 1.0)
        futs = [fn.future(req, timeout=20) for _ in range(4)]
        wait_until(lambda: re.search(r"^cserve_in_flight_requests [1-9]", s.scrape()[2], re.M),
                   10, what="calls running")
        s.signal(signal.SIGTERM)
        for f in futs:
            assert jf.MessageToDict(f.result())["data"]["ndarray"] == [[1.0]]
        assert s.proc.wait(20) == 0


def test_term_waits_for_a_running_call_whose_client_left(server, seldon_pb, tmp_path):
    """A model call still runs after its client closed the connection: TERM waits for it (within
    the graceful timeout) instead of exiting (and running the unload hook) under the thread."""
    mark = tmp_path / "mark"
    s = server(model="GrpcModels.SleepThenMark", cwd=PYMODELS,
               env={"CSERVE_TEST_MARK": str(mark), "GUNICORN_THREADS": "2"})
    ch = channel(s)
    fn, req = predict_fn(ch, seldon_pb, 1.5)
    fut = fn.future(req, timeout=20)
    wait_until(lambda: (gauge(s, "cserve_in_flight_requests") or 0) >= 1, 10, what="call running")
    ch.close()
    assert fut.cancelled() or fut.done()
    time.sleep(0.2)
    s.signal(signal.SIGTERM)
    assert s.proc.wait(20) == 0
    assert mark.exists() and mark.read_text() == "done\n", s.logs()


def test_large_messages_both_ways(server, seldon_pb, tmp_path):
    ann = tmp_path / "annotations"
    ann.write_text(f'seldon.io/grpc-max-message-size="{200 << 20}"\n')
    s = server(model=None, args=["--annotations-file", str(ann)])
    pb, jf = seldon_pb
    rows = 13000  # 13000 x 1000 doubles: ~104 MB as a tensor
    msg = pb.SeldonMessage()
    msg.data.tensor.shape.extend([rows, 1000])
    msg.data.tensor.values.extend([0.5] * (rows * 1000))
    opts = [("grpc.max_send_message_length", 300 << 20),
            ("grpc.max_receive_message_length", 300 << 20)]
    with grpc.insecure_channel(f"127.0.0.1:{s.grpc_port}", options=opts) as ch:
        fn = ch.unary_unary("/seldon.protos.Model/Predict",
                            request_serializer=lambda m: m.SerializeToString(),
                            response_deserializer=pb.SeldonMessage.FromString)
        out = fn(msg, timeout=120)
        assert list(out.data.tensor.shape) == [rows, 1]


def server_socket_option(s, port, client, level, option):
    """An option of the worker's end of the TCP connection `client` (connected to `port`):
    the worker's descriptor is found by the socket's inode in /proc/net/tcp and duplicated with
    pidfd_getfd(2)."""
    import ctypes
    import socket
    peer = client.getsockname()[1]

    def inode():
        with open("/proc/net/tcp") as f:
            for line in f.readlines()[1:]:
                col = line.split()
                if (int(col[1].split(":")[1], 16), int(col[2].split(":")[1], 16)) == (port, peer):
                    return col[9]
        return None
    ino = wait_until(inode, 5, what="the server's end of the connection")

    def found():
        for w in s.workers():
            for fd in os.listdir(f"/proc/{w}/fd"):
                try:
                    if os.readlink(f"/proc/{w}/fd/{fd}") == f"socket:[{ino}]":
                        return w, int(fd)
                except OSError:
                    pass
        return None
    pid, fd = wait_until(found, 5, what="a worker holding the connection")
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    try:
        dup = libc.syscall(438, pidfd, fd, 0)  # SYS_pidfd_getfd
        assert dup >= 0, os.strerror(ctypes.get_errno())
    finally:
        os.close(pidfd)
    with socket.socket(fileno=dup) as sk:
        return sk.getsockopt(level, option)


@pytest.mark.parametrize("proto", ["grpc", "http"])
def test_accepted_connections_have_nagle_off(server, proto):
    # HTTP/2 writes small frames (WINDOW_UPDATE, SETTINGS ACK) while a large message is still
    # arriving: with Nagle's algorithm on, each waited ~40 ms for the client's delayed ACK, and
    # 1 MB tensor Predicts on 4 connections ran at 91 RPC/s instead of 3200 (TCP_NODELAY was
    # set on HTTP/1.1 connections only)
    import socket
    s = server()
    port = s.grpc_port if proto == "grpc" else s.port
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        assert server_socket_option(s, port, c, socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


def test_a_model_writing_into_a_tensor_it_was_given(server, seldon_pb):
    # a tensor's packed doubles are the model's X without a copy when the message puts them on
    # a double's alignment (a shape of one dimension does with these sizes), and a copy when
    # it does not; a model may write into either, call after call
    s = server(model="GrpcModels.Doubles", cwd=PYMODELS)
    pb, jf = seldon_pb
    n = 5000  # past the size under which the Python runtime copies anyway
    with channel(s) as ch:
        for shape in ([n], [1, n], [n], [2, n // 2]):
            for k in range(3):
                msg = pb.SeldonMessage()
                msg.data.tensor.shape.extend(shape)
                msg.data.tensor.values.extend([float(i + k) for i in range(n)])
                out = typed_call(ch, "/seldon.protos.Model/Predict", msg, pb.SeldonMessage)
                assert list(out.data.tensor.shape) == shape
                assert list(out.data.tensor.values) == [2.0 * (i + k) for i in range(n)]


def predict_load(s, seldon_pb, seconds, clients=6):
    """`clients` threads, each with its own channel, calling Predict in a loop for `seconds`;
    returns (ok, failures) once they stop. Starts at once, in the background."""
    import threading
    pb, jf = seldon_pb
    req = jf.ParseDict({"data": {"ndarray": [[1.0, 2.0]]}}, pb.SeldonMessage()).SerializeToString()
    ok, failures, stop = [0], [], time.monotonic() + seconds

    def client():
        with grpc.insecure_channel(f"127.0.0.1:{s.grpc_port}") as ch:
            fn = ch.unary_unary("/seldon.protos.Model/Predict")
            n = 0
            while time.monotonic() < stop and n < 200000:
                n += 1
                try:
                    fn(req, timeout=10)
                    ok[0] += 1
                except grpc.RpcError as e:
                    failures.append((e.code(), e.details(), time.monotonic()))
    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()

    def join():
        for t in threads:
            t.join(seconds + 30)
        return ok[0], failures
    return join


def test_hup_under_load_loses_no_rpc(server, seldon_pb):
    s = server(model=None, env={"GUNICORN_WORKERS": "2"})
    s.wait_ready(workers=2)
    before = set(s.workers())
    join = predict_load(s, seldon_pb, 5)
    time.sleep(1)
    s.signal(signal.SIGHUP)
    ok, failures = join()
    assert failures == [] and ok > 100, (ok, failures[:5])
    wait_until(lambda: len(s.workers()) == 2 and not before & set(s.workers()), 20,
               what="both workers rolled")


def test_kill_9_under_load_loses_only_that_workers_rpcs(server, seldon_pb):
    s = server(model=None, env={"GUNICORN_WORKERS": "2"})
    s.wait_ready(workers=2)
    join = predict_load(s, seldon_pb, 5, clients=6)
    time.sleep(1)
    victim = s.workers()[0]
    killed = time.monotonic()
    os.kill(victim, signal.SIGKILL)
    ok, failures = join()
    # Only calls on the killed worker's connections fail, as the kill breaks them (a client may
    # see its reconnect race the kill too); nothing fails later, on the other worker or on
    # the replacement.
    assert all(code == grpc.StatusCode.UNAVAILABLE for code, _, _ in failures), failures[:5]
    assert all(t - killed < 2.0 for _, _, t in failures), [(d, t - killed) for _, d, t in failures]
    assert ok > 100


REFLECTION = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
SELDON_SERVICES = ["seldon.protos." + n for n in
                   ["Generic", "Model", "Router", "Transformer", "OutputTransformer", "Combiner",
                    "Seldon"]]


def reflect(ch, pb, requests, timeout=10):
    """One reflection stream: every request sent, every response read."""
    r = pb["reflection"]
    call = ch.stream_stream(REFLECTION, request_serializer=r.ServerReflectionRequest.SerializeToString,
                            response_deserializer=r.ServerReflectionResponse.FromString)
    return list(call(iter(requests), timeout=timeout))


def test_reflection_lists_services_and_describes_predict(server, pb):
    from google.protobuf import descriptor_pb2, descriptor_pool
    r = pb["reflection"]
    s = server()
    with channel(s) as ch:
        listed, by_symbol, by_name, missing, numbers = reflect(ch, pb, [
            r.ServerReflectionRequest(list_services="*"),
            r.ServerReflectionRequest(file_containing_symbol="seldon.protos.Model"),
            r.ServerReflectionRequest(file_by_filename="grpc/health/v1/health.proto"),
            r.ServerReflectionRequest(file_containing_symbol="no.such.Symbol"),
            r.ServerReflectionRequest(all_extension_numbers_of_type="seldon.protos.SeldonMessage"),
        ])
        names = [x.name for x in listed.list_services_response.service]
        assert sorted(names) == sorted(SELDON_SERVICES + [
            "grpc.reflection.v1alpha.ServerReflection", "grpc.health.v1.Health"])
        files = [descriptor_pb2.FileDescriptorProto.FromString(b)
                 for b in by_symbol.file_descriptor_response.file_descriptor_proto]
        assert files[0].name == "seldon_core/proto/prediction.proto"
        assert set(files[0].dependency) <= {f.name for f in files}
        model = [x for x in files[0].service if x.name == "Model"][0]
        predict = [m for m in model.method if m.name == "Predict"][0]
        assert predict.input_type == ".seldon.protos.SeldonMessage"
        assert predict.output_type == ".seldon.protos.SeldonMessage"
        # the files form a complete pool, as a client like grpcurl builds one
        pool, todo = descriptor_pool.DescriptorPool(), list(files)
        for _ in range(len(files)):
            for f in [f for f in todo if all(pool_has(pool, d) for d in f.dependency)]:
                pool.Add(f)
                todo.remove(f)
        assert not todo
        method = pool.FindServiceByName("seldon.protos.Model").methods_by_name["Predict"]
        assert method.input_type.full_name == "seldon.protos.SeldonMessage"
        health = descriptor_pb2.FileDescriptorProto.FromString(
            by_name.file_descriptor_response.file_descriptor_proto[0])
        assert health.service[0].name == "Health"
        assert missing.error_response.error_code == grpc.StatusCode.NOT_FOUND.value[0]
        assert numbers.all_extension_numbers_response.base_type_name == "seldon.protos.SeldonMessage"
        # the connection still serves unary calls
        assert health_check(ch, pb).status == 1


def pool_has(pool, name):
    try:
        pool.FindFileByName(name)
        return True
    except KeyError:
        return False


def test_reflection_many_requests_on_one_stream_and_garbage(server, pb):
    r = pb["reflection"]
    s = server()
    with channel(s) as ch:
        out = reflect(ch, pb, [r.ServerReflectionRequest(list_services="")] * 200, timeout=30)
        assert len(out) == 200
        assert all(len(x.list_services_response.service) == 9 for x in out)
        call = ch.stream_stream(REFLECTION)
        code, _ = rpc_error(lambda: list(call(iter([b"\xff\xff\xff"]), timeout=10)))
        assert code == grpc.StatusCode.INTERNAL
        assert health_check(ch, pb).status == 1


def test_term_ends_an_open_reflection_stream(server, pb):
    import threading
    r = pb["reflection"]
    s = server(args=["--graceful-timeout", "1"])
    stop = threading.Event()

    def requests():
        yield r.ServerReflectionRequest(list_services="")
        stop.wait(20)  # the stream stays open: the client never half-closes

    with channel(s) as ch:
        call = ch.stream_stream(REFLECTION,
                                request_serializer=r.ServerReflectionRequest.SerializeToString,
                                response_deserializer=r.ServerReflectionResponse.FromString)
        it = call(requests(), timeout=30)
        assert len(next(it).list_services_response.service) == 9
        t = time.monotonic()
        s.signal(signal.SIGTERM)
        with pytest.raises(grpc.RpcError) as e:
            next(it)
        assert e.value.code() == grpc.StatusCode.UNAVAILABLE
        stop.set()
        assert s.proc.wait(20) == 0
        assert time.monotonic() - t < 10


def test_graceful_timeout_answers_a_call_whose_message_never_came(server):
    """A client that opens a unary call and never sends its message: at the graceful timeout it
    gets UNAVAILABLE (as a partial HTTP request gets a 503), not a dropped connection."""
    import threading
    s = server(args=["--graceful-timeout", "1"])
    stop = threading.Event()

    def requests():
        stop.wait(20)  # headers only: the message never comes
        yield b""

    with channel(s) as ch:
        fut = ch.stream_unary("/seldon.protos.Model/Predict").future(requests(), timeout=30)
        time.sleep(0.3)
        t = time.monotonic()
        s.signal(signal.SIGTERM)
        with pytest.raises(grpc.RpcError) as e:
            fut.result(timeout=15)
        stop.set()
        assert e.value.code() == grpc.StatusCode.UNAVAILABLE, e.value.details()
        assert s.proc.wait(20) == 0
        assert time.monotonic() - t < 10


def typed_call(ch, method, req, resp_type, timeout=10):
    fn = ch.unary_unary(method, request_serializer=lambda m: m.SerializeToString(),
                        response_deserializer=resp_type.FromString)
    return fn(req, timeout=timeout)


def test_route_aggregate_feedback_and_metadata_rpcs(server, seldon_pb):
    """Every other row of the §5.1 table, against models that implement the method and (the
    built-in) one that does not."""
    pb, jf = seldon_pb
    x = jf.ParseDict({"data": {"ndarray": [[1.0, 2.0]]}}, pb.SeldonMessage())
    r = server(model="Combos.Router", cwd=PYMODELS)
    with channel(r) as ch:
        for m in ["/seldon.protos.Router/Route", "/seldon.protos.Generic/Route"]:
            out = jf.MessageToDict(typed_call(ch, m, x, pb.SeldonMessage))
            assert out["data"]["ndarray"] == [[22.0]], out
            assert out["meta"]["tags"] == {"mytag": 1.0}
    c = server(model="Combos.Combiner", cwd=PYMODELS)
    with channel(c) as ch:
        for m in ["/seldon.protos.Combiner/Aggregate", "/seldon.protos.Generic/Aggregate"]:
            out = jf.MessageToDict(typed_call(ch, m, pb.SeldonMessageList(seldonMessages=[x, x]),
                                              pb.SeldonMessage))
            assert out["data"]["ndarray"] == [[1.0, 2.0]], out
    mm = server(model="MModel", cwd=PYMODELS)
    with channel(mm) as ch:
        for m in ["/seldon.protos.Model/SendFeedback", "/seldon.protos.Generic/SendFeedback",
                  "/seldon.protos.Router/SendFeedback", "/seldon.protos.Seldon/SendFeedback"]:
            out = typed_call(ch, m, pb.Feedback(request=x, reward=0.5), pb.SeldonMessage)
            assert out.HasField("data"), m
        expected = {"name": "my-model-name", "versions": ["model-version"],
                    "platform": "model-platform",
                    "inputs": [{"name": "input", "datatype": "BYTES", "shape": ["1"]}],
                    "outputs": [{"name": "output", "datatype": "BYTES", "shape": ["1"]}]}
        from google.protobuf import empty_pb2
        out = typed_call(ch, "/seldon.protos.Model/Metadata", empty_pb2.Empty(),
                         pb.SeldonModelMetadata)
        assert jf.MessageToDict(out) == expected
        out = typed_call(ch, "/seldon.protos.Seldon/ModelMetadata",
                         pb.SeldonModelMetadataRequest(name="ignored"), pb.SeldonModelMetadata)
        assert jf.MessageToDict(out) == expected
    b = server(model=None)
    with channel(b) as ch:
        # not defined by the model: a SeldonMicroserviceException, so an empty text
        for m, req in [("/seldon.protos.Router/Route", x),
                       ("/seldon.protos.Combiner/Aggregate",
                        pb.SeldonMessageList(seldonMessages=[x]))]:
            code, details = rpc_error(lambda: typed_call(ch, m, req, pb.SeldonMessage))
            assert (code, details) == (grpc.StatusCode.UNKNOWN, "Exception calling application: ")
        out = typed_call(ch, "/seldon.protos.Model/SendFeedback", pb.Feedback(request=x),
                         pb.SeldonMessage)
        assert jf.MessageToDict(out) == {"data": {"ndarray": []}}
        out = typed_call(ch, "/seldon.protos.Model/Metadata", pb.SeldonMessage(),
                         pb.SeldonModelMetadata)
        assert jf.MessageToDict(out) == {"versions": [""]}


def test_send_limit_is_resource_exhausted(server, seldon_pb, tmp_path):
    # seldon.io/grpc-max-message-size bounds what is sent too (spec §1.5)
    ann = tmp_path / "annotations"
    ann.write_text('seldon.io/grpc-max-message-size="1000"\n')
    s = server(model="GrpcModels.Grows", cwd=PYMODELS, args=["--annotations-file", str(ann)])
    pb, jf = seldon_pb
    with channel(s) as ch:
        out = typed_call(ch, "/seldon.protos.Model/Predict",
                         jf.ParseDict({"data": {"ndarray": [[10]]}}, pb.SeldonMessage()),
                         pb.SeldonMessage)
        assert len(out.data.ndarray.values) == 10
        code, details = rpc_error(lambda: typed_call(
            ch, "/seldon.protos.Model/Predict",
            jf.ParseDict({"data": {"ndarray": [[500]]}}, pb.SeldonMessage()), pb.SeldonMessage))
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert details.startswith("Sent message larger than max (") and details.endswith(" vs. 1000)")


# ---- RPCs in the request series of the metrics page ---------------------------------------

PREDICT = "/seldon.protos.Model/Predict"


def _samples(text, name, **labels):
    """Sum of the samples of `name` whose labels include `labels`."""
    n = 0.0
    for line in text.splitlines():
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        if all(got.get(k) == v for k, v in labels.items()):
            n += float(m.group(4))
    return n


def _hpack_literal(name, value):
    """A header field as an HPACK literal without indexing, new name, no Huffman (RFC 7541
    §6.2.2), for names and values under 127 bytes."""
    name, value = name.encode(), value.encode()
    return bytes([0, len(name)]) + name + bytes([len(value)]) + value


def _raw_h2_call(port, path, content_type, timeout=5):
    """One HTTP/2 request by hand (grpcio cannot send another content-type): its headers end
    the stream; returns once the server's HEADERS for it arrived (or the connection ended)."""
    import socket
    import struct
    block = b"".join(_hpack_literal(n, v) for n, v in [
        (":method", "POST"), (":scheme", "http"), (":path", path), (":authority", "x"),
        ("content-type", content_type), ("te", "trailers")])
    frames = (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + struct.pack(">I", 0)[1:] + b"\x04\x00" +
              struct.pack(">I", 0) +
              struct.pack(">I", len(block))[1:] + b"\x01\x05" + struct.pack(">I", 1) + block)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sk:
        sk.sendall(frames)
        buf = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            while len(buf) >= 9:
                length = int.from_bytes(buf[:3], "big")
                if len(buf) < 9 + length:
                    break
                ftype, stream = buf[3], int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF
                if ftype == 1 and stream == 1:
                    return True
                buf = buf[9 + length:]
            chunk = sk.recv(65536)
            if not chunk:
                return False
            buf += chunk
    return False


def test_rpcs_are_counted_by_method_and_code(server, seldon_pb, pb):
    """Every RPC is in cserve_requests_total and the duration and byte series once, under its
    method's full path and its gRPC code, whoever answered it (the model, the limits, the
    header checks, the router); the model's own metrics carry the same method label as over
    REST; the totals are summed over the workers and survive a killed one."""
    s = server(model="MModel", cwd=PYMODELS, env={"GUNICORN_WORKERS": "2"})
    s.wait_ready(workers=2)
    spb, jf = seldon_pb
    req = jf.ParseDict({"data": {"ndarray": [[1.0, 2.0]]}}, spb.SeldonMessage())
    size = len(req.SerializeToString())
    for _ in range(3):  # new connections: spread over the workers
        with channel(s) as ch:
            fn, _ = predict_fn(ch, seldon_pb)
            for _ in range(2):
                fn(req, timeout=10)
    for _ in range(2):
        st, _, _ = s.request("POST", "/predict", json.dumps({"data": {"ndarray": [[1, 2]]}}),
                             {"Content-Type": "application/json"})
        assert st == 200
    with channel(s) as ch:
        code, _ = rpc_error(lambda: raw_call(ch, "/seldon.protos.Model/Nope"))
        assert code == grpc.StatusCode.UNIMPLEMENTED
        fn, _ = predict_fn(ch, seldon_pb)
        big = spb.SeldonMessage(strData="x" * (5 << 20))
        code, _ = rpc_error(lambda: fn(big, timeout=20))
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert _raw_h2_call(s.grpc_port, PREDICT, "application/json")
    with channel(s) as ch:
        assert health_check(ch, pb).status == pb["health"].HealthCheckResponse.SERVING
        listing = pb["reflection"].ServerReflectionRequest(list_services="*")
        assert len(reflect(ch, pb, [listing, listing])) == 2

    def check(ok):
        _, _, text = s.scrape()
        got = {c: _samples(text, "cserve_requests_total", route=PREDICT, code=c)
               for c in ["OK", "ResourceExhausted", "InvalidArgument"]}
        assert got == {"OK": ok, "ResourceExhausted": 1, "InvalidArgument": 1}, text
        assert _samples(text, "cserve_requests_total", route=PREDICT) == ok + 2
        assert _samples(text, "cserve_requests_total", route="grpc_unknown",
                        code="Unimplemented") == 1
        assert _samples(text, "cserve_requests_total", route="/grpc.health.v1.Health/Check",
                        code="OK") == 1
        assert _samples(text, "cserve_requests_total", route=REFLECTION, code="OK") == 1
        assert _samples(text, "cserve_request_bytes_total", route=REFLECTION) == 2 * len(
            pb["reflection"].ServerReflectionRequest(list_services="*").SerializeToString())
        assert _samples(text, "cserve_request_duration_seconds_count", route=PREDICT) == ok + 2
        assert _samples(text, "cserve_request_bytes_total", route=PREDICT) == ok * size
        assert _samples(text, "cserve_response_bytes_total", route=PREDICT) > 0
        assert _samples(text, "cserve_model_call_duration_seconds_count", route=PREDICT) == ok
        # REST's series keep their labels and counts
        assert _samples(text, "cserve_requests_total", route="predict", code="200") == 2
        assert _samples(text, "cserve_model_call_duration_seconds_count", route="predict") == 2
        # the model's counter: one series, method="predict" for both protocols
        assert _samples(text, "mycounter_total") == ok + 2
        assert _samples(text, "mycounter_total", method="predict") == ok + 2

    check(6)
    if shutil.which("promtool"):  # a page with gRPC series is one Prometheus accepts
        r = subprocess.run(["promtool", "check", "metrics"], input=s.scrape()[2],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stdout + r.stderr
    victim = s.workers()[0]
    os.kill(victim, signal.SIGKILL)
    wait_until(lambda: victim not in s.workers() and len(s.workers()) == 2, 15, what="respawn")
    check(6)
    with channel(s) as ch:
        fn, _ = predict_fn(ch, seldon_pb)
        fn(req, timeout=10)
    check(7)


def test_deadlines_and_cancellations_are_counted(server, seldon_pb):
    """A call past its client's deadline is counted once: DeadlineExceeded when the server's
    check comes first, Canceled when the client's own reset at its deadline does (as grpc-go
    counts it), and the model's late answer adds nothing; a call the client cancels is
    Canceled; a model call past --timeout is DeadlineExceeded."""
    s = server(model="GrpcModels.Sleeper", cwd=PYMODELS, env={"GUNICORN_THREADS": "2"},
               args=["--timeout", "2"])
    with channel(s) as ch:
        fn, req = predict_fn(ch, seldon_pb, 0.8)
        code, _ = rpc_error(lambda: fn(req, timeout=0.2))
        assert code == grpc.StatusCode.DEADLINE_EXCEEDED
        f = fn.future(req, timeout=10)
        time.sleep(0.2)
        f.cancel()
        time.sleep(1.0)  # both model calls are over: their answers are dropped
        _, quick = predict_fn(ch, seldon_pb, 0.0)
        fn(quick, timeout=10)
    _, _, text = s.scrape()
    late = _samples(text, "cserve_requests_total", route=PREDICT, code="DeadlineExceeded")
    cancelled = _samples(text, "cserve_requests_total", route=PREDICT, code="Canceled")
    assert (late, cancelled) in [(1, 1), (0, 2)], text
    assert _samples(text, "cserve_requests_total", route=PREDICT, code="OK") == 1
    assert _samples(text, "cserve_requests_total", route=PREDICT) == 3
    with channel(s) as ch:
        fn, req = predict_fn(ch, seldon_pb, 4.0)
        code, _ = rpc_error(lambda: fn(req, timeout=15))
        assert code == grpc.StatusCode.DEADLINE_EXCEEDED
    _, _, text = s.scrape()
    assert _samples(text, "cserve_requests_total", route=PREDICT,
                    code="DeadlineExceeded") == late + 1
    assert _samples(text, "cserve_requests_total", route=PREDICT) == 4
