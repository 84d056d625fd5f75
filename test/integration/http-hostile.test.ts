import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { connect, startBroker } from '../helpers/broker.js';
import { api, get, requestText } from '../helpers/http.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A request with a raw (unnormalised) path, as fetch would rewrite "..". */
function rawGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return requestText((onResponse) => request({ host: '127.0.0.1', port, path, method: 'GET', auth: 'guest:guest' }, onResponse));
}

/** Hostile input gets a clear 4xx and changes nothing; the broker keeps serving AMQP and HTTP. */
describe('management HTTP API: hostile input', () => {
  let broker: Broker;
  beforeAll(async () => {
    broker = await startBroker({ management: { port: 0 } });
    await api(broker, '/api/queues/%2F/keep', { method: 'PUT', body: {} });
  });
  afterAll(() => broker.stop());

  it('malformed JSON, a doubly encoded body and wrongly typed fields are 400', async () => {
    const bad = await api(broker, '/api/queues/%2F/q1', { method: 'PUT', raw: '{"durable": tru', headers: { 'content-type': 'application/json' } });
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ error: 'bad_request', reason: 'not_json' });
    const doubly = await api(broker, '/api/queues/%2F/q1', { method: 'PUT', raw: JSON.stringify(JSON.stringify({ durable: true })) });
    expect(doubly.status).toBe(400);
    expect((doubly.body as Json).reason).toMatch(/doubly-JSON-encoded/);
    const array = await api(broker, '/api/queues/%2F/q1', { method: 'PUT', raw: '[1,2]' });
    expect(array.body).toEqual({ error: 'bad_request', reason: 'not_json' });
    expect((await api(broker, '/api/queues/%2F/q1', { method: 'PUT', body: { arguments: 'nope' } })).status).toBe(400);
    expect((await api(broker, '/api/queues/%2F/q1', { method: 'PUT', body: { durable: 'maybe' } })).status).toBe(400);
    expect((await api(broker, '/api/queues/%2F/q1')).status).toBe(404);
  });

  it('a 10 MB body is refused with 400 and not kept', async () => {
    const big = Buffer.alloc(10 * 1024 * 1024, 0x61);
    const r = await api(broker, '/api/queues/%2F/q2', { method: 'PUT', raw: big, headers: { 'content-type': 'application/json' } });
    expect(r.status).toBe(400);
    expect(r.body).toEqual({ error: 'bad_request', reason: 'Exceeded HTTP request body size limit' });
    expect((await api(broker, '/api/queues/%2F/q2')).status).toBe(404);
  });

  it('path traversal in names: an encoded "../" is part of an opaque name; raw ".." segments match no route', async () => {
    const name = '../../etc/passwd';
    expect((await api(broker, `/api/queues/%2F/${encodeURIComponent(name)}`)).status).toBe(404);
    expect((await api(broker, `/api/queues/%2F/${encodeURIComponent(name)}`, { method: 'PUT', body: {} })).status).toBe(201);
    expect((await get<Json>(broker, `/api/queues/%2F/${encodeURIComponent(name)}`)).name).toBe(name);
    expect((await api(broker, `/api/queues/%2F/${encodeURIComponent(name)}`, { method: 'DELETE' })).status).toBe(204);
    const raw = await rawGet(broker.managementHttpPort, '/api/queues/%2F/../../../etc/passwd');
    expect(raw.status).toBe(404);
    expect(JSON.parse(raw.body)).toEqual({ error: 'Object Not Found', reason: 'Not Found' });
    const badEncoding = await rawGet(broker.managementHttpPort, '/api/queues/%zz');
    expect(badEncoding.status).toBe(400);
    expect(JSON.parse(badEncoding.body)).toMatchObject({ error: 'bad_request' });
  });

  it('unknown vhosts are 404 for reads and writes; absurd paging is 400', async () => {
    for (const [method, path] of [['GET', '/api/queues/nope'], ['GET', '/api/exchanges/nope/x'], ['PUT', '/api/queues/nope/q'], ['DELETE', '/api/exchanges/nope/x'], ['GET', '/api/vhosts/nope'], ['GET', '/api/bindings/nope']]) {
      const r = await api(broker, path!, { method, body: method === 'PUT' ? {} : undefined });
      expect(r.status, `${method} ${path}`).toBe(404);
      expect(r.body).toEqual({ error: 'Object Not Found', reason: 'Not Found' });
    }
    const r = await api(broker, '/api/queues?page=1&page_size=100000');
    expect(r.status).toBe(400);
    expect((await api(broker, '/api/queues?page=1&name=(&use_regex=true')).status).toBe(400);
  });

  it('after all of it: the broker still routes messages and answers the API, and nothing was created', async () => {
    const conn = await connect(broker);
    const ch = await conn.createChannel();
    ch.sendToQueue('keep', Buffer.from('still here'));
    let got: string | null = null;
    for (let i = 0; i < 200 && got === null; i++) {
      const m = await ch.get('keep', { noAck: true });
      if (m) got = m.content.toString();
    }
    expect(got).toBe('still here');
    await conn.close();
    expect((await get<Json[]>(broker, '/api/queues')).map((q) => q.name)).toEqual(['keep']);
  });
});
