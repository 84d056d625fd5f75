/**
 * A real etcd (Debian's etcd-server) for the cluster tests: one member on free
 * loopback ports with a temporary data directory. `start()` resolves once
 * /health answers healthy; `stop()` kills it (SIGKILL: tests also use it to
 * simulate an etcd outage) and `restart()` brings it back on the same ports
 * and data. A three-member cluster would run three of these with
 * --initial-cluster naming all three peer URLs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './port.js';

/** Ports for etcd and cluster nodes: see freePort in port.ts. */
export { freePort } from './port.js';

export class TestEtcd {
  private proc: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private output = '';

  private constructor(readonly dataDir: string, readonly clientPort: number, readonly peerPort: number) {}

  get endpoint(): string {
    return `http://127.0.0.1:${this.clientPort}`;
  }

  static async start(): Promise<TestEtcd> {
    const dir = mkdtempSync(join(tmpdir(), 'warren-etcd-'));
    const etcd = new TestEtcd(dir, await freePort(), await freePort());
    await etcd.restart();
    return etcd;
  }

  /** Starts (again) on the same ports and data directory; resolves when healthy. */
  async restart(timeoutMs = 30_000): Promise<void> {
    const client = this.endpoint;
    const peer = `http://127.0.0.1:${this.peerPort}`;
    this.output = '';
    const proc = spawn('etcd', [
      '--name', 'test', '--data-dir', join(this.dataDir, 'data'),
      '--listen-client-urls', client, '--advertise-client-urls', client,
      '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer,
      '--initial-cluster', `test=${peer}`, '--log-level', 'error',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    proc.stdout!.on('data', (d: Buffer) => (this.output += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (this.output += d.toString()));
    let gone = false;
    this.exited = new Promise((resolve) => proc.once('exit', () => { gone = true; resolve(); }));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (gone) throw new Error(`etcd exited before it was healthy: ${this.output}`);
      try {
        const res = await fetch(`${client}/health`, { signal: AbortSignal.timeout(1000) });
        const body = (await res.json()) as { health?: string };
        if (body.health === 'true') return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`etcd not healthy after ${timeoutMs} ms: ${this.output}`);
      // Poll interval while etcd starts (a wait for an event that has no notification, not synchronisation).
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Kills etcd (its data stays for restart()). */
  async stop(): Promise<void> {
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
    await this.exited;
    this.proc = null;
  }

  /** Kills etcd and removes its data directory. */
  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
