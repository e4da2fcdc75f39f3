"""A model that reports custom metrics and tags, as in Seldon's documentation: a counter of
calls, a gauge of the last input's size, a timer of the call, and tags on every response.

Serve it from this directory:  ../../../build/cserve TagsMetrics
Metrics:                       curl localhost:6000/prometheus
"""
import time

from seldon_core.metrics import create_counter, create_gauge, create_timer
from seldon_core.user_model import SeldonResponse


class TagsMetrics:
    def predict(self, X, features_names, **kwargs):
        start = time.perf_counter()
        result = X
        elapsed_ms = (time.perf_counter() - start) * 1000
        return SeldonResponse(
            data=result,
            tags={"request_kind": type(X).__name__},
            metrics=[create_timer("predict_time_ms", elapsed_ms),
                     create_gauge("input_size", getattr(X, "size", 1))])

    def metrics(self):
        return [create_counter("calls", 1)]

    def tags(self):
        return {"model": "tags-metrics"}
