// Objects carrying tables nested 50,000 deep (queue and binding arguments,
// client properties) in the rest of the broker: headers-exchange matching,
// the management API's listings (one such object must not break them), and
// definitions export and import.
import { afterEach, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { jsonText } from '../../src/http/json-text.js';
import { Constants, MethodId, decodeContentProperties, mapFieldTree, type FieldTable } from '../../src/protocol/index.js';
import { queueStats, startBroker } from '../helpers/broker.js';
import { deepTable, deepTableMismatch } from '../helpers/deep-table.js';
import { api } from '../helpers/http.js';
import { RawClient } from '../helpers/raw-client.js';

const DEPTH = 50_000;
const FRAME_MAX = 4 * 1024 * 1024;
const WAIT = 30_000;

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const brokers: Broker[] = [];
afterEach(async () => {
  for (const b of brokers.splice(0)) await b.stop();
});

async function broker(): Promise<Broker> {
  const b = await startBroker({ frameMax: FRAME_MAX, management: { port: 0 } });
  brokers.push(b);
  return b;
}

async function rawClient(b: Broker, clientProperties: FieldTable = {}): Promise<RawClient> {
  const c = await RawClient.connect(b.port);
  await c.handshake({ clientProperties });
  await c.openChannel(1);
  return c;
}

/** Sends a method on channel 1 and waits for its reply. */
async function call(c: RawClient, method: Parameters<RawClient['sendMethod']>[1], reply: number): Promise<void> {
  c.sendMethod(1, method);
  await c.waitForMethod(reply as typeof MethodId.QueueDeclareOk, 1, WAIT);
}

describe(`tables nested ${DEPTH.toLocaleString('en')} deep beyond the codec`, () => {
  it('a headers-exchange binding with a deep argument matches a message whose header is as deep, and unbinds', { timeout: 120_000 }, async () => {
    const b = await broker();
    const c = await rawClient(b);
    await call(c, { id: MethodId.QueueDeclare, args: { queue: 'matched' } }, MethodId.QueueDeclareOk);
    const bindArgs = { 'x-match': 'all', deep: deepTable(DEPTH) };
    await call(c, { id: MethodId.QueueBind, args: { queue: 'matched', exchange: 'amq.headers', arguments: bindArgs } }, MethodId.QueueBindOk);
    // Binding again with the same arguments (keys in another order) is the same binding.
    await call(c, { id: MethodId.QueueBind, args: { queue: 'matched', exchange: 'amq.headers', arguments: { deep: deepTable(DEPTH), 'x-match': 'all' } } }, MethodId.QueueBindOk);
    expect(b.bindings('/').filter((x) => x.source === 'amq.headers')).toHaveLength(1);

    const otherwise = deepTable(DEPTH);
    otherwise['z'] = 'different';
    c.publish(1, 'amq.headers', '', Buffer.from('no'), { headers: { deep: otherwise } });
    c.publish(1, 'amq.headers', '', Buffer.from('yes'), { headers: { deep: deepTable(DEPTH), other: 1 } });
    c.sendMethod(1, { id: MethodId.BasicConsume, args: { queue: 'matched', noAck: true } });
    await c.waitForMethod(MethodId.BasicDeliver, 1, WAIT);
    const header = await c.waitFor((f) => f.channel === 1 && f.type === Constants.FRAME_HEADER, WAIT, 'content header');
    const body = await c.waitFor((f) => f.channel === 1 && f.type === Constants.FRAME_BODY, WAIT, 'body');
    expect(body.payload.toString()).toBe('yes');
    expect(deepTableMismatch(decodeContentProperties(header.payload).headers!['deep'], DEPTH)).toBeNull();

    // The management API lists the binding (its properties key hashes the arguments).
    const bindings = await api(b, '/api/bindings/%2F');
    expect(bindings.status).toBe(200);
    const listed = (bindings.body as Json[]).find((x) => x.source === 'amq.headers')!;
    expect(deepTableMismatch(listed.arguments.deep, DEPTH)).toBeNull();

    await call(c, { id: MethodId.QueueUnbind, args: { queue: 'matched', exchange: 'amq.headers', arguments: bindArgs } }, MethodId.QueueUnbindOk);
    expect(b.bindings('/').filter((x) => x.source === 'amq.headers')).toHaveLength(0);
    await c.close();
  });

  it('a deep table where a redeclare or a binding wants a scalar is a clean 406 showing the start of it', { timeout: 120_000 }, async () => {
    const b = await broker();
    const c = await rawClient(b);
    await call(c, { id: MethodId.QueueDeclare, args: { queue: 'ttl-q', arguments: { 'x-message-ttl': 1000 } } }, MethodId.QueueDeclareOk);
    c.sendMethod(1, { id: MethodId.QueueDeclare, args: { queue: 'ttl-q', arguments: { 'x-message-ttl': deepTable(DEPTH) } } });
    const inequivalent = await c.waitForMethod(MethodId.ChannelClose, 1, WAIT);
    expect(inequivalent.replyCode).toBe(406);
    expect(inequivalent.replyText.startsWith(`PRECONDITION_FAILED - inequivalent arg 'x-message-ttl' for queue 'ttl-q' in vhost '/': received the value '{"d":0,"n":[1,{"d":2,`)).toBe(true);
    expect(inequivalent.replyText.endsWith('...')).toBe(true); // cut at the shortstr's 255 bytes
    c.sendMethod(1, { id: MethodId.ChannelCloseOk, args: {} });

    await c.openChannel(2);
    c.sendMethod(2, { id: MethodId.QueueBind, args: { queue: 'ttl-q', exchange: 'amq.headers', arguments: { 'x-match': deepTable(DEPTH) } } });
    const badMatch = await c.waitForMethod(MethodId.ChannelClose, 2, WAIT);
    expect(badMatch.replyCode).toBe(406);
    expect(badMatch.replyText.startsWith('PRECONDITION_FAILED - Invalid x-match field type {"d":0,"n":[1,')).toBe(true);
    c.sendMethod(2, { id: MethodId.ChannelCloseOk, args: {} });
    await c.openChannel(3);
    c.sendMethod(3, { id: MethodId.QueueDeclare, args: { queue: 'ttl-q', passive: true } });
    expect((await c.waitForMethod(MethodId.QueueDeclareOk, 3, WAIT)).queue).toBe('ttl-q');
    await c.close();
  });

  it('the management API lists queues and connections carrying deep tables', { timeout: 120_000 }, async () => {
    const b = await broker();
    const c = await rawClient(b, { connection_name: 'deep-props', deep: deepTable(DEPTH) });
    await call(c, { id: MethodId.QueueDeclare, args: { queue: 'deep-args', arguments: { 'x-deep': deepTable(DEPTH) } } }, MethodId.QueueDeclareOk);

    const one = await api(b, '/api/queues/%2F/deep-args');
    expect(one.status).toBe(200);
    expect(deepTableMismatch((one.body as Json).arguments['x-deep'], DEPTH)).toBeNull();
    const all = await api(b, '/api/queues');
    expect(all.status).toBe(200);
    expect((all.body as Json[]).map((q) => q.name)).toContain('deep-args');
    const sorted = await api(b, '/api/queues?sort=arguments');
    expect(sorted.status).toBe(200);

    const conns = await api(b, '/api/connections');
    expect(conns.status).toBe(200);
    const mine = (conns.body as Json[]).find((x) => x.client_properties?.connection_name === 'deep-props')!;
    expect(deepTableMismatch(mine.client_properties.deep, DEPTH)).toBeNull();
    await c.close();
  });

  it('definitions export and import keep durable queue arguments nested deep', { timeout: 120_000 }, async () => {
    const source = await broker();
    const c = await rawClient(source);
    await call(c, { id: MethodId.QueueDeclare, args: { queue: 'exported', durable: true, arguments: { 'x-deep': deepTable(DEPTH) } } }, MethodId.QueueDeclareOk);
    await c.close();
    const exported = source.exportDefinitions();
    const text = jsonText(exported); // JSON.stringify cannot: too deep
    expect(() => JSON.stringify(exported)).toThrow(RangeError);
    const doc = JSON.parse(text) as Json;
    const q = (doc.queues as Json[]).find((x) => x.name === 'exported')!;
    expect(deepTableMismatch(q.arguments['x-deep'], DEPTH)).toBeNull();

    const target = await broker();
    target.importDefinitions(doc);
    const imported = queueStats(target, 'exported');
    expect(imported.durable).toBe(true);
    expect(deepTableMismatch(imported.arguments['x-deep'], DEPTH)).toBeNull();
  });
});

describe('jsonText and mapFieldTree', () => {
  it('are JSON.stringify and a plain copy for shallow values', () => {
    const values: unknown[] = [{ a: [1, 'two', null, { b: true }], c: undefined, d: [undefined, () => 1], e: new Date(0), f: -0.5 }, 'x', 5, null, [[[]]], {}];
    for (const v of values) expect(jsonText(v)).toBe(JSON.stringify(v));
    expect(mapFieldTree({ a: [1, { b: 'x' }] }, () => true, (v) => v)).toEqual({ a: [1, { b: 'x' }] });
  });

  it('write 50,000 levels as JSON.stringify would if it could', () => {
    const v = deepTable(DEPTH);
    const text = jsonText(v);
    expect(text.startsWith('{"d":0,"n":[1,{"d":2,"n":[3,')).toBe(true);
    expect(text.endsWith(',"1"],"z":"0"}')).toBe(true);
    expect(deepTableMismatch(JSON.parse(text), DEPTH)).toBeNull();
    expect(deepTableMismatch(mapFieldTree(v, () => true, (x) => x), DEPTH)).toBeNull();
  });
});
