"""JSON-lines I/O shared by the Python interop scenarios: one JSON object per step on stdout,
and the encoding of AMQP values JSON cannot carry (decimals, timestamps, byte strings)."""
import calendar
import json
from datetime import datetime, timezone
from decimal import Decimal


def emit(step, **fields):
    print(json.dumps({"step": step, **fields}), flush=True)


def from_json(v):
    if isinstance(v, dict):
        if len(v) == 1:
            (k, x), = v.items()
            if k == "$decimal":
                return Decimal(x)
            if k == "$timestamp":
                return datetime.fromtimestamp(x, timezone.utc)
            if k == "$bytes":
                return bytes.fromhex(x)
        return {k: from_json(x) for k, x in v.items()}
    if isinstance(v, list):
        return [from_json(x) for x in v]
    return v


def to_json(v):
    if isinstance(v, dict):
        return {k: to_json(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [to_json(x) for x in v]
    if isinstance(v, Decimal):
        return {"$decimal": str(v)}
    if isinstance(v, datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=timezone.utc)
        return {"$timestamp": calendar.timegm(v.utctimetuple())}
    if isinstance(v, (bytes, bytearray, memoryview)):
        return {"$bytes": bytes(v).hex()}
    return v


def amqp_props_to_json(props):
    """py-amqp's (and so kombu's) property dict as the spec's JSON: application_headers is
    "headers", and the timestamp (a datetime) compares as seconds."""
    out = {}
    for name, v in props.items():
        if v is None:
            continue
        out["headers" if name == "application_headers" else name] = to_json(v)
    if isinstance(out.get("timestamp"), dict):
        out["timestamp"] = out["timestamp"]["$timestamp"]
    return out
