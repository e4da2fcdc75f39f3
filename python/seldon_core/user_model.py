"""SeldonComponent, SeldonResponse and SeldonNotImplementedError, as Seldon defines them."""
import logging

from seldon_core.flask_utils import SeldonMicroserviceException

logger = logging.getLogger(__name__)


class SeldonNotImplementedError(SeldonMicroserviceException):
    status_code = 400

    def __init__(self, message):
        SeldonMicroserviceException.__init__(self, message)


class SeldonResponse:
    """A model result with runtime tags and metrics."""

    def __init__(self, data, tags=None, metrics=None):
        self.data = data
        self.tags = tags if tags is not None else {}
        self.metrics = metrics if metrics is not None else []

    @classmethod
    def create(cls, data):
        return data if isinstance(data, SeldonResponse) else cls(data)


class SeldonComponent:
    """Base class whose defaults all mean "not implemented" (except load and __init__)."""

    def __init__(self, **kwargs):
        pass

    def tags(self):
        raise SeldonNotImplementedError("tags is not implemented")

    def class_names(self):
        raise SeldonNotImplementedError("class_names is not implemented")

    def load(self):
        pass

    def predict(self, X, names, meta=None):
        raise SeldonNotImplementedError("predict is not implemented")

    def predict_raw(self, msg):
        raise SeldonNotImplementedError("predict_raw is not implemented")

    def send_feedback_raw(self, feedback):
        raise SeldonNotImplementedError("send_feedback_raw is not implemented")

    def transform_input(self, X, names, meta=None):
        raise SeldonNotImplementedError("transform_input is not implemented")

    def transform_input_raw(self, msg):
        raise SeldonNotImplementedError("transform_input_raw is not implemented")

    def transform_output(self, X, names, meta=None):
        raise SeldonNotImplementedError("transform_output is not implemented")

    def transform_output_raw(self, msg):
        raise SeldonNotImplementedError("transform_output_raw is not implemented")

    def metrics(self):
        raise SeldonNotImplementedError("metrics is not implemented")

    def feature_names(self):
        raise SeldonNotImplementedError("feature_names is not implemented")

    def send_feedback(self, X, feature_names, reward, truth, routing=None):
        raise SeldonNotImplementedError("send_feedback is not implemented")

    def route(self, X, names):
        raise SeldonNotImplementedError("route is not implemented")

    def route_raw(self, msg):
        raise SeldonNotImplementedError("route_raw is not implemented")

    def aggregate(self, features_list, feature_names_list):
        raise SeldonNotImplementedError("aggregate is not implemented")

    def aggregate_raw(self, msgs):
        raise SeldonNotImplementedError("aggregate_raw is not implemented")

    def health_status(self):
        raise SeldonNotImplementedError("health is not implemented")

    def health_status_raw(self):
        raise SeldonNotImplementedError("health_raw is not implemented")

    def init_metadata(self):
        raise SeldonNotImplementedError("init_metadata is not implemented")
