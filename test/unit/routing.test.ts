/**
 * The routing tables in src/broker/routing.ts, tested directly: the topic
 * trie against a straightforward reference matcher on thousands of random
 * patterns and keys, and the direct, fanout and headers routers case by case.
 */
import { describe, expect, it } from 'vitest';
import { DirectRouter, FanoutRouter, HeadersRouter, TopicRouter, type BindingSpec, type Destination, type Router } from '../../src/broker/routing.js';
import type { FieldTable } from '../../src/protocol/index.js';
import { prng } from '../helpers/model.js';

const dest = (name: string): Destination => ({ kind: 'queue', name, routeMark: 0 });

/** Destination names a router reports for one message, sorted, each once. */
function route(router: Router, key: string, headers?: FieldTable): string[] {
  const seen = new Set<string>();
  router.route(key, headers, { add: (d) => void seen.add(d.name) });
  return [...seen].sort();
}

const binding = (d: Destination, routingKey: string, args: FieldTable = {}): BindingSpec => ({ destination: d, routingKey, arguments: args });

// ---------------------------------------------------------------- topic: reference matcher

/** Words as AMQP topic routing defines them: "" has none, "a..b" has an empty middle one. */
const words = (s: string): string[] => (s === '' ? [] : s.split('.'));

/** The obvious recursive matcher: `*` is exactly one word, `#` zero or more. */
function refMatch(p: readonly string[], k: readonly string[], pi = 0, ki = 0): boolean {
  if (pi === p.length) return ki === k.length;
  const w = p[pi]!;
  if (w === '#') {
    for (let j = ki; j <= k.length; j++) if (refMatch(p, k, pi + 1, j)) return true;
    return false;
  }
  if (ki === k.length) return false;
  return (w === '*' || w === k[ki]) && refMatch(p, k, pi + 1, ki + 1);
}

/** The same thing as a regular expression, as a second independent opinion. */
function regexFor(pattern: string): RegExp {
  const ws = words(pattern);
  // Build over "." + word for each word so that empty words stay distinct.
  const parts = ws.map((w) => (w === '#' ? '(?:\\.[^.]*)*' : w === '*' ? '\\.[^.]*' : `\\.${w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  return new RegExp(`^${parts.join('')}$`);
}
const regexMatch = (pattern: string, key: string): boolean => regexFor(pattern).test(words(key).map((w) => `.${w}`).join(''));

describe('reference matchers agree with each other', () => {
  it.each([
    ['#', '', true], ['#.#', '', true], ['', '', true], ['*', '', false], ['a.#', 'a', true], ['#.a', 'a', true],
    ['a.*', 'a.', true], ['a..b', 'a..b', true], ['a.*.b', 'a..b', true], ['*', '.', false], ['*.*', '.', true],
    ['#.*', '', false], ['#.*', 'x', true], ['a.#.#.b', 'a.b', true], ['*.#.*', 'a', false],
  ])('pattern %j key %j → %s', (p, k, want) => {
    expect(refMatch(words(p), words(k))).toBe(want);
    expect(regexMatch(p, k)).toBe(want);
  });
});

describe('TopicRouter', () => {
  const ALPHABET = ['a', 'b', 'c', '', '*', '#'];
  const KEY_ALPHABET = ['a', 'b', 'c', '', '*', '#', 'd'];

  function randomWords(rand: () => number, alphabet: string[], maxLen: number): string {
    const n = Math.floor(rand() * (maxLen + 1));
    const ws: string[] = [];
    for (let i = 0; i < n; i++) ws.push(alphabet[Math.floor(rand() * alphabet.length)]!);
    return ws.join('.');
  }

  it('matches the reference matcher on thousands of random patterns and keys', () => {
    const rand = prng(0x5eed);
    let checked = 0;
    let nonEmpty = 0;
    for (let round = 0; round < 20; round++) {
      const router = new TopicRouter();
      const dests = Array.from({ length: 30 }, (_, i) => dest(`q${i}`));
      let bound: { d: Destination; pattern: string; args: FieldTable }[] = [];
      for (let i = 0; i < 150; i++) {
        const b = { d: dests[Math.floor(rand() * dests.length)]!, pattern: randomWords(rand, ALPHABET, 5), args: { i } };
        bound.push(b);
        router.add(binding(b.d, b.pattern, b.args));
      }
      const check = (): void => {
        for (let i = 0; i < 200; i++) {
          const key = randomWords(rand, KEY_ALPHABET, 6);
          const kw = words(key);
          const want = [...new Set(bound.filter((b) => refMatch(words(b.pattern), kw)).map((b) => b.d.name))].sort();
          expect({ key, got: route(router, key) }).toEqual({ key, got: want });
          checked++;
          if (want.length > 0) nonEmpty++;
        }
      };
      check();
      // Remove a random half: removal must really remove (and prune nothing still in use).
      const keep: typeof bound = [];
      for (const b of bound) {
        if (rand() < 0.5) router.remove(binding(b.d, b.pattern, b.args));
        else keep.push(b);
      }
      bound = keep;
      check();
    }
    // The random space is dense enough that most keys reach somebody: the comparison is not vacuous.
    expect(checked).toBe(8000);
    expect(nonEmpty).toBeGreaterThan(checked / 2);
  });

  it('agrees with a regex matcher on every short pattern and key over a tiny alphabet', () => {
    // Exhaustive: all patterns and keys up to 3 words over {a, '', *, #} (keys over {a, b, ''}).
    const all = (alphabet: string[], max: number): string[] => {
      const out = [''];
      let layer = [[]] as string[][];
      for (let n = 1; n <= max; n++) {
        layer = layer.flatMap((ws) => alphabet.map((w) => [...ws, w]));
        out.push(...layer.map((ws) => ws.join('.')));
      }
      return [...new Set(out)];
    };
    const patterns = all(['a', '', '*', '#'], 3);
    const keys = all(['a', 'b', ''], 3);
    const router = new TopicRouter();
    patterns.forEach((p, i) => router.add(binding(dest(`p${i}`), p)));
    for (const key of keys) {
      const want = patterns.flatMap((p, i) => (regexMatch(p, key) ? [`p${i}`] : [])).sort();
      expect({ key, got: route(router, key) }).toEqual({ key, got: want });
    }
  });

  it('counts duplicate bindings of one destination (different arguments) and removes them one at a time', () => {
    const router = new TopicRouter();
    const q = dest('q');
    router.add(binding(q, 'a.*', { v: 1 }));
    router.add(binding(q, 'a.*', { v: 2 }));
    router.add(binding(q, 'a.#'));
    expect(route(router, 'a.b')).toEqual(['q']);
    router.remove(binding(q, 'a.*', { v: 1 }));
    router.remove(binding(q, 'a.#'));
    expect(route(router, 'a.b')).toEqual(['q']);
    expect(route(router, 'a')).toEqual([]);
    router.remove(binding(q, 'a.*', { v: 2 }));
    expect(route(router, 'a.b')).toEqual([]);
    router.remove(binding(q, 'a.*')); // not bound any more: no-op
    router.remove(binding(q, 'x.y.z'));
    expect(route(router, 'a.b')).toEqual([]);
  });
});

describe('DirectRouter', () => {
  it('routes by exact key, to each destination once', () => {
    const router = new DirectRouter();
    const a = dest('a');
    const b = dest('b');
    router.add(binding(a, 'k'));
    router.add(binding(b, 'k'));
    router.add(binding(a, 'k', { x: 1 }));
    router.add(binding(a, ''));
    expect(route(router, 'k')).toEqual(['a', 'b']);
    expect(route(router, '')).toEqual(['a']);
    expect(route(router, 'K')).toEqual([]);
    expect(route(router, 'k.')).toEqual([]);
    expect(route(router, '*')).toEqual([]);
  });

  it('remove really removes, one binding at a time', () => {
    const router = new DirectRouter();
    const a = dest('a');
    router.add(binding(a, 'k'));
    router.add(binding(a, 'k', { x: 1 }));
    router.remove(binding(a, 'k'));
    expect(route(router, 'k')).toEqual(['a']);
    router.remove(binding(a, 'k', { x: 1 }));
    expect(route(router, 'k')).toEqual([]);
    router.remove(binding(a, 'k'));
    router.remove(binding(dest('other'), 'nope'));
    expect(route(router, 'k')).toEqual([]);
    router.add(binding(a, 'k'));
    expect(route(router, 'k')).toEqual(['a']);
  });

  it('reports destinations in binding order', () => {
    const router = new DirectRouter();
    for (const n of ['c', 'a', 'b']) router.add(binding(dest(n), 'k'));
    const order: string[] = [];
    router.route('k', undefined, { add: (d) => void order.push(d.name) });
    expect(order).toEqual(['c', 'a', 'b']);
  });
});

describe('FanoutRouter', () => {
  it('routes to every destination whatever the key; removal counts bindings', () => {
    const router = new FanoutRouter();
    const a = dest('a');
    const b = dest('b');
    router.add(binding(a, 'x'));
    router.add(binding(a, 'y'));
    router.add(binding(b, ''));
    expect(route(router, 'anything')).toEqual(['a', 'b']);
    expect(route(router, '')).toEqual(['a', 'b']);
    router.remove(binding(a, 'x'));
    expect(route(router, 'k')).toEqual(['a', 'b']);
    router.remove(binding(a, 'y'));
    router.remove(binding(b, ''));
    expect(route(router, 'k')).toEqual([]);
  });
});

describe('HeadersRouter', () => {
  const headersCase = (args: FieldTable, headers: FieldTable | undefined): boolean => {
    const router = new HeadersRouter();
    router.add(binding(dest('q'), 'ignored', args));
    return route(router, 'any key', headers).length === 1;
  };

  it.each<[string, FieldTable, FieldTable | undefined, boolean]>([
    ['default is all: every key', { a: 1, b: 'x' }, { a: 1, b: 'x', c: 0 }, true],
    ['default is all: one missing', { a: 1, b: 'x' }, { a: 1 }, false],
    ['all: a value differs', { 'x-match': 'all', a: 1 }, { a: 2 }, false],
    ['all: no headers at all', { 'x-match': 'all', a: 1 }, undefined, false],
    ['all with no keys matches everything', { 'x-match': 'all' }, undefined, true],
    ['any with no keys matches nothing', { 'x-match': 'any' }, { a: 1 }, false],
    ['any: one of two', { 'x-match': 'any', a: 1, b: 2 }, { b: 2 }, true],
    ['any: none', { 'x-match': 'any', a: 1, b: 2 }, { a: 2, c: 1 }, false],
    ['all ignores x- keys in the binding', { 'x-match': 'all', a: 1, 'x-y': 'z' }, { a: 1 }, true],
    ['any ignores x- keys in the binding', { 'x-match': 'any', 'x-y': 'z' }, { 'x-y': 'z' }, false],
    ['all-with-x counts x- keys', { 'x-match': 'all-with-x', a: 1, 'x-y': 'z' }, { a: 1 }, false],
    ['all-with-x: all present', { 'x-match': 'all-with-x', a: 1, 'x-y': 'z' }, { a: 1, 'x-y': 'z' }, true],
    ['any-with-x: the x- key alone', { 'x-match': 'any-with-x', 'x-y': 'z' }, { 'x-y': 'z' }, true],
    ['int width does not matter (bigint vs number)', { n: 1n }, { n: 1 }, true],
    ['large int64 as bigint', { n: 2n ** 60n }, { n: 2n ** 60n }, true],
    ['1 is not "1"', { n: 1 }, { n: '1' }, false],
    ['"1" is not 1', { n: '1' }, { n: 1 }, false],
    ['true is not 1', { n: true }, { n: 1 }, false],
    ['void binding value tests presence', { p: null }, { p: 'whatever' }, true],
    ['void binding value: absent', { p: null }, { q: 1 }, false],
    ['void header value does not match a non-void binding value', { p: 'x' }, { p: null }, false],
    ['nested tables compare by value', { t: { a: [1, 'b'] } }, { t: { a: [1, 'b'] } }, true],
    ['nested tables that differ', { t: { a: [1, 'b'] } }, { t: { a: [1, 'c'] } }, false],
    ['strings compare by content', { s: 'héllo' }, { s: 'héllo' }, true],
  ])('%s', (_name, args, headers, want) => {
    expect(headersCase(args, headers)).toBe(want);
  });

  it('removes the binding with the same arguments only, and counts duplicates by arguments', () => {
    const router = new HeadersRouter();
    const q = dest('q');
    router.add(binding(q, '', { a: 1 }));
    router.add(binding(q, '', { 'x-match': 'any', a: 1, b: 2 }));
    expect(route(router, '', { a: 1 })).toEqual(['q']);
    router.remove(binding(q, '', { a: 2 })); // not bound: no-op
    router.remove(binding(q, '', { a: 1 }));
    expect(route(router, '', { a: 1 })).toEqual(['q']); // the any-binding is still there
    expect(route(router, '', { b: 2 })).toEqual(['q']);
    router.remove(binding(q, '', { 'x-match': 'any', a: 1, b: 2 }));
    expect(route(router, '', { a: 1, b: 2 })).toEqual([]);
  });

  it('asks for message headers; the other routers do not', () => {
    expect(new HeadersRouter().needsHeaders).toBe(true);
    expect(new TopicRouter().needsHeaders).toBe(false);
    expect(new DirectRouter().needsHeaders).toBe(false);
    expect(new FanoutRouter().needsHeaders).toBe(false);
  });
});
