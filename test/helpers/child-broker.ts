import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

export const WARREN_BIN = fileURLToPath(new URL('../../bin/warren', import.meta.url));
const DIST_CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

export interface ChildBroker {
  proc: ChildProcess;
  port: number;
  /** Every log line the broker printed (JSON). */
  lines: Record<string, unknown>[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Runs `bin/warren` as a child process on a free port; resolves when it logs that it listens.
 * Without a --data-dir it gets a temporary one of its own (removed when it exits): the CLI's
 * default, ./data, would be shared with any other test file starting a broker at the same time.
 */
export function startChildBroker(args: string[], env: NodeJS.ProcessEnv = {}): Promise<ChildBroker> {
  if (!existsSync(DIST_CLI)) throw new Error('dist/cli.js is missing: run `npm run build` (npm test does it first)');
  const ownDataDir = args.includes('--data-dir') || env.WARREN_DATA_DIR !== undefined ? null : mkdtempSync(join(tmpdir(), 'warren-child-'));
  // Free ports for the HTTP listeners too: parallel tests must not compete for 15672/15692.
  const proc = spawn(process.execPath, [WARREN_BIN, '--port', '0', '--host', '127.0.0.1', '--management-port', '0', '--prometheus-port', '0', ...(ownDataDir === null ? [] : ['--data-dir', ownDataDir]), ...args], {
    // A watermark no test reaches whatever the machine's RAM (see TEST_MEMORY_WATERMARK).
    env: { ...process.env, WARREN_MEMORY_HIGH_WATERMARK: String(2 ** 40), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once('exit', (code, signal) => {
    if (ownDataDir !== null) rmSync(ownDataDir, { recursive: true, force: true });
    resolve({ code, signal });
  }));
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: proc.stdout! });
    rl.on('line', (line) => {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      lines.push(entry);
      if (entry.msg === 'Warren listening') resolve({ proc, port: entry.port as number, lines, exited });
    });
    void exited.then(({ code, signal }) => reject(new Error(`broker exited before listening (code ${code}, signal ${signal}): ${stderr}`)));
  });
}
