#!/usr/bin/env python3
"""Interop scenario for pika (Debian python3-pika), driven by test/interop/pika.test.ts.

Usage: pika_scenario.py <port> <spec-json>
Prints one JSON object per line on stdout (see test/interop/scenario.ts for the shape).
Header values use tags for the types JSON lacks: {"$decimal": "3.14"}, {"$timestamp": 1700000000},
{"$bytes": "00ff"}. pika cannot encode a float in a field table (no 'd'/'f' encoder), so the
spec given to this script has no float header; the test sends a decimal instead.
"""
import json
import sys
from datetime import datetime, timezone
from decimal import Decimal

import pika
import pika.exceptions
from scenario_io import emit, from_json, to_json


PROP_NAMES = ["content_type", "content_encoding", "headers", "delivery_mode", "priority", "correlation_id",
              "reply_to", "expiration", "message_id", "timestamp", "type", "user_id", "app_id", "cluster_id"]


def props_to_json(p):
    out = {}
    for name in PROP_NAMES:
        v = getattr(p, name, None)
        if v is not None:
            out[name] = to_json(v)
    return out


def main():
    port = int(sys.argv[1])
    spec = json.loads(sys.argv[2])
    p = spec["prefix"]
    params = pika.ConnectionParameters(host="127.0.0.1", port=port, credentials=pika.PlainCredentials("guest", "guest"),
                                       connection_attempts=1, socket_timeout=10, blocked_connection_timeout=10)
    conn = pika.BlockingConnection(params)
    emit("connect", server_product=conn._impl.server_properties.get("product") if hasattr(conn._impl, "server_properties") else None)
    ch = conn.channel()

    # declare: exchange + queues + bindings (the three queues get a copy each: this client consumes
    # one, the test reads the other two with amqplib and with a raw socket)
    ch.exchange_declare(exchange=f"{p}.direct", exchange_type="direct", durable=False, auto_delete=False)
    for suffix in ("props", "props-js", "props-raw"):
        ok = ch.queue_declare(queue=f"{p}.{suffix}", durable=False)
        ch.queue_bind(queue=f"{p}.{suffix}", exchange=f"{p}.direct", routing_key="props")
        emit("declare", queue=ok.method.queue, message_count=ok.method.message_count, consumer_count=ok.method.consumer_count)

    # publish with every basic property, consume it back and ack
    sp = spec["props"]
    props = pika.BasicProperties(**{k: from_json(v) for k, v in sp.items()})
    emit("self_encoding", hex=b"".join(props.encode()).hex())
    body = bytes.fromhex(spec["body_hex"])
    ch.basic_publish(exchange=f"{p}.direct", routing_key="props", body=body, properties=props)
    for method, rprops, rbody in ch.consume(f"{p}.props", auto_ack=False, inactivity_timeout=10):
        if method is None:
            raise SystemExit("no delivery within 10 s")
        emit("consume", exchange=method.exchange, routing_key=method.routing_key, redelivered=method.redelivered,
             body_hex=rbody.hex(), props=props_to_json(rprops))
        ch.basic_ack(method.delivery_tag)
        break
    ch.cancel()

    # basic.get: the test published a message with every property through amqplib
    method, gprops, gbody = ch.basic_get(f"{p}.from-js", auto_ack=False)
    if method is None:
        raise SystemExit("basic.get found the from-js queue empty")
    emit("get", message_count=method.message_count, redelivered=method.redelivered, routing_key=method.routing_key,
         body_hex=gbody.hex(), props=props_to_json(gprops))
    ch.basic_ack(method.delivery_tag)
    method, _, _ = ch.basic_get(f"{p}.from-js", auto_ack=False)
    emit("get_empty", empty=method is None)

    # publisher confirms: basic_publish blocks until basic.ack (raises NackError / UnroutableError otherwise)
    cch = conn.channel()
    cch.confirm_delivery()
    cch.queue_declare(queue=f"{p}.confirms", durable=True)
    confirmed = 0
    for i in range(3):
        cch.basic_publish(exchange="", routing_key=f"{p}.confirms", body=f"confirm-{i}".encode(),
                          properties=pika.BasicProperties(delivery_mode=2), mandatory=True)
        confirmed += 1
    emit("confirms", published=3, confirmed=confirmed)

    # topic pub/sub
    ch.exchange_declare(exchange=f"{p}.topic", exchange_type="topic")
    for suffix, pattern in spec["topic"]["bindings"]:
        ch.queue_declare(queue=f"{p}.{suffix}", exclusive=True)
        ch.queue_bind(queue=f"{p}.{suffix}", exchange=f"{p}.topic", routing_key=pattern)
    for rk in spec["topic"]["publish"]:
        ch.basic_publish(exchange=f"{p}.topic", routing_key=rk, body=rk.encode())
    for suffix, _ in spec["topic"]["bindings"]:
        keys = []
        while True:
            method, _, b = ch.basic_get(f"{p}.{suffix}", auto_ack=True)
            if method is None:
                break
            keys.append(method.routing_key)
        emit("topic", queue=suffix, routing_keys=keys)

    # error: passive declare of a missing queue
    ech = conn.channel()
    try:
        ech.queue_declare(queue=f"{p}.missing", passive=True)
        emit("error", code=None, text="passive declare of a missing queue succeeded")
    except pika.exceptions.ChannelClosedByBroker as e:
        emit("error", code=e.reply_code, text=e.reply_text, channel_open=ech.is_open)
    # the connection survives a channel error
    emit("after_error", connection_open=conn.is_open, channel_ok=ch.is_open)
    conn.close()
    emit("done")


if __name__ == "__main__":
    main()
