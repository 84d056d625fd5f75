/**
 * Queue, socket-free (test/helpers/model-harness.ts): round-robin dispatch,
 * a backed-up consumer, requeue into the original position, message TTL per
 * queue and per message on a fake clock, length limits, and what a deleted
 * queue tells its consumers.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { decodeContentProperties } from '../../src/protocol/index.js';
import { FakeChannel, bodyText, counts, newVhost } from '../helpers/model-harness.js';

const bodies = (n: number, prefix = 'm'): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

describe('dispatch', () => {
  it('serves consumers round-robin in the order they subscribed', () => {
    const ch = new FakeChannel(newVhost());
    ch.declareQueue('work');
    const tags = ['a', 'b', 'c'].map((tag) => ch.consume('work', { tag, noAck: true }));
    for (const b of bodies(9)) ch.publish('', 'work', b);
    expect(tags.map((t) => ch.sink.bodies(t))).toEqual([
      ['m0', 'm3', 'm6'],
      ['m1', 'm4', 'm7'],
      ['m2', 'm5', 'm8'],
    ]);
    expect(ch.sink.deliveries.map((d) => d.deliveryTag)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('messages published before the first consumer wait, then go out in order', () => {
    const ch = new FakeChannel(newVhost());
    const q = ch.declareQueue('backlog');
    for (const b of bodies(4)) ch.publish('', 'backlog', b);
    expect(counts(q)).toEqual({ ready: 4, unacked: 0, consumers: 0 });
    ch.consume('backlog', { tag: 'late' });
    expect(ch.sink.bodies('late')).toEqual(['m0', 'm1', 'm2', 'm3']);
    expect(ch.sink.deliveries.every((d) => !d.redelivered)).toBe(true);
    expect(counts(q)).toEqual({ ready: 0, unacked: 4, consumers: 1 });
  });

  it('a consumer whose socket is backed up is skipped; resume() hands it the backlog', () => {
    const vhost = newVhost();
    const slow = new FakeChannel(vhost);
    const fast = new FakeChannel(vhost);
    const q = slow.declareQueue('q');
    slow.consume('q', { tag: 'slow', noAck: true });
    fast.consume('q', { tag: 'fast', noAck: true });
    slow.sink.writable = false;
    fast.sink.writable = false;
    for (const b of bodies(3)) slow.publish('', 'q', b);
    expect(counts(q).ready).toBe(3);
    expect([slow.sink.deliveries.length, fast.sink.deliveries.length]).toEqual([0, 0]);
    fast.sink.writable = true;
    fast.session.resume();
    expect(fast.sink.bodies()).toEqual(['m0', 'm1', 'm2']);
    expect(slow.sink.bodies()).toEqual([]);
    expect(counts(q).ready).toBe(0);
  });

  it('higher x-priority consumers are served first while they have credit', () => {
    const ch = new FakeChannel(newVhost());
    ch.declareQueue('q');
    ch.consume('q', { tag: 'low', noAck: true });
    ch.qos(2);
    ch.consume('q', { tag: 'high', arguments: { 'x-priority': 10 } });
    for (const b of bodies(5)) ch.publish('', 'q', b);
    expect(ch.sink.bodies('high')).toEqual(['m0', 'm1']);
    expect(ch.sink.bodies('low')).toEqual(['m2', 'm3', 'm4']);
  });
});

describe('requeue', () => {
  it('nacked and rejected messages go back to their original positions, marked redelivered', () => {
    const ch = new FakeChannel(newVhost());
    const q = ch.declareQueue('q');
    for (const b of bodies(5)) ch.publish('', 'q', b);
    const got = [0, 1, 2].map(() => ch.get('q')!);
    expect(got.map((g) => [bodyText(g.message), g.deliveryTag, g.messageCount])).toEqual([
      ['m0', 1, 4],
      ['m1', 2, 3],
      ['m2', 3, 2],
    ]);
    ch.nack(3); // m2 first, then m0: each returns to where it was, not to the tail or the head
    ch.reject(1, true);
    expect(counts(q)).toEqual({ ready: 4, unacked: 1, consumers: 0 });
    const again = [0, 1, 2, 3].map(() => ch.get('q', true)!);
    expect(again.map((g) => [bodyText(g.message), g.redelivered])).toEqual([
      ['m0', true],
      ['m2', true],
      ['m3', false],
      ['m4', false],
    ]);
    ch.ack(2);
    expect(counts(q)).toEqual({ ready: 0, unacked: 0, consumers: 0 });
  });

  it('a requeued message goes to the next consumer in turn, redelivered', () => {
    const ch = new FakeChannel(newVhost());
    ch.declareQueue('q');
    ch.consume('q', { tag: 'a' });
    ch.consume('q', { tag: 'b' });
    ch.publish('', 'q', 'one');
    const first = ch.sink.deliveryOf('one');
    expect([first.consumerTag, first.redelivered]).toEqual(['a', false]);
    ch.nack(first.deliveryTag);
    const second = ch.sink.deliveryOf('one');
    expect([second.consumerTag, second.deliveryTag, second.redelivered]).toEqual(['b', 2, true]);
  });
});

describe('message TTL (fake clock)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('x-message-ttl: each message expires that long after it was enqueued, without a consumer asking', () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const ch = new FakeChannel(newVhost());
    const q = ch.declareQueue('ttl', { 'x-message-ttl': 1000 });
    ch.publish('', 'ttl', 'early');
    vi.advanceTimersByTime(600);
    ch.publish('', 'ttl', 'late');
    vi.advanceTimersByTime(399);
    expect(counts(q).ready).toBe(2);
    vi.advanceTimersByTime(1); // 'early' is 1000 ms old
    expect(counts(q).ready).toBe(1);
    vi.advanceTimersByTime(600); // 'late' too
    expect(counts(q).ready).toBe(0);
    expect(ch.drain('ttl')).toEqual([]);
  });

  it('the expiration property: the message expires then, unless the queue TTL is shorter', () => {
    vi.useFakeTimers({ now: 2_000_000 });
    const ch = new FakeChannel(newVhost());
    ch.declareQueue('q', { 'x-message-ttl': 500 });
    ch.publish('', 'q', 'own-200', { properties: { expiration: '200' } });
    ch.publish('', 'q', 'own-5000', { properties: { expiration: '5000' } });
    ch.publish('', 'q', 'none');
    vi.advanceTimersByTime(200);
    expect(ch.vhost.queues.get('q')!.stats().messagesReady).toBe(2);
    vi.advanceTimersByTime(299);
    expect(ch.drain('q')).toEqual(['own-5000', 'none']);
  });

  it('a message expired behind a live head is dropped when it reaches the head, never delivered', () => {
    vi.useFakeTimers({ now: 3_000_000 });
    const ch = new FakeChannel(newVhost());
    const q = ch.declareQueue('q');
    ch.publish('', 'q', 'keeps');
    ch.publish('', 'q', 'short', { properties: { expiration: '100' } });
    ch.publish('', 'q', 'after');
    vi.advanceTimersByTime(1000);
    // RabbitMQ counts it until it reaches the head (expiry is checked there).
    expect(counts(q).ready).toBe(3);
    expect(ch.drain('q')).toEqual(['keeps', 'after']);
  });

  it('expiration "0" reaches a consumer that can take it at once, and is dropped otherwise', () => {
    vi.useFakeTimers({ now: 4_000_000 });
    const ch = new FakeChannel(newVhost());
    const q = ch.declareQueue('q');
    ch.publish('', 'q', 'nobody-waiting', { properties: { expiration: '0' } });
    expect(counts(q).ready).toBe(0);
    ch.consume('q', { tag: 'c', noAck: true });
    ch.publish('', 'q', 'taken', { properties: { expiration: '0' } });
    expect(ch.sink.bodies('c')).toEqual(['taken']);
  });

  it('a requeued message keeps its expiry: it expires on the original schedule', () => {
    vi.useFakeTimers({ now: 5_000_000 });
    const ch = new FakeChannel(newVhost());
    const q = ch.declareQueue('q', { 'x-message-ttl': 1000 });
    ch.publish('', 'q', 'm');
    const got = ch.get('q')!;
    vi.advanceTimersByTime(800);
    ch.nack(got.deliveryTag);
    expect(counts(q).ready).toBe(1);
    vi.advanceTimersByTime(200);
    expect(counts(q).ready).toBe(0);
  });
});

describe('length limits', () => {
  it('x-max-length drops from the head (default overflow drop-head)', () => {
    const ch = new FakeChannel(newVhost());
    const q = ch.declareQueue('q', { 'x-max-length': 2 });
    for (const b of bodies(5)) ch.publish('', 'q', b);
    expect(counts(q).ready).toBe(2);
    expect(ch.drain('q')).toEqual(['m3', 'm4']);
  });

  it('x-overflow reject-publish refuses new messages: a confirm-mode publisher gets a nack', () => {
    const ch = new FakeChannel(newVhost());
    ch.declareQueue('q', { 'x-max-length': 1, 'x-overflow': 'reject-publish' });
    ch.session.selectConfirm();
    ch.publish('', 'q', 'kept');
    ch.publish('', 'q', 'refused', { mandatory: true });
    expect(ch.sink.confirms).toEqual([
      { seq: 1, ok: true },
      { seq: 2, ok: false },
    ]);
    // Refused by a full queue is not unroutable: no basic.return.
    expect(ch.sink.returns).toEqual([]);
    expect(ch.drain('q')).toEqual(['kept']);
  });
});

describe('deletion', () => {
  it('deleting a queue cancels its consumers on every channel and reports the ready count', () => {
    const vhost = newVhost();
    const a = new FakeChannel(vhost);
    const b = new FakeChannel(vhost);
    a.declareQueue('q');
    a.qos(1);
    a.consume('q', { tag: 'ca' });
    b.consume('q', { tag: 'cb', noAck: true });
    for (const x of bodies(2)) a.publish('', 'q', x);
    b.sink.writable = false;
    a.publish('', 'q', 'left');
    expect(vhost.deleteQueue('q', a.owner, false, false)).toBe(1);
    expect(a.sink.cancelled).toEqual(['ca']);
    expect(b.sink.cancelled).toEqual(['cb']);
    expect(vhost.queues.has('q')).toBe(false);
    expect(a.session.consumers.size + b.session.consumers.size).toBe(0);
  });
});

describe('queue kinds', () => {
  it('x-max-priority: higher priorities first, FIFO within a priority, capped at the maximum', () => {
    const ch = new FakeChannel(newVhost());
    ch.declareQueue('q', { 'x-max-priority': 5 });
    ch.publish('', 'q', 'p0-a');
    ch.publish('', 'q', 'p9', { properties: { priority: 9 } }); // above the maximum: counts as 5
    ch.publish('', 'q', 'p5', { properties: { priority: 5 } });
    ch.publish('', 'q', 'p2', { properties: { priority: 2 } });
    ch.publish('', 'q', 'p0-b');
    expect(ch.drain('q')).toEqual(['p9', 'p5', 'p2', 'p0-a', 'p0-b']);
  });

  it('x-single-active-consumer: only the first consumer gets messages; the next takes over when it goes, with its unacked', () => {
    const vhost = newVhost();
    const first = new FakeChannel(vhost);
    const second = new FakeChannel(vhost);
    first.declareQueue('sac', { 'x-single-active-consumer': true });
    first.consume('sac', { tag: 'first' });
    second.consume('sac', { tag: 'second' });
    for (const b of bodies(3)) first.publish('', 'sac', b);
    expect([first.sink.bodies(), second.sink.bodies()]).toEqual([['m0', 'm1', 'm2'], []]);
    first.ack(1);
    first.close();
    expect(second.sink.deliveries.map((d) => [d.body, d.redelivered])).toEqual([
      ['m1', true],
      ['m2', true],
    ]);
  });

  it('quorum x-delivery-limit: x-delivery-count grows with each return; past the limit the message dies (delivery_limit)', () => {
    const ch = new FakeChannel(newVhost());
    ch.declareExchange('dlx', 'fanout');
    ch.declareQueue('dead');
    ch.bindQueue('dead', 'dlx', '');
    ch.declareQueue('qq', { 'x-queue-type': 'quorum', 'x-delivery-limit': 2, 'x-dead-letter-exchange': 'dlx' }, { durable: true });
    ch.publish('', 'qq', 'poison');
    const deliveryCounts: unknown[] = [];
    for (let i = 0; i < 3; i++) {
      const got = ch.get('qq')!;
      // As a client decodes the header bytes: a long (RabbitMQ writes x-delivery-count as one).
      deliveryCounts.push(decodeContentProperties(got.message.header).headers?.['x-delivery-count'] ?? null);
      ch.nack(got.deliveryTag);
    }
    expect(deliveryCounts).toEqual([null, 1, 2]);
    expect(ch.get('qq')).toBeNull();
    const dead = ch.get('dead', true)!;
    expect(bodyText(dead.message)).toBe('poison');
    expect(decodeContentProperties(dead.message.header).headers?.['x-first-death-reason']).toBe('delivery_limit');
  });
});
