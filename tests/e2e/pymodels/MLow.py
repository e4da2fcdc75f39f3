"""The reference tests' M-Low and M-LowStatus: raw REST methods (spec §6.1)."""


class MLow:
    def __init__(self, status=False):
        self.status = status

    def predict_rest(self, request):
        out = {"data": {"ndarray": [9, 9]}}
        if self.status:
            out["status"] = {"code": 400, "status": "FAILURE"}
        return out

    def health_status_raw(self):
        return {"data": {"ndarray": [123.456, 7.89]}}
