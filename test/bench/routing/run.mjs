#!/usr/bin/env node
// Routing and dispatch benchmark for the virtual-host model (issue: model performance).
//
//   npm run bench:routing [-- --json]
//
// Measures, on the compiled model in dist/ (npm run build):
//  - direct routing cost with 10 vs 10,000 bindings (should be flat);
//  - topic routing cost with 10 vs 10,000 wildcard bindings (target: within 2x);
//  - dispatch of 10,000 ready messages to 100 consumers (no O(n) scan per message).
// Each figure is the median of 7 runs after a warm-up.
import { existsSync } from 'node:fs';

const dist = new URL('../../../dist/', import.meta.url);
if (!existsSync(new URL('broker/virtual-host.js', dist))) {
  console.error('dist/ is missing: run `npm run build` first');
  process.exit(1);
}
const { VirtualHost } = await import(new URL('broker/virtual-host.js', dist).href);
const { Message } = await import(new URL('broker/message.js', dist).href);
const { Session } = await import(new URL('broker/session.js', dist).href);

const json = process.argv.includes('--json');
const RUNS = 7;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const header = Buffer.from([0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0]);
const body = Buffer.from('ping');

/** ns per publish for `keys` routed through exchange `x` of `vhost` (queues drained by purge). */
function timeRoutes(vhost, exchangeName, keys, count) {
  const x = vhost.findExchange(exchangeName);
  const queues = [...vhost.queues.values()];
  const samples = [];
  for (let run = 0; run < RUNS + 2; run++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < count; i++) {
      const key = keys[i % keys.length];
      vhost.route(x, key, new Message(exchangeName, key, header, body, 4));
    }
    const ns = Number(process.hrtime.bigint() - start) / count;
    for (const q of queues) q.purge();
    if (run >= 2) samples.push(ns);
  }
  return median(samples);
}

const owner = { id: 1 };
const decl = { passive: false, durable: false, exclusive: false, autoDelete: false, arguments: {} };
const xdecl = (type) => ({ type, passive: false, durable: false, autoDelete: false, internal: false, arguments: {} });

function directScenario(bindings) {
  const vhost = new VirtualHost('/');
  vhost.declareExchange('d', xdecl('direct'));
  const keys = [];
  for (let i = 0; i < bindings; i++) {
    const q = `q${i % 100}`;
    if (!vhost.queues.has(q)) vhost.declareQueue(q, decl, owner);
    vhost.bind('queue', q, 'd', `key.${i}`, {}, owner);
    keys.push(`key.${i}`);
  }
  return timeRoutes(vhost, 'd', keys.slice(0, 1000), 200_000);
}

function topicScenario(bindings) {
  const vhost = new VirtualHost('/');
  vhost.declareExchange('t', xdecl('topic'));
  const words = ['stock', 'usd', 'eur', 'nyse', 'lse', 'tech', 'bank', 'oil', 'gold', 'fx'];
  let seed = 42;
  const rnd = (n) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
  for (let i = 0; i < bindings; i++) {
    const q = `q${i % 100}`;
    if (!vhost.queues.has(q)) vhost.declareQueue(q, decl, owner);
    // Mostly specific patterns with some wildcards, each binding distinct.
    const pattern = [words[rnd(10)], rnd(4) === 0 ? '*' : words[rnd(10)], `n${i}`, rnd(8) === 0 ? '#' : words[rnd(10)]].join('.');
    vhost.bind('queue', q, 't', pattern, {}, owner);
  }
  const keys = [];
  for (let i = 0; i < 1000; i++) keys.push([words[rnd(10)], words[rnd(10)], `n${rnd(bindings)}`, words[rnd(10)]].join('.'));
  return timeRoutes(vhost, 't', keys, 100_000);
}

function dispatchScenario(ready, consumers) {
  const vhost = new VirtualHost('/');
  const q = vhost.declareQueue('work', decl, owner);
  let delivered = 0;
  const sink = { writable: true, deliver() { delivered++; }, returnMessage() {}, confirm() {}, consumerCancelled() {} };
  const samples = [];
  for (let run = 0; run < RUNS + 2; run++) {
    const sessions = [];
    for (let i = 0; i < consumers; i++) {
      const s = new Session(vhost, owner, sink, 'guest');
      s.qos(0, false);
      sessions.push(s);
    }
    for (let i = 0; i < ready; i++) q.enqueue(new Message('', 'work', header, body, 4));
    delivered = 0;
    const start = process.hrtime.bigint();
    for (const s of sessions) { const tag = s.consume('work', '', true, false, {}); s.activate(tag); }
    const ns = Number(process.hrtime.bigint() - start) / ready;
    if (delivered !== ready) throw new Error(`delivered ${delivered} of ${ready}`);
    for (const s of sessions) s.close();
    if (run >= 2) samples.push(ns);
  }
  return median(samples);
}

const results = {
  directNsPerRoute10: directScenario(10),
  directNsPerRoute10k: directScenario(10_000),
  topicNsPerRoute10: topicScenario(10),
  topicNsPerRoute10k: topicScenario(10_000),
  dispatchNsPerMessage10kReady100Consumers: dispatchScenario(10_000, 100),
  dispatchNsPerMessage100kReady100Consumers: dispatchScenario(100_000, 100),
};
results.directRatio = results.directNsPerRoute10k / results.directNsPerRoute10;
results.topicRatio = results.topicNsPerRoute10k / results.topicNsPerRoute10;
results.dispatchRatio = results.dispatchNsPerMessage100kReady100Consumers / results.dispatchNsPerMessage10kReady100Consumers;

if (json) console.log(JSON.stringify(results, null, 2));
else {
  const f = (n) => `${n.toFixed(0)} ns`;
  console.log(`direct routing, 10 bindings      ${f(results.directNsPerRoute10)} per publish`);
  console.log(`direct routing, 10,000 bindings  ${f(results.directNsPerRoute10k)} per publish   (ratio ${results.directRatio.toFixed(2)}, target ~1)`);
  console.log(`topic routing, 10 bindings       ${f(results.topicNsPerRoute10)} per publish`);
  console.log(`topic routing, 10,000 bindings   ${f(results.topicNsPerRoute10k)} per publish   (ratio ${results.topicRatio.toFixed(2)}, target <= 2)`);
  console.log(`dispatch 10k ready -> 100 consumers   ${f(results.dispatchNsPerMessage10kReady100Consumers)} per message`);
  console.log(`dispatch 100k ready -> 100 consumers  ${f(results.dispatchNsPerMessage100kReady100Consumers)} per message (ratio ${results.dispatchRatio.toFixed(2)}, ~1 = no O(n) scan)`);
}
