// Byte-for-byte agreement with an independent encoder: amqplib's generated
// codec (node_modules/amqplib/lib/defs.js), loaded from its installed files.
//
// Field-table values: amqplib infers number types differently from us. It
// encodes an integer in the smallest signed type that holds it (b, s, I, then l)
// where we pick I for every int32 and l beyond; both pick d for non-integers
// (below 2^50). So plain numbers below are chosen where both agree: integers
// outside the int16 range, integers outside int32, non-integral doubles.
// Every other type is given explicitly on both sides: our `Typed(tag, v)` (or
// Date / Decimal) against amqplib's `{ '!': type, value }` form.
import { describe, it, expect } from 'vitest';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ByteWriter,
  Cursor,
  Decimal,
  METHOD_INFO,
  MethodId,
  Typed,
  decodeContentProperties,
  decodeMethod,
  writeHeaderFrame,
  writeMethodFrame,
  type BasicProperties,
  type FieldTable,
  type FieldValue,
  type MethodInit,
} from '../../src/protocol/index.js';
import { mulberry32, int, type Rng } from '../helpers/prng.js';

interface AmqplibArg { name: string; type: string; default?: unknown }
interface AmqplibDefs {
  encodeMethod(id: number, channel: number, fields: Record<string, unknown>): Buffer;
  encodeProperties(id: number, channel: number, size: number, fields: Record<string, unknown>): Buffer;
  decode(id: number, buf: Buffer): Record<string, unknown>;
  info(id: number): { id: number; name: string; args: AmqplibArg[] };
}

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(import.meta.url);
// By file path: amqplib's package "exports" does not expose lib/defs.js.
const defs = require(path.join(repoRoot, 'node_modules/amqplib/lib/defs.js')) as AmqplibDefs;

// ------------------------------------------------------------------ helpers

function ourMethodFrame(channel: number, id: number, args: Record<string, unknown>): Buffer {
  const w = new ByteWriter(256);
  writeMethodFrame(w, channel, { id, args } as MethodInit);
  return Buffer.from(w.take());
}
function ourHeaderFrame(channel: number, size: number, props: BasicProperties): Buffer {
  const w = new ByteWriter(256);
  writeHeaderFrame(w, channel, 60, size, props);
  return Buffer.from(w.take());
}
const stripUndefined = (o: Record<string, unknown>): Record<string, unknown> =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

/** One table value in three forms: ours to encode, amqplib's to encode, and what amqplib decodes. */
interface Triple { ours: FieldValue; theirs: unknown; decoded: unknown }
const same = (v: FieldValue): Triple => ({ ours: v, theirs: v, decoded: v });

function table(entries: Record<string, Triple>): Triple {
  const ours: FieldTable = {};
  const theirs: Record<string, unknown> = {};
  const decoded: Record<string, unknown> = {};
  for (const [k, t] of Object.entries(entries)) {
    ours[k] = t.ours;
    theirs[k] = t.theirs;
    decoded[k] = t.decoded;
  }
  return { ours, theirs, decoded };
}
function array(items: Triple[]): Triple {
  return { ours: items.map((t) => t.ours), theirs: items.map((t) => t.theirs), decoded: items.map((t) => t.decoded) };
}
const ts = (seconds: number): Triple => ({
  ours: new Date(seconds * 1000), theirs: { '!': 'timestamp', value: seconds }, decoded: { '!': 'timestamp', value: seconds },
});
const dec = (places: number, digits: number): Triple => ({
  ours: new Decimal(places, digits),
  theirs: { '!': 'decimal', value: { places, digits } },
  decoded: { '!': 'decimal', value: { places, digits } },
});
const typed = (tag: 'b' | 'B' | 's' | 'u' | 'I' | 'i' | 'l' | 'f' | 'd', amqplibType: string, value: number): Triple => ({
  ours: new Typed(tag, value), theirs: { '!': amqplibType, value }, decoded: value,
});

/** A table exercising every type both sides can express. */
const RICH = table({
  product: same('Warren'),
  version: same('0.1.0'),
  capabilities: table({
    publisher_confirms: same(true),
    exchange_exchange_bindings: same(true),
    'basic.nack': same(true),
    consumer_cancel_notify: same(true),
    'connection.blocked': same(false),
  }),
  'x-int32': same(100_000), // I on both sides (outside int16)
  'x-neg-int32': same(-2_000_000_000),
  'x-int64': same(2 ** 40 + 7), // l on both sides
  'x-double': same(3.25),
  'x-null': same(null),
  'x-bytes': { ours: Buffer.from([0, 1, 2, 255]), theirs: Buffer.from([0, 1, 2, 255]), decoded: Buffer.from([0, 1, 2, 255]) },
  'x-array': array([same('a'), same(100_000), table({ deep: same(true) }), array([])]),
  'x-ts': ts(1_700_000_000),
  'x-decimal': dec(2, 12345),
  'x-b': typed('b', 'byte', -5),
  'x-B': typed('B', 'uint8', 200),
  'x-s': typed('s', 'short', -300),
  'x-u': typed('u', 'uint16', 60_000),
  'x-I': typed('I', 'int', 7),
  'x-i': typed('i', 'uint32', 4_000_000_000),
  'x-l': typed('l', 'long', 5),
  'x-f': typed('f', 'float', 1.5),
  'x-d': typed('d', 'double', 2),
  'ünïcødé': same('välüe'),
});
const QUEUE_ARGS = table({
  'x-message-ttl': same(60_000),
  'x-max-length': same(1_000_000),
  'x-dead-letter-exchange': same('dlx'),
  'x-queue-type': same('classic'),
  'x-max-priority': typed('B', 'uint8', 10),
});
const EXCHANGE_ARGS = table({ 'alternate-exchange': same('ae'), 'x-weird': array([same(true), same(null), dec(0, 1)]) });

// ------------------------------------------------------------------ representative methods

interface Case { name: string; id: number; ours: Record<string, unknown>; theirs?: Record<string, unknown>; decoded?: Record<string, unknown> }
const CASES: Case[] = [
  {
    name: 'connection.start', id: MethodId.ConnectionStart,
    ours: { versionMajor: 0, versionMinor: 9, serverProperties: RICH.ours, mechanisms: Buffer.from('PLAIN AMQPLAIN'), locales: Buffer.from('en_US') },
    theirs: { versionMajor: 0, versionMinor: 9, serverProperties: RICH.theirs, mechanisms: Buffer.from('PLAIN AMQPLAIN'), locales: Buffer.from('en_US') },
    decoded: { versionMajor: 0, versionMinor: 9, serverProperties: RICH.decoded, mechanisms: Buffer.from('PLAIN AMQPLAIN'), locales: Buffer.from('en_US') },
  },
  {
    name: 'connection.start-ok', id: MethodId.ConnectionStartOk,
    ours: { clientProperties: RICH.ours, mechanism: 'PLAIN', response: Buffer.from('\0guest\0guest'), locale: 'en_US' },
    theirs: { clientProperties: RICH.theirs, mechanism: 'PLAIN', response: Buffer.from('\0guest\0guest'), locale: 'en_US' },
    decoded: { clientProperties: RICH.decoded, mechanism: 'PLAIN', response: Buffer.from('\0guest\0guest'), locale: 'en_US' },
  },
  { name: 'connection.tune', id: MethodId.ConnectionTune, ours: { channelMax: 2047, frameMax: 131072, heartbeat: 60 } },
  { name: 'connection.tune-ok', id: MethodId.ConnectionTuneOk, ours: { channelMax: 65535, frameMax: 4096, heartbeat: 0 } },
  { name: 'connection.open', id: MethodId.ConnectionOpen, ours: { virtualHost: '/vhöst', capabilities: '', insist: true } },
  { name: 'connection.open-ok', id: MethodId.ConnectionOpenOk, ours: { knownHosts: '' } },
  { name: 'connection.close', id: MethodId.ConnectionClose, ours: { replyCode: 320, replyText: "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'", classId: 0, methodId: 0 } },
  { name: 'connection.close-ok', id: MethodId.ConnectionCloseOk, ours: {} },
  { name: 'connection.blocked', id: MethodId.ConnectionBlocked, ours: { reason: 'low on memory' } },
  { name: 'channel.open', id: MethodId.ChannelOpen, ours: { outOfBand: '' } },
  { name: 'channel.open-ok', id: MethodId.ChannelOpenOk, ours: { channelId: Buffer.alloc(0) } },
  { name: 'channel.close', id: MethodId.ChannelClose, ours: { replyCode: 404, replyText: "NOT_FOUND - no queue 'q' in vhost '/'", classId: 50, methodId: 10 } },
  {
    name: 'exchange.declare (arguments table)', id: MethodId.ExchangeDeclare,
    ours: { ticket: 0, exchange: 'logs', type: 'topic', passive: false, durable: true, autoDelete: false, internal: true, nowait: false, arguments: EXCHANGE_ARGS.ours },
    theirs: { ticket: 0, exchange: 'logs', type: 'topic', passive: false, durable: true, autoDelete: false, internal: true, nowait: false, arguments: EXCHANGE_ARGS.theirs },
    decoded: { ticket: 0, exchange: 'logs', type: 'topic', passive: false, durable: true, autoDelete: false, internal: true, nowait: false, arguments: EXCHANGE_ARGS.decoded },
  },
  {
    name: 'queue.declare (arguments table)', id: MethodId.QueueDeclare,
    ours: { ticket: 0, queue: 'orders', passive: false, durable: true, exclusive: false, autoDelete: true, nowait: true, arguments: QUEUE_ARGS.ours },
    theirs: { ticket: 0, queue: 'orders', passive: false, durable: true, exclusive: false, autoDelete: true, nowait: true, arguments: QUEUE_ARGS.theirs },
    decoded: { ticket: 0, queue: 'orders', passive: false, durable: true, exclusive: false, autoDelete: true, nowait: true, arguments: QUEUE_ARGS.decoded },
  },
  { name: 'queue.declare-ok', id: MethodId.QueueDeclareOk, ours: { queue: 'amq.gen-JzTY20BRgKO-HjmUJj0wLg', messageCount: 12, consumerCount: 3 } },
  {
    name: 'queue.bind', id: MethodId.QueueBind,
    ours: { ticket: 0, queue: 'orders', exchange: 'amq.topic', routingKey: 'order.*.created', nowait: false, arguments: { 'x-match': 'any' } },
  },
  { name: 'basic.qos', id: MethodId.BasicQos, ours: { prefetchSize: 0, prefetchCount: 250, global: true } },
  {
    name: 'basic.consume', id: MethodId.BasicConsume,
    ours: { ticket: 0, queue: 'orders', consumerTag: 'ctag-1', noLocal: false, noAck: true, exclusive: true, nowait: false, arguments: { 'x-priority': 100_000 } },
  },
  { name: 'basic.consume-ok', id: MethodId.BasicConsumeOk, ours: { consumerTag: 'amq.ctag-xyz' } },
  { name: 'basic.cancel', id: MethodId.BasicCancel, ours: { consumerTag: 'ctag-1', nowait: true } },
  { name: 'basic.publish', id: MethodId.BasicPublish, ours: { ticket: 0, exchange: 'amq.direct', routingKey: 'rk.ü', mandatory: true, immediate: false } },
  { name: 'basic.return', id: MethodId.BasicReturn, ours: { replyCode: 312, replyText: 'NO_ROUTE', exchange: 'x', routingKey: 'nowhere' } },
  { name: 'basic.deliver', id: MethodId.BasicDeliver, ours: { consumerTag: 'ctag-1', deliveryTag: 2 ** 53 - 1, redelivered: true, exchange: '', routingKey: 'orders' } },
  { name: 'basic.get', id: MethodId.BasicGet, ours: { ticket: 0, queue: 'orders', noAck: false } },
  { name: 'basic.get-ok', id: MethodId.BasicGetOk, ours: { deliveryTag: 4_294_967_297, redelivered: false, exchange: 'ex', routingKey: 'rk', messageCount: 4_000_000_000 } },
  { name: 'basic.get-empty', id: MethodId.BasicGetEmpty, ours: { clusterId: '' } },
  { name: 'basic.ack', id: MethodId.BasicAck, ours: { deliveryTag: 123_456_789_012, multiple: true } },
  { name: 'basic.nack', id: MethodId.BasicNack, ours: { deliveryTag: 42, multiple: false, requeue: true } },
  { name: 'basic.reject', id: MethodId.BasicReject, ours: { deliveryTag: 7, requeue: false } },
  { name: 'basic.recover', id: MethodId.BasicRecover, ours: { requeue: true } },
  { name: 'confirm.select', id: MethodId.ConfirmSelect, ours: { nowait: false } },
  { name: 'confirm.select-ok', id: MethodId.ConfirmSelectOk, ours: {} },
  {
    name: 'exchange.bind', id: MethodId.ExchangeBind,
    ours: { ticket: 0, destination: 'dest', source: 'src', routingKey: '#', nowait: false, arguments: EXCHANGE_ARGS.ours },
    theirs: { ticket: 0, destination: 'dest', source: 'src', routingKey: '#', nowait: false, arguments: EXCHANGE_ARGS.theirs },
    decoded: { ticket: 0, destination: 'dest', source: 'src', routingKey: '#', nowait: false, arguments: EXCHANGE_ARGS.decoded },
  },
  { name: 'tx.commit', id: MethodId.TxCommit, ours: {} },
];

describe('amqplib oracle: methods', () => {
  it.each(CASES.map((c) => [c.name, c] as const))('%s: identical frame bytes, and amqplib decodes our payload', (_name, c) => {
    const theirsArgs = c.theirs ?? c.ours;
    for (const channel of [0, 1, 65535]) {
      const ours = ourMethodFrame(channel, c.id, c.ours);
      const theirs = defs.encodeMethod(c.id, channel, theirsArgs);
      expect(ours.toString('hex')).toBe(theirs.toString('hex'));
    }
    const frame = ourMethodFrame(1, c.id, c.ours);
    const payload = frame.subarray(7, frame.length - 1);
    expect(payload.readUInt32BE(0)).toBe(c.id);
    expect(defs.decode(c.id, payload.subarray(4))).toEqual(c.decoded ?? c.ours);
    // and we decode amqplib's frame to our natural values (same bytes, but say it)
    const theirsFrame = defs.encodeMethod(c.id, 1, theirsArgs);
    const m = decodeMethod(new Cursor(theirsFrame.subarray(7, theirsFrame.length - 1)));
    expect(m.id).toBe(c.id);
  });

  it('the representative set covers the methods the brief names', () => {
    const names = new Set(CASES.map((c) => METHOD_INFO.get(c.id)!.name));
    for (const n of ['connection.start', 'connection.start-ok', 'connection.tune', 'connection.tune-ok', 'connection.open', 'connection.close',
      'channel.open', 'channel.close', 'exchange.declare', 'queue.declare', 'queue.bind', 'basic.qos', 'basic.consume', 'basic.publish',
      'basic.deliver', 'basic.ack', 'basic.nack', 'basic.reject', 'basic.get-ok', 'confirm.select', 'exchange.bind']) {
      expect(names).toContain(n);
    }
  });
});

// ------------------------------------------------------------------ every method, random arguments

const randStr = (r: Rng, max: number): string => {
  let s = '';
  const n = int(r, 0, max);
  const alphabet = Array.from('abcXYZ09.-_é€😀'); // code points, not UTF-16 units
  for (let i = 0; i < n; i++) s += alphabet[int(r, 0, alphabet.length - 1)]!;
  while (Buffer.byteLength(s) > 255) s = Array.from(s).slice(0, -1).join('');
  return s;
};

/** A random table value on which both encoders agree (see the header comment). */
function agreeingValue(r: Rng, depth: number): Triple {
  switch (int(r, 0, depth > 0 ? 11 : 8)) {
    case 0: return same(int(r, 0, 1) === 1);
    case 1: { const v = int(r, 32768, 0x7fff_ffff) * (int(r, 0, 1) ? 1 : -1); return same(v); }
    case 2: { const v = (int(r, 1, 2 ** 17) * 2 ** 32 + int(r, 0, 0xffff_ffff)) * (int(r, 0, 1) ? 1 : -1); return same(v); }
    case 3: { const v = int(r, -1e6, 1e6) + 0.5; return same(v); }
    case 4: return same(randStr(r, 30));
    case 5: return same(null);
    case 6: { const b = Buffer.from(randStr(r, 20)); return { ours: b, theirs: b, decoded: b }; }
    case 7: return ts(int(r, 0, 0x7fff_ffff));
    case 8: {
      const pairs: [('b' | 'B' | 's' | 'u' | 'I' | 'i' | 'l' | 'f' | 'd'), string, number][] = [
        ['b', 'byte', int(r, -128, 127)], ['B', 'uint8', int(r, 0, 255)], ['s', 'short', int(r, -32768, 32767)],
        ['u', 'uint16', int(r, 0, 65535)], ['I', 'int', int(r, -(2 ** 31), 2 ** 31 - 1)], ['i', 'uint32', int(r, 0, 2 ** 32 - 1)],
        ['l', 'long', int(r, -(2 ** 40), 2 ** 40)], ['f', 'float', Math.fround(r() * 100)], ['d', 'double', r()],
      ];
      const [tag, t, v] = pairs[int(r, 0, pairs.length - 1)]!;
      return typed(tag, t, v);
    }
    case 9: case 10: {
      const entries: Record<string, Triple> = {};
      for (let i = int(r, 0, 4); i > 0; i--) entries[`${randStr(r, 10)}#${i}`] = agreeingValue(r, depth - 1);
      return table(entries);
    }
    default: return array(Array.from({ length: int(r, 0, 4) }, () => agreeingValue(r, depth - 1)));
  }
}

describe('amqplib oracle: every method, random arguments', () => {
  const ids = [...METHOD_INFO.keys()];

  it('amqplib knows the same 66 methods with the same field names and types', () => {
    const camel = (s: string): string => s.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
    expect(ids).toHaveLength(66);
    for (const id of ids) {
      const info = defs.info(id);
      const ours = METHOD_INFO.get(id)!;
      expect(info.name.toLowerCase()).toBe(ours.name.split('.').map((p) => camel(p)).join('').toLowerCase());
    }
  });

  it.each(ids.map((id) => [METHOD_INFO.get(id)!.name, id] as const))('%s: 100 random argument sets encode identically', (_name, id) => {
    const r = mulberry32(id);
    const args = defs.info(id).args;
    for (let i = 0; i < 100; i++) {
      const ours: Record<string, unknown> = {};
      const theirs: Record<string, unknown> = {};
      const decoded: Record<string, unknown> = {};
      for (const a of args) {
        // Omit defaulted fields sometimes: both sides must then send the same default.
        if (a.default !== undefined && int(r, 0, 5) === 0) {
          decoded[a.name] = a.type === 'table' ? {} : a.type === 'longstr' ? Buffer.from(a.default as string) : a.default;
          continue;
        }
        let t: Triple;
        switch (a.type) {
          case 'bit': t = same(int(r, 0, 1) === 1); break;
          case 'octet': t = same(int(r, 0, 255)); break;
          case 'short': t = same(int(r, 0, 65535)); break;
          case 'long': t = same(int(r, 0, 2 ** 32 - 1)); break;
          case 'longlong': case 'timestamp': t = same(int(r, 0, 2 ** 21 - 1) * 2 ** 32 + int(r, 0, 2 ** 32 - 1)); break;
          case 'shortstr': t = same(randStr(r, 60)); break;
          case 'longstr': { const b = Buffer.from(randStr(r, 100)); t = { ours: b, theirs: b, decoded: b }; break; }
          case 'table': {
            const entries: Record<string, Triple> = {};
            for (let k = int(r, 0, 5); k > 0; k--) entries[`k${k}`] = agreeingValue(r, 3);
            t = table(entries);
            break;
          }
          default: throw new Error(`amqplib type ${a.type}`);
        }
        ours[a.name] = t.ours;
        theirs[a.name] = t.theirs;
        decoded[a.name] = t.decoded;
      }
      const channel = int(r, 0, 65535);
      const mine = ourMethodFrame(channel, id, ours);
      const other = defs.encodeMethod(id, channel, theirs);
      if (!mine.equals(other)) {
        throw new Error(`${METHOD_INFO.get(id)!.name} #${i}\n ours   ${mine.toString('hex')}\n amqplib ${other.toString('hex')}`);
      }
      expect(defs.decode(id, mine.subarray(11, mine.length - 1))).toEqual(decoded);
    }
  });
});

// ------------------------------------------------------------------ content headers

describe('amqplib oracle: content headers', () => {
  const HEADERS = table({
    'x-retry': same(100_000),
    'x-first-death-reason': same('rejected'),
    'x-death': array([table({ count: same(2 ** 33), queue: same('q'), time: ts(1_650_000_000), 'routing-keys': array([same('a'), same('b')]) })]),
    trace: same(null),
    flag: same(true),
  });
  const ALL: { ours: BasicProperties; theirs: Record<string, unknown>; decoded: Record<string, unknown> } = (() => {
    const common = {
      contentType: 'application/json', contentEncoding: 'utf-8', deliveryMode: 2, priority: 7,
      correlationId: 'c0rr', replyTo: 'amq.rabbitmq.reply-to.g1h2', expiration: '30000', messageId: 'm-1',
      timestamp: 1_700_000_123, type: 'evt', userId: 'guest', appId: 'app', clusterId: 'cl',
    };
    return {
      ours: { ...common, headers: HEADERS.ours as FieldTable },
      theirs: { ...common, headers: HEADERS.theirs },
      decoded: { ...common, headers: HEADERS.decoded },
    };
  })();

  it('all 14 properties: identical frame bytes, amqplib decodes ours, we decode theirs', () => {
    for (const size of [0, 64, 2 ** 32 + 1, Number.MAX_SAFE_INTEGER]) {
      const mine = ourHeaderFrame(3, size, ALL.ours);
      const other = defs.encodeProperties(60, 3, size, ALL.theirs);
      expect(mine.toString('hex')).toBe(other.toString('hex'));
      const payload = mine.subarray(7, mine.length - 1);
      expect(stripUndefined(defs.decode(60, payload.subarray(12)))).toEqual(ALL.decoded);
      const back = decodeContentProperties(other.subarray(7, other.length - 1));
      expect(back.headers?.['x-death']).toEqual([{ count: 2 ** 33, queue: 'q', time: new Date(1_650_000_000_000), 'routing-keys': ['a', 'b'] }]);
      expect({ ...back, headers: undefined }).toEqual({ ...ALL.ours, headers: undefined });
    }
  });

  it('every subset of properties (one per flag, and 200 random subsets)', () => {
    const keys = Object.keys(ALL.ours) as (keyof BasicProperties)[];
    expect(keys).toHaveLength(14);
    const r = mulberry32(60);
    const masks = [0, ...keys.map((_, i) => 1 << i), ...Array.from({ length: 200 }, () => int(r, 0, (1 << 14) - 1))];
    for (const mask of masks) {
      const ours: Record<string, unknown> = {};
      const theirs: Record<string, unknown> = {};
      keys.forEach((k, i) => {
        if (mask & (1 << i)) {
          ours[k] = ALL.ours[k];
          theirs[k] = ALL.theirs[k];
        }
      });
      const mine = ourHeaderFrame(1, 10, ours as BasicProperties);
      const other = defs.encodeProperties(60, 1, 10, theirs);
      expect(mine.toString('hex'), `mask ${mask.toString(2)}`).toBe(other.toString('hex'));
    }
  });
});
