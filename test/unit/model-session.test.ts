/**
 * Session (one AMQP channel's model side), socket-free
 * (test/helpers/model-harness.ts): basic.qos per consumer and per channel,
 * ack / nack / reject (single, multiple, unknown tags), what a closing
 * channel gives back, publisher confirms, mandatory returns, and
 * transactions (commit and rollback of publishes and acks).
 */
import { describe, expect, it } from 'vitest';
import { FakeChannel, counts, newVhost } from '../helpers/model-harness.js';

const publishN = (ch: FakeChannel, queue: string, n: number): void => {
  for (let i = 0; i < n; i++) ch.publish('', queue, `m${i}`);
};

describe('basic.qos', () => {
  it('per consumer (global=false): each consumer created afterwards holds at most that many unacked', () => {
    const ch = new FakeChannel(newVhost());
    const q = ch.declareQueue('q');
    ch.consume('q', { tag: 'unlimited' });
    ch.qos(2);
    ch.consume('q', { tag: 'a' });
    ch.consume('q', { tag: 'b' });
    ch.session.cancel('unlimited');
    publishN(ch, 'q', 10);
    expect([ch.sink.bodies('a'), ch.sink.bodies('b')]).toEqual([
      ['m0', 'm2'],
      ['m1', 'm3'],
    ]);
    expect(counts(q)).toEqual({ ready: 6, unacked: 4, consumers: 2 });
    ch.ack(ch.sink.deliveryOf('m2').deliveryTag);
    expect(ch.sink.bodies('a')).toEqual(['m0', 'm2', 'm4']);
    expect(ch.sink.bodies('b')).toEqual(['m1', 'm3']);
  });

  it('per channel (global=true): the limit counts unacked deliveries across all its consumers', () => {
    const ch = new FakeChannel(newVhost());
    const q = ch.declareQueue('q');
    ch.qos(3, true);
    ch.consume('q', { tag: 'a' });
    ch.consume('q', { tag: 'b' });
    publishN(ch, 'q', 10);
    expect(ch.sink.bodies()).toEqual(['m0', 'm1', 'm2']);
    expect(counts(q)).toEqual({ ready: 7, unacked: 3, consumers: 2 });
    ch.ack(ch.sink.deliveryOf('m1').deliveryTag);
    expect(ch.sink.bodies()).toEqual(['m0', 'm1', 'm2', 'm3']);
    // Raising the limit lets more flow at once, without an ack.
    ch.qos(6, true);
    expect(ch.sink.deliveries).toHaveLength(7);
    expect(counts(q)).toEqual({ ready: 3, unacked: 6, consumers: 2 });
  });

  it('both limits apply together: per consumer 1, per channel 2, three consumers', () => {
    const ch = new FakeChannel(newVhost());
    ch.declareQueue('q');
    ch.qos(1, false);
    ch.qos(2, true);
    for (const tag of ['a', 'b', 'c']) ch.consume('q', { tag });
    publishN(ch, 'q', 6);
    expect(ch.sink.deliveries.map((d) => [d.consumerTag, d.body])).toEqual([
      ['a', 'm0'],
      ['b', 'm1'],
    ]);
    ch.ack(1);
    expect(ch.sink.deliveries.map((d) => [d.consumerTag, d.body]).slice(2)).toEqual([['c', 'm2']]);
  });

  it('no-ack consumers are not limited by prefetch', () => {
    const ch = new FakeChannel(newVhost());
    ch.declareQueue('q');
    ch.qos(1, true);
    ch.consume('q', { tag: 'auto', noAck: true });
    publishN(ch, 'q', 5);
    expect(ch.sink.bodies('auto')).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
  });
});

describe('acknowledgements', () => {
  it('ack multiple settles every delivery up to the tag, and only those', () => {
    const ch = new FakeChannel(newVhost());
    const q = ch.declareQueue('q');
    ch.consume('q', { tag: 'c' });
    publishN(ch, 'q', 5);
    ch.ack(3, true);
    expect(counts(q)).toEqual({ ready: 0, unacked: 2, consumers: 1 });
    ch.ack(5);
    ch.ack(4);
    expect(counts(q)).toEqual({ ready: 0, unacked: 0, consumers: 1 });
  });

  it('nack multiple with requeue puts the messages back in order; the consumer gets them again, redelivered', () => {
    const ch = new FakeChannel(newVhost());
    ch.declareQueue('q');
    ch.qos(3);
    ch.consume('q', { tag: 'c' });
    publishN(ch, 'q', 3);
    ch.sink.writable = false; // hold the redeliveries to look at the queue first
    ch.nack(0, true);
    expect(ch.vhost.queues.get('q')!.peek(10).map((m) => [m.body.toString(), m.redelivered])).toEqual([
      ['m0', true],
      ['m1', true],
      ['m2', true],
    ]);
    ch.sink.writable = true;
    ch.session.resume();
    expect(ch.sink.deliveries.slice(3).map((d) => [d.body, d.deliveryTag, d.redelivered])).toEqual([
      ['m0', 4, true],
      ['m1', 5, true],
      ['m2', 6, true],
    ]);
  });

  it('an unknown or already acked delivery tag is 406 and closes the channel, requeueing its unacked', () => {
    const vhost = newVhost();
    const ch = new FakeChannel(vhost);
    const q = ch.declareQueue('q');
    publishN(ch, 'q', 2);
    ch.get('q');
    ch.get('q');
    ch.ack(1);
    ch.failing(() => ch.ack(1), 406, 'PRECONDITION_FAILED - unknown delivery tag 1');
    expect(counts(q)).toEqual({ ready: 1, unacked: 0, consumers: 0 });
    const other = new FakeChannel(vhost);
    other.failing(() => other.reject(7, true), 406, 'PRECONDITION_FAILED - unknown delivery tag 7');
    expect(new FakeChannel(vhost).get('q', true)).toMatchObject({ deliveryTag: 1, redelivered: true, messageCount: 0 });
  });

  it('closing the channel requeues its unacked deliveries to another channel’s consumer, redelivered, in order', () => {
    const vhost = newVhost();
    const first = new FakeChannel(vhost);
    const second = new FakeChannel(vhost);
    const q = first.declareQueue('q');
    first.consume('q', { tag: 'first' });
    publishN(first, 'q', 3);
    first.ack(2);
    second.consume('q', { tag: 'second' });
    first.close();
    expect(second.sink.deliveries.map((d) => [d.body, d.redelivered])).toEqual([
      ['m0', true],
      ['m2', true],
    ]);
    expect(counts(q)).toEqual({ ready: 0, unacked: 2, consumers: 1 });
  });

  it('basic.recover (requeue) gives back every unacked delivery; cancel keeps them unacked', () => {
    const ch = new FakeChannel(newVhost());
    const q = ch.declareQueue('q');
    ch.consume('q', { tag: 'c' });
    publishN(ch, 'q', 2);
    ch.session.cancel('c');
    expect(counts(q)).toEqual({ ready: 0, unacked: 2, consumers: 0 });
    ch.session.recover();
    expect(counts(q)).toEqual({ ready: 2, unacked: 0, consumers: 0 });
    expect(ch.drain('q')).toEqual(['m0', 'm1']);
  });
});

describe('publishing', () => {
  it('confirm mode numbers publishes from 1 and confirms each routed or unroutable one', () => {
    const ch = new FakeChannel(newVhost());
    ch.declareQueue('q');
    ch.session.selectConfirm();
    ch.publish('', 'q', 'routed');
    ch.publish('', 'nowhere', 'dropped');
    ch.publish('amq.direct', 'nowhere', 'returned', { mandatory: true });
    expect(ch.sink.confirms).toEqual([
      { seq: 1, ok: true },
      { seq: 2, ok: true },
      { seq: 3, ok: true },
    ]);
    expect(ch.sink.returns).toEqual([{ replyCode: 312, replyText: 'NO_ROUTE', routingKey: 'nowhere', body: 'returned' }]);
    expect(ch.session.messageStats.publish).toBe(3);
  });

  it('publishing to a missing exchange is 404; confirm and tx modes exclude each other (406)', () => {
    const vhost = newVhost();
    const ch = new FakeChannel(vhost);
    ch.failing(() => ch.publish('missing', 'k', 'x'), 404, "NOT_FOUND - no exchange 'missing' in vhost '/'");
    const confirming = new FakeChannel(vhost);
    confirming.session.selectConfirm();
    confirming.failing(() => confirming.session.selectTx(), 406, 'PRECONDITION_FAILED - cannot switch from confirm to tx mode');
    const tx = new FakeChannel(vhost);
    tx.session.selectTx();
    tx.failing(() => tx.session.selectConfirm(), 406, 'PRECONDITION_FAILED - cannot switch from tx to confirm mode');
  });
});

describe('transactions', () => {
  it('publishes wait for commit; rollback discards them', () => {
    const ch = new FakeChannel(newVhost());
    const q = ch.declareQueue('q');
    ch.session.selectTx();
    ch.publish('', 'q', 'kept');
    ch.publish('amq.direct', 'nowhere', 'returned at commit', { mandatory: true });
    expect(ch.session.uncommittedMessages).toBe(2);
    expect(counts(q).ready).toBe(0);
    expect(ch.session.commit()).toBe(false); // nothing persistent: commit-ok need not wait for a disk
    expect(counts(q).ready).toBe(1);
    expect(ch.sink.returns.map((r) => [r.replyCode, r.body])).toEqual([[312, 'returned at commit']]);
    ch.publish('', 'q', 'rolled back');
    ch.session.rollback();
    ch.session.commit();
    expect(ch.drain('q')).toEqual(['kept']);
  });

  it('acks and rejects take effect at commit; rollback leaves the deliveries unacked and ackable again', () => {
    const ch = new FakeChannel(newVhost());
    const q = ch.declareQueue('q');
    publishN(ch, 'q', 3);
    for (let i = 0; i < 3; i++) ch.get('q');
    ch.session.selectTx();
    ch.ack(1);
    ch.nack(2, false, true);
    expect(ch.session.uncommittedAcks).toBe(2);
    expect(counts(q)).toEqual({ ready: 0, unacked: 3, consumers: 0 });
    // Claimed by the transaction: a second ack of the same tag fails at once.
    ch.session.rollback();
    expect(ch.session.uncommittedAcks).toBe(0);
    expect(counts(q)).toEqual({ ready: 0, unacked: 3, consumers: 0 });
    ch.ack(1);
    ch.nack(2, false, true);
    ch.ack(3);
    ch.session.commit();
    expect(counts(q)).toEqual({ ready: 1, unacked: 0, consumers: 0 });
    expect(ch.get('q', true)).toMatchObject({ deliveryTag: 4, redelivered: true, messageCount: 0 });
  });

  it('acking a tag twice in one transaction is 406 at the second ack, not at commit', () => {
    const ch = new FakeChannel(newVhost());
    ch.declareQueue('q');
    publishN(ch, 'q', 1);
    ch.get('q');
    ch.session.selectTx();
    ch.ack(1);
    ch.failing(() => ch.ack(1), 406, 'PRECONDITION_FAILED - unknown delivery tag 1');
  });

  it('commit and rollback without tx.select are 406', () => {
    const vhost = newVhost();
    const a = new FakeChannel(vhost);
    a.failing(() => a.session.commit(), 406, 'PRECONDITION_FAILED - channel is not transactional');
    const b = new FakeChannel(vhost);
    b.failing(() => b.session.rollback(), 406, 'PRECONDITION_FAILED - channel is not transactional');
  });
});
