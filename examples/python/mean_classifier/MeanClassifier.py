"""Seldon's mean classifier example: the probability that a row's mean is above a threshold.

Serve it from this directory:  ../../../build/cserve MeanClassifier
"""
import math

import numpy as np


def f(x):
    return 1 / (1 + math.exp(-x))


class MeanClassifier:
    def __init__(self, threshold=0.5):
        self.class_names = ["proba"]
        self.threshold = threshold

    def predict(self, X, feature_names):
        X = np.array(X)
        assert len(X.shape) == 2, "Incorrect shape"
        return [[f(row.mean() - self.threshold)] for row in X]

    def health_status(self):
        return {"status": "ok"}
