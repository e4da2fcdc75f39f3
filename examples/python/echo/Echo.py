"""Echo: returns whatever it is given (numbers, strings, bytes, JSON).

Serve it from this directory:  ../../../build/cserve Echo
"""


class Echo:
    def predict(self, X, features_names, **kwargs):
        return X
