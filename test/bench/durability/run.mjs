#!/usr/bin/env node
// Durability benchmarks (issue: durability).
//
//   npm run bench:durability -- [--scenario confirm|recovery|rss|all] [--vs amqp://guest:guest@localhost:5672]
//                               [--runs 5] [--seconds 5] [--messages 1000000] [--json]
//
// confirm:  durable queue, persistent 1 KB messages, 256 unconfirmed in flight,
//           one consumer acking; confirmed msgs/s. With --vs, the same load runs
//           against a second broker in alternation (A B A B ...) and the ratio of
//           medians is printed. Warren runs as a child process with fsync on.
// recovery: N small persistent messages queued, broker stopped, then the time
//           from spawn to "listening" with the backlog recovered.
// rss:      N persistent 1 KB messages queued without consumers → broker RSS,
//           then consumed back; drain rate and RSS peak.
// The load generator is amqplib (one connection per role).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import amqp from 'amqplib';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const scenario = opt('scenario', 'all');
const vs = opt('vs', null);
const runs = Number(opt('runs', '5'));
const seconds = Number(opt('seconds', '5'));
const messages = Number(opt('messages', '1000000'));
const json = args.includes('--json');
const BIN = fileURLToPath(new URL('../../../bin/warren', import.meta.url));
if (!existsSync(fileURLToPath(new URL('../../../dist/cli.js', import.meta.url)))) {
  console.error('dist/ is missing: run `npm run build` first');
  process.exit(1);
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function startWarren(dataDir, extra = []) {
  const t0 = process.hrtime.bigint();
  const proc = spawn(process.execPath, [BIN, '--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir, '--log-level', 'info', ...extra], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: proc.stdout });
    rl.on('line', (line) => {
      try {
        const e = JSON.parse(line);
        if (e.msg === 'Warren listening') resolve({ proc, url: `amqp://guest:guest@127.0.0.1:${e.port}`, startMs: Number(process.hrtime.bigint() - t0) / 1e6 });
      } catch { /* not JSON */ }
    });
    proc.once('exit', (code) => reject(new Error(`warren exited (${code})`)));
  });
}

async function stopWarren(w) {
  const done = new Promise((r) => w.proc.once('exit', r));
  w.proc.kill('SIGTERM');
  await done;
}

function rssMb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)[1]) / 1024;
}

/** confirm-persistent: returns confirmed msgs/s over `seconds`. */
async function confirmPersistent(url) {
  const queue = `bench-confirm-${process.pid}-${Date.now()}`;
  const pubConn = await amqp.connect(url);
  const conConn = await amqp.connect(url);
  const setup = await pubConn.createChannel();
  await setup.assertQueue(queue, { durable: true });
  const con = await conConn.createChannel();
  await con.prefetch(1000);
  await con.consume(queue, (m) => m && con.ack(m));
  const pub = await pubConn.createConfirmChannel();
  const body = Buffer.alloc(1024, 120);
  let inFlight = 0;
  let confirmed = 0;
  let counting = false;
  const WINDOW = 256;
  let stop = false;
  let wake = null;
  const onConfirm = (err) => {
    inFlight--;
    if (!err && counting) confirmed++;
    if (wake) { const w = wake; wake = null; w(); }
  };
  const loop = (async () => {
    while (!stop) {
      while (inFlight < WINDOW && !stop) {
        inFlight++;
        pub.sendToQueue(queue, body, { persistent: true }, onConfirm);
      }
      await new Promise((r) => (wake = r));
    }
  })();
  await sleep(1000); // warm-up
  counting = true;
  const t0 = Date.now();
  await sleep(seconds * 1000);
  const rate = confirmed / ((Date.now() - t0) / 1000);
  counting = false;
  stop = true;
  if (wake) wake();
  await loop;
  await pub.waitForConfirms().catch(() => {});
  await setup.deleteQueue(queue);
  await pubConn.close();
  await conConn.close();
  return rate;
}

async function fill(url, queue, n, size) {
  const conn = await amqp.connect(url);
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue(queue, { durable: true });
  const body = Buffer.alloc(size, 97);
  for (let i = 0; i < n; i++) {
    if (!ch.sendToQueue(queue, body, { persistent: true })) await new Promise((r) => ch.once('drain', r));
    if (i % 10000 === 9999) await ch.waitForConfirms();
  }
  await ch.waitForConfirms();
  await conn.close();
}

async function drainAll(url, queue, n) {
  const conn = await amqp.connect(url);
  const ch = await conn.createChannel();
  await ch.prefetch(1000);
  let got = 0;
  const t0 = Date.now();
  await new Promise((resolve) => {
    void ch.consume(queue, (m) => {
      if (!m) return;
      ch.ack(m);
      if (++got === n) resolve();
    });
  });
  const rate = n / ((Date.now() - t0) / 1000);
  await conn.close();
  return rate;
}

const results = {};

if (scenario === 'confirm' || scenario === 'all') {
  const dir = mkdtempSync(join(tmpdir(), 'warren-bench-'));
  const w = await startWarren(dir);
  const warren = [];
  const other = [];
  for (let r = 0; r < runs; r++) {
    warren.push(await confirmPersistent(w.url));
    if (vs) other.push(await confirmPersistent(vs));
    const line = `run ${r + 1}/${runs}: warren ${warren.at(-1).toFixed(0)} confirmed/s` + (vs ? `, other ${other.at(-1).toFixed(0)} (ratio ${(warren.at(-1) / other.at(-1)).toFixed(2)})` : '');
    if (!json) console.log(line);
  }
  await stopWarren(w);
  rmSync(dir, { recursive: true, force: true });
  results.confirmPersistent = { warrenMedian: median(warren), warren, ...(vs ? { otherMedian: median(other), other, ratio: median(warren) / median(other) } : {}) };
}

if (scenario === 'recovery' || scenario === 'all') {
  const dir = mkdtempSync(join(tmpdir(), 'warren-bench-'));
  let w = await startWarren(dir, ['--no-fsync']);
  await fill(w.url, 'recover-me', messages, 16);
  await stopWarren(w);
  w = await startWarren(dir);
  const recoveryMs = w.startMs;
  const conn = await amqp.connect(w.url);
  const ch = await conn.createChannel();
  const q = await ch.checkQueue('recover-me');
  await conn.close();
  await stopWarren(w);
  rmSync(dir, { recursive: true, force: true });
  results.recovery = { messages, recovered: q.messageCount, startToListeningMs: recoveryMs };
  if (!json) console.log(`recovery: ${q.messageCount} messages recovered, start to listening ${recoveryMs.toFixed(0)} ms`);
}

if (scenario === 'rss' || scenario === 'all') {
  const dir = mkdtempSync(join(tmpdir(), 'warren-bench-'));
  const w = await startWarren(dir);
  const base = rssMb(w.proc.pid);
  let peak = base;
  const sampler = setInterval(() => { peak = Math.max(peak, rssMb(w.proc.pid)); }, 100);
  await fill(w.url, 'deep', messages, 1024);
  const queued = rssMb(w.proc.pid);
  const drainRate = await drainAll(w.url, 'deep', messages);
  clearInterval(sampler);
  await stopWarren(w);
  rmSync(dir, { recursive: true, force: true });
  results.rss = { messages, baseMb: base, queuedMb: queued, peakMb: peak, drainPerSecond: drainRate };
  if (!json) console.log(`rss: ${messages} × 1 KB persistent queued → RSS ${queued.toFixed(0)} MB (base ${base.toFixed(0)} MB, peak ${peak.toFixed(0)} MB); drained at ${drainRate.toFixed(0)} msg/s`);
}

if (json) console.log(JSON.stringify(results, null, 2));
else if (results.confirmPersistent) {
  const c = results.confirmPersistent;
  console.log(`confirm-persistent median: warren ${c.warrenMedian.toFixed(0)} confirmed/s` + (vs ? `, other ${c.otherMedian.toFixed(0)}, ratio ${c.ratio.toFixed(2)}` : ''));
}
