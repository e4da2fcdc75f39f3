"""The reference tests' M-Model (spec §6.1)."""
import numpy as np
from seldon_core.user_model import SeldonComponent


class MModel(SeldonComponent):
    def __init__(self, metrics_ok=True, ret_nparray=False, ret_meta=False):
        self.metrics_ok = metrics_ok
        self.ret_nparray = ret_nparray
        self.ret_meta = ret_meta
        self.last_reward = None

    def predict(self, X, features_names, **kwargs):
        if self.ret_meta:
            self.inc_meta = kwargs.get("meta")
        return np.array([1, 2, 3]) if self.ret_nparray else X

    def tags(self):
        return {"inc_meta": self.inc_meta} if self.ret_meta else {"mytag": 1}

    def metrics(self):
        return [{"type": "COUNTER" if self.metrics_ok else "BAD", "key": "mycounter", "value": 1}]

    def health_status(self):
        return self.predict([0.123], [])

    def init_metadata(self):
        return {"name": "my-model-name", "versions": ["model-version"],
                "platform": "model-platform",
                "inputs": [{"name": "input", "datatype": "BYTES", "shape": [1]}],
                "outputs": [{"name": "output", "datatype": "BYTES", "shape": [1]}],
                "custom": {}}

    def send_feedback(self, features, feature_names, reward, truth, routing=None):
        self.last_reward = reward
        return None
