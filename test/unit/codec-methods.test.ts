// Method codec: every method of the spec round-trips through
// writeMethodFrame → FrameReader → decodeMethod with random arguments; the
// direct (hand-specialised) and layout (buffer-layout) codecs of the hot
// methods agree byte for byte; unknown methods are 503 and truncated payloads
// are 502, never anything else.
import { describe, it, expect } from 'vitest';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  AmqpError,
  ByteWriter,
  Cursor,
  Decimal,
  DIRECT_CODEC,
  FrameReader,
  LAYOUT_CODEC,
  METHOD_INFO,
  PROTOCOL_HEADER,
  Typed,
  decodeMethod,
  peekMethodId,
  writeMethodFrame,
  type FieldTable,
  type FieldValue,
  type MethodInit,
} from '../../src/protocol/index.js';
import { mulberry32, int, type Rng } from '../helpers/prng.js';

// ------------------------------------------------------------------ spec

interface SpecField { name: string; domain: string; type: string; default: unknown }
interface SpecMethod { name: string; id: number; fields: SpecField[] }
interface SpecClass { name: string; id: number; methods: SpecMethod[] }
interface Spec { classes: SpecClass[] }

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
// Imported through a computed URL so TypeScript does not type the untyped .mjs parser.
const { parseSpec } = (await import(pathToFileURL(path.join(repoRoot, 'spec/parse.mjs')).href)) as { parseSpec: () => Spec };
const spec = parseSpec();

interface MethodDef { id: number; full: string; fields: (SpecField & { key: string })[] }
const camel = (name: string): string => name.replace(/-([a-z0-9])/g, (_, ch: string) => ch.toUpperCase());
const METHODS: MethodDef[] = spec.classes.flatMap((cls) =>
  cls.methods.map((m) => ({
    id: ((cls.id << 16) | m.id) >>> 0,
    full: `${cls.name}.${m.name}`,
    fields: m.fields.map((f) => ({ ...f, key: camel(f.name) })),
  })),
);
const HOT = ['basic.publish', 'basic.deliver', 'basic.ack', 'basic.nack', 'basic.reject', 'basic.get-ok'];

// ------------------------------------------------------------------ seeded randomness

const pick = <T>(r: Rng, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const chance = (r: Rng, p: number): boolean => r() < p;
/** Uniform-ish in [0, 2^53 - 1], with the boundaries often. */
function u53(r: Rng): number {
  if (chance(r, 0.25)) return pick(r, [0, 1, 0xffff_ffff, 0x1_0000_0000, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER - 1]);
  return int(r, 0, 0x1f_ffff) * 0x1_0000_0000 + int(r, 0, 0xffff_ffff);
}
function unsigned(r: Rng, bits: number): number {
  const max = 2 ** bits - 1;
  return chance(r, 0.2) ? pick(r, [0, 1, max]) : int(r, 0, max);
}

const PIECES = ['a', 'Z', '0', '.', '-', '_', ' ', '/', 'é', 'ß', '€', '中', '😀', '\u0000'];
/** A valid UTF-8 string of at most `maxBytes` bytes (exactly maxBytes sometimes). */
function str(r: Rng, maxBytes: number): string {
  const target = chance(r, 0.1) ? maxBytes : int(r, 0, Math.min(maxBytes, 40));
  let s = '';
  let bytes = 0;
  while (bytes < target) {
    const p = target - bytes < 4 ? 'q' : pick(r, PIECES);
    s += p;
    bytes += Buffer.byteLength(p);
  }
  return s;
}
function bytes(r: Rng, max: number): Buffer {
  const b = Buffer.alloc(int(r, 0, max));
  for (let i = 0; i < b.length; i++) b[i] = int(r, 0, 255);
  return b;
}

/** A field value to encode and the value decoding must give back. */
interface Sample { enc: FieldValue; dec: FieldValue }

function sampleValue(r: Rng, depth: number): Sample {
  const kinds = depth > 0 ? 16 : 13;
  switch (int(r, 0, kinds - 1)) {
    case 0: { const v = chance(r, 0.5); return { enc: v, dec: v }; }
    case 1: { const v = int(r, -0x8000_0000, 0x7fff_ffff); return { enc: v, dec: v }; }
    case 2: { // safe integer outside int32: inferred 'l', decoded as a number
      const v = (chance(r, 0.5) ? 1 : -1) * (0x8000_0001 + int(r, 0, 0xffff_ffff) * int(r, 1, 0x1f_fff));
      return { enc: v, dec: v };
    }
    case 3: { // int64 beyond 2^53 as bigint
      // high word chosen so that |v| > 2^53 either way
      const v = BigInt.asIntN(64, (BigInt(int(r, 0x20_0000, 0xffdf_ffff)) << 32n) | BigInt(int(r, 0, 0xffff_ffff)));
      return { enc: v, dec: v };
    }
    case 4: { // non-integral double: inferred 'd'
      let v = (r() - 0.5) * 10 ** int(r, -5, 12);
      if (Number.isInteger(v)) v += 0.5;
      return { enc: v, dec: v };
    }
    case 5: { const v = str(r, 60); return { enc: v, dec: v }; }
    case 6: { const v = bytes(r, 40); return { enc: v, dec: Buffer.from(v) }; }
    case 7: { const v = new Date(int(r, 0, 0x7fff_ffff) * 1000); return { enc: v, dec: new Date(v.getTime()) }; }
    case 8: return { enc: null, dec: null };
    case 9: { const v = new Decimal(int(r, 0, 255), int(r, 0, 0xffff_ffff)); return { enc: v, dec: new Decimal(v.scale, v.value) }; }
    case 10: { const v = BigInt(int(r, -1000, 1000)); return { enc: v, dec: Number(v) }; } // safe bigint → number
    case 11: case 12: return sampleTyped(r);
    case 13: case 14: return sampleTable(r, depth - 1);
    default: return sampleArray(r, depth - 1);
  }
}

function sampleTyped(r: Rng): Sample {
  switch (int(r, 0, 10)) {
    case 0: { const v = int(r, -128, 127); return { enc: new Typed('b', v), dec: v }; }
    case 1: { const v = int(r, 0, 255); return { enc: new Typed('B', v), dec: v }; }
    case 2: { const v = int(r, -0x8000, 0x7fff); return { enc: new Typed('s', v), dec: v }; }
    case 3: { const v = int(r, 0, 0xffff); return { enc: new Typed('u', v), dec: v }; }
    case 4: { const v = int(r, 0, 0xffff_ffff); return { enc: new Typed('i', v), dec: v }; }
    case 5: { const v = Math.fround((r() - 0.5) * 1e6); return { enc: new Typed('f', v), dec: v }; }
    case 6: { const v = int(r, -1000, 1000); return { enc: new Typed('l', v), dec: v }; }
    case 7: { const v = int(r, 0, 1000); return { enc: new Typed('d', v), dec: v }; } // integer forced to double
    case 8: { const v = int(r, 0, 0x7fff_ffff); return { enc: new Typed('T', v), dec: new Date(v * 1000) }; }
    case 9: { const v = str(r, 30); return { enc: new Typed('x', Buffer.from(v)), dec: Buffer.from(v) }; }
    default: { const v = int(r, -10, 10); return { enc: new Typed('I', v), dec: v }; }
  }
}

function sampleTable(r: Rng, depth: number): { enc: FieldTable; dec: FieldTable } {
  const enc: FieldTable = {};
  const dec: FieldTable = {};
  const n = int(r, 0, 5);
  for (let i = 0; i < n; i++) {
    const key = i === 0 && chance(r, 0.2) ? '' : `${str(r, 20)}#${i}`; // unique keys; never __proto__
    if (chance(r, 0.05)) { enc[key] = undefined; continue; } // undefined entries are skipped
    const s = sampleValue(r, depth);
    enc[key] = s.enc;
    dec[key] = s.dec;
  }
  return { enc, dec };
}

function sampleArray(r: Rng, depth: number): { enc: FieldValue[]; dec: FieldValue[] } {
  const enc: FieldValue[] = [];
  const dec: FieldValue[] = [];
  const n = int(r, 0, 5);
  for (let i = 0; i < n; i++) {
    const s = sampleValue(r, depth);
    enc.push(s.enc);
    dec.push(s.dec);
  }
  return { enc, dec };
}

/** Random arguments for a method: what to encode, and what decoding must give. */
function sampleArgs(r: Rng, m: MethodDef): { enc: Record<string, unknown>; dec: Record<string, unknown> } {
  const enc: Record<string, unknown> = {};
  const dec: Record<string, unknown> = {};
  for (const f of m.fields) {
    if (f.default !== undefined && chance(r, 0.15)) {
      // Omitted: the spec default goes on the wire.
      dec[f.key] = f.type === 'longstr' ? Buffer.from(f.default as string) : f.default;
      continue;
    }
    let e: unknown;
    let d: unknown;
    switch (f.type) {
      case 'bit': e = d = chance(r, 0.5); break;
      case 'octet': e = d = unsigned(r, 8); break;
      case 'short': e = d = unsigned(r, 16); break;
      case 'long': e = d = unsigned(r, 32); break;
      case 'longlong': case 'timestamp': e = d = u53(r); break;
      case 'shortstr': e = d = str(r, 255); break;
      case 'longstr': {
        if (chance(r, 0.3)) { const s = str(r, 300); e = s; d = Buffer.from(s); } else { const b = bytes(r, 300); e = b; d = Buffer.from(b); }
        break;
      }
      case 'table': { const t = sampleTable(r, 3); e = t.enc; d = t.dec; break; }
      default: throw new Error(`unhandled field type ${f.type}`);
    }
    enc[f.key] = e;
    dec[f.key] = d;
  }
  return { enc, dec };
}

// ------------------------------------------------------------------ helpers

interface Frame { type: number; channel: number; payload: Buffer }
function readAll(stream: Buffer, r: Rng, frameMax = 0): Frame[] {
  const frames: Frame[] = [];
  let headerOk: boolean | null = null;
  const reader = new FrameReader({
    onProtocolHeader: (ok) => { headerOk = ok; },
    onFrame: (type, channel, payload) => { frames.push({ type, channel, payload }); },
  }, frameMax);
  reader.push(PROTOCOL_HEADER);
  for (let at = 0; at < stream.length;) {
    const n = Math.min(stream.length - at, int(r, 1, 4096));
    reader.push(stream.subarray(at, at + n));
    at += n;
  }
  expect(headerOk).toBe(true);
  expect(reader.pendingBytes).toBe(0);
  return frames;
}

function payloadOf(m: MethodDef, args: Record<string, unknown>): Buffer {
  const w = new ByteWriter();
  writeMethodFrame(w, 1, { id: m.id, args } as MethodInit);
  const frame = w.take();
  return Buffer.from(frame.subarray(7, frame.length - 1));
}

/** Runs `f`, which must throw an AmqpError; returns it. Any other outcome fails the test. */
function amqpErrorOf(f: () => unknown): AmqpError {
  let thrown: unknown = null;
  try { f(); } catch (e) { thrown = e; }
  if (!(thrown instanceof AmqpError)) {
    throw new Error(`expected an AmqpError, got ${thrown === null ? 'no exception' : String(thrown)}`);
  }
  return thrown;
}

/** A writer whose slab is full of junk, so any byte the encoder forgets to write shows. */
function dirtyWriter(r: Rng): ByteWriter {
  const w = new ByteWriter(4096);
  for (let i = 0; i < w.buf.length; i++) w.buf[i] = int(r, 0, 255);
  return w;
}

// ------------------------------------------------------------------ tests

const CASES = 250;

describe('method codec', () => {
  it('covers exactly the methods of the spec', () => {
    expect(METHODS).toHaveLength(66);
    expect([...METHOD_INFO.keys()].sort((a, b) => a - b)).toEqual(METHODS.map((m) => m.id).sort((a, b) => a - b));
    for (const m of METHODS) {
      expect(METHOD_INFO.get(m.id)?.name).toBe(m.full);
      expect(LAYOUT_CODEC.has(m.id)).toBe(true);
    }
    expect([...DIRECT_CODEC.keys()].map((id) => METHOD_INFO.get(id)?.name).sort()).toEqual([...HOT].sort());
  });

  describe.each(METHODS.map((m) => [m.full, m] as const))('%s', (_name, m) => {
    it(`round-trips ${CASES} random argument sets through writeMethodFrame → FrameReader → decodeMethod`, () => {
      const r = mulberry32(m.id);
      const w = new ByteWriter(1024); // small slab: exercises slab moves mid-frame
      const expected: { channel: number; args: Record<string, unknown> }[] = [];
      for (let i = 0; i < CASES; i++) {
        const { enc, dec } = sampleArgs(r, m);
        const channel = unsigned(r, 16);
        writeMethodFrame(w, channel, { id: m.id, args: enc } as MethodInit);
        expected.push({ channel, args: dec });
      }
      const stream = Buffer.concat(w.drain());
      const frames = readAll(stream, r);
      expect(frames).toHaveLength(CASES);
      frames.forEach((frame, i) => {
        const want = expected[i]!;
        expect(frame.type).toBe(1);
        expect(frame.channel).toBe(want.channel);
        const c = new Cursor(frame.payload);
        const method = decodeMethod(c);
        expect(c.pos).toBe(frame.payload.length); // consumed exactly
        expect(method.id).toBe(m.id);
        expect(method.args).toStrictEqual(want.args);
      });
    });

    it('rejects every truncation of a valid payload with 502, and nothing else', () => {
      const r = mulberry32(m.id ^ 0x5eed);
      for (let k = 0; k < 3; k++) {
        const payload = payloadOf(m, sampleArgs(r, m).enc);
        for (let len = 0; len < payload.length; len++) {
          const cut = Buffer.from(payload.subarray(0, len)); // a copy: reading past it would be a RangeError
          const err = amqpErrorOf(() => decodeMethod(new Cursor(cut)));
          expect(err.replyCode, `${m.full} cut at ${len}/${payload.length}`).toBe(502);
        }
        // and within a larger buffer, by cursor bounds alone
        const cursor = new Cursor(Buffer.concat([payload, Buffer.alloc(16, 0x41)]), 0, payload.length - 1);
        if (payload.length > 4) expect(amqpErrorOf(() => decodeMethod(cursor)).replyCode).toBe(502);
      }
    });

    it('decodes corrupted payloads to a value or an AmqpError (502/503), never another exception', () => {
      const r = mulberry32(m.id ^ 0xbad);
      for (let k = 0; k < 200; k++) {
        const payload = payloadOf(m, sampleArgs(r, m).enc);
        const flips = int(r, 1, 4);
        for (let j = 0; j < flips; j++) payload[int(r, 4, Math.max(4, payload.length - 1))] = int(r, 0, 255);
        try {
          // The flips spare the class and method ids: a payload that still decodes is still this method.
          expect(decodeMethod(new Cursor(payload)).id).toBe(m.id);
        } catch (e) {
          expect(e).toBeInstanceOf(AmqpError);
          expect([502, 503]).toContain((e as AmqpError).replyCode);
        }
      }
    });
  });
});

describe('direct and layout codecs of the hot methods', () => {
  describe.each(HOT.map((name) => [name, METHODS.find((m) => m.full === name)!] as const))('%s', (_name, m) => {
    const direct = DIRECT_CODEC.get(m.id)!;
    const layoutCodec = LAYOUT_CODEC.get(m.id)!;

    it('encode to identical bytes and decode to identical values (500 random cases)', () => {
      const r = mulberry32(m.id * 7 + 1);
      for (let i = 0; i < 500; i++) {
        const { enc, dec } = sampleArgs(r, m);
        const wd = dirtyWriter(r);
        const wl = dirtyWriter(r);
        direct.encode(wd, enc as never);
        layoutCodec.encode(wl, enc as never);
        const bd = wd.take();
        const bl = wl.take();
        expect(bd.equals(bl), `${m.full} ${JSON.stringify(enc)}: ${bd.toString('hex')} != ${bl.toString('hex')}`).toBe(true);
        // unused bits of bit groups are zero
        expect(bd.readUInt32BE(0)).toBe(m.id);

        const cd = new Cursor(bd, 4);
        const cl = new Cursor(bd, 4);
        const vd = direct.decode(cd);
        const vl = layoutCodec.decode(cl);
        expect(vd).toStrictEqual(vl);
        expect(vd).toStrictEqual(dec);
        expect(cd.pos).toBe(bd.length);
        expect(cl.pos).toBe(bd.length);
      }
    });

    it('both decoders reject every truncation with 502', () => {
      const r = mulberry32(m.id * 7 + 2);
      for (let k = 0; k < 5; k++) {
        const payload = payloadOf(m, sampleArgs(r, m).enc);
        for (let len = 4; len < payload.length; len++) {
          const cut = Buffer.from(payload.subarray(0, len));
          expect(amqpErrorOf(() => direct.decode(new Cursor(cut, 4))).replyCode).toBe(502);
          expect(amqpErrorOf(() => layoutCodec.decode(new Cursor(cut, 4))).replyCode).toBe(502);
        }
      }
    });
  });

  it('agree on every bit combination (reserved bits zero)', () => {
    for (const name of HOT) {
      const m = METHODS.find((x) => x.full === name)!;
      const bits = m.fields.filter((f) => f.type === 'bit');
      for (let mask = 0; mask < 1 << bits.length; mask++) {
        const args: Record<string, unknown> = {};
        for (const f of m.fields) {
          args[f.key] = f.type === 'bit' ? false : f.type === 'shortstr' ? 'k' : f.type === 'longlong' ? 7 : 3;
        }
        bits.forEach((f, i) => { args[f.key] = (mask & (1 << i)) !== 0; });
        const wd = new ByteWriter(64); wd.buf.fill(0xff);
        const wl = new ByteWriter(64); wl.buf.fill(0xff);
        DIRECT_CODEC.get(m.id)!.encode(wd, args as never);
        LAYOUT_CODEC.get(m.id)!.encode(wl, args as never);
        const bd = wd.take();
        expect(bd.toString('hex')).toBe(wl.take().toString('hex'));
        // the bit octet holds exactly `mask` (LSB = first bit field)
        const bitIndex = m.fields.findIndex((f) => f.type === 'bit');
        const before = m.fields.slice(0, bitIndex);
        let at = 4;
        for (const f of before) at += f.type === 'shortstr' ? 2 : f.type === 'longlong' ? 8 : f.type === 'long' ? 4 : 2;
        expect(bd[at]).toBe(mask);
      }
    }
  });
});

describe('layout encoders never leak stale slab bytes', () => {
  it('every method encodes identically into a clean and into a dirty slab', () => {
    const r = mulberry32(42);
    for (const m of METHODS) {
      for (let i = 0; i < 20; i++) {
        const { enc } = sampleArgs(r, m);
        const clean = new ByteWriter(4096);
        clean.buf.fill(0);
        const dirty = new ByteWriter(4096);
        dirty.buf.fill(0xff);
        writeMethodFrame(clean, 0, { id: m.id, args: enc } as MethodInit);
        writeMethodFrame(dirty, 0, { id: m.id, args: enc } as MethodInit);
        expect(dirty.take().toString('hex'), m.full).toBe(clean.take().toString('hex'));
      }
    }
  });
});

describe('unknown methods', () => {
  const known = new Set(METHOD_INFO.keys());
  const unknownPayload = (classId: number, methodId: number): Buffer => {
    const b = Buffer.alloc(12);
    b.writeUInt16BE(classId, 0);
    b.writeUInt16BE(methodId, 2);
    return b;
  };

  it('are 503 COMMAND_INVALID with the class and method ids', () => {
    const classIds = [...new Set(METHODS.map((m) => m.id >>> 16))];
    let checked = 0;
    for (const classId of [0, 1, 11, 59, 61, 100, 0xffff, ...classIds]) {
      for (let methodId = 0; methodId < 256; methodId++) {
        if (known.has(((classId << 16) | methodId) >>> 0)) continue;
        const err = amqpErrorOf(() => decodeMethod(new Cursor(unknownPayload(classId, methodId))));
        expect(err.replyCode).toBe(503);
        expect(err.classId).toBe(classId);
        expect(err.methodId).toBe(methodId);
        expect(err.isConnectionError).toBe(true);
        checked++;
      }
    }
    const err = amqpErrorOf(() => decodeMethod(new Cursor(unknownPayload(0xffff, 0xffff))));
    expect(err.replyCode).toBe(503);
    expect(err.replyText).toMatch(/^COMMAND_INVALID - /);
    expect(checked).toBeGreaterThan(3000);
  });

  it('peekMethodId reads the method id decodeMethod would decode, and 0 from a payload too short for it', () => {
    for (const m of METHODS) {
      const args: Record<string, unknown> = {};
      for (const f of m.fields) {
        if (f.default === undefined) args[f.key] = f.type === 'bit' ? true : f.type === 'shortstr' ? 'x' : f.type === 'table' ? {} : f.type === 'longstr' ? Buffer.from('y') : 9;
      }
      const payload = payloadOf(m, args);
      expect(peekMethodId(payload), m.full).toBe(m.id);
      expect(decodeMethod(new Cursor(payload)).id).toBe(m.id);
    }
    for (const len of [0, 1, 2, 3]) expect(peekMethodId(Buffer.alloc(len, 0x3c))).toBe(0);
  });

  it('a payload too short for the ids is 502, not 503', () => {
    for (const len of [0, 1, 2, 3]) {
      expect(amqpErrorOf(() => decodeMethod(new Cursor(Buffer.alloc(len)))).replyCode).toBe(502);
    }
  });
});

describe('spec defaults', () => {
  it('omitting every defaulted field puts the spec defaults on the wire', () => {
    for (const m of METHODS) {
      const args: Record<string, unknown> = {};
      const want: Record<string, unknown> = {};
      for (const f of m.fields) {
        if (f.default === undefined) {
          args[f.key] = want[f.key] = f.type === 'bit' ? true : f.type === 'shortstr' ? 'x' : f.type === 'table' ? {} : f.type === 'longstr' ? Buffer.from('y') : 9;
        } else {
          want[f.key] = f.type === 'longstr' ? Buffer.from(f.default as string) : f.default;
        }
      }
      const c = new Cursor(payloadOf(m, args));
      expect(decodeMethod(c).args, m.full).toStrictEqual(want);
    }
  });
});
