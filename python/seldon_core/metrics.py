"""Custom metric helpers (spec §2.1): dicts the server validates and records."""
COUNTER = "COUNTER"
GAUGE = "GAUGE"
TIMER = "TIMER"


def _check(value):
    value + 1  # raises TypeError for values that are not numbers, as the reference does


def create_counter(key, value):
    _check(value)
    return {"key": key, "type": COUNTER, "value": value}


def create_gauge(key, value):
    _check(value)
    return {"key": key, "type": GAUGE, "value": value}


def create_timer(key, value):
    _check(value)
    return {"key": key, "type": TIMER, "value": value}
