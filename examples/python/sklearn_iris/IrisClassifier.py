"""A real scikit-learn model: logistic regression on the iris data that ships with
scikit-learn. Trained and saved with joblib at the first start; load() reads it in each worker.

Serve it from this directory:  ../../../build/cserve IrisClassifier
"""
import os

import joblib
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

MODEL_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "iris.joblib")


def train(path):
    iris = load_iris()
    model = LogisticRegression(max_iter=1000).fit(iris.data, iris.target)
    joblib.dump(model, path)


class IrisClassifier:
    def __init__(self, model_file=MODEL_FILE):
        self.model_file = model_file
        self.class_names = list(load_iris().target_names)
        if not os.path.exists(model_file):
            train(model_file)
        self.model = None

    def load(self):
        self.model = joblib.load(self.model_file)

    def predict(self, X, features_names):
        return self.model.predict_proba(X)

    def init_metadata(self):
        return {"name": "iris", "versions": ["1"], "platform": "sklearn",
                "inputs": [{"name": "features", "datatype": "FP64", "shape": [-1, 4]}],
                "outputs": [{"name": "proba", "datatype": "FP64", "shape": [-1, 3]}]}
