#!/usr/bin/env python3
"""Interop scenario for py-amqp (Debian python3-amqp, Celery's transport), driven by
test/interop/py-amqp.test.ts.

Usage: py_amqp_scenario.py <port> <spec-json>
Prints one JSON object per line on stdout (see test/interop/scenario.ts for the shape).
Header values use tags for the types JSON lacks: {"$decimal": "3.14"}, {"$timestamp": 1700000000},
{"$bytes": "00ff"}. py-amqp writes a Python bytes value as a long string ('S'), so no
{"$bytes"} header goes out from here; it writes every int beyond +-2^31-1 as 'L'.
"""
import json
import sys
from datetime import datetime, timezone
from decimal import Decimal

import amqp
import amqp.exceptions
from scenario_io import amqp_props_to_json, emit, from_json, to_json


def body_hex(m):
    # py-amqp decodes the body to str when the message has a content_encoding; undo that
    b = m.body
    if isinstance(b, str):
        b = b.encode(m.properties.get("content_encoding") or "utf-8")
    return bytes(b).hex()


def to_message(body, props):
    kw = {("application_headers" if k == "headers" else k): from_json(v) for k, v in props.items()}
    return amqp.Message(body, **kw)


def main():
    port = int(sys.argv[1])
    spec = json.loads(sys.argv[2])
    p = spec["prefix"]
    conn = amqp.Connection(host=f"127.0.0.1:{port}", userid="guest", password="guest",
                           connect_timeout=10, read_timeout=10, write_timeout=10)
    conn.connect()
    emit("connect", server_product=conn.server_properties.get("product"))
    ch = conn.channel()

    ch.exchange_declare(f"{p}.direct", "direct", durable=False, auto_delete=False)
    for suffix in ("props", "props-js", "props-raw"):
        ok = ch.queue_declare(f"{p}.{suffix}", durable=False, auto_delete=False)
        ch.queue_bind(f"{p}.{suffix}", exchange=f"{p}.direct", routing_key="props")
        emit("declare", queue=ok.queue, message_count=ok.message_count, consumer_count=ok.consumer_count)

    msg = to_message(bytes.fromhex(spec["body_hex"]), spec["props"])
    emit("self_encoding", hex=msg._serialize_properties().hex())
    ch.basic_publish(msg, exchange=f"{p}.direct", routing_key="props")
    got = []
    tag = ch.basic_consume(f"{p}.props", callback=got.append, no_ack=False)
    while not got:
        conn.drain_events(timeout=10)
    m = got[0]
    emit("consume", exchange=m.delivery_info["exchange"], routing_key=m.delivery_info["routing_key"],
         redelivered=m.delivery_info["redelivered"], body_hex=body_hex(m), props=amqp_props_to_json(m.properties))
    ch.basic_ack(m.delivery_tag)
    ch.basic_cancel(tag)

    m = ch.basic_get(f"{p}.from-js", no_ack=False)
    if m is None:
        raise SystemExit("basic.get found the from-js queue empty")
    emit("get", message_count=m.delivery_info["message_count"], redelivered=m.delivery_info["redelivered"],
         routing_key=m.delivery_info["routing_key"], body_hex=body_hex(m), props=amqp_props_to_json(m.properties))
    ch.basic_ack(m.delivery_tag)
    emit("get_empty", empty=ch.basic_get(f"{p}.from-js", no_ack=False) is None)

    # publisher confirms: after confirm_select, basic_publish waits for basic.ack (MessageNacked otherwise)
    cch = conn.channel()
    cch.confirm_select()
    cch.queue_declare(f"{p}.confirms", durable=True, auto_delete=False)
    confirmed = 0
    for i in range(3):
        cch.basic_publish(amqp.Message(f"confirm-{i}".encode(), delivery_mode=2), exchange="",
                          routing_key=f"{p}.confirms", mandatory=True, timeout=10)
        confirmed += 1
    emit("confirms", published=3, confirmed=confirmed)

    ch.exchange_declare(f"{p}.topic", "topic", durable=False, auto_delete=False)
    for suffix, pattern in spec["topic"]["bindings"]:
        ch.queue_declare(f"{p}.{suffix}", exclusive=True)
        ch.queue_bind(f"{p}.{suffix}", exchange=f"{p}.topic", routing_key=pattern)
    for rk in spec["topic"]["publish"]:
        ch.basic_publish(amqp.Message(rk.encode()), exchange=f"{p}.topic", routing_key=rk)
    for suffix, _ in spec["topic"]["bindings"]:
        keys = []
        while True:
            m = ch.basic_get(f"{p}.{suffix}", no_ack=True)
            if m is None:
                break
            keys.append(m.delivery_info["routing_key"])
        emit("topic", queue=suffix, routing_keys=keys)

    ech = conn.channel()
    try:
        ech.queue_declare(f"{p}.missing", passive=True)
        emit("error", code=None, text="passive declare of a missing queue succeeded")
    except amqp.exceptions.NotFound as e:
        emit("error", code=e.reply_code, text=e.reply_text, exception=type(e).__name__, channel_open=ech.is_open)
    emit("after_error", connection_open=conn.connected, channel_ok=ch.is_open)
    conn.close()
    emit("done")


if __name__ == "__main__":
    main()
