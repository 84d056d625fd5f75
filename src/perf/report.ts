/**
 * Output: a readable table per metric (one column per run, or A | B | A/B
 * rows with --vs, and medians), or one JSON document.
 */
import type { PerfOptions } from './options.js';
import type { RunResult } from './scenarios/common.js';
import { median } from './stats.js';
import { redactUrl } from './url.js';

type Unit = 'msgs/s' | 'MB/s' | 'ms' | 's' | 'KiB' | 'MiB' | 'B' | 'count' | '/s';

interface MetricSpec {
  label: string;
  unit: Unit;
  better: 'higher' | 'lower';
}

/** Known metrics, in display order. */
export const METRICS: Record<string, MetricSpec> = {
  published_msgs_s: { label: 'published', unit: 'msgs/s', better: 'higher' },
  published_mb_s: { label: 'published', unit: 'MB/s', better: 'higher' },
  confirmed_msgs_s: { label: 'confirmed', unit: 'msgs/s', better: 'higher' },
  delivered_msgs_s: { label: 'delivered', unit: 'msgs/s', better: 'higher' },
  delivered_mb_s: { label: 'delivered', unit: 'MB/s', better: 'higher' },
  delivered_while_publishing_msgs_s: { label: 'delivered while publishing', unit: 'msgs/s', better: 'higher' },
  delivered_per_queue_msgs_s: { label: 'delivered per queue', unit: 'msgs/s', better: 'higher' },
  latency_p50_ms: { label: 'latency p50', unit: 'ms', better: 'lower' },
  latency_p99_ms: { label: 'latency p99', unit: 'ms', better: 'lower' },
  latency_p999_ms: { label: 'latency p99.9', unit: 'ms', better: 'lower' },
  latency_max_ms: { label: 'latency max', unit: 'ms', better: 'lower' },
  latency_mean_ms: { label: 'latency mean', unit: 'ms', better: 'lower' },
  bindings_per_s: { label: 'bindings created', unit: '/s', better: 'higher' },
  connections_opened: { label: 'connections opened', unit: 'count', better: 'higher' },
  open_total_s: { label: 'time to open all', unit: 's', better: 'lower' },
  connections_per_s: { label: 'connections opened', unit: '/s', better: 'higher' },
  open_p50_ms: { label: 'open time p50', unit: 'ms', better: 'lower' },
  open_p99_ms: { label: 'open time p99', unit: 'ms', better: 'lower' },
  open_max_ms: { label: 'open time max', unit: 'ms', better: 'lower' },
  close_total_s: { label: 'time to close all', unit: 's', better: 'lower' },
  broker_rss_per_conn_kb: { label: 'broker RSS per connection', unit: 'KiB', better: 'lower' },
  fill_msgs_s: { label: 'fill', unit: 'msgs/s', better: 'higher' },
  fill_mb_s: { label: 'fill', unit: 'MB/s', better: 'higher' },
  drain_msgs_s: { label: 'drain', unit: 'msgs/s', better: 'higher' },
  drain_mb_s: { label: 'drain', unit: 'MB/s', better: 'higher' },
  broker_rss_after_fill_mb: { label: 'broker RSS after fill', unit: 'MiB', better: 'lower' },
  broker_bytes_per_msg: { label: 'broker RSS growth per message', unit: 'B', better: 'lower' },
  broker_rss_peak_mb: { label: 'broker RSS peak', unit: 'MiB', better: 'lower' },
  publish_msgs_s: { label: 'publish (client side)', unit: 'msgs/s', better: 'higher' },
  publish_mb_s: { label: 'publish (client side)', unit: 'MB/s', better: 'higher' },
  sink_received_msgs_s: { label: 'received by the sink', unit: 'msgs/s', better: 'higher' },
  publish_wire_mb_s: { label: 'publish on the wire', unit: 'MB/s', better: 'higher' },
  consume_msgs_s: { label: 'consume (sink flood)', unit: 'msgs/s', better: 'higher' },
  consume_mb_s: { label: 'consume (sink flood)', unit: 'MB/s', better: 'higher' },
};

export function formatValue(v: number | undefined, unit: Unit): string {
  if (v === undefined || !Number.isFinite(v)) return '-';
  switch (unit) {
    case 'msgs/s':
    case '/s':
    case 'count':
    case 'B':
      return Math.round(v).toLocaleString('en-US');
    case 'ms':
      return v < 10 ? v.toFixed(3) : v < 1000 ? v.toFixed(1) : Math.round(v).toLocaleString('en-US');
    case 's':
      return v.toFixed(2);
    default:
      return v.toFixed(1);
  }
}

function metricKeys(results: readonly RunResult[]): string[] {
  const present = new Set(results.flatMap((r) => Object.keys(r.metrics)));
  const known = Object.keys(METRICS).filter((k) => present.has(k));
  const extra = [...present].filter((k) => !(k in METRICS)).sort();
  return [...known, ...extra];
}

function specOf(key: string): MetricSpec {
  return METRICS[key] ?? { label: key, unit: 'count', better: 'higher' };
}

/** Text table: rows of cells, first column left-aligned, the rest right-aligned. */
export function table(rows: string[][], header: string[]): string {
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...all.map((r) => (r[c] ?? '').length)));
  const line = (r: string[]): string => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('   ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('   '), ...rows.map(line)].join('\n');
}

/** One line describing the load, e.g. "1 publisher → 1 queue → 1 consumer, 64 B, no-ack, transient, 10 s". */
export function describeLoad(o: PerfOptions): string {
  const plural = (n: number, w: string): string => `${n} ${w}${n === 1 ? '' : 's'}`;
  const ack = o.ack ? `manual ack${o.prefetch ? `, prefetch ${o.prefetch}` : ''}${o.multiAck > 1 ? `, multi-ack every ${o.multiAck}` : ''}` : 'no-ack';
  const dur = o.persistent ? 'persistent, durable queues' : o.durable ? 'transient, durable queues' : 'transient';
  const conf = o.confirm > 0 ? `, confirms window ${o.confirm}` : '';
  const rate = o.rate > 0 && o.scenario !== 'latency' ? `, ${o.rate} msgs/s per publisher` : '';
  const limit = o.messages > 0 && o.scenario !== 'backlog' ? `, ${o.messages} msgs per publisher` : '';
  const msgs = `${o.size} B, ${ack}, ${dur}${conf}${rate}${limit}`;
  switch (o.scenario) {
    case 'throughput':
      return `${plural(o.publishers, 'publisher')} → ${plural(o.queues, 'queue')} → ${plural(o.consumers, 'consumer')}, ${msgs}, ${o.time} s`;
    case 'latency':
      return `${plural(o.publishers, 'publisher')} at ${o.rate} msgs/s → 1 queue → ${plural(o.consumers, 'consumer')}, ${msgs}, ${o.time} s`;
    case 'fanout':
      return `${plural(o.publishers, 'publisher')} → fanout exchange → ${plural(o.queues, 'queue')} (a consumer each), ${msgs}, ${o.time} s`;
    case 'topic':
      return `${plural(o.publishers, 'publisher')} → topic exchange, ${o.bindings} bindings over ${plural(o.queues, 'queue')}, ${o.routingKeys} routing keys, ${msgs}, ${o.time} s`;
    case 'connections':
      return `${plural(o.connections, 'connection')} (channel + consumer each), ${o.concurrency} opening at a time, limit ${o.time} s`;
    case 'backlog':
      return `fill 1 queue with ${o.messages.toLocaleString('en-US')} × ${o.size} B (${plural(o.publishers, 'publisher')}${conf}, ${dur}), then drain (${plural(Math.max(1, o.consumers), 'consumer')}, ${ack}), limit ${o.time} s`;
    case 'sink':
      return `${plural(o.publishers, 'publisher')} then ${plural(o.consumers, 'consumer')} against the local sink, ${o.size} B, ${o.time} s each`;
  }
}

export interface Report {
  scenario: string;
  description: string;
  options: Record<string, unknown>;
  runs: RunResult[];
  summary: Record<string, { unit: string; better: string; median_a: number; median_b?: number; ratios?: number[]; median_ratio?: number }>;
}

export function buildReport(o: PerfOptions, runs: RunResult[]): Report {
  const a = runs.filter((r) => r.label === 'A');
  const b = runs.filter((r) => r.label === 'B');
  const summary: Report['summary'] = {};
  for (const key of metricKeys(runs)) {
    const spec = specOf(key);
    const s: Report['summary'][string] = { unit: spec.unit, better: spec.better, median_a: median(a.map((r) => r.metrics[key] ?? NaN)) };
    if (b.length) {
      s.median_b = median(b.map((r) => r.metrics[key] ?? NaN));
      s.ratios = a.map((r, i) => (r.metrics[key] ?? NaN) / (b[i]?.metrics[key] ?? NaN));
      s.median_ratio = median(s.ratios);
    }
    summary[key] = s;
  }
  const options: Record<string, unknown> = { ...o, url: redactUrl(o.url), vs: o.vs === null ? null : redactUrl(o.vs) };
  return { scenario: o.scenario, description: describeLoad(o), options, runs, summary };
}

const ratioText = (x: number | undefined): string => (x === undefined || !Number.isFinite(x) ? '-' : `${x.toFixed(2)}×`);

export function formatReport(o: PerfOptions, report: Report): string {
  const runs = report.runs;
  const a = runs.filter((r) => r.label === 'A');
  const b = runs.filter((r) => r.label === 'B');
  const out: string[] = [];
  out.push(`warren perf ${o.scenario}: ${report.description}`);
  if (a[0]) out.push(`A: ${a[0].target}${a[0].broker ? `  (${a[0].broker})` : ''}`);
  if (b[0]) out.push(`B: ${b[0].target}${b[0].broker ? `  (${b[0].broker})` : ''}`);
  out.push('');
  const keys = Object.keys(report.summary);
  if (b.length === 0) {
    const header = ['metric', ...a.map((_, i) => (a.length === 1 ? 'value' : `run ${i + 1}`))];
    if (a.length > 1) header.push('median');
    const rows = keys.map((k) => {
      const spec = specOf(k);
      const row = [`${spec.label} (${spec.unit})`, ...a.map((r) => formatValue(r.metrics[k], spec.unit))];
      if (a.length > 1) row.push(formatValue(report.summary[k]!.median_a, spec.unit));
      return row;
    });
    out.push(table(rows, header));
  } else {
    const rows: string[][] = [];
    for (const k of keys) {
      const spec = specOf(k);
      const s = report.summary[k]!;
      for (let i = 0; i < a.length; i++) {
        rows.push([i === 0 ? `${spec.label} (${spec.unit}${spec.better === 'lower' ? ', lower is better' : ''})` : '', `run ${i + 1}`, formatValue(a[i]?.metrics[k], spec.unit), formatValue(b[i]?.metrics[k], spec.unit), ratioText(s.ratios?.[i])]);
      }
      rows.push(['', 'median', formatValue(s.median_a, spec.unit), formatValue(s.median_b, spec.unit), ratioText(s.median_ratio)]);
    }
    out.push(table(rows, ['metric', 'run', 'A', 'B', 'A/B']));
    out.push('(A/B median = median of the per-run ratios)');
  }
  out.push('');
  for (const r of runs) {
    const facts = Object.entries(r.info).map(([k, v]) => `${k}=${typeof v === 'number' ? v.toLocaleString('en-US') : v}`);
    if (facts.length) out.push(`${r.label}${runs.filter((x) => x.label === r.label).length > 1 ? ` run ${runs.filter((x) => x.label === r.label).indexOf(r) + 1}` : ''}: ${facts.join('  ')}`);
  }
  return `${out.join('\n')}\n`;
}
