// The broker's own walks over field values (header matching, error texts),
// at depths a frame can carry: no recursion, same answers as for shallow values.
import { describe, expect, it } from 'vitest';
import { fieldValueText } from '../../src/broker/field-text.js';
import { fieldEquals } from '../../src/broker/routing.js';
import { Cursor, Decimal, Typed, decodeTable, type FieldTable, type FieldValue } from '../../src/protocol/index.js';
import { deepTable, deepTableBytes } from '../helpers/deep-table.js';

/** The innermost container of a deepTable structure. */
function innermost(t: FieldTable, depth: number): FieldTable | FieldValue[] {
  let node: FieldValue = t;
  for (let level = 0; level < depth - 1; level++) node = level % 2 === 0 ? (node as FieldTable)['n']! : (node as FieldValue[])[1]!;
  return node as FieldTable | FieldValue[];
}

describe('fieldEquals', () => {
  it('keeps its answers for shallow values', () => {
    expect(fieldEquals(1, 1n)).toBe(true);
    expect(fieldEquals(1, '1')).toBe(false);
    expect(fieldEquals('abc', Buffer.from('abc'))).toBe(true);
    expect(fieldEquals(new Date(5000), new Date(5000))).toBe(true);
    expect(fieldEquals([1, [2, { a: 'x' }]], [1, [2, { a: 'x' }]])).toBe(true);
    expect(fieldEquals([1, [2, { a: 'x' }]], [1, [2, { a: 'y' }]])).toBe(false);
    expect(fieldEquals({ a: 1, b: 2 }, { b: 2, a: 1 })).toBe(true);
    expect(fieldEquals({ a: 1 }, { a: 1, b: 2 })).toBe(false);
    expect(fieldEquals({ a: 1, b: undefined }, { a: 1, c: 2 })).toBe(false);
    expect(fieldEquals([1, 2], [1, 2, 3])).toBe(false);
  });

  for (const depth of [5_000, 50_000]) {
    it(`compares tables nested ${depth.toLocaleString('en')} deep`, () => {
      const decoded = decodeTable(new Cursor(deepTableBytes(depth)));
      expect(fieldEquals(deepTable(depth), decoded)).toBe(true);
      const changed = deepTable(depth);
      const inner = innermost(changed, depth);
      if (Array.isArray(inner)) inner[0] = -1;
      else inner['d'] = -1;
      expect(fieldEquals(changed, decoded)).toBe(false);
      expect(fieldEquals(decoded, changed)).toBe(false);
    });
  }
});

describe('fieldValueText', () => {
  it('is JSON for shallow values', () => {
    const values: FieldValue[] = [
      'a"b', 5, -1.5, true, null, [1, 'two', null, [3]], { a: 1, b: { c: [true, 'x'] } },
      Buffer.from('hi'), new Date(86_400_000), new Decimal(2, 150), new Typed('s', 7), { t: new Typed('F', { k: 'v' }) },
    ];
    for (const v of values) expect(fieldValueText(v)).toBe(JSON.stringify(v));
    expect(fieldValueText({ a: undefined, b: 1 })).toBe('{"b":1}');
    expect(fieldValueText(12345678901234567890n)).toBe('12345678901234567890');
    expect(fieldValueText({ big: 2n ** 70n })).toBe(`{"big":${2n ** 70n}}`);
  });

  it('cuts a value nested 50,000 deep after a few hundred characters', () => {
    const text = fieldValueText(deepTable(50_000));
    expect(text.endsWith('...')).toBe(true);
    expect(text.length).toBeLessThanOrEqual(303);
    expect(text.startsWith('{"d":0,"n":[1,{"d":2,"n":[3,{"d":4,')).toBe(true);
  });
});
