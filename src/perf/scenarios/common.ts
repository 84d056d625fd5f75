/**
 * What every scenario shares: the run context, unique resource names,
 * opening connections, cleanup, the measured publish phase (publishers run
 * for --time, then consumers and confirms get --drain-timeout to catch up),
 * and the result shape.
 */
import { randomBytes } from 'node:crypto';
import type { PerfChannel } from '../channel.js';
import { AmqpClient } from '../client.js';
import { Consumer, type ConsumerOptions } from '../consumer.js';
import type { PerfOptions } from '../options.js';
import { fmtInt, type Progress } from '../progress.js';
import { Publisher, PublishRing, encodePublish, messageBody, publishProperties, type MessageSpec } from '../publisher.js';
import { ChangeWatcher, RssSampler, nowMs, settle, sleep } from '../stats.js';
import { parseAmqpUrl, redactUrl, type AmqpUrl } from '../url.js';

export interface Target {
  /** 'A' (--url) or 'B' (--vs). */
  label: string;
  url: string;
  parsed: AmqpUrl;
  brokerPid: number | null;
}

export function makeTarget(label: string, url: string, brokerPid: number | null): Target {
  return { label, url, parsed: parseAmqpUrl(url), brokerPid };
}

export interface ScenarioContext {
  opts: PerfOptions;
  target: Target;
  progress: Progress;
  /** Prefix of every resource name this run creates. */
  runId: string;
}

export type Metrics = Record<string, number>;

export interface RunResult {
  scenario: string;
  /** Prefix of every queue/exchange name the run created (all deleted at its end). */
  runId: string;
  label: string;
  target: string;
  /** Broker product/version from connection.start. */
  broker: string;
  metrics: Metrics;
  /** Descriptive facts (counts, the broker's identity, warnings). */
  info: Record<string, string | number | boolean>;
}

export type Scenario = (ctx: ScenarioContext) => Promise<RunResult>;

/** Ctrl-C: the first one ends the current run early (resources still get deleted). */
export const interruption = { requested: false };
const interruptHooks = new Set<() => void>();

export function onInterrupt(hook: () => void): () => void {
  interruptHooks.add(hook);
  if (interruption.requested) hook();
  return () => interruptHooks.delete(hook);
}

export function requestInterrupt(): void {
  interruption.requested = true;
  for (const h of [...interruptHooks]) h();
}

export function newRunId(): string {
  return `perf-${process.pid.toString(36)}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

export function brokerName(c: AmqpClient): string {
  const p = c.serverProperties;
  const text = (v: unknown): string | undefined => (typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString() : undefined);
  // Warren reports product "RabbitMQ" (clients switch behaviour on it) and its own version apart.
  const warren = text(p['warren_version']);
  if (warren !== undefined) return `Warren ${warren}`;
  return `${text(p['product']) ?? '?'} ${text(p['version']) ?? ''}`.trim();
}

export function emptyResult(ctx: ScenarioContext, broker: string): RunResult {
  return { scenario: ctx.opts.scenario, runId: ctx.runId, label: ctx.target.label, target: redactUrl(ctx.target.url), broker, metrics: {}, info: {} };
}

/** Opens `n` connections, at most `concurrency` handshakes at a time. */
export async function connectMany(url: AmqpUrl, n: number, name: string, concurrency = 50): Promise<AmqpClient[]> {
  const out: AmqpClient[] = new Array(n);
  let next = 0;
  let failed: Error | null = null;
  const worker = async (): Promise<void> => {
    while (next < n && !failed) {
      const i = next++;
      try {
        out[i] = await AmqpClient.connect(url, { name: `${name}-${i}` });
      } catch (err) {
        failed ??= err as Error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  if (failed) {
    for (const c of out) c?.destroy();
    throw failed;
  }
  return out;
}

/** Closes connections politely (in parallel, bounded), destroying any that do not answer. */
export async function closeAll(clients: Iterable<AmqpClient | undefined>): Promise<void> {
  const list = [...clients].filter((c): c is AmqpClient => c !== undefined);
  for (let i = 0; i < list.length; i += 200) {
    await Promise.all(list.slice(i, i + 200).map((c) => c.close(3000).catch(() => c.destroy())));
  }
}

/** Queues and exchanges a run created, deleted at the end (on a fresh connection if need be). */
export class Resources {
  readonly queues: string[] = [];
  readonly exchanges: string[] = [];

  async cleanup(url: AmqpUrl, setup: AmqpClient | null): Promise<string | null> {
    if (this.queues.length === 0 && this.exchanges.length === 0) return null;
    let conn = setup && !setup.closed ? setup : null;
    let own = false;
    try {
      if (!conn) {
        conn = await AmqpClient.connect(url, { name: 'perf-cleanup' });
        own = true;
      }
      let ch: PerfChannel = await conn.openChannel();
      for (const kind of ['queues', 'exchanges'] as const) {
        for (const name of this[kind]) {
          try {
            if (kind === 'queues') await ch.deleteQueue(name);
            else await ch.deleteExchange(name);
          } catch {
            // already gone (auto-delete) or the channel closed on an error: carry on with a new channel
            if (ch.closed) ch = await conn.openChannel();
          }
        }
      }
      return null;
    } catch (err) {
      return `cleanup failed: ${(err as Error).message}`;
    } finally {
      if (own && conn) await conn.close().catch(() => conn?.destroy());
    }
  }
}

/**
 * Runs `body` with a setup connection and channel for declares, and deletes
 * every queue/exchange registered in `res` afterwards, whatever happened.
 */
export async function withSetup(ctx: ScenarioContext, body: (setup: AmqpClient, ch: PerfChannel, res: Resources, result: RunResult) => Promise<void>): Promise<RunResult> {
  const url = ctx.target.parsed;
  const setup = await AmqpClient.connect(url, { name: `${ctx.runId}-setup` });
  const res = new Resources();
  const result = emptyResult(ctx, brokerName(setup));
  let failure: unknown = null;
  try {
    const ch = await setup.openChannel();
    await body(setup, ch, res, result);
  } catch (err) {
    failure = err;
  }
  const cleanupError = await res.cleanup(url, setup);
  await setup.close().catch(() => setup.destroy());
  if (failure) throw failure;
  if (cleanupError) result.info['warning'] = cleanupError;
  return result;
}

/** Standard rates from a load outcome into a result. */
export function addLoadMetrics(result: RunResult, out: LoadOutcome, size: number, o: PerfOptions, withConsumers: boolean): void {
  const m = result.metrics;
  m['published_msgs_s'] = out.published / out.publishSeconds;
  m['published_mb_s'] = mb(out.published * size) / out.publishSeconds;
  if (o.confirm > 0) m['confirmed_msgs_s'] = out.confirmed / out.confirmSeconds;
  if (withConsumers) {
    m['delivered_msgs_s'] = out.delivered / out.deliverSeconds;
    m['delivered_mb_s'] = mb(out.delivered * size) / out.deliverSeconds;
    m['delivered_while_publishing_msgs_s'] = out.deliveredWhilePublishing / out.publishSeconds;
  }
  const i = result.info;
  i['published'] = out.published;
  if (o.confirm > 0) {
    i['confirmed'] = out.confirmed;
    if (out.nacked > 0) i['nacked'] = out.nacked;
  }
  if (withConsumers) i['delivered'] = out.delivered;
  i['publish_seconds'] = round3(out.publishSeconds);
  i['caught_up'] = out.drained;
  i['wire_bytes_per_publish'] = Math.round(out.tripleSize);
  if (out.errors.length) i['errors'] = out.errors.join('; ');
  addRss(result, out.rss);
}

export const round3 = (x: number): number => Math.round(x * 1000) / 1000;

export interface LoadPlan {
  /** One entry per publisher: what it publishes. */
  publishers: MessageSpec[];
  /** One entry per consumer: the queue it consumes. */
  consumerQueues: string[];
  consumer: ConsumerOptions;
  /** Deliveries expected for what each publisher published, to know when consumers caught up. NaN: unknown. */
  expected: (publishedByPublisher: readonly number[]) => number;
  /** Latency mode: every message carries its send time (copied and stamped per message instead of the pre-encoded ring). */
  stamped?: boolean;
}

export interface LoadOutcome {
  published: number;
  confirmed: number;
  nacked: number;
  delivered: number;
  /** Delivered by the time publishers stopped (the rest came while draining). */
  deliveredWhilePublishing: number;
  /** Seconds publishers ran. */
  publishSeconds: number;
  /** Seconds from start to the last confirm / delivery. */
  confirmSeconds: number;
  deliverSeconds: number;
  /** Consumers and confirms caught up within --drain-timeout. */
  drained: boolean;
  /** Bytes of one publish on the wire (mean over routing keys). */
  tripleSize: number;
  consumers: Consumer[];
  errors: string[];
  /** Broker RSS samples taken during the run (with --broker-pid). */
  rss: RssSampler | null;
}

/**
 * The common publish/consume run: consumers subscribe first, then publishers
 * start together and run for `--time` (or until their --messages), then
 * consumers and confirms get up to --drain-timeout to catch up.
 */
export async function runLoad(ctx: ScenarioContext, plan: LoadPlan): Promise<LoadOutcome> {
  const o = ctx.opts;
  const url = ctx.target.parsed;
  const clients: AmqpClient[] = [];
  const errors: string[] = [];
  try {
    const consumerConns = await connectMany(url, plan.consumerQueues.length, `${ctx.runId}-consumer`, o.concurrency);
    clients.push(...consumerConns);
    const consumers: Consumer[] = [];
    for (let i = 0; i < consumerConns.length; i++) {
      const ch = await consumerConns[i]!.openChannel();
      const c = new Consumer(ch, plan.consumer);
      await c.start(plan.consumerQueues[i]!);
      consumers.push(c);
    }
    const pubConns = await connectMany(url, plan.publishers.length, `${ctx.runId}-publisher`, o.concurrency);
    clients.push(...pubConns);
    const publishers: Publisher[] = [];
    let tripleSize = 0;
    for (let i = 0; i < pubConns.length; i++) {
      const conn = pubConns[i]!;
      const ch = await conn.openChannel();
      if (o.confirm > 0) await ch.confirmSelect();
      const spec = plan.publishers[i]!;
      const po = { limit: o.messages, rate: o.rate, confirmWindow: o.confirm };
      if (plan.stamped) {
        const t = encodePublish(ch.id, spec.exchange, spec.routingKeys[0]!, messageBody(spec.size), publishProperties(spec.persistent), conn.frameMax);
        tripleSize = t.bytes.length;
        publishers.push(new Publisher(conn, ch, null, po, t));
      } else {
        const ring = new PublishRing(ch.id, spec, conn.frameMax, o.batch);
        tripleSize = ring.tripleSize;
        publishers.push(new Publisher(conn, ch, ring, po));
      }
    }

    const sum = (f: (x: Publisher) => number): number => publishers.reduce((s, p) => s + f(p), 0);
    const delivered = (): number => consumers.reduce((s, c) => s + c.delivered, 0);
    const pubWatch = new ChangeWatcher(() => sum((p) => p.published));
    const confWatch = new ChangeWatcher(() => sum((p) => p.confirmed + p.nacked));
    const delWatch = new ChangeWatcher(delivered);
    const rss = ctx.target.brokerPid !== null ? new RssSampler(ctx.target.brokerPid).start() : null;

    let prev = { t: nowMs(), p: 0, c: 0, d: 0 };
    const t0 = nowMs();
    ctx.progress.start(() => {
      const now = nowMs();
      const cur = { t: now, p: sum((p) => p.published), c: sum((p) => p.confirmed), d: delivered() };
      const dt = (cur.t - prev.t) / 1000;
      const line = `[${ctx.target.label}] ${o.scenario} ${((now - t0) / 1000).toFixed(0)}s  published ${fmtInt((cur.p - prev.p) / dt)}/s` +
        (o.confirm > 0 ? `  confirmed ${fmtInt((cur.c - prev.c) / dt)}/s` : '') +
        `  delivered ${fmtInt((cur.d - prev.d) / dt)}/s  (total ${fmtInt(cur.p)} → ${fmtInt(cur.d)})`;
      prev = cur;
      return line;
    });

    pubWatch.start();
    confWatch.start();
    delWatch.start();
    const start = nowMs();
    const runs = publishers.map((p) => p.start());
    const stopAll = (): void => publishers.forEach((p) => p.stop());
    const timer = setTimeout(stopAll, o.time * 1000);
    const unhook = onInterrupt(stopAll);
    await Promise.all(runs);
    clearTimeout(timer);
    const publishEnd = nowMs();
    const deliveredWhilePublishing = delivered();
    for (const p of publishers) if (p.error) errors.push(`publisher: ${p.error.message}`);

    // Let consumers and confirms catch up.
    const published = sum((p) => p.published);
    const want = plan.expected(publishers.map((p) => p.published));
    const expected = Number.isFinite(want) ? want : Infinity;
    const caughtUp = (): boolean =>
      (o.confirm === 0 || sum((p) => p.outstanding) === 0) && (consumers.length === 0 || delivered() >= expected);
    const drained = await settle(caughtUp, [confWatch, delWatch], 1000, interruption.requested ? 0 : o.drainTimeout * 1000);
    unhook();
    ctx.progress.stop();
    pubWatch.stop();
    confWatch.stop();
    delWatch.stop();
    rss?.stop();
    for (const c of consumers) {
      c.flushAcks();
      if (c.stoppedWhy) errors.push(`consumer: ${c.stoppedWhy}`);
    }
    // A channel the broker closed (or a consumer it cancelled) makes the numbers meaningless: fail the run.
    if (errors.length > 0) throw new Error(errors.join('; '));
    const secs = (t: number): number => Math.max(0.001, (t - start) / 1000);
    const out: LoadOutcome = {
      published,
      confirmed: sum((p) => p.confirmed),
      nacked: sum((p) => p.nacked),
      delivered: delivered(),
      deliveredWhilePublishing,
      publishSeconds: secs(publishEnd),
      confirmSeconds: secs(Math.max(confWatch.changedAt, start + 1)),
      deliverSeconds: secs(Math.max(delWatch.changedAt, start + 1)),
      drained,
      tripleSize,
      consumers,
      errors,
      rss,
    };
    return out;
  } finally {
    ctx.progress.stop();
    await closeAll(clients);
  }
}

/** Adds broker RSS facts (MiB) to a result. */
export function addRss(result: RunResult, rss: RssSampler | null): void {
  if (!rss || rss.first === null) return;
  result.metrics['broker_rss_peak_mb'] = rss.peak / 1024;
  result.info['broker_rss_before_mb'] = round1(rss.first / 1024);
  result.info['broker_rss_after_mb'] = round1((rss.last ?? 0) / 1024);
}

export const round1 = (x: number): number => Math.round(x * 10) / 10;
export const mb = (bytes: number): number => bytes / (1024 * 1024);

export { sleep };
