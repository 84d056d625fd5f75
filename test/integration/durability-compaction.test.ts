import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConsumeMessage } from 'amqplib';
import { afterAll, describe, expect, it } from 'vitest';
import { connect, eventually, startBroker } from '../helpers/broker.js';

const dir = mkdtempSync(join(tmpdir(), 'warren-compact-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('message log compaction', () => {
  it('copies a long-unacked message forward so its mostly-dead segment is deleted, and keeps it across a restart', async () => {
    let broker = await startBroker({ dataDir: dir, segmentSize: 64 * 1024, fsync: false });
    const holder = await connect(broker);
    const hch = await holder.createChannel();
    await hch.assertQueue('c', { durable: true });
    await hch.prefetch(1);
    const pub = await holder.createConfirmChannel();
    pub.sendToQueue('c', Buffer.from('stuck'), { persistent: true, messageId: 'stuck' });
    await pub.waitForConfirms();
    const held = await new Promise<ConsumeMessage>((resolve) => void hch.consume('c', (m) => m && resolve(m)));
    expect(held.content.toString()).toBe('stuck');
    const segments = join(dir, 'messages');
    expect(existsSync(join(segments, '00000001.wlog'))).toBe(true);

    // Stream enough acked traffic through the queue to roll over many segments.
    const worker = await connect(broker);
    const wch = await worker.createChannel();
    let acked = 0;
    await wch.consume('c', (m) => {
      if (!m) return;
      wch.ack(m);
      acked++;
    });
    const body = Buffer.alloc(200, 1);
    for (let i = 0; i < 3000; i++) pub.sendToQueue('c', body, { persistent: true });
    await pub.waitForConfirms();
    await eventually(() => acked === 3000, 10_000, 'worker acks');
    // The held message's segment is gone once its copy is synced; few files remain.
    await eventually(() => !existsSync(join(segments, '00000001.wlog')), 10_000, 'first segment deleted');
    // Dead segments go once the flush in progress at their last ack completes.
    await eventually(() => readdirSync(segments).length <= 3, 10_000, 'dead segments deleted');

    await worker.close();
    await holder.close(); // the held message goes back to the queue
    await broker.stop();

    broker = await startBroker({ dataDir: dir, segmentSize: 64 * 1024, fsync: false });
    const c = await connect(broker);
    const ch = await c.createChannel();
    const m = await ch.get('c', { noAck: true });
    expect(m && m.content.toString()).toBe('stuck');
    expect(m && m.fields.redelivered).toBe(true);
    expect(await ch.get('c', { noAck: true })).toBe(false);
    await c.close();
    await broker.stop();
  });
});
