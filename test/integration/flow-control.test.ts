/**
 * Flow control: the memory alarm (memoryHighWatermark) blocks connections
 * that publish — connection.blocked for clients with the capability, their
 * socket no longer read — while consumers keep flowing; clearing it sends
 * connection.unblocked and the held publishes arrive. And a consumer that
 * stops reading its socket stops receiving deliveries: the broker's outbound
 * buffer for it stays bounded and the messages stay queued for others.
 */
import type { Socket } from 'node:net';
import type { ConsumeMessage } from 'amqplib';
import { afterEach, describe, expect, it } from 'vitest';
import type { Broker, ConnectionInfo, QueueInfo } from '../../src/index.js';
import { MethodId } from '../../src/protocol/index.js';
import { INPUT_PAUSE_BACKLOG, OUTBOUND_HIGH_WATER } from '../../src/server/connection.js';
import { brokerBarrier, connect, connectionOf, eventually, queueStats, sleep, startBroker, type AmqpConnection } from '../helpers/broker.js';
import { WAIT_MS } from '../helpers/wait.js';
import { RawClient } from '../helpers/raw-client.js';

const brokers: Broker[] = [];
const conns: AmqpConnection[] = [];
const raws: RawClient[] = [];

async function broker(options: Parameters<typeof startBroker>[0] = {}): Promise<Broker> {
  const b = await startBroker(options);
  brokers.push(b);
  return b;
}

async function amqp(b: Broker): Promise<AmqpConnection> {
  const c = await connect(b);
  c.on('error', () => {});
  conns.push(c);
  return c;
}

afterEach(async () => {
  for (const r of raws.splice(0)) r.destroy();
  await Promise.allSettled(conns.splice(0).map((c) => c.close()));
  await Promise.all(brokers.splice(0).map((b) => b.stop()));
});

const socketOf = (c: AmqpConnection): Socket => (c.connection as unknown as { stream: Socket }).stream;
const localPortOf = (c: AmqpConnection): number => (c.connection as unknown as { stream: { localPort: number } }).stream.localPort;

async function depth(b: Broker, queue: string): Promise<number> {
  return b.queues('/').find((q) => q.name === queue)!.messagesReady;
}

describe('memory alarm', () => {
  it('blocks a publishing connection (connection.blocked, publishes held) while consumers keep flowing; unblocks when cleared', async () => {
    const b = await broker();
    expect(b.memoryAlarm).toBe(false);
    const publisher = await amqp(b);
    const events: string[] = [];
    publisher.on('blocked', (reason: string) => events.push(`blocked: ${reason}`));
    publisher.on('unblocked', () => events.push('unblocked'));
    const pub = await publisher.createChannel();
    await pub.assertQueue('fc-held');
    await pub.assertQueue('fc-ready');
    for (let i = 0; i < 5; i++) pub.sendToQueue('fc-ready', Buffer.from(`ready-${i}`));
    await eventually(async () => (await depth(b, 'fc-ready')) === 5, 10_000, 'ready messages');

    // A consumer-only connection, opened before the alarm.
    const consumer = await amqp(b);
    const cch = await consumer.createChannel();

    b.setMemoryAlarm(true);
    expect(b.memoryAlarm).toBe(true);
    // Nobody is blocked until they publish: a connection.blocked sent when the
    // alarm was set would have arrived during another client's round trips.
    await brokerBarrier(b);
    expect(events).toEqual([]);
    expect(connectionOf(b, localPortOf(publisher)).blocked).toBe(false);

    pub.sendToQueue('fc-held', Buffer.from('first'));
    await eventually(() => events.length > 0, 10_000, 'connection.blocked');
    expect(events).toEqual(['blocked: low on memory']);
    const server = (): ConnectionInfo => connectionOf(b, localPortOf(publisher));
    expect(server().blocked).toBe(true);
    expect(server().readingPaused).toBe(true);
    // The publish that triggered the block may have been routed; nothing after it is read.
    const before = await depth(b, 'fc-held');
    expect(before).toBeLessThanOrEqual(1);
    for (let i = 0; i < 20; i++) pub.sendToQueue('fc-held', Buffer.from(`held-${i}`));
    await eventually(() => socketOf(publisher).writableLength === 0, WAIT_MS, 'the held publishes written to the socket');
    await brokerBarrier(b);
    expect(await depth(b, 'fc-held')).toBe(before);

    // The consumer connection is not blocked: it consumes and acks, and can declare.
    const got: ConsumeMessage[] = [];
    await cch.consume('fc-ready', (m) => {
      if (!m) return;
      got.push(m);
      cch.ack(m);
    });
    await eventually(() => got.length === 5, 10_000, 'deliveries while the alarm is set');
    await eventually(async () => b.queues('/').find((q) => q.name === 'fc-ready')!.messagesUnacknowledged === 0, 10_000, 'acks processed');
    await cch.assertQueue('fc-consumer-side');
    expect(connectionOf(b, localPortOf(consumer)).blocked).toBe(false);

    b.setMemoryAlarm(false);
    await eventually(() => events.length === 2, 10_000, 'connection.unblocked');
    expect(events).toEqual(['blocked: low on memory', 'unblocked']);
    await eventually(async () => (await depth(b, 'fc-held')) === 21, 10_000, 'held publishes arrive');
    expect(server().blocked).toBe(false);
    expect(server().readingPaused).toBe(false);

    // Back to the sampler: the test process is far below the helper's watermark (whatever the machine's RAM).
    b.setMemoryAlarm(null);
    expect(b.memoryAlarm).toBe(false);
  });

  it('a watermark below the process RSS sets the alarm by itself; a client without the capability is blocked silently', async () => {
    const b = await broker({ memoryHighWatermark: 16 * 1024 * 1024, memoryCheckInterval: 20 });
    // Compared at start (and every memoryCheckInterval): the test process uses more than 16 MiB.
    expect(b.memoryAlarm).toBe(true);
    const c = await RawClient.open(b.port, { capabilities: {} });
    raws.push(c);
    await c.openChannel(1);
    c.sendMethod(1, { id: MethodId.QueueDeclare, args: { queue: 'fc-silent' } });
    await c.waitForMethod(MethodId.QueueDeclareOk, 1);
    c.publish(1, '', 'fc-silent', Buffer.from('one'));
    await eventually(() => b.connections().some((s) => s.blocked), 10_000, 'blocked');
    c.publish(1, '', 'fc-silent', Buffer.from('two'));
    await eventually(() => c.socket.writableLength === 0, WAIT_MS, 'the second publish written to the socket');
    await brokerBarrier(b);
    expect(await depth(b, 'fc-silent')).toBe(1);
    // No connection.blocked for a client that did not ask for it.
    expect(c.methods.map((m) => m.id)).not.toContain(MethodId.ConnectionBlocked);
    b.setMemoryAlarm(false);
    await eventually(async () => (await depth(b, 'fc-silent')) === 2, 10_000, 'second publish after the alarm cleared');
    expect(c.methods.map((m) => m.id)).not.toContain(MethodId.ConnectionUnblocked);
  });

  it('a blocked connection with heartbeats is not dropped for silence (the heartbeat monitor pauses)', async () => {
    const b = await broker();
    const c = await RawClient.open(b.port, { heartbeat: 1, capabilities: { 'connection.blocked': true } });
    raws.push(c);
    await c.openChannel(1);
    b.setMemoryAlarm(true);
    c.publish(1, '', 'nowhere', Buffer.from('x'));
    await c.waitForMethod(MethodId.ConnectionBlocked, 0);
    // The client goes quiet (it may be waiting for unblocked): > 2 heartbeat
    // intervals. The broker's heartbeat timers, in this process, were due earlier.
    await sleep(2800);
    await brokerBarrier(b);
    expect(c.closed).toBe(false);
    expect(connectionOf(b, c.socket.localPort!).blocked).toBe(true);
    b.setMemoryAlarm(false);
    await c.waitForMethod(MethodId.ConnectionUnblocked, 0);
    await c.openChannel(2);
    await c.close();
  });

  it('the server advertises the connection.blocked capability', async () => {
    const b = await broker();
    const c = await RawClient.connect(b.port);
    raws.push(c);
    const { start } = await c.handshake({ until: 'start' });
    expect((start.serverProperties['capabilities'] as Record<string, unknown>)['connection.blocked']).toBe(true);
  });

  it('rejects a watermark that is not a positive number', async () => {
    await expect(startBroker({ memoryHighWatermark: 0 })).rejects.toThrow(/memoryHighWatermark/);
    await expect(startBroker({ memoryHighWatermark: -1 })).rejects.toThrow(/memoryHighWatermark/);
  });
});

describe('a client that does not read', () => {
  it('a consumer that stops reading stops receiving: the outbound buffer stays bounded and the messages stay queued for another consumer', async () => {
    const b = await broker();
    const N = 3000;
    const SIZE = 8 * 1024;
    const publisher = await amqp(b);
    const pub = await publisher.createConfirmChannel();
    await pub.assertQueue('slow-q');
    for (let i = 0; i < N; i++) pub.sendToQueue('slow-q', Buffer.alloc(SIZE, 0x61), { messageId: String(i) });
    await pub.waitForConfirms();
    const queue = (): QueueInfo => queueStats(b, 'slow-q');
    expect(queue().messagesReady).toBe(N);

    // A raw consumer: no basic.qos (unlimited prefetch), and it never reads its socket.
    const slow = await RawClient.open(b.port);
    raws.push(slow);
    await slow.openChannel(1);
    slow.socket.pause();
    slow.sendMethod(1, { id: MethodId.BasicConsume, args: { queue: 'slow-q', consumerTag: 'slow' } });
    const slowPort = slow.socket.localPort!;
    const server = (): ConnectionInfo => connectionOf(b, slowPort);
    let maxOutbound = 0;
    // Sampled until the end of the test (the connection is gone by then: nothing left to add).
    const sampler = setInterval(() => { maxOutbound = Math.max(maxOutbound, b.connections().find((s) => s.peer.endsWith(`:${slowPort}`))?.outboundBytes ?? 0); }, 2);
    try {
      // Deliveries stall once the kernel buffers and our 512 KiB are full: the
      // outbound buffer is at the high-water mark and no delivery is made across
      // a round trip of another client.
      await eventually(async () => {
        if (server().outboundBytes < OUTBOUND_HIGH_WATER) return false;
        const before = queue().messagesUnacknowledged;
        await brokerBarrier(b);
        return queue().messagesUnacknowledged === before && server().outboundBytes >= OUTBOUND_HIGH_WATER;
      }, WAIT_MS, 'deliveries to stall');
      const stalledAt = queue().messagesUnacknowledged;
      expect(stalledAt).toBeGreaterThan(0);
      // Bounded: the high-water mark plus at most one delivery's frames.
      expect(maxOutbound).toBeLessThanOrEqual(OUTBOUND_HIGH_WATER + SIZE + 1024);
      expect(server().outboundBytes).toBeLessThanOrEqual(OUTBOUND_HIGH_WATER + SIZE + 1024);
      // Most of the backlog was never handed to the stalled consumer.
      expect(queue().messagesReady).toBeGreaterThan(N / 3);
      expect(queue().messagesReady + stalledAt).toBe(N);

      // Another consumer gets everything still queued, past the stalled one.
      const other = await amqp(b);
      const och = await other.createChannel();
      const seen = new Set<string>();
      await och.consume('slow-q', (m) => {
        if (!m) return;
        seen.add(m.properties.messageId as string);
        och.ack(m);
      });
      const ready = N - stalledAt;
      await eventually(() => seen.size === ready, 10_000, `${ready} deliveries to the reading consumer (have ${seen.size})`);
      // The stalled consumer disappears: its unacked deliveries are requeued and go to the other one.
      slow.destroy();
      await eventually(() => seen.size === N, 10_000, `all ${N} messages (have ${seen.size})`);
      await eventually(() => queue().messagesReady === 0 && queue().messagesUnacknowledged === 0, 10_000, 'queue drained');
    } finally {
      clearInterval(sampler);
    }
  });

  it('a client that sends requests without reading the replies stops being read once INPUT_PAUSE_BACKLOG bytes wait, and resumes when it reads', async () => {
    const b = await broker();
    const SIZE = 100 * 1024;
    const N = 150;
    const publisher = await amqp(b);
    const pub = await publisher.createConfirmChannel();
    await pub.assertQueue('get-q');
    for (let i = 0; i < N; i++) pub.sendToQueue('get-q', Buffer.alloc(SIZE, 0x62));
    await pub.waitForConfirms();

    const c = await RawClient.open(b.port);
    raws.push(c);
    await c.openChannel(1);
    c.socket.pause();
    const clientPort = c.socket.localPort!;
    const server = (): ConnectionInfo => connectionOf(b, clientPort);
    const queue = (): QueueInfo => queueStats(b, 'get-q');
    let maxOutbound = 0;
    // One basic.get at a time (the next sent once the broker has answered the
    // last), never reading the 100 KiB answers, until the broker stops reading.
    let sent = 0;
    while (sent < N && !server().readingPaused) {
      const left = queue().messagesReady;
      c.sendMethod(1, { id: MethodId.BasicGet, args: { queue: 'get-q', noAck: true } });
      sent++;
      await eventually(() => queue().messagesReady < left || server().readingPaused, WAIT_MS, `basic.get #${sent} answered, or input paused`);
      maxOutbound = Math.max(maxOutbound, server().outboundBytes);
    }
    expect(server().readingPaused).toBe(true);
    // The rest wait unread in the socket.
    for (; sent < N; sent++) c.sendMethod(1, { id: MethodId.BasicGet, args: { queue: 'get-q', noAck: true } });
    maxOutbound = Math.max(maxOutbound, server().outboundBytes);
    // Requests stopped being processed: messages remain, and the buffer is bounded.
    expect(queue().messagesReady).toBeGreaterThan(0);
    expect(maxOutbound).toBeLessThanOrEqual(INPUT_PAUSE_BACKLOG + 2 * (SIZE + 1024));
    // Reading again drains everything: every get is answered.
    c.socket.resume();
    await eventually(() => c.methods.filter((m) => m.id === MethodId.BasicGetOk).length === N, 3 * WAIT_MS, 'all get-ok');
    expect(server().readingPaused).toBe(false);
    expect(queue().messagesReady).toBe(0);
    await c.close();
  }, 6 * WAIT_MS);
});
