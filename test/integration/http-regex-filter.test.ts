/**
 * The list filter's `use_regex=true` cannot be turned into a denial of
 * service: a catastrophically backtracking pattern over many long names is
 * stopped within its time budget and answered 400, while the broker goes on
 * serving HTTP and AMQP; ordinary patterns filter as before.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { connect, startBroker, type AmqpConnection } from '../helpers/broker.js';
import { api, get } from '../helpers/http.js';
import { withTimeout } from '../helpers/wait.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const QUEUES = 1000;
/** 200 a's then a non-matching tail: `(a+)+$` backtracks 2^200 ways on each before failing. */
const longName = (i: number): string => `${'a'.repeat(200)}!${i}`;
const EVIL = `/api/queues/%2F?page=1&page_size=10&name=${encodeURIComponent('(a+)+$')}&use_regex=true`;

let broker: Broker;
let amqpConn: AmqpConnection;

beforeAll(async () => {
  broker = await startBroker({ management: { port: 0 } });
  amqpConn = await connect(broker);
  const ch = await amqpConn.createChannel();
  for (let i = 0; i < QUEUES; i++) await ch.assertQueue(longName(i));
  await ch.close();
}, 60_000);

afterAll(async () => {
  await amqpConn.close();
  await broker.stop();
});

describe('use_regex list filter', () => {
  it('a pathological pattern over 1,000 long names answers 400 quickly, naming the pattern', async () => {
    const started = Date.now();
    // Without the budget this request never ends (the event loop would be held for ages).
    const r = await withTimeout(api(broker, EVIL), 10_000, 'the pathological filter request');
    const elapsed = Date.now() - started;
    expect(r.status).toBe(400);
    expect(r.body).toEqual({ error: 'bad_request', reason: 'regular expression too expensive to match: (a+)+$ (gave up after 100 ms)' });
    // The budget is 100 ms; the bound is generous for a loaded machine, and far below the unbounded time.
    expect(elapsed).toBeLessThan(5_000);
  });

  it('other HTTP requests and AMQP traffic are served while such requests come in', async () => {
    const evil = Array.from({ length: 4 }, () => withTimeout(api(broker, EVIL), 20_000, 'a pathological filter request'));
    const overview = withTimeout(get<Json>(broker, '/api/overview'), 20_000, 'GET /api/overview');
    const amqpRoundTrip = (async () => {
      const ch = await amqpConn.createChannel();
      await ch.assertQueue('plain');
      ch.sendToQueue('plain', Buffer.from('still served'));
      let msg: Awaited<ReturnType<typeof ch.get>> = false;
      for (let i = 0; i < 1000 && msg === false; i++) msg = await ch.get('plain', { noAck: true });
      await ch.close();
      return msg === false ? null : msg.content.toString();
    })();
    expect(await withTimeout(amqpRoundTrip, 20_000, 'an AMQP round trip')).toBe('still served');
    expect((await overview).object_totals.queues).toBeGreaterThanOrEqual(QUEUES);
    for (const r of await Promise.all(evil)) expect(r.status).toBe(400);
  });

  it('ordinary patterns still filter the same list, case-insensitively and unanchored', async () => {
    const one = await get<Json>(broker, `/api/queues/%2F?page=1&name=${encodeURIComponent('!99$')}&use_regex=true`);
    expect(one.filtered_count).toBe(1);
    expect(one.items.map((q: Json) => q.name)).toEqual([longName(99)]);
    const many = await get<Json>(broker, `/api/queues/%2F?page=1&page_size=500&name=${encodeURIComponent('A{200}!9\\d\\d$')}&use_regex=true`);
    expect(many.filtered_count).toBe(100);
    const bad = await api(broker, `/api/queues/%2F?page=1&name=${encodeURIComponent('(a')}&use_regex=true`);
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ error: 'bad_request', reason: 'invalid regular expression: (a' });
  });
});
