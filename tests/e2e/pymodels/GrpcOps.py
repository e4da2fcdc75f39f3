"""Models for the gRPC process tests (test_grpc_ops.py): one that records how many of its calls
ran at once."""
import threading
import time



class Concurrency:
    """Sleeps X[0][0] seconds; answers [[most calls seen running at once, calls so far]]."""

    def __init__(self):
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.calls = 0

    def predict(self, X, names):
        with self.lock:
            self.running += 1
            self.calls += 1
            self.most = max(self.most, self.running)
        try:
            time.sleep(float(X[0][0]))
        finally:
            with self.lock:
                self.running -= 1
        return [[self.most, self.calls]]
