/**
 * The package as a new user gets it: `npm pack`, installed from the tarball
 * into a fresh `npm init` project (without an install-time warning), imported
 * from ESM, required from CommonJS, type-checked from both, and `npx warren`
 * started and stopped with SIGTERM. Also `npm start` in this repository: a
 * SIGTERM to npm reaches the broker, which exits 0 and frees its port.
 *
 * Needs dist/ (`npm run build`; `npm test` builds it first). The install uses
 * npm's cache first (`--prefer-offline`): after `npm ci` every dependency is
 * there, so no network is needed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listening } from '../helpers/port.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

/** Without the npm_* variables vitest may have been started with (npm test): the child must see a plain shell's environment. */
const cleanEnv = (): NodeJS.ProcessEnv => Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('npm_') && !k.startsWith('WARREN_')));

function sh(command: string, args: string[], cwd: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(command, args, { cwd, env: cleanEnv(), encoding: 'utf8', timeout: 180_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Whether the process still runs. A broker whose shell died was reparented; once it exits it
 * may stay a zombie until its new parent reaps it, which counts as gone.
 */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

interface Started {
  proc: ChildProcess;
  /** The broker's own pid and port, from its "Warren listening" line. */
  pid: number;
  port: number;
  /** ms from spawn to the listening line. */
  startMs: number;
  lines: Record<string, unknown>[];
  exited: Promise<number | null>;
}

/** Runs a command that starts a broker; resolves once it logs that it listens. */
function startBrokerCommand(command: string, args: string[], cwd: string): Promise<Started> {
  const t0 = performance.now();
  const proc = spawn(command, args, { cwd, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Record<string, unknown>[] = [];
  const exited = new Promise<number | null>((resolve) => proc.once('close', (code) => resolve(code)));
  let out = '';
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  return new Promise((resolve, reject) => {
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      let nl;
      while ((nl = out.indexOf('\n')) >= 0) {
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        if (!line.startsWith('{')) continue; // npm's own "> warren@… start" banner
        const entry = JSON.parse(line) as Record<string, unknown>;
        lines.push(entry);
        if (entry.msg === 'Warren listening') resolve({ proc, pid: entry.pid as number, port: entry.port as number, startMs: performance.now() - t0, lines, exited });
      }
    });
    void exited.then((code) => reject(new Error(`${command} ${args.join(' ')} exited (${code}) before listening: ${err}`)));
  });
}

/**
 * The broker logged its clean stop as its last line, after the shutdown request.
 * (It once exited while "shutdown requested" was still being written, which put
 * that line after "Warren stopped" on a loaded machine: the CLI now waits for its
 * log writes before exiting.)
 */
function expectStoppedCleanly(lines: Record<string, unknown>[]): void {
  const msgs = lines.map((l) => l.msg);
  expect(msgs.at(-1)).toBe('Warren stopped');
  expect(msgs.indexOf('shutdown requested')).toBeGreaterThan(msgs.indexOf('Warren listening'));
  expect(msgs.indexOf('shutdown requested')).toBeLessThan(msgs.indexOf('Warren stopping'));
}

/**
 * Once its launcher (npx, npm) exited: the broker process ends too (it may
 * lag its launcher a moment), having logged a clean stop, and its port is free.
 */
async function expectGoneAfterLauncher(b: Started): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (alive(b.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  expect(alive(b.pid)).toBe(false);
  expectStoppedCleanly(b.lines);
  expect(await listening(b.port)).toBe(false);
}

const BROKER_ARGS = ['--port', '0', '--host', '127.0.0.1', '--management-port', '0', '--prometheus-port', '0', '--data-dir', './data'];

let work: string;
let app: string;
let tarball: string;
let install: { status: number | null; stdout: string; stderr: string };
const leftovers: number[] = [];

beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist', 'index.js'))) throw new Error('dist/ is missing: run `npm run build`');
  work = mkdtempSync(join(tmpdir(), 'warren-package-'));
  app = join(work, 'app');
  const pack = sh('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], ROOT);
  expect(pack.status, pack.stderr).toBe(0);
  const [info] = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
  tarball = join(work, info!.filename);
  const files = info!.files.map((f) => f.path);
  expect(files).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'package.json', 'bin/warren', 'dist/index.js', 'dist/index.d.ts', 'dist/cli.js', 'ui/index.html']));
  expect(files.filter((f) => f.startsWith('test/') || f.startsWith('src/'))).toEqual([]);
  expect(sh('mkdir', ['-p', app], work).status).toBe(0);
  const init = sh('npm', ['init', '-y'], app);
  expect(init.status, init.stderr).toBe(0);
  install = sh('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], app);
}, 300_000);

afterAll(() => {
  for (const pid of leftovers) if (alive(pid)) process.kill(pid, 'SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

describe('a fresh npm project', () => {
  it('installs the tarball without a warning', () => {
    expect(install.status, install.stderr).toBe(0);
    expect(install.stderr).not.toMatch(/warn/i);
    expect(readFileSync(join(app, 'node_modules', 'warren', 'LICENSE'), 'utf8')).toMatch(/^MIT License/);
  });

  it('imports from ESM and requires from CommonJS, with no warning', () => {
    const probe = `const b = await Broker.start();
const url = b.url();
await b.stop();
console.log(JSON.stringify({ version: VERSION, url, port: b.port, type: typeof Broker }));`;
    writeFileSync(join(app, 'esm.mjs'), `import { Broker, VERSION } from 'warren';\n${probe}\n`);
    writeFileSync(join(app, 'cjs.cjs'), `const { Broker, VERSION } = require('warren');\n(async () => {\n${probe}\n})();\n`);
    for (const file of ['esm.mjs', 'cjs.cjs']) {
      const r = sh(process.execPath, [file], app);
      expect(r.stderr, file).toBe('');
      expect(r.status, file).toBe(0);
      const out = JSON.parse(r.stdout) as { version: string; url: string; port: number; type: string };
      expect(out).toMatchObject({ version: VERSION, type: 'function' });
      expect(out.url).toBe(`amqp://guest:guest@127.0.0.1:${out.port}`);
    }
  }, 60_000);

  it('type-checks from ESM and from CommonJS (module nodenext)', () => {
    writeFileSync(join(app, 'esm-check.mts'), "import { Broker, type QueueInfo } from 'warren';\nexport const start: () => Promise<Broker> = () => Broker.start({ port: 0 });\nexport type Q = QueueInfo['messagesReady'];\n");
    writeFileSync(join(app, 'cjs-check.cts'), "import warren = require('warren');\nexport const start = (): Promise<warren.Broker> => warren.Broker.start();\n");
    // @types/node from this repository (a user's project has its own).
    const r = sh(process.execPath, [TSC, '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022',
      '--typeRoots', join(ROOT, 'node_modules', '@types'), '--types', 'node', 'esm-check.mts', 'cjs-check.cts'], app);
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  }, 120_000);

  it('npx warren starts (time to listen printed) and a SIGTERM to npx stops the broker and frees the port', async () => {
    const b = await startBrokerCommand('npx', ['warren', ...BROKER_ARGS], app);
    leftovers.push(b.pid);
    console.log(`npx warren: listening ${b.startMs.toFixed(0)} ms after spawn`);
    // The target is under 1 s; it is reported above, not asserted: on a loaded
    // machine npx took 12 s to get there (a speed, not a behaviour).
    expect(b.startMs).toBeGreaterThan(0);
    expect(await listening(b.port)).toBe(true);
    // The web UI ships with the package: its page and the libraries it imports are served.
    const http = b.lines.find((l) => l.msg === 'management API listening')!.port as number;
    for (const path of ['/', '/ui/vendor/preact.js']) {
      const res = await fetch(`http://127.0.0.1:${http}${path}`);
      expect(res.status, path).toBe(200);
      await res.arrayBuffer();
    }
    b.proc.kill('SIGTERM');
    // npx runs warren under `sh -c`: the shell dies of the signal npm forwards (npx itself then
    // exits 143, or dies of the signal first); the broker notices its shell go and stops as if signalled.
    await b.exited;
    await expectGoneAfterLauncher(b);
  }, 60_000);

  it('clustering asks for its optional peer dependency (etcd3) instead of installing it for everyone', async () => {
    expect(existsSync(join(app, 'node_modules', 'etcd3'))).toBe(false);
    const r = sh(process.execPath, [join(app, 'node_modules', '.bin', 'warren'), ...BROKER_ARGS, '--cluster-etcd', 'http://127.0.0.1:1'], app);
    expect(r.status).toBe(1);
    const line = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 60, msg: 'clustering needs the etcd3 package, which is not installed', hint: expect.stringContaining('npm install etcd3') });
  }, 60_000);

  it('"start": "warren" in the app\'s package.json: a SIGTERM to npm start stops the broker', async () => {
    const pkg = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    pkg.scripts.start = `warren ${BROKER_ARGS.join(' ')}`;
    writeFileSync(join(app, 'package.json'), JSON.stringify(pkg, null, 2));
    const b = await startBrokerCommand('npm', ['start'], app);
    leftovers.push(b.pid);
    b.proc.kill('SIGTERM');
    await b.exited;
    await expectGoneAfterLauncher(b);
  }, 60_000);
});

describe('npm start in this repository', () => {
  it('a SIGTERM to npm reaches the broker: npm exits 0 and the port is free', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'warren-npm-start-'));
    try {
      const b = await startBrokerCommand('npm', ['start', '--', ...BROKER_ARGS.slice(0, -1), join(dir, 'data')], ROOT);
      leftovers.push(b.pid);
      b.proc.kill('SIGTERM');
      expect(await b.exited).toBe(0);
      expect(alive(b.pid)).toBe(false);
      expectStoppedCleanly(b.lines);
      expect(await listening(b.port)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
