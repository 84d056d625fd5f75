/**
 * Slow and silent peers are detected and cleaned up within their timeouts,
 * with a log line saying why (pino output captured in memory):
 * - a partial frame, then nothing, before the connection is open → handshake timeout;
 * - the same after open, with heartbeats → heartbeat timeout;
 * - a client that never reads (but heartbeats) → kept, deliveries paused, buffers bounded;
 * - a client that vanishes without a FIN (stops sending and reading) mid-delivery →
 *   heartbeat timeout, its unacked messages requeued.
 * The cases run concurrently against one broker.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { Broker, type ConnectionInfo, type QueueInfo } from '../../src/index.js';
import { MethodId } from '../../src/protocol/index.js';
import { OUTBOUND_HIGH_WATER } from '../../src/server/connection.js';
import { eventually, queueStats, sleep } from '../helpers/broker.js';
import { RawClient, methodFrame } from '../helpers/raw-client.js';

type Line = Record<string, unknown>;
const lines: Line[] = [];
const sink = new Writable({
  write(chunk: Buffer, _enc, cb) {
    for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as Line);
    cb();
  },
});

const HANDSHAKE_TIMEOUT = 500;
/** How late a due timeout may fire on a loaded machine before the test calls it a bug. */
const LATE_MS = 5000;
const HEARTBEAT_FRAME = Buffer.from([8, 0, 0, 0, 0, 0, 0, 0xce]);

/** The broker's name for a client (its local address): taken while the socket is open. */
const peers = new WeakMap<RawClient, string>();
const peerOf = (c: RawClient): string => {
  let p = peers.get(c);
  if (!p) peers.set(c, (p = `127.0.0.1:${c.socket.localPort}`));
  return p;
};
const logFor = (c: RawClient, msg: string | RegExp): Line | undefined =>
  lines.find((l) => l.peer === peerOf(c) && (typeof msg === 'string' ? l.msg === msg : msg.test(String(l.msg))));

describe.concurrent('slow and silent peers', () => {
  let broker: Broker;
  beforeAll(async () => {
    broker = await Broker.start({ port: 0, host: '127.0.0.1', handshakeTimeout: HANDSHAKE_TIMEOUT, logger: pino({ level: 'debug' }, sink) });
  });
  afterAll(async () => { await broker.stop(); });

  it('a partial frame and a stall before the connection is open: closed by the handshake timeout, logged', async ({ expect }) => {
    // Taken before connecting: the broker's handshake timer starts at accept, which may be
    // handled before this client's own 'connect' event.
    const t0 = Date.now();
    const c = await RawClient.connect(broker.port);
    peerOf(c);
    c.sendProtocolHeader();
    await c.waitForMethod(MethodId.ConnectionStart, 0);
    const startOk = methodFrame(0, { id: MethodId.ConnectionStartOk, args: { clientProperties: {}, mechanism: 'PLAIN', response: Buffer.from('\0guest\0guest'), locale: 'en_US' } });
    c.send(startOk.subarray(0, 11)); // header and a few payload bytes, then nothing
    await c.waitClosed();
    const after = c.closedAt - t0;
    expect(after).toBeGreaterThanOrEqual(HANDSHAKE_TIMEOUT - 5); // (timers run on a coarse monotonic clock)
    expect(after).toBeLessThan(HANDSHAKE_TIMEOUT + LATE_MS);
    await eventually(() => logFor(c, 'connection closed') !== undefined, 10_000, 'close logged');
    expect(logFor(c, 'handshake timeout; closing socket')).toMatchObject({ level: 40, state: 'awaiting-start-ok' });
    expect(logFor(c, 'connection closed')).toMatchObject({ why: 'handshake timeout' });
  });

  it('a partial frame and a stall after open, with heartbeats: closed by the heartbeat timeout (2 intervals), logged', async ({ expect }) => {
    const c = await RawClient.open(broker.port, { heartbeat: 1 });
    peerOf(c);
    await c.openChannel(1);
    const t0 = Date.now();
    c.send(methodFrame(1, { id: MethodId.QueueDeclare, args: { queue: 'stalled' } }).subarray(0, 5));
    await c.waitClosed();
    const after = c.closedAt - t0;
    expect(after).toBeGreaterThanOrEqual(1500);
    expect(after).toBeLessThan(2000 + LATE_MS);
    await eventually(() => logFor(c, 'connection closed') !== undefined, 10_000, 'close logged');
    expect(logFor(c, /^missed heartbeats from client, timeout: 1s$/)).toMatchObject({ level: 40, heartbeat: 1 });
    expect(logFor(c, 'connection closed')).toMatchObject({ why: 'heartbeat timeout', user: 'guest' });
  });

  it('a consumer that never reads (but heartbeats) is kept: deliveries pause with the outbound buffer bounded, logged', async ({ expect }) => {
    const queue = 'never-reads';
    const setup = await RawClient.open(broker.port);
    await setup.openChannel(1);
    setup.sendMethod(1, { id: MethodId.QueueDeclare, args: { queue } });
    await setup.waitForMethod(MethodId.QueueDeclareOk, 1);
    for (let i = 0; i < 2000; i++) setup.publish(1, '', queue, Buffer.alloc(10_000, 1));
    const q = (): QueueInfo => queueStats(broker, queue);
    await eventually(() => q().messagesReady === 2000, 10_000, 'backlog');
    await setup.close();

    const c = await RawClient.open(broker.port, { heartbeat: 1 });
    peerOf(c);
    await c.openChannel(1);
    c.socket.pause();
    const beats = setInterval(() => c.send(HEARTBEAT_FRAME), 300);
    try {
      c.sendMethod(1, { id: MethodId.BasicConsume, args: { queue, consumerTag: 'slow' } });
      const server = (): ConnectionInfo | undefined => broker.connections().find((s) => s.peer === peerOf(c));
      const id = server()!.id;
      let maxOutbound = 0;
      const t0 = Date.now();
      while (Date.now() - t0 < 2600) {
        maxOutbound = Math.max(maxOutbound, server()?.outboundBytes ?? Infinity);
        await sleep(10);
      }
      // Alive (it heartbeats) for over 2 heartbeat intervals, though it reads nothing.
      expect(c.closed).toBe(false);
      expect(server()?.id).toBe(id);
      expect(maxOutbound).toBeLessThanOrEqual(OUTBOUND_HIGH_WATER + 10_000 + 1024);
      expect(q().messagesReady).toBeGreaterThan(500);
      expect(logFor(c, 'client socket backed up: deliveries paused until it drains')).toMatchObject({ level: 20 });
    } finally {
      clearInterval(beats);
      c.destroy();
    }
    await eventually(() => q().messagesUnacknowledged === 0 && q().messagesReady === 2000, 10_000, 'requeued after the drop');
  });

  it('a client that vanishes without a FIN mid-delivery (stops sending and reading): heartbeat timeout, unacked requeued, logged', async ({ expect }) => {
    const queue = 'vanishing';
    const c = await RawClient.open(broker.port, { heartbeat: 1 });
    peerOf(c);
    await c.openChannel(1);
    c.sendMethod(1, { id: MethodId.QueueDeclare, args: { queue } });
    await c.waitForMethod(MethodId.QueueDeclareOk, 1);
    for (let i = 0; i < 500; i++) c.publish(1, '', queue, Buffer.alloc(4000, 2));
    c.sendMethod(1, { id: MethodId.BasicQos, args: { prefetchCount: 50 } });
    c.sendMethod(1, { id: MethodId.BasicConsume, args: { queue, consumerTag: 'gone' } });
    await c.waitForMethod(MethodId.BasicDeliver, 1);
    // From now on: no byte either way (as a peer whose host went away), but no FIN.
    c.socket.pause();
    const t0 = Date.now();
    const q = (): QueueInfo => queueStats(broker, queue);
    expect(q().messagesUnacknowledged).toBe(50);
    await eventually(() => logFor(c, 'connection closed') !== undefined, 10_000, 'dropped');
    const after = Date.now() - t0;
    expect(after).toBeGreaterThanOrEqual(1500);
    expect(after).toBeLessThan(2000 + LATE_MS);
    expect(logFor(c, /^missed heartbeats from client/)).toBeDefined();
    expect(logFor(c, 'connection closed')).toMatchObject({ why: 'heartbeat timeout' });
    expect(q().messagesUnacknowledged).toBe(0);
    expect(q().messagesReady).toBe(500);
    c.destroy();
  });
});
