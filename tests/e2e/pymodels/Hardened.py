"""Models that probe the embedded interpreter's edges: unencodable text, ints that overflow C,
attribute lookups that release the GIL, results the model keeps writing, large results."""
import sys
import threading
import time

import numpy as np

from seldon_core.user_model import SeldonResponse


class TagsEcho:
    """Echoes the request's strData into a metric's tags (and answers "ok" otherwise)."""

    def predict(self, X, names):
        if X == "plain":
            return "ok"
        return SeldonResponse(data="echoed", metrics=[
            {"type": "COUNTER", "key": "echo", "value": 1, "tags": {"text": X}}])


class HugeStatus:
    """Raw and route results carrying ints beyond a C long."""

    def predict_raw(self, msg):
        if msg.get("strData") == "huge":
            return {"status": {"code": 2 ** 70}, "data": {"ndarray": [1]}}
        return {"data": {"ndarray": [2]}}

    def route(self, X, names):
        return 2 ** 70


class StringParameter:
    def __init__(self, s=""):
        self.s = s

    def predict(self, X, names):
        return {"len": len(self.s), "surrogate": self.s == "\ud800"}


class BrokenResponse(SeldonResponse):
    """A SeldonResponse whose data cannot be read."""

    def __init__(self):
        pass

    @property
    def data(self):
        raise ValueError("no data in this response")


class BrokenData:
    def predict(self, X, names):
        return BrokenResponse()


class SlowGetattr:
    """Every missing attribute takes a while to look up, with the GIL released meanwhile."""

    def __getattr__(self, name):
        time.sleep(0.05)
        raise AttributeError(name)

    def predict(self, X, names):
        return X


class SharedBuffer:
    """predict returns the model's own buffer, which "write" requests keep changing: both ends
    always hold the same value whenever the GIL is free (the switch interval is raised so no
    thread is preempted between the two stores). A response read from the buffer while it is
    written has different ends."""

    def __init__(self):
        sys.setswitchinterval(100)
        self.buf = np.zeros(200000)

    def predict(self, X, names):
        if isinstance(X, str) and X.startswith("write"):
            deadline = time.monotonic() + float(X.split(":")[1])
            k = 0
            while time.monotonic() < deadline:
                k += 1
                self.buf[0] = k
                self.buf[-1] = k
                time.sleep(0.0002)  # lets the other threads run
            return "written"
        return self.buf


class Large:
    """A new (4000, 1000) float64 array (32 MB) per call."""

    def predict(self, X, names):
        return np.ones((4000, 1000))


class Summer:
    def predict(self, X, names):
        return [[float(np.asarray(X).sum())]]


class Doubler:
    def predict(self, X, names):
        return np.asarray(X) * 2

    def tags(self):
        return {"prefix": sys.prefix, "executable": sys.executable}


class VenvUser:
    def predict(self, X, names):
        import venvmod  # only importable from $VIRTUAL_ENV's site-packages
        return venvmod.NAME


class FreezeCount:
    def predict(self, X, names):
        import gc
        return {"frozen": gc.get_freeze_count()}


class KeepsLast:
    """Keeps the last X (of whichever thread) and returns X itself: a kept view, released by a
    later call on any thread, perhaps while the call that made it still encodes."""

    def __init__(self):
        self.last = None

    def predict(self, X, names):
        self.last = X
        return X


class Unsigned:
    """A uint64 result: values within int64's range, or (strData "big") beyond it."""

    def predict(self, X, names):
        top = 2 ** 64 - 1 if isinstance(X, str) and X == "big" else 2 ** 63 - 1
        return np.array([[top, 1]], dtype=np.uint64)


class TagTypes:
    """A metric whose tag value has the type strData names."""

    def predict(self, X, names):
        value = {"int": 1, "float": 1.5, "none": None, "list": [1]}[X]
        return SeldonResponse(data="ok", metrics=[
            {"type": "COUNTER", "key": "typed", "value": 1, "tags": {"t": value}}])


MANY_TAGS = [chr(c) for c in range(0x41, 0x5B)] + [chr(c) for c in range(0x61, 0x7B)] + \
    ["z%s" % chr(c) for c in range(0x61, 0x73)]  # 70 names, short enough for the registry


class ManyTags:
    """A metric with 70 tags, empty values."""

    def predict(self, X, names):
        tags = {name: "" for name in MANY_TAGS}
        return SeldonResponse(data="ok", metrics=[
            {"type": "COUNTER", "key": "many", "value": 1, "tags": tags}])
