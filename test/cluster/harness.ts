/**
 * A test cluster: one real etcd and N Warren nodes as child processes
 * (dist/cli.js: `npm run build` first), each with its own ports and data
 * directory. Every process is killed by `destroy()` (call it in afterAll).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Etcd3 } from 'etcd3';
import { freePort, TestEtcd } from '../helpers/etcd.js';

const WARREN_BIN = fileURLToPath(new URL('../../bin/warren', import.meta.url));
const DIST_CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

export type LogLine = Record<string, unknown>;

export class TestNode {
  proc: ChildProcess | null = null;
  lines: LogLine[] = [];
  stderr = '';
  exited: Promise<void> = Promise.resolve();
  private listeners: (() => void)[] = [];

  constructor(
    readonly name: string,
    readonly amqpPort: number,
    readonly httpPort: number,
    readonly clusterPort: number,
    readonly dataDir: string,
    readonly metricsPort: number,
    private readonly args: () => string[],
  ) {}

  get url(): string {
    return `amqp://guest:guest@127.0.0.1:${this.amqpPort}`;
  }

  get running(): boolean {
    return this.proc !== null && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  start(extra: string[] = []): void {
    const proc = spawn(process.execPath, [WARREN_BIN, ...this.args(), ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    this.exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    proc.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      try {
        this.lines.push(JSON.parse(line) as LogLine);
      } catch {
        return;
      }
      for (const l of this.listeners.slice()) l();
    });
  }

  /** Resolves with the first log line (from index `from`) matching `pred`. */
  waitForLine(pred: (l: LogLine) => boolean, timeoutMs = 30_000, from = 0): Promise<LogLine> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const hit = this.lines.slice(from).find(pred);
        if (!hit) return false;
        cleanup();
        resolve(hit);
        return true;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`${this.name}: no matching log line within ${timeoutMs} ms; last lines: ${JSON.stringify(this.lines.slice(-8))} ${this.stderr}`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.listeners = this.listeners.filter((l) => l !== listener);
      };
      const listener = (): void => void check();
      this.listeners.push(listener);
      check();
    });
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!this.running) return;
    if (signal === 'SIGSTOP' || signal === 'SIGCONT') {
      this.proc!.kill(signal);
      return;
    }
    this.proc!.kill('SIGCONT');
    this.proc!.kill(signal);
    await this.exited;
  }
}

export class TestCluster {
  readonly nodes: TestNode[] = [];
  readonly etcdClient: Etcd3;

  private constructor(readonly etcd: TestEtcd, readonly leaseTtl: number) {
    this.etcdClient = new Etcd3({ hosts: etcd.endpoint });
  }

  static async start(count: number, options: { leaseTtl?: number; isrTimeout?: number; secret?: string } = {}): Promise<TestCluster> {
    if (!existsSync(DIST_CLI)) throw new Error('dist/cli.js is missing: run `npm run build`');
    const etcd = await TestEtcd.start();
    const cluster = new TestCluster(etcd, options.leaseTtl ?? 2);
    for (let i = 0; i < count; i++) {
      const [amqp, http, repl, metrics] = [await freePort(), await freePort(), await freePort(), await freePort()];
      const dir = mkdtempSync(join(tmpdir(), `warren-node${i}-`));
      const name = `node${i}`;
      const node = new TestNode(name, amqp, http, repl, dir, metrics, () => [
        '--host', '127.0.0.1', '--port', String(amqp), '--management-port', String(http), '--prometheus-port', String(metrics),
        '--data-dir', dir, '--cluster-etcd', etcd.endpoint, '--node-name', name,
        '--cluster-port', String(repl), '--cluster-advertise', `127.0.0.1:${repl}`,
        '--cluster-lease-ttl', String(cluster.leaseTtl), '--cluster-isr-timeout', String(options.isrTimeout ?? 3000),
        ...(options.secret ? ['--cluster-secret', options.secret] : []),
      ]);
      cluster.nodes.push(node);
    }
    return cluster;
  }

  /** The leader etcd names (null when none). */
  async leaderName(): Promise<string | null> {
    const v = await this.etcdClient.get('/warren/warren/leader').string();
    return v === null ? null : (JSON.parse(v) as { node: string }).node;
  }

  async isr(): Promise<string[]> {
    const v = await this.etcdClient.get('/warren/warren/isr').string();
    return v === null ? [] : (JSON.parse(v) as string[]);
  }

  node(name: string): TestNode {
    return this.nodes.find((n) => n.name === name)!;
  }

  /** Polls etcd until `pred` holds (etcd has no push for this in the test; the poll is the wait). */
  async until<T>(what: string, probe: () => Promise<T>, pred: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: T | undefined;
    for (;;) {
      try {
        last = await probe();
        if (pred(last)) return last;
      } catch {
        // etcd may be down on purpose
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async destroy(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.kill('SIGKILL').catch(() => undefined)));
    this.etcdClient.close();
    await this.etcd.destroy();
    for (const n of this.nodes) rmSync(n.dataDir, { recursive: true, force: true });
  }
}
