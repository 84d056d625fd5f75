/**
 * backlog: fill one queue with --messages messages while nobody consumes,
 * then drain it with --consumers consumers. Fill time ends when the queue
 * reports all messages (queue.declare passive), so it is the same measure
 * with or without confirms. With --broker-pid, the broker's RSS is sampled
 * every 100 ms: peak, and after the fill. Bounded by --time for the whole run.
 */
import { AmqpClient } from '../client.js';
import { Consumer } from '../consumer.js';
import { fmtInt } from '../progress.js';
import { Publisher, PublishRing } from '../publisher.js';
import { RssSampler, nowMs, sleep } from '../stats.js';
import { addRss, closeAll, connectMany, interruption, mb, round1, withSetup, type Scenario } from './common.js';

export const backlog: Scenario = (ctx) => withSetup(ctx, async (_setup, ch, res, result) => {
  const o = ctx.opts;
  const url = ctx.target.parsed;
  const queue = `${ctx.runId}-backlog`;
  await ch.declareQueue(queue, { durable: o.durable });
  res.queues.push(queue);
  const total = o.messages;
  const deadline = nowMs() + o.time * 1000;
  const rss = ctx.target.brokerPid !== null ? new RssSampler(ctx.target.brokerPid).start() : null;
  const clients: AmqpClient[] = [];
  const m = result.metrics;
  const depth = async (): Promise<number> => (await ch.declareQueue(queue, { passive: true })).messageCount;
  try {
    // ---- fill
    const pubConns = await connectMany(url, o.publishers, `${ctx.runId}-publisher`, o.concurrency);
    clients.push(...pubConns);
    const publishers: Publisher[] = [];
    for (let i = 0; i < pubConns.length; i++) {
      const c = pubConns[i]!;
      const pch = await c.openChannel();
      if (o.confirm > 0) await pch.confirmSelect();
      const share = Math.floor(total / o.publishers) + (i < total % o.publishers ? 1 : 0);
      const ring = new PublishRing(pch.id, { exchange: '', routingKeys: [queue], size: o.size, persistent: o.persistent }, c.frameMax, o.batch);
      publishers.push(new Publisher(c, pch, ring, { limit: share, rate: o.rate, confirmWindow: o.confirm }));
    }
    let phase = 'fill';
    let queued = 0;
    const t0 = nowMs();
    ctx.progress.start(() => `[${ctx.target.label}] backlog ${phase}: published ${fmtInt(publishers.reduce((s, p) => s + p.published, 0))}, queued ${fmtInt(queued)}, ${((nowMs() - t0) / 1000).toFixed(0)}s`);
    const stopAll = (): void => publishers.forEach((p) => p.stop());
    const timer = setTimeout(stopAll, Math.max(0, deadline - nowMs()));
    await Promise.all(publishers.map((p) => p.start()));
    clearTimeout(timer);
    for (const p of publishers) if (p.error) throw p.error;
    // Everything written; the fill ends when the queue holds it all (confirms, if any, come first).
    while (publishers.some((p) => p.outstanding > 0) && nowMs() < deadline && !interruption.requested) await sleep(5);
    for (;;) {
      queued = await depth();
      if (queued >= total || nowMs() >= deadline || interruption.requested) break;
      await sleep(20);
    }
    const fillSeconds = (nowMs() - t0) / 1000;
    m['fill_msgs_s'] = queued / fillSeconds;
    m['fill_mb_s'] = mb(queued * o.size) / fillSeconds;
    result.info['queued'] = queued;
    result.info['fill_seconds'] = round1(fillSeconds);
    if (rss) {
      rss.sample();
      m['broker_rss_after_fill_mb'] = (rss.last ?? 0) / 1024;
      if (rss.first !== null && queued > 0) m['broker_bytes_per_msg'] = (((rss.last ?? 0) - rss.first) * 1024) / queued;
    }
    await closeAll(pubConns);
    if (queued < total) throw new Error(`the queue holds ${queued} of ${total} messages after ${fillSeconds.toFixed(1)} s (time limit or interrupted)`);

    // ---- drain
    phase = 'drain';
    const conConns = await connectMany(url, Math.max(1, o.consumers), `${ctx.runId}-consumer`, o.concurrency);
    clients.push(...conConns);
    const consumers: Consumer[] = [];
    for (const c of conConns) consumers.push(new Consumer(await c.openChannel(), { noAck: !o.ack, prefetch: o.prefetch, multiAck: o.multiAck }));
    const delivered = (): number => consumers.reduce((s, c) => s + c.delivered, 0);
    const d0 = nowMs();
    await Promise.all(consumers.map((c) => c.start(queue)));
    while (delivered() < queued && nowMs() < deadline && !interruption.requested) {
      if (consumers.some((c) => c.stoppedWhy)) throw new Error(`consumer stopped: ${consumers.find((c) => c.stoppedWhy)!.stoppedWhy}`);
      phase = `drain ${fmtInt(delivered())}/${fmtInt(queued)}`;
      await sleep(5);
    }
    const drainSeconds = (nowMs() - d0) / 1000;
    const got = delivered();
    m['drain_msgs_s'] = got / drainSeconds;
    m['drain_mb_s'] = mb(got * o.size) / drainSeconds;
    result.info['drained'] = got;
    result.info['drain_seconds'] = round1(drainSeconds);
    if (got < queued) result.info['warning'] = `drained ${got} of ${queued} before the time limit`;
    for (const c of consumers) c.flushAcks();
  } finally {
    ctx.progress.stop();
    rss?.stop();
    addRss(result, rss);
    await closeAll(clients);
  }
});
