/**
 * `warren perf`: the entry (perfMain) and the programmatic API (runScenario,
 * runBenchmark) used by tests.
 */
import { fmtInt, Progress } from './progress.js';
import { PERF_USAGE, PerfUsageError, parsePerfArgs, type PerfOptions, type ScenarioName } from './options.js';
import { buildReport, formatReport, type Report } from './report.js';
import { backlog } from './scenarios/backlog.js';
import { makeTarget, newRunId, requestInterrupt, interruption, type RunResult, type Scenario, type Target } from './scenarios/common.js';
import { connections } from './scenarios/connections.js';
import { fanout } from './scenarios/fanout.js';
import { latency } from './scenarios/latency.js';
import { sink } from './scenarios/sink.js';
import { throughput } from './scenarios/throughput.js';
import { topic } from './scenarios/topic.js';
import { SinkServer } from './sink.js';
import { sleep } from './stats.js';
import { redactUrl } from './url.js';

export { PERF_USAGE, PerfUsageError, parsePerfArgs, SCENARIOS, type PerfOptions, type ScenarioName } from './options.js';
export { parseAmqpUrl, redactUrl, UrlError, type AmqpUrl } from './url.js';
export { AmqpClient, BrokerError } from './client.js';
export { PerfChannel, ConfirmTracker } from './channel.js';
export { SinkServer, startSinkWorker } from './sink.js';
export { buildReport, formatReport, type Report } from './report.js';
export type { RunResult } from './scenarios/common.js';

const SCENARIO_RUNNERS: Record<ScenarioName, Scenario> = { throughput, latency, fanout, topic, connections, backlog, sink };

/** Options for a programmatic run: everything defaults as on the command line for that scenario. */
export function perfOptions(scenario: ScenarioName, overrides: Partial<PerfOptions> = {}): PerfOptions {
  const base = parsePerfArgs([scenario, '--quiet']);
  if (!base) throw new Error('unreachable');
  return { ...base, ...overrides, scenario };
}

/** One run of the scenario against one broker. */
export function runScenario(o: PerfOptions, target: Target = makeTarget('A', o.url, o.brokerPid), progress: Progress = new Progress(false)): Promise<RunResult> {
  return SCENARIO_RUNNERS[o.scenario]({ opts: o, target, progress, runId: newRunId() });
}

/** Every run: A (and B, alternating A B A B… with --vs), `runs` times each. */
export async function runBenchmark(o: PerfOptions, progress: Progress, note: (s: string) => void = () => {}): Promise<Report> {
  const targets = [makeTarget('A', o.url, o.brokerPid)];
  if (o.vs !== null) targets.push(makeTarget('B', o.vs, o.vsBrokerPid));
  const results: RunResult[] = [];
  for (let run = 1; run <= o.runs && !interruption.requested; run++) {
    for (const t of targets) {
      if (interruption.requested) break;
      if (results.length > 0) await sleep(500); // let the previous run's cleanup settle
      note(`run ${run}/${o.runs} ${t.label} ${o.scenario} → ${o.scenario === 'sink' ? 'local sink' : redactUrl(t.url)}`);
      const r = await runScenario(o, t, progress);
      results.push(r);
      note(`  ${headline(r)}`);
    }
  }
  return buildReport(o, results);
}

function headline(r: RunResult): string {
  const m = r.metrics;
  const pick = (k: string, label: string, unit = 'msgs/s'): string | null => (m[k] === undefined ? null : `${label} ${unit === 'ms' ? m[k]!.toFixed(3) : fmtInt(m[k]!)} ${unit}`);
  const parts = [
    pick('published_msgs_s', 'published'),
    pick('confirmed_msgs_s', 'confirmed'),
    pick('delivered_msgs_s', 'delivered'),
    pick('latency_p50_ms', 'p50', 'ms'),
    pick('latency_p99_ms', 'p99', 'ms'),
    pick('connections_per_s', 'opened', 'conns/s'),
    pick('broker_rss_per_conn_kb', 'RSS/conn', 'KiB'),
    pick('fill_msgs_s', 'fill'),
    pick('drain_msgs_s', 'drain'),
    pick('publish_msgs_s', 'publish'),
    pick('consume_msgs_s', 'consume'),
  ].filter(Boolean);
  return parts.join(', ');
}

async function serveSink(port: number, size: number): Promise<number> {
  const sinkServer = await SinkServer.start({ port, host: '0.0.0.0', floodSize: size });
  process.stderr.write(`warren perf sink listening on port ${sinkServer.port} (Ctrl-C to stop)\n`);
  await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  const s = sinkServer.stats;
  process.stderr.write(`\nconnections ${s.connections}, received ${fmtInt(s.bytesReceived)} bytes, flooded ${fmtInt(s.deliveriesSent)} deliveries\n`);
  await sinkServer.close();
  return 0;
}

/** `warren perf …`: returns the exit code (0 ok, 1 run failed, 2 usage). */
export async function perfMain(argv: readonly string[]): Promise<number> {
  let o: PerfOptions | null;
  try {
    o = parsePerfArgs(argv);
  } catch (err) {
    if (err instanceof PerfUsageError) {
      process.stderr.write(`warren perf: ${err.message}\nTry 'warren perf --help'.\n`);
      return 2;
    }
    throw err;
  }
  if (o === null) {
    process.stdout.write(PERF_USAGE);
    return 0;
  }
  if (o.scenario === 'sink' && o.listen !== null) return serveSink(o.listen, o.size);

  const progress = Progress.forOptions(o.json, o.quiet);
  const chatty = !o.json && !o.quiet;
  const note = (s: string): void => {
    if (chatty) process.stderr.write(`${s}\n`);
  };
  let interrupts = 0;
  const onSigint = (): void => {
    if (++interrupts > 1) process.exit(130);
    progress.stop();
    process.stderr.write('\ninterrupted: finishing this run and deleting its resources (Ctrl-C again to quit now)\n');
    requestInterrupt();
  };
  process.on('SIGINT', onSigint);
  try {
    const report = await runBenchmark(o, progress, note);
    if (o.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    else process.stdout.write(`\n${formatReport(o, report)}`);
    return interruption.requested ? 130 : 0;
  } catch (err) {
    progress.stop();
    process.stderr.write(`warren perf: ${(err as Error).message}\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
