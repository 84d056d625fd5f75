/**
 * Brute-force damping: repeated failed logins from one address get their
 * refusal later and later (doubling up to 1 s) and are logged once per
 * interval; other addresses are never delayed, and a good login is not.
 */
import { Writable } from 'node:stream';
import amqp from 'amqplib';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { startBroker } from '../helpers/broker.js';
import { RawClient } from '../helpers/raw-client.js';
import { LoginThrottle } from '../../src/server/login-throttle.js';

const REFUSED = 'ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. For details see the broker logfile.';
let broker: Broker;
const lines: Record<string, unknown>[] = [];

beforeAll(async () => {
  const stream = new Writable({ write(chunk: Buffer, _e, cb) { for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>); cb(); } });
  broker = await startBroker({ logger: pino({ level: 'warn' }, stream), users: [{ name: 'alice', password: 'right' }] });
});
afterAll(async () => {
  await broker.stop();
});

/** One failed login from `from`; resolves with the ms until the refusal arrived. */
async function failOnce(from: string): Promise<number> {
  const c = await RawClient.connect(broker.port, '127.0.0.1', from);
  const started = Date.now();
  await c.handshake({ user: 'alice', password: 'wrong', until: 'start-ok' });
  const close = await c.expectConnectionClose();
  expect(close).toEqual({ replyCode: 403, replyText: REFUSED, classId: 0, methodId: 0 });
  return Date.now() - started;
}

describe('failed logins from one address', () => {
  it('are refused later and later (50 ms doubling to 1 s), logged once per interval', async () => {
    const before = lines.filter((l) => l.msg?.toString().startsWith('authentication failed')).length;
    const waited: number[] = [];
    const started = Date.now();
    for (let i = 0; i < 7; i++) waited.push(await failOnce('127.0.0.1'));
    const elapsed = Date.now() - started;
    // Lower bounds only: timers never fire early (a loaded machine only makes them later).
    const expected = [0, 50, 100, 200, 400, 800, 1000];
    waited.forEach((ms, i) => expect(ms).toBeGreaterThanOrEqual(expected[i]! - 2));
    const logged = lines.filter((l) => l.msg?.toString().startsWith('authentication failed')).slice(before);
    // The first is logged; the next six only when a 10 s interval has passed (on a very slow machine).
    expect(logged.length).toBeGreaterThanOrEqual(1);
    expect(logged.length).toBeLessThanOrEqual(1 + Math.floor(elapsed / 10_000));
    expect(logged[0]!.failuresFromAddress).toBeUndefined();
  });

  it('never delay another address, nor a good login', async () => {
    // 127.0.0.1 is now at the 1 s ceiling: its next refusal is scheduled a second out.
    const c = await RawClient.connect(broker.port, '127.0.0.1', '127.0.0.1');
    await c.handshake({ user: 'alice', password: 'wrong', until: 'start-ok' });
    const delayed = c.expectConnectionClose().then(() => 'delayed refusal');
    // Meanwhile another address fails once (its first: answered at once) and a good login gets in.
    const other = failOnce('127.0.0.2').then(() => 'other address');
    const first = await Promise.race([delayed, other]);
    expect(first).toBe('other address');
    const good = await amqp.connect(`amqp://alice:right@127.0.0.1:${broker.port}`);
    await good.close();
    expect(await delayed).toBe('delayed refusal');
    const otherLine = lines.find((l) => String(l.peer).startsWith('127.0.0.2:'));
    expect(otherLine?.failuresFromAddress).toBeUndefined();
  });

  it('forgets an address after a success', () => {
    let now = 0;
    const t = new LoginThrottle(() => now);
    expect(t.failed('a').delayMs).toBe(0);
    expect(t.failed('a').delayMs).toBe(50);
    expect(t.failed('b').delayMs).toBe(0);
    t.succeeded('a');
    expect(t.failed('a').delayMs).toBe(0);
    now += 61_000; // and after a minute without failures
    expect(t.failed('b').delayMs).toBe(0);
    now += 11_000;
    expect(t.failed('b').log).toBe(true);
  });
});
