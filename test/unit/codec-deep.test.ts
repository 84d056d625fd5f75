// Field tables nested as deep as a frame holds: decoded, encoded, skipped and
// checked without recursion, with the decoder's 502 for bad bytes at any depth.
import { describe, expect, it } from 'vitest';
import {
  AmqpError,
  ByteWriter,
  Cursor,
  PropertyFlag,
  checkContentProperties,
  decodeArray,
  decodeContentProperties,
  decodeFieldValue,
  decodeTable,
  encodeArray,
  encodeContentHeader,
  encodeFieldValue,
  encodeTable,
  encodeTableSorted,
  fieldTypeName,
  type FieldTable,
  type FieldValue,
} from '../../src/protocol/index.js';
import { deepTable, deepTableBytes, deepTableMismatch, deepTableSize } from '../helpers/deep-table.js';

const DEPTHS = [1_000, 5_000, 50_000, 200_000];

function encoded(write: (w: ByteWriter) => void): Buffer {
  const w = new ByteWriter(64); // a small first slab: deep writes move across slabs many times
  write(w);
  return Buffer.from(w.take());
}

/** A content-header payload (class 60, body size 5) whose headers are `headersBytes`, followed by a message-id. */
function headerPayload(headersBytes: Buffer): Buffer {
  const messageId = Buffer.from('m-1');
  const fixed = Buffer.alloc(14);
  fixed.writeUInt16BE(60, 0);
  fixed.writeUInt32BE(5, 8);
  fixed.writeUInt16BE(PropertyFlag.Headers | PropertyFlag.MessageId, 12);
  return Buffer.concat([fixed, headersBytes, Buffer.from([messageId.length]), messageId]);
}

function codecError(f: () => unknown): AmqpError {
  try {
    f();
  } catch (err) {
    if (err instanceof AmqpError) return err;
    throw new Error(`expected an AmqpError, got ${String(err)}`);
  }
  throw new Error('expected an AmqpError, got none');
}

describe('deeply nested field tables', () => {
  it('the test structure is what it says (bytes agree with the JS value at a small depth)', () => {
    expect(deepTableSize(4)).toBe(deepTableBytes(4).length);
    const v = deepTable(4);
    expect(v).toEqual({ d: 0, n: [1, { d: 2, n: [3, '3'], z: '2' }, '1'], z: '0' });
    expect(decodeTable(new Cursor(deepTableBytes(4)))).toEqual(v);
    expect(deepTableMismatch(v, 4)).toBeNull();
    expect(deepTableMismatch({ d: 0, n: [1, { d: 2, n: [3, '4'], z: '2' }, '1'], z: '0' }, 4)).toBe('level 3: text 4');
  });

  for (const depth of DEPTHS) {
    it(`decodes ${depth.toLocaleString('en')} levels, resuming each container after its child`, () => {
      const bytes = deepTableBytes(depth);
      const c = new Cursor(bytes);
      const table = decodeTable(c);
      expect(c.pos).toBe(bytes.length);
      expect(deepTableMismatch(table, depth)).toBeNull();
    });

    it(`encodes ${depth.toLocaleString('en')} levels to exactly the bytes written by hand`, () => {
      const bytes = encoded((w) => encodeTable(w, deepTable(depth)));
      expect(bytes.length).toBe(deepTableSize(depth));
      expect(bytes.equals(deepTableBytes(depth))).toBe(true);
    });
  }

  it('decodes and encodes deep values through decodeFieldValue / decodeArray / encodeFieldValue / encodeArray', () => {
    const depth = 50_000;
    const table = deepTable(depth);
    const asValue = encoded((w) => encodeFieldValue(w, table));
    expect(asValue[0]).toBe(0x46); // F
    expect(asValue.subarray(1).equals(deepTableBytes(depth))).toBe(true);
    expect(deepTableMismatch(decodeFieldValue(new Cursor(asValue)), depth)).toBeNull();

    const array: FieldValue[] = ['before', table, 'after'];
    const arrayBytes = encoded((w) => encodeArray(w, array));
    const back = decodeArray(new Cursor(arrayBytes));
    expect(back.length).toBe(3);
    expect(back[0]).toBe('before');
    expect(back[2]).toBe('after');
    expect(deepTableMismatch(back[1], depth)).toBeNull();
  });

  it('remembers the wire type of values at every depth (error texts name it)', () => {
    const table = decodeTable(new Cursor(deepTableBytes(9_999)));
    let node: FieldValue = table;
    for (let level = 0; level < 9_998; level++) node = level % 2 === 0 ? (node as FieldTable)['n']! : (node as FieldValue[])[1]!;
    expect(fieldTypeName(node as FieldTable, 'd')).toBe('signedint');
    expect(fieldTypeName(node as FieldTable, 'z')).toBe('longstr');
  });

  it('a bad type tag or an overlong nested length deep down is the decoder\'s 502, and the cursor is left usable', () => {
    const depth = 50_000;
    const bytes = deepTableBytes(depth);
    // The innermost level's 'I' tag becomes an unknown tag: it follows every
    // outer level's first value and nested-value header (14 bytes for a table, 10 for an array).
    const badTag = Buffer.from(bytes);
    let at = 4;
    for (let level = 0; level < depth - 1; level++) at += level % 2 === 0 ? 14 : 10;
    if ((depth - 1) % 2 === 0) at += 2; // the last level's key
    expect(badTag[at]).toBe(0x49);
    badTag[at] = 0x3f;
    const c = new Cursor(badTag);
    const err = codecError(() => decodeTable(c));
    expect(err.replyCode).toBe(502);
    expect(err.replyText).toBe(`SYNTAX_ERROR - unknown field-table value type 0x3f at offset ${at}`);
    expect(c.end).toBe(badTag.length);

    // Level 1's length (after level 0's "d" entry and the "n" key and tag) longer than level 0 has room for.
    const overlong = Buffer.from(bytes);
    overlong.writeUInt32BE(overlong.readUInt32BE(4 + 7 + 3) + 1000, 4 + 7 + 3);
    expect(codecError(() => decodeTable(new Cursor(overlong))).replyCode).toBe(502);
    expect(codecError(() => checkContentProperties(headerPayload(overlong))).replyCode).toBe(502);
    expect(codecError(() => checkContentProperties(headerPayload(badTag))).replyText).toMatch(/^SYNTAX_ERROR - unknown field-table value type 0x3f/);
    // The shared skip stack was left clean: a good header still checks.
    expect(() => checkContentProperties(headerPayload(bytes))).not.toThrow();
  });

  it('content headers with 50,000-level headers: checked, decoded and re-encoded (as dead-lettering does)', () => {
    const depth = 50_000;
    const payload = headerPayload(deepTableBytes(depth));
    checkContentProperties(payload);
    const props = decodeContentProperties(payload);
    expect(props.messageId).toBe('m-1');
    expect(deepTableMismatch(props.headers, depth)).toBeNull();
    const again = encodeContentHeader(5, props);
    expect(again.equals(payload)).toBe(true);
  });

  it('encodeTableSorted sorts the keys of every table, at any depth', () => {
    const depth = 20_000;
    const a = deepTable(depth);
    // The same content with every table's keys inserted in reverse.
    const reversed = decodeTable(new Cursor(deepTableBytes(depth)));
    let node: FieldValue = reversed;
    for (let level = 0; level < depth; level++) {
      if (level % 2 === 0) {
        const t = node as FieldTable;
        const entries = Object.entries(t).reverse();
        for (const [k] of entries) delete t[k];
        for (const [k, v] of entries) t[k] = v;
        node = t['n'] ?? null;
      } else {
        node = (node as FieldValue[])[1] ?? null;
      }
    }
    expect(Object.keys(reversed)).toEqual(['z', 'n', 'd']);
    const sortedA = encoded((w) => encodeTableSorted(w, a));
    expect(encoded((w) => encodeTableSorted(w, reversed)).equals(sortedA)).toBe(true);
    // a's keys are already in order: sorting changes nothing there.
    expect(sortedA.equals(deepTableBytes(depth))).toBe(true);
    expect(encoded((w) => encodeTable(w, reversed)).equals(sortedA)).toBe(false);
  });
});
