#!/usr/bin/env python3
"""Dead-lettering as a Python app uses it, driven by test/interop/pika-dead-letter.test.ts.

Usage: pika_dead_letter.py <port> <prefix>
Prints one JSON object per line on stdout:
  {"step": "delivery", "attempt": n, "exchange": ..., "routing_key": ..., "redelivered": ..., "properties": {...}}
      one per delivery of the retry pattern (work queue -> reject -> retry exchange -> TTL'd retry
      queue -> back to the work exchange); the worker acks on the 3rd attempt
  {"step": "expired", "properties": {...}}   a message whose own expiration ran out, read from its DLQ
  {"step": "bad_expiration", "reply_code": ..., "reply_text": ...}   publishing expiration "soon"
  {"step": "done"}
Header values: timestamps become {"$timestamp": seconds}, bytes {"$bytes": hex}.
"""
import calendar
import json
import sys
import time
from datetime import datetime

import pika
import pika.exceptions


def emit(step, **fields):
    print(json.dumps({"step": step, **fields}), flush=True)


def to_json(v):
    if isinstance(v, dict):
        return {k: to_json(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [to_json(x) for x in v]
    if isinstance(v, datetime):
        return {"$timestamp": calendar.timegm(v.utctimetuple())}
    if isinstance(v, (bytes, bytearray)):
        return {"$bytes": bytes(v).hex()}
    return v


def props_to_json(p):
    out = {}
    for name in ("headers", "delivery_mode", "expiration", "message_id"):
        v = getattr(p, name, None)
        if v is not None:
            out[name] = to_json(v)
    return out


def attempt_of(props, work_queue):
    """1 + the times the work queue rejected it, as a retry-aware worker reads x-death."""
    for death in (props.headers or {}).get("x-death", []):
        if death.get("queue") == work_queue and death.get("reason") == "rejected":
            return 1 + int(death.get("count", 0))
    return 1


def main():
    port = int(sys.argv[1])
    p = sys.argv[2]
    params = pika.ConnectionParameters(host="127.0.0.1", port=port, credentials=pika.PlainCredentials("guest", "guest"),
                                       connection_attempts=1, socket_timeout=10, blocked_connection_timeout=10)
    conn = pika.BlockingConnection(params)
    ch = conn.channel()

    # The retry topology.
    work_x, retry_x, work_q, retry_q = f"{p}.work-x", f"{p}.retry-x", f"{p}.work", f"{p}.retry"
    ch.exchange_declare(exchange=work_x, exchange_type="direct", auto_delete=True)
    ch.exchange_declare(exchange=retry_x, exchange_type="direct", auto_delete=True)
    ch.queue_declare(queue=work_q, exclusive=True, arguments={"x-dead-letter-exchange": retry_x})
    ch.queue_declare(queue=retry_q, exclusive=True, arguments={"x-message-ttl": 50, "x-dead-letter-exchange": work_x})
    ch.queue_bind(queue=work_q, exchange=work_x, routing_key="task")
    ch.queue_bind(queue=retry_q, exchange=retry_x, routing_key="task")

    done = {"acked": False}

    def on_message(channel, method, props, body):
        n = attempt_of(props, work_q)
        emit("delivery", attempt=n, body=body.decode(), exchange=method.exchange, routing_key=method.routing_key,
             redelivered=method.redelivered, properties=props_to_json(props))
        if n < 3:
            channel.basic_reject(delivery_tag=method.delivery_tag, requeue=False)
        else:
            channel.basic_ack(delivery_tag=method.delivery_tag)
            done["acked"] = True

    ch.basic_consume(queue=work_q, on_message_callback=on_message, auto_ack=False)
    ch.basic_publish(exchange=work_x, routing_key="task", body=b"job-1",
                     properties=pika.BasicProperties(delivery_mode=2, message_id="job-1", headers={"tenant": "t1"}))
    deadline = time.time() + 10
    while not done["acked"] and time.time() < deadline:
        conn.process_data_events(time_limit=0.05)

    # A per-message expiration, dead-lettered through the default exchange.
    exp_q, exp_dlq = f"{p}.exp", f"{p}.exp-dlq"
    ch.queue_declare(queue=exp_dlq, exclusive=True)
    ch.queue_declare(queue=exp_q, exclusive=True, arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": exp_dlq})
    ch.basic_publish(exchange="", routing_key=exp_q, body=b"short-lived", properties=pika.BasicProperties(expiration="30"))
    deadline = time.time() + 10
    while time.time() < deadline:
        method, props, body = ch.basic_get(queue=exp_dlq, auto_ack=True)
        if method is not None:
            emit("expired", body=body.decode(), exchange=method.exchange, routing_key=method.routing_key, properties=props_to_json(props))
            break
        time.sleep(0.02)

    # An invalid expiration closes the channel with 406.
    bad = conn.channel()
    try:
        bad.basic_publish(exchange="", routing_key=exp_q, body=b"x", properties=pika.BasicProperties(expiration="soon"))
        bad.queue_declare(queue=exp_q, passive=True)  # a round trip: the close arrives first
        emit("bad_expiration", reply_code=None, reply_text=None)
    except pika.exceptions.ChannelClosedByBroker as e:
        emit("bad_expiration", reply_code=e.reply_code, reply_text=e.reply_text)

    conn.close()
    emit("done")


if __name__ == "__main__":
    main()
