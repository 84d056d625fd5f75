/**
 * topic: a topic exchange with --bindings wildcard bindings spread over
 * --queues queues (one consumer each); publishers cycle through
 * --routing-keys mixed keys. Reports delivered msgs/s, the time to create the
 * bindings, and the expected fan-out (computed with a reference matcher, so a
 * broker that misroutes shows up as delivered ≠ published × fan-out).
 */
import { cumulativeFanout, expectedFanout, topicBindings, topicRoutingKeys } from '../topic-keys.js';
import { nowMs } from '../stats.js';
import { addLoadMetrics, round3, runLoad, withSetup, type Scenario } from './common.js';

export const topic: Scenario = (ctx) => withSetup(ctx, async (_setup, ch, res, result) => {
  const o = ctx.opts;
  const exchange = `${ctx.runId}-topic`;
  await ch.declareExchange(exchange, 'topic', { durable: o.durable });
  res.exchanges.push(exchange);
  const queues: string[] = [];
  for (let i = 0; i < o.queues; i++) {
    const name = `${ctx.runId}-tq${i}`;
    await ch.declareQueue(name, { durable: o.durable });
    res.queues.push(name);
    queues.push(name);
  }
  const bindings = topicBindings(o.queues, o.bindings);
  const t0 = nowMs();
  await ch.bindMany(bindings.map((b) => ({ queue: queues[b.queueIndex]!, exchange, routingKey: b.pattern })));
  const bindMs = nowMs() - t0;
  const keys = topicRoutingKeys(o.queues, o.bindings, o.routingKeys);
  // The reference matcher is O(keys × bindings): sample when that gets large.
  const sample = keys.length * bindings.length > 20_000_000 ? keys.filter((_, i) => i % Math.ceil((keys.length * bindings.length) / 20_000_000) === 0) : keys;
  const expect = expectedFanout(bindings, sample);
  // Publishers cycle the keys in order from the first: n publishes reach full cycles + a prefix.
  const prefix: number[] | null = sample === keys ? cumulativeFanout(bindings, keys) : null;
  const out = await runLoad(ctx, {
    publishers: Array.from({ length: o.publishers }, () => ({ exchange, routingKeys: keys, size: o.size, persistent: o.persistent })),
    consumerQueues: queues,
    consumer: { noAck: !o.ack, prefetch: o.prefetch, multiAck: o.multiAck },
    expected: (n) => (prefix === null ? NaN : n.reduce((sum, k) => sum + Math.floor(k / keys.length) * prefix[keys.length]! + prefix[k % keys.length]!, 0)),
  });
  addLoadMetrics(result, out, o.size, o, true);
  result.metrics['bindings_per_s'] = bindings.length / (bindMs / 1000);
  result.info['bindings'] = bindings.length;
  result.info['queues'] = queues.length;
  result.info['routing_keys'] = keys.length;
  result.info['expected_fanout'] = round3(expect.mean);
  result.info['unroutable_keys'] = round3(expect.unroutable);
  result.info['delivered_per_published'] = round3(out.published ? out.delivered / out.published : 0);
});
