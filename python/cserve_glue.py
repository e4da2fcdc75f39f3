"""cserve's own glue for the parts of the model contract that pass protobuf messages on REST:
the Feedback variants (spec §2.2, §2.4, §3.8.5). A module of its own name, so it is found even
when the real seldon_core package is installed and shadows cserve's."""
import json

from google.protobuf import json_format

from seldon_core.proto import prediction_pb2

_ORDER = ("send_feedback_rest", "send_feedback_grpc", "send_feedback_raw")


def feedback_variant(obj):
    """The first of the Feedback variants the model has, or None."""
    for name in _ORDER:
        if hasattr(obj, name):
            return name
    return None


def call_feedback(obj, name, body, snie):
    """Calls a Feedback variant with the request dict `body`; returns the response dict (the
    SeldonMessage printed by protobuf's JSON printer), or None when it is not implemented."""
    feedback = prediction_pb2.Feedback()
    json_format.ParseDict(body, feedback)
    method = getattr(obj, name)
    try:
        if name == "send_feedback_rest":
            # called with the Feedback's protobuf JSON text; a dict or None comes back
            result = method(json_format.MessageToJson(feedback))
            message = json_format.ParseDict(result or {}, prediction_pb2.SeldonMessage())
        elif name == "send_feedback_grpc":
            result = method(feedback)
            message = json_format.ParseDict(result or {}, prediction_pb2.SeldonMessage())
        else:
            message = method(feedback)
            if not isinstance(message, prediction_pb2.SeldonMessage):
                raise TypeError("send_feedback_raw must return a SeldonMessage, not %s"
                                % type(message).__name__)
    except Exception as e:  # noqa: BLE001 - "not implemented" falls back, the rest propagates
        if snie is not None and isinstance(e, snie):
            return None
        raise
    return json.loads(json_format.MessageToJson(message))
