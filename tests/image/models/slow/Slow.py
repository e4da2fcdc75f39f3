"""Image-test model: echoes its input after sleeping X[0][0] seconds (at most 5), so a test can
hold requests in flight while the container is stopped. It imports yaml, which only the image
built with this directory's debian-packages list has."""
import time

import yaml


class Slow:
    def __init__(self):
        self.yaml_version = yaml.__version__

    def predict(self, X, feature_names):
        time.sleep(min(max(float(X[0][0]), 0.0), 5.0))
        return X

    def tags(self):
        return {"yaml": self.yaml_version}
