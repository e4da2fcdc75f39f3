"""A combiner for an inference graph: the element-wise mean of its children's outputs.

Serve it from this directory:  ../../../build/cserve Combiner
"""
import numpy as np


class Combiner:
    def aggregate(self, Xs, features_names):
        return np.mean([np.asarray(x, dtype=float) for x in Xs], axis=0)
