/**
 * throughput: P publishers → Q queues (default exchange) → C consumers.
 * Publisher i publishes to queue i mod Q; consumer j consumes queue j mod Q.
 */
import type { MessageSpec } from '../publisher.js';
import { addLoadMetrics, runLoad, withSetup, type Scenario } from './common.js';

export const throughput: Scenario = (ctx) => withSetup(ctx, async (_setup, ch, res, result) => {
  const o = ctx.opts;
  const queues: string[] = [];
  for (let i = 0; i < o.queues; i++) {
    const name = `${ctx.runId}-q${i}`;
    await ch.declareQueue(name, { durable: o.durable });
    res.queues.push(name);
    queues.push(name);
  }
  const publishers: MessageSpec[] = Array.from({ length: o.publishers }, (_, i) => ({ exchange: '', routingKeys: [queues[i % queues.length]!], size: o.size, persistent: o.persistent }));
  const consumerQueues = Array.from({ length: o.consumers }, (_, j) => queues[j % queues.length]!);
  // Every message is delivered once when every queue that gets messages has a consumer.
  const fed = new Set(publishers.map((p) => p.routingKeys[0]!));
  const consumed = new Set(consumerQueues);
  const fanout = [...fed].every((q) => consumed.has(q)) ? 1 : NaN;
  const out = await runLoad(ctx, {
    publishers,
    consumerQueues,
    consumer: { noAck: !o.ack, prefetch: o.prefetch, multiAck: o.multiAck },
    expected: (n) => (o.consumers > 0 ? fanout * n.reduce((a, b) => a + b, 0) : 0),
  });
  addLoadMetrics(result, out, o.size, o, o.consumers > 0);
});
