import { reportFailure, runGuarded } from '../observe/guard.js';
import { PropertyFlag, type FieldTable } from '../protocol/index.js';
import type { PagedRecord, PageInTarget, QueueStorage, Segment, StoredLocation, StoredRecordHolder } from '../store/queue-storage.js';
import type { DeathReason } from './dead-letter.js';
import { ConsumerRotation } from './consumer-rotation.js';
import { expiryIn, priorityIn } from './entry-rules.js';
import { FlowWaiters } from './flow-waiters.js';
import { ACTIVE_CONSUMER_MS, Enqueued, FLOW_HIGH, FLOW_LOW, type FlowWaiter, type Owner, type QueueConsumer, type QueueOptions } from './queue-types.js';
import type { Logger } from '../observe/logger.js';
import { QueueTimers } from './queue-timers.js';
import { Message, type QueueEntry } from './message.js';
import type { QueuePolicy } from './queue-arguments.js';
import { NO_POLICY, type AppliedPolicy } from './policies.js';
import { FifoReadyList, PriorityReadyList, type ReadyList } from './ready-list.js';
import type { Destination } from './routing.js';
import { peekQueue, queueStats, queueUsage } from './queue-read-side.js';
import type { PeekedMessage, QueueStats, QueueUsage } from './snapshots.js';
import { MessageStats } from '../observe/stats.js';

/** Messages paged back in at a time when the in-memory head runs low. */
const PAGE_IN_BATCH = 256;

export type { FlowSource, FlowWaiter, Owner, QueueConsumer, QueueOptions } from './queue-types.js';
export { Enqueued, FLOW_HIGH, FLOW_LOW } from './queue-types.js';

/** What the queue needs from its vhost. */
export interface QueueHost {
  /** Republish a message that died in `queue` to its dead-letter exchange (if any). */
  deadLetter(queue: Queue, message: Message, reason: DeathReason): void;
  /** The queue is to go (auto-delete after its last consumer, or x-expires). */
  removeQueue(queue: Queue): void;
  /** Where failures of the queue's timers are logged (null: stderr). */
  readonly logger: Logger | null;
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
  /** Which consumer is served next (round-robin by priority). */
  private readonly rotation = new ConsumerRotation();
  private dispatching = false;
  /** Head-of-queue TTL and x-expires (one timer each per queue). */
  private readonly timers: QueueTimers = new QueueTimers(this);
  /** Publishers paused because this queue is congested. */
  private readonly flowWaiters = new FlowWaiters();
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
    this.timers.armExpiry();
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

  /** What the queue holds now, as a plain object (see queue-read-side.ts). */
  stats(): QueueStats {
    return queueStats(this);
  }

  /** Up to `count` ready messages in delivery order, left where they are. */
  peek(count: number): PeekedMessage[] {
    return peekQueue(this, count);
  }

  /** Bytes, paging and activity, for the management API and metrics. */
  usage(): QueueUsage {
    return queueUsage(this);
  }

  get lastUsedAt(): number {
    return this.timers.lastUsed;
  }

  /** Ready messages a consumer with credit could take: dispatch is waiting for a socket to drain (or for the log). */
  get deliveryPending(): boolean {
    if (this.messageCount === 0) return false;
    for (const c of this.consumers) if (c.hasCredit()) return true;
    return false;
  }

  // ------------------------------------------------------------------ enqueue

  /** Would one more message of `size` bytes exceed x-max-length / x-max-length-bytes? */
  private isFull(size: number): boolean {
    const { maxLength, maxLengthBytes } = this.policy;
    return (maxLength !== undefined && this.messageCount >= maxLength) || (maxLengthBytes !== undefined && this.readyBytes + size > maxLengthBytes);
  }

  /** Offers a routed message; `record`: its message-log record, given only if the log counted a reference for this queue. */
  enqueue(message: Message, record: StoredLocation | null = null): Enqueued {
    const policy = this.policy;
    if (policy.overflow !== 'drop-head' && this.isFull(message.bodySize)) {
      if (record !== null) this.releaseRecord(record);
      if (policy.overflow === 'reject-publish-dlx') this.host?.deadLetter(this, message, 'maxlen');
      return Enqueued.Rejected;
    }
    const hasTtl = policy.messageTtl !== undefined || message.hasProperty(PropertyFlag.Expiration);
    const now = hasTtl ? Date.now() : 0;
    const expiresAt = hasTtl ? expiryIn(this.policy, message, now) : 0;
    if (record !== null && this.paging) {
      this.storage!.pageOut(record, expiresAt, message.bodySize);
      this.readyBytes += message.bodySize;
      this.enforceLimits();
      return Enqueued.Accepted;
    }
    const entry: QueueEntry = { seq: this.nextSeq++, message, redelivered: false, record, expiresAt, priority: priorityIn(this.policy, message), returns: 0 };
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
    if (expiresAt !== 0) this.timers.armTtl();
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
    this.flowWaiters.add(waiter);
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
    if (this.flowWaiters.length > 0 && this.messageCount <= FLOW_LOW) this.flowWaiters.release();
    this.timers.armTtl();
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
    this.timers.armTtl();
    return entry;
  }

  /** Drops expired messages waiting at the head (before reporting counts, as RabbitMQ does). */
  dropExpired(): void {
    const now = Date.now();
    for (let head = this.ready.peek(); head && head.expiresAt !== 0 && head.expiresAt <= now; head = this.ready.peek()) {
      this.die(this.shiftReady()!, 'expired');
    }
  }

  /** `fn` as a timer callback: a failure is logged with the queue's name and the broker goes on. */
  inBackground(task: string, fn: () => void): () => void {
    return () => void runGuarded(this.host?.logger, task, { queue: this.name }, fn);
  }

  /** Receives the backlog paged back in, in order (see QueueStorage.pageIn). */
  private newPageTarget(): PageInTarget {
    return {
      pagedIn: (p: PagedRecord): void => {
        const message = new Message(p.exchange, p.routingKey, p.header, p.body, p.body.length);
        // Its priority level again (restored priority queues), from the message's own property.
        this.ready.push({ seq: this.nextSeq++, message, redelivered: p.redelivered, record: p.record, expiresAt: p.expiresAt, priority: priorityIn(this.policy, message), returns: 0 });
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
    if (entry.expiresAt !== 0) this.timers.armTtl();
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
    this.rotation.added(this.consumers);
    this.hadConsumer = true;
    this.dispatch();
  }

  removeConsumer(consumer: QueueConsumer): void {
    const i = this.consumers.indexOf(consumer);
    if (i < 0) return;
    this.touch();
    this.consumers.splice(i, 1);
    this.rotation.removed(this.consumers, i);
    if (this.consumers.length === 0 && this.autoDelete && this.hadConsumer) this.host?.removeQueue(this);
    // With a single active consumer, the next one in line takes over.
    else if (this.policy.singleActiveConsumer && i === 0) this.dispatch();
  }

  /** The consumer to deliver to next (see ConsumerRotation); single active consumer: only the first subscriber. */
  private nextConsumer(): QueueConsumer | null {
    const list = this.consumers;
    if (list.length === 0) return null;
    if (this.policy.singleActiveConsumer) return list[0]!.canTake() ? list[0]! : null;
    return this.rotation.next(list);
  }

  // ------------------------------------------------------------------ x-expires

  /** x-expires ran out (see QueueTimers): the queue goes. */
  expire(): void {
    this.host?.removeQueue(this);
  }

  /** The queue was used (consume, cancel, get, declare): an x-expires countdown starts again. */
  touch(): void {
    this.timers.lastUsed = Date.now();
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
    if (expiresChanged) this.timers.restartExpiry();
  }

  /** The queue is gone: stop its timers. */
  dispose(): void {
    this.flowWaiters.release();
    this.timers.clear();
  }
}
