import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { connect, eventually, startBroker } from '../helpers/broker.js';

const dir = mkdtempSync(join(tmpdir(), 'warren-reclaim-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function dirBytes(path: string): number {
  let total = 0;
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    const p = join(path, entry.name);
    total += entry.isDirectory() ? dirBytes(p) : statSync(p).size;
  }
  return total;
}

describe('disk reclaim', () => {
  it('publishing and acking 200,000 persistent messages leaves the data dir near its initial size', async () => {
    const SEGMENT = 256 * 1024;
    const broker = await startBroker({ dataDir: dir, segmentSize: SEGMENT, fsync: false });
    const conn = await connect(broker);
    const ch = await conn.createChannel();
    await ch.assertQueue('reclaim', { durable: true });
    const initial = dirBytes(dir);

    const TOTAL = 200_000;
    let acked = 0;
    await ch.prefetch(500);
    await ch.consume('reclaim', (m) => {
      if (!m) return;
      ch.ack(m);
      acked++;
    });
    const pub = await conn.createConfirmChannel();
    const body = Buffer.alloc(100, 7);
    let peak = 0;
    for (let i = 0; i < TOTAL; i++) {
      pub.sendToQueue('reclaim', body, { persistent: true });
      if (i % 5000 === 4999) {
        await pub.waitForConfirms();
        peak = Math.max(peak, dirBytes(dir));
      }
    }
    await pub.waitForConfirms();
    await eventually(() => acked === TOTAL, 120_000, 'all messages acked');
    await conn.close();
    await broker.stop(); // flushes the ack records

    const final = dirBytes(dir);
    // 200k × ~150 bytes of records went through (~30 MB); what stays is at most the
    // segment being written plus the definitions journal.
    expect(peak).toBeGreaterThan(initial);
    expect(final).toBeLessThan(initial + 2 * SEGMENT);
    expect(readdirSync(join(dir, 'messages')).length).toBeLessThanOrEqual(2);
  }, 180_000); // a fixed workload: a slow or loaded machine needs longer, and a timeout only reports a hang
});
