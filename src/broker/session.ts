import { AmqpError, PropertyFlag, ReplyCode, Typed, fieldTypeName, type FieldTable } from '../protocol/index.js';
import { Consumer, type ConsumerSession } from './consumer.js';
import { Deque } from './deque.js';
import type { Message, QueueEntry } from './message.js';
import { generatedConsumerTag } from './names.js';
import type { Owner, Queue } from './queue.js';
import type { DurableWaiter } from '../store/durability-port.js';
import { REPLY_TO_PREFIX, REPLY_TO_QUEUE, type ReplyTarget } from './direct-reply-to.js';
import type { VirtualHost } from './virtual-host.js';
import { assertRoutingHeaders, withoutBcc } from './routing-headers.js';
import { randomBytes } from 'node:crypto';
import { MessageStats } from '../observe/stats.js';
import type { GetResult, SessionSink } from './session-sink.js';

export type { GetResult, SessionSink } from './session-sink.js';

/** One delivery awaiting ack, keyed by its channel-wide delivery tag. */
interface Delivery {
  readonly tag: number;
  readonly queue: Queue;
  readonly entry: QueueEntry;
  readonly consumer: Consumer | null;
  settled: boolean;
  /** Acked/rejected inside the open transaction: settled at commit, released again by rollback. */
  inTx: boolean;
  /** When it was delivered (Date.now()), for the consumer acknowledgement timeout. */
  readonly at: number;
}

const deliveryTag = (d: Delivery): number => d.tag;

/** What a consumer receives: quorum queues add x-delivery-count to a message that was returned before. */
function deliveredMessage(queue: Queue, entry: QueueEntry): Message {
  if (entry.returns === 0 || queue.policy.type !== 'quorum') return entry.message;
  const m = entry.message;
  // A long, as RabbitMQ writes it (rabbit_basic:add_header(<<"x-delivery-count">>, long, …)).
  return m.withProperties({ ...m.properties, headers: { ...(m.properties.headers ?? {}), 'x-delivery-count': new Typed('l', entry.returns) } });
}

/** A transaction's deferred work (tx.select): publishes and settlements applied at commit. */
interface Transaction {
  publishes: { exchange: string; routingKey: string; message: Message; mandatory: boolean }[];
  /**
   * Deliveries acked or rejected in the transaction. They are claimed at once,
   * as RabbitMQ takes them off the channel's unacked list at the ack, so a
   * second ack of the same tag is a 406 right away rather than at commit.
   */
  settlements: { deliveries: Delivery[]; requeue: boolean | null }[];
}

/**
 * The model side of one AMQP channel: its consumers, unacked deliveries,
 * prefetch limits, publisher confirms and transaction. Pure model: it turns
 * requests into queue operations and tells its sink what to send.
 */
export class Session implements DurableWaiter, ReplyTarget, ConsumerSession {
  readonly consumers = new Map<string, Consumer>();
  /** basic.qos global=false: prefetch given to consumers created from now on. */
  consumerPrefetch = 0;
  /** basic.qos global=true: limit on unacked deliveries across the channel. */
  channelPrefetch = 0;
  unackedCount = 0;
  confirmMode = false;
  private publishSeq = 0;
  private tx: Transaction | null = null;
  private nextTag = 1;
  private readonly unacked = new Deque<Delivery>();
  private closed = false;
  /** Direct reply-to: this channel's consumer of amq.rabbitmq.reply-to, and its reply address key. */
  private replyConsumerTag: string | null = null;
  private replyKey: string | null = null;
  /** This channel's message counters (folded into the vhost's when it closes). */
  readonly messageStats = new MessageStats();

  constructor(readonly vhost: VirtualHost, readonly owner: Owner, readonly sink: SessionSink, readonly username: string) {
    vhost.channels.opened(this.messageStats);
    vhost.churn.channelsOpened++;
  }

  /** Publishes numbered for publisher confirms so far (the last sequence number handed out). */
  get confirmSequence(): number {
    return this.publishSeq;
  }

  /**
   * When the oldest delivery still awaiting ack was made (Date.now()), or -1.
   * Deliveries are kept in tag order, so this looks at the front only.
   */
  oldestUnackedAt(): number {
    for (const d of this.unacked) if (!d.settled) return d.at;
    return -1;
  }

  /** Publishes numbered for confirms so far (the last sequence number). */
  get confirmSeq(): number {
    return this.publishSeq;
  }

  get transactional(): boolean {
    return this.tx !== null;
  }

  /** Publishes and acknowledgements held by the open transaction. */
  get uncommittedMessages(): number {
    return this.tx?.publishes.length ?? 0;
  }

  get uncommittedAcks(): number {
    let n = 0;
    if (this.tx) for (const s of this.tx.settlements) n += s.deliveries.length;
    return n;
  }

  // ------------------------------------------------------------- publishing

  /** Routes a complete message (basic.publish + content). In a transaction it waits for commit. */
  publish(exchange: string, routingKey: string, message: Message, mandatory: boolean): void {
    // The exchange must exist now, even in a transaction (404 closes the channel at once, as RabbitMQ).
    const target = this.vhost.exchangeForPublish(exchange);
    // RabbitMQ's order: the reply-to address first (maybe_set_fast_reply_to), then the expiration.
    if (message.hasProperty(PropertyFlag.ReplyTo) && message.properties.replyTo === REPLY_TO_QUEUE) message = this.withReplyAddress(message);
    void message.ttl; // an invalid expiration is a 406 here; parsed once, every queue reads the result
    // CC/BCC must be arrays (a 406 at publish, even in a transaction, as RabbitMQ's rabbit_basic:message).
    assertRoutingHeaders(message);
    if (this.tx) {
      this.tx.publishes.push({ exchange, routingKey, message, mandatory });
      return;
    }
    const seq = this.confirmMode ? ++this.publishSeq : 0;
    // The vhost's outcome instance: everything needed is read from it before the sink is called
    // (a sink call could, in principle, lead to another publish on this vhost).
    const outcome = this.vhost.route(target, routingKey, message);
    const { rejected, congested, durableWrite } = outcome;
    const unroutable = outcome.routed === 0 && !rejected;
    if (congested !== null) this.sink.throttle(congested);
    const stats = this.messageStats;
    stats.publish++;
    // Refused by a full queue (reject-publish) counts as routed: a nack, no basic.return.
    // A returned message has lost its BCC header too (RabbitMQ strips it at publish).
    if (unroutable) this.unroutable(message, mandatory);
    if (seq === 0) return;
    // A full queue with x-overflow reject-publish refused it: the publisher learns by a nack.
    if (rejected) return this.sink.confirm(seq, false);
    // A persistent message on a durable queue is confirmed once it is on disk (fdatasync'd).
    if (durableWrite) this.vhost.durability.whenDurable(this, seq);
    else this.sink.confirm(seq, true);
  }

  /** A publish no queue took: back to a mandatory publisher (basic.return 312), otherwise dropped. */
  private unroutable(message: Message, mandatory: boolean): void {
    const stats = this.messageStats;
    if (mandatory) {
      stats.return_unroutable++;
      this.sink.returnMessage(ReplyCode.NoRoute, 'NO_ROUTE', withoutBcc(message));
    } else stats.drop_unroutable++;
  }

  /** Publish `seq` is durable (store/durability-port.ts). */
  onDurable(seq: number): void {
    if (!this.closed) this.sink.confirm(seq, true);
  }

  /** The write that carried publish `seq` failed (disk full): the publisher gets a nack, never a confirm. */
  onDurableFailed(seq: number): void {
    if (!this.closed) this.sink.confirm(seq, false);
  }

  // ------------------------------------------------------------- consuming

  consume(queueName: string, tag: string, noAck: boolean, exclusive: boolean, args: FieldTable): string {
    const consumerTag = tag === '' ? generatedConsumerTag() : tag;
    if (this.consumers.has(consumerTag) || this.replyConsumerTag === consumerTag) {
      throw new AmqpError(ReplyCode.NotAllowed, `attempt to reuse consumer tag '${consumerTag}'`);
    }
    if (queueName === REPLY_TO_QUEUE) return this.consumeReplies(consumerTag, noAck);
    const queue = this.vhost.queueForUse(queueName, this.owner);
    if (queue.hasExclusiveConsumer || (exclusive && (queue.consumerCount > 0 || queue.policy.singleActiveConsumer))) {
      throw new AmqpError(ReplyCode.AccessRefused, `queue '${queue.name}' in vhost '${this.vhost.name}' in exclusive use`);
    }
    const priority = args['x-priority'];
    if (priority !== undefined && typeof priority !== 'number' && typeof priority !== 'bigint') {
      throw new AmqpError(ReplyCode.PreconditionFailed, `invalid arg 'x-priority' for queue '${queue.name}' in vhost '${this.vhost.name}': {unacceptable_type,${fieldTypeName(args, 'x-priority')}}`);
    }
    const consumer = new Consumer(consumerTag, queue, this, noAck, exclusive, this.consumerPrefetch, args);
    this.consumers.set(consumerTag, consumer);
    // The caller sends consume-ok before any delivery: add the consumer afterwards.
    return consumerTag;
  }

  /** Starts deliveries to a consumer registered by consume() (after consume-ok went out). */
  activate(consumerTag: string): void {
    const c = this.consumers.get(consumerTag);
    if (c) c.queue.addConsumer(c);
  }

  /** basic.cancel: unknown tags are fine (RabbitMQ answers cancel-ok). Unacked deliveries stay unacked. */
  cancel(consumerTag: string): void {
    if (consumerTag === this.replyConsumerTag) return this.stopReplies();
    const c = this.consumers.get(consumerTag);
    if (!c) return;
    this.consumers.delete(consumerTag);
    c.queue.removeConsumer(c);
  }

  /** The queue went away: forget the consumer and tell the client. */
  consumerGone(consumer: Consumer): void {
    if (this.consumers.get(consumer.tag) !== consumer) return;
    this.consumers.delete(consumer.tag);
    this.sink.consumerCancelled(consumer.tag);
  }

  /** Called by a queue for each message it hands to one of this session's consumers. */
  deliver(consumer: Consumer, entry: QueueEntry): void {
    const tag = this.nextTag++;
    const stats = this.messageStats;
    const qstats = consumer.queue.messageStats;
    if (consumer.noAck) {
      stats.deliver_no_ack++;
      qstats.deliver_no_ack++;
    } else {
      stats.deliver++;
      qstats.deliver++;
    }
    if (entry.redelivered) {
      stats.redeliver++;
      qstats.redeliver++;
    }
    if (!consumer.noAck) {
      this.unacked.push({ tag, queue: consumer.queue, entry, consumer, settled: false, inTx: false, at: Date.now() });
      consumer.unacked++;
      this.unackedCount++;
    }
    // The queue counts it unacked (or, no-ack, is done with it): see Queue.handOut.
    this.sink.deliver(consumer.tag, tag, entry.redelivered, deliveredMessage(consumer.queue, entry));
  }

  get(queueName: string, noAck: boolean): GetResult | null {
    const queue = this.vhost.queueForUse(queueName, this.owner);
    const entry = queue.take(noAck);
    if (!entry) {
      this.messageStats.get_empty++;
      return null;
    }
    const tag = this.nextTag++;
    const stats = this.messageStats;
    if (noAck) {
      stats.get_no_ack++;
      queue.messageStats.get_no_ack++;
    } else {
      stats.get++;
      queue.messageStats.get++;
    }
    if (entry.redelivered) {
      stats.redeliver++;
      queue.messageStats.redeliver++;
    }
    if (!noAck) {
      this.unacked.push({ tag, queue, entry, consumer: null, settled: false, inTx: false, at: Date.now() });
      this.unackedCount++;
    }
    return { deliveryTag: tag, redelivered: entry.redelivered, message: deliveredMessage(queue, entry), messageCount: queue.messageCount };
  }

  qos(prefetchCount: number, global: boolean): void {
    if (global) this.channelPrefetch = prefetchCount;
    else this.consumerPrefetch = prefetchCount;
    this.resume();
  }

  // ------------------------------------------------------------- direct reply-to

  /** basic.consume from amq.rabbitmq.reply-to: no queue, replies come straight to this channel (no-ack only). */
  private consumeReplies(consumerTag: string, noAck: boolean): string {
    if (!noAck) throw new AmqpError(ReplyCode.PreconditionFailed, 'reply consumer cannot acknowledge');
    if (this.replyConsumerTag !== null) throw new AmqpError(ReplyCode.PreconditionFailed, 'reply consumer already set');
    this.replyConsumerTag = consumerTag;
    this.replyKey = randomBytes(18).toString('base64url');
    this.vhost.replies.register(this.replyKey, this);
    return consumerTag;
  }

  private stopReplies(): void {
    if (this.replyKey) this.vhost.replies.unregister(this.replyKey);
    this.replyConsumerTag = null;
    this.replyKey = null;
  }

  /** A request's reply_to amq.rabbitmq.reply-to becomes this channel's own reply address. */
  private withReplyAddress(message: Message): Message {
    if (this.replyKey === null) throw new AmqpError(ReplyCode.PreconditionFailed, 'fast reply consumer does not exist');
    return message.withProperties({ ...message.properties, replyTo: `${REPLY_TO_PREFIX}${this.replyKey}` });
  }

  /** A reply published to this channel's reply address: delivered at once, no ack expected. */
  deliverReply(message: Message): void {
    if (this.closed || this.replyConsumerTag === null) return;
    this.sink.deliver(this.replyConsumerTag, this.nextTag++, false, message);
  }

  // ------------------------------------------------------------- acknowledgements

  ack(tag: number, multiple: boolean): void {
    if (this.tx) return this.defer(tag, multiple, null);
    this.settle(this.collect(tag, multiple), null);
  }

  /** basic.nack / basic.reject. */
  reject(tag: number, multiple: boolean, requeue: boolean): void {
    if (this.tx) return this.defer(tag, multiple, requeue);
    this.settle(this.collect(tag, multiple), requeue);
  }

  /** basic.recover requeue=true: every unacked delivery goes back to its queue. */
  recover(): void {
    this.settle(this.collect(0, true), true);
  }

  /** Asked again when the sink became writable or credit grew: let queues deliver. */
  resume(): void {
    for (const c of this.consumers.values()) c.queue.dispatch();
  }

  // ------------------------------------------------------------- confirms and transactions

  selectConfirm(): void {
    if (this.tx) throw new AmqpError(ReplyCode.PreconditionFailed, 'cannot switch from tx to confirm mode');
    this.confirmMode = true;
  }

  selectTx(): void {
    if (this.confirmMode) throw new AmqpError(ReplyCode.PreconditionFailed, 'cannot switch from confirm to tx mode');
    this.tx ??= { publishes: [], settlements: [] };
  }

  /** Applies the transaction. Returns true when persistent messages were logged: commit-ok must wait for the log to sync. */
  commit(): boolean {
    const tx = this.tx;
    if (!tx) throw new AmqpError(ReplyCode.PreconditionFailed, 'channel is not transactional');
    this.tx = { publishes: [], settlements: [] };
    let mustSync = false;
    for (const p of tx.publishes) {
      const target = this.vhost.findExchange(p.exchange);
      let unroutable = true;
      if (target) {
        const outcome = this.vhost.route(target, p.routingKey, p.message);
        // Refused by a full queue (reject-publish) is still routed: no basic.return (as outside a transaction).
        unroutable = outcome.routed === 0 && !outcome.rejected;
        if (outcome.durableWrite) mustSync = true;
      }
      this.messageStats.publish++;
      if (unroutable) this.unroutable(p.message, p.mandatory);
    }
    for (const s of tx.settlements) {
      // basic.recover may have requeued some of them since: those are settled already.
      const live = s.deliveries.filter((d) => !d.settled);
      for (const d of live) {
        d.inTx = false;
        d.settled = true;
      }
      this.compactFront();
      this.settle(live, s.requeue);
    }
    return mustSync;
  }

  rollback(): void {
    if (!this.tx) throw new AmqpError(ReplyCode.PreconditionFailed, 'channel is not transactional');
    // Rolled-back acks leave their deliveries unacked (and ackable again).
    for (const s of this.tx.settlements) for (const d of s.deliveries) d.inTx = false;
    this.tx = { publishes: [], settlements: [] };
  }

  // ------------------------------------------------------------- lifetime

  /** The channel closed (or its connection went): cancel consumers, requeue everything unacked. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.vhost.channels.closed(this.messageStats);
    this.vhost.churn.channelsClosed++;
    this.stopReplies();
    this.tx = null;
    const touched = new Set<Queue>();
    for (const d of this.unacked) {
      if (d.settled) continue;
      d.settled = true;
      d.queue.requeue(d.entry);
      touched.add(d.queue);
    }
    this.unacked.clear();
    this.unackedCount = 0;
    for (const c of [...this.consumers.values()]) this.cancel(c.tag);
    for (const q of touched) q.dispatch();
  }

  // ------------------------------------------------------------- internals

  private defer(tag: number, multiple: boolean, requeue: boolean | null): void {
    this.tx!.settlements.push({ deliveries: this.claim(tag, multiple), requeue });
  }

  /**
   * For an ack/nack/reject inside a transaction: the outstanding deliveries it
   * covers (same rules as collect(), an unknown tag fails at once), marked as
   * claimed by the transaction but left in place until commit.
   */
  private claim(tag: number, multiple: boolean): Delivery[] {
    const q = this.unacked;
    if (!(multiple && tag === 0)) {
      const d = q.at(q.lowerBound(tag, deliveryTag));
      if (!d || d.tag !== tag || d.settled || d.inTx) {
        throw new AmqpError(ReplyCode.PreconditionFailed, `unknown delivery tag ${tag}`);
      }
      if (!multiple) {
        d.inTx = true;
        return [d];
      }
    }
    const maxTag = tag === 0 ? Number.MAX_SAFE_INTEGER : tag;
    const out: Delivery[] = [];
    for (const d of q) {
      if (d.tag > maxTag) break;
      if (d.settled || d.inTx) continue;
      d.inTx = true;
      out.push(d);
    }
    return out;
  }

  /**
   * The deliveries an ack/nack/reject covers. `multiple` with tag 0 means
   * every outstanding one; otherwise the tag itself must be outstanding.
   */
  private collect(tag: number, multiple: boolean): Delivery[] {
    const q = this.unacked;
    if (multiple && tag === 0) return this.takeWhile(Number.MAX_SAFE_INTEGER);
    const at = q.lowerBound(tag, deliveryTag);
    const d = q.at(at);
    if (!d || d.tag !== tag || d.settled) {
      throw new AmqpError(ReplyCode.PreconditionFailed, `unknown delivery tag ${tag}`);
    }
    if (multiple) return this.takeWhile(tag);
    d.settled = true;
    this.compactFront();
    return [d];
  }

  /** Removes and returns every unsettled delivery with tag ≤ `maxTag`, oldest first. */
  private takeWhile(maxTag: number): Delivery[] {
    const out: Delivery[] = [];
    const q = this.unacked;
    while (q.length > 0 && q.peek()!.tag <= maxTag) {
      const d = q.shift()!;
      if (d.settled) continue;
      d.settled = true;
      out.push(d);
    }
    return out;
  }

  /** Settled deliveries acked out of order stay as holes until they reach the front. */
  private compactFront(): void {
    const q = this.unacked;
    while (q.length > 0 && q.peek()!.settled) q.shift();
  }

  /** Applies an ack (requeue null), a requeue, or a rejection (dead-lettered) to deliveries, then lets their queues deliver again. */
  private settle(deliveries: Delivery[], requeue: boolean | null): void {
    if (deliveries.length === 0) return;
    for (const d of deliveries) {
      this.unackedCount--;
      if (d.consumer) d.consumer.unacked--;
      if (requeue === null) {
        this.messageStats.ack++;
        d.queue.settle(d.entry);
      }
      else if (requeue) d.queue.requeue(d.entry);
      else d.queue.reject(d.entry);
    }
    if (requeue) {
      let last: Queue | null = null;
      for (const d of deliveries) if (d.queue !== last) (last = d.queue).dispatch();
    }
    this.resume();
  }
}
