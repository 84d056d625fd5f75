/**
 * TTLs, x-expires and consumer_timeout above setTimeout's 2^31−1 ms (RabbitMQ
 * accepts up to 2^32−1): a broker holding such queues, a message with such an
 * expiration and an unacked delivery under such a consumer timeout must stay
 * idle. Node clamps a longer delay to 1 ms, which fired each timer ~1,000 times
 * a second (about a tenth of a core, plus a TimeoutOverflowWarning on stderr).
 *
 * The CPU time of the broker process (a child, so the test's own work does not
 * count) is read from /proc over a measuring window; the bound is generous —
 * a spinning timer costs several times more — and does not depend on the
 * machine's size. That the timers still fire on time is tested on a fake
 * clock in test/unit/long-timers.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import amqp from 'amqplib';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/broker.js';
import { startChildBroker, type ChildBroker } from '../helpers/child-broker.js';

const LONGEST = 2 ** 32 - 1;
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

let broker: ChildBroker | null = null;
afterAll(() => {
  if (broker && broker.proc.exitCode === null) broker.proc.kill('SIGKILL');
});

/** User + system CPU time of process `pid`, in ms (fields 14 and 15 of /proc/<pid>/stat). */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}

describe('timers longer than 2^31−1 ms', () => {
  it('leave the broker idle: no timer spinning, no TimeoutOverflowWarning', async () => {
    broker = await startChildBroker(['--consumer-timeout', String(LONGEST)]);
    let stderr = '';
    broker.proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${broker.port}`);
    const ch = await conn.createConfirmChannel();
    // A queue with the longest TTL and expiry, holding a message (its TTL timer is armed).
    await ch.assertQueue('ttl', { arguments: { 'x-message-ttl': LONGEST, 'x-expires': LONGEST } });
    ch.sendToQueue('ttl', Buffer.from('t'));
    // A message with the longest expiration of its own.
    await ch.assertQueue('expiration');
    ch.sendToQueue('expiration', Buffer.from('e'), { expiration: String(LONGEST) });
    // A delivery left unacked under the longest consumer_timeout.
    await ch.assertQueue('unacked');
    ch.sendToQueue('unacked', Buffer.from('u'));
    await ch.waitForConfirms();
    const consumer = await conn.createChannel();
    let delivered = 0;
    await consumer.consume('unacked', (m) => void (m && delivered++));
    await eventually(() => delivered === 1, 10_000, 'the delivery');
    const counts = await Promise.all(['ttl', 'expiration'].map(async (q) => (await ch.checkQueue(q)).messageCount));
    expect(counts).toEqual([1, 1]);

    // Measuring window (not synchronisation): CPU time the broker spends while nothing happens.
    const windowMs = 3000;
    const before = cpuMs(broker.proc.pid!);
    const started = Date.now();
    await new Promise((resolve) => setTimeout(resolve, windowMs));
    const elapsed = Date.now() - started;
    const used = cpuMs(broker.proc.pid!) - before;
    // Idle, the broker used ~3 ms a second here; with the timers spinning, ~130 ms a second.
    expect(used / elapsed).toBeLessThan(0.05);
    expect(stderr).not.toContain('TimeoutOverflowWarning');

    // Nothing expired or timed out meanwhile.
    expect(await Promise.all(['ttl', 'expiration'].map(async (q) => (await ch.checkQueue(q)).messageCount))).toEqual([1, 1]);
    await conn.close();
    broker.proc.kill('SIGTERM');
    expect((await broker.exited).code).toBe(0);
  }, 60_000);
});
