/**
 * sink: the load generator's own ceiling. A sink (sink.ts) runs on a worker
 * thread; publishers publish into it for --time seconds (it answers the
 * handshake, then discards), then consumers consume the deliveries it floods
 * for --time seconds. What the tool reaches here is the most it can measure
 * on this machine; a broker result near it means the tool was the limit.
 */
import { AmqpClient } from '../client.js';
import { Consumer } from '../consumer.js';
import { fmtInt } from '../progress.js';
import { Publisher, PublishRing } from '../publisher.js';
import { startSinkWorker } from '../sink.js';
import { nowMs, sleep } from '../stats.js';
import { parseAmqpUrl } from '../url.js';
import { closeAll, connectMany, emptyResult, interruption, mb, onInterrupt, round3, type Scenario } from './common.js';

export const sink: Scenario = async (ctx) => {
  const o = ctx.opts;
  const server = await startSinkWorker({ floodSize: o.size });
  const url = parseAmqpUrl(`amqp://guest:guest@127.0.0.1:${server.port}/`);
  const result = emptyResult(ctx, 'warren-perf sink');
  result.target = `sink 127.0.0.1:${server.port}${server.threaded ? ' (worker thread)' : ' (in-process)'}`;
  const clients: AmqpClient[] = [];
  try {
    // ---- publish into the sink
    if (o.publishers > 0) {
      const conns = await connectMany(url, o.publishers, `${ctx.runId}-publisher`);
      clients.push(...conns);
      const pubs: Publisher[] = [];
      let tripleSize = 0;
      for (const c of conns) {
        const ch = await c.openChannel();
        const ring = new PublishRing(ch.id, { exchange: '', routingKeys: ['sink'], size: o.size, persistent: o.persistent }, c.frameMax, o.batch);
        tripleSize = ring.tripleSize;
        pubs.push(new Publisher(c, ch, ring, { limit: o.messages, rate: o.rate, confirmWindow: 0 }));
      }
      const before = await server.stats();
      const t0 = nowMs();
      const published = (): number => pubs.reduce((s, p) => s + p.published, 0);
      ctx.progress.start(() => `[sink] publishing ${fmtInt(published() / ((nowMs() - t0) / 1000))} msgs/s`);
      const stopAll = (): void => pubs.forEach((p) => p.stop());
      const timer = setTimeout(stopAll, o.time * 1000);
      const unhook = onInterrupt(stopAll);
      await Promise.all(pubs.map((p) => p.start()));
      clearTimeout(timer);
      unhook();
      const secs = (nowMs() - t0) / 1000;
      ctx.progress.stop();
      // Wait for the socket buffers to empty into the sink before reading its count.
      for (let i = 0; i < 200 && conns.some((c) => c.writableLength > 0); i++) await sleep(5);
      await sleep(50);
      const after = await server.stats();
      const received = (after.publishBytes - before.publishBytes) / tripleSize;
      const m = result.metrics;
      m['publish_msgs_s'] = published() / secs;
      m['publish_mb_s'] = mb(published() * o.size) / secs;
      m['sink_received_msgs_s'] = received / secs;
      m['publish_wire_mb_s'] = mb(after.publishBytes - before.publishBytes) / secs;
      result.info['published'] = published();
      result.info['wire_bytes_per_publish'] = Math.round(tripleSize);
      result.info['batch_publishes_per_write'] = new PublishRing(1, { exchange: '', routingKeys: ['sink'], size: o.size, persistent: o.persistent }, 131072, o.batch).maxBatch;
      // The sink stopped parsing at the first publish: it will never answer connection.close.
      for (const c of conns) c.destroy();
    }
    // ---- consume the sink's flood
    if (o.consumers > 0 && !interruption.requested) {
      const conns = await connectMany(url, o.consumers, `${ctx.runId}-consumer`);
      clients.push(...conns);
      const consumers: Consumer[] = [];
      for (const c of conns) consumers.push(new Consumer(await c.openChannel(), { noAck: true, prefetch: 0, multiAck: 1 }));
      const delivered = (): number => consumers.reduce((s, c) => s + c.delivered, 0);
      const t0 = nowMs();
      await Promise.all(consumers.map((c) => c.start('sink')));
      ctx.progress.start(() => `[sink] consuming ${fmtInt(delivered() / ((nowMs() - t0) / 1000))} msgs/s`);
      const end = t0 + o.time * 1000;
      while (nowMs() < end && !interruption.requested) await sleep(20);
      const got = delivered();
      const secs = (nowMs() - t0) / 1000;
      ctx.progress.stop();
      result.metrics['consume_msgs_s'] = got / secs;
      result.metrics['consume_mb_s'] = mb(got * o.size) / secs;
      result.info['delivered'] = got;
      await closeAll(conns);
    }
    result.info['sink_threaded'] = server.threaded;
    result.info['seconds_per_phase'] = round3(o.time);
  } finally {
    ctx.progress.stop();
    for (const c of clients) c.destroy();
    await server.close();
  }
  return result;
};
