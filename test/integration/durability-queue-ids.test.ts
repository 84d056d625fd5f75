import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { connect, startBroker } from '../helpers/broker.js';

const dirs: string[] = [];
function dataDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'warren-queue-ids-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function messageCount(broker: Broker, queue: string): Promise<number> {
  const conn = await connect(broker);
  try {
    const ch = await conn.createChannel();
    return (await ch.checkQueue(queue)).messageCount;
  } finally {
    await conn.close();
  }
}

describe('queue ids across restarts', () => {
  // A transient queue's id is never journaled, but its paged records name it in the log
  // (next to a durable queue's id, so they stay while that queue holds them): a queue
  // declared after the restart must not take that id and inherit the records.
  it('never gives a new queue the id of an old one whose records are still in the log', async () => {
    const dir = dataDir();
    let broker = await startBroker({ dataDir: dir, queueMemoryWindow: 5 });
    let conn = await connect(broker);
    const ch = await conn.createConfirmChannel();
    await ch.assertExchange('fan', 'fanout', { durable: true });
    await ch.assertQueue('D', { durable: true });
    await ch.assertQueue('T', { durable: false });
    await ch.bindQueue('D', 'fan', '');
    await ch.bindQueue('T', 'fan', '');
    for (let i = 0; i < 50; i++) ch.publish('fan', '', Buffer.from(`m${i}`), { persistent: true });
    await ch.waitForConfirms();
    expect(broker.vhosts.get('/')!.queues.get('T')!.usage().messagesPagedOut).toBeGreaterThan(0);
    await conn.close();
    await broker.stop();

    broker = await startBroker({ dataDir: dir, queueMemoryWindow: 5 });
    conn = await connect(broker);
    await (await conn.createChannel()).assertQueue('E', { durable: true });
    await conn.close();
    expect(await messageCount(broker, 'E')).toBe(0);
    await broker.stop();

    broker = await startBroker({ dataDir: dir, queueMemoryWindow: 5 });
    expect(await messageCount(broker, 'E')).toBe(0);
    expect(await messageCount(broker, 'D')).toBe(50);
    await broker.stop();
  });
});
