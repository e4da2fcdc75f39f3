"""Models for the gRPC process tests (test_grpc_ops.py): one that records how many of its calls
ran at once, and the reference's low-level model with predict_grpc (spec §6.7 G3)."""
import threading
import time

import numpy as np
from seldon_core.proto import prediction_pb2


class Concurrency:
    """Sleeps X[0][0] seconds; answers [[most calls seen running at once, calls so far]]."""

    def __init__(self):
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.calls = 0

    def predict(self, X, names):
        with self.lock:
            self.running += 1
            self.calls += 1
            self.most = max(self.most, self.running)
        try:
            time.sleep(float(X[0][0]))
        finally:
            with self.lock:
                self.running -= 1
        return [[self.most, self.calls]]


class LowLevelGrpc:
    """The reference tests' UserObjectLowLevel, gRPC side: predict_grpc answers a tensor (2,1)
    [9,9]; given strData it echoes the type and text of the message it got instead. predict_raw
    and predict must not be reached (predict_grpc comes first)."""

    def predict_grpc(self, request):
        if request.strData:
            return prediction_pb2.SeldonMessage(
                strData=f"{type(request).__name__}:{request.strData}")
        datadef = prediction_pb2.DefaultData(
            tensor=prediction_pb2.Tensor(shape=(2, 1), values=np.array([9, 9])))
        return prediction_pb2.SeldonMessage(data=datadef)

    def predict_raw(self, request):
        raise RuntimeError("predict_raw called instead of predict_grpc")

    def predict(self, X, names):
        raise RuntimeError("predict called instead of predict_grpc")
