/**
 * The `warren` command: option parsing (flags > WARREN_* env > --config file >
 * defaults) as a unit, then the real executable as a child process — the
 * listening log line, serving an amqplib client, and a clean exit 0 on
 * SIGTERM/SIGINT after closing clients with 320; usage errors exit 2.
 *
 * The child-process tests run bin/warren, which runs the compiled dist/
 * (`npm run build`; `npm test` builds it first).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError, parseCli } from '../../src/cli.js';
import { VERSION } from '../../src/version.js';
import { closeEvent, roundTrip } from '../helpers/amqp-checks.js';
import { startBroker, type AmqpConnection } from '../helpers/broker.js';
import { WAIT_MS, waitFor } from '../helpers/wait.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin', 'warren');
const DIST_CLI = join(ROOT, 'dist', 'cli.js');

describe('parseCli', () => {
  let dir: string;
  beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'warren-cli-')); });
  afterAll(() => { rmSync(dir, { recursive: true, force: true }); });

  function config(name: string, content: unknown): string {
    const path = join(dir, name);
    writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
    return path;
  }

  const parse = (argv: string[], env: NodeJS.ProcessEnv = {}): ReturnType<typeof parseCli> => parseCli(argv, env, () => {});
  /** The CLI serves the management API and the metrics on RabbitMQ's ports by default. */
  const SERVED = { management: { port: 15672 }, prometheus: { port: 15692 } };

  it('management and Prometheus ports: RabbitMQ\'s by default, set by flag or env, or turned off', () => {
    expect(parse(['--management-port', '0', '--prometheus-port', '9999'])).toEqual({ management: { port: 0 }, prometheus: { port: 9999 }, dataDir: './data' });
    expect(parse([], { WARREN_MANAGEMENT_PORT: '1234', WARREN_NO_PROMETHEUS: 'true' })).toEqual({ management: { port: 1234 }, prometheus: false, dataDir: './data' });
    expect(parse(['--no-management'])).toEqual({ management: false, prometheus: { port: 15692 }, dataDir: './data' });
    expect(parse(['--management-tls-port', '15671', '--tls-cert', '/c.pem', '--tls-key', '/k.pem'])).toMatchObject({ management: { port: 15672, tlsPort: 15671 } });
    expect(() => parse(['--management-tls-port', '15671'])).toThrow(/tls-cert missing/);
    expect(() => parse(['--management-port', 'x'])).toThrow("--management-port expects a non-negative integer, got 'x'");
  });

  it('no flags, no env: only the CLI\'s durable default (./data); the broker\'s defaults apply otherwise', () => {
    expect(parse([])).toEqual({ ...SERVED, dataDir: './data' });
  });

  it('reads every flag', () => {
    expect(parse([
      '--host', '127.0.0.1', '--port', '0', '--data-dir', '/tmp/w', '--log-level', 'debug', '--log-pretty',
      '--user', 'alice:secret', '--user', 'bob:pa:ss', '--vhost', '/', '--vhost', 'prod',
      '--max-connections', '10', '--frame-max', '8192', '--channel-max', '64', '--heartbeat', '5',
      '--max-message-size', '1048576', '--handshake-timeout', '2000',
    ])).toEqual({ ...SERVED,
      host: '127.0.0.1',
      port: 0,
      dataDir: '/tmp/w',
      logLevel: 'debug',
      logPretty: true,
      users: [{ name: 'alice', password: 'secret' }, { name: 'bob', password: 'pa:ss' }],
      vhosts: ['/', 'prod'],
      maxConnections: 10,
      frameMax: 8192,
      channelMax: 64,
      heartbeat: 5,
      maxMessageSize: 1048576,
      handshakeTimeout: 2000,
    });
  });

  it('reads WARREN_* environment variables', () => {
    expect(parse([], {
      WARREN_HOST: '::1',
      WARREN_PORT: '5673',
      WARREN_DATA_DIR: '/var/lib/warren',
      WARREN_LOG_LEVEL: 'warn',
      WARREN_LOG_PRETTY: '1',
      WARREN_MAX_CONNECTIONS: '3',
      WARREN_FRAME_MAX: '4096',
      WARREN_CHANNEL_MAX: '16',
      WARREN_HEARTBEAT: '0',
      WARREN_MAX_MESSAGE_SIZE: '100',
      WARREN_HANDSHAKE_TIMEOUT: '500',
      WARREN_USERS: 'a:1,b:2',
      WARREN_VHOSTS: 'x,y',
      UNRELATED: 'ignored',
    })).toEqual({ ...SERVED,
      host: '::1',
      port: 5673,
      dataDir: '/var/lib/warren',
      logLevel: 'warn',
      logPretty: true,
      maxConnections: 3,
      frameMax: 4096,
      channelMax: 16,
      heartbeat: 0,
      maxMessageSize: 100,
      handshakeTimeout: 500,
      users: [{ name: 'a', password: '1' }, { name: 'b', password: '2' }],
      vhosts: ['x', 'y'],
    });
    expect(parse([], { WARREN_LOG_PRETTY: 'false' })).toEqual({ ...SERVED, logPretty: false, dataDir: './data' });
    // Empty variables are ignored.
    expect(parse([], { WARREN_PORT: '', WARREN_HOST: '' })).toEqual({ ...SERVED, dataDir: './data' });
  });

  it('precedence: flags > env > config file > defaults', () => {
    const file = config('prec.json', { port: 1111, host: '10.0.0.1', heartbeat: 7, dataDir: '/from/file', users: [{ name: 'f', password: 'f' }] });
    const fromFile = { host: '10.0.0.1', heartbeat: 7 };
    expect(parse(['--config', file])).toEqual({ ...SERVED, ...fromFile, port: 1111, dataDir: '/from/file', users: [{ name: 'f', password: 'f' }] });
    expect(parse(['--config', file], { WARREN_PORT: '2222', WARREN_DATA_DIR: '/from/env', WARREN_USERS: 'e:e' }))
      .toEqual({ ...SERVED, ...fromFile, port: 2222, dataDir: '/from/env', users: [{ name: 'e', password: 'e' }] });
    expect(parse(['--config', file, '--port', '3333', '--data-dir', '/from/flag', '--user', 'g:g'], { WARREN_PORT: '2222', WARREN_DATA_DIR: '/from/env', WARREN_USERS: 'e:e' }))
      .toEqual({ ...SERVED, ...fromFile, port: 3333, dataDir: '/from/flag', users: [{ name: 'g', password: 'g' }] });
    // The config file may also come from WARREN_CONFIG.
    expect(parse([], { WARREN_CONFIG: file })).toMatchObject({ port: 1111 });
  });

  it('--product-name, WARREN_PRODUCT_NAME and productName in a config file set the advertised product', () => {
    expect(parse(['--product-name', 'Warren'])).toEqual({ ...SERVED, productName: 'Warren', dataDir: './data' });
    expect(parse([], { WARREN_PRODUCT_NAME: 'FromEnv' })).toEqual({ ...SERVED, productName: 'FromEnv', dataDir: './data' });
    expect(parse(['--config', config('product.json', { productName: 'FromFile' })])).toEqual({ ...SERVED, productName: 'FromFile', dataDir: './data' });
    expect(parse(['--config', config('product2.json', { productName: 'FromFile' }), '--product-name', 'FromFlag'], { WARREN_PRODUCT_NAME: 'FromEnv' }))
      .toEqual({ ...SERVED, productName: 'FromFlag', dataDir: './data' });
  });

  it('rejects bad config files with a UsageError naming the file', () => {
    expect(() => parse(['--config', join(dir, 'missing.json')])).toThrow(UsageError);
    expect(() => parse(['--config', join(dir, 'missing.json')])).toThrow(/cannot read config file .*missing\.json/);
    expect(() => parse(['--config', config('bad.json', '{ nope')])).toThrow(/cannot read config file/);
    expect(() => parse(['--config', config('array.json', [1, 2])])).toThrow(/must hold a JSON object/);
    expect(() => parse(['--config', config('unknown.json', { port: 1, colour: 'blue' })])).toThrow(/unknown option 'colour'/);
  });

  it('rejects unknown flags, positionals and invalid values with a UsageError', () => {
    expect(() => parse(['--bogus'])).toThrow(UsageError);
    expect(() => parse(['--bogus'])).toThrow("Unknown option '--bogus'");
    expect(() => parse(['extra'])).toThrow(UsageError);
    expect(() => parse(['--port'])).toThrow(UsageError);
    expect(() => parse(['--port', 'abc'])).toThrow("--port expects a non-negative integer, got 'abc'");
    expect(() => parse(['--port=-1'])).toThrow("--port expects a non-negative integer, got '-1'");
    expect(() => parse(['--heartbeat', '1.5'])).toThrow(UsageError);
    expect(() => parse(['--log-level', 'loud'])).toThrow("--log-level expects one of fatal|error|warn|info|debug|trace|silent, got 'loud'");
    expect(() => parse(['--user', 'nopassword'])).toThrow("--user expects name:password, got 'nopassword'");
    expect(() => parse(['--user', ':pw'])).toThrow(UsageError);
    expect(() => parse([], { WARREN_PORT: 'eighty' })).toThrow(UsageError);
    expect(() => parse([], { WARREN_LOG_LEVEL: 'verbose' })).toThrow(UsageError);
  });

  it('--help and --version print and return null', () => {
    let out = '';
    expect(parseCli(['--help'], {}, (s) => { out += s; })).toBeNull();
    expect(out).toContain('Usage: warren [options]');
    for (const flag of ['--host', '--port', '--data-dir', '--config', '--log-level', '--log-pretty', '--user', '--max-connections', '--help', '--version']) {
      expect(out).toContain(flag);
    }
    out = '';
    expect(parseCli(['--version', '--port', '1'], {}, (s) => { out += s; })).toBeNull();
    expect(out).toBe(`${VERSION}\n`);
  });
});

// ---------------------------------------------------------------------------- the executable

interface Run {
  child: ChildProcessWithoutNullStreams;
  stdout: string;
  stderr: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Data directories made for child runs, removed after the tests. */
const dataDirs: string[] = [];

/**
 * Runs bin/warren with a clean environment (no inherited WARREN_* variables)
 * and, unless the test sets one, a fresh temporary data directory (the CLI
 * defaults to ./data, which must not land in the source tree).
 */
function run(args: string[], env: NodeJS.ProcessEnv = {}): Run {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WARREN_')));
  const dataDir = mkdtempSync(join(tmpdir(), 'warren-cli-data-'));
  dataDirs.push(dataDir);
  // Free ports for the HTTP listeners: tests run in parallel and must not compete for 15672/15692.
  const ports = { WARREN_MANAGEMENT_PORT: '0', WARREN_PROMETHEUS_PORT: '0' };
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...base, WARREN_DATA_DIR: dataDir, ...ports, ...env } });
  const r: Run = {
    child,
    stdout: '',
    stderr: '',
    exited: new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal }))),
  };
  child.stdout.on('data', (d: Buffer) => { r.stdout += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { r.stderr += d.toString(); });
  return r;
}

/** A port nobody listens on right now (the kernel's pick for port 0). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * An amqplib connection to the port, retried until the child accepts it (a
 * child process has no event for that); undefined if the child exits first.
 */
async function serving(port: number, r: Run): Promise<AmqpConnection | undefined> {
  let conn: AmqpConnection | undefined;
  await waitFor(async () => {
    if (r.child.exitCode !== null || r.child.signalCode !== null) return true;
    conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${port}`).catch(() => undefined);
    return conn !== undefined;
  }, { what: `warren accepting AMQP connections on port ${port}` });
  return conn;
}

/** Resolves with the parsed "Warren listening" log line. */
async function listening(r: Run, timeout = WAIT_MS): Promise<Record<string, unknown>> {
  const end = Date.now() + timeout;
  while (Date.now() < end) {
    for (const line of r.stdout.split('\n')) {
      if (!line.startsWith('{')) continue;
      const entry = JSON.parse(line) as Record<string, unknown>;
      if (entry.msg === 'Warren listening') return entry;
    }
    if (r.child.exitCode !== null) break;
    await new Promise((res) => setTimeout(res, 20));
  }
  throw new Error(`no listening line; stdout: ${r.stdout} stderr: ${r.stderr}`);
}

async function exitOf(r: Run, timeout = WAIT_MS): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      r.child.kill('SIGKILL');
      reject(new Error(`warren did not exit within ${timeout} ms; stdout: ${r.stdout} stderr: ${r.stderr}`));
    }, timeout);
  });
  try {
    return await Promise.race([r.exited, t]);
  } finally {
    clearTimeout(timer);
  }
}

describe('bin/warren', () => {
  const running: Run[] = [];
  beforeAll(() => {
    if (!existsSync(DIST_CLI)) {
      throw new Error(`${DIST_CLI} is missing: run \`npm run build\` before the CLI tests (npm install builds it via the prepare script)`);
    }
  });
  afterAll(() => {
    for (const r of running) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
    for (const d of dataDirs) rmSync(d, { recursive: true, force: true });
  });

  function start(args: string[], env?: NodeJS.ProcessEnv): Run {
    const r = run(args, env);
    running.push(r);
    return r;
  }

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`starts, logs one JSON listening line, serves amqplib, and exits 0 on ${signal} after a 320 close`, async () => {
      const r = start(['--port', '0', '--host', '127.0.0.1', '--log-level', 'info']);
      const line = await listening(r);
      expect(line).toMatchObject({ level: 30, name: 'warren', msg: 'Warren listening', version: VERSION, host: '127.0.0.1' });
      expect(typeof line.port).toBe('number');
      expect(line.port).toBeGreaterThan(0);
      expect(r.stdout.split('\n').filter((l) => l.includes('"Warren listening"'))).toHaveLength(1);

      const conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${line.port as number}`);
      expect(await roundTrip(conn, 'through the cli')).toBe('through the cli');
      const closed = closeEvent(conn);
      r.child.kill(signal);
      const err = await closed;
      expect(err?.code).toBe(320);
      expect(err?.message).toContain("CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'");
      expect(await exitOf(r)).toEqual({ code: 0, signal: null });
      expect(r.stderr).toBe('');
      expect(r.stdout).toContain('"msg":"Warren stopped"');
    });
  }

  it('takes its settings from WARREN_* variables (and the user list replaces guest)', async () => {
    const r = start([], { WARREN_PORT: '0', WARREN_HOST: '127.0.0.1', WARREN_USERS: 'cli:pw' });
    const line = await listening(r);
    const conn = await amqp.connect(`amqp://cli:pw@127.0.0.1:${line.port as number}`);
    expect(await roundTrip(conn)).toMatch(/^ping-/);
    await conn.close();
    await expect(amqp.connect(`amqp://guest:guest@127.0.0.1:${line.port as number}`)).rejects.toThrow(/403/);
    r.child.kill('SIGTERM');
    expect((await exitOf(r)).code).toBe(0);
  });

  it('serves the management API and the Prometheus metrics on the ports it logs (0: free ones); --no-management turns the API off', async () => {
    const r = start(['--port', '0', '--host', '127.0.0.1', '--management-port', '0', '--prometheus-port', '0']);
    await listening(r);
    const logged = (msg: string): number => {
      for (const l of r.stdout.split('\n')) if (l.includes(`"msg":"${msg}"`)) return (JSON.parse(l) as { port: number }).port;
      throw new Error(`no '${msg}' line; stdout: ${r.stdout}`);
    };
    const api = await fetch(`http://127.0.0.1:${logged('management API listening')}/api/overview`, { headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` } });
    expect(api.status).toBe(200);
    expect(((await api.json()) as { product_name: string }).product_name).toBe('Warren');
    const metrics = await fetch(`http://127.0.0.1:${logged('Prometheus metrics listening')}/metrics`);
    expect(await metrics.text()).toMatch(/^rabbitmq_queues 0$/m);
    r.child.kill('SIGTERM');
    expect((await exitOf(r)).code).toBe(0);

    const off = start(['--port', '0', '--host', '127.0.0.1', '--no-management', '--no-prometheus']);
    await listening(off);
    expect(off.stdout).not.toContain('management API listening');
    expect(off.stdout).not.toContain('Prometheus metrics listening');
    off.child.kill('SIGTERM');
    expect((await exitOf(off)).code).toBe(0);
  });

  it('--log-level warn suppresses the info lines', async () => {
    // No listening line to read the port from: give it a free port, and know it
    // has started (and so would have logged "Warren listening") once it serves.
    let r: Run | undefined;
    let conn: AmqpConnection | undefined;
    for (let attempt = 0; attempt < 3 && !conn; attempt++) {
      const port = await freePort();
      r = start(['--port', String(port), '--host', '127.0.0.1', '--log-level', 'warn', '--max-connections', '1']);
      conn = await serving(port, r);
      // Not serving: another process took the port in between (exit 1, EADDRINUSE); try another one.
      if (!conn && !r.stderr.includes('EADDRINUSE')) throw new Error(`warren exited early; stderr: ${r.stderr}`);
    }
    if (!r || !conn) throw new Error('no free port could be kept for warren');
    expect(await roundTrip(conn, 'quiet')).toBe('quiet');
    await conn.close();
    r.child.kill('SIGTERM');
    // After the exit every line it would have written ("Warren stopped" too) is in stdout.
    expect(await exitOf(r)).toEqual({ code: 0, signal: null });
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('');
  });

  it('--help and --version print and exit 0', async () => {
    const help = start(['--help']);
    expect((await exitOf(help)).code).toBe(0);
    expect(help.stdout).toContain('Usage: warren [options]');
    const version = start(['--version']);
    expect((await exitOf(version)).code).toBe(0);
    expect(version.stdout).toBe(`${VERSION}\n`);
  });

  it.each([
    [['--bogus'], "warren: Unknown option '--bogus'"],
    [['--port', 'abc'], "warren: --port expects a non-negative integer, got 'abc'"],
    [['--log-level', 'loud'], "warren: --log-level expects one of"],
    [['--port', '70000'], 'warren: invalid --port 70000 (0 to 65535)'],
    [['--port', '-1'], "warren: --port expects a non-negative integer, got '-1'"],
    [['--frame-max', '100'], 'warren: invalid --frame-max 100 (minimum 4096, or 0)'],
    [['--memory-high-watermark', '1.5'], 'warren: invalid --memory-high-watermark 1.5 (a fraction of RAM is at most 1; as bytes it must be at least 1048576, 1 MiB)'],
  ])('%j exits 2 with a message', async (args, message) => {
    const r = start(args);
    expect((await exitOf(r)).code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stdout).toBe('');
  });

  it('exits 1 when the port is taken', async () => {
    const broker = await startBroker();
    try {
      const r = start(['--port', String(broker.port), '--host', '127.0.0.1', '--log-level', 'silent']);
      expect((await exitOf(r)).code).toBe(1);
      expect(r.stderr).toMatch(/^warren: cannot listen on 127\.0\.0\.1:\d+: the port is already in use \(EADDRINUSE\)\nwarren: .*--port/);
    } finally {
      await broker.stop();
    }
  });
});
