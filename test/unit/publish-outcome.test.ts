/**
 * VirtualHost.route's PublishOutcome, socket-free (test/helpers/model-harness.ts):
 * queues reached, refused by a reject-publish queue, the congested queue to
 * pause on — and that dead-lettering, which routes again in the middle of a
 * route, never changes what the publish being routed reports, except to pass
 * on the congestion of the dead-letter queue it fills.
 */
import { describe, expect, it } from 'vitest';
import { FLOW_HIGH } from '../../src/broker/queue.js';
import { FakeChannel, message, newVhost } from '../helpers/model-harness.js';

describe('PublishOutcome', () => {
  it('counts the queues reached; one reused instance per vhost, read at once', () => {
    const ch = new FakeChannel(newVhost());
    ch.declareQueue('a');
    ch.declareQueue('b');
    ch.bindQueue('a', 'amq.fanout', '');
    ch.bindQueue('b', 'amq.fanout', '');
    const vhost = ch.vhost;
    const fanout = vhost.exchangeForPublish('amq.fanout');
    const first = vhost.route(fanout, '', message('one'));
    expect([first.routed, first.rejected, first.congested, first.durableWrite]).toEqual([2, false, null, false]);
    const second = vhost.route(vhost.exchangeForPublish('amq.direct'), 'nowhere', message('two'));
    expect(second).toBe(first); // no allocation per publish: the same object, refilled
    expect([second.routed, second.rejected]).toEqual([0, false]);
  });

  it('a full reject-publish queue refuses: rejected, the other queue still counted; a nack and no basic.return', () => {
    const ch = new FakeChannel(newVhost());
    ch.declareQueue('full', { 'x-max-length': 1, 'x-overflow': 'reject-publish' });
    ch.declareQueue('open');
    ch.bindQueue('full', 'amq.fanout', '');
    ch.bindQueue('open', 'amq.fanout', '');
    ch.session.selectConfirm();
    ch.publish('amq.fanout', '', 'fits', { mandatory: true });
    ch.publish('amq.fanout', '', 'refused', { mandatory: true });
    const outcome = ch.vhost.route(ch.vhost.exchangeForPublish('amq.fanout'), '', message('again'));
    expect([outcome.routed, outcome.rejected]).toEqual([1, true]);
    expect(ch.sink.confirms).toEqual([{ seq: 1, ok: true }, { seq: 2, ok: false }]);
    expect(ch.sink.returns).toEqual([]);
    expect(ch.drain('full')).toEqual(['fits']);
    expect(ch.drain('open')).toEqual(['fits', 'refused', 'again']);
  });

  it('in a transaction the outcome is read at commit: refused ones are not returned, unroutable mandatory ones are', () => {
    const ch = new FakeChannel(newVhost());
    ch.declareQueue('full', { 'x-max-length': 0, 'x-overflow': 'reject-publish' });
    ch.session.selectTx();
    ch.publish('', 'full', 'refused', { mandatory: true });
    ch.publish('', 'nowhere', 'unroutable', { mandatory: true });
    expect(ch.sink.returns).toEqual([]);
    expect(ch.session.commit()).toBe(false); // nothing durable to wait for (in-memory vhost)
    expect(ch.sink.returns).toEqual([{ replyCode: 312, replyText: 'NO_ROUTE', routingKey: 'nowhere', body: 'unroutable' }]);
    expect(ch.drain('full')).toEqual([]);
  });

  it('a dead-letter queue refusing the dead copy does not turn the publish that pushed it out into a nack', () => {
    const ch = new FakeChannel(newVhost());
    ch.declareQueue('dlq', { 'x-max-length': 0, 'x-overflow': 'reject-publish' });
    ch.declareQueue('work', { 'x-max-length': 1, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'dlq' });
    ch.session.selectConfirm();
    ch.publish('', 'work', 'first');
    ch.publish('', 'work', 'second'); // pushes 'first' out (drop-head) into a DLQ that refuses it
    expect(ch.sink.confirms).toEqual([{ seq: 1, ok: true }, { seq: 2, ok: true }]);
    expect(ch.drain('work')).toEqual(['second']);
    expect(ch.drain('dlq')).toEqual([]);
  });

  it('reject-publish-dlx: the refused publish is a nack while its dead copy reaches the dead-letter queue', () => {
    const ch = new FakeChannel(newVhost());
    ch.declareQueue('dlq');
    ch.declareQueue('work', { 'x-max-length': 1, 'x-overflow': 'reject-publish-dlx', 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'dlq' });
    ch.session.selectConfirm();
    ch.publish('', 'work', 'kept');
    ch.publish('', 'work', 'refused', { mandatory: true });
    expect(ch.sink.confirms).toEqual([{ seq: 1, ok: true }, { seq: 2, ok: false }]);
    expect(ch.sink.returns).toEqual([]);
    expect(ch.drain('work')).toEqual(['kept']);
    expect(ch.drain('dlq')).toEqual(['refused']);
  });

  it('a congested dead-letter queue pauses the publisher whose publishes fill it', () => {
    const ch = new FakeChannel(newVhost());
    const dlq = ch.declareQueue('dlq');
    ch.declareQueue('work', { 'x-max-length': 1, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'dlq' });
    // A consumer with credit whose socket is backed up: the DLQ's backlog is a matter of speed.
    const reader = new FakeChannel(ch.vhost);
    reader.sink.writable = false;
    reader.consume('dlq');
    for (let i = 0; i <= FLOW_HIGH; i++) ch.publish('', 'work', `m${i}`);
    expect(dlq.messageCount).toBe(FLOW_HIGH);
    expect(ch.sink.throttledBy).toEqual([]);
    ch.publish('', 'work', 'over'); // one more dead copy: the DLQ is above FLOW_HIGH
    expect(dlq.messageCount).toBe(FLOW_HIGH + 1);
    expect(ch.sink.throttledBy).toEqual([dlq]);
    // Routed straight to the work queue, the outcome names the DLQ too (work itself holds one message).
    const outcome = ch.vhost.route(ch.vhost.exchangeForPublish(''), 'work', message('direct'));
    expect([outcome.routed, outcome.rejected, outcome.congested]).toEqual([1, false, dlq]);
  });
});
