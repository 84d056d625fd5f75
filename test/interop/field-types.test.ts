/**
 * Field-table value types that real clients put on the wire, sent over a raw
 * socket so the check needs no external client. The broker must accept what
 * RabbitMQ accepts even when it has to decode the properties (a user_id to
 * check, here), and relay the bytes untouched.
 *
 * 'L': py-amqp (hence kombu/Celery) writes every int beyond ±2^31-1 with the
 * 'L' tag; RabbitMQ's rabbit_binary_parser reads 'L' as a signed 64-bit int,
 * exactly like 'l'. rabbitmq-client writes small ints as 'b' and 's'.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { MethodId } from '../../src/protocol/index.js';
import { startBroker } from '../helpers/broker.js';
import { RawClient, frameBytes, methodFrame } from '../helpers/raw-client.js';
import { rawGet } from './scenario.js';

let broker: Broker;
beforeAll(async () => { broker = await startBroker(); });
afterAll(() => broker.stop());

/** A content-header payload: class 60, body size, flags headers|user_id, the table and 'guest'. */
function headerWithTable(bodySize: number, tableEntries: Buffer): Buffer {
  const head = Buffer.alloc(14);
  head.writeUInt16BE(60, 0);
  head.writeUInt16BE(0, 2);
  head.writeBigUInt64BE(BigInt(bodySize), 4);
  head.writeUInt16BE(0x2000 | 0x0010, 12);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(tableEntries.length);
  return Buffer.concat([head, len, tableEntries, Buffer.from([5]), Buffer.from('guest')]);
}

const entry = (key: string, tag: string, value: Buffer): Buffer => Buffer.concat([Buffer.from([key.length]), Buffer.from(key), Buffer.from(tag), value]);
const i64 = (v: bigint): Buffer => { const b = Buffer.alloc(8); b.writeBigInt64BE(v); return b; };

describe('field types clients send in message headers', () => {
  it.each([
    ['L (py-amqp long long)', entry('big', 'L', i64(2n ** 40n))],
    ['L negative', entry('neg', 'L', i64(-(2n ** 40n)))],
    ['b and s (rabbitmq-client small ints)', Buffer.concat([entry('b', 'b', Buffer.from([0xf9])), entry('s', 's', Buffer.from([0xff, 0x00]))])],
    ['L inside an array', entry('arr', 'A', Buffer.concat([Buffer.from([0, 0, 0, 9]), Buffer.from('L'), i64(7n)]))],
  ])('%s: accepted with a user_id to check, relayed byte for byte', async (_what, table) => {
    const queue = `ft-${Math.random().toString(36).slice(2)}`;
    const c = await RawClient.open(broker.port);
    try {
      await c.openChannel(1);
      c.sendMethod(1, { id: MethodId.QueueDeclare, args: { queue, autoDelete: false } });
      await c.waitForMethod(MethodId.QueueDeclareOk, 1);
      const header = headerWithTable(1, table);
      c.send(Buffer.concat([
        methodFrame(1, { id: MethodId.BasicPublish, args: { exchange: '', routingKey: queue } }),
        frameBytes(2, 1, header),
        frameBytes(3, 1, Buffer.from('x')),
      ]));
      // a round trip on the same channel: the publish was processed (or the connection closed)
      c.sendMethod(1, { id: MethodId.QueueDeclare, args: { queue, passive: true } });
      const reply = await c.waitFor((f) => f.method?.id === MethodId.ConnectionClose || (f.channel === 1 && f.method?.id === MethodId.QueueDeclareOk), 10_000, 'declare-ok');
      expect(reply.method?.id === MethodId.ConnectionClose ? `connection.close ${reply.method.args.replyCode} ${reply.method.args.replyText}` : 'declare-ok').toBe('declare-ok');
      expect(reply.method?.id === MethodId.QueueDeclareOk && reply.method.args.messageCount).toBe(1);
      const got = await rawGet(broker.port, queue);
      expect(got?.header.toString('hex')).toBe(header.toString('hex'));
    } finally {
      await c.close().catch(() => c.destroy());
    }
  });
});
