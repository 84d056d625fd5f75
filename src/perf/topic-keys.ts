/**
 * Deterministic topic bindings and routing keys for the topic scenario, and a
 * reference matcher to know how many queues each key should reach.
 *
 * Routing keys are three words "s<a>.t<b>.u<c>" (a < queues, b < K, c < 10,
 * K = ceil(bindings / queues)). Binding i belongs to queue q = i mod queues,
 * k = floor(i / queues), and takes one of four shapes by k mod 4:
 *   0  s<q>.t<k>.u<(q+k) mod 10>   exact
 *   1  s<q>.t<k>.*                  one-word wildcard at the end
 *   2  s<q>.*.u<k mod 10>           one-word wildcard in the middle
 *   3  #.t<k>.u<q mod 10>           leading multi-word wildcard
 */
export interface TopicBinding {
  queueIndex: number;
  pattern: string;
}

export function topicBindings(queues: number, bindings: number): TopicBinding[] {
  const out: TopicBinding[] = [];
  for (let i = 0; i < bindings; i++) {
    const q = i % queues;
    const k = Math.floor(i / queues);
    let pattern: string;
    switch (k % 4) {
      case 0: pattern = `s${q}.t${k}.u${(q + k) % 10}`; break;
      case 1: pattern = `s${q}.t${k}.*`; break;
      case 2: pattern = `s${q}.*.u${k % 10}`; break;
      default: pattern = `#.t${k}.u${q % 10}`;
    }
    out.push({ queueIndex: q, pattern });
  }
  return out;
}

/** `count` routing keys drawn from a fixed-seed generator (the same on every run and broker). */
export function topicRoutingKeys(queues: number, bindings: number, count: number, seed = 42): string[] {
  const k = Math.max(1, Math.ceil(bindings / queues));
  let x = seed >>> 0 || 1;
  const rnd = (n: number): number => {
    // xorshift32
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x % n;
  };
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(`s${rnd(queues)}.t${rnd(k)}.u${rnd(10)}`);
  return out;
}

/** AMQP topic matching: "*" is exactly one word, "#" zero or more. */
export function topicMatches(pattern: string, key: string): boolean {
  const p = pattern.split('.');
  const w = key === '' ? [] : key.split('.');
  const memo = new Map<number, boolean>();
  const go = (i: number, j: number): boolean => {
    const id = i * (w.length + 1) + j;
    const hit = memo.get(id);
    if (hit !== undefined) return hit;
    let r: boolean;
    if (i === p.length) r = j === w.length;
    else if (p[i] === '#') r = go(i + 1, j) || (j < w.length && go(i, j + 1));
    else r = j < w.length && (p[i] === '*' || p[i] === w[j]) && go(i + 1, j + 1);
    memo.set(id, r);
    return r;
  };
  return go(0, 0);
}

/** Queues reached by each key. */
export function fanoutPerKey(bindings: readonly TopicBinding[], keys: readonly string[]): number[] {
  return keys.map((key) => {
    const hit = new Set<number>();
    for (const b of bindings) if (!hit.has(b.queueIndex) && topicMatches(b.pattern, key)) hit.add(b.queueIndex);
    return hit.size;
  });
}

/** prefix[i] = deliveries for publishing keys[0..i) once; prefix[keys.length] = one full cycle. */
export function cumulativeFanout(bindings: readonly TopicBinding[], keys: readonly string[]): number[] {
  const per = fanoutPerKey(bindings, keys);
  const prefix = [0];
  for (const n of per) prefix.push(prefix[prefix.length - 1]! + n);
  return prefix;
}

/** Mean number of distinct queues a key from `keys` reaches (each key published equally often), and the unroutable share. */
export function expectedFanout(bindings: readonly TopicBinding[], keys: readonly string[]): { mean: number; unroutable: number } {
  let total = 0;
  let none = 0;
  for (const n of fanoutPerKey(bindings, keys)) {
    total += n;
    if (n === 0) none++;
  }
  return { mean: keys.length ? total / keys.length : 0, unroutable: keys.length ? none / keys.length : 0 };
}
