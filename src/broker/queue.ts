import type { Logger } from '../observe/logger.js';
import { reportFailure, runGuarded } from '../observe/guard.js';
import { setLongTimeout, type LongTimeout } from '../observe/long-timer.js';
import { PropertyFlag, type FieldTable } from '../protocol/index.js';
import type { PagedRecord, PageInTarget, QueueStorage, Segment, StoredLocation, StoredRecordHolder } from '../store/queue-storage.js';
import type { DeathReason } from './dead-letter.js';
import { Message, type QueueEntry } from './message.js';
import type { QueuePolicy } from './queue-arguments.js';
import { NO_POLICY, type AppliedPolicy } from './policies.js';
import { FifoReadyList, PriorityReadyList, type ReadyList } from './ready-list.js';
import type { Destination } from './routing.js';
import { peekQueue } from './queue-peek.js';
import { copyTable, type PeekedMessage, type QueueStats, type QueueUsage } from './snapshots.js';
import { MessageStats } from '../observe/stats.js';

/** The connection that owns an exclusive queue (identity only). */
export interface Owner {
  readonly id: number;
}

export interface QueueOptions {
  durable: boolean;
  exclusiveOwner: Owner | null;
  autoDelete: boolean;
  arguments: FieldTable;
  /** What the arguments ask for (validated by the vhost at declare). */
  policy: QueuePolicy;
}

/** What the queue needs from its vhost. */
export interface QueueHost {
  /** Republish a message that died in `queue` to its dead-letter exchange (if any). */
  deadLetter(queue: Queue, message: Message, reason: DeathReason): void;
  /** The queue is to go (auto-delete after its last consumer, or x-expires). */
  removeQueue(queue: Queue): void;
  /** Where failures of the queue's timers are logged (null: stderr). */
  readonly logger: Logger | null;
}

/** Messages paged back in at a time when the in-memory head runs low. */
const PAGE_IN_BATCH = 256;

/**
 * Flow control between publishers and a queue whose consumers fall behind:
 * above FLOW_HIGH ready messages (while a consumer has prefetch credit, so the
 * backlog is a matter of speed, not of consumers holding back), publishers to
 * it stop being read until it is down to FLOW_LOW. This plays the part of
 * RabbitMQ's credit flow in a single-threaded broker: reading publishers
 * cannot starve delivery.
 */
export const FLOW_HIGH = 4096;
export const FLOW_LOW = 1024;
/** A consumer that acked within this many ms counts as active for flow control. */
const ACTIVE_CONSUMER_MS = 200;

/** A publisher paused by flow control (the server's connection). */
/** What a queue needs from a consumer subscribed to it (Consumer, in consumer.ts). */
export interface QueueConsumer {
  readonly tag: string;
  readonly exclusive: boolean;
  /** Deliveries need no ack: the queue is done with a message once it is handed over. */
  readonly noAck: boolean;
  /** x-priority: higher ones are served first while they have credit. */
  readonly priority: number;
  /** May it take another message now (credit, and room on the socket)? */
  canTake(): boolean;
  /** Prefetch allows another delivery (whatever the state of the socket). */
  hasCredit(): boolean;
  deliver(entry: QueueEntry): void;
  /** The queue was deleted under it. */
  queueDeleted(): void;
}

export interface FlowWaiter {
  flowResumed(): void;
}

/** Something a publisher can be paused on: a congested queue, or a message log behind on writes. */
export interface FlowSource {
  addFlowWaiter(waiter: FlowWaiter): void;
}

/** Outcome of offering a message to a queue. */
export const enum Enqueued {
  Accepted,
  /** x-overflow reject-publish(-dlx): the queue is full; the publisher gets a nack. */
  Rejected,
}

/**
 * A queue: ready messages in delivery order (FIFO, or per priority level),
 * consumers served round-robin among those with credit (highest x-priority
 * first; a single active consumer when asked). Message TTL is checked at the
 * head and on delivery with one timer per queue, never one per message;
 * length limits drop from the head or refuse new messages; dead messages go
 * to the vhost's dead-lettering. Enqueue and dispatch are O(1) per message.
 */
export class Queue implements Destination {
  readonly kind = 'queue';
  routeMark = 0;
  readonly durable: boolean;
  readonly exclusiveOwner: Owner | null;
  readonly autoDelete: boolean;
  readonly arguments: FieldTable;
  /** The settings the queue's own arguments ask for. */
  readonly declaredPolicy: QueuePolicy;
  /** The settings in force: the arguments resolved with the matching policies (see policies.ts). */
  policy: QueuePolicy;
  /** The policies in force, by name, and their merged definition (for the management API). */
  appliedPolicy: AppliedPolicy = NO_POLICY;
  readonly ready: ReadyList;
  /** In subscription order; dispatch order is by priority (see nextConsumer). */
  readonly consumers: QueueConsumer[] = [];
  /** Messages delivered and awaiting ack, and their body bytes (counted here as they go out, settled here as they come back). */
  unackedCount = 0;
  unackedBytes = 0;
  /**
   * The delivered, unacked entries that hold a log record: compaction asks the
   * queue (not the channels) where those records are referenced. Only these are
   * tracked, so transient messages pay nothing for it.
   */
  private readonly outWithRecord = new Set<QueueEntry>();
  /** Body bytes of the ready messages (memory and disk), for x-max-length-bytes. */
  readyBytes = 0;
  /** Auto-delete queues go when their last consumer leaves, once they have had one. */
  hadConsumer = false;
  deleted = false;
  host: QueueHost | null = null;
  /** The queue's storage port (store/queue-storage.ts); null: a memory queue (no data directory). */
  storage: QueueStorage | null = null;
  /** Where page-ins hand their records (made on the first page-in). */
  private pageTarget: PageInTarget | null = null;
  /** A page-in found its next record not yet written; the log's flush will call dispatch() again. */
  waitingForLog = false;
  private nextSeq = 1;
  private rr = 0;
  /** Whether every consumer has the same x-priority (then plain round-robin applies). */
  private uniformPriority = true;
  private readonly rrByPriority = new Map<number, number>();
  private dispatching = false;
  private ttlTimer: LongTimeout | null = null;
  private ttlTimerAt = 0;
  private expiryTimer: LongTimeout | null = null;
  private lastUsed = Date.now();
  /** Publishers paused because this queue is congested. */
  private flowWaiters: FlowWaiter[] = [];
  /** When a consumer last acked a message (flow control tells busy consumers from stuck ones). */
  private lastSettledAt = 0;
  /** Message counters (publish = enqueued here; deliver, get, ack, redeliver). */
  readonly messageStats = new MessageStats();

  constructor(readonly name: string, options: QueueOptions) {
    this.durable = options.durable;
    this.exclusiveOwner = options.exclusiveOwner;
    this.autoDelete = options.autoDelete;
    this.arguments = options.arguments;
    this.declaredPolicy = options.policy;
    this.policy = options.policy;
    this.ready = this.policy.maxPriority !== undefined ? new PriorityReadyList(this.policy.maxPriority) : new FifoReadyList();
    this.armExpiry();
  }

  get messageCount(): number {
    return this.ready.length + (this.storage?.backlogLength ?? 0);
  }

  /**
   * True when new messages must go to disk: the queue has a store and its
   * in-memory head is full (or older messages already wait on disk). Priority
   * queues stay in memory: their order is not the disk's FIFO order.
   */
  get paging(): boolean {
    const storage = this.storage;
    return storage !== null && this.policy.maxPriority === undefined && (storage.backlogLength > 0 || this.ready.length >= storage.memoryWindow);
  }

  get consumerCount(): number {
    return this.consumers.length;
  }

  get hasExclusiveConsumer(): boolean {
    return this.consumers.length === 1 && this.consumers[0]!.exclusive;
  }

  // ------------------------------------------------------------------ read side

  /** What the queue holds now, as a plain object (nothing changes: no expiry check, no x-expires renewal). */
  stats(): QueueStats {
    const ready = this.messageCount;
    return {
      name: this.name,
      durable: this.durable,
      exclusive: this.exclusiveOwner !== null,
      autoDelete: this.autoDelete,
      arguments: copyTable(this.arguments),
      messages: ready + this.unackedCount,
      messagesReady: ready,
      messagesUnacknowledged: this.unackedCount,
      consumers: this.consumers.length,
    };
  }

  /** Up to `count` ready messages in delivery order, left where they are (see queue-peek.ts). */
  peek(count: number): PeekedMessage[] {
    return peekQueue(this, count);
  }

  /** Ready messages a consumer with credit could take: dispatch is waiting for a socket to drain (or for the log). */
  get deliveryPending(): boolean {
    if (this.messageCount === 0) return false;
    for (const c of this.consumers) if (c.hasCredit()) return true;
    return false;
  }

  /** Bytes, paging and activity, for the management API and metrics (taken on demand, never per message). */
  usage(): QueueUsage {
    const head = this.ready.peek();
    return {
      messageBytes: this.readyBytes + this.unackedBytes,
      messageBytesReady: this.readyBytes,
      messageBytesUnacknowledged: this.unackedBytes,
      messagesPagedOut: this.storage?.backlogLength ?? 0,
      activeConsumers: this.policy.singleActiveConsumer ? Math.min(1, this.consumers.length) : this.consumers.length,
      lastUsedAt: this.lastUsed,
      headMessageTimestamp: head?.message.properties.timestamp ?? null,
    };
  }

  // ------------------------------------------------------------------ enqueue

  /** When a message routed now expires here: the smaller of x-message-ttl and its own expiration; 0 for never. */
  private expiryFor(message: Message, now: number): number {
    let ttl = this.policy.messageTtl;
    const own = message.ttl;
    if (own !== undefined) ttl = ttl === undefined ? own : Math.min(ttl, own);
    return ttl === undefined ? 0 : now + ttl;
  }

  private priorityOf(message: Message): number {
    const max = this.policy.maxPriority;
    if (max === undefined) return 0;
    const p = message.properties.priority ?? 0;
    return p > max ? max : p;
  }

  /** Would one more message of `size` bytes exceed x-max-length / x-max-length-bytes? */
  private isFull(size: number): boolean {
    const { maxLength, maxLengthBytes } = this.policy;
    return (maxLength !== undefined && this.messageCount >= maxLength) || (maxLengthBytes !== undefined && this.readyBytes + size > maxLengthBytes);
  }

  /** Offers a routed message; `record` is its message-log record (null: none was written). */
  enqueue(message: Message, record: StoredLocation | null = null): Enqueued {
    if (record !== null && (this.storage === null || !this.storage.admits(record, this.paging))) record = null;
    const policy = this.policy;
    if (policy.overflow !== 'drop-head' && this.isFull(message.bodySize)) {
      if (record !== null) this.releaseRecord(record);
      if (policy.overflow === 'reject-publish-dlx') this.host?.deadLetter(this, message, 'maxlen');
      return Enqueued.Rejected;
    }
    const hasTtl = policy.messageTtl !== undefined || message.hasProperty(PropertyFlag.Expiration);
    const now = hasTtl ? Date.now() : 0;
    const expiresAt = hasTtl ? this.expiryFor(message, now) : 0;
    if (record !== null && this.paging) {
      this.storage!.pageOut(record, expiresAt, message.bodySize);
      this.readyBytes += message.bodySize;
      this.enforceLimits();
      return Enqueued.Accepted;
    }
    const entry: QueueEntry = { seq: this.nextSeq++, message, redelivered: false, record, expiresAt, priority: this.priorityOf(message), returns: 0 };
    if (this.ready.length === 0 && this.consumers.length > 0 && !this.dispatching) {
      const consumer = this.nextConsumer();
      if (consumer) {
        this.handOut(consumer, entry);
        return Enqueued.Accepted;
      }
    }
    if (expiresAt !== 0 && expiresAt <= now) {
      // TTL 0 (or already past): only a consumer waiting right now could have had it.
      this.die(entry, 'expired');
      return Enqueued.Accepted;
    }
    this.ready.push(entry);
    this.readyBytes += message.bodySize;
    if (expiresAt !== 0) this.armTtlTimer();
    this.enforceLimits();
    return Enqueued.Accepted;
  }

  /** x-overflow drop-head: over the limit, the oldest ready messages die (reason maxlen). */
  private enforceLimits(): void {
    const { maxLength, maxLengthBytes } = this.policy;
    if (maxLength === undefined && maxLengthBytes === undefined) return;
    while ((maxLength !== undefined && this.messageCount > maxLength) || (maxLengthBytes !== undefined && this.readyBytes > maxLengthBytes)) {
      const head = this.shiftReady();
      if (!head) break;
      this.die(head, 'maxlen');
    }
  }

  // ------------------------------------------------------------------ delivery

  /**
   * Gives an entry to a consumer; a persistent message's first delivery is
   * noted in the log. It is unacked until settled, or (no-ack) done with once
   * the consumer has it.
   */
  private handOut(consumer: QueueConsumer, entry: QueueEntry): void {
    if (entry.record !== null && !entry.redelivered) this.storage!.delivered(entry.record);
    if (consumer.noAck) {
      consumer.deliver(entry);
      this.discard(entry);
      return;
    }
    this.countUnacked(entry);
    consumer.deliver(entry);
  }

  /** `entry` went out and awaits its ack (or requeue, or rejection). */
  private countUnacked(entry: QueueEntry): void {
    this.unackedCount++;
    this.unackedBytes += entry.message.bodySize;
    if (entry.record !== null) this.outWithRecord.add(entry);
  }

  /** `entry` came back from its consumer: acked, requeued or rejected. */
  private uncountUnacked(entry: QueueEntry): void {
    this.unackedCount--;
    this.unackedBytes -= entry.message.bodySize;
    if (entry.record !== null) this.outWithRecord.delete(entry);
  }

  /** The next ready entry (paging in from disk when the memory head is empty), minus its bytes. */
  private shiftReady(): QueueEntry | undefined {
    const storage = this.storage;
    if (this.ready.length === 0 && storage !== null && storage.backlogLength > 0) {
      // A priority queue only has a backlog after a restart: take all of it, or a later batch's
      // higher priorities would wait behind this batch's lower ones.
      this.waitingForLog = !storage.pageIn(this.policy.maxPriority !== undefined ? storage.backlogLength : PAGE_IN_BATCH, (this.pageTarget ??= this.newPageTarget()));
    }
    const entry = this.ready.shift();
    if (entry) this.readyBytes -= entry.message.bodySize;
    return entry;
  }

  /** The next live ready entry: expired ones met on the way die (reason expired). */
  private nextLive(now: number): QueueEntry | undefined {
    for (;;) {
      const entry = this.shiftReady();
      if (!entry) return undefined;
      if (entry.expiresAt === 0 || entry.expiresAt > now) return entry;
      this.die(entry, 'expired');
    }
  }

  /**
   * True when publishers should pause: the backlog is above FLOW_HIGH and a
   * consumer could take more if only delivery kept up.
   */
  get congested(): boolean {
    if (this.messageCount <= FLOW_HIGH || this.consumers.length === 0) return false;
    for (const c of this.consumers) if (c.hasCredit()) return true;
    // Consumers at their prefetch limit but acking steadily are still keeping up as fast
    // as they can: the backlog is about speed. Consumers that stopped acking are not.
    return Date.now() - this.lastSettledAt < ACTIVE_CONSUMER_MS;
  }

  /** Pause `waiter` until this queue has caught up (or is gone). */
  addFlowWaiter(waiter: FlowWaiter): void {
    // A throttled publisher asks again every pause (50 ms) while the queue stays congested:
    // keep it once, or the list grows (and holds closed connections) until the queue drains.
    if (!this.flowWaiters.includes(waiter)) this.flowWaiters.push(waiter);
  }

  private releaseFlow(): void {
    const waiters = this.flowWaiters;
    this.flowWaiters = [];
    for (const w of waiters) w.flowResumed();
  }

  /** Hands ready messages to consumers with credit until one side runs out. */
  dispatch(): void {
    if (this.dispatching || this.deleted) return;
    this.dispatching = true;
    try {
      let now = 0;
      while (this.messageCount > 0) {
        const consumer = this.nextConsumer();
        if (!consumer) break;
        if (now === 0) now = Date.now();
        const entry = this.nextLive(now);
        if (!entry) break;
        this.handOut(consumer, entry);
      }
    } finally {
      this.dispatching = false;
    }
    if (this.flowWaiters.length > 0 && this.messageCount <= FLOW_LOW) this.releaseFlow();
    this.armTtlTimer();
  }

  /** Takes the next ready message (basic.get): unacked until settled, or (no-ack) done with at once. */
  take(noAck: boolean): QueueEntry | undefined {
    this.touch();
    const entry = this.nextLive(Date.now());
    if (entry) {
      if (entry.record !== null && !entry.redelivered) this.storage!.delivered(entry.record);
      if (noAck) this.discard(entry);
      else this.countUnacked(entry);
    }
    this.armTtlTimer();
    return entry;
  }

  /** Drops expired messages waiting at the head (before reporting counts, as RabbitMQ does). */
  dropExpired(): void {
    const now = Date.now();
    for (let head = this.ready.peek(); head && head.expiresAt !== 0 && head.expiresAt <= now; head = this.ready.peek()) {
      this.die(this.shiftReady()!, 'expired');
    }
  }

  /** One timer per queue, for the head's expiry (messages behind it are checked when they reach it). */
  private armTtlTimer(): void {
    const head = this.ready.peek();
    const at = head?.expiresAt ?? 0;
    if (at === 0 || this.deleted) return;
    if (this.ttlTimer && this.ttlTimerAt <= at) return;
    this.ttlTimer?.clear();
    this.ttlTimerAt = at;
    this.ttlTimer = setLongTimeout(this.inBackground('message TTL expiry', () => {
      this.ttlTimer = null;
      this.dropExpired();
      this.armTtlTimer();
    }), at - Date.now());
  }

  /** `fn` as a timer callback: a failure is logged with the queue's name and the broker goes on. */
  private inBackground(task: string, fn: () => void): () => void {
    return () => void runGuarded(this.host?.logger, task, { queue: this.name }, fn);
  }

  /** Receives the backlog paged back in, in order (see QueueStorage.pageIn). */
  private newPageTarget(): PageInTarget {
    return {
      pagedIn: (p: PagedRecord): void => {
        const message = new Message(p.exchange, p.routingKey, p.header, p.body, p.body.length);
        // Its priority level again (restored priority queues), from the message's own property.
        this.ready.push({ seq: this.nextSeq++, message, redelivered: p.redelivered, record: p.record, expiresAt: p.expiresAt, priority: this.priorityOf(message), returns: 0 });
      },
      unreadable: (bodySize: number, where: Record<string, number>, err: unknown): void => {
        this.readyBytes -= bodySize;
        reportFailure(this.host?.logger, 'paging in', { queue: this.name, ...where }, err);
      },
    };
  }

  /** Compaction: every in-memory entry (ready, or out and unacked) whose record is in `segment` (see StoredRecordHolder). */
  recordsIn(segment: Segment, visit: Parameters<StoredRecordHolder['recordsIn']>[1]): void {
    for (const entry of this.ready) {
      const record = entry.record;
      if (record !== null && record.segment === segment) visit(record, entry.redelivered, (to) => (entry.record = to));
    }
    for (const entry of this.outWithRecord.values()) {
      const record = entry.record;
      if (record !== null && record.segment === segment) visit(record, true, (to) => (entry.record = to));
    }
  }

  /** The log finished a write: a page-in that was waiting may go on. */
  logFlushed(): void {
    if (!this.waitingForLog) return;
    this.waitingForLog = false;
    // A length limit could not drop records still being written: it can now.
    if (this.policy.overflow === 'drop-head') this.enforceLimits();
    this.dispatch();
  }

  // ------------------------------------------------------------------ settling

  private releaseRecord(loc: StoredLocation): void {
    this.storage!.settle(loc, this.deleted);
  }

  /** Done with an entry that was not counted unacked (no-ack delivery, discarded): release its log record. */
  discard(entry: QueueEntry): void {
    if (entry.record !== null) this.releaseRecord(entry.record);
  }

  /** A message leaves the queue dead: dead-lettered (if the queue has a DLX), then dropped here. */
  private die(entry: QueueEntry, reason: DeathReason): void {
    try {
      if (!this.deleted) this.host?.deadLetter(this, entry.message, reason);
    } finally {
      // Gone from this queue whatever dead-lettering did: its log record must not leak.
      this.discard(entry);
    }
  }

  /**
   * Puts a delivered message back at its original position, marked redelivered.
   * A quorum queue counts the return and dead-letters past x-delivery-limit.
   * Call dispatch() after a batch.
   */
  requeue(entry: QueueEntry): void {
    this.uncountUnacked(entry);
    if (this.deleted) {
      this.discard(entry);
      return;
    }
    entry.redelivered = true;
    entry.returns++;
    const limit = this.policy.deliveryLimit;
    if (this.policy.type === 'quorum' && limit !== undefined && entry.returns > limit) {
      this.die(entry, 'delivery_limit');
      return;
    }
    this.ready.requeue(entry);
    this.readyBytes += entry.message.bodySize;
    if (entry.expiresAt !== 0) this.armTtlTimer();
    // RabbitMQ drops from the head after a requeue too (requeue_and_run → maybe_drop_head),
    // for drop-head only: a requeue never refuses anything under reject-publish.
    if (this.policy.overflow === 'drop-head') this.enforceLimits();
  }

  /** An unacked message was acked. */
  settle(entry: QueueEntry): void {
    this.uncountUnacked(entry);
    this.messageStats.ack++;
    this.lastSettledAt = Date.now();
    this.discard(entry);
  }

  /** An unacked message was rejected without requeue (basic.reject / basic.nack): it dies as 'rejected'. */
  reject(entry: QueueEntry): void {
    this.uncountUnacked(entry);
    this.die(entry, 'rejected');
  }

  /** Drops every ready message (in memory and on disk); returns how many. */
  purge(): number {
    const n = this.messageCount;
    for (const entry of this.ready) this.discard(entry);
    this.ready.clear();
    this.readyBytes = 0;
    this.storage?.dropBacklog(this.deleted);
    return n;
  }

  // ------------------------------------------------------------------ consumers

  addConsumer(consumer: QueueConsumer): void {
    this.touch();
    this.consumers.push(consumer);
    this.uniformPriority = this.consumers.every((c) => c.priority === this.consumers[0]!.priority);
    this.hadConsumer = true;
    this.dispatch();
  }

  removeConsumer(consumer: QueueConsumer): void {
    const i = this.consumers.indexOf(consumer);
    if (i < 0) return;
    this.touch();
    this.consumers.splice(i, 1);
    if (this.rr > i) this.rr--;
    this.uniformPriority = this.consumers.every((c) => c.priority === this.consumers[0]!.priority);
    if (this.consumers.length === 0 && this.autoDelete && this.hadConsumer) this.host?.removeQueue(this);
    // With a single active consumer, the next one in line takes over.
    else if (this.policy.singleActiveConsumer && i === 0) this.dispatch();
  }

  /**
   * The consumer to deliver to next. Single active consumer: only the first
   * subscriber. Otherwise the highest x-priority among consumers with credit,
   * round-robin among equals (plain round-robin when all are equal — the
   * common case, O(1) per message).
   */
  private nextConsumer(): QueueConsumer | null {
    const list = this.consumers;
    const n = list.length;
    if (n === 0) return null;
    if (this.policy.singleActiveConsumer) return list[0]!.canTake() ? list[0]! : null;
    if (this.uniformPriority) {
      for (let tries = 0; tries < n; tries++) {
        if (this.rr >= n) this.rr = 0;
        const c = list[this.rr++]!;
        if (c.canTake()) return c;
      }
      return null;
    }
    const priorities = [...new Set(list.map((c) => c.priority))].sort((a, b) => b - a);
    for (const p of priorities) {
      const group = list.filter((c) => c.priority === p);
      let rr = this.rrByPriority.get(p) ?? 0;
      for (let tries = 0; tries < group.length; tries++) {
        if (rr >= group.length) rr = 0;
        const c = group[rr++]!;
        if (c.canTake()) {
          this.rrByPriority.set(p, rr);
          return c;
        }
      }
    }
    return null;
  }

  // ------------------------------------------------------------------ x-expires

  /** The queue was used (consume, cancel, get, declare): an x-expires countdown starts again. */
  touch(): void {
    this.lastUsed = Date.now();
  }

  private armExpiry(): void {
    const expires = this.policy.expires;
    if (expires === undefined) return;
    const wait = this.lastUsed + expires - Date.now();
    this.expiryTimer = setLongTimeout(this.inBackground('queue expiry (x-expires)', () => {
      this.expiryTimer = null;
      if (this.deleted) return;
      if (this.consumers.length > 0) this.touch(); // in use: the countdown starts when the last consumer goes
      else if (Date.now() - this.lastUsed >= expires) {
        this.host?.removeQueue(this);
        return;
      }
      this.armExpiry();
    }), wait);
  }

  /**
   * Installs settings resolved from a policy change, at once: a lower length
   * limit drops the oldest messages now (drop-head), a new x-expires restarts
   * its countdown. TTLs apply to messages enqueued from now on (as RabbitMQ,
   * which fixes a message's expiry when it is enqueued).
   */
  applyPolicy(settings: QueuePolicy, applied: AppliedPolicy): void {
    const expiresChanged = settings.expires !== this.policy.expires;
    this.policy = settings;
    this.appliedPolicy = applied;
    if (this.deleted) return;
    if (settings.overflow === 'drop-head') this.enforceLimits();
    if (expiresChanged) {
      this.expiryTimer?.clear();
      this.expiryTimer = null;
      this.armExpiry();
    }
  }

  /** The queue is gone: stop its timers. */
  dispose(): void {
    this.releaseFlow();
    this.ttlTimer?.clear();
    this.expiryTimer?.clear();
    this.ttlTimer = null;
    this.expiryTimer = null;
  }
}
