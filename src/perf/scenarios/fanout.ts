/** fanout: one fanout exchange bound to Q queues, one consumer on each; total delivered msgs/s. */
import { addLoadMetrics, round3, runLoad, withSetup, type Scenario } from './common.js';

export const fanout: Scenario = (ctx) => withSetup(ctx, async (_setup, ch, res, result) => {
  const o = ctx.opts;
  const exchange = `${ctx.runId}-fanout`;
  await ch.declareExchange(exchange, 'fanout', { durable: o.durable });
  res.exchanges.push(exchange);
  const queues: string[] = [];
  for (let i = 0; i < o.queues; i++) {
    const name = `${ctx.runId}-fq${i}`;
    await ch.declareQueue(name, { durable: o.durable });
    res.queues.push(name);
    await ch.bindQueue(name, exchange, '');
    queues.push(name);
  }
  const out = await runLoad(ctx, {
    publishers: Array.from({ length: o.publishers }, () => ({ exchange, routingKeys: [''], size: o.size, persistent: o.persistent })),
    consumerQueues: queues,
    consumer: { noAck: !o.ack, prefetch: o.prefetch, multiAck: o.multiAck },
    expected: (n) => queues.length * n.reduce((a, b) => a + b, 0),
  });
  addLoadMetrics(result, out, o.size, o, true);
  result.metrics['delivered_per_queue_msgs_s'] = result.metrics['delivered_msgs_s']! / queues.length;
  result.info['queues'] = queues.length;
  result.info['delivered_per_published'] = round3(out.published ? out.delivered / out.published : 0);
});
