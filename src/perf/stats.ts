/**
 * Measurement helpers: latency samples and percentiles, medians, broker RSS
 * from /proc, and a sampler that remembers when counters last moved (so rates
 * need no clock read per message).
 */
import { readFileSync } from 'node:fs';

/** Latency samples in nanoseconds (growable, capped). */
export class LatencyRecorder {
  private data = new Float64Array(1 << 16);
  count = 0;
  /** Samples beyond the cap are dropped (counted here). */
  dropped = 0;

  constructor(private readonly cap = 20_000_000) {}

  add(ns: number): void {
    if (this.count === this.data.length) {
      if (this.count >= this.cap) {
        this.dropped++;
        return;
      }
      const grown = new Float64Array(Math.min(this.cap, this.data.length * 2));
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.count++] = ns;
  }

  /** Percentiles (0..100) in milliseconds, plus min/mean/max. */
  summary(ps: readonly number[] = [50, 99, 99.9]): { count: number; minMs: number; meanMs: number; maxMs: number; percentilesMs: number[] } {
    const n = this.count;
    if (n === 0) return { count: 0, minMs: NaN, meanMs: NaN, maxMs: NaN, percentilesMs: ps.map(() => NaN) };
    const sorted = this.data.slice(0, n).sort();
    let sum = 0;
    for (let i = 0; i < n; i++) sum += sorted[i]!;
    return {
      count: n,
      minMs: sorted[0]! / 1e6,
      meanMs: sum / n / 1e6,
      maxMs: sorted[n - 1]! / 1e6,
      percentilesMs: ps.map((p) => percentileOfSorted(sorted, p) / 1e6),
    };
  }
}

/** Nearest-rank percentile of sorted values. */
export function percentileOfSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const rank = Math.ceil((p * n) / 100 - 1e-9); // epsilon: 99.9 × 1000 / 100 is 999.0000000000001
  return sorted[Math.min(n - 1, Math.max(0, rank - 1))]!;
}

export function median(xs: readonly number[]): number {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

/** VmRSS of a process in KiB, or null when it cannot be read. */
export function readRssKb(pid: number): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /VmRSS:\s+(\d+)\s*kB/.exec(status);
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Samples a process's RSS periodically: first, peak and last values (KiB). */
export class RssSampler {
  first: number | null = null;
  peak = 0;
  last: number | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly pid: number, private readonly intervalMs = 100) {}

  sample(): number | null {
    const v = readRssKb(this.pid);
    if (v !== null) {
      this.first ??= v;
      if (v > this.peak) this.peak = v;
      this.last = v;
    }
    return v;
  }

  start(): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
    return this;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.sample();
  }
}

export const nowMs = (): number => performance.now();

/**
 * Watches a counter every `intervalMs` and records when it last changed, so
 * "n messages over the time until the last one" costs nothing per message.
 */
export class ChangeWatcher {
  last = 0;
  /** performance.now() when `last` was first seen (≈ the time of the last increment, ± interval). */
  changedAt: number;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly read: () => number, private readonly intervalMs = 10) {
    this.changedAt = nowMs();
    this.last = read();
  }

  poll(): void {
    const v = this.read();
    if (v !== this.last) {
      this.last = v;
      this.changedAt = nowMs();
    }
  }

  start(): this {
    this.timer = setInterval(() => this.poll(), this.intervalMs);
    return this;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.poll();
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until `done()` holds, or `watch` has not moved for `idleMs`, or
 * `timeoutMs` pass. Returns true when `done()` held.
 */
export async function settle(done: () => boolean, watchers: ChangeWatcher[], idleMs: number, timeoutMs: number): Promise<boolean> {
  const end = nowMs() + timeoutMs;
  for (;;) {
    if (done()) return true;
    const now = nowMs();
    if (now >= end) return false;
    for (const w of watchers) w.poll();
    const lastMove = Math.max(...watchers.map((w) => w.changedAt));
    if (now - lastMove >= idleMs) return false;
    await sleep(5);
  }
}
