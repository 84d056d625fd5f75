/**
 * VirtualHost, socket-free (test/helpers/model-harness.ts): routing through
 * the exchange types, exchange-to-exchange bindings and alternate
 * exchanges; dead-lettering for each reason with its x-death history (read
 * from the header bytes a consumer would receive); exclusive queues; and the
 * snapshot read side.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Message } from '../../src/broker/message.js';
import { decodeContentProperties, type FieldTable } from '../../src/protocol/index.js';
import { MessageStats } from '../../src/observe/stats.js';
import { FakeChannel, counts, newVhost } from '../helpers/model-harness.js';

/** The headers as a client decodes them from the delivered content header. */
const headersOf = (m: Message): FieldTable => decodeContentProperties(m.header).headers ?? {};

/** x-death entries without their time, numbers as numbers. */
function deaths(m: Message): Record<string, unknown>[] {
  const xdeath = headersOf(m)['x-death'];
  expect(Array.isArray(xdeath)).toBe(true);
  return (xdeath as FieldTable[]).map(({ time, ...rest }) => {
    expect(time).toBeInstanceOf(Date);
    return { ...rest, count: Number(rest['count']) };
  });
}

describe('routing', () => {
  it('direct, topic, fanout and headers exchanges reach exactly their matching queues, each once', () => {
    const ch = new FakeChannel(newVhost());
    for (const q of ['d', 't', 'f', 'h']) ch.declareQueue(q);
    ch.bindQueue('d', 'amq.direct', 'key');
    ch.bindQueue('t', 'amq.topic', 'a.*');
    ch.bindQueue('t', 'amq.topic', '#'); // a second matching binding: still one copy
    ch.bindQueue('f', 'amq.fanout', 'ignored');
    ch.bindQueue('h', 'amq.headers', '', { 'x-match': 'all', kind: 'x' });
    ch.publish('amq.direct', 'key', 'd1');
    ch.publish('amq.direct', 'other', 'lost');
    ch.publish('amq.topic', 'a.b', 't1');
    ch.publish('amq.fanout', 'anything', 'f1');
    ch.publish('amq.headers', '', 'h1', { properties: { headers: { kind: 'x' } } });
    ch.publish('amq.headers', '', 'h-miss', { properties: { headers: { kind: 'y' } } });
    expect(['d', 't', 'f', 'h'].map((q) => ch.drain(q))).toEqual([['d1'], ['t1'], ['f1'], ['h1']]);
  });

  it('follows exchange-to-exchange bindings, and uses the alternate exchange when nothing matched', () => {
    const vhost = newVhost();
    const ch = new FakeChannel(vhost);
    ch.declareExchange('ae', 'fanout');
    ch.declareExchange('front', 'direct', { 'alternate-exchange': 'ae' });
    ch.declareExchange('inner', 'topic');
    vhost.bind('exchange', 'inner', 'front', 'to-inner', {}, ch.owner);
    for (const q of ['inner-q', 'unrouted']) ch.declareQueue(q);
    ch.bindQueue('inner-q', 'inner', '#');
    ch.bindQueue('unrouted', 'ae', '');
    ch.publish('front', 'to-inner', 'via inner');
    ch.publish('front', 'nothing-matches', 'via ae', { mandatory: true });
    expect(ch.drain('inner-q')).toEqual(['via inner']);
    expect(ch.drain('unrouted')).toEqual(['via ae']);
    expect(ch.sink.returns).toEqual([]);
  });

  it('CC and BCC headers add routing keys; BCC never reaches the consumer', () => {
    const ch = new FakeChannel(newVhost());
    for (const q of ['main', 'cc', 'bcc']) ch.declareQueue(q);
    ch.publish('', 'main', 'copied', { properties: { headers: { CC: ['cc'], BCC: ['bcc'] } } });
    for (const q of ['main', 'cc', 'bcc']) {
      const got = ch.get(q, true)!;
      expect(got.message.routingKey).toBe('main');
      expect(headersOf(got.message)).toEqual({ CC: ['cc'] });
    }
  });
});

describe('dead-lettering', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  /** A work queue dead-lettering to `dlx` (fanout) into the queue 'dead'. */
  function withDlx(args: FieldTable = {}): FakeChannel {
    const ch = new FakeChannel(newVhost());
    ch.declareExchange('dlx', 'fanout');
    ch.declareQueue('dead');
    ch.bindQueue('dead', 'dlx', '');
    ch.declareQueue('work', { 'x-dead-letter-exchange': 'dlx', ...args });
    return ch;
  }

  it('rejected (requeue=false): the message goes to the DLX with an x-death entry and x-first-death headers', () => {
    const ch = withDlx();
    ch.publish('', 'work', 'bad', { properties: { headers: { app: 'kept' } } });
    ch.reject(ch.get('work')!.deliveryTag, false);
    const dead = ch.get('dead', true)!;
    expect(deaths(dead.message)).toEqual([{ count: 1, reason: 'rejected', queue: 'work', exchange: '', 'routing-keys': ['work'] }]);
    expect(headersOf(dead.message)).toMatchObject({ app: 'kept', 'x-first-death-reason': 'rejected', 'x-first-death-queue': 'work', 'x-first-death-exchange': '' });
    expect([dead.message.exchange, dead.message.routingKey]).toEqual(['dlx', 'work']);
    expect(counts(ch.vhost.queues.get('work')!)).toEqual({ ready: 0, unacked: 0, consumers: 0 });
  });

  it('nack multiple without requeue dead-letters each message once, in order', () => {
    const ch = withDlx();
    for (const b of ['a', 'b', 'c']) ch.publish('', 'work', b);
    ch.consume('work', { tag: 'c' });
    ch.nack(3, true, false);
    expect(ch.drain('dead')).toEqual(['a', 'b', 'c']);
  });

  it('expired (x-message-ttl, fake clock): dead-lettered when the TTL passes, original expiration recorded for per-message TTL', () => {
    vi.useFakeTimers({ now: 10_000_000 });
    const ch = withDlx({ 'x-message-ttl': 1000 });
    ch.publish('', 'work', 'queue-ttl');
    ch.publish('', 'work', 'own-ttl', { properties: { expiration: '300' } });
    vi.advanceTimersByTime(999);
    expect(counts(ch.vhost.queues.get('dead')!).ready).toBe(0);
    vi.advanceTimersByTime(1);
    const got = [ch.get('dead', true)!, ch.get('dead', true)!];
    expect(got.map((g) => g.message.body.toString())).toEqual(['queue-ttl', 'own-ttl']);
    expect(deaths(got[0]!.message)).toEqual([{ count: 1, reason: 'expired', queue: 'work', exchange: '', 'routing-keys': ['work'] }]);
    expect(deaths(got[1]!.message)).toEqual([{ count: 1, reason: 'expired', queue: 'work', exchange: '', 'routing-keys': ['work'], 'original-expiration': '300' }]);
    // The dead copy carries no expiration of its own (RabbitMQ removes it).
    expect(decodeContentProperties(got[1]!.message.header).expiration).toBeUndefined();
  });

  it('maxlen: the head pushed out by x-max-length is dead-lettered', () => {
    const ch = withDlx({ 'x-max-length': 1 });
    for (const b of ['first', 'second', 'third']) ch.publish('', 'work', b);
    const dead = [ch.get('dead', true)!, ch.get('dead', true)!];
    expect(dead.map((d) => d.message.body.toString())).toEqual(['first', 'second']);
    expect(deaths(dead[0]!.message)).toEqual([{ count: 1, reason: 'maxlen', queue: 'work', exchange: '', 'routing-keys': ['work'] }]);
    expect(ch.drain('work')).toEqual(['third']);
  });

  it('x-dead-letter-routing-key replaces the routing key; a second death in the same queue counts up', () => {
    const ch = new FakeChannel(newVhost());
    ch.declareQueue('work', { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'retry' });
    ch.declareQueue('retry', { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'work' });
    ch.publish('', 'work', 'bounced');
    ch.reject(ch.get('work')!.deliveryTag, false); // work → retry
    ch.reject(ch.get('retry')!.deliveryTag, false); // retry → work
    ch.reject(ch.get('work')!.deliveryTag, false); // work → retry again
    const got = ch.get('retry', true)!;
    expect(got.message.routingKey).toBe('retry');
    expect(deaths(got.message)).toEqual([
      { count: 2, reason: 'rejected', queue: 'work', exchange: '', 'routing-keys': ['work'] },
      { count: 1, reason: 'rejected', queue: 'retry', exchange: '', 'routing-keys': ['retry'] },
    ]);
  });

  it('an automatic cycle (expiry back into a queue it already died in) is cut: the message is dropped', () => {
    vi.useFakeTimers({ now: 20_000_000 });
    const ch = new FakeChannel(newVhost());
    ch.declareQueue('a', { 'x-message-ttl': 100, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'b' });
    ch.declareQueue('b', { 'x-message-ttl': 100, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'a' });
    ch.publish('', 'a', 'loop');
    vi.advanceTimersByTime(100);
    expect([counts(ch.vhost.queues.get('a')!).ready, counts(ch.vhost.queues.get('b')!).ready]).toEqual([0, 1]);
    vi.advanceTimersByTime(100);
    expect([counts(ch.vhost.queues.get('a')!).ready, counts(ch.vhost.queues.get('b')!).ready]).toEqual([0, 0]);
  });

  it('without a dead-letter exchange (or with a missing one) a rejected message is dropped', () => {
    const ch = new FakeChannel(newVhost());
    ch.declareQueue('plain');
    ch.declareQueue('dangling', { 'x-dead-letter-exchange': 'missing' });
    for (const q of ['plain', 'dangling']) {
      ch.publish('', q, 'x');
      ch.reject(ch.get(q)!.deliveryTag, false);
    }
    expect(ch.vhost.snapshot().queues.map((q) => [q.name, q.messages])).toEqual([
      ['plain', 0],
      ['dangling', 0],
    ]);
  });
});

describe('queues and owners', () => {
  it('an exclusive queue is used only by its connection (405) and goes when that connection does', () => {
    const vhost = newVhost();
    const owner = new FakeChannel(vhost);
    owner.declareQueue('mine', {}, { exclusive: true });
    const stranger = new FakeChannel(vhost);
    stranger.failing(() => stranger.consume('mine'), 405, "RESOURCE_LOCKED - cannot obtain exclusive access to locked queue 'mine' in vhost '/'");
    owner.close();
    vhost.ownerClosed(owner.owner);
    expect(vhost.queues.has('mine')).toBe(false);
  });

  it('an auto-delete queue goes when its last consumer is cancelled', () => {
    const ch = new FakeChannel(newVhost());
    ch.declareQueue('auto', {}, { autoDelete: true });
    const a = ch.consume('auto');
    const b = ch.consume('auto');
    ch.session.cancel(a);
    expect(ch.vhost.queues.has('auto')).toBe(true);
    ch.session.cancel(b);
    expect(ch.vhost.queues.has('auto')).toBe(false);
  });

  it('snapshot() lists the standard exchanges, the queues with their counts, and the default bindings', () => {
    const ch = new FakeChannel(newVhost('orders'));
    ch.declareQueue('q1', { 'x-max-length': 5 });
    ch.bindQueue('q1', 'amq.topic', 'order.*');
    ch.publish('', 'q1', 'x');
    const s = ch.vhost.snapshot();
    expect(s.name).toBe('orders');
    expect(s.exchanges.map((x) => [x.name, x.type]).sort()).toEqual([
      ['', 'direct'],
      ['amq.direct', 'direct'],
      ['amq.fanout', 'fanout'],
      ['amq.headers', 'headers'],
      ['amq.match', 'headers'],
      ['amq.topic', 'topic'],
    ]);
    expect(s.queues).toEqual([
      { name: 'q1', durable: false, exclusive: false, autoDelete: false, arguments: { 'x-max-length': 5 }, messages: 1, messagesReady: 1, messagesUnacknowledged: 0, consumers: 0 },
    ]);
    expect(s.bindings.map((b) => [b.source, b.destination, b.routingKey])).toEqual([
      ['', 'q1', 'q1'],
      ['amq.topic', 'q1', 'order.*'],
    ]);
  });

  it('counts its open channels, and its channel totals keep a closed channel\'s counters', () => {
    const vhost = newVhost();
    const a = new FakeChannel(vhost);
    const b = new FakeChannel(vhost);
    a.declareQueue('q');
    a.publish('', 'q', '1');
    b.publish('', 'q', '2');
    b.publish('', 'q', '3');
    expect(vhost.snapshot().channels).toBe(2);
    b.close();
    b.close(); // a second close changes nothing
    expect(vhost.snapshot().channels).toBe(1);
    expect(vhost.channels.totals(new MessageStats()).publish).toBe(3);
    a.close();
    expect(vhost.snapshot().channels).toBe(0);
    expect(vhost.channels.totals(new MessageStats()).publish).toBe(3);
  });
});
