"""A router for an inference graph: sends rows whose mean is above a threshold to child 1,
the others to child 0.

Serve it from this directory:  ../../../build/cserve Router --parameters '[{"name":"threshold","value":"0.5","type":"FLOAT"}]'
"""
import numpy as np


class Router:
    def __init__(self, threshold=0.5):
        self.threshold = threshold

    def route(self, X, features_names):
        return int(np.asarray(X, dtype=float).mean() > self.threshold)
