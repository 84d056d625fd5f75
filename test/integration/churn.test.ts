/**
 * Churn without leaks: 10,000 connect / channel.open / queue.declare / close
 * cycles, and 1,000 connections dropped without a close (socket destroyed),
 * must leave the broker where it started: no connections, sessions, queues
 * or consumers left behind, the process's active handles back at baseline,
 * and the heap (measured after forced GCs) back within a small bound.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { MethodId } from '../../src/protocol/index.js';
import { eventually, startBroker } from '../helpers/broker.js';
import { RawClient } from '../helpers/raw-client.js';

/** global.gc, exposing it at runtime when the process was not started with --expose-gc. */
function findGc(): (() => void) | null {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) return g;
  try {
    v8.setFlagsFromString('--expose-gc');
    return vm.runInNewContext('gc') as () => void;
  } catch {
    return null;
  }
}

const gc = findGc();

async function heapUsed(): Promise<number> {
  // Several rounds, letting pending socket close callbacks and finalizers run in between.
  for (let i = 0; i < 4; i++) {
    await new Promise((r) => setTimeout(r, 20));
    gc?.();
  }
  return process.memoryUsage().heapUsed;
}

const activeHandles = (): number => (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles().length;

/** What the broker holds per connection: all must return to baseline. */
function brokerTables(broker: Broker): Record<string, number> {
  const queues = broker.queues('/');
  let consumers = 0;
  let unacked = 0;
  for (const q of queues) {
    consumers += q.consumers;
    unacked += q.messagesUnacknowledged;
  }
  return { connections: broker.connections().length, sessions: broker.vhosts.get('/')!.snapshot().channels, queues: queues.length, consumers, unacked };
}

/** Runs `total` tasks with `parallel` workers. */
async function pool(total: number, parallel: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (next < total) await task(next++);
  }));
}

/** One full cycle: connect, handshake, channel.open, declare an exclusive queue and consume from it, close. */
async function cycle(broker: Broker, i: number): Promise<void> {
  const c = await RawClient.open(broker.port);
  await c.openChannel(1);
  c.sendMethod(1, { id: MethodId.QueueDeclare, args: { queue: `churn-${i}`, exclusive: true } });
  await c.waitForMethod(MethodId.QueueDeclareOk, 1);
  c.sendMethod(1, { id: MethodId.BasicConsume, args: { queue: `churn-${i}`, consumerTag: 'c' } });
  await c.waitForMethod(MethodId.BasicConsumeOk, 1);
  await c.close();
}

describe('churn', () => {
  let broker: Broker;
  beforeAll(async () => { broker = await startBroker({ heartbeat: 0 }); });
  afterAll(async () => { await broker.stop(); });

  it('10,000 connect/open/declare/consume/close cycles leave no connections, sessions, queues or handles behind, and the heap within 4 MiB', async () => {
    // Warm up (JIT, buffer pools), then take the baseline.
    await pool(500, 20, (i) => cycle(broker, -1 - i));
    await eventually(() => broker.connectionCount === 0, 10_000, 'warm-up connections closed');
    const tables0 = brokerTables(broker);
    const handles0 = activeHandles();
    const heap0 = await heapUsed();

    const t0 = Date.now();
    await pool(10_000, 40, (i) => cycle(broker, i));
    const took = Date.now() - t0;

    await eventually(() => broker.connectionCount === 0, 10_000, 'every connection closed');
    await eventually(() => activeHandles() <= handles0, 10_000, `handles back to ${handles0} (have ${activeHandles()})`);
    const heap1 = await heapUsed();
    const delta = heap1 - heap0;
    console.log(`churn: 10,000 cycles in ${took} ms; heap ${(heap0 / 2 ** 20).toFixed(1)} → ${(heap1 / 2 ** 20).toFixed(1)} MiB (Δ ${(delta / 2 ** 20).toFixed(2)} MiB, gc ${gc ? 'forced' : 'unavailable'}); handles ${handles0} → ${activeHandles()}`);
    expect(brokerTables(broker)).toEqual(tables0);
    expect(tables0).toEqual({ connections: 0, sessions: 0, queues: 0, consumers: 0, unacked: 0 });
    expect(activeHandles()).toBeLessThanOrEqual(handles0);
    // A leak of even one small object per cycle would exceed this (10,000 × ~1 KiB = 10 MiB; a closed connection held by a timer, ~2 KiB each, did); the
    // bound is looser without a forced GC.
    expect(delta).toBeLessThan((gc ? 4 : 32) * 2 ** 20);
  }, 180_000); // a fixed workload: a slow or loaded machine needs longer, and a timeout only reports a hang

  it('1,000 connections dropped without closing (socket destroyed, mid-delivery) are all cleaned up', async () => {
    const vhost = broker.vhosts.get('/')!;
    const shared = 'churn-shared';
    // A durable-less shared queue with a backlog: every dropped client holds unacked deliveries from it.
    const setup = await RawClient.open(broker.port);
    await setup.openChannel(1);
    setup.sendMethod(1, { id: MethodId.QueueDeclare, args: { queue: shared } });
    await setup.waitForMethod(MethodId.QueueDeclareOk, 1);
    for (let i = 0; i < 3000; i++) setup.publish(1, '', shared, Buffer.from(`m${i}`));
    await eventually(() => vhost.queues.get(shared)?.messageCount === 3000, 10_000, 'backlog');
    await setup.close();

    const tables0 = brokerTables(broker);
    const handles0 = activeHandles();
    const heap0 = await heapUsed();

    const t0 = Date.now();
    const clients: RawClient[] = [];
    await pool(1000, 50, async (i) => {
      const c = await RawClient.open(broker.port);
      await c.openChannel(1);
      c.sendMethod(1, { id: MethodId.BasicQos, args: { prefetchCount: 2 } });
      c.sendMethod(1, { id: MethodId.QueueDeclare, args: { queue: `dropped-${i}`, exclusive: true } });
      c.sendMethod(1, { id: MethodId.BasicConsume, args: { queue: shared, consumerTag: 'd' } });
      await c.waitForMethod(MethodId.BasicConsumeOk, 1);
      clients.push(c);
    });
    expect(broker.connectionCount).toBe(1000);
    expect(vhost.queues.get(shared)!.unackedCount).toBeGreaterThan(0);
    for (const c of clients) c.destroy();
    clients.length = 0;
    await eventually(() => broker.connectionCount === 0, 10_000, 'dropped connections cleaned up');
    const took = Date.now() - t0;
    await eventually(() => activeHandles() <= handles0, 10_000, `handles back to ${handles0} (have ${activeHandles()})`);
    const heap1 = await heapUsed();
    const delta = heap1 - heap0;
    console.log(`churn: 1,000 dropped connections in ${took} ms; heap ${(heap0 / 2 ** 20).toFixed(1)} → ${(heap1 / 2 ** 20).toFixed(1)} MiB (Δ ${(delta / 2 ** 20).toFixed(2)} MiB); handles ${handles0} → ${activeHandles()}`);
    // Exclusive queues deleted, consumers gone, every unacked delivery requeued.
    expect(brokerTables(broker)).toEqual(tables0);
    expect(vhost.queues.get(shared)!.messageCount).toBe(3000);
    expect(delta).toBeLessThan((gc ? 3 : 16) * 2 ** 20);
  }, 180_000); // a fixed workload: a slow or loaded machine needs longer, and a timeout only reports a hang
});
