/**
 * Message statistics: plain integer counters kept on the model objects the
 * hot path already touches (a queue, an exchange, a channel's session), so
 * counting a message is one increment — no maps, strings or allocations.
 * Rates are computed off the hot path, every RATE_INTERVAL_MS, by comparing
 * with the counts of the previous sample (RabbitMQ's collect interval is 5 s).
 *
 * The field names are RabbitMQ's `message_stats` keys, so the management API
 * and the metrics can use them as they are.
 */
export const RATE_INTERVAL_MS = 5000;

/** The change from `before` to `now` per second over `seconds` (0 when no time passed). */
export function ratePerSecond(now: number, before: number, seconds: number): number {
  return seconds > 0 ? (now - before) / seconds : 0;
}

/** Every counter, in the order the API lists them. */
export const MESSAGE_STAT_KEYS = [
  'publish',
  'publish_in',
  'publish_out',
  'confirm',
  'deliver',
  'deliver_no_ack',
  'get',
  'get_no_ack',
  'get_empty',
  'redeliver',
  'ack',
  'return_unroutable',
  'drop_unroutable',
] as const;

export type MessageStatKey = (typeof MESSAGE_STAT_KEYS)[number];

export class MessageStats {
  /* eslint-disable camelcase -- RabbitMQ's field names */
  /** Messages published (channel), or enqueued (queue). */
  publish = 0;
  /** Messages published into an exchange. */
  publish_in = 0;
  /** Messages an exchange routed to at least one queue. */
  publish_out = 0;
  /** Publisher confirms sent. */
  confirm = 0;
  /** Deliveries to consumers that ack. */
  deliver = 0;
  /** Deliveries to no-ack consumers. */
  deliver_no_ack = 0;
  /** basic.get answered with a message, to be acked. */
  get = 0;
  /** basic.get answered with a message, no ack. */
  get_no_ack = 0;
  /** basic.get answered get-empty. */
  get_empty = 0;
  /** Deliveries and gets of messages marked redelivered. */
  redeliver = 0;
  ack = 0;
  /** Unroutable mandatory messages returned to their publisher. */
  return_unroutable = 0;
  /** Unroutable messages dropped (not mandatory). */
  drop_unroutable = 0;
  /* eslint-enable camelcase */

  /** Per-second rates at the last sample, by key (null until the first sample with activity). */
  private rates: Float64Array | null = null;
  /** The counts at the last sample. */
  private last: Float64Array | null = null;
  /** A queue's depth at the last sample, and its rates of change (messages per second). */
  private depth: { ready: number; unacked: number; readyRate: number; unackedRate: number } | null = null;

  /** Adds every counter of `other` to this one (totals over channels, vhosts). */
  add(other: MessageStats): void {
    for (const k of MESSAGE_STAT_KEYS) this[k] += other[k];
  }

  /** Sets every counter to 0 (before summing totals into it again). */
  reset(): void {
    for (const k of MESSAGE_STAT_KEYS) this[k] = 0;
  }

  /** Whether any counter is non-zero (RabbitMQ leaves message_stats empty until something happened). */
  get active(): boolean {
    for (const k of MESSAGE_STAT_KEYS) if (this[k] !== 0) return true;
    return false;
  }

  /** Takes a rate sample: each rate is the change since the previous sample over `seconds`. */
  sample(seconds: number): void {
    if (!this.active) return;
    const last = (this.last ??= new Float64Array(MESSAGE_STAT_KEYS.length));
    const rates = (this.rates ??= new Float64Array(MESSAGE_STAT_KEYS.length));
    for (let i = 0; i < MESSAGE_STAT_KEYS.length; i++) {
      const now = this[MESSAGE_STAT_KEYS[i]!];
      rates[i] = ratePerSecond(now, last[i]!, seconds);
      last[i] = now;
    }
  }

  /** Samples a queue's depth (ready and unacknowledged messages) for messages*_details.rate. */
  sampleDepth(ready: number, unacked: number, seconds: number): void {
    const d = this.depth;
    if (d === null) {
      // The first sample only records the depth: a rate needs two.
      this.depth = { ready, unacked, readyRate: 0, unackedRate: 0 };
      return;
    }
    d.readyRate = ratePerSecond(ready, d.ready, seconds);
    d.unackedRate = ratePerSecond(unacked, d.unacked, seconds);
    d.ready = ready;
    d.unacked = unacked;
  }

  /** The depth rates at the last sample: ready, unacknowledged (0 before any). */
  get readyRate(): number {
    return this.depth?.readyRate ?? 0;
  }

  get unackedRate(): number {
    return this.depth?.unackedRate ?? 0;
  }

  /** Shares the rates of `sampled` (fresh totals summed at read time show the sampler's rates). */
  useRatesOf(sampled: MessageStats): this {
    this.rates = sampled.rates;
    return this;
  }

  /** The rate of `key` at the last sample, in messages per second. */
  rate(key: MessageStatKey): number {
    return this.rates === null ? 0 : this.rates[MESSAGE_STAT_KEYS.indexOf(key)]!;
  }

  rateAt(index: number): number {
    return this.rates === null ? 0 : this.rates[index]!;
  }
}

/** Object churn in a vhost (RabbitMQ's rabbitmq_channels_opened_total, rabbitmq_queues_created_total…). */
export class Churn {
  channelsOpened = 0;
  channelsClosed = 0;
  /** queue.declare calls (not passive), whether or not they created the queue. */
  queuesDeclared = 0;
  queuesCreated = 0;
  queuesDeleted = 0;
}
