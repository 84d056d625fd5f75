#!/usr/bin/env node
// Codec benchmark: the message hot path, on the compiled codec in dist/.
//
//   npm run bench:codec [-- --json] [-- --runs=N] [-- --triples=N]
//   (= node --expose-gc test/bench/codec/run.mjs; build first: npm run build)
//
// (a) decode: a stream of [basic.publish method frame + content header frame +
//     64-byte body frame] triples, fed to FrameReader in 64 KiB chunks; the
//     frame handler decodes the method (decodeMethod with one reused Cursor)
//     and reads the header's body size (contentBodySize) — triples/s.
// (b) encode: writeMethodFrame(basic.deliver) + writeRawHeaderFrame (a
//     prepared header payload) + writeBodyFrames (64-byte body) into a
//     ByteWriter, drained every 256 triples — triples/s.
// Each is run RUNS times after a warm-up; the median, min and max are printed,
// then a comparison with the target of 1,000,000 triples/s each way.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const TARGET = 1_000_000;
const CHUNK = 64 * 1024;
const BODY_SIZE = 64;
const FRAME_MAX = 131_072;
const DRAIN_EVERY = 256;

const arg = (name, fallback) => {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  return hit ? Number(hit.slice(name.length + 3)) : fallback;
};
const json = process.argv.includes('--json');
const RUNS = Math.max(1, arg('runs', 9));
const WARMUP = 3;
const TRIPLES = Math.max(1000, arg('triples', 200_000));

// ---------------------------------------------------------------- load dist

const distIndex = new URL('../../../dist/protocol/index.js', import.meta.url);
if (!existsSync(fileURLToPath(distIndex))) {
  console.error('dist/protocol/index.js is missing: the codec benchmark runs on the compiled code. Run `npm run build` first.');
  process.exit(1);
}
warnIfStale();
const P = await import(distIndex.href);
const {
  ByteWriter, Cursor, FrameReader, MethodId, PROTOCOL_HEADER,
  contentBodySize, decodeMethod, writeBodyFrames, writeHeaderFrame, writeMethodFrame, writeRawHeaderFrame,
} = P;

/** Warns when a source file of the codec is newer than its compiled output. */
function warnIfStale() {
  const src = fileURLToPath(new URL('../../../src/protocol/', import.meta.url));
  const dist = fileURLToPath(new URL('../../../dist/protocol/', import.meta.url));
  const newest = (dir) => {
    let t = 0;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = `${dir}/${e.name}`;
      t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
    }
    return t;
  };
  try {
    if (newest(src) > newest(dist)) {
      console.error('warning: src/protocol is newer than dist/protocol; run `npm run build` to measure the current code.');
    }
  } catch { /* best effort */ }
}

// ---------------------------------------------------------------- fixtures

const HEADER_PROPS = { contentType: 'application/octet-stream', deliveryMode: 2, priority: 0, headers: { 'x-trace': 'abc' } };
const body = Buffer.alloc(BODY_SIZE, 0x61);

/** The publish stream: protocol header, then TRIPLES × (publish, content header, body). */
function buildPublishStream(n) {
  const w = new ByteWriter(1 << 20);
  const chunks = [];
  for (let i = 0; i < n; i++) {
    writeMethodFrame(w, 1, { id: MethodId.BasicPublish, args: { exchange: 'amq.direct', routingKey: `bench.key.${i % 100}`, mandatory: false } });
    writeHeaderFrame(w, 1, 60, BODY_SIZE, HEADER_PROPS);
    writeBodyFrames(w, 1, body, FRAME_MAX);
    if (i % 1024 === 1023) chunks.push(...w.drain());
  }
  chunks.push(...w.drain());
  return Buffer.concat(chunks);
}

const stream = buildPublishStream(TRIPLES);
const streamChunks = [];
for (let at = 0; at < stream.length; at += CHUNK) streamChunks.push(stream.subarray(at, Math.min(stream.length, at + CHUNK)));
const headerPayload = (() => {
  const w = new ByteWriter();
  writeHeaderFrame(w, 1, 60, BODY_SIZE, HEADER_PROPS);
  const f = w.take();
  return Buffer.from(f.subarray(7, f.length - 1));
})();

// ---------------------------------------------------------------- (a) decode

class DecodeHandler {
  constructor() {
    this.cursor = new Cursor(Buffer.alloc(0));
    this.methods = 0;
    this.bodyBytesAnnounced = 0;
    this.bodyBytes = 0;
    this.keyLength = 0;
  }
  onProtocolHeader(ok) {
    if (!ok) throw new Error('bad protocol header');
  }
  onFrame(type, channel, payload) {
    if (type === 1) {
      const c = this.cursor;
      c.buf = payload;
      c.pos = 0;
      c.end = payload.length;
      const m = decodeMethod(c);
      this.keyLength += m.args.routingKey.length;
      this.methods++;
    } else if (type === 2) {
      this.bodyBytesAnnounced += contentBodySize(payload);
    } else if (type === 3) {
      this.bodyBytes += payload.length;
    }
  }
}

function decodeRun() {
  const handler = new DecodeHandler();
  const reader = new FrameReader(handler, FRAME_MAX);
  const start = process.hrtime.bigint();
  reader.push(PROTOCOL_HEADER);
  for (let i = 0; i < streamChunks.length; i++) reader.push(streamChunks[i]);
  const ns = Number(process.hrtime.bigint() - start);
  if (handler.methods !== TRIPLES || handler.bodyBytes !== TRIPLES * BODY_SIZE || handler.bodyBytesAnnounced !== TRIPLES * BODY_SIZE) {
    throw new Error(`decode run lost frames: ${handler.methods} methods, ${handler.bodyBytes} body bytes`);
  }
  return ns;
}

// ---------------------------------------------------------------- (b) encode

let sink = 0;
function encodeRun() {
  const w = new ByteWriter();
  const start = process.hrtime.bigint();
  for (let i = 0; i < TRIPLES; i++) {
    writeMethodFrame(w, 1, {
      id: MethodId.BasicDeliver,
      args: { consumerTag: 'amq.ctag-bench', deliveryTag: i + 1, redelivered: false, exchange: 'amq.direct', routingKey: 'bench.key' },
    });
    writeRawHeaderFrame(w, 1, headerPayload);
    writeBodyFrames(w, 1, body, FRAME_MAX);
    if ((i & (DRAIN_EVERY - 1)) === DRAIN_EVERY - 1) sink += w.drain().length;
  }
  sink += w.drain().length;
  return Number(process.hrtime.bigint() - start);
}

// ---------------------------------------------------------------- measure

function measure(run) {
  for (let i = 0; i < WARMUP; i++) run();
  const rates = [];
  for (let i = 0; i < RUNS; i++) {
    globalThis.gc?.();
    rates.push(TRIPLES / (run() / 1e9));
  }
  const sorted = [...rates].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)], min: sorted[0], max: sorted[sorted.length - 1], runs: rates.length };
}

const fmt = (n) => Math.round(n).toLocaleString('en-US');
const decode = measure(decodeRun);
const encode = measure(encodeRun);
const tripleBytes = stream.length / TRIPLES;
const result = {
  node: process.version,
  triplesPerRun: TRIPLES,
  tripleBytes: Math.round(tripleBytes * 10) / 10,
  chunkBytes: CHUNK,
  bodyBytes: BODY_SIZE,
  gcExposed: typeof globalThis.gc === 'function',
  decode: { ...decode, mbPerSec: (decode.median * tripleBytes) / 1e6 },
  encode,
  target: TARGET,
  decodeMeetsTarget: decode.median >= TARGET,
  encodeMeetsTarget: encode.median >= TARGET,
};

if (json) {
  console.log(JSON.stringify(result));
} else {
  if (!result.gcExposed) console.log('(run with --expose-gc, as `npm run bench:codec` does, for steadier numbers)');
  console.log(`codec benchmark — node ${process.version}, ${fmt(TRIPLES)} triples per run, ${RUNS} runs after ${WARMUP} warm-ups`);
  console.log(`  triple = publish/deliver method + content header + ${BODY_SIZE}-byte body (${result.tripleBytes} bytes on the wire for publish)`);
  console.log(`  (a) decode publish triples (FrameReader, ${CHUNK / 1024} KiB chunks): median ${fmt(decode.median)} triples/s  (min ${fmt(decode.min)}, max ${fmt(decode.max)}; ${result.decode.mbPerSec.toFixed(0)} MB/s)`);
  console.log(`  (b) encode deliver triples (ByteWriter, drain/${DRAIN_EVERY}):     median ${fmt(encode.median)} triples/s  (min ${fmt(encode.min)}, max ${fmt(encode.max)})`);
  const verdict = (ok) => (ok ? 'meets' : 'BELOW');
  console.log(`target ${fmt(TARGET)} triples/s each way: decode ${fmt(decode.median)} (${verdict(result.decodeMeetsTarget)}, ${(decode.median / TARGET).toFixed(2)}x), encode ${fmt(encode.median)} (${verdict(result.encodeMeetsTarget)}, ${(encode.median / TARGET).toFixed(2)}x)`);
}
if (sink < 0) console.log(sink); // keep the drains observable
