/**
 * A frame-level fuzzer for the broker's wire input.
 *
 * It builds a few valid client sessions with our own codec (handshake,
 * declares, bindings, publishes with full properties and field tables of
 * every type, consumes, acks, transactions, closes — see `templates`),
 * mutates them (bit flips, bytes, truncations, frame size fields, field-table
 * type tags, length fields, huge body sizes, channels, method ids, frame
 * types, dropped/duplicated/swapped/injected frames, TCP chunking) and
 * replays each mutated stream on its own socket at a running broker.
 *
 * Every case is a pure function of (seed, case index): `caseInput(seed, i)`
 * rebuilds it, so a finding is reproduced with WARREN_FUZZ_SEED and
 * WARREN_FUZZ_ONLY=i whatever the concurrency.
 *
 * What a case checks on its own socket (`runCase`), beyond "the process is
 * still alive":
 * - everything the server sends is well framed, and its method frames decode;
 * - after the server's connection.close, it sends nothing but close-ok (and heartbeats);
 * - the socket ends: the server closes it, or it goes idle and we drop it;
 * - no byte the server sends carries another case's marker (each case's
 *   names and bodies embed a random 12-character marker, FZ + 10 base-32).
 * The caller (test/fuzz/fuzz.test.ts) adds the cross-connection checks.
 */
import { connect as netConnect } from 'node:net';
import {
  Constants,
  Cursor,
  Decimal,
  METHOD_INFO,
  MethodId,
  PROTOCOL_HEADER,
  Typed,
  decodeContentProperties,
  decodeMethod,
  type BasicProperties,
  type FieldTable,
  type MethodInit,
} from '../../src/protocol/index.js';
import { amqplainResponse, frameBytes, headerFrame, methodFrame, plainResponse } from '../helpers/raw-client.js';

// ---------------------------------------------------------------- randomness

import { mulberry32 as prng, type Rng } from '../helpers/prng.js';
import { WAIT_MS } from '../helpers/wait.js';

export { prng, type Rng };

/** The generator of case `index` under `seed` (independent of every other case). */
export function caseRng(seed: number, index: number): Rng {
  let h = (seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return prng((h ^ (h >>> 16)) >>> 0);
}

const int = (rng: Rng, n: number): number => Math.floor(rng() * n);
const pick = <T>(rng: Rng, items: readonly T[]): T => items[int(rng, items.length)]!;

const MARKER_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
/** Matches any case's marker in latin1 text. */
export const MARKER_RE = /FZ[A-Z2-7]{10}/g;

export function makeMarker(rng: Rng): string {
  let m = 'FZ';
  for (let i = 0; i < 10; i++) m += MARKER_ALPHABET[int(rng, 32)];
  return m;
}

// ---------------------------------------------------------------- valid sessions

/**
 * A table holding every field type RabbitMQ uses. Keys start with "fzk" and
 * are 4 bytes long, so a mutation can find each value's type tag (the byte
 * after the key) and the table's length field (5 bytes before "fzkt").
 */
function richTable(marker: string): FieldTable {
  return {
    fzkt: true,
    fzkb: new Typed('b', -5),
    fzkB: new Typed('B', 200),
    fzks: new Typed('s', -300),
    fzku: new Typed('u', 60000),
    fzkI: -70000,
    fzki: new Typed('i', 4_000_000_000),
    fzkl: 2n ** 40n,
    fzkf: new Typed('f', 1.5),
    fzkd: 2.25,
    fzkD: new Decimal(2, 12345),
    fzkS: `value ${marker}`,
    fzkA: [1, 'two', [true, null], { inner: marker }],
    fzkT: new Date(1_700_000_000_000),
    fzkF: { nested: { deeper: marker } },
    fzkV: null,
    fzkx: Buffer.from(`bytes ${marker}`),
  };
}

function fullProperties(marker: string, n: number, persistent: boolean): BasicProperties {
  return {
    contentType: 'application/octet-stream',
    contentEncoding: 'identity',
    headers: richTable(marker),
    deliveryMode: persistent ? 2 : 1,
    priority: n % 10,
    correlationId: `corr-${marker}-${n}`,
    replyTo: `reply-${marker}`,
    expiration: '60000',
    messageId: `${marker}-${n}`,
    timestamp: 1_700_000_000,
    type: 'fuzz',
    userId: 'guest',
    appId: 'warren-fuzz',
  };
}

/** One frame per element (the protocol header is element 0). */
export interface Session {
  name: string;
  frames: Buffer[];
  /** Index of the first frame after connection.open: most mutations land at or after it. */
  bodyStart: number;
  /** tune-ok frame_max (body frames are split at it). */
  frameMax: number;
}

const m = (channel: number, method: MethodInit): Buffer => methodFrame(channel, method);

function publishFrames(channel: number, exchange: string, routingKey: string, body: Buffer, properties: BasicProperties, frameMax: number, mandatory = false): Buffer[] {
  const out = [m(channel, { id: MethodId.BasicPublish, args: { exchange, routingKey, mandatory } }), headerFrame(channel, body.length, properties)];
  const max = frameMax - 8;
  for (let at = 0; at < body.length; at += max) out.push(frameBytes(Constants.FRAME_BODY, channel, body.subarray(at, at + max)));
  return out;
}

function handshakeFrames(marker: string, mechanism: 'PLAIN' | 'AMQPLAIN', frameMax: number): Buffer[] {
  return [
    PROTOCOL_HEADER,
    m(0, {
      id: MethodId.ConnectionStartOk,
      args: {
        clientProperties: {
          product: 'warren-fuzz',
          connection_name: `conn-${marker}`,
          capabilities: { publisher_confirms: true, consumer_cancel_notify: true, 'connection.blocked': true, authentication_failure_close: true, 'basic.nack': true },
          fzprops: richTable(marker),
        },
        mechanism,
        response: mechanism === 'PLAIN' ? plainResponse('guest', 'guest') : amqplainResponse('guest', 'guest'),
        locale: 'en_US',
      },
    }),
    m(0, { id: MethodId.ConnectionTuneOk, args: { channelMax: 2047, frameMax, heartbeat: 0 } }),
    m(0, { id: MethodId.ConnectionOpen, args: { virtualHost: '/' } }),
  ];
}

const body = (marker: string, n: number, size: number): Buffer => {
  const text = `body ${n} of ${marker} `;
  return Buffer.from(text.repeat(Math.ceil(size / text.length)).slice(0, Math.max(size, text.length)));
};

const closeChannel = (ch: number): Buffer => m(ch, { id: MethodId.ChannelClose, args: { replyCode: 200, replyText: 'bye', classId: 0, methodId: 0 } });
const closeConnection = (): Buffer => m(0, { id: MethodId.ConnectionClose, args: { replyCode: 200, replyText: 'bye', classId: 0, methodId: 0 } });

/**
 * The valid sessions every case starts from, all naming their exchanges,
 * queues, consumer tags and bodies after `marker`. Each is a complete
 * conversation the broker answers without any error (checked by the tests).
 */
export function templates(marker: string): Session[] {
  const x = `fzx.${marker}`;
  const q = `fzq.${marker}`;
  const rk = `rk.${marker}`;
  const sessions: Session[] = [];

  // 1. declare, bind, confirm, publish (properties, headers table, multi-frame body), consume, ack/nack/reject, tidy up.
  {
    const frameMax = 4096;
    const f = handshakeFrames(marker, 'PLAIN', frameMax);
    const bodyStart = f.length;
    f.push(
      m(1, { id: MethodId.ChannelOpen, args: {} }),
      m(1, { id: MethodId.ExchangeDeclare, args: { exchange: x, type: 'direct', autoDelete: true, arguments: { fzargs: richTable(marker) } } }),
      m(1, { id: MethodId.QueueDeclare, args: { queue: q, exclusive: true, arguments: { fzargs: richTable(marker) } } }),
      m(1, { id: MethodId.QueueBind, args: { queue: q, exchange: x, routingKey: rk, arguments: richTable(marker) } }),
      m(1, { id: MethodId.BasicQos, args: { prefetchCount: 5 } }),
      m(1, { id: MethodId.ConfirmSelect, args: {} }),
      ...publishFrames(1, x, rk, body(marker, 1, 40), fullProperties(marker, 1, false), frameMax),
      ...publishFrames(1, x, rk, body(marker, 2, 9000), fullProperties(marker, 2, false), frameMax),
      ...publishFrames(1, x, rk, body(marker, 3, 0), {}, frameMax),
      ...publishFrames(1, x, `unroutable.${marker}`, body(marker, 4, 30), fullProperties(marker, 4, false), frameMax, true),
      m(1, { id: MethodId.BasicConsume, args: { queue: q, consumerTag: `ct.${marker}`, arguments: { fzargs: richTable(marker) } } }),
      m(1, { id: MethodId.BasicAck, args: { deliveryTag: 1, multiple: false } }),
      m(1, { id: MethodId.BasicReject, args: { deliveryTag: 2, requeue: false } }),
      m(1, { id: MethodId.BasicNack, args: { deliveryTag: 3, multiple: true, requeue: true } }),
      m(1, { id: MethodId.BasicAck, args: { deliveryTag: 0, multiple: true } }),
      m(1, { id: MethodId.BasicCancel, args: { consumerTag: `ct.${marker}` } }),
      m(1, { id: MethodId.BasicGet, args: { queue: q, noAck: true } }),
      m(1, { id: MethodId.QueuePurge, args: { queue: q } }),
      m(1, { id: MethodId.QueueUnbind, args: { queue: q, exchange: x, routingKey: rk, arguments: richTable(marker) } }),
      m(1, { id: MethodId.QueueDelete, args: { queue: q } }),
      m(1, { id: MethodId.ExchangeDelete, args: { exchange: x } }),
      closeChannel(1),
      closeConnection(),
    );
    sessions.push({ name: 'publish-consume', frames: f, bodyStart, frameMax });
  }

  // 2. two channels: a transaction interleaving its content frames with the other channel's, get/ack, recover, flow, heartbeats.
  {
    const frameMax = 131072;
    const f = handshakeFrames(marker, 'AMQPLAIN', frameMax);
    const bodyStart = f.length;
    const p1 = publishFrames(1, '', q, body(marker, 5, 100), fullProperties(marker, 5, false), frameMax);
    const p2 = publishFrames(2, '', q, body(marker, 6, 200), fullProperties(marker, 6, false), frameMax);
    const heartbeat = frameBytes(Constants.FRAME_HEARTBEAT, 0, Buffer.alloc(0));
    f.push(
      m(1, { id: MethodId.ChannelOpen, args: {} }),
      m(2, { id: MethodId.ChannelOpen, args: {} }),
      m(1, { id: MethodId.QueueDeclare, args: { queue: q, exclusive: true } }),
      m(2, { id: MethodId.TxSelect, args: {} }),
      // Content frames of two channels interleaved, with a heartbeat in between.
      p1[0]!, p2[0]!, p1[1]!, heartbeat, p2[1]!, ...p1.slice(2), ...p2.slice(2),
      m(2, { id: MethodId.TxCommit, args: {} }),
      m(1, { id: MethodId.BasicGet, args: { queue: q } }),
      m(1, { id: MethodId.BasicGet, args: { queue: q } }),
      m(2, { id: MethodId.BasicGet, args: { queue: q } }),
      m(1, { id: MethodId.BasicAck, args: { deliveryTag: 1 } }),
      m(1, { id: MethodId.BasicRecover, args: { requeue: true } }),
      m(1, { id: MethodId.ChannelFlow, args: { active: true } }),
      ...publishFrames(2, '', q, body(marker, 7, 10), {}, frameMax),
      m(2, { id: MethodId.TxRollback, args: {} }),
      m(2, { id: MethodId.QueueDeclare, args: { queue: q, passive: true } }),
      closeChannel(2),
      heartbeat,
      closeChannel(1),
      closeConnection(),
    );
    sessions.push({ name: 'tx-two-channels', frames: f, bodyStart, frameMax });
  }

  // 3. exchange-to-exchange (topic → headers), headers matching, durable queue with persistent messages, auto-ack consumer.
  {
    const frameMax = 8192;
    const f = handshakeFrames(marker, 'PLAIN', frameMax);
    const bodyStart = f.length;
    const topic = `fzt.${marker}`;
    const headers = `fzh.${marker}`;
    const dq = `fzd.${marker}`;
    f.push(
      m(3, { id: MethodId.ChannelOpen, args: {} }),
      m(3, { id: MethodId.ExchangeDeclare, args: { exchange: topic, type: 'topic' } }),
      m(3, { id: MethodId.ExchangeDeclare, args: { exchange: headers, type: 'headers' } }),
      m(3, { id: MethodId.ExchangeBind, args: { destination: headers, source: topic, routingKey: `${marker}.#` } }),
      m(3, { id: MethodId.QueueDeclare, args: { queue: dq, durable: true } }),
      m(3, { id: MethodId.QueueBind, args: { queue: dq, exchange: headers, arguments: { 'x-match': 'any', fzkS: `value ${marker}`, other: 'nope' } } }),
      ...publishFrames(3, topic, `${marker}.a.b`, body(marker, 8, 500), fullProperties(marker, 8, true), frameMax),
      ...publishFrames(3, topic, `${marker}.c`, body(marker, 9, 20000), fullProperties(marker, 9, true), frameMax),
      ...publishFrames(3, '', dq, body(marker, 11, 10), { deliveryMode: 2, headers: { fzkt: true, fzkS: marker } }, frameMax),
      m(3, { id: MethodId.BasicConsume, args: { queue: dq, consumerTag: `auto.${marker}`, noAck: true, exclusive: true } }),
      m(3, { id: MethodId.ExchangeDeclare, args: { exchange: topic, type: 'topic', passive: true } }),
      m(3, { id: MethodId.ExchangeUnbind, args: { destination: headers, source: topic, routingKey: `${marker}.#` } }),
      m(3, { id: MethodId.BasicCancel, args: { consumerTag: `auto.${marker}` } }),
      m(3, { id: MethodId.QueueDelete, args: { queue: dq } }),
      m(3, { id: MethodId.ExchangeDelete, args: { exchange: headers } }),
      m(3, { id: MethodId.ExchangeDelete, args: { exchange: topic } }),
      closeChannel(3),
      closeConnection(),
    );
    sessions.push({ name: 'e2e-headers-durable', frames: f, bodyStart, frameMax });
  }

  // 4. nowait variants and many channels, server-named queue, fanout.
  {
    const frameMax = 131072;
    const f = handshakeFrames(marker, 'PLAIN', frameMax);
    const bodyStart = f.length;
    const fan = `fzf.${marker}`;
    f.push(
      m(1, { id: MethodId.ChannelOpen, args: {} }),
      m(1, { id: MethodId.ExchangeDeclare, args: { exchange: fan, type: 'fanout', autoDelete: true, nowait: true } }),
      m(1, { id: MethodId.QueueDeclare, args: { queue: q, autoDelete: true, nowait: true } }),
      m(1, { id: MethodId.QueueBind, args: { queue: q, exchange: fan, nowait: true } }),
      m(1, { id: MethodId.QueueDeclare, args: { queue: '', exclusive: true } }),
      m(1, { id: MethodId.QueueBind, args: { queue: '', exchange: fan } }),
      m(1, { id: MethodId.BasicConsume, args: { queue: q, consumerTag: `nw.${marker}`, nowait: true } }),
      ...publishFrames(1, fan, '', body(marker, 10, 64), fullProperties(marker, 10, false), frameMax),
      m(1, { id: MethodId.BasicAck, args: { deliveryTag: 1 } }),
      m(4, { id: MethodId.ChannelOpen, args: {} }),
      m(5, { id: MethodId.ChannelOpen, args: {} }),
      m(4, { id: MethodId.BasicGet, args: { queue: q, noAck: false } }),
      closeChannel(4),
      m(5, { id: MethodId.BasicCancel, args: { consumerTag: 'not-there', nowait: true } }),
      closeChannel(5),
      m(1, { id: MethodId.BasicCancel, args: { consumerTag: `nw.${marker}`, nowait: true } }),
      m(1, { id: MethodId.QueueDelete, args: { queue: q, nowait: true } }),
      closeChannel(1),
      closeConnection(),
    );
    sessions.push({ name: 'nowait-fanout', frames: f, bodyStart, frameMax });
  }
  return sessions;
}

// ---------------------------------------------------------------- mutations

const INTERESTING_U8 = [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff, 0xce, 0x08];
const INTERESTING_U32 = [0, 1, 7, 8, 0x7f, 0x80, 0xff, 0xfff8, 0x10000, 131064, 131065, 131072, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];
const TYPE_TAGS = 'tbBsuIilfdDSATFVx';
const BAD_TAGS = 'ZUcLe\x00\xff';
const KNOWN_METHODS = [...METHOD_INFO.keys()];

interface Ctx {
  rng: Rng;
  frames: Buffer[];
  bodyStart: number;
  frameMax: number;
  /** Frames of the case's other templates (same marker), for splicing. */
  spare: Buffer[];
}

function frameIndex(c: Ctx): number {
  const { frames, bodyStart, rng } = c;
  if (frames.length === 0) return -1;
  if (rng() < 0.85 && bodyStart < frames.length) return bodyStart + int(rng, frames.length - bodyStart);
  return int(rng, frames.length);
}

/** A copy of frame `i` (never mutate the template's buffers). */
function own(c: Ctx, i: number): Buffer {
  const b = Buffer.from(c.frames[i]!);
  c.frames[i] = b;
  return b;
}

const isFrame = (b: Buffer): boolean => b.length >= 8 && !(b.length === 8 && b.toString('latin1', 0, 4) === 'AMQP');

/** Offsets of `needle` in `b`. */
function findAll(b: Buffer, needle: string): number[] {
  const out: number[] = [];
  const n = Buffer.from(needle, 'latin1');
  for (let at = b.indexOf(n); at >= 0; at = b.indexOf(n, at + 1)) out.push(at);
  return out;
}

type Mutator = (c: Ctx) => string | null;

const MUTATORS: Array<[weight: number, name: string, fn: Mutator]> = [
  [10, 'bitflip', (c) => {
    const i = frameIndex(c);
    if (i < 0 || c.frames[i]!.length === 0) return null;
    const b = own(c, i);
    const at = int(c.rng, b.length);
    const bit = int(c.rng, 8);
    b[at]! ^= 1 << bit;
    return `bitflip frame ${i} byte ${at} bit ${bit}`;
  }],
  [6, 'byte', (c) => {
    const i = frameIndex(c);
    if (i < 0 || c.frames[i]!.length === 0) return null;
    const b = own(c, i);
    const at = int(c.rng, b.length);
    const v = c.rng() < 0.7 ? pick(c.rng, INTERESTING_U8) : int(c.rng, 256);
    b[at] = v;
    return `byte frame ${i}[${at}] = 0x${v.toString(16)}`;
  }],
  [6, 'frame-size', (c) => {
    const i = frameIndex(c);
    if (i < 0 || !isFrame(c.frames[i]!)) return null;
    const b = own(c, i);
    const size = b.readUInt32BE(3);
    const v = pick(c.rng, [0, size - 1, size + 1, size + 8, c.frameMax - 8, c.frameMax - 7, c.frameMax, ...INTERESTING_U32].filter((n) => n >= 0 && n <= 0xffffffff));
    b.writeUInt32BE(v >>> 0, 3);
    return `frame ${i} size ${size} -> ${v}`;
  }],
  [5, 'truncate-payload', (c) => {
    const i = frameIndex(c);
    if (i < 0 || !isFrame(c.frames[i]!)) return null;
    const b = c.frames[i]!;
    const size = b.readUInt32BE(3);
    if (size === 0) return null;
    const keep = int(c.rng, size);
    c.frames[i] = frameBytes(b[0]!, b.readUInt16BE(1), b.subarray(7, 7 + keep));
    return `frame ${i} payload truncated ${size} -> ${keep} (well framed)`;
  }],
  [5, 'channel', (c) => {
    const i = frameIndex(c);
    if (i < 0 || !isFrame(c.frames[i]!)) return null;
    const b = own(c, i);
    const v = pick(c.rng, [0, 1, 2, 3, 4, 5, 6, 2047, 2048, 65535, int(c.rng, 65536)]);
    b.writeUInt16BE(v, 1);
    return `frame ${i} channel -> ${v}`;
  }],
  [4, 'frame-type', (c) => {
    const i = frameIndex(c);
    if (i < 0 || !isFrame(c.frames[i]!)) return null;
    const b = own(c, i);
    const v = pick(c.rng, [0, 1, 2, 3, 4, 8, 9, 0xce, int(c.rng, 256)]);
    b[0] = v;
    return `frame ${i} type -> ${v}`;
  }],
  [2, 'frame-end', (c) => {
    const i = frameIndex(c);
    if (i < 0 || !isFrame(c.frames[i]!)) return null;
    const b = own(c, i);
    const v = pick(c.rng, [0x00, 0xcd, 0xcf, 0xff]);
    b[b.length - 1] = v;
    return `frame ${i} frame-end -> 0x${v.toString(16)}`;
  }],
  [6, 'method-id', (c) => {
    const methods = c.frames.map((b, i) => [b, i] as const).filter(([b, i]) => i >= c.bodyStart && isFrame(b) && b[0] === Constants.FRAME_METHOD && b.length >= 12);
    if (methods.length === 0) return null;
    const [, i] = pick(c.rng, methods);
    const b = own(c, i);
    const id = c.rng() < 0.8 ? pick(c.rng, KNOWN_METHODS) : (int(c.rng, 0x10000) << 16) | int(c.rng, 0x10000);
    b.writeUInt32BE(id >>> 0, 7);
    return `frame ${i} method id -> ${id >>> 16}/${id & 0xffff}`;
  }],
  [8, 'table-tag', (c) => {
    const spots: Array<[number, number]> = [];
    c.frames.forEach((b, i) => { for (const at of findAll(b, 'fzk')) if (at + 4 < b.length) spots.push([i, at + 4]); });
    if (spots.length === 0) return null;
    const [i, at] = pick(c.rng, spots);
    const b = own(c, i);
    const tags = c.rng() < 0.75 ? TYPE_TAGS : BAD_TAGS;
    const tag = tags.charCodeAt(int(c.rng, tags.length)) & 0xff;
    const was = String.fromCharCode(b[at]!);
    b[at] = tag;
    return `frame ${i} field tag '${was}' -> 0x${tag.toString(16)}`;
  }],
  [7, 'length-field', (c) => {
    // Table lengths (5 bytes before "fzkt"), long-string lengths (after an 'S'/'x' tag), or any u32 in a payload.
    const spots: Array<[number, number, string]> = [];
    c.frames.forEach((b, i) => {
      for (const at of findAll(b, 'fzkt')) if (at >= 5) spots.push([i, at - 5, 'table length']);
      for (const at of [...findAll(b, 'fzkS'), ...findAll(b, 'fzkx'), ...findAll(b, 'fzkA'), ...findAll(b, 'fzkF')]) if (at + 9 <= b.length) spots.push([i, at + 5, 'value length']);
    });
    const targeted = spots.length > 0 && c.rng() < 0.7;
    let i: number;
    let at: number;
    let what: string;
    if (targeted) [i, at, what] = pick(c.rng, spots);
    else {
      i = frameIndex(c);
      if (i < 0 || c.frames[i]!.length < 12) return null;
      at = 7 + int(c.rng, c.frames[i]!.length - 12);
      what = 'u32';
    }
    const b = own(c, i);
    const was = b.readUInt32BE(at);
    const v = pick(c.rng, [was + 1, was - 1, was * 2, ...INTERESTING_U32].filter((n) => n >= 0 && n <= 0xffffffff));
    b.writeUInt32BE(v >>> 0, at);
    return `frame ${i} ${what} at ${at}: ${was} -> ${v}`;
  }],
  [5, 'body-size', (c) => {
    const headers = c.frames.map((b, i) => [b, i] as const).filter(([b]) => isFrame(b) && b[0] === Constants.FRAME_HEADER && b.length >= 22);
    if (headers.length === 0) return null;
    const [, i] = pick(c.rng, headers);
    const b = own(c, i);
    const was = b.readBigUInt64BE(11);
    const v = pick(c.rng, [0n, 1n, was + 1n, was - 1n, 128n * 1024n * 1024n, 128n * 1024n * 1024n + 1n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 1n, 100_000_000n].filter((n) => n >= 0n && n < 2n ** 64n));
    b.writeBigUInt64BE(v, 11);
    return `frame ${i} body-size ${was} -> ${v}`;
  }],
  [6, 'property-flags', (c) => {
    const headers = c.frames.map((b, i) => [b, i] as const).filter(([b]) => isFrame(b) && b[0] === Constants.FRAME_HEADER && b.length >= 22);
    if (headers.length === 0) return null;
    const [, i] = pick(c.rng, headers);
    const old = c.frames[i]!;
    const v = pick(c.rng, [0xffff, 0xfffe, 0x0001, 0x1001, 0x3001, 0x8000, 0x2000, 0x1000, 0x0040, int(c.rng, 0x10000)]);
    // Keep the property list, or cut it short (a few bytes, or none at all).
    const payload = Buffer.from(old.subarray(7, old.length - 1));
    payload.writeUInt16BE(v, 12);
    const keep = c.rng() < 0.5 ? payload.length : 14 + int(c.rng, Math.min(8, payload.length - 13));
    c.frames[i] = frameBytes(Constants.FRAME_HEADER, old.readUInt16BE(1), payload.subarray(0, keep));
    return `frame ${i} property flags -> 0x${v.toString(16)}, properties ${keep === payload.length ? 'kept' : `cut to ${keep - 14} bytes`}`;
  }],
  [3, 'drop-frame', (c) => {
    const i = frameIndex(c);
    if (i < 0) return null;
    c.frames.splice(i, 1);
    return `drop frame ${i}`;
  }],
  [3, 'duplicate-frame', (c) => {
    const i = frameIndex(c);
    if (i < 0) return null;
    const times = c.rng() < 0.2 ? 1 + int(c.rng, 200) : 1;
    c.frames.splice(i, 0, ...Array.from({ length: times }, () => c.frames[i]!));
    return `duplicate frame ${i} x${times}`;
  }],
  [3, 'swap-frames', (c) => {
    const i = frameIndex(c);
    if (i < 1) return null;
    [c.frames[i - 1], c.frames[i]] = [c.frames[i]!, c.frames[i - 1]!];
    return `swap frames ${i - 1} and ${i}`;
  }],
  [3, 'insert-random-frame', (c) => {
    const i = frameIndex(c);
    if (i < 0) return null;
    const payload = Buffer.alloc(int(c.rng, 48));
    for (let k = 0; k < payload.length; k++) payload[k] = int(c.rng, 256);
    const type = pick(c.rng, [1, 1, 2, 3, 8]);
    const ch = pick(c.rng, [0, 1, 2, 3, 9]);
    if (type === 1 && payload.length >= 4) payload.writeUInt32BE(pick(c.rng, KNOWN_METHODS), 0);
    c.frames.splice(i, 0, frameBytes(type, ch, payload));
    return `insert random frame (type ${type}, channel ${ch}, ${payload.length} bytes) at ${i}`;
  }],
  [3, 'splice', (c) => {
    const i = frameIndex(c);
    if (i < 0 || c.spare.length === 0) return null;
    const n = 1 + int(c.rng, 4);
    const from = int(c.rng, c.spare.length);
    c.frames.splice(i, 0, ...c.spare.slice(from, from + n));
    return `splice ${n} frames of another session at ${i}`;
  }],
  [2, 'channel-flood', (c) => {
    const i = frameIndex(c);
    if (i < 0) return null;
    const n = 50 + int(c.rng, 2100);
    const start = 1 + int(c.rng, 100);
    const opens: Buffer[] = [];
    for (let k = 0; k < n; k++) opens.push(m(((start + k) % 65535) + 1, { id: MethodId.ChannelOpen, args: {} }));
    c.frames.splice(i, 0, ...opens);
    return `insert ${n} channel.open from channel ${start + 1} at ${i}`;
  }],
];

const TOTAL_WEIGHT = MUTATORS.reduce((s, [w]) => s + w, 0);

function chooseMutator(rng: Rng): [string, Mutator] {
  let r = rng() * TOTAL_WEIGHT;
  for (const [w, name, fn] of MUTATORS) {
    r -= w;
    if (r < 0) return [name, fn];
  }
  const last = MUTATORS[MUTATORS.length - 1]!;
  return [last[1], last[2]];
}

export interface CaseInput {
  index: number;
  marker: string;
  template: string;
  mutations: string[];
  /** The bytes to send, split into the TCP writes to make. */
  chunks: Buffer[];
  /** Pause between writes (setImmediate) so chunks arrive as separate reads. */
  spacedWrites: boolean;
}

/** The marker of case `index` (cheap: the first draw of its generator). */
export function caseMarker(seed: number, index: number): string {
  return makeMarker(caseRng(seed, index));
}

/** Case `index` of run `seed`: a template, its mutations and the TCP chunking. Pure. */
export function caseInput(seed: number, index: number): CaseInput {
  const rng = caseRng(seed, index);
  const marker = makeMarker(rng);
  const all = templates(marker);
  const t = int(rng, all.length);
  const session = all[t]!;
  const ctx: Ctx = {
    rng,
    frames: [...session.frames],
    bodyStart: session.bodyStart,
    frameMax: session.frameMax,
    spare: all.filter((_, k) => k !== t).flatMap((s) => s.frames.slice(s.bodyStart)),
  };
  const r = rng();
  const count = r < 0.6 ? 1 : r < 0.85 ? 2 : 3 + int(rng, 3);
  const mutations: string[] = [];
  for (let tries = 0; mutations.length < count && tries < count * 5; tries++) {
    const [, fn] = chooseMutator(rng);
    const d = fn(ctx);
    if (d) mutations.push(d);
  }
  let bytes = Buffer.concat(ctx.frames);
  if (rng() < 0.1) {
    const cut = int(rng, bytes.length);
    mutations.push(`stream truncated at ${cut} of ${bytes.length}`);
    bytes = bytes.subarray(0, cut);
  }
  // TCP chunking: one write, a few random cuts, or many small pieces.
  const chunks: Buffer[] = [];
  const mode = rng();
  let spacedWrites = false;
  if (mode < 0.5 || bytes.length < 2) chunks.push(bytes);
  else {
    const pieces = mode < 0.85 ? 2 + int(rng, 5) : 10 + int(rng, 30);
    spacedWrites = rng() < 0.7;
    const cuts = new Set<number>();
    for (let k = 0; k < pieces - 1; k++) cuts.add(1 + int(rng, bytes.length - 1));
    let at = 0;
    for (const cut of [...cuts].sort((a, b) => a - b)) {
      chunks.push(bytes.subarray(at, cut));
      at = cut;
    }
    chunks.push(bytes.subarray(at));
    mutations.push(`sent in ${chunks.length} writes${spacedWrites ? ' (spaced)' : ''}`);
  }
  return { index, marker, template: session.name, mutations, chunks, spacedWrites };
}

// ---------------------------------------------------------------- running a case

export interface CaseResult {
  input: CaseInput;
  /** The broker's name for this client (log lines carry it). */
  peer: string;
  /** 'server-closed': the socket closed cleanly (ended by the server, or by us on its close-ok, as the spec has the receiver of close-ok close). */
  ended: 'server-closed' | 'idle' | 'timeout' | 'connect-error';
  /** connection.close the server sent, if any. */
  close?: { replyCode: number; replyText: string; classId: number; methodId: number };
  received: number;
  /** Ids of the method frames the server sent, in order (channel << 32 is not kept). */
  methods: number[];
  ms: number;
  violations: string[];
}

export interface RunOptions {
  port: number;
  /** Every marker of the run (another case's marker in our bytes is cross-talk). */
  markers: ReadonlySet<string>;
  /** Drop the socket after this long without input from the server (default 30 ms). */
  idleMs?: number;
  /** Give up on a case (a violation) after this long (default WAIT_MS: a loaded machine answers late). */
  maxMs?: number;
}

const CONNECTION_CLOSE = MethodId.ConnectionClose;
const CONNECTION_CLOSE_OK = MethodId.ConnectionCloseOk;
const CLOSE_OK_FRAME = methodFrame(0, { id: MethodId.ConnectionCloseOk, args: {} });

/**
 * Replays one case on a fresh socket and checks what comes back. Answers the
 * server's connection.close with close-ok (as a client would), then waits for
 * the server to close the socket; on the server's close-ok (our own close
 * answered) it closes the socket itself, as a client does.
 */
export function runCase(input: CaseInput, o: RunOptions): Promise<CaseResult> {
  const idleMs = o.idleMs ?? 30;
  const maxMs = o.maxMs ?? WAIT_MS;
  const started = Date.now();
  const violations: string[] = [];
  return new Promise((resolve) => {
    const socket = netConnect({ port: o.port, host: '127.0.0.1' });
    socket.setNoDelay(true);
    let peer = '';
    let buf: Buffer = Buffer.alloc(0);
    let received = 0;
    let sawHeaderReply = false;
    let serverClose: CaseResult['close'];
    let closeOkSent = false;
    let afterClose = 0;
    let writesDone = false;
    let dropped: CaseResult['ended'] | null = null;
    let idleTimer: NodeJS.Timeout | null = null;
    const text: Buffer[] = [];
    const methods: number[] = [];

    const finish = (ended: CaseResult['ended']): void => {
      if (idleTimer) clearTimeout(idleTimer);
      clearTimeout(maxTimer);
      // Cross-talk: only this case's marker may appear in what the server sent.
      const all = Buffer.concat(text).toString('latin1');
      for (const found of all.match(MARKER_RE) ?? []) {
        if (found !== input.marker && o.markers.has(found)) violations.push(`received another connection's marker ${found}`);
      }
      if (afterClose > 0) violations.push(`${afterClose} frame(s) other than close-ok after the server's connection.close`);
      // The server writes whole frames: a partial one at its close means output was cut short.
      if (buf.length > 0 && ended === 'server-closed') violations.push(`server closed the socket in the middle of a frame (${buf.length} bytes pending)`);
      if (ended === 'timeout') violations.push(`the case did not end within ${maxMs} ms`);
      resolve({ input, peer, ended, close: serverClose, received, methods, ms: Date.now() - started, violations });
    };

    const armIdle = (): void => {
      if (!writesDone || dropped) return;
      if (idleTimer) clearTimeout(idleTimer);
      idleTimer = setTimeout(() => {
        dropped = 'idle';
        socket.destroy();
      }, idleMs);
    };
    const maxTimer = setTimeout(() => {
      dropped = 'timeout';
      socket.destroy();
    }, maxMs);

    socket.on('error', () => { /* ECONNRESET and the like: 'close' follows */ });
    socket.on('close', () => finish(dropped ?? 'server-closed'));
    socket.on('connect', () => {
      peer = `127.0.0.1:${socket.localPort}`;
      void (async () => {
        for (const chunk of input.chunks) {
          if (socket.destroyed) return;
          socket.write(chunk);
          if (input.spacedWrites) await new Promise((r) => setImmediate(r));
        }
        writesDone = true;
        armIdle();
      })();
    });
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      text.push(chunk);
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      if (!sawHeaderReply && received === chunk.length && buf.length >= 4 && buf.toString('latin1', 0, 4) === 'AMQP') {
        // The server refused our protocol header by sending its own, then closes.
        if (buf.length < 8) return;
        sawHeaderReply = true;
        buf = buf.subarray(8);
      }
      let pos = 0;
      while (buf.length - pos >= 8) {
        const size = buf.readUInt32BE(pos + 3);
        if (buf.length - pos < size + 8) break;
        const type = buf[pos]!;
        const channel = buf.readUInt16BE(pos + 1);
        if (buf[pos + 7 + size] !== Constants.FRAME_END) {
          violations.push(`server sent a bad frame-end octet (frame type ${type}, channel ${channel}, size ${size})`);
          socket.destroy();
          return;
        }
        if (![1, 2, 3, 8].includes(type)) violations.push(`server sent a frame of unknown type ${type}`);
        const payload = buf.subarray(pos + 7, pos + 7 + size);
        pos += size + 8;
        if (type === Constants.FRAME_METHOD) {
          let id = -1;
          let args: Record<string, unknown> = {};
          try {
            const decoded = decodeMethod(new Cursor(payload));
            id = decoded.id;
            args = decoded.args as unknown as Record<string, unknown>;
            methods.push(id);
          } catch (err) {
            violations.push(`server sent an undecodable method frame: ${(err as Error).message}`);
          }
          if (serverClose && !(id === CONNECTION_CLOSE_OK && channel === 0)) afterClose++;
          if (id === CONNECTION_CLOSE_OK && channel === 0) socket.end();
          if (id === CONNECTION_CLOSE && channel === 0 && !serverClose) {
            serverClose = { replyCode: args.replyCode as number, replyText: args.replyText as string, classId: args.classId as number, methodId: args.methodId as number };
            if (!closeOkSent) {
              closeOkSent = true;
              socket.write(CLOSE_OK_FRAME);
            }
          }
        } else {
          if (type === Constants.FRAME_HEADER) {
            // Whatever a publisher sent, a consumer must be able to decode what it is given.
            try {
              decodeContentProperties(payload);
            } catch (err) {
              violations.push(`server sent an undecodable content header: ${(err as Error).message}`);
            }
          }
          if (serverClose && type !== Constants.FRAME_HEARTBEAT) afterClose++;
        }
      }
      buf = pos === 0 ? buf : Buffer.from(buf.subarray(pos));
      armIdle();
    });
  });
}
