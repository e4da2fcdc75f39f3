"""Router, combiner, transformer and runtime-metrics models of the reference tests."""
import functools

from seldon_core.user_model import SeldonResponse


class Router:
    def __init__(self, answer="22"):
        self.answer = answer

    def route(self, X, names):
        return {"22": 22, "true": True, "str": "x", "neg": -1}[self.answer]

    def tags(self):
        return {"mytag": 1}


class Combiner:
    def aggregate(self, Xs, names):
        return Xs[0]

    def tags(self):
        return {"mytag": 1}


class Transformer:
    def transform_input(self, X, names, meta=None):
        return X

    def transform_output(self, X, names, meta=None):
        return X


class Runtime:
    def predict(self, X, names):
        return SeldonResponse(data=X, metrics=[{"type": "GAUGE", "key": "runtime_gauge",
                                                "value": 42}],
                              tags={"runtime": "tag", "shared": "right one"})

    def metrics(self):
        return [{"type": "COUNTER", "key": "mycounter", "value": 1},
                {"type": "GAUGE", "key": "mygauge", "value": 100},
                {"type": "TIMER", "key": "mytimer", "value": 20.2},
                {"type": "GAUGE", "key": "customtag", "value": 200,
                 "tags": {"mytag": "mytagvalue"}}]

    def tags(self):
        return {"static": "tag", "shared": "not right one"}


class Raiser:
    def predict(self, X, names):
        from seldon_core.flask_utils import SeldonMicroserviceException
        if isinstance(X, str) and X == "403":
            raise SeldonMicroserviceException("foo", status_code=403)
        raise ValueError("model failed")


class Returns:
    """predict returns whatever the strData names."""
    def predict(self, X, names):
        import numpy as np
        return {"five": 5, "bools": np.array([True, False]), "floats32": np.array([0.1], dtype=np.float32),
                "strs": [["a", "b"]], "bytes": b"\x00\x01", "dict": {"b": 1, "a": [1, 2.5]},
                "int64": [np.int64(1)], "mixed": [[1, 2.5]], "ragged": [[1], [2, 3]],
                "matrix": np.array([[0.1, 0.9]]), "none": None}[X]


class ThreadIds:
    def load(self):
        import threading
        self.load_tid = threading.get_native_id()

    def predict(self, X, names):
        import threading
        return {"load": self.load_tid, "call": threading.get_native_id()}


class Params:
    def __init__(self, i=None, f=None, s=None, b=None):
        self.values = {"i": i, "f": f, "s": s, "b": b}

    def predict(self, X, names):
        return {k: [type(v).__name__, v] for k, v in self.values.items()}


class BadLoad:
    def load(self):
        raise RuntimeError("cannot load the weights")

    def predict(self, X, names):
        return X


class Sleeper:
    """A GIL-releasing numpy workload: matrix products. Answers the [start, end] monotonic times
    of each product, so that a test can see calls overlap."""
    def __init__(self):
        import numpy as np
        self.m = np.random.default_rng(0).random((600, 600))

    def predict(self, X, names):
        import time
        out = []
        for _ in range(4):
            t0 = time.monotonic()
            self.m @ self.m
            out.append([t0, time.monotonic()])
        return out


class WithService:
    """custom_service runs in its own process: it writes its pid where the test says."""
    def __init__(self, path=""):
        self.path = path

    def custom_service(self):
        import os
        import time
        with open(self.path, "w") as f:
            f.write(str(os.getpid()))
        time.sleep(60)

    def predict(self, X, names):
        return X


class FeedbackRaw:
    """send_feedback_raw receives the Feedback protobuf and answers a SeldonMessage."""
    def send_feedback_raw(self, feedback):
        from seldon_core.proto import prediction_pb2
        from seldon_core.utils import array_to_grpc_datadef, grpc_datadef_to_array
        features = grpc_datadef_to_array(feedback.request.data)
        return prediction_pb2.SeldonMessage(
            data=array_to_grpc_datadef("tensor", features * feedback.reward))


class FeedbackRest:
    def send_feedback_rest(self, text):
        import json
        return {"strData": "reward %s" % json.loads(text)["reward"]}


class UsesUtils:
    def predict_raw(self, msg):
        from seldon_core.utils import json_to_seldon_message, seldon_message_to_json
        proto = json_to_seldon_message(msg)
        return {"meta": seldon_message_to_json(proto.meta), "data": {"ndarray": [proto.strData]}}


try:
    from flask import Blueprint, jsonify  # noqa: E402
except ImportError:  # flask absent: the error-handler model is simply not defined
    Blueprint = None

if Blueprint is not None:
    errors = Blueprint("errors", __name__)


    class UserCustomException(Exception):
        status_code = 404

        def __init__(self, message, application_error_code, http_status_code):
            Exception.__init__(self)
            self.message = message
            self.application_error_code = application_error_code
            self.status_code = http_status_code

        def to_dict(self):
            return {"status": {"status": self.status_code, "message": self.message,
                               "app_code": self.application_error_code}}


    @errors.app_errorhandler(UserCustomException)
    def handle_custom_error(error):
        response = jsonify(error.to_dict())
        response.status_code = error.status_code
        return response


    class WithErrorHandler:
        model_error_handler = errors

        def predict(self, X, names):
            if isinstance(X, str) and X == "plain":
                raise ValueError("plain failure")
            raise UserCustomException("Test-Error-Msg", 1402, 402)


class Logs:
    def predict(self, X, names):
        import logging
        logging.getLogger("user.model").info("predict called with %s", X)
        return X


class Deprecated:
    """The deprecated and raw variants of every call (spec §2.2 precedence)."""
    def transform_input_rest(self, msg):
        return {"strData": "transform_input_rest"}

    def transform_output_grpc(self, msg):
        return {"strData": "transform_output_grpc"}

    def route_rest(self, msg):
        return {"data": {"ndarray": [[3]]}}

    def aggregate_raw(self, msgs):
        return {"strData": "aggregate_raw:%d" % len(msgs)}

    def predict_raw(self, msg):
        from seldon_core.user_model import SeldonNotImplementedError
        if msg.get("strData") == "fallback":
            raise SeldonNotImplementedError("no")
        return {"jsonData": msg}

    def predict(self, X, names):
        return "from predict"


class KeepsX:
    """Keeps every X it is given; returns the sum of all of them, so reused memory would show."""
    def __init__(self):
        self.kept = []

    def predict(self, X, names):
        import numpy as np
        X[...] = X * 1  # writable, as the reference's arrays are
        self.kept.append(X)
        return [[float(np.sum([k.sum() for k in self.kept]))]]


class BuildsItsResponse:
    """A raw model that builds its answer with seldon_core.utils.construct_response_json."""
    class_names = ["a", "b"]

    def tags(self):
        return {"t": 1}

    def predict_raw(self, msg):
        import numpy as np
        from seldon_core.utils import construct_response_json
        return construct_response_json(self, False, msg, np.array([[0.25, 0.75]]))


# The `meta=` keyword and the TypeError retry (spec §2.2): each answers with what it received.
class NoMeta:
    calls = 0

    def predict(self, X, names):
        NoMeta.calls += 1
        return [[NoMeta.calls]]


class InnerTypeError:
    def predict(self, X, names, meta=None):
        if meta is not None:
            raise TypeError("raised inside predict")  # the reference retries without meta
        return [[0]]


class KeywordOnlyMeta:
    def predict(self, X, names, *, meta):
        return [[len(meta.get("tags", {}))]]


class PositionalOnlyMeta:
    def predict(self, X, names, meta=None, /):
        return [[meta is None]]


def _wrapped(f):
    @functools.wraps(f)
    def call(*args, **kwargs):
        return f(*args, **kwargs)
    return call


class WrappedMeta:
    @_wrapped
    def predict(self, X, names, meta=None):
        return [[meta is not None]]


class LambdaPredict:
    def __init__(self):
        self.predict = lambda X, names: [[7]]


class Forker:
    """Forks a child that outlives the request (as multiprocessing's fork start method does):
    the child holds copies of the worker's sockets for two seconds."""

    def predict(self, X, names):
        import os
        import time
        if os.fork() == 0:
            time.sleep(2)
            os._exit(0)
        return X
