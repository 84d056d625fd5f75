/**
 * `warren perf` building blocks without a network: the pre-encoded publish
 * ring, confirm bookkeeping, the topic reference matcher, percentiles, and
 * the report's ratios.
 */
import { describe, expect, it } from 'vitest';
import { ConfirmTracker } from '../../src/perf/channel.js';
import { parsePerfArgs } from '../../src/perf/options.js';
import { PublishRing, encodePublish, messageBody, publishProperties } from '../../src/perf/publisher.js';
import { buildReport, formatReport } from '../../src/perf/report.js';
import type { RunResult } from '../../src/perf/scenarios/common.js';
import { LatencyRecorder, median, percentileOfSorted } from '../../src/perf/stats.js';
import { cumulativeFanout, expectedFanout, topicBindings, topicMatches, topicRoutingKeys } from '../../src/perf/topic-keys.js';
import { decodeFrames } from '../helpers/raw-client.js';
import { MethodId, contentBodySize } from '../../src/protocol/index.js';

describe('PublishRing', () => {
  it('every window is whole publish triples, routing keys in order, wrapping around', () => {
    const ring = new PublishRing(1, { exchange: 'x', routingKeys: ['a', 'bb', 'ccc'], size: 10, persistent: true }, 131072, 4);
    expect(ring.maxBatch).toBe(4);
    const seen: string[] = [];
    for (const n of [4, 1, 3, 4, 2]) {
      const frames = decodeFrames(ring.next(n));
      expect(frames).toHaveLength(3 * n);
      for (let i = 0; i < n; i++) {
        const [m, h, b] = frames.slice(3 * i, 3 * i + 3);
        expect(m!.method!.id).toBe(MethodId.BasicPublish);
        const args = m!.method!.args as { exchange: string; routingKey: string };
        expect(args.exchange).toBe('x');
        seen.push(args.routingKey);
        expect(contentBodySize(h!.payload)).toBe(10);
        expect(b!.payload.equals(Buffer.alloc(10, 0x78))).toBe(true);
      }
    }
    expect(seen).toEqual(Array.from({ length: 14 }, (_, i) => ['a', 'bb', 'ccc'][i % 3]));
  });

  it('automatic batch: about 64 KiB per write; bodies above frame_max are split', () => {
    const small = new PublishRing(1, { exchange: '', routingKeys: ['q'], size: 64, persistent: false }, 131072);
    expect(small.maxBatch * small.tripleSize).toBeLessThanOrEqual(64 * 1024);
    expect(small.maxBatch * small.tripleSize).toBeGreaterThan(60 * 1024);
    const big = new PublishRing(1, { exchange: '', routingKeys: ['q'], size: 10_000, persistent: false }, 4096, 1);
    const frames = decodeFrames(big.next(1));
    expect(frames.map((f) => f.type)).toEqual([1, 2, 3, 3, 3]);
  });

  it('encodePublish reports where the body starts (latency stamps it there)', () => {
    const body = messageBody(16);
    body.writeBigInt64BE(123456789n, 0);
    const t = encodePublish(5, '', 'q', body, publishProperties(false), 131072);
    expect(t.bytes.readBigInt64BE(t.bodyOffset)).toBe(123456789n);
  });
});

describe('ConfirmTracker', () => {
  it('single, multiple and out-of-order acks and nacks', () => {
    const t = new ConfirmTracker();
    t.published = 10;
    t.settle(1, false, false);
    t.settle(3, false, false); // out of order
    t.settle(4, false, true); // nack
    expect([t.confirmed, t.nacked, t.outstanding]).toEqual([2, 1, 7]);
    t.settle(5, true, false); // settles 2 and 5 (3, 4 already)
    expect([t.confirmed, t.nacked, t.outstanding]).toEqual([4, 1, 5]);
    t.settle(5, true, false); // duplicate: nothing
    t.settle(3, false, false);
    expect(t.outstanding).toBe(5);
    t.settle(7, false, false);
    t.settle(6, false, false);
    t.settle(10, true, false);
    expect([t.confirmed, t.nacked, t.outstanding]).toEqual([9, 1, 0]);
  });
});

describe('topic reference matcher', () => {
  it('matches AMQP topic patterns', () => {
    expect(topicMatches('a.b.c', 'a.b.c')).toBe(true);
    expect(topicMatches('a.*.c', 'a.b.c')).toBe(true);
    expect(topicMatches('a.*.c', 'a.c')).toBe(false);
    expect(topicMatches('a.#', 'a')).toBe(true);
    expect(topicMatches('a.#', 'a.b.c')).toBe(true);
    expect(topicMatches('#.c', 'c')).toBe(true);
    expect(topicMatches('#', '')).toBe(true);
    expect(topicMatches('#.b.#', 'a.b.c')).toBe(true);
    expect(topicMatches('*', '')).toBe(false);
    expect(topicMatches('a.*', 'a.b.c')).toBe(false);
  });

  it('bindings and keys are deterministic; fan-out counts distinct queues', () => {
    const b = topicBindings(100, 1000);
    expect(b).toHaveLength(1000);
    expect(new Set(b.map((x) => x.queueIndex)).size).toBe(100);
    expect(b.some((x) => x.pattern.includes('*'))).toBe(true);
    expect(b.some((x) => x.pattern.startsWith('#'))).toBe(true);
    const keys = topicRoutingKeys(100, 1000, 500);
    expect(topicRoutingKeys(100, 1000, 500)).toEqual(keys);
    const f = expectedFanout(b, keys);
    expect(f.mean).toBeGreaterThan(0.5);
    expect(f.unroutable).toBeGreaterThan(0);
    expect(f.unroutable).toBeLessThan(1);
    const prefix = cumulativeFanout(b, keys);
    expect(prefix[keys.length]! / keys.length).toBeCloseTo(f.mean, 10);
    // One queue bound twice matching the same key counts once.
    expect(expectedFanout([{ queueIndex: 0, pattern: 'a.*' }, { queueIndex: 0, pattern: '#' }], ['a.b']).mean).toBe(1);
  });
});

describe('stats', () => {
  it('nearest-rank percentiles and medians', () => {
    const sorted = Float64Array.from({ length: 1000 }, (_, i) => i + 1);
    expect(percentileOfSorted(sorted, 50)).toBe(500);
    expect(percentileOfSorted(sorted, 99)).toBe(990);
    expect(percentileOfSorted(sorted, 99.9)).toBe(999);
    expect(percentileOfSorted(sorted, 100)).toBe(1000);
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    expect(median([NaN, 5])).toBe(5);
  });

  it('LatencyRecorder grows and summarises in ms', () => {
    const r = new LatencyRecorder();
    for (let i = 1; i <= 100_000; i++) r.add(i * 1000); // 1 µs … 100 ms
    const s = r.summary([50, 99]);
    expect(s.count).toBe(100_000);
    expect(s.percentilesMs[0]).toBeCloseTo(50, 5);
    expect(s.percentilesMs[1]).toBeCloseTo(99, 5);
    expect(s.maxMs).toBeCloseTo(100, 5);
  });
});

describe('report', () => {
  const run = (label: string, delivered: number): RunResult => ({ scenario: 'throughput', runId: 'perf-x', label, target: `amqp://${label}`, broker: label, metrics: { delivered_msgs_s: delivered }, info: {} });

  it('--vs: per-run ratios A/B and their median', () => {
    const o = parsePerfArgs(['throughput', '--vs', 'amqp://b', '--runs', '3'])!;
    const report = buildReport(o, [run('A', 200), run('B', 100), run('A', 300), run('B', 100), run('A', 100), run('B', 200)]);
    const s = report.summary['delivered_msgs_s']!;
    expect(s.ratios).toEqual([2, 3, 0.5]);
    expect(s.median_ratio).toBe(2);
    expect([s.median_a, s.median_b]).toEqual([200, 100]);
    const text = formatReport(o, report);
    expect(text).toMatch(/delivered \(msgs\/s\)\s+run 1\s+200\s+100\s+2\.00×/);
    expect(text).toMatch(/median\s+200\s+100\s+2\.00×/);
  });

  it('the JSON options never show passwords', () => {
    const o = parsePerfArgs(['throughput', '-u', 'amqp://u:secret@a', '--vs', 'amqp://v:hidden@b'])!;
    const json = JSON.stringify(buildReport(o, []));
    expect(json).not.toMatch(/secret|hidden/);
  });
});
