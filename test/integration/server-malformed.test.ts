/**
 * Malformed input from raw sockets. Each case must end the bad connection
 * with RabbitMQ's reply code (connection.close, then the socket closes after
 * our close-ok) and must not disturb anyone else: an amqplib connection
 * opened before the first case publishes and consumes a message after each
 * bad client is gone.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { Constants, MethodId } from '../../src/protocol/index.js';
import { roundTrip } from '../helpers/amqp-checks.js';
import { connect, startBroker, type AmqpConnection } from '../helpers/broker.js';
import { RawClient, bodyFrames, frameBytes, headerFrame, methodFrame, type CloseArgs } from '../helpers/raw-client.js';

const { FRAME_METHOD, FRAME_HEADER, FRAME_BODY } = Constants;

function rawMethodPayload(classId: number, methodId: number, args: Buffer = Buffer.alloc(0)): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt16BE(classId, 0);
  b.writeUInt16BE(methodId, 2);
  return Buffer.concat([b, args]);
}

const publish = (channel: number, routingKey = 'nowhere'): Buffer => methodFrame(channel, { id: MethodId.BasicPublish, args: { routingKey } });

interface Case {
  name: string;
  /** Bytes sent after the handshake and channel.open on channel 1. */
  send: () => Buffer;
  expected: Partial<CloseArgs> & { replyCode: number };
  /**
   * The frame stream itself is broken: the server cannot find a close-ok in
   * what follows, so (like RabbitMQ, which sleeps 3 s after a fatal frame
   * error) it ignores all input and closes the socket after closeTimeout.
   */
  lostSync?: true;
}

/** Small, so the lost-sync cases (which wait it out) stay fast. */
const CLOSE_TIMEOUT = 400;
/**
 * For the cases where close-ok must be seen: a socket closed before this
 * much time was closed because of the close-ok, however loaded the machine.
 */
const PATIENT_CLOSE_TIMEOUT = 12_000;
/** How late a due timeout may fire on a loaded machine before the test calls it a bug. */
const LATE_MS = 5000;

/**
 * Waits for the server's connection.close, answers close-ok and waits for the
 * socket to close; returns the close arguments and how long the close took
 * after close-ok.
 */
async function closeHandshake(c: RawClient): Promise<{ close: CloseArgs; ms: number }> {
  const close = await c.waitForMethod(MethodId.ConnectionClose, 0);
  const at = Date.now();
  c.sendMethod(0, { id: MethodId.ConnectionCloseOk, args: {} });
  await c.waitClosed(PATIENT_CLOSE_TIMEOUT + LATE_MS);
  return { close, ms: c.closedAt - at };
}

const CASES: Case[] = [
  {
    name: 'bad frame-end octet',
    lostSync: true,
    send: () => frameBytes(FRAME_METHOD, 1, rawMethodPayload(60, 10, Buffer.from([0, 0, 0, 0, 0, 1, 0])), 0x00),
    expected: { replyCode: 501, classId: 0, methodId: 0 },
  },
  {
    name: 'frame larger than frame_max (only its header needs to arrive)',
    lostSync: true,
    send: () => {
      const head = Buffer.alloc(7);
      head[0] = FRAME_BODY;
      head.writeUInt16BE(1, 1);
      head.writeUInt32BE(1_000_000, 3);
      return head;
    },
    expected: { replyCode: 501 },
  },
  {
    // A payload of frame_max + 1: over the limit even with RabbitMQ's 8-byte FRAME_SIZE_FUDGE.
    name: 'complete frame over frame_max',
    lostSync: true,
    send: () => Buffer.concat([publish(1), headerFrame(1, 200_000), frameBytes(FRAME_BODY, 1, Buffer.alloc(131072 + 1))]),
    expected: { replyCode: 501 },
  },
  {
    name: 'unknown frame type',
    lostSync: true,
    send: () => frameBytes(9, 1, Buffer.from([1, 2, 3])),
    expected: { replyCode: 501 },
  },
  {
    name: 'unknown method in a known class',
    send: () => frameBytes(FRAME_METHOD, 1, rawMethodPayload(60, 999)),
    expected: { replyCode: 503, classId: 60, methodId: 999 },
  },
  {
    name: 'method of an unknown class',
    send: () => frameBytes(FRAME_METHOD, 1, rawMethodPayload(99, 1)),
    expected: { replyCode: 503, classId: 99, methodId: 1 },
  },
  {
    name: 'method frame on a channel that was never opened',
    send: () => methodFrame(9, { id: MethodId.BasicQos, args: { prefetchCount: 1 } }),
    expected: { replyCode: 504, replyText: "CHANNEL_ERROR - expected 'channel.open'", classId: 60, methodId: 10 },
  },
  {
    name: 'content header without a basic.publish',
    send: () => headerFrame(1, 5),
    expected: { replyCode: 505, replyText: 'UNEXPECTED_FRAME - expected method frame, got non method frame instead', classId: 0, methodId: 0 },
  },
  {
    name: 'body frame without a basic.publish',
    send: () => frameBytes(FRAME_BODY, 1, Buffer.from('stray')),
    expected: { replyCode: 505, replyText: 'UNEXPECTED_FRAME - expected method frame, got non method frame instead', classId: 0, methodId: 0 },
  },
  {
    name: 'basic.publish followed by a method instead of the content header',
    send: () => Buffer.concat([publish(1), methodFrame(1, { id: MethodId.BasicQos, args: { prefetchCount: 1 } })]),
    expected: { replyCode: 505, replyText: 'UNEXPECTED_FRAME - expected content header for class 60, got non content header frame instead', classId: 60, methodId: 40 },
  },
  {
    name: 'basic.publish followed by a body frame instead of the content header',
    send: () => Buffer.concat([publish(1), bodyFrames(1, Buffer.from('abc'), 131072)]),
    expected: { replyCode: 505, replyText: 'UNEXPECTED_FRAME - expected content header for class 60, got non content header frame instead', classId: 60, methodId: 40 },
  },
  {
    name: 'content header of another class',
    send: () => Buffer.concat([publish(1), headerFrame(1, 3, {}, 50)]),
    expected: { replyCode: 505, replyText: 'UNEXPECTED_FRAME - expected content header for class 60, got one for class 50 instead', classId: 60, methodId: 40 },
  },
  {
    name: 'method frame in the middle of a body',
    send: () => Buffer.concat([publish(1), headerFrame(1, 10), frameBytes(FRAME_BODY, 1, Buffer.from('12345')), publish(1)]),
    expected: { replyCode: 505, replyText: 'UNEXPECTED_FRAME - expected content body, got non content body frame instead', classId: 60, methodId: 40 },
  },
  {
    name: 'second content header instead of the body',
    send: () => Buffer.concat([publish(1), headerFrame(1, 10), headerFrame(1, 10)]),
    expected: { replyCode: 505, replyText: 'UNEXPECTED_FRAME - expected content body, got non content body frame instead', classId: 60, methodId: 40 },
  },
  {
    name: 'body frames overrunning body_size',
    send: () => Buffer.concat([publish(1), headerFrame(1, 4), frameBytes(FRAME_BODY, 1, Buffer.from('123')), frameBytes(FRAME_BODY, 1, Buffer.from('456'))]),
    expected: { replyCode: 501, replyText: 'FRAME_ERROR - content body frame exceeds remaining content size' },
  },
  {
    name: 'content header on channel 0',
    send: () => frameBytes(FRAME_HEADER, 0, Buffer.alloc(14)),
    expected: { replyCode: 505 },
  },
  {
    name: 'garbage bytes',
    lostSync: true,
    send: () => Buffer.from('\xde\xad\xbe\xef this is not AMQP at all, just noise \x00\x01\x02', 'latin1'),
    expected: { replyCode: 501 },
  },
];

describe('malformed input', () => {
  let broker: Broker;
  let patient: Broker;
  let good: AmqpConnection;
  const goodErrors: string[] = [];
  beforeAll(async () => {
    broker = await startBroker({ closeTimeout: CLOSE_TIMEOUT });
    patient = await startBroker({ closeTimeout: PATIENT_CLOSE_TIMEOUT });
    good = await connect(broker);
    good.on('error', (e: Error) => goodErrors.push(e.message));
    good.on('close', () => goodErrors.push('closed'));
  });
  afterAll(async () => {
    await good.close();
    await broker.stop();
    await patient.stop();
  });
  afterEach(async () => {
    // The parallel well-behaved connection is untouched by whatever the bad client did.
    expect(goodErrors).toEqual([]);
    expect(await roundTrip(good)).toMatch(/^ping-\d+$/);
  });

  it('wrong protocol header: answered with AMQP 0-9-1 and the socket is closed', async () => {
    const c = await RawClient.connect(broker.port);
    c.send(Buffer.from('AMQP\x00\x00\x08\x00', 'latin1'));
    await c.waitClosed();
    expect(c.received.toString('latin1')).toBe('AMQP\x00\x00\x09\x01');
  });

  it('garbage instead of a protocol header: answered with AMQP 0-9-1 and the socket is closed', async () => {
    const c = await RawClient.connect(broker.port);
    c.send(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]));
    await c.waitClosed();
    expect(c.received.toString('latin1')).toBe('AMQP\x00\x00\x09\x01');
  });

  for (const tc of CASES) {
    it(`${tc.name} → ${tc.expected.replyCode}`, async () => {
      const c = await RawClient.open((tc.lostSync ? broker : patient).port);
      await c.openChannel(1);
      c.send(tc.send());
      const { close, ms } = await closeHandshake(c);
      expect(close).toMatchObject(tc.expected);
      expect(close.replyText.startsWith(`${replyName(tc.expected.replyCode)} - `)).toBe(true);
      if (tc.lostSync) {
        // Input is no longer parsed: our close-ok goes unseen and closeTimeout ends it.
        expect(ms).toBeGreaterThanOrEqual(CLOSE_TIMEOUT - 100);
      } else {
        // The stream is still in sync: close-ok is seen and the socket closes at once,
        // long before this broker's closeTimeout.
        expect(ms).toBeLessThan(PATIENT_CLOSE_TIMEOUT);
      }
      expect(ms).toBeLessThan(CLOSE_TIMEOUT + LATE_MS);
    });
  }

  it('garbage during the handshake (after the header) is 501, still answered with connection.close', async () => {
    const c = await RawClient.connect(broker.port);
    await c.handshake({ until: 'start' });
    c.send(Buffer.from('\xff\xff\xff\xff\xff\xff\xff\xff', 'latin1'));
    const { close, ms } = await closeHandshake(c);
    expect(close.replyCode).toBe(501);
    expect(ms).toBeLessThan(CLOSE_TIMEOUT + LATE_MS);
  });

  it('a connection method out of order (connection.open before start-ok) is 504', async () => {
    const c = await RawClient.connect(broker.port);
    await c.handshake({ until: 'start' });
    c.sendMethod(0, { id: MethodId.ConnectionOpen, args: { virtualHost: '/' } });
    const close = await c.expectConnectionClose();
    expect(close).toMatchObject({ replyCode: 504, replyText: 'CHANNEL_ERROR - unexpected method in connection state starting', classId: 10, methodId: 40 });
  });

  it('a client that never answers the server\'s connection.close is dropped after closeTimeout', async () => {
    const c = await RawClient.open(broker.port);
    c.sendMethod(0, { id: MethodId.ChannelOpen, args: {} });
    await c.waitForMethod(MethodId.ConnectionClose, 0);
    const at = Date.now();
    await c.waitClosed();
    expect(c.closedAt - at).toBeGreaterThanOrEqual(CLOSE_TIMEOUT - 100);
    expect(c.closedAt - at).toBeLessThan(CLOSE_TIMEOUT + LATE_MS);
  });

  it('a connection.close crossing the server\'s is answered with close-ok; the client\'s close-ok for the server\'s close then ends the socket', async () => {
    const c = await RawClient.open(patient.port);
    c.sendMethod(0, { id: MethodId.ChannelOpen, args: {} });
    await c.waitForMethod(MethodId.ConnectionClose, 0);
    const at = Date.now();
    c.sendMethod(0, { id: MethodId.ConnectionClose, args: { replyCode: 200, replyText: 'crossing', classId: 0, methodId: 0 } });
    await c.waitForMethod(MethodId.ConnectionCloseOk, 0);
    // The server received no close-ok yet: the socket is the client's to close; its close-ok ends it.
    c.sendMethod(0, { id: MethodId.ConnectionCloseOk, args: {} });
    await c.waitClosed(PATIENT_CLOSE_TIMEOUT + LATE_MS);
    expect(c.closedAt - at).toBeLessThan(PATIENT_CLOSE_TIMEOUT); // the close-ok ended it, not the timeout
  });

  it('survives a batch of pseudo-random byte streams after the handshake (every socket ends closed)', async () => {
    let seed = 12345;
    const rand = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    const inputs = Array.from({ length: 25 }, (_, i) => {
      const junk = Buffer.alloc(8 + Math.floor(rand() * 64));
      for (let j = 0; j < junk.length; j++) junk[j] = Math.floor(rand() * 256);
      // Keep the declared size small so the server has the whole "frame" and must decide.
      junk[0] = [1, 2, 3, 8, 77][i % 5]!;
      junk.writeUInt16BE(1 + (i % 3), 1);
      junk.writeUInt32BE(junk.length - 8, 3);
      return junk;
    });
    // Concurrently: the lost-sync ones each wait out closeTimeout.
    const codes = await Promise.all(inputs.map(async (junk) => {
      const c = await RawClient.open(broker.port);
      await c.openChannel(1);
      c.send(junk);
      return (await closeHandshake(c)).close.replyCode;
    }));
    expect(codes).toHaveLength(25);
    expect(broker.connectionCount).toBe(1);
    for (const code of codes) expect([501, 502, 503, 504, 505]).toContain(code);
  });
});

function replyName(code: number): string {
  return ({ 501: 'FRAME_ERROR', 502: 'SYNTAX_ERROR', 503: 'COMMAND_INVALID', 504: 'CHANNEL_ERROR', 505: 'UNEXPECTED_FRAME' } as Record<number, string>)[code]!;
}
