/**
 * Brute-force damping on the management API, the same as on AMQP (and shared
 * with it): repeated failed HTTP Basic logins from one address get their 401
 * later and later (doubling up to 1 s) and are logged once per interval;
 * other addresses, requests without credentials and good logins are never
 * delayed.
 */
import { request } from 'node:http';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { startBroker } from '../helpers/broker.js';
import { RawClient } from '../helpers/raw-client.js';

let broker: Broker;
const lines: Record<string, unknown>[] = [];
const NOT_AUTHORIZED = { error: 'not_authorized', reason: 'Not_Authorized' };

beforeAll(async () => {
  const stream = new Writable({ write(chunk: Buffer, _e, cb) { for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>); cb(); } });
  broker = await startBroker({ logger: pino({ level: 'warn' }, stream), users: [{ name: 'admin', password: 'right', tags: ['administrator'] }], management: { port: 0 } });
});
afterAll(async () => {
  await broker.stop();
});

interface Answer {
  status: number;
  body: unknown;
  /** ms from sending the request to the answer. */
  ms: number;
}

/** GET /api/whoami from the local address `from` (a loopback alias), with `password` for admin (null: no credentials). */
function whoami(from: string, password: string | null): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const headers: Record<string, string> = password === null ? {} : { authorization: `Basic ${Buffer.from(`admin:${password}`).toString('base64')}` };
    const req = request({ host: '127.0.0.1', port: broker.managementHttpPort, path: '/api/whoami', localAddress: from, headers, agent: false }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as unknown, ms: Date.now() - started }));
    });
    req.on('error', reject);
    req.end();
  });
}

const failures = (): Record<string, unknown>[] => lines.filter((l) => String(l.msg).startsWith('HTTP API authentication failed'));

describe('failed HTTP logins from one address', () => {
  it('are answered 401 later and later (50 ms doubling to 1 s), logged once per interval', async () => {
    const before = failures().length;
    const waited: number[] = [];
    const started = Date.now();
    for (let i = 0; i < 7; i++) {
      const r = await whoami('127.0.0.1', 'wrong');
      expect(r.status).toBe(401);
      expect(r.body).toEqual(NOT_AUTHORIZED);
      waited.push(r.ms);
    }
    const elapsed = Date.now() - started;
    // Lower bounds only: timers never fire early (a loaded machine only makes them later).
    const expected = [0, 50, 100, 200, 400, 800, 1000];
    waited.forEach((ms, i) => expect(ms, `attempt ${i + 1}`).toBeGreaterThanOrEqual(expected[i]! - 2));
    const logged = failures().slice(before);
    // The first is logged; the next six only when a 10 s interval has passed (on a very slow machine).
    expect(logged.length).toBeGreaterThanOrEqual(1);
    expect(logged.length).toBeLessThanOrEqual(1 + Math.floor(elapsed / 10_000));
    expect(logged[0]).toMatchObject({ level: 40, user: 'admin', method: 'GET', msg: 'HTTP API authentication failed: Not_Authorized' });
    expect(String(logged[0]!.peer)).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it('never delay another address, a request without credentials, nor a good login', async () => {
    // 127.0.0.1 is now at the 1 s ceiling: its next refusal is scheduled a second out.
    const delayed = whoami('127.0.0.1', 'wrong').then((r) => ({ ...r, who: 'delayed refusal' }));
    const other = whoami('127.0.0.2', 'wrong').then((r) => ({ ...r, who: 'other address' }));
    const anonymous = whoami('127.0.0.1', null).then((r) => ({ ...r, who: 'no credentials' }));
    const good = whoami('127.0.0.3', 'right').then((r) => ({ ...r, who: 'good login' }));
    const order: string[] = [];
    const all = [delayed, other, anonymous, good].map((p) => p.then((r) => { order.push(r.who); return r; }));
    const [d, o, a, g] = await Promise.all(all);
    expect(order[order.length - 1]).toBe('delayed refusal');
    expect(d!.status).toBe(401);
    expect(o).toMatchObject({ status: 401, body: NOT_AUTHORIZED });
    expect(a).toMatchObject({ status: 401, body: NOT_AUTHORIZED });
    expect(g).toMatchObject({ status: 200, body: { name: 'admin', tags: ['administrator'] } });
    const otherLine = failures().find((l) => String(l.peer).startsWith('127.0.0.2:'));
    expect(otherLine?.failuresFromAddress).toBeUndefined();
  });

  it('count with the AMQP side (one throttle per address), and a good login forgets them', async () => {
    // 127.0.0.1 failed 8 times over HTTP: its AMQP refusal is delayed too (the ceiling, 1 s).
    const c = await RawClient.connect(broker.port, '127.0.0.1', '127.0.0.1');
    const started = Date.now();
    await c.handshake({ user: 'admin', password: 'wrong', until: 'start-ok' });
    const close = await c.expectConnectionClose(5000);
    expect(close.replyCode).toBe(403);
    expect(Date.now() - started).toBeGreaterThanOrEqual(998);
    // A good HTTP login from the address resets it: the next failure is answered at once.
    expect((await whoami('127.0.0.1', 'right')).status).toBe(200);
    const after = await whoami('127.0.0.1', 'wrong');
    expect(after.status).toBe(401);
    const line = failures().filter((l) => String(l.peer).startsWith('127.0.0.1:')).pop();
    expect(line?.failuresFromAddress).toBeUndefined();
  });
});
