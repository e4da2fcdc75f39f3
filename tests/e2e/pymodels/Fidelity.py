"""Models for the last differences from the reference server (issue 10): raw methods' metrics,
models without the called method, metric printing in feedback replies."""


def _raw_answer(name):
    return {"data": {"ndarray": [name]},
            "meta": {"metrics": [{"key": "raw_counter", "type": "COUNTER", "value": 1,
                                  "tags": {"src": name}},
                                 {"key": "raw_gauge", "type": "GAUGE", "value": 7}]}}


class RawMetrics:
    """Every *_raw method answers with metrics in its meta (spec §2.4, §4.3)."""

    def predict_raw(self, msg):
        if isinstance(msg, dict) and "strData" in msg:
            return BAD_RAW[msg["strData"]]
        return _raw_answer("predict")

    def transform_input_raw(self, msg):
        return _raw_answer("transform_input")

    def transform_output_raw(self, msg):
        return _raw_answer("transform_output")

    def route_raw(self, msg):
        return _raw_answer("route")

    def aggregate_raw(self, msgs):
        return _raw_answer("aggregate")


# Raw answers whose metrics the reference cannot record (or skips).
BAD_RAW = {
    "no-key": {"meta": {"metrics": [{"type": "COUNTER", "value": 1}]}},
    "meta-list": {"meta": [1]},
    "tag-int": {"meta": {"metrics": [{"key": "k", "type": "GAUGE", "value": 1,
                                      "tags": {"a": 1}}]}},
    "no-type": {"meta": {"metrics": [{"key": "typeless", "value": 3}]}},
    "unknown-type": {"meta": {"metrics": [{"key": "odd", "type": "FOO", "value": 3,
                                           "tags": {}}]}},
    "empty": {"meta": {"metrics": []}},
    "counter-str": {"meta": {"metrics": [{"key": "c", "type": "COUNTER", "value": "x"}]}},
}


class RestMetrics:
    """The deprecated variant: its answer is not looked into."""

    def predict_rest(self, msg):
        return _raw_answer("predict_rest")


class NoMethods:
    """class_names, tags() and metrics(), and nothing to call (spec §3.8.2, §3.8.5)."""
    class_names = ["proba"]

    def tags(self):
        return {"mytag": 1}

    def metrics(self):
        return [{"type": "COUNTER", "key": "mycounter", "value": 1}]


class ClassNamesOnly:
    class_names = ["proba"]


class FeedbackMetrics:
    """metrics() of every type and value, as a feedback reply prints them (spec §3.8.5)."""

    def send_feedback(self, features, names, reward, truth, routing=None):
        return None

    def metrics(self):
        return [{"type": "COUNTER", "key": "mycounter", "value": 1},
                {"type": "GAUGE", "key": "zero", "value": 0},
                {"type": "TIMER", "key": "mytimer", "value": 20.2},
                {"type": "GAUGE", "key": "third", "value": 1 / 3, "tags": {"t": "v"}}]


class StatusCodes:
    """predict_raw answers with the HTTP status its strData names (spec §2.4)."""

    def predict_raw(self, msg):
        if msg.get("strData") == "raise":
            raise ValueError("raised")
        return {"status": {"code": int(msg["strData"]), "status": "FAILURE"}}


class FeedbackRawMetrics:
    """send_feedback_raw answers a SeldonMessage whose meta has metrics."""

    def send_feedback_raw(self, feedback):
        from google.protobuf import json_format
        from seldon_core.proto import prediction_pb2
        return json_format.ParseDict(
            {"strData": "ok", "meta": {"metrics": [
                {"key": "fb_raw", "value": 2, "tags": {"a": "b"}},
                {"key": "fb_gauge", "type": "GAUGE", "value": 5, "tags": {"c": "d"}}]}},
            prediction_pb2.SeldonMessage())


class RawEcho:
    """predict_raw answers the request's jsonData: the client chooses meta.metrics."""

    def predict_raw(self, msg):
        return msg["jsonData"]
