/**
 * connections: open N connections, each with a channel and a consumer on one
 * shared queue, at most --concurrency handshakes in flight. Reports the time
 * to open them all, per-connection open time percentiles, and — with
 * --broker-pid — the broker's RSS growth per connection (VmRSS before and a
 * second after the last one opened). Bounded by --time: opening stops there.
 */
import { AmqpClient } from '../client.js';
import { LatencyRecorder, RssSampler, nowMs, sleep } from '../stats.js';
import { fmtInt } from '../progress.js';
import { closeAll, interruption, round1, withSetup, type Scenario } from './common.js';

export const connections: Scenario = (ctx) => withSetup(ctx, async (_setup, ch, res, result) => {
  const o = ctx.opts;
  const url = ctx.target.parsed;
  const queue = `${ctx.runId}-conns`;
  await ch.declareQueue(queue, {});
  res.queues.push(queue);
  const pid = ctx.target.brokerPid;
  const rss = pid !== null ? new RssSampler(pid) : null;
  if (rss) {
    await sleep(300);
    rss.sample();
  }
  const rssBefore = rss?.last ?? null;

  const clients: AmqpClient[] = [];
  const openTimes = new LatencyRecorder();
  let next = 0;
  let failed: Error | null = null;
  const t0 = nowMs();
  const deadline = t0 + o.time * 1000;
  ctx.progress.start(() => `[${ctx.target.label}] connections: ${fmtInt(clients.length)}/${fmtInt(o.connections)} open, ${((nowMs() - t0) / 1000).toFixed(0)}s`);
  const worker = async (): Promise<void> => {
    while (next < o.connections && !failed && !interruption.requested && nowMs() < deadline) {
      const i = next++;
      const started = nowMs();
      try {
        const c = await AmqpClient.connect(url, { name: `${ctx.runId}-conn-${i}` });
        clients.push(c);
        const cch = await c.openChannel();
        await cch.consume(queue, { noAck: true }, () => {});
        openTimes.add((nowMs() - started) * 1e6);
      } catch (err) {
        failed ??= err as Error;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(o.concurrency, o.connections) }, worker));
    const openSeconds = (nowMs() - t0) / 1000;
    ctx.progress.stop();
    const opened = openTimes.count;
    const m = result.metrics;
    m['connections_opened'] = opened;
    m['open_total_s'] = openSeconds;
    m['connections_per_s'] = opened / openSeconds;
    const s = openTimes.summary([50, 99]);
    m['open_p50_ms'] = s.percentilesMs[0]!;
    m['open_p99_ms'] = s.percentilesMs[1]!;
    m['open_max_ms'] = s.maxMs;
    if (failed) result.info['error'] = (failed as Error).message;
    if (opened < o.connections) result.info['warning'] = `opened ${opened} of ${o.connections} connections${failed ? '' : ' before the time limit'}`;
    if (rss && rssBefore !== null) {
      await sleep(1000); // let the broker settle (GC, lazily allocated buffers)
      rss.sample();
      const after = rss.last ?? rssBefore;
      m['broker_rss_per_conn_kb'] = opened ? (after - rssBefore) / opened : NaN;
      result.info['broker_rss_before_mb'] = round1(rssBefore / 1024);
      result.info['broker_rss_after_mb'] = round1(after / 1024);
    }
    const c0 = nowMs();
    await closeAll(clients);
    clients.length = 0;
    m['close_total_s'] = (nowMs() - c0) / 1000;
  } finally {
    ctx.progress.stop();
    await closeAll(clients);
  }
});
