/**
 * Regression tests for what the fuzzer found (test/fuzz/fuzzer.ts), each
 * reduced to the bytes that mattered.
 *
 * 1. A content header whose property list is malformed (flags announcing
 *    properties that are not there, a headers table longer than the frame, an
 *    unknown field type) used to be accepted: stored, routed and relayed as is
 *    to consumers, whose clients cannot parse it; with a data directory the
 *    raw delivery-mode reader threw a RangeError (answered 541 through the
 *    internal-error path, logged as a broker bug). Like RabbitMQ, which decodes
 *    every published message's properties, the publish now ends the connection
 *    with 541 INTERNAL_ERROR, and nothing is routed.
 *    (seed 24301: cases 537, 647, 665, 907, 1187 and the undecodable-header cases 189, 322, 1437...)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Broker } from '../../src/index.js';
import { Constants, MethodId, checkContentProperties, decodeContentProperties, encodeContentHeader } from '../../src/protocol/index.js';
import { queueStats } from '../helpers/broker.js';
import { RawClient, frameBytes, methodFrame } from '../helpers/raw-client.js';
import { caseRng } from './fuzzer.js';

/** A content header payload: class 60, weight 0, body size, then `props` (flags word and property bytes). */
function header(bodySize: number, props: Buffer): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(60, 0);
  h.writeBigUInt64BE(BigInt(bodySize), 4);
  return Buffer.concat([h, props]);
}

const u16 = (v: number): Buffer => Buffer.from([v >> 8, v & 0xff]);

const MALFORMED: Array<[string, Buffer]> = [
  ['delivery-mode and a continuation word, with no bytes after the flags (the RangeError)', u16(0x1001)],
  ['content-type, headers and a continuation word, cut after 3 bytes', Buffer.concat([u16(0x3001), Buffer.from([0, 0, 0])])],
  ['timestamp announced, 3 of its 8 bytes present', Buffer.concat([u16(0x0040), Buffer.from([1, 2, 3])])],
  ['headers table longer than the frame', Buffer.concat([u16(0x2000), Buffer.from([0x7f, 0xff, 0xff, 0xff, 0])])],
  ['headers table with an unknown field type', Buffer.concat([u16(0x2000), Buffer.from([0, 0, 0, 3, 1, 0x6b, 0x5a])])],
  ['a continuation word promised but missing', u16(0x0001)],
];

describe('malformed content properties (found by fuzzing)', () => {
  let broker: Broker;
  let dataDir: string;
  const errors: string[] = [];
  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'warren-fuzz-regress-'));
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        errors.push(chunk.toString());
        cb();
      },
    });
    broker = await Broker.start({ port: 0, host: '127.0.0.1', dataDir, fsync: false, logger: pino({ level: 'error' }, sink) });
  });
  afterAll(async () => {
    await broker.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  for (const [name, props] of MALFORMED) {
    it(`${name}: 541 INTERNAL_ERROR, nothing routed, nothing relayed, no broker error`, async () => {
      const queue = `regress-${Math.random().toString(36).slice(2)}`;
      // A consumer on another connection must never see the bad message.
      const consumer = await RawClient.open(broker.port);
      await consumer.openChannel(1);
      consumer.sendMethod(1, { id: MethodId.QueueDeclare, args: { queue, durable: true } });
      await consumer.waitForMethod(MethodId.QueueDeclareOk, 1);
      consumer.sendMethod(1, { id: MethodId.BasicConsume, args: { queue, noAck: true } });
      await consumer.waitForMethod(MethodId.BasicConsumeOk, 1);

      const c = await RawClient.open(broker.port);
      await c.openChannel(1);
      c.send(Buffer.concat([
        methodFrame(1, { id: MethodId.BasicPublish, args: { routingKey: queue } }),
        frameBytes(Constants.FRAME_HEADER, 1, header(3, props)),
        frameBytes(Constants.FRAME_BODY, 1, Buffer.from('bad')),
      ]));
      const close = await c.expectConnectionClose();
      expect(close.replyCode).toBe(541);
      expect(close.replyText).toMatch(/^INTERNAL_ERROR - could not decode the message's content properties: /);
      expect([close.classId, close.methodId]).toEqual([0, 0]);
      expect(queueStats(broker, queue).messagesReady).toBe(0);

      // The consumer is unaffected: a good message still arrives, and it is the only one.
      consumer.publish(1, '', queue, Buffer.from('good'), { deliveryMode: 2 });
      await consumer.waitForMethod(MethodId.BasicDeliver, 1);
      const bodies = consumer.frames.filter((f) => f.type === Constants.FRAME_BODY).map((f) => f.payload.toString());
      expect(bodies).toEqual(['good']);
      await consumer.close();
      expect(errors).toEqual([]);
    });
  }

  it('well-formed headers with every property (and unknown continuation words) are still accepted', async () => {
    const queue = 'regress-ok';
    const c = await RawClient.open(broker.port);
    await c.openChannel(1);
    c.sendMethod(1, { id: MethodId.QueueDeclare, args: { queue, durable: true } });
    await c.waitForMethod(MethodId.QueueDeclareOk, 1);
    const full = encodeContentHeader(2, {
      contentType: 't', contentEncoding: 'e', headers: { a: 1, b: [1, 'x', { c: null }], d: Buffer.from('x') }, deliveryMode: 2, priority: 1,
      correlationId: 'c', replyTo: 'r', expiration: '60000', messageId: 'm', timestamp: 1, type: 't', userId: 'guest', appId: 'a', clusterId: 'c',
    });
    // The same properties behind an (unknown) continuation word: the flags word gets bit 0, the extra word follows it.
    const flags = full.readUInt16BE(12);
    const continued = Buffer.concat([full.subarray(0, 12), u16(flags | 1), u16(0x8000), full.subarray(14)]);
    for (const h of [full, continued]) {
      c.send(Buffer.concat([methodFrame(1, { id: MethodId.BasicPublish, args: { routingKey: queue } }), frameBytes(Constants.FRAME_HEADER, 1, h), frameBytes(Constants.FRAME_BODY, 1, Buffer.from('ok'))]));
    }
    c.sendMethod(1, { id: MethodId.QueueDeclare, args: { queue, passive: true } });
    const ok = await c.waitForMethod(MethodId.QueueDeclareOk, 1);
    expect(ok.messageCount).toBe(2);
    await c.close();
  });
});

describe('checkContentProperties agrees with the decoder', () => {
  it('accepts exactly the content headers decodeContentProperties decodes (20,000 mutated headers)', () => {
    const rng = caseRng(77, 0);
    const base = encodeContentHeader(10, {
      contentType: 'application/json', headers: { s: 'x', n: 1, t: true, a: [1, [2], { x: 'y' }], f: { g: { h: 1.5 } }, v: null, b: Buffer.from([1]) },
      deliveryMode: 2, priority: 3, messageId: 'id', timestamp: 5, userId: 'u',
    });
    let accepted = 0;
    for (let i = 0; i < 20_000; i++) {
      const h = Buffer.from(base);
      const n = 1 + Math.floor(rng() * 3);
      for (let k = 0; k < n; k++) {
        const at = 12 + Math.floor(rng() * (h.length - 12));
        h[at] = rng() < 0.5 ? Math.floor(rng() * 256) : h[at]! ^ (1 << Math.floor(rng() * 8));
      }
      const cut = rng() < 0.3 ? h.subarray(0, 14 + Math.floor(rng() * (h.length - 14))) : h;
      let decoded = true;
      try {
        decodeContentProperties(cut);
      } catch {
        decoded = false;
      }
      let checked = true;
      try {
        checkContentProperties(cut);
      } catch {
        checked = false;
      }
      expect(checked, `header ${cut.toString('hex')}`).toBe(decoded);
      if (checked) accepted++;
    }
    // Both outcomes were exercised.
    expect(accepted).toBeGreaterThan(1000);
    expect(accepted).toBeLessThan(19_000);
  });
});
