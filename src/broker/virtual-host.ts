import { AmqpError, ByteWriter, ReplyCode, encodeTableSorted, fieldTypeName, type FieldTable } from '../protocol/index.js';
import type { DefinitionsJournal } from '../store/definitions.js';
import { MEMORY_DURABILITY, type Durability } from '../store/durability-port.js';
import type { MessageStore, QueueStorage } from '../store/queue-storage.js';
import type { Logger } from '../observe/logger.js';
import { runGuarded } from '../observe/guard.js';
import { assertArgsEquivalent, assertFlagEquivalent, EXCHANGE_EQUIVALENCE_KEYS, QUEUE_EQUIVALENCE_KEYS } from './arguments.js';
import { Exchange, type Binding } from './exchange.js';
import { fieldValueText } from './field-text.js';
import type { Message } from './message.js';
import { generatedQueueName } from './names.js';
import type { DeathReason } from './dead-letter.js';
import { DirectReplyTo } from './direct-reply-to.js';
import { MessageRouter } from './message-router.js';
import { Queue, type Owner, type QueueHost } from './queue.js';
import { parseQueueArguments } from './queue-arguments.js';
import { VhostPolicies } from './policies.js';
import { assertQueueLimit, type VhostLimits } from './limits.js';
import { Churn } from '../observe/stats.js';
import { ChannelCounters } from './channel-counters.js';
import { headersMatchMode, isExchangeType, type Destination } from './routing.js';
import type { PublishOutcome } from './publish-outcome.js';
import { copyTable, type BindingStats, type VhostSnapshot } from './snapshots.js';

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
  /**
   * Called once the queue's name is known (server-generated names included)
   * and before anything else: the caller's permission check (throws to refuse).
   */
  authorize?: (name: string, creating: boolean) => void;
}

export { REPLY_TO_PREFIX, REPLY_TO_QUEUE, type ReplyTarget } from './direct-reply-to.js';

/** Exchanges every vhost has, as RabbitMQ pre-declares them. */
const STANDARD_EXCHANGES: [string, 'direct' | 'fanout' | 'topic' | 'headers'][] = [
  ['amq.direct', 'direct'],
  ['amq.fanout', 'fanout'],
  ['amq.topic', 'topic'],
  ['amq.headers', 'headers'],
  ['amq.match', 'headers'],
];

/**
 * A virtual host: its exchanges, queues and bindings, and the rules (with
 * RabbitMQ's reply codes) for declaring, binding, deleting and publishing.
 */
export class VirtualHost implements QueueHost {
  readonly exchanges = new Map<string, Exchange>();
  readonly queues = new Map<string, Queue>();
  /** Policies and operator policies: applied to each queue and exchange as it comes and as they change. */
  readonly policies = new VhostPolicies();
  /** max-connections (checked at connection.open) and max-queues (at queue.declare). */
  limits: VhostLimits = {};
  private readonly bindings = new Map<string, Binding>();
  /** Bindings by destination, to drop them when the destination goes. */
  private readonly incoming = new Map<Destination, Set<Binding>>();
  /** Durable definitions are journaled here (null: in-memory broker). */
  journal: DefinitionsJournal | null = null;
  /** Persistent messages on durable queues are logged here (null: in-memory broker). */
  log: MessageStore | null = null;
  /** Confirms, tx.commit-ok and definition-changing replies wait here (store/durability-port.ts). */
  durability: Durability = MEMORY_DURABILITY;
  /** Makes a queue's storage port (null: in-memory broker); `durable`: it keeps persistent messages across restarts. */
  queueStorage: ((id: number, durable: boolean) => QueueStorage) | null = null;
  /** For failures in background work: journal writes, queue timers, page-ins (null: stderr). */
  logger: Logger | null = null;
  /** The message counters of its channels, open and closed (channel totals and rates). */
  readonly channels = new ChannelCounters();
  /** Channels opened and closed, queues declared, created and deleted (for the metrics). */
  readonly churn = new Churn();
  /** Channels consuming from amq.rabbitmq.reply-to. */
  readonly replies = new DirectReplyTo();
  /** Publishes and dead-letter republishes through this vhost's exchanges. */
  private readonly router = new MessageRouter(this);

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

  /**
   * A change a client asked for is journaled before the model changes. If the
   * write fails (disk full) nothing changes and the client gets 541
   * INTERNAL_ERROR (a connection error, as RabbitMQ answers when its metadata
   * store cannot take a change).
   */
  private journalOrRefuse(what: string, write: (journal: DefinitionsJournal) => void): void {
    if (!this.journal) return;
    try {
      write(this.journal);
    } catch (err) {
      throw new AmqpError(ReplyCode.InternalError, `cannot ${what}: ${(err as Error).message}`);
    }
  }

  /**
   * A change the broker makes by itself (auto-delete, expiry) happens whatever
   * the journal says; a failed write is logged (after a restart the queue or
   * exchange comes back).
   */
  private journalOrLog(what: string, write: (journal: DefinitionsJournal) => void): void {
    if (!this.journal) return;
    try {
      write(this.journal);
    } catch (err) {
      this.logger?.error({ err, vhost: this.name }, `cannot journal: ${what}`);
    }
  }

  private noExchange(name: string): AmqpError {
    return new AmqpError(ReplyCode.NotFound, `no ${this.exchangeDesc(name)}`);
  }

  private noQueue(name: string): AmqpError {
    return new AmqpError(ReplyCode.NotFound, `no ${this.queueDesc(name)}`);
  }

  // ------------------------------------------------------------------ read side

  /** Every queue, exchange and binding, as plain objects (a copy: the model is not touched). */
  snapshot(): VhostSnapshot {
    const queues = [...this.queues.values()].map((q) => q.stats());
    const exchanges = [...this.exchanges.values()].map((x) => ({
      name: x.name, type: x.type, durable: x.durable, autoDelete: x.autoDelete, internal: x.internal, arguments: copyTable(x.arguments),
    }));
    // The default exchange's implicit bindings first, as rabbitmqctl list_bindings shows them.
    const bindings: BindingStats[] = queues.map((q) => ({ source: '', destination: q.name, destinationType: 'queue', routingKey: q.name, arguments: {} }));
    for (const b of this.bindings.values()) {
      bindings.push({ source: b.source.name, destination: b.destination.name, destinationType: b.destination.kind, routingKey: b.routingKey, arguments: copyTable(b.arguments) });
    }
    return { name: this.name, channels: this.channels.openCount, queues, exchanges, bindings };
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
      // rabbit_channel's exchange.declare (rabbit_misc:r_arg): the AE name must be a longstr.
      const ae = d.arguments['alternate-exchange'];
      if (ae !== undefined && typeof ae !== 'string') {
        throw new AmqpError(ReplyCode.PreconditionFailed, `invalid type '${fieldTypeName(d.arguments, 'alternate-exchange')}' for arg 'alternate-exchange' in ${this.exchangeDesc(name)}`);
      }
      x = new Exchange(name, d.type, { durable: d.durable, autoDelete: d.autoDelete, internal: d.internal, arguments: d.arguments });
      if (x.durable) this.journalOrRefuse(`declare ${this.exchangeDesc(name)}`, (j) => j.exchangeDeclared(this.name, { name, type: d.type, autoDelete: d.autoDelete, internal: d.internal, arguments: d.arguments }));
      this.exchanges.set(name, x);
      this.policies.applyToExchange(x);
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
    if (x.durable) this.journalOrRefuse(`delete ${this.exchangeDesc(name)}`, (j) => j.exchangeDeleted(this.name, x.name));
    this.removeExchange(x, true);
  }

  /** Removes an exchange and its bindings (replaying the exchange's delete drops them: they are not journaled). */
  private removeExchange(x: Exchange, journaled = false): void {
    if (x.durable && !journaled) this.journalOrLog(`delete ${this.exchangeDesc(x.name)}`, (j) => j.exchangeDeleted(this.name, x.name));
    this.exchanges.delete(x.name);
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
    if (d.passive) {
      const q = this.queueForUse(requestedName, owner);
      q.touch(); // a passive declare renews x-expires too
      q.dropExpired();
      return q;
    }
    this.churn.queuesDeclared++;
    let name = requestedName;
    if (name === '') {
      do name = generatedQueueName(); while (this.queues.has(name));
    } else if (name.startsWith('amq.')) {
      throw new AmqpError(ReplyCode.AccessRefused, `queue name '${name}' contains reserved prefix 'amq.*'`);
    }
    const existing = this.queues.get(name);
    d.authorize?.(name, existing === undefined);
    if (existing) {
      this.checkExclusive(existing, owner, d.exclusive);
      const what = this.queueDesc(name);
      assertFlagEquivalent('durable', existing.durable, d.durable, what);
      assertFlagEquivalent('auto_delete', existing.autoDelete, d.autoDelete, what);
      assertArgsEquivalent(existing.arguments, d.arguments, QUEUE_EQUIVALENCE_KEYS, what);
      existing.touch();
      existing.dropExpired();
      return existing;
    }
    const policy = parseQueueArguments(d.arguments, this.queueDesc(name), d);
    assertQueueLimit(this.limits, this.queues.size, name, this.name);
    const q = new Queue(name, { durable: d.durable, exclusiveOwner: d.exclusive ? owner : null, autoDelete: d.autoDelete, arguments: d.arguments, policy });
    this.churn.queuesCreated++;
    // Exclusive queues die with their connection: nothing of them outlives a restart.
    if (this.journal && this.queueStorage) {
      const id = this.journal.allocateQueueId();
      const durable = q.durable && !d.exclusive;
      if (durable) this.journalOrRefuse(`declare ${this.queueDesc(name)}`, (j) => j.queueDeclared(this.name, { name, id, autoDelete: d.autoDelete, arguments: d.arguments }));
      // Every queue may page a deep backlog to the log; only durable ones keep messages across restarts.
      q.storage = this.queueStorage(id, durable);
    }
    this.addQueue(q);
    return q;
  }

  /** Registers a queue (declared now, or restored at start-up). */
  addQueue(q: Queue): void {
    q.host = this;
    this.queues.set(q.name, q);
    this.policies.applyToQueue(q);
  }

  /** Restores an exchange from the definitions at start-up (no journaling). */
  restoreExchange(x: Exchange): void {
    this.exchanges.set(x.name, x);
    this.policies.applyToExchange(x);
  }

  /** The message log finished a write: queues waiting to page in may go on. */
  logFlushed(): void {
    for (const q of this.queues.values()) {
      // One queue failing to page in must not keep the others waiting.
      if (q.waitingForLog) runGuarded(this.logger, 'paging in from the message log', { vhost: this.name, queue: q.name }, () => q.logFlushed());
    }
  }

  /** queue.delete; returns the number of ready messages deleted. A missing queue is fine (0), as in RabbitMQ. */
  deleteQueue(name: string, owner: Owner, ifUnused: boolean, ifEmpty: boolean): number {
    const q = this.queues.get(name);
    if (!q) return 0;
    this.checkExclusive(q, owner);
    if (ifEmpty && q.messageCount > 0) throw new AmqpError(ReplyCode.PreconditionFailed, `${this.queueDesc(name)} not empty`);
    if (ifUnused && q.consumerCount > 0) throw new AmqpError(ReplyCode.PreconditionFailed, `${this.queueDesc(name)} in use`);
    const count = q.messageCount;
    if (q.storage?.durable) this.journalOrRefuse(`delete ${this.queueDesc(name)}`, (j) => j.queueDeleted(this.name, q.name));
    this.removeQueue(q, true);
    return count;
  }

  purgeQueue(name: string, owner: Owner): number {
    return this.queueForUse(name, owner).purge();
  }

  /**
   * Removes a queue, its bindings and its consumers (who are told, for clients
   * that listen). `journaled`: the caller has journaled the delete already.
   */
  removeQueue(q: Queue, journaled = false): void {
    if (q.deleted) return;
    this.churn.queuesDeleted++;
    if (q.storage?.durable && !journaled) this.journalOrLog(`delete ${this.queueDesc(q.name)}`, (j) => j.queueDeleted(this.name, q.name));
    q.deleted = true;
    this.queues.delete(q.name);
    // Replaying the queue's delete drops its bindings: they are not journaled one by one.
    for (const b of [...(this.incoming.get(q) ?? [])]) this.removeBinding(b);
    this.incoming.delete(q);
    for (const c of [...q.consumers]) c.queueDeleted();
    q.consumers.length = 0;
    q.purge();
    q.dispose();
  }

  /** A connection closed: its exclusive queues go with it. */
  ownerClosed(owner: Owner): void {
    for (const q of [...this.queues.values()]) if (q.exclusiveOwner === owner) this.removeQueue(q);
  }

  // ------------------------------------------------------------------ bindings

  /** Every binding, read-only (the default exchange's implicit bindings are not stored). */
  allBindings(): IterableIterator<Binding> {
    return this.bindings.values();
  }

  private bindingKey(source: Exchange, dest: Destination, routingKey: string, args: FieldTable): string {
    return `${source.name}\u0000${dest.kind}\u0000${dest.name}\u0000${routingKey}\u0000${argumentsKey(args)}`;
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
      if (typeof v !== 'string') throw new AmqpError(ReplyCode.PreconditionFailed, `Invalid x-match field type ${fieldValueText(v)}; expected longstr`);
      throw new AmqpError(ReplyCode.PreconditionFailed, `Invalid x-match field value <<"${v}">>; expected all, any, all-with-x, or any-with-x`);
    }
    const key = this.bindingKey(source, dest, routingKey, args);
    if (this.bindings.has(key)) return;
    const b: Binding = { source, destination: dest, routingKey, arguments: args, key };
    if (!restoring && this.isDurableBinding(b)) {
      this.journalOrRefuse(`bind ${this.exchangeDesc(source.name)} to ${dest.kind} '${dest.name}'`, (j) => j.bindingAdded(this.name, { source: source.name, kind, destination: dest.name, routingKey, arguments: args }));
    }
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
    if (!b) return;
    if (this.isDurableBinding(b)) {
      this.journalOrRefuse(`unbind ${this.exchangeDesc(source.name)} from ${dest.kind} '${dest.name}'`, (j) => j.bindingRemoved(this.name, { source: source.name, kind: dest.kind, destination: dest.name, routingKey, arguments: args }));
    }
    this.removeBinding(b);
  }

  /** Bindings between durable ends survive restarts (the implicit ones of the default exchange are not stored). */
  private isDurableBinding(b: Binding): boolean {
    if (!b.source.durable) return false;
    return b.destination.kind === 'queue' ? (b.destination as Queue).storage?.durable === true : (b.destination as Exchange).durable;
  }

  /** Drops a binding from the model (the caller has journaled what needs it). */
  private removeBinding(b: Binding): void {
    if (!this.bindings.delete(b.key)) return;
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
   * Routes a message from `exchange` into the queues it reaches (see
   * MessageRouter.route). The outcome is one reused instance, valid until the
   * next route() on this vhost: read it at once.
   */
  route(exchange: Exchange, routingKey: string, message: Message): PublishOutcome {
    return this.router.route(exchange, routingKey, message);
  }

  /** A message died in `queue`: republished to its dead-letter exchange, if any (see MessageRouter.deadLetter). */
  deadLetter(queue: Queue, message: Message, reason: DeathReason): void {
    this.router.deadLetter(queue, message, reason);
  }

  // ------------------------------------------------------------------ direct reply-to

  /** Whether queue.declare finds the direct reply-to pseudo-queue `name` (see DirectReplyTo.exists). */
  replyQueueExists(name: string): boolean {
    return this.replies.exists(name);
  }
}

/**
 * A binding's arguments as an identity string: their AMQP bytes with the keys
 * of every table sorted (equal tables, equal keys; any depth, no recursion).
 */
function argumentsKey(args: FieldTable): string {
  const w = new ByteWriter(64);
  encodeTableSorted(w, args);
  return w.take().toString('latin1');
}
