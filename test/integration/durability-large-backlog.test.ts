/**
 * A backlog of large persistent messages on a durable queue with no consumer
 * (a worker that is down): the CLI broker must keep running while it builds
 * up — the message log rolls over many segments full of live records, which
 * compaction must leave alone (it chooses by live bytes, and never reads a
 * record before it is written) — and after a SIGKILL and a restart on the same
 * data directory every confirmed message is there exactly once.
 *
 * The sizes are those that killed Warren within a second (40 × 1 MiB,
 * 80 × 256 KiB, 150 × 140 KiB), with some margin.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp, { type ConsumeMessage } from 'amqplib';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/broker.js';
import { startChildBroker, type ChildBroker } from '../helpers/child-broker.js';

const dirs: string[] = [];
const children: ChildBroker[] = [];
afterAll(() => {
  for (const c of children) if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const url = (b: ChildBroker): string => `amqp://guest:guest@127.0.0.1:${b.port}`;

async function start(dir: string): Promise<ChildBroker> {
  const b = await startChildBroker(['--data-dir', dir]);
  children.push(b);
  return b;
}

/** A body of `size` bytes that names its message: the id, then filler derived from it. */
function bodyFor(id: string, size: number): Buffer {
  const body = Buffer.alloc(size, id.charCodeAt(id.length - 1));
  body.write(`${id};`, 0, 'latin1');
  return body;
}

/** Log lines at error (50) or fatal (60): the broker caught something in itself. */
const errorsIn = (b: ChildBroker): Record<string, unknown>[] => b.lines.filter((l) => (l.level as number) >= 50);

function messageLogBytes(dir: string): number {
  const logDir = join(dir, 'messages');
  return readdirSync(logDir).reduce((sum, f) => sum + statSync(join(logDir, f)).size, 0);
}

/** `work`, failing at once (with the broker's last words) if the broker process exits first. */
function whileAlive<T>(b: ChildBroker, work: Promise<T>): Promise<T> {
  const died = b.exited.then(({ code, signal }) => {
    throw new Error(`broker exited (code ${code}, signal ${signal}); last log lines: ${JSON.stringify(b.lines.slice(-3))}`);
  });
  return Promise.race([work, died]);
}

async function publishBacklog(b: ChildBroker, queue: string, count: number, size: number): Promise<Set<string>> {
  const conn = await amqp.connect(url(b));
  conn.on('error', () => {}); // a dying broker is reported by whileAlive
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue(queue, { durable: true });
  const confirmed = new Set<string>();
  for (let i = 0; i < count; i++) {
    const id = `${queue}-${i}`;
    ch.sendToQueue(queue, bodyFor(id, size), { persistent: true, messageId: id }, (err) => {
      if (err === null) confirmed.add(id);
    });
  }
  await ch.waitForConfirms();
  // One more round trip: compaction offered while the backlog built up has run by now.
  const { messageCount } = await ch.checkQueue(queue);
  expect(messageCount).toBe(count);
  await conn.close();
  return confirmed;
}

/** Consumes until `expected` messages arrived, then cancels; returns every id delivered (repeats included). */
async function drain(b: ChildBroker, queue: string, expected: number, size: number): Promise<string[]> {
  const conn = await amqp.connect(url(b));
  const ch = await conn.createChannel();
  await ch.prefetch(20);
  const got: string[] = [];
  const bad: string[] = [];
  const { consumerTag } = await ch.consume(queue, (m: ConsumeMessage | null) => {
    if (!m) return;
    const id = String(m.properties.messageId);
    got.push(id);
    if (m.content.length !== size || !m.content.equals(bodyFor(id, size))) bad.push(id);
    ch.ack(m);
  });
  await eventually(() => got.length >= expected, 60_000, `${expected} messages from ${queue}`);
  // Deliveries sent before cancel-ok arrive before it: after this, `got` is complete.
  await ch.cancel(consumerTag);
  const { messageCount } = await ch.checkQueue(queue);
  await conn.close();
  expect(bad).toEqual([]);
  expect(messageCount).toBe(0);
  return got;
}

describe('a backlog of large persistent messages without a consumer', () => {
  it.each([
    { label: '1 MiB', count: 48, size: 1024 * 1024 },
    { label: '256 KiB', count: 96, size: 256 * 1024 },
    { label: '140 KiB', count: 180, size: 140 * 1024 },
  ])('$count × $label: the broker keeps running, and after SIGKILL and restart every confirmed message is there exactly once', async ({ count, size }) => {
    const dir = mkdtempSync(join(tmpdir(), 'warren-backlog-'));
    dirs.push(dir);
    const queue = `backlog-${size}`;
    const first = await start(dir);
    const confirmed = await whileAlive(first, publishBacklog(first, queue, count, size));
    expect(confirmed.size).toBe(count);
    expect(first.proc.exitCode).toBeNull();
    expect(errorsIn(first)).toEqual([]);
    // Every record is live, so nothing was worth copying: the log holds the backlog once.
    expect(messageLogBytes(dir)).toBeLessThan(count * size * 1.05 + 1024 * 1024);

    first.proc.kill('SIGKILL');
    await first.exited;

    const second = await start(dir);
    const got = await whileAlive(second, drain(second, queue, count, size));
    expect(got.length).toBe(count);
    expect(new Set(got)).toEqual(confirmed);
    expect(errorsIn(second)).toEqual([]);
    second.proc.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);
  }, 180_000);
});
