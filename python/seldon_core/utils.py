"""Helpers Seldon models import from seldon_core.utils (spec §2.1), on the protobuf messages of
seldon_core.proto.prediction_pb2."""
import base64

import numpy as np
from google.protobuf import json_format
from google.protobuf.struct_pb2 import ListValue

from seldon_core.flask_utils import SeldonMicroserviceException
from seldon_core.proto import prediction_pb2


def _parse(message_json, proto):
    try:
        json_format.ParseDict(message_json, proto)
        return proto
    except json_format.ParseError as pbExc:
        raise SeldonMicroserviceException("Invalid JSON: " + str(pbExc))


def json_to_seldon_message(message_json):
    """A dict (protobuf JSON) to a SeldonMessage; bad JSON raises "Invalid JSON: ..."."""
    return _parse(message_json if message_json is not None else {},
                  prediction_pb2.SeldonMessage())


def json_to_feedback(message_json):
    return _parse(message_json, prediction_pb2.Feedback())


def json_to_seldon_messages(message_json):
    return _parse(message_json, prediction_pb2.SeldonMessageList())


def seldon_message_to_json(message_proto):
    """A protobuf message to a dict, with protobuf's JSON printer."""
    return json_format.MessageToDict(message_proto)


def feedback_to_json(message_proto):
    return json_format.MessageToDict(message_proto)


def grpc_datadef_to_array(datadef):
    """The array of a DefaultData: tensor, ndarray (numbers as float64) or tftensor."""
    data_type = datadef.WhichOneof("data_oneof")
    if data_type == "tensor":
        return np.array(datadef.tensor.values).reshape(datadef.tensor.shape)
    if data_type == "ndarray":
        return np.array(json_format.MessageToDict(datadef.ndarray))
    if data_type == "tftensor":
        raise SeldonMicroserviceException("tftensor needs TensorFlow in seldon_core.utils")
    return np.array([])


def get_data_from_proto(request):
    """The payload of a SeldonMessage: array, bytes, str, JSON value or Any."""
    data_type = request.WhichOneof("data_oneof")
    if data_type == "data":
        return grpc_datadef_to_array(request.data)
    if data_type == "binData":
        return request.binData
    if data_type == "strData":
        return request.strData
    if data_type == "jsonData":
        return json_format.MessageToDict(request.jsonData)
    if data_type == "customData":
        return request.customData
    raise SeldonMicroserviceException("Unknown data in SeldonMessage")


def array_to_list_value(array, lv=None):
    if lv is None:
        lv = ListValue()
    lv.extend(np.asarray(array).tolist())
    return lv


def array_to_grpc_datadef(data_type, array, names=None):
    """An array as a DefaultData of the given kind ("tensor" or "ndarray")."""
    names = names or []
    array = np.asarray(array)
    if data_type == "tensor":
        return prediction_pb2.DefaultData(
            names=names,
            tensor=prediction_pb2.Tensor(shape=array.shape, values=array.ravel().tolist()))
    return prediction_pb2.DefaultData(names=names, ndarray=array_to_list_value(array))


def extract_request_parts_json(request):
    """(features, meta, datadef, data_type) of a REST request dict."""
    if not isinstance(request, dict):
        raise SeldonMicroserviceException("Invalid request data type: %s" % repr(request))
    meta = request.get("meta", None)
    datadef_type = None
    datadef = None
    if "data" in request:
        data_type = "data"
        datadef = request["data"]
        if "tensor" in datadef:
            datadef_type = "tensor"
            tensor = datadef["tensor"]
            features = np.array(tensor["values"]).reshape(tensor["shape"])
        elif "ndarray" in datadef:
            datadef_type = "ndarray"
            features = np.array(datadef["ndarray"])
        else:
            features = np.array([])
    elif "jsonData" in request:
        data_type = "jsonData"
        features = request["jsonData"]
    elif "strData" in request:
        data_type = "strData"
        features = request["strData"]
    elif "binData" in request:
        data_type = "binData"
        features = bytes(base64.b64decode(request["binData"]))
    else:
        raise SeldonMicroserviceException("Invalid request data type: %s" % repr(request))
    return features, meta, datadef, data_type if datadef_type is None else datadef_type


def extract_request_parts(request):
    """(features, meta, datadef, data_type) of a SeldonMessage."""
    features = get_data_from_proto(request)
    meta = json_format.MessageToDict(request.meta)
    datadef = request.data
    data_type = request.WhichOneof("data_oneof")
    return features, meta, datadef, data_type


def _client_class_names(user_model, predictions):
    if len(predictions.shape) > 1 and hasattr(user_model, "class_names"):
        names = user_model.class_names
        if callable(names):
            try:
                return names()
            except Exception:  # noqa: BLE001 - "not implemented": default names
                pass
        else:
            return names
    if len(predictions.shape) > 1:
        return ["t:" + str(i) for i in range(predictions.shape[1])]
    return []


def construct_response_json(user_model, is_request, client_request_raw, client_raw_response,
                            meta=None, custom_metrics=None, runtime_tags=None):
    """The REST response dict for a model result (spec §3.7): which data kind, names, tags,
    metrics and meta, as the server builds it."""
    response = {}
    if isinstance(client_raw_response, dict):
        response["jsonData"] = client_raw_response
    elif isinstance(client_raw_response, (bytes, bytearray)):
        response["binData"] = base64.b64encode(client_raw_response).decode("utf-8")
    elif isinstance(client_raw_response, str):
        response["strData"] = client_raw_response
    else:
        is_np = isinstance(client_raw_response, np.ndarray)
        is_list = isinstance(client_raw_response, list)
        if not (is_np or is_list):
            raise SeldonMicroserviceException(
                "Unknown data type returned as payload (must be list or np array):"
                + str(client_raw_response))
        np_response = client_raw_response if is_np else np.array(client_raw_response)
        response["data"] = {"names": _client_class_names(user_model, np_response)}
        numeric = np.issubdtype(np_response.dtype, np.number)
        request_data = client_request_raw.get("data", {}) if isinstance(client_request_raw, dict) else {}
        as_tensor = numeric and ("tensor" in request_data or "data" not in client_request_raw)
        if as_tensor:
            response["data"]["tensor"] = {"shape": list(np_response.shape),
                                          "values": np_response.ravel().tolist()}
        else:
            response["data"]["ndarray"] = np_response.tolist() if is_np else client_raw_response
    response_meta = {}
    request_meta = (meta or client_request_raw.get("meta", {})) if isinstance(client_request_raw, dict) else {}
    tags = dict(request_meta.get("tags", {}) or {})
    model_tags = None
    if hasattr(user_model, "tags"):
        try:
            model_tags = user_model.tags()
        except Exception:  # noqa: BLE001 - "not implemented"
            model_tags = None
    if model_tags:
        tags.update(model_tags)
    if runtime_tags:
        tags.update(runtime_tags)
    if tags:
        response_meta["tags"] = tags
    metrics = list(request_meta.get("metrics", []) or []) + list(custom_metrics or [])
    if metrics:
        response_meta["metrics"] = metrics
    if request_meta.get("puid"):
        response_meta["puid"] = request_meta["puid"]
    if request_meta.get("requestPath"):
        response_meta["requestPath"] = request_meta["requestPath"]
    response["meta"] = response_meta
    return response


def construct_response(user_model, is_request, client_request, client_raw_response, meta=None,
                       custom_metrics=None, runtime_tags=None):
    """construct_response_json for a SeldonMessage request, as a SeldonMessage."""
    request_json = seldon_message_to_json(client_request)
    return json_to_seldon_message(construct_response_json(
        user_model, is_request, request_json, client_raw_response, meta, custom_metrics,
        runtime_tags))
