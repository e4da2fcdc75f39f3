"""cserve's own glue for the parts of the model contract that pass protobuf messages on REST:
the Feedback variants (spec §2.2, §2.4, §3.8.5). A module of its own name, so it is found even
when the real seldon_core package is installed and shadows cserve's."""
import json

# protobuf is imported on first use only: most models never need it, and it costs memory in
# every worker

_ORDER = ("send_feedback_rest", "send_feedback_grpc", "send_feedback_raw")


def feedback_variant(obj):
    """The first of the Feedback variants the model has, or None."""
    for name in _ORDER:
        if hasattr(obj, name):
            return name
    return None


def proto_from(type_name, data):
    """gRPC raw methods (spec §2.4, §5.2): the request message of type `type_name`
    ("seldon.protos.SeldonMessage" ...) from its serialized bytes."""
    from seldon_core.proto import prediction_pb2

    return getattr(prediction_pb2, type_name.rsplit(".", 1)[-1]).FromString(data)


def proto_bytes(message):
    """gRPC raw methods: the serialized bytes of the message a raw method returned."""
    from google.protobuf.message import Message

    if not isinstance(message, Message):
        raise TypeError("a gRPC raw method must return a protobuf message, not %s"
                        % type(message).__name__)
    return message.SerializeToString()


def call_feedback(obj, name, body, snie):
    """Calls a Feedback variant with the request dict `body` (REST) or the Feedback's bytes
    (gRPC); returns the response dict (the SeldonMessage printed by protobuf's JSON printer),
    or its bytes for gRPC, or None when it is not implemented."""
    from google.protobuf import json_format

    from seldon_core.proto import prediction_pb2

    grpc = isinstance(body, bytes)
    if grpc:
        feedback = prediction_pb2.Feedback.FromString(body)
    else:
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
    if grpc:
        return message.SerializeToString()
    return json.loads(json_format.MessageToJson(message))


def error_app(obj):
    """A Flask app holding the model's model_error_handler blueprint (spec §2.9), or None."""
    bp = getattr(obj, "model_error_handler", None)
    if bp is None:
        return None
    import flask

    app = flask.Flask("cserve_model_error_handler")
    app.register_blueprint(bp)
    return app


def handle_error(app, exc, seldon_exc):
    """(status, body, content type) from the blueprint's handler for `exc`, or None when it has
    none. Handlers registered for exactly Exception or SeldonMicroserviceException lose to the
    server's own, as in the reference."""
    handlers = app.error_handler_spec.get(None, {}).get(None, {})
    for cls in type(exc).__mro__:
        handler = handlers.get(cls)
        if handler is None:
            continue
        if cls is Exception or (seldon_exc is not None and cls is seldon_exc):
            return None
        with app.test_request_context():
            response = app.make_response(handler(exc))
            return response.status_code, response.get_data(), response.content_type
    return None
