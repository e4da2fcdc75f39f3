"""SeldonMicroserviceException: status code, reason and an empty str(), as in the reference."""


class SeldonMicroserviceException(Exception):
    status_code = 400

    def __init__(self, message, status_code=None, payload=None, reason="MICROSERVICE_BAD_DATA"):
        Exception.__init__(self)
        self.message = message
        if status_code is not None:
            self.status_code = status_code
        self.payload = payload
        self.reason = reason

    def to_dict(self):
        rv = {"status": {"status": 1, "info": self.message, "code": -1, "reason": self.reason}}
        return rv
