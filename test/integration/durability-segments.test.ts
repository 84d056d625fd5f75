/**
 * Which message-log segments may be deleted. A segment whose own messages
 * are all settled can still hold the acks of messages in an older segment
 * that is still there: deleting it would make a restart replay those old
 * publishes without their acks, and acked messages would come back.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Channel, ConfirmChannel, GetMessage } from 'amqplib';
import { afterAll, describe, expect, it } from 'vitest';
import type { BrokerOptions } from '../../src/index.js';
import { connect, startBroker } from '../helpers/broker.js';
import { drain } from '../helpers/model.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const SEGMENT = 64 * 1024;

/** A fresh data directory (removed after the file) and broker options with small segments on it. */
function segmentedDataDir(): { dir: string; options: BrokerOptions } {
  const dir = mkdtempSync(join(tmpdir(), 'warren-segments-'));
  dirs.push(dir);
  return { dir, options: { dataDir: dir, segmentSize: SEGMENT, fsync: false } };
}

/** The message ids of every ready message in `queue`, taken (no-ack) in order. */
async function drainIds(ch: Channel, queue: string): Promise<string[]> {
  return (await drain(ch, queue)).map((m) => String(m.properties.messageId));
}

/** Starts a broker on `options` again and runs `check` on a channel of it, then stops it. */
async function afterRestart(options: BrokerOptions, check: (ch: Channel) => Promise<void>): Promise<void> {
  const broker = await startBroker(options);
  const conn = await connect(broker);
  await check(await conn.createChannel());
  await conn.close();
  await broker.stop();
}

/** One round of traffic: a confirmed 60 KB message (a segment of its own) taken and acked at once. */
async function settledTraffic(pub: ConfirmChannel, ch: Channel): Promise<void> {
  pub.sendToQueue('traffic', Buffer.alloc(60_000, 2), { persistent: true });
  await pub.waitForConfirms();
  const t = await ch.get('traffic');
  ch.ack(t as GetMessage);
}

describe('message log segments', () => {
  it('keeps a settled segment while it holds the acks of messages in an older, still live segment', async () => {
    const { dir, options } = segmentedDataDir();
    const seg = (n: number): string => join(dir, 'messages', `${String(n).padStart(8, '0')}.wlog`);
    const broker = await startBroker(options);
    const conn = await connect(broker);
    const pub = await conn.createConfirmChannel();
    await pub.assertQueue('q', { durable: true });
    const publish = async (id: string, size: number): Promise<void> => {
      pub.sendToQueue('q', Buffer.alloc(size, 1), { persistent: true, messageId: id });
      await pub.waitForConfirms();
    };

    // Segment 1: 200 small messages (~54 KB). A 20 KB message does not fit: segment 2.
    for (let i = 0; i < 200; i++) pub.sendToQueue('q', Buffer.alloc(200, 1), { persistent: true, messageId: `m${i}` });
    await pub.waitForConfirms();
    await publish('n', 20_000);
    expect(existsSync(seg(2))).toBe(true);

    // Take all 200, ack the first half (the acks go to segment 2), hold the other half.
    const holder = await conn.createChannel();
    const held: GetMessage[] = [];
    for (let i = 0; i < 200; i++) {
      const m = await holder.get('q');
      expect(m && m.properties.messageId).toBe(`m${i}`);
      if (i < 100) holder.ack(m as GetMessage);
      else held.push(m as GetMessage);
    }
    // Settle segment 2's own message, then roll over to segment 3 with a 40 KB message.
    const worker = await conn.createChannel();
    const n = await worker.get('q');
    expect(n && n.properties.messageId).toBe('n');
    worker.ack(n as GetMessage);
    await publish('p', 40_000);
    expect(existsSync(seg(3))).toBe(true);
    // Segment 2 has no live message, but segment 1 (half live, not worth compacting) needs its acks.
    expect(existsSync(seg(1))).toBe(true);
    expect(existsSync(seg(2))).toBe(true);

    await holder.close(); // the held half goes back to the queue
    await conn.close();
    await broker.stop();

    await afterRestart(options, async (ch) => {
      expect(await drainIds(ch, 'q')).toEqual([...held.map((m) => String(m.properties.messageId)), 'p']);
    });
  });

  it('compacts a slowly drained backlog rather than keep a settled segment per ack, and restarts with exactly the rest', async () => {
    const { dir, options } = segmentedDataDir();
    const broker = await startBroker(options);
    const conn = await connect(broker);
    const pub = await conn.createConfirmChannel();
    await pub.assertQueue('backlog', { durable: true });
    await pub.assertQueue('traffic', { durable: true });
    for (let i = 0; i < 200; i++) pub.sendToQueue('backlog', Buffer.alloc(200, 1), { persistent: true, messageId: `b${i}` });
    await pub.waitForConfirms();

    // Each round: a 60 KB message fills a segment of its own and is acked at once, and one
    // backlog message is acked — its ack lands in that segment, naming the backlog's.
    const ch = await conn.createChannel();
    const rounds = 60;
    let maxFiles = 0;
    for (let i = 0; i < rounds; i++) {
      await settledTraffic(pub, ch);
      const b = await ch.get('backlog');
      expect(b && b.properties.messageId).toBe(`b${i}`);
      ch.ack(b as GetMessage);
      maxFiles = Math.max(maxFiles, readdirSync(join(dir, 'messages')).length);
    }
    // Without compaction every round's segment would stay (60 files); the backlog is copied
    // forward instead once the segments it keeps outweigh it three to one.
    expect(maxFiles).toBeLessThan(12);
    await ch.close(); // its acks are handled before its close-ok (amqplib interleaves channels)
    await conn.close();
    await broker.stop();

    await afterRestart(options, async (ch2) => {
      expect(await drainIds(ch2, 'backlog')).toEqual(Array.from({ length: 200 - rounds }, (_, k) => `b${k + rounds}`));
      expect(await ch2.get('traffic', { noAck: true })).toBe(false);
    });
  });

  it('deletes settled traffic while an older backlog stays, without rewriting the backlog', async () => {
    const { dir, options } = segmentedDataDir();
    const broker = await startBroker(options);
    const conn = await connect(broker);
    const pub = await conn.createConfirmChannel();
    await pub.assertQueue('parked', { durable: true });
    await pub.assertQueue('traffic', { durable: true });
    // A backlog nobody consumes: segments 1 to 4, every record live.
    for (let i = 0; i < 200; i++) pub.sendToQueue('parked', Buffer.alloc(1000, 1), { persistent: true, messageId: `p${i}` });
    await pub.waitForConfirms();
    const parkedFiles = readdirSync(join(dir, 'messages')).sort();
    expect(parkedFiles.length).toBeGreaterThanOrEqual(4);

    // Traffic on another queue: a segment per round, acked at once.
    const ch = await conn.createChannel();
    let maxFiles = 0;
    for (let i = 0; i < 40; i++) {
      await settledTraffic(pub, ch);
      maxFiles = Math.max(maxFiles, readdirSync(join(dir, 'messages')).length);
    }
    // The settled traffic segments went; the backlog's files are the very ones written first.
    expect(maxFiles).toBeLessThanOrEqual(parkedFiles.length + 3);
    const files = readdirSync(join(dir, 'messages')).sort();
    expect(files.slice(0, parkedFiles.length - 1)).toEqual(parkedFiles.slice(0, -1));
    await ch.close();
    await conn.close();
    await broker.stop();

    await afterRestart(options, async (ch2) => {
      expect(await drainIds(ch2, 'parked')).toEqual(Array.from({ length: 200 }, (_, k) => `p${k}`));
      expect(await ch2.get('traffic', { noAck: true })).toBe(false);
    });
  });
});
