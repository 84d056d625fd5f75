import { AmqpError, ReplyCode, type FieldTable } from '../protocol/index.js';
import type { DefinitionsJournal } from '../store/definitions.js';
import type { MessageLog } from '../store/message-log.js';
import { assertArgsEquivalent, assertFlagEquivalent, EXCHANGE_EQUIVALENCE_KEYS, QUEUE_EQUIVALENCE_KEYS } from './arguments.js';
import { Exchange, type Binding } from './exchange.js';
import type { Message } from './message.js';
import { generatedQueueName } from './names.js';
import { Queue, type Owner } from './queue.js';
import type { Session } from './session.js';
import { headersMatchMode, isExchangeType, type Destination, type RouteCollector } from './routing.js';

export interface ExchangeDeclare {
  type: string;
  passive: boolean;
  durable: boolean;
  autoDelete: boolean;
  internal: boolean;
  arguments: FieldTable;
}

export interface QueueDeclare {
  passive: boolean;
  durable: boolean;
  exclusive: boolean;
  autoDelete: boolean;
  arguments: FieldTable;
}

/** Exchanges every vhost has, as RabbitMQ pre-declares them. */
const STANDARD_EXCHANGES: [string, 'direct' | 'fanout' | 'topic' | 'headers'][] = [
  ['amq.direct', 'direct'],
  ['amq.fanout', 'fanout'],
  ['amq.topic', 'topic'],
  ['amq.headers', 'headers'],
  ['amq.match', 'headers'],
];

/**
 * Collects the queues a message reaches, once each, and the exchanges still to
 * visit (exchange-to-exchange bindings). Reused for every publish: routing
 * allocates nothing.
 */
class Collector implements RouteCollector {
  epoch = 0;
  readonly queues: Queue[] = [];
  readonly exchanges: Exchange[] = [];

  add(d: Destination): void {
    if (d.routeMark === this.epoch) return;
    d.routeMark = this.epoch;
    if (d.kind === 'queue') this.queues.push(d as Queue);
    else this.exchanges.push(d as Exchange);
  }
}

/**
 * A virtual host: its exchanges, queues and bindings, and the rules (with
 * RabbitMQ's reply codes) for declaring, binding, deleting and publishing.
 */
export class VirtualHost {
  readonly exchanges = new Map<string, Exchange>();
  readonly queues = new Map<string, Queue>();
  private readonly bindings = new Map<string, Binding>();
  /** Bindings by destination, to drop them when the destination goes. */
  private readonly incoming = new Map<Destination, Set<Binding>>();
  private readonly collector = new Collector();
  /** Durable definitions are journaled here (null: in-memory broker). */
  journal: DefinitionsJournal | null = null;
  /** Persistent messages on durable queues are logged here (null: in-memory broker). */
  log: MessageLog | null = null;
  /** Ready messages a durable queue keeps in memory before paging to the log. */
  memoryWindow = 10_000;
  /** Open channels' sessions (their unacked deliveries hold log references). */
  readonly sessions = new Set<Session>();
  /** Scratch list of durable queue ids for one publish. */
  private readonly logIds: number[] = [];

  constructor(readonly name: string) {
    this.exchanges.set('', new Exchange('', 'direct', { durable: true, autoDelete: false, internal: false, arguments: {} }));
    for (const [xname, type] of STANDARD_EXCHANGES) {
      this.exchanges.set(xname, new Exchange(xname, type, { durable: true, autoDelete: false, internal: false, arguments: {} }));
    }
  }

  private exchangeDesc(name: string): string {
    return `exchange '${name}' in vhost '${this.name}'`;
  }

  private queueDesc(name: string): string {
    return `queue '${name}' in vhost '${this.name}'`;
  }

  private noExchange(name: string): AmqpError {
    return new AmqpError(ReplyCode.NotFound, `no ${this.exchangeDesc(name)}`);
  }

  private noQueue(name: string): AmqpError {
    return new AmqpError(ReplyCode.NotFound, `no ${this.queueDesc(name)}`);
  }

  // ------------------------------------------------------------------ exchanges

  findExchange(name: string): Exchange | undefined {
    return this.exchanges.get(name);
  }

  declareExchange(name: string, d: ExchangeDeclare): Exchange {
    if (d.passive) {
      if (name === '') throw new AmqpError(ReplyCode.AccessRefused, 'operation not permitted on the default exchange');
      const x = this.exchanges.get(name);
      if (!x) throw this.noExchange(name);
      return x;
    }
    if (!isExchangeType(d.type)) throw new AmqpError(ReplyCode.CommandInvalid, `unknown exchange type '${d.type}'`);
    if (name === '') throw new AmqpError(ReplyCode.AccessRefused, 'operation not permitted on the default exchange');
    let x = this.exchanges.get(name);
    if (!x) {
      if (name.startsWith('amq.')) {
        throw new AmqpError(ReplyCode.AccessRefused, `exchange name '${name}' contains reserved prefix 'amq.*'`);
      }
      x = new Exchange(name, d.type, { durable: d.durable, autoDelete: d.autoDelete, internal: d.internal, arguments: d.arguments });
      if (x.durable) this.journal?.exchangeDeclared(this.name, { name, type: d.type, autoDelete: d.autoDelete, internal: d.internal, arguments: d.arguments });
      this.exchanges.set(name, x);
      return x;
    }
    const what = this.exchangeDesc(name);
    assertFlagEquivalent('type', x.type, d.type, what);
    assertFlagEquivalent('durable', x.durable, d.durable, what);
    assertFlagEquivalent('auto_delete', x.autoDelete, d.autoDelete, what);
    assertFlagEquivalent('internal', x.internal, d.internal, what);
    assertArgsEquivalent(x.arguments, d.arguments, EXCHANGE_EQUIVALENCE_KEYS, what);
    return x;
  }

  deleteExchange(name: string, ifUnused: boolean): void {
    if (name === '') throw new AmqpError(ReplyCode.AccessRefused, 'operation not permitted on the default exchange');
    if (name.startsWith('amq.')) throw new AmqpError(ReplyCode.AccessRefused, `deletion of system ${this.exchangeDesc(name)} not allowed`);
    const x = this.exchanges.get(name);
    if (!x) return; // deleting a missing exchange succeeds, as in RabbitMQ
    // RabbitMQ's if-unused looks only at bindings with the exchange as source
    // (rabbit_exchange:conditional_delete → rabbit_binding:has_for_source); bindings into it do not count.
    if (ifUnused && x.outgoing.size > 0) {
      throw new AmqpError(ReplyCode.PreconditionFailed, `${this.exchangeDesc(name)} in use`);
    }
    this.removeExchange(x);
  }

  private removeExchange(x: Exchange): void {
    this.exchanges.delete(x.name);
    if (x.durable) this.journal?.exchangeDeleted(this.name, x.name);
    for (const b of [...x.outgoing]) this.removeBinding(b);
    for (const b of [...(this.incoming.get(x) ?? [])]) this.removeBinding(b);
    this.incoming.delete(x);
  }

  // ------------------------------------------------------------------ queues

  /** The queue, checked for existence and exclusive ownership (404 / 405). */
  queueForUse(name: string, owner: Owner): Queue {
    const q = this.queues.get(name);
    if (!q) throw this.noQueue(name);
    this.checkExclusive(q, owner);
    return q;
  }

  /**
   * 405 unless `owner` may use `q`. Strict (a redeclare, as RabbitMQ's
   * assert_equivalence → check_exclusive_access(strict)): the exclusive flag
   * must also match, so redeclaring a shared queue as exclusive is refused too.
   */
  private checkExclusive(q: Queue, owner: Owner, strictExclusive?: boolean): void {
    const locked = strictExclusive === undefined
      ? q.exclusiveOwner !== null && q.exclusiveOwner !== owner
      : strictExclusive ? q.exclusiveOwner !== owner : q.exclusiveOwner !== null;
    if (locked) {
      throw new AmqpError(
        ReplyCode.ResourceLocked,
        `cannot obtain exclusive access to locked ${this.queueDesc(q.name)}. It could be originally declared on another connection or the exclusive property value does not match that of the original declaration.`,
      );
    }
  }

  declareQueue(requestedName: string, d: QueueDeclare, owner: Owner): Queue {
    if (d.passive) return this.queueForUse(requestedName, owner);
    let name = requestedName;
    if (name === '') {
      do name = generatedQueueName(); while (this.queues.has(name));
    } else if (name.startsWith('amq.')) {
      throw new AmqpError(ReplyCode.AccessRefused, `queue name '${name}' contains reserved prefix 'amq.*'`);
    }
    const existing = this.queues.get(name);
    if (existing) {
      this.checkExclusive(existing, owner, d.exclusive);
      const what = this.queueDesc(name);
      assertFlagEquivalent('durable', existing.durable, d.durable, what);
      assertFlagEquivalent('auto_delete', existing.autoDelete, d.autoDelete, what);
      assertArgsEquivalent(existing.arguments, d.arguments, QUEUE_EQUIVALENCE_KEYS, what);
      return existing;
    }
    const q = new Queue(name, { durable: d.durable, exclusiveOwner: d.exclusive ? owner : null, autoDelete: d.autoDelete, arguments: d.arguments });
    // Exclusive queues die with their connection: nothing of them outlives a restart.
    if (q.durable && !d.exclusive && this.journal && this.log) {
      const id = this.journal.allocateQueueId();
      this.journal.queueDeclared(this.name, { name, id, autoDelete: d.autoDelete, arguments: d.arguments });
      q.store = { log: this.log, id, memoryWindow: this.memoryWindow };
    }
    this.addQueue(q);
    return q;
  }

  /** Registers a queue (declared now, or restored at start-up). */
  addQueue(q: Queue): void {
    q.onUnused = (unused) => this.removeQueue(unused);
    this.queues.set(q.name, q);
  }

  /** Restores an exchange from the definitions at start-up (no journaling). */
  restoreExchange(x: Exchange): void {
    this.exchanges.set(x.name, x);
  }

  /** The message log finished a write: queues waiting to page in may go on. */
  logFlushed(): void {
    for (const q of this.queues.values()) if (q.waitingForLog) q.logFlushed();
  }

  /** queue.delete; returns the number of ready messages deleted. A missing queue is fine (0), as in RabbitMQ. */
  deleteQueue(name: string, owner: Owner, ifUnused: boolean, ifEmpty: boolean): number {
    const q = this.queues.get(name);
    if (!q) return 0;
    this.checkExclusive(q, owner);
    if (ifEmpty && q.messageCount > 0) throw new AmqpError(ReplyCode.PreconditionFailed, `${this.queueDesc(name)} not empty`);
    if (ifUnused && q.consumerCount > 0) throw new AmqpError(ReplyCode.PreconditionFailed, `${this.queueDesc(name)} in use`);
    const count = q.messageCount;
    this.removeQueue(q);
    return count;
  }

  purgeQueue(name: string, owner: Owner): number {
    return this.queueForUse(name, owner).purge();
  }

  /** Removes a queue, its bindings and its consumers (who are told, for clients that listen). */
  removeQueue(q: Queue): void {
    if (q.deleted) return;
    q.deleted = true;
    this.queues.delete(q.name);
    if (q.store) this.journal?.queueDeleted(this.name, q.name);
    for (const b of [...(this.incoming.get(q) ?? [])]) this.removeBinding(b);
    this.incoming.delete(q);
    for (const c of [...q.consumers]) c.session.consumerGone(c);
    q.consumers.length = 0;
    q.purge();
  }

  /** A connection closed: its exclusive queues go with it. */
  ownerClosed(owner: Owner): void {
    for (const q of [...this.queues.values()]) if (q.exclusiveOwner === owner) this.removeQueue(q);
  }

  // ------------------------------------------------------------------ bindings

  private bindingKey(source: Exchange, dest: Destination, routingKey: string, args: FieldTable): string {
    return `${source.name}\u0000${dest.kind}\u0000${dest.name}\u0000${routingKey}\u0000${stableStringify(args)}`;
  }

  private resolveBindingEnds(kind: 'queue' | 'exchange', destName: string, sourceName: string, owner: Owner): [Exchange, Destination] {
    if (sourceName === '' || (kind === 'exchange' && destName === '')) {
      throw new AmqpError(ReplyCode.AccessRefused, 'operation not permitted on the default exchange');
    }
    const source = this.exchanges.get(sourceName);
    if (!source) throw this.noExchange(sourceName);
    const dest: Destination | undefined = kind === 'queue' ? this.queues.get(destName) : this.exchanges.get(destName);
    if (!dest) throw kind === 'queue' ? this.noQueue(destName) : this.noExchange(destName);
    if (dest.kind === 'queue') this.checkExclusive(dest as Queue, owner);
    return [source, dest];
  }

  bind(kind: 'queue' | 'exchange', destName: string, sourceName: string, routingKey: string, args: FieldTable, owner: Owner, restoring = false): void {
    const [source, dest] = this.resolveBindingEnds(kind, destName, sourceName, owner);
    if (source.type === 'headers' && headersMatchMode(args) === null) {
      const v = args['x-match'];
      if (typeof v !== 'string') throw new AmqpError(ReplyCode.PreconditionFailed, `Invalid x-match field type ${JSON.stringify(v)}; expected longstr`);
      throw new AmqpError(ReplyCode.PreconditionFailed, `Invalid x-match field value <<"${v}">>; expected all, any, all-with-x, or any-with-x`);
    }
    const key = this.bindingKey(source, dest, routingKey, args);
    if (this.bindings.has(key)) return;
    const b: Binding = { source, destination: dest, routingKey, arguments: args, key };
    if (!restoring && this.isDurableBinding(b)) this.journal?.bindingAdded(this.name, { source: source.name, kind, destination: dest.name, routingKey, arguments: args });
    this.bindings.set(key, b);
    source.outgoing.add(b);
    source.hadBinding = true;
    let set = this.incoming.get(dest);
    if (!set) this.incoming.set(dest, (set = new Set()));
    set.add(b);
    source.router.add(b);
  }

  /** Unbinding what is not bound (or from/to what does not exist) succeeds, as in RabbitMQ. */
  unbind(kind: 'queue' | 'exchange', destName: string, sourceName: string, routingKey: string, args: FieldTable, owner: Owner): void {
    if (sourceName === '' || (kind === 'exchange' && destName === '')) {
      throw new AmqpError(ReplyCode.AccessRefused, 'operation not permitted on the default exchange');
    }
    const source = this.exchanges.get(sourceName);
    const dest: Destination | undefined = kind === 'queue' ? this.queues.get(destName) : this.exchanges.get(destName);
    if (!source || !dest) return;
    if (dest.kind === 'queue') this.checkExclusive(dest as Queue, owner);
    const b = this.bindings.get(this.bindingKey(source, dest, routingKey, args));
    if (b) this.removeBinding(b);
  }

  /** Bindings between durable ends survive restarts (the implicit ones of the default exchange are not stored). */
  private isDurableBinding(b: Binding): boolean {
    if (!b.source.durable) return false;
    return b.destination.kind === 'queue' ? (b.destination as Queue).store !== null : (b.destination as Exchange).durable;
  }

  private removeBinding(b: Binding): void {
    if (!this.bindings.delete(b.key)) return;
    if (this.isDurableBinding(b)) {
      this.journal?.bindingRemoved(this.name, { source: b.source.name, kind: b.destination.kind, destination: b.destination.name, routingKey: b.routingKey, arguments: b.arguments });
    }
    b.source.outgoing.delete(b);
    this.incoming.get(b.destination)?.delete(b);
    b.source.router.remove(b);
    const x = b.source;
    if (x.autoDelete && x.outgoing.size === 0 && x.hadBinding && this.exchanges.get(x.name) === x) this.removeExchange(x);
  }

  // ------------------------------------------------------------------ publishing

  /** The exchange a publish names, or the channel error RabbitMQ gives (404, or 403 for internal). */
  exchangeForPublish(name: string): Exchange {
    const x = this.exchanges.get(name);
    if (!x) throw this.noExchange(name);
    if (x.internal) throw new AmqpError(ReplyCode.AccessRefused, `cannot publish to internal ${this.exchangeDesc(name)}`);
    return x;
  }

  /**
   * Routes a message from `exchange` (following exchange-to-exchange bindings,
   * each exchange visited once) and enqueues it on every queue reached, once.
   * Returns how many queues took it.
   */
  route(exchange: Exchange, routingKey: string, message: Message): number {
    const c = this.collector;
    c.epoch++;
    c.queues.length = 0;
    c.exchanges.length = 0;
    if (exchange.name === '') {
      const q = this.queues.get(routingKey);
      if (q) c.add(q);
    } else {
      exchange.routeMark = c.epoch;
      this.routeVia(exchange, routingKey, message, c);
      for (let i = 0; i < c.exchanges.length; i++) this.routeVia(c.exchanges[i]!, routingKey, message, c);
    }
    const queues = c.queues;
    const n = queues.length;
    if (this.log !== null && n > 0) this.logMessage(message, queues);
    for (let i = 0; i < n; i++) queues[i]!.enqueue(message);
    return n;
  }

  /**
   * Writes the message once to the log for every durable queue that must
   * hold it: all of them when it is persistent, and those paging to disk
   * when it is transient (so the queue's on-disk backlog stays in order).
   */
  private logMessage(message: Message, queues: readonly Queue[]): void {
    const persistent = message.persistent;
    const ids = this.logIds;
    ids.length = 0;
    for (const q of queues) if (q.store !== null && (persistent || q.paging)) ids.push(q.store.id);
    if (ids.length === 0) return;
    message.stored = this.log!.publish(message.exchange, message.routingKey, message.header, message.body, message.bodySize, ids, persistent);
  }

  private routeVia(x: Exchange, routingKey: string, message: Message, c: Collector): void {
    const router = x.router;
    router.route(routingKey, router.needsHeaders ? message.properties.headers : undefined, c);
  }
}

/** JSON with sorted keys (bigint and Buffer safe), for binding identity. */
function stableStringify(v: unknown): string {
  return JSON.stringify(v, (_k, value: unknown) => {
    if (typeof value === 'bigint') return `${value}n`;
    if (value && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Date)) {
      if ((value as { type?: string }).type === 'Buffer') return value;
      return Object.fromEntries(Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return value;
  });
}
