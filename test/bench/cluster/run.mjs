#!/usr/bin/env node
// Cost of clustering (issue 18, item 7): confirmed persistent throughput of a
// three-node cluster's leader (two followers on the same machine) against a
// single node, paired.
//
//   npm run bench:cluster -- [--runs 5] [--seconds 5] [--no-fsync] [--json] [--profile <dir>]
//
// Starts a real etcd (Debian's etcd-server) on loopback ports with a
// temporary data directory, three Warren nodes and one single node as child
// processes from dist/ (fsync on, like a default start), waits until both
// followers are in the in-sync set, then runs
//
//   warren perf throughput -t 5 -s 1024 -f -c 256 -a -p 1000 --durable -u <leader> --vs <single> --runs 5
//
// (A = cluster leader, B = single node, alternating A B A B …) and prints
// the confirmed msgs/s per run, the per-run ratios A/B and their median.
// Nothing else may be running heavy work: the ratio is what the issue asks
// for, the absolute figures depend on the machine.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const runs = opt('runs', '5');
const seconds = opt('seconds', '5');
const json = args.includes('--json');
// --profile <dir>: every broker process writes a V8 CPU profile there when it stops.
const profileDir = opt('profile', null);
const nodeFlags = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [];
const extraNodeArgs = args.includes('--no-fsync') ? ['--no-fsync'] : [];
const BIN = fileURLToPath(new URL('../../../bin/warren', import.meta.url));
if (!existsSync(fileURLToPath(new URL('../../../dist/cli.js', import.meta.url)))) {
  console.error('dist/ is missing: run `npm run build` first');
  process.exit(1);
}

const children = [];
const dirs = [];
const log = (...m) => {
  if (!json) console.error('[bench:cluster]', ...m);
};

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function tempDir(prefix) {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

async function startEtcd() {
  const dir = tempDir('warren-bench-etcd-');
  const [client, peer] = [`http://127.0.0.1:${await freePort()}`, `http://127.0.0.1:${await freePort()}`];
  const proc = spawn('etcd', [
    '--name', 'bench', '--data-dir', join(dir, 'data'),
    '--listen-client-urls', client, '--advertise-client-urls', client,
    '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer,
    '--initial-cluster', `bench=${peer}`, '--log-level', 'error',
  ], { stdio: 'ignore' });
  children.push(proc);
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const res = await fetch(`${client}/health`, { signal: AbortSignal.timeout(1000) });
      if ((await res.json()).health === 'true') return client;
    } catch {
      // not up yet
    }
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error('etcd did not start (is etcd-server installed?)');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Spawns a Warren node; resolves with { proc, lines, waitFor(pred) }. */
function startWarren(extra) {
  const proc = spawn(process.execPath, [...nodeFlags, BIN, '--host', '127.0.0.1', '--log-level', 'info', '--no-management', '--no-prometheus', ...extraNodeArgs, ...extra], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(proc);
  const lines = [];
  const waiters = [];
  createInterface({ input: proc.stdout }).on('line', (line) => {
    let e;
    try {
      e = JSON.parse(line);
    } catch {
      return;
    }
    lines.push(e);
    for (const w of waiters.slice()) if (w.pred(e)) w.resolve(e);
  });
  const waitFor = (pred, what, ms = 60_000) => {
    const hit = lines.find(pred);
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve, reject) => {
      const w = { pred, resolve: (e) => { clearTimeout(t); waiters.splice(waiters.indexOf(w), 1); resolve(e); } };
      const t = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
      waiters.push(w);
    });
  };
  return { proc, lines, waitFor };
}

async function etcdGet(endpoint, key) {
  const res = await fetch(`${endpoint}/v3/kv/range`, { method: 'POST', body: JSON.stringify({ key: Buffer.from(key).toString('base64') }) });
  const body = await res.json();
  const kv = body.kvs?.[0];
  return kv ? Buffer.from(kv.value, 'base64').toString() : null;
}

async function main() {
  const etcd = await startEtcd();
  log('etcd at', etcd);
  const nodes = [];
  for (let i = 0; i < 3; i++) {
    const [amqp, repl] = [await freePort(), await freePort()];
    const name = `bench${i}`;
    const node = startWarren(['--port', String(amqp), '--data-dir', tempDir(`warren-bench-${name}-`), '--cluster-etcd', etcd, '--node-name', name,
      '--cluster-port', String(repl), '--cluster-advertise', `127.0.0.1:${repl}`, '--cluster-secret', 'bench-secret']);
    nodes.push({ name, amqp, ...node });
  }
  const singlePort = await freePort();
  const single = startWarren(['--port', String(singlePort), '--data-dir', tempDir('warren-bench-single-')]);
  await single.waitFor((e) => e.msg === 'Warren listening', 'the single node');

  // Both followers in the in-sync set (etcd's ISR key names all three).
  const deadline = Date.now() + 120_000;
  let isr = [];
  for (;;) {
    const v = await etcdGet(etcd, '/warren/warren/isr');
    isr = v ? JSON.parse(v) : [];
    if (isr.length === 3) break;
    if (Date.now() > deadline || nodes.some((n) => n.proc.exitCode !== null)) throw new Error(`followers not in sync after 120 s (isr ${JSON.stringify(isr)})`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const leader = nodes.find((n) => n.name === isr[0]);
  log('leader', leader.name, 'in sync:', isr.join(', '));

  const perfArgs = ['perf', 'throughput', '-t', seconds, '-s', '1024', '-f', '-c', '256', '-a', '-p', '1000', '--durable',
    '-u', `amqp://guest:guest@127.0.0.1:${leader.amqp}`, '--vs', `amqp://guest:guest@127.0.0.1:${singlePort}`,
    '--runs', runs, '--broker-pid', String(leader.proc.pid), '--vs-broker-pid', String(single.proc.pid)];
  log('warren', perfArgs.join(' '));
  const cpuBefore = Object.fromEntries([...nodes, { name: 'single', proc: single.proc }].map((n) => [n.name, cpuSeconds(n.proc.pid)]));
  const perf = spawnSync(process.execPath, [BIN, ...perfArgs, '--json'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (perf.status !== 0) throw new Error(`warren perf failed (${perf.status}): ${perf.stderr}`);
  const report = JSON.parse(perf.stdout);
  // CPU each broker process used over the whole paired run (its share of the machine's 2 cores).
  const cpu = Object.fromEntries(Object.entries(cpuBefore).map(([name, before]) => {
    const n = name === 'single' ? single : nodes.find((x) => x.name === name);
    return [name === leader.name ? `${name} (leader)` : name === 'single' ? 'single node' : `${name} (follower)`, +(cpuSeconds(n.proc.pid) - before).toFixed(1)];
  }));
  const confirmed = Object.entries(report.summary).find(([k]) => /confirm/i.test(k));
  if (json) {
    console.log(JSON.stringify({ leader: leader.name, isr, cpuSeconds: cpu, summary: report.summary }, null, 2));
  } else {
    for (const [key, s] of Object.entries(report.summary)) {
      const ratios = (s.ratios ?? []).map((r) => r.toFixed(2)).join(' ');
      console.log(`${key.padEnd(28)} cluster ${fmt(s.median_a)}  single ${fmt(s.median_b)}  ratios [${ratios}]  median ratio ${s.median_ratio?.toFixed(2)}`);
    }
    console.log(`CPU seconds used during the runs: ${Object.entries(cpu).map(([k, v]) => `${k} ${v}`).join(', ')}`);
    if (confirmed) console.log(`\nconfirmed persistent throughput, cluster/single: median of per-run ratios ${confirmed[1].median_ratio?.toFixed(2)} (target ≥ 0.50)`);
  }
}

/** utime + stime of a process, in seconds (Linux /proc; clock ticks are 100 Hz there). */
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const fmt = (x) => (typeof x === 'number' ? Math.round(x).toLocaleString('en-US') : String(x));

async function cleanup() {
  for (const c of children.reverse()) {
    if (c.exitCode === null && c.signalCode === null) {
      const gone = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    }
  }
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}

main().then(
  () => cleanup(),
  async (err) => {
    console.error(err);
    await cleanup();
    process.exit(1);
  },
);
