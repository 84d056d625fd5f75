#!/usr/bin/env node
// Does compressing replication frames pay? (issue 18, item 3: "compression if it pays")
//
//   node test/bench/cluster/compression.mjs
//
// Replication frames are message-log batches: many records (a small binary
// header + the body) written in one append. This measures, on 1 MiB batches
// of 1 KiB records, what node:zlib's fastest settings cost in CPU per MiB
// (compress once on the leader, decompress on each follower) and how many
// bytes they save, for three kinds of body: warren perf's ('x' × 1024, the
// benchmark's), JSON events (typical application messages) and random bytes
// (already compressed or encrypted payloads).
import { randomBytes } from 'node:crypto';
import { brotliCompressSync, brotliDecompressSync, constants, deflateRawSync, inflateRawSync } from 'node:zlib';

const RECORD = 1024;
const BATCH = 1024 * 1024;

function batch(body) {
  const parts = [];
  for (let n = 0, i = 0; n < BATCH; n += RECORD + 40, i++) parts.push(randomBytes(40), body(i));
  return Buffer.concat(parts);
}

const kinds = {
  'perf body (x × 1024)': batch(() => Buffer.alloc(RECORD, 0x78)),
  'JSON events': batch((i) => {
    const s = JSON.stringify({ id: `ord-${1e6 + i}`, customer: `c${(i * 7919) % 100000}`, items: [{ sku: `sku-${i % 977}`, qty: (i % 5) + 1, price: ((i * 31) % 10000) / 100 }], status: ['new', 'paid', 'shipped'][i % 3], at: new Date(1.7e12 + i * 1000).toISOString(), note: 'x'.repeat(i % 300) });
    return Buffer.from(s.padEnd(RECORD, ' ').slice(0, RECORD));
  }),
  'random bytes': batch(() => randomBytes(RECORD)),
};

const codecs = {
  'deflateRaw level 1': [(b) => deflateRawSync(b, { level: 1 }), (b) => inflateRawSync(b)],
  'brotli quality 1': [(b) => brotliCompressSync(b, { params: { [constants.BROTLI_PARAM_QUALITY]: 1 } }), (b) => brotliDecompressSync(b)],
};

/** MiB of uncompressed data per second through `fn(arg)`. */
function rate(fn, arg, mib) {
  for (let i = 0; i < 3; i++) fn(arg); // warm-up
  let n = 0;
  const t0 = process.hrtime.bigint();
  let ms = 0;
  while (ms < 1000) {
    fn(arg);
    n++;
    ms = Number(process.hrtime.bigint() - t0) / 1e6;
  }
  return (n * mib) / (ms / 1000);
}

console.log('| body | codec | size after | compress MiB/s | decompress MiB/s | CPU ms per MiB replicated to 2 followers |');
console.log('| --- | --- | ---: | ---: | ---: | ---: |');
for (const [kind, input] of Object.entries(kinds)) {
  for (const [name, [compress, decompress]] of Object.entries(codecs)) {
    const packed = compress(input);
    const mib = input.length / 1048576;
    const c = rate(compress, input, mib);
    const d = rate(decompress, packed, mib);
    const cpuMs = 1000 / c + (2 * 1000) / d;
    console.log(`| ${kind} | ${name} | ${((100 * packed.length) / input.length).toFixed(1)} % | ${c.toFixed(0)} | ${d.toFixed(0)} | ${cpuMs.toFixed(1)} |`);
  }
}
