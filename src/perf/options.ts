/**
 * `warren perf` flags. Every scenario has its own defaults; flags override
 * them. Anything malformed is a PerfUsageError (the CLI exits 2).
 */
import { parseArgs } from 'node:util';
import { parseAmqpUrl, UrlError } from './url.js';

export const SCENARIOS = ['throughput', 'latency', 'fanout', 'topic', 'connections', 'backlog', 'sink'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export class PerfUsageError extends Error {}

export interface PerfOptions {
  scenario: ScenarioName;
  /** Broker A. */
  url: string;
  /** Broker B (--vs), run in alternation with A. */
  vs: string | null;
  runs: number;
  brokerPid: number | null;
  vsBrokerPid: number | null;
  /** Seconds publishers run (connections/backlog: the time limit of the whole run). */
  time: number;
  publishers: number;
  consumers: number;
  queues: number;
  size: number;
  /** Messages per second per publisher (0 = unlimited). */
  rate: number;
  /** Per-publisher message limit (0 = none); backlog: messages to fill. */
  messages: number;
  /** Manual acks (false = no-ack). */
  ack: boolean;
  prefetch: number;
  multiAck: number;
  persistent: boolean;
  durable: boolean;
  /** Confirm window per publisher (0 = no confirms). */
  confirm: number;
  bindings: number;
  routingKeys: number;
  connections: number;
  concurrency: number;
  /** Publishes per socket write (0 = auto: ~64 KiB). */
  batch: number;
  /** Seconds to wait for consumers to catch up after publishers stop. */
  drainTimeout: number;
  json: boolean;
  quiet: boolean;
  /** sink: serve on this port until interrupted instead of measuring. */
  listen: number | null;
}

export const DEFAULT_URL = 'amqp://guest:guest@localhost:5672/';

/** What each scenario starts from. */
const DEFAULTS: Record<ScenarioName, Partial<PerfOptions>> = {
  throughput: { time: 10, publishers: 1, consumers: 1, queues: 1, size: 64 },
  latency: { time: 10, publishers: 1, consumers: 1, queues: 1, size: 64, rate: 2000 },
  fanout: { time: 10, publishers: 1, queues: 10, size: 64 },
  topic: { time: 10, publishers: 1, queues: 100, size: 64, bindings: 1000, routingKeys: 1000 },
  connections: { time: 120, connections: 500, concurrency: 50, queues: 1 },
  backlog: { time: 300, publishers: 1, consumers: 1, queues: 1, size: 100, messages: 500_000 },
  sink: { time: 5, publishers: 1, consumers: 1, size: 64 },
};

const BASE: Omit<PerfOptions, 'scenario'> = {
  url: DEFAULT_URL,
  vs: null,
  runs: 1,
  brokerPid: null,
  vsBrokerPid: null,
  time: 10,
  publishers: 1,
  consumers: 1,
  queues: 1,
  size: 64,
  rate: 0,
  messages: 0,
  ack: false,
  prefetch: 0,
  multiAck: 1,
  persistent: false,
  durable: false,
  confirm: 0,
  bindings: 1000,
  routingKeys: 1000,
  connections: 500,
  concurrency: 50,
  batch: 0,
  drainTimeout: 10,
  json: false,
  quiet: false,
  listen: null,
};

export const PERF_USAGE = `Usage: warren perf <scenario> [options]

Load generator and benchmark for any AMQP 0-9-1 broker (Warren, RabbitMQ, LavinMQ…).
Every scenario creates its own uniquely named queues/exchanges and deletes them.

Scenarios:
  throughput   P publishers → Q queues → C consumers: published, confirmed and
               delivered msgs/s and MB/s. Publishers run --time seconds; then
               consumers/confirms get --drain-timeout to catch up. "delivered" =
               all deliveries / time to the last one; "delivered while
               publishing" = deliveries before publishers stopped / --time
  latency      one publisher at a fixed rate (--rate, default 2000/s), send time in
               the body: publish→deliver p50/p99/p99.9/max (ms)
  fanout       one fanout exchange → --queues queues (default 10), a consumer on
               each: total delivered msgs/s
  topic        a topic exchange with --bindings wildcard bindings (default 1000)
               over --queues queues (default 100), --routing-keys mixed keys
               (default 1000): delivered msgs/s (and the expected fan-out)
  connections  open --connections connections (default 500), each with a channel
               and a consumer: time to open; broker RSS per connection with --broker-pid
  backlog      fill a queue with --messages messages (default 500000 × 100 B) with
               no consumer, then drain it: fill and drain msgs/s, broker RSS peak
  sink         the tool's own ceiling: publish into (and consume from) a local TCP
               sink that answers the handshake and discards everything
               (--listen <port>: just run a sink server until interrupted)

Target:
  -u, --url <amqp-url>       broker to load (default ${DEFAULT_URL})
                             amqp[s]://user:pass@host:port/vhost (vhost "/" = %2F or empty)
      --vs <amqp-url>        also run against a second broker, alternating A B A B…;
                             prints the A/B ratio per run and the median ratio
      --runs <n>             runs per broker (default 1; 5 with --vs)
      --broker-pid <pid>     pid of the broker at --url: report its RSS (VmRSS from
                             /proc/<pid>/status) before, at peak and after
      --vs-broker-pid <pid>  the same for the --vs broker

Load (defaults depend on the scenario):
  -t, --time <s>             seconds publishers run (default 10; connections and
                             backlog: time limit for the whole run, 120 / 300)
  -x, --publishers <n>       publishers, each on its own connection (default 1)
  -y, --consumers <n>        consumers, each on its own connection (default 1;
                             fanout/topic: one per queue)
  -q, --queues <n>           queues (throughput 1, fanout 10, topic 100)
  -s, --size <bytes>         message body size (default 64; backlog 100; latency ≥ 8)
  -r, --rate <msgs/s>        per-publisher rate limit (default unlimited; latency 2000)
  -C, --messages <n>         messages per publisher, then stop (default: time only);
                             backlog: messages to fill (default 500000)
  -a, --ack                  manual acks (default: no-ack, i.e. auto-ack)
  -p, --prefetch <n>         basic.qos prefetch per consumer with --ack (default 0 = unlimited)
  -m, --multi-ack <n>        ack with multiple=true every n deliveries (default 1;
                             n > 1 implies --ack; must not exceed --prefetch)
  -f, --persistent           persistent messages (delivery-mode 2) on durable queues
      --durable              durable queues (messages stay transient without --persistent)
  -c, --confirm <window>     publisher confirms, at most <window> unconfirmed per
                             publisher (default 0: no confirms)
      --bindings <n>         topic: bindings in total (default 1000)
      --routing-keys <n>     topic: distinct routing keys published (default 1000)
      --connections <n>      connections: how many to open (default 500)
      --concurrency <n>      connections: handshakes in flight at once (default 50)
      --batch <n>            publishes per socket write (default: as many as fit in 64 KiB)
      --drain-timeout <s>    after publishers stop, wait at most this long for
                             consumers and confirms to catch up (default 10)
      --listen <port>        sink: serve a sink on this port until SIGINT

Output:
      --json                 one JSON document on stdout (no table, no progress line)
      --quiet                no progress line
  -h, --help                 show this help

Exit status: 0 ok, 1 the run failed (broker unreachable, channel error…), 2 bad flags.

Examples:
  warren perf throughput -u amqp://guest:guest@localhost:5672 -t 10
  warren perf throughput -s 1024 -f -c 256 -a -p 1000 -m 100 --vs amqp://localhost:5673
  warren perf latency -r 2000 -t 10 --json
  warren perf connections --connections 1000 --broker-pid $(pgrep -f beam.smp)
  warren perf sink
`;

function int(flag: string, raw: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d+$/.test(raw)) throw new PerfUsageError(`--${flag} expects an integer, got '${raw}'`);
  const n = Number(raw);
  if (n < min || n > max) throw new PerfUsageError(`--${flag} must be between ${min} and ${max}, got ${n}`);
  return n;
}

function num(flag: string, raw: string, min: number, positive = false): number {
  if (!/^\d+(\.\d+)?$/.test(raw)) throw new PerfUsageError(`--${flag} expects a number, got '${raw}'`);
  const n = Number(raw);
  if (n < min || (positive && n <= 0)) throw new PerfUsageError(`--${flag} must be ${positive ? 'greater than' : 'at least'} ${min}, got ${n}`);
  return n;
}

function checkUrl(flag: string, raw: string): string {
  try {
    parseAmqpUrl(raw);
  } catch (err) {
    if (err instanceof UrlError) throw new PerfUsageError(`--${flag}: ${err.message}`);
    throw err;
  }
  return raw;
}

/** Parses `warren perf` arguments (after "perf"). Returns null for --help. */
export function parsePerfArgs(argv: readonly string[]): PerfOptions | null {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: true,
      options: {
        url: { type: 'string', short: 'u' },
        vs: { type: 'string' },
        runs: { type: 'string' },
        'broker-pid': { type: 'string' },
        'vs-broker-pid': { type: 'string' },
        time: { type: 'string', short: 't' },
        publishers: { type: 'string', short: 'x' },
        consumers: { type: 'string', short: 'y' },
        queues: { type: 'string', short: 'q' },
        size: { type: 'string', short: 's' },
        rate: { type: 'string', short: 'r' },
        messages: { type: 'string', short: 'C' },
        ack: { type: 'boolean', short: 'a' },
        prefetch: { type: 'string', short: 'p' },
        'multi-ack': { type: 'string', short: 'm' },
        persistent: { type: 'boolean', short: 'f' },
        durable: { type: 'boolean' },
        confirm: { type: 'string', short: 'c' },
        bindings: { type: 'string' },
        'routing-keys': { type: 'string' },
        connections: { type: 'string' },
        concurrency: { type: 'string' },
        batch: { type: 'string' },
        'drain-timeout': { type: 'string' },
        listen: { type: 'string' },
        json: { type: 'boolean' },
        quiet: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new PerfUsageError((err as Error).message);
  }
  const v = parsed.values;
  if (v.help) return null;
  const positionals = parsed.positionals;
  if (positionals.length === 0) throw new PerfUsageError(`missing scenario: one of ${SCENARIOS.join(', ')}`);
  if (positionals.length > 1) throw new PerfUsageError(`unexpected argument '${positionals[1]}'`);
  const scenario = positionals[0] as ScenarioName;
  if (!SCENARIOS.includes(scenario)) throw new PerfUsageError(`unknown scenario '${positionals[0]}': one of ${SCENARIOS.join(', ')}`);

  const o: PerfOptions = { ...BASE, ...DEFAULTS[scenario], scenario };
  if (v.url !== undefined) o.url = checkUrl('url', v.url);
  if (v.vs !== undefined) {
    o.vs = checkUrl('vs', v.vs);
    o.runs = 5;
  }
  if (v.runs !== undefined) o.runs = int('runs', v.runs, 1, 1000);
  if (v['broker-pid'] !== undefined) o.brokerPid = int('broker-pid', v['broker-pid'], 1);
  if (v['vs-broker-pid'] !== undefined) {
    if (o.vs === null) throw new PerfUsageError('--vs-broker-pid needs --vs');
    o.vsBrokerPid = int('vs-broker-pid', v['vs-broker-pid'], 1);
  }
  if (v.time !== undefined) o.time = num('time', v.time, 0, true);
  if (v.publishers !== undefined) o.publishers = int('publishers', v.publishers, 0, 10_000);
  if (v.consumers !== undefined) o.consumers = int('consumers', v.consumers, 0, 10_000);
  if (v.queues !== undefined) o.queues = int('queues', v.queues, 1, 100_000);
  if (v.size !== undefined) o.size = int('size', v.size, 0, 512 * 1024 * 1024);
  if (v.rate !== undefined) o.rate = num('rate', v.rate, 0);
  if (v.messages !== undefined) o.messages = int('messages', v.messages, 0);
  if (v.ack) o.ack = true;
  if (v.prefetch !== undefined) o.prefetch = int('prefetch', v.prefetch, 0, 65535);
  if (v['multi-ack'] !== undefined) {
    o.multiAck = int('multi-ack', v['multi-ack'], 1);
    if (o.multiAck > 1) o.ack = true;
  }
  if (v.persistent) {
    o.persistent = true;
    o.durable = true;
  }
  if (v.durable) o.durable = true;
  if (v.confirm !== undefined) o.confirm = int('confirm', v.confirm, 0);
  if (v.bindings !== undefined) o.bindings = int('bindings', v.bindings, 1, 10_000_000);
  if (v['routing-keys'] !== undefined) o.routingKeys = int('routing-keys', v['routing-keys'], 1, 1_000_000);
  if (v.connections !== undefined) o.connections = int('connections', v.connections, 1, 1_000_000);
  if (v.concurrency !== undefined) o.concurrency = int('concurrency', v.concurrency, 1, 100_000);
  if (v.batch !== undefined) o.batch = int('batch', v.batch, 1, 100_000);
  if (v['drain-timeout'] !== undefined) o.drainTimeout = num('drain-timeout', v['drain-timeout'], 0);
  if (v.listen !== undefined) {
    if (scenario !== 'sink') throw new PerfUsageError('--listen is for the sink scenario');
    o.listen = int('listen', v.listen, 0, 65535);
  }
  o.json = v.json === true;
  o.quiet = v.quiet === true;

  // Cross-checks.
  if (o.ack && o.prefetch > 0 && o.multiAck > o.prefetch) {
    throw new PerfUsageError(`--multi-ack ${o.multiAck} exceeds --prefetch ${o.prefetch}: the consumer would stall waiting for deliveries it never acks`);
  }
  if (scenario === 'latency' && o.size < 8) throw new PerfUsageError('--size must be at least 8 for latency (the body carries an 8-byte timestamp)');
  if (scenario === 'latency' && o.rate === 0) throw new PerfUsageError('latency needs a fixed --rate (> 0)');
  if (scenario === 'backlog' && o.messages === 0) throw new PerfUsageError('backlog needs --messages > 0');
  if ((scenario === 'throughput' || scenario === 'latency' || scenario === 'fanout' || scenario === 'topic' || scenario === 'backlog') && o.publishers === 0) {
    throw new PerfUsageError(`${scenario} needs at least one publisher`);
  }
  if (scenario === 'latency' && o.consumers === 0) throw new PerfUsageError('latency needs a consumer');
  if (scenario === 'sink' && o.confirm > 0) throw new PerfUsageError('sink discards everything and never confirms: --confirm is not available');
  if (scenario === 'sink' && o.vs !== null) throw new PerfUsageError('sink measures the tool itself: --vs is not available');
  return o;
}
