#!/usr/bin/env python3
"""Interop scenario for kombu (Debian python3-kombu over python3-amqp, the pyamqp transport),
driven by test/interop/kombu.test.ts.

Usage: kombu_scenario.py <port> <spec-json>
Prints one JSON object per line on stdout (see test/interop/scenario.ts for the shape).

kombu abstracts the protocol, so this uses its public API only (Exchange, Queue, Producer,
Consumer, Queue.get, transport_options confirm_publish) and reports what it exposes:
- Producer.publish takes `expiration` in seconds (a float) and sends str(int(s * 1000)) ms;
- the properties come back through Message.properties (py-amqp's dict, timestamp as a datetime);
- the "self_encoding" step is the encoding of the message kombu's channel prepares from the
  same arguments (kombu builds a py-amqp Message in Producer.publish and does not hand it out).
Header values use tags for the types JSON lacks: {"$decimal": "3.14"}, {"$timestamp": 1700000000}.
"""
import json
import sys
from datetime import datetime, timezone
from decimal import Decimal

from kombu import Connection, Consumer, Exchange, Producer, Queue
from scenario_io import amqp_props_to_json, emit, from_json, to_json


def body_hex(message):
    b = message.body
    if isinstance(b, str):  # py-amqp decodes bodies that have a content_encoding
        b = b.encode(message.content_encoding or "utf-8")
    return bytes(b).hex()


def publish_args(spec):
    """Producer.publish keyword arguments for the spec's properties."""
    props = dict(spec["props"])
    kw = {
        "content_type": props.pop("content_type"),
        "content_encoding": props.pop("content_encoding"),
        "headers": from_json(props.pop("headers")),
        "delivery_mode": props.pop("delivery_mode"),
        "priority": props.pop("priority"),
        "expiration": int(props.pop("expiration")) / 1000,  # kombu: seconds
    }
    kw.update({k: from_json(v) for k, v in props.items()})  # correlation_id, reply_to, message_id, timestamp, type, user_id, app_id
    return kw


def main():
    port = int(sys.argv[1])
    spec = json.loads(sys.argv[2])
    p = spec["prefix"]
    url = f"pyamqp://guest:guest@127.0.0.1:{port}//"
    with Connection(url, connect_timeout=10) as conn:
        conn.connect()
        emit("connect", server_product=conn.connection.server_properties.get("product"))
        ch = conn.channel()

        direct = Exchange(f"{p}.direct", type="direct", durable=False)
        for suffix in ("props", "props-js", "props-raw"):
            bq = Queue(f"{p}.{suffix}", exchange=direct, routing_key="props", durable=False)(ch)
            bq.exchange.declare()
            ok = bq.queue_declare()
            bq.queue_bind()
            emit("declare", queue=ok.queue, message_count=ok.message_count, consumer_count=ok.consumer_count)

        body = bytes.fromhex(spec["body_hex"])
        kw = publish_args(spec)
        shown = dict(kw)
        prepared = ch.prepare_message(body, shown.pop("priority"), shown.pop("content_type"), shown.pop("content_encoding"),
                                      shown.pop("headers"), {**shown, "expiration": str(int(shown["expiration"] * 1000))})
        emit("self_encoding", hex=prepared._serialize_properties().hex())
        Producer(ch, exchange=direct).publish(body, routing_key="props", **kw)

        got = []
        with Consumer(ch, queues=[Queue(f"{p}.props", exchange=direct, routing_key="props", durable=False)],
                      on_message=got.append, no_ack=False):  # on_message: the raw message, no body decoding
            while not got:
                conn.drain_events(timeout=10)
        m = got[0]
        emit("consume", exchange=m.delivery_info["exchange"], routing_key=m.delivery_info["routing_key"],
             redelivered=m.delivery_info["redelivered"], body_hex=body_hex(m), props=amqp_props_to_json(m.properties))
        m.ack()

        fq = Queue(f"{p}.from-js", durable=False)(ch)
        m = fq.get(no_ack=False)
        if m is None:
            raise SystemExit("basic.get found the from-js queue empty")
        emit("get", message_count=m.delivery_info["message_count"], redelivered=m.delivery_info["redelivered"],
             routing_key=m.delivery_info["routing_key"], body_hex=body_hex(m), props=amqp_props_to_json(m.properties))
        m.ack()
        emit("get_empty", empty=fq.get(no_ack=False) is None)

        # publisher confirms: the transport option makes every channel confirm_select and each
        # publish wait for basic.ack
        with Connection(url, connect_timeout=10, transport_options={"confirm_publish": True}) as cconn:
            cq = Queue(f"{p}.confirms", durable=True)
            producer = cconn.Producer()
            confirmed = 0
            for i in range(3):
                producer.publish(f"confirm-{i}".encode(), routing_key=f"{p}.confirms", declare=[cq],
                                 content_type="text/plain", content_encoding="utf-8", delivery_mode=2, mandatory=True)
                confirmed += 1
            emit("confirms", published=3, confirmed=confirmed, confirm_selected=bool(producer.channel._confirm_selected))

        topic = Exchange(f"{p}.topic", type="topic", durable=False)
        tqueues = [Queue(f"{p}.{suffix}", exchange=topic, routing_key=pattern, exclusive=True)(ch)
                   for suffix, pattern in spec["topic"]["bindings"]]
        for q in tqueues:
            q.declare()
        producer = Producer(ch, exchange=topic)
        for rk in spec["topic"]["publish"]:
            producer.publish(rk.encode(), routing_key=rk, content_type="text/plain", content_encoding="utf-8")
        for (suffix, _), q in zip(spec["topic"]["bindings"], tqueues):
            keys = []
            while True:
                m = q.get(no_ack=True)
                if m is None:
                    break
                keys.append(m.delivery_info["routing_key"])
            emit("topic", queue=suffix, routing_keys=keys)

        ech = conn.channel()
        try:
            Queue(f"{p}.missing")(ech).queue_declare(passive=True)
            emit("error", code=None, text="passive declare of a missing queue succeeded")
        except conn.channel_errors as e:
            emit("error", code=e.reply_code, text=e.reply_text, exception=type(e).__name__)
        emit("after_error", connection_open=conn.connected, channel_ok=ch.is_open)
    emit("done")


if __name__ == "__main__":
    main()
