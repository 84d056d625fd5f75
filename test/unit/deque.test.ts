/**
 * The ring-buffer deque under queues and unacked lists: every operation
 * against a plain array model, through growth and wrap-around.
 */
import { describe, expect, it } from 'vitest';
import { Deque } from '../../src/broker/deque.js';
import { prng } from '../helpers/model.js';

describe('Deque', () => {
  it('push/shift/unshift/pop/peek at both ends', () => {
    const d = new Deque<number>();
    expect(d.length).toBe(0);
    expect(d.shift()).toBeUndefined();
    expect(d.pop()).toBeUndefined();
    expect(d.peek()).toBeUndefined();
    expect(d.peekLast()).toBeUndefined();
    d.push(2);
    d.push(3);
    d.unshift(1);
    expect([...d]).toEqual([1, 2, 3]);
    expect(d.peek()).toBe(1);
    expect(d.peekLast()).toBe(3);
    expect(d.at(1)).toBe(2);
    expect(d.at(3)).toBeUndefined();
    expect(d.at(-1)).toBeUndefined();
    expect(d.pop()).toBe(3);
    expect(d.shift()).toBe(1);
    expect(d.shift()).toBe(2);
    expect(d.length).toBe(0);
  });

  it('grows past its capacity while wrapped around', () => {
    const d = new Deque<number>(4);
    const model: number[] = [];
    for (let i = 0; i < 10; i++) { d.push(i); model.push(i); }
    for (let i = 0; i < 7; i++) expect(d.shift()).toBe(model.shift());
    for (let i = 10; i < 100; i++) { if (i % 3 === 0) { d.unshift(-i); model.unshift(-i); } else { d.push(i); model.push(i); } }
    expect([...d]).toEqual(model);
    expect(d.length).toBe(model.length);
  });

  it('insertAt and removeAt keep order; lowerBound finds the insertion point in a sorted deque', () => {
    const d = new Deque<number>();
    for (const n of [10, 20, 30, 40]) d.push(n);
    d.insertAt(d.lowerBound(25, (x) => x), 25);
    d.insertAt(d.lowerBound(5, (x) => x), 5);
    d.insertAt(d.lowerBound(45, (x) => x), 45);
    expect([...d]).toEqual([5, 10, 20, 25, 30, 40, 45]);
    expect(d.lowerBound(30, (x) => x)).toBe(4);
    expect(d.lowerBound(31, (x) => x)).toBe(5);
    expect(d.removeAt(3)).toBe(25);
    expect(d.removeAt(0)).toBe(5);
    expect(d.removeAt(4)).toBe(45);
    expect(d.removeAt(4)).toBeUndefined();
    expect([...d]).toEqual([10, 20, 30, 40]);
    d.clear();
    expect(d.length).toBe(0);
    expect([...d]).toEqual([]);
    d.push(1);
    expect([...d]).toEqual([1]);
  });

  it('matches an array model under thousands of random operations', () => {
    const rand = prng(42);
    const d = new Deque<number>();
    let model: number[] = [];
    let next = 0;
    for (let step = 0; step < 20000; step++) {
      const op = Math.floor(rand() * 9);
      const index = Math.floor(rand() * (model.length + 1));
      switch (op) {
        case 0: case 1: d.push(next); model.push(next++); break;
        case 2: d.unshift(next); model.unshift(next++); break;
        case 3: expect(d.shift()).toBe(model.shift()); break;
        case 4: expect(d.pop()).toBe(model.pop()); break;
        case 5: d.insertAt(index, next); model.splice(index, 0, next++); break;
        case 6: expect(d.removeAt(index)).toBe(index < model.length ? model.splice(index, 1)[0] : undefined); break;
        case 7: expect(d.at(index)).toBe(model[index]); break;
        case 8: if (rand() < 0.01) { d.clear(); model = []; } break;
      }
      expect(d.length).toBe(model.length);
      expect(d.peek()).toBe(model[0]);
      expect(d.peekLast()).toBe(model[model.length - 1]);
      if (step % 500 === 0) expect([...d]).toEqual(model);
    }
    expect([...d]).toEqual(model);
  });

  it('lowerBound agrees with a linear scan on sorted contents with a wrapped head', () => {
    const rand = prng(7);
    for (let round = 0; round < 200; round++) {
      const d = new Deque<{ seq: number }>();
      const shiftFirst = Math.floor(rand() * 20);
      for (let i = 0; i < shiftFirst; i++) d.push({ seq: -1000 + i });
      for (let i = 0; i < shiftFirst; i++) d.shift();
      const values: number[] = [];
      let v = 0;
      const n = Math.floor(rand() * 40);
      for (let i = 0; i < n; i++) { v += Math.floor(rand() * 3); values.push(v); d.push({ seq: v }); }
      const key = Math.floor(rand() * (v + 3)) - 1;
      const want = values.findIndex((x) => x >= key);
      expect(d.lowerBound(key, (e) => e.seq)).toBe(want === -1 ? values.length : want);
    }
  });
});
