/**
 * latency: one publisher at a fixed rate, each message stamped with its send
 * time (process.hrtime, same process as the consumer), one consumer: the
 * publish→deliver distribution in milliseconds.
 */
import { LatencyRecorder } from '../stats.js';
import { addLoadMetrics, runLoad, withSetup, type Scenario } from './common.js';

export const latency: Scenario = (ctx) => withSetup(ctx, async (_setup, ch, res, result) => {
  const o = ctx.opts;
  const queue = `${ctx.runId}-latency`;
  await ch.declareQueue(queue, { durable: o.durable });
  res.queues.push(queue);
  const rec = new LatencyRecorder();
  const out = await runLoad(ctx, {
    publishers: Array.from({ length: o.publishers }, () => ({ exchange: '', routingKeys: [queue], size: o.size, persistent: o.persistent })),
    consumerQueues: Array.from({ length: o.consumers }, () => queue),
    consumer: { noAck: !o.ack, prefetch: o.prefetch, multiAck: o.multiAck, latency: rec },
    expected: (n) => n.reduce((a, b) => a + b, 0),
    stamped: true,
  });
  addLoadMetrics(result, out, o.size, o, true);
  const s = rec.summary([50, 99, 99.9]);
  const m = result.metrics;
  m['latency_p50_ms'] = s.percentilesMs[0]!;
  m['latency_p99_ms'] = s.percentilesMs[1]!;
  m['latency_p999_ms'] = s.percentilesMs[2]!;
  m['latency_max_ms'] = s.maxMs;
  m['latency_mean_ms'] = s.meanMs;
  result.info['latency_samples'] = s.count;
  result.info['target_rate'] = o.rate * o.publishers;
});
