/**
 * A first run without surprises (issue 19): errors name what the user typed
 * (flag, WARREN_* variable or config key), a taken port fails before the data
 * directory is touched with a hint naming --port, start-up failures are log
 * lines like every other, the data-directory lock checks that its holder is
 * still the process that took it, and --help lists the subcommands.
 * The executable tests run bin/warren (dist/: `npm run build`).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError, parseCli } from '../../src/cli.js';
import { resolveOptions } from '../../src/config.js';
import { DataDirLock, processStartTime } from '../../src/store/lock.js';
import { startBroker } from '../helpers/broker.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin', 'warren');

let dir: string;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'warren-first-run-')); });
afterAll(() => { rmSync(dir, { recursive: true, force: true }); });

const parse = (argv: string[], env: NodeJS.ProcessEnv = {}): ReturnType<typeof parseCli> => parseCli(argv, env, () => {});

describe('errors name what the user typed', () => {
  it('a flag, a variable or a config key, never an internal option name', () => {
    expect(() => parse(['--port', '-1'])).toThrow(new UsageError("--port expects a non-negative integer, got '-1'"));
    expect(() => parse(['--heartbeat', '-5'])).toThrow("--heartbeat expects a non-negative integer, got '-5'");
    expect(() => parse(['--frame-max', '100'])).toThrow('invalid --frame-max 100 (minimum 4096, or 0)');
    expect(() => parse([], { WARREN_FRAME_MAX: '100' })).toThrow('invalid WARREN_FRAME_MAX 100 (minimum 4096, or 0)');
    expect(() => parse([], { WARREN_PORT: 'eighty' })).toThrow("WARREN_PORT expects a non-negative integer, got 'eighty'");
    const file = join(dir, 'c.json');
    writeFileSync(file, JSON.stringify({ frameMax: 100 }));
    expect(() => parse(['--config', file])).toThrow(`invalid frameMax (config file ${file}) 100 (minimum 4096, or 0)`);
    // The flag wins over the config file, and so does the name in the error.
    expect(() => parse(['--config', file, '--frame-max', '200'])).toThrow('invalid --frame-max 200');
    expect(() => parse(['--port', '70000'])).toThrow('invalid --port 70000 (0 to 65535)');
    expect(() => parse([], { WARREN_USERS: 'alice' })).toThrow("WARREN_USERS expects name:password, got 'alice'");
    expect(() => parse(['--user', 'alice'])).toThrow("--user expects name:password, got 'alice'");
  });

  it('refuses memory watermarks between 1 and 1 MiB as likely mistakes', () => {
    expect(() => parse(['--memory-high-watermark', '1.5'])).toThrow(/^invalid --memory-high-watermark 1\.5 \(a fraction of RAM is at most 1; as bytes it must be at least 1048576, 1 MiB\)$/);
    expect(() => parse(['--memory-high-watermark', '1048575'])).toThrow(UsageError);
    expect(() => parse([], { WARREN_MEMORY_HIGH_WATERMARK: '40' })).toThrow('invalid WARREN_MEMORY_HIGH_WATERMARK 40');
    expect(parse(['--memory-high-watermark', '1'])).toMatchObject({ memoryHighWatermark: 1 });
    expect(parse(['--memory-high-watermark', '0.6'])).toMatchObject({ memoryHighWatermark: 0.6 });
    expect(parse(['--memory-high-watermark', '1048576'])).toMatchObject({ memoryHighWatermark: 1048576 });
    // Embedded, the option name is the one the caller wrote.
    expect(() => resolveOptions({ memoryHighWatermark: 1000 })).toThrow(/^invalid option: memoryHighWatermark 1000/);
  });

  it('--help lists the subcommands', () => {
    let out = '';
    parseCli(['--help'], {}, (s) => { out += s; });
    expect(out).toMatch(/^Usage: warren \[options\] +run the broker\n +warren perf <scenario> \.\.\. +load generator/);
    expect(out).toMatch(/^ +warren ctl <command> \.\.\. +manage a running broker/m);
  });
});

describe('the data-directory lock', () => {
  it('takes over a lock whose pid now belongs to another process, refuses one held by the live process that wrote it', () => {
    const data = join(dir, 'locked');
    const lock = DataDirLock.acquire(data);
    expect(readFileSync(join(data, 'warren.lock'), 'utf8')).toBe(`${process.pid} ${processStartTime(process.pid)}\n`);
    lock.release();

    // A live pid (this test's parent) whose start time is not the one recorded: a recycled pid, not a Warren.
    const other = process.ppid;
    const started = processStartTime(other);
    expect(started).toMatch(/^\d+$/);
    writeFileSync(join(data, 'warren.lock'), `${other} ${Number(started) + 12345}\n`);
    DataDirLock.acquire(data).release();

    // The same pid with its real start time: that process still holds the directory.
    writeFileSync(join(data, 'warren.lock'), `${other} ${started}\n`);
    expect(() => DataDirLock.acquire(data)).toThrow(`data directory ${data} is in use by another Warren process (pid ${other}`);
  });
});

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runWarren(args: string[], cwd = ROOT): Promise<Exit> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WARREN_') && !k.startsWith('npm_')));
  const child = spawn(process.execPath, [BIN, ...args], { cwd, env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

describe('bin/warren start-up failures', () => {
  beforeAll(() => {
    if (!existsSync(join(ROOT, 'dist', 'cli.js'))) throw new Error('dist/ is missing: run `npm run build`');
  });

  it('--port -1 exits 2 naming --port', async () => {
    const r = await runWarren(['--port', '-1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("warren: --port expects a non-negative integer, got '-1'\nTry 'warren --help'.\n");
  });

  it('a taken port fails before the data directory is touched, as a fatal JSON log line with a hint naming the port\'s flag', async () => {
    const broker = await startBroker();
    try {
      const data = join(dir, 'never-created');
      const r = await runWarren(['--port', String(broker.port), '--host', '127.0.0.1', '--data-dir', data]);
      expect(r.code).toBe(1);
      expect(existsSync(data)).toBe(false);
      const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({
        level: 60,
        name: 'warren',
        msg: `cannot listen on 127.0.0.1:${broker.port}: the port is already in use (EADDRINUSE)`,
        hint: 'another broker may be running; choose another port with --port',
        err: expect.objectContaining({ code: 'EADDRINUSE' }),
      });
      expect(r.stderr).toContain('choose another port with --port');

      const pretty = await runWarren(['--port', String(broker.port), '--host', '127.0.0.1', '--data-dir', data, '--log-pretty']);
      expect(pretty.code).toBe(1);
      expect(pretty.stdout).toMatch(/FATAL.*cannot listen on .*EADDRINUSE/);
      expect(pretty.stdout).toContain('choose another port with --port');
      expect(existsSync(data)).toBe(false);

      // The management API's port: the hint names its flag.
      const http = await runWarren(['--port', '0', '--host', '127.0.0.1', '--management-port', String(broker.port), '--prometheus-port', '0', '--data-dir', data]);
      expect(http.code).toBe(1);
      expect(JSON.parse(http.stdout.trim().split('\n').at(-1)!)).toMatchObject({ level: 60, hint: 'another broker may be running; choose another port with --management-port' });
      expect(existsSync(data)).toBe(false);
    } finally {
      await broker.stop();
    }
  });

  it('a data directory held by a live Warren is refused with a hint naming --data-dir', async () => {
    const data = join(dir, 'held');
    const lock = DataDirLock.acquire(data);
    try {
      const r = await runWarren(['--port', '0', '--host', '127.0.0.1', '--management-port', '0', '--prometheus-port', '0', '--data-dir', data]);
      expect(r.code).toBe(1);
      const line = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
      expect(line).toMatchObject({ level: 60, msg: expect.stringContaining('is in use by another Warren process'), hint: expect.stringContaining('--data-dir') });
    } finally {
      lock.release();
    }
  });
});
