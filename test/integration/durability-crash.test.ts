/**
 * Crash safety: publishers with confirms and a consumer that acks run against
 * the CLI broker, which is killed with SIGKILL mid-stream and restarted on the
 * same data directory.
 *
 * What must hold after the restart:
 *  - every message whose publish was confirmed, and that was not acked, is
 *    present exactly once;
 *  - nothing is present twice, and nothing appears that was never published;
 *  - an acked message may come back only if its ack was still "in flight":
 *    an ack is durable once the broker fdatasyncs a log batch written after
 *    the ack arrived. The consumer proves that point by publishing a confirmed
 *    persistent marker on the same channel after its acks: every ack sent
 *    before a confirmed marker must not come back. Acks after the last
 *    confirmed marker are the in-flight window; those may come back (marked
 *    redelivered).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp from 'amqplib';
import { afterAll, describe, expect, it } from 'vitest';
import { sleep } from '../helpers/broker.js';
import { startChildBroker } from '../helpers/child-broker.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const QUEUES = ['crash-a', 'crash-b'];

interface Run {
  confirmed: Set<string>;
  published: Set<string>;
  ackedDurably: Set<string>;
  ackedInFlight: Set<string>;
}

async function load(port: number, killAfterMs: number, kill: () => void): Promise<Run> {
  const url = `amqp://guest:guest@127.0.0.1:${port}`;
  const run: Run = { confirmed: new Set(), published: new Set(), ackedDurably: new Set(), ackedInFlight: new Set() };
  const setup = await amqp.connect(url);
  const sch = await setup.createChannel();
  for (const q of [...QUEUES, 'crash-markers']) await sch.assertQueue(q, { durable: true });
  await setup.close();

  let stop = false;
  const swallow = (c: { on(e: 'error', f: (err: Error) => void): unknown }): void => void c.on('error', () => {});

  // Publishers: persistent messages with unique ids, up to 256 unconfirmed each.
  const publishers = [0, 1, 2].map(async (p) => {
    const conn = await amqp.connect(url);
    swallow(conn);
    const ch = await conn.createConfirmChannel();
    swallow(ch);
    let n = 0;
    let inFlight = 0;
    while (!stop) {
      if (inFlight >= 256) {
        await sleep(1);
        continue;
      }
      const id = `p${p}-${n++}`;
      run.published.add(id);
      inFlight++;
      ch.sendToQueue(QUEUES[n % 2]!, Buffer.from(id), { persistent: true, messageId: id }, (err) => {
        inFlight--;
        if (!err) run.confirmed.add(id);
      });
      if (n % 64 === 0) await sleep(0);
    }
  });

  // Consumer on crash-a: acks two of every three deliveries, and after every
  // 10 acks publishes a confirmed marker that makes the acks before it durable.
  const consumer = (async () => {
    const conn = await amqp.connect(url);
    swallow(conn);
    // Acks and markers on ONE channel: frames of one channel reach the broker in order
    // (amqplib interleaves different channels' frames, so a marker on another channel
    // could overtake the acks it is meant to cover).
    const ch = await conn.createConfirmChannel();
    swallow(ch);
    const markers = ch;
    await ch.prefetch(100);
    let seen = 0;
    let pending: string[] = [];
    await ch.consume('crash-a', (m) => {
      if (!m || stop) return;
      if (seen++ % 3 === 2) return; // left unacked: requeued when the connection dies
      const id = m.properties.messageId as string;
      ch.ack(m);
      run.ackedInFlight.add(id);
      pending.push(id);
      if (pending.length >= 10) {
        const covered = pending;
        pending = [];
        markers.sendToQueue('crash-markers', Buffer.from('marker'), { persistent: true }, (err) => {
          if (err) return;
          for (const c of covered) {
            run.ackedInFlight.delete(c);
            run.ackedDurably.add(c);
          }
        });
      }
    });
  })();

  // Kill at the chosen point, but only once there is something to check (a loaded machine starts slowly).
  await sleep(killAfterMs);
  const deadline = Date.now() + 10_000;
  while ((run.confirmed.size < 200 || run.ackedDurably.size === 0) && Date.now() < deadline) await sleep(10);
  kill();
  stop = true;
  await Promise.allSettled([...publishers, consumer]);
  return run;
}

async function drainAll(port: number): Promise<Map<string, number>> {
  const conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${port}`);
  const ch = await conn.createChannel();
  const counts = new Map<string, number>();
  for (const q of QUEUES) {
    for (;;) {
      const m = await ch.get(q, { noAck: true });
      if (!m) break;
      const id = m.content.toString();
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
  }
  await conn.close();
  return counts;
}

describe('crash safety (SIGKILL)', () => {
  for (const killAfterMs of [150, 300, 500]) {
    it(`keeps every confirmed, unacked message exactly once after kill -9 at ${killAfterMs} ms`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'warren-crash-'));
      dirs.push(dir);
      const first = await startChildBroker(['--data-dir', dir, '--log-level', 'info']);
      const run = await load(first.port, killAfterMs, () => first.proc.kill("SIGKILL"));
      const { signal } = await first.exited;
      expect(signal).toBe('SIGKILL');
      expect(run.confirmed.size).toBeGreaterThan(100);
      expect(run.ackedDurably.size).toBeGreaterThan(0);

      const second = await startChildBroker(['--data-dir', dir, '--log-level', 'info']);
      try {
        const counts = await drainAll(second.port);
        const duplicates = [...counts].filter(([, n]) => n > 1).map(([id]) => id);
        expect(duplicates).toEqual([]);
        const unknown = [...counts.keys()].filter((id) => !run.published.has(id));
        expect(unknown).toEqual([]);
        const acked = new Set([...run.ackedDurably, ...run.ackedInFlight]);
        const lost = [...run.confirmed].filter((id) => !acked.has(id) && !counts.has(id));
        expect(lost).toEqual([]);
        const resurrected = [...run.ackedDurably].filter((id) => counts.has(id));
        expect(resurrected).toEqual([]);
      } finally {
        second.proc.kill('SIGTERM');
        await second.exited;
      }
    }, 60_000); // two broker processes and a load: a slow or loaded machine needs longer
  }
});
