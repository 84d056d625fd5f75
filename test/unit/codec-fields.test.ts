// Field tables (every type tag RabbitMQ uses, inference, nesting, errors) and
// content-header properties (all 14, flags, continuation words, body size).
import { describe, it, expect } from 'vitest';
import {
  AmqpError,
  ByteWriter,
  Cursor,
  Decimal,
  PropertyFlag,
  Typed,
  contentBodySize,
  contentClassId,
  decodeArray,
  decodeContentProperties,
  decodeFieldValue,
  decodeMethod,
  decodeTable,
  encodeArray,
  encodeFieldValue,
  encodeTable,
  fieldTypeName,
  inferTag,
  writeHeaderFrame,
  writeMethodFrame,
  MethodId,
  type BasicProperties,
  type FieldTable,
  type FieldTypeTag,
  type FieldValue,
} from '../../src/protocol/index.js';
import { mulberry32, int } from '../helpers/prng.js';

// ------------------------------------------------------------------ helpers

function encodeValue(v: FieldValue): Buffer {
  const w = new ByteWriter(64); // small slab: values larger than it force slab moves
  encodeFieldValue(w, v);
  return Buffer.from(w.take());
}
function decodeValue(b: Buffer): FieldValue {
  const c = new Cursor(b);
  const v = decodeFieldValue(c);
  expect(c.pos).toBe(b.length);
  return v;
}
function encodeTableBytes(t: FieldTable | null | undefined): Buffer {
  const w = new ByteWriter(64);
  encodeTable(w, t);
  return Buffer.from(w.take());
}
function decodeTableBytes(b: Buffer): FieldTable {
  const c = new Cursor(b);
  const t = decodeTable(c);
  expect(c.pos).toBe(b.length);
  return t;
}
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function amqpErrorOf(f: () => unknown): AmqpError {
  let thrown: unknown = null;
  try { f(); } catch (e) { thrown = e; }
  if (!(thrown instanceof AmqpError)) throw new Error(`expected an AmqpError, got ${thrown === null ? 'no exception' : String(thrown)}`);
  return thrown;
}


// ------------------------------------------------------------------ field values

describe('field values: every type tag', () => {
  // [typed value, exact bytes (tag included), natural decoded value]
  const exact: [string, Typed, string, FieldValue][] = [
    ['t true', new Typed('t', true), '74 01', true],
    ['t false', new Typed('t', false), '74 00', false],
    ['b -1', new Typed('b', -1), '62 ff', -1],
    ['b -128', new Typed('b', -128), '62 80', -128],
    ['B 255', new Typed('B', 255), '42 ff', 255],
    ['s -2', new Typed('s', -2), '73 ff fe', -2],
    ['s 32767', new Typed('s', 32767), '73 7f ff', 32767],
    ['u 65535', new Typed('u', 65535), '75 ff ff', 65535],
    ['I -2', new Typed('I', -2), '49 ff ff ff fe', -2],
    ['i 4294967294', new Typed('i', 0xffff_fffe), '69 ff ff ff fe', 0xffff_fffe],
    ['l -2 (bigint)', new Typed('l', -2n), '6c ff ff ff ff ff ff ff fe', -2],
    ['l 2^53 (number in)', new Typed('l', 2 ** 53), '6c 00 20 00 00 00 00 00 00', 2n ** 53n],
    ['f 1.5', new Typed('f', 1.5), '66 3f c0 00 00', 1.5],
    ['d 1.5', new Typed('d', 1.5), '64 3f f8 00 00 00 00 00 00', 1.5],
    ['d 3 (integer forced to double)', new Typed('d', 3), '64 40 08 00 00 00 00 00 00', 3],
    ['D 123.45', new Typed('D', new Decimal(2, 12345)), '44 02 00 00 30 39', new Decimal(2, 12345)],
    ['D max uint32', new Typed('D', new Decimal(255, 0xffff_ffff)), '44 ff ff ff ff ff', new Decimal(255, 0xffff_ffff)],
    ['S hé', new Typed('S', 'hé'), '53 00 00 00 03 68 c3 a9', 'hé'],
    ['S from a Buffer', new Typed('S', Buffer.from('ab')), '53 00 00 00 02 61 62', 'ab'],
    ['A [1, "a"]', new Typed('A', [1, 'a']), '41 00 00 00 0b 49 00 00 00 01 53 00 00 00 01 61', [1, 'a']],
    ['T 2023-11-14T22:13:20Z', new Typed('T', new Date(1_700_000_000_000)), '54 00 00 00 00 65 53 f1 00', new Date(1_700_000_000_000)],
    ['T from seconds', new Typed('T', 1_700_000_000), '54 00 00 00 00 65 53 f1 00', new Date(1_700_000_000_000)],
    ['F {a: true}', new Typed('F', { a: true }), '46 00 00 00 04 01 61 74 01', { a: true }],
    ['V', new Typed('V', null), '56', null],
    ['x [1, 2]', new Typed('x', Buffer.from([1, 2])), '78 00 00 00 02 01 02', Buffer.from([1, 2])],
  ];

  it.each(exact)('%s: exact bytes and natural decoding', (_name, value, bytes, natural) => {
    const enc = encodeValue(value);
    expect(enc.toString('hex')).toBe(hex(bytes).toString('hex'));
    expect(decodeValue(enc)).toStrictEqual(natural);
  });

  it('covers all 17 tags RabbitMQ uses', () => {
    const tags = new Set(exact.map(([, v]) => v.type));
    expect([...tags].sort().join('')).toBe([...'tbBsuIilfdDSATFVx'].sort().join(''));
  });

  const boundaries: [FieldTypeTag, FieldValue[], ((v: FieldValue) => FieldValue)?][] = [
    ['t', [true, false]],
    ['b', [-128, -1, 0, 1, 127]],
    ['B', [0, 1, 128, 255]],
    ['s', [-32768, -1, 0, 32767]],
    ['u', [0, 1, 32768, 65535]],
    ['I', [-(2 ** 31), -1, 0, 2 ** 31 - 1]],
    ['i', [0, 1, 2 ** 31, 2 ** 32 - 1]],
    ['l', [0, -1, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 2 ** 32]],
    ['l', [-(2n ** 63n), 2n ** 63n - 1n, 2n ** 53n, -(2n ** 53n), 2n ** 53n + 1n]],
    ['f', [0, -0, 1, -1.25, Math.fround(3.14159), Infinity, -Infinity, NaN, Math.fround(3.4e38)]],
    ['d', [0, -0, 0.1, -1e308, Number.MIN_VALUE, Infinity, NaN, 2 ** 60]],
    ['D', [new Decimal(0, 0), new Decimal(3, 1), new Decimal(255, 0xffff_ffff)]],
    ['S', ['', 'x', 'ünïcødé 😀', 'a'.repeat(70_000)]],
    ['T', [new Date(0), new Date(2 ** 32 * 1000), new Date(Date.UTC(2100, 0, 1))]],
    ['x', [Buffer.alloc(0), Buffer.from([0, 255]), Buffer.alloc(70_000, 7)]],
    ['V', [null]],
  ];
  it.each(boundaries.map(([tag, values]) => [tag, values] as const))('%s boundary values round-trip', (tag, values) => {
    for (const v of values) {
      const enc = encodeValue(new Typed(tag, v));
      expect(enc[0]).toBe(tag.charCodeAt(0));
      const fixed: Record<string, number> = { t: 1, b: 1, B: 1, s: 2, u: 2, I: 4, i: 4, l: 8, f: 4, d: 8, D: 5, T: 8, V: 0 };
      const size = tag === 'S' ? 4 + Buffer.byteLength(v as string) : tag === 'x' ? 4 + (v as Buffer).length : fixed[tag]!;
      expect(enc.length).toBe(1 + size);
      const back = decodeValue(enc);
      if (tag === 'l' && typeof v === 'bigint') {
        const safe = v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER);
        expect(back).toStrictEqual(safe ? Number(v) : v);
      } else {
        expect(back).toStrictEqual(v);
      }
      // and the same value inferred where inference picks this tag
      if (inferTag(v) === tag) expect(encodeValue(v).equals(enc)).toBe(true);
    }
  });

  it('int64 beyond ±(2^53 - 1) decodes as bigint, inside as number', () => {
    expect(decodeValue(encodeValue(new Typed('l', Number.MAX_SAFE_INTEGER)))).toBe(Number.MAX_SAFE_INTEGER);
    expect(decodeValue(encodeValue(new Typed('l', Number.MIN_SAFE_INTEGER)))).toBe(Number.MIN_SAFE_INTEGER);
    expect(decodeValue(encodeValue(2n ** 53n))).toBe(2n ** 53n);
    expect(decodeValue(encodeValue(-(2n ** 53n)))).toBe(-(2n ** 53n));
    expect(decodeValue(encodeValue(2n ** 63n - 1n))).toBe(2n ** 63n - 1n);
    expect(decodeValue(encodeValue(-(2n ** 63n)))).toBe(-(2n ** 63n));
    expect(decodeValue(hex('6c 80 00 00 00 00 00 00 00'))).toBe(-(2n ** 63n));
    expect(decodeValue(hex('6c 7f ff ff ff ff ff ff ff'))).toBe(2n ** 63n - 1n);
    expect(decodeValue(encodeValue(12n))).toBe(12);
  });

  it('uint32 and uint16 tags read unsigned; int tags read signed', () => {
    expect(decodeValue(hex('69 ff ff ff ff'))).toBe(0xffff_ffff);
    expect(decodeValue(hex('49 ff ff ff ff'))).toBe(-1);
    expect(decodeValue(hex('75 ff ff'))).toBe(0xffff);
    expect(decodeValue(hex('73 ff ff'))).toBe(-1);
    expect(decodeValue(hex('42 ff'))).toBe(255);
    expect(decodeValue(hex('62 ff'))).toBe(-1);
    expect(decodeValue(hex('74 02'))).toBe(true); // any non-zero octet is true
    expect(decodeValue(hex('44 01 ff ff ff ff'))).toStrictEqual(new Decimal(1, 0xffff_ffff)); // decimal value is a long-uint
  });

  it('T truncates to whole seconds', () => {
    expect(decodeValue(encodeValue(new Date(1_700_000_000_999)))).toStrictEqual(new Date(1_700_000_000_000));
  });
});

describe('field values: inference', () => {
  const cases: [string, FieldValue, FieldTypeTag][] = [
    ['true', true, 't'],
    ['false', false, 't'],
    ['0', 0, 'I'],
    ['-1', -1, 'I'],
    ['int32 max', 2 ** 31 - 1, 'I'],
    ['int32 min', -(2 ** 31), 'I'],
    ['int32 max + 1', 2 ** 31, 'l'],
    ['int32 min - 1', -(2 ** 31) - 1, 'l'],
    ['2^53 - 1', Number.MAX_SAFE_INTEGER, 'l'],
    ['1e18', 1e18, 'l'],
    ['-2^63', -(2 ** 63), 'l'],
    ['2^63 (does not fit int64)', 2 ** 63, 'd'],
    ['1e300', 1e300, 'd'],
    ['1.5', 1.5, 'd'],
    ['-0.1', -0.1, 'd'],
    ['NaN', NaN, 'd'],
    ['Infinity', Infinity, 'd'],
    ['bigint', 5n, 'l'],
    ['string', 'hello', 'S'],
    ['empty string', '', 'S'],
    ['Buffer', Buffer.from('hi'), 'x'],
    ['Date', new Date(0), 'T'],
    ['null', null, 'V'],
    ['undefined', undefined, 'V'],
    ['array', [1, 2], 'A'],
    ['empty array', [], 'A'],
    ['object', { a: 1 }, 'F'],
    ['empty object', {}, 'F'],
    ['Decimal', new Decimal(1, 5), 'D'],
    ['Typed', new Typed('u', 5), 'u'],
  ];
  it.each(cases)('%s → %s', (_name, value, tag) => {
    expect(inferTag(value)).toBe(tag);
    const enc = encodeValue(value);
    expect(String.fromCharCode(enc[0]!)).toBe(tag);
  });

  it('inferred values decode to themselves', () => {
    const values: FieldValue[] = [true, 0, -7, 2 ** 31, -(2 ** 40), 1e18, 2 ** 63, 1.5, NaN, 'str', Buffer.from([9]), new Date(86_400_000), null, [1, 'x', [true]], { k: { n: null } }, new Decimal(2, 7)];
    for (const v of values) {
      const back = decodeValue(encodeValue(v));
      if (v === 1e18) expect(back).toBe(10n ** 18n); // unsafe integer → int64 → bigint
      else expect(back).toStrictEqual(v);
    }
    expect(decodeValue(encodeValue(undefined))).toBeNull();
  });
});

describe('field tables and arrays', () => {
  it('encodes the exact layout of a table', () => {
    expect(encodeTableBytes({ k: 'v', n: 1 }).toString('hex')).toBe(
      hex('00 00 00 0f  01 6b 53 00 00 00 01 76  01 6e 49 00 00 00 01').toString('hex'),
    );
    expect(encodeTableBytes({}).toString('hex')).toBe('00000000');
    expect(encodeTableBytes(null).toString('hex')).toBe('00000000');
    expect(encodeTableBytes(undefined).toString('hex')).toBe('00000000');
  });

  it('skips undefined entries in tables; encodes them as void in arrays', () => {
    expect(decodeTableBytes(encodeTableBytes({ a: undefined, b: 1 }))).toStrictEqual({ b: 1 });
    const w = new ByteWriter();
    encodeArray(w, [undefined, 1]);
    expect(decodeArray(new Cursor(Buffer.from(w.take())))).toStrictEqual([null, 1]);
  });

  it('round-trips tables nested in arrays nested in tables', () => {
    const deep: FieldTable = {
      'x-match': 'all',
      list: [
        { name: 'a', tags: ['p', 'q', [1, [2, [3, { deepest: new Typed('u', 9) }]]]] },
        [],
        {},
        { big: 2n ** 60n, when: new Date(1_000_000_000_000), raw: Buffer.from('raw'), none: null, f: new Typed('f', 0.5) },
      ],
      nested: { level1: { level2: { level3: { arr: [{ x: true }, { y: new Decimal(1, 1) }] } } } },
      '': 'empty key',
      'ünïcødé-kéy': 'v',
    };
    const want: FieldTable = {
      'x-match': 'all',
      list: [
        { name: 'a', tags: ['p', 'q', [1, [2, [3, { deepest: 9 }]]]] },
        [],
        {},
        { big: 2n ** 60n, when: new Date(1_000_000_000_000), raw: Buffer.from('raw'), none: null, f: 0.5 },
      ],
      nested: { level1: { level2: { level3: { arr: [{ x: true }, { y: new Decimal(1, 1) }] } } } },
      '': 'empty key',
      'ünïcødé-kéy': 'v',
    };
    expect(decodeTableBytes(encodeTableBytes(deep))).toStrictEqual(want);
    // the same as a method argument, through the whole method codec
    const w = new ByteWriter(128);
    writeMethodFrame(w, 3, { id: MethodId.QueueDeclare, args: { queue: 'q', arguments: deep } });
    const frame = w.take();
    const m = decodeMethod(new Cursor(frame.subarray(7, frame.length - 1)));
    expect(m.args).toMatchObject({ queue: 'q' });
    expect((m.args as { arguments: FieldTable }).arguments).toStrictEqual(want);
  });

  it('keeps a "__proto__" key as an own property (no prototype change)', () => {
    // {"__proto__": F{polluted: true}} written by hand (a JS literal would set the prototype)
    const inner = Buffer.concat([Buffer.from([8]), Buffer.from('polluted'), hex('74 01')]);
    const entry = Buffer.concat([Buffer.from([9]), Buffer.from('__proto__'), hex('46'), u32(inner.length), inner]);
    const bytes = Buffer.concat([u32(entry.length), entry]);
    const t = decodeTableBytes(bytes);
    expect(Object.getPrototypeOf(t)).toBe(Object.prototype);
    expect(Object.keys(t)).toEqual(['__proto__']);
    expect((t as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getOwnPropertyDescriptor(t, '__proto__')?.value).toStrictEqual({ polluted: true });
    // and it encodes back to the same bytes
    expect(encodeTableBytes(t).equals(bytes)).toBe(true);
    // Its remembered wire tag is found too (error texts name the type a client sent).
    expect(fieldTypeName(t, '__proto__')).toBe('table');
  });

  it('later duplicate keys win', () => {
    const bytes = hex('00 00 00 0e  01 61 49 00 00 00 01  01 61 49 00 00 00 02');
    expect(decodeTableBytes(bytes)).toStrictEqual({ a: 2 });
  });

  it('rejects a key longer than 255 bytes when encoding', () => {
    expect(() => encodeTableBytes({ ['k'.repeat(256)]: 1 })).toThrow(RangeError);
    expect(decodeTableBytes(encodeTableBytes({ ['k'.repeat(255)]: 1 }))).toStrictEqual({ ['k'.repeat(255)]: 1 });
  });

  it('an unknown type tag is 502, at any depth', () => {
    const known = new Set([...'tbBsuIilLfdDSATFVx'].map((c) => c.charCodeAt(0)));
    for (let tag = 0; tag < 256; tag++) {
      if (known.has(tag)) continue;
      const value = Buffer.from([tag, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
      const err = amqpErrorOf(() => decodeFieldValue(new Cursor(value)));
      expect(err.replyCode).toBe(502);
      expect(err.replyText).toMatch(/unknown field-table value type/);
      // inside a table inside an array inside a table
      const inner = Buffer.concat([hex('01 6b'), Buffer.from([tag])]);
      const innerTable = Buffer.concat([hex('46'), u32(inner.length), inner]);
      const arr = Buffer.concat([hex('41'), u32(innerTable.length), innerTable]);
      const outer = Buffer.concat([hex('01 61'), arr]);
      const table = Buffer.concat([u32(outer.length), outer]);
      expect(amqpErrorOf(() => decodeTable(new Cursor(table))).replyCode).toBe(502);
    }
    // also the legacy/unofficial tags RabbitMQ does not use
    for (const t of ['U', 'c', 'o', 'n', 'N']) {
      expect(amqpErrorOf(() => decodeFieldValue(new Cursor(Buffer.from(t + '\0\0\0\0\0\0\0\0')))).replyCode).toBe(502);
    }
  });

  it('an unknown tag in a method argument table is 502', () => {
    const w = new ByteWriter();
    writeMethodFrame(w, 1, { id: MethodId.QueueDeclare, args: { queue: 'q', arguments: { a: 1 } } });
    const frame = Buffer.from(w.take());
    const payload = frame.subarray(7, frame.length - 1);
    const at = payload.indexOf(0x49); // the 'I' of the argument
    payload[at] = 0x3f; // '?'
    expect(amqpErrorOf(() => decodeMethod(new Cursor(payload))).replyCode).toBe(502);
  });

  it('every truncation of a table is 502', () => {
    const table: FieldTable = {
      s: 'string', b: new Typed('b', -1), u: new Typed('u', 1), i: new Typed('i', 1), l: 2n ** 60n, f: new Typed('f', 1),
      d: 1.5, D: new Decimal(1, 1), t: true, T: new Date(0), V: null, x: Buffer.from('xx'), A: [1, [2], { z: 'z' }], F: { y: { z: [] } },
    };
    const full = encodeTableBytes(table);
    for (let len = 0; len < full.length; len++) {
      const cut = Buffer.from(full.subarray(0, len));
      expect(amqpErrorOf(() => decodeTable(new Cursor(cut))).replyCode).toBe(502);
    }
    // A declared length larger than the bytes present
    const lying = Buffer.from(full);
    lying.writeUInt32BE(full.length, 0);
    expect(amqpErrorOf(() => decodeTable(new Cursor(lying))).replyCode).toBe(502);
    // A declared length that cuts a value in half (the inner bound is enforced, not the buffer's)
    const short = Buffer.concat([full, Buffer.alloc(64)]);
    for (let declared = 0; declared < full.length - 4; declared++) {
      short.writeUInt32BE(declared, 0);
      const c = new Cursor(short);
      let ok = false;
      try { decodeTable(c); ok = true; } catch (e) { expect((e as AmqpError).replyCode).toBe(502); }
      if (ok) expect(c.pos).toBe(4 + declared); // only when the cut falls between entries
    }
    // An array length that runs past its table
    const arr = hex('00 00 00 08  01 61 41 00 00 00 09 49');
    expect(amqpErrorOf(() => decodeTable(new Cursor(arr))).replyCode).toBe(502);
  });

  it('random tables round-trip', () => {
    const r = mulberry32(7);
    const gen = (depth: number): [FieldValue, FieldValue] => {
      switch (int(r, 0, depth > 0 ? 9 : 6)) {
        case 0: { const v = int(r, -(2 ** 31), 2 ** 31 - 1); return [v, v]; }
        case 1: { const v = `s${int(r, 0, 1e6)}`; return [v, v]; }
        case 2: { const v = int(r, 0, 1) === 1; return [v, v]; }
        case 3: { const v = int(r, 0, 65535); return [new Typed('u', v), v]; }
        case 4: { const v = r() + 0.001; return [v, v]; }
        case 5: return [null, null];
        case 6: { const v = Buffer.from([int(r, 0, 255)]); return [v, Buffer.from(v)]; }
        case 7: case 8: {
          const e: FieldTable = {}; const d: FieldTable = {};
          for (let i = int(r, 0, 4); i > 0; i--) { const [a, b] = gen(depth - 1); e[`k${i}`] = a; d[`k${i}`] = b; }
          return [e, d];
        }
        default: {
          const e: FieldValue[] = []; const d: FieldValue[] = [];
          for (let i = int(r, 0, 4); i > 0; i--) { const [a, b] = gen(depth - 1); e.push(a); d.push(b); }
          return [e, d];
        }
      }
    };
    for (let i = 0; i < 500; i++) {
      const e: FieldTable = {}; const d: FieldTable = {};
      for (let k = int(r, 0, 6); k > 0; k--) { const [a, b] = gen(4); e[`key${k}`] = a; d[`key${k}`] = b; }
      expect(decodeTableBytes(encodeTableBytes(e))).toStrictEqual(d);
    }
  });
});

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n, 0);
  return b;
}

// ------------------------------------------------------------------ content header properties

const ALL_PROPERTIES: Required<BasicProperties> = {
  contentType: 'application/json',
  contentEncoding: 'gzip',
  headers: { 'x-delay': 5000, nested: { list: [1, 'two', { three: 3n ** 39n }] }, when: new Date(1_600_000_000_000) },
  deliveryMode: 2,
  priority: 9,
  correlationId: 'corr-ü-1',
  replyTo: 'amq.rabbitmq.reply-to',
  expiration: '60000',
  messageId: 'msg-42',
  timestamp: 1_700_000_000,
  type: 'order.created',
  userId: 'guest',
  appId: 'warren-tests',
  clusterId: 'c1',
};
const PROPERTY_NAMES = Object.keys(ALL_PROPERTIES) as (keyof BasicProperties)[];
const flagOf = (name: keyof BasicProperties): number => PropertyFlag[(name[0]!.toUpperCase() + name.slice(1)) as keyof typeof PropertyFlag];

function headerPayload(classId: number, bodySize: number, props: BasicProperties, channel = 1): Buffer {
  const w = new ByteWriter(64);
  writeHeaderFrame(w, channel, classId, bodySize, props);
  const frame = Buffer.from(w.take());
  expect(frame[0]).toBe(2);
  expect(frame.readUInt16BE(1)).toBe(channel);
  expect(frame.readUInt32BE(3)).toBe(frame.length - 8);
  expect(frame[frame.length - 1]).toBe(0xce);
  return frame.subarray(7, frame.length - 1);
}

describe('content header properties', () => {
  it('has 14 properties, flags from bit 15 down to bit 2', () => {
    expect(PROPERTY_NAMES).toHaveLength(14);
    expect(PROPERTY_NAMES.map(flagOf)).toEqual(Array.from({ length: 14 }, (_, i) => 1 << (15 - i)));
  });

  it('all 14 round-trip', () => {
    const payload = headerPayload(60, 12345, ALL_PROPERTIES);
    expect(contentClassId(payload)).toBe(60);
    expect(payload.readUInt16BE(2)).toBe(0); // weight
    expect(contentBodySize(payload)).toBe(12345);
    expect(payload.readUInt16BE(12)).toBe(0xfffc); // 14 flags, no continuation
    expect(decodeContentProperties(payload)).toStrictEqual(ALL_PROPERTIES);
  });

  it('no properties: an empty flags word and nothing else', () => {
    const payload = headerPayload(60, 0, {});
    expect(payload.toString('hex')).toBe(hex('00 3c 00 00  00 00 00 00 00 00 00 00  00 00').toString('hex'));
    expect(decodeContentProperties(payload)).toStrictEqual({});
  });

  it.each(PROPERTY_NAMES)('only %s: its flag alone, its bytes alone', (name) => {
    const props: BasicProperties = { [name]: ALL_PROPERTIES[name] };
    const payload = headerPayload(60, 1, props);
    expect(payload.readUInt16BE(12)).toBe(flagOf(name));
    const w = new ByteWriter();
    const value = ALL_PROPERTIES[name];
    if (name === 'headers') encodeTable(w, value as FieldTable);
    else if (name === 'deliveryMode' || name === 'priority') w.u8(value as number);
    else if (name === 'timestamp') w.u64(value as number);
    else w.shortstr(value as string);
    expect(payload.subarray(14).toString('hex')).toBe(w.take().toString('hex'));
    expect(decodeContentProperties(payload)).toStrictEqual(props);
  });

  it('random subsets: flags word is the OR of the present ones; undefined means absent', () => {
    const r = mulberry32(99);
    for (let i = 0; i < 300; i++) {
      const mask = int(r, 0, (1 << 14) - 1);
      const props: BasicProperties = {};
      let flags = 0;
      PROPERTY_NAMES.forEach((name, bit) => {
        if (mask & (1 << bit)) {
          (props as Record<string, unknown>)[name] = ALL_PROPERTIES[name];
          flags |= flagOf(name);
        } else if (int(r, 0, 3) === 0) {
          (props as Record<string, unknown>)[name] = undefined; // present key, absent property
        }
      });
      const payload = headerPayload(60, i, props);
      expect(payload.readUInt16BE(12)).toBe(flags);
      const back = decodeContentProperties(payload);
      expect(Object.keys(back).sort()).toEqual(PROPERTY_NAMES.filter((n) => flags & flagOf(n)).sort());
      for (const key of Object.keys(back) as (keyof BasicProperties)[]) {
        if (key !== 'headers') expect(back[key]).toStrictEqual(ALL_PROPERTIES[key]);
      }
    }
  });

  it('property edge values', () => {
    const props: BasicProperties = {
      contentType: '', deliveryMode: 0, priority: 255, timestamp: Number.MAX_SAFE_INTEGER, headers: {}, messageId: 'm'.repeat(255),
    };
    expect(decodeContentProperties(headerPayload(60, 0, props))).toStrictEqual(props);
  });

  it('tolerates continuation flag words (bit 0 set, then another word)', () => {
    const base = hex('00 3c 00 00  00 00 00 00 00 00 00 05');
    const ct = Buffer.concat([Buffer.from([4]), Buffer.from('text')]);
    // flags: content-type | delivery-mode | continuation; then an empty second word
    expect(PropertyFlag.ContentType | PropertyFlag.DeliveryMode).toBe(0x9000);
    const one = Buffer.concat([base, hex('90 01  00 00'), ct, Buffer.from([2])]);
    expect(decodeContentProperties(one)).toStrictEqual({ contentType: 'text', deliveryMode: 2 });
    expect(contentBodySize(one)).toBe(5);
    // two continuation words (the second also continues), with unknown flags set in them
    const two = Buffer.concat([
      base,
      hex('90 01'), // content-type, delivery-mode, continue
      hex('80 01'), // unknown flag, continue
      hex('40 00'), // unknown flag, last word
      ct, Buffer.from([1]),
    ]);
    expect(decodeContentProperties(two)).toStrictEqual({ contentType: 'text', deliveryMode: 1 });
    // a continuation bit with no following word is truncation: 502
    const cut = Buffer.concat([base, hex('00 01')]);
    expect(amqpErrorOf(() => decodeContentProperties(cut)).replyCode).toBe(502);
  });

  it('contentBodySize reads the full 64-bit size', () => {
    for (const size of [0, 1, 0xffff_ffff, 0x1_0000_0000, 0x1_0000_0005, 2 ** 40 + 3, Number.MAX_SAFE_INTEGER]) {
      expect(contentBodySize(headerPayload(60, size, { priority: 1 }))).toBe(size);
    }
    const raw = hex('00 3c 00 00  00 00 00 01 00 00 00 02  00 00');
    expect(contentBodySize(raw)).toBe(2 ** 32 + 2);
    expect(contentClassId(raw)).toBe(60);
    expect(amqpErrorOf(() => contentBodySize(raw.subarray(0, 13))).replyCode).toBe(502);
    expect(amqpErrorOf(() => contentClassId(raw.subarray(0, 3))).replyCode).toBe(502);
  });

  it('every truncation of a full header is 502', () => {
    const payload = headerPayload(60, 77, ALL_PROPERTIES);
    for (let len = 0; len < payload.length; len++) {
      const cut = Buffer.from(payload.subarray(0, len));
      expect(amqpErrorOf(() => decodeContentProperties(cut)).replyCode).toBe(502);
    }
  });
});
