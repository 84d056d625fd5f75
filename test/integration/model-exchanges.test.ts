/**
 * Exchanges, bindings and routing of the virtual-host model, driven by amqplib
 * over TCP: declare/delete/bind rules with RabbitMQ's reply codes and texts,
 * the pre-declared exchanges, routing for every exchange type, and the
 * publishing path (mandatory returns, properties, large bodies).
 */
import type { Channel } from 'amqplib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { startBroker } from '../helpers/broker.js';
import { Clients, consume, drainBodies, expectChannelError, expectConnectionError, rawPublish, rawRpc, rawSend, sync, within } from '../helpers/model.js';

let broker: Broker;
const clients = new Clients(() => broker);
beforeAll(async () => { broker = await startBroker(); });
afterEach(() => clients.closeAll());
afterAll(() => broker.stop());

/** A queue of the given name (exclusive to the test's connection, so it vanishes with it). */
async function queue(ch: Channel, name: string): Promise<string> {
  return (await ch.assertQueue(name, { exclusive: true })).queue;
}

describe('exchange.declare', () => {
  it('declares each exchange type with its flags, and an equivalent redeclare is fine', async () => {
    const ch = await clients.channel();
    for (const type of ['direct', 'fanout', 'topic', 'headers']) {
      const name = `x-decl-${type}`;
      expect(await ch.assertExchange(name, type, { durable: false, autoDelete: false })).toEqual({ exchange: name });
      await ch.assertExchange(name, type, { durable: false, autoDelete: false });
      await ch.checkExchange(name);
      await ch.deleteExchange(name);
    }
    await ch.assertExchange('x-decl-durable', 'topic', { durable: true, internal: true, arguments: { 'x-custom': 1 } });
    // Arguments other than alternate-exchange are not compared on redeclare.
    await ch.assertExchange('x-decl-durable', 'topic', { durable: true, internal: true, arguments: { 'x-custom': 2 } });
    await ch.deleteExchange('x-decl-durable');
  });

  it('passive declare finds an existing exchange and 404s a missing one', async () => {
    const ch = await clients.channel();
    await ch.assertExchange('x-passive', 'fanout', { durable: false });
    await ch.checkExchange('x-passive');
    await expectChannelError(ch, () => ch.checkExchange('nope'), 404, "NOT_FOUND - no exchange 'nope' in vhost '/'");
    await clients.channel().then((c) => c.deleteExchange('x-passive'));
  });

  it('passive declare ignores type and flags', async () => {
    const ch = await clients.channel();
    await ch.assertExchange('x-passive2', 'topic', { durable: false });
    await rawRpc(ch, 'ExchangeDeclare', { exchange: 'x-passive2', type: 'fanout', passive: true, durable: true }, 'ExchangeDeclareOk');
    expect(broker.exchanges().filter((x) => x.name === 'x-passive2').map((x) => [x.type, x.durable])).toEqual([['topic', false]]);
    await ch.deleteExchange('x-passive2');
  });

  it('redeclare with another type is 406 naming both', async () => {
    const ch = await clients.channel();
    await ch.assertExchange('x', 'direct', { durable: false });
    await expectChannelError(
      ch,
      () => ch.assertExchange('x', 'fanout', { durable: false }),
      406,
      "PRECONDITION_FAILED - inequivalent arg 'type' for exchange 'x' in vhost '/': received 'fanout' but current is 'direct'",
    );
    await (await clients.channel()).deleteExchange('x');
  });

  it.each([
    ['durable', { durable: true }, "inequivalent arg 'durable' for exchange 'x-flags' in vhost '/': received 'true' but current is 'false'"],
    ['auto_delete', { durable: false, autoDelete: true }, "inequivalent arg 'auto_delete' for exchange 'x-flags' in vhost '/': received 'true' but current is 'false'"],
    ['internal', { durable: false, internal: true }, "inequivalent arg 'internal' for exchange 'x-flags' in vhost '/': received 'true' but current is 'false'"],
  ])('redeclare with a different %s flag is 406', async (_flag, options, text) => {
    const ch = await clients.channel();
    await ch.assertExchange('x-flags', 'direct', { durable: false });
    await expectChannelError(ch, () => ch.assertExchange('x-flags', 'direct', options), 406, `PRECONDITION_FAILED - ${text}`);
    await (await clients.channel()).deleteExchange('x-flags');
  });

  it('redeclare with a different alternate-exchange is 406', async () => {
    const ch = await clients.channel();
    await ch.assertExchange('x-ae', 'direct', { durable: false, alternateExchange: 'ae1' });
    await ch.assertExchange('x-ae', 'direct', { durable: false, alternateExchange: 'ae1' });
    await expectChannelError(
      ch,
      () => ch.assertExchange('x-ae', 'direct', { durable: false, alternateExchange: 'ae2' }),
      406,
      "PRECONDITION_FAILED - inequivalent arg 'alternate-exchange' for exchange 'x-ae' in vhost '/'",
    );
    await (await clients.channel()).deleteExchange('x-ae');
  });

  it('an unknown type is a 503 connection error', async () => {
    const conn = await clients.connect();
    const ch = await clients.channel(conn);
    await expectConnectionError(conn, () => ch.assertExchange('x-unknown', 'x-foo'), 503, "COMMAND_INVALID - unknown exchange type 'x-foo'");
    const ch2 = await clients.channel();
    await expectChannelError(ch2, () => ch2.checkExchange('x-unknown'), 404, "no exchange 'x-unknown'");
  });

  it('a new exchange named amq.* is refused; redeclaring a standard one is fine', async () => {
    const ch = await clients.channel();
    await ch.assertExchange('amq.direct', 'direct', { durable: true });
    await ch.assertExchange('amq.topic', 'topic', { durable: true });
    await expectChannelError(ch, () => ch.assertExchange('amq.foo', 'direct'), 403, "ACCESS_REFUSED - exchange name 'amq.foo' contains reserved prefix 'amq.*'");
    const ch2 = await clients.channel();
    await expectChannelError(ch2, () => ch2.assertExchange('amq.direct', 'fanout', { durable: true }), 406, "inequivalent arg 'type' for exchange 'amq.direct'");
  });

  it('honours nowait (no declare-ok, the exchange exists)', async () => {
    const ch = await clients.channel();
    rawSend(ch, 'ExchangeDeclare', { exchange: 'x-nowait', type: 'fanout', durable: false, nowait: true });
    // A stray declare-ok would be taken as the reply to this RPC and fail it.
    const q = await ch.assertQueue('', { exclusive: true });
    expect(q.queue).toMatch(/^amq\.gen-/);
    await ch.checkExchange('x-nowait');
    rawSend(ch, 'ExchangeBind', { destination: 'x-nowait', source: 'amq.fanout', routingKey: '', arguments: {}, nowait: true });
    rawSend(ch, 'ExchangeUnbind', { destination: 'x-nowait', source: 'amq.fanout', routingKey: '', arguments: {}, nowait: true });
    rawSend(ch, 'ExchangeDelete', { exchange: 'x-nowait', ifUnused: false, nowait: true });
    expect((await ch.checkQueue(q.queue)).queue).toBe(q.queue);
    await expectChannelError(ch, () => ch.checkExchange('x-nowait'), 404, "no exchange 'x-nowait'");
  });
});

describe('pre-declared exchanges', () => {
  it('amq.direct, amq.fanout, amq.topic, amq.headers and amq.match exist and route by their type', async () => {
    const ch = await clients.channel();
    for (const x of ['amq.direct', 'amq.fanout', 'amq.topic', 'amq.headers', 'amq.match']) await ch.checkExchange(x);
    const q = await queue(ch, 'q-predeclared');
    await ch.bindQueue(q, 'amq.direct', 'd');
    await ch.bindQueue(q, 'amq.fanout', 'ignored');
    await ch.bindQueue(q, 'amq.topic', 't.*');
    await ch.bindQueue(q, 'amq.headers', '', { h: 'v' });
    await ch.bindQueue(q, 'amq.match', '', { m: 'v' });
    ch.publish('amq.direct', 'd', Buffer.from('direct'));
    ch.publish('amq.direct', 'other', Buffer.from('direct-miss'));
    ch.publish('amq.fanout', 'anything', Buffer.from('fanout'));
    ch.publish('amq.topic', 't.x', Buffer.from('topic'));
    ch.publish('amq.topic', 't.x.y', Buffer.from('topic-miss'));
    ch.publish('amq.headers', '', Buffer.from('headers'), { headers: { h: 'v' } });
    ch.publish('amq.match', '', Buffer.from('match'), { headers: { m: 'v' } });
    ch.publish('amq.match', '', Buffer.from('match-miss'), { headers: { m: 'w' } });
    expect(await drainBodies(ch, q)).toEqual(['direct', 'fanout', 'topic', 'headers', 'match']);
  });

  it('the default exchange routes to every queue by name', async () => {
    const ch = await clients.channel();
    const a = await queue(ch, 'q-default-a');
    const b = await queue(ch, 'q-default-b');
    ch.sendToQueue(a, Buffer.from('to-a'));
    ch.sendToQueue(b, Buffer.from('to-b'));
    ch.publish('', 'q-no-such-queue', Buffer.from('dropped'));
    expect(await drainBodies(ch, a)).toEqual(['to-a']);
    expect(await drainBodies(ch, b)).toEqual(['to-b']);
  });

  it.each([
    ['declare', (ch: Channel) => ch.assertExchange('', 'direct')],
    ['passive declare', (ch: Channel) => ch.checkExchange('')],
    ['delete', (ch: Channel) => ch.deleteExchange('')],
    ['queue.bind', async (ch: Channel) => ch.bindQueue(await queue(ch, 'q-default-bind'), '', 'k')],
    ['queue.unbind', async (ch: Channel) => ch.unbindQueue(await queue(ch, 'q-default-unbind'), '', 'k')],
    ['exchange.bind (source)', (ch: Channel) => ch.bindExchange('amq.fanout', '', 'k')],
    ['exchange.bind (destination)', (ch: Channel) => ch.bindExchange('', 'amq.fanout', 'k')],
    ['exchange.unbind', (ch: Channel) => ch.unbindExchange('amq.fanout', '', 'k')],
  ])('%s on the default exchange is 403', async (_what, action) => {
    const ch = await clients.channel();
    await expectChannelError(ch, () => action(ch), 403, 'ACCESS_REFUSED - operation not permitted on the default exchange');
  });

  it('deleting an amq.* exchange is 403', async () => {
    const ch = await clients.channel();
    await expectChannelError(ch, () => ch.deleteExchange('amq.direct'), 403, "ACCESS_REFUSED - deletion of system exchange 'amq.direct' in vhost '/' not allowed");
    await (await clients.channel()).checkExchange('amq.direct');
  });
});

describe('exchange.delete', () => {
  it('deletes an exchange and its bindings; deleting a missing one is fine', async () => {
    const ch = await clients.channel();
    await ch.deleteExchange('x-never-declared');
    await ch.assertExchange('x-del', 'fanout', { durable: false });
    const q = await queue(ch, 'q-del');
    await ch.bindQueue(q, 'x-del', '');
    await ch.deleteExchange('x-del');
    await ch.assertExchange('x-del', 'fanout', { durable: false });
    ch.publish('x-del', '', Buffer.from('after re-declare'));
    expect(await drainBodies(ch, q)).toEqual([]); // the old binding went with the exchange
    await ch.deleteExchange('x-del');
    await expectChannelError(ch, () => ch.checkExchange('x-del'), 404, "NOT_FOUND - no exchange 'x-del' in vhost '/'");
  });

  it('if-unused refuses an exchange with bindings as source (406), and allows it once unbound', async () => {
    const conn = await clients.connect();
    const ch = await clients.channel(conn);
    await ch.assertExchange('x-used', 'direct', { durable: false });
    const q = await queue(ch, 'q-used');
    await ch.bindQueue(q, 'x-used', 'k');
    await expectChannelError(ch, () => ch.deleteExchange('x-used', { ifUnused: true }), 406, "PRECONDITION_FAILED - exchange 'x-used' in vhost '/' in use");
    const ch2 = await clients.channel(conn);
    await ch2.checkExchange('x-used');
    await ch2.unbindQueue(q, 'x-used', 'k');
    await ch2.deleteExchange('x-used', { ifUnused: true });
    await expectChannelError(ch2, () => ch2.checkExchange('x-used'), 404, "no exchange 'x-used'");
  });

  it('if-unused only looks at bindings where the exchange is the source (as RabbitMQ)', async () => {
    const ch = await clients.channel();
    await ch.assertExchange('x-dest-only', 'fanout', { durable: false });
    await ch.bindExchange('x-dest-only', 'amq.fanout', '');
    await ch.deleteExchange('x-dest-only', { ifUnused: true });
    await expectChannelError(ch, () => ch.checkExchange('x-dest-only'), 404, "no exchange 'x-dest-only'");
  });
});

describe('exchange-to-exchange bindings', () => {
  it('routes through bound exchanges, and unbind stops it', async () => {
    const ch = await clients.channel();
    await ch.assertExchange('e2e-src', 'topic', { durable: false });
    await ch.assertExchange('e2e-dst', 'direct', { durable: false });
    const q = await queue(ch, 'q-e2e');
    await ch.bindExchange('e2e-dst', 'e2e-src', 'a.*');
    await ch.bindQueue(q, 'e2e-dst', 'a.b');
    ch.publish('e2e-src', 'a.b', Buffer.from('1'));
    ch.publish('e2e-src', 'a.c', Buffer.from('2')); // passes e2e-src, not e2e-dst
    ch.publish('e2e-src', 'b.b', Buffer.from('3'));
    expect(await drainBodies(ch, q)).toEqual(['1']);
    await ch.unbindExchange('e2e-dst', 'e2e-src', 'a.*');
    ch.publish('e2e-src', 'a.b', Buffer.from('4'));
    expect(await drainBodies(ch, q)).toEqual([]);
    await ch.deleteExchange('e2e-src');
    await ch.deleteExchange('e2e-dst');
  });

  it('cycles and diamonds deliver once to each queue', async () => {
    const ch = await clients.channel();
    for (const x of ['cyc-a', 'cyc-b', 'cyc-c']) await ch.assertExchange(x, 'fanout', { durable: false });
    await ch.bindExchange('cyc-b', 'cyc-a', '');
    await ch.bindExchange('cyc-c', 'cyc-b', '');
    await ch.bindExchange('cyc-a', 'cyc-c', ''); // a → b → c → a
    await ch.bindExchange('cyc-c', 'cyc-a', ''); // and a diamond a → c
    const q1 = await queue(ch, 'q-cyc-1');
    const q2 = await queue(ch, 'q-cyc-2');
    await ch.bindQueue(q1, 'cyc-a', '');
    await ch.bindQueue(q1, 'cyc-b', '');
    await ch.bindQueue(q1, 'cyc-c', '');
    await ch.bindQueue(q2, 'cyc-c', '');
    for (const x of ['cyc-a', 'cyc-b', 'cyc-c']) ch.publish(x, '', Buffer.from(x));
    expect(await drainBodies(ch, q1)).toEqual(['cyc-a', 'cyc-b', 'cyc-c']);
    expect(await drainBodies(ch, q2)).toEqual(['cyc-a', 'cyc-b', 'cyc-c']);
    for (const x of ['cyc-a', 'cyc-b', 'cyc-c']) await ch.deleteExchange(x);
  });

  it('deleting the destination exchange removes the binding (and an auto-delete source with it)', async () => {
    const ch = await clients.channel();
    await ch.assertExchange('e2e-auto-src', 'fanout', { durable: false, autoDelete: true });
    await ch.assertExchange('e2e-gone', 'fanout', { durable: false });
    await ch.assertExchange('e2e-plain-src', 'fanout', { durable: false });
    await ch.bindExchange('e2e-gone', 'e2e-auto-src', '');
    await ch.bindExchange('e2e-gone', 'e2e-plain-src', '');
    const q = await queue(ch, 'q-e2e-gone');
    await ch.bindQueue(q, 'e2e-gone', '');
    await ch.deleteExchange('e2e-gone');
    ch.publish('e2e-plain-src', '', Buffer.from('nowhere to go'));
    await ch.assertExchange('e2e-gone', 'fanout', { durable: false });
    await ch.bindQueue(q, 'e2e-gone', '');
    ch.publish('e2e-plain-src', '', Buffer.from('old binding must not come back'));
    expect(await drainBodies(ch, q)).toEqual([]);
    // Binding again creates a fresh binding to the new exchange (no stale one in the way).
    await ch.bindExchange('e2e-gone', 'e2e-plain-src', '');
    ch.publish('e2e-plain-src', '', Buffer.from('rebound'));
    expect(await drainBodies(ch, q)).toEqual(['rebound']);
    await ch.deleteExchange('e2e-plain-src');
    await ch.deleteExchange('e2e-gone');
    await expectChannelError(ch, () => ch.checkExchange('e2e-auto-src'), 404, "no exchange 'e2e-auto-src'");
  });

  it('binding to or from a missing exchange is 404', async () => {
    const ch = await clients.channel();
    await expectChannelError(ch, () => ch.bindExchange('amq.fanout', 'nope-src', ''), 404, "NOT_FOUND - no exchange 'nope-src' in vhost '/'");
    const ch2 = await clients.channel();
    await expectChannelError(ch2, () => ch2.bindExchange('nope-dst', 'amq.fanout', ''), 404, "NOT_FOUND - no exchange 'nope-dst' in vhost '/'");
  });

  it('an internal exchange refuses publishes (403) but routes what reaches it through a binding', async () => {
    const ch = await clients.channel();
    await ch.assertExchange('x-internal', 'fanout', { durable: false, internal: true });
    await ch.bindExchange('x-internal', 'amq.direct', 'to-internal');
    const q = await queue(ch, 'q-internal');
    await ch.bindQueue(q, 'x-internal', '');
    ch.publish('amq.direct', 'to-internal', Buffer.from('via binding'));
    expect(await drainBodies(ch, q)).toEqual(['via binding']);
    await expectChannelError(ch, () => ch.publish('x-internal', '', Buffer.from('direct')), 403, "ACCESS_REFUSED - cannot publish to internal exchange 'x-internal' in vhost '/'");
    await (await clients.channel()).deleteExchange('x-internal');
  });
});

describe('auto-delete exchanges', () => {
  it('survive without bindings, and go when their last binding is removed', async () => {
    const ch = await clients.channel();
    await ch.assertExchange('x-auto', 'direct', { durable: false, autoDelete: true });
    await ch.checkExchange('x-auto'); // never had a binding: stays (a round trip later)
    const q = await queue(ch, 'q-auto');
    await ch.bindQueue(q, 'x-auto', 'a');
    await ch.bindQueue(q, 'x-auto', 'b');
    await ch.unbindQueue(q, 'x-auto', 'a');
    await ch.checkExchange('x-auto'); // one binding left
    await ch.unbindQueue(q, 'x-auto', 'b');
    await expectChannelError(ch, () => ch.checkExchange('x-auto'), 404, "no exchange 'x-auto'");
  });

  it('go when the bound queue is deleted, or the exchange-to-exchange binding is removed', async () => {
    const ch = await clients.channel();
    await ch.assertExchange('x-auto-q', 'fanout', { durable: false, autoDelete: true });
    const q = await queue(ch, 'q-auto-2');
    await ch.bindQueue(q, 'x-auto-q', '');
    await ch.deleteQueue(q);
    await ch.assertExchange('x-auto-e', 'fanout', { durable: false, autoDelete: true });
    await ch.bindExchange('amq.fanout', 'x-auto-e', '');
    await ch.unbindExchange('amq.fanout', 'x-auto-e', '');
    await expectChannelError(ch, () => ch.checkExchange('x-auto-q'), 404, "no exchange 'x-auto-q'");
    const ch2 = await clients.channel();
    await expectChannelError(ch2, () => ch2.checkExchange('x-auto-e'), 404, "no exchange 'x-auto-e'");
  });
});

describe('routing', () => {
  it('direct: exact routing-key match only', async () => {
    const ch = await clients.channel();
    await ch.assertExchange('r-direct', 'direct', { durable: false });
    const q = await queue(ch, 'q-r-direct');
    await ch.bindQueue(q, 'r-direct', 'a.b');
    await ch.bindQueue(q, 'r-direct', '');
    for (const key of ['a.b', 'A.b', 'a.b.', 'a', 'a.*', '#', '']) ch.publish('r-direct', key, Buffer.from(key));
    expect(await drainBodies(ch, q)).toEqual(['a.b', '']);
    await ch.deleteExchange('r-direct');
  });

  it('fanout: every bound queue, key ignored', async () => {
    const ch = await clients.channel();
    await ch.assertExchange('r-fanout', 'fanout', { durable: false });
    const a = await queue(ch, 'q-r-fan-a');
    const b = await queue(ch, 'q-r-fan-b');
    await ch.bindQueue(a, 'r-fanout', 'x');
    await ch.bindQueue(b, 'r-fanout', 'y');
    ch.publish('r-fanout', 'z', Buffer.from('m'));
    expect(await drainBodies(ch, a)).toEqual(['m']);
    expect(await drainBodies(ch, b)).toEqual(['m']);
    await ch.deleteExchange('r-fanout');
  });

  it('topic: words, *, # and the edge cases of empty words', async () => {
    const ch = await clients.channel();
    await ch.assertExchange('r-topic', 'topic', { durable: false });
    const patterns = ['#', '#.#', 'a.#', 'a.*', '*', '', 'a..b', '.a', 'a.', '*.*', '#.b', 'a.#.b', '*.#'];
    const keys = ['', 'a', 'a.b', 'a.x.b', 'a..b', '.a', 'a.', 'b', 'x.y.z', '.'];
    const expected: Record<string, string[]> = {
      '#': keys,
      '#.#': keys,
      'a.#': ['a', 'a.b', 'a.x.b', 'a..b', 'a.'],
      'a.*': ['a.b', 'a.'],
      '*': ['a', 'b'],
      '': [''],
      'a..b': ['a..b'],
      '.a': ['.a'],
      'a.': ['a.'],
      '*.*': ['a.b', '.a', 'a.', '.'],
      '#.b': ['a.b', 'a.x.b', 'a..b', 'b'],
      'a.#.b': ['a.b', 'a.x.b', 'a..b'],
      '*.#': keys.filter((k) => k !== ''),
    };
    const queues: string[] = [];
    for (const [i, p] of patterns.entries()) {
      const q = await queue(ch, `q-topic-${i}`);
      await ch.bindQueue(q, 'r-topic', p);
      queues.push(q);
    }
    for (const k of keys) ch.publish('r-topic', k, Buffer.from(k));
    for (const [i, p] of patterns.entries()) {
      expect({ pattern: p, got: await drainBodies(ch, queues[i]!) }).toEqual({ pattern: p, got: expected[p] });
    }
    await ch.deleteExchange('r-topic');
  });

  it('headers: x-match all (default) / any; x- keys ignored', async () => {
    const ch = await clients.channel();
    await ch.assertExchange('r-headers', 'headers', { durable: false });
    const all = await queue(ch, 'q-h-all');
    const dflt = await queue(ch, 'q-h-default');
    const any = await queue(ch, 'q-h-any');
    const empty = await queue(ch, 'q-h-empty-any');
    await ch.bindQueue(all, 'r-headers', 'ignored', { 'x-match': 'all', a: 1, b: 'two', 'x-extra': 'ignored' });
    await ch.bindQueue(dflt, 'r-headers', '', { a: 1, b: 'two' });
    await ch.bindQueue(any, 'r-headers', '', { 'x-match': 'any', a: 1, b: 'two', 'x-only': 'x' });
    await ch.bindQueue(empty, 'r-headers', '', { 'x-match': 'any' });
    const send = (name: string, headers?: Record<string, unknown>): boolean => ch.publish('r-headers', 'k', Buffer.from(name), headers ? { headers } : {});
    send('both', { a: 1, b: 'two' });
    send('both+extra', { a: 1, b: 'two', c: true });
    send('only-a', { a: 1 });
    send('a-wrong', { a: 2, b: 'two' });
    send('only-x', { 'x-only': 'x' });
    send('none');
    expect(await drainBodies(ch, all)).toEqual(['both', 'both+extra']);
    expect(await drainBodies(ch, dflt)).toEqual(['both', 'both+extra']);
    expect(await drainBodies(ch, any)).toEqual(['both', 'both+extra', 'only-a', 'a-wrong']);
    expect(await drainBodies(ch, empty)).toEqual([]);
    await ch.deleteExchange('r-headers');
  });

  it('headers: all-with-x / any-with-x count x- keys', async () => {
    const ch = await clients.channel();
    await ch.assertExchange('r-headers-x', 'headers', { durable: false });
    const allx = await queue(ch, 'q-h-allx');
    const anyx = await queue(ch, 'q-h-anyx');
    await ch.bindQueue(allx, 'r-headers-x', '', { 'x-match': 'all-with-x', a: 1, 'x-k': 'v' });
    await ch.bindQueue(anyx, 'r-headers-x', '', { 'x-match': 'any-with-x', 'x-k': 'v' });
    ch.publish('r-headers-x', '', Buffer.from('a+x'), { headers: { a: 1, 'x-k': 'v' } });
    ch.publish('r-headers-x', '', Buffer.from('a'), { headers: { a: 1 } });
    ch.publish('r-headers-x', '', Buffer.from('x'), { headers: { 'x-k': 'v' } });
    expect(await drainBodies(ch, allx)).toEqual(['a+x']);
    expect(await drainBodies(ch, anyx)).toEqual(['a+x', 'x']);
    await ch.deleteExchange('r-headers-x');
  });

  it('headers: integers compare by value whatever their width, 1 is not "1", void tests presence', async () => {
    const ch = await clients.channel();
    await ch.assertExchange('r-headers-v', 'headers', { durable: false });
    const long = await queue(ch, 'q-h-long');
    const str = await queue(ch, 'q-h-str');
    const present = await queue(ch, 'q-h-present');
    await ch.bindQueue(long, 'r-headers-v', '', { n: { '!': 'long', value: 1 } });
    await ch.bindQueue(str, 'r-headers-v', '', { n: '1' });
    await ch.bindQueue(present, 'r-headers-v', '', { p: null });
    ch.publish('r-headers-v', '', Buffer.from('byte 1'), { headers: { n: 1 } }); // amqplib sends 1 as a byte
    ch.publish('r-headers-v', '', Buffer.from('int 1'), { headers: { n: { '!': 'int', value: 1 } } });
    ch.publish('r-headers-v', '', Buffer.from('long 1'), { headers: { n: { '!': 'long', value: 1 } } });
    ch.publish('r-headers-v', '', Buffer.from('string 1'), { headers: { n: '1' } });
    ch.publish('r-headers-v', '', Buffer.from('p=anything'), { headers: { p: 'anything' } });
    ch.publish('r-headers-v', '', Buffer.from('p=0'), { headers: { p: 0 } });
    ch.publish('r-headers-v', '', Buffer.from('no p'), { headers: { q: 1 } });
    expect(await drainBodies(ch, long)).toEqual(['byte 1', 'int 1', 'long 1']);
    expect(await drainBodies(ch, str)).toEqual(['string 1']);
    expect(await drainBodies(ch, present)).toEqual(['p=anything', 'p=0']);
    await ch.deleteExchange('r-headers-v');
  });

  it('headers: an invalid x-match is 406', async () => {
    const conn = await clients.connect();
    const ch = await clients.channel(conn);
    const q = await queue(ch, 'q-h-invalid');
    await expectChannelError(
      ch,
      () => ch.bindQueue(q, 'amq.headers', '', { 'x-match': 'some' }),
      406,
      'PRECONDITION_FAILED - Invalid x-match field value <<"some">>; expected all, any, all-with-x, or any-with-x',
    );
    const ch2 = await clients.channel(conn);
    await expectChannelError(ch2, () => ch2.bindQueue(q, 'amq.headers', '', { 'x-match': 1 }), 406, 'PRECONDITION_FAILED - Invalid x-match field type');
  });

  it('a message reaches each queue once however many bindings match', async () => {
    const ch = await clients.channel();
    await ch.assertExchange('r-once-t', 'topic', { durable: false });
    await ch.assertExchange('r-once-h', 'headers', { durable: false });
    await ch.assertExchange('r-once-f', 'fanout', { durable: false });
    const q = await queue(ch, 'q-once');
    for (const p of ['a.b', 'a.*', '*.b', '#', 'a.#', '#.b']) await ch.bindQueue(q, 'r-once-t', p);
    await ch.bindQueue(q, 'r-once-h', '', { a: 1 });
    await ch.bindQueue(q, 'r-once-h', '', { 'x-match': 'any', a: 1, b: 2 });
    await ch.bindQueue(q, 'r-once-f', '', { v: 1 });
    await ch.bindQueue(q, 'r-once-f', '', { v: 2 });
    await ch.bindExchange('r-once-f', 'r-once-t', '#'); // and a second path through another exchange
    ch.publish('r-once-t', 'a.b', Buffer.from('topic'));
    ch.publish('r-once-h', '', Buffer.from('headers'), { headers: { a: 1, b: 2 } });
    ch.publish('r-once-f', '', Buffer.from('fanout'));
    expect(await drainBodies(ch, q)).toEqual(['topic', 'headers', 'fanout']);
    // Removing one of two bindings that differ only by arguments leaves the other in place.
    await ch.unbindQueue(q, 'r-once-f', '', { v: 1 });
    ch.publish('r-once-f', '', Buffer.from('still bound'));
    await ch.unbindQueue(q, 'r-once-f', '', { v: 2 });
    ch.publish('r-once-f', '', Buffer.from('unbound'));
    expect(await drainBodies(ch, q)).toEqual(['still bound']);
    for (const x of ['r-once-t', 'r-once-h', 'r-once-f']) await ch.deleteExchange(x);
  });
});

describe('publishing', () => {
  it('to a missing exchange is a 404 channel error', async () => {
    const ch = await clients.channel();
    await expectChannelError(ch, () => ch.publish('nope', 'k', Buffer.from('x')), 404, "NOT_FOUND - no exchange 'nope' in vhost '/'");
  });

  it('mandatory and unroutable: basic.return 312 NO_ROUTE with the whole message', async () => {
    const ch = await clients.channel();
    const returned = new Promise<import('amqplib').Message>((resolve) => ch.once('return', resolve));
    const headers = { h: 'v', n: 42 };
    ch.publish('amq.direct', 'nobody-listens', Buffer.from('come back'), { mandatory: true, messageId: 'm-1', contentType: 'text/plain', headers });
    const m = await within(returned, 10_000, 'basic.return');
    expect(m.fields).toMatchObject({ replyCode: 312, replyText: 'NO_ROUTE', exchange: 'amq.direct', routingKey: 'nobody-listens' });
    expect(m.content.toString()).toBe('come back');
    expect(m.properties).toMatchObject({ messageId: 'm-1', contentType: 'text/plain', headers });
    // Not mandatory: dropped silently; routable mandatory: delivered, nothing returned.
    let returns = 0;
    ch.on('return', () => returns++);
    const q = await queue(ch, 'q-mandatory');
    ch.publish('amq.direct', 'nobody-listens', Buffer.from('dropped'));
    ch.sendToQueue(q, Buffer.from('routed'), { mandatory: true });
    expect(await drainBodies(ch, q)).toEqual(['routed']); // returns would have come before the get replies
    expect(returns).toBe(0);
  });

  it('immediate=true is a 540 connection error', async () => {
    // amqplib always sends immediate=false; its internal sendMessage takes the method fields directly.
    const conn = await clients.connect();
    const ch = await clients.channel(conn);
    await expectConnectionError(conn, () => rawPublish(ch, { exchange: 'amq.direct', routingKey: 'k', immediate: true }, Buffer.from('x')), 540, 'NOT_IMPLEMENTED - immediate=true');
  });

  it('all 14 properties and the body reach the consumer byte-identical', async () => {
    const ch = await clients.channel();
    const q = await queue(ch, 'q-props');
    const body = Buffer.from(Array.from({ length: 3000 }, (_, i) => i % 256));
    const headers = {
      str: 'text ✓',
      int: 7,
      neg: -40000,
      big: 2 ** 40,
      float: 1.5,
      bool: false,
      nul: null,
      bin: Buffer.from([0, 1, 2, 255]),
      arr: [1, 'two', [3], { four: 4 }],
      nested: { deeper: { deepest: 'yes', list: [] } },
      ts: { '!': 'timestamp', value: 1_700_000_000 },
    };
    const properties = {
      contentType: 'application/octet-stream',
      contentEncoding: 'identity',
      headers,
      deliveryMode: 2,
      priority: 5,
      correlationId: 'corr-1',
      replyTo: 'reply-here',
      expiration: '60000',
      messageId: 'msg-1',
      timestamp: 1_700_000_123,
      type: 'test.type',
      userId: 'guest',
      appId: 'warren-tests',
    };
    // clusterId is not settable through amqplib's publish options: set it through the raw path.
    rawPublish(ch, { exchange: '', routingKey: q }, body, { ...properties, clusterId: 'cluster-x' });
    const inbox = await consume(ch, q, { noAck: true });
    const [m] = await inbox.waitFor(1);
    expect(m!.content.equals(body)).toBe(true);
    expect(m!.properties).toEqual({
      ...properties,
      headers, // amqplib decodes a timestamp as { '!': 'timestamp', value }, as it was sent
      clusterId: 'cluster-x',
    });
  });

  it('a user_id other than the authenticated user is 406', async () => {
    const ch = await clients.channel();
    await expectChannelError(
      ch,
      () => ch.publish('amq.direct', 'k', Buffer.from('x'), { userId: 'mallory' }),
      406,
      "PRECONDITION_FAILED - user_id property set to 'mallory' but authenticated user was 'guest'",
    );
  });

  it('a body larger than frame_max (1 MB) arrives intact, via consume and via get', async () => {
    const ch = await clients.channel();
    const q = await queue(ch, 'q-big');
    const big = Buffer.alloc(1024 * 1024 + 17);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31 + (i >> 8)) & 0xff;
    ch.sendToQueue(q, big);
    const got = await ch.get(q, { noAck: true });
    expect(got && got.content.equals(big)).toBe(true);
    ch.sendToQueue(q, big);
    const inbox = await consume(ch, q, { noAck: true });
    const [m] = await inbox.waitFor(1);
    expect(m!.content.length).toBe(big.length);
    expect(m!.content.equals(big)).toBe(true);
  });

  it('an empty body arrives as an empty body', async () => {
    const ch = await clients.channel();
    const q = await queue(ch, 'q-empty-body');
    ch.sendToQueue(q, Buffer.alloc(0), { messageId: 'empty' });
    await sync(ch);
    const got = await ch.get(q, { noAck: true });
    expect(got && got.content.length).toBe(0);
    expect(got && got.properties.messageId).toBe('empty');
  });
});

describe('server properties', () => {
  it('advertise the capabilities the broker implements', async () => {
    const conn = await clients.connect();
    const props = conn.connection.serverProperties as unknown as { capabilities: Record<string, unknown> };
    expect(props.capabilities).toMatchObject({
      publisher_confirms: true,
      exchange_exchange_bindings: true,
      'basic.nack': true,
      consumer_cancel_notify: true,
      authentication_failure_close: true,
      per_consumer_qos: true,
    });
  });
});
