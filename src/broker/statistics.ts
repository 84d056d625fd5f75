import { MessageStats, RATE_INTERVAL_MS, ratePerSecond } from '../observe/stats.js';
import { guarded, type ErrorLog } from '../observe/guard.js';
import type { VirtualHost } from './virtual-host.js';

/** Byte counters of one connection at a sample, and their rates. */
interface ByteSample {
  recv: number;
  send: number;
  recvRate: number;
  sendRate: number;
  seen: number;
}

/** Ready/unacked message counts over all queues, with rates of change. */
export interface QueueTotals {
  messages: number;
  messagesReady: number;
  messagesUnacknowledged: number;
  messagesRate: number;
  messagesReadyRate: number;
  messagesUnacknowledgedRate: number;
}

/**
 * Rate sampling and totals. Every RATE_INTERVAL_MS (RabbitMQ's 5 s collect
 * interval) each queue's, exchange's and channel's counters take a sample,
 * as do the per-vhost and overall channel totals. Counts read through here
 * are summed at read time (exact); rates are those of the last sample.
 */
export class Statistics {
  private readonly vhostSamples = new Map<string, MessageStats>();
  private readonly overallSample = new MessageStats();
  private readonly bytes = new Map<number, ByteSample>();
  private lastQueueTotals = { messages: 0, ready: 0, unacked: 0 };
  private queueRates = { messages: 0, ready: 0, unacked: 0 };
  private timer: NodeJS.Timeout | null = null;
  private lastSampleAt = Date.now();
  private round = 0;

  constructor(
    private readonly vhosts: ReadonlyMap<string, VirtualHost>,
    /** Each open connection's id and socket byte counts. */
    private readonly connectionBytes: () => Iterable<{ id: number; recvOct: number; sendOct: number }>,
  ) {}

  start(interval = RATE_INTERVAL_MS, logger: ErrorLog | null = null): void {
    if (this.timer) return;
    this.timer = setInterval(guarded(logger, 'statistics sample', {}, () => this.sample()), interval);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Takes one rate sample of every counter (the timer calls this; tests may too). */
  sample(now = Date.now()): void {
    const seconds = (now - this.lastSampleAt) / 1000;
    this.lastSampleAt = now;
    const overall = this.overallSample;
    overall.reset();
    let messages = 0;
    let ready = 0;
    let unacked = 0;
    for (const vhost of this.vhosts.values()) {
      for (const q of vhost.queues.values()) {
        q.messageStats.sample(seconds);
        q.messageStats.sampleDepth(q.messageCount, q.unackedCount, seconds);
        ready += q.messageCount;
        unacked += q.unackedCount;
      }
      for (const x of vhost.exchanges.values()) x.messageStats.sample(seconds);
      vhost.channels.sample(seconds);
      let totals = this.vhostSamples.get(vhost.name);
      if (!totals) this.vhostSamples.set(vhost.name, (totals = new MessageStats()));
      totals.reset();
      vhost.channels.totals(totals);
      totals.sample(seconds);
      overall.add(totals);
    }
    // A vhost deleted without forgetVhost() (a reset by the testing API) loses its samples here.
    if (this.vhostSamples.size > this.vhosts.size) for (const name of this.vhostSamples.keys()) if (!this.vhosts.has(name)) this.vhostSamples.delete(name);
    overall.sample(seconds);
    messages = ready + unacked;
    const last = this.lastQueueTotals;
    if (seconds > 0) this.queueRates = { messages: (messages - last.messages) / seconds, ready: (ready - last.ready) / seconds, unacked: (unacked - last.unacked) / seconds };
    this.lastQueueTotals = { messages, ready, unacked };
    const round = ++this.round;
    for (const c of this.connectionBytes()) {
      const b = this.bytes.get(c.id);
      if (!b) this.bytes.set(c.id, { recv: c.recvOct, send: c.sendOct, recvRate: 0, sendRate: 0, seen: round });
      else {
        b.recvRate = ratePerSecond(c.recvOct, b.recv, seconds);
        b.sendRate = ratePerSecond(c.sendOct, b.send, seconds);
        b.recv = c.recvOct;
        b.send = c.sendOct;
        b.seen = round;
      }
    }
    for (const [id, b] of this.bytes) if (b.seen !== round) this.bytes.delete(id);
  }

  /**
   * A deleted vhost's samples go with it (one re-created under the name starts
   * afresh). Queue, exchange and channel samples live on those objects and go
   * with them; a closed connection's byte sample goes at the next sample.
   */
  forgetVhost(name: string): void {
    this.vhostSamples.delete(name);
  }

  /** How many vhost and connection samples are kept (for leak checks). */
  get sampleCounts(): { vhosts: number; connections: number } {
    return { vhosts: this.vhostSamples.size, connections: this.bytes.size };
  }

  /** A vhost's channel counters now, with the rates of the last sample. */
  vhostTotals(vhost: VirtualHost): MessageStats {
    const totals = vhost.channels.totals(new MessageStats());
    const sampled = this.vhostSamples.get(vhost.name);
    return sampled ? totals.useRatesOf(sampled) : totals;
  }

  /** Every vhost's channel counters now, with the rates of the last sample. */
  overallTotals(): MessageStats {
    const totals = new MessageStats();
    for (const vhost of this.vhosts.values()) vhost.channels.totals(totals);
    return totals.useRatesOf(this.overallSample);
  }

  /** Message counts over every queue now (or over the given vhosts), with the rates of the last sample. */
  queueTotals(vhosts: Iterable<VirtualHost> = this.vhosts.values()): QueueTotals {
    let ready = 0;
    let unacked = 0;
    for (const vhost of vhosts) {
      for (const q of vhost.queues.values()) {
        ready += q.messageCount;
        unacked += q.unackedCount;
      }
    }
    const r = this.queueRates;
    return { messages: ready + unacked, messagesReady: ready, messagesUnacknowledged: unacked, messagesRate: r.messages, messagesReadyRate: r.ready, messagesUnacknowledgedRate: r.unacked };
  }

  /** A connection's byte rates at the last sample (bytes per second). */
  byteRates(connectionId: number): { recv: number; send: number } {
    const b = this.bytes.get(connectionId);
    return b ? { recv: b.recvRate, send: b.sendRate } : { recv: 0, send: 0 };
  }
}
