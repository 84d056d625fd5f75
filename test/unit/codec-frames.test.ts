// Framing: FrameReader over any chunking, zero-copy payload views, protocol
// header checks, frame errors (501); writeBodyFrames splitting and body
// references; ByteWriter hand-out rules.
import { describe, it, expect } from 'vitest';
import {
  AmqpError,
  ByteWriter,
  Cursor,
  FrameReader,
  MethodId,
  PROTOCOL_HEADER,
  decodeMethod,
  encodeTable,
  writeBodyFrames,
  writeHeaderFrame,
  writeHeartbeat,
  writeMethodFrame,
  writeRawHeaderFrame,
} from '../../src/protocol/index.js';
import { mulberry32, int } from '../helpers/prng.js';

// ------------------------------------------------------------------ helpers


interface Frame { type: number; channel: number; payload: Buffer }
interface Recorder {
  reader: FrameReader;
  frames: Frame[];
  /** Raw payload views as handed out (not copied). */
  views: Buffer[];
  headers: { ok: boolean; header: Buffer }[];
}
function recorder(frameMax: number): Recorder {
  const rec: Recorder = { reader: null as unknown as FrameReader, frames: [], views: [], headers: [] };
  rec.reader = new FrameReader({
    onProtocolHeader: (ok, header) => { rec.headers.push({ ok, header: Buffer.from(header) }); },
    onFrame: (type, channel, payload) => {
      rec.views.push(payload);
      rec.frames.push({ type, channel, payload: Buffer.from(payload) });
    },
  }, frameMax);
  return rec;
}
function feed(stream: Buffer, cuts: number[], frameMax: number): Recorder {
  const rec = recorder(frameMax);
  let at = 0;
  for (const cut of [...cuts, stream.length]) {
    rec.reader.push(stream.subarray(at, cut));
    at = cut;
  }
  return rec;
}
/** Compares frame lists with Buffer.equals (vitest's deep equality is slow on large Buffers). */
function expectSameFrames(actual: Frame[], expected: Frame[], where = ''): void {
  expect(actual.length, where).toBe(expected.length);
  actual.forEach((f, i) => {
    const e = expected[i]!;
    if (f.type !== e.type || f.channel !== e.channel || !f.payload.equals(e.payload)) {
      throw new Error(`${where} frame ${i} differs: ${f.type}/${f.channel}/${f.payload.length} vs ${e.type}/${e.channel}/${e.payload.length}`);
    }
  });
}
/** A copy with its own ArrayBuffer (Buffer.from would use Node's shared pool for small sizes). */
function own(b: Buffer): Buffer {
  const c = Buffer.alloc(b.length);
  b.copy(c);
  return c;
}
function amqpErrorOf(f: () => unknown): AmqpError {
  let thrown: unknown = null;
  try { f(); } catch (e) { thrown = e; }
  if (!(thrown instanceof AmqpError)) throw new Error(`expected an AmqpError, got ${thrown === null ? 'no exception' : String(thrown)}`);
  return thrown;
}
/** A Buffer with its own ArrayBuffer (not from Node's shared pool), filled with a pattern. */
function ownBuffer(n: number, seed = 1): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}
function rawFrame(type: number, channel: number, payload: Buffer, end = 0xce): Buffer {
  const f = Buffer.alloc(payload.length + 8);
  f[0] = type;
  f.writeUInt16BE(channel, 1);
  f.writeUInt32BE(payload.length, 3);
  payload.copy(f, 7);
  f[f.length - 1] = end;
  return f;
}

const FRAME_MAX = 4096;

/** protocol header + method + content header + 4 body frames + heartbeat + a method on channel 0. */
function sampleStream(): { stream: Buffer; body: Buffer } {
  const body = ownBuffer(3 * (FRAME_MAX - 8) + 100);
  const w = new ByteWriter(512);
  w.bytes(PROTOCOL_HEADER);
  writeMethodFrame(w, 5, { id: MethodId.BasicPublish, args: { exchange: 'ex', routingKey: 'rk', mandatory: true } });
  writeHeaderFrame(w, 5, 60, body.length, { contentType: 'text/plain', headers: { a: 1 }, deliveryMode: 2 });
  writeBodyFrames(w, 5, body, FRAME_MAX);
  writeHeartbeat(w);
  writeMethodFrame(w, 0, { id: MethodId.ConnectionCloseOk, args: {} });
  return { stream: Buffer.concat(w.drain()), body };
}

// ------------------------------------------------------------------ FrameReader

describe('FrameReader: chunk boundaries', () => {
  const { stream, body } = sampleStream();
  const whole = feed(stream, [], FRAME_MAX);

  it('reads the reference stream in one chunk', () => {
    expect(whole.headers).toEqual([{ ok: true, header: PROTOCOL_HEADER }]);
    expect(whole.frames.map((f) => [f.type, f.channel, f.payload.length])).toEqual([
      [1, 5, whole.frames[0]!.payload.length],
      [2, 5, whole.frames[1]!.payload.length],
      [3, 5, FRAME_MAX - 8],
      [3, 5, FRAME_MAX - 8],
      [3, 5, FRAME_MAX - 8],
      [3, 5, 100],
      [8, 0, 0],
      [1, 0, 4],
    ]);
    expect(decodeMethod(new Cursor(whole.frames[0]!.payload))).toStrictEqual({
      id: MethodId.BasicPublish, args: { ticket: 0, exchange: 'ex', routingKey: 'rk', mandatory: true, immediate: false },
    });
    expect(Buffer.concat(whole.frames.filter((f) => f.type === 3).map((f) => f.payload)).equals(body)).toBe(true);
    expect(whole.reader.pendingBytes).toBe(0);
  });

  it('yields identical frames when split at every single byte boundary', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const rec = feed(stream, [cut], FRAME_MAX);
      expect(rec.headers).toEqual(whole.headers);
      expectSameFrames(rec.frames, whole.frames, `cut at ${cut}`);
      expect(rec.reader.pendingBytes).toBe(0);
    }
  });

  it('yields identical frames fed byte by byte', () => {
    const rec = recorder(FRAME_MAX);
    for (let i = 0; i < stream.length; i++) {
      rec.reader.push(stream.subarray(i, i + 1));
      if (i < PROTOCOL_HEADER.length - 1) expect(rec.headers).toHaveLength(0); // not before the 8th byte
    }
    expect(rec.headers).toEqual(whole.headers);
    expectSameFrames(rec.frames, whole.frames);
  });

  it('yields identical frames under random chunkings (incl. empty chunks)', () => {
    const r = mulberry32(2024);
    for (let trial = 0; trial < 300; trial++) {
      const cuts: number[] = [];
      let at = 0;
      const maxChunk = [1, 3, 8, 64, 1000, 5000][trial % 6]!;
      while (at < stream.length) {
        at = Math.min(stream.length, at + int(r, 0, maxChunk));
        cuts.push(at);
      }
      const rec = feed(stream, cuts, FRAME_MAX);
      expectSameFrames(rec.frames, whole.frames, `trial ${trial}`);
      expect(rec.headers).toEqual(whole.headers);
    }
  });

  it('reports pendingBytes for an incomplete frame', () => {
    const rec = recorder(FRAME_MAX);
    rec.reader.push(stream.subarray(0, 8 + 5));
    expect(rec.reader.pendingBytes).toBe(5);
    rec.reader.push(stream.subarray(13, 20));
    expect(rec.reader.pendingBytes).toBe(12);
    rec.reader.push(stream.subarray(20));
    expect(rec.reader.pendingBytes).toBe(0);
    expectSameFrames(rec.frames, whole.frames);
  });
});

describe('FrameReader: zero-copy payloads', () => {
  it('delivers several frames from one chunk as views of that chunk', () => {
    const { stream } = sampleStream();
    const chunk = own(stream);
    const rec = recorder(FRAME_MAX);
    rec.reader.push(chunk);
    expect(rec.views).toHaveLength(8);
    let offset = PROTOCOL_HEADER.length;
    for (const view of rec.views) {
      expect(view.buffer).toBe(chunk.buffer);
      expect(view.byteOffset).toBe(chunk.byteOffset + offset + 7);
      offset += view.length + 8;
    }
    // proof of aliasing: writing the chunk shows through the view
    const body = rec.views[2]!;
    const before = body[0]!;
    const bodyAt = PROTOCOL_HEADER.length + (rec.views[0]!.length + 8) + (rec.views[1]!.length + 8) + 7;
    chunk[bodyAt] = before ^ 0xff;
    expect(body[0]).toBe(before ^ 0xff);
  });

  it('frames wholly inside a later chunk are views of that chunk, split ones are assembled', () => {
    const { stream } = sampleStream();
    const rec = recorder(FRAME_MAX);
    const firstFrameEnd = 8 + 7 + stream.readUInt32BE(8 + 3) + 1;
    const a = own(stream.subarray(0, firstFrameEnd + 3)); // header, method frame, 3 bytes of the next
    const b = own(stream.subarray(firstFrameEnd + 3));
    rec.reader.push(a);
    rec.reader.push(b);
    expect(rec.views[0]!.buffer).toBe(a.buffer);
    expect(rec.views[1]!.buffer).not.toBe(a.buffer); // assembled across chunks
    expect(rec.views[1]!.buffer).not.toBe(b.buffer);
    expect(rec.views[1]!.length).toBe(stream.readUInt32BE(firstFrameEnd + 3));
    // only the split frame was copied: every frame after it is a view of chunk b
    const rest = rec.views.slice(2);
    expect(rest).toHaveLength(6);
    for (const v of rest) expect(v.buffer).toBe(b.buffer);
  });
});

describe('FrameReader: protocol header', () => {
  const bad: [string, Buffer, number][] = [
    ['AMQP 0-9-0', Buffer.from('AMQP\x00\x00\x09\x00', 'latin1'), 7],
    ['AMQP 0-8 (AMQP 1 1 8 0)', Buffer.from('AMQP\x01\x01\x08\x00', 'latin1'), 4],
    ['AMQP 1.0', Buffer.from('AMQP\x00\x01\x00\x00', 'latin1'), 5],
    ['HTTP', Buffer.from('HTTP/1.1', 'latin1'), 0],
    ['GET', Buffer.from('GET / HTTP/1.1\r\n', 'latin1'), 0],
    ['TLS hello', Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01]), 0],
    ['amqp lowercase', Buffer.from('amqp\x00\x00\x09\x01', 'latin1'), 0],
    ['AMQX', Buffer.from('AMQX\x00\x00\x09\x01', 'latin1'), 3],
    ['garbage', Buffer.from([0x41, 0x4d, 0xff, 0x00]), 2],
  ];

  it.each(bad)('%s is rejected as soon as a byte differs (whole and byte by byte)', (_name, bytes, firstBad) => {
    // whole
    const whole = recorder(FRAME_MAX);
    whole.reader.push(Buffer.concat([bytes, rawFrame(8, 0, Buffer.alloc(0))]));
    expect(whole.headers).toHaveLength(1);
    expect(whole.headers[0]!.ok).toBe(false);
    expect(whole.frames).toHaveLength(0);
    // byte by byte: reported on exactly the first differing byte
    const rec = recorder(FRAME_MAX);
    for (let i = 0; i < bytes.length; i++) {
      rec.reader.push(bytes.subarray(i, i + 1));
      expect(rec.headers.length, `after byte ${i}`).toBe(i < firstBad ? 0 : 1);
    }
    expect(rec.headers[0]!.ok).toBe(false);
    expect(rec.headers[0]!.header.equals(bytes.subarray(0, firstBad + 1))).toBe(true);
    // nothing after a rejection is read
    rec.reader.push(PROTOCOL_HEADER);
    rec.reader.push(rawFrame(8, 0, Buffer.alloc(0)));
    expect(rec.headers).toHaveLength(1);
    expect(rec.frames).toHaveLength(0);
  });

  it('accepts the 0-9-1 header split anywhere, and reads the frames after it in the same chunk', () => {
    const frames = Buffer.concat([PROTOCOL_HEADER, rawFrame(8, 0, Buffer.alloc(0)), rawFrame(3, 1, Buffer.from('abc'))]);
    for (let cut = 0; cut <= frames.length; cut++) {
      const rec = feed(frames, [cut], FRAME_MAX);
      expect(rec.headers).toEqual([{ ok: true, header: PROTOCOL_HEADER }]);
      expect(rec.frames.map((f) => f.type)).toEqual([8, 3]);
    }
  });

  it('a frame where the header should be is a wrong header', () => {
    const rec = recorder(FRAME_MAX);
    rec.reader.push(rawFrame(1, 0, Buffer.alloc(4)));
    expect(rec.headers.map((h) => h.ok)).toEqual([false]);
  });
});

describe('FrameReader: frame errors are 501', () => {
  const start = (frameMax = FRAME_MAX): Recorder => {
    const rec = recorder(frameMax);
    rec.reader.push(PROTOCOL_HEADER);
    return rec;
  };

  it('bad frame-end octet, whole or split anywhere', () => {
    const good = rawFrame(1, 1, Buffer.from([0, 60, 0, 80, 0, 0, 0, 0, 0, 0, 0, 1, 0]));
    for (const end of [0x00, 0xcd, 0xcf, 0xff]) {
      const stream = Buffer.concat([good, rawFrame(3, 1, Buffer.from('body'), end)]);
      for (let cut = 0; cut <= stream.length; cut++) {
        const rec = start();
        let err: AmqpError | null = null;
        try {
          rec.reader.push(stream.subarray(0, cut));
          rec.reader.push(stream.subarray(cut));
        } catch (e) {
          err = e as AmqpError;
        }
        expect(err).toBeInstanceOf(AmqpError);
        expect(err!.replyCode).toBe(501);
        expect(err!.replyText).toMatch(/^FRAME_ERROR - bad frame end/);
        expect(rec.frames).toHaveLength(1); // the good frame before it was delivered
      }
    }
  });

  it('a payload of up to frame_max bytes is accepted (RabbitMQ tolerates the forgotten 8-byte overhead); one more is rejected from its header alone', () => {
    const nominal = rawFrame(3, 1, Buffer.alloc(FRAME_MAX - 8, 1));
    expect(nominal.length).toBe(FRAME_MAX);
    const ok = start();
    ok.reader.push(nominal);
    expect(ok.frames).toHaveLength(1);
    expect(ok.frames[0]!.payload.length).toBe(FRAME_MAX - 8);

    const tolerated = rawFrame(3, 1, Buffer.alloc(FRAME_MAX, 1));
    const sloppy = start();
    sloppy.reader.push(tolerated);
    expect(sloppy.frames).toHaveLength(1);
    expect(sloppy.frames[0]!.payload.length).toBe(FRAME_MAX);

    const over = rawFrame(3, 1, Buffer.alloc(FRAME_MAX + 1, 1));
    const rec = start();
    const err = amqpErrorOf(() => rec.reader.push(over.subarray(0, 7))); // just the frame header
    expect(err.replyCode).toBe(501);
    expect(err.replyText).toBe(`FRAME_ERROR - type 3, all octets = <<>>: {frame_too_large,${FRAME_MAX + 1},${FRAME_MAX - 8}}`);
    expect(amqpErrorOf(() => start().reader.push(over)).replyCode).toBe(501);
    // a size field near 2^32 too
    const huge = Buffer.from([3, 0, 1, 0xff, 0xff, 0xff, 0xff]);
    expect(amqpErrorOf(() => start().reader.push(huge)).replyCode).toBe(501);
  });

  it('setFrameMax changes the limit; 0 means no limit', () => {
    const big = rawFrame(3, 1, Buffer.alloc(200_000));
    expect(amqpErrorOf(() => start(FRAME_MAX).reader.push(big)).replyCode).toBe(501);
    const unlimited = start(0);
    unlimited.reader.push(big);
    expect(unlimited.frames).toHaveLength(1);
    const tuned = start(FRAME_MAX);
    tuned.reader.setFrameMax(300_000);
    tuned.reader.push(big);
    expect(tuned.frames).toHaveLength(1);
    tuned.reader.setFrameMax(4096);
    expect(amqpErrorOf(() => tuned.reader.push(big)).replyCode).toBe(501);
  });

  it('unknown frame types', () => {
    for (let type = 0; type < 256; type++) {
      const frame = rawFrame(type, 0, Buffer.alloc(0));
      const rec = start();
      if ([1, 2, 3, 8].includes(type)) {
        rec.reader.push(frame);
        expect(rec.frames).toHaveLength(1);
      } else {
        const err = amqpErrorOf(() => rec.reader.push(frame.subarray(0, 7)));
        expect(err.replyCode).toBe(501);
        expect(err.replyText).toContain(`unknown frame type ${type}`);
      }
    }
  });

  it('stop() inside onFrame delivers nothing more', () => {
    const frames: number[] = [];
    const reader: FrameReader = new FrameReader({
      onProtocolHeader: () => {},
      onFrame: (type) => { frames.push(type); if (type === 8) reader.stop(); },
    }, FRAME_MAX);
    reader.push(Buffer.concat([PROTOCOL_HEADER, rawFrame(3, 1, Buffer.from('a')), rawFrame(8, 0, Buffer.alloc(0)), rawFrame(3, 1, Buffer.from('b'))]));
    reader.push(rawFrame(3, 1, Buffer.from('c')));
    expect(frames).toEqual([3, 8]);
    expect(reader.pendingBytes).toBe(0);
  });
});

// ------------------------------------------------------------------ writers

describe('writeBodyFrames', () => {
  const MAX_PAYLOAD = FRAME_MAX - 8;

  function check(chunks: Buffer[], frameMax = FRAME_MAX): { drained: Buffer[]; sizes: number[] } {
    const total = chunks.reduce((n, c) => n + c.length, 0);
    const w = new ByteWriter();
    writeBodyFrames(w, 9, chunks.length === 1 ? chunks[0]! : chunks, frameMax);
    const drained = w.drain();
    const rec = recorder(frameMax);
    rec.reader.push(PROTOCOL_HEADER);
    for (const d of drained) rec.reader.push(d);
    const sizes = rec.frames.map((f) => f.payload.length);
    for (const f of rec.frames) {
      expect(f.type).toBe(3);
      expect(f.channel).toBe(9);
    }
    expect(Buffer.concat(rec.frames.map((f) => f.payload)).equals(Buffer.concat(chunks))).toBe(true);
    const limit = frameMax === 0 ? Infinity : frameMax - 8;
    const want: number[] = [];
    for (let left = total; left > 0; left -= Math.min(left, limit)) want.push(Math.min(left, limit));
    expect(sizes).toEqual(want);
    // body bytes go out by reference: every drained piece that carries body bytes is
    // one of the body's own Buffers or a view sharing its memory; the rest is framing (8 bytes a frame)
    let bodyBytes = 0;
    let framingBytes = 0;
    for (const d of drained) {
      const owner = chunks.find((c) => c.length > 0 && d.buffer === c.buffer);
      if (owner) {
        expect(d.byteOffset).toBeGreaterThanOrEqual(owner.byteOffset);
        expect(d.byteOffset + d.length).toBeLessThanOrEqual(owner.byteOffset + owner.length);
        bodyBytes += d.length;
      } else {
        framingBytes += d.length;
      }
    }
    expect(bodyBytes).toBe(total);
    expect(framingBytes).toBe(8 * want.length);
    return { drained, sizes };
  }

  it.each([0, 1, MAX_PAYLOAD, MAX_PAYLOAD + 1, 2 * MAX_PAYLOAD, 3 * MAX_PAYLOAD + 5])('a single %i-byte body splits at frame_max - 8', (n) => {
    const body = ownBuffer(n);
    const { drained } = check([body]);
    if (n > 0 && n <= MAX_PAYLOAD) expect(drained).toContain(body); // the very same object
    if (n === 0) expect(drained).toHaveLength(0);
  });

  it('a body given as several chunks (crossing frame boundaries, with empty chunks)', () => {
    const layouts = [
      [10, 20, 30],
      [MAX_PAYLOAD - 1, 2, MAX_PAYLOAD],
      [0, MAX_PAYLOAD, 0, MAX_PAYLOAD + 3, 1],
      [5000, 5000, 5000],
      [1, 1, 1, 1, 1, 1, 1, 1],
      [3 * MAX_PAYLOAD + 5],
    ];
    layouts.forEach((sizes, i) => {
      const chunks = sizes.map((n, j) => ownBuffer(n, i * 10 + j));
      const { drained } = check(chunks);
      // chunks that lie wholly inside one frame are appended as the very same objects
      if (i === 0 || i === 4) for (const c of chunks) expect(drained).toContain(c);
    });
  });

  it('random chunked bodies and frame sizes', () => {
    const r = mulberry32(5);
    for (let i = 0; i < 60; i++) {
      const frameMax = [FRAME_MAX, 4097, 131072, 0][i % 4]!;
      const chunks = Array.from({ length: int(r, 1, 6) }, (_, j) => ownBuffer(int(r, 0, 9000), j));
      check(chunks, frameMax);
    }
  });

  it('frame_max 0 sends the body in one frame', () => {
    const { sizes } = check([ownBuffer(300_000)], 0);
    expect(sizes).toEqual([300_000]);
  });

  it('body bytes are not copied: changing the body after drain shows in the output', () => {
    const body = ownBuffer(10_000);
    const w = new ByteWriter();
    writeBodyFrames(w, 1, body, FRAME_MAX);
    const out = w.drain();
    body.fill(0x5a);
    const rec = recorder(FRAME_MAX);
    rec.reader.push(PROTOCOL_HEADER);
    rec.reader.push(Buffer.concat(out));
    expect(Buffer.concat(rec.frames.map((f) => f.payload)).equals(Buffer.alloc(10_000, 0x5a))).toBe(true);
  });
});

describe('other frame writers and ByteWriter', () => {
  it('heartbeat is 8 fixed bytes', () => {
    const w = new ByteWriter();
    writeHeartbeat(w);
    expect(w.take().toString('hex')).toBe('08000000000000ce');
  });

  it('writeRawHeaderFrame re-emits a received header payload byte for byte', () => {
    const w = new ByteWriter();
    writeHeaderFrame(w, 3, 60, 1234, { contentType: 'a/b', priority: 4, headers: { x: [1, 2] } });
    const frame = Buffer.from(w.take());
    const payload = frame.subarray(7, frame.length - 1);
    const w2 = new ByteWriter();
    writeRawHeaderFrame(w2, 3, payload);
    expect(w2.take().equals(frame)).toBe(true);
  });

  it('method frames carry the channel and exact size', () => {
    const w = new ByteWriter();
    writeMethodFrame(w, 0xffff, { id: MethodId.BasicAck, args: { deliveryTag: 2 ** 40, multiple: true } });
    expect(w.take().toString('hex')).toBe('01ffff0000000d003c00500000010000000000 01ce'.replace(/ /g, ''));
  });

  it('take() hands out views that later writes never touch, even across slab moves', () => {
    const w = new ByteWriter(32);
    const taken: [Buffer, string][] = [];
    const r = mulberry32(3);
    for (let i = 0; i < 500; i++) {
      writeMethodFrame(w, i, { id: MethodId.BasicDeliver, args: { consumerTag: 'c'.repeat(int(r, 0, 40)), deliveryTag: i, exchange: 'e', routingKey: 'k' } });
      if (int(r, 0, 2) === 0) {
        const t = w.take();
        taken.push([t, t.toString('hex')]);
      }
    }
    for (const [view, hexAtTake] of taken) expect(view.toString('hex')).toBe(hexAtTake);
  });

  it('length patches survive a slab move in the middle of a table', () => {
    const w = new ByteWriter(16);
    const table = { a: 'x'.repeat(100), b: { c: 'y'.repeat(50), d: [1, 2, 3] } };
    encodeTable(w, table);
    const bytes = w.take();
    expect(bytes.readUInt32BE(0)).toBe(bytes.length - 4);
  });

  it('take() after appendRef throws; drain() keeps order of bytes and refs', () => {
    const w = new ByteWriter();
    w.u8(1);
    const ref = ownBuffer(3);
    w.appendRef(ref);
    w.u8(2);
    expect(() => w.take()).toThrow();
    expect(w.pendingBytes).toBe(5);
    const out = w.drain();
    expect(out).toHaveLength(3);
    expect(out[1]).toBe(ref);
    expect(Buffer.concat(out).toString('hex')).toBe('01' + ref.toString('hex') + '02');
    expect(w.isEmpty).toBe(true);
    expect(w.drain()).toEqual([]);
  });
});
