#!/usr/bin/env python3
"""connection.update-secret from pika, driven by test/interop/pika-update-secret.test.ts.

Usage: pika_update_secret.py <port> <queue>
Debian's pika 1.2 predates BlockingConnection.update_secret (pika 1.3 added it, and pika's
own test suite then sends an arbitrary secret). This script defines the two methods as
pika 1.3's spec does, registers them with pika's decoder, and sends update-secret through
pika's own RPC machinery, so the bytes on the wire and the reply handling are pika's.

Prints one JSON object per line on stdout:
  {"step": "update_secret_ok", "method": <name of the reply pika decoded>}
  {"step": "after", "body": <body read back through the same connection>}
  {"step": "done"}
  {"step": "error", "error": ...}   on any failure
"""
import struct
import sys
import time

import pika
from pika import amqp_object, data, spec

from scenario_io import emit


class UpdateSecret(amqp_object.Method):
    INDEX = 0x000A0046  # 10, 70
    NAME = 'Connection.UpdateSecret'

    def __init__(self, new_secret=b'', reason=''):
        self.new_secret = new_secret
        self.reason = reason

    @property
    def synchronous(self):
        return True

    def decode(self, encoded, offset=0):
        length = struct.unpack_from('>I', encoded, offset)[0]
        offset += 4
        self.new_secret = encoded[offset:offset + length]
        offset += length
        self.reason, offset = data.decode_short_string(encoded, offset)
        return self

    def encode(self):
        # A longstr, encoded the way pika's spec encodes connection.start-ok's response.
        pieces = [struct.pack('>I', len(self.new_secret)), self.new_secret]
        data.encode_short_string(pieces, self.reason)
        return pieces


class UpdateSecretOk(amqp_object.Method):
    INDEX = 0x000A0047  # 10, 71
    NAME = 'Connection.UpdateSecretOk'

    @property
    def synchronous(self):
        return False

    def decode(self, encoded, offset=0):
        return self

    def encode(self):
        return []


spec.methods[UpdateSecret.INDEX] = UpdateSecret
spec.methods[UpdateSecretOk.INDEX] = UpdateSecretOk


def main():
    port, queue = int(sys.argv[1]), sys.argv[2]
    conn = pika.BlockingConnection(pika.ConnectionParameters(
        host='127.0.0.1', port=port, credentials=pika.PlainCredentials('guest', 'guest')))
    replies = []
    conn._impl._rpc(0, UpdateSecret(b'an arbitrary secret, not the password', 'pika test'),
                    lambda frame: replies.append(frame.method.NAME), [UpdateSecretOk])
    deadline = time.monotonic() + 10
    while not replies and time.monotonic() < deadline:
        conn.process_data_events(time_limit=0.1)
    if not replies:
        raise RuntimeError('no reply to connection.update-secret within 10 s')
    emit('update_secret_ok', method=replies[0])
    ch = conn.channel()
    ch.queue_declare(queue, exclusive=True)
    ch.basic_publish('', queue, b'after rotation')
    body = None
    while body is None and time.monotonic() < deadline:
        _, _, body = ch.basic_get(queue, auto_ack=True)
    emit('after', body=body.decode() if body is not None else None)
    conn.close()
    emit('done')


if __name__ == '__main__':
    try:
        main()
    except Exception as e:  # noqa: BLE001 - reported to the test as a step
        emit('error', error=f'{type(e).__name__}: {e}')
