/**
 * The memory alarm covers bodies already announced: a connection in the middle
 * of a large message is blocked at its next body frame, not at its next
 * basic.publish. Eight connections each sending a 100 MiB body to a child
 * broker with a 300 MB watermark: the broker's peak RSS (VmHWM) stays within
 * the watermark plus about one frame per connection (plus a margin for the
 * sampling step and garbage not yet collected), whatever the machine's size.
 */
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Constants, MethodId } from '../../src/protocol/index.js';
import { INPUT_SAMPLE_BYTES } from '../../src/server/resource-alarms.js';
import type { Broker } from '../../src/index.js';
import { eventually, queueStats, startBroker } from '../helpers/broker.js';
import { startChildBroker, type ChildBroker } from '../helpers/child-broker.js';
import { frameBytes, headerFrame, methodFrame, RawClient } from '../helpers/raw-client.js';

const MiB = 1024 * 1024;
const WATERMARK = 300_000_000;
const CONNECTIONS = 8;
const BODY = 100 * MiB;
const FRAME_MAX = 131072;
/**
 * What may come on top of the watermark besides one frame per connection:
 * memory is sampled after every INPUT_SAMPLE_BYTES of input, a frame split
 * across socket reads is copied once (its parts are garbage until the next
 * GC), and each connection may finish the 64 KiB socket read it is in.
 */
const MARGIN = 4 * INPUT_SAMPLE_BYTES + CONNECTIONS * 128 * 1024 + 16 * MiB;

const children: ChildBroker[] = [];
const brokers: Broker[] = [];
const clients: RawClient[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await Promise.all(brokers.splice(0).map((b) => b.stop()));
  for (const child of children.splice(0)) {
    child.proc.kill('SIGKILL');
    await child.exited;
  }
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Peak resident set size of a process, in bytes (Linux /proc). */
function peakRss(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

/**
 * Streams basic.publish + header + BODY bytes of body frames, honouring TCP
 * back-pressure, until the body is sent or `stop` resolves. Resolves with how
 * the broker answered: blocked (connection.blocked) or confirmed (basic.ack).
 */
async function publishHugeBody(c: RawClient, stop: Promise<void>): Promise<'blocked' | 'confirmed'> {
  const answered = Promise.race([
    c.waitForMethod(MethodId.ConnectionBlocked, 0, 120_000).then(() => 'blocked' as const),
    c.waitForMethod(MethodId.BasicAck, 1, 120_000).then(() => 'confirmed' as const),
  ]);
  let stopped = false;
  void Promise.race([stop, answered]).then(() => (stopped = true), () => (stopped = true));
  const payload = FRAME_MAX - 8;
  const full = frameBytes(Constants.FRAME_BODY, 1, Buffer.alloc(payload, 0x61));
  c.send(Buffer.concat([methodFrame(1, { id: MethodId.BasicPublish, args: { exchange: '', routingKey: 'nowhere' } }), headerFrame(1, BODY)]));
  void (async () => {
    for (let sent = 0; sent < BODY && !stopped && !c.closed; sent += payload) {
      const frame = BODY - sent >= payload ? full : frameBytes(Constants.FRAME_BODY, 1, Buffer.alloc(BODY - sent, 0x61));
      if (!c.socket.write(frame)) await Promise.race([once(c.socket, 'drain'), stop, answered.catch(() => {})]);
    }
  })();
  return answered;
}

describe('memory alarm and bodies already announced', () => {
  it('a connection in the middle of a body is blocked at its next body frame; the message completes once the alarm clears', async () => {
    const b = await startBroker();
    brokers.push(b);
    const c = await RawClient.open(b.port, { capabilities: { 'connection.blocked': true } });
    clients.push(c);
    await c.openChannel(1);
    await c.openChannel(2);
    c.sendMethod(2, { id: MethodId.QueueDeclare, args: { queue: 'mid-body' } });
    await c.waitForMethod(MethodId.QueueDeclareOk, 2);
    const part = Buffer.alloc(1000, 0x62);
    c.send(Buffer.concat([
      methodFrame(1, { id: MethodId.BasicPublish, args: { exchange: '', routingKey: 'mid-body' } }),
      headerFrame(1, 3 * part.length),
      frameBytes(Constants.FRAME_BODY, 1, part),
    ]));
    // A method on another channel, answered: the frames before it were handled.
    c.sendMethod(2, { id: MethodId.QueueDeclare, args: { queue: 'mid-body', passive: true } });
    await c.waitForMethod(MethodId.QueueDeclareOk, 2);

    b.setMemoryAlarm(true);
    c.sendFrame(Constants.FRAME_BODY, 1, part);
    expect(await c.waitForMethod(MethodId.ConnectionBlocked, 0)).toEqual({ reason: 'low on memory' });
    expect(b.connections().map((s) => [s.blocked, s.readingPaused])).toEqual([[true, true]]);
    c.sendFrame(Constants.FRAME_BODY, 1, part);
    expect(queueStats(b, 'mid-body').messagesReady).toBe(0);

    b.setMemoryAlarm(false);
    await c.waitForMethod(MethodId.ConnectionUnblocked, 0);
    await eventually(() => queueStats(b, 'mid-body').messagesReady === 1, 10_000, 'the completed message');
    c.sendMethod(2, { id: MethodId.BasicGet, args: { queue: 'mid-body', noAck: true } });
    await c.waitForMethod(MethodId.BasicGetOk, 2);
    await eventually(() => c.frames.filter((f) => f.type === Constants.FRAME_BODY && f.channel === 2).reduce((n, f) => n + f.payload.length, 0) === 3 * part.length, 10_000, 'the body');
    const body = Buffer.concat(c.frames.filter((f) => f.type === Constants.FRAME_BODY && f.channel === 2).map((f) => f.payload));
    expect(body.equals(Buffer.alloc(3 * part.length, 0x62))).toBe(true);
  });

  it('a connection that has published is blocked at any frame while the alarm is set (a declare too); one that never published is not', async () => {
    const b = await startBroker();
    brokers.push(b);
    const publisher = await RawClient.open(b.port, { capabilities: { 'connection.blocked': true } });
    const other = await RawClient.open(b.port, { capabilities: { 'connection.blocked': true } });
    clients.push(publisher, other);
    await publisher.openChannel(1);
    await other.openChannel(1);
    publisher.publish(1, '', 'nowhere', Buffer.from('once'));
    // Answered: the publish before it was handled.
    publisher.sendMethod(1, { id: MethodId.QueueDeclare, args: { queue: 'any-frame-a' } });
    await publisher.waitForMethod(MethodId.QueueDeclareOk, 1);

    b.setMemoryAlarm(true);
    other.sendMethod(1, { id: MethodId.QueueDeclare, args: { queue: 'any-frame-b' } });
    await other.waitForMethod(MethodId.QueueDeclareOk, 1);
    publisher.sendMethod(1, { id: MethodId.QueueDeclare, args: { queue: 'any-frame-c' } });
    expect(await publisher.waitForMethod(MethodId.ConnectionBlocked, 0)).toEqual({ reason: 'low on memory' });
    expect(other.methods.map((m) => m.id)).not.toContain(MethodId.ConnectionBlocked);

    b.setMemoryAlarm(false);
    await publisher.waitForMethod(MethodId.ConnectionUnblocked, 0);
    // The declare that blocked it was handled (answered before connection.blocked); the connection goes on.
    expect(publisher.methods.filter((m) => m.id === MethodId.QueueDeclareOk).length).toBe(2);
    publisher.sendMethod(1, { id: MethodId.QueueDeclare, args: { queue: 'any-frame-d' } });
    await publisher.waitForMethod(MethodId.QueueDeclareOk, 1);
  });

  it(`${CONNECTIONS} connections × 100 MiB bodies against a 300 MB watermark: every one is blocked mid-body and RSS stays within the watermark plus a frame per connection`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'warren-rss-'));
    dirs.push(dir);
    const child = await startChildBroker(['--memory-high-watermark', String(WATERMARK), '--data-dir', dir, '--no-fsync', '--frame-max', String(FRAME_MAX), '--log-level', 'info']);
    children.push(child);
    const pid = child.proc.pid!;
    const baseline = peakRss(pid);
    expect(baseline).toBeLessThan(WATERMARK / 2);

    for (let i = 0; i < CONNECTIONS; i++) {
      const c = await RawClient.open(child.port, { capabilities: { 'connection.blocked': true } });
      clients.push(c);
      await c.openChannel(1);
      c.sendMethod(1, { id: MethodId.ConfirmSelect, args: {} });
      await c.waitForMethod(MethodId.ConfirmSelectOk, 1);
    }
    let stop!: () => void;
    const stopped = new Promise<void>((resolve) => (stop = resolve));
    try {
      const outcomes = await Promise.all(clients.map((c) => publishHugeBody(c, stopped)));
      // 800 MiB cannot fit under a 300 MB watermark: at most two bodies can have
      // completed before the alarm; everyone else was stopped in mid-body.
      expect(outcomes.filter((o) => o === 'blocked').length).toBeGreaterThanOrEqual(CONNECTIONS - 2);
      // Its log line comes on another pipe than the blocked frames: wait for it.
      await eventually(() => child.lines.some((l) => l.msg === 'memory resource limit alarm set: publishers will be blocked until this alarm clears'), 10_000, 'the alarm log line');
      const peak = peakRss(pid);
      const bound = WATERMARK + CONNECTIONS * FRAME_MAX + MARGIN;
      expect(peak, `peak RSS ${(peak / MiB).toFixed(0)} MiB, bound ${(bound / MiB).toFixed(0)} MiB`).toBeLessThanOrEqual(bound);
      // And the broker is still serving (a consumer-side request on a fresh connection).
      const probe = await RawClient.open(child.port);
      clients.push(probe);
      await probe.openChannel(1);
      probe.sendMethod(1, { id: MethodId.QueueDeclare, args: { queue: 'still-serving' } });
      await probe.waitForMethod(MethodId.QueueDeclareOk, 1, 10_000);
    } finally {
      stop();
    }
  }, 120_000);
});
