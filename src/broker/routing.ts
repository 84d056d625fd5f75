/**
 * Routing tables, one per exchange type. A router indexes bindings and, given
 * a routing key (and for headers exchanges the message headers), reports each
 * matching destination to a RouteCollector, which drops duplicates.
 */
import type { FieldTable, FieldValue } from '../protocol/index.js';

/** Something a binding points at: a queue or (exchange-to-exchange) an exchange. */
export interface Destination {
  readonly kind: 'queue' | 'exchange';
  readonly name: string;
  /** The last routing pass that reached this destination (duplicate suppression without a Set). */
  routeMark: number;
}

export interface BindingSpec {
  readonly destination: Destination;
  readonly routingKey: string;
  readonly arguments: FieldTable;
}

export interface RouteCollector {
  add(destination: Destination): void;
}

export interface Router {
  add(binding: BindingSpec): void;
  remove(binding: BindingSpec): void;
  route(routingKey: string, headers: FieldTable | undefined, out: RouteCollector): void;
  /** True when this router needs the message headers (so properties must be decoded). */
  readonly needsHeaders: boolean;
}

/** Exact routing-key match: a hash lookup, whatever the number of bindings. */
export class DirectRouter implements Router {
  readonly needsHeaders = false;
  private readonly byKey = new Map<string, DestinationSet>();

  add(b: BindingSpec): void {
    let set = this.byKey.get(b.routingKey);
    if (!set) this.byKey.set(b.routingKey, (set = new DestinationSet()));
    set.add(b.destination);
  }

  remove(b: BindingSpec): void {
    const set = this.byKey.get(b.routingKey);
    if (set && set.remove(b.destination) && set.list.length === 0) this.byKey.delete(b.routingKey);
  }

  route(routingKey: string, _headers: FieldTable | undefined, out: RouteCollector): void {
    const set = this.byKey.get(routingKey);
    if (!set) return;
    const list = set.list;
    for (let i = 0; i < list.length; i++) out.add(list[i]!);
  }
}

/**
 * Destinations in binding order, each listed once however many bindings
 * (differing only in arguments) lead to it; an array for fast iteration.
 */
class DestinationSet {
  readonly list: Destination[] = [];
  private readonly counts = new Map<Destination, number>();

  add(d: Destination): void {
    const n = this.counts.get(d) ?? 0;
    this.counts.set(d, n + 1);
    if (n === 0) this.list.push(d);
  }

  /** Returns true when a binding was removed. */
  remove(d: Destination): boolean {
    const n = this.counts.get(d);
    if (n === undefined) return false;
    if (n > 1) {
      this.counts.set(d, n - 1);
      return true;
    }
    this.counts.delete(d);
    this.list.splice(this.list.indexOf(d), 1);
    return true;
  }
}

/** Every bound destination, routing key ignored. */
export class FanoutRouter implements Router {
  readonly needsHeaders = false;
  private readonly destinations = new DestinationSet();

  add(b: BindingSpec): void {
    this.destinations.add(b.destination);
  }

  remove(b: BindingSpec): void {
    this.destinations.remove(b.destination);
  }

  route(_routingKey: string, _headers: FieldTable | undefined, out: RouteCollector): void {
    const list = this.destinations.list;
    for (let i = 0; i < list.length; i++) out.add(list[i]!);
  }
}

/**
 * Splits a topic key or pattern into words as RabbitMQ does: "" has no words,
 * "a." is ["a", ""], "." is ["", ""].
 */
export function topicWords(key: string): string[] {
  return key === '' ? [] : key.split('.');
}

class TopicNode {
  readonly children = new Map<string, TopicNode>();
  star: TopicNode | undefined;
  hash: TopicNode | undefined;
  /** Destinations whose binding pattern ends at this node, with a count per distinct binding. */
  readonly bound = new Map<Destination, number>();

  get isEmpty(): boolean {
    return this.children.size === 0 && !this.star && !this.hash && this.bound.size === 0;
  }
}

/**
 * Topic routing with a trie over pattern words: `*` matches exactly one word,
 * `#` zero or more. A lookup walks the key's words once per live branch, so its
 * cost follows the key's length and the patterns that could match it, not the
 * number of bindings.
 */
export class TopicRouter implements Router {
  readonly needsHeaders = false;
  private readonly root = new TopicNode();

  add(b: BindingSpec): void {
    let node = this.root;
    for (const word of topicWords(b.routingKey)) {
      if (word === '*') node = node.star ??= new TopicNode();
      else if (word === '#') node = node.hash ??= new TopicNode();
      else {
        let next = node.children.get(word);
        if (!next) node.children.set(word, (next = new TopicNode()));
        node = next;
      }
    }
    node.bound.set(b.destination, (node.bound.get(b.destination) ?? 0) + 1);
  }

  remove(b: BindingSpec): void {
    const path: { parent: TopicNode; word: string }[] = [];
    let node: TopicNode | undefined = this.root;
    for (const word of topicWords(b.routingKey)) {
      const parent: TopicNode = node;
      node = word === '*' ? parent.star : word === '#' ? parent.hash : parent.children.get(word);
      if (!node) return;
      path.push({ parent, word });
    }
    const n = node.bound.get(b.destination);
    if (n === undefined) return;
    if (n > 1) node.bound.set(b.destination, n - 1);
    else node.bound.delete(b.destination);
    // Prune branches left empty.
    for (let i = path.length - 1; i >= 0 && node.isEmpty; i--) {
      const { parent, word } = path[i]!;
      if (word === '*') parent.star = undefined;
      else if (word === '#') parent.hash = undefined;
      else parent.children.delete(word);
      node = parent;
    }
  }

  route(routingKey: string, _headers: FieldTable | undefined, out: RouteCollector): void {
    this.match(this.root, topicWords(routingKey), 0, out);
  }

  private match(node: TopicNode, words: string[], i: number, out: RouteCollector): void {
    if (node.hash) {
      // `#` consumes zero or more words: try every split point.
      for (let j = i; j <= words.length; j++) this.match(node.hash, words, j, out);
    }
    if (i === words.length) {
      for (const d of node.bound.keys()) out.add(d);
      return;
    }
    const child = node.children.get(words[i]!);
    if (child) this.match(child, words, i + 1, out);
    if (node.star) this.match(node.star, words, i + 1, out);
  }
}

type HeadersMatch = 'all' | 'any' | 'all-with-x' | 'any-with-x';

interface HeadersBinding {
  readonly destination: Destination;
  readonly match: HeadersMatch;
  readonly arguments: FieldTable;
  readonly keys: string[];
}

/** Reads x-match; anything else than RabbitMQ's four values is reported to the caller. */
export function headersMatchMode(args: FieldTable): HeadersMatch | null {
  const v = args['x-match'];
  if (v === undefined) return 'all';
  if (v === 'all' || v === 'any' || v === 'all-with-x' || v === 'any-with-x') return v;
  return null;
}

/** What comparing two values on their own says: different, equal, or "compare their entries" (two tables or arrays). */
const Shallow = { Different: 0, Equal: 1, Entries: 2 } as const;
type Shallow = (typeof Shallow)[keyof typeof Shallow];

function compareShallow(a: FieldValue, b: FieldValue): Shallow {
  if (a === b) return Shallow.Equal;
  if (typeof a === 'number' || typeof a === 'bigint') {
    return (typeof b === 'number' || typeof b === 'bigint') && a == b ? Shallow.Equal : Shallow.Different; // eslint-disable-line eqeqeq
  }
  const aBytes = typeof a === 'string' ? Buffer.from(a) : Buffer.isBuffer(a) ? a : null;
  const bBytes = typeof b === 'string' ? Buffer.from(b) : Buffer.isBuffer(b) ? b : null;
  if (aBytes && bBytes) return aBytes.equals(bBytes) ? Shallow.Equal : Shallow.Different;
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime() ? Shallow.Equal : Shallow.Different;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length ? Shallow.Entries : Shallow.Different;
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    return Object.keys(a).length === Object.keys(b).length ? Shallow.Entries : Shallow.Different;
  }
  return Shallow.Different;
}

/**
 * Value equality for header matching: type-sensitive like RabbitMQ (1 ≠ "1"),
 * numbers by value. Nested tables and arrays are compared from an explicit
 * list of pairs, not by recursion: a client may nest them as deep as a frame
 * holds, and the common case (scalars) allocates nothing.
 */
export function fieldEquals(a: FieldValue, b: FieldValue): boolean {
  const first = compareShallow(a, b);
  if (first !== Shallow.Entries) return first === Shallow.Equal;
  const pairs: FieldValue[] = [a, b];
  while (pairs.length > 0) {
    const y = pairs.pop()!;
    const x = pairs.pop()!;
    if (Array.isArray(x)) {
      const ys = y as FieldValue[];
      for (let i = 0; i < x.length; i++) {
        const r = compareShallow(x[i], ys[i]);
        if (r === Shallow.Different) return false;
        if (r === Shallow.Entries) pairs.push(x[i], ys[i]);
      }
    } else {
      const xt = x as Record<string, FieldValue>;
      const yt = y as Record<string, FieldValue>;
      for (const k of Object.keys(xt)) {
        if (!Object.prototype.hasOwnProperty.call(yt, k)) return false;
        const r = compareShallow(xt[k], yt[k]);
        if (r === Shallow.Different) return false;
        if (r === Shallow.Entries) pairs.push(xt[k], yt[k]);
      }
    }
  }
  return true;
}

/** Headers exchange: x-match all/any (x- keys ignored) or all-with-x/any-with-x (x- keys count). */
export class HeadersRouter implements Router {
  readonly needsHeaders = true;
  private readonly bindings: HeadersBinding[] = [];

  add(b: BindingSpec): void {
    const match = headersMatchMode(b.arguments) ?? 'all';
    const withX = match === 'all-with-x' || match === 'any-with-x';
    const keys = Object.keys(b.arguments).filter((k) => k !== 'x-match' && (withX || !k.startsWith('x-')));
    this.bindings.push({ destination: b.destination, match, arguments: b.arguments, keys });
  }

  remove(b: BindingSpec): void {
    const i = this.bindings.findIndex((x) => x.destination === b.destination && fieldEquals(x.arguments, b.arguments));
    if (i >= 0) this.bindings.splice(i, 1);
  }

  route(_routingKey: string, headers: FieldTable | undefined, out: RouteCollector): void {
    const h = headers ?? {};
    for (const b of this.bindings) if (matches(b, h)) out.add(b.destination);
  }
}

function matches(b: HeadersBinding, headers: FieldTable): boolean {
  const all = b.match === 'all' || b.match === 'all-with-x';
  if (b.keys.length === 0) return all; // an empty "all" matches everything, an empty "any" nothing
  for (const key of b.keys) {
    const want = b.arguments[key];
    const present = Object.prototype.hasOwnProperty.call(headers, key);
    // A void binding value asks only for the header's presence.
    const ok = present && (want === null || want === undefined || fieldEquals(want, headers[key]));
    if (all && !ok) return false;
    if (!all && ok) return true;
  }
  return all;
}

export const EXCHANGE_TYPES = ['direct', 'fanout', 'topic', 'headers'] as const;
export type ExchangeType = (typeof EXCHANGE_TYPES)[number];

export function isExchangeType(t: string): t is ExchangeType {
  return (EXCHANGE_TYPES as readonly string[]).includes(t);
}

export function createRouter(type: ExchangeType): Router {
  switch (type) {
    case 'direct': return new DirectRouter();
    case 'fanout': return new FanoutRouter();
    case 'topic': return new TopicRouter();
    case 'headers': return new HeadersRouter();
  }
}
