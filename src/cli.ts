/**
 * The `warren` command: flags > WARREN_* environment > --config file > defaults.
 * Exit codes: 0 after a clean stop, 1 when the broker cannot start, 2 for bad usage.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseByteSize } from './byte-size.js';
import { InvalidOptionError, resolveOptions, type BrokerOptions, type UserDefinition } from './config.js';
import type { Broker } from './warren.js';
import { VERSION } from './version.js';
import { CLUSTER_FLAGS, CLUSTER_USAGE, ClusterUsageError, takeClusterOptions } from './cluster/cli-options.js';
import type { ClusterOptions } from './cluster/options.js';

const USAGE = `Usage: warren [options]          run the broker
       warren perf <scenario> ...  load generator for any AMQP 0-9-1 broker (warren perf --help)
       warren ctl <command> ...    manage a running broker, as rabbitmqctl (warren ctl --help)

Options (each also settable as an environment variable, e.g. WARREN_PORT):
  --host <addr>              listen address (default: every interface, IPv6 and IPv4)
  --port <n>                 TCP port (default 5672; 0 picks a free port)
  --data-dir <path>          data directory for durable state (default ./data)
  --no-fsync                 do not fdatasync the message log (tests/benchmarks only: unsafe)
  --queue-memory-window <n>  ready messages a durable queue keeps in RAM before paging (default 10000)
  --config <file.json>       JSON file with any of these options (camelCase keys)
  --log-level <level>        fatal|error|warn|info|debug|trace|silent (default info)
  --log-pretty               human-readable logs
  --user <name:password>     add an administrator with full permissions on every vhost
                             (repeatable; replaces the default guest/guest)
  --tls-cert <file.pem>      serve amqps with this certificate (chain); needs --tls-key
  --tls-key <file.pem>       the certificate's private key
  --tls-port <n>             amqps port (default 5671 when TLS is configured)
  --tls-ca <file.pem>        CA bundle for client certificates
  --tls-verify-peer          ask for and verify client certificates (SASL EXTERNAL
                             logs in as the certificate's CN)
  --tls-fail-if-no-peer-cert refuse TLS clients without a certificate
  --no-plain                 serve amqps only (no plain TCP listener)
                             SIGHUP re-reads the certificate files
  --definitions <file.json>  import definitions at start-up (RabbitMQ's format, as
                             exported by GET /api/definitions)
  --vhost <name>             add a virtual host (repeatable; default /)
  --max-connections <n>      refuse connections beyond this many
  --frame-max <bytes>        largest frame (default 131072, minimum 4096)
  --channel-max <n>          highest channel number (default 2047)
  --heartbeat <seconds>      heartbeat interval offered (default 60, 0 disables)
  --max-message-size <bytes> largest message body (default 134217728)
  --handshake-timeout <ms>   close sockets that do not open a connection in time (default 10000)
  --memory-high-watermark <x>
                             block publishers above this memory use: a fraction of
                             RAM (≤ 1, default 0.4) or bytes (at least 1 MiB)
  --disk-free-limit <size>   block publishers while the data directory's filesystem has
                             less free space: bytes or 50MB, 1GB, 512MiB (default 50MB)
  --consumer-timeout <ms>    close a channel whose delivery stays unacked this long (406;
                             default 1800000 = 30 min, 0 disables)
  --product-name <name>      product announced to clients (default RabbitMQ: clients pick
                             RabbitMQ's semantics by it; see the README)
  --management-port <n>      management HTTP API port (default 15672; 0 picks a free port)
  --no-management            do not serve the management HTTP API
  --management-tls-port <n>  also serve the management API over HTTPS (with --tls-cert/--tls-key)
  --prometheus-port <n>      Prometheus metrics port (default 15692; 0 picks a free port)
  --no-prometheus            do not serve Prometheus metrics
${CLUSTER_USAGE}  --help                     show this help
  --version                  print the version
`;

/** Flag name → [option key, kind]. */
const FLAGS = {
  host: ['host', 'string'],
  port: ['port', 'int'],
  'data-dir': ['dataDir', 'string'],
  'log-level': ['logLevel', 'level'],
  'log-pretty': ['logPretty', 'bool'],
  'max-connections': ['maxConnections', 'int'],
  'frame-max': ['frameMax', 'int'],
  'channel-max': ['channelMax', 'int'],
  heartbeat: ['heartbeat', 'int'],
  'max-message-size': ['maxMessageSize', 'int'],
  'handshake-timeout': ['handshakeTimeout', 'int'],
  'no-fsync': ['noFsync', 'bool'],
  'queue-memory-window': ['queueMemoryWindow', 'int'],
  'memory-high-watermark': ['memoryHighWatermark', 'number'],
  'consumer-timeout': ['consumerTimeout', 'int'],
  'product-name': ['productName', 'string'],
  definitions: ['definitions', 'string'],
  'tls-port': ['tlsPort', 'int'],
  'tls-cert': ['tlsCert', 'string'],
  'tls-key': ['tlsKey', 'string'],
  'tls-ca': ['tlsCa', 'string'],
  'tls-verify-peer': ['tlsVerifyPeer', 'bool'],
  'tls-fail-if-no-peer-cert': ['tlsFailIfNoPeerCert', 'bool'],
  'no-plain': ['noPlain', 'bool'],
  'management-port': ['managementPort', 'int'],
  'no-management': ['noManagement', 'bool'],
  'management-tls-port': ['managementTlsPort', 'int'],
  'prometheus-port': ['prometheusPort', 'int'],
  'no-prometheus': ['noPrometheus', 'bool'],
  'disk-free-limit': ['diskFreeLimit', 'size'],
  ...CLUSTER_FLAGS,
} as const;

/** The CLI serves the management API and the metrics on RabbitMQ's ports unless told otherwise. */
const DEFAULT_MANAGEMENT_PORT = 15672;
const DEFAULT_PROMETHEUS_PORT = 15692;

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export class UsageError extends Error {}

export interface CliOptions extends BrokerOptions {
  dataDir?: string;
  /** Set by --cluster-etcd: run as a cluster node. */
  cluster?: ClusterOptions;
}

/** `name` is what the user wrote: "--port" or "WARREN_PORT". */
function convert(name: string, kind: string, raw: string | boolean): unknown {
  if (kind === 'bool') return raw === true || raw === 'true' || raw === '1';
  const text = String(raw);
  if (kind === 'int') {
    if (!/^\d+$/.test(text)) throw new UsageError(`${name} expects a non-negative integer, got '${text}'`);
    return Number(text);
  }
  if (kind === 'number') {
    if (!/^(\d+(\.\d*)?|\.\d+)$/.test(text)) throw new UsageError(`${name} expects a non-negative number, got '${text}'`);
    return Number(text);
  }
  if (kind === 'size') {
    if (parseByteSize(text) === null) throw new UsageError(`${name} expects bytes or a size with a unit (50MB, 1GB, 512MiB), got '${text}'`);
    return text;
  }
  if (kind === 'level' && !LEVELS.includes(text)) throw new UsageError(`${name} expects one of ${LEVELS.join('|')}, got '${text}'`);
  return text;
}

/** `name` is what the user wrote: "--user" or "WARREN_USERS". */
function parseUser(spec: string, name: string): UserDefinition {
  const at = spec.indexOf(':');
  if (at <= 0) throw new UsageError(`${name} expects name:password, got '${spec}'`);
  return { name: spec.slice(0, at), password: spec.slice(at + 1) };
}

/** Flags that take a value: "--port -1" is a value, not a flag named "-1" (parseArgs would call it ambiguous). */
function joinNegativeValues(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const flag = arg.startsWith('--') ? arg.slice(2) : '';
    const kind = (FLAGS as Record<string, readonly [string, string]>)[flag]?.[1];
    const next = argv[i + 1];
    if (kind !== undefined && kind !== 'bool' && next !== undefined && /^-[\d.]/.test(next)) {
      out.push(`${arg}=${next}`);
      i++;
    } else out.push(arg);
  }
  return out;
}

/** Builds broker options from argv and env. Throws UsageError for bad input; returns null for --help/--version (already printed). */
export function parseCli(argv: string[], env: NodeJS.ProcessEnv, print: (s: string) => void = (s) => process.stdout.write(s)): CliOptions | null {
  let parsed;
  try {
    parsed = parseArgs({
      args: joinNegativeValues(argv),
      strict: true,
      allowPositionals: false,
      options: {
        ...Object.fromEntries(Object.entries(FLAGS).map(([flag, [, kind]]) => [flag, { type: kind === 'bool' ? 'boolean' : 'string' }])),
        config: { type: 'string' },
        user: { type: 'string', multiple: true },
        vhost: { type: 'string', multiple: true },
        help: { type: 'boolean' },
        version: { type: 'boolean' },
      } as const,
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const values = parsed.values as Record<string, string | boolean | string[] | undefined>;
  if (values.help) {
    print(USAGE);
    return null;
  }
  if (values.version) {
    print(`${VERSION}\n`);
    return null;
  }

  // Lowest precedence first: config file, then env, then flags.
  const options: Record<string, unknown> = {};
  /** Option key → what the user wrote to set it, so an error names that. */
  const source = new Map<string, string>();
  const configPath = (values.config as string | undefined) ?? env.WARREN_CONFIG;
  if (configPath) {
    let fromFile: unknown;
    try {
      fromFile = JSON.parse(readFileSync(configPath, 'utf8'));
    } catch (err) {
      throw new UsageError(`cannot read config file ${configPath}: ${(err as Error).message}`);
    }
    if (!fromFile || typeof fromFile !== 'object' || Array.isArray(fromFile)) throw new UsageError(`config file ${configPath} must hold a JSON object`);
    const known = new Set<string>([...Object.values(FLAGS).map(([key]) => key), 'users', 'vhosts', 'fsync']);
    for (const [key, value] of Object.entries(fromFile)) {
      if (!known.has(key)) throw new UsageError(`config file ${configPath}: unknown option '${key}'`);
      options[key] = value;
      source.set(key, `${key} (config file ${configPath})`);
    }
  }
  for (const [flag, [key, kind]] of Object.entries(FLAGS)) {
    const envName = `WARREN_${flag.toUpperCase().replace(/-/g, '_')}`;
    const fromEnv = env[envName];
    if (fromEnv !== undefined && fromEnv !== '') {
      options[key] = convert(envName, kind, fromEnv);
      source.set(key, envName);
    }
    const fromFlag = values[flag];
    if (fromFlag !== undefined) {
      options[key] = convert(`--${flag}`, kind, fromFlag as string | boolean);
      source.set(key, `--${flag}`);
    }
  }
  const userFlags = values.user as string[] | undefined;
  const users = userFlags ?? env.WARREN_USERS?.split(',').filter(Boolean);
  if (users?.length) options.users = users.map((spec) => parseUser(spec, userFlags ? '--user' : 'WARREN_USERS'));
  const vhosts = (values.vhost as string[] | undefined) ?? env.WARREN_VHOSTS?.split(',').filter(Boolean);
  if (vhosts?.length) options.vhosts = vhosts;
  if (options.noFsync !== undefined) {
    options.fsync = !options.noFsync;
    delete options.noFsync;
  }
  const { managementPort, noManagement, managementTlsPort, prometheusPort, noPrometheus } = options as { managementPort?: number; noManagement?: boolean; managementTlsPort?: number; prometheusPort?: number; noPrometheus?: boolean };
  for (const k of ['managementPort', 'noManagement', 'managementTlsPort', 'prometheusPort', 'noPrometheus']) delete options[k];
  options.management = noManagement ? false : { port: managementPort ?? DEFAULT_MANAGEMENT_PORT, ...(managementTlsPort !== undefined ? { tlsPort: managementTlsPort } : {}) };
  options.prometheus = noPrometheus ? false : { port: prometheusPort ?? DEFAULT_PROMETHEUS_PORT };
  // The CLI is durable by default; the embedded API stays in memory unless given a dataDir.
  options.dataDir ??= './data';
  try {
    const cluster = takeClusterOptions(options);
    if (cluster) options.cluster = cluster;
  } catch (err) {
    if (err instanceof ClusterUsageError) throw new UsageError(err.message);
    throw err;
  }
  // Values are checked here, where it is known which flag, variable or config key set each one.
  try {
    resolveOptions({ ...options, cluster: undefined } as BrokerOptions);
  } catch (err) {
    if (!(err instanceof InvalidOptionError)) throw err;
    const flag = Object.entries(FLAGS).find(([, [key]]) => key === err.option)?.[0];
    throw new UsageError(`invalid ${source.get(err.option) ?? (flag ? `--${flag}` : err.option)} ${err.detail}`);
  }
  return options as CliOptions;
}

export async function main(argv = process.argv.slice(2), env = process.env): Promise<void> {
  if (argv[0] === 'perf') {
    const { perfMain } = await import('./perf/index.js');
    process.exit(await perfMain(argv.slice(1)));
  }
  if (argv[0] === 'ctl') {
    const { ctlMain } = await import('./ctl/index.js');
    // exitCode, not exit(): output written to a pipe is flushed before the process ends.
    process.exitCode = await ctlMain(argv.slice(1), env);
    return;
  }
  let options: CliOptions | null;
  try {
    options = parseCli(argv, env);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`warren: ${err.message}\nTry 'warren --help'.\n`);
      process.exit(2);
    }
    throw err;
  }
  if (!options) return;
  // The CLI is a server: the AMQP port and info logs (the embedded API defaults to a free port and warn).
  options.port ??= 5672;
  options.logLevel ??= 'info';
  if (options.cluster) {
    // etcd3 is an optional peer dependency (its gRPC stack has install scripts): loaded only here.
    let runClusterNode: typeof import('./cluster/run.js').runClusterNode;
    try {
      ({ runClusterNode } = await import('./cluster/run.js'));
    } catch (err) {
      const { reportStartFailure } = await import('./cli-start-failure.js');
      process.exit(reportStartFailure(err, options));
    }
    const { cluster, ...brokerOptions } = options;
    return runClusterNode({ ...brokerOptions, dataDir: brokerOptions.dataDir ?? './data', port: brokerOptions.port ?? 5672 }, cluster);
  }
  // Signals are handled from here on: one that arrives while the broker starts stops it once started.
  let broker: Broker | null = null;
  let requested: string | null = null;
  const shutdown = (signal: string): void => {
    if (requested !== null) return;
    requested = signal;
    if (broker) stopAndExit(broker, signal);
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  watchNpmShell(env, () => shutdown('SIGTERM (to npm, whose shell exited)'));
  try {
    // Loaded here, not at the top: `warren ctl` and `warren --help` start without the whole broker.
    const { Broker } = await import('./warren.js');
    broker = await Broker.start(options);
  } catch (err) {
    const { reportStartFailure } = await import('./cli-start-failure.js');
    process.exit(reportStartFailure(err, options));
  }
  // A broker that stopped itself on an error exits non-zero, so a supervisor restarts it.
  const started = broker;
  broker.onFatal = () => exitAfterLogs(started, 1);
  if (requested !== null) stopAndExit(broker, requested);
  // SIGHUP re-reads the TLS certificate files (open connections keep theirs).
  process.on('SIGHUP', () => {
    try {
      started.reloadTls();
    } catch (err) {
      started.logger.error({ err: (err as Error).message }, 'TLS certificates not reloaded; the previous ones stay in use');
    }
  });
}

/**
 * `npx warren` (and scripts without `exec`) run the broker under `sh -c`:
 * npm forwards a SIGTERM to that shell, which dies without passing it on,
 * leaving the broker running with its port bound. Under npm, the broker
 * therefore watches its parent: when the shell goes, it stops as if it had
 * been sent the signal itself. (Outside npm, a broker whose parent exits
 * keeps running, as daemons started with `&` expect.)
 */
function watchNpmShell(env: NodeJS.ProcessEnv, onGone: () => void): void {
  if (env.npm_command === undefined && env.npm_lifecycle_event === undefined) return;
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    onGone();
  }, 100);
  timer.unref();
}

function stopAndExit(broker: Broker, signal: string): void {
  broker.logger.info({ signal }, 'shutdown requested');
  broker.stop().then(
    () => exitAfterLogs(broker, 0),
    (err: unknown) => {
      broker.logger.error({ err }, 'error during shutdown');
      exitAfterLogs(broker, 1);
    },
  );
}

/**
 * Exits once the log lines written so far have left the process, in order: pino
 * writes asynchronously, and a process.exit() while a line is being written put
 * the lines queued behind it ahead of it ("Warren stopped" before "shutdown
 * requested") or cut it off, when stdout is a busy pipe (a loaded machine, npm).
 * A logger that cannot finish does not keep the process: it exits after a grace period.
 * (Loaded here: `warren ctl` and `--help` never need it.)
 */
function exitAfterLogs(broker: Broker, code: number): void {
  process.exitCode = code;
  setTimeout(() => process.exit(code), 2000).unref();
  import('./observe/log-drain.js').then(
    ({ whenLogsWritten }) => whenLogsWritten(broker.logger, () => process.exit(code)),
    () => process.exit(code),
  ).catch(() => process.exit(code));
}
