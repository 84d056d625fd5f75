/**
 * The model against its storage port, socket-free: a RecordingStore
 * (test/helpers/recording-store.ts) stands in for the message log and the
 * durability gate. Persistent messages on durable queues are written once
 * and confirmed (or committed) only once durable; the queue tells its
 * storage what became of each record.
 */
import { describe, expect, it } from 'vitest';
import { FakeChannel, newVhost } from '../helpers/model-harness.js';
import { RecordingStore } from '../helpers/recording-store.js';

const PERSISTENT = { properties: { deliveryMode: 2 } };

/** A vhost logging through a recording store, with a durable queue 'dq' and a transient one 'tq' that both have storage. */
function setup(): { ch: FakeChannel; store: RecordingStore; ids: { dq: number; tq: number } } {
  const vhost = newVhost();
  const store = new RecordingStore();
  store.install(vhost);
  const ch = new FakeChannel(vhost);
  const dq = store.attach(ch.declareQueue('dq', {}, { durable: true }), true);
  const tq = store.attach(ch.declareQueue('tq'), false);
  return { ch, store, ids: { dq, tq } };
}

describe('publisher confirms wait for durability', () => {
  it('a persistent message on a durable queue is confirmed once durable; the others at once', () => {
    const { ch, store, ids } = setup();
    ch.session.selectConfirm();
    ch.publish('', 'dq', 'persistent', PERSISTENT);
    ch.publish('', 'dq', 'transient');
    ch.publish('', 'tq', 'persistent, transient queue', PERSISTENT);
    expect(ch.sink.confirms).toEqual([
      { seq: 2, ok: true },
      { seq: 3, ok: true },
    ]);
    // Only the persistent message for the durable queue is written as persistent; nothing pages.
    expect(store.written).toEqual([{ msgId: 1, queueIds: [ids.dq], persistent: true }]);
    expect(store.pending).toBe(1);
    store.sync();
    expect(ch.sink.confirms.map((c) => c.seq)).toEqual([2, 3, 1]);
    expect(ch.sink.confirms.every((c) => c.ok)).toBe(true);
  });

  it('a failed write turns the waiting confirm into a nack', () => {
    const { ch, store } = setup();
    ch.session.selectConfirm();
    ch.publish('', 'dq', 'lost write', PERSISTENT);
    store.fail();
    expect(ch.sink.confirms).toEqual([{ seq: 1, ok: false }]);
  });

  it('a channel closed before its publish is durable gets no confirm', () => {
    const { ch, store } = setup();
    ch.session.selectConfirm();
    ch.publish('', 'dq', 'm', PERSISTENT);
    ch.close();
    store.sync();
    expect(ch.sink.confirms).toEqual([]);
  });

  it('fanned out to both queues, a persistent message is written once, for the durable queue', () => {
    const { ch, store, ids } = setup();
    ch.bindQueue('dq', 'amq.fanout', '');
    ch.bindQueue('tq', 'amq.fanout', '');
    ch.publish('amq.fanout', '', 'both', PERSISTENT);
    expect(store.written).toEqual([{ msgId: 1, queueIds: [ids.dq], persistent: true }]);
    expect(store.events).toEqual([]);
    expect([ch.drain('dq'), ch.drain('tq')]).toEqual([['both'], ['both']]);
  });

  it('tx.commit with a persistent message on a durable queue tells the channel to wait for durability', () => {
    const { ch } = setup();
    ch.session.selectTx();
    ch.publish('', 'tq', 'transient queue', PERSISTENT);
    expect(ch.session.commit()).toBe(false);
    ch.publish('', 'dq', 'durable queue', PERSISTENT);
    expect(ch.session.commit()).toBe(true);
  });
});

describe('what the queue tells its storage', () => {
  it('delivered once (a redelivery is not reported again), settled at the ack', () => {
    const { ch, store } = setup();
    ch.publish('', 'dq', 'm', PERSISTENT);
    ch.consume('dq', { tag: 'c' });
    ch.nack(1); // back to the queue and out again, redelivered
    ch.ack(2);
    expect(store.events).toEqual(['delivered dq#1', 'settle dq#1']);
    expect(ch.sink.deliveries.map((d) => [d.deliveryTag, d.redelivered])).toEqual([
      [1, false],
      [2, true],
    ]);
  });

  it('a rejected message (no dead-letter exchange) and a no-ack delivery are settled too', () => {
    const { ch, store } = setup();
    ch.publish('', 'dq', 'rejected', PERSISTENT);
    ch.reject(ch.get('dq')!.deliveryTag, false);
    ch.publish('', 'dq', 'auto-acked', PERSISTENT);
    expect(ch.get('dq', true)).not.toBeNull();
    expect(store.events).toEqual(['delivered dq#1', 'settle dq#1', 'delivered dq#2', 'settle dq#2']);
  });

  it('a purge settles what was ready; an unacked message is settled when it is acked', () => {
    const { ch, store } = setup();
    for (const b of ['a', 'b']) ch.publish('', 'dq', b, PERSISTENT);
    const got = ch.get('dq')!;
    expect(ch.vhost.purgeQueue('dq', ch.owner)).toBe(1);
    expect(store.events.filter((e) => e.startsWith('settle'))).toEqual(['settle dq#2']);
    ch.ack(got.deliveryTag);
    expect(store.events.filter((e) => e.startsWith('settle'))).toEqual(['settle dq#2', 'settle dq#1']);
  });
});
