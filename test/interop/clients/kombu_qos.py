#!/usr/bin/env python3
"""kombu's basic.qos decision and a Celery worker's prefetch increase, driven by
test/interop/kombu-qos.test.ts.

Usage: kombu_qos.py <port> <queue>
kombu (Debian python3-kombu, pyamqp transport) decides what basic.qos's `global` flag means
from the server's product/version (Connection.qos_semantics_matches_spec). A Celery worker
uses global = not qos_semantics_matches_spec for its channel prefetch, starts its task
consumer with prefetch 1, and raises the prefetch (Consumer.qos) when it holds a task it
cannot run yet (an ETA/countdown task stays unacked). This script does exactly that with
kombu's public API: two messages wait in a queue; the first is received and held
unacked; the prefetch is raised to 2; the second must then arrive at the same consumer.
Both messages are published (by this script, before it consumes) while nobody consumes, so
prefetch alone decides what the consumer is sent.

Prints one JSON object per line on stdout:
  {"step": "server", "product": ..., "version": ..., "warren_version": ..., "qos_semantics_matches_spec": bool}
  {"step": "delivery", "body": ..., "unacked_held": n}     each message received
  {"step": "raising_prefetch", "prefetch_count": 2, "apply_global": bool}   just before basic.qos
  {"step": "timeout", "waiting_for": ...}                    a delivery that did not come within 10 s
  {"step": "done"}
"""
import socket
import sys
import time

from kombu import Connection, Consumer, Producer, Queue
from scenario_io import emit


def wait_for(conn, got, n, what):
    deadline = time.monotonic() + 10
    while len(got) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            emit('timeout', waiting_for=what)
            return False
        try:
            conn.drain_events(timeout=left)
        except socket.timeout:
            pass
    return True


def main():
    port, queue_name = int(sys.argv[1]), sys.argv[2]
    with Connection(f'pyamqp://guest:guest@127.0.0.1:{port}//', connect_timeout=10) as conn:
        conn.connect()
        props = conn.connection.server_properties
        matches_spec = conn.qos_semantics_matches_spec
        emit('server', product=props.get('product'), version=props.get('version'),
             warren_version=props.get('warren_version'), qos_semantics_matches_spec=matches_spec)
        qos_global = not matches_spec  # celery.worker.consumer.tasks: qos_global
        ch = conn.channel()
        queue = Queue(queue_name, durable=False)(ch)
        queue.declare()
        producer = Producer(ch)
        for body in (b'task-1', b'task-2'):
            producer.publish(body, routing_key=queue_name, serializer=None, content_type='text/plain')
        ch.basic_qos(0, 1, qos_global)  # the worker's initial prefetch
        got = []

        def on_message(message):
            got.append(message)  # held unacked, like an ETA task waiting for its time
            emit('delivery', body=message.body.decode() if isinstance(message.body, bytes) else message.body,
                 unacked_held=len(got))

        consumer = Consumer(ch, queues=[queue], on_message=on_message, no_ack=False)
        consumer.consume()
        if wait_for(conn, got, 1, 'first message'):
            # Emitted first: py-amqp may hand out the next delivery while it waits for qos-ok.
            emit('raising_prefetch', prefetch_count=2, apply_global=qos_global)
            consumer.qos(prefetch_count=2, apply_global=qos_global)  # celery: increment prefetch for the ETA task
            wait_for(conn, got, 2, 'second message after the prefetch increase')
        for m in got:
            m.ack()
        consumer.cancel()
    emit('done')


if __name__ == '__main__':
    main()
