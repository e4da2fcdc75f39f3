"""Models for the gRPC tests: a slow one (deadlines, timeouts, graceful stop), raw methods that
must receive and return protobuf messages, and exceptions of both kinds."""
import os
import time

from seldon_core.flask_utils import SeldonMicroserviceException


class Sleeper:
    """Sleeps X[0][0] seconds, then answers X."""

    def predict(self, X, names):
        time.sleep(float(X[0][0]))
        return X


class SleepThenMark:
    """Sleeps X[0][0] seconds, then appends a line to $CSERVE_TEST_MARK and answers X."""

    def predict(self, X, names):
        time.sleep(float(X[0][0]))
        with open(os.environ["CSERVE_TEST_MARK"], "a") as f:
            f.write("done\n")
        return X


class RawProto:
    """predict_raw over gRPC gets the SeldonMessage itself and answers one."""

    def predict_raw(self, msg):
        out = type(msg)()
        out.strData = f"{type(msg).__name__}:{msg.strData}"
        return out


class Raises:
    """ValueError for "value", a SeldonMicroserviceException for anything else."""

    def predict(self, X, names):
        if X == "value":
            raise ValueError("boom")
        raise SeldonMicroserviceException("bad input", status_code=400)


class Grows:
    """Answers X[0][0] zeros: a small request, an answer as large as asked."""

    def predict(self, X, names):
        return [0.0] * int(X[0][0])


class Doubles:
    """Doubles X in place and answers it: a model that writes into its input, which may be a
    view of the request's own bytes."""

    def predict(self, X, names):
        X *= 2
        return X
